//! The org round trip with the real binary in every role: `certgate server` on port 0, its
//! admin command making an enrolment code, then as the device `certgate enroll`, `certgate
//! quiz` (passed offline), `certgate sync` and `certgate certs` showing a valid token.
//!
//! Needs a keyring (gnome-keyring in a D-Bus session in CI); skipped with a notice without one,
//! unless `CERTGATE_REQUIRE_KEYRING=1`. Secrets go to a throw-away keyring service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use certgate_training::{QuestionKind, plan_attempt};
use serde_json::Value;

const TRACK: &str = "AI_CONSUMER_EXTERNAL";
const ADMIN: &str = "cli-admin-token-0123456789abcdef0123456789";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn certgate(home: &Path, service: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(args)
        .env("CERTGATE_HOME", home)
        .env("CERTGATE_KEYRING_SERVICE", service)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn answers(seed: u64) -> String {
    let policy = certgate_policy::demo::load().unwrap();
    let bundle = certgate_training::demo::bundle(&policy).unwrap();
    let track = bundle.track(TRACK).unwrap();
    let plan = plan_attempt(&track.bank, track.draw_count, seed);
    plan.questions
        .iter()
        .map(|p| {
            let q = track.bank.question(&p.question_id).unwrap();
            let line = match &q.kind {
                QuestionKind::TrueFalse { answer } => answer.to_string(),
                _ => p.correct_letters(q),
            };
            format!("{line}\n")
        })
        .collect()
}

fn keyring_usable(service: &str) -> bool {
    let required = std::env::var("CERTGATE_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    match certgate_credentials::Keystore::new(service).and_then(|k| k.probe()) {
        Ok(()) => true,
        Err(e) if !required => {
            eprintln!(
                "NOTICE: org round-trip test skipped: {e} (set CERTGATE_REQUIRE_KEYRING=1 to fail instead)"
            );
            false
        }
        Err(e) => panic!("CERTGATE_REQUIRE_KEYRING=1 but the keyring is not usable: {e}"),
    }
}

/// A running `certgate server` and a device enrolled with it through the CLI.
struct Org {
    _server: Server,
    _srv: tempfile::TempDir,
    home: tempfile::TempDir,
    service: String,
    url: String,
    config: PathBuf,
}

impl Drop for Org {
    fn drop(&mut self) {
        if let Ok(k) = certgate_credentials::Keystore::new(&self.service) {
            let _ = k.forget_device(&[TRACK.into()]);
        }
    }
}

impl Org {
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        certgate(self.home.path(), &self.service, args, stdin)
    }

    fn admin(&self, args: &[&str]) -> Value {
        let mut all = vec![
            "server",
            "--config",
            self.config.to_str().unwrap(),
            "--url",
            &self.url,
            "--json",
        ];
        all.extend_from_slice(args);
        let out = self.run(&all, "");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or(Value::String(String::from_utf8_lossy(&out.stdout).into()))
    }
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `certgate server`, makes an enrolment code with the admin command and enrols a
/// device with `certgate enroll`; `None` (skip) without a keyring.
fn org() -> Option<Org> {
    let service = format!(
        "certgate-cli-test-{}",
        certgate_credentials::jws::random_id(6).unwrap()
    );
    if !keyring_usable(&service) {
        return None;
    }
    let srv = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let (secret, public) = (
        srv.path().join("issuer.pem"),
        srv.path().join("issuer.pub.pem"),
    );
    ok(&certgate(
        srv.path(),
        &service,
        &[
            "policy",
            "keygen",
            "--secret",
            secret.to_str().unwrap(),
            "--public",
            public.to_str().unwrap(),
        ],
        "",
    ));
    let config = srv.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nissuer = \"https://certgate.cli\"\ndatabase = \"server.db\"\n\
             demo = true\nissuerKey = \"issuer.pem\"\nadminToken = \"{ADMIN}\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(["server", "--config", config.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server(child);
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let o = Org {
        _server: server,
        _srv: srv,
        home,
        service,
        url,
        config,
    };
    let code = o.admin(&[
        "enroll-code",
        "--user",
        "alice",
        "--user-type",
        "contractor",
        "--vendor-org",
        "Acme BPO",
        "--region",
        "EU",
    ]);
    let code = code["code"].as_str().unwrap();
    ok(&o.run(&["enroll", "--server", &o.url, "--code", code], ""));
    Some(o)
}

#[test]
fn enroll_quiz_sync_certs_against_a_real_server() {
    let Some(o) = org() else {
        return;
    };
    let out = o.run(&["quiz", TRACK, "--seed", "21"], &answers(21));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = o.run(&["sync", "--json"], "");
    ok(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["statementsDelivered"], 1, "{report}");
    assert_eq!(report["tokensStored"], 1, "{report}");

    let out = o.run(&["sync", "--json"], "");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["statementsDelivered"], 0,
        "nothing is sent twice: {report}"
    );

    let out = o.run(&["certs", "--json"], "");
    ok(&out);
    let certs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = certs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["track"] == TRACK)
        .unwrap();
    assert_eq!(row["token"], "token: valid", "{row}");
}

