//! Certgate on a managed device: what the organisation pushes through device management
//! (Intune, Jamf, Fleet …) and how it shapes onboarding.
//!
//! - **Managed configuration** ([`ManagedConfig`]): server URL, pinned org key, enrolment
//!   mode, proxy port, autostart, usage-log telemetry. One shape ([`ManagedFile`], unknown
//!   fields denied) and one validating parser ([`config::validate`]) behind three thin readers:
//!   [`read_linux`] (`/etc/certgate/managed.toml`), [`read_macos`] (managed preferences plist),
//!   [`read_windows`] (`HKLM\Software\Policies\Certgate`); [`read_platform`] picks one.
//! - **Merge** ([`merge`]): managed values override the user's and are locked with the reason.
//!   An invalid configuration is never applied in part: the app shows its message and refuses
//!   to enrol ([`Managed::check_server`] and friends).
//! - **Enrolment links** ([`EnrolmentLink`]): `certgate://enroll?server=…&code=…`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
mod error;
mod key;
pub mod link;
mod managed;
mod plist_file;
pub mod registry;
mod server;
mod settings;
mod source;
mod toml_file;

pub use config::{EnrolmentMode, ManagedConfig, ManagedFile, ModelUpstream, parse_model_upstreams};
pub use error::{CodeProblem, Error, Invalid, LinkError, Problem, Refused, Result};
pub use key::{OrgKeyPin, fingerprint, fingerprint_pem};
pub use link::{EnrolmentCode, EnrolmentLink};
pub use managed::{
    Managed, read_file, read_linux, read_macos, read_macos_for, read_platform, read_windows,
};
pub use plist_file::parse_plist;
pub use server::{ServerUrl, ServerUrlError};
pub use settings::{
    DEFAULT_PROXY_PORT, Effective, Lock, Origin, Setting, USER_SETTINGS_FILE, UserSettings,
    load_user, merge, save_user,
};
pub use source::{BUNDLE_ID, LINUX_PATH, ManagedSource, REGISTRY_KEY, macos_path};
pub use toml_file::parse_toml;

/// The known setting closest to a misspelt name, if one is close enough to suggest.
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    config::FIELDS
        .iter()
        .map(|f| {
            (
                *f,
                strsim::jaro_winkler(&f.to_lowercase(), &name.to_lowercase()),
            )
        })
        .filter(|(_, score)| *score > 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(f, _)| f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspellings_get_a_suggestion_and_nonsense_does_not() {
        assert_eq!(suggest("proxyPrt"), Some("proxyPort"));
        assert_eq!(suggest("ServerURL"), Some("serverUrl"));
        assert_eq!(suggest("auto_start"), Some("autostart"));
        assert_eq!(suggest("colour"), None);
    }

    /// The app's bundle config and this crate must agree on the bundle id (the macOS
    /// preference domain) and the link scheme, and the Linux desktop entry must pass the link
    /// on (`%u`), or links and managed preferences silently stop working.
    #[test]
    fn the_bundle_config_matches_the_managed_constants() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../src-tauri");
        let conf: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(root.join("tauri.conf.json")).unwrap())
                .unwrap();
        assert_eq!(conf["identifier"], BUNDLE_ID);
        assert_eq!(
            conf["plugins"]["deep-link"]["desktop"]["schemes"],
            serde_json::json!([link::SCHEME])
        );
        let deb = &conf["bundle"]["linux"]["deb"];
        assert_eq!(
            deb["files"]["/usr/bin/certgate"],
            "../target/release/certgate"
        );
        let template = deb["desktopTemplate"].as_str().unwrap();
        let desktop = std::fs::read_to_string(root.join(template)).unwrap();
        assert!(
            desktop
                .lines()
                .any(|l| l.starts_with("Exec=") && l.ends_with(" %u")),
            "the desktop entry must hand the link to the app"
        );
        assert!(desktop.contains("MimeType={{mime_type}};"));
    }
}
