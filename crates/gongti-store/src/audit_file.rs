//! The SQLite engine keeps the audit trail in a file of its own, `audit.db` beside
//! `gongti.db`, written by one rusqlite connection.
//!
//! SQLite lets one connection write a file at a time. With the trail in the records'
//! file, every group of audit records queued behind the records' writer (and the
//! records behind the trail), and each group paid sqlx's worker-thread round trips
//! while requests waited for it. In its own file the trail has a writer of its own:
//! the audit writer thread commits a group in one transaction on this connection, on
//! its own thread, while the records' writer goes on. PostgreSQL keeps `audit_log` in
//! the one database.
//!
//! A data directory from before this split has its trail in `gongti.db`'s `audit_log`;
//! [`AuditFile::adopt_legacy`] moves it over once (that table stays, empty, until a
//! later release drops it).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use gongti_core::audit::{AuditEntry, ChainedEntry, GENESIS_HASH, link_hash};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::direct::DirectReads;
use crate::row::hash32;
use crate::{Result, StoreError};

/// The trail's schema in `audit.db`; `PRAGMA user_version` records it.
const AUDIT_FILE_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at_us INTEGER NOT NULL,
    actor_user_id INTEGER,
    actor_username TEXT NOT NULL,
    role TEXT,
    institution_id INTEGER,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    patient_id INTEGER,
    reason TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    request_id TEXT,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_patient ON audit_log(patient_id, seq);
PRAGMA user_version = 1;
";
/// Version 2: the patient index is kept in batches (see [`AuditFile::index_pending`])
/// instead of in every commit.
const AUDIT_FILE_SCHEMA_2: &str = "
DROP INDEX IF EXISTS audit_log_patient;
CREATE TABLE IF NOT EXISTS audit_patient (
    patient_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (patient_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_index_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_through INTEGER NOT NULL
);
INSERT OR IGNORE INTO audit_index_state (id, indexed_through) VALUES (1, 0);
PRAGMA user_version = 2;
";
/// The last `gongti.db` outbox id moved into the chain.
const OUTBOX_MARK: &str = "SELECT moved_through FROM outbox_state WHERE id = 1";

/// Version 3: the last `gongti.db` outbox id moved into the chain (see `outbox`).
const AUDIT_FILE_SCHEMA_3: &str = "
CREATE TABLE IF NOT EXISTS outbox_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    moved_through INTEGER NOT NULL
);
INSERT OR IGNORE INTO outbox_state (id, moved_through) VALUES (1, 0);
PRAGMA user_version = 3;
";
const AUDIT_FILE_VERSION: i64 = 3;

/// How long the last prune, when the writer stops, waits for `gongti.db`'s write lock before it gives up until the
/// next time: the audit writer must not stall behind the records' writer.
const OUTBOX_PRUNE_BUSY: std::time::Duration = std::time::Duration::from_millis(20);

/// The patient index is brought up to date once this many records wait for it...
pub(crate) const AUDIT_INDEX_BATCH: i64 = 8_192;
/// ...or when any have waited this long (checked as records are appended).
pub(crate) const AUDIT_INDEX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// A patient's records, newest first: those in the patient index, and those after its
/// mark, found by reading the (short) tail of the trail. `$1` patient, `$2` before
/// this seq, `$3` at most this many.
pub(crate) const PATIENT_RECORDS_SEQS: &str = "
    SELECT seq FROM (SELECT seq FROM audit_patient WHERE patient_id = $1 AND seq < $2
                     ORDER BY seq DESC LIMIT $3)
    UNION ALL
    SELECT seq FROM audit_log
    WHERE seq > (SELECT indexed_through FROM audit_index_state) AND seq < $2 AND patient_id = $1";

const INSERT_ONE: &str = "INSERT INTO audit_log (seq, at_us, actor_user_id, actor_username, role, institution_id, action, \
     resource_type, resource_id, patient_id, reason, outcome, detail, request_id, prev_hash, hash) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

