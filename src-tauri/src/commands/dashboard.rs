use tauri::State;

use crate::dto::Dashboard;
use crate::error::CommandError;
use crate::state::AppState;

/// Certifications, posture, overall state and the next action.
#[tauri::command]
pub fn get_dashboard(state: State<'_, AppState>) -> Result<Dashboard, CommandError> {
    state.dashboard()
}
