//! The HTTP edge: routes, authentication, errors, request tracking.

mod admin;
pub mod auth;
pub mod error;
mod routes;
mod track;

use std::future::{Future, IntoFuture};

use axum::routing::{get, post};
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(routes::chat))
        .route("/v1/models", get(routes::list_models))
        .route("/v1/models/{*id}", get(routes::get_model))
        .route("/health", get(routes::health))
        .route("/ready", get(admin::ready))
        .route("/admin/backends", get(admin::backends))
        .route("/admin/backends/{backend}/disable", post(admin::disable))
        .route("/admin/backends/{backend}/enable", post(admin::enable))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(axum::middleware::from_fn(track::middleware))
        .with_state(state)
}

/// Serves until `shutdown` resolves. Then the listener closes (new
/// connections are refused), the probes stop, and open requests and streams
/// get `settings.shutdown_grace` to finish before the rest are dropped.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let (signalled, mut on_signal) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = signalled.send(true);
    };
    let server = axum::serve(listener, router(state.clone())).with_graceful_shutdown(signal);
    let grace = async {
        // Only a real signal starts the grace period; a dropped sender never does.
        if on_signal.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
        state.stop_probes();
        let grace = state.snapshot().config.settings.shutdown_grace;
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "shutting down: listener closed, letting open requests finish"
        );
        tokio::time::sleep(grace).await;
    };
    let result = tokio::select! {
        r = server.into_future() => r,
        _ = grace => {
            tracing::warn!("shutdown grace period over: dropping the requests still open");
            Ok(())
        }
    };
    state.stop_probes();
    result
}
