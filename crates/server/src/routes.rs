//! The HTTP API. Device endpoints authenticate with the enrolment secret, admin endpoints
//! with the config's bearer token; `/v1/policy`, `/v1/keys`, `/v1/revocations` and
//! `/v1/bundle`, `/v1/updates/…` and `/v1/enroll` (which needs a one-time code) are public.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use certgate_credentials::jws;
use certgate_credentials::wire::{
    BUNDLE_VERSION_HEADER, EnrollRequest, EnrollResponse, EvidenceAccepted,
    ExceptionGrantsResponse, KeysResponse, NonceResponse, StatementAccepted, TokensResponse,
    UserProfile,
};
use certgate_posture::{Attestation, NonceStore, Verifier};
use certgate_store::rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::{Admin, DeviceAuth};
use crate::certify::{self, EndReason};
use crate::db::{audit, hash_secret, parse_ts, ts};
use crate::enrolment_code;
use crate::error::{Error, Result};
use crate::exceptions::{self, Approval, ExceptionRequest, ExceptionStatus};
use crate::state::AppState;
use crate::updates;

/// User types an enrolment code may bind (the seed policy's populations).
pub const USER_TYPES: &[&str] = &["contractor", "partner_bpo", "subcontractor"];

/// How long a posture nonce stays usable.
const NONCE_TTL_SECS: i64 = 120;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/health", get(|| async { "ok" }))
        .route("/v1/keys", get(keys))
        .route("/v1/policy", get(policy))
        .route("/v1/policy/signature", get(policy_signature))
        .route("/v1/bundle", get(bundle))
        .route("/v1/revocations", get(revocations))
        .route(
            "/v1/updates/{target}/{arch}/{installer}/{current_version}",
            get(update_offer),
        )
        .route("/v1/updates/files/{file}", get(update_file))
        .route("/v1/enroll", post(enroll))
        .route("/v1/statements", post(statements))
        .route("/v1/evidence", post(evidence))
        .route("/v1/leases", post(lease))
        .route("/v1/tokens", get(tokens))
        .route("/v1/posture/nonce", post(posture_nonce))
        .route("/v1/posture/attestations", post(posture_attestation))
        .route("/v1/exceptions", post(request_exception))
        .route("/v1/exceptions/{id}", get(exception_status))
        .route("/v1/exception-grants", get(exception_grants))
        .route("/v1/admin/enrolment-codes", post(create_code))
        .route("/v1/admin/users", get(users))
        .route("/v1/admin/revoke", post(revoke))
        .route("/v1/admin/sweep", post(sweep))
        .route("/v1/admin/exceptions/{id}/approve", post(approve_exception))
        .route("/v1/admin/export", get(export))
        .route("/v1/admin/badges/{user}", get(badges))
        .with_state(state)
}

type AppResult<T> = Result<T>;
type St = State<Arc<AppState>>;

async fn keys(State(s): St) -> Json<KeysResponse> {
    let public = s.issuer.public();
    Json(KeysResponse {
        issuer: s.issuer.name.clone(),
        issuer_key: jws::encode_public_key(&public),
        issuer_kid: jws::jwk_thumbprint(&public),
        policy_key_pem: s.policy.public_key_pem.clone(),
    })
}

async fn policy(State(s): St, headers: HeaderMap) -> Response {
    let etag = s.policy.etag();
    let matches = etag_matches(&headers, &etag);
    let sig = s.policy.signature.trim().to_owned();
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&sig) {
        h.insert("x-certgate-signature", v);
    }
    if matches {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/yaml"),
    );
    (h, s.policy.text.clone()).into_response()
}

fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// The signed content bundle archive; 304 when the device already has it.
async fn bundle(State(s): St, headers: HeaderMap) -> AppResult<Response> {
    let Some(doc) = &s.bundle else {
        return Err(Error::NotFound(
            "this server serves no content bundle (`bundle` in the server config)".into(),
        ));
    };
    let etag = doc.etag();
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&doc.version) {
        h.insert(BUNDLE_VERSION_HEADER, v);
    }
    if etag_matches(&headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok((h, doc.archive.clone()).into_response())
}

