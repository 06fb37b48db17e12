//! Runtime on/off switches an admin flips with `POST /admin/backends/{id}/disable`.
//! Keyed by backend id (and model), not by snapshot, so they survive reloads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// One backend's switches as one model sees them; two atomic loads per read.
#[derive(Debug, Clone, Default)]
pub struct BackendSwitch {
    everywhere: Arc<AtomicBool>,
    here: Arc<AtomicBool>,
}

impl BackendSwitch {
    pub fn disabled(&self) -> bool {
        self.everywhere.load(Relaxed) || self.here.load(Relaxed)
    }
}

/// `None` as the model is the switch for every model.
type Key = (String, Option<String>);

#[derive(Debug, Default)]
pub struct Switches {
    flags: Mutex<HashMap<Key, Arc<AtomicBool>>>,
}

impl Switches {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Arc<AtomicBool>>> {
        self.flags.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn flag(
        map: &mut HashMap<Key, Arc<AtomicBool>>,
        id: &str,
        model: Option<&str>,
    ) -> Arc<AtomicBool> {
        map.entry((id.to_string(), model.map(str::to_string)))
            .or_default()
            .clone()
    }

    /// Called when a snapshot is built, never per request.
    pub fn for_backend(&self, id: &str, model: &str) -> BackendSwitch {
        let mut map = self.lock();
        BackendSwitch {
            everywhere: Self::flag(&mut map, id, None),
            here: Self::flag(&mut map, id, Some(model)),
        }
    }

    /// Takes backend `id` out of rotation in `model`, or in every model.
    pub fn disable(&self, id: &str, model: Option<&str>) {
        Self::flag(&mut self.lock(), id, model).store(true, Relaxed);
    }

    /// Puts backend `id` back in `model` (it stays off in the others when it
    /// was off everywhere), or back everywhere. `models` are those having it.
    pub fn enable(&self, id: &str, model: Option<&str>, models: &[&str]) {
        let mut map = self.lock();
        let everywhere = Self::flag(&mut map, id, None);
        match model {
            None => {
                everywhere.store(false, Relaxed);
                for ((bid, _), flag) in map.iter() {
                    if bid == id {
                        flag.store(false, Relaxed);
                    }
                }
            }
            Some(m) => {
                if everywhere.swap(false, Relaxed) {
                    for other in models.iter().filter(|o| **o != m) {
                        Self::flag(&mut map, id, Some(other)).store(true, Relaxed);
                    }
                }
                Self::flag(&mut map, id, Some(m)).store(false, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_by_model_and_everywhere_survive_new_handles() {
        let s = Switches::default();
        let a1 = s.for_backend("a", "m1");
        let a2 = s.for_backend("a", "m2");
        s.disable("a", Some("m1"));
        assert!(a1.disabled() && !a2.disabled());
        s.disable("a", None);
        assert!(a2.disabled());
        assert!(
            s.for_backend("a", "m2").disabled(),
            "a rebuilt snapshot sees the same switch"
        );
        s.enable("a", Some("m1"), &["m1", "m2"]);
        assert!(!a1.disabled() && a2.disabled(), "on in m1 only");
        s.enable("a", None, &["m1", "m2"]);
        assert!(!a1.disabled() && !a2.disabled());
        assert!(!s.for_backend("b", "m1").disabled());
    }
}
