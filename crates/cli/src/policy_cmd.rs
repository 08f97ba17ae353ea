//! `certgate policy …`: authoring tools. They work on unsigned files; the app, the proxy and the
//! server insist on signatures.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use certgate_policy::signing::{self, signature_path};
use certgate_policy::{
    Decision, DeviceFacts, Error as PolicyError, GateInput, LoadedPolicy, PublicKey,
    RequestContext, SecretKey, UserContext,
};
use clap::{Args, Subcommand};

use crate::exit::Code;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file: print a short summary, or every problem with its place and fix.
    Check {
        file: PathBuf,
        /// Print JSON (the summary, or the list of problems).
        #[arg(long)]
        json: bool,
    },
    /// Sign a policy with the org's Ed25519 key, writing FILE.sig beside it.
    Sign {
        file: PathBuf,
        /// The org's secret key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
        /// Where to write the signature (default: FILE.sig).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a policy's detached signature (FILE.sig) against the org's public key.
    Verify {
        file: PathBuf,
        /// The org's public key (PEM).
        #[arg(long)]
        pubkey: PathBuf,
        /// The signature file (default: FILE.sig).
        #[arg(long)]
        sig: Option<PathBuf>,
    },
    /// Decide one request and say why: prints `allow` or `deny` and every reason.
    Explain(ExplainArgs),
    /// Make a new org signing key pair.
    Keygen {
        /// Where to write the secret key (PKCS#8 PEM, mode 0600). Keep it off devices.
        #[arg(long)]
        secret: PathBuf,
        /// Where to write the public key (PEM) that devices pin.
        #[arg(long)]
        public: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    file: PathBuf,
    /// JSON file with the `user` object rules see, e.g.
    /// {"certifications": {"AI_CONSUMER_EXTERNAL": {"status": "passed", "expiresAt": "2026-12-01T00:00:00Z"}}}
    #[arg(long)]
    user: PathBuf,
    /// JSON file with the `device` object rules see, e.g. {"managed": true, "diskEncryption": true}
    /// (the output of `certgate posture --json` fits).
    #[arg(long)]
    device: PathBuf,
    /// Certification track to decide for, e.g. AI_CONSUMER_EXTERNAL.
    #[arg(long)]
    track: String,
    /// Tool surface asking (name or kind:name); its check is skipped when absent.
    #[arg(long)]
    tool: Option<String>,
    /// Region the request would run in; its check is skipped when absent.
    #[arg(long)]
    region: Option<String>,
    /// The decision time (RFC 3339); default now.
    #[arg(long)]
    at: Option<chrono::DateTime<chrono::Utc>>,
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: PolicyCommand) -> Result<Code> {
    match cmd {
        PolicyCommand::Check { file, json } => check(&file, json),
        PolicyCommand::Sign { file, key, out } => sign(&file, &key, out),
        PolicyCommand::Verify { file, pubkey, sig } => verify(&file, &pubkey, sig),
        PolicyCommand::Explain(args) => explain(&args),
        PolicyCommand::Keygen { secret, public } => keygen(&secret, &public),
    }
}

/// Loads for authoring; invalid policies print every diagnostic and give `Err(Code::Invalid)`.
fn load_for_authoring(file: &Path, json: bool) -> Result<Result<LoadedPolicy, Code>> {
    match certgate_policy::load_unsigned(file) {
        Ok(policy) => Ok(Ok(policy)),
        Err(PolicyError::Invalid(diagnostics)) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"valid": false, "errors": diagnostics})
                );
            } else {
                eprintln!("{diagnostics}");
                eprintln!(
                    "\n{}: {} problem(s); nothing was changed",
                    file.display(),
                    diagnostics.len()
                );
            }
            Ok(Err(Code::Invalid))
        }
        Err(e) => Err(e.into()),
    }
}

fn check(file: &Path, json: bool) -> Result<Code> {
    let policy = match load_for_authoring(file, json)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let s = policy.summary();
    if json {
        println!("{}", serde_json::json!({"valid": true, "summary": s}));
        return Ok(Code::Ok);
    }
    println!("{}: valid policy {}", file.display(), s.policy_id);
    println!("  sha256      {}", s.sha256);
    println!("  populations {}", s.populations.join(", "));
    println!("  regions     {}", s.regions_allowed.join(", "));
    println!(
        "  tools       {} copilot(s), {} automation endpoint(s)",
        s.copilots.len(),
        s.automation_endpoints.len()
    );
    for t in &s.tracks {
        println!(
            "  track       {}: {} module(s), pass {}%, {} attempt(s), recertify every {} days",
            t.id,
            t.modules.len(),
            t.min_score_pct,
            t.attempts_allowed,
            t.recertify_days
        );
    }
    for c in &s.conditions {
        println!("  condition   {}: {}", c.name, c.rule);
    }
    Ok(Code::Ok)
}

