//! A quick read of one OpenAI stream chunk: the facts the relay needs
//! (content, a finish reason, usage) from one pass over the bytes. Serde's
//! field-by-field read of the same chunk (every key matched, every skipped
//! value walked through its generic visitor machinery, a `Vec` of choices)
//! was most of the gateway's cost per streamed event.
//!
//! It is a fast path, not a second parser with its own verdicts: anything
//! it does not fully vouch for (an error object, a duplicate field, an
//! escaped key, a value of an unexpected type, deep nesting, anything not
//! valid JSON) makes it give up, and the caller reads the chunk with serde,
//! whose result (or error) stands. What it accepts, serde reads alike.

use crate::protocol::Usage;

use template::Slots;
pub use template::Template;

/// What one chunk says, as the serde read of it would have said.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// Some choice carries content the client sees (or a finish reason).
    pub content: bool,
    /// Some choice has a finish reason.
    pub finished: bool,
    /// The chunk has at least one choice.
    pub choices: bool,
    pub usage: Option<Usage>,
}

/// The facts of `data`, or `None` when serde must read it.
#[cfg(test)]
pub fn chunk(data: &str) -> Option<Facts> {
    scan(data).map(|(facts, _)| facts)
}

/// The facts of `data`, read by difference from `last` (the previous chunk
/// read in full) when it is that chunk with other strings in its slots,
/// else in full (and then kept as the next `last`); `None` when serde must
/// read it.
pub fn chunk_after(data: &str, last: &mut Template) -> Option<Facts> {
    if let Some(facts) = last.facts(data.as_bytes()) {
        return Some(facts);
    }
    let (facts, slots) = scan(data)?;
    last.keep(data.as_bytes(), facts, slots);
    Some(facts)
}

/// A read in full: the facts and where the chunk's variable strings are.
fn scan(data: &str) -> Option<(Facts, Slots)> {
    let mut c = Cursor {
        b: data.as_bytes(),
        i: 0,
        slots: Slots::default(),
    };
    let facts = c.chunk()?;
    c.ws();
    (c.i == c.b.len()).then_some((facts, c.slots))
}

/// Marks a field seen; `None` (give up) the second time, which serde
/// refuses as a duplicate field.
fn once(seen: &mut bool) -> Option<()> {
    (!std::mem::replace(seen, true)).then_some(())
}

