//! Checking HTTP Basic credentials without paying an Argon2 hash on every
//! request: a keyed in-memory digest of secrets that already passed, at most
//! two hashes at once and one per token, a bounded queue, and failure
//! budgets per (token, client address) and per address, so that guesses
//! never burn the CPU and one client's guesses never lock another out.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedMutexGuard, Semaphore};

use crate::error::{ServiceError, ServiceResult};

/// Who the client of a credential check is and how much guessing it may do
/// (the `[auth]` section of the configuration).
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Wrong secrets one client address may send for one token per minute.
    pub max_failures_per_token_ip: u32,
    /// Failed checks (wrong secrets, unknown or revoked tokens) one client
    /// address may cause per minute over all tokens.
    pub max_failures_per_ip: u32,
    /// Checks that may wait for or run an Argon2 hash at once; more are
    /// refused at once.
    pub hash_queue: usize,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            max_failures_per_token_ip: 10,
            max_failures_per_ip: 100,
            hash_queue: 64,
        }
    }
}

/// A keyed digest: of a token (the throttling and cache key, so that no
/// token is kept in memory) or of a token and secret.
pub(crate) type Digest = [u8; 32];

/// Throttles and caches credential checks. Every check that needs an Argon2
/// hash (a secret not verified before, an unknown or revoked token) first
/// reserves one failure of its (token, client address) and client address
/// budgets, then takes a place in a bounded queue, then its token's turn
/// (one hash per token at a time), then one of the hashing slots. So a flood
/// of guesses costs at most the budget in hashes, is answered at once beyond
/// it, and never delays another token for more than the queue's length.
pub(crate) struct Authenticator {
    pub(crate) secret_key: [u8; 64],
    pub(crate) token_key: [u8; 64],
    /// Per token, the digest of the secret that last passed the Argon2
    /// check: a repeated request then costs one HMAC instead of a hash. The
    /// keys are random per process, so the cache is useless to a thief of a
    /// memory dump of another process and never leaves memory.
    pub(crate) verified: Mutex<Verified>,
    /// Argon2 is deliberately expensive: bound how many run at once so that
    /// a flood of wrong secrets cannot take every core.
    pub(crate) argon2_permits: Arc<Semaphore>,
    /// Places for checks waiting for or running a hash.
    pub(crate) queue: Arc<Semaphore>,
    pub(crate) queue_len: usize,
    pub(crate) turns: Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) attempts: Mutex<Attempts>,
    pub(crate) max_failures_per_token_ip: u32,
    pub(crate) max_failures_per_ip: u32,
}

/// Most tokens whose verified secret is remembered, and most throttling
/// windows kept per kind (a backstop: windows exist only while a check is
/// in flight or failures are recent, and hashes are too slow to fill them).
pub(crate) const MAX_CACHED: usize = 10_000;
pub(crate) const MAX_WINDOWS: usize = 100_000;
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// What a refused check is told when the queue is full: hashes take tens of
/// milliseconds, so a place is soon free again.
pub(crate) const BUSY_RETRY_SECS: u64 = 1;

#[derive(Default)]
pub(crate) struct Verified {
    pub(crate) entries: HashMap<Digest, (Digest, u64)>,
    /// Counts uses, to evict the least recently used entry.
    pub(crate) clock: u64,
}

