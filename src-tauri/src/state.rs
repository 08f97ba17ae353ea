//! What the app holds for its whole life, managed by Tauri and read by the commands.

use certgate_policy::LoadedPolicy;

use crate::error::CommandError;

/// Loaded once at start. A policy that fails to load does not stop the app: the window says why.
pub struct AppState {
    pub policy: Result<LoadedPolicy, CommandError>,
}

impl AppState {
    /// Loads the embedded demo policy, verified against the demo key. Signed org policies
    /// from the data directory replace it in a later issue; until then the UI says DEMO.
    pub fn load() -> Self {
        let policy = certgate_policy::demo::load().map_err(CommandError::from);
        match &policy {
            Ok(loaded) => tracing::info!(
                policy_id = %loaded.summary().policy_id,
                "running on the embedded DEMO policy, signed with the demo key"
            ),
            Err(err) => tracing::error!(code = ?err.code, "{}", err.message),
        }
        Self { policy }
    }
}
