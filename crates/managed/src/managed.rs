//! The managed state of this device — none, valid, or invalid — read from the platform's
//! place, and what it allows: which server to enrol with, whether the demo org is available,
//! whether the server's org key is the pinned one.

use std::io;
use std::path::{Path, PathBuf};

use certgate_policy::signing::PublicKey;
use serde::Serialize;

use crate::config::{EnrolmentMode, ManagedConfig};
use crate::error::{Invalid, Problem, Refused};
use crate::key::fingerprint;
use crate::link::EnrolmentLink;
use crate::plist_file::parse_plist;
use crate::registry::{parse_reg_export, read_registry};
use crate::server::ServerUrl;
use crate::source::{At, LINUX_PATH, ManagedSource, REGISTRY_KEY, macos_path, macos_user_path};
use crate::toml_file::parse_toml;

/// A managed file larger than this is not a managed configuration (they are a few hundred
/// bytes); refusing it keeps a stray file from being parsed at length.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// What the organisation pushed to this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Managed {
    /// Nothing pushed: the user decides everything. `lookedAt` says where Certgate looked.
    #[serde(rename_all = "camelCase")]
    Absent { looked_at: String },
    /// A valid configuration.
    Valid {
        source: ManagedSource,
        config: ManagedConfig,
    },
    /// A configuration that does not hold: the app shows [`Invalid`]'s text and will not enrol.
    Invalid(Invalid),
}

impl Managed {
    fn from_result(result: Result<ManagedConfig, Invalid>, source: ManagedSource) -> Self {
        match result {
            Ok(config) => Self::Valid { source, config },
            Err(invalid) => Self::Invalid(invalid),
        }
    }

    /// The configuration, when there is a valid one.
    pub fn config(&self) -> Option<(&ManagedConfig, &ManagedSource)> {
        match self {
            Self::Valid { source, config } => Some((config, source)),
            _ => None,
        }
    }

    /// The text the app shows when the configuration is invalid.
    pub fn problem(&self) -> Option<String> {
        match self {
            Self::Invalid(invalid) => Some(invalid.to_string()),
            _ => None,
        }
    }

    /// The server to fill in on the enrolment screen, when the org set one.
    pub fn server(&self) -> Option<&ServerUrl> {
        self.config().and_then(|(c, _)| c.server_url.as_ref())
    }

    /// May this device enrol with `server`? (The form and links both ask this.)
    pub fn check_server(&self, server: &ServerUrl) -> Result<(), Refused> {
        match self {
            Self::Absent { .. } => Ok(()),
            Self::Invalid(invalid) => Err(Refused::Invalid(invalid.clone())),
            Self::Valid { source, config } => match (config.mode(), &config.server_url) {
                (EnrolmentMode::Managed, Some(managed)) if managed != server => {
                    Err(Refused::OtherServer {
                        requested: server.clone(),
                        managed: managed.clone(),
                        origin: source.clone(),
                    })
                }
                _ => Ok(()),
            },
        }
    }

    /// May this device follow an enrolment link?
    pub fn check_link(&self, link: &EnrolmentLink) -> Result<(), Refused> {
        self.check_server(link.server())
    }

    /// May this device use the built-in demo organisation? Not once an org manages it.
    pub fn check_demo(&self) -> Result<(), Refused> {
        match self {
            Self::Absent { .. } => Ok(()),
            Self::Invalid(invalid) => Err(Refused::Invalid(invalid.clone())),
            Self::Valid { source, config } => {
                if config.mode() == EnrolmentMode::Open && config.org_key.is_none() {
                    Ok(())
                } else {
                    Err(Refused::DemoNotAllowed {
                        origin: source.clone(),
                    })
                }
            }
        }
    }

    /// Is the org key a server serves (`policyKeyPem` on `/v1/keys`) the pinned one? Call it
    /// before sending the enrolment code, and again on the key the enrolment pinned.
    pub fn check_org_key(&self, served_policy_key_pem: &str) -> Result<(), Refused> {
        let (config, source) = match self {
            Self::Absent { .. } => return Ok(()),
            Self::Invalid(invalid) => return Err(Refused::Invalid(invalid.clone())),
            Self::Valid { source, config } => (config, source),
        };
        let Some(pin) = &config.org_key else {
            return Ok(());
        };
        let served = PublicKey::from_pem(served_policy_key_pem.trim(), Path::new("served key"))
            .map_err(|_| Refused::ServedKeyInvalid)?;
        let found = fingerprint(&served).map_err(|_| Refused::ServedKeyInvalid)?;
        if found == pin.fingerprint() {
            Ok(())
        } else {
            Err(Refused::KeyMismatch {
                expected: pin.fingerprint().to_owned(),
                found,
                origin: source.clone(),
            })
        }
    }
}

