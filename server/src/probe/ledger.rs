//! The session ledger: SMTP sessions shared by every instance on one database, so that a server
//! (host name and address) is contacted once across the cluster within the minimum re-contact
//! interval, not once per instance.
//!
//! The prober stays network-only: it sees the ledger through [`SessionLedger`] (the store
//! implements it). Before contacting a server, a prober asks the ledger for a session younger
//! than the interval and uses it when there is one. Otherwise it claims the server for as long
//! as a session may take ([`lease`]); when another instance holds a live claim, it polls the
//! ledger for that instance's result until the claim would have run out, and contacts the server
//! itself only when none came. After its own session it puts the result in the ledger (which
//! ends its claim). An operator's fresh probe skips the look-up and the claim, and still shares
//! its result.
//!
//! A session is stored as JSON with a version (`{"v":1,"session":...}`): a row of another
//! version, or one that no longer reads as this shape, is "no recent session", never an error.
//! A ledger that fails (a database down or busy) never stops probing: the failure is logged
//! and the prober goes on alone, as without a ledger.

use std::net::IpAddr;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::endpoint::RawEndpoint;
use super::{Prober, lock};

/// The version of the stored form; a change of [`RawEndpoint`]'s meaning raises it.
const VERSION: u32 = 1;
/// The first pause between two looks at the ledger while another instance holds the claim;
/// it doubles up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(50);
/// The longest pause between two looks at the ledger.
const POLL_MAX: Duration = Duration::from_millis(500);
/// Added to the SMTP session's own bound for a claim's lease: the time to store the result.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Where the instances on one database keep their SMTP sessions and claims. Times are
/// milliseconds since the Unix epoch; a session is the prober's own serialized form, opaque to
/// the ledger. Errors are the ledger's words, logged by the prober.
pub trait SessionLedger: Send + Sync {
    /// The session with `host` at `ip` stored at `since` or later, if any.
    fn recent<'a>(
        &'a self,
        host: &'a str,
        ip: IpAddr,
        since: i64,
    ) -> BoxFuture<'a, Result<Option<String>, String>>;

    /// Claims `host` at `ip` for this instance until `claim.until`: `true` when it is now this
    /// instance's to contact, `false` when another instance holds a claim that has not run out
    /// at `claim.now`, or a session stored at `claim.since` or later exists.
    fn claim<'a>(
        &'a self,
        host: &'a str,
        ip: IpAddr,
        claim: Claim,
    ) -> BoxFuture<'a, Result<bool, String>>;

    /// Stores the session with `host` at `ip` that ended at `at`, ending this instance's claim.
    fn put<'a>(
        &'a self,
        host: &'a str,
        ip: IpAddr,
        at: i64,
        session: &'a str,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// The times of a claim, milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Now: a claim whose end is before this has run out.
    pub now: i64,
    /// When this claim runs out.
    pub until: i64,
    /// A session stored at this time or later is recent enough: no claim is needed.
    pub since: i64,
}

#[derive(Serialize)]
struct Envelope<'a> {
    v: u32,
    session: &'a RawEndpoint,
}

#[derive(Deserialize)]
struct Version {
    v: u32,
}

#[derive(Deserialize)]
struct Stored {
    session: RawEndpoint,
}

/// `raw` in its stored form.
pub(super) fn encode(raw: &RawEndpoint) -> String {
    let envelope = Envelope {
        v: VERSION,
        session: raw,
    };
    // Plain strings, numbers and enums: serializing cannot fail.
    serde_json::to_string(&envelope).unwrap_or_default()
}

/// A stored session, or `None` when it is of another version or shape.
pub(super) fn decode(text: &str) -> Option<RawEndpoint> {
    match serde_json::from_str::<Version>(text) {
        Ok(Version { v: VERSION }) => {}
        _ => return None,
    }
    match serde_json::from_str::<Stored>(text) {
        Ok(stored) => Some(stored.session),
        Err(e) => {
            tracing::debug!(error = %e, "a stored session of version {VERSION} does not read");
            None
        }
    }
}

