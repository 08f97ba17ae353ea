//! Who gets in: the policy's decision on what the embedder says about the user and the device,
//! with posture freshness and exception grants. Fails closed: a check that cannot be made denies.

use certgate_policy::{DeviceFacts, GateInput, LoadedPolicy, Reason, RequestContext, UserContext};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::config::TrackChoice;

/// What the embedder knows right now about who uses this device and how the device is.
#[derive(Debug, Clone, Default)]
pub struct GateSnapshot {
    /// The user, with certifications already verified from their tokens.
    pub user: UserContext,
    /// The last posture report as rules see it; `None` denies.
    pub device: Option<DeviceFacts>,
    /// When that report was collected; older than the policy's `devicePosture.maxAgeMinutes`
    /// (or unknown) denies.
    pub device_collected_at: Option<DateTime<Utc>>,
    /// Verified exception grants.
    pub exceptions: Vec<ExceptionGrant>,
    /// The user turned copilot access off on this device: every request is refused, whatever
    /// the certifications and exceptions say.
    pub switched_off: bool,
}

/// An approved exception: admits requests in its scope until it expires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExceptionGrant {
    /// Track it covers; `None` covers every track.
    #[serde(default)]
    pub track: Option<String>,
    /// Tool surface it covers (name or `kind:name`); `None` covers every tool.
    #[serde(default)]
    pub tool: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// The gate's answer for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct GateOutcome {
    pub allowed: bool,
    pub reasons: Vec<Reason>,
    /// Admitted by an exception grant despite `reasons`.
    pub via_exception: bool,
}

/// The track a request is gated on: an explicit header, else by the tool's kind.
pub fn track_for(
    policy: &LoadedPolicy,
    choice: &TrackChoice,
    tool: &str,
    header: Option<&str>,
) -> String {
    if let Some(t) = header {
        return t.to_owned();
    }
    let p = &policy.policy;
    let is_automation = p
        .scope
        .tools
        .automation_endpoints
        .iter()
        .any(|t| t.matches(tool));
    let ids: Vec<&str> = p.track_ids().collect();
    let (configured, default) = if is_automation {
        (&choice.automation_endpoints, ids.last().copied())
    } else {
        (&choice.copilots, ids.first().copied())
    };
    configured
        .clone()
        .or_else(|| default.map(str::to_owned))
        .unwrap_or_default()
}

fn reason(check: &str, message: &str, fix: &str) -> Reason {
    Reason {
        check: check.to_owned(),
        message: message.to_owned(),
        fix: Some(fix.to_owned()),
    }
}

/// Decides one request.
pub fn evaluate(
    policy: &LoadedPolicy,
    snapshot: &GateSnapshot,
    track: &str,
    request: &RequestContext,
    now: DateTime<Utc>,
) -> GateOutcome {
    if snapshot.switched_off {
        return GateOutcome {
            allowed: false,
            reasons: vec![reason(
                "switched-off",
                "copilot access is turned off on this device",
                "turn it on from the Certgate tray menu (Copilot access)",
            )],
            via_exception: false,
        };
    }
    let mut reasons = Vec::new();
    let max_age = Duration::minutes(i64::from(policy.policy.device_posture.max_age_minutes));
    let fresh = match snapshot.device_collected_at {
        Some(at) => now - at <= max_age && at <= now + Duration::minutes(5),
        None => false,
    };
    match &snapshot.device {
        None => reasons.push(reason(
            "posture",
            "no device posture report",
            "run a device check in Certgate",
        )),
        Some(_) if !fresh => reasons.push(reason(
            "posture",
            "posture is stale: check again in Certgate",
            "open Certgate and run the device check again",
        )),
        Some(_) => {}
    }
    // Rules still run on an empty device so every other reason is reported too.
    let empty;
    let device = match &snapshot.device {
        Some(d) => d,
        None => {
            empty = DeviceFacts::from_json(&serde_json::json!({}));
            &empty
        }
    };
    let decision = policy.decide(GateInput {
        user: &snapshot.user,
        device,
        track,
        request,
        now,
    });
    reasons.extend(decision.reasons);
    for skipped in decision.skipped {
        // The proxy gates real traffic: a check it could not make is a failed check.
        reasons.push(Reason {
            check: "incomplete".to_owned(),
            message: format!("cannot decide: {skipped}"),
            fix: Some("sign in to Certgate again so it knows who you are".to_owned()),
        });
    }
    if reasons.is_empty() {
        return GateOutcome {
            allowed: true,
            reasons,
            via_exception: false,
        };
    }
    let tool = request.tool_surface.as_deref().unwrap_or_default();
    let exceptions_allowed = policy.policy.access_gating.approvals.exception_path.allowed;
    let covered = exceptions_allowed
        && snapshot.exceptions.iter().any(|g| {
            g.expires_at > now
                && g.track.as_deref().is_none_or(|t| t == track)
                && g.tool.as_deref().is_none_or(|t| surface_matches(t, tool))
        });
    GateOutcome {
        allowed: covered,
        reasons,
        via_exception: covered,
    }
}

