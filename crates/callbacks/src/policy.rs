//! Destination address policy: which IP addresses callbacks may never connect to (SSRF defence),
//! and the exceptions an account's private callback targets make.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use facegate_domain::PrivateCallbackTargets;

/// Which otherwise-forbidden destinations are tolerated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Permit 127.0.0.0/8 and ::1 (development mode, where receivers run on localhost).
    pub allow_loopback: bool,
}

impl AddressPolicy {
    /// Production policy: only publicly routable destinations.
    pub const STRICT: Self = Self {
        allow_loopback: false,
    };
}

/// IPv4 ranges that are never public destinations (IANA special-purpose registry, plus the
/// obvious internal ones). Loopback is handled separately because the policy may allow it.
const FORBIDDEN_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),     // "this network", includes 0.0.0.0
    (Ipv4Addr::new(10, 0, 0, 0), 8),    // private
    (Ipv4Addr::new(100, 64, 0, 0), 10), // carrier-grade NAT
    (Ipv4Addr::new(169, 254, 0, 0), 16), // link-local, cloud metadata services
    (Ipv4Addr::new(172, 16, 0, 0), 12), // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),  // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),  // TEST-NET-1
    (Ipv4Addr::new(192, 88, 99, 0), 24), // deprecated 6to4 relay anycast
    (Ipv4Addr::new(192, 168, 0, 0), 16), // private
    (Ipv4Addr::new(198, 18, 0, 0), 15), // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // TEST-NET-2
    (Ipv4Addr::new(203, 0, 113, 0), 24), // TEST-NET-3
    (Ipv4Addr::new(224, 0, 0, 0), 4),   // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),   // reserved, includes 255.255.255.255 broadcast
];

/// IPv6 ranges inside global unicast 2000::/3 that are still not public destinations. Anything
/// outside 2000::/3 (ULA, link-local, site-local, multicast, discard, local NAT64...) is refused
/// wholesale, which is safer than enumerating every special block.
const FORBIDDEN_V6_IN_GLOBAL: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23), // IETF protocol assignments, incl. Teredo
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation (RFC 9637)
];

const GLOBAL_UNICAST_V6: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);
const NAT64_WELL_KNOWN: (Ipv6Addr, u8) = (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
const SIX_TO_FOUR: (Ipv6Addr, u8) = (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);

/// True when a callback must not connect to `ip`.
pub fn is_forbidden(ip: IpAddr, policy: &AddressPolicy) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_forbidden(v4, policy),
        IpAddr::V6(v6) => v6_forbidden(v6, policy),
    }
}

/// True when a callback to `host` (`None` for an address literal) may connect to `ip`: a
/// public address, or a private one the account lists (never a metadata address, see
/// [`PrivateCallbackTargets::admits`]).
pub fn is_permitted(
    host: Option<&str>,
    ip: IpAddr,
    policy: &AddressPolicy,
    private: &PrivateCallbackTargets,
) -> bool {
    !is_forbidden(ip, policy) || private.admits(host, ip)
}

fn v4_forbidden(ip: Ipv4Addr, policy: &AddressPolicy) -> bool {
    if ip.is_loopback() {
        return !policy.allow_loopback;
    }
    let n = u32::from(ip);
    FORBIDDEN_V4
        .iter()
        .any(|&(net, len)| in_v4(n, u32::from(net), len))
}

fn v6_forbidden(ip: Ipv6Addr, policy: &AddressPolicy) -> bool {
    if ip.is_loopback() {
        return !policy.allow_loopback;
    }
    if ip.is_unspecified() {
        return true;
    }
    let n = u128::from(ip);

    // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (deprecated compatible) reach the IPv4 host directly
    // on a dual-stack socket, so they get exactly the IPv4 verdict, loopback allowance included.
    if let Some(v4) = ip.to_ipv4() {
        return v4_forbidden(v4, policy);
    }
    // NAT64 and 6to4 forward to the embedded IPv4 address via a translator/relay; a loopback
    // address there is never our development receiver, so judge it strictly.
    if in_v6(n, NAT64_WELL_KNOWN) {
        let o = ip.octets();
        let embedded = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
        return v4_forbidden(embedded, &AddressPolicy::STRICT);
    }
    if in_v6(n, SIX_TO_FOUR) {
        let o = ip.octets();
        let embedded = Ipv4Addr::new(o[2], o[3], o[4], o[5]);
        return v4_forbidden(embedded, &AddressPolicy::STRICT);
    }

    if !in_v6(n, GLOBAL_UNICAST_V6) {
        return true;
    }
    FORBIDDEN_V6_IN_GLOBAL.iter().any(|&range| in_v6(n, range))
}

fn in_v4(addr: u32, net: u32, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    addr & mask == net & mask
}

