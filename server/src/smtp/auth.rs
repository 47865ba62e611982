//! AUTH PLAIN for the relay client (RFC 4954 with the PLAIN mechanism of RFC 4616): one
//! command with the initial response, sent only over TLS (the caller's promise: [`super::relay`]
//! requires STARTTLS) and only when the relay lists `AUTH` with `PLAIN` in its EHLO reply over
//! TLS (RFC 3207 §4.2: what came before TLS is forgotten). The password appears in no error and
//! no log.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncRead, AsyncWrite};

use super::session::Session;
use super::transaction::RecipientReply;

/// The step name of AUTH.
pub const STEP: &str = "AUTH";

/// A submission account (RFC 4616 `authcid` and password). Its `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The initial response of AUTH PLAIN: `NUL user NUL password` in base64 (RFC 4616 §2, an
    /// empty authorization identity: act as the user itself).
    fn plain_response(&self) -> String {
        let mut raw = Vec::with_capacity(self.user.len() + self.password.len() + 2);
        raw.push(0);
        raw.extend_from_slice(self.user.as_bytes());
        raw.push(0);
        raw.extend_from_slice(self.password.as_bytes());
        STANDARD.encode(raw)
    }
}

/// Whether the EHLO keywords offer `AUTH` with the `PLAIN` mechanism (RFC 4954 §3).
fn offers_plain(extensions: &[String]) -> bool {
    extensions.iter().any(|e| {
        let mut words = e.split_ascii_whitespace();
        words.next().is_some_and(|k| k.eq_ignore_ascii_case("AUTH"))
            && words.any(|m| m.eq_ignore_ascii_case("PLAIN"))
    })
}

/// Authenticates as `account` over the (TLS) session whose EHLO listed `extensions`; `Err`:
/// why not, as the temporary failure of every recipient (a refused password is the operator's
/// to fix, so the mail waits for it; it is never returned to its sender for it).
pub(super) async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    smtp: &mut Session<'_, S>,
    account: &Credentials,
    extensions: &[String],
) -> Result<(), RecipientReply> {
    if !offers_plain(extensions) {
        return Err(RecipientReply::Temporary(format!(
            "{STEP}: the relay does not offer AUTH PLAIN over TLS; nothing was sent"
        )));
    }
    let line = format!("AUTH PLAIN {}", account.plain_response());
    let limit = smtp.cfg.command_timeout;
    match smtp.command(STEP, &line, limit).await {
        Ok(reply) if reply.code == 235 => Ok(()),
        Ok(reply) => Err(RecipientReply::Temporary(format!(
            "{STEP}: the relay refused the credentials of {:?} ({}); nothing was sent",
            account.user,
            reply.summary()
        ))),
        Err(err) => Err(RecipientReply::Temporary(err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_response_is_nul_user_nul_password_in_base64() {
        // printf '\0relay\0secret' | base64
        let account = Credentials {
            user: "relay".into(),
            password: "secret".into(),
        };
        assert_eq!(account.plain_response(), "AHJlbGF5AHNlY3JldA==");
        assert!(!format!("{account:?}").contains("secret"));
    }

    #[test]
    fn plain_is_found_among_the_mechanisms() {
        assert!(offers_plain(&["AUTH LOGIN PLAIN".into()]));
        assert!(offers_plain(&["auth plain".into()]));
        assert!(!offers_plain(&["AUTH LOGIN".into(), "PLAINTEXT".into()]));
        assert!(!offers_plain(&[]));
    }
}
