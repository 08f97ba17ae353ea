//! The one token codec: compact JWS with `alg` pinned to EdDSA (Ed25519), used for
//! certification, exception and revocation-list tokens, told apart by `typ`.
//!
//! The header is checked before any cryptography: an `alg` other than EdDSA (`none`, `HS256`…)
//! is refused outright, so no key-confusion trick ever reaches the verifier.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The only algorithm accepted.
pub const ALG: &str = "EdDSA";

/// What a token is for; each has its own `typ`, so one can never stand in for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// A certification (`typ: JWT`, as the issue specifies).
    Certification,
    /// A time-limited exception approved by the policy's approvers.
    Exception,
    /// An approved exception as granted to one device (bound by `cnf.jkt`).
    ExceptionGrant,
    /// The signed list of revoked token ids.
    Revocations,
    /// An Open Badges 3.0 credential in the VC-JWT proof format.
    Badge,
}

impl TokenType {
    pub fn typ(self) -> &'static str {
        match self {
            Self::Certification => "JWT",
            Self::Exception => "certgate-exception+jwt",
            Self::ExceptionGrant => "certgate-exception-grant+jwt",
            Self::Revocations => "certgate-revocations+jwt",
            Self::Badge => "vc+jwt",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// Signs `claims` as a compact JWS with the issuer key.
pub fn sign<C: Serialize>(claims: &C, typ: TokenType, key: &SigningKey) -> Result<String> {
    let header = Header {
        alg: ALG.to_owned(),
        typ: typ.typ().to_owned(),
        kid: jwk_thumbprint(&key.verifying_key()),
    };
    let h = B64URL.encode(serde_json::to_vec(&header).map_err(Error::Encode)?);
    let p = B64URL.encode(serde_json::to_vec(claims).map_err(Error::Encode)?);
    let signing_input = format!("{h}.{p}");
    let sig = key.sign(signing_input.as_bytes());
    Ok(format!("{signing_input}.{}", B64URL.encode(sig.to_bytes())))
}

/// Checks header (alg first), then the signature under `key`, then decodes the claims.
pub fn verify<C: DeserializeOwned>(token: &str, typ: TokenType, key: &VerifyingKey) -> Result<C> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::Malformed {
            reason: "a compact JWS has exactly three dot-separated parts",
        });
    };
    let header_bytes = B64URL.decode(h).map_err(|_| Error::Malformed {
        reason: "header is not base64url",
    })?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| Error::Malformed {
        reason: "header is not a JSON object with alg, typ and kid",
    })?;
    if header.alg != ALG {
        let mut alg = header.alg;
        alg.truncate(32);
        return Err(Error::AlgorithmNotAllowed { alg });
    }
    if header.typ != typ.typ() {
        let mut found = header.typ;
        found.truncate(64);
        return Err(Error::WrongType {
            expected: typ.typ(),
            found,
        });
    }
    let sig_bytes: [u8; 64] = B64URL
        .decode(s)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(Error::Malformed {
            reason: "signature is not 64 bytes of base64url",
        })?;
    let signing_input_len = h.len() + 1 + p.len();
    let signing_input = &token.trim()[..signing_input_len];
    key.verify_strict(signing_input.as_bytes(), &Signature::from_bytes(&sig_bytes))
        .map_err(|_| Error::BadSignature {
            kid: jwk_thumbprint(key),
        })?;
    let payload = B64URL.decode(p).map_err(|_| Error::Malformed {
        reason: "payload is not base64url",
    })?;
    serde_json::from_slice(&payload).map_err(|_| Error::Malformed {
        reason: "payload does not have the claims this token type needs",
    })
}

/// RFC 7638 thumbprint of an Ed25519 public key as an OKP JWK: SHA-256 over
/// `{"crv":"Ed25519","kty":"OKP","x":"…"}` (members in lexicographic order, no whitespace),
/// base64url without padding. Used as `kid` for issuer keys and `cnf.jkt` for device keys.
pub fn jwk_thumbprint(key: &VerifyingKey) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        B64URL.encode(key.as_bytes())
    );
    B64URL.encode(Sha256::digest(canonical.as_bytes()))
}

/// A public key as the base64url `x` of its JWK: how keys travel between device and server.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    B64URL.encode(key.as_bytes())
}

/// Parses a base64url (or hex) Ed25519 public key.
pub fn decode_public_key(text: &str) -> Result<VerifyingKey> {
    let text = text.trim();
    let bytes = B64URL
        .decode(text)
        .ok()
        .filter(|b| b.len() == 32)
        .or_else(|| hex::decode(text).ok())
        .ok_or(Error::Malformed {
            reason: "public key is not 32 bytes of base64url or hex",
        })?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| Error::Malformed {
        reason: "public key is not 32 bytes",
    })?;
    VerifyingKey::from_bytes(&arr).map_err(|_| Error::Malformed {
        reason: "public key is not a valid Ed25519 point",
    })
}

/// A fresh Ed25519 key from the OS random source.
pub fn generate_key() -> Result<SigningKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| Error::Random(e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A random identifier (token ids, nonces, codes): `bytes` random bytes, base64url.
pub fn random_id(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| Error::Random(e.to_string()))?;
    Ok(B64URL.encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    #[test]
    fn round_trip_and_any_change_breaks_it() {
        let k = key(1);
        let t = sign(&json!({"sub": "alice"}), TokenType::Certification, &k).unwrap();
        let v: Value = verify(&t, TokenType::Certification, &k.verifying_key()).unwrap();
        assert_eq!(v["sub"], "alice");
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64URL.encode(br#"{"sub":"mallory"}"#),
            parts[2]
        );
        assert!(matches!(
            verify::<Value>(&forged, TokenType::Certification, &k.verifying_key()),
            Err(Error::BadSignature { .. })
        ));
        assert!(
            verify::<Value>(&t, TokenType::Certification, &key(2).verifying_key()).is_err(),
            "another issuer key must not verify"
        );
    }

    #[test]
    fn alg_other_than_eddsa_is_refused_before_crypto() {
        let k = key(1);
        for alg in ["none", "HS256", "RS256", "eddsa"] {
            let h = B64URL.encode(format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"x"}}"#));
            let p = B64URL.encode(br#"{"sub":"a"}"#);
            // An empty signature would be "malformed" if crypto ran first; alg must win.
            let t = format!("{h}.{p}.");
            assert!(
                matches!(
                    verify::<Value>(&t, TokenType::Certification, &k.verifying_key()),
                    Err(Error::AlgorithmNotAllowed { .. })
                ),
                "alg {alg} must be refused by the header check"
            );
        }
    }

    #[test]
    fn typ_separates_token_kinds() {
        let k = key(1);
        let t = sign(&json!({"sub": "a"}), TokenType::Exception, &k).unwrap();
        assert!(matches!(
            verify::<Value>(&t, TokenType::Certification, &k.verifying_key()),
            Err(Error::WrongType { .. })
        ));
    }

    #[test]
    fn thumbprint_matches_rfc8037_example() {
        // RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        let key = decode_public_key(x).unwrap();
        assert_eq!(
            jwk_thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
