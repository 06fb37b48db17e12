//! Front doors: the first plug-in point. An endpoint parses its API's
//! request into the gateway's [`Request`](crate::protocol::Request) and
//! writes answers, streams and errors in its API's shape; the pipeline does
//! the rest. Adding one is a module implementing
//! [`Endpoint`](crate::pipeline::Endpoint) and one route in `server`
//! (docs/architecture.md).

mod anthropic_error;
mod chat;
pub mod messages;
mod openai_error;

pub use anthropic_error::error_response as anthropic_error;
pub use chat::ChatCompletions;
pub use messages::{CountTokens, Messages};
pub use openai_error::error_response as openai_error;
