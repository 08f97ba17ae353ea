//! A secret written by one process is read by a new process: proves the keyring backend is a
//! real, persistent store (keyring 3 without platform features would keep it in memory).
//!
//! Runs under gnome-keyring in a D-Bus session in CI. Without a reachable keyring it is
//! skipped with a notice, unless `CERTGATE_REQUIRE_KEYRING=1`, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use certgate_credentials::{DeviceKey, Error, Keystore, Sensitive};

const CHILD_SERVICE: &str = "CERTGATE_TEST_KEYRING_CHILD_SERVICE";
const CHILD_EXPECT: &str = "CERTGATE_TEST_KEYRING_CHILD_EXPECT";

/// A keystore in a namespace of its own, or `None` (skip) when no keyring is reachable.
fn keystore(service: &str) -> Option<Keystore> {
    let required = std::env::var("CERTGATE_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    let probe = Keystore::new(service).and_then(|k| k.probe().map(|()| k));
    match probe {
        Ok(k) => Some(k),
        Err(e @ Error::KeyringUnavailable { .. }) if !required => {
            eprintln!(
                "NOTICE: keyring test skipped: {e} (set CERTGATE_REQUIRE_KEYRING=1 to fail instead)"
            );
            None
        }
        Err(e) => panic!(
            "CERTGATE_REQUIRE_KEYRING=1 but the OS keyring is not usable: {e}; run under a D-Bus session with an unlocked gnome-keyring"
        ),
    }
}

fn unique_service() -> String {
    format!(
        "certgate-test-{}",
        certgate_credentials::jws::random_id(8).unwrap()
    )
}

#[test]
fn secret_written_here_is_read_by_a_new_process() {
    let service = unique_service();
    let Some(keys) = keystore(&service) else {
        return;
    };
    let device = DeviceKey::generate().unwrap();
    keys.store_device_key(&device).unwrap();
    keys.store_token(
        "AI_CONSUMER_EXTERNAL",
        &Sensitive::new("tok.en.text".into()),
    )
    .unwrap();

    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_reads_the_secret",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_SERVICE, &service)
        .env(CHILD_EXPECT, device.thumbprint())
        .status()
        .unwrap();

    keys.forget_device(&["AI_CONSUMER_EXTERNAL".into()])
        .unwrap();
    assert!(
        status.success(),
        "a new process must read the device key and token this process stored"
    );
    assert!(
        keys.device_key().unwrap().is_none(),
        "forget_device removes the key"
    );
}

/// The child half: only does something when spawned by the test above.
#[test]
fn child_reads_the_secret() {
    let (Ok(service), Ok(expect)) = (std::env::var(CHILD_SERVICE), std::env::var(CHILD_EXPECT))
    else {
        return;
    };
    let keys = Keystore::new(&service).unwrap();
    let key = keys
        .device_key()
        .unwrap()
        .expect("device key stored by the parent");
    assert_eq!(key.thumbprint(), expect, "same key as the parent stored");
    let token = keys
        .token("AI_CONSUMER_EXTERNAL")
        .unwrap()
        .expect("token stored");
    assert_eq!(token.expose(), "tok.en.text");
}

#[test]
fn absent_entries_read_as_none() {
    let Some(keys) = keystore(&unique_service()) else {
        return;
    };
    assert!(keys.device_key().unwrap().is_none());
    assert!(keys.token("NOPE").unwrap().is_none());
    keys.delete_token("NOPE").unwrap();
}
