//! Group commit: write transactions that contend for the same lock run together.
//!
//! Every money transaction on an account starts by locking the account's row, so on one busy
//! account they run strictly one after another, and each pays a whole transaction (on
//! PostgreSQL a commit is a WAL flush) while the others wait. On SQLite every write waits for
//! the database's single write lock the same way. So work is queued per *lane* (on SQLite the
//! whole database; on PostgreSQL one of a few shards of the accounts, see
//! [`GroupCommit::lane_of`]), and whichever request finds its lane idle becomes its committer:
//! on the blocking pool, it runs everything queued on the lane in one transaction, until the
//! lane is empty (flat combining). Alone, a request's work runs in a transaction of its own;
//! under contention, one commit serves many requests. On PostgreSQL a batch first
//! locks all its accounts, in id order, so batches never deadlock with each other.
//!
//! Work of a kind that runs as a set ([`work::SetKind`]: generation holds and captures) does so
//! inside a batch: one set's statements (a few per batch, whatever its size) instead of all of
//! the statements per request. Other work runs in a savepoint per request. Should a set fail as
//! a whole, it is rolled back and its requests run one by one in savepoints too.
//!
//! What it runs is a closed set ([`Job`]): reservations, captures and releases of generations'
//! holds, and the other writes of a request's path (API keys' last-use notes, generated images'
//! bytes), which on SQLite would otherwise poll for the write lock that batches hold back to back. Each request's work succeeds or fails on its own: a
//! failure rolls back its savepoint (or its transaction, alone), and its error is its answer. No
//! request hears of success before the commit that makes it durable; if that commit fails, every
//! request of the batch gets the error and nothing of the batch was written.

mod stats;
mod work;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use tokio::sync::oneshot;

pub use self::stats::Stats;
pub use self::work::{BlobStore, BlobTouch, KeyTouch};
use self::work::{Kind, SetKind};
use crate::db::{savepoint, write_transaction, DbConn, Pool};
use crate::generating::{Cancel, Capture, Captured, Release, Reservation};
use crate::ledger::holds::Hold;
use crate::store::generations::Generation;
use crate::store::locks;
use crate::{Error, Result};

/// Most units of work in one transaction: bounds how long a batch holds its locks.
const MAX_BATCH: usize = 64;

/// Lanes on PostgreSQL (see [`GroupCommit::lane_of`]).
const POSTGRES_LANES: u32 = 2;

/// How a unit of work that ran in a batch answers, once the batch's transaction has ended (with
/// the commit's error, if it failed).
type Answer = Box<dyn FnOnce(Option<&Error>) + Send>;

/// Units of work waiting for a committer, per lane. A lane is present while it has a committer.
type Lanes = Mutex<HashMap<String, Vec<Job>>>;

/// One request's unit of work, and where its outcome goes.
struct Unit<K: Kind> {
    work: K,
    answer: oneshot::Sender<Result<K::Output>>,
}

impl<K: Kind> Unit<K> {
    /// Runs alone, in a transaction of its own, calls `ended` and answers.
    fn run_alone(self, conn: &mut DbConn, ended: &dyn Fn()) {
        let work = &self.work;
        let outcome = write_transaction(conn, |conn| work.run_one(conn));
        ended();
        let _ = self.answer.send(outcome);
    }

    /// Runs in a savepoint of the batch's transaction; returns how to answer.
    fn run_in_batch(self, conn: &mut DbConn) -> Answer {
        let work = &self.work;
        let outcome = savepoint(conn, |conn| work.run_one(conn));
        answer_after_commit(self.answer, outcome)
    }

    /// Answers without running (no connection could be had).
    fn abandon(self, error: &Error) {
        let _ = self.answer.send(Err(same_error(error)));
    }
}

/// Every kind of work group commit runs.
enum Job {
    Reserve(Unit<Reservation>),
    Capture(Unit<Capture>),
    Release(Unit<Release>),
    Cancel(Unit<Cancel>),
    KeyTouch(Unit<KeyTouch>),
    BlobStore(Unit<BlobStore>),
    BlobTouch(Unit<BlobTouch>),
    #[cfg(test)]
    Test(Unit<tests::Put>),
}

