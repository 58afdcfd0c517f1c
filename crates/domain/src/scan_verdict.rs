//! The verdict of an ID verification: what the document engine found on
//! the document sides and, for identity workflows, what the selfie's
//! liveness and its comparison with the document portrait found, become the
//! `verificationStatus`, the `rejectReason`, the `identityVerification` and
//! whether a facemap is issued. One pure function, [`decide_scan`], so the
//! order of the rules is written once and tested without images.

use chrono::NaiveDate;

use crate::enrollment::{Similarity, VerificationStatus};
use crate::scan::{Country, DocumentType, Workflow};
use crate::verification::{RejectDetail, RejectReason, Rejection, ValidityReason};

/// What the engine found on one side of the document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SideFindings {
    /// A document fills a plausible part of the image.
    pub document_found: bool,
    /// The image is a black-and-white copy of a document.
    pub black_and_white: bool,
    /// Why the side cannot be read, in the guide's 200-details vocabulary
    /// (`BLURRED`, `GLARE`, `MISSING_PART_DOCUMENT`, `BAD_QUALITY`, …); empty
    /// when it can be read.
    pub unreadable: Vec<RejectDetail>,
}

/// What reading the machine-readable zone gave.
#[derive(Debug, Clone, PartialEq)]
pub enum ZoneFinding {
    /// No zone where the document type has one.
    Absent,
    /// A zone is there but could not be read with every check digit.
    Unreadable,
    /// Read, but a check digit does not hold for these fields (`1002`
    /// `DOCUMENT_NUMBER`, `1003` `EXPIRY`, `1004` `DOB`, `1009`
    /// `PERSONAL_NUMBER`; empty for the composite digit alone).
    CheckFailed(Vec<RejectDetail>),
    /// Read with every check digit holding.
    Read(DocumentData),
}

/// The fields read from a document (`idType`, `idCountry`, `idNumber`, …).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocumentData {
    pub document_type: Option<DocumentType>,
    /// `idSubtype`, e.g. `NATIONAL_ID` or `E_PASSPORT`, when known.
    pub subtype: Option<String>,
    pub issuing_country: Option<Country>,
    pub number: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub expiry: Option<NaiveDate>,
    /// `M`, `F` or `X` as printed.
    pub gender: Option<char>,
    pub nationality: Option<Country>,
    pub personal_number: Option<String>,
    pub optional_data_1: Option<String>,
    pub optional_data_2: Option<String>,
    /// The zone names a specimen (issuing state `UTO`, a specimen name).
    pub specimen: bool,
}

/// The document's findings, both sides and the zone.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentFindings {
    pub front: SideFindings,
    /// `None` when the back was not needed or not given.
    pub back: Option<SideFindings>,
    pub zone: ZoneFinding,
    /// A face was found on the document, usable for the comparison.
    pub portrait_found: bool,
}

/// What the selfie capture found (identity workflows only).
#[derive(Debug, Clone, PartialEq)]
pub struct SelfieFindings {
    /// The liveness decision passed.
    pub live: bool,
    /// Why the selfie is not valid, when the engine found a reason beyond
    /// liveness (a document shown as selfie, several people, no face, …);
    /// `None` otherwise. A failed liveness without a finer reason is
    /// `LIVENESS_FAILED`.
    pub problem: Option<ValidityReason>,
    /// Similarity of the selfie to the document portrait, when both had a
    /// face (0..1, higher is more alike).
    pub similarity: Option<f32>,
}

/// What the account accepts, and the comparison's operating point.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanPolicy {
    /// Document types the account accepts; empty accepts every type.
    pub document_types: Vec<DocumentType>,
    /// Issuing countries the account accepts; empty accepts every country.
    pub countries: Vec<Country>,
    /// Whether a document past its expiry date is accepted.
    pub accept_expired: bool,
    /// Document-portrait-vs-selfie similarity at or above which the two
    /// are the same person (the calibrated operating point).
    pub match_threshold: f32,
}

/// `identityVerification`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityVerdict {
    pub similarity: Similarity,
    pub validity: bool,
    /// Set exactly when `validity` is false.
    pub reason: Option<ValidityReason>,
}

