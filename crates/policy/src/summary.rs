//! The short view of a policy that the app and `certgate policy check` show.

use serde::Serialize;

use crate::LoadedPolicy;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct PolicySummary {
    pub policy_id: String,
    pub sha256: String,
    /// `signed`, `demo` or `unsigned-dev`.
    pub trust: String,
    pub source: String,
    pub populations: Vec<String>,
    pub regions_allowed: Vec<String>,
    pub copilots: Vec<String>,
    pub automation_endpoints: Vec<String>,
    pub identity_provider: String,
    pub tracks: Vec<TrackSummary>,
    pub conditions: Vec<ConditionSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct TrackSummary {
    pub id: String,
    pub modules: Vec<String>,
    pub min_score_pct: f64,
    pub attempts_allowed: u32,
    pub recertify_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct ConditionSummary {
    pub name: String,
    pub rule: String,
}

impl LoadedPolicy {
    pub fn summary(&self) -> PolicySummary {
        let p = &self.policy;
        PolicySummary {
            policy_id: p.policy_id.clone(),
            sha256: self.sha256.clone(),
            trust: self.trust.label().to_owned(),
            source: self.source.clone(),
            populations: p.scope.populations.clone(),
            regions_allowed: p.scope.regions_allowed.clone(),
            copilots: p
                .scope
                .tools
                .copilots
                .iter()
                .map(ToString::to_string)
                .collect(),
            automation_endpoints: p
                .scope
                .tools
                .automation_endpoints
                .iter()
                .map(ToString::to_string)
                .collect(),
            identity_provider: p.access_gating.identity_provider.kind.as_str().to_owned(),
            tracks: p
                .training_requirements
                .certification_tracks
                .iter()
                .map(|t| TrackSummary {
                    id: t.id.clone(),
                    modules: t.modules.clone(),
                    min_score_pct: t.quiz.min_score_pct,
                    attempts_allowed: t.quiz.attempts_allowed,
                    recertify_days: t.recertify_days,
                })
                .collect(),
            conditions: p
                .access_gating
                .conditions
                .iter()
                .map(|c| ConditionSummary {
                    name: c.name.clone(),
                    rule: c.rule.clone(),
                })
                .collect(),
        }
    }
}
