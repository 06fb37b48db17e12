//! A translated backend's refusal in the Messages client's terms: the
//! protocol refused a chat completions field the gateway wrote, and the
//! client, who never sent that field, must learn which of its own to change.

use crate::protocol::RequestError;

/// Each chat completions field `to_chat` writes under another name, and
/// the Messages field it came from (`[chat, param, named]`, as
/// [`RequestError::renamed`] takes them). `max_tokens`, `top_k`, `tools`
/// and `tool_choice` keep their names.
const FIELDS: [(&str, &str, &str); 6] = [
    (
        "parallel_tool_calls",
        "tool_choice.disable_parallel_tool_use",
        "tool_choice.disable_parallel_tool_use",
    ),
    (
        "response_format",
        "output_config.format",
        "output_config.format",
    ),
    ("stop", "stop_sequences", "stop_sequences"),
    ("user", "metadata.user_id", "metadata.user_id"),
    ("max_completion_tokens", "max_tokens", "max_tokens"),
    ("reasoning_effort", "thinking", "thinking"),
];

/// `e` naming the client's field, in `param` and in the message.
pub(super) fn in_messages_terms(mut e: RequestError) -> RequestError {
    // The chat side says what it refused, `false`; the client asked for the
    // opposite flag, `true`.
    e.message = e.message.replace(
        "`parallel_tool_calls` false",
        "`tool_choice.disable_parallel_tool_use` true",
    );
    e.renamed(&FIELDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(param: &str, message: &str) -> RequestError {
        in_messages_terms(RequestError {
            message: message.into(),
            param: Some(param.to_string().into()),
        })
    }

    #[test]
    fn a_refused_chat_field_is_named_as_the_client_sent_it() {
        let e = refused(
            "parallel_tool_calls",
            "`parallel_tool_calls` false (at most one call per turn) is not supported on gemini backends",
        );
        assert_eq!(
            e.param.as_deref(),
            Some("tool_choice.disable_parallel_tool_use")
        );
        assert_eq!(
            e.message,
            "`tool_choice.disable_parallel_tool_use` true (at most one call per turn) is not supported on gemini backends"
        );
        let cases = [
            ("response_format", "output_config.format"),
            ("stop", "stop_sequences"),
            ("user", "metadata.user_id"),
            ("max_completion_tokens", "max_tokens"),
            ("max_tokens", "max_tokens"),
            ("top_k", "top_k"),
            ("reasoning_effort", "thinking"),
            ("tools", "tools"),
            ("tool_choice", "tool_choice"),
        ];
        for (chat, client) in cases {
            let e = refused(
                chat,
                &format!("the field `{chat}` is not supported on x backends"),
            );
            assert_eq!(e.param.as_deref(), Some(client), "{chat}");
            assert_eq!(
                e.message,
                format!("the field `{client}` is not supported on x backends")
            );
        }
    }

    #[test]
    fn words_outside_backticks_stay() {
        let e = refused("stop", "`stop` must be a string; the user said stop");
        assert_eq!(
            e.message,
            "`stop_sequences` must be a string; the user said stop"
        );
    }
}
