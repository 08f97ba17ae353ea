//! IdP write-back against a real SCIM server (`scim2-server` from PyPI, started here on a free
//! loopback port) and against a local mock that answers 429 first.
//!
//! Without python3 + scim2-server the SCIM test is skipped with a notice, unless
//! `CERTGATE_REQUIRE_SCIM=1`, where it fails. CI: `pip install scim2-server==0.8.3`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, patch};
use certgate_credentials::jws;
use certgate_server::config::{IdpApi, IdpConfig};
use certgate_server::regrade::ATTEMPT_EXTENSION;
use certgate_server::state::{IssuerKeys, demo_policy};
use certgate_server::{AppState, certify, idp};
use certgate_store::Database;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

const TRACK: &str = "AI_CONSUMER_EXTERNAL";
const GROUP: &str = "NW-AI-EXT-CONSUMER";
const SCIM_TOKEN: &str = "scim-test-token";

fn state(idp: IdpConfig, dir: &tempfile::TempDir) -> Arc<AppState> {
    let db = Database::open(&dir.path().join("s.db")).unwrap();
    let (policy, regrader) = demo_policy().unwrap();
    let now: DateTime<Utc> = "2026-06-01T09:00:00Z".parse().unwrap();
    Arc::new(
        AppState::new(
            db,
            IssuerKeys {
                name: "https://certgate.test".into(),
                signing: certgate_credentials::Sensitive::new(SigningKey::from_bytes(&[42; 32])),
            },
            policy,
            "admin-token-0123456789abcdef0123456789",
            Box::new(regrader),
            Arc::new(move || now),
        )
        .unwrap()
        .with_idp(Some(idp)),
    )
}

/// Enrols `user` directly in the database and posts a passing attempt.
fn pass(state: &AppState, user: &str) {
    let key = SigningKey::from_bytes(&[9; 32]);
    {
        let db = state.db();
        db.conn()
            .execute(
                "INSERT INTO server_users (id, user_type, vendor_org, region, created_at) VALUES (?1, 'contractor', 'V', 'EU', 'x')",
                [user],
            )
            .unwrap();
        db.conn()
            .execute(
                "INSERT INTO server_devices (id, user_id, public_key, jkt, secret_hash, enrolled_at) VALUES ('d1', ?1, ?2, 'j', 'h', 'x')",
                [user, &jws::encode_public_key(&key.verifying_key())],
            )
            .unwrap();
    }
    let device = certgate_server::auth::DeviceAuth {
        device_id: "d1".into(),
        user_id: user.into(),
        public_key: key.verifying_key(),
    };
    let policy = certgate_policy::demo::load().unwrap();
    let bundle = certgate_training::demo::bundle(&policy).unwrap();
    let t = bundle.track(TRACK).unwrap();
    let plan = certgate_training::plan_attempt(&t.bank, t.draw_count, 3);
    let responses = certgate_training::quiz::correct_responses(&t.bank, &plan);
    let st = json!({"id": "s-1", "result": {"success": true, "extensions": {ATTEMPT_EXTENSION: {
        "track": TRACK, "attemptId": "a", "seed": 3, "responses": responses}}}});
    let a = certify::intake(state, &device, st.to_string().as_bytes()).unwrap();
    assert!(a.grading.unwrap().passed);
}

