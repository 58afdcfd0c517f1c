//! An ID verification ("scan") as the server keeps it (SPEC §1): the
//! initiation's values, where the scan stands (`PENDING`, `DONE`,
//! `FAILED`), how its document was captured, and its outcome once decided.
//! Also the rules of the capture that are the scan's own: which document
//! sides it needs, which capture method its workflow allows, and what a
//! finished selfie attempt means (another try, or findings for
//! [`crate::decide_scan`]). The verdict itself is [`crate::decide_scan`].

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::capture::{AttemptOutcome, MAX_ATTEMPTS};
use crate::decision::{guidance, Findings, Guidance, LivenessVerdict};
use crate::enrollment::{Similarity, VerificationStatus};
use crate::ids::{AccountId, EnrollmentRef};
use crate::input::{Locale, RedirectUrl, UserReference};
use crate::scan::{DocumentType, Preset, Workflow};
use crate::scan_verdict::{IdentityVerdict, ScanVerdict, SelfieFindings};
use crate::transaction::ScanSource;
use crate::verification::{Rejection, ValidityReason};

/// Longest `customerInternalReference` and `reportingCriteria` (the v4 guide).
pub const MAX_SCAN_TEXT: usize = 100;

/// Days a finished scan keeps its personal data unless the account says
/// otherwise (as long as capture images are kept).
pub const DEFAULT_SCAN_RETENTION_DAYS: u32 = 30;

/// Retrieval's `status`: `PENDING` until decided; `DONE` once decided on
/// what the user gave; `FAILED` when the user never finished (the token
/// lifetime ended, `NO_ID_UPLOADED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScanState {
    Pending,
    Done,
    Failed,
}

impl ScanState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Done => "DONE",
            Self::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Done, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// How a document side was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureChannel {
    Camera,
    Upload,
}

impl CaptureChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Camera => "CAMERA",
            Self::Upload => "UPLOAD",
        }
    }

    /// Any case (`camera`, `UPLOAD`).
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Camera, Self::Upload]
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether `workflow` allows this channel for its document sides.
    pub fn allowed_by(self, workflow: Workflow) -> bool {
        match self {
            Self::Camera => workflow.allows_camera(),
            Self::Upload => workflow.allows_upload(),
        }
    }
}

/// A side of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentSide {
    Front,
    Back,
}

impl DocumentSide {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Front => "front",
            Self::Back => "back",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Front, Self::Back]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// `idScanSource` (callback) and `source` (retrieval): the client, and for
/// the web client how the document was given.
pub fn id_scan_source(client: ScanSource, channel: Option<CaptureChannel>) -> &'static str {
    match (client, channel) {
        (ScanSource::Sdk, _) => "SDK",
        (ScanSource::Web, None) => "WEB",
        (ScanSource::Web, Some(CaptureChannel::Camera)) => "WEB_CAM",
        (ScanSource::Web, Some(CaptureChannel::Upload)) => "WEB_UPLOAD",
    }
}

/// What a decided scan concluded (the personal data read from the document
/// is kept apart, sealed).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutcome {
    pub status: VerificationStatus,
    pub rejection: Option<Rejection>,
    pub identity: Option<IdentityVerdict>,
    /// The machine-readable zone was read with every check digit holding
    /// (`mrzCheck` `OK`; the callback's `idCheckMRZcode` is `OK` only when
    /// the scan is also approved, as the guide says).
    pub mrz_checked: bool,
}

impl ScanOutcome {
    /// The outcome of a verdict.
    pub fn of(verdict: &ScanVerdict) -> Self {
        Self {
            status: verdict.status,
            rejection: verdict.rejection.clone(),
            identity: verdict.identity.clone(),
            mrz_checked: verdict.document.is_some(),
        }
    }

    /// The user never finished: `NO_ID_UPLOADED`.
    pub fn no_id_uploaded() -> Self {
        Self {
            status: VerificationStatus::NoIdUploaded,
            rejection: None,
            identity: None,
            mrz_checked: false,
        }
    }

    /// What the enrollment record keeps of it (the facemap authentication's
    /// preconditions read these).
    pub fn similarity(&self) -> Option<Similarity> {
        self.identity.as_ref().map(|i| i.similarity)
    }

    pub fn validity(&self) -> Option<bool> {
        self.identity.as_ref().map(|i| i.validity)
    }
}

