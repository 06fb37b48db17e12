//! A budget's windows: the UTC day and the UTC month a time falls in, as
//! ids (for keys and for noticing a new window) and their ends.

use crate::calendar::Date;

/// Which window of a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Day,
    Month,
}

impl Span {
    pub fn name(self) -> &'static str {
        match self {
            Span::Day => "daily",
            Span::Month => "monthly",
        }
    }

    /// The window `now_ms` is in: its id (`2026-12-03`, `2026-12`) and end.
    pub fn at(self, now_ms: i64) -> (String, i64) {
        let today = Date::of(now_ms);
        let id = match self {
            Span::Day => today.to_string(),
            Span::Month => format!("{:04}-{:02}", today.year, today.month),
        };
        (id, self.end(now_ms))
    }

    /// When the window `now_ms` is in ends, Unix ms.
    pub fn end(self, now_ms: i64) -> i64 {
        let today = Date::of(now_ms);
        match self {
            Span::Day => today.next_day().start_ms(),
            Span::Month => today.next_month().start_ms(),
        }
    }
}

/// USD as whole nano-dollars, the unit budgets count in (exact in Redis's
/// Lua doubles up to about nine million dollars a window). Rounded to the
/// nearest, so `0.4 * 1e9`'s float noise is no extra nano-dollar; any
/// positive amount is at least one.
pub fn nanos(usd: f64) -> u64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * 1e9).round().clamp(1.0, u64::MAX as f64) as u64
    } else {
        0
    }
}

pub fn usd(nanos: u64) -> f64 {
    nanos as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_end_at_the_next_utc_midnight_and_month() {
        let t = Date::parse("2026-02-28").unwrap().start_ms() + 5_000;
        assert_eq!(
            Span::Day.at(t),
            (
                "2026-02-28".into(),
                Date::parse("2026-03-01").unwrap().start_ms()
            )
        );
        assert_eq!(
            Span::Month.at(t),
            (
                "2026-02".into(),
                Date::parse("2026-03-01").unwrap().start_ms()
            )
        );
        assert_eq!(nanos(0.000_000_000_2), 1, "never to nothing");
        assert_eq!(nanos(0.4) * 5, nanos(2.0), "no float noise");
        assert_eq!(nanos(-1.0), 0);
    }
}
