use tauri::{AppHandle, Runtime, State};

use crate::access::Access;
use crate::dto::{AccessView, ActivityItem};
use crate::error::CommandError;

/// How many requests the Activity screen lists.
const ACTIVITY_LIMIT: usize = 200;

/// Copilot access now: proxy address and key, whether tools get through, and why not.
#[tauri::command]
pub fn get_access(access: State<'_, Access>) -> AccessView {
    access.view()
}

/// Sends training records to the org, fetches tokens, refreshes the gate ("Sync now").
#[tauri::command]
pub async fn sync_now<R: Runtime>(
    app: AppHandle<R>,
    access: State<'_, Access>,
) -> Result<AccessView, CommandError> {
    let view = access.sync().await?;
    crate::tray::refresh(&app);
    Ok(view)
}

/// The newest proxy requests (metadata only).
#[tauri::command]
pub fn get_activity(access: State<'_, Access>) -> Result<Vec<ActivityItem>, CommandError> {
    access.activity(ACTIVITY_LIMIT)
}