/// `$body` with `$unit` bound to the job's unit, whatever its kind.
macro_rules! with_unit {
    ($job:expr, $unit:ident => $body:expr) => {
        match $job {
            Job::Reserve($unit) => $body,
            Job::Capture($unit) => $body,
            Job::Release($unit) => $body,
            Job::Cancel($unit) => $body,
            Job::KeyTouch($unit) => $body,
            Job::BlobStore($unit) => $body,
            Job::BlobTouch($unit) => $body,
            #[cfg(test)]
            Job::Test($unit) => $body,
        }
    };
}

impl Job {
    /// The account whose credits this work moves (its row is locked first in a batch).
    fn account(&self) -> &str {
        with_unit!(self, unit => unit.work.account().as_str())
    }

    fn run_alone(self, conn: &mut DbConn, ended: &dyn Fn()) {
        with_unit!(self, unit => unit.run_alone(conn, ended))
    }

    fn run_in_batch(self, conn: &mut DbConn) -> Answer {
        with_unit!(self, unit => unit.run_in_batch(conn))
    }

    fn abandon(self, error: &Error) {
        with_unit!(self, unit => unit.abandon(error))
    }
}

/// Runs units of a set kind in a savepoint, as one set; if the set fails as a whole, one by
/// one instead. A set of one runs as a single unit.
fn run_set<K: SetKind>(mut units: Vec<Unit<K>>, conn: &mut DbConn, stats: &Stats) -> Vec<Answer> {
    if units.len() <= 1 {
        return units.pop().map(|unit| unit.run_in_batch(conn)).into_iter().collect();
    }
    let ran = {
        let items: Vec<&K> = units.iter().map(|unit| &unit.work).collect();
        savepoint(conn, |conn| {
            let outcomes = K::run_set(&items, conn)?;
            if outcomes.len() != items.len() {
                return Err(Error::Internal(anyhow!("a set answered {} of {} items", outcomes.len(), items.len())));
            }
            Ok(outcomes)
        })
    };
    match ran {
        Ok(outcomes) => {
            stats.set_units.inc_by(units.len() as u64);
            units.into_iter().zip(outcomes).map(|(unit, outcome)| answer_after_commit(unit.answer, outcome)).collect()
        }
        Err(error) => {
            tracing::warn!(error = %error, units = units.len(), "a set of work failed as a whole; running it one by one");
            stats.set_fallbacks.inc();
            units.into_iter().map(|unit| unit.run_in_batch(conn)).collect()
        }
    }
}

/// How a unit that ran in a batch answers once the batch's transaction has ended: its own
/// outcome if the commit succeeded, else the commit's error.
fn answer_after_commit<T: Send + 'static>(answer: oneshot::Sender<Result<T>>, outcome: Result<T>) -> Answer {
    Box::new(move |commit_error| {
        let _ = answer.send(match (outcome, commit_error) {
            (Ok(value), None) => Ok(value),
            (Ok(_), Some(error)) => Err(same_error(error)),
            (Err(error), _) => Err(error),
        });
    })
}

/// Runs a batch's units inside its transaction: work of a set kind as sets, the rest each in
/// its own savepoint. The batch's requests were all waiting at once, so any order is one they
/// could have run in.
fn run_batch(batch: Vec<Job>, conn: &mut DbConn, stats: &Stats) -> Vec<Answer> {
    let mut answers = Vec::with_capacity(batch.len());
    let (mut reservations, mut captures) = (Vec::new(), Vec::new());
    #[cfg(test)]
    let mut puts = Vec::new();
    for job in batch {
        match job {
            Job::Reserve(unit) => reservations.push(unit),
            Job::Capture(unit) => captures.push(unit),
            #[cfg(test)]
            Job::Test(unit) => puts.push(unit),
            other => answers.push(other.run_in_batch(conn)),
        }
    }
    answers.extend(run_set(reservations, conn, stats));
    answers.extend(run_set(captures, conn, stats));
    #[cfg(test)]
    answers.extend(run_set(puts, conn, stats));
    answers
}

