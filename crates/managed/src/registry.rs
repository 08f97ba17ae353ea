//! Windows: the values under `HKLM\Software\Policies\Certgate` (Intune OMA-URI / ADMX,
//! Group Policy, a Fleet script). [`from_registry`] is the pure mapping from registry
//! name/type/value to the one parser; [`parse_reg_export`] reads a `.reg` export (what
//! `reg export` writes, and what IT can check with `certgate managed check` on any OS);
//! [`read_registry`] is the thin live reader, which runs `reg export` and parses its file.

use std::process::Command;

use crate::config::{BOOL_FIELDS, FIELDS, Located, ManagedConfig, ManagedFile, Raw, validate};
use crate::error::{Invalid, Problem};
use crate::source::{At, ManagedSource, REGISTRY_KEY};

/// One registry value's data, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegValue {
    /// REG_SZ.
    Sz(String),
    /// REG_EXPAND_SZ (variables are not expanded: no setting needs them).
    ExpandSz(String),
    /// REG_MULTI_SZ: a PEM key can be written one line per string.
    MultiSz(Vec<String>),
    /// REG_DWORD; booleans are DWORD 0/1, as in every Windows policy.
    Dword(u32),
    /// REG_QWORD.
    Qword(u64),
    /// REG_BINARY or any other type: nothing a setting can be.
    Binary(Vec<u8>),
}

impl RegValue {
    fn type_name(&self) -> &'static str {
        match self {
            Self::Sz(_) => "REG_SZ",
            Self::ExpandSz(_) => "REG_EXPAND_SZ",
            Self::MultiSz(_) => "REG_MULTI_SZ",
            Self::Dword(_) => "REG_DWORD",
            Self::Qword(_) => "REG_QWORD",
            Self::Binary(_) => "REG_BINARY",
        }
    }
}

/// A named value under the policy key (`line` when it came from a `.reg` file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegEntry {
    pub name: String,
    pub value: RegValue,
    pub line: Option<usize>,
}

/// The pure mapping: registry values → the managed configuration. Names match the settings
/// ignoring case (`ProxyPort` is `proxyPort`); an unknown name is an error, as in every other
/// format.
pub fn from_registry(
    entries: &[RegEntry],
    source: &ManagedSource,
) -> Result<ManagedConfig, Invalid> {
    let mut file: ManagedFile<Located> = ManagedFile::default();
    let mut problems = Vec::new();
    for entry in entries {
        let at = match (source, entry.line) {
            (ManagedSource::Registry { .. }, _) | (_, None) => At::Value(entry.name.clone()),
            (_, Some(line)) => At::LineCol(line, 1),
        };
        let mut problem = |message: String, fix: String| {
            let (line, column) = at.line_col();
            problems.push(Problem {
                place: source.place(&at),
                line,
                column,
                field: Some(entry.name.clone()),
                message,
                fix,
            });
        };
        let Some(field) = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(&entry.name)) else {
            let fix = match crate::suggest(&entry.name) {
                Some(known) => format!("did you mean {known}? Otherwise delete the value"),
                None => format!("delete the value; the settings are {}", FIELDS.join(", ")),
            };
            problem("is not a Certgate setting".to_owned(), fix);
            continue;
        };
        let raw = match &entry.value {
            RegValue::Sz(s) | RegValue::ExpandSz(s) => Raw::Text(s.clone()),
            RegValue::MultiSz(lines) => Raw::Text(lines.join("\n")),
            RegValue::Dword(n) if BOOL_FIELDS.contains(field) && *n <= 1 => Raw::Bool(*n == 1),
            RegValue::Dword(n) => Raw::Int(i64::from(*n)),
            RegValue::Qword(n) => {
                i64::try_from(*n).map_or(Raw::Other(serde::de::IgnoredAny), Raw::Int)
            }
            RegValue::Binary(_) => Raw::Other(serde::de::IgnoredAny),
        };
        let Some(slot) = file.slot(field) else {
            continue;
        };
        if slot.is_some() {
            problem(
                format!("{field} is set twice (registry names ignore case)"),
                "keep one of the two values".to_owned(),
            );
            continue;
        }
        if matches!(raw, Raw::Other(_)) {
            problem(
                format!("{} cannot hold a setting", entry.value.type_name()),
                "use REG_SZ for text and REG_DWORD for numbers and 0/1 switches".to_owned(),
            );
            continue;
        }
        *slot = Some(Located::new(raw, at.clone()));
    }
    let validated = validate(file, source);
    match validated {
        Ok(config) if problems.is_empty() => Ok(config),
        Ok(_) => Err(Invalid {
            origin: source.clone(),
            problems,
        }),
        Err(mut invalid) => {
            problems.append(&mut invalid.problems);
            invalid.problems = problems;
            Err(invalid)
        }
    }
}

