//! `certgate proxy` (the governed copilot proxy on loopback), `certgate proxy key` (its local
//! client key, kept in the OS keyring) and `certgate mock-upstream` (a mock model provider for
//! demos and tests).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use certgate_agent::{Certifications, DeviceFeed, Facts};
use certgate_credentials::Keystore;
use certgate_policy::{DeviceFacts, LoadedPolicy, PublicKey, TrustMode, UserContext};
use certgate_proxy::mock::MockOptions;
use certgate_proxy::reload::{self, PolicyFile, Signer};
use certgate_proxy::{
    AuditLog, ClientKey, Deps, ExceptionGrant, GateSnapshot, PolicySlot, ProxyConfig, Sensitive,
    Upstream, key,
};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde::Deserialize;
use serde_json::json;

use crate::exit::Code;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ProxyArgs {
    #[command(subcommand)]
    action: Option<ProxyAction>,
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
    /// Take the local client key from this environment variable instead of the OS keyring
    /// (CI and demos; at least 16 characters). Without it the key is the keyring's, made on
    /// first run; `certgate proxy key show` prints it.
    #[arg(long, value_name = "VAR")]
    key_env: Option<String>,
    /// Tool surface the key stands for (a copilot or automation endpoint of the policy).
    #[arg(long, default_value = "developer-sdk")]
    label: String,
    /// Who uses the proxy and the device posture, as JSON `{"user", "device",
    /// "deviceCollectedAt", "exceptions"}`; re-read when it changes. Without it the gate sees
    /// this enrolled device: its user, its verified tokens and exception grants, and its
    /// posture checked again every 30 s.
    #[arg(long, value_name = "FILE")]
    snapshot: Option<PathBuf>,
    /// The org policy (signed; default: the embedded demo policy). Watched while running: a
    /// new version is applied when its signature verifies and it validates; otherwise it is
    /// refused (logged with file, line and field; see `GET /certgate/v1/status`) and the
    /// previous one stays in force.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The org's public key the policy must be signed with.
    #[arg(long, value_name = "PEM")]
    org_key: Option<PathBuf>,
    /// Audit database (default: certgate.db in the data directory).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ProxyAction {
    /// The local client key AI tools present (`Authorization: Bearer` or `x-api-key`).
    #[command(subcommand)]
    Key(KeyAction),
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Print the key (made and stored in the OS keyring on first use).
    Show {
        /// `{"apiKey", "fingerprint", "created"}` as one JSON line.
        #[arg(long)]
        json: bool,
    },
    /// Replace the key in the OS keyring. A running proxy refuses the old key within a second;
    /// the new one is not printed (use `show`).
    Rotate {
        /// `{"rotated": true, "fingerprint"}` as one JSON line.
        #[arg(long)]
        json: bool,
    },
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
        switched_off: false,
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

/// The keyring namespace, or an error that says how to fix a missing keyring.
fn keystore() -> Result<Keystore> {
    Keystore::system()
        .and_then(|k| k.probe().map(|()| k))
        .map_err(no_keyring)
}

fn no_keyring(e: certgate_credentials::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "{e}\nfix: unlock or start the OS keyring (on Linux: a Secret Service such as \
         gnome-keyring in your D-Bus session), or for CI and demos give the key yourself: \
         `certgate proxy --key-env VAR` with the key in $VAR"
    )
}

/// Where the running proxy's client key comes from.
enum KeySource {
    Env(String),
    Keyring(Keystore),
}

fn client_key(args: &ProxyArgs) -> Result<(Sensitive, KeySource)> {
    if let Some(var) = &args.key_env {
        let key = std::env::var(var)
            .with_context(|| format!("--key-env {var}: ${var} is not set"))?
            .trim()
            .to_owned();
        if key.len() < 16 {
            bail!("the client key in ${var} must be at least 16 characters");
        }
        return Ok((Sensitive::new(key), KeySource::Env(var.clone())));
    }
    let keys = keystore()?;
    let (key, created) = key::load_or_create(&keys)?;
    if created {
        eprintln!(
            "made a new proxy client key in the OS keyring; `certgate proxy key show` prints it"
        );
    }
    Ok((key, KeySource::Keyring(keys)))
}

fn run_key(action: &KeyAction) -> Result<Code> {
    let keys = keystore()?;
    println!("{}", key_output(&keys, action)?);
    Ok(Code::Ok)
}

