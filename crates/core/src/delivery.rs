//! The callback delivery worker: claims due outbox messages, signs and sends
//! them, records every attempt and schedules retries (SPEC §5).
//!
//! A dispatcher keeps up to `concurrency` deliveries in flight, at most
//! `per_account` of one account, and claims new due messages as soon as a
//! slot frees, taking accounts in turn; so a receiver that hangs delays only
//! its own account's callbacks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use facegate_callbacks::{Deliverer, Delivery, RetrySchedule};
use facegate_domain::{AccountId, PrivateCallbackTargets};
use facegate_storage::{ClaimFairness, DeliveryAttempt, NextStep, PendingCallback};
use tokio::task::JoinSet;

use crate::error::{ServiceError, ServiceResult};
use crate::Services;

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub schedule: RetrySchedule,
    /// Deliveries in flight at once, all accounts together.
    pub concurrency: u32,
    /// Deliveries in flight at once for one account.
    pub per_account: u32,
    /// A claimed message is not handed to another worker for this long, which
    /// must exceed the HTTP timeout.
    pub lease: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            concurrency: 32,
            per_account: 4,
            lease: Duration::from_secs(120),
        }
    }
}

pub struct DeliveryWorker {
    services: Arc<Services>,
    deliverer: Deliverer,
    settings: DeliverySettings,
}

/// Why no signature could be made for a message.
enum Unsigned {
    /// The account is gone: the message can never be signed.
    NoAccount,
    /// No key the account's secrets derive from is loaded: an operator can
    /// fix that, so the message waits for a retry.
    NoKey,
}

