//! The verdict of an ID verification: what the document engine found on
//! the document sides and, for identity workflows, what the selfie's
//! liveness and its comparison with the document portrait found, become the
//! `verificationStatus`, the `rejectReason`, the `identityVerification` and
//! whether a facemap is issued. One pure function, [`decide_scan`], so the
//! order of the rules is written once and tested without images.

use chrono::NaiveDate;

use crate::enrollment::{Similarity, VerificationStatus};
use crate::mrz::{CheckField, MachineReadableZone, MrzRead, NotReadable};
use crate::scan::{Country, DocumentType, Preset, Workflow};
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

impl ZoneFinding {
    /// What a zone read gives the verdict: a valid or specimen zone is read
    /// (a specimen is marked as one, whatever its check digits say), a
    /// failed check digit names the fields it protects, and a zone that is
    /// not there or could not be read is told apart.
    pub fn of(read: &MrzRead) -> Self {
        match read {
            MrzRead::Valid(zone) => Self::Read(DocumentData::from_zone(zone, false)),
            MrzRead::Specimen { zone, .. } => Self::Read(DocumentData::from_zone(zone, true)),
            MrzRead::CheckFailed(zone) => Self::CheckFailed(
                zone.failed_checks()
                    .into_iter()
                    .filter_map(check_detail)
                    .collect(),
            ),
            MrzRead::NotReadable(NotReadable::NoZone) => Self::Absent,
            MrzRead::NotReadable(_) => Self::Unreadable,
        }
    }
}

/// The reject detail a failed check digit names (`1002`, `1003`, `1004`,
/// `1009`); the composite digit protects several fields and names none.
fn check_detail(field: CheckField) -> Option<RejectDetail> {
    match field {
        CheckField::DocumentNumber => Some(RejectDetail::DocumentNumber),
        CheckField::DateOfExpiry => Some(RejectDetail::Expiry),
        CheckField::DateOfBirth => Some(RejectDetail::Dob),
        CheckField::PersonalNumber => Some(RejectDetail::PersonalNumber),
        CheckField::Composite => None,
    }
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

impl DocumentData {
    /// The fields of a zone read with every check digit (or of a specimen).
    pub fn from_zone(zone: &MachineReadableZone, specimen: bool) -> Self {
        let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let optional = |s: &Option<String>| s.as_deref().and_then(text);
        Self {
            document_type: Some(zone.document_type),
            subtype: id_subtype(zone).map(str::to_owned),
            issuing_country: zone.issuing_country,
            number: text(&zone.document_number),
            first_name: text(&zone.given_names),
            last_name: text(&zone.surname),
            date_of_birth: zone.date_of_birth.date,
            expiry: zone.date_of_expiry.date,
            gender: zone.sex.gender().and_then(|g| g.chars().next()),
            nationality: zone.nationality,
            personal_number: optional(&zone.personal_number),
            optional_data_1: optional(&zone.optional_data_1),
            optional_data_2: optional(&zone.optional_data_2),
            specimen,
        }
    }
}

/// `idSubtype` as far as the zone tells it: an ID card's second code letter
/// (`IP` a passport card, `IR`/`AR` a residence permit), a plain `I`/`ID`
/// a national ID. A passport's `E_PASSPORT` needs the chip, which a photo
/// does not show: none.
fn id_subtype(zone: &MachineReadableZone) -> Option<&'static str> {
    if zone.document_type != DocumentType::IdCard {
        return None;
    }
    let code = zone.document_code.as_str();
    Some(match code.chars().nth(1) {
        Some('P') => "PASSPORT_CARD_ID",
        Some('R') => "RESIDENT_PERMIT_ID",
        None | Some('D') if code.starts_with('I') => "NATIONAL_ID",
        _ => "UNKNOWN",
    })
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
    /// The document engine found an ID document in the selfie's images:
    /// the user showed the document instead of (or beside) their face.
    pub document_in_view: bool,
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
    /// The scan's preset: the user was asked for that country's document of
    /// that type, and another one is unsupported (Resolved: the guides
    /// leave it open).
    pub preset: Option<Preset>,
    /// Document-portrait-vs-selfie similarity at or above which the two
    /// are the same person (the calibrated operating point).
    pub match_threshold: f32,
    /// Similarity at or above which a selfie that failed its liveness is
    /// the document's own portrait shown to the camera
    /// (`SELFIE_CROPPED_FROM_ID`); `None` when the calibration has no such
    /// point, and the rule does not run.
    pub same_picture_threshold: Option<f32>,
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
    let identity = judge_identity(document.portrait_found, selfie, policy);
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
    let preset = policy.preset;
    let type_accepted = data.document_type.is_some_and(|t| {
        (policy.document_types.is_empty() || policy.document_types.contains(&t))
            && preset.is_none_or(|p| p.document_type == t)
    });
    if !type_accepted {
        return Err(Refusal::Unsupported(
            VerificationStatus::DeniedUnsupportedIdType,
            Box::new(data),
        ));
    }
    let country_accepted = data.issuing_country.is_some_and(|c| {
        (policy.countries.is_empty() || policy.countries.contains(&c))
            && preset.is_none_or(|p| p.country == c)
    });
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
    policy: &ScanPolicy,
) -> IdentityVerdict {
    let Some(selfie) = selfie else {
        // The user never took the selfie.
        return IdentityVerdict {
            similarity: Similarity::NotPossible,
            validity: false,
            reason: Some(ValidityReason::NoFacePresent),
        };
    };
    let score = selfie
        .similarity
        .filter(|s| portrait_found && s.is_finite());
    let similarity = match score {
        Some(score) if score >= policy.match_threshold => Similarity::Match,
        Some(_) => Similarity::NoMatch,
        None => Similarity::NotPossible,
    };
    // A document in the selfie names what was shown, whatever else the
    // liveness found: the selfie must be the person alone.
    let reason = match (selfie.document_in_view, selfie.problem, selfie.live) {
        (true, _, _) => Some(ValidityReason::EntireIdUsedAsSelfie),
        (false, problem, false) if is_same_picture(score, policy) && is_reproduction(problem) => {
            Some(ValidityReason::SelfieCroppedFromId)
        }
        (false, Some(problem), _) => Some(problem),
        (false, None, false) => Some(ValidityReason::LivenessFailed),
        (false, None, true) => None,
    };
    IdentityVerdict {
        similarity,
        validity: reason.is_none(),
        reason,
    }
}

