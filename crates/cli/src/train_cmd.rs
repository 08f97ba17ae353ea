//! Training in the terminal: `certgate train list|read`, `certgate quiz`, `certgate ack`,
//! `certgate certs`, and `certgate content check|sign` for authors. Records go to the Certgate
//! database in the data directory (`CERTGATE_HOME` overrides it).

mod render;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use certgate_policy::{LoadedPolicy, PublicKey, SecretKey, TrustMode};
use certgate_training::status::{Reminder, can_attempt, track_status};
use certgate_training::{
    AttemptRecord, Bundle, CertStatus, Clock, ModuleProgress, QuestionKind, Records, SystemClock,
    TrackRules, ack, archive, bundle, plan_attempt, quiz,
};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};

use crate::exit::Code;

/// Where the policy and the course come from.
#[derive(Debug, Clone, Args)]
pub struct Source {
    /// The org policy (default: the embedded demo policy).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// The course content: a folder, or a bundle archive (.tar) made by `certgate content
    /// pack` (default: the embedded demo course).
    #[arg(long)]
    content: Option<PathBuf>,
    /// The org public key (PEM) the policy and content must be signed with; without it they
    /// must be signed by the demo key.
    #[arg(long)]
    pubkey: Option<PathBuf>,
    /// Accept an unsigned policy and content (authoring only).
    #[arg(long)]
    dev: bool,
}

#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Tracks, their modules and your status.
    List {
        #[command(flatten)]
        source: Source,
        #[arg(long)]
        json: bool,
    },
    /// Read a module (id or unique prefix, e.g. GOV-101); marks it read.
    Read {
        module: String,
        #[command(flatten)]
        source: Source,
        /// Print the Markdown as written.
        #[arg(long)]
        raw: bool,
    },
}

#[derive(Debug, Args)]
pub struct QuizArgs {
    /// The track, e.g. AI_CONSUMER_EXTERNAL (or a unique prefix).
    track: String,
    #[command(flatten)]
    source: Source,
    /// Draw with this seed instead of a random one (reproducible scripted runs).
    #[arg(long, hide = true)]
    seed: Option<u64>,
}

#[derive(Debug, Args)]
pub struct AckArgs {
    #[command(flatten)]
    source: Source,
    /// Your full name (otherwise asked for).
    #[arg(long)]
    name: Option<String>,
}

