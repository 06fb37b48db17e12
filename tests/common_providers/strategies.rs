//! Proptest generators: JSON shaped like each protocol's payloads, with
//! arbitrary (and hostile) values mixed in at every level, so generated
//! inputs get deep into the translators rather than failing at the top.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Keys from OpenAI, Anthropic and Gemini payloads.
const KEYS: &[&str] = &[
    "role",
    "content",
    "type",
    "text",
    "image_url",
    "url",
    "tool_calls",
    "function",
    "name",
    "arguments",
    "id",
    "tool_call_id",
    "parameters",
    "properties",
    "items",
    "anyOf",
    "required",
    "index",
    "delta",
    "usage",
    "input",
    "error",
    "parts",
    "args",
    "message",
    "schema",
];

const WORDS: &[&str] = &[
    "user",
    "assistant",
    "system",
    "developer",
    "tool",
    "function",
    "text",
    "image_url",
    "tool_use",
    "auto",
    "none",
    "required",
    "json_object",
    "json_schema",
    "object",
    "string",
    "data:image/png;base64,AAAA",
    "data:,x",
    "https://x/y.png",
    "{\"a\":1}",
    "{",
    "",
    "[DONE]",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        (-1e6f64..1e6).prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

/// Any JSON, objects keyed from the protocols' vocabulary.
pub fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

/// `shaped` most of the time, anything at all otherwise.
fn mostly(shaped: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![5 => shaped, 1 => json_value()].boxed()
}

/// Like [`mostly`], for request pieces: one bad piece fails a whole
/// request, so they must be rarer there for requests to get through.
fn often(shaped: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![20 => shaped, 1 => json_value()].boxed()
}

fn word_often(list: &'static [&'static str]) -> BoxedStrategy<Value> {
    often(prop::sample::select(list).prop_map(Value::from))
}

fn word(list: &'static [&'static str]) -> BoxedStrategy<Value> {
    mostly(prop::sample::select(list).prop_map(Value::from))
}

fn small_index() -> BoxedStrategy<Value> {
    mostly((0u64..3).prop_map(Value::from))
}

// ---- OpenAI requests ----

fn text() -> BoxedStrategy<Value> {
    often(".{0,12}".prop_map(Value::from))
}

fn part() -> BoxedStrategy<Value> {
    let url = word_often(&[
        "data:image/png;base64,AAAA",
        "data:;base64,",
        "https://x/a.webp",
        "ftp://x",
    ]);
    let kind = word_often(&[
        "text",
        "text",
        "image_url",
        "image_url",
        "refusal",
        "input_audio",
    ]);
    often(
        (kind, text(), url)
            .prop_map(|(t, text, url)| json!({"type": t, "text": text, "refusal": text, "image_url": {"url": url}})),
    )
}

fn tool_call() -> BoxedStrategy<Value> {
    let args = word_often(&["{\"city\":\"Paris\"}", "", "{", "[1]", "{}", "{}"]);
    often(
        (word_often(&["call_1", "call_2"]), word_often(&["get_weather", "f"]), args)
            .prop_map(|(id, name, args)| json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}})),
    )
}

fn message() -> BoxedStrategy<Value> {
    let content = prop_oneof![
        3 => text(),
        3 => prop::collection::vec(part(), 0..4).prop_map(Value::Array),
        1 => json_value(),
    ];
    let calls = prop::collection::vec(tool_call(), 0..3).prop_map(Value::Array);
    let role = word_often(&[
        "user",
        "assistant",
        "system",
        "developer",
        "tool",
        "user",
        "assistant",
        "function",
    ]);
    often(
        (role, content, calls, word_often(&["call_1", "call_2"])).prop_map(|(role, content, calls, id)| {
            json!({"role": role, "content": content, "tool_calls": calls, "tool_call_id": id})
        }),
    )
}

const FIELDS: &[&str] = &[
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
    "n",
    "logprobs",
    "top_logprobs",
    "audio",
    "modalities",
    "logit_bias",
    "user",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "parallel_tool_calls",
    "stream_options",
    "metadata",
    "unknown_field",
];

