//! The fixed answers nginx serves in fast-upstream mode, and what the load
//! generator must get back for each: a chat completion, and a stream of
//! [`EVENTS`] `chat.completion.chunk` events then `data: [DONE]`.
//!
//! Both are written the way the gateway passes OpenAI answers through (a
//! whole answer untouched; each event as `data: JSON` and a blank line, no
//! usage-only chunk), so every target, proxied or not, must return them
//! byte for byte. Content chunk `i` carries the text `c{i} `, so a stream
//! that differs can be told apart into lost and reordered events.

/// Events in the fixed stream, before `[DONE]`.
pub const EVENTS: usize = 20;

const ID: &str = "chatcmpl-bench";
const CREATED: u64 = 1_767_225_600;
const UPSTREAM_MODEL: &str = "nginx-model";

/// The non-streaming answer.
pub fn completion() -> String {
    format!(
        concat!(
            r#"{{"id":"{id}","object":"chat.completion","created":{created},"model":"{model}","#,
            r#""choices":[{{"index":0,"message":{{"role":"assistant","content":"Hello, benchmark. "#,
            r#"This is a fixed answer served by nginx."}},"finish_reason":"stop"}}],"#,
            r#""usage":{{"prompt_tokens":12,"completion_tokens":11,"total_tokens":23}}}}"#
        ),
        id = ID,
        created = CREATED,
        model = UPSTREAM_MODEL,
    )
}

/// The stream: [`EVENTS`] chunks, each with one numbered piece of content;
/// the first also carries the role, the last the finish reason and the usage.
pub fn stream() -> String {
    let mut out = String::new();
    for i in 0..EVENTS {
        let role = if i == 0 { r#""role":"assistant","# } else { "" };
        let (finish, usage) = if i + 1 == EVENTS {
            (
                r#""stop""#,
                r#","usage":{"prompt_tokens":12,"completion_tokens":20,"total_tokens":32}"#,
            )
        } else {
            ("null", "")
        };
        out.push_str(&format!(
            concat!(
                r#"data: {{"id":"{id}","object":"chat.completion.chunk","created":{created},"#,
                r#""model":"{model}","choices":[{{"index":0,"delta":{{{role}"content":"c{i} "}},"#,
                r#""finish_reason":{finish}}}]{usage}}}"#,
                "\n\n"
            ),
            id = ID,
            created = CREATED,
            model = UPSTREAM_MODEL,
            role = role,
            i = i,
            finish = finish,
            usage = usage,
        ));
    }
    out.push_str("data: [DONE]\n\n");
    out
}

/// The client's request body; the model only matters to the gateway, which
/// routes `stream` requests to the streaming location.
pub fn request(model: &str, stream: bool) -> String {
    format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"Say hello to the benchmark."}}],"stream":{stream},"max_tokens":512}}"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_valid_openai_json() {
        let v: serde_json::Value = serde_json::from_str(&completion()).unwrap();
        assert_eq!(v["usage"]["total_tokens"], 23);
        let text = stream();
        let events: Vec<&str> = text.split_terminator("\n\n").collect();
        assert_eq!(events.len(), EVENTS + 1);
        assert_eq!(events[EVENTS], "data: [DONE]");
        for (i, e) in events[..EVENTS].iter().enumerate() {
            let v: serde_json::Value =
                serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(v["object"], "chat.completion.chunk");
            assert_eq!(v["choices"][0]["delta"]["content"], format!("c{i} "));
        }
        let req: serde_json::Value = serde_json::from_str(&request("m", true)).unwrap();
        assert_eq!(req["stream"], true);
    }
}
