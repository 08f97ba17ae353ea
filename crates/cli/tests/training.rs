//! `certgate train|quiz|ack|certs|content` run as a user would, with a throw-away data folder.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use certgate_training::{QuestionKind, plan_attempt};

fn certgate(home: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_certgate"))
        .args(args)
        .env("CERTGATE_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the certgate binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const TRACK: &str = "AI_CONSUMER_EXTERNAL";

/// One line per question of the attempt drawn with `seed`: right or wrong answers.
fn answers(seed: u64, right: bool) -> String {
    let policy = certgate_policy::demo::load().unwrap();
    let bundle = certgate_training::demo::bundle(&policy).unwrap();
    let track = bundle.track(TRACK).unwrap();
    let plan = plan_attempt(&track.bank, track.draw_count, seed);
    plan.questions
        .iter()
        .map(|p| {
            let q = track.bank.question(&p.question_id).unwrap();
            let correct = p.correct_letters(q);
            let line = match (&q.kind, right) {
                (_, true) => correct,
                (QuestionKind::TrueFalse { answer }, false) => (!answer).to_string(),
                (_, false) => (0..p.option_order.len())
                    .map(certgate_training::quiz::letter)
                    .find(|l| !correct.contains(*l))
                    .unwrap()
                    .to_string(),
            };
            format!("{line}\n")
        })
        .collect()
}

#[test]
fn passing_the_demo_quiz_on_stdin_certifies() {
    let home = tempfile::tempdir().unwrap();
    let out = certgate(
        home.path(),
        &["quiz", "consumer", "--seed", "11"],
        &answers(11, true),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("Score: 10.00/10 = 100% (pass mark 85%). PASSED."),
        "{stdout}"
    );
    assert!(
        stdout.contains("Correct."),
        "feedback after each answer: {stdout}"
    );
    let certs = certgate(home.path(), &["certs"], "");
    let listing = text(&certs.stdout);
    assert!(
        listing.contains("AI_CONSUMER_EXTERNAL     passed (pending verification)"),
        "{listing}"
    );
    let json = certgate(home.path(), &["certs", "--json"], "");
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v[0]["track"], TRACK);
    assert_eq!(v[0]["certified"], true);
    assert_eq!(v[1]["certified"], false);
}

#[test]
fn failing_every_attempt_locks_the_track_and_says_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let first = certgate(
        home.path(),
        &["quiz", TRACK, "--seed", "1"],
        &answers(1, false),
    );
    let stdout = text(&first.stdout);
    assert_eq!(
        first.status.code(),
        Some(1),
        "{stdout}{}",
        text(&first.stderr)
    );
    assert!(stdout.contains("Not passed."), "{stdout}");
    assert!(stdout.contains("Not quite: the answer is"), "{stdout}");
    assert!(stdout.contains("1 attempt(s) left"), "{stdout}");
    let second = certgate(
        home.path(),
        &["quiz", TRACK, "--seed", "2"],
        &answers(2, false),
    );
    assert_eq!(second.status.code(), Some(1));
    assert!(
        text(&second.stdout).contains("request an exception"),
        "{}",
        text(&second.stdout)
    );
    let third = certgate(
        home.path(),
        &["quiz", TRACK, "--seed", "3"],
        &answers(3, true),
    );
    assert_eq!(
        third.status.code(),
        Some(1),
        "a locked track takes no attempt"
    );
    assert!(
        text(&third.stderr).contains("locked"),
        "{}",
        text(&third.stderr)
    );
    let certs = text(&certgate(home.path(), &["certs"], "").stdout);
    assert!(certs.contains("AI_CONSUMER_EXTERNAL     locked"), "{certs}");
}

#[test]
fn a_bad_scripted_answer_saves_nothing() {
    let home = tempfile::tempdir().unwrap();
    let out = certgate(home.path(), &["quiz", TRACK, "--seed", "1"], "zz\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("nothing was saved"));
    let certs = text(&certgate(home.path(), &["certs"], "").stdout);
    assert!(
        certs.contains("AI_CONSUMER_EXTERNAL     not started"),
        "{certs}"
    );
}

#[test]
fn reading_a_module_renders_it_and_records_progress() {
    let home = tempfile::tempdir().unwrap();
    let out = certgate(home.path(), &["train", "read", "GOV-101"], "");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("DATA HANDLING WITH AI COPILOTS\n=============================="),
        "{stdout}"
    );
    assert!(!stdout.contains("**"), "emphasis markers are dropped");
    let list = certgate(home.path(), &["train", "list", "--json"], "");
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v["tracks"][0]["id"], TRACK);
    assert_eq!(v["tracks"][0]["label"], "in progress");
    assert_eq!(v["tracks"][0]["modules"][0]["read"], true);
    assert_eq!(v["tracks"][0]["modules"][1]["read"], false);
    let missing = certgate(home.path(), &["train", "read", "GOV-"], "");
    assert_eq!(
        missing.status.code(),
        Some(2),
        "an ambiguous prefix is refused"
    );
}

