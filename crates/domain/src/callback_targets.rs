//! The private hosts and networks an account's callbacks may reach (SPEC §5):
//! on-premise receivers inside the customer's own network. Everything not
//! listed keeps the SSRF guard; what a list can never open is decided here.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::input::{check_domain, FieldError, ListedAddresses};

/// The setting's name in errors and in the CLI's JSON output.
pub const FIELD: &str = "callbackPrivateNetworks";

/// One entry of the list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrivateTarget {
    /// Every address inside it, and only those.
    Network(IpNet),
    /// This exact host name (lower-case) may resolve to a private address.
    Host(String),
}

impl fmt::Display for PrivateTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network(net) => write!(f, "{net}"),
            Self::Host(host) => f.write_str(host),
        }
    }
}

/// An account's private callback targets; empty (the default) lists none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PrivateCallbackTargets(Vec<PrivateTarget>);

/// What a network entry must lie inside: the private ranges a customer's own
/// receiver may live in. Anything wider or elsewhere (`0.0.0.0/0`, public
/// addresses, which need no listing, link-local and its metadata services,
/// multicast, documentation and reserved blocks) cannot be listed.
const LISTABLE: [IpNet; 7] = [
    net4(Ipv4Addr::new(10, 0, 0, 0), 8),
    net4(Ipv4Addr::new(172, 16, 0, 0), 12),
    net4(Ipv4Addr::new(192, 168, 0, 0), 16),
    net4(Ipv4Addr::new(100, 64, 0, 0), 10), // carrier-grade NAT, used inside some networks
    net4(Ipv4Addr::new(127, 0, 0, 0), 8),   // a receiver on the server's own machine
    net6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7), // unique local
    net6(Ipv6Addr::LOCALHOST, 128),
];

/// Where a listed host name's private addresses may lie: the customer's
/// network, never this machine (loopback must be listed as a network).
const HOST_RANGES: [IpNet; 5] = [
    net4(Ipv4Addr::new(10, 0, 0, 0), 8),
    net4(Ipv4Addr::new(172, 16, 0, 0), 12),
    net4(Ipv4Addr::new(192, 168, 0, 0), 16),
    net4(Ipv4Addr::new(100, 64, 0, 0), 10),
    net6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
];

/// Cloud metadata services inside the listable ranges: never reached, even
/// when a listed network contains them (169.254.0.0/16, where most live,
/// cannot be listed at all).
const METADATA: [IpNet; 2] = [
    net4(Ipv4Addr::new(100, 100, 100, 200), 32), // Alibaba Cloud
    net6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0), 32), // AWS over IPv6 (fd00:ec2::254)
];

const fn net4(addr: Ipv4Addr, len: u8) -> IpNet {
    IpNet::new_assert(IpAddr::V4(addr), len)
}

const fn net6(addr: Ipv6Addr, len: u8) -> IpNet {
    IpNet::new_assert(IpAddr::V6(addr), len)
}

/// A cloud metadata address, which no setting opens.
pub fn is_metadata(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    METADATA.iter().any(|m| m.contains(&ip))
}

impl PrivateCallbackTargets {
    /// Lists nothing: only public destinations.
    pub const NONE: Self = Self(Vec::new());
    /// Far above what one customer's receivers need; it bounds every check.
    pub const MAX_ENTRIES: usize = 16;

    /// A comma-separated list of networks (`10.1.0.0/16`, `fd12:3456::/48`),
    /// single addresses (`10.1.2.3`, kept as `/32` or `/128`) and exact host
    /// names (`receiver.corp.internal`). Blank means none. Duplicates are
    /// kept once; host names are compared case-insensitively.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.trim().is_empty() {
            return Ok(Self::NONE);
        }
        let entries: Vec<&str> = raw.split(',').map(str::trim).collect();
        if entries.len() > Self::MAX_ENTRIES {
            return Err(FieldError::new(
                FIELD,
                "PRIVATE_TARGETS_TOO_MANY",
                format!("at most {} entries may be listed", Self::MAX_ENTRIES),
            ));
        }
        let mut targets = Vec::with_capacity(entries.len());
        for entry in entries {
            let target = parse_entry(entry)?;
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        Ok(Self(targets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn entries(&self) -> &[PrivateTarget] {
        &self.0
    }

    /// `ip` lies in a listed network (and is no metadata address). This is
    /// what lets a callback URL name the address itself.
    pub fn lists_address(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        !is_metadata(ip)
            && self
                .0
                .iter()
                .any(|t| matches!(t, PrivateTarget::Network(net) if net.contains(&ip)))
    }

    /// Whether a callback to `host` (`None` for an address literal) may
    /// connect to the private address `ip` it resolved to: inside a listed
    /// network, or a listed host name's address in a private range (not
    /// loopback). Metadata addresses never.
    pub fn admits(&self, host: Option<&str>, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if is_metadata(ip) {
            return false;
        }
        self.lists_address(ip)
            || host.is_some_and(|host| {
                let host = host.strip_suffix('.').unwrap_or(host);
                self.0
                    .iter()
                    .any(|t| matches!(t, PrivateTarget::Host(h) if h.eq_ignore_ascii_case(host)))
                    && HOST_RANGES.iter().any(|r| r.contains(&ip))
            })
    }
}

impl ListedAddresses for PrivateCallbackTargets {
    fn lists_address(&self, ip: IpAddr) -> bool {
        PrivateCallbackTargets::lists_address(self, ip)
    }
}

impl fmt::Display for PrivateCallbackTargets {
    /// The canonical list, as [`Self::parse`] reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, target) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{target}")?;
        }
        Ok(())
    }
}

