//! The APIs the gateway serves, one per front door, and what the request
//! parser needs to know about each.

/// The API a request was written in: the endpoint the client called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI's `POST /v1/chat/completions`.
    ChatCompletions,
    /// Anthropic's `POST /v1/messages`.
    Messages,
    /// Anthropic's `POST /v1/messages/count_tokens`.
    CountTokens,
    /// OpenAI's `POST /v1/responses`.
    Responses,
    /// OpenAI's `POST /v1/embeddings`.
    Embeddings,
    /// OpenAI's legacy text completions, `POST /v1/completions`.
    Completions,
}

impl Api {
    /// The path clients call, for messages naming the endpoint.
    pub fn path(self) -> &'static str {
        match self {
            Api::ChatCompletions => "/v1/chat/completions",
            Api::Messages => "/v1/messages",
            Api::CountTokens => "/v1/messages/count_tokens",
            Api::Responses => "/v1/responses",
            Api::Embeddings => "/v1/embeddings",
            Api::Completions => "/v1/completions",
        }
    }

    /// Embeddings models serve only this API; every other one generates text.
    pub fn embeds(self) -> bool {
        self == Api::Embeddings
    }

    /// Whether the request's `stream` is the gateway's to read; in the
    /// others (which never stream) it is just another field.
    pub fn streams(self) -> bool {
        !matches!(self, Api::Embeddings | Api::CountTokens)
    }

    /// Anthropic's APIs, whose refusals are worded as Anthropic words them.
    pub fn is_anthropic(self) -> bool {
        matches!(self, Api::Messages | Api::CountTokens)
    }
}

/// What is wrong with one top-level field of a request.
#[derive(Debug, Clone, Copy)]
pub(super) enum Problem {
    Missing,
    /// Present, but not what the API takes (the words say what it takes).
    Not(&'static str),
    Twice,
}

/// The refusal of field `key`, worded as the API's own servers word theirs
/// (clients that show the message look familiar).
pub(super) fn refusal(api: Api, key: &str, problem: Problem) -> String {
    match (api.is_anthropic(), problem) {
        (true, Problem::Missing) => format!("{key}: Field required"),
        (true, Problem::Not(what)) => format!("{key}: must be {what}"),
        (true, Problem::Twice) => format!("{key}: given more than once"),
        (false, Problem::Missing) => format!("you must provide a {key} parameter"),
        (false, Problem::Not(what)) => format!("`{key}` must be {what}"),
        (false, Problem::Twice) => format!("the field `{key}` appears twice"),
    }
}
