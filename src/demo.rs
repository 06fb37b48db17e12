//! `switchyard demo`: embedded mock backends and a built-in config, so the
//! gateway can be tried with no API keys.

use std::time::Duration;

use mock_upstream::{Fault, MockConfig, MockServer};

use crate::config::{self, Config, ConfigErrors};

/// The demo's user token, as in the seed document.
pub const TOKEN: &str = "your-token";

/// One demo backend: its id, the protocol its mock speaks, the upstream
/// model name, and its fault.
struct DemoBackend {
    id: &'static str,
    backend_type: &'static str,
    model: &'static str,
    fault: Fault,
}

/// Latencies differ so strategies and benchmarks have something to see;
/// `problematic_backend` always fails. Anthropic and Gemini backends speak
/// their native protocols, so the demo shows the translation at work.
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
    };
    vec![
        b("openai_official", "openai", "gpt-4o", slow(40, 60, 15)),
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
            "[providers.{}]\nbackend_type = \"{}\"\nbase_url = \"{}{path}\"\napi_key = \"demo-key-{}\"\n\n",
            b.id,
            b.backend_type,
            mock.url(),
            b.id
        );
    }
    text += "[models.gpt-4o]\nstrategy = \"weighted_random\"\n";
    for b in backends {
        text += &format!(
            "[[models.gpt-4o.backends]]\nprovider = \"{}\"\nmodel = \"{}\"\n",
            b.id, b.model
        );
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
                ("google_gemini", "gemini"),
                ("openai_official", "openai"),
                ("problematic_backend", "openai"),
            ]
        );
    }
}
