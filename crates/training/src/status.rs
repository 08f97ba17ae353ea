//! Certification status per track, attempt gating (attempts allowed, lock, cool-down) and
//! recertification reminders. Time is always passed in: the logic never reads a clock, so tests
//! can run a year in a loop.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

pub use certgate_policy::clock::{Clock, FixedClock, SystemClock};

/// Days before expiry at which a reminder fires.
pub const REMINDER_DAYS: [i64; 3] = [30, 14, 3];

/// The policy's rules for one track.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackRules {
    pub min_score_pct: f64,
    pub attempts_allowed: u32,
    pub cooldown_minutes: u32,
    pub recertify_days: u32,
}

impl From<&certgate_policy::model::Track> for TrackRules {
    fn from(t: &certgate_policy::model::Track) -> Self {
        Self {
            min_score_pct: t.quiz.min_score_pct,
            attempts_allowed: t.quiz.attempts_allowed,
            cooldown_minutes: t.quiz.cooldown_minutes,
            recertify_days: t.recertify_days,
        }
    }
}

impl TrackRules {
    /// The policy's rules for a track, with the bundle's cool-down when it is longer.
    pub fn for_track(
        track: &certgate_policy::model::Track,
        content: Option<&crate::model::TrackContent>,
    ) -> Self {
        let mut rules = Self::from(track);
        if let Some(minutes) = content.and_then(|c| c.cooldown_minutes) {
            rules.cooldown_minutes = rules.cooldown_minutes.max(minutes);
        }
        rules
    }

    /// The rules of `track` under `policy` with the course's own settings, or `None` when the
    /// policy defines no such track.
    pub fn in_policy(
        policy: &certgate_policy::Policy,
        bundle: &crate::Bundle,
        track: &str,
    ) -> Option<Self> {
        policy
            .track(track)
            .map(|t| Self::for_track(t, bundle.track(track)))
    }
}

/// What status needs to know of one submitted attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    pub submitted_at: DateTime<Utc>,
    pub passed: bool,
    /// The org server re-graded and confirmed it.
    pub verified: bool,
}

/// One track's local history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackHistory {
    /// Oldest first.
    pub attempts: Vec<AttemptOutcome>,
    /// The latest exception or reset that unlocked the track.
    pub last_reset: Option<DateTime<Utc>>,
    /// Any module of the track opened.
    pub modules_started: bool,
}

/// Certification status of one track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum CertStatus {
    NotStarted,
    InProgress,
    /// Certified; `verified` is false until the server confirms (pending verification).
    Passed {
        verified: bool,
        passed_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// Certified, 30 days or less before expiry.
    Expiring {
        verified: bool,
        passed_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        days_left: i64,
    },
    /// The last attempt failed; more are allowed.
    Failed {
        attempts_left: u32,
        retry_at: Option<DateTime<Utc>>,
    },
    /// Every allowed attempt failed: only an exception or a reset unlocks it.
    Locked {
        since: DateTime<Utc>,
    },
    /// The certification ran out; it no longer gates anything.
    Expired {
        expired_at: DateTime<Utc>,
    },
}

impl CertStatus {
    /// Whether the track counts as certified now: an expired certification stops at once.
    pub fn is_certified(&self) -> bool {
        matches!(self, Self::Passed { .. } | Self::Expiring { .. })
    }

    /// A short label: `not started`, `passed (pending verification)`, `expiring in 12 days`…
    pub fn label(&self) -> String {
        match self {
            Self::NotStarted => "not started".into(),
            Self::InProgress => "in progress".into(),
            Self::Passed { verified: true, .. } => "passed".into(),
            Self::Passed {
                verified: false, ..
            } => "passed (pending verification)".into(),
            Self::Expiring { days_left, .. } => format!("expiring in {days_left} day(s)"),
            Self::Failed { attempts_left, .. } => {
                format!("failed ({attempts_left} attempt(s) left)")
            }
            Self::Locked { .. } => "locked".into(),
            Self::Expired { .. } => "expired".into(),
        }
    }
}

/// Why an attempt cannot start now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    #[error(
        "all {attempts} allowed attempt(s) failed, so the track is locked: request an exception from your manager and the security owner (the policy's exception path), or ask your admin to reset your attempts"
    )]
    Locked { attempts: u32 },
    #[error("you can try again after {until} (cool-down between attempts)")]
    CoolingDown { until: DateTime<Utc> },
}

