//! `switchyard demo`: embedded mock backends and a built-in config, so the
//! gateway can be tried with no API keys.

use std::time::Duration;

use mock_upstream::{Fault, MockConfig, MockServer};

use crate::config::{self, Config, ConfigErrors};

/// The demo's user token, as in the seed document.
pub const TOKEN: &str = "your-token";

/// One demo backend: its id, the protocol its mock speaks, the upstream
/// model name, its fault, and provider keys of its protocol.
struct DemoBackend {
    id: &'static str,
    backend_type: &'static str,
    model: &'static str,
    fault: Fault,
    keys: &'static str,
}

/// Latencies differ so strategies and benchmarks have something to see;
/// `problematic_backend` always fails. Anthropic and Gemini backends speak
/// their native protocols, so the demo shows the translation at work;
/// `openai_official` speaks the Responses API too, as OpenAI does. The
/// first four serve `gpt-4o`; `openai_chat` (chat completions only) and
/// `broken_stream` (its streams break after two chunks) serve `gpt-4o-mini`.
fn backends() -> Vec<DemoBackend> {
    let ms = Duration::from_millis;
    let slow = |delay, first, chunk| Fault {
        delay: ms(delay),
        first_token_delay: ms(first),
        chunk_delay: ms(chunk),
        ..Fault::default()
    };
    let b = |id, backend_type, model, fault| DemoBackend {
        id,
        backend_type,
        model,
        fault,
        keys: "",
    };
    vec![
        DemoBackend {
            keys: "responses = true\n",
            ..b("openai_official", "openai", "gpt-4o", slow(40, 60, 15))
        },
        b(
            "anthropic_claude",
            "anthropic",
            "claude-sonnet-4",
            slow(60, 90, 20),
        ),
        b(
            "google_gemini",
            "gemini",
            "gemini-2.5-flash",
            slow(30, 50, 10),
        ),
        b(
            "problematic_backend",
            "openai",
            "gpt-4o",
            Fault::status(500),
        ),
        b("openai_chat", "openai", "gpt-4o-mini", slow(20, 30, 10)),
        b(
            "broken_stream",
            "openai",
            "gpt-4o-mini",
            // Slow enough chunks that each leaves before the reset.
            Fault {
                close_after: Some(2),
                ..slow(20, 30, 50)
            },
        ),
    ]
}

/// One demo model: its name, its config lines, and its backends as
/// (provider, upstream model) pairs (`failover` takes them in order).
type DemoModel = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

fn models() -> [DemoModel; 3] {
    [
        (
            "gpt-4o",
            "strategy = \"weighted_random\"\n",
            &[
                ("openai_official", "gpt-4o"),
                ("anthropic_claude", "claude-sonnet-4"),
                ("google_gemini", "gemini-2.5-flash"),
                ("problematic_backend", "gpt-4o"),
            ],
        ),
        (
            "gpt-4o-mini",
            "strategy = \"failover\"\n",
            &[
                ("openai_chat", "gpt-4o-mini"),
                ("broken_stream", "gpt-4o-mini"),
            ],
        ),
        (
            "text-embedding-3-small",
            "kind = \"embeddings\"\n",
            &[
                ("openai_official", "text-embedding-3-small"),
                ("google_gemini", "gemini-embedding-001"),
            ],
        ),
    ]
}

/// Running mock backends and the config that points at them.
pub struct Demo {
    pub mocks: Vec<(&'static str, MockServer)>,
    pub config: Config,
}

impl Demo {
    /// Starts the mocks on free loopback ports and builds the config for `listen`.
    pub async fn start(listen: &str) -> Result<Demo, DemoError> {
        let mut mocks = Vec::new();
        let backends = backends();
        for b in &backends {
            let mut cfg = MockConfig::new(b.id).with_fault(b.fault.clone());
            cfg.models = vec![b.model.to_string()];
            cfg.record = false;
            mocks.push((b.id, MockServer::start(cfg).await.map_err(DemoError::Mock)?));
        }
        let text = config_text(listen, &backends, &mocks);
        let config = config::parse(&text, &|_| None).map_err(DemoError::Config)?;
        Ok(Demo { mocks, config })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("could not start a mock backend: {0}")]
    Mock(std::io::Error),
    #[error("the built-in demo config is invalid (a bug): {0}")]
    Config(ConfigErrors),
}

fn config_text(listen: &str, backends: &[DemoBackend], mocks: &[(&str, MockServer)]) -> String {
    let mut text = format!(
        "[server]\nlisten = \"{listen}\"\n\n[settings]\nmax_attempts = 3\nfirst_token_timeout = \"10s\"\nrequest_timeout = \"30s\"\n\n"
    );
    for (b, (_, mock)) in backends.iter().zip(mocks) {
        // Each protocol's base_url as its vendor documents it.
        let path = match b.backend_type {
            "openai" => "/v1",
            _ => "",
        };
        text += &format!(
            "[providers.{}]\nbackend_type = \"{}\"\nbase_url = \"{}{path}\"\napi_key = \"demo-key-{}\"\n{}\n",
            b.id,
            b.backend_type,
            mock.url(),
            b.id,
            b.keys
        );
    }
    for (model, lines, entries) in models() {
        text += &format!("[models.{model}]\n{lines}");
        for (provider, upstream) in entries {
            text += &format!(
                "[[models.{model}.backends]]\nprovider = \"{provider}\"\nmodel = \"{upstream}\"\n"
            );
        }
        text += "\n";
    }
    text += &format!("\n[users.demo]\ntoken = \"{TOKEN}\"\nadmin = true\n");
    // The demo leaves no file behind.
    text += "\n[usage]\nstore = \"sqlite::memory:\"\n";
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn demo_serves_native_protocols() {
        let demo = Demo::start("127.0.0.1:0").await.unwrap();
        let mut kinds: Vec<(&str, &str)> = demo
            .config
            .providers
            .values()
            .map(|p| (p.id.as_str(), p.protocol.name()))
            .collect();
        kinds.sort_by_key(|(id, _)| *id);
        assert_eq!(
            kinds,
            vec![
                ("anthropic_claude", "anthropic"),
                ("broken_stream", "openai"),
                ("google_gemini", "gemini"),
                ("openai_chat", "openai"),
                ("openai_official", "openai"),
                ("problematic_backend", "openai"),
            ]
        );
        let models: Vec<&str> = demo.config.models.keys().map(String::as_str).collect();
        assert_eq!(models, ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]);
    }
}
