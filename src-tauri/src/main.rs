// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    keep_gl_unloaded_in_tray();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    // GTK panics with an unhelpful message when there is no display; say what to do instead.
    if let Err(reason) = certgate_app::display_available() {
        eprintln!("certgate-app: {reason}");
        return ExitCode::from(2);
    }

    match certgate_app::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("certgate-app: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Started at login into the tray, the app may never open its window all day: keep GDK from
/// loading the OpenGL driver at start (Mesa with llvmpipe is ~50 MB resident). WebKit sets up
/// its own GL when the window is built, so an opened window renders as before. A `GDK_GL` the
/// user set is left alone.
#[cfg(target_os = "linux")]
fn keep_gl_unloaded_in_tray() {
    let in_tray = std::env::args().any(|a| a == certgate_app::IN_TRAY_ARG);
    if in_tray && std::env::var_os("GDK_GL").is_none() {
        // SAFETY: the first statement of `main`; no other thread exists yet to read or write
        // the environment.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("GDK_GL", "disable");
        }
    }
}
