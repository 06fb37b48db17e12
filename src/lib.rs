//! Switchyard: one OpenAI-compatible endpoint in front of many LLM backends.
//!
//! A request passes through the layers in this order:
//!
//! 1. [`server`]: the HTTP edge. `track` gives it a request id and its one log
//!    line; `auth` finds the user by token; the body is read (size-limited)
//!    and parsed once into a [`providers::ChatRequest`].
//! 2. [`proxy`]: checks the model and the user's permissions, resolves a
//!    `backend` pin; then [`limits`] admits the request against the user's
//!    rate limits (in memory, or in Redis through [`shared`]); then the
//!    attempt loop runs.
//! 3. [`routing`]: for each attempt, the model's strategy picks a backend
//!    among those still eligible, skipping those [`health`] says are down
//!    (circuit open, cooling down, disabled by an admin).
//! 4. [`providers`]: the attempt's request in the backend's wire protocol, and
//!    its answer (whole, or stream events) back in OpenAI's format.
//! 5. [`proxy`] again: a stream is committed at its first content; after that
//!    the response body relays it chunk by chunk.
//! 6. [`telemetry`]: when the body ends, the request's log line is written.
//!
//! [`config`] is read into a snapshot held by [`state`], which the request
//! keeps for its whole life; [`reload`] swaps in a new one on file change,
//! SIGHUP or `POST /admin/reload`. Outcomes, and the active probes that
//! run beside requests, feed [`health`]; see docs/health.md.

pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod health;
pub mod limits;
pub mod providers;
pub mod proxy;
pub mod reload;
pub mod routing;
pub mod server;
pub mod shared;
pub mod state;
pub mod telemetry;
pub mod upstream;
