//! The audit writer: requests hand their records to one writer that links them into
//! the hash chain and commits them in groups. A request is answered only after its
//! record is committed, so no response is ever sent for an unaudited access, while one
//! commit carries many requests' records.
//!
//! A write's records do not travel this way: they are staged in the write's own
//! transaction (gongti-store's `outbox`), so the change and its record commit together
//! or not at all, and the writer moves them into the chain; the write then waits for
//! that move ([`AuditLog::flush`]) before it answers.
//!
//! The writer is a thread of its own: on SQLite it writes the trail's own file (see
//! gongti-store's `audit_file`) without waiting for a turn on the threads that serve
//! requests; on PostgreSQL it commits through the pool, each transaction under the
//! chain's advisory lock.

use gongti_core::audit::AuditEntry;
use gongti_store::{Appended, AuditAppender, Store};
use tokio::sync::{mpsc, oneshot};

use crate::{AppError, AppResult};

pub mod checkpoint;
mod verify;
pub use verify::{
    Anchors, COVERED_TABLES, CheckpointFindings, CheckpointProblem, Covered, IndexFinding, Source,
    Uncovered, VerifyReport, startup_check, verify,
};

/// Records waiting to be written before new requests wait for room.
pub const AUDIT_QUEUE_MAX: usize = 65_536;
/// Records committed in one transaction at most.
pub const AUDIT_BATCH_MAX: usize = 2_048;
/// Records moved from the outbox into the chain in one transaction at most.
pub const AUDIT_OUTBOX_MOVE_MAX: usize = 2_048;
/// The writer looks in the outbox at least this often, even when no write asked it
/// to: a write whose request was cancelled after its commit still reaches the chain.
/// (It is also emptied when the writer starts and when it stops.)
pub const AUDIT_OUTBOX_SWEEP: std::time::Duration = std::time::Duration::from_secs(1);
/// While requests arrive together, the SQLite writer lets a group grow to this many
/// records before committing it...
pub const AUDIT_GATHER_TARGET: usize = 64;
/// ...waiting at most this long for them. A lone request (the previous group held one
/// record) never waits. Each commit writes a few pages to the WAL and syncs it whatever
/// its size, so under load fewer, larger commits leave more CPU to the requests:
/// about +8 % audited reads/s at 64 connections, with a lower p99 (BENCHMARKS.md).
pub const AUDIT_GATHER_WAIT: std::time::Duration = std::time::Duration::from_micros(500);

struct Request {
    entries: Vec<AuditEntry>,
    /// Whether to move what writes have staged in the outbox before answering.
    flush: Flush,
    done: oneshot::Sender<bool>,
}

/// What a request needs moved from the outbox into the chain before its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flush {
    /// Nothing (a read's records).
    No,
    /// Everything staged by the writes committed so far.
    All,
    /// Everything through this outbox id (SQLite's direct lane, whose writes commit
    /// in the order of their outbox ids): already done once the writer has moved
    /// through it.
    Through(i64),
}

/// Whether a group of requests needs a move, given the last outbox id already moved
/// (`moved`, known on SQLite only: elsewhere a mark is not trusted and every flush
/// moves).
fn needs_move(flushes: impl IntoIterator<Item = Flush>, moved: Option<i64>) -> bool {
    flushes.into_iter().any(|f| match f {
        Flush::No => false,
        Flush::All => true,
        Flush::Through(id) => moved.is_none_or(|moved| id > moved),
    })
}

/// The audit trail's writer, as the use cases see it: [`AuditLog::record`] for what is
/// recorded on its own (reads, refusals), [`AuditLog::flush`] after a write whose
/// records were staged in its transaction.
#[derive(Clone, Debug)]
pub struct AuditLog {
    queue: mpsc::Sender<Request>,
    /// SQLite's trail, to see how far the outbox has been moved without a request.
    moved: Option<AuditAppender>,
}

