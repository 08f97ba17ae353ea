//! `certgate-server --config FILE`: the org server as a standalone binary, for deployments
//! that do not ship the whole `certgate` CLI (same as `certgate server --config FILE`).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;

/// Certgate org server.
#[derive(Debug, Parser)]
#[command(name = "certgate-server", version, about)]
struct Args {
    /// Server config file (TOML).
    #[arg(long)]
    config: PathBuf,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CERTGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = certgate_server::ServerConfig::load(&args.config)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(certgate_server::serve(&config))?;
    Ok(())
}
