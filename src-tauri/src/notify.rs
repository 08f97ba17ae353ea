//! Desktop notifications: posture failed / fixed, certification reminders and requests the
//! proxy blocked, through the engine's rules (`certgate_training::notice`) and its rate limit. A notification that cannot
//! be shown (no notification server, no session bus) is logged and otherwise ignored.

use std::collections::HashMap;
use std::mem::{Discriminant, discriminant};
use std::time::Duration;

use certgate_training::notice::{self, Notice, Release, Throttle};
use certgate_training::status::Reminder;
use certgate_training::{Clock, SystemClock};
use tauri::{AppHandle, Manager, Runtime};

use crate::state::{AppState, Posture};

/// At most one notification of a kind per this window; what arrives meanwhile is shown as one
/// summary.
const WINDOW: chrono::Duration = chrono::Duration::seconds(60);
/// How often reminders and held notices are looked at.
const TICK: Duration = Duration::from_secs(30);

/// Where other parts of the app (the proxy's events) hand notices in.
pub struct Notices(tokio::sync::mpsc::UnboundedSender<Notice>);

impl Notices {
    pub fn send(&self, notice: Notice) {
        // The receiver lives as long as the app; a closed one means the app is stopping.
        let _ = self.0.send(notice);
    }
}

/// Watches posture changes, reminders and handed-in notices for the app's whole life.
pub fn spawn<R: Runtime>(app: AppHandle<R>) {
    let (tx, mut handed_in) = tokio::sync::mpsc::unbounded_channel();
    app.manage(Notices(tx));
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let Ok(posture) = state.posture() else {
            return;
        };
        let mut rx = posture.cache.subscribe();
        // One rate limit per kind of notice: a burst of one kind (blocked requests) makes one
        // notification, and one kind never holds up another (an approval after a block).
        let mut throttles: HashMap<Discriminant<Notice>, Throttle> = HashMap::new();
        let mut was_compliant: Option<bool> = None;
        let mut tick = tokio::time::interval(TICK);
        loop {
            let mut due = Vec::new();
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let report = rx.borrow_and_update().clone();
                    if !Posture::is_placeholder(&report) {
                        let view = posture.view();
                        let failing: Vec<String> = view.facts.iter().filter(|f| f.required && !f.ok).map(|f| f.name.clone()).collect();
                        due.extend(notice::posture_notice(was_compliant, &failing));
                        was_compliant = Some(failing.is_empty());
                    }
                    crate::tray::refresh(&app);
                }
                _ = tick.tick() => due.extend(reminders(&state)),
                Some(notice) = handed_in.recv() => due.push(notice),
            }
            let now = SystemClock.now();
            let mut shown: Vec<Release> = due
                .into_iter()
                .filter_map(|n| {
                    throttles
                        .entry(discriminant(&n))
                        .or_insert_with(|| Throttle::new(WINDOW))
                        .offer(n, now)
                })
                .collect();
            shown.extend(throttles.values_mut().filter_map(|t| t.poll(now)));
            // Turned off in Settings: the notices are consumed (the tray still shows the state).
            let wanted = app
                .try_state::<crate::settings::Settings>()
                .is_none_or(|s| s.notifications());
            for release in shown.into_iter().filter(|_| wanted) {
                show(release).await;
            }
        }
    });
}

fn reminders(state: &AppState) -> Vec<Notice> {
    let (Ok(training), Ok(certs)) = (state.training(), state.certifications()) else {
        return Vec::new();
    };
    let now = SystemClock.now();
    certs
        .into_iter()
        .filter_map(
            |(track, status)| match training.take_reminder(&track, &status, now) {
                Ok(Some(Reminder::ExpiresIn { days })) => Some(Notice::Expiring { track, days }),
                Ok(Some(Reminder::Expired)) => Some(Notice::Expired { track }),
                Ok(None) => None,
                Err(err) => {
                    tracing::warn!(code = ?err.code, "reminder check failed: {}", err.message);
                    None
                }
            },
        )
        .collect()
}

async fn show(release: Release) {
    let (summary, body) = match &release {
        Release::One(n) => n.text(),
        Release::Many(all) => (
            format!("Certgate: {} updates", all.len()),
            all.iter()
                .map(|n| n.text().0)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    let sent = tauri::async_runtime::spawn_blocking(move || {
        notify_rust::Notification::new()
            .appname("Certgate")
            .summary(&summary)
            .body(&body)
            .show()
            .map(|_| summary)
    })
    .await;
    match sent {
        Ok(Ok(summary)) => tracing::info!(%summary, "notification shown"),
        Ok(Err(err)) => tracing::warn!(%err, "notification not shown (no notification server?)"),
        Err(err) => tracing::warn!(%err, "notification task failed"),
    }
}
