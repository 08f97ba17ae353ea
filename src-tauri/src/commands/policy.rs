use certgate_policy::{LoadedPolicy, PolicySummary};
use tauri::State;

use crate::error::CommandError;
use crate::state::AppState;

/// The summary of the policy loaded at start, or why it could not be loaded.
#[tauri::command]
pub fn get_policy_summary(state: State<'_, AppState>) -> Result<PolicySummary, CommandError> {
    state.policy().map(LoadedPolicy::summary)
}
