//! The audit trail's storage: append a linked batch, read it back in order.

use gongti_core::audit::{AuditEntry, ChainedEntry, GENESIS_HASH, Outcome, link};

use std::sync::Arc;

pub use crate::audit_file::Appended;
use crate::audit_file::AuditFile;
use crate::row::{RowExt, hash32, trusted};
use crate::{Result, Store, on_read, on_write};

/// Key of the PostgreSQL advisory lock held by each transaction that appends to the
/// chain: several servers may share one database, and the chain stays one chain.
const PG_AUDIT_CHAIN_LOCK: i64 = 0x676f_6e67_7461;

/// Rows per multi-row `INSERT` (at most eight bound values each).
const AUDIT_ROWS_PER_INSERT: usize = 256;
const AUDIT_COLUMNS: &str = "seq, at_us, actor_user_id, actor_username, role, institution_id, action, resource_type, \
     resource_id, patient_id, reason, outcome, detail, request_id, prev_hash, hash";

#[derive(Debug, Clone)]
pub struct AuditPage {
    pub records: Vec<ChainedEntry>,
}

/// The fields of an audit record, from the trail or the outbox.
pub(crate) fn entry_of(row: &impl RowExt) -> Result<AuditEntry> {
    let outcome = row.text("outcome")?;
    Ok(AuditEntry {
        at_us: row.i64("at_us")?,
        actor_user_id: row.opt_i64("actor_user_id")?,
        actor_username: row.text("actor_username")?,
        role: row.opt_text("role")?,
        institution_id: row.opt_i64("institution_id")?,
        action: row.text("action")?,
        resource_type: row.text("resource_type")?,
        resource_id: row.opt_text("resource_id")?,
        patient_id: row.opt_i64("patient_id")?,
        reason: row.opt_text("reason")?,
        // An edited outcome code must reach the verifier, which reports it as altered.
        outcome: Outcome::from_code(&outcome).unwrap_or(Outcome::Unrecognised),
        detail: row.opt_text("detail")?,
        request_id: row.opt_text("request_id")?,
    })
}

fn chained(row: &impl RowExt) -> Result<ChainedEntry> {
    Ok(ChainedEntry {
        seq: row.i64("seq")?,
        entry: entry_of(row)?,
        prev_hash: hash32(row, "prev_hash")?,
        hash: hash32(row, "hash")?,
    })
}

/// The INSERT of a chunk of linked records. Integers, the outcome code and the hashes
/// (hex written by us) go into the statement; only the text fields are bound —
/// binding sixteen values per record through sqlx's SQLite driver cost more than the
/// insert itself.
fn insert_sql(chunk: &[ChainedEntry], engine: crate::EngineKind) -> String {
    use std::fmt::Write;
    let hex = |h: &[u8; 32]| {
        let digits: String = h.iter().map(|b| format!("{b:02x}")).collect();
        match engine {
            crate::EngineKind::Sqlite => format!("X'{digits}'"),
            crate::EngineKind::Postgres => format!("'\\x{digits}'::bytea"),
        }
    };
    let int = |v: Option<i64>| v.map_or_else(|| "NULL".to_owned(), |v| v.to_string());
    let mut sql = format!("INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ");
    let mut n = 0;
    let mut param = |present: bool| {
        if present {
            n += 1;
            format!("${n}")
        } else {
            "NULL".to_owned()
        }
    };
    for (i, r) in chunk.iter().enumerate() {
        let e = &r.entry;
        if i > 0 {
            sql.push(',');
        }
        let username = param(true);
        let role = param(e.role.is_some());
        let action = param(true);
        let resource_type = param(true);
        let resource_id = param(e.resource_id.is_some());
        let reason = param(e.reason.is_some());
        let detail = param(e.detail.is_some());
        let request_id = param(e.request_id.is_some());
        let _ = write!(
            sql,
            "({},{},{},{username},{role},{},{action},{resource_type},{resource_id},{},{reason},'{}',{detail},{request_id},{},{})",
            r.seq,
            e.at_us,
            int(e.actor_user_id),
            int(e.institution_id),
            int(e.patient_id),
            e.outcome.code(),
            hex(&r.prev_hash),
            hex(&r.hash),
        );
    }
    sql
}

