//! Certgate's tray app: a thin Tauri shell over the engine crates in `crates/`.
//!
//! [`build`] registers everything that needs no window system (commands, state, window
//! behaviour), so tests drive it with `tauri::test::mock_builder`; [`run`] adds what needs a
//! real desktop (the tray, in the setup hook) and runs the event loop.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod access;
mod commands;
mod device;
mod dto;
mod error;
mod link;
mod notify;
mod settings;
mod state;
mod tray;
mod updates;

use tauri::{Builder, Manager, RunEvent, Runtime, WindowEvent};

pub use error::{CommandError, ErrorCode};
pub use tray::{TrayItem, TrayMode};

/// Label of the one window, as in tauri.conf.json.
pub const MAIN_WINDOW: &str = "main";

/// The argument the start-at-login entry passes: start in the tray, without the window. The
/// window's web view (WebKit and, without a GPU, Mesa's software renderer) is what makes the
/// app process big, so an app nobody has opened yet since login stays small.
pub const IN_TRAY_ARG: &str = "--in-tray";

/// Commands, state and window behaviour, for any runtime (the real one or the mock).
pub fn build<R: Runtime>(builder: Builder<R>) -> Builder<R> {
    let device = device::DeviceStore::system();
    with_state(builder, state::AppState::load(&device), device)
}

fn with_state<R: Runtime>(
    builder: Builder<R>,
    state: state::AppState,
    device: device::DeviceStore,
) -> Builder<R> {
    builder
        .manage(state)
        .manage(device)
        .manage(access::Access::default())
        .manage(settings::Settings::load())
        .manage(tray::PendingScreen::default())
        .manage(link::PendingLink::default())
        .manage(updates::Updates::default())
        .invoke_handler(tauri::generate_handler![
            commands::access::get_access,
            commands::access::sync_now,
            commands::access::simulate_compliant_device,
            commands::access::set_access_enabled,
            commands::access::get_activity,
            commands::access::get_exception_form,
            commands::access::request_exception,
            commands::access::get_exception,
            commands::access::approve_exception_demo,
            commands::access::chat_send,
            commands::access::chat_decide,
            commands::settings::get_settings,
            commands::settings::set_autostart,
            commands::settings::set_notifications,
            commands::settings::get_updates,
            commands::settings::check_for_updates,
            commands::policy::get_policy_summary,
            commands::dashboard::get_dashboard,
            commands::posture::get_posture,
            commands::posture::recheck_posture,
            commands::training::list_tracks,
            commands::training::get_module,
            commands::training::save_progress,
            commands::training::start_attempt,
            commands::training::answer_question,
            commands::training::submit_attempt,
            commands::training::get_acknowledgement,
            commands::training::sign_acknowledgement,
            commands::window::take_pending_screen,
            commands::window::restart_app,
            commands::window::take_enrolment_link,
            commands::enrol::enroll_device,
        ])
        .on_window_event(|window, event| {
            // Closing the window destroys it, and WebKit's web process with it (~250 MB); the
            // app lives on in the tray (exit is prevented in `run`) and Open builds it again.
            if let WindowEvent::Destroyed = event {
                tracing::info!(window = window.label(), "window closed");
            }
        })
}

/// Starts the app: window, tray (or the window-only fallback), event loop. Returns when the
/// user quits.
pub fn run() -> tauri::Result<()> {
    match certgate_store::paths::data_dir() {
        Ok(dir) => tracing::info!(data_dir = %dir.display(), "data directory"),
        Err(err) => tracing::warn!(%err, "no data directory"),
    }
    // Single instance first, so a second launch hands over before anything else starts: it
    // exits and the running app shows its window instead.
    let builder = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tray::show_main_window(app);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(
            tauri_plugin_autostart::Builder::new()
                .args([IN_TRAY_ARG])
                .build(),
        )
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_updater::Builder::new().build());
    let app = build(builder)
        // Setup runs once the event loop is up. The window is built here (or later, from the
        // tray): the config does not create it, so a start at login can leave it unbuilt.
        .setup(|app| {
            let mode = tray::install(app);
            // Without a tray, `install` has shown the window: it is the only way in.
            let in_tray = std::env::args().any(|a| a == IN_TRAY_ARG);
            if tray::lives_in_tray(Some(&mode)) && !in_tray {
                tray::show_main_window(app.handle());
            }
            app.manage(mode);
            notify::spawn(app.handle().clone());
            let autostart = app
                .state::<settings::Settings>()
                .effective()
                .autostart
                .value;
            settings::apply_autostart(app.handle(), autostart);
            access::spawn_start(app.handle().clone());
            updates::spawn(app.handle().clone());
            // An enrolment link that started the app, and those that arrive later (a second
            // launch hands its link over through the single-instance plugin).
            use tauri_plugin_deep_link::DeepLinkExt;
            if let Ok(Some(first)) = app.deep_link().get_current() {
                link::receive(app.handle(), first);
            }
            let handle = app.handle().clone();
            app.deep_link()
                .on_open_url(move |event| link::receive(&handle, event.urls()));
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(|app, event| {
        // The last window closing must not end a tray app; an explicit exit (Quit) carries a code.
        if let RunEvent::ExitRequested {
            code: None, api, ..
        } = event
            && tray::lives_in_tray(app.try_state::<TrayMode>().as_deref())
        {
            api.prevent_exit();
        }
    });
    Ok(())
}

/// Whether a graphical display is reachable. On Linux GTK needs `DISPLAY` or `WAYLAND_DISPLAY`
/// and panics without one; other platforms always have a display.
pub fn display_available() -> Result<(), String> {
    let has = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if cfg!(target_os = "linux") && !has("DISPLAY") && !has("WAYLAND_DISPLAY") {
        return Err(
            "no graphical display (DISPLAY and WAYLAND_DISPLAY are unset). \
             certgate-app is a desktop app: start it from a desktop session, or run the tests \
             with scripts/test, which starts a virtual display (Xvfb)."
                .to_owned(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
