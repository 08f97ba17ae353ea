// No console window behind the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
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
