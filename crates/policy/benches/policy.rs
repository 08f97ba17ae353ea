//! Policy load + validate + compile, and one gate decision, on the seed policy.
//! Run: `cargo bench -p certgate-policy --bench policy`
//! Targets (issue 2): load ≤ 5 ms; one decision ≤ 10 µs p99.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use certgate_policy::{DeviceFacts, GateInput, RequestContext, UserContext, parse};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const SEED: &str = include_str!("../../../examples/seed-policy.yaml");

fn load(c: &mut Criterion) {
    c.bench_function("policy load+validate+compile (seed)", |b| {
        b.iter(|| parse(black_box(SEED), "seed-policy.yaml").unwrap())
    });
}

fn decide(c: &mut Criterion) {
    let policy = parse(SEED, "seed-policy.yaml").unwrap();
    let user: UserContext = serde_json::from_value(serde_json::json!({
        "userType": "contractor",
        "certifications": {"AI_CONSUMER_EXTERNAL": {"status": "passed", "expiresAt": "2030-01-01T00:00:00Z"}}
    }))
    .unwrap();
    let device =
        DeviceFacts::from_json(&serde_json::json!({"managed": true, "diskEncryption": true}));
    let request = RequestContext {
        tool_surface: Some("agent-assist".into()),
        region: Some("us-east-1".into()),
        model: None,
    };
    let now = chrono::Utc::now();
    c.bench_function("gate decision (allow)", |b| {
        b.iter(|| {
            let d = policy.decide(GateInput {
                user: &user,
                device: &device,
                track: "AI_CONSUMER_EXTERNAL",
                request: &request,
                now,
            });
            assert!(d.allowed);
        })
    });
    let bad =
        DeviceFacts::from_json(&serde_json::json!({"managed": true, "diskEncryption": false}));
    c.bench_function("gate decision (deny, with reasons)", |b| {
        b.iter(|| {
            let d = policy.decide(GateInput {
                user: &user,
                device: &bad,
                track: "AI_CONSUMER_EXTERNAL",
                request: &request,
                now,
            });
            assert!(!d.allowed);
        })
    });
}

criterion_group!(benches, load, decide);
criterion_main!(benches);
