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
//! Cancellation: a caller may be dropped at any await (an HTTP client that
//! goes away). Every statement that moves a batch's savepoint state
//! (opening the caller's savepoint, releasing or rolling it back, rolling
//! back an abandoned one, committing) runs in a task of its own with the
//! batch's lock, so it completes and records what it did whatever happens
//! to the caller. A caller dropped while it waits to join leaves the batch
//! to the others; one dropped mid-writes leaves its savepoint open, and
//! whoever takes the batch next rolls it back first; a member waiting for a
//! commit that nobody is about to make makes it itself after
//! [`SETTLE_AFTER`].

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

use super::codec::db_err;
use crate::{StoreError, StoreResult};

/// A batch's database transaction.
type DbTx = sqlx::Transaction<'static, Any>;

/// The open batch, held by one caller at a time.
type Held = OwnedMutexGuard<Option<Batch>>;

/// Most callers one commit answers: a bound on how long the first of them
/// waits for the last.
const MAX_MEMBERS: usize = 64;

/// How long a member waits for its batch's commit before checking whether
/// anyone is still about to make it; also how soon after a caller was
/// dropped its batch is checked.
const SETTLE_AFTER: Duration = Duration::from_millis(25);

/// The outcome of a batch's commit, as every member reads it.
type Outcome = Option<Result<(), String>>;

/// The batches of one SQLite store.
pub(super) struct GroupCommit {
    /// The store's writer (one connection) and how its write transactions
    /// begin.
    write: AnyPool,
    begin: &'static str,
    shared: Arc<Shared>,
    next_id: AtomicU64,
}

/// What members and settling tasks share.
#[derive(Default)]
struct Shared {
    open: Arc<Mutex<Option<Batch>>>,
    /// Callers between `join`'s call and their holding the batch.
    waiting: AtomicUsize,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("waiting", &self.shared.waiting.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

/// One open database transaction that several callers write in.
struct Batch {
    id: u64,
    db: DbTx,
    members: usize,
    /// A member's savepoint is open: set once it is opened, cleared once it
    /// is released or rolled back; still set when that member was dropped
    /// mid-writes.
    in_savepoint: bool,
    done: watch::Sender<Outcome>,
}

/// A caller's place in a batch, from `join` to `finish`.
pub(super) struct Member {
    held: Option<Held>,
    shared: Arc<Shared>,
    batch: u64,
}

/// Counts a caller as waiting to join until it holds the batch.
struct Waiting(Arc<Shared>);

impl Waiting {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.waiting.fetch_add(1, Ordering::SeqCst);
        Self(shared.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Settles the open batch soon after the caller holding this was dropped
/// (it may have been the one the others left the batch open for), unless
/// disarmed.
struct SettleOnDrop(Option<Arc<Shared>>);

impl SettleOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for SettleOnDrop {
    fn drop(&mut self) {
        if let Some(shared) = self.0.take() {
            settle_soon(shared, None);
        }
    }
}

async fn run(db: &mut DbTx, sql: &str) -> StoreResult<()> {
    let conn: &mut AnyConnection = db;
    conn.execute(sql).await.map_err(db_err)?;
    Ok(())
}

fn task_failed(e: tokio::task::JoinError) -> StoreError {
    StoreError::Backend(format!("group commit task failed: {e}"))
}

impl GroupCommit {
    pub(super) fn new(write: AnyPool, begin: &'static str) -> Self {
        Self {
            write,
            begin,
            shared: Arc::default(),
            next_id: AtomicU64::new(0),
        }
    }

    /// Takes a place in the open batch, or opens one, and starts the
    /// caller's savepoint.
    pub(super) async fn join(&self) -> StoreResult<Member> {
        let settle = SettleOnDrop(Some(self.shared.clone()));
        let waiting = Waiting::new(&self.shared);
        let held = self.shared.open.clone().lock_owned().await;
        drop(waiting);
        let opened = tokio::spawn(open_savepoint(
            held,
            self.write.clone(),
            self.begin,
            self.next_id.fetch_add(1, Ordering::SeqCst),
        ))
        .await;
        settle.disarm();
        let (held, batch) = opened.map_err(task_failed)??;
        Ok(Member {
            held: Some(held),
            shared: self.shared.clone(),
            batch,
        })
    }
}

/// Opens a batch when none is open (numbered `new_id`), then the caller's
/// savepoint in it.
async fn open_savepoint(
    mut held: Held,
    write: AnyPool,
    begin: &'static str,
    new_id: u64,
) -> StoreResult<(Held, u64)> {
    roll_back_abandoned(&mut held).await?;
    if held.is_none() {
        let db = write.begin_with(begin).await.map_err(db_err)?;
        *held = Some(Batch {
            id: new_id,
            db,
            members: 0,
            in_savepoint: false,
            done: watch::channel(None).0,
        });
    }
    let Some(batch) = held.as_mut() else {
        return Err(StoreError::Backend("no open batch".to_owned()));
    };
    if let Err(e) = run(&mut batch.db, "SAVEPOINT member").await {
        fail_batch(&mut held, &e);
        return Err(e);
    }
    batch.in_savepoint = true;
    batch.members += 1;
    let id = batch.id;
    Ok((held, id))
}

/// Where a member stands once its savepoint is ended.
enum Ended {
    /// It committed the batch, with this outcome.
    Committed(StoreResult<()>),
    /// Another member commits it; the outcome comes on this channel.
    Waiting(watch::Receiver<Outcome>),
}

/// Releases the member's savepoint (`kept`) or rolls it back, then commits
/// the batch when nobody is about to join it.
async fn end_savepoint(mut held: Held, kept: bool, shared: Arc<Shared>) -> StoreResult<Ended> {
    let Some(batch) = held.as_mut() else {
        return Err(StoreError::Backend("no open batch".to_owned()));
    };
    let mut ended = Ok(());
    if !kept {
        ended = run(&mut batch.db, "ROLLBACK TO member").await;
    }
    if ended.is_ok() {
        ended = run(&mut batch.db, "RELEASE member").await;
    }
    if let Err(e) = ended {
        fail_batch(&mut held, &e);
        return Err(e);
    }
    batch.in_savepoint = false;
    if !kept {
        batch.members -= 1;
    }
    let done = batch.done.subscribe();
    if shared.waiting.load(Ordering::SeqCst) == 0 || batch.members >= MAX_MEMBERS {
        return Ok(Ended::Committed(commit(held).await));
    }
    // Someone is about to join: they (or a later member) commit.
    Ok(Ended::Waiting(done))
}

impl Member {
    /// The batch's connection, for the caller's writes.
    pub(super) fn conn(&mut self) -> &mut AnyConnection {
        match self.held.as_mut().and_then(|g| g.as_mut()) {
            Some(batch) => &mut batch.db,
            // `join` leaves a batch in the guard and only `finish` takes it.
            None => unreachable!("a member holds its batch until it finishes"),
        }
    }

    /// Keeps the caller's writes when `writes` succeeded (rolls them back
    /// otherwise), then answers once they are committed, or failed.
    pub(super) async fn finish<T>(mut self, writes: StoreResult<T>) -> StoreResult<T> {
        let Some(held) = self.held.take() else {
            return Err(StoreError::Backend("group commit member reused".to_owned()));
        };
        let ending = tokio::spawn(end_savepoint(held, writes.is_ok(), self.shared.clone()));
        let mut done = match ending.await.map_err(task_failed)? {
            Err(e) => return writes.and(Err(e)),
            Ok(Ended::Committed(outcome)) => return writes.and_then(|v| outcome.map(|()| v)),
            Ok(Ended::Waiting(done)) => done,
        };
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
                    let settling = tokio::spawn(settle(self.shared.clone(), Some(self.batch)));
                    settling.await.map_err(task_failed)?;
                    continue;
                }
            };
            return writes.and_then(|v| outcome.map(|()| v).map_err(StoreError::Backend));
        }
    }
}

impl Drop for Member {
    /// Dropped mid-writes: the savepoint stays open for the next taker to
    /// roll back, and the batch is settled soon in case nobody takes it.
    fn drop(&mut self) {
        if self.held.take().is_some() {
            settle_soon(self.shared.clone(), Some(self.batch));
        }
    }
}

/// Rolls back the writes of a member that was dropped mid-writes.
async fn roll_back_abandoned(held: &mut Held) -> StoreResult<()> {
    let Some(batch) = held.as_mut() else {
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
            fail_batch(held, &e);
            Err(e)
        }
    }
}

