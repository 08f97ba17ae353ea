//! Proxy overhead, streaming first event, throughput and memory, on loopback only.
//!
//!     cargo bench -p certgate-proxy --bench proxy            # full run (~3 minutes)
//!     cargo bench -p certgate-proxy --bench proxy -- --quick # 10x fewer requests
//!
//! The mock upstream and the proxy each run in their own child process (this binary with
//! `--serve-mock` / `--serve-proxy`), the load generator in this one, so the proxy's RSS is its
//! own. Every request is bounded in count and time and goes to 127.0.0.1 only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use certgate_policy::{CertificationClaim, DeviceFacts, UserContext};
use certgate_proxy::mock::{self, MockOptions};
use certgate_proxy::{
    AuditLog, ClientKey, Deps, GateSnapshot, PolicySlot, ProxyConfig, Sensitive, Upstream,
};
use serde_json::{Value, json};

const KEY: &str = "bench-local-key-0123456789";

fn prompt_1kb() -> String {
    let mut s = String::from(
        "Customer Jane Roe (jane.roe@example.org, +44 20 7946 0958) wrote from 203.0.113.42 \
         about invoice 7731. She says the export job failed twice and asks for a refund. ",
    );
    while s.len() < 1024 {
        s.push_str("Please summarise the ticket history and draft a polite answer. ");
    }
    s.truncate(1024);
    s
}

fn serve_mock() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let m = mock::start(
            "127.0.0.1:0".parse().unwrap(),
            MockOptions {
                delta_chars: 16,
                ..MockOptions::default()
            },
        )
        .await
        .unwrap();
        println!("{}", m.addr);
        tokio::time::sleep(Duration::from_secs(900)).await;
    });
}

fn serve_proxy(upstream: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let db = certgate_store::Database::open(&dir.path().join("certgate.db")).unwrap();
        let now = chrono::Utc::now();
        let snap = GateSnapshot {
            user: UserContext {
                id: Some("bench".into()),
                user_type: Some("contractor".into()),
                vendor_org: Some("acme".into()),
                region: Some("eu-west-1".into()),
                certifications: [(
                    "AI_CONSUMER_EXTERNAL".to_owned(),
                    CertificationClaim {
                        status: "passed".into(),
                        expires_at: Some(now + chrono::Duration::days(30)),
                        score: None,
                        modules: None,
                    },
                )]
                .into(),
            },
            device: Some(DeviceFacts::from_json(
                &json!({"managed": true, "diskEncryption": true}),
            )),
            device_collected_at: Some(now + chrono::Duration::minutes(4)),
            exceptions: vec![],
            switched_off: false,
        };
        let (_tx, snapshot) = tokio::sync::watch::channel(snap);
        let (events, _) = tokio::sync::broadcast::channel(16);
        let deps = Deps {
            policy: PolicySlot::new(Arc::new(certgate_policy::demo::load().unwrap())).unwrap(),
            snapshot,
            keys: tokio::sync::watch::channel(vec![ClientKey {
                key: Sensitive::new(KEY.to_owned()),
                label: "developer-sdk".into(),
            }])
            .1,
            audit: AuditLog::open(db, 365).unwrap(),
            events,
        };
        let config = ProxyConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstreams: vec![Upstream {
                region: "eu-west-1".into(),
                base_url: format!("http://{upstream}"),
                api_key: None,
            }],
            ..ProxyConfig::default()
        };
        let h = certgate_proxy::start(config, deps).await.unwrap();
        println!("{}", h.local_addr());
        tokio::time::sleep(Duration::from_secs(900)).await;
        drop(_tx);
    });
}

fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_owned())
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Run {
    lat_ms: Vec<f64>,
    errors: u64,
    secs: f64,
}

