//! Live config reload: the admin endpoint in-process over real HTTP, and
//! SIGHUP and file changes on the real binary. Every wait is a bounded poll.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod common_health;
mod common_redis;

use std::time::{Duration, Instant};

use common_health::{config_text, mock, mock_with, parse_sse, Gateway, Setup, ADMIN, USER};
use common_redis::{signal, Instance, BIN};
use futures_util::StreamExt;
use mock_upstream::{Fault, MockConfig};
use serde_json::{json, Value};

/// A gateway that reloads from a temp file holding `text`.
async fn from_file(text: &str) -> (Gateway, tempfile::TempDir, std::path::PathBuf) {
    // Each reload waits for the file to hold still this long.
    let text = &format!("{text}\n[reload]\ndebounce = \"50ms\"\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.toml");
    std::fs::write(&path, text).unwrap();
    let gw = Gateway::from_text(text).await;
    gw.state.set_config_path(path.clone());
    (gw, dir, path)
}

async fn reload(gw: &Gateway) -> (u16, Value) {
    let r = gw.post("/admin/reload", ADMIN, json!({})).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn metrics(gw: &Gateway) -> String {
    gw.get("/metrics", None).await.text().await.unwrap()
}

#[tokio::test]
async fn a_reload_during_a_long_stream_does_not_break_it_and_removed_backends_get_no_traffic() {
    let slow = MockConfig {
        chunks: Some(20),
        ..MockConfig::new("old").with_fault(Fault {
            chunk_delay: Duration::from_millis(30),
            ..Fault::default()
        })
    };
    let old = mock_with(slow).await;
    let new = mock("new").await;
    let setup = Setup::default();
    let (gw, _dir, path) = from_file(&config_text(&setup, &[("old", &old, "")])).await;
    let resp = gw.chat(json!({"stream": true})).await;
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let mut text = String::from_utf8(body.next().await.unwrap().unwrap().to_vec()).unwrap();
    std::fs::write(&path, config_text(&setup, &[("new", &new, "")])).unwrap();
    assert_eq!(reload(&gw).await, (200, json!({"status": "reloaded"})));
    while let Some(chunk) = body.next().await {
        text += &String::from_utf8_lossy(&chunk.unwrap());
    }
    let sse = parse_sse(&text);
    assert!(
        sse.done && sse.error.is_none(),
        "the stream finished on the old config"
    );
    assert_eq!(sse.chunks, 20);
    for _ in 0..3 {
        let r = gw.chat(json!({})).await;
        assert_eq!(r.headers()["x-switchyard-backend"], "new");
    }
    assert_eq!(old.received(), 1, "the removed backend got no new traffic");
    assert!(metrics(&gw)
        .await
        .contains("switchyard_config_reloads_total{result=\"ok\"} 1"));
}

#[tokio::test]
async fn an_invalid_reload_keeps_serving_and_returns_every_error_with_its_path() {
    let up = mock("a").await;
    let setup = Setup::default();
    let good = config_text(&setup, &[("a", &up, "")]);
    let (gw, _dir, path) = from_file(&good).await;
    let bad = good.replace("strategy = \"round_robin\"", "strategy = \"fastest\"")
        + "\n[users.user.rate_limit]\nrequests_per_minute = 0\n";
    std::fs::write(&path, bad).unwrap();
    let (status, body) = reload(&gw).await;
    assert_eq!(status, 422, "{body}");
    let paths: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        vec![
            "models.m.strategy",
            "users.user.rate_limit.requests_per_minute"
        ]
    );
    assert_eq!(body["error"]["code"], "invalid_config");
    assert_eq!(
        gw.chat(json!({})).await.status(),
        200,
        "the old config serves"
    );
    std::fs::write(&path, "[users.x\n").unwrap();
    let (status, body) = reload(&gw).await;
    assert_eq!(
        (status, body["errors"][0]["path"].as_str()),
        (422, Some("(toml)"))
    );
    let user = gw.post("/admin/reload", USER, json!({})).await;
    assert_eq!(user.status(), 403, "admins only");
    let m = metrics(&gw).await;
    assert!(
        m.contains("switchyard_config_reloads_total{result=\"error\"} 2"),
        "{m}"
    );
}