/// Reads a `.reg` export (UTF-16LE as `reg export` writes it, or UTF-8) and maps the values
/// under `HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Certgate`.
pub fn parse_reg_export(bytes: &[u8], source: &ManagedSource) -> Result<ManagedConfig, Invalid> {
    let whole = |message: String, fix: &str| Invalid {
        origin: source.clone(),
        problems: vec![Problem {
            place: source.place(&At::Whole),
            line: None,
            column: None,
            field: None,
            message,
            fix: fix.to_owned(),
        }],
    };
    let text = decode(bytes).ok_or_else(|| {
        whole(
            "is neither UTF-16 nor UTF-8 text".to_owned(),
            "export the key again with `reg export`",
        )
    })?;
    let entries = parse_reg_text(&text).map_err(|(line, message)| Invalid {
        origin: source.clone(),
        problems: vec![Problem {
            place: source.place(&At::LineCol(line, 1)),
            line: Some(line),
            column: Some(1),
            field: None,
            message,
            fix: "export the key again with `reg export HKLM\\Software\\Policies\\Certgate FILE`"
                .to_owned(),
        }],
    })?;
    match entries {
        Some(entries) => from_registry(&entries, source),
        None => Err(whole(
            "has no [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Certgate] key".to_owned(),
            "export that key, or push the values to it",
        )),
    }
}

/// Runs `reg export` on the policy key (64-bit view) and parses what it wrote. `None` when the
/// key does not exist: the device is not managed.
pub fn read_registry() -> Option<Result<ManagedConfig, Invalid>> {
    let source = ManagedSource::Registry {
        key: REGISTRY_KEY.to_owned(),
    };
    let failed = |message: String| {
        Some(Err(Invalid {
            origin: source.clone(),
            problems: vec![Problem {
                place: REGISTRY_KEY.to_owned(),
                line: None,
                column: None,
                field: None,
                message,
                fix: "check that reg.exe runs for this user and the key is readable".to_owned(),
            }],
        }))
    };
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return failed(format!("cannot make a temporary folder: {e}")),
    };
    let out = dir.path().join("certgate-policy.reg");
    let status = Command::new("reg")
        .args(["export", REGISTRY_KEY])
        .arg(&out)
        .args(["/y", "/reg:64"])
        .output();
    match status {
        Err(e) => failed(format!("cannot run reg.exe: {e}")),
        // reg.exe exits 1 both for "no such key" and other failures; no file means no key.
        Ok(o) if !o.status.success() && !out.exists() => None,
        Ok(_) => match std::fs::read(&out) {
            Ok(bytes) => Some(parse_reg_export(&bytes, &source)),
            Err(e) => failed(format!("cannot read what reg export wrote: {e}")),
        },
    }
}

/// The policy key's section names, in the spellings `.reg` files use.
fn is_policy_key(name: &str) -> bool {
    let name = name.trim();
    let rest = name
        .get(..19)
        .filter(|p| p.eq_ignore_ascii_case("HKEY_LOCAL_MACHINE\\"))
        .and_then(|_| name.get(19..))
        .or_else(|| {
            name.get(..5)
                .filter(|p| p.eq_ignore_ascii_case("HKLM\\"))
                .and_then(|_| name.get(5..))
        });
    rest.is_some_and(|r| r.eq_ignore_ascii_case("SOFTWARE\\Policies\\Certgate"))
}

fn decode(bytes: &[u8]) -> Option<String> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if !rest.len().is_multiple_of(2) {
            return None;
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16(&units).ok();
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    String::from_utf8(bytes.to_vec()).ok()
}

type LineError = (usize, String);

