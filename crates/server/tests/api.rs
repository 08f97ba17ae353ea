//! The HTTP API through `tower::ServiceExt::oneshot`, plus one real loopback server on port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use certgate_credentials::jws::{self, TokenType};
use certgate_credentials::{Issuer, RevocationList};
use certgate_server::exceptions::ExceptionClaims;
use certgate_server::regrade::ATTEMPT_EXTENSION;
use certgate_server::state::{IssuerKeys, demo_policy};
use certgate_server::{AppState, router};
use certgate_store::Database;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN: &str = "admin-token-0123456789abcdef0123456789";
const TRACK: &str = "AI_CONSUMER_EXTERNAL";

struct Harness {
    state: Arc<AppState>,
    now: Arc<Mutex<DateTime<Utc>>>,
    _dir: tempfile::TempDir,
}

fn harness() -> Harness {
    harness_with(|state| state)
}

/// A harness whose state `extend` finishes (a bundle, an update folder…).
fn harness_with(extend: impl FnOnce(AppState) -> AppState) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&dir.path().join("server.db")).unwrap();
    let (policy, regrader) = demo_policy().unwrap();
    let now = Arc::new(Mutex::new(
        DateTime::parse_from_rfc3339("2026-06-01T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
    ));
    let clock_now = now.clone();
    let state = AppState::new(
        db,
        IssuerKeys {
            name: "https://certgate.test".into(),
            signing: certgate_credentials::Sensitive::new(SigningKey::from_bytes(&[42; 32])),
        },
        policy,
        ADMIN,
        Box::new(regrader),
        Arc::new(move || *clock_now.lock().unwrap()),
    )
    .unwrap();
    Harness {
        state: Arc::new(extend(state)),
        now,
        _dir: dir,
    }
}

