//! The policy's `monitoring.alerts`, evaluated on the proxy's own traffic: requests admitted via
//! an exception (`> 15 exceptions/day`) and answers below a confidence
//! (`> 25 events/user/day with confidenceScore < 0.6`). Counts are over a sliding window ending
//! now; an alert fires once when its threshold starts to hold and re-arms when it stops holding.
//! Time is passed in, so tests run a day in a loop.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use certgate_policy::LoadedPolicy;
use certgate_policy::threshold::{EventFilter, Threshold};
use chrono::{DateTime, Utc};

/// What an alert counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Metric {
    /// Requests admitted by an exception grant despite failing the gate.
    Exceptions,
    /// Answers whose confidence passes the filter (`confidenceScore < 0.6`).
    Confidence(EventFilter),
}

/// One alert of the policy the proxy evaluates.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub threshold: Threshold,
    pub notify: Vec<String>,
    pub metric: Metric,
}

/// The alerts of `policy` the proxy can evaluate, and the names of those it cannot (counted
/// elsewhere, e.g. by the org server), so the status can say so.
pub fn rules(policy: &LoadedPolicy) -> (Vec<AlertRule>, Vec<String>) {
    let mut rules = Vec::new();
    let mut elsewhere = Vec::new();
    for a in &policy.policy.monitoring.alerts {
        let t = &a.threshold;
        let metric = match (&t.filter, t.metric.as_str()) {
            (Some(f), _) if f.field == "confidenceScore" => Some(Metric::Confidence(f.clone())),
            (None, "exceptions" | "exception") => Some(Metric::Exceptions),
            _ => None,
        };
        match metric {
            Some(metric) => rules.push(AlertRule {
                name: a.name.clone(),
                threshold: t.clone(),
                notify: a.notify.clone(),
                metric,
            }),
            None => elsewhere.push(a.name.clone()),
        }
    }
    (rules, elsewhere)
}

/// Something that happened to one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// The gate denied it but an exception grant admitted it.
    ExceptionAdmission,
    /// The answer's confidence.
    Confidence(f64),
}

/// An alert that just started to hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Fired {
    pub name: String,
    pub user_id: Option<String>,
    pub count: u64,
    pub notify: Vec<String>,
}

/// What one signal did: the alerts whose threshold holds now (to flag the audit record) and
/// those that just started to hold (to notify).
#[derive(Debug, Default, PartialEq)]
pub struct Observed {
    pub flags: Vec<String>,
    pub fired: Vec<Fired>,
}

#[derive(Debug, Default)]
struct Window {
    /// Event times (Unix seconds), oldest first; at most `count + 1` kept, which is all a
    /// comparison against `count` needs.
    times: VecDeque<i64>,
    firing: bool,
}

/// Sliding-window counters, per rule and (for `/user/` rules) per user. Kept across policy
/// reloads: a rule keeps its counts while its name stays.
#[derive(Debug, Default)]
pub struct Monitor {
    windows: Mutex<HashMap<(String, String), Window>>,
}

