//! Rows: tokens and cost per protocol, stream and not; failover; restart.

use mock_upstream::{Fault, MockConfig, MockServer};
use serde_json::{json, Value};

use super::{admin_user, rows_once};
use crate::common::{chat, chat_body, gateway, header, mock_with, sse_events, TOKEN};

async fn cached_mock(name: &str, cached: u64) -> MockServer {
    let mut config = MockConfig::new(name);
    config.cached_tokens = cached;
    MockServer::start(config).await.unwrap()
}

/// (input, cached input, output) USD per million tokens of upstream model `up-{name}`.
fn prices(name: &str, (i, c, o): (f64, f64, f64)) -> String {
    format!("[prices.\"up-{name}\"]\ninput_per_mtok = {i}\ncached_input_per_mtok = {c}\noutput_per_mtok = {o}\n")
}

/// A ledger in a file of `dir`, an admin, and model `m` served by `up`
/// (provider `a`, with `extra` lines); no user yet.
fn on_file(dir: &tempfile::TempDir, up: &MockServer, extra: &str) -> String {
    format!(
        "[usage]\nstore = \"sqlite://{}/ledger.db\"\n",
        dir.path().display()
    ) + &admin_user()
        + &crate::common::provider("a", up, extra)
        + "[models.m]\n"
        + &crate::common::backend("m", "a", "")
}

const PROMPT: &str = "one two three four five six seven eight";

fn priced(u: &Value, (i, c, o): (f64, f64, f64)) -> f64 {
    let (p, cached, out) = (
        u["prompt_tokens"].as_f64().unwrap(),
        u["prompt_tokens_details"]["cached_tokens"]
            .as_f64()
            .unwrap_or(0.0),
        u["completion_tokens"].as_f64().unwrap(),
    );
    ((p - cached) * i + cached * c + out * o) / 1e6
}

#[tokio::test]
async fn every_protocol_writes_rows_with_its_tokens_and_cost_streamed_or_not() {
    let protocols = [("o", "openai"), ("a", "anthropic"), ("g", "gemini")];
    let price = (3.0, 0.5, 12.0);
    let mut text = admin_user() + &crate::common::user();
    let mut mocks = Vec::new();
    for (name, kind) in protocols {
        let mock = cached_mock(name, 3).await;
        text += &format!(
            "[providers.{name}]\nbackend_type = \"{kind}\"\nbase_url = \"{}\"\napi_key = \"k\"\n",
            mock.url()
        );
        text += &format!("[models.{name}]\n[[models.{name}.backends]]\nprovider = \"{name}\"\nmodel = \"up-{name}\"\n");
        text += &prices(name, price);
        mocks.push(mock);
    }
    let gw = gateway(&text).await;
    let mut expected = Vec::new();
    for (name, _) in protocols {
        let body = |stream| {
            let messages = json!([{"role": "user", "content": PROMPT}]);
            chat_body(json!({"model": name, "messages": messages, "stream": stream}))
        };
        let whole: Value = chat(&gw, body(false)).await.json().await.unwrap();
        let u = &whole["usage"];
        assert_eq!(
            u["prompt_tokens_details"]["cached_tokens"], 3,
            "{name}: {u}"
        );
        let events = sse_events(chat(&gw, body(true)).await).await;
        assert!(
            events.iter().all(|e| !e.contains("\"usage\"")),
            "{name}: the client did not ask for the usage chunk: {events:?}"
        );
        expected.push((name, u.clone()));
    }
    let rows = rows_once(&gw, "group_by=model,backend", 6).await;
    for (name, u) in expected {
        let row = rows.iter().find(|r| r["model"] == name).unwrap();
        assert_eq!(row["backend"], name);
        assert_eq!(row["requests"], 2, "{row}");
        let per = |k: &str| u[k].as_i64().unwrap() * 2;
        assert_eq!(
            row["input_tokens"],
            per("prompt_tokens"),
            "{name}: stream and not alike"
        );
        assert_eq!(row["output_tokens"], per("completion_tokens"), "{name}");
        assert_eq!(row["cached_input_tokens"], 6, "{name}");
        let cost = row["cost_usd"].as_f64().unwrap();
        let want = 2.0 * priced(&u, price);
        assert!(
            (cost - want).abs() < 1e-12,
            "{name}: {cost} != {want}: cached input priced once, at its price"
        );
    }
}

#[tokio::test]
async fn a_failed_over_request_is_charged_to_the_backend_that_served_at_its_price() {
    let bad = mock_with("bad", Fault::status(500)).await;
    let good = cached_mock("good", 0).await;
    let text = admin_user()
        + &crate::common::user()
        + "[health.probe]\nkind = \"none\"\n"
        + &crate::common::provider("bad", &bad, "")
        + &crate::common::provider("good", &good, "")
        + "[models.m]\nstrategy = \"failover\"\n"
        + &crate::common::backend(
            "m",
            "bad",
            "priority = 1\nprice = { input_per_mtok = 1000.0, output_per_mtok = 1000.0 }",
        )
        + &crate::common::backend("m", "good", "priority = 2")
        + &prices("good", (2.0, 2.0, 8.0));
    let gw = gateway(&text).await;
    let resp = chat(
        &gw,
        chat_body(json!({"messages": [{"role": "user", "content": PROMPT}]})),
    )
    .await;
    assert_eq!(
        (
            header(&resp, "x-switchyard-backend"),
            header(&resp, "x-switchyard-attempts")
        ),
        ("good", "2")
    );
    let answer: Value = resp.json().await.unwrap();
    let rows = rows_once(&gw, "group_by=backend,user", 1).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["backend"].as_str(), rows[0]["user"].as_str()),
        (Some("good"), Some("tester"))
    );
    let want = priced(&answer["usage"], (2.0, 2.0, 8.0));
    assert!((rows[0]["cost_usd"].as_f64().unwrap() - want).abs() < 1e-12);
    let _ = TOKEN;
}