/// A copy of a batch-wide error for each request of the batch.
fn same_error(error: &Error) -> Error {
    match error {
        Error::Unavailable(e) => Error::Unavailable(anyhow!("{e:#}")),
        other => Error::Internal(anyhow!("{other:#}")),
    }
}

/// The per-lane queues of one database.
#[derive(Clone)]
pub struct GroupCommit {
    pool: Pool,
    lanes: Arc<Lanes>,
    stats: Arc<Stats>,
    /// Set when SQLite's write-ahead log should start over: the next committer does it
    /// between two batches (see [`GroupCommit::restart_wal_soon`]).
    restart_wal: Arc<AtomicBool>,
}

impl GroupCommit {
    pub fn new(pool: Pool) -> Self {
        GroupCommit { pool, lanes: Arc::default(), stats: Arc::default(), restart_wal: Arc::default() }
    }

    /// Asks the committer to let SQLite's write-ahead log start over after its next batch.
    ///
    /// While batches commit back to back, a checkpoint from another connection never finds a
    /// moment without a writer, so the log never starts over: it grows past the connection's
    /// automatic checkpoint, and from then on every commit checkpoints (and fsyncs) on the
    /// committer, the one serial stage. The committer restarts it instead, once, between two
    /// batches, after the background checkpoints have copied nearly all of it.
    pub fn restart_wal_soon(&self) {
        self.restart_wal.store(true, Ordering::Relaxed);
    }

    /// Whether a restart asked for has not been tried yet.
    pub fn restart_wal_pending(&self) -> bool {
        self.restart_wal.load(Ordering::Relaxed)
    }

