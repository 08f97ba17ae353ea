//! Alert thresholds, written in the policy as short phrases:
//! `"> 15 exceptions/day"` or `"> 25 events/user/day with confidenceScore < 0.6"`.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Comparison {
    #[serde(rename = ">")]
    Above,
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "<")]
    Below,
    #[serde(rename = "<=")]
    AtMost,
}

impl Comparison {
    fn parse(token: &str) -> Option<Self> {
        match token {
            ">" => Some(Self::Above),
            ">=" => Some(Self::AtLeast),
            "<" => Some(Self::Below),
            "<=" => Some(Self::AtMost),
            _ => None,
        }
    }

    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Self::Above => left > right,
            Self::AtLeast => left >= right,
            Self::Below => left < right,
            Self::AtMost => left <= right,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    Hour,
    Day,
    Week,
}

impl Window {
    pub fn seconds(self) -> i64 {
        match self {
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 604_800,
        }
    }
}

/// Only events whose `field` compares true against `value` count.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventFilter {
    pub field: String,
    pub comparison: Comparison,
    pub value: f64,
}

/// A parsed alert threshold: fire when the count of `metric` events within `window`
/// (per user when `per_user`) compares true against `count`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Threshold {
    pub comparison: Comparison,
    pub count: u64,
    pub metric: String,
    pub per_user: bool,
    pub window: Window,
    pub filter: Option<EventFilter>,
}

impl Threshold {
    /// Parses `OP COUNT METRIC[/user]/WINDOW [with FIELD OP NUMBER]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut words = text.split_whitespace();
        let comparison = words
            .next()
            .and_then(Comparison::parse)
            .ok_or("it must start with >, >=, < or <=")?;
        let count = words
            .next()
            .and_then(|w| w.parse::<u64>().ok())
            .ok_or("a whole number must follow the comparison")?;
        let rate = words
            .next()
            .ok_or("the counted events and window are missing (e.g. exceptions/day)")?;
        let mut parts = rate.split('/');
        let metric = parts
            .next()
            .filter(|m| !m.is_empty())
            .ok_or("name what is counted")?;
        let (per_user, window) = match (parts.next(), parts.next(), parts.next()) {
            (Some("user"), Some(w), None) => (true, w),
            (Some(w), None, None) => (false, w),
            _ => return Err(format!("`{rate}` must be WHAT/WINDOW or WHAT/user/WINDOW")),
        };
        let window = match window {
            "hour" => Window::Hour,
            "day" => Window::Day,
            "week" => Window::Week,
            other => return Err(format!("unknown window `{other}`: use hour, day or week")),
        };
        let filter = match words.next() {
            None => None,
            Some("with") => {
                let field = words.next().ok_or("a field must follow `with`")?;
                let comparison = words
                    .next()
                    .and_then(Comparison::parse)
                    .ok_or("a comparison must follow the field")?;
                let value = words
                    .next()
                    .and_then(|w| w.parse::<f64>().ok())
                    .filter(|v| v.is_finite())
                    .ok_or("a number must follow the filter's comparison")?;
                Some(EventFilter {
                    field: field.to_owned(),
                    comparison,
                    value,
                })
            }
            Some(other) => return Err(format!("unexpected `{other}`: only `with …` may follow")),
        };
        if let Some(extra) = words.next() {
            return Err(format!("unexpected `{extra}` at the end"));
        }
        Ok(Self {
            comparison,
            count,
            metric: metric.to_owned(),
            per_user,
            window,
            filter,
        })
    }

    /// Whether `events` counted in one window crosses the threshold.
    pub fn fires(&self, events: u64) -> bool {
        // Counts far below 2^53 are exact in an f64.
        #[allow(clippy::cast_precision_loss)]
        self.comparison.holds(events as f64, self.count as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_thresholds() {
        let t = Threshold::parse("> 15 exceptions/day").unwrap();
        assert_eq!((t.count, t.per_user, t.window), (15, false, Window::Day));
        assert_eq!(t.metric, "exceptions");
        assert!(t.filter.is_none());
        assert!(
            t.fires(16) && !t.fires(15),
            "> 15 means 16 fires, 15 does not"
        );

        let t = Threshold::parse("> 25 events/user/day with confidenceScore < 0.6").unwrap();
        assert!(t.per_user);
        let f = t.filter.unwrap();
        assert_eq!(f.field, "confidenceScore");
        assert!(f.comparison.holds(0.59, f.value) && !f.comparison.holds(0.6, f.value));
    }

    #[test]
    fn rejects_malformed_thresholds_with_a_reason() {
        for bad in [
            "",
            "15 exceptions/day",
            "> many exceptions/day",
            "> 15 exceptions",
            "> 15 exceptions/fortnight",
            "> 15 events/team/day",
            "> 15 events/day with",
            "> 15 events/day with score ~ 1",
            "> 15 events/day and more",
        ] {
            assert!(Threshold::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
