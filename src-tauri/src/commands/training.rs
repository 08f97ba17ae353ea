use tauri::{AppHandle, Runtime, State};

use crate::dto::{
    AcknowledgementView, AnswerFeedback, AnswerInput, AttemptResult, AttemptView, ModuleSummary,
    ModuleView, ProgressInput, TrackView,
};
use crate::error::CommandError;
use crate::state::AppState;

/// Tracks with their modules, progress and certification status.
#[tauri::command]
pub fn list_tracks(state: State<'_, AppState>) -> Result<Vec<TrackView>, CommandError> {
    state.training()?.tracks(state.policy()?)
}

/// A module's Markdown and where the reader stopped.
#[tauri::command]
pub fn get_module(state: State<'_, AppState>, id: String) -> Result<ModuleView, CommandError> {
    state.training()?.module(&id)
}

/// Saves the reader's place in a module (and that it was read to the end).
#[tauri::command]
pub fn save_progress<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    progress: ProgressInput,
) -> Result<ModuleSummary, CommandError> {
    let saved = state.training()?.save_progress(&progress)?;
    crate::tray::refresh(&app);
    Ok(saved)
}

/// Draws a quiz attempt: the questions without their answers.
#[tauri::command]
pub fn start_attempt(
    state: State<'_, AppState>,
    track: String,
) -> Result<AttemptView, CommandError> {
    state.training()?.start_attempt(state.policy()?, &track)
}

/// Records one answer; returns whether it was right, the right answer and the explanation.
#[tauri::command]
pub fn answer_question(
    state: State<'_, AppState>,
    answer: AnswerInput,
) -> Result<AnswerFeedback, CommandError> {
    state.training()?.answer(&answer)
}

/// Grades and stores the attempt; returns the score, pass/fail and attempts left.
#[tauri::command]
pub fn submit_attempt<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
) -> Result<AttemptResult, CommandError> {
    let result = state.training()?.submit(state.policy()?)?;
    if result.passed {
        crate::access::spawn_sync(app.clone());
    }
    crate::tray::refresh(&app);
    Ok(result)
}

/// The acknowledgement page and whether this version is signed.
#[tauri::command]
pub fn get_acknowledgement(
    state: State<'_, AppState>,
) -> Result<AcknowledgementView, CommandError> {
    state.training()?.acknowledgement()
}

/// Signs the acknowledgement with the typed full name.
#[tauri::command]
pub fn sign_acknowledgement<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    full_name: String,
) -> Result<AcknowledgementView, CommandError> {
    let view = state.training()?.sign(&full_name)?;
    crate::tray::refresh(&app);
    Ok(view)
}
