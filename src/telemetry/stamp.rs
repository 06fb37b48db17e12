//! The request line's timestamp, RFC 3339 with microseconds as
//! `humantime::format_rfc3339_micros` writes it. Turning seconds into a
//! calendar date and going through the formatter was half of the line's
//! cost, so the part up to the second is made once a second per thread and
//! only the microseconds are written per line.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// The second last formatted here, and `YYYY-MM-DDTHH:MM:SS` for it.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Appends `now` as `2026-12-03T15:28:39.509864Z`.
pub fn push(out: &mut String, now: SystemTime) {
    let Ok(since) = now.duration_since(UNIX_EPOCH) else {
        let _ = write!(out, "{}", humantime::format_rfc3339_micros(now));
        return;
    };
    let (secs, micros) = (since.as_secs(), since.subsec_micros());
    let cached = SECOND.with(|cell| {
        let Ok(mut cell) = cell.try_borrow_mut() else {
            return false;
        };
        if cell.0 != secs {
            let text = humantime::format_rfc3339_seconds(now).to_string();
            cell.1 = text.trim_end_matches('Z').to_string();
            cell.0 = secs;
        }
        out.push_str(&cell.1);
        true
    });
    if !cached {
        let _ = write!(out, "{}", humantime::format_rfc3339_micros(now));
        return;
    }
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(micros);
    out.push('.');
    out.extend(std::iter::repeat_n('0', 6 - digits.len()));
    out.push_str(digits);
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn writes_what_humantime_writes() {
        let base = UNIX_EPOCH + Duration::from_secs(1_796_311_719);
        for offset in [
            0, 1, 9, 10, 999, 1_000, 509_864, 999_999, 1_000_000, 61_000_007,
        ] {
            let t = base + Duration::from_micros(offset);
            let mut out = String::new();
            push(&mut out, t);
            assert_eq!(
                out,
                humantime::format_rfc3339_micros(t).to_string(),
                "{offset}"
            );
        }
    }
}
