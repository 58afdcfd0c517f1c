//! One member of a JSON request body as the client sent it.

use facegate_domain::FieldError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// A request member: absent (or `null`), a `T`, or something that is not a
/// `T`. Reading a body into a struct of `Field`s never fails, so each
/// member is refused on its own terms (`FIELD_REQUIRED`, `FIELD_TYPE`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Field<T> {
    /// Absent or `null`.
    #[default]
    Absent,
    Given(T),
    /// Present, but not a `T`.
    Invalid,
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    /// The value if given, `None` if absent, `refusal` if not a `T`.
    pub fn optional(self, refusal: impl FnOnce() -> FieldError) -> Result<Option<T>, FieldError> {
        match self {
            Self::Absent => Ok(None),
            Self::Given(value) => Ok(Some(value)),
            Self::Invalid => Err(refusal()),
        }
    }

    /// As [`Field::optional`], recording the refusal in `errors`.
    pub fn collect(
        self,
        errors: &mut Vec<FieldError>,
        refusal: impl FnOnce() -> FieldError,
    ) -> Option<T> {
        self.optional(refusal).unwrap_or_else(|e| {
            errors.push(e);
            None
        })
    }
}

impl Field<String> {
    /// A non-empty string; absent, `null` and `""` are `FIELD_REQUIRED`.
    pub fn required(self, name: &str) -> Result<String, FieldError> {
        match self.optional(|| mistyped(name, "a string"))? {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(FieldError::required(name)),
        }
    }
}

/// A whole number as the guides' examples send one: a JSON integer, an
/// integral number (`30.0`) or a decimal string (`"30"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WholeNumber(pub i64);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Beyond this a float no longer holds every integer exactly.
        const EXACT: f64 = 9_007_199_254_740_992.0;
        let number = match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < EXACT)
                    .map(|f| f as i64)
            }),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        };
        number
            .map(Self)
            .ok_or_else(|| serde::de::Error::custom("not a whole number"))
    }
}

impl Serialize for WholeNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

/// Text as the guides' examples send it: a JSON string, or a number kept as
/// its decimal text (`1234` → `"1234"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::String(s) => Ok(Self(s)),
            serde_json::Value::Number(n) => Ok(Self(n.to_string())),
            _ => Err(serde::de::Error::custom("not text")),
        }
    }
}

impl From<String> for Field<Text> {
    fn from(text: String) -> Self {
        Self::Given(Text(text))
    }
}

impl From<i64> for Field<WholeNumber> {
    fn from(number: i64) -> Self {
        Self::Given(WholeNumber(number))
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// `FIELD_TYPE`: "`name` must be `what`".
pub fn mistyped(name: &str, what: &str) -> FieldError {
    FieldError::new(name, "FIELD_TYPE", format!("{name} must be {what}"))
}

impl<T> From<T> for Field<T> {
    fn from(value: T) -> Self {
        Self::Given(value)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Null => Self::Absent,
            value => serde_json::from_value(value).map_or(Self::Invalid, Self::Given),
        })
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Given(value) => value.serialize(serializer),
            Self::Absent | Self::Invalid => serializer.serialize_none(),
        }
    }
}

/// Documented as the `T` it should be.
impl<T: PartialSchema> PartialSchema for Field<T> {
    fn schema() -> RefOr<Schema> {
        T::schema()
    }
}

impl<T: ToSchema> ToSchema for Field<T> {
    fn name() -> std::borrow::Cow<'static, str> {
        T::name()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::wire::{FinishAttempt, OpenSession, StartAttempt};

    fn read<T: DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_member_is_absent_given_or_invalid_and_never_fails_the_body() {
        assert_eq!(read::<StartAttempt>("{}").flash, Field::Absent);
        assert_eq!(
            read::<StartAttempt>(r#"{"flash":null}"#).flash,
            Field::Absent
        );
        assert_eq!(
            read::<StartAttempt>(r#"{"flash":false}"#).flash,
            Field::Given(false)
        );
        assert_eq!(
            read::<StartAttempt>(r#"{"flash":"no"}"#).flash,
            Field::Invalid
        );
        let session: OpenSession = read(r#"{"scanSource":"web","other":1}"#);
        assert_eq!(session.scan_source, Field::Invalid);
        assert_eq!(session.authorization_token, Field::Absent);
    }

    #[test]
    fn a_required_string_refuses_absent_null_and_empty_as_required_and_others_as_type() {
        let code = |json: &str| {
            read::<FinishAttempt>(json)
                .nonce
                .required("nonce")
                .map_err(|e| (e.field, e.code))
        };
        for missing in ["{}", r#"{"nonce":null}"#, r#"{"nonce":""}"#] {
            assert_eq!(
                code(missing),
                Err(("nonce".to_owned(), "FIELD_REQUIRED")),
                "{missing}"
            );
        }
        assert_eq!(
            code(r#"{"nonce":7}"#),
            Err(("nonce".to_owned(), "FIELD_TYPE"))
        );
        assert_eq!(code(r#"{"nonce":"n"}"#), Ok("n".to_owned()));
    }

    #[test]
    fn an_absent_member_is_not_written() {
        let body = OpenSession {
            authorization_token: "t".to_owned().into(),
            ..OpenSession::default()
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"authorizationToken":"t"}"#
        );
    }
}
