//! Property tests of the parsers of customer input (SPEC §0): whatever they
//! are given, they never panic, and what they accept satisfies the contract.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;

use facegate_domain::{
    EnrollmentRef, Locale, LocaleSet, ParentOrigin, PiiCheck, PrivateCallbackTargets,
    PrivateTarget, RedirectUrl, TokenLifetime, TransactionRef, UrlField, UrlPolicy, UserReference,
};
use proptest::prelude::*;
use url::{Host, Url};

const RESERVED_QUERY_NAMES: [&str; 4] = [
    "transactionStatus",
    "customerInternalReference",
    "transactionReference",
    "errorCode",
];

const FIELDS: [UrlField; 3] = [UrlField::Callback, UrlField::Success, UrlField::Error];

fn any_field() -> impl Strategy<Value = UrlField> {
    prop::sample::select(FIELDS.to_vec())
}

/// URL-shaped text assembled from pieces that stress each rule: scheme
/// spellings, credentials, IP and odd hosts, ports, reserved and
/// percent-encoded query names, fragments, non-ASCII and long paths.
fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(vec![
        "https://",
        "https://",
        "https://",
        "HTTPS://",
        "Https://",
        "http://",
        "ftp://",
        "https:",
        "https:/",
        "https:///",
        "https:\\\\",
        "https:/\\",
        "//",
        "",
    ]);
    let userinfo = prop::sample::select(vec!["", "", "", "user@", "user:pw@", ":@", "@"]);
    let host = prop_oneof![
        4 => "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){1,3}",
        1 => Just("localhost".to_owned()),
        1 => Just("a.localhost".to_owned()),
        1 => Just("intranet".to_owned()),
        1 => Just("10.0.0.1".to_owned()),
        1 => Just("127.0.0.1.".to_owned()),
        1 => Just("0x7f.1".to_owned()),
        1 => Just("2130706433".to_owned()),
        1 => Just("[::1]".to_owned()),
        1 => Just("[fe80::1]".to_owned()),
        1 => Just("xn--bcher-kva.example".to_owned()),
        1 => Just("bücher.example".to_owned()),
        1 => Just("www%2Eexample.com".to_owned()),
        1 => Just("EXAMPLE.COM".to_owned()),
        1 => Just("a..example".to_owned()),
        1 => Just("".to_owned()),
    ];
    let port = prop::sample::select(vec!["", "", "", ":443", ":8443", ":", ":0", ":99999"]);
    let path = "(/[a-zA-Z0-9._~%-]{0,12}){0,3}";
    let query_name = prop_oneof![
        3 => "[a-zA-Z]{1,8}",
        1 => prop::sample::select(RESERVED_QUERY_NAMES.to_vec()).prop_map(str::to_owned),
        1 => Just("transaction%53tatus".to_owned()),
        1 => Just("error%43ode".to_owned()),
        1 => Just("TransactionStatus".to_owned()),
    ];
    let query = prop::collection::vec((query_name, "[a-z0-9]{0,4}"), 0..3).prop_map(|pairs| {
        if pairs.is_empty() {
            String::new()
        } else {
            let joined: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("?{}", joined.join("&"))
        }
    });
    let fragment = prop::sample::select(vec!["", "", "", "#", "#frag", "%23x"]);
    let padding = prop_oneof![
        8 => Just(String::new()),
        1 => "/[a-z]{250,300}",
        1 => "/[a-z]{2040,2100}",
        1 => Just(" ".to_owned()),
        1 => Just("\t".to_owned()),
    ];
    (scheme, userinfo, host, port, path, query, fragment, padding).prop_map(
        |(scheme, userinfo, host, port, path, query, fragment, padding)| {
            format!("{scheme}{userinfo}{host}{port}{path}{padding}{query}{fragment}")
        },
    )
}

