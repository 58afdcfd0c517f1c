//! The SQL store: every storage trait over sqlx's `Any` driver, so that one
//! set of queries serves SQLite (the zero-set-up default) and PostgreSQL.
//!
//! This file holds the connections and what every aggregate's file shares:
//! the write transaction (`begin_write`, `commit`), `row` and `rows`, which
//! read every selected row through the value's one reader (`codec::FromRow`),
//! and `execute`. Each aggregate's trait is implemented in its own file
//! (`sql/accounts.rs`, `enrollments.rs`, `transactions.rs`, `capture.rs`,
//! `images.rs`, `outbox.rs`, `keys.rs`, `scans.rs`, `console.rs`). A write
//! that spans aggregates (a final state, its failure count, its images and
//! its callback) calls the `pub(super)` helpers of the aggregates it touches,
//! on the caller's database transaction: `transactions::finalize_in` is the
//! one that every final state goes through.
//!
//! Queries are written once, with numbered `$N` placeholders (both drivers
//! bind them by number), and read and bind only the types the `Any` driver
//! carries: `i64`, `String`, `Vec<u8>` and their `Option`s (booleans are
//! stored as 0/1 integers). What differs between the backends is the
//! [`Dialect`]:
//!
//! - **SQLite**: one database file in WAL mode, one writer connection so that
//!   writes serialise inside the process (`BEGIN IMMEDIATE`), and a small
//!   pool of `query_only` readers. A read-then-write transaction is correct
//!   because nothing else writes meanwhile. Concurrent initiations share
//!   one commit, each in a savepoint of its own (`sql/group_commit.rs`):
//!   the fsync per commit is what bounds the single writer.
//! - **PostgreSQL**: one pool, shared by several server nodes. A write
//!   transaction that reads rows before changing them locks them first
//!   ([`Dialect::lock_rows`]), outbox claims skip rows another node is
//!   claiming ([`Dialect::claim_rows`]), and every final-state change keeps
//!   its `WHERE state IN (...)` guard, which PostgreSQL re-checks after
//!   waiting for a concurrent writer of the row.

mod accounts;
mod capture;
mod codec;
mod console;
mod database_url;
mod enrollments;
mod frames;
mod group_commit;
mod images;
mod keys;
mod outbox;
mod scans;
mod transactions;

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, AnyPool, Executor};

use self::codec::{db_err, FromRow};
pub use self::database_url::DatabaseUrl;
use self::group_commit::GroupCommit;
use crate::{Database, StoreError, StoreResult};

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// SQLite readers never block the writer in WAL mode; a few suffice for the API.
const SQLITE_READ_CONNECTIONS: u32 = 4;

/// The connections a PostgreSQL store opens at most, unless configured.
pub const DEFAULT_POOL_SIZE: u32 = 10;

/// The open (non-final) states, spelled as in the schema's partial index so
/// that the planner can use it.
const OPEN_STATES: &str = "state IN ('CREATED', 'STARTED')";

/// A statement with its bound values.
type Query<'q> = sqlx::query::Query<'q, Any, AnyArguments<'q>>;

/// A database transaction: a write one from [`SqlStore::begin_write`], or a
/// read one for a consistent snapshot ([`SqlStore::begin_snapshot`]).
type DbTx = sqlx::Transaction<'static, Any>;

