//! One decoder per policy section. Each reads every field first (so every problem is reported),
//! then reports unknown keys, then builds the value only if all its parts were valid.

use saphyr::YamlData;

use super::PolicyCx as Cx;
use crate::model::*;
use crate::rules::CompiledRule;
use crate::threshold::Threshold;
use crate::validate;
use crate::yaml::{Decode, MapReader, MarkedYaml, join, location, named};

pub(crate) fn decode_policy(root: &MarkedYaml<'_>, cx: &mut Cx) -> Option<Policy> {
    Policy::decode(root, "", cx)
}

/// Runs a check against the track ids decoded so far. Skipped when no track decoded, so one
/// broken track list does not turn every reference into a second, misleading error.
fn with_track_ids(cx: &mut Cx, check: impl FnOnce(&[&str], &mut Cx)) {
    let ids = cx.state.track_ids.clone();
    if !ids.is_empty() {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        check(&ids, cx);
    }
}

impl Decode<super::PolicyState> for Policy {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let policy_id = m.req("policyId", cx);
        let owners = m.req("owners", cx);
        let scope = m.req("scope", cx);
        let training_requirements = m.req("trainingRequirements", cx);
        // Decoded after the tracks, so references to tracks can be checked.
        let access_gating = m.req("accessGating", cx);
        let model_and_data_controls = m.req("modelAndDataControls", cx);
        let quality_and_safety = m.req("qualityAndSafety", cx);
        let logging_and_evidence = m.req("loggingAndEvidence", cx);
        let slo_targets = m.req("sloTargets", cx);
        let monitoring = m.req("monitoring", cx);
        let device_posture = m.opt("devicePosture", cx);
        m.finish(cx);
        Some(Self {
            policy_id: policy_id?,
            owners: owners?,
            scope: scope?,
            training_requirements: training_requirements?,
            access_gating: access_gating?,
            model_and_data_controls: model_and_data_controls?,
            quality_and_safety: quality_and_safety?,
            logging_and_evidence: logging_and_evidence?,
            slo_targets: slo_targets?,
            monitoring: monitoring?,
            device_posture: device_posture.ok()?.unwrap_or_default(),
        })
    }
}

impl Decode<super::PolicyState> for Owners {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let primary = m.req("primary", cx);
        let security = m.opt("security", cx);
        let legal = m.opt("legal", cx);
        m.finish(cx);
        Some(Self {
            primary: primary?,
            security: security.ok()?,
            legal: legal.ok()?,
        })
    }
}

impl Decode<super::PolicyState> for Scope {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let populations = m.req("populations", cx);
        let regions_allowed = m.req("regionsAllowed", cx);
        let tools = m.req("tools", cx);
        m.finish(cx);
        let value = Self {
            populations: populations?,
            regions_allowed: regions_allowed?,
            tools: tools?,
        };
        validate::scope(&value, cx);
        Some(value)
    }
}

impl Decode<super::PolicyState> for Tools {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let copilots = m.opt("copilots", cx);
        let automation_endpoints = m.opt("automationEndpoints", cx);
        m.finish(cx);
        Some(Self {
            copilots: copilots.ok()?.unwrap_or_default(),
            automation_endpoints: automation_endpoints.ok()?.unwrap_or_default(),
        })
    }
}

impl Decode<super::PolicyState> for ToolRef {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let fix = "write each tool as `- kind: name`, e.g. `- slack_app: support-copilot`";
        let YamlData::Mapping(map) = &node.data else {
            cx.error(
                location(node),
                path,
                "a tool must be a one-entry map `kind: name`",
                fix,
            );
            return None;
        };
        let mut entries = map.iter();
        match (entries.next(), entries.next()) {
            (Some((kind, name)), None) => {
                let kind: Option<String> = Decode::decode(kind, path, cx);
                let name: Option<String> = Decode::decode(name, path, cx);
                Some(Self {
                    kind: kind?,
                    name: name?,
                })
            }
            _ => {
                cx.error(
                    location(node),
                    path,
                    "a tool must be a one-entry map `kind: name`",
                    fix,
                );
                None
            }
        }
    }
}

