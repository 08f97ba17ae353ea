//! `certgate demo`: the org server (demo policy and content), the mock upstream and the proxy in
//! one process on loopback, so the governed proxy can be tried with one command. Everything it
//! makes is demo data in a temporary folder (or `--data-dir`) and a demo keyring namespace.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use certgate_credentials::client::Client;
use certgate_credentials::{
    CertificationClaims, Confirmation, Device, DeviceKey, Keystore, device,
};
use certgate_policy::{DeviceFacts, LoadedPolicy, UserContext};
use certgate_proxy::mock::MockOptions;
use certgate_proxy::{AuditLog, ClientKey, Deps, GateSnapshot, ProxyConfig, Sensitive, Upstream};
use certgate_server::AppState;
use certgate_server::routes::CodeResponse;
use certgate_server::state::{IssuerKeys, demo_policy};
use certgate_store::Database;
use certgate_training::{AttemptRecord, QuestionKind, Records, plan_attempt, quiz};
use chrono::Utc;
use clap::Args;
use serde_json::json;

use crate::exit::Code;
use crate::proxy_cmd::until_signal;

/// The tool surface the printed key stands for: an SDK copilot the demo policy allows.
const LABEL: &str = "developer-sdk";
/// The track the demo user has passed with `--certified`.
const TRACK: &str = "AI_CONSUMER_EXTERNAL";
const USER: &str = "demo-contractor";
const REGION: &str = "us-east-1";
/// How often the snapshot is rebuilt, so posture stays fresh and a quiz passed meanwhile counts.
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

/// A random hex string (the admin token, the client key).
fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
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

/// Without a keyring: the demo user's certification minted in memory with the demo server's
/// issuer key, bound to a throw-away device key, and verified offline as the device does.
fn mint_in_memory(
    state: &AppState,
    policy: &LoadedPolicy,
) -> Result<certgate_policy::CertificationClaim> {
    let track = policy
        .policy
        .track(TRACK)
        .context("the demo policy has no AI_CONSUMER_EXTERNAL track")?;
    let device = DeviceKey::generate()?;
    let now = state.now();
    let claims = CertificationClaims {
        iss: state.issuer.name.clone(),
        sub: USER.to_owned(),
        track: TRACK.to_owned(),
        status: "passed".to_owned(),
        score: 100.0,
        modules: track.modules.clone(),
        policy_version: policy.sha256.clone(),
        iat: now.timestamp(),
        exp: (now + chrono::Duration::days(i64::from(track.recertify_days))).timestamp(),
        jti: format!("demo-{}", random_hex(8)?),
        cnf: Confirmation {
            jkt: device.thumbprint(),
        },
    };
    let token = claims.sign(state.issuer.signing.expose())?;
    let verified = state.issuer.issuer().verify_certification(
        &token,
        &device.public_key(),
        &certgate_credentials::RevocationList::default(),
        now,
    )?;
    Ok(verified.to_claim())
}

/// A one-time enrolment code for the demo user from the demo server's admin API.
fn enrolment_code(
    server_url: &str,
    admin: &certgate_credentials::Sensitive<String>,
) -> Result<String> {
    let client = Client::new(server_url)?.with_admin(admin);
    let body = json!({"userId": USER, "userType": "contractor", "vendorOrg": "Demo Vendor",
                      "region": REGION});
    let code: CodeResponse = client
        .send("the demo enrolment code", &|| {
            client.post("/v1/admin/enrolment-codes").json(&body)
        })?
        .json()?;
    Ok(code.code)
}

