//! One observed fact: `{ value, state, method, evidence[], collectedAt }`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a fact came out. `Unknown` never counts as ok.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FactState {
    /// Observed and compliant.
    #[serde(rename = "ok")]
    Ok,
    /// Observed and not compliant.
    #[serde(rename = "fail")]
    Fail,
    /// Could not be decided (no permission, tool missing, timed out, unrecognised layout).
    #[serde(rename = "unknown")]
    Unknown,
    /// Does not apply to this device.
    #[serde(rename = "n/a")]
    NotApplicable,
    /// On its way to ok (encryption in progress); not ok yet.
    #[serde(rename = "converting")]
    Converting,
}

impl FactState {
    /// Only `Ok` is ok.
    pub fn is_ok(self) -> bool {
        self == Self::Ok
    }

    /// The symbol the CLI table shows.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Ok => "✔",
            Self::Fail => "✘",
            Self::Unknown | Self::Converting => "?",
            Self::NotApplicable => "-",
        }
    }

    /// The wire name (`ok`, `fail`, `unknown`, `n/a`, `converting`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Fail => "fail",
            Self::Unknown => "unknown",
            Self::NotApplicable => "n/a",
            Self::Converting => "converting",
        }
    }
}

/// One fact with how it was decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fact<T> {
    /// What was observed; `None` when nothing could be read.
    pub value: Option<T>,
    /// The verdict.
    pub state: FactState,
    /// Where it came from, e.g. `sysfs`, `file:/etc/ufw/ufw.conf`, `command:nft`.
    pub method: String,
    /// In words, how it was decided. Never empty in a finished report.
    pub evidence: Vec<String>,
    /// When it was collected.
    pub collected_at: DateTime<Utc>,
}

impl<T> Fact<T> {
    /// A fact with a value.
    pub fn new(
        state: FactState,
        value: Option<T>,
        method: impl Into<String>,
        collected_at: DateTime<Utc>,
    ) -> Self {
        Self {
            value,
            state,
            method: method.into(),
            evidence: Vec::new(),
            collected_at,
        }
    }

    /// An undecided fact with one line of evidence.
    pub fn unknown(
        method: impl Into<String>,
        evidence: impl Into<String>,
        collected_at: DateTime<Utc>,
    ) -> Self {
        Self::new(FactState::Unknown, None, method, collected_at).with(evidence)
    }

    /// Adds one line of evidence.
    #[must_use]
    pub fn with(mut self, evidence: impl Into<String>) -> Self {
        self.evidence.push(evidence.into());
        self
    }

    /// Adds many lines of evidence.
    #[must_use]
    pub fn with_all(mut self, evidence: impl IntoIterator<Item = String>) -> Self {
        self.evidence.extend(evidence);
        self
    }

    /// True only when the state is ok.
    pub fn is_ok(&self) -> bool {
        self.state.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_serialise_to_their_wire_names() {
        let all = [
            (FactState::Ok, "\"ok\""),
            (FactState::Fail, "\"fail\""),
            (FactState::Unknown, "\"unknown\""),
            (FactState::NotApplicable, "\"n/a\""),
            (FactState::Converting, "\"converting\""),
        ];
        for (state, wire) in all {
            assert_eq!(serde_json::to_string(&state).unwrap(), wire);
            assert_eq!(state.as_str(), wire.trim_matches('"'));
            let back: FactState = serde_json::from_str(wire).unwrap();
            assert_eq!(back, state, "wire names must round-trip");
        }
    }

    #[test]
    fn only_ok_is_ok() {
        assert!(FactState::Ok.is_ok());
        for s in [
            FactState::Fail,
            FactState::Unknown,
            FactState::NotApplicable,
            FactState::Converting,
        ] {
            assert!(!s.is_ok(), "{s:?} must never count as ok");
        }
    }

    #[test]
    fn fact_serialises_camel_case() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let f = Fact::new(FactState::Ok, Some(true), "sysfs", at).with("because");
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["collectedAt"], "2023-11-14T22:13:20Z");
        assert_eq!(v["state"], "ok");
        assert_eq!(v["evidence"][0], "because");
        assert_eq!(v["value"], true);
    }
}
