//! Values the quick read skips, checked as strictly as serde checks a
//! value it ignores.

use super::Cursor;

/// Skipped values nested deeper than this are left to serde (which skips
/// any depth; the recursion here must stay bounded).
const MAX_DEPTH: u32 = 64;

impl Cursor<'_> {
    /// Any value, checked as serde checks one it ignores.
    pub(super) fn skip(&mut self, depth: u32) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string(),
            b'{' if depth < MAX_DEPTH => self.object(|c, _| c.skip(depth + 1)),
            b'[' if depth < MAX_DEPTH => self.array(|c| c.skip(depth + 1)),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A string: no raw control characters, escapes of one of the known
    /// letters or `u` and four hex digits (serde does not pair surrogates
    /// in a string it ignores). The input is a `&str`, so it is UTF-8.
    pub(super) fn string(&mut self) -> Option<()> {
        self.i += 1;
        loop {
            self.plain();
            match self.peek()? {
                b'"' => return self.bump(),
                b'\\' => self.escape()?,
                _ => return None,
            }
        }
    }

    fn escape(&mut self) -> Option<()> {
        self.i += 1;
        match self.peek()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
            b'u' => {
                let hex = self.b.get(self.i + 1..self.i + 5)?;
                hex.iter().all(u8::is_ascii_hexdigit).then_some(())?;
                self.i += 5;
            }
            _ => return None,
        }
        Some(())
    }

    /// JSON's number grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.some_digits()?;
        }
        // `01`: serde refuses a second digit after a leading zero.
        (!self.peek().is_some_and(|b| b.is_ascii_digit())).then_some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }
}
