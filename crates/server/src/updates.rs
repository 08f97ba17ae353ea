//! App updates the org hosts for its devices. The updates folder holds `release.toml` (the
//! version on offer, its notes, one artifact per platform) beside the artifacts and their
//! minisign signatures (`<file>.sig`, as `cargo tauri signer sign` writes them).
//!
//! The server only describes and serves them: every device verifies the artifact under the
//! update key built into the app (a key of its own, not the policy key), so a wrong or
//! compromised server can make devices refuse an update, never install a forged one.
//! `release.toml` is read again on every request, so publishing needs no restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The release description inside the updates folder.
pub const RELEASE_FILE: &str = "release.toml";

const OPERATING_SYSTEMS: [&str; 3] = ["linux", "darwin", "windows"];
const ARCHITECTURES: [&str; 4] = ["x86_64", "aarch64", "i686", "armv7"];
/// Installer kinds as the Tauri updater names them in `{os}-{arch}-{installer}`.
const INSTALLERS: [&str; 6] = ["deb", "rpm", "appimage", "msi", "nsis", "app"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReleaseFile {
    version: String,
    #[serde(default)]
    notes: String,
    pub_date: Option<String>,
    platforms: BTreeMap<String, PlatformFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformFile {
    file: String,
}

/// The release on offer, checked: a semantic version, known platform keys, artifacts and
/// signatures present.
#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub version: semver::Version,
    pub notes: String,
    pub pub_date: Option<String>,
    /// By Tauri updater target: `linux-x86_64-deb`, `darwin-aarch64`, `windows-x86_64-msi`…
    pub platforms: BTreeMap<String, Artifact>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// File name inside the updates folder.
    pub file: String,
    /// The `.sig` file's text (base64 of the minisign signature), passed on verbatim.
    pub signature: String,
}

/// What a device asking for an update gets: the Tauri updater's dynamic-server answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offer {
    pub version: String,
    pub notes: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pub_date: Option<String>,
    pub url: String,
    pub signature: String,
}

/// The updates folder named by the server config's `updates`.
#[derive(Debug, Clone)]
pub struct UpdateShelf {
    dir: PathBuf,
}

impl UpdateShelf {
    /// Opens the folder and checks the release in it, so a broken release stops the server at
    /// start instead of at a device's first check.
    pub fn open(dir: &Path) -> Result<Self> {
        let shelf = Self {
            dir: dir.to_owned(),
        };
        let release = shelf.release()?;
        tracing::info!(version = %release.version, platforms = release.platforms.len(), dir = %dir.display(), "update on offer");
        Ok(shelf)
    }

    /// The release as the folder holds it now.
    pub fn release(&self) -> Result<Release> {
        let path = self.dir.join(RELEASE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::ReadFile {
            path: path.clone(),
            source,
        })?;
        parse_release(&text, &path, |file| self.read_signature(file))
    }

    /// The path of an artifact the current release names; `None` for any other name, so the
    /// route serves nothing else from the folder (no traversal, no stray files).
    pub fn artifact_path(&self, release: &Release, file: &str) -> Option<PathBuf> {
        release
            .platforms
            .values()
            .any(|a| a.file == file)
            .then(|| self.dir.join(file))
    }

    fn read_signature(&self, file: &str) -> std::result::Result<String, String> {
        let artifact = self.dir.join(file);
        if !artifact.is_file() {
            return Err(format!("{} does not exist", artifact.display()));
        }
        let sig_path = self.dir.join(format!("{file}.sig"));
        let text = std::fs::read_to_string(&sig_path).map_err(|e| {
            format!(
                "cannot read its signature {}: {e}; sign it with `cargo tauri signer sign --app-version <version> {file}`",
                sig_path.display()
            )
        })?;
        Ok(text.trim().to_owned())
    }
}

