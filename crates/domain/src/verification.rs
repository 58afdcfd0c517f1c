//! The vocabulary of an enrollment's verdict as Jumio's guides define it
//! (`callback.md` "Reject reason", "Reject reason details", "Identity
//! Verification"; the same tables in `netverify-retrieval-api.md`): reject
//! reasons with their codes, their details, and the reasons a selfie is not
//! valid. How a verdict is reached lives elsewhere; this module only names
//! the outcomes, so that every code has one spelling.

use crate::enrollment::VerificationStatus;

/// Declares a closed list of coded values: the variant, its numeric code and
/// its description exactly as the guides print them.
macro_rules! coded {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = ($code:literal, $text:literal), )+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $( $(#[$vmeta])* $variant, )+ }

        impl $name {
            /// Every value, in the guides' order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The numeric code (`rejectReasonCode`, `detailsCode`).
            pub fn code(self) -> u16 {
                match self { $(Self::$variant => $code,)+ }
            }

            /// The description (`rejectReasonDescription`,
            /// `detailsDescription`).
            pub fn description(self) -> &'static str {
                match self { $(Self::$variant => $text,)+ }
            }

            /// The value with this numeric code.
            pub fn from_code(code: u16) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.code() == code)
            }
        }
    };
}

coded! {
    /// `rejectReason.rejectReasonCode` and its description.
    pub enum RejectReason {
        ManipulatedDocument = (100, "MANIPULATED_DOCUMENT"),
        Fraudster = (105, "FRAUDSTER"),
        Fake = (106, "FAKE"),
        /// The document's portrait is not the person of the selfie.
        PhotoMismatch = (107, "PHOTO_MISMATCH"),
        /// A check digit of the machine-readable zone does not hold.
        MrzCheckFailed = (108, "MRZ_CHECK_FAILED"),
        PunchedDocument = (109, "PUNCHED_DOCUMENT"),
        ChipDataManipulated = (110, "CHIP_DATA_MANIPULATED"),
        MismatchPrintedBarcodeData = (111, "MISMATCH_PRINTED_BARCODE_DATA"),
        MismatchingDataRepeatedFace = (113, "MISMATCHING_DATA_REPEATED_FACE"),
        PhotocopyBlackWhite = (102, "PHOTOCOPY_BLACK_WHITE"),
        PhotocopyColor = (103, "PHOTOCOPY_COLOR"),
        DigitalCopy = (104, "DIGITAL_COPY"),
        NotReadableDocument = (200, "NOT_READABLE_DOCUMENT"),
        NoDocument = (201, "NO_DOCUMENT"),
        /// A specimen, such as ICAO's `UTO` documents.
        SampleDocument = (202, "SAMPLE_DOCUMENT"),
        MissingBack = (206, "MISSING_BACK"),
        WrongDocumentPage = (207, "WRONG_DOCUMENT_PAGE"),
        MissingSignature = (209, "MISSING_SIGNATURE"),
        CameraBlackWhite = (210, "CAMERA_BLACK_WHITE"),
        DifferentPersonsShown = (211, "DIFFERENT_PERSONS_SHOWN"),
        InvalidWatermark = (213, "INVALID_WATERMARK"),
        ManualRejection = (300, "MANUAL_REJECTION"),
    }
}

coded! {
    /// `rejectReasonDetails[].detailsCode` and its description: which part
    /// of a manipulated (100) or unreadable (200) document is the problem.
    pub enum RejectDetail {
        Photo = (1001, "PHOTO"),
        DocumentNumber = (1002, "DOCUMENT_NUMBER"),
        Expiry = (1003, "EXPIRY"),
        Dob = (1004, "DOB"),
        Name = (1005, "NAME"),
        Address = (1006, "ADDRESS"),
        SecurityChecks = (1007, "SECURITY_CHECKS"),
        Signature = (1008, "SIGNATURE"),
        PersonalNumber = (1009, "PERSONAL_NUMBER"),
        PlaceOfBirth = (10011, "PLACE_OF_BIRTH"),
        Blurred = (2001, "BLURRED"),
        BadQuality = (2002, "BAD_QUALITY"),
        MissingPartDocument = (2003, "MISSING_PART_DOCUMENT"),
        HiddenPartDocument = (2004, "HIDDEN_PART_DOCUMENT"),
        DamagedDocument = (2005, "DAMAGED_DOCUMENT"),
        Glare = (2006, "GLARE"),
    }
}