/// Another deployment's file, say: no user id and no model name in common
/// with the running config. Refused, unless the file says it is meant.
#[tokio::test]
async fn a_file_replacing_every_user_and_model_is_refused_unless_it_says_so() {
    let up = mock("a").await;
    let (gw, _dir, path) = from_file(&config_text(&Setup::default(), &[("a", &up, "")])).await;
    let other = format!(
        "[providers.p]\nbase_url = \"{}\"\n[models.other]\n[[models.other.backends]]\nprovider = \"p\"\nmodel = \"x\"\n[users.stranger]\ntoken = \"stranger-token\"\n",
        up.url()
    );
    std::fs::write(&path, &other).unwrap();
    let (status, body) = reload(&gw).await;
    assert_eq!(status, 422, "{body}");
    let errors = body["errors"].as_array().unwrap();
    let paths: Vec<&str> = errors.iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(paths, vec!["users", "models"]);
    assert!(errors
        .iter()
        .all(|e| e["message"].as_str().unwrap().contains("allow_replace_all")));
    assert_eq!(
        gw.chat(json!({})).await.status(),
        200,
        "the old config serves"
    );
    std::fs::write(&path, other + "[reload]\nallow_replace_all = true\n").unwrap();
    assert_eq!(reload(&gw).await.0, 200);
    assert_eq!(
        gw.get("/v1/models", Some("stranger-token")).await.status(),
        200
    );
    assert_eq!(gw.get("/v1/models", Some(USER)).await.status(), 401);
}

#[tokio::test]
async fn health_of_unchanged_backends_survives_a_reload() {
    let bad = mock_with(MockConfig::new("bad").with_fault(Fault::status(500))).await;
    let good = mock("good").await;
    let setup = Setup {
        health: "failure_threshold = 2\nopen_cooldown = \"60s\"",
        ..Setup::default()
    };
    let (gw, _dir, path) = from_file(&config_text(
        &setup,
        &[("bad", &bad, ""), ("good", &good, "")],
    ))
    .await;
    for _ in 0..4 {
        gw.chat(json!({})).await;
    }
    assert_eq!(gw.state_of("bad").await, "open");
    let more = config_text(&setup, &[("bad", &bad, ""), ("good", &good, "")])
        + "\n[users.new]\ntoken = \"n\"\n";
    std::fs::write(&path, more).unwrap();
    assert_eq!(reload(&gw).await.0, 200);
    assert_eq!(gw.state_of("bad").await, "open", "the circuit stayed open");
}

#[tokio::test]
async fn without_a_config_file_reload_is_a_400() {
    let up = mock("a").await;
    let gw = Gateway::start(&Setup::default(), &[("a", &up, "")]).await;
    let (status, body) = reload(&gw).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("reload_unavailable"))
    );
}

fn served(token: &str) -> String {
    format!("[health.probe]\nkind = \"none\"\n[providers.p]\nbase_url = \"http://127.0.0.1:9\"\n[models.m]\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"x\"\n[users.u]\ntoken = \"{token}\"\n")
}

