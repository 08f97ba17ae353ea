//! Memory: resident set size before and after `Redactor::new`, and after a first scan of a
//! mixed prompt (which compiles the secret rules its keywords hit and loads phone metadata).
//!
//! Reproduce: `cargo bench -p certgate-redact --bench memory` (Linux: reads /proc/self/status).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use certgate_redact::{Redactor, RedactorConfig, Vault};

fn rss_kb() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

const PROMPT: &str = "Hi team, customer Dana Whitfield (dana.whitfield@mailbox.org, +44 20 7946 0958) \
    gets card 4539 1488 0343 6467 declined from 198.51.100.23; IBAN DE89 3704 0044 0532 0130 00. \
    The config has api_key = \"k8Zq2LpX9vR4mN7wT3yB6cD1\" and password=hunter2hunter2.";

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter.
    let before = rss_kb();
    let redactor = Redactor::new(RedactorConfig::default()).unwrap();
    let after_new = rss_kb();
    let out = redactor.apply(PROMPT, &mut Vault::new());
    std::hint::black_box(&out);
    let after_scan = rss_kb();
    let mb = |kb: Option<u64>| {
        kb.map_or_else(
            || "n/a".to_owned(),
            |k| format!("{:.1} MB", k as f64 / 1024.0),
        )
    };
    println!("certgate-redact memory (VmRSS)");
    println!("reproduce: cargo bench -p certgate-redact --bench memory");
    println!("  before Redactor::new   {}", mb(before));
    println!("  after Redactor::new    {}", mb(after_new));
    println!(
        "  after first apply      {} ({} findings)",
        mb(after_scan),
        out.findings.len()
    );
}
