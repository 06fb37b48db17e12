//! The real Codex CLI (npm `@openai/codex`, which `.ci/run` installs)
//! against the gateway, offline: `codex exec` with a provider whose
//! `base_url` is the gateway and `wire_api = "responses"`, the model served
//! by a Responses mock, a chat-completions mock and an Anthropic mock; a
//! plain answer and a shell tool round trip on each. Skipped, with a
//! message, where `codex` is not installed, unless
//! `SWITCHYARD_REQUIRE_CODEX` is set (CI sets it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common_providers;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common_providers::*;
use mock_upstream::{Fault, MockServer};
use serde_json::Value;

fn codex() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("codex"))
                .find(|c| c.is_file())
        })
        .unwrap_or_default();
    if found.is_none() {
        let required = std::env::var_os("SWITCHYARD_REQUIRE_CODEX").is_some();
        assert!(
            !required,
            "codex is not installed: npm install -g @openai/codex"
        );
        eprintln!("SKIPPED: codex is not on PATH (npm install -g @openai/codex)");
    }
    found
}

/// Models `resp`, `chat` and `claude`, each served by one mock.
fn config(resp: &MockServer, chat: &MockServer, claude: &MockServer) -> String {
    let mut t = String::new();
    for (model, id, kind, mock, extra, upstream) in [
        ("resp", "resp", "openai", resp, "responses = true", "gpt-5"),
        ("chat", "chat", "openai", chat, "", "gpt-4o"),
        (
            "claude",
            "claude",
            "anthropic",
            claude,
            "",
            "claude-sonnet-4",
        ),
    ] {
        t += &provider(id, kind, mock, extra);
        t += &format!("[[models.{model}.backends]]\nprovider = \"{id}\"\nmodel = \"{upstream}\"\n");
    }
    t + &user()
}

/// Codex's home, pointing at the gateway as in ../shared/agent-traffic/README.md.
fn codex_home(dir: &Path, gateway: &str) {
    let home = dir.join(".codex");
    std::fs::create_dir_all(&home).unwrap();
    let config = format!(
        "model_provider = \"gw\"\napproval_policy = \"never\"\nsandbox_mode = \"workspace-write\"\n\
         [model_providers.gw]\nname = \"gateway\"\nbase_url = \"{gateway}/v1\"\nenv_key = \"GW_API_KEY\"\n\
         wire_api = \"responses\"\nrequest_max_retries = 1\nstream_max_retries = 1\n"
    );
    std::fs::write(home.join("config.toml"), config).unwrap();
}

/// `codex exec PROMPT` with model `model`, in `work`; exit code and stdout.
async fn exec(
    codex: &Path,
    home: &Path,
    work: &Path,
    model: &str,
    prompt: &str,
) -> (i32, String, String) {
    let mut cmd = Command::new("timeout");
    cmd.arg("120")
        .arg(codex)
        .args(["exec", "--skip-git-repo-check", "--disable", "plugins"]);
    cmd.args(["-c", "analytics.enabled=false", "-m", model, prompt]);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("GW_API_KEY", TOKEN)
        .current_dir(work)
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// The text the last request to `mock` carried as the shell tool's output.
fn tool_output(mock: &MockServer) -> String {
    let last = mock.requests().pop().expect("a request").body;
    let found = |v: &Value| v.to_string().contains("switchyard-marker-42");
    let parts: Vec<Value> = ["input", "messages"]
        .iter()
        .filter_map(|k| last[*k].as_array().and_then(|a| a.last().cloned()))
        .collect();
    parts
        .into_iter()
        .find(found)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_exec_works_on_every_kind_of_backend() {
    let Some(codex) = codex() else { return };
    let resp = mock("resp-mock", Fault::default()).await;
    let chat = mock("chat-mock", Fault::default()).await;
    let claude = mock("claude-mock", Fault::default()).await;
    let url = gateway(&config(&resp, &chat, &claude)).await;
    let dir = tempfile::tempdir().unwrap();
    let (home, work) = (dir.path().join("home"), dir.path().join("work"));
    std::fs::create_dir_all(&work).unwrap();
    codex_home(&home, &url);
    std::fs::write(work.join("marker.txt"), "switchyard-marker-42\n").unwrap();
    for (model, mock) in [("resp", &resp), ("chat", &chat), ("claude", &claude)] {
        let (code, stdout, stderr) = exec(&codex, &home, &work, model, "Say hello").await;
        assert_eq!(code, 0, "{model}: {stdout}\n{stderr}");
        let hello = format!("Hello from {model}-mock.");
        assert!(
            stdout.contains(&hello) && stdout.contains("Say hello"),
            "{model}: {stdout}\n{stderr}"
        );
        let path = mock.requests()[0].path.clone();
        assert_eq!(
            path.ends_with("/responses"),
            model == "resp",
            "{model}: {path}"
        );
        let (code, stdout, stderr) =
            exec(&codex, &home, &work, model, "Please run `cat marker.txt`").await;
        assert_eq!(code, 0, "{model}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("switchyard-marker-42"),
            "{model}: the answer quotes the command's output: {stdout}\n{stderr}"
        );
        assert!(
            !tool_output(mock).is_empty(),
            "{model}: the tool's output went back upstream"
        );
    }
}
