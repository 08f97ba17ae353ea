//! `certgate audit verify` and `certgate audit export`: the proxy's evidence log.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use certgate_proxy::ExportFormat;
use clap::{Subcommand, ValueEnum};

use crate::exit::Code;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain: exit 0 when intact, 1 when a row was edited, inserted or deleted.
    Verify {
        /// Audit database (default: certgate.db in the data directory).
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Write every record (metadata only) as JSON Lines or CSV with the export columns.
    Export {
        #[arg(long, value_enum, default_value = "jsonl")]
        format: Format,
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

fn open(db: &Option<PathBuf>) -> Result<certgate_store::Database> {
    let mut d = match db {
        Some(p) => certgate_store::Database::open(p)?,
        None => certgate_store::Database::open_default()?,
    };
    d.migrate(&certgate_proxy::audit::SCHEMA)?;
    Ok(d)
}

pub fn run(cmd: AuditCommand) -> Result<Code> {
    match cmd {
        AuditCommand::Verify { db, json } => {
            let d = open(&db)?;
            let report = certgate_proxy::audit::verify(d.conn())?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else if report.ok {
                println!(
                    "audit log intact: {} rows{}",
                    report.rows,
                    if report.anchored_at > 0 {
                        format!(" (rows up to {} purged by retention)", report.anchored_at)
                    } else {
                        String::new()
                    }
                );
            } else {
                println!("audit log TAMPERED:");
                for p in &report.problems {
                    println!("  {p}");
                }
            }
            Ok(if report.ok { Code::Ok } else { Code::Failed })
        }
        AuditCommand::Export { format, db, output } => {
            let d = open(&db)?;
            let format = match format {
                Format::Jsonl => ExportFormat::JsonLines,
                Format::Csv => ExportFormat::Csv,
            };
            let mut out: Box<dyn Write> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("cannot write {}", p.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let n = certgate_proxy::audit::export(d.conn(), format, &mut out)?;
            out.flush()?;
            eprintln!("{n} records exported");
            Ok(Code::Ok)
        }
    }
}
