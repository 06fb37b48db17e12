//! Conversation affinity: the requests of one conversation go to the
//! backend the conversation last used, so the provider's prompt cache (kept
//! per account) pays off, while that backend is in rotation and not
//! saturated. The table is bounded (moka, least recently used first), entries expire after the
//! model's `affinity_ttl` without use (checked on tokio's clock, so tests
//! can pause it), and it is shared through Redis when the state is.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use moka::policy::EvictionPolicy;
use moka::sync::Cache;

use crate::clock;

/// Conversations remembered per instance; the least recently used go first.
const CAPACITY: u64 = 100_000;

/// A conversation's identity within one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key(pub u64);

impl Key {
    /// The key of `value` (from `source`) for `model`. Stable across
    /// processes, so instances sharing Redis agree.
    pub fn new(model: &str, source: &str, value: &[u8]) -> Self {
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        (model, source).hash(&mut h);
        h.write(value);
        Key(h.finish())
    }
}

/// Where instances share the table (Redis), beside the request.
pub trait Remote: Send + Sync {
    /// The backend id the key last used at any instance.
    fn get(&self, key: Key) -> Pin<Box<dyn Future<Output = Option<String>> + Send + '_>>;
    /// Remembers the backend for `ttl`, without waiting.
    fn set(self: Arc<Self>, key: Key, backend: String, ttl: Duration);
}

#[derive(Debug)]
struct Sticky {
    backend: Arc<str>,
    /// Clock ms of the last use.
    used: AtomicU64,
}

/// What the table knew of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// The backend it last used, within the TTL.
    Backend(Arc<str>),
    /// It had one, unused for longer than the TTL.
    Expired,
    Unknown,
}

/// The table of every model's conversations.
pub struct Affinities {
    local: Cache<Key, Arc<Sticky>>,
    remote: Option<Arc<dyn Remote>>,
}

impl Affinities {
    pub fn new(remote: Option<Arc<dyn Remote>>) -> Self {
        Affinities {
            // LRU, not moka's default TinyLFU: that refuses a key never
            // read yet once the table is full, and every key here is new
            // when it is written.
            local: Cache::builder()
                .max_capacity(CAPACITY)
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            remote,
        }
    }

    /// The backend `key` last used, here or (on a miss) at another instance.
    pub async fn lookup(&self, key: Key, ttl: Duration) -> Known {
        let now = clock::now_ms();
        if let Some(s) = self.local.get(&key) {
            if clock::until(s.used.load(Relaxed), now) > ttl.as_millis() as u64 {
                self.local.invalidate(&key);
                return Known::Expired;
            }
            return Known::Backend(s.backend.clone());
        }
        match &self.remote {
            Some(remote) => match remote.get(key).await {
                Some(id) => Known::Backend(Arc::from(id)),
                None => Known::Unknown,
            },
            None => Known::Unknown,
        }
    }

    /// `key` used `backend` now.
    pub fn record(&self, key: Key, backend: &str, ttl: Duration) {
        let now = clock::now_ms();
        match self.local.get(&key) {
            Some(s) if &*s.backend == backend => s.used.store(now, Relaxed),
            _ => {
                let sticky = Sticky {
                    backend: Arc::from(backend),
                    used: AtomicU64::new(now),
                };
                self.local.insert(key, Arc::new(sticky));
            }
        }
        if let Some(remote) = &self.remote {
            remote.clone().set(key, backend.to_string(), ttl);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_key_keeps_its_backend_until_unused_for_the_ttl() {
        let t = Affinities::new(None);
        let ttl = Duration::from_secs(600);
        let k = Key::new("m", "session", b"conv-1");
        assert_eq!(t.lookup(k, ttl).await, Known::Unknown);
        t.record(k, "a", ttl);
        tokio::time::advance(Duration::from_secs(599)).await;
        assert_eq!(t.lookup(k, ttl).await, Known::Backend("a".into()));
        t.record(k, "a", ttl);
        tokio::time::advance(Duration::from_secs(599)).await;
        assert_eq!(
            t.lookup(k, ttl).await,
            Known::Backend("a".into()),
            "use renews it"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(t.lookup(k, ttl).await, Known::Expired);
        assert_eq!(
            t.lookup(k, ttl).await,
            Known::Unknown,
            "expired entries are gone"
        );
        t.record(k, "b", ttl);
        assert_eq!(t.lookup(k, ttl).await, Known::Backend("b".into()));
    }

    #[test]
    fn keys_differ_by_model_and_source() {
        let a = Key::new("m", "session", b"x");
        assert_eq!(a, Key::new("m", "session", b"x"));
        assert_ne!(a, Key::new("n", "session", b"x"));
        assert_ne!(a, Key::new("m", "user", b"x"));
    }
}
