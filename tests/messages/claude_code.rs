//! The real Claude Code CLI (npm `@anthropic-ai/claude-code`, installed by
//! .ci/run), offline against the gateway on loopback: `claude -p` prints the
//! mock's answer, and a `Bash` tool round trip completes, with the model
//! served by an Anthropic mock and by an OpenAI mock. Skipped, with a
//! message, where `claude` is not installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use mock_upstream::Fault;
use serde_json::Value;

use super::common_providers::{gateway, mock, provider, TOKEN};

const MODEL: &str = "claude-sonnet-4-5";

fn claude() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path)
        .map(|d| d.join("claude"))
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!("skipped: `claude` is not on PATH (npm install -g @anthropic-ai/claude-code)");
    }
    found
}

/// Runs `claude -p PROMPT` in `cwd` against `url`; its JSON result.
async fn run(bin: &Path, url: &str, cwd: &Path, args: &[&str]) -> Value {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("timeout");
    cmd.arg("120")
        .arg(bin)
        .args(["--output-format", "json", "--model", MODEL])
        .args(args);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("TERM", "dumb")
        .env("ANTHROPIC_BASE_URL", url)
        .env("ANTHROPIC_API_KEY", TOKEN)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL", "1")
        .current_dir(cwd);
    // The gateway runs on this test's runtime: wait for the child elsewhere.
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "claude exited {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

async fn through(kind: &str) {
    let Some(bin) = claude() else { return };
    let mock = mock(kind, Fault::default()).await;
    let config = format!(
        "{}[[models.{MODEL}.backends]]\nprovider = \"p\"\nmodel = \"up-model\"\n[users.u]\ntoken = \"{TOKEN}\"\n",
        provider("p", kind, &mock, "")
    );
    let url = gateway(&config).await;
    let work = tempfile::tempdir().unwrap();
    let hello = run(&bin, &url, work.path(), &["-p", "Say hello"]).await;
    let result = hello["result"].as_str().unwrap_or_default();
    assert!(
        result.starts_with(&format!("Hello from {kind}.")) && result.contains("Say hello"),
        "{kind}: {hello}"
    );

    for name in ["alpha.txt", "beta.txt"] {
        std::fs::write(work.path().join(name), "x").unwrap();
    }
    let args = [
        "-p",
        "list the files in the current directory",
        "--allowedTools",
        "Bash(ls)",
    ];
    let listed = run(&bin, &url, work.path(), &args).await;
    let result = listed["result"].as_str().unwrap_or_default();
    // The mock quotes the tool result: the CLI really ran `ls` here.
    assert!(
        result.contains("alpha.txt") && result.contains("beta.txt"),
        "{kind}: {listed}"
    );
    let asked: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v1/"))
        .collect();
    assert!(asked.len() >= 3, "{kind}: hello, the tool call, its result");
}

#[tokio::test]
async fn claude_code_through_an_anthropic_backend() {
    through("anthropic").await;
}

#[tokio::test]
async fn claude_code_through_an_openai_backend() {
    through("openai").await;
}
