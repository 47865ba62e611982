//! The delivery options of `serve`, `demo` and `send --wait`, and the deliverer they make: the
//! retry schedule (RFC 5321 §4.5.4.1), how long a message may stay queued, and how often the
//! worker looks for due retries.

use std::time::Duration;

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
    /// for sending a message.
    pub fn deliverer(&self, verdicts: &Verdicts) -> Deliverer {
        let mut smtp = verdicts.prober().smtp_config().clone();
        smtp.session_timeout = smtp.session_timeout.max(DELIVERY_SESSION_TIMEOUT);
        Deliverer::new(verdicts.clone(), smtp, self.schedule())
    }
}