/// What every URL accepted with the default policy must satisfy.
fn check_url_contract(raw: &str, field: UrlField) -> Result<(), TestCaseError> {
    let Ok(accepted) = RedirectUrl::parse(raw, field, UrlPolicy::default()) else {
        return Ok(());
    };
    let name = field.name();
    prop_assert_eq!(accepted.as_str(), raw, "{} stored another text", name);
    prop_assert!(raw.is_ascii(), "{} accepted non-ASCII {:?}", name, raw);
    // RFC 3986 §3.1: the scheme is case-insensitive (`HTTPS://` is https).
    prop_assert!(
        raw.get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://")),
        "{} accepted {:?}, which does not start with https://",
        name,
        raw
    );
    prop_assert!(
        !raw.contains('#'),
        "{} accepted {:?} with a fragment",
        name,
        raw
    );
    prop_assert!(
        raw.len() <= field.max_len(),
        "{} accepted {} characters",
        name,
        raw.len()
    );
    let url = Url::parse(raw);
    prop_assert!(url.is_ok(), "{} accepted unparsable {:?}", name, raw);
    let url = url.unwrap();
    prop_assert_eq!(url.scheme(), "https", "{} accepted {:?}", name, raw);
    prop_assert!(
        matches!(url.host(), Some(Host::Domain(_))),
        "{} accepted {:?} whose host is {:?}",
        name,
        raw,
        url.host()
    );
    prop_assert!(
        url.username().is_empty() && url.password().is_none(),
        "{} accepted {:?} with credentials",
        name,
        raw
    );
    // `Url` drops a default port, so the authority is read from the raw text.
    let authority = raw["https://".len()..]
        .split(['/', '?', '#', '\\'])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    prop_assert!(
        url.port().is_none() && !host_port.contains(':'),
        "{} accepted {:?} with an explicit port",
        name,
        raw
    );
    // The names Facegate appends to redirects stay out of the redirects;
    // a callback URL may carry them, as with the reference API.
    for (key, _) in url.query_pairs().filter(|_| field != UrlField::Callback) {
        prop_assert!(
            !RESERVED_QUERY_NAMES.contains(&key.as_ref()),
            "{} accepted {:?} with the reserved query name {}",
            name,
            raw,
            key
        );
    }
    Ok(())
}

/// What an accepted parent origin must be, whatever text it came from: the
/// browser's own serialisation of the origin of `raw`, which `raw` spelled
/// with nothing but scheme, host and port, over https unless it is
/// development's localhost; and parsing it again gives it back.
fn check_origin_contract(raw: &str, policy: UrlPolicy) -> Result<(), TestCaseError> {
    let Ok(accepted) = ParentOrigin::parse(raw, policy) else {
        return Ok(());
    };
    let url = Url::parse(raw).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
    prop_assert_eq!(accepted.as_str(), url.origin().ascii_serialization());
    let authority = raw.split_once("://").map(|(_, a)| a).unwrap_or_default();
    prop_assert!(
        !authority.is_empty() && !authority.ends_with(':'),
        "{raw:?}"
    );
    prop_assert!(!authority.contains(['/', '?', '#', '@', '\\']), "{raw:?}");
    let localhost = url.host_str() == Some("localhost");
    prop_assert!(
        url.scheme() == "https" || (policy.allow_localhost && localhost && url.scheme() == "http"),
        "{raw:?}"
    );
    prop_assert!(!localhost || policy.allow_localhost, "{raw:?}");
    prop_assert!(matches!(url.host(), Some(Host::Domain(_))), "{raw:?}");
    prop_assert_eq!(
        ParentOrigin::parse(accepted.as_str(), policy),
        Ok(accepted.clone())
    );
    Ok(())
}

