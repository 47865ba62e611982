//! What the Postfix peers of the interop world received, and how: the messages virtual(8)
//! wrote into each domain's Maildir, and smtpd's log of each SMTP session. Every peer logs under
//! its own name (`postfix/HOST/smtpd[PID]: ...`); with `smtpd_tls_loglevel = 1` a TLS session
//! has one line "Anonymous TLS connection established from CLIENT: TLSv1.3 with cipher NAME
//! (...)" (RFC 3207: after STARTTLS), and each accepted transaction one "QUEUEID: client=..."
//! line; cleanup(8) logs "QUEUEID: message-id=<ID>" (RFC 5322 §3.6.4) for each queued copy.

use std::path::Path;
use std::time::{Duration, Instant};

/// The messages in the Maildir of `domain` under `mail` (`new/` and `cur/`), oldest first.
pub fn maildir_messages(mail: &Path, domain: &str) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(mail.join(domain).join(sub)) {
            files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    // Maildir names start with the delivery time in seconds, then a unique part.
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

/// Waits up to `timeout` until the Maildir of every domain in `domains` holds at least one
/// message (virtual(8) delivers shortly after smtpd has accepted); returns whether they do.
pub fn wait_for_maildirs(mail: &Path, domains: &[&str], timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        if domains
            .iter()
            .all(|d| !maildir_messages(mail, d).is_empty())
        {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One SMTP session of one peer, as its smtpd logged it: from "connect from" to "disconnect
/// from", the text of each line after `postfix/HOST/smtpd[PID]: `.
#[derive(Clone, Debug, Default)]
pub struct SmtpdSession {
    /// The log lines, in order.
    pub lines: Vec<String>,
}

/// The TLS of a session as smtpd logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedTls {
    /// E.g. `TLSv1.3`.
    pub version: String,
    /// OpenSSL's name of the cipher, e.g. `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
}

impl SmtpdSession {
    /// The session's TLS line, when it had one.
    pub fn tls(&self) -> Option<LoggedTls> {
        self.lines.iter().find_map(|l| {
            let (_, rest) = l.split_once(" TLS connection established from ")?;
            let (_, rest) = rest.split_once(": ")?;
            let mut words = rest.split_whitespace();
            let version = words.next()?.to_string();
            let cipher = match (words.next(), words.next(), words.next()) {
                (Some("with"), Some("cipher"), Some(c)) => c.to_string(),
                _ => return None,
            };
            Some(LoggedTls { version, cipher })
        })
    }

    /// Whether a MAIL command came in this session: smtpd's closing line counts the commands
    /// it saw ("disconnect from ... ehlo=2 starttls=1 mail=1 ... commands=7").
    pub fn saw_mail(&self) -> bool {
        self.lines.iter().any(|l| {
            l.starts_with("disconnect from ")
                && l.split_whitespace().any(|w| w.starts_with("mail="))
        })
    }

    /// The queue ids of the transactions smtpd accepted in this session.
    pub fn queue_ids(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|l| {
                let (id, rest) = l.split_once(": ")?;
                rest.starts_with("client=").then(|| id.to_string())
            })
            .collect()
    }
}

/// The sessions of the smtpd of `host` in `maillog`, in the order they ended. Sessions of
/// the same smtpd process follow each other; those of different processes may interleave, so
/// lines are grouped by PID.
pub fn smtpd_sessions(maillog: &str, host: &str) -> Vec<SmtpdSession> {
    let tag = format!(" postfix/{host}/smtpd[");
    let mut open: Vec<(String, SmtpdSession)> = Vec::new();
    let mut done = Vec::new();
    for line in maillog.lines() {
        let Some((_, rest)) = line.split_once(&tag) else {
            continue;
        };
        let Some((pid, text)) = rest.split_once("]: ") else {
            continue;
        };
        if text.starts_with("connect from ") {
            open.retain(|(p, s)| {
                // A new session of a PID ends any session of it that lost its last line.
                if p == pid {
                    done.push(s.clone());
                }
                p != pid
            });
            open.push((pid.to_string(), SmtpdSession::default()));
        }
        let Some(i) = open.iter().position(|(p, _)| p == pid) else {
            continue;
        };
        open[i].1.lines.push(text.to_string());
        if text.starts_with("disconnect from ") {
            done.push(open.remove(i).1);
        }
    }
    done.extend(open.into_iter().map(|(_, s)| s));
    done
}

/// The queue ids cleanup(8) gave to copies of the message whose Message-ID is `message_id`
/// (without angle brackets): one per peer that accepted it.
pub fn queue_ids_of(maillog: &str, message_id: &str) -> Vec<String> {
    let needle = format!(": message-id=<{message_id}>");
    maillog
        .lines()
        .filter(|l| l.contains(" postfix/cleanup["))
        .filter_map(|l| {
            let (head, _) = l.split_once(&needle)?;
            Some(head.rsplit(' ').next()?.to_string())
        })
        .collect()
}
