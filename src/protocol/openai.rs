//! OpenAI-compatible upstreams: the body passes through with `model`
//! rewritten; responses pass through as they came, usage peeked on the way.
//! Chat completions, text completions and embeddings always; the Responses
//! API when the provider says the upstream speaks it (`responses = true`),
//! else it goes through chat completions.

use std::sync::Arc;

use bytes::Bytes;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::responses::relay;
use super::sse::SseEvent;
use super::{
    Answer, Api, EventInfo, Options, Protocol, Request, RequestError, Spec, StreamError,
    StreamTranslator, Support, Upstream, UpstreamError, UpstreamRequest, Usage,
};

pub const SPEC: Spec = Spec {
    name: "openai",
    aliases: &[],
    provider_keys: &["responses"],
    backend_keys: &[],
    new: |o| Arc::new(OpenAi::new(o)),
    base_url,
    address: |model, _| model.to_string(),
};

/// OpenAI paths start after `/v1`.
fn base_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if trimmed.ends_with("/v1") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1")
    }
}

/// OpenAI's chat completions API, and every compatible relay.
#[derive(Debug)]
pub struct OpenAi {
    /// The upstream speaks the Responses API.
    responses: bool,
}

impl OpenAi {
    /// Reads `responses`, which the `azure` protocol shares.
    pub fn new(o: &mut Options) -> Self {
        OpenAi {
            responses: o.bool("responses").unwrap_or(false),
        }
    }

    /// How an OpenAI-shaped upstream takes `api`: its own APIs as
    /// written, the Responses API too where the provider says so.
    pub fn support(&self, api: Api) -> Support {
        match api {
            Api::ChatCompletions | Api::Embeddings | Api::Completions => Support::Native,
            Api::Responses if self.responses => Support::Native,
            Api::Responses | Api::Messages => Support::ViaHub,
            Api::CountTokens => Support::None,
        }
    }
}

impl Protocol for OpenAi {
    fn spec(&self) -> &'static Spec {
        &SPEC
    }

    fn build(&self, t: &Upstream, req: &Request) -> Result<UpstreamRequest, RequestError> {
        let mut headers = Vec::with_capacity(1);
        if let Some(key) = t.api_key {
            headers.push(("authorization", format!("Bearer {key}")));
        }
        let path = match req.api {
            Api::Responses => "responses",
            Api::Embeddings => "embeddings",
            Api::Completions => "completions",
            // The others come as chat completions (`support`).
            _ => "chat/completions",
        };
        Ok(UpstreamRequest {
            url: format!("{}/{path}", t.base_url),
            headers,
            body: body_for(req, t.model),
        })
    }

    fn answer(&self, _: &Upstream, req: &Request, body: Bytes) -> Result<Answer, String> {
        answer(req, body)
    }

    fn stream(&self, _: &Upstream, req: &Request) -> Box<dyn StreamTranslator> {
        stream(req)
    }

    fn error(&self, body: &[u8]) -> Option<UpstreamError> {
        super::errors::openai_error(body)
    }

    fn api(&self) -> Option<Api> {
        Some(Api::ChatCompletions)
    }

    fn models_probe(&self, t: &Upstream) -> UpstreamRequest {
        let headers = t
            .api_key
            .map(|k| ("authorization", format!("Bearer {k}")))
            .into_iter()
            .collect();
        UpstreamRequest {
            url: format!("{}/models", t.base_url),
            headers,
            body: Bytes::new(),
        }
    }

    fn support(&self, api: Api) -> Support {
        OpenAi::support(self, api)
    }
}

/// The body for an OpenAI-shaped upstream: the Responses API and
/// embeddings as sent; chat and text completions re-serialised, with usage
/// asked for.
pub fn body_for(req: &Request, upstream_model: &str) -> Bytes {
    match (req.api, &req.original) {
        (Api::Responses | Api::Embeddings, Some(original)) => original.body_for(upstream_model),
        _ => Bytes::from(body(req, upstream_model)),
    }
}

/// A whole answer from an OpenAI-shaped upstream, with its usage.
pub fn answer(req: &Request, body: Bytes) -> Result<Answer, String> {
    match req.api {
        Api::Responses => relay::answer(body),
        _ => translate_response(body),
    }
}

/// The stream translator for an OpenAI-shaped upstream.
pub fn stream(req: &Request) -> Box<dyn StreamTranslator> {
    match req.api {
        Api::Responses => Box::new(relay::Relay::new()),
        _ => Box::new(Stream::new(req.client_wants_usage)),
    }
}

