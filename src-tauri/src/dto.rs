//! What the commands send the UI: flat, camelCase views of engine types, with TypeScript
//! bindings (ts-rs). Conversions only copy and rename; every decision is the engine's.

use certgate_posture::{FactName, PostureReport, render::fix_hint};
use certgate_training::notice::{NextStep, Overall};
use certgate_training::quiz::{AttemptPlan, Fraction};
use certgate_training::{
    AckPage, Acknowledgement, CertStatus, Module, ModuleProgress, Question, QuestionKind,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The state at a glance, as the tray shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum OverallState {
    Ready,
    ActionNeeded,
    Blocked,
}

impl From<Overall> for OverallState {
    fn from(o: Overall) -> Self {
        match o {
            Overall::Ready => Self::Ready,
            Overall::ActionNeeded => Self::ActionNeeded,
            Overall::Blocked => Self::Blocked,
        }
    }
}

/// What the user should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum NextAction {
    FixPosture,
    Train,
    Recertify,
    SignAcknowledgement,
    Nothing,
}

impl From<NextStep> for NextAction {
    fn from(s: NextStep) -> Self {
        match s {
            NextStep::FixPosture => Self::FixPosture,
            NextStep::Train => Self::Train,
            NextStep::Recertify => Self::Recertify,
            NextStep::SignAcknowledgement => Self::SignAcknowledgement,
            NextStep::Nothing => Self::Nothing,
        }
    }
}

/// One track's certification.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct CertView {
    pub track: String,
    /// `notStarted`, `inProgress`, `passed`, `expiring`, `failed`, `locked`, `expired`.
    pub status: String,
    /// The engine's words for it (`expiring in 12 day(s)`).
    pub label: String,
    pub certified: bool,
    pub verified: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub attempts_left: Option<u32>,
    pub retry_at: Option<DateTime<Utc>>,
}

impl CertView {
    pub fn new(track: &str, s: &CertStatus) -> Self {
        let (status, verified, expires_at, attempts_left, retry_at) = match s {
            CertStatus::NotStarted => ("notStarted", false, None, None, None),
            CertStatus::InProgress => ("inProgress", false, None, None, None),
            CertStatus::Passed {
                verified,
                expires_at,
                ..
            } => ("passed", *verified, Some(*expires_at), None, None),
            CertStatus::Expiring {
                verified,
                expires_at,
                ..
            } => ("expiring", *verified, Some(*expires_at), None, None),
            CertStatus::Failed {
                attempts_left,
                retry_at,
            } => ("failed", false, None, Some(*attempts_left), *retry_at),
            CertStatus::Locked { .. } => ("locked", false, None, Some(0), None),
            CertStatus::Expired { expired_at } => ("expired", false, Some(*expired_at), None, None),
        };
        Self {
            track: track.to_owned(),
            status: status.to_owned(),
            label: s.label(),
            certified: s.is_certified(),
            verified,
            expires_at,
            attempts_left,
            retry_at,
        }
    }
}

/// One posture fact with what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FactView {
    /// camelCase fact name (`diskEncryption`).
    pub name: String,
    /// `ok`, `fail`, `unknown`, `n/a`, `converting`.
    pub state: String,
    pub ok: bool,
    /// Whether the policy's rules read this fact.
    pub required: bool,
    pub evidence: Vec<String>,
    /// The engine's fix, for required facts that are not ok.
    pub fix_hint: Option<String>,
}

/// The latest posture report.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct PostureView {
    /// Every required fact is ok.
    pub compliant: bool,
    /// No check has finished yet.
    pub pending: bool,
    pub platform: String,
    pub collected_at: DateTime<Utc>,
    pub facts: Vec<FactView>,
}

impl PostureView {
    pub fn new(report: &PostureReport, required: &[FactName], pending: bool) -> Self {
        let facts = FactName::ALL
            .into_iter()
            .map(|name| {
                let v = report.facts.view(name);
                let req = required.contains(&name);
                FactView {
                    name: name.as_str().to_owned(),
                    state: v.state.as_str().to_owned(),
                    ok: v.state.is_ok(),
                    required: req,
                    evidence: v.evidence.to_vec(),
                    fix_hint: (req && !v.state.is_ok())
                        .then(|| fix_hint(name, &report.platform).to_owned()),
                }
            })
            .collect();
        Self {
            compliant: !pending && report.all_ok(required),
            pending,
            platform: report.platform.clone(),
            collected_at: report.collected_at,
            facts,
        }
    }
}

