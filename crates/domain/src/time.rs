//! The one timestamp format of the API: UTC `YYYY-MM-DDThh:mm:ss.SSSZ`.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats a timestamp the way every API answer and callback carries it.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_have_milliseconds_and_a_z() {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single();
        assert_eq!(
            at.map(format_timestamp).as_deref(),
            Some("2026-01-02T03:04:05.000Z")
        );
    }
}
