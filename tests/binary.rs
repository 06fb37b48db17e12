//! Tests that start the real `switchyard` binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// A running `switchyard demo` (or `serve`) on a free port; its stdout
/// lines arrive on `lines`, those before the listen line are in `preamble`.
struct Demo {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
    preamble: Vec<String>,
}

/// `child` (with its stdout piped) once it printed `marker` and its URL.
fn listening(mut child: Child, marker: &str) -> Demo {
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut preamble = Vec::new();
    let url = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no {marker:?} line after: {preamble:#?}"));
        if let Some(rest) = line.split(marker).nth(1) {
            break rest.trim().to_string();
        }
        preamble.push(line);
    };
    Demo {
        child,
        url,
        lines,
        preamble,
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_demo() -> Demo {
    start_demo_logging("info")
}

fn start_demo_logging(level: &str) -> Demo {
    let child = Command::new(BIN)
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("SWITCHYARD_LOG_FORMAT", "json")
        .env("RUST_LOG", level)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    listening(child, "listening on ")
}

/// The ```bash blocks of the seed document, with the demo's address.
fn seed_blocks(url: &str) -> Vec<String> {
    let doc = include_str!("fixtures/seed-usage.en.md");
    doc.split("```bash")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| !b.contains("hooks.slack.com"))
        .map(|b| b.replace("http://localhost:3000", url))
        .collect()
}

fn bash(script: &str) -> (bool, String) {
    let out = Command::new("bash").arg("-c").arg(script).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn the_seed_commands_work_against_the_demo() {
    let demo = start_demo();
    let blocks = seed_blocks(&demo.url);
    assert_eq!(blocks.len(), 7, "the seed has 7 runnable bash blocks");
    for block in &blocks {
        let (ok, out) = bash(block);
        assert!(ok, "block failed:\n{block}\n---\n{out}");
        assert!(
            !out.contains("\"error\"") || block.contains("problematic_backend"),
            "unexpected error:\n{block}\n---\n{out}"
        );
    }
    let (_, basic) = bash(&blocks[0]);
    assert!(
        basic.contains("Hello from openai_official."),
        "the pinned request reached openai_official:\n{basic}"
    );
    let (_, report) = bash(&blocks[3]);
    for b in ["openai_official", "anthropic_claude", "google_gemini"] {
        assert!(report.contains(&format!("✅ {b}: healthy")), "{report}");
    }
    let (_, debug) = bash(&blocks[4]);
    assert!(
        debug.contains("< HTTP/1.1 502") && debug.contains("problematic_backend: HTTP 500"),
        "{debug}"
    );
    let (_, compare) = bash(&blocks[5]);
    assert!(
        compare.contains("\"Hello from anthropic_claude.")
            && compare.contains("\"Hello from openai_official."),
        "{compare}"
    );
}

fn requests_logged(demo: &Demo) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(line) = demo.lines.recv_timeout(Duration::from_millis(500)) {
        if let Ok(v) = serde_json::from_str::<Value>(&line) {
            if v["target"] == "switchyard::request" {
                out.push(v);
            }
        }
    }
    out
}

#[test]
fn every_request_gets_exactly_one_log_line_without_secrets() {
    let demo = start_demo();
    let curl = |args: &str| bash(&format!("curl -s -o /dev/null -D - {args}")).1;
    let auth = "-H 'Authorization: Bearer your-token' -H 'Content-Type: application/json'";
    let chat = format!("{}/v1/chat/completions", demo.url);
    let outputs = [
        curl(&format!("{auth} {chat} -d '{{\"model\":\"gpt-4o\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}'")),
        curl(&format!("{auth} {chat} -d '{{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[]}}'")),
        curl(&format!("{auth} {chat} -d '{{\"model\":\"gpt-4o\",\"backend\":\"problematic_backend\",\"messages\":[]}}'")),
        curl(&format!("{auth} {chat} -d '{{\"model\":\"gpt-4o\",\"backend\":\"anthropic_claude\",\"n\":2,\"messages\":[]}}'")),
        curl(&format!("-H 'Authorization: Bearer wrong-secret' {chat} -d '{{}}'")),
        curl(&format!("{auth} {chat} -d 'not json'")),
        curl(&format!("{}/nope", demo.url)),
        curl(&format!("{}/health", demo.url)),
    ];
    let ids: Vec<String> = outputs
        .iter()
        .map(|h| {
            h.lines()
                .find_map(|l| l.strip_prefix("x-request-id: "))
                .unwrap()
                .trim()
                .to_string()
        })
        .collect();
    let logged = requests_logged(&demo);
    for id in &ids {
        let n = logged
            .iter()
            .filter(|v| v["request_id"] == id.as_str())
            .count();
        assert_eq!(n, 1, "request {id} logged {n} times: {logged:?}");
    }
    assert_eq!(logged.len(), ids.len(), "{logged:?}");
    let all = serde_json::to_string(&logged).unwrap();
    assert!(
        !all.contains("your-token") && !all.contains("wrong-secret") && !all.contains("demo-key"),
        "{all}"
    );
    let pinned = logged
        .iter()
        .find(|v| v["backend"] == "problematic_backend")
        .unwrap();
    assert_eq!(
        (pinned["pinned"].as_bool(), pinned["status"].as_u64()),
        (Some(true), Some(502))
    );
    assert_eq!(
        pinned["attempts"].as_str().unwrap().split(':').nth(1),
        Some("status_5xx")
    );
    // Refused before any upstream call: the headers and the line say so.
    assert!(
        outputs[3].contains("x-switchyard-attempts: 0")
            && !outputs[3].contains("x-switchyard-backend"),
        "{}",
        outputs[3]
    );
    let refused = logged
        .iter()
        .find(|v| v["request_id"] == ids[3].as_str())
        .unwrap();
    assert_eq!(
        (
            refused["status"].as_u64(),
            refused.get("backend"),
            refused["attempts"].as_str()
        ),
        (Some(400), None, Some("")),
        "{refused}"
    );
    let ok = logged
        .iter()
        .find(|v| v["status"] == 200 && v["stream"] == false && v["path"] == "/v1/chat/completions")
        .unwrap();
    assert_eq!(
        (ok["user"].as_str(), ok["model"].as_str()),
        (Some("demo"), Some("gpt-4o"))
    );
    assert!(
        ok["prompt_tokens"].as_u64().unwrap() > 0 && ok["completion_tokens"].as_u64().unwrap() > 0
    );
}

#[test]
fn demo_refuses_a_taken_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["demo", "--listen", &addr])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}

