//! Certification tokens and the revocation list: claims, issuing (server side) and offline
//! verification with the pinned issuer key (device side).

use std::collections::BTreeSet;

use certgate_policy::CertificationClaim;
use chrono::{DateTime, Duration, TimeZone, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::jws::{self, TokenType};

/// RFC 7800 confirmation: the device key the token is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// RFC 7638 thumbprint of the device's Ed25519 public key.
    pub jkt: String,
}

/// What a certification token says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificationClaims {
    pub iss: String,
    /// User id.
    pub sub: String,
    pub track: String,
    /// `passed` for an issued certification.
    pub status: String,
    /// Score in percent as the server re-graded it.
    pub score: f64,
    pub modules: Vec<String>,
    /// SHA-256 of the policy the attempt was graded under.
    pub policy_version: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub cnf: Confirmation,
}

impl CertificationClaims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        timestamp(self.exp)
    }

    pub fn issued_at(&self) -> DateTime<Utc> {
        timestamp(self.iat)
    }

    /// The claim the policy engine's `UserContext.certifications[track]` holds.
    pub fn to_claim(&self) -> CertificationClaim {
        CertificationClaim {
            status: self.status.clone(),
            expires_at: Some(self.expires_at()),
            score: Some(self.score),
            modules: Some(self.modules.clone()),
        }
    }

    /// Signs these claims as a certification token (server side).
    pub fn sign(&self, issuer: &SigningKey) -> Result<String> {
        jws::sign(self, TokenType::Certification, issuer)
    }
}

pub(crate) fn timestamp(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The signed list of revoked token ids the server publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationClaims {
    pub iss: String,
    pub iat: i64,
    pub jti: BTreeSet<String>,
}

/// A verified revocation list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RevocationList {
    revoked: BTreeSet<String>,
    /// When the server signed it; `None` for the empty list before the first sync.
    pub issued_at: Option<DateTime<Utc>>,
}

impl RevocationList {
    /// Verifies a revocation list token under the pinned issuer key.
    pub fn verify(token: &str, issuer: &Issuer) -> Result<Self> {
        let claims: RevocationClaims = jws::verify(token, TokenType::Revocations, &issuer.key)?;
        issuer.check_iss(&claims.iss)?;
        Ok(Self {
            revoked: claims.jti,
            issued_at: Some(timestamp(claims.iat)),
        })
    }

    pub fn contains(&self, jti: &str) -> bool {
        self.revoked.contains(jti)
    }

    pub fn len(&self) -> usize {
        self.revoked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.revoked.is_empty()
    }

    /// Refuses a list older than `max_age` at `now`, measured from the time the server signed
    /// it (not when it was fetched, which the device could be made to fake). A list that was
    /// never fetched is stale too. A list signed slightly in the future (clock skew) is fresh.
    pub fn check_fresh(&self, now: DateTime<Utc>, max_age: Duration) -> Result<()> {
        match self.issued_at {
            Some(at) if now - at <= max_age => Ok(()),
            signed_at => Err(Error::RevocationListStale {
                signed_at,
                max_age_hours: max_age.num_hours(),
            }),
        }
    }
}

/// How old the cached revocation list may get before the device stops accepting tokens and
/// exception grants: a day, so a revocation reaches an offline-capable device within a day of
/// its last sync, while a laptop offline over a normal night still works.
pub const DEFAULT_REVOCATION_MAX_AGE: Duration = Duration::hours(24);

/// The pinned org issuer: its name (`iss`) and public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    pub name: String,
    pub key: VerifyingKey,
}

/// The claims of a device-bound token that [`Issuer::check_bound`] looks at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound<'a> {
    pub iss: &'a str,
    pub jkt: &'a str,
    pub jti: &'a str,
    pub exp: i64,
}

impl Issuer {
    pub(crate) fn check_iss(&self, iss: &str) -> Result<()> {
        if iss == self.name {
            Ok(())
        } else {
            Err(Error::WrongIssuer {
                expected: self.name.clone(),
                found: iss.chars().take(64).collect(),
            })
        }
    }

