//! Reading a chunk by difference from the one before. The chunks of one
//! stream are nearly the same bytes: the same id, model and timestamps, the
//! same keys in the same order, and only the text in the delta changes. A
//! chunk that is the last chunk read in full with other strings in the
//! places where a string cannot change what the relay learns (its slots) is
//! valid JSON of the same shape, and says what that chunk said. So its
//! fixed bytes are compared, only its slot strings are checked, and the
//! facts of the chunk read in full stand.
//!
//! Why that holds: a JSON string replaced by another JSON string keeps the
//! document valid and every key where it was (no duplicate appears, none
//! goes). The slots are strings whose text the facts do not depend on
//! (top-level members the relay does not read) or depend on only through
//! being `""` or not (the text of a choice or its delta). Anything else
//! differing, even a `null` that became `"stop"`, is a difference in the
//! fixed bytes, and the chunk is read in full.

use super::{Cursor, Facts};

/// Slots recorded per chunk: more strings than this stay fixed bytes,
/// which only makes a chunk read in full more often.
const MAX_SLOTS: usize = 8;

/// Where a chunk's variable strings are, in the order they come.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Slots {
    /// Each slot's bytes, quotes included: start and end.
    at: [(u32, u32); MAX_SLOTS],
    /// Bit `k` set: slot `k` is text the client sees.
    text: u8,
    n: u8,
}

impl Slots {
    pub(super) fn push(&mut self, start: usize, end: usize, text: bool) {
        let n = usize::from(self.n);
        // Events are far below 4 GiB (the SSE parser caps them at 16 MiB).
        let (Ok(start), Ok(end)) = (u32::try_from(start), u32::try_from(end)) else {
            return;
        };
        if n == MAX_SLOTS {
            return;
        }
        self.at[n] = (start, end);
        self.text |= u8::from(text) << n;
        self.n += 1;
    }
}

/// The last chunk read in full, kept to read the next ones by difference.
#[derive(Default)]
pub struct Template {
    bytes: Vec<u8>,
    slots: Slots,
    facts: Facts,
}

impl Template {
    /// Keeps a chunk read in full: only one with a text slot, as only a
    /// chunk with text in it is read from the template (where the text
    /// makes `content` true whatever the chunk read in full said). Any
    /// other keeps the template there was: a usage chunk, say, between two
    /// of text.
    pub(super) fn keep(&mut self, data: &[u8], facts: Facts, slots: Slots) {
        if slots.text == 0 {
            return;
        }
        self.slots = slots;
        self.bytes.clear();
        self.bytes.extend_from_slice(data);
        self.facts = facts;
    }

    /// The facts of `data` when it is the template with other strings in
    /// its slots, and the text in at least one of them is not empty. The
    /// bytes are compared in runs as long as they agree, slots and all:
    /// only a slot where they differ is read, as a string.
    pub(super) fn facts(&self, data: &[u8]) -> Option<Facts> {
        if self.slots.text == 0 {
            return None;
        }
        let t = &self.bytes[..];
        let mut c = Cursor {
            b: data,
            i: 0,
            slots: Slots::default(),
        };
        let (mut from, mut text) = (0, false);
        let mut k = 0;
        let n = usize::from(self.slots.n);
        loop {
            let same = from + common(c.b.get(c.i..)?, t.get(from..)?);
            // The slots the run covers are the template's strings.
            while k < n && self.slots.at[k].1 as usize <= same {
                let (start, end) = self.slots.at[k];
                text |= self.text(k) && t.get(start as usize..end as usize)? != b"\"\"";
                k += 1;
            }
            if k == n {
                let rest = c.b.len() - c.i;
                return (rest == t.len() - from && same == t.len())
                    .then_some(())
                    .and(text.then_some(Facts {
                        content: true,
                        ..self.facts
                    }));
            }
            let (start, end) = self.slots.at[k];
            // A difference before the slot is one in the fixed bytes.
            (start as usize <= same).then_some(())?;
            c.i += start as usize - from;
            let at = c.i;
            (c.peek()? == b'"').then_some(())?;
            c.string()?;
            text |= self.text(k) && &data[at..c.i] != b"\"\"";
            from = end as usize;
            k += 1;
        }
    }

    /// Slot `k` holds text the client sees.
    fn text(&self, k: usize) -> bool {
        self.slots.text & (1 << k) != 0
    }
}

/// How many bytes `a` and `b` share at their start, eight at a time.
fn common(a: &[u8], b: &[u8]) -> usize {
    let mut n = 0;
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let (mut u, mut v) = ([0; 8], [0; 8]);
        u.copy_from_slice(x);
        v.copy_from_slice(y);
        let diff = u64::from_le_bytes(u) ^ u64::from_le_bytes(v);
        if diff != 0 {
            return n + diff.trailing_zeros() as usize / 8;
        }
        n += 8;
    }
    n + a[n..]
        .iter()
        .zip(&b[n..])
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