/// The Tauri updater's dynamic endpoint: 200 with the offer when the org publishes a newer
/// version for this platform, 204 otherwise.
async fn update_offer(
    State(s): St,
    Path((target, arch, installer, current)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let Some(shelf) = &s.updates else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let release = shelf.release()?;
    let base = match &s.public_url {
        Some(url) => url.clone(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .ok_or_else(|| Error::BadRequest("the request has no Host header".into()))?;
            format!("http://{host}")
        }
    };
    let offer = updates::offer(&release, &target, &arch, &installer, &current, &base)?;
    tracing::info!(
        target,
        arch,
        installer,
        current,
        offered = offer.as_ref().map(|o| o.version.as_str()),
        "update check"
    );
    Ok(match offer {
        Some(offer) => Json(offer).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// An artifact the current release names; nothing else in the folder is served.
async fn update_file(State(s): St, Path(file): Path<String>) -> AppResult<Response> {
    let not_found = || Error::NotFound(format!("no update artifact named {file:?}"));
    let shelf = s.updates.as_ref().ok_or_else(not_found)?;
    let release = shelf.release()?;
    let path = shelf.artifact_path(&release, &file).ok_or_else(not_found)?;
    // Streamed from disk: a fleet downloading a 20 MB package at once must not hold a copy
    // per device in memory.
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|source| Error::ReadFile { path, source })?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

async fn policy_signature(State(s): St) -> String {
    s.policy.signature.clone()
}

async fn revocations(State(s): St) -> AppResult<Response> {
    let token = certify::revocation_list(&s)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/jwt"),
        )],
        token,
    )
        .into_response())
}

/// `POST /v1/admin/enrolment-codes` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodeRequest {
    pub user_id: String,
    pub user_type: String,
    pub vendor_org: String,
    pub region: String,
    #[serde(default)]
    pub ttl_hours: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeResponse {
    pub code: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

async fn create_code(
    _: Admin,
    State(s): St,
    Json(req): Json<CodeRequest>,
) -> AppResult<Json<CodeResponse>> {
    if !USER_TYPES.contains(&req.user_type.as_str()) {
        return Err(Error::BadRequest(format!(
            "userType {:?} is not one of {}",
            req.user_type,
            USER_TYPES.join(", ")
        )));
    }
    for (name, v) in [
        ("userId", &req.user_id),
        ("vendorOrg", &req.vendor_org),
        ("region", &req.region),
    ] {
        if v.trim().is_empty() {
            return Err(Error::BadRequest(format!("{name} must not be empty")));
        }
    }
    let code = enrolment_code::generate()?;
    let now = s.now();
    let ttl = req
        .ttl_hours
        .map_or(s.code_ttl, |h| Duration::hours(i64::from(h)));
    let expires_at = now + ttl;
    let db = s.db();
    db.conn().execute(
        "INSERT INTO server_enrolment_codes (code_hash, user_id, user_type, vendor_org, region, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![hash_secret(&enrolment_code::normalize(&code)), req.user_id, req.user_type, req.vendor_org, req.region, ts(expires_at)],
    )?;
    audit(
        db.conn(),
        now,
        "enrolment_code_created",
        Some(&req.user_id),
        &json!({"userType": req.user_type, "vendorOrg": req.vendor_org, "region": req.region,
                "expiresAt": ts(expires_at)}),
    )?;
    Ok(Json(CodeResponse { code, expires_at }))
}

async fn enroll(State(s): St, Json(req): Json<EnrollRequest>) -> AppResult<Json<EnrollResponse>> {
    let key = jws::decode_public_key(&req.public_key)
        .map_err(|_| Error::BadRequest("publicKey is not an Ed25519 key (base64url)".into()))?;
    let now = s.now();
    let code_key = enrolment_code::normalize(&req.code);
    let device_id = jws::random_id(12)?;
    let secret = jws::random_id(32)?;
    let mut db = s.db();
    let tx = db
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<(String, String, String, String, String, Option<String>)> = tx
        .query_row(
            "SELECT user_id, user_type, vendor_org, region, expires_at, used_at
             FROM server_enrolment_codes WHERE code_hash = ?1",
            params![hash_secret(&code_key)],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )
        .optional()?;
    let Some((user_id, user_type, vendor_org, region, expires_at, used_at)) = row else {
        return Err(Error::Unauthorized("unknown enrolment code"));
    };
    if used_at.is_some() {
        return Err(Error::Conflict(
            "this enrolment code was already used; ask for a new one".into(),
        ));
    }
    if parse_ts(&expires_at) <= now {
        return Err(Error::Refused(
            "this enrolment code has expired; ask for a new one".into(),
        ));
    }
    tx.execute(
        "UPDATE server_enrolment_codes SET used_at = ?2, device_id = ?3 WHERE code_hash = ?1",
        params![hash_secret(&code_key), ts(now), device_id],
    )?;
    tx.execute(
        "INSERT INTO server_users (id, user_type, vendor_org, region, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET user_type = ?2, vendor_org = ?3, region = ?4",
        params![user_id, user_type, vendor_org, region, ts(now)],
    )?;
    tx.execute(
        "INSERT INTO server_devices (id, user_id, public_key, jkt, secret_hash, enrolled_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            device_id,
            user_id,
            jws::encode_public_key(&key),
            jws::jwk_thumbprint(&key),
            hash_secret(&secret),
            ts(now)
        ],
    )?;
    audit(
        &tx,
        now,
        "enrolled",
        Some(&user_id),
        &json!({"deviceId": device_id, "jkt": jws::jwk_thumbprint(&key)}),
    )?;
    tx.commit()?;
    Ok(Json(EnrollResponse {
        device_id,
        user_id,
        device_secret: secret,
        issuer: s.issuer.name.clone(),
        issuer_key: jws::encode_public_key(&s.issuer.public()),
        profile: UserProfile {
            user_type: Some(user_type),
            vendor_org: Some(vendor_org),
            region: Some(region),
        },
    }))
}

