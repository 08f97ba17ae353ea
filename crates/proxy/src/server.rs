//! The HTTP face: routes, the loopback/Origin/key guard, and the request flow
//! (gate → route → redact → forward → restore → record).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use certgate_policy::model::LogField;
use certgate_policy::{LoadedPolicy, RequestContext};
use certgate_redact::{BlockType, RedactorConfig};
use chrono::Utc;
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use crate::active::{Active, PolicySlot, Problem};
use crate::answer::{self, restore_all};
use crate::audit::{ApprovalResult, AuditLog, AuditRecord};
use crate::config::{ClientKey, ProxyConfig};
use crate::error::{Error, Result};
use crate::filter::{self, Api};
use crate::gate::{self, GateSnapshot};
use crate::monitor::{Monitor, Signal};
use crate::reply::{self, Shape};
use crate::stream::SseRewriter;

/// Header carrying the request id on every response.
pub const REQUEST_ID: &str = "x-certgate-request-id";
/// Header set on answers that need a human's approval (`required`).
pub const APPROVAL: &str = "x-certgate-approval";
/// Header carrying the retrieval scopes upstream.
pub const RETRIEVAL_SCOPES: &str = "x-certgate-retrieval-scopes";

/// What the proxy tells its embedder (desktop notifications, tray badge).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Event {
    /// A request was refused because it held secrets or credentials (types only, no values).
    #[serde(rename_all = "camelCase")]
    RequestBlocked {
        request_id: String,
        finding_types: Vec<String>,
        tool_surface: String,
    },
    /// A monitoring rule of the policy fired.
    #[serde(rename_all = "camelCase")]
    MonitoringAlert {
        name: String,
        user_id: Option<String>,
        count: u64,
        notify: Vec<String>,
    },
    /// A new signed policy was applied while running.
    #[serde(rename_all = "camelCase")]
    PolicyApplied { file: String, sha256: String },
    /// A changed policy file was refused; the previous policy stays in force.
    #[serde(rename_all = "camelCase")]
    PolicyRefused {
        file: String,
        problems: Vec<Problem>,
    },
}

/// What the embedder hands the proxy besides its config.
#[derive(Debug)]
pub struct Deps {
    /// The verified org policy in force; the embedder keeps a clone to swap it
    /// ([`PolicySlot::replace`], or [`crate::reload::watch_file`]).
    pub policy: PolicySlot,
    /// Who is signed in and how the device is; the embedder sends updates.
    pub snapshot: watch::Receiver<GateSnapshot>,
    /// Local client keys with their tool-surface labels; the embedder sends the new set on a
    /// rotation and the old key is refused from the next request on.
    pub keys: watch::Receiver<Vec<ClientKey>>,
    /// Where evidence goes.
    pub audit: AuditLog,
    /// Where notifications go.
    pub events: broadcast::Sender<Event>,
}

pub(crate) struct AppState {
    config: ProxyConfig,
    policy: PolicySlot,
    snapshot: watch::Receiver<GateSnapshot>,
    keys: watch::Receiver<Vec<ClientKey>>,
    audit: AuditLog,
    events: broadcast::Sender<Event>,
    client: reqwest::Client,
    monitor: Monitor,
}

/// The redaction engine configured from the policy's `dlp` section.
pub fn redactor_config(policy: &LoadedPolicy) -> RedactorConfig {
    let dlp = &policy.policy.model_and_data_controls.dlp;
    RedactorConfig {
        pii_redaction: dlp.pii_redaction,
        block_types: dlp
            .block_patterns
            .iter()
            .map(|b| match b.kind {
                certgate_policy::model::BlockKind::Secret => BlockType::Secret,
                certgate_policy::model::BlockKind::Credential => BlockType::Credential,
            })
            .collect(),
        restricted_terms: dlp.restricted_terms.clone(),
        ..RedactorConfig::default()
    }
}

