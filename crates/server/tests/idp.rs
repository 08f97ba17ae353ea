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

// ---------------------------------------------------------------------------------------------
// Okta: a loopback fake that follows Okta's documented Groups API
// (https://developer.okta.com/docs/reference/api/groups/): `GET /api/v1/groups?q=`,
// `GET /api/v1/users/{id or login}`, `PUT` / `DELETE /api/v1/groups/{groupId}/users/{userId}`
// answering 204, `Authorization: SSWS <token>` (401 `E0000011` otherwise), and rate limits as
// 429 `E0000047` with `X-Rate-Limit-Limit`, `-Remaining` and `-Reset` (epoch seconds).

const OKTA_TOKEN: &str = "00okta-ssws-secret-token-never-logged";
const OKTA_USER: &str = "alice@vendor.example";
const OKTA_UID: &str = "00u1alice";
const OKTA_GID: &str = "00g1consumer";

#[derive(Clone, Default)]
struct FakeOkta {
    members: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// (method, path, when) of every membership call that passed authentication.
    calls: Arc<Mutex<Vec<(String, String, Instant)>>>,
    unauthorised: Arc<AtomicU32>,
    /// How many membership calls answer 429 before the fake accepts them.
    rate_limited: Arc<AtomicU32>,
}

impl FakeOkta {
    /// The 401 Okta answers a missing or wrong token with, or `None` when authorised.
    fn refusal(&self, h: &HeaderMap) -> Option<axum::response::Response> {
        let ok = h
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("SSWS {OKTA_TOKEN}"));
        if ok {
            return None;
        }
        self.unauthorised.fetch_add(1, Ordering::SeqCst);
        Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(
                    json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided",
                        "errorLink": "E0000011", "errorId": "oae1", "errorCauses": []}),
                ),
            )
                .into_response(),
        )
    }

    fn membership(
        &self,
        method: &str,
        h: &HeaderMap,
        gid: &str,
        uid: &str,
    ) -> axum::response::Response {
        if let Some(r) = self.refusal(h) {
            return r;
        }
        self.calls.lock().unwrap().push((
            method.into(),
            format!("/api/v1/groups/{gid}/users/{uid}"),
            Instant::now(),
        ));
        if self
            .rate_limited
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            let reset = Utc::now().timestamp() + 2;
            let mut headers = HeaderMap::new();
            headers.insert("x-rate-limit-limit", "600".parse().unwrap());
            headers.insert("x-rate-limit-remaining", "0".parse().unwrap());
            headers.insert("x-rate-limit-reset", reset.to_string().parse().unwrap());
            return (
                StatusCode::TOO_MANY_REQUESTS,
                headers,
                Json(json!({"errorCode": "E0000047",
                            "errorSummary": "API call exceeded rate limit due to too many requests."})),
            )
                .into_response();
        }
        if gid != OKTA_GID || uid != OKTA_UID {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"errorCode": "E0000007", "errorSummary": "Not found: Resource not found"})),
            )
                .into_response();
        }
        let mut m = self.members.lock().unwrap();
        if method == "PUT" {
            m.insert(uid.to_owned());
        } else {
            m.remove(uid);
        }
        StatusCode::NO_CONTENT.into_response()
    }
}

