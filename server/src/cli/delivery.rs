//! The delivery options of `serve`, `demo` and `send --wait`, and the deliverer they make: the
//! retry schedule (RFC 5321 §4.5.4.1), how long a message may stay queued, how often the
//! worker looks for due retries, and relay mode (`--relay`, the operator's submission service,
//! RFC 6409, with AUTH PLAIN per RFC 4954).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::delivery::relay::Relay;
use crate::smtp::Credentials;

use crate::delivery::attempt::Deliverer;
use crate::delivery::retry::{RetrySchedule, Waits, parse_duration};
use crate::delivery::worker::WorkerConfig;
use crate::verdicts::Verdicts;

/// How long one delivery session may take in all, greeting to QUIT (the message itself has
/// [`crate::smtp::DATA_TIMEOUT`] within it).
pub const DELIVERY_SESSION_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Options of delivery.
#[derive(Debug, Clone, clap::Args)]
pub struct DeliveryOptions {
    /// Waits before the 1st, 2nd, ... retry after a temporary failure; the last one repeats.
    #[arg(
        long,
        env = "SENDGUARD_RETRY_SCHEDULE",
        default_value = "5m,15m,1h,4h",
        value_name = "LIST"
    )]
    pub retry_schedule: Waits,
    /// A message still undelivered after this long in the queue fails (e.g. `5d`).
    #[arg(long, env = "SENDGUARD_MAX_QUEUE_AGE", default_value = "5d", value_parser = parse_duration, value_name = "DURATION")]
    pub max_queue_age: Duration,
    /// How often the worker looks for due retries (it wakes at once for new messages).
    #[arg(long, env = "SENDGUARD_DELIVERY_POLL", default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub delivery_poll: Duration,
    /// How long a recipient being delivered is leased to this instance; the worker renews it
    /// while it runs. Instances sharing a PostgreSQL database claim a dead instance's
    /// recipients once their lease ran out.
    #[arg(long, env = "SENDGUARD_DELIVERY_LEASE", default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub delivery_lease: Duration,
    /// Relay mode: hand every message to the operator's Postfix at HOST:PORT (its submission
    /// service, STARTTLS required, the certificate checked against HOST) instead of delivering
    /// to MX hosts; held and failed domains are still not sent.
    #[arg(long, env = "SENDGUARD_RELAY", value_parser = parse_relay, value_name = "HOST:PORT")]
    pub relay: Option<(String, u16)>,
    /// The relay's user for AUTH PLAIN (over TLS only); needs --relay-password-file.
    #[arg(long, env = "SENDGUARD_RELAY_USER", value_name = "NAME", requires_all = ["relay", "relay_password_file"])]
    pub relay_user: Option<String>,
    /// The file whose first line is the relay user's password.
    #[arg(
        long,
        env = "SENDGUARD_RELAY_PASSWORD_FILE",
        value_name = "FILE",
        requires = "relay_user"
    )]
    pub relay_password_file: Option<PathBuf>,
    /// PEM file of the CA (or certificate) that the relay's certificate must chain to, instead
    /// of the WebPKI roots.
    #[arg(
        long,
        env = "SENDGUARD_RELAY_CA",
        value_name = "FILE",
        requires = "relay"
    )]
    pub relay_ca: Option<PathBuf>,
}

impl DeliveryOptions {
    /// The retry schedule.
    pub fn schedule(&self) -> RetrySchedule {
        RetrySchedule {
            waits: self.retry_schedule.0.clone(),
            max_age: self.max_queue_age,
        }
    }

    /// The worker's settings.
    pub fn worker(&self) -> WorkerConfig {
        WorkerConfig {
            poll: self.delivery_poll.max(Duration::from_millis(100)),
            ..WorkerConfig::default()
        }
    }

    /// A deliverer through `verdicts`, with the probes' SMTP settings and a session limit fit
    /// for sending a message; in relay mode when `--relay` is given.
    pub fn deliverer(&self, verdicts: &Verdicts) -> anyhow::Result<Deliverer> {
        let mut smtp = verdicts.prober().smtp_config().clone();
        smtp.session_timeout = smtp.session_timeout.max(DELIVERY_SESSION_TIMEOUT);
        let deliverer = Deliverer::new(verdicts.clone(), smtp, self.schedule());
        Ok(match self.relay()? {
            Some(relay) => deliverer.with_relay(relay),
            None => deliverer,
        })
    }

    /// The relay, with its account, when `--relay` is given.
    pub fn relay(&self) -> anyhow::Result<Option<Relay>> {
        let Some((host, port)) = &self.relay else {
            return Ok(None);
        };
        let credentials = match (&self.relay_user, &self.relay_password_file) {
            (Some(user), Some(file)) => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("reading the relay password {}", file.display()))?;
                let password = text.lines().next().unwrap_or_default().to_string();
                anyhow::ensure!(
                    !password.is_empty(),
                    "the relay password file {} is empty",
                    file.display()
                );
                Some(Credentials {
                    user: user.clone(),
                    password,
                })
            }
            _ => None,
        };
        Ok(Some(Relay::new(
            host,
            *port,
            self.relay_ca.as_deref(),
            credentials,
        )?))
    }
}

/// `HOST:PORT`, `[IPv6]:PORT` too; the host is the name the relay's certificate must carry.
fn parse_relay(s: &str) -> Result<(String, u16), String> {
    let bad = || format!("{s:?} is not HOST:PORT");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || host.contains(':') && s.starts_with(|c| c != '[') || port == 0 {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_addresses_are_host_and_port() {
        assert_eq!(
            parse_relay("mail.example.com:587"),
            Ok(("mail.example.com".into(), 587))
        );
        assert_eq!(parse_relay("[::1]:587"), Ok(("::1".into(), 587)));
        for bad in ["mail.example.com", ":587", "mail:0", "::1:587", "mail:x"] {
            assert!(parse_relay(bad).is_err(), "{bad}");
        }
    }
}