/// Parses and checks a release description; `signature_of` reads an artifact's signature
/// (or says why it cannot).
fn parse_release(
    text: &str,
    path: &Path,
    signature_of: impl Fn(&str) -> std::result::Result<String, String>,
) -> Result<Release> {
    let problem = |line: Option<usize>, reason: String| Error::Release {
        path: path.to_owned(),
        line,
        reason,
    };
    let file: ReleaseFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| line_of(text, span.start));
        problem(line, e.message().to_owned())
    })?;
    let line_with = |needle: &str| text.lines().position(|l| l.contains(needle)).map(|i| i + 1);
    let version = semver::Version::parse(file.version.trim_start_matches('v')).map_err(|e| {
        problem(
            line_with("version"),
            format!(
                "version {:?} is not a semantic version ({e}), e.g. \"1.4.2\"",
                file.version
            ),
        )
    })?;
    if let Some(date) = &file.pub_date
        && chrono::DateTime::parse_from_rfc3339(date).is_err()
    {
        return Err(problem(
            line_with("pubDate"),
            format!("pubDate {date:?} is not an RFC 3339 time, e.g. \"2026-11-27T09:00:00Z\""),
        ));
    }
    if file.platforms.is_empty() {
        return Err(problem(
            None,
            "no platforms: add one, e.g. [platforms.linux-x86_64-deb] file = \"Certgate_1.4.2_amd64.deb\"".into(),
        ));
    }
    let mut platforms = BTreeMap::new();
    for (target, platform) in file.platforms {
        let at = line_with(&target);
        check_target(&target).map_err(|reason| problem(at, reason))?;
        check_file_name(&platform.file)
            .map_err(|reason| problem(at, format!("{target}: {reason}")))?;
        let signature = signature_of(&platform.file)
            .map_err(|reason| problem(at, format!("{target}: {reason}")))?;
        check_signature(&signature, &version)
            .map_err(|reason| problem(at, format!("{target}: {}.sig {reason}", platform.file)))?;
        platforms.insert(
            target,
            Artifact {
                file: platform.file,
                signature,
            },
        );
    }
    Ok(Release {
        version,
        notes: file.notes,
        pub_date: file.pub_date,
        platforms,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

fn check_target(target: &str) -> std::result::Result<(), String> {
    let parts: Vec<&str> = target.split('-').collect();
    let known = match parts.as_slice() {
        [os, arch] => OPERATING_SYSTEMS.contains(os) && ARCHITECTURES.contains(arch),
        [os, arch, installer] => {
            OPERATING_SYSTEMS.contains(os)
                && ARCHITECTURES.contains(arch)
                && INSTALLERS.contains(installer)
        }
        _ => false,
    };
    if known {
        Ok(())
    } else {
        Err(format!(
            "platform {target:?} is not an updater target: write {{os}}-{{arch}}[-{{installer}}] with os one of {OPERATING_SYSTEMS:?}, arch one of {ARCHITECTURES:?}, installer one of {INSTALLERS:?}, e.g. linux-x86_64-deb"
        ))
    }
}

fn check_file_name(file: &str) -> std::result::Result<(), String> {
    let plain = !file.is_empty()
        && !file.starts_with('.')
        && !file.contains(['/', '\\'])
        && !file.contains("..");
    if plain {
        Ok(())
    } else {
        Err(format!(
            "file {file:?} must be a plain file name inside the updates folder"
        ))
    }
}

/// The `.sig` must be what the Tauri signer writes (base64 of a minisign signature), and the
/// version it was signed for must be the one on offer: devices refuse any other pairing.
fn check_signature(signature: &str, version: &semver::Version) -> std::result::Result<(), String> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|text| text.starts_with("untrusted comment:"))
        .ok_or("is not a minisign signature from `cargo tauri signer sign`")?;
    let signed_version = decoded
        .lines()
        .find_map(|line| line.strip_prefix("trusted comment:"))
        .and_then(|comment| {
            comment
                .split('\t')
                .find_map(|field| field.trim().strip_prefix("version:"))
        })
        .ok_or("does not name the version it was signed for: sign again with `--app-version`")?;
    match semver::Version::parse(signed_version.trim_start_matches('v')) {
        Ok(signed) if signed == *version => Ok(()),
        _ => Err(format!(
            "was signed for version {signed_version}, not {version}: sign the artifact of {version} with `--app-version {version}`"
        )),
    }
}

