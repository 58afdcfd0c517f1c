//! The machine-readable zone (ICAO Doc 9303) of an identity document, read
//! from OCR text: where the zone is among the lines, what each cell may hold
//! ([`MrzFormat::cell`], which the OCR uses to decode), which check digit
//! covers which cells, the repair of cells the OCR was unsure of, and the
//! typed fields with their evidence. The arithmetic of the parse itself comes
//! from the `mrz` crate (`parse_td1`/`parse_td2`/`parse_td3`, which repair
//! nothing); the repair policy is this module's.
//!
//! **Repair policy.** A cell is changed only when
//!
//! 1. the OCR marked it uncertain: it offered alternatives for the cell
//!    ([`OcrLine::alternatives`]), or what it read there is a character the
//!    cell cannot hold (outside the MRZ alphabet, or a letter in a date) —
//!    a plausible character the OCR read without doubt is never changed;
//! 2. the cell is covered by a check digit (the document number, the dates,
//!    TD3's personal number, and through the composite digit TD1/TD2's
//!    optional data): a name, a country code, the sex or the document code
//!    is never changed, nothing could confirm it; and
//! 3. exactly one choice among the OCR's alternatives (every character the
//!    cell may hold, for a character it cannot hold) makes the check digits
//!    covering it verify, the document number stays left-justified, and a
//!    date stays a calendar date. A field that verifies as read is kept as
//!    read, and at most one character the OCR did read is changed per check
//!    digit (see `solutions`: more doubts tried together would let a wrong
//!    reading verify by chance).
//!
//! So a zone that was printed valid and read with one character changed is
//! never accepted as different data: a wrong character read with confidence
//! stays, and its check digit fails; a doubtful one has the original among
//! its choices, which verifies, so a unique choice is the original.
//!
//! **Outcomes** ([`MrzRead`]): `Valid` (every check digit verified, with the
//! repairs that were needed), `Specimen` (ICAO's fictitious state `UTO`, or a
//! specimen holder name: see [`SpecimenSign`]; it takes precedence over a
//! failed check digit, because published specimens often carry inconsistent
//! zones and "sample document" is the truer verdict), `CheckFailed` (every
//! cell read as an admissible character, but a check digit does not hold:
//! `108 MRZ_CHECK_FAILED`), and `NotReadable` (no zone, a cell that
//! neither the OCR nor a check digit could settle, or a zone that breaks a
//! rule no check digit covers: a country code no state has, a names field
//! without its fillers, a date that is no date).
//!
//! Every type here holds personal data: never log one.

use std::fmt;
use std::ops::Range;

use chrono::{Datelike, NaiveDate};

use crate::scan::{Country, DocumentType};
use crate::verification::RejectReason;

/// The three layouts of ICAO Doc 9303 that identity documents use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MrzFormat {
    /// ID cards: three lines of 30 characters (Part 5).
    Td1,
    /// Official travel documents and older ID cards: two lines of 36 (Part 6).
    Td2,
    /// Passports: two lines of 44 (Part 4).
    Td3,
}

impl MrzFormat {
    pub const ALL: [Self; 3] = [Self::Td3, Self::Td2, Self::Td1];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Td1 => "TD1",
            Self::Td2 => "TD2",
            Self::Td3 => "TD3",
        }
    }

    /// How many lines the zone has.
    pub fn lines(self) -> usize {
        match self {
            Self::Td1 => 3,
            Self::Td2 | Self::Td3 => 2,
        }
    }

    /// Characters per line.
    pub fn width(self) -> usize {
        match self {
            Self::Td1 => 30,
            Self::Td2 => 36,
            Self::Td3 => 44,
        }
    }

    /// The line holding the names (which no check digit covers).
    fn name_line(self) -> usize {
        match self {
            Self::Td1 => 2,
            Self::Td2 | Self::Td3 => 0,
        }
    }

    /// What cell `position` of line `line` may hold. Out-of-range cells are
    /// [`CellClass::Alphanumeric`].
    pub fn cell(self, line: usize, position: usize) -> CellClass {
        use CellClass::*;
        let p = position;
        match (self, line) {
            (Self::Td3 | Self::Td2, 0) => match p {
                0 => DocumentCode,
                _ => Letter,
            },
            (Self::Td3, 1) => match p {
                0..=8 => Alphanumeric,
                9 => CheckDigit,
                10..=12 => Letter,
                13..=18 => Date,
                19 => CheckDigit,
                20 => Sex,
                21..=26 => Date,
                27 => CheckDigit,
                28..=41 => Alphanumeric,
                42 => CheckDigit,
                _ => CompositeDigit,
            },
            (Self::Td2, 1) => match p {
                0..=8 => Alphanumeric,
                9 => CheckDigit,
                10..=12 => Letter,
                13..=18 => Date,
                19 => CheckDigit,
                20 => Sex,
                21..=26 => Date,
                27 => CheckDigit,
                28..=34 => Alphanumeric,
                _ => CompositeDigit,
            },
            (Self::Td1, 0) => match p {
                0 => DocumentCode,
                1..=4 => Letter,
                5..=13 => Alphanumeric,
                14 => CheckDigit,
                _ => Alphanumeric,
            },
            (Self::Td1, 1) => match p {
                0..=5 => Date,
                6 => CheckDigit,
                7 => Sex,
                8..=13 => Date,
                14 => CheckDigit,
                15..=17 => Letter,
                18..=28 => Alphanumeric,
                _ => CompositeDigit,
            },
            (Self::Td1, 2) => Letter,
            _ => Alphanumeric,
        }
    }

    /// The check digits this format prints: the cells each covers and the
    /// cell holding it (Doc 9303 Part 3 §4.9 arithmetic).
    fn checks(self) -> Vec<CheckLayout> {
        use CheckField::*;
        let own = |field, line, range: Range<usize>, digit| CheckLayout {
            field,
            segments: vec![(line, range)],
            digit: (line, digit),
        };
        match self {
            Self::Td3 => vec![
                own(DocumentNumber, 1, 0..9, 9),
                own(DateOfBirth, 1, 13..19, 19),
                own(DateOfExpiry, 1, 21..27, 27),
                own(PersonalNumber, 1, 28..42, 42),
                CheckLayout {
                    field: Composite,
                    segments: vec![(1, 0..10), (1, 13..20), (1, 21..43)],
                    digit: (1, 43),
                },
            ],
            Self::Td2 => vec![
                own(DocumentNumber, 1, 0..9, 9),
                own(DateOfBirth, 1, 13..19, 19),
                own(DateOfExpiry, 1, 21..27, 27),
                CheckLayout {
                    field: Composite,
                    segments: vec![(1, 0..10), (1, 13..20), (1, 21..35)],
                    digit: (1, 35),
                },
            ],
            Self::Td1 => vec![
                own(DocumentNumber, 0, 5..14, 14),
                own(DateOfBirth, 1, 0..6, 6),
                own(DateOfExpiry, 1, 8..14, 14),
                CheckLayout {
                    field: Composite,
                    segments: vec![(0, 5..30), (1, 0..7), (1, 8..15), (1, 18..29)],
                    digit: (1, 29),
                },
            ],
        }
    }
}

impl fmt::Display for MrzFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one cell of a zone may hold: the grammar the OCR decodes with, and
/// what makes a read character "one the cell cannot hold".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellClass {
    /// The first cell: `P` (TD3), `I`, `A` or `C` (TD1, TD2).
    DocumentCode,
    /// Names, country codes, the document code's second cell: `A`–`Z`, `<`.
    Letter,
    /// A date cell: `0`–`9`, or `<` for an unknown part of a date of birth.
    Date,
    /// A field's own check digit: `0`–`9`, or `<` (an empty personal
    /// number, a document number that overflows).
    CheckDigit,
    /// The composite check digit: `0`–`9`.
    CompositeDigit,
    /// Document numbers and optional data: `0`–`9`, `A`–`Z`, `<`.
    Alphanumeric,
    /// `M`, `F`, `<`, or `X` (which some states print for unspecified).
    Sex,
}

