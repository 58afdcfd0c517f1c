//! The recogniser's character list, read from the model file itself (the
//! ONNX metadata property `character`, one character per line, as PaddleOCR
//! exports it), and the output class of each zone character.

use facegate_domain::mrz::MRZ_ALPHABET;

use crate::error::DocumentsError;

/// The ONNX metadata key holding the character list.
pub const CHARACTER_KEY: &str = "character";

/// The recogniser's output class of every zone character, in
/// [`MRZ_ALPHABET`] order; class 0 is the CTC blank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneClasses {
    pub classes: [usize; 37],
    /// How many classes the model outputs (blank, the list, a space).
    pub total: usize,
}

impl ZoneClasses {
    /// Reads the list from `onnx` (a model file) and finds the 37 zone
    /// characters in it: class `i + 1` is the list's `i`-th character.
    pub fn from_model(onnx: &[u8]) -> Result<Self, DocumentsError> {
        let list = metadata(onnx, CHARACTER_KEY)?.ok_or_else(|| {
            DocumentsError::Model(format!(
                "the recogniser has no {CHARACTER_KEY:?} metadata (its character list)"
            ))
        })?;
        let chars: Vec<&str> = list.split('\n').collect();
        let mut classes = [0usize; 37];
        for (slot, c) in classes.iter_mut().zip(MRZ_ALPHABET.chars()) {
            let mut buf = [0u8; 4];
            let wanted: &str = c.encode_utf8(&mut buf);
            let index = chars.iter().position(|&x| x == wanted).ok_or_else(|| {
                DocumentsError::Model(format!("the recogniser cannot read {c:?}"))
            })?;
            *slot = index + 1;
        }
        Ok(Self {
            classes,
            // PaddleOCR appends a space class after the list.
            total: chars.len() + 2,
        })
    }
}

/// The value of metadata property `key` of an ONNX model (`ModelProto`
/// field 14, `StringStringEntryProto { key = 1, value = 2 }`), walking the
/// protobuf wire format without decoding the graph.
pub fn metadata(onnx: &[u8], key: &str) -> Result<Option<String>, DocumentsError> {
    let mut top = Reader::new(onnx);
    while let Some((field, value)) = top.next()? {
        let (14, Value::Bytes(entry)) = (field, value) else {
            continue;
        };
        let mut inner = Reader::new(entry);
        let (mut k, mut v) = (None, None);
        while let Some((f, value)) = inner.next()? {
            match (f, value) {
                (1, Value::Bytes(b)) => k = Some(b),
                (2, Value::Bytes(b)) => v = Some(b),
                _ => {}
            }
        }
        if k == Some(key.as_bytes()) {
            let text = std::str::from_utf8(v.unwrap_or_default()).map_err(|e| {
                DocumentsError::Model(format!("metadata {key:?} is not UTF-8: {e}"))
            })?;
            return Ok(Some(text.to_owned()));
        }
    }
    Ok(None)
}

enum Value<'a> {
    Scalar,
    Bytes(&'a [u8]),
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    fn bad(what: &str) -> DocumentsError {
        DocumentsError::Model(format!("the model file is not valid protobuf: {what}"))
    }

    fn varint(&mut self) -> Result<u64, DocumentsError> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .data
                .get(self.at)
                .ok_or_else(|| Self::bad("truncated varint"))?;
            self.at += 1;
            out |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(Self::bad("varint too long"))
    }

    fn skip(&mut self, n: u64) -> Result<&'a [u8], DocumentsError> {
        let n = usize::try_from(n).map_err(|_| Self::bad("length overflows"))?;
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| Self::bad("field runs past the end"))?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn next(&mut self) -> Result<Option<(u64, Value<'a>)>, DocumentsError> {
        if self.at >= self.data.len() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let value = match tag & 7 {
            0 => {
                self.varint()?;
                Value::Scalar
            }
            1 => {
                self.skip(8)?;
                Value::Scalar
            }
            2 => {
                let n = self.varint()?;
                Value::Bytes(self.skip(n)?)
            }
            5 => {
                self.skip(4)?;
                Value::Scalar
            }
            other => return Err(Self::bad(&format!("wire type {other}"))),
        };
        Ok(Some((tag >> 3, value)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn bytes_field(field: u64, data: &[u8], out: &mut Vec<u8>) {
        varint(field << 3 | 2, out);
        varint(data.len() as u64, out);
        out.extend_from_slice(data);
    }

    fn model(list: &str) -> Vec<u8> {
        let mut out = Vec::new();
        varint(1 << 3, &mut out); // ir_version = 8
        varint(8, &mut out);
        bytes_field(7, b"a graph we never decode", &mut out);
        let mut entry = Vec::new();
        bytes_field(1, b"character", &mut entry);
        bytes_field(2, list.as_bytes(), &mut entry);
        bytes_field(14, &entry, &mut out);
        out
    }

    #[test]
    fn the_character_list_is_read_from_the_metadata() {
        let mut list: Vec<String> = vec!["'".into(), "疗".into()];
        list.extend(MRZ_ALPHABET.chars().rev().map(String::from));
        let classes = ZoneClasses::from_model(&model(&list.join("\n"))).unwrap();
        // '0' is the last of the reversed alphabet: list index 38, class 39.
        assert_eq!(classes.classes[0], 39);
        assert_eq!(classes.classes[36], 3); // '<'
        assert_eq!(classes.total, 41);
    }

    #[test]
    fn a_list_without_a_zone_character_is_refused() {
        assert!(ZoneClasses::from_model(&model("A\nB")).is_err());
        assert!(ZoneClasses::from_model(&[]).is_err());
    }

    proptest! {
        #[test]
        fn metadata_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = metadata(&bytes, "character");
        }
    }
}
