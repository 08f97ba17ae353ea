//! `certgate posture`: check this device (or a captured snapshot) against what the policy's
//! rules require; `attest` signs the report for a server nonce, `verify` checks such an
//! attestation as the server would, `snapshot` captures the files the Linux checks read.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use certgate_policy::LoadedPolicy;
use certgate_posture::attest::{
    Attestation, MemoryNonceStore, signing_key_from_pem, verifying_key_from_text,
};
use certgate_posture::report::DeviceIdentity;
use certgate_posture::{FactName, PostureConfig, PostureReport, Signer, SystemClock, Verifier};
use clap::{Args, Subcommand};

use crate::exit::Code;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PostureArgs {
    #[command(subcommand)]
    command: Option<PostureCommand>,
    /// Print the report as JSON: exactly the `device` object policy rules see.
    #[arg(long)]
    json: bool,
    /// Read proc/, sys/, etc/ and dev/ under DIR instead of / and run no external command
    /// (diagnose a captured snapshot; Linux only).
    #[arg(long, value_name = "DIR")]
    sysroot: Option<PathBuf>,
    /// The policy whose rules say which facts are required (unsigned is fine here);
    /// default: the embedded demo policy.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum PostureCommand {
    /// Check this device and sign the report for a server nonce with the enrolled device key
    /// (OS keyring); prints the attestation JSON. Each run uses the next monotonic counter.
    Attest(AttestArgs),
    /// Verify a saved attestation as the server would: signature, nonce, age. Exit 0 when
    /// valid, 1 when rejected (the reason in words), 2 on usage errors.
    Verify(VerifyArgs),
    /// Write the files the Linux checks read (nothing else, never secrets) to a tar archive,
    /// so `certgate posture --sysroot DIR` on the unpacked tree gives the same answers.
    Snapshot(SnapshotArgs),
}

