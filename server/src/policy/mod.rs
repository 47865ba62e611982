//! The policy: pure functions from what was observed, and what is remembered, to every
//! decision Sendguard makes. One judgement, many views:
//!
//! - [`judge`] turns the facts of one probe or delivery into a [`DomainJudgement`]: the only
//!   place where an endpoint's level, outcome and block cause are decided (`judge.rs`, each rule
//!   with its RFC);
//! - [`transition`] computes what a judgement changes in the memory (floors, holds) and
//!   [`release`] what an administrator's release changes (`transition.rs`, Remember-TLS:
//!   holds only for what belongs to the server, and raising them rate-limited per server by
//!   [`SETTLE_AFTER_RELEASE`], without ever letting a server below its floor get mail);
//! - [`view::verdict`] makes the wire verdict the badge and the tooltip show, with holds
//!   applied (`view.rs`); the English technical reasons are put into words in `reason.rs`;
//! - `sts.rs` says what an MTA-STS policy means for the judgement (RFC 8461: enforce mode rules
//!   out MX hosts it does not name, testing mode is only reported, DANE comes first), and
//!   [`ReportPolicy`] which policy a delivery was made under (RFC 8460, for TLS reporting);
//! - [`enforcement`] says how a delivery to a server must be protected (`enforcement.rs`), and
//!   [`plan`] what a delivery to a domain does now, read from the verdict (`plan.rs`).
//!
//! Nothing here touches the network, the clock or the database: the probe gathers the facts,
//! the store loads the prior state and persists what these functions return.

mod enforcement;
mod judge;
mod plan;
pub mod reason;
mod sts;
mod transition;
pub mod view;

pub use enforcement::{Enforcement, enforcement, permits};
pub use judge::{
    DomainJudgement, EndpointJudgement, HostJudgement, Level, MxJudgement, Outcome, TlsaDemand,
    class_of, judge,
};
pub use plan::{DomainPlan, HostPlan, plan};
pub use sts::{StsApplied, StsState};
pub use transition::{
    HeldLevel, HoldKey, HostRecord, HostState, NewHold, OpenHold, Prior, Release,
    SETTLE_AFTER_RELEASE, Transition, downgrade_reason, release, transition,
};
