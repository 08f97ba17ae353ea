//! `certgate demo`: the org server (demo policy and content), the mock upstream and the proxy in
//! one process on loopback, so the governed proxy can be tried with one command. Everything it
//! makes is demo data in a temporary folder (or `--data-dir`) and a demo keyring namespace. The
//! parts are the agent crate's, the same the app runs in its demo mode.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use certgate_agent::demo::{self, DemoOrg, LABEL, REGION, TRACK, USER};
use certgate_agent::{Certifications, DeviceFeed, Facts, LocalStack, StackOptions};
use certgate_credentials::{Keystore, Sensitive};
use certgate_proxy::mock::MockOptions;
use certgate_proxy::{AuditLog, ClientKey, ProxyConfig};
use certgate_store::Database;
use certgate_training::Records;
use clap::Args;
use serde_json::json;

use crate::exit::Code;
use crate::proxy_cmd::until_signal;

/// How often the gate's view is rebuilt, so posture stays fresh and a quiz passed meanwhile
/// counts.
const REFRESH: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print `{"proxyUrl", "apiKey", "mockUrl"}` as one JSON line (logs go to stderr).
    #[arg(long)]
    json: bool,
    /// Enrol a demo user who has passed AI_CONSUMER_EXTERNAL and simulate a compliant device,
    /// so the proxy lets requests through at once.
    #[arg(long)]
    certified: bool,
    /// Keep the demo data here instead of a temporary folder removed at exit.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Proxy port on 127.0.0.1 (0 picks a free one).
    #[arg(long, value_name = "P", default_value_t = 0)]
    listen_port: u16,
}

/// Where the demo keeps its files: a temporary folder removed on drop, or the user's.
enum DataDir {
    Temp(tempfile::TempDir),
    Given(PathBuf),
}

impl DataDir {
    fn path(&self) -> &Path {
        match self {
            Self::Temp(t) => t.path(),
            Self::Given(p) => p,
        }
    }
}

/// The demo keyring namespace, or `None` (with a loud notice) when no keyring is reachable.
fn demo_keystore() -> Option<(Keystore, String)> {
    let service = format!(
        "{}-demo-{}",
        certgate_credentials::keystore::SERVICE,
        std::process::id()
    );
    match Keystore::new(&service).and_then(|k| k.probe().map(|()| k)) {
        Ok(k) => Some((k, service)),
        Err(e) => {
            eprintln!(
                "WARNING: no OS keyring ({e}). The DEMO keeps its demo token in memory only, \
                 because it is demo data; real tokens are never kept outside the keyring."
            );
            None
        }
    }
}

pub fn run(args: &DemoArgs) -> Result<Code> {
    let dir = match &args.data_dir {
        Some(p) => {
            std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
            DataDir::Given(p.clone())
        }
        None => DataDir::Temp(
            tempfile::Builder::new()
                .prefix("certgate-demo-")
                .tempdir()
                .context("cannot create a temporary demo folder")?,
        ),
    };
    eprintln!("demo data in {}", dir.path().display());
    let keys = demo_keystore();
    let outcome = serve(args, dir.path(), keys.as_ref());
    let tracks: Vec<String> = certgate_policy::demo::load()
        .map(|p| p.policy.track_ids().map(str::to_owned).collect())
        .unwrap_or_else(|_| vec![TRACK.to_owned()]);
    if let Some((k, _)) = &keys
        && let Err(e) = k.forget_device(&tracks)
    {
        eprintln!("could not remove the demo entries from the keyring: {e}");
    }
    drop(dir);
    outcome
}

/// With a keyring: the demo user enrolled for real, as `certgate enroll`, `certgate quiz` and
/// `certgate sync` would do it, ending with a device-bound token from the demo server.
fn enrol_and_pass(
    url: &str,
    admin: &Sensitive<String>,
    device_db: &Path,
    keys: &Keystore,
) -> Result<()> {
    demo::enrol(url, admin, device_db, keys)?;
    let mut records = Records::new(Database::open(device_db)?)?;
    demo::pass_quiz(&mut records)?;
    let report = demo::sync(device_db, keys, records)?;
    if report.tokens_stored == 0 {
        anyhow::bail!("the demo server issued no token for the passed attempt");
    }
    Ok(())
}