/// Builds the router. Used by [`crate::start`] and by tests (`tower::ServiceExt::oneshot`).
pub fn router(config: ProxyConfig, deps: Deps) -> Result<Router> {
    config.validate()?;
    if deps.keys.borrow().is_empty() {
        return Err(Error::NoClientKeys);
    }
    certgate_credentials::client::install_tls_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_millis(config.connect_timeout_ms))
        .pool_idle_timeout(std::time::Duration::from_secs(60))
        .no_proxy()
        .build()
        .map_err(Error::Client)?;
    let state = Arc::new(AppState {
        config,
        policy: deps.policy,
        snapshot: deps.snapshot,
        keys: deps.keys,
        audit: deps.audit,
        events: deps.events,
        client,
        monitor: Monitor::default(),
    });
    let routes = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/responses", post(responses))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/messages", post(messages))
        .route("/v1/models", get(models))
        .route("/certgate/v1/approvals", post(approvals))
        .route("/certgate/v1/status", get(status))
        .fallback(not_found);
    #[cfg(test)]
    let routes = routes.route(
        "/v1/__test/panic",
        post(|| async {
            if std::hint::black_box(true) {
                panic!("test panic")
            }
        }),
    );
    Ok(routes
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(on_panic))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state))
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked; nothing was sent upstream after it");
    reply::status(
        Shape::OpenAi,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error in the Certgate proxy",
    )
}

async fn not_found(req: Request) -> Response {
    let shape = Shape::for_path(req.uri().path());
    reply::status(
        shape,
        StatusCode::NOT_FOUND,
        &format!("no route {} {}", req.method(), req.uri().path()),
    )
}

/// The caller, once authenticated.
#[derive(Debug, Clone)]
struct Caller {
    label: String,
}

#[derive(Debug, Clone)]
struct RequestId(String);

fn new_request_id() -> String {
    let mut b = [0u8; 12];
    if getrandom::fill(&mut b).is_err() {
        // A time-based id still identifies the record; uniqueness matters, not secrecy.
        let n = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        return format!("req_{n:024x}");
    }
    format!("req_{}", hex::encode(b))
}

/// `127.0.0.1`, any `127.x`, `localhost` or `[::1]`, with or without a port.
fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return v.strip_prefix("Bearer ").map(str::trim);
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Loopback Host, the app's Origin only, a valid client key; a request id on every response.
async fn guard(State(st): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let rid = new_request_id();
    let shape = Shape::for_path(req.uri().path());
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let mut resp = if !host.is_some_and(loopback_host) {
        reply::status(
            shape,
            StatusCode::FORBIDDEN,
            "the Certgate proxy only answers requests addressed to localhost",
        )
    } else if let Some(origin) = headers.get(header::ORIGIN)
        && !st
            .config
            .allowed_origins
            .iter()
            .any(|o| o.as_bytes() == origin.as_bytes())
    {
        reply::status(
            shape,
            StatusCode::FORBIDDEN,
            "requests from web pages are not allowed; only the Certgate app may call the proxy from a browser context",
        )
    } else {
        let label = presented_key(headers).and_then(|k| {
            st.keys
                .borrow()
                .iter()
                .find(|c| constant_time_eq(c.key.expose().as_bytes(), k.as_bytes()))
                .map(|c| c.label.clone())
        });
        match label {
            None => reply::status(
                shape,
                StatusCode::UNAUTHORIZED,
                "missing or wrong Certgate proxy key: use the key shown in the Certgate app",
            ),
            Some(label) => {
                req.extensions_mut().insert(Caller { label });
                req.extensions_mut().insert(RequestId(rid.clone()));
                next.run(req).await
            }
        }
    };
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// Writes the audit record once; if dropped unwritten (client gone), records a cancellation.
struct Pending {
    audit: AuditLog,
    rec: Option<AuditRecord>,
    started: Instant,
}

impl Pending {
    fn take(&mut self) -> Option<AuditRecord> {
        let mut rec = self.rec.take()?;
        rec.latency_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        Some(rec)
    }

    fn rec(&mut self) -> &mut AuditRecord {
        self.rec.get_or_insert_with(AuditRecord::default)
    }

    fn finish(&mut self, decision: &str, status: StatusCode) {
        if let Some(mut rec) = self.take() {
            rec.decision = decision.to_owned();
            rec.status = status.as_u16();
            self.audit.record(rec);
        }
    }

    /// Finishes with an error response, recording `decision` and its reasons.
    fn reject(&mut self, decision: &str, reasons: Vec<String>, resp: Response) -> Response {
        self.rec().reasons = reasons;
        self.finish(decision, resp.status());
        resp
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut rec) = self.take() {
            rec.decision = "cancelled".to_owned();
            rec.reasons = vec!["client disconnected".to_owned()];
            rec.status = 499;
            self.audit.record(rec);
        }
    }
}

