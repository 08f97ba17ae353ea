//! Real loopback tests: the proxy on port 0 in front of the mock upstream, called over TCP.
//! Every failure path asserts the mock received nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use certgate_policy::{CertificationClaim, DeviceFacts, UserContext};
use certgate_proxy::mock::{self, MockHandle, MockOptions};
use certgate_proxy::{
    AuditLog, ClientKey, Deps, Event, GateSnapshot, ProxyConfig, ProxyHandle, Sensitive, Upstream,
};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

pub const KEY: &str = "test-local-key-123";

#[allow(missing_debug_implementations)]
pub struct Rig {
    pub mock: MockHandle,
    pub proxy: ProxyHandle,
    pub snap: watch::Sender<GateSnapshot>,
    pub events: broadcast::Receiver<Event>,
    pub db: std::path::PathBuf,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Rig {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.proxy.local_addr(), path)
    }

    pub fn post(&self, path: &str, body: Value) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(KEY).json(&body)
    }

    pub fn received(&self) -> Vec<Value> {
        self.mock.state.requests()
    }

    pub fn assert_nothing_sent(&self, why: &str) {
        assert!(
            self.received().is_empty(),
            "{why}: the upstream must receive nothing"
        );
    }
}

pub fn certified() -> GateSnapshot {
    let now = Utc::now();
    GateSnapshot {
        user: UserContext {
            id: Some("user-1".into()),
            user_type: Some("contractor".into()),
            vendor_org: Some("acme-bpo".into()),
            region: Some("eu-west-1".into()),
            certifications: [(
                "AI_CONSUMER_EXTERNAL".to_owned(),
                CertificationClaim {
                    status: "passed".into(),
                    expires_at: Some(now + chrono::Duration::days(90)),
                    score: Some(92.0),
                    modules: None,
                },
            )]
            .into(),
        },
        device: Some(DeviceFacts::from_json(
            &json!({"managed": true, "diskEncryption": true}),
        )),
        device_collected_at: Some(now),
        exceptions: Vec::new(),
    }
}

pub async fn rig_with(options: MockOptions, tweak: impl FnOnce(&mut ProxyConfig)) -> Rig {
    let mock = mock::start("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("certgate.db");
    let mut config = ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstreams: vec![Upstream {
            region: "eu-west-1".into(),
            base_url: format!("http://{}", mock.addr),
            api_key: Some(Sensitive::new("sk-upstream".to_owned())),
        }],
        upstream_timeout_secs: 5,
        ..ProxyConfig::default()
    };
    tweak(&mut config);
    let (snap, snapshot) = watch::channel(certified());
    let (events_tx, events) = broadcast::channel(64);
    let deps = Deps {
        policy: Arc::new(certgate_policy::demo::load().unwrap()),
        snapshot,
        keys: vec![ClientKey {
            key: Sensitive::new(KEY.to_owned()),
            label: "developer-sdk".into(),
        }],
        audit: AuditLog::open(certgate_store::Database::open(&db).unwrap(), 365).unwrap(),
        events: events_tx,
    };
    let proxy = certgate_proxy::start(config, deps).await.unwrap();
    Rig {
        mock,
        proxy,
        snap,
        events,
        db,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        _dir: dir,
    }
}

pub async fn rig(options: MockOptions) -> Rig {
    rig_with(options, |_| {}).await
}

const EMAIL: &str = "jane.roe@example.org";

fn chat(content: &str, stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream, "messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": content}]})
}

