//! Facegate's domain: identifiers, validated inputs, accounts, enrollments and
//! authentication transactions with their rules, the capture rules and the
//! decision of an attempt ([`decision`]: what liveness and the 1:1 match
//! found becomes the outcome, the user's guidance and the stored record). Nothing here performs IO, so
//! every rule can be tested in isolation and reused by any storage or transport.

pub mod account;
pub mod callback_targets;
pub mod capture;
pub mod clock;
pub mod console;
pub mod decision;
pub mod enrollment;
pub mod ids;
pub mod input;
pub mod lockout;
pub mod mrz;
pub mod rate;
pub mod review;
pub mod scan;
pub mod scan_record;
pub mod scan_verdict;
pub mod time;
pub mod transaction;
pub mod verification;

pub use account::{Account, Credential, Permission, PreviousWebhookKey, Role};
pub use callback_targets::{PrivateCallbackTargets, PrivateTarget};
pub use capture::{
    attempt_outcome, AttemptOutcome, AttemptState, CaptureAttempt, CaptureSession, CaptureSubject,
    Challenge, Direction, Evidence, Flash, FrameCursor, FrameRefusal, Step, Window, MAX_ATTEMPTS,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use console::{check_new_password, ConsoleUsername, LoginThrottle, SessionPolicy};
pub use decision::{
    decide_attempt, AttemptDecision, Decision, Findings, FrameCounts, Guidance, LivenessRecord,
    LivenessVerdict, SignalRecord, SimilarityRecord, FRAMES_LOST,
};
pub use enrollment::{Enrollment, FacemapBinding, Ineligible, Similarity, VerificationStatus};
pub use ids::{AccountId, CredentialId, EnrollmentRef, ParseReferenceError, TransactionRef};
pub use input::{
    FieldError, ListedAddresses, Locale, LocaleSet, ParentOrigin, PiiCheck, RedirectUrl,
    TokenLifetime, UrlField, UrlPolicy, UserReference,
};
pub use lockout::{FailureStreak, LockoutPolicy};
pub use rate::{RateLimit, TokenBucket};
pub use review::{
    audit_status, review, AuditEntry, ReviewDecision, ReviewReason, ReviewRefusal,
    MAX_REVIEW_REASON,
};
pub use scan::{
    CaptureMethod, Country, DocumentAcceptance, DocumentType, Preset, Verification, Workflow,
};
pub use scan_record::{
    id_scan_source, judge_selfie_attempt, validity_reason, CaptureChannel, DocumentSide, Scan,
    ScanOutcome, ScanState, SelfieAttempt, DEFAULT_SCAN_RETENTION_DAYS, MAX_SCAN_TEXT,
};
pub use scan_verdict::{
    decide_scan, DocumentData, DocumentFindings, IdentityVerdict, ScanPolicy, ScanVerdict,
    SelfieFindings, SideFindings, ZoneFinding,
};
pub use transaction::{
    auth_lifetime, AuthTransaction, ScanSource, TransactionState, TransitionError,
    MAX_AUTH_LIFETIME_MINUTES,
};
pub use verification::{RejectDetail, RejectReason, Rejection, ValidityReason};
