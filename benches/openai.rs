//! The OpenAI provider's per-request and per-chunk work: parsing the
//! client's request, rewriting it for the upstream, and translating each
//! upstream stream event. (Other providers get their own bench file.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use switchyard::protocol::sse::SseEvent;
use switchyard::protocol::Request;

mod support;

fn request(c: &mut Criterion) {
    let config = support::config();
    let backend = &config.models["m"].backends[0];
    let body = support::request_body(false);
    let mut group = c.benchmark_group("openai_request");
    group.bench_function("chat_request_parse", |b| {
        b.iter(|| Request::chat(black_box(&body)).map(|r| r.fields.len()))
    });
    let req = Request::chat(&body).expect("bench request parses");
    group.bench_function("build_upstream_request", |b| {
        b.iter(|| {
            backend
                .provider
                .protocol
                .build(&backend.upstream(), black_box(&req))
                .map(|u| u.body.len())
        })
    });
    group.finish();
}

fn stream_chunk(c: &mut Criterion) {
    let config = support::config();
    let event = SseEvent {
        event: None,
        data: support::chunk_data(7),
    };
    let backend = &config.models["m"].backends[0];
    support::stream_chunk_bench(c, "openai_stream_translate_chunk", backend, &[], &event);
}

criterion_group!(benches, request, stream_chunk);
criterion_main!(benches);
