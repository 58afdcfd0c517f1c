//! The facemap's secret payload: what it holds, the rules it must satisfy, and
//! its byte encoding (before sealing / after opening).

use std::fmt;

use uuid::Uuid;
use zeroize::Zeroizing;

/// Longest model id, in bytes.
pub const MAX_MODEL_ID_LEN: usize = 64;
/// Most templates one facemap may hold.
pub const MAX_TEMPLATES: usize = 4;
/// Largest template dimension.
pub const MAX_DIMENSION: usize = 1024;

/// Everything a facemap carries. `account` travels in the cleartext header; the
/// rest is encrypted.
#[derive(Clone, PartialEq)]
pub struct FacemapContents {
    /// The enrollment this face belongs to.
    pub enrollment: Uuid,
    /// The account the facemap is bound to; opening checks it before decrypting.
    pub account: Uuid,
    /// Issuer-chosen sequence number, e.g. to tell re-enrollments apart.
    pub serial: u64,
    /// When the facemap was sealed, in Unix milliseconds.
    pub issued_at_ms: i64,
    /// The model that produced the templates: 1 to 64 printable ASCII characters.
    pub model: String,
    /// 1 to 4 embeddings, each of dimension 1 to 1024, all values finite.
    pub templates: Vec<Vec<f32>>,
}

impl FacemapContents {
    /// The first template with exactly `dim` values, if any.
    pub fn template_for_dimension(&self, dim: usize) -> Option<&[f32]> {
        self.templates
            .iter()
            .find(|t| t.len() == dim)
            .map(Vec::as_slice)
    }
}

/// Shows template dimensions only: template values are biometric data and must
/// not end up in logs.
impl fmt::Debug for FacemapContents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<usize> = self.templates.iter().map(Vec::len).collect();
        f.debug_struct("FacemapContents")
            .field("enrollment", &self.enrollment)
            .field("account", &self.account)
            .field("serial", &self.serial)
            .field("issued_at_ms", &self.issued_at_ms)
            .field("model", &self.model)
            .field("template_dims", &dims)
            .finish()
    }
}

/// Why contents cannot be sealed. Messages name positions, never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The model id is empty, longer than 64 bytes or not printable ASCII.
    #[error("model id must be 1 to 64 printable ASCII characters")]
    InvalidModel,
    /// Zero or more than four templates.
    #[error("a facemap holds 1 to 4 templates, not {0}")]
    TemplateCount(usize),
    /// A template's dimension is 0 or above 1024.
    #[error("template {index} has dimension {dim}; it must be 1 to 1024")]
    InvalidDimension { index: usize, dim: usize },
    /// A template holds NaN or an infinity.
    #[error("template {index} contains a non-finite value")]
    NonFinite { index: usize },
    /// The AEAD refused to encrypt; cannot happen for payloads this small.
    #[error("facemap encryption failed")]
    Encryption,
}

