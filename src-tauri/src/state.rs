//! What the app holds for its whole life, managed by Tauri and read by the commands, and the
//! glue that calls the engine crates for them (the same calls `certgate train|quiz|ack|certs`
//! makes in `crates/cli/src/train_cmd.rs`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use certgate_policy::LoadedPolicy;
use certgate_posture::{FactName, Facts, PostureCache, PostureConfig, PostureReport, Watcher};
use certgate_training::notice::{self, NextStep, Overall};
use certgate_training::status::{can_attempt, track_status};
use certgate_training::{
    AttemptPlan, AttemptRecord, Bundle, CertStatus, Clock, ModuleProgress, Records, Response,
    SystemClock, TrackRules, plan_attempt, quiz,
};
use chrono::{DateTime, Utc};

use crate::dto::{self, AnswerFeedback, AnswerInput, AttemptResult, AttemptView, CertView};
use crate::error::{CommandError, ErrorCode};

/// Dev/test override: read posture from this Linux filesystem snapshot instead of the host
/// (an empty directory makes every fact fail or unknown). Honoured with the demo policy only.
pub const POSTURE_SYSROOT_ENV: &str = "CERTGATE_POSTURE_SYSROOT";

/// The platform string of the placeholder report shown before the first check finishes.
const UNCHECKED: &str = "unchecked";

/// Loaded once at start. Whatever fails to load does not stop the app: the window says why.
pub struct AppState {
    pub policy: Result<Arc<LoadedPolicy>, CommandError>,
    pub training: Result<Training, CommandError>,
    pub posture: Result<Posture, CommandError>,
    /// Set when the app runs on the org this device is enrolled with (its synced policy and
    /// course); `None` in demo mode or on a policy named by `CERTGATE_POLICY`.
    pub enrolment: Option<certgate_credentials::metadata::Enrolment>,
}

/// The course and the local records.
pub struct Training {
    pub bundle: Bundle,
    records: Mutex<Records>,
    /// The quiz attempt in progress (at most one); answers are kept here until submitted,
    /// as the CLI keeps them in memory until the last one.
    attempt: Mutex<Option<OpenAttempt>>,
}

struct OpenAttempt {
    track: String,
    plan: AttemptPlan,
    responses: Vec<Response>,
    started_at: DateTime<Utc>,
}

/// The posture watcher and which facts the policy requires.
pub struct Posture {
    watcher: Watcher,
    pub cache: PostureCache,
    pub required: Vec<FactName>,
}

