//! The upstream SSE parser: every byte of every stream goes through it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use switchyard::protocol::sse::SseParser;

mod support;

/// Pushes `bytes` in pieces of `piece` bytes and drains every event.
fn parse_all(bytes: &[u8], piece: usize) -> usize {
    let mut parser = SseParser::default();
    let mut events = 0;
    for part in bytes.chunks(piece) {
        if parser.push(part).is_err() {
            return 0;
        }
        while let Ok(Some(event)) = parser.next_event() {
            events += black_box(event).data.len().min(1);
        }
    }
    events
}

fn parse(c: &mut Criterion) {
    let stream = support::stream_bytes(64);
    let mut group = c.benchmark_group("sse_parse_64_chunk_stream");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    // One read per event (a slow upstream) and whole 16 KiB reads (a fast one).
    let one_event = stream.len() / 68;
    group.bench_function("event_sized_reads", |b| {
        b.iter(|| parse_all(black_box(&stream), one_event))
    });
    group.bench_function("16k_reads", |b| {
        b.iter(|| parse_all(black_box(&stream), 16 * 1024))
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
