//! Fuzzes the one address parser (`sendguard_common::address`, RFC 5321 §4.1.2 / RFC 1035
//! §2.3.1 rules) and the server's A-label conversion that runs on what it accepts.
//!
//! Properties beyond "no panic", for any UTF-8 input:
//! - what parses displays as text that parses again to the same value (parse → display →
//!   parse), and displaying is idempotent;
//! - an accepted address keeps the limits of RFC 5321 §4.5.3.1 (local part ≤ 64 octets, the
//!   address ≤ 254) and its parts are what a split at the last `@` gives;
//! - accepted names have no trailing dot, no ASCII upper case, no empty label, and ASCII names
//!   are at most 253 octets; a mail domain has two labels or more;
//! - whatever `sendguard::dns::to_a_label` makes of an accepted name is itself an ASCII host
//!   name that the parser accepts, and it converts to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sendguard_common::address::{
    Address, Domain, HostName, MAX_ADDRESS, MAX_DOMAIN, MAX_LOCAL_PART,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check_host_name(text);
    check_domain(text);
    check_address(text);
});

fn check_host_name(text: &str) {
    let Ok(host) = HostName::parse(text) else {
        return;
    };
    let shown = host.to_string();
    assert_eq!(shown, host.as_str());
    assert_eq!(HostName::parse(&shown).as_ref(), Ok(&host), "{text:?}");
    check_name_shape(&shown);
    check_a_label(&shown);
}

fn check_domain(text: &str) {
    let Ok(domain) = Domain::parse(text) else {
        return;
    };
    let shown = domain.to_string();
    assert_eq!(Domain::parse(&shown).as_ref(), Ok(&domain), "{text:?}");
    assert!(
        shown.contains('.'),
        "a mail domain has two labels: {text:?}"
    );
    // A mail domain is a host name with two labels or more, nothing else.
    assert_eq!(
        HostName::parse(text).map(HostName::into_string),
        Ok(shown.clone())
    );
    check_name_shape(&shown);
}

fn check_address(text: &str) {
    let Ok(addr) = Address::parse(text) else {
        return;
    };
    let shown = addr.to_string();
    let again = Address::parse(&shown).unwrap_or_else(|e| panic!("{text:?} -> {shown:?}: {e}"));
    assert_eq!(again, addr, "{text:?}");
    assert_eq!(again.to_string(), shown, "display is idempotent");
    assert!(addr.local().len() <= MAX_LOCAL_PART, "{text:?}");
    assert!(shown.len() <= MAX_ADDRESS, "{text:?} -> {shown:?}");
    let (local, domain) = text.rsplit_once('@').expect("an accepted address has an @");
    assert_eq!(addr.local(), local, "the local part is kept as given");
    assert_eq!(Domain::parse(domain).as_ref(), Ok(addr.domain()));
}

/// What every accepted name looks like after parsing.
fn check_name_shape(name: &str) {
    assert!(!name.is_empty());
    assert!(!name.ends_with('.'), "{name:?}");
    assert!(!name.bytes().any(|b| b.is_ascii_uppercase()), "{name:?}");
    assert!(!name.split('.').any(str::is_empty), "{name:?}");
    if name.is_ascii() {
        assert!(name.len() <= MAX_DOMAIN, "{name:?}");
    }
}

/// The server's IDNA conversion of an accepted name yields an accepted ASCII name again.
fn check_a_label(name: &str) {
    let Ok(ascii) = sendguard::dns::to_a_label(name) else {
        return;
    };
    let host = HostName::parse(&ascii)
        .unwrap_or_else(|e| panic!("{name:?} converts to {ascii:?}, not a host name: {e}"));
    assert!(host.is_ascii(), "{name:?} -> {ascii:?}");
    assert_eq!(host.as_str(), ascii, "{name:?}");
    assert_eq!(
        sendguard::dns::to_a_label(&ascii).as_deref().ok(),
        Some(ascii.as_str()),
        "an A-label name converts to itself"
    );
}