impl CellClass {
    /// Whether the cell may hold `c`.
    pub fn admits(self, c: char) -> bool {
        match self {
            Self::DocumentCode => matches!(c, 'P' | 'I' | 'A' | 'C'),
            Self::Letter => c.is_ascii_uppercase() || c == '<',
            Self::Date | Self::CheckDigit => c.is_ascii_digit() || c == '<',
            Self::CompositeDigit => c.is_ascii_digit(),
            Self::Alphanumeric => c.is_ascii_digit() || c.is_ascii_uppercase() || c == '<',
            Self::Sex => matches!(c, 'M' | 'F' | '<' | 'X'),
        }
    }

    /// Every character the cell may hold, in alphabet order.
    pub fn characters(self) -> impl Iterator<Item = char> {
        MRZ_ALPHABET.chars().filter(move |&c| self.admits(c))
    }
}

/// The 37 characters of a zone.
pub const MRZ_ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<";

/// One line of OCR output: its text and, per character, the other
/// characters the OCR found plausible there (most plausible first).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OcrLine {
    pub text: String,
    /// `alternatives[i]` belongs to the `i`-th character of `text`; missing
    /// entries mean "no alternative".
    pub alternatives: Vec<Vec<char>>,
}

impl OcrLine {
    /// A line read without doubt anywhere.
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            alternatives: Vec::new(),
        }
    }
}

/// A check digit of the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckField {
    DocumentNumber,
    DateOfBirth,
    DateOfExpiry,
    /// TD3's personal number (optional data).
    PersonalNumber,
    /// The composite digit over the document number, dates and optional data.
    Composite,
}

impl CheckField {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DocumentNumber => "documentNumber",
            Self::DateOfBirth => "dateOfBirth",
            Self::DateOfExpiry => "dateOfExpiry",
            Self::PersonalNumber => "personalNumber",
            Self::Composite => "composite",
        }
    }
}

/// One check digit's verdict on the final read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckEvidence {
    pub field: CheckField,
    pub verified: bool,
}

/// A cell changed from what the OCR read, and the check digits that
/// confirmed the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// Zero-based line of the zone.
    pub line: usize,
    /// Zero-based cell of the line.
    pub position: usize,
    /// What the OCR read (`None`: nothing it read there was a zone character).
    pub read: Option<char>,
    pub repaired: char,
    pub confirmed_by: Vec<CheckField>,
}

/// The holder's sex as the zone states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
    /// `<` (or `X`): not stated.
    Unspecified,
}

impl Sex {
    /// The guides' `gender` value (`M`, `F`), none when unspecified.
    pub fn gender(self) -> Option<&'static str> {
        match self {
            Self::Male => Some("M"),
            Self::Female => Some("F"),
            Self::Unspecified => None,
        }
    }
}

/// A date field: the calendar date when its six cells name one, and the
/// cells as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneDate {
    pub date: Option<NaiveDate>,
    /// The six cells, `YYMMDD` (fillers for an unknown part).
    pub raw: String,
}

/// A machine-readable zone, read and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineReadableZone {
    pub format: MrzFormat,
    /// The document code as printed, trailing filler trimmed (`P`, `PD`, `I`,
    /// `ID`, `AC`…).
    pub document_code: String,
    /// The guides' `idType`: `P` is a passport, `I`, `A` and `C` ID cards.
    pub document_type: DocumentType,
    /// The issuing state's ICAO code as printed (`D`, `GBR`, `UTO`…).
    pub issuing_state: String,
    /// `issuing_state` as the guides' `idCountry` (see [`icao_to_country`]);
    /// none for organisations, stateless codes and specimens.
    pub issuing_country: Option<Country>,
    pub surname: String,
    /// Given names, separated by single spaces.
    pub given_names: String,
    /// The complete document number (reassembled when it overflows its
    /// nine cells).
    pub document_number: String,
    /// The nationality's ICAO code as printed.
    pub nationality_code: String,
    pub nationality: Option<Country>,
    pub date_of_birth: ZoneDate,
    pub sex: Sex,
    pub date_of_expiry: ZoneDate,
    /// TD3's personal number (the guides' `personalNumber`).
    pub personal_number: Option<String>,
    /// TD1's line-1 and TD2's optional data (the guides' `optionalData1`).
    pub optional_data_1: Option<String>,
    /// TD1's line-2 optional data (the guides' `optionalData2`).
    pub optional_data_2: Option<String>,
    /// Every check digit the format prints, with its verdict.
    pub checks: Vec<CheckEvidence>,
    /// The cells changed from the OCR's reading.
    pub repairs: Vec<Repair>,
    /// The zone's lines after repair.
    pub lines: Vec<String>,
}

impl MachineReadableZone {
    /// Whether every check digit verified.
    pub fn checks_verified(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.verified)
    }

    /// The check digits that do not hold.
    pub fn failed_checks(&self) -> Vec<CheckField> {
        self.checks
            .iter()
            .filter(|c| !c.verified)
            .map(|c| c.field)
            .collect()
    }

    /// Whether the document expired before `today` (an expiry that names
    /// no date counts as expired: nothing shows it is still valid).
    pub fn expired(&self, today: NaiveDate) -> bool {
        self.date_of_expiry.date.is_none_or(|d| d < today)
    }

    /// Why the zone looks like a specimen, if it does.
    pub fn specimen_sign(&self) -> Option<SpecimenSign> {
        if self.issuing_state == SPECIMEN_STATE {
            return Some(SpecimenSign::IssuingState);
        }
        if self.nationality_code == SPECIMEN_STATE {
            return Some(SpecimenSign::Nationality);
        }
        let words = || {
            self.surname
                .split(' ')
                .chain(self.given_names.split(' '))
                .filter(|w| !w.is_empty())
        };
        if words().any(|w| SPECIMEN_WORDS.contains(&w)) {
            return Some(SpecimenSign::Name);
        }
        if SPECIMEN_HOLDERS
            .iter()
            .any(|&(surname, given)| self.surname == surname && self.given_names == given)
        {
            return Some(SpecimenSign::Name);
        }
        None
    }
}

/// ICAO's fictitious "Utopia", the state of Doc 9303's specimens.
pub const SPECIMEN_STATE: &str = "UTO";

/// Name words that only specimens carry.
const SPECIMEN_WORDS: [&str; 3] = ["SPECIMEN", "SPECIMENS", "MUSTER"];

/// Holder names of well-known specimens: Doc 9303's own and Germany's
/// (real people may be called Mustermann; with these given names they are
/// the specimen).
const SPECIMEN_HOLDERS: [(&str, &str); 4] = [
    ("ERIKSSON", "ANNA MARIA"),
    ("MUSTERMANN", "ERIKA"),
    ("MUSTERMANN", "MAX"),
    ("MUSTERFRAU", "ERIKA"),
];

/// Why a zone is taken for a specimen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecimenSign {
    /// The issuing state is [`SPECIMEN_STATE`].
    IssuingState,
    /// The nationality is [`SPECIMEN_STATE`].
    Nationality,
    /// The holder's name is a specimen name (`SPECIMEN`, ICAO's ERIKSSON ANNA
    /// MARIA, Germany's MUSTERMANN ERIKA…).
    Name,
}

/// Why no zone could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReadable {
    /// No group of lines has the shape of a zone.
    NoZone,
    /// Cells that neither the OCR nor a check digit could settle (zero-based
    /// line and position).
    UnsettledCells(Vec<(usize, usize)>),
    /// The zone breaks a rule of its format (its document number starts with
    /// a filler…).
    Malformed(String),
}