impl RejectReason {
    /// The `verificationStatus` the guides list this reason under: the
    /// fraud codes deny, the others say the document could not be read.
    pub fn status(self) -> VerificationStatus {
        match self {
            Self::ManipulatedDocument
            | Self::Fraudster
            | Self::Fake
            | Self::PhotoMismatch
            | Self::MrzCheckFailed
            | Self::PunchedDocument
            | Self::ChipDataManipulated
            | Self::MismatchPrintedBarcodeData
            | Self::MismatchingDataRepeatedFace => VerificationStatus::DeniedFraud,
            Self::PhotocopyBlackWhite
            | Self::PhotocopyColor
            | Self::DigitalCopy
            | Self::NotReadableDocument
            | Self::NoDocument
            | Self::SampleDocument
            | Self::MissingBack
            | Self::WrongDocumentPage
            | Self::MissingSignature
            | Self::CameraBlackWhite
            | Self::DifferentPersonsShown
            | Self::InvalidWatermark
            | Self::ManualRejection => VerificationStatus::ErrorNotReadableId,
        }
    }
}

impl RejectDetail {
    /// The reason whose details this is: the guides give details only for
    /// 100 (`MANIPULATED_DOCUMENT`) and 200 (`NOT_READABLE_DOCUMENT`).
    pub fn reason(self) -> RejectReason {
        // 1001-1009 and 10011 detail a manipulation, 2001-2006 a reading.
        if (2000..3000).contains(&self.code()) {
            RejectReason::NotReadableDocument
        } else {
            RejectReason::ManipulatedDocument
        }
    }
}

/// A reject reason with its details, which always belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    reason: RejectReason,
    details: Vec<RejectDetail>,
}

impl Rejection {
    /// A reason without details.
    pub fn new(reason: RejectReason) -> Self {
        Self {
            reason,
            details: Vec::new(),
        }
    }

    /// A reason with details; `None` when a detail belongs to another
    /// reason (the guides give details for 100 and 200 only). Repeated
    /// details are kept once, in the order first given.
    pub fn with_details(reason: RejectReason, details: &[RejectDetail]) -> Option<Self> {
        if details.iter().any(|d| d.reason() != reason) {
            return None;
        }
        let mut kept: Vec<RejectDetail> = Vec::with_capacity(details.len());
        for detail in details {
            if !kept.contains(detail) {
                kept.push(*detail);
            }
        }
        Some(Self {
            reason,
            details: kept,
        })
    }

    pub fn reason(&self) -> RejectReason {
        self.reason
    }

    pub fn details(&self) -> &[RejectDetail] {
        &self.details
    }

    /// The `verificationStatus` this rejection gives.
    pub fn status(&self) -> VerificationStatus {
        self.reason.status()
    }
}

/// `identityVerification.reason`: why the selfie is not valid
/// (`validity` = `FALSE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValidityReason {
    SelfieCroppedFromId,
    EntireIdUsedAsSelfie,
    MultiplePeople,
    SelfieIsScreenPaperVideo,
    SelfieManipulated,
    AgeDifferenceTooBig,
    NoFacePresent,
    FaceNotFullyVisible,
    BadQuality,
    BlackAndWhite,
    LivenessFailed,
}