#[test]
fn a_bad_worker_count_is_refused_by_name_not_a_panic() {
    let out = Command::new(BIN)
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("TOKIO_WORKER_THREADS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TOKIO_WORKER_THREADS must be a whole number above 0, not \"0\"")
            && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn serve_without_config_points_to_demo_and_init() {
    let out = Command::new(BIN)
        .args(["serve", "--config", "/nonexistent/switchyard.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("switchyard demo") && err.contains("switchyard init"),
        "{err}"
    );
}

#[test]
fn init_writes_a_config_that_check_config_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let p = path.to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env_remove("OPENAI_API_KEY")
            .output()
            .unwrap()
    };
    assert!(run(&["init", "--output", p]).status.success());
    let check = run(&["check-config", p]);
    let summary = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{summary}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        summary.contains("gpt-4o [weighted_failover]: openai_official, relay"),
        "{summary}"
    );
    let token = std::fs::read_to_string(&path)
        .unwrap()
        .split("ALICE_TOKEN:-")
        .nth(1)
        .unwrap()[..20]
        .to_string();
    assert!(!summary.contains(&token), "check-config prints no secrets");
    assert!(
        !run(&["init", "--output", p]).status.success(),
        "init refuses to overwrite"
    );
    assert!(run(&["init", "--output", p, "--force"]).status.success());
}

