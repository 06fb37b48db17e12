//! The Anthropic provider's translation: the OpenAI request into a Messages
//! request, a whole Messages answer back, and one streamed event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::protocol::sse::SseEvent;

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
    // The events before the first text, as Anthropic sends them.
    let setup = [
        event(
            "message_start",
            r#"{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"up-0","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":24,"output_tokens":1}}}"#,
        ),
        event(
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
    ];
    let delta = event(
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"c7 "}}"#,
    );
    let backend = &config.models["m"].backends[0];
    support::stream_chunk_bench(
        c,
        "anthropic_stream_translate_chunk",
        backend,
        &setup,
        &delta,
    );
}

criterion_group!(benches, request, stream_chunk);
criterion_main!(benches);
