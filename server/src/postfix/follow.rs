//! Following Postfix's log as `tail -F` does: a file (Postfix's `maillog_file`, or syslog's
//! file) read from its end on, across rotation (the file renamed and a new one created: the old
//! one is read to its end first) and truncation (`copytruncate`: read again from the start),
//! or standard input (`journalctl -f -n 0 -u postfix@- -o short | sendguard postfix
//! --maillog -`). Lines are bounded ([`MAX_LINE`]; a longer one is skipped whole) and handed on
//! through a bounded channel, so a slow reader slows the follower and nothing grows. Each line
//! goes to [`Correlator`], each delivery to [`Learner`].

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncSeekExt, BufReader};
use tokio::sync::mpsc;

use crate::postfix::learn::{Learner, Learnt};
use crate::postfix::maillog::{Correlator, MAX_LINE};
use crate::verdicts::Verdicts;

/// How often a file at its end is looked at again.
pub const POLL: Duration = Duration::from_millis(250);

/// Lines waiting to be read, at most.
const CHANNEL: usize = 1024;

/// Where the log comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogSource {
    /// A file, followed across rotation.
    File(PathBuf),
    /// Standard input, until it ends.
    Stdin,
}

impl LogSource {
    /// `-` is standard input, anything else a file.
    pub fn parse(text: &str) -> LogSource {
        match text {
            "-" => LogSource::Stdin,
            path => LogSource::File(PathBuf::from(path)),
        }
    }
}

/// Reads lines of at most [`MAX_LINE`] bytes; a longer line is skipped whole. A last line
/// without its newline is kept until the newline comes.
#[derive(Default)]
struct LineReader {
    buf: Vec<u8>,
    overlong: bool,
}

impl LineReader {
    /// The next whole line, or `None` at the end of what is there for now.
    async fn next<R: AsyncBufRead + Unpin>(&mut self, r: &mut R) -> io::Result<Option<String>> {
        loop {
            let available = r.fill_buf().await?;
            if available.is_empty() {
                return Ok(None);
            }
            let (part, used, complete) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            if self.buf.len() + part.len() > MAX_LINE {
                self.overlong = true;
                self.buf.clear();
            } else if !self.overlong {
                self.buf.extend_from_slice(part);
            }
            r.consume(used);
            if complete {
                let line = std::mem::take(&mut self.buf);
                if std::mem::take(&mut self.overlong) {
                    continue;
                }
                let text = String::from_utf8_lossy(&line);
                return Ok(Some(text.trim_end_matches('\r').to_string()));
            }
        }
    }
}

/// Sends the lines of `source` to `lines` until the receiver is gone (or standard input ends).
pub async fn follow(source: LogSource, lines: mpsc::Sender<String>) -> io::Result<()> {
    match source {
        LogSource::Stdin => {
            let mut input = BufReader::new(tokio::io::stdin());
            let mut reader = LineReader::default();
            while let Some(line) = reader.next(&mut input).await? {
                if lines.send(line).await.is_err() {
                    break;
                }
            }
            Ok(())
        }
        LogSource::File(path) => follow_file(&path, lines).await,
    }
}

/// The identity of a file: rotation makes the path name another one.
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

