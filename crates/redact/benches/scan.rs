//! Speed: scan + pseudonymize of prompts (1 KB, 64 KB, 1 MB of mixed text) and the
//! restorer's per-chunk cost.
//!
//! Reproduce: `cargo bench -p certgate-redact --bench scan`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use certgate_redact::{Redactor, RedactorConfig, Vault};

/// jemalloc, as in every binary that runs the redactor (the CLI, the proxy and the app link the
/// proxy's allocator): a prompt makes a few hundred small allocations, and glibc's malloc would
/// give the figures of an allocator nothing ships with.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// A realistic prompt block: prose, code, a log line, JSON with PII, a config snippet.
const BLOCK: &str = "Hi team, the checkout service fails for customer Dana Whitfield (dana.whitfield@mailbox.org, +44 20 7946 0958).\n\
```python\ndef charge(card, amount):\n    resp = client.post('/v2/charges', json={'card': card, 'amount': amount, 'currency': 'eur'})\n    return resp.json()['id']\n```\n\
2024-03-15T10:30:00Z ERROR payments[4127] request 123e4567-e89b-12d3-a456-426614174000 from 198.51.100.23 failed: card 4539 1488 0343 6467 declined after 1204 ms\n\
{\"order\": 100234, \"iban\": \"DE89 3704 0044 0532 0130 00\", \"status\": \"pending\", \"sha\": \"9fceb02d0ae598e95dc970b74767f19372d61af8\"}\n\
Upgrade nginx from 1.25.3 to 1.27.0 and move the listener from port 8080 to 8443; the p99 went from 120 ms to 480 ms.\n\
Can you explain why the retry with exponential backoff does not kick in, and suggest a fix? Thanks!\n";

fn text_of(len: usize) -> String {
    let mut s = String::with_capacity(len + BLOCK.len());
    while s.len() < len {
        s.push_str(BLOCK);
    }
    let mut cut = len;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

/// Like `text_of`, but every block carries a different phone number and card, so caches of
/// validated values never hit: the cost for text where nothing repeats.
fn unique_text_of(len: usize) -> String {
    let mut s = String::with_capacity(len + BLOCK.len());
    let mut i = 0u32;
    while s.len() < len {
        let phone = format!("+44 20 7946 {:04}", i % 10_000);
        s.push_str(&BLOCK.replace("+44 20 7946 0958", &phone));
        i += 1;
    }
    let mut cut = len;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}

fn scan(c: &mut Criterion) {
    let r = Redactor::new(RedactorConfig::default()).unwrap();
    let mut g = c.benchmark_group("scan_pseudonymize");
    for (name, len) in [("1KB", 1024), ("64KB", 64 * 1024), ("1MB", 1024 * 1024)] {
        let text = text_of(len);
        g.throughput(Throughput::Bytes(text.len() as u64));
        if len >= 1024 * 1024 {
            g.sample_size(10);
        }
        g.bench_with_input(BenchmarkId::from_parameter(name), &text, |b, t| {
            b.iter(|| {
                let mut v = Vault::new();
                r.apply(t, &mut v)
            });
        });
    }
    g.finish();

    let mut g = c.benchmark_group("scan_pseudonymize_unique_numbers");
    let text = unique_text_of(1024 * 1024);
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(10);
    g.bench_function("1MB", |b| {
        b.iter(|| {
            let mut v = Vault::new();
            r.apply(&text, &mut v)
        });
    });
    g.finish();

    // p50/p99 of single 1 KB prompts (criterion reports means; print the percentiles).
    let prompt = text_of(1024);
    let mut times: Vec<std::time::Duration> = (0..2000)
        .map(|_| {
            let t = std::time::Instant::now();
            let mut v = Vault::new();
            std::hint::black_box(r.apply(&prompt, &mut v));
            t.elapsed()
        })
        .collect();
    times.sort_unstable();
    println!(
        "1KB scan+pseudonymize: p50 {:?}, p99 {:?} (2000 runs)",
        times[times.len() / 2],
        times[times.len() * 99 / 100]
    );
    prompts_one_by_one(&r);
}

/// Texts of a JSONL corpus (`{"text": ...}` per line); empty when the file is absent.
fn corpus(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_owned))
        .collect()
}

/// Real prompts one per call, as the proxy sees them: short texts, where the per-call cost
/// (about twenty detector passes, a fresh vault) weighs more than in one long text.
fn prompts_one_by_one(r: &Redactor) {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let bench_dir = std::env::var_os("CERTGATE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| here.join("../../../shared/bench"));
    for (label, path) in [
        ("own corpus", here.join("testdata/prompts.jsonl")),
        ("pii-public", bench_dir.join("pii-public.jsonl")),
    ] {
        let texts = corpus(&path);
        if texts.is_empty() {
            continue;
        }
        let bytes: usize = texts.iter().map(String::len).sum();
        let run = || {
            let t = std::time::Instant::now();
            for text in &texts {
                let mut v = Vault::new();
                std::hint::black_box(r.apply(text, &mut v));
            }
            t.elapsed()
        };
        run(); // warm the lazily built automata and the phone-number memo
        let best = (0..20).map(|_| run()).min().unwrap_or_default();
        println!(
            "{label}, one prompt per call ({} prompts, {} bytes on average): {:.1} µs per prompt, {:.1} MB/s",
            texts.len(),
            bytes / texts.len(),
            best.as_secs_f64() * 1e6 / texts.len() as f64,
            bytes as f64 / best.as_secs_f64() / 1e6
        );
    }
}

fn restore(c: &mut Criterion) {
    let r = Redactor::new(RedactorConfig::default()).unwrap();
    let mut vault = Vault::new();
    let answer = r.apply(&text_of(16 * 1024), &mut vault).text;
    // Typical SSE deltas are a few tokens: 16-byte chunks.
    let chunks: Vec<&[u8]> = answer.as_bytes().chunks(16).collect();
    let mut g = c.benchmark_group("restorer");
    g.throughput(Throughput::Elements(chunks.len() as u64));
    g.bench_function("per_16B_chunk", |b| {
        b.iter(|| {
            let mut rs = vault.restorer();
            let mut n = 0;
            for ch in &chunks {
                n += rs.push_bytes(ch).unwrap().len();
            }
            n + rs.finish_bytes().unwrap().len()
        });
    });
    g.finish();
}

criterion_group!(benches, scan, restore);
criterion_main!(benches);