/// With a keyring: the demo user enrolled for real, as `certgate enroll`, `certgate quiz` and
/// `certgate sync` would do it: an enrolment code from the demo server, this device enrolled
/// with it, a quiz attempt answered correctly and recorded, then sent by the sync, re-graded
/// by the server and answered with a device-bound token kept in the demo keyring.
fn enrol_and_pass(
    server_url: &str,
    admin: &certgate_credentials::Sensitive<String>,
    device_db: &Path,
    keys: &Keystore,
) -> Result<()> {
    let code = enrolment_code(server_url, admin)?;
    let mut db = Database::open(device_db)?;
    device::enroll(&mut db, keys, server_url, &code, Utc::now())?;

    let policy = certgate_policy::demo::load()?;
    let bundle = certgate_training::demo::bundle(&policy)?;
    let content = bundle.track(TRACK).context("the demo course has no quiz")?;
    let seed = quiz::new_seed()?;
    let plan = plan_attempt(&content.bank, content.draw_count, seed);
    let started_at = Utc::now();
    let mut responses = Vec::new();
    for planned in &plan.questions {
        let question = content
            .bank
            .question(&planned.question_id)
            .context("the plan names a question the bank lacks")?;
        let typed = match &question.kind {
            QuestionKind::TrueFalse { answer } => answer.to_string(),
            _ => planned.correct_letters(question),
        };
        let choice = planned
            .parse_answer(question, &typed)
            .map_err(|e| anyhow::anyhow!("demo answer refused: {e}"))?;
        responses.push(certgate_training::Response {
            question_id: planned.question_id.clone(),
            choice,
        });
    }
    let rules = crate::train_cmd::rules(&policy, &bundle, TRACK)?;
    let attempt = AttemptRecord::grade(
        &bundle,
        TRACK,
        &rules,
        seed,
        responses,
        started_at,
        Utc::now(),
    )?;
    let mut records = Records::new(Database::open(device_db)?)?;
    records.submit_attempt(&attempt)?;
    let device = Device::load(&mut db, keys)?;
    let mut outbox = crate::device_cmd::outbox(records);
    let report = device.sync(&db, keys, &mut outbox, Utc::now())?;
    if report.tokens_stored == 0 {
        anyhow::bail!("the demo server issued no token for the passed attempt");
    }
    Ok(())
}

/// The device facts the gate sees: simulated compliance, or this host's real posture.
fn device_facts(simulated: bool, policy: &LoadedPolicy) -> Result<serde_json::Value> {
    if simulated {
        return Ok(json!({"managed": true, "diskEncryption": true, "simulated": true}));
    }
    let config = certgate_posture::PostureConfig::from_policy(&policy.policy.device_posture);
    let report = certgate_posture::check_host(config, &certgate_posture::SystemClock);
    Ok(serde_json::to_value(&report)?)
}

