//! The wire formats that more than one crate speaks: the API's one
//! [`Timestamp`] format and the bodies of the [`AuthenticationCallback`] and
//! the [`IdVerificationCallback`],
//! which the core renders into the outbox and the API documents. The
//! request and response types of the HTTP endpoints are in
//! `facegate_api::wire`, which re-exports these.

mod callback;
mod scan_callback;
pub mod schema;
mod timestamp;

pub use callback::{AuthenticationCallback, AUTHENTICATION_CALLBACK};
pub use scan_callback::{
    CallbackIdentity, IdVerificationCallback, RejectDetailBody, RejectDetails, RejectReasonBody,
    CHECK_NOT_AVAILABLE, CHECK_OK, ID_VERIFICATION_CALLBACK,
};
pub use timestamp::Timestamp;