/// The home screen.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// Running on the embedded demo policy and content.
    pub demo: bool,
    pub overall: OverallState,
    /// The overall state in words.
    pub overall_label: String,
    pub next_action: NextAction,
    pub certifications: Vec<CertView>,
    pub posture: PostureView,
    pub acknowledgement_needed: bool,
}

/// A module in a track's list.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ModuleSummary {
    pub id: String,
    pub title: String,
    pub minutes: u32,
    pub read: bool,
    /// Where the reader stopped (section index), to resume.
    pub position: u32,
}

impl ModuleSummary {
    pub fn new(m: &Module, p: Option<&ModuleProgress>) -> Self {
        Self {
            id: m.id.clone(),
            title: m.title.clone(),
            minutes: m.minutes,
            read: p.is_some_and(|p| p.completed_at.is_some()),
            position: p.map_or(0, |p| p.position),
        }
    }
}

/// A track with its modules and status.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct TrackView {
    pub id: String,
    pub certification: CertView,
    pub min_score_pct: f64,
    pub attempts_allowed: u32,
    pub questions: u32,
    pub modules: Vec<ModuleSummary>,
}

/// A module to read.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ModuleView {
    #[serde(flatten)]
    pub summary: ModuleSummary,
    pub track: String,
    pub version: String,
    /// Markdown, as written by the org (the UI renders it with HTML escaped).
    pub body: String,
}

/// Saves where the reader is in a module.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgressInput {
    pub module_id: String,
    pub position: u32,
    /// The reader reached the end.
    pub completed: bool,
}

/// An option as shown: never says whether it is correct.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OptionView {
    pub id: String,
    pub text: String,
}

/// A question as shown before it is answered.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct QuestionView {
    pub id: String,
    /// `single`, `multiple`, `trueFalse`, `scenario`.
    pub kind: String,
    pub scenario: Option<String>,
    pub prompt: String,
    /// In the attempt's shuffled order; empty for true/false.
    pub options: Vec<OptionView>,
}

impl QuestionView {
    pub fn new(q: &Question, order: &[String]) -> Self {
        let kind = match q.kind {
            QuestionKind::Single { .. } => "single",
            QuestionKind::Multiple { .. } => "multiple",
            QuestionKind::TrueFalse { .. } => "trueFalse",
            QuestionKind::Scenario { .. } => "scenario",
        };
        Self {
            id: q.id.clone(),
            kind: kind.to_owned(),
            scenario: q.scenario.clone(),
            prompt: q.prompt.clone(),
            options: order
                .iter()
                .filter_map(|id| q.options().iter().find(|o| &o.id == id))
                .map(|o| OptionView {
                    id: o.id.clone(),
                    text: o.text.clone(),
                })
                .collect(),
        }
    }
}

/// A started attempt: the questions, without their answers.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub track: String,
    pub min_score_pct: f64,
    pub questions: Vec<QuestionView>,
}

impl AttemptView {
    pub fn new(
        track: &str,
        min_score_pct: f64,
        plan: &AttemptPlan,
        bank: &certgate_training::QuestionBank,
    ) -> Self {
        Self {
            track: track.to_owned(),
            min_score_pct,
            questions: plan
                .questions
                .iter()
                .filter_map(|p| {
                    bank.question(&p.question_id)
                        .map(|q| QuestionView::new(q, &p.option_order))
                })
                .collect(),
        }
    }
}

/// One answer: option ids for choice questions, `value` for true/false.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswerInput {
    pub question_id: String,
    #[serde(default)]
    pub option_ids: Vec<String>,
    #[serde(default)]
    pub value: Option<bool>,
}

/// What the user learns right after answering (as the CLI says it: right or not, the correct
/// answer, the explanation).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AnswerFeedback {
    pub question_id: String,
    /// Full credit.
    pub correct: bool,
    /// Credit between 0 and 1 (partial scoring).
    pub credit: f64,
    pub correct_option_ids: Vec<String>,
    pub correct_value: Option<bool>,
    pub explanation: String,
}

impl AnswerFeedback {
    pub fn new(q: &Question, credit: Fraction) -> Self {
        Self {
            question_id: q.id.clone(),
            correct: credit == Fraction::ONE,
            credit: credit.as_f64(),
            correct_option_ids: q
                .options()
                .iter()
                .filter(|o| o.correct)
                .map(|o| o.id.clone())
                .collect(),
            correct_value: match q.kind {
                QuestionKind::TrueFalse { answer } => Some(answer),
                _ => None,
            },
            explanation: q.explanation.clone(),
        }
    }
}

