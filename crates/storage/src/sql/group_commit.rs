//! Group commit for SQLite: concurrent initiations share one database
//! transaction and so one durable commit (one fsync of the WAL), instead of
//! one each. SQLite has one writer; with `synchronous = FULL` the fsync at
//! each commit, not the statements, is what bounds initiations per second.
//!
//! A caller [`GroupCommit::join`]s the open batch (or opens one), runs its
//! writes inside a savepoint of its own, and [`Member::finish`]es: its
//! savepoint is released, or rolled back when its writes failed, so that one
//! caller's error never touches another's writes. The member that finds no
//! other caller waiting to join commits the batch; the others wait for that
//! commit and answer with its outcome, so no caller is answered before its
//! writes are durable.
//!
//! Cancellation: a caller dropped while it waits to join leaves the batch to
//! the others; one dropped mid-writes leaves its savepoint open, and whoever
//! takes the batch next rolls that savepoint back first; a member waiting
//! for a commit that nobody is about to make makes it itself after
//! [`SETTLE_AFTER`]. The commit itself runs in a task of its own, so
//! dropping the member that started it does not cancel it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{AnyConnection, Executor};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

use super::codec::db_err;
use super::{DbTx, SqlStore};
use crate::{StoreError, StoreResult};

/// Most callers one commit answers: a bound on how long the first of them
/// waits for the last.
const MAX_MEMBERS: usize = 64;

/// How long a member waits for its batch's commit before checking whether
/// anyone is still about to make it.
const SETTLE_AFTER: Duration = Duration::from_millis(25);

/// The outcome of a batch's commit, as every member reads it.
type Outcome = Option<Result<(), String>>;

/// The batches of one SQLite store.
#[derive(Default)]
pub(super) struct GroupCommit {
    open: Arc<Mutex<Option<Batch>>>,
    /// Callers between `join`'s call and its taking the batch.
    waiting: Arc<AtomicUsize>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("waiting", &self.waiting.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

/// One open database transaction that several callers write in.
struct Batch {
    id: u64,
    db: DbTx,
    members: usize,
    /// A member's savepoint is open: set by `join`, cleared by `finish`;
    /// still set when that member was dropped mid-writes.
    in_savepoint: bool,
    done: watch::Sender<Outcome>,
}

/// A caller's place in a batch, from `join` to `finish`.
pub(super) struct Member {
    guard: Option<OwnedMutexGuard<Option<Batch>>>,
    group: Arc<GroupCommitRef>,
    batch: u64,
}

/// What a member or a settling task needs of its group.
struct GroupCommitRef {
    open: Arc<Mutex<Option<Batch>>>,
    waiting: Arc<AtomicUsize>,
}

/// Counts a caller as waiting to join until it has the batch or is dropped.
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn run(db: &mut DbTx, sql: &str) -> StoreResult<()> {
    let conn: &mut AnyConnection = db;
    conn.execute(sql).await.map_err(db_err)?;
    Ok(())
}

impl GroupCommit {
    /// Takes a place in the open batch, or opens one, and starts the
    /// caller's savepoint.
    pub(super) async fn join(&self, store: &SqlStore) -> StoreResult<Member> {
        let waiting = Waiting::new(&self.waiting);
        let mut guard = self.open.clone().lock_owned().await;
        drop(waiting);
        roll_back_abandoned(&mut guard).await?;
        if guard.is_none() {
            let db = store.begin_write().await?;
            *guard = Some(Batch {
                id: self.next_id.fetch_add(1, Ordering::SeqCst),
                db,
                members: 0,
                in_savepoint: false,
                done: watch::channel(None).0,
            });
        }
        let Some(batch) = guard.as_mut() else {
            return Err(StoreError::Backend("no open batch".to_owned()));
        };
        let id = batch.id;
        if let Err(e) = run(&mut batch.db, "SAVEPOINT member").await {
            fail_batch(&mut guard, &e);
            return Err(e);
        }
        batch.in_savepoint = true;
        batch.members += 1;
        Ok(Member {
            guard: Some(guard),
            group: Arc::new(GroupCommitRef {
                open: self.open.clone(),
                waiting: self.waiting.clone(),
            }),
            batch: id,
        })
    }
}

impl Member {
    /// The batch's connection, for the caller's writes.
    pub(super) fn conn(&mut self) -> &mut AnyConnection {
        match self.guard.as_mut().and_then(|g| g.as_mut()) {
            Some(batch) => &mut batch.db,
            // `join` leaves a batch in the guard and only `finish` takes it.
            None => unreachable!("a member holds its batch until it finishes"),
        }
    }

    /// Keeps the caller's writes when `writes` succeeded (rolls them back
    /// otherwise), then answers once they are committed, or failed.
    pub(super) async fn finish<T>(mut self, writes: StoreResult<T>) -> StoreResult<T> {
        let Some(mut guard) = self.guard.take() else {
            return Err(StoreError::Backend("group commit member reused".to_owned()));
        };
        let Some(batch) = guard.as_mut() else {
            return Err(StoreError::Backend("no open batch".to_owned()));
        };
        let mut ended = Ok(());
        if writes.is_err() {
            ended = run(&mut batch.db, "ROLLBACK TO member").await;
        }
        if ended.is_ok() {
            ended = run(&mut batch.db, "RELEASE member").await;
        }
        if let Err(e) = ended {
            fail_batch(&mut guard, &e);
            return writes.and(Err(e));
        }
        batch.in_savepoint = false;
        if writes.is_err() {
            batch.members -= 1;
        }
        let mut done = batch.done.subscribe();
        let last = self.group.waiting.load(Ordering::SeqCst) == 0 || batch.members >= MAX_MEMBERS;
        if last {
            let outcome = commit(guard).await;
            return writes.and_then(|v| outcome.map(|()| v));
        }
        // Someone is about to join: they (or a later member) commit.
        drop(guard);
        loop {
            // Owned at once: the channel's read guard must not live across
            // an await.
            let seen = tokio::time::timeout(SETTLE_AFTER, done.wait_for(Option::is_some))
                .await
                .map(|seen| seen.map(|outcome| outcome.clone()));
            let outcome = match seen {
                Ok(Ok(outcome)) => outcome.unwrap_or(Ok(())),
                Ok(Err(_)) => Err("the batch ended without a commit".to_owned()),
                Err(_) => {
                    settle(&self.group, self.batch).await;
                    continue;
                }
            };
            return writes.and_then(|v| outcome.map(|()| v).map_err(StoreError::Backend));
        }
    }
}

impl Drop for Member {
    /// Dropped mid-writes: the savepoint stays open for the next taker to
    /// roll back; a task makes sure the batch does not wait for a member
    /// that will never come.
    fn drop(&mut self) {
        if self.guard.take().is_some() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                let group = self.group.clone();
                let batch = self.batch;
                runtime.spawn(async move {
                    tokio::time::sleep(SETTLE_AFTER).await;
                    settle(&group, batch).await;
                });
            }
        }
    }
}

