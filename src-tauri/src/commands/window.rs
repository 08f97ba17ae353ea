//! The window's own plumbing.

use tauri::{AppHandle, Runtime, State};

use crate::dto::EnrolmentLinkView;
use crate::link::PendingLink;
use crate::tray::PendingScreen;

/// The screen the tray asked for before this window existed (taken once), e.g. "training".
#[tauri::command]
pub fn take_pending_screen(pending: State<'_, PendingScreen>) -> Option<String> {
    pending.take()
}

/// Starts the app again (after enrolling: it then runs on the org's policy and course).
#[tauri::command]
pub fn restart_app<R: Runtime>(app: AppHandle<R>) {
    tracing::info!("restarting at the user's request");
    app.restart();
}

/// The enrolment link the app was opened with, once (fields to fill, or why it was refused).
#[tauri::command]
pub fn take_enrolment_link(pending: State<'_, PendingLink>) -> Option<EnrolmentLinkView> {
    pending.take()
}
