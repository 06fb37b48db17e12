//! An incremental Server-Sent Events parser for upstream streams.

/// One complete event. `data` joins multi-line data with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Refuse to buffer an event larger than this: an upstream that never ends
/// an event must not grow the gateway's memory without bound.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// The largest data buffer kept for the next event.
const SPARE_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SseError {
    #[error("stream event larger than {MAX_EVENT_BYTES} bytes")]
    TooLarge,
    #[error("stream is not UTF-8")]
    NotUtf8,
}

/// Feed bytes as they arrive with [`push`](Self::push), then drain events with
/// [`next_event`](Self::next_event).
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Where the unread bytes start: lines are consumed by moving this
    /// forward, and `buf` is compacted once per read rather than per line
    /// (per line was quadratic in the events one upstream read carries).
    start: usize,
    /// Where the scan for a line end resumes.
    scanned: usize,
    fields: Fields,
}

/// The event being read.
#[derive(Default)]
struct Fields {
    event: Option<String>,
    data: Option<String>,
    /// The data buffer of an event already read, handed back with
    /// [`SseParser::recycle`]: the next event's data goes into it rather
    /// than into a new allocation per event.
    spare: String,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.buf.len() - self.start + bytes.len() > MAX_EVENT_BYTES {
            return Err(SseError::TooLarge);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// The next complete event, if the bytes pushed so far hold one.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        loop {
            let from = self.scanned.max(self.start);
            let Some(nl) = memchr::memchr(b'\n', &self.buf[from..]) else {
                self.buf.drain(..self.start);
                self.start = 0;
                self.scanned = self.buf.len();
                return Ok(None);
            };
            let end = from + nl;
            let line_end = if end > self.start && self.buf[end - 1] == b'\r' {
                end - 1
            } else {
                end
            };
            let line = std::str::from_utf8(&self.buf[self.start..line_end])
                .map_err(|_| SseError::NotUtf8)?;
            let event = self.fields.line(line);
            // Many `data:` lines and no blank one are one growing event too.
            if self
                .fields
                .data
                .as_ref()
                .is_some_and(|d| d.len() > MAX_EVENT_BYTES)
            {
                return Err(SseError::TooLarge);
            }
            self.start = end + 1;
            self.scanned = self.start;
            if event.is_some() {
                return Ok(event);
            }
        }
    }

    /// Hands back an event read: its data buffer is reused.
    /// One that grew for a huge event is not held for the rest of the stream.
    pub fn recycle(&mut self, event: SseEvent) {
        if event.data.capacity() <= SPARE_BYTES {
            self.fields.spare = event.data;
        }
    }

    /// True when bytes of an unfinished event remain.
    pub fn has_partial(&self) -> bool {
        self.buf.len() > self.start || self.fields.data.is_some()
    }
}

impl Fields {
    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return Some(SseEvent {
                data: self.data.take()?,
                event: self.event.take(),
            });
        }
        if line.starts_with(':') {
            return None;
        }
        // A byte search: `split_once(':')` went through the char searcher.
        let (field, value) = match memchr::memchr(b':', line.as_bytes()) {
            Some(at) => (&line[..at], &line[at + 1..]),
            None => (line, ""),
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => {
                    let mut d = std::mem::take(&mut self.spare);
                    d.clear();
                    d.push_str(value);
                    self.data = Some(d);
                }
            },
            "event" => self.event = Some(value.to_string()),
            _ => {}
        }
        None
    }
}

/// The first event of `text` when it is in the form [`write_event`] writes
/// for data of one line that needs no trimming (`data: DATA` and a blank
/// line): its data and the length of the event's bytes. Such an event
/// written again is the same bytes.
pub fn plain_event(text: &str) -> Option<(&str, usize)> {
    let rest = text.strip_prefix("data: ")?;
    let nl = memchr::memchr(b'\n', rest.as_bytes())?;
    let data = &rest[..nl];
    let plain = rest.as_bytes().get(nl + 1) == Some(&b'\n')
        && data.trim().len() == data.len()
        && data.len() <= MAX_EVENT_BYTES;
    plain.then_some((data, "data: ".len() + nl + 2))
}