    /// How many lanes commit at once, each on a connection of its own.
    pub fn lanes(&self) -> u32 {
        if self.pool.is_postgres() {
            POSTGRES_LANES
        } else {
            1
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The lane of writes to `account`: on SQLite the database (one writer at a time); on
    /// PostgreSQL one of [`POSTGRES_LANES`], by account, so that busy accounts share batches
    /// while lanes commit in parallel (their accounts are disjoint, so they never wait on each
    /// other's row locks).
    fn lane_of(&self, account: &str) -> String {
        if self.pool.is_postgres() {
            let hash = account.bytes().fold(0_u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
            (hash % POSTGRES_LANES).to_string()
        } else {
            String::new()
        }
    }

    /// Reserves a generation's hold and records the generation (see
    /// [`crate::generating::reserve`]), possibly in a set with other requests' reservations.
    pub async fn reserve(&self, reservation: Reservation) -> Result<(Generation, Hold)> {
        self.run(reservation, Job::Reserve).await
    }

    /// Captures a delivered generation's hold (see [`crate::generating::capture`]), possibly
    /// in a set with other requests' captures.
    pub async fn capture(&self, capture: Capture) -> Result<Captured> {
        self.run(capture, Job::Capture).await
    }

    /// Releases a failed generation's hold (see [`crate::generating::release`]).
    pub async fn release(&self, release: Release) -> Result<Generation> {
        self.run(release, Job::Release).await
    }

    /// Cancels an unfinished generation, releasing its hold (see
    /// [`crate::generating::cancel`]); answers it as it now is, and whether this canceled it.
    pub async fn cancel(&self, cancel: Cancel) -> Result<(Generation, bool)> {
        self.run(cancel, Job::Cancel).await
    }

    /// Notes an API key's use.
    pub async fn touch_key(&self, touch: KeyTouch) -> Result<()> {
        self.run(touch, Job::KeyTouch).await
    }

    /// Stores generated images' bytes.
    pub async fn store_blobs(&self, store: BlobStore) -> Result<()> {
        self.run(store, Job::BlobStore).await
    }

    /// Touches stored blobs; answers the ids no longer stored.
    pub async fn touch_blobs(&self, touch: BlobTouch) -> Result<Vec<String>> {
        self.run(touch, Job::BlobTouch).await
    }

    /// Runs `work` inside a write transaction, possibly together with other requests' work;
    /// answers once its outcome is durable (or failed).
    async fn run<K: Kind>(&self, work: K, job: fn(Unit<K>) -> Job) -> Result<K::Output> {
        let (answer, answered) = oneshot::channel();
        self.submit(job(Unit { work, answer }));
        answered.await.map_err(|_| Error::Internal(anyhow!("the committer stopped before answering")))?
    }

    /// Queues `job` on its lane, becoming the lane's committer if it was idle.
    fn submit(&self, job: Job) {
        let lane = self.lane_of(job.account());
        let lead = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            match lanes.get_mut(&lane) {
                Some(queue) => {
                    queue.push(job);
                    None
                }
                None => {
                    lanes.insert(lane.clone(), Vec::new());
                    Some(job)
                }
            }
        };
        if let Some(job) = lead {
            let this = self.clone();
            tokio::task::spawn_blocking(move || this.commit_until_idle(&lane, vec![job]));
        }
    }

    /// The committer's loop: runs `batch`, then whatever queued meanwhile, until the lane is
    /// idle, and then gives the lane up.
    fn commit_until_idle(&self, lane: &str, mut batch: Vec<Job>) {
        let _unwinding = GiveUpOnPanic { lanes: &self.lanes, lane };
        loop {
            let started = std::time::Instant::now();
            let unreachable = self.commit(batch);
            let took = started.elapsed().as_secs_f64();
            self.stats.busy_seconds.inc_by(took);
            self.stats.batch_seconds.observe(took);
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            let queue = lanes.get_mut(lane).expect("a lane with a committer is present");
            if let Some(error) = unreachable {
                // No connection could be had: what queued meanwhile would wait for it in vain
                // (and outlive its holds), so it fails now too, as it would have alone.
                let waiting = std::mem::take(queue);
                lanes.remove(lane);
                drop(lanes);
                for job in waiting {
                    job.abandon(&error);
                }
                return;
            }
            if queue.is_empty() {
                lanes.remove(lane);
                return;
            }
            let take = queue.len().min(MAX_BATCH);
            batch = queue.drain(..take).collect();
        }
    }

    /// Runs one batch in one transaction and answers each of its requests, then restarts the
    /// WAL if asked to; the error if no connection could be had.
    fn commit(&self, mut batch: Vec<Job>) -> Option<Error> {
        let mut conn = match self.pool.get() {
            Ok(conn) => conn,
            Err(error) => {
                for job in batch {
                    job.abandon(&error);
                }
                return Some(error);
            }
        };
        self.stats.transactions.inc();
        self.stats.units.inc_by(batch.len() as u64);
        if batch.len() == 1 {
            // What the ledger engine moved is counted before anyone hears of it.
            batch.pop().expect("one job").run_alone(&mut conn, &|| self.stats.credits.take_from_this_thread());
        } else {
            self.commit_batch(batch, &mut conn);
        }
        if self.restart_wal.swap(false, Ordering::Relaxed) {
            match crate::db::restart_wal(&mut conn) {
                Ok(Some(wal)) if !wal.busy => {
                    self.stats.wal_restarts.inc();
                }
                // Readers or another writer were in the way: the checkpointer asks again.
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error, "restarting the SQLite WAL failed"),
            }
        }
        None
    }

    /// Runs several units in one transaction, then answers each.
    fn commit_batch(&self, batch: Vec<Job>, conn: &mut DbConn) {
        let mut answers = Vec::new();
        let committed = write_transaction(conn, |conn| {
            // The batch's accounts are locked first, all at once in id order, so that its
            // units, which lock accounts in whatever order they run, never wait for a row
            // another batch (or process) holds while holding one it waits for.
            if matches!(conn, DbConn::Pg(_)) {
                let accounts: Vec<&str> = batch.iter().map(|job| job.account()).collect();
                locks::lock_accounts(conn, &accounts)?;
            }
            answers = run_batch(batch, conn, &self.stats);
            Ok(())
        });
        self.stats.credits.take_from_this_thread();
        let error = committed.err();
        for answer in answers {
            answer(error.as_ref());
        }
    }
}

/// If a committer panics, its lane is given up and what waited on it is dropped (those requests
/// answer 500), so the lane does not stay blocked for good.
struct GiveUpOnPanic<'a> {
    lanes: &'a Lanes,
    lane: &'a str,
}

