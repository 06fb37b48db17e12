//! A request's top-level fields, raw: each value's JSON text as the client
//! wrote it, in the client's order, kept as spans of one string (the
//! client's body, or text written for a translated request). Parsing a
//! body allocates the string and one list, not a key and a value per field
//! as a map of owned values did (most of what the parse cost).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use bytes::Bytes;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A value as written: valid JSON text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a>(&'a str);

impl<'a> Raw<'a> {
    /// The JSON text.
    pub fn get(self) -> &'a str {
        self.0
    }
}

impl fmt::Debug for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The top-level fields, in order, each name once.
#[derive(Default)]
pub struct RawFields {
    text: String,
    list: Vec<Field>,
}

struct Field {
    key: Key,
    value: Range<usize>,
}

enum Key {
    /// The key as it lies in the text (it had no escapes).
    At(Range<usize>),
    /// A key whose escapes were decoded.
    Decoded(Box<str>),
}

impl RawFields {
    /// The members of the JSON object `body` holds. A key given twice keeps
    /// the place it first had and the value it last had, as a map would.
    pub fn parse(body: Bytes) -> Result<Self, serde_json::Error> {
        let text = match String::from_utf8(Vec::from(body)) {
            Ok(text) => text,
            // Read as bytes, for serde's own words on where the text is
            // wrong (the body is no string, so it cannot be a JSON object).
            Err(e) => {
                let de = serde_json::Deserializer::from_slice(e.as_bytes());
                return Err(spans(de, e.as_bytes()).err().unwrap_or_else(not_utf8));
            }
        };
        // Read as a string: its values need no second UTF-8 check.
        let list = spans(serde_json::Deserializer::from_str(&text), text.as_bytes())?;
        let mut fields = RawFields { text, list };
        fields.fold_repeats();
        Ok(fields)
    }

    /// Fields from `(name, JSON text)` pairs; a name given twice keeps the
    /// place it first had and the text it last had, as a map would.
    pub fn collect<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut fields = RawFields::default();
        for (key, raw) in pairs {
            fields.push(key, raw);
        }
        fields.fold_repeats();
        fields
    }

    /// Appends `key` with the JSON text `raw`; the caller keeps names unique.
    pub fn push(&mut self, key: &str, raw: &str) {
        let at = self.text.len();
        self.text.push_str(key);
        let mid = self.text.len();
        self.text.push_str(raw);
        self.list.push(Field {
            key: Key::At(at..mid),
            value: mid..self.text.len(),
        });
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<Raw<'_>> {
        let field = self
            .list
            .iter()
            .find(|f| self.key_bytes(f) == key.as_bytes())?;
        Some(self.value(field))
    }

    /// Removes `key`, keeping the order of the others; its value.
    pub fn remove(&mut self, key: &str) -> Option<Raw<'_>> {
        let i = self
            .list
            .iter()
            .position(|f| self.key_bytes(f) == key.as_bytes())?;
        let field = self.list.remove(i);
        Some(Raw(&self.text[field.value]))
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            fields: self,
            at: self.list.iter(),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.list.iter().map(|f| self.key(f))
    }

    fn key<'a>(&'a self, field: &'a Field) -> &'a str {
        match &field.key {
            Key::At(range) => &self.text[range.clone()],
            Key::Decoded(key) => key,
        }
    }

    /// The key as bytes, to compare: slicing bytes checks no char boundary.
    fn key_bytes<'a>(&'a self, field: &'a Field) -> &'a [u8] {
        match &field.key {
            Key::At(range) => &self.text.as_bytes()[range.clone()],
            Key::Decoded(key) => key.as_bytes(),
        }
    }

    fn value(&self, field: &Field) -> Raw<'_> {
        Raw(&self.text[field.value.clone()])
    }

    /// Each key given more than once folded into its first place, with its
    /// last value.
    fn fold_repeats(&mut self) {
        let key = |i: usize| self.key_bytes(&self.list[i]);
        if first_repeat(self.list.len(), key).is_none() {
            return;
        }
        let mut first: std::collections::HashMap<&str, usize, foldhash::fast::RandomState> =
            Default::default();
        let mut moves = Vec::new();
        for (i, f) in self.list.iter().enumerate() {
            match first.entry(self.key(f)) {
                std::collections::hash_map::Entry::Occupied(e) => moves.push((i, *e.get())),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
        drop(first);
        let mut gone = vec![false; self.list.len()];
        for (from, to) in moves {
            self.list[to].value = self.list[from].value.clone();
            gone[from] = true;
        }
        let mut i = 0;
        self.list.retain(|_| {
            i += 1;
            !gone[i - 1]
        });
    }
}

/// The first of `n` keys (`key(i)` the i-th) whose name came before.
pub(super) fn first_repeat<'a, K>(n: usize, key: impl Fn(usize) -> &'a K) -> Option<usize>
where
    K: Eq + std::hash::Hash + ?Sized + 'a,
{
    // Few fields, the usual case, are compared pairwise: no set to build.
    // Many are hashed, so a body of a great many keys costs linear time.
    if n <= 16 {
        return (1..n).find(|&i| (0..i).any(|j| key(j) == key(i)));
    }
    let mut seen = HashSet::with_capacity_and_hasher(n, foldhash::fast::RandomState::default());
    (0..n).find(|&i| !seen.insert(key(i)))
}

impl fmt::Debug for RawFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The fields in order, as `(name, value)`.
pub struct Iter<'a> {
    fields: &'a RawFields,
    at: std::slice::Iter<'a, Field>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, Raw<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let f = self.at.next()?;
        Some((self.fields.key(f), self.fields.value(f)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.at.size_hint()
    }
}

impl<'a> IntoIterator for &'a RawFields {
    type Item = (&'a str, Raw<'a>);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[derive(Deserialize)]
struct KeyText<'a>(#[serde(borrow)] Cow<'a, str>);

/// Collects each member's key and value as spans of the text read.
struct Spans {
    base: usize,
}

impl<'de> Visitor<'de> for Spans {
    type Value = Vec<Field>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        // What the map of owned values said: errors read as they did.
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
        // A borrowed key or raw value is a slice of the text: its address says where.
        let at = |s: &str| {
            let start = s.as_ptr() as usize - self.base;
            start..start + s.len()
        };
        while let Some((KeyText(k), v)) = map.next_entry::<KeyText, &RawValue>()? {
            let key = match k {
                Cow::Borrowed(k) => Key::At(at(k)),
                Cow::Owned(k) => Key::Decoded(k.into_boxed_str()),
            };
            out.push(Field {
                key,
                value: at(v.get()),
            });
        }
        Ok(out)
    }
}

/// The members of the object `de` reads from `text`.
fn spans<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    text: &[u8],
) -> Result<Vec<Field>, serde_json::Error> {
    let list = (&mut de).deserialize_map(Spans {
        base: text.as_ptr() as usize,
    })?;
    de.end()?;
    Ok(list)
}

/// Only for a body serde read whole though it is not UTF-8, which cannot be.
fn not_utf8() -> serde_json::Error {
    serde::de::Error::custom("the request body is not UTF-8")
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