impl Monitor {
    /// Counts `signal` for every rule it matches, at `now`.
    pub fn observe(
        &self,
        rules: &[AlertRule],
        signal: Signal,
        user_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Observed {
        let mut out = Observed::default();
        let matching = rules.iter().filter(|r| match (&r.metric, signal) {
            (Metric::Exceptions, Signal::ExceptionAdmission) => true,
            (Metric::Confidence(f), Signal::Confidence(c)) => f.comparison.holds(c, f.value),
            _ => false,
        });
        let Ok(mut windows) = self.windows.lock() else {
            return out;
        };
        let t = now.timestamp();
        for rule in matching {
            let span = rule.threshold.window.seconds();
            let user = if rule.threshold.per_user {
                user_id.unwrap_or_default()
            } else {
                ""
            };
            let w = windows
                .entry((rule.name.clone(), user.to_owned()))
                .or_default();
            w.times.push_back(t);
            while w.times.front().is_some_and(|&old| old <= t - span) {
                w.times.pop_front();
            }
            let cap = usize::try_from(rule.threshold.count.saturating_add(1)).unwrap_or(usize::MAX);
            while w.times.len() > cap {
                w.times.pop_front();
            }
            let count = w.times.len() as u64;
            let holds = rule
                .threshold
                .comparison
                .holds(count as f64, rule.threshold.count as f64);
            if holds {
                out.flags.push(rule.name.clone());
                if !w.firing {
                    out.fired.push(Fired {
                        name: rule.name.clone(),
                        user_id: rule
                            .threshold
                            .per_user
                            .then(|| user.to_owned())
                            .filter(|u| !u.is_empty()),
                        count,
                        notify: rule.notify.clone(),
                    });
                }
            }
            w.firing = holds;
        }
        // One device has few users; drop windows that emptied long ago so the map stays small.
        if windows.len() > 256 {
            windows.retain(|_, w| w.times.back().is_some_and(|&last| last > t - 604_800));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn demo_rules() -> Vec<AlertRule> {
        let p = certgate_policy::demo::load().unwrap();
        let (rules, elsewhere) = rules(&p);
        assert!(
            elsewhere.is_empty(),
            "the demo's two alerts are both the proxy's"
        );
        rules
    }

    #[test]
    fn exception_spike_fires_once_past_the_threshold_and_rearms_after_the_window() {
        let rules = demo_rules();
        let m = Monitor::default();
        let t0: DateTime<Utc> = "2026-03-02T08:00:00Z".parse().unwrap();
        // "> 15 exceptions/day": the 16th admission within a day fires, once.
        for i in 0..15 {
            let o = m.observe(
                &rules,
                Signal::ExceptionAdmission,
                Some("u1"),
                t0 + Duration::minutes(i),
            );
            assert!(
                o.fired.is_empty() && o.flags.is_empty(),
                "{} is not > 15",
                i + 1
            );
        }
        let o = m.observe(
            &rules,
            Signal::ExceptionAdmission,
            Some("u2"),
            t0 + Duration::minutes(20),
        );
        assert_eq!(o.flags, ["spike-in-exceptions"], "16 > 15 flags the record");
        assert_eq!(o.fired.len(), 1, "and notifies");
        assert_eq!(o.fired[0].count, 16);
        assert_eq!(
            o.fired[0].user_id, None,
            "the rule counts all users together"
        );
        assert_eq!(o.fired[0].notify.len(), 2);
        let o = m.observe(
            &rules,
            Signal::ExceptionAdmission,
            Some("u1"),
            t0 + Duration::minutes(21),
        );
        assert_eq!(o.flags.len(), 1, "still over: flagged");
        assert!(o.fired.is_empty(), "but not notified again");
        // A day after the first ones, only a few remain in the window: the alert re-arms.
        let later = t0 + Duration::days(1) + Duration::minutes(30);
        let o = m.observe(&rules, Signal::ExceptionAdmission, Some("u1"), later);
        assert!(
            o.flags.is_empty() && o.fired.is_empty(),
            "the old ones left the window"
        );
        for i in 0..14 {
            m.observe(
                &rules,
                Signal::ExceptionAdmission,
                None,
                later + Duration::seconds(i),
            );
        }
        let o = m.observe(
            &rules,
            Signal::ExceptionAdmission,
            None,
            later + Duration::minutes(1),
        );
        assert_eq!(o.fired.len(), 1, "a second spike notifies again");
    }

    #[test]
    fn low_confidence_counts_per_user_and_only_below_the_filter() {
        let rules = demo_rules();
        let m = Monitor::default();
        let t0: DateTime<Utc> = "2026-03-02T08:00:00Z".parse().unwrap();
        for i in 0..25 {
            let at = t0 + Duration::minutes(i);
            assert!(
                m.observe(&rules, Signal::Confidence(0.3), Some("a"), at)
                    .fired
                    .is_empty()
            );
            assert!(
                m.observe(&rules, Signal::Confidence(0.9), Some("a"), at)
                    .flags
                    .is_empty()
            );
            m.observe(&rules, Signal::Confidence(0.3), Some("b"), at);
        }
        let o = m.observe(
            &rules,
            Signal::Confidence(0.59),
            Some("a"),
            t0 + Duration::hours(1),
        );
        assert_eq!(o.fired.len(), 1, "26th low answer of user a fires");
        assert_eq!(o.fired[0].user_id.as_deref(), Some("a"));
        assert_eq!(o.fired[0].name, "repeated-low-confidence-usage");
        let o = m.observe(&rules, Signal::ExceptionAdmission, Some("a"), t0);
        assert!(
            o.flags.is_empty(),
            "an exception is not a low-confidence event"
        );
    }
}