/// The selfie is the document's portrait itself rather than another
/// picture of its holder: a similarity no two sittings of one person reach
/// at the calibrated rate (`facegate eval documents`, same-picture pairs).
/// A live capture is never judged so: two frames of one video score as
/// high, so the score alone cannot tell a portrait cropped into the selfie
/// from a portrait taken at the same sitting, and a capture that passed
/// its random challenge had a live person in front of the camera.
fn is_same_picture(score: Option<f32>, policy: &ScanPolicy) -> bool {
    matches!((score, policy.same_picture_threshold), (Some(s), Some(t)) if s >= t)
}

/// A failed liveness that a shown picture explains: no finer reason, or a
/// screen, paper or video. A second person, a cut-off face or a poor image
/// keep their own reason.
fn is_reproduction(problem: Option<ValidityReason>) -> bool {
    matches!(
        problem,
        None | Some(ValidityReason::SelfieIsScreenPaperVideo | ValidityReason::LivenessFailed)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
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

    /// ICAO Doc 9303's TD3 and TD1 examples with a real state and holder.
    const TD3: [&str; 2] = [
        "P<NLDJANSEN<<WILLEKE<LISE<<<<<<<<<<<<<<<<<<<",
        "L898902C36NLD7408122F1204159ZE184226B<<<<<10",
    ];
    const TD1: [&str; 3] = [
        "IRNLDD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159NLD<<<<<<<<<<<6",
        "JANSEN<<WILLEKE<LISE<<<<<<<<<<",
    ];

    fn zone(lines: &[&str]) -> ZoneFinding {
        let lines: Vec<crate::mrz::OcrLine> = lines
            .iter()
            .map(|l| crate::mrz::OcrLine::plain(*l))
            .collect();
        ZoneFinding::of(&crate::mrz::read_zone(&lines, today()))
    }

    #[test]
    fn a_valid_zone_gives_the_fields_the_guides_name() {
        let ZoneFinding::Read(data) = zone(&TD3) else {
            panic!("not read: {:?}", zone(&TD3));
        };
        assert_eq!(data.document_type, Some(DocumentType::Passport));
        assert_eq!(data.subtype, None);
        assert_eq!(
            data.issuing_country.map(|c| c.as_str().to_owned()),
            Some("NLD".into())
        );
        assert_eq!(
            data.nationality.map(|c| c.as_str().to_owned()),
            Some("NLD".into())
        );
        assert_eq!(data.number.as_deref(), Some("L898902C3"));
        assert_eq!(data.first_name.as_deref(), Some("WILLEKE LISE"));
        assert_eq!(data.last_name.as_deref(), Some("JANSEN"));
        assert_eq!(data.date_of_birth, NaiveDate::from_ymd_opt(1974, 8, 12));
        assert_eq!(data.expiry, NaiveDate::from_ymd_opt(2012, 4, 15));
        assert_eq!(data.gender, Some('F'));
        assert_eq!(data.personal_number.as_deref(), Some("ZE184226B"));
        assert!(!data.specimen);

        let ZoneFinding::Read(card) = zone(&TD1) else {
            panic!("TD1 not read");
        };
        assert_eq!(card.document_type, Some(DocumentType::IdCard));
        assert_eq!(card.subtype.as_deref(), Some("RESIDENT_PERMIT_ID"));
        assert_eq!(card.personal_number, None);
        assert_eq!(card.optional_data_1, None);
    }

    #[test]
    fn a_specimen_zone_is_read_and_marked_and_a_failed_digit_names_its_field() {
        let specimen: Vec<String> = TD3.iter().map(|l| l.replace("NLD", "UTO")).collect();
        let lines: Vec<&str> = specimen.iter().map(String::as_str).collect();
        let ZoneFinding::Read(data) = zone(&lines) else {
            panic!("specimen not read");
        };
        assert!(data.specimen);
        // The date of birth's check digit (7408122 → 7408121).
        let tampered = [TD3[0], "L898902C36NLD7408121F1204159ZE184226B<<<<<10"];
        match zone(&tampered) {
            ZoneFinding::CheckFailed(details) => {
                assert!(details.contains(&RejectDetail::Dob), "{details:?}");
                assert!(!details.contains(&RejectDetail::DocumentNumber));
            }
            other => panic!("tampered zone gave {other:?}"),
        }
        assert_eq!(zone(&[]), ZoneFinding::Absent);
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
            document_in_view: false,
        }
    }

    fn policy() -> ScanPolicy {
        ScanPolicy {
            document_types: Vec::new(),
            countries: Vec::new(),
            accept_expired: false,
            preset: None,
            match_threshold: 0.5,
            same_picture_threshold: Some(0.9),
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
        let mut spoof = live(0.8);
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
    fn a_failed_selfie_that_is_the_portrait_itself_is_selfie_cropped_from_id() {
        let shown = |score: f32, problem: Option<ValidityReason>| SelfieFindings {
            live: false,
            problem,
            ..live(score)
        };
        let reason_of = |selfie: &SelfieFindings, policy: &ScanPolicy| {
            let v = decide_scan(
                Workflow::default(),
                &document(),
                Some(selfie),
                policy,
                today(),
            );
            assert!(!v.issues_facemap);
            v.identity.unwrap().reason
        };
        let cropped = Some(ValidityReason::SelfieCroppedFromId);
        for problem in [None, Some(ValidityReason::SelfieIsScreenPaperVideo)] {
            assert_eq!(reason_of(&shown(0.95, problem), &policy()), cropped);
            assert_eq!(
                reason_of(&shown(0.9, problem), &policy()),
                cropped,
                "at the threshold"
            );
            let below = reason_of(&shown(0.89, problem), &policy());
            assert_eq!(below, problem.or(Some(ValidityReason::LivenessFailed)));
        }
        // A second person or a cut-off face keeps its own reason.
        for problem in [
            ValidityReason::MultiplePeople,
            ValidityReason::FaceNotFullyVisible,
        ] {
            assert_eq!(
                reason_of(&shown(0.99, Some(problem)), &policy()),
                Some(problem)
            );
        }
        // Without a calibrated point the rule does not run.
        let off = ScanPolicy {
            same_picture_threshold: None,
            ..policy()
        };
        assert_eq!(
            reason_of(&shown(0.99, None), &off),
            Some(ValidityReason::LivenessFailed)
        );
        // Nothing to compare, nothing cropped.
        let mut faceless = shown(0.99, None);
        faceless.similarity = None;
        assert_eq!(
            reason_of(&faceless, &policy()),
            Some(ValidityReason::LivenessFailed)
        );
        let no_portrait = judge_identity(false, Some(&shown(0.99, None)), &policy());
        assert_eq!(no_portrait.reason, Some(ValidityReason::LivenessFailed));
    }

    #[test]
    fn a_live_selfie_as_alike_as_the_portrait_itself_stays_valid() {
        // Two frames of one sitting score as high as a cropped portrait: a
        // live capture is the person, whatever the score.
        let v = decide(&document(), Some(&live(0.97)));
        let identity = v.identity.unwrap();
        assert_eq!(
            (identity.similarity, identity.validity),
            (Similarity::Match, true)
        );
        assert!(v.issues_facemap);
    }

    #[test]
    fn a_document_in_the_selfie_is_entire_id_used_as_selfie_even_when_live() {
        for live_selfie in [true, false] {
            let selfie = SelfieFindings {
                live: live_selfie,
                problem: (!live_selfie).then_some(ValidityReason::SelfieIsScreenPaperVideo),
                document_in_view: true,
                ..live(0.9)
            };
            let v = decide(&document(), Some(&selfie));
            let identity = v.identity.unwrap();
            assert!(!identity.validity);
            assert_eq!(identity.reason, Some(ValidityReason::EntireIdUsedAsSelfie));
            assert!(!v.issues_facemap);
        }
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
            document_in_view: false,
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

        // A preset narrows what the account accepts to its type and country.
        let aut = Country::parse("AUT", "c").unwrap();
        for (preset, status) in [
            (
                Preset {
                    country: aut,
                    document_type: DocumentType::Passport,
                },
                VerificationStatus::ApprovedVerified,
            ),
            (
                Preset {
                    country: aut,
                    document_type: DocumentType::IdCard,
                },
                VerificationStatus::DeniedUnsupportedIdType,
            ),
            (
                Preset {
                    country: Country::parse("CHE", "c").unwrap(),
                    document_type: DocumentType::Passport,
                },
                VerificationStatus::DeniedUnsupportedIdCountry,
            ),
        ] {
            let with_preset = ScanPolicy {
                preset: Some(preset),
                ..policy()
            };
            let v = decide_scan(
                Workflow::default(),
                &document(),
                Some(&live(0.9)),
                &with_preset,
                today(),
            );
            assert_eq!(v.status, status, "{preset:?}");
        }
        // An account that refuses the preset's type refuses the document.
        let cards_with_passport_preset = ScanPolicy {
            preset: Some(Preset {
                country: aut,
                document_type: DocumentType::Passport,
            }),
            ..id_cards_only
        };
        let v = decide_scan(
            Workflow::default(),
            &document(),
            Some(&live(0.9)),
            &cards_with_passport_preset,
            today(),
        );
        assert_eq!(v.status, VerificationStatus::DeniedUnsupportedIdType);

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
            let selfie = selfie.map(|(live, similarity)| SelfieFindings { live, problem: None, similarity, document_in_view: false });
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
