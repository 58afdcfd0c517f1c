//! The machine-readable zone: emitted from the record by the `mrz` crate
//! (every check digit computed by it), optionally tampered (one data digit
//! changed after emission, its check digit left as it was), and read back
//! with the same crate to state what a faithful reader must find.

use chrono::Datelike;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::record::{DocumentKind, IdentityRecord};
use crate::DocgenError;

/// The MRZ lines of `record` (TD3: two of 44, TD1: three of 30).
pub fn emit(record: &IdentityRecord) -> Vec<String> {
    let date =
        |d: chrono::NaiveDate| mrz::MrzDate::Calendar(mrz::Date::new(d.year(), d.month(), d.day()));
    let zone = match record.kind {
        DocumentKind::Td3 => mrz::format_td3(&mrz::Td3Fields {
            document_code: record.document_code.clone(),
            issuing_country: record.issuing_state.clone(),
            document_number: record.document_number.clone(),
            surname: record.surname.clone(),
            given_names: record.given_names.clone(),
            nationality: record.nationality.clone(),
            date_of_birth: date(record.date_of_birth),
            sex: record.sex.to_mrz(),
            date_of_expiry: date(record.date_of_expiry),
            personal_number: record.personal_number.clone(),
        }),
        DocumentKind::Td1 => mrz::format_td1(&mrz::Td1Fields {
            document_code: record.document_code.clone(),
            issuing_country: record.issuing_state.clone(),
            document_number: record.document_number.clone(),
            optional_data_1: record.personal_number.clone(),
            surname: record.surname.clone(),
            given_names: record.given_names.clone(),
            nationality: record.nationality.clone(),
            date_of_birth: date(record.date_of_birth),
            sex: record.sex.to_mrz(),
            date_of_expiry: date(record.date_of_expiry),
            optional_data_2: record.optional_data_2.clone(),
        }),
    };
    zone.lines().map(str::to_string).collect()
}

/// An MRZ field with its own check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckedField {
    DocumentNumber,
    DateOfBirth,
    DateOfExpiry,
    PersonalNumber,
}

impl CheckedField {
    /// Where the field lies: (line, first column, width), 0-based.
    pub fn span(self, kind: DocumentKind) -> Option<(usize, usize, usize)> {
        match (kind, self) {
            (DocumentKind::Td3, CheckedField::DocumentNumber) => Some((1, 0, 9)),
            (DocumentKind::Td3, CheckedField::DateOfBirth) => Some((1, 13, 6)),
            (DocumentKind::Td3, CheckedField::DateOfExpiry) => Some((1, 21, 6)),
            (DocumentKind::Td3, CheckedField::PersonalNumber) => Some((1, 28, 14)),
            (DocumentKind::Td1, CheckedField::DocumentNumber) => Some((0, 5, 9)),
            (DocumentKind::Td1, CheckedField::DateOfBirth) => Some((1, 0, 6)),
            (DocumentKind::Td1, CheckedField::DateOfExpiry) => Some((1, 8, 6)),
            (DocumentKind::Td1, CheckedField::PersonalNumber) => None,
        }
    }
}

/// One digit of a checked field changed after emission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tamper {
    pub field: CheckedField,
    /// 0-based line and column of the changed character.
    pub line: usize,
    pub column: usize,
    pub original: char,
    pub replacement: char,
    /// The check digits a faithful read finds wrong: the field's own and
    /// the composite (a changed digit always moves both: the 7-3-1 weights
    /// are prime to 10).
    pub failing_checks: Vec<String>,
}