/// Where the writer commits: `audit.db` on its own thread (SQLite), or PostgreSQL.
enum Sink {
    File(AuditAppender),
    Postgres(Store, tokio::runtime::Handle),
}

impl Sink {
    /// The last outbox id moved into the chain, where marks are trusted (see [`Flush`]).
    fn moved(&self) -> Option<i64> {
        match self {
            Sink::File(appender) => Some(appender.moved_mark()),
            Sink::Postgres(..) => None,
        }
    }

    fn append(&self, entries: &[AuditEntry], outbox_max: usize) -> gongti_store::Result<Appended> {
        match self {
            Sink::File(appender) => appender.append_entries(entries, outbox_max),
            Sink::Postgres(store, handle) => {
                handle.block_on(store.append_entries(entries, outbox_max))
            }
        }
    }
}

/// Moves every record the outbox holds into the chain; returns how many, and the
/// chain's head.
pub(crate) async fn drain_outbox(store: &Store) -> AppResult<(usize, Option<(i64, [u8; 32])>)> {
    let mut moved = 0;
    loop {
        let a = store.append_entries(&[], AUDIT_OUTBOX_MOVE_MAX).await?;
        moved += a.moved;
        if a.moved < AUDIT_OUTBOX_MOVE_MAX {
            return Ok((moved, a.head));
        }
    }
}

impl AuditLog {
    /// Starts the writer, after moving into the chain whatever a previous run left in
    /// the outbox (a crash between a write's commit and the move).
    pub(crate) async fn start(
        store: Store,
        signing: Option<checkpoint::Signing>,
    ) -> AppResult<(AuditLog, tokio::task::JoinHandle<()>)> {
        let (moved, head) = drain_outbox(&store).await?;
        let checkpoints =
            signing.map(|s| checkpoint::Checkpointer::new(s, head.map_or(0, |(seq, _)| seq)));
        if moved > 0 {
            tracing::info!(records = moved, "moved staged audit records into the chain");
        }
        let (queue, rx) = mpsc::channel(AUDIT_QUEUE_MAX);
        let handle = tokio::runtime::Handle::current();
        let pruner = store.clone();
        // The direct lane asks for the move as soon as it commits, before it answers
        // the writes whose records it staged: their flushes then find it under way or
        // done. (A weak sender: the store must not keep the writer alive.)
        let kicks = queue.downgrade();
        store.after_direct_commit(move || {
            if let Some(queue) = kicks.upgrade() {
                let (done, _) = oneshot::channel();
                let _ = queue.try_send(Request {
                    entries: Vec::new(),
                    flush: Flush::All,
                    done,
                });
            }
        });
        let appender = store.audit_appender();
        let sink = match appender.clone() {
            Some(appender) => Sink::File(appender),
            None => Sink::Postgres(store, handle.clone()),
        };
        tokio::spawn(sweep(queue.downgrade(), pruner));
        let writer = tokio::task::spawn_blocking(move || write_thread(&sink, rx, checkpoints));
        Ok((
            AuditLog {
                queue,
                moved: appender,
            },
            writer,
        ))
    }

