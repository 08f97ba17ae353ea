//! The one access decision the proxy, the app and the CLI share: given the policy, who asks,
//! from which device, under which track and for what, allow or deny with every reason in words.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cel::Value;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::LoadedPolicy;
use crate::rules::{RuleOutcome, Variables, json_to_value, map_value};

/// The `user` object rules see: who asks, and the certifications they hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserContext {
    #[serde(default)]
    pub id: Option<String>,
    /// Worker type (`contractor`, `partner_bpo`, …); checked against `scope.populations`.
    #[serde(default)]
    pub user_type: Option<String>,
    #[serde(default)]
    pub vendor_org: Option<String>,
    /// Home region of the user; used when the request names none.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub certifications: BTreeMap<String, CertificationClaim>,
}

/// What the user holds for one track, as a verified token says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificationClaim {
    /// `passed`, `failed`, `locked`, `revoked`, `pending`…; a `passed` claim past its expiry is
    /// seen by rules as `expired`.
    pub status: String,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub score: Option<f64>,
    /// Modules the user has completed in this track.
    #[serde(default)]
    pub modules: Option<Vec<String>>,
}

/// What is asked for. A check whose field is left out is skipped and listed in
/// [`Decision::skipped`]; callers gating real traffic (the proxy) always fill every field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestContext {
    /// Tool surface, by name (`support-copilot`) or `kind:name`.
    #[serde(default)]
    pub tool_surface: Option<String>,
    /// Region the request would be processed in.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

/// The device posture as rules see it (`device.*`), converted once so each decision is cheap.
#[derive(Debug, Clone)]
pub struct DeviceFacts(Value);

impl DeviceFacts {
    pub fn from_json(device: &serde_json::Value) -> Self {
        Self(json_to_value(device))
    }
}

/// One question to the gate.
#[derive(Debug, Clone, Copy)]
pub struct GateInput<'a> {
    pub user: &'a UserContext,
    pub device: &'a DeviceFacts,
    pub track: &'a str,
    pub request: &'a RequestContext,
    pub now: DateTime<Utc>,
}

/// Why access was refused, and what the user can do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    /// Which check failed: `track`, `population`, `region`, `tool`, `certification`, or
    /// `condition:<name>`.
    pub check: String,
    pub message: String,
    pub fix: Option<String>,
}

/// Allow or deny, with every reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub allowed: bool,
    pub reasons: Vec<Reason>,
    /// Checks not made because the request left their field out.
    pub skipped: Vec<String>,
}

impl Decision {
    fn from_reasons(reasons: Vec<Reason>, skipped: Vec<String>) -> Self {
        Self {
            allowed: reasons.is_empty(),
            reasons,
            skipped,
        }
    }
}

fn reason(check: &str, message: String, fix: Option<String>) -> Reason {
    Reason {
        check: check.to_owned(),
        message,
        fix,
    }
}

impl LoadedPolicy {
    /// Decides one request. Never panics and never allows on an error: a rule that cannot be
    /// evaluated is a failed rule.
    pub fn decide(&self, input: GateInput<'_>) -> Decision {
        let policy = &self.policy;
        let mut reasons = Vec::new();
        let mut skipped = Vec::new();

        let Some(track) = policy.track(input.track) else {
            let known: Vec<&str> = policy.track_ids().collect();
            reasons.push(reason(
                "track",
                format!("track {} is not defined by this policy", input.track),
                Some(format!("use one of: {}", known.join(", "))),
            ));
            return Decision::from_reasons(reasons, skipped);
        };

        match &input.user.user_type {
            Some(kind) if !policy.scope.populations.contains(kind) => reasons.push(reason(
                "population",
                format!("user type {kind} is not covered by this policy"),
                Some(format!(
                    "ask your vendor manager: this policy covers {}",
                    policy.scope.populations.join(", ")
                )),
            )),
            Some(_) => {}
            None => skipped.push("population (no user type given)".to_owned()),
        }

        match input.request.region.as_ref().or(input.user.region.as_ref()) {
            Some(region) if !policy.scope.regions_allowed.contains(region) => {
                reasons.push(reason(
                    "region",
                    format!("region {region} not allowed"),
                    Some(format!(
                        "use a copilot routed to {}",
                        policy.scope.regions_allowed.join(" or ")
                    )),
                ));
            }
            Some(_) => {}
            None => skipped.push("region (no region given)".to_owned()),
        }

        match &input.request.tool_surface {
            Some(surface) if policy.tool(surface).is_none() => reasons.push(reason(
                "tool",
                format!("tool surface {surface} is not on the policy's allowlist"),
                Some("use one of the approved copilots or automation endpoints".to_owned()),
            )),
            Some(_) => {}
            None => skipped.push("tool (no tool surface given)".to_owned()),
        }

        let (user_value, expired) = user_value(input.user, input.now);
        if let Some(at) = expired.get(track.id.as_str()) {
            reasons.push(reason(
                "certification",
                format!("{} expired at {}", track.id, at.to_rfc3339()),
                Some(format!("recertify {} in Certgate", track.id)),
            ));
        }

        let ctx = self.compiled.context(Variables {
            user: user_value,
            device: input.device.0.clone(),
            track_id: Value::String(Arc::new(track.id.clone())),
            request: request_value(input.request),
            now: Value::Timestamp(input.now.fixed_offset()),
        });
        for rule in &self.compiled.rules {
            if let RuleOutcome::Failed(parts) = rule.evaluate(&ctx) {
                let check = format!("condition:{}", rule.name);
                for part in parts {
                    let fix = fix_for(&part, track, input.user);
                    reasons.push(reason(&check, part, fix));
                }
            }
        }
        Decision::from_reasons(reasons, skipped)
    }

