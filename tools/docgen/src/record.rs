//! The identity record a document is printed from, and a seeded generator of
//! plausible records (names, real ISO 3166 alpha-3 codes, valid dates).

use chrono::{Datelike, Days, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The ICAO 9303 size of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Passport data page, 125 × 88 mm, two 44-character MRZ lines.
    Td3,
    /// Identity card, 85.6 × 54 mm, three 30-character MRZ lines on the back.
    Td1,
}

impl DocumentKind {
    /// Page size in millimetres (width, height).
    pub fn size_mm(self) -> (f64, f64) {
        match self {
            DocumentKind::Td3 => (125.0, 88.0),
            DocumentKind::Td1 => (85.6, 54.0),
        }
    }

    /// The document code printed first in the MRZ.
    pub fn default_code(self) -> &'static str {
        match self {
            DocumentKind::Td3 => "P",
            DocumentKind::Td1 => "I",
        }
    }

    /// Years between issue and expiry.
    fn validity_years(self) -> u32 {
        match self {
            DocumentKind::Td3 => 10,
            DocumentKind::Td1 => 10,
        }
    }
}

/// The holder's sex as the document prints it (`X`: unspecified, `<` in the MRZ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "F")]
    Female,
    #[serde(rename = "X")]
    Unspecified,
}

impl Sex {
    /// The letter printed in the visual zone.
    pub fn letter(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
            Sex::Unspecified => "X",
        }
    }

    pub(crate) fn to_mrz(self) -> mrz::Sex {
        match self {
            Sex::Male => mrz::Sex::Male,
            Sex::Female => mrz::Sex::Female,
            Sex::Unspecified => mrz::Sex::Unspecified,
        }
    }
}

/// Everything printed on a document about its holder and itself. Names are
/// as the visual zone prints them (national characters kept); the MRZ
/// transliterates and truncates them per ICAO 9303.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRecord {
    pub kind: DocumentKind,
    /// `P` for a passport, `I` for an identity card (one or two letters).
    pub document_code: String,
    /// ICAO issuing-state code (ISO 3166-1 alpha-3, or `UTO` for specimens).
    pub issuing_state: String,
    pub surname: String,
    /// Given names separated by spaces.
    pub given_names: String,
    /// Up to 9 characters `A-Z0-9`.
    pub document_number: String,
    pub nationality: String,
    pub date_of_birth: NaiveDate,
    pub sex: Sex,
    pub date_of_issue: NaiveDate,
    pub date_of_expiry: NaiveDate,
    /// TD3: the personal-number field (14 characters); TD1: optional data
    /// on line 1 (15 characters).
    pub personal_number: Option<String>,
    /// TD1 only: optional data on line 2 (11 characters).
    pub optional_data_2: Option<String>,
}

impl IdentityRecord {
    /// A plausible record, the same for the same `seed`, `kind` and `today`:
    /// valid (not expired on `today`), holder aged 18 to 80.
    pub fn random(kind: DocumentKind, seed: u64, today: NaiveDate) -> Self {
        let mut rng = crate::stage_rng(seed, crate::Stage::Record);
        Self::random_with(&mut rng, kind, today)
    }

    /// [`IdentityRecord::random`] drawing from a caller's generator.
    pub fn random_with<R: Rng + ?Sized>(rng: &mut R, kind: DocumentKind, today: NaiveDate) -> Self {
        let nationality = pick(rng, COUNTRIES).to_string();
        let issuing_state = if rng.gen_bool(0.95) {
            nationality.clone()
        } else {
            pick(rng, COUNTRIES).to_string()
        };
        let sex = match rng.gen_range(0..100) {
            0..=46 => Sex::Male,
            47..=93 => Sex::Female,
            _ => Sex::Unspecified,
        };
        let surname = random_surname(rng);
        let given_names = random_given_names(rng, sex);

        let age_days = rng.gen_range(18 * 365 + 5..80 * 365);
        let date_of_birth = sub_days(today, age_days);
        let years = kind.validity_years();
        let issued_days_ago = rng.gen_range(0..years * 365 - 5);
        let date_of_issue = sub_days(today, issued_days_ago);
        let date_of_expiry = add_years(date_of_issue, years)
            .checked_sub_days(Days::new(1))
            .unwrap_or(date_of_issue);

        let document_number = random_document_number(rng);
        let personal_number = match kind {
            DocumentKind::Td3 => maybe_digits(rng, 0.5, 8, 11),
            DocumentKind::Td1 => maybe_digits(rng, 0.6, 9, 12),
        };
        let optional_data_2 = match kind {
            DocumentKind::Td3 => None,
            DocumentKind::Td1 => maybe_digits(rng, 0.3, 4, 8),
        };
        IdentityRecord {
            kind,
            document_code: kind.default_code().to_string(),
            issuing_state,
            surname,
            given_names,
            document_number,
            nationality,
            date_of_birth,
            sex,
            date_of_issue,
            date_of_expiry,
            personal_number,
            optional_data_2,
        }
    }