/// Reads this platform's managed place: `/etc/certgate/managed.toml` on Linux (and other
/// Unixes), the managed preferences plist on macOS, the policy registry key on Windows.
pub fn read_platform() -> Managed {
    if cfg!(windows) {
        read_windows()
    } else if cfg!(target_os = "macos") {
        read_macos(Path::new("/"))
    } else {
        read_linux(Path::new("/"))
    }
}

/// Linux: `<root>/etc/certgate/managed.toml` (`root` is `/` except in tests).
pub fn read_linux(root: &Path) -> Managed {
    read_file(&root.join(LINUX_PATH))
}

/// macOS: the profile scoped to the user who runs Certgate
/// (`<root>/Library/Managed Preferences/<user>/io.certgate.desktop.plist`), else the
/// device-scoped one (`<root>/Library/Managed Preferences/io.certgate.desktop.plist`).
pub fn read_macos(root: &Path) -> Managed {
    read_macos_for(root, std::env::var("USER").ok().as_deref())
}

/// [`read_macos`] for `user`. A user's profile wins over the device's, as in macOS's own
/// lookup of managed preferences; the two are not merged, so one profile says everything.
pub fn read_macos_for(root: &Path, user: Option<&str>) -> Managed {
    let plain_name = |u: &&str| !u.is_empty() && !u.contains(['/', '\\']) && !u.starts_with('.');
    if let Some(user) = user.filter(plain_name) {
        let per_user = root.join(macos_user_path(user));
        if per_user.symlink_metadata().is_ok() {
            return read_file(&per_user);
        }
    }
    read_file(&root.join(macos_path()))
}

/// Windows: `HKLM\Software\Policies\Certgate`, through `reg export`.
pub fn read_windows() -> Managed {
    let source = ManagedSource::Registry {
        key: REGISTRY_KEY.to_owned(),
    };
    match read_registry() {
        None => Managed::Absent {
            looked_at: REGISTRY_KEY.to_owned(),
        },
        Some(result) => {
            let managed = Managed::from_result(result, source);
            if let Some(problem) = managed.problem() {
                tracing::info!("{problem}");
            }
            managed
        }
    }
}

/// Reads one file, its format told by its name (`.plist`, `.reg`, else TOML) or its first
/// bytes. Missing: `Absent`. Unreadable, too large or not text: `Invalid`, never a guess.
pub fn read_file(path: &Path) -> Managed {
    let source = source_for(path);
    let bytes = match read_limited(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Managed::Absent {
                looked_at: path.display().to_string(),
            };
        }
        Err(e) => {
            let fix = if e.kind() == io::ErrorKind::PermissionDenied {
                "make it readable by every user (chmod 644, owned by root)"
            } else {
                "push the file again"
            };
            return Managed::Invalid(Invalid {
                problems: vec![Problem {
                    place: path.display().to_string(),
                    line: None,
                    column: None,
                    field: None,
                    message: format!("cannot be read: {e}"),
                    fix: fix.to_owned(),
                }],
                origin: source,
            });
        }
    };
    let result = match &source {
        ManagedSource::Plist { .. } => parse_plist(&bytes, &source),
        ManagedSource::RegExport { .. } => parse_reg_export(&bytes, &source),
        ManagedSource::Toml { .. } | ManagedSource::Registry { .. } => {
            match String::from_utf8(bytes) {
                Ok(text) => parse_toml(&text, &source),
                Err(_) => Err(Invalid {
                    problems: vec![Problem {
                        place: source.place(&At::Whole),
                        line: None,
                        column: None,
                        field: None,
                        message: "is not UTF-8 text".to_owned(),
                        fix: "save it as UTF-8 TOML".to_owned(),
                    }],
                    origin: source.clone(),
                }),
            }
        }
    };
    let managed = Managed::from_result(result, source);
    if let Some(problem) = managed.problem() {
        tracing::info!("{problem}");
    }
    managed
}

