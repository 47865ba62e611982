//! The rules for users kept in the database ([`crate::store::users`]): login names, their
//! sender addresses (checked by the shared address parser; a secure alias is never stored, it
//! follows from the settings), and the account the From selector offers a user.

use sendguard_common::address::{Address, AddressError};

use crate::store::users::UserRecord;
use crate::user::account::AccountConfig;

/// The longest login name.
pub const MAX_LOGIN: usize = 64;

/// Why a user's name or address cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserError {
    /// Not 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
    #[error(
        "{0:?} is not a login name: 1 to {MAX_LOGIN} of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
    )]
    BadLogin(String),
    /// Not a mail address.
    #[error("{value:?}: {reason}")]
    BadAddress {
        /// As given.
        value: String,
        /// The rule it breaks.
        reason: AddressError,
    },
    /// A `secure.` address: it follows from the owner's address and settings.
    #[error(
        "{0} is a secure alias: it follows from the address without `secure.` and the settings"
    )]
    SecureAlias(String),
}

/// The login name as stored (lower-case), when `text` is one.
pub fn login_name(text: &str) -> Result<String, UserError> {
    let name = text.trim().to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= MAX_LOGIN
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(name)
    } else {
        Err(UserError::BadLogin(text.to_string()))
    }
}

/// The sender address as stored (the domain lower-case), when `text` is one a user may own.
pub fn sender_address(text: &str) -> Result<String, UserError> {
    let address = Address::parse(text.trim()).map_err(|reason| UserError::BadAddress {
        value: text.to_string(),
        reason,
    })?;
    if address.domain().as_str().starts_with("secure.") {
        return Err(UserError::SecureAlias(address.to_string()));
    }
    Ok(address.to_string())
}

impl From<&UserRecord> for AccountConfig {
    fn from(u: &UserRecord) -> AccountConfig {
        AccountConfig {
            name: u.display_name.clone(),
            addresses: u.addresses.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_names() {
        assert_eq!(login_name(" Maxima.M ").unwrap(), "maxima.m");
        assert_eq!(login_name("admin_2").unwrap(), "admin_2");
        for bad in [
            "",
            "-x",
            ".x",
            "a b",
            "ä",
            "x@y",
            &"a".repeat(MAX_LOGIN + 1),
        ] {
            assert!(login_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sender_addresses() {
        assert_eq!(
            sender_address("Erika@Example.ORG").unwrap(),
            "Erika@example.org"
        );
        assert!(matches!(
            sender_address("nobody"),
            Err(UserError::BadAddress { .. })
        ));
        assert_eq!(
            sender_address("erika@secure.example.org"),
            Err(UserError::SecureAlias("erika@secure.example.org".into()))
        );
    }
}