/// Polls until `token` is accepted by `/v1/models` (at most 10 s).
async fn accepted_eventually(url: &str, token: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let r = reqwest::Client::new()
            .get(format!("{url}/v1/models"))
            .bearer_auth(token)
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn sighup_reloads_the_file() {
    let gw = Instance::start(&(served("one") + "[reload]\nwatch = false\n"));
    assert!(accepted_eventually(&gw.url, "one").await);
    gw.rewrite(&(served("two") + "[reload]\nwatch = false\n"));
    signal(gw.child.id(), "-HUP");
    assert!(
        accepted_eventually(&gw.url, "two").await,
        "{:#?}",
        gw.logs()
    );
    assert!(
        logged(&gw, |l| l.contains("config reloaded")
            && l.contains("sighup"))
        .await
    );
}

/// Waits (bounded) for a log line: lines are read from the child's stdout by
/// another thread, so one may trail the behaviour it describes.
async fn logged(gw: &Instance, want: impl Fn(&str) -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(5) {
        if gw.logs().iter().any(|l| want(l)) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    eprintln!("{:#?}", gw.logs());
    false
}

#[tokio::test]
async fn a_changed_file_is_reloaded_and_listen_changes_warn() {
    let gw = Instance::start(&(served("one") + "[reload]\ndebounce = \"50ms\"\n"));
    assert!(accepted_eventually(&gw.url, "one").await);
    let text = served("two") + "[reload]\ndebounce = \"50ms\"\n";
    std::fs::write(
        &gw.config,
        format!("[server]\nlisten = \"127.0.0.1:1\"\n{text}"),
    )
    .unwrap();
    assert!(
        accepted_eventually(&gw.url, "two").await,
        "{:#?}",
        gw.logs()
    );
    assert!(
        logged(&gw, |l| l.contains("config reloaded")
            && l.contains("\"file\""))
        .await
    );
    assert!(
        logged(&gw, |l| l.contains("server.listen")
            && l.contains("restart"))
        .await
    );
}

/// `: > config.toml`: an empty file is invalid (no users, no models), so the
/// running config keeps serving everyone.
#[tokio::test]
async fn an_emptied_file_is_never_loaded() {
    let gw = Instance::start(&(served("one") + "[reload]\ndebounce = \"50ms\"\n"));
    assert!(accepted_eventually(&gw.url, "one").await);
    std::fs::write(&gw.config, "").unwrap();
    assert!(
        logged(&gw, |l| l.contains("config reload rejected")
            && l.contains("no users"))
        .await
    );
    assert!(accepted_eventually(&gw.url, "one").await);
}

/// A slow writer in place (40 pieces, 25 ms apart, a second in all): every
/// prefix is a valid config, but only the whole file is loaded, once.
#[tokio::test]
async fn a_file_written_slowly_in_place_is_loaded_once_whole() {
    use std::io::Write;
    let head = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n{}[reload]\ndebounce = \"300ms\"\n",
        served("one")
    );
    let gw = Instance::start(&head.replacen("[server]\nlisten = \"127.0.0.1:0\"\n", "", 1));
    assert!(accepted_eventually(&gw.url, "one").await);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&gw.config)
        .unwrap();
    file.write_all(format!("{head}[users.piece0]\ntoken = \"piece-0\"\n").as_bytes())
        .unwrap();
    for i in 1..40 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        file.write_all(format!("[users.piece{i}]\ntoken = \"piece-{i}\"\n").as_bytes())
            .unwrap();
    }
    drop(file);
    assert!(
        accepted_eventually(&gw.url, "piece-39").await,
        "{:#?}",
        gw.logs()
    );
    let metrics = reqwest::get(format!("{}/metrics", gw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchyard_config_reloads_total{result=\"ok\"} 1\n"),
        "{metrics}"
    );
    assert!(!metrics.contains("result=\"error\""), "{metrics}");
}

#[test]
fn hash_token_reads_standard_input() {
    use std::io::Write;
    let mut child = std::process::Command::new(BIN)
        .arg("hash-token")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"sy-secret\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let digest = String::from_utf8(out.stdout).unwrap();
    let want = switchyard::config::hex(&switchyard::config::token_digest("sy-secret"));
    assert_eq!(digest.trim(), want);
    assert!(!digest.contains("sy-secret"));
}

