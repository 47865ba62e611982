//! What a simulated SMTP peer keeps of the mail it received (RFC 5321 §4.1.4 transactions),
//! so that delivery tests can check that a message arrived intact and how: each accepted
//! message with its envelope, the TLS it came over and the client's EHLO name
//! ([`ReceivedMessage`]), and a log of every session with the commands seen in it and whether
//! each came in plain text or over TLS ([`SessionLog`]).
//!
//! Everything is bounded: the mailbox holds at most [`PeerOptions::max_stored`] messages and
//! [`PeerOptions::max_stored_bytes`] bytes (a full mailbox answers `452`, RFC 5321 §4.2.2, so a
//! client never believes a message was kept when it was not), the session log holds the latest
//! [`MAX_SESSIONS`] sessions with at most [`MAX_COMMANDS`] commands each, and the counters
//! that prove what a peer never saw ([`Mailbox::counts`]) are never dropped.

use std::collections::VecDeque;
use std::time::SystemTime;

use super::PeerOptions;

/// The most sessions the log keeps; older ones are dropped (their counts stay).
pub const MAX_SESSIONS: usize = 4096;

/// The most commands logged per session; later ones are only counted.
pub const MAX_COMMANDS: usize = 256;

/// The TLS a transaction ran over, from the rustls server connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsFacts {
    /// The negotiated protocol version, e.g. [`rustls::ProtocolVersion::TLSv1_3`].
    pub version: rustls::ProtocolVersion,
    /// The negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: rustls::CipherSuite,
}

impl TlsFacts {
    /// The facts of an established rustls server connection; `None` before the handshake
    /// completed.
    pub fn of(connection: &rustls::ServerConnection) -> Option<TlsFacts> {
        Some(TlsFacts {
            version: connection.protocol_version()?,
            cipher_suite: connection.negotiated_cipher_suite()?.suite(),
        })
    }
}

/// One message a peer accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The reverse path from MAIL FROM, without angle brackets (empty for the null path).
    pub mail_from: String,
    /// The forward paths from RCPT TO that were accepted, without angle brackets.
    pub rcpt_to: Vec<String>,
    /// The message exactly as received after dot-unstuffing (RFC 5321 §4.5.2), without the
    /// terminating `.` line; each line ends as the client sent it (CRLF, or a bare LF).
    pub data: Vec<u8>,
    /// Whether it arrived over TLS.
    pub tls: bool,
    /// The TLS version and cipher suite it arrived over; `None` in plain text.
    pub tls_facts: Option<TlsFacts>,
    /// The name the client gave in its last EHLO or HELO.
    pub ehlo: String,
    /// When the peer accepted it (after the terminating `.`).
    pub received_at: SystemTime,
    /// The session it arrived in ([`SessionLog::id`]).
    pub session: usize,
    /// The user the client authenticated as (AUTH, RFC 4954), if it did.
    pub auth: Option<String>,
}

impl ReceivedMessage {
    /// The message's `Message-ID` (RFC 5322 §3.6.4) without angle brackets, from its first
    /// `Message-ID:` line: tests count by it what arrived twice.
    pub fn message_id(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.data);
        let line = text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))?;
        Some(line[11..].trim().trim_matches(['<', '>']).to_string())
    }
}

/// A command verb a peer understood (RFC 5321 §4.1, RFC 3207).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    /// EHLO.
    Ehlo,
    /// HELO.
    Helo,
    /// STARTTLS.
    StartTls,
    /// MAIL FROM.
    Mail,
    /// RCPT TO.
    Rcpt,
    /// DATA.
    Data,
    /// RSET.
    Rset,
    /// NOOP.
    Noop,
    /// VRFY.
    Vrfy,
    /// QUIT.
    Quit,
    /// AUTH (RFC 4954).
    Auth,
    /// Anything else (answered with 500).
    Unknown,
}

impl Verb {
    /// The verb of a command word, case-insensitively.
    pub fn parse(word: &str) -> Verb {
        const VERBS: [(&str, Verb); 11] = [
            ("EHLO", Verb::Ehlo),
            ("HELO", Verb::Helo),
            ("STARTTLS", Verb::StartTls),
            ("MAIL", Verb::Mail),
            ("RCPT", Verb::Rcpt),
            ("DATA", Verb::Data),
            ("RSET", Verb::Rset),
            ("NOOP", Verb::Noop),
            ("VRFY", Verb::Vrfy),
            ("QUIT", Verb::Quit),
            ("AUTH", Verb::Auth),
        ];
        VERBS
            .iter()
            .find(|(name, _)| word.eq_ignore_ascii_case(name))
            .map_or(Verb::Unknown, |(_, verb)| *verb)
    }
}

