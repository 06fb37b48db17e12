//! Checks a stream's chunk order as it arrives. The mock numbers its content
//! chunks `c0 `, `c1 `, ...; a stream must carry all of them, in order, then
//! `data: [DONE]`. The scan is byte-level and cheap, because the checker
//! shares a core with the mock and must not skew the direct baseline.

use std::time::Instant;

/// One stream's sequence state.
#[derive(Default)]
pub struct SeqCheck {
    buf: Vec<u8>,
    next: u64,
    /// Content chunks seen.
    pub count: u64,
    out_of_order: u64,
    done: bool,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

const CONTENT: &[u8] = b"\"content\":\"c";

impl SeqCheck {
    /// Feeds bytes as they arrive; complete events are checked at once.
    pub fn feed(&mut self, bytes: &[u8], now: Instant) {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(end) = find(&self.buf[start..], b"\n\n") {
            let event = start..start + end;
            start += end + 2;
            self.event(event, now);
        }
        self.buf.drain(..start);
    }

    fn event(&mut self, range: std::ops::Range<usize>, now: Instant) {
        let event = &self.buf[range];
        if event.starts_with(b"data: [DONE]") {
            self.done = true;
            return;
        }
        let Some(at) = find(event, CONTENT) else {
            return;
        };
        let digits = &event[at + CONTENT.len()..];
        let n = digits
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
        if n != self.next {
            self.out_of_order += 1;
        }
        self.next = n + 1;
        self.count += 1;
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// (lost, reordered) against the `expected` number of chunks. A stream
    /// without `[DONE]` counts its missing tail as lost.
    pub fn verdict(&self, expected: usize) -> (u64, u64) {
        let lost = (expected as u64).saturating_sub(self.count);
        let lost = if self.done { lost } else { lost.max(1) };
        (lost, self.out_of_order)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(n: u64) -> String {
        format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"c{n} \"}}}}]}}\n\n")
    }

    #[test]
    fn in_order_split_anywhere_is_clean() {
        let mut text = String::from("data: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n");
        for n in 0..5 {
            text += &chunk(n);
        }
        text += "data: [DONE]\n\n";
        for cut in 0..text.len() {
            let mut s = SeqCheck::default();
            s.feed(&text.as_bytes()[..cut], Instant::now());
            s.feed(&text.as_bytes()[cut..], Instant::now());
            assert_eq!((s.count, s.verdict(5)), (5, (0, 0)), "cut {cut}");
        }
    }

    #[test]
    fn detects_loss_reorder_and_missing_done() {
        let mut s = SeqCheck::default();
        let text = chunk(0) + &chunk(2) + &chunk(1) + "data: [DONE]\n\n";
        s.feed(text.as_bytes(), Instant::now());
        assert_eq!(s.verdict(4), (1, 2));
        let mut s = SeqCheck::default();
        s.feed((chunk(0) + &chunk(1)).as_bytes(), Instant::now());
        assert_eq!(s.verdict(2), (1, 0));
    }
}
