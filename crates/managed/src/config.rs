//! The managed configuration: one shape every platform writes ([`ManagedFile`], serde with
//! unknown fields denied) and one validating parser ([`validate`]) that turns it into a
//! [`ManagedConfig`] or says exactly what is wrong, where, and how to fix it.
//!
//! The readers (TOML file, plist, registry) only fill a `ManagedFile`; no rule lives in them.

use serde::{Deserialize, Serialize};

use crate::error::{Invalid, Problem};
use crate::key::{OrgKeyPin, PinProblem};
use crate::server::ServerUrl;
use crate::source::{At, ManagedSource};

/// The setting names, as IT writes them (TOML keys, plist keys; registry value names match
/// them ignoring case, e.g. `ServerUrl`).
pub const FIELDS: [&str; 7] = [
    "serverUrl",
    "orgKey",
    "enrolmentMode",
    "proxyPort",
    "autostart",
    "usageTelemetry",
    "modelUpstreams",
];

/// Settings whose value is true/false (the registry writes them as DWORD 0/1).
pub(crate) const BOOL_FIELDS: [&str; 2] = ["autostart", "usageTelemetry"];

/// The lowest proxy port: the app runs as the user, who cannot bind below 1024.
pub const MIN_PROXY_PORT: i64 = 1024;

/// A value as a platform stored it, before the parser gives it a meaning.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Raw {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// Lists, tables, dates, data: nothing a managed setting can be.
    Other(serde::de::IgnoredAny),
}

impl Raw {
    fn kind(&self) -> &'static str {
        match self {
            Self::Bool(_) => "true/false",
            Self::Int(_) => "a whole number",
            Self::Float(_) => "a decimal number",
            Self::Text(_) => "text",
            Self::Other(_) => "a list, table, date or binary data",
        }
    }
}

/// A raw value and where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub value: Raw,
    pub(crate) at: At,
}

impl Located {
    pub(crate) fn new(value: Raw, at: At) -> Self {
        Self { value, at }
    }
}

/// The shape of a managed configuration on every platform. Unknown fields are an error: a
/// misspelt `proxyPrt` must not silently leave the port to the user.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedFile<V> {
    /// The org server devices enrol with (https; http only for loopback).
    pub server_url: Option<V>,
    /// The org's policy-signing public key (PEM) or its fingerprint (`sha256:<64 hex>`).
    pub org_key: Option<V>,
    /// `managed` (only `serverUrl`) or `open` (any server; the demo org allowed).
    pub enrolment_mode: Option<V>,
    /// The local proxy's port (1024–65535).
    pub proxy_port: Option<V>,
    /// Start Certgate at login.
    pub autostart: Option<V>,
    /// Send usage logs (which tools, decisions, finding types — never content) to the org server.
    pub usage_telemetry: Option<V>,
    pub model_upstreams: Option<V>,
}

impl<V> Default for ManagedFile<V> {
    fn default() -> Self {
        Self {
            server_url: None,
            org_key: None,
            enrolment_mode: None,
            proxy_port: None,
            autostart: None,
            usage_telemetry: None,
            model_upstreams: None,
        }
    }
}

impl<V> ManagedFile<V> {
    /// The slot for a field name (exact camelCase), for readers that build the file by name.
    pub(crate) fn slot(&mut self, field: &str) -> Option<&mut Option<V>> {
        Some(match field {
            "serverUrl" => &mut self.server_url,
            "orgKey" => &mut self.org_key,
            "enrolmentMode" => &mut self.enrolment_mode,
            "proxyPort" => &mut self.proxy_port,
            "autostart" => &mut self.autostart,
            "usageTelemetry" => &mut self.usage_telemetry,
            "modelUpstreams" => &mut self.model_upstreams,
            _ => return None,
        })
    }

    pub(crate) fn map<W>(self, f: impl Fn(V) -> W) -> ManagedFile<W> {
        ManagedFile {
            server_url: self.server_url.map(&f),
            org_key: self.org_key.map(&f),
            enrolment_mode: self.enrolment_mode.map(&f),
            proxy_port: self.proxy_port.map(&f),
            autostart: self.autostart.map(&f),
            usage_telemetry: self.usage_telemetry.map(&f),
            model_upstreams: self.model_upstreams.map(&f),
        }
    }
}

/// Who may a device enrol with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum EnrolmentMode {
    /// Only with the managed `serverUrl`; the demo org is off.
    Managed,
    /// With any server the user (or a link) names, and the demo org; an `orgKey` pin, if set,
    /// still has to match.
    Open,
}

impl EnrolmentMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Managed => "managed",
            Self::Open => "open",
        }
    }
}

