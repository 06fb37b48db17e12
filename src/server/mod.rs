//! The HTTP edge: routes, authentication, errors, request tracking.

mod admin;
pub mod auth;
pub mod error;
mod routes;
mod track;

use std::future::Future;

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

/// Serves until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