/// The values under the policy key, or `None` when the file has no such key.
fn parse_reg_text(text: &str) -> Result<Option<Vec<RegEntry>>, LineError> {
    let mut lines = logical_lines(text).into_iter();
    let header = lines.by_ref().find(|(_, l)| !l.trim().is_empty());
    match header {
        Some((_, h))
            if h.trim() == "Windows Registry Editor Version 5.00" || h.trim() == "REGEDIT4" => {}
        Some((n, _)) => {
            return Err((
                n,
                "does not start with \"Windows Registry Editor Version 5.00\"".to_owned(),
            ));
        }
        None => return Err((1, "is empty".to_owned())),
    }
    let mut in_key = false;
    let mut found = false;
    let mut entries = Vec::new();
    for (n, line) in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            let Some(name) = section.strip_suffix(']') else {
                return Err((n, "a [key] line has no closing ]".to_owned()));
            };
            in_key = !name.starts_with('-') && is_policy_key(name);
            found |= in_key;
            continue;
        }
        if !in_key {
            continue;
        }
        if line.starts_with('@') {
            return Err((n, "the key's default value (@) is not a setting".to_owned()));
        }
        let (name, data) = split_value(line).ok_or((n, "expected \"Name\"=data".to_owned()))?;
        if data == "-" {
            continue;
        }
        let value = parse_data(data).map_err(|m| (n, format!("value {name:?}: {m}")))?;
        entries.push(RegEntry {
            name,
            value,
            line: Some(n),
        });
    }
    Ok(found.then_some(entries))
}

/// Lines with `\` continuations joined, each with the number of its first line.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let piece = if open { line.trim_start() } else { line };
        let (piece, continues) = match piece.strip_suffix('\\') {
            Some(p) => (p, true),
            None => (piece, false),
        };
        match out.last_mut() {
            Some((_, last)) if open => last.push_str(piece),
            _ => out.push((i + 1, piece.to_owned())),
        }
        open = continues;
    }
    out
}

/// `"Name"=data` → (name, data), unescaping `\\` and `\"` in the name.
fn split_value(line: &str) -> Option<(String, &str)> {
    let rest = line.strip_prefix('"')?;
    let mut name = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => name.push(chars.next()?.1),
            '"' => {
                let data = rest.get(i + 1..)?.trim_start().strip_prefix('=')?;
                return Some((name, data.trim()));
            }
            c => name.push(c),
        }
    }
    None
}

fn parse_data(data: &str) -> Result<RegValue, String> {
    if let Some(quoted) = data.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = quoted.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next().ok_or("a string ends with \\")?),
                '"' => {
                    return if chars.as_str().trim().is_empty() {
                        Ok(RegValue::Sz(out))
                    } else {
                        Err("text after the closing quote".to_owned())
                    };
                }
                c => out.push(c),
            }
        }
        return Err("a string has no closing quote".to_owned());
    }
    if let Some(hex) = data.strip_prefix("dword:") {
        if hex.is_empty() || hex.len() > 8 {
            return Err("dword: needs 1 to 8 hex digits".to_owned());
        }
        return u32::from_str_radix(hex, 16)
            .map(RegValue::Dword)
            .map_err(|_| "dword: needs hex digits".to_owned());
    }
    let (kind, bytes) = if let Some(b) = data.strip_prefix("hex:") {
        (3, b)
    } else if let Some(rest) = data.strip_prefix("hex(") {
        let (kind, b) = rest.split_once("):").ok_or("expected hex(N):")?;
        let kind = u32::from_str_radix(kind, 16).map_err(|_| "hex(N): N is not hex")?;
        (kind, b)
    } else {
        return Err("unknown data type (expected \"text\", dword:, hex:)".to_owned());
    };
    let bytes = hex_bytes(bytes)?;
    Ok(match kind {
        1 => RegValue::Sz(
            utf16_strings(&bytes)?
                .into_iter()
                .next()
                .unwrap_or_default(),
        ),
        2 => RegValue::ExpandSz(
            utf16_strings(&bytes)?
                .into_iter()
                .next()
                .unwrap_or_default(),
        ),
        4 => RegValue::Dword(u32::from_le_bytes(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| "a DWORD is 4 bytes")?,
        )),
        7 => RegValue::MultiSz(utf16_strings(&bytes)?),
        0xb => RegValue::Qword(u64::from_le_bytes(
            bytes
                .as_slice()
                .try_into()
                .map_err(|_| "a QWORD is 8 bytes")?,
        )),
        _ => RegValue::Binary(bytes),
    })
}