/// Everything the gate needs now. Without `--certified` the certifications are this demo
/// device's real ones (none until it enrols and passes the quiz).
fn snapshot(
    simulated: bool,
    policy: &LoadedPolicy,
    claim: Option<&certgate_policy::CertificationClaim>,
    db_path: &Path,
    keys: Option<&Keystore>,
) -> Result<GateSnapshot> {
    let certifications = match (claim, keys) {
        (Some(c), _) => [(TRACK.to_owned(), c.clone())].into(),
        (None, Some(keys)) => {
            let mut db = Database::open(db_path)?;
            match device::certifications(&mut db, keys, Utc::now()) {
                Ok(s) => device::policy_certifications(&s),
                Err(certgate_credentials::Error::NotEnrolled) => Default::default(),
                Err(e) => return Err(e.into()),
            }
        }
        (None, None) => Default::default(),
    };
    let device = device_facts(simulated, policy)?;
    Ok(GateSnapshot {
        user: UserContext {
            id: Some(USER.to_owned()),
            user_type: Some("contractor".to_owned()),
            vendor_org: Some("Demo Vendor".to_owned()),
            region: Some(REGION.to_owned()),
            certifications,
        },
        device: Some(DeviceFacts::from_json(&device)),
        device_collected_at: Some(Utc::now()),
        exceptions: Vec::new(),
    })
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

fn serve(args: &DemoArgs, dir: &Path, keys: Option<&(Keystore, String)>) -> Result<Code> {
    let policy = Arc::new(certgate_policy::demo::load()?);
    let (doc, regrader) = demo_policy()?;
    let admin = certgate_credentials::Sensitive::new(random_hex(32)?);
    let state = Arc::new(AppState::new(
        Database::open(&dir.join("demo-server.db"))?,
        IssuerKeys {
            name: "certgate-demo".to_owned(),
            signing: certgate_credentials::Sensitive::new(
                certgate_credentials::jws::generate_key()?
            ),
        },
        doc,
        admin.expose(),
        Box::new(regrader),
        Arc::new(Utc::now),
    )?);
    // The name `Database::open_default` uses, so `CERTGATE_HOME=<dir>` commands share it.
    let device_db = dir.join("certgate.db");
    let claim = match (args.certified, keys) {
        (true, None) => Some(mint_in_memory(&state, &policy)?),
        _ => None,
    };
    let audit = AuditLog::open(
        Database::open(&device_db)?,
        policy.policy.logging_and_evidence.retention_days,
    )?;
    let api_key = format!("cg-demo-{}", random_hex(16)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let server = certgate_server::spawn(state, loopback(0)).await?;
        let server_url = format!("http://{}", server.addr);
        match (args.certified, keys) {
            (true, Some((keys, _))) => {
                let (url, keys, db) = (server_url.clone(), keys.clone(), device_db.clone());
                tokio::task::spawn_blocking(move || enrol_and_pass(&url, &admin, &db, &keys))
                    .await
                    .context("the demo enrolment stopped")??;
            }
            (false, Some((_, service))) => {
                let url = server_url.clone();
                let code = tokio::task::spawn_blocking(move || enrolment_code(&url, &admin))
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
            }
            (_, None) => {}
        }
        let build = {
            let (policy, keys, db, certified) = (
                policy.clone(),
                keys.map(|(k, _)| k.clone()),
                device_db.clone(),
                args.certified,
            );
            move || snapshot(certified, &policy, claim.as_ref(), &db, keys.as_ref())
        };
        let first = tokio::task::spawn_blocking(build.clone())
            .await
            .context("the demo snapshot stopped")??;
        let mock = certgate_proxy::mock::start(loopback(0), MockOptions::default()).await?;
        let mock_url = format!("http://{}", mock.addr);
        let config = ProxyConfig {
            listen: loopback(args.listen_port),
            upstreams: policy
                .policy
                .scope
                .regions_allowed
                .iter()
                .map(|region| Upstream {
                    region: region.clone(),
                    base_url: mock_url.clone(),
                    api_key: None,
                })
                .collect(),
            ..ProxyConfig::default()
        };
        let (snap_tx, snap_rx) = tokio::sync::watch::channel(first);
        let (events, _) = tokio::sync::broadcast::channel(64);
        let deps = Deps {
            policy: policy.clone(),
            snapshot: snap_rx,
            keys: vec![ClientKey {
                key: Sensitive::new(api_key.clone()),
                label: LABEL.to_owned(),
            }],
            audit,
            events,
        };
        let proxy = certgate_proxy::start(config, deps).await?;
        let proxy_url = format!("http://{}", proxy.local_addr());
        let signal = tokio::spawn(until_signal());
        print_ready(args, &proxy_url, &api_key, &mock_url, &server_url);
        let refresh = tokio::spawn(async move {
            loop {
                tokio::time::sleep(REFRESH).await;
                match tokio::task::spawn_blocking(build.clone()).await {
                    Ok(Ok(s)) => {
                        let _ = snap_tx.send(s);
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "demo snapshot not refreshed"),
                    Err(e) => tracing::warn!(error = %e, "demo snapshot refresh failed"),
                }
            }
        });
        let _ = signal.await;
        refresh.abort();
        proxy.stop().await;
        drop(mock);
        drop(server);
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