/// The end of an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AttemptResult {
    pub attempt_id: String,
    pub score_pct: f64,
    pub raw: f64,
    pub max: u32,
    pub min_score_pct: f64,
    pub passed: bool,
    pub certification: CertView,
    /// Why no further attempt can start now (locked, cooling down), in the engine's words.
    pub blocked_message: Option<String>,
}

/// The acknowledgement page and whether it is signed.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AcknowledgementView {
    pub id: String,
    pub title: String,
    pub version: String,
    pub body: String,
    pub needs_signature: bool,
    pub signed: Option<SignatureView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SignatureView {
    pub full_name: String,
    pub version: String,
    pub signed_at: DateTime<Utc>,
}

impl AcknowledgementView {
    pub fn new(page: &AckPage, latest: Option<&Acknowledgement>) -> Self {
        Self {
            id: page.id.clone(),
            title: page.title.clone(),
            version: page.version.clone(),
            body: page.body.clone(),
            needs_signature: certgate_training::ack::needs_signature(page, latest),
            signed: latest.map(|a| SignatureView {
                full_name: a.full_name.clone(),
                version: a.version.clone(),
                signed_at: a.signed_at,
            }),
        }
    }
}

/// Whether the governed copilot proxy lets this user's tools through now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum AccessState {
    /// The proxy is starting.
    Starting,
    /// Requests from the tool surface are let through.
    Ready,
    /// The gate refuses them; `reasons` say why and what to do.
    Blocked,
    /// The user turned copilot access off: every request is refused until it is on again.
    Off,
    /// The proxy could not start; `notice` says why.
    Unavailable,
}

/// One failed check and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ReasonView {
    pub message: String,
    pub fix: Option<String>,
}

impl From<&certgate_policy::Reason> for ReasonView {
    fn from(r: &certgate_policy::Reason) -> Self {
        Self {
            message: r.message.clone(),
            fix: r.fix.clone(),
        }
    }
}

/// An enrolment link the app was opened with: the form's two fields, or why it was refused
/// (the managed configuration names another server, or the link is malformed).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentLinkView {
    pub server: Option<String>,
    pub code: Option<String>,
    pub refused: Option<String>,
}

/// Where the app's own updates stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub enum UpdateState {
    /// Nowhere to check or nothing to verify with (`message` says which).
    Off,
    NotChecked,
    Checking,
    UpToDate,
    /// Verified and installed; it runs from the next start.
    Installed,
    /// Downloaded and refused: the signature does not verify under the update key.
    Refused,
    /// The check, download or install did not complete (network, permission); tried again later.
    Failed,
}

/// The Settings page's Updates section.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UpdateView {
    pub current_version: String,
    pub state: UpdateState,
    /// One sentence for the user: the version found, installed or refused, and why.
    pub message: String,
    /// The org server checked.
    pub server: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
}

/// This device's enrolment with an org, after enrolling.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct EnrolmentView {
    pub server_url: String,
    pub user_id: String,
    pub device_id: String,
    /// The org policy fetched by the first sync (the app switches to it on restart).
    pub policy_id: Option<String>,
    pub course_installed: bool,
}

/// The Copilot access card: where tools point, with which key, and whether they get through.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AccessView {
    pub state: AccessState,
    /// Base URL for tools (`…/v1` for the OpenAI SDK).
    pub proxy_url: Option<String>,
    /// The local client key tools send (never an upstream key).
    pub api_key: Option<String>,
    /// The tool surface that key stands for.
    pub tool_surface: String,
    pub reasons: Vec<ReasonView>,
    #[ts(type = "number")]
    pub requests_today: u64,
    #[ts(type = "number")]
    pub refused_today: u64,
    /// The org server, the model and the user are the in-process demo ones.
    pub demo: bool,
    /// Demo only: the gate sees a simulated compliant device, not this one.
    pub simulated_posture: bool,
    pub notice: Option<String>,
}

impl AccessView {
    pub fn starting() -> Self {
        Self::empty(AccessState::Starting, None)
    }

    pub fn unavailable(why: String) -> Self {
        Self::empty(AccessState::Unavailable, Some(why))
    }

    fn empty(state: AccessState, notice: Option<String>) -> Self {
        Self {
            state,
            proxy_url: None,
            api_key: None,
            tool_surface: String::new(),
            reasons: Vec::new(),
            requests_today: 0,
            refused_today: 0,
            demo: false,
            simulated_posture: false,
            notice,
        }
    }
}