#[test]
fn the_acknowledgement_is_signed_once_per_version() {
    let home = tempfile::tempdir().unwrap();
    let out = certgate(home.path(), &["ack"], "Dana Whitfield\n");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains("Signed version 1.0.0 as Dana Whitfield"),
        "{stdout}"
    );
    let again = text(&certgate(home.path(), &["ack"], "").stdout);
    assert!(again.contains("You signed version 1.0.0"), "{again}");
    let empty = certgate(tempfile::tempdir().unwrap().path(), &["ack"], "\n");
    assert_eq!(empty.status.code(), Some(2), "a name is required");
}

#[test]
fn authors_check_and_sign_a_course_folder() {
    let home = tempfile::tempdir().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-content");
    let out = certgate(
        home.path(),
        &["content", "check", demo.to_str().unwrap()],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("valid bundle demo-governance 1.0.0"));

    let copy = tempfile::tempdir().unwrap();
    for (path, bytes) in certgate_training::demo::files() {
        let target = copy.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
    let dir = copy.path().to_str().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = (keys.path().join("k.pem"), keys.path().join("p.pem"));
    let key = certgate_policy::SecretKey::generate().unwrap();
    std::fs::write(&secret, key.to_pem().unwrap()).unwrap();
    std::fs::write(&public, key.public_key().to_pem().unwrap()).unwrap();
    let signed = certgate(
        home.path(),
        &["content", "sign", dir, "--key", secret.to_str().unwrap()],
        "",
    );
    assert_eq!(signed.status.code(), Some(0), "{}", text(&signed.stderr));
    // The demo policy is signed by the demo key, so trust it in dev mode and pin only content.
    let list = certgate(
        home.path(),
        &[
            "train",
            "list",
            "--content",
            dir,
            "--pubkey",
            public.to_str().unwrap(),
            "--policy",
            demo.join("../demo-policy.yaml").to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(
        list.status.code(),
        Some(2),
        "the demo policy is not signed by the org key"
    );
    let policy = keys.path().join("policy.yaml");
    std::fs::copy(demo.join("../demo-policy.yaml"), &policy).unwrap();
    let policy = policy.to_str().unwrap();
    let sign_policy = certgate(
        home.path(),
        &["policy", "sign", policy, "--key", secret.to_str().unwrap()],
        "",
    );
    assert_eq!(
        sign_policy.status.code(),
        Some(0),
        "{}",
        text(&sign_policy.stderr)
    );
    let pinned = certgate(
        home.path(),
        &[
            "train",
            "list",
            "--content",
            dir,
            "--pubkey",
            public.to_str().unwrap(),
            "--policy",
            policy,
        ],
        "",
    );
    assert_eq!(pinned.status.code(), Some(0), "{}", text(&pinned.stderr));
    assert!(
        text(&pinned.stdout).contains("1.0.0 (signed)"),
        "{}",
        text(&pinned.stdout)
    );
    let tar = keys.path().join("course.tar");
    let packed = certgate(
        home.path(),
        &["content", "pack", dir, "--out", tar.to_str().unwrap()],
        "",
    );
    assert_eq!(packed.status.code(), Some(0), "{}", text(&packed.stderr));
    let from_tar = certgate(
        home.path(),
        &[
            "certs",
            "--content",
            tar.to_str().unwrap(),
            "--pubkey",
            public.to_str().unwrap(),
            "--policy",
            policy,
        ],
        "",
    );
    assert_eq!(
        from_tar.status.code(),
        Some(0),
        "{}",
        text(&from_tar.stderr)
    );
    let demo_signed = certgate(home.path(), &["train", "list", "--content", dir], "");
    assert_eq!(
        demo_signed.status.code(),
        Some(2),
        "content re-signed by another key is refused in demo mode"
    );
    assert!(
        text(&demo_signed.stderr).contains("MANIFEST.sig"),
        "{}",
        text(&demo_signed.stderr)
    );
    std::fs::write(copy.path().join("modules/SOP-support.md"), "tampered").unwrap();
    let tampered = certgate(
        home.path(),
        &["train", "list", "--content", dir, "--dev"],
        "",
    );
    assert_eq!(
        tampered.status.code(),
        Some(2),
        "dev mode still validates the content"
    );
}