/// How long a claim lasts: the SMTP session's overall bound and a margin to store its result.
pub(super) fn lease(session_timeout: Duration) -> Duration {
    session_timeout + LEASE_MARGIN
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What the ledger gave instead of a session of this instance's own.
pub(super) enum Shared {
    /// Another instance's session, young enough.
    Session(RawEndpoint),
    /// None: this instance contacts the server (it holds the claim, or the other's ran out,
    /// or the ledger failed).
    Contact,
}

impl Prober {
    /// The ledger, when this prober shares sessions.
    fn ledger(&self) -> Option<&dyn SessionLedger> {
        self.inner.ledger.get().map(|l| l.as_ref())
    }

    /// Before a session with `host` at `ip`: a recent one from the ledger, else the claim,
    /// else (another instance holds it) its result once it comes.
    pub(super) async fn shared_session(&self, host: &str, ip: IpAddr) -> Shared {
        let Some(ledger) = self.ledger() else {
            return Shared::Contact;
        };
        let interval = millis(self.inner.config.min_reprobe_interval);
        let lease = millis(lease(self.inner.config.smtp.session_timeout));
        let now = now_ms();
        let since = now.saturating_sub(interval);
        if let Some(raw) = self.ledger_recent(ledger, host, ip, since).await {
            return Shared::Session(raw);
        }
        let claim = Claim {
            now,
            until: now.saturating_add(lease),
            since,
        };
        match ledger.claim(host, ip, claim).await {
            Ok(true) => return Shared::Contact,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(%host, %ip, error = %e, "cannot claim the server in the session ledger: contacting it anyway");
                return Shared::Contact;
            }
        }
        // Another instance contacts it now: wait for its result, at most as long as a claim.
        let deadline = tokio::time::Instant::now() + Duration::from_millis(lease as u64);
        let mut pause = POLL_FIRST;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep_until((tokio::time::Instant::now() + pause).min(deadline)).await;
            pause = (pause * 2).min(POLL_MAX);
            if let Some(raw) = self.ledger_recent(ledger, host, ip, since).await {
                return Shared::Session(raw);
            }
        }
        tracing::info!(%host, %ip, "another instance's claim ran out without a session: contacting the server");
        Shared::Contact
    }

    /// A session with `host` at `ip` from the ledger stored at `since` or later, kept in this
    /// instance's memory too; `None` also when the ledger fails (logged).
    async fn ledger_recent(
        &self,
        ledger: &dyn SessionLedger,
        host: &str,
        ip: IpAddr,
        since: i64,
    ) -> Option<RawEndpoint> {
        match ledger.recent(host, ip, since).await {
            Ok(found) => {
                let raw = decode(&found?)?;
                lock(&self.inner.recent).put((host.to_string(), ip), raw.clone());
                Some(raw)
            }
            Err(e) => {
                tracing::warn!(%host, %ip, error = %e, "cannot read the session ledger");
                None
            }
        }
    }

    /// Puts this instance's session with `host` at `ip` in the ledger, if there is one; a
    /// failure is logged.
    pub(super) async fn share_session(&self, host: &str, ip: IpAddr, raw: &RawEndpoint) {
        let Some(ledger) = self.ledger() else {
            return;
        };
        if let Err(e) = ledger.put(host, ip, now_ms(), &encode(raw)).await {
            tracing::warn!(%host, %ip, error = %e, "cannot store the session in the session ledger");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::facts::{Failure, TlsFailureFacts};

    #[test]
    fn sessions_read_back_as_they_were() {
        for raw in [
            RawEndpoint::Failed(Failure::Temporary("connect: refused".into())),
            RawEndpoint::Session {
                starttls_offered: true,
                ehlo_refused: Some("502 no".into()),
                tls: None,
                tls_failure: Some(TlsFailureFacts::Timeout),
            },
        ] {
            assert_eq!(decode(&encode(&raw)), Some(raw));
        }
    }

    #[test]
    fn another_version_or_shape_is_no_session() {
        let raw = RawEndpoint::Failed(Failure::Bogus("x".into()));
        let text = encode(&raw);
        assert!(text.starts_with(r#"{"v":1,"#), "{text}");
        assert_eq!(decode(&text.replace(r#""v":1"#, r#""v":2"#)), None);
        assert_eq!(decode(r#"{"v":1,"session":{"failed":{"odd":"x"}}}"#), None);
        assert_eq!(decode("not json"), None);
    }
}