async fn chat(
    State(st): State<Arc<AppState>>,
    Extension(c): Extension<Caller>,
    Extension(r): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    forward(st, Api::ChatCompletions, c, r.0, headers, body).await
}

async fn responses(
    State(st): State<Arc<AppState>>,
    Extension(c): Extension<Caller>,
    Extension(r): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    forward(st, Api::Responses, c, r.0, headers, body).await
}

async fn embeddings(
    State(st): State<Arc<AppState>>,
    Extension(c): Extension<Caller>,
    Extension(r): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    forward(st, Api::Embeddings, c, r.0, headers, body).await
}

async fn messages(
    State(st): State<Arc<AppState>>,
    Extension(c): Extension<Caller>,
    Extension(r): Extension<RequestId>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    forward(st, Api::Messages, c, r.0, headers, body).await
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The gate's verdict plus what the audit record and routing need.
struct Admitted {
    region: String,
    track: String,
}

/// Fills the user fields the policy says to log and runs the gate.
fn admit(
    st: &AppState,
    active: &Active,
    pending: &mut Pending,
    shape: Shape,
    tool: &str,
    model: Option<&str>,
    headers: &HeaderMap,
) -> std::result::Result<Admitted, Box<Response>> {
    // Borrowed, not cloned: this function does not await, and a writer waits only briefly.
    let snap = st.snapshot.borrow();
    let policy = &active.policy;
    let fields = &policy.policy.logging_and_evidence.prompt_logging.fields;
    let logs = |f: LogField| fields.contains(&f);
    let region = header_str(headers, "x-certgate-region")
        .map(str::to_owned)
        .or_else(|| snap.user.region.clone());
    let track = gate::track_for(
        policy,
        &st.config.tracks,
        tool,
        header_str(headers, "x-certgate-track"),
    );
    {
        let rec = pending.rec();
        rec.timestamp = logs(LogField::Timestamp)
            .then(|| Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        rec.user_id = snap.user.id.clone().filter(|_| logs(LogField::UserId));
        rec.user_type = snap
            .user
            .user_type
            .clone()
            .filter(|_| logs(LogField::UserType));
        rec.vendor_org = snap
            .user
            .vendor_org
            .clone()
            .filter(|_| logs(LogField::VendorOrg));
        rec.tool_surface = logs(LogField::ToolSurface).then(|| tool.to_owned());
        rec.model = model.map(str::to_owned);
        rec.region = region.clone();
        rec.track = Some(track.clone());
    }
    let request = RequestContext {
        tool_surface: Some(tool.to_owned()),
        region: region.clone(),
        model: model.map(str::to_owned),
    };
    let now = Utc::now();
    let outcome = gate::evaluate(policy, &snap, &track, &request, now);
    let user_id = snap.user.id.clone();
    drop(snap);
    if !outcome.allowed {
        let message = outcome
            .reasons
            .iter()
            .map(|r| match &r.fix {
                Some(fix) => format!("{} (fix: {fix})", r.message),
                None => r.message.clone(),
            })
            .collect::<Vec<_>>()
            .join("; ");
        let reasons_json = serde_json::to_value(&outcome.reasons).unwrap_or_default();
        let resp = reply::error(
            shape,
            StatusCode::FORBIDDEN,
            reply::kind(shape, StatusCode::FORBIDDEN),
            &format!("Certgate denied this request: {message}"),
            Some(json!({"reasons": reasons_json})),
        );
        let checks = outcome.reasons.iter().map(|r| r.check.clone()).collect();
        return Err(Box::new(pending.reject("denied", checks, resp)));
    }
    pending.rec().via_exception = outcome.via_exception;
    if outcome.via_exception {
        let flags = monitor(
            st,
            active,
            Signal::ExceptionAdmission,
            user_id.as_deref(),
            now,
        );
        pending.rec().flags.extend(flags);
    }
    Ok(Admitted {
        region: region.unwrap_or_default(),
        track,
    })
}

/// The upstream for the region; never another region's when cross-border is blocked.
fn route<'a>(
    st: &'a AppState,
    active: &Active,
    pending: &mut Pending,
    shape: Shape,
    region: &str,
) -> std::result::Result<&'a crate::config::Upstream, Box<Response>> {
    if let Some(u) = st.config.upstream_for(region) {
        return Ok(u);
    }
    let residency = &active.policy.policy.model_and_data_controls.data_residency;
    let fallback = st.config.upstreams.first();
    match fallback {
        Some(u) if !residency.block_cross_border => Ok(u),
        _ => {
            let resp = reply::status(
                shape,
                StatusCode::FORBIDDEN,
                &format!(
                    "no model endpoint is configured in region {region} and the policy blocks cross-border processing; the request was not sent"
                ),
            );
            Err(Box::new(pending.reject(
                "refused",
                vec!["region-routing".to_owned()],
                resp,
            )))
        }
    }
}