    /// ICAO 9303's specimen holder, ERIKSSON ANNA MARIA of Utopia (`UTO`),
    /// with the specimen's document number and birth date, issued three
    /// years before `today` so that only the specimen marks refuse it.
    pub fn specimen(kind: DocumentKind, today: NaiveDate) -> Self {
        let date_of_issue = sub_days(today, 3 * 365);
        let date_of_expiry = add_years(date_of_issue, kind.validity_years())
            .checked_sub_days(Days::new(1))
            .unwrap_or(date_of_issue);
        let (document_number, personal_number) = match kind {
            DocumentKind::Td3 => ("L898902C3", Some("ZE184226B".to_string())),
            DocumentKind::Td1 => ("D23145890", None),
        };
        IdentityRecord {
            kind,
            document_code: kind.default_code().to_string(),
            issuing_state: SPECIMEN_STATE.to_string(),
            surname: "ERIKSSON".to_string(),
            given_names: "ANNA MARIA".to_string(),
            document_number: document_number.to_string(),
            nationality: SPECIMEN_STATE.to_string(),
            date_of_birth: NaiveDate::from_ymd_opt(1974, 8, 12).unwrap_or(today),
            sex: Sex::Female,
            date_of_issue,
            date_of_expiry,
            personal_number,
            optional_data_2: None,
        }
    }

    /// Moves the validity window so that the document expired 1 to 900 days
    /// before `today`.
    pub(crate) fn expire<R: Rng + ?Sized>(&mut self, rng: &mut R, today: NaiveDate) {
        let expired_days_ago = rng.gen_range(1..900);
        self.date_of_expiry = sub_days(today, expired_days_ago);
        self.date_of_issue = sub_years(self.date_of_expiry, self.kind.validity_years())
            .checked_add_days(Days::new(1))
            .unwrap_or(self.date_of_expiry);
    }

    /// Whether the document is out of date on `today`.
    pub fn is_expired(&self, today: NaiveDate) -> bool {
        self.date_of_expiry < today
    }
}

/// ICAO's specimen issuing state, Utopia.
pub const SPECIMEN_STATE: &str = "UTO";

/// Real ISO 3166-1 alpha-3 codes the generator draws from (every one is in
/// the `mrz` crate's table; a test checks it).
pub const COUNTRIES: &[&str] = &[
    "AUT", "BEL", "BGR", "BRA", "CAN", "CHE", "CHL", "CHN", "COL", "CZE", "DEU", "DNK", "EGY",
    "ESP", "EST", "FIN", "FRA", "GBR", "GHA", "GRC", "HRV", "HUN", "IDN", "IND", "IRL", "ISL",
    "ISR", "ITA", "JPN", "KEN", "KOR", "LTU", "LUX", "LVA", "MAR", "MEX", "NGA", "NLD", "NOR",
    "NZL", "PER", "PHL", "POL", "PRT", "ROU", "SEN", "SRB", "SVK", "SVN", "SWE", "THA", "TUR",
    "UKR", "URY", "USA", "VNM", "ZAF",
];

const SURNAMES: &[&str] = &[
    "Müller",
    "García",
    "Novák",
    "Kowalski",
    "Rossi",
    "Dubois",
    "Jensen",
    "Nguyen",
    "Kim",
    "Okafor",
    "Mensah",
    "Silva",
    "O'Connor",
    "Papadopoulos",
    "Yılmaz",
    "Andersson",
    "Virtanen",
    "Horváth",
    "Popescu",
    "Fernández",
    "Smith",
    "Tanaka",
    "Singh",
    "Cohen",
    "Van der Berg",
    "Šimková",
    "Kovačević",
    "Zhang",
    "Haddad",
    "Walker",
    "Łukasiewicz",
    "Ó Briain",
];

/// Names long enough that the MRZ must truncate them (ICAO 9303 Part 3 §4.6).
const LONG_SURNAMES: &[&str] = &[
    "Wolfeschlegelsteinhausenbergerdorff",
    "Papadimitriou-Konstantinopoulou",
    "Vanderhoeven-Bartholomeusz",
    "Shcherbakovskaya-Rimskaya",
];

const GIVEN_FEMALE: &[&str] = &[
    "Anna",
    "Maria",
    "Sofía",
    "Chloé",
    "Ingrid",
    "Aiko",
    "Amara",
    "Zsófia",
    "Olga",
    "Fatima",
    "Leilani",
    "Émilie",
    "Katarzyna",
    "Björk",
    "Priya",
    "Grace",
    "Noa",
    "Ewa",
    "Lucía",
    "Mei",
];

const GIVEN_MALE: &[&str] = &[
    "Jan", "Luca", "José", "Mohammed", "Kwame", "Søren", "Hiroshi", "Pierre", "Dmitri", "Minh",
    "Ömer", "Liam", "Rafael", "Tomasz", "Arjun", "Chidi", "Jakub", "Henrik", "Diego", "Wei",
];