impl Decode<super::PolicyState> for TrainingRequirements {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let lms_provider = m.req("lmsProvider", cx);
        let certification_tracks = m.req("certificationTracks", cx);
        m.finish(cx);
        let value = Self {
            lms_provider: lms_provider?,
            certification_tracks: certification_tracks?,
        };
        validate::tracks(&value.certification_tracks, cx);
        Some(value)
    }
}

impl Decode<super::PolicyState> for Track {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let id: Option<String> = m.req("id", cx);
        if let Some(id) = &id {
            cx.state.track_ids.push(id.clone());
        }
        let modules = m.req("modules", cx);
        let quiz = m.req("quiz", cx);
        let recertify_days = m.req("recertifyDays", cx);
        m.finish(cx);
        let value = Self {
            id: id?,
            modules: modules?,
            quiz: quiz?,
            recertify_days: recertify_days?,
        };
        validate::track(&value, path, cx);
        Some(value)
    }
}

impl Decode<super::PolicyState> for QuizRules {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let min_score_pct = m.req("minScorePct", cx);
        let attempts_allowed = m.req("attemptsAllowed", cx);
        let cooldown_minutes = m.opt("cooldownMinutes", cx);
        m.finish(cx);
        Some(Self {
            min_score_pct: min_score_pct?,
            attempts_allowed: attempts_allowed?,
            cooldown_minutes: cooldown_minutes.ok()?.unwrap_or(0),
        })
    }
}

impl Decode<super::PolicyState> for AccessGating {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let identity_provider = m.req("identityProvider", cx);
        let conditions = m.req("conditions", cx);
        let approvals = m.req("approvals", cx);
        m.finish(cx);
        let value = Self {
            identity_provider: identity_provider?,
            conditions: conditions?,
            approvals: approvals?,
        };
        validate::access_gating(&value, cx);
        Some(value)
    }
}

impl Decode<super::PolicyState> for IdentityProvider {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let kind = m
            .raw("type", cx)
            .map(|n| named(n, &join(path, "type"), cx, IdpKind::NAMES, IdpKind::parse));
        let group_mapping = m.req("groupMapping", cx);
        if kind.is_none() {
            cx.error(
                location(node),
                &join(path, "type"),
                "missing required field `type`",
                format!("add `type:` with one of {}", IdpKind::NAMES.join(", ")),
            );
        }
        m.finish(cx);
        let mut value = Self {
            kind: kind??,
            group_mapping: group_mapping?,
            groups_by_track: Default::default(),
        };
        with_track_ids(cx, |ids, cx| validate::group_mapping(&mut value, ids, cx));
        Some(value)
    }
}

impl Decode<super::PolicyState> for Condition {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let name: Option<String> = m.req("name", cx);
        let rule: Option<String> = m.req("rule", cx);
        m.finish(cx);
        let (name, rule) = (name?, rule?);
        match CompiledRule::new(&cx.state.env, &name, &rule) {
            Ok(compiled) => cx.state.rules.push(compiled),
            Err(e) => {
                let rule_path = join(path, "rule");
                let at = cx.position(&rule_path);
                cx.error(
                    at,
                    &rule_path,
                    format!(
                        "the CEL rule does not compile (column {} of the rule): {}",
                        e.column, e.message
                    ),
                    "correct the expression; rules may use user, device, trackId, request and now, \
                     and map.contains(key) or `key in map`",
                );
                return None;
            }
        }
        Some(Self { name, rule })
    }
}

impl Decode<super::PolicyState> for Approvals {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let exception_path = m.req("exceptionPath", cx);
        m.finish(cx);
        Some(Self {
            exception_path: exception_path?,
        })
    }
}

impl Decode<super::PolicyState> for ExceptionPath {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let allowed = m.req("allowed", cx);
        let max_duration_days = m.req("maxDurationDays", cx);
        let required_approvers = m.req("requiredApprovers", cx);
        let justification_fields = m.req("justificationFields", cx);
        m.finish(cx);
        Some(Self {
            allowed: allowed?,
            max_duration_days: max_duration_days?,
            required_approvers: required_approvers?,
            justification_fields: justification_fields?,
        })
    }
}