#[derive(Debug, Args)]
struct AttestArgs {
    /// The nonce the server issued for this attestation.
    #[arg(long)]
    nonce: String,
    /// Compact one-line JSON and no summary on stderr.
    #[arg(long)]
    json: bool,
    /// Sign with this Ed25519 key (PKCS#8 PEM) instead of the enrolled device key
    /// (support and tests).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// The policy naming EDR agents and MDM markers; default: the embedded demo policy.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The attestation JSON (`-` reads stdin).
    file: PathBuf,
    /// The device's public key: 64 hex digits, PEM text, or a file holding either.
    #[arg(long, value_name = "K")]
    pubkey: String,
    /// The nonce the server issued; without it the nonce is not checked (and the output says so).
    #[arg(long)]
    nonce: Option<String>,
    /// Oldest report accepted, in seconds.
    #[arg(long, default_value_t = 120, value_name = "SECS")]
    max_age_secs: u32,
    /// The last counter accepted from this device; the attestation's must be higher.
    #[arg(long, value_name = "N")]
    last_counter: Option<u64>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct SnapshotArgs {
    /// The tar archive to write (written to a temporary file, then renamed).
    out: PathBuf,
    /// Capture a tree under DIR instead of this machine.
    #[arg(long, value_name = "DIR")]
    sysroot: Option<PathBuf>,
    /// The policy naming EDR agents and MDM markers (decides which processes are kept).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn load_policy(path: Option<&Path>) -> Result<LoadedPolicy> {
    Ok(match path {
        Some(path) => certgate_policy::load_unsigned(path)?,
        None => certgate_policy::demo::load()?,
    })
}

pub fn run(args: &PostureArgs) -> Result<Code> {
    match &args.command {
        Some(PostureCommand::Attest(a)) => run_attest(a),
        Some(PostureCommand::Verify(v)) => run_verify(v),
        Some(PostureCommand::Snapshot(s)) => run_snapshot(s),
        None => run_check(args),
    }
}

fn run_check(args: &PostureArgs) -> Result<Code> {
    let policy = load_policy(args.policy.as_deref())?;
    let config = PostureConfig::from_policy(&policy.policy.device_posture);
    let report = certgate_posture::check(args.sysroot.as_deref(), config, &SystemClock)?;

    let mut required = Vec::new();
    let mut uncollected = Vec::new();
    for name in policy.required_device_facts() {
        match name.parse::<FactName>() {
            Ok(fact) => required.push(fact),
            Err(_) => uncollected.push(name),
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", certgate_posture::render_table(&report, &required));
        for name in &uncollected {
            println!("✘ the policy reads device.{name}, which Certgate does not collect");
        }
    }
    let all_ok = certgate_posture::exit_code(&report, &required) == 0 && uncollected.is_empty();
    Ok(if all_ok { Code::Ok } else { Code::Failed })
}

/// The keyring this build stores the device key in.
fn keyring_backend() -> &'static str {
    if cfg!(target_os = "macos") {
        "macOS Keychain"
    } else if cfg!(target_os = "windows") {
        "Windows Credential Manager"
    } else {
        "Secret Service (D-Bus)"
    }
}

/// The signing key and the words saying where it is kept.
fn signer(key_file: Option<&Path>) -> Result<(Box<dyn Signer>, String)> {
    if let Some(path) = key_file {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the key file {}", path.display()))?;
        let key = signing_key_from_pem(&pem).with_context(|| format!("{}", path.display()))?;
        return Ok((Box::new(key), format!("file:{}", path.display())));
    }
    const FIX: &str = "enrol this device with `certgate enroll --server URL --code CODE` \
         (or pass --key FILE with a PKCS#8 Ed25519 key for support use)";
    let key = certgate_credentials::Keystore::system().and_then(|k| k.device_key());
    match key {
        Ok(Some(key)) => Ok((
            Box::new(key),
            format!("os-keyring:{} (software key)", keyring_backend()),
        )),
        Ok(None) => bail!("this device is not enrolled (no device key in the OS keyring): {FIX}"),
        Err(e) => bail!("cannot read the device key: {e}; {FIX}"),
    }
}

fn run_attest(args: &AttestArgs) -> Result<Code> {
    if args.nonce.trim().is_empty() {
        bail!("--nonce must not be empty: give the nonce the server issued");
    }
    let (signer, key_store) = signer(args.key.as_deref())?;
    let policy = load_policy(args.policy.as_deref())?;
    let config = PostureConfig::from_policy(&policy.policy.device_posture);
    let mut report: PostureReport = certgate_posture::check_host(config, &SystemClock);
    // The attested facts say which key store holds the key that signs them.
    report
        .facts
        .identity
        .value
        .get_or_insert_with(DeviceIdentity::default)
        .key_store = Some(key_store.clone());

    // The credentials crate's counter: one monotonic sequence per device, shared with
    // `certgate sync --posture`, incremented and stored before it is used.
    let mut db = certgate_store::Database::open_default()?;
    certgate_credentials::metadata::migrate(&mut db)?;
    let counter = certgate_credentials::metadata::next_attestation_counter(&db)?;
    let attestation = certgate_posture::attest(&report, &args.nonce, counter, signer.as_ref())?;
    if args.json {
        println!("{}", serde_json::to_string(&attestation)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&attestation)?);
        eprintln!(
            "signed with the key in {key_store} (public key {}), counter {counter}, collected {}",
            attestation.public_key, attestation.payload.collected_at
        );
    }
    Ok(Code::Ok)
}

fn read_input(path: &Path) -> Result<String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A rejection in words and a stable code for `--json`.
fn rejection(
    e: &certgate_posture::Error,
    expected_nonce: Option<&str>,
    a: &Attestation,
) -> (&'static str, String) {
    use certgate_posture::Error as E;
    match e {
        E::BadSignature => (
            "badSignature",
            "bad signature: the attestation was altered after signing, or signed by another key"
                .into(),
        ),
        E::UnknownNonce => (
            "wrongNonce",
            format!(
                "wrong nonce: the attestation carries {:?}, the server issued {:?} (a replayed or foreign attestation)",
                a.payload.nonce,
                expected_nonce.unwrap_or_default()
            ),
        ),
        E::Stale { age_secs, max_secs } => (
            "stale",
            format!(
                "stale: the report was collected {age_secs} s ago, more than the allowed {max_secs} s"
            ),
        ),
        E::FromFuture { ahead_secs } => (
            "future",
            format!(
                "dated in the future: collected {ahead_secs} s from now (clock tampering or skew)"
            ),
        ),
        E::CounterNotIncreased { last, got } => (
            "counterWentBack",
            format!("counter went back: {got} is not above the last accepted {last} (a replay)"),
        ),
        E::MalformedAttestation { reason } => ("malformed", format!("malformed: {reason}")),
        other => ("invalid", other.to_string()),
    }
}

