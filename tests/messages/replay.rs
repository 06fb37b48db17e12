//! Requests recorded from real Claude Code sessions (../shared/agent-traffic,
//! kept outside the project), replayed through the gateway: to an Anthropic
//! mock they arrive byte for byte, to an OpenAI mock as chat completions,
//! and either way the client gets a well-formed event sequence.

use std::path::PathBuf;

use mock_upstream::{Fault, MockServer};
use serde_json::Value;

use super::client::{self, fold};
use super::common_providers::{gateway, mock, provider, TOKEN};

struct Recorded {
    scenario: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

/// The recorded requests, or `None` (with a message) where the folder is absent.
fn recorded() -> Option<Vec<Recorded>> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/agent-traffic/claude_code_requests.jsonl");
    let Ok(text) = std::fs::read_to_string(&file) else {
        eprintln!("skipped: no recorded agent traffic at {}", file.display());
        return None;
    };
    let records = text.lines().filter(|l| !l.trim().is_empty()).map(|line| {
        let v: Value = serde_json::from_str(line).unwrap();
        let headers = v["headers"].as_array().unwrap().iter().map(|h| {
            (
                h[0].as_str().unwrap().to_ascii_lowercase(),
                h[1].as_str().unwrap().to_string(),
            )
        });
        Recorded {
            scenario: v["scenario"].as_str().unwrap().to_string(),
            path: v["path"].as_str().unwrap().to_string(),
            headers: headers
                .filter(|(k, _)| k == "anthropic-version" || k == "anthropic-beta")
                .collect(),
            body: v["body"].clone(),
        }
    });
    Some(records.collect())
}

/// A gateway serving every model the records name from `mock`, as `up-NAME`.
async fn serving(records: &[Recorded], kind: &str, mock: &MockServer) -> String {
    let mut config = provider("p", kind, mock, "");
    let mut names: Vec<&str> = records
        .iter()
        .filter_map(|r| r.body["model"].as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        config +=
            &format!("[[models.\"{name}\".backends]]\nprovider = \"p\"\nmodel = \"up-{name}\"\n");
    }
    gateway(&(config + &format!("[users.u]\ntoken = \"{TOKEN}\"\n"))).await
}

async fn replay(url: &str, r: &Recorded, body: &str) -> client::Folded {
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let resp = client::send(url, &r.path, body.as_bytes(), &headers).await;
    assert_eq!(
        resp.status(),
        200,
        "{}: {:?}",
        r.scenario,
        resp.text().await
    );
    let text = resp.text().await.unwrap();
    let folded =
        fold(&client::events(&text)).unwrap_or_else(|e| panic!("{}: {e}\n{text}", r.scenario));
    assert!(
        folded.error.is_none() && folded.stop_reason.is_some(),
        "{}: {folded:?}",
        r.scenario
    );
    folded
}

#[tokio::test]
async fn recorded_claude_code_requests_reach_anthropic_byte_for_byte() {
    let Some(records) = recorded() else { return };
    let mock = mock("anthropic", Fault::default()).await;
    let url = serving(&records, "anthropic", &mock).await;
    for (i, r) in records.iter().enumerate() {
        // Pretty-printed: whitespace a re-serialising proxy would lose.
        let body = serde_json::to_string_pretty(&r.body).unwrap();
        let folded = replay(&url, r, &body).await;
        assert_eq!(folded.message["model"], r.body["model"], "{}", r.scenario);
        let name = r.body["model"].as_str().unwrap();
        let expected = body.replacen(
            &format!("\"model\": \"{name}\""),
            &format!("\"model\": \"up-{name}\""),
            1,
        );
        let got = &mock.requests()[i];
        assert_eq!(
            std::str::from_utf8(&got.raw).unwrap(),
            expected,
            "{}",
            r.scenario
        );
        assert_eq!(got.path, r.path);
        for (k, v) in &r.headers {
            assert_eq!(got.header(k), Some(v.as_str()), "{}: {k}", r.scenario);
        }
    }
}

#[tokio::test]
async fn recorded_claude_code_requests_work_through_an_openai_backend() {
    let Some(records) = recorded() else { return };
    let mock = mock("openai", Fault::default()).await;
    let url = serving(&records, "openai", &mock).await;
    for r in &records {
        let folded = replay(&url, r, &r.body.to_string()).await;
        let last = r.body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .unwrap();
        let asks_for_tool = last.to_string().contains("list the files");
        let expected = if asks_for_tool {
            "tool_use"
        } else {
            "end_turn"
        };
        assert_eq!(
            folded.stop_reason.as_deref(),
            Some(expected),
            "{}",
            r.scenario
        );
        if asks_for_tool {
            assert_eq!(folded.tool_uses()[0]["name"], "Bash");
        } else {
            assert!(
                folded.text().starts_with("Hello from openai."),
                "{}",
                r.scenario
            );
        }
    }
    let sent = &mock.requests()[0].body;
    assert_eq!(sent["tools"].as_array().map(Vec::len), r_tools(&records[0]));
    assert!(sent["stream"] == true && sent["messages"][0]["role"] == "system");
}

fn r_tools(r: &Recorded) -> Option<usize> {
    r.body["tools"].as_array().map(Vec::len)
}
