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

use gongti_core::audit::ChainedEntry;
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
const AUDIT_FILE_VERSION: i64 = 1;

const INSERT_ONE: &str = "INSERT INTO audit_log (seq, at_us, actor_user_id, actor_username, role, institution_id, action, \
     resource_type, resource_id, patient_id, reason, outcome, detail, request_id, prev_hash, hash) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

/// `audit.db`: one writer connection and read-only connections for the verifier and
/// the patient's access history.
pub(crate) struct AuditFile {
    writer: Mutex<Connection>,
    pub(crate) reads: Arc<DirectReads>,
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
        if version < AUDIT_FILE_VERSION {
            conn.execute_batch(&format!("BEGIN; {AUDIT_FILE_SCHEMA} COMMIT;"))?;
        }
        Ok(AuditFile {
            writer: Mutex::new(conn),
            reads: Arc::new(DirectReads::new(path)),
        })
    }

    /// Appends linked records in one transaction, on this thread.
    pub(crate) fn append(&self, records: &[ChainedEntry]) -> Result<()> {
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(INSERT_ONE)?;
            for r in records {
                let e = &r.entry;
                insert
                    .execute(params![
                        r.seq,
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
                        &r.prev_hash[..],
                        &r.hash[..],
                    ])
                    .map_err(duplicate_seq)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The last record's sequence number and hash, read by the writer itself.
    pub(crate) fn head(&self) -> Result<Option<(i64, [u8; 32])>> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut statement =
            conn.prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?;
        let mut rows = statement.query([])?;
        rows.next()?
            .map(|row| Ok((row.get::<_, i64>(0)?, hash32(row, "hash")?)))
            .transpose()
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
        Ok(moved)
    }
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
