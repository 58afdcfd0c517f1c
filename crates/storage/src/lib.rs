//! Persistence for Facegate, one trait per aggregate:
//!
//! | module | trait | owns |
//! |---|---|---|
//! | [`accounts`] | [`AccountStore`] | accounts and their API credentials |
//! | [`enrollments`] | [`EnrollmentStore`] | enrollments, facemap revocation, the failure streak |
//! | [`transactions`] | [`TransactionStore`] | authentication transactions: initiate, read, start, finalise, overdue, delete |
//! | [`capture`] | [`CaptureStore`] | capture sessions and attempts, finishing an attempt |
//! | [`frames`] | [`FrameStore`] | an open attempt's frame cursor and its frames' analyses |
//! | [`images`] | [`ImageStore`] | sealed capture images and their retention |
//! | [`outbox`] | [`OutboxStore`] | callbacks: claims, delivery attempts, history, retention |
//! | [`scans`] | [`ScanStore`] | ID verifications: initiate, sides, decision, expiry, delete, retention |
//! | [`keys`] | [`KeyStore`] | what each master key sealed, and its re-sealing |
//! | [`database`] | [`Database`] | migrations and the health probe |
//!
//! Each module holds its trait and the types that aggregate owns; all of them
//! are re-exported here. [`Store`] is the umbrella the rest of the server holds
//! (`Arc<dyn Store>`): every type that implements all the traits is a `Store`.
//! Code that calls the methods on a concrete store imports
//! [`prelude`]`::*`.
//!
//! [`sql::SqlStore`] implements them all, over sqlx's `Any` driver, for
//! SQLite (the default, no set-up) and PostgreSQL (several server nodes on
//! one database) alike: the shared connection handling and the
//! [`sql::Dialect`] in `src/sql.rs`, one file per aggregate under `src/sql/`,
//! the row readers in `src/sql/codec.rs`, and the migrations of each backend
//! in `migrations/sqlite` and `migrations/postgres` (numbered alike). A
//! [`DatabaseUrl`] (`sqlite://…` or `postgres://…`) chooses the backend.
//!
//! Every operation that changes a transaction's state also writes its callback
//! into the outbox in the same database transaction, so a state change and its
//! notification are never separated by a crash.

pub mod accounts;
pub mod capture;
pub mod console;
pub mod database;
pub mod enrollments;
mod error;
pub mod frames;
pub mod images;
pub mod keys;
pub mod outbox;
pub mod scans;
pub mod sql;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transactions;

pub use accounts::AccountStore;
pub use capture::{AttemptFinish, CaptureStore};
pub use console::{ConsoleSession, ConsoleStore, ConsoleUser, ListFilter};
pub use database::Database;
pub use enrollments::EnrollmentStore;
pub use error::{StoreError, StoreResult};
pub use frames::{FrameOutcome, FrameProgress, FrameStore, StoredFrame};
pub use images::{ImageKind, ImageStore, SealedImage};
pub use keys::{KeyStore, KeyUsage, StoredFacemap, StoredImage};
pub use outbox::{
    CallbackRecord, CallbackRenderer, ClaimFairness, DeliveryAttempt, NextStep, OutboxMessage,
    OutboxStatus, OutboxStore, PendingCallback,
};
pub use scans::{IssuedFacemap, ScanDecision, ScanReview, ScanSide, ScanStore, SelfieFinish};
pub use sql::{DatabaseUrl, Dialect, SqlStore, SqliteStore};
pub use transactions::TransactionStore;

/// The whole storage interface: every aggregate's trait (each of them is
/// `Send + Sync`). Implemented for every type that implements them all.
pub trait Store:
    Database
    + AccountStore
    + EnrollmentStore
    + TransactionStore
    + CaptureStore
    + FrameStore
    + ImageStore
    + OutboxStore
    + KeyStore
    + ScanStore
    + ConsoleStore
    + 'static
{
}

impl<T> Store for T where
    T: Database
        + AccountStore
        + EnrollmentStore
        + TransactionStore
        + CaptureStore
        + FrameStore
        + ImageStore
        + OutboxStore
        + KeyStore
        + ScanStore
        + ConsoleStore
        + 'static
{
}

/// The storage traits, for calling their methods on a concrete store
/// (`use facegate_storage::prelude::*`). Through `dyn Store` they need no import.
pub mod prelude {
    pub use crate::{
        AccountStore, CaptureStore, ConsoleStore, Database, EnrollmentStore, FrameStore,
        ImageStore, KeyStore, OutboxStore, ScanStore, Store, TransactionStore,
    };
}