/// The verdict on the zone of a document side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MrzRead {
    /// Every check digit verified.
    Valid(MachineReadableZone),
    /// A specimen, whatever its check digits say.
    Specimen {
        zone: MachineReadableZone,
        sign: SpecimenSign,
    },
    /// Read, but a check digit does not hold ([`MachineReadableZone::failed_checks`]).
    CheckFailed(MachineReadableZone),
    NotReadable(NotReadable),
}

impl MrzRead {
    /// The zone, when one was read.
    pub fn zone(&self) -> Option<&MachineReadableZone> {
        match self {
            Self::Valid(zone) | Self::CheckFailed(zone) | Self::Specimen { zone, .. } => Some(zone),
            Self::NotReadable(_) => None,
        }
    }

    /// The reject reason this verdict is by itself: `202 SAMPLE_DOCUMENT`
    /// for a specimen, `108 MRZ_CHECK_FAILED` for a failed check digit.
    /// None for a valid zone, and for an unreadable one (whether that
    /// rejects depends on what else the document shows).
    pub fn reject_reason(&self) -> Option<RejectReason> {
        match self {
            Self::Specimen { .. } => Some(RejectReason::SampleDocument),
            Self::CheckFailed(_) => Some(RejectReason::MrzCheckFailed),
            Self::Valid(_) | Self::NotReadable(_) => None,
        }
    }
}

/// The guides' `idCountry` (ISO 3166-1 alpha-3, or `XKX`) for an ICAO code:
/// the same letters for states, `D` for Germany, the five British codes
/// (`GBD`, `GBN`, `GBO`, `GBP`, `GBS`) for the United Kingdom, `RKS` for
/// Kosovo. None for organisations (`UNO`, `EUE`, `XOM`…), stateless and
/// refugee codes (`XXA`…`XXX`) and `UTO`.
pub fn icao_to_country(code: &str) -> Option<Country> {
    let code = code.trim_end_matches('<');
    let iso = match code {
        "D" => "DEU",
        "GBD" | "GBN" | "GBO" | "GBP" | "GBS" => "GBR",
        "RKS" => Country::KOSOVO,
        other => other,
    };
    Country::parse(iso, "country").ok()
}

/// Where the check digits sit.
struct CheckLayout {
    field: CheckField,
    segments: Vec<(usize, Range<usize>)>,
    digit: (usize, usize),
}

impl CheckLayout {
    fn cells(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.segments
            .iter()
            .flat_map(|(line, range)| range.clone().map(move |p| (*line, p)))
    }

    /// The field's own cells and its digit, in order.
    fn all_cells(&self) -> Vec<(usize, usize)> {
        let mut cells: Vec<_> = self.cells().collect();
        cells.push(self.digit);
        cells
    }
}

/// ICAO value of a zone character (`<` is 0).
fn value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        'A'..='Z' => Some(c as u32 - 'A' as u32 + 10),
        '<' => Some(0),
        _ => None,
    }
}

/// Whether `digit` is the 7-3-1 check digit of `cells`.
fn verifies(cells: impl Iterator<Item = char>, digit: char) -> bool {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let mut sum = 0;
    for (i, c) in cells.enumerate() {
        match value(c) {
            Some(v) => sum += v * WEIGHTS[i % 3],
            None => return false,
        }
    }
    (digit.is_ascii_digit() || digit == '<') && value(digit) == Some(sum % 10)
}

/// The most combinations one check's repair search tries.
const MAX_COMBINATIONS: usize = 4096;

/// One cell under repair: what was read (if admissible) and what else it
/// may be.
#[derive(Debug, Clone)]
struct Cell {
    read: Option<char>,
    options: Vec<char>,
}

impl Cell {
    fn settled(&self) -> Option<char> {
        match (self.read, self.options.is_empty()) {
            (Some(c), true) => Some(c),
            _ => None,
        }
    }
}

/// Reads the zone in OCR lines given top to bottom (the zone is looked for
/// from the bottom up). `today` dates the two-digit birth years (a year
/// after this one is of the last century).
pub fn read_zone(lines: &[OcrLine], today: NaiveDate) -> MrzRead {
    let normalized: Vec<Vec<(char, Vec<char>)>> = lines.iter().map(normalize).collect();
    let Some((format, zone_lines)) = locate(&normalized) else {
        return MrzRead::NotReadable(NotReadable::NoZone);
    };
    let mut grid = cells(format, &zone_lines);
    let mut repairs = Vec::new();
    settle(format, &mut grid, &mut repairs);

    let unsettled: Vec<(usize, usize)> = grid
        .iter()
        .enumerate()
        .flat_map(|(l, line)| {
            line.iter()
                .enumerate()
                .filter(|(_, c)| c.read.is_none())
                .map(move |(p, _)| (l, p))
        })
        .collect();
    if !unsettled.is_empty() {
        return MrzRead::NotReadable(NotReadable::UnsettledCells(unsettled));
    }
    let text: Vec<String> = grid
        .iter()
        .map(|line| line.iter().filter_map(|c| c.read).collect())
        .collect();
    if !names_shaped(format, &text) {
        return MrzRead::NotReadable(NotReadable::Malformed(
            "the names field has no filler where the format puts one".into(),
        ));
    }
    let zone = match parse(format, &text, today, repairs) {
        Ok(zone) => zone,
        Err(why) => return MrzRead::NotReadable(NotReadable::Malformed(why)),
    };
    for (what, code) in [
        ("issuing state", &zone.issuing_state),
        ("nationality", &zone.nationality_code),
    ] {
        // No check digit covers them: a code no state or organisation has
        // is a misread (or a forgery), not data.
        if mrz::country_name(code).is_none() {
            return MrzRead::NotReadable(NotReadable::Malformed(format!(
                "the {what} is no ICAO code"
            )));
        }
    }
    if zone.checks_verified() && !shapes_ok(format, &text) {
        // Only a substitution the check digits are blind to (a filler for a
        // zero, say) verifies a field of the wrong shape.
        return MrzRead::NotReadable(NotReadable::Malformed(
            "a field verified by its check digit does not have its shape".into(),
        ));
    }
    if let Some(sign) = zone.specimen_sign() {
        MrzRead::Specimen { zone, sign }
    } else if zone.checks_verified() {
        MrzRead::Valid(zone)
    } else {
        MrzRead::CheckFailed(zone)
    }
}

/// Whether the names field (which no check digit covers) has the shape
/// every names field has: the two-filler separator between the primary
/// and the secondary identifier, or trailing fillers after a primary
/// identifier alone. A reading without either is a misread (typically
/// fillers read as letters in a blurred line), not a name.
fn names_shaped(format: MrzFormat, lines: &[String]) -> bool {
    let names = match format {
        MrzFormat::Td1 => lines.get(2).map(String::as_str),
        MrzFormat::Td2 | MrzFormat::Td3 => lines.first().and_then(|l| l.get(5..)),
    };
    names.is_some_and(|n| n.contains("<<") || n.ends_with('<'))
}

/// Upper-cases, drops whitespace, keeps each character's alternatives.
fn normalize(line: &OcrLine) -> Vec<(char, Vec<char>)> {
    line.text
        .chars()
        .enumerate()
        .filter(|(_, c)| !c.is_whitespace())
        .map(|(i, c)| {
            let alternatives = line
                .alternatives
                .get(i)
                .map(|alts| alts.iter().map(char::to_ascii_uppercase).collect())
                .unwrap_or_default();
            (c.to_ascii_uppercase(), alternatives)
        })
        .collect()
}

