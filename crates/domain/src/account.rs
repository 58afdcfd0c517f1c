//! Accounts (tenants) and their API credentials.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::callback_targets::PrivateCallbackTargets;
use crate::ids::{AccountId, CredentialId};
use crate::input::{Locale, ParentOrigin, PiiCheck, RedirectUrl};
use crate::scan::DocumentAcceptance;

/// A customer of this deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    /// Facemap authentication is a feature enabled per account (SPEC §2.2).
    pub facemap_auth_enabled: bool,
    pub callback_url: Option<RedirectUrl>,
    pub success_url: Option<RedirectUrl>,
    pub error_url: Option<RedirectUrl>,
    /// Used when a request names no `tokenLifetimeInMinutes`.
    pub default_token_lifetime_minutes: u32,
    pub default_locale: Locale,
    /// Salt from which the webhook signing secret is derived with the master key;
    /// the secret itself is never stored.
    pub webhook_salt: [u8; 16],
    /// Master key the webhook secret is derived from, so that a key rotation
    /// does not silently change the secret customers verify with.
    pub webhook_key_id: u32,
    /// The key the webhook secret was derived from before the last key
    /// rotation moved it; callbacks are signed with both until the overlap ends.
    pub webhook_previous: Option<PreviousWebhookKey>,
    /// The only origin the framed web client tells its result to; `None`
    /// posts to any parent, as integrations made before this setting expect.
    pub parent_origin: Option<ParentOrigin>,
    /// Refuse user references that look like e-mail addresses or phone
    /// numbers. Off by default: keeping PII out is the customer's duty, as
    /// in Jumio's guides.
    pub refuse_pii_user_reference: bool,
    /// Private hosts and networks this account's callbacks may reach (its
    /// own on-premise receivers); empty keeps every private address refused.
    pub callback_private_targets: PrivateCallbackTargets,
    /// Days a finished ID verification keeps its personal data (images,
    /// extracted data, the server's facemap) before they are erased as a
    /// DELETE erases them, leaving the tombstone.
    pub scan_retention_days: u32,
    /// The ID documents this account's ID verifications accept.
    pub accepted_documents: DocumentAcceptance,
    pub created_at: DateTime<Utc>,
}

/// A webhook secret still signed with during a key rotation's overlap, so
/// receivers can switch to the new secret without missing a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousWebhookKey {
    pub key_id: u32,
    /// Callbacks sent from this instant on carry only the current signature.
    pub until: DateTime<Utc>,
}

impl Account {
    pub const DEFAULT_TOKEN_LIFETIME_MINUTES: u32 = 30;

    /// How this account's user references are checked.
    pub fn pii_check(&self) -> PiiCheck {
        PiiCheck::refusing(self.refuse_pii_user_reference)
    }
}

/// What a credential may do. Jumio gives each customer one API credential
/// for every call and, optionally, a separate one for transaction
/// administration; the roles model both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Every customer API, like Jumio's main API credential: what a
    /// credential issued without a role gets.
    All,
    /// Initiate transactions only.
    Api,
    /// Transaction administration only: retrieve and delete transactions,
    /// download their images, read delivery attempts.
    Admin,
}

/// What a customer API call needs a credential to allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Start a transaction (API or web initiation).
    Initiate,
    /// Read, download from, audit or delete a transaction.
    Administer,
}

impl Role {
    /// Every role, broadest first.
    pub const ALL: [Self; 3] = [Self::All, Self::Api, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Api => "api",
            Self::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == s)
    }

    /// Whether a credential of this role may make a call that needs
    /// `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        match (self, permission) {
            (Self::All, _) => true,
            (Self::Api, Permission::Initiate) => true,
            (Self::Admin, Permission::Administer) => true,
            (Self::Api, Permission::Administer) | (Self::Admin, Permission::Initiate) => false,
        }
    }
}

/// An API credential: the token is public, the secret is kept only as an
/// Argon2id PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: CredentialId,
    pub account: AccountId,
    pub token: String,
    pub secret_hash: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_credential_allows_every_call_and_the_narrow_roles_one_side() {
        use Permission::{Administer, Initiate};
        assert!(Role::All.allows(Initiate) && Role::All.allows(Administer));
        assert!(Role::Api.allows(Initiate) && !Role::Api.allows(Administer));
        assert!(Role::Admin.allows(Administer) && !Role::Admin.allows(Initiate));
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("API"), None);
        assert_eq!(Role::parse(""), None);
    }
}