/// One command a session saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenCommand {
    /// The command.
    pub verb: Verb,
    /// Whether it came over TLS.
    pub tls: bool,
}

/// One connection to a peer: the commands it saw, in plain text and over TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLog {
    /// The connection's number at this peer, from 0.
    pub id: usize,
    /// The TLS negotiated after STARTTLS, if any.
    pub tls: Option<TlsFacts>,
    /// The first [`MAX_COMMANDS`] commands, in order.
    pub commands: Vec<SeenCommand>,
    /// How many commands came after the first [`MAX_COMMANDS`].
    pub commands_dropped: usize,
}

impl SessionLog {
    /// Whether this verb came in plain text in this session (among the logged commands).
    pub fn saw_in_plain_text(&self, verb: Verb) -> bool {
        self.commands.iter().any(|c| c.verb == verb && !c.tls)
    }

    /// Whether MAIL FROM ever came in plain text in this session.
    pub fn mail_in_plain_text(&self) -> bool {
        self.saw_in_plain_text(Verb::Mail)
    }
}

/// Counts over every session a peer served, never dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// MAIL commands seen, in plain text or over TLS.
    pub mail: usize,
    /// MAIL commands seen in plain text.
    pub mail_in_plain_text: usize,
    /// DATA commands seen in plain text.
    pub data_in_plain_text: usize,
    /// AUTH commands seen, in plain text or over TLS.
    pub auth: usize,
    /// AUTH commands seen in plain text.
    pub auth_in_plain_text: usize,
    /// Messages accepted.
    pub accepted: usize,
    /// Messages refused because the mailbox was full.
    pub refused_full: usize,
}

/// Why a message was not kept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum StoreError {
    /// The mailbox holds as many messages or bytes as it may.
    #[error("the mailbox is full")]
    Full,
}

/// The peer's received messages, session log and counts, behind one lock in `Shared`.
#[derive(Debug, Default)]
pub(super) struct Mailbox {
    messages: Vec<ReceivedMessage>,
    bytes: usize,
    sessions: VecDeque<SessionLog>,
    counts: Counts,
}

impl Mailbox {
    /// Keeps `message` if the bounds allow.
    pub(super) fn store(
        &mut self,
        message: ReceivedMessage,
        opts: &PeerOptions,
    ) -> Result<(), StoreError> {
        let bytes = self.bytes + message.data.len();
        if self.messages.len() >= opts.max_stored || bytes > opts.max_stored_bytes {
            self.counts.refused_full += 1;
            return Err(StoreError::Full);
        }
        self.bytes = bytes;
        self.counts.accepted += 1;
        self.messages.push(message);
        Ok(())
    }

    /// The messages kept so far.
    pub(super) fn messages(&self) -> &[ReceivedMessage] {
        &self.messages
    }

    /// Removes and returns the messages kept so far, making room for more.
    pub(super) fn take(&mut self) -> Vec<ReceivedMessage> {
        self.bytes = 0;
        std::mem::take(&mut self.messages)
    }

    /// Starts the log of session `id`.
    pub(super) fn open_session(&mut self, id: usize) {
        if self.sessions.len() >= MAX_SESSIONS {
            self.sessions.pop_front();
        }
        self.sessions.push_back(SessionLog {
            id,
            tls: None,
            commands: Vec::new(),
            commands_dropped: 0,
        });
    }

    /// The log of session `id`, if still kept.
    fn session(&mut self, id: usize) -> Option<&mut SessionLog> {
        self.sessions.iter_mut().rev().find(|s| s.id == id)
    }

    /// Notes that session `id` now runs over TLS.
    pub(super) fn tls_started(&mut self, id: usize, facts: Option<TlsFacts>) {
        if let Some(log) = self.session(id) {
            log.tls = facts;
        }
    }

    /// Notes a command of session `id`.
    pub(super) fn command(&mut self, id: usize, verb: Verb, tls: bool) {
        match verb {
            Verb::Mail => {
                self.counts.mail += 1;
                if !tls {
                    self.counts.mail_in_plain_text += 1;
                }
            }
            Verb::Data if !tls => self.counts.data_in_plain_text += 1,
            Verb::Auth => {
                self.counts.auth += 1;
                if !tls {
                    self.counts.auth_in_plain_text += 1;
                }
            }
            _ => {}
        }
        if let Some(log) = self.session(id) {
            if log.commands.len() < MAX_COMMANDS {
                log.commands.push(SeenCommand { verb, tls });
            } else {
                log.commands_dropped += 1;
            }
        }
    }

    /// The sessions still in the log, oldest first.
    pub(super) fn sessions(&self) -> Vec<SessionLog> {
        self.sessions.iter().cloned().collect()
    }

    /// The counts over every session.
    pub(super) fn counts(&self) -> Counts {
        self.counts
    }
}
