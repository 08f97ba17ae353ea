//! A mock model provider for demos and tests: OpenAI and Anthropic APIs, streaming and not,
//! answering by echoing the text it received (so a user and a test see exactly what left the
//! device). `GET /__mock/requests` returns the bodies received, newest last.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// How the mock answers. Settable at start and with `POST /__mock/options`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct MockOptions {
    /// Also emit a tool call to this function (e.g. `issue_refund`).
    pub tool_call: Option<String>,
    /// Send an `x-confidence` header with this value.
    pub confidence: Option<f64>,
    /// Attach this logprob to every answer token (OpenAI chat).
    pub logprob: Option<f64>,
    /// Wait this long before answering.
    pub latency_ms: u64,
    /// Write streamed bodies in pieces of this many bytes (1 = one byte per write; 0 = one
    /// write per event).
    pub chunk_bytes: usize,
    /// Characters of answer text per streamed delta.
    pub delta_chars: usize,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            tool_call: None,
            confidence: None,
            logprob: None,
            latency_ms: 0,
            chunk_bytes: 0,
            delta_chars: 4,
        }
    }
}

/// The mock's shared state.
#[derive(Debug, Default)]
pub struct MockState {
    requests: Mutex<Vec<Value>>,
    options: RwLock<MockOptions>,
    cancelled: AtomicU64,
    /// Keep only the last N request bodies (a bench sends 100,000).
    pub keep: usize,
}

impl MockState {
    pub fn new(options: MockOptions) -> Arc<Self> {
        Arc::new(Self {
            requests: Mutex::new(Vec::new()),
            options: RwLock::new(options),
            cancelled: AtomicU64::new(0),
            keep: 1000,
        })
    }

    /// Request bodies received, oldest first (`{"path", "headers", "body"}`).
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Requests whose answer was abandoned because the caller went away.
    pub fn cancelled(&self) -> u64 {
        self.cancelled.load(Ordering::Relaxed)
    }

    pub fn set_options(&self, o: MockOptions) {
        if let Ok(mut w) = self.options.write() {
            *w = o;
        }
    }

    fn options(&self) -> MockOptions {
        self.options.read().map(|o| o.clone()).unwrap_or_default()
    }

    fn push(&self, path: &str, headers: &HeaderMap, body: Value) {
        let picked: serde_json::Map<String, Value> = headers
            .iter()
            .filter(|(k, _)| {
                k.as_str().starts_with("x-certgate") || k.as_str() == "anthropic-version"
            })
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
            .collect();
        if let Ok(mut r) = self.requests.lock() {
            if r.len() >= self.keep.max(1) {
                r.remove(0);
            }
            r.push(json!({"path": path, "headers": picked, "body": body}));
        }
    }
}

/// Counts an answer as cancelled unless it completed.
struct Completion(Arc<MockState>, bool);

