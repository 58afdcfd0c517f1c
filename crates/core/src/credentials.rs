//! API credentials: issuing them (the secret is shown once and stored only as
//! an Argon2id hash) and checking HTTP Basic credentials without paying an
//! Argon2 hash on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use facegate_domain::{Account, AccountId, Credential, CredentialId, Role};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::error::{ServiceError, ServiceResult};
use crate::Services;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub credential: CredentialId,
    pub role: Role,
    pub account: Account,
}

impl Caller {
    pub fn require(&self, role: Role) -> ServiceResult<()> {
        if self.role == role {
            Ok(())
        } else {
            Err(ServiceError::WrongRole)
        }
    }
}

/// A freshly issued credential; `secret` exists only here.
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    pub token: String,
    pub secret: String,
    pub role: Role,
    pub account: AccountId,
}

/// Remembers, per token, a keyed digest of the secret that last passed the
/// Argon2 check. A repeated request then costs one HMAC instead of an Argon2
/// hash; the key is random per process, so the cache is useless to a thief of
/// a memory dump of another process and never leaves memory.
pub(crate) struct Authenticator {
    cache_key: [u8; 64],
    verified: Mutex<HashMap<String, [u8; 32]>>,
    /// Argon2 is deliberately expensive: bound how many run at once so that a
    /// flood of wrong secrets cannot take every core.
    argon2_permits: Semaphore,
    /// Recent wrong secrets per token: guessing is throttled before it costs
    /// an Argon2 hash.
    failures: Mutex<HashMap<String, Failures>>,
}

struct Failures {
    count: u32,
    since: Instant,
}

impl Authenticator {
    const MAX_CACHED: usize = 10_000;
    /// Wrong secrets allowed per token within [`Self::FAILURE_WINDOW`].
    const MAX_FAILURES: u32 = 10;
    const FAILURE_WINDOW: Duration = Duration::from_secs(60);

    pub(crate) fn new() -> Self {
        let mut cache_key = [0u8; 64];
        OsRng.fill_bytes(&mut cache_key);
        Self {
            cache_key,
            verified: Mutex::new(HashMap::new()),
            argon2_permits: Semaphore::new(2),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn digest(&self, token: &str, secret: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&self.cache_key.into());
        mac.update(token.as_bytes());
        mac.update(&[0]);
        mac.update(secret.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn cached(&self, token: &str, digest: &[u8; 32]) -> bool {
        let cache = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(token)
            .is_some_and(|known| bool::from(known.ct_eq(digest)))
    }

    /// Seconds until this token may try an uncached secret again, if throttled.
    fn throttled(&self, token: &str) -> Option<u64> {
        let failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let f = failures.get(token)?;
        let elapsed = f.since.elapsed();
        (f.count >= Self::MAX_FAILURES && elapsed < Self::FAILURE_WINDOW)
            .then(|| (Self::FAILURE_WINDOW - elapsed).as_secs().max(1))
    }

    fn record_failure(&self, token: &str) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() >= Self::MAX_CACHED {
            failures.retain(|_, f| f.since.elapsed() < Self::FAILURE_WINDOW);
        }
        let entry = failures
            .entry(token.to_owned())
            .or_insert_with(|| Failures {
                count: 0,
                since: Instant::now(),
            });
        if entry.since.elapsed() >= Self::FAILURE_WINDOW {
            *entry = Failures {
                count: 0,
                since: Instant::now(),
            };
        }
        entry.count += 1;
    }

    fn remember(&self, token: &str, digest: [u8; 32]) {
        let mut cache = self
            .verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= Self::MAX_CACHED {
            cache.clear();
        }
        cache.insert(token.to_owned(), digest);
    }
}

fn hash_secret(secret: &str) -> ServiceResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::Internal(format!("argon2: {e}")))
}

fn verify_secret(secret: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

impl Services {
    /// Issues a credential for `account`. The secret is returned once.
    pub async fn issue_credential(
        &self,
        account: AccountId,
        role: Role,
    ) -> ServiceResult<IssuedCredential> {
        if self.store.account(account).await?.is_none() {
            return Err(ServiceError::AccountNotFound);
        }
        // Tokens are UUIDs like the reference API's; secrets carry 256 bits.
        let token = uuid::Uuid::new_v4().to_string();
        let secret = random_token(32);
        let secret_for_hash = secret.clone();
        let secret_hash = tokio::task::spawn_blocking(move || hash_secret(&secret_for_hash))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let credential = Credential {
            id: CredentialId::new_random(),
            account,
            token: token.clone(),
            secret_hash,
            role,
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.insert_credential(&credential).await?;
        Ok(IssuedCredential {
            token,
            secret,
            role,
            account,
        })
    }

    /// Revokes a credential at once, in every process sharing the database:
    /// each request re-reads the credential row.
    pub async fn revoke_credential(&self, token: &str) -> ServiceResult<bool> {
        Ok(self
            .store
            .revoke_credential(token, self.clock.now())
            .await?)
    }

    /// Checks HTTP Basic credentials.
    pub async fn authenticate(&self, token: &str, secret: &str) -> ServiceResult<Caller> {
        let credential = self
            .store
            .credential_by_token(token)
            .await?
            .filter(|c| c.revoked_at.is_none())
            .ok_or(ServiceError::Unauthenticated)?;
        let auth = &self.authenticator;
        let digest = auth.digest(token, secret);
        if !auth.cached(token, &digest) {
            // A secret that already passed keeps working during a throttle,
            // so guessing cannot lock a customer's integration out.
            if let Some(retry_after_secs) = auth.throttled(token) {
                return Err(ServiceError::RateLimited { retry_after_secs });
            }
            let _permit = auth
                .argon2_permits
                .acquire()
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let (secret, phc) = (secret.to_owned(), credential.secret_hash.clone());
            let ok = tokio::task::spawn_blocking(move || verify_secret(&secret, &phc))
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            if !ok {
                auth.record_failure(token);
                return Err(ServiceError::Unauthenticated);
            }
            auth.remember(token, digest);
        }
        let account = self
            .store
            .account(credential.account)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        Ok(Caller {
            credential: credential.id,
            role: credential.role,
            account,
        })
    }
}
