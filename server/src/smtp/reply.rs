//! SMTP replies (RFC 5321 §4.2): parsing reply lines and reading whole, possibly multi-line
//! replies from a stream within byte and line limits.
//!
//! A reply line is three digits, then `-` (more lines follow), a space or the end of the line
//! (last line), then text (RFC 5321 §4.2, §4.2.1). Every line of a multi-line reply carries the
//! same code. The first digit is 2–5 and the second 0–5 (§4.2.1); anything else is a protocol
//! violation. Lines end in CRLF; a bare LF is tolerated (a lenient reader loses nothing here,
//! since a probe never relays what it reads). A hostile server can send endless or endlessly
//! long lines, so [`ReplyReader`] never buffers more than [`ReplyLimits::max_bytes`] of one
//! reply (plus one read chunk) and never accepts more than [`ReplyLimits::max_lines`] lines.
//! Timeouts are the caller's business: wrap each read in `tokio::time::timeout`.
//!
//! The text of a reply is the server's: it may carry terminal escapes, NUL bytes or pages of
//! filler meant for a log, a database or an administrator's terminal. Every line is made safe
//! where it is read ([`server_text`]: control characters stripped, at most
//! [`MAX_LINE_CHARS`] characters), and [`Reply::summary`], the form that errors, findings and
//! so the store and the CLI carry, is at most [`MAX_SUMMARY_CHARS`] characters.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The most characters kept of one line of server text.
pub const MAX_LINE_CHARS: usize = 512;

/// The most characters of a reply's [`Reply::summary`].
pub const MAX_SUMMARY_CHARS: usize = 1024;

