//! Ed25519 detached signatures over the exact bytes of a policy (or any bundle file).
//!
//! Keys are PEM files an org can also make and use with OpenSSL: the secret key is PKCS#8
//! (`openssl genpkey -algorithm ed25519`), the public key SPKI (`openssl pkey -pubout`). A
//! signature file holds the 64-byte signature in base64 on one line; `openssl pkeyutl -verify
//! -rawin` checks it after `base64 -d`.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// An org's public key, pinned by devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

/// An org's signing key. Debug never prints it.
pub struct SecretKey(SigningKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// A fresh key from the OS random source.
    pub fn generate() -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
        Ok(Self(SigningKey::from_bytes(&seed)))
    }

    pub fn from_pem(pem: &str, origin: &Path) -> Result<Self> {
        SigningKey::from_pkcs8_pem(pem)
            .map(Self)
            .map_err(|_| Error::KeyFormat {
                path: origin.to_owned(),
                expected: "an Ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)",
            })
    }

    pub fn to_pem(&self) -> Result<String> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| Error::Random(e.to_string()))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// The detached signature of `message`, as the one-line base64 text of a `.sig` file.
    pub fn sign(&self, message: &[u8]) -> String {
        let signature: Signature = self.0.sign(message);
        format!("{}\n", BASE64.encode(signature.to_bytes()))
    }
}

impl PublicKey {
    pub fn from_pem(pem: &str, origin: &Path) -> Result<Self> {
        VerifyingKey::from_public_key_pem(pem)
            .map(Self)
            .map_err(|_| Error::KeyFormat {
                path: origin.to_owned(),
                expected: "an Ed25519 public key in PEM (-----BEGIN PUBLIC KEY-----)",
            })
    }

    pub fn to_pem(&self) -> Result<String> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| Error::Random(e.to_string()))
    }

    /// Short id for showing which key signed: the first 8 bytes of SHA-256 of the raw key, hex.
    pub fn key_id(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        hex::encode(&digest[..8])
    }

    /// Checks a `.sig` file's text against `message`.
    pub fn verify(&self, message: &[u8], signature_text: &str, sig_path: &Path) -> Result<()> {
        let bytes = BASE64
            .decode(signature_text.trim())
            .map_err(|_| Error::SignatureFormat {
                path: sig_path.to_owned(),
            })?;
        let signature = Signature::from_slice(&bytes).map_err(|_| Error::SignatureFormat {
            path: sig_path.to_owned(),
        })?;
        self.0
            .verify(message, &signature)
            .map_err(|_| Error::BadSignature {
                path: sig_path.to_owned(),
                key_id: self.key_id(),
            })
    }
}

/// SHA-256 of the exact bytes, hex: identifies one version of a policy.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The detached-signature path beside a file: `policy.yaml` → `policy.yaml.sig`.
pub fn signature_path(file: &Path) -> std::path::PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sig");
    name.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_and_detect_any_change() {
        let key = SecretKey::generate().unwrap();
        let public = key.public_key();
        let sig = key.sign(b"policyId: x\n");
        let p = Path::new("p.sig");
        assert!(public.verify(b"policyId: x\n", &sig, p).is_ok());
        assert!(matches!(
            public.verify(b"policyId: y\n", &sig, p),
            Err(Error::BadSignature { .. })
        ));
        let other = SecretKey::generate().unwrap().public_key();
        assert!(
            other.verify(b"policyId: x\n", &sig, p).is_err(),
            "another key must not verify"
        );
        assert!(matches!(
            public.verify(b"policyId: x\n", "not base64!", p),
            Err(Error::SignatureFormat { .. })
        ));
    }

    #[test]
    fn keys_round_trip_through_pem_and_debug_hides_the_secret() {
        let key = SecretKey::generate().unwrap();
        let pem = key.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let again = SecretKey::from_pem(&pem, Path::new("k")).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(format!("{key:?}"), "SecretKey(<redacted>)");
        let public_pem = key.public_key().to_pem().unwrap();
        assert_eq!(
            PublicKey::from_pem(&public_pem, Path::new("p")).unwrap(),
            key.public_key()
        );
        assert!(
            PublicKey::from_pem(&pem, Path::new("p")).is_err(),
            "a private key is not a public key"
        );
    }
}