fn upstream_request(
    st: &AppState,
    api_shape: Shape,
    upstream: &crate::config::Upstream,
    (method, path): (reqwest::Method, &str),
    headers: &HeaderMap,
    rid: &str,
    scopes: &[String],
) -> reqwest::RequestBuilder {
    let url = format!("{}{}", upstream.base_url.trim_end_matches('/'), path);
    let mut rb = st
        .client
        .request(method, url)
        .header(RETRIEVAL_SCOPES, scopes.join(","))
        .header(REQUEST_ID, rid);
    match (api_shape, &upstream.api_key) {
        (Shape::Anthropic, Some(k)) => rb = rb.header("x-api-key", k.expose()),
        (Shape::OpenAi, Some(k)) => rb = rb.bearer_auth(k.expose()),
        (_, None) => {}
    }
    if api_shape == Shape::Anthropic {
        let version = header_str(headers, "anthropic-version").unwrap_or("2023-06-01");
        rb = rb.header("anthropic-version", version);
        if let Some(beta) = header_str(headers, "anthropic-beta") {
            rb = rb.header("anthropic-beta", beta);
        }
    }
    rb
}

enum SendError {
    Timeout,
    Unreachable,
}

async fn send(
    st: &AppState,
    rb: reqwest::RequestBuilder,
) -> std::result::Result<reqwest::Response, SendError> {
    match tokio::time::timeout(st.config.upstream_timeout(), rb.send()).await {
        Err(_) => Err(SendError::Timeout),
        Ok(Err(e)) if e.is_timeout() => Err(SendError::Timeout),
        Ok(Err(_)) => Err(SendError::Unreachable),
        Ok(Ok(r)) => Ok(r),
    }
}

fn send_error(pending: &mut Pending, shape: Shape, e: SendError) -> Response {
    let (status, why, msg) = match e {
        SendError::Timeout => (
            StatusCode::GATEWAY_TIMEOUT,
            "upstream-timeout",
            "the model endpoint did not answer in time",
        ),
        SendError::Unreachable => (
            StatusCode::BAD_GATEWAY,
            "upstream-unreachable",
            "the model endpoint could not be reached",
        ),
    };
    pending.reject(
        "error",
        vec![why.to_owned()],
        reply::status(shape, status, msg),
    )
}