fn sse_text(body: &str, pointer: &str) -> String {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

#[tokio::test]
async fn email_pseudonymized_upstream_and_restored_for_the_client() {
    let r = rig(MockOptions::default()).await;
    let resp = r
        .post(
            "/v1/chat/completions",
            chat(&format!("Reply to {EMAIL} today"), false),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-certgate-request-id"));
    let v: Value = resp.json().await.unwrap();
    let answer = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(answer.contains(EMAIL), "restored for the client: {answer}");
    let sent = r.received();
    assert_eq!(sent.len(), 1);
    let upstream_body = sent[0]["body"].to_string();
    assert!(
        !upstream_body.contains(EMAIL),
        "the email left the device: {upstream_body}"
    );
    assert!(upstream_body.contains("[EMAIL_1]"));
    assert_eq!(
        sent[0]["headers"]["x-certgate-retrieval-scopes"], "kb_support,kb_product",
        "retrieval scopes for the track go upstream"
    );
}

#[tokio::test]
async fn streaming_one_byte_chunks_restored_openai_anthropic_responses() {
    let r = rig(MockOptions {
        chunk_bytes: 1,
        delta_chars: 1,
        ..MockOptions::default()
    })
    .await;
    let body = r
        .post(
            "/v1/chat/completions",
            chat(&format!("mail {EMAIL} \"quoted\" é"), true),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let text = sse_text(&body, "/choices/0/delta/content");
    assert!(
        text.contains(EMAIL) && text.contains("\"quoted\" é"),
        "{text}"
    );
    assert!(body.trim_end().ends_with("data: [DONE]"));

    let body = r
        .post(
            "/v1/messages",
            json!({"model": "claude", "max_tokens": 50, "stream": true,
            "system": format!("Owner {EMAIL}"), "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sse_text(&body, "/delta/text").contains(EMAIL), "{body}");

    let body = r
        .post(
            "/v1/responses",
            json!({"model": "gpt", "stream": true, "input": format!("to {EMAIL}")}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sse_text(&body, "/delta").contains(EMAIL));
    for req in r.received() {
        assert!(!req["body"].to_string().contains(EMAIL), "leaked upstream");
    }
}

#[tokio::test]
async fn aws_key_blocked_with_422_types_only_and_an_event() {
    let mut r = rig(MockOptions::default()).await;
    let secret = "AKIAZ3MSJV4WWNKWW5FQ";
    let resp = r
        .post(
            "/v1/chat/completions",
            chat(&format!("deploy with {secret} now"), false),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let text = resp.text().await.unwrap();
    assert!(!text.contains(secret), "a value in the error: {text}");
    assert!(text.contains("SECRET"), "{text}");
    r.assert_nothing_sent("blocked secret");
    match r.events.try_recv().unwrap() {
        Event::RequestBlocked { finding_types, .. } => assert_eq!(finding_types, vec!["SECRET"]),
        other => panic!("unexpected event {other:?}"),
    }
}

type SnapshotChange = Box<dyn Fn(&mut GateSnapshot)>;

#[tokio::test]
async fn gate_denials_send_nothing() {
    let r = rig(MockOptions::default()).await;
    let now = Utc::now();
    let cases: Vec<(&str, SnapshotChange)> = vec![
        (
            "no certification",
            Box::new(|s| s.user.certifications.clear()),
        ),
        (
            "expired certification",
            Box::new(move |s| {
                s.user
                    .certifications
                    .get_mut("AI_CONSUMER_EXTERNAL")
                    .unwrap()
                    .expires_at = Some(now - chrono::Duration::hours(1));
            }),
        ),
        (
            "failing posture",
            Box::new(|s| {
                s.device = Some(DeviceFacts::from_json(
                    &json!({"managed": true, "diskEncryption": false}),
                ))
            }),
        ),
        (
            "stale posture",
            Box::new(move |s| s.device_collected_at = Some(now - chrono::Duration::hours(2))),
        ),
        ("no posture", Box::new(|s| s.device = None)),
        (
            "region without upstream",
            Box::new(|s| s.user.region = Some("us-east-1".into())),
        ),
    ];
    for (name, change) in cases {
        let mut s = certified();
        change(&mut s);
        r.snap.send(s).unwrap();
        let resp = r
            .post("/v1/chat/completions", chat("hello", false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{name}");
        let v: Value = resp.json().await.unwrap();
        assert!(v["error"]["message"].is_string(), "{name}: API error shape");
        r.assert_nothing_sent(name);
    }
    let mut s = certified();
    s.device_collected_at = Some(now - chrono::Duration::hours(2));
    r.snap.send(s).unwrap();
    let v: Value = r
        .post("/v1/chat/completions", chat("hello", false))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("posture is stale"),
        "{v}"
    );
}

#[tokio::test]
async fn origin_host_and_key_checks_send_nothing() {
    let r = rig(MockOptions::default()).await;
    let resp = r
        .post("/v1/chat/completions", chat("hi", false))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "foreign Origin");
    let resp = r
        .post("/v1/chat/completions", chat("hi", false))
        .header("host", "rebind.evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "non-loopback Host");
    let resp = r
        .http
        .post(r.url("/v1/messages"))
        .header("x-api-key", "wrong")
        .json(&json!({"model": "m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = r
        .post(
            "/v1/chat/completions",
            chat(&"x".repeat(5 * 1024 * 1024), false),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    r.assert_nothing_sent("refused before the gate");
}

#[tokio::test]
async fn disallowed_tool_call_removed_low_confidence_flagged_and_approved() {
    let r = rig(MockOptions {
        tool_call: Some("issue_refund".into()),
        confidence: Some(0.5),
        ..MockOptions::default()
    })
    .await;
    let resp = r
        .post("/v1/chat/completions", chat("refund order 7", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-certgate-approval"], "required");
    let rid = resp.headers()["x-certgate-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let v: Value = resp.json().await.unwrap();
    let msg = &v["choices"][0]["message"];
    assert!(msg.get("tool_calls").is_none(), "{v}");
    assert!(msg["content"].as_str().unwrap().contains("issue_refund"));
    assert_eq!(v["certgate"]["toolCallsRemoved"], 1);

    let resp = r
        .post(
            "/certgate/v1/approvals",
            json!({"requestId": rid, "outcome": "approved"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let again = r
        .post(
            "/certgate/v1/approvals",
            json!({"requestId": rid, "outcome": "rejected"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "an answer is approved once");

    tokio::time::sleep(Duration::from_millis(200)).await;
    let db = certgate_store::Database::open(&r.db).unwrap();
    let mut out = Vec::new();
    certgate_proxy::audit::export(db.conn(), certgate_proxy::ExportFormat::JsonLines, &mut out)
        .unwrap();
    let line: Value = serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["approvalOutcome"], "approved");
    assert_eq!(line["toolCallsRemoved"], 1);
    assert_eq!(line["confidenceScore"], 0.5);
    assert_eq!(line["userId"], "user-1");
    assert!(certgate_proxy::audit::verify(db.conn()).unwrap().ok);
    assert!(
        !String::from_utf8(out).unwrap().contains("refund order"),
        "no prompt text in audit"
    );
}

#[tokio::test]
async fn repeated_low_confidence_raises_one_alert_and_flags() {
    let mut r = rig(MockOptions {
        confidence: Some(0.3),
        ..MockOptions::default()
    })
    .await;
    for _ in 0..26 {
        let resp = r
            .post("/v1/chat/completions", chat("q", false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let mut alerts = 0;
    while let Ok(e) = r.events.try_recv() {
        if let Event::MonitoringAlert { name, count, .. } = e {
            assert_eq!(name, "repeated-low-confidence-usage");
            assert_eq!(count, 26, "fires when the 26th event passes > 25");
            alerts += 1;
        }
    }
    assert_eq!(alerts, 1);
}

#[tokio::test]
async fn upstream_down_502_timeout_504_and_disconnect_cancels() {
    let r = rig_with(MockOptions::default(), |c| {
        c.upstreams[0].base_url = "http://127.0.0.1:9".into();
    })
    .await;
    let resp = r
        .post("/v1/chat/completions", chat("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);

    let r = rig_with(
        MockOptions {
            latency_ms: 3000,
            ..MockOptions::default()
        },
        |c| c.upstream_timeout_secs = 1,
    )
    .await;
    let resp = r
        .post("/v1/chat/completions", chat("hi", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);

    let r = rig(MockOptions {
        latency_ms: 2000,
        ..MockOptions::default()
    })
    .await;
    let res = r
        .post("/v1/chat/completions", chat("hi", false))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(res.is_err(), "client gave up");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        r.mock.state.cancelled(),
        1,
        "the upstream request was cancelled"
    );
}

#[tokio::test]
async fn models_embeddings_and_anthropic_non_streaming() {
    let r = rig(MockOptions::default()).await;
    let v: Value = r
        .http
        .get(r.url("/v1/models"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"][0]["id"], "mock-model");
    let v: Value = r
        .post(
            "/v1/embeddings",
            json!({"model": "e", "input": [format!("a {EMAIL}"), "b"]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let v: Value = r
        .http
        .post(r.url("/v1/messages"))
        .header("x-api-key", KEY)
        .json(&json!({"model": "claude", "max_tokens": 10,
            "messages": [{"role": "user", "content": [{"type": "text", "text": format!("hi {EMAIL}")}]}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["content"][0]["text"].as_str().unwrap().contains(EMAIL));
    for req in r.received() {
        assert!(!req["body"].to_string().contains(EMAIL));
    }
    let anth = r
        .received()
        .into_iter()
        .find(|q| q["path"] == "/v1/messages")
        .unwrap();
    assert_eq!(anth["headers"]["anthropic-version"], "2023-06-01");
}

/// Whether a Python with the official SDKs is available; fails when CI requires them.
fn sdks_available() -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", "import openai, anthropic"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CERTGATE_REQUIRE_SDKS").as_deref() != Ok("1"),
            "CERTGATE_REQUIRE_SDKS=1 but `python3 -c 'import openai, anthropic'` failed: \
             pip install openai anthropic"
        );
        eprintln!("notice: skipping the official SDK test (pip install openai anthropic)");
    }
    ok
}

async fn run_sdk_script(r: &Rig, mode: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk_clients.py");
    let base = format!("http://{}", r.proxy.local_addr());
    let mock = format!("http://{}", r.mock.addr);
    let out = tokio::process::Command::new("python3")
        .args([script, mode, &base, KEY, &mock])
        .env("NO_PROXY", "*")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "SDK script ({mode}) failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
    eprintln!("SDK script ({mode}):\n{stdout}");
}

fn curl(args: &[&str]) -> (String, String) {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = s.rsplit_once('\n').unwrap_or((&s, ""));
    (body.to_owned(), code.to_owned())
}

#[tokio::test]
async fn official_sdks_and_curl() {
    let r = rig(MockOptions {
        chunk_bytes: 1,
        delta_chars: 2,
        ..MockOptions::default()
    })
    .await;
    let url = r.url("/v1/chat/completions");
    let auth = format!("Authorization: Bearer {KEY}");
    let body = chat(&format!("hello {EMAIL}"), false).to_string();
    let r2 = r.url("");
    let (out, code) = tokio::task::spawn_blocking(move || {
        curl(&[
            &url,
            "-H",
            &auth,
            "-H",
            "content-type: application/json",
            "-d",
            &body,
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, "200", "{out}");
    assert!(out.contains(EMAIL));
    let (out, code) = tokio::task::spawn_blocking(move || {
        curl(&[
            &format!("{r2}/v1/models"),
            "-H",
            "Origin: https://evil.example",
            "-H",
            &format!("Authorization: Bearer {KEY}"),
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, "403", "{out}");

    if !sdks_available() {
        return;
    }
    run_sdk_script(&r, "allowed").await;
    let mut s = certified();
    s.user.certifications.clear();
    r.snap.send(s).unwrap();
    run_sdk_script(&r, "denied").await;
    let mut s = certified();
    s.device = Some(DeviceFacts::from_json(
        &json!({"managed": false, "diskEncryption": true}),
    ));
    r.snap.send(s).unwrap();
    run_sdk_script(&r, "denied").await;
}
