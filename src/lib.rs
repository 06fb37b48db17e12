//! Switchyard: one endpoint in front of many LLM backends.
//!
//! A request passes through the layers in this order (each only imports the
//! ones below it; docs/architecture.md draws them):
//!
//! 1. [`server`]: the HTTP edge. `track` gives every request an id and its
//!    one log line and metrics update; routes hand endpoint requests to
//!    the pipeline.
//! 2. [`pipeline`]: the one request path every endpoint runs, one stage a
//!    file: authenticate, read and parse (by the [`endpoint`]: chat
//!    completions, Messages and count_tokens, Responses, embeddings, text
//!    completions), resolve the model, permission and `backend` pin (or
//!    the backend keeping the state a request resumes), admit against the
//!    user's [`limits`] and [`budget`]s, pick the conversation's backend
//!    ([`routing`]'s affinity), dispatch, encode, record.
//! 3. [`dispatch`]: the attempt loop. For each attempt [`routing`] picks a
//!    backend among those still eligible, skipping those [`health`] says
//!    are down or out of quota; failures fail over, a slow attempt may be
//!    hedged; a stream commits to its backend at its first content.
//! 4. [`protocol`]: the backend's wire protocol: its request, its answers
//!    (whole or streamed) back in the client's API, its errors, its probe.
//! 5. [`upstream`]: the pooled HTTP client every upstream call goes through.
//!
//! Two plug-in points: an [`endpoint`] (a front door: parse its request,
//! write its answers, streams and errors) and a [`protocol`] (an upstream
//! wire protocol). Beside the request path: [`config`] is read into a
//! snapshot held by [`state`], which [`reload`] swaps; the [`prober`] sends
//! active checks; [`shared`] syncs limits and cooldowns through Redis;
//! [`tasks`] owns every background task; [`shutdown`] is how far the
//! gateway is into stopping; [`body`] runs the work a response owes when
//! it ends (the log line, settling an admission); [`telemetry`] writes the
//! log line and metrics; the [`ledger`] keeps one usage row per request
//! that reached an upstream, written off the request path; [`scopes`] is
//! what rate limits and budgets share; [`error`] is the one error type
//! every layer returns; time comes from tokio's clock ([`clock`]), so tests
//! can pause it, and UTC days and months from [`calendar`].

pub mod body;
pub mod budget;
pub mod calendar;
pub mod clock;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod dispatch;
pub mod endpoint;
pub mod error;
pub mod health;
pub mod ledger;
pub mod limits;
pub mod pipeline;
pub mod prober;
pub mod protocol;
pub mod reload;
pub mod routing;
pub mod scopes;
pub mod server;
pub mod shared;
pub mod shutdown;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod upstream;
