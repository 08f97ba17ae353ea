//! What the user is told at a glance and when: the overall state the tray icon shows, and the
//! rate limit on notifications.
//!
//! It lives here rather than in `certgate-posture` because the rule is about certification
//! (which track grants access, expiring, expired, locked) with posture as one yes/no input,
//! and because the reminders (T-30/T-14/T-3) it sits beside are already this crate's. The
//! posture crate stays a sensor with no notion of what a user should do next.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::status::CertStatus;

/// The state at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Overall {
    /// Certified and compliant: AI access is open.
    Ready,
    /// Nothing blocks access yet, or nothing is certified yet, but the user has something to
    /// do (training due, certification expiring).
    ActionNeeded,
    /// Access is closed until the user or an admin acts (posture failing, expired, locked).
    Blocked,
}

impl Overall {
    /// The state in words, for a tooltip.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ready => "ready: certified and compliant",
            Self::ActionNeeded => "action needed",
            Self::Blocked => "blocked",
        }
    }
}

/// The overall state from every track's status and whether every fact the policy requires
/// is ok (unknown is not ok).
///
/// One certified track is enough for access (a person follows one track); tracks never taken
/// do not count against them. Without any certified track, a locked or expired one blocks,
/// otherwise training is simply due.
pub fn overall<'a>(
    tracks: impl IntoIterator<Item = &'a CertStatus>,
    posture_compliant: bool,
) -> Overall {
    if !posture_compliant {
        return Overall::Blocked;
    }
    let tracks: Vec<&CertStatus> = tracks.into_iter().collect();
    let certified: Vec<&&CertStatus> = tracks.iter().filter(|s| s.is_certified()).collect();
    if certified.is_empty() {
        let stuck = tracks
            .iter()
            .any(|s| matches!(s, CertStatus::Locked { .. } | CertStatus::Expired { .. }));
        return if stuck {
            Overall::Blocked
        } else {
            Overall::ActionNeeded
        };
    }
    if certified
        .iter()
        .all(|s| matches!(s, CertStatus::Expiring { .. }))
    {
        Overall::ActionNeeded
    } else {
        Overall::Ready
    }
}

/// What the user should do next, in the order onboarding walks it: device, training and quiz,
/// the acknowledgement, then keeping the certification current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NextStep {
    FixPosture,
    Train,
    SignAcknowledgement,
    Recertify,
    Nothing,
}

/// The next step from the same inputs as [`overall`], plus whether the acknowledgement page
/// still needs a signature.
pub fn next_step<'a>(
    tracks: impl IntoIterator<Item = &'a CertStatus>,
    posture_compliant: bool,
    acknowledgement_needed: bool,
) -> NextStep {
    if !posture_compliant {
        return NextStep::FixPosture;
    }
    let tracks: Vec<&CertStatus> = tracks.into_iter().collect();
    let certified: Vec<&&CertStatus> = tracks.iter().filter(|s| s.is_certified()).collect();
    if certified.is_empty() {
        return if tracks
            .iter()
            .any(|s| matches!(s, CertStatus::Expired { .. }))
        {
            NextStep::Recertify
        } else {
            NextStep::Train
        };
    }
    if acknowledgement_needed {
        return NextStep::SignAcknowledgement;
    }
    if certified
        .iter()
        .all(|s| matches!(s, CertStatus::Expiring { .. }))
    {
        NextStep::Recertify
    } else {
        NextStep::Nothing
    }
}

/// Desktop notifications the app may raise. Values that could be sensitive never appear here:
/// only kinds, track ids and day counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Notice {
    /// A required posture fact stopped being ok.
    PostureFailed { facts: Vec<String> },
    /// Every required fact is ok again.
    PostureFixed,
    /// A certification expires in `days` (30, 14 or 3).
    Expiring { track: String, days: i64 },
    /// A certification expired.
    Expired { track: String },
    /// The proxy refused a request before upload because it held secrets (types, never values).
    RequestBlocked { types: Vec<String> },
    /// An exception was approved and now admits requests (for `track`, or every track).
    ExceptionApproved { track: Option<String> },
    /// An exception ran out.
    ExceptionExpired { track: Option<String> },
    /// The device has not reached the org server for `hours` hours.
    SyncFailing { hours: i64 },
    /// A signed update was verified and installed; it runs from the next start.
    UpdateInstalled { version: String },
    /// An update was refused: its signature does not verify under the app's update key.
    UpdateRefused { version: String, reason: String },
}

