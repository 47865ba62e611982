//! Passwords: hashed with argon2id (RFC 9106) at the argon2 crate's defaults (19 MiB, two
//! passes, one lane: OWASP's minimum for argon2id), a random 16-byte salt per hash, stored as a
//! PHC string. Checked in constant time by the crate. Hashing is slow on purpose: callers on an
//! async runtime run it with `spawn_blocking`. A password is never logged or stored in clear.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 10;
/// The longest (in bytes): hashing work must not be the client's choice.
pub const MAX_LENGTH: usize = 1024;

/// Why a password cannot be set.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Fewer than [`MIN_LENGTH`] characters.
    #[error("the password is too short: at least {MIN_LENGTH} characters")]
    TooShort,
    /// More than [`MAX_LENGTH`] bytes.
    #[error("the password is too long: at most {MAX_LENGTH} bytes")]
    TooLong,
    /// The hasher failed (it does not, for valid parameters).
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

/// The PHC string of a new hash of `password`.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_LENGTH {
        return Err(PasswordError::TooLong);
    }
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored `phc` hash; false for a damaged hash or a password
/// beyond [`MAX_LENGTH`].
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_LENGTH {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Spends the time of one [`verify`] without an account to check, so that a sign-in for a
/// name that does not exist takes as long as one with a wrong password.
pub fn verify_nobody(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("no account has this password").unwrap_or_default());
    let _ = verify(password, phc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("correct horse battery", "not a hash"));
        // Salted: the same password hashes differently.
        assert_ne!(h, hash("correct horse battery").unwrap());
        verify_nobody("anything");
    }

    #[test]
    fn lengths_are_bounded() {
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
        assert_eq!(
            hash(&"x".repeat(MAX_LENGTH + 1)),
            Err(PasswordError::TooLong)
        );
        assert!(hash("ünïcödé pässwörd").is_ok(), "counted in characters");
        let h = hash("correct horse battery").unwrap();
        assert!(!verify(&"x".repeat(MAX_LENGTH + 1), &h));
    }
}
