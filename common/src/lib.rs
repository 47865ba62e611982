//! Wire types shared by the Sendguard browser app and server.
//!
//! Everything that crosses HTTP between the compose page and the backend is defined here once,
//! with serde only, so that the crate builds for `wasm32-unknown-unknown` as well as natively and
//! the two sides cannot drift apart. Enums travel in `snake_case`. The meaning of each security
//! class follows the project's protocol notes: a badge predicts the security of the delivery that
//! *our* server would perform now (RFC 7672 for DANE, RFC 3207 for STARTTLS).
//!
//! [`address`] is the one parser of mail addresses, domains and host names that both sides use.

pub mod address;
pub mod secure;

use serde::{Deserialize, Serialize};

/// URL paths of the HTTP API, shared so that client and server agree on them.
pub mod paths {
    /// `GET`: liveness and version of the server.
    pub const HEALTH: &str = "/api/health";
    /// `GET`: whether the server can do its work now (503 when not), naming what fails.
    pub const READY: &str = "/api/ready";
    /// `POST`: the security verdict of each of a list of recipient addresses.
    pub const RECIPIENT_SECURITY: &str = "/api/recipients/security";
    /// `GET` (server-sent events): verdicts of pending domains as their probes finish.
    pub const RECIPIENT_EVENTS: &str = "/api/recipients/events";
    /// `GET`: the signed-in user's name and sender addresses ([`super::Account`]).
    pub const ACCOUNT: &str = "/api/account";
    /// `GET`/`PUT`: the user's "Verschlüsselter Versand" settings ([`super::SecureSendingSettings`]).
    pub const SETTINGS: &str = "/api/settings";
    /// `GET`/`PUT`/`DELETE`: the user's saved draft ([`super::Draft`]). `GET` answers `null`
    /// when there is none; `PUT` answers the stored draft; `DELETE` answers 204.
    pub const DRAFT: &str = "/api/draft";
    /// `POST`: queue a message ([`super::SendRequest`]), answered with [`super::MessageView`]
    /// once it is stored durably. `GET`: the user's messages ([`super::MessageList`]).
    pub const MESSAGES: &str = "/api/messages";
    /// `GET /api/messages/{id}`: one message with its recipients ([`super::MessageView`]).
    pub const MESSAGE: &str = "/api/messages/{id}";
    /// `GET`: servers on hold with their evidence ([`super::HoldView`] list). Admin only.
    pub const ADMIN_HOLDS: &str = "/api/admin/holds";
    /// `POST /api/admin/holds/{host}/release`: accept the new level as the floor. Admin only.
    pub const ADMIN_RELEASE: &str = "/api/admin/holds/{host}/release";
    /// `POST /api/admin/holds/{host}/keep`: keep delivery to the server stopped. Admin only.
    pub const ADMIN_KEEP: &str = "/api/admin/holds/{host}/keep";
    /// `GET /api/admin/servers/{host}/observations`: a server's history. Admin only.
    pub const ADMIN_OBSERVATIONS: &str = "/api/admin/servers/{host}/observations";
    /// `POST`: sign in ([`super::SignIn`]), answered with [`super::SessionView`] and the session
    /// cookie. `GET`: the signed-in session, 401 without one. `DELETE`: sign out (204).
    pub const SESSION: &str = "/api/session";
    /// Header that carries the session's CSRF token on every state-changing request.
    pub const CSRF_HEADER: &str = "x-csrf-token";
    /// The session cookie.
    pub const SESSION_COOKIE: &str = "sendguard_session";
    /// Header that carries the administrator token (`Authorization: Bearer <token>` also works).
    pub const ADMIN_TOKEN_HEADER: &str = "x-sendguard-admin-token";

    /// [`MESSAGE`] for the message `id`.
    pub fn message(id: i64) -> String {
        MESSAGE.replace("{id}", &id.to_string())
    }

    /// A path template with its `{host}` filled in.
    pub fn with_host(template: &str, host: &str) -> String {
        template.replace("{host}", host)
    }
}

mod account;
mod history;
mod verdict;
pub use account::*;
pub use history::*;
pub use verdict::*;