/// The status of a track at `now`.
pub fn track_status(rules: &TrackRules, history: &TrackHistory, now: DateTime<Utc>) -> CertStatus {
    let last_pass = history.attempts.iter().rev().find(|a| a.passed);
    if let Some(pass) = last_pass {
        let expires_at = pass.submitted_at + Duration::days(i64::from(rules.recertify_days));
        if now < expires_at {
            let left = expires_at - now;
            if left <= Duration::days(REMINDER_DAYS[0]) {
                // Whole days, rounded up: 1 hour left is "1 day".
                let days_left = (left.num_seconds() + 86_399) / 86_400;
                return CertStatus::Expiring {
                    verified: pass.verified,
                    passed_at: pass.submitted_at,
                    expires_at,
                    days_left,
                };
            }
            return CertStatus::Passed {
                verified: pass.verified,
                passed_at: pass.submitted_at,
                expires_at,
            };
        }
    }
    let window_start = [last_pass.map(|p| p.submitted_at), history.last_reset]
        .into_iter()
        .flatten()
        .max();
    let failed: Vec<&AttemptOutcome> = history
        .attempts
        .iter()
        .filter(|a| !a.passed && window_start.is_none_or(|s| a.submitted_at > s))
        .collect();
    let failed_count = u32::try_from(failed.len()).unwrap_or(u32::MAX);
    if let Some(last) = failed.last() {
        if failed_count >= rules.attempts_allowed {
            return CertStatus::Locked {
                since: last.submitted_at,
            };
        }
        let retry = last.submitted_at + Duration::minutes(i64::from(rules.cooldown_minutes));
        return CertStatus::Failed {
            attempts_left: rules.attempts_allowed - failed_count,
            retry_at: (retry > now).then_some(retry),
        };
    }
    if let Some(pass) = last_pass {
        return CertStatus::Expired {
            expired_at: pass.submitted_at + Duration::days(i64::from(rules.recertify_days)),
        };
    }
    if history.modules_started || !history.attempts.is_empty() {
        CertStatus::InProgress
    } else {
        CertStatus::NotStarted
    }
}

/// Whether a new attempt may start at `now`.
pub fn can_attempt(
    rules: &TrackRules,
    history: &TrackHistory,
    now: DateTime<Utc>,
) -> Result<(), Blocked> {
    match track_status(rules, history, now) {
        CertStatus::Locked { .. } => Err(Blocked::Locked {
            attempts: rules.attempts_allowed,
        }),
        CertStatus::Failed {
            retry_at: Some(until),
            ..
        } => Err(Blocked::CoolingDown { until }),
        _ => Ok(()),
    }
}

/// A recertification reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Reminder {
    /// T-30, T-14, T-3: the certification expires in this many days.
    ExpiresIn { days: i64 },
    /// It expired: access stops until the user passes again.
    Expired,
}

/// When each reminder of a certification expiring at `expires_at` falls due.
pub fn reminder_points(expires_at: DateTime<Utc>) -> Vec<(Reminder, DateTime<Utc>)> {
    REMINDER_DAYS
        .iter()
        .map(|&days| {
            (
                Reminder::ExpiresIn { days },
                expires_at - Duration::days(days),
            )
        })
        .chain([(Reminder::Expired, expires_at)])
        .collect()
}

