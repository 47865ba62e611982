//! The inbound guard: a Postfix SMTP access policy delegation service (SMTPD_POLICY_README) for
//! `check_policy_service inet:HOST:PORT` in `smtpd_recipient_restrictions`. Mail to a secure
//! address (`alias@secure.<domain>`, the seed's secure.mailbox.org) is accepted only over TLS at
//! its owner's minimum ("Verschlüsselter Versand", receiving side): over a connection without TLS
//! (`encryption_protocol` empty), or below TLS 1.2, or below TLS 1.3 when the owner chose it, the
//! recipient is refused with `550 5.7.1` and a clear text, so the sending server returns the
//! message to its sender as undeliverable. Everything else gets `DUNNO` (the other restrictions
//! decide).
//!
//! The protocol: `name=value` lines ending with an empty line, one request after another on the
//! same connection; each answered by `action=...` and an empty line. Requests are bounded in
//! lines and bytes; a connection idle for [`IDLE_TIMEOUT`] is closed.
//!
//! The sending server's TLS is recorded as an observation ([`super::inbound_seen`]), once per
//! message, without delaying the answer. "Authenticated" as a receiving minimum cannot be
//! checked here (Postfix reports no certificate of a sending server
//! unless it asked for one), so it counts as "encrypted".

use std::collections::HashMap;
use std::time::Duration;

use sendguard_common::{MinTlsVersion, SecureMode, TransportRequirement};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpListener;

use crate::postfix::inbound_seen::Recorder;
use crate::store::Store;
use crate::user::account::{AccountConfig, DEFAULT_USER, secure_alias};

/// The most attribute lines of one request (Postfix sends about 30).
pub const MAX_LINES: usize = 100;
/// The longest line.
pub const MAX_LINE: usize = 4096;
/// A connection idle this long is closed (Postfix's own client times out after 100 s).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// At most this many smtpd processes at once.
pub const MAX_CONNECTIONS: usize = 256;

/// What the service answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// No opinion: the other restrictions decide.
    Dunno,
    /// Refuse the recipient for good with this text (after `550 5.7.1 `).
    Reject(String),
}

impl Action {
    /// The reply as sent, the empty line included.
    pub fn wire(&self) -> String {
        match self {
            Action::Dunno => "action=DUNNO\n\n".to_string(),
            Action::Reject(text) => format!("action=550 5.7.1 {text}\n\n"),
        }
    }
}

/// The decision for one request: `secure` gives the receiving minimum of a secure address
/// (`None` for every other address).
pub fn decide(
    attrs: &HashMap<String, String>,
    secure: impl Fn(&str) -> Option<TransportRequirement>,
) -> Action {
    let get = |k: &str| attrs.get(k).map(String::as_str).unwrap_or("");
    if !get("protocol_state").eq_ignore_ascii_case("RCPT") {
        return Action::Dunno;
    }
    let recipient = get("recipient").to_ascii_lowercase();
    let Some(required) = secure(&recipient) else {
        return Action::Dunno;
    };
    let protocol = get("encryption_protocol");
    if protocol.is_empty() {
        return Action::Reject(
            "this address accepts mail only over an encrypted connection (STARTTLS); this one was not encrypted"
                .to_string(),
        );
    }
    let tls13 = protocol == "TLSv1.3";
    if !(tls13 || protocol == "TLSv1.2") {
        return Action::Reject(format!(
            "this address accepts mail only over TLS 1.2 or newer; this connection used {protocol}"
        ));
    }
    if required.tls_version == MinTlsVersion::Tls13 && !tls13 {
        return Action::Reject(format!(
            "this address accepts mail only over TLS 1.3; this connection used {protocol}"
        ));
    }
    Action::Dunno
}

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The connection failed or ended in the middle of a request.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// Beyond the bounds, or not `name=value` lines.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
}

