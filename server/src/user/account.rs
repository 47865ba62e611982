//! The signed-in user (a single configured user until authentication exists) and the sender
//! addresses the From selector offers: each address, followed by its secure alias
//! `local@secure.<domain>` when secure sending is on. Addresses follow RFC 5322 §3.4
//! (`Name <local@domain>`), restricted to what a configuration needs.

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

/// `local@secure.<domain>` for `local@domain`; `None` when it already is one.
pub fn secure_alias(address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@')?;
    if domain.starts_with("secure.") {
        return None;
    }
    Some(format!("{local}@secure.{domain}"))
}

fn parse_one(value: &str) -> Result<(Option<String>, String), AccountError> {
    let bad = || AccountError::Malformed(value.to_string());
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
        _ => return Err(bad()),
    };
    let address = address.trim();
    let (local, domain) = address.rsplit_once('@').ok_or_else(bad)?;
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_graphic() && !"<>()[]\\,;:@\"".contains(c))
    };
    if !plain(local) || !plain(domain) || !domain.contains('.') || local.len() > 64 {
        return Err(bad());
    }
    Ok((name, format!("{local}@{}", domain.to_ascii_lowercase())))
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
}
