//! Which backend an attempt goes to: the pin, else the strategy's pick among
//! eligible backends the health state lets through, else (every one being
//! down) what `settings.all_backends_down` says.

use std::time::Duration;

use super::Dispatch;
use crate::clock;
use crate::config::{AllDownPolicy, User};
use crate::error::{echo, EdgeError};
use crate::health::{Availability, Target, TrialGuard};
use crate::routing::{Candidate, Route};

/// Weighted draws before the scan of every backend: with one backend in
/// four down, four draws all miss one time in 256.
const DRAWS: usize = 4;

/// The outcome of choosing the next backend.
pub(super) enum Pick {
    /// Try this backend; the guard holds a half-open circuit's one trial.
    Go(usize, Option<TrialGuard>),
    /// No backend is left for this request.
    Exhausted,
    /// Every backend is down and the policy is to fail; the soonest one is back in this long.
    AllDown(Duration),
}

impl Dispatch<'_> {
    /// `all_down` is set once the request is routed to backends known to be
    /// down (policy `try_anyway`), so later attempts may go to them too.
    pub(super) fn next_backend(
        &self,
        tried: &[usize],
        all_down: &mut bool,
        rng: &mut fastrand::Rng,
    ) -> Pick {
        if let Some(pin) = self.pinned {
            // A pin ignores the circuit; its outcome still updates it.
            return if tried.is_empty() {
                Pick::Go(pin, None)
            } else {
                Pick::Exhausted
            };
        }
        let route = self.route;
        let now = clock::now_ms();
        if let Some(i) = self.sticky.filter(|_| tried.is_empty()) {
            let slot = &route.slots[i];
            let up = slot.stats.availability_for(now, self.tokens) == Availability::Up;
            if up && slot.in_rotation(self.user) && !route.saturated(i) {
                return Pick::Go(i, None);
            }
        }
        if let Some(pick) = self.drawn(tried, now, rng) {
            return pick;
        }
        let eligible: Vec<(usize, Availability)> = (0..route.slots.len())
            .filter(|i| !tried.contains(i) && route.slots[*i].in_rotation(self.user))
            .map(|i| (i, route.slots[i].stats.availability_for(now, self.tokens)))
            .collect();
        let mut lost_race: Vec<usize> = Vec::new();
        loop {
            let cands = up(route, &eligible, &lost_race, now);
            let Some(p) = route.balancer.pick(&cands, rng) else {
                break;
            };
            let index = cands[p].index;
            if !eligible
                .iter()
                .any(|&(i, a)| i == index && a == Availability::Trial)
            {
                return Pick::Go(index, None);
            }
            match self.trial(index, now) {
                Some(guard) => return Pick::Go(index, Some(guard)),
                // Another request took the trial since we looked.
                None => lost_race.push(index),
            }
        }
        self.when_all_down(&eligible, tried, all_down, now)
    }

    /// Up to [`DRAWS`] backends drawn by weight (`routing::draw`), the
    /// first that may take the request kept; `None` sends the caller to
    /// the scan of every backend, which also decides when all are down.
    fn drawn(&self, tried: &[usize], now: u64, rng: &mut fastrand::Rng) -> Option<Pick> {
        let route = self.route;
        for _ in 0..DRAWS {
            let i = route.balancer.draw(rng)?;
            let slot = &route.slots[i];
            if tried.contains(&i) || !slot.in_rotation(self.user) {
                continue;
            }
            // Kept with probability the quota share: the pick's weight.
            if route.balancer.weighs_quota() && rng.f64() >= slot.stats.quota_share(now) {
                continue;
            }
            match slot.stats.availability_for(now, self.tokens) {
                Availability::Up => return Some(Pick::Go(i, None)),
                Availability::Trial => {
                    if let Some(guard) = self.trial(i, now) {
                        return Some(Pick::Go(i, Some(guard)));
                    }
                }
                Availability::Down { .. } => {}
            }
        }
        None
    }

    /// Takes the one trial request of backend `i`'s half-open circuit;
    /// `None` when another request has it.
    fn trial(&self, i: usize, now: u64) -> Option<TrialGuard> {
        let slot = &self.route.slots[i];
        let target = Target {
            model: &self.route.model.name,
            backend: &slot.backend,
        };
        slot.stats.try_trial(now, target)
    }

    fn when_all_down(
        &self,
        eligible: &[(usize, Availability)],
        tried: &[usize],
        all_down: &mut bool,
        now: u64,
    ) -> Pick {
        // Backends that were up already failed this request: known-down ones won't do better.
        if !tried.is_empty() && !*all_down {
            return Pick::Exhausted;
        }
        let soonest = eligible
            .iter()
            .map(|&(i, a)| match a {
                Availability::Down { until } => (until, i),
                _ => (now, i),
            })
            .min();
        let Some((until, index)) = soonest else {
            return Pick::Exhausted;
        };
        match self.config.settings.all_backends_down {
            AllDownPolicy::Fail if tried.is_empty() => {
                Pick::AllDown(Duration::from_millis(clock::until(now, until)))
            }
            AllDownPolicy::Fail => Pick::Exhausted,
            AllDownPolicy::TryAnyway => {
                *all_down = true;
                Pick::Go(index, None)
            }
        }
    }

    /// How long until the soonest of the request's backends (the pin, else
    /// the user's backends in rotation) takes traffic again; zero when one
    /// already does.
    pub(super) fn soonest_back(&self) -> Duration {
        let route = self.route;
        let now = clock::now_ms();
        let wait = |i: usize| match route.slots[i].stats.availability(now) {
            Availability::Down { until } => clock::until(now, until),
            _ => 0,
        };
        let soonest = match self.pinned {
            Some(pin) => wait(pin),
            None => (0..route.slots.len())
                .filter(|&i| route.slots[i].in_rotation(self.user))
                .map(wait)
                .min()
                .unwrap_or(0),
        };
        Duration::from_millis(soonest)
    }
}

/// The eligible backends that may take traffic now.
fn up<'r>(
    route: &'r Route,
    eligible: &[(usize, Availability)],
    skip: &[usize],
    now: u64,
) -> Vec<Candidate<'r>> {
    eligible
        .iter()
        .filter(|(i, a)| !matches!(a, Availability::Down { .. }) && !skip.contains(i))
        .map(|&(i, _)| Candidate::new(i, &route.slots[i].backend, &route.slots[i].stats, now))
        .collect()
}

/// Resolves a `backend` pin to the index of a backend this user may pin.
pub fn pin(route: &Route, user: &User, id: &str) -> Result<usize, EdgeError> {
    if !user.allow_backend_pin {
        let message = format!("user {:?} may not pin requests to a backend", user.id);
        return Err(EdgeError::Forbidden {
            message,
            code: "backend_pin_not_allowed",
        });
    }
    let Some(index) = route.visible(id, user) else {
        let mine: Vec<&str> = route.in_rotation(user).collect();
        let message = format!(
            "backend {:?} is not a backend of model `{}`; backends you may pin: {}",
            echo(id),
            route.model.name,
            mine.join(", ")
        );
        return Err(EdgeError::bad_request(
            message,
            Some("backend"),
            Some("backend_not_found"),
        ));
    };
    let slot = &route.slots[index];
    let why = if !slot.backend.enabled {
        "in the configuration"
    } else if slot.switch.disabled() {
        "at runtime by an admin"
    } else {
        return Ok(index);
    };
    let message = format!(
        "backend {id:?} of model `{}` is disabled {why}",
        route.model.name
    );
    Err(EdgeError::bad_request(
        message,
        Some("backend"),
        Some("backend_disabled"),
    ))
}
