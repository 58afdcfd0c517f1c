//! Customer-supplied values, parsed once into types that are trusted afterwards
//! (SPEC §0): redirect and callback URLs, user references, locales, lifetimes.

use std::fmt;

use std::net::IpAddr;

use serde::Serialize;
use url::{Host, Url};

/// Why one field of a request was refused. `code` is stable and documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub detail: String,
}

impl FieldError {
    pub fn new(field: &str, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            detail: detail.into(),
        }
    }

    pub fn required(field: &str) -> Self {
        Self::new(field, "FIELD_REQUIRED", format!("{field} is required"))
    }
}

/// Which URL field is parsed: each has its own length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlField {
    Callback,
    Success,
    Error,
}

impl UrlField {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Callback => "callbackUrl",
            Self::Success => "successUrl",
            Self::Error => "errorUrl",
        }
    }

    pub const fn max_len(self) -> usize {
        match self {
            Self::Callback | Self::Error => 255,
            Self::Success => 2047,
        }
    }
}

/// Development relaxations of the URL rules; both off in production.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    /// Accept `http://localhost[:port]` and `https://localhost[:port]`, for tests.
    pub allow_localhost: bool,
}

/// The IP addresses a callback URL may name as its host. By the URL rules
/// none; an account's private callback networks (the `callback_targets`
/// module) list some, for a receiver inside the customer's network.
pub trait ListedAddresses {
    fn lists_address(&self, ip: IpAddr) -> bool;
}

/// Lists no address: the URL rules as they are.
struct NoAddresses;

impl ListedAddresses for NoAddresses {
    fn lists_address(&self, _: IpAddr) -> bool {
        false
    }
}

/// Query names Facegate appends to redirects itself; a customer URL may not carry them.
const RESERVED_QUERY_NAMES: [&str; 4] = [
    "transactionStatus",
    "customerInternalReference",
    "transactionReference",
    "errorCode",
];

/// A customer URL that satisfies SPEC §0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RedirectUrl(String);

impl RedirectUrl {
    pub fn parse(raw: &str, field: UrlField, policy: UrlPolicy) -> Result<Self, FieldError> {
        Self::parse_for(raw, field, policy, &NoAddresses)
    }