/// One ID verification. Its reference is the enrollment's: the
/// `transactionReference` of initiate, the `scanReference` of retrieval and
/// the `enrollmentTransactionReference` facemap authentication names.
#[derive(Debug, Clone, PartialEq)]
pub struct Scan {
    pub reference: EnrollmentRef,
    pub account: AccountId,
    pub state: ScanState,
    pub workflow: Workflow,
    /// `customerInternalReference` (`merchantScanReference`); erased by DELETE.
    pub customer_internal_reference: Option<String>,
    /// `userReference` (`customerId`); erased by DELETE.
    pub user_reference: Option<UserReference>,
    /// `reportingCriteria`; erased by DELETE.
    pub reporting_criteria: Option<String>,
    pub preset: Option<Preset>,
    /// The effective URLs: request values, else the account's at initiation.
    pub callback_url: Option<RedirectUrl>,
    pub success_url: Option<RedirectUrl>,
    pub error_url: Option<RedirectUrl>,
    pub locale: Locale,
    /// SHA-256 of the authorization token handed out in `redirectUrl`.
    pub token_hash: [u8; 32],
    /// The client that captured (web client or native app).
    pub scan_source: ScanSource,
    /// How the document was given: `UPLOAD` when any side was uploaded.
    pub channel: Option<CaptureChannel>,
    /// The user's address (`clientIp`): where the latest capture session
    /// was opened from; erased by DELETE.
    pub client_ip: Option<IpAddr>,
    /// The document type the user said they show (the preset's, else the
    /// one named with the front side).
    pub document_type: Option<DocumentType>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// When the user first gave a document side (`firstAttemptDate`).
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Set by DELETE (or retention): personal data, images and the server's
    /// facemap are gone; retrieval answers 404.
    pub deleted_at: Option<DateTime<Utc>>,
    pub outcome: Option<ScanOutcome>,
    /// The decision's evidence (JSON, without personal data).
    pub evidence: Option<String>,
}

impl Scan {
    /// Pending past its token lifetime: the expiry worker (or any reader)
    /// must end it `NO_ID_UPLOADED`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state == ScanState::Pending && now >= self.expires_at
    }

    /// The sides still to give before the scan can be decided, in order:
    /// the front, then the back when the document type has one. The type is
    /// known from the preset or the front's upload; until then only the
    /// front is known to be needed.
    pub fn sides_needed(&self) -> Vec<DocumentSide> {
        let mut sides = vec![DocumentSide::Front];
        if self.document_type.is_some_and(DocumentType::has_back) {
            sides.push(DocumentSide::Back);
        }
        sides
    }
}

/// What a finished selfie attempt means for its scan.
#[derive(Debug, Clone, PartialEq)]
pub enum SelfieAttempt {
    /// Nothing usable was captured and attempts are left: try again.
    Retry(Vec<Guidance>),
    /// The selfie is decided: the attempt's outcome as the client sees it
    /// (`PASSED` live, `FAILED` an attack, `INVALID` no usable capture in
    /// the last attempt) and the findings the scan's verdict is made with.
    Final {
        outcome: AttemptOutcome,
        findings: SelfieFindings,
    },
}

/// Judges a finished selfie attempt (`attempt` 1-based) of an identity
/// scan. Unlike an authentication, a live selfie without a comparison (no
/// portrait on the document) is still final: the document decides then.
pub fn judge_selfie_attempt(findings: &Findings, attempt: u8) -> SelfieAttempt {
    let verdict = findings.liveness.verdict;
    let unusable = matches!(
        verdict,
        LivenessVerdict::Retry | LivenessVerdict::NotApplicable
    );
    if unusable && attempt < MAX_ATTEMPTS {
        return SelfieAttempt::Retry(guidance(findings));
    }
    let outcome = match verdict {
        LivenessVerdict::Pass => AttemptOutcome::Passed,
        LivenessVerdict::Fail => AttemptOutcome::Failed,
        LivenessVerdict::Retry | LivenessVerdict::NotApplicable => AttemptOutcome::Invalid,
    };
    let live = verdict == LivenessVerdict::Pass;
    SelfieAttempt::Final {
        outcome,
        findings: SelfieFindings {
            live,
            problem: if live {
                None
            } else {
                validity_reason(&findings.liveness.reasons)
            },
            similarity: findings.similarity.as_ref().map(|s| s.score),
            // The document engine looks at the selfie's images afterwards.
            document_in_view: false,
        },
    }
}

