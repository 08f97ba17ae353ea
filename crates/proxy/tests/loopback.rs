//! Real loopback tests: the proxy on port 0 in front of the mock upstream, called over TCP.
//! Every failure path asserts the mock received nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use certgate_policy::{CertificationClaim, DeviceFacts, UserContext};
use certgate_proxy::mock::{self, MockHandle, MockOptions};
use certgate_proxy::{
    AuditLog, ClientKey, Deps, Event, GateSnapshot, PolicySlot, ProxyConfig, ProxyHandle,
    Sensitive, Upstream,
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
    pub keys: watch::Sender<Vec<ClientKey>>,
    pub policy: PolicySlot,
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
        switched_off: false,
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
    let policy = PolicySlot::new(Arc::new(certgate_policy::demo::load().unwrap())).unwrap();
    let (keys_tx, keys) = watch::channel(vec![ClientKey {
        key: Sensitive::new(KEY.to_owned()),
        label: "developer-sdk".into(),
    }]);
    let deps = Deps {
        policy: policy.clone(),
        snapshot,
        keys,
        audit: AuditLog::open(certgate_store::Database::open(&db).unwrap(), 365).unwrap(),
        events: events_tx,
    };
    let proxy = certgate_proxy::start(config, deps).await.unwrap();
    Rig {
        mock,
        proxy,
        snap,
        keys: keys_tx,
        policy,
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

#[tokio::test]
async fn a_rotated_key_is_refused_from_the_next_request() {
    let r = rig(MockOptions::default()).await;
    let ok = r
        .post("/v1/chat/completions", chat("q", false))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let new = "rotated-local-key-456";
    r.keys
        .send(vec![ClientKey {
            key: Sensitive::new(new.to_owned()),
            label: "developer-sdk".into(),
        }])
        .unwrap();
    let old = r
        .post("/v1/chat/completions", chat("q", false))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401, "the old key must stop working at once");
    let fresh = r
        .http
        .post(r.url("/v1/chat/completions"))
        .bearer_auth(new)
        .json(&chat("q", false))
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    assert_eq!(r.received().len(), 2, "the refused request sent nothing");
}

/// Policy A redacts PII and admits `developer-sdk`; policy B does not redact and admits only
/// `other-sdk`. They are swapped back and forth while requests run: a request admitted as
/// `developer-sdk` with B's redactor (half of each) would send the email upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_sees_half_of_a_swapped_policy() {
    let r = rig(MockOptions::default()).await;
    let a = Arc::new(certgate_policy::demo::load().unwrap());
    let b_text = certgate_policy::demo::POLICY
        .replace("piiRedaction: true", "piiRedaction: false")
        .replace("- sdk: developer-sdk", "- sdk: other-sdk");
    let b = Arc::new(certgate_policy::parse(&b_text, "b.yaml").unwrap());
    // 10 swaps while batches of concurrent requests run, until the swapping is over.
    let flipper = {
        let slot = r.policy.clone();
        tokio::spawn(async move {
            for n in 0..10 {
                let p = if n % 2 == 0 { b.clone() } else { a.clone() };
                let slot = slot.clone();
                tokio::task::spawn_blocking(move || slot.replace(p).unwrap())
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let tools = ["developer-sdk", "other-sdk"];
    let mut results = Vec::new();
    let mut i = 0;
    // The mock keeps the last 1,000 bodies; stay under that.
    while (!flipper.is_finished() || i < 64) && i < 960 {
        let mut batch = Vec::new();
        for _ in 0..8 {
            let req = r
                .http
                .post(r.url("/v1/chat/completions"))
                .bearer_auth(KEY)
                .header("x-certgate-tool", tools[i % 2])
                .json(&chat(&format!("marker-{i} write to {EMAIL}"), false));
            batch.push(tokio::spawn(async move {
                (i, req.send().await.unwrap().status().as_u16())
            }));
            i += 1;
        }
        for t in batch {
            results.push(t.await.unwrap());
        }
    }
    flipper.await.unwrap();
    println!("{i} requests during 10 policy swaps");
    let mut admitted = [0, 0];
    let sent = r.received();
    for (i, status) in results {
        assert!(status == 200 || status == 403, "request {i}: {status}");
        if status != 200 {
            continue;
        }
        admitted[i % 2] += 1;
        let marker = format!("marker-{i} ");
        let body = sent
            .iter()
            .map(|s| s["body"].to_string())
            .find(|b| b.contains(&marker))
            .unwrap_or_else(|| panic!("request {i} was admitted but not sent"));
        if i % 2 == 0 {
            assert!(
                !body.contains(EMAIL),
                "policy A's request left unredacted: {body}"
            );
        } else {
            assert!(body.contains(EMAIL), "policy B does not redact: {body}");
        }
    }
    assert!(
        admitted[0] > 0 && admitted[1] > 0,
        "both policies served requests: {admitted:?}"
    );
}

#[tokio::test]
async fn a_spike_of_exception_admissions_raises_one_alert() {
    let mut r = rig(MockOptions::default()).await;
    let mut s = certified();
    s.device = Some(DeviceFacts::from_json(
        &json!({"managed": false, "diskEncryption": true}),
    ));
    s.exceptions.push(certgate_proxy::ExceptionGrant {
        track: None,
        tool: Some("developer-sdk".into()),
        expires_at: Utc::now() + chrono::Duration::hours(1),
    });
    r.snap.send(s).unwrap();
    for _ in 0..17 {
        let resp = r
            .post("/v1/chat/completions", chat("q", false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "admitted by the exception");
    }
    let mut alerts = Vec::new();
    while let Ok(e) = r.events.try_recv() {
        if let Event::MonitoringAlert {
            name,
            count,
            user_id,
            ..
        } = e
        {
            alerts.push((name, count, user_id));
        }
    }
    assert_eq!(
        alerts,
        [("spike-in-exceptions".to_owned(), 16, None)],
        "one alert when the 16th exception passes > 15 a day"
    );
    // The records admitted past the threshold are flagged, the ones before are not.
    let db = certgate_store::Database::open(&r.db).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let recs = loop {
        let recs = certgate_proxy::audit::recent(db.conn(), 100).unwrap();
        if recs.len() == 17 || std::time::Instant::now() > deadline {
            break recs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let flagged: Vec<bool> = recs
        .iter()
        .rev()
        .map(|rec| {
            assert!(rec.via_exception, "admitted via the exception");
            rec.flags.iter().any(|f| f == "spike-in-exceptions")
        })
        .collect();
    let mut expected = vec![false; 15];
    expected.extend([true, true]);
    assert_eq!(flagged, expected, "oldest first");
}

#[tokio::test]
async fn status_shows_the_policy_and_a_refused_change_with_its_place() {
    let r = rig(MockOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    let demo_key = certgate_policy::SecretKey::from_pem(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/keys/DEMO-org-signing.key.pem"
        ))
        .unwrap(),
        std::path::Path::new("DEMO-org-signing.key.pem"),
    )
    .unwrap();
    let bad = certgate_policy::demo::POLICY.replace("maxAgeMinutes: 30", "maxAgeMinutes: soon");
    std::fs::write(&path, &bad).unwrap();
    std::fs::write(
        certgate_policy::signing::signature_path(&path),
        demo_key.sign(bad.as_bytes()),
    )
    .unwrap();
    let (events, _) = broadcast::channel(4);
    let file = certgate_proxy::reload::PolicyFile {
        path: path.clone(),
        signer: certgate_proxy::reload::Signer::Demo,
    };
    let outcome = certgate_proxy::reload::check(&r.policy, &file, &mut None, &events);
    assert_eq!(outcome, certgate_proxy::reload::Outcome::Refused);
    let v: Value = r
        .http
        .get(r.url("/certgate/v1/status"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let demo_sha = certgate_policy::demo::load().unwrap().sha256;
    assert_eq!(
        v["policy"]["sha256"],
        demo_sha.as_str(),
        "the old policy stays: {v}"
    );
    let p = &v["policy"]["lastRefusal"]["problems"][0];
    assert_eq!(p["field"], "devicePosture.maxAgeMinutes", "{v}");
    assert_eq!(p["line"], 128, "{v}");
    assert!(p["file"].as_str().unwrap().ends_with("policy.yaml"), "{v}");
    assert_eq!(
        v["policy"]["alertsEvaluated"],
        json!(["spike-in-exceptions", "repeated-low-confidence-usage"])
    );
    let resp = r
        .post("/v1/chat/completions", chat("q", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "still serving under the old policy");
}