impl Verified {
    pub(crate) fn check(&mut self, token: &Digest, digest: &Digest) -> bool {
        self.clock += 1;
        match self.entries.get_mut(token) {
            Some((known, used)) if bool::from(known.ct_eq(digest)) => {
                *used = self.clock;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn insert(&mut self, token: Digest, digest: Digest) {
        if !self.entries.contains_key(&token) && self.entries.len() >= MAX_CACHED {
            // One entry goes, not all: clearing the cache would send every
            // integration back to Argon2 (and its throttle) at once. The scan
            // is cheap next to the hash that precedes every insert.
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(token, _)| *token);
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.clock += 1;
        self.entries.insert(token, (digest, self.clock));
    }
}

/// Failures within the current minute and checks still in flight: counting
/// the checks in flight is what keeps concurrent guesses within the limit.
pub(crate) struct Window {
    pub(crate) failures: u32,
    pub(crate) in_flight: u32,
    pub(crate) since: Instant,
}

impl Window {
    pub(crate) fn roll(&mut self, now: Instant) {
        if now.duration_since(self.since) >= FAILURE_WINDOW {
            self.failures = 0;
            self.since = now;
        }
    }

    /// Seconds to wait when `limit` is reached.
    pub(crate) fn refusal(&self, limit: u32, now: Instant) -> Option<u64> {
        if self.failures >= limit {
            let left = FAILURE_WINDOW.saturating_sub(now.duration_since(self.since));
            Some(left.as_secs().max(1))
        } else if self.failures + self.in_flight >= limit {
            // Checks in flight may still succeed: ask again soon.
            Some(1)
        } else {
            None
        }
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.failures == 0 && self.in_flight == 0
    }
}

#[derive(Default)]
pub(crate) struct Attempts {
    pub(crate) by_token_client: HashMap<(Digest, Option<IpAddr>), Window>,
    pub(crate) by_client: HashMap<Option<IpAddr>, Window>,
}

impl Attempts {
    /// Forgets the windows of a check that left nothing to remember.
    pub(crate) fn remove_idle(&mut self, token: Digest, client: Option<IpAddr>) {
        remove_idle(&mut self.by_token_client, &(token, client));
        remove_idle(&mut self.by_client, &client);
    }
}

pub(crate) fn window<K: Hash + Eq + Clone>(
    windows: &mut HashMap<K, Window>,
    key: K,
    now: Instant,
) -> &mut Window {
    if !windows.contains_key(&key) && windows.len() >= MAX_WINDOWS {
        windows.retain(|_, w| {
            w.in_flight > 0 || (w.failures > 0 && now.duration_since(w.since) < FAILURE_WINDOW)
        });
        if windows.len() >= MAX_WINDOWS {
            let oldest = windows
                .iter()
                .filter(|(_, w)| w.in_flight == 0)
                .min_by_key(|(_, w)| w.since)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                windows.remove(&oldest);
            }
        }
    }
    let w = windows.entry(key).or_insert(Window {
        failures: 0,
        in_flight: 0,
        since: now,
    });
    w.roll(now);
    w
}

pub(crate) fn settle<K: Hash + Eq + Clone>(
    windows: &mut HashMap<K, Window>,
    key: K,
    failed: bool,
    now: Instant,
) {
    let w = window(windows, key.clone(), now);
    w.in_flight = w.in_flight.saturating_sub(1);
    if failed {
        w.failures += 1;
    }
    if w.is_idle() {
        windows.remove(&key);
    }
}

/// The client address as throttling counts it: an IPv6 client by its /64,
/// which one subscriber usually holds whole.
pub(crate) fn client_bucket(client: Option<IpAddr>) -> Option<IpAddr> {
    client.map(|ip| match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    })
}

/// One check's share of the failure budgets; released when dropped, as a
/// failure when `failed` is set.
pub(crate) struct Reservation {
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) token: Digest,
    pub(crate) client: Option<IpAddr>,
    pub(crate) failed: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut attempts = self.auth.attempts();
        let Attempts {
            by_token_client,
            by_client,
        } = &mut *attempts;
        settle(by_token_client, (self.token, self.client), self.failed, now);
        settle(by_client, self.client, self.failed, now);
    }
}

/// A token's turn to be hashed; the next check of the same token waits.
pub(crate) struct Turn {
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) token: Digest,
    pub(crate) guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut turns = self
            .auth
            .turns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        drop(self.guard.take());
        // Every clone is made under this lock: one left means nobody waits.
        if turns
            .get(&self.token)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            turns.remove(&self.token);
        }
    }
}

