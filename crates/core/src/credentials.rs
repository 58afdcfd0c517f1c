//! API credentials: issuing them (the secret is shown once and stored only as
//! an Argon2id hash), revoking them and checking HTTP Basic credentials
//! (with the throttling of [`crate::authenticator`]).

use std::net::IpAddr;
use std::sync::Arc;

use facegate_domain::{Account, AccountId, Credential, CredentialId, Permission, Role};
use tokio::sync::OwnedSemaphorePermit;

use crate::authenticator::{
    client_bucket, client_label, dummy_hash, hash_secret, random_token, verify_secret, Digest,
    Turn, BUSY_RETRY_SECS,
};
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
    /// Refuses a call the credential's role does not allow.
    pub fn require(&self, permission: Permission) -> ServiceResult<()> {
        if self.role.allows(permission) {
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

    /// The account's credentials, revoked ones included (secrets are
    /// stored only as hashes).
    pub async fn list_credentials(&self, account: AccountId) -> ServiceResult<Vec<Credential>> {
        Ok(self.store.list_credentials(account).await?)
    }

    /// Revokes a credential at once, in every process sharing the database:
    /// each request re-reads the credential row.
    pub async fn revoke_credential(&self, token: &str) -> ServiceResult<bool> {
        Ok(self
            .store
            .revoke_credential(token, self.clock.now())
            .await?)
    }

    /// Checks HTTP Basic credentials sent from `client` (`None` when the
    /// transport knows no address; such checks share one budget).
    pub async fn authenticate(
        &self,
        token: &str,
        secret: &str,
        client: Option<IpAddr>,
    ) -> ServiceResult<Caller> {
        let credential = self
            .store
            .credential_by_token(token)
            .await?
            .filter(|c| c.revoked_at.is_none());
        let auth = &self.authenticator;
        let token_digest = auth.token_digest(token);
        let digest = auth.digest(token, secret);
        // A secret that already passed skips the throttle, so guessing
        // cannot lock a customer's integration out.
        let passed = match &credential {
            Some(_) if auth.cached(&token_digest, &digest) => true,
            _ => {
                self.check_secret(credential.as_ref(), token_digest, digest, secret, client)
                    .await?
            }
        };
        let Some(credential) = credential.filter(|_| passed) else {
            return Err(ServiceError::Unauthenticated);
        };
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

    /// The Argon2 check of a secret not verified before, against the
    /// credential's hash or, for an unknown or revoked token, the dummy one.
    async fn check_secret(
        &self,
        credential: Option<&Credential>,
        token: Digest,
        digest: Digest,
        secret: &str,
        client: Option<IpAddr>,
    ) -> ServiceResult<bool> {
        // Logged instead of the token, which stays out of the logs.
        let credential_label =
            credential.map_or_else(|| "unknown".to_owned(), |c| c.id.to_string());
        let auth = &self.authenticator;
        let bucket = client_bucket(client);
        let throttled = |retry_after_secs| {
            tracing::info!(
                client = %client_label(client),
                credential = %credential_label,
                "authentication throttled"
            );
            ServiceError::RateLimited { retry_after_secs }
        };
        // A spent budget answers at once, before waiting for anything.
        if let Some(retry_after_secs) = auth.spent(token, bucket) {
            return Err(throttled(retry_after_secs));
        }
        // One check of a token at a time. Waiting here costs no hash and no
        // place in the hashing queue: a flood on one token waits behind its
        // own checks and cannot crowd out other credentials.
        let turn = auth.turn(token).await;
        // The same secret may have passed while this check waited its turn:
        // concurrent requests with the right secret cost one hash and never
        // count against the budget.
        if credential.is_some() && auth.cached(&token, &digest) {
            return Ok(true);
        }
        // Counted only now, holding the token's turn: checks of one token
        // are counted and hashed one at a time, so none can slip past the
        // limit before an earlier failure is recorded; the per-address
        // budget also counts checks of other tokens still in flight.
        let mut reservation = auth.reserve(token, bucket).map_err(throttled)?;
        let queued = Arc::clone(&auth.queue).try_acquire_owned().map_err(|_| {
            tracing::warn!(
                client = %client_label(client),
                "authentication refused: the Argon2 queue is full"
            );
            ServiceError::AuthenticationBusy {
                retry_after_secs: BUSY_RETRY_SECS,
            }
        })?;
        let slot = Arc::clone(&auth.argon2_permits)
            .acquire_owned()
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let known = credential.is_some();
        let phc = credential.map(|c| c.secret_hash.clone());
        let secret = secret.to_owned();
        let remember = Arc::clone(auth);
        self.metrics.increment("facegate_argon2_hashes_total", "");
        // The hash owns the reservation, the turn and the slots: a caller
        // that hangs up cannot free them, or escape its failure, early.
        let passed = tokio::task::spawn_blocking(move || {
            let held: (OwnedSemaphorePermit, Turn, OwnedSemaphorePermit) = (queued, turn, slot);
            let passed = match &phc {
                Some(phc) => verify_secret(&secret, phc),
                None => {
                    verify_secret(&secret, dummy_hash());
                    false
                }
            };
            if passed && known {
                remember.remember(token, digest);
            }
            reservation.failed = !passed;
            drop(reservation);
            drop(held);
            passed
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        if !passed {
            tracing::warn!(
                client = %client_label(client),
                credential = %credential_label,
                "authentication failed"
            );
        }
        Ok(passed)
    }
}
