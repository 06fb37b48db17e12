//! A model's route: one [`Slot`] per backend, in the model's order, and the
//! balancer that picks among them.

use std::sync::Arc;

use super::Balancer;
use crate::config::{Backend, Model, User};
use crate::health::{BackendStats, BackendSwitch};

/// One backend of a route, with its live stats and runtime switch.
pub struct Slot {
    pub backend: Arc<Backend>,
    /// Shared by every route on the same (provider, upstream model).
    pub stats: Arc<BackendStats>,
    pub switch: BackendSwitch,
}

impl Slot {
    /// Enabled in the config and at runtime, and visible to the user.
    pub fn in_rotation(&self, user: &User) -> bool {
        self.serving() && self.backend.visible_to(user)
    }

    /// Enabled in the config and not switched off by an admin.
    pub fn serving(&self) -> bool {
        self.backend.enabled && !self.switch.disabled()
    }
}

pub struct Route {
    pub model: Arc<Model>,
    pub slots: Vec<Slot>,
    pub balancer: Balancer,
}

impl Route {
    /// The slot of the backend named `id` that `user` may see.
    pub fn visible(&self, id: &str, user: &User) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.backend.id == id && s.backend.visible_to(user))
    }

    /// Whether slot `i` carries far more than its share of the requests in
    /// flight on this route's serving backends: more than twice the even
    /// share plus two (the slack keeps a quiet route from counting one
    /// request as saturation). A saturated backend loses its conversations
    /// to others rather than queueing them.
    pub fn saturated(&self, i: usize) -> bool {
        let serving = self.slots.iter().filter(|s| s.serving());
        let (n, total) = serving.fold((0i64, 0i64), |(n, t), s| (n + 1, t + s.stats.inflight()));
        let fair = total / n.max(1);
        self.slots[i].stats.inflight() > 2 * fair + 2
    }

    /// The ids of the backends in rotation for `user`, in order.
    pub fn in_rotation<'a>(&'a self, user: &'a User) -> impl Iterator<Item = &'a str> + 'a {
        self.slots
            .iter()
            .filter(|s| s.in_rotation(user))
            .map(|s| s.backend.id.as_str())
    }
}