async fn models(
    State(st): State<Arc<AppState>>,
    Extension(c): Extension<Caller>,
    Extension(r): Extension<RequestId>,
    headers: HeaderMap,
) -> Response {
    let mut pending = new_pending(&st, &r.0, "/v1/models");
    let tool = header_str(&headers, "x-certgate-tool")
        .unwrap_or(&c.label)
        .to_owned();
    let shape = Shape::OpenAi;
    let active = st.policy.current();
    let admitted = match admit(&st, &active, &mut pending, shape, &tool, None, &headers) {
        Ok(a) => a,
        Err(resp) => return *resp,
    };
    let upstream = match route(&st, &active, &mut pending, shape, &admitted.region) {
        Ok(u) => u,
        Err(resp) => return *resp,
    };
    let rb = upstream_request(
        &st,
        shape,
        upstream,
        (reqwest::Method::GET, "/v1/models"),
        &headers,
        &r.0,
        &[],
    );
    let resp = match send(&st, rb).await {
        Ok(r) => r,
        Err(e) => return send_error(&mut pending, shape, e),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    match tokio::time::timeout(st.config.upstream_timeout(), resp.bytes()).await {
        Ok(Ok(b)) => {
            pending.rec().bytes_out = b.len() as u64;
            pending.finish("allowed", status);
            (status, [(header::CONTENT_TYPE, "application/json")], b).into_response()
        }
        Ok(Err(_)) => send_error(&mut pending, shape, SendError::Unreachable),
        Err(_) => send_error(&mut pending, shape, SendError::Timeout),
    }
}

fn new_pending(st: &AppState, rid: &str, route: &str) -> Pending {
    Pending {
        audit: st.audit.clone(),
        rec: Some(AuditRecord {
            request_id: rid.to_owned(),
            route: route.to_owned(),
            ..AuditRecord::default()
        }),
        started: Instant::now(),
    }
}

/// `X-Certgate-Approval` value and the audit outcome for a confidence.
fn approval_for(active: &Active, confidence: Option<f64>) -> (Option<&'static str>, &'static str) {
    let t = active
        .policy
        .policy
        .quality_and_safety
        .confidence_thresholds;
    match confidence {
        None => (None, "not_assessed"),
        Some(c) if c < t.require_human_approval_below => (Some("required"), "pending"),
        Some(c) if c > t.allow_auto_draft_above => (Some("auto-draft-allowed"), "not_required"),
        Some(_) => (Some("not-required"), "not_required"),
    }
}

/// Counts `signal` against the policy's alerts; returns the alerts that hold (to flag the
/// record) and notifies those that just started to.
fn monitor(
    st: &AppState,
    active: &Active,
    signal: Signal,
    user: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> Vec<String> {
    let seen = st.monitor.observe(&active.alerts, signal, user, now);
    for f in seen.fired {
        tracing::warn!(
            alert = %f.name,
            user = f.user_id.as_deref().unwrap_or(""),
            count = f.count,
            "monitoring alert"
        );
        let _ = st.events.send(Event::MonitoringAlert {
            name: f.name,
            user_id: f.user_id,
            count: f.count,
            notify: f.notify,
        });
    }
    seen.flags
}

/// Confidence alerts for a finished answer.
fn monitor_answer(st: &AppState, active: &Active, rec: &mut AuditRecord) {
    if let Some(c) = rec.confidence_score {
        let user = st.snapshot.borrow().user.id.clone();
        let flags = monitor(
            st,
            active,
            Signal::Confidence(c),
            user.as_deref(),
            Utc::now(),
        );
        rec.flags.extend(flags);
    }
}

async fn forward(
    st: Arc<AppState>,
    api: Api,
    caller: Caller,
    rid: String,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let shape = if api.is_anthropic() {
        Shape::Anthropic
    } else {
        Shape::OpenAi
    };
    let mut pending = new_pending(&st, &rid, api.path());
    let tool = header_str(&headers, "x-certgate-tool")
        .unwrap_or(&caller.label)
        .to_owned();
    pending.rec().tool_surface = Some(tool.clone());
    let bytes = match axum::body::to_bytes(body, st.config.body_limit_bytes).await {
        Ok(b) => b,
        Err(_) => {
            let resp = reply::status(
                shape,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "request body larger than {} bytes",
                    st.config.body_limit_bytes
                ),
            );
            return pending.reject("refused", vec!["body-limit".to_owned()], resp);
        }
    };
    pending.rec().bytes_in = bytes.len() as u64;
    let mut json: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            let resp = reply::status(shape, StatusCode::BAD_REQUEST, "body must be a JSON object");
            return pending.reject("refused", vec!["invalid-json".to_owned()], resp);
        }
    };
    drop(bytes);
    let Some(model) = json.get("model").and_then(Value::as_str).map(str::to_owned) else {
        let resp = reply::status(shape, StatusCode::BAD_REQUEST, "`model` is required");
        return pending.reject("refused", vec!["no-model".to_owned()], resp);
    };
    let streaming = json.get("stream") == Some(&Value::Bool(true));
    pending.rec().streamed = streaming;

    // One policy for the whole request, even if a new one is applied meanwhile.
    let active = st.policy.current();
    let admitted = match admit(
        &st,
        &active,
        &mut pending,
        shape,
        &tool,
        Some(&model),
        &headers,
    ) {
        Ok(a) => a,
        Err(resp) => return *resp,
    };
    let upstream = match route(&st, &active, &mut pending, shape, &admitted.region) {
        Ok(u) => u,
        Err(resp) => return *resp,
    };

    let scrubbed = match filter::scrub(api, &active.redactor, &mut json) {
        Ok(s) => s,
        Err(filter::Unscannable::Content(kind)) => {
            let resp = reply::status(
                shape,
                StatusCode::UNPROCESSABLE_ENTITY,
                &format!(
                    "content of type `{kind}` cannot be inspected by Certgate, so it is not sent; send it as text"
                ),
            );
            return pending.reject("blocked", vec![format!("unscannable:{kind}")], resp);
        }
    };
    pending.rec().findings = scrubbed.counts.clone();
    if !scrubbed.blocked.is_empty() {
        let types: Vec<String> = scrubbed
            .blocked
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect();
        let _ = st.events.send(Event::RequestBlocked {
            request_id: rid.clone(),
            finding_types: types.clone(),
            tool_surface: tool.clone(),
        });
        let resp = reply::error(
            shape,
            StatusCode::UNPROCESSABLE_ENTITY,
            reply::kind(shape, StatusCode::UNPROCESSABLE_ENTITY),
            &format!(
                "Certgate blocked this request: it contains {}. Remove them and try again; nothing was sent.",
                types.join(", ")
            ),
            Some(json!({"findingTypes": types})),
        );
        return pending.reject("blocked", vec!["dlp".to_owned()], resp);
    }

    let scopes = active
        .policy
        .policy
        .model_and_data_controls
        .retrieval_scopes
        .for_track(&admitted.track);
    pending.rec().retrieval_sources = active
        .policy
        .policy
        .logging_and_evidence
        .prompt_logging
        .fields
        .contains(&LogField::RetrievalSources)
        .then(|| scopes.clone());
    // Always the re-serialised body, never the client's bytes: a body with a duplicate key
    // parses to the last value here but may mean the first one upstream, so only what was
    // scanned may leave.
    let out_body = match serde_json::to_vec(&json) {
        Ok(b) => b,
        Err(_) => {
            let resp = reply::status(shape, StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            return pending.reject("error", vec!["encode".to_owned()], resp);
        }
    };
    drop(json);
    let rb = upstream_request(
        &st,
        shape,
        upstream,
        (reqwest::Method::POST, api.path()),
        &headers,
        &rid,
        &scopes,
    )
    .header(header::CONTENT_TYPE, "application/json")
    .body(out_body);
    let resp = match send(&st, rb).await {
        Ok(r) => r,
        Err(e) => return send_error(&mut pending, shape, e),
    };
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let header_conf = resp
        .headers()
        .get("x-confidence")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|c| (0.0..=1.0).contains(c));
    let is_sse = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    let disallowed = &active.policy.policy.quality_and_safety.disallowed_actions;

    if status.is_success() && is_sse {
        let (approval, outcome) = approval_for(&active, header_conf);
        {
            let rec = pending.rec();
            rec.confidence_score = header_conf;
            rec.approval_outcome = Some(outcome.to_owned());
        }
        let rw = SseRewriter::new(api, scrubbed.vault, scrubbed.json_vault, disallowed.clone());
        let body = sse_body(
            st.clone(),
            active.clone(),
            shape,
            resp,
            rw,
            pending,
            header_conf.is_none(),
        );
        let mut r = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/event-stream")
            .header(header::CACHE_CONTROL, "no-cache");
        if let Some(a) = approval {
            r = r.header(APPROVAL, a);
        }
        return r.body(body).unwrap_or_else(|_| {
            reply::status(shape, StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        });
    }

    let bytes = match tokio::time::timeout(st.config.upstream_timeout(), resp.bytes()).await {
        Ok(Ok(b)) => b,
        Ok(Err(_)) => return send_error(&mut pending, shape, SendError::Unreachable),
        Err(_) => return send_error(&mut pending, shape, SendError::Timeout),
    };
    let Ok(mut answer) = serde_json::from_slice::<Value>(&bytes) else {
        let resp = reply::status(
            shape,
            StatusCode::BAD_GATEWAY,
            "the model endpoint answered with something that is not JSON",
        );
        return pending.reject("error", vec!["upstream-not-json".to_owned()], resp);
    };
    if !status.is_success() {
        restore_all(&mut answer, &scrubbed.vault);
        let out = answer.to_string();
        pending.rec().bytes_out = out.len() as u64;
        pending.rec().reasons = vec![format!("upstream-status-{}", status.as_u16())];
        pending.finish("error", status);
        return (status, [(header::CONTENT_TYPE, "application/json")], out).into_response();
    }
    let facts = answer::rewrite(
        api,
        &mut answer,
        &scrubbed.vault,
        &scrubbed.json_vault,
        disallowed,
    );
    let confidence = header_conf.or(facts.logprob_confidence);
    let (approval, outcome) = approval_for(&active, confidence);
    if let Value::Object(o) = &mut answer {
        o.insert(
            "certgate".to_owned(),
            json!({"requestId": rid, "confidence": confidence,
                   "approval": approval.unwrap_or("not-assessed"),
                   "toolCallsRemoved": facts.tool_calls_removed}),
        );
    }
    let out = answer.to_string();
    let mut rec = pending.take().unwrap_or_default();
    rec.confidence_score = confidence;
    rec.approval_outcome = Some(outcome.to_owned());
    rec.tool_calls_removed = facts.tool_calls_removed;
    rec.bytes_out = out.len() as u64;
    rec.decision = "allowed".to_owned();
    rec.status = status.as_u16();
    monitor_answer(&st, &active, &mut rec);
    st.audit.record(rec);
    let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], out).into_response();
    if let Some(a) = approval {
        resp.headers_mut()
            .insert(APPROVAL, HeaderValue::from_static(a));
    }
    resp
}

