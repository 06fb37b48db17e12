//! The Gemini provider's translation: the OpenAI request into a
//! generateContent request, a whole answer back, and one streamed chunk.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::providers::{self, ChatRequest};
use switchyard::proxy::sse::SseEvent;

mod support;

const ANSWER: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"Rail yards sort freight cars into trains, one track at a time."}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":24,"candidatesTokenCount":14,"totalTokenCount":38},"modelVersion":"up-0","responseId":"bench"}"#;

const CHUNK: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"c7 "}]},"index":0}],"usageMetadata":{"promptTokenCount":24},"modelVersion":"up-0","responseId":"bench"}"#;

fn request(c: &mut Criterion) {
    support::translation_benches(c, "gemini", ANSWER);
}

fn stream_chunk(c: &mut Criterion) {
    let config = support::config_for("gemini");
    let backend = &config.models["m"].backends[0];
    let req = ChatRequest::parse(&support::request_body(true)).expect("bench request parses");
    let mut translator = providers::stream_translator(backend, &req);
    let mut out = Vec::with_capacity(4096);
    let chunk = SseEvent {
        event: None,
        data: CHUNK.to_string(),
    };
    let first = translator.event(&chunk, &mut out);
    assert!(matches!(first, Ok(ref i) if i.content) && !out.is_empty());
    c.bench_function("gemini_stream_translate_chunk", |b| {
        b.iter(|| {
            out.clear();
            translator
                .event(black_box(&chunk), &mut out)
                .map(|i| i.content)
        })
    });
}

criterion_group!(benches, request, stream_chunk);
criterion_main!(benches);