async fn start_okta(fake: FakeOkta) -> String {
    use axum::extract::{Path, Query};
    use std::collections::HashMap;
    let app = axum::Router::new()
        .route(
            "/api/v1/groups",
            get(
                |State(f): State<FakeOkta>, h: HeaderMap, Query(q): Query<HashMap<String, String>>| async move {
                    if let Some(r) = f.refusal(&h) {
                        return r;
                    }
                    let all = [json!({"id": OKTA_GID, "type": "OKTA_GROUP",
                                      "profile": {"name": GROUP, "description": "certified"}}),
                               json!({"id": "00g2other", "type": "OKTA_GROUP",
                                      "profile": {"name": format!("{GROUP}-ADMINS")}})];
                    // `q` searches by name prefix, as Okta does.
                    let prefix = q.get("q").cloned().unwrap_or_default();
                    let found: Vec<Value> = all
                        .into_iter()
                        .filter(|g| g["profile"]["name"].as_str().unwrap().starts_with(&prefix))
                        .collect();
                    Json(Value::Array(found)).into_response()
                },
            ),
        )
        .route(
            "/api/v1/users/{id}",
            get(|State(f): State<FakeOkta>, h: HeaderMap, Path(id): Path<String>| async move {
                if let Some(r) = f.refusal(&h) {
                    return r;
                }
                if id == OKTA_USER || id == OKTA_UID {
                    Json(json!({"id": OKTA_UID, "status": "ACTIVE",
                                "profile": {"login": OKTA_USER, "email": OKTA_USER}}))
                        .into_response()
                } else {
                    (StatusCode::NOT_FOUND,
                     Json(json!({"errorCode": "E0000007", "errorSummary": "Not found: Resource not found"})))
                        .into_response()
                }
            }),
        )
        .route(
            "/api/v1/groups/{gid}/users/{uid}",
            axum::routing::put(
                |State(f): State<FakeOkta>, h: HeaderMap, Path((g, u)): Path<(String, String)>| async move {
                    f.membership("PUT", &h, &g, &u)
                },
            )
            .delete(
                |State(f): State<FakeOkta>, h: HeaderMap, Path((g, u)): Path<(String, String)>| async move {
                    f.membership("DELETE", &h, &g, &u)
                },
            ),
        )
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Everything logged while the guard lives, at every level.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let me = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || me.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn audit_rows(state: &AppState, kind: &str) -> Vec<Value> {
    let db = state.db();
    let mut stmt = db
        .conn()
        .prepare("SELECT detail FROM server_audit WHERE kind = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map([kind], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

/// Every stored text (audit trail and change queue) of the server database, to search for
/// leaked secrets.
fn stored_text(state: &AppState) -> String {
    let db = state.db();
    let mut out = String::new();
    for sql in [
        "SELECT kind || ' ' || detail FROM server_audit",
        "SELECT coalesce(last_error, '') FROM server_idp_changes",
    ] {
        let mut stmt = db.conn().prepare(sql).unwrap();
        for row in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
            out.push_str(&row.unwrap());
            out.push('\n');
        }
    }
    out
}

// Current-thread runtime: the fake Okta, the write-back and the log capture share one thread,
// so the thread-local subscriber sees every line the write-back logs.
#[tokio::test]
async fn okta_membership_follows_certification_with_rate_limits() {
    let fake = FakeOkta::default();
    let base = start_okta(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = IdpConfig {
        kind: IdpApi::Okta,
        base_url: base.clone(),
        token: certgate_credentials::Sensitive::new(OKTA_TOKEN.into()),
        max_attempts: 4,
    };
    assert!(
        !format!("{config:?}").contains(OKTA_TOKEN),
        "the IdP config's Debug hides the SSWS token"
    );
    let st = state(config, &dir);
    let logs = LogBuffer::default();
    let _guard = logs.capture();

    // Pass → PUT, rate limited once with X-Rate-Limit-Reset two seconds ahead, then accepted.
    fake.rate_limited.store(1, Ordering::SeqCst);
    pass(&st, OKTA_USER);
    assert_eq!(idp::process_pending(&st).await.unwrap(), 1);
    assert!(
        fake.members.lock().unwrap().contains(OKTA_UID),
        "a pass adds the user to the track's Okta group"
    );
    {
        let calls = fake.calls.lock().unwrap();
        let puts: Vec<_> = calls.iter().filter(|c| c.0 == "PUT").collect();
        assert_eq!(puts.len(), 2, "one 429, then the retry: {calls:?}");
        assert_eq!(
            puts[0].1,
            format!("/api/v1/groups/{OKTA_GID}/users/{OKTA_UID}"),
            "Okta's membership path with the ids the lookups returned"
        );
        let waited = puts[1].2 - puts[0].2;
        assert!(
            waited >= Duration::from_millis(900),
            "the retry waits for X-Rate-Limit-Reset (at least ~1 s here), waited {waited:?}"
        );
    }
    assert_eq!(changes(&st), vec![("add".into(), "done".into(), 2)]);
    let done = audit_rows(&st, "idp_change");
    assert_eq!(done.len(), 1, "the change is in the audit trail");
    assert_eq!(done[0]["group"], GROUP);
    assert_eq!(done[0]["action"], "add");
    assert_eq!(done[0]["attempts"], 2);
    assert_eq!(done[0]["track"], TRACK);

    // Revocation → DELETE; the membership is gone.
    certify::end_certification(&st, OKTA_USER, TRACK, certify::EndReason::Revoked, "test").unwrap();
    assert_eq!(idp::process_pending(&st).await.unwrap(), 1);
    assert!(
        fake.members.lock().unwrap().is_empty(),
        "revocation removes the Okta group membership"
    );
    assert_eq!(
        fake.calls.lock().unwrap().last().map(|c| c.0.clone()),
        Some("DELETE".into())
    );
    assert_eq!(changes(&st)[1], ("remove".into(), "done".into(), 1));
    assert_eq!(audit_rows(&st, "idp_change")[1]["action"], "remove");
    assert_eq!(fake.unauthorised.load(Ordering::SeqCst), 0);

    let logged = logs.text();
    assert!(
        logged.contains("IdP write-back retrying"),
        "the log capture works (the 429 retry was logged): {logged}"
    );
    assert!(
        !logged.contains(OKTA_TOKEN) && !logged.contains("SSWS"),
        "the Authorization header is never logged"
    );
    assert!(
        !stored_text(&st).contains(OKTA_TOKEN),
        "nor stored in the audit trail or the change queue"
    );
}

#[tokio::test]
async fn okta_refuses_a_wrong_token_and_the_failure_is_recorded_without_it() {
    let fake = FakeOkta::default();
    let base = start_okta(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = "00wrong-ssws-token-must-not-leak";
    let st = state(
        IdpConfig {
            kind: IdpApi::Okta,
            base_url: base,
            token: certgate_credentials::Sensitive::new(wrong.into()),
            max_attempts: 4,
        },
        &dir,
    );
    let logs = LogBuffer::default();
    let _guard = logs.capture();
    pass(&st, OKTA_USER);
    assert_eq!(idp::process_pending(&st).await.unwrap(), 0);
    assert!(fake.members.lock().unwrap().is_empty());
    assert!(
        fake.unauthorised.load(Ordering::SeqCst) >= 1,
        "the fake saw the bad token"
    );
    let c = changes(&st);
    assert_eq!(
        c,
        vec![("add".into(), "failed".into(), 1)],
        "a 401 is permanent: recorded as failed, not retried"
    );
    let failed = audit_rows(&st, "idp_change_failed");
    assert_eq!(failed.len(), 1);
    let error = failed[0]["error"].as_str().unwrap();
    assert!(error.contains("401"), "the failure says why: {error}");
    assert!(
        !stored_text(&st).contains(wrong),
        "the token is never stored"
    );
    assert!(!logs.text().contains(wrong), "nor logged");
}