struct SseState {
    st: Arc<AppState>,
    active: Arc<Active>,
    shape: Shape,
    upstream: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    rw: SseRewriter,
    pending: Pending,
    use_logprobs: bool,
    done: bool,
    bytes_out: u64,
}

impl SseState {
    fn close(&mut self, decision: &str, reason: Option<&str>) {
        let facts = self.rw.facts.clone();
        let use_logprobs = self.use_logprobs;
        let bytes_out = self.bytes_out;
        let Some(mut rec) = self.pending.take() else {
            return;
        };
        rec.tool_calls_removed = facts.tool_calls_removed;
        rec.bytes_out = bytes_out;
        if use_logprobs && let Some(c) = facts.logprob_confidence() {
            rec.confidence_score = Some(c);
            rec.approval_outcome = Some(approval_for(&self.active, Some(c)).1.to_owned());
        }
        rec.decision = decision.to_owned();
        rec.status = 200;
        if let Some(r) = reason {
            rec.reasons.push(r.to_owned());
        }
        monitor_answer(&self.st, &self.active, &mut rec);
        self.st.audit.record(rec);
    }

    fn error_event(&self, message: &str) -> Vec<u8> {
        let data = match self.shape {
            Shape::OpenAi => {
                json!({"error": {"message": message, "type": "api_error", "code": "upstream_stream_failed"}})
            }
            Shape::Anthropic => {
                json!({"type": "error", "error": {"type": "api_error", "message": message}})
            }
        };
        let name = if self.shape == Shape::Anthropic {
            "event: error\n"
        } else {
            ""
        };
        format!("{name}data: {data}\n\n").into_bytes()
    }
}

