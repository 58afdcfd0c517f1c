//! Name lookup abstraction and the policy-enforcing resolver plugged into reqwest.
//!
//! Checking addresses inside the resolver means reqwest connects to exactly the addresses that
//! passed the policy; there is no second lookup an attacker's DNS could answer differently.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use facegate_domain::PrivateCallbackTargets;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::policy::{is_permitted, AddressPolicy};

/// A boxed, sendable future (what reqwest's resolver interface needs, without a futures dep).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Host name to IP addresses. Implementations must not apply any policy themselves.
pub trait NameLookup: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>>;
}

/// The operating system resolver (via `tokio::net::lookup_host`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl NameLookup for SystemLookup {
    fn lookup(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A fixed host table, for tests and for pinning names in development.
#[derive(Debug, Clone, Default)]
pub struct StaticLookup {
    entries: HashMap<String, Vec<IpAddr>>,
}

impl StaticLookup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder-style [`Self::insert`].
    #[must_use]
    pub fn with(mut self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) -> Self {
        self.insert(host, addrs);
        self
    }

    /// Maps `host` (case-insensitively) to `addrs`, replacing any earlier entry.
    pub fn insert(&mut self, host: &str, addrs: impl IntoIterator<Item = IpAddr>) {
        self.entries
            .insert(host.to_ascii_lowercase(), addrs.into_iter().collect());
    }
}

impl NameLookup for StaticLookup {
    fn lookup(&self, host: &str) -> BoxFuture<'static, io::Result<Vec<IpAddr>>> {
        let result = self
            .entries
            .get(&host.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "host not in static table"));
        Box::pin(async move { result })
    }
}

/// Why the guarded resolver produced no address.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("name lookup failed")]
    Lookup(#[source] io::Error),
    #[error("name lookup returned no addresses")]
    NoAddresses,
    #[error("destination not allowed: all {refused} resolved address(es) are in forbidden ranges")]
    Forbidden { refused: usize },
}

/// Resolver that drops every address the [`AddressPolicy`] forbids (unless the account's
/// private callback targets admit it) and fails if none remain.
#[derive(Clone)]
pub struct GuardedResolver {
    lookup: Arc<dyn NameLookup>,
    policy: AddressPolicy,
    private: PrivateCallbackTargets,
}

impl GuardedResolver {
    pub fn new(lookup: Arc<dyn NameLookup>, policy: AddressPolicy) -> Self {
        Self {
            lookup,
            policy,
            private: PrivateCallbackTargets::NONE,
        }
    }

    /// The resolver of one account's callbacks: also the private addresses its targets admit.
    #[must_use]
    pub fn with_private_targets(mut self, private: PrivateCallbackTargets) -> Self {
        self.private = private;
        self
    }

    /// Looks `host` up and returns only the permitted addresses (never empty on success).
    pub async fn resolve_allowed(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let all = self
            .lookup
            .lookup(host)
            .await
            .map_err(ResolveError::Lookup)?;
        if all.is_empty() {
            return Err(ResolveError::NoAddresses);
        }
        let total = all.len();
        let allowed: Vec<IpAddr> = all
            .into_iter()
            .filter(|ip| is_permitted(Some(host), *ip, &self.policy, &self.private))
            .collect();
        if allowed.is_empty() {
            return Err(ResolveError::Forbidden { refused: total });
        }
        if allowed.len() < total {
            tracing::debug!(
                refused = total - allowed.len(),
                "dropped forbidden addresses from callback destination"
            );
        }
        Ok(allowed)
    }
}

