//! Checks that need more than one field or a range: the decoder has already checked keys and
//! types. Every problem is reported, pointing at the field that must change.
//!
//! Section checks run as soon as their section decodes, so a mistake in one section never hides
//! the mistakes in another; checks across sections (track references) use the track ids seen.

use std::collections::{BTreeMap, HashSet};

use crate::decode::PolicyCx as Cx;
use crate::model::*;
use crate::yaml::{did_you_mean, join};

fn err(cx: &mut Cx, path: &str, message: String, fix: impl Into<String>) {
    cx.error_at_path(path, message, fix);
}

/// Reports the second and later copies of a value in a list.
fn unique<'a>(cx: &mut Cx, path: &str, items: impl IntoIterator<Item = &'a str>) {
    let mut seen = HashSet::new();
    for (i, item) in items.into_iter().enumerate() {
        if !seen.insert(item) {
            err(
                cx,
                &format!("{path}[{i}]"),
                format!("`{item}` is listed twice"),
                "remove the duplicate",
            );
        }
    }
}

fn non_empty<T>(cx: &mut Cx, path: &str, list: &[T], what: &str) {
    if list.is_empty() {
        err(
            cx,
            path,
            "must not be empty".to_owned(),
            format!("list at least one {what}"),
        );
    }
}

fn in_range(cx: &mut Cx, path: &str, value: f64, low: f64, high: f64) {
    if !(low..=high).contains(&value) {
        err(
            cx,
            path,
            format!("{value} is outside {low}–{high}"),
            format!("use a value from {low} to {high}"),
        );
    }
}

fn at_least_one(cx: &mut Cx, path: &str, value: u32, unit: &str) {
    if value < 1 {
        err(
            cx,
            path,
            format!("must be at least 1 {unit}, got {value}"),
            format!("use 1 or more {unit}"),
        );
    }
}

pub(crate) fn scope(s: &Scope, cx: &mut Cx) {
    non_empty(
        cx,
        "scope.populations",
        &s.populations,
        "worker type, e.g. contractor",
    );
    unique(
        cx,
        "scope.populations",
        s.populations.iter().map(String::as_str),
    );
    non_empty(
        cx,
        "scope.regionsAllowed",
        &s.regions_allowed,
        "region, e.g. us-east-1 (an empty list would block every request)",
    );
    unique(
        cx,
        "scope.regionsAllowed",
        s.regions_allowed.iter().map(String::as_str),
    );
    let names: Vec<String> = s
        .tools
        .copilots
        .iter()
        .chain(&s.tools.automation_endpoints)
        .map(ToString::to_string)
        .collect();
    unique(cx, "scope.tools", names.iter().map(String::as_str));
}

pub(crate) fn tracks(tracks: &[Track], cx: &mut Cx) {
    let base = "trainingRequirements.certificationTracks";
    non_empty(cx, base, tracks, "certification track");
    unique(cx, base, tracks.iter().map(|t| t.id.as_str()));
}

/// One track, at `path` (`trainingRequirements.certificationTracks[i]`).
pub(crate) fn track(t: &Track, path: &str, cx: &mut Cx) {
    non_empty(cx, &join(path, "modules"), &t.modules, "module");
    unique(
        cx,
        &join(path, "modules"),
        t.modules.iter().map(String::as_str),
    );
    in_range(
        cx,
        &format!("{path}.quiz.minScorePct"),
        t.quiz.min_score_pct,
        0.0,
        100.0,
    );
    at_least_one(
        cx,
        &format!("{path}.quiz.attemptsAllowed"),
        t.quiz.attempts_allowed,
        "attempt",
    );
    at_least_one(cx, &join(path, "recertifyDays"), t.recertify_days, "day");
}

/// A group key names its track directly, or as `certified<Word>Group` where `<Word>` is one
/// underscore-separated word of exactly one track id.
fn resolve_group_key<'t>(key: &str, track_ids: &[&'t str]) -> Result<&'t str, String> {
    if let Some(id) = track_ids.iter().find(|id| **id == key) {
        return Ok(id);
    }
    let word = key
        .strip_prefix("certified")
        .and_then(|rest| rest.strip_suffix("Group"))
        .filter(|w| !w.is_empty())
        .ok_or_else(|| {
            "it is neither a track id nor of the form certified<Word>Group".to_owned()
        })?;
    let matching: Vec<&str> = track_ids
        .iter()
        .copied()
        .filter(|id| id.split('_').any(|part| part.eq_ignore_ascii_case(word)))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no track id contains the word `{word}`")),
        many => Err(format!(
            "`{word}` matches several tracks: {}",
            many.join(", ")
        )),
    }
}

pub(crate) fn group_mapping(idp: &mut IdentityProvider, track_ids: &[&str], cx: &mut Cx) {
    let mut by_track = BTreeMap::new();
    for (key, group) in &idp.group_mapping {
        let path = format!("accessGating.identityProvider.groupMapping.{key}");
        match resolve_group_key(key, track_ids) {
            Ok(track) => {
                if by_track.insert(track.to_owned(), group.clone()).is_some() {
                    err(
                        cx,
                        &path,
                        format!("a second group for track {track}"),
                        "map each track to one group",
                    );
                }
            }
            Err(why) => err(
                cx,
                &path,
                format!("`{key}` names no certification track: {why}"),
                format!(
                    "use a track id ({}) or certified<Word>Group",
                    track_ids.join(", ")
                ),
            ),
        }
    }
    idp.groups_by_track = by_track;
}

