//! The HTTP edge: the listener (`listen`: the accept loop and connection
//! limit; `conn`: one connection, its timeouts and its part in shutdown;
//! `service`: the router as hyper's service; `io`: the connection's
//! socket), the routes, request tracking (a request id and one log line
//! each), the admin API and the status page. Every endpoint route runs
//! `pipeline::handle` with its endpoint.

mod access;
pub mod admin;
mod budgets;
mod conn;
mod hot;
mod io;
mod listen;
mod routes;
mod service;
mod status;
mod track;
mod usage;

use std::future::Future;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::endpoint::{ChatCompletions, Completions, CountTokens, Embeddings, Messages, Responses};
use crate::pipeline;
use crate::shutdown::Phase;
use crate::state::AppState;
use conn::Serving;

/// The public API's routes. The connections of `serve` take the endpoint
/// routes (`POST /v1/chat/completions`, ...) past it (`hot`, which lists
/// the same paths); it still answers their other methods.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    if state.snapshot().config.metrics.listen.is_none() {
        router = router.route("/metrics", get(routes::metrics));
    }
    router
        .route(
            "/v1/chat/completions",
            post(pipeline::handle::<ChatCompletions>),
        )
        .route("/v1/messages", post(pipeline::handle::<Messages>))
        .route(
            "/v1/messages/count_tokens",
            post(pipeline::handle::<CountTokens>),
        )
        .route("/v1/responses", post(pipeline::handle::<Responses>))
        .route("/v1/embeddings", post(pipeline::handle::<Embeddings>))
        .route("/v1/completions", post(pipeline::handle::<Completions>))
        .route("/v1/models", get(routes::list_models))
        .route("/v1/models/{*id}", get(routes::get_model))
        .route("/health", get(routes::health))
        .route("/ready", get(admin::ready))
        .route("/status", get(status::page))
        .route("/status/data", get(status::data))
        .route("/status/usage", get(status::usage))
        .route("/admin/backends", get(admin::backends))
        .route("/admin/backends/{backend}/disable", post(admin::disable))
        .route("/admin/backends/{backend}/enable", post(admin::enable))
        .route("/admin/reload", post(admin::reload))
        .route("/admin/usage", get(usage::admin_usage))
        .route("/v1/usage", get(usage::own_usage))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            track::middleware,
        ))
        .with_state(state)
}

/// How long serving waits at start for the ledger's store.
const LEDGER_START: Duration = Duration::from_secs(5);

/// Serves until `shutdown` resolves. Then the listener closes (new
/// connections are refused), the probes stop, connections with no request
/// in flight close at once (idle, or half a request head or body), and the
/// requests being answered get `settings.shutdown_grace` to finish. Streams
/// still open after it end with an error event; the rest is dropped.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Budgets start from the ledger's spend, so its schema must be there.
    if !state.prepare(LEDGER_START).await {
        tracing::warn!(target: "switchyard::usage",
            "usage ledger store not ready: serving; rows wait in memory until it answers");
    }
    let mut serving = serving(router(state.clone()), &state);
    serving.hot = Some(state.clone());
    let mut open = listen::accept_until(listener, serving, shutdown).await;
    state.stop_probes();
    // Read now: a reload may have changed it.
    let grace = state.snapshot().config.settings.shutdown_grace;
    tracing::info!(
        grace_ms = grace.as_millis() as u64,
        open = open.len(),
        "shutting down: listener closed, letting open requests finish"
    );
    state.shutdown().enter(Phase::Draining);
    open.wake_all();
    if !open.closed_within(grace).await {
        tracing::warn!(
            open = open.len(),
            "shutdown grace period over: ending the streams still open with an error event"
        );
        state.shutdown().enter(Phase::Cutting);
        open.wake_all();
        if !open.closed_within(CUT_FLUSH).await {
            tracing::warn!(open = open.len(), "dropping the connections still open");
        }
    }
    drop(open);
    // Every background task (probes, reload watcher, shared-state sync,
    // the metrics listener) ends with the server.
    // The ledger's writer flushes its queue first.
    let drain = crate::ledger::SHUTDOWN_FLUSH + Duration::from_secs(1);
    state.tasks().drain(drain).await;
    Ok(())
}

/// How long streams cut by the shutdown get to send their error event.
const CUT_FLUSH: Duration = Duration::from_secs(1);

fn serving(app: Router, state: &AppState) -> Serving {
    Serving {
        app,
        hot: None,
        limits: state.snapshot().config.server.connections,
        shutdown: state.shutdown().clone(),
        metrics: state.metrics().clone(),
    }
}

/// Serves `/metrics` alone on its own address (`[metrics] listen`), with
/// the same connection limits, until the gateway's tasks stop.
pub async fn serve_metrics(listener: TcpListener, state: AppState) {
    let serving = serving(metrics_router(state.clone()), &state);
    let mut open = listen::accept_until(listener, serving, state.tasks().stopped()).await;
    open.wake_all();
    open.closed_within(CUT_FLUSH).await;
}

/// `/metrics` alone, for `[metrics] listen` on its own address.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(routes::metrics))
        .fallback(routes::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            track::middleware,
        ))
        .with_state(state)
}
