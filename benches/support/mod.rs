//! Shared fixtures for the micro-benchmarks: a config with one model of four
//! OpenAI backends, a chat request, and an upstream stream of 64 chunks.
#![allow(dead_code)]

use switchyard::config::{self, Config};

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