impl Authenticator {
    pub(crate) fn new(settings: &AuthSettings) -> Self {
        let mut secret_key = [0u8; 64];
        let mut token_key = [0u8; 64];
        OsRng.fill_bytes(&mut secret_key);
        OsRng.fill_bytes(&mut token_key);
        let queue_len = settings.hash_queue.max(1);
        Self {
            secret_key,
            token_key,
            verified: Mutex::new(Verified::default()),
            argon2_permits: Arc::new(Semaphore::new(2)),
            queue: Arc::new(Semaphore::new(queue_len)),
            queue_len,
            turns: Mutex::new(HashMap::new()),
            attempts: Mutex::new(Attempts::default()),
            max_failures_per_token_ip: settings.max_failures_per_token_ip,
            max_failures_per_ip: settings.max_failures_per_ip,
        }
    }

    pub(crate) fn mac(key: &[u8; 64], parts: &[&[u8]]) -> Digest {
        let mut mac = <Hmac<Sha256> as KeyInit>::new(key.into());
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    pub(crate) fn token_digest(&self, token: &str) -> Digest {
        Self::mac(&self.token_key, &[token.as_bytes()])
    }

    pub(crate) fn digest(&self, token: &str, secret: &str) -> Digest {
        Self::mac(
            &self.secret_key,
            &[token.as_bytes(), &[0], secret.as_bytes()],
        )
    }

    pub(crate) fn cached(&self, token: &Digest, digest: &Digest) -> bool {
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .check(token, digest)
    }

    pub(crate) fn remember(&self, token: Digest, digest: Digest) {
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token, digest);
    }

    pub(crate) fn attempts(&self) -> MutexGuard<'_, Attempts> {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many seconds to wait when either budget is already spent, without
    /// counting a check: lets a flood be refused before it queues.
    pub(crate) fn spent(&self, token: Digest, client: Option<IpAddr>) -> Option<u64> {
        let mut attempts = self.attempts();
        let refusal = self.refusal(&mut attempts, token, client, Instant::now());
        attempts.remove_idle(token, client);
        refusal
    }

    /// The wait when either budget is spent by failures and checks in flight.
    pub(crate) fn refusal(
        &self,
        attempts: &mut Attempts,
        token: Digest,
        client: Option<IpAddr>,
        now: Instant,
    ) -> Option<u64> {
        window(&mut attempts.by_token_client, (token, client), now)
            .refusal(self.max_failures_per_token_ip, now)
            .or_else(|| {
                window(&mut attempts.by_client, client, now).refusal(self.max_failures_per_ip, now)
            })
    }

    /// Counts one check against both budgets, or says how many seconds to
    /// wait when either is spent by failures and checks in flight.
    pub(crate) fn reserve(
        self: &Arc<Self>,
        token: Digest,
        client: Option<IpAddr>,
    ) -> Result<Reservation, u64> {
        let mut attempts = self.attempts();
        if let Some(wait) = self.refusal(&mut attempts, token, client, Instant::now()) {
            attempts.remove_idle(token, client);
            return Err(wait);
        }
        let Attempts {
            by_token_client,
            by_client,
        } = &mut *attempts;
        for w in [
            by_token_client.get_mut(&(token, client)),
            by_client.get_mut(&client),
        ]
        .into_iter()
        .flatten()
        {
            w.in_flight += 1;
        }
        Ok(Reservation {
            auth: Arc::clone(self),
            token,
            client,
            failed: false,
        })
    }

    pub(crate) async fn turn(self: &Arc<Self>, token: Digest) -> Turn {
        let lock = {
            let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
            // A check cancelled while waiting leaves its token's entry behind.
            if turns.len() > 2 * self.queue_len + 64 {
                turns.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            Arc::clone(turns.entry(token).or_default())
        };
        let guard = lock.lock_owned().await;
        Turn {
            auth: Arc::clone(self),
            token,
            guard: Some(guard),
        }
    }
}

pub(crate) fn remove_idle<K: Hash + Eq>(windows: &mut HashMap<K, Window>, key: &K) {
    if windows.get(key).is_some_and(Window::is_idle) {
        windows.remove(key);
    }
}

pub(crate) fn hash_secret(secret: &str) -> ServiceResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("argon2: {e}")))
}

