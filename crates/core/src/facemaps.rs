//! Issuing facemaps at the end of an enrollment, and checking a facemap a
//! customer posts back against the enrollment it claims to belong to.

use facegate_domain::{Account, Enrollment, EnrollmentRef, FacemapBinding};
use facegate_facemap::{FacemapContents, FacemapError};

use crate::error::{FacemapRefusal, ServiceError, ServiceResult};
use crate::Services;

impl From<FacemapError> for FacemapRefusal {
    fn from(e: FacemapError) -> Self {
        match e {
            FacemapError::NotAFacemap => Self::NotAFacemap,
            FacemapError::UnsupportedVersion(_) => Self::UnsupportedVersion,
            FacemapError::UnknownKey(_) => Self::UnknownKey,
            FacemapError::WrongAccount => Self::WrongAccount,
            FacemapError::Tampered => Self::Tampered,
        }
    }
}

impl Services {
    /// Seals the templates of a decided enrollment into a facemap. The
    /// returned binding (serial, model) goes into the enrollment record; a
    /// later issue for the same enrollment gets the next serial, which
    /// supersedes every earlier facemap.
    pub fn issue_facemap(
        &self,
        account: &Account,
        enrollment: EnrollmentRef,
        previous: Option<&FacemapBinding>,
        model: &str,
        templates: Vec<Vec<f32>>,
    ) -> ServiceResult<(Vec<u8>, FacemapBinding)> {
        let serial = previous.map_or(1, |b| b.serial + 1);
        let contents = FacemapContents {
            enrollment: enrollment.as_uuid(),
            account: account.id.as_uuid(),
            serial,
            issued_at_ms: self.clock.now().timestamp_millis(),
            model: model.to_owned(),
            templates,
        };
        let sealed = facegate_facemap::seal(&self.keyring, &contents)
            .map_err(|e| ServiceError::Internal(format!("sealing a facemap: {e}")))?;
        Ok((
            sealed,
            FacemapBinding {
                serial,
                model: model.to_owned(),
                revoked_at: None,
            },
        ))
    }

    /// Opens `bytes` for `account` and checks it is the current facemap of
    /// `enrollment` (SPEC §4), made by a supported model.
    pub fn check_facemap(
        &self,
        account: &Account,
        enrollment: &Enrollment,
        binding: &FacemapBinding,
        bytes: &[u8],
    ) -> ServiceResult<FacemapContents> {
        let refuse = |r: FacemapRefusal| ServiceError::Facemap(r);
        let contents = facegate_facemap::open(&self.keyring, bytes, account.id.as_uuid())
            .map_err(|e| refuse(e.into()))?;
        if contents.enrollment != enrollment.reference.as_uuid() {
            return Err(refuse(FacemapRefusal::EnrollmentMismatch));
        }
        if binding.revoked_at.is_some() || contents.serial != binding.serial {
            return Err(refuse(FacemapRefusal::Revoked));
        }
        if contents.model != binding.model
            || !self.settings.supported_models.contains(&contents.model)
        {
            return Err(refuse(FacemapRefusal::UnsupportedModel));
        }
        Ok(contents)
    }
}