async fn statements(
    device: DeviceAuth,
    State(s): St,
    body: Bytes,
) -> AppResult<Json<StatementAccepted>> {
    certify::intake(&s, &device, &body).map(Json)
}

/// The proxy's audit records from this device (metadata only), deduplicated by requestId.
async fn evidence(
    device: DeviceAuth,
    State(s): St,
    body: Bytes,
) -> AppResult<Json<EvidenceAccepted>> {
    crate::evidence::intake(&s, &device, &body).map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LeaseRequest {
    track: String,
    attempt_id: String,
}

async fn lease(
    device: DeviceAuth,
    State(s): St,
    Json(req): Json<LeaseRequest>,
) -> AppResult<Json<Value>> {
    let track = s
        .policy
        .track(&req.track)
        .ok_or_else(|| Error::BadRequest(format!("unknown track {}", req.track)))?;
    if track.quiz.attempts_allowed != 1 {
        return Ok(Json(
            json!({"leased": false, "reason": "this track allows more than one attempt"}),
        ));
    }
    let now = s.now();
    let mut db = s.db();
    let tx = db
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    certify::take_lease(&tx, &device, &req.track, &req.attempt_id, now)?;
    tx.commit()?;
    Ok(Json(
        json!({"leased": true, "track": req.track, "attemptId": req.attempt_id}),
    ))
}

async fn tokens(device: DeviceAuth, State(s): St) -> AppResult<Json<TokensResponse>> {
    Ok(Json(TokensResponse {
        tokens: certify::tokens_for(&s, &device)?,
    }))
}

async fn posture_nonce(device: DeviceAuth, State(s): St) -> AppResult<Json<NonceResponse>> {
    let nonce = jws::random_id(24)?;
    let now = s.now();
    let expires_at = now + Duration::seconds(NONCE_TTL_SECS);
    let db = s.db();
    db.conn().execute(
        "DELETE FROM server_nonces WHERE expires_at <= ?1",
        params![ts(now)],
    )?;
    db.conn().execute(
        "INSERT INTO server_nonces (nonce, device_id, expires_at) VALUES (?1, ?2, ?3)",
        params![nonce, device.device_id, ts(expires_at)],
    )?;
    Ok(Json(NonceResponse { nonce, expires_at }))
}

/// Nonces this server issued to one device, consumed from the database.
struct DbNonces<'c> {
    conn: &'c Connection,
    device_id: &'c str,
    now: String,
}

impl NonceStore for DbNonces<'_> {
    fn consume(&self, nonce: &str) -> bool {
        self.conn
            .execute(
                "DELETE FROM server_nonces WHERE nonce = ?1 AND device_id = ?2 AND expires_at > ?3",
                params![nonce, self.device_id, self.now],
            )
            .is_ok_and(|n| n == 1)
    }
}

async fn posture_attestation(
    device: DeviceAuth,
    State(s): St,
    Json(att): Json<Attestation>,
) -> AppResult<Json<Value>> {
    let now = s.now();
    let mut db = s.db();
    let tx = db
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)?;
    let last: Option<i64> = tx.query_row(
        "SELECT last_counter FROM server_devices WHERE id = ?1",
        params![device.device_id],
        |r| r.get(0),
    )?;
    let nonces = DbNonces {
        conn: &tx,
        device_id: &device.device_id,
        now: ts(now),
    };
    let mut verifier = Verifier::new(device.public_key, nonces);
    if let Some(last) = last.and_then(|l| u64::try_from(l).ok()) {
        verifier = verifier.with_last_counter(last);
    }
    let facts = verifier.verify(&att, now)?;
    drop(verifier);
    tx.execute(
        "UPDATE server_devices SET last_counter = ?2, posture = ?3, posture_at = ?4 WHERE id = ?1",
        params![
            device.device_id,
            i64::try_from(att.payload.counter).unwrap_or(i64::MAX),
            facts.to_string(),
            ts(now)
        ],
    )?;
    audit(
        &tx,
        now,
        "posture_attested",
        Some(&device.user_id),
        &json!({"deviceId": device.device_id, "counter": att.payload.counter}),
    )?;
    tx.commit()?;
    Ok(Json(
        json!({"accepted": true, "counter": att.payload.counter}),
    ))
}