    /// Queues a request; its answer (whether it committed) arrives on the receiver.
    async fn queue(
        &self,
        entries: Vec<AuditEntry>,
        flush: Flush,
    ) -> AppResult<oneshot::Receiver<bool>> {
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Request {
                entries,
                flush,
                done,
            })
            .await
            .map_err(|_| writer_stopped())?;
        Ok(committed)
    }

    async fn send(&self, entries: Vec<AuditEntry>, flush: Flush) -> AppResult<()> {
        let committed = self.queue(entries, flush).await?;
        match committed.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppError::Internal(anyhow::anyhow!(
                "the audit record could not be written"
            ))),
            Err(_) => Err(writer_stopped()),
        }
    }

    /// Appends records and waits until they are committed.
    pub async fn record(&self, entries: Vec<AuditEntry>) -> AppResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.send(entries, Flush::No).await
    }

    /// Waits until the records staged by every write committed so far are in the
    /// chain. A write's records are safe once it commits (they are in its
    /// transaction); this keeps "in the chain before the answer" for writes too.
    pub async fn flush(&self) -> AppResult<()> {
        self.send(Vec::new(), Flush::All).await
    }

    /// [`AuditLog::flush`] for a write that knows its last outbox id (`through`, from
    /// SQLite's direct lane): answered at once when the writer has moved past it,
    /// otherwise after the move that does; without one, as [`AuditLog::flush`].
    pub async fn flush_through(&self, through: Option<i64>) -> AppResult<()> {
        match (through, &self.moved) {
            (Some(id), Some(trail)) if trail.moved_mark() >= id => Ok(()),
            (Some(id), Some(_)) => self.send(Vec::new(), Flush::Through(id)).await,
            _ => self.flush().await,
        }
    }

    /// [`AuditLog::flush`] without waiting: the receiver says once the move has
    /// committed (`true`) or failed. For a writer that answers many requests at once
    /// (the registrar) and goes on meanwhile.
    pub(crate) async fn flush_later(&self) -> AppResult<oneshot::Receiver<bool>> {
        self.queue(Vec::new(), Flush::All).await
    }
}

fn writer_stopped() -> AppError {
    AppError::Internal(anyhow::anyhow!("the audit writer has stopped"))
}

/// Takes what is already queued, up to a batch; returns the records now pending.
fn take_queued(
    rx: &mut mpsc::Receiver<Request>,
    pending: &mut Vec<Request>,
    mut count: usize,
) -> usize {
    while count < AUDIT_BATCH_MAX {
        match rx.try_recv() {
            Ok(r) => {
                count += r.entries.len().max(1);
                pending.push(r);
            }
            Err(_) => break,
        }
    }
    count
}

/// Tells each waiting request whether its records were committed.
fn settle(pending: &mut Vec<Request>, ok: bool) {
    for request in pending.drain(..) {
        let _ = request.done.send(ok);
    }
}

/// Under load, waits briefly for more records to join a group of `count` (see
/// [`AUDIT_GATHER_WAIT`]); returns how many records the group holds.
fn gather_more(
    rx: &mut mpsc::Receiver<Request>,
    pending: &mut Vec<Request>,
    mut count: usize,
) -> usize {
    let deadline = std::time::Instant::now() + AUDIT_GATHER_WAIT;
    while count < AUDIT_GATHER_TARGET && std::time::Instant::now() < deadline {
        std::thread::sleep(AUDIT_GATHER_WAIT / 10);
        count = take_queued(rx, pending, count);
    }
    count
}

/// Commits `entries`, and when `outbox` is set everything the outbox holds, in as
/// many transactions as it takes. Returns the chain's head once all of it committed.
fn commit(sink: &Sink, entries: &[AuditEntry], outbox: bool) -> Option<Option<(i64, [u8; 32])>> {
    let max = if outbox { AUDIT_OUTBOX_MOVE_MAX } else { 0 };
    let mut result = sink.append(entries, max);
    while let Ok(a) = &result
        && outbox
        && a.moved == max
    {
        result = sink.append(&[], max);
    }
    match result {
        Ok(a) => Some(a.head),
        Err(error) => {
            tracing::error!(%error, records = entries.len(), "audit batch failed; its requests fail");
            None
        }
    }
}

/// Makes a checkpoint of the chain at `head` when one is due, and appends its record.
fn checkpoint_if_due(
    sink: &Sink,
    checkpoints: &mut Option<checkpoint::Checkpointer>,
    head: Option<(i64, [u8; 32])>,
    closing: bool,
) {
    let (Some(c), Some(head)) = (checkpoints.as_mut(), head) else {
        return;
    };
    if c.due(head.0, closing) {
        let made = c.make(head);
        if let Err(error) = sink.append(&[made.record()], 0) {
            tracing::error!(%error, "the audit checkpoint's record was not appended");
        }
    }
}