/// The bottom-most group of consecutive lines that has a zone's shape:
/// the format's number of lines, each of its width, the first cell a
/// document code of the format. A names line may differ in width by up to
/// three fillers at its end (its trailing filler run is resized, which
/// changes no name).
#[allow(clippy::type_complexity)]
fn locate(lines: &[Vec<(char, Vec<char>)>]) -> Option<(MrzFormat, Vec<Vec<(char, Vec<char>)>>)> {
    for end in (1..=lines.len()).rev() {
        for format in MrzFormat::ALL {
            let n = format.lines();
            if end < n {
                continue;
            }
            let window = &lines[end - n..end];
            let fitted: Option<Vec<_>> = window
                .iter()
                .enumerate()
                .map(|(i, line)| fit(format, i, line))
                .collect();
            let Some(fitted) = fitted else { continue };
            let code = fitted[0][0].0;
            let code_ok = match format {
                MrzFormat::Td3 => code == 'P',
                MrzFormat::Td1 | MrzFormat::Td2 => matches!(code, 'I' | 'A' | 'C'),
            };
            if code_ok {
                return Some((format, fitted));
            }
        }
    }
    None
}

/// `line` at the format's width, or none.
fn fit(
    format: MrzFormat,
    index: usize,
    line: &[(char, Vec<char>)],
) -> Option<Vec<(char, Vec<char>)>> {
    let width = format.width();
    if line.len() == width {
        return Some(line.to_vec());
    }
    if index != format.name_line() || line.len().abs_diff(width) > 3 {
        return None;
    }
    let trailing = line.iter().rev().take_while(|(c, _)| *c == '<').count();
    if line.len() > width {
        // Only fillers are dropped, and at least one stays.
        let excess = line.len() - width;
        (trailing > excess).then(|| line[..width].to_vec())
    } else if trailing > 0 {
        let mut out = line.to_vec();
        out.resize(width, ('<', Vec::new()));
        Some(out)
    } else {
        None
    }
}

/// Each read character as a [`Cell`]: read when the cell may hold it, with
/// the OCR's admissible alternatives as options; a character the cell
/// cannot hold is unread, with the alternatives (or, without them, every
/// character the cell may hold) as options.
fn cells(format: MrzFormat, lines: &[Vec<(char, Vec<char>)>]) -> Vec<Vec<Cell>> {
    lines
        .iter()
        .enumerate()
        .map(|(l, line)| {
            line.iter()
                .enumerate()
                .map(|(p, (c, alts))| {
                    let class = format.cell(l, p);
                    let read = class.admits(*c).then_some(*c);
                    let mut options: Vec<char> = Vec::new();
                    for &a in alts {
                        if class.admits(a) && Some(a) != read && !options.contains(&a) {
                            options.push(a);
                        }
                    }
                    if read.is_none() && options.is_empty() {
                        // Every character the cell may hold, except a
                        // filler in a date: an unknown part of a date is a
                        // printed pair of fillers, never a guess.
                        options = class
                            .characters()
                            .filter(|&c| !(class == CellClass::Date && c == '<'))
                            .collect();
                    }
                    Cell { read, options }
                })
                .collect()
        })
        .collect()
}

/// Settles the uncertain cells that check digits can settle (the module's
/// repair policy), recording each change.
fn settle(format: MrzFormat, grid: &mut [Vec<Cell>], repairs: &mut Vec<Repair>) {
    let checks = format.checks();
    let (own, composite): (Vec<&CheckLayout>, Vec<&CheckLayout>) = checks
        .iter()
        .partition(|c| c.field != CheckField::Composite);
    let composite = composite.first().copied();

    // Fields with their own digit; a field with several verifying readings
    // is kept for the composite to decide.
    let mut ambiguous: Vec<(&CheckLayout, Vec<Vec<char>>)> = Vec::new();
    for check in own {
        let cells = check.all_cells();
        if let Some(read) = as_read(grid, &cells) {
            if field_ok(check, &read) {
                // Verifies as read: kept, whatever the doubts.
                settle_cells(grid, &cells);
                continue;
            }
        }
        let found = solutions(grid, &cells, |values| field_ok(check, values));
        match found.len() {
            0 => {}
            1 => apply(grid, &cells, &found[0], &[check.field], repairs),
            _ => ambiguous.push((check, found)),
        }
    }

    let resolved = match composite {
        Some(composite) => settle_composite(&checks, composite, grid, &ambiguous, repairs),
        None => false,
    };
    if !resolved {
        // A doubt that several readings resolve is not settled: the cells
        // where they differ stay unread.
        for (check, found) in &ambiguous {
            for (i, &(l, p)) in check.all_cells().iter().enumerate() {
                if found.iter().any(|f| f[i] != found[0][i]) {
                    grid[l][p].read = None;
                }
            }
        }
    }
}

/// The composite stage of [`settle`]: picks, among the readings of the
/// ambiguous fields and of the doubtful cells only the composite covers,
/// the one combination that verifies the composite, if there is exactly
/// one. Whether the ambiguous fields were settled.
fn settle_composite(
    checks: &[CheckLayout],
    composite: &CheckLayout,
    grid: &mut [Vec<Cell>],
    ambiguous: &[(&CheckLayout, Vec<Vec<char>>)],
    repairs: &mut Vec<Repair>,
) -> bool {
    // The composite's own cells: those no field's own digit covers, and the
    // composite digit.
    let owned: Vec<(usize, usize)> = checks
        .iter()
        .filter(|c| c.field != CheckField::Composite)
        .flat_map(|c| c.all_cells())
        .collect();
    let free: Vec<(usize, usize)> = composite
        .cells()
        .chain(std::iter::once(composite.digit))
        .filter(|cell| !owned.contains(cell))
        .collect();
    let free_open = free.iter().any(|&(l, p)| grid[l][p].settled().is_none());
    if ambiguous.is_empty() && !free_open {
        return true;
    }
    if ambiguous.is_empty() {
        let covered: Option<Vec<char>> = composite.cells().map(|(l, p)| grid[l][p].read).collect();
        let digit = grid[composite.digit.0][composite.digit.1].read;
        if let (Some(covered), Some(digit)) = (covered, digit) {
            if verifies(covered.into_iter(), digit) {
                // Verifies as read: kept, whatever the doubts.
                settle_cells(grid, &free);
                return true;
            }
        }
    }
    let free_choices = solutions(grid, &free, |_| true);
    let mut combos: Vec<Vec<&Vec<char>>> = vec![Vec::new()];
    for (_, found) in ambiguous {
        combos = combos
            .into_iter()
            .flat_map(|prefix| {
                found.iter().map(move |f| {
                    let mut next = prefix.clone();
                    next.push(f);
                    next
                })
            })
            .collect();
        if combos.len() > MAX_COMBINATIONS {
            return false;
        }
    }
    if combos.len().saturating_mul(free_choices.len()) > MAX_COMBINATIONS {
        return false;
    }
    let mut winners: Vec<(Vec<&Vec<char>>, &Vec<char>)> = Vec::new();
    for combo in &combos {
        for free_values in &free_choices {
            let mut value_of = |cell: (usize, usize)| -> Option<char> {
                if let Some(i) = free.iter().position(|&c| c == cell) {
                    return Some(free_values[i]);
                }
                for ((check, _), values) in ambiguous.iter().zip(combo) {
                    if let Some(i) = check.all_cells().iter().position(|&c| c == cell) {
                        return Some(values[i]);
                    }
                }
                grid[cell.0][cell.1].read
            };
            let covered: Option<Vec<char>> = composite.cells().map(&mut value_of).collect();
            let digit = value_of(composite.digit);
            // At most one read character changed in all (see `solutions`).
            let mut changed = free
                .iter()
                .zip(free_values.iter())
                .filter(|(&(l, p), &v)| grid[l][p].read.is_some_and(|r| r != v))
                .count();
            for ((check, _), values) in ambiguous.iter().zip(combo) {
                changed += check
                    .all_cells()
                    .iter()
                    .zip(values.iter())
                    .filter(|(&(l, p), &v)| grid[l][p].read.is_some_and(|r| r != v))
                    .count();
            }
            if let (Some(covered), Some(digit)) = (covered, digit) {
                if changed <= 1 && verifies(covered.into_iter(), digit) {
                    winners.push((combo.clone(), free_values));
                }
            }
        }
    }
    if let [(combo, free_values)] = winners.as_slice() {
        for ((check, _), values) in ambiguous.iter().zip(combo) {
            apply(
                grid,
                &check.all_cells(),
                values,
                &[check.field, CheckField::Composite],
                repairs,
            );
        }
        apply(grid, &free, free_values, &[CheckField::Composite], repairs);
        return true;
    }
    // Doubtful cells only the composite covers stay unread.
    for &(l, p) in &free {
        if !grid[l][p].options.is_empty() {
            grid[l][p].read = None;
        }
    }
    ambiguous.is_empty()
}

