//! `certgate enroll` and `certgate sync`: this device and the org server. Secrets go to the
//! OS keyring only; without one these commands stop with a clear message.

use anyhow::Result;
use certgate_credentials::device::{self, Device};
use certgate_credentials::{Keystore, TokenState};
use certgate_store::Database;
use certgate_training::Records;
use clap::Args;

use crate::exit::Code;

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The org server, e.g. https://certgate.example.org
    #[arg(long, value_name = "URL")]
    server: String,
    /// The one-time enrolment code from your admin.
    #[arg(long)]
    code: String,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[arg(long)]
    json: bool,
    /// Also check this device's posture and send a signed attestation (fresh server nonce).
    #[arg(long)]
    posture: bool,
}

pub fn run_enroll(args: &EnrollArgs) -> Result<Code> {
    let keys = Keystore::system()?;
    let db = Database::open_default()?.path().to_owned();
    // The org's managed configuration decides which server and org key are acceptable.
    let managed = certgate_managed::read_platform();
    let e = certgate_agent::enrol::enrol(&managed, &db, &keys, &args.server, &args.code)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"serverUrl": e.server_url, "deviceId": e.device_id,
                               "userId": e.user_id, "issuer": e.issuer.name})
        );
    } else {
        println!(
            "enrolled as {} with {} (device {}); the device key is in the OS keyring",
            e.user_id, e.server_url, e.device_id
        );
    }
    Ok(Code::Ok)
}

pub fn run_sync(args: &SyncArgs) -> Result<Code> {
    let keys = Keystore::system()?;
    let mut db = Database::open_default()?;
    let device = Device::load(&mut db, &keys)?;
    let mut outbox = certgate_agent::TrainingOutbox::new(Records::open_default()?);
    let mut report = device.sync(&db, &keys, &mut outbox, chrono::Utc::now())?;
    // The proxy's audit records live in the same database (`certgate proxy` writes them there).
    let mut evidence = certgate_agent::AuditOutbox::new(Database::open_default()?)?;
    report.evidence_uploaded = device.upload_evidence(&mut evidence)?;
    if args.posture {
        // The policy just fetched (signed by the org) says which agents and markers count.
        let settings = match certgate_credentials::metadata::policy(&db)? {
            Some((_, text, _)) => certgate_policy::parse(&text, "<org policy>")?
                .policy
                .device_posture
                .clone(),
            None => certgate_policy::demo::load()?.policy.device_posture.clone(),
        };
        let config = certgate_posture::PostureConfig::from_policy(&settings);
        let posture = certgate_posture::check_host(config, &certgate_posture::SystemClock);
        let counter = device.attest_posture(&db, &posture)?;
        if !args.json {
            println!("posture attested (counter {counter})");
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "sent {} statement(s) ({} refused); {} proxy audit record(s) uploaded; {} token(s) stored; {} revoked id(s); {} exception grant(s); policy {}; course {}",
            report.statements_delivered,
            report.statements_refused,
            report.evidence_uploaded,
            report.tokens_stored,
            report.revoked,
            report.exception_grants,
            if report.policy_updated {
                "updated"
            } else {
                "unchanged"
            },
            report
                .bundle_installed
                .as_deref()
                .map_or_else(|| "unchanged".to_owned(), |v| format!("{v} installed"))
        );
    }
    Ok(if report.statements_refused > 0 {
        Code::Failed
    } else {
        Code::Ok
    })
}

/// Token state per track for `certgate certs`, or `None` when this device is not enrolled or
/// has no keyring (the training status is still shown then).
pub fn token_states() -> Option<Vec<(String, TokenState, Option<String>)>> {
    let keys = Keystore::system().ok()?;
    let mut db = Database::open_default().ok()?;
    let statuses = device::certifications(&mut db, &keys, chrono::Utc::now()).ok()?;
    Some(
        statuses
            .into_iter()
            .map(|s| (s.track, s.state, s.detail))
            .collect(),
    )
}

/// The token column of `certgate certs`: valid / expiring / expired / revoked / pending
/// verification (passed here, no token from the server yet) / invalid.
pub fn token_label(
    states: Option<&[(String, TokenState, Option<String>)]>,
    track: &str,
    passed_locally: bool,
) -> String {
    let Some(states) = states else {
        return "token: device not enrolled".into();
    };
    match states.iter().find(|(t, _, _)| t == track) {
        Some((_, state, _)) => format!("token: {}", state.label()),
        None if passed_locally => {
            format!("token: {}", TokenState::PendingVerification.label())
        }
        None => "token: none".into(),
    }
}
