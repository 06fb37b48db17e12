//! Conversation affinity shared between instances: `{prefix}:aff:{key}`
//! holds the backend id a conversation last used, with the model's TTL.
//! Reads happen only when this instance does not know the conversation;
//! writes go beside the request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;

use super::Shared;
use crate::routing::affinity::{Key, Remote};

impl Shared {
    fn affinity_key(&self, key: Key) -> String {
        format!("{}:aff:{:016x}", self.prefix, key.0)
    }
}

impl Remote for Shared {
    fn get(&self, key: Key) -> Pin<Box<dyn Future<Output = Option<String>> + Send + '_>> {
        Box::pin(async move {
            let mut conn = self.conn();
            let name = self.affinity_key(key);
            let got: Option<String> = self.call("affinity", conn.get(name)).await.ok()?;
            got
        })
    }

    fn set(self: Arc<Self>, key: Key, backend: String, ttl: Duration) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            let mut conn = self.conn();
            let name = self.affinity_key(key);
            let ms = ttl.as_millis().max(1) as u64;
            let _: Result<(), _> = self.call("affinity", conn.pset_ex(name, backend, ms)).await;
        });
    }
}
