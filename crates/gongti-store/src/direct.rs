//! SQLite's hot path: statements on the busiest paths served through rusqlite on
//! connections of their own — point reads on read-only ones on the calling thread,
//! long scans and the registration batch's write on tokio's blocking pool.
//!
//! sqlx's SQLite driver runs every statement on a worker thread of the connection's
//! own and hands rows back over a channel: about 100 µs of CPU per statement on this
//! kind of machine (BENCHMARKS.md), more than the statement itself. A point read here
//! costs a few microseconds, so it runs where it is called, like any other short piece
//! of CPU work; long scans go through [`DirectReads::scan`] on tokio's blocking pool.
//!
//! Writes go through sqlx's one writer connection — SQLite has one writer at a time —
//! except the busiest and longest: a shared registration batch (its half-dozen
//! statements, each a round trip to sqlx's worker, took as long as its commit), an
//! import of a region's records (`import::direct`: thirty-odd statements a Bundle) and
//! the clearing's freeze. [`DirectWrites`] runs such a transaction on a read-write
//! connection of its own, on tokio's blocking pool, only while it holds the write
//! pool's one connection (the write turn), so the database still has one writer and
//! sqlx's never meets a lock; the transactions queued behind one turn commit together.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use time::Date;

use crate::row::RowExt;
use crate::{Result, StoreError};

/// Idle connections kept for reuse; more are opened when more callers read at once.
const DIRECT_IDLE_MAX: usize = 8;
/// Prepared statements each connection keeps.
const DIRECT_STATEMENT_CACHE: usize = 64;

/// Read-only rusqlite connections to the embedded database.
pub(crate) struct DirectReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for DirectReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectReads")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DirectReads {
    pub(crate) fn new(path: PathBuf) -> DirectReads {
        DirectReads {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn open(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(crate::SQLITE_BUSY_TIMEOUT)?;
        conn.pragma_update(None, "temp_store", "memory")?;
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.set_prepared_statement_cache_capacity(DIRECT_STATEMENT_CACHE);
        Ok(conn)
    }

    /// Runs `f` on an idle connection (or a new one) on this thread.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let taken = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.open()?,
        };
        let out = f(&conn);
        // A connection left inside a read transaction (a rollback that failed) is
        // closed, not reused: every later transaction would fail on it.
        if conn.is_autocommit() {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < DIRECT_IDLE_MAX {
                idle.push(conn);
            }
        }
        out
    }

    /// The first row of `sql` with named `$n` parameters, mapped, if there is one. The
    /// row is best read in the statement's order of columns ([`ByPlace`]).
    pub(crate) fn first<T>(
        &self,
        sql: &str,
        params: &[(&str, &dyn rusqlite::ToSql)],
        map: impl FnOnce(&ByPlace<'_, '_>) -> Result<T>,
    ) -> Result<Option<T>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            let mut rows = statement.query(params)?;
            rows.next()?
                .map(|row| map(&ByPlace::of_row(row)))
                .transpose()
        })
    }

    /// Every row of `sql` with named `$n` parameters, mapped, read on the blocking pool.
    pub(crate) async fn all<T: Send + 'static>(
        self: &Arc<Self>,
        sql: String,
        params: Vec<(&'static str, i64)>,
        map: impl Fn(&rusqlite::Row<'_>) -> Result<T> + Send + 'static,
    ) -> Result<Vec<T>> {
        self.scan(move |conn| {
            let named: Vec<(&str, &dyn rusqlite::ToSql)> = params
                .iter()
                .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
                .collect();
            collect(conn, &sql, &named, map)
        })
        .await
    }

    /// Runs a long read on tokio's blocking pool, off the threads that serve requests.
    pub(crate) async fn scan<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let this = Arc::clone(self);
        blocking("a direct read", move || this.with(f)).await
    }
}

/// The embedded database's read-write rusqlite connection, used in the write turn only
/// (see the module's text).
///
/// Its transactions wait in a queue of their own. The first to arrive takes the write
/// turn for the queue, and one blocking thread runs what is queued for as long as more
/// keeps arriving (groups begun within [`TURN_HELD_MAX`]), then gives the turn back.
/// Transactions queued together commit together (group commit): each runs in a
/// savepoint of one SQLite transaction — one that fails or panics is rolled back to its
/// savepoint alone, as its own transaction would have been, and its caller told at
/// once — and the group commits once, with one sync to disk, before the callers whose
/// work it holds are answered. An error after which SQLite has ended the whole
/// transaction itself (a full disk, an I/O error) fails the whole group. A long
/// transaction (the clearing's freeze: a savepoint would keep a copy of every page it
/// changes) runs alone ([`DirectWrites::transaction_alone`]).
///
/// Before this queue, each transaction took and gave back the turn itself; giving it
/// back is a sqlx task that pings the connection through sqlx's worker thread, then
/// wakes the next taker, which wakes a blocking thread — a chain on the tokio workers
/// that read the next Bundles in polls of some milliseconds. And each commit synced
/// the log on its own (about a millisecond here) and wrote again the pages the one
/// before had written.
pub(crate) struct DirectWrites {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
    /// sqlx's write pool, whose one connection is the write turn.
    turn: sqlx::SqlitePool,
    queue: Mutex<Queue>,
    /// Run after each commit, before the committed transactions' callers are told.
    after_commit: std::sync::OnceLock<CommitHook>,
}

