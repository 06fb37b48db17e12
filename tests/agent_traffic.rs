//! Real agent traffic: every request recorded from Codex sessions
//! (`../shared/agent-traffic/codex_requests.jsonl`) replayed through the
//! gateway, as sent but for the model name, against a Responses mock and
//! translated backends. Responses requests must stream a well-formed event
//! sequence; the older chat-wire ones go to the chat endpoint. Skipped,
//! with a message, where the recordings are absent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_providers;
mod common_responses;

use std::path::PathBuf;

use common_responses::*;
use mock_upstream::Fault;
use serde_json::Value;

fn recordings() -> Option<Vec<Value>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/agent-traffic/codex_requests.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "SKIPPED: no recorded agent traffic at {} (see its README)",
            path.display()
        );
        return None;
    };
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

/// The recorded request, sent as Codex sent it (its own headers too, but
/// the token and what the transport sets), for model `m`.
async fn replay(url: &str, record: &Value) -> reqwest::Response {
    let mut body = record["body"].clone();
    body["model"] = "m".into();
    let path = record["path"].as_str().unwrap();
    let mut req = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .bearer_auth(TOKEN)
        .json(&body);
    for h in record["headers"].as_array().unwrap() {
        let (name, value) = (h[0].as_str().unwrap(), h[1].as_str().unwrap());
        let transport = [
            "authorization",
            "host",
            "content-length",
            "content-type",
            "accept-encoding",
        ];
        if !transport.contains(&name.to_ascii_lowercase().as_str()) {
            req = req.header(name, value);
        }
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn recorded_codex_requests_succeed_on_every_kind_of_backend() {
    let Some(records) = recordings() else { return };
    assert!(records.len() >= 6, "{} records", records.len());
    for (kind, backend_type, extra, upstream) in [
        ("responses", "openai", "responses = true", "gpt-5"),
        ("chat", "openai", "", "gpt-4o"),
        ("anthropic", "anthropic", "", "claude-sonnet-4"),
        ("gemini", "gemini", "", "gemini-2.5-flash"),
    ] {
        let mock = mock(kind, Fault::default()).await;
        let config = format!(
            "{}{}{}",
            provider("p", backend_type, &mock, extra),
            backend("p", upstream, ""),
            user()
        );
        let url = gateway(&config).await;
        for r in &records {
            let what = format!("{kind}: {} #{}", r["scenario"], r["seq"]);
            let resp = replay(&url, r).await;
            let status = resp.status();
            let text = resp.text().await.unwrap();
            assert_eq!(status, 200, "{what}: {text}");
            if r["path"].as_str().unwrap().starts_with("/v1/responses") {
                let folded = well_formed(&events(&text)).unwrap_or_else(|e| panic!("{what}: {e}"));
                let answered = !folded.output_text().is_empty() || !folded.calls.is_empty();
                assert!(answered, "{what}: {}", folded.response);
            } else {
                let answer = Answer::from_stream(&text);
                assert!(answer.done && answer.error.is_none(), "{what}: {text}");
                assert!(
                    !answer.text.is_empty() || !answer.tool_calls.is_empty(),
                    "{what}"
                );
            }
        }
        let sent = mock.requests();
        assert_eq!(sent.len(), records.len(), "{kind}");
        if kind == "responses" {
            // As sent: reasoning, the custom tool and the built-ins reach it.
            let tool_turn = &sent[2].body;
            assert_eq!(tool_turn["input"][4]["type"], "reasoning");
            let kinds: Vec<&str> = tool_turn["tools"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["type"].as_str().unwrap())
                .collect();
            assert!(
                kinds.contains(&"custom") && kinds.contains(&"web_search"),
                "{kinds:?}"
            );
        }
    }
}