/// What `certgate proxy key …` prints.
fn key_output(keys: &Keystore, action: &KeyAction) -> Result<String> {
    Ok(match action {
        KeyAction::Show { json } => {
            let (k, created) = key::load_or_create(keys)?;
            if *json {
                json!({"apiKey": k.expose(), "fingerprint": key::fingerprint(&k), "created": created})
                    .to_string()
            } else {
                k.expose().clone()
            }
        }
        KeyAction::Rotate { json } => {
            let k = key::rotate(keys)?;
            let fp = key::fingerprint(&k);
            if *json {
                json!({"rotated": true, "fingerprint": fp}).to_string()
            } else {
                format!(
                    "proxy key rotated (new fingerprint {fp}); a running proxy refuses the old \
                     key within {} s. `certgate proxy key show` prints the new one.",
                    key::POLL.as_secs()
                )
            }
        }
    })
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
    if let Some(ProxyAction::Key(action)) = &args.action {
        return run_key(action);
    }
    let policy = Arc::new(load_policy(args)?);
    let config = config(args)?;
    let (key, source) = client_key(args)?;
    let db_path = match &args.db {
        Some(p) => p.clone(),
        None => certgate_store::paths::data_dir()?.join(certgate_store::FILE_NAME),
    };
    let (snapshot, feed) = match &args.snapshot {
        Some(path) => (read_snapshot(path)?, None),
        None => {
            let feed = device_feed(&policy, &db_path)?;
            (feed.snapshot()?, Some(feed))
        }
    };
    let db = certgate_store::Database::open(&db_path)?;
    let audit = AuditLog::open(db, policy.policy.logging_and_evidence.retention_days)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let (snap_tx, snap_rx) = tokio::sync::watch::channel(snapshot);
        let snap_tx = Arc::new(snap_tx);
        let (events, mut events_rx) = tokio::sync::broadcast::channel(64);
        let slot = PolicySlot::new(policy)?;
        let fingerprint = key::fingerprint(&key);
        let (keys_tx, keys_rx) = tokio::sync::watch::channel(vec![ClientKey {
            key,
            label: args.label.clone(),
        }]);
        let deps = Deps {
            policy: slot.clone(),
            snapshot: snap_rx,
            keys: keys_rx,
            audit,
            events: events.clone(),
        };
        let handle = certgate_proxy::start(config, deps).await?;
        println!("certgate proxy on http://{}", handle.local_addr());
        match source {
            KeySource::Env(var) => eprintln!("client key: from ${var}"),
            KeySource::Keyring(keys) => {
                eprintln!(
                    "client key: in the OS keyring (fingerprint {fingerprint}); \
                     `certgate proxy key show` prints it, `rotate` replaces it"
                );
                key::follow(keys, args.label.clone(), keys_tx, key::POLL);
            }
        }
        if let Some(path) = &args.policy {
            let signer = match &args.org_key {
                Some(pem) => Signer::Org(PublicKey::from_pem(&std::fs::read_to_string(pem)?, pem)?),
                None => Signer::Demo,
            };
            let file = PolicyFile {
                path: path.clone(),
                signer,
            };
            reload::watch_file(slot, file, reload::POLL, events);
            eprintln!(
                "policy: {} (applied again within {} s whenever a new version verifies)",
                path.display(),
                reload::POLL.as_secs()
            );
        }
        match (feed, args.snapshot.clone()) {
            (Some(feed), _) => {
                certgate_agent::stack::keep_fresh(feed, snap_tx, DEVICE_REFRESH);
            }
            (None, Some(path)) => follow_snapshot_file(path, snap_tx),
            (None, None) => {}
        }
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

/// How often the device's view is rebuilt when the proxy is fed by the device.
const DEVICE_REFRESH: Duration = Duration::from_secs(30);

/// The gate fed by this enrolled device: its user, tokens, grants and host posture.
fn device_feed(policy: &LoadedPolicy, db: &Path) -> Result<DeviceFeed> {
    let user = certgate_agent::feed::enrolled_user(db)?.with_context(|| {
        format!(
            "this device is not enrolled ({}): run `certgate enroll --server URL --code CODE` \
             first, or give the gate's view yourself with --snapshot FILE",
            db.display()
        )
    })?;
    Ok(DeviceFeed {
        user,
        certifications: Certifications::Device {
            db: db.to_owned(),
            keys: Keystore::system()?,
        },
        facts: Facts::Host(certgate_posture::PostureConfig::from_policy(
            &policy.policy.device_posture,
        )),
    })
}

/// Re-reads a snapshot file when it changes (support and tests).
fn follow_snapshot_file(path: PathBuf, snap_tx: Arc<tokio::sync::watch::Sender<GateSnapshot>>) {
    tokio::spawn(async move {
        let mut seen = modified(&path);
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let now = modified(&path);
            if now != seen {
                seen = now;
                match read_snapshot(&path) {
                    Ok(s) => {
                        snap_tx.send_replace(s);
                        tracing::info!("snapshot reloaded");
                    }
                    Err(e) => tracing::warn!(error = %e, "snapshot not reloaded"),
                }
            }
        }
    });
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: Top,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Top {
        Proxy(ProxyArgs),
    }

    fn parse(args: &[&str]) -> Result<ProxyArgs, clap::Error> {
        let Top::Proxy(a) = Cli::try_parse_from(["certgate", "proxy"].iter().chain(args))?.cmd;
        Ok(a)
    }

    #[test]
    fn key_subcommands_parse_and_the_snapshot_is_optional() {
        let a = parse(&["key", "show", "--json"]).unwrap();
        assert!(matches!(
            a.action,
            Some(ProxyAction::Key(KeyAction::Show { json: true }))
        ));
        let a = parse(&["key", "rotate"]).unwrap();
        assert!(matches!(
            a.action,
            Some(ProxyAction::Key(KeyAction::Rotate { json: false }))
        ));
        assert!(
            parse(&[]).is_ok(),
            "without --snapshot the proxy is fed by this device"
        );
        let a = parse(&["--snapshot", "s.json", "--key-env", "MY_KEY"]).unwrap();
        assert_eq!(a.key_env.as_deref(), Some("MY_KEY"));
        assert!(
            parse(&["--key-file", "k.txt", "--snapshot", "s.json"]).is_err(),
            "no way to keep the key in a file"
        );
    }

    #[test]
    fn a_missing_keyring_says_how_to_fix_it() {
        let e = no_keyring(certgate_credentials::Error::KeyringUnavailable {
            reason: "no D-Bus session".into(),
        });
        let text = format!("{e:#}");
        assert!(text.contains("no D-Bus session"), "{text}");
        assert!(
            text.contains("--key-env VAR"),
            "the CI/demo way out: {text}"
        );
    }

    /// Needs an OS keyring: skipped with a notice unless `CERTGATE_REQUIRE_KEYRING=1`.
    #[test]
    fn show_makes_the_key_once_and_rotate_replaces_it_without_printing_it() {
        let required = std::env::var("CERTGATE_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
        let service = format!("certgate-test-cli-proxy-key-{}", std::process::id());
        let keys = match Keystore::new(&service).and_then(|k| k.probe().map(|()| k)) {
            Ok(k) => k,
            Err(e) if !required => {
                eprintln!(
                    "NOTICE: keyring test skipped: {e} (set CERTGATE_REQUIRE_KEYRING=1 to fail instead)"
                );
                return;
            }
            Err(e) => panic!("CERTGATE_REQUIRE_KEYRING=1 but the OS keyring is not usable: {e}"),
        };
        let show = KeyAction::Show { json: true };
        let first: serde_json::Value =
            serde_json::from_str(&key_output(&keys, &show).unwrap()).unwrap();
        assert_eq!(first["created"], true);
        let again: serde_json::Value =
            serde_json::from_str(&key_output(&keys, &show).unwrap()).unwrap();
        assert_eq!(again["created"], false);
        assert_eq!(again["apiKey"], first["apiKey"], "the stored key is reused");
        let rotated = key_output(&keys, &KeyAction::Rotate { json: false }).unwrap();
        let old = first["apiKey"].as_str().unwrap();
        let plain = key_output(&keys, &KeyAction::Show { json: false }).unwrap();
        assert_ne!(plain, old, "rotation replaced the key");
        assert!(
            !rotated.contains(&plain),
            "rotate never prints the key: {rotated}"
        );
        assert!(rotated.contains(&key::fingerprint(&Sensitive::new(plain.clone()))));
        keys.delete(key::ENTRY).unwrap();
    }
}