/// A JSON string that is not the empty one: text the client sees.
fn text(raw: Option<&[u8]>) -> bool {
    raw.is_some_and(|r| r != b"\"\"")
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
    /// The strings read so far that a [`Template`] lets vary.
    slots: Slots,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Past the byte peeked at.
    fn bump(&mut self) -> Option<()> {
        self.i += 1;
        Some(())
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// After whitespace, `c` (consumed).
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn word(&mut self, w: &[u8]) -> Option<()> {
        let end = self.i + w.len();
        (self.b.get(self.i..end)? == w).then(|| self.i = end)
    }

    /// The top-level object.
    fn chunk(&mut self) -> Option<Facts> {
        let mut f = Facts::default();
        let (mut choices, mut usage, mut error) = (false, None, false);
        self.object(|c, key| match key {
            b"choices" => {
                once(&mut choices)?;
                c.choices(&mut f)
            }
            b"usage" => {
                // Serde's duplicate check is on the field, null or not.
                (usage.is_none()).then_some(())?;
                usage = Some(c.nullable()?);
                Some(())
            }
            b"error" => {
                once(&mut error)?;
                // A real error object is serde's to read and report.
                c.nullable()?.is_none().then_some(())
            }
            _ => c.free(),
        })?;
        if let Some(Some(raw)) = usage {
            f.usage = Some(serde_json::from_slice(raw).ok()?);
        }
        Some(f)
    }

    fn choices(&mut self, f: &mut Facts) -> Option<()> {
        self.array(|c| {
            f.choices = true;
            c.choice(f)
        })
    }

    fn choice(&mut self, f: &mut Facts) -> Option<()> {
        let (mut delta, mut text_seen, mut finish) = (false, false, false);
        self.object(|c, key| match key {
            b"delta" => {
                once(&mut delta)?;
                c.ws();
                if c.word(b"null").is_none() {
                    c.delta(&mut f.content)?;
                }
                Some(())
            }
            b"text" => {
                once(&mut text_seen)?;
                f.content |= text(c.text()?);
                Some(())
            }
            b"finish_reason" => {
                once(&mut finish)?;
                let reason = c.nullable()?.is_some();
                f.content |= reason;
                f.finished |= reason;
                Some(())
            }
            _ => c.skip(0),
        })
    }

    fn delta(&mut self, content: &mut bool) -> Option<()> {
        let mut seen = [false; 5];
        self.object(|c, key| {
            let (slot, is_text) = match key {
                b"content" => (0, true),
                b"reasoning_content" => (1, true),
                b"tool_calls" => (2, false),
                b"function_call" => (3, false),
                b"refusal" => (4, false),
                _ => return c.skip(0),
            };
            once(&mut seen[slot])?;
            *content |= if is_text {
                text(c.text()?)
            } else {
                c.nullable()?.is_some()
            };
            Some(())
        })
    }

    /// An `Option<&RawValue>`: `None` for `null`, else the value's bytes.
    fn nullable(&mut self) -> Option<Option<&'a [u8]>> {
        self.ws();
        if self.word(b"null").is_some() {
            return Some(None);
        }
        let start = self.i;
        self.skip(0)?;
        Some(Some(&self.b[start..self.i]))
    }

    /// A value whose text the client sees (`content`, `text`): a string
    /// there is a content slot of the chunk.
    fn text(&mut self) -> Option<Option<&'a [u8]>> {
        let raw = self.nullable()?;
        if let Some(r) = raw.filter(|r| r.first() == Some(&b'"')) {
            self.slots.push(self.i - r.len(), self.i, true);
        }
        Some(raw)
    }

    /// The value of a top-level member the relay does not read (`id`,
    /// `model`, ...): a string there is a free slot of the chunk.
    fn free(&mut self) -> Option<()> {
        self.ws();
        if self.peek()? != b'"' {
            return self.skip(0);
        }
        let start = self.i;
        self.string()?;
        self.slots.push(start, self.i, false);
        Some(())
    }

    /// An object's members, each key handed to `member` to read its value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let key = self.key()?;
            self.eat(b':')?;
            member(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => return self.bump(),
                _ => return None,
            }
        }
    }

    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            item(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => return self.bump(),
                _ => return None,
            }
        }
    }

    /// A key without escapes (serde would unescape it before matching).
    fn key(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        self.plain();
        (self.peek()? == b'"').then_some(())?;
        self.i += 1;
        Some(&self.b[start..self.i - 1])
    }

    /// Moves past the bytes of a string that need no second look: up to
    /// its quote, a backslash or a control character (or the end). Eight
    /// bytes a step, the way serde_json skips through a string. Kept out
    /// of line: inlined into [`Cursor::key`] it cost a stream ~2.5k more.
    #[inline(never)]
    fn plain(&mut self) {
        const ONES: u64 = u64::MAX / 255;
        let rest = &self.b[self.i..];
        let mut words = rest.chunks_exact(8);
        for w in words.by_ref() {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(w);
            let x = u64::from_le_bytes(bytes);
            let zero = |y: u64| y.wrapping_sub(ONES) & !y;
            let stop = (x.wrapping_sub(ONES * 0x20) & !x)
                | zero(x ^ (ONES * 0x22))
                | zero(x ^ (ONES * 0x5c));
            let stop = stop & (ONES << 7);
            if stop != 0 {
                // The lowest flagged byte is exact (the borrows that can
                // flag a byte wrongly only run upward from a true one).
                self.i += stop.trailing_zeros() as usize / 8;
                return;
            }
            self.i += 8;
        }
        for &b in words.remainder() {
            if b == b'"' || b == b'\\' || b < 0x20 {
                return;
            }
            self.i += 1;
        }
    }
}

mod answer;
mod template;
mod value;

pub use answer::answer_usage;

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
