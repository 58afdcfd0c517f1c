//! Authentication transactions: lifetime rules and the state machine
//! `CREATED → STARTED → PASSED | FAILED | INVALID | EXPIRED` (SPEC §2.4).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccountId, EnrollmentRef, TransactionRef};
use crate::input::{Locale, RedirectUrl, TokenLifetime, UserReference};

/// No authentication transaction lives longer than this.
pub const MAX_AUTH_LIFETIME_MINUTES: u32 = 15;

/// `min(tokenLifetimeInMinutes or the account default, 15)` minutes.
pub fn auth_lifetime(requested: Option<TokenLifetime>, account_default_minutes: u32) -> Duration {
    let minutes = requested
        .map_or(account_default_minutes, |l| l.minutes())
        .min(MAX_AUTH_LIFETIME_MINUTES);
    Duration::minutes(i64::from(minutes))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransactionState {
    Created,
    Started,
    Passed,
    Failed,
    Invalid,
    Expired,
}

/// A transition the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a transaction in state {from:?} cannot become {to:?}")]
pub struct TransitionError {
    pub from: TransactionState,
    pub to: TransactionState,
}

impl TransactionState {
    pub const ALL: [Self; 6] = [
        Self::Created,
        Self::Started,
        Self::Passed,
        Self::Failed,
        Self::Invalid,
        Self::Expired,
    ];

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Passed | Self::Failed | Self::Invalid | Self::Expired
        )
    }

    /// Final states never change; `STARTED` cannot go back to `CREATED`.
    pub fn transition(self, to: Self) -> Result<Self, TransitionError> {
        let allowed = match (self, to) {
            (Self::Created, Self::Started) => true,
            (Self::Created | Self::Started, t) => t.is_final(),
            _ => false,
        };
        if allowed {
            Ok(to)
        } else {
            Err(TransitionError { from: self, to })
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Started => "STARTED",
            Self::Passed => "PASSED",
            Self::Failed => "FAILED",
            Self::Invalid => "INVALID",
            Self::Expired => "EXPIRED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Where the end user's capture came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ScanSource {
    Web,
    Sdk,
}

impl ScanSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "WEB",
            Self::Sdk => "SDK",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "WEB" => Some(Self::Web),
            "SDK" => Some(Self::Sdk),
            _ => None,
        }
    }
}

/// One authentication transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthTransaction {
    pub reference: TransactionRef,
    pub account: AccountId,
    pub enrollment: EnrollmentRef,
    pub state: TransactionState,
    pub scan_source: ScanSource,
    pub user_reference: Option<UserReference>,
    /// The effective URLs: request values, else the account defaults at initiation.
    pub callback_url: Option<RedirectUrl>,
    pub success_url: Option<RedirectUrl>,
    pub error_url: Option<RedirectUrl>,
    pub locale: Locale,
    /// SHA-256 of the authorization token handed out in `redirectUrl`.
    pub token_hash: [u8; 32],
    /// The sealed facemap, kept only until a final state.
    pub facemap: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub finalized_at: Option<DateTime<Utc>>,
    /// Set by DELETE: PII, images and facemap are gone, the row is a tombstone.
    pub deleted_at: Option<DateTime<Utc>>,
    /// The decision record of the final attempt, once there is one.
    pub decision: Option<crate::decision::Decision>,
    /// Whether the best face frame is stored (`/images/face`).
    pub face_image: bool,
    /// How many liveness images are stored (`/images/liveness/1..=n`).
    pub liveness_images: u32,
}

impl AuthTransaction {
    /// Overdue and not final: the expiry worker (or any reader) must finalise it.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        !self.state.is_final() && now >= self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransactionState::*;

    #[test]
    fn final_states_never_change() {
        for from in [Passed, Failed, Invalid, Expired] {
            for to in TransactionState::ALL {
                assert!(from.transition(to).is_err(), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn open_states_may_finish_in_any_final_state() {
        assert_eq!(Created.transition(Started), Ok(Started));
        assert!(Started.transition(Created).is_err());
        assert!(Started.transition(Started).is_err());
        for to in [Passed, Failed, Invalid, Expired] {
            assert_eq!(Created.transition(to), Ok(to));
            assert_eq!(Started.transition(to), Ok(to));
        }
    }

    #[test]
    fn lifetime_is_capped_at_15_minutes() {
        let lt = |m| TokenLifetime::parse(m).ok();
        assert_eq!(auth_lifetime(lt(5), 30), Duration::minutes(5));
        assert_eq!(auth_lifetime(lt(60), 30), Duration::minutes(15));
        assert_eq!(auth_lifetime(None, 30), Duration::minutes(15));
        assert_eq!(auth_lifetime(None, 10), Duration::minutes(10));
    }
}
