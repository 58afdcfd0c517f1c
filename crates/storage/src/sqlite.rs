//! The SQLite store: one database file in WAL mode, one writer connection so
//! that writes serialise inside the process, and a small pool of readers.
//!
//! This file holds the connections and what every aggregate's file shares:
//! the write transaction (`begin_write`, `commit`), `row` and `rows`, which
//! read every selected row through the value's one reader (`codec::FromRow`),
//! and `execute`. Each aggregate's trait is implemented in its own file
//! (`sqlite/accounts.rs`, `enrollments.rs`, `transactions.rs`, `capture.rs`,
//! `images.rs`, `outbox.rs`, `keys.rs`). A write that spans aggregates (a
//! final state, its failure count, its images and its callback) calls the
//! `pub(super)` helpers of the aggregates it touches, on the caller's
//! database transaction: `transactions::finalize_in` is the one that every
//! final state goes through.

mod accounts;
mod capture;
mod codec;
mod console;
mod enrollments;
mod frames;
mod images;
mod keys;
mod outbox;
mod scans;
mod transactions;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, SqliteExecutor};

use self::codec::{db_err, FromRow};
use crate::{Database, StoreError, StoreResult};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Readers never block the writer in WAL mode; a few suffice for the API.
const READ_CONNECTIONS: u32 = 4;
const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// Starts every write transaction. IMMEDIATE takes the write lock up front, so
/// a transaction that reads before it writes can never fail on lock upgrade
/// (relevant when another process, e.g. an admin CLI, shares the file).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// The open (non-final) states, spelled as in the schema's partial index so
/// that SQLite can use it.
const OPEN_STATES: &str = "state IN ('CREATED', 'STARTED')";

/// A statement with its bound values.
type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// A database transaction: a write one from [`SqliteStore::begin_write`], or
/// a read one for a consistent snapshot.
type DbTx = sqlx::Transaction<'static, Sqlite>;

/// A [`crate::Store`] backed by one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: every write goes through it, in order.
    write: SqlitePool,
    read: SqlitePool,
    /// Set when erased content may still sit in the WAL file because its
    /// checkpoint could not complete; the next
    /// [`crate::OutboxStore::purge_callback_history`] retries it.
    erasure_pending: Arc<AtomicBool>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `path`. Run
    /// [`Database::migrate`] before first use.
    #[tracing::instrument(skip_all)]
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            // A state change reported to the customer must survive a power cut.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // Deleted and overwritten content (erased personal data) is
            // zeroed in its page instead of lingering in free space.
            .pragma("secure_delete", "ON");

        // The writer is opened first: it creates the file and switches it to
        // WAL (a persistent property of the file), before any reader connects.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // Keeping the writer open keeps the WAL index alive between bursts.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(
                base.clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal),
            )
            .await
            .map_err(db_err)?;

        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            // A write through a reader would bypass the writer's serialisation.
            .connect_with(base.create_if_missing(false).pragma("query_only", "ON"))
            .await
            .map_err(db_err)?;

        Ok(SqliteStore {
            write,
            read,
            erasure_pending: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Closes both pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    async fn begin_write(&self) -> StoreResult<DbTx> {
        self.write.begin_with(BEGIN_WRITE).await.map_err(db_err)
    }

    /// Notes that erased content may sit in the WAL until the next retention
    /// sweep flushes it.
    fn mark_erasure_pending(&self) {
        self.erasure_pending.store(true, Ordering::SeqCst);
    }

    /// Moves every committed page into the database file and truncates the
    /// WAL. `secure_delete` zeroes erased content in the new page versions,
    /// but the WAL still holds the older versions (the inserts) until it is
    /// truncated. Readers holding an older snapshot can make it incomplete;
    /// it is then retried by the next retention sweep.
    async fn flush_erasure(&self) {
        let done: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.write)
            .await;
        let complete = matches!(done, Ok((0, _, _)));
        self.erasure_pending.store(!complete, Ordering::SeqCst);
        if !complete {
            tracing::warn!("erased content stays in the WAL until the next retention sweep");
        }
    }

    /// Whether erased content may still sit in the WAL.
    fn is_erasure_pending(&self) -> bool {
        self.erasure_pending.load(Ordering::SeqCst)
    }
}

/// The one row `query` selects, read by `T`'s reader; `None` when there is none.
async fn row<'c, T: FromRow>(
    query: Query<'_>,
    db: impl SqliteExecutor<'c>,
) -> StoreResult<Option<T>> {
    query
        .fetch_optional(db)
        .await
        .map_err(db_err)?
        .as_ref()
        .map(T::from_row)
        .transpose()
}

/// Every row `query` selects, read by the same reader as [`row`].
async fn rows<'c, T: FromRow>(
    query: Query<'_>,
    db: impl SqliteExecutor<'c>,
) -> StoreResult<Vec<T>> {
    query
        .fetch_all(db)
        .await
        .map_err(db_err)?
        .iter()
        .map(T::from_row)
        .collect()
}

async fn commit(db: DbTx) -> StoreResult<()> {
    db.commit().await.map_err(db_err)
}

/// Runs a statement; returns how many rows it changed.
async fn execute<'c>(query: Query<'_>, db: impl SqliteExecutor<'c>) -> StoreResult<u64> {
    Ok(query.execute(db).await.map_err(db_err)?.rows_affected())
}

#[async_trait]
impl Database for SqliteStore {
    #[tracing::instrument(skip_all)]
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.write).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => db_err(e),
            e => StoreError::Backend(e.to_string()),
        })
    }

    #[tracing::instrument(skip_all)]
    async fn ping(&self) -> StoreResult<()> {
        execute(sqlx::query("SELECT 1"), &self.read).await?;
        Ok(())
    }
}