    /// Whether every condition holds, without building reasons: the property the decision must
    /// never contradict (used by tests and benchmarks).
    pub fn conditions_hold(&self, input: GateInput<'_>) -> bool {
        let Some(track) = self.policy.track(input.track) else {
            return false;
        };
        let (user_value, _) = user_value(input.user, input.now);
        let ctx = self.compiled.context(Variables {
            user: user_value,
            device: input.device.0.clone(),
            track_id: Value::String(Arc::new(track.id.clone())),
            request: request_value(input.request),
            now: Value::Timestamp(input.now.fixed_offset()),
        });
        self.compiled.rules.iter().all(|r| r.holds(&ctx))
    }
}

/// The user as a CEL map. A `passed` certification past its expiry becomes `expired`, so a
/// rule checking `status == 'passed'` stops admitting the moment it lapses, even offline.
fn user_value(user: &UserContext, now: DateTime<Utc>) -> (Value, HashMap<&str, DateTime<Utc>>) {
    let mut expired = HashMap::new();
    let certifications: HashMap<String, Value> = user
        .certifications
        .iter()
        .map(|(track, claim)| {
            let mut status = claim.status.clone();
            if let Some(at) = claim.expires_at
                && at <= now
                && status == "passed"
            {
                status = "expired".to_owned();
                expired.insert(track.as_str(), at);
            }
            let mut fields =
                HashMap::from([("status".to_owned(), Value::String(Arc::new(status)))]);
            if let Some(at) = claim.expires_at {
                fields.insert("expiresAt".to_owned(), Value::Timestamp(at.fixed_offset()));
            }
            if let Some(score) = claim.score {
                fields.insert("score".to_owned(), Value::Float(score));
            }
            if let Some(modules) = &claim.modules {
                let list = modules
                    .iter()
                    .map(|m| Value::String(Arc::new(m.clone())))
                    .collect();
                fields.insert("modules".to_owned(), Value::List(Arc::new(list)));
            }
            (track.clone(), map_value(fields))
        })
        .collect();
    let mut fields = HashMap::from([("certifications".to_owned(), map_value(certifications))]);
    for (name, value) in [
        ("id", &user.id),
        ("userType", &user.user_type),
        ("vendorOrg", &user.vendor_org),
        ("region", &user.region),
    ] {
        if let Some(v) = value {
            fields.insert(name.to_owned(), Value::String(Arc::new(v.clone())));
        }
    }
    (map_value(fields), expired)
}

fn request_value(request: &RequestContext) -> Value {
    let fields = [
        ("toolSurface", &request.tool_surface),
        ("region", &request.region),
        ("model", &request.model),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.as_ref()
            .map(|v| (k.to_owned(), Value::String(Arc::new(v.clone()))))
    })
    .collect();
    map_value(fields)
}

/// What the user can do about a failing rule part, from what the part talks about.
fn fix_for(part: &str, track: &crate::model::Track, user: &UserContext) -> Option<String> {
    const DEVICE_FIXES: &[(&str, &str)] = &[
        (
            "device.diskEncryption",
            "turn on full-disk encryption (FileVault, BitLocker or LUKS), then check again in Certgate",
        ),
        (
            "device.managed",
            "enrol this device in your organisation's device management (MDM), then check again",
        ),
        ("device.firewall", "turn on the firewall, then check again"),
        (
            "device.screenLock",
            "turn on the screen lock with a short idle delay, then check again",
        ),
        (
            "device.secureBoot",
            "turn on Secure Boot in the firmware settings",
        ),
        (
            "device.tpm",
            "use a device with a TPM (or enable it in the firmware)",
        ),
        (
            "device.edr",
            "start your organisation's endpoint protection agent",
        ),
        ("device.autoUpdates", "turn on automatic security updates"),
    ];
    if let Some((_, fix)) = DEVICE_FIXES
        .iter()
        .find(|(needle, _)| part.contains(needle))
    {
        return Some((*fix).to_owned());
    }
    if part.contains("user.certifications") {
        let done = user
            .certifications
            .get(&track.id)
            .and_then(|c| c.modules.clone())
            .unwrap_or_default();
        let todo: Vec<&str> = track
            .modules
            .iter()
            .filter(|m| !done.contains(m))
            .map(String::as_str)
            .collect();
        let modules = if todo.is_empty() {
            String::new()
        } else {
            format!("finish {} and ", todo.join(", "))
        };
        return Some(format!(
            "{modules}pass the {} quiz in Certgate ({}% needed)",
            track.id, track.quiz.min_score_pct
        ));
    }
    None
}