proptest! {
    // No regression files: failures print their minimal input instead.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn redirect_url_parse_never_panics_on_arbitrary_text(raw in any::<String>(), field in any_field()) {
        let _ = RedirectUrl::parse(&raw, field, UrlPolicy::default());
        let _ = RedirectUrl::parse(&raw, field, UrlPolicy { allow_localhost: true });
    }

    #[test]
    fn arbitrary_text_accepted_as_a_url_satisfies_the_url_rules(raw in any::<String>(), field in any_field()) {
        check_url_contract(&raw, field)?;
    }

    #[test]
    fn url_shaped_text_accepted_as_a_url_satisfies_the_url_rules(raw in url_like(), field in any_field()) {
        let _ = RedirectUrl::parse(&raw, field, UrlPolicy { allow_localhost: true });
        check_url_contract(&raw, field)?;
    }

    #[test]
    fn valid_https_urls_are_always_accepted(
        labels in prop::collection::vec("[a-z][a-z0-9]{0,14}", 1..4),
        tld in "[a-z]{2,6}",
        path in prop::collection::vec("[a-zA-Z0-9._~-]{1,12}", 0..5),
        query in prop::collection::vec(("[a-z]{1,8}", "[a-zA-Z0-9._~-]{0,8}"), 0..4),
        field in any_field(),
    ) {
        let mut raw = format!("https://{}.{tld}/{}", labels.join("."), path.join("/"));
        if !query.is_empty() {
            let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            raw = format!("{raw}?{}", pairs.join("&"));
        }
        // Lower-case names can never equal the camel-case reserved ones.
        prop_assume!(raw.len() <= field.max_len());
        let parsed = RedirectUrl::parse(&raw, field, UrlPolicy::default());
        prop_assert!(parsed.is_ok(), "{} refused {raw:?}: {:?}", field.name(), parsed);
    }

    #[test]
    fn a_url_longer_than_its_field_limit_is_refused_with_url_too_long(
        field in any_field(),
        extra in 1usize..64,
    ) {
        let prefix = "https://www.example.com/";
        let raw = format!("{prefix}{}", "a".repeat(field.max_len() - prefix.len() + extra));
        let err = RedirectUrl::parse(&raw, field, UrlPolicy::default()).unwrap_err();
        prop_assert_eq!(err.code, "URL_TOO_LONG");
        prop_assert_eq!(err.field.as_str(), field.name());
        let exact = &raw[..field.max_len()];
        prop_assert!(RedirectUrl::parse(exact, field, UrlPolicy::default()).is_ok());
    }

    #[test]
    fn text_accepted_as_a_parent_origin_is_exactly_an_origin(raw in any::<String>(), dev in any::<bool>()) {
        check_origin_contract(&raw, UrlPolicy { allow_localhost: dev })?;
    }

    #[test]
    fn url_shaped_text_accepted_as_a_parent_origin_is_exactly_an_origin(raw in url_like(), dev in any::<bool>()) {
        check_origin_contract(&raw, UrlPolicy { allow_localhost: dev })?;
    }

    #[test]
    fn valid_origins_are_accepted_in_the_browser_spelling(
        labels in prop::collection::vec("[a-zA-Z][a-zA-Z0-9-]{0,14}[a-zA-Z0-9]", 1..4),
        tld in "[a-zA-Z]{2,6}",
        port in prop::option::of(1u16..),
    ) {
        // `xn--` starts a punycode label, which must also decode.
        prop_assume!(!labels.iter().any(|l| l.to_ascii_lowercase().starts_with("xn--")));
        let host = format!("{}.{tld}", labels.join("."));
        let raw = match port {
            Some(p) => format!("https://{host}:{p}"),
            None => format!("https://{host}"),
        };
        let expected = match port {
            Some(p) if p != 443 => format!("https://{}:{p}", host.to_ascii_lowercase()),
            _ => format!("https://{}", host.to_ascii_lowercase()),
        };
        let parsed = ParentOrigin::parse(&raw, UrlPolicy::default()).map(|o| o.as_str().to_owned());
        prop_assert_eq!(parsed, Ok(expected));
        // Anything after the authority turns the origin into a URL.
        for tail in ["/", "/x", "?", "#", "?a=1"] {
            let with_tail = format!("{raw}{tail}");
            prop_assert!(ParentOrigin::parse(&with_tail, UrlPolicy::default()).is_err(), "{}", with_tail);
        }
    }

    #[test]
    fn transaction_references_round_trip_through_display(bytes in any::<[u8; 16]>()) {
        let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let reference = TransactionRef::from_uuid(uuid);
        let text = reference.to_string();
        prop_assert_eq!(text.len(), 36);
        prop_assert_eq!(text.parse::<TransactionRef>(), Ok(reference));
        let enrollment = EnrollmentRef::from_uuid(uuid);
        prop_assert_eq!(enrollment.to_string().parse::<EnrollmentRef>(), Ok(enrollment));
        // Any case is read; the canonical form is lower case.
        let upper = text.to_ascii_uppercase();
        prop_assert_eq!(upper.parse::<TransactionRef>().map(|r| r.to_string()), Ok(text));
    }

    #[test]
    fn a_reference_is_read_only_from_exactly_36_characters(raw in any::<String>()) {
        let transaction = raw.parse::<TransactionRef>();
        let enrollment = raw.parse::<EnrollmentRef>();
        if raw.len() != 36 {
            prop_assert!(transaction.is_err(), "accepted {raw:?}");
            prop_assert!(enrollment.is_err(), "accepted {raw:?}");
        }
        if let Ok(r) = transaction {
            prop_assert_eq!(r.to_string(), raw.to_ascii_lowercase());
        }
    }

    #[test]
    fn other_uuid_spellings_are_not_references(bytes in any::<[u8; 16]>()) {
        let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
        for other in [
            uuid.simple().to_string(),
            uuid.braced().to_string(),
            uuid.urn().to_string(),
            format!(" {}", &uuid.hyphenated().to_string()[1..]),
            format!("{} ", &uuid.hyphenated().to_string()[..35]),
        ] {
            prop_assert!(other.parse::<TransactionRef>().is_err(), "accepted {other:?}");
            prop_assert!(other.parse::<EnrollmentRef>().is_err(), "accepted {other:?}");
        }
    }

    #[test]
    fn user_reference_parse_never_panics(raw in any::<String>()) {
        let _ = UserReference::parse(&raw, "userReference", PiiCheck::Off);
        let _ = UserReference::parse(&raw, "userReference", PiiCheck::Refuse);
    }

    /// By default only length, emptiness and control characters are
    /// checked, and what is accepted is kept exactly as sent.
    #[test]
    fn by_default_a_user_reference_is_kept_verbatim(raw in "[^\\p{Cc}]{1,100}") {
        prop_assume!(!raw.trim().is_empty());
        let parsed = UserReference::parse(&raw, "userReference", PiiCheck::default());
        prop_assert_eq!(parsed.map(|r| r.as_str().to_owned()), Ok(raw));
    }

    #[test]
    fn an_email_address_in_a_user_reference_is_always_refused(
        before in "[a-zA-Z0-9 _.:-]{0,20}",
        local in "[a-z0-9][a-z0-9._+-]{0,15}",
        labels in prop::collection::vec("[a-z0-9][a-z0-9-]{0,10}", 1..3),
        tld in "[a-z]{2,6}",
        after in "[a-zA-Z0-9 _.:-]{0,20}",
    ) {
        let raw = format!("{before} {local}@{}.{tld} {after}", labels.join("."));
        prop_assume!(raw.chars().count() <= UserReference::MAX_LEN);
        let err = UserReference::parse(&raw, "userReference", PiiCheck::Refuse).unwrap_err();
        prop_assert_eq!(err.code, "REFERENCE_LOOKS_LIKE_PII", "for {:?}", raw);
    }

    #[test]
    fn an_international_phone_number_as_user_reference_is_always_refused(
        digits in "[0-9]{7,15}",
        grouped in any::<bool>(),
    ) {
        let raw = if grouped {
            // +41 79 123 45 67 style
            let chunks: Vec<String> = digits
                .as_bytes()
                .chunks(3)
                .map(|c| String::from_utf8(c.to_vec()).unwrap())
                .collect();
            format!("+{}", chunks.join(" "))
        } else {
            format!("+{digits}")
        };
        let err = UserReference::parse(&raw, "userReference", PiiCheck::Refuse).unwrap_err();
        prop_assert_eq!(err.code, "REFERENCE_LOOKS_LIKE_PII", "for {:?}", raw);
    }

    /// With the account's PII check on, identifiers are still accepted, plain
    /// digit strings included (numeric user ids are common). The one
    /// exception of the rules: 7–15 digits starting with the international
    /// prefix `00` read as a phone number.
    #[test]
    fn identifier_like_user_references_are_accepted(raw in "[a-zA-Z0-9_]{1,100}") {
        let international_number = raw.starts_with("00")
            && raw.bytes().all(|b| b.is_ascii_digit())
            && (7..=15).contains(&raw.len());
        let parsed = UserReference::parse(&raw, "userReference", PiiCheck::Refuse);
        if international_number {
            prop_assert_eq!(parsed.unwrap_err().code, "REFERENCE_LOOKS_LIKE_PII");
        } else {
            prop_assert_eq!(parsed.map(|r| r.as_str().to_owned()), Ok(raw));
        }
    }

    #[test]
    fn plain_digit_user_references_are_accepted(raw in "[1-9][0-9]{0,99}") {
        prop_assert!(
            UserReference::parse(&raw, "userReference", PiiCheck::Refuse).is_ok(),
            "refused {raw:?}"
        );
    }

    #[test]
    fn user_references_longer_than_100_characters_are_refused(raw in "[a-z]{101,300}") {
        let err = UserReference::parse(&raw, "userReference", PiiCheck::Off).unwrap_err();
        prop_assert_eq!(err.code, "REFERENCE_TOO_LONG");
    }

    #[test]
    fn every_authentication_locale_is_accepted_in_any_case(
        index in any::<prop::sample::Index>(),
        upper in any::<bool>(),
        underscore in any::<bool>(),
    ) {
        let all = Locale::all(LocaleSet::Authentication);
        let canonical = all[index.index(all.len())];
        let mut raw = if upper { canonical.to_ascii_uppercase() } else { canonical.to_ascii_lowercase() };
        if underscore {
            raw = raw.replace('-', "_");
        }
        for set in [LocaleSet::Authentication, LocaleSet::Enrollment] {
            let parsed = Locale::parse(&raw, set).map(|l| l.as_str());
            prop_assert_eq!(parsed, Ok(canonical), "for {:?}", raw);
        }
    }

    #[test]
    fn locale_parse_never_panics_and_answers_a_listed_locale(raw in any::<String>()) {
        if let Ok(locale) = Locale::parse(&raw, LocaleSet::Authentication) {
            prop_assert!(Locale::all(LocaleSet::Authentication).contains(&locale.as_str()));
        }
    }

    #[test]
    fn token_lifetime_is_accepted_exactly_from_5_to_86400(minutes in any::<i64>()) {
        let parsed = TokenLifetime::parse(minutes);
        prop_assert_eq!(parsed.is_ok(), (5..=86_400).contains(&minutes), "for {}", minutes);
        if let Ok(lifetime) = parsed {
            prop_assert_eq!(i64::from(lifetime.minutes()), minutes);
        } else {
            prop_assert_eq!(parsed.unwrap_err().code, "TOKEN_LIFETIME_OUT_OF_RANGE");
        }
    }

    #[test]
    fn token_lifetime_bounds_are_exact(minutes in -10i64..100_000) {
        prop_assert_eq!(TokenLifetime::parse(minutes).is_ok(), (5..=86_400).contains(&minutes));
    }
}

