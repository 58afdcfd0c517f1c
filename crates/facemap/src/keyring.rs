//! The master-key ring: which keys exist, which one seals new facemaps, how the
//! ring is loaded and saved, and how per-purpose secrets are derived from it.

use std::collections::BTreeMap;
use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore as _;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length in bytes of every master key.
pub const MASTER_KEY_LEN: usize = 32;

/// Identifies one master key in a [`Keyring`]; written into every facemap header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a keyring could not be loaded or changed. No variant ever carries key
/// material, so these are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    /// The JSON did not parse or had the wrong shape. Only the position is kept,
    /// because serde's own message may quote the offending (secret) value.
    #[error("keyring JSON is malformed near line {line}, column {column}")]
    Json { line: usize, column: usize },
    /// An entry of the `id:base64,...` form had no `:` or was empty.
    #[error("keyring entry {position} is not of the form <id>:<base64 key>")]
    MalformedEntry { position: usize },
    /// A key id was not a decimal number that fits in 32 bits.
    #[error("keyring entry {position} has a key id that is not a decimal u32")]
    InvalidKeyId { position: usize },
    /// A secret was not standard base64 of exactly 32 bytes.
    #[error("key {0} is not standard base64 of exactly 32 bytes")]
    InvalidSecret(KeyId),
    /// A secret of 32 bytes that cannot have come from a random generator
    /// (all zero, or a handful of byte values repeated): a placeholder.
    #[error("key {0} is not random (all zero or a repeated pattern); generate one with `facegate keys` or 32 random bytes")]
    WeakSecret(KeyId),
    /// The same key id appeared twice (possibly spelled differently, e.g. `1` and `01`).
    #[error("key {0} is listed more than once")]
    DuplicateKeyId(KeyId),
    /// The keyring listed no keys at all.
    #[error("the keyring has no keys")]
    Empty,
    /// The named primary key is not among the listed keys.
    #[error("primary key {0} is not in the keyring")]
    PrimaryMissing(KeyId),
    /// [`Keyring::retire`] was asked for a key the ring does not hold.
    #[error("key {0} is not in the keyring")]
    UnknownKey(KeyId),
    /// [`Keyring::retire`] was asked for the primary key, which still seals new facemaps.
    #[error("key {0} is the primary key; rotate before retiring it")]
    RetirePrimary(KeyId),
    /// [`Keyring::rotate`] found the largest possible key id already in use.
    #[error("no key id above the current largest is left")]
    KeyIdsExhausted,
}

/// A loaded key must hold at least this many different byte values.
const MIN_DISTINCT_BYTES: usize = 12;

/// A 32-byte master key, wiped from memory when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Secret([u8; MASTER_KEY_LEN]);

impl Secret {
    fn random() -> Self {
        let mut bytes = [0u8; MASTER_KEY_LEN];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    fn from_base64(id: KeyId, text: &str) -> Result<Self, KeyringError> {
        let decoded = Zeroizing::new(
            BASE64
                .decode(text.trim())
                .map_err(|_| KeyringError::InvalidSecret(id))?,
        );
        let bytes: [u8; MASTER_KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| KeyringError::InvalidSecret(id))?;
        let secret = Self(bytes);
        if secret.distinct_bytes() < MIN_DISTINCT_BYTES {
            return Err(KeyringError::WeakSecret(id));
        }
        Ok(secret)
    }

    /// How many different byte values the key holds: 32 random bytes hold
    /// about 30, and fewer than [`MIN_DISTINCT_BYTES`] happens by chance
    /// with a probability below 10⁻¹⁵.
    fn distinct_bytes(&self) -> usize {
        let mut seen = [false; 256];
        for b in self.0 {
            seen[usize::from(b)] = true;
        }
        seen.iter().filter(|s| **s).count()
    }

    pub(crate) fn bytes(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.0
    }
}

/// The set of master keys a deployment holds.
///
/// The primary key seals new facemaps; every key in the ring can still open the
/// facemaps it sealed, so rotation never strands customers' stored facemaps.
/// Keeping the primary apart from the rest makes "the primary always has a
/// secret" true by construction rather than by a runtime check.
#[derive(Clone)]
pub struct Keyring {
    primary: (KeyId, Secret),
    others: BTreeMap<KeyId, Secret>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("primary", &self.primary.0)
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A new ring holding one random key, id 1, which is primary.
    pub fn generate() -> Keyring {
        Keyring {
            primary: (KeyId(1), Secret::random()),
            others: BTreeMap::new(),
        }
    }

