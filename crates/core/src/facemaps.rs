//! Issuing facemaps at the end of an enrollment, and checking a facemap a
//! customer posts back against the enrollment it claims to belong to.

use facegate_domain::{
    Account, AuthTransaction, Enrollment, EnrollmentRef, FacemapBinding, TransactionState,
};
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

    /// Checks, for an open transaction, that the facemap it was initiated with
    /// is still its enrollment's current one: not revoked, not superseded by
    /// a newer serial. Otherwise the transaction ends `INVALID` (its
    /// callback says so) and the capture call is refused with
    /// `FACEMAP_REVOKED`, so that revocation also stops a transaction already
    /// under way (docs/capture-protocol.md §7).
    pub(crate) async fn check_facemap_still_valid(
        &self,
        tx: &AuthTransaction,
    ) -> ServiceResult<()> {
        let binding = self
            .store
            .enrollment(tx.enrollment)
            .await?
            .and_then(|e| e.facemap)
            .filter(|b| b.revoked_at.is_none());
        // A facemap that cannot be opened is a key problem, reported where
        // the facemap is used; only its serial matters here.
        let serial = tx
            .facemap
            .as_deref()
            .and_then(|sealed| {
                facegate_facemap::open(&self.keyring, sealed, tx.account.as_uuid()).ok()
            })
            .map(|contents| contents.serial);
        match (binding, serial) {
            (Some(b), Some(serial)) if b.serial == serial => return Ok(()),
            (Some(_), None) => return Ok(()),
            _ => {}
        }
        self.finalize(tx.reference, TransactionState::Invalid)
            .await?;
        tracing::info!(transaction = %tx.reference, "capture refused: the facemap was revoked or superseded");
        Err(ServiceError::Facemap(FacemapRefusal::Revoked))
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
