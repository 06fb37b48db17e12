//! The admission's end: the response body settles the request's token
//! and budget reservations with the usage the upstream reported, when its
//! last frame leaves (before the client sees the end) or when it is
//! dropped early.

use std::sync::Arc;

use axum::response::Response;

use crate::budget::Reservation;
use crate::limits::Admission;
use crate::telemetry::RequestRecord;

/// What an admitted request holds until its response ends.
#[derive(Default)]
pub struct Held {
    pub limits: Option<Admission>,
    pub budget: Option<Reservation>,
}

impl Held {
    /// The request failed without an answer: nothing was spent, so both
    /// reservations are given back whole (dropped unfinished, the estimate
    /// would stand, as for a client that leaves mid-answer).
    pub fn release(self) {
        self.finish(None, None, false);
    }

    /// Settles both with what the request used and cost.
    fn finish(self, used: Option<u64>, cost: Option<f64>, succeeded: bool) {
        if let Some(admission) = self.limits {
            admission.finish(used, succeeded);
        }
        if let Some(reservation) = self.budget {
            reservation.finish(cost, succeeded);
        }
    }
}

/// `resp` with `held` kept by its body.
pub fn hold(resp: Response, held: Held, record: Arc<RequestRecord>) -> Response {
    if held.limits.is_none() && held.budget.is_none() {
        return resp;
    }
    let succeeded = resp.status().is_success();
    resp.map(|inner| {
        crate::body::on_end(inner, move |_| {
            let (used, cost) = record.read(|f| (f.usage.map(|u| u.total()), f.cost_usd()));
            // Usage known but no price for it (an answer the gateway made,
            // an unpriced backend): nothing is known to charge, so the
            // reservation is not kept as if it had been spent.
            held.finish(used, cost.or(used.map(|_| 0.0)), succeeded);
        })
    })
}