/// `total` requests from `conc` workers; latency to the whole body (or to the first body chunk).
async fn load(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    conc: usize,
    total: u64,
    first_chunk: bool,
) -> Run {
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conc {
        let (client, url, body) = (client.clone(), url.to_owned(), body.to_string());
        let (next, errors) = (next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                let res = client
                    .post(&url)
                    .bearer_auth(KEY)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                let ok = match res {
                    Ok(mut r) if r.status().is_success() => {
                        if first_chunk {
                            let first = r.chunk().await.ok().flatten().is_some();
                            lat.push(t.elapsed().as_secs_f64() * 1000.0);
                            while let Ok(Some(_)) = r.chunk().await {}
                            first
                        } else {
                            let ok = r.bytes().await.is_ok();
                            lat.push(t.elapsed().as_secs_f64() * 1000.0);
                            ok
                        }
                    }
                    _ => false,
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let mut lat_ms = Vec::new();
    for t in tasks {
        lat_ms.extend(t.await.unwrap());
    }
    lat_ms.sort_by(|a, b| a.total_cmp(b));
    Run {
        lat_ms,
        errors: errors.load(Ordering::Relaxed),
        secs: start.elapsed().as_secs_f64(),
    }
}

/// Mean time of `f` over `n` runs, in microseconds.
fn per_op(n: u32, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

/// The proxy's own CPU per request, phase by phase, in this process (no network):
/// `cargo bench -p certgate-proxy --bench proxy -- --phases`.
fn phases() {
    use certgate_proxy::filter::{self, Api};
    let policy = certgate_policy::demo::load().unwrap();
    let redactor =
        certgate_redact::Redactor::new(certgate_proxy::server::redactor_config(&policy)).unwrap();
    let body =
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt_1kb()}]})
            .to_string();
    let now = chrono::Utc::now();
    let snap = certified_snapshot(now);
    let request = certgate_policy::RequestContext {
        tool_surface: Some("developer-sdk".into()),
        region: Some("eu-west-1".into()),
        model: Some("gpt-4o-mini".into()),
    };
    let n = 2000;
    let parse = per_op(n, || {
        std::hint::black_box(serde_json::from_str::<Value>(&body).unwrap());
    });
    let mut scrubbed = None;
    let scrub = per_op(n, || {
        let mut v: Value = serde_json::from_str(&body).unwrap();
        scrubbed = Some(filter::scrub(Api::ChatCompletions, &redactor, &mut v).unwrap());
        std::hint::black_box(&v);
    }) - parse;
    let mut v: Value = serde_json::from_str(&body).unwrap();
    let s = filter::scrub(Api::ChatCompletions, &redactor, &mut v).unwrap();
    let encode = per_op(n, || {
        std::hint::black_box(serde_json::to_vec(&v).unwrap());
    });
    let gate = per_op(n, || {
        std::hint::black_box(certgate_proxy::gate::evaluate(
            &policy,
            &snap,
            "AI_CONSUMER_EXTERNAL",
            &request,
            now,
        ));
    });
    let answer_text = json!({"id": "x", "object": "chat.completion", "choices": [{"index": 0,
        "message": {"role": "assistant", "content": v["messages"][0]["content"]}, "finish_reason": "stop"}]})
    .to_string();
    let answer = per_op(n, || {
        let mut a: Value = serde_json::from_str(&answer_text).unwrap();
        certgate_proxy::answer::rewrite(Api::ChatCompletions, &mut a, &s.vault, &s.json_vault, &[]);
        std::hint::black_box(a.to_string());
    });
    println!("proxy CPU per request by phase (1 KB prompt with PII, {n} runs each, this process):");
    println!(
        "  parse request JSON {parse:.1} us | redact (scrub) {scrub:.1} us | encode {encode:.1} us | gate {gate:.1} us | answer parse+restore+encode {answer:.1} us"
    );
    drop(scrubbed);
}

