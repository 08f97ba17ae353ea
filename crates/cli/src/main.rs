//! `certgate`: the command-line face of Certgate's engine. No GUI dependency.
//!
//! Exit codes: 0 success (or `allow`), 1 a check failed (deny, bad signature), 2 usage error or
//! invalid input.

mod exit;
mod policy_cmd;
mod posture_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Certgate: no certification and no compliant device, no AI access.
#[derive(Debug, Parser)]
#[command(name = "certgate", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Author, sign, verify and try out org policies.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Check this device's posture: a table with a fix per failing fact, or --json.
    /// Exit 0 when every fact the policy requires is ok, 1 when one is not.
    Posture(posture_cmd::PostureArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CERTGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Policy(cmd) => policy_cmd::run(cmd),
        Command::Posture(args) => posture_cmd::run(&args),
    };
    match outcome {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::Code::Invalid.into()
        }
    }
}
