//! One signed callback POST attempt, with SSRF guards, and its classified outcome.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use facegate_domain::PrivateCallbackTargets;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::redirect::Policy;
use url::{Host, Url};

use crate::policy::{is_permitted, AddressPolicy};
use crate::resolve::{GuardedResolver, NameLookup, ResolveError, SystemLookup};
use crate::signing::{sign_all, SigningSecret, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};

/// At most this much of a response body is read (then dropped unlogged); receivers only need
/// to answer with a status code.
pub const MAX_RESPONSE_BYTES: usize = 4096;

/// User agent sent when the configuration does not override it.
pub const DEFAULT_USER_AGENT: &str = concat!("Facegate-Webhooks/", env!("CARGO_PKG_VERSION"));

const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// How the HTTP client is built.
#[derive(Clone)]
pub struct DelivererConfig {
    /// Whole-attempt limit: connect, send, and reading the (truncated) response.
    pub timeout: Duration,
    /// Limit for name resolution plus TCP/TLS connection establishment.
    pub connect_timeout: Duration,
    pub policy: AddressPolicy,
    pub lookup: Arc<dyn NameLookup>,
    pub user_agent: String,
}

impl Default for DelivererConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            policy: AddressPolicy::STRICT,
            lookup: Arc::new(SystemLookup),
            user_agent: DEFAULT_USER_AGENT.to_owned(),
        }
    }
}

impl fmt::Debug for DelivererConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelivererConfig")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("policy", &self.policy)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

/// Failure to set up a [`Deliverer`].
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("could not build the callback HTTP client")]
    Client(#[source] reqwest::Error),
}

/// One message to send to one URL.
pub struct Delivery<'a> {
    pub url: &'a str,
    /// Stable across retries so receivers can deduplicate.
    pub msg_id: &'a str,
    /// Time of this attempt (re-signed per attempt, as the spec intends).
    pub timestamp_secs: i64,
    /// Already `application/x-www-form-urlencoded`.
    pub body: &'a str,
    /// The current secret first; during a key rotation's overlap also the
    /// previous one, so receivers verifying with either accept the callback.
    pub secrets: &'a [SigningSecret],
    /// The private hosts and networks the sending account's callbacks may reach.
    pub private: &'a PrivateCallbackTargets,
}

impl fmt::Debug for Delivery<'_> {
    // The URL may carry integrator tokens and the body carries personal data: omit both.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("msg_id", &self.msg_id)
            .field("timestamp_secs", &self.timestamp_secs)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Failure classes, persisted by the outbox; the codes from [`Self::as_str`] are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptErrorKind {
    ForbiddenDestination,
    InvalidUrl,
    Dns,
    Connect,
    Timeout,
    HttpStatus,
    Other,
}

impl AttemptErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ForbiddenDestination => "forbidden_destination",
            Self::InvalidUrl => "invalid_url",
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::HttpStatus => "http_status",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for AttemptErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The receiver answered 2xx.
    pub delivered: bool,
    /// Response status, when a response arrived.
    pub status: Option<u16>,
    /// `None` exactly when `delivered`.
    pub error: Option<AttemptErrorKind>,
    /// Short operator-facing explanation; never contains URLs, secrets or bodies.
    pub detail: Option<String>,
    pub duration: Duration,
}

/// Private target lists whose clients are kept; beyond, the cache starts afresh (a deployment
/// has far fewer accounts with private receivers than this).
const MAX_PRIVATE_CLIENTS: usize = 256;

/// Sends signed callbacks through a client that can only reach policy-approved addresses.
///
/// Accounts that list private targets get a client of their own per distinct list: a pooled
/// connection opened for one account's private receiver must never carry another account's
/// callback, which would skip the address check that account's list makes.
#[derive(Debug, Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    cfg: DelivererConfig,
    private_clients: Arc<Mutex<HashMap<PrivateCallbackTargets, reqwest::Client>>>,
}