/// `audit.db`: one writer connection and read-only connections for the verifier and
/// the patient's access history.
pub(crate) struct AuditFile {
    writer: Mutex<Connection>,
    /// The patient index's mark (the last record it holds) and when it was set; this
    /// connection is the only one that moves it.
    indexed: Mutex<(i64, std::time::Instant)>,
    /// The outbox mark as last committed by this process (0 until its first move):
    /// rows at or below it may be deleted from `gongti.db` by any write there.
    moved: std::sync::atomic::AtomicI64,
    pub(crate) reads: Arc<DirectReads>,
    /// A read-write connection to `gongti.db` for its audit outbox, and when moved
    /// rows were last deleted there.
    outbox: Mutex<(Option<Connection>, std::time::Instant)>,
    records_path: PathBuf,
    /// Opened beside the directory's owner: reads only.
    read_only: bool,
}

/// What one append did: the chain's new head and how many staged records it moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub head: Option<(i64, [u8; 32])>,
    pub moved: usize,
}

impl std::fmt::Debug for AuditFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditFile")
            .field("reads", &self.reads)
            .finish_non_exhaustive()
    }
}

impl AuditFile {
    /// Opens (creating if needed) `audit.db` in `data_dir`.
    pub(crate) fn open(data_dir: &Path) -> Result<AuditFile> {
        let path: PathBuf = data_dir.join("audit.db");
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(crate::SQLITE_BUSY_TIMEOUT)?;
        // WAL, and FULL: a record a response was sent for survives power loss.
        conn.pragma_update(None, "journal_mode", "wal")?;
        conn.pragma_update(None, "synchronous", "full")?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > AUDIT_FILE_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: version,
                known: AUDIT_FILE_VERSION,
            });
        }
        if version < 1 {
            conn.execute_batch(&format!("BEGIN; {AUDIT_FILE_SCHEMA} COMMIT;"))?;
        }
        if version < 2 {
            conn.execute_batch(&format!("BEGIN; {AUDIT_FILE_SCHEMA_2} COMMIT;"))?;
        }
        if version < 3 {
            conn.execute_batch(&format!("BEGIN; {AUDIT_FILE_SCHEMA_3} COMMIT;"))?;
        }
        let file = AuditFile {
            writer: Mutex::new(conn),
            indexed: Mutex::new((0, std::time::Instant::now())),
            moved: std::sync::atomic::AtomicI64::new(0),
            reads: Arc::new(DirectReads::new(path)),
            outbox: Mutex::new((None, std::time::Instant::now())),
            records_path: data_dir.join("gongti.db"),
            read_only: false,
        };
        // A trail from before version 2 (or a crash before a batch) is indexed now.
        file.index_pending()?;
        Ok(file)
    }

    /// Opens `audit.db` for reading only (beside a running owner): nothing is created,
    /// migrated or indexed.
    pub(crate) fn open_read_only(data_dir: &Path) -> Result<AuditFile> {
        let path: PathBuf = data_dir.join("audit.db");
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(crate::SQLITE_BUSY_TIMEOUT)?;
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version != AUDIT_FILE_VERSION {
            return Err(StoreError::Corrupt(format!(
                "audit.db is at version {version}, this build reads {AUDIT_FILE_VERSION}: start the server (or `gongti migrate`) once first"
            )));
        }
        Ok(AuditFile {
            writer: Mutex::new(conn),
            indexed: Mutex::new((0, std::time::Instant::now())),
            moved: std::sync::atomic::AtomicI64::new(0),
            reads: Arc::new(DirectReads::new(path)),
            outbox: Mutex::new((None, std::time::Instant::now())),
            records_path: data_dir.join("gongti.db"),
            read_only: true,
        })
    }

    /// Adds the records after the patient index's mark to it, sorted, in one
    /// transaction, and moves the mark to the last record. Every record reaches the
    /// index in a batch instead of in its own commit: a record's index entry lands on
    /// a page of its patient's, so one commit of records from many patients wrote
    /// that many index pages to the WAL (about 20 per commit at 64 concurrent reads,
    /// BENCHMARKS.md), where a batch writes each page once. The index is derived: the
    /// records after the mark are found by reading the tail ([`PATIENT_RECORDS_SEQS`]).
    pub(crate) fn index_pending(&self) -> Result<()> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO audit_patient (patient_id, seq)
             SELECT patient_id, seq FROM audit_log
             WHERE seq > (SELECT indexed_through FROM audit_index_state) AND patient_id IS NOT NULL
             ORDER BY patient_id, seq",
            [],
        )?;
        let mark: i64 = tx.query_row(
            "UPDATE audit_index_state
             SET indexed_through = COALESCE((SELECT MAX(seq) FROM audit_log), indexed_through)
             RETURNING indexed_through",
            [],
            |r| r.get(0),
        )?;
        tx.commit()?;
        *self.indexed.lock().unwrap_or_else(PoisonError::into_inner) =
            (mark, std::time::Instant::now());
        Ok(())
    }

    /// Brings the patient index up to date when a batch is due (enough records, or
    /// records old enough, after its mark). A failure is logged, not returned: the
    /// records are committed, and the next batch or the tail read covers them.
    fn index_if_due(&self, last_seq: i64) {
        let (mark, at) = *self.indexed.lock().unwrap_or_else(PoisonError::into_inner);
        let waiting = last_seq - mark;
        let due = waiting >= AUDIT_INDEX_BATCH || (waiting > 0 && at.elapsed() >= AUDIT_INDEX_AGE);
        if due && let Err(error) = self.index_pending() {
            tracing::warn!(%error, "the audit trail's patient index was not brought up to date");
        }
    }

    /// Appends linked records in one transaction, on this thread.
    pub(crate) fn append(&self, records: &[ChainedEntry]) -> Result<()> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(INSERT_ONE)?;
            for r in records {
                insert_chained(&mut insert, r)?;
            }
        }
        tx.commit()?;
        drop(conn);
        if let Some(last) = records.last() {
            self.index_if_due(last.seq);
        }
        Ok(())
    }

    /// Links `entries` onto the chain together with up to `outbox_max` records staged
    /// in `gongti.db`'s outbox (staged first, in their order), and commits them with
    /// the outbox mark in one transaction, on this thread.
    pub(crate) fn append_entries(
        &self,
        entries: &[AuditEntry],
        outbox_max: usize,
    ) -> Result<Appended> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        // Only a move reads the mark (reads' records are most groups), through a
        // statement prepared once.
        let staged = if outbox_max > 0 {
            let mark: i64 = conn
                .prepare_cached(OUTBOX_MARK)?
                .query_row([], |r| r.get(0))?;
            self.staged_after(mark, outbox_max)?
        } else {
            Vec::new()
        };
        let moved = staged.len();
        let tx = conn.transaction()?;
        let head = head_of(&tx)?;
        let (mut seq, mut prev) = head.unwrap_or((0, GENESIS_HASH));
        {
            let mut insert = tx.prepare_cached(INSERT_ONE)?;
            let all = staged.iter().map(|(_, e)| e).chain(entries);
            for entry in all {
                seq += 1;
                let hash = link_hash(seq, &prev, entry);
                insert_linked(&mut insert, seq, entry, &prev, &hash)?;
                prev = hash;
            }
        }
        if let Some((last_id, _)) = staged.last() {
            tx.execute(
                "UPDATE outbox_state SET moved_through = ?1 WHERE id = 1",
                [last_id],
            )?;
        }
        tx.commit()?;
        drop(conn);
        if let Some((last_id, _)) = staged.last() {
            self.moved
                .store(*last_id, std::sync::atomic::Ordering::Release);
        }
        let head = if seq > 0 { Some((seq, prev)) } else { head };
        if let Some((last, _)) = head {
            self.index_if_due(last);
        }
        // The moved rows are deleted from gongti.db by its own writer
        // (`Store::prune_audit_outbox`), never from here.
        Ok(Appended { head, moved })
    }

    /// Runs `f` on the connection to `gongti.db`'s outbox, opening it if needed.
    fn with_outbox<T>(
        &self,
        f: impl FnOnce(&Connection, &mut std::time::Instant) -> Result<T>,
    ) -> Result<T> {
        let mut guard = self.outbox.lock().unwrap_or_else(PoisonError::into_inner);
        let (conn, pruned_at) = &mut *guard;
        if conn.is_none() {
            let mode = if self.read_only {
                OpenFlags::SQLITE_OPEN_READ_ONLY
            } else {
                OpenFlags::SQLITE_OPEN_READ_WRITE
            };
            let c = Connection::open_with_flags(
                &self.records_path,
                mode | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            c.busy_timeout(OUTBOX_PRUNE_BUSY)?;
            if !self.read_only {
                c.pragma_update(None, "synchronous", "full")?;
            }
            *conn = Some(c);
        }
        let conn = conn.as_ref().ok_or(StoreError::NotFound)?;
        f(conn, pruned_at)
    }

    /// Staged records after the mark, oldest first, at most `limit`.
    fn staged_after(&self, mark: i64, limit: usize) -> Result<Vec<(i64, AuditEntry)>> {
        self.with_outbox(|conn, _| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT id, {} FROM audit_outbox WHERE id > ?1 ORDER BY id LIMIT ?2",
                crate::outbox::OUTBOX_COLUMNS
            ))?;
            // Read by column place: a look-up by name took a sixth of the move.
            let columns: Vec<String> = statement
                .column_names()
                .into_iter()
                .map(str::to_owned)
                .collect();
            let mut rows = statement.query(params![mark, limit as i64])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(crate::outbox::staged(&crate::direct::ByPlace::new(
                    row, &columns,
                ))?);
            }
            Ok(out)
        })
    }

    /// The patient index as it stands: the mark it has reached, how many entries it
    /// holds, and the XOR of their digests (`index_entry_digest`).
    pub(crate) fn patient_index_digest(&self) -> Result<(i64, u64, u128)> {
        self.reads.with(|conn| {
            // The mark and the entries from one snapshot, beside a writer that moves both.
            let tx = conn.unchecked_transaction()?;
            let mark: i64 = tx.query_row(
                "SELECT indexed_through FROM audit_index_state WHERE id = 1",
                [],
                |r| r.get(0),
            )?;
            let mut statement = tx.prepare("SELECT patient_id, seq FROM audit_patient")?;
            let mut rows = statement.query([])?;
            let (mut count, mut digest) = (0u64, 0u128);
            while let Some(row) = rows.next()? {
                count += 1;
                digest ^= gongti_core::audit::index_entry_digest(row.get(0)?, row.get(1)?);
            }
            Ok((mark, count, digest))
        })
    }

    /// The last outbox id this process has moved into the chain, without a query.
    pub(crate) fn moved_mark(&self) -> i64 {
        self.moved.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The last outbox id moved into the chain.
    pub(crate) fn outbox_mark(&self) -> Result<i64> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(conn
            .prepare_cached(OUTBOX_MARK)?
            .query_row([], |r| r.get(0))?)
    }

    /// Deletes every moved row from the outbox now.
    pub(crate) fn prune_moved(&self) {
        let pruned = self.outbox_mark().and_then(|mark| {
            self.with_outbox(|conn, pruned_at| {
                conn.execute("DELETE FROM audit_outbox WHERE id <= ?1", [mark])?;
                *pruned_at = std::time::Instant::now();
                Ok(())
            })
        });
        if let Err(error) = pruned {
            tracing::debug!(%error, "moved audit outbox rows not deleted yet");
        }
    }

    /// Records staged in `gongti.db`'s outbox and not yet in the chain.
    pub(crate) fn outbox_waiting(&self) -> Result<i64> {
        let mark = self.outbox_mark()?;
        self.with_outbox(|conn, _| {
            Ok(conn.query_row(
                "SELECT COUNT(*) FROM audit_outbox WHERE id > ?1",
                [mark],
                |r| r.get(0),
            )?)
        })
    }

    /// The last record's sequence number and hash, read by the writer itself.
    pub(crate) fn head(&self) -> Result<Option<(i64, [u8; 32])>> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        head_of(&conn)
    }

    /// Moves a trail written before the split from `gongti.db`'s `audit_log` into this
    /// file: copied when this file is still empty, then emptied there once the copy's
    /// last record matches the original's (a crash between the two steps finishes on
    /// the next start). Returns the number of records moved.
    pub(crate) fn adopt_legacy(&self, records_file: &Path) -> Result<u64> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let path = records_file
            .to_str()
            .ok_or_else(|| StoreError::Corrupt("the data directory's path is not UTF-8".into()))?;
        conn.execute("ATTACH DATABASE ?1 AS legacy", [path])?;
        let moved = (|| -> Result<u64> {
            let legacy_exists: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM legacy.sqlite_master WHERE type = 'table' AND name = 'audit_log')",
                [],
                |r| r.get(0),
            )?;
            if !legacy_exists {
                return Ok(0);
            }
            let legacy_last: Option<(i64, Vec<u8>)> = conn
                .query_row(
                    "SELECT seq, hash FROM legacy.audit_log ORDER BY seq DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((last_seq, last_hash)) = legacy_last else {
                return Ok(0);
            };
            let here: i64 =
                conn.query_row("SELECT COUNT(*) FROM main.audit_log", [], |r| r.get(0))?;
            let mut moved = 0;
            if here == 0 {
                moved = conn.execute(
                    "INSERT INTO main.audit_log SELECT seq, at_us, actor_user_id, actor_username, role, institution_id, \
                     action, resource_type, resource_id, patient_id, reason, outcome, detail, request_id, prev_hash, hash \
                     FROM legacy.audit_log ORDER BY seq",
                    [],
                )? as u64;
            }
            let copied: Option<Vec<u8>> = conn
                .query_row(
                    "SELECT hash FROM main.audit_log WHERE seq = ?1",
                    [last_seq],
                    |r| r.get(0),
                )
                .optional()?;
            if copied.as_deref() != Some(last_hash.as_slice()) {
                return Err(StoreError::Corrupt(format!(
                    "audit.db and gongti.db both hold an audit trail and disagree at record {last_seq}"
                )));
            }
            conn.execute("DELETE FROM legacy.audit_log", [])?;
            Ok(moved)
        })();
        let detached = conn.execute("DETACH DATABASE legacy", []);
        let moved = moved?;
        detached?;
        drop(conn);
        if moved > 0 {
            self.index_pending()?;
        }
        Ok(moved)
    }
}

