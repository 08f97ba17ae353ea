//! The window's own plumbing.

use tauri::State;

use crate::tray::PendingScreen;

/// The screen the tray asked for before this window existed (taken once), e.g. "training".
#[tauri::command]
pub fn take_pending_screen(pending: State<'_, PendingScreen>) -> Option<String> {
    pending.take()
}