/// A validated managed configuration: what the org set, and nothing it did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedConfig {
    pub server_url: Option<ServerUrl>,
    pub org_key: Option<OrgKeyPin>,
    /// As written; see [`ManagedConfig::mode`] for the effective one.
    pub enrolment_mode: Option<EnrolmentMode>,
    pub proxy_port: Option<u16>,
    pub autostart: Option<bool>,
    pub usage_telemetry: Option<bool>,
    /// The org's AI gateway per region the copilot proxy forwards to, in the order written.
    pub model_upstreams: Vec<ModelUpstream>,
}

/// Where the proxy sends a region's requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelUpstream {
    pub region: String,
    pub url: ServerUrl,
}

/// Parses `region=URL, region=URL` (one text value, so every platform's format can carry it).
pub fn parse_model_upstreams(text: &str) -> Result<Vec<ModelUpstream>, String> {
    let mut out: Vec<ModelUpstream> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((region, url)) = entry.split_once('=') else {
            return Err(format!("{entry:?} is not region=URL"));
        };
        let region = region.trim();
        if region.is_empty()
            || !region
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            return Err(format!("{region:?} is not a region name like eu-west-1"));
        }
        if out.iter().any(|u| u.region == region) {
            return Err(format!("region {region} is named twice"));
        }
        let url = ServerUrl::parse(url)
            .map_err(|e| format!("the URL for {region} is not usable: {e}"))?;
        out.push(ModelUpstream {
            region: region.to_owned(),
            url,
        });
    }
    if out.is_empty() {
        return Err("names no region".to_owned());
    }
    Ok(out)
}

impl ManagedConfig {
    /// The enrolment mode in force: as written, else `managed` when a server is set, else `open`.
    pub fn mode(&self) -> EnrolmentMode {
        match (self.enrolment_mode, &self.server_url) {
            (Some(mode), _) => mode,
            (None, Some(_)) => EnrolmentMode::Managed,
            (None, None) => EnrolmentMode::Open,
        }
    }

    /// Whether the org decided the mode (written, or implied by `serverUrl`).
    pub fn mode_is_set(&self) -> bool {
        self.enrolment_mode.is_some() || self.server_url.is_some()
    }
}

