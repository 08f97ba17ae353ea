//! Exception grants: what the server signs for one device once an exception
//! (`approvals.exceptionPath`) has every approval. A grant is a compact JWS (same codec and
//! issuer key as certification tokens, its own `typ`) bound to the device key by `cnf.jkt`, with
//! a scope (track and, optionally, one tool) and an expiry. The device keeps the grant text in
//! the OS keyring and its non-secret parts in SQLite; the gate asks
//! [`verified_exception_grants`] for the ones that verify right now.

use std::collections::BTreeSet;

use certgate_policy::clock::Clock;
use certgate_store::Database;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::jws::{self, TokenType};
use crate::keystore::Keystore;
use crate::metadata;
use crate::token::{Confirmation, Issuer, RevocationList, timestamp};

/// One approval recorded in a grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantApprover {
    pub role: String,
    pub approver: String,
}

/// What an exception grant says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExceptionGrantClaims {
    pub iss: String,
    /// User id.
    pub sub: String,
    /// The server's id of the approved exception request.
    pub exception_id: String,
    /// Track the grant stands in for; `None` would cover every track (the server always names
    /// one today).
    #[serde(default)]
    pub track: Option<String>,
    /// Tool surface it covers (name or `kind:name`); `None` covers every tool of the track.
    #[serde(default)]
    pub tool: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The device key the grant is bound to (RFC 7800).
    pub cnf: Confirmation,
    pub approvers: Vec<GrantApprover>,
}

impl ExceptionGrantClaims {
    pub fn expires_at(&self) -> DateTime<Utc> {
        timestamp(self.exp)
    }

    /// Signs these claims as an exception grant (server side).
    pub fn sign(&self, issuer: &SigningKey) -> Result<String> {
        jws::sign(self, TokenType::ExceptionGrant, issuer)
    }
}

impl Issuer {
    /// Offline check of one exception grant: signature under the pinned key, issuer, binding
    /// to `device`, revocation list, expiry at `now`.
    pub fn verify_exception_grant(
        &self,
        token: &str,
        device: &VerifyingKey,
        revocations: &RevocationList,
        now: DateTime<Utc>,
    ) -> Result<ExceptionGrantClaims> {
        let claims: ExceptionGrantClaims =
            jws::verify(token, TokenType::ExceptionGrant, &self.key)?;
        self.check_bound(
            crate::token::Bound {
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
}

/// The grants among `tokens` that verify now; every other one is dropped with a log line
/// saying why (never the token text).
pub fn verify_exception_grants<'t>(
    tokens: impl IntoIterator<Item = &'t str>,
    issuer: &Issuer,
    device: &VerifyingKey,
    revocations: &RevocationList,
    now: DateTime<Utc>,
) -> Vec<ExceptionGrantClaims> {
    let mut seen = BTreeSet::new();
    tokens
        .into_iter()
        .filter_map(
            |t| match issuer.verify_exception_grant(t, device, revocations, now) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "exception grant dropped");
                    None
                }
            },
        )
        .filter(|c| seen.insert(c.jti.clone()))
        .collect()
}

