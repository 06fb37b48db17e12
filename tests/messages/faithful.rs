//! Anthropic clients to Anthropic upstreams: the bytes the upstream gets are
//! the client's except `model` and `backend`; the answer's are the
//! upstream's except `model`.

use mock_upstream::{Fault, MockServer};
use serde_json::{json, Value};

use super::client::{self, send, VERSION};
use super::common_providers::TOKEN;
use super::one;

/// What the mock answers to `raw` when asked directly.
async fn direct(mock: &MockServer, raw: &[u8]) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/messages", mock.url()))
        .header("anthropic-version", VERSION)
        .body(raw.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

const BODY: &str = "{\n  \"backend\" : \"p\",\"model\":\"m\",  \"max_tokens\": 2048,\n  \"thinking\": {\"type\":\"enabled\",\"budget_tokens\":1.024e3},\n  \"messages\": [{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"caf\\u00e9 \\ud83d\\ude00\",\"cache_control\":{\"type\":\"ephemeral\"}}]}],\n  \"x_not_yet_known\": {\"keep\": [1 , 2]}STREAM\n}";

fn body(stream: bool) -> String {
    BODY.replace("STREAM", if stream { ", \"stream\":true" } else { "" })
}

/// The body as the upstream must see it, written out rather than computed.
fn sent(stream: bool) -> String {
    body(stream).replace(
        "\"backend\" : \"p\",\"model\":\"m\"",
        "\"model\":\"claude-up\"",
    )
}

#[tokio::test]
async fn the_request_reaches_anthropic_byte_for_byte() {
    for stream in [false, true] {
        let (mock, url) = one("anthropic", Fault::default()).await;
        let beta = (
            "anthropic-beta",
            "interleaved-thinking-2025-05-14,context-1m-2025-08-07",
        );
        let resp = send(
            &url,
            "/v1/messages?beta=true",
            body(stream).as_bytes(),
            &[beta],
        )
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-switchyard-backend"], "p");
        let got = resp.text().await.unwrap();
        let rec = &mock.requests()[0];
        assert_eq!(std::str::from_utf8(&rec.raw).unwrap(), sent(stream));
        assert_eq!(rec.header("x-api-key"), Some("key-p"));
        assert_eq!(rec.header("anthropic-version"), Some(VERSION));
        assert_eq!(rec.header("anthropic-beta"), Some(beta.1));
        assert!(rec.header("authorization").is_none());
        assert!(
            rec.headers.iter().all(|(_, v)| !v.contains(TOKEN)),
            "the user's token never goes upstream"
        );

        // The answer: the upstream's bytes, naming the model the client asked for.
        let expected = direct(&mock, &rec.raw)
            .await
            .replace("\"model\":\"claude-up\"", "\"model\":\"m\"");
        assert!(!expected.contains("claude-up"));
        assert_eq!(got, expected, "stream={stream}");
    }
}

#[tokio::test]
async fn thinking_blocks_survive_the_next_turn() {
    let (mock, url) = one("anthropic", Fault::default()).await;
    let first = client::ask(
        "list the files",
        json!({"tools": client::bash_tool(),
        "thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 4096, "stream": true}),
    );
    let folded = client::stream(client::messages(&url, &first).await).await;
    assert_eq!(folded.content[0]["type"], "thinking");
    assert!(folded.content[0]["signature"]
        .as_str()
        .unwrap()
        .starts_with("sig-think-0-"));
    assert_eq!(folded.message["model"], "m");
    let call = folded.tool_uses()[0].clone();
    assert_eq!(call["input"], json!({"command": "ls"}));

    let mut second = first.clone();
    let turn = json!({"role": "assistant", "content": folded.content});
    let result = json!({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": call["id"], "content": "a.txt", "is_error": false}]});
    second["messages"]
        .as_array_mut()
        .unwrap()
        .extend([turn.clone(), result.clone()]);
    let resp = client::messages(&url, &second).await;
    assert_eq!(resp.status(), 200);
    let folded = client::stream(resp).await;
    assert!(folded.text().contains("a.txt"), "{:?}", folded.content);
    let got: Value = serde_json::from_slice(&mock.requests()[1].raw).unwrap();
    assert_eq!(
        got["messages"][1], turn,
        "the assistant turn came back unchanged"
    );

    // The mock does check: a thinking text changed on the way is refused.
    let mut forged = second.clone();
    forged["messages"][1]["content"][0]["thinking"] = "something else".into();
    forged["stream"] = false.into();
    let resp = client::messages(&url, &forged).await;
    assert_eq!(resp.status(), 400);
    let err: Value = resp.json().await.unwrap();
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid signature"),
        "{err}"
    );
}

#[tokio::test]
async fn count_tokens_goes_to_anthropic() {
    let (mock, url) = one("anthropic", Fault::default()).await;
    let count = client::count_tokens(&url, &client::ask("one two three", json!({}))).await;
    assert_eq!(count, json!({"input_tokens": 3}));
    assert_eq!(mock.requests()[0].path, "/v1/messages/count_tokens");
}