#[derive(Debug, Args)]
pub struct CertsArgs {
    #[command(flatten)]
    source: Source,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ContentCommand {
    /// Validate a course folder against a policy: every problem with file, line and field.
    Check {
        dir: PathBuf,
        /// The policy to check against (default: the embedded demo policy).
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Sign a course folder: writes MANIFEST (sha256 per file) and MANIFEST.sig into it.
    Sign {
        dir: PathBuf,
        /// The org's secret key (PKCS#8 PEM).
        #[arg(long)]
        key: PathBuf,
    },
    /// Pack a signed course folder into one archive (a tar holding MANIFEST and MANIFEST.sig).
    Pack {
        dir: PathBuf,
        /// The archive to write, e.g. course-1.0.0.tar.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Columns quiz text is wrapped at.
const WIDTH: usize = 96;

fn load(source: &Source) -> Result<(LoadedPolicy, Bundle)> {
    let key = match &source.pubkey {
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(PublicKey::from_pem(&pem, path)?)
        }
        None => None,
    };
    let mode = match (&key, source.dev) {
        (_, true) => TrustMode::DevUnsigned,
        (Some(key), false) => TrustMode::Pinned(key),
        (None, false) => TrustMode::Demo,
    };
    if source.dev {
        tracing::warn!("dev mode: unsigned policy and content accepted");
    }
    let policy = match &source.policy {
        Some(path) => certgate_policy::load(path, mode)?,
        None => certgate_policy::demo::load()?,
    };
    let bundle = match &source.content {
        Some(path) if path.is_file() => archive::load_archive(path, &policy, mode)?,
        Some(dir) => bundle::load_dir(dir, &policy, mode)?,
        None => certgate_training::demo::bundle(&policy)?,
    };
    Ok((policy, bundle))
}

pub(crate) fn rules(policy: &LoadedPolicy, bundle: &Bundle, track: &str) -> Result<TrackRules> {
    TrackRules::in_policy(&policy.policy, bundle, track)
        .with_context(|| format!("the policy defines no track {track}"))
}

/// A track by exact id or a unique case-insensitive part of it (`consumer`).
fn resolve_track(bundle: &Bundle, wanted: &str) -> Result<String> {
    let upper = wanted.to_ascii_uppercase();
    if bundle.tracks.contains_key(&upper) {
        return Ok(upper);
    }
    let found: Vec<&String> = bundle
        .tracks
        .keys()
        .filter(|id| id.contains(&upper))
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        _ => bail!(
            "no single track matches {wanted}; tracks: {}",
            bundle.tracks.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

pub fn run_train(cmd: TrainCommand) -> Result<Code> {
    match cmd {
        TrainCommand::List { source, json } => list(&source, json),
        TrainCommand::Read {
            module,
            source,
            raw,
        } => read(&module, &source, raw),
    }
}

fn list(source: &Source, json: bool) -> Result<Code> {
    let (policy, bundle) = load(source)?;
    let records = Records::open_default()?;
    let now = SystemClock.now();
    let mut tracks = Vec::new();
    for (id, content) in policy
        .policy
        .track_ids()
        .filter_map(|id| bundle.track(id).map(|c| (id, c)))
    {
        let status = track_status(
            &rules(&policy, &bundle, id)?,
            &records.history(&bundle, id)?,
            now,
        );
        let mut modules = Vec::new();
        for m in content.modules.iter().filter_map(|m| bundle.module(m)) {
            let progress = records.progress(&m.id)?;
            modules.push(serde_json::json!({
                "id": m.id, "title": m.title, "minutes": m.minutes,
                "read": progress.as_ref().is_some_and(|p| p.completed_at.is_some()),
            }));
        }
        tracks.push(serde_json::json!({ "id": id, "status": status, "label": status.label(), "modules": modules }));
    }
    let signed = records.latest_acknowledgement(&bundle.acknowledgement.id)?;
    let ack_needed = ack::needs_signature(&bundle.acknowledgement, signed.as_ref());
    if json {
        let v = serde_json::json!({
            "bundle": { "id": bundle.bundle_id, "version": bundle.version, "trust": bundle.trust.label() },
            "tracks": tracks,
            "roleSops": bundle.role_sops,
            "acknowledgementNeeded": ack_needed,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(Code::Ok);
    }
    println!(
        "{} {} ({})",
        bundle.title,
        bundle.version,
        bundle.trust.label()
    );
    for t in &tracks {
        println!(
            "\n{}  [{}]",
            t["id"].as_str().unwrap_or_default(),
            t["label"].as_str().unwrap_or_default()
        );
        for m in t["modules"].as_array().into_iter().flatten() {
            println!(
                "  {} {:<34} {:>3} min  {}",
                if m["read"].as_bool() == Some(true) {
                    "✓"
                } else {
                    " "
                },
                m["id"].as_str().unwrap_or_default(),
                m["minutes"],
                m["title"].as_str().unwrap_or_default()
            );
        }
    }
    println!("\nRole SOPs:");
    for id in &bundle.role_sops {
        if let Some(m) = bundle.module(id) {
            println!("    {:<34} {:>3} min  {}", m.id, m.minutes, m.title);
        }
    }
    println!(
        "\nAcknowledgement: {}",
        if ack_needed {
            "not signed for this version — run `certgate ack`"
        } else {
            "signed"
        }
    );
    Ok(Code::Ok)
}

fn read(wanted: &str, source: &Source, raw: bool) -> Result<Code> {
    let (_, bundle) = load(source)?;
    let Some(module) = bundle.find_module(wanted) else {
        bail!(
            "no single module matches {wanted}; modules: {}",
            bundle
                .modules
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    if raw {
        print!("{}", module.body);
    } else {
        println!(
            "{} · {} min · v{}\n",
            module.id, module.minutes, module.version
        );
        print!("{}", render::markdown(&module.body));
    }
    let now = SystemClock.now();
    let sections = u32::try_from(module.body.matches("\n## ").count()).unwrap_or(u32::MAX);
    let mut records = Records::open_default()?;
    records.save_progress(&ModuleProgress {
        module_id: module.id.clone(),
        module_version: module.version.clone(),
        position: sections,
        completed_at: Some(now),
        updated_at: now,
    })?;
    Ok(Code::Ok)
}

pub fn run_quiz(args: &QuizArgs) -> Result<Code> {
    let (policy, bundle) = load(&args.source)?;
    let track = resolve_track(&bundle, &args.track)?;
    let rules = rules(&policy, &bundle, &track)?;
    let content = bundle
        .track(&track)
        .with_context(|| format!("no content for {track}"))?;
    let mut records = Records::open_default()?;
    let clock = SystemClock;
    if let Err(blocked) = can_attempt(&rules, &records.history(&bundle, &track)?, clock.now()) {
        eprintln!("{track}: {blocked}");
        return Ok(Code::Failed);
    }
    let seed = match args.seed {
        Some(seed) => seed,
        None => quiz::new_seed()?,
    };
    let plan = plan_attempt(&content.bank, content.draw_count, seed);
    let started_at = clock.now();
    let interactive = std::io::stdin().is_terminal();
    let mut lines = std::io::stdin().lock().lines();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{track}: {} questions, pass mark {}%.",
        plan.questions.len(),
        rules.min_score_pct
    )?;
    let mut responses = Vec::new();
    'questions: for (n, planned) in plan.questions.iter().enumerate() {
        let question = content
            .bank
            .question(&planned.question_id)
            .context("the plan names a question the bank lacks")?;
        writeln!(out, "\nQuestion {}/{}", n + 1, plan.questions.len())?;
        if let Some(scenario) = &question.scenario {
            writeln!(
                out,
                "{}",
                render::wrap(&format!("Scenario: {scenario}"), WIDTH, "")
            )?;
        }
        writeln!(out, "{}", render::wrap(&question.prompt, WIDTH, ""))?;
        for (i, id) in planned.option_order.iter().enumerate() {
            if let Some(o) = question.options().iter().find(|o| &o.id == id) {
                let option = format!("  {}) {}", quiz::letter(i), o.text);
                writeln!(out, "{}", render::wrap(&option, WIDTH, "     "))?;
            }
        }
        let hint = match question.kind {
            QuestionKind::TrueFalse { .. } => "true or false",
            QuestionKind::Multiple { .. } => "all that apply, e.g. a,c",
            _ => "one letter",
        };
        let choice = loop {
            write!(out, "Answer ({hint}): ")?;
            out.flush()?;
            let Some(line) = lines.next() else {
                writeln!(out, "\n(no more answers: the remaining questions score 0)")?;
                break 'questions;
            };
            match planned.parse_answer(question, &line?) {
                Ok(choice) => break choice,
                Err(e) if interactive => writeln!(out, "{e}")?,
                Err(e) => bail!("question {}: {e}; nothing was saved", n + 1),
            }
        };
        let credit = quiz::credit(question, &choice);
        if credit == quiz::Fraction::ONE {
            writeln!(out, "Correct.")?;
        } else if credit == quiz::Fraction::ZERO {
            writeln!(
                out,
                "Not quite: the answer is {}.",
                planned.correct_letters(question)
            )?;
        } else {
            writeln!(
                out,
                "Partly right ({}/{}): the answer is {}.",
                credit.num,
                credit.den,
                planned.correct_letters(question)
            )?;
        }
        writeln!(out, "{}", render::wrap(&question.explanation, WIDTH, ""))?;
        responses.push(certgate_training::Response {
            question_id: planned.question_id.clone(),
            choice,
        });
    }
    let attempt = AttemptRecord::grade(
        &bundle,
        &track,
        &rules,
        seed,
        responses,
        started_at,
        clock.now(),
    )?;
    records.submit_attempt(&attempt)?;
    let score = &attempt.score;
    writeln!(
        out,
        "\nScore: {:.2}/{} = {}% (pass mark {}%). {} Attempt {} saved.",
        score.raw.as_f64(),
        score.max,
        score.pct,
        rules.min_score_pct,
        if score.passed {
            "PASSED."
        } else {
            "Not passed."
        },
        attempt.id
    )?;
    let status = track_status(&rules, &records.history(&bundle, &track)?, clock.now());
    match &status {
        CertStatus::Passed { expires_at, .. } | CertStatus::Expiring { expires_at, .. } => {
            writeln!(
                out,
                "Certified until {} (pending verification by your organisation's server).",
                day(*expires_at)
            )?
        }
        CertStatus::Failed {
            attempts_left,
            retry_at,
        } => {
            writeln!(
                out,
                "{attempts_left} attempt(s) left. Re-read the modules first: `certgate train list`."
            )?;
            if let Some(at) = retry_at {
                writeln!(out, "You can try again after {at}.")?;
            }
        }
        CertStatus::Locked { .. } => {
            if let Err(blocked) =
                can_attempt(&rules, &records.history(&bundle, &track)?, clock.now())
            {
                writeln!(out, "{blocked}")?;
            }
        }
        _ => {}
    }
    Ok(if score.passed { Code::Ok } else { Code::Failed })
}

pub fn run_ack(args: &AckArgs) -> Result<Code> {
    let (_, bundle) = load(&args.source)?;
    let page = &bundle.acknowledgement;
    let mut records = Records::open_default()?;
    let latest = records.latest_acknowledgement(&page.id)?;
    print!("{}", render::markdown(&page.body));
    if let Some(signed) = latest.as_ref().filter(|a| a.covers(page)) {
        println!(
            "\nYou signed version {} on {} as {}.",
            signed.version,
            day(signed.signed_at),
            signed.full_name
        );
        return Ok(Code::Ok);
    }
    if latest.is_some() {
        println!("\nThis page changed since you signed it: please sign the new version.");
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None => {
            print!("\nType your full name to sign version {}: ", page.version);
            std::io::stdout().flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line
        }
    };
    let signed = ack::sign(page, &name, SystemClock.now())?;
    records.save_acknowledgement(&signed)?;
    println!(
        "Signed version {} as {} (content sha256 {}).",
        signed.version,
        signed.full_name,
        &signed.content_sha256[..16]
    );
    Ok(Code::Ok)
}

pub fn run_certs(args: &CertsArgs) -> Result<Code> {
    let (policy, bundle) = load(&args.source)?;
    let mut records = Records::open_default()?;
    let now = SystemClock.now();
    let tokens = crate::device_cmd::token_states();
    let mut rows = Vec::new();
    for id in policy.policy.track_ids() {
        let status = track_status(
            &rules(&policy, &bundle, id)?,
            &records.history(&bundle, id)?,
            now,
        );
        let reminder = records.take_reminder(id, &status, now)?;
        rows.push((id.to_owned(), status, reminder));
    }
    if args.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(id, s, r)| serde_json::json!({ "track": id, "certified": s.is_certified(), "label": s.label(), "detail": s, "reminder": r, "token": crate::device_cmd::token_label(tokens.as_deref(), id, s.is_certified()) }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(Code::Ok);
    }
    for (id, status, reminder) in &rows {
        let expiry = match status {
            CertStatus::Passed { expires_at, .. } | CertStatus::Expiring { expires_at, .. } => {
                format!("expires {}", day(*expires_at))
            }
            CertStatus::Expired { expired_at } => format!("expired {}", day(*expired_at)),
            CertStatus::Failed {
                retry_at: Some(at), ..
            } => format!("retry after {at}"),
            _ => String::new(),
        };
        let token = crate::device_cmd::token_label(tokens.as_deref(), id, status.is_certified());
        println!("{id:<24} {:<32} {expiry:<22} {token}", status.label());
        match reminder {
            Some(Reminder::ExpiresIn { days }) => println!(
                "  reminder: this certification expires in {days} days; recertify with `certgate quiz {id}`"
            ),
            Some(Reminder::Expired) => println!(
                "  reminder: this certification expired and no longer grants access; recertify with `certgate quiz {id}`"
            ),
            None => {}
        }
    }
    Ok(Code::Ok)
}

pub fn run_content(cmd: ContentCommand) -> Result<Code> {
    match cmd {
        ContentCommand::Check { dir, policy } => {
            let policy = match policy {
                Some(path) => certgate_policy::load_unsigned(&path)?,
                None => certgate_policy::demo::load()?,
            };
            match bundle::load_dir(&dir, &policy, TrustMode::DevUnsigned) {
                Ok(b) => {
                    println!(
                        "valid bundle {} {}: {} track(s), {} module(s)",
                        b.bundle_id,
                        b.version,
                        b.tracks.len(),
                        b.modules.len()
                    );
                    Ok(Code::Ok)
                }
                Err(e @ certgate_training::Error::Invalid(_)) => {
                    eprintln!("{e}");
                    Ok(Code::Invalid)
                }
                Err(e) => Err(e.into()),
            }
        }
        ContentCommand::Sign { dir, key } => {
            let pem = std::fs::read_to_string(&key)
                .with_context(|| format!("cannot read {}", key.display()))?;
            let key = SecretKey::from_pem(&pem, &key)?;
            let manifest = bundle::sign_dir(&dir, &key)?;
            println!(
                "signed {} file(s) in {} with key {}",
                manifest.lines().count(),
                dir.display(),
                key.public_key().key_id()
            );
            Ok(Code::Ok)
        }
        ContentCommand::Pack { dir, out } => {
            archive::write_archive(&dir, &out)?;
            println!("packed {} into {}", dir.display(), out.display());
            Ok(Code::Ok)
        }
    }
}