/// `as_str` and `parse` for a wire enum: the same `snake_case` names serde uses (a test checks
/// that they agree), for storage columns and `data-` attributes without a JSON round trip.
macro_rules! wire_names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// The value of a wire name.
            pub fn parse(name: &str) -> Option<$ty> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

mod messages;
pub use messages::{
    DeliveryView, MessageList, MessageView, RecipientKind, RecipientState, RecipientView,
    SendRequest,
};

wire_names!(RecipientKind { To => "to", Cc => "cc", Bcc => "bcc" });
wire_names!(RecipientState {
    Queued => "queued",
    Sending => "sending",
    Sent => "sent",
    Deferred => "deferred",
    Held => "held",
    Failed => "failed",
});
wire_names!(HoldStatus { Held => "held", Released => "released", Kept => "kept" });
wire_names!(Role { User => "user", Admin => "admin" });
wire_names!(ObservationSource {
    Probe => "probe",
    Delivery => "delivery",
    Postfix => "postfix",
    Inbound => "inbound",
});
wire_names!(SecurityClass { NoSsl => "no_ssl", Unknown => "unknown", SslOk => "ssl_ok", DaneOk => "dane_ok" });
wire_names!(DaneStatus {
    Verified => "verified",
    Failed => "failed",
    None => "none",
    Insecure => "insecure",
    Bogus => "bogus",
    LookupFailed => "lookup_failed",
});
wire_names!(DnssecStatus {
    Secure => "secure",
    Insecure => "insecure",
    Bogus => "bogus",
    Indeterminate => "indeterminate",
});
wire_names!(UnsignedDns {
    MxRecords => "mx_records",
    MxDenial => "mx_denial",
    Addresses => "addresses",
    Tlsa => "tlsa",
});
wire_names!(BlockCause {
    OnHold => "on_hold",
    DaneMismatch => "dane_mismatch",
    DaneWithoutTls => "dane_without_tls",
    DnssecBogus => "dnssec_bogus",
    TlsaLookupFailed => "tlsa_lookup_failed",
    NullMx => "null_mx",
    NoSuchDomain => "no_such_domain",
    NoMailServer => "no_mail_server",
    HistoryUnavailable => "history_unavailable",
    ResolverNotValidating => "resolver_not_validating",
    MtaStsNoMatchingMx => "mta_sts_no_matching_mx",
    MtaStsFailed => "mta_sts_failed",
});

/// Answer of [`paths::HEALTH`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `"ok"` when the server answers at all.
    pub status: String,
    /// The server's version (its Cargo package version).
    pub version: String,
    /// `true` when the server runs against the simulated internet (`sendguard demo`).
    #[serde(default)]
    pub demo: bool,
    /// Domains of the simulated internet, for the demo's help text; empty otherwise.
    #[serde(default)]
    pub demo_domains: Vec<DemoDomain>,
}

/// Answer of [`paths::READY`] (status 200 when `ready`, else 503).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// Whether every check passes.
    pub ready: bool,
    /// The names of the checks that fail (keys of `checks`), empty when ready.
    pub failing: Vec<String>,
    /// Every check by name: `database`, `resolver`, `delivery`, `stopping`, and one per
    /// configured Postfix service (`postfix_tls_policy`, `postfix_policy_service`).
    pub checks: std::collections::BTreeMap<String, ReadinessCheck>,
}

/// One check of [`Readiness`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessCheck {
    /// Whether it passes.
    pub ok: bool,
    /// A short code saying why it fails (e.g. `broken_accepted`, `not_running`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The whole reason, with names, addresses and errors: for administrators only (a session
    /// with the admin role or the admin token), absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One domain of the simulated internet, with a short description of how it behaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoDomain {
    /// The domain name, e.g. `dane-ee.test`.
    pub domain: String,
    /// What its mail servers do, e.g. "DANE-EE TLSA record, signed zone".
    pub description: String,
}