impl fmt::Debug for GuardedResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedResolver")
            .field("policy", &self.policy)
            .field("private", &self.private)
            .finish_non_exhaustive()
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let allowed = this.resolve_allowed(&host).await?;
            // Port 0 is replaced by reqwest with the URL's (or the scheme's default) port.
            let addrs: Addrs = Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn table() -> Arc<dyn NameLookup> {
        Arc::new(
            StaticLookup::new()
                .with(
                    "mixed.test",
                    [ip("10.0.0.1"), ip("93.184.216.34"), ip("::1")],
                )
                .with("evil.test", [ip("10.0.0.1")])
                .with("metadata.test", [ip("169.254.169.254"), ip("fd00::1")])
                .with("Local.Test", [ip("127.0.0.1")])
                .with("empty.test", []),
        )
    }

    #[tokio::test]
    async fn static_lookup_is_case_insensitive_and_reports_missing() {
        let lookup = table();
        assert_eq!(
            lookup.lookup("LOCAL.test").await.unwrap(),
            [ip("127.0.0.1")]
        );
        let err = lookup.lookup("nowhere.test").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn filters_forbidden_addresses() {
        let strict = GuardedResolver::new(table(), AddressPolicy::STRICT);
        assert_eq!(
            strict.resolve_allowed("mixed.test").await.unwrap(),
            [ip("93.184.216.34")]
        );
        let dev = GuardedResolver::new(
            table(),
            AddressPolicy {
                allow_loopback: true,
            },
        );
        assert_eq!(
            dev.resolve_allowed("mixed.test").await.unwrap(),
            [ip("93.184.216.34"), ip("::1")]
        );
        assert_eq!(
            dev.resolve_allowed("local.test").await.unwrap(),
            [ip("127.0.0.1")]
        );
    }

    #[tokio::test]
    async fn refuses_when_nothing_allowed() {
        let strict = GuardedResolver::new(table(), AddressPolicy::STRICT);
        for (host, n) in [("evil.test", 1), ("metadata.test", 2), ("local.test", 1)] {
            match strict.resolve_allowed(host).await {
                Err(ResolveError::Forbidden { refused }) => assert_eq!(refused, n, "{host}"),
                other => panic!("{host}: expected Forbidden, got {other:?}"),
            }
        }
        let err = strict.resolve_allowed("evil.test").await.unwrap_err();
        assert!(err.to_string().contains("destination not allowed"));
    }

    #[tokio::test]
    async fn an_accounts_private_targets_admit_their_addresses_only() {
        let private = PrivateCallbackTargets::parse("10.0.0.0/24,metadata.test").unwrap();
        let guard =
            GuardedResolver::new(table(), AddressPolicy::STRICT).with_private_targets(private);
        assert_eq!(
            guard.resolve_allowed("evil.test").await.unwrap(),
            [ip("10.0.0.1")]
        );
        // 10.0.0.1 is listed; ::1 is not, whatever the name.
        assert_eq!(
            guard.resolve_allowed("mixed.test").await.unwrap(),
            [ip("10.0.0.1"), ip("93.184.216.34")]
        );
        // A listed name reaches private ranges (fd00::1), never link-local metadata.
        assert_eq!(
            guard.resolve_allowed("metadata.test").await.unwrap(),
            [ip("fd00::1")]
        );
        assert!(matches!(
            guard.resolve_allowed("local.test").await,
            Err(ResolveError::Forbidden { refused: 1 })
        ));
    }

    #[tokio::test]
    async fn lookup_failures_are_not_policy_errors() {
        let strict = GuardedResolver::new(table(), AddressPolicy::STRICT);
        assert!(matches!(
            strict.resolve_allowed("nowhere.test").await,
            Err(ResolveError::Lookup(_))
        ));
        assert!(matches!(
            strict.resolve_allowed("empty.test").await,
            Err(ResolveError::NoAddresses)
        ));
    }

    #[tokio::test]
    async fn reqwest_resolve_yields_only_allowed_socket_addrs() {
        let strict = GuardedResolver::new(table(), AddressPolicy::STRICT);
        let addrs: Vec<SocketAddr> = strict
            .resolve("mixed.test".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(addrs, [SocketAddr::new(ip("93.184.216.34"), 0)]);

        let err = match strict.resolve("evil.test".parse().unwrap()).await {
            Ok(_) => panic!("evil.test must be refused"),
            Err(e) => e,
        };
        assert!(matches!(
            err.downcast_ref::<ResolveError>(),
            Some(ResolveError::Forbidden { .. })
        ));
    }

    #[tokio::test]
    async fn system_lookup_handles_numeric_hosts_and_guard_applies() {
        // A numeric host is parsed locally by getaddrinfo, so the test sends no DNS traffic
        // (unlike "localhost", which may fall through to a DNS server without a hosts entry).
        let addrs = SystemLookup.lookup("127.0.0.1").await.unwrap();
        assert_eq!(addrs, [ip("127.0.0.1")]);
        let strict = GuardedResolver::new(Arc::new(SystemLookup), AddressPolicy::STRICT);
        assert!(matches!(
            strict.resolve_allowed("127.0.0.1").await,
            Err(ResolveError::Forbidden { .. })
        ));
    }
}
