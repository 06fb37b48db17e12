//! The Gemini provider's translation: the OpenAI request into a
//! generateContent request, a whole answer back, and one streamed chunk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::protocol::sse::SseEvent;

mod support;

const ANSWER: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Rail yards sort freight cars into trains, one track at a time."}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":24,"candidatesTokenCount":14,"totalTokenCount":38},"modelVersion":"up-0","responseId":"bench"}"#;

const CHUNK: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"c7 "}]},"index":0}],"usageMetadata":{"promptTokenCount":24},"modelVersion":"up-0","responseId":"bench"}"#;

fn request(c: &mut Criterion) {
    support::translation_benches(c, "gemini", ANSWER);
}

fn stream_chunk(c: &mut Criterion) {
    let config = support::config_for("gemini");
    let chunk = SseEvent {
        event: None,
        data: CHUNK.to_string(),
    };
    let backend = &config.models["m"].backends[0];
    support::stream_chunk_bench(c, "gemini_stream_translate_chunk", backend, &[], &chunk);
}

criterion_group!(benches, request, stream_chunk);
criterion_main!(benches);
