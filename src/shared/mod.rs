//! State shared by several gateway instances through Redis: rate-limit
//! windows (exact per request in [`limits`], or synced beside the requests
//! in [`synced`]), budget windows ([`budget`]) and backend cooldowns
//! and open circuits ([`cooldowns`]).
//!
//! Every call is bounded by `state.timeout`, so an unreachable server costs a
//! request at most that long; what the request does then is
//! `state.on_error`. After a failure the store is skipped for [`BACKOFF`]
//! (then one call tries it again), so while it is down requests go at
//! memory speed rather than each paying the timeout. A failure is logged
//! once per incident (and once more when the server answers again) and
//! counted in `switchyard_state_errors_total`, skipped calls included. The URL may hold a password: it is only
//! ever shown redacted.

mod affinity;
mod budget;
pub mod cooldowns;
mod finishes;
mod limits;
mod synced;

pub use cooldowns::Watched;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::AcqRel, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::clock;
use crate::config::{redact_url, LimitsMode, OnError, StateBackend, StateConfig};

/// How long the store is skipped after a failed call.
pub const BACKOFF: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Redis(String),
    #[error("unexpected reply: {0}")]
    Reply(&'static str),
    #[error("not tried: the store failed less than {BACKOFF:?} ago")]
    BackingOff,
}

/// A connection to the shared store; cheap to share.
pub struct Shared {
    conn: ConnectionManager,
    timeout: Duration,
    on_error: OnError,
    prefix: String,
    /// Tells this process's own announcements apart when they are read back.
    instance: String,
    /// With synced limits: how long this instance's held slots count.
    slot_lease: Duration,
    failing: AtomicBool,
    /// Exact limits' finishes waiting for their batch.
    finishes: finishes::Finishes,
    /// Until when (clock ms) calls skip the store; 0 while it answers.
    retry_at: AtomicU64,
    /// `switchyard_state_errors_total`.
    errors: Counter,
    shown_url: String,
    password: Option<String>,
}

impl Shared {
    /// `None` for the in-memory backend. Connects lazily: the gateway starts
    /// (and follows `on_error`) while the server is down. Needs a Tokio runtime.
    pub fn connect(cfg: &StateConfig, errors: Counter) -> Result<Option<Arc<Self>>, String> {
        let StateBackend::Redis { url } = &cfg.backend else {
            return Ok(None);
        };
        let shown_url = redact_url(url.expose());
        let client = redis::Client::open(url.expose())
            .map_err(|e| format!("state.url {shown_url}: {:?}", e.kind()))?;
        let password = client
            .get_connection_info()
            .redis_settings()
            .password()
            .map(str::to_string);
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(cfg.timeout))
            .set_response_timeout(Some(cfg.timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| format!("state.url {shown_url}: {:?}", e.kind()))?;
        Ok(Some(Arc::new(Shared {
            conn,
            timeout: cfg.timeout,
            on_error: cfg.on_error,
            prefix: cfg.prefix.clone(),
            instance: format!("{:016x}", fastrand::u64(..)),
            slot_lease: match cfg.limits {
                LimitsMode::Synced { interval } => synced::slot_lease(interval),
                LimitsMode::Exact => Duration::ZERO,
            },
            failing: AtomicBool::new(false),
            finishes: finishes::Finishes::new(),
            retry_at: AtomicU64::new(0),
            errors,
            shown_url,
            password,
        })))
    }

    pub fn on_error(&self) -> OnError {
        self.on_error
    }

    /// Runs one call with the timeout, tracking incidents.
    async fn call<T, F>(&self, op: &'static str, work: F) -> Result<T, StoreError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        if !self.may_call() {
            self.errors.inc();
            return Err(StoreError::BackingOff);
        }
        let result = match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Redis(self.scrub(&e.to_string()))),
            Err(_) => Err(StoreError::Timeout(self.timeout)),
        };
        match &result {
            Ok(_) => self.recovered(),
            Err(e) => self.failed(op, e),
        }
        result
    }

    /// Whether a call may go to the store: yes while it answers; during
    /// the back-off no; once it is over, yes for the one call that takes
    /// the next trial (the others keep skipping until that one reports).
    fn may_call(&self) -> bool {
        let at = self.retry_at.load(Relaxed);
        if at == 0 {
            return true;
        }
        let now = clock::now_ms();
        now >= at
            && self
                .retry_at
                .compare_exchange(at, clock::after(now, BACKOFF), Relaxed, Relaxed)
                .is_ok()
    }

    fn failed(&self, op: &str, e: &StoreError) {
        self.errors.inc();
        self.retry_at
            .store(clock::after(clock::now_ms(), BACKOFF), Relaxed);
        if !self.failing.swap(true, AcqRel) {
            let policy = match self.on_error {
                OnError::FailOpen => "serving without shared limits (on_error = fail_open)",
                OnError::FailClosed => "refusing rate-limited requests (on_error = fail_closed)",
            };
            tracing::warn!(target: "switchyard::state", url = %self.shown_url, op, error = %e,
                "shared state store unreachable: {policy}");
        }
    }

    fn recovered(&self) {
        // Read first: a store on every call would bounce the cache line.
        if self.retry_at.load(Relaxed) != 0 {
            self.retry_at.store(0, Relaxed);
        }
        if self.failing.swap(false, AcqRel) {
            tracing::info!(target: "switchyard::state", url = %self.shown_url,
                "shared state store reachable again");
        }
    }

    /// Removes the password from an error text, in case a driver echoes it.
    fn scrub(&self, text: &str) -> String {
        match &self.password {
            Some(p) if !p.is_empty() => text.replace(p.as_str(), "[redacted]"),
            _ => text.to_string(),
        }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}
