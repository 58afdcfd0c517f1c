//! The sealed facemap: its cleartext header, per-account key derivation, and
//! the seal/open operations with their ordered failure modes.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore as _;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::keyring::{hkdf_32, KeyId, Keyring, Secret};
use crate::payload::{self, FacemapContents, SealError, MAX_PAYLOAD_LEN};

/// First four bytes of every facemap.
pub const MAGIC: [u8; 4] = *b"FGFM";
/// The only format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// magic (4) + version (1) + key id (4) + account (16) + nonce (24).
pub const HEADER_LEN: usize = 49;
/// Poly1305 tag appended to the ciphertext.
pub const TAG_LEN: usize = 16;
/// Anything longer is rejected unread; real facemaps are a few KiB.
pub const MAX_FACEMAP_BYTES: usize = 64 * 1024;

const NONCE_LEN: usize = 24;
const NONCE_AT: usize = HEADER_LEN - NONCE_LEN;
const FACEMAP_KEY_SALT: &[u8] = b"facegate/facemap/v1";

// The largest payload `seal` accepts must fit the limit `open` enforces.
const _: () = assert!(HEADER_LEN + MAX_PAYLOAD_LEN + TAG_LEN < MAX_FACEMAP_BYTES);

/// The cleartext part of a facemap, readable without any key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Format version; always [`FORMAT_VERSION`] for a header that parsed.
    pub version: u8,
    /// The master key that sealed the facemap.
    pub key_id: KeyId,
    /// The account the facemap is bound to.
    pub account: Uuid,
}

/// Why bytes could not be opened as a facemap. Variants are listed, and
/// checked, in order; each maps to its own API error code. No message
/// includes key material or template values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FacemapError {
    /// Too short to hold a header and tag, longer than [`MAX_FACEMAP_BYTES`],
    /// or not starting with the facemap magic.
    #[error("the data is not a facemap")]
    NotAFacemap,
    /// A facemap of a format version this build does not read.
    #[error("facemap format version {0} is not supported")]
    UnsupportedVersion(u8),
    /// Sealed with a key this keyring does not hold (retired, or another deployment's).
    #[error("the facemap was sealed with key {0}, which this server does not hold")]
    UnknownKey(KeyId),
    /// Bound to an account other than the caller's.
    #[error("the facemap belongs to a different account")]
    WrongAccount,
    /// Failed authentication, or decrypted to something malformed.
    #[error("the facemap has been altered or is corrupt")]
    Tampered,
}

/// Seals `contents` with the keyring's primary key under a fresh random nonce.
pub fn seal(keyring: &Keyring, contents: &FacemapContents) -> Result<Vec<u8>, SealError> {
    let plaintext = payload::encode(contents)?;
    let (key_id, secret) = keyring.primary_secret();
    let cipher = account_cipher(secret, contents.account).ok_or(SealError::Encryption)?;

    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&key_id.0.to_be_bytes());
    out.extend_from_slice(contents.account.as_bytes());
    out.extend_from_slice(&nonce);

    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plaintext,
                aad: &out,
            },
        )
        .map_err(|_| SealError::Encryption)?;
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Reads the cleartext header, checking only size, magic and version. The
/// result is unauthenticated: use it for routing or error messages, never to
/// trust the facemap.
pub fn peek_header(bytes: &[u8]) -> Result<Header, FacemapError> {
    if bytes.len() < HEADER_LEN + TAG_LEN || bytes.len() > MAX_FACEMAP_BYTES {
        return Err(FacemapError::NotAFacemap);
    }
    let field = |at: usize, len: usize| bytes.get(at..at + len).ok_or(FacemapError::NotAFacemap);
    if field(0, 4)? != MAGIC {
        return Err(FacemapError::NotAFacemap);
    }
    let version = *bytes.get(4).ok_or(FacemapError::NotAFacemap)?;
    if version != FORMAT_VERSION {
        return Err(FacemapError::UnsupportedVersion(version));
    }
    let key_id = u32::from_be_bytes(
        field(5, 4)?
            .try_into()
            .map_err(|_| FacemapError::NotAFacemap)?,
    );
    let account = Uuid::from_slice(field(9, 16)?).map_err(|_| FacemapError::NotAFacemap)?;
    Ok(Header {
        version,
        key_id: KeyId(key_id),
        account,
    })
}

