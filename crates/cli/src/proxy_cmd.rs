//! `certgate proxy` (the governed copilot proxy on loopback) and `certgate mock-upstream` (a
//! mock model provider for demos and tests).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use certgate_policy::{DeviceFacts, LoadedPolicy, PublicKey, TrustMode, UserContext};
use certgate_proxy::mock::MockOptions;
use certgate_proxy::{
    AuditLog, ClientKey, Deps, ExceptionGrant, GateSnapshot, ProxyConfig, Sensitive, Upstream,
};
use chrono::{DateTime, Utc};
use clap::Args;
use serde::Deserialize;

use crate::exit::Code;

/// Environment variable holding the local client key when no `--key-file` is given.
const KEY_ENV: &str = "CERTGATE_PROXY_KEY";

#[derive(Debug, Args)]
pub struct ProxyArgs {
    /// Proxy settings as JSON (`listen`, `upstreams`, `bodyLimitBytes`, …); flags override.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen address (loopback only).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// An upstream per region: `eu-west-1=https://api.openai.com` (repeatable).
    #[arg(long = "upstream", value_name = "REGION=URL")]
    upstreams: Vec<String>,
    /// Environment variable holding the provider key sent upstream.
    #[arg(long, value_name = "VAR")]
    upstream_key_env: Option<String>,
    /// File holding the local client key (default: $CERTGATE_PROXY_KEY).
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Tool surface the key stands for (a copilot or automation endpoint of the policy).
    #[arg(long, default_value = "developer-sdk")]
    label: String,
    /// Who uses the proxy and the device posture, as JSON `{"user", "device",
    /// "deviceCollectedAt", "exceptions"}`; re-read when it changes.
    #[arg(long, value_name = "FILE")]
    snapshot: PathBuf,
    /// The org policy (signed; default: the embedded demo policy).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The org's public key the policy must be signed with.
    #[arg(long, value_name = "PEM")]
    org_key: Option<PathBuf>,
    /// Audit database (default: certgate.db in the data directory).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct MockArgs {
    /// Listen address (loopback only).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9099")]
    listen: SocketAddr,
    /// Also emit a tool call to this function (e.g. issue_refund).
    #[arg(long, value_name = "NAME")]
    tool_call: Option<String>,
    /// Send an `x-confidence` header with this value (0–1).
    #[arg(long)]
    confidence: Option<f64>,
    /// Wait this many milliseconds before answering.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Stream bodies in pieces of this many bytes (1 = byte by byte; 0 = per event).
    #[arg(long, default_value_t = 0)]
    chunk_bytes: usize,
    /// Answer characters per streamed delta.
    #[arg(long, default_value_t = 4)]
    delta_chars: usize,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SnapshotFile {
    user: UserContext,
    #[serde(default)]
    device: Option<serde_json::Value>,
    #[serde(default)]
    device_collected_at: Option<DateTime<Utc>>,
    #[serde(default)]
    exceptions: Vec<ExceptionGrant>,
}

fn read_snapshot(path: &Path) -> Result<GateSnapshot> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let f: SnapshotFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid snapshot", path.display()))?;
    Ok(GateSnapshot {
        user: f.user,
        device: f.device.as_ref().map(DeviceFacts::from_json),
        device_collected_at: f.device_collected_at,
        exceptions: f.exceptions,
    })
}

fn load_policy(args: &ProxyArgs) -> Result<LoadedPolicy> {
    Ok(match (&args.policy, &args.org_key) {
        (Some(path), Some(key)) => {
            let pem = std::fs::read_to_string(key)
                .with_context(|| format!("cannot read {}", key.display()))?;
            let key = PublicKey::from_pem(&pem, key)?;
            certgate_policy::load(path, TrustMode::Pinned(&key))?
        }
        (Some(path), None) => certgate_policy::load(path, TrustMode::Demo)?,
        (None, _) => certgate_policy::demo::load()?,
    })
}

fn config(args: &ProxyArgs) -> Result<ProxyConfig> {
    let mut config = match &args.config {
        Some(p) => serde_json::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        )
        .with_context(|| format!("{} is not a valid proxy config", p.display()))?,
        None => ProxyConfig::default(),
    };
    if let Some(l) = args.listen {
        config.listen = l;
    }
    let api_key = match &args.upstream_key_env {
        Some(var) => Some(Sensitive::new(
            std::env::var(var).with_context(|| format!("${var} is not set"))?,
        )),
        None => None,
    };
    for u in &args.upstreams {
        let Some((region, url)) = u.split_once('=') else {
            bail!("--upstream takes REGION=URL, got {u}");
        };
        config.upstreams.retain(|x| x.region != region);
        config.upstreams.push(Upstream {
            region: region.to_owned(),
            base_url: url.to_owned(),
            api_key: api_key.clone(),
        });
    }
    Ok(config)
}

fn client_key(args: &ProxyArgs) -> Result<Sensitive> {
    let key = match &args.key_file {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read {}", p.display()))?
            .trim()
            .to_owned(),
        None => std::env::var(KEY_ENV)
            .with_context(|| format!("give --key-file or set ${KEY_ENV}"))?
            .trim()
            .to_owned(),
    };
    if key.len() < 16 {
        bail!("the client key must be at least 16 characters");
    }
    Ok(Sensitive::new(key))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Waits for Ctrl-C or SIGTERM.
pub(crate) async fn until_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn run_proxy(args: &ProxyArgs) -> Result<Code> {
    let policy = Arc::new(load_policy(args)?);
    let config = config(args)?;
    let key = client_key(args)?;
    let snapshot = read_snapshot(&args.snapshot)?;
    let db = match &args.db {
        Some(p) => certgate_store::Database::open(p)?,
        None => certgate_store::Database::open_default()?,
    };
    let audit = AuditLog::open(db, policy.policy.logging_and_evidence.retention_days)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let (snap_tx, snap_rx) = tokio::sync::watch::channel(snapshot);
        let (events, mut events_rx) = tokio::sync::broadcast::channel(64);
        let deps = Deps {
            policy,
            snapshot: snap_rx,
            keys: vec![ClientKey {
                key,
                label: args.label.clone(),
            }],
            audit,
            events,
        };
        let handle = certgate_proxy::start(config, deps).await?;
        println!("certgate proxy on http://{}", handle.local_addr());
        let path = args.snapshot.clone();
        tokio::spawn(async move {
            let mut seen = modified(&path);
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let now = modified(&path);
                if now != seen {
                    seen = now;
                    match read_snapshot(&path) {
                        Ok(s) => {
                            let _ = snap_tx.send(s);
                            tracing::info!("snapshot reloaded");
                        }
                        Err(e) => tracing::warn!(error = %e, "snapshot not reloaded"),
                    }
                }
            }
        });
        tokio::spawn(async move {
            while let Ok(e) = events_rx.recv().await {
                if let Ok(line) = serde_json::to_string(&e) {
                    eprintln!("event: {line}");
                }
            }
        });
        until_signal().await;
        handle.stop().await;
        anyhow::Ok(())
    })?;
    Ok(Code::Ok)
}

pub fn run_mock(args: &MockArgs) -> Result<Code> {
    let options = MockOptions {
        tool_call: args.tool_call.clone(),
        confidence: args.confidence,
        latency_ms: args.latency_ms,
        chunk_bytes: args.chunk_bytes,
        delta_chars: args.delta_chars,
        ..MockOptions::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let handle = certgate_proxy::mock::start(args.listen, options).await?;
        println!("mock upstream on http://{}", handle.addr);
        until_signal().await;
        drop(handle);
        anyhow::Ok(())
    })?;
    Ok(Code::Ok)
}
