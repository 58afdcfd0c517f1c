//! Demo enrollments. Users enroll by an ID verification (document and
//! selfie, `crate::scan_capture`); besides, a development deployment may
//! record a demo enrollment from a template: the CLI's `enrollment demo` and
//! the benchmarks go through [`Services::record_demo_enrollment`].

use facegate_domain::{Account, Enrollment, EnrollmentRef};

use crate::error::ServiceResult;
use crate::Services;

/// A demo enrollment just recorded, and the facemap the customer keeps.
#[derive(Debug, Clone)]
pub struct DemoEnrollment {
    pub reference: EnrollmentRef,
    pub facemap: Vec<u8>,
}

impl Services {
    /// Records an approved enrollment of `account` whose facemap holds
    /// `templates` of `model`. Unless `keep`, the enrollment is deleted at
    /// once (the tombstone that facemap authentication requires: the
    /// customer holds the only facemap); with `keep` the server keeps its
    /// facemap for web-initiated authentications.
    pub async fn record_demo_enrollment(
        &self,
        account: &Account,
        model: &str,
        templates: Vec<Vec<f32>>,
        keep: bool,
    ) -> ServiceResult<DemoEnrollment> {
        let reference = EnrollmentRef::new_random();
        let (facemap, binding) = self.issue_facemap(account, reference, None, model, templates)?;
        let now = self.clock.now();
        let enrollment = Enrollment::approved(reference, account.id, binding, facemap.clone(), now);
        self.store.insert_enrollment(&enrollment).await?;
        if !keep {
            self.store.delete_enrollment(reference, now).await?;
        }
        tracing::info!(enrollment = %reference, kept = keep, "demo enrollment recorded");
        Ok(DemoEnrollment { reference, facemap })
    }
}