/// Rolls back the writes of a member that was dropped mid-writes.
async fn roll_back_abandoned(guard: &mut OwnedMutexGuard<Option<Batch>>) -> StoreResult<()> {
    let Some(batch) = guard.as_mut() else {
        return Ok(());
    };
    if !batch.in_savepoint {
        return Ok(());
    }
    let mut ended = run(&mut batch.db, "ROLLBACK TO member").await;
    if ended.is_ok() {
        ended = run(&mut batch.db, "RELEASE member").await;
    }
    match ended {
        Ok(()) => {
            batch.in_savepoint = false;
            batch.members -= 1;
            Ok(())
        }
        Err(e) => {
            fail_batch(guard, &e);
            Err(e)
        }
    }
}

/// Commits batch `id` if it is still open and nobody is about to join it.
async fn settle(group: &GroupCommitRef, id: u64) {
    let mut guard = group.open.clone().lock_owned().await;
    if guard.as_ref().map(|b| b.id) != Some(id) {
        return;
    }
    if roll_back_abandoned(&mut guard).await.is_err() {
        return;
    }
    if group.waiting.load(Ordering::SeqCst) == 0 {
        // The outcome reaches every member through the batch's channel.
        let _ = commit(guard).await;
    }
}

/// Takes the open batch and commits it in a task of its own (so that no
/// cancelled caller cancels it), telling every member the outcome.
async fn commit(mut guard: OwnedMutexGuard<Option<Batch>>) -> StoreResult<()> {
    let Some(batch) = guard.take() else {
        return Ok(());
    };
    // The next batch may open now: it waits for the writer connection,
    // which this commit returns to the pool.
    drop(guard);
    let task = tokio::spawn(async move {
        let outcome = batch.db.commit().await.map_err(|e| db_err(e).to_string());
        batch.done.send_replace(Some(outcome.clone()));
        outcome
    });
    match task.await {
        Ok(outcome) => outcome.map_err(StoreError::Backend),
        Err(e) => Err(StoreError::Backend(format!(
            "group commit task failed: {e}"
        ))),
    }
}

/// Rolls the open batch back (its connection failed mid-batch): every
/// member is told, none of their writes stays.
fn fail_batch(guard: &mut OwnedMutexGuard<Option<Batch>>, error: &StoreError) {
    if let Some(batch) = guard.take() {
        // Dropping the transaction rolls it back.
        batch.done.send_replace(Some(Err(error.to_string())));
    }
}
