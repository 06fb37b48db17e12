//! OpenAI's rate-limit headers: for requests and for tokens, the tightest
//! window's limit, what is left of it, and when it is full again.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use bytes::BytesMut;

use super::{Status, Verdict};
use crate::config::Kind;

/// A duration as OpenAI writes it (Go's format): `20ms`, `1s`, `1.5s`,
/// `6m0s`, `1h2m3s`. Written digit by digit into one buffer: every
/// response to a user with limits carries two, and `format!` made five
/// strings for each.
pub fn go_duration(ms: u64) -> String {
    let mut out = String::with_capacity(16);
    let mut num = itoa::Buffer::new();
    if ms < 1000 {
        out.push_str(num.format(ms));
        out.push_str(if ms == 0 { "s" } else { "ms" });
        return out;
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, frac) = (rest / 1000, rest % 1000);
    if h > 0 {
        out.push_str(num.format(h));
        out.push('h');
    }
    if h > 0 || m > 0 {
        out.push_str(num.format(m));
        out.push('m');
    }
    out.push_str(num.format(s));
    if frac > 0 {
        // Three digits with the trailing zeros dropped: 500 is `.5`.
        let digits = [frac / 100, frac / 10 % 10, frac % 10];
        let keep = 3 - digits.iter().rev().take_while(|d| **d == 0).count();
        out.push('.');
        out.extend(digits[..keep].iter().map(|d| char::from(b'0' + *d as u8)));
    }
    out.push('s');
    out
}

/// `x-ratelimit-{limit,remaining,reset}-` and the kind, as constants: a
/// name made at run time is parsed again on every response.
const REQUESTS: [HeaderName; 3] = [
    HeaderName::from_static("x-ratelimit-limit-requests"),
    HeaderName::from_static("x-ratelimit-remaining-requests"),
    HeaderName::from_static("x-ratelimit-reset-requests"),
];
const TOKENS: [HeaderName; 3] = [
    HeaderName::from_static("x-ratelimit-limit-tokens"),
    HeaderName::from_static("x-ratelimit-remaining-tokens"),
    HeaderName::from_static("x-ratelimit-reset-tokens"),
];

fn names(kind: Kind) -> [HeaderName; 3] {
    match kind {
        Kind::Requests => REQUESTS,
        Kind::Tokens => TOKENS,
    }
}

/// Sets `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` from the
/// window of each kind with the least left (ties: the one full again last).
pub fn apply(headers: &mut HeaderMap, verdict: &Verdict) {
    // The values are written into one buffer and each header holds a slice
    // of it: one allocation, not one per number.
    let mut text = BytesMut::with_capacity(96);
    let mut values: [Option<[usize; 3]>; 2] = [None; 2];
    for (kind, ends) in KINDS.into_iter().zip(&mut values) {
        let Some(s) = tightest(verdict, kind) else {
            continue;
        };
        let mut num = itoa::Buffer::new();
        let mut push = |value: &str| {
            text.extend_from_slice(value.as_bytes());
            text.len()
        };
        *ends = Some([
            push(num.format(s.window.limit)),
            push(num.format(s.remaining)),
            push(&go_duration(s.reset_ms)),
        ]);
    }
    let text = text.freeze();
    let mut start = 0;
    for (kind, ends) in KINDS.into_iter().zip(values) {
        for (name, end) in names(kind).into_iter().zip(ends.into_iter().flatten()) {
            if let Ok(v) = HeaderValue::from_maybe_shared(text.slice(start..end)) {
                headers.insert(name, v);
            }
            start = end;
        }
    }
}

const KINDS: [Kind; 2] = [Kind::Requests, Kind::Tokens];

fn tightest(verdict: &Verdict, kind: Kind) -> Option<&Status> {
    verdict
        .statuses
        .iter()
        .filter(|s| s.window.kind == kind)
        .min_by_key(|s| (s.remaining, std::cmp::Reverse(s.reset_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::cooldown::go_duration as parse;
    use std::time::Duration;

    #[test]
    fn formats_like_openai_and_parses_back() {
        let cases = [
            (0, "0s"),
            (20, "20ms"),
            (999, "999ms"),
            (1000, "1s"),
            (1500, "1.5s"),
            (1250, "1.25s"),
            (60_000, "1m0s"),
            (360_000, "6m0s"),
            (90_500, "1m30.5s"),
            (3_723_000, "1h2m3s"),
            (86_400_000, "24h0m0s"),
        ];
        for (ms, text) in cases {
            assert_eq!(go_duration(ms), text);
            assert_eq!(parse(text), Some(Duration::from_millis(ms)), "{text}");
        }
    }
}