async fn follow_file(path: &Path, lines: mpsc::Sender<String>) -> io::Result<()> {
    let mut file = loop {
        match tokio::fs::File::open(path).await {
            Ok(f) => break f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if lines.is_closed() {
                    return Ok(());
                }
                tokio::time::sleep(POLL).await;
            }
            Err(e) => return Err(e),
        }
    };
    // From the end on: what was logged before is not read again on every start (a restart would
    // otherwise record old deliveries, and an old downgrade again after its release).
    file.seek(io::SeekFrom::End(0)).await?;
    let mut id = identity(&file.metadata().await?);
    let mut input = BufReader::new(file);
    let mut reader = LineReader::default();
    loop {
        while let Some(line) = reader.next(&mut input).await? {
            if lines.send(line).await.is_err() {
                return Ok(());
            }
        }
        if lines.is_closed() {
            return Ok(());
        }
        let position = input.stream_position().await?;
        match tokio::fs::metadata(path).await {
            Ok(meta) if identity(&meta) != id => {
                // Rotated: what was written to the old file after the last read, then the new
                // one from its start.
                while let Some(line) = reader.next(&mut input).await? {
                    if lines.send(line).await.is_err() {
                        return Ok(());
                    }
                }
                match tokio::fs::File::open(path).await {
                    Ok(f) => {
                        id = identity(&f.metadata().await?);
                        input = BufReader::new(f);
                        reader = LineReader::default();
                        tracing::info!(path = %path.display(), "maillog rotated: reading the new file");
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(meta) if meta.len() < position => {
                tracing::info!(path = %path.display(), "maillog truncated: reading from its start");
                input.seek(io::SeekFrom::Start(0)).await?;
                reader = LineReader::default();
                continue;
            }
            // Unchanged, or between the rename and the new file.
            _ => {}
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Follows `source` and records every delivery in it (see [`Learner`]) until the log ends.
pub async fn run(source: LogSource, verdicts: Verdicts) {
    let (tx, mut rx) = mpsc::channel(CHANNEL);
    let what = format!("{source:?}");
    let follower = tokio::spawn(async move {
        if let Err(e) = follow(source, tx).await {
            tracing::error!(source = %what, error = %e, "cannot follow Postfix's log");
        }
    });
    let mut correlator = Correlator::default();
    let mut learner = Learner::new(verdicts);
    while let Some(line) = rx.recv().await {
        let Some(delivered) = correlator.feed(&line) else {
            continue;
        };
        match learner.learn(&delivered).await {
            Ok(Learnt::Recorded(r)) => tracing::info!(
                domain = %delivered.domain, host = %delivered.host, ip = %delivered.ip,
                class = ?r.verdict.class, holds = r.new_holds.len(),
                "recorded a Postfix delivery"
            ),
            Ok(Learnt::Repeated) => {}
            Ok(Learnt::NotEvidence(why)) => tracing::debug!(
                domain = %delivered.domain, host = %delivered.host, why,
                "a Postfix delivery that says nothing of the server"
            ),
            Err(e) => tracing::warn!(
                domain = %delivered.domain, host = %delivered.host, error = %e,
                "cannot record a Postfix delivery"
            ),
        }
    }
    follower.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    async fn next_line(rx: &mut mpsc::Receiver<String>) -> String {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a line in time")
            .expect("the follower is running")
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[tokio::test]
    async fn lines_are_bounded_and_partial_lines_wait() {
        let long = "x".repeat(MAX_LINE + 10);
        let text = format!("one\r\n{long}\ntwo\nthr");
        let mut input = text.as_bytes();
        let mut r = LineReader::default();
        assert_eq!(r.next(&mut input).await.unwrap().as_deref(), Some("one"));
        assert_eq!(r.next(&mut input).await.unwrap().as_deref(), Some("two"));
        assert_eq!(r.next(&mut input).await.unwrap(), None);
        let mut rest: &[u8] = b"ee\n";
        assert_eq!(r.next(&mut rest).await.unwrap().as_deref(), Some("three"));
    }

    #[tokio::test]
    async fn a_file_is_followed_from_its_end_across_rotation_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mail.log");
        append(&path, "before the start\n");
        let (tx, mut rx) = mpsc::channel(16);
        let task = tokio::spawn(follow(LogSource::File(path.clone()), tx));
        // The follower seeks to the end before this is written: give it time to open it.
        tokio::time::sleep(POLL * 4).await;
        append(&path, "first\n");
        assert_eq!(next_line(&mut rx).await, "first");
        // Rotation: the old file gets one more line after the rename, then a new file.
        std::fs::rename(&path, dir.path().join("mail.log.1")).unwrap();
        append(&dir.path().join("mail.log.1"), "last of the old\n");
        append(&path, "new file\n");
        assert_eq!(next_line(&mut rx).await, "last of the old");
        assert_eq!(next_line(&mut rx).await, "new file");
        // copytruncate; what follows is shorter than what was read, so the cut is seen
        // whenever the follower looks.
        std::fs::write(&path, "").unwrap();
        append(&path, "cut\n");
        assert_eq!(next_line(&mut rx).await, "cut");
        drop(rx);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the follower stops when nobody reads")
            .unwrap()
            .unwrap();
    }
}
