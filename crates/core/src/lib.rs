//! Facegate's application services: each public method is one use case
//! (initiate, retrieve, delete, expire, deliver callbacks, manage accounts,
//! credentials and keys, record demo enrollments), combining the domain
//! rules, the facemap keyring, storage and the clock. [`Services`] is
//! closed: transports (HTTP, CLI, the bench, tests) call its methods and
//! never reach storage themselves. [`CaptureService`] adds the capture
//! protocol, and needs a [`FaceEngine`]: without an engine there is no
//! capture service. The engine reports findings; the outcome is decided by
//! `facegate_domain::decide_attempt`. ID verifications ([`scans`]) are
//! captured by the same service ([`scan_capture`]), with a
//! [`DocumentEngine`] besides the face engine; their verdict is
//! `facegate_domain::decide_scan`.

pub mod accounts;
pub mod authentication;
mod authenticator;
pub mod capture;
pub mod console;
pub mod credentials;
pub mod delivery;
pub mod documents;
pub mod engine;
pub mod enrollments;
pub mod error;
pub mod facemaps;
mod frames;
pub mod images;
pub mod keys;
pub mod limits;
mod local;
pub mod metrics;
mod render;
pub mod reviews;
pub mod scan_capture;
pub mod scans;
mod services;
mod settings;
pub mod totp;

pub use authentication::{InitiateRequest, Initiated};
pub use authenticator::AuthSettings;
pub use capture::CaptureService;
pub use credentials::{Caller, IssuedCredential};
pub use documents::{DocumentAnalysis, DocumentEngine, PortraitTemplate};
pub use engine::FaceEngine;
pub use enrollments::DemoEnrollment;
pub use error::{CaptureRefusal, FacemapRefusal, ServiceError, ServiceResult};
/// Records the use cases return as storage keeps them.
pub use facegate_storage::{CallbackRecord, DeliveryAttempt, ImageKind, OutboxStatus};
pub use ipnet::IpNet;
pub use local::FrameTarget;
pub use render::{ScanImages, ScanLinks};
pub use scans::{PresetRequest, ScanDetails, ScanInitiated, ScanRequest};
pub use services::Services;
pub use settings::{CaptureSettings, Settings};
