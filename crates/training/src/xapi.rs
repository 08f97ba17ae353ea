//! xAPI statements for the outbox. Each carries a client-made UUID (so a re-sent statement is
//! recognised), the event's own `timestamp`, and for attempts the raw responses, seed and bundle
//! version in an extension, so the server re-grades with [`crate::grade`] instead of trusting
//! the device's score. The actor is added by the sync from the signed-in identity.

use chrono::SecondsFormat;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ack::Acknowledgement;
use crate::records::AttemptRecord;

/// Extension key of the re-grading data.
pub const ATTEMPT_EXTENSION: &str = "https://certgate.dev/xapi/extensions/attempt";
/// Extension key of the acknowledgement data.
pub const ACK_EXTENSION: &str = "https://certgate.dev/xapi/extensions/acknowledgement";

pub const VERB_PASSED: &str = "http://adlnet.gov/expapi/verbs/passed";
pub const VERB_FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";
pub const VERB_ACCEPTED: &str = "http://activitystrea.ms/schema/1.0/accept";

/// The statement of a submitted attempt.
pub fn attempt_statement(a: &AttemptRecord, statement_id: &str) -> Value {
    let (verb, display) = if a.score.passed {
        (VERB_PASSED, "passed")
    } else {
        (VERB_FAILED, "failed")
    };
    // Display value; the exact score is raw/max, re-derived by the server.
    #[allow(clippy::cast_precision_loss)]
    let scaled = if a.score.max == 0 {
        0.0
    } else {
        a.score.raw.as_f64() / a.score.max as f64
    };
    json!({
        "id": statement_id,
        "timestamp": a.submitted_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "verb": { "id": verb, "display": { "en-US": display } },
        "object": {
            "objectType": "Activity",
            "id": format!("https://certgate.dev/xapi/tracks/{}", a.track),
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/assessment",
                "name": { "en-US": a.track },
            },
        },
        "result": {
            "score": { "scaled": scaled, "raw": a.score.raw.as_f64(), "min": 0, "max": a.score.max },
            "success": a.score.passed,
            "completion": true,
            "extensions": {
                ATTEMPT_EXTENSION: {
                    "attemptId": a.id,
                    "track": a.track,
                    "bundleId": a.bundle_id,
                    "bundleVersion": a.bundle_version,
                    "bundleSha256": a.bundle_sha256,
                    // A string: JSON numbers lose u64 precision in many parsers.
                    "seed": a.seed.to_string(),
                    "drawCount": a.draw_count,
                    "minScorePct": a.min_score_pct,
                    "rawExact": { "num": a.score.raw.num, "den": a.score.raw.den },
                    "responses": a.responses,
                    "startedAt": a.started_at.to_rfc3339_opts(SecondsFormat::Millis, true),
                },
            },
        },
    })
}

/// The re-grading data of an attempt statement, as the server reads it back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptExtension {
    pub attempt_id: String,
    pub track: String,
    pub bundle_id: String,
    pub bundle_version: String,
    pub bundle_sha256: String,
    /// Decimal text (see [`attempt_statement`]).
    #[serde(deserialize_with = "seed_from_text")]
    pub seed: u64,
    pub draw_count: u32,
    pub min_score_pct: f64,
    pub responses: Vec<crate::quiz::Response>,
}

fn seed_from_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

impl AttemptExtension {
    /// The extension of an attempt statement; `None` when the statement has none or it is
    /// malformed.
    pub fn from_statement(statement: &Value) -> Option<Self> {
        let ext = statement
            .get("result")?
            .get("extensions")?
            .get(ATTEMPT_EXTENSION)?;
        serde_json::from_value(ext.clone()).ok()
    }
}

/// The statement of a signed acknowledgement.
pub fn acknowledgement_statement(a: &Acknowledgement, statement_id: &str) -> Value {
    json!({
        "id": statement_id,
        "timestamp": a.signed_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "verb": { "id": VERB_ACCEPTED, "display": { "en-US": "accepted" } },
        "object": {
            "objectType": "Activity",
            "id": format!("https://certgate.dev/xapi/acknowledgements/{}", a.ack_id),
            "definition": { "name": { "en-US": a.ack_id } },
        },
        "result": {
            "completion": true,
            "extensions": {
                ACK_EXTENSION: {
                    "acknowledgementId": a.id,
                    "version": a.version,
                    "contentSha256": a.content_sha256,
                    "fullName": a.full_name,
                },
            },
        },
    })
}
