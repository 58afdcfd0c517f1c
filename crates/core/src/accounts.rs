//! Accounts: creation, settings, and the per-account webhook signing secret.

use chrono::{DateTime, Utc};
use facegate_callbacks::SigningSecret;
use facegate_domain::{
    Account, AccountId, DocumentAcceptance, FieldError, Locale, LocaleSet, ParentOrigin,
    PrivateCallbackTargets, RedirectUrl, TokenLifetime, UrlField,
};
use facegate_facemap::KeyId;
use rand::rngs::OsRng;
use rand::RngCore;

use crate::error::{ServiceError, ServiceResult};
use crate::Services;

/// Settings of an account; `None` leaves a field as it is on update.
#[derive(Debug, Clone, Default)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub facemap_auth_enabled: Option<bool>,
    /// `Some("")` clears the URL.
    pub callback_url: Option<String>,
    pub success_url: Option<String>,
    pub error_url: Option<String>,
    pub default_token_lifetime_minutes: Option<i64>,
    pub default_locale: Option<String>,
    /// `Some("")` clears the origin.
    pub parent_origin: Option<String>,
    /// Refuse user references that look like e-mail addresses or phone numbers.
    pub refuse_pii_user_reference: Option<bool>,
    /// The private hosts and networks the account's callbacks may reach,
    /// comma-separated (`10.1.0.0/16,receiver.corp.internal`); `Some("")` clears them.
    pub callback_private_networks: Option<String>,
    /// Days a finished ID verification keeps its personal data (1..=3650).
    pub scan_retention_days: Option<i64>,
    /// Document types ID verifications accept, comma-separated
    /// (`PASSPORT,ID_CARD`); `Some("")` accepts every type.
    pub accepted_document_types: Option<String>,
    /// Issuing countries ID verifications accept, comma-separated ISO
    /// 3166-1 alpha-3 (`AUT,DEU`); `Some("")` accepts every country.
    pub accepted_countries: Option<String>,
    /// Accept documents past their expiry date.
    pub accept_expired_documents: Option<bool>,
}

/// Bounds of an account's scan retention, in days.
pub const SCAN_RETENTION_DAYS: std::ops::RangeInclusive<i64> = 1..=3650;

impl Services {
    fn parse_optional_url(
        &self,
        raw: &str,
        field: UrlField,
        private: &PrivateCallbackTargets,
    ) -> Result<Option<RedirectUrl>, FieldError> {
        if raw.is_empty() {
            return Ok(None);
        }
        RedirectUrl::parse_for(raw, field, self.settings.url_policy, private).map(Some)
    }

