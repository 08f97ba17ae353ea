//! Signed posture attestations and their verifier.
//!
//! The device signs the canonical JSON (keys sorted, no whitespace) of its facts, the
//! server's nonce, a monotonic counter and `collectedAt`, with its Ed25519 key. The
//! verifier rejects a bad signature, a nonce it did not issue (or already saw), a counter
//! that did not increase, and a report older than 120 s.

use std::fmt::Write as _;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::report::PostureReport;

/// Domain separation: these bytes are never valid as any other signed message.
const DOMAIN: &[u8] = b"certgate-posture-attestation-v1\n";

/// Oldest report a verifier accepts.
pub const MAX_AGE: Duration = Duration::seconds(120);

/// Clock skew tolerated for reports dated slightly ahead.
pub const MAX_SKEW: Duration = Duration::seconds(5);

/// Signs attestation bytes. The keyring-backed device key implements this in the
/// credentials crate; [`SigningKey`] implements it for tests and tools.
pub trait Signer {
    /// Signs `message`.
    fn sign(&self, message: &[u8]) -> Signature;
    /// The matching public key.
    fn verifying_key(&self) -> VerifyingKey;
}

impl Signer for SigningKey {
    fn sign(&self, message: &[u8]) -> Signature {
        ed25519_dalek::Signer::sign(self, message)
    }
    fn verifying_key(&self) -> VerifyingKey {
        SigningKey::verifying_key(self)
    }
}

/// An Ed25519 signing key from PKCS#8 PEM (`openssl genpkey -algorithm ed25519`), for
/// `certgate posture attest --key FILE` (support and tests; devices use their keyring key).
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey> {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    SigningKey::from_pkcs8_pem(pem).map_err(|_| Error::KeyFormat {
        expected: "an Ed25519 private key in PKCS#8 PEM (-----BEGIN PRIVATE KEY-----)",
    })
}

/// An Ed25519 public key from 64 hex digits (an attestation's `publicKey`) or SPKI PEM
/// (`-----BEGIN PUBLIC KEY-----`).
pub fn verifying_key_from_text(text: &str) -> Result<VerifyingKey> {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    const EXPECTED: &str =
        "an Ed25519 public key: 64 hex digits or PEM (-----BEGIN PUBLIC KEY-----)";
    let t = text.trim();
    if t.starts_with("-----BEGIN") {
        return VerifyingKey::from_public_key_pem(t)
            .map_err(|_| Error::KeyFormat { expected: EXPECTED });
    }
    let bytes: [u8; 32] = hex::decode(t)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(Error::KeyFormat { expected: EXPECTED })?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| Error::KeyFormat { expected: EXPECTED })
}

/// What is signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttestedPayload {
    /// The report's `facts` object.
    pub facts: Value,
    /// The server's nonce.
    pub nonce: String,
    /// Monotonic per-device counter.
    pub counter: u64,
    /// When the facts were collected.
    pub collected_at: DateTime<Utc>,
}

/// A signed payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Attestation {
    pub payload: AttestedPayload,
    /// Ed25519 public key, hex.
    pub public_key: String,
    /// Ed25519 signature over the domain tag and the canonical payload, hex.
    pub signature: String,
}