/// What runs after each commit of the lane (see [`crate::Store::after_direct_commit`]).
type CommitHook = Box<dyn Fn() + Send + Sync>;

/// How long one taking of the write turn may go on beginning groups of queued
/// transactions while others (sqlx's writers) wait for it: about eight imports of fifty
/// residents here (the last group begun may run [`GROUP_HELD_MAX`] longer).
const TURN_HELD_MAX: std::time::Duration = std::time::Duration::from_millis(50);
/// A group commits once it has run this long, so that its first caller waits at most
/// about this much longer than alone.
const GROUP_HELD_MAX: std::time::Duration = std::time::Duration::from_millis(20);

/// A queued transaction's work, run inside its group's transaction (or told why it
/// could not be): answers whether it succeeded, and how to tell its caller once the
/// group has ended ([`Answer`]).
type Job = Box<dyn FnOnce(Result<&rusqlite::Transaction<'_>>) -> (bool, Answer) + Send>;

/// Tells a transaction's caller its outcome, given why its group failed to commit
/// (none: committed, or the transaction had failed on its own).
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

#[derive(Default)]
struct Queue {
    /// Each with whether it runs alone, never in a group.
    jobs: std::collections::VecDeque<(Job, bool)>,
    /// Whether a task holds or is taking the write turn for the queue.
    served: bool,
}

impl std::fmt::Debug for DirectWrites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWrites")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl DirectWrites {
    /// The read-write connection to `path`, in the turns of `turn` (sqlx's write pool
    /// of one connection).
    pub(crate) fn new(path: PathBuf, turn: sqlx::SqlitePool) -> DirectWrites {
        DirectWrites {
            path,
            conn: Mutex::new(None),
            turn,
            queue: Mutex::new(Queue::default()),
            after_commit: std::sync::OnceLock::new(),
        }
    }

    /// Sets what runs after each commit (once; answers whether it was set).
    pub(crate) fn after_commit(&self, hook: CommitHook) -> bool {
        self.after_commit.set(hook).is_ok()
    }

    /// Runs the commit hook, if set.
    fn committed(&self) {
        if let Some(hook) = self.after_commit.get() {
            hook();
        }
    }

    /// Opened as sqlx's writer is: foreign keys enforced, `synchronous=FULL` (a
    /// committed registration survives power loss).
    fn open(&self) -> Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(crate::SQLITE_BUSY_TIMEOUT)?;
        conn.pragma_update(None, "synchronous", "full")?;
        conn.pragma_update(None, "foreign_keys", "on")?;
        conn.pragma_update(None, "temp_store", "memory")?;
        conn.pragma_update(None, "cache_size", -65_536)?;
        conn.set_prepared_statement_cache_capacity(DIRECT_STATEMENT_CACHE);
        Ok(conn)
    }

    /// Runs `f` as one transaction in the write turn, on tokio's blocking pool, all or
    /// nothing (see [`DirectWrites`]: in a savepoint of its group's transaction, which
    /// is begun `IMMEDIATE` and committed before the answer). It is queued, and runs
    /// even if the caller stops waiting (see
    /// [`DirectWrites::transaction_while_wanted`]).
    pub(crate) async fn transaction<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.queued(f, false).await
    }

    /// [`DirectWrites::transaction`] for a long write, committed on its own: the
    /// transactions queued before it commit first, those after it wait.
    pub(crate) async fn transaction_alone<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.queued(f, true).await
    }

    async fn queued<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
        alone: bool,
    ) -> Result<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |group| {
            // The group's transaction: `f` cannot end it (that takes it by value).
            let out = group.and_then(f);
            (
                out.is_ok(),
                Box::new(move |failed: Option<&str>| {
                    let out = match failed {
                        Some(why) if out.is_ok() => {
                            Err(StoreError::Corrupt(format!("the group's commit: {why}")))
                        }
                        _ => out,
                    };
                    // A caller that stopped waiting is not there to take it.
                    let _ = answer.send(out);
                }),
            )
        });
        let serve = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.jobs.push_back((job, alone));
            !std::mem::replace(&mut queue.served, true)
        };
        if serve {
            // A task of its own takes the turn, so that the queue is served even if
            // this caller stops waiting.
            tokio::spawn(Arc::clone(self).serve());
        }
        answered
            .await
            .map_err(|_| StoreError::Corrupt("a direct write stopped".into()))?
    }
    /// Takes the write turn and runs the queue in it, again while it is not empty.
    async fn serve(self: Arc<Self>) {
        /// Tells the queue when this task is dropped before it is done (a runtime
        /// shutting down while it waits for the turn), rather than leave it served by
        /// no one.
        struct Orphaned<'a>(&'a DirectWrites, bool);
        impl Drop for Orphaned<'_> {
            fn drop(&mut self) {
                if self.1 {
                    self.0.refuse_queued("the writer stopped");
                }
            }
        }
        let mut orphaned = Orphaned(&self, true);
        self.serve_turns().await;
        orphaned.1 = false;
    }

    async fn serve_turns(self: &Arc<Self>) {
        loop {
            let turn = self.turn.acquire().await;
            let this = Arc::clone(self);
            let more = tokio::task::spawn_blocking(move || match turn {
                Ok(turn) => {
                    let more = this.run_queued(TURN_HELD_MAX);
                    drop(turn);
                    more
                }
                Err(error) => {
                    this.refuse_queued(&format!("the write turn: {error}"));
                    false
                }
            })
            .await;
            match more {
                Ok(true) => {}
                Ok(false) => return,
                // A panic outside the transactions (each is caught on its own): the
                // queue is told, not left waiting.
                Err(error) => return self.refuse_queued(&error.to_string()),
            }
        }
    }

    /// Runs queued groups for at most `held` (at least one); answers whether
    /// transactions are left, the queue still marked as served.
    fn run_queued(&self, held: std::time::Duration) -> bool {
        let since = std::time::Instant::now();
        loop {
            let Some((first, alone)) = self.next_job(true) else {
                return false;
            };
            self.run_group(first, alone);
            if since.elapsed() >= held {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                queue.served = !queue.jobs.is_empty();
                return queue.served;
            }
        }
    }

    /// Runs `first` and the transactions queued behind it (for up to
    /// [`GROUP_HELD_MAX`], none that runs alone) in one SQLite transaction, each in a
    /// savepoint, and commits it; then answers their callers. One that runs `alone`
    /// is the whole group, without a savepoint.
    fn run_group(&self, first: Job, alone: bool) {
        let mut guard = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        // A connection left inside a transaction (a rollback that failed, a panic) is
        // closed, not reused: every later transaction would fail on it.
        if guard.as_ref().is_some_and(|c| !c.is_autocommit()) {
            *guard = None;
        }
        let conn = match &mut *guard {
            Some(conn) => Ok(conn),
            empty => self.open().map(|c| empty.insert(c)),
        };
        let tx = conn.and_then(|c| {
            Ok(c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
        });
        let tx = match tx {
            Ok(tx) => tx,
            Err(error) => {
                let (_, answer) = first(Err(error));
                return answer(None);
            }
        };
        if alone {
            // A panic drops `tx`, which rolls it back, and the answer with it.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| first(Ok(&tx))));
            if let Ok((ok, answer)) = ran {
                let failed = if ok { tx.commit().err() } else { None };
                if ok && failed.is_none() {
                    self.committed();
                }
                answer(failed.map(|e| e.to_string()).as_deref());
            }
            return;
        }
        let since = std::time::Instant::now();
        let mut answers: Vec<Answer> = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            if let Err(error) = tx.execute_batch("SAVEPOINT job") {
                let (_, answer) = job(Err(error.into()));
                answer(None);
                break;
            }
            // A panic in one transaction is its caller's error (its answer dropped).
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(&tx))));
            let kept = match ran {
                Ok((true, answer)) => tx.execute_batch("RELEASE job").map(|()| answer),
                Ok((false, answer)) => {
                    answer(None);
                    tx.execute_batch("ROLLBACK TO job; RELEASE job")
                        .map(|()| Box::new(|_: Option<&str>| {}) as Answer)
                }
                Err(_) => tx
                    .execute_batch("ROLLBACK TO job; RELEASE job")
                    .map(|()| Box::new(|_: Option<&str>| {}) as Answer),
            };
            match kept {
                Ok(answer) => answers.push(answer),
                // The group's transaction is not what its transactions left (SQLite
                // may end it itself on some errors): none of it commits.
                Err(error) => {
                    let why = error.to_string();
                    for answer in answers {
                        answer(Some(&why));
                    }
                    return;
                }
            }
            if since.elapsed() < GROUP_HELD_MAX {
                next = self.next_in_group();
            }
        }
        match tx.commit() {
            Ok(()) => {
                self.committed();
                answers.into_iter().for_each(|answer| answer(None));
            }
            Err(error) => {
                let why = error.to_string();
                answers.into_iter().for_each(|answer| answer(Some(&why)));
            }
        }
    }

    /// Tells every queued transaction the turn could not be taken.
    fn refuse_queued(&self, why: &str) {
        while let Some((job, _)) = self.next_job(true) {
            let (_, answer) = job(Err(StoreError::Corrupt(why.to_owned())));
            answer(None);
        }
    }

    /// The next queued transaction if it may join a group.
    fn next_in_group(&self) -> Option<Job> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        match queue.jobs.front() {
            Some((_, false)) => queue.jobs.pop_front().map(|(job, _)| job),
            _ => None,
        }
    }

    /// The next queued transaction, or none — the queue then marked as not served
    /// when `last` (the turn is given back).
    fn next_job(&self, last: bool) -> Option<(Job, bool)> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let job = queue.jobs.pop_front();
        if job.is_none() && last {
            queue.served = false;
        }
        job
    }

    /// [`DirectWrites::transaction`] for a caller that may stop waiting (a request
    /// that timed out, a client gone): the work is then not begun or, when it has run,
    /// rolled back instead of committed, as a transaction through sqlx is dropped where
    /// it stands. A caller that gives up after its work has run and before its group
    /// has committed (the others' work, the sync to disk) finds it committed, as a
    /// caller of sqlx that gives up during the commit.
    pub(crate) async fn transaction_while_wanted<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        /// Cleared when the caller's future is dropped, whether done or not.
        struct Wanted(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Wanted {
            fn drop(&mut self) {
                self.0.store(false, std::sync::atomic::Ordering::Release);
            }
        }
        let wanted = Wanted(Arc::new(std::sync::atomic::AtomicBool::new(true)));
        let still = Arc::clone(&wanted.0);
        let gone =
            || StoreError::Corrupt("a write whose caller stopped waiting rolled back".into());
        self.transaction(move |tx| {
            if !still.load(std::sync::atomic::Ordering::Acquire) {
                return Err(gone());
            }
            let out = f(tx)?;
            if still.load(std::sync::atomic::Ordering::Acquire) {
                Ok(out)
            } else {
                Err(gone())
            }
        })
        .await
    }
}