/// Every assignment of `cells` (each read character, or one of its
/// options; an unread cell must take an option) that changes at most one
/// read character and that `accept` takes, as distinct value lists. A field
/// with no uncertain cell has exactly its reading as the one candidate;
/// nothing at all past [`MAX_COMBINATIONS`].
///
/// One change at most: each doubted cell allowed to change is another way
/// for a wrong reading to verify by chance (a check digit agrees with one
/// value in ten), and two changes can cancel each other (`O` for `0` at
/// weights 7 and 3). Unread cells are not limited this way: the original
/// is among their options, and leaving them unread settles nothing.
fn solutions(
    grid: &[Vec<Cell>],
    cells: &[(usize, usize)],
    accept: impl Fn(&[char]) -> bool,
) -> Vec<Vec<char>> {
    let choices: Vec<Vec<char>> = cells
        .iter()
        .map(|&(l, p)| {
            let cell = &grid[l][p];
            cell.read
                .into_iter()
                .chain(cell.options.iter().copied())
                .collect()
        })
        .collect();
    let total = choices
        .iter()
        .try_fold(1usize, |acc, c| acc.checked_mul(c.len()));
    match total {
        Some(n) if n > 0 && n <= MAX_COMBINATIONS => {}
        _ => return Vec::new(),
    }
    let mut found: Vec<Vec<char>> = Vec::new();
    let mut index = vec![0usize; choices.len()];
    loop {
        let values: Vec<char> = index.iter().zip(&choices).map(|(&i, c)| c[i]).collect();
        let changed = cells
            .iter()
            .zip(&values)
            .filter(|(&(l, p), &v)| grid[l][p].read.is_some_and(|r| r != v))
            .count();
        if changed <= 1 && accept(&values) && !found.contains(&values) {
            found.push(values);
        }
        // Next combination (odometer).
        let mut k = 0;
        loop {
            if k == index.len() {
                return found;
            }
            index[k] += 1;
            if index[k] < choices[k].len() {
                break;
            }
            index[k] = 0;
            k += 1;
        }
    }
}

/// Whether `values` (a field's cells, then its digit) verify and keep the
/// field's shape: a document number starts with a character and is
/// left-justified, a date is a calendar date or (a date of birth) partly
/// unknown.
fn field_ok(check: &CheckLayout, values: &[char]) -> bool {
    let Some((&digit, field)) = values.split_last() else {
        return false;
    };
    if !verifies(field.iter().copied(), digit) {
        return false;
    }
    match check.field {
        CheckField::DocumentNumber | CheckField::PersonalNumber => {
            let text: String = field.iter().collect();
            let body = text.trim_end_matches('<');
            !body.contains('<') && (check.field == CheckField::PersonalNumber || !body.is_empty())
        }
        CheckField::DateOfBirth => plausible_date(field) || partly_unknown_date(field),
        CheckField::DateOfExpiry => plausible_date(field),
        CheckField::Composite => true,
    }
}

/// A date of birth whose unknown year, month or day is a pair of fillers
/// (Doc 9303 Part 3 §4.8); the known pairs are digits.
fn partly_unknown_date(cells: &[char]) -> bool {
    cells.len() == 6
        && cells.contains(&'<')
        && cells
            .chunks(2)
            .all(|pair| pair.iter().all(|&c| c == '<') || pair.iter().all(char::is_ascii_digit))
}

/// Whether every field with its own check digit has its shape (see
/// [`field_ok`]), check digits aside.
fn shapes_ok(format: MrzFormat, lines: &[String]) -> bool {
    format
        .checks()
        .iter()
        .filter(|c| c.field != CheckField::Composite)
        .all(|check| {
            let values: Option<Vec<char>> = check
                .cells()
                .map(|(l, p)| lines.get(l).and_then(|line| line.chars().nth(p)))
                .collect();
            let Some(values) = values else { return false };
            // Check with the digit that verifies these values, so that
            // only the shape is judged.
            (0..10)
                .filter_map(|d| char::from_digit(d, 10))
                .any(|digit| {
                    let mut with_digit = values.clone();
                    with_digit.push(digit);
                    field_ok(check, &with_digit)
                })
        })
}

/// Six digits naming a calendar day in some century.
fn plausible_date(cells: &[char]) -> bool {
    let digits: Option<Vec<u32>> = cells.iter().map(|c| c.to_digit(10)).collect();
    let Some(d) = digits.filter(|d| d.len() == 6) else {
        return false;
    };
    let (yy, mm, dd) = (d[0] * 10 + d[1], d[2] * 10 + d[3], d[4] * 10 + d[5]);
    [1900, 2000]
        .iter()
        .any(|century| NaiveDate::from_ymd_opt((century + yy) as i32, mm, dd).is_some())
}

/// The cells' read characters, when every one was read.
fn as_read(grid: &[Vec<Cell>], cells: &[(usize, usize)]) -> Option<Vec<char>> {
    cells.iter().map(|&(l, p)| grid[l][p].read).collect()
}

/// Drops the doubts of read cells: they are settled as read.
fn settle_cells(grid: &mut [Vec<Cell>], cells: &[(usize, usize)]) {
    for &(l, p) in cells {
        if grid[l][p].read.is_some() {
            grid[l][p].options.clear();
        }
    }
}

/// Writes `values` into `cells`, recording the changed ones.
fn apply(
    grid: &mut [Vec<Cell>],
    cells: &[(usize, usize)],
    values: &[char],
    confirmed_by: &[CheckField],
    repairs: &mut Vec<Repair>,
) {
    for (&(l, p), &v) in cells.iter().zip(values) {
        let cell = &mut grid[l][p];
        if cell.read != Some(v) {
            repairs.push(Repair {
                line: l,
                position: p,
                read: cell.read,
                repaired: v,
                confirmed_by: confirmed_by.to_vec(),
            });
        }
        *cell = Cell {
            read: Some(v),
            options: Vec::new(),
        };
    }
}

