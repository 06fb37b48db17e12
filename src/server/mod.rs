//! The HTTP edge: the listener, the routes, request tracking (a request id
//! and one log line each), the admin API and the status page. Every
//! endpoint route runs `pipeline::handle` with its endpoint.

mod access;
pub mod admin;
mod budgets;
mod routes;
mod status;
mod track;
mod usage;

use std::future::{Future, IntoFuture};

use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

use crate::endpoint::{ChatCompletions, Completions, Embeddings, Responses};
use crate::pipeline;
use crate::state::AppState;

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
        .route("/v1/responses", post(pipeline::handle::<Responses>))
        .route("/v1/embeddings", post(pipeline::handle::<Embeddings>))
        .route("/v1/completions", post(pipeline::handle::<Completions>))
        .route("/v1/models", get(routes::list_models))
        .route("/v1/models/{*id}", get(routes::get_model))
        .route("/health", get(routes::health))
        .route("/ready", get(admin::ready))
        .route("/status", get(status::page))
        .route("/status/data", get(status::data))
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
const LEDGER_START: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves until `shutdown` resolves. Then the listener closes (new
/// connections are refused), the probes stop, and open requests and streams
/// get `settings.shutdown_grace` to finish before the rest are dropped.
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
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // Carries the grace period, read when the signal comes (a reload may have changed it).
    let (signalled, mut on_signal) = tokio::sync::watch::channel(None);
    let probes = state.clone();
    let signal = async move {
        shutdown.await;
        probes.stop_probes();
        let grace = probes.snapshot().config.settings.shutdown_grace;
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "shutting down: listener closed, letting open requests finish"
        );
        let _ = signalled.send(Some(grace));
    };
    let server = axum::serve(listener, router(state.clone())).with_graceful_shutdown(signal);
    let grace = async {
        match on_signal.wait_for(Option::is_some).await.map(|g| *g) {
            Ok(Some(grace)) => tokio::time::sleep(grace).await,
            // A dropped sender is no signal: never start the grace period.
            _ => std::future::pending::<()>().await,
        }
    };
    let result = tokio::select! {
        r = server.into_future() => r,
        _ = grace => {
            tracing::warn!("shutdown grace period over: dropping the requests still open");
            Ok(())
        }
    };
    // Every background task (probes, reload watcher, shared-state sync,
    // the metrics listener) ends with the server.
    // The ledger's writer flushes its queue first.
    let drain = crate::ledger::SHUTDOWN_FLUSH + std::time::Duration::from_secs(1);
    state.tasks().drain(drain).await;
    result
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