    /// Loads `{"primary":1,"keys":{"1":"<base64 of 32 bytes>", ...}}`.
    pub fn from_json(s: &str) -> Result<Keyring, KeyringError> {
        let parsed: KeyringJson = serde_json::from_str(s).map_err(|e| KeyringError::Json {
            line: e.line(),
            column: e.column(),
        })?;
        let mut entries = Vec::with_capacity(parsed.keys.0.len());
        for (index, (id_text, secret_text)) in parsed.keys.0.iter().enumerate() {
            let id = parse_key_id(id_text, index + 1)?;
            entries.push((id, Secret::from_base64(id, secret_text)?));
        }
        Self::assemble(entries, KeyId(parsed.primary))
    }

    /// Serialises the ring in the form [`Keyring::from_json`] reads. The result
    /// holds every secret in the clear: write it only to protected storage.
    pub fn to_json(&self) -> String {
        let keys: serde_json::Map<String, serde_json::Value> = self
            .iter()
            .map(|(id, secret)| {
                (
                    id.to_string(),
                    serde_json::Value::String(BASE64.encode(secret.bytes())),
                )
            })
            .collect();
        serde_json::json!({ "primary": self.primary.0 .0, "keys": keys }).to_string()
    }

    /// Loads the compact environment-variable form `1:<base64>,2:<base64>`.
    /// The last entry is primary, so rotating means appending a new entry.
    pub fn from_env_value(s: &str) -> Result<Keyring, KeyringError> {
        let mut entries = Vec::new();
        for (index, entry) in s.split(',').enumerate() {
            let position = index + 1;
            let (id_text, secret_text) = entry
                .trim()
                .split_once(':')
                .ok_or(KeyringError::MalformedEntry { position })?;
            let id = parse_key_id(id_text.trim(), position)?;
            entries.push((id, Secret::from_base64(id, secret_text)?));
        }
        let primary = entries
            .last()
            .map(|(id, _)| *id)
            .ok_or(KeyringError::Empty)?;
        Self::assemble(entries, primary)
    }

    fn assemble(entries: Vec<(KeyId, Secret)>, primary: KeyId) -> Result<Keyring, KeyringError> {
        if entries.is_empty() {
            return Err(KeyringError::Empty);
        }
        let mut others = BTreeMap::new();
        for (id, secret) in entries {
            if others.insert(id, secret).is_some() {
                return Err(KeyringError::DuplicateKeyId(id));
            }
        }
        let primary_secret = others
            .remove(&primary)
            .ok_or(KeyringError::PrimaryMissing(primary))?;
        Ok(Keyring {
            primary: (primary, primary_secret),
            others,
        })
    }

    /// The key that seals new facemaps.
    pub fn primary(&self) -> KeyId {
        self.primary.0
    }

    /// Whether the ring holds `id` (and so can open facemaps sealed with it).
    pub fn contains(&self, id: KeyId) -> bool {
        self.secret(id).is_some()
    }

    /// Every key id in the ring, ascending.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.iter().map(|(id, _)| id).collect()
    }

    /// Adds a fresh random key with id one above the largest present and makes
    /// it primary. Older keys stay, so facemaps they sealed still open.
    ///
    /// Fails only when the largest id is already `u32::MAX`; reusing a lower,
    /// possibly retired id would turn old facemaps' `UnknownKey` into `Tampered`.
    pub fn rotate(&mut self) -> Result<KeyId, KeyringError> {
        let largest = self
            .iter()
            .map(|(id, _)| id)
            .max()
            .unwrap_or(self.primary.0);
        let next = KeyId(
            largest
                .0
                .checked_add(1)
                .ok_or(KeyringError::KeyIdsExhausted)?,
        );
        let old = std::mem::replace(&mut self.primary, (next, Secret::random()));
        self.others.insert(old.0, old.1);
        Ok(next)
    }