/// Inserts a chunk of linked records into PostgreSQL's `audit_log`.
async fn insert_chunk_pg(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    chunk: &[ChainedEntry],
) -> Result<()> {
    let sql = insert_sql(chunk, crate::EngineKind::Postgres);
    let mut q = sqlx::query(trusted(&sql));
    for r in chunk {
        let e = &r.entry;
        q = q.bind(&e.actor_username);
        if let Some(v) = &e.role {
            q = q.bind(v);
        }
        q = q.bind(&e.action).bind(&e.resource_type);
        for v in [&e.resource_id, &e.reason, &e.detail, &e.request_id]
            .into_iter()
            .flatten()
        {
            q = q.bind(v);
        }
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Appends to the SQLite audit trail's file on the calling thread: for a writer that
/// runs on a thread of its own (see `audit_file`).
#[derive(Debug, Clone)]
pub struct AuditAppender(Arc<AuditFile>);

impl AuditAppender {
    /// Appends already-linked records in one transaction; blocks until committed.
    pub fn append(&self, records: &[ChainedEntry]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.0.append(records)
    }

    /// Where the chain continues from.
    pub fn head(&self) -> Result<Option<(i64, [u8; 32])>> {
        self.0.head()
    }

    /// The last outbox id this process has moved into the chain (committed there).
    pub fn moved_mark(&self) -> i64 {
        self.0.moved_mark()
    }

    /// Deletes the outbox rows already moved into the chain from `gongti.db` now (the
    /// writer does it in batches as it goes, and once more when it stops).
    pub fn prune_moved(&self) {
        self.0.prune_moved();
    }

    /// Links `entries` onto the chain after up to `outbox_max` staged records and
    /// commits them; blocks until committed.
    pub fn append_entries(&self, entries: &[AuditEntry], outbox_max: usize) -> Result<Appended> {
        self.0.append_entries(entries, outbox_max)
    }
}

/// The tables whose rows are records a use case creates: `gongti audit verify` checks
/// that the trail names every row of them (see `gongti_core::coverage`). Rows that a
/// write creates beside its main record (a follow-up's drugs and tasks, a schedule's
/// slots, a referral's events, a reading's alert, care relationships, counters) are
/// written in the same transaction and belong to a row of these tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordTable {
    Residents,
    Contracts,
    Enrolments,
    Followups,
    HomeReadings,
    LabResults,
    ScreeningReadings,
    Schedules,
    Bookings,
    Referrals,
    Consultations,
    PatientAccounts,
    Users,
    Staff,
    Institutions,
    Hl7Messages,
    ExamOrders,
    ExamRecognitions,
    ExamStudies,
    ExamReports,
    BureauSettlements,
}

/// What [`Store::records_snapshot`] read: the ids of each record table, and the
/// records staged in the outbox.
#[derive(Debug, Clone, Default)]
pub struct RecordsSnapshot {
    pub ids: std::collections::HashMap<RecordTable, gongti_core::coverage::IdSet>,
    /// With their outbox ids. On SQLite moved rows wait to be deleted: those at or
    /// below [`Store::audit_outbox_mark`] are already in the chain.
    pub staged: Vec<(i64, AuditEntry)>,
}

impl RecordTable {
    pub const ALL: [RecordTable; 21] = [
        RecordTable::Residents,
        RecordTable::Contracts,
        RecordTable::Enrolments,
        RecordTable::Followups,
        RecordTable::HomeReadings,
        RecordTable::LabResults,
        RecordTable::ScreeningReadings,
        RecordTable::Schedules,
        RecordTable::Bookings,
        RecordTable::Referrals,
        RecordTable::Consultations,
        RecordTable::PatientAccounts,
        RecordTable::Users,
        RecordTable::Staff,
        RecordTable::Institutions,
        RecordTable::Hl7Messages,
        RecordTable::ExamOrders,
        RecordTable::ExamRecognitions,
        RecordTable::ExamStudies,
        RecordTable::ExamReports,
        RecordTable::BureauSettlements,
    ];

    pub fn table(self) -> &'static str {
        match self {
            RecordTable::Residents => "residents",
            RecordTable::Contracts => "contracts",
            RecordTable::Enrolments => "chronic_enrolments",
            RecordTable::Followups => "followups",
            RecordTable::HomeReadings => "home_readings",
            RecordTable::LabResults => "lab_results",
            RecordTable::ScreeningReadings => "screening_readings",
            RecordTable::Schedules => "schedules",
            RecordTable::Bookings => "bookings",
            RecordTable::Referrals => "referrals",
            RecordTable::Consultations => "consultations",
            RecordTable::PatientAccounts => "patient_accounts",
            RecordTable::Users => "users",
            RecordTable::Staff => "staff",
            RecordTable::Institutions => "institutions",
            RecordTable::Hl7Messages => "hl7_messages",
            RecordTable::ExamOrders => "exam_orders",
            RecordTable::ExamRecognitions => "exam_recognitions",
            RecordTable::ExamStudies => "exam_studies",
            RecordTable::ExamReports => "exam_reports",
            RecordTable::BureauSettlements => "bureau_settlements",
        }
    }
}