/// The SQL a backend needs spelled its own way; chosen from the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The dialect of an open connection, for the helpers that run on a
    /// caller's database transaction.
    fn of(conn: &AnyConnection) -> Dialect {
        if conn.backend_name() == "PostgreSQL" {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        }
    }

    /// Starts every write transaction. SQLite's IMMEDIATE takes the write lock
    /// up front, so a transaction that reads before it writes never fails on
    /// lock upgrade (relevant when another process, e.g. an admin CLI, shares
    /// the file). PostgreSQL's writers lock the rows they read instead.
    fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// Starts a read-only transaction whose statements all see one snapshot
    /// (SQLite's deferred transaction does; PostgreSQL's default READ
    /// COMMITTED takes a new snapshot per statement).
    fn begin_snapshot(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        }
    }

    /// Ends a `SELECT` in a write transaction whose rows the transaction then
    /// changes or relies on: concurrent writers of those rows wait for it.
    /// (`NO KEY UPDATE`, so that inserting rows that reference them, which
    /// takes a `KEY SHARE` lock, is not held up: no deadlock between an
    /// initiation and a finalisation that counts a failure.) SQLite's single
    /// writer already excludes them.
    fn lock_rows(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// Ends an outbox claim's `SELECT`: rows another node is claiming are
    /// skipped, so that exactly one node claims each.
    fn claim_rows(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR NO KEY UPDATE SKIP LOCKED",
        }
    }
}

/// A [`crate::Store`] on SQLite or PostgreSQL.
#[derive(Debug, Clone)]
pub struct SqlStore {
    dialect: Dialect,
    /// SQLite: exactly one connection, every write goes through it, in order.
    /// PostgreSQL: the same pool as `read`.
    write: AnyPool,
    read: AnyPool,
    /// SQLite: set when erased content may still sit in the WAL file because
    /// its checkpoint could not complete; the next
    /// [`crate::OutboxStore::purge_callback_history`] retries it.
    erasure_pending: Arc<AtomicBool>,
    /// SQLite: concurrent initiations share one commit
    /// (`sql/group_commit.rs`). PostgreSQL commits each on its own
    /// connection.
    group: Option<Arc<GroupCommit>>,
}

/// The name the store had when SQLite was its only backend.
pub type SqliteStore = SqlStore;

impl SqlStore {
    /// Opens (creating if missing) the SQLite database at `path`. Run
    /// [`Database::migrate`] before first use.
    #[tracing::instrument(skip_all)]
    pub async fn open(path: &Path) -> StoreResult<SqlStore> {
        SqlStore::connect(&DatabaseUrl::sqlite_file(path)?, DEFAULT_POOL_SIZE).await
    }

    /// Connects to the database `url` names. `pool_size` bounds a PostgreSQL
    /// store's connections; a SQLite store has one writer and a few readers.
    /// Run [`Database::migrate`] before first use.
    #[tracing::instrument(skip_all, fields(database = %url))]
    pub async fn connect(url: &DatabaseUrl, pool_size: u32) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url.expose_secret())
            .map_err(|_| StoreError::Backend("the database URL is not valid".to_owned()))?;
        let (write, read) = match url.dialect() {
            Dialect::Sqlite => {
                // The writer is opened first: it creates the file and switches
                // it to WAL (a persistent property of the file), before any
                // reader connects.
                let write = AnyPoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    // Keeping the writer open keeps the WAL index alive between bursts.
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn, Role::Writer)))
                    .connect_with(options.clone())
                    .await
                    .map_err(db_err)?;
                let read = AnyPoolOptions::new()
                    .max_connections(SQLITE_READ_CONNECTIONS)
                    .after_connect(|conn, _| Box::pin(sqlite_pragmas(conn, Role::Reader)))
                    .connect_with(options)
                    .await
                    .map_err(db_err)?;
                (write, read)
            }
            Dialect::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(pool_size.max(1))
                    .connect_with(options)
                    .await
                    .map_err(db_err)?;
                (pool.clone(), pool)
            }
        };
        let group = (url.dialect() == Dialect::Sqlite).then(|| {
            Arc::new(GroupCommit::new(
                write.clone(),
                Dialect::Sqlite.begin_write(),
            ))
        });
        Ok(SqlStore {
            dialect: url.dialect(),
            write,
            read,
            erasure_pending: Arc::new(AtomicBool::new(false)),
            group,
        })
    }

    /// Which backend this store speaks to.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Closes the pools, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    async fn begin_write(&self) -> StoreResult<DbTx> {
        self.write
            .begin_with(self.dialect.begin_write())
            .await
            .map_err(db_err)
    }

    async fn begin_snapshot(&self) -> StoreResult<DbTx> {
        self.read
            .begin_with(self.dialect.begin_snapshot())
            .await
            .map_err(db_err)
    }

    /// Notes that erased content may sit in the WAL until the next retention
    /// sweep flushes it (SQLite).
    fn mark_erasure_pending(&self) {
        if self.dialect == Dialect::Sqlite {
            self.erasure_pending.store(true, Ordering::SeqCst);
        }
    }

    /// SQLite: moves every committed page into the database file and
    /// truncates the WAL. `secure_delete` zeroes erased content in the new
    /// page versions, but the WAL still holds the older versions (the
    /// inserts) until it is truncated. Readers holding an older snapshot can
    /// make it incomplete; it is then retried by the next retention sweep.
    ///
    /// PostgreSQL: nothing. Erased rows stay as dead tuples until autovacuum
    /// reclaims their space, and in WAL segments until they are recycled;
    /// the server cannot force either from inside a transaction, so the
    /// README asks for encrypted storage under a PostgreSQL deployment.
    async fn flush_erasure(&self) {
        if self.dialect != Dialect::Sqlite {
            return;
        }
        let done: Result<(i64, i64, i64), _> = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&self.write)
            .await;
        let complete = matches!(done, Ok((0, _, _)));
        self.erasure_pending.store(!complete, Ordering::SeqCst);
        if !complete {
            tracing::warn!("erased content stays in the WAL until the next retention sweep");
        }
    }

    /// Whether erased content may still sit in the WAL (SQLite).
    fn is_erasure_pending(&self) -> bool {
        self.erasure_pending.load(Ordering::SeqCst)
    }
}