/// Bound values for a statement built at run time, borrowed where they can be.
pub(crate) mod bind {
    use rusqlite::types::{ToSqlOutput, Value, ValueRef};

    pub(crate) fn int(v: i64) -> ToSqlOutput<'static> {
        ToSqlOutput::Borrowed(ValueRef::Integer(v))
    }
    pub(crate) fn opt_int(v: Option<i64>) -> ToSqlOutput<'static> {
        v.map_or(ToSqlOutput::Borrowed(ValueRef::Null), int)
    }
    pub(crate) fn text(v: &str) -> ToSqlOutput<'_> {
        ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes()))
    }
    pub(crate) fn opt_text(v: Option<&str>) -> ToSqlOutput<'_> {
        v.map_or(ToSqlOutput::Borrowed(ValueRef::Null), text)
    }
    pub(crate) fn blob(v: &[u8]) -> ToSqlOutput<'_> {
        ToSqlOutput::Borrowed(ValueRef::Blob(v))
    }
    /// A day as sqlx stores `time::Date` on SQLite (`YYYY-MM-DD`, read by
    /// [`super::parse_day`]).
    pub(crate) fn day(v: time::Date) -> ToSqlOutput<'static> {
        ToSqlOutput::Owned(Value::Text(format!(
            "{:04}-{:02}-{:02}",
            v.year(),
            u8::from(v.month()),
            v.day()
        )))
    }
}