    /// Removes a non-primary key. Facemaps it sealed can no longer be opened;
    /// they report `UnknownKey`.
    pub fn retire(&mut self, id: KeyId) -> Result<(), KeyringError> {
        if id == self.primary.0 {
            return Err(KeyringError::RetirePrimary(id));
        }
        self.others
            .remove(&id)
            .map(drop)
            .ok_or(KeyringError::UnknownKey(id))
    }

    /// Derives a 32-byte secret for another purpose (e.g. per-account webhook
    /// signing) from key `id`: HKDF-SHA256 with salt `b"facegate/" + purpose`
    /// and info `context`.
    ///
    /// Returns `None` when the ring lacks `id`, when `purpose` is empty, or
    /// when it names the facemap namespace (`facemap` or `facemap/...`):
    /// otherwise `derive(id, "facemap/v1", account)` would hand out the very
    /// key that seals that account's facemaps.
    pub fn derive(&self, id: KeyId, purpose: &str, context: &[u8]) -> Option<[u8; 32]> {
        if purpose.is_empty() || purpose == "facemap" || purpose.starts_with("facemap/") {
            return None;
        }
        let secret = self.secret(id)?;
        let salt = [b"facegate/".as_slice(), purpose.as_bytes()].concat();
        hkdf_32(&salt, secret.bytes(), context)
    }

    pub(crate) fn secret(&self, id: KeyId) -> Option<&Secret> {
        if id == self.primary.0 {
            Some(&self.primary.1)
        } else {
            self.others.get(&id)
        }
    }

    pub(crate) fn primary_secret(&self) -> (KeyId, &Secret) {
        (self.primary.0, &self.primary.1)
    }

    /// All keys, ascending by id.
    fn iter(&self) -> impl Iterator<Item = (KeyId, &Secret)> {
        let mut all: Vec<(KeyId, &Secret)> = self.others.iter().map(|(id, s)| (*id, s)).collect();
        all.push((self.primary.0, &self.primary.1));
        all.sort_by_key(|(id, _)| *id);
        all.into_iter()
    }
}

/// HKDF-SHA256 to 32 bytes. Expansion to 32 bytes cannot fail (the limit is
/// 255 × 32), but the library reports it as a `Result`, so it is an `Option` here.
pub(crate) fn hkdf_32(salt: &[u8], ikm: &[u8], info: &[u8]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut out)
        .ok()?;
    Some(out)
}

/// Key ids are plain decimal digits; `str::parse` would also accept `+1`.
fn parse_key_id(text: &str, position: usize) -> Result<KeyId, KeyringError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KeyringError::InvalidKeyId { position });
    }
    text.parse()
        .map(KeyId)
        .map_err(|_| KeyringError::InvalidKeyId { position })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyringJson {
    primary: u32,
    keys: KeyEntries,
}

/// The `keys` object as written, in order. A map type would silently keep only
/// the last of two identical ids; collecting pairs lets `assemble` reject them.
struct KeyEntries(Vec<(String, Zeroizing<String>)>);

