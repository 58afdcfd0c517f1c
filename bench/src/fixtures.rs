//! The initiation benchmarks' fixtures, created through the services as the
//! API tests create theirs: one account with facemap authentication, its
//! `api` credential, and eligible (approved, deleted) enrollments whose
//! facemaps each hold one 512-D template, with the initiate body of each
//! built once.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use facegate_api::wire::EnrollmentMetadata;
use facegate_core::accounts::AccountChanges;
use facegate_core::Services;
use facegate_domain::{Account, EnrollmentRef, Role};

use crate::multipart_body;

/// The face model of the templates (512-D float, Facegate's default model).
pub const MODEL: &str = "fr-feature-512-v1";
pub const TEMPLATE_DIMENSIONS: usize = 512;

/// An account with facemap authentication, its API credential, and eligible
/// enrollments with their facemaps.
pub struct Fixtures {
    pub account: Account,
    pub token: String,
    pub secret: String,
    /// One body per pool enrollment.
    pub pool: Vec<Bytes>,
    /// The body of the enrollment that every request of the worst case hits.
    pub solo: Bytes,
    pub facemap_bytes: usize,
    pub setup: Duration,
}

/// An approved enrollment with a 512-D facemap, deleted (the tombstone that
/// facemap authentication requires): as the tests' `enrollment()` helper.
async fn eligible_enrollment(
    services: &Services,
    account: &Account,
    seed: usize,
) -> anyhow::Result<(EnrollmentRef, Vec<u8>)> {
    let template: Vec<f32> = (0..TEMPLATE_DIMENSIONS)
        .map(|i| ((i as f32) * 0.37 + seed as f32).sin())
        .collect();
    let demo = services
        .record_demo_enrollment(account, MODEL, vec![template], false)
        .await?;
    Ok((demo.reference, demo.facemap))
}

/// The multipart body of an initiate for `reference`, as an SDK sends it.
pub fn initiate_body(
    reference: EnrollmentRef,
    user: usize,
    facemap: &[u8],
) -> anyhow::Result<Bytes> {
    let metadata = EnrollmentMetadata {
        user_reference: format!("bench-user-{user}").into(),
        ..EnrollmentMetadata::for_enrollment(reference)
    };
    multipart_body(&serde_json::to_string(&metadata)?, facemap)
}

/// The account, its credential, `enrollments` pool enrollments and the solo one.
pub async fn fixtures(services: &Services, enrollments: usize) -> anyhow::Result<Fixtures> {
    let started = Instant::now();
    let changes = AccountChanges {
        facemap_auth_enabled: Some(true),
        ..AccountChanges::default()
    };
    let account = services.create_account("Bench Corp", changes).await?;
    let credential = services.issue_credential(account.id, Role::Api).await?;
    let mut pool = Vec::with_capacity(enrollments);
    let mut facemap_bytes = 0;
    for n in 0..enrollments {
        let (reference, facemap) = eligible_enrollment(services, &account, n).await?;
        facemap_bytes = facemap.len();
        pool.push(initiate_body(reference, n, &facemap)?);
    }
    let (reference, facemap) = eligible_enrollment(services, &account, enrollments).await?;
    let solo = initiate_body(reference, enrollments, &facemap)?;
    Ok(Fixtures {
        account,
        token: credential.token,
        secret: credential.secret,
        pool,
        solo,
        facemap_bytes,
        setup: started.elapsed(),
    })
}
