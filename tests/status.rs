//! The status page's access modes and the health gauges in `/metrics`.

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