#[test]
fn check_config_lists_every_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let text = "[providers.p]\nbase_url = \"ftp://x\"\n[models.m]\nstrategy = \"nope\"\n[[models.m.backends]]\nprovider = \"x\"\nmodel = \"m\"\n";
    std::fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "providers.p.base_url: must start with http://",
        "models.m.strategy: unknown strategy \"nope\"",
        "models.m.backends[0].provider: unknown provider \"x\"",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn metrics_can_listen_on_their_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    let text = "[server]\nlisten = \"127.0.0.1:0\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n[providers.p]\nbase_url = \"http://127.0.0.1:9\"\n[models.m]\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"x\"\n[users.u]\ntoken = \"t\"\n";
    std::fs::write(&path, text).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Log lines (a model without a price) may come first.
    let mut lines: Vec<String> = Vec::new();
    let has = |lines: &[String], p: &str| lines.iter().any(|l| l.starts_with(p));
    for line in BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        lines.push(line);
        if has(&lines, "Metrics on ") && has(&lines, "Switchyard listening on ") {
            break;
        }
    }
    let find = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix).map(str::to_string))
            .unwrap()
    };
    let (metrics, main) = (find("Metrics on "), find("Switchyard listening on "));
    let (_, scraped) = bash(&format!("curl -s {metrics}"));
    let (_, on_main) = bash(&format!(
        "curl -s -o /dev/null -w '%{{http_code}}' {main}/metrics"
    ));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        scraped.contains("switchyard_requests_total") || scraped.contains("# EOF"),
        "{scraped}"
    );
    assert_eq!(on_main, "404");
}