/// Runs a statement whose values are numbered `$1`, `$2`, … (as sqlx's PostgreSQL
/// statements are written; SQLite numbers them in the order they first appear, which
/// need not be theirs), `values[k]` bound as `$(k+1)`; answers the rows changed.
pub(crate) fn execute_numbered(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    values: &[crate::row::Val<'_>],
) -> Result<usize> {
    let mut statement = tx.prepare_cached(sql)?;
    bind_numbered(&mut statement, values)?;
    Ok(statement.raw_execute()?)
}

/// Runs `sql` once with `values` bound in the order they appear (`?` placeholders, or
/// `$n` in ascending order), from the connection's statement cache.
pub(crate) fn execute_values(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    values: Vec<crate::row::Val<'_>>,
) -> Result<()> {
    tx.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(values))?;
    Ok(())
}

/// The first row of a statement with numbered values (see [`execute_numbered`]),
/// mapped; [`StoreError::NotFound`] when there is none.
pub(crate) fn first_numbered<T>(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    values: &[crate::row::Val<'_>],
    map: impl FnOnce(&ByPlace<'_, '_>) -> Result<T>,
) -> Result<T> {
    let mut statement = tx.prepare_cached(sql)?;
    bind_numbered(&mut statement, values)?;
    let mut rows = statement.raw_query();
    match rows.next()? {
        Some(row) => map(&ByPlace::of_row(row)),
        None => Err(StoreError::NotFound),
    }
}

/// Binds `values[k]` as `$(k+1)` (see [`execute_numbered`]).
pub(crate) fn bind_numbered(
    statement: &mut rusqlite::Statement<'_>,
    values: &[crate::row::Val<'_>],
) -> Result<()> {
    for (k, value) in values.iter().enumerate() {
        let index = statement
            .parameter_index(&format!("${}", k + 1))?
            .ok_or_else(|| StoreError::Corrupt(format!("no ${} in a statement", k + 1)))?;
        statement.raw_bind_parameter(index, value)?;
    }
    Ok(())
}

/// Every row of `sql` with named `$n` parameters on `conn`, mapped, on this thread.
pub(crate) fn collect<T>(
    conn: &Connection,
    sql: &str,
    params: &[(&str, &dyn rusqlite::ToSql)],
    map: impl Fn(&rusqlite::Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(map(row)?);
    }
    Ok(out)
}

/// Runs blocking SQLite work (rusqlite) on tokio's blocking pool; `what` names it if
/// the work panics.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Corrupt(format!("{what} stopped: {e}")))?
}

fn column_error(column: &str, e: rusqlite::Error) -> StoreError {
    StoreError::Corrupt(format!("column {column}: {e}"))
}

/// A row of the direct lane: a column's value by name, borrowed.
pub(crate) trait DirectRow {
    fn value(&self, column: &str) -> Result<ValueRef<'_>>;
}

impl DirectRow for rusqlite::Row<'_> {
    fn value(&self, column: &str) -> Result<ValueRef<'_>> {
        self.get_ref(column).map_err(|e| column_error(column, e))
    }
}