impl Harness {
    async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, bytes) = self.raw(method, path, auth, body, None).await;
        (
            status,
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into())),
        )
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
        if_none_match: Option<&str>,
    ) -> (StatusCode, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        if let Some(e) = if_none_match {
            req = req.header(header::IF_NONE_MATCH, e);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let resp = router(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, bytes)
    }

    fn advance(&self, d: Duration) {
        *self.now.lock().unwrap() += d;
    }

    fn issuer(&self) -> Issuer {
        self.state.issuer.issuer()
    }

    /// Creates a code and enrols a fresh device; returns (auth header, device key).
    async fn enrol(&self, user: &str, seed: u8) -> (String, SigningKey) {
        let admin = format!("Bearer {ADMIN}");
        let (s, code) = self
            .call(
                "POST",
                "/v1/admin/enrolment-codes",
                Some(&admin),
                Some(json!({"userId": user, "userType": "contractor", "vendorOrg": "Acme BPO", "region": "EU"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{code}");
        let key = SigningKey::from_bytes(&[seed; 32]);
        let (s, e) = self
            .call(
                "POST",
                "/v1/enroll",
                None,
                Some(json!({"code": code["code"], "publicKey": jws::encode_public_key(&key.verifying_key())})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{e}");
        let auth = format!(
            "Device {}.{}",
            e["deviceId"].as_str().unwrap(),
            e["deviceSecret"].as_str().unwrap()
        );
        (auth, key)
    }
}

/// A statement for an attempt at `seed`, all answers right (`correct`) or all but the first
/// dropped, claiming `claimed_success`.
fn statement(id: &str, seed: u64, correct: bool, claimed_success: bool) -> Value {
    statement_for(
        TRACK,
        &format!("att-{id}"),
        id,
        seed,
        correct,
        claimed_success,
    )
}

fn statement_for(
    track: &str,
    attempt_id: &str,
    id: &str,
    seed: u64,
    correct: bool,
    claimed_success: bool,
) -> Value {
    let policy = certgate_policy::demo::load().unwrap();
    let bundle = certgate_training::demo::bundle(&policy).unwrap();
    let t = bundle.track(track).unwrap();
    let plan = certgate_training::plan_attempt(&t.bank, t.draw_count, seed);
    let mut responses = certgate_training::quiz::correct_responses(&t.bank, &plan);
    if !correct {
        responses.truncate(1);
    }
    json!({
        "id": id,
        "actor": {"account": {"homePage": "https://certgate.test", "name": "ignored"}},
        "verb": {"id": if claimed_success { "http://adlnet.gov/expapi/verbs/passed" } else { "http://adlnet.gov/expapi/verbs/failed" }},
        "object": {"id": format!("urn:certgate:track:{track}")},
        "result": {
            "score": {"scaled": if claimed_success { 1.0 } else { 0.1 }, "raw": 12, "min": 0, "max": 12},
            "success": claimed_success,
            "completion": true,
            "extensions": {ATTEMPT_EXTENSION: {
                "track": track, "attemptId": attempt_id, "seed": seed, "responses": responses
            }}
        },
        "timestamp": "2026-06-01T08:59:00Z"
    })
}

#[tokio::test]
async fn admin_endpoints_are_closed_without_the_token() {
    let h = harness();
    let (s, _) = h.call("GET", "/v1/admin/users", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = h
        .call("GET", "/v1/admin/users", Some("Bearer wrong"), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = h
        .call(
            "POST",
            "/v1/statements",
            Some("Device x.y"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "unknown devices are refused");
}

#[tokio::test]
async fn enrolment_code_is_single_use_and_expires() {
    let h = harness();
    let admin = format!("Bearer {ADMIN}");
    let (_, code) = h
        .call("POST", "/v1/admin/enrolment-codes", Some(&admin),
              Some(json!({"userId": "u1", "userType": "contractor", "vendorOrg": "V", "region": "EU", "ttlHours": 1})))
        .await;
    let pk = jws::encode_public_key(&SigningKey::from_bytes(&[1; 32]).verifying_key());
    let code_text = code["code"].as_str().unwrap();
    assert!(
        code_text.starts_with(|c: char| c.is_ascii_alphanumeric()),
        "a code never looks like a command-line flag: {code_text}"
    );
    // Typed as a person might: lower case, spaces for dashes.
    let typed = code_text.to_lowercase().replace('-', " ");
    assert_eq!(
        h.call(
            "POST",
            "/v1/enroll",
            None,
            Some(json!({"code": typed, "publicKey": pk}))
        )
        .await
        .0,
        StatusCode::OK
    );
    let body = json!({"code": code_text, "publicKey": pk});
    assert_eq!(
        h.call("POST", "/v1/enroll", None, Some(body)).await.0,
        StatusCode::CONFLICT,
        "second use refused"
    );

    let (_, code) = h
        .call("POST", "/v1/admin/enrolment-codes", Some(&admin),
              Some(json!({"userId": "u2", "userType": "partner_bpo", "vendorOrg": "V", "region": "EU", "ttlHours": 1})))
        .await;
    h.advance(Duration::hours(2));
    let (s, _) = h
        .call(
            "POST",
            "/v1/enroll",
            None,
            Some(json!({"code": code["code"], "publicKey": pk})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "expired code refused");

    let (s, _) = h
        .call(
            "POST",
            "/v1/admin/enrolment-codes",
            Some(&admin),
            Some(json!({"userId": "u3", "userType": "employee", "vendorOrg": "V", "region": "EU"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::BAD_REQUEST,
        "only contractor / partner_bpo / subcontractor"
    );
}

#[tokio::test]
async fn passing_attempt_gives_a_device_bound_token_and_retries_are_idempotent() {
    let h = harness();
    let (auth, key) = h.enrol("alice", 1).await;
    let st = statement("11111111-1111-4111-8111-111111111111", 42, true, true);
    let (s, a) = h
        .call("POST", "/v1/statements", Some(&auth), Some(st.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a["firstTime"], true);
    assert_eq!(a["grading"]["passed"], true);

    let (s, again) = h
        .call("POST", "/v1/statements", Some(&auth), Some(st.clone()))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["firstTime"], false, "a retry is accepted once");
    assert_eq!(again["grading"], a["grading"]);

    let mut other = st.clone();
    other["timestamp"] = json!("2026-06-01T08:59:01Z");
    let (s, _) = h
        .call("POST", "/v1/statements", Some(&auth), Some(other))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "same id, other content");

    let (s, t) = h.call("GET", "/v1/tokens", Some(&auth), None).await;
    assert_eq!(s, StatusCode::OK);
    let tokens = t["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    let token = tokens[0].as_str().unwrap();
    let (_, t2) = h.call("GET", "/v1/tokens", Some(&auth), None).await;
    assert_eq!(t2["tokens"][0], tokens[0], "the same token is served again");

    let now = h.state.now();
    let claims = h
        .issuer()
        .verify_certification(token, &key.verifying_key(), &RevocationList::default(), now)
        .unwrap();
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.track, TRACK);
    assert_eq!(
        claims.exp - claims.iat,
        180 * 86_400,
        "exp from recertifyDays"
    );
    assert_eq!(claims.policy_version, h.state.policy.sha256);
    let other_device = SigningKey::from_bytes(&[2; 32]).verifying_key();
    assert!(matches!(
        h.issuer()
            .verify_certification(token, &other_device, &RevocationList::default(), now),
        Err(certgate_credentials::Error::WrongDevice)
    ));

    // The pass as an Open Badges 3.0 credential, signed as a VC-JWT by the same issuer.
    let (s, badges) = h
        .call(
            "GET",
            "/v1/admin/badges/alice",
            Some(&format!("Bearer {ADMIN}")),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let badge = &badges[0];
    assert_eq!(badge["credential"]["type"][1], "OpenBadgeCredential");
    assert_eq!(
        badge["credential"]["credentialSubject"]["achievement"]["name"],
        TRACK
    );
    let signed: Value = jws::verify(
        badge["jwt"].as_str().unwrap(),
        TokenType::Badge,
        &h.state.issuer.public(),
    )
    .unwrap();
    assert_eq!(
        signed["credentialSubject"],
        badge["credential"]["credentialSubject"]
    );

    // A second device of the same user gets its own token, bound to its own key.
    let (auth2, key2) = h.enrol("alice", 3).await;
    let (_, t3) = h.call("GET", "/v1/tokens", Some(&auth2), None).await;
    let token2 = t3["tokens"][0].as_str().unwrap();
    assert_ne!(token2, token);
    h.issuer()
        .verify_certification(
            token2,
            &key2.verifying_key(),
            &RevocationList::default(),
            now,
        )
        .unwrap();
}

#[tokio::test]
async fn tampered_score_is_rejected_by_the_regrade() {
    let h = harness();
    let (auth, _) = h.enrol("mallory", 1).await;
    // Claims success, but the raw answers fail the server's own grading.
    let st = statement("22222222-2222-4222-8222-222222222222", 7, false, true);
    let (s, body) = h
        .call("POST", "/v1/statements", Some(&auth), Some(st.clone()))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "score_mismatch");
    let (s, _) = h
        .call("POST", "/v1/statements", Some(&auth), Some(st))
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a retry gets the same answer"
    );
    let (_, t) = h.call("GET", "/v1/tokens", Some(&auth), None).await;
    assert!(
        t["tokens"].as_array().unwrap().is_empty(),
        "no token without a real pass"
    );
}

#[tokio::test]
async fn attempts_run_out_and_lock_the_track() {
    let h = harness();
    let (auth, _) = h.enrol("bob", 1).await;
    for (i, id) in ["a-1", "a-2"].iter().enumerate() {
        let (s, a) = h
            .call(
                "POST",
                "/v1/statements",
                Some(&auth),
                Some(statement(id, i as u64, false, false)),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{a}");
        assert_eq!(a["grading"]["passed"], false);
    }
    let (s, body) = h
        .call(
            "POST",
            "/v1/statements",
            Some(&auth),
            Some(statement("a-3", 9, true, true)),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "attemptsAllowed is 2: {body}");
}

#[tokio::test]
async fn revocation_and_expiry_end_the_certification() {
    let h = harness();
    let (auth, key) = h.enrol("carol", 1).await;
    h.call(
        "POST",
        "/v1/statements",
        Some(&auth),
        Some(statement("c-1", 5, true, true)),
    )
    .await;
    let (_, t) = h.call("GET", "/v1/tokens", Some(&auth), None).await;
    let token = t["tokens"][0].as_str().unwrap().to_owned();

    let admin = format!("Bearer {ADMIN}");
    let (s, _) = h
        .call(
            "POST",
            "/v1/admin/revoke",
            Some(&admin),
            Some(json!({"userId": "carol", "track": TRACK, "reason": "left the vendor"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, list) = h.raw("GET", "/v1/revocations", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    let list = RevocationList::verify(std::str::from_utf8(&list).unwrap(), &h.issuer()).unwrap();
    let r = h
        .issuer()
        .verify_certification(&token, &key.verifying_key(), &list, h.state.now());
    assert!(
        matches!(r, Err(certgate_credentials::Error::Revoked { .. })),
        "{r:?}"
    );
    let (_, t) = h.call("GET", "/v1/tokens", Some(&auth), None).await;
    assert!(t["tokens"].as_array().unwrap().is_empty());

    // Expiry: a new pass, then 180 days later the sweep ends it.
    let (auth2, _) = h.enrol("dave", 2).await;
    h.call(
        "POST",
        "/v1/statements",
        Some(&auth2),
        Some(statement("d-1", 6, true, true)),
    )
    .await;
    h.advance(Duration::days(180));
    let (_, swept) = h.call("POST", "/v1/admin/sweep", Some(&admin), None).await;
    assert_eq!(swept["expired"], 1);
    let (_, t) = h.call("GET", "/v1/tokens", Some(&auth2), None).await;
    assert!(
        t["tokens"].as_array().unwrap().is_empty(),
        "expired certifications give no token"
    );

    let (_, export) = h
        .raw(
            "GET",
            "/v1/admin/export?format=jsonl",
            Some(&admin),
            None,
            None,
        )
        .await;
    let text = String::from_utf8(export).unwrap();
    for kind in [
        "completion",
        "certification_issued",
        "token_issued",
        "revoked",
        "expired",
    ] {
        assert!(
            text.contains(&format!("\"kind\":\"{kind}\"")),
            "export has {kind}"
        );
    }
    let (_, csv) = h
        .raw(
            "GET",
            "/v1/admin/export?format=csv",
            Some(&admin),
            None,
            None,
        )
        .await;
    assert!(
        String::from_utf8(csv)
            .unwrap()
            .starts_with("id,at,kind,user_id,detail\n")
    );
}

#[tokio::test]
async fn policy_is_served_with_etag_and_signature() {
    let h = harness();
    let (s, body) = h.raw("GET", "/v1/policy", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, certgate_policy::demo::POLICY.as_bytes());
    let etag = h.state.policy.etag();
    let (s, body) = h.raw("GET", "/v1/policy", None, None, Some(&etag)).await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let (s, sig) = h.raw("GET", "/v1/policy/signature", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    let key = certgate_policy::demo::public_key().unwrap();
    certgate_policy::load_signed_text(
        certgate_policy::demo::POLICY,
        std::str::from_utf8(&sig).unwrap(),
        "served",
        &key,
    )
    .unwrap();
    let (_, keys) = h.call("GET", "/v1/keys", None, None).await;
    assert_eq!(
        keys["issuerKid"],
        jws::jwk_thumbprint(&h.state.issuer.public())
    );
}

#[tokio::test]
async fn posture_attestation_needs_a_fresh_server_nonce() {
    let h = harness();
    let (auth, key) = h.enrol("erin", 1).await;
    let (s, n) = h.call("POST", "/v1/posture/nonce", Some(&auth), None).await;
    assert_eq!(s, StatusCode::OK);
    let nonce = n["nonce"].as_str().unwrap();
    let payload = certgate_posture::attest::AttestedPayload {
        facts: json!({"diskEncryption": true, "managed": true}),
        nonce: nonce.to_owned(),
        counter: 1,
        collected_at: h.state.now(),
    };
    let sig = ed25519_dalek::Signer::sign(
        &key,
        &certgate_posture::attest::signed_bytes(&payload).unwrap(),
    );
    let att = json!({
        "payload": payload,
        "publicKey": hex::encode(key.verifying_key().as_bytes()),
        "signature": hex::encode(sig.to_bytes()),
    });
    let (s, body) = h
        .call(
            "POST",
            "/v1/posture/attestations",
            Some(&auth),
            Some(att.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _) = h
        .call("POST", "/v1/posture/attestations", Some(&auth), Some(att))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a nonce is used once");

    let forged = certgate_posture::attest::AttestedPayload {
        nonce: "never-issued".into(),
        counter: 2,
        ..payload
    };
    let sig = ed25519_dalek::Signer::sign(
        &key,
        &certgate_posture::attest::signed_bytes(&forged).unwrap(),
    );
    let att = json!({"payload": forged, "publicKey": hex::encode(key.verifying_key().as_bytes()), "signature": hex::encode(sig.to_bytes())});
    let (s, _) = h
        .call("POST", "/v1/posture/attestations", Some(&auth), Some(att))
        .await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a nonce the server did not issue is refused"
    );
}

fn justification() -> Value {
    json!({"vendorName": "Acme BPO", "ticketOrProjectId": "SEC-1234",
           "dataSensitivity": "internal", "compensatingControls": "supervised sessions"})
}

#[tokio::test]
async fn exceptions_need_every_field_and_every_role() {
    let h = harness();
    let (auth, _) = h.enrol("frank", 1).await;
    let admin = format!("Bearer {ADMIN}");

    let mut missing = justification();
    missing.as_object_mut().unwrap().remove("dataSensitivity");
    let (s, body) = h
        .call(
            "POST",
            "/v1/exceptions",
            Some(&auth),
            Some(json!({"track": TRACK, "durationDays": 3, "justification": missing})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("dataSensitivity"),
        "{body}"
    );

    let (s, body) = h
        .call(
            "POST",
            "/v1/exceptions",
            Some(&auth),
            Some(json!({"track": TRACK, "durationDays": 30, "justification": justification()})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("maxDurationDays"),
        "{body}"
    );

    let (s, ex) = h
        .call(
            "POST",
            "/v1/exceptions",
            Some(&auth),
            Some(json!({"track": TRACK, "durationDays": 5, "justification": justification()})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ex}");
    let id = ex["id"].as_str().unwrap();
    let approve = |role: &str, who: &str| json!({"role": role, "approver": who});
    let path = format!("/v1/admin/exceptions/{id}/approve");

    let (s, body) = h
        .call("POST", &path, Some(&admin), Some(approve("Sales", "sam")))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "wrong role: {body}");
    let (s, first) = h
        .call(
            "POST",
            &path,
            Some(&admin),
            Some(approve("FunctionalOwner", "fiona")),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(first["state"], "pending");
    assert!(
        first.get("token").is_none(),
        "no token before the last approval"
    );
    let (s, _) = h
        .call(
            "POST",
            &path,
            Some(&admin),
            Some(approve("Security", "fiona")),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "one person cannot fill two roles");
    let (s, done) = h
        .call(
            "POST",
            &path,
            Some(&admin),
            Some(approve("Security", "sid")),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(done["state"], "approved");
    let claims: ExceptionClaims = jws::verify(
        done["token"].as_str().unwrap(),
        TokenType::Exception,
        &h.state.issuer.public(),
    )
    .unwrap();
    assert_eq!(claims.scope, format!("track:{TRACK}"));
    assert_eq!(claims.exp - claims.iat, 5 * 86_400);
    assert_eq!(claims.approvers.len(), 2);
    assert!(
        jws::verify::<Value>(
            done["token"].as_str().unwrap(),
            TokenType::Certification,
            &h.state.issuer.public()
        )
        .is_err(),
        "an exception token is not a certification token"
    );
}

#[tokio::test]
async fn real_loopback_server_on_port_zero() {
    let h = harness();
    let running = certgate_server::spawn(h.state.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert_ne!(running.addr.port(), 0);
    let url = format!("http://{}/v1/keys", running.addr);
    let body = tokio::task::spawn_blocking(move || {
        certgate_credentials::client::Client::new(&url.replace("/v1/keys", ""))
            .unwrap()
            .get("/v1/keys")
            .send()
            .unwrap()
            .text()
            .unwrap()
    })
    .await
    .unwrap();
    let keys: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(keys["issuer"], "https://certgate.test");
}

#[tokio::test]
async fn the_single_attempt_of_a_track_is_leased_to_one_device() {
    const BUILDER: &str = "AI_BUILDER_EXTERNAL";
    let h = harness();
    let (laptop, _) = h.enrol("gina", 1).await;
    let (desktop, _) = h.enrol("gina", 2).await;
    let lease = |attempt: &str| json!({"track": BUILDER, "attemptId": attempt});
    let (s, body) = h
        .call("POST", "/v1/leases", Some(&laptop), Some(lease("x")))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["leased"], true);
    let (s, _) = h
        .call("POST", "/v1/leases", Some(&laptop), Some(lease("x")))
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "re-leasing the same attempt is idempotent"
    );
    let (s, _) = h
        .call("POST", "/v1/leases", Some(&desktop), Some(lease("y")))
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "another device cannot take the single attempt"
    );
    let st = statement_for(BUILDER, "y", "g-desk", 4, true, true);
    let (s, _) = h
        .call("POST", "/v1/statements", Some(&desktop), Some(st))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "nor submit one");
    let st = statement_for(BUILDER, "x", "g-lap", 4, true, true);
    let (s, body) = h
        .call("POST", "/v1/statements", Some(&laptop), Some(st))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["grading"]["passed"], true);
}

#[tokio::test]
async fn approved_exception_becomes_a_grant_bound_to_each_device() {
    let h = harness();
    let (auth_a, key_a) = h.enrol("grace", 1).await;
    let admin = format!("Bearer {ADMIN}");
    let (s, ex) = h
        .call(
            "POST",
            "/v1/exceptions",
            Some(&auth_a),
            Some(
                json!({"track": TRACK, "tool": "sdk:developer-sdk", "durationDays": 2,
                        "justification": justification()}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{ex}");
    assert_eq!(ex["tool"], "sdk:developer-sdk");
    let id = ex["id"].as_str().unwrap();
    let (_, grants) = h
        .call("GET", "/v1/exception-grants", Some(&auth_a), None)
        .await;
    assert_eq!(
        grants["grants"],
        json!([]),
        "no grant before the last approval"
    );
    let path = format!("/v1/admin/exceptions/{id}/approve");
    for (role, who) in [("FunctionalOwner", "fiona"), ("Security", "sid")] {
        let (s, body) = h
            .call(
                "POST",
                &path,
                Some(&admin),
                Some(json!({"role": role, "approver": who})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    // A second device of the same user, enrolled after the approval, gets its own grant.
    let (auth_b, key_b) = h.enrol("grace", 2).await;

    let now = *h.now.lock().unwrap();
    let none = RevocationList::default();
    let (s, a) = h
        .call("GET", "/v1/exception-grants", Some(&auth_a), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let token_a = a["grants"][0].as_str().unwrap().to_owned();
    assert_eq!(a["grants"].as_array().unwrap().len(), 1);
    let claims = h
        .issuer()
        .verify_exception_grant(&token_a, &key_a.verifying_key(), &none, now)
        .unwrap();
    assert_eq!(claims.track.as_deref(), Some(TRACK));
    assert_eq!(claims.tool.as_deref(), Some("sdk:developer-sdk"));
    assert_eq!(
        claims.exp - now.timestamp(),
        2 * 86_400,
        "expires with the exception"
    );
    assert_eq!(claims.approvers.len(), 2);
    assert!(
        matches!(
            h.issuer()
                .verify_exception_grant(&token_a, &key_b.verifying_key(), &none, now),
            Err(certgate_credentials::Error::WrongDevice)
        ),
        "device A's grant is useless on device B"
    );
    let (_, again) = h
        .call("GET", "/v1/exception-grants", Some(&auth_a), None)
        .await;
    assert_eq!(
        again["grants"][0],
        token_a.as_str(),
        "issued once, then served"
    );

    let (_, b) = h
        .call("GET", "/v1/exception-grants", Some(&auth_b), None)
        .await;
    let token_b = b["grants"][0].as_str().unwrap();
    assert_ne!(token_b, token_a);
    h.issuer()
        .verify_exception_grant(token_b, &key_b.verifying_key(), &none, now)
        .unwrap();

    let (s, _) = h.call("GET", "/v1/exception-grants", None, None).await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "grants need the device credential"
    );

    h.advance(Duration::days(2));
    let (_, later) = h
        .call("GET", "/v1/exception-grants", Some(&auth_a), None)
        .await;
    assert_eq!(
        later["grants"],
        json!([]),
        "an expired exception grants nothing"
    );
}

#[tokio::test]
async fn exception_tool_scope_is_checked() {
    let h = harness();
    let (auth, _) = h.enrol("hank", 1).await;
    let (s, body) = h
        .call(
            "POST",
            "/v1/exceptions",
            Some(&auth),
            Some(json!({"track": TRACK, "tool": " ", "durationDays": 2,
                        "justification": justification()})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap().contains("tool"), "{body}");
}

#[tokio::test]
async fn bundle_is_served_with_etag_and_304() {
    let h = harness();
    let (s, _) = h.raw("GET", "/v1/bundle", None, None, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no bundle configured: 404");

    let doc = certgate_server::state::demo_bundle_doc().unwrap();
    let etag = doc.etag();
    let served = harness_with(|state| state.with_bundle(Some(doc.clone())));
    let state = served.state.clone();
    let get = |inm: Option<&str>| {
        let mut req = Request::builder().uri("/v1/bundle");
        if let Some(e) = inm {
            req = req.header(header::IF_NONE_MATCH, e);
        }
        router(state.clone()).oneshot(req.body(Body::empty()).unwrap())
    };
    let resp = get(None).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::ETAG], etag.as_str());
    assert_eq!(resp.headers()["x-certgate-bundle-version"], "1.0.0");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, doc.archive, "the signed archive, byte for byte");
    let resp = get(Some(&etag)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
    let resp = get(Some("\"other\"")).await.unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "another ETag gets the bundle"
    );
}

/// An update folder with `version` on offer for Debian amd64 and its `.sig` as the Tauri
/// signer writes it (the server passes signatures on; devices verify them).
fn update_folder(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let file = format!("Certgate_{version}_amd64.deb");
    std::fs::write(
        dir.path().join("release.toml"),
        format!("version = \"{version}\"\nnotes = \"Faster\"\n\n[platforms.linux-x86_64-deb]\nfile = \"{file}\"\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join(&file), b"!<arch>\ndebian-binary").unwrap();
    let minisign = format!(
        "untrusted comment: signature from tauri secret key\nRUQ=\ntrusted comment: timestamp:1764230000\tfile:{file}\tversion:{version}\nAAA=\n"
    );
    std::fs::write(
        dir.path().join(format!("{file}.sig")),
        base64::engine::general_purpose::STANDARD.encode(minisign),
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn update_checks_get_the_newer_release_and_only_its_artifacts_are_served() {
    let folder = update_folder("0.2.0");
    let shelf = certgate_server::updates::UpdateShelf::open(folder.path()).unwrap();
    let served = harness_with(|state| state.with_updates(Some(shelf)));
    let state = served.state.clone();
    let get = |path: &str| {
        let request = Request::builder()
            .uri(path)
            .header(header::HOST, "127.0.0.1:8443")
            .body(Body::empty())
            .unwrap();
        let state = state.clone();
        async move {
            let resp = router(state).oneshot(request).await.unwrap();
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            (status, body)
        }
    };

    let (status, body) = get("/v1/updates/linux/x86_64/deb/0.1.0").await;
    assert_eq!(status, StatusCode::OK);
    let offer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(offer["version"], "0.2.0");
    assert_eq!(offer["notes"], "Faster");
    let url = offer["url"].as_str().unwrap();
    assert_eq!(
        url,
        "http://127.0.0.1:8443/v1/updates/files/Certgate_0.2.0_amd64.deb"
    );
    let sig = std::fs::read_to_string(folder.path().join("Certgate_0.2.0_amd64.deb.sig")).unwrap();
    assert_eq!(offer["signature"], sig.trim());

    let (status, body) = get(url.trim_start_matches("http://127.0.0.1:8443")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        &body[..],
        b"!<arch>\ndebian-binary",
        "the artifact, byte for byte"
    );

    for up_to_date in [
        "/v1/updates/linux/x86_64/deb/0.2.0",
        "/v1/updates/linux/x86_64/deb/0.3.1",
    ] {
        assert_eq!(
            get(up_to_date).await.0,
            StatusCode::NO_CONTENT,
            "{up_to_date}"
        );
    }
    assert_eq!(
        get("/v1/updates/windows/x86_64/msi/0.1.0").await.0,
        StatusCode::NO_CONTENT,
        "no artifact for the platform: nothing to install"
    );
    assert_eq!(
        get("/v1/updates/linux/x86_64/deb/latest").await.0,
        StatusCode::BAD_REQUEST
    );
    for other in [
        "release.toml",
        "Certgate_0.2.0_amd64.deb.sig",
        "..%2Frelease.toml",
    ] {
        assert_eq!(
            get(&format!("/v1/updates/files/{other}")).await.0,
            StatusCode::NOT_FOUND,
            "only artifacts the release names are served: {other}"
        );
    }

    let none = harness();
    let (status, _) = none
        .raw(
            "GET",
            "/v1/updates/linux/x86_64/deb/0.1.0",
            None,
            None,
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "no update folder: nothing on offer"
    );
}

fn proxy_record(id: &str, approval: &str) -> Value {
    json!({"requestId": id, "timestamp": "2026-06-01T08:59:00.000Z", "userId": "ada",
           "decision": "allowed", "approvalOutcome": approval, "findings": {"EMAIL": 2},
           "route": "/v1/chat/completions", "status": 200, "bytesIn": 120})
}

#[tokio::test]
async fn proxy_evidence_is_kept_once_per_request_and_metadata_only() {
    let h = harness();
    let (auth, _) = h.enrol("ada", 7).await;
    let (other, _) = h.enrol("bob", 8).await;
    let body =
        json!({"records": [proxy_record("r1", "not_required"), proxy_record("r2", "pending")]});

    let (s, _) = h
        .call("POST", "/v1/evidence", None, Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "evidence needs device auth");
    let (s, _) = h
        .call(
            "POST",
            "/v1/evidence",
            Some("Device nobody.secret"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "an unknown device is refused");

    let (s, a) = h
        .call("POST", "/v1/evidence", Some(&auth), Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a, json!({"accepted": 2, "duplicates": 0, "updated": 0}));
    // A retry (the device crashed before moving its cursor) stores nothing twice.
    let (s, a) = h
        .call("POST", "/v1/evidence", Some(&auth), Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{a}");
    assert_eq!(a, json!({"accepted": 0, "duplicates": 2, "updated": 0}));
    // The same request id from another device is that device's own record.
    let (_, a) = h
        .call("POST", "/v1/evidence", Some(&other), Some(body))
        .await;
    assert_eq!(a["accepted"], 2);
    // A decision on a pending record replaces it; a decided one is final.
    let decided = json!({"records": [proxy_record("r2", "approved")]});
    let (_, a) = h
        .call("POST", "/v1/evidence", Some(&auth), Some(decided))
        .await;
    assert_eq!(a, json!({"accepted": 0, "duplicates": 0, "updated": 1}));
    let again = json!({"records": [proxy_record("r2", "rejected")]});
    let (_, a) = h
        .call("POST", "/v1/evidence", Some(&auth), Some(again))
        .await;
    assert_eq!(a["duplicates"], 1);

    // Text-bearing fields refuse the whole batch, saying why; nothing of it is stored.
    let mut leaky = proxy_record("r3", "not_required");
    leaky["messages"] = json!([{"role": "user", "content": "hello"}]);
    let body = json!({"records": [proxy_record("r4", "not_required"), leaky]});
    let (s, e) = h
        .call("POST", "/v1/evidence", Some(&auth), Some(body))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("messages") && message.contains("metadata only"),
        "{message}"
    );
    let no_id = json!({"records": [{"decision": "allowed"}]});
    let (s, e) = h
        .call("POST", "/v1/evidence", Some(&auth), Some(no_id))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["message"].as_str().unwrap().contains("requestId"), "{e}");

    let stored: Vec<(String, String, String)> = {
        let db = h.state.db();
        let mut stmt = db
            .conn()
            .prepare("SELECT request_id, user_id, record FROM server_evidence ORDER BY user_id, request_id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let ids: Vec<_> = stored
        .iter()
        .map(|(id, u, _)| format!("{u}/{id}"))
        .collect();
    assert_eq!(
        ids,
        ["ada/r1", "ada/r2", "bob/r1", "bob/r2"],
        "r3 and r4 were refused with their batch"
    );
    assert!(stored[1].2.contains("\"approved\""), "{}", stored[1].2);

    // The org export lists them as their own kind with the proxy's evidence columns.
    let admin = format!("Bearer {ADMIN}");
    let (s, text) = h
        .raw(
            "GET",
            "/v1/admin/export?format=jsonl",
            Some(&admin),
            None,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let lines: Vec<Value> = String::from_utf8(text)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &Value| v["kind"] == "proxy_request")
        .collect();
    assert_eq!(lines.len(), 4);
    let detail = &lines[0]["detail"];
    for column in certgate_credentials::wire::EVIDENCE_COLUMNS {
        assert!(detail.get(*column).is_some(), "column {column} in {detail}");
    }
    assert_eq!(detail["findings"]["EMAIL"], 2);
    assert_eq!(lines[0]["at"], "2026-06-01T08:59:00.000Z");
    let (_, csv) = h
        .raw(
            "GET",
            "/v1/admin/export?format=csv",
            Some(&admin),
            None,
            None,
        )
        .await;
    let csv = String::from_utf8(csv).unwrap();
    assert_eq!(
        csv.lines()
            .filter(|l| l.contains(",proxy_request,"))
            .count(),
        4,
        "{csv}"
    );
}

/// Records in memory, oldest first; the cursor is how many the server acknowledged. The
/// first delivery of the second batch "crashes" after the server took it.
struct MemoryEvidence {
    records: Vec<Value>,
    cursor: usize,
    limits: Vec<usize>,
    batches: Vec<usize>,
    crash_on_batch: Option<usize>,
}

impl certgate_credentials::EvidenceOutbox for MemoryEvidence {
    fn pending(&mut self, limit: usize) -> certgate_credentials::Result<Vec<Value>> {
        self.limits.push(limit);
        Ok(self.records[self.cursor..]
            .iter()
            .take(limit)
            .cloned()
            .collect())
    }
    fn delivered(&mut self, count: usize) -> certgate_credentials::Result<()> {
        self.batches.push(count);
        if self.crash_on_batch == Some(self.batches.len()) {
            self.crash_on_batch = None;
            return Err(certgate_credentials::Error::EvidenceOutbox {
                reason: "killed before the cursor moved".into(),
            });
        }
        self.cursor += count;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_uploads_evidence_in_batches_and_a_crash_mid_upload_never_duplicates() {
    let h = harness();
    let (auth, key) = h.enrol("ada", 9).await;
    let running = certgate_server::spawn(h.state.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = format!("http://{}", running.addr);
    let (device_id, secret) = auth
        .strip_prefix("Device ")
        .unwrap()
        .split_once('.')
        .unwrap();
    drop(key);
    let issuer = h.issuer();
    let (device_id, secret) = (device_id.to_owned(), secret.to_owned());
    let total = 1_201;
    let mut outbox = MemoryEvidence {
        records: (0..total)
            .map(|i| proxy_record(&format!("req-{i:05}"), "not_required"))
            .collect(),
        cursor: 0,
        limits: Vec::new(),
        batches: Vec::new(),
        crash_on_batch: Some(2),
    };
    let outbox = tokio::task::spawn_blocking(move || {
        // The blocking HTTP client lives and dies off the async threads.
        let device = certgate_credentials::Device {
            enrolment: certgate_credentials::metadata::Enrolment {
                server_url: url.clone(),
                device_id: device_id.clone(),
                user_id: "ada".into(),
                profile: Default::default(),
                issuer,
                policy_key_pem: String::new(),
                enrolled_at: Utc::now(),
            },
            key: certgate_credentials::DeviceKey::generate().unwrap(),
            client: certgate_credentials::client::Client::new(&url)
                .unwrap()
                .with_device(&device_id, &certgate_credentials::Sensitive::new(secret)),
            data_dir: std::env::temp_dir(),
        };
        let err = device.upload_evidence(&mut outbox).unwrap_err();
        assert!(err.to_string().contains("killed"), "{err}");
        assert_eq!(
            outbox.cursor, 500,
            "the first batch was marked, the second was not"
        );
        // Restarted: the second batch goes again, then the rest.
        assert_eq!(device.upload_evidence(&mut outbox).unwrap(), total - 500);
        assert_eq!(
            device.upload_evidence(&mut outbox).unwrap(),
            0,
            "nothing left"
        );
        drop(device);
        outbox
    })
    .await
    .unwrap();
    assert!(
        outbox.limits.iter().all(|l| *l == 500),
        "{:?}",
        outbox.limits
    );
    assert_eq!(
        outbox.batches,
        [500, 500, 500, 201],
        "the crashed second batch is sent once more, then the rest"
    );
    let (rows, distinct): (i64, i64) = h
        .state
        .db()
        .conn()
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT request_id) FROM server_evidence",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, distinct), (1_201, 1_201), "every record once");
}