#[test]
fn built_in_check_monitor_and_bench_against_the_demo() {
    let demo = start_demo();
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .args(["--url", &demo.url])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = run(&["check"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("❌ problematic_backend: unhealthy (HTTP 502")
            && out.contains("3 healthy, 1 unhealthy"),
        "{out}"
    );
    let (code, out) = run(&[
        "check",
        "--json",
        "--streaming",
        "--backends",
        "openai_official",
        "anthropic_claude",
    ]);
    assert_eq!(code, Some(0), "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    for b in report["backends"].as_array().unwrap() {
        assert_eq!(b["healthy"], true);
        assert!(b["ttft_s"].as_f64().unwrap() > 0.0);
    }
    let (code, out) = run(&["check", "--token", "nope"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(!out.contains("nope"), "the token is never printed");
    let (code, out) = run(&["monitor", "--interval", "0.1", "--count", "2"]);
    assert_eq!(
        (code, out.matches("Backend health report").count()),
        (Some(0), 2),
        "{out}"
    );
    let (code, out) = run(&[
        "bench",
        "--rounds",
        "2",
        "--backends",
        "google_gemini",
        "problematic_backend",
    ]);
    assert_eq!(code, Some(0), "{out}");
    let row = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(
        (row("google_gemini"), row("problematic_backend")),
        ("100%".to_string(), "0%".to_string()),
        "{out}"
    );
}

#[test]
fn debug_logs_carry_no_secrets() {
    let demo = start_demo_logging("debug");
    for b in [
        "openai_official",
        "anthropic_claude",
        "google_gemini",
        "problematic_backend",
    ] {
        let body = format!("{{\"model\":\"gpt-4o\",\"backend\":\"{b}\",\"stream\":true,\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}");
        bash(&format!("curl -s -o /dev/null -H 'Authorization: Bearer your-token' {}/v1/chat/completions -d '{body}'", demo.url));
    }
    bash(&format!(
        "curl -s -o /dev/null -H 'Authorization: Bearer wrong-secret' {}/v1/models",
        demo.url
    ));
    let mut lines = Vec::new();
    while let Ok(line) = demo.lines.recv_timeout(Duration::from_millis(500)) {
        lines.push(line);
    }
    let debug = lines
        .iter()
        .filter(|l| l.contains("\"level\":\"DEBUG\""))
        .count();
    assert!(debug > 0, "debug logging was on");
    for l in &lines {
        assert!(
            !l.contains("demo-key")
                && !l.contains("wrong-secret")
                && !l.contains("Bearer your-token"),
            "{l}"
        );
    }
}

/// `check-config | head -1`: the reader leaves after one line, and the
/// check exits quietly instead of panicking on the closed pipe.
#[test]
fn check_config_exits_quietly_into_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.toml");
    let mut text = "[providers.p]\nbase_url = \"http://127.0.0.1:9\"\n[models.m]\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"x\"\n".to_string();
    // A summary larger than a pipe's buffer, so the writer is still
    // writing when `head` has gone.
    for i in 0..4000 {
        text += &format!("[users.user{i}]\ntoken = \"token-{i}\"\n");
    }
    std::fs::write(&path, text).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#""$0" check-config "$1" | head -1 >/dev/null; echo "rc=${PIPESTATUS[0]}""#)
        .args([BIN, path.to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(stdout.trim(), "rc=0", "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn check_config_shows_display_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("named.toml");
    let text = "[providers.oa]\nname = \"OpenAI Official\"\nbase_url = \"https://api.openai.com\"\n[models.m]\n[[models.m.backends]]\nprovider = \"oa\"\nmodel = \"x\"\n[users.al]\nname = \"Alice\"\ntoken = \"t-1\"\n";
    std::fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{summary}");
    assert!(
        summary.contains("oa (\"OpenAI Official\") [openai]")
            && summary.contains("al (\"Alice\"): all models"),
        "{summary}"
    );
}

#[test]
fn proxy_variables_are_reported_by_name_without_their_credentials() {
    let mut child = Command::new(BIN)
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("SWITCHYARD_LOG_FORMAT", "json")
        .env("HTTPS_PROXY", "http://al:hunter2@127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let lines: Vec<String> = std::iter::from_fn(|| lines.recv_timeout(Duration::from_secs(3)).ok())
        .take(40)
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("go through the proxy") && l.contains("HTTPS_PROXY")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("hunter2")), "{lines:?}");
}

/// `switchyard serve` with `text` (which must listen on port 0) in a temp
/// dir, once it listens.
fn serve(dir: &std::path::Path, text: &str) -> Demo {
    let path = dir.join("switchyard.toml");
    std::fs::write(&path, text).unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--config", path.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    listening(child, "Switchyard listening on ")
}

#[test]
fn usage_prints_the_ledger_as_a_table_for_admins_and_for_each_user() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let up = rt
        .block_on(mock_upstream::MockServer::start(
            mock_upstream::MockConfig::new("up"),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // gpt-4o and gpt-4o-mini are priced by the shipped table.
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[health.probe]\nkind = \"none\"\n\
         [providers.p]\nbase_url = \"{}\"\n[models.m]\n\
         [[models.m.backends]]\nprovider = \"p\"\nid = \"a\"\nmodel = \"gpt-4o\"\n\
         [[models.m.backends]]\nprovider = \"p\"\nid = \"b\"\nmodel = \"gpt-4o-mini\"\n\
         [users.root]\ntoken = \"root-token\"\nadmin = true\n\
         [users.alice]\ntoken = \"alice-token\"\n[users.alice.budget]\nusd_per_day = 5.0\n",
        up.url()
    );
    let gateway = serve(dir.path(), &text);
    let url = gateway.url.clone();
    for (token, backend) in [
        ("alice", "a"),
        ("alice", "a"),
        ("alice", "b"),
        ("root", "a"),
    ] {
        let body = format!("{{\"model\":\"m\",\"backend\":\"{backend}\",\"messages\":[{{\"role\":\"user\",\"content\":\"hi\"}}]}}");
        let (ok, out) = bash(&format!("curl -sf -o /dev/null -H 'Authorization: Bearer {token}-token' {url}/v1/chat/completions -d '{body}'"));
        assert!(ok, "{out}");
    }
    let usage = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("usage")
            .args(["--url", &url])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (
            out.status.code(),
            text,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The writer inserts in batches, ~100 ms after a first row.
    let started = std::time::Instant::now();
    loop {
        let (code, out, err) = usage(&["--token", "root-token", "--json"]);
        assert_eq!(code, Some(0), "{out}{err}");
        let report: Value = serde_json::from_str(&out).unwrap();
        if report["data"][0]["requests"] == 4 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{report}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, out, _) = usage(&["--token", "root-token", "--group-by", "user,backend"]);
    assert_eq!(code, Some(0), "{out}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        out.starts_with("Usage from ") && out.contains("(all users)"),
        "{out}"
    );
    assert_eq!(&rows[1][..3], ["user", "backend", "requests"], "{out}");
    let row = |who: &str, b: &str| {
        rows.iter()
            .find(|r| r[0] == who && r[1] == b)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            row("alice", "a")[2],
            row("alice", "b")[2],
            row("root", "a")[2]
        ),
        ("2", "1", "1")
    );
    let total = rows.iter().find(|r| r[0] == "total").unwrap();
    assert_eq!(
        total[1], "4",
        "the total's empty key cells split away: {out}"
    );
    let cost: f64 = row("alice", "a").last().unwrap().parse().unwrap();
    assert!(cost > 0.0, "gpt-4o is priced: {out}");

    let (code, out, _) = usage(&["--token", "alice-token", "--group-by", "backend"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("(user alice)") && !out.contains("root"),
        "{out}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().take(2).eq(["a", "2"])),
        "{out}"
    );
    assert!(
        out.contains("daily budget: $") && out.contains("of $5.00 left, resets in "),
        "{out}"
    );

    let (code, out, err) = usage(&["--token", "nope"]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("HTTP 401") && !(out + &err).contains("nope"),
        "{err}"
    );
    let (code, _, err) = usage(&["--token", "root-token", "--group-by", "colour"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("unknown group \"colour\""), "{err}");
}

/// The ledger's PostgreSQL URL carries a password: `check-config`, the
/// logs (at debug, while the store is unreachable) and the admin's report
/// of the failure never show it.
#[test]
fn a_postgres_password_stays_out_of_check_config_logs_and_reports() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[health.probe]\nkind = \"none\"\n\
         [usage]\nstore = \"postgres://switchyard:hunter2@127.0.0.1:{port}/ledger\"\n\
         [providers.p]\nbase_url = \"http://127.0.0.1:9\"\n[models.m]\n\
         [[models.m.backends]]\nprovider = \"p\"\nmodel = \"gpt-4o\"\n\
         [users.root]\ntoken = \"root-token\"\nadmin = true\n"
    );
    let path = dir.path().join("switchyard.toml");
    std::fs::write(&path, &text).unwrap();
    let check = Command::new(BIN)
        .args(["check-config", path.to_str().unwrap()])
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&check.stdout);
    assert!(
        summary.contains(&format!(
            "usage ledger: postgres://[redacted]@127.0.0.1:{port}/ledger"
        )),
        "{summary}"
    );
    let child = Command::new(BIN)
        .args(["serve", "--config", path.to_str().unwrap()])
        .env("RUST_LOG", "debug")
        .env("SWITCHYARD_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let gateway = listening(child, "Switchyard listening on ");
    let url = gateway.url.clone();
    let mut seen = gateway.preamble.clone();
    // The server starts answering once the store has had its 5 s at start.
    let (_, report) = bash(&format!(
        "curl -s -m 30 -H 'Authorization: Bearer root-token' {url}/admin/usage"
    ));
    seen.extend(std::iter::from_fn(|| {
        gateway.lines.recv_timeout(Duration::from_millis(500)).ok()
    }));
    drop(gateway);
    assert!(report.contains("usage ledger"), "{report}");
    assert!(
        seen.iter()
            .any(|l| l.contains("usage ledger store") && l.contains("[redacted]@127.0.0.1")),
        "the store's failure is logged, naming the store: {seen:#?}"
    );
    for out in seen.iter().chain([&report, &summary.to_string()]) {
        assert!(!out.contains("hunter2"), "{out}");
    }
}
