//! Standard Webhooks (<https://www.standardwebhooks.com>) signing secrets, signatures and
//! verification.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Header carrying the unique message id (stable across retries of the same message).
pub const WEBHOOK_ID: &str = "webhook-id";
/// Header carrying the send time in integer seconds since the Unix epoch.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying one or more space-separated `v1,<base64>` signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Prefix of the textual form of a signing secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// The spec requires secrets of at least 24 bytes; we generate 32.
pub const MIN_SECRET_LEN: usize = 24;
/// Tolerance the spec recommends between the signed timestamp and the receiver's clock.
pub const DEFAULT_TOLERANCE_SECS: i64 = 5 * 60;

/// Length of secrets produced by [`SigningSecret::generate`].
const GENERATED_SECRET_LEN: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Why a signing secret was rejected. Never contains any part of the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("signing secret must start with \"whsec_\"")]
    MissingPrefix,
    #[error("signing secret is not valid base64")]
    InvalidBase64,
    #[error("signing secret must be at least {MIN_SECRET_LEN} bytes, got {0}")]
    TooShort(usize),
}

/// Raw key bytes of a Standard Webhooks signing secret.
///
/// The keyed HMAC state is precomputed once at construction, so signing cannot fail later and
/// the key length is validated in exactly one place.
#[derive(Clone)]
pub struct SigningSecret {
    bytes: Zeroizing<Vec<u8>>,
    mac: HmacSha256,
}

impl SigningSecret {
    /// Wraps raw key bytes (at least [`MIN_SECRET_LEN`] bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        if bytes.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort(bytes.len()));
        }
        // HMAC accepts keys of any length, so this only fails if the hmac crate changes contract;
        // reporting it as "too short" keeps the error surface small.
        let mac =
            HmacSha256::new_from_slice(bytes).map_err(|_| SecretError::TooShort(bytes.len()))?;
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
            mac,
        })
    }

    /// Parses the textual `whsec_<base64>` form.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let decoded = Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|_| SecretError::InvalidBase64)?,
        );
        Self::from_bytes(&decoded)
    }

    /// Generates a fresh random 32-byte secret from the OS CSPRNG.
    ///
    /// Fallible only in signature: it goes through the same validation as [`Self::from_bytes`].
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = Zeroizing::new([0u8; GENERATED_SECRET_LEN]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self::from_bytes(bytes.as_ref())
    }

    /// The textual `whsec_<base64>` form, to hand to the integrator once.
    pub fn to_whsec_string(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(self.bytes.as_slice()))
    }

    /// Raw key bytes, for callers that persist the secret (encrypted) themselves.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn keyed_mac(&self, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp_secs.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(**redacted**)")
    }
}

/// Computes the `webhook-signature` value: `v1,<base64(HMAC-SHA256(secret, "{id}.{ts}.{body}"))>`.
pub fn sign(secret: &SigningSecret, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let tag = secret
        .keyed_mac(msg_id, timestamp_secs, body)
        .finalize()
        .into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// The `webhook-signature` value signed with each of `secrets`, space-separated
/// as the spec allows, so a receiver still holding an earlier secret verifies
/// too; `None` when there is no secret to sign with.
pub fn sign_all(
    secrets: &[SigningSecret],
    msg_id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> Option<String> {
    if secrets.is_empty() {
        return None;
    }
    let signatures: Vec<String> = secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp_secs, body))
        .collect();
    Some(signatures.join(" "))
}

/// Why a received webhook failed verification.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("webhook timestamp is too old")]
    TimestampTooOld,
    #[error("webhook timestamp is too far in the future")]
    TimestampTooNew,
    #[error("no matching v1 signature")]
    NoMatchingSignature,
}

