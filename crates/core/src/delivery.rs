//! The callback delivery worker: claims due outbox messages, signs and sends
//! them, records every attempt and schedules retries (SPEC §5).

use std::sync::Arc;
use std::time::Duration;

use facegate_callbacks::{Deliverer, Delivery, RetrySchedule};
use facegate_storage::{DeliveryAttempt, NextStep, PendingCallback};

use crate::error::ServiceResult;
use crate::Services;

/// How the worker paces itself.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub schedule: RetrySchedule,
    /// Messages claimed per round.
    pub batch: u32,
    /// A claimed message is not handed to another worker for this long, which
    /// must exceed the HTTP timeout.
    pub lease: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            batch: 16,
            lease: Duration::from_secs(120),
        }
    }
}

pub struct DeliveryWorker {
    services: Arc<Services>,
    deliverer: Deliverer,
    settings: DeliverySettings,
}

impl DeliveryWorker {
    pub fn new(services: Arc<Services>, deliverer: Deliverer, settings: DeliverySettings) -> Self {
        Self {
            services,
            deliverer,
            settings,
        }
    }

    /// One round: delivers every due message (concurrently) and returns how many were attempted.
    pub async fn run_once(&self) -> ServiceResult<usize> {
        let now = self.services.clock.now();
        let lease =
            chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::minutes(2));
        let due = self
            .services
            .store
            .claim_due_callbacks(now, lease, self.settings.batch)
            .await?;
        let count = due.len();
        // Attempts of one round run concurrently so one slow receiver does not delay the others.
        let results = futures::future::join_all(due.into_iter().map(|p| self.attempt(p))).await;
        for r in results {
            r?;
        }
        Ok(count)
    }

    async fn attempt(&self, pending: PendingCallback) -> ServiceResult<()> {
        let services = &self.services;
        let message = &pending.message;
        let attempt_no = pending.attempts + 1;
        let started = services.clock.now();
        let (outcome, secret_missing) = match services.account(message.account).await {
            Ok(account) => match services.webhook_secret(&account) {
                Ok(secret) => {
                    let msg_id = format!("msg_{}", message.id.simple());
                    let delivery = Delivery {
                        url: &message.url,
                        msg_id: &msg_id,
                        timestamp_secs: started.timestamp(),
                        body: &message.body,
                        secret: &secret,
                    };
                    (Some(self.deliverer.deliver(&delivery).await), false)
                }
                Err(_) => (None, true),
            },
            Err(_) => (None, true),
        };
        let (delivered, status, error, detail, duration_ms) = match &outcome {
            Some(o) => (
                o.delivered,
                o.status,
                o.error.map(|e| e.as_str().to_owned()),
                o.detail.clone(),
                u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX),
            ),
            None => (false, None, Some("no_signing_key".to_owned()), None, 0),
        };
        let next = if delivered {
            NextStep::Delivered
        } else if secret_missing {
            // Without the account or its master key the message can never be signed.
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

    /// Runs until `shutdown` resolves: wakes on new messages or every `poll`.
    pub async fn run(self, poll: Duration, shutdown: tokio::sync::watch::Receiver<bool>) {
        run_periodically(
            poll,
            shutdown,
            Some(self.services.callbacks_queued.clone()),
            || async {
                if let Err(e) = self.run_once().await {
                    tracing::warn!(error = %e, "callback delivery round failed");
                }
            },
        )
        .await;
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
    })
    .await;
}
