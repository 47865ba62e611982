//! Which addresses a probe may connect to. An MX record is attacker-controlled input: without
//! this check anyone could make Sendguard connect to its own loopback services or the
//! provider's internal network by typing a recipient address.
//!
//! An allow-list, not a deny-list: only global unicast addresses are contacted.
//! - IPv4: everything except the ranges of the IANA IPv4 Special-Purpose Address Registry
//!   (RFC 6890) that are not globally reachable: "this network", loopback, private (RFC 1918),
//!   shared/CGNAT (RFC 6598), link-local, IETF protocol assignments, documentation (RFC 5737),
//!   benchmarking (RFC 2544), the deprecated 6to4 relay anycast (RFC 7526), multicast,
//!   reserved and broadcast.
//! - IPv6: only inside the global unicast space 2000::/3 (RFC 4291 §2.4), minus what the IANA
//!   IPv6 Special-Purpose Address Registry sets apart there: the IETF protocol assignments
//!   2001::/23 (benchmarking, ORCHID, anycast services), documentation 2001:db8::/32
//!   (RFC 3849) and 3fff::/20 (RFC 9637).
//! - Addresses that carry an IPv4 address are judged by it (each embedded address must be
//!   allowed): IPv4-mapped (RFC 4291 §2.5.5.2), NAT64 (RFC 6052 §2.2: the well-known prefix
//!   64:ff9b::/96, the local-use prefix 64:ff9b:1::/48 of RFC 8215, and prefixes the operator
//!   configures), 6to4 2002::/16 (RFC 3056 §2) and Teredo 2001::/32 (RFC 4380 §4: the server's
//!   address and the client's mapped address).
//!
//! Loopback addresses (127.0.0.0/8, ::1, and IPv4-mapped loopback) are allowed only when the
//! operator says so (`--allow-private-targets`: the tests and the demo, whose simulated
//! internet lives on loopback). A loopback address inside NAT64, 6to4 or Teredo stays refused:
//! the packet would leave the machine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// A NAT64 prefix (RFC 6052 §2.2): IPv6 addresses under it carry an IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nat64Prefix {
    prefix: Ipv6Addr,
    len: u8,
}

impl Nat64Prefix {
    /// The well-known prefix 64:ff9b::/96 (RFC 6052 §2.1).
    pub const WELL_KNOWN: Nat64Prefix = Nat64Prefix {
        prefix: Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
        len: 96,
    };
    /// The local-use prefix 64:ff9b:1::/48 (RFC 8215).
    pub const LOCAL_USE: Nat64Prefix = Nat64Prefix {
        prefix: Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        len: 48,
    };

    /// Whether `ip` lies under this prefix.
    fn contains(&self, ip: Ipv6Addr) -> bool {
        let mask = u128::MAX << (128 - u32::from(self.len));
        u128::from(ip) & mask == u128::from(self.prefix)
    }

    /// The IPv4 address `ip` carries (RFC 6052 §2.2: after the prefix, skipping bits 64-71).
    fn embedded(&self, ip: Ipv6Addr) -> Ipv4Addr {
        let bytes = ip.octets();
        let start = usize::from(self.len / 8);
        let v4: Vec<u8> = (start..16)
            .filter(|i| *i != 8)
            .take(4)
            .map(|i| bytes[i])
            .collect();
        Ipv4Addr::new(v4[0], v4[1], v4[2], v4[3])
    }
}

impl std::fmt::Display for Nat64Prefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.prefix, self.len)
    }
}

/// Why text is not a NAT64 prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Nat64PrefixError {
    /// Not `IPV6/LEN`.
    #[error("{0:?} is not an IPv6 prefix (IPV6/LEN, e.g. 64:ff9b::/96)")]
    Syntax(String),
    /// RFC 6052 §2.2 allows only these lengths.
    #[error("a NAT64 prefix is /32, /40, /48, /56, /64 or /96 (RFC 6052), not /{0}")]
    Length(u8),
    /// Bits set past the prefix length.
    #[error("{0} has bits set past its length")]
    HostBits(String),
}

impl FromStr for Nat64Prefix {
    type Err = Nat64PrefixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || Nat64PrefixError::Syntax(s.to_string());
        let (addr, len) = s.trim().split_once('/').ok_or_else(syntax)?;
        let prefix: Ipv6Addr = addr.parse().map_err(|_| syntax())?;
        let len: u8 = len.parse().map_err(|_| syntax())?;
        if ![32, 40, 48, 56, 64, 96].contains(&len) {
            return Err(Nat64PrefixError::Length(len));
        }
        let parsed = Nat64Prefix { prefix, len };
        if !parsed.contains(prefix) {
            return Err(Nat64PrefixError::HostBits(s.trim().to_string()));
        }
        Ok(parsed)
    }
}

