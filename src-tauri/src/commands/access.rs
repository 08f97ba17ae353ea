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

/// Demo only: the gate sees a simulated compliant device (`on`) or this device again.
#[tauri::command]
pub async fn simulate_compliant_device<R: Runtime>(
    app: AppHandle<R>,
    access: State<'_, Access>,
    on: bool,
) -> Result<AccessView, CommandError> {
    let view = access.simulate_posture(on).await?;
    crate::tray::refresh(&app);
    Ok(view)
}

/// The newest proxy requests (metadata only).
#[tauri::command]
pub fn get_activity(access: State<'_, Access>) -> Result<Vec<ActivityItem>, CommandError> {
    access.activity(ACTIVITY_LIMIT)
}