/// Request bodies: mostly chat requests, sometimes any JSON or bytes.
pub fn request_body() -> impl Strategy<Value = Vec<u8>> {
    let shaped = (
        prop::collection::vec(message(), 0..6),
        prop::collection::vec(
            (
                prop::sample::select(FIELDS),
                prop_oneof![2 => leaf(), 1 => json_value()],
            ),
            0..4,
        ),
        any::<bool>(),
    )
        .prop_map(|(messages, fields, stream)| {
            let mut m = Map::new();
            m.insert("model".into(), "m".into());
            m.insert("messages".into(), Value::Array(messages));
            m.insert("stream".into(), stream.into());
            for (k, v) in fields {
                m.insert(k.to_string(), v);
            }
            Value::Object(m).to_string().into_bytes()
        });
    prop_oneof![
        6 => shaped,
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

// ---- Upstream answers and stream events ----

fn anthropic_usage() -> BoxedStrategy<Value> {
    mostly((any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(i, o, c)| {
        json!({"input_tokens": i, "output_tokens": o, "cache_read_input_tokens": c, "cache_creation_input_tokens": c})
    }))
}

/// Anthropic stream events (and, with `content`, whole messages).
pub fn anthropic() -> BoxedStrategy<Value> {
    let kind = word(&[
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
        "ping",
        "error",
    ]);
    let block = (word(&["text", "tool_use", "thinking"]), json_value(), word(&["f", ""]))
        .prop_map(|(t, text, name)| json!({"type": t, "text": text, "id": "toolu_1", "name": name, "input": {}}))
        .boxed();
    // Text and JSON fragments are strings; sometimes not, which must fail
    // the event rather than drop its text.
    let text = || mostly("[a-z \\n\"{}]{0,8}".prop_map(Value::from));
    let delta = (word(&["text_delta", "input_json_delta", "thinking_delta"]), text(), text())
        .prop_map(|(t, text, pj)| json!({"type": t, "text": text, "partial_json": pj, "stop_reason": "tool_use"}));
    let blocks = prop::collection::vec(block.clone(), 0..3).prop_map(Value::Array);
    mostly(
        (kind, small_index(), block, delta, anthropic_usage(), blocks).prop_map(|(t, index, block, delta, usage, blocks)| {
            json!({"type": t, "index": index, "content_block": block, "delta": delta, "usage": usage,
                   "message": {"id": "msg", "model": "c", "usage": usage}, "content": blocks,
                   "stop_reason": "end_turn", "error": {"type": "overloaded_error", "message": "x"}})
        }),
    )
}

fn gemini_part() -> BoxedStrategy<Value> {
    mostly(prop_oneof![
        (json_value(), any::<bool>())
            .prop_map(|(t, thought)| json!({"text": t, "thought": thought})),
        (word(&["get_weather", ""]), json_value())
            .prop_map(|(n, a)| json!({"functionCall": {"name": n, "args": a}})),
    ])
}

fn candidate() -> BoxedStrategy<Value> {
    let finish = prop::option::of(word(&["STOP", "MAX_TOKENS", "SAFETY", "OTHER"]));
    mostly(
        (prop::collection::vec(gemini_part(), 0..3), finish, prop::option::of(small_index())).prop_map(|(parts, finish, index)| {
            json!({"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": index})
        }),
    )
}

/// Gemini responses and stream events.
pub fn gemini() -> BoxedStrategy<Value> {
    let usage = (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(p, c, t)| {
        json!({"promptTokenCount": p, "candidatesTokenCount": c, "thoughtsTokenCount": t, "cachedContentTokenCount": p})
    });
    mostly(
        (prop::collection::vec(candidate(), 0..3), mostly(usage), any::<bool>()).prop_map(|(cands, usage, blocked)| {
            let feedback = if blocked { json!({"blockReason": "SAFETY"}) } else { Value::Null };
            json!({"candidates": cands, "usageMetadata": usage, "modelVersion": "g", "promptFeedback": feedback})
        }),
    )
}

/// OpenAI chunks and completions.
pub fn openai() -> BoxedStrategy<Value> {
    let choice = (json_value(), prop::option::of(word(&["stop", "tool_calls"])))
        .prop_map(|(c, f)| json!({"index": 0, "delta": {"content": c}, "message": {"content": c}, "finish_reason": f}));
    mostly(
        (prop::collection::vec(choice, 0..2), json_value())
            .prop_map(|(choices, usage)| json!({"choices": choices, "usage": usage})),
    )
}

/// Any protocol's payload as upstream text, sometimes not JSON at all.
pub fn upstream_data() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => anthropic().prop_map(|v| v.to_string()),
        3 => gemini().prop_map(|v| v.to_string()),
        2 => openai().prop_map(|v| v.to_string()),
        1 => ".{0,20}".prop_map(String::from),
        1 => Just("[DONE]".to_string()),
    ]
}