impl Notice {
    /// Short title and body for the desktop notification.
    pub fn text(&self) -> (String, String) {
        match self {
            Self::PostureFailed { facts } => (
                "Device check failed".into(),
                format!(
                    "AI access is blocked until this is fixed: {}. Open Certgate for how to fix it.",
                    facts.join(", ")
                ),
            ),
            Self::PostureFixed => (
                "Device check passed".into(),
                "Every required device setting is ok again.".into(),
            ),
            Self::Expiring { track, days } => (
                "Certification expiring".into(),
                format!("{track} expires in {days} day(s): recertify in Certgate."),
            ),
            Self::Expired { track } => (
                "Certification expired".into(),
                format!("{track} expired and no longer grants AI access: recertify in Certgate."),
            ),
            Self::ExceptionApproved { track } => (
                "Exception approved".into(),
                format!(
                    "Your exception for {} is approved: AI access is allowed until it expires.",
                    track.as_deref().unwrap_or("every track")
                ),
            ),
            Self::ExceptionExpired { track } => (
                "Exception expired".into(),
                format!(
                    "Your exception for {} has expired: certify in Certgate to keep AI access.",
                    track.as_deref().unwrap_or("every track")
                ),
            ),
            Self::SyncFailing { hours } => (
                "Certgate cannot reach your organisation".into(),
                format!(
                    "No sync for {hours} hour(s): new certifications and revocations wait until it works again. Check the network."
                ),
            ),
            Self::UpdateInstalled { version } => (
                "Certgate update installed".into(),
                format!("Certgate {version} is installed: restart Certgate to use it."),
            ),
            Self::UpdateRefused { version, reason } => (
                "Certgate update refused".into(),
                format!(
                    "The update to {version} was not installed: {reason}. Tell your IT team; Certgate keeps running as it is."
                ),
            ),
            Self::RequestBlocked { types } => (
                "Request blocked before upload".into(),
                format!(
                    "Certgate stopped a request that held {}: nothing was sent. Remove it and try again.",
                    types.join(", ")
                ),
            ),
        }
    }
}

/// An exception as the notices see it: what it covers and when it ends.
pub type ExceptionKey = (Option<String>, DateTime<Utc>);

/// The exception notices due between two syncs: a grant that appeared was approved; one that
/// disappeared at or after its expiry expired (one withdrawn early says nothing here).
pub fn exception_notices(
    before: &[ExceptionKey],
    after: &[ExceptionKey],
    now: DateTime<Utc>,
) -> Vec<Notice> {
    let approved = after
        .iter()
        .filter(|k| !before.contains(k))
        .map(|(track, _)| Notice::ExceptionApproved {
            track: track.clone(),
        });
    let expired = before
        .iter()
        .filter(|(track, ends)| *ends <= now && !after.iter().any(|(t, _)| t == track))
        .map(|(track, _)| Notice::ExceptionExpired {
            track: track.clone(),
        });
    approved.chain(expired).collect()
}

/// How long syncs may fail before the user is told.
pub const SYNC_FAILING_AFTER: Duration = Duration::hours(1);

/// The sync notice due now: once, when the last successful sync is more than an hour ago
/// (`told` says whether it was already given since that success).
pub fn sync_notice(last_success: DateTime<Utc>, now: DateTime<Utc>, told: bool) -> Option<Notice> {
    let since = now - last_success;
    (!told && since > SYNC_FAILING_AFTER).then(|| Notice::SyncFailing {
        hours: since.num_hours(),
    })
}

/// The posture notice due when compliance changes: failed on ok → not ok, fixed on the way
/// back. `failing` names the required facts that are not ok now.
pub fn posture_notice(was_compliant: Option<bool>, failing: &[String]) -> Option<Notice> {
    match (was_compliant, failing.is_empty()) {
        (Some(true) | None, false) => Some(Notice::PostureFailed {
            facts: failing.to_vec(),
        }),
        (Some(false), true) => Some(Notice::PostureFixed),
        _ => None,
    }
}

