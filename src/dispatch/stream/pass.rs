//! Same-protocol pass-through: the events at the start of an upstream read
//! that the translator passes on as they came are read in place, and their
//! bytes go to the client as a slice of the upstream's own buffer. Only
//! what follows the first event that is not (an `event:` line, a comment,
//! a `\r\n`, a half event, a hidden usage chunk) goes through the SSE
//! parser and the translator's `event`, as every event did before.

use bytes::Bytes;

use super::Committed;
use crate::protocol::sse::plain_event;
use crate::protocol::{EventInfo, StreamError};

impl Committed {
    /// Reads the passed-through events at the start of `chunk` into `seen`
    /// and queues their bytes; returns where the rest starts. On an error
    /// event, the events before it are queued first, as `event` would have.
    pub(super) fn pass(
        &mut self,
        chunk: &Bytes,
        seen: &mut EventInfo,
    ) -> Result<usize, StreamError> {
        // Mid-event, the next bytes are the parser's; a read that is not
        // UTF-8 as a whole (a character split across reads) is too; and
        // all of them for a translator that writes every event itself.
        if !self.translator.passes() || self.parser.has_partial() {
            return Ok(0);
        }
        let Ok(text) = std::str::from_utf8(chunk) else {
            return Ok(0);
        };
        let mut at = 0;
        let mut result = Ok(());
        while !self.done {
            let Some((data, len)) = plain_event(&text[at..]) else {
                break;
            };
            match self.translator.pass(data) {
                None => break,
                Some(Err(e)) => {
                    result = Err(e);
                    break;
                }
                Some(Ok(info)) => {
                    seen.content |= info.content;
                    if info.usage.is_some() {
                        self.usage = info.usage;
                    }
                    self.done |= info.done;
                    at += len;
                }
            }
        }
        self.queue(chunk, at);
        result.map(|()| at)
    }

    /// The first `len` bytes of `chunk` go out as they are: without a copy
    /// when nothing is queued before them.
    fn queue(&mut self, chunk: &Bytes, len: usize) {
        if len == 0 {
            return;
        }
        if self.pending.is_empty() && self.passed.is_none() {
            self.passed = Some(chunk.slice(..len));
        } else {
            self.pending.extend_from_slice(&chunk[..len]);
        }
    }
}