#[test]
fn the_enrollment_only_locales_are_refused_for_authentication() {
    let auth = Locale::all(LocaleSet::Authentication);
    for locale in Locale::all(LocaleSet::Enrollment) {
        let expected = auth.contains(&locale);
        assert_eq!(
            Locale::parse(locale, LocaleSet::Authentication).is_ok(),
            expected,
            "{locale}"
        );
    }
}

/// RFC 3986 reads no authority in `https:host:port` (no `//`), yet the WHATWG
/// parser behind `Url` reads a host and a port from it, and from backslashes.
/// Such text must not slip past the port rule.
#[test]
fn a_url_without_its_double_slash_cannot_hide_a_port() {
    for raw in [
        "https:www.example.com:8443/cb",
        "https:/www.example.com:8443/cb",
        "https:///www.example.com:8443/cb",
        "https:\\\\www.example.com:8443\\cb",
    ] {
        for field in FIELDS {
            let parsed = RedirectUrl::parse(raw, field, UrlPolicy::default());
            assert!(
                parsed.is_err(),
                "{} accepted {raw:?}, a URL with port {:?}",
                field.name(),
                Url::parse(raw).ok().and_then(|u| u.port())
            );
        }
    }
}

/// The ranges an account may list private callback networks in, written out
/// here apart from the parser's own table.
const LISTABLE: [&str; 7] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "fc00::/7",
    "::1/128",
];