    /// As [`Self::parse`], for an account: its callback URL may name an
    /// address literal inside one of the account's private networks (the
    /// other rules, https and no port, still hold).
    pub fn parse_for(
        raw: &str,
        field: UrlField,
        policy: UrlPolicy,
        private: &dyn ListedAddresses,
    ) -> Result<Self, FieldError> {
        let name = field.name();
        let err = |code, detail: &str| FieldError::new(name, code, detail);
        if raw.len() > field.max_len() {
            return Err(err(
                "URL_TOO_LONG",
                &format!("{name} is longer than {} characters", field.max_len()),
            ));
        }
        if !raw.is_ascii() || raw.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(err(
                "URL_INVALID",
                "the URL must be ASCII without spaces (use punycode for international hosts)",
            ));
        }
        let url = Url::parse(raw).map_err(|_| err("URL_INVALID", "not a valid absolute URL"))?;
        // `Url` follows WHATWG and accepts forms RFC 3986 does not (`https:host`,
        // `https:///host`, backslashes); those would also slip past the port
        // and userinfo checks on the raw text.
        let rest = &raw[url.scheme().len()..];
        let authority = rest.strip_prefix("://").unwrap_or_default();
        if authority.is_empty() || authority.starts_with('/') || raw.contains('\\') {
            return Err(err("URL_INVALID", "not a valid absolute URL"));
        }
        if authority
            .split(['/', '?'])
            .next()
            .is_some_and(|a| a.contains('@'))
        {
            return Err(err("URL_INVALID", "the URL must not carry credentials"));
        }
        let localhost = policy.allow_localhost && url.host_str() == Some("localhost");
        if url.scheme() != "https" && !(localhost && url.scheme() == "http") {
            return Err(err("URL_NOT_HTTPS", "the URL must use https"));
        }
        if raw.contains('#') {
            return Err(err("URL_FRAGMENT", "the URL must not have a fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err("URL_INVALID", "the URL must not carry credentials"));
        }
        match url.host() {
            Some(Host::Domain(host)) => {
                check_domain(host, localhost).map_err(|d| err("URL_HOST_INVALID", d))?
            }
            Some(Host::Ipv4(ip))
                if field == UrlField::Callback && private.lists_address(ip.into()) => {}
            Some(Host::Ipv6(ip))
                if field == UrlField::Callback && private.lists_address(ip.into()) => {}
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
                return Err(err(
                    "URL_IP_HOST",
                    "the URL host must be a domain name, not an IP address (a callback URL may \
                     name an address of the account's private callback networks)",
                ))
            }
            None => return Err(err("URL_HOST_INVALID", "the URL has no host")),
        }
        if !localhost && has_explicit_port(raw) {
            return Err(err("URL_PORT", "the URL must not name a port"));
        }
        // Only the redirects get these names appended; a callback URL may
        // carry them (the reference API does not check it).
        let redirect = field != UrlField::Callback;
        if let Some(reserved) = url
            .query_pairs()
            .map(|(k, _)| k)
            .find(|k| redirect && RESERVED_QUERY_NAMES.contains(&k.as_ref()))
        {
            return Err(err(
                "URL_RESERVED_QUERY",
                &format!("the query parameter {reserved} is reserved"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a URL already validated when it was stored.
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for RedirectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn check_domain(host: &str, localhost: bool) -> Result<(), &'static str> {
    if localhost {
        return Ok(());
    }
    // `a.localhost.` is `a.localhost` to a resolver: a trailing dot would
    // slip every suffix rule below.
    if host.ends_with('.') {
        return Err("the URL host must not end with a dot");
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.len() > 63) {
        return Err("the URL host must be a fully qualified domain name");
    }
    let lower = host.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Err("the URL host must be public");
    }
    if spells_an_ip_address(&labels) {
        return Err("the URL host must not spell an IP address (wildcard DNS names resolve to it)");
    }
    Ok(())
}

/// Names like `127.0.0.1.nip.io` or `10-0-0-1.sslip.io` resolve, through
/// public wildcard DNS, to the address they spell: a callback URL naming one
/// aims at that address as surely as an IP literal would.
fn spells_an_ip_address(labels: &[&str]) -> bool {
    let octet = |s: &str| !s.is_empty() && s.len() <= 3 && s.parse::<u8>().is_ok();
    let dotted = labels.windows(4).any(|w| w.iter().all(|l| octet(l)));
    let dashed = labels.iter().any(|l| {
        let parts: Vec<&str> = l.split('-').collect();
        parts.windows(4).any(|w| w.iter().all(|p| octet(p)))
    });
    dotted || dashed
}

/// `Url` drops a default port (`:443`), so the raw authority is inspected.
fn has_explicit_port(raw: &str) -> bool {
    let Some(rest) = raw.split_once("://").map(|(_, r)| r) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let after_bracket = host_port.rsplit(']').next().unwrap_or_default();
    after_bracket.contains(':')
}

/// The origin (`https://host[:port]`) of the page that frames the web
/// client: the only window its result message, which carries the
/// authorization token, is posted to. Kept in the browser's own spelling
/// (lower-case host, no default port), since `postMessage` compares origins
/// as strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ParentOrigin(String);

impl ParentOrigin {
    pub const FIELD: &'static str = "parentOrigin";
    /// Far above any real origin; it bounds what the database holds.
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str, policy: UrlPolicy) -> Result<Self, FieldError> {
        let err = |detail: &str| FieldError::new(Self::FIELD, "ORIGIN_INVALID", detail);
        if raw.len() > Self::MAX_LEN {
            return Err(err(&format!(
                "an origin has at most {} characters",
                Self::MAX_LEN
            )));
        }
        if !raw.is_ascii() || raw.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(err(
                "the origin must be ASCII without spaces (use punycode for international hosts)",
            ));
        }
        // An origin is exactly scheme, host and port: anything after the
        // authority (even a lone `/`), or credentials, means the value is a
        // URL and not an origin, and would never match a sender.
        let shape = "an origin is scheme://host[:port] and nothing else, e.g. https://shop.example";
        let authority = raw
            .split_once("://")
            .map(|(_, rest)| rest)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| err(shape))?;
        if authority.contains(['/', '?', '#', '@', '\\']) || authority.ends_with(':') {
            return Err(err(shape));
        }
        let url = Url::parse(raw).map_err(|_| err(shape))?;
        let localhost = policy.allow_localhost && url.host_str() == Some("localhost");
        if url.scheme() != "https" && !(localhost && url.scheme() == "http") {
            return Err(err("the origin must use https"));
        }
        match url.host() {
            Some(Host::Domain(host)) => check_origin_host(host, localhost).map_err(err)?,
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
                return Err(err(
                    "the origin's host must be a domain name, not an IP address",
                ))
            }
            None => return Err(err(shape)),
        }
        // `Url` lower-cases the host and drops a default port, as a browser
        // does when it names the sender's origin.
        Ok(Self(url.origin().ascii_serialization()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps an origin already validated when it was stored.
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for ParentOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The server never connects to a parent origin, so unlike a callback URL's
/// host an address-like name does no harm; the name must still be one a
/// browser would show as a public site's origin.
fn check_origin_host(host: &str, localhost: bool) -> Result<(), &'static str> {
    if localhost {
        return Ok(());
    }
    if host.ends_with('.') {
        return Err("the origin's host must not end with a dot");
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.len() > 63) {
        return Err("the origin's host must be a fully qualified domain name");
    }
    let lower = host.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Err("the origin's host must be public (localhost only in development)");
    }
    Ok(())
}

/// Whether user references that look like personal data are refused. Keeping
/// PII out of them is the customer's duty (as in the guides); an account may
/// have the server check it too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PiiCheck {
    /// Any reference within the length and character rules is accepted.
    #[default]
    Off,
    /// E-mail addresses and phone numbers are refused (`REFERENCE_LOOKS_LIKE_PII`).
    Refuse,
}

impl PiiCheck {
    pub fn refusing(refuse: bool) -> Self {
        if refuse {
            Self::Refuse
        } else {
            Self::Off
        }
    }
}

/// A customer's reference for a user: at most 100 characters, no control
/// characters, and, where the account asks for it, nothing that looks like PII.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct UserReference(String);

impl UserReference {
    pub const MAX_LEN: usize = 100;

