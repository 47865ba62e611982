//! The name the probe announces in EHLO and HELO (RFC 5321 §4.1.1.1: `Domain / address-literal`,
//! the client's fully qualified domain name; §4.1.4: an address literal when the client has no
//! meaningful name), parsed with the one parser of host names in
//! [`sendguard_common::address`], so that nothing else can reach the command line.
//!
//! The default is the machine's fully qualified name, found as `hostname -f` finds it in the
//! common case: the kernel's host name when it has a dot, else the first name with a dot on
//! the `/etc/hosts` line that lists the host name. A machine without one announces the
//! address literal of each connection's local address (`[192.0.2.1]`, `[IPv6:2001:db8::1]`),
//! never `localhost`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::LazyLock;

use sendguard_common::address::{Domain, DomainError};

/// What the probe says after EHLO/HELO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeloName {
    /// A fully qualified domain name (two labels or more, ASCII).
    Name(Domain),
    /// An address literal for a fixed address (RFC 5321 §4.1.3).
    Literal(IpAddr),
    /// The local address of each connection as an address literal (RFC 5321 §4.1.4).
    LocalAddress,
}

/// Why a text is not a usable EHLO name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeloNameError {
    /// Not a host name by the shared rules.
    #[error("not a host name: {0}")]
    Name(DomainError),
    /// A U-label: EHLO takes A-labels only (RFC 5321 §4.1.2, without SMTPUTF8).
    #[error("use the A-label (xn--...) form of the name")]
    NotAscii,
    /// `[...]` that holds no IPv4 address or `IPv6:` address (RFC 5321 §4.1.3).
    #[error("not an address literal")]
    Literal,
}

impl HeloName {
    /// Parses a fully qualified name (`mx.example.org`) or an address literal (`[192.0.2.1]`,
    /// `[IPv6:2001:db8::1]`).
    pub fn parse(text: &str) -> Result<HeloName, HeloNameError> {
        if let Some(inner) = text.strip_prefix('[') {
            let inner = inner.strip_suffix(']').ok_or(HeloNameError::Literal)?;
            let ip = match inner.get(..5) {
                Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => {
                    inner[5..].parse::<std::net::Ipv6Addr>().map(IpAddr::V6)
                }
                _ => inner.parse::<std::net::Ipv4Addr>().map(IpAddr::V4),
            };
            return ip
                .map(HeloName::Literal)
                .map_err(|_| HeloNameError::Literal);
        }
        let name = Domain::parse(text).map_err(HeloNameError::Name)?;
        if !name.is_ascii() {
            return Err(HeloNameError::NotAscii);
        }
        Ok(HeloName::Name(name))
    }

    /// The machine's fully qualified name, or [`HeloName::LocalAddress`] when it has none;
    /// looked up once per process.
    pub fn this_machine() -> HeloName {
        static MACHINE: LazyLock<HeloName> = LazyLock::new(|| {
            let read = |path| std::fs::read_to_string(path).unwrap_or_default();
            let mut node = read("/proc/sys/kernel/hostname");
            if node.trim().is_empty() {
                node = read("/etc/hostname");
            }
            fqdn(node.trim(), &read("/etc/hosts")).map_or(HeloName::LocalAddress, HeloName::Name)
        });
        MACHINE.clone()
    }

    /// The argument of EHLO/HELO on a connection from `local`.
    pub fn argument(&self, local: IpAddr) -> String {
        match self {
            HeloName::Name(name) => name.to_string(),
            HeloName::Literal(ip) => literal(*ip),
            HeloName::LocalAddress => literal(local),
        }
    }
}

impl fmt::Display for HeloName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeloName::Name(name) => f.write_str(name.as_str()),
            HeloName::Literal(ip) => f.write_str(&literal(*ip)),
            HeloName::LocalAddress => f.write_str("(the local address)"),
        }
    }
}

impl FromStr for HeloName {
    type Err = HeloNameError;
    fn from_str(s: &str) -> Result<Self, HeloNameError> {
        HeloName::parse(s)
    }
}

/// An address literal (RFC 5321 §4.1.3).
fn literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    }
}

/// The fully qualified name of a machine called `node`: `node` itself when it is one, else the
/// first fully qualified name on a line of `hosts` (hosts(5)) that lists `node`.
pub(super) fn fqdn(node: &str, hosts: &str) -> Option<Domain> {
    let usable = |name: &str| Domain::parse(name).ok().filter(Domain::is_ascii);
    if let Some(name) = usable(node) {
        return Some(name);
    }
    if node.is_empty() {
        return None;
    }
    hosts
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .map(|line| line.split_ascii_whitespace().skip(1).collect::<Vec<_>>())
        .filter(|names| names.iter().any(|n| n.eq_ignore_ascii_case(node)))
        .find_map(|names| names.into_iter().find_map(usable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_literals_parse_by_the_shared_rules() {
        let name = HeloName::parse("Probe.Example.ORG.").expect("a name");
        assert_eq!(name.argument([192, 0, 2, 1].into()), "probe.example.org");
        for (text, argument) in [
            ("[192.0.2.7]", "[192.0.2.7]"),
            ("[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]"),
            ("[ipv6:2001:DB8::1]", "[IPv6:2001:db8::1]"),
        ] {
            let helo = HeloName::parse(text).expect(text);
            assert_eq!(helo.argument([127, 0, 0, 1].into()), argument);
        }
        for bad in [
            "a..b.example",
            "-x.example",
            "under_score.example",
            "x\r\nMAIL FROM:<a@b>",
            "a@b.example",
            "localhost",
            "",
            "[192.0.2]",
            "[2001:db8::1]",
            "[IPv6:192.0.2.1]",
            "[192.0.2.1",
        ] {
            assert!(HeloName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            HeloName::parse("bücher.example"),
            Err(HeloNameError::NotAscii)
        );
    }

    #[test]
    fn the_local_address_stands_in_for_a_machine_without_a_name() {
        let helo = HeloName::LocalAddress;
        assert_eq!(helo.argument([127, 0, 43, 9].into()), "[127.0.43.9]");
        assert_eq!(helo.argument("::1".parse().unwrap()), "[IPv6:::1]");
    }

    #[test]
    fn the_fully_qualified_name_comes_from_the_host_name_or_etc_hosts() {
        let hosts = "127.0.0.1 localhost\n# 10.0.0.1 vm.wrong.example vm\n\
                     127.0.1.1 vm.example.org vm  # this machine\n";
        let name = |n: &str, h: &str| fqdn(n, h).map(|d| d.to_string());
        assert_eq!(
            name("mx1.example.net", hosts).as_deref(),
            Some("mx1.example.net")
        );
        assert_eq!(name("vm", hosts).as_deref(), Some("vm.example.org"));
        assert_eq!(name("VM", hosts).as_deref(), Some("vm.example.org"));
        assert_eq!(name("vm", "127.0.0.1 localhost\n127.0.0.1 vm\n"), None);
        assert_eq!(name("", hosts), None);
        assert_eq!(name("other", hosts), None);
        assert_ne!(
            HeloName::this_machine().argument([127, 0, 0, 1].into()),
            "localhost"
        );
    }
}