/// Changes one digit of a checked field of `lines` (a year digit for
/// dates, so the date stays a real one) and says which.
pub(crate) fn tamper<R: Rng + ?Sized>(
    lines: &mut [String],
    kind: DocumentKind,
    rng: &mut R,
) -> Option<Tamper> {
    let mut candidates = Vec::new();
    for field in [
        CheckedField::DocumentNumber,
        CheckedField::DateOfBirth,
        CheckedField::DateOfExpiry,
        CheckedField::PersonalNumber,
    ] {
        let Some((line, start, width)) = field.span(kind) else {
            continue;
        };
        let text: Vec<char> = lines.get(line)?.chars().collect();
        let cols: Vec<usize> = match field {
            CheckedField::DateOfBirth | CheckedField::DateOfExpiry => {
                // 29 February would not survive a change of year.
                if text.get(start + 2..start + 6) == Some(&['0', '2', '2', '9']) {
                    continue;
                }
                vec![start, start + 1]
            }
            _ => (start..start + width)
                .filter(|&c| text.get(c).is_some_and(char::is_ascii_digit))
                .collect(),
        };
        candidates.extend(cols.into_iter().map(|c| (field, line, c)));
    }
    if candidates.is_empty() {
        return None;
    }
    let (field, line, column) = candidates[rng.gen_range(0..candidates.len())];
    let mut chars: Vec<char> = lines[line].chars().collect();
    let original = chars[column];
    let old = original.to_digit(10)?;
    let new = (old + rng.gen_range(1..10)) % 10;
    let replacement = char::from_digit(new, 10)?;
    chars[column] = replacement;
    lines[line] = chars.into_iter().collect();
    let field_name = match field {
        CheckedField::DocumentNumber => "document_number",
        CheckedField::DateOfBirth => "date_of_birth",
        CheckedField::DateOfExpiry => "date_of_expiry",
        CheckedField::PersonalNumber => "personal_number",
    };
    Some(Tamper {
        field,
        line,
        column,
        original,
        replacement,
        failing_checks: vec![field_name.to_string(), "composite".to_string()],
    })
}

/// What a faithful reader of the printed zone finds, as the `mrz` crate
/// parses it: fields as the MRZ holds them (transliterated, truncated) and
/// every check digit's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrzRead {
    pub document_code: String,
    pub issuing_state: String,
    /// The whole number, reassembled when it overflowed its field.
    pub document_number: String,
    pub surname: String,
    pub given_names: String,
    pub nationality: String,
    /// `YYYY-MM-DD` (the crate's century rule: birth years above its pivot
    /// are 19xx; expiry always 20xx).
    pub date_of_birth: String,
    /// `M`, `F` or `X` (the MRZ's `<`).
    pub sex: String,
    pub date_of_expiry: String,
    /// TD3 personal number; TD1 optional data on line 1.
    pub optional_data_1: Option<String>,
    /// TD1 optional data on line 2.
    pub optional_data_2: Option<String>,
    pub checks: CheckVerdicts,
    /// Every printed check digit agrees.
    pub valid: bool,
}

/// Per check digit: `true` agrees, `false` refuted, `null` not printed
/// by this format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckVerdicts {
    pub document_number: Option<bool>,
    pub date_of_birth: Option<bool>,
    pub date_of_expiry: Option<bool>,
    pub personal_number: Option<bool>,
    pub composite: Option<bool>,
}

