//! Where the members of a JSON object lie in its text, so that a body can
//! be edited in place (a value replaced, a member removed) with every other
//! byte kept: whitespace, key order, number spellings, escapes.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One member of an object: its key, decoded, and its value as written.
pub struct Member<'a> {
    pub key: Cow<'a, str>,
    pub value: &'a RawValue,
    /// Where `value` lies in the object's text.
    pub span: Range<usize>,
}

#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

struct Collect;

impl<'de> Visitor<'de> for Collect {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(16));
        while let Some((Key(k), v)) = map.next_entry::<Key, &RawValue>()? {
            out.push((k, v));
        }
        Ok(out)
    }
}

/// The members of the object `text` holds, in order.
pub fn members(text: &[u8]) -> Result<Vec<Member<'_>>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let pairs = (&mut de).deserialize_map(Collect)?;
    de.end()?;
    let base = text.as_ptr() as usize;
    Ok(pairs
        .into_iter()
        .map(|(key, value)| {
            // A borrowed raw value is a slice of `text`: its address says where.
            let start = value.get().as_ptr() as usize - base;
            Member {
                key,
                value,
                span: start..start + value.get().len(),
            }
        })
        .collect())
}

/// The bytes to cut to remove member `i`: from the end of the value before
/// it, or, for the first member, from its key to the next key (the
/// whitespace after the opening brace stays).
pub fn cut(text: &[u8], members: &[Member], i: usize) -> Range<usize> {
    if i > 0 {
        return members[i - 1].span.end..members[i].span.end;
    }
    let skip_ws = |mut at: usize| {
        while text.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        at
    };
    let open = text.iter().position(|&b| b == b'{').map_or(0, |p| p + 1);
    let mut end = skip_ws(members[0].span.end);
    if text.get(end) == Some(&b',') {
        end = skip_ws(end + 1);
    }
    skip_ws(open)..end
}

/// `text` with the ranges in `edits` (sorted, not overlapping) replaced.
pub fn splice(text: &[u8], edits: &[(Range<usize>, &[u8])]) -> Vec<u8> {
    let extra: usize = edits.iter().map(|(_, b)| b.len()).sum();
    let mut out = Vec::with_capacity(text.len() + extra);
    let mut at = 0;
    for (range, bytes) in edits {
        out.extend_from_slice(&text[at..range.start]);
        out.extend_from_slice(bytes);
        at = range.end;
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// The span of the value of the last member named `key` of the object
/// `text` holds; `None` when there is none or `text` is not an object.
pub fn value_span(text: &[u8], key: &str) -> Option<Range<usize>> {
    let list = members(text).ok()?;
    list.into_iter()
        .rev()
        .find(|m| m.key == key)
        .map(|m| m.span)
}

/// A JSON string, as bytes.
pub fn json_string(s: &str) -> Vec<u8> {
    // Serializing a &str into a Vec cannot fail.
    serde_json::to_vec(s).unwrap_or_default()
}

/// Whether every byte of `s` is printable ASCII other than `"` and `\\`:
/// text that JSON strings and Rust's `{:?}` both write as it is, so that a
/// writer can skip escaping. Eight bytes at a time (this runs on every
/// request's field names and log line values).
pub fn plain(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Whether a byte of `x` is zero (exact as to whether, not which).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    let unplain = |x: u64| {
        x & HIGH != 0
            || x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0
            || zero(x ^ (ONES * 0x7f))
            || zero(x ^ (ONES * u64::from(b'"')))
            || zero(x ^ (ONES * u64::from(b'\\')))
    };
    let mut chunks = s.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if unplain(u64::from_ne_bytes(word)) {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remove(text: &str, key: &str) -> String {
        let list = members(text.as_bytes()).unwrap();
        let i = list.iter().position(|m| m.key == key).unwrap();
        let range = cut(text.as_bytes(), &list, i);
        String::from_utf8(splice(text.as_bytes(), &[(range, b"")])).unwrap()
    }

    #[test]
    fn spans_point_at_values_as_written() {
        let text = r#" { "a" : 1.50 , "b\u0061ck":{"x": [ 1 ]},"c":"\u00e9"} "#;
        let list = members(text.as_bytes()).unwrap();
        let got: Vec<(&str, &str)> = list
            .iter()
            .map(|m| (m.key.as_ref(), &text[m.span.clone()]))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "1.50"),
                ("back", r#"{"x": [ 1 ]}"#),
                ("c", r#""\u00e9""#)
            ]
        );
        assert!(members(b"[1]").is_err());
        assert!(members(b"{\"a\":1} x").is_err());
    }

    #[test]
    fn cutting_a_member_leaves_valid_json_and_the_rest_untouched() {
        let text = "{ \"backend\" : \"x\" ,\n \"model\":\"m\", \"n\": 1 }";
        assert_eq!(remove(text, "backend"), "{ \"model\":\"m\", \"n\": 1 }");
        assert_eq!(remove(text, "model"), "{ \"backend\" : \"x\", \"n\": 1 }");
        assert_eq!(
            remove(text, "n"),
            "{ \"backend\" : \"x\" ,\n \"model\":\"m\" }"
        );
        assert_eq!(remove("{\"backend\":\"x\"}", "backend"), "{}");
        assert_eq!(remove("{\n \"backend\":\"x\"\n}", "backend"), "{\n }");
    }

    #[test]
    fn plain_is_printable_ascii_but_quote_and_backslash() {
        let scalar = |s: &[u8]| {
            s.iter()
                .all(|&b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        };
        for len in [8, 9, 16, 23] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(plain(&s), scalar(&s), "{b:#x} at {at} of {len}");
                }
            }
        }
        assert!(plain(b"") && plain(b"chat_completions") && !plain("gpt-é".as_bytes()));
    }

    #[test]
    fn values_are_replaced_in_place() {
        let text = br#"{"model":"a","m":{"model" : "b"}}"#;
        let span = value_span(text, "model").unwrap();
        let out = splice(text, &[(span, &json_string("z\"q"))]);
        assert_eq!(out, br#"{"model":"z\"q","m":{"model" : "b"}}"#);
        assert_eq!(value_span(text, "none"), None);
    }
}
