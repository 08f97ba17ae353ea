//! macOS: `/Library/Managed Preferences/io.certgate.desktop.plist`, which macOS writes from a
//! configuration profile (Jamf "Application & Custom Settings", Intune "Preference file",
//! Fleet custom profile) whose payload domain is the app's bundle id. XML or binary: the
//! `plist` crate reads both. A thin reader: plist → [`validate`].

use crate::config::{Located, ManagedConfig, ManagedFile, Raw, validate};
use crate::error::{Invalid, Problem};
use crate::source::{At, ManagedSource};
use crate::toml_file::unknown_field;

/// Parses and validates a managed preferences plist (XML or binary).
pub fn parse_plist(bytes: &[u8], source: &ManagedSource) -> Result<ManagedConfig, Invalid> {
    let file: ManagedFile<Raw> = plist::from_bytes(bytes).map_err(|e| {
        let field = unknown_field(&e.to_string());
        let message = match &field {
            Some(_) => "is not a Certgate setting".to_owned(),
            None => format!("is not a property list of settings: {e}"),
        };
        let fix = match &field {
            Some(name) => match crate::suggest(name) {
                Some(known) => format!("did you mean {known}? Otherwise remove the key {name}"),
                None => format!(
                    "remove the key {name}; the keys are {}",
                    crate::config::FIELDS.join(", ")
                ),
            },
            None => "push a property list whose top level is a dictionary of the settings \
                     (the profile's preference domain must be io.certgate.desktop)"
                .to_owned(),
        };
        Invalid {
            origin: source.clone(),
            problems: vec![Problem {
                place: source.place(&At::Whole),
                line: None,
                column: None,
                field,
                message,
                fix,
            }],
        }
    })?;
    validate(file.map(|v| Located::new(v, At::Whole)), source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnrolmentMode;

    fn source() -> ManagedSource {
        ManagedSource::Plist {
            path: "/Library/Managed Preferences/io.certgate.desktop.plist".into(),
        }
    }

    fn demo_fingerprint() -> &'static str {
        include_str!("../testdata/demo-key.fingerprint").trim()
    }

    #[test]
    fn the_xml_sample_validates() {
        let config = parse_plist(
            include_bytes!("../testdata/io.certgate.desktop.xml.plist"),
            &source(),
        )
        .unwrap();
        assert_eq!(
            config.server_url.as_ref().unwrap().as_str(),
            "https://certgate.example.org"
        );
        assert_eq!(config.mode(), EnrolmentMode::Managed);
        assert_eq!(config.org_key.unwrap().fingerprint(), demo_fingerprint());
        assert_eq!(config.proxy_port, Some(8787));
        assert_eq!(config.autostart, Some(false));
        assert_eq!(config.usage_telemetry, Some(true));
    }

    #[test]
    fn the_binary_sample_reads_the_same_as_the_xml_one() {
        let xml = parse_plist(
            include_bytes!("../testdata/io.certgate.desktop.xml.plist"),
            &source(),
        )
        .unwrap();
        let binary = include_bytes!("../testdata/io.certgate.desktop.binary.plist");
        assert!(
            binary.starts_with(b"bplist00"),
            "the fixture is a binary plist"
        );
        assert_eq!(parse_plist(binary, &source()).unwrap(), xml);
    }

    #[test]
    fn an_unknown_key_is_named_with_a_suggestion() {
        let err =
            parse_plist(include_bytes!("../testdata/unknown-key.plist"), &source()).unwrap_err();
        let p = &err.problems[0];
        assert_eq!(p.field.as_deref(), Some("ServerURL"));
        assert!(p.fix.contains("did you mean serverUrl"), "{}", p.fix);
        assert_eq!(
            p.place,
            "/Library/Managed Preferences/io.certgate.desktop.plist"
        );
    }

    #[test]
    fn a_wrong_type_is_reported_for_its_key() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict><key>proxyPort</key><string>8787</string></dict></plist>"#;
        let err = parse_plist(xml, &source()).unwrap_err();
        assert_eq!(err.problems[0].field.as_deref(), Some("proxyPort"));
        assert!(err.problems[0].message.contains("found text"));
    }

    proptest::proptest! {
        #[test]
        fn no_bytes_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse_plist(&bytes, &source());
        }

        #[test]
        fn no_mutated_sample_panics(at in 0usize..250, byte in proptest::num::u8::ANY) {
            let mut bytes = include_bytes!("../testdata/io.certgate.desktop.binary.plist").to_vec();
            let i = at % bytes.len();
            bytes[i] = byte;
            let _ = parse_plist(&bytes, &source());
        }
    }

    #[test]
    fn garbage_is_invalid_not_a_panic() {
        assert!(parse_plist(b"", &source()).is_err());
        assert!(parse_plist(b"bplist00\xff\xff", &source()).is_err());
        assert!(parse_plist(b"<plist><array/></plist>", &source()).is_err());
    }
}