/// Space (0x20) through tilde (0x7E).
fn is_valid_model(model: &str) -> bool {
    (1..=MAX_MODEL_ID_LEN).contains(&model.len())
        && model.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Checks the rules both sealing and opening enforce.
pub(crate) fn validate(contents: &FacemapContents) -> Result<(), SealError> {
    if !is_valid_model(&contents.model) {
        return Err(SealError::InvalidModel);
    }
    let count = contents.templates.len();
    if !(1..=MAX_TEMPLATES).contains(&count) {
        return Err(SealError::TemplateCount(count));
    }
    for (index, template) in contents.templates.iter().enumerate() {
        let dim = template.len();
        if !(1..=MAX_DIMENSION).contains(&dim) {
            return Err(SealError::InvalidDimension { index, dim });
        }
        if !template.iter().all(|v| v.is_finite()) {
            return Err(SealError::NonFinite { index });
        }
    }
    Ok(())
}

/// Upper bound of an encoded payload, used to size the format's length limit.
pub(crate) const MAX_PAYLOAD_LEN: usize =
    16 + 8 + 8 + 1 + MAX_MODEL_ID_LEN + 1 + MAX_TEMPLATES * (2 + 4 * MAX_DIMENSION);

/// Encodes valid contents; the buffer is wiped on drop because it holds the
/// templates in the clear.
pub(crate) fn encode(contents: &FacemapContents) -> Result<Zeroizing<Vec<u8>>, SealError> {
    validate(contents)?;
    let template_bytes: usize = contents.templates.iter().map(|t| 2 + 4 * t.len()).sum();
    let mut out = Zeroizing::new(Vec::with_capacity(
        16 + 8 + 8 + 1 + contents.model.len() + 1 + template_bytes,
    ));
    out.extend_from_slice(contents.enrollment.as_bytes());
    out.extend_from_slice(&contents.serial.to_be_bytes());
    out.extend_from_slice(&contents.issued_at_ms.to_be_bytes());
    // Lengths and counts below were bounded by `validate`, so the narrowing
    // conversions cannot fail; they are still checked rather than cast.
    out.push(u8::try_from(contents.model.len()).map_err(|_| SealError::InvalidModel)?);
    out.extend_from_slice(contents.model.as_bytes());
    out.push(
        u8::try_from(contents.templates.len())
            .map_err(|_| SealError::TemplateCount(contents.templates.len()))?,
    );
    for (index, template) in contents.templates.iter().enumerate() {
        let dim = u16::try_from(template.len()).map_err(|_| SealError::InvalidDimension {
            index,
            dim: template.len(),
        })?;
        out.extend_from_slice(&dim.to_be_bytes());
        for value in template {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    Ok(out)
}

/// Decodes a payload that was bound to `account`. `None` means it does not
/// follow the format (or breaks a rule), which for authenticated data can only
/// mean it was sealed by something other than this code.
pub(crate) fn decode(bytes: &[u8], account: Uuid) -> Option<FacemapContents> {
    let mut r = Reader(bytes);
    let enrollment = Uuid::from_bytes(r.array()?);
    let serial = u64::from_be_bytes(r.array()?);
    let issued_at_ms = i64::from_be_bytes(r.array()?);
    let [model_len] = r.array()?;
    let model = std::str::from_utf8(r.take(usize::from(model_len))?)
        .ok()?
        .to_owned();
    let [count] = r.array()?;
    // Bounded before allocating so a hostile count cannot reserve much.
    if !(1..=MAX_TEMPLATES).contains(&usize::from(count)) {
        return None;
    }
    let mut templates = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let dim = usize::from(u16::from_be_bytes(r.array()?));
        if !(1..=MAX_DIMENSION).contains(&dim) {
            return None;
        }
        let raw = r.take(dim.checked_mul(4)?)?;
        let template = raw
            .chunks_exact(4)
            .map(|c| <[u8; 4]>::try_from(c).ok().map(f32::from_le_bytes))
            .collect::<Option<Vec<f32>>>()?;
        templates.push(template);
    }
    if !r.0.is_empty() {
        return None;
    }
    let contents = FacemapContents {
        enrollment,
        account,
        serial,
        issued_at_ms,
        model,
        templates,
    };
    validate(&contents).ok()?;
    Some(contents)
}

/// A cursor that yields `None` instead of reading past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn sample() -> FacemapContents {
        FacemapContents {
            enrollment: Uuid::from_u128(1),
            account: Uuid::from_u128(2),
            serial: 3,
            issued_at_ms: -4,
            model: "arcface r100".to_owned(),
            templates: vec![vec![0.5, -1.25], vec![1.0; 512]],
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let c = sample();
        let bytes = encode(&c).unwrap();
        assert_eq!(bytes.len(), 16 + 8 + 8 + 1 + 12 + 1 + (2 + 8) + (2 + 2048));
        assert_eq!(decode(&bytes, c.account).unwrap(), c);
    }

    #[test]
    fn decode_rejects_trailing_and_short() {
        let c = sample();
        let mut bytes = encode(&c).unwrap().to_vec();
        assert!(decode(&bytes[..bytes.len() - 1], c.account).is_none());
        bytes.push(0);
        assert!(decode(&bytes, c.account).is_none());
    }

    #[test]
    fn decode_rejects_rule_breaking_payloads() {
        let c = sample();
        let good = encode(&c).unwrap().to_vec();
        let count_at = 16 + 8 + 8 + 1 + c.model.len();
        let mut zero_count = good.clone();
        zero_count[count_at] = 0;
        assert!(decode(&zero_count, c.account).is_none());
        let mut nan = good.clone();
        nan[count_at + 3..count_at + 7].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(decode(&nan, c.account).is_none());
        let mut control_char = good;
        control_char[16 + 8 + 8 + 1] = b'\n';
        assert!(decode(&control_char, c.account).is_none());
    }

    #[test]
    fn validation_rules() {
        let with = |f: fn(&mut FacemapContents)| {
            let mut c = sample();
            f(&mut c);
            validate(&c)
        };
        assert_eq!(with(|_| {}), Ok(()));
        assert_eq!(with(|c| c.model.clear()), Err(SealError::InvalidModel));
        assert_eq!(
            with(|c| c.model = "x".repeat(65)),
            Err(SealError::InvalidModel)
        );
        assert_eq!(with(|c| c.model = "x".repeat(64)), Ok(()));
        assert_eq!(
            with(|c| c.model = "modèle".into()),
            Err(SealError::InvalidModel)
        );
        assert_eq!(
            with(|c| c.model = "a\tb".into()),
            Err(SealError::InvalidModel)
        );
        assert_eq!(
            with(|c| c.templates.clear()),
            Err(SealError::TemplateCount(0))
        );
        assert_eq!(
            with(|c| c.templates = vec![vec![0.0]; 5]),
            Err(SealError::TemplateCount(5))
        );
        assert_eq!(
            with(|c| c.templates[1].clear()),
            Err(SealError::InvalidDimension { index: 1, dim: 0 })
        );
        assert_eq!(
            with(|c| c.templates[0] = vec![0.0; 1025]),
            Err(SealError::InvalidDimension {
                index: 0,
                dim: 1025
            })
        );
        assert_eq!(with(|c| c.templates[0] = vec![0.0; 1024]), Ok(()));
        assert_eq!(
            with(|c| c.templates[1][7] = f32::INFINITY),
            Err(SealError::NonFinite { index: 1 })
        );
        assert_eq!(
            with(|c| c.templates[0][0] = f32::NAN),
            Err(SealError::NonFinite { index: 0 })
        );
    }

    #[test]
    fn template_for_dimension_finds_first_match() {
        let c = sample();
        assert_eq!(c.template_for_dimension(2), Some([0.5, -1.25].as_slice()));
        assert_eq!(c.template_for_dimension(512).map(<[f32]>::len), Some(512));
        assert_eq!(c.template_for_dimension(128), None);
    }

    #[test]
    fn debug_omits_template_values() {
        let debug = format!("{:?}", sample());
        assert!(debug.contains("template_dims: [2, 512]"), "{debug}");
        assert!(!debug.contains("1.25"), "{debug}");
    }
}
