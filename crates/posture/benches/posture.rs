//! Posture benchmarks: the full Linux check on this machine (no subprocess on the main path)
//! and the cached read done before each AI request. Prints p50/p95 and how to reproduce.
//!
//! Run: cargo bench -p certgate-posture --bench posture
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use certgate_posture::linux::LinuxCheck;
use certgate_posture::{PostureConfig, SystemClock, Watcher};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut samples: Vec<Duration>, unit_div: u32) {
    samples.sort();
    let f = |d: Duration| d / unit_div;
    println!(
        "{name:<46} n={:<6} p50={:>10.3?} p95={:>10.3?} max={:>10.3?}",
        samples.len(),
        f(percentile(&samples, 0.50)),
        f(percentile(&samples, 0.95)),
        f(*samples.last().unwrap()),
    );
}

fn time<F: FnMut()>(n: usize, mut f: F) -> Vec<Duration> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect()
}

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) runs once.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = if quick { 3 } else { 300 };

    let main_path = LinuxCheck::host(PostureConfig {
        allow_subprocess: false,
        ..PostureConfig::default()
    });
    main_path.run(&SystemClock); // warm the page cache
    report(
        "full Linux check, no subprocess (main path)",
        time(n, || {
            black_box(main_path.run(&SystemClock));
        }),
        1,
    );

    report(
        "change fingerprint (signal poll)",
        time(n, || {
            black_box(main_path.fingerprint());
        }),
        1,
    );

    let with_extras = LinuxCheck::host(PostureConfig::default());
    report(
        "full Linux check with optional subprocesses",
        time(n.min(50), || {
            black_box(with_extras.run(&SystemClock));
        }),
        1,
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let initial = main_path.run(&SystemClock);
    rt.block_on(async {
        let w = Watcher::spawn(initial, Duration::from_secs(600), move || {
            main_path.run(&SystemClock)
        });
        let cache = w.cache();
        // Each sample is 1,000 reads; the figure is per read.
        let per = 1_000u32;
        let samples = time(if quick { 3 } else { 2_000 }, || {
            for _ in 0..per {
                black_box(cache.current());
            }
        });
        report(
            "cached read (PostureCache::current), per read",
            samples,
            per,
        );
        let device = cache.current();
        report(
            "cached read + serde_json::to_value (policy input)",
            time(if quick { 3 } else { 2_000 }, || {
                black_box(serde_json::to_value(&*device).unwrap());
            }),
            1,
        );
    });

    if let Some(kib) = peak_rss_kib() {
        println!(
            "peak RSS of this bench process (VmHWM): {:.1} MiB",
            kib as f64 / 1024.0
        );
    }
    println!("targets: full check p95 <= 150 ms, cached read <= 1 ms");
    println!("reproduce: cargo bench -p certgate-posture --bench posture");
}
