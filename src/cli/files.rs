//! `check-config` (a summary of a valid config, never a secret, or every
//! error with its TOML path) and `init` (a commented example config).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use switchyard::config::{self, Config};

/// Writes to standard output, where `print!` would panic on a reader
/// that went away (`check-config config.toml | head -1`): that is no error.
fn print_quietly(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing to standard output")
        }
        _ => Ok(()),
    }
}

pub fn check_config(path: &Path) -> Result<ExitCode> {
    match config::load(path) {
        Ok(c) => {
            print_quietly(&format!("{} is valid.\n{}", path.display(), summary(&c)))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{} has {} error(s):", path.display(), errors.0.len());
            for e in &errors.0 {
                eprintln!("  {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A human summary with no secrets: counts, names, strategies.
fn summary(c: &Config) -> String {
    let mut s = format!(
        "listen: {}\nproviders ({}):\n",
        c.server.listen,
        c.providers.len()
    );
    for p in c.providers.values() {
        let key = if p.api_key.is_some() {
            "api key set"
        } else {
            "no api key"
        };
        let state = if p.enabled { "" } else { ", disabled" };
        s += &format!(
            "  {} [{}] {} ({key}{state})\n",
            labelled(&p.id, &p.name),
            p.protocol.name(),
            config::redact_url(&p.base_url)
        );
    }
    s += &format!("models ({}):\n", c.models.len());
    for m in c.models.values() {
        let ids: Vec<String> = m
            .backends
            .iter()
            .map(|b| format!("{}{}", b.id, if b.enabled { "" } else { " (disabled)" }))
            .collect();
        s += &format!("  {} [{}]: {}\n", m.name, m.strategy.name(), ids.join(", "));
    }
    s += &ledger_summary(c);
    s += &format!("users ({}):\n", c.users.len());
    for u in c.users.values() {
        let models = if u.allowed_models.is_empty() {
            "all models".to_string()
        } else {
            u.allowed_models.join(", ")
        };
        s += &format!(
            "  {}{}: {models}\n",
            labelled(&u.id, &u.name),
            if u.admin { " (admin)" } else { "" }
        );
    }
    s
}

/// Where usage rows go (a URL's password redacted), and what costs nothing.
fn ledger_summary(c: &Config) -> String {
    let mut s = format!("usage ledger: {}\n", c.usage.store.shown());
    if !c.usage.unpriced.is_empty() {
        s += &format!(
            "  no price (cost 0; set [prices.\"MODEL\"]): {}\n",
            c.usage.unpriced.join(", ")
        );
    }
    s
}

/// `id`, with its display name when the file gave a different one.
fn labelled(id: &str, name: &str) -> String {
    if id == name {
        id.to_string()
    } else {
        format!("{id} ({name:?})")
    }
}

pub fn init(output: &Path, force: bool) -> Result<ExitCode> {
    if output.exists() && !force {
        bail!(
            "{} already exists; pass --force to overwrite it",
            output.display()
        );
    }
    // A credential: from the OS's random source, not a seeded generator.
    let mut bytes = [0u8; 24];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| anyhow::anyhow!("reading the OS random source: {e}"))?;
    let token = format!("sy-{}", config::hex(&bytes));
    let text = include_str!("../config/example.toml").replace("@TOKEN@", &token);
    std::fs::write(output, text).with_context(|| format!("writing {}", output.display()))?;
    println!(
        "Wrote {}. Edit it, then: switchyard check-config {0}",
        output.display()
    );
    Ok(ExitCode::SUCCESS)
}