fn run_verify(args: &VerifyArgs) -> Result<Code> {
    let text = read_input(&args.file)?;
    let attestation: Attestation = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a posture attestation (payload, publicKey, signature)",
            args.file.display()
        )
    })?;
    let key_text = match Path::new(&args.pubkey) {
        p if p.is_file() => {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?
        }
        _ => args.pubkey.clone(),
    };
    let key = verifying_key_from_text(&key_text).context("--pubkey")?;
    let nonces = MemoryNonceStore::default();
    // Without --nonce the attestation's own nonce is accepted: say so, never imply a check.
    nonces.issue(args.nonce.as_deref().unwrap_or(&attestation.payload.nonce));
    let mut verifier = Verifier::new(key, nonces)
        .with_max_age(chrono::Duration::seconds(i64::from(args.max_age_secs)));
    if let Some(last) = args.last_counter {
        verifier = verifier.with_last_counter(last);
    }
    let now = chrono::Utc::now();
    match verifier.verify(&attestation, now) {
        Ok(facts) => {
            let age = (now - attestation.payload.collected_at).num_seconds();
            let states: Vec<(String, String)> = facts
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.get("state")
                                    .and_then(|s| s.as_str())
                                    .unwrap_or("?")
                                    .to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let nonce_checked = args.nonce.is_some();
            if args.json {
                let facts_map: serde_json::Map<String, serde_json::Value> = states
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect();
                let summary = serde_json::json!({
                    "valid": true,
                    "counter": attestation.payload.counter,
                    "ageSecs": age,
                    "nonceChecked": nonce_checked,
                    "facts": facts_map,
                });
                println!("{summary}");
            } else {
                println!(
                    "✔ valid attestation: signature ok, {}, collected {age} s ago, counter {}",
                    if nonce_checked {
                        "nonce matches"
                    } else {
                        "nonce NOT checked (no --nonce given)"
                    },
                    attestation.payload.counter
                );
                let line: Vec<String> = states.iter().map(|(k, s)| format!("{k} {s}")).collect();
                println!("  facts: {}", line.join(", "));
            }
            Ok(Code::Ok)
        }
        Err(e) => {
            let (code, words) = rejection(&e, args.nonce.as_deref(), &attestation);
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"valid": false, "code": code, "reason": words})
                );
            } else {
                println!("✘ attestation rejected: {words}");
            }
            Ok(Code::Failed)
        }
    }
}

#[cfg(target_os = "linux")]
fn run_snapshot(args: &SnapshotArgs) -> Result<Code> {
    use certgate_posture::linux::LinuxCheck;
    let policy = load_policy(args.policy.as_deref())?;
    let config = PostureConfig::from_policy(&policy.policy.device_posture);
    let check = match &args.sysroot {
        Some(dir) if !dir.is_dir() => bail!(
            "{} is not a directory: give the folder to capture",
            dir.display()
        ),
        Some(dir) => LinuxCheck::sysroot(dir, config),
        None => LinuxCheck::host(config),
    };
    let summary = certgate_posture::linux::snapshot::snapshot(&check, &args.out, &SystemClock)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "out": args.out.display().to_string(),
                "files": summary.file_names,
                "links": summary.links,
                "dirs": summary.dirs,
                "skipped": summary.skipped.iter()
                    .map(|(p, why)| serde_json::json!({"path": p, "reason": why}))
                    .collect::<Vec<_>>(),
            })
        );
    } else {
        println!(
            "wrote {}: {} file(s), {} symlink(s), {} folder(s)",
            args.out.display(),
            summary.files,
            summary.links,
            summary.dirs
        );
        for (path, why) in &summary.skipped {
            println!("  left out {path}: {why}");
        }
        println!("unpack it and run `certgate posture --sysroot DIR` to see the same answers");
    }
    Ok(Code::Ok)
}

#[cfg(not(target_os = "linux"))]
fn run_snapshot(_args: &SnapshotArgs) -> Result<Code> {
    bail!("posture snapshots capture Linux trees; this is not Linux")
}