impl Decode<super::PolicyState> for Approver {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let role = m.req("role", cx);
        m.finish(cx);
        Some(Self { role: role? })
    }
}

impl Decode<super::PolicyState> for ModelAndDataControls {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let data_residency = m.req("dataResidency", cx);
        let dlp = m.req("dlp", cx);
        let retrieval_scopes = m.req("retrievalScopes", cx);
        m.finish(cx);
        Some(Self {
            data_residency: data_residency?,
            dlp: dlp?,
            retrieval_scopes: retrieval_scopes?,
        })
    }
}

impl Decode<super::PolicyState> for DataResidency {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let enforce_regional_routing = m.req("enforceRegionalRouting", cx);
        let block_cross_border = m.req("blockCrossBorder", cx);
        m.finish(cx);
        Some(Self {
            enforce_regional_routing: enforce_regional_routing?,
            block_cross_border: block_cross_border?,
        })
    }
}

impl Decode<super::PolicyState> for Dlp {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let pii_redaction = m.req("piiRedaction", cx);
        let block_patterns = m.req("blockPatterns", cx);
        let restricted_terms = m.opt("restrictedTerms", cx);
        m.finish(cx);
        Some(Self {
            pii_redaction: pii_redaction?,
            block_patterns: block_patterns?,
            restricted_terms: restricted_terms.ok()?.unwrap_or_default(),
        })
    }
}

impl Decode<super::PolicyState> for BlockPattern {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let type_path = join(path, "type");
        let kind = match m.raw("type", cx) {
            Some(n) => named(n, &type_path, cx, BlockKind::NAMES, BlockKind::parse),
            None => {
                cx.error(
                    location(node),
                    &type_path,
                    "missing required field `type`",
                    "add `type: secret` or `type: credential`",
                );
                None
            }
        };
        let description = m.req("description", cx);
        m.finish(cx);
        Some(Self {
            kind: kind?,
            description: description?,
        })
    }
}

impl Decode<super::PolicyState> for RetrievalScopes {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let default = m.req("default", cx);
        let per_track = m.opt("perTrack", cx);
        m.finish(cx);
        let value = Self {
            default: default?,
            per_track: per_track.ok()?.unwrap_or_default(),
        };
        with_track_ids(cx, |ids, cx| validate::retrieval_scopes(&value, ids, cx));
        Some(value)
    }
}

impl Decode<super::PolicyState> for QualityAndSafety {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let confidence_thresholds = m.req("confidenceThresholds", cx);
        let disallowed_actions = m.opt("disallowedActions", cx);
        m.finish(cx);
        Some(Self {
            confidence_thresholds: confidence_thresholds?,
            disallowed_actions: disallowed_actions.ok()?.unwrap_or_default(),
        })
    }
}

impl Decode<super::PolicyState> for ConfidenceThresholds {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let allow_auto_draft_above = m.req("allowAutoDraftAbove", cx);
        let require_human_approval_below = m.req("requireHumanApprovalBelow", cx);
        m.finish(cx);
        let value = Self {
            allow_auto_draft_above: allow_auto_draft_above?,
            require_human_approval_below: require_human_approval_below?,
        };
        validate::confidence_thresholds(&value, cx);
        Some(value)
    }
}

impl Decode<super::PolicyState> for LoggingAndEvidence {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let prompt_logging = m.req("promptLogging", cx);
        let retention_days = m.req("retentionDays", cx);
        let export = m.req("export", cx);
        m.finish(cx);
        let value = Self {
            prompt_logging: prompt_logging?,
            retention_days: retention_days?,
            export: export?,
        };
        validate::logging(&value, cx);
        Some(value)
    }
}

impl Decode<super::PolicyState> for PromptLogging {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let enabled = m.req("enabled", cx);
        let fields = m.req("fields", cx);
        m.finish(cx);
        Some(Self {
            enabled: enabled?,
            fields: fields?,
        })
    }
}

impl Decode<super::PolicyState> for LogField {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        named(node, path, cx, LogField::NAMES, LogField::parse)
    }
}