fn changes(state: &AppState) -> Vec<(String, String, u32)> {
    let db = state.db();
    let mut stmt = db
        .conn()
        .prepare("SELECT action, state, attempts FROM server_idp_changes ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

struct ScimServer {
    child: Child,
    base: String,
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts scim2-server on a free port, or `None` (skip) when it is not installed.
fn start_scim() -> Option<ScimServer> {
    let required = std::env::var("CERTGATE_REQUIRE_SCIM").is_ok_and(|v| v == "1");
    let installed = Command::new("python3")
        .args(["-c", "import scim2_server.testserver.cli"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            !required,
            "CERTGATE_REQUIRE_SCIM=1 but python3 with scim2-server is missing: pip install scim2-server==0.8.3"
        );
        eprintln!(
            "NOTICE: SCIM write-back test skipped: python3 -m pip install scim2-server (set CERTGATE_REQUIRE_SCIM=1 to fail instead)"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args([
            "-c",
            "import sys; from scim2_server.testserver.cli import main; sys.exit(main())",
            "--hostname",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--bearer-token",
            SCIM_TOKEN,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = ScimServer {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    // This test process talks HTTP before any Certgate client would install the TLS provider.
    certgate_credentials::client::install_tls_provider();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = reqwest::blocking::Client::new()
            .get(format!("{}/ServiceProviderConfig", server.base))
            .bearer_auth(SCIM_TOKEN)
            .send()
            .is_ok_and(|r| r.status().is_success());
        if ok {
            return Some(server);
        }
        assert!(
            Instant::now() < deadline,
            "scim2-server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn scim(method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
    let mut rb = reqwest::blocking::Client::new()
        .request(method, url)
        .bearer_auth(SCIM_TOKEN);
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/scim+json")
            .body(b.to_string());
    }
    let r = rb.send().unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().unwrap_or(Value::Null)
}

fn members(base: &str, gid: &str) -> Vec<String> {
    let g = scim(reqwest::Method::GET, &format!("{base}/Groups/{gid}"), None);
    g["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|x| x["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn scim_membership_follows_certification() {
    let Some(server) = start_scim() else {
        return;
    };
    let base = server.base.clone();
    let user = scim(
        reqwest::Method::POST,
        &format!("{base}/Users"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice"}),
        ),
    );
    let uid = user["id"].as_str().unwrap().to_owned();
    let group = scim(
        reqwest::Method::POST,
        &format!("{base}/Groups"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": GROUP}),
        ),
    );
    let gid = group["id"].as_str().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let st = state(
        IdpConfig {
            kind: IdpApi::Scim,
            base_url: base.clone(),
            token: certgate_credentials::Sensitive::new(SCIM_TOKEN.into()),
            max_attempts: 3,
        },
        &dir,
    );
    let rt = tokio::runtime::Runtime::new().unwrap();

    pass(&st, "alice");
    assert_eq!(rt.block_on(idp::process_pending(&st)).unwrap(), 1);
    assert_eq!(
        members(&base, &gid),
        vec![uid.clone()],
        "a pass adds the user to the track's group"
    );

    certify::end_certification(&st, "alice", TRACK, certify::EndReason::Revoked, "test").unwrap();
    assert_eq!(rt.block_on(idp::process_pending(&st)).unwrap(), 1);
    assert!(
        members(&base, &gid).is_empty(),
        "revocation removes the membership"
    );
    let c = changes(&st);
    assert_eq!(c.len(), 2);
    assert!(
        c.iter().all(|(_, s, _)| s == "done"),
        "every change recorded as done: {c:?}"
    );
}

#[derive(Clone, Default)]
struct Mock {
    patches: Arc<AtomicU32>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_honoured_then_retried() {
    let mock = Mock::default();
    let app = axum::Router::new()
        .route(
            "/Groups",
            get(|| async { Json(json!({"Resources": [{"id": "g1"}]})) }),
        )
        .route(
            "/Users",
            get(|| async { Json(json!({"Resources": [{"id": "u1"}]})) }),
        )
        .route(
            "/Groups/g1",
            patch(
                |State(m): State<Mock>, Json(body): Json<Value>| async move {
                    let n = m.patches.fetch_add(1, Ordering::SeqCst);
                    m.bodies.lock().unwrap().push(body);
                    let mut h = HeaderMap::new();
                    match n {
                        0 => {
                            h.insert("retry-after", "0".parse().unwrap());
                            (StatusCode::TOO_MANY_REQUESTS, h).into_response()
                        }
                        1 => {
                            h.insert("x-rate-limit-reset", "0".parse().unwrap());
                            (StatusCode::TOO_MANY_REQUESTS, h).into_response()
                        }
                        _ => StatusCode::NO_CONTENT.into_response(),
                    }
                },
            ),
        )
        .with_state(mock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let st = state(
        IdpConfig {
            kind: IdpApi::Entra,
            base_url: format!("http://{addr}"),
            token: certgate_credentials::Sensitive::new("t".into()),
            max_attempts: 5,
        },
        &dir,
    );
    let st2 = st.clone();
    tokio::task::spawn_blocking(move || pass(&st2, "bob"))
        .await
        .unwrap();
    assert_eq!(idp::process_pending(&st).await.unwrap(), 1);
    assert_eq!(
        mock.patches.load(Ordering::SeqCst),
        3,
        "two 429s, then success"
    );
    assert_eq!(changes(&st), vec![("add".into(), "done".into(), 3)]);
    assert_eq!(
        mock.bodies.lock().unwrap()[0]["Operations"][0]["op"],
        "Add",
        "Entra dialect"
    );
}
