//! [`DatabaseUrl`]: which database a store connects to, parsed once from its
//! URL. The URL may carry a password, so it is only ever shown redacted.

use std::fmt;
use std::path::{Path, PathBuf};

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::Dialect;
use crate::{StoreError, StoreResult};

/// Bytes of a file path kept as they are in a `sqlite://` URL; every other
/// byte (`?`, `#`, `%`, spaces, non-ASCII) is percent-encoded.
const PATH_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A database URL: `sqlite://PATH` (a file, `?mode=rwc` to create it) or
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?OPTIONS]`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    /// Normalised by the URL parser, as the driver reads it.
    url: String,
    dialect: Dialect,
    /// The database file of a SQLite URL.
    sqlite_path: Option<PathBuf>,
}

impl DatabaseUrl {
    /// Parses a `sqlite:` or `postgres:` (`postgresql:`) URL. The error
    /// never repeats the URL, which may hold a password.
    pub fn parse(text: &str) -> StoreResult<DatabaseUrl> {
        let invalid = |what: &str| StoreError::Backend(format!("database_url: {what}"));
        let parsed = ::url::Url::parse(text).map_err(|_| invalid("not a URL"))?;
        let url = parsed.as_str().to_owned();
        match parsed.scheme() {
            "sqlite" => {
                // As the SQLite driver reads it: the rest up to `?` is the
                // file's path (`sqlite://db.sqlite3` is relative).
                let rest = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
                let path = percent_decode_str(path)
                    .decode_utf8()
                    .map_err(|_| invalid("the SQLite path is not UTF-8"))?;
                let in_memory = path.is_empty()
                    || path == ":memory:"
                    || ::url::form_urlencoded::parse(query.as_bytes())
                        .any(|(k, v)| k == "mode" && v == "memory");
                if in_memory {
                    // Every connection of the pools would get a database of its own.
                    return Err(invalid("an in-memory SQLite database is not supported"));
                }
                let sqlite_path = Some(PathBuf::from(path.as_ref()));
                Ok(DatabaseUrl {
                    url,
                    dialect: Dialect::Sqlite,
                    sqlite_path,
                })
            }
            "postgres" | "postgresql" => Ok(DatabaseUrl {
                url,
                dialect: Dialect::Postgres,
                sqlite_path: None,
            }),
            _ => Err(invalid("the scheme must be sqlite: or postgres:")),
        }
    }

    /// The SQLite database file at `path`, created when missing.
    pub fn sqlite_file(path: &Path) -> StoreResult<DatabaseUrl> {
        let absolute = std::path::absolute(path)
            .map_err(|e| StoreError::Backend(format!("database path: {e}")))?;
        let text = absolute
            .to_str()
            .ok_or_else(|| StoreError::Backend("the database path is not UTF-8".to_owned()))?;
        let encoded = utf8_percent_encode(text, PATH_KEEP);
        DatabaseUrl::parse(&format!("sqlite://{encoded}?mode=rwc"))
    }

    /// Which backend the URL names.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The database file, for a SQLite URL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.sqlite_path.as_deref()
    }

    /// The whole URL, password included: for the driver, or a child process
    /// that must reach the same database. Never log it; see [`Self::redacted`].
    pub fn expose_secret(&self) -> &str {
        &self.url
    }

    /// For logs and messages: the backend, user, host, port and database
    /// (SQLite: the file), never a password or the connection options.
    pub fn redacted(&self) -> String {
        if let Some(path) = &self.sqlite_path {
            return format!("sqlite://{}", path.display());
        }
        let Ok(parsed) = ::url::Url::parse(&self.url) else {
            return "postgres://(unparsable)".to_owned();
        };
        let user = match parsed.username() {
            "" => String::new(),
            user => format!("{user}@"),
        };
        let host = parsed.host_str().unwrap_or("");
        let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}://{user}{host}{port}{}", parsed.scheme(), parsed.path())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_postgres_url_is_shown_without_its_password_or_options() {
        let url = DatabaseUrl::parse(
            "postgres://fg:s3cret@db.example:5433/facegate?options=-c%20search_path%3Dx&password=p2",
        )
        .unwrap();
        assert_eq!(url.dialect(), Dialect::Postgres);
        assert_eq!(url.redacted(), "postgres://fg@db.example:5433/facegate");
        for shown in [url.to_string(), format!("{url:?}")] {
            assert!(
                !shown.contains("s3cret") && !shown.contains("p2"),
                "{shown}"
            );
        }
        assert!(DatabaseUrl::parse("postgresql://db/facegate").is_ok());
    }

    #[test]
    fn a_sqlite_file_round_trips_through_its_url() {
        let path = Path::new("/var/lib/face gate/a?b#c%d/facegate.sqlite3");
        let url = DatabaseUrl::sqlite_file(path).unwrap();
        assert_eq!(url.dialect(), Dialect::Sqlite);
        assert_eq!(url.sqlite_path(), Some(path));
        assert!(
            url.expose_secret().ends_with("?mode=rwc"),
            "{}",
            url.expose_secret()
        );
        let relative = DatabaseUrl::parse("sqlite://data/facegate.sqlite3").unwrap();
        assert_eq!(
            relative.sqlite_path(),
            Some(Path::new("data/facegate.sqlite3"))
        );
    }

    #[test]
    fn unsupported_urls_are_refused_without_repeating_them() {
        for bad in [
            "mysql://u:hunter2@h/db",
            "sqlite::memory:",
            "sqlite://x.db?mode=memory",
            "not a url hunter2",
        ] {
            let message = DatabaseUrl::parse(bad).unwrap_err().to_string();
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
