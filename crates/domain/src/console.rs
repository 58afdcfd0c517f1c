//! The operator console's rules (issue #12): who may sign in (user names
//! and passwords), how long a session lives, and when sign-in is throttled.
//! The console shows and reviews one account's ID verifications; its users
//! are made with the command line.

use chrono::{DateTime, Duration, Utc};

use crate::input::FieldError;

/// A console user's name: 3 to 64 of `a-z 0-9 . _ @ -`, compared in lower
/// case (an e-mail address works as a name).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsoleUsername(String);

impl ConsoleUsername {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim().to_ascii_lowercase();
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c);
        if !(3..=64).contains(&name.len()) || !name.chars().all(allowed) {
            return Err(FieldError::new(
                "username",
                "FIELD_INVALID",
                "a user name is 3 to 64 of a-z, 0-9, '.', '_', '@' and '-'",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The shortest and longest password, in characters (NIST SP 800-63B §5.1.1:
/// length, not composition rules).
pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Checks a new password: 12 to 128 characters, not the user name.
pub fn check_new_password(password: &str, username: &ConsoleUsername) -> Result<(), FieldError> {
    let chars = password.chars().count();
    let refuse = |detail: &str| Err(FieldError::new("password", "FIELD_INVALID", detail));
    if chars < MIN_PASSWORD_CHARS {
        return refuse("a password has at least 12 characters");
    }
    if chars > MAX_PASSWORD_CHARS {
        return refuse("a password has at most 128 characters");
    }
    if password.eq_ignore_ascii_case(username.as_str()) {
        return refuse("the password must not be the user name");
    }
    Ok(())
}

/// How long a console session lives: it ends after `idle` without a
/// request, and `absolute` after sign-in whatever happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(15),
            absolute: Duration::hours(8),
        }
    }
}

impl SessionPolicy {
    pub fn is_live(
        &self,
        signed_in_at: DateTime<Utc>,
        last_seen_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        now < last_seen_at + self.idle && now < signed_in_at + self.absolute
    }
}

/// Sign-in throttling per user name: after `max_failures` wrong passwords
/// within `window`, sign-in is refused until the oldest of them leaves the
/// window, right password or not (so guessing gains nothing by going on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub max_failures: u32,
    pub window: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::minutes(15),
        }
    }
}

impl LoginThrottle {
    /// How long a sign-in at `now` must wait, given the failures within the
    /// window (oldest first); `None` when it may be tried.
    pub fn retry_after(&self, failures: &[DateTime<Utc>], now: DateTime<Utc>) -> Option<Duration> {
        let recent: Vec<&DateTime<Utc>> = failures
            .iter()
            .filter(|t| **t > now - self.window)
            .collect();
        if (recent.len() as u64) < u64::from(self.max_failures) {
            return None;
        }
        let oldest = recent.iter().min()?;
        Some(**oldest + self.window - now)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
    }

    #[test]
    fn user_names_are_lower_case_letters_digits_and_a_few_marks() {
        assert_eq!(
            ConsoleUsername::parse(" Ana.Reviewer@Acme.example ")
                .unwrap()
                .as_str(),
            "ana.reviewer@acme.example"
        );
        for bad in ["ab", "a b c", "ana<script>", &"a".repeat(65), "", "änna"] {
            assert!(ConsoleUsername::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_are_long_enough_and_not_the_name() {
        let name = ConsoleUsername::parse("reviewer").unwrap();
        assert!(check_new_password("correct horse battery", &name).is_ok());
        assert!(check_new_password("short", &name).is_err());
        assert!(check_new_password(&"x".repeat(129), &name).is_err());
        let long = ConsoleUsername::parse("reviewer-of-acme").unwrap();
        assert!(check_new_password("REVIEWER-OF-ACME", &long).is_err());
    }

    #[test]
    fn a_session_ends_when_idle_or_when_too_old() {
        let p = SessionPolicy::default();
        assert!(p.is_live(t0(), t0(), t0() + Duration::minutes(14)));
        assert!(!p.is_live(t0(), t0(), t0() + Duration::minutes(15)));
        let busy = t0() + Duration::hours(8) - Duration::minutes(1);
        assert!(p.is_live(t0(), busy, busy));
        assert!(!p.is_live(t0(), busy, t0() + Duration::hours(8)));
    }

    #[test]
    fn the_sixth_try_after_five_failures_waits_until_the_first_leaves_the_window() {
        let t = LoginThrottle::default();
        let failures: Vec<DateTime<Utc>> = (0..5).map(|i| t0() + Duration::minutes(i)).collect();
        assert_eq!(
            t.retry_after(&failures[..4], t0() + Duration::minutes(5)),
            None
        );
        assert_eq!(
            t.retry_after(&failures, t0() + Duration::minutes(5)),
            Some(Duration::minutes(10))
        );
        assert_eq!(t.retry_after(&failures, t0() + Duration::minutes(15)), None);
    }

    proptest! {
        #[test]
        fn user_name_parsing_never_panics_and_keeps_only_allowed_names(raw in "\\PC{0,80}") {
            if let Ok(name) = ConsoleUsername::parse(&raw) {
                let s = name.as_str();
                prop_assert!((3..=64).contains(&s.len()));
                prop_assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._@-".contains(c)));
            }
        }
    }
}