/// The addresses a probe may connect to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressGuard {
    /// Whether loopback addresses may be contacted (tests and the demo).
    pub allow_loopback: bool,
    /// NAT64 prefixes besides [`Nat64Prefix::WELL_KNOWN`] and [`Nat64Prefix::LOCAL_USE`].
    pub nat64: Vec<Nat64Prefix>,
}

impl AddressGuard {
    /// Why `ip` may not be contacted, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<String> {
        match ip {
            IpAddr::V4(v4) if v4.is_loopback() && self.allow_loopback => None,
            IpAddr::V4(v4) => v4_reason(v4).map(str::to_string),
            IpAddr::V6(v6) => self.v6_refusal(v6),
        }
    }

    fn v6_refusal(&self, ip: Ipv6Addr) -> Option<String> {
        if let Some(v4) = ip.to_ipv4_mapped() {
            return self.refusal(IpAddr::V4(v4));
        }
        if ip.is_loopback() {
            return (!self.allow_loopback).then(|| "a loopback address".to_string());
        }
        let nat64 = [Nat64Prefix::WELL_KNOWN, Nat64Prefix::LOCAL_USE];
        if let Some(p) = nat64.iter().chain(&self.nat64).find(|p| p.contains(ip)) {
            return embedded("a NAT64", p.embedded(ip));
        }
        let s = ip.segments();
        if s[0] == 0x2002 {
            // RFC 3056 §2: 2002:V4ADDR::/48.
            return embedded("a 6to4", v4_at(s[1], s[2]));
        }
        if s[0] == 0x2001 && s[1] == 0 {
            // RFC 4380 §4: 2001:0:SERVER:FLAGS:PORT:CLIENT, the client's address inverted.
            let server = v4_at(s[2], s[3]);
            let client = v4_at(!s[6], !s[7]);
            return embedded("a Teredo", server).or_else(|| embedded("a Teredo", client));
        }
        v6_reason(ip).map(str::to_string)
    }
}

/// Every connection attempt of a prober, in order, when configured
/// ([`super::ProbeConfig::connect_log`]): recorded at the connect step itself, just before the
/// TCP connection is opened, so a test can prove that a refused address was never even tried.
#[derive(Clone, Debug, Default)]
pub struct ConnectLog(Arc<Mutex<Vec<SocketAddr>>>);

impl ConnectLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The addresses connected to so far, in order.
    pub fn attempts(&self) -> Vec<SocketAddr> {
        super::lock(&self.0).clone()
    }

    pub(super) fn record(&self, addr: SocketAddr) {
        super::lock(&self.0).push(addr);
    }
}

/// The refusal of an address that carries `v4`, if `v4` is not global (loopback included:
/// a translated packet leaves the machine).
fn embedded(kind: &str, v4: Ipv4Addr) -> Option<String> {
    v4_reason(v4).map(|why| format!("{kind} address that carries {why} ({v4})"))
}

fn v4_at(high: u16, low: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))
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
        (192, 88, 99) => "a 6to4 relay anycast address (RFC 7526)",
        (198, 18..=19, _) => "a benchmarking address (RFC 2544)",
        _ if ip.is_multicast() => "a multicast address",
        _ if ip.is_broadcast() => "the broadcast address",
        (240..=255, _, _) => "a reserved address (240.0.0.0/4)",
        _ => return None,
    })
}