pub(crate) fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// What an unknown or revoked token is checked against, so that its answer
/// takes as long as a wrong secret's: made like a real credential's hash, of
/// a secret nobody knows.
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_secret(&random_token(32)).unwrap_or_default())
}

pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A client address for log lines.
pub(crate) fn client_label(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn authenticator(per_token_ip: u32, per_ip: u32) -> Arc<Authenticator> {
        Arc::new(Authenticator::new(&AuthSettings {
            max_failures_per_token_ip: per_token_ip,
            max_failures_per_ip: per_ip,
            ..AuthSettings::default()
        }))
    }

    const CLIENT: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
    const OTHER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)));

    #[test]
    fn checks_in_flight_count_against_the_limit_and_only_failures_stay_counted() {
        let auth = authenticator(3, 100);
        let token = auth.token_digest("token");
        let in_flight: Vec<_> = (0..3)
            .map(|_| auth.reserve(token, CLIENT).unwrap())
            .collect();
        assert_eq!(auth.reserve(token, CLIENT).err(), Some(1));
        assert!(auth.reserve(token, OTHER).is_ok(), "another address");
        drop(in_flight);
        let mut failing: Vec<_> = (0..3)
            .map(|_| auth.reserve(token, CLIENT).unwrap())
            .collect();
        for reservation in &mut failing {
            reservation.failed = true;
        }
        drop(failing);
        let wait = auth.reserve(token, CLIENT).err().unwrap();
        assert!((55..=60).contains(&wait), "{wait}");
        assert!(auth.reserve(token, OTHER).is_ok(), "another address");
    }

    #[test]
    fn one_address_is_limited_over_all_tokens() {
        let auth = authenticator(10, 3);
        for n in 0..3 {
            let mut reservation = auth
                .reserve(auth.token_digest(&n.to_string()), CLIENT)
                .unwrap();
            reservation.failed = true;
        }
        assert!(auth.reserve(auth.token_digest("another"), CLIENT).is_err());
        assert!(auth.reserve(auth.token_digest("another"), OTHER).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_bucket(Some(a)), client_bucket(Some(b)));
        assert_ne!(client_bucket(Some(a)), client_bucket(Some(c)));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_bucket(Some(mapped)), CLIENT);
    }

    #[test]
    fn a_full_cache_evicts_only_the_least_recently_used_secret() {
        let key = |n: usize| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&n.to_le_bytes());
            k
        };
        let mut verified = Verified::default();
        for n in 0..MAX_CACHED {
            verified.insert(key(n), key(n));
        }
        assert!(verified.check(&key(0), &key(0)));
        verified.insert(key(MAX_CACHED), key(MAX_CACHED));
        assert_eq!(verified.entries.len(), MAX_CACHED);
        assert!(verified.check(&key(0), &key(0)), "recently used");
        assert!(!verified.check(&key(1), &key(1)), "least recently used");
        assert!(verified.check(&key(2), &key(2)));
        assert!(verified.check(&key(MAX_CACHED), &key(MAX_CACHED)));
    }

    #[tokio::test]
    async fn one_hash_at_a_time_per_token() {
        let auth = authenticator(10, 100);
        let token = auth.token_digest("token");
        let first = auth.turn(token).await;
        let other = tokio::time::timeout(
            Duration::from_millis(500),
            auth.turn(auth.token_digest("another")),
        )
        .await;
        assert!(other.is_ok(), "another token waited");
        drop(other);
        let waiting = Arc::clone(&auth);
        let second = tokio::spawn(async move {
            waiting.turn(token).await;
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!second.is_finished(), "two hashes of one token at once");
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), second)
            .await
            .unwrap()
            .unwrap();
        assert!(auth.turns.lock().unwrap().is_empty());
    }
}