    /// An optional reference as the reference API takes it: empty or blank
    /// means none (Jumio accepts `""`), anything else must parse.
    pub fn parse_optional(
        raw: Option<&str>,
        field: &str,
        pii: PiiCheck,
    ) -> Result<Option<Self>, FieldError> {
        match raw {
            Some(r) if !r.trim().is_empty() => Self::parse(r, field, pii).map(Some),
            _ => Ok(None),
        }
    }

    pub fn parse(raw: &str, field: &str, pii: PiiCheck) -> Result<Self, FieldError> {
        if raw.trim().is_empty() {
            return Err(FieldError::new(
                field,
                "FIELD_EMPTY",
                format!("{field} must not be empty"),
            ));
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(FieldError::new(
                field,
                "REFERENCE_TOO_LONG",
                format!("{field} is longer than {} characters", Self::MAX_LEN),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "REFERENCE_INVALID",
                "control characters are not allowed",
            ));
        }
        if pii == PiiCheck::Refuse && looks_like_pii(raw) {
            return Err(FieldError::new(
                field,
                "REFERENCE_LOOKS_LIKE_PII",
                format!("{field} must not contain personal data such as e-mail addresses or phone numbers"),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }
}

/// The heuristic of [`PiiCheck::Refuse`].
fn looks_like_pii(s: &str) -> bool {
    looks_like_email(s) || looks_like_phone(s)
}

/// Any word of the shape `local@domain.tld`.
fn looks_like_email(s: &str) -> bool {
    s.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '"'))
        .any(|word| match word.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain
                        .split_once('.')
                        .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
            }
            None => false,
        })
}

/// International (`+…`, `00…`) numbers, or 7–15 digits written with phone
/// punctuation (`(555) 123-4567`). Plain digit strings stay allowed: customers
/// commonly use numeric user ids.
fn looks_like_phone(s: &str) -> bool {
    let t = s.trim();
    let is_phone_char =
        |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.' | '/');
    let digits = t.chars().filter(char::is_ascii_digit).count();
    let body = t.strip_prefix('+').unwrap_or(t);
    if !body.chars().all(is_phone_char) || !(7..=15).contains(&digits) {
        return false;
    }
    let international = t.starts_with('+') || t.starts_with("00");
    let punctuated = body.chars().any(|c| !c.is_ascii_digit());
    international || punctuated
}

/// Which locales a flow accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocaleSet {
    Authentication,
    Enrollment,
}

