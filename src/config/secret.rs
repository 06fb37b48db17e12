//! Secrets from `${ENV}` references, held in a type that redacts itself.

use std::fmt;
use std::sync::Arc;

/// An API key or token. `Debug` and `Display` print `[redacted]`, so a secret
/// can sit in any struct that gets logged without leaking.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// The only way to read the value: grep for it to audit every use.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Replaces every `${NAME}` in `text` with `lookup(NAME)`, and `${NAME:-fallback}`
/// with the fallback when NAME is unset. An unset NAME without a fallback is an error.
pub fn expand_env(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed \"${{\" in {:?}", redact_hint(text)));
        };
        let (name, fallback) = match after[..end].split_once(":-") {
            Some((n, f)) => (n, Some(f)),
            None => (&after[..end], None),
        };
        match (lookup(name), fallback) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(f)) => out.push_str(f),
            (None, None) => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Shows only the shape of a value that may hold a secret.
fn redact_hint(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c == '$' || c == '{' || c == '}' {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// The SHA-256 digest users are looked up by.
pub fn token_digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// Lowercase hex, as `switchyard hash-token` prints a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits (either case) into a digest.
pub fn digest_from_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_redacts() {
        let env = |k: &str| (k == "KEY").then(|| "sk-123".to_string());
        assert_eq!(expand_env("Bearer ${KEY}", &env).unwrap(), "Bearer sk-123");
        assert_eq!(expand_env("plain", &env).unwrap(), "plain");
        assert_eq!(expand_env("${MISSING:-}", &env).unwrap(), "");
        assert_eq!(
            expand_env("${MISSING:-x}/${KEY:-y}", &env).unwrap(),
            "x/sk-123"
        );
        assert!(expand_env("${MISSING}", &env)
            .unwrap_err()
            .contains("MISSING"));
        assert!(!expand_env("sk-abc${", &env).unwrap_err().contains("sk-abc"));
        let s = Secret::new("sk-123");
        assert_eq!(format!("{s} {s:?}"), "[redacted] [redacted]");
    }
}
