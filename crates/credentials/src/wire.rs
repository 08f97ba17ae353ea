//! The JSON shapes device and server exchange (camelCase), shared so both sides agree.

use serde::{Deserialize, Serialize};

/// Header carrying the device's bearer secret: `Authorization: Device <deviceId>.<secret>`.
pub const DEVICE_AUTH_SCHEME: &str = "Device";

/// `POST /v1/enroll`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollRequest {
    pub code: String,
    /// The device's Ed25519 public key, base64url (JWK `x`).
    pub public_key: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollResponse {
    pub device_id: String,
    pub user_id: String,
    /// Bearer secret for this device's later requests; goes straight into the keyring.
    pub device_secret: String,
    /// `iss` of every token.
    pub issuer: String,
    /// Issuer public key, base64url; the device pins it.
    pub issuer_key: String,
    /// Who was enrolled, as the org recorded it with the enrolment code.
    #[serde(default)]
    pub profile: UserProfile,
}

/// Who the org enrolled: what the gate checks against the policy's scope (populations,
/// vendors, home region).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserProfile {
    pub user_type: Option<String>,
    pub vendor_org: Option<String>,
    pub region: Option<String>,
}

impl std::fmt::Debug for EnrollResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollResponse")
            .field("device_id", &self.device_id)
            .field("user_id", &self.user_id)
            .field("device_secret", &"<redacted>")
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// `GET /v1/keys`: what devices pin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeysResponse {
    pub issuer: String,
    /// Token issuer key, base64url, and its RFC 7638 thumbprint (`kid`).
    pub issuer_key: String,
    pub issuer_kid: String,
    /// The org policy-signing key (PEM) policies are verified with.
    pub policy_key_pem: String,
}

/// The server's own grading of an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Grading {
    pub track: String,
    pub score_pct: f64,
    pub passed: bool,
}

/// `POST /v1/statements` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatementAccepted {
    pub id: String,
    /// False when this exact statement had already been accepted (a retry).
    pub first_time: bool,
    #[serde(default)]
    pub grading: Option<Grading>,
}

/// `GET /v1/tokens`: this device's certification tokens.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokensResponse {
    pub tokens: Vec<String>,
}

impl std::fmt::Debug for TokensResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokensResponse {{ tokens: <{} redacted> }}",
            self.tokens.len()
        )
    }
}

/// `GET /v1/exception-grants`: this device's grants for the user's approved, unexpired
/// exceptions.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExceptionGrantsResponse {
    pub grants: Vec<String>,
}

impl std::fmt::Debug for ExceptionGrantsResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ExceptionGrantsResponse {{ grants: <{} redacted> }}",
            self.grants.len()
        )
    }
}

/// Response header of `GET /v1/bundle` naming the bundle's version (`bundle.yaml`).
pub const BUNDLE_VERSION_HEADER: &str = "x-certgate-bundle-version";

/// `POST /v1/posture/nonce` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NonceResponse {
    pub nonce: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Error body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// The columns of a proxy evidence record (the policy's `promptLogging.fields`, then the
/// decision), in export order. The proxy writes them, the server keeps and exports them.
pub const EVIDENCE_COLUMNS: &[&str] = &[
    "timestamp",
    "userId",
    "userType",
    "vendorOrg",
    "toolSurface",
    "retrievalSources",
    "confidenceScore",
    "approvalOutcome",
    "requestId",
    "decision",
    "reasons",
    "findings",
    "track",
    "model",
    "region",
    "route",
    "status",
    "streamed",
    "latencyMs",
    "bytesIn",
    "bytesOut",
    "toolCallsRemoved",
    "viaException",
    "flags",
];

/// Most records one `POST /v1/evidence` carries.
pub const EVIDENCE_BATCH_MAX: usize = 500;

/// `POST /v1/evidence`: the proxy's audit records (metadata only), oldest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvidenceUpload {
    pub records: Vec<serde_json::Value>,
}

/// `POST /v1/evidence` answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvidenceAccepted {
    /// Records stored for the first time.
    pub accepted: usize,
    /// Records the server already held (a retry): ignored.
    pub duplicates: usize,
    /// Records held as `pending` approval whose human decision arrived now.
    #[serde(default)]
    pub updated: usize,
}

/// The first field name in `record` (at any depth) that looks like it carries prompt or
/// answer text, which evidence must never hold: `messages`, `prompt`, `content`, `input`…
pub fn text_bearing_field(record: &serde_json::Value) -> Option<String> {
    const CONTAINS: &[&str] = &["prompt", "content", "message", "completion"];
    const EXACT: &[&str] = &["input", "output", "text", "instructions", "choices", "body"];
    match record {
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            if CONTAINS.iter().any(|c| lower.contains(c)) || EXACT.contains(&lower.as_str()) {
                Some(k.clone())
            } else {
                text_bearing_field(v)
            }
        }),
        serde_json::Value::Array(items) => items.iter().find_map(text_bearing_field),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bearing_fields_are_found_at_any_depth_and_metadata_passes() {
        let ok = serde_json::json!({"requestId": "r1", "bytesIn": 10, "bytesOut": 3,
                                    "findings": {"EMAIL": 1}, "reasons": ["region"]});
        assert_eq!(text_bearing_field(&ok), None, "audit metadata is not text");
        let nested = serde_json::json!({"requestId": "r1", "extra": [{"Messages": []}]});
        assert_eq!(text_bearing_field(&nested).as_deref(), Some("Messages"));
        let prompt = serde_json::json!({"requestId": "r1", "systemPrompt": "x"});
        assert_eq!(text_bearing_field(&prompt).as_deref(), Some("systemPrompt"));
    }
}

/// `POST /v1/exceptions`: a device asks for a time-limited exception.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExceptionRequest {
    pub track: String,
    /// One tool surface (name or `kind:name`) the exception is limited to; none covers every
    /// tool of the track.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    pub duration_days: u32,
    /// Every justification field the policy names, by name.
    pub justification: std::collections::BTreeMap<String, String>,
}

/// `POST /v1/admin/exceptions/{id}/approve` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    pub role: String,
    /// Who approves (a name or id, recorded in the token).
    pub approver: String,
}

/// One recorded approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approver {
    pub role: String,
    pub approver: String,
}

/// The state of an exception request (`GET /v1/exceptions/{id}`).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionStatus {
    pub id: String,
    pub user_id: String,
    pub track: String,
    /// The one tool the exception is limited to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// `pending`, `approved` or `refused`.
    pub state: String,
    pub approvals: Vec<Approver>,
    pub missing_roles: Vec<String>,
    /// The signed exception token once approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for ExceptionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExceptionStatus")
            .field("id", &self.id)
            .field("track", &self.track)
            .field("tool", &self.tool)
            .field("state", &self.state)
            .field("approvals", &self.approvals)
            .field("missing_roles", &self.missing_roles)
            .finish_non_exhaustive()
    }
}
