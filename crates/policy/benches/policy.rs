//! Policy load (parse + validate + compile) and gate decisions on the seed policy, with
//! percentiles over individually timed runs.
//!
//! Run: `cargo bench -p certgate-policy --bench policy`
//! Targets (issue 2): load ≤ 5 ms; one decision ≤ 10 µs p99.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use certgate_policy::{DeviceFacts, GateInput, RequestContext, UserContext, parse};

const SEED: &str = include_str!("../../../examples/seed-policy.yaml");

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    (at(0.50), at(0.95), at(0.99))
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, Duration, Duration) {
    for _ in 0..runs / 10 {
        black_box(f());
    }
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            black_box(f());
            start.elapsed()
        })
        .collect();
    percentiles(samples)
}

fn report(name: &str, (p50, p95, p99): (Duration, Duration, Duration)) {
    println!("{name:<44} p50 {p50:>10.2?}  p95 {p95:>10.2?}  p99 {p99:>10.2?}");
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and wants a quick run.
    let full = std::env::args().any(|a| a == "--bench");
    let (load_runs, decide_runs) = if full { (2_000, 200_000) } else { (10, 100) };

    report(
        "policy load+validate+compile (seed)",
        time(load_runs, || parse(SEED, "seed").unwrap()),
    );

    let policy = parse(SEED, "seed").unwrap();
    let user: UserContext = serde_json::from_value(serde_json::json!({
        "userType": "contractor",
        "certifications": {"AI_CONSUMER_EXTERNAL": {"status": "passed", "expiresAt": "2030-01-01T00:00:00Z"}}
    }))
    .unwrap();
    let good =
        DeviceFacts::from_json(&serde_json::json!({"managed": true, "diskEncryption": true}));
    let bad =
        DeviceFacts::from_json(&serde_json::json!({"managed": true, "diskEncryption": false}));
    let request = RequestContext {
        tool_surface: Some("agent-assist".into()),
        region: Some("us-east-1".into()),
        model: None,
    };
    let now = chrono::Utc::now();
    let input = |device| GateInput {
        user: &user,
        device,
        track: "AI_CONSUMER_EXTERNAL",
        request: &request,
        now,
    };
    assert!(policy.decide(input(&good)).allowed);
    assert!(!policy.decide(input(&bad)).allowed);
    report(
        "gate decision, allow",
        time(decide_runs, || policy.decide(input(&good))),
    );
    report(
        "gate decision, deny with reasons",
        time(decide_runs, || policy.decide(input(&bad))),
    );
    println!("reproduce: cargo bench -p certgate-policy --bench policy");
}
