//! The TLSA record as the DNS layer returns it and the DANE layer matches it (RFC 6698 §2.1),
//! and the owner name DANE for SMTP looks it up at (RFC 7672 §2.2.1: `_25._tcp.<mx-host>`).

/// One TLSA record's fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsaRecord {
    /// Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 6698 §2.1.1).
    pub usage: u8,
    /// Selector: 0 full certificate, 1 SubjectPublicKeyInfo (RFC 6698 §2.1.2).
    pub selector: u8,
    /// Matching type: 0 exact, 1 SHA-256, 2 SHA-512 (RFC 6698 §2.1.3).
    pub matching: u8,
    /// Certificate association data.
    pub data: Vec<u8>,
}

impl TlsaRecord {
    /// Whether SMTP may use this record: only DANE-TA(2) and DANE-EE(3) (RFC 7672 §3.1.3),
    /// with a selector and matching type this implementation knows.
    pub fn is_usable_for_smtp(&self) -> bool {
        matches!(self.usage, 2 | 3) && self.selector <= 1 && self.matching <= 2
    }
}

/// The TLSA owner name for an SMTP server: port 25 always, whatever port a test listens on.
pub fn smtp_tlsa_name(mx_host: &str) -> String {
    format!("_25._tcp.{}", mx_host.trim_end_matches('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dane_usages_count_for_smtp() {
        let rec = |usage, selector, matching| TlsaRecord {
            usage,
            selector,
            matching,
            data: vec![],
        };
        assert!(rec(3, 1, 1).is_usable_for_smtp());
        assert!(rec(2, 0, 2).is_usable_for_smtp());
        assert!(!rec(1, 1, 1).is_usable_for_smtp());
        assert!(!rec(0, 1, 1).is_usable_for_smtp());
        assert!(!rec(3, 2, 1).is_usable_for_smtp());
        assert!(!rec(3, 1, 3).is_usable_for_smtp());
    }

    #[test]
    fn the_owner_name_uses_port_25() {
        assert_eq!(smtp_tlsa_name("mx.example."), "_25._tcp.mx.example");
    }
}