/// Kubernetes mounts a ConfigMap as a symlink into a `..data` symlink and
/// updates it by swapping `..data`: the config file itself is never written.
#[tokio::test]
async fn a_configmap_style_symlink_swap_is_reloaded() {
    let text = |token: &str| {
        format!("[server]\nlisten = \"127.0.0.1:0\"\n{}", served(token))
            + "[reload]\ndebounce = \"50ms\"\n"
    };
    let gw = Instance::start(&(served("one") + "[reload]\ndebounce = \"50ms\"\n"));
    assert!(accepted_eventually(&gw.url, "one").await);
    let dir = gw.config.parent().unwrap().to_path_buf();
    for (i, token) in ["two", "three"].into_iter().enumerate() {
        let version = dir.join(format!("v{i}"));
        std::fs::create_dir(&version).unwrap();
        std::fs::write(version.join("switchyard.toml"), text(token)).unwrap();
        std::os::unix::fs::symlink(&version, dir.join("..data_tmp")).unwrap();
        std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
        if i == 0 {
            let link = dir.join("link.tmp");
            std::os::unix::fs::symlink("..data/switchyard.toml", &link).unwrap();
            std::fs::rename(&link, &gw.config).unwrap();
        }
        assert!(
            accepted_eventually(&gw.url, token).await,
            "{token}: {:#?}",
            gw.logs()
        );
    }
}

/// The ledger's store is opened at start: a reload that names another one
/// warns that it needs a restart, and rows keep going where they went.
#[tokio::test]
async fn a_changed_usage_store_warns_and_rows_keep_their_store() {
    let up = mock("a").await;
    let text = |token: &str, store: &str| {
        format!(
            "[health.probe]\nkind = \"none\"\n[reload]\nwatch = false\n[usage]\nstore = \"sqlite://{store}\"\n\
             [providers.p]\nbase_url = \"{}\"\n[models.m]\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"x\"\n\
             [users.u]\ntoken = \"{token}\"\nadmin = true\n",
            up.url()
        )
    };
    let gw = Instance::start(&text("one", "first.db"));
    assert!(accepted_eventually(&gw.url, "one").await);
    gw.rewrite(&text("two", "second.db"));
    signal(gw.child.id(), "-HUP");
    assert!(
        accepted_eventually(&gw.url, "two").await,
        "{:#?}",
        gw.logs()
    );
    assert!(
        logged(&gw, |l| l.contains("usage.store") && l.contains("restart")).await,
        "the reload says the store needs a restart"
    );
    let http = reqwest::Client::new();
    let chat = http
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth("two")
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), 200);
    let start = Instant::now();
    let mut report = Value::Null;
    while start.elapsed() < Duration::from_secs(10) {
        report = http
            .get(format!("{}/admin/usage", gw.url))
            .bearer_auth("two")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if report["data"][0]["requests"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(report["data"][0]["requests"], 1, "{report}");
    let dir = gw.config.parent().unwrap();
    assert!(
        dir.join("first.db").exists(),
        "rows go to the store opened at start"
    );
    assert!(
        !dir.join("second.db").exists(),
        "the new store was not opened"
    );
}

/// Prices come with the config: after a reload that changes one, the next
/// answers are charged at the new price, the earlier ones keep the old.
#[tokio::test]
async fn a_reload_reprices_the_answers_after_it() {
    let up = mock("a").await;
    let text = |per_request: f64| {
        format!(
            "[health.probe]\nkind = \"none\"\n[providers.p]\nbase_url = \"{}\"\n[models.m]\n[[models.m.backends]]\n\
             provider = \"p\"\nmodel = \"x\"\nbilling_mode = \"per_request\"\nprice = {{ per_request = {per_request} }}\n\
             [users.admin]\ntoken = \"{ADMIN}\"\nadmin = true\n[users.user]\ntoken = \"{USER}\"\n",
            up.url()
        )
    };
    let (gw, _dir, path) = from_file(&text(1.0)).await;
    assert_eq!(gw.chat(json!({})).await.status(), 200);
    std::fs::write(&path, text(3.0) + "\n[reload]\ndebounce = \"50ms\"\n").unwrap();
    assert_eq!(reload(&gw).await.0, 200);
    assert_eq!(gw.chat(json!({})).await.status(), 200);
    let start = Instant::now();
    loop {
        let report: Value = gw
            .get("/admin/usage", Some(ADMIN))
            .await
            .json()
            .await
            .unwrap();
        if report["data"][0]["requests"] == 2 {
            assert_eq!(
                report["data"][0]["cost_usd"], 4.0,
                "$1 before, $3 after: {report}"
            );
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{report}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