fn source_for(path: &Path) -> ManagedSource {
    let path_buf: PathBuf = path.to_owned();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let head = sniff(path);
    match ext.as_deref() {
        Some("plist") => ManagedSource::Plist { path: path_buf },
        Some("reg") => ManagedSource::RegExport { path: path_buf },
        Some("toml") => ManagedSource::Toml { path: path_buf },
        _ if head.starts_with(b"bplist") || head.starts_with(b"<?xml") => {
            ManagedSource::Plist { path: path_buf }
        }
        _ if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(b"Windows Registry") => {
            ManagedSource::RegExport { path: path_buf }
        }
        _ => ManagedSource::Toml { path: path_buf },
    }
}

fn sniff(path: &Path) -> Vec<u8> {
    use std::io::Read as _;
    let mut head = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(16).read_to_end(&mut head);
    }
    head
}

fn read_limited(path: &Path) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(io::Error::other("it is a folder, not a file"));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(io::Error::other(format!(
            "it is {} bytes; a managed configuration is under {MAX_FILE_BYTES}",
            meta.len()
        )));
    }
    std::fs::read(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use certgate_policy::signing::SecretKey;

    const DEMO_PUB: &str = include_str!("../../../examples/keys/DEMO-org-signing.pub.pem");

    fn root_with(toml: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join(LINUX_PATH);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, toml).unwrap();
        root
    }

    fn server(s: &str) -> ServerUrl {
        ServerUrl::parse(s).unwrap()
    }

    #[test]
    fn no_file_means_not_managed_and_everything_is_allowed() {
        let root = tempfile::tempdir().unwrap();
        let managed = read_linux(root.path());
        assert!(
            matches!(&managed, Managed::Absent { looked_at } if looked_at.ends_with("etc/certgate/managed.toml"))
        );
        assert!(managed.check_server(&server("https://any.example")).is_ok());
        assert!(managed.check_demo().is_ok());
        assert!(managed.check_org_key(DEMO_PUB).is_ok());
    }

    #[test]
    fn a_managed_server_refuses_other_servers_and_the_demo() {
        let root = root_with("serverUrl = \"https://certgate.example.org\"\n");
        let managed = read_linux(root.path());
        assert!(
            managed
                .check_server(&server("https://CERTGATE.example.org/"))
                .is_ok()
        );
        let refused = managed
            .check_server(&server("https://evil.example"))
            .unwrap_err();
        let text = refused.to_string();
        assert!(
            text.contains("https://evil.example") && text.contains("https://certgate.example.org"),
            "the reason names both servers: {text}"
        );
        assert!(
            text.contains("etc/certgate/managed.toml"),
            "and the source: {text}"
        );
        assert!(matches!(
            managed.check_demo(),
            Err(Refused::DemoNotAllowed { .. })
        ));
        assert_eq!(
            managed.server(),
            Some(&server("https://certgate.example.org"))
        );
    }

    #[test]
    fn a_link_for_another_server_is_refused_with_the_reason() {
        let root = root_with("serverUrl = \"https://certgate.example.org\"\n");
        let managed = read_linux(root.path());
        let ours = EnrolmentLink::parse(
            "certgate://enroll?server=https%3A%2F%2Fcertgate.example.org&code=Xq3_9-abcdEFGHijklmn",
        )
        .unwrap();
        assert!(managed.check_link(&ours).is_ok());
        let theirs = EnrolmentLink::parse(
            "certgate://enroll?server=https%3A%2F%2Fcertgate.example.org.evil.example&code=Xq3_9-abcdEFGHijklmn",
        )
        .unwrap();
        let reason = managed.check_link(&theirs).unwrap_err().to_string();
        assert!(
            reason.starts_with(
                "this enrolment is for https://certgate.example.org.evil.example, but your organisation's managed configuration"
            ),
            "{reason}"
        );
        assert!(
            !reason.contains("Xq3_9"),
            "the reason never quotes the code"
        );
    }

    #[test]
    fn an_open_device_with_a_pin_enrols_anywhere_the_key_matches() {
        let root = root_with(&format!(
            "enrolmentMode = \"open\"\norgKey = \"{}\"\n",
            include_str!("../testdata/demo-key.fingerprint").trim()
        ));
        let managed = read_linux(root.path());
        assert!(managed.check_server(&server("https://any.example")).is_ok());
        assert!(managed.check_org_key(DEMO_PUB).is_ok());
        let other = SecretKey::generate()
            .unwrap()
            .public_key()
            .to_pem()
            .unwrap();
        let refused = managed.check_org_key(&other).unwrap_err();
        assert!(matches!(refused, Refused::KeyMismatch { .. }));
        assert!(
            refused
                .to_string()
                .contains("is not the key your organisation pinned")
        );
        assert!(matches!(
            managed.check_org_key("garbage"),
            Err(Refused::ServedKeyInvalid)
        ));
        assert!(
            managed.check_demo().is_err(),
            "a pinned device cannot use the demo org (its key is not the org's)"
        );
    }

    #[test]
    fn an_invalid_configuration_refuses_every_enrolment_with_its_message() {
        let root = root_with("serverUrl = 42\n");
        let managed = read_linux(root.path());
        let text = managed.problem().unwrap();
        assert!(text.starts_with("managed configuration is invalid: "));
        assert!(
            text.contains("managed.toml:1:13: serverUrl: expected text"),
            "{text}"
        );
        assert!(text.ends_with("enrolment is refused until IT fixes it"));
        for refused in [
            managed.check_server(&server("https://certgate.example.org")),
            managed.check_demo(),
            managed.check_org_key(DEMO_PUB),
        ] {
            assert_eq!(refused.unwrap_err().to_string(), text);
        }
    }

    #[test]
    fn unreadable_or_oversized_files_are_invalid_not_ignored() {
        let root = root_with(&"#".repeat(70_000));
        let managed = read_linux(root.path());
        assert!(managed.problem().unwrap().contains("bytes"), "{managed:?}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(LINUX_PATH)).unwrap();
        assert!(matches!(read_linux(dir.path()), Managed::Invalid(_)));
    }

    #[test]
    fn the_macos_reader_finds_the_managed_preferences_file() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join(macos_path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            include_bytes!("../testdata/io.certgate.desktop.binary.plist"),
        )
        .unwrap();
        let managed = read_macos(root.path());
        let (config, source) = managed.config().unwrap();
        assert_eq!(config.proxy_port, Some(8787));
        assert!(matches!(source, ManagedSource::Plist { .. }));
    }

    #[test]
    fn a_profile_scoped_to_the_user_wins_over_the_device_profile() {
        let root = tempfile::tempdir().unwrap();
        let device = root.path().join(macos_path());
        std::fs::create_dir_all(device.parent().unwrap()).unwrap();
        std::fs::write(
            &device,
            include_bytes!("../testdata/io.certgate.desktop.binary.plist"),
        )
        .unwrap();
        let user = root.path().join(crate::source::macos_user_path("ada"));
        std::fs::create_dir_all(user.parent().unwrap()).unwrap();
        std::fs::write(&user, b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict><key>proxyPort</key><integer>9100</integer></dict></plist>\n").unwrap();

        let port = |managed: Managed| managed.config().and_then(|(c, _)| c.proxy_port);
        assert_eq!(port(read_macos_for(root.path(), Some("ada"))), Some(9100));
        assert_eq!(
            port(read_macos_for(root.path(), Some("bob"))),
            Some(8787),
            "no profile for bob: the device's"
        );
        assert_eq!(port(read_macos_for(root.path(), None)), Some(8787));
        assert_eq!(
            port(read_macos_for(root.path(), Some("../ada"))),
            Some(8787),
            "a user name is never a path"
        );
    }

    #[test]
    fn read_file_tells_formats_apart() {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            (
                "a.plist",
                &include_bytes!("../testdata/io.certgate.desktop.xml.plist")[..],
            ),
            (
                "b",
                &include_bytes!("../testdata/io.certgate.desktop.binary.plist")[..],
            ),
            ("c.reg", &include_bytes!("../testdata/certgate.reg")[..]),
            ("d.toml", &include_bytes!("../testdata/managed.toml")[..]),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            assert!(
                matches!(read_file(&path), Managed::Valid { .. }),
                "{name}: {:?}",
                read_file(&path)
            );
        }
    }

    #[test]
    fn the_state_serialises_for_the_app() {
        let root = root_with("serverUrl = 42\n");
        let json = serde_json::to_value(read_linux(root.path())).unwrap();
        assert_eq!(json["state"], "invalid");
        assert_eq!(json["problems"][0]["field"], "serverUrl");
        assert_eq!(json["problems"][0]["line"], 1);
        assert_eq!(json["source"]["kind"], "toml");
    }
}
