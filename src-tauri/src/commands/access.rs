use tauri::{AppHandle, Runtime, State};

use crate::access::Access;
use crate::dto::{
    AccessView, ActivityItem, ChatReplyView, ChatTurn, ExceptionForm, ExceptionInput, ExceptionView,
};
use crate::error::CommandError;
use crate::state::AppState;

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

/// Turns copilot access on or off for every tool on this device.
#[tauri::command]
pub fn set_access_enabled<R: Runtime>(
    app: AppHandle<R>,
    access: State<'_, Access>,
    on: bool,
) -> Result<AccessView, CommandError> {
    let view = access.switch(on)?;
    crate::tray::refresh(&app);
    Ok(view)
}

/// The newest proxy requests (metadata only).
#[tauri::command]
pub fn get_activity(access: State<'_, Access>) -> Result<Vec<ActivityItem>, CommandError> {
    access.activity(ACTIVITY_LIMIT)
}

/// What an exception request asks for under the policy.
#[tauri::command]
pub fn get_exception_form(state: State<'_, AppState>) -> Result<ExceptionForm, CommandError> {
    Ok(ExceptionForm::new(
        &state.policy()?.policy,
        certgate_agent::demo::LABEL,
    ))
}

/// Files an exception request; the org refuses a missing field or a too long duration.
#[tauri::command]
pub async fn request_exception(
    access: State<'_, Access>,
    input: ExceptionInput,
) -> Result<ExceptionView, CommandError> {
    access.request_exception(input).await
}

#[tauri::command]
pub async fn get_exception(
    access: State<'_, Access>,
    id: String,
) -> Result<ExceptionView, CommandError> {
    access.exception_status(id).await
}

/// Demo only: the demo org's approvers approve; the grant is synced to the gate.
#[tauri::command]
pub async fn approve_exception_demo<R: Runtime>(
    app: AppHandle<R>,
    access: State<'_, Access>,
    id: String,
) -> Result<ExceptionView, CommandError> {
    use tauri::Manager;
    let before = access.exception_keys();
    let view = access.approve_exception_demo(id).await?;
    let now = chrono::Utc::now();
    if let Some(notices) = app.try_state::<crate::notify::Notices>() {
        certgate_training::notice::exception_notices(&before, &access.exception_keys(), now)
            .into_iter()
            .for_each(|n| notices.send(n));
    }
    crate::tray::refresh(&app);
    Ok(view)
}

/// Sends the conversation through the proxy as the app's chat tool; the answer's text streams
/// on `on_text` as it arrives.
#[tauri::command]
pub async fn chat_send(
    access: State<'_, Access>,
    turns: Vec<ChatTurn>,
    on_text: tauri::ipc::Channel<String>,
) -> Result<ChatReplyView, CommandError> {
    let turns = turns.into_iter().map(Into::into).collect();
    access
        .chat(turns, |text| {
            // A closed window only stops the streaming display; the answer is still returned.
            let _ = on_text.send(text.to_owned());
        })
        .await
}

/// Records approve / reject on a chat answer that needed a person's approval.
#[tauri::command]
pub async fn chat_decide(
    access: State<'_, Access>,
    request_id: String,
    approved: bool,
) -> Result<(), CommandError> {
    access.decide(&request_id, approved).await
}