impl ValidityReason {
    pub const ALL: [Self; 11] = [
        Self::SelfieCroppedFromId,
        Self::EntireIdUsedAsSelfie,
        Self::MultiplePeople,
        Self::SelfieIsScreenPaperVideo,
        Self::SelfieManipulated,
        Self::AgeDifferenceTooBig,
        Self::NoFacePresent,
        Self::FaceNotFullyVisible,
        Self::BadQuality,
        Self::BlackAndWhite,
        Self::LivenessFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SelfieCroppedFromId => "SELFIE_CROPPED_FROM_ID",
            Self::EntireIdUsedAsSelfie => "ENTIRE_ID_USED_AS_SELFIE",
            Self::MultiplePeople => "MULTIPLE_PEOPLE",
            Self::SelfieIsScreenPaperVideo => "SELFIE_IS_SCREEN_PAPER_VIDEO",
            Self::SelfieManipulated => "SELFIE_MANIPULATED",
            Self::AgeDifferenceTooBig => "AGE_DIFFERENCE_TOO_BIG",
            Self::NoFacePresent => "NO_FACE_PRESENT",
            Self::FaceNotFullyVisible => "FACE_NOT_FULLY_VISIBLE",
            Self::BadQuality => "BAD_QUALITY",
            Self::BlackAndWhite => "BLACK_AND_WHITE",
            Self::LivenessFailed => "LIVENESS_FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The guides' tables, as printed in `callback.md`.
    const GUIDE_REASONS: &str =
        "100 MANIPULATED_DOCUMENT 105 FRAUDSTER 106 FAKE 107 PHOTO_MISMATCH \
        108 MRZ_CHECK_FAILED 109 PUNCHED_DOCUMENT 110 CHIP_DATA_MANIPULATED \
        111 MISMATCH_PRINTED_BARCODE_DATA 113 MISMATCHING_DATA_REPEATED_FACE \
        102 PHOTOCOPY_BLACK_WHITE 103 PHOTOCOPY_COLOR 104 DIGITAL_COPY 200 NOT_READABLE_DOCUMENT \
        201 NO_DOCUMENT 202 SAMPLE_DOCUMENT 206 MISSING_BACK 207 WRONG_DOCUMENT_PAGE \
        209 MISSING_SIGNATURE 210 CAMERA_BLACK_WHITE 211 DIFFERENT_PERSONS_SHOWN \
        213 INVALID_WATERMARK 300 MANUAL_REJECTION";
    const GUIDE_DETAILS: &str = "1001 PHOTO 1002 DOCUMENT_NUMBER 1003 EXPIRY 1004 DOB 1005 NAME \
        1006 ADDRESS 1007 SECURITY_CHECKS 1008 SIGNATURE 1009 PERSONAL_NUMBER 10011 PLACE_OF_BIRTH \
        2001 BLURRED 2002 BAD_QUALITY 2003 MISSING_PART_DOCUMENT 2004 HIDDEN_PART_DOCUMENT \
        2005 DAMAGED_DOCUMENT 2006 GLARE";

    fn pairs(table: &str) -> Vec<(u16, &str)> {
        let words: Vec<&str> = table.split_whitespace().collect();
        words
            .chunks(2)
            .map(|pair| (pair[0].parse().unwrap(), pair[1]))
            .collect()
    }

    #[test]
    fn every_reject_reason_has_the_guides_code_and_description() {
        let ours: Vec<_> = RejectReason::ALL
            .iter()
            .map(|r| (r.code(), r.description()))
            .collect();
        assert_eq!(ours, pairs(GUIDE_REASONS));
        for reason in RejectReason::ALL {
            assert_eq!(RejectReason::from_code(reason.code()), Some(*reason));
        }
        assert_eq!(RejectReason::from_code(101), None);
    }

    #[test]
    fn every_detail_has_the_guides_code_and_belongs_to_100_or_200() {
        let ours: Vec<_> = RejectDetail::ALL
            .iter()
            .map(|d| (d.code(), d.description()))
            .collect();
        assert_eq!(ours, pairs(GUIDE_DETAILS));
        assert_eq!(
            RejectDetail::PlaceOfBirth.reason(),
            RejectReason::ManipulatedDocument
        );
        assert_eq!(
            RejectDetail::Glare.reason(),
            RejectReason::NotReadableDocument
        );
    }

    #[test]
    fn fraud_reasons_deny_and_the_others_say_not_readable() {
        use VerificationStatus::{DeniedFraud, ErrorNotReadableId};
        assert_eq!(RejectReason::PhotoMismatch.status(), DeniedFraud);
        assert_eq!(RejectReason::MrzCheckFailed.status(), DeniedFraud);
        assert_eq!(RejectReason::SampleDocument.status(), ErrorNotReadableId);
        assert_eq!(
            RejectReason::PhotocopyBlackWhite.status(),
            ErrorNotReadableId
        );
        // The guides list the 1xx fraud codes under DENIED_FRAUD; 102-104
        // are copies, which they list under ERROR_NOT_READABLE_ID.
        for reason in RejectReason::ALL {
            let fraud = reason.code() < 200 && !(102..=104).contains(&reason.code());
            assert_eq!(reason.status() == DeniedFraud, fraud, "{reason:?}");
        }
    }

    #[test]
    fn details_must_belong_to_their_reason_and_are_kept_once() {
        use RejectDetail::{Blurred, Glare, Name};
        let unreadable = RejectReason::NotReadableDocument;
        let r = Rejection::with_details(unreadable, &[Blurred, Glare, Blurred]).unwrap();
        assert_eq!(r.details(), [Blurred, Glare]);
        assert_eq!(r.status(), VerificationStatus::ErrorNotReadableId);
        assert_eq!(Rejection::with_details(unreadable, &[Name]), None);
        assert_eq!(
            Rejection::with_details(RejectReason::PhotoMismatch, &[Blurred]),
            None
        );
        assert!(Rejection::new(RejectReason::NoDocument)
            .details()
            .is_empty());
    }

    #[test]
    fn validity_reasons_round_trip_through_the_guides_spelling() {
        for reason in ValidityReason::ALL {
            assert_eq!(ValidityReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(ValidityReason::parse("liveness_failed"), None);
    }
}