/// JSON with object keys sorted and no whitespace, independent of serde_json features.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(val) = map.get(*k) {
                    write_canonical(val, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        // Scalars: serde_json's own compact rendering (strings escaped, numbers shortest).
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// The exact bytes signed for a payload.
pub fn signed_bytes(payload: &AttestedPayload) -> Result<Vec<u8>> {
    let v = serde_json::to_value(payload).map_err(Error::Encode)?;
    let mut bytes = DOMAIN.to_vec();
    bytes.extend_from_slice(canonical_json(&v).as_bytes());
    Ok(bytes)
}

/// Signs the report's facts with the nonce and counter.
pub fn attest(
    report: &PostureReport,
    nonce: &str,
    counter: u64,
    signer: &dyn Signer,
) -> Result<Attestation> {
    let payload = AttestedPayload {
        facts: serde_json::to_value(&report.facts).map_err(Error::Encode)?,
        nonce: nonce.to_owned(),
        counter,
        collected_at: report.collected_at,
    };
    let sig = signer.sign(&signed_bytes(&payload)?);
    Ok(Attestation {
        payload,
        public_key: hex::encode(signer.verifying_key().as_bytes()),
        signature: hex::encode(sig.to_bytes()),
    })
}

/// Nonces the server issued; each may be consumed once.
pub trait NonceStore {
    /// True when `nonce` was issued and not yet used; marks it used.
    fn consume(&self, nonce: &str) -> bool;
}

/// An in-memory nonce store.
#[derive(Debug, Default)]
pub struct MemoryNonceStore {
    issued: Mutex<Vec<String>>,
}

impl MemoryNonceStore {
    /// Records a nonce the server handed out.
    pub fn issue(&self, nonce: impl Into<String>) {
        if let Ok(mut v) = self.issued.lock() {
            v.push(nonce.into());
        }
    }
}

impl NonceStore for MemoryNonceStore {
    fn consume(&self, nonce: &str) -> bool {
        let Ok(mut v) = self.issued.lock() else {
            return false;
        };
        match v.iter().position(|n| n == nonce) {
            Some(i) => {
                v.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

/// Verifies one device's attestations.
#[derive(Debug)]
pub struct Verifier<N> {
    key: VerifyingKey,
    nonces: N,
    last_counter: Mutex<Option<u64>>,
    max_age: Duration,
}

impl<N: NonceStore> Verifier<N> {
    /// A verifier pinned to the device's public key.
    pub fn new(key: VerifyingKey, nonces: N) -> Self {
        Self {
            key,
            nonces,
            last_counter: Mutex::new(None),
            max_age: MAX_AGE,
        }
    }

    /// Restores the last accepted counter (persisted by the server).
    #[must_use]
    pub fn with_last_counter(self, last: u64) -> Self {
        Self {
            last_counter: Mutex::new(Some(last)),
            ..self
        }
    }

    /// Accepts reports up to `max_age` old instead of [`MAX_AGE`] (support tools replaying a
    /// saved attestation; the server keeps the default).
    #[must_use]
    pub fn with_max_age(self, max_age: Duration) -> Self {
        Self { max_age, ..self }
    }

    /// The nonce store.
    pub fn nonces(&self) -> &N {
        &self.nonces
    }

    /// Checks signature, freshness, nonce and counter; returns the attested facts.
    pub fn verify(&self, a: &Attestation, now: DateTime<Utc>) -> Result<Value> {
        let key_bytes: [u8; 32] = hex::decode(&a.public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::MalformedAttestation {
                reason: "public key is not 32 hex bytes",
            })?;
        if key_bytes != *self.key.as_bytes() {
            // Signed by another device: as good as a bad signature for this one.
            return Err(Error::BadSignature);
        }
        let sig_bytes: [u8; 64] = hex::decode(&a.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::MalformedAttestation {
                reason: "signature is not 64 hex bytes",
            })?;
        let sig = Signature::from_bytes(&sig_bytes);
        self.key
            .verify_strict(&signed_bytes(&a.payload)?, &sig)
            .map_err(|_| Error::BadSignature)?;

        let age = now - a.payload.collected_at;
        if age > self.max_age {
            return Err(Error::Stale {
                age_secs: age.num_seconds(),
                max_secs: self.max_age.num_seconds(),
            });
        }
        if -age > MAX_SKEW {
            return Err(Error::FromFuture {
                ahead_secs: (-age).num_seconds(),
            });
        }
        if !self.nonces.consume(&a.payload.nonce) {
            return Err(Error::UnknownNonce);
        }
        let mut last = self
            .last_counter
            .lock()
            .map_err(|_| Error::MalformedAttestation {
                reason: "verifier state poisoned",
            })?;
        if let Some(l) = *last
            && a.payload.counter <= l
        {
            return Err(Error::CounterNotIncreased {
                last: l,
                got: a.payload.counter,
            });
        }
        *last = Some(a.payload.counter);
        Ok(a.payload.facts.clone())
    }
}

#[cfg(test)]
mod tests;
