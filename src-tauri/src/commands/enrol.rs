//! Enrolling this device with an org server.

use tauri::State;

use crate::device::DeviceStore;
use crate::dto::EnrolmentView;
use crate::error::{CommandError, ErrorCode};
use crate::settings::Settings;

/// Enrols with `server` using the one-time `code` (the managed configuration decides which
/// servers and org keys are acceptable) and fetches the org's policy and course. The app runs
/// on them after a restart.
#[tauri::command]
pub async fn enroll_device(
    device: State<'_, DeviceStore>,
    settings: State<'_, Settings>,
    server: String,
    code: String,
) -> Result<EnrolmentView, CommandError> {
    let (device, managed) = (device.inner().clone(), settings.managed().clone());
    tokio::task::spawn_blocking(move || device.enrol(&managed, &server, &code))
        .await
        .map_err(|_| CommandError {
            code: ErrorCode::Enrolment,
            message: "the enrolment stopped before it finished".to_owned(),
        })?
}
