//! Front doors: the first plug-in point. An endpoint parses its API's
//! request into the gateway's [`Request`](crate::protocol::Request) and
//! writes answers, streams and errors in its API's shape; the pipeline does
//! the rest. Adding one is a module implementing
//! [`Endpoint`](crate::pipeline::Endpoint) and one route in `server`
//! (docs/architecture.md).

mod anthropic_error;
mod chat;
mod completions;
mod embeddings;
pub mod messages;
mod openai_error;
mod responses;

pub use anthropic_error::error_response as anthropic_error;
pub use chat::ChatCompletions;
pub use completions::Completions;
pub use embeddings::Embeddings;
pub use messages::{CountTokens, Messages};
pub use openai_error::error_response as openai_error;
pub use responses::Responses;

/// An upstream of `kind` that rejected a request with `status` and `body`.
#[cfg(test)]
fn test_rejection(kind: &str, status: u16, body: &str) -> crate::error::Rejection {
    let table = toml::Table::new();
    let spec = crate::protocol::spec(kind).unwrap();
    let protocol = (spec.new)(&mut crate::protocol::Options::new(&table));
    let body = bytes::Bytes::from(body.to_string());
    crate::error::Rejection {
        status: axum::http::StatusCode::from_u16(status).unwrap(),
        error: protocol.error(&body),
        body,
        content_type: None,
        api: protocol.api(),
    }
}