fn parse_entry(entry: &str) -> Result<PrivateTarget, FieldError> {
    let invalid = |detail: String| FieldError::new(FIELD, "PRIVATE_TARGET_INVALID", detail);
    if entry.is_empty() {
        return Err(invalid("an entry between commas is empty".to_owned()));
    }
    let shown: String = entry.chars().take(64).collect();
    let looks_numeric =
        entry.contains([':', '/']) || entry.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !looks_numeric {
        return parse_host(entry).map_err(|why| {
            invalid(format!(
                "{shown:?} is not a network, an address or a host name a callback URL may name ({why})"
            ))
        });
    }
    let net = match entry.split_once('/') {
        Some(_) => entry.parse::<IpNet>().map_err(|_| {
            invalid(format!(
                "{shown:?} is not a network (10.1.0.0/16), an address or a host name"
            ))
        })?,
        None => entry.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
            invalid(format!(
                "{shown:?} is not a network (10.1.0.0/16), an address or a host name"
            ))
        })?,
    };
    if net.trunc() != net {
        return Err(invalid(format!(
            "{shown:?} has host bits set; the network is {}",
            net.trunc()
        )));
    }
    let not_allowed = |detail: String| FieldError::new(FIELD, "PRIVATE_TARGET_NOT_ALLOWED", detail);
    if METADATA.iter().any(|m| m.contains(&net)) {
        return Err(not_allowed(format!(
            "{net} is a cloud metadata address, never a callback target"
        )));
    }
    if !LISTABLE.iter().any(|r| r.contains(&net)) {
        return Err(not_allowed(format!(
            "{net} is not inside one private range (10.0.0.0/8, 172.16.0.0/12, \
             192.168.0.0/16, 100.64.0.0/10, 127.0.0.0/8, fc00::/7, ::1); public \
             addresses need no listing, others cannot be listed"
        )));
    }
    Ok(PrivateTarget::Network(net))
}