fn inside_listable(net: &ipnet::IpNet) -> bool {
    LISTABLE
        .iter()
        .any(|r| r.parse::<ipnet::IpNet>().unwrap().contains(net))
}

/// One entry as an operator might write it: networks (sound, too wide, with
/// host bits), addresses, host names, and garbage.
fn target_entry() -> impl Strategy<Value = String> {
    let v4 = (any::<[u8; 4]>(), 0u8..=34)
        .prop_map(|(o, len)| format!("{}.{}.{}.{}/{len}", o[0], o[1], o[2], o[3]));
    let private_v4 = (
        prop::sample::select(vec![10u8, 127, 172, 192, 100, 169]),
        any::<[u8; 3]>(),
        prop::option::of(0u8..=32),
    )
        .prop_map(|(first, rest, len)| {
            let addr = format!("{first}.{}.{}.{}", rest[0], rest[1], rest[2]);
            match len {
                Some(len) => format!("{addr}/{len}"),
                None => addr,
            }
        });
    let v6 = (
        prop::sample::select(vec![0xfd00u16, 0xfc00, 0xfe80, 0x2001, 0, 0xff02]),
        any::<[u16; 3]>(),
        prop::option::of(0u8..=129),
    )
        .prop_map(|(first, rest, len)| {
            let addr = format!("{first:x}:{:x}:{:x}:{:x}::", rest[0], rest[1], rest[2]);
            match len {
                Some(len) => format!("{addr}/{len}"),
                None => format!("{addr}1"),
            }
        });
    let host = "[a-zA-Z0-9-]{1,12}(\\.[a-zA-Z0-9-]{1,12}){0,3}\\.?";
    prop_oneof![
        v4,
        private_v4,
        v6,
        host.prop_map(|h| h),
        "[ -~]{0,20}".prop_map(|g| g),
    ]
}

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
        (
            prop::sample::select(vec![10u8, 127, 172, 192, 100]),
            any::<[u8; 3]>()
        )
            .prop_map(|(a, r)| IpAddr::from([a, r[0], r[1], r[2]])),
        prop::sample::select(vec![
            "169.254.169.254",
            "100.100.100.200",
            "fd00:ec2::254",
            "::ffff:100.100.100.200",
            "::1",
            "127.0.0.1",
        ])
        .prop_map(|s| s.parse::<IpAddr>().unwrap()),
    ]
}

