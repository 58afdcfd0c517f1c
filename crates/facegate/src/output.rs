//! The command line's `--json` answers, typed: what scripts read from
//! `facegate account …`, `credentials …` and `enrollment demo`.

use facegate_core::IssuedCredential;
use facegate_domain::{Account, Credential};
use serde::Serialize;

/// An account's settings (`account create`, `update`, `list`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountJson {
    pub id: String,
    pub name: String,
    pub facemap_auth_enabled: bool,
    pub callback_url: Option<String>,
    pub success_url: Option<String>,
    pub error_url: Option<String>,
    pub token_lifetime_in_minutes: u32,
    pub locale: String,
    pub parent_origin: Option<String>,
    /// Whether user references that look like PII are refused.
    pub refuse_pii_user_reference: bool,
    /// The private networks and hosts the account's callbacks may reach.
    pub callback_private_networks: Vec<String>,
    /// Days a finished ID verification keeps its personal data.
    pub scan_retention_days: u32,
    /// Document types ID verifications accept (empty: every type).
    pub accepted_document_types: Vec<&'static str>,
    /// Issuing countries ID verifications accept (empty: every country).
    pub accepted_countries: Vec<String>,
    pub accept_expired_documents: bool,
    /// Only when the account was just created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl From<&Account> for AccountJson {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name.clone(),
            facemap_auth_enabled: a.facemap_auth_enabled,
            callback_url: a.callback_url.as_ref().map(|u| u.as_str().to_owned()),
            success_url: a.success_url.as_ref().map(|u| u.as_str().to_owned()),
            error_url: a.error_url.as_ref().map(|u| u.as_str().to_owned()),
            token_lifetime_in_minutes: a.default_token_lifetime_minutes,
            locale: a.default_locale.as_str().to_owned(),
            parent_origin: a.parent_origin.as_ref().map(|o| o.as_str().to_owned()),
            refuse_pii_user_reference: a.refuse_pii_user_reference,
            callback_private_networks: a
                .callback_private_targets
                .entries()
                .iter()
                .map(ToString::to_string)
                .collect(),
            scan_retention_days: a.scan_retention_days,
            accepted_document_types: a
                .accepted_documents
                .document_types
                .iter()
                .map(|t| t.as_str())
                .collect(),
            accepted_countries: a
                .accepted_documents
                .countries
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
            accept_expired_documents: a.accepted_documents.accept_expired,
            webhook_secret: None,
        }
    }
}

/// `account list --json`.
#[derive(Debug, Serialize)]
pub struct AccountList {
    pub accounts: Vec<AccountJson>,
}

/// `account webhook-secret --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSecretJson {
    pub id: String,
    pub webhook_secret: String,
}

/// `credentials create --json`: the secret, shown only now.
#[derive(Debug, Serialize)]
pub struct IssuedCredentialJson {
    pub token: String,
    pub secret: String,
    pub role: &'static str,
    pub account: String,
}

impl From<&IssuedCredential> for IssuedCredentialJson {
    fn from(issued: &IssuedCredential) -> Self {
        Self {
            token: issued.token.clone(),
            secret: issued.secret.clone(),
            role: issued.role.as_str(),
            account: issued.account.to_string(),
        }
    }
}

/// One row of `credentials list --json` (never a secret or its hash).
#[derive(Debug, Serialize)]
pub struct CredentialJson {
    pub token: String,
    pub role: &'static str,
    pub revoked: bool,
}

impl From<&Credential> for CredentialJson {
    fn from(c: &Credential) -> Self {
        Self {
            token: c.token.clone(),
            role: c.role.as_str(),
            revoked: c.revoked_at.is_some(),
        }
    }
}

/// `credentials list --json`.
#[derive(Debug, Serialize)]
pub struct CredentialList {
    pub credentials: Vec<CredentialJson>,
}

/// `enrollment demo --json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoEnrollmentJson {
    pub enrollment_transaction_reference: String,
    pub deleted: bool,
}

/// One line of JSON on standard output.
pub fn print_json(value: &impl Serialize) {
    match serde_json::to_string(value) {
        Ok(line) => println!("{line}"),
        Err(e) => eprintln!("error: writing the JSON answer: {e}"),
    }
}
