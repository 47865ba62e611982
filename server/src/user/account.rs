//! The signed-in user (a single configured user until authentication exists) and the sender
//! addresses the From selector offers: each address, followed by its secure alias
//! `local@secure.<domain>` when secure sending is on. Values follow RFC 5322 §3.4
//! (`Name <local@domain>`), restricted to what a configuration needs; the address itself is
//! checked by the parser the compose page uses too ([`sendguard_common::address`]).

use sendguard_common::address::{Address, AddressError};
use sendguard_common::{Account, SecureMode, SecureSendingSettings, SenderAddress};

/// The user when none is configured.
pub const DEFAULT_ACCOUNT: &str = "Maxima Mustermann <maxima.mustermann@sendguard.example>";
/// The settings key of the single user.
pub const DEFAULT_USER: &str = "default";

/// Why an `--account` value is unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    /// Not `Name <local@domain>` or `local@domain`.
    #[error("{0:?} is not \"Name <local@domain>\" or \"local@domain\"")]
    Malformed(String),
    /// The address is not valid ([`sendguard_common::address`]).
    #[error("{value:?}: {reason}")]
    BadAddress {
        /// The value as given.
        value: String,
        /// The rule it breaks.
        reason: AddressError,
    },
    /// No address at all.
    #[error("no account address given")]
    Empty,
}

/// The configured user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountConfig {
    /// Display name.
    pub name: String,
    /// Addresses, lower-cased domain.
    pub addresses: Vec<String>,
}

impl Default for AccountConfig {
    fn default() -> Self {
        AccountConfig::parse(&[DEFAULT_ACCOUNT.to_string()]).unwrap_or(AccountConfig {
            name: String::new(),
            addresses: Vec::new(),
        })
    }
}

impl AccountConfig {
    /// From `--account` values: each `Name <address>` or `address`; the first name counts.
    pub fn parse(values: &[String]) -> Result<AccountConfig, AccountError> {
        let mut name = None;
        let mut addresses = Vec::new();
        for v in values {
            let (n, a) = parse_one(v)?;
            if name.is_none() {
                name = n;
            }
            if !addresses.contains(&a) {
                addresses.push(a);
            }
        }
        if addresses.is_empty() {
            return Err(AccountError::Empty);
        }
        let name = name.unwrap_or_else(|| addresses[0].clone());
        Ok(AccountConfig { name, addresses })
    }

    /// From `--account` values, the default account when there are none.
    pub fn from_values(values: &[String]) -> Result<AccountConfig, AccountError> {
        if values.is_empty() {
            Ok(AccountConfig::default())
        } else {
            AccountConfig::parse(values)
        }
    }

    /// The account as the From selector shows it under `settings`.
    pub fn account(&self, settings: &SecureSendingSettings) -> Account {
        let mut addresses = Vec::new();
        for a in &self.addresses {
            addresses.push(SenderAddress {
                address: a.clone(),
                secure: false,
            });
            if settings.mode != SecureMode::Off
                && let Some(alias) = secure_alias(a)
            {
                addresses.push(SenderAddress {
                    address: alias,
                    secure: true,
                });
            }
        }
        Account {
            name: self.name.clone(),
            addresses,
        }
    }
}

/// `local@secure.<domain>` for `local@domain`; `None` when it already is one, or when
/// `address` is not an address or the alias would be too long to be one.
pub fn secure_alias(address: &str) -> Option<String> {
    let address = Address::parse(address).ok()?;
    let domain = address.domain().as_str();
    if domain.starts_with("secure.") {
        return None;
    }
    let alias = format!("{}@secure.{domain}", address.local());
    Address::parse(&alias).ok().map(|a| a.to_string())
}

/// One `--account` value: the display name is split off here (optionally quoted, no escapes:
/// a configuration needs no more), the address is checked by the shared parser.
fn parse_one(value: &str) -> Result<(Option<String>, String), AccountError> {
    let v = value.trim();
    let (name, address) = match (v.find('<'), v.ends_with('>')) {
        (Some(open), true) => {
            let name = v[..open].trim().trim_matches('"').trim();
            (
                (!name.is_empty()).then(|| name.to_string()),
                &v[open + 1..v.len() - 1],
            )
        }
        (None, false) => (None, v),
        _ => return Err(AccountError::Malformed(value.to_string())),
    };
    let address = Address::parse(address.trim()).map_err(|reason| AccountError::BadAddress {
        value: value.to_string(),
        reason,
    })?;
    Ok((name, address.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_user_and_aliases() {
        let config = AccountConfig::default();
        assert_eq!(config.name, "Maxima Mustermann");
        let off = config.account(&SecureSendingSettings::default());
        assert_eq!(off.addresses.len(), 1);
        let on = config.account(&SecureSendingSettings {
            mode: SecureMode::On,
            ..Default::default()
        });
        assert_eq!(
            on.addresses,
            [
                SenderAddress {
                    address: "maxima.mustermann@sendguard.example".into(),
                    secure: false
                },
                SenderAddress {
                    address: "maxima.mustermann@secure.sendguard.example".into(),
                    secure: true
                },
            ]
        );
    }

    #[test]
    fn several_addresses_and_bad_values() {
        let c = AccountConfig::parse(&[
            "\"Erika M\" <erika@Example.ORG>".into(),
            "erika@other.example".into(),
        ])
        .unwrap();
        assert_eq!(c.name, "Erika M");
        assert_eq!(c.addresses, ["erika@example.org", "erika@other.example"]);
        for bad in ["nobody", "Name <x@y.z", "<@x.y>", "a b@c.d", "x@nodot"] {
            assert!(AccountConfig::parse(&[bad.into()]).is_err(), "{bad}");
        }
        assert_eq!(AccountConfig::parse(&[]), Err(AccountError::Empty));
    }

    #[test]
    fn addresses_follow_the_shared_rules() {
        let err = |v: &str| AccountConfig::parse(&[v.into()]).unwrap_err();
        assert_eq!(
            err("Erika <erika@under_score.example>"),
            AccountError::BadAddress {
                value: "Erika <erika@under_score.example>".into(),
                reason: AddressError::Domain(sendguard_common::address::DomainError::BadCharacter),
            }
        );
        assert_eq!(
            err(".erika@example.org").to_string(),
            "\".erika@example.org\": the part before the @ is not valid"
        );
        assert_eq!(
            err("x@nodot").to_string(),
            "\"x@nodot\": a domain needs at least one dot"
        );
        let c = AccountConfig::parse(&["jörg@Bücher.example".into()]).unwrap();
        assert_eq!(c.addresses, ["jörg@bücher.example"]);
        // An alias that would exceed 254 octets is not offered.
        let long = format!("{}@{}.example", "a".repeat(64), "d".repeat(63));
        assert!(secure_alias(&long).is_some());
        let longest = format!(
            "{}@{}.{}.{}",
            "a".repeat(64),
            "d".repeat(63),
            "d".repeat(63),
            "d".repeat(61)
        );
        assert_eq!(secure_alias(&longest), None);
    }
}