/// Reads one request; `None` when the client closed the connection between requests.
pub async fn read_request<R: AsyncBufRead + Unpin>(
    reader: &mut R,
) -> Result<Option<HashMap<String, String>>, RequestError> {
    let mut attrs = HashMap::new();
    let mut lines = 0;
    loop {
        let mut line = Vec::new();
        let n = (&mut *reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return if lines == 0 {
                Ok(None)
            } else {
                Err(RequestError::Malformed(
                    "the connection ended within a request",
                ))
            };
        }
        if line.last() != Some(&b'\n') {
            return Err(RequestError::Malformed("a line is too long"));
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if text.is_empty() {
            return Ok(Some(attrs));
        }
        lines += 1;
        if lines > MAX_LINES {
            return Err(RequestError::Malformed("too many lines"));
        }
        let Some((name, value)) = text.split_once('=') else {
            return Err(RequestError::Malformed("a line is not name=value"));
        };
        attrs.insert(name.to_string(), value.to_string());
    }
}

/// The service's view of the user: which addresses are secure, and their minimum.
#[derive(Clone)]
pub struct Guard {
    /// The account whose secure aliases are guarded.
    pub account: AccountConfig,
    /// Where its settings are.
    pub store: Store,
    /// Records the sending servers' TLS, when given.
    pub recorder: Option<Recorder>,
}

impl Guard {
    /// The receiving minimum of `recipient` when it is a secure alias: of a user in the
    /// database (the owner of the address without `secure.`), or of the configured account
    /// (`--account`, settings of the built-in user); the owner's expert choice, else the
    /// defaults (TLS 1.2). A secure alias is guarded even while secure sending is off or the
    /// settings cannot be read: never less than TLS.
    async fn requirement(&self, recipient: &str) -> Option<TransportRequirement> {
        let (local, domain) = recipient.rsplit_once('@')?;
        let base = format!("{local}@{}", domain.strip_prefix("secure.")?);
        let owner = match self.store.user_of_address(&base).await {
            Ok(Some(user)) => user,
            // Unreadable: guarded all the same, with the defaults.
            Err(_) => return Some(TransportRequirement::default()),
            Ok(None) => {
                let configured = self
                    .account
                    .addresses
                    .iter()
                    .filter_map(|a| secure_alias(a))
                    .any(|alias| alias.eq_ignore_ascii_case(recipient));
                if !configured {
                    return None;
                }
                DEFAULT_USER.to_string()
            }
        };
        match self.store.settings(&owner).await {
            Ok(s) if s.mode == SecureMode::Expert => Some(s.receiving),
            _ => Some(TransportRequirement::default()),
        }
    }

    /// Answers one request.
    pub async fn answer(&self, attrs: &HashMap<String, String>) -> Action {
        let recipient = attrs
            .get("recipient")
            .map(|r| r.to_ascii_lowercase())
            .unwrap_or_default();
        if let Some(r) = &self.recorder
            && attrs
                .get("protocol_state")
                .is_some_and(|s| s.eq_ignore_ascii_case("RCPT"))
        {
            r.offer(attrs);
        }
        let required = self.requirement(&recipient).await;
        decide(attrs, |r| (r == recipient).then_some(required).flatten())
    }
}

/// Serves the policy service on `listener` until the process ends.
pub async fn serve(listener: TcpListener, guard: Guard) {
    super::accept_loop(listener, MAX_CONNECTIONS, move |stream| {
        let guard = guard.clone();
        async move { connection(stream, &guard).await }
    })
    .await
}

/// One smtpd process: requests answered in order until it closes, idles or sends something
/// that is not a request (then the connection is closed).
pub async fn connection<S: AsyncRead + AsyncWrite + Unpin>(stream: S, guard: &Guard) {
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = BufReader::new(read);
    loop {
        let attrs = match tokio::time::timeout(IDLE_TIMEOUT, read_request(&mut reader)).await {
            Ok(Ok(Some(attrs))) => attrs,
            Ok(Ok(None)) | Err(_) | Ok(Err(RequestError::Io(_))) => return,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "policy service: closing");
                return;
            }
        };
        let action = guard.answer(&attrs).await;
        if let Action::Reject(text) = &action {
            tracing::info!(client = attrs.get("client_address").map(String::as_str).unwrap_or(""), %text, "refused without TLS");
        }
        if write.write_all(action.wire().as_bytes()).await.is_err() || write.flush().await.is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_secure_address_is_refused_without_tls_and_below_its_minimum() {
        let any = |r: &str| (r == "a@secure.example.org").then(TransportRequirement::default);
        let rcpt = |protocol: &str| {
            request(&[
                ("protocol_state", "RCPT"),
                ("recipient", "A@secure.example.org"),
                ("encryption_protocol", protocol),
            ])
        };
        assert!(matches!(decide(&rcpt(""), any), Action::Reject(t) if t.contains("not encrypted")));
        assert!(
            matches!(decide(&rcpt("TLSv1.1"), any), Action::Reject(t) if t.contains("TLS 1.2"))
        );
        assert_eq!(decide(&rcpt("TLSv1.2"), any), Action::Dunno);
        let tls13 = |_: &str| {
            Some(TransportRequirement {
                tls_version: MinTlsVersion::Tls13,
                ..Default::default()
            })
        };
        assert!(
            matches!(decide(&rcpt("TLSv1.2"), tls13), Action::Reject(t) if t.contains("TLS 1.3"))
        );
        assert_eq!(decide(&rcpt("TLSv1.3"), tls13), Action::Dunno);
        // Other addresses and other states: no opinion.
        let mut other = rcpt("");
        other.insert("recipient".into(), "b@example.org".into());
        assert_eq!(decide(&other, any), Action::Dunno);
        let mut data = rcpt("");
        data.insert("protocol_state".into(), "DATA".into());
        assert_eq!(decide(&data, any), Action::Dunno);
        assert_eq!(Action::Reject("x".into()).wire(), "action=550 5.7.1 x\n\n");
    }

    #[tokio::test]
    async fn requests_are_read_within_their_bounds() {
        let mut r = BufReader::new(&b"request=smtpd_access_policy\nrecipient=a@b\n\nx=1\n\n"[..]);
        let first = read_request(&mut r).await.unwrap().unwrap();
        assert_eq!(first["recipient"], "a@b");
        assert_eq!(read_request(&mut r).await.unwrap().unwrap()["x"], "1");
        assert!(read_request(&mut r).await.unwrap().is_none());
        let long = format!("a={}\n\n", "x".repeat(MAX_LINE + 10));
        let mut r = BufReader::new(long.as_bytes());
        assert!(matches!(
            read_request(&mut r).await,
            Err(RequestError::Malformed(_))
        ));
        let many = "a=1\n".repeat(MAX_LINES + 1);
        let mut r = BufReader::new(many.as_bytes());
        assert!(matches!(
            read_request(&mut r).await,
            Err(RequestError::Malformed(_))
        ));
        let mut r = BufReader::new(&b"no equals sign\n\n"[..]);
        assert!(matches!(
            read_request(&mut r).await,
            Err(RequestError::Malformed(_))
        ));
    }
}
