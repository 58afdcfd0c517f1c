//! The one timestamp format of the API: UTC `YYYY-MM-DDThh:mm:ss.SSSZ`.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use facegate_domain::time::format_timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// An instant as every answer and callback carries it, e.g.
/// `2026-01-02T03:04:05.000Z`. Reading one accepts exactly that form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self(at)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_timestamp(self.0))
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .ok()
            .map(|at| at.with_timezone(&Utc))
            .filter(|at| format_timestamp(*at) == text)
            .map(Self)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{text:?} is not a timestamp of the form 2026-01-02T03:04:05.000Z"
                ))
            })
    }
}

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"))
            .description(Some("A UTC instant with milliseconds."))
            .examples([serde_json::json!("2026-01-02T03:04:05.000Z")])
            .into()
    }
}

impl ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_timestamp_reads_back_only_in_its_own_form() {
        let at = Timestamp(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let text = serde_json::to_string(&at).unwrap();
        assert_eq!(text, r#""2026-01-02T03:04:05.000Z""#);
        assert_eq!(serde_json::from_str::<Timestamp>(&text).unwrap(), at);
        for other in [
            r#""2026-01-02T03:04:05Z""#,
            r#""2026-01-02T03:04:05.000+00:00""#,
            r#""2026-01-02 03:04:05.000Z""#,
        ] {
            assert!(serde_json::from_str::<Timestamp>(other).is_err(), "{other}");
        }
    }
}
