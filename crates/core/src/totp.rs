//! Time-based one-time passwords (RFC 6238) for console users: HMAC-SHA-1,
//! 30-second steps, 6 digits, as every authenticator app reads them from an
//! `otpauth://` URI. A code is accepted for the step before and after the
//! current one (clock drift), and never twice (the step used is kept).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha1::Sha1;

const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;
/// The secret's length in bytes (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;

/// The step `at` falls in.
pub fn step_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(STEP_SECONDS)
}

/// The code of `step` (RFC 4226 §5.3 dynamic truncation).
pub fn code(secret: &[u8], step: i64) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        return u32::MAX;
    };
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(DIGITS)
}

/// The step whose code `given` is (6 digits), among the current one and
/// its neighbours; `None` otherwise.
pub fn matching_step(secret: &[u8], given: &str, at: DateTime<Utc>) -> Option<i64> {
    let given = given.trim();
    if given.len() != DIGITS as usize || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u32 = given.parse().ok()?;
    let now = step_of(at);
    (now - 1..=now + 1).find(|step| code(secret, *step) == value)
}

/// RFC 4648 base32 without padding, as `otpauth://` URIs carry secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The URI an authenticator app scans or reads: issuer `Facegate`.
pub fn provisioning_uri(username: &str, secret: &[u8]) -> String {
    let label: String = username
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect();
    format!(
        "otpauth://totp/Facegate:{label}?secret={}&issuer=Facegate&algorithm=SHA1&digits=6&period=30",
        base32(secret)
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::TimeZone;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    /// RFC 6238 appendix B (SHA-1), the last 6 of its 8 digits.
    #[test]
    fn the_codes_are_those_of_rfc_6238() {
        for (seconds, expected) in [
            (59, 287_082),
            (1_111_111_109, 81_804),
            (1_111_111_111, 50_471),
            (1_234_567_890, 5_924),
            (2_000_000_000, 279_037),
        ] {
            assert_eq!(
                code(RFC_SECRET, step_of(at(seconds))),
                expected,
                "{seconds}"
            );
        }
    }

    #[test]
    fn a_code_of_the_neighbouring_steps_matches_and_nothing_else() {
        let now = at(1_234_567_890);
        let current = step_of(now);
        let of = |step: i64| format!("{:06}", code(RFC_SECRET, step));
        assert_eq!(matching_step(RFC_SECRET, &of(current), now), Some(current));
        assert_eq!(
            matching_step(RFC_SECRET, &of(current - 1), now),
            Some(current - 1)
        );
        assert_eq!(
            matching_step(RFC_SECRET, &of(current + 1), now),
            Some(current + 1)
        );
        assert_eq!(matching_step(RFC_SECRET, &of(current - 2), now), None);
        for bad in ["", "12345", "1234567", "abcdef", "12 345"] {
            assert_eq!(matching_step(RFC_SECRET, bad, now), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        /// Any text a user types as the code: no panic, and a match only
        /// for exactly six digits that are the code of a step within one
        /// of now.
        #[test]
        fn code_parsing_never_panics_and_matches_only_a_neighbouring_code(
            given in "\\PC{0,12}|[0-9]{6}",
            seconds in 0i64..4_000_000_000,
        ) {
            let now = at(seconds);
            if let Some(step) = matching_step(RFC_SECRET, &given, now) {
                proptest::prop_assert!((step - step_of(now)).abs() <= 1);
                proptest::prop_assert_eq!(format!("{:06}", code(RFC_SECRET, step)), given.trim());
            }
        }
    }

    #[test]
    fn secrets_are_written_in_base32_in_the_uri() {
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(base32(b"f"), "MY");
        let uri = provisioning_uri("ana@acme.example", RFC_SECRET);
        assert!(
            uri.starts_with("otpauth://totp/Facegate:ana%40acme.example?secret=GEZDGNBV"),
            "{uri}"
        );
    }
}