#[tokio::test]
async fn a_restart_keeps_the_rows_and_the_budget_windows() {
    let dir = tempfile::tempdir().unwrap();
    let up = cached_mock("a", 0).await;
    let text = on_file(&dir, &up, "")
        + "[prices.\"up-a\"]\ninput_per_mtok = 0.0\noutput_per_mtok = 100000.0\n"
        + &crate::common::user()
        + "[users.tester.budget]\nusd_per_day = 2.0\n";
    let send = |gw: &crate::common::Gateway| {
        let body = chat_body(json!({"max_tokens": 4}));
        let gw_url = gw.url.clone();
        async move {
            crate::common::client()
                .post(format!("{gw_url}/v1/chat/completions"))
                .bearer_auth(TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let gw = gateway(&text).await;
    // Each answer is 4 tokens at $0.10: $0.40, reserved and spent.
    for _ in 0..3 {
        assert_eq!(send(&gw).await.status(), 200);
    }
    let before = rows_once(&gw, "group_by=user", 3).await;
    gw.stop().await;
    let gw = gateway(&text).await;
    let after = rows_once(&gw, "group_by=user", 3).await;
    assert_eq!(after, before, "every row is still there");
    let spent = after[0]["cost_usd"].as_f64().unwrap();
    assert!((spent - 1.2).abs() < 1e-9, "{spent}");
    let resp = send(&gw).await;
    assert_eq!(resp.status(), 200, "$0.80 left: one more fits");
    let left: f64 = header(&resp, "x-switchyard-budget-remaining-usd")
        .parse()
        .unwrap();
    assert!(
        (left - 0.4).abs() < 1e-6,
        "the window was rebuilt from the ledger: {left}"
    );
    assert_eq!(send(&gw).await.status(), 200);
    let refused = send(&gw).await;
    assert_eq!(refused.status(), 429);
    assert!(!header(&refused, "x-switchyard-budget-reset").is_empty());
    let err = crate::common::error_of(refused).await;
    assert_eq!(
        (err["type"].as_str(), err["code"].as_str()),
        (Some("insufficient_quota"), Some("insufficient_quota"))
    );
    assert!(err["message"].as_str().unwrap().contains("daily"), "{err}");
}

/// The gateway stopped right after its answers: the writer's shutdown
/// flush still puts every row in the store, for every endpoint.
#[tokio::test]
async fn a_stop_right_after_the_answers_loses_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let up = cached_mock("a", 0).await;
    let text = on_file(&dir, &up, "responses = true") + &crate::common::user();
    let gw = gateway(&text).await;
    let calls = [
        ("/v1/chat/completions", chat_body(json!({}))),
        ("/v1/responses", json!({"model": "m", "input": "hi"})),
        ("/v1/completions", json!({"model": "m", "prompt": "hi"})),
        (
            "/v1/messages",
            json!({"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}),
        ),
    ];
    for (path, body) in &calls {
        let resp = crate::common::client()
            .post(format!("{}{path}", gw.url))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        resp.bytes().await.unwrap();
    }
    gw.stop().await;
    let gw = gateway(&text).await;
    let rows = rows_once(&gw, "group_by=endpoint", 4).await;
    let mut endpoints: Vec<&str> = rows.iter().filter_map(|r| r["endpoint"].as_str()).collect();
    endpoints.sort();
    assert_eq!(
        endpoints,
        ["chat_completions", "completions", "messages", "responses"]
    );
}

/// A per-request backend is charged its price for each answered request,
/// whatever its tokens, in the ledger and in `switchyard_cost_usd_total`;
/// a failed one costs nothing.
#[tokio::test]
async fn a_per_request_backend_is_charged_per_answer_in_the_ledger_and_metrics() {
    let up = cached_mock("a", 0).await;
    let text = admin_user()
        + &crate::common::provider("a", &up, "")
        + "[models.m]\n"
        + &crate::common::backend(
            "m",
            "a",
            "billing_mode = \"per_request\"\nprice = { per_request = 0.25 }",
        )
        + &crate::common::user();
    let gw = gateway(&text).await;
    for _ in 0..3 {
        assert_eq!(chat(&gw, chat_body(json!({}))).await.status(), 200);
    }
    up.set_fault(Fault::status(500));
    assert_eq!(chat(&gw, chat_body(json!({}))).await.status(), 502);
    let rows = rows_once(&gw, "group_by=backend", 4).await;
    let cost = rows[0]["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - 0.75).abs() < 1e-12,
        "three answers at $0.25: {cost}"
    );
    let series = "switchyard_cost_usd_total{model=\"m\",backend=\"a\"}";
    let total = crate::common::metric(&gw, series).await;
    assert!((total - 0.75).abs() < 1e-12, "{total}");
}