/// The JSON body of every error answer of the API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// A short message for the user.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weakest_class_is_the_minimum() {
        let classes = [
            SecurityClass::DaneOk,
            SecurityClass::SslOk,
            SecurityClass::Unknown,
        ];
        assert_eq!(classes.iter().min(), Some(&SecurityClass::Unknown));
        assert!(SecurityClass::NoSsl < SecurityClass::Unknown);
    }

    #[test]
    fn classes_travel_in_snake_case() {
        let json = serde_json::to_string(&SecurityClass::DaneOk).unwrap();
        assert_eq!(json, "\"dane_ok\"");
        let back: SecurityClass = serde_json::from_str("\"no_ssl\"").unwrap();
        assert_eq!(back, SecurityClass::NoSsl);
    }

    #[test]
    fn encryption_line_has_the_seed_form() {
        let mx = MxReport {
            host: "mx.example".into(),
            preference: 10,
            addresses: vec![],
            starttls: Some(true),
            tls_version: Some("TLSv1.2".into()),
            cipher: Some("ECDHE-RSA-AES128-GCM-SHA256".into()),
            cipher_iana: None,
            bits: Some(128),
            dane: DaneStatus::None,
            unsigned: None,
            certificate: None,
            class: SecurityClass::SslOk,
            error: None,
            checked_at: None,
            on_hold: false,
            history: None,
            mta_sts_match: None,
        };
        assert_eq!(
            mx.encryption_line().as_deref(),
            Some("TLSv1.2, ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)")
        );
    }

    #[test]
    fn settings_default_to_off_with_tls_1_2_any_certificate() {
        let s = SecureSendingSettings::default();
        assert_eq!(s.mode, SecureMode::Off);
        let json = serde_json::to_value(s).unwrap();
        assert_eq!(json["mode"], "off");
        assert_eq!(json["sending"]["authentication"], "any_tls");
        assert_eq!(json["receiving"]["tls_version"], "tls12");
        assert_eq!(
            paths::with_host(paths::ADMIN_RELEASE, "mx.example"),
            "/api/admin/holds/mx.example/release"
        );
    }

    #[test]
    fn a_draft_may_omit_what_the_user_left_empty() {
        let draft: Draft = serde_json::from_str(r#"{"to":["a@b.example","kaputt"]}"#).unwrap();
        assert_eq!(draft.to, ["a@b.example", "kaputt"]);
        assert_eq!(draft.from, None);
        assert_eq!(draft.saved_at, 0);
        assert_eq!(paths::DRAFT, "/api/draft");
    }

    #[test]
    fn recipient_results_are_tagged_by_their_state() {
        let r = RecipientSecurity::Pending {
            address: "a@b.example".into(),
            domain: "b.example".into(),
        };
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["pending"]["domain"], "b.example");
        assert_eq!(
            serde_json::from_value::<RecipientSecurity>(json).unwrap(),
            r
        );
    }

    fn names_match_serde<T: Copy + Serialize + PartialEq + std::fmt::Debug>(
        all: &[T],
        as_str: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for &v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), as_str(v));
            assert_eq!(parse(as_str(v)), Some(v));
        }
        assert_eq!(parse("no such name"), None);
    }

    #[test]
    fn wire_names_match_serde() {
        names_match_serde(HoldStatus::ALL, HoldStatus::as_str, HoldStatus::parse);
        names_match_serde(Role::ALL, Role::as_str, Role::parse);
        names_match_serde(
            ObservationSource::ALL,
            ObservationSource::as_str,
            ObservationSource::parse,
        );
        names_match_serde(
            SecurityClass::ALL,
            SecurityClass::as_str,
            SecurityClass::parse,
        );
        names_match_serde(DaneStatus::ALL, DaneStatus::as_str, DaneStatus::parse);
        names_match_serde(DnssecStatus::ALL, DnssecStatus::as_str, DnssecStatus::parse);
        names_match_serde(BlockCause::ALL, BlockCause::as_str, BlockCause::parse);
        names_match_serde(UnsignedDns::ALL, UnsignedDns::as_str, UnsignedDns::parse);
        names_match_serde(
            RecipientKind::ALL,
            RecipientKind::as_str,
            RecipientKind::parse,
        );
        names_match_serde(
            RecipientState::ALL,
            RecipientState::as_str,
            RecipientState::parse,
        );
    }
}