/// What a device on `current` gets for `{target}-{arch}[-{installer}]`: the installer-specific
/// artifact first, then the generic one; `None` when it is up to date or nothing fits.
pub fn offer(
    release: &Release,
    target: &str,
    arch: &str,
    installer: &str,
    current: &str,
    base_url: &str,
) -> Result<Option<Offer>> {
    let current = semver::Version::parse(current).map_err(|e| {
        Error::BadRequest(format!(
            "current version {current:?} is not a semantic version: {e}"
        ))
    })?;
    if release.version <= current {
        return Ok(None);
    }
    let artifact = release
        .platforms
        .get(&format!("{target}-{arch}-{installer}"))
        .or_else(|| release.platforms.get(&format!("{target}-{arch}")));
    Ok(artifact.map(|artifact| Offer {
        version: release.version.to_string(),
        notes: release.notes.clone(),
        pub_date: release.pub_date.clone(),
        url: format!(
            "{}/v1/updates/files/{}",
            base_url.trim_end_matches('/'),
            artifact.file
        ),
        signature: artifact.signature.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.sig` as `cargo tauri signer sign --app-version` writes it (base64 of the
    /// minisign text); the signature bytes do not matter to the server.
    fn sig_for(version: &str) -> String {
        let text = format!(
            "untrusted comment: signature from tauri secret key\nRUQ=\ntrusted comment: timestamp:1764230000\tfile:Certgate_{version}_amd64.deb\tversion:{version}\nAAA=\n"
        );
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    fn parse(text: &str) -> Result<Release> {
        parse_release(text, Path::new("/srv/updates/release.toml"), |_| {
            Ok(sig_for("1.4.2"))
        })
    }

    const RELEASE: &str = r#"version = "1.4.2"
notes = "Faster redaction"
pubDate = "2026-11-27T09:00:00Z"

[platforms.linux-x86_64-deb]
file = "Certgate_1.4.2_amd64.deb"

[platforms.darwin-aarch64]
file = "Certgate.app.tar.gz"
"#;

    #[test]
    fn a_newer_release_is_offered_with_the_installer_specific_artifact_first() {
        let release = parse(RELEASE).unwrap();
        let offer = offer(&release, "linux", "x86_64", "deb", "1.4.1", "http://h:1/")
            .unwrap()
            .unwrap();
        assert_eq!(offer.version, "1.4.2");
        assert_eq!(
            offer.url,
            "http://h:1/v1/updates/files/Certgate_1.4.2_amd64.deb"
        );
        assert_eq!(offer.signature, sig_for("1.4.2"));
        assert_eq!(offer.pub_date.as_deref(), Some("2026-11-27T09:00:00Z"));
        let mac = super::offer(&release, "darwin", "aarch64", "app", "0.9.0", "http://h")
            .unwrap()
            .unwrap();
        assert!(mac.url.ends_with("/Certgate.app.tar.gz"), "{}", mac.url);
    }

    #[test]
    fn the_same_or_a_newer_version_or_another_platform_gets_nothing() {
        let release = parse(RELEASE).unwrap();
        for current in ["1.4.2", "1.5.0", "2.0.0-beta.1"] {
            assert_eq!(
                offer(&release, "linux", "x86_64", "deb", current, "http://h").unwrap(),
                None,
                "{current}"
            );
        }
        assert_eq!(
            offer(&release, "windows", "x86_64", "msi", "1.0.0", "http://h").unwrap(),
            None
        );
        assert!(matches!(
            offer(&release, "linux", "x86_64", "deb", "latest", "http://h"),
            Err(Error::BadRequest(_))
        ));
    }

    fn problem(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn mistakes_name_the_file_the_line_and_the_fix() {
        let e = problem(&RELEASE.replace("1.4.2\"\nnotes", "one\"\nnotes"));
        assert!(
            e.starts_with("update release /srv/updates/release.toml:1:"),
            "{e}"
        );
        assert!(e.contains("semantic version"), "{e}");

        let e = problem(&RELEASE.replace("linux-x86_64-deb", "linux-amd64-deb"));
        assert!(e.contains("release.toml:5:"), "{e}");
        assert!(e.contains("e.g. linux-x86_64-deb"), "{e}");

        let e = problem(&RELEASE.replace("Certgate.app.tar.gz", "../etc/passwd"));
        assert!(e.contains("plain file name"), "{e}");

        let e = problem(&RELEASE.replace(
            "pubDate = \"2026-11-27T09:00:00Z\"",
            "pubDate = \"yesterday\"",
        ));
        assert!(
            e.contains("release.toml:3:") && e.contains("RFC 3339"),
            "{e}"
        );

        let e = problem(&format!("{RELEASE}channel = \"beta\"\n"));
        assert!(
            e.contains("unknown field") && e.contains("release.toml:"),
            "{e}"
        );
    }

    #[test]
    fn a_signature_for_another_version_or_no_signature_is_refused_at_load() {
        let for_old = parse_release(RELEASE, Path::new("release.toml"), |_| Ok(sig_for("1.4.1")))
            .unwrap_err()
            .to_string();
        assert!(
            for_old.contains("signed for version 1.4.1, not 1.4.2")
                && for_old.contains("--app-version 1.4.2"),
            "{for_old}"
        );
        let garbage = parse_release(RELEASE, Path::new("release.toml"), |_| {
            Ok("not base64".into())
        })
        .unwrap_err()
        .to_string();
        assert!(garbage.contains("is not a minisign signature"), "{garbage}");
    }

    #[test]
    fn the_shelf_reads_artifacts_and_serves_only_those_the_release_names() {
        let dir = tempfile::tempdir().unwrap();
        let text = RELEASE.replace(
            "\n[platforms.darwin-aarch64]\nfile = \"Certgate.app.tar.gz\"\n",
            "",
        );
        std::fs::write(dir.path().join(RELEASE_FILE), &text).unwrap();
        let missing = UpdateShelf::open(dir.path()).unwrap_err().to_string();
        assert!(
            missing.contains("Certgate_1.4.2_amd64.deb does not exist"),
            "{missing}"
        );

        std::fs::write(dir.path().join("Certgate_1.4.2_amd64.deb"), b"!<arch>\n").unwrap();
        let unsigned = UpdateShelf::open(dir.path()).unwrap_err().to_string();
        assert!(unsigned.contains("cargo tauri signer sign"), "{unsigned}");

        std::fs::write(
            dir.path().join("Certgate_1.4.2_amd64.deb.sig"),
            sig_for("1.4.2"),
        )
        .unwrap();
        std::fs::write(dir.path().join("secret.txt"), b"x").unwrap();
        let shelf = UpdateShelf::open(dir.path()).unwrap();
        let release = shelf.release().unwrap();
        assert!(
            shelf
                .artifact_path(&release, "Certgate_1.4.2_amd64.deb")
                .is_some()
        );
        assert_eq!(shelf.artifact_path(&release, "secret.txt"), None);
        assert_eq!(shelf.artifact_path(&release, RELEASE_FILE), None);
    }
}
