//! Accuracy on the public benchmarks and our own corpus: per-type precision and recall.
//!
//! Reproduce: `cargo bench -p certgate-redact --bench accuracy`
//! (reads ../shared/bench relative to the workspace, or $CERTGATE_BENCH_DIR).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use certgate_redact::{FindingType, Redactor, RedactorConfig, Vault};

fn bench_dir() -> PathBuf {
    std::env::var_os("CERTGATE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench"))
}

fn gz_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let mut s = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut s)
        .unwrap();
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn plain_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    BufReader::new(f)
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}

fn map_type(t: &str) -> Option<FindingType> {
    Some(match t {
        "PERSON" => FindingType::Person,
        "STREET_ADDRESS" => FindingType::StreetAddress,
        "PHONE_NUMBER" | "PHONE" => FindingType::Phone,
        "EMAIL_ADDRESS" | "EMAIL" => FindingType::Email,
        "CREDIT_CARD" => FindingType::CreditCard,
        "IP_ADDRESS" => FindingType::IpAddress,
        "IBAN_CODE" | "IBAN" => FindingType::Iban,
        "US_SSN" => FindingType::UsSsn,
        "MAC_ADDRESS" => FindingType::MacAddress,
        "DATE_OF_BIRTH" => FindingType::DateOfBirth,
        "GOV_ID" => FindingType::GovId,
        "SECRET" => FindingType::Secret,
        "CREDENTIAL" => FindingType::Credential,
        _ => return None,
    })
}

fn secrets(r: &Redactor, verbose: bool) {
    let rows = gz_lines(&bench_dir().join("secrets-public.jsonl.gz"));
    let (mut tp, mut fn_, mut clean, mut flagged) = (0, 0, 0, 0);
    let mut missed_rules: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        let text = row["text"].as_str().unwrap();
        let hit = r
            .scan(text)
            .iter()
            .any(|f| matches!(f.kind, FindingType::Secret | FindingType::Credential));
        match row["expect"].as_str().unwrap() {
            "secret" => {
                if hit {
                    tp += 1;
                } else {
                    fn_ += 1;
                    *missed_rules
                        .entry(row["rule"].as_str().unwrap().to_owned())
                        .or_default() += 1;
                    if verbose {
                        println!("  MISS {}: {:.120}", row["rule"], text.replace('\n', "\\n"));
                    }
                }
            }
            _ if row["ambiguous"].as_bool() == Some(true) => {}
            _ => {
                clean += 1;
                if hit {
                    flagged += 1;
                    if verbose {
                        println!(
                            "  FLAGGED CLEAN {}: {:.120}",
                            row["rule"],
                            text.replace('\n', "\\n")
                        );
                    }
                }
            }
        }
    }
    println!("secrets-public.jsonl.gz ({} rows)", rows.len());
    println!(
        "  recall {:.4} ({tp}/{}), clean flagged {:.2}% ({flagged}/{clean}; ambiguous rows excluded)",
        tp as f64 / (tp + fn_) as f64,
        tp + fn_,
        100.0 * flagged as f64 / clean.max(1) as f64
    );
    if !missed_rules.is_empty() {
        println!("  missed by rule: {missed_rules:?}");
    }
}

#[derive(Default)]
struct Counts {
    gold: usize,
    found: usize,
    pred: usize,
    pred_ok: usize,
    /// Characters of this type's gold spans, and those no finding covers.
    chars: usize,
    leaked: usize,
}

