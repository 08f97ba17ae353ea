//! What the policy tells the posture engine (allowlists, markers, thresholds).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Matches a running process by name and, optionally, where its binary lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProcessMatcher {
    /// Process name, compared case-insensitively (`falcon-sensor`).
    pub name: String,
    /// Required prefix of the executable path (`/opt/CrowdStrike/`); a process whose path
    /// cannot be read does not match when this is set, so a renamed copy elsewhere is refused.
    #[serde(default)]
    pub path_prefix: Option<String>,
}

/// A sign that an MDM agent manages the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum Marker {
    /// A running process.
    Process(ProcessMatcher),
    /// A file that exists (absolute path on the device).
    File(String),
}

/// Settings for a posture check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PostureConfig {
    /// EDR / antivirus agents that count; empty means the policy does not ask (fact is n/a).
    pub edr_allowlist: Vec<ProcessMatcher>,
    /// MDM agent markers for platforms without OS-level enrolment (Linux).
    pub mdm_markers: Vec<Marker>,
    /// Run optional external commands (`nft`, `gsettings`, `zfs`); off in `--sysroot` mode.
    pub allow_subprocess: bool,
    /// Timeout for each external command, in milliseconds.
    pub command_timeout_ms: u64,
    /// Longest idle time before lock that still counts as ok, in seconds.
    pub max_idle_seconds: u32,
    /// Most days since the last update that still count as ok.
    pub max_update_age_days: u32,
    /// When true, a LUKS volume whose cipher cannot be read (no root) is `unknown` rather
    /// than ok; the default trusts the dm uuid and says so in the evidence.
    pub require_cipher_verification: bool,
    /// Salt mixed into the machine-id hash so the raw id never leaves the device.
    pub identity_salt: String,
}

impl Default for PostureConfig {
    fn default() -> Self {
        Self {
            edr_allowlist: Vec::new(),
            mdm_markers: Vec::new(),
            allow_subprocess: true,
            command_timeout_ms: 2_000,
            max_idle_seconds: 900,
            max_update_age_days: 30,
            require_cipher_verification: false,
            identity_salt: "certgate-device-id-v1".to_owned(),
        }
    }
}

impl PostureConfig {
    /// The settings the org policy's `devicePosture` section asks for, with defaults for the
    /// rest. The one mapping from policy to posture engine: the CLI and the app both use it.
    pub fn from_policy(settings: &certgate_policy::model::DevicePosture) -> Self {
        let matcher = |process: &String, prefix: &Option<String>| ProcessMatcher {
            name: process.clone(),
            path_prefix: prefix.clone(),
        };
        Self {
            edr_allowlist: settings
                .edr_allowlist
                .iter()
                .filter_map(|m| m.process.as_ref().map(|p| matcher(p, &m.path_prefix)))
                .collect(),
            mdm_markers: settings
                .mdm_markers
                .iter()
                .flat_map(|m| {
                    let process = m
                        .process
                        .as_ref()
                        .map(|p| Marker::Process(matcher(p, &m.path_prefix)));
                    process.into_iter().chain(m.file.clone().map(Marker::File))
                })
                .collect(),
            ..Self::default()
        }
    }

    /// The per-command timeout.
    pub fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.command_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_markers_become_posture_matchers() {
        use certgate_policy::model::{DevicePosture, ProcessMarker};
        let marker =
            |process: Option<&str>, prefix: Option<&str>, file: Option<&str>| ProcessMarker {
                process: process.map(Into::into),
                path_prefix: prefix.map(Into::into),
                file: file.map(Into::into),
            };
        let settings = DevicePosture {
            edr_allowlist: vec![marker(
                Some("falcon-sensor"),
                Some("/opt/CrowdStrike/"),
                None,
            )],
            mdm_markers: vec![
                marker(None, None, Some("/etc/intune/agent.conf")),
                marker(Some("intune-agent"), None, None),
            ],
            ..DevicePosture::default()
        };
        let config = PostureConfig::from_policy(&settings);
        assert_eq!(config.edr_allowlist[0].name, "falcon-sensor");
        assert_eq!(
            config.edr_allowlist[0].path_prefix.as_deref(),
            Some("/opt/CrowdStrike/")
        );
        assert_eq!(config.mdm_markers.len(), 2);
        assert!(matches!(&config.mdm_markers[0], Marker::File(f) if f == "/etc/intune/agent.conf"));
        assert!(matches!(&config.mdm_markers[1], Marker::Process(m) if m.name == "intune-agent"));
        assert!(
            config.allow_subprocess,
            "defaults fill what the policy does not say"
        );
    }

    #[test]
    fn config_rejects_unknown_fields() {
        let err = serde_json::from_str::<PostureConfig>(r#"{"edrAllowList": []}"#);
        assert!(err.is_err(), "a misspelt key must not be silently ignored");
    }

    #[test]
    fn config_reads_markers() {
        let c: PostureConfig = serde_json::from_str(
            r#"{"edrAllowlist":[{"name":"falcon-sensor","pathPrefix":"/opt/CrowdStrike/"}],
                "mdmMarkers":[{"file":"/etc/intune/agent.conf"},{"process":{"name":"intune-agent"}}]}"#,
        )
        .unwrap();
        assert_eq!(c.edr_allowlist.len(), 1);
        assert_eq!(c.mdm_markers.len(), 2);
        assert!(c.allow_subprocess, "defaults fill the rest");
    }
}