/// Re-serialises the client's fields around the upstream model name. For
/// streams it always asks for usage, so token counts are known.
pub fn body(req: &Request, upstream_model: &str) -> Vec<u8> {
    let size: usize = req
        .fields
        .iter()
        .map(|(k, v)| k.len() + v.get().len() + 4)
        .sum();
    let mut out = Vec::with_capacity(size + upstream_model.len() + 64);
    out.extend_from_slice(b"{\"model\":");
    write_json_str(&mut out, upstream_model);
    for (key, value) in &req.fields {
        if req.stream && key == "stream_options" {
            continue;
        }
        out.push(b',');
        write_json_str(&mut out, key);
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    if req.stream {
        out.extend_from_slice(b",\"stream\":true,\"stream_options\":");
        out.extend_from_slice(stream_options(req.field("stream_options")).as_bytes());
    }
    out.push(b'}');
    out
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail, and a &str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The client's stream options with `include_usage` forced on.
fn stream_options(client: Option<&RawValue>) -> String {
    let mut opts: serde_json::Map<String, serde_json::Value> = client
        .and_then(|v| serde_json::from_str(v.get()).ok())
        .unwrap_or_default();
    opts.insert("include_usage".into(), true.into());
    serde_json::Value::Object(opts).to_string()
}

pub fn translate_response(body: Bytes) -> Result<Answer, String> {
    #[derive(Deserialize)]
    struct Peek {
        usage: Option<Usage>,
    }
    let peek: Peek =
        serde_json::from_slice(&body).map_err(|e| format!("upstream sent invalid JSON: {e}"))?;
    Ok(Answer {
        state: None,
        body,
        usage: peek.usage,
    })
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(default, borrow)]
    choices: Vec<Choice<'a>>,
    usage: Option<Usage>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default, borrow)]
    delta: Option<Delta<'a>>,
    /// Text completions stream `text`, not a `delta`.
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    finish_reason: Option<IgnoredAny>,
}

impl Choice<'_> {
    fn has_content(&self) -> bool {
        self.finish_reason.is_some()
            || self.delta.as_ref().is_some_and(Delta::has_content)
            || self.text.is_some_and(|t| t.get() != "\"\"")
    }
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow)]
    content: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning_content: Option<&'a RawValue>,
    tool_calls: Option<IgnoredAny>,
    function_call: Option<IgnoredAny>,
    refusal: Option<IgnoredAny>,
}

impl Delta<'_> {
    fn has_content(&self) -> bool {
        let text = |v: Option<&RawValue>| v.is_some_and(|v| v.get() != "\"\"");
        text(self.content)
            || text(self.reasoning_content)
            || self.tool_calls.is_some()
            || self.function_call.is_some()
            || self.refusal.is_some()
    }
}

/// Passes OpenAI chunks through. It drops the usage-only chunk the gateway
/// asked for when the client did not ask for it.
pub struct Stream {
    client_wants_usage: bool,
    /// Some relays end with the finish-reason chunk and never send `[DONE]`.
    finished: bool,
}

impl Stream {
    pub fn new(client_wants_usage: bool) -> Self {
        Stream {
            client_wants_usage,
            finished: false,
        }
    }
}