/// `kind:name` and `name` select the same tool.
fn surface_matches(grant: &str, request: &str) -> bool {
    let name = |s: &str| s.split_once(':').map_or(s, |(_, n)| n).to_owned();
    grant == request || name(grant) == name(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_policy::CertificationClaim;

    fn user(status: &str, expires: Option<DateTime<Utc>>) -> UserContext {
        UserContext {
            id: Some("u1".into()),
            user_type: Some("contractor".into()),
            vendor_org: Some("acme".into()),
            region: Some("eu-west-1".into()),
            certifications: [(
                "AI_CONSUMER_EXTERNAL".to_owned(),
                CertificationClaim {
                    status: status.into(),
                    expires_at: expires,
                    score: Some(90.0),
                    modules: None,
                },
            )]
            .into(),
        }
    }

    fn snap(now: DateTime<Utc>, managed: bool) -> GateSnapshot {
        GateSnapshot {
            user: user("passed", Some(now + Duration::days(30))),
            device: Some(DeviceFacts::from_json(
                &serde_json::json!({"managed": managed, "diskEncryption": true}),
            )),
            device_collected_at: Some(now - Duration::minutes(1)),
            exceptions: Vec::new(),
            switched_off: false,
        }
    }

    fn req() -> RequestContext {
        RequestContext {
            tool_surface: Some("developer-sdk".into()),
            region: Some("eu-west-1".into()),
            model: Some("gpt-4o-mini".into()),
        }
    }

    #[test]
    fn allows_certified_compliant_and_denies_each_failure() {
        let p = certgate_policy::demo::load().unwrap();
        let now = Utc::now();
        let t = "AI_CONSUMER_EXTERNAL";
        assert!(evaluate(&p, &snap(now, true), t, &req(), now).allowed);

        let bad = evaluate(&p, &snap(now, false), t, &req(), now);
        assert!(!bad.allowed, "failing posture must deny");

        let mut stale = snap(now, true);
        stale.device_collected_at = Some(now - Duration::minutes(31));
        let o = evaluate(&p, &stale, t, &req(), now);
        assert!(!o.allowed);
        assert!(o.reasons.iter().any(|r| r.message.contains("stale")));

        let mut none = snap(now, true);
        none.device = None;
        assert!(!evaluate(&p, &none, t, &req(), now).allowed);

        let mut expired = snap(now, true);
        expired.user = user("passed", Some(now - Duration::days(1)));
        assert!(!evaluate(&p, &expired, t, &req(), now).allowed);

        let mut anon = snap(now, true);
        anon.user.user_type = None;
        assert!(
            !evaluate(&p, &anon, t, &req(), now).allowed,
            "a skipped check must deny"
        );
    }

    #[test]
    fn exception_admits_in_scope_until_expiry() {
        let p = certgate_policy::demo::load().unwrap();
        let now = Utc::now();
        let t = "AI_CONSUMER_EXTERNAL";
        let mut s = snap(now, false);
        s.exceptions.push(ExceptionGrant {
            track: Some(t.into()),
            tool: Some("sdk:developer-sdk".into()),
            expires_at: now + Duration::hours(1),
        });
        let o = evaluate(&p, &s, t, &req(), now);
        assert!(o.allowed && o.via_exception);
        s.exceptions[0].expires_at = now - Duration::seconds(1);
        assert!(!evaluate(&p, &s, t, &req(), now).allowed, "expired grant");
        s.exceptions[0].expires_at = now + Duration::hours(1);
        s.exceptions[0].tool = Some("agent-assist".into());
        assert!(!evaluate(&p, &s, t, &req(), now).allowed, "other tool");
    }

    #[test]
    fn switched_off_refuses_a_certified_user_and_an_exception_alike() {
        let p = certgate_policy::demo::load().unwrap();
        let now = Utc::now();
        let t = "AI_CONSUMER_EXTERNAL";
        let mut s = snap(now, true);
        s.exceptions.push(ExceptionGrant {
            track: None,
            tool: None,
            expires_at: now + Duration::hours(1),
        });
        assert!(evaluate(&p, &s, t, &req(), now).allowed);
        s.switched_off = true;
        let o = evaluate(&p, &s, t, &req(), now);
        assert!(!o.allowed && !o.via_exception);
        assert_eq!(o.reasons.len(), 1, "{:?}", o.reasons);
        assert_eq!(o.reasons[0].check, "switched-off");
        assert!(o.reasons[0].fix.as_deref().unwrap_or("").contains("tray"));
    }

    #[test]
    fn track_by_tool_kind() {
        let p = certgate_policy::demo::load().unwrap();
        let c = TrackChoice::default();
        assert_eq!(
            track_for(&p, &c, "developer-sdk", None),
            "AI_CONSUMER_EXTERNAL"
        );
        assert_eq!(
            track_for(&p, &c, "ticket-summarize", None),
            "AI_BUILDER_EXTERNAL"
        );
        assert_eq!(track_for(&p, &c, "x", Some("T")), "T");
    }
}
