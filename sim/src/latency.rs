//! A simulated round-trip time, without netem: the world's servers hold each reply back for
//! the round-trip time before it reaches the client, as if the whole delay lay on the way
//! back. A client that sends a question and waits for the answer then waits one round trip;
//! answers to questions sent together (pipelined, or lookups in parallel) arrive together.
//!
//! [`Latency`] wraps a stream (an SMTP peer's connection, TLS included): every write is
//! queued with the time it may leave and written at that time, in order, while the server
//! goes on reading, so a server that answers two questions sent at once answers both one
//! round trip later (a TLS 1.3 server's session tickets and its answer to the EHLO that
//! followed the client's Finished, say), not two. The DNS server delays its answers the same
//! way (`dns::delay`). [`ReplyLog`] records when each reply left, so a benchmark can count
//! the replies and the round trips a client needed.

use std::collections::VecDeque;
use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// One reply a server of the world sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// When it left (after its delay).
    pub at: std::time::Instant,
    /// Which server sent it: `"dns"` or `"smtp"`.
    pub server: &'static str,
    /// What it was, e.g. `MX bench-00001.test.` or the first line of an SMTP reply.
    pub what: String,
}

/// The replies sent by a world's servers, in the order they left. Cheap to clone; clones
/// share the log. Bounded: after [`ReplyLog::CAPACITY`] replies only the count grows.
#[derive(Clone, Debug, Default)]
pub struct ReplyLog {
    inner: Arc<Mutex<LogState>>,
}

#[derive(Debug, Default)]
struct LogState {
    replies: Vec<Reply>,
    count: usize,
}

impl ReplyLog {
    /// The most replies kept; later ones are only counted.
    pub const CAPACITY: usize = 100_000;

    /// Notes a reply that leaves now.
    pub fn record(&self, server: &'static str, what: String) {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        state.count += 1;
        if state.replies.len() < Self::CAPACITY {
            state.replies.push(Reply {
                at: std::time::Instant::now(),
                server,
                what,
            });
        }
    }

    /// Removes and returns the replies kept so far.
    pub fn take(&self) -> Vec<Reply> {
        let mut state = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut state.replies)
    }

    /// How many replies were sent since the world started.
    pub fn count(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).count
    }
}

/// A stream whose writes reach the other side `rtt` after they were made (see the module
/// documentation). With a zero `rtt` it writes straight through.
pub struct Latency<S> {
    inner: S,
    rtt: Duration,
    log: Option<ReplyLog>,
    /// Bytes written by the server and not yet sent: when they may leave, and how many of
    /// them were sent already.
    queue: VecDeque<(Instant, Vec<u8>, usize)>,
    timer: Option<Pin<Box<Sleep>>>,
}

/// How far sending the queue got.
enum Drain {
    /// Everything was sent.
    Done,
    /// The next bytes may not leave yet; the timer will wake the task.
    Waiting,
    /// The stream cannot take more now; it will wake the task.
    Blocked,
}

impl<S> Latency<S> {
    /// Wraps `inner`; each write leaves `rtt` later, noted in `log` when there is one.
    pub fn new(inner: S, rtt: Duration, log: Option<ReplyLog>) -> Self {
        Latency {
            inner,
            rtt,
            log,
            queue: VecDeque::new(),
            timer: None,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

/// A short description of bytes an SMTP peer writes: the first line of a reply, or the size
/// of what is not text (TLS records).
fn describe(bytes: &[u8]) -> String {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    if bytes.first().is_some_and(u8::is_ascii_digit) {
        String::from_utf8_lossy(line)
            .trim_end()
            .chars()
            .take(60)
            .collect()
    } else {
        format!("{} bytes (TLS)", bytes.len())
    }
}

impl<S: AsyncWrite + Unpin> Latency<S> {
    /// Sends what is due, in order.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Drain>> {
        loop {
            let Some((due, bytes, sent)) = self.queue.front_mut() else {
                return Poll::Ready(Ok(Drain::Done));
            };
            if *due > Instant::now() {
                let due = *due;
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                if timer.deadline() != due {
                    timer.as_mut().reset(due);
                }
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Ready(Ok(Drain::Waiting));
                }
                continue;
            }
            if *sent == 0
                && let Some(log) = &self.log
            {
                log.record("smtp", describe(bytes));
            }
            match Pin::new(&mut self.inner).poll_write(cx, &bytes[*sent..]) {
                Poll::Pending => return Poll::Ready(Ok(Drain::Blocked)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    *sent += n;
                    if *sent == bytes.len() {
                        self.queue.pop_front();
                        // Nagle is off on the peers: each reply leaves as it is written.
                        if let Poll::Ready(Err(e)) = Pin::new(&mut self.inner).poll_flush(cx) {
                            return Poll::Ready(Err(e));
                        }
                    }
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Latency<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A server waiting for the client's next words still sends what is due meanwhile.
        if let Poll::Ready(Err(e)) = this.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Latency<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.rtt.is_zero() && this.queue.is_empty() {
            if let Some(log) = &this.log {
                log.record("smtp", describe(buf));
            }
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        this.queue
            .push_back((Instant::now() + this.rtt, buf.to_vec(), 0));
        if let Poll::Ready(Err(e)) = this.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    /// Flushed once everything due has left; what is still delayed is on its way.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(Drain::Blocked)) | Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(_)) => Pin::new(&mut this.inner).poll_flush(cx),
        }
    }

    /// Sends everything still delayed first.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.drain(cx) {
            Poll::Ready(Ok(Drain::Done)) => Pin::new(&mut this.inner).poll_shutdown(cx),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Two writes made while the server reads leave one round trip after each was made, not
    /// one after the other; nothing leaves early.
    #[tokio::test]
    async fn writes_leave_one_round_trip_later_and_overlap() {
        let (client, server) = tokio::io::duplex(1024);
        let log = ReplyLog::default();
        let rtt = Duration::from_millis(300);
        let mut server = Latency::new(server, rtt, Some(log.clone()));
        let mut client = client;
        let start = Instant::now();
        server.write_all(b"220 first\r\n").await.unwrap();
        server.flush().await.unwrap();
        assert!(
            start.elapsed() < rtt / 2,
            "a flush does not wait for the delay"
        );
        server.write_all(b"250 second\r\n").await.unwrap();
        let reader = tokio::spawn(async move {
            let mut got = vec![0u8; 23];
            client.read_exact(&mut got).await.unwrap();
            (got, start.elapsed())
        });
        // The server reads meanwhile (nothing comes): the reads send what is due.
        let mut one = [0u8; 1];
        let _ = tokio::time::timeout(rtt * 2, server.read(&mut one)).await;
        let (got, elapsed) = reader.await.unwrap();
        assert_eq!(&got, b"220 first\r\n250 second\r\n");
        assert!(elapsed >= rtt, "{elapsed:?}");
        // One after the other they would take two round trips.
        assert!(elapsed < rtt * 2, "{elapsed:?}");
        let what: Vec<String> = log.take().into_iter().map(|r| r.what).collect();
        assert_eq!(what, ["220 first", "250 second"]);
    }
}
