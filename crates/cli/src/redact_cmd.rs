//! `certgate redact`: the redaction engine on stdin, as the proxy runs it on every request.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Result;
use certgate_redact::{CliMode, run_cli};
use clap::Args;

use crate::exit::Code;

#[derive(Debug, Args)]
pub struct RedactArgs {
    /// Print `{"redacted", "blocked", "findings": [{"type", "detector", "start", "end",
    /// "confidence", "action"}]}` with UTF-8 byte offsets into the input (never the values).
    #[arg(long, conflicts_with = "jsonl")]
    json: bool,
    /// Read one `{"text": …}` JSON object per line and write one result per line, streaming.
    #[arg(long)]
    jsonl: bool,
    /// Take the DLP settings (PII redaction, blocked types, restricted terms) from this
    /// policy (unsigned is fine here); default: the embedded demo policy.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

pub fn run(args: &RedactArgs) -> Result<Code> {
    let policy = match &args.policy {
        Some(path) => certgate_policy::load_unsigned(path)?,
        None => certgate_policy::demo::load()?,
    };
    let mode = if args.jsonl {
        CliMode::Jsonl
    } else if args.json {
        CliMode::Json
    } else {
        CliMode::Text
    };
    let mut out = BufWriter::new(io::stdout().lock());
    run_cli(
        mode,
        certgate_proxy::server::redactor_config(&policy),
        io::stdin().lock(),
        &mut out,
    )?;
    out.flush()?;
    Ok(Code::Ok)
}