/// The reminders that fell due in `(since, now]`: call with the time of the previous check, so
/// each fires once however often (or rarely) the app looks.
pub fn due_reminders(
    expires_at: DateTime<Utc>,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Reminder> {
    reminder_points(expires_at)
        .into_iter()
        .filter(|(_, at)| *at > since && *at <= now)
        .map(|(r, _)| r)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(day: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000, 0).unwrap() + Duration::days(day)
    }

    fn rules() -> TrackRules {
        TrackRules {
            min_score_pct: 85.0,
            attempts_allowed: 2,
            cooldown_minutes: 60,
            recertify_days: 180,
        }
    }

    fn attempt(day: i64, passed: bool) -> AttemptOutcome {
        AttemptOutcome {
            submitted_at: t(day),
            passed,
            verified: false,
        }
    }

    #[test]
    fn a_year_in_a_loop_walks_every_status_and_fires_each_reminder_once() {
        let rules = rules();
        let mut history = TrackHistory::default();
        assert_eq!(track_status(&rules, &history, t(0)), CertStatus::NotStarted);
        history.modules_started = true;
        assert_eq!(track_status(&rules, &history, t(0)), CertStatus::InProgress);
        history.attempts.push(attempt(1, true));
        let mut seen = Vec::new();
        let mut fired = Vec::new();
        let mut previous = t(1);
        // Hour by hour for a year.
        for hour in 1..=(365 * 24) {
            let now = t(1) + Duration::hours(hour);
            let status = track_status(&rules, &history, now);
            let label = match &status {
                CertStatus::Passed { .. } => "passed",
                CertStatus::Expiring { .. } => "expiring",
                CertStatus::Expired { .. } => "expired",
                other => panic!("unexpected {other:?}"),
            };
            if seen.last() != Some(&label) {
                seen.push(label);
            }
            if now < t(181) {
                assert!(status.is_certified(), "certified until expiry, at {now}");
            } else {
                assert!(
                    !status.is_certified(),
                    "an expired pass stops gating at {now}"
                );
            }
            fired.extend(due_reminders(t(181), previous, now));
            previous = now;
        }
        assert_eq!(seen, ["passed", "expiring", "expired"]);
        assert_eq!(
            fired,
            [
                Reminder::ExpiresIn { days: 30 },
                Reminder::ExpiresIn { days: 14 },
                Reminder::ExpiresIn { days: 3 },
                Reminder::Expired
            ],
            "each reminder fires exactly once, in order"
        );
    }

    #[test]
    fn expiring_counts_days_left_from_t_minus_30() {
        let history = TrackHistory {
            attempts: vec![attempt(0, true)],
            ..Default::default()
        };
        let at = |day| track_status(&rules(), &history, t(day));
        assert!(matches!(at(149), CertStatus::Passed { .. }), "T-31");
        assert!(matches!(
            at(150),
            CertStatus::Expiring { days_left: 30, .. }
        ));
        assert!(matches!(
            at(166),
            CertStatus::Expiring { days_left: 14, .. }
        ));
        assert!(matches!(at(177), CertStatus::Expiring { days_left: 3, .. }));
        assert_eq!(at(180), CertStatus::Expired { expired_at: t(180) });
    }

    #[test]
    fn failing_every_allowed_attempt_locks_until_a_reset() {
        let mut history = TrackHistory {
            attempts: vec![attempt(0, false)],
            ..Default::default()
        };
        let rules = rules();
        assert!(matches!(
            track_status(&rules, &history, t(0)),
            CertStatus::Failed {
                attempts_left: 1,
                retry_at: Some(_)
            }
        ));
        assert!(
            matches!(
                can_attempt(&rules, &history, t(0) + Duration::minutes(59)),
                Err(Blocked::CoolingDown { .. })
            ),
            "the cool-down holds for 60 minutes"
        );
        assert_eq!(
            can_attempt(&rules, &history, t(0) + Duration::minutes(60)),
            Ok(())
        );
        history.attempts.push(attempt(1, false));
        assert_eq!(
            track_status(&rules, &history, t(2)),
            CertStatus::Locked { since: t(1) }
        );
        let blocked = can_attempt(&rules, &history, t(30)).unwrap_err();
        assert!(
            blocked.to_string().contains("request an exception"),
            "the user is told what to do: {blocked}"
        );
        history.last_reset = Some(t(3));
        assert_eq!(can_attempt(&rules, &history, t(3)), Ok(()));
        history.attempts.push(attempt(4, true));
        assert!(track_status(&rules, &history, t(4)).is_certified());
    }

    #[test]
    fn failures_after_an_expired_pass_count_toward_the_lock_again() {
        let history = TrackHistory {
            attempts: vec![attempt(0, true), attempt(200, false), attempt(201, false)],
            ..Default::default()
        };
        assert!(matches!(
            track_status(&rules(), &history, t(202)),
            CertStatus::Locked { .. }
        ));
        let verified = TrackHistory {
            attempts: vec![AttemptOutcome {
                verified: true,
                ..attempt(0, true)
            }],
            ..Default::default()
        };
        assert_eq!(track_status(&rules(), &verified, t(1)).label(), "passed");
        let pending = TrackHistory {
            attempts: vec![attempt(0, true)],
            ..Default::default()
        };
        assert_eq!(
            track_status(&rules(), &pending, t(1)).label(),
            "passed (pending verification)"
        );
    }
}
