//! Reading Postfix's log: what its SMTP client (smtp(8)) saw of each delivery. Two kinds of
//! lines matter, both written by the same smtp process (tag `postfix/smtp[PID]`, whatever the
//! `syslog_name`):
//!
//! - `Verified TLS connection established to mx.example[192.0.2.1]:25: TLSv1.3 with cipher
//!   TLS_AES_256_GCM_SHA384 (256/256 bits) ...` (also `Trusted`, `Untrusted`, `Anonymous`, and
//!   `... TLS connection reused to ...` with `smtp_tls_connection_reuse`), logged right after
//!   the handshake (`smtp_tls_loglevel = 1`, Postfix's TLS_README);
//! - the delivery status, `QUEUEID: to=<rcpt>, relay=mx.example[192.0.2.1]:25, ..., dsn=2.0.0,
//!   status=sent (250 ...)`, one per recipient, after the transaction.
//!
//! A status line is matched with the last TLS line of its process for the same relay that no
//! other message used: with it, the delivery went over TLS; without it, in plain text (Postfix
//! caches only plain-text connections unless it logs "reused"). `TLS is required, but was not
//! offered` and `Cannot start TLS` in a status say what the server did. Lines of other kinds,
//! deliveries without a relay (`relay=none`, local transports) and anything malformed are
//! skipped. Nothing here decides a level: [`Delivered`] is handed to `learn`, which turns it into
//! facts for the one judgement.

use std::collections::HashMap;
use std::net::IpAddr;

use sendguard_common::address::Address;

/// The longest log line read; Postfix's own lines stay far below (its `line_length_limit` is
/// 2048 for SMTP), so a longer one is not Postfix's and is skipped.
pub const MAX_LINE: usize = 8 * 1024;

/// How many smtp processes' last TLS sessions are remembered at once (Postfix's default
/// `default_process_limit` is 100); beyond, the oldest are forgotten.
const MAX_PROCESSES: usize = 4096;

/// What Postfix's TLS line says of the peer's certificate (TLS_README, "Server-side
/// certificate"): the name and chain verified, the chain only, neither, or no certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// The certificate matched the policy (DANE or name and chain).
    Verified,
    /// The chain was verified, the name not checked or not matched.
    Trusted,
    /// Neither checked successfully.
    Untrusted,
    /// No certificate (anonymous cipher).
    Anonymous,
}

/// A TLS session Postfix's SMTP client logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedTls {
    /// How the certificate was judged.
    pub trust: Trust,
    /// The protocol as Postfix names it (`TLSv1.3`, `TLSv1.2`, `TLSv1`, ...).
    pub protocol: String,
    /// The OpenSSL cipher name.
    pub cipher: String,
    /// The symmetric key bits in use.
    pub bits: u16,
}

/// What a delivery showed of the server's TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// The delivery went over this TLS session.
    Tls(LoggedTls),
    /// The delivery went over a plain-text connection.
    Plain,
    /// Postfix required TLS and the server did not offer STARTTLS (the status text).
    NoStarttls(String),
    /// STARTTLS was offered but the handshake failed (the status text).
    TlsFailed(String),
}

/// One delivery attempt of one recipient, as Postfix logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The recipient domain (the next hop whose MX Postfix used).
    pub domain: String,
    /// The relay host as Postfix named it.
    pub host: String,
    /// The address Postfix connected to.
    pub ip: IpAddr,
    /// `sent`, `deferred`, `bounced`, ...
    pub status: String,
    /// What the session showed.
    pub seen: Seen,
}

/// One line, split: the process tag (`postfix/smtp[1234]`) and the message after it.
fn split_tag(line: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    while let Some(at) = line[from..].find("]: ") {
        let end = from + at;
        let head = &line[..end];
        if let Some(open) = head.rfind('[') {
            let pid = &head[open + 1..];
            let start = head[..open].rfind(' ').map_or(0, |s| s + 1);
            if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) && start < open {
                return Some((&line[start..=end], &line[end + 3..]));
            }
        }
        from = end + 3;
    }
    None
}