    /// Offline check of a certification token: signature under the pinned key, issuer,
    /// expiry at `now`, binding to `device` (this device's public key) and the revocation list.
    pub fn verify_certification(
        &self,
        token: &str,
        device: &VerifyingKey,
        revocations: &RevocationList,
        now: DateTime<Utc>,
    ) -> Result<CertificationClaims> {
        let claims: CertificationClaims = jws::verify(token, TokenType::Certification, &self.key)?;
        self.check_bound(
            Bound {
                iss: &claims.iss,
                jkt: &claims.cnf.jkt,
                jti: &claims.jti,
                exp: claims.exp,
            },
            device,
            revocations,
            now,
        )?;
        Ok(claims)
    }

    /// The checks every device-bound token shares: issuer, binding to `device`, not revoked,
    /// not expired at `now`.
    pub(crate) fn check_bound(
        &self,
        token: Bound<'_>,
        device: &VerifyingKey,
        revocations: &RevocationList,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.check_iss(token.iss)?;
        if token.jkt != jws::jwk_thumbprint(device) {
            return Err(Error::WrongDevice);
        }
        if revocations.contains(token.jti) {
            return Err(Error::Revoked {
                jti: token.jti.to_owned(),
            });
        }
        if now.timestamp() >= token.exp {
            return Err(Error::Expired {
                expired_at: timestamp(token.exp),
            });
        }
        Ok(())
    }
}

/// A token's state as `certgate certs` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Valid,
    /// Valid, expiring within [`EXPIRING_WITHIN_DAYS`].
    Expiring,
    Expired,
    Revoked,
    /// Passed on the device; the server has not issued a token yet.
    PendingVerification,
    /// Present but does not verify (tampered, wrong device, wrong issuer).
    Invalid,
    /// The revocation list is too old to tell whether the token was revoked: refused until
    /// the next sync.
    Stale,
}

/// Warning window before expiry (the training reminders start at T-30).
pub const EXPIRING_WITHIN_DAYS: i64 = 30;

