//! Domain names as the lookups take them: internationalised names converted to A-labels with
//! UTS #46 (IDNA2008 with the compatibility mapping, RFC 5891 §4), lower-case, no trailing dot.
//!
//! Everything that reaches the DNS goes through here first, so the MX, address and TLSA
//! lookups only ever see ASCII names (RFC 6531 §3.2: the domain of an SMTPUTF8 address is
//! looked up in its A-label form).

use super::DnsError;
use crate::dns::Name;

/// Convert a domain (as typed, possibly with non-ASCII labels) to its lower-case A-label form
/// without a trailing dot, e.g. `bücher.example` → `xn--bcher-kva.example`.
///
/// Uses the strict UTS #46 profile: STD3 ASCII rules (letters, digits and hyphens only),
/// hyphen placement checks and the DNS length limits (labels ≤ 63, name ≤ 253 octets).
/// Anything else is a [`DnsError::Permanent`] that names the input.
pub fn to_a_label(domain: &str) -> Result<String, DnsError> {
    let trimmed = domain.trim();
    // One trailing dot means "fully qualified"; we always are, so drop it.
    let without_dot = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if without_dot.is_empty() {
        return Err(DnsError::Permanent(format!(
            "invalid domain {domain:?}: the name is empty"
        )));
    }
    if without_dot.split('.').any(str::is_empty) {
        return Err(DnsError::Permanent(format!(
            "invalid domain {domain:?}: empty label"
        )));
    }
    // idna's error type carries no detail worth showing ("Errors"), so say what it checks.
    let ascii = idna::domain_to_ascii_strict(without_dot).map_err(|_| {
        DnsError::Permanent(format!(
            "invalid domain {domain:?}: not a valid host name (letters, digits and inner \
             hyphens, IDNA 2008/UTS 46 for other scripts)"
        ))
    })?;
    if ascii.is_empty() || ascii.split('.').any(str::is_empty) {
        return Err(DnsError::Permanent(format!(
            "invalid domain {domain:?}: empty label"
        )));
    }
    Ok(ascii.to_ascii_lowercase())
}

/// The fully qualified [`Name`] of an A-label domain, so the resolver never applies a search
/// list. Rejects what hickory cannot represent as a [`DnsError::Permanent`].
pub(crate) fn fqdn(domain: &str) -> Result<Name, DnsError> {
    let domain = domain.trim_end_matches('.');
    if domain.is_empty() {
        return Err(DnsError::Permanent("empty domain name".into()));
    }
    if !domain.is_ascii() {
        return Err(DnsError::Permanent(format!(
            "{domain:?} is not an A-label name; convert it with to_a_label first"
        )));
    }
    Name::from_ascii(format!("{domain}."))
        .map_err(|err| DnsError::Permanent(format!("invalid domain name {domain:?}: {err}")))
}

/// A name as this module hands it out: lower-case ASCII, no trailing dot (`""` for the root).
pub(crate) fn display(name: &Name) -> String {
    name.to_lowercase()
        .to_ascii()
        .trim_end_matches('.')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_labels_become_a_labels() {
        assert_eq!(
            to_a_label("bücher.example").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(
            to_a_label("Bücher.Example.").unwrap(),
            "xn--bcher-kva.example"
        );
        assert_eq!(to_a_label("MX.Example.COM").unwrap(), "mx.example.com");
    }

    #[test]
    fn invalid_names_are_rejected() {
        for bad in [
            "",
            ".",
            "a..example",
            "-leading-hyphen.example",
            "under_score.example",
            "space in.example",
            "xn--.example",
            &format!("{}.example", "a".repeat(64)),
        ] {
            let err = to_a_label(bad).expect_err(bad);
            assert!(matches!(err, DnsError::Permanent(_)), "{bad}: {err}");
            assert!(!err.is_temporary());
        }
    }

    #[test]
    fn fqdn_is_fully_qualified_and_ascii_only() {
        let name = fqdn("mx1.example").unwrap();
        assert!(name.is_fqdn());
        assert_eq!(display(&name), "mx1.example");
        assert!(fqdn("bücher.example").is_err());
        assert!(fqdn("").is_err());
    }
}