    fn apply_changes(&self, account: &mut Account, changes: AccountChanges) -> ServiceResult<()> {
        let mut errors = Vec::new();
        if let Some(name) = changes.name {
            if name.trim().is_empty() || name.chars().count() > 200 {
                errors.push(FieldError::new(
                    "name",
                    "FIELD_INVALID",
                    "the name must have 1 to 200 characters",
                ));
            } else {
                account.name = name;
            }
        }
        if let Some(enabled) = changes.facemap_auth_enabled {
            account.facemap_auth_enabled = enabled;
        }
        if let Some(refuse) = changes.refuse_pii_user_reference {
            account.refuse_pii_user_reference = refuse;
        }
        if let Some(raw) = changes.accepted_document_types {
            match DocumentAcceptance::parse_types(&raw, "acceptedDocumentTypes") {
                Ok(types) => account.accepted_documents.document_types = types,
                Err(e) => errors.push(e),
            }
        }
        if let Some(raw) = changes.accepted_countries {
            match DocumentAcceptance::parse_countries(&raw, "acceptedCountries") {
                Ok(countries) => account.accepted_documents.countries = countries,
                Err(e) => errors.push(e),
            }
        }
        if let Some(accept) = changes.accept_expired_documents {
            account.accepted_documents.accept_expired = accept;
        }
        if let Some(days) = changes.scan_retention_days {
            match u32::try_from(days) {
                Ok(d) if SCAN_RETENTION_DAYS.contains(&days) => account.scan_retention_days = d,
                _ => errors.push(FieldError::new(
                    "scanRetentionDays",
                    "FIELD_INVALID",
                    format!(
                        "the scan retention must be {} to {} days",
                        SCAN_RETENTION_DAYS.start(),
                        SCAN_RETENTION_DAYS.end()
                    ),
                )),
            }
        }
        // Before the URLs: a callback URL may name an address these list.
        let mut callback_url = changes.callback_url;
        if let Some(raw) = changes.callback_private_networks {
            match PrivateCallbackTargets::parse(&raw) {
                Ok(private) => {
                    account.callback_private_targets = private;
                    // The stored callback URL must still be one the new list allows.
                    if callback_url.is_none() {
                        callback_url = account.callback_url.as_ref().map(|u| u.as_str().to_owned());
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        for (raw, field, slot) in [
            (callback_url, UrlField::Callback, &mut account.callback_url),
            (
                changes.success_url,
                UrlField::Success,
                &mut account.success_url,
            ),
            (changes.error_url, UrlField::Error, &mut account.error_url),
        ] {
            if let Some(raw) = raw {
                match self.parse_optional_url(&raw, field, &account.callback_private_targets) {
                    Ok(url) => *slot = url,
                    Err(e) => errors.push(e),
                }
            }
        }
        if let Some(minutes) = changes.default_token_lifetime_minutes {
            match TokenLifetime::parse(minutes) {
                Ok(l) => account.default_token_lifetime_minutes = l.minutes(),
                Err(e) => errors.push(e),
            }
        }
        if let Some(locale) = changes.default_locale {
            match Locale::parse(&locale, LocaleSet::Enrollment) {
                Ok(l) => account.default_locale = l,
                Err(e) => errors.push(e),
            }
        }
        if let Some(raw) = changes.parent_origin {
            if raw.is_empty() {
                account.parent_origin = None;
            } else {
                match ParentOrigin::parse(&raw, self.settings.url_policy) {
                    Ok(origin) => account.parent_origin = Some(origin),
                    Err(e) => errors.push(e),
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Validation(errors))
        }
    }

    /// Creates an account; unnamed settings take their defaults.
    pub async fn create_account(
        &self,
        name: &str,
        changes: AccountChanges,
    ) -> ServiceResult<Account> {
        let mut webhook_salt = [0u8; 16];
        OsRng.fill_bytes(&mut webhook_salt);
        let mut account = Account {
            id: AccountId::new_random(),
            name: String::new(),
            facemap_auth_enabled: false,
            callback_url: None,
            success_url: None,
            error_url: None,
            default_token_lifetime_minutes: Account::DEFAULT_TOKEN_LIFETIME_MINUTES,
            default_locale: Locale::DEFAULT,
            webhook_salt,
            webhook_key_id: self.keyring.primary().0,
            webhook_previous: None,
            parent_origin: None,
            refuse_pii_user_reference: false,
            callback_private_targets: PrivateCallbackTargets::NONE,
            scan_retention_days: facegate_domain::DEFAULT_SCAN_RETENTION_DAYS,
            accepted_documents: DocumentAcceptance::default(),
            created_at: self.clock.now(),
        };
        self.apply_changes(
            &mut account,
            AccountChanges {
                name: Some(name.to_owned()),
                ..changes
            },
        )?;
        self.store.insert_account(&account).await?;
        Ok(account)
    }

    pub async fn update_account(
        &self,
        id: AccountId,
        changes: AccountChanges,
    ) -> ServiceResult<Account> {
        let mut account = self
            .store
            .account(id)
            .await?
            .ok_or(ServiceError::AccountNotFound)?;
        self.apply_changes(&mut account, changes)?;
        self.store.update_account(&account).await?;
        Ok(account)
    }

    pub async fn account(&self, id: AccountId) -> ServiceResult<Account> {
        self.store
            .account(id)
            .await?
            .ok_or(ServiceError::AccountNotFound)
    }

    pub async fn list_accounts(&self) -> ServiceResult<Vec<Account>> {
        Ok(self.store.list_accounts().await?)
    }

    /// The account's Standard Webhooks secret. It is derived from the master
    /// key and the account's salt, so the database alone does not reveal it.
    pub fn webhook_secret(&self, account: &Account) -> ServiceResult<SigningSecret> {
        self.derive_webhook_secret(account, account.webhook_key_id)
            .ok_or_else(|| {
                ServiceError::Internal(format!(
                    "master key {} that account {} derives its webhook secret from is not loaded",
                    account.webhook_key_id, account.id
                ))
            })
    }

    fn derive_webhook_secret(&self, account: &Account, key_id: u32) -> Option<SigningSecret> {
        let bytes = self.keyring.derive(
            KeyId(key_id),
            "webhook-signing/v1",
            account.webhook_salt.as_slice(),
        )?;
        SigningSecret::from_bytes(&bytes).ok()
    }

    /// What a callback sent at `now` is signed with: the current secret and,
    /// during a key rotation's overlap, the previous one, so receivers can
    /// switch secrets without rejecting a callback. A key that is not loaded
    /// is left out and reported, never guessed around.
    pub fn webhook_signing_secrets(&self, account: &Account, now: DateTime<Utc>) -> SigningSecrets {
        let mut signing = SigningSecrets::default();
        match self.derive_webhook_secret(account, account.webhook_key_id) {
            Some(secret) => signing.secrets.push(secret),
            None => signing.missing.push(KeyId(account.webhook_key_id)),
        }
        if let Some(previous) = account.webhook_previous.filter(|p| p.until > now) {
            match self.derive_webhook_secret(account, previous.key_id) {
                Some(secret) => signing.secrets.push(secret),
                None => signing.missing.push(KeyId(previous.key_id)),
            }
        }
        signing
    }

    /// Draws a new webhook secret for the account (the old one stops working).
    pub async fn rotate_webhook_secret(&self, id: AccountId) -> ServiceResult<SigningSecret> {
        let mut account = self.account(id).await?;
        OsRng.fill_bytes(&mut account.webhook_salt);
        account.webhook_key_id = self.keyring.primary().0;
        // The previous key's secret used the old salt; it is gone on purpose.
        account.webhook_previous = None;
        self.store.update_account(&account).await?;
        self.webhook_secret(&account)
    }
}

/// The secrets a callback is signed with, and the keys that should have
/// contributed one but are not loaded.
#[derive(Debug, Default)]
pub struct SigningSecrets {
    pub secrets: Vec<SigningSecret>,
    pub missing: Vec<KeyId>,
}
