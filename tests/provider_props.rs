//! Property tests: no input makes a translation panic. Requests, whole
//! answers and stream events are generated as JSON shaped like (and often
//! almost) what each protocol sends, with hostile values mixed in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::Value;
use switchyard::config::Model;
use switchyard::protocol::sse::SseEvent;
use switchyard::protocol::Request;

#[path = "common_providers/strategies.rs"]
mod strategies;

use strategies::{json_value, request_body, upstream_data};

/// One backend per protocol, all in model `m`.
fn model() -> Arc<Model> {
    let mut text = String::new();
    for kind in ["openai", "anthropic", "gemini", "azure"] {
        text += &format!(
            "[providers.{kind}]\nbackend_type = \"{kind}\"\nbase_url = \"http://127.0.0.1:1\"\napi_key = \"k\"\n\
             [[models.m.backends]]\nprovider = \"{kind}\"\nmodel = \"x\"\n"
        );
    }
    text += "[users.u]\ntoken = \"t\"\n";
    switchyard::config::parse(&text, &|_| None)
        .expect("config")
        .models["m"]
        .clone()
}

fn event() -> impl Strategy<Value = SseEvent> {
    let name = prop::option::of(prop::sample::select(&["message_start", "ping", "x"][..]));
    (name, upstream_data()).prop_map(|(event, data)| SseEvent {
        event: event.map(str::to_string),
        data,
    })
}

proptest! {
    // 256 cases by default; PROPTEST_CASES=N runs more. A failure prints
    // its shrunk input; there is no src/ beside this file to persist it in.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn build_request_never_panics(body in request_body()) {
        let model = model();
        if let Ok(req) = Request::chat(&body) {
            for backend in &model.backends {
                let _ = backend.provider.protocol.build(&backend.upstream(), &req);
            }
        }
    }

    #[test]
    fn translate_response_never_panics(
        body in prop_oneof![
            upstream_data().prop_map(String::into_bytes),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..128),
        ]
    ) {
        let model = model();
        let req = Request::chat(br#"{"model":"m","messages":[]}"#).expect("request");
        for backend in &model.backends {
            let protocol = &backend.provider.protocol;
            let _ = protocol.answer(&backend.upstream(), &req, Bytes::from(body.clone()));
        }
    }

    #[test]
    fn stream_translators_never_panic(
        events in prop::collection::vec(event(), 0..12),
        usage in any::<bool>(),
        n in 0u64..4,
    ) {
        let model = model();
        let body = format!(
            r#"{{"model":"m","messages":[],"stream":true,"n":{n},"stream_options":{{"include_usage":{usage}}}}}"#
        );
        let req = Request::chat(body.as_bytes()).expect("request");
        for backend in &model.backends {
            let mut t = backend.provider.protocol.stream(&backend.upstream(), &req);
            let mut out = Vec::new();
            for e in &events {
                // An error ends a real stream; later events are still fed
                // here, since the translator must not panic on them either.
                let _ = t.event(e, &mut out);
            }
            // Whatever came out is valid SSE with JSON (or [DONE]) data.
            let text = String::from_utf8(out).expect("UTF-8");
            for chunk in text.split_terminator("\n\n") {
                let data = chunk.strip_prefix("data: ").expect("data line");
                prop_assert!(data == "[DONE]" || serde_json::from_str::<Value>(data).is_ok());
            }
        }
    }
}

/// The generators must reach past the first check: some generated
/// requests translate, and some stream events produce content.
#[test]
fn generated_inputs_reach_the_translators() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let model = model();
    let mut runner = TestRunner::deterministic();
    let mut built = [0usize; 4];
    for _ in 0..1000 {
        let body = request_body()
            .new_tree(&mut runner)
            .expect("tree")
            .current();
        let Ok(req) = Request::chat(&body) else {
            continue;
        };
        for (i, backend) in model.backends.iter().enumerate() {
            built[i] += usize::from(
                backend
                    .provider
                    .protocol
                    .build(&backend.upstream(), &req)
                    .is_ok(),
            );
        }
    }
    eprintln!("built per backend: {built:?}");
    let mut content = [0usize; 4];
    let req = Request::chat(br#"{"model":"m","messages":[],"stream":true}"#).expect("request");
    for _ in 0..1000 {
        let e = event().new_tree(&mut runner).expect("tree").current();
        for (i, backend) in model.backends.iter().enumerate() {
            let mut t = backend.provider.protocol.stream(&backend.upstream(), &req);
            let info = t.event(&e, &mut Vec::new());
            content[i] += usize::from(info.is_ok_and(|i| i.content));
        }
    }
    eprintln!("content events per backend: {content:?}");
    assert!(built.iter().all(|&n| n > 50), "{built:?}");
    assert!(content.iter().all(|&n| n > 30), "{content:?}");
}