/// Parses printed lines with the `mrz` crate.
pub fn read(lines: &[String]) -> Result<MrzRead, DocgenError> {
    let parsed = match lines {
        [l1, l2] => mrz::parse_td3(l1, l2),
        [l1, l2, l3] => mrz::parse_td1(l1, l2, l3),
        _ => {
            return Err(DocgenError::Mrz(format!(
                "{} lines is no TD1 or TD3 zone",
                lines.len()
            )))
        }
    }
    .map_err(|e| DocgenError::Mrz(format!("{e:?}")))?;
    let sex = match parsed.sex.zone_char() {
        '<' => "X".to_string(),
        c => c.to_string(),
    };
    Ok(MrzRead {
        document_code: parsed.document_type.clone(),
        issuing_state: parsed.issuing_country.clone(),
        document_number: parsed
            .document_number_full
            .clone()
            .unwrap_or_else(|| parsed.document_number.clone()),
        surname: parsed.surname.clone(),
        given_names: parsed.given_names.clone(),
        nationality: parsed.nationality.clone(),
        date_of_birth: parsed.date_of_birth.to_string(),
        sex,
        date_of_expiry: parsed.date_of_expiry.to_string(),
        optional_data_1: parsed.optional_data_1.clone(),
        optional_data_2: parsed.optional_data_2.clone(),
        checks: CheckVerdicts {
            document_number: parsed.checks.document_number,
            date_of_birth: parsed.checks.date_of_birth,
            date_of_expiry: parsed.checks.date_of_expiry,
            personal_number: parsed.checks.personal_number,
            composite: parsed.checks.composite,
        },
        valid: parsed.valid(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::record::SPECIMEN_STATE;
    use chrono::NaiveDate;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
    }

    #[test]
    fn the_td3_specimen_is_icaos_zone() {
        let mut r = IdentityRecord::specimen(DocumentKind::Td3, today());
        r.date_of_expiry = NaiveDate::from_ymd_opt(2012, 4, 15).unwrap();
        assert_eq!(
            emit(&r),
            [
                "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
            ]
        );
    }

    #[test]
    fn the_td1_specimen_is_icaos_zone() {
        let mut r = IdentityRecord::specimen(DocumentKind::Td1, today());
        r.date_of_expiry = NaiveDate::from_ymd_opt(2012, 4, 15).unwrap();
        assert_eq!(
            emit(&r),
            [
                "I<UTOD231458907<<<<<<<<<<<<<<<",
                "7408122F1204159UTO<<<<<<<<<<<6",
                "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
            ]
        );
        assert_eq!(read(&emit(&r)).unwrap().issuing_state, SPECIMEN_STATE);
    }

    /// Every emitted zone parses back valid with the record's fields.
    #[test]
    fn random_records_read_back_from_their_zone() {
        for seed in 0..400 {
            for kind in [DocumentKind::Td3, DocumentKind::Td1] {
                let r = IdentityRecord::random(kind, seed, today());
                let lines = emit(&r);
                let width = if kind == DocumentKind::Td3 { 44 } else { 30 };
                assert!(lines.iter().all(|l| l.len() == width), "{lines:?}");
                let read = read(&lines).unwrap();
                assert!(read.valid, "{lines:?}");
                assert_eq!(read.document_code, r.document_code);
                assert_eq!(read.issuing_state, r.issuing_state);
                assert_eq!(read.nationality, r.nationality);
                assert_eq!(read.document_number, r.document_number);
                assert_eq!(read.date_of_birth, r.date_of_birth.to_string());
                assert_eq!(read.date_of_expiry, r.date_of_expiry.to_string());
                assert_eq!(read.sex, r.sex.letter());
                assert_eq!(read.optional_data_1, r.personal_number);
                assert_eq!(read.optional_data_2, r.optional_data_2);
                // Names: the MRZ encoding of the record's, truncated by
                // ICAO's rule when the field is too short.
                let surname = mrz::encode_name_component(&r.surname).replace('<', " ");
                let given = mrz::encode_name_component(&r.given_names).replace('<', " ");
                let name_width = if kind == DocumentKind::Td3 { 39 } else { 30 };
                if surname.len() + 2 + given.len() <= name_width {
                    assert_eq!(read.surname, surname);
                    assert_eq!(read.given_names, given);
                } else {
                    assert!(!read.surname.is_empty());
                    assert!(surname.starts_with(read.surname.split(' ').next().unwrap()));
                }
            }
        }
    }

    #[test]
    fn a_tampered_zone_fails_exactly_the_recorded_checks() {
        for seed in 0..200 {
            for kind in [DocumentKind::Td3, DocumentKind::Td1] {
                let r = IdentityRecord::random(kind, seed, today());
                let mut lines = emit(&r);
                let clean = lines.clone();
                let mut rng = crate::stage_rng(seed, crate::Stage::Tamper);
                let t = tamper(&mut lines, kind, &mut rng).unwrap();
                let changed: Vec<_> = clean
                    .iter()
                    .zip(&lines)
                    .flat_map(|(a, b)| a.chars().zip(b.chars()).filter(|(x, y)| x != y))
                    .collect();
                assert_eq!(changed, [(t.original, t.replacement)]);
                let read = read(&lines).unwrap();
                assert!(!read.valid);
                let c = read.checks;
                let verdicts = [
                    ("document_number", c.document_number),
                    ("date_of_birth", c.date_of_birth),
                    ("date_of_expiry", c.date_of_expiry),
                    ("personal_number", c.personal_number),
                    ("composite", c.composite),
                ];
                for (name, verdict) in verdicts {
                    let should_fail = t.failing_checks.iter().any(|f| f == name);
                    if should_fail {
                        assert_eq!(verdict, Some(false), "{name} {lines:?}");
                    } else {
                        assert_ne!(verdict, Some(false), "{name} {lines:?}");
                    }
                }
            }
        }
    }
}