proptest! {
    #[test]
    fn private_callback_targets_parse_never_panics(raw in any::<String>()) {
        let _ = PrivateCallbackTargets::parse(&raw);
    }

    /// What is accepted is bounded, private, reads back the same from its
    /// canonical text, and admits only what it lists (metadata never).
    #[test]
    fn accepted_private_callback_targets_keep_their_contract(
        entries in prop::collection::vec(target_entry(), 0..24),
        probes in prop::collection::vec(any_ip(), 1..8),
        host in prop::option::of("[a-z0-9.-]{1,20}"),
    ) {
        // A list fails as a whole when one entry does: a list of entries
        // that each pass alone passes unless it is too long.
        let valid: Vec<&str> = entries
            .iter()
            .map(String::as_str)
            .filter(|e| !e.trim().is_empty() && PrivateCallbackTargets::parse(e).is_ok())
            .collect();
        let joined = entries.join(",");
        let all = PrivateCallbackTargets::parse(&joined);
        if valid.len() < entries.len() && !joined.trim().is_empty() {
            prop_assert!(all.is_err(), "{entries:?}");
        }
        let raw = valid.join(",");
        let targets = match PrivateCallbackTargets::parse(&raw) {
            Ok(targets) => targets,
            Err(e) => {
                prop_assert!(valid.len() > PrivateCallbackTargets::MAX_ENTRIES, "{raw:?}: {e:?}");
                prop_assert_eq!(e.code, "PRIVATE_TARGETS_TOO_MANY");
                return Ok(());
            }
        };
        prop_assert!(targets.entries().len() <= PrivateCallbackTargets::MAX_ENTRIES);
        let reread = PrivateCallbackTargets::parse(&targets.to_string());
        prop_assert_eq!(reread.as_ref(), Ok(&targets));
        for entry in targets.entries() {
            match entry {
                PrivateTarget::Network(net) => {
                    prop_assert!(inside_listable(net), "{net} from {raw:?}");
                    prop_assert_eq!(net.trunc(), *net);
                }
                PrivateTarget::Host(h) => {
                    prop_assert_eq!(h.to_ascii_lowercase(), h.clone());
                    prop_assert!(h.contains('.') && !h.ends_with('.'), "{h}");
                    prop_assert!(h.parse::<IpAddr>().is_err());
                }
            }
        }
        for ip in probes {
            let canonical = ip.to_canonical();
            let listed = targets.entries().iter().any(|e| {
                matches!(e, PrivateTarget::Network(n) if n.contains(&canonical))
            });
            let metadata = ["169.254.169.254", "100.100.100.200"]
                .iter()
                .any(|m| m.parse::<IpAddr>().unwrap() == canonical)
                || "fd00:ec2::/32".parse::<ipnet::IpNet>().unwrap().contains(&canonical);
            if targets.admits(None, ip) {
                prop_assert!(listed && !metadata, "{ip} admitted by {targets}");
            }
            if targets.admits(host.as_deref(), ip) {
                prop_assert!(!metadata, "{ip} admitted by {targets}");
                prop_assert!(!canonical.is_loopback() || listed, "{ip} by name");
            }
            prop_assert_eq!(targets.lists_address(ip), listed && !metadata);
        }
    }

    /// A sound private network is always accepted, and admits its addresses.
    #[test]
    fn a_private_network_is_accepted_and_admits_its_addresses(
        range in prop::sample::select(LISTABLE.to_vec()),
        extra in 0u8..=16,
        bits in any::<u128>(),
    ) {
        let range: ipnet::IpNet = range.parse().unwrap();
        let len = (range.prefix_len() + extra).min(range.max_prefix_len());
        let inside = match range {
            ipnet::IpNet::V4(r) => {
                let network = u32::from(r.network());
                let host = bits as u32 & u32::from(r.hostmask());
                IpAddr::from(std::net::Ipv4Addr::from(network | host))
            }
            ipnet::IpNet::V6(r) => {
                let network = u128::from(r.network());
                let host = bits & u128::from(r.hostmask());
                IpAddr::from(std::net::Ipv6Addr::from(network | host))
            }
        };
        let net = ipnet::IpNet::new(inside, len).unwrap().trunc();
        let targets = PrivateCallbackTargets::parse(&net.to_string());
        let metadata = ["100.100.100.200/32", "fd00:ec2::/32"]
            .iter()
            .any(|m| m.parse::<ipnet::IpNet>().unwrap().contains(&net));
        if metadata {
            prop_assert!(targets.is_err());
        } else {
            let targets = targets.unwrap();
            prop_assert_eq!(targets.admits(None, inside), inside.to_string() != "100.100.100.200"
                && !"fd00:ec2::/32".parse::<ipnet::IpNet>().unwrap().contains(&inside));
        }
    }
}