impl AppState {
    /// Demo mode: the embedded demo policy and course (signed with the demo key), records in
    /// the data directory (`CERTGATE_HOME` overrides it), posture watched at the policy's
    /// interval.
    pub fn load(device: &crate::device::DeviceStore) -> Self {
        let named = std::env::var_os(POLICY_ENV).map(PathBuf::from);
        // A policy named explicitly wins; else the org this device is enrolled with; else
        // the demo.
        let (policy, bundle, enrolment) = match (&named, device.org_content()) {
            (None, Ok(Some(org))) => (Ok(org.policy), org.bundle, Some(org.enrolment)),
            (None, Err(e)) => (Err(e), None, None),
            _ => (
                load_policy(named, std::env::var_os(ORG_KEY_ENV).map(PathBuf::from)),
                None,
                None,
            ),
        };
        match &policy {
            Ok(loaded) if loaded.trust == certgate_policy::Trust::Demo => tracing::info!(
                policy_id = %loaded.summary().policy_id,
                "running on the embedded DEMO policy, signed with the demo key"
            ),
            Ok(loaded) => tracing::info!(
                policy_id = %loaded.summary().policy_id,
                trust = loaded.trust.label(),
                source = %loaded.source,
                "running on the org policy"
            ),
            Err(err) => tracing::error!(code = ?err.code, "{}", err.message),
        }
        let training = policy
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|p| Training::load(p, bundle));
        if let Err(err) = &training {
            tracing::error!(code = ?err.code, "training: {}", err.message);
        }
        // A fake tree would let anyone pass the device check: only the demo policy honours it.
        let demo = matches!(&policy, Ok(p) if p.trust == certgate_policy::Trust::Demo);
        let sysroot = std::env::var_os(POSTURE_SYSROOT_ENV)
            .map(PathBuf::from)
            .filter(|_| {
                if !demo {
                    tracing::warn!(
                        "{POSTURE_SYSROOT_ENV} is ignored: it only applies to the demo policy"
                    );
                }
                demo
            });
        let posture = policy
            .as_ref()
            .map_err(Clone::clone)
            .map(|p| Posture::start(p, sysroot));
        Self {
            policy: policy.map(Arc::new),
            training,
            posture,
            enrolment,
        }
    }

    /// The demo policy and course over the given records, posture read from `sysroot` (tests).
    #[cfg(test)]
    pub fn for_tests(records: Records, sysroot: &std::path::Path) -> Self {
        let policy = certgate_policy::demo::load().map_err(CommandError::from);
        let training = policy.as_ref().map_err(Clone::clone).and_then(|p| {
            Ok(Training {
                bundle: certgate_training::demo::bundle(p).map_err(store_err)?,
                records: Mutex::new(records),
                attempt: Mutex::new(None),
            })
        });
        let posture = policy
            .as_ref()
            .map_err(Clone::clone)
            .map(|p| Posture::start(p, Some(sysroot.to_owned())));
        Self {
            policy: policy.map(Arc::new),
            training,
            posture,
            enrolment: None,
        }
    }

    pub fn policy(&self) -> Result<&LoadedPolicy, CommandError> {
        self.policy.as_deref().map_err(Clone::clone)
    }

    /// The policy, to hand to what outlives a command (the copilot proxy).
    pub fn shared_policy(&self) -> Result<Arc<LoadedPolicy>, CommandError> {
        self.policy.clone()
    }

    pub fn training(&self) -> Result<&Training, CommandError> {
        self.training.as_ref().map_err(Clone::clone)
    }

    pub fn posture(&self) -> Result<&Posture, CommandError> {
        self.posture.as_ref().map_err(Clone::clone)
    }

    /// Every track's status now.
    pub fn certifications(&self) -> Result<Vec<(String, CertStatus)>, CommandError> {
        let (policy, training) = (self.policy()?, self.training()?);
        training.statuses(policy, SystemClock.now())
    }

    /// Overall state, next step and the views the dashboard shows.
    pub fn dashboard(&self) -> Result<dto::Dashboard, CommandError> {
        let certs = self.certifications()?;
        let posture = self.posture()?.view();
        let training = self.training()?;
        let ack_needed = training.acknowledgement()?.needs_signature;
        let statuses = certs.iter().map(|(_, s)| s);
        let overall = notice::overall(statuses.clone(), posture.compliant);
        Ok(dto::Dashboard {
            demo: self.policy()?.summary().trust == "demo",
            overall: overall.into(),
            overall_label: overall.label().to_owned(),
            next_action: notice::next_step(statuses, posture.compliant, ack_needed).into(),
            certifications: certs.iter().map(|(t, s)| CertView::new(t, s)).collect(),
            posture,
            acknowledgement_needed: ack_needed,
        })
    }

    /// The overall state for the tray (blocked when anything failed to load).
    pub fn overall(&self) -> (Overall, NextStep) {
        match self.dashboard() {
            Ok(d) => {
                let certs = self.certifications().unwrap_or_default();
                let statuses = certs.iter().map(|(_, s)| s);
                (
                    notice::overall(statuses.clone(), d.posture.compliant),
                    notice::next_step(statuses, d.posture.compliant, d.acknowledgement_needed),
                )
            }
            Err(_) => (Overall::Blocked, NextStep::Nothing),
        }
    }
}

fn store_err(e: certgate_training::Error) -> CommandError {
    CommandError::from(e)
}

impl Training {
    /// The org's course when it published one, else the embedded demo course.
    fn load(policy: &LoadedPolicy, bundle: Option<Bundle>) -> Result<Self, CommandError> {
        let bundle = match bundle {
            Some(b) => b,
            None => certgate_training::demo::bundle(policy).map_err(store_err)?,
        };
        let records = Records::open_default().map_err(store_err)?;
        Ok(Self {
            bundle,
            records: Mutex::new(records),
            attempt: Mutex::new(None),
        })
    }