/// Lets through at most one notification per `window`; what arrives meanwhile is held and
/// released as one summary when the window ends, so a burst makes one notification (plus at
/// most one follow-up), never a stack.
#[derive(Debug, Clone)]
pub struct Throttle {
    window: Duration,
    last_sent: Option<DateTime<Utc>>,
    held: BTreeMap<Notice, ()>,
}

/// What to show now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// One notice on its own.
    One(Notice),
    /// Several notices that arrived together, to show as one.
    Many(Vec<Notice>),
}

impl Throttle {
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            last_sent: None,
            held: BTreeMap::new(),
        }
    }

    /// Offers a notice at `now`. Returns what to show now, if anything.
    pub fn offer(&mut self, notice: Notice, now: DateTime<Utc>) -> Option<Release> {
        self.held.insert(notice, ());
        self.poll(now)
    }

    /// Releases what is held once the window since the last notification has passed; call it
    /// on a timer so a held notice is not forgotten.
    pub fn poll(&mut self, now: DateTime<Utc>) -> Option<Release> {
        if self.held.is_empty() || self.last_sent.is_some_and(|t| now - t < self.window) {
            return None;
        }
        self.last_sent = Some(now);
        let mut all: Vec<Notice> = std::mem::take(&mut self.held).into_keys().collect();
        Some(if all.len() == 1 {
            Release::One(all.remove(0))
        } else {
            Release::Many(all)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn passed() -> CertStatus {
        CertStatus::Passed {
            verified: false,
            passed_at: t(0),
            expires_at: t(1_000_000),
        }
    }

    fn expiring() -> CertStatus {
        CertStatus::Expiring {
            verified: false,
            passed_at: t(0),
            expires_at: t(1_000),
            days_left: 3,
        }
    }

    #[test]
    fn failing_posture_blocks_even_a_certified_user() {
        assert_eq!(overall([&passed()], false), Overall::Blocked);
    }

    #[test]
    fn one_certified_track_is_ready_whatever_the_others() {
        let others = [
            passed(),
            CertStatus::NotStarted,
            CertStatus::Locked { since: t(0) },
        ];
        assert_eq!(overall(&others, true), Overall::Ready);
    }

    #[test]
    fn nothing_certified_is_action_unless_locked_or_expired() {
        assert_eq!(
            overall(&[CertStatus::NotStarted, CertStatus::InProgress], true),
            Overall::ActionNeeded
        );
        let failed = CertStatus::Failed {
            attempts_left: 1,
            retry_at: None,
        };
        assert_eq!(overall([&failed], true), Overall::ActionNeeded);
        assert_eq!(
            overall(
                &[
                    CertStatus::NotStarted,
                    CertStatus::Expired { expired_at: t(0) }
                ],
                true
            ),
            Overall::Blocked,
            "an expired certification closes access"
        );
        assert_eq!(
            overall([&CertStatus::Locked { since: t(0) }], true),
            Overall::Blocked
        );
        assert_eq!(overall([], true), Overall::ActionNeeded);
    }

    #[test]
    fn only_expiring_certifications_ask_for_action() {
        assert_eq!(overall([&expiring()], true), Overall::ActionNeeded);
        assert_eq!(overall(&[expiring(), passed()], true), Overall::Ready);
    }

    #[test]
    fn next_step_follows_the_onboarding_order() {
        assert_eq!(next_step([&passed()], false, true), NextStep::FixPosture);
        assert_eq!(
            next_step([&CertStatus::NotStarted], true, true),
            NextStep::Train
        );
        assert_eq!(
            next_step([&passed()], true, true),
            NextStep::SignAcknowledgement
        );
        assert_eq!(next_step([&expiring()], true, false), NextStep::Recertify);
        assert_eq!(
            next_step([&CertStatus::Expired { expired_at: t(0) }], true, false),
            NextStep::Recertify
        );
        assert_eq!(next_step([&passed()], true, false), NextStep::Nothing);
    }

    #[test]
    fn posture_notices_fire_on_transitions_only() {
        let fw = vec!["firewall".to_owned()];
        assert_eq!(
            posture_notice(None, &fw),
            Some(Notice::PostureFailed { facts: fw.clone() }),
            "failing at start is worth telling"
        );
        assert_eq!(posture_notice(None, &[]), None, "ok at start is not news");
        assert_eq!(
            posture_notice(Some(false), &fw),
            None,
            "still failing: already told"
        );
        assert_eq!(posture_notice(Some(false), &[]), Some(Notice::PostureFixed));
        assert_eq!(posture_notice(Some(true), &[]), None);
    }

    #[test]
    fn a_burst_makes_one_notification_then_one_summary() {
        let mut th = Throttle::new(Duration::seconds(60));
        let n = |i: i64| Notice::Expiring {
            track: format!("T{i}"),
            days: i,
        };
        assert_eq!(th.offer(n(1), t(0)), Some(Release::One(n(1))));
        for i in 2..20 {
            assert_eq!(
                th.offer(n(i), t(i)),
                None,
                "inside the window nothing is shown"
            );
        }
        assert_eq!(th.poll(t(59)), None);
        match th.poll(t(60)) {
            Some(Release::Many(all)) => assert_eq!(all.len(), 18, "every held notice, once"),
            other => panic!("expected one summary, got {other:?}"),
        }
        assert_eq!(th.poll(t(500)), None, "nothing held, nothing shown");
        assert_eq!(th.offer(n(1), t(500)), Some(Release::One(n(1))));
    }

    #[test]
    fn the_same_notice_repeated_in_a_burst_is_shown_once() {
        let mut th = Throttle::new(Duration::seconds(60));
        assert!(th.offer(Notice::PostureFixed, t(0)).is_some());
        assert_eq!(th.offer(Notice::PostureFixed, t(1)), None);
        assert_eq!(th.offer(Notice::PostureFixed, t(2)), None);
        assert_eq!(th.poll(t(61)), Some(Release::One(Notice::PostureFixed)));
    }

    #[test]
    fn a_blocked_request_names_the_types_never_a_value() {
        let n = Notice::RequestBlocked {
            types: vec!["AWS_ACCESS_KEY".into()],
        };
        let (title, body) = n.text();
        assert_eq!(title, "Request blocked before upload");
        assert!(
            body.contains("AWS_ACCESS_KEY") && body.contains("nothing was sent"),
            "{body}"
        );
    }

    #[test]
    fn exceptions_announce_approval_and_expiry_once() {
        let now = chrono::Utc::now();
        let ends = now + Duration::days(2);
        let grant = (Some("AI_CONSUMER_EXTERNAL".to_owned()), ends);
        assert_eq!(
            exception_notices(&[], std::slice::from_ref(&grant), now),
            [Notice::ExceptionApproved {
                track: Some("AI_CONSUMER_EXTERNAL".into())
            }]
        );
        let held = std::slice::from_ref(&grant);
        assert!(exception_notices(held, held, now).is_empty(), "nothing new");
        assert!(
            exception_notices(held, &[], now).is_empty(),
            "withdrawn before its end: no expiry notice"
        );
        assert_eq!(
            exception_notices(held, &[], ends + Duration::minutes(1)),
            [Notice::ExceptionExpired {
                track: Some("AI_CONSUMER_EXTERNAL".into())
            }]
        );
    }

    #[test]
    fn a_failing_sync_is_told_once_after_an_hour() {
        let ok = chrono::Utc::now();
        assert_eq!(sync_notice(ok, ok + Duration::minutes(59), false), None);
        assert_eq!(
            sync_notice(ok, ok + Duration::minutes(125), false),
            Some(Notice::SyncFailing { hours: 2 })
        );
        assert_eq!(sync_notice(ok, ok + Duration::minutes(125), true), None);
    }

    #[test]
    fn notice_text_names_kinds_not_values() {
        let (title, body) = Notice::PostureFailed {
            facts: vec!["diskEncryption".into()],
        }
        .text();
        assert_eq!(title, "Device check failed");
        assert!(body.contains("diskEncryption"));
    }
}
