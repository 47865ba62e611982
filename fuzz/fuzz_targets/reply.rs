//! Fuzzes the SMTP reply reader (`sendguard::smtp::reply`, RFC 5321 §4.2) on what a hostile
//! server could send, delivered in reads of fuzzer-chosen sizes.
//!
//! Input: byte 0 picks `max_lines` (1..=8), byte 1 `max_bytes` (8..=1028), byte 2 the read
//! sizes (0: one read of up to 4096 bytes; otherwise 1..=97 bytes, varying); the rest is the
//! stream. The reader reads replies until it fails. Properties, for every reply and failure:
//! - a reply took at most `max_bytes` bytes of the stream and has 1..=`max_lines` lines, and
//!   its code has a first digit 2–5 and a second 0–5;
//! - the reader never buffers more than `max_bytes` plus one read (4096 bytes);
//! - the streaming reader agrees with the slice parser `parse_reply` on the same lines: the
//!   same reply, or a malformed reply for both;
//! - a reply's `summary()` (as the server sent it) parses back to the same reply;
//! - `TooLarge` only after more than `max_bytes` bytes, `TooManyLines` only after exactly
//!   `max_lines + 1` lines.

#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use sendguard::smtp::reply::{Reply, ReplyError, ReplyLimits, ReplyReader, parse_reply};
use tokio::io::{AsyncRead, ReadBuf};

/// One read of the reader takes at most this many bytes (`reply::CHUNK`).
const CHUNK: usize = 4096;

/// Limits for the cross-checks, large enough never to be reached.
const UNBOUNDED: ReplyLimits = ReplyLimits {
    max_bytes: 1 << 30,
    max_lines: 1 << 20,
};

fuzz_target!(|data: &[u8]| {
    let [lines_b, bytes_b, reads_b, stream @ ..] = data else {
        return;
    };
    let limits = ReplyLimits {
        max_bytes: 8 + usize::from(*bytes_b) * 4,
        max_lines: 1 + usize::from(*lines_b % 8),
    };
    let source = Chunked {
        data: stream,
        pos: 0,
        pattern: *reads_b,
        reads: 0,
    };
    let mut reader = ReplyReader::new(source);
    let mut start = 0; // stream offset where the next reply begins
    loop {
        let result = complete(reader.read_reply(limits));
        let taken = reader.get_mut().pos;
        let buffered = reader.buffered().len();
        assert!(buffered <= limits.max_bytes + CHUNK, "buffered {buffered}");
        let consumed = taken - buffered;
        let segment = &stream[start..consumed];
        match result {
            Ok(reply) => {
                check_reply(&reply, segment, limits);
                start = consumed;
            }
            Err(ReplyError::Closed) => return,
            Err(ReplyError::TooLarge { limit }) => {
                assert_eq!(limit, limits.max_bytes);
                assert!(taken - start > limits.max_bytes, "TooLarge too early");
                return;
            }
            Err(ReplyError::TooManyLines { limit }) => {
                assert_eq!(limit, limits.max_lines);
                let n = segment.iter().filter(|&&b| b == b'\n').count();
                assert_eq!(n, limits.max_lines + 1, "TooManyLines after {n} lines");
                return;
            }
            Err(ReplyError::Malformed(_)) => {
                let lines = split_lines(segment);
                assert!(
                    matches!(
                        parse_reply(&lines, UNBOUNDED),
                        Err(ReplyError::Malformed(_))
                    ),
                    "the reader found {segment:?} malformed, parse_reply did not"
                );
                return;
            }
            Err(e @ ReplyError::Io(_)) => panic!("no I/O errors here: {e}"),
        }
    }
});

fn check_reply(reply: &Reply, segment: &[u8], limits: ReplyLimits) {
    assert!(segment.len() <= limits.max_bytes, "{} bytes", segment.len());
    assert!(segment.ends_with(b"\n"));
    assert!((1..=limits.max_lines).contains(&reply.lines.len()));
    let (d1, d2) = (reply.code / 100, reply.code / 10 % 10);
    assert!((2..=5).contains(&d1) && d2 <= 5, "code {}", reply.code);
    let lines = split_lines(segment);
    assert_eq!(lines.len(), reply.lines.len());
    assert_eq!(parse_reply(&lines, UNBOUNDED).ok().as_ref(), Some(reply));
    let summary = reply.summary();
    let again: Vec<&[u8]> = summary.split('\n').map(str::as_bytes).collect();
    assert_eq!(
        parse_reply(&again, UNBOUNDED).ok().as_ref(),
        Some(reply),
        "summary {summary:?}"
    );
}

/// The lines of a segment that ends in LF, each without its LF and one CR before it.
fn split_lines(segment: &[u8]) -> Vec<&[u8]> {
    let body = segment.strip_suffix(b"\n").unwrap_or(segment);
    body.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

/// Polls a future that never waits (the stream below is always ready) to completion.
fn complete<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the reader waited on a stream that is always ready"),
    }
}

/// A stream that hands out its bytes in reads of varying size and then reports the end.
struct Chunked<'a> {
    data: &'a [u8],
    pos: usize,
    pattern: u8,
    reads: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let size = if self.pattern == 0 {
            CHUNK
        } else {
            1 + (usize::from(self.pattern) * (self.reads + 1)) % 97
        };
        let n = size.min(buf.remaining()).min(self.data.len() - self.pos);
        let (start, end) = (self.pos, self.pos + n);
        buf.put_slice(&self.data[start..end]);
        self.pos = end;
        self.reads += 1;
        Poll::Ready(Ok(()))
    }
}
