//! `switchyard demo`: embedded mock backends and a built-in config, so the
//! gateway can be tried with no API keys.

use std::time::Duration;

use mock_upstream::{Fault, MockConfig, MockServer};

use crate::config::{self, Config, ConfigErrors};

/// The demo's user token, as in the seed document.
pub const TOKEN: &str = "your-token";

/// The demo backends: (id, fault). Latencies differ so strategies and
/// benchmarks have something to see; `problematic_backend` always fails.
fn backends() -> Vec<(&'static str, Fault)> {
    let ms = Duration::from_millis;
    let slow = |delay, first, chunk| Fault {
        delay: ms(delay),
        first_token_delay: ms(first),
        chunk_delay: ms(chunk),
        ..Fault::default()
    };
    vec![
        ("openai_official", slow(40, 60, 15)),
        ("anthropic_claude", slow(60, 90, 20)),
        ("google_gemini", slow(30, 50, 10)),
        ("problematic_backend", Fault::status(500)),
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
        for (name, fault) in backends() {
            let mut cfg = MockConfig::new(name).with_fault(fault);
            cfg.models = vec!["gpt-4o".to_string()];
            cfg.record = false;
            mocks.push((name, MockServer::start(cfg).await.map_err(DemoError::Mock)?));
        }
        let text = config_text(listen, &mocks);
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

fn config_text(listen: &str, mocks: &[(&str, MockServer)]) -> String {
    let mut text = format!(
        "[server]\nlisten = \"{listen}\"\n\n[settings]\nmax_attempts = 3\nfirst_token_timeout = \"10s\"\nrequest_timeout = \"30s\"\n\n"
    );
    for (name, mock) in mocks {
        text += &format!("[providers.{name}]\nbackend_type = \"openai\"\nbase_url = \"{}/v1\"\napi_key = \"demo-key-{name}\"\n\n", mock.url());
    }
    text += "[models.gpt-4o]\nstrategy = \"weighted_random\"\n";
    for (name, _) in mocks {
        text += &format!("[[models.gpt-4o.backends]]\nprovider = \"{name}\"\nmodel = \"gpt-4o\"\n");
    }
    text += &format!("\n[users.demo]\ntoken = \"{TOKEN}\"\nadmin = true\n");
    text
}
