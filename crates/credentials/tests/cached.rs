//! What the device holds, checked offline with an injected clock: exception grants from the
//! keyring (only genuine, unexpired grants for this device count) and the age of the cached
//! revocation list (too old → every token is stale and nothing is granted: fail closed).
//!
//! Needs a keyring (gnome-keyring in a D-Bus session in CI); skipped with a notice without
//! one, unless `CERTGATE_REQUIRE_KEYRING=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use certgate_credentials::device::{certifications_at, policy_certifications};
use certgate_credentials::grant::{ExceptionGrantClaims, GrantApprover};
use certgate_credentials::jws::{self, TokenType};
use certgate_credentials::metadata::{self, Enrolment};
use certgate_credentials::token::RevocationClaims;
use certgate_credentials::{
    CertificationClaims, Confirmation, DEFAULT_REVOCATION_MAX_AGE, DeviceKey, Error, Issuer,
    Keystore, Sensitive, TokenState, verified_exception_grants,
};
use certgate_policy::clock::FixedClock;
use certgate_store::Database;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;

const ISS: &str = "https://certgate.test";
const TRACK: &str = "AI_CONSUMER_EXTERNAL";

fn keystore() -> Option<Keystore> {
    let required = std::env::var("CERTGATE_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    let service = format!("certgate-cached-{}", jws::random_id(8).unwrap());
    match Keystore::new(&service).and_then(|k| k.probe().map(|()| k)) {
        Ok(k) => Some(k),
        Err(e @ Error::KeyringUnavailable { .. }) if !required => {
            eprintln!(
                "NOTICE: cached-credentials test skipped: {e} (set CERTGATE_REQUIRE_KEYRING=1 to fail instead)"
            );
            None
        }
        Err(e) => panic!("CERTGATE_REQUIRE_KEYRING=1 but the OS keyring is not usable: {e}"),
    }
}

fn t0() -> DateTime<Utc> {
    "2026-06-01T09:00:00Z".parse().unwrap()
}

fn grant(device: &DeviceKey, jti: &str, exp: DateTime<Utc>) -> ExceptionGrantClaims {
    ExceptionGrantClaims {
        iss: ISS.into(),
        sub: "alice".into(),
        exception_id: "ex-1".into(),
        track: Some("AI_BUILDER_EXTERNAL".into()),
        tool: None,
        iat: t0().timestamp(),
        exp: exp.timestamp(),
        jti: jti.into(),
        cnf: Confirmation {
            jkt: device.thumbprint(),
        },
        approvers: vec![GrantApprover {
            role: "Security".into(),
            approver: "sid".into(),
        }],
    }
}

#[test]
fn grants_and_tokens_need_genuine_fresh_credentials() {
    let Some(keys) = keystore() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut db = Database::open(&dir.path().join("device.db")).unwrap();
    metadata::migrate(&mut db).unwrap();
    let issuer_key = SigningKey::from_bytes(&[42; 32]);
    let me = DeviceKey::generate().unwrap();
    let other = DeviceKey::generate().unwrap();
    keys.store_device_key(&me).unwrap();
    metadata::save_enrolment(
        &db,
        &Enrolment {
            server_url: "http://127.0.0.1:9".into(),
            device_id: "d1".into(),
            user_id: "alice".into(),
            profile: Default::default(),
            issuer: Issuer {
                name: ISS.into(),
                key: issuer_key.verifying_key(),
            },
            policy_key_pem: String::new(),
            enrolled_at: t0(),
        },
    )
    .unwrap();

    // Grants as a sync would have cached them, plus ones that must never count.
    let day = t0() + Duration::days(1);
    let cached = [
        (grant(&me, "good", day), &issuer_key),
        (grant(&me, "forged", day), &SigningKey::from_bytes(&[9; 32])),
        (grant(&other, "foreign", day), &issuer_key),
        (
            grant(&me, "expired", t0() - Duration::seconds(1)),
            &issuer_key,
        ),
    ];
    for (claims, signer) in &cached {
        let token = claims.sign(signer).unwrap();
        keys.store_exception_grant(&claims.jti, &Sensitive::new(token))
            .unwrap();
        metadata::save_exception_grant(&db, claims, t0()).unwrap();
    }
    // And a certification token.
    let cert = CertificationClaims {
        iss: ISS.into(),
        sub: "alice".into(),
        track: TRACK.into(),
        status: "passed".into(),
        score: 92.0,
        modules: vec![],
        policy_version: "v".into(),
        iat: t0().timestamp(),
        exp: (t0() + Duration::days(180)).timestamp(),
        jti: "cert-1".into(),
        cnf: Confirmation {
            jkt: me.thumbprint(),
        },
    };
    keys.store_token(TRACK, &Sensitive::new(cert.sign(&issuer_key).unwrap()))
        .unwrap();
    metadata::save_certification(&db, &cert, t0()).unwrap();

    let at = |d: Duration| FixedClock(t0() + d);
    let max = DEFAULT_REVOCATION_MAX_AGE;

    // No revocation list yet: nothing is trusted.
    let e = verified_exception_grants(&mut db, &keys, &at(Duration::zero()), max).unwrap_err();
    assert!(
        matches!(
            e,
            Error::RevocationListStale {
                signed_at: None,
                ..
            }
        ),
        "{e:?}"
    );
    let s = certifications_at(&mut db, &keys, &at(Duration::zero()), max).unwrap();
    assert_eq!(s[0].state, TokenState::Stale);

    // A fresh list signed now.
    let list = RevocationClaims {
        iss: ISS.into(),
        iat: t0().timestamp(),
        jti: BTreeSet::new(),
    };
    let list = jws::sign(&list, TokenType::Revocations, &issuer_key).unwrap();
    metadata::save_revocations(&db, &list, t0()).unwrap();

    let ok = verified_exception_grants(&mut db, &keys, &at(Duration::hours(1)), max).unwrap();
    let jtis: Vec<&str> = ok.iter().map(|g| g.jti.as_str()).collect();
    assert_eq!(
        jtis,
        vec!["good"],
        "forged, foreign-device and expired grants are dropped"
    );
    let s = certifications_at(&mut db, &keys, &at(Duration::hours(1)), max).unwrap();
    assert_eq!(s[0].state, TokenState::Valid);
    assert_eq!(policy_certifications(&s).len(), 1);

    // 24 h after signing the list is still fresh; one second later it is stale.
    let s = certifications_at(&mut db, &keys, &at(Duration::hours(24)), max).unwrap();
    assert_eq!(s[0].state, TokenState::Valid);
    let late = at(Duration::hours(24) + Duration::seconds(1));
    let s = certifications_at(&mut db, &keys, &late, max).unwrap();
    assert_eq!(s[0].state, TokenState::Stale);
    assert!(
        s[0].detail
            .as_deref()
            .unwrap()
            .starts_with("revocation list is stale: run certgate sync"),
        "{:?}",
        s[0].detail
    );
    assert!(
        policy_certifications(&s).is_empty(),
        "fail closed: no certification counts"
    );
    let e = verified_exception_grants(&mut db, &keys, &late, max).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("revocation list is stale: run certgate sync"),
        "{e}"
    );
    // A longer configured maximum keeps it usable.
    let s = certifications_at(&mut db, &keys, &late, Duration::hours(72)).unwrap();
    assert_eq!(s[0].state, TokenState::Valid);

    for (claims, _) in &cached {
        keys.delete_exception_grant(&claims.jti).unwrap();
    }
    keys.forget_device(&[TRACK.into()]).unwrap();
}