/// The last record's sequence number and hash.
fn head_of(conn: &Connection) -> Result<Option<(i64, [u8; 32])>> {
    let mut statement =
        conn.prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?;
    let mut rows = statement.query([])?;
    rows.next()?
        .map(|row| Ok((row.get::<_, i64>(0)?, hash32(row, "hash")?)))
        .transpose()
}

fn insert_chained(insert: &mut rusqlite::CachedStatement<'_>, r: &ChainedEntry) -> Result<()> {
    insert_linked(insert, r.seq, &r.entry, &r.prev_hash, &r.hash)
}

/// Inserts `e` as record `seq` with its link hashes (no copy of the entry made).
fn insert_linked(
    insert: &mut rusqlite::CachedStatement<'_>,
    seq: i64,
    e: &AuditEntry,
    prev_hash: &[u8; 32],
    hash: &[u8; 32],
) -> Result<()> {
    insert
        .execute(params![
            seq,
            e.at_us,
            e.actor_user_id,
            e.actor_username,
            e.role,
            e.institution_id,
            e.action,
            e.resource_type,
            e.resource_id,
            e.patient_id,
            e.reason,
            e.outcome.code(),
            e.detail,
            e.request_id,
            &prev_hash[..],
            &hash[..],
        ])
        .map_err(duplicate_seq)?;
    Ok(())
}

/// A taken sequence number is a duplicate, like the other engine reports it.
fn duplicate_seq(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => {
            StoreError::Duplicate("audit_log.seq".to_owned())
        }
        _ => e.into(),
    }
}
