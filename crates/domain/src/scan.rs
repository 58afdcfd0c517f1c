//! What an ID verification ("scan") is asked to do, as the v4 initiate call
//! of `netverify-web-v4.md` names it: the workflow (ID only or ID and
//! identity; camera, upload or both), the preselected country and document
//! type (`presets`), and the countries and document types themselves.

use std::fmt;

use crate::input::FieldError;

/// The ISO 3166-1 alpha-3 codes (249, ISO's list as of 2026) that a
/// `presets[].country` may name, besides Jumio's `XKX` for Kosovo.
const ISO_3166_ALPHA3: [&str; 249] = [
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF",
    "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS",
    "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB", "BRN", "BTN", "BVT", "BWA", "CAF",
    "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG", "COK", "COL", "COM", "CPV",
    "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "DEU", "DJI", "DMA", "DNK", "DOM", "DZA",
    "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH", "FIN", "FJI", "FLK", "FRA", "FRO", "FSM",
    "GAB", "GBR", "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD",
    "GRL", "GTM", "GUF", "GUM", "GUY", "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN",
    "IND", "IOT", "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ",
    "KEN", "KGZ", "KHM", "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE",
    "LKA", "LSO", "LTU", "LUX", "LVA", "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX",
    "MHL", "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS",
    "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL",
    "NRU", "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK",
    "PRT", "PRY", "PSE", "PYF", "QAT", "REU", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP",
    "SGS", "SHN", "SJM", "SLB", "SLE", "SLV", "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR",
    "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA", "TCD", "TGO", "THA", "TJK", "TKL",
    "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV", "TWN", "TZA", "UGA", "UKR", "UMI", "URY",
    "USA", "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM", "VUT", "WLF", "WSM", "YEM", "ZAF",
    "ZMB", "ZWE",
];

/// The ISO 3166-1 alpha-2 code of each entry of [`ISO_3166_ALPHA3`], in the
/// same order: browsers name regions by these (`Intl.DisplayNames`).
const ISO_3166_ALPHA2: [&str; 249] = [
    "AW", "AF", "AO", "AI", "AX", "AL", "AD", "AE", "AR", "AM", "AS", "AQ", "TF", "AG", "AU", "AT",
    "AZ", "BI", "BE", "BJ", "BQ", "BF", "BD", "BG", "BH", "BS", "BA", "BL", "BY", "BZ", "BM", "BO",
    "BR", "BB", "BN", "BT", "BV", "BW", "CF", "CA", "CC", "CH", "CL", "CN", "CI", "CM", "CD", "CG",
    "CK", "CO", "KM", "CV", "CR", "CU", "CW", "CX", "KY", "CY", "CZ", "DE", "DJ", "DM", "DK", "DO",
    "DZ", "EC", "EG", "ER", "EH", "ES", "EE", "ET", "FI", "FJ", "FK", "FR", "FO", "FM", "GA", "GB",
    "GE", "GG", "GH", "GI", "GN", "GP", "GM", "GW", "GQ", "GR", "GD", "GL", "GT", "GF", "GU", "GY",
    "HK", "HM", "HN", "HR", "HT", "HU", "ID", "IM", "IN", "IO", "IE", "IR", "IQ", "IS", "IL", "IT",
    "JM", "JE", "JO", "JP", "KZ", "KE", "KG", "KH", "KI", "KN", "KR", "KW", "LA", "LB", "LR", "LY",
    "LC", "LI", "LK", "LS", "LT", "LU", "LV", "MO", "MF", "MA", "MC", "MD", "MG", "MV", "MX", "MH",
    "MK", "ML", "MT", "MM", "ME", "MN", "MP", "MZ", "MR", "MS", "MQ", "MU", "MW", "MY", "YT", "NA",
    "NC", "NE", "NF", "NG", "NI", "NU", "NL", "NO", "NP", "NR", "NZ", "OM", "PK", "PA", "PN", "PE",
    "PH", "PW", "PG", "PL", "PR", "KP", "PT", "PY", "PS", "PF", "QA", "RE", "RO", "RU", "RW", "SA",
    "SD", "SN", "SG", "GS", "SH", "SJ", "SB", "SL", "SV", "SM", "SO", "PM", "RS", "SS", "ST", "SR",
    "SK", "SI", "SE", "SZ", "SX", "SC", "SY", "TC", "TD", "TG", "TH", "TJ", "TK", "TM", "TL", "TO",
    "TT", "TN", "TR", "TV", "TW", "TZ", "UG", "UA", "UM", "UY", "US", "UZ", "VA", "VC", "VE", "VG",
    "VI", "VN", "VU", "WF", "WS", "YE", "ZA", "ZM", "ZW",
];

