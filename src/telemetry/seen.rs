//! Series the request path has already used, read without a lock.
//!
//! `Family::get_or_create` takes the family's `RwLock` and hashes the
//! labels with SipHash, and the caller first builds the labels (a `String`
//! per model and backend); the request path did that 7 times a request.
//! Here a series is found by labels borrowed from the request, in a map
//! behind an `ArcSwap` (one atomic load) hashed with foldhash. A miss, once
//! per series, creates it in the family (which the scrape reads) and
//! publishes a new map. The labels are bounded (see [`super::metrics`]),
//! so the map is too.
//!
//! The maps are sharded by the labels' hash: publishing copies one shard,
//! not every series seen. With one map, a gateway of 50 models and 200
//! backends copied thousands of entries for each first-seen series, and
//! those copies were a fifth of a request's instructions until every
//! series had been seen.

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

use arc_swap::ArcSwap;
use indexmap::{Equivalent, IndexMap};

type Map<K, V> = IndexMap<K, V, foldhash::fast::RandomState>;

/// Labels borrowed from a request that stand for the owned labels `K`:
/// they must hash as `K` does (same fields in the same order; a `&str`
/// hashes as a `String`).
pub trait Borrowed<K>: Hash + Equivalent<K> {
    fn to_owned_labels(&self) -> K;
}

/// Shards per cache: enough that a shard stays a few dozen series at the
/// label counts of docs/metrics.md, few enough to cost nothing idle.
const SHARDS: usize = 32;

/// A lock-free read cache of values made once per label set.
pub struct Seen<K, V> {
    shards: [ArcSwap<Map<K, V>>; SHARDS],
    /// Picks the shard; each shard's map hashes with its own state.
    pick: foldhash::fast::FixedState,
}

impl<K, V> Default for Seen<K, V> {
    fn default() -> Self {
        Seen {
            shards: std::array::from_fn(|_| ArcSwap::from_pointee(Map::default())),
            pick: foldhash::fast::FixedState::default(),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Seen<K, V> {
    /// Runs `f` on the value of `key`, made by `make` the first time.
    pub fn with<Q, R>(&self, key: &Q, make: impl FnOnce(&K) -> V, f: impl FnOnce(&V) -> R) -> R
    where
        Q: Borrowed<K>,
    {
        let shard = &self.shards[self.pick.hash_one(key) as usize % SHARDS];
        if let Some(v) = shard.load().get(key) {
            return f(v);
        }
        let owned = key.to_owned_labels();
        let value = make(&owned);
        // Two requests may miss at once; both make the same series (the
        // family hands out one), the second insert replaces the first.
        shard.rcu(|map| {
            let mut map: Map<K, V> = Map::clone(map);
            map.insert(owned.clone(), value.clone());
            Arc::new(map)
        });
        f(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[derive(Clone, Hash, PartialEq, Eq, Debug)]
    struct Owned {
        a: String,
        b: &'static str,
    }

    #[derive(Hash)]
    struct Key<'a> {
        a: &'a str,
        b: &'static str,
    }

    impl Equivalent<Owned> for Key<'_> {
        fn equivalent(&self, k: &Owned) -> bool {
            self.a == k.a && self.b == k.b
        }
    }

    impl Borrowed<Owned> for Key<'_> {
        fn to_owned_labels(&self) -> Owned {
            Owned {
                a: self.a.to_string(),
                b: self.b,
            }
        }
    }

    #[test]
    fn a_borrowed_key_hashes_as_its_owned_labels() {
        let s = foldhash::fast::FixedState::with_seed(1);
        let owned = Owned {
            a: "m".into(),
            b: "x",
        };
        assert_eq!(s.hash_one(&owned), s.hash_one(Key { a: "m", b: "x" }));
    }

    #[test]
    fn each_value_is_made_once_and_found_after() {
        let seen: Seen<Owned, u32> = Seen::default();
        let mut made = 0;
        for _ in 0..3 {
            let v = seen.with(
                &Key { a: "m", b: "x" },
                |_| {
                    made += 1;
                    7
                },
                |v| *v,
            );
            assert_eq!(v, 7);
        }
        assert_eq!(made, 1);
        let other = seen.with(&Key { a: "m", b: "y" }, |_| 8, |v| *v);
        assert_eq!(other, 8);
    }

    #[test]
    fn many_series_spread_over_the_shards_are_each_made_once() {
        let seen: Seen<Owned, usize> = Seen::default();
        let names: Vec<String> = (0..500).map(|i| format!("m{i}")).collect();
        let mut made = 0;
        for round in 0..2 {
            for (i, name) in names.iter().enumerate() {
                let key = Key { a: name, b: "x" };
                let v = seen.with(
                    &key,
                    |_| {
                        made += 1;
                        i
                    },
                    |v| *v,
                );
                assert_eq!(v, i, "round {round}");
            }
        }
        assert_eq!(made, 500);
    }
}