/// The verdict of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanVerdict {
    pub status: VerificationStatus,
    /// Set for `DENIED_FRAUD` and `ERROR_NOT_READABLE_ID`.
    pub rejection: Option<Rejection>,
    /// Set for identity workflows whose document was read.
    pub identity: Option<IdentityVerdict>,
    /// The fields read, when the zone was read.
    pub document: Option<DocumentData>,
    /// Whether the scan issues a facemap: an identity workflow, approved,
    /// `MATCH`, valid.
    pub issues_facemap: bool,
}

/// Decides a scan. The document is judged first, in the order a reviewer
/// would: is there a document, is it an original, can it be read, does its
/// zone hold, is it a specimen, does the account accept it; then, for
/// identity workflows, whether the selfie is the person of the portrait
/// (`107 PHOTO_MISMATCH` otherwise) and whether it is valid (live). A
/// selfie that is not valid leaves the document's status as it is (as in
/// Jumio's answers, `identityVerification` carries it) but issues no
/// facemap.
pub fn decide_scan(
    workflow: Workflow,
    document: &DocumentFindings,
    selfie: Option<&SelfieFindings>,
    policy: &ScanPolicy,
    today: NaiveDate,
) -> ScanVerdict {
    let data = match judge_document(document, policy, today) {
        Ok(data) => data,
        Err(refusal) => return refusal.into_verdict(),
    };
    if !workflow.includes_identity() {
        return ScanVerdict {
            status: VerificationStatus::ApprovedVerified,
            rejection: None,
            identity: None,
            document: Some(data),
            issues_facemap: false,
        };
    }
    let identity = judge_identity(document.portrait_found, selfie, policy.match_threshold);
    let (status, rejection) = if identity.similarity == Similarity::NoMatch {
        let photo = Rejection::new(RejectReason::PhotoMismatch);
        (photo.status(), Some(photo))
    } else {
        (VerificationStatus::ApprovedVerified, None)
    };
    let issues_facemap = status == VerificationStatus::ApprovedVerified
        && identity.similarity == Similarity::Match
        && identity.validity;
    ScanVerdict {
        status,
        rejection,
        identity: Some(identity),
        document: Some(data),
        issues_facemap,
    }
}

/// Why the document alone ends the scan.
enum Refusal {
    Rejected(Rejection),
    /// `DENIED_UNSUPPORTED_ID_TYPE` / `_COUNTRY`: no reject reason, the
    /// fields read are kept.
    Unsupported(VerificationStatus, Box<DocumentData>),
}

impl Refusal {
    fn into_verdict(self) -> ScanVerdict {
        let (status, rejection, document) = match self {
            Self::Rejected(r) => (r.status(), Some(r), None),
            Self::Unsupported(status, data) => (status, None, Some(*data)),
        };
        ScanVerdict {
            status,
            rejection,
            identity: None,
            document,
            issues_facemap: false,
        }
    }
}

fn reject(reason: RejectReason) -> Refusal {
    Refusal::Rejected(Rejection::new(reason))
}

fn judge_document(
    document: &DocumentFindings,
    policy: &ScanPolicy,
    today: NaiveDate,
) -> Result<DocumentData, Refusal> {
    let sides = || std::iter::once(&document.front).chain(document.back.as_ref());
    if !document.front.document_found {
        return Err(reject(RejectReason::NoDocument));
    }
    if document.back.as_ref().is_some_and(|b| !b.document_found) {
        return Err(reject(RejectReason::MissingBack));
    }
    if sides().any(|s| s.black_and_white) {
        return Err(reject(RejectReason::PhotocopyBlackWhite));
    }
    let unreadable: Vec<RejectDetail> = sides().flat_map(|s| s.unreadable.clone()).collect();
    if !unreadable.is_empty() {
        return Err(Refusal::Rejected(
            Rejection::with_details(RejectReason::NotReadableDocument, &unreadable)
                .unwrap_or_else(|| Rejection::new(RejectReason::NotReadableDocument)),
        ));
    }
    let data = match &document.zone {
        ZoneFinding::Absent | ZoneFinding::Unreadable => {
            return Err(reject(RejectReason::NotReadableDocument))
        }
        ZoneFinding::CheckFailed(_) => return Err(reject(RejectReason::MrzCheckFailed)),
        ZoneFinding::Read(data) => data.clone(),
    };
    if data.specimen {
        return Err(reject(RejectReason::SampleDocument));
    }
    if !document.portrait_found {
        // No face to compare, nor to check the holder by: SPEC §1.3.
        return Err(Refusal::Rejected(
            Rejection::with_details(
                RejectReason::NotReadableDocument,
                &[RejectDetail::BadQuality],
            )
            .unwrap_or_else(|| Rejection::new(RejectReason::NotReadableDocument)),
        ));
    }
    let type_accepted = data
        .document_type
        .is_some_and(|t| policy.document_types.is_empty() || policy.document_types.contains(&t));
    if !type_accepted {
        return Err(Refusal::Unsupported(
            VerificationStatus::DeniedUnsupportedIdType,
            Box::new(data),
        ));
    }
    let country_accepted = data
        .issuing_country
        .is_some_and(|c| policy.countries.is_empty() || policy.countries.contains(&c));
    if !country_accepted {
        return Err(Refusal::Unsupported(
            VerificationStatus::DeniedUnsupportedIdCountry,
            Box::new(data),
        ));
    }
    // An expired document is a document the account does not accept, as a
    // type it does not accept is (Resolved: the guides name no reject code
    // for expiry outside manipulation).
    let expired = data.expiry.is_some_and(|expiry| expiry < today);
    if expired && !policy.accept_expired {
        return Err(Refusal::Unsupported(
            VerificationStatus::DeniedUnsupportedIdType,
            Box::new(data),
        ));
    }
    Ok(data)
}

