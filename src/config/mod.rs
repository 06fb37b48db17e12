//! Configuration: TOML into serde structs that reject unknown keys
//! ([`raw`]), then validated into runtime types ([`types`]). Every error names
//! its TOML path, e.g. `models.gpt-4o.backends[1].provider: unknown provider "x"`.

mod checker;
mod health;
mod limits;
mod prices;
mod protocol;
mod raw;
mod raw_health;
mod raw_limits;
mod raw_usage;
mod secret;
mod types;
mod usage;
mod validate;

pub use health::*;
pub use limits::*;
pub use prices::{Price, PriceTable};
pub use secret::{digest_from_hex, expand_env, hex, token_digest, Secret};
pub use types::*;
pub use usage::*;

use std::fmt;
use std::path::Path;

/// Looks up an environment variable (a closure, so tests need not touch the real environment).
pub type Env<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// One problem in a config file, with the TOML path it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

/// Every problem found in one config file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

fn one(path: impl Into<String>, message: impl Into<String>) -> ConfigErrors {
    ConfigErrors(vec![ConfigError {
        path: path.into(),
        message: message.into(),
    }])
}

/// Parses and validates config text, reading `${VAR}` references from `env`.
/// Without a file to sit beside, the usage ledger defaults to memory and
/// relative paths are the working directory's.
pub fn parse(text: &str, env: &Env) -> Result<Config, ConfigErrors> {
    parse_in(text, env, None)
}

/// As [`parse`], for the file in `dir`: relative paths and the default
/// ledger file are beside it.
fn parse_in(text: &str, env: &Env, dir: Option<&Path>) -> Result<Config, ConfigErrors> {
    let de = toml::Deserializer::parse(text).map_err(|e| one("(toml)", syntax_error(&e)))?;
    let raw: raw::RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().message().trim().to_string();
        one(
            if path == "." {
                "(root)".to_string()
            } else {
                path
            },
            message,
        )
    })?;
    validate::validate(raw, env, dir).map_err(ConfigErrors)
}

/// A TOML syntax error without the quoted source line, which may hold a
/// secret: "TOML parse error at line 3, column 11: invalid basic string".
fn syntax_error(e: &toml::de::Error) -> String {
    let text = e.to_string();
    let quoted = |l: &&str| {
        let t = l.trim_start();
        t.starts_with('|')
            || t.split_once(" |")
                .is_some_and(|(n, _)| n.trim().parse::<u32>().is_ok())
    };
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !quoted(l))
        .map(str::trim)
        .collect();
    kept.join(": ")
}

/// Reads, parses and validates a config file with the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| one(path.display().to_string(), e.to_string()))?;
    parse_in(&text, &|k| std::env::var(k).ok(), path.parent())
}

#[cfg(test)]
mod tests;
