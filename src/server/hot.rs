//! The endpoint routes (`POST /v1/chat/completions` and the other model
//! endpoints), served by the connection's service itself rather than
//! through the router: axum's routing, its `from_fn` layer and its boxed
//! route futures cost ~12k instructions a request, more than the rest of
//! the edge. They run the very handler and extractor the router would
//! (`pipeline::handle`, `Caller`), and the response gets the same
//! headers; every other request goes to the router.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use http_body::Body as _;

use crate::endpoint::{ChatCompletions, Completions, CountTokens, Embeddings, Messages, Responses};
use crate::pipeline::{self, Caller, Endpoint};
use crate::state::AppState;
use crate::telemetry::RequestRecord;

/// A handler's response, boxed once (as the router boxes each route's).
pub(super) type Handling = Pin<Box<dyn Future<Output = Response> + Send>>;

/// Runs one endpoint's handler on a request.
pub(super) type Handler = fn(AppState, Arc<RequestRecord>, Request) -> Handling;

/// The handler of an endpoint route, `None` for the router's requests
/// (other paths, other methods: the router answers them, 405 included).
/// The paths are `router`'s.
pub(super) fn route(method: &Method, path: &str) -> Option<Handler> {
    if method != Method::POST {
        return None;
    }
    let handler: Handler = match path {
        "/v1/chat/completions" => serve::<ChatCompletions>,
        "/v1/messages" => serve::<Messages>,
        "/v1/messages/count_tokens" => serve::<CountTokens>,
        "/v1/responses" => serve::<Responses>,
        "/v1/embeddings" => serve::<Embeddings>,
        "/v1/completions" => serve::<Completions>,
        _ => return None,
    };
    Some(handler)
}

/// What axum runs for `post(pipeline::handle::<E>)`: the extractors in
/// the handler's order (the caller's rejection is its response), then the
/// handler.
fn serve<E: Endpoint>(state: AppState, record: Arc<RequestRecord>, req: Request) -> Handling {
    // Built in its box: `Box::pin(fut)` builds the future (~7 KB) on the
    // stack and copies all of it into the box, 1.4% of the gateway's CPU
    // time under load (perf), though only its arguments are set.
    let boxed = Box::write(Box::new_uninit(), run::<E>(state, record, req));
    Box::into_pin(boxed)
}

async fn run<E: Endpoint>(state: AppState, record: Arc<RequestRecord>, req: Request) -> Response {
    // The record comes as an argument, not through the request's
    // extensions (an allocation a request when the map is made).
    let caller = match Caller::<E>::check(req.headers(), &state, Some(&record)) {
        Ok(caller) => caller,
        Err(refused) => return refused.into_response(),
    };
    pipeline::handle::<E>(State(state), Extension(record), caller, req).await
}

/// As axum's router does to every route's response: a body of known size
/// gets its `content-length`, unless the handler set one. Hyper writes
/// that very line itself after the map's headers, where axum's insert puts
/// it (~400 instructions less), except for the statuses it sends no length
/// with: those get axum's header.
pub(super) fn set_content_length(resp: &mut Response) {
    let status = resp.status();
    let lengthless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if !lengthless || resp.headers().contains_key(CONTENT_LENGTH) {
        return;
    }
    if let Some(size) = resp.body().size_hint().exact() {
        resp.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(size));
    }
}

/// The request as axum's router hands it on: its body boxed once.
pub(super) fn boxed(req: hyper::Request<hyper::body::Incoming>) -> Request {
    req.map(Body::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The router's pipeline routes, read from its source: `(path, endpoint)`.
    fn router_routes() -> Vec<(String, String)> {
        let text = include_str!("mod.rs").replace(char::is_whitespace, "");
        text.split(".route(\"")
            .skip(1)
            .filter_map(|r| {
                let (path, rest) = r.split_once('"')?;
                let endpoint = rest.strip_prefix(",post(pipeline::handle::<")?;
                let endpoint = endpoint.split_once('>')?.0;
                Some((path.to_string(), endpoint.to_string()))
            })
            .collect()
    }

    #[test]
    fn serves_exactly_the_routers_pipeline_routes() {
        let routes = router_routes();
        assert_eq!(routes.len(), 6, "{routes:?}");
        for (path, _) in &routes {
            assert!(
                route(&Method::POST, path).is_some(),
                "{path} not served here"
            );
            assert!(
                route(&Method::GET, path).is_none(),
                "GET {path}: the router's 405"
            );
        }
        let own = include_str!("hot.rs").replace(char::is_whitespace, "");
        for (path, endpoint) in &routes {
            let line = format!("\"{path}\"=>serve::<{endpoint}>,");
            assert!(own.contains(&line), "{path} runs another endpoint here");
        }
        assert!(route(&Method::POST, "/v1/models").is_none());
    }
}