fn read(path: &Path, what: &str) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
fn write_atomically(path: &Path, contents: &str, private: bool) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("certgate")
    ));
    fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", tmp.display()))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn sign(file: &Path, key: &Path, out: Option<PathBuf>) -> Result<Code> {
    // Refuse to sign a policy that would not load: a signed broken policy helps nobody.
    if let Err(code) = load_for_authoring(file, false)? {
        eprintln!("not signed: fix the problems above first");
        return Ok(code);
    }
    let secret = SecretKey::from_pem(&read(key, "key")?, key)?;
    let bytes = fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let out = out.unwrap_or_else(|| signature_path(file));
    write_atomically(&out, &secret.sign(&bytes), false)?;
    println!(
        "signed {} with key {} → {}",
        file.display(),
        secret.public_key().key_id(),
        out.display()
    );
    Ok(Code::Ok)
}

fn verify(file: &Path, pubkey: &Path, sig: Option<PathBuf>) -> Result<Code> {
    let key = PublicKey::from_pem(&read(pubkey, "public key")?, pubkey)?;
    let sig_path = sig.unwrap_or_else(|| signature_path(file));
    let bytes = fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let signature = match fs::read_to_string(&sig_path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "{} is not signed: no {}",
                file.display(),
                sig_path.display()
            );
            return Ok(Code::Failed);
        }
        Err(e) => bail!("cannot read {}: {e}", sig_path.display()),
    };
    match key.verify(&bytes, &signature, &sig_path) {
        Ok(()) => {
            println!(
                "{}: signature OK (key {}, sha256 {})",
                file.display(),
                key.key_id(),
                signing::sha256_hex(&bytes)
            );
            Ok(Code::Ok)
        }
        Err(e @ PolicyError::BadSignature { .. }) => {
            eprintln!("{e}");
            Ok(Code::Failed)
        }
        Err(e) => Err(e.into()),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let text = read(path, what)?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid {what} JSON object (see `certgate policy explain --help`)",
            path.display()
        )
    })
}

fn explain(args: &ExplainArgs) -> Result<Code> {
    let policy = match load_for_authoring(&args.file, args.json)? {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let user: UserContext = read_json(&args.user, "user")?;
    let device_json: serde_json::Value = read_json(&args.device, "device")?;
    if !device_json.is_object() {
        bail!("{} must hold a JSON object", args.device.display());
    }
    let request = RequestContext {
        tool_surface: args.tool.clone(),
        region: args.region.clone(),
        model: None,
    };
    let decision = policy.decide(GateInput {
        user: &user,
        device: &DeviceFacts::from_json(&device_json),
        track: &args.track,
        request: &request,
        now: args.at.unwrap_or_else(chrono::Utc::now),
    });
    if args.json {
        println!("{}", serde_json::to_string(&decision)?);
    } else {
        print_decision(&decision);
    }
    Ok(if decision.allowed {
        Code::Ok
    } else {
        Code::Failed
    })
}

fn print_decision(decision: &Decision) {
    println!("{}", if decision.allowed { "allow" } else { "deny" });
    for r in &decision.reasons {
        println!("  ✘ {} ({})", r.message, r.check);
        if let Some(fix) = &r.fix {
            println!("    → {fix}");
        }
    }
    for s in &decision.skipped {
        println!("  · not checked: {s}");
    }
}

fn keygen(secret: &Path, public: &Path) -> Result<Code> {
    for path in [secret, public] {
        if path.exists() {
            bail!(
                "{} already exists; refusing to overwrite a key (move it away first)",
                path.display()
            );
        }
    }
    let key = SecretKey::generate()?;
    write_atomically(secret, &key.to_pem()?, true)?;
    write_atomically(public, &key.public_key().to_pem()?, false)?;
    println!(
        "new org key {}: secret {} (keep it off devices), public {}",
        key.public_key().key_id(),
        secret.display(),
        public.display()
    );
    Ok(Code::Ok)
}
