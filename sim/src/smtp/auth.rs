//! AUTH on a submission peer (RFC 4954 with the PLAIN mechanism of RFC 4616), as Postfix's
//! submission service does it with `smtpd_tls_auth_only = yes`: offered and accepted over TLS
//! only (`538 5.7.11` in plain text, RFC 4954 §6), the initial response on the command line or
//! after a `334` challenge, `*` cancels (`501`), credentials checked against the peer's one
//! account (`235 2.7.0`, or `535 5.7.8`), at most once per session (`503`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Flow, Session};

impl<S: AsyncRead + AsyncWrite + Unpin> Session<'_, S> {
    /// Whether EHLO lists `AUTH PLAIN`: on a submission peer, over TLS.
    pub(super) fn offers_auth(&self) -> bool {
        self.shared.options.submission.is_some() && self.over_tls()
    }

    /// AUTH PLAIN with or without an initial response.
    pub(super) async fn auth(&mut self, args: &str) -> Flow {
        if self.shared.options.submission.is_none() {
            return self.reply("502 5.5.1 AUTH not available\r\n").await;
        }
        if !self.over_tls() {
            return self
                .reply("538 5.7.11 Encryption required for requested authentication mechanism\r\n")
                .await;
        }
        if self.ehlo.is_none() || self.authenticated.is_some() || self.transaction.is_some() {
            return self.reply("503 5.5.1 AUTH not allowed now\r\n").await;
        }
        let (mechanism, initial) = match args.split_once(' ') {
            Some((m, i)) => (m, Some(i.trim().to_string())),
            None => (args, None),
        };
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            return self
                .reply("504 5.5.4 Unrecognized authentication type\r\n")
                .await;
        }
        let response = match initial {
            Some(i) => i,
            None => {
                if let Flow::Close = self.reply("334 \r\n").await {
                    return Flow::Close;
                }
                match self.line().await {
                    Some(line) => String::from_utf8_lossy(&line).into_owned(),
                    None => return Flow::Close,
                }
            }
        };
        if response == "*" {
            return self.reply("501 5.7.0 Authentication cancelled\r\n").await;
        }
        match self.check_plain(&response) {
            Some(user) => {
                self.authenticated = Some(user);
                self.reply("235 2.7.0 Authentication successful\r\n").await
            }
            None => {
                self.reply("535 5.7.8 Authentication credentials invalid\r\n")
                    .await
            }
        }
    }

    /// The user of a PLAIN response (`authzid NUL authcid NUL passwd`, base64, RFC 4616 §2)
    /// that matches the account, with an empty authzid or one equal to the user.
    fn check_plain(&self, response: &str) -> Option<String> {
        let account = self.shared.options.submission.as_ref()?;
        let decoded = STANDARD.decode(response.trim()).ok()?;
        let mut parts = decoded.split(|b| *b == 0);
        let (authzid, authcid, password) = (parts.next()?, parts.next()?, parts.next()?);
        let user = account.user.as_bytes();
        let matches = parts.next().is_none()
            && (authzid.is_empty() || authzid == user)
            && authcid == user
            && password == account.password.as_bytes();
        matches.then(|| account.user.clone())
    }
}