/// A count of findings of one type in a request (never the values).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FindingCount {
    pub kind: String,
    pub count: u32,
}

/// One proxy request in the Activity list, from the audit log (metadata only).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ActivityItem {
    pub request_id: String,
    pub time: Option<String>,
    pub tool: Option<String>,
    /// `allowed`, `denied`, `blocked`, `refused`, `error`, `cancelled`.
    pub decision: String,
    pub status: u16,
    pub reasons: Vec<String>,
    pub findings: Vec<FindingCount>,
    pub approval: Option<String>,
    pub via_exception: bool,
}

impl From<&certgate_proxy::AuditRecord> for ActivityItem {
    fn from(r: &certgate_proxy::AuditRecord) -> Self {
        Self {
            request_id: r.request_id.clone(),
            time: r.timestamp.clone(),
            tool: r.tool_surface.clone(),
            decision: r.decision.clone(),
            status: r.status,
            reasons: r.reasons.clone(),
            findings: r
                .findings
                .iter()
                .map(|(kind, count)| FindingCount {
                    kind: kind.clone(),
                    count: *count,
                })
                .collect(),
            approval: r.approval_outcome.clone(),
            via_exception: r.via_exception,
        }
    }
}

/// The Settings screen: every setting the org can manage (with its lock), and the user's own.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    pub effective: certgate_managed::Effective,
    pub notifications: bool,
    pub data_dir: Option<String>,
    /// Why the user's settings file was not used.
    pub problem: Option<String>,
}

/// The exception request form: what the policy asks for.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionForm {
    /// Whether the policy allows exceptions at all.
    pub allowed: bool,
    pub tracks: Vec<String>,
    /// The justification fields, in the policy's order; every one is required.
    pub fields: Vec<String>,
    pub max_duration_days: u32,
    /// Roles that must all approve.
    pub approver_roles: Vec<String>,
    /// The tool surface the exception is asked for (the app's key).
    pub tool_surface: String,
}

impl ExceptionForm {
    pub fn new(policy: &certgate_policy::Policy, tool_surface: &str) -> Self {
        let path = &policy.access_gating.approvals.exception_path;
        Self {
            allowed: path.allowed,
            tracks: policy.track_ids().map(str::to_owned).collect(),
            fields: path.justification_fields.clone(),
            max_duration_days: path.max_duration_days,
            approver_roles: path
                .required_approvers
                .iter()
                .map(|a| a.role.clone())
                .collect(),
            tool_surface: tool_surface.to_owned(),
        }
    }
}

/// An exception request as the user fills it in.
#[derive(Debug, Clone, PartialEq, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExceptionInput {
    pub track: String,
    pub duration_days: u32,
    pub justification: std::collections::BTreeMap<String, String>,
}

/// One approval recorded on a request.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalView {
    pub role: String,
    pub approver: String,
}

/// Where an exception request stands (never its token).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionView {
    pub id: String,
    pub track: String,
    pub tool: Option<String>,
    /// `pending`, `approved` or `refused`.
    pub state: String,
    pub approvals: Vec<ApprovalView>,
    pub missing_roles: Vec<String>,
}

impl From<&certgate_credentials::wire::ExceptionStatus> for ExceptionView {
    fn from(s: &certgate_credentials::wire::ExceptionStatus) -> Self {
        Self {
            id: s.id.clone(),
            track: s.track.clone(),
            tool: s.tool.clone(),
            state: s.state.clone(),
            approvals: s
                .approvals
                .iter()
                .map(|a| ApprovalView {
                    role: a.role.clone(),
                    approver: a.approver.clone(),
                })
                .collect(),
            missing_roles: s.missing_roles.clone(),
        }
    }
}

/// One turn of the chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatTurn {
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
}

impl From<ChatTurn> for certgate_agent::chat::Turn {
    fn from(t: ChatTurn) -> Self {
        Self {
            role: t.role,
            content: t.content,
        }
    }
}

/// The proxy refused a chat request: its status and words.
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct RefusalView {
    pub status: u16,
    pub message: String,
}

/// A chat answer (its text also arrived piece by piece on the channel).
#[derive(Debug, Clone, PartialEq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ChatReplyView {
    pub request_id: Option<String>,
    pub text: String,
    /// Below the policy's confidence threshold: approve or reject before using it.
    pub approval_required: bool,
    pub refused: Option<RefusalView>,
    /// What was pseudonymized before sending: types and counts, never values.
    pub pseudonymized: Vec<FindingCount>,
}