/// Kills `certgate sync` with SIGKILL at random points, 200 times, while statements keep
/// arriving in the outbox; then one clean sync. Every statement must reach the server exactly
/// once (the server audits a statement only on its first arrival).
#[test]
fn killed_syncs_deliver_every_statement_exactly_once() {
    let Some(o) = org() else {
        return;
    };
    let db = certgate_store::Database::open(&o.home.path().join("certgate.db")).unwrap();
    let mut records = certgate_training::Records::new(db).unwrap();
    let mut made = 0usize;
    let mut add = |n: usize, records: &mut certgate_training::Records| {
        for _ in 0..n {
            let ack = certgate_training::Acknowledgement {
                id: certgate_training::ids::uuid_v4().unwrap(),
                ack_id: "ACK-allowed-not-allowed".into(),
                version: "1".into(),
                content_sha256: "0".repeat(64),
                full_name: "Alice Example".into(),
                signed_at: chrono::Utc::now(),
            };
            records.save_acknowledgement(&ack).unwrap();
            made += 1;
        }
    };
    add(20, &mut records);
    let mut killed = 0;
    for _ in 0..200 {
        add(3, &mut records);
        let mut child = Command::new(env!("CARGO_BIN_EXE_certgate"))
            .args(["sync"])
            .env("CERTGATE_HOME", o.home.path())
            .env("CERTGATE_KEYRING_SERVICE", &o.service)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let wait_ms = 100 + (certgate_credentials::client::jitter() * 200.0) as u64;
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    eprintln!("{killed} of 200 syncs were killed mid-run");
    assert!(
        killed >= 20,
        "most runs must be interrupted for the test to mean anything ({killed})"
    );
    let left = records.pending_outbox().unwrap().len();
    eprintln!(
        "{} of {made} statements were delivered by the 200 runs",
        made - left
    );
    let started = std::time::Instant::now();
    let out = o.run(&["sync", "--json"], "");
    eprintln!("final sync took {:?}", started.elapsed());
    ok(&out);
    assert!(
        left < made,
        "the interrupted runs must have delivered statements themselves"
    );
    assert!(
        records.pending_outbox().unwrap().is_empty(),
        "the outbox drains"
    );

    let export = o.admin(&["export", "--format", "jsonl"]);
    let text = export.as_str().unwrap_or_default().to_owned();
    let ids: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "statement")
        .map(|v| v["detail"]["statementId"].as_str().unwrap().to_owned())
        .collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), made, "every statement arrived");
    assert_eq!(ids.len(), made, "none arrived twice");
}

/// `certgate proxy` without `--snapshot` is fed by this enrolled device: before the quiz its
/// gate names the missing certification; after `certgate sync` brought the token, it does not
/// (whatever else this machine's posture makes it refuse).
#[test]
fn the_proxy_is_fed_by_the_enrolled_device() {
    let Some(o) = org() else {
        return;
    };
    let reasons = |o: &Org| -> Vec<String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_certgate"))
            .args([
                "proxy",
                "--key-env",
                "CG_TEST_PROXY_KEY",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(["--upstream", "eu-west-1=http://127.0.0.1:9"])
            .env("CERTGATE_HOME", o.home.path())
            .env("CERTGATE_KEYRING_SERVICE", &o.service)
            .env("CG_TEST_PROXY_KEY", "cg-test-proxy-key-0123456789")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("certgate proxy on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let out = Command::new("curl")
            .args([
                "-s",
                "-H",
                "Authorization: Bearer cg-test-proxy-key-0123456789",
            ])
            .args(["-H", "content-type: application/json", "-d"])
            .arg(r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}"#)
            .arg(format!("{base}/v1/chat/completions"))
            .output()
            .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        answer["error"]["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r["check"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = reasons(&o);
    assert!(
        before.iter().any(|c| c == "condition:requireCertification"),
        "enrolled but not certified: {before:?}"
    );
    assert!(
        !before.iter().any(|c| c == "incomplete"),
        "the enrolled user's profile is known to the gate: {before:?}"
    );
    ok(&o.run(&["quiz", TRACK, "--seed", "5"], &answers(5)));
    ok(&o.run(&["sync"], ""));
    let after = reasons(&o);
    assert!(
        !after.iter().any(|c| c == "condition:requireCertification"),
        "the synced token counts: {after:?}"
    );
}
