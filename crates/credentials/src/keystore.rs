//! Secrets in the OS keyring (Keychain, Credential Manager, Secret Service): the device key,
//! the device's server credential and the certification tokens. Nothing secret is written
//! anywhere else; when no persistent keyring is reachable the caller gets
//! [`Error::KeyringUnavailable`] and no secret is kept.

use ed25519_dalek::{SigningKey, VerifyingKey};
use keyring::credential::CredentialPersistence;

use crate::error::{Error, Result};
use crate::sensitive::Sensitive;

/// Keyring service name Certgate uses in production.
pub const SERVICE: &str = "certgate";

/// Environment variable naming another keyring service, so tests and support sessions never
/// touch a user's real entries (like `CERTGATE_HOME` for files).
pub const SERVICE_OVERRIDE: &str = "CERTGATE_KEYRING_SERVICE";

const DEVICE_KEY: &str = "device-key";
const DEVICE_SECRET: &str = "device-secret";
const TOKEN_PREFIX: &str = "token:";
const GRANT_PREFIX: &str = "grant:";

/// One keyring namespace (a service name); tests use their own to stay apart from real data.
#[derive(Debug, Clone)]
pub struct Keystore {
    service: String,
}

/// The device's Ed25519 key, loaded from the keyring. Debug prints `<redacted>`.
#[derive(Debug, Clone)]
pub struct DeviceKey(Sensitive<SigningKey>);

impl DeviceKey {
    pub fn generate() -> Result<Self> {
        Ok(Self(Sensitive::new(crate::jws::generate_key()?)))
    }

    pub fn signing_key(&self) -> &SigningKey {
        self.0.expose()
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.0.expose().verifying_key()
    }

    /// RFC 7638 thumbprint, the `cnf.jkt` of tokens issued to this device.
    pub fn thumbprint(&self) -> String {
        crate::jws::jwk_thumbprint(&self.public_key())
    }
}

/// The device key signs posture attestations (`certgate_posture::attest`).
impl certgate_posture::Signer for DeviceKey {
    fn sign(&self, message: &[u8]) -> ed25519_dalek::Signature {
        ed25519_dalek::Signer::sign(self.signing_key(), message)
    }
    fn verifying_key(&self) -> VerifyingKey {
        self.public_key()
    }
}

impl Keystore {
    /// The production namespace (or `$CERTGATE_KEYRING_SERVICE` when set).
    pub fn system() -> Result<Self> {
        match std::env::var(SERVICE_OVERRIDE) {
            Ok(s) if !s.trim().is_empty() => Self::new(s.trim()),
            _ => Self::new(SERVICE),
        }
    }

    /// A namespace; refuses outright when this build has no persistent keyring backend.
    pub fn new(service: &str) -> Result<Self> {
        if !persistent_backend() {
            return Err(Error::KeyringUnavailable {
                reason: "this build's keyring backend does not persist secrets".into(),
            });
        }
        Ok(Self {
            service: service.to_owned(),
        })
    }

