//! Bounded line I/O of a simulated SMTP peer: every write and every line read has the peer's
//! I/O timeout, every line a length bound, so that a peer never hangs a test. Replies are
//! formatted as RFC 5321 §4.2 asks (`code-text` for all lines but the last, `code text`).

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use super::PeerOptions;

/// Formats a (multi-line) reply.
pub(super) fn multi_line(code: u16, lines: &[String]) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let sep = if i + 1 == lines.len() { ' ' } else { '-' };
        out.push_str(&format!("{code}{sep}{line}\r\n"));
    }
    out
}

/// Writes and flushes within the I/O timeout.
pub(super) async fn write<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
    opts: &PeerOptions,
) -> std::io::Result<()> {
    let io = async {
        stream.write_all(bytes).await?;
        stream.flush().await
    };
    match tokio::time::timeout(opts.io_timeout, io).await {
        Ok(result) => result,
        Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
    }
}

/// The outcome of reading one line.
pub(super) enum Line {
    /// A line: without its CRLF/LF from [`read_line`], with it from [`read_raw_line`].
    Text(Vec<u8>),
    /// The line exceeded the limit.
    TooLong,
    /// The client closed the connection, or an error or timeout occurred.
    Gone,
}

/// Reads one line of at most `opts.max_line` bytes within the I/O timeout, without its
/// CRLF (or bare LF).
pub(super) async fn read_line<S: AsyncRead + Unpin>(
    reader: &mut BufReader<S>,
    opts: &PeerOptions,
) -> Line {
    match read_raw_line(reader, opts).await {
        Line::Text(mut line) => {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            Line::Text(line)
        }
        other => other,
    }
}

/// Reads one line of at most `opts.max_line` bytes within the I/O timeout, its line ending
/// (CRLF or a bare LF) kept as sent.
pub(super) async fn read_raw_line<S: AsyncRead + Unpin>(
    reader: &mut BufReader<S>,
    opts: &PeerOptions,
) -> Line {
    let read = async {
        let mut line = Vec::new();
        loop {
            let buf = match reader.fill_buf().await {
                Ok(buf) => buf,
                Err(_) => return Line::Gone,
            };
            if buf.is_empty() {
                return Line::Gone;
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(pos) => (pos + 1, true),
                None => (buf.len(), false),
            };
            line.extend_from_slice(&buf[..take]);
            reader.consume(take);
            if line.len() > opts.max_line {
                return Line::TooLong;
            }
            if done {
                return Line::Text(line);
            }
        }
    };
    tokio::time::timeout(opts.io_timeout, read)
        .await
        .unwrap_or(Line::Gone)
}