    fn records(&self) -> MutexGuard<'_, Records> {
        // A panic while holding the lock leaves the connection usable: SQLite rolled back.
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn open_attempt(&self) -> MutexGuard<'_, Option<OpenAttempt>> {
        self.attempt
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn rules(&self, policy: &LoadedPolicy, track: &str) -> Result<TrackRules, CommandError> {
        TrackRules::in_policy(&policy.policy, &self.bundle, track)
            .ok_or_else(|| not_found(format!("the policy defines no track {track}")))
    }

    /// Status of every policy track the course has content for.
    pub fn statuses(
        &self,
        policy: &LoadedPolicy,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, CertStatus)>, CommandError> {
        let records = self.records();
        let mut out = Vec::new();
        for id in policy
            .policy
            .track_ids()
            .filter(|id| self.bundle.track(id).is_some())
        {
            let history = records.history(&self.bundle, id).map_err(store_err)?;
            out.push((
                id.to_owned(),
                track_status(&self.rules(policy, id)?, &history, now),
            ));
        }
        Ok(out)
    }

    /// The reminder due for a track now, if one fell due since the last call (each fires once).
    pub fn take_reminder(
        &self,
        track: &str,
        status: &CertStatus,
        now: DateTime<Utc>,
    ) -> Result<Option<certgate_training::status::Reminder>, CommandError> {
        self.records()
            .take_reminder(track, status, now)
            .map_err(store_err)
    }

    pub fn tracks(&self, policy: &LoadedPolicy) -> Result<Vec<dto::TrackView>, CommandError> {
        let statuses = self.statuses(policy, SystemClock.now())?;
        let records = self.records();
        let mut out = Vec::new();
        for (id, status) in statuses {
            let Some(content) = self.bundle.track(&id) else {
                continue;
            };
            let rules = self.rules(policy, &id)?;
            let mut modules = Vec::new();
            for m in content.modules.iter().filter_map(|m| self.bundle.module(m)) {
                let p = records.progress(&m.id).map_err(store_err)?;
                modules.push(dto::ModuleSummary::new(m, p.as_ref()));
            }
            out.push(dto::TrackView {
                certification: CertView::new(&id, &status),
                id,
                min_score_pct: rules.min_score_pct,
                attempts_allowed: rules.attempts_allowed,
                questions: content.draw_count,
                modules,
            });
        }
        Ok(out)
    }

    pub fn module(&self, id: &str) -> Result<dto::ModuleView, CommandError> {
        let m = self
            .bundle
            .module(id)
            .ok_or_else(|| not_found(format!("no module {id} in this course")))?;
        let p = self.records().progress(&m.id).map_err(store_err)?;
        Ok(dto::ModuleView {
            summary: dto::ModuleSummary::new(m, p.as_ref()),
            track: m.track.clone(),
            version: m.version.clone(),
            body: m.body.clone(),
        })
    }

    /// Saves the reader's place; once a module is completed it stays completed.
    pub fn save_progress(
        &self,
        input: &dto::ProgressInput,
    ) -> Result<dto::ModuleSummary, CommandError> {
        let m = self
            .bundle
            .module(&input.module_id)
            .ok_or_else(|| not_found(format!("no module {} in this course", input.module_id)))?;
        let now = SystemClock.now();
        let mut records = self.records();
        let before = records.progress(&m.id).map_err(store_err)?;
        let completed_at = before
            .as_ref()
            .and_then(|p| p.completed_at)
            .or(input.completed.then_some(now));
        let progress = ModuleProgress {
            module_id: m.id.clone(),
            module_version: m.version.clone(),
            position: input.position,
            completed_at,
            updated_at: now,
        };
        records.save_progress(&progress).map_err(store_err)?;
        Ok(dto::ModuleSummary::new(m, Some(&progress)))
    }

    /// Draws a new attempt (replacing an unsubmitted one), if the engine allows one now.
    pub fn start_attempt(
        &self,
        policy: &LoadedPolicy,
        track: &str,
    ) -> Result<AttemptView, CommandError> {
        let rules = self.rules(policy, track)?;
        let content = self
            .bundle
            .track(track)
            .ok_or_else(|| not_found(format!("no content for track {track}")))?;
        let now = SystemClock.now();
        let history = self
            .records()
            .history(&self.bundle, track)
            .map_err(store_err)?;
        can_attempt(&rules, &history, now).map_err(|b| store_err(b.into()))?;
        let seed = quiz::new_seed().map_err(store_err)?;
        let plan = plan_attempt(&content.bank, content.draw_count, seed);
        let view = AttemptView::new(track, rules.min_score_pct, &plan, &content.bank);
        *self.open_attempt() = Some(OpenAttempt {
            track: track.to_owned(),
            plan,
            responses: Vec::new(),
            started_at: now,
        });
        Ok(view)
    }