/// A country as the guides name it: an ISO 3166-1 alpha-3 code, or `XKX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 3]);

impl Country {
    /// Kosovo, which has no ISO code; the guides use `XKX`.
    pub const KOSOVO: &'static str = "XKX";

    /// `field` names the refused input in the error.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let known = raw == Self::KOSOVO || ISO_3166_ALPHA3.binary_search(&raw).is_ok();
        match <[u8; 3]>::try_from(raw.as_bytes()) {
            Ok(code) if known => Ok(Self(code)),
            _ => Err(FieldError::new(
                field,
                "COUNTRY_INVALID",
                format!("{field} must be an ISO 3166-1 alpha-3 country code (or XKX)"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII codes from the table are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// The country's ISO 3166-1 alpha-2 code (`XK` for Kosovo, as browsers
    /// and CLDR name it).
    pub fn alpha2(&self) -> &'static str {
        ISO_3166_ALPHA3
            .binary_search(&self.as_str())
            .map_or("XK", |i| ISO_3166_ALPHA2[i])
    }

    /// Every country a document may be issued by: ISO's list, then Kosovo.
    pub fn all() -> impl Iterator<Item = Self> {
        ISO_3166_ALPHA3
            .iter()
            .chain(&[Self::KOSOVO])
            .filter_map(|code| <[u8; 3]>::try_from(code.as_bytes()).ok().map(Self))
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The document types of `presets[].type` and of `idType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentType {
    Passport,
    DrivingLicense,
    IdCard,
}

impl DocumentType {
    pub const ALL: [Self; 3] = [Self::Passport, Self::DrivingLicense, Self::IdCard];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passport => "PASSPORT",
            Self::DrivingLicense => "DRIVING_LICENSE",
            Self::IdCard => "ID_CARD",
        }
    }

    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| {
                FieldError::new(
                    field,
                    "DOCUMENT_TYPE_INVALID",
                    format!("{field} must be PASSPORT, DRIVING_LICENSE or ID_CARD"),
                )
            })
    }

    /// Whether the back of the document is asked for too: ID cards and
    /// driving licences carry data (the ID card's machine-readable zone) on
    /// the back; a passport's data page is one side.
    pub fn has_back(self) -> bool {
        !matches!(self, Self::Passport)
    }
}

/// The ID documents an account accepts in its ID verifications; a document
/// outside them ends `DENIED_UNSUPPORTED_ID_TYPE` or `_COUNTRY`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentAcceptance {
    /// Empty accepts every type.
    pub document_types: Vec<DocumentType>,
    /// Issuing countries; empty accepts every country.
    pub countries: Vec<Country>,
    /// Accept documents past their expiry date (refused by default).
    pub accept_expired: bool,
}

impl DocumentAcceptance {
    /// Parses a comma-separated list of document types (`PASSPORT,ID_CARD`);
    /// an empty text accepts every type. Duplicates count once.
    pub fn parse_types(raw: &str, field: &str) -> Result<Vec<DocumentType>, FieldError> {
        let mut types = Vec::new();
        for item in list_items(raw) {
            let t = DocumentType::parse(item, field)?;
            if !types.contains(&t) {
                types.push(t);
            }
        }
        Ok(types)
    }

    /// Parses a comma-separated list of ISO 3166-1 alpha-3 countries
    /// (`AUT,DEU`); an empty text accepts every country.
    pub fn parse_countries(raw: &str, field: &str) -> Result<Vec<Country>, FieldError> {
        let mut countries = Vec::new();
        for item in list_items(raw) {
            let c = Country::parse(item, field)?;
            if !countries.contains(&c) {
                countries.push(c);
            }
        }
        Ok(countries)
    }

    /// The types as stored and shown: `PASSPORT,ID_CARD` (empty for all).
    pub fn types_text(&self) -> String {
        let names: Vec<&str> = self.document_types.iter().map(|t| t.as_str()).collect();
        names.join(",")
    }

    /// The countries as stored and shown: `AUT,DEU` (empty for all).
    pub fn countries_text(&self) -> String {
        let codes: Vec<&str> = self.countries.iter().map(Country::as_str).collect();
        codes.join(",")
    }
}

fn list_items(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// What a scan verifies: the document only, or the document and the
/// person (a selfie matched against the document's portrait, with liveness).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verification {
    IdOnly,
    IdAndIdentity,
}

/// How the end user may provide the document (and, for identity, the
/// selfie).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureMethod {
    CameraOrUpload,
    CameraOnly,
    UploadOnly,
}

/// `workflowId`: a verification and a capture method (100, 101, 102 = ID
/// only; 200, 201, 202 = ID and identity; x00 camera or upload, x01 camera
/// only, x02 upload only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Workflow {
    pub verification: Verification,
    pub capture: CaptureMethod,
}

impl Workflow {
    /// Every workflow id the guide lists.
    pub const IDS: [u16; 6] = [100, 101, 102, 200, 201, 202];

    pub fn parse(id: i64) -> Result<Self, FieldError> {
        let verification = match id / 100 {
            1 => Some(Verification::IdOnly),
            2 => Some(Verification::IdAndIdentity),
            _ => None,
        };
        let capture = match id % 100 {
            0 => Some(CaptureMethod::CameraOrUpload),
            1 => Some(CaptureMethod::CameraOnly),
            2 => Some(CaptureMethod::UploadOnly),
            _ => None,
        };
        match (verification, capture) {
            (Some(verification), Some(capture)) if id > 0 => Ok(Self {
                verification,
                capture,
            }),
            _ => Err(FieldError::new(
                "workflowId",
                "WORKFLOW_INVALID",
                "workflowId must be one of 100, 101, 102, 200, 201, 202",
            )),
        }
    }

    pub fn id(self) -> u16 {
        let verification = match self.verification {
            Verification::IdOnly => 100,
            Verification::IdAndIdentity => 200,
        };
        let capture = match self.capture {
            CaptureMethod::CameraOrUpload => 0,
            CaptureMethod::CameraOnly => 1,
            CaptureMethod::UploadOnly => 2,
        };
        verification + capture
    }

    /// Whether the scan takes a selfie and may issue a facemap.
    pub fn includes_identity(self) -> bool {
        self.verification == Verification::IdAndIdentity
    }

    /// Whether a document side may be given as a file rather than a camera
    /// capture.
    pub fn allows_upload(self) -> bool {
        self.capture != CaptureMethod::CameraOnly
    }

    /// Whether the camera may be used.
    pub fn allows_camera(self) -> bool {
        self.capture != CaptureMethod::UploadOnly
    }
}

impl Default for Workflow {
    /// ID and identity, camera or upload (200): what a facemap needs.
    fn default() -> Self {
        Self {
            verification: Verification::IdAndIdentity,
            capture: CaptureMethod::CameraOrUpload,
        }
    }
}

/// `presets[]`: the country and document type preselected for the user.
/// The guide allows one such preset, with `index` 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Preset {
    pub country: Country,
    pub document_type: DocumentType,
}

impl Preset {
    /// Parses the `n`-th entry of `presets` (0-based, for the error's
    /// pointer); every field is checked, all errors returned at once.
    pub fn parse(
        n: usize,
        index: Option<i64>,
        country: Option<&str>,
        document_type: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let field = |name: &str| format!("presets[{n}].{name}");
        let mut errors = Vec::new();
        match index {
            Some(1) => {}
            Some(_) => errors.push(FieldError::new(
                &field("index"),
                "PRESET_INDEX_INVALID",
                "presets[].index must be 1",
            )),
            None => errors.push(FieldError::required(&field("index"))),
        }
        let country = match country {
            Some(raw) => Country::parse(raw, &field("country"))
                .map_err(|e| errors.push(e))
                .ok(),
            None => {
                errors.push(FieldError::required(&field("country")));
                None
            }
        };
        let document_type = match document_type {
            Some(raw) => DocumentType::parse(raw, &field("type"))
                .map_err(|e| errors.push(e))
                .ok(),
            None => {
                errors.push(FieldError::required(&field("type")));
                None
            }
        };
        match (country, document_type) {
            (Some(country), Some(document_type)) if errors.is_empty() => Ok(Self {
                country,
                document_type,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn document_acceptance_lists_parse_trim_dedupe_and_refuse_unknown_items() {
        let types = DocumentAcceptance::parse_types(" PASSPORT , ID_CARD,PASSPORT,", "t").unwrap();
        assert_eq!(types, vec![DocumentType::Passport, DocumentType::IdCard]);
        assert_eq!(DocumentAcceptance::parse_types("", "t").unwrap(), vec![]);
        assert!(DocumentAcceptance::parse_types("PASSPORT,VISA", "t").is_err());
        let countries = DocumentAcceptance::parse_countries("AUT,XKX", "c").unwrap();
        assert_eq!(countries.len(), 2);
        assert!(DocumentAcceptance::parse_countries("AUT,UTO", "c").is_err());
        assert!(DocumentAcceptance::parse_countries("aut", "c").is_err());
        let acceptance = DocumentAcceptance {
            document_types: types,
            countries,
            accept_expired: false,
        };
        assert_eq!(acceptance.types_text(), "PASSPORT,ID_CARD");
        assert_eq!(acceptance.countries_text(), "AUT,XKX");
    }

    proptest::proptest! {
        #[test]
        fn document_acceptance_text_round_trips_and_any_input_parses_or_is_refused(
            raw in "[A-Z_, ]{0,40}",
            picks in proptest::collection::vec(0usize..3, 0..5),
        ) {
            let _ = DocumentAcceptance::parse_types(&raw, "t");
            let _ = DocumentAcceptance::parse_countries(&raw, "c");
            let mut acceptance = DocumentAcceptance::default();
            for i in picks {
                if !acceptance.document_types.contains(&DocumentType::ALL[i]) {
                    acceptance.document_types.push(DocumentType::ALL[i]);
                }
            }
            let parsed = DocumentAcceptance::parse_types(&acceptance.types_text(), "t").unwrap();
            proptest::prop_assert_eq!(parsed, acceptance.document_types);
        }
    }

    #[test]
    fn the_country_table_is_sorted_unique_and_three_capitals_each() {
        assert!(ISO_3166_ALPHA3.windows(2).all(|w| w[0] < w[1]));
        assert!(ISO_3166_ALPHA3
            .iter()
            .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase())));
    }

    #[test]
    fn every_country_has_its_alpha2_code_and_kosovo_is_listed_last() {
        assert!(ISO_3166_ALPHA2
            .iter()
            .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())));
        let unique: std::collections::BTreeSet<&str> = ISO_3166_ALPHA2.iter().copied().collect();
        assert_eq!(unique.len(), ISO_3166_ALPHA2.len());
        for (alpha3, alpha2) in [
            ("AUT", "AT"),
            ("CHE", "CH"),
            ("DEU", "DE"),
            ("GBR", "GB"),
            ("USA", "US"),
            ("ZWE", "ZW"),
            ("XKX", "XK"),
        ] {
            assert_eq!(Country::parse(alpha3, "c").unwrap().alpha2(), alpha2);
        }
        let all: Vec<Country> = Country::all().collect();
        assert_eq!(all.len(), 250);
        assert_eq!(all.last().unwrap().as_str(), "XKX");
    }

    #[test]
    fn countries_are_iso_alpha3_or_kosovo() {
        for ok in ["AUT", "CHE", "USA", "XKX", "DEU"] {
            assert_eq!(Country::parse(ok, "c").unwrap().as_str(), ok);
        }
        for bad in ["aut", "AT", "AUTT", "UTO", "XXX", "D", "", "ÄUT"] {
            let e = Country::parse(bad, "presets[0].country").unwrap_err();
            assert_eq!(
                (e.code, e.field.as_str()),
                ("COUNTRY_INVALID", "presets[0].country")
            );
        }
    }

    #[test]
    fn workflows_are_the_guides_six() {
        for id in Workflow::IDS {
            assert_eq!(Workflow::parse(i64::from(id)).unwrap().id(), id);
        }
        let w = Workflow::parse(201).unwrap();
        assert!(w.includes_identity() && w.allows_camera() && !w.allows_upload());
        let w = Workflow::parse(102).unwrap();
        assert!(!w.includes_identity() && !w.allows_camera() && w.allows_upload());
        assert_eq!(Workflow::default().id(), 200);
        for bad in [0, 1, 99, 103, 110, 203, 300, -100, -200, i64::MAX, i64::MIN] {
            assert_eq!(
                Workflow::parse(bad).unwrap_err().code,
                "WORKFLOW_INVALID",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_preset_names_index_1_a_country_and_a_document_type() {
        let p = Preset::parse(0, Some(1), Some("AUT"), Some("PASSPORT")).unwrap();
        assert_eq!(
            (p.country.as_str(), p.document_type),
            ("AUT", DocumentType::Passport)
        );
        let errors = Preset::parse(2, Some(2), Some("Austria"), None).unwrap_err();
        let found: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            found,
            [
                ("presets[2].index", "PRESET_INDEX_INVALID"),
                ("presets[2].country", "COUNTRY_INVALID"),
                ("presets[2].type", "FIELD_REQUIRED"),
            ]
        );
        assert!(DocumentType::IdCard.has_back() && !DocumentType::Passport.has_back());
    }

    proptest! {
        #[test]
        fn workflow_parsing_accepts_exactly_the_listed_ids(id in any::<i64>()) {
            let listed = Workflow::IDS.iter().any(|&w| i64::from(w) == id);
            prop_assert_eq!(Workflow::parse(id).is_ok(), listed);
        }

        #[test]
        fn country_parsing_never_panics_and_accepts_only_listed_codes(raw in "\\PC{0,5}") {
            if let Ok(c) = Country::parse(&raw, "c") {
                prop_assert_eq!(c.as_str(), raw.as_str());
                prop_assert!(raw == "XKX" || ISO_3166_ALPHA3.contains(&raw.as_str()));
            }
        }
    }
}