/// Writes one event as it came: its `event:` line if it had one, and its
/// data, each line of it behind its own `data: ` (the parser joined them
/// with `\n`).
pub fn write_event(out: &mut Vec<u8>, event: Option<&str>, data: &str) {
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    let mut rest = data.as_bytes();
    while let Some(nl) = memchr::memchr(b'\n', rest) {
        out.extend_from_slice(&rest[..nl]);
        out.extend_from_slice(b"\ndata: ");
        rest = &rest[nl + 1..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(p: &mut SseParser) -> Vec<SseEvent> {
        std::iter::from_fn(|| p.next_event().unwrap()).collect()
    }

    #[test]
    fn splits_events_across_arbitrary_chunks() {
        let text = "event: message_start\r\ndata: {\"a\":1}\r\n\r\n: comment\n\ndata: x\ndata: y\n\ndata: [DONE]\n\n";
        for cut in 0..text.len() {
            let mut p = SseParser::default();
            p.push(&text.as_bytes()[..cut]).unwrap();
            let mut events = all(&mut p);
            p.push(&text.as_bytes()[cut..]).unwrap();
            events.extend(all(&mut p));
            assert_eq!(events.len(), 3, "cut at {cut}");
            assert_eq!(events[0].event.as_deref(), Some("message_start"));
            assert_eq!(events[0].data, "{\"a\":1}");
            assert_eq!(events[1].data, "x\ny");
            assert_eq!(events[2].data, "[DONE]");
            assert!(!p.has_partial());
        }
    }

    #[test]
    fn many_events_in_one_read_then_a_partial_one() {
        let mut p = SseParser::default();
        let mut text: String = (0..100).map(|i| format!("data: {i}\n\n")).collect();
        text.push_str("data: tail");
        p.push(text.as_bytes()).unwrap();
        let events = all(&mut p);
        assert_eq!(events.len(), 100);
        assert_eq!(events[99].data, "99");
        assert!(p.has_partial());
        p.push(b"\r\n\r\n").unwrap();
        assert_eq!(all(&mut p)[0].data, "tail");
        assert!(!p.has_partial());
    }

    #[test]
    fn an_event_of_endless_data_lines_is_too_large() {
        let mut p = SseParser::default();
        let line = format!("data: {}\n", "x".repeat(1 << 20));
        let mut result = Ok(None);
        for _ in 0..(MAX_EVENT_BYTES >> 20) + 2 {
            p.push(line.as_bytes()).unwrap();
            result = p.next_event();
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(SseError::TooLarge)), "{result:?}");
    }

    #[test]
    fn a_recycled_buffer_holds_only_the_next_event() {
        let mut p = SseParser::default();
        p.push(b"data: a long first event\n\ndata: b\ndata: c\n\n")
            .unwrap();
        let first = p.next_event().unwrap().unwrap();
        assert_eq!(first.data, "a long first event");
        p.recycle(first);
        assert_eq!(p.next_event().unwrap().unwrap().data, "b\nc");
    }

    #[test]
    fn a_plain_event_is_one_that_written_again_is_the_same_bytes() {
        let text = "data: {\"a\":1}\n\ndata: x";
        let (data, len) = plain_event(text).unwrap();
        assert_eq!((data, len), ("{\"a\":1}", 15));
        let mut out = Vec::new();
        write_event(&mut out, None, data);
        assert_eq!(out, &text.as_bytes()[..len]);
        for other in [
            "data: x\r\n\r\n",
            "data:x\n\n",
            "data: x \n\n",
            "data: x\ndata: y\n\n",
            "event: e\ndata: x\n\n",
            ": c\ndata: x\n\n",
            "data: x\n",
        ] {
            assert_eq!(plain_event(other), None, "{other:?}");
        }
    }

    #[test]
    fn partial_event_is_visible() {
        let mut p = SseParser::default();
        p.push(b"data: {\"half\"").unwrap();
        assert_eq!(p.next_event().unwrap(), None);
        assert!(p.has_partial());
    }
}