impl Deliverer {
    pub fn new(cfg: DelivererConfig) -> Result<Self, DeliveryError> {
        let client = build_client(&cfg, PrivateCallbackTargets::NONE)?;
        Ok(Self {
            client,
            cfg,
            private_clients: Arc::default(),
        })
    }

    /// The client whose resolver admits exactly `private`'s addresses besides public ones.
    fn client_for(&self, private: &PrivateCallbackTargets) -> Result<reqwest::Client, Failure> {
        if private.is_empty() {
            return Ok(self.client.clone());
        }
        let mut clients = self
            .private_clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = clients.get(private) {
            return Ok(client.clone());
        }
        let client = build_client(&self.cfg, private.clone()).map_err(|_| {
            Failure::new(AttemptErrorKind::Other, "could not build the HTTP client")
        })?;
        if clients.len() >= MAX_PRIVATE_CLIENTS {
            clients.clear();
        }
        clients.insert(private.clone(), client.clone());
        Ok(client)
    }

    /// POSTs `body` (already form-urlencoded) with Content-Type
    /// application/x-www-form-urlencoded and the three webhook-* headers.
    pub async fn deliver(&self, d: &Delivery<'_>) -> AttemptOutcome {
        let started = Instant::now();
        let result = self.attempt(d).await;
        let duration = started.elapsed();
        let outcome = match result {
            Ok(status) if (200..300).contains(&status) => AttemptOutcome {
                delivered: true,
                status: Some(status),
                error: None,
                detail: None,
                duration,
            },
            Ok(status) => AttemptOutcome {
                delivered: false,
                status: Some(status),
                error: Some(AttemptErrorKind::HttpStatus),
                detail: Some(status_detail(status)),
                duration,
            },
            Err(Failure { kind, detail }) => AttemptOutcome {
                delivered: false,
                status: None,
                error: Some(kind),
                detail: Some(detail),
                duration,
            },
        };
        tracing::debug!(
            msg_id = d.msg_id,
            delivered = outcome.delivered,
            status = outcome.status,
            error = outcome.error.map(AttemptErrorKind::as_str),
            duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            "callback attempt finished"
        );
        outcome
    }

    /// Returns the response status, or why no response was obtained.
    async fn attempt(&self, d: &Delivery<'_>) -> Result<u16, Failure> {
        let url = self.checked_url(d.url, d.private)?;
        let client = self.client_for(d.private)?;
        let msg_id = HeaderValue::from_str(d.msg_id).map_err(|_| {
            Failure::new(
                AttemptErrorKind::Other,
                "message id is not a valid header value",
            )
        })?;
        let signature = sign_all(d.secrets, d.msg_id, d.timestamp_secs, d.body.as_bytes())
            .ok_or_else(|| Failure::new(AttemptErrorKind::Other, "no signing secret"))?;

        let response = client
            .post(url)
            .header(CONTENT_TYPE, FORM_CONTENT_TYPE)
            .header(WEBHOOK_ID, msg_id)
            .header(WEBHOOK_TIMESTAMP, d.timestamp_secs.to_string())
            .header(WEBHOOK_SIGNATURE, signature)
            .body(d.body.to_owned())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status().as_u16();
        drain_bounded(response).await;
        Ok(status)
    }

    /// Parses the URL and refuses IP-literal hosts the policy forbids (and the account's
    /// private targets do not list): reqwest connects to literals directly without consulting
    /// the resolver, so the guard there never runs.
    fn checked_url(&self, raw: &str, private: &PrivateCallbackTargets) -> Result<Url, Failure> {
        let url = Url::parse(raw)
            .map_err(|_| Failure::new(AttemptErrorKind::InvalidUrl, "URL could not be parsed"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Failure::new(
                AttemptErrorKind::InvalidUrl,
                "URL scheme must be http or https",
            ));
        }
        let literal = match url.host() {
            None => {
                return Err(Failure::new(
                    AttemptErrorKind::InvalidUrl,
                    "URL has no host",
                ));
            }
            Some(Host::Domain(_)) => None,
            Some(Host::Ipv4(ip)) => Some(ip.into()),
            Some(Host::Ipv6(ip)) => Some(ip.into()),
        };
        if let Some(ip) = literal {
            if !is_permitted(None, ip, &self.cfg.policy, private) {
                return Err(Failure::new(
                    AttemptErrorKind::ForbiddenDestination,
                    "destination not allowed: IP address is in a forbidden range",
                ));
            }
        }
        Ok(url)
    }
}

