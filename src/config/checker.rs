//! The error collector every validation step writes to, with the checks
//! they share (durations, `${ENV}` secrets).

use std::time::Duration;

use super::secret::expand_env;
use super::types::Access;
use super::{ConfigError, Env, Secret};

/// Collects errors so `check-config` can show all of them at once.
pub(super) struct Checker<'a> {
    pub(super) errors: Vec<ConfigError>,
    pub(super) env: &'a Env<'a>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(env: &'a Env<'a>) -> Self {
        Checker {
            errors: Vec::new(),
            env,
        }
    }

    pub(super) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }

    pub(super) fn duration(
        &mut self,
        path: String,
        value: Option<&String>,
        default: Duration,
    ) -> Duration {
        let Some(text) = value else { return default };
        match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                self.error(path, "must be greater than zero");
                default
            }
            Err(e) => {
                self.error(
                    path,
                    format!("invalid duration {text:?} ({e}); write e.g. \"5s\" or \"300ms\""),
                );
                default
            }
        }
    }

    /// Who may see a page (`open`, `admin`, `off`), `default` when unset.
    pub(super) fn access(&mut self, path: &str, value: Option<&str>, default: Access) -> Access {
        let Some(name) = value else { return default };
        Access::parse(name).unwrap_or_else(|| {
            self.error(
                path,
                format!("unknown value {name:?} (known: {})", Access::KNOWN),
            );
            default
        })
    }

    pub(super) fn secret(&mut self, path: String, text: &str) -> Secret {
        match expand_env(text, self.env) {
            Ok(v) => Secret::new(v),
            Err(e) => {
                self.error(path, e);
                Secret::new("")
            }
        }
    }
}