/// The one list of the 32 authentication locales (SPEC §0), in canonical
/// spelling, then `$extra`: calls `$then!` with them. Used through
/// [`with_authentication_locales`] and [`with_all_locales`].
#[doc(hidden)]
#[macro_export]
macro_rules! __locales_then {
    ($then:ident $(, $extra:literal)*) => {
        $then!(
            "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-MX", "et", "fi", "fr", "hu",
            "hy", "it", "ja", "ka", "ko", "lt", "nl", "no", "pl", "pt", "pt-BR", "ro", "ru", "sk",
            "sv", "tr", "vi", "zh-CN", "zh-HK" $(, $extra)*
        )
    };
}

/// The 32 authentication locales: calls `$then!` with them, so that other
/// crates build their tables from this list instead of a copy.
#[macro_export]
macro_rules! with_authentication_locales {
    ($then:ident) => {
        $crate::__locales_then!($then)
    };
}

/// Every locale of the web client: the authentication locales, then the 7
/// that only ID verifications name (the v4 guide's 39). Calls `$then!`
/// like [`with_authentication_locales`].
#[macro_export]
macro_rules! with_all_locales {
    ($then:ident) => {
        $crate::__locales_then!($then, "ar", "he", "hr", "id", "km", "ms", "th")
    };
}

macro_rules! str_array {
    ($($locale:literal),*) => {
        [$($locale),*]
    };
}

const AUTH_LOCALES: [&str; 32] = with_authentication_locales!(str_array);
const ALL_LOCALES: [&str; 39] = with_all_locales!(str_array);
/// The locales only ID verifications name: the list's tail.
const ENROLLMENT_EXTRA_LOCALES: &[&str] = ALL_LOCALES.split_at(AUTH_LOCALES.len()).1;

/// A supported locale in its canonical spelling (`en-GB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Locale(&'static str);

impl Locale {
    pub const DEFAULT: Locale = Locale("en");

    /// Accepts any case and `_` for `-` (`en_gb`), answers the canonical form.
    pub fn parse(raw: &str, set: LocaleSet) -> Result<Self, FieldError> {
        let wanted = raw.replace('_', "-");
        let extra: &[&'static str] = match set {
            LocaleSet::Authentication => &[],
            LocaleSet::Enrollment => ENROLLMENT_EXTRA_LOCALES,
        };
        AUTH_LOCALES
            .iter()
            .chain(extra)
            .find(|l| l.eq_ignore_ascii_case(&wanted))
            .map(|l| Self(l))
            .ok_or_else(|| {
                FieldError::new(
                    "locale",
                    "LOCALE_UNSUPPORTED",
                    format!("unsupported locale {raw:?}"),
                )
            })
    }

    pub fn all(set: LocaleSet) -> Vec<&'static str> {
        match set {
            LocaleSet::Authentication => AUTH_LOCALES.to_vec(),
            LocaleSet::Enrollment => ALL_LOCALES.to_vec(),
        }
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// `tokenLifetimeInMinutes`: 5 to 86400 minutes (SPEC §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TokenLifetime(u32);

impl TokenLifetime {
    pub const MIN: i64 = 5;
    pub const MAX: i64 = 86_400;

    pub fn parse(minutes: i64) -> Result<Self, FieldError> {
        if (Self::MIN..=Self::MAX).contains(&minutes) {
            Ok(Self(minutes as u32))
        } else {
            Err(FieldError::new(
                "tokenLifetimeInMinutes",
                "TOKEN_LIFETIME_OUT_OF_RANGE",
                format!(
                    "tokenLifetimeInMinutes must be between {} and {}",
                    Self::MIN,
                    Self::MAX
                ),
            ))
        }
    }

    pub fn minutes(&self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> Result<RedirectUrl, &'static str> {
        RedirectUrl::parse(raw, UrlField::Callback, UrlPolicy::default()).map_err(|e| e.code)
    }

