//! How a simulated SMTP peer treats the mail it is offered (RFC 5321 §4.2, §4.3.2): accept
//! everything (the default), refuse some recipients with `550`, or fail the first few
//! transactions at MAIL, at DATA or after the message, temporarily (`451`/`452`) or
//! permanently (`550`/`554`). Set with [`PeerBehaviour::Receiving`](super::PeerBehaviour),
//! which wraps any other behaviour; the transactions are counted per peer from the moment
//! the behaviour was set, over all its connections, so "fail the first two, then accept" is
//! deterministic for a client that retries. A transaction counts at its MAIL FROM, once
//! that is in order and well-formed (a declared SIZE within the limit included).

use sendguard_common::address::Address;

/// Where in a transaction a [`Failure`] is answered; the transaction ends there (the client
/// starts a new one with MAIL FROM, in the same session or another).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The reply to MAIL FROM.
    Mail,
    /// The reply to the DATA command itself, instead of `354`.
    Data,
    /// The reply after the terminating `.`, the message read and not kept.
    EndOfData,
}

/// Whether a failure invites a retry (4xx) or not (5xx), RFC 5321 §4.2.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// A 4xx reply: try again later.
    Temporary,
    /// A 5xx reply: do not try again.
    Permanent,
}

/// Fails the first `transactions` transactions (counted at each MAIL FROM that is in order
/// and well-formed) at `step`; every later one goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Where the failure is answered.
    pub step: Step,
    /// 4xx or 5xx.
    pub severity: Severity,
    /// How many transactions fail; `usize::MAX` for all.
    pub transactions: usize,
}

impl Failure {
    /// The reply line (CRLF included) for this failure.
    pub(super) fn reply(&self) -> &'static str {
        match (self.step, self.severity) {
            (Step::Mail, Severity::Temporary) => "451 4.3.0 Try again later\r\n",
            (Step::Mail, Severity::Permanent) => "550 5.7.1 Sender refused\r\n",
            (Step::Data, Severity::Temporary) => "451 4.3.0 Cannot take data now\r\n",
            (Step::Data, Severity::Permanent) => "554 5.3.0 Transaction failed\r\n",
            (Step::EndOfData, Severity::Temporary) => "451 4.3.0 Message not kept, try again\r\n",
            (Step::EndOfData, Severity::Permanent) => "554 5.6.0 Message refused\r\n",
        }
    }
}

/// What a peer does with the mail it is offered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reception {
    /// Recipients refused at RCPT TO with `550 5.1.1` (compared as parsed addresses).
    pub reject_rcpt: Vec<Address>,
    /// A failure of the first transactions, if any.
    pub failure: Option<Failure>,
}

impl Reception {
    /// Accepts everything: the default.
    pub fn accept() -> Reception {
        Reception::default()
    }

    /// Refuses these recipients with `550`, accepts the rest.
    pub fn rejecting(recipients: impl IntoIterator<Item = Address>) -> Reception {
        Reception {
            reject_rcpt: recipients.into_iter().collect(),
            failure: None,
        }
    }

    /// Fails the first `transactions` transactions at `step` with a 4xx, then accepts.
    pub fn temporary_failures(step: Step, transactions: usize) -> Reception {
        Reception {
            reject_rcpt: Vec::new(),
            failure: Some(Failure {
                step,
                severity: Severity::Temporary,
                transactions,
            }),
        }
    }

    /// Fails every transaction at `step` with a 5xx.
    pub fn permanent_failure(step: Step) -> Reception {
        Reception {
            reject_rcpt: Vec::new(),
            failure: Some(Failure {
                step,
                severity: Severity::Permanent,
                transactions: usize::MAX,
            }),
        }
    }

    /// Whether RCPT TO for `address` is refused.
    pub(super) fn refuses(&self, address: &str) -> bool {
        Address::parse(address).is_ok_and(|a| self.reject_rcpt.contains(&a))
    }

    /// The failure for the transaction that is the `index`-th (from 0) since the behaviour
    /// was set, if it fails.
    pub(super) fn failure_of(&self, index: usize) -> Option<Failure> {
        self.failure.filter(|f| index < f.transactions)
    }
}
