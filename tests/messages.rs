//! Anthropic's Messages API on the front door, over real HTTP: Anthropic
//! clients in front, mock upstreams of every protocol behind. Anthropic
//! upstreams get the client's bytes; the others get chat completions and
//! answer back in Anthropic's shape.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_providers;

#[path = "messages/claude_code.rs"]
mod claude_code;
#[path = "messages/client.rs"]
mod client;
#[path = "messages/errors.rs"]
mod errors;
#[path = "messages/faithful.rs"]
mod faithful;
#[path = "messages/replay.rs"]
mod replay;
#[path = "messages/thinking.rs"]
mod thinking;
#[path = "messages/translated.rs"]
mod translated;

use common_providers::{backend, gateway, mock, provider, user};
use mock_upstream::{Fault, MockServer};

/// Model `m` served by one backend `p` of `kind` in front of `mock`.
async fn single(kind: &str, mock: &MockServer) -> String {
    let upstream = match kind {
        "anthropic" => "claude-up",
        "gemini" => "gemini-2.5-flash",
        _ => "gpt-up",
    };
    gateway(&format!(
        "{}{}{}",
        provider("p", kind, mock, ""),
        backend("p", upstream, ""),
        user()
    ))
    .await
}

/// A mock of `kind` and a gateway serving model `m` from it alone.
async fn one(kind: &str, fault: Fault) -> (MockServer, String) {
    let mock = mock(kind, fault).await;
    let url = single(kind, &mock).await;
    (mock, url)
}