impl TokenState {
    /// The state of a token given the outcome of [`Issuer::verify_certification`].
    pub fn of(outcome: &Result<CertificationClaims>, now: DateTime<Utc>) -> Self {
        match outcome {
            Ok(c) if c.expires_at() - now <= Duration::days(EXPIRING_WITHIN_DAYS) => Self::Expiring,
            Ok(_) => Self::Valid,
            Err(Error::Expired { .. }) => Self::Expired,
            Err(Error::Revoked { .. }) => Self::Revoked,
            Err(Error::RevocationListStale { .. }) => Self::Stale,
            Err(_) => Self::Invalid,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Expiring => "expiring",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::PendingVerification => "pending verification",
            Self::Invalid => "invalid",
            Self::Stale => "revocation list is stale: run certgate sync",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer_key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn device_key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn issuer() -> Issuer {
        Issuer {
            name: "https://certgate.example.org".into(),
            key: issuer_key().verifying_key(),
        }
    }

    fn claims(device: &SigningKey, iat: i64, days: i64) -> CertificationClaims {
        CertificationClaims {
            iss: "https://certgate.example.org".into(),
            sub: "contractor-00042@vendor.example".into(),
            track: "AI_CONSUMER_EXTERNAL".into(),
            status: "passed".into(),
            score: 91.67,
            modules: vec![
                "GOV-101-data-handling".into(),
                "GOV-102-citations-and-review".into(),
                "GOV-103-incident-escalation".into(),
            ],
            policy_version: certgate_policy::signing::sha256_hex(b"policy"),
            iat,
            exp: iat + days * 86_400,
            jti: jws::random_id(16).unwrap(),
            cnf: Confirmation {
                jkt: jws::jwk_thumbprint(&device.verifying_key()),
            },
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn at(secs: i64) -> DateTime<Utc> {
        timestamp(secs)
    }

    #[test]
    fn typical_token_fits_windows_credential_manager() {
        let t = claims(&device_key(1), NOW, 180)
            .sign(&issuer_key())
            .unwrap();
        assert!(
            t.len() < 1_200,
            "token is {} bytes; must stay under 1,200 (Credential Manager holds 2,560)",
            t.len()
        );
    }

    #[test]
    fn valid_token_verifies_and_becomes_a_policy_claim() {
        let dev = device_key(1);
        let t = claims(&dev, NOW, 180).sign(&issuer_key()).unwrap();
        let c = issuer()
            .verify_certification(
                &t,
                &dev.verifying_key(),
                &RevocationList::default(),
                at(NOW + 10),
            )
            .unwrap();
        let claim = c.to_claim();
        assert_eq!(claim.status, "passed");
        assert_eq!(claim.expires_at, Some(at(NOW + 180 * 86_400)));
        assert_eq!(claim.modules.as_ref().map(Vec::len), Some(3));
    }

    #[test]
    fn copied_token_is_useless_on_another_device() {
        let t = claims(&device_key(1), NOW, 180)
            .sign(&issuer_key())
            .unwrap();
        let r = issuer().verify_certification(
            &t,
            &device_key(2).verifying_key(),
            &RevocationList::default(),
            at(NOW),
        );
        assert!(matches!(r, Err(Error::WrongDevice)), "got {r:?}");
    }

    #[test]
    fn expiry_is_exact() {
        let dev = device_key(1);
        let t = claims(&dev, NOW, 1).sign(&issuer_key()).unwrap();
        let none = RevocationList::default();
        let ok = issuer().verify_certification(&t, &dev.verifying_key(), &none, at(NOW + 86_399));
        assert!(ok.is_ok(), "one second before exp is still valid");
        let r = issuer().verify_certification(&t, &dev.verifying_key(), &none, at(NOW + 86_400));
        assert!(matches!(r, Err(Error::Expired { .. })));
        assert_eq!(TokenState::of(&r, at(NOW)), TokenState::Expired);
        assert_eq!(TokenState::of(&ok, at(NOW)), TokenState::Expiring);
    }

    #[test]
    fn revocation_list_is_signed_and_applied() {
        let dev = device_key(1);
        let c = claims(&dev, NOW, 180);
        let t = c.sign(&issuer_key()).unwrap();
        let list_claims = RevocationClaims {
            iss: "https://certgate.example.org".into(),
            iat: NOW,
            jti: [c.jti.clone()].into_iter().collect(),
        };
        let list_token = jws::sign(&list_claims, TokenType::Revocations, &issuer_key()).unwrap();
        let list = RevocationList::verify(&list_token, &issuer()).unwrap();
        let r = issuer().verify_certification(&t, &dev.verifying_key(), &list, at(NOW));
        assert!(matches!(r, Err(Error::Revoked { .. })));
        assert_eq!(TokenState::of(&r, at(NOW)), TokenState::Revoked);

        let forged = jws::sign(&list_claims, TokenType::Revocations, &device_key(9)).unwrap();
        assert!(
            RevocationList::verify(&forged, &issuer()).is_err(),
            "a list signed by anyone but the issuer must be refused"
        );
    }

    #[test]
    fn revocation_list_older_than_max_age_is_stale() {
        let list_claims = RevocationClaims {
            iss: "https://certgate.example.org".into(),
            iat: NOW,
            jti: BTreeSet::new(),
        };
        let token = jws::sign(&list_claims, TokenType::Revocations, &issuer_key()).unwrap();
        let list = RevocationList::verify(&token, &issuer()).unwrap();
        let max = DEFAULT_REVOCATION_MAX_AGE;
        assert!(list.check_fresh(at(NOW + max.num_seconds()), max).is_ok());
        assert!(
            list.check_fresh(at(NOW - 60), max).is_ok(),
            "a list signed a minute ahead of the device clock is fresh"
        );
        let e = list
            .check_fresh(at(NOW + max.num_seconds() + 1), max)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("revocation list is stale: run certgate sync"),
            "{e}"
        );
        assert_eq!(TokenState::of(&Err(e), at(NOW)), TokenState::Stale);
        assert!(
            matches!(
                RevocationList::default().check_fresh(at(NOW), max),
                Err(Error::RevocationListStale {
                    signed_at: None,
                    ..
                })
            ),
            "no list at all is stale"
        );
    }

    #[test]
    fn other_issuer_name_is_refused() {
        let dev = device_key(1);
        let mut c = claims(&dev, NOW, 180);
        c.iss = "https://evil.example".into();
        let t = c.sign(&issuer_key()).unwrap();
        let r = issuer().verify_certification(
            &t,
            &dev.verifying_key(),
            &RevocationList::default(),
            at(NOW),
        );
        assert!(matches!(r, Err(Error::WrongIssuer { .. })));
    }
}