fn judge_identity(
    portrait_found: bool,
    selfie: Option<&SelfieFindings>,
    threshold: f32,
) -> IdentityVerdict {
    let Some(selfie) = selfie else {
        // The user never took the selfie.
        return IdentityVerdict {
            similarity: Similarity::NotPossible,
            validity: false,
            reason: Some(ValidityReason::NoFacePresent),
        };
    };
    let similarity = match selfie.similarity {
        Some(score) if portrait_found && score >= threshold => Similarity::Match,
        Some(score) if portrait_found && score.is_finite() => Similarity::NoMatch,
        _ => Similarity::NotPossible,
    };
    let reason = match (selfie.problem, selfie.live) {
        (Some(problem), _) => Some(problem),
        (None, false) => Some(ValidityReason::LivenessFailed),
        (None, true) => None,
    };
    IdentityVerdict {
        similarity,
        validity: reason.is_none(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
    }

    fn passport() -> DocumentData {
        DocumentData {
            document_type: Some(DocumentType::Passport),
            issuing_country: Some(Country::parse("AUT", "c").unwrap()),
            number: Some("P1234567".into()),
            first_name: Some("ANNA".into()),
            last_name: Some("MUSTER".into()),
            date_of_birth: NaiveDate::from_ymd_opt(1990, 1, 1),
            expiry: NaiveDate::from_ymd_opt(2030, 1, 1),
            gender: Some('F'),
            ..DocumentData::default()
        }
    }

    fn readable() -> SideFindings {
        SideFindings {
            document_found: true,
            ..SideFindings::default()
        }
    }

    fn document() -> DocumentFindings {
        DocumentFindings {
            front: readable(),
            back: None,
            zone: ZoneFinding::Read(passport()),
            portrait_found: true,
        }
    }

    fn live(similarity: f32) -> SelfieFindings {
        SelfieFindings {
            live: true,
            problem: None,
            similarity: Some(similarity),
        }
    }

    fn policy() -> ScanPolicy {
        ScanPolicy {
            document_types: Vec::new(),
            countries: Vec::new(),
            accept_expired: false,
            match_threshold: 0.5,
        }
    }

    fn decide(doc: &DocumentFindings, selfie: Option<&SelfieFindings>) -> ScanVerdict {
        decide_scan(Workflow::default(), doc, selfie, &policy(), today())
    }

    fn reason(v: &ScanVerdict) -> Option<(u16, Vec<u16>)> {
        v.rejection.as_ref().map(|r| {
            (
                r.reason().code(),
                r.details().iter().map(|d| d.code()).collect(),
            )
        })
    }

    #[test]
    fn a_read_document_and_a_live_matching_selfie_issue_a_facemap() {
        let v = decide(&document(), Some(&live(0.8)));
        assert_eq!(v.status, VerificationStatus::ApprovedVerified);
        assert_eq!(v.rejection, None);
        let identity = v.identity.unwrap();
        assert_eq!(
            (identity.similarity, identity.validity),
            (Similarity::Match, true)
        );
        assert!(v.issues_facemap);
        assert_eq!(v.document, Some(passport()));
    }

    #[test]
    fn another_persons_selfie_is_denied_fraud_107_without_a_facemap() {
        let v = decide(&document(), Some(&live(0.2)));
        assert_eq!(v.status, VerificationStatus::DeniedFraud);
        assert_eq!(reason(&v), Some((107, vec![])));
        assert_eq!(v.identity.unwrap().similarity, Similarity::NoMatch);
        assert!(!v.issues_facemap);
    }

    #[test]
    fn a_selfie_that_is_not_live_keeps_the_status_but_issues_no_facemap() {
        let mut spoof = live(0.9);
        spoof.live = false;
        let v = decide(&document(), Some(&spoof));
        assert_eq!(v.status, VerificationStatus::ApprovedVerified);
        let identity = v.identity.unwrap();
        assert!(!identity.validity);
        assert_eq!(identity.reason, Some(ValidityReason::LivenessFailed));
        assert!(!v.issues_facemap);
        let mut cropped = live(0.99);
        cropped.problem = Some(ValidityReason::SelfieCroppedFromId);
        let v = decide(&document(), Some(&cropped));
        assert_eq!(
            v.identity.unwrap().reason,
            Some(ValidityReason::SelfieCroppedFromId)
        );
        assert!(!v.issues_facemap);
    }

    #[test]
    fn no_selfie_or_no_face_to_compare_is_not_possible() {
        let v = decide(&document(), None);
        assert_eq!(
            v.identity.as_ref().unwrap().similarity,
            Similarity::NotPossible
        );
        assert!(!v.issues_facemap);
        let faceless = SelfieFindings {
            live: false,
            problem: Some(ValidityReason::NoFacePresent),
            similarity: None,
        };
        let v = decide(&document(), Some(&faceless));
        assert_eq!(v.status, VerificationStatus::ApprovedVerified);
        assert_eq!(v.identity.unwrap().similarity, Similarity::NotPossible);
        let nan = live(f32::NAN);
        assert_eq!(
            decide(&document(), Some(&nan)).identity.unwrap().similarity,
            Similarity::NotPossible
        );
    }

    #[test]
    fn the_document_rules_in_their_order() {
        let mut d = document();
        d.front.document_found = false;
        d.front.black_and_white = true;
        assert_eq!(reason(&decide(&d, Some(&live(0.9)))), Some((201, vec![])));

        let mut d = document();
        d.back = Some(SideFindings::default());
        assert_eq!(reason(&decide(&d, None)), Some((206, vec![])));

        let mut d = document();
        d.front.black_and_white = true;
        d.front.unreadable = vec![RejectDetail::Blurred];
        let v = decide(&d, Some(&live(0.9)));
        assert_eq!(v.status, VerificationStatus::ErrorNotReadableId);
        assert_eq!(reason(&v), Some((102, vec![])));

        let mut d = document();
        d.front.unreadable = vec![RejectDetail::Glare];
        d.back = Some(SideFindings {
            unreadable: vec![RejectDetail::Blurred, RejectDetail::Glare],
            ..readable()
        });
        assert_eq!(reason(&decide(&d, None)), Some((200, vec![2006, 2001])));

        let mut d = document();
        d.zone = ZoneFinding::CheckFailed(vec![RejectDetail::DocumentNumber]);
        let v = decide(&d, Some(&live(0.9)));
        assert_eq!(v.status, VerificationStatus::DeniedFraud);
        assert_eq!(reason(&v), Some((108, vec![])));
        assert!(!v.issues_facemap && v.identity.is_none());

        for zone in [ZoneFinding::Absent, ZoneFinding::Unreadable] {
            let d = DocumentFindings { zone, ..document() };
            assert_eq!(reason(&decide(&d, None)), Some((200, vec![])));
        }

        let mut specimen = passport();
        specimen.specimen = true;
        let d = DocumentFindings {
            zone: ZoneFinding::Read(specimen),
            ..document()
        };
        let v = decide(&d, Some(&live(0.9)));
        assert_eq!(
            (v.status, reason(&v)),
            (VerificationStatus::ErrorNotReadableId, Some((202, vec![])))
        );

        let d = DocumentFindings {
            portrait_found: false,
            ..document()
        };
        assert_eq!(reason(&decide(&d, None)), Some((200, vec![2002])));
    }

    #[test]
    fn the_account_decides_which_types_countries_and_expired_documents_it_accepts() {
        let id_cards_only = ScanPolicy {
            document_types: vec![DocumentType::IdCard],
            ..policy()
        };
        let v = decide_scan(
            Workflow::default(),
            &document(),
            Some(&live(0.9)),
            &id_cards_only,
            today(),
        );
        assert_eq!(v.status, VerificationStatus::DeniedUnsupportedIdType);
        assert_eq!(v.rejection, None);
        assert_eq!(v.document, Some(passport()), "what was read is kept");
        assert!(!v.issues_facemap);

        let swiss_only = ScanPolicy {
            countries: vec![Country::parse("CHE", "c").unwrap()],
            ..policy()
        };
        let v = decide_scan(
            Workflow::default(),
            &document(),
            Some(&live(0.9)),
            &swiss_only,
            today(),
        );
        assert_eq!(v.status, VerificationStatus::DeniedUnsupportedIdCountry);

        let mut old = passport();
        old.expiry = NaiveDate::from_ymd_opt(2026, 12, 5);
        let d = DocumentFindings {
            zone: ZoneFinding::Read(old),
            ..document()
        };
        let v = decide(&d, Some(&live(0.9)));
        assert_eq!(v.status, VerificationStatus::DeniedUnsupportedIdType);
        let lenient = ScanPolicy {
            accept_expired: true,
            ..policy()
        };
        let v = decide_scan(Workflow::default(), &d, Some(&live(0.9)), &lenient, today());
        assert!(v.issues_facemap);
        // Expiring today is not expired.
        let mut today_expiry = passport();
        today_expiry.expiry = Some(today());
        let d = DocumentFindings {
            zone: ZoneFinding::Read(today_expiry),
            ..document()
        };
        assert!(decide(&d, Some(&live(0.9))).issues_facemap);
    }

    #[test]
    fn id_only_workflows_approve_the_document_and_never_issue_a_facemap() {
        let v = decide_scan(
            Workflow::parse(101).unwrap(),
            &document(),
            None,
            &policy(),
            today(),
        );
        assert_eq!(v.status, VerificationStatus::ApprovedVerified);
        assert_eq!(v.identity, None);
        assert!(!v.issues_facemap);
    }

    fn any_detail() -> impl Strategy<Value = RejectDetail> {
        proptest::sample::select(RejectDetail::ALL.to_vec())
    }

    proptest! {
        /// Whatever the findings, a facemap is issued only for an approved
        /// identity scan with a matching, valid selfie, and a rejection
        /// always agrees with the status it gives.
        #[test]
        fn a_facemap_needs_approval_a_match_and_validity(
            found in any::<bool>(),
            bw in any::<bool>(),
            unreadable in proptest::collection::vec(any_detail(), 0..3),
            zone in 0..4u8,
            specimen in any::<bool>(),
            portrait in any::<bool>(),
            selfie in proptest::option::of((any::<bool>(), proptest::option::of(0.0f32..1.0))),
            identity in any::<bool>(),
        ) {
            let mut data = passport();
            data.specimen = specimen;
            let doc = DocumentFindings {
                front: SideFindings { document_found: found, black_and_white: bw, unreadable },
                back: None,
                zone: match zone {
                    0 => ZoneFinding::Absent,
                    1 => ZoneFinding::Unreadable,
                    2 => ZoneFinding::CheckFailed(vec![]),
                    _ => ZoneFinding::Read(data),
                },
                portrait_found: portrait,
            };
            let selfie = selfie.map(|(live, similarity)| SelfieFindings { live, problem: None, similarity });
            let workflow = Workflow::parse(if identity { 200 } else { 100 }).unwrap();
            let v = decide_scan(workflow, &doc, selfie.as_ref(), &policy(), today());
            if v.issues_facemap {
                prop_assert!(identity);
                prop_assert_eq!(v.status, VerificationStatus::ApprovedVerified);
                let id = v.identity.clone().unwrap();
                prop_assert_eq!(id.similarity, Similarity::Match);
                prop_assert!(id.validity && id.reason.is_none());
            }
            if let Some(r) = &v.rejection {
                prop_assert_eq!(r.status(), v.status);
            }
            prop_assert_eq!(
                v.rejection.is_some(),
                matches!(v.status, VerificationStatus::DeniedFraud | VerificationStatus::ErrorNotReadableId)
            );
        }
    }
}
