//! Thinking asked by an Anthropic client of a Gemini model: issue 16's
//! mapping (`thinking` to `reasoning_effort`) meets issue 15's (Gemini's
//! `thinkingConfig` with thought summaries), and the summary comes back as
//! an Anthropic `thinking` block, whole and streamed.

use mock_upstream::Fault;
use serde_json::{json, Value};

use super::client::{self, messages};
use super::one;

#[tokio::test]
async fn thinking_reaches_gemini_and_its_thoughts_come_back_as_a_block() {
    for stream in [false, true] {
        let (mock, url) = one("gemini", Fault::default()).await;
        let req = client::ask(
            "two words",
            json!({"thinking": {"type": "enabled", "budget_tokens": 2048}, "stream": stream}),
        );
        let resp = messages(&url, &req).await;
        assert_eq!(resp.status(), 200, "stream={stream}");
        let content = if stream {
            client::stream(resp).await.content
        } else {
            let v: Value = resp.json().await.unwrap();
            v["content"].as_array().unwrap().clone()
        };
        // A budget under 4096 is `low`, which Gemini 2.5 thinks with 2048 of.
        let sent = &mock.requests()[0].body;
        assert_eq!(
            sent["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": 2048, "includeThoughts": true})
        );
        assert_eq!(content[0]["type"], "thinking", "stream={stream}");
        assert_eq!(content[0]["thinking"], "Thinking about: two words");
        // Not Anthropic's: no signature an Anthropic upstream would accept.
        assert_eq!(content[0]["signature"], "");
        assert_eq!(content[1]["type"], "text");
        let text = content[1]["text"].as_str().unwrap();
        assert!(text.starts_with("Hello from gemini."), "{text}");
    }
}
