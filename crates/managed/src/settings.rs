//! The merge rule: a value the organisation manages overrides the user's and is locked, with
//! the reason; everything else is the user's (or the default). An invalid managed
//! configuration locks nothing — it is not applied at all — and enrolment is refused until IT
//! fixes it (see [`Managed::check_server`](crate::Managed::check_server)).

use serde::{Deserialize, Serialize};

use crate::config::EnrolmentMode;
use crate::managed::Managed;
use crate::source::ManagedSource;

/// The proxy's default port (as `certgate proxy` listens on).
pub const DEFAULT_PROXY_PORT: u16 = 8787;

/// What the user chose in Settings (stored by the app).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSettings {
    /// The org server the user typed (or a link filled in).
    pub server_url: Option<String>,
    /// The local proxy's port.
    pub proxy_port: u16,
    /// Start Certgate at login.
    pub autostart: bool,
    /// Send usage logs (never content) to the org server.
    pub usage_telemetry: bool,
    /// Show desktop notifications (the user's alone: the org cannot manage it).
    pub notifications: bool,
}

impl Default for UserSettings {
    fn default() -> Self {
        Self {
            server_url: None,
            proxy_port: DEFAULT_PROXY_PORT,
            autostart: true,
            usage_telemetry: false,
            notifications: true,
        }
    }
}

/// The user's settings file in a data directory.
pub const USER_SETTINGS_FILE: &str = "settings.json";

