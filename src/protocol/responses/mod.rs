//! OpenAI's Responses API (`POST /v1/responses`) behind the other protocols.
//!
//! A Responses upstream (`responses = true` on an `openai` or `azure`
//! provider) gets the request as sent and its answers are relayed
//! ([`relay`]). Every other backend gets it translated to chat completions,
//! the gateway's hub format, which the Anthropic and Gemini protocols
//! translate further; the answer comes back as a `response` object
//! ([`answer`]) or the Responses event sequence ([`stream`]). The
//! field-by-field mapping is in docs/providers.md.

mod answer;
mod chunk;
mod items;
mod output;
pub(super) mod relay;
mod request;
mod stream;
mod tools;

pub(super) use answer::from_chat;
pub(super) use request::{chat_shell, in_responses_terms, to_chat};
pub(super) use stream::FromChat;

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
