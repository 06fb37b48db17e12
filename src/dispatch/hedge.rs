//! Hedged requests: when an attempt has had no answer (no commit, for a
//! stream) for the model's `hedge_after`, a second attempt starts on
//! another eligible backend and the first to answer wins. The other is
//! dropped, which closes its upstream connection. At most one hedge per
//! request, never for a pinned one; both attempts count against
//! `max_attempts`.

use std::time::Duration;

use tokio::time::Instant;

use super::attempt::AttemptError;
use super::select::Pick;
use super::{Answered, Dispatch};
use crate::config::Hedge;
use crate::health::TrialGuard;
use crate::protocol::Request;
use crate::telemetry::AttemptLog;

/// How a hedged request's race ended (`switchyard_hedges_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HedgeResult {
    /// The second attempt answered first.
    Won,
    /// The first attempt answered first; the hedge was cancelled.
    Lost,
    /// Neither answered (both failed).
    Failed,
}

impl HedgeResult {
    pub fn name(self) -> &'static str {
        match self {
            HedgeResult::Won => "won",
            HedgeResult::Lost => "lost",
            HedgeResult::Failed => "failed",
        }
    }
}

/// One turn of the attempt loop: the attempt, raced by a hedge if it is slow.
pub(super) struct Race {
    /// The answer, or the last failure.
    pub result: Result<Answered, AttemptError>,
    /// The slot `result` came from.
    pub index: usize,
    /// Failures of the other attempt of a race.
    pub lost: Vec<(usize, AttemptError)>,
    /// The other attempt of a race, dropped once `result` answered.
    pub cancelled: Option<usize>,
    pub hedge: Option<HedgeResult>,
}

impl Dispatch<'_> {
    /// How long to wait before hedging an attempt at `index`; `None`: never.
    fn hedge_delay(&self, index: usize, room: usize) -> Option<Duration> {
        if self.pinned.is_some() || room < 2 {
            return None;
        }
        match self.route.model.hedge? {
            Hedge::After(d) => Some(d),
            Hedge::P95 => self.route.slots[index].stats.p95_latency(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_once(
        &self,
        index: usize,
        trial: Option<TrialGuard>,
        req: &Request,
        limit: Option<Duration>,
        room: usize,
        tried: &mut Vec<usize>,
        all_down: &mut bool,
        rng: &mut fastrand::Rng,
    ) -> Race {
        let single = |result| Race {
            result,
            index,
            lost: Vec::new(),
            cancelled: None,
            hedge: None,
        };
        let Some(delay) = self.hedge_delay(index, room) else {
            return single(self.attempt(index, req, limit, trial).await);
        };
        let first = self.attempt(index, req, limit, trial);
        tokio::pin!(first);
        tokio::select! {
            result = &mut first => return single(result),
            _ = tokio::time::sleep(delay) => {}
        }
        let (second, trial) = match self.next_backend(tried, all_down, rng) {
            Pick::Go(second, trial) => (second, trial),
            _ => return single(first.await),
        };
        tried.push(second);
        tracing::debug!(model = %self.route.model.name, first = %self.route.slots[index].backend.id,
            hedge = %self.route.slots[second].backend.id, "no answer yet: hedging");
        let limit = limit.map(|l| l.saturating_sub(delay));
        let started = Instant::now();
        let hedge = self.attempt(second, req, limit, trial);
        tokio::pin!(hedge);
        let (winner, result, loser) = tokio::select! {
            r = &mut first => (index, r, second),
            r = &mut hedge => (second, r, index),
        };
        let won = if winner == second {
            HedgeResult::Won
        } else {
            HedgeResult::Lost
        };
        if let Ok(reply) = result {
            // The other attempt is dropped here: its upstream connection closes.
            self.note_cancelled(loser, started.elapsed());
            return Race {
                result: Ok(reply),
                index: winner,
                lost: Vec::new(),
                cancelled: Some(loser),
                hedge: Some(won),
            };
        }
        let first_failure = result.err().map(|e| (winner, e));
        let rest = if winner == second {
            first.await
        } else {
            hedge.await
        };
        let hedge = Some(if rest.is_ok() {
            won.swap()
        } else {
            HedgeResult::Failed
        });
        Race {
            result: rest,
            index: loser,
            lost: first_failure.into_iter().collect(),
            cancelled: None,
            hedge,
        }
    }

    /// The race's other attempt, dropped unanswered, in the log line.
    fn note_cancelled(&self, index: usize, elapsed: Duration) {
        let backend = self.route.slots[index].backend.id.clone();
        self.record.update(|f| {
            f.attempts.push(AttemptLog {
                backend,
                outcome: "hedge_cancelled",
                elapsed,
            })
        });
    }
}

impl HedgeResult {
    /// The other attempt answered after all.
    fn swap(self) -> Self {
        match self {
            HedgeResult::Won => HedgeResult::Lost,
            HedgeResult::Lost => HedgeResult::Won,
            HedgeResult::Failed => HedgeResult::Failed,
        }
    }
}