/// Reads the user's settings; a missing file is the defaults. A file that does not parse is
/// an error naming it (the app shows it and keeps the defaults; it never overwrites the file
/// until the user changes a setting).
pub fn load_user(path: &std::path::Path) -> Result<UserSettings, crate::Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(UserSettings::default()),
        Err(e) => {
            return Err(crate::Error::UserSettings {
                path: path.to_owned(),
                reason: e.to_string(),
            });
        }
    };
    serde_json::from_str(&text).map_err(|e| crate::Error::UserSettings {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// Writes the user's settings whole or not at all (a temporary file renamed over the old one).
pub fn save_user(path: &std::path::Path, settings: &UserSettings) -> Result<(), crate::Error> {
    let fail = |source: std::io::Error| crate::Error::SaveUserSettings {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    let json = serde_json::to_vec_pretty(settings).map_err(|e| fail(e.into()))?;
    std::io::Write::write_all(&mut tmp, &json).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Where an effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub enum Origin {
    Default,
    User,
    Managed,
}

/// Why a setting cannot be changed in Settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    pub source: ManagedSource,
    /// The sentence Settings shows beside the locked control.
    pub reason: String,
}

/// One effective setting: its value, its origin, and the lock when the org manages it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Setting<T> {
    pub value: T,
    pub origin: Origin,
    pub locked_by: Option<Lock>,
}

impl<T> Setting<T> {
    pub fn is_locked(&self) -> bool {
        self.locked_by.is_some()
    }
}

/// Every setting the org can manage, merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct Effective {
    pub server_url: Setting<Option<String>>,
    /// The pinned org key's fingerprint (only the org can set it).
    pub org_key: Setting<Option<String>>,
    pub enrolment_mode: Setting<EnrolmentMode>,
    pub proxy_port: Setting<u16>,
    pub autostart: Setting<bool>,
    pub usage_telemetry: Setting<bool>,
    /// The invalid managed configuration's message, when there is one: the app shows it and
    /// refuses to enrol.
    pub managed_problem: Option<String>,
}

/// Managed values override the user's and are locked; the rest are the user's, or defaults
/// where the user never chose (the server, the pin and the mode).
pub fn merge(user: &UserSettings, managed: &Managed) -> Effective {
    let (config, source) = match managed.config() {
        Some((c, s)) => (Some(c), Some(s)),
        None => (None, None),
    };
    let defaults = UserSettings::default();
    let origin = |chosen: bool| {
        if chosen {
            Origin::User
        } else {
            Origin::Default
        }
    };
    Effective {
        server_url: choose(
            config
                .and_then(|c| c.server_url.as_ref())
                .map(|u| Some(u.to_string())),
            source,
            user.server_url.clone(),
            origin(user.server_url.is_some()),
        ),
        org_key: choose(
            config
                .and_then(|c| c.org_key.as_ref())
                .map(|pin| Some(pin.fingerprint().to_owned())),
            source,
            None,
            Origin::Default,
        ),
        enrolment_mode: choose(
            config.filter(|c| c.mode_is_set()).map(|c| c.mode()),
            source,
            EnrolmentMode::Open,
            Origin::Default,
        ),
        proxy_port: choose(
            config.and_then(|c| c.proxy_port),
            source,
            user.proxy_port,
            origin(user.proxy_port != defaults.proxy_port),
        ),
        autostart: choose(
            config.and_then(|c| c.autostart),
            source,
            user.autostart,
            origin(user.autostart != defaults.autostart),
        ),
        usage_telemetry: choose(
            config.and_then(|c| c.usage_telemetry),
            source,
            user.usage_telemetry,
            origin(user.usage_telemetry != defaults.usage_telemetry),
        ),
        managed_problem: managed.problem(),
    }
}

fn choose<T>(
    managed: Option<T>,
    source: Option<&ManagedSource>,
    user: T,
    user_origin: Origin,
) -> Setting<T> {
    match (managed, source) {
        (Some(value), Some(source)) => Setting {
            value,
            origin: Origin::Managed,
            locked_by: Some(Lock {
                source: source.clone(),
                reason: format!("Set by your organisation ({source}); ask IT to change it."),
            }),
        },
        _ => Setting {
            value: user,
            origin: user_origin,
            locked_by: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::managed::read_file;

    fn managed(toml: &str) -> (tempfile::TempDir, Managed) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("managed.toml");
        std::fs::write(&path, toml).unwrap();
        let m = read_file(&path);
        (dir, m)
    }

    fn user() -> UserSettings {
        UserSettings {
            server_url: Some("https://mine.example".into()),
            proxy_port: 9000,
            autostart: false,
            usage_telemetry: false,
            notifications: true,
        }
    }

    #[test]
    fn user_settings_round_trip_and_a_broken_file_is_named_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(USER_SETTINGS_FILE);
        assert_eq!(load_user(&path).unwrap(), UserSettings::default());
        save_user(&path, &user()).unwrap();
        assert_eq!(load_user(&path).unwrap(), user());
        std::fs::write(&path, "{\"autostart\": \"yes\"}").unwrap();
        let err = load_user(&path).unwrap_err().to_string();
        assert!(err.contains("settings.json"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"autostart\": \"yes\"}",
            "a read never rewrites the file"
        );
        std::fs::write(&path, "{\"autostrat\": true}").unwrap();
        assert!(load_user(&path).is_err(), "unknown keys are refused");
    }

    #[test]
    fn managed_values_override_and_lock_with_the_reason() {
        let (_dir, m) = managed(
            "serverUrl = \"https://certgate.example.org\"\nproxyPort = 8800\nautostart = true\n",
        );
        let e = merge(&user(), &m);
        assert_eq!(
            e.server_url.value.as_deref(),
            Some("https://certgate.example.org")
        );
        assert_eq!(e.server_url.origin, Origin::Managed);
        assert_eq!(
            e.proxy_port.value, 8800,
            "the org's port wins over the user's 9000"
        );
        assert!(e.proxy_port.is_locked());
        let reason = &e.autostart.locked_by.as_ref().unwrap().reason;
        assert!(reason.starts_with("Set by your organisation ("), "{reason}");
        assert!(reason.contains("managed.toml"), "{reason}");
        assert_eq!(e.enrolment_mode.value, EnrolmentMode::Managed);
        assert!(
            e.enrolment_mode.is_locked(),
            "a managed server implies managed enrolment"
        );
        assert_eq!(
            e.usage_telemetry.origin,
            Origin::Default,
            "not managed, user kept default"
        );
        assert!(!e.usage_telemetry.is_locked());
        assert!(e.managed_problem.is_none());
    }

    #[test]
    fn without_management_the_user_decides() {
        let absent = Managed::Absent {
            looked_at: "/etc/certgate/managed.toml".into(),
        };
        let e = merge(&user(), &absent);
        assert_eq!(e.server_url.value.as_deref(), Some("https://mine.example"));
        assert_eq!(e.server_url.origin, Origin::User);
        assert_eq!(e.proxy_port.value, 9000);
        assert_eq!(e.proxy_port.origin, Origin::User);
        assert_eq!(e.autostart.origin, Origin::User);
        assert_eq!(e.usage_telemetry.origin, Origin::Default);
        assert_eq!(e.enrolment_mode.value, EnrolmentMode::Open);
        assert!(e.org_key.value.is_none());
        let all_unlocked = [
            e.server_url.is_locked(),
            e.org_key.is_locked(),
            e.enrolment_mode.is_locked(),
            e.proxy_port.is_locked(),
            e.autostart.is_locked(),
            e.usage_telemetry.is_locked(),
        ];
        assert_eq!(all_unlocked, [false; 6]);
    }

    #[test]
    fn an_invalid_configuration_locks_nothing_and_carries_its_message() {
        let (_dir, m) = managed("proxyPort = 80\n");
        let e = merge(&user(), &m);
        assert_eq!(
            e.proxy_port.value, 9000,
            "an invalid file is not applied, not even in part"
        );
        assert!(!e.proxy_port.is_locked());
        let problem = e.managed_problem.unwrap();
        assert!(problem.contains("proxyPort: 80 is not a port"), "{problem}");
    }

    #[test]
    fn the_merged_settings_serialise_in_the_shape_the_ui_reads() {
        let (_dir, m) = managed("usageTelemetry = true\n");
        let json = serde_json::to_value(merge(&UserSettings::default(), &m)).unwrap();
        assert_eq!(json["usageTelemetry"]["value"], true);
        assert_eq!(json["usageTelemetry"]["origin"], "managed");
        assert_eq!(json["usageTelemetry"]["lockedBy"]["source"]["kind"], "toml");
        assert_eq!(json["proxyPort"]["value"], 8787);
        assert_eq!(json["proxyPort"]["origin"], "default");
        assert_eq!(json["proxyPort"]["lockedBy"], serde_json::Value::Null);
    }

    #[test]
    fn user_settings_reject_unknown_fields() {
        assert!(serde_json::from_str::<UserSettings>(r#"{"proxyPort": 9000}"#).is_ok());
        assert!(serde_json::from_str::<UserSettings>(r#"{"proxyPrt": 9000}"#).is_err());
    }
}
