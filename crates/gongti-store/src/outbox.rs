//! The audit outbox: a write's audit records are staged in `audit_outbox` inside the
//! write's own transaction, so the change and its record commit together or not at
//! all. The audit writer moves staged records into the hash chain exactly once:
//!
//! - on PostgreSQL the trail is in the same database, and the move (insert into
//!   `audit_log`, delete from the outbox) is one transaction;
//! - on SQLite the chain lives in `audit.db`; the writer appends the staged records
//!   there together with the outbox id it has moved through (`outbox_state`), in one
//!   transaction of that file; the moved rows are deleted from `gongti.db` about once
//!   a second by the records' own writer (`Store::prune_audit_outbox`: a second
//!   writer's commits made the writer's open transactions fail "database is locked"
//!   under load). Rows at or below the mark are never moved again, however long they
//!   stay. SQLite has one writer, so outbox ids commit in increasing order and a mark
//!   is enough.
//!
//! A creating write does not know its row's id until it inserts it: every staged
//! record whose `resource_id` is empty is given the id of the row the write created
//! (see [`created`]).

use gongti_core::audit::{AuditEntry, Outcome};

use crate::row::{RowExt, Val};
use crate::{Result, StoreError};

/// The audit records of a write whose rows are known only inside its transaction (a
/// batch, a cancellation that reaches every booking): given what the write did, the
/// records to stage with it.
pub type AuditFor<'a, T> = &'a (dyn Fn(&T) -> Vec<AuditEntry> + Sync);

/// Staged records per multi-row `INSERT` (13 bound values each).
pub(crate) const OUTBOX_ROWS_PER_INSERT: usize = 256;
pub(crate) const OUTBOX_COLUMNS: &str = "at_us, actor_user_id, actor_username, role, institution_id, action, \
     resource_type, resource_id, patient_id, reason, outcome, detail, request_id";

/// The `INSERT` of `rows` staged records (see [`crate::row::Numbering`]).
pub(crate) fn insert_sql(numbered: bool, rows: usize) -> String {
    format!(
        "INSERT INTO audit_outbox ({OUTBOX_COLUMNS}) VALUES {}",
        crate::row::value_rows(numbered, rows, 13, "")
    )
}

/// Stages audit records in the transaction `$tx` (an identifier bound to an open
/// transaction of either engine).
macro_rules! stage_audit {
    ($tx:ident, $entries:expr) => {{
        let entries: &[gongti_core::audit::AuditEntry] = $entries;
        for chunk in $crate::row::cached_chunks(entries, $crate::outbox::OUTBOX_ROWS_PER_INSERT) {
            let sql = $crate::outbox::insert_sql($crate::row::numbered(&$tx), chunk.len());
            let values: Vec<$crate::row::Val<'_>> = chunk
                .iter()
                .flat_map($crate::outbox::audit_values)
                .collect();
            $crate::row::bind_vals!(sqlx::query($crate::row::trusted(&sql)), &values)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use stage_audit;

/// Deletes the outbox rows the audit writer has moved into `audit.db`'s chain, up to
/// `moved` (its mark; nothing when 0), in the transaction of a write on SQLite's hot
/// path: they leave a write's worth at a time, where the sweep's one large delete
/// through sqlx's writer held the write turn for some tens of milliseconds a second
/// while imports queued behind it (PostgreSQL's move deletes its own).
pub(crate) fn delete_moved_direct(tx: &rusqlite::Transaction<'_>, moved: i64) -> Result<()> {
    if moved > 0 {
        tx.prepare_cached(DELETE_MOVED)?.execute([moved])?;
    }
    Ok(())
}

/// The outbox rows moved into the chain, up to `$1`.
pub(crate) const DELETE_MOVED: &str = "DELETE FROM audit_outbox WHERE id <= $1";

/// [`stage_audit!`] in a transaction of the SQLite hot path ([`crate::direct`]).
pub(crate) fn stage_direct(
    tx: &rusqlite::Transaction<'_>,
    entries: &[AuditEntry],
) -> Result<Option<i64>> {
    for chunk in crate::row::cached_chunks(entries, OUTBOX_ROWS_PER_INSERT) {
        let values: Vec<Val<'_>> = chunk.iter().flat_map(audit_values).collect();
        crate::direct::execute_values(tx, &insert_sql(false, chunk.len()), values)?;
    }
    // The outbox's ids only grow (AUTOINCREMENT) and its one writer commits in their
    // order, so the last row's id marks every record of this write.
    Ok((!entries.is_empty()).then(|| tx.last_insert_rowid()))
}

/// A record's values in the order of [`OUTBOX_COLUMNS`].
pub(crate) fn audit_values(e: &AuditEntry) -> [Val<'_>; 13] {
    [
        Val::int(e.at_us),
        Val::Int(e.actor_user_id),
        Val::text(&e.actor_username),
        Val::opt_text(e.role.as_deref()),
        Val::Int(e.institution_id),
        Val::text(&e.action),
        Val::text(&e.resource_type),
        Val::opt_text(e.resource_id.as_deref()),
        Val::Int(e.patient_id),
        Val::opt_text(e.reason.as_deref()),
        Val::text(e.outcome.code()),
        Val::opt_text(e.detail.as_deref()),
        Val::opt_text(e.request_id.as_deref()),
    ]
}

/// The records of a write that created the row `id`: each one without a resource id
/// names that row.
pub(crate) fn created(entries: &[AuditEntry], id: i64) -> Vec<AuditEntry> {
    entries
        .iter()
        .map(|e| {
            let mut e = e.clone();
            if e.resource_id.is_none() {
                e.resource_id = Some(id.to_string());
            }
            e
        })
        .collect()
}

/// A staged record read back, with its outbox id. An outcome Gongti never writes
/// means the row was edited before it reached the chain: the move stops there, loudly,
/// rather than seal the edit into the chain.
pub(crate) fn staged(row: &impl RowExt) -> Result<(i64, AuditEntry)> {
    let id = row.i64("id")?;
    let entry = crate::audit::entry_of(row)?;
    if entry.outcome == Outcome::Unrecognised {
        return Err(StoreError::Corrupt(format!(
            "audit outbox row {id} has an outcome Gongti never writes"
        )));
    }
    Ok((id, entry))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_insert_numbers_every_value_or_binds_them_in_order() {
        let sql = super::insert_sql(true, 2);
        assert!(sql.ends_with("($14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26)"));
        assert_eq!(sql.matches('$').count(), 26);
        let sql = super::insert_sql(false, 2);
        assert!(sql.ends_with("(?,?,?,?,?,?,?,?,?,?,?,?,?)"));
        assert_eq!(sql.matches('?').count(), 26);
        assert!(!sql.contains('$'));
    }
}