/// Scores a labelled corpus: `{"text", "spans": [{"start","end","type"}]}` with code-point offsets.
fn pii(r: &Redactor, name: &str, rows: &[serde_json::Value], verbose: bool) {
    let mut per: BTreeMap<FindingType, Counts> = BTreeMap::new();
    let (mut gold_chars, mut leaked_chars) = (0usize, 0usize);
    let (mut no_pii, mut no_pii_changed) = (0, 0);
    for row in rows {
        let text = row["text"].as_str().unwrap();
        // Code-point offset → byte offset.
        let byte_at: Vec<usize> = text
            .char_indices()
            .map(|(b, _)| b)
            .chain([text.len()])
            .collect();
        let findings = r.scan(text);
        let gold: Vec<(FindingType, usize, usize)> = row["spans"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| {
                let t = map_type(s["type"].as_str().unwrap())?;
                let a = byte_at[s["start"].as_u64().unwrap() as usize];
                let b = byte_at[s["end"].as_u64().unwrap() as usize];
                Some((t, a, b))
            })
            .collect();
        // Spans with non-target labels: findings there are neither credited nor penalised.
        let neutral: Vec<(usize, usize)> = row["spans"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| map_type(s["type"].as_str().unwrap()).is_none())
            .map(|s| {
                (
                    byte_at[s["start"].as_u64().unwrap() as usize],
                    byte_at[s["end"].as_u64().unwrap() as usize],
                )
            })
            .collect();
        if gold.is_empty() {
            no_pii += 1;
            if r.apply(text, &mut Vault::new()).text != text {
                no_pii_changed += 1;
                if verbose {
                    let f: Vec<_> = findings
                        .iter()
                        .map(|f| (f.kind, &text[f.start..f.end]))
                        .collect();
                    println!("  CHANGED no-PII text: {f:?}");
                }
            }
        }
        for &(t, a, b) in &gold {
            let c = per.entry(t).or_default();
            c.gold += 1;
            if findings
                .iter()
                .any(|f| f.kind == t && f.start < b && a < f.end)
            {
                c.found += 1;
            } else if verbose {
                println!("  MISS {t}: {:?}", &text[a..b]);
            }
            let chars = text[a..b].chars().count();
            let leaked = text[a..b]
                .char_indices()
                .filter(|(i, _)| !findings.iter().any(|f| f.start <= a + i && a + i < f.end))
                .count();
            if verbose && leaked > 0 && leaked < chars {
                let left: String = text[a..b]
                    .char_indices()
                    .map(|(i, ch)| {
                        if findings.iter().any(|f| f.start <= a + i && a + i < f.end) {
                            '█'
                        } else {
                            ch
                        }
                    })
                    .collect();
                println!("  PARTIAL {t}: {left:?}");
            }
            let c = per.entry(t).or_default();
            (c.chars, c.leaked) = (c.chars + chars, c.leaked + leaked);
            gold_chars += chars;
            leaked_chars += leaked;
        }
        for f in &findings {
            if neutral.iter().any(|&(a, b)| f.start < b && a < f.end) {
                continue;
            }
            let c = per.entry(f.kind).or_default();
            c.pred += 1;
            if gold
                .iter()
                .any(|&(t, a, b)| t == f.kind && f.start < b && a < f.end)
            {
                c.pred_ok += 1;
            } else if verbose {
                println!("  FALSE {}: {:?}", f.kind, &text[f.start..f.end]);
            }
        }
    }
    println!("{name} ({} texts)", rows.len());
    println!(
        "  {:<15} {:>5} {:>9} {:>9} {:>10}",
        "type", "gold", "recall", "precision", "uncovered"
    );
    for (t, c) in &per {
        let recall = if c.gold > 0 {
            format!("{:.3}", c.found as f64 / c.gold as f64)
        } else {
            "-".into()
        };
        let precision = if c.pred > 0 {
            format!("{:.3}", c.pred_ok as f64 / c.pred as f64)
        } else {
            "-".into()
        };
        let uncovered = if c.chars > 0 {
            format!("{:.1}%", 100.0 * c.leaked as f64 / c.chars as f64)
        } else {
            "-".into()
        };
        println!(
            "  {:<15} {:>5} {:>9} {:>9} {:>10}   (found {}, predicted {}; {} of {} characters uncovered)",
            t.as_str(),
            c.gold,
            recall,
            precision,
            uncovered,
            c.found,
            c.pred,
            c.leaked,
            c.chars
        );
    }
    println!(
        "  gold PII characters left uncovered: {:.2}% ({leaked_chars}/{gold_chars})",
        100.0 * leaked_chars as f64 / gold_chars.max(1) as f64
    );
    println!("  texts without target PII changed: {no_pii_changed}/{no_pii}");
}

fn own_corpus() -> Vec<serde_json::Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/prompts.jsonl");
    if path.exists() {
        plain_lines(&path)
    } else {
        Vec::new()
    }
}

fn main() {
    let verbose = std::env::var_os("VERBOSE").is_some();
    let r = Redactor::new(RedactorConfig::default()).unwrap();
    println!(
        "certgate-redact accuracy ({} secret rules)",
        r.secret_rule_count()
    );
    println!(
        "reproduce: cargo bench -p certgate-redact --bench accuracy   (VERBOSE=1 lists misses)\n"
    );
    secrets(&r, verbose);
    println!();
    pii(
        &r,
        "pii-public.jsonl",
        &plain_lines(&bench_dir().join("pii-public.jsonl")),
        verbose,
    );
    let own = own_corpus();
    if !own.is_empty() {
        println!();
        pii(&r, "testdata/prompts.jsonl (own corpus)", &own, verbose);
    }
}
