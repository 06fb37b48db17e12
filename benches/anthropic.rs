//! The Anthropic provider's translation: the OpenAI request into a Messages
//! request, a whole Messages answer back, and one streamed event.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::providers::{self, ChatRequest};
use switchyard::proxy::sse::SseEvent;

mod support;

const ANSWER: &str = r#"{"id":"msg_bench","type":"message","role":"assistant","model":"up-0","content":[{"type":"text","text":"Rail yards sort freight cars into trains, one track at a time."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":24,"output_tokens":14}}"#;

fn event(name: &str, data: &str) -> SseEvent {
    SseEvent {
        event: Some(name.to_string()),
        data: data.to_string(),
    }
}

fn request(c: &mut Criterion) {
    support::translation_benches(c, "anthropic", ANSWER);
}

fn stream_chunk(c: &mut Criterion) {
    let config = support::config_for("anthropic");
    let backend = &config.models["m"].backends[0];
    let req = ChatRequest::parse(&support::request_body(true)).expect("bench request parses");
    let mut translator = providers::stream_translator(backend, &req);
    let mut out = Vec::with_capacity(4096);
    // The events before the first text, as Anthropic sends them.
    for (name, data) in [
        (
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"up-0","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":24,"output_tokens":1}}}"#,
        ),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
    ] {
        translator
            .event(&event(name, data), &mut out)
            .expect("bench stream starts");
    }
    let delta = event(
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"c7 "}}"#,
    );
    let first = translator.event(&delta, &mut out);
    assert!(matches!(first, Ok(ref i) if i.content) && !out.is_empty());
    c.bench_function("anthropic_stream_translate_chunk", |b| {
        b.iter(|| {
            out.clear();
            translator
                .event(black_box(&delta), &mut out)
                .map(|i| i.content)
        })
    });
}

criterion_group!(benches, request, stream_chunk);
criterion_main!(benches);
