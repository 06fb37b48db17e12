//! Shared fixtures for the micro-benchmarks: a config with one model of four
//! OpenAI backends, a chat request, and an upstream stream of 64 chunks.
#![allow(dead_code)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::Criterion;
use switchyard::config::{self, Backend, Config};
use switchyard::protocol::sse::SseEvent;
use switchyard::protocol::Request;

/// The config every micro-benchmark uses (parsed once per bench binary).
pub fn config() -> Config {
    let mut toml = String::new();
    for i in 0..4 {
        toml += &format!(
            "[providers.p{i}]\nbackend_type = \"openai\"\nbase_url = \"http://127.0.0.1:{}/v1\"\napi_key = \"sk-{i}\"\n",
            9000 + i
        );
    }
    toml += "[models.m]\nstrategy = \"weighted_random\"\n";
    for i in 0..4 {
        toml += &format!(
            "[[models.m.backends]]\nprovider = \"p{i}\"\nmodel = \"up-{i}\"\nweight = {}\n",
            i + 1
        );
    }
    toml += "[users.u]\ntoken = \"t\"\n";
    match config::parse(&toml, &|_| None) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    }
}

/// A typical small chat request, as a client sends it.
pub fn request_body(stream: bool) -> Vec<u8> {
    format!(
        r#"{{"model":"m","messages":[{{"role":"system","content":"You are a helpful assistant."}},{{"role":"user","content":"Write one sentence about rail yards."}}],"temperature":0.7,"max_tokens":256,"stream":{stream}}}"#
    )
    .into_bytes()
}

/// One OpenAI `chat.completion.chunk` event's data with content `c{n} `.
pub fn chunk_data(n: usize) -> String {
    format!(
        r#"{{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"up-0","choices":[{{"index":0,"delta":{{"content":"c{n} "}},"finish_reason":null}}]}}"#
    )
}

/// A whole upstream stream: role chunk, `chunks` content chunks, finish,
/// usage, `[DONE]`, as SSE bytes.
pub fn stream_bytes(chunks: usize) -> Vec<u8> {
    let mut s = String::from("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n");
    for n in 0..chunks {
        s += &format!("data: {}\n\n", chunk_data(n));
    }
    s += "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    s += "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":64}}\n\n";
    s += "data: [DONE]\n\n";
    s.into_bytes()
}

/// A config with one model `m` on one backend of `backend_type`
/// (`anthropic`, `gemini`), upstream model `up-0`.
pub fn config_for(backend_type: &str) -> Config {
    let toml = format!(
        "[providers.p]\nbackend_type = \"{backend_type}\"\nbase_url = \"http://127.0.0.1:9000\"\napi_key = \"k\"\n\
         [models.m]\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"up-0\"\n[users.u]\ntoken = \"t\"\n"
    );
    match config::parse(&toml, &|_| None) {
        Ok(c) => c,
        Err(e) => panic!("bench config: {e}"),
    }
}

/// The per-request translation benches of a native protocol: the OpenAI
/// request into the upstream's, and the upstream's whole `answer` back.
pub fn translation_benches(c: &mut Criterion, backend_type: &str, answer: &'static str) {
    let config = config_for(backend_type);
    let backend = &config.models["m"].backends[0];
    let req = Request::chat(&request_body(false)).expect("bench request parses");
    let answer = Bytes::from_static(answer.as_bytes());
    // Time the success paths only: a bench that measured an error would lie.
    assert!(backend
        .provider
        .protocol
        .build(&backend.upstream(), &req)
        .is_ok());
    assert!(backend
        .provider
        .protocol
        .answer(&backend.upstream(), &req, answer.clone())
        .is_ok());
    let mut group = c.benchmark_group(format!("{backend_type}_request"));
    group.bench_function("build_upstream_request", |b| {
        b.iter(|| {
            backend
                .provider
                .protocol
                .build(&backend.upstream(), black_box(&req))
                .map(|u| u.body.len())
        })
    });
    group.bench_function("translate_response", |b| {
        b.iter(|| {
            backend
                .provider
                .protocol
                .answer(&backend.upstream(), &req, black_box(answer.clone()))
                .map(|r| r.body.len())
        })
    });
    group.finish();
}

/// Times one streamed `event` through `backend`'s stream translator, after
/// the `setup` events its stream starts with. The event must first
/// translate into content on its own (output cleared of the setup's), so
/// the bench does not time an error or a skipped event.
pub fn stream_chunk_bench(
    c: &mut Criterion,
    name: &str,
    backend: &Backend,
    setup: &[SseEvent],
    event: &SseEvent,
) {
    let req = Request::chat(&request_body(true)).expect("bench request parses");
    let mut translator = backend.provider.protocol.stream(&backend.upstream(), &req);
    let mut out = Vec::with_capacity(4096);
    for e in setup {
        translator.event(e, &mut out).expect("bench stream starts");
    }
    out.clear();
    let first = translator.event(event, &mut out);
    assert!(matches!(first, Ok(ref i) if i.content) && !out.is_empty());
    c.bench_function(name, |b| {
        b.iter(|| {
            out.clear();
            translator
                .event(black_box(event), &mut out)
                .map(|i| i.content)
        })
    });
}
