//! Fresh databases for the test suites (the `testing` feature): a SQLite
//! file in a temporary directory, or an empty schema of its own on the test
//! PostgreSQL server, so that tests run side by side without seeing each
//! other's rows.
//!
//! The PostgreSQL server is `FACEGATE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be reached
//! a test prints `SKIPPED: PostgreSQL unreachable at …` and passes, unless
//! `FACEGATE_REQUIRE_POSTGRES=1`, which makes it fail (CI sets it).

use std::str::FromStr;
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions, Connection, Executor};

use crate::DatabaseUrl;

/// The test PostgreSQL server's URL.
pub const POSTGRES_URL_ENV: &str = "FACEGATE_TEST_POSTGRES_URL";
/// `1`: a test that cannot reach PostgreSQL fails instead of skipping.
pub const REQUIRE_POSTGRES_ENV: &str = "FACEGATE_REQUIRE_POSTGRES";
/// Which backend the API test suite runs on: `sqlite` (default) or `postgres`.
pub const TEST_DATABASE_ENV: &str = "FACEGATE_TEST_DATABASE";
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Schemas of crashed or killed test runs are dropped once this old.
const STALE_AFTER_SECS: u64 = 3600;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The API suite's backend, from `FACEGATE_TEST_DATABASE`.
    pub fn from_env() -> Result<Backend, String> {
        match std::env::var(TEST_DATABASE_ENV).as_deref() {
            Err(_) | Ok("" | "sqlite") => Ok(Backend::Sqlite),
            Ok("postgres") => Ok(Backend::Postgres),
            Ok(other) => Err(format!(
                "{TEST_DATABASE_ENV} must be sqlite or postgres, not {other:?}"
            )),
        }
    }
}

/// The test server's URL (it may hold a password: never printed whole).
pub fn postgres_base_url() -> String {
    std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

fn required() -> bool {
    std::env::var(REQUIRE_POSTGRES_ENV).is_ok_and(|v| v == "1")
}

/// An empty schema of its own on the test PostgreSQL server, dropped when
/// this value is (best effort: a schema left by a killed run is dropped by a
/// later run once it is an hour old).
pub struct PostgresSchema {
    base: String,
    name: String,
    url: DatabaseUrl,
}

impl PostgresSchema {
    /// A fresh schema. `Ok(None)` (after printing `SKIPPED: …`) when the
    /// server cannot be reached and [`REQUIRE_POSTGRES_ENV`] is not `1`;
    /// `Err` when it is.
    pub async fn create() -> Result<Option<PostgresSchema>, String> {
        let base = postgres_base_url();
        let shown = DatabaseUrl::parse(&base)
            .map(|u| u.redacted())
            .map_err(|e| format!("{POSTGRES_URL_ENV}: {e}"))?;
        let mut conn = match connect(&base).await {
            Ok(conn) => conn,
            Err(e) if required() => {
                return Err(format!(
                    "PostgreSQL unreachable at {shown} ({e}) and {REQUIRE_POSTGRES_ENV}=1"
                ))
            }
            Err(e) => {
                eprintln!(
                    "SKIPPED: PostgreSQL unreachable at {shown} ({e}); set {POSTGRES_URL_ENV} to test on it"
                );
                return Ok(None);
            }
        };
        sweep_stale(&mut conn).await;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let name = format!("fg_{secs}_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE SCHEMA {name}").as_str())
            .await
            .map_err(|e| format!("creating schema {name}: {e}"))?;
        let _ = conn.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = DatabaseUrl::parse(&format!(
            "{base}{separator}options=-c%20search_path%3D{name}"
        ))
        .map_err(|e| e.to_string())?;
        Ok(Some(PostgresSchema { base, name, url }))
    }

    /// Connects to the schema: every table the store makes lands in it.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for PostgresSchema {
    /// Dropped from a thread of its own: a test's runtime may be the one
    /// that still has to finish a transaction in the schema.
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                for _ in 0..10 {
                    if drop_schema(&base, &name).await.is_ok() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            });
        });
    }
}

async fn connect(url: &str) -> Result<AnyConnection, String> {
    sqlx::any::install_default_drivers();
    let options = AnyConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connection timed out".to_owned()),
    }
}

async fn drop_schema(base: &str, name: &str) -> Result<(), String> {
    let mut conn = connect(base).await?;
    conn.execute("SET lock_timeout = '2s'")
        .await
        .map_err(|e| e.to_string())?;
    conn.execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str())
        .await
        .map_err(|e| e.to_string())?;
    let _ = conn.close().await;
    Ok(())
}

/// Drops, once per process, the test schemas older than an hour.
async fn sweep_stale(conn: &mut AnyConnection) {
    static SWEPT: Once = Once::new();
    let mut first = false;
    SWEPT.call_once(|| first = true);
    if !first {
        return;
    }
    let Ok(names) = sqlx::query_scalar::<_, String>(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'fg\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    for name in names {
        let made = name
            .split('_')
            .nth(1)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(now);
        let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid && now.saturating_sub(made) > STALE_AFTER_SECS {
            let _ = conn
                .execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str())
                .await;
        }
    }
}