/// `host[ip]:port` (or `host[ip]`) into the host and the address.
fn relay(text: &str) -> Option<(String, IpAddr)> {
    let open = text.find('[')?;
    let close = open + text[open..].find(']')?;
    let ip = text[open + 1..close]
        .trim_start_matches("IPv6:")
        .parse()
        .ok()?;
    let host = text[..open].trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty()).then_some((host, ip))
}

/// A TLS line: the relay and the session.
fn tls_line(message: &str) -> Option<((String, IpAddr), LoggedTls)> {
    let (trust, rest) = message.split_once(" TLS connection ")?;
    let trust = match trust {
        "Verified" => Trust::Verified,
        "Trusted" => Trust::Trusted,
        "Untrusted" => Trust::Untrusted,
        "Anonymous" => Trust::Anonymous,
        _ => return None,
    };
    let rest = rest
        .strip_prefix("established to ")
        .or_else(|| rest.strip_prefix("reused to "))?;
    let (peer, session) = rest.split_once(": ")?;
    let (protocol, rest) = session.split_once(" with cipher ")?;
    let (cipher, rest) = rest.split_once(" (")?;
    let bits = rest.split('/').next()?.parse().ok()?;
    Some((
        relay(peer)?,
        LoggedTls {
            trust,
            protocol: protocol.to_string(),
            cipher: cipher.to_string(),
            bits,
        },
    ))
}

/// A status line's parts.
struct Status<'a> {
    queue_id: &'a str,
    domain: String,
    relay: (String, IpAddr),
    status: &'a str,
    text: &'a str,
}

fn status_line(message: &str) -> Option<Status<'_>> {
    let (queue_id, rest) = message.split_once(": to=<")?;
    if queue_id.is_empty() || !queue_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let (recipient, rest) = rest.split_once('>')?;
    let domain = Address::parse(recipient)
        .ok()?
        .domain()
        .as_str()
        .to_string();
    let relay_text = rest.split_once("relay=")?.1;
    let relay_text = relay_text.split([',', ' ']).next()?;
    let (_, after) = rest.split_once(" status=")?;
    let (status, text) = after.split_once(' ').unwrap_or((after, ""));
    Some(Status {
        queue_id,
        domain,
        relay: relay(relay_text)?,
        status,
        text: text.trim_start_matches('(').trim_end_matches(')'),
    })
}

/// The last TLS session of one smtp process.
struct Session {
    relay: (String, IpAddr),
    tls: LoggedTls,
    /// The message that used it first; another message means another connection.
    queue_id: Option<String>,
    /// Order of arrival, to forget the oldest.
    serial: u64,
}

/// Matches status lines with the TLS lines before them, process by process.
#[derive(Default)]
pub struct Correlator {
    sessions: HashMap<String, Session>,
    serial: u64,
}

impl Correlator {
    /// Reads one log line; a delivery when it was a status line of an SMTP delivery.
    pub fn feed(&mut self, line: &str) -> Option<Delivered> {
        if line.len() > MAX_LINE {
            return None;
        }
        let (tag, message) = split_tag(line)?;
        if let Some((relay, tls)) = tls_line(message) {
            self.remember(tag, relay, tls);
            return None;
        }
        let s = status_line(message)?;
        let seen = if s.text.contains("TLS is required, but was not offered") {
            Seen::NoStarttls(s.text.to_string())
        } else if s.text.starts_with("Cannot start TLS") {
            Seen::TlsFailed(s.text.to_string())
        } else {
            match self.sessions.get_mut(tag) {
                Some(t)
                    if t.relay == s.relay
                        && t.queue_id.as_deref().is_none_or(|q| q == s.queue_id) =>
                {
                    t.queue_id = Some(s.queue_id.to_string());
                    Seen::Tls(t.tls.clone())
                }
                // No TLS line for this message: a new plain-text connection, or (`conn_use`
                // above 1) a cached one, which is plain text too, since Postfix caches TLS
                // connections only with `smtp_tls_connection_reuse`, and then logs "TLS
                // connection reused" for each use.
                _ => Seen::Plain,
            }
        };
        Some(Delivered {
            domain: s.domain,
            host: s.relay.0,
            ip: s.relay.1,
            status: s.status.to_string(),
            seen,
        })
    }

