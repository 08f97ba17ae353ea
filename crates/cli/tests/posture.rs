//! `certgate posture attest | verify | snapshot` run as a user would.
//!
//! The keyring test needs an OS keyring (gnome-keyring in a D-Bus session in CI); without
//! one it is skipped with a notice, unless `CERTGATE_REQUIRE_KEYRING=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use certgate_posture::attest::{Attestation, signing_key_from_pem};
use certgate_posture::report::Facts;
use certgate_posture::{PostureReport, attest};
use serde_json::Value;

fn certgate(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(args)
        .env("CERTGATE_HOME", home)
        // Never the user's real keyring entries.
        .env("CERTGATE_KEYRING_SERVICE", "certgate-test-posture-none")
        .output()
        .expect("the certgate binary runs")
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Unpacks with the system tar, as support would.
fn unpack(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let st = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .status()
        .unwrap();
    assert!(st.success(), "tar -xf failed");
}

fn list(archive: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .arg("-tf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(out.status.success());
    text(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh PKCS#8 key file and its public key in hex.
fn key_file(dir: &Path) -> (String, String) {
    let secret = certgate_policy::signing::SecretKey::generate().unwrap();
    let pem = secret.to_pem().unwrap();
    let path = dir.join("device.pem");
    std::fs::write(&path, &pem).unwrap();
    let key = signing_key_from_pem(&pem).unwrap();
    (
        path.display().to_string(),
        to_hex(key.verifying_key().as_bytes()),
    )
}

fn write_json(dir: &Path, name: &str, v: &impl serde::Serialize) -> String {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(v).unwrap()).unwrap();
    p.display().to_string()
}

#[test]
fn attest_with_a_key_file_then_verify() {
    let home = tempfile::tempdir().unwrap();
    let (key, pubkey) = key_file(home.path());
    let out = certgate(
        home.path(),
        &["posture", "attest", "--nonce", "n-123", "--key", &key],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let a: Attestation = serde_json::from_slice(&out.stdout).expect("stdout is the attestation");
    assert_eq!(a.payload.nonce, "n-123");
    assert_eq!(a.public_key, pubkey);
    assert_eq!(
        a.payload.facts["identity"]["value"]["keyStore"],
        Value::String(format!("file:{key}")),
        "the attested facts say which key store holds the key"
    );
    assert!(text(&out.stderr).contains(&format!("file:{key}")));

    // The counter is stored and only goes up across runs.
    let second = certgate(
        home.path(),
        &[
            "posture", "attest", "--nonce", "n-456", "--key", &key, "--json",
        ],
    );
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    assert_eq!(
        text(&second.stdout).lines().count(),
        1,
        "--json is one line"
    );
    let b: Attestation = serde_json::from_slice(&second.stdout).unwrap();
    assert!(
        b.payload.counter > a.payload.counter,
        "counter {} then {}",
        a.payload.counter,
        b.payload.counter
    );

    let file = write_json(home.path(), "a.json", &a);
    let ok = certgate(
        home.path(),
        &[
            "posture", "verify", &file, "--pubkey", &pubkey, "--nonce", "n-123",
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    assert!(
        text(&ok.stdout).contains("valid attestation"),
        "{}",
        text(&ok.stdout)
    );
    assert!(text(&ok.stdout).contains("nonce matches"));

    // A PEM public key file works too; without --nonce the output says it was not checked.
    let pub_pem = home.path().join("device.pub.pem");
    let pem = certgate_policy::signing::SecretKey::from_pem(
        &std::fs::read_to_string(&key).unwrap(),
        Path::new(&key),
    )
    .unwrap()
    .public_key()
    .to_pem()
    .unwrap();
    std::fs::write(&pub_pem, pem).unwrap();
    let ok = certgate(
        home.path(),
        &[
            "posture",
            "verify",
            &file,
            "--pubkey",
            pub_pem.to_str().unwrap(),
        ],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).contains("nonce NOT checked"));

    let wrong = certgate(
        home.path(),
        &[
            "posture", "verify", &file, "--pubkey", &pubkey, "--nonce", "other", "--json",
        ],
    );
    assert_eq!(wrong.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&wrong.stdout).unwrap();
    assert_eq!(v["code"], "wrongNonce");
    assert!(v["reason"].as_str().unwrap().contains("wrong nonce"));

    let replay = certgate(
        home.path(),
        &[
            "posture",
            "verify",
            &file,
            "--pubkey",
            &pubkey,
            "--nonce",
            "n-123",
            "--last-counter",
            &b.payload.counter.to_string(),
        ],
    );
    assert_eq!(replay.status.code(), Some(1));
    assert!(
        text(&replay.stdout).contains("counter went back"),
        "{}",
        text(&replay.stdout)
    );

    let mut tampered = a.clone();
    tampered.payload.facts["diskEncryption"]["state"] = Value::String("ok".into());
    tampered.payload.facts["firewall"]["state"] = Value::String("ok".into());
    tampered.payload.facts["tpm"]["state"] = Value::String("fail".into());
    let file = write_json(home.path(), "t.json", &tampered);
    let bad = certgate(
        home.path(),
        &[
            "posture", "verify", &file, "--pubkey", &pubkey, "--nonce", "n-123",
        ],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stdout).contains("bad signature"),
        "{}",
        text(&bad.stdout)
    );

    let (_, other_pub) = key_file(tempfile::tempdir().unwrap().path());
    let file = write_json(home.path(), "a2.json", &a);
    let foreign = certgate(
        home.path(),
        &[
            "posture", "verify", &file, "--pubkey", &other_pub, "--nonce", "n-123",
        ],
    );
    assert_eq!(
        foreign.status.code(),
        Some(1),
        "another device's key never verifies"
    );
}

/// An attestation of a report collected `offset_secs` from now, signed with `key`.
fn dated(key_pem: &str, offset_secs: i64) -> Attestation {
    let at = chrono::Utc::now() + chrono::Duration::seconds(offset_secs);
    let report = PostureReport::new("linux", Facts::unknown(at, "test"), at);
    attest(&report, "n", 7, &signing_key_from_pem(key_pem).unwrap()).unwrap()
}

#[test]
fn verify_rejects_stale_and_future_reports() {
    let home = tempfile::tempdir().unwrap();
    let (key, pubkey) = key_file(home.path());
    let pem = std::fs::read_to_string(&key).unwrap();

    let file = write_json(home.path(), "old.json", &dated(&pem, -300));
    let stale = certgate(
        home.path(),
        &[
            "posture", "verify", &file, "--pubkey", &pubkey, "--nonce", "n",
        ],
    );
    assert_eq!(stale.status.code(), Some(1));
    let words = text(&stale.stdout);
    assert!(
        words.contains("stale") && words.contains("more than the allowed 120 s"),
        "{words}"
    );
    let wide = certgate(
        home.path(),
        &[
            "posture",
            "verify",
            &file,
            "--pubkey",
            &pubkey,
            "--nonce",
            "n",
            "--max-age-secs",
            "600",
        ],
    );
    assert_eq!(wide.status.code(), Some(0), "{}", text(&wide.stdout));

    let file = write_json(home.path(), "future.json", &dated(&pem, 600));
    let future = certgate(
        home.path(),
        &[
            "posture", "verify", &file, "--pubkey", &pubkey, "--nonce", "n",
        ],
    );
    assert_eq!(future.status.code(), Some(1));
    assert!(
        text(&future.stdout).contains("in the future"),
        "{}",
        text(&future.stdout)
    );
}

#[test]
fn verify_usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let (key, pubkey) = key_file(home.path());
    let pem = std::fs::read_to_string(&key).unwrap();
    let file = write_json(home.path(), "a.json", &dated(&pem, 0));
    let cases: [&[&str]; 4] = [
        &[
            "posture",
            "verify",
            "/nonexistent/a.json",
            "--pubkey",
            &pubkey,
        ],
        &["posture", "verify", &file, "--pubkey", "not-a-key"],
        &["posture", "verify", &file],
        &["posture", "verify", &key, "--pubkey", &pubkey],
    ];
    for args in cases {
        let out = certgate(home.path(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let empty = certgate(
        home.path(),
        &["posture", "attest", "--nonce", " ", "--key", &key],
    );
    assert_eq!(empty.status.code(), Some(2));
}

#[test]
fn attest_without_enrolment_names_the_fix() {
    let home = tempfile::tempdir().unwrap();
    let out = certgate(home.path(), &["posture", "attest", "--nonce", "n"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("certgate enroll"), "{err}");
    assert!(out.stdout.is_empty(), "nothing signed, nothing printed");
}

#[test]
fn attest_with_the_enrolled_keyring_key() {
    use certgate_credentials::{DeviceKey, Error, Keystore};
    let required = std::env::var("CERTGATE_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    let service = format!(
        "certgate-test-{}",
        certgate_credentials::jws::random_id(8).unwrap()
    );
    let keys = match Keystore::new(&service).and_then(|k| k.probe().map(|()| k)) {
        Ok(k) => k,
        Err(e @ Error::KeyringUnavailable { .. }) if !required => {
            eprintln!(
                "NOTICE: keyring attest test skipped: {e} (set CERTGATE_REQUIRE_KEYRING=1 to fail instead)"
            );
            return;
        }
        Err(e) => panic!("CERTGATE_REQUIRE_KEYRING=1 but the OS keyring is not usable: {e}"),
    };
    let device = DeviceKey::generate().unwrap();
    keys.store_device_key(&device).unwrap();
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(["posture", "attest", "--nonce", "n-kr"])
        .env("CERTGATE_HOME", home.path())
        .env("CERTGATE_KEYRING_SERVICE", &service)
        .output()
        .unwrap();
    keys.forget_device(&[]).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let a: Attestation = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a.public_key, to_hex(device.public_key().as_bytes()));
    let store = a.payload.facts["identity"]["value"]["keyStore"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(store.starts_with("os-keyring:"), "{store}");
}

/// A small fake Linux machine: LUKS root, ufw on, os-release.
fn fake_machine(root: &Path) {
    use std::os::unix::fs::symlink;
    let w = |rel: &str, body: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    w(
        "proc/self/mountinfo",
        "30 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw\n",
    );
    w("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n");
    w("proc/sys/kernel/osrelease", "6.8.0-48-generic\n");
    let dm = root.join("sys/devices/virtual/block/dm-0");
    let sda2 = root.join("sys/devices/pci0000:00/block/sda/sda2");
    w(
        "sys/devices/virtual/block/dm-0/dm/uuid",
        "CRYPT-LUKS2-0f1e2d3c4b5a69788796a5b4c3d2e1f0-root\n",
    );
    w("sys/devices/virtual/block/dm-0/dm/name", "root\n");
    w("sys/devices/pci0000:00/block/sda/sda2/partition", "2\n");
    w("sys/devices/pci0000:00/block/sda/removable", "0\n");
    std::fs::create_dir_all(dm.join("slaves")).unwrap();
    symlink(&sda2, dm.join("slaves/sda2")).unwrap();
    for (name, dir, dev) in [("dm-0", &dm, "253:0"), ("sda2", &sda2, "8:2")] {
        std::fs::create_dir_all(root.join("sys/dev/block")).unwrap();
        std::fs::create_dir_all(root.join("sys/class/block")).unwrap();
        symlink(dir, root.join("sys/dev/block").join(dev)).unwrap();
        symlink(dir, root.join("sys/class/block").join(name)).unwrap();
    }
    w("etc/ufw/ufw.conf", "ENABLED=yes\n");
    w(
        "etc/os-release",
        "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n",
    );
    w("etc/machine-id", "4f1e2d3c4b5a69788796a5b4c3d2e1f0\n");
    w("etc/shadow", "root:$y$secret:::\n");
    w("etc/unrelated.conf", "x=1\n");
}

fn facts_without_times(out: &Output) -> Value {
    let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let facts = v["facts"].as_object_mut().unwrap();
    for f in facts.values_mut() {
        f.as_object_mut().unwrap().remove("collectedAt");
    }
    v["facts"].take()
}

#[test]
fn snapshot_of_a_tree_reproduces_its_facts() {
    let work = tempfile::tempdir().unwrap();
    let machine = work.path().join("machine");
    fake_machine(&machine);
    let archive = work.path().join("snap.tar");
    let out = certgate(
        work.path(),
        &[
            "posture",
            "snapshot",
            archive.to_str().unwrap(),
            "--sysroot",
            machine.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<&str> = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(files.contains(&"etc/ufw/ufw.conf"), "{files:?}");
    assert!(!files.contains(&"etc/shadow") && !files.contains(&"etc/unrelated.conf"));

    let unpacked = work.path().join("unpacked");
    unpack(&archive, &unpacked);
    let original = certgate(
        work.path(),
        &["posture", "--json", "--sysroot", machine.to_str().unwrap()],
    );
    let replay = certgate(
        work.path(),
        &["posture", "--json", "--sysroot", unpacked.to_str().unwrap()],
    );
    assert_eq!(
        facts_without_times(&replay),
        facts_without_times(&original),
        "the unpacked snapshot gives the same answers"
    );
    assert_eq!(replay.status.code(), original.status.code());

    let no_dir = certgate(
        work.path(),
        &[
            "posture",
            "snapshot",
            "/nonexistent-dir/x.tar",
            "--sysroot",
            machine.to_str().unwrap(),
        ],
    );
    assert_eq!(no_dir.status.code(), Some(2));
    assert!(!Path::new("/nonexistent-dir").exists());
}

#[test]
fn snapshot_of_this_machine_holds_no_secret_paths() {
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("host.tar");
    let out = certgate(
        work.path(),
        &["posture", "snapshot", archive.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let names = list(&archive);
    assert!(names.iter().any(|n| n == "proc/self"), "{names:?}");
    for n in &names {
        assert!(
            certgate_posture::linux::snapshot::secret_reason(Path::new(n)).is_none(),
            "{n} must not be in a snapshot"
        );
    }
    let unpacked = work.path().join("unpacked");
    unpack(&archive, &unpacked);
    let replay = certgate(
        work.path(),
        &["posture", "--json", "--sysroot", unpacked.to_str().unwrap()],
    );
    assert!(
        matches!(replay.status.code(), Some(0 | 1)),
        "{}",
        text(&replay.stderr)
    );
}