    #[test]
    fn url_rules_of_spec_section_0() {
        assert!(url("https://www.example.com/callback?x=1").is_ok());
        assert!(url("https://xn--bcher-kva.example/cb").is_ok());
        assert_eq!(url("http://www.example.com/cb"), Err("URL_NOT_HTTPS"));
        assert_eq!(url("https://www.example.com:8443/cb"), Err("URL_PORT"));
        assert_eq!(url("https://www.example.com:443/cb"), Err("URL_PORT"));
        assert_eq!(url("https://10.0.0.1/cb"), Err("URL_IP_HOST"));
        assert_eq!(url("https://[::1]/cb"), Err("URL_IP_HOST"));
        assert_eq!(url("https://0x7f.1/cb"), Err("URL_IP_HOST"));
        assert_eq!(url("https://www.example.com/cb#frag"), Err("URL_FRAGMENT"));
        assert_eq!(url("https://bücher.example/cb"), Err("URL_INVALID"));
        assert_eq!(
            url("https://user:pw@www.example.com/cb"),
            Err("URL_INVALID")
        );
        assert_eq!(url("/relative"), Err("URL_INVALID"));
        assert_eq!(url("https:www.example.com:8443/cb"), Err("URL_INVALID"));
        assert_eq!(url("https:///www.example.com/cb"), Err("URL_INVALID"));
        assert_eq!(url("https://@www.example.com/cb"), Err("URL_INVALID"));
        assert_eq!(url("https://localhost/cb"), Err("URL_HOST_INVALID"));
        assert_eq!(url("https://intranet/cb"), Err("URL_HOST_INVALID"));
        // What a resolver treats as localhost or as an address.
        assert_eq!(url("https://a.localhost./cb"), Err("URL_HOST_INVALID"));
        assert_eq!(url("https://www.example.com./cb"), Err("URL_HOST_INVALID"));
        assert_eq!(url("https://A.LOCALHOST/cb"), Err("URL_HOST_INVALID"));
        assert_eq!(url("https://127.0.0.1.nip.io/x"), Err("URL_HOST_INVALID"));
        assert_eq!(
            url("https://a.10.0.0.1.sslip.io/x"),
            Err("URL_HOST_INVALID")
        );
        assert_eq!(url("https://10-0-0-1.sslip.io/x"), Err("URL_HOST_INVALID"));
        assert_eq!(
            url("https://app-169-254-169-254.example/x"),
            Err("URL_HOST_INVALID")
        );
        // Numbers in a name are fine when they do not spell an address.
        assert!(url("https://api2.example.com/cb").is_ok());
        assert!(url("https://1.2.example.com/cb").is_ok());
        assert!(url("https://2024-11-05.example.com/cb").is_ok());
        for name in RESERVED_QUERY_NAMES {
            let with_name = format!("https://a.example/cb?{name}=1");
            for field in [UrlField::Success, UrlField::Error] {
                assert_eq!(
                    RedirectUrl::parse(&with_name, field, UrlPolicy::default()).map_err(|e| e.code),
                    Err("URL_RESERVED_QUERY"),
                    "{name} in {field:?}"
                );
            }
            assert!(url(&with_name).is_ok(), "{name} in a callback URL");
        }
        let long = format!("https://a.example/{}", "x".repeat(255));
        assert_eq!(url(&long), Err("URL_TOO_LONG"));
        assert!(RedirectUrl::parse(&long, UrlField::Success, UrlPolicy::default()).is_ok());
    }

    #[test]
    fn localhost_only_with_the_development_switch() {
        let dev = UrlPolicy {
            allow_localhost: true,
        };
        assert!(RedirectUrl::parse("http://localhost:9999/cb", UrlField::Callback, dev).is_ok());
        assert!(RedirectUrl::parse("http://127.0.0.1:9999/cb", UrlField::Callback, dev).is_err());
        assert!(
            RedirectUrl::parse("http://other.example:9999/cb", UrlField::Callback, dev).is_err()
        );
    }

