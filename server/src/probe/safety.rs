//! Which addresses a probe may connect to. An MX record is attacker-controlled input: without
//! this check anyone could make Sendguard connect to its own loopback services or the
//! provider's internal network by typing a recipient address.
//!
//! Refused unless the operator allows private targets: the special-purpose ranges of the IANA
//! IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890) that are not globally reachable:
//! loopback, private (RFC 1918), shared/CGNAT (RFC 6598), link-local, multicast, documentation
//! (RFC 5737, RFC 3849), benchmarking (RFC 2544), reserved, unspecified and broadcast, IPv6
//! unique-local (RFC 4193) and discard-only (RFC 6666); IPv4-mapped and NAT64 (RFC 6052)
//! addresses are judged by the IPv4 address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address may not be probed, or `None` when it is a global unicast address.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "a \"this network\" address (0.0.0.0/8)",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_private() => "a private address (RFC 1918)",
        (100, 64..=127, _) => "a shared (CGNAT) address (RFC 6598)",
        _ if ip.is_link_local() => "a link-local address",
        (192, 0, 0) => "an IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address (RFC 5737)",
        (198, 18..=19, _) => "a benchmarking address (RFC 2544)",
        _ if ip.is_multicast() => "a multicast address",
        _ if ip.is_broadcast() => "the broadcast address",
        (240..=255, _, _) => "a reserved address (240.0.0.0/4)",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    let s = ip.segments();
    // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): judge the embedded IPv4 address.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return v4_reason(Ipv4Addr::new(a, b, c, d));
    }
    Some(match s[0] {
        _ if ip.is_unspecified() => "the unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_multicast() => "a multicast address",
        x if x & 0xfe00 == 0xfc00 => "a unique-local address (RFC 4193)",
        x if x & 0xffc0 == 0xfe80 => "a link-local address",
        0x2001 if s[1] == 0x0db8 => "a documentation address (RFC 3849)",
        0x0100 if s[1..4] == [0, 0, 0] => "a discard-only address (RFC 6666)",
        0 => "an IPv4-compatible or reserved address (::/8)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<&'static str> {
        forbidden_reason(s.parse().unwrap())
    }

    #[test]
    fn special_purpose_ipv4_is_refused() {
        for a in [
            "0.0.0.0",
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.1.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
        ] {
            assert!(reason(a).is_some(), "{a} must be refused");
        }
    }

    #[test]
    fn global_addresses_are_allowed() {
        for a in [
            "1.1.1.1",
            "80.241.60.212",
            "100.128.0.1",
            "172.32.0.1",
            "2a00:1450:4001::1",
        ] {
            assert_eq!(reason(a), None, "{a} is global");
        }
    }

    #[test]
    fn special_purpose_ipv6_and_embedded_ipv4_are_refused() {
        for a in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "100::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::7f00:1",
            "::7f00:1",
        ] {
            assert!(reason(a).is_some(), "{a} must be refused");
        }
        assert_eq!(reason("::ffff:1.1.1.1"), None);
        assert_eq!(reason("64:ff9b::101:101"), None);
    }

    #[test]
    fn reasons_name_the_range() {
        assert_eq!(reason("127.0.0.1"), Some("a loopback address"));
        assert_eq!(reason("10.0.0.1"), Some("a private address (RFC 1918)"));
    }
}