fn serve(args: &DemoArgs, dir: &Path, keys: Option<&(Keystore, String)>) -> Result<Code> {
    let policy = Arc::new(certgate_policy::demo::load()?);
    // The name `Database::open_default` uses, so `CERTGATE_HOME=<dir>` commands share it.
    let device_db = dir.join(certgate_store::FILE_NAME);
    let audit = AuditLog::open(
        Database::open(&device_db)?,
        policy.policy.logging_and_evidence.retention_days,
    )?;
    let api_key = format!("cg-demo-{}", certgate_agent::random_hex(16)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let org = DemoOrg::start(dir).await?;
        let (server_url, admin) = org.admin();
        let certifications = match (args.certified, keys) {
            (true, None) => Certifications::Verified(
                [(TRACK.to_owned(), org.mint_in_memory(&policy)?)].into(),
            ),
            (true, Some((keys, _))) => {
                let (url, owned, db) = (server_url.clone(), keys.clone(), device_db.clone());
                tokio::task::spawn_blocking(move || enrol_and_pass(&url, &admin, &db, &owned))
                    .await
                    .context("the demo enrolment stopped")??;
                Certifications::Device {
                    db: device_db.clone(),
                    keys: keys.clone(),
                }
            }
            (false, Some((keys, service))) => {
                let url = server_url.clone();
                let code =
                    tokio::task::spawn_blocking(move || demo::enrolment_code(&url, &admin))
                        .await
                        .context("the demo enrolment code stopped")??;
                eprintln!(
                    "to get access for real, as the demo user (these variables keep it apart \
                     from your own data):\n  export CERTGATE_HOME={} CERTGATE_KEYRING_SERVICE={service}\n  \
                     certgate enroll --server {server_url} --code {code}\n  certgate quiz {TRACK}\n  \
                     certgate sync\nthe demo picks the token up within {} s (the device posture \
                     must pass too)",
                    dir.display(),
                    REFRESH.as_secs()
                );
                Certifications::Device {
                    db: device_db.clone(),
                    keys: keys.clone(),
                }
            }
            (false, None) => Certifications::None,
        };
        let facts = if args.certified {
            Facts::Simulated
        } else {
            Facts::Host(certgate_posture::PostureConfig::from_policy(
                &policy.policy.device_posture,
            ))
        };
        let mock = certgate_proxy::mock::start(loopback(0), MockOptions::default()).await?;
        let mock_url = format!("http://{}", mock.addr);
        let options = StackOptions {
            config: ProxyConfig {
                listen: loopback(args.listen_port),
                upstreams: demo::mock_upstreams(&policy, &mock_url),
                ..ProxyConfig::default()
            },
            // The demo's key is demo data: random per run, in memory only, printed for the user.
            client_key: ClientKey {
                key: Sensitive::new(api_key.clone()),
                label: LABEL.to_owned(),
            },
            refresh_every: REFRESH,
        };
        let feed = DeviceFeed {
            user: demo::user(),
            certifications,
            facts,
        };
        let stack = LocalStack::start(policy.clone(), feed, audit, options).await?;
        let signal = tokio::spawn(until_signal());
        print_ready(args, &stack.url(), &api_key, &mock_url, org.url());
        let _ = signal.await;
        stack.stop().await;
        drop(mock);
        drop(org);
        eprintln!("certgate demo stopped");
        anyhow::Ok(())
    })?;
    Ok(Code::Ok)
}

fn print_ready(args: &DemoArgs, proxy_url: &str, api_key: &str, mock_url: &str, server: &str) {
    if args.json {
        println!(
            "{}",
            json!({"proxyUrl": proxy_url, "apiKey": api_key, "mockUrl": mock_url})
        );
    } else {
        println!("certgate DEMO (demo policy, demo data; never for real access)");
        println!("  proxy:       {proxy_url}   (OpenAI SDK base URL: {proxy_url}/v1)");
        println!("  client key:  {api_key}   (tool surface: {LABEL})");
        println!("  mock model:  {mock_url}   (what left the device: {mock_url}/__mock/requests)");
    }
    eprintln!("demo org server on {server}");
    if args.certified {
        eprintln!(
            "demo user {USER} (contractor, Demo Vendor, {REGION}) holds a passed {TRACK} token; \
             device posture: simulated (managed, disk encryption)"
        );
    } else {
        eprintln!(
            "using this device's real posture and certifications: requests are denied until \
             the demo user passes the {TRACK} quiz"
        );
    }
    eprintln!("Ctrl-C stops the demo");
}