/// Verifies a `webhook-signature` header value (one or more space-separated `v1,<base64>`
/// entries; other versions are ignored) and that `timestamp_secs` lies within `tolerance_secs`
/// of `now_secs` (negative tolerance counts as zero).
pub fn verify(
    secret: &SigningSecret,
    msg_id: &str,
    timestamp_secs: i64,
    signature_header: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let tolerance = i128::from(tolerance_secs.max(0));
    let skew = i128::from(now_secs) - i128::from(timestamp_secs);
    if skew > tolerance {
        return Err(VerifyError::TimestampTooOld);
    }
    if -skew > tolerance {
        return Err(VerifyError::TimestampTooNew);
    }

    let expected = secret.keyed_mac(msg_id, timestamp_secs, body);
    let mut matched = false;
    for entry in signature_header.split_whitespace() {
        let Some(encoded) = entry.strip_prefix("v1,") else {
            continue;
        };
        let Ok(candidate) = STANDARD.decode(encoded) else {
            continue;
        };
        // `verify_slice` compares in constant time; every entry is checked so timing does not
        // reveal which one matched.
        if expected.clone().verify_slice(&candidate).is_ok() {
            matched = true;
        }
    }
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TS: i64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn spec_secret() -> SigningSecret {
        SigningSecret::parse(SPEC_SECRET).unwrap()
    }

    #[test]
    fn every_secret_signs_and_each_verifies_alone() {
        let other = SigningSecret::from_bytes(&[7u8; 32]).unwrap();
        let header =
            sign_all(&[spec_secret(), other.clone()], SPEC_ID, SPEC_TS, SPEC_BODY).unwrap();
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.starts_with(SPEC_SIG));
        for secret in [spec_secret(), other] {
            verify(&secret, SPEC_ID, SPEC_TS, &header, SPEC_BODY, SPEC_TS, 0).unwrap();
        }
        assert_eq!(sign_all(&[], SPEC_ID, SPEC_TS, SPEC_BODY), None);
    }

    #[test]
    fn spec_vector_signs() {
        assert_eq!(sign(&spec_secret(), SPEC_ID, SPEC_TS, SPEC_BODY), SPEC_SIG);
    }

    #[test]
    fn spec_vector_verifies() {
        verify(
            &spec_secret(),
            SPEC_ID,
            SPEC_TS,
            SPEC_SIG,
            SPEC_BODY,
            SPEC_TS,
            300,
        )
        .unwrap();
    }

    #[test]
    fn verify_accepts_any_of_several_signatures() {
        let header = format!("v1,AAAA v1a,whatever garbage {SPEC_SIG} v1,!!notbase64");
        verify(
            &spec_secret(),
            SPEC_ID,
            SPEC_TS,
            &header,
            SPEC_BODY,
            SPEC_TS + 10,
            300,
        )
        .unwrap();
    }

    #[test]
    fn verify_rejects_tampering() {
        let s = spec_secret();
        let cases: [(&str, i64, &[u8]); 3] = [
            ("msg_other", SPEC_TS, SPEC_BODY),
            (SPEC_ID, SPEC_TS + 1, SPEC_BODY),
            (SPEC_ID, SPEC_TS, br#"{"test": 2432232315}"#),
        ];
        for (id, ts, body) in cases {
            assert_eq!(
                verify(&s, id, ts, SPEC_SIG, body, ts, 300),
                Err(VerifyError::NoMatchingSignature)
            );
        }
        let other = SigningSecret::from_bytes(&[7u8; 32]).unwrap();
        assert_eq!(
            verify(&other, SPEC_ID, SPEC_TS, SPEC_SIG, SPEC_BODY, SPEC_TS, 300),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify(&s, SPEC_ID, SPEC_TS, "", SPEC_BODY, SPEC_TS, 300),
            Err(VerifyError::NoMatchingSignature)
        );
        // A v1a-style or unversioned signature with the right bytes must not count.
        let bare = SPEC_SIG.trim_start_matches("v1,");
        assert_eq!(
            verify(&s, SPEC_ID, SPEC_TS, bare, SPEC_BODY, SPEC_TS, 300),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn verify_enforces_tolerance() {
        let s = spec_secret();
        let ok = |now| verify(&s, SPEC_ID, SPEC_TS, SPEC_SIG, SPEC_BODY, now, 300);
        assert_eq!(ok(SPEC_TS + 300), Ok(()));
        assert_eq!(ok(SPEC_TS - 300), Ok(()));
        assert_eq!(ok(SPEC_TS + 301), Err(VerifyError::TimestampTooOld));
        assert_eq!(ok(SPEC_TS - 301), Err(VerifyError::TimestampTooNew));
        // Extreme values must not overflow.
        assert_eq!(
            verify(&s, SPEC_ID, SPEC_TS, SPEC_SIG, SPEC_BODY, i64::MAX, 1_000),
            Err(VerifyError::TimestampTooOld)
        );
        assert_eq!(
            verify(
                &s,
                SPEC_ID,
                i64::MAX,
                SPEC_SIG,
                SPEC_BODY,
                i64::MIN,
                i64::MAX
            ),
            Err(VerifyError::TimestampTooNew)
        );
        // Negative tolerance behaves like zero.
        assert_eq!(
            verify(&s, SPEC_ID, SPEC_TS, SPEC_SIG, SPEC_BODY, SPEC_TS + 1, -5),
            Err(VerifyError::TimestampTooOld)
        );
    }

    #[test]
    fn secret_round_trips_and_validates() {
        let s = spec_secret();
        assert_eq!(s.as_bytes().len(), 24);
        assert_eq!(s.to_whsec_string(), SPEC_SECRET);
        assert_eq!(
            SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert_eq!(
            SigningSecret::parse("whsec_***").unwrap_err(),
            SecretError::InvalidBase64
        );
        assert_eq!(
            SigningSecret::from_bytes(&[1u8; 23]).unwrap_err(),
            SecretError::TooShort(23)
        );
        let generated = SigningSecret::generate().unwrap();
        assert_eq!(generated.as_bytes().len(), 32);
        let reparsed = SigningSecret::parse(&generated.to_whsec_string()).unwrap();
        assert_eq!(reparsed.as_bytes(), generated.as_bytes());
        assert_ne!(
            SigningSecret::generate().unwrap().as_bytes(),
            generated.as_bytes()
        );
    }

    #[test]
    fn debug_is_redacted() {
        let s = spec_secret();
        let shown = format!("{s:?}");
        assert_eq!(shown, "SigningSecret(**redacted**)");
        assert!(!shown.contains("MfKQ"));
    }
}
