//! Linux: `/etc/certgate/managed.toml`, written by the org's device management (Fleet, Intune
//! for Linux, a config-management tool). A thin reader: TOML with positions → [`validate`].

use crate::config::{Located, ManagedConfig, ManagedFile, Raw, validate};
use crate::error::{Invalid, Problem};
use crate::source::{At, ManagedSource, line_col};

/// Parses and validates a managed TOML text. `source` names the file in messages.
pub fn parse_toml(text: &str, source: &ManagedSource) -> Result<ManagedConfig, Invalid> {
    let file: ManagedFile<toml::Spanned<Raw>> =
        toml::from_str(text).map_err(|e| syntax_problem(text, source, &e))?;
    let located = file.map(|spanned| {
        let (line, column) = line_col(text, spanned.span().start);
        Located::new(spanned.into_inner(), At::LineCol(line, column))
    });
    validate(located, source)
}

fn syntax_problem(text: &str, source: &ManagedSource, e: &toml::de::Error) -> Invalid {
    let at = e
        .span()
        .map(|span| {
            let (l, c) = line_col(text, span.start);
            At::LineCol(l, c)
        })
        .unwrap_or_default();
    let message = e.message().trim().to_owned();
    let (field, fix) = match unknown_field(&message) {
        Some(name) => {
            let fix = match crate::suggest(&name) {
                Some(known) => format!("did you mean {known}? Otherwise remove {name}"),
                None => format!(
                    "remove {name}; the settings are {}",
                    crate::config::FIELDS.join(", ")
                ),
            };
            (Some(name), fix)
        }
        None => (
            None,
            "write valid TOML: one `name = value` per line, text in double quotes".to_owned(),
        ),
    };
    let (line, column) = at.line_col();
    Invalid {
        origin: source.clone(),
        problems: vec![Problem {
            place: source.place(&at),
            line,
            column,
            field,
            message,
            fix,
        }],
    }
}

/// The field serde's "unknown field `x`, expected …" message names.
pub(crate) fn unknown_field(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("unknown field `")?;
    let end = rest.find('`')?;
    rest.get(..end).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnrolmentMode;
    use crate::source::LINUX_PATH;

    fn source() -> ManagedSource {
        ManagedSource::Toml {
            path: std::path::Path::new("/").join(LINUX_PATH),
        }
    }

    #[test]
    fn the_sample_file_validates() {
        let text = include_str!("../testdata/managed.toml");
        let config = parse_toml(text, &source()).unwrap();
        assert_eq!(
            config.server_url.as_ref().unwrap().as_str(),
            "https://certgate.example.org"
        );
        assert_eq!(config.mode(), EnrolmentMode::Managed);
        assert_eq!(config.proxy_port, Some(8787));
        assert_eq!(config.autostart, Some(true));
        assert_eq!(config.usage_telemetry, Some(true));
        assert!(config.org_key.unwrap().fingerprint().starts_with("sha256:"));
    }

    #[test]
    fn value_errors_point_at_the_line_and_column() {
        let text = "serverUrl = \"https://certgate.example.org\"\nproxyPort = \"8787\"\n";
        let err = parse_toml(text, &source()).unwrap_err();
        let p = &err.problems[0];
        assert_eq!(p.place, "/etc/certgate/managed.toml:2:13");
        assert_eq!(p.field.as_deref(), Some("proxyPort"));
    }

    #[test]
    fn a_misspelt_setting_is_named_with_a_suggestion() {
        let text = "serverUrl = \"https://certgate.example.org\"\nproxyPrt = 8787\n";
        let err = parse_toml(text, &source()).unwrap_err();
        let p = &err.problems[0];
        assert_eq!(p.field.as_deref(), Some("proxyPrt"));
        assert_eq!(p.line, Some(2), "{p:?}");
        assert!(p.fix.contains("did you mean proxyPort"), "{}", p.fix);
    }

    #[test]
    fn broken_toml_says_where() {
        let err = parse_toml("serverUrl = \"https://x\n", &source()).unwrap_err();
        assert_eq!(err.problems[0].line, Some(1));
        assert!(err.problems[0].field.is_none());
    }

    proptest::proptest! {
        #[test]
        fn no_toml_text_panics(text in "\\PC*") {
            let _ = parse_toml(&text, &source());
        }

        #[test]
        fn no_setting_value_panics(key in "(serverUrl|orgKey|enrolmentMode|proxyPort|autostart|usageTelemetry)", value in "\\PC{0,40}") {
            let _ = parse_toml(&format!("{key} = {value}\n"), &source());
            let _ = parse_toml(&format!("{key} = \"{}\"\n", value.replace(['"', '\\'], "")), &source());
        }
    }

    #[test]
    fn the_invalid_sample_reports_each_problem() {
        let text = include_str!("../testdata/invalid.toml");
        let err = parse_toml(text, &source()).unwrap_err();
        let fields: Vec<_> = err
            .problems
            .iter()
            .filter_map(|p| p.field.clone())
            .collect();
        assert_eq!(fields, ["serverUrl", "proxyPort", "autostart"]);
    }
}