pub(crate) fn access_gating(gating: &AccessGating, cx: &mut Cx) {
    non_empty(
        cx,
        "accessGating.conditions",
        &gating.conditions,
        "condition (with none, nothing would be checked)",
    );
    unique(
        cx,
        "accessGating.conditions",
        gating.conditions.iter().map(|c| c.name.as_str()),
    );
    let ex = &gating.approvals.exception_path;
    let path = "accessGating.approvals.exceptionPath";
    if ex.allowed {
        at_least_one(
            cx,
            &join(path, "maxDurationDays"),
            ex.max_duration_days,
            "day",
        );
        non_empty(
            cx,
            &join(path, "requiredApprovers"),
            &ex.required_approvers,
            "approver role",
        );
        non_empty(
            cx,
            &join(path, "justificationFields"),
            &ex.justification_fields,
            "field",
        );
    }
    unique(
        cx,
        &join(path, "requiredApprovers"),
        ex.required_approvers.iter().map(|a| a.role.as_str()),
    );
    unique(
        cx,
        &join(path, "justificationFields"),
        ex.justification_fields.iter().map(String::as_str),
    );
}

pub(crate) fn retrieval_scopes(scopes: &RetrievalScopes, track_ids: &[&str], cx: &mut Cx) {
    for track in scopes.per_track.keys() {
        if !track_ids.contains(&track.as_str()) {
            let fix = match did_you_mean(track, track_ids.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("use one of the tracks: {}", track_ids.join(", ")),
            };
            err(
                cx,
                &format!("modelAndDataControls.retrievalScopes.perTrack.{track}"),
                format!("`{track}` is not a certification track"),
                fix,
            );
        }
    }
}

pub(crate) fn confidence_thresholds(t: &ConfidenceThresholds, cx: &mut Cx) {
    let path = "qualityAndSafety.confidenceThresholds";
    in_range(
        cx,
        &join(path, "allowAutoDraftAbove"),
        t.allow_auto_draft_above,
        0.0,
        1.0,
    );
    in_range(
        cx,
        &join(path, "requireHumanApprovalBelow"),
        t.require_human_approval_below,
        0.0,
        1.0,
    );
    if t.require_human_approval_below > t.allow_auto_draft_above {
        err(
            cx,
            &join(path, "requireHumanApprovalBelow"),
            format!(
                "{} is above allowAutoDraftAbove ({}): an answer could need approval and be auto-drafted at once",
                t.require_human_approval_below, t.allow_auto_draft_above
            ),
            "make requireHumanApprovalBelow less than or equal to allowAutoDraftAbove",
        );
    }
}

pub(crate) fn logging(log: &LoggingAndEvidence, cx: &mut Cx) {
    at_least_one(
        cx,
        "loggingAndEvidence.retentionDays",
        log.retention_days,
        "day",
    );
    let fields: Vec<&str> = log
        .prompt_logging
        .fields
        .iter()
        .map(|f| f.as_str())
        .collect();
    unique(cx, "loggingAndEvidence.promptLogging.fields", fields);
}

pub(crate) fn slo_targets(slo: &SloTargets, cx: &mut Cx) {
    let hours = slo.access_provisioning.p95_hours_from_cert_to_access;
    if hours <= 0.0 {
        err(
            cx,
            "sloTargets.accessProvisioning.p95HoursFromCertToAccess",
            format!("must be more than 0 hours, got {hours}"),
            "use a positive number of hours",
        );
    }
    in_range(
        cx,
        "sloTargets.trainingCompletion.targetPctWithin48h",
        slo.training_completion.target_pct_within48h,
        0.0,
        100.0,
    );
}

pub(crate) fn monitoring(m: &Monitoring, cx: &mut Cx) {
    let alerts = &m.alerts;
    unique(
        cx,
        "monitoring.alerts",
        alerts.iter().map(|a| a.name.as_str()),
    );
    for (i, a) in alerts.iter().enumerate() {
        non_empty(
            cx,
            &format!("monitoring.alerts[{i}].notify"),
            &a.notify,
            "address",
        );
    }
}

pub(crate) fn device_posture(d: &DevicePosture, cx: &mut Cx) {
    at_least_one(
        cx,
        "devicePosture.checkIntervalMinutes",
        d.check_interval_minutes,
        "minute",
    );
    if d.max_age_minutes < d.check_interval_minutes {
        err(
            cx,
            "devicePosture.maxAgeMinutes",
            format!(
                "{} minutes is shorter than checkIntervalMinutes ({}): every report would go stale before the next check",
                d.max_age_minutes, d.check_interval_minutes
            ),
            "make maxAgeMinutes at least checkIntervalMinutes",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_keys_resolve_to_tracks() {
        let ids = ["AI_CONSUMER_EXTERNAL", "AI_BUILDER_EXTERNAL"];
        assert_eq!(
            resolve_group_key("certifiedConsumerGroup", &ids),
            Ok("AI_CONSUMER_EXTERNAL")
        );
        assert_eq!(
            resolve_group_key("AI_BUILDER_EXTERNAL", &ids),
            Ok("AI_BUILDER_EXTERNAL")
        );
        assert!(resolve_group_key("certifiedAuditorGroup", &ids).is_err());
        assert!(
            resolve_group_key("certifiedExternalGroup", &ids).is_err(),
            "a word shared by two tracks is ambiguous"
        );
        assert!(resolve_group_key("consumers", &ids).is_err());
    }
}
