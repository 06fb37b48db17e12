//! Wall-clock time in UTC calendar terms, for the usage ledger's days and
//! the budgets' day and month windows: Unix milliseconds, days and months
//! (proleptic Gregorian, Howard Hinnant's `days_from_civil`). Pure
//! functions of a time, so tests pick the time.

use std::time::{SystemTime, UNIX_EPOCH};

const DAY_MS: i64 = 86_400_000;

/// Now, in Unix milliseconds.
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A UTC calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// The day `ms` falls on.
    pub fn of(ms: i64) -> Date {
        let z = ms.div_euclid(DAY_MS) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }

    /// Its first millisecond.
    pub fn start_ms(&self) -> i64 {
        let y = self.year - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        (era * 146_097 + doe - 719_468) * DAY_MS
    }

    /// `YYYY-MM-DD`, or `None` for anything else.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.splitn(3, '-');
        let year: i64 = parts.next()?.parse().ok()?;
        let month: u32 = parts.next()?.parse().ok()?;
        let day: u32 = parts.next()?.parse().ok()?;
        let date = Date { year, month, day };
        (text.len() == 10 && Date::of(date.start_ms()) == date).then_some(date)
    }

    pub fn first_of_month(&self) -> Date {
        Date { day: 1, ..*self }
    }

    pub fn next_day(&self) -> Date {
        Date::of(self.start_ms() + DAY_MS)
    }

    pub fn next_month(&self) -> Date {
        match self.month {
            12 => Date {
                year: self.year + 1,
                month: 1,
                day: 1,
            },
            m => Date {
                month: m + 1,
                day: 1,
                ..*self
            },
        }
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_across_leap_years_and_month_ends() {
        let d = Date::of(0);
        assert_eq!(d.to_string(), "1970-01-01");
        // 2024-02-29T23:59:59.999Z and the next millisecond.
        let leap = Date::parse("2024-02-29").unwrap();
        assert_eq!(Date::of(leap.start_ms() + DAY_MS - 1), leap);
        assert_eq!(leap.next_day().to_string(), "2024-03-01");
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(
            Date::parse("2026-12-31").unwrap().next_month().to_string(),
            "2027-01-01"
        );
        assert_eq!(
            Date::parse("2026-12-31").unwrap().next_day().to_string(),
            "2027-01-01"
        );
        for ms in [1_764_720_000_000i64, 951_782_400_000, -86_400_001] {
            let d = Date::of(ms);
            assert!(d.start_ms() <= ms && ms < d.next_day().start_ms(), "{d}");
        }
    }
}
