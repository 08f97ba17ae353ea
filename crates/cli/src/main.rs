//! `certgate`: the command-line face of Certgate's engine. No GUI dependency.
//!
//! Exit codes: 0 success (or `allow`), 1 a check failed (deny, bad signature), 2 usage error or
//! invalid input.

mod audit_cmd;
mod demo_cmd;
mod device_cmd;
mod exit;
mod managed_cmd;
mod policy_cmd;
mod posture_cmd;
mod proxy_cmd;
mod redact_cmd;
mod server_cmd;
mod train_cmd;

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
    /// Training: list tracks and modules, read a module.
    #[command(subcommand)]
    Train(train_cmd::TrainCommand),
    /// Take a track's quiz (interactive; or one answer per line on stdin: `b`, `a,c`, `true`).
    /// Exit 0 when passed, 1 when not.
    Quiz(train_cmd::QuizArgs),
    /// Read and sign the "Allowed / Not allowed" acknowledgement.
    Ack(train_cmd::AckArgs),
    /// Certification status and expiry per track.
    Certs(train_cmd::CertsArgs),
    /// Course content for authors: check and sign a bundle folder.
    #[command(subcommand)]
    Content(train_cmd::ContentCommand),
    /// Run the org server (`--config FILE`), or talk to it as an admin (enrolment codes,
    /// users, revoke, approve, export).
    Server(server_cmd::ServerArgs),
    /// Enrol this device with the org server using a one-time code from your admin.
    Enroll(device_cmd::EnrollArgs),
    /// Send finished attempts to the org server and fetch tokens, revocations and the policy.
    Sync(device_cmd::SyncArgs),
    /// Redact text on stdin as the proxy would before upload: PII pseudonymized, secrets and
    /// credentials blocked. `--json` / `--jsonl` print findings (types and offsets, never values).
    Redact(redact_cmd::RedactArgs),
    /// Run the governed copilot proxy on loopback (gate, redact, restore, route, audit).
    Proxy(proxy_cmd::ProxyArgs),
    /// Run a mock OpenAI/Anthropic upstream that echoes what it received (demos and tests).
    MockUpstream(proxy_cmd::MockArgs),
    /// The proxy, the mock upstream and the demo org server in one process on loopback;
    /// prints the proxy URL, a client key and the mock's URL (`--certified`: usable at once).
    Demo(demo_cmd::DemoArgs),
    /// The proxy's evidence log: verify the hash chain, export JSON Lines or CSV.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// What the organisation's device management set on this device; check a managed
    /// configuration before pushing it; key fingerprints and enrolment links for IT.
    #[command(subcommand)]
    Managed(managed_cmd::ManagedCommand),
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
        Command::Redact(args) => redact_cmd::run(&args),
        Command::Posture(args) => posture_cmd::run(&args),
        Command::Train(cmd) => train_cmd::run_train(cmd),
        Command::Quiz(args) => train_cmd::run_quiz(&args),
        Command::Ack(args) => train_cmd::run_ack(&args),
        Command::Certs(args) => train_cmd::run_certs(&args),
        Command::Content(cmd) => train_cmd::run_content(cmd),
        Command::Server(args) => server_cmd::run(&args),
        Command::Enroll(args) => device_cmd::run_enroll(&args),
        Command::Sync(args) => device_cmd::run_sync(&args),
        Command::Proxy(args) => proxy_cmd::run_proxy(&args),
        Command::MockUpstream(args) => proxy_cmd::run_mock(&args),
        Command::Demo(args) => demo_cmd::run(&args),
        Command::Audit(cmd) => audit_cmd::run(cmd),
        Command::Managed(cmd) => managed_cmd::run(cmd),
    };
    match outcome {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            exit::Code::Invalid.into()
        }
    }
}
