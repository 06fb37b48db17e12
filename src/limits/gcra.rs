//! The generic cell rate algorithm in exact integer arithmetic, with refunds.
//!
//! A window of `limit` per `period` is a bucket of `limit` cells refilled
//! evenly over the period: a limit of N admits a burst of N, then one more
//! every period/N. The state is one number, the theoretical arrival time
//! (TAT): when the bucket would be full again. To stay exact with any limit
//! and period, time is scaled by the limit (1 ms = `limit` units) and one
//! cell costs `period_ms` units, so no division ever rounds.
//!
//! Why not `governor` (which is GCRA too): an admission must pass every
//! window of a user at once or take from none of them, and token windows
//! reserve an estimate that is corrected (refunded or charged more) when the
//! response ends. governor can neither test several limiters as one nor give
//! cells back, so a request refused by its daily window would still spend
//! its per-minute cell. The Redis store (`shared::limits`) runs the same
//! algorithm in Lua.

use crate::config::Window;

/// What a window looks like after an admission, a refusal or a peek.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub window: Window,
    /// Whole cells still free.
    pub remaining: u64,
    /// Until the bucket is full again (OpenAI's `x-ratelimit-reset-*`).
    pub reset_ms: u64,
    /// When refused: until `cost` cells are free.
    pub retry_after_ms: u64,
}

fn scale(w: &Window) -> (u128, u128) {
    (u128::from(w.limit), w.period.as_millis().max(1))
}

/// Tests `cost` cells against a window whose TAT is `tat` (0: never used)
/// at `now_ms`; on success returns the new TAT. `cost` is clamped to the
/// limit, so an oversized request waits for a full bucket instead of never passing.
pub fn check(tat: u128, now_ms: u64, w: &Window, cost: u64) -> (Option<u128>, Status) {
    let (n, p) = scale(w);
    let now = u128::from(now_ms) * n;
    let cost = u128::from(cost).min(n);
    let base = tat.max(now);
    let used = base - now;
    let capacity = n * p;
    if used + cost * p <= capacity {
        let new_used = used + cost * p;
        return (Some(base + cost * p), status(w, new_used, 0));
    }
    let wait = (used + cost * p - capacity).div_ceil(n);
    (None, status(w, used, wait as u64))
}

fn status(w: &Window, used: u128, retry_after_ms: u64) -> Status {
    let (n, p) = scale(w);
    let free = (n * p).saturating_sub(used) / p;
    Status {
        window: *w,
        remaining: free as u64,
        reset_ms: used.div_ceil(n) as u64,
        retry_after_ms,
    }
}

/// Moves the TAT by a correction: `delta` > 0 charges more cells (the bucket
/// may go into debt, delaying later requests), < 0 gives cells back (never
/// below an empty bucket).
pub fn adjust(tat: u128, now_ms: u64, w: &Window, delta: i64) -> u128 {
    let (n, p) = scale(w);
    let now = u128::from(now_ms) * n;
    let amount = u128::from(delta.unsigned_abs()) * p;
    if delta >= 0 {
        tat.max(now) + amount
    } else {
        tat.saturating_sub(amount).max(now)
    }
}

/// The TAT of a window with `used` units in use (the shared store's view,
/// on this scale) plus `pending` cells taken here since that view was read.
pub fn with_used(used: u128, pending: i64, now_ms: u64, w: &Window) -> u128 {
    let (n, p) = scale(w);
    let extra = u128::from(pending.unsigned_abs()) * p;
    let used = if pending >= 0 {
        used.saturating_add(extra)
    } else {
        used.saturating_sub(extra)
    };
    if used == 0 {
        return 0;
    }
    u128::from(now_ms) * n + used
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Kind;
    use std::time::Duration;

    fn w(limit: u64, secs: u64) -> Window {
        Window {
            kind: Kind::Requests,
            period: Duration::from_secs(secs),
            limit,
        }
    }

    /// Admits `cost` at `now`, updating `tat`; whether it passed.
    fn take(tat: &mut u128, now: u64, win: &Window, cost: u64) -> Status {
        let (next, s) = check(*tat, now, win, cost);
        if let Some(t) = next {
            *tat = t;
        }
        s
    }

    #[test]
    fn a_limit_of_n_admits_a_burst_of_n_then_refills_evenly() {
        let win = w(5, 60);
        let mut tat = 0;
        let now = 1_000_000;
        for left in (0..5).rev() {
            let s = take(&mut tat, now, &win, 1);
            assert_eq!((s.remaining, s.retry_after_ms), (left, 0));
        }
        let s = take(&mut tat, now, &win, 1);
        assert_eq!(s.retry_after_ms, 12_000, "one cell per 60s/5");
        assert_eq!(s.reset_ms, 60_000);
        assert_eq!(take(&mut tat, now + 11_999, &win, 1).retry_after_ms, 1);
        assert_eq!(take(&mut tat, now + 12_000, &win, 1).retry_after_ms, 0);
    }

    #[test]
    fn tokens_are_exact_with_awkward_limits() {
        let win = w(7, 86_400);
        let mut tat = 0;
        assert_eq!(take(&mut tat, 5, &win, 3).remaining, 4);
        assert_eq!(take(&mut tat, 5, &win, 4).remaining, 0);
        let refused = take(&mut tat, 5, &win, 1);
        assert!(refused.retry_after_ms > 0);
        assert_eq!(refused.retry_after_ms, 86_400_000_u64.div_ceil(7));
    }

    #[test]
    fn refunds_and_debts_move_the_bucket() {
        let win = w(100, 60);
        let now = 10;
        let mut tat = 0;
        take(&mut tat, now, &win, 80);
        tat = adjust(tat, now, &win, -50);
        assert_eq!(take(&mut tat, now, &win, 0).remaining, 70);
        tat = adjust(tat, now, &win, 1000);
        let s = take(&mut tat, now, &win, 1);
        assert_eq!(s.remaining, 0);
        assert!(s.retry_after_ms > 60_000, "in debt: {s:?}");
        let empty = adjust(0, now, &win, -5);
        // A refund never leaves the TAT behind now (an empty bucket).
        assert_eq!(empty, u128::from(now) * 100);
        assert_eq!(take(&mut { empty }, now, &win, 0).remaining, 100);
    }

    #[test]
    fn oversized_costs_wait_for_a_full_bucket() {
        let win = w(10, 60);
        let mut tat = 0;
        assert_eq!(take(&mut tat, 0, &win, 50).remaining, 0);
        let s = take(&mut tat, 0, &win, 50);
        assert_eq!(s.retry_after_ms, 60_000);
    }
}