/// Outside 2000::/3 nothing is global unicast; inside it, the registry's exceptions.
fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if s[0] & 0xe000 != 0x2000 {
        return Some(match s[0] {
            _ if ip.is_unspecified() => "the unspecified address",
            _ if ip.is_multicast() => "a multicast address",
            x if x & 0xfe00 == 0xfc00 => "a unique-local address (RFC 4193)",
            x if x & 0xffc0 == 0xfe80 => "a link-local address",
            0x0100 if s[1..4] == [0, 0, 0] => "a discard-only address (RFC 6666)",
            _ => "not a global unicast address (outside 2000::/3)",
        });
    }
    Some(match (s[0], s[1]) {
        (0x2001, 0x0db8) => "a documentation address (RFC 3849)",
        (0x2001, x) if x < 0x0200 => "an IETF protocol assignment (2001::/23)",
        (0x3fff, x) if x < 0x1000 => "a documentation address (RFC 9637)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> AddressGuard {
        AddressGuard::default()
    }

    fn reason(s: &str) -> Option<String> {
        guard().refusal(s.parse().unwrap())
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
            "192.88.99.1",
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
            "2001:200::1",
            "2620:4f:8000::1",
            "3ffe::1",
            "::ffff:1.1.1.1",
            "64:ff9b::101:101",
            "64:ff9b:1:101:1:100::",
            "2002:101:101::1",
            // Teredo: server 65.54.227.120, client 1.1.1.1 (inverted: fefe:fefe).
            "2001:0:4136:e378:8000:63bf:fefe:fefe",
        ] {
            assert_eq!(reason(a), None, "{a} is global");
        }
    }

    #[test]
    fn only_global_unicast_ipv6_is_allowed() {
        for a in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "100::1",
            "::7f00:1",
            "4000::1",
            "5f00::1",
            "e000::1",
            "2001:db8::1",
            "2001:2::1",
            "2001:10::1",
            "2001:20::1",
            "2001:1::1",
            "3fff::1",
            "3fff:fff::1",
        ] {
            assert!(reason(a).is_some(), "{a} must be refused");
        }
    }

    #[test]
    fn embedded_ipv4_addresses_are_judged() {
        for a in [
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1:a00:0:100::",
            "2002:a00:1::1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            // Teredo with a private client (10.0.0.1 inverted) or a private server.
            "2001:0:4136:e378:8000:63bf:f5ff:fffe",
            "2001:0:a00:1:8000:63bf:fefe:fefe",
        ] {
            assert!(reason(a).is_some(), "{a} must be refused");
        }
        assert_eq!(
            reason("2002:a00:1::1").unwrap(),
            "a 6to4 address that carries a private address (RFC 1918) (10.0.0.1)"
        );
    }

    #[test]
    fn configured_nat64_prefixes_are_judged_by_the_embedded_address() {
        let mut guard = guard();
        guard.nat64.push("2a00:1:2:3:4:5::/96".parse().unwrap());
        guard.nat64.push("2a01:9::/32".parse().unwrap());
        let refused = |s: &str| guard.refusal(s.parse().unwrap());
        assert!(refused("2a00:1:2:3:4:5:a00:1").is_some());
        assert_eq!(refused("2a00:1:2:3:4:5:101:101"), None);
        // /32: the address is in bits 32-63.
        assert!(refused("2a01:9:c0a8:101::").is_some());
        assert_eq!(refused("2a01:9:101:101::"), None);
        // Outside the prefixes: an ordinary global address.
        assert_eq!(refused("2a00:1:2:3:4:6:a00:1"), None);
    }

    #[test]
    fn nat64_prefixes_parse_by_rfc_6052() {
        let p: Nat64Prefix = "64:ff9b::/96".parse().unwrap();
        assert_eq!(p, Nat64Prefix::WELL_KNOWN);
        assert_eq!(p.to_string(), "64:ff9b::/96");
        // /56 and /64 skip bits 64-71 (the u octet).
        let p56: Nat64Prefix = "2a00:1:2:300::/56".parse().unwrap();
        assert_eq!(
            p56.embedded("2a00:1:2:30a:0:102::".parse().unwrap()),
            Ipv4Addr::new(10, 0, 1, 2)
        );
        assert!(matches!(
            "64:ff9b::/97".parse::<Nat64Prefix>(),
            Err(Nat64PrefixError::Length(97))
        ));
        assert!(matches!(
            "64:ff9b::1/96".parse::<Nat64Prefix>(),
            Err(Nat64PrefixError::HostBits(_))
        ));
        assert!(matches!(
            "10.0.0.0/8".parse::<Nat64Prefix>(),
            Err(Nat64PrefixError::Syntax(_))
        ));
    }

    #[test]
    fn loopback_only_by_the_operators_setting_and_never_embedded() {
        let tests = AddressGuard {
            allow_loopback: true,
            nat64: Vec::new(),
        };
        let refused = |s: &str| tests.refusal(s.parse().unwrap());
        assert_eq!(refused("127.0.0.1"), None);
        assert_eq!(refused("127.1.2.3"), None);
        assert_eq!(refused("::1"), None);
        assert_eq!(refused("::ffff:127.0.0.1"), None);
        for a in [
            "10.0.0.1",
            "192.168.1.1",
            "fd00::1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
        ] {
            assert!(
                refused(a).is_some(),
                "{a} stays refused with loopback allowed"
            );
        }
        assert_eq!(reason("127.0.0.1").unwrap(), "a loopback address");
        assert_eq!(reason("::1").unwrap(), "a loopback address");
    }
}
