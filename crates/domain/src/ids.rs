//! Newtype identifiers, so an account id can never be passed where a transaction
//! reference is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A reference that is not a 36-character UUID string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a reference is a 36-character UUID")]
pub struct ParseReferenceError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (v4) identifier.
            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }
            /// Wraps an existing UUID (from storage or a facemap).
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseReferenceError;
            /// Accepts exactly the 36-character hyphenated form the API returns.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if s.len() != 36 {
                    return Err(ParseReferenceError);
                }
                Uuid::try_parse(s).map(Self).map_err(|_| ParseReferenceError)
            }
        }
    };
}

uuid_id!(
    /// A customer account (tenant).
    AccountId
);
uuid_id!(
    /// An enrollment ("ID verification") transaction: the source of a facemap.
    EnrollmentRef
);
uuid_id!(
    /// An authentication transaction.
    TransactionRef
);
uuid_id!(
    /// An API credential (its public half is the token).
    CredentialId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_must_be_the_36_character_form() {
        let r = TransactionRef::new_random();
        assert_eq!(r.to_string().parse::<TransactionRef>(), Ok(r));
        let simple = r.as_uuid().simple().to_string();
        assert_eq!(simple.parse::<TransactionRef>(), Err(ParseReferenceError));
        assert!("".parse::<TransactionRef>().is_err());
        assert!("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"
            .parse::<TransactionRef>()
            .is_err());
    }
}
