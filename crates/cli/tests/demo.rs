//! `certgate demo` end to end: the real binary, its first stdout line, curl against the proxy
//! and the mock, then SIGTERM and a clean exit with the temporary demo data gone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `certgate demo`, killed if a test fails before stopping it.
struct Demo {
    child: Child,
    ready: Value,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn demo(tmp: &Path, extra: &[&str]) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(["demo", "--json"])
        .args(extra)
        // The demo's temporary folder is made here, so the test can see it removed.
        .env("TMPDIR", tmp)
        .env("CERTGATE_HOME", tmp.join("home-unused"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("first stdout line is one JSON object ({e}): {line:?}"));
    let keys: Vec<&str> = ready
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["apiKey", "mockUrl", "proxyUrl"],
        "exactly the three fields"
    );
    Demo { child, ready }
}

fn field<'a>(d: &'a Demo, name: &str) -> &'a str {
    d.ready[name].as_str().unwrap()
}

/// A plain SDK-style chat completion (no Certgate headers): (status, body).
fn chat(d: &Demo, text: &str) -> (u16, Value) {
    let body =
        serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": text}]});
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            "-H",
            "content-type: application/json",
        ])
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", field(d, "apiKey")))
        .arg("-d")
        .arg(body.to_string())
        .arg(format!("{}/v1/chat/completions", field(d, "proxyUrl")))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), serde_json::from_str(body).unwrap())
}

fn mock_requests(d: &Demo) -> Vec<Value> {
    let out = Command::new("curl")
        .args(["-s", &format!("{}/__mock/requests", field(d, "mockUrl"))])
        .output()
        .unwrap();
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// SIGTERM, then exit 0 within a few seconds.
fn terminate(d: &mut Demo) {
    let ok = Command::new("kill")
        .args(["-TERM", &d.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let start = Instant::now();
    loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "the demo stops cleanly on SIGTERM");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the demo must stop within 5 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn certified_demo_pseudonymizes_restores_blocks_and_stops_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = demo(tmp.path(), &["--certified"]);
    let demo_dirs = |p: &Path| {
        std::fs::read_dir(p)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("certgate-demo-")
            })
            .count()
    };
    assert_eq!(
        demo_dirs(tmp.path()),
        1,
        "demo data lives in a temporary folder"
    );

    let (status, answer) = chat(&d, "please mail jane.doe@example.com today");
    assert_eq!(
        status, 200,
        "certified demo user on a simulated compliant device: {answer}"
    );
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        content.contains("jane.doe@example.com"),
        "the client sees its email restored: {content}"
    );
    let seen = mock_requests(&d);
    assert_eq!(seen.len(), 1);
    let upstream = seen[0]["body"].to_string();
    assert!(
        !upstream.contains("jane.doe@example.com") && upstream.contains("[EMAIL_"),
        "the upstream received the email pseudonymized: {upstream}"
    );

    let aws_key = format!("AKIA{}", "Q3EGRTWXZ4PLMN7B");
    let (status, answer) = chat(&d, &format!("my key is {aws_key}"));
    assert_eq!(status, 422, "a secret is blocked: {answer}");
    assert_eq!(
        mock_requests(&d).len(),
        1,
        "nothing new reached the upstream"
    );

    let service = format!("certgate-demo-{}", d.child.id());
    let keyring = certgate_credentials::Keystore::new(&service)
        .ok()
        .filter(|k| k.probe().is_ok());
    if let Some(keys) = &keyring {
        assert!(
            keys.token("AI_CONSUMER_EXTERNAL").unwrap().is_some(),
            "with a keyring the demo user was enrolled and got a token from the server"
        );
    }
    terminate(&mut d);
    assert_eq!(
        demo_dirs(tmp.path()),
        0,
        "the temporary demo folder is removed at exit"
    );
    // With a keyring (CI's desktop session) the demo enrolled for real; its entries are gone.
    if let Some(keys) = &keyring {
        assert!(
            keys.token("AI_CONSUMER_EXTERNAL").unwrap().is_none()
                && keys.device_key().unwrap().is_none()
                && keys.device_secret().unwrap().is_none(),
            "the demo keyring entries are removed at exit"
        );
    }
}

#[test]
fn uncertified_demo_denies_naming_the_certification() {
    let tmp = tempfile::tempdir().unwrap();
    let mut d = demo(tmp.path(), &[]);
    let (status, answer) = chat(&d, "hello");
    assert_eq!(status, 403, "no certification, no access: {answer}");
    let reasons = answer["error"]["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| {
            r["check"] == "condition:requireCertification"
                && r["fix"]
                    .as_str()
                    .unwrap_or("")
                    .contains("AI_CONSUMER_EXTERNAL")
        }),
        "the denial names the certification to pass: {answer}"
    );
    assert!(
        mock_requests(&d).is_empty(),
        "a denied request never reaches the upstream"
    );
    terminate(&mut d);
}