fn build_client(
    cfg: &DelivererConfig,
    private: PrivateCallbackTargets,
) -> Result<reqwest::Client, DeliveryError> {
    let resolver =
        GuardedResolver::new(cfg.lookup.clone(), cfg.policy).with_private_targets(private);
    reqwest::Client::builder()
        .use_rustls_tls()
        // A redirect could point at an internal address after our checks; never follow.
        .redirect(Policy::none())
        // A proxy would resolve the name itself, bypassing the guarded resolver.
        .no_proxy()
        .dns_resolver(Arc::new(resolver))
        .timeout(cfg.timeout)
        .connect_timeout(cfg.connect_timeout)
        // Scheme policy belongs to the caller; development mode uses http://localhost.
        .https_only(false)
        .referer(false)
        .user_agent(cfg.user_agent.clone())
        .build()
        .map_err(DeliveryError::Client)
}

/// Reads and discards up to [`MAX_RESPONSE_BYTES`] so small responses finish cleanly and the
/// connection can be reused; the content is never inspected or logged.
async fn drain_bounded(mut response: reqwest::Response) {
    let mut read = 0usize;
    while read < MAX_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            // The status already decided the outcome; a broken body does not change it.
            Ok(None) | Err(_) => break,
        }
    }
}

fn status_detail(status: u16) -> String {
    if (300..400).contains(&status) {
        format!("receiver answered HTTP {status}; redirects are not followed")
    } else {
        format!("receiver answered HTTP {status}")
    }
}

struct Failure {
    kind: AttemptErrorKind,
    detail: String,
}

impl Failure {
    fn new(kind: AttemptErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// Maps a reqwest error to a kind and a detail built only from our own wording and error
/// kinds, because reqwest's messages embed the URL, which may carry integrator secrets.
fn classify(err: &reqwest::Error) -> Failure {
    if let Some(resolve) = find_source::<ResolveError>(err) {
        return match resolve {
            ResolveError::Forbidden { .. } => {
                Failure::new(AttemptErrorKind::ForbiddenDestination, resolve.to_string())
            }
            ResolveError::Lookup(io) => Failure::new(
                AttemptErrorKind::Dns,
                format!("name lookup failed ({})", io.kind()),
            ),
            ResolveError::NoAddresses => Failure::new(AttemptErrorKind::Dns, resolve.to_string()),
        };
    }
    if err.is_timeout() {
        return Failure::new(AttemptErrorKind::Timeout, "request timed out");
    }
    let io_kind = find_source::<io::Error>(err).map(io::Error::kind);
    let suffix = io_kind.map(|k| format!(" ({k})")).unwrap_or_default();
    if err.is_connect() {
        return Failure::new(
            AttemptErrorKind::Connect,
            format!("connection failed{suffix}"),
        );
    }
    if err.is_builder() {
        return Failure::new(AttemptErrorKind::Other, "request could not be built");
    }
    Failure::new(AttemptErrorKind::Other, format!("request failed{suffix}"))
}

fn find_source<'e, T: StdError + 'static>(err: &'e (dyn StdError + 'static)) -> Option<&'e T> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::resolve::StaticLookup;

    #[test]
    fn error_codes_are_stable() {
        let all = [
            (
                AttemptErrorKind::ForbiddenDestination,
                "forbidden_destination",
            ),
            (AttemptErrorKind::InvalidUrl, "invalid_url"),
            (AttemptErrorKind::Dns, "dns"),
            (AttemptErrorKind::Connect, "connect"),
            (AttemptErrorKind::Timeout, "timeout"),
            (AttemptErrorKind::HttpStatus, "http_status"),
            (AttemptErrorKind::Other, "other"),
        ];
        for (kind, code) in all {
            assert_eq!(kind.as_str(), code);
            assert_eq!(kind.to_string(), code);
        }
    }