fn in_v6(addr: u128, (net, len): (Ipv6Addr, u8)) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    addr & mask == u128::from(net) & mask
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const STRICT: AddressPolicy = AddressPolicy {
        allow_loopback: false,
    };
    const DEV: AddressPolicy = AddressPolicy {
        allow_loopback: true,
    };

    /// (address, forbidden under STRICT, forbidden under DEV)
    const CASES: &[(&str, bool, bool)] = &[
        // public
        ("8.8.8.8", false, false),
        ("1.1.1.1", false, false),
        ("93.184.216.34", false, false),
        ("172.15.255.255", false, false),
        ("172.32.0.0", false, false),
        ("100.63.255.255", false, false),
        ("100.128.0.0", false, false),
        ("169.253.255.255", false, false),
        ("198.17.255.255", false, false),
        ("198.20.0.0", false, false),
        ("223.255.255.255", false, false),
        // loopback
        ("127.0.0.1", true, false),
        ("127.255.255.254", true, false),
        // always forbidden IPv4
        ("0.0.0.0", true, true),
        ("0.1.2.3", true, true),
        ("10.0.0.1", true, true),
        ("10.255.255.255", true, true),
        ("100.64.0.1", true, true),
        ("100.127.255.255", true, true),
        ("169.254.169.254", true, true),
        ("169.254.0.1", true, true),
        ("172.16.0.1", true, true),
        ("172.31.255.255", true, true),
        ("192.0.0.8", true, true),
        ("192.0.2.1", true, true),
        ("192.88.99.1", true, true),
        ("192.168.1.1", true, true),
        ("198.18.0.1", true, true),
        ("198.19.255.255", true, true),
        ("198.51.100.7", true, true),
        ("203.0.113.9", true, true),
        ("224.0.0.1", true, true),
        ("239.255.255.250", true, true),
        ("240.0.0.1", true, true),
        ("255.255.255.255", true, true),
        // IPv6 public
        ("2606:4700:4700::1111", false, false),
        ("2001:4860:4860::8888", false, false),
        ("2a00:1450:4001:82a::200e", false, false),
        // IPv6 loopback / unspecified
        ("::1", true, false),
        ("::", true, true),
        // IPv6 special
        ("fc00::1", true, true),
        ("fd12:3456:789a::1", true, true),
        ("fe80::1", true, true),
        ("febf::1", true, true),
        ("fec0::1", true, true),
        ("ff02::1", true, true),
        ("ff05::1:3", true, true),
        ("100::1", true, true),
        ("2001:db8::1", true, true),
        ("2001::1", true, true),
        ("2001:2::1", true, true),
        ("3fff::1", true, true),
        ("64:ff9b:1::1", true, true),
        // IPv4-mapped / compatible: verdict of the embedded address
        ("::ffff:127.0.0.1", true, false),
        ("::ffff:10.0.0.1", true, true),
        ("::ffff:169.254.169.254", true, true),
        ("::ffff:8.8.8.8", false, false),
        ("::10.0.0.1", true, true),
        ("::8.8.8.8", false, false),
        // NAT64 / 6to4: embedded address judged strictly
        ("64:ff9b::a00:1", true, true),
        ("64:ff9b::a9fe:a9fe", true, true),
        ("64:ff9b::7f00:1", true, true),
        ("64:ff9b::808:808", false, false),
        ("2002:a00:1::1", true, true),
        ("2002:a9fe:a9fe::", true, true),
        ("2002:7f00:1::1", true, true),
        ("2002:808:808::1", false, false),
    ];

    #[test]
    fn address_table() {
        for &(text, strict, dev) in CASES {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(
                is_forbidden(ip, &STRICT),
                strict,
                "{text} under strict policy"
            );
            assert_eq!(
                is_forbidden(ip, &DEV),
                dev,
                "{text} under loopback-allowing policy"
            );
        }
    }

    #[test]
    fn an_accounts_private_targets_open_only_what_they_list() {
        let private = PrivateCallbackTargets::parse(
            "10.1.0.0/16,127.0.0.1/32,100.64.0.0/10,fd00::/8,receiver.corp.internal",
        )
        .unwrap();
        let permitted = |host: Option<&str>, text: &str| {
            is_permitted(host, text.parse().unwrap(), &STRICT, &private)
        };
        // Inside a listed network, by name or as a literal.
        for inside in [
            "10.1.0.1",
            "10.1.255.254",
            "127.0.0.1",
            "::ffff:10.1.2.3",
            "fd00::7",
        ] {
            assert!(permitted(None, inside), "{inside}");
            assert!(permitted(Some("any.example"), inside), "{inside}");
        }
        // The listed name reaches the customer's private ranges.
        assert!(permitted(Some("receiver.corp.internal"), "192.168.3.4"));
        assert!(!permitted(Some("other.corp.internal"), "192.168.3.4"));
        // Everything else keeps the guard.
        for outside in [
            "10.2.0.1",
            "127.0.0.2",
            "::1",
            "192.168.3.4",
            "172.16.0.1",
            "169.254.169.254",
            "169.254.0.1",
            "0.0.0.0",
            "fe80::1",
            "64:ff9b::a01:1",
        ] {
            assert!(!permitted(Some("any.example"), outside), "{outside}");
        }
        // Metadata services stay refused inside a listed network and by name.
        for metadata in ["100.100.100.200", "fd00:ec2::254", "::ffff:100.100.100.200"] {
            assert!(!permitted(None, metadata), "{metadata}");
            assert!(
                !permitted(Some("receiver.corp.internal"), metadata),
                "{metadata}"
            );
        }
        assert!(!permitted(
            Some("receiver.corp.internal"),
            "169.254.169.254"
        ));
        assert!(!permitted(Some("receiver.corp.internal"), "127.0.0.5"));
        // Public addresses need no listing; no listing opens nothing.
        assert!(permitted(None, "8.8.8.8"));
        let none = PrivateCallbackTargets::NONE;
        assert!(!is_permitted(
            None,
            "10.1.0.1".parse().unwrap(),
            &STRICT,
            &none
        ));
    }

    #[test]
    fn default_policy_is_strict() {
        assert_eq!(AddressPolicy::default(), STRICT);
    }
}