/// A row of the direct lane read by column place. rusqlite finds a column by name by
/// walking the statement's columns (a call into SQLite and a case-blind comparison
/// each), which on the scans of millions of rows costs more than reading the values,
/// and on a point read of seventeen columns about as much as the statement. Here the
/// column after the one read last is tried first, so that a row read in the
/// statement's order finds each column at the first comparison: against the names
/// taken once for a scan ([`ByPlace::new`]), or against the statement's own name for
/// that place for a single row ([`ByPlace::of_row`]). A statement read this way names
/// each of its columns once (with two of one name, the hint could find the later one
/// where a look-up by name finds the first).
pub(crate) struct ByPlace<'a, 'r> {
    pub row: &'a rusqlite::Row<'r>,
    /// The statement's column names, in order, when taken once for many rows.
    columns: Option<&'a [String]>,
    /// The place after the column read last.
    next: std::cell::Cell<usize>,
}

impl<'a, 'r> ByPlace<'a, 'r> {
    /// A row of a scan whose column names were taken once, in order.
    pub(crate) fn new(row: &'a rusqlite::Row<'r>, columns: &'a [String]) -> Self {
        ByPlace {
            row,
            columns: Some(columns),
            next: std::cell::Cell::new(0),
        }
    }

    /// A single row: each guess is checked against its statement's name for the place.
    pub(crate) fn of_row(row: &'a rusqlite::Row<'r>) -> Self {
        ByPlace {
            row,
            columns: None,
            next: std::cell::Cell::new(0),
        }
    }

    fn place(&self, column: &str) -> Result<usize> {
        let guess = self.next.get();
        let missing = || StoreError::Corrupt(format!("no column {column}"));
        match self.columns {
            Some(columns) if columns.get(guess).is_some_and(|c| c == column) => Ok(guess),
            Some(columns) => columns.iter().position(|c| c == column).ok_or_else(missing),
            None => {
                let statement: &rusqlite::Statement<'_> = self.row.as_ref();
                if statement.column_name(guess).is_ok_and(|c| c == column) {
                    Ok(guess)
                } else {
                    statement.column_index(column).map_err(|_| missing())
                }
            }
        }
    }
}

impl DirectRow for ByPlace<'_, '_> {
    fn value(&self, column: &str) -> Result<ValueRef<'_>> {
        let at = self.place(column)?;
        self.next.set(at + 1);
        self.row.get_ref(at).map_err(|e| column_error(column, e))
    }
}

fn from_value<T: rusqlite::types::FromSql>(column: &str, value: ValueRef<'_>) -> Result<T> {
    T::column_result(value).map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
}

