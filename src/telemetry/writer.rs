//! Where log lines go: standard output, batched on the runtime's workers.
//!
//! One `write` syscall per request log line was ~7% of the gateway's CPU per
//! request under load. A worker thread instead gathers its lines in a
//! thread-local buffer and writes them in one go when it goes idle (tokio's
//! park hook, [`flush_worker`]), when [`CAPACITY`] bytes have gathered, or when
//! a line is written and the oldest waiting one is older than [`MAX_AGE`].
//! No lock is shared between workers until the write itself. Any other
//! thread (main, blocking pool, watcher) writes each line straight through.
//! A line is never split: each write is whole lines.

use std::cell::RefCell;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// The most a worker holds back.
pub const CAPACITY: usize = 8 * 1024;
/// The longest a line waits while its worker stays busy and keeps logging.
pub const MAX_AGE: Duration = Duration::from_millis(50);

#[derive(Default)]
struct Batch {
    /// Set on a worker's first park: only runtime workers batch.
    enabled: bool,
    buf: Vec<u8>,
    oldest: Option<Instant>,
}

impl Batch {
    /// The buffer is sized once, at the worker's first park (its start):
    /// a buffer that grew under load would be a long-lived block among the
    /// load's short-lived ones, and would keep their allocator pages
    /// resident after the load.
    fn enable(&mut self) {
        if !self.enabled {
            self.enabled = true;
            self.buf.reserve_exact(CAPACITY);
        }
    }

    fn flush(&mut self, out: &mut impl Write) {
        if !self.buf.is_empty() {
            // Nowhere to report a failed log write; the lines are dropped.
            let _ = out.write_all(&self.buf);
            self.buf.clear();
        }
        self.oldest = None;
    }

    /// Takes `line` into the batch, or returns false if it must be written now.
    fn take(&mut self, line: &[u8], out: &mut impl Write) -> bool {
        if !self.enabled || line.len() > CAPACITY {
            self.flush(out);
            return false;
        }
        if self.buf.len() + line.len() > CAPACITY {
            self.flush(out);
        }
        let now = Instant::now();
        let oldest = *self.oldest.get_or_insert(now);
        self.buf.extend_from_slice(line);
        if now.duration_since(oldest) >= MAX_AGE {
            self.flush(out);
        }
        true
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.flush(&mut io::stdout());
    }
}

thread_local! {
    static BATCH: RefCell<Batch> = RefCell::new(Batch::default());
}

/// For tokio's `on_thread_park` and `on_thread_stop`: writes what this
/// worker gathered, and from now on lets it gather.
pub fn flush_worker() {
    let _ = BATCH.try_with(|b| {
        if let Ok(mut b) = b.try_borrow_mut() {
            b.enable();
            b.flush(&mut io::stdout());
        }
    });
}

/// The `io::Write` the log subscriber formats each line into.
pub struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let taken = BATCH
            .try_with(|b| {
                let mut out = io::stdout();
                b.try_borrow_mut().is_ok_and(|mut b| b.take(line, &mut out))
            })
            .unwrap_or(false);
        if !taken {
            io::stdout().write_all(line)?;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        let mut b = Batch::default();
        b.enable();
        b
    }

    #[test]
    fn a_thread_that_never_parked_writes_through() {
        let (mut b, mut out) = (Batch::default(), Vec::new());
        assert!(!b.take(b"line\n", &mut out));
        assert!(b.buf.is_empty() && out.is_empty());
    }

    #[test]
    fn lines_gather_until_capacity_and_are_never_split() {
        let (mut b, mut out) = (batch(), Vec::new());
        let line = [b'x'; 1000];
        for _ in 0..8 {
            assert!(b.take(&line, &mut out));
        }
        assert_eq!((b.buf.len(), out.len()), (8000, 0));
        // The ninth would pass capacity: the eight go out first, in one write.
        assert!(b.take(&line, &mut out));
        assert_eq!((b.buf.len(), out.len()), (1000, 8000));
        // Sized once when enabled, never grown.
        assert_eq!(b.buf.capacity(), CAPACITY);
        b.buf.clear();
    }

    #[test]
    fn an_old_line_goes_out_with_the_next() {
        let (mut b, mut out) = (batch(), Vec::new());
        assert!(b.take(b"old\n", &mut out));
        b.oldest = Some(Instant::now() - MAX_AGE);
        assert!(b.take(b"new\n", &mut out));
        assert_eq!(out, b"old\nnew\n");
        assert!(b.buf.is_empty() && b.oldest.is_none());
    }

    #[test]
    fn a_line_larger_than_the_batch_goes_after_what_waited() {
        let (mut b, mut out) = (batch(), Vec::new());
        assert!(b.take(b"first\n", &mut out));
        assert!(!b.take(&vec![b'x'; CAPACITY + 1], &mut out));
        assert_eq!(out, b"first\n");
    }
}