    /// Records one answer and returns the feedback the CLI prints after each question.
    pub fn answer(&self, input: &AnswerInput) -> Result<AnswerFeedback, CommandError> {
        let mut guard = self.open_attempt();
        let open = guard.as_mut().ok_or_else(no_attempt)?;
        let content = self
            .bundle
            .track(&open.track)
            .ok_or_else(|| not_found(format!("no content for track {}", open.track)))?;
        if !open
            .plan
            .questions
            .iter()
            .any(|p| p.question_id == input.question_id)
        {
            return Err(invalid_answer(format!(
                "question {} is not in this attempt",
                input.question_id
            )));
        }
        if open
            .responses
            .iter()
            .any(|r| r.question_id == input.question_id)
        {
            return Err(invalid_answer("this question is already answered".into()));
        }
        let question = content
            .bank
            .question(&input.question_id)
            .ok_or_else(|| not_found(format!("no question {}", input.question_id)))?;
        let choice = match (input.value, input.option_ids.is_empty()) {
            (Some(v), true) => certgate_training::Choice::Bool(v),
            (None, false) => certgate_training::Choice::Options(input.option_ids.clone()),
            _ => return Err(invalid_answer("pick an answer".into())),
        };
        let credit = quiz::credit(question, &choice);
        open.responses.push(Response {
            question_id: input.question_id.clone(),
            choice,
        });
        Ok(AnswerFeedback::new(question, credit))
    }

    /// Grades the attempt (unanswered questions score 0, as in the CLI) and stores it.
    pub fn submit(&self, policy: &LoadedPolicy) -> Result<AttemptResult, CommandError> {
        let open = self.open_attempt().take().ok_or_else(no_attempt)?;
        let rules = self.rules(policy, &open.track)?;
        let now = SystemClock.now();
        let attempt = AttemptRecord::grade(
            &self.bundle,
            &open.track,
            &rules,
            open.plan.seed,
            open.responses,
            open.started_at,
            now,
        )
        .map_err(store_err)?;
        let mut records = self.records();
        records.submit_attempt(&attempt).map_err(store_err)?;
        let history = records
            .history(&self.bundle, &open.track)
            .map_err(store_err)?;
        let status = track_status(&rules, &history, now);
        let blocked = can_attempt(&rules, &history, now)
            .err()
            .map(|b| b.to_string());
        let s = &attempt.score;
        Ok(AttemptResult {
            attempt_id: attempt.id.clone(),
            score_pct: s.pct,
            raw: s.raw.as_f64(),
            max: u32::try_from(s.max).unwrap_or(u32::MAX),
            min_score_pct: rules.min_score_pct,
            passed: s.passed,
            certification: CertView::new(&open.track, &status),
            blocked_message: blocked,
        })
    }

    pub fn acknowledgement(&self) -> Result<dto::AcknowledgementView, CommandError> {
        let page = &self.bundle.acknowledgement;
        let latest = self
            .records()
            .latest_acknowledgement(&page.id)
            .map_err(store_err)?;
        Ok(dto::AcknowledgementView::new(page, latest.as_ref()))
    }

    pub fn sign(&self, full_name: &str) -> Result<dto::AcknowledgementView, CommandError> {
        let page = &self.bundle.acknowledgement;
        let signed =
            certgate_training::ack::sign(page, full_name, SystemClock.now()).map_err(store_err)?;
        self.records()
            .save_acknowledgement(&signed)
            .map_err(store_err)?;
        self.acknowledgement()
    }
}