    #[test]
    fn defaults() {
        let cfg = DelivererConfig::default();
        assert_eq!(cfg.timeout, Duration::from_secs(10));
        assert_eq!(cfg.connect_timeout, Duration::from_secs(5));
        assert!(!cfg.policy.allow_loopback);
        assert!(cfg.user_agent.starts_with("Facegate-Webhooks/"));
    }

    fn deliverer(allow_loopback: bool) -> Deliverer {
        Deliverer::new(DelivererConfig {
            policy: AddressPolicy { allow_loopback },
            lookup: Arc::new(StaticLookup::new()),
            ..DelivererConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn url_checks() {
        let strict = deliverer(false);
        let dev = deliverer(true);
        let none = PrivateCallbackTargets::NONE;
        let kind = |d: &Deliverer, u: &str| d.checked_url(u, &none).err().map(|f| f.kind);
        use AttemptErrorKind::{ForbiddenDestination as F, InvalidUrl as I};
        let cases: &[(&str, Option<AttemptErrorKind>, Option<AttemptErrorKind>)] = &[
            ("not a url", Some(I), Some(I)),
            ("ftp://example.com/x", Some(I), Some(I)),
            ("file:///etc/passwd", Some(I), Some(I)),
            ("https://example.com/cb?token=x", None, None),
            ("http://169.254.169.254/latest/meta-data", Some(F), Some(F)),
            ("http://10.1.2.3:8080/", Some(F), Some(F)),
            ("http://0x7f.1/", Some(F), None), // WHATWG parsing: 127.0.0.1
            ("http://2130706433/", Some(F), None), // also 127.0.0.1
            ("http://127.0.0.1:9/", Some(F), None),
            ("http://[::1]:9/", Some(F), None),
            ("http://[::ffff:a9fe:a9fe]/", Some(F), Some(F)),
            ("http://[fd00::1]/", Some(F), Some(F)),
            ("http://0.0.0.0/", Some(F), Some(F)),
            ("http://8.8.8.8/", None, None),
            ("http://[2606:4700:4700::1111]/", None, None),
        ];
        for &(url, want_strict, want_dev) in cases {
            assert_eq!(kind(&strict, url), want_strict, "{url} strict");
            assert_eq!(kind(&dev, url), want_dev, "{url} dev");
        }
    }

    #[test]
    fn an_address_literal_in_the_accounts_private_networks_passes() {
        let strict = deliverer(false);
        let private = PrivateCallbackTargets::parse("10.1.0.0/16,fd00::/8").unwrap();
        let kind = |u: &str| strict.checked_url(u, &private).err().map(|f| f.kind);
        assert_eq!(kind("https://10.1.2.3/cb"), None);
        assert_eq!(kind("https://[fd00::5]/cb"), None);
        assert_eq!(kind("https://[::ffff:10.1.2.3]/cb"), None);
        for refused in [
            "https://10.2.0.1/cb",
            "https://127.0.0.1/cb",
            "https://169.254.169.254/cb",
            "https://[fd00:ec2::254]/cb",
        ] {
            assert_eq!(
                kind(refused),
                Some(AttemptErrorKind::ForbiddenDestination),
                "{refused}"
            );
        }
    }

    #[test]
    fn debug_output_hides_body_url_and_secret() {
        let secret = SigningSecret::from_bytes(&[9u8; 32]).unwrap();
        let d = Delivery {
            url: "https://example.com/cb?token=hunter2",
            msg_id: "msg_1",
            timestamp_secs: 1,
            body: "name=Alice",
            secrets: std::slice::from_ref(&secret),
            private: &PrivateCallbackTargets::NONE,
        };
        let shown = format!("{d:?}");
        assert!(shown.contains("msg_1"));
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("Alice"));
        assert!(!shown.contains("CQkJ")); // base64 of the key bytes
    }
}