impl Completion {
    fn complete(&mut self) {
        self.1 = true;
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The mock's routes.
pub fn router(state: Arc<MockState>) -> axum::Router {
    axum::Router::new()
        .route("/v1/chat/completions", post(answer))
        .route("/v1/responses", post(answer))
        .route("/v1/embeddings", post(answer))
        .route("/v1/messages", post(answer))
        .route("/v1/models", get(models))
        .route("/__mock/requests", get(list).delete(clear))
        .route("/__mock/options", post(set_options))
        .route("/__mock/stats", get(stats))
        .with_state(state)
}

/// A running mock; stops when dropped.
#[derive(Debug)]
pub struct MockHandle {
    pub addr: SocketAddr,
    pub state: Arc<MockState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for MockHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves the mock on `addr` (loopback only).
pub async fn start(addr: SocketAddr, options: MockOptions) -> Result<MockHandle> {
    if !addr.ip().is_loopback() {
        return Err(Error::NotLoopback { addr });
    }
    let state = MockState::new(options);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state.clone());
    tokio::spawn(async move {
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(MockHandle {
        addr: bound,
        state,
        shutdown: Some(tx),
    })
}

async fn list(State(st): State<Arc<MockState>>) -> Json<Vec<Value>> {
    Json(st.requests())
}

async fn clear(State(st): State<Arc<MockState>>) -> StatusCode {
    if let Ok(mut r) = st.requests.lock() {
        r.clear();
    }
    StatusCode::NO_CONTENT
}

async fn stats(State(st): State<Arc<MockState>>) -> Json<Value> {
    let n = st.requests.lock().map(|r| r.len()).unwrap_or(0);
    Json(json!({"requests": n, "cancelled": st.cancelled()}))
}

async fn set_options(State(st): State<Arc<MockState>>, Json(o): Json<MockOptions>) -> StatusCode {
    st.set_options(o);
    StatusCode::NO_CONTENT
}

async fn models() -> Json<Value> {
    Json(json!({"object": "list", "data": [
        {"id": "mock-model", "object": "model", "created": 0, "owned_by": "certgate-mock"}]}))
}

/// Every text the model would see, in order.
fn texts(v: &Value, key: Option<&str>, out: &mut Vec<String>) {
    match v {
        Value::String(s)
            if matches!(
                key,
                None | Some(
                    "content"
                        | "text"
                        | "input"
                        | "system"
                        | "instructions"
                        | "output"
                        | "arguments"
                )
            ) =>
        {
            out.push(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| texts(x, key, out)),
        Value::Object(o) => {
            for (k, x) in o {
                if matches!(
                    k.as_str(),
                    "model"
                        | "role"
                        | "type"
                        | "id"
                        | "name"
                        | "tool_call_id"
                        | "tool_use_id"
                        | "call_id"
                        | "url"
                        | "image_url"
                        | "source"
                        | "stream"
                        | "tools"
                        | "metadata"
                ) {
                    continue;
                }
                texts(x, Some(k), out);
            }
        }
        _ => {}
    }
}

fn echo(body: &Value) -> String {
    let mut out = Vec::new();
    for key in ["system", "instructions", "messages", "input"] {
        if let Some(v) = body.get(key) {
            texts(v, Some(key), &mut out);
        }
    }
    format!("You said: {}", out.join(" | "))
}

fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
}

fn sse(out: &mut Vec<Vec<u8>>, name: Option<&str>, data: &Value) {
    let mut e = String::new();
    if let Some(n) = name {
        e.push_str("event: ");
        e.push_str(n);
        e.push('\n');
    }
    e.push_str("data: ");
    e.push_str(&data.to_string());
    e.push_str("\n\n");
    out.push(e.into_bytes());
}

async fn answer(
    State(st): State<Arc<MockState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut done = Completion(st.clone(), false);
    let path = uri.path().to_owned();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    st.push(&path, &headers, body.clone());
    let o = st.options();
    if o.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(o.latency_ms)).await;
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_owned();
    let text = echo(&body);
    let stream = body.get("stream") == Some(&Value::Bool(true));
    let tool = o.tool_call.clone();
    let args = json!({"note": text}).to_string();
    let mut resp = if !stream {
        let v = match path.as_str() {
            "/v1/chat/completions" => {
                let mut message = json!({"role": "assistant", "content": text});
                if let Some(t) = &tool {
                    message["tool_calls"] = json!([{"id": "call_1", "type": "function",
                        "function": {"name": t, "arguments": args}}]);
                }
                let logprobs = o.logprob.map(|lp| {
                    json!({"content": [
                    {"token": "x", "logprob": lp, "bytes": null, "top_logprobs": []}]})
                });
                json!({"id": "chatcmpl-mock", "object": "chat.completion", "created": 0, "model": model,
                    "choices": [{"index": 0, "message": message, "logprobs": logprobs,
                        "finish_reason": if tool.is_some() {"tool_calls"} else {"stop"}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})
            }
            "/v1/messages" => {
                let mut content = vec![json!({"type": "text", "text": text})];
                if let Some(t) = &tool {
                    content.push(json!({"type": "tool_use", "id": "toolu_1", "name": t, "input": {"note": text}}));
                }
                json!({"id": "msg_mock", "type": "message", "role": "assistant", "model": model,
                    "content": content, "stop_reason": if tool.is_some() {"tool_use"} else {"end_turn"},
                    "stop_sequence": null, "usage": {"input_tokens": 1, "output_tokens": 1}})
            }
            "/v1/responses" => {
                let mut output = vec![
                    json!({"type": "message", "id": "msg_1", "status": "completed",
                    "role": "assistant", "content": [{"type": "output_text", "text": text, "annotations": []}]}),
                ];
                if let Some(t) = &tool {
                    output.push(
                        json!({"type": "function_call", "id": "fc_1", "call_id": "call_1",
                        "name": t, "arguments": args, "status": "completed"}),
                    );
                }
                json!({"id": "resp_mock", "object": "response", "created_at": 0, "status": "completed",
                    "model": model, "output": output, "parallel_tool_calls": true, "tool_choice": "auto",
                    "tools": [], "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2,
                        "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}})
            }
            _ => {
                let n = match body.get("input") {
                    Some(Value::Array(a)) => a.len(),
                    _ => 1,
                };
                let data: Vec<Value> = (0..n)
                    .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}))
                    .collect();
                json!({"object": "list", "data": data, "model": model,
                    "usage": {"prompt_tokens": 1, "total_tokens": 1}})
            }
        };
        done.complete();
        Json(v).into_response()
    } else {
        let events = stream_events(&path, &model, &text, &args, tool.as_deref(), &o);
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        if o.chunk_bytes == 0 {
            chunks = events;
        } else {
            let all: Vec<u8> = events.concat();
            for c in all.chunks(o.chunk_bytes) {
                chunks.push(c.to_vec());
            }
        }
        let s = futures_util::stream::unfold(
            (chunks.into_iter(), done),
            |(mut it, mut done)| async move {
                match it.next() {
                    Some(c) => {
                        tokio::task::yield_now().await;
                        Some((
                            Ok::<_, std::convert::Infallible>(Bytes::from(c)),
                            (it, done),
                        ))
                    }
                    None => {
                        done.complete();
                        None
                    }
                }
            },
        );
        Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .body(Body::from_stream(s))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    };
    if let Some(c) = o.confidence
        && let Ok(v) = c.to_string().parse()
    {
        resp.headers_mut().insert("x-confidence", v);
    }
    resp
}

fn stream_events(
    path: &str,
    model: &str,
    text: &str,
    args: &str,
    tool: Option<&str>,
    o: &MockOptions,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let parts = pieces(text, o.delta_chars);
    match path {
        "/v1/messages" => {
            sse(
                &mut out,
                Some("message_start"),
                &json!({"type": "message_start", "message": {
                "id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 1, "output_tokens": 0}}}),
            );
            sse(
                &mut out,
                Some("content_block_start"),
                &json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}),
            );
            for p in &parts {
                sse(
                    &mut out,
                    Some("content_block_delta"),
                    &json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": p}}),
                );
            }
            sse(
                &mut out,
                Some("content_block_stop"),
                &json!({"type": "content_block_stop", "index": 0}),
            );
            if let Some(t) = tool {
                sse(
                    &mut out,
                    Some("content_block_start"),
                    &json!({"type": "content_block_start", "index": 1,
                    "content_block": {"type": "tool_use", "id": "toolu_1", "name": t, "input": {}}}),
                );
                for p in pieces(args, o.delta_chars) {
                    sse(
                        &mut out,
                        Some("content_block_delta"),
                        &json!({"type": "content_block_delta", "index": 1,
                        "delta": {"type": "input_json_delta", "partial_json": p}}),
                    );
                }
                sse(
                    &mut out,
                    Some("content_block_stop"),
                    &json!({"type": "content_block_stop", "index": 1}),
                );
            }
            sse(
                &mut out,
                Some("message_delta"),
                &json!({"type": "message_delta",
                "delta": {"stop_reason": if tool.is_some() {"tool_use"} else {"end_turn"}, "stop_sequence": null},
                "usage": {"output_tokens": 1}}),
            );
            sse(
                &mut out,
                Some("message_stop"),
                &json!({"type": "message_stop"}),
            );
        }
        "/v1/responses" => {
            let mut seq = 0;
            let mut ev = |out: &mut Vec<Vec<u8>>, mut v: Value| {
                v["sequence_number"] = json!(seq);
                seq += 1;
                let name = v["type"].as_str().unwrap_or("").to_owned();
                sse(out, Some(&name), &v);
            };
            let resp = |status: &str, output: Value| {
                json!({"id": "resp_mock", "object": "response",
                "created_at": 0, "status": status, "model": model, "output": output,
                "parallel_tool_calls": true, "tool_choice": "auto", "tools": []})
            };
            ev(
                &mut out,
                json!({"type": "response.created", "response": resp("in_progress", json!([]))}),
            );
            let item = json!({"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant", "content": []});
            ev(
                &mut out,
                json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
            );
            ev(
                &mut out,
                json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0,
                "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
            );
            for p in &parts {
                ev(
                    &mut out,
                    json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
                    "content_index": 0, "delta": p, "logprobs": []}),
                );
            }
            ev(
                &mut out,
                json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0,
                "content_index": 0, "text": text, "logprobs": []}),
            );
            let part = json!({"type": "output_text", "text": text, "annotations": []});
            ev(
                &mut out,
                json!({"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0,
                "content_index": 0, "part": part}),
            );
            let msg = json!({"type": "message", "id": "msg_1", "status": "completed", "role": "assistant", "content": [part]});
            ev(
                &mut out,
                json!({"type": "response.output_item.done", "output_index": 0, "item": msg}),
            );
            let mut output = vec![msg];
            if let Some(t) = tool {
                let fc = json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": t,
                    "arguments": "", "status": "in_progress"});
                ev(
                    &mut out,
                    json!({"type": "response.output_item.added", "output_index": 1, "item": fc}),
                );
                for p in pieces(args, o.delta_chars) {
                    ev(
                        &mut out,
                        json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1",
                        "output_index": 1, "delta": p}),
                    );
                }
                ev(
                    &mut out,
                    json!({"type": "response.function_call_arguments.done", "item_id": "fc_1",
                    "output_index": 1, "arguments": args}),
                );
                let fc_done = json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": t,
                    "arguments": args, "status": "completed"});
                ev(
                    &mut out,
                    json!({"type": "response.output_item.done", "output_index": 1, "item": fc_done}),
                );
                output.push(fc_done);
            }
            ev(
                &mut out,
                json!({"type": "response.completed", "response": resp("completed", json!(output))}),
            );
        }
        _ => {
            let chunk = |delta: Value, finish: Value, logprobs: Value| {
                json!({"id": "chatcmpl-mock",
                "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]})
            };
            sse(
                &mut out,
                None,
                &chunk(
                    json!({"role": "assistant", "content": ""}),
                    Value::Null,
                    Value::Null,
                ),
            );
            for p in &parts {
                let lp = o.logprob.map_or(Value::Null, |lp| {
                    json!({"content": [
                    {"token": p, "logprob": lp, "bytes": null, "top_logprobs": []}]})
                });
                sse(
                    &mut out,
                    None,
                    &chunk(json!({"content": p}), Value::Null, lp),
                );
            }
            if let Some(t) = tool {
                sse(
                    &mut out,
                    None,
                    &chunk(
                        json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                    "function": {"name": t, "arguments": ""}}]}),
                        Value::Null,
                        Value::Null,
                    ),
                );
                for p in pieces(args, o.delta_chars) {
                    sse(
                        &mut out,
                        None,
                        &chunk(
                            json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}),
                            Value::Null,
                            Value::Null,
                        ),
                    );
                }
            }
            let finish = if tool.is_some() { "tool_calls" } else { "stop" };
            sse(
                &mut out,
                None,
                &chunk(json!({}), json!(finish), Value::Null),
            );
            out.push(b"data: [DONE]\n\n".to_vec());
        }
    }
    out
}