impl DeliveryWorker {
    pub fn new(services: Arc<Services>, deliverer: Deliverer, settings: DeliverySettings) -> Self {
        Self {
            services,
            deliverer,
            settings,
        }
    }

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::minutes(2))
    }

    async fn claim(
        &self,
        limit: u32,
        in_flight: &HashMap<AccountId, u32>,
    ) -> ServiceResult<Vec<PendingCallback>> {
        let fairness = ClaimFairness {
            per_account: self.settings.per_account.max(1),
            in_flight: in_flight
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(a, n)| (*a, *n))
                .collect(),
        };
        Ok(self
            .services
            .store
            .claim_due_callbacks_fair(self.services.clock.now(), self.lease(), limit, &fairness)
            .await?)
    }

    async fn attempt(&self, pending: PendingCallback) -> ServiceResult<()> {
        let services = &self.services;
        let message = &pending.message;
        let attempt_no = pending.attempts + 1;
        let started = services.clock.now();
        // The account's current private targets decide where its callbacks may go.
        let mut private = PrivateCallbackTargets::NONE;
        let signing = match services.account(message.account).await {
            Ok(account) => {
                private = account.callback_private_targets.clone();
                let signing = services.webhook_signing_secrets(&account, started);
                for key in &signing.missing {
                    services
                        .metrics
                        .increment("facegate_callback_key_missing_total", "");
                    tracing::error!(
                        alert = true,
                        account = %account.id,
                        key = %key,
                        signed = !signing.secrets.is_empty(),
                        "the master key of an account's webhook secret is not loaded"
                    );
                }
                if signing.secrets.is_empty() {
                    Err(Unsigned::NoKey)
                } else {
                    Ok(signing.secrets)
                }
            }
            Err(ServiceError::AccountNotFound) => Err(Unsigned::NoAccount),
            // The database is unavailable: the lease runs out and a later
            // round tries again.
            Err(e) => return Err(e),
        };
        let outcome = match &signing {
            Ok(secrets) => {
                let msg_id = format!("msg_{}", message.id.simple());
                let delivery = Delivery {
                    url: &message.url,
                    msg_id: &msg_id,
                    timestamp_secs: started.timestamp(),
                    body: &message.body,
                    secrets,
                    private: &private,
                };
                Some(self.deliverer.deliver(&delivery).await)
            }
            Err(_) => None,
        };
        let (delivered, status, error, detail, duration_ms) = match (&outcome, &signing) {
            (Some(o), _) => (
                o.delivered,
                o.status,
                o.error.map(|e| e.as_str().to_owned()),
                o.detail.clone(),
                u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX),
            ),
            (None, Err(Unsigned::NoAccount)) => {
                (false, None, Some("no_account".to_owned()), None, 0)
            }
            (None, _) => (false, None, Some("no_signing_key".to_owned()), None, 0),
        };
        let next = if delivered {
            NextStep::Delivered
        } else if matches!(signing, Err(Unsigned::NoAccount)) {
            NextStep::GiveUp
        } else {
            let first = pending.first_attempt_at.unwrap_or(started);
            let elapsed = (started - first).to_std().unwrap_or_default();
            match self.settings.schedule.next_delay(attempt_no, elapsed) {
                Some(delay) => NextStep::RetryAt(
                    started
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(4)),
                ),
                None => NextStep::GiveUp,
            }
        };
        let attempt = DeliveryAttempt {
            outbox_id: message.id,
            attempt_no,
            at: started,
            delivered,
            status,
            error,
            detail,
            duration_ms,
        };
        tracing::info!(
            transaction = %message.transaction,
            attempt = attempt_no,
            delivered,
            status = ?status,
            error = attempt.error.as_deref().unwrap_or(""),
            "callback attempt"
        );
        let outcome_label = format!(
            "outcome=\"{}\"",
            attempt.error.as_deref().unwrap_or("delivered")
        );
        services
            .metrics
            .increment("facegate_callback_attempts_total", &outcome_label);
        services.store.record_attempt(&attempt, next).await?;
        Ok(())
    }

    /// Runs until `shutdown` resolves. Claims whenever a slot is free and
    /// something is due; otherwise waits for a delivery to finish, a new
    /// message (`callbacks_queued`) or the next `poll`.
    pub async fn run(self, poll: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let worker = Arc::new(self);
        let wake = worker.services.callbacks_queued.clone();
        let capacity = worker.settings.concurrency.max(1);
        let mut running: JoinSet<()> = JoinSet::new();
        // Which account each running attempt belongs to, by task id, so a
        // finished (or failed) one frees its account's slot.
        let mut accounts: HashMap<tokio::task::Id, AccountId> = HashMap::new();
        let mut in_flight: HashMap<AccountId, u32> = HashMap::new();
        loop {
            if *shutdown.borrow() {
                running.abort_all();
                return;
            }
            let free = capacity.saturating_sub(u32::try_from(running.len()).unwrap_or(u32::MAX));
            if free > 0 {
                match worker.claim(free, &in_flight).await {
                    Ok(claimed) => {
                        for pending in claimed {
                            let account = pending.message.account;
                            *in_flight.entry(account).or_default() += 1;
                            let w = worker.clone();
                            let task = running.spawn(async move {
                                if let Err(e) = w.attempt(pending).await {
                                    tracing::warn!(error = %e, "callback attempt failed");
                                }
                            });
                            accounts.insert(task.id(), account);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming callbacks failed"),
                }
            }
            tokio::select! {
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    let id = match done {
                        Ok((id, ())) => id,
                        Err(e) => {
                            tracing::error!(error = %e, "a callback attempt ended abnormally");
                            e.id()
                        }
                    };
                    if let Some(account) = accounts.remove(&id) {
                        if let Some(n) = in_flight.get_mut(&account) {
                            *n = n.saturating_sub(1);
                            if *n == 0 {
                                in_flight.remove(&account);
                            }
                        }
                    }
                }
                _ = tokio::time::sleep(poll) => {}
                _ = wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Runs `round` every `poll` (or when `wake` fires) until `shutdown` is set.
pub async fn run_periodically<F, Fut>(
    poll: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    wake: Option<Arc<tokio::sync::Notify>>,
    mut round: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        if *shutdown.borrow() {
            return;
        }
        round().await;
        let woken = async {
            match &wake {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = woken => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Runs the expiry sweep every `poll` until `shutdown`.
pub async fn run_expiry(
    services: Arc<Services>,
    poll: Duration,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    run_periodically(poll, shutdown, None, || async {
        match services.expire_overdue().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired overdue authentications"),
            Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
        }
        match services.expire_overdue_scans().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(ended = n, "ended unfinished ID verifications"),
            Err(e) => tracing::warn!(error = %e, "scan expiry sweep failed"),
        }
        match services.enforce_scan_retention().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(erased = n, "erased ID verifications past their retention"),
            Err(e) => tracing::warn!(error = %e, "scan retention sweep failed"),
        }
        match services.enforce_retention().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(erased = n, "erased images past their retention"),
            Err(e) => tracing::warn!(error = %e, "image retention sweep failed"),
        }
        match services.enforce_callback_retention().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(erased = n, "erased callbacks past their retention"),
            Err(e) => tracing::warn!(error = %e, "callback retention sweep failed"),
        }
        if let Err(e) = services.sweep_console().await {
            tracing::warn!(error = %e, "console session sweep failed");
        }
    })
    .await;
}
