//! Front doors: the first plug-in point. An endpoint parses its API's
//! request into the gateway's [`Request`](crate::protocol::Request) and
//! writes answers, streams and errors in its API's shape; the pipeline does
//! the rest. Adding one is a module implementing
//! [`Endpoint`](crate::pipeline::Endpoint) and one route in `server`
//! (docs/architecture.md).

mod chat;
mod completions;
mod embeddings;
mod openai_error;
mod responses;

pub use chat::ChatCompletions;
pub use completions::Completions;
pub use embeddings::Embeddings;
pub use openai_error::error_response as openai_error;
pub use responses::Responses;
