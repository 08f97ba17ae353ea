//! The `certgate` binary run as a user would, on real files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn certgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(args)
        .output()
        .expect("the certgate binary runs")
}

fn example(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(rel)
        .display()
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn check_accepts_the_seed_policy_with_a_summary() {
    let out = certgate(&["policy", "check", &example("seed-policy.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("valid policy extworkforce-ai-cert-gate-v1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("AI_BUILDER_EXTERNAL: 3 module(s), pass 92%"),
        "{stdout}"
    );
}

#[test]
fn check_lists_every_problem_and_exits_2() {
    let file = example("bad-policies/many-errors.yaml");
    let out = certgate(&["policy", "check", &file]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("10 problem(s)"), "{stderr}");
    assert!(
        stderr.contains(&format!("{file}:12:3: scope.regionAllowed: unknown key")),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean `regionsAllowed`?"),
        "{stderr}"
    );

    let json = certgate(&["policy", "check", &file, "--json"]);
    assert_eq!(json.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"].as_array().unwrap().len(), 10);
    assert!(v["errors"][0]["line"].as_u64().unwrap() > 0);

    let broken = certgate(&["policy", "check", &example("bad-policies/not-yaml.yaml")]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(text(&broken.stderr).contains("not valid YAML"));
    let empty = certgate(&[
        "policy",
        "check",
        &example("bad-policies/empty-regions.yaml"),
    ]);
    assert!(text(&empty.stderr).contains("scope.regionsAllowed: must not be empty"));
}

fn copy_seed(dir: &Path) -> PathBuf {
    let path = dir.join("policy.yaml");
    std::fs::copy(example("seed-policy.yaml"), &path).unwrap();
    path
}

#[test]
fn keygen_sign_verify_and_detect_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let (secret, public) = (
        dir.path().join("org.key.pem"),
        dir.path().join("org.pub.pem"),
    );
    let (s, p) = (secret.to_str().unwrap(), public.to_str().unwrap());
    assert_eq!(
        certgate(&["policy", "keygen", "--secret", s, "--public", p])
            .status
            .code(),
        Some(0)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the secret key is private to its owner");
    }
    let again = certgate(&["policy", "keygen", "--secret", s, "--public", p]);
    assert_eq!(again.status.code(), Some(2), "never overwrites a key");

    let policy = copy_seed(dir.path());
    let f = policy.to_str().unwrap();
    let unsigned = certgate(&["policy", "verify", f, "--pubkey", p]);
    assert_eq!(unsigned.status.code(), Some(1));
    assert!(text(&unsigned.stderr).contains("not signed"));

    assert_eq!(
        certgate(&["policy", "sign", f, "--key", s]).status.code(),
        Some(0)
    );
    let ok = certgate(&["policy", "verify", f, "--pubkey", p]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("signature OK"));

    let tampered = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("minScorePct: 85", "minScorePct: 50");
    std::fs::write(&policy, tampered).unwrap();
    let bad = certgate(&["policy", "verify", f, "--pubkey", p]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("altered"),
        "{}",
        text(&bad.stderr)
    );

    let demo_key = example("keys/DEMO-org-signing.pub.pem");
    let other_key = certgate(&["policy", "verify", f, "--pubkey", &demo_key]);
    assert_eq!(
        other_key.status.code(),
        Some(1),
        "another org's key does not verify"
    );
}

#[test]
fn sign_refuses_an_invalid_policy_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::copy(example("bad-policies/many-errors.yaml"), &bad).unwrap();
    let out = certgate(&[
        "policy",
        "sign",
        bad.to_str().unwrap(),
        "--key",
        &example("keys/DEMO-org-signing.key.pem"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !dir.path().join("bad.yaml.sig").exists(),
        "no signature for a broken policy"
    );
}

#[test]
fn the_committed_demo_signature_verifies() {
    let out = certgate(&[
        "policy",
        "verify",
        &example("demo-policy.yaml"),
        "--pubkey",
        &example("keys/DEMO-org-signing.pub.pem"),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "re-sign examples/demo-policy.yaml after editing it: {}",
        text(&out.stderr)
    );
}

#[test]
fn explain_says_allow_or_deny_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let user = dir.path().join("u.json");
    let device = dir.path().join("d.json");
    std::fs::write(&user, r#"{"certifications": {"AI_CONSUMER_EXTERNAL": {"status": "passed", "expiresAt": "2030-01-01T00:00:00Z"}}}"#).unwrap();
    std::fs::write(&device, r#"{"managed": true, "diskEncryption": true}"#).unwrap();
    let seed = example("seed-policy.yaml");
    let args = |track: &'static str| {
        vec![
            "policy".to_owned(),
            "explain".into(),
            seed.clone(),
            "--user".into(),
            user.display().to_string(),
            "--device".into(),
            device.display().to_string(),
            "--track".into(),
            track.into(),
        ]
    };
    let run = |a: Vec<String>| certgate(&a.iter().map(String::as_str).collect::<Vec<_>>());

    let allow = run(args("AI_CONSUMER_EXTERNAL"));
    assert_eq!(allow.status.code(), Some(0));
    assert!(text(&allow.stdout).starts_with("allow\n"));

    let deny = run(args("AI_BUILDER_EXTERNAL"));
    assert_eq!(deny.status.code(), Some(1));
    let out = text(&deny.stdout);
    assert!(
        out.starts_with("deny\n") && out.contains("GOV-201-automation-guardrails"),
        "{out}"
    );

    let mut region = args("AI_CONSUMER_EXTERNAL");
    region.extend(["--region".into(), "ap-south-1".into(), "--json".into()]);
    let json = run(region);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["allowed"], false);
    assert_eq!(v["reasons"][0]["message"], "region ap-south-1 not allowed");

    std::fs::write(&device, "not json").unwrap();
    let broken = run(args("AI_CONSUMER_EXTERNAL"));
    assert_eq!(broken.status.code(), Some(2));
    assert!(text(&broken.stderr).contains("d.json is not a valid device JSON object"));
}

#[test]
fn posture_report_is_the_device_object_explain_reads() {
    let out = certgate(&["posture", "--json"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["managed", "diskEncryption", "firewall", "screenLock"] {
        assert!(
            report[key].is_boolean(),
            "device.{key} is a boolean for policy rules: {report}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let device = dir.path().join("device.json");
    std::fs::write(&device, &out.stdout).unwrap();
    let user = dir.path().join("u.json");
    std::fs::write(
        &user,
        r#"{"certifications": {"AI_CONSUMER_EXTERNAL": {"status": "passed"}}}"#,
    )
    .unwrap();
    let explain = certgate(&[
        "policy",
        "explain",
        &example("seed-policy.yaml"),
        "--user",
        user.to_str().unwrap(),
        "--device",
        device.to_str().unwrap(),
        "--track",
        "AI_CONSUMER_EXTERNAL",
    ]);
    let compliant = report["managed"] == true && report["diskEncryption"] == true;
    assert_eq!(
        explain.status.code(),
        Some(if compliant { 0 } else { 1 }),
        "{}",
        text(&explain.stdout)
    );
    assert_eq!(
        out.status.code(),
        explain.status.code(),
        "posture and the gate agree on this device"
    );
}

#[test]
fn posture_on_an_empty_snapshot_is_unknown_never_ok() {
    let dir = tempfile::tempdir().unwrap();
    let out = certgate(&["posture", "--sysroot", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "unknown facts never pass");
    let table = text(&out.stdout);
    assert!(
        table.contains("diskEncryption") && table.contains("unknown"),
        "{table}"
    );
    let missing = certgate(&["posture", "--sysroot", "/nonexistent/snapshot"]);
    assert_eq!(missing.status.code(), Some(2));
}

fn certgate_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn redact_pseudonymizes_pii_and_blocks_secrets_without_printing_values() {
    let text = certgate_stdin(&["redact"], "Mail jane.doe@example.com today\n");
    assert_eq!(text.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&text.stdout),
        "Mail [EMAIL_1] today\n"
    );

    // Built at run time so no scanner mistakes this file for a leak.
    let key = format!("AKIA{}", "Q3EGRTWXZ4PLMN7B");
    let input = format!(
        "{}\n{}\n",
        serde_json::json!({"text": format!("aws_access_key_id = {key}")}),
        serde_json::json!({"text": "reach me at jane.doe@example.com"})
    );
    let out = certgate_stdin(&["redact", "--jsonl"], &input);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        !stdout.contains(&key) && !stdout.contains("jane.doe"),
        "no value is echoed: {stdout}"
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "one result per input line, in order");
    assert_eq!(lines[0]["blocked"], true);
    assert_eq!(lines[0]["findings"][0]["type"], "SECRET");
    assert_eq!(
        lines[0]["findings"][0]["start"], 20,
        "UTF-8 byte offsets into the input"
    );
    assert_eq!(lines[1]["blocked"], false);
    assert_eq!(lines[1]["findings"][0]["type"], "EMAIL");

    let invalid = certgate_stdin(&["redact", "--jsonl"], "not json\n");
    assert_eq!(
        invalid.status.code(),
        Some(2),
        "bad input is an error, not skipped"
    );
}