fn sse_body(
    st: Arc<AppState>,
    active: Arc<Active>,
    shape: Shape,
    resp: reqwest::Response,
    rw: SseRewriter,
    pending: Pending,
    use_logprobs: bool,
) -> Body {
    let state = SseState {
        st,
        active,
        shape,
        upstream: resp.bytes_stream().boxed(),
        rw,
        pending,
        use_logprobs,
        done: false,
        bytes_out: 0,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        let idle = s.st.config.upstream_timeout();
        loop {
            let out = match tokio::time::timeout(idle, s.upstream.next()).await {
                Ok(Some(Ok(chunk))) => {
                    let out = s.rw.feed(&chunk);
                    if out.is_empty() {
                        continue;
                    }
                    out
                }
                Ok(None) => {
                    s.done = true;
                    let out = s.rw.finish();
                    s.bytes_out += out.len() as u64;
                    s.close("allowed", None);
                    out
                }
                Ok(Some(Err(_))) | Err(_) => {
                    s.done = true;
                    let mut out = s.rw.finish();
                    out.extend(s.error_event("the model endpoint's stream failed or stalled"));
                    s.bytes_out += out.len() as u64;
                    s.close("error", Some("upstream-stream-failed"));
                    out
                }
            };
            s.bytes_out += if s.done { 0 } else { out.len() as u64 };
            return Some((Ok::<_, Infallible>(Bytes::from(out)), s));
        }
    });
    Body::from_stream(stream)
}

