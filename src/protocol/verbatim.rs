//! The client's body kept as it was sent, for an upstream that speaks the
//! client's API: it goes out byte for byte except `model` (replaced by the
//! backend's name for the model) and `backend` (never sent upstream).
//!
//! Where the members sit comes from borrowed [`RawValue`]s, which point into
//! the body, so finding them is the one parse the request needs anyway.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One top-level member: its name, its value, and the value's bytes.
pub(super) struct Member<'a> {
    pub name: Cow<'a, str>,
    pub value: &'a RawValue,
    pub span: Range<usize>,
}

/// The top-level members of a JSON object, in order, duplicates included.
pub(super) fn members(body: &[u8]) -> Result<Vec<Member<'_>>, serde_json::Error> {
    let Members(list) = serde_json::from_slice(body)?;
    let base = body.as_ptr() as usize;
    Ok(list
        .into_iter()
        .map(|(Key(name), value)| {
            // A borrowed RawValue is a slice of `body`.
            let start = value.get().as_ptr() as usize - base;
            Member {
                name,
                value,
                span: start..start + value.get().len(),
            }
        })
        .collect())
}

#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

struct Members<'a>(Vec<(Key<'a>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Of;
        impl<'de> Visitor<'de> for Of {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut list = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(entry) = map.next_entry()? {
                    list.push(entry);
                }
                Ok(Members(list))
            }
        }
        d.deserialize_map(Of)
    }
}

/// The body as sent, and the two places a pass-through changes.
#[derive(Debug, Clone)]
pub struct Verbatim {
    body: Bytes,
    /// The bytes of `model`'s value.
    model: Range<usize>,
    /// The bytes cut for `backend`: the member and one comma beside it.
    backend: Option<Range<usize>>,
}

impl Verbatim {
    /// `model` and `backend` are indexes into `members` (parsed from `body`).
    pub(super) fn new(
        body: &[u8],
        members: &[Member],
        model: usize,
        backend: Option<usize>,
    ) -> Self {
        let backend = backend.map(|i| cut(body, members, i));
        Verbatim {
            body: Bytes::copy_from_slice(body),
            model: members[model].span.clone(),
            backend,
        }
    }

    /// The body with `model` replaced and `backend` removed.
    pub fn with_model(&self, model: &str) -> Vec<u8> {
        let mut edits: Vec<(Range<usize>, Vec<u8>)> = Vec::with_capacity(2);
        edits.push((self.model.clone(), json_string(model)));
        if let Some(cut) = &self.backend {
            edits.push((cut.clone(), Vec::new()));
        }
        edits.sort_by_key(|(r, _)| r.start);
        let mut out = Vec::with_capacity(self.body.len() + model.len());
        let mut at = 0;
        for (range, with) in edits {
            out.extend_from_slice(&self.body[at..range.start]);
            out.extend_from_slice(&with);
            at = range.end;
        }
        out.extend_from_slice(&self.body[at..]);
        out
    }
}

fn json_string(s: &str) -> Vec<u8> {
    // A &str always serialises.
    serde_json::to_vec(s).unwrap_or_default()
}

/// The bytes that remove member `i` and keep the object valid. Between one
/// value's end and the next key there is only whitespace and one comma.
fn cut(body: &[u8], members: &[Member], i: usize) -> Range<usize> {
    if i > 0 {
        // `, "backend": value`: from the end of the member before.
        return members[i - 1].span.end..members[i].span.end;
    }
    let open = body.iter().position(|&b| b == b'{').map_or(0, |p| p + 1);
    if members.len() == 1 {
        return open..members[0].span.end;
    }
    // `"backend": value, `: up to the next key.
    let after = members[0].span.end;
    let next = body[after..]
        .iter()
        .position(|&b| b == b'"')
        .map_or(after, |p| after + p);
    open..next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splice(body: &str, model: &str) -> String {
        let m = members(body.as_bytes()).unwrap();
        let at = |name: &str| m.iter().position(|x| x.name == name);
        let v = Verbatim::new(body.as_bytes(), &m, at("model").unwrap(), at("backend"));
        String::from_utf8(v.with_model(model)).unwrap()
    }

    #[test]
    fn only_model_and_backend_change() {
        let body =
            "{ \"input\" : [1,  2],\n \"model\":\"m\", \"backend\" :\"b\" ,\"x\":{\"y\": null} }";
        assert_eq!(
            splice(body, "up-\"1\""),
            "{ \"input\" : [1,  2],\n \"model\":\"up-\\\"1\\\"\" ,\"x\":{\"y\": null} }"
        );
    }

    #[test]
    fn backend_first_last_or_alone() {
        let first = "{\"backend\": \"b\",\n  \"model\": \"m\"}";
        assert_eq!(splice(first, "u"), "{\"model\": \"u\"}");
        let last = "{\"model\":\"m\",\"stream\":true,\"backend\":null}";
        assert_eq!(splice(last, "u"), "{\"model\":\"u\",\"stream\":true}");
        let alone = "{\"model\":\"m\"}";
        assert_eq!(splice(alone, "u"), "{\"model\":\"u\"}");
    }

    #[test]
    fn spans_point_at_the_values_even_with_escaped_keys() {
        let body = br#"{"mo\u0064el": "m", "a": {"b": "}"}}"#;
        let m = members(body).unwrap();
        assert_eq!(m[0].name, "model");
        assert_eq!(&body[m[1].span.clone()], br#"{"b": "}"}"#);
        assert!(members(b"[1]").is_err());
    }
}