impl StreamTranslator for Stream {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<u8>) -> Result<EventInfo, StreamError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            out.extend_from_slice(b"data: [DONE]\n\n");
            return Ok(EventInfo {
                done: true,
                ..EventInfo::default()
            });
        }
        let chunk: Chunk =
            serde_json::from_str(data).map_err(|e| StreamError::Malformed(e.to_string()))?;
        if let Some(err) = chunk.error {
            return Err(StreamError::Upstream(super::errors::error_summary(
                format!("{{\"error\":{}}}", err.get()).as_bytes(),
            )));
        }
        let content = chunk.choices.iter().any(Choice::has_content);
        self.finished |= chunk.choices.iter().any(|c| c.finish_reason.is_some());
        let usage_only = chunk.choices.is_empty() && chunk.usage.is_some();
        if !usage_only || self.client_wants_usage {
            super::sse::write_event(out, None, data);
        }
        Ok(EventInfo {
            content,
            done: false,
            usage: chunk.usage,
        })
    }

    fn closed(&mut self, out: &mut Vec<u8>) -> bool {
        if self.finished {
            out.extend_from_slice(b"data: [DONE]\n\n");
        }
        self.finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(body: &str) -> Request {
        Request::chat(body.as_bytes()).unwrap()
    }

    #[test]
    fn body_rewrites_model_and_drops_backend() {
        let r = req(
            r#"{"model":"gpt-4o","backend":"x","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"x":{"y":1}}"#,
        );
        let out = String::from_utf8(body(&r, "gpt-4o-2024")).unwrap();
        assert_eq!(
            out,
            r#"{"model":"gpt-4o-2024","messages":[{"role":"user","content":"hi"}],"temperature":0.2,"x":{"y":1}}"#
        );
    }

    #[test]
    fn stream_body_always_asks_for_usage() {
        let r = req(r#"{"model":"m","messages":[],"stream":true,"stream_options":{"x":1}}"#);
        let v: serde_json::Value = serde_json::from_slice(&body(&r, "u")).unwrap();
        assert_eq!(v["stream"], true);
        assert_eq!(
            v["stream_options"],
            serde_json::json!({"x": 1, "include_usage": true})
        );
    }

    fn run(s: &mut Stream, data: &str) -> (String, EventInfo) {
        let mut out = Vec::new();
        let info = s
            .event(
                &SseEvent {
                    event: None,
                    data: data.into(),
                },
                &mut out,
            )
            .unwrap();
        (String::from_utf8(out).unwrap(), info)
    }

    #[test]
    fn stream_marks_content_and_hides_unrequested_usage() {
        let mut s = Stream::new(false);
        let (out, info) = run(
            &mut s,
            r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
        );
        assert!(!info.content && out.starts_with("data: {"));
        let (_, info) = run(
            &mut s,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
        );
        assert!(info.content);
        let (_, info) = run(
            &mut s,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]}}]}"#,
        );
        assert!(info.content);
        let (out, info) = run(
            &mut s,
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#,
        );
        assert_eq!(out, "");
        assert_eq!(
            info.usage,
            Some(Usage {
                prompt_tokens: 3,
                completion_tokens: 5,
                ..Usage::default()
            })
        );
        let (out, info) = run(&mut s, "[DONE]");
        assert!(info.done && out == "data: [DONE]\n\n");
        let mut s = Stream::new(true);
        let (out, _) = run(
            &mut s,
            r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#,
        );
        assert!(out.contains("usage"));
    }

    #[test]
    fn usage_reads_cached_and_reasoning_details() {
        let body = r#"{"usage":{"prompt_tokens":100,"completion_tokens":40,
            "prompt_tokens_details":{"cached_tokens":60,"audio_tokens":0},
            "completion_tokens_details":{"reasoning_tokens":30}}}"#;
        let answer = translate_response(Bytes::from(body)).unwrap();
        let u = answer.usage.unwrap();
        assert_eq!(
            (
                u.prompt_tokens,
                u.cached_tokens,
                u.completion_tokens,
                u.reasoning_tokens
            ),
            (100, 60, 40, 30)
        );
        let mut s = Stream::new(false);
        let (_, info) = run(
            &mut s,
            r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":4}}}"#,
        );
        assert_eq!(info.usage.map(|u| u.cached_tokens), Some(4));
    }

    #[test]
    fn a_close_after_the_finish_reason_is_a_complete_stream() {
        let mut s = Stream::new(false);
        run(
            &mut s,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
        );
        let mut out = Vec::new();
        assert!(!s.closed(&mut out), "no finish reason yet: broken");
        run(
            &mut s,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        );
        assert!(s.closed(&mut out));
        assert_eq!(out, b"data: [DONE]\n\n");
    }

    #[test]
    fn multi_line_data_keeps_a_prefix_on_every_line() {
        let mut s = Stream::new(false);
        let (out, info) = run(&mut s, "{\"choices\":\n[{\"delta\":{\"content\":\"Hi\"}}]}");
        assert!(info.content);
        assert_eq!(
            out,
            "data: {\"choices\":\ndata: [{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
        );
    }

    #[test]
    fn stream_errors_on_garbage_and_error_events() {
        let mut s = Stream::new(false);
        let ev = |d: &str| SseEvent {
            event: None,
            data: d.into(),
        };
        assert!(matches!(
            s.event(&ev("{\"choices\": [{"), &mut vec![]),
            Err(StreamError::Malformed(_))
        ));
        let e = s
            .event(&ev(r#"{"error":{"message":"overloaded"}}"#), &mut vec![])
            .unwrap_err();
        assert_eq!(e.to_string(), "upstream sent an error event: overloaded");
    }
}