/// The one validating parser: every reader ends here.
pub fn validate(
    file: ManagedFile<Located>,
    source: &ManagedSource,
) -> Result<ManagedConfig, Invalid> {
    let mut problems = Vec::new();
    let mut problem = |at: &At, field: &str, message: String, fix: &str| {
        let (line, column) = at.line_col();
        problems.push(Problem {
            place: source.place(at),
            line,
            column,
            field: Some(field.to_owned()),
            message,
            fix: fix.to_owned(),
        });
    };

    let server_url = file.server_url.as_ref().and_then(|v| match &v.value {
        Raw::Text(t) => ServerUrl::parse(t)
            .map_err(|e| {
                problem(
                    &v.at,
                    "serverUrl",
                    format!("{t:?} is not usable: {e}"),
                    "write the org server's address, e.g. https://certgate.example.org",
                );
            })
            .ok(),
        other => {
            problem(
                &v.at,
                "serverUrl",
                format!("expected text, found {}", other.kind()),
                "write the address as text, e.g. \"https://certgate.example.org\"",
            );
            None
        }
    });

    let org_key = file.org_key.as_ref().and_then(|v| {
        let fix = "paste the org's public key PEM (the .pub.pem `certgate policy keygen` wrote) \
                   or its fingerprint from `certgate managed fingerprint FILE`";
        match &v.value {
            Raw::Text(t) => OrgKeyPin::parse(t)
                .map_err(|p| {
                    let message = match p {
                        PinProblem::NotAKey => {
                            "is neither a public key PEM nor a sha256: fingerprint"
                        }
                        PinProblem::BadPem => {
                            "is not an Ed25519 public key in PEM (-----BEGIN PUBLIC KEY-----)"
                        }
                        PinProblem::BadFingerprint => {
                            "is not a fingerprint: expected sha256: and 64 hex digits"
                        }
                    };
                    problem(&v.at, "orgKey", message.to_owned(), fix);
                })
                .ok(),
            other => {
                problem(
                    &v.at,
                    "orgKey",
                    format!("expected text, found {}", other.kind()),
                    fix,
                );
                None
            }
        }
    });

    let enrolment_mode = file.enrolment_mode.as_ref().and_then(|v| {
        let fix = "write \"managed\" (only serverUrl) or \"open\" (any server)";
        match &v.value {
            Raw::Text(t) if t == "managed" => Some(EnrolmentMode::Managed),
            Raw::Text(t) if t == "open" => Some(EnrolmentMode::Open),
            Raw::Text(t) => {
                problem(
                    &v.at,
                    "enrolmentMode",
                    format!("{t:?} is not an enrolment mode"),
                    fix,
                );
                None
            }
            other => {
                problem(
                    &v.at,
                    "enrolmentMode",
                    format!("expected text, found {}", other.kind()),
                    fix,
                );
                None
            }
        }
    });

    let proxy_port = file.proxy_port.as_ref().and_then(|v| {
        let fix = "write a port number from 1024 to 65535 (a number, not text; \
                   REG_DWORD in the registry, <integer> in a plist)";
        match &v.value {
            Raw::Int(n) => match u16::try_from(*n) {
                Ok(port) if i64::from(port) >= MIN_PROXY_PORT => Some(port),
                _ => {
                    problem(
                        &v.at,
                        "proxyPort",
                        format!("{n} is not a port from 1024 to 65535"),
                        fix,
                    );
                    None
                }
            },
            other => {
                problem(
                    &v.at,
                    "proxyPort",
                    format!("expected a whole number, found {}", other.kind()),
                    fix,
                );
                None
            }
        }
    });

    let mut flag = |slot: &Option<Located>, field: &str| {
        slot.as_ref().and_then(|v| match &v.value {
            Raw::Bool(b) => Some(*b),
            other => {
                problem(
                    &v.at,
                    field,
                    format!("expected true or false, found {}", other.kind()),
                    "write true or false (<true/> in a plist, REG_DWORD 1 or 0 in the registry)",
                );
                None
            }
        })
    };
    let autostart = flag(&file.autostart, "autostart");
    let usage_telemetry = flag(&file.usage_telemetry, "usageTelemetry");

    let model_upstreams = file.model_upstreams.as_ref().map_or_else(Vec::new, |v| {
        let fix = "write region=URL pairs separated by commas, e.g. \
                   \"eu-west-1=https://ai-gateway.example.org/eu\"";
        match &v.value {
            Raw::Text(t) => parse_model_upstreams(t).unwrap_or_else(|message| {
                problem(&v.at, "modelUpstreams", message, fix);
                Vec::new()
            }),
            other => {
                problem(
                    &v.at,
                    "modelUpstreams",
                    format!("expected text, found {}", other.kind()),
                    fix,
                );
                Vec::new()
            }
        }
    });

    match (enrolment_mode, &file.server_url, &file.enrolment_mode) {
        (Some(EnrolmentMode::Managed), None, Some(mode)) => problem(
            &mode.at,
            "enrolmentMode",
            "is managed, but no serverUrl says which server".to_owned(),
            "add serverUrl, or set enrolmentMode to \"open\"",
        ),
        (Some(EnrolmentMode::Open), Some(_), Some(mode)) => problem(
            &mode.at,
            "enrolmentMode",
            "is open, but serverUrl names one server; an open device may enrol anywhere, so \
             which should win is unclear"
                .to_owned(),
            "remove serverUrl, or set enrolmentMode to \"managed\"",
        ),
        _ => {}
    }

    if problems.is_empty() {
        Ok(ManagedConfig {
            server_url,
            org_key,
            enrolment_mode,
            proxy_port,
            autostart,
            usage_telemetry,
            model_upstreams,
        })
    } else {
        Err(Invalid {
            origin: source.clone(),
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> ManagedSource {
        ManagedSource::Toml {
            path: "/etc/certgate/managed.toml".into(),
        }
    }

    fn at(line: usize, value: Raw) -> Option<Located> {
        Some(Located::new(value, At::LineCol(line, 13)))
    }

    fn text(s: &str) -> Raw {
        Raw::Text(s.to_owned())
    }

    #[test]
    fn model_upstreams_are_region_url_pairs_with_the_server_url_rules() {
        let ups = parse_model_upstreams(
            " eu-west-1=https://gw.example.org/eu/ , us-east-1=http://127.0.0.1:9099",
        )
        .unwrap();
        assert_eq!(ups.len(), 2);
        assert_eq!(ups[0].region, "eu-west-1");
        assert_eq!(ups[0].url.as_str(), "https://gw.example.org/eu");
        assert_eq!(ups[1].url.as_str(), "http://127.0.0.1:9099");
        for (bad, why) in [
            ("eu-west-1", "not region=URL"),
            ("EU=https://gw.example.org", "not a region name"),
            ("eu-west-1=http://gw.example.org", "not usable"),
            ("a=https://x.example,a=https://y.example", "named twice"),
            (" , ", "names no region"),
        ] {
            let err = parse_model_upstreams(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let file = ManagedFile {
            model_upstreams: at(7, text("eu-west-1")),
            ..ManagedFile::default()
        };
        let invalid = validate(file, &source()).unwrap_err();
        assert_eq!(invalid.problems.len(), 1);
        let p = &invalid.problems[0];
        assert_eq!(p.field.as_deref(), Some("modelUpstreams"));
        assert_eq!(p.line, Some(7));
        assert!(p.fix.contains("region=URL"), "{}", p.fix);
    }

    #[test]
    fn a_full_configuration_validates() {
        let file = ManagedFile {
            server_url: at(1, text("https://certgate.example.org/")),
            org_key: at(2, text(&format!("sha256:{}", "ab".repeat(32)))),
            enrolment_mode: at(3, text("managed")),
            proxy_port: at(4, Raw::Int(8787)),
            autostart: at(5, Raw::Bool(true)),
            usage_telemetry: at(6, Raw::Bool(false)),
            model_upstreams: at(7, text("eu-west-1=https://ai-gateway.example.org/eu")),
        };
        let config = validate(file, &source()).unwrap();
        assert_eq!(config.model_upstreams.len(), 1);
        assert_eq!(
            config.server_url.as_ref().map(ServerUrl::as_str),
            Some("https://certgate.example.org")
        );
        assert_eq!(config.mode(), EnrolmentMode::Managed);
        assert_eq!(config.proxy_port, Some(8787));
        assert_eq!(config.autostart, Some(true));
        assert_eq!(config.usage_telemetry, Some(false));
    }

    #[test]
    fn an_empty_configuration_is_valid_and_leaves_everything_open() {
        let config = validate(ManagedFile::default(), &source()).unwrap();
        assert_eq!(config.mode(), EnrolmentMode::Open);
        assert!(!config.mode_is_set());
    }

    #[test]
    fn a_server_alone_implies_managed_enrolment() {
        let file = ManagedFile {
            server_url: at(1, text("https://certgate.example.org")),
            ..ManagedFile::default()
        };
        let config = validate(file, &source()).unwrap();
        assert_eq!(config.mode(), EnrolmentMode::Managed);
        assert!(config.mode_is_set());
    }

    #[test]
    fn every_problem_is_reported_with_place_field_and_fix() {
        let file = ManagedFile {
            server_url: at(1, text("http://certgate.example.org")),
            org_key: at(2, text("not a key")),
            enrolment_mode: at(3, text("strict")),
            proxy_port: at(4, text("8787")),
            autostart: at(5, Raw::Int(1)),
            usage_telemetry: at(6, Raw::Float(1.0)),
            model_upstreams: at(7, Raw::Int(1)),
        };
        let err = validate(file, &source()).unwrap_err();
        let fields: Vec<_> = err
            .problems
            .iter()
            .map(|p| p.field.as_deref().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "serverUrl",
                "orgKey",
                "enrolmentMode",
                "proxyPort",
                "autostart",
                "usageTelemetry",
                "modelUpstreams"
            ],
            "all seven are wrong and all seven are reported, in order"
        );
        let port = &err.problems[3];
        assert_eq!(port.place, "/etc/certgate/managed.toml:4:13");
        assert_eq!((port.line, port.column), (Some(4), Some(13)));
        assert!(port.message.contains("found text"), "{}", port.message);
        assert!(port.fix.contains("1024 to 65535"), "{}", port.fix);
        let shown = err.to_string();
        assert!(shown.starts_with("managed configuration is invalid: "));
        assert!(shown.ends_with("— enrolment is refused until IT fixes it"));
        assert!(shown.contains("plain http is only allowed for this machine"));
    }

    #[test]
    fn ports_outside_the_user_range_are_refused() {
        for n in [0, 80, 1023, 65536, -1] {
            let file = ManagedFile {
                proxy_port: at(1, Raw::Int(n)),
                ..ManagedFile::default()
            };
            assert!(validate(file, &source()).is_err(), "port {n}");
        }
        for n in [1024, 8787, 65535] {
            let file = ManagedFile {
                proxy_port: at(1, Raw::Int(n)),
                ..ManagedFile::default()
            };
            assert!(validate(file, &source()).is_ok(), "port {n}");
        }
    }

    #[test]
    fn contradictory_enrolment_settings_are_refused_not_guessed() {
        let managed_without_server = ManagedFile {
            enrolment_mode: at(1, text("managed")),
            ..ManagedFile::default()
        };
        let err = validate(managed_without_server, &source()).unwrap_err();
        assert!(err.problems[0].message.contains("no serverUrl"));

        let open_with_server = ManagedFile {
            server_url: at(1, text("https://certgate.example.org")),
            enrolment_mode: at(2, text("open")),
            ..ManagedFile::default()
        };
        let err = validate(open_with_server, &source()).unwrap_err();
        assert_eq!(
            err.problems[0].line,
            Some(2),
            "the problem is on the mode line"
        );
    }
}