/// The settled zone's fields, through the `mrz` crate's parser.
fn parse(
    format: MrzFormat,
    lines: &[String],
    today: NaiveDate,
    repairs: Vec<Repair>,
) -> Result<MachineReadableZone, String> {
    let pivot = u32::try_from(today.year().rem_euclid(100)).unwrap_or(0);
    let opts = mrz::ParseOptions::default().with_pivot_yy(pivot);
    let line = |i: usize| lines.get(i).map(String::as_str).unwrap_or("");
    let data = match format {
        MrzFormat::Td1 => mrz::parse_td1_with(line(0), line(1), line(2), &opts),
        MrzFormat::Td2 => mrz::parse_td2_with(line(0), line(1), &opts),
        MrzFormat::Td3 => mrz::parse_td3_with(line(0), line(1), &opts),
    }
    .map_err(|e| e.to_string())?;

    let document_type = match data.document_type.chars().next() {
        Some('P') => DocumentType::Passport,
        _ => DocumentType::IdCard,
    };
    let c = &data.checks;
    let checks = [
        (CheckField::DocumentNumber, c.document_number),
        (CheckField::DateOfBirth, c.date_of_birth),
        (CheckField::DateOfExpiry, c.date_of_expiry),
        (CheckField::PersonalNumber, c.personal_number),
        (CheckField::Composite, c.composite),
    ]
    .into_iter()
    .filter_map(|(field, verified)| verified.map(|verified| CheckEvidence { field, verified }))
    .collect();
    let date = |d: mrz::MrzDate, raw: &str| ZoneDate {
        date: d
            .calendar()
            .and_then(|d| NaiveDate::from_ymd_opt(d.year, d.month, d.day)),
        raw: raw.to_owned(),
    };
    let (dob_raw, expiry_raw) = match format {
        MrzFormat::Td1 => (&line(1)[0..6], &line(1)[8..14]),
        MrzFormat::Td2 | MrzFormat::Td3 => (&line(1)[13..19], &line(1)[21..27]),
    };
    let (personal_number, optional_data_1) = match format {
        MrzFormat::Td3 => (data.optional_data_1.clone(), None),
        MrzFormat::Td1 | MrzFormat::Td2 => (None, data.optional_data_1.clone()),
    };
    Ok(MachineReadableZone {
        format,
        document_code: data.document_type.clone(),
        document_type,
        issuing_country: icao_to_country(&data.issuing_country),
        issuing_state: data.issuing_country.clone(),
        surname: data.surname.clone(),
        given_names: data.given_names.clone(),
        document_number: data.full_document_number().to_owned(),
        nationality: icao_to_country(&data.nationality),
        nationality_code: data.nationality.clone(),
        date_of_birth: date(data.date_of_birth, dob_raw),
        sex: match data.sex {
            mrz::Sex::Male => Sex::Male,
            mrz::Sex::Female => Sex::Female,
            _ => Sex::Unspecified,
        },
        date_of_expiry: date(data.date_of_expiry, expiry_raw),
        personal_number,
        optional_data_1,
        optional_data_2: data.optional_data_2.clone(),
        checks,
        repairs,
        lines: lines.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()
    }

    fn plain(lines: &[&str]) -> Vec<OcrLine> {
        lines.iter().map(|l| OcrLine::plain(*l)).collect()
    }

    // ICAO Doc 9303 examples: Part 4 (TD3), Part 6 (TD2), Part 5 (TD1).
    const TD3: [&str; 2] = [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ];
    const TD2: [&str; 2] = [
        "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
        "D231458907UTO7408122F1204159<<<<<<<6",
    ];
    const TD1: [&str; 3] = [
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    ];

    /// The ICAO examples with a real state instead of Utopia and another
    /// holder, so that they are not specimens.
    fn real(lines: &[&str]) -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                l.replace("UTO", "NLD")
                    .replace("ERIKSSON<<ANNA<MARIA", "JANSEN<<WILLEKE<LISE")
            })
            .collect()
    }

    fn read(lines: &[String]) -> MrzRead {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        read_zone(&plain(&lines), today())
    }

    #[test]
    fn the_icao_examples_are_specimens_with_every_check_verified() {
        for lines in [&TD3[..], &TD2[..], &TD1[..]] {
            let MrzRead::Specimen { zone, sign } = read_zone(&plain(lines), today()) else {
                panic!("{lines:?} not a specimen");
            };
            assert_eq!(sign, SpecimenSign::IssuingState);
            assert!(zone.checks_verified(), "{:?}", zone.checks);
            assert_eq!(zone.surname, "ERIKSSON");
            assert_eq!(zone.given_names, "ANNA MARIA");
            assert_eq!(zone.issuing_country, None);
            assert!(zone.repairs.is_empty());
        }
    }

    #[test]
    fn a_td3_zone_gives_every_field() {
        let MrzRead::Valid(zone) = read(&real(&TD3)) else {
            panic!("not valid")
        };
        assert_eq!(zone.format, MrzFormat::Td3);
        assert_eq!(zone.document_type, DocumentType::Passport);
        assert_eq!(zone.document_code, "P");
        assert_eq!(zone.issuing_country.unwrap().as_str(), "NLD");
        assert_eq!(zone.surname, "JANSEN");
        assert_eq!(zone.given_names, "WILLEKE LISE");
        assert_eq!(zone.document_number, "L898902C3");
        assert_eq!(zone.nationality.unwrap().as_str(), "NLD");
        assert_eq!(
            zone.date_of_birth.date,
            NaiveDate::from_ymd_opt(1974, 8, 12)
        );
        assert_eq!(zone.sex, Sex::Female);
        assert_eq!(
            zone.date_of_expiry.date,
            NaiveDate::from_ymd_opt(2012, 4, 15)
        );
        assert_eq!(zone.personal_number.as_deref(), Some("ZE184226B"));
        assert_eq!(zone.optional_data_1, None);
        assert_eq!(zone.checks.len(), 5);
        assert!(zone.expired(today()));
    }

    #[test]
    fn td1_and_td2_zones_give_their_optional_data() {
        let mut td1 = real(&TD1);
        td1[0] = "I<NLDD231458907ABC<<<<<<<<<<<<".into();
        // Recompute the composite for the new optional data.
        let composite = composite_digit(MrzFormat::Td1, &td1);
        td1[1].replace_range(29..30, &composite.to_string());
        let MrzRead::Valid(zone) = read(&td1) else {
            panic!("not valid")
        };
        assert_eq!(zone.format, MrzFormat::Td1);
        assert_eq!(zone.document_type, DocumentType::IdCard);
        assert_eq!(zone.optional_data_1.as_deref(), Some("ABC"));
        assert_eq!(zone.document_number, "D23145890");
        assert_eq!(zone.checks.len(), 4);

        let MrzRead::Valid(zone) = read(&real(&TD2)) else {
            panic!("not valid")
        };
        assert_eq!(zone.format, MrzFormat::Td2);
        assert_eq!(zone.personal_number, None);
    }

    fn composite_digit(format: MrzFormat, lines: &[String]) -> u32 {
        let layout = format
            .checks()
            .into_iter()
            .find(|c| c.field == CheckField::Composite)
            .unwrap();
        let cells: Vec<char> = layout
            .cells()
            .map(|(l, p)| lines[l].as_bytes()[p] as char)
            .collect();
        (0..10)
            .find(|&d| verifies(cells.iter().copied(), char::from_digit(d, 10).unwrap()))
            .unwrap()
    }

    #[test]
    fn icao_codes_map_to_the_guides_countries() {
        for (icao, iso) in [
            ("D", Some("DEU")),
            ("D<<", Some("DEU")),
            ("GBD", Some("GBR")),
            ("GBN", Some("GBR")),
            ("GBR", Some("GBR")),
            ("RKS", Some("XKX")),
            ("NLD", Some("NLD")),
            ("UTO", None),
            ("UNO", None),
            ("XXA", None),
            ("EUE", None),
        ] {
            assert_eq!(
                icao_to_country(icao)
                    .map(|c| c.as_str().to_owned())
                    .as_deref(),
                iso,
                "{icao}"
            );
        }
    }

    #[test]
    fn the_zone_is_found_at_the_bottom_of_noisy_lines() {
        let mut lines = vec![
            OcrLine::plain("PASSPORT  PASSEPORT"),
            OcrLine::plain("P<NLDSOMETHING"),
        ];
        for l in real(&TD3) {
            lines.push(OcrLine::plain(format!(" {} ", l.to_lowercase())));
        }
        let MrzRead::Valid(zone) = read_zone(&lines, today()) else {
            panic!("not found")
        };
        assert_eq!(zone.document_number, "L898902C3");
    }

    #[test]
    fn a_names_line_is_fitted_by_its_trailing_fillers_only() {
        let mut lines = real(&TD3);
        lines[0].truncate(42);
        let MrzRead::Valid(zone) = read(&lines) else {
            panic!("short names line not fitted")
        };
        assert_eq!(zone.lines[0].len(), 44);
        assert!(zone.repairs.is_empty());
        let mut lines = real(&TD3);
        lines[0].push_str("<<");
        assert!(matches!(read(&lines), MrzRead::Valid(_)));
        // A data line of the wrong width is no zone.
        let mut lines = real(&TD3);
        lines[1].pop();
        assert_eq!(read(&lines), MrzRead::NotReadable(NotReadable::NoZone));
    }

    #[test]
    fn a_tampered_check_digit_fails_and_names_the_check() {
        let mut lines = real(&TD3);
        // Expiry 120415 -> 130415.
        lines[1].replace_range(22..23, "3");
        let MrzRead::CheckFailed(zone) = read(&lines) else {
            panic!("tampering accepted")
        };
        assert_eq!(
            zone.failed_checks(),
            vec![CheckField::DateOfExpiry, CheckField::Composite]
        );
        assert_eq!(
            read_zone(&plain(&["x"]), today()).reject_reason(),
            None,
            "nothing read rejects nothing by itself"
        );
        assert_eq!(
            MrzRead::CheckFailed(zone).reject_reason(),
            Some(RejectReason::MrzCheckFailed)
        );
    }

    #[test]
    fn a_letter_in_a_date_is_repaired_when_its_check_digit_says_so() {
        let mut lines = real(&TD3);
        lines[1].replace_range(15..16, "O"); // 740812 -> 74O812
        let MrzRead::Valid(zone) = read(&lines) else {
            panic!("not repaired")
        };
        assert_eq!(zone.date_of_birth.raw, "740812");
        assert_eq!(
            zone.repairs,
            vec![Repair {
                line: 1,
                position: 15,
                read: None,
                repaired: '0',
                confirmed_by: vec![CheckField::DateOfBirth],
            }]
        );
    }

    #[test]
    fn an_ocr_doubt_is_repaired_only_with_an_offered_alternative_that_verifies() {
        let lines = real(&TD3);
        // Document number L898902C3 read as L8989O2C3, the OCR unsure at
        // the O and offering 0 and D.
        let mut l2 = OcrLine::plain(lines[1].replacen("8902", "89O2", 1));
        l2.alternatives = vec![Vec::new(); 44];
        l2.alternatives[5] = vec!['0', 'D'];
        let read_lines = vec![OcrLine::plain(lines[0].clone()), l2.clone()];
        let MrzRead::Valid(zone) = read_zone(&read_lines, today()) else {
            panic!("not repaired")
        };
        assert_eq!(zone.document_number, "L898902C3");
        assert_eq!(zone.repairs.len(), 1);
        assert_eq!(zone.repairs[0].read, Some('O'));

        // Without the doubt, the same reading is a failed check.
        let read_lines = vec![OcrLine::plain(lines[0].clone()), OcrLine::plain(l2.text)];
        assert!(matches!(
            read_zone(&read_lines, today()),
            MrzRead::CheckFailed(_)
        ));
    }

    #[test]
    fn doubts_that_verify_only_together_are_not_a_repair() {
        // Document number HODZDOC9I read as HODZD0C9I (the O at 5 read as a
        // 0 without doubt), the OCR doubting three other cells: changing
        // two of them (D->0 at 4, I->1 at 8) happens to verify, which is
        // not evidence of anything.
        let mut l2 = OcrLine::plain("HODZD0C9I1GBR6807050F3402199B6CN6Z43<<<<<<82");
        l2.alternatives = vec![Vec::new(); 44];
        l2.alternatives[1] = vec!['0'];
        l2.alternatives[4] = vec!['0'];
        l2.alternatives[8] = vec!['1'];
        let l1 = OcrLine::plain("P<ITAUBCRDLSBQ<<BCNN<RNB<<<<<<<<<<<<<<<<<<<<");
        let MrzRead::CheckFailed(zone) = read_zone(&[l1, l2], today()) else {
            panic!("a two-change coincidence was accepted")
        };
        assert_eq!(zone.document_number, "HODZD0C9I");
        assert!(zone.repairs.is_empty());
    }

    #[test]
    fn a_field_that_verifies_as_read_is_kept_despite_doubts() {
        let mut td1 = real(&TD1);
        td1[1].replace_range(18..22, "1234");
        let composite = composite_digit(MrzFormat::Td1, &td1);
        td1[1].replace_range(29..30, &composite.to_string());
        let mut ocr: Vec<OcrLine> = td1.iter().map(|l| OcrLine::plain(l.clone())).collect();
        // The OCR doubts a filler of the optional data (a 0 would verify as
        // well: both are worth 0) and a digit of the birth date.
        ocr[1].alternatives = vec![Vec::new(); 30];
        ocr[1].alternatives[25] = vec!['0'];
        ocr[1].alternatives[2] = vec!['6'];
        let MrzRead::Valid(zone) = read_zone(&ocr, today()) else {
            panic!("a verifying reading was not kept")
        };
        assert_eq!(zone.lines, td1);
        assert!(zone.repairs.is_empty());
    }

    #[test]
    fn a_country_code_no_state_has_is_not_read() {
        let mut lines = real(&TD3);
        lines[0].replace_range(2..5, "<NL");
        assert!(matches!(
            read(&lines),
            MrzRead::NotReadable(NotReadable::Malformed(_))
        ));
        let mut lines = real(&TD3);
        lines[1].replace_range(10..13, "NLQ");
        assert!(matches!(
            read(&lines),
            MrzRead::NotReadable(NotReadable::Malformed(_))
        ));
    }

    #[test]
    fn a_names_field_without_fillers_is_not_read() {
        let mut lines = real(&TD3);
        lines[0] = lines[0].replace('<', "K").replacen('K', "<", 1);
        assert!(matches!(
            read(&lines),
            MrzRead::NotReadable(NotReadable::Malformed(_))
        ));
    }

    #[test]
    fn a_doubt_two_readings_verify_is_left_to_the_composite_or_unsettled() {
        let lines = real(&TD3);
        // An unreadable cell in the document number: four characters verify
        // its digit (one residue class) and the composite, which weighs the
        // number alike on TD3, cannot separate them.
        let l2 = lines[1].replacen("8902", "89?2", 1);
        assert_eq!(
            read_zone(&plain(&[&lines[0], &l2]), today()),
            MrzRead::NotReadable(NotReadable::UnsettledCells(vec![(1, 5)]))
        );
    }

    #[test]
    fn a_doubt_outside_the_check_digits_is_never_repaired() {
        let lines = real(&TD3);
        let l1 = lines[0].replacen("JANSEN", "JAN5EN", 1);
        assert!(matches!(
            read_zone(&plain(&[&l1, &lines[1]]), today()),
            MrzRead::NotReadable(NotReadable::UnsettledCells(_))
        ));
    }

    #[test]
    fn specimen_names_and_nationality_mark_a_specimen() {
        let mut lines = real(&TD3);
        lines[1].replace_range(10..13, "UTO");
        let r = read(&lines);
        assert!(
            matches!(
                r,
                MrzRead::Specimen {
                    sign: SpecimenSign::Nationality,
                    ..
                }
            ),
            "{r:?}"
        );
        assert_eq!(r.reject_reason(), Some(RejectReason::SampleDocument));

        let lines: Vec<String> = real(&TD3)
            .iter()
            .map(|l| l.replace("JANSEN<<WILLEKE<LISE", "SPECIMEN<<JOHN<<<<<<"))
            .collect();
        assert!(matches!(
            read(&lines),
            MrzRead::Specimen {
                sign: SpecimenSign::Name,
                ..
            }
        ));
    }

    #[test]
    fn the_cell_grammar_matches_the_examples() {
        for (format, lines) in [
            (MrzFormat::Td3, &TD3[..]),
            (MrzFormat::Td2, &TD2[..]),
            (MrzFormat::Td1, &TD1[..]),
        ] {
            assert_eq!(lines.len(), format.lines());
            for (l, line) in lines.iter().enumerate() {
                assert_eq!(line.len(), format.width());
                for (p, c) in line.chars().enumerate() {
                    assert!(format.cell(l, p).admits(c), "{format} {l}:{p} {c}");
                }
            }
        }
    }

    #[test]
    fn a_substitution_in_a_residue_class_is_invisible() {
        // 0 and A are worth 0 and 10: every check digit weighs them alike.
        // This is the arithmetic's limit, not a repair: nothing was doubted.
        let mut lines = real(&TD3);
        lines[1].replace_range(5..6, "A"); // L898902C3 -> L8989A2C3
        let MrzRead::Valid(zone) = read(&lines) else {
            panic!("expected the blind substitution to verify")
        };
        assert_eq!(zone.document_number, "L8989A2C3");
        // In a date the same blindness (a filler for a zero) breaks the
        // date's shape, so it is not taken for data.
        let mut lines = real(&TD3);
        lines[1].replace_range(23..24, "<"); // expiry 120415 -> 12<415
        assert!(matches!(
            read(&lines),
            MrzRead::NotReadable(NotReadable::Malformed(_))
        ));
    }

    // --- properties --------------------------------------------------------

    fn zone_strategy() -> impl Strategy<Value = (MrzFormat, Vec<String>)> {
        let name = "[A-Z]{1,12}";
        let number = "[A-Z0-9][A-Z0-9]{0,8}";
        let optional = proptest::option::of("[A-Z0-9]{1,9}");
        let date = (1950i32..2040, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| mrz::MrzDate::Calendar(mrz::Date::new(y, m, d)));
        let sex = prop_oneof![
            Just(mrz::Sex::Male),
            Just(mrz::Sex::Female),
            Just(mrz::Sex::Unspecified)
        ];
        let state = prop_oneof![
            Just("DEU"),
            Just("NLD"),
            Just("D"),
            Just("FRA"),
            Just("GBN")
        ];
        (
            0..3usize,
            (name, name, number, optional),
            (date.clone(), date, sex, state.clone(), state),
            "[0-9A-Z]{0,5}",
        )
            .prop_map(
                |(kind, (surname, given, number, optional), (dob, expiry, sex, iss, nat), opt2)| {
                    let optional2 = (!opt2.is_empty()).then_some(opt2);
                    let (format, text) = match kind {
                        0 => (
                            MrzFormat::Td3,
                            mrz::format_td3(&mrz::Td3Fields {
                                issuing_country: iss.into(),
                                document_number: number,
                                surname,
                                given_names: given,
                                nationality: nat.into(),
                                date_of_birth: dob,
                                sex,
                                date_of_expiry: expiry,
                                personal_number: optional,
                                ..Default::default()
                            }),
                        ),
                        1 => (
                            MrzFormat::Td2,
                            mrz::format_td2(&mrz::Td2Fields {
                                issuing_country: iss.into(),
                                document_number: number,
                                surname,
                                given_names: given,
                                nationality: nat.into(),
                                date_of_birth: dob,
                                sex,
                                date_of_expiry: expiry,
                                optional_data: optional,
                                ..Default::default()
                            }),
                        ),
                        _ => (
                            MrzFormat::Td1,
                            mrz::format_td1(&mrz::Td1Fields {
                                issuing_country: iss.into(),
                                document_number: number,
                                optional_data_1: optional,
                                surname,
                                given_names: given,
                                nationality: nat.into(),
                                date_of_birth: dob,
                                sex,
                                date_of_expiry: expiry,
                                optional_data_2: optional2,
                                ..Default::default()
                            }),
                        ),
                    };
                    (format, text.lines().map(str::to_owned).collect())
                },
            )
    }

    /// The cells some check digit covers.
    fn covered(format: MrzFormat) -> Vec<(usize, usize)> {
        let mut cells: Vec<_> = format
            .checks()
            .iter()
            .flat_map(CheckLayout::all_cells)
            .collect();
        cells.sort_unstable();
        cells.dedup();
        cells
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, max_global_rejects: 1_000_000, ..ProptestConfig::default() })]

        #[test]
        fn reading_never_panics_on_arbitrary_lines(
            lines in proptest::collection::vec(
                ("\\PC{0,50}", proptest::collection::vec(proptest::collection::vec(any::<char>(), 0..4), 0..50)),
                0..6,
            )
        ) {
            let lines: Vec<OcrLine> = lines
                .into_iter()
                .map(|(text, alternatives)| OcrLine { text, alternatives })
                .collect();
            let _ = read_zone(&lines, today());
        }

        #[test]
        fn reading_never_panics_on_zone_shaped_lines(
            lines in proptest::collection::vec("[A-Z0-9<?]{28,46}", 1..4),
            doubt in proptest::collection::vec(proptest::collection::vec("[A-Z0-9<]", 0..3), 0..46),
        ) {
            let mut lines: Vec<OcrLine> = lines.into_iter().map(OcrLine::plain).collect();
            if let Some(first) = lines.first_mut() {
                first.text.replace_range(0..1, "P");
                first.alternatives = doubt
                    .iter()
                    .map(|alts| alts.iter().filter_map(|s| s.chars().next()).collect())
                    .collect();
            }
            let _ = read_zone(&lines, today());
        }

        #[test]
        fn every_emitted_zone_reads_back_as_emitted((format, lines) in zone_strategy()) {
            match read(&lines) {
                MrzRead::Valid(zone) => {
                    prop_assert_eq!(zone.format, format);
                    prop_assert_eq!(&zone.lines, &lines);
                    prop_assert!(zone.repairs.is_empty());
                }
                other => prop_assert!(false, "{:?} for {:?}", other, lines),
            }
        }

        #[test]
        fn one_changed_covered_cell_is_never_accepted_as_other_data(
            (format, lines) in zone_strategy(),
            pick in any::<prop::sample::Index>(),
            replacement in prop_oneof![
                "[A-Z0-9<]".prop_map(|s| s.chars().next().unwrap_or('<')),
                any::<char>().prop_filter("no whitespace", |c| !c.is_whitespace()),
            ],
        ) {
            let cells = covered(format);
            let (l, p) = cells[pick.index(cells.len())];
            let mut chars: Vec<char> = lines[l].chars().collect();
            // A character of the same value modulo 10 is one no check digit
            // can see (the `mrz` crate's `Blindspot`), see
            // `a_substitution_in_a_residue_class_is_invisible`.
            // (The reader upper-cases what it reads.)
            let read_as = replacement.to_ascii_uppercase();
            prop_assume!(value(chars[p]).map(|v| v % 10) != value(read_as).map(|v| v % 10));
            chars[p] = replacement;
            let mut changed = lines.clone();
            changed[l] = chars.into_iter().collect();
            match read(&changed) {
                MrzRead::Valid(zone) => prop_assert_eq!(&zone.lines, &lines),
                MrzRead::Specimen { zone, .. } => prop_assert!(false, "specimen {:?}", zone.lines),
                MrzRead::CheckFailed(_) | MrzRead::NotReadable(_) => {}
            }
        }

        #[test]
        fn an_offered_alternative_restores_a_confused_covered_cell(
            (format, lines) in zone_strategy(),
            pick in any::<prop::sample::Index>(),
        ) {
            let cells = covered(format);
            let (l, p) = cells[pick.index(cells.len())];
            let original = lines[l].as_bytes()[p] as char;
            // An OCR confusion the check digits can see (another value
            // modulo 10).
            let confusion = match original {
                '0' => 'O', 'O' => '0', '1' => 'I', 'I' => '1', '8' => 'B', 'B' => '8',
                '5' => 'S', 'S' => '5', '2' => 'Z', 'Z' => '2', '<' => 'C', '3' => '8', _ => '3',
            };
            prop_assume!(value(confusion).map(|v| v % 10) != value(original).map(|v| v % 10));
            let mut ocr: Vec<OcrLine> = lines.iter().map(|l| OcrLine::plain(l.clone())).collect();
            ocr[l].text.replace_range(p..p + 1, &confusion.to_string());
            ocr[l].alternatives = vec![Vec::new(); lines[l].len()];
            ocr[l].alternatives[p] = vec![original];
            match read_zone(&ocr, today()) {
                MrzRead::Valid(zone) => prop_assert_eq!(&zone.lines, &lines),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