impl Posture {
    /// Starts the watcher on the tokio runtime Tauri uses. The first report is a placeholder
    /// (every fact unknown, `pending`) replaced by a real check at once, so start-up never
    /// waits for the probes.
    pub fn start(policy: &LoadedPolicy, sysroot: Option<PathBuf>) -> Self {
        let config = PostureConfig::from_policy(&policy.policy.device_posture);
        if let Some(dir) = &sysroot {
            tracing::warn!(dir = %dir.display(), "{POSTURE_SYSROOT_ENV}: reading posture from a snapshot, not this device");
        }
        let check = move || run_check(sysroot.as_deref(), config.clone());
        let minutes = u64::from(policy.policy.device_posture.check_interval_minutes.max(1));
        let now = SystemClock.now();
        let initial = PostureReport::new(
            UNCHECKED,
            certgate_posture::Facts::unknown(now, "not checked yet"),
            now,
        );
        let watcher = tauri::async_runtime::block_on(async move {
            Watcher::spawn(initial, Duration::from_secs(minutes * 60), check)
        });
        watcher.recheck();
        let required = policy
            .required_device_facts()
            .iter()
            .filter_map(|n| n.parse::<FactName>().ok())
            .collect();
        Self {
            cache: watcher.cache(),
            watcher,
            required,
        }
    }

    pub fn current(&self) -> Arc<PostureReport> {
        self.cache.current()
    }

    pub fn view(&self) -> dto::PostureView {
        let r = self.current();
        dto::PostureView::new(&r, &self.required, r.platform == UNCHECKED)
    }

    /// Whether a report is the start-up placeholder.
    pub fn is_placeholder(report: &PostureReport) -> bool {
        report.platform == UNCHECKED
    }

    /// Re-checks now and waits (up to the probes' worst case) for the new report.
    pub async fn recheck(&self) -> dto::PostureView {
        let before = self.current().collected_at;
        let mut rx = self.cache.subscribe();
        self.watcher.recheck();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        // The watcher replaces the report even when no fact changed (without waking
        // subscribers), so poll the timestamp as well as waiting for a change.
        while self.current().collected_at == before && tokio::time::Instant::now() < deadline {
            let _ = tokio::time::timeout(Duration::from_millis(50), rx.changed()).await;
        }
        self.view()
    }
}

/// The org policy file to run on instead of the embedded demo policy.
pub const POLICY_ENV: &str = "CERTGATE_POLICY";
/// The org's public key (PEM) the policy in [`POLICY_ENV`] must be signed with.
pub const ORG_KEY_ENV: &str = "CERTGATE_ORG_KEY";

/// The org policy, its signature checked against the org key; or, with no policy named, the
/// embedded demo policy (signed with the demo key, shown as DEMO). An unsigned or altered org
/// policy is refused and the window says why: there is no way around the signature.
pub fn load_policy(
    policy: Option<PathBuf>,
    org_key: Option<PathBuf>,
) -> Result<LoadedPolicy, CommandError> {
    let Some(policy) = policy else {
        return certgate_policy::demo::load().map_err(CommandError::from);
    };
    let Some(key_path) = org_key else {
        return Err(CommandError {
            code: ErrorCode::PolicyKey,
            message: format!(
                "{POLICY_ENV} names {} but {ORG_KEY_ENV} is not set: Certgate needs your organisation's public key to check the policy's signature",
                policy.display()
            ),
        });
    };
    let pem = std::fs::read_to_string(&key_path).map_err(|source| {
        CommandError::from(certgate_policy::Error::Read {
            path: key_path.clone(),
            source,
        })
    })?;
    let key = certgate_policy::PublicKey::from_pem(&pem, &key_path)?;
    Ok(certgate_policy::load(
        &policy,
        certgate_policy::TrustMode::Pinned(&key),
    )?)
}

/// One posture check; a snapshot that cannot be read gives a report of unknowns saying why.
fn run_check(sysroot: Option<&std::path::Path>, config: PostureConfig) -> PostureReport {
    certgate_posture::check(sysroot, config, &certgate_posture::SystemClock).unwrap_or_else(|err| {
        let now = chrono::Utc::now();
        PostureReport::new(
            std::env::consts::OS,
            Facts::unknown(now, &err.to_string()),
            now,
        )
    })
}

fn not_found(message: String) -> CommandError {
    CommandError {
        code: ErrorCode::NotFound,
        message,
    }
}

fn no_attempt() -> CommandError {
    CommandError {
        code: ErrorCode::NoAttempt,
        message: "no quiz attempt is in progress: start one first".into(),
    }
}

fn invalid_answer(message: String) -> CommandError {
    CommandError {
        code: ErrorCode::InvalidAnswer,
        message,
    }
}
