//! The org key a managed device pins: the Ed25519 key the org signs its policies with (the one
//! `certgate policy keygen` writes and the server publishes as `policyKeyPem` on `/v1/keys`).
//!
//! IT writes either the public key PEM or its fingerprint, `sha256:` and 64 hex digits: SHA-256
//! of the raw 32-byte key. Its first 16 digits are the key id `certgate policy verify` prints, so
//! the two can be checked against each other by eye. Keys are read with
//! `certgate_policy::signing`, the one place Certgate parses them.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use certgate_policy::signing::{PublicKey, sha256_hex};
use serde::Serialize;

use crate::error::{Error, Result};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw key follows it.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// `sha256:<64 lower-case hex>` of the raw key.
pub fn fingerprint(key: &PublicKey) -> Result<String> {
    let pem = key.to_pem()?;
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let der = BASE64.decode(body.trim()).map_err(|_| Error::KeyEncoding)?;
    let raw = der
        .strip_prefix(&ED25519_SPKI_PREFIX[..])
        .filter(|raw| raw.len() == 32)
        .ok_or(Error::KeyEncoding)?;
    Ok(format!("sha256:{}", sha256_hex(raw)))
}

/// The fingerprint of a public key PEM (as `certgate managed fingerprint` prints it).
pub fn fingerprint_pem(pem: &str, origin: &Path) -> Result<String> {
    fingerprint(&PublicKey::from_pem(pem.trim(), origin)?)
}

/// The pinned org key, as IT wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgKeyPin {
    /// The full public key.
    Key { pem: String, fingerprint: String },
    /// Only its fingerprint.
    Fingerprint(String),
}

/// Why a text is not a key pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinProblem {
    NotAKey,
    BadPem,
    BadFingerprint,
}

impl OrgKeyPin {
    pub fn parse(text: &str) -> Result<Self, PinProblem> {
        let text = text.trim();
        if text.starts_with("-----BEGIN") {
            let key =
                PublicKey::from_pem(text, Path::new("orgKey")).map_err(|_| PinProblem::BadPem)?;
            let fingerprint = fingerprint(&key).map_err(|_| PinProblem::BadPem)?;
            let pem = key.to_pem().map_err(|_| PinProblem::BadPem)?;
            return Ok(Self::Key { pem, fingerprint });
        }
        let Some(hex) = text
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("sha256:"))
            .and_then(|_| text.get(7..))
        else {
            return Err(PinProblem::NotAKey);
        };
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self::Fingerprint(format!(
                "sha256:{}",
                hex.to_ascii_lowercase()
            )))
        } else {
            Err(PinProblem::BadFingerprint)
        }
    }

    pub fn fingerprint(&self) -> &str {
        match self {
            Self::Key { fingerprint, .. } | Self::Fingerprint(fingerprint) => fingerprint,
        }
    }

    /// Does `key` match the pin?
    pub fn matches(&self, key: &PublicKey) -> bool {
        fingerprint(key).is_ok_and(|f| f == self.fingerprint())
    }
}

impl fmt::Display for OrgKeyPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.fingerprint())
    }
}

impl Serialize for OrgKeyPin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.fingerprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_policy::signing::SecretKey;

    #[test]
    fn the_fingerprint_extends_the_key_id_and_pins_only_its_key() {
        let key = SecretKey::generate().unwrap().public_key();
        let fp = fingerprint(&key).unwrap();
        assert_eq!(fp.len(), "sha256:".len() + 64);
        assert_eq!(
            &fp[7..23],
            key.key_id(),
            "the fingerprint's first 16 digits are the key id the CLI prints"
        );
        let pin = OrgKeyPin::parse(&fp.to_uppercase().replace("SHA256:", "sha256:")).unwrap();
        assert_eq!(pin.fingerprint(), fp, "hex case does not matter");
        assert!(pin.matches(&key));
        let other = SecretKey::generate().unwrap().public_key();
        assert!(!pin.matches(&other), "another key must not match the pin");
    }

    #[test]
    fn a_pem_pin_carries_its_fingerprint() {
        let key = SecretKey::generate().unwrap().public_key();
        let pem = key.to_pem().unwrap();
        let pin = OrgKeyPin::parse(&format!("\n  {pem}\n")).unwrap();
        assert_eq!(pin.fingerprint(), fingerprint(&key).unwrap());
        assert!(pin.matches(&key));
        assert_eq!(
            fingerprint_pem(&pem, Path::new("k.pem")).unwrap(),
            pin.fingerprint()
        );
    }

    #[test]
    fn texts_that_are_no_pin_say_which_way_they_fail() {
        assert_eq!(OrgKeyPin::parse("hello"), Err(PinProblem::NotAKey));
        assert_eq!(
            OrgKeyPin::parse("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
            Err(PinProblem::BadPem)
        );
        assert_eq!(
            OrgKeyPin::parse("sha256:abcd"),
            Err(PinProblem::BadFingerprint)
        );
        assert_eq!(
            OrgKeyPin::parse(&format!("sha256:{}", "g".repeat(64))),
            Err(PinProblem::BadFingerprint)
        );
        let secret = SecretKey::generate().unwrap().to_pem().unwrap();
        assert_eq!(
            OrgKeyPin::parse(&secret),
            Err(PinProblem::BadPem),
            "a private key is not a pin (and must not be pasted into managed config)"
        );
    }
}
