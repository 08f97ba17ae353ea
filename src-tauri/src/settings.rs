//! Settings: the user's choices (a JSON file in the data directory) merged with what the
//! organisation manages (certgate-managed), which wins and is shown locked with the reason.

use std::path::PathBuf;
use std::sync::Mutex;

use certgate_managed::{Managed, UserSettings, merge};
use certgate_managed::{USER_SETTINGS_FILE, load_user, save_user};

use crate::dto::SettingsView;
use crate::error::{CommandError, ErrorCode};

pub struct Settings {
    managed: Managed,
    user: Mutex<UserSettings>,
    /// `None` when there is no data directory: changes then cannot be saved.
    path: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    /// Why the user's file was not used (it is left as it is until a setting changes).
    load_problem: Option<String>,
}

fn settings_error(message: impl std::fmt::Display) -> CommandError {
    CommandError {
        code: ErrorCode::Settings,
        message: message.to_string(),
    }
}

impl Settings {
    /// The platform's managed configuration and the user's file; problems are kept and shown.
    pub fn load() -> Self {
        let managed = certgate_managed::read_platform();
        Self::with(managed, certgate_store::paths::data_dir().ok())
    }

    pub fn with(managed: Managed, data_dir: Option<PathBuf>) -> Self {
        if let Some(problem) = managed.problem() {
            tracing::error!("{problem}");
        }
        let path = data_dir.as_ref().map(|d| d.join(USER_SETTINGS_FILE));
        let (user, load_problem) = match path.as_deref().map(load_user) {
            Some(Ok(u)) => (u, None),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "user settings not used");
                (UserSettings::default(), Some(e.to_string()))
            }
            None => (UserSettings::default(), None),
        };
        Self {
            managed,
            user: Mutex::new(user),
            path,
            data_dir,
            load_problem,
        }
    }

    fn user(&self) -> std::sync::MutexGuard<'_, UserSettings> {
        self.user
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The organisation's managed configuration as read at start (valid, invalid or absent).
    pub fn managed(&self) -> &Managed {
        &self.managed
    }

    pub fn effective(&self) -> certgate_managed::Effective {
        merge(&self.user(), &self.managed)
    }

    pub fn notifications(&self) -> bool {
        self.user().notifications
    }

    pub fn view(&self) -> SettingsView {
        SettingsView {
            effective: self.effective(),
            notifications: self.notifications(),
            data_dir: self.data_dir.as_ref().map(|d| d.display().to_string()),
            problem: self.load_problem.clone(),
        }
    }

    /// Changes the user's settings with `change` and saves them; refused when `locked` says
    /// the org manages the setting. Nothing changes unless the file was written.
    fn update(
        &self,
        locked: Option<&certgate_managed::Lock>,
        change: impl FnOnce(&mut UserSettings),
    ) -> Result<SettingsView, CommandError> {
        if let Some(lock) = locked {
            return Err(settings_error(&lock.reason));
        }
        let path = self
            .path
            .as_ref()
            .ok_or_else(|| settings_error("no data directory: settings cannot be saved"))?;
        {
            let mut user = self.user();
            let mut next = user.clone();
            change(&mut next);
            save_user(path, &next).map_err(settings_error)?;
            *user = next;
        }
        Ok(self.view())
    }

    pub fn set_autostart(&self, on: bool) -> Result<SettingsView, CommandError> {
        let locked = self.effective().autostart.locked_by;
        self.update(locked.as_ref(), |u| u.autostart = on)
    }

    pub fn set_notifications(&self, on: bool) -> Result<SettingsView, CommandError> {
        self.update(None, |u| u.notifications = on)
    }
}

/// Registers or removes the login item (where the autostart plugin runs: not under the mock
/// runtime of the tests). A failure is logged: the app still works, it just will not start at
/// login.
pub fn apply_autostart<R: tauri::Runtime>(app: &tauri::AppHandle<R>, on: bool) {
    use tauri::Manager;
    let Some(launcher) = app.try_state::<tauri_plugin_autostart::AutoLaunchManager>() else {
        return;
    };
    let result = if on {
        launcher.enable()
    } else {
        launcher.disable()
    };
    match result {
        Ok(()) => tracing::info!(on, "start at login"),
        Err(err) => tracing::warn!(%err, on, "cannot change start at login"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn managed(dir: &std::path::Path, toml: &str) -> Managed {
        let path = dir.join("managed.toml");
        std::fs::write(&path, toml).unwrap();
        certgate_managed::read_file(&path)
    }

    #[test]
    fn a_managed_setting_is_locked_with_the_reason_and_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::with(
            managed(dir.path(), "autostart = true\n"),
            Some(dir.path().to_owned()),
        );
        let err = settings.set_autostart(false).unwrap_err();
        assert_eq!(err.code, ErrorCode::Settings);
        assert!(
            err.message.contains("Set by your organisation"),
            "{}",
            err.message
        );
        assert!(!dir.path().join(USER_SETTINGS_FILE).exists());
        assert!(settings.effective().autostart.value);
    }

    #[test]
    fn the_users_choice_is_saved_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let absent = || Managed::Absent {
            looked_at: "/etc/certgate/managed.toml".into(),
        };
        let settings = Settings::with(absent(), Some(dir.path().to_owned()));
        assert!(settings.effective().autostart.value, "on by default");
        let view = settings.set_autostart(false).unwrap();
        assert!(!view.effective.autostart.value);
        settings.set_notifications(false).unwrap();
        let again = Settings::with(absent(), Some(dir.path().to_owned()));
        assert!(!again.effective().autostart.value);
        assert!(!again.notifications());
    }

    #[test]
    fn an_invalid_managed_file_is_reported_and_locks_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::with(
            managed(dir.path(), "proxyPort = 80\n"),
            Some(dir.path().to_owned()),
        );
        let view = settings.view();
        let problem = view.effective.managed_problem.unwrap();
        assert!(problem.contains("enrolment is refused"), "{problem}");
        assert!(settings.set_autostart(false).is_ok());
    }
}
