//! The configuration file's shape (TOML 1.0, <https://toml.io/en/v1.0.0>): one table per concern,
//! each key standing for exactly one `SENDGUARD_*` environment variable of the command line.
//! Unknown sections and keys are refused, so a misspelt key is an error rather than ignored.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One key of the file, with the environment variable it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `section.key`, as written in the file.
    pub key: &'static str,
    /// The environment variable (and so the command-line option) it sets.
    pub env: &'static str,
    /// The value as the environment variable would carry it; `None` when the file omits it.
    pub value: Option<String>,
}

/// A value as an environment variable carries it.
pub trait EnvValue {
    /// The text clap parses from the variable.
    fn env_value(&self) -> String;
}

macro_rules! plain_env_value {
    ($($t:ty),*) => {$(
        impl EnvValue for $t {
            fn env_value(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
plain_env_value!(String, u16, u32, u64, bool);

impl EnvValue for PathBuf {
    fn env_value(&self) -> String {
        self.display().to_string()
    }
}

/// A list whose variable separates items with commas (`value_delimiter = ','`).
impl EnvValue for Vec<String> {
    fn env_value(&self) -> String {
        self.join(",")
    }
}

/// A list whose items may contain commas (display names): one item per line in the variable.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Lines(pub Vec<String>);

impl EnvValue for Lines {
    fn env_value(&self) -> String {
        self.0.join("\n")
    }
}

/// Declares a section: a struct of optional keys (each documented, each naming its variable)
/// and the list of its [`Entry`]s.
macro_rules! section {
    ($(#[$sdoc:meta])* $name:ident = $section:literal {
        $( $(#[$doc:meta])* $field:ident : $ty:ty => $env:literal, )*
    }) => {
        $(#[$sdoc])*
        #[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$doc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )*
        }

        impl $name {
            /// The section's keys, set or not.
            pub fn entries(&self) -> Vec<Entry> {
                vec![$(Entry {
                    key: concat!($section, ".", stringify!($field)),
                    env: $env,
                    value: self.$field.as_ref().map(EnvValue::env_value),
                }),*]
            }
        }
    };
}

section! {
    /// `[listen]`: where the page and the API are served, and how (HTTPS).
    Listen = "listen" {
        /// `--listen`.
        address: String => "SENDGUARD_LISTEN",
        /// `--public-host`.
        public_hosts: Vec<String> => "SENDGUARD_PUBLIC_HOST",
        /// `--tls-cert`.
        tls_cert: PathBuf => "SENDGUARD_TLS_CERT",
        /// `--tls-key`.
        tls_key: PathBuf => "SENDGUARD_TLS_KEY",
        /// `--tls-self-signed`.
        tls_self_signed: bool => "SENDGUARD_TLS_SELF_SIGNED",
        /// `--behind-proxy`.
        behind_proxy: bool => "SENDGUARD_BEHIND_PROXY",
        /// `--rate-per-client`.
        rate_per_client: u32 => "SENDGUARD_RATE_PER_CLIENT",
        /// `--rate-per-session`.
        rate_per_session: u32 => "SENDGUARD_RATE_PER_SESSION",
    }
}

section! {
    /// `[database]`: where Sendguard remembers, and for how long.
    Database = "database" {
        /// `--database` (a file path, or a `postgres://` URL).
        path: String => "SENDGUARD_DATABASE",
        /// `--database-pool`.
        pool: u32 => "SENDGUARD_DATABASE_POOL",
        /// `--keep-observations`.
        keep_observations_days: u32 => "SENDGUARD_KEEP_OBSERVATIONS",
    }
}

section! {
    /// `[resolver]`: the validating DNS resolver and the DNSSEC trust anchor.
    Resolver = "resolver" {
        /// `--dns-resolver`.
        address: String => "SENDGUARD_DNS_RESOLVER",
        /// `--trust-anchor`.
        trust_anchor: PathBuf => "SENDGUARD_TRUST_ANCHOR",
        /// `--nat64-prefix`.
        nat64_prefixes: Vec<String> => "SENDGUARD_NAT64_PREFIXES",
        /// `--resolver-check-secure`.
        check_secure: String => "SENDGUARD_RESOLVER_CHECK_SECURE",
        /// `--resolver-check-bogus`.
        check_bogus: String => "SENDGUARD_RESOLVER_CHECK_BOGUS",
        /// `--resolver-check-interval`.
        check_interval_seconds: u64 => "SENDGUARD_RESOLVER_CHECK_INTERVAL",
    }
}

section! {
    /// `[probing]`: how recipient servers are contacted, and how often.
    Probing = "probing" {
        /// `--smtp-port`.
        smtp_port: u16 => "SENDGUARD_SMTP_PORT",
        /// `--helo-name`.
        helo_name: String => "SENDGUARD_HELO_NAME",
        /// `--extra-roots`.
        extra_roots: PathBuf => "SENDGUARD_EXTRA_ROOTS",
        /// `--mta-sts-port` (tests only).
        mta_sts_port: u16 => "SENDGUARD_MTA_STS_PORT",
        /// `--allow-private-targets`.
        allow_private_targets: bool => "SENDGUARD_ALLOW_PRIVATE_TARGETS",
        /// `--verdict-max-age`.
        verdict_max_age_seconds: u64 => "SENDGUARD_VERDICT_MAX_AGE",
        /// `--min-reprobe-interval`.
        min_reprobe_interval_seconds: u64 => "SENDGUARD_MIN_REPROBE_INTERVAL",
    }
}

section! {
    /// `[delivery]`: retries, the worker, and relay mode.
    Delivery = "delivery" {
        /// `--retry-schedule`.
        retry_schedule: String => "SENDGUARD_RETRY_SCHEDULE",
        /// `--max-queue-age`.
        max_queue_age: String => "SENDGUARD_MAX_QUEUE_AGE",
        /// `--delivery-poll`.
        poll: String => "SENDGUARD_DELIVERY_POLL",
        /// `--delivery-lease`.
        lease: String => "SENDGUARD_DELIVERY_LEASE",
        /// `--relay`.
        relay: String => "SENDGUARD_RELAY",
        /// `--relay-user`.
        relay_user: String => "SENDGUARD_RELAY_USER",
        /// `--relay-password-file`.
        relay_password_file: PathBuf => "SENDGUARD_RELAY_PASSWORD_FILE",
        /// `--relay-ca`.
        relay_ca: PathBuf => "SENDGUARD_RELAY_CA",
        /// `--shutdown-grace`.
        shutdown_grace_seconds: u64 => "SENDGUARD_SHUTDOWN_GRACE",
    }
}

section! {
    /// `[postfix]`: the services for the MTA beside Sendguard.
    Postfix = "postfix" {
        /// `--tls-policy`.
        tls_policy: String => "SENDGUARD_TLS_POLICY",
        /// `--policy-service`.
        policy_service: String => "SENDGUARD_POLICY_SERVICE",
        /// `--maillog`.
        maillog: String => "SENDGUARD_MAILLOG",
    }
}

section! {
    /// `[tlsrpt]`: the SMTP TLS reports Sendguard sends (RFC 8460).
    TlsRpt = "tlsrpt" {
        /// `--tlsrpt`.
        enabled: bool => "SENDGUARD_TLSRPT",
        /// `--tlsrpt-org`.
        organization: String => "SENDGUARD_TLSRPT_ORG",
        /// `--tlsrpt-from`.
        from: String => "SENDGUARD_TLSRPT_FROM",
        /// `--tlsrpt-contact`.
        contact: String => "SENDGUARD_TLSRPT_CONTACT",
        /// `--tlsrpt-interval`.
        interval_seconds: u64 => "SENDGUARD_TLSRPT_INTERVAL",
    }
}

section! {
    /// `[accounts]`: who administers, and the user of a single-user setup.
    Accounts = "accounts" {
        /// `--admin-token`.
        admin_token: String => "SENDGUARD_ADMIN_TOKEN",
        /// `--account`.
        account: Lines => "SENDGUARD_ACCOUNT",
    }
}

section! {
    /// `[alerts]`: where new holds are announced.
    Alerts = "alerts" {
        /// `--alert-webhook`.
        webhook: String => "SENDGUARD_ALERT_WEBHOOK",
    }
}

section! {
    /// `[log]`: how the log is written.
    Log = "log" {
        /// `--log-format`.
        format: String => "SENDGUARD_LOG_FORMAT",
    }
}

/// The whole file: every section optional, nothing else allowed.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// `[listen]`.
    #[serde(default)]
    pub listen: Listen,
    /// `[database]`.
    #[serde(default)]
    pub database: Database,
    /// `[resolver]`.
    #[serde(default)]
    pub resolver: Resolver,
    /// `[probing]`.
    #[serde(default)]
    pub probing: Probing,
    /// `[delivery]`.
    #[serde(default)]
    pub delivery: Delivery,
    /// `[postfix]`.
    #[serde(default)]
    pub postfix: Postfix,
    /// `[tlsrpt]`.
    #[serde(default)]
    pub tlsrpt: TlsRpt,
    /// `[accounts]`.
    #[serde(default)]
    pub accounts: Accounts,
    /// `[alerts]`.
    #[serde(default)]
    pub alerts: Alerts,
    /// `[log]`.
    #[serde(default)]
    pub log: Log,
}

impl ConfigFile {
    /// Every key of the file, in the file's order, set or not.
    pub fn entries(&self) -> Vec<Entry> {
        [
            self.listen.entries(),
            self.database.entries(),
            self.resolver.entries(),
            self.probing.entries(),
            self.delivery.entries(),
            self.postfix.entries(),
            self.tlsrpt.entries(),
            self.accounts.entries(),
            self.alerts.entries(),
            self.log.entries(),
        ]
        .concat()
    }
}

/// Keys whose value is a secret: `config check` never prints them (the relay password is never
/// in the file, only the name of the file holding it, and that file is never read by `check`).
pub const SECRET_KEYS: &[&str] = &["accounts.admin_token"];

/// Keys whose value may carry credentials in a URL (`http://user:password@host/`): printed
/// with the user information masked.
pub const URL_KEYS: &[&str] = &["alerts.webhook"];
