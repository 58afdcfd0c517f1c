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
//! [`sqlite::SqliteStore`] implements them, one file per aggregate under
//! `src/sqlite/` beside the shared connection handling in `src/sqlite.rs`
//! and the row readers in `src/sqlite/codec.rs`. A second backend (e.g.
//! PostgreSQL) follows the same shape: a module `src/<backend>.rs` with its
//! store type, one `impl <Aggregate>Store` per file under `src/<backend>/`,
//! and migrations in `migrations/<backend>`; it is then a `Store` without any
//! change to the domain or the services.
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
pub mod sqlite;
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
pub use sqlite::SqliteStore;
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
