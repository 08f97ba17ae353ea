//! Training figures: loading the whole demo bundle (signature check, every file decoded and
//! validated) and "last answer → attempt durable on disk" (grade, insert attempt + xAPI
//! statement, commit with full fsync). Prints percentiles.
//!
//! Run: `cargo bench -p certgate-training --bench training`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use certgate_policy::TrustMode;
use certgate_store::Database;
use certgate_training::quiz::correct_responses;
use certgate_training::{AttemptRecord, Records, TrackRules, plan_attempt};

const TRACK: &str = "AI_CONSUMER_EXTERNAL";

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    format!(
        "p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (n={})",
        at(0.5),
        at(0.99),
        at(1.0),
        samples.len()
    )
}

fn main() {
    let policy = certgate_policy::demo::load().unwrap();
    let demo_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-content");

    let mut from_disk = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let bundle = certgate_training::bundle::load_dir(&demo_dir, &policy, TrustMode::Demo);
        from_disk.push(start.elapsed());
        assert!(bundle.is_ok());
    }
    let mut embedded = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let bundle = certgate_training::demo::bundle(&policy);
        embedded.push(start.elapsed());
        assert!(bundle.is_ok());
    }

    let bundle = certgate_training::demo::bundle(&policy).unwrap();
    let rules = TrackRules::from(policy.policy.track(TRACK).unwrap());
    let content = bundle.track(TRACK).unwrap();
    // On the same disk as the build, not a RAM-backed /tmp: fsync must really reach storage.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut records =
        Records::new(Database::open(&dir.path().join("certgate.db")).unwrap()).unwrap();
    let mut durable = Vec::new();
    for seed in 0..300u64 {
        let plan = plan_attempt(&content.bank, content.draw_count, seed);
        let responses = correct_responses(&content.bank, &plan);
        let now = chrono::Utc::now();
        // The clock starts when the last answer is in.
        let start = Instant::now();
        let attempt =
            AttemptRecord::grade(&bundle, TRACK, &rules, seed, responses, now, now).unwrap();
        records.submit_attempt(&attempt).unwrap();
        durable.push(start.elapsed());
    }

    println!("certgate-training bench (cargo bench -p certgate-training --bench training)");
    println!(
        "load demo bundle from folder (verify + decode + validate): {}",
        percentiles(from_disk)
    );
    println!(
        "load embedded demo bundle:                                 {}",
        percentiles(embedded)
    );
    println!(
        "last answer -> attempt durable on disk (target p99 <= 50 ms): {}",
        percentiles(durable)
    );
}
