//! The org policy as typed data: one struct per section of the `extworkforce-ai-cert-gate-v1`
//! YAML. Field names serialise exactly as the YAML spells them (camelCase).
//!
//! These types are built only by the decoder (`crate::decode`), which checks every key, type and
//! range and reports all problems at once; they derive `Serialize` so the CLI and the app can show
//! them, never `Deserialize`, so there is one way to read a policy.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::threshold::Threshold;

/// The whole org policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub policy_id: String,
    pub owners: Owners,
    pub scope: Scope,
    pub training_requirements: TrainingRequirements,
    pub access_gating: AccessGating,
    pub model_and_data_controls: ModelAndDataControls,
    pub quality_and_safety: QualityAndSafety,
    pub logging_and_evidence: LoggingAndEvidence,
    pub slo_targets: SloTargets,
    pub monitoring: Monitoring,
    /// Certgate extension: how the device agent checks posture. Absent in the seed format; the
    /// defaults apply then.
    pub device_posture: DevicePosture,
}

/// Who answers for the policy. `primary` is required; the others are optional contacts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Owners {
    pub primary: String,
    pub security: Option<String>,
    pub legal: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// Worker types the policy covers (`contractor`, `partner_bpo`, …): a user of another type is
    /// denied.
    pub populations: Vec<String>,
    /// Regions a request may be processed in; never empty.
    pub regions_allowed: Vec<String>,
    pub tools: Tools,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tools {
    pub copilots: Vec<ToolRef>,
    pub automation_endpoints: Vec<ToolRef>,
}

/// One allowed tool surface, written in YAML as a one-entry map `kind: name`
/// (`slack_app: support-copilot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolRef {
    pub kind: String,
    pub name: String,
}

impl ToolRef {
    /// A request names its tool surface either by name (`support-copilot`) or as `kind:name`
    /// (`slack_app:support-copilot`); both select this tool.
    pub fn matches(&self, surface: &str) -> bool {
        match surface.split_once(':') {
            Some((kind, name)) => kind == self.kind && name == self.name,
            None => surface == self.name,
        }
    }
}

impl std::fmt::Display for ToolRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingRequirements {
    pub lms_provider: String,
    pub certification_tracks: Vec<Track>,
}

