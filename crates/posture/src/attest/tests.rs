use super::*;
use crate::fact::{Fact, FactState};
use crate::report::Facts;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn report(at: DateTime<Utc>) -> PostureReport {
    let mut f = Facts::unknown(at, "not collected");
    f.disk_encryption =
        Fact::new(FactState::Ok, None, "test", at).with("/ is dm-0 (CRYPT-LUKS2-…)");
    PostureReport::new("linux", f, at)
}

fn verifier(k: &SigningKey, nonces: &[&str]) -> Verifier<MemoryNonceStore> {
    let store = MemoryNonceStore::default();
    for n in nonces {
        store.issue(*n);
    }
    Verifier::new(k.verifying_key(), store)
}

#[test]
fn canonical_json_sorts_keys_without_whitespace() {
    let v: Value =
        serde_json::from_str(r#"{ "b": [1, {"z": true, "a": null}], "a": "x\"y" }"#).unwrap();
    assert_eq!(
        canonical_json(&v),
        r#"{"a":"x\"y","b":[1,{"a":null,"z":true}]}"#
    );
}

#[test]
fn valid_attestation_verifies() {
    let k = key(7);
    let a = attest(&report(t(0)), "n1", 1, &k).unwrap();
    let v = verifier(&k, &["n1"]);
    let facts = v.verify(&a, t(30)).unwrap();
    assert_eq!(facts["diskEncryption"]["state"], "ok");
}

#[test]
fn survives_json_round_trip() {
    let k = key(7);
    let a = attest(&report(t(0)), "n1", 1, &k).unwrap();
    let text = serde_json::to_string_pretty(&a).unwrap();
    let back: Attestation = serde_json::from_str(&text).unwrap();
    verifier(&k, &["n1"]).verify(&back, t(1)).unwrap();
}

#[test]
fn tampered_facts_are_rejected() {
    let k = key(7);
    let mut a = attest(&report(t(0)), "n1", 1, &k).unwrap();
    a.payload.facts["diskEncryption"]["state"] = Value::from("fail");
    let err = verifier(&k, &["n1"]).verify(&a, t(1)).unwrap_err();
    assert!(matches!(err, Error::BadSignature), "got {err:?}");
}

#[test]
fn tampered_counter_or_time_is_rejected() {
    let k = key(7);
    let mut a = attest(&report(t(0)), "n1", 1, &k).unwrap();
    a.payload.counter = 99;
    assert!(matches!(
        verifier(&k, &["n1"]).verify(&a, t(1)),
        Err(Error::BadSignature)
    ));
    let mut a = attest(&report(t(0)), "n1", 1, &k).unwrap();
    a.payload.collected_at = t(100);
    assert!(matches!(
        verifier(&k, &["n1"]).verify(&a, t(101)),
        Err(Error::BadSignature)
    ));
}

#[test]
fn other_device_key_is_rejected() {
    let a = attest(&report(t(0)), "n1", 1, &key(8)).unwrap();
    let err = verifier(&key(7), &["n1"]).verify(&a, t(1)).unwrap_err();
    assert!(matches!(err, Error::BadSignature), "got {err:?}");
}

#[test]
fn replay_is_rejected() {
    let k = key(7);
    let a = attest(&report(t(0)), "n1", 1, &k).unwrap();
    let v = verifier(&k, &["n1"]);
    v.verify(&a, t(1)).unwrap();
    let err = v.verify(&a, t(2)).unwrap_err();
    assert!(
        matches!(err, Error::UnknownNonce),
        "a used nonce must not verify twice: {err:?}"
    );
}

#[test]
fn nonce_not_issued_is_rejected() {
    let k = key(7);
    let a = attest(&report(t(0)), "made-up", 1, &k).unwrap();
    let err = verifier(&k, &["n1"]).verify(&a, t(1)).unwrap_err();
    assert!(matches!(err, Error::UnknownNonce), "got {err:?}");
}

#[test]
fn counter_must_increase() {
    let k = key(7);
    let v = verifier(&k, &["n1", "n2", "n3"]).with_last_counter(5);
    let err = v
        .verify(&attest(&report(t(0)), "n1", 5, &k).unwrap(), t(1))
        .unwrap_err();
    assert!(
        matches!(err, Error::CounterNotIncreased { last: 5, got: 5 }),
        "got {err:?}"
    );
    v.verify(&attest(&report(t(0)), "n2", 6, &k).unwrap(), t(1))
        .unwrap();
    let err = v
        .verify(&attest(&report(t(0)), "n3", 4, &k).unwrap(), t(1))
        .unwrap_err();
    assert!(
        matches!(err, Error::CounterNotIncreased { last: 6, got: 4 }),
        "got {err:?}"
    );
}

#[test]
fn stale_report_is_rejected() {
    let k = key(7);
    let a = attest(&report(t(0)), "n1", 1, &k).unwrap();
    let v = verifier(&k, &["n1"]);
    let err = v.verify(&a, t(121)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Stale {
                age_secs: 121,
                max_secs: 120
            }
        ),
        "got {err:?}"
    );
    // Exactly 120 s old is still accepted, and the nonce was not burnt by the stale try.
    v.verify(&a, t(120)).unwrap();
}

#[test]
fn future_report_is_rejected() {
    let k = key(7);
    let a = attest(&report(t(60)), "n1", 1, &k).unwrap();
    let err = verifier(&k, &["n1"]).verify(&a, t(0)).unwrap_err();
    assert!(
        matches!(err, Error::FromFuture { ahead_secs: 60 }),
        "got {err:?}"
    );
}

#[test]
fn malformed_signature_is_reported() {
    let k = key(7);
    let mut a = attest(&report(t(0)), "n1", 1, &k).unwrap();
    a.signature = "zz".into();
    assert!(matches!(
        verifier(&k, &["n1"]).verify(&a, t(1)),
        Err(Error::MalformedAttestation { .. })
    ));
}

#[test]
fn keys_parse_from_pem_and_hex() {
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
    let k = key(9);
    let pem = k.to_pkcs8_pem(LineEnding::LF).unwrap();
    assert_eq!(signing_key_from_pem(&pem).unwrap().to_bytes(), k.to_bytes());
    let pub_pem = k.verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
    assert_eq!(
        verifying_key_from_text(&pub_pem).unwrap(),
        k.verifying_key()
    );
    let hex_key = hex::encode(k.verifying_key().as_bytes());
    assert_eq!(
        verifying_key_from_text(&format!("{hex_key}\n")).unwrap(),
        k.verifying_key()
    );
    assert!(matches!(
        signing_key_from_pem("not a key"),
        Err(Error::KeyFormat { .. })
    ));
    assert!(matches!(
        verifying_key_from_text("abcd"),
        Err(Error::KeyFormat { .. })
    ));
    assert!(
        !format!(
            "{:?}",
            signing_key_from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .unwrap_err()
        )
        .contains("AAAA"),
        "key text never appears in errors"
    );
}

#[test]
fn max_age_can_be_widened_for_support() {
    let k = key(7);
    let a = attest(&report(t(0)), "n1", 1, &k).unwrap();
    let strict = verifier(&k, &["n1"]);
    assert!(matches!(
        strict.verify(&a, t(300)),
        Err(Error::Stale { .. })
    ));
    let wide = verifier(&k, &["n1"]).with_max_age(Duration::seconds(600));
    assert!(wide.verify(&a, t(300)).is_ok(), "600 s allowed");
}