macro_rules! direct_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn i64(&self, column: &str) -> Result<i64> {
                from_value(column, self.value(column)?)
            }
            fn opt_i64(&self, column: &str) -> Result<Option<i64>> {
                from_value(column, self.value(column)?)
            }
            fn text(&self, column: &str) -> Result<String> {
                from_value(column, self.value(column)?)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>> {
                from_value(column, self.value(column)?)
            }
            fn date(&self, column: &str) -> Result<Date> {
                self.opt_date(column)?
                    .ok_or_else(|| StoreError::Corrupt(format!("column {column}: no day")))
            }
            // Read in place, not copied into a string: the scans read millions of days.
            fn opt_date(&self, column: &str) -> Result<Option<Date>> {
                match self.value(column)? {
                    ValueRef::Null => Ok(None),
                    ValueRef::Text(text) => std::str::from_utf8(text)
                        .map_err(|e| StoreError::Corrupt(format!("column {column}: {e}")))
                        .and_then(|text| parse_date(column, text))
                        .map(Some),
                    other => Err(StoreError::Corrupt(format!(
                        "column {column}: not a day: {:?}",
                        other.data_type()
                    ))),
                }
            }
            fn bool(&self, column: &str) -> Result<bool> {
                from_value(column, self.value(column)?)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>> {
                from_value(column, self.value(column)?)
            }
            fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>> {
                from_value(column, self.value(column)?)
            }
        }
    };
}
direct_row_ext!(rusqlite::Row<'_>);
direct_row_ext!(ByPlace<'_, '_>);

/// A date as the SQLite engine stores it (`YYYY-MM-DD`, as sqlx writes `time::Date`).
fn parse_date(column: &str, text: &str) -> Result<Date> {
    parse_day(text)
        .ok_or_else(|| StoreError::Corrupt(format!("column {column}: not a day: {text:?}")))
}

/// `YYYY-MM-DD` (a year of four digits) as a day, or `None`; the scans read millions
/// of these, so it is done by hand rather than through a format description.
pub(crate) fn parse_day(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u16, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u16::from(c - b'0'))
        })
    };
    let year = i32::from(digits(0..4)?);
    let month = time::Month::try_from(u8::try_from(digits(5..7)?).ok()?).ok()?;
    let day = u8::try_from(digits(8..10)?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_day;
    use time::macros::date;

    #[test]
    fn a_day_is_bound_as_sqlx_stores_it_and_read_back_the_same() {
        use rusqlite::types::{ToSqlOutput, Value};
        for (day, text) in [
            (date!(2026 - 11 - 23), "2026-11-23"),
            (date!(0001 - 01 - 01), "0001-01-01"),
            (date!(1950 - 02 - 09), "1950-02-09"),
        ] {
            let ToSqlOutput::Owned(Value::Text(bound)) = super::bind::day(day) else {
                panic!("a day is bound as text");
            };
            assert_eq!(bound, text);
            assert_eq!(parse_day(&bound), Some(day));
        }
    }

    #[test]
    fn a_stored_day_is_read_exactly_and_anything_else_refused() {
        for (text, want) in [
            ("2026-11-23", Some(date!(2026 - 11 - 23))),
            ("0001-01-01", Some(date!(0001 - 01 - 01))),
            ("2024-02-29", Some(date!(2024 - 02 - 29))),
            ("2023-02-29", None),
            ("2026-13-01", None),
            ("2026-00-10", None),
            ("2026-1-01", None),
            ("2026/11/23", None),
            ("20261123xx", None),
            ("2026-11-2a", None),
            ("", None),
        ] {
            assert_eq!(parse_day(text), want, "{text:?}");
        }
    }

    /// A row read by place finds each column by its name in any order, as a look-up by
    /// name does, and names a missing column; read in order, each guess is the place.
    #[test]
    fn a_row_read_by_place_gives_each_column_whatever_the_order() {
        use crate::row::RowExt;
        let conn = rusqlite::Connection::open_in_memory().expect("memory");
        let sql = "SELECT 7 AS id, 'x' AS name, NULL AS note, 'Mixed' AS Case_Name";
        let columns: Vec<String> = ["id", "name", "note", "Case_Name"].map(String::from).into();
        let mut statement = conn.prepare(sql).expect("prepare");
        let mut rows = statement.query([]).expect("query");
        let row = rows.next().expect("step").expect("a row");
        for by_place in [
            super::ByPlace::of_row(row),
            super::ByPlace::new(row, &columns),
        ] {
            // In order: every guess right.
            assert_eq!(by_place.i64("id").expect("id"), 7);
            assert_eq!(by_place.text("name").expect("name"), "x");
            assert_eq!(by_place.opt_text("note").expect("note"), None);
            // Out of order: found by name, then the guess follows from there.
            assert_eq!(by_place.text("name").expect("name again"), "x");
            assert_eq!(by_place.i64("id").expect("id again"), 7);
            assert_eq!(by_place.text("Case_Name").expect("case"), "Mixed");
            let missing = by_place.text("nothing").expect_err("no such column");
            assert!(missing.to_string().contains("nothing"), "{missing}");
        }
    }

    /// `$n` is bound as the n-th value wherever it first appears in the statement
    /// (SQLite numbers them in the order they appear), and each value is stored as
    /// sqlx stores its type: a day as text, a flag as 0 or 1, nothing as NULL.
    #[test]
    fn numbered_values_are_bound_by_their_number_as_sqlx_stores_them() {
        use crate::row::Val;
        let mut conn = rusqlite::Connection::open_in_memory().expect("memory");
        conn.execute_batch("CREATE TABLE t (a, b, c, d, e, f)")
            .expect("table");
        let tx = conn.transaction().expect("transaction");
        let changed = super::execute_numbered(
            &tx,
            "INSERT INTO t (f, e, d, c, b, a) VALUES ($6, $5, $4, $3, $2, $1)",
            &[
                Val::int(7),
                Val::text("x"),
                Val::day(date!(2026 - 03 - 04)),
                Val::bool(true),
                Val::Bool(None),
                Val::opt_day(None),
            ],
        )
        .expect("insert");
        assert_eq!(changed, 1);
        let row: (i64, String, String, i64, Option<i64>, Option<String>) = tx
            .query_row("SELECT a, b, c, d, e, f FROM t", [], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .expect("row");
        assert_eq!(row, (7, "x".into(), "2026-03-04".into(), 1, None, None));
        // A statement without the number asked for is refused, not bound elsewhere.
        let missing = super::execute_numbered(&tx, "INSERT INTO t (a) VALUES ($2)", &[Val::int(1)]);
        assert!(missing.is_err());
    }

    /// SQLite's refusals come out of the hot path as they come out of sqlx.
    #[test]
    fn a_refused_key_is_a_duplicate_and_a_missing_reference_named() {
        let conn = rusqlite::Connection::open_in_memory().expect("memory");
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE p (id INTEGER PRIMARY KEY, code TEXT UNIQUE);
             CREATE TABLE c (p_id INTEGER REFERENCES p (id));
             INSERT INTO p (id, code) VALUES (1, 'a');",
        )
        .expect("schema");
        let twice = conn.execute("INSERT INTO p (id, code) VALUES (2, 'a')", []);
        match crate::StoreError::from(twice.expect_err("a taken code")) {
            crate::StoreError::Duplicate(what) => assert!(what.contains("p.code"), "{what}"),
            other => panic!("{other:?}"),
        }
        let orphan = conn.execute("INSERT INTO c (p_id) VALUES (9)", []);
        assert!(matches!(
            crate::StoreError::from(orphan.expect_err("no such parent")),
            crate::StoreError::MissingReference(_)
        ));
    }

    /// A directory with a database of one table `t (a INTEGER UNIQUE)`, sqlx's write
    /// pool of one connection to it, and the direct lane's writer in its turns.
    async fn writes_beside_sqlx() -> (
        std::path::PathBuf,
        sqlx::SqlitePool,
        std::sync::Arc<super::DirectWrites>,
    ) {
        let dir = std::env::temp_dir().join(format!(
            "gongti-direct-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("t.db");
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("pool");
        sqlx::query("CREATE TABLE t (a INTEGER UNIQUE)")
            .execute(&pool)
            .await
            .expect("table");
        let writes = std::sync::Arc::new(super::DirectWrites::new(file, pool.clone()));
        (dir, pool, writes)
    }

    /// Transactions queued behind one turn commit together, yet each is all or
    /// nothing on its own: one that fails (a taken key) or panics leaves nothing,
    /// its caller is told, and the others of its group commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_keeps_what_succeeded_and_nothing_of_what_failed() {
        let (dir, pool, writes) = writes_beside_sqlx().await;
        // Held here, so that all five wait in the queue and run as one group.
        let turn = pool.acquire().await.expect("turn");
        let insert = |values: &'static [i64], panics: bool| {
            let writes = std::sync::Arc::clone(&writes);
            tokio::spawn(async move {
                writes
                    .transaction(move |tx| {
                        for a in values {
                            tx.execute("INSERT INTO t (a) VALUES (?1)", [a])?;
                        }
                        assert!(!panics, "a transaction that panics");
                        Ok(values.len())
                    })
                    .await
            })
        };
        let first = insert(&[1, 2], false);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let taken = insert(&[3, 1], false);
        let panics = insert(&[4], true);
        let second = insert(&[5], false);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(turn);
        assert_eq!(first.await.expect("task").expect("the first"), 2);
        assert!(matches!(
            taken.await.expect("task"),
            Err(crate::StoreError::Duplicate(_))
        ));
        assert!(panics.await.expect("task").is_err());
        assert_eq!(second.await.expect("task").expect("the second"), 1);
        let kept = kept_values(&pool).await;
        assert_eq!(kept, "1,2,5");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The commit hook runs once a group has committed — its rows are there for
    /// another connection — and before any caller of the group is answered; a
    /// group whose one transaction failed commits nothing new, yet the hook may run.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_commit_hook_runs_after_the_commit_and_before_the_answers() {
        let (dir, pool, writes) = writes_beside_sqlx().await;
        let file = dir.join("t.db");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<i64>::new()));
        let log = std::sync::Arc::clone(&seen);
        assert!(writes.after_commit(Box::new(move || {
            let other = rusqlite::Connection::open(&file).expect("another connection");
            let rows: i64 = other
                .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                .expect("count");
            log.lock().expect("log").push(rows);
        })));
        assert!(!writes.after_commit(Box::new(|| {})), "set once");
        let inserted = writes
            .transaction(|tx| {
                tx.execute("INSERT INTO t (a) VALUES (7), (8)", [])?;
                Ok(())
            })
            .await;
        assert!(inserted.is_ok());
        assert_eq!(
            *seen.lock().expect("log"),
            vec![2],
            "ran once, after the commit"
        );
        let refused = writes
            .transaction(|tx| {
                tx.execute("INSERT INTO t (a) VALUES (7)", [])?;
                Ok(())
            })
            .await;
        assert!(refused.is_err());
        assert_eq!(kept_values(&pool).await, "7,8");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The values table `t` holds, ascending, comma-separated.
    async fn kept_values(pool: &sqlx::SqlitePool) -> String {
        let (kept,): (String,) =
            sqlx::query_as("SELECT group_concat(a) FROM (SELECT a FROM t ORDER BY a)")
                .fetch_one(pool)
                .await
                .expect("rows");
        kept
    }

    /// A transaction that runs alone commits apart from the groups around it: its
    /// failure leaves nothing of it, and the ones queued before and after it commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_alone_commits_apart() {
        let (dir, pool, writes) = writes_beside_sqlx().await;
        let turn = pool.acquire().await.expect("turn");
        let insert = |value: i64, alone: bool| {
            let writes = std::sync::Arc::clone(&writes);
            tokio::spawn(async move {
                let f = move |tx: &rusqlite::Transaction<'_>| {
                    tx.execute("INSERT INTO t (a) VALUES (?1)", [value])?;
                    tx.execute("INSERT INTO t (a) VALUES (?1)", [value + 10])?;
                    Ok(())
                };
                if alone {
                    writes.transaction_alone(f).await
                } else {
                    writes.transaction(f).await
                }
            })
        };
        let before = insert(1, false);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let alone = insert(11, true);
        let after = insert(3, false);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(turn);
        before.await.expect("task").expect("the one before");
        assert!(matches!(
            alone.await.expect("task"),
            Err(crate::StoreError::Duplicate(_))
        ));
        after.await.expect("task").expect("the one after");
        let kept = kept_values(&pool).await;
        assert_eq!(kept, "1,3,11,13");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A write whose caller stops waiting before it ends rolls back; the connection
    /// then serves the next write.
    #[tokio::test]
    async fn a_write_whose_caller_stopped_waiting_rolls_back() {
        let (dir, _pool, writes) = writes_beside_sqlx().await;
        let (began, begun) = tokio::sync::oneshot::channel::<()>();
        let (go, gone) = std::sync::mpsc::channel::<()>();
        let waiting = writes.transaction_while_wanted(move |tx| {
            tx.execute("INSERT INTO t (a) VALUES (1)", [])?;
            let _ = began.send(());
            // Goes on only once the caller has given up.
            let _ = gone.recv();
            Ok(())
        });
        tokio::select! {
            _ = waiting => unreachable!("the write waits for the caller to give up"),
            _ = begun => {}
        }
        go.send(()).expect("the write is waiting");
        // The next write waits for the first to end, then finds nothing of it.
        let rows = writes
            .transaction(|tx| {
                tx.execute("INSERT INTO t (a) VALUES (2)", [])?;
                Ok(tx.query_row("SELECT group_concat(a) FROM t", [], |r| {
                    r.get::<_, String>(0)
                })?)
            })
            .await
            .expect("the next write");
        assert_eq!(rows, "2");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
