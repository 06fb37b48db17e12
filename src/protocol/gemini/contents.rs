//! OpenAI messages → Gemini `systemInstruction` and `contents`.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::Generation;
use crate::protocol::messages::{self, Image, Message, Part, Role, EMPTY_TURN};
use crate::protocol::RequestError;

/// Google's documented signature for a function call it did not sign
/// (another model's turn, a client that dropped the signature): Gemini 3
/// refuses a step whose first call comes back unsigned.
const UNSIGNED: &str = "skip_thought_signature_validator";

/// The system instruction and the `contents`, consecutive turns of one role
/// merged (tool results of one assistant turn land in one user turn).
pub(super) fn convert(
    list: &[Message],
    generation: Generation,
) -> Result<(Option<Value>, Vec<Value>), RequestError> {
    // functionResponse needs the function's name; OpenAI only gives the id.
    let mut names: HashMap<&str, &str> = HashMap::new();
    let mut system: Vec<Value> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, m) in list.iter().enumerate() {
        let (role, parts) = match m.role {
            Role::System => {
                let text = messages::joined_text(&m.parts)
                    .ok_or_else(|| bad(i, "system messages take text only"))?;
                if !text.is_empty() {
                    system.push(json!({"text": text}));
                }
                continue;
            }
            Role::User => ("user", parts(&m.parts)),
            Role::Assistant => {
                for c in &m.tool_calls {
                    names.insert(&c.id, &c.name);
                }
                ("model", model_parts(m, generation))
            }
            Role::Tool => ("user", vec![function_response(i, m, &names)?]),
        };
        match turns.last_mut() {
            Some((last, content)) if *last == role => content.extend(parts),
            // An empty user turn stays (Gemini needs some text in it); an
            // empty model turn says nothing.
            _ if parts.is_empty() && role == "model" => {}
            _ => turns.push((role, parts)),
        }
    }
    let system = (!system.is_empty()).then(|| json!({"parts": system}));
    let contents = turns
        .into_iter()
        .map(|(role, mut parts)| {
            if parts.is_empty() {
                parts.push(json!({"text": EMPTY_TURN}));
            }
            json!({"role": role, "parts": parts})
        })
        .collect();
    Ok((system, contents))
}

/// A model turn with the thought signatures it was answered with, each in
/// the part Gemini put it in: the text's on the text, each call's on the call.
fn model_parts(m: &Message, generation: Generation) -> Vec<Value> {
    let mut p = parts(&m.parts);
    if let (Some(s), Some(last)) = (&m.signature, p.last_mut()) {
        last["thoughtSignature"] = s.clone().into();
    }
    for (k, c) in m.tool_calls.iter().enumerate() {
        let mut part = json!({"functionCall": {"name": c.name, "args": c.arguments}});
        let unsigned = (k == 0 && generation >= Generation::Gemini3).then_some(UNSIGNED);
        if let Some(s) = c.signature.as_deref().or(unsigned) {
            part["thoughtSignature"] = s.into();
        }
        p.push(part);
    }
    p
}

fn function_response(
    i: usize,
    m: &Message,
    names: &HashMap<&str, &str>,
) -> Result<Value, RequestError> {
    let name = names.get(m.tool_call_id.as_str()).ok_or_else(|| {
        bad(
            i,
            "`tool_call_id` matches no earlier assistant tool call (gemini needs its function name)",
        )
    })?;
    let text =
        messages::joined_text(&m.parts).ok_or_else(|| bad(i, "tool results take text only"))?;
    Ok(json!({"functionResponse": {"name": name, "response": {"content": text}}}))
}

fn bad(i: usize, why: &str) -> RequestError {
    RequestError {
        message: format!("messages[{i}]: {why} on gemini backends"),
        param: Some("messages".into()),
    }
}

fn parts(list: &[Part]) -> Vec<Value> {
    list.iter()
        .filter_map(|p| match p {
            Part::Text(t) if t.is_empty() => None,
            Part::Text(t) => Some(json!({"text": t})),
            Part::Image(Image::Inline { mime, data }) => {
                Some(json!({"inlineData": {"mimeType": mime, "data": data}}))
            }
            Part::Image(Image::Url(url)) => {
                Some(json!({"fileData": {"mimeType": mime_from_url(url), "fileUri": url}}))
            }
        })
        .collect()
}

/// Gemini needs a media type for a URL; guess it from the extension.
fn mime_from_url(url: &str) -> &'static str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("heic") => "image/heic",
        Some("heif") => "image/heif",
        _ => "image/jpeg",
    }
}