async fn request_exception(
    device: DeviceAuth,
    State(s): St,
    Json(req): Json<ExceptionRequest>,
) -> AppResult<Json<ExceptionStatus>> {
    exceptions::request(&s, &device.user_id, &req).map(Json)
}

async fn exception_status(
    device: DeviceAuth,
    State(s): St,
    Path(id): Path<String>,
) -> AppResult<Json<ExceptionStatus>> {
    let st = exceptions::status(&s, &id)?;
    if st.user_id != device.user_id {
        return Err(Error::NotFound(format!("no exception request {id}")));
    }
    Ok(Json(st))
}

async fn exception_grants(
    device: DeviceAuth,
    State(s): St,
) -> AppResult<Json<ExceptionGrantsResponse>> {
    Ok(Json(ExceptionGrantsResponse {
        grants: exceptions::grants_for(&s, &device)?,
    }))
}

async fn approve_exception(
    _: Admin,
    State(s): St,
    Path(id): Path<String>,
    Json(a): Json<Approval>,
) -> AppResult<Json<ExceptionStatus>> {
    exceptions::approve(&s, &id, &a).map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RevokeRequest {
    user_id: String,
    track: String,
    reason: String,
}

async fn revoke(_: Admin, State(s): St, Json(req): Json<RevokeRequest>) -> AppResult<Json<Value>> {
    let n = certify::end_certification(
        &s,
        &req.user_id,
        &req.track,
        EndReason::Revoked,
        &req.reason,
    )?;
    if n == 0 {
        return Err(Error::NotFound(format!(
            "{} holds no live certification for {}",
            req.user_id, req.track
        )));
    }
    Ok(Json(json!({"revoked": n})))
}

async fn sweep(_: Admin, State(s): St) -> AppResult<Json<Value>> {
    let expired = certify::expire_due(&s)?;
    Ok(Json(json!({"expired": expired})))
}

/// One user's state, for `certgate server users`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRow {
    pub id: String,
    pub user_type: String,
    pub vendor_org: String,
    pub region: String,
    pub devices: u32,
    pub certifications: Vec<Value>,
}

async fn users(_: Admin, State(s): St) -> AppResult<Json<Vec<UserRow>>> {
    let db = s.db();
    let mut stmt = db.conn().prepare(
        "SELECT u.id, u.user_type, u.vendor_org, u.region,
                (SELECT COUNT(*) FROM server_devices d WHERE d.user_id = u.id)
         FROM server_users u ORDER BY u.id",
    )?;
    let mut out: Vec<UserRow> = stmt
        .query_map([], |r| {
            Ok(UserRow {
                id: r.get(0)?,
                user_type: r.get(1)?,
                vendor_org: r.get(2)?,
                region: r.get(3)?,
                devices: r.get(4)?,
                certifications: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut certs = db.conn().prepare(
        "SELECT track, score_pct, passed_at, expires_at, ended_at, end_reason
         FROM server_certifications WHERE user_id = ?1 ORDER BY id",
    )?;
    for u in &mut out {
        u.certifications = certs
            .query_map(params![u.id], |r| {
                Ok(json!({
                    "track": r.get::<_, String>(0)?,
                    "scorePct": r.get::<_, f64>(1)?,
                    "passedAt": r.get::<_, String>(2)?,
                    "expiresAt": r.get::<_, String>(3)?,
                    "endedAt": r.get::<_, Option<String>>(4)?,
                    "endReason": r.get::<_, Option<String>>(5)?,
                }))
            })?
            .collect::<Result<_, _>>()?;
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExportQuery {
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

async fn export(_: Admin, State(s): St, Query(q): Query<ExportQuery>) -> AppResult<Response> {
    let format = crate::export::Format::parse(q.format.as_deref().unwrap_or("jsonl"))?;
    let since = match q.since.as_deref() {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|_| Error::BadRequest("since must be an RFC 3339 time".into()))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let db = s.db();
    let text = crate::export::evidence(db.conn(), since, format)?;
    Ok(([(header::CONTENT_TYPE, format.content_type())], text).into_response())
}

async fn badges(
    _: Admin,
    State(s): St,
    Path(user): Path<String>,
) -> AppResult<Json<Vec<crate::badge::Badge>>> {
    crate::badge::for_user(&s, &user).map(Json)
}