/// [`settle`] after [`SETTLE_AFTER`], in a task of its own.
fn settle_soon(shared: Arc<Shared>, batch: Option<u64>) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            tokio::time::sleep(SETTLE_AFTER).await;
            settle(shared, batch).await;
        });
    }
}

/// Commits the open batch (only if it is `batch`, when given) once nobody
/// is about to join it, after rolling back an abandoned member's writes.
/// Whoever holds the batch meanwhile is not mid-writes: a member writes
/// while it holds it.
async fn settle(shared: Arc<Shared>, batch: Option<u64>) {
    let mut held = shared.open.clone().lock_owned().await;
    let open = held.as_ref().map(|b| b.id);
    if open.is_none() || (batch.is_some() && open != batch) {
        return;
    }
    if roll_back_abandoned(&mut held).await.is_err() {
        return;
    }
    if shared.waiting.load(Ordering::SeqCst) == 0 {
        // The outcome reaches every member through the batch's channel.
        let _ = commit(held).await;
    }
}

/// Takes the open batch and commits it in a task of its own (so that no
/// cancelled caller cancels it), telling every member the outcome.
async fn commit(mut held: Held) -> StoreResult<()> {
    let Some(batch) = held.take() else {
        return Ok(());
    };
    // The next batch may open now: it waits for the writer connection,
    // which this commit returns to the pool.
    drop(held);
    let task = tokio::spawn(async move {
        let outcome = batch.db.commit().await.map_err(|e| db_err(e).to_string());
        batch.done.send_replace(Some(outcome.clone()));
        outcome
    });
    task.await
        .map_err(task_failed)?
        .map_err(StoreError::Backend)
}

/// Rolls the open batch back (its connection failed mid-batch): every
/// member is told, none of their writes stays.
fn fail_batch(held: &mut Held, error: &StoreError) {
    if let Some(batch) = held.take() {
        // Dropping the transaction rolls it back.
        batch.done.send_replace(Some(Err(error.to_string())));
    }
}
