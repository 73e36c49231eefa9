//! The audit writer: requests hand their records to one writer that links them into
//! the hash chain and commits them in groups. A request is answered only after its
//! record is committed, so no response is ever sent for an unaudited access, while one
//! commit carries many requests' records.
//!
//! On SQLite the writer is a thread of its own writing the trail's own file (see
//! gongti-store's `audit_file`): a group is gathered, linked and committed there
//! without waiting for a turn on the threads that serve requests. On PostgreSQL it is
//! a task writing through the pool.

use gongti_core::audit::{AuditEntry, ChainBreak, ChainVerifier, ChainedEntry, GENESIS_HASH, link};
use gongti_store::{AuditAppender, Store};
use tokio::sync::{mpsc, oneshot};

use crate::{AppError, AppResult};

/// Records waiting to be written before new requests wait for room.
pub const AUDIT_QUEUE_MAX: usize = 65_536;
/// Records committed in one transaction at most.
pub const AUDIT_BATCH_MAX: usize = 2_048;
/// While requests arrive together, the SQLite writer lets a group grow to this many
/// records before committing it...
pub const AUDIT_GATHER_TARGET: usize = 64;
/// ...waiting at most this long for them. A lone request (the previous group held one
/// record) never waits. Each commit writes a few pages to the WAL and syncs it whatever
/// its size, so under load fewer, larger commits leave more CPU to the requests:
/// about +8 % audited reads/s at 64 connections, with a lower p99 (BENCHMARKS.md).
pub const AUDIT_GATHER_WAIT: std::time::Duration = std::time::Duration::from_micros(500);
/// Records read per page by the verifier.
pub const AUDIT_VERIFY_PAGE: u32 = 5_000;

struct Request {
    entries: Vec<AuditEntry>,
    done: oneshot::Sender<bool>,
}

#[derive(Clone, Debug)]
pub struct AuditLog {
    queue: mpsc::Sender<Request>,
}

impl AuditLog {
    pub(crate) async fn start(store: Store) -> AppResult<(AuditLog, tokio::task::JoinHandle<()>)> {
        let head = store.audit_head().await?.unwrap_or((0, GENESIS_HASH));
        let (queue, rx) = mpsc::channel(AUDIT_QUEUE_MAX);
        let writer = match store.audit_appender() {
            Some(appender) => {
                tokio::task::spawn_blocking(move || write_thread(&appender, rx, head))
            }
            None => tokio::spawn(write_loop(store, rx, head)),
        };
        Ok((AuditLog { queue }, writer))
    }

    /// Appends records and waits until they are committed.
    pub async fn record(&self, entries: Vec<AuditEntry>) -> AppResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (done, committed) = oneshot::channel();
        let closed = || AppError::Internal(anyhow::anyhow!("the audit writer has stopped"));
        self.queue
            .send(Request { entries, done })
            .await
            .map_err(|_| closed())?;
        match committed.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppError::Internal(anyhow::anyhow!(
                "the audit record could not be written"
            ))),
            Err(_) => Err(closed()),
        }
    }
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
                count += r.entries.len();
                pending.push(r);
            }
            Err(_) => break,
        }
    }
    count
}

/// Starts a group with `first` and what is already queued behind it; returns its
/// number of records.
fn gather(first: Request, rx: &mut mpsc::Receiver<Request>, pending: &mut Vec<Request>) -> usize {
    let count = first.entries.len();
    pending.push(first);
    take_queued(rx, pending, count)
}

/// Links the pending records onto the chain at `head`; returns them and the new head.
fn chain(pending: &[Request], head: (i64, [u8; 32])) -> (Vec<ChainedEntry>, (i64, [u8; 32])) {
    let (mut seq, mut prev) = head;
    let mut chained: Vec<ChainedEntry> = Vec::new();
    for request in pending {
        for entry in &request.entries {
            seq += 1;
            let record = link(seq, prev, entry.clone());
            prev = record.hash;
            chained.push(record);
        }
    }
    (chained, (seq, prev))
}

/// Tells each waiting request whether its records were committed.
fn settle(pending: &mut Vec<Request>, ok: bool) {
    for request in pending.drain(..) {
        let _ = request.done.send(ok);
    }
}

fn failed(error: &gongti_store::StoreError, records: usize) {
    tracing::error!(%error, records, "audit batch failed; its requests fail");
}

async fn write_loop(store: Store, mut rx: mpsc::Receiver<Request>, mut head: (i64, [u8; 32])) {
    let mut pending: Vec<Request> = Vec::new();
    while let Some(first) = rx.recv().await {
        gather(first, &mut rx, &mut pending);
        let (chained, next) = chain(&pending, head);
        let ok = match store.append_audit(&chained).await {
            Ok(()) => {
                head = next;
                true
            }
            Err(error) => {
                failed(&error, chained.len());
                // Re-read the head: the failed transaction may or may not have landed.
                if let Ok(Some(h)) = store.audit_head().await {
                    head = h;
                }
                false
            }
        };
        settle(&mut pending, ok);
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

/// The SQLite writer: the same loop on a thread of its own, committing on it.
fn write_thread(
    appender: &AuditAppender,
    mut rx: mpsc::Receiver<Request>,
    mut head: (i64, [u8; 32]),
) {
    let mut pending: Vec<Request> = Vec::new();
    let mut previous_group = 0;
    while let Some(first) = rx.blocking_recv() {
        let count = gather(first, &mut rx, &mut pending);
        previous_group = if previous_group > 1 {
            gather_more(&mut rx, &mut pending, count)
        } else {
            count
        };
        let (chained, next) = chain(&pending, head);
        let ok = match appender.append(&chained) {
            Ok(()) => {
                head = next;
                true
            }
            Err(error) => {
                failed(&error, chained.len());
                if let Ok(Some(h)) = appender.head() {
                    head = h;
                }
                false
            }
        };
        settle(&mut pending, ok);
    }
}

/// The result of checking the whole chain.
#[derive(Debug)]
pub enum VerifyOutcome {
    Intact { records: i64 },
    Broken(ChainBreak),
}

/// Reads the whole trail in order and checks every link; `progress` is told how many
/// records have been checked after each page.
pub async fn verify_chain(
    store: &Store,
    mut progress: impl FnMut(i64),
) -> AppResult<VerifyOutcome> {
    let mut verifier = ChainVerifier::default();
    let mut after = 0;
    loop {
        let page = store.audit_records(after, AUDIT_VERIFY_PAGE).await?;
        let Some(last) = page.records.last() else {
            break;
        };
        after = last.seq;
        for record in &page.records {
            if let Err(broken) = verifier.push(record) {
                return Ok(VerifyOutcome::Broken(broken));
            }
        }
        progress(verifier.verified());
    }
    Ok(VerifyOutcome::Intact {
        records: verifier.verified(),
    })
}
