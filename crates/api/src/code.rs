//! The stable problem codes: each with its HTTP status and title. The one
//! table every refusal names; `docs/errors.md` documents it.

use axum::http::StatusCode;

macro_rules! codes {
    ($($variant:ident = ($status:expr, $title:expr)),* $(,)?) => {
        /// A stable, documented error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code { $($variant),* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub fn status(self) -> StatusCode {
                match self { $(Code::$variant => $status),* }
            }

            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title),* }
            }

            /// The code as it appears in `code`, e.g. `ENROLLMENT_NOT_DELETED`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => stringify!($variant)),* }
            }
        }
    };
}

#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
mod table {
    use super::*;
    codes! {
        MISSING_USER_AGENT = (StatusCode::BAD_REQUEST, "The User-Agent header is required"),
        MISSING_ACCEPT = (StatusCode::BAD_REQUEST, "The Accept header is required"),
        MALFORMED_PATH = (StatusCode::BAD_REQUEST, "The path could not be decoded"),
        VALIDATION_FAILED = (StatusCode::BAD_REQUEST, "The request has invalid fields"),
        MALFORMED_JSON = (StatusCode::BAD_REQUEST, "The JSON could not be parsed"),
        MALFORMED_MULTIPART = (StatusCode::BAD_REQUEST, "The multipart body could not be parsed"),
        FACEMAP_INVALID = (StatusCode::BAD_REQUEST, "The facemap is not a Facegate facemap"),
        FACEMAP_UNSUPPORTED_VERSION = (StatusCode::BAD_REQUEST, "The facemap format version is not supported"),
        FACEMAP_UNKNOWN_KEY = (StatusCode::BAD_REQUEST, "The facemap was sealed with an unknown key"),
        FACEMAP_TAMPERED = (StatusCode::BAD_REQUEST, "The facemap failed its integrity check"),
        FACEMAP_ENROLLMENT_MISMATCH = (StatusCode::BAD_REQUEST, "The facemap belongs to another enrollment"),
        FACEMAP_UNSUPPORTED_MODEL = (StatusCode::BAD_REQUEST, "The facemap's face model is not supported"),
        FRAME_INVALID = (StatusCode::BAD_REQUEST, "The frame or its capture headers are invalid"),
        DOCUMENT_INVALID = (StatusCode::BAD_REQUEST, "The document side is not an acceptable image"),
        UNAUTHENTICATED = (StatusCode::UNAUTHORIZED, "Missing or invalid credentials"),
        CAPTURE_TOKEN_INVALID = (StatusCode::UNAUTHORIZED, "The authorization token is unknown or no longer valid"),
        CAPTURE_SESSION_INVALID = (StatusCode::UNAUTHORIZED, "The capture token is missing, unknown or replaced"),
        CAPTURE_SESSION_EXPIRED = (StatusCode::UNAUTHORIZED, "The capture session has expired"),
        FORBIDDEN_ROLE = (StatusCode::FORBIDDEN, "The credential's role does not allow this call"),
        FEATURE_NOT_ENABLED = (StatusCode::FORBIDDEN, "Facemap authentication is not enabled for this account"),
        FACEMAP_WRONG_ACCOUNT = (StatusCode::FORBIDDEN, "The facemap belongs to another account"),
        NOT_FOUND = (StatusCode::NOT_FOUND, "No such resource"),
        ENROLLMENT_NOT_FOUND = (StatusCode::NOT_FOUND, "No such enrollment"),
        TRANSACTION_NOT_FOUND = (StatusCode::NOT_FOUND, "No such transaction"),
        IMAGE_NOT_FOUND = (StatusCode::NOT_FOUND, "No such image"),
        ATTEMPT_NOT_FOUND = (StatusCode::NOT_FOUND, "No such capture attempt"),
        SCAN_NOT_FOUND = (StatusCode::NOT_FOUND, "No such ID verification"),
        FACEMAP_NOT_FOUND = (StatusCode::NOT_FOUND, "The ID verification holds no facemap"),
        SCAN_NOT_DECIDED = (StatusCode::CONFLICT, "The ID verification is not decided yet"),
        SCAN_NOTHING_TO_REVIEW = (StatusCode::CONFLICT, "The user never finished the ID verification"),
        REVIEW_UNCHANGED = (StatusCode::CONFLICT, "The ID verification already has this verdict"),
        METHOD_NOT_ALLOWED = (StatusCode::METHOD_NOT_ALLOWED, "Method not allowed"),
        ENROLLMENT_NOT_DELETED = (StatusCode::CONFLICT, "The enrollment must be deleted first"),
        ENROLLMENT_DELETED = (StatusCode::CONFLICT, "The enrollment has been deleted"),
        ENROLLMENT_NOT_APPROVED = (StatusCode::CONFLICT, "The enrollment was not APPROVED_VERIFIED"),
        ENROLLMENT_SIMILARITY_NOT_MATCH = (StatusCode::CONFLICT, "The enrollment's similarity is not MATCH"),
        ENROLLMENT_VALIDITY_NOT_TRUE = (StatusCode::CONFLICT, "The enrollment's validity is not TRUE"),
        ENROLLMENT_NO_FACEMAP = (StatusCode::CONFLICT, "The enrollment has no facemap"),
        FACEMAP_REVOKED = (StatusCode::CONFLICT, "The facemap has been revoked or superseded"),
        TRANSACTION_EXPIRED = (StatusCode::CONFLICT, "The transaction's lifetime is over"),
        TRANSACTION_FINISHED = (StatusCode::CONFLICT, "The transaction already has its final result"),
        ATTEMPTS_EXHAUSTED = (StatusCode::CONFLICT, "All capture attempts have been used"),
        NONCE_MISMATCH = (StatusCode::CONFLICT, "The nonce is not the attempt's nonce"),
        NONCE_REPLAYED = (StatusCode::CONFLICT, "The nonce was already used"),
        ATTEMPT_FINISHED = (StatusCode::CONFLICT, "The capture attempt is over"),
        FRAME_OUT_OF_WINDOW = (StatusCode::CONFLICT, "The frame is outside the challenge's time window"),
        FRAME_OUT_OF_ORDER = (StatusCode::CONFLICT, "The frame is out of order"),
        FRAME_LIMIT = (StatusCode::CONFLICT, "The attempt has all its frames"),
        FRAME_TOO_FAST = (StatusCode::CONFLICT, "The frame comes sooner than the frame rate allows"),
        CAPTURE_NOT_A_SCAN = (StatusCode::CONFLICT, "The capture session is not an ID verification's"),
        CAPTURE_METHOD_NOT_ALLOWED = (StatusCode::CONFLICT, "The workflow does not allow this capture method"),
        DOCUMENT_SIDE_NOT_NEEDED = (StatusCode::CONFLICT, "The document type has no such side"),
        DOCUMENT_SIDE_MISSING = (StatusCode::CONFLICT, "A document side the ID verification needs is missing"),
        SELFIE_REQUIRED = (StatusCode::CONFLICT, "The ID verification ends with its selfie"),
        SELFIE_NOT_NEEDED = (StatusCode::CONFLICT, "The ID verification takes no selfie"),
        PAYLOAD_TOO_LARGE = (StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large"),
        FRAME_TOO_LARGE = (StatusCode::PAYLOAD_TOO_LARGE, "The frame is too large"),
        DOCUMENT_TOO_LARGE = (StatusCode::PAYLOAD_TOO_LARGE, "The document side is too large"),
        UNSUPPORTED_MEDIA_TYPE = (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Content-Type"),
        RATE_LIMITED = (StatusCode::TOO_MANY_REQUESTS, "Too many failed attempts"),
        ENROLLMENT_LOCKED = (StatusCode::TOO_MANY_REQUESTS, "Too many failed authentications of this enrollment"),
        INITIATION_RATE_LIMITED = (StatusCode::TOO_MANY_REQUESTS, "Too many initiations for this account"),
        INTERNAL_ERROR = (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
        SERVICE_UNAVAILABLE = (StatusCode::SERVICE_UNAVAILABLE, "The service is not ready"),
        KEY_UNAVAILABLE = (StatusCode::SERVICE_UNAVAILABLE, "A master key the data is sealed with is not loaded"),
        AUTHENTICATION_BUSY = (StatusCode::SERVICE_UNAVAILABLE, "Too many credential checks at once"),
        TIMEOUT = (StatusCode::SERVICE_UNAVAILABLE, "The request took too long"),
        CONFLICT = (StatusCode::CONFLICT, "The request conflicts with a concurrent change"),
        CAPTURE_BUSY = (StatusCode::SERVICE_UNAVAILABLE, "Too many frames are being uploaded"),
        SERVER_BUSY = (StatusCode::SERVICE_UNAVAILABLE, "Too many requests in flight"),
        DOCUMENT_ENGINE_UNAVAILABLE = (StatusCode::SERVICE_UNAVAILABLE, "This deployment has no document engine"),
    }
}
pub use table::Code;
