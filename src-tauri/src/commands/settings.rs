use tauri::{AppHandle, Runtime, State};

use crate::dto::{SettingsView, UpdateView};
use crate::error::CommandError;
use crate::settings::Settings;
use crate::updates::Updates;

/// Every setting with where it comes from; managed ones carry their lock and reason.
#[tauri::command]
pub fn get_settings(settings: State<'_, Settings>) -> SettingsView {
    settings.view()
}

/// Start at login on or off (refused when the org manages it), applied at once.
#[tauri::command]
pub fn set_autostart<R: Runtime>(
    app: AppHandle<R>,
    settings: State<'_, Settings>,
    on: bool,
) -> Result<SettingsView, CommandError> {
    let view = settings.set_autostart(on)?;
    crate::settings::apply_autostart(&app, view.effective.autostart.value);
    Ok(view)
}

/// Desktop notifications on or off.
#[tauri::command]
pub fn set_notifications(
    settings: State<'_, Settings>,
    on: bool,
) -> Result<SettingsView, CommandError> {
    settings.set_notifications(on)
}

/// The Updates section: the running version and how the last check ended.
#[tauri::command]
pub fn get_updates<R: Runtime>(app: AppHandle<R>, updates: State<'_, Updates>) -> UpdateView {
    updates.view(&app)
}

/// "Check now": checks the org server, and installs a verified newer version.
#[tauri::command]
pub async fn check_for_updates<R: Runtime>(app: AppHandle<R>) -> Result<UpdateView, CommandError> {
    Ok(crate::updates::check_now(&app).await)
}
