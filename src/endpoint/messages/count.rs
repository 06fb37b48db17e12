//! `POST /v1/messages/count_tokens`: Anthropic backends count exactly; for
//! a model with none in reach, the gateway answers with an estimate.

use serde_json::{json, Value};

use crate::config::User;
use crate::protocol::{Api, Request, Support};
use crate::routing::Route;

/// Anthropic's rough size of one image, in tokens (about 1.15 megapixels).
const IMAGE_TOKENS: u64 = 1600;

/// Whether a backend the request may reach counts tokens itself.
pub(super) fn upstream_counts(route: &Route, pinned: Option<usize>, user: &User) -> bool {
    let counts = |i: usize| {
        route.slots[i]
            .backend
            .provider
            .protocol
            .support(Api::CountTokens)
            == Support::Native
    };
    match pinned {
        Some(i) => counts(i),
        None => (0..route.slots.len()).any(|i| route.slots[i].in_rotation(user) && counts(i)),
    }
}

/// The estimate: one token per four bytes of the text in `system`,
/// `messages` and `tools` (keys and values, without JSON punctuation),
/// plus a fixed size per image; image data and thinking signatures are not
/// text the model reads.
pub(super) fn estimate(req: &Request) -> Value {
    let mut bytes = 0u64;
    let mut images = 0u64;
    for name in ["system", "messages", "tools"] {
        if let Some(v) = req.get::<Value>(name) {
            walk(&v, &mut bytes, &mut images);
        }
    }
    let tokens = bytes.div_ceil(4) + images * IMAGE_TOKENS;
    json!({"input_tokens": tokens})
}

fn walk(v: &Value, bytes: &mut u64, images: &mut u64) {
    match v {
        Value::String(s) => *bytes += s.len() as u64,
        Value::Number(n) => *bytes += n.to_string().len() as u64,
        Value::Array(items) => items.iter().for_each(|i| walk(i, bytes, images)),
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("image") {
                *images += 1;
                return;
            }
            for (k, v) in map {
                if k == "signature" || k == "cache_control" {
                    continue;
                }
                *bytes += k.len() as u64;
                walk(v, bytes, images);
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_text_and_images() {
        let body = json!({"model": "m", "messages": [
            {"role": "user", "content": [{"type": "text", "text": "abcdefgh"},
             {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]}]});
        let req = Request::chat(body.to_string().as_bytes()).unwrap();
        // role user content type text text abcdefgh: 4+4+7+4+4+4+8 = 35 bytes.
        assert_eq!(estimate(&req), json!({"input_tokens": 9 + IMAGE_TOKENS}));
    }
}