/// A certification track: the modules to read, the quiz to pass and how long the pass lasts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Track {
    pub id: String,
    pub modules: Vec<String>,
    pub quiz: QuizRules,
    pub recertify_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuizRules {
    /// Pass mark in percent, 0–100 inclusive; a score equal to it passes.
    pub min_score_pct: f64,
    /// Attempts before the track locks; at least 1.
    pub attempts_allowed: u32,
    /// Certgate extension: minutes to wait between attempts (0 = none).
    pub cooldown_minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessGating {
    pub identity_provider: IdentityProvider,
    pub conditions: Vec<Condition>,
    pub approvals: Approvals,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityProvider {
    #[serde(rename = "type")]
    pub kind: IdpKind,
    /// Group key → IdP group. A key is a track id, or `certified<Word>Group` where `<Word>` is
    /// one word of exactly one track id (`certifiedConsumerGroup` → `AI_CONSUMER_EXTERNAL`).
    pub group_mapping: BTreeMap<String, String>,
    /// The same mapping resolved to track ids, filled by validation.
    pub groups_by_track: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdpKind {
    Okta,
    AzureAd,
    Entra,
    Scim,
}

impl IdpKind {
    pub const NAMES: &'static [&'static str] = &["okta", "azure_ad", "entra", "scim"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "okta" => Some(Self::Okta),
            "azure_ad" => Some(Self::AzureAd),
            "entra" => Some(Self::Entra),
            "scim" => Some(Self::Scim),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Okta => "okta",
            Self::AzureAd => "azure_ad",
            Self::Entra => "entra",
            Self::Scim => "scim",
        }
    }
}

/// A named CEL rule; every condition must hold for access.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    pub name: String,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Approvals {
    pub exception_path: ExceptionPath,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionPath {
    pub allowed: bool,
    pub max_duration_days: u32,
    pub required_approvers: Vec<Approver>,
    pub justification_fields: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Approver {
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelAndDataControls {
    pub data_residency: DataResidency,
    pub dlp: Dlp,
    pub retrieval_scopes: RetrievalScopes,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataResidency {
    pub enforce_regional_routing: bool,
    pub block_cross_border: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dlp {
    pub pii_redaction: bool,
    pub block_patterns: Vec<BlockPattern>,
    /// Certgate extension: customer names, codenames, pricing words that must not leave.
    pub restricted_terms: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockPattern {
    #[serde(rename = "type")]
    pub kind: BlockKind,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    Secret,
    Credential,
}

impl BlockKind {
    pub const NAMES: &'static [&'static str] = &["secret", "credential"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "secret" => Some(Self::Secret),
            "credential" => Some(Self::Credential),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetrievalScopes {
    pub default: String,
    pub per_track: BTreeMap<String, Vec<String>>,
}

impl RetrievalScopes {
    /// The knowledge scopes a request under `track` may retrieve from.
    pub fn for_track(&self, track: &str) -> Vec<String> {
        self.per_track
            .get(track)
            .cloned()
            .unwrap_or_else(|| vec![self.default.clone()])
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityAndSafety {
    pub confidence_thresholds: ConfidenceThresholds,
    pub disallowed_actions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfidenceThresholds {
    /// Answers above this confidence may be auto-drafted.
    pub allow_auto_draft_above: f64,
    /// Answers below this confidence need a human's approval. Never above `allow_auto_draft_above`.
    pub require_human_approval_below: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggingAndEvidence {
    pub prompt_logging: PromptLogging,
    pub retention_days: u32,
    pub export: Export,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptLogging {
    pub enabled: bool,
    pub fields: Vec<LogField>,
}

/// A metadata field an audit record carries. Prompt text is never one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum LogField {
    Timestamp,
    UserId,
    UserType,
    VendorOrg,
    ToolSurface,
    RetrievalSources,
    ConfidenceScore,
    ApprovalOutcome,
}

impl LogField {
    pub const NAMES: &'static [&'static str] = &[
        "timestamp",
        "userId",
        "userType",
        "vendorOrg",
        "toolSurface",
        "retrievalSources",
        "confidenceScore",
        "approvalOutcome",
    ];

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "timestamp" => Self::Timestamp,
            "userId" => Self::UserId,
            "userType" => Self::UserType,
            "vendorOrg" => Self::VendorOrg,
            "toolSurface" => Self::ToolSurface,
            "retrievalSources" => Self::RetrievalSources,
            "confidenceScore" => Self::ConfidenceScore,
            "approvalOutcome" => Self::ApprovalOutcome,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        // Variants are declared in the order of NAMES.
        Self::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    pub destination: String,
    pub table: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SloTargets {
    pub access_provisioning: AccessProvisioning,
    pub training_completion: TrainingCompletion,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessProvisioning {
    pub p95_hours_from_cert_to_access: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainingCompletion {
    pub target_pct_within48h: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub name: String,
    pub threshold: Threshold,
    pub notify: Vec<String>,
}

/// Certgate extension (`devicePosture:`): how often the agent re-checks the device and what
/// counts as an EDR agent or MDM enrolment marker on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DevicePosture {
    /// Minutes between posture checks.
    pub check_interval_minutes: u32,
    /// A posture report older than this many minutes no longer admits requests.
    pub max_age_minutes: u32,
    /// Processes that count as a running EDR / antivirus agent.
    pub edr_allowlist: Vec<ProcessMarker>,
    /// Processes or files whose presence shows MDM enrolment.
    pub mdm_markers: Vec<ProcessMarker>,
}

impl Default for DevicePosture {
    fn default() -> Self {
        Self {
            check_interval_minutes: 10,
            max_age_minutes: 30,
            edr_allowlist: Vec::new(),
            mdm_markers: Vec::new(),
        }
    }
}

/// A process (by name, optionally with its binary under `path_prefix`) or a file that must exist.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessMarker {
    pub process: Option<String>,
    pub path_prefix: Option<String>,
    pub file: Option<String>,
}

impl Policy {
    pub fn track(&self, id: &str) -> Option<&Track> {
        self.training_requirements
            .certification_tracks
            .iter()
            .find(|t| t.id == id)
    }

    pub fn track_ids(&self) -> impl Iterator<Item = &str> {
        self.training_requirements
            .certification_tracks
            .iter()
            .map(|t| t.id.as_str())
    }

    /// The allowed tool surface a request names, among copilots and automation endpoints.
    pub fn tool(&self, surface: &str) -> Option<&ToolRef> {
        self.scope
            .tools
            .copilots
            .iter()
            .chain(&self.scope.tools.automation_endpoints)
            .find(|t| t.matches(surface))
    }
}
