//! The reports: `GET /admin/usage` for admins, `GET /v1/usage` for a
//! user's own rows and budgets, and their errors in OpenAI's shape.

use serde_json::{json, Value};

use super::{admin_user, rows_once, ADMIN};
use crate::common::{chat_body, client, error_of, gateway, get, mock, Gateway, TOKEN};

const OTHER: &str = "other-token";

async fn send(gw: &Gateway, token: &str) {
    let resp = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(token)
        .json(&chat_body(json!({"max_tokens": 4})))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap();
}

async fn error(gw: &Gateway, path: &str, token: Option<&str>) -> (u16, Value) {
    let resp = get(gw, path, token).await;
    (resp.status().as_u16(), error_of(resp).await)
}

#[tokio::test]
async fn a_user_sees_only_their_own_rows_and_budgets() {
    let up = mock("a").await;
    let text = admin_user()
        + &crate::common::provider("a", &up, "")
        + "[models.m]\n"
        + &crate::common::backend("m", "a", "")
        + "[prices.\"up-a\"]\ninput_per_mtok = 0.0\noutput_per_mtok = 10000.0\n"
        + &crate::common::user()
        + "[users.tester.budget]\nusd_per_day = 1.0\n"
        + &format!("[users.other]\ntoken = \"{OTHER}\"\n");
    let gw = gateway(&text).await;
    send(&gw, TOKEN).await;
    send(&gw, TOKEN).await;
    send(&gw, OTHER).await;
    let all = rows_once(&gw, "group_by=user", 3).await;
    let requests: Vec<(&str, i64)> = all
        .iter()
        .map(|r| (r["user"].as_str().unwrap(), r["requests"].as_i64().unwrap()))
        .collect();
    assert_eq!(requests, vec![("other", 1), ("tester", 2)]);

    // Naming another user, or grouping by user, changes nothing.
    let resp = get(
        &gw,
        "/v1/usage?user=other&group_by=user,model,",
        Some(TOKEN),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let own: Value = resp.json().await.unwrap();
    assert_eq!(own["user"], "tester");
    let rows = own["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{own}");
    assert_eq!(
        (&rows[0]["model"], &rows[0]["requests"]),
        (&json!("m"), &json!(2))
    );
    assert!(rows[0].get("user").is_none(), "{own}");
    let budget = &own["budgets"][0];
    assert_eq!(
        (&budget["window"], &budget["limit_usd"]),
        (&json!("daily"), &json!(1.0))
    );
    let cost = rows[0]["cost_usd"].as_f64().unwrap();
    let left = budget["remaining_usd"].as_f64().unwrap();
    assert!(cost > 0.0 && (left - (1.0 - cost)).abs() < 1e-9, "{own}");
    assert!(budget["reset_ms"].as_u64().unwrap() > 0);

    let theirs: Value = get(&gw, "/v1/usage", Some(OTHER))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["data"][0]["requests"], 1);
    assert_eq!(theirs["budgets"], json!([]), "no budget, no windows");
}

#[tokio::test]
async fn bad_reports_are_refused_in_openai_shape_after_the_token() {
    let up = mock("a").await;
    let text = admin_user()
        + &crate::common::provider("a", &up, "")
        + "[models.m]\n"
        + &crate::common::backend("m", "a", "")
        + &crate::common::user();
    let gw = gateway(&text).await;
    let (status, _) = error(&gw, "/admin/usage?colour=red", None).await;
    assert_eq!(status, 401, "who asks comes first");
    let (status, e) = error(&gw, "/admin/usage", Some(TOKEN)).await;
    assert_eq!((status, e["code"].as_str()), (403, Some("admin_required")));
    let (status, e) = error(&gw, "/admin/usage?colour=red", Some(ADMIN)).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("invalid_query")));
    assert!(e["message"].as_str().unwrap().contains("colour"), "{e}");
    let (status, e) = error(&gw, "/v1/usage?from=2026-13-01", Some(TOKEN)).await;
    assert_eq!((status, e["param"].as_str()), (400, Some("from")));
    let (status, e) = error(&gw, "/admin/usage?group_by=user,colour", Some(ADMIN)).await;
    assert_eq!((status, e["param"].as_str()), (400, Some("group_by")));
}
