//! Payment and performance (issue 17): the payment scheme's versions, each the whole
//! set of parameters as the canonical text `core::payment::scheme` reads, numbered in
//! the order saved and never changed (migration 0037).

use gongti_core::audit::AuditEntry;

use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::{Result, Store, on_read, on_write};

/// A version to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSchemeVersion<'a> {
    pub effective_from: time::Date,
    pub params: &'a str,
    pub note: &'a str,
    pub based_on: Option<i64>,
    pub created_by_staff_id: i64,
}

/// A saved version, with its author's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeVersionRecord {
    pub id: i64,
    pub effective_from: time::Date,
    pub params: String,
    pub note: String,
    pub based_on: Option<i64>,
    pub created_by_staff_id: i64,
    pub created_by_name: String,
    pub created_at_us: i64,
}

const COLUMNS: &str = "v.id, v.effective_from, v.params, v.note, v.based_on, \
     v.created_by_staff_id, s.name AS created_by_name, v.created_at_us";

fn version(row: &impl RowExt) -> Result<SchemeVersionRecord> {
    Ok(SchemeVersionRecord {
        id: row.i64("id")?,
        effective_from: row.date("effective_from")?,
        params: row.text("params")?,
        note: row.text("note")?,
        based_on: row.opt_i64("based_on")?,
        created_by_staff_id: row.i64("created_by_staff_id")?,
        created_by_name: row.text("created_by_name")?,
        created_at_us: row.i64("created_at_us")?,
    })
}

impl Store {
    /// Saves a version numbered one after the newest, with its audit record (named by
    /// the number) in the same transaction; the number.
    pub async fn insert_scheme_version(
        &self,
        v: &NewSchemeVersion<'_>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<i64> {
        let id = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO payment_scheme_versions
                   (id, effective_from, params, note, based_on, created_by_staff_id, created_at_us)
                 SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6 FROM payment_scheme_versions
                 RETURNING id",
            )
            .bind(v.effective_from).bind(v.params).bind(v.note).bind(v.based_on)
            .bind(v.created_by_staff_id).bind(now_us)
            .fetch_one(&mut *tx).await?;
            let named: Vec<AuditEntry> = audit
                .iter()
                .cloned()
                .map(|mut e| {
                    e.resource_id = Some(id.to_string());
                    e
                })
                .collect();
            stage_audit!(tx, &named);
            tx.commit().await?;
            id
        });
        Ok(id)
    }

    /// Every version, newest first.
    pub async fn scheme_versions(&self) -> Result<Vec<SchemeVersionRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payment_scheme_versions v JOIN staff s ON s.id = v.created_by_staff_id
             ORDER BY v.id DESC"
        );
        on_read!(self, pool => {
            let rows = sqlx::query(trusted(&sql)).fetch_all(pool).await?;
            rows.iter().map(version).collect()
        })
    }

    pub async fn scheme_version(&self, id: i64) -> Result<Option<SchemeVersionRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payment_scheme_versions v JOIN staff s ON s.id = v.created_by_staff_id
             WHERE v.id = $1"
        );
        on_read!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(version).transpose()
        })
    }

    /// The version in force on `day`: the newest saved among those effective by then.
    pub async fn scheme_version_on(&self, day: time::Date) -> Result<Option<SchemeVersionRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM payment_scheme_versions v JOIN staff s ON s.id = v.created_by_staff_id
             WHERE v.effective_from <= $1 ORDER BY v.effective_from DESC, v.id DESC LIMIT 1"
        );
        on_read!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(day).fetch_optional(pool).await?;
            row.as_ref().map(version).transpose()
        })
    }
}