/// Which SQLite pool a connection belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

/// The settings every SQLite connection gets (the URL cannot carry them).
async fn sqlite_pragmas(conn: &mut AnyConnection, role: Role) -> Result<(), sqlx::Error> {
    // WAL first, from the writer: it is a property of the file, and a reader
    // connecting later finds it set.
    if role == Role::Writer {
        conn.execute("PRAGMA journal_mode = WAL").await?;
    }
    for pragma in [
        "PRAGMA busy_timeout = 5000",
        // A state change reported to the customer must survive a power cut.
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        // Deleted and overwritten content (erased personal data) is zeroed
        // in its page instead of lingering in free space.
        "PRAGMA secure_delete = ON",
    ] {
        conn.execute(pragma).await?;
    }
    if role == Role::Reader {
        // A write through a reader would bypass the writer's serialisation.
        conn.execute("PRAGMA query_only = ON").await?;
    }
    Ok(())
}

/// The one row `query` selects, read by `T`'s reader; `None` when there is none.
async fn row<'c, T: FromRow>(
    query: Query<'_>,
    db: impl Executor<'c, Database = Any>,
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
    db: impl Executor<'c, Database = Any>,
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
async fn execute<'c>(query: Query<'_>, db: impl Executor<'c, Database = Any>) -> StoreResult<u64> {
    Ok(query.execute(db).await.map_err(db_err)?.rows_affected())
}

#[async_trait]
impl Database for SqlStore {
    /// PostgreSQL's migrator holds an advisory lock while it runs, so nodes
    /// that start together migrate once, one after the other.
    #[tracing::instrument(skip_all)]
    async fn migrate(&self) -> StoreResult<()> {
        let migrator = match self.dialect {
            Dialect::Sqlite => &SQLITE_MIGRATOR,
            Dialect::Postgres => &POSTGRES_MIGRATOR,
        };
        let mut conn = self.write.acquire().await.map_err(db_err)?;
        // `run_direct`: `run` on a pooled connection trips over a
        // higher-ranked lifetime bound in an async trait method.
        let done = migrator.run_direct(&mut *conn).await;
        if done.is_err() {
            // A failed run leaves its session's advisory lock held; closing
            // the connection releases it for the other nodes.
            conn.close_on_drop();
        }
        done.map_err(|e| match e {
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