    fn entry(&self, name: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, name).map_err(|e| map_err("open an entry", e))
    }

    /// Stores a secret string under `name`, replacing any previous value.
    pub fn set(&self, name: &str, secret: &Sensitive<String>) -> Result<()> {
        self.entry(name)?
            .set_password(secret.expose())
            .map_err(|e| map_err("store a secret", e))
    }

    /// The secret under `name`, or `None` when there is none.
    pub fn get(&self, name: &str) -> Result<Option<Sensitive<String>>> {
        match self.entry(name)?.get_password() {
            Ok(s) => Ok(Some(Sensitive::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err("read a secret", e)),
        }
    }

    /// Removes `name`; removing what is not there is not an error.
    pub fn delete(&self, name: &str) -> Result<()> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err("delete a secret", e)),
        }
    }

    /// Checks that the keyring answers (a read of an absent entry), for `certgate` to report
    /// a missing keyring before enrolling rather than halfway.
    pub fn probe(&self) -> Result<()> {
        self.get("probe").map(|_| ())
    }

    pub fn store_device_key(&self, key: &DeviceKey) -> Result<()> {
        let hex = Sensitive::new(hex::encode(key.signing_key().to_bytes()));
        self.set(DEVICE_KEY, &hex)
    }

    pub fn device_key(&self) -> Result<Option<DeviceKey>> {
        let Some(text) = self.get(DEVICE_KEY)? else {
            return Ok(None);
        };
        let bytes: [u8; 32] = hex::decode(text.expose().trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::CorruptSecret {
                entry: DEVICE_KEY.into(),
                reason: "not 32 bytes of hex",
            })?;
        Ok(Some(DeviceKey(Sensitive::new(SigningKey::from_bytes(
            &bytes,
        )))))
    }

    /// The bearer secret the server gave this device at enrolment.
    pub fn store_device_secret(&self, secret: &Sensitive<String>) -> Result<()> {
        self.set(DEVICE_SECRET, secret)
    }

    pub fn device_secret(&self) -> Result<Option<Sensitive<String>>> {
        self.get(DEVICE_SECRET)
    }

    pub fn store_token(&self, track: &str, token: &Sensitive<String>) -> Result<()> {
        self.set(&format!("{TOKEN_PREFIX}{track}"), token)
    }

    pub fn token(&self, track: &str) -> Result<Option<Sensitive<String>>> {
        self.get(&format!("{TOKEN_PREFIX}{track}"))
    }

    pub fn delete_token(&self, track: &str) -> Result<()> {
        self.delete(&format!("{TOKEN_PREFIX}{track}"))
    }

    /// An exception grant, by its `jti`.
    pub fn store_exception_grant(&self, jti: &str, grant: &Sensitive<String>) -> Result<()> {
        self.set(&format!("{GRANT_PREFIX}{jti}"), grant)
    }

    pub fn exception_grant(&self, jti: &str) -> Result<Option<Sensitive<String>>> {
        self.get(&format!("{GRANT_PREFIX}{jti}"))
    }

    pub fn delete_exception_grant(&self, jti: &str) -> Result<()> {
        self.delete(&format!("{GRANT_PREFIX}{jti}"))
    }

    /// Removes every Certgate secret of this namespace that it knows the name of.
    pub fn forget_device(&self, tracks: &[String]) -> Result<()> {
        for t in tracks {
            self.delete_token(t)?;
        }
        self.delete(DEVICE_SECRET)?;
        self.delete(DEVICE_KEY)
    }
}

/// True when the compiled-in default keyring stores secrets until deleted (never the mock).
fn persistent_backend() -> bool {
    let builder = keyring::default::default_credential_builder();
    matches!(builder.persistence(), CredentialPersistence::UntilDelete)
}

fn map_err(action: &'static str, e: keyring::Error) -> Error {
    match e {
        keyring::Error::PlatformFailure(inner) | keyring::Error::NoStorageAccess(inner) => {
            Error::KeyringUnavailable {
                reason: inner.to_string(),
            }
        }
        keyring::Error::BadEncoding(_) => Error::CorruptSecret {
            entry: "(keyring entry)".into(),
            reason: "not UTF-8",
        },
        other => Error::Keyring {
            action,
            reason: other.to_string(),
        },
    }
}

/// For tests in any crate: a keystore in its own namespace, or `None` (the test skips, with a
/// printed notice) when no keyring is reachable. With `CERTGATE_REQUIRE_KEYRING=1` (CI's
/// desktop session) a missing keyring panics instead, so a test cannot pass by skipping.
pub fn keystore_for_tests(service: &str) -> Option<Keystore> {
    let required = std::env::var("CERTGATE_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    match Keystore::new(service).and_then(|k| k.probe().map(|()| k)) {
        Ok(k) => Some(k),
        Err(e) if !required => {
            eprintln!(
                "NOTICE: keyring test skipped: {e} (set CERTGATE_REQUIRE_KEYRING=1 to fail instead)"
            );
            None
        }
        Err(e) => panic!(
            "CERTGATE_REQUIRE_KEYRING=1 but the OS keyring is not usable: {e}; run under a D-Bus \
             session with an unlocked gnome-keyring"
        ),
    }
}
