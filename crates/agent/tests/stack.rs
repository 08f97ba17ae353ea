//! The device side end to end on loopback: the demo org server, a device enrolled with it
//! (device key in the OS keyring), a quiz passed and synced, and the proxy whose gate is fed
//! from that device, called over real HTTP. Keyring tests skip with a notice unless
//! `CERTGATE_REQUIRE_KEYRING=1` (CI), where they must run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use certgate_agent::demo::{self, DemoOrg};
use certgate_agent::{Certifications, DeviceFeed, Facts, LocalStack};
use certgate_credentials::keystore::keystore_for_tests;
use certgate_proxy::AuditLog;
use certgate_proxy::mock::MockHandle;
use certgate_store::Database;
use certgate_training::Records;
use common::{KEY, blocking, certified_feed, start_stack_with};
use serde_json::{Value, json};

async fn start_stack(dir: &Path, feed: DeviceFeed) -> (LocalStack, MockHandle) {
    let audit = AuditLog::open(Database::open(&dir.join("audit.db")).unwrap(), 30).unwrap();
    start_stack_with(audit, feed).await
}

async fn chat(stack: &LocalStack, text: &str) -> (u16, Value) {
    certgate_credentials::client::install_tls_provider();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", stack.url()))
        .bearer_auth(KEY)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_gets_access_once_its_synced_quiz_is_regraded_by_the_org() {
    let service = format!(
        "certgate-agent-test-{}",
        certgate_agent::random_hex(6).unwrap()
    );
    let Some(keys) = keystore_for_tests(&service) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let device_db = dir.path().join("device.db");
    let org = DemoOrg::start(&dir.path().join("org")).await.unwrap();
    let (url, admin) = org.admin();
    {
        let (keys, db) = (keys.clone(), device_db.clone());
        let enrolment = blocking(move || demo::enrol(&url, &admin, &db, &keys))
            .await
            .unwrap();
        // The org's record of who enrolled travels to the device: the gate checks it.
        assert_eq!(enrolment.user_context(), demo::user());
        assert_eq!(
            certgate_agent::feed::enrolled_user(&device_db).unwrap(),
            Some(demo::user())
        );
    }
    let feed = DeviceFeed {
        user: demo::user(),
        certifications: Certifications::Device {
            db: device_db.clone(),
            keys: keys.clone(),
        },
        facts: Facts::Simulated,
    };
    let (stack, mock) = start_stack(dir.path(), feed).await;

    // Enrolled but not certified: the gate refuses and nothing reaches the model.
    let outcome = stack.check(demo::LABEL);
    assert!(!outcome.allowed);
    assert!(
        outcome
            .reasons
            .iter()
            .any(|r| r.message.contains(demo::TRACK)),
        "{outcome:?}"
    );
    let (status, body) = chat(&stack, "hello").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(mock.state.requests().len(), 0);

    // The quiz is passed on the device, synced, re-graded by the server, answered with a
    // device-bound token; the stack picks it up on refresh.
    {
        let (keys, db) = (keys.clone(), device_db.clone());
        let report = blocking(move || {
            let mut records = Records::new(Database::open(&db)?)?;
            demo::pass_quiz(&mut records)?;
            demo::sync(&db, &keys, records)
        })
        .await
        .unwrap();
        assert_eq!(report.tokens_stored, 1, "{report:?}");
    }
    stack.refresh().await.unwrap();
    assert!(
        stack
            .gate()
            .borrow()
            .user
            .certifications
            .contains_key(demo::TRACK)
    );
    assert!(stack.check(demo::LABEL).allowed);
    let (status, body) = chat(&stack, "mail ada@example.com please").await;
    assert_eq!(status, 200, "{body}");
    let sent = serde_json::to_string(&mock.state.requests()).unwrap();
    assert!(
        !sent.contains("ada@example.com"),
        "the email left the device"
    );
    let answer = body.to_string();
    assert!(
        answer.contains("ada@example.com"),
        "restored for the client: {answer}"
    );

    stack.stop().await;
    let tracks = vec![demo::TRACK.to_owned()];
    keys.forget_device(&tracks).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_token_minted_in_memory_admits_and_a_missing_one_denies() {
    let dir = tempfile::tempdir().unwrap();
    let org = DemoOrg::start(&dir.path().join("org")).await.unwrap();
    let feed = certified_feed(&org);
    let (stack, _mock) = start_stack(dir.path(), feed).await;
    let (status, body) = chat(&stack, "hello").await;
    assert_eq!(status, 200, "{body}");
    stack.stop().await;

    let feed = DeviceFeed {
        user: demo::user(),
        certifications: Certifications::None,
        facts: Facts::Simulated,
    };
    let (stack, mock) = start_stack(dir.path(), feed).await;
    let (status, _) = chat(&stack, "hello").await;
    assert_eq!(status, 403);
    assert_eq!(mock.state.requests().len(), 0);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_switched_off_refuses_with_the_reason_until_switched_on_again() {
    let dir = tempfile::tempdir().unwrap();
    let org = DemoOrg::start(&dir.path().join("org")).await.unwrap();
    let feed = certified_feed(&org);
    let (stack, mock) = start_stack(dir.path(), feed).await;
    stack.switch_off(true);
    // A refresh rebuilds the view from the device; the user's switch stays.
    stack.refresh().await.unwrap();
    assert!(stack.switched_off());
    let (status, body) = chat(&stack, "hello").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.to_string().contains("turned off on this device"),
        "{body}"
    );
    assert!(!stack.check(demo::LABEL).allowed);
    assert_eq!(mock.state.requests().len(), 0, "nothing left the device");

    stack.switch_off(false);
    let (status, body) = chat(&stack, "hello").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(mock.state.requests().len(), 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_issuer_key_is_private_and_reused_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let org_dir = dir.path().join("org");
    let first = DemoOrg::start(&org_dir).await.unwrap();
    let key_file = std::fs::read(org_dir.join("demo-issuer.pem")).unwrap();
    drop(first);
    let _second = DemoOrg::start(&org_dir).await.unwrap();
    assert_eq!(
        std::fs::read(org_dir.join("demo-issuer.pem")).unwrap(),
        key_file
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(org_dir.join("demo-issuer.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the issuer key is readable by others");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_approved_by_both_roles_admits_an_uncertified_device() {
    let service = format!(
        "certgate-agent-test-{}",
        certgate_agent::random_hex(6).unwrap()
    );
    let Some(keys) = keystore_for_tests(&service) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let device_db = dir.path().join("device.db");
    let org = DemoOrg::start(&dir.path().join("org")).await.unwrap();
    let (url, admin) = org.admin();
    {
        let (keys, db) = (keys.clone(), device_db.clone());
        blocking(move || {
            demo::enrol(&url, &admin, &db, &keys)?;
            let request = certgate_credentials::wire::ExceptionRequest {
                track: demo::TRACK.to_owned(),
                tool: Some(demo::LABEL.to_owned()),
                duration_days: 2,
                justification: [
                    ("vendorName", "Demo Vendor"),
                    ("ticketOrProjectId", "OPS-7"),
                    ("dataSensitivity", "internal"),
                    ("compensatingControls", "supervised"),
                ]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            };
            let filed = certgate_agent::exceptions::request(&db, &keys, &request)?;
            assert_eq!(filed.state, "pending");
            assert_eq!(filed.missing_roles, ["FunctionalOwner", "Security"]);
            let approved = demo::approve_exception(&url, &admin, &filed.id)?;
            assert_eq!(approved.state, "approved");
            let seen = certgate_agent::exceptions::status(&db, &keys, &filed.id)?;
            assert!(seen.missing_roles.is_empty(), "{seen:?}");
            let records = Records::new(Database::open(&dir_records(&db))?)?;
            demo::sync(&db, &keys, records)
        })
        .await
        .unwrap();
    }
    let feed = DeviceFeed {
        user: demo::user(),
        certifications: Certifications::Device {
            db: device_db.clone(),
            keys: keys.clone(),
        },
        facts: Facts::Simulated,
    };
    let (stack, _mock) = start_stack(dir.path(), feed).await;
    assert_eq!(stack.gate().borrow().exceptions.len(), 1);
    let outcome = stack.check(demo::LABEL);
    assert!(outcome.allowed && outcome.via_exception, "{outcome:?}");
    let (status, body) = chat(&stack, "hello").await;
    assert_eq!(status, 200, "{body}");
    // Another tool surface is not covered by the grant.
    assert!(!stack.check("support-copilot").allowed);
    stack.stop().await;
    keys.forget_device(&[demo::TRACK.to_owned()]).unwrap();
}

/// Training records of the test device, beside its enrolment.
fn dir_records(device_db: &Path) -> std::path::PathBuf {
    device_db.with_file_name("records.db")
}

/// A managed configuration is enforced before the one-time code is sent: another server or an
/// org key other than the pinned one is refused with the reason, and the code stays usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_enrolment_refuses_another_server_or_key_before_using_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let org = DemoOrg::start(&dir.path().join("org")).await.unwrap();
    let (url, admin) = org.admin();
    let managed = |toml: &str| {
        let path = dir.path().join("managed.toml");
        std::fs::write(&path, toml).unwrap();
        certgate_managed::read_file(&path)
    };
    let other_server = managed("serverUrl = \"https://certgate.example.org\"\n");
    let wrong_pin = managed(&format!("orgKey = \"sha256:{}\"\n", "0".repeat(64)));
    let device_db = dir.path().join("device.db");
    let keys = certgate_credentials::Keystore::new("certgate-agent-test-managed").unwrap();
    let (db, u) = (device_db.clone(), url.clone());
    let refusals = blocking(move || {
        let code = demo::enrolment_code(&u, &admin).unwrap();
        let a = certgate_agent::enrol::enrol(&other_server, &db, &keys, &u, &code)
            .unwrap_err()
            .to_string();
        let b = certgate_agent::enrol::enrol(&wrong_pin, &db, &keys, &u, &code)
            .unwrap_err()
            .to_string();
        (a, b, code)
    })
    .await;
    assert!(
        refusals.0.contains("certgate.example.org"),
        "{}",
        refusals.0
    );
    assert!(
        refusals.1.contains("pinned") || refusals.1.contains("key"),
        "{}",
        refusals.1
    );
    assert_eq!(
        certgate_agent::feed::enrolled_user(&device_db).unwrap(),
        None,
        "nothing was enrolled"
    );
    // The code was not consumed: without management the same code still enrols.
    let service = format!(
        "certgate-agent-test-{}",
        certgate_agent::random_hex(6).unwrap()
    );
    let Some(keys) = keystore_for_tests(&service) else {
        return;
    };
    let (db, code, k) = (device_db.clone(), refusals.2, keys.clone());
    let absent = certgate_managed::Managed::Absent {
        looked_at: "/etc/certgate/managed.toml".into(),
    };
    let enrolment = blocking(move || certgate_agent::enrol::enrol(&absent, &db, &k, &url, &code))
        .await
        .unwrap();
    assert_eq!(enrolment.user_context(), demo::user());
    keys.forget_device(&[demo::TRACK.to_owned()]).unwrap();
}

/// The app's chat is a client like any other: streamed answers with the e-mail restored, the
/// proxy's refusal as a refusal, and a low-confidence answer approved by a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_streams_through_the_proxy_and_records_approvals() {
    use certgate_agent::chat::{self, Turn};
    let dir = tempfile::tempdir().unwrap();
    let org = DemoOrg::start(&dir.path().join("org")).await.unwrap();
    let feed = certified_feed(&org);
    let (stack, mock) = start_stack(dir.path(), feed).await;
    let turns = [Turn {
        role: "user".into(),
        content: "Write to ada@example.com about the invoice".into(),
    }];
    let mut streamed = Vec::new();
    let reply = chat::send(&stack.url(), KEY, "gpt-4o-mini", &turns, |t| {
        streamed.push(t.to_owned())
    })
    .await
    .unwrap();
    assert!(reply.refused.is_none(), "{reply:?}");
    assert!(
        streamed.len() > 1,
        "the answer arrives in pieces: {streamed:?}"
    );
    assert_eq!(streamed.concat(), reply.text);
    assert!(
        reply.text.contains("ada@example.com"),
        "restored: {}",
        reply.text
    );
    let sent = serde_json::to_string(&mock.state.requests()).unwrap();
    assert!(
        !sent.contains("ada@example.com"),
        "the e-mail left the device"
    );
    assert!(reply.request_id.is_some());
    assert!(!reply.approval_required);

    // Low confidence from the model: a person decides, and the decision is recorded once.
    mock.state.set_options(certgate_proxy::mock::MockOptions {
        confidence: Some(0.5),
        ..Default::default()
    });
    let reply = chat::send(&stack.url(), KEY, "gpt-4o-mini", &turns, |_| {})
        .await
        .unwrap();
    assert!(reply.approval_required, "{reply:?}");
    let id = reply.request_id.unwrap();
    chat::decide(&stack.url(), KEY, &id, "approved")
        .await
        .unwrap();
    assert!(
        chat::decide(&stack.url(), KEY, &id, "rejected")
            .await
            .is_err(),
        "a decision is final"
    );

    // A secret: the proxy refuses, and the chat says so instead of failing.
    let secret = [Turn {
        role: "user".into(),
        content: "deploy with AKIAZ3MSJV4WWNKWW5FQ".into(),
    }];
    let reply = chat::send(&stack.url(), KEY, "gpt-4o-mini", &secret, |_| {})
        .await
        .unwrap();
    let (status, message) = reply.refused.unwrap();
    assert_eq!(status, 422);
    assert!(message.contains("nothing was sent"), "{message}");
    stack.stop().await;
}