/// Asks the writer to look in the outbox every [`AUDIT_OUTBOX_SWEEP`], so that a
/// write whose request was cancelled after its commit still reaches the chain soon,
/// and deletes the rows it has moved through the records' own writer (on SQLite a
/// second writer's commits made the writer's open transactions fail "database is
/// locked"); ends when the application does (it holds no sender of its own).
async fn sweep(queue: mpsc::WeakSender<Request>, store: Store) {
    loop {
        tokio::time::sleep(AUDIT_OUTBOX_SWEEP).await;
        let Some(queue) = queue.upgrade() else {
            return;
        };
        let (done, _) = oneshot::channel();
        let _ = queue.try_send(Request {
            entries: Vec::new(),
            flush: Flush::All,
            done,
        });
        drop(queue);
        if let Err(error) = store.prune_audit_outbox().await {
            tracing::debug!(%error, "moved audit outbox rows not deleted yet");
        }
    }
}

/// The writer: gathers a group of requests, links and commits it (with the outbox
/// when a write or the sweep asked), then answers every request of the group. It runs
/// on a thread of its own and commits on it; once every sender is gone it moves what
/// the outbox still holds and ends.
fn write_thread(
    sink: &Sink,
    mut rx: mpsc::Receiver<Request>,
    mut checkpoints: Option<checkpoint::Checkpointer>,
) {
    let mut pending: Vec<Request> = Vec::new();
    let mut previous_group = 0;
    while let Some(first) = rx.blocking_recv() {
        let count = first.entries.len().max(1);
        pending.push(first);
        let count = take_queued(&mut rx, &mut pending, count);
        // A write waiting for its staged records gains nothing from a longer group:
        // the move takes whatever the outbox holds, however many writes staged it.
        let flushing = pending.iter().any(|r| r.flush != Flush::No);
        previous_group = if previous_group > 1 && !flushing {
            gather_more(&mut rx, &mut pending, count)
        } else {
            count
        };
        // Requests gathered since may have asked for the move too; a write whose
        // records an earlier move took (the lane's kick at its commit) needs none.
        let outbox = needs_move(pending.iter().map(|r| r.flush), sink.moved());
        // Moved out of the requests, not copied: only their answer channels remain.
        let entries: Vec<AuditEntry> = pending
            .iter_mut()
            .flat_map(|r| std::mem::take(&mut r.entries))
            .collect();
        if entries.is_empty() && !outbox {
            settle(&mut pending, true);
            continue;
        }
        let head = commit(sink, &entries, outbox);
        settle(&mut pending, head.is_some());
        checkpoint_if_due(sink, &mut checkpoints, head.flatten(), false);
    }
    let head = commit(sink, &[], true);
    checkpoint_if_due(sink, &mut checkpoints, head.flatten(), true);
    if let Sink::File(appender) = sink {
        appender.prune_moved();
    }
}

#[cfg(test)]
mod tests {
    use super::{Flush, needs_move};

    /// A group moves the outbox when any request needs more than has been moved;
    /// a mark is trusted only where the trail says how far it has moved (SQLite).
    #[test]
    fn a_move_is_made_only_for_what_is_not_moved_yet() {
        let cases: [(&[Flush], Option<i64>, bool); 9] = [
            (&[], Some(10), false),
            (&[Flush::No], Some(10), false),
            (&[Flush::All], Some(10), true),
            (&[Flush::Through(10)], Some(10), false),
            (&[Flush::Through(9), Flush::No], Some(10), false),
            (&[Flush::Through(11)], Some(10), true),
            (&[Flush::Through(3), Flush::Through(11)], Some(10), true),
            (&[Flush::Through(3)], None, true),
            (&[Flush::No, Flush::All, Flush::Through(1)], Some(10), true),
        ];
        for (flushes, moved, expected) in cases {
            assert_eq!(
                needs_move(flushes.iter().copied(), moved),
                expected,
                "{flushes:?} with {moved:?} moved"
            );
        }
    }
}
