//! Proxy evidence reaches the org: requests through the proxy write audit rows, the sync
//! uploads them, the org server holds exactly those request ids, a second sync uploads
//! nothing, and a crash between the upload and the cursor moving never duplicates. Keyring
//! tests skip with a notice unless `CERTGATE_REQUIRE_KEYRING=1` (CI), where they must run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use certgate_agent::AuditOutbox;
use certgate_agent::demo::{self, DemoOrg};
use certgate_credentials::device::EvidenceOutbox;
use certgate_credentials::keystore::keystore_for_tests;
use certgate_credentials::{Device, Sensitive};
use certgate_proxy::AuditLog;
use certgate_store::Database;
use certgate_training::Records;
use common::{KEY, blocking, certified_feed, start_stack_with};
use serde_json::{Value, json};

/// Sends three requests through a proxy whose audit log is `audit_db`; returns their ids
/// (from `X-Certgate-Request-Id`) and statuses.
async fn proxy_requests(org: &DemoOrg, audit_db: &Path) -> Vec<(String, u16)> {
    let feed = certified_feed(org);
    let audit = AuditLog::open(Database::open(audit_db).unwrap(), 30).unwrap();
    let (stack, _mock) = start_stack_with(audit.clone(), feed).await;
    certgate_credentials::client::install_tls_provider();
    let mut out = Vec::new();
    for text in [
        "mail ada@example.com please",
        "hello",
        "deploy with AKIAZ3MSJV4WWNKWW5FQ please",
    ] {
        let resp = reqwest::Client::new()
            .post(format!("{}/v1/chat/completions", stack.url()))
            .bearer_auth(KEY)
            .json(&json!({"model": "gpt-4o-mini",
                          "messages": [{"role": "user", "content": text}]}))
            .send()
            .await
            .unwrap();
        let id = resp
            .headers()
            .get(certgate_proxy::server::REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap()
            .to_owned();
        out.push((id, resp.status().as_u16()));
    }
    audit.flush().await.unwrap();
    stack.stop().await;
    out
}

/// The org's evidence export, proxy records only: (requestId, record) per line.
fn org_proxy_records(url: &str, admin: &Sensitive<String>) -> Vec<(String, Value)> {
    let client = certgate_credentials::client::Client::new(url)
        .unwrap()
        .with_admin(admin);
    let text = client
        .send("export", &|| client.get("/v1/admin/export?format=jsonl"))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "proxy_request")
        .map(|v| (v["detail"]["requestId"].as_str().unwrap().to_owned(), v))
        .collect()
}

/// An outbox that "crashes" after the server took a batch, before the cursor moves.
struct CrashAfterPost(AuditOutbox);

impl EvidenceOutbox for CrashAfterPost {
    fn pending(&mut self, limit: usize) -> certgate_credentials::Result<Vec<Value>> {
        self.0.pending(limit)
    }
    fn delivered(&mut self, _: usize) -> certgate_credentials::Result<()> {
        Err(certgate_credentials::Error::EvidenceOutbox {
            reason: "killed before the cursor moved".into(),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_audit_records_reach_the_org_once_even_across_a_crash() {
    let service = format!(
        "certgate-agent-test-{}",
        certgate_agent::random_hex(6).unwrap()
    );
    let Some(keys) = keystore_for_tests(&service) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let device_db = dir.path().join("device.db");
    let audit_db = dir.path().join("audit.db");
    let org = DemoOrg::start(&dir.path().join("org")).await.unwrap();
    let (url, admin) = org.admin();
    {
        let (url, admin, keys, db) = (url.clone(), admin.clone(), keys.clone(), device_db.clone());
        blocking(move || demo::enrol(&url, &admin, &db, &keys))
            .await
            .unwrap();
    }

    let sent = proxy_requests(&org, &audit_db).await;
    let statuses: Vec<u16> = sent.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        statuses,
        [200, 200, 422],
        "allowed, allowed, secret blocked"
    );
    let ids: BTreeSet<String> = sent.into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 3);

    // Killed after the server took the batch, before the cursor moved.
    {
        let (keys, db, audit_db) = (keys.clone(), device_db.clone(), audit_db.clone());
        let err = blocking(move || {
            let mut store = Database::open(&db).unwrap();
            let device = Device::load(&mut store, &keys).unwrap();
            let mut outbox =
                CrashAfterPost(AuditOutbox::new(Database::open(&audit_db).unwrap()).unwrap());
            device.upload_evidence(&mut outbox)
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("killed"), "{err}");
    }
    let held = {
        let (url, admin) = (url.clone(), admin.clone());
        blocking(move || org_proxy_records(&url, &admin)).await
    };
    assert_eq!(held.len(), 3, "the crashed upload reached the server");

    // The restarted sync sends the same records again; the server keeps one of each.
    let sync = |keys: certgate_credentials::Keystore| {
        let (db, audit_db) = (device_db.clone(), audit_db.clone());
        blocking(move || {
            let records = Records::new(Database::open(&db)?)?;
            certgate_agent::org::sync(&db, &keys, records, &audit_db)
        })
    };
    let report = sync(keys.clone()).await.unwrap();
    assert_eq!(report.evidence_uploaded, 3, "{report:?}");
    let held = {
        let (url, admin) = (url.clone(), admin.clone());
        blocking(move || org_proxy_records(&url, &admin)).await
    };
    let held_ids: BTreeSet<String> = held.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(held.len(), 3, "no duplicates after the retry");
    assert_eq!(held_ids, ids, "exactly the proxied request ids");
    for (_, line) in &held {
        let text = line.to_string();
        assert!(
            !text.contains("ada@example.com") && !text.contains("AKIAZ3MSJV4WWNKWW5FQ"),
            "metadata only: {text}"
        );
        assert_eq!(line["userId"], demo::USER);
    }
    let blocked = held
        .iter()
        .find(|(_, l)| l["detail"]["decision"] == "blocked")
        .expect("the blocked request is evidence too");
    assert_eq!(blocked.1["detail"]["status"], 422);

    let again = sync(keys.clone()).await.unwrap();
    assert_eq!(again.evidence_uploaded, 0, "nothing new to upload");
    keys.forget_device(&[demo::TRACK.to_owned()]).unwrap();
}
