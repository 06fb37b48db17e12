//! The status page's access modes and the health gauges in `/metrics`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

async fn with(server_lines: &str) -> (Gateway, mock_upstream::MockServer) {
    let a = mock("a").await;
    let t = format!("[server]\n{server_lines}\n") + &config("failover", "", &[("a", &a)]);
    let t = t + "[users.root]\ntoken = \"root-token\"\nadmin = true\n";
    (gateway(&t).await, a)
}

#[tokio::test]
async fn admin_mode_serves_the_page_but_data_only_to_admins() {
    let (gw, _a) = with("").await;
    let page = get(&gw, "/status", None).await;
    assert_eq!(page.status(), 200);
    assert!(header(&page, "content-security-policy").contains("default-src 'none'"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Switchyard status")
            && !html.contains("http://")
            && !html.contains("https://"),
        "no external assets"
    );
    assert_eq!(get(&gw, "/status/data", None).await.status(), 401);
    assert_eq!(get(&gw, "/status/data", Some(TOKEN)).await.status(), 403);
    let data: Value = get(&gw, "/status/data", Some("root-token"))
        .await
        .json()
        .await
        .unwrap();
    let row = &data["data"][0];
    assert_eq!(
        (
            row["model"].as_str(),
            row["backend"].as_str(),
            row["state"].as_str()
        ),
        (Some("m"), Some("a"), Some("healthy"))
    );
}

#[tokio::test]
async fn public_and_off_modes() {
    let (gw, _a) = with("status_page = \"public\"").await;
    assert_eq!(get(&gw, "/status/data", None).await.status(), 200);
    let (gw, _a) = with("status_page = \"off\"").await;
    assert_eq!(get(&gw, "/status", None).await.status(), 404);
    assert_eq!(
        get(&gw, "/status/data", Some("root-token")).await.status(),
        404
    );
}

#[tokio::test]
async fn metrics_show_a_backend_going_down() {
    let (gw, _a) = with("").await;
    let up = "switchyard_backend_up{model=\"m\",backend=\"a\"} ";
    let text = get(&gw, "/metrics", None).await.text().await.unwrap();
    assert!(text.contains(&format!("{up}1")), "{text}");
    let off = client()
        .post(format!("{}/admin/backends/a/disable", gw.url))
        .bearer_auth("root-token")
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    let text = get(&gw, "/metrics", None).await.text().await.unwrap();
    assert!(text.contains(&format!("{up}0")), "{text}");
    assert!(
        text.contains("switchyard_backend_circuit_state{backend=\"a\"} 4"),
        "{text}"
    );
}

#[tokio::test]
async fn inflight_gauge_sums_every_upstream_behind_a_backend_id() {
    let slow = mock_with(
        "a",
        mock_upstream::Fault {
            delay: std::time::Duration::from_secs(2),
            ..Default::default()
        },
    )
    .await;
    let mut t = provider("a", &slow, "");
    t += "[models.m1]\n[[models.m1.backends]]\nprovider = \"a\"\nmodel = \"x\"\n";
    t += "[models.m2]\n[[models.m2.backends]]\nprovider = \"a\"\nmodel = \"y\"\n";
    let gw = gateway(&(t + &user())).await;
    let mut calls = Vec::new();
    for model in ["m1", "m2"] {
        let url = gw.url.clone();
        calls.push(tokio::spawn(async move {
            let body = serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
            client().post(format!("{url}/v1/chat/completions")).bearer_auth(TOKEN).json(&body).send().await.unwrap().status()
        }));
    }
    let series = "switchyard_backend_inflight{backend=\"a\"} ";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut seen = String::new();
    while std::time::Instant::now() < deadline {
        let text = get(&gw, "/metrics", None).await.text().await.unwrap();
        seen = text
            .lines()
            .find(|l| l.starts_with(series))
            .unwrap_or("")
            .to_string();
        if seen.ends_with(" 2") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen,
        format!("{series}2"),
        "two upstream models in flight behind backend id `a`"
    );
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
}

/// Today's spend is for admins only, even on a public page.
#[tokio::test]
async fn todays_spend_per_model_and_user_goes_to_admins_only() {
    let (gw, _a) = with("status_page = \"public\"").await;
    let resp = chat(&gw, chat_body(serde_json::json!({}))).await;
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap();
    assert_eq!(get(&gw, "/status/usage", None).await.status(), 401);
    assert_eq!(get(&gw, "/status/usage", Some(TOKEN)).await.status(), 403);
    let mut body = Value::Null;
    // The ledger's writer inserts in batches, ~100 ms after a first row.
    for _ in 0..200 {
        let resp = get(&gw, "/status/usage", Some("root-token")).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "cache-control"), "no-store");
        body = resp.json().await.unwrap();
        if body["models"][0]["requests"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let today = switchyard::calendar::Date::of(switchyard::calendar::unix_ms()).to_string();
    assert_eq!(body["day"], today.as_str(), "{body}");
    assert_eq!(
        (&body["models"][0]["model"], &body["models"][0]["requests"]),
        (&serde_json::json!("m"), &serde_json::json!(1)),
        "{body}"
    );
    assert_eq!(body["users"][0]["user"], "tester", "{body}");
    assert!(body["users"][0].get("model").is_none(), "{body}");
    let (gw, _a) = with("status_page = \"off\"").await;
    assert_eq!(
        get(&gw, "/status/usage", Some("root-token")).await.status(),
        404
    );
}