/// The exception grants this device holds that verify now (`clock`): signed by the pinned
/// issuer, bound to this device's key, not revoked, not expired. Forged, foreign, revoked and
/// expired grants are left out.
///
/// Fails closed: when the cached revocation list is older than `max_revocation_age` (use
/// [`crate::token::DEFAULT_REVOCATION_MAX_AGE`]) this is
/// [`Error::RevocationListStale`] ("revocation list is stale: run certgate sync"), and the
/// caller grants nothing. Not enrolled is [`Error::NotEnrolled`].
pub fn verified_exception_grants(
    db: &mut Database,
    keys: &Keystore,
    clock: &dyn Clock,
    max_revocation_age: Duration,
) -> Result<Vec<ExceptionGrantClaims>> {
    metadata::migrate(db)?;
    let now = clock.now();
    let enrolment = metadata::enrolment(db)?.ok_or(Error::NotEnrolled)?;
    let key = keys.device_key()?.ok_or(Error::NotEnrolled)?;
    let list = match metadata::revocations(db)? {
        Some(t) => RevocationList::verify(&t, &enrolment.issuer)?,
        None => RevocationList::default(),
    };
    list.check_fresh(now, max_revocation_age)?;
    let mut tokens = Vec::new();
    for jti in metadata::exception_grant_ids(db)? {
        if let Some(t) = keys.exception_grant(&jti)? {
            tokens.push(t);
        }
    }
    Ok(verify_exception_grants(
        tokens.iter().map(|t| t.expose().as_str()),
        &enrolment.issuer,
        &key.public_key(),
        &list,
        now,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const ISS: &str = "https://certgate.example.org";

    fn issuer_key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn issuer() -> Issuer {
        Issuer {
            name: ISS.into(),
            key: issuer_key().verifying_key(),
        }
    }

    fn grant(device: &SigningKey, exp: i64, jti: &str) -> ExceptionGrantClaims {
        ExceptionGrantClaims {
            iss: ISS.into(),
            sub: "contractor-1".into(),
            exception_id: "ex-1".into(),
            track: Some("AI_BUILDER_EXTERNAL".into()),
            tool: Some("sdk:developer-sdk".into()),
            iat: NOW,
            exp,
            jti: jti.into(),
            cnf: Confirmation {
                jkt: jws::jwk_thumbprint(&device.verifying_key()),
            },
            approvers: vec![GrantApprover {
                role: "security".into(),
                approver: "sam".into(),
            }],
        }
    }

    #[test]
    fn only_genuine_unexpired_grants_for_this_device_survive() {
        let me = SigningKey::from_bytes(&[1; 32]);
        let other = SigningKey::from_bytes(&[2; 32]);
        let good = grant(&me, NOW + 3_600, "good").sign(&issuer_key()).unwrap();
        let forged = grant(&me, NOW + 3_600, "forged")
            .sign(&SigningKey::from_bytes(&[9; 32]))
            .unwrap();
        let foreign = grant(&other, NOW + 3_600, "foreign")
            .sign(&issuer_key())
            .unwrap();
        let expired = grant(&me, NOW - 1, "expired").sign(&issuer_key()).unwrap();
        // A certification token signed by the same key is not a grant.
        let wrong_typ = jws::sign(
            &grant(&me, NOW + 3_600, "typ"),
            TokenType::Certification,
            &issuer_key(),
        )
        .unwrap();
        // The payload of a genuine grant re-pointed at another device breaks the signature.
        let parts: Vec<&str> = good.split('.').collect();
        let mut moved = grant(&me, NOW + 3_600, "good");
        moved.cnf.jkt = jws::jwk_thumbprint(&other.verifying_key());
        let moved_payload = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&moved).unwrap())
        };
        let tampered = format!("{}.{moved_payload}.{}", parts[0], parts[2]);

        let tokens = [
            good.as_str(),
            forged.as_str(),
            foreign.as_str(),
            expired.as_str(),
            wrong_typ.as_str(),
            tampered.as_str(),
            good.as_str(),
        ];
        let ok = verify_exception_grants(
            tokens,
            &issuer(),
            &me.verifying_key(),
            &RevocationList::default(),
            timestamp(NOW),
        );
        assert_eq!(ok.len(), 1, "only the genuine grant survives, once: {ok:?}");
        assert_eq!(ok[0].jti, "good");
        assert_eq!(ok[0].tool.as_deref(), Some("sdk:developer-sdk"));
        assert_eq!(ok[0].expires_at(), timestamp(NOW + 3_600));

        // The same grant seen from the other device is refused as foreign.
        let r = issuer().verify_exception_grant(
            &good,
            &other.verifying_key(),
            &RevocationList::default(),
            timestamp(NOW),
        );
        assert!(matches!(r, Err(Error::WrongDevice)), "{r:?}");
        // Expiry is exact.
        let r = issuer().verify_exception_grant(
            &good,
            &me.verifying_key(),
            &RevocationList::default(),
            timestamp(NOW + 3_600),
        );
        assert!(matches!(r, Err(Error::Expired { .. })), "{r:?}");
    }

    #[test]
    fn a_grant_fits_the_keyring() {
        let me = SigningKey::from_bytes(&[1; 32]);
        let t = grant(&me, NOW + 3_600, &jws::random_id(16).unwrap())
            .sign(&issuer_key())
            .unwrap();
        assert!(t.len() < 1_200, "grant is {} bytes", t.len());
    }
}