const LONG_GIVEN: &[&str] = &[
    "Maria del Carmen Guadalupe Esperanza",
    "Jean-Baptiste Emmanuel Alexandre",
    "Christopher Maximilian Bartholomew",
];

fn pick<'a, R: Rng + ?Sized>(rng: &mut R, list: &[&'a str]) -> &'a str {
    list.choose(rng).copied().unwrap_or("X")
}

fn random_surname<R: Rng + ?Sized>(rng: &mut R) -> String {
    match rng.gen_range(0..100) {
        0..=7 => pick(rng, LONG_SURNAMES).to_string(),
        8..=22 => {
            let joiner = if rng.gen_bool(0.5) { " " } else { "-" };
            let first = pick(rng, SURNAMES);
            let mut second = pick(rng, SURNAMES);
            while second == first {
                second = pick(rng, SURNAMES);
            }
            format!("{first}{joiner}{second}")
        }
        _ => pick(rng, SURNAMES).to_string(),
    }
}

fn random_given_names<R: Rng + ?Sized>(rng: &mut R, sex: Sex) -> String {
    if rng.gen_range(0..100) < 8 {
        return pick(rng, LONG_GIVEN).to_string();
    }
    let list = match sex {
        Sex::Male => GIVEN_MALE,
        Sex::Female => GIVEN_FEMALE,
        Sex::Unspecified => {
            if rng.gen_bool(0.5) {
                GIVEN_MALE
            } else {
                GIVEN_FEMALE
            }
        }
    };
    let count = match rng.gen_range(0..10) {
        0..=5 => 1,
        6..=8 => 2,
        _ => 3,
    };
    (0..count)
        .map(|_| pick(rng, list))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A letter or two, then digits and letters: always at least four digits,
/// so that a tampered-digit variant always has a digit to change.
fn random_document_number<R: Rng + ?Sized>(rng: &mut R) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    let len = if rng.gen_bool(0.8) { 9 } else { 8 };
    let mut out = String::with_capacity(len);
    let letters = rng.gen_range(1..=2);
    for _ in 0..letters {
        out.push(char::from(LETTERS[rng.gen_range(0..LETTERS.len())]));
    }
    for i in letters..len {
        if i > letters + 1 && i < len - 4 && rng.gen_bool(0.25) {
            out.push(char::from(LETTERS[rng.gen_range(0..LETTERS.len())]));
        } else {
            out.push(char::from(b'0' + rng.gen_range(0..10u8)));
        }
    }
    out
}

/// With probability `p`, a string of `min..=max` digits.
fn maybe_digits<R: Rng + ?Sized>(rng: &mut R, p: f64, min: usize, max: usize) -> Option<String> {
    if !rng.gen_bool(p) {
        return None;
    }
    let n = rng.gen_range(min..=max);
    Some(digits(rng, n))
}

fn digits<R: Rng + ?Sized>(rng: &mut R, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

fn sub_days(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_sub_days(Days::new(u64::from(days)))
        .unwrap_or(date)
}

fn add_years(date: NaiveDate, years: u32) -> NaiveDate {
    shift_years(date, i32::try_from(years).unwrap_or(0))
}

fn sub_years(date: NaiveDate, years: u32) -> NaiveDate {
    shift_years(date, -i32::try_from(years).unwrap_or(0))
}

/// The same day `years` later; 29 February becomes 28 February.
fn shift_years(date: NaiveDate, years: i32) -> NaiveDate {
    let year = date.year() + years;
    NaiveDate::from_ymd_opt(year, date.month(), date.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, date.month(), 28))
        .unwrap_or(date)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_country_is_a_real_code() {
        for code in COUNTRIES {
            assert!(mrz::country_name(code).is_some(), "{code}");
        }
    }

    #[test]
    fn random_records_are_valid_on_the_day_they_are_made() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        for seed in 0..300 {
            for kind in [DocumentKind::Td3, DocumentKind::Td1] {
                let r = IdentityRecord::random(kind, seed, today);
                assert!(!r.is_expired(today), "{r:?}");
                assert!(r.date_of_issue <= today);
                let age = today.years_since(r.date_of_birth).unwrap();
                assert!((18..=80).contains(&age), "{age}");
                assert!(
                    r.document_number
                        .chars()
                        .filter(char::is_ascii_digit)
                        .count()
                        >= 4
                );
                assert!(matches!(r.document_number.len(), 8 | 9));
            }
        }
    }

    #[test]
    fn expiring_puts_the_expiry_in_the_past() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let mut rng = crate::stage_rng(1, crate::Stage::Record);
        let mut r = IdentityRecord::random(DocumentKind::Td3, 1, today);
        r.expire(&mut rng, today);
        assert!(r.is_expired(today));
        assert!(r.date_of_issue < r.date_of_expiry);
    }
}
