//! `certgate redact`: the library side of the CLI (the binary only parses flags).

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::finding::Finding;
use crate::{Redactor, RedactorConfig, Vault};

/// Output mode of `certgate redact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliMode {
    /// Read all of stdin, print the redacted text.
    Text,
    /// Read all of stdin, print one JSON result.
    Json,
    /// Read one `{"text": …}` object per line, write one JSON result per line, streaming.
    Jsonl,
}

/// What a run did, for the exit status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CliSummary {
    /// Inputs processed (1 for text and JSON modes).
    pub inputs: u64,
    /// Inputs that held a blocking finding.
    pub blocked: u64,
    /// Findings across all inputs.
    pub findings: u64,
}

#[derive(Serialize)]
struct JsonResult<'a> {
    redacted: &'a str,
    blocked: bool,
    findings: &'a [Finding],
}

#[derive(Deserialize)]
struct JsonlInput {
    text: String,
}

/// Runs `certgate redact` over `input`, writing to `output`. Findings carry UTF-8 byte
/// offsets into each input text and never the matched value. `--jsonl` holds one line at a
/// time, so memory stays constant however many lines arrive.
pub fn run_cli(
    mode: CliMode,
    config: RedactorConfig,
    mut input: impl BufRead,
    mut output: impl Write,
) -> Result<CliSummary> {
    let redactor = Redactor::new(config)?;
    let mut summary = CliSummary::default();
    match mode {
        CliMode::Text | CliMode::Json => {
            let mut buf = Vec::new();
            input.read_to_end(&mut buf)?;
            let text = String::from_utf8(buf).map_err(|e| Error::InvalidUtf8 {
                offset: e.utf8_error().valid_up_to() as u64,
            })?;
            let out = redactor.apply(&text, &mut Vault::new());
            summary.inputs = 1;
            summary.blocked = u64::from(out.blocked);
            summary.findings = out.findings.len() as u64;
            if mode == CliMode::Text {
                output.write_all(out.text.as_bytes())?;
            } else {
                let r = JsonResult {
                    redacted: &out.text,
                    blocked: out.blocked,
                    findings: &out.findings,
                };
                serde_json::to_writer(&mut output, &r)?;
                output.write_all(b"\n")?;
            }
        }
        CliMode::Jsonl => {
            let mut line = Vec::new();
            let mut offset = 0u64;
            let mut n = 0u64;
            loop {
                line.clear();
                if input.read_until(b'\n', &mut line)? == 0 {
                    break;
                }
                n += 1;
                let s = std::str::from_utf8(&line).map_err(|e| Error::InvalidUtf8 {
                    offset: offset + e.valid_up_to() as u64,
                })?;
                offset += line.len() as u64;
                if s.trim().is_empty() {
                    continue;
                }
                let parsed: JsonlInput =
                    serde_json::from_str(s).map_err(|_| Error::JsonlLine { line: n })?;
                // Each line is its own conversation: a fresh vault keeps memory constant.
                let out = redactor.apply(&parsed.text, &mut Vault::new());
                summary.inputs += 1;
                summary.blocked += u64::from(out.blocked);
                summary.findings += out.findings.len() as u64;
                let r = JsonResult {
                    redacted: &out.text,
                    blocked: out.blocked,
                    findings: &out.findings,
                };
                serde_json::to_writer(&mut output, &r)?;
                output.write_all(b"\n")?;
            }
        }
    }
    output.flush()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mode: CliMode, input: &str) -> (String, CliSummary) {
        let mut out = Vec::new();
        let s = run_cli(mode, RedactorConfig::default(), input.as_bytes(), &mut out).unwrap();
        (String::from_utf8(out).unwrap(), s)
    }

    #[test]
    fn text_mode_prints_redacted_text() {
        let (out, s) = run(CliMode::Text, "write to ann.lee@example.org\n");
        assert_eq!(out, "write to [EMAIL_1]\n");
        assert_eq!(
            s,
            CliSummary {
                inputs: 1,
                blocked: 0,
                findings: 1
            }
        );
    }

    #[test]
    fn json_mode_has_byte_offsets_and_no_values() {
        let input = "héllo ann.lee@example.org";
        let (out, _) = run(CliMode::Json, input);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["redacted"], "héllo [EMAIL_1]");
        assert_eq!(v["blocked"], false);
        let f = &v["findings"][0];
        assert_eq!(f["type"], "EMAIL");
        assert_eq!(f["detector"], "email");
        let (s, e) = (
            f["start"].as_u64().unwrap() as usize,
            f["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(
            &input[s..e],
            "ann.lee@example.org",
            "offsets are UTF-8 bytes into the input"
        );
        assert_eq!(f["action"], "pseudonymize");
        assert!(!out.contains("ann.lee"), "findings never carry the value");
    }

    #[test]
    fn jsonl_streams_in_order_and_blocks_secrets() {
        let token = format!("ghp_{}", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5");
        let input = format!(
            "{{\"text\":\"a@example.org\"}}\n\n{{\"text\":\"token {token}\"}}\n{{\"text\":\"nothing here\"}}\n"
        );
        let (out, s) = run(CliMode::Jsonl, &input);
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3, "one result per non-empty line");
        assert_eq!(lines[0]["redacted"], "[EMAIL_1]");
        assert_eq!(lines[1]["blocked"], true);
        assert_eq!(lines[1]["findings"][0]["type"], "SECRET");
        assert_eq!(lines[2]["findings"].as_array().unwrap().len(), 0);
        assert!(!out.contains(&token), "the secret never reaches the output");
        assert_eq!(
            s,
            CliSummary {
                inputs: 3,
                blocked: 1,
                findings: 2
            }
        );
    }

    #[test]
    fn jsonl_rejects_bad_lines_and_invalid_utf8() {
        let mut out = Vec::new();
        let err = run_cli(
            CliMode::Jsonl,
            RedactorConfig::default(),
            &b"{\"txt\":1}\n"[..],
            &mut out,
        )
        .unwrap_err();
        assert!(matches!(err, Error::JsonlLine { line: 1 }));
        let err = run_cli(
            CliMode::Text,
            RedactorConfig::default(),
            &b"ok \xff"[..],
            &mut out,
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidUtf8 { offset: 3 }));
    }
}