/// A host name as a callback URL may name it: ASCII (punycode), fully
/// qualified, neither localhost nor spelling an address.
fn parse_host(entry: &str) -> Result<PrivateTarget, &'static str> {
    if entry.len() > 253 {
        return Err("a host name has at most 253 characters");
    }
    if !entry
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err("a host name has only letters, digits, '-', '_' and '.' (punycode for international names)");
    }
    check_domain(entry, false)?;
    Ok(PrivateTarget::Host(entry.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::input::{RedirectUrl, UrlField, UrlPolicy};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn code(raw: &str) -> &'static str {
        PrivateCallbackTargets::parse(raw).unwrap_err().code
    }

    #[test]
    fn lists_networks_addresses_and_host_names_canonically() {
        let t = PrivateCallbackTargets::parse(
            " 10.1.0.0/16, Receiver.Corp.Internal ,192.168.7.9,fd12:3456::/48,::1,10.1.0.0/16",
        )
        .unwrap();
        assert_eq!(
            t.to_string(),
            "10.1.0.0/16,receiver.corp.internal,192.168.7.9/32,fd12:3456::/48,::1/128"
        );
        assert_eq!(PrivateCallbackTargets::parse(&t.to_string()), Ok(t));
        assert_eq!(
            PrivateCallbackTargets::parse(""),
            Ok(PrivateCallbackTargets::NONE)
        );
        assert_eq!(
            PrivateCallbackTargets::parse("  "),
            Ok(PrivateCallbackTargets::NONE)
        );
    }

    #[test]
    fn refuses_what_is_not_a_private_target() {
        for bad in [
            "0.0.0.0/0",
            "::/0",
            "8.8.8.0/24",
            "10.0.0.0/7",
            "169.254.0.0/16",
            "169.254.169.254",
            "100.100.100.200",
            "fd00:ec2::254",
            "fe80::/10",
            "224.0.0.0/4",
            "192.0.2.0/24",
            "2001:db8::/32",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(code(bad), "PRIVATE_TARGET_NOT_ALLOWED", "{bad}");
        }
        for bad in [
            "10.1.2.3/16",
            "10.0.0.0/33",
            "10.0.0",
            "10.0.0.0/",
            "localhost",
            "a.localhost",
            "intranet",
            "receiver.corp.internal.",
            "10-0-0-1.sslip.io",
            "user@receiver.corp.internal",
            "https://receiver.corp.internal",
            "bücher.example",
            "10.0.0.0/8,,10.1.0.0/16",
            "10.0.0.0/8,",
        ] {
            assert_eq!(code(bad), "PRIVATE_TARGET_INVALID", "{bad}");
        }
        let err = PrivateCallbackTargets::parse("10.1.2.3/16").unwrap_err();
        assert!(err.detail.contains("10.1.0.0/16"), "{}", err.detail);
        assert_eq!(err.field, FIELD);
        let many = vec!["10.0.0.0/8"; 17].join(",");
        assert_eq!(code(&many), "PRIVATE_TARGETS_TOO_MANY");
        assert!(PrivateCallbackTargets::parse(&vec!["10.0.0.0/8"; 16].join(",")).is_ok());
    }

    #[test]
    fn a_listed_network_admits_its_addresses_only() {
        let t = PrivateCallbackTargets::parse("10.1.0.0/16,127.0.0.1").unwrap();
        for inside in ["10.1.0.1", "10.1.255.255", "127.0.0.1", "::ffff:10.1.2.3"] {
            assert!(t.admits(None, ip(inside)), "{inside}");
            assert!(t.lists_address(ip(inside)), "{inside}");
        }
        for outside in [
            "10.2.0.1",
            "127.0.0.2",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
        ] {
            assert!(!t.admits(Some("x.example"), ip(outside)), "{outside}");
            assert!(!t.lists_address(ip(outside)), "{outside}");
        }
        assert!(!PrivateCallbackTargets::NONE.admits(None, ip("10.1.0.1")));
    }

    #[test]
    fn a_listed_host_name_may_resolve_to_private_addresses_but_not_loopback() {
        let t = PrivateCallbackTargets::parse("receiver.corp.internal").unwrap();
        for private in [
            "10.9.8.7",
            "172.20.0.1",
            "192.168.0.5",
            "100.64.0.1",
            "fd12::1",
        ] {
            assert!(
                t.admits(Some("RECEIVER.corp.internal"), ip(private)),
                "{private}"
            );
            assert!(
                !t.admits(Some("other.corp.internal"), ip(private)),
                "{private}"
            );
            assert!(!t.admits(None, ip(private)), "{private}");
            assert!(!t.lists_address(ip(private)), "{private}");
        }
        for never in [
            "127.0.0.1",
            "::1",
            "169.254.169.254",
            "fe80::1",
            "100.100.100.200",
            "fd00:ec2::254",
        ] {
            assert!(
                !t.admits(Some("receiver.corp.internal"), ip(never)),
                "{never}"
            );
        }
    }

    #[test]
    fn metadata_addresses_stay_refused_inside_a_listed_network() {
        let t = PrivateCallbackTargets::parse("100.64.0.0/10,fd00::/8").unwrap();
        assert!(t.admits(None, ip("100.100.100.199")));
        assert!(t.admits(None, ip("fd00:ec3::254")));
        for metadata in ["100.100.100.200", "fd00:ec2::254", "::ffff:100.100.100.200"] {
            assert!(!t.admits(None, ip(metadata)), "{metadata}");
            assert!(!t.lists_address(ip(metadata)), "{metadata}");
        }
    }

    #[test]
    fn a_callback_url_may_name_an_address_of_the_accounts_private_networks(
    ) -> Result<(), FieldError> {
        let private =
            PrivateCallbackTargets::parse("10.1.0.0/16,fd12::/16,receiver.corp.internal")?;
        let parse = |raw: &str, field| {
            RedirectUrl::parse_for(raw, field, UrlPolicy::default(), &private).map_err(|e| e.code)
        };
        assert!(parse("https://10.1.2.3/cb", UrlField::Callback).is_ok());
        assert!(parse("https://[fd12::7]/cb", UrlField::Callback).is_ok());
        assert!(parse("https://receiver.corp.internal/cb", UrlField::Callback).is_ok());
        assert_eq!(
            parse("https://10.2.0.1/cb", UrlField::Callback),
            Err("URL_IP_HOST")
        );
        assert_eq!(
            parse("https://169.254.169.254/cb", UrlField::Callback),
            Err("URL_IP_HOST")
        );
        assert_eq!(
            parse("https://10.1.2.3:8443/cb", UrlField::Callback),
            Err("URL_PORT")
        );
        assert_eq!(
            parse("http://10.1.2.3/cb", UrlField::Callback),
            Err("URL_NOT_HTTPS")
        );
        // Only the server connects to a callback URL; redirects stay as they are.
        assert_eq!(
            parse("https://10.1.2.3/ok", UrlField::Success),
            Err("URL_IP_HOST")
        );
        assert_eq!(
            parse("https://10.1.2.3/err", UrlField::Error),
            Err("URL_IP_HOST")
        );
        assert_eq!(
            RedirectUrl::parse(
                "https://10.1.2.3/cb",
                UrlField::Callback,
                UrlPolicy::default()
            )
            .map_err(|e| e.code),
            Err("URL_IP_HOST")
        );
        Ok(())
    }
}