/// The policy in force, the last refused change (file, line, field) and how many client keys
/// are accepted: what the app shows when something looks off. Needs the client key, like
/// every route.
async fn status(State(st): State<Arc<AppState>>) -> Response {
    let keys = st.keys.borrow().len();
    Json(json!({"policy": st.policy.status(), "clientKeys": keys})).into_response()
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ApprovalBody {
    request_id: String,
    outcome: String,
}

async fn approvals(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let shape = Shape::OpenAi;
    let Ok(b) = serde_json::from_slice::<ApprovalBody>(&body) else {
        return reply::status(
            shape,
            StatusCode::BAD_REQUEST,
            "expected {\"requestId\": \"req_…\", \"outcome\": \"approved\" | \"rejected\"}",
        );
    };
    if b.outcome != "approved" && b.outcome != "rejected" {
        return reply::status(
            shape,
            StatusCode::BAD_REQUEST,
            "outcome must be approved or rejected",
        );
    }
    match st.audit.approve(&b.request_id, &b.outcome).await {
        Ok(ApprovalResult::Recorded) => {
            Json(json!({"requestId": b.request_id, "approvalOutcome": b.outcome})).into_response()
        }
        Ok(ApprovalResult::NotPending) => reply::status(
            shape,
            StatusCode::NOT_FOUND,
            "no answer with that request id is waiting for approval",
        ),
        Err(_) => reply::status(
            shape,
            StatusCode::SERVICE_UNAVAILABLE,
            "the audit log is unavailable",
        ),
    }
}

#[cfg(test)]
mod tests;
