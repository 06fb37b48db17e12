//! Per-protocol checks: base URL normalisation, the provider keys only one
//! protocol reads, and backend names that end up in URL paths.

use super::raw::{RawBackend, RawProvider};
use super::types::{BackendType, ProtocolOptions};
use super::validate::Checker;

/// Brings a base URL to the form the protocol's endpoint paths extend:
/// OpenAI paths start after `/v1`; Anthropic (`/v1/messages`) and Gemini
/// (`/v1beta/models/...`) paths carry their version, so a copied URL that
/// already ends with it must lose it; Azure paths start at the host root.
pub(super) fn normalise_base_url(kind: BackendType, url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let strip = |suffix: &str| {
        trimmed
            .strip_suffix(suffix)
            .unwrap_or(trimmed)
            .trim_end_matches('/')
            .to_string()
    };
    match kind {
        BackendType::OpenAi if trimmed.ends_with("/v1") => trimmed.to_string(),
        BackendType::OpenAi => format!("{trimmed}/v1"),
        BackendType::Anthropic => strip("/v1"),
        BackendType::Gemini => strip("/v1beta"),
        BackendType::Azure => trimmed.to_string(),
    }
}

/// Reads the protocol-specific provider keys, rejecting those set on a
/// provider of another type (they would be silently ignored otherwise).
pub(super) fn options(
    c: &mut Checker,
    path: &str,
    kind: BackendType,
    p: &RawProvider,
) -> ProtocolOptions {
    use BackendType::{Anthropic, Azure};
    let mut o = ProtocolOptions::default();
    let version = p.anthropic_version.as_ref();
    if let Some(v) = only(c, path, "anthropic_version", kind, Anthropic, version) {
        if v.is_empty() || axum::http::HeaderValue::from_str(v).is_err() {
            c.error(
                format!("{path}.anthropic_version"),
                "must be a non-empty header value, e.g. \"2023-06-01\"",
            );
        } else {
            o.anthropic_version = v.clone();
        }
    }
    let max = p.default_max_tokens.as_ref();
    if let Some(&n) = only(c, path, "default_max_tokens", kind, Anthropic, max) {
        if n == 0 {
            c.error(format!("{path}.default_max_tokens"), "must be at least 1");
        } else {
            o.default_max_tokens = n;
        }
    }
    if let Some(v) = only(c, path, "api_version", kind, Azure, p.api_version.as_ref()) {
        if url_safe(v) {
            o.api_version = v.clone();
        } else {
            c.error(
                format!("{path}.api_version"),
                format!("invalid api version {v:?}; write e.g. \"2024-10-21\""),
            );
        }
    }
    o
}

fn only<'a, T>(
    c: &mut Checker,
    path: &str,
    key: &str,
    kind: BackendType,
    wanted: BackendType,
    value: Option<&'a T>,
) -> Option<&'a T> {
    let value = value?;
    if kind != wanted {
        c.error(
            format!("{path}.{key}"),
            format!(
                "only applies to providers with backend_type = \"{}\" (this one is \"{}\")",
                wanted.name(),
                kind.name()
            ),
        );
        return None;
    }
    Some(value)
}

/// Checks the backend keys that depend on its provider's protocol and
/// returns the Azure deployment, if the entry set one.
pub(super) fn backend(
    c: &mut Checker,
    path: &str,
    kind: BackendType,
    b: &RawBackend,
) -> Option<String> {
    const SAFE: &str = "use only letters, digits, '-', '_' and '.'";
    if let Some(d) = &b.deployment {
        if kind != BackendType::Azure {
            let message = format!(
                "only applies to backends of providers with backend_type = \"azure\" (this one is \"{}\")",
                kind.name()
            );
            c.error(format!("{path}.deployment"), message);
            return None;
        }
        if !url_safe(d) {
            c.error(
                format!("{path}.deployment"),
                format!("invalid deployment name {d:?}; {SAFE}"),
            );
        }
        return Some(d.clone());
    }
    // The model lands in a URL path for these two; a stray `/` or `?` would
    // silently address another resource.
    let model = &b.model;
    if kind == BackendType::Azure && !model.is_empty() && !url_safe(model) {
        let message = format!(
            "{model:?} is used as the Azure deployment in the URL; {SAFE}, or set `deployment`"
        );
        c.error(format!("{path}.model"), message);
    }
    if kind == BackendType::Gemini && !model.is_empty() && !gemini_model(model) {
        let message = format!("invalid Gemini model {model:?}; write e.g. \"gemini-2.5-flash\" or \"tunedModels/my-model\"");
        c.error(format!("{path}.model"), message);
    }
    None
}

/// A name that can sit in a URL path segment or query value unescaped.
fn url_safe(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `name`, `models/name` or `tunedModels/name`.
fn gemini_model(s: &str) -> bool {
    let name = s
        .strip_prefix("models/")
        .or_else(|| s.strip_prefix("tunedModels/"))
        .unwrap_or(s);
    url_safe(name)
}