fn certified_snapshot(now: chrono::DateTime<chrono::Utc>) -> GateSnapshot {
    GateSnapshot {
        user: UserContext {
            id: Some("bench".into()),
            user_type: Some("contractor".into()),
            vendor_org: Some("acme".into()),
            region: Some("eu-west-1".into()),
            certifications: [(
                "AI_CONSUMER_EXTERNAL".to_owned(),
                CertificationClaim {
                    status: "passed".into(),
                    expires_at: Some(now + chrono::Duration::days(30)),
                    score: None,
                    modules: None,
                },
            )]
            .into(),
        },
        device: Some(DeviceFacts::from_json(
            &json!({"managed": true, "diskEncryption": true}),
        )),
        device_collected_at: Some(now),
        exceptions: vec![],
        switched_off: false,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--phases") {
        return phases();
    }
    if args.iter().any(|a| a == "--serve-mock") {
        return serve_mock();
    }
    if args.iter().any(|a| a == "--redactor-rss") {
        let policy = certgate_policy::demo::load().unwrap();
        let before = rss_kb(std::process::id(), "VmRSS:");
        let r = certgate_redact::Redactor::new(certgate_proxy::server::redactor_config(&policy))
            .unwrap();
        let after = rss_kb(std::process::id(), "VmRSS:");
        println!("{}", after.saturating_sub(before));
        drop(r);
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--serve-proxy") {
        return serve_proxy(&args[i + 1]);
    }
    let quick = args.iter().any(|a| a == "--quick");
    // The load generator's own HTTP client needs a TLS provider even for http:// URLs.
    certgate_credentials::client::install_tls_provider();
    let scale = if quick { 10 } else { 1 };

    let (mut mock_child, mock_addr) = spawn(&["--serve-mock"]);
    let (mut proxy_child, proxy_addr) = spawn(&["--serve-proxy", &mock_addr]);
    let proxy_pid = proxy_child.id();
    let idle_rss = rss_kb(proxy_pid, "VmRSS:");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let warm_rss = rt.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(128)
            .build()
            .unwrap();
        let prompt = prompt_1kb();
        let body = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]});
        let sbody = json!({"model": "gpt-4o-mini", "stream": true,
            "messages": [{"role": "user", "content": prompt}]});
        let direct = format!("http://{mock_addr}/v1/chat/completions");
        let via = format!("http://{proxy_addr}/v1/chat/completions");
        // Warm both paths (connections, the redactor's lazily compiled rules): 1,000 requests
        // through the proxy, then its RSS.
        load(&client, &direct, &body, 4, 500, false).await;
        load(&client, &via, &body, 4, 1000, false).await;
        let warm_rss = rss_kb(proxy_pid, "VmRSS:");

        println!("Certgate proxy bench (loopback, 1 KB prompt with PII, DLP on, audit on)");
        println!("command: cargo bench -p certgate-proxy --bench proxy{}", if quick { " -- --quick" } else { "" });
        for (conc, n) in [(1usize, 3000u64 / scale), (16, 16000 / scale)] {
            let d = load(&client, &direct, &body, conc, n, false).await;
            let p = load(&client, &via, &body, conc, n, false).await;
            let (d50, d99) = (pct(&d.lat_ms, 0.5), pct(&d.lat_ms, 0.99));
            let (p50, p99) = (pct(&p.lat_ms, 0.5), pct(&p.lat_ms, 0.99));
            println!(
                "concurrency {conc:>2}, {n} req: direct p50 {d50:.3} ms p99 {d99:.3} ms | via proxy p50 {p50:.3} ms p99 {p99:.3} ms | added p50 {:+.3} ms p99 {:+.3} ms | errors {}",
                p50 - d50,
                p99 - d99,
                d.errors + p.errors
            );
        }
        let n = 2000 / scale;
        let d = load(&client, &direct, &sbody, 1, n, true).await;
        let p = load(&client, &via, &sbody, 1, n, true).await;
        println!(
            "streaming first event, {n} req: direct p50 {:.3} ms | via proxy p50 {:.3} ms p99 {:.3} ms | added p50 {:+.3} ms | errors {}",
            pct(&d.lat_ms, 0.5),
            pct(&p.lat_ms, 0.5),
            pct(&p.lat_ms, 0.99),
            pct(&p.lat_ms, 0.5) - pct(&d.lat_ms, 0.5),
            d.errors + p.errors
        );
        let n = 100_000 / scale;
        let t = load(&client, &via, &body, 64, n, false).await;
        println!(
            "throughput via proxy, concurrency 64, {n} req: {:.0} req/s, errors {}, p50 {:.2} ms p99 {:.2} ms",
            n as f64 / t.secs,
            t.errors,
            pct(&t.lat_ms, 0.5),
            pct(&t.lat_ms, 0.99)
        );
        warm_rss
    });
    let peak = rss_kb(proxy_pid, "VmHWM:");
    // The load client is gone with its connections. jemalloc's background threads return
    // freed pages within its 10 s decay time; the proxy's idle upstream connections (and their
    // buffers, ~2.4 MB for 64) close once idle for the 60 s pool timeout, at the pool's next
    // sweep (sweeps are 60 s apart), so within 120 s.
    let mut after = Vec::new();
    for (wait, at) in [(3, 3), (12, 15), (50, 65), (65, 130)] {
        std::thread::sleep(Duration::from_secs(wait));
        after.push(format!(
            "{at} s after {:.1} MB",
            rss_kb(proxy_pid, "VmRSS:") as f64 / 1024.0
        ));
    }
    println!(
        "proxy RSS (VmRSS/VmHWM of the proxy child): at start {:.1} MB, idle once warm (1,000 requests: word lists, phone metadata, regex caches per worker) {:.1} MB, peak under load {:.1} MB, {}",
        idle_rss as f64 / 1024.0,
        warm_rss as f64 / 1024.0,
        peak as f64 / 1024.0,
        after.join(", ")
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--redactor-rss")
        .output()
        .unwrap();
    let kb: f64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(f64::NAN);
    println!(
        "of which Redactor::new (the redaction engine's compiled detectors): {:.1} MB",
        kb / 1024.0
    );
    let _ = proxy_child.kill();
    let _ = mock_child.kill();
    let _ = proxy_child.wait();
    let _ = mock_child.wait();
}