/// The guide's `identityVerification.reason` for liveness reason codes
/// (docs/liveness.md), the first one that names a finer reason than
/// `LIVENESS_FAILED`.
pub fn validity_reason(reasons: &[String]) -> Option<ValidityReason> {
    reasons.iter().find_map(|r| {
        Some(match r.as_str() {
            "MULTIPLE_FACES" => ValidityReason::MultiplePeople,
            "FACE_NOT_FOUND" => ValidityReason::NoFacePresent,
            "FACE_LOST" | "FACE_NOT_FULLY_VISIBLE" => ValidityReason::FaceNotFullyVisible,
            "PASSIVE_SPOOF" | "FLAT_SURFACE" | "POSE_DISCONTINUITY" => {
                ValidityReason::SelfieIsScreenPaperVideo
            }
            "MORE_LIGHT" | "BACKLIT" | "FACE_TOO_DARK" | "FACE_OVEREXPOSED" | "FACE_BLURRED"
            | "FACE_TOO_SMALL" => ValidityReason::BadQuality,
            _ => return None,
        })
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::decision::{FrameCounts, LivenessRecord, SimilarityRecord};

    fn findings(verdict: LivenessVerdict, reasons: &[&str], score: Option<f32>) -> Findings {
        Findings {
            frames: FrameCounts::default(),
            liveness: LivenessRecord {
                reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
                score: 1.0,
                signals: Vec::new(),
                verdict,
            },
            similarity: score.map(|s| SimilarityRecord::new("m", s, 0.5, 1e-4, 1e-4)),
        }
    }

    #[test]
    fn an_unusable_selfie_is_retried_until_the_last_attempt() {
        let f = findings(LivenessVerdict::Retry, &["TURN_NOT_DONE"], None);
        assert_eq!(
            judge_selfie_attempt(&f, 1),
            SelfieAttempt::Retry(vec![Guidance::TurnFurther])
        );
        let SelfieAttempt::Final { outcome, findings } = judge_selfie_attempt(&f, MAX_ATTEMPTS)
        else {
            panic!("the last attempt is final")
        };
        assert_eq!(outcome, AttemptOutcome::Invalid);
        assert!(!findings.live && findings.problem.is_none());
    }

    #[test]
    fn a_live_selfie_is_final_with_or_without_a_comparison() {
        for score in [Some(0.8), None] {
            let f = findings(LivenessVerdict::Pass, &[], score);
            assert_eq!(
                judge_selfie_attempt(&f, 1),
                SelfieAttempt::Final {
                    outcome: AttemptOutcome::Passed,
                    findings: SelfieFindings {
                        live: true,
                        problem: None,
                        similarity: score,
                        document_in_view: false,
                    },
                }
            );
        }
    }

    #[test]
    fn an_attack_names_the_guides_reason() {
        let f = findings(
            LivenessVerdict::Fail,
            &["TURN_NOT_DONE", "PASSIVE_SPOOF", "MULTIPLE_FACES"],
            Some(0.9),
        );
        let SelfieAttempt::Final { outcome, findings } = judge_selfie_attempt(&f, 1) else {
            panic!("an attack is final")
        };
        assert_eq!(outcome, AttemptOutcome::Failed);
        assert_eq!(
            findings.problem,
            Some(ValidityReason::SelfieIsScreenPaperVideo)
        );
        assert_eq!(
            validity_reason(&["MULTIPLE_FACES".into()]),
            Some(ValidityReason::MultiplePeople)
        );
        assert_eq!(validity_reason(&["IDENTITY_CHANGED".into()]), None);
    }

    #[test]
    fn the_scan_source_names_the_client_and_the_channel() {
        assert_eq!(id_scan_source(ScanSource::Web, None), "WEB");
        assert_eq!(
            id_scan_source(ScanSource::Web, Some(CaptureChannel::Upload)),
            "WEB_UPLOAD"
        );
        assert_eq!(
            id_scan_source(ScanSource::Sdk, Some(CaptureChannel::Camera)),
            "SDK"
        );
        let w = Workflow::parse(101).unwrap();
        assert!(CaptureChannel::Camera.allowed_by(w) && !CaptureChannel::Upload.allowed_by(w));
        assert_eq!(
            CaptureChannel::parse("upload"),
            Some(CaptureChannel::Upload)
        );
        assert_eq!(CaptureChannel::parse("file"), None);
    }

    proptest::proptest! {
        /// The capture headers' parsers accept exactly their spellings
        /// (`Capture-Method` in any case) and never panic.
        #[test]
        fn channel_and_side_parsing_accept_exactly_their_names(raw in "\\PC{0,8}") {
            let channel = CaptureChannel::parse(&raw);
            let upper = raw.to_ascii_uppercase();
            proptest::prop_assert_eq!(
                channel.is_some(),
                upper == "CAMERA" || upper == "UPLOAD"
            );
            if let Some(c) = channel {
                proptest::prop_assert!(c.as_str().eq_ignore_ascii_case(&raw));
            }
            let side = DocumentSide::parse(&raw);
            proptest::prop_assert_eq!(side.is_some(), raw == "front" || raw == "back");
            proptest::prop_assert_eq!(ScanState::parse(&raw).map(ScanState::as_str), match raw.as_str() {
                "PENDING" | "DONE" | "FAILED" => Some(raw.as_str()),
                _ => None,
            });
        }
    }
}