/// Opens a facemap that `expected_account` posted back, checking in order:
/// shape, version, key, account (all before any decryption), then integrity.
pub fn open(
    keyring: &Keyring,
    bytes: &[u8],
    expected_account: Uuid,
) -> Result<FacemapContents, FacemapError> {
    let header = peek_header(bytes)?;
    let secret = keyring
        .secret(header.key_id)
        .ok_or(FacemapError::UnknownKey(header.key_id))?;
    if header.account != expected_account {
        return Err(FacemapError::WrongAccount);
    }
    let cipher = account_cipher(secret, header.account).ok_or(FacemapError::Tampered)?;
    let (aad, ciphertext) = bytes.split_at(HEADER_LEN);
    let nonce = aad.get(NONCE_AT..).ok_or(FacemapError::Tampered)?;
    let plaintext = Zeroizing::new(
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| FacemapError::Tampered)?,
    );
    payload::decode(&plaintext, header.account).ok_or(FacemapError::Tampered)
}

/// Each account gets its own AEAD key, so one account's facemaps reveal
/// nothing about another's and nonce reuse can only ever span one account.
fn account_cipher(master: &Secret, account: Uuid) -> Option<XChaCha20Poly1305> {
    let key = Zeroizing::new(hkdf_32(
        FACEMAP_KEY_SALT,
        master.bytes(),
        account.as_bytes(),
    )?);
    XChaCha20Poly1305::new_from_slice(key.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn contents(account: Uuid) -> FacemapContents {
        FacemapContents {
            enrollment: Uuid::from_u128(0xe),
            account,
            serial: 7,
            issued_at_ms: 1_700_000_000_000,
            model: "facenet-512".to_owned(),
            templates: vec![vec![0.25; 512], vec![-3.5; 128]],
        }
    }

    const ACCOUNT: Uuid = Uuid::from_u128(0xacc0);

    fn sealed() -> (Keyring, Vec<u8>) {
        let ring = Keyring::generate();
        let bytes = seal(&ring, &contents(ACCOUNT)).unwrap();
        (ring, bytes)
    }

    #[test]
    fn round_trip() {
        let (ring, bytes) = sealed();
        assert_eq!(
            bytes.len(),
            HEADER_LEN + 16 + 8 + 8 + 1 + 11 + 1 + (2 + 2048) + (2 + 512) + TAG_LEN
        );
        assert_eq!(open(&ring, &bytes, ACCOUNT).unwrap(), contents(ACCOUNT));
    }

    #[test]
    fn header_layout() {
        let (ring, bytes) = sealed();
        assert_eq!(&bytes[..4], b"FGFM");
        assert_eq!(bytes[4], 1);
        assert_eq!(&bytes[5..9], &1u32.to_be_bytes());
        assert_eq!(&bytes[9..25], ACCOUNT.as_bytes());
        assert_eq!(
            peek_header(&bytes).unwrap(),
            Header {
                version: 1,
                key_id: ring.primary(),
                account: ACCOUNT
            }
        );
    }

    #[test]
    fn nonces_are_fresh() {
        let ring = Keyring::generate();
        let a = seal(&ring, &contents(ACCOUNT)).unwrap();
        let b = seal(&ring, &contents(ACCOUNT)).unwrap();
        assert_ne!(a[NONCE_AT..HEADER_LEN], b[NONCE_AT..HEADER_LEN]);
        assert_ne!(a[HEADER_LEN..], b[HEADER_LEN..]);
    }

    #[test]
    fn seal_rejects_invalid_contents() {
        let ring = Keyring::generate();
        let mut c = contents(ACCOUNT);
        c.templates.clear();
        assert_eq!(seal(&ring, &c).unwrap_err(), SealError::TemplateCount(0));
        let mut c = contents(ACCOUNT);
        c.templates[0][0] = f32::NAN;
        assert_eq!(
            seal(&ring, &c).unwrap_err(),
            SealError::NonFinite { index: 0 }
        );
    }

    #[test]
    fn short_input_is_not_a_facemap() {
        let (ring, bytes) = sealed();
        for len in [0, 4, HEADER_LEN, HEADER_LEN + TAG_LEN - 1] {
            assert_eq!(
                open(&ring, &bytes[..len], ACCOUNT).unwrap_err(),
                FacemapError::NotAFacemap
            );
        }
    }

    #[test]
    fn oversized_input_is_not_a_facemap() {
        let (ring, mut bytes) = sealed();
        bytes.resize(MAX_FACEMAP_BYTES + 1, 0);
        assert_eq!(peek_header(&bytes).unwrap_err(), FacemapError::NotAFacemap);
        assert_eq!(
            open(&ring, &bytes, ACCOUNT).unwrap_err(),
            FacemapError::NotAFacemap
        );
    }

    #[test]
    fn bad_magic_is_not_a_facemap() {
        let (ring, mut bytes) = sealed();
        bytes[0] = b'X';
        assert_eq!(
            open(&ring, &bytes, ACCOUNT).unwrap_err(),
            FacemapError::NotAFacemap
        );
    }

    #[test]
    fn other_version_is_unsupported() {
        let (ring, mut bytes) = sealed();
        bytes[4] = 2;
        assert_eq!(
            open(&ring, &bytes, ACCOUNT).unwrap_err(),
            FacemapError::UnsupportedVersion(2)
        );
        assert_eq!(
            peek_header(&bytes).unwrap_err(),
            FacemapError::UnsupportedVersion(2)
        );
    }

    #[test]
    fn unknown_key_id() {
        let (ring, mut bytes) = sealed();
        bytes[5..9].copy_from_slice(&9u32.to_be_bytes());
        assert_eq!(
            open(&ring, &bytes, ACCOUNT).unwrap_err(),
            FacemapError::UnknownKey(KeyId(9))
        );
    }

    #[test]
    fn other_account_is_refused_before_decrypting() {
        let (ring, mut bytes) = sealed();
        assert_eq!(
            open(&ring, &bytes, Uuid::from_u128(0xbad)).unwrap_err(),
            FacemapError::WrongAccount
        );
        // Garbage ciphertext still reports WrongAccount: no decryption happened.
        bytes[HEADER_LEN] ^= 0xff;
        assert_eq!(
            open(&ring, &bytes, Uuid::from_u128(0xbad)).unwrap_err(),
            FacemapError::WrongAccount
        );
    }

    #[test]
    fn rebinding_to_another_account_is_tampered() {
        let (ring, mut bytes) = sealed();
        let other = Uuid::from_u128(0xbad);
        bytes[9..25].copy_from_slice(other.as_bytes());
        assert_eq!(
            open(&ring, &bytes, other).unwrap_err(),
            FacemapError::Tampered
        );
    }

    #[test]
    fn flipped_ciphertext_byte_is_tampered() {
        let (ring, bytes) = sealed();
        for at in [HEADER_LEN, bytes.len() / 2, bytes.len() - 1, NONCE_AT] {
            let mut altered = bytes.clone();
            altered[at] ^= 0x01;
            assert_eq!(
                open(&ring, &altered, ACCOUNT).unwrap_err(),
                FacemapError::Tampered,
                "byte {at}"
            );
        }
    }

    #[test]
    fn other_deployment_with_same_key_id_is_tampered() {
        let (ring, _) = sealed();
        let theirs = Keyring::generate();
        assert_eq!(theirs.primary(), ring.primary());
        let bytes = seal(&theirs, &contents(ACCOUNT)).unwrap();
        assert_eq!(
            open(&ring, &bytes, ACCOUNT).unwrap_err(),
            FacemapError::Tampered
        );
    }

    #[test]
    fn checks_run_in_documented_order() {
        let (ring, bytes) = sealed();
        let other = Uuid::from_u128(0xbad);
        let mut v2_unknown_key = bytes.clone();
        v2_unknown_key[4] = 2;
        v2_unknown_key[5..9].copy_from_slice(&9u32.to_be_bytes());
        assert_eq!(
            open(&ring, &v2_unknown_key, other).unwrap_err(),
            FacemapError::UnsupportedVersion(2)
        );
        let mut unknown_key = bytes.clone();
        unknown_key[5..9].copy_from_slice(&9u32.to_be_bytes());
        unknown_key[HEADER_LEN] ^= 1;
        assert_eq!(
            open(&ring, &unknown_key, other).unwrap_err(),
            FacemapError::UnknownKey(KeyId(9))
        );
        let mut bad_magic = v2_unknown_key;
        bad_magic[0] = 0;
        assert_eq!(
            open(&ring, &bad_magic, other).unwrap_err(),
            FacemapError::NotAFacemap
        );
    }

    #[test]
    fn rotation_keeps_old_facemaps_open() {
        let (mut ring, old) = sealed();
        let new_id = ring.rotate().unwrap();
        assert_eq!(open(&ring, &old, ACCOUNT).unwrap(), contents(ACCOUNT));
        let new = seal(&ring, &contents(ACCOUNT)).unwrap();
        assert_eq!(peek_header(&new).unwrap().key_id, new_id);
        assert_eq!(open(&ring, &new, ACCOUNT).unwrap(), contents(ACCOUNT));
    }

    #[test]
    fn retired_key_is_unknown() {
        let (mut ring, old) = sealed();
        ring.rotate().unwrap();
        ring.retire(KeyId(1)).unwrap();
        assert_eq!(
            open(&ring, &old, ACCOUNT).unwrap_err(),
            FacemapError::UnknownKey(KeyId(1))
        );
    }

    #[test]
    fn keyring_reloaded_from_json_opens_facemaps() {
        let (ring, bytes) = sealed();
        let reloaded = Keyring::from_json(&ring.to_json()).unwrap();
        assert_eq!(open(&reloaded, &bytes, ACCOUNT).unwrap(), contents(ACCOUNT));
    }

    #[test]
    fn authentic_but_malformed_payload_is_tampered() {
        // Sealed by hand so the AEAD passes but the payload breaks the format.
        let ring = Keyring::generate();
        let (key_id, secret) = ring.primary_secret();
        let cipher = account_cipher(secret, ACCOUNT).unwrap();
        let mut out = MAGIC.to_vec();
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&key_id.0.to_be_bytes());
        out.extend_from_slice(ACCOUNT.as_bytes());
        out.extend_from_slice(&[7; NONCE_LEN]);
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&[7; NONCE_LEN]),
                Payload {
                    msg: b"not a payload",
                    aad: &out,
                },
            )
            .unwrap();
        out.extend_from_slice(&ct);
        assert_eq!(
            open(&ring, &out, ACCOUNT).unwrap_err(),
            FacemapError::Tampered
        );
    }

    #[test]
    fn error_messages_are_distinct_and_clean() {
        let errors = [
            FacemapError::NotAFacemap,
            FacemapError::UnsupportedVersion(2),
            FacemapError::UnknownKey(KeyId(3)),
            FacemapError::WrongAccount,
            FacemapError::Tampered,
        ];
        let messages: std::collections::BTreeSet<String> =
            errors.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), errors.len());
    }
}