    fn remember(&mut self, tag: &str, relay: (String, IpAddr), tls: LoggedTls) {
        if self.sessions.len() >= MAX_PROCESSES && !self.sessions.contains_key(tag) {
            let mut serials: Vec<u64> = self.sessions.values().map(|s| s.serial).collect();
            serials.sort_unstable();
            let cut = serials[serials.len() / 2];
            self.sessions.retain(|_, s| s.serial > cut);
        }
        self.serial += 1;
        self.sessions.insert(
            tag.to_string(),
            Session {
                relay,
                tls,
                queue_id: None,
                serial: self.serial,
            },
        );
    }

    /// How many processes' sessions are remembered.
    pub fn remembered(&self) -> usize {
        self.sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TLS: &str = "Dec  2 00:35:40 mta postfix/smtp[4242]: Verified TLS connection established \
        to mx.dane.example[127.0.0.5]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 \
        bits) key-exchange X25519 server-signature ECDSA (P-256) server-digest SHA256";

    fn status(pid: u32, qid: &str, rcpt: &str, relay: &str, extra: &str, status: &str) -> String {
        format!(
            "2026-12-02T00:35:41.123456+00:00 mta postfix/smtp[{pid}]: {qid}: to=<{rcpt}>, \
             relay={relay}{extra}, delay=0.2, delays=0.1/0/0.05/0.05, dsn=2.0.0, status={status}"
        )
    }

    fn sent(pid: u32, qid: &str, rcpt: &str) -> String {
        status(
            pid,
            qid,
            rcpt,
            "mx.dane.example[127.0.0.5]:25",
            "",
            "sent (250 2.0.0 Ok: queued as 4Y1)",
        )
    }

    #[test]
    fn a_tls_line_then_its_status_is_a_tls_delivery() {
        let mut c = Correlator::default();
        assert_eq!(c.feed(TLS), None);
        let d = c.feed(&sent(4242, "4ABC1", "u@Dane.Example")).unwrap();
        assert_eq!(d.domain, "dane.example");
        assert_eq!(d.host, "mx.dane.example");
        assert_eq!(d.ip, "127.0.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(d.status, "sent");
        let Seen::Tls(t) = d.seen else {
            panic!("not TLS: {:?}", d.seen)
        };
        assert_eq!(t.trust, Trust::Verified);
        assert_eq!(t.protocol, "TLSv1.3");
        assert_eq!(t.cipher, "TLS_AES_256_GCM_SHA384");
        assert_eq!(t.bits, 256);
        // A second recipient of the same message used the same session.
        let d = c.feed(&sent(4242, "4ABC1", "v@dane.example")).unwrap();
        assert!(matches!(d.seen, Seen::Tls(_)));
    }

    #[test]
    fn a_status_without_its_own_tls_line_is_plain_text() {
        let mut c = Correlator::default();
        c.feed(TLS);
        c.feed(&sent(4242, "4ABC1", "u@dane.example"));
        // The next message of that process: no new TLS line, so a new plain connection.
        let d = c.feed(&sent(4242, "4ABC2", "u@dane.example")).unwrap();
        assert_eq!(d.seen, Seen::Plain);
        // Another process never logged TLS.
        let d = c.feed(&sent(7, "4ABC3", "u@dane.example")).unwrap();
        assert_eq!(d.seen, Seen::Plain);
        // A TLS session with another relay says nothing of this one.
        c.feed(&TLS.replace("127.0.0.5", "127.0.0.6"));
        assert_eq!(
            c.feed(&sent(4242, "4ABC4", "u@dane.example")).unwrap().seen,
            Seen::Plain
        );
        let reused = status(
            9,
            "4ABC5",
            "u@dane.example",
            "mx.dane.example[127.0.0.5]:25",
            ",conn_use=2",
            "sent (250 ok)",
        );
        assert_eq!(c.feed(&reused).unwrap().seen, Seen::Plain);
    }

    #[test]
    fn reused_tls_and_the_other_trust_words() {
        let mut c = Correlator::default();
        for (word, trust) in [
            ("Trusted", Trust::Trusted),
            ("Untrusted", Trust::Untrusted),
            ("Anonymous", Trust::Anonymous),
        ] {
            let line = TLS
                .replace("Verified", word)
                .replace("established", "reused")
                .replace("TLSv1.3", "TLSv1.2")
                .replace("TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES128-GCM-SHA256")
                .replace("256/256", "128/128");
            c.feed(&line);
            let Seen::Tls(t) = c.feed(&sent(4242, word, "u@dane.example")).unwrap().seen else {
                panic!("{word}: not TLS")
            };
            assert_eq!(
                (t.trust, t.protocol.as_str(), t.bits),
                (trust, "TLSv1.2", 128)
            );
            assert_eq!(t.cipher, "ECDHE-RSA-AES128-GCM-SHA256");
        }
    }

    #[test]
    fn what_the_status_text_says_of_tls() {
        let mut c = Correlator::default();
        let line = status(
            5,
            "4ABD1",
            "u@tls.example",
            "mx.tls.example[127.0.0.6]:25",
            "",
            "deferred (TLS is required, but was not offered by host mx.tls.example[127.0.0.6])",
        );
        let d = c.feed(&line).unwrap();
        assert_eq!(d.status, "deferred");
        assert!(matches!(d.seen, Seen::NoStarttls(ref t) if t.starts_with("TLS is required")));
        let line = status(
            5,
            "4ABD2",
            "u@tls.example",
            "mx.tls.example[127.0.0.6]:25",
            "",
            "deferred (Cannot start TLS: handshake failure)",
        );
        assert!(matches!(c.feed(&line).unwrap().seen, Seen::TlsFailed(_)));
    }

    #[test]
    fn ipv6_relays_are_read() {
        let mut c = Correlator::default();
        let line = status(
            5,
            "4ABD1",
            "u@six.example",
            "mx.six.example[2001:db8::25]:25",
            "",
            "sent (250 ok)",
        );
        let d = c.feed(&line).unwrap();
        assert_eq!(d.ip, "2001:db8::25".parse::<IpAddr>().unwrap());
        assert_eq!(d.host, "mx.six.example");
    }

    #[test]
    fn other_lines_and_garbage_are_skipped() {
        let mut c = Correlator::default();
        for line in [
            "",
            "garbage",
            "]: ]: [",
            "Dec  2 00:00:00 mta postfix/qmgr[10]: 4ABC1: removed",
            "Dec  2 00:00:00 mta postfix/smtpd[11]: Anonymous TLS connection established from \
             c.example[127.0.0.9]: TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)",
            "Dec  2 00:00:00 mta postfix/local[12]: 4ABC1: to=<u@here.example>, relay=local, \
             delay=0.1, status=sent (delivered to mailbox)",
            "Dec  2 00:00:00 mta postfix/smtp[13]: 4ABC1: to=<u@x.example>, relay=none, \
             delay=30, status=deferred (connect to mx.x.example[127.0.0.7]:25: Connection refused)",
            "Dec  2 00:00:00 mta postfix/smtp[14]: 4ABC1: to=<not an address>, \
             relay=mx[127.0.0.1]:25, status=sent (250 ok)",
            "Dec  2 00:00:00 mta postfix/smtp[15]: Verified TLS connection established to \
             mx[127.0.0.1]:25: TLSv1.3 with cipher X (many/256 bits)",
        ] {
            assert_eq!(c.feed(line), None, "{line}");
        }
        assert_eq!(c.remembered(), 0);
        assert_eq!(c.feed(&"x".repeat(MAX_LINE + 1)), None);
    }

    #[test]
    fn the_memory_of_processes_stays_bounded() {
        let mut c = Correlator::default();
        for pid in 0..3 * MAX_PROCESSES {
            c.feed(&TLS.replace("4242", &pid.to_string()));
            assert!(c.remembered() <= MAX_PROCESSES);
        }
        // The newest are kept.
        let last = 3 * MAX_PROCESSES as u32 - 1;
        let d = c.feed(&sent(last, "4ABC1", "u@dane.example")).unwrap();
        assert!(matches!(d.seen, Seen::Tls(_)));
    }
}
