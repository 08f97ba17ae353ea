use tauri::{AppHandle, Runtime, State};

use crate::dto::PostureView;
use crate::error::CommandError;
use crate::state::AppState;

/// The latest posture report (cached: no probe runs).
#[tauri::command]
pub fn get_posture(state: State<'_, AppState>) -> Result<PostureView, CommandError> {
    Ok(state.posture()?.view())
}

/// Runs the posture check now and returns its result ("check again").
#[tauri::command]
pub async fn recheck_posture<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<PostureView, CommandError> {
    let view = state.posture()?.recheck().await;
    crate::tray::refresh(&app);
    Ok(view)
}
