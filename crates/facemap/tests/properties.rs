//! Property tests: sealing round-trips any valid contents, and no alteration,
//! truncation or random input ever opens (or panics).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use facegate_facemap::{
    open, peek_header, seal, FacemapContents, FacemapError, Keyring, HEADER_LEN, MAGIC,
};
use proptest::prelude::*;
use proptest::sample::Index;
use uuid::Uuid;

static RING: LazyLock<Keyring> = LazyLock::new(Keyring::generate);

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn finite_f32() -> impl Strategy<Value = f32> {
    prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO
}

fn contents() -> impl Strategy<Value = FacemapContents> {
    (
        uuid(),
        uuid(),
        any::<u64>(),
        any::<i64>(),
        "[ -~]{1,64}",
        prop::collection::vec(prop::collection::vec(finite_f32(), 1..=600), 1..=4),
    )
        .prop_map(
            |(enrollment, account, serial, issued_at_ms, model, templates)| FacemapContents {
                enrollment,
                account,
                serial,
                issued_at_ms,
                model,
                templates,
            },
        )
}

/// Random bytes behind a header that passes every check up to decryption, so
/// the AEAD and payload parser see hostile input rather than `NotAFacemap`.
fn plausible_forgery() -> impl Strategy<Value = (Uuid, Vec<u8>)> {
    (uuid(), prop::collection::vec(any::<u8>(), 0..2000)).prop_map(|(account, tail)| {
        let mut bytes = MAGIC.to_vec();
        bytes.push(1);
        bytes.extend_from_slice(&RING.primary().0.to_be_bytes());
        bytes.extend_from_slice(account.as_bytes());
        bytes.extend_from_slice(&tail);
        (account, bytes)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn round_trip(c in contents()) {
        let bytes = seal(&RING, &c).unwrap();
        let header = peek_header(&bytes).unwrap();
        prop_assert_eq!(header.account, c.account);
        prop_assert_eq!(header.key_id, RING.primary());
        prop_assert_eq!(open(&RING, &bytes, c.account).unwrap(), c);
    }

    #[test]
    fn any_single_bit_flip_is_rejected(c in contents(), bit in any::<Index>()) {
        let mut bytes = seal(&RING, &c).unwrap();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let result = open(&RING, &bytes, c.account);
        prop_assert!(result.is_err(), "bit {} flipped still opened", bit);
        // Past the header, only the AEAD can notice.
        if bit / 8 >= HEADER_LEN - 24 {
            prop_assert_eq!(result.unwrap_err(), FacemapError::Tampered);
        }
    }

    #[test]
    fn any_truncation_is_rejected(c in contents(), cut in any::<Index>()) {
        let bytes = seal(&RING, &c).unwrap();
        let len = cut.index(bytes.len());
        prop_assert!(open(&RING, &bytes[..len], c.account).is_err());
    }

    #[test]
    fn random_bytes_are_rejected(bytes in prop::collection::vec(any::<u8>(), 0..2000), account in uuid()) {
        prop_assert!(open(&RING, &bytes, account).is_err());
    }

    #[test]
    fn forged_ciphertext_is_rejected((account, bytes) in plausible_forgery()) {
        let expected = if bytes.len() < HEADER_LEN + 16 {
            FacemapError::NotAFacemap
        } else {
            FacemapError::Tampered
        };
        prop_assert_eq!(open(&RING, &bytes, account).unwrap_err(), expected);
    }

    #[test]
    fn peek_header_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let _ = peek_header(&bytes);
    }

    #[test]
    fn peek_header_reads_plausible_headers((account, bytes) in plausible_forgery()) {
        match peek_header(&bytes) {
            Ok(header) => {
                prop_assert_eq!(header.account, account);
                prop_assert_eq!(header.version, 1);
            }
            Err(e) => prop_assert_eq!(e, FacemapError::NotAFacemap),
        }
    }
}
