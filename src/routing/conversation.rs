//! Which conversation a request belongs to, for affinity: what the client
//! says (in order: the `x-switchyard-session` header, OpenAI's
//! `prompt_cache_key`, Anthropic's `metadata.user_id`, OpenAI's `user`), or
//! with `affinity = "prefix"` a hash of the prompt's stable start (tools,
//! system prompt, the first message), the part a provider's prompt cache
//! keys on.

use serde_json::value::RawValue;

use super::affinity::Key;
use crate::config::{Affinity, AffinityMode};
use crate::protocol::Request;

/// The header a client names its conversation with.
pub const SESSION_HEADER: &str = "x-switchyard-session";

/// At most this much of the prompt is hashed: a long prompt's start is as
/// stable as all of it, and hashing stays cheap.
const PREFIX_BYTES: usize = 16 * 1024;

/// The request's conversation key, if affinity is on and it has one.
pub fn key(affinity: &Affinity, session: Option<&str>, req: &Request) -> Option<Key> {
    if affinity.mode == AffinityMode::Off {
        return None;
    }
    let model = req.model.as_str();
    if let Some(s) = session.filter(|s| !s.is_empty()) {
        return Some(Key::new(model, "session", s.as_bytes()));
    }
    if let Some(k) = req.get::<String>("prompt_cache_key") {
        return Some(Key::new(model, "prompt_cache_key", k.as_bytes()));
    }
    if let Some(u) = metadata_user(req) {
        return Some(Key::new(model, "metadata.user_id", u.as_bytes()));
    }
    if let Some(u) = req.get::<String>("user").filter(|u| !u.is_empty()) {
        return Some(Key::new(model, "user", u.as_bytes()));
    }
    if affinity.mode == AffinityMode::Prefix {
        return prefix(req).map(|p| Key::new(model, "prefix", &p));
    }
    None
}

fn metadata_user(req: &Request) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        user_id: Option<String>,
    }
    let m: Metadata = req.get("metadata")?;
    m.user_id.filter(|u| !u.is_empty())
}

/// The stable start of the prompt, bounded: the tools and system prompt as
/// sent, then the conversation's items up to its first user turn.
fn prefix(req: &Request) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(1024);
    for field in ["tools", "system", "instructions"] {
        if let Some(v) = req.field(field) {
            push(&mut out, v.get().as_bytes());
        }
    }
    let items = req.field("messages").or_else(|| req.field("input"));
    if let Some(items) = items.and_then(|v| serde_json::from_str::<Vec<&RawValue>>(v.get()).ok()) {
        for item in items {
            push(&mut out, item.get().as_bytes());
            if is_turn(item) || out.len() >= PREFIX_BYTES {
                break;
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

fn push(out: &mut Vec<u8>, bytes: &[u8]) {
    let room = PREFIX_BYTES.saturating_sub(out.len());
    out.extend_from_slice(&bytes[..bytes.len().min(room)]);
    out.push(0);
}

/// A message that is not a system or developer instruction.
fn is_turn(item: &RawValue) -> bool {
    #[derive(serde::Deserialize)]
    struct Role<'a> {
        #[serde(borrow)]
        role: Option<&'a str>,
    }
    let role = serde_json::from_str::<Role>(item.get())
        .ok()
        .and_then(|r| r.role);
    !matches!(role, Some("system" | "developer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn req(body: &str) -> Request {
        Request::chat(body.as_bytes()).unwrap()
    }

    fn mode(mode: AffinityMode) -> Affinity {
        Affinity {
            mode,
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_client_named_conversation_comes_first() {
        let a = mode(AffinityMode::Session);
        let r = req(r#"{"model":"m","messages":[],"user":"u1","prompt_cache_key":"pk"}"#);
        let header = key(&a, Some("s1"), &r).unwrap();
        assert_eq!(header, Key::new("m", "session", b"s1"));
        assert_eq!(
            key(&a, None, &r),
            Some(Key::new("m", "prompt_cache_key", b"pk"))
        );
        let r = req(r#"{"model":"m","messages":[],"user":"u1","metadata":{"user_id":"claude-1"}}"#);
        assert_eq!(
            key(&a, None, &r),
            Some(Key::new("m", "metadata.user_id", b"claude-1"))
        );
        let r = req(r#"{"model":"m","messages":[],"user":"u1"}"#);
        assert_eq!(key(&a, None, &r), Some(Key::new("m", "user", b"u1")));
        let r = req(r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#);
        assert_eq!(key(&a, None, &r), None, "session mode needs a name");
        assert_eq!(key(&mode(AffinityMode::Off), Some("s1"), &r), None);
    }

    #[test]
    fn prefix_keys_follow_the_stable_start_only() {
        let a = mode(AffinityMode::Prefix);
        let first = r#"{"model":"m","tools":[{"type":"function"}],"messages":[{"role":"system","content":"S"},{"role":"user","content":"Q1"}]}"#;
        let later = r#"{"model":"m","tools":[{"type":"function"}],"messages":[{"role":"system","content":"S"},{"role":"user","content":"Q1"},{"role":"assistant","content":"A1"},{"role":"user","content":"Q2"}]}"#;
        let other = r#"{"model":"m","tools":[{"type":"function"}],"messages":[{"role":"system","content":"S"},{"role":"user","content":"Other"}]}"#;
        let k1 = key(&a, None, &req(first)).unwrap();
        assert_eq!(
            Some(k1),
            key(&a, None, &req(later)),
            "one conversation, one key"
        );
        assert_ne!(Some(k1), key(&a, None, &req(other)));
        let huge = format!(
            r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
            "x".repeat(100_000)
        );
        assert!(prefix(&req(&huge)).unwrap().len() <= PREFIX_BYTES + 8);
    }
}