impl Drop for GiveUpOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            lanes.remove(self.lane);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use diesel::connection::SimpleConnection;
    use diesel::RunQueryDsl;

    use super::*;
    use crate::ids::AccountId;

    /// Test work: inserts its values into `t` (whose values are unique), once `gate` (if any)
    /// opens; as a set, one multi-row insert for the set. A negative value is refused (an
    /// answer, writing nothing), as a set refuses one request without failing.
    pub(super) struct Put {
        account: AccountId,
        values: Vec<i64>,
        gate: Option<mpsc::Receiver<()>>,
    }

    fn put(values: &[i64]) -> Put {
        Put { account: AccountId::from_db(ACCOUNT.to_string()), values: values.to_vec(), gate: None }
    }

    fn refused(put: &Put) -> Option<Error> {
        put.values.iter().any(|v| *v < 0).then(|| Error::invalid("negative", "negative", "v"))
    }

    fn insert(conn: &mut DbConn, values: &[i64]) -> Result<()> {
        let rows: Vec<String> = values.iter().map(|v| format!("({v})")).collect();
        diesel::sql_query(format!("INSERT INTO t (v) VALUES {}", rows.join(", "))).execute(conn)?;
        Ok(())
    }

    impl Kind for Put {
        type Output = i64;

        fn account(&self) -> &AccountId {
            &self.account
        }

        fn run_one(&self, conn: &mut DbConn) -> Result<i64> {
            if let Some(gate) = &self.gate {
                let _ = gate.recv();
            }
            if let Some(error) = refused(self) {
                return Err(error);
            }
            for value in &self.values {
                insert(conn, &[*value])?;
            }
            Ok(*self.values.last().expect("a put has values"))
        }
    }

    impl SetKind for Put {
        fn run_set(items: &[&Self], conn: &mut DbConn) -> Result<Vec<Result<i64>>> {
            let values: Vec<i64> =
                items.iter().filter(|p| refused(p).is_none()).flat_map(|p| p.values.clone()).collect();
            insert(conn, &values)?;
            Ok(items.iter().map(|p| refused(p).map_or_else(|| Ok(*p.values.last().unwrap()), Err)).collect())
        }
    }

    fn queued(writes: &GroupCommit, lane: &str) -> Option<usize> {
        writes.lanes.lock().unwrap().get(lane).map(Vec::len)
    }

    const ACCOUNT: &str = "acct_1";

    /// Group commit over a fresh SQLite database with a table `t` of unique values.
    fn writes() -> (tempfile::TempDir, Pool, GroupCommit) {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::connect(&format!("sqlite://{}", dir.path().join("t.db").display()), 4).unwrap();
        pool.get().unwrap().batch_execute("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)").unwrap();
        let writes = GroupCommit::new(pool.clone());
        (dir, pool, writes)
    }

    type JoinHandle = tokio::task::JoinHandle<Result<i64>>;

    /// Starts a unit that inserts `value` but keeps the lane busy until the sender is used (or
    /// dropped), and waits until it has the lane.
    async fn busy_lane(writes: &GroupCommit, value: i64) -> (mpsc::Sender<()>, JoinHandle) {
        let (release, released) = mpsc::channel::<()>();
        let first = tokio::spawn({
            let writes = writes.clone();
            let work = Put { gate: Some(released), ..put(&[value]) };
            async move { writes.run(work, Job::Test).await }
        });
        while queued(writes, &writes.lane_of(ACCOUNT)).is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        (release, first)
    }

    /// Queues each of `puts` behind the busy lane, waits until all have queued, then lets the
    /// lane go; returns each one's answer (`None` for an error) once the lane is idle again.
    async fn queue_behind(writes: &GroupCommit, value: i64, puts: Vec<Put>) -> Vec<Option<i64>> {
        let lane = writes.lane_of(ACCOUNT);
        let (release, first) = busy_lane(writes, value).await;
        let count = puts.len();
        let queued_puts: Vec<_> = puts
            .into_iter()
            .map(|work| {
                let writes = writes.clone();
                tokio::spawn(async move { writes.run(work, Job::Test).await })
            })
            .collect();
        while queued(writes, &lane) != Some(count) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().ok(), Some(value));
        let mut answers = Vec::new();
        for queued_put in queued_puts {
            answers.push(queued_put.await.unwrap().ok());
        }
        // The committer answers before it looks at the queue again, so it gives the lane up
        // just after the last answer.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while queued(writes, &lane).is_some() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(queued(writes, &lane), None, "the lane is given up when idle");
        answers
    }

    /// The values in `t`, in order.
    fn stored(pool: &Pool) -> Vec<i64> {
        diesel::sql_query("SELECT v FROM t ORDER BY v")
            .load::<Value>(&mut pool.get().unwrap())
            .unwrap()
            .into_iter()
            .map(|row| row.v)
            .collect()
    }

    /// Work that queues behind a running transaction is committed in one transaction; when its
    /// set fails as a whole, each unit runs in its own savepoint, so a unit that fails (after
    /// writing) is undone alone and answers its own error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_work_shares_one_transaction_and_fails_alone() {
        let (_dir, pool, writes) = writes();
        // Ten good units, and one that writes 100 and then breaks the constraint (0 is taken).
        let puts = [&[1][..], &[2], &[3], &[4], &[5], &[100, 0], &[6], &[7], &[8], &[9], &[10]].map(put);
        let answers = queue_behind(&writes, 0, puts.into()).await;
        assert_eq!(
            answers,
            [Some(1), Some(2), Some(3), Some(4), Some(5), None, Some(6), Some(7), Some(8), Some(9), Some(10)]
        );
        assert_eq!(stored(&pool), (0..=10).collect::<Vec<_>>());
        assert_eq!(writes.stats.transactions.get(), 2, "the first alone, then one batch of 11");
        assert_eq!(writes.stats.units.get(), 12);
        assert_eq!(writes.stats.set_fallbacks.get(), 1, "the batch's set failed on 0, and ran one by one");
    }

    /// Set work queued behind a running transaction runs as one set; a set that fails as a
    /// whole (here a duplicate value breaks its one statement) is rolled back and runs one by
    /// one, so only the offending unit fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_set_work_runs_as_a_set_and_falls_back_one_by_one() {
        let (_dir, pool, writes) = writes();
        let answers = queue_behind(&writes, 100, [1, 2, -3, 4].map(|v| put(&[v])).into()).await;
        assert_eq!(answers, [Some(1), Some(2), None, Some(4)], "the negative one refused alone");
        assert_eq!(writes.stats.set_units.get(), 4, "the four ran as a set");
        assert_eq!(writes.stats.set_fallbacks.get(), 0);

        let answers = queue_behind(&writes, 101, [5, 6, 1, 7].map(|v| put(&[v])).into()).await;
        assert_eq!(answers, [Some(5), Some(6), None, Some(7)], "the duplicate fails alone");
        assert_eq!(writes.stats.set_units.get(), 4, "this set fell back");
        assert_eq!(writes.stats.set_fallbacks.get(), 1);
        assert_eq!(stored(&pool), [1, 2, 4, 5, 6, 7, 100, 101]);
    }

    #[derive(diesel::QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        v: i64,
    }
}