fn hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| u8::from_str_radix(b, 16).map_err(|_| format!("{b:?} is not a hex byte")))
        .collect()
}

/// NUL-separated UTF-16LE strings, up to the terminating empty one.
fn utf16_strings(bytes: &[u8]) -> Result<Vec<String>, String> {
    if !bytes.len().is_multiple_of(2) {
        return Err("UTF-16 data has an odd number of bytes".to_owned());
    }
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let mut out = Vec::new();
    for part in units.split(|u| *u == 0) {
        if part.is_empty() {
            break;
        }
        out.push(String::from_utf16(part).map_err(|_| "invalid UTF-16 text".to_owned())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnrolmentMode;

    fn registry() -> ManagedSource {
        ManagedSource::Registry {
            key: REGISTRY_KEY.to_owned(),
        }
    }

    fn entry(name: &str, value: RegValue) -> RegEntry {
        RegEntry {
            name: name.to_owned(),
            value,
            line: None,
        }
    }

    #[test]
    fn names_ignore_case_and_dwords_are_switches_or_numbers() {
        let config = from_registry(
            &[
                entry(
                    "ServerUrl",
                    RegValue::Sz("https://certgate.example.org".into()),
                ),
                entry("ProxyPort", RegValue::Dword(8787)),
                entry("Autostart", RegValue::Dword(1)),
                entry("UsageTelemetry", RegValue::Dword(0)),
            ],
            &registry(),
        )
        .unwrap();
        assert_eq!(config.mode(), EnrolmentMode::Managed);
        assert_eq!(config.proxy_port, Some(8787));
        assert_eq!(config.autostart, Some(true));
        assert_eq!(config.usage_telemetry, Some(false));
    }

    #[test]
    fn a_pem_in_a_multi_string_is_a_key() {
        let pem = include_str!("../../../examples/keys/DEMO-org-signing.pub.pem");
        let lines = pem.lines().map(str::to_owned).collect();
        let config =
            from_registry(&[entry("OrgKey", RegValue::MultiSz(lines))], &registry()).unwrap();
        assert_eq!(
            config.org_key.unwrap().fingerprint(),
            include_str!("../testdata/demo-key.fingerprint").trim()
        );
    }

    #[test]
    fn registry_problems_name_the_value_path() {
        let err = from_registry(
            &[
                entry("ProxyPort", RegValue::Sz("8787".into())),
                entry("Autostart", RegValue::Dword(2)),
                entry("ServerURI", RegValue::Sz("https://x.example".into())),
                entry("OrgKey", RegValue::Binary(vec![1, 2])),
            ],
            &registry(),
        )
        .unwrap_err();
        let places: Vec<_> = err.problems.iter().map(|p| p.place.as_str()).collect();
        assert!(places.contains(&r"HKLM\Software\Policies\Certgate\ServerURI"));
        assert!(places.contains(&r"HKLM\Software\Policies\Certgate\OrgKey"));
        assert!(places.contains(&r"HKLM\Software\Policies\Certgate\ProxyPort"));
        assert!(places.contains(&r"HKLM\Software\Policies\Certgate\Autostart"));
        let unknown = err
            .problems
            .iter()
            .find(|p| p.field.as_deref() == Some("ServerURI"))
            .unwrap();
        assert!(
            unknown.fix.contains("did you mean serverUrl"),
            "{}",
            unknown.fix
        );
    }

    #[test]
    fn the_same_setting_twice_is_refused() {
        let err = from_registry(
            &[
                entry("proxyport", RegValue::Dword(8787)),
                entry("PROXYPORT", RegValue::Dword(9000)),
            ],
            &registry(),
        )
        .unwrap_err();
        assert!(err.problems[0].message.contains("set twice"));
    }

    #[test]
    fn the_sample_export_parses_in_utf16_as_reg_exe_writes_it() {
        let text = include_str!("../testdata/certgate.reg");
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        let source = ManagedSource::RegExport {
            path: "certgate.reg".into(),
        };
        let from_utf8 = parse_reg_export(text.as_bytes(), &source).unwrap();
        let from_utf16 = parse_reg_export(&utf16, &source).unwrap();
        assert_eq!(from_utf8, from_utf16);
        assert_eq!(
            from_utf8.server_url.as_ref().unwrap().as_str(),
            "https://certgate.example.org"
        );
        assert_eq!(from_utf8.mode(), EnrolmentMode::Managed);
        assert_eq!(from_utf8.proxy_port, Some(8787));
        assert_eq!(from_utf8.autostart, Some(true));
        assert_eq!(from_utf8.usage_telemetry, Some(false));
        assert_eq!(
            from_utf8.org_key.unwrap().fingerprint(),
            include_str!("../testdata/demo-key.fingerprint").trim(),
            "the hex(7) multi-string PEM decodes to the demo key"
        );
    }

    #[test]
    fn values_of_other_keys_are_ignored_and_a_missing_key_is_said() {
        let text = "Windows Registry Editor Version 5.00\r\n\r\n\
                    [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Other]\r\n\"ProxyPort\"=dword:00000050\r\n";
        let source = ManagedSource::RegExport {
            path: "x.reg".into(),
        };
        let err = parse_reg_export(text.as_bytes(), &source).unwrap_err();
        assert!(
            err.problems[0]
                .message
                .contains("has no [HKEY_LOCAL_MACHINE")
        );
    }

    #[test]
    fn reg_export_errors_carry_the_line() {
        let text = "Windows Registry Editor Version 5.00\n\n\
                    [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Certgate]\n\
                    \"ProxyPort\"=dword:00002253\n\
                    \"Autostart\"=dword:zz\n";
        let source = ManagedSource::RegExport {
            path: "bad.reg".into(),
        };
        let err = parse_reg_export(text.as_bytes(), &source).unwrap_err();
        assert_eq!(err.problems[0].place, "bad.reg:5:1");
        assert!(err.problems[0].message.contains("Autostart"));
        let wrong_value = "Windows Registry Editor Version 5.00\n\n\
                    [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Certgate]\n\
                    \"ProxyPort\"=dword:00000050\n";
        let err = parse_reg_export(wrong_value.as_bytes(), &source).unwrap_err();
        assert_eq!(err.problems[0].place, "bad.reg:4:1", "port 80 is on line 4");
        assert!(parse_reg_export(b"", &source).is_err());
        assert!(
            parse_reg_export(b"REGEDIT4\n[HKLM\\SOFTWARE\\Policies\\Certgate", &source).is_err()
        );
    }

    proptest::proptest! {
        #[test]
        fn no_reg_text_panics(body in "[\\[\\]\"=a-zA-Z0-9:(),\\\\ \r\n@;-]*") {
            let text = format!(
                "Windows Registry Editor Version 5.00\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Certgate]\n{body}"
            );
            let source = ManagedSource::RegExport { path: "p.reg".into() };
            let _ = parse_reg_export(text.as_bytes(), &source);
        }

        #[test]
        fn no_bytes_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let source = ManagedSource::RegExport { path: "p.reg".into() };
            let _ = parse_reg_export(&bytes, &source);
        }
    }

    #[test]
    fn data_forms_decode() {
        assert_eq!(
            parse_data("\"a\\\\b\\\"c\""),
            Ok(RegValue::Sz("a\\b\"c".into()))
        );
        assert_eq!(parse_data("dword:0000000a"), Ok(RegValue::Dword(10)));
        assert_eq!(
            parse_data("hex(b):01,00,00,00,00,00,00,00"),
            Ok(RegValue::Qword(1))
        );
        assert_eq!(
            parse_data("hex(2):61,00,62,00,00,00"),
            Ok(RegValue::ExpandSz("ab".into()))
        );
        assert_eq!(parse_data("hex:01,ff"), Ok(RegValue::Binary(vec![1, 255])));
        assert!(parse_data("dword:123456789").is_err());
        assert!(parse_data("hex(4):01,00").is_err());
        assert!(parse_data("\"open").is_err());
    }
}
