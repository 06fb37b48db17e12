//! How far the gateway is into stopping, as the request path sees it: one
//! atomic read, no lock and no future to poll. The server moves it forward
//! and then wakes every connection, so whoever is waiting there (a body
//! being read, a stream being relayed) is polled and looks.

use std::sync::atomic::{AtomicU8, Ordering};

/// The phases, in the only order they pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Running,
    /// A signal came: no new connections; idle and half-read ones close;
    /// requests being answered get `settings.shutdown_grace` to finish.
    Draining,
    /// The grace period is over: open streams end with an error event.
    Cutting,
}

#[derive(Debug)]
pub struct Shutdown(AtomicU8);

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown(AtomicU8::new(Phase::Running as u8))
    }
}

impl Shutdown {
    pub fn phase(&self) -> Phase {
        match self.0.load(Ordering::Acquire) {
            0 => Phase::Running,
            1 => Phase::Draining,
            _ => Phase::Cutting,
        }
    }

    /// Moves to `phase`, never back.
    pub fn enter(&self, phase: Phase) {
        self.0.fetch_max(phase as u8, Ordering::AcqRel);
    }

    pub fn is_draining(&self) -> bool {
        self.phase() >= Phase::Draining
    }

    pub fn is_cutting(&self) -> bool {
        self.phase() == Phase::Cutting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_only_move_forward() {
        let s = Shutdown::default();
        assert!(!s.is_draining());
        s.enter(Phase::Draining);
        assert!(s.is_draining() && !s.is_cutting());
        s.enter(Phase::Cutting);
        s.enter(Phase::Draining);
        assert_eq!(s.phase(), Phase::Cutting);
    }
}