    #[test]
    fn parent_origins_are_scheme_host_and_port_only() {
        let origin = |raw: &str| {
            ParentOrigin::parse(raw, UrlPolicy::default())
                .map(|o| o.as_str().to_owned())
                .map_err(|e| (e.field, e.code))
        };
        assert_eq!(
            origin("https://shop.example"),
            Ok("https://shop.example".into())
        );
        assert_eq!(
            origin("https://Shop.EXAMPLE:8443"),
            Ok("https://shop.example:8443".into())
        );
        assert_eq!(
            origin("https://shop.example:443"),
            Ok("https://shop.example".into())
        );
        assert_eq!(
            origin("https://xn--bcher-kva.example"),
            Ok("https://xn--bcher-kva.example".into())
        );
        for bad in [
            "",
            "shop.example",
            "https://",
            "https://shop.example/",
            "https://shop.example/path",
            "https://shop.example?x=1",
            "https://shop.example#x",
            "https://user@shop.example",
            "https:shop.example",
            "https:///shop.example",
            "http://shop.example",
            "ftp://shop.example",
            "https://shop.example:99999",
            "https://shop.example:",
            "https://10.0.0.1",
            "https://[::1]",
            "https://intranet",
            "https://shop.example.",
            "https://localhost:8080",
            "http://localhost:8080",
            "https://a.localhost",
            "https://bücher.example",
            "https://shop .example",
            "*",
            "null",
        ] {
            assert_eq!(
                origin(bad),
                Err(("parentOrigin".to_owned(), "ORIGIN_INVALID")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_localhost_parent_origin_only_with_the_development_switch() {
        let dev = UrlPolicy {
            allow_localhost: true,
        };
        assert_eq!(
            ParentOrigin::parse("http://localhost:8080", dev).map(|o| o.to_string()),
            Ok("http://localhost:8080".to_owned())
        );
        assert!(ParentOrigin::parse("https://localhost", dev).is_ok());
        assert!(ParentOrigin::parse("http://localhost:8080", UrlPolicy::default()).is_err());
        assert!(ParentOrigin::parse("http://127.0.0.1:8080", dev).is_err());
        assert!(ParentOrigin::parse("http://shop.example:8080", dev).is_err());
        assert!(ParentOrigin::parse("http://localhost:8080/", dev).is_err());
    }

    #[test]
    fn user_references_refuse_pii_when_the_account_asks() {
        let ok = |s: &str| UserReference::parse(s, "userReference", PiiCheck::Refuse).is_ok();
        assert!(ok("user_1234"));
        assert!(ok("123456789012"));
        assert!(ok("order-2024-11"));
        assert!(!ok("jane.doe@example.com"));
        assert!(!ok("user jane@example.org"));
        assert!(!ok("+41 79 123 45 67"));
        assert!(!ok("(555) 123-4567"));
        assert!(!ok("0041791234567"));
        assert!(!ok(&"x".repeat(101)));
        assert!(ok(&"x".repeat(100)));
        assert!(!ok(""));
    }

    #[test]
    fn user_references_that_look_like_pii_are_kept_verbatim_by_default() {
        for raw in [
            "jane.doe@example.com",
            "user jane@example.org",
            "+41 79 123 45 67",
            "(555) 123-4567",
            "0041791234567",
        ] {
            assert_eq!(
                UserReference::parse(raw, "userReference", PiiCheck::default())
                    .map(|r| r.as_str().to_owned()),
                Ok(raw.to_owned())
            );
        }
        let refused = |raw: &str, pii| {
            UserReference::parse(raw, "userReference", pii)
                .map_err(|e| e.code)
                .err()
        };
        // The other rules hold either way.
        for pii in [PiiCheck::Off, PiiCheck::Refuse] {
            assert_eq!(refused(&"x".repeat(101), pii), Some("REFERENCE_TOO_LONG"));
            assert_eq!(refused("a\u{7}b", pii), Some("REFERENCE_INVALID"));
            assert_eq!(refused(" ", pii), Some("FIELD_EMPTY"));
        }
    }

    #[test]
    fn the_enrollment_locales_are_the_authentication_ones_and_seven_more() {
        let joined: Vec<&str> = AUTH_LOCALES
            .iter()
            .chain(ENROLLMENT_EXTRA_LOCALES)
            .copied()
            .collect();
        assert_eq!(Locale::all(LocaleSet::Enrollment), joined);
        assert_eq!(
            ENROLLMENT_EXTRA_LOCALES,
            ["ar", "he", "hr", "id", "km", "ms", "th"]
        );
    }

    #[test]
    fn locales_are_canonicalised() {
        assert_eq!(
            Locale::parse("en_gb", LocaleSet::Authentication).map(|l| l.as_str()),
            Ok("en-GB")
        );
        assert!(Locale::parse("ar", LocaleSet::Authentication).is_err());
        assert!(Locale::parse("ar", LocaleSet::Enrollment).is_ok());
        assert_eq!(Locale::all(LocaleSet::Authentication).len(), 32);
    }

    #[test]
    fn lifetimes_are_bounded() {
        assert!(TokenLifetime::parse(4).is_err());
        assert!(TokenLifetime::parse(5).is_ok());
        assert!(TokenLifetime::parse(86_400).is_ok());
        assert!(TokenLifetime::parse(86_401).is_err());
    }
}