impl Decode<super::PolicyState> for Export {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let destination = m.req("destination", cx);
        let table = m.req("table", cx);
        m.finish(cx);
        Some(Self {
            destination: destination?,
            table: table?,
        })
    }
}

impl Decode<super::PolicyState> for SloTargets {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let access_provisioning = m.req("accessProvisioning", cx);
        let training_completion = m.req("trainingCompletion", cx);
        m.finish(cx);
        let value = Self {
            access_provisioning: access_provisioning?,
            training_completion: training_completion?,
        };
        validate::slo_targets(&value, cx);
        Some(value)
    }
}

impl Decode<super::PolicyState> for AccessProvisioning {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let hours = m.req("p95HoursFromCertToAccess", cx);
        m.finish(cx);
        Some(Self {
            p95_hours_from_cert_to_access: hours?,
        })
    }
}

impl Decode<super::PolicyState> for TrainingCompletion {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let pct = m.req("targetPctWithin48h", cx);
        m.finish(cx);
        Some(Self {
            target_pct_within48h: pct?,
        })
    }
}

impl Decode<super::PolicyState> for Monitoring {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let alerts = m.opt("alerts", cx);
        m.finish(cx);
        let value = Self {
            alerts: alerts.ok()?.unwrap_or_default(),
        };
        validate::monitoring(&value, cx);
        Some(value)
    }
}

impl Decode<super::PolicyState> for Alert {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let name = m.req("name", cx);
        let threshold = m.req("threshold", cx);
        let notify = m.req("notify", cx);
        m.finish(cx);
        Some(Self {
            name: name?,
            threshold: threshold?,
            notify: notify?,
        })
    }
}

impl Decode<super::PolicyState> for Threshold {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let text: String = Decode::decode(node, path, cx)?;
        match Threshold::parse(&text) {
            Ok(t) => Some(t),
            Err(why) => {
                cx.error(
                    location(node),
                    path,
                    format!("cannot read threshold {text:?}: {why}"),
                    "write it as `> COUNT WHAT/day`, optionally per user and with a filter, \
                     e.g. \"> 15 exceptions/day\" or \"> 25 events/user/day with confidenceScore < 0.6\"",
                );
                None
            }
        }
    }
}

impl Decode<super::PolicyState> for DevicePosture {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let defaults = Self::default();
        let mut m = MapReader::new(node, path, cx)?;
        let check_interval_minutes = m.opt("checkIntervalMinutes", cx);
        let max_age_minutes = m.opt("maxAgeMinutes", cx);
        let edr_allowlist = m.opt("edrAllowlist", cx);
        let mdm_markers = m.opt("mdmMarkers", cx);
        m.finish(cx);
        let value = Self {
            check_interval_minutes: check_interval_minutes
                .ok()?
                .unwrap_or(defaults.check_interval_minutes),
            max_age_minutes: max_age_minutes.ok()?.unwrap_or(defaults.max_age_minutes),
            edr_allowlist: edr_allowlist.ok()?.unwrap_or_default(),
            mdm_markers: mdm_markers.ok()?.unwrap_or_default(),
        };
        validate::device_posture(&value, cx);
        Some(value)
    }
}

impl Decode<super::PolicyState> for ProcessMarker {
    fn decode(node: &MarkedYaml<'_>, path: &str, cx: &mut Cx) -> Option<Self> {
        let mut m = MapReader::new(node, path, cx)?;
        let process = m.opt("process", cx);
        let path_prefix = m.opt("pathPrefix", cx);
        let file = m.opt("file", cx);
        let place = m.path().to_owned();
        m.finish(cx);
        let marker = Self {
            process: process.ok()?,
            path_prefix: path_prefix.ok()?,
            file: file.ok()?,
        };
        if marker.process.is_none() && marker.file.is_none() {
            cx.error(
                location(node),
                &place,
                "a marker needs `process` or `file`",
                "add `process: <name>` (optionally `pathPrefix:`) or `file: <path>`",
            );
            return None;
        }
        Some(marker)
    }
}
