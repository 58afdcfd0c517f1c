//! Facegate's application services: each public method is one use case
//! (initiate, retrieve, delete, expire, deliver callbacks, manage accounts,
//! credentials and keys, record demo enrollments), combining the domain
//! rules, the facemap keyring, storage and the clock. [`Services`] is
//! closed: transports (HTTP, CLI, the bench, tests) call its methods and
//! never reach storage themselves. [`CaptureService`] adds the capture
//! protocol, and needs a [`FaceEngine`]: without an engine there is no
//! capture service. The engine reports findings; the outcome is decided by
//! `facegate_domain::decide_attempt`.

pub mod accounts;
pub mod authentication;
mod authenticator;
pub mod capture;
pub mod credentials;
pub mod delivery;
pub mod engine;
pub mod enrollments;
pub mod error;
pub mod facemaps;
pub mod images;
pub mod keys;
pub mod limits;
mod live;
pub mod metrics;
mod render;
mod services;
mod settings;

pub use authentication::{InitiateRequest, Initiated};
pub use authenticator::AuthSettings;
pub use capture::CaptureService;
pub use credentials::{Caller, IssuedCredential};
pub use engine::FaceEngine;
pub use enrollments::DemoEnrollment;
pub use error::{CaptureRefusal, FacemapRefusal, ServiceError, ServiceResult};
/// Records the use cases return as storage keeps them.
pub use facegate_storage::{CallbackRecord, DeliveryAttempt, ImageKind, OutboxStatus};
pub use ipnet::IpNet;
pub use live::FrameTarget;
pub use services::Services;
pub use settings::{CaptureSettings, Settings};