/// Server text made safe to store and print: decoded as UTF-8 (invalid bytes replaced), every
/// control character (C0, DEL, C1) and bidirectional override stripped, a tab made a space,
/// trailing white space dropped, and cut to at most `max` characters (then ending in `…`).
/// The one function through which text from a peer (reply lines, certificate names) passes
/// before the store, the logs or a terminal see it.
pub fn server_text(raw: &[u8], max: usize) -> String {
    let decoded = String::from_utf8_lossy(raw);
    let clean = decoded
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .filter(|&c| !c.is_control() && !is_bidi_control(c));
    let mut out = String::new();
    for (kept, c) in clean.enumerate() {
        if kept == max {
            // More follows: the last character kept makes way for the mark.
            out.pop();
            out.push('…');
            break;
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

/// The characters that reorder how text shows on a terminal (Unicode UAX #9): the
/// bidirectional embeddings, overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// One complete SMTP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit reply code, e.g. 250.
    pub code: u16,
    /// The text of each line after the code and separator (lossily decoded as UTF-8).
    pub lines: Vec<String>,
}

impl Reply {
    /// The first digit of the code: 2 positive completion, 3 intermediate, 4 transient
    /// negative, 5 permanent negative (RFC 5321 §4.2.1).
    pub fn class(&self) -> u16 {
        self.code / 100
    }

    /// Whether the reply is a positive completion (2yz).
    pub fn is_positive(&self) -> bool {
        self.class() == 2
    }

    /// Whether the reply is a transient negative completion (4yz).
    pub fn is_transient(&self) -> bool {
        self.class() == 4
    }

    /// Whether the reply is a permanent negative completion (5yz).
    pub fn is_permanent(&self) -> bool {
        self.class() == 5
    }

    /// The text of all lines joined with `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The reply as a server would have sent it, lines joined with `\n`, e.g. `454 4.7.0 no`,
    /// at most [`MAX_SUMMARY_CHARS`] characters. Used in error messages and findings.
    pub fn summary(&self) -> String {
        let n = self.lines.len();
        let full = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let sep = if i + 1 == n { ' ' } else { '-' };
                format!("{}{}{}", self.code, sep, l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        match full.char_indices().nth(MAX_SUMMARY_CHARS - 1) {
            Some((cut, _)) if full.chars().count() > MAX_SUMMARY_CHARS => {
                format!("{}…", &full[..cut])
            }
            _ => full,
        }
    }
}

/// Bounds on one reply, so that a server cannot make the client buffer without end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyLimits {
    /// Maximum size of one reply in bytes, line endings included.
    pub max_bytes: usize,
    /// Maximum number of lines of one reply.
    pub max_lines: usize,
}

/// Why a reply could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// Reading from the connection failed (reset, broken pipe, TLS error...).
    #[error("read failed: {0}")]
    Io(#[from] std::io::Error),
    /// The server closed the connection before the reply was complete.
    #[error("connection closed by the server")]
    Closed,
    /// The reply grew beyond the byte limit.
    #[error("reply exceeds {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The reply has more lines than allowed.
    #[error("reply exceeds {limit} lines")]
    TooManyLines {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A line is not a valid reply line (RFC 5321 §4.2).
    #[error("malformed reply: {0}")]
    Malformed(String),
}

impl ReplyError {
    /// Whether the failure is a transport problem (worth retrying later) rather than a
    /// protocol violation by the server.
    pub fn is_transport(&self) -> bool {
        matches!(self, ReplyError::Io(_) | ReplyError::Closed)
    }
}

/// A parsed reply line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    /// The reply code.
    pub code: u16,
    /// Whether this is the last line of the reply (separator space or nothing).
    pub last: bool,
    /// The text after the separator.
    pub text: &'a [u8],
}

/// A line for an error message: printable ASCII only, at most 80 characters.
fn quote(line: &[u8]) -> String {
    let shown: String = line
        .iter()
        .take(80)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    if line.len() > 80 {
        format!("{shown:?}...")
    } else {
        format!("{shown:?}")
    }
}

/// Parses one reply line without its line ending (RFC 5321 §4.2).
pub fn parse_line(line: &[u8]) -> Result<ReplyLine<'_>, ReplyError> {
    let malformed = || ReplyError::Malformed(format!("invalid reply line {}", quote(line)));
    if line.len() < 3 {
        return Err(malformed());
    }
    let (d1, d2, d3) = (line[0], line[1], line[2]);
    // RFC 5321 §4.2.1: first digit 2..5, second 0..5, third 0..9.
    if !(b'2'..=b'5').contains(&d1) || !(b'0'..=b'5').contains(&d2) || !d3.is_ascii_digit() {
        return Err(malformed());
    }
    let code = u16::from(d1 - b'0') * 100 + u16::from(d2 - b'0') * 10 + u16::from(d3 - b'0');
    match line.get(3) {
        None => Ok(ReplyLine {
            code,
            last: true,
            text: &[],
        }),
        Some(b' ') => Ok(ReplyLine {
            code,
            last: true,
            text: &line[4..],
        }),
        Some(b'-') => Ok(ReplyLine {
            code,
            last: false,
            text: &line[4..],
        }),
        Some(_) => Err(malformed()),
    }
}

/// Assembles a reply from raw lines (without line endings), checking that all lines carry the
/// same code, that only the last line is marked last, and the limits.
pub fn parse_reply(lines: &[&[u8]], limits: ReplyLimits) -> Result<Reply, ReplyError> {
    let mut builder = ReplyBuilder::new(limits);
    for (i, line) in lines.iter().enumerate() {
        if let Some(reply) = builder.push(line, line.len() + 2)? {
            if i + 1 != lines.len() {
                return Err(ReplyError::Malformed(
                    "lines after the last line of the reply".into(),
                ));
            }
            return Ok(reply);
        }
    }
    Err(ReplyError::Malformed("reply has no last line".into()))
}

/// Accumulates the lines of one reply.
struct ReplyBuilder {
    limits: ReplyLimits,
    code: Option<u16>,
    lines: Vec<String>,
    bytes: usize,
}

impl ReplyBuilder {
    fn new(limits: ReplyLimits) -> Self {
        ReplyBuilder {
            limits,
            code: None,
            lines: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds one line (`wire_len` = its size on the wire with the line ending); returns the
    /// reply once its last line arrived.
    fn push(&mut self, raw: &[u8], wire_len: usize) -> Result<Option<Reply>, ReplyError> {
        self.bytes += wire_len;
        if self.bytes > self.limits.max_bytes {
            return Err(ReplyError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        if self.lines.len() + 1 > self.limits.max_lines {
            return Err(ReplyError::TooManyLines {
                limit: self.limits.max_lines,
            });
        }
        let line = parse_line(raw)?;
        match self.code {
            None => self.code = Some(line.code),
            Some(code) if code != line.code => {
                // RFC 5321 §4.2.1: every line of a multi-line reply has the same code.
                return Err(ReplyError::Malformed(format!(
                    "reply code changed from {code} to {} within a multi-line reply",
                    line.code
                )));
            }
            Some(_) => {}
        }
        self.lines.push(server_text(line.text, MAX_LINE_CHARS));
        if line.last {
            Ok(Some(Reply {
                code: line.code,
                lines: std::mem::take(&mut self.lines),
            }))
        } else {
            Ok(None)
        }
    }
}

/// Size of one read from the connection.
const CHUNK: usize = 4096;

/// Reads replies from a stream (the read half of an SMTP connection), keeping unread bytes.
#[derive(Debug)]
pub struct ReplyReader<S> {
    stream: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + Unpin> ReplyReader<S> {
    /// Wraps a stream.
    pub fn new(stream: S) -> Self {
        ReplyReader {
            stream,
            buf: Vec::new(),
        }
    }

    /// The stream, e.g. to write a command.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes received but not yet consumed as part of a reply.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Gives back the stream and any bytes read beyond the last reply.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.buf)
    }

    /// Reads one complete reply within `limits`. If the future is dropped (e.g. by a
    /// timeout), lines already taken from the buffer are lost: abandon the connection then.
    pub async fn read_reply(&mut self, limits: ReplyLimits) -> Result<Reply, ReplyError> {
        let mut builder = ReplyBuilder::new(limits);
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                let wire_len = line.len();
                line.pop(); // '\n'
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if let Some(reply) = builder.push(&line, wire_len)? {
                    return Ok(reply);
                }
                continue;
            }
            // No complete line buffered: the partial line already counts against the limit.
            if builder.bytes + self.buf.len() > limits.max_bytes {
                return Err(ReplyError::TooLarge {
                    limit: limits.max_bytes,
                });
            }
            let mut chunk = [0u8; CHUNK];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(ReplyError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ReplyLimits = ReplyLimits {
        max_bytes: 16 * 1024,
        max_lines: 100,
    };

    async fn read_all(input: &[u8], limits: ReplyLimits) -> Result<Vec<Reply>, ReplyError> {
        let mut reader = ReplyReader::new(input);
        let mut out = Vec::new();
        loop {
            match reader.read_reply(limits).await {
                Ok(r) => out.push(r),
                Err(ReplyError::Closed) if reader.buffered().is_empty() => return Ok(out),
                Err(e) => return Err(e),
            }
        }
    }

    #[test]
    fn parses_single_and_last_lines() {
        let l = parse_line(b"220 mx.example ESMTP").expect("valid");
        assert_eq!(
            (l.code, l.last, l.text),
            (220, true, &b"mx.example ESMTP"[..])
        );
        let l = parse_line(b"250-PIPELINING").expect("valid");
        assert_eq!((l.code, l.last, l.text), (250, false, &b"PIPELINING"[..]));
        // A bare code is a complete last line (RFC 5321 §4.2: the text is optional).
        let l = parse_line(b"250").expect("valid");
        assert_eq!((l.code, l.last, l.text), (250, true, &b""[..]));
    }

    #[test]
    fn rejects_malformed_codes() {
        for bad in [
            &b""[..],
            b"22",
            b"2x0 hello",
            b"120 one hundred",
            b"620 six",
            b"260 bad second digit",
            b"220hello",
            b"220_x",
            b"HTTP/1.1 400 Bad Request",
            b" 220 leading space",
        ] {
            assert!(
                matches!(parse_line(bad), Err(ReplyError::Malformed(_))),
                "{:?} should be malformed",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn assembles_multi_line_replies() {
        let reply = parse_reply(
            &[b"250-mx.example", b"250-PIPELINING", b"250 STARTTLS"],
            LIMITS,
        )
        .expect("valid");
        assert_eq!(reply.code, 250);
        assert_eq!(reply.lines, vec!["mx.example", "PIPELINING", "STARTTLS"]);
        assert_eq!(reply.text(), "mx.example\nPIPELINING\nSTARTTLS");
        assert_eq!(
            reply.summary(),
            "250-mx.example\n250-PIPELINING\n250 STARTTLS"
        );
        assert!(reply.is_positive());
    }

    #[test]
    fn rejects_code_changes_and_missing_last_line() {
        assert!(matches!(
            parse_reply(&[b"250-a", b"251 b"], LIMITS),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(&[b"250-a", b"250-b"], LIMITS),
            Err(ReplyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(&[b"250 a", b"250 b"], LIMITS),
            Err(ReplyError::Malformed(_))
        ));
    }

    #[test]
    fn enforces_line_and_byte_limits() {
        let small = ReplyLimits {
            max_bytes: 1024,
            max_lines: 3,
        };
        assert!(matches!(
            parse_reply(&[b"250-a", b"250-b", b"250-c", b"250 d"], small),
            Err(ReplyError::TooManyLines { limit: 3 })
        ));
        assert!(parse_reply(&[b"250-a", b"250-b", b"250 c"], small).is_ok());
        let long = [b'x'; 1100];
        let mut line = b"250 ".to_vec();
        line.extend_from_slice(&long);
        assert!(matches!(
            parse_reply(&[&line], small),
            Err(ReplyError::TooLarge { limit: 1024 })
        ));
    }

    #[tokio::test]
    async fn reads_replies_from_a_stream_with_crlf_and_bare_lf() {
        let replies = read_all(
            b"220-mx.example ESMTP\r\n220-second line\r\n220 third\r\n250 ok\n",
            LIMITS,
        )
        .await
        .expect("valid");
        assert_eq!(replies.len(), 2);
        assert_eq!(replies[0].code, 220);
        assert_eq!(replies[0].lines.len(), 3);
        assert_eq!(replies[1].text(), "ok");
    }

    #[tokio::test]
    async fn keeps_bytes_after_a_reply() {
        let mut reader = ReplyReader::new(&b"220 go ahead\r\n\x16\x03\x01"[..]);
        let reply = reader.read_reply(LIMITS).await.expect("reply");
        assert_eq!(reply.code, 220);
        assert_eq!(reader.buffered(), b"\x16\x03\x01");
    }

    #[tokio::test]
    async fn an_endless_line_stops_at_the_byte_limit() {
        let limits = ReplyLimits {
            max_bytes: 1000,
            max_lines: 100,
        };
        // A stream that never ends and never sends a newline.
        let endless = tokio::io::repeat(b'x');
        let mut reader = ReplyReader::new(endless);
        assert!(matches!(
            reader.read_reply(limits).await,
            Err(ReplyError::TooLarge { limit: 1000 })
        ));
        assert!(reader.buffered().len() <= 1000 + CHUNK);
    }

    #[tokio::test]
    async fn endless_continuation_lines_stop_at_the_line_limit() {
        let limits = ReplyLimits {
            max_bytes: 1 << 20,
            max_lines: 10,
        };
        let input = b"220-more\r\n".repeat(1000);
        assert!(matches!(
            read_all(&input, limits).await,
            Err(ReplyError::TooManyLines { limit: 10 })
        ));
    }

    #[test]
    fn server_text_is_stripped_of_controls_and_cut() {
        assert_eq!(
            server_text(b"mx \x1b[2Jready\x07\x00 \xc2\x9b31m\tnow  ", 100),
            "mx [2Jready 31m now"
        );
        assert_eq!(server_text("a\u{202e}txt.exe".as_bytes(), 100), "atxt.exe");
        assert_eq!(server_text(b"\xff\xfeok", 100), "\u{fffd}\u{fffd}ok");
        assert_eq!(server_text(b"abcdef", 6), "abcdef");
        assert_eq!(server_text(b"abcdefg", 6), "abcde…");
        assert_eq!(server_text("ääääää".as_bytes(), 3), "ää…");
        let line = [b'x'; 5000];
        assert_eq!(
            server_text(&line, MAX_LINE_CHARS).chars().count(),
            MAX_LINE_CHARS
        );
    }

    #[test]
    fn replies_carry_safe_text_and_a_bounded_summary() {
        let mut long = b"554-".to_vec();
        long.extend_from_slice(&[b'x'; 4000]);
        let reply = parse_reply(
            &[&long, &long, &long, b"554 \x1b]0;owned\x07 go away\r"],
            LIMITS,
        )
        .expect("valid");
        assert_eq!(reply.lines[0].chars().count(), MAX_LINE_CHARS);
        assert_eq!(reply.lines[3], "]0;owned go away");
        let summary = reply.summary();
        assert!(
            !summary.chars().any(|c| c.is_control() && c != '\n'),
            "{summary:?}"
        );
        assert!(
            summary.chars().count() <= MAX_SUMMARY_CHARS,
            "{}",
            summary.len()
        );
    }

    #[tokio::test]
    async fn early_close_is_reported() {
        assert!(matches!(
            ReplyReader::new(&b"220-first\r\n"[..])
                .read_reply(LIMITS)
                .await,
            Err(ReplyError::Closed)
        ));
    }
}