impl Store {
    /// The ids of every record table and the records staged in the outbox, read in one
    /// snapshot: every row it holds was committed with its records, so they are in
    /// the staged list or — moved before the snapshot — in the chain, which only
    /// grows; reading the chain afterwards finds them all, beside a running server.
    pub async fn records_snapshot(&self) -> Result<RecordsSnapshot> {
        const PAGE: i64 = 50_000;
        let mut snapshot = RecordsSnapshot::default();
        let staged_sql = format!(
            "SELECT id, {} FROM audit_outbox ORDER BY id",
            crate::outbox::OUTBOX_COLUMNS
        );
        on_read!(self, pool => {
            let mut tx = pool.begin().await?;
            if self.kind() == crate::EngineKind::Postgres {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx).await?;
            }
            for table in RecordTable::ALL {
                let sql = format!(
                    "SELECT id FROM {} WHERE id > $1 ORDER BY id LIMIT $2",
                    table.table()
                );
                let ids = snapshot.ids.entry(table).or_default();
                let mut after = 0i64;
                loop {
                    let rows: Vec<(i64,)> = sqlx::query_as(trusted(&sql))
                        .bind(after).bind(PAGE).fetch_all(&mut *tx).await?;
                    let Some(&(last,)) = rows.last() else { break };
                    for (id,) in &rows {
                        ids.insert(*id, *id);
                    }
                    after = last;
                }
            }
            snapshot.staged = sqlx::query(trusted(&staged_sql))
                .fetch_all(&mut *tx).await?
                .iter()
                .map(crate::outbox::staged)
                .collect::<Result<Vec<_>>>()?;
            tx.rollback().await?;
        });
        Ok(snapshot)
    }

    /// The SQLite trail's appender, for a writer thread; `None` on PostgreSQL, whose
    /// trail is written through [`Store::append_audit`].
    pub fn audit_appender(&self) -> Option<AuditAppender> {
        self.audit_file()
            .map(|file| AuditAppender(Arc::clone(file)))
    }

    /// Appends already-linked records in one transaction.
    pub async fn append_audit(&self, records: &[ChainedEntry]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if let Some(file) = self.audit_file() {
            let file = Arc::clone(file);
            let records = records.to_vec();
            return crate::direct::blocking("the audit append", move || file.append(&records))
                .await;
        }
        let crate::Engine::Postgres { pool, .. } = &self.engine else {
            return Err(crate::StoreError::Corrupt("no audit trail".into()));
        };
        let mut tx = pool.begin().await?;
        for chunk in records.chunks(AUDIT_ROWS_PER_INSERT) {
            insert_chunk_pg(&mut tx, chunk).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Links `entries` onto the chain after up to `outbox_max` records staged in the
    /// outbox (oldest first) and commits them in one transaction. On PostgreSQL the
    /// transaction holds the chain's advisory lock and reads the head under it, so
    /// servers sharing the database append to one chain; the moved rows leave the
    /// outbox in the same transaction.
    pub async fn append_entries(
        &self,
        entries: &[AuditEntry],
        outbox_max: usize,
    ) -> Result<Appended> {
        if let Some(file) = self.audit_file() {
            let file = Arc::clone(file);
            let entries = entries.to_vec();
            return crate::direct::blocking("the audit append", move || {
                file.append_entries(&entries, outbox_max)
            })
            .await;
        }
        let crate::Engine::Postgres { pool, .. } = &self.engine else {
            return Err(crate::StoreError::Corrupt("no audit trail".into()));
        };
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PG_AUDIT_CHAIN_LOCK)
            .execute(&mut *tx)
            .await?;
        let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| Ok::<_, crate::StoreError>((r.i64("seq")?, hash32(&r, "hash")?)))
            .transpose()?;
        let staged = if outbox_max > 0 {
            let sql = format!(
                "SELECT id, {} FROM audit_outbox ORDER BY id LIMIT $1",
                crate::outbox::OUTBOX_COLUMNS
            );
            sqlx::query(trusted(&sql))
                .bind(outbox_max as i64)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(crate::outbox::staged)
                .collect::<Result<Vec<_>>>()?
        } else {
            Vec::new()
        };
        let (mut seq, mut prev) = head.unwrap_or((0, GENESIS_HASH));
        let mut chained = Vec::with_capacity(staged.len() + entries.len());
        for entry in staged.iter().map(|(_, e)| e).chain(entries) {
            seq += 1;
            let r = link(seq, prev, entry.clone());
            prev = r.hash;
            chained.push(r);
        }
        for chunk in chained.chunks(AUDIT_ROWS_PER_INSERT) {
            insert_chunk_pg(&mut tx, chunk).await?;
        }
        if !staged.is_empty() {
            let ids: Vec<i64> = staged.iter().map(|(id, _)| *id).collect();
            sqlx::query("DELETE FROM audit_outbox WHERE id = ANY($1)")
                .bind(ids)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Appended {
            head: if seq > 0 { Some((seq, prev)) } else { head },
            moved: staged.len(),
        })
    }

    /// On SQLite, the trail's patient index (kept in batches in `audit.db`): the mark
    /// it has reached, its entries and the XOR of their digests, to compare with the
    /// trail. `None` on PostgreSQL, whose index is the engine's own.
    pub async fn audit_patient_index_digest(&self) -> Result<Option<(i64, u64, u128)>> {
        let Some(file) = self.audit_file() else {
            return Ok(None);
        };
        let file = Arc::clone(file);
        crate::direct::blocking("the audit index", move || file.patient_index_digest())
            .await
            .map(Some)
    }

    /// On SQLite, the last outbox id moved into the chain (moved rows are deleted from
    /// `gongti.db` in batches); `None` on PostgreSQL, which deletes them as it moves.
    pub async fn audit_outbox_mark(&self) -> Result<Option<i64>> {
        let Some(file) = self.audit_file() else {
            return Ok(None);
        };
        let file = Arc::clone(file);
        crate::direct::blocking("the audit outbox", move || file.outbox_mark())
            .await
            .map(Some)
    }

    /// Deletes the outbox rows already moved into the chain (SQLite: PostgreSQL's move
    /// deletes them itself) through the records' one writer, never from a second
    /// connection: a second writer's commit makes a transaction the writer has open
    /// fail with "database is locked". Returns how many.
    pub async fn prune_audit_outbox(&self) -> Result<u64> {
        let Some(mark) = self.audit_outbox_mark().await? else {
            return Ok(0);
        };
        on_write!(self, pool => {
            let done = sqlx::query("DELETE FROM audit_outbox WHERE id <= $1")
                .bind(mark)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }

    /// Rows in the outbox, moved into the chain or not (moved ones wait there for
    /// the records' writer to delete them on SQLite).
    pub async fn audit_outbox_rows(&self) -> Result<i64> {
        let (n,): (i64,) = on_write!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM audit_outbox").fetch_one(pool).await)?;
        Ok(n)
    }

    /// Records staged in the outbox and not yet in the chain.
    pub async fn audit_outbox_waiting(&self) -> Result<i64> {
        if let Some(file) = self.audit_file() {
            let file = Arc::clone(file);
            return crate::direct::blocking("the audit outbox", move || file.outbox_waiting())
                .await;
        }
        let (n,): (i64,) = on_read!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM audit_outbox").fetch_one(pool).await)?;
        Ok(n)
    }

    /// The last record's sequence number and hash, where the chain continues from.
    pub async fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>> {
        if let Some(file) = self.audit_file() {
            let file = Arc::clone(file);
            return crate::direct::blocking("the audit read", move || file.head()).await;
        }
        on_write!(self, pool => {
            let row = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(pool).await?;
            row.map(|r| Ok((r.i64("seq")?, hash32(&r, "hash")?))).transpose()
        })
    }

    /// Records with `seq > after_seq`, in order, at most `limit`.
    pub async fn audit_records(&self, after_seq: i64, limit: u32) -> Result<AuditPage> {
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        if let Some(file) = self.audit_file() {
            let params = vec![("$1", after_seq), ("$2", i64::from(limit))];
            let records = file.reads.all(sql, params, |row| chained(row)).await?;
            return Ok(AuditPage { records });
        }
        let records = on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(after_seq).bind(i64::from(limit)).fetch_all(pool).await?
                .iter().map(chained).collect::<Result<Vec<_>>>()?
        });
        Ok(AuditPage { records })
    }

    /// The newest records about one patient, newest first.
    pub async fn audit_for_patient(
        &self,
        patient_id: i64,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<AuditPage> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE patient_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
        );
        if let Some(file) = self.audit_file() {
            // audit.db indexes patients in batches (audit_file::AuditFile::index_pending).
            let sql = format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq IN ({})
                 ORDER BY seq DESC LIMIT $3",
                crate::audit_file::PATIENT_RECORDS_SEQS
            );
            let before = before_seq.unwrap_or(i64::MAX);
            let params = vec![("$1", patient_id), ("$2", before), ("$3", i64::from(limit))];
            let records = file.reads.all(sql, params, |row| chained(row)).await?;
            return Ok(AuditPage { records });
        }
        let records = on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(patient_id).bind(before_seq.unwrap_or(i64::MAX)).bind(i64::from(limit))
                .fetch_all(pool).await?
                .iter().map(chained).collect::<Result<Vec<_>>>()?
        });
        Ok(AuditPage { records })
    }

    pub async fn audit_count(&self) -> Result<i64> {
        if let Some(file) = self.audit_file() {
            return file
                .reads
                .scan(
                    |conn| Ok(conn.query_row("SELECT COUNT(*) FROM audit_log", [], |r| r.get(0))?),
                )
                .await;
        }
        let (n,): (i64,) = on_read!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM audit_log").fetch_one(pool).await)?;
        Ok(n)
    }
}