impl<'de> Deserialize<'de> for KeyEntries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;

        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = KeyEntries;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object mapping key ids to base64 keys")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<KeyEntries, A::Error> {
                let mut entries = Vec::new();
                while let Some((id, secret)) = map.next_entry::<String, String>()? {
                    entries.push((id, Zeroizing::new(secret)));
                }
                Ok(KeyEntries(entries))
            }
        }

        deserializer.deserialize_map(EntriesVisitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn generate_has_one_primary_key() {
        let ring = Keyring::generate();
        assert_eq!(ring.primary(), KeyId(1));
        assert_eq!(ring.key_ids(), vec![KeyId(1)]);
        assert!(ring.contains(KeyId(1)));
        assert!(!ring.contains(KeyId(2)));
    }

    #[test]
    fn json_round_trip() {
        let mut ring = Keyring::generate();
        ring.rotate().unwrap();
        let text = ring.to_json();
        let back = Keyring::from_json(&text).unwrap();
        assert_eq!(back.primary(), KeyId(2));
        assert_eq!(back.key_ids(), vec![KeyId(1), KeyId(2)]);
        assert_eq!(back.to_json(), text);
        for id in ring.key_ids() {
            assert_eq!(
                back.secret(id).unwrap().bytes(),
                ring.secret(id).unwrap().bytes()
            );
        }
    }

    #[test]
    fn json_reads_documented_form() {
        let text = format!(r#"{{"primary":1,"keys":{{"1":"{KEY_A}","7":"{KEY_B}"}}}}"#);
        let ring = Keyring::from_json(&text).unwrap();
        assert_eq!(ring.primary(), KeyId(1));
        assert_eq!(ring.key_ids(), vec![KeyId(1), KeyId(7)]);
        assert_eq!(ring.secret(KeyId(1)).unwrap().bytes()[31], 31);
    }

    #[test]
    fn json_errors() {
        let cases = [
            ("not json".to_owned(), "Json"),
            (r#"{"primary":1,"keys":{}}"#.to_owned(), "Empty"),
            (
                format!(r#"{{"primary":2,"keys":{{"1":"{KEY_A}"}}}}"#),
                "PrimaryMissing",
            ),
            (
                format!(r#"{{"primary":1,"keys":{{"1":"{KEY_A}","01":"{KEY_B}"}}}}"#),
                "DuplicateKeyId",
            ),
            (
                format!(r#"{{"primary":1,"keys":{{"1":"{KEY_A}","1":"{KEY_B}"}}}}"#),
                "DuplicateKeyId",
            ),
            (
                format!(r#"{{"primary":1,"keys":{{"+1":"{KEY_A}"}}}}"#),
                "InvalidKeyId",
            ),
            (
                r#"{"primary":1,"keys":{"1":"AAAA"}}"#.to_owned(),
                "InvalidSecret",
            ),
            // 31 bytes: too short.
            (
                r#"{"primary":1,"keys":{"1":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="}}"#
                    .to_owned(),
                "InvalidSecret",
            ),
            // 32 zero bytes, and a two-byte pattern.
            (
                r#"{"primary":1,"keys":{"1":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}"#
                    .to_owned(),
                "WeakSecret",
            ),
            (
                r#"{"primary":1,"keys":{"1":"q7urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="}}"#
                    .to_owned(),
                "WeakSecret",
            ),
            (
                format!(r#"{{"primary":1,"keys":{{"1":"{KEY_A}"}},"extra":0}}"#),
                "Json",
            ),
        ];
        for (text, expected) in cases {
            let err = Keyring::from_json(&text).unwrap_err();
            assert!(
                format!("{err:?}").starts_with(expected),
                "{text}: got {err:?}, wanted {expected}"
            );
        }
    }

    #[test]
    fn json_error_does_not_echo_secret() {
        // A secret in the `primary` slot would be quoted by serde's own message.
        let text = format!(r#"{{"primary":"{KEY_A}","keys":{{}}}}"#);
        let err = Keyring::from_json(&text).unwrap_err();
        assert!(matches!(err, KeyringError::Json { .. }));
        assert!(!err.to_string().contains(KEY_A));
        assert!(!format!("{err:?}").contains(KEY_A));
    }

    #[test]
    fn env_value_last_entry_is_primary() {
        let ring = Keyring::from_env_value(&format!("1:{KEY_A}, 2:{KEY_B}")).unwrap();
        assert_eq!(ring.primary(), KeyId(2));
        assert_eq!(ring.key_ids(), vec![KeyId(1), KeyId(2)]);
        let ring = Keyring::from_env_value(&format!("2:{KEY_B},1:{KEY_A}")).unwrap();
        assert_eq!(ring.primary(), KeyId(1));
    }

    #[test]
    fn env_value_round_trips_through_json() {
        let ring = Keyring::from_env_value(&format!("3:{KEY_A},9:{KEY_B}")).unwrap();
        let back = Keyring::from_json(&ring.to_json()).unwrap();
        assert_eq!(back.primary(), KeyId(9));
        assert_eq!(back.key_ids(), ring.key_ids());
        assert_eq!(back.to_json(), ring.to_json());
    }

    #[test]
    fn env_value_errors() {
        assert_eq!(
            Keyring::from_env_value("").unwrap_err(),
            KeyringError::MalformedEntry { position: 1 }
        );
        assert_eq!(
            Keyring::from_env_value(&format!("1:{KEY_A},")).unwrap_err(),
            KeyringError::MalformedEntry { position: 2 }
        );
        assert_eq!(
            Keyring::from_env_value(KEY_A).unwrap_err(),
            KeyringError::MalformedEntry { position: 1 }
        );
        assert_eq!(
            Keyring::from_env_value(&format!("x:{KEY_A}")).unwrap_err(),
            KeyringError::InvalidKeyId { position: 1 }
        );
        assert_eq!(
            Keyring::from_env_value(&format!("1:{KEY_A},1:{KEY_B}")).unwrap_err(),
            KeyringError::DuplicateKeyId(KeyId(1))
        );
        assert_eq!(
            Keyring::from_env_value("4:AAAA").unwrap_err(),
            KeyringError::InvalidSecret(KeyId(4))
        );
    }

    #[test]
    fn debug_hides_key_bytes() {
        let ring = Keyring::from_env_value(&format!("1:{KEY_A},2:{KEY_B}")).unwrap();
        let debug = format!("{ring:?}");
        assert!(!debug.contains(KEY_A) && !debug.contains(KEY_B), "{debug}");
        assert!(!debug.contains("[0, 1, 2"), "{debug}");
        let generated = Keyring::generate();
        let json: serde_json::Value = serde_json::from_str(&generated.to_json()).unwrap();
        let b64 = json["keys"]["1"].as_str().unwrap();
        assert_eq!(b64.len(), 44);
        assert!(!format!("{generated:?}").contains(b64));
    }

    #[test]
    fn rotate_adds_primary_and_keeps_old() {
        let mut ring = Keyring::from_env_value(&format!("5:{KEY_A},2:{KEY_B}")).unwrap();
        assert_eq!(ring.primary(), KeyId(2));
        let new = ring.rotate().unwrap();
        assert_eq!(new, KeyId(6));
        assert_eq!(ring.primary(), KeyId(6));
        assert_eq!(ring.key_ids(), vec![KeyId(2), KeyId(5), KeyId(6)]);
        assert_eq!(ring.secret(KeyId(5)).unwrap().bytes()[0], 0);
    }

    #[test]
    fn rotate_fails_when_ids_exhausted() {
        let mut ring = Keyring::from_env_value(&format!("{}:{KEY_A}", u32::MAX)).unwrap();
        assert_eq!(ring.rotate().unwrap_err(), KeyringError::KeyIdsExhausted);
        assert_eq!(ring.primary(), KeyId(u32::MAX));
    }

    #[test]
    fn retire_rules() {
        let mut ring = Keyring::generate();
        ring.rotate().unwrap();
        assert_eq!(
            ring.retire(KeyId(2)).unwrap_err(),
            KeyringError::RetirePrimary(KeyId(2))
        );
        assert_eq!(
            ring.retire(KeyId(9)).unwrap_err(),
            KeyringError::UnknownKey(KeyId(9))
        );
        ring.retire(KeyId(1)).unwrap();
        assert_eq!(ring.key_ids(), vec![KeyId(2)]);
        assert!(!ring.contains(KeyId(1)));
    }

    #[test]
    fn derive_is_deterministic_and_separated() {
        let ring = Keyring::from_env_value(&format!("1:{KEY_A},2:{KEY_B}")).unwrap();
        let a = ring.derive(KeyId(1), "webhook", b"account-1").unwrap();
        assert_eq!(a, ring.derive(KeyId(1), "webhook", b"account-1").unwrap());
        assert_ne!(a, ring.derive(KeyId(1), "webhook", b"account-2").unwrap());
        assert_ne!(a, ring.derive(KeyId(1), "session", b"account-1").unwrap());
        assert_ne!(a, ring.derive(KeyId(2), "webhook", b"account-1").unwrap());
        assert_eq!(ring.derive(KeyId(3), "webhook", b"account-1"), None);
    }

    #[test]
    fn derive_refuses_facemap_namespace() {
        let ring = Keyring::generate();
        assert_eq!(ring.derive(KeyId(1), "facemap/v1", &[0; 16]), None);
        assert_eq!(ring.derive(KeyId(1), "facemap", &[0; 16]), None);
        assert_eq!(ring.derive(KeyId(1), "", &[0; 16]), None);
        assert!(ring.derive(KeyId(1), "facemaps-export", &[0; 16]).is_some());
    }

    #[test]
    fn key_id_display_and_order() {
        assert_eq!(KeyId(42).to_string(), "42");
        assert!(KeyId(1) < KeyId(2));
    }
}
