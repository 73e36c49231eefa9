//! Messages to institutions' systems (DOMAIN.md §8): each signed report version is
//! queued for the ordering institution in the signature's transaction (`reports`), and
//! each laboratory order — and its cancellation — for the laboratory's institution in
//! the order's transaction (`orders`); the sender takes the due rows of the
//! institutions it knows a system for, and the answer ends a row — sent or refused,
//! with its audit record in the same transaction — or puts it off after a failed
//! connection.

use gongti_core::audit::AuditEntry;

use super::reports::ReportVersionRecord;
use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::{Result, Store, on_read, on_write};

/// A signed report to the ordering clinic's system.
pub const ORU: &str = "ORU^R01";
/// A laboratory order to the laboratory's system; its `report_version` numbers the
/// order's messages: [`ORDER_NEW`], then [`ORDER_CANCEL`] when the doctor cancels it.
pub const OML: &str = "OML^O21";
pub const ORDER_NEW: i64 = 0;
pub const ORDER_CANCEL: i64 = 1;

/// A queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hl7OutRecord {
    pub id: i64,
    pub institution_id: i64,
    pub order_id: i64,
    pub report_version: i64,
    pub message_type: String,
    pub status: String,
    pub attempts: i64,
    pub created_at_us: i64,
    pub sent_at_us: Option<i64>,
    pub ack_code: Option<String>,
    pub problem: Option<String>,
}

const COLUMNS: &str = "id, institution_id, order_id, report_version, message_type, status, attempts, \
                       created_at_us, sent_at_us, ack_code, problem";

fn record(row: &impl RowExt) -> Result<Hl7OutRecord> {
    Ok(Hl7OutRecord {
        id: row.i64("id")?,
        institution_id: row.i64("institution_id")?,
        order_id: row.i64("order_id")?,
        report_version: row.i64("report_version")?,
        message_type: row.text("message_type")?,
        status: row.text("status")?,
        attempts: row.i64("attempts")?,
        created_at_us: row.i64("created_at_us")?,
        sent_at_us: row.opt_i64("sent_at_us")?,
        ack_code: row.opt_text("ack_code")?,
        problem: row.opt_text("problem")?,
    })
}

/// How a message's delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hl7OutEnd<'a> {
    /// The system accepted it (AA).
    Sent { ack_code: &'a str },
    /// The system refused it (AE, AR): it is not sent again.
    Refused { ack_code: &'a str, problem: &'a str },
}

impl Store {
    /// The institution's pending messages due at `now_us`, oldest first, each only once
    /// the earlier versions of its order were answered.
    pub async fn due_hl7_out(
        &self,
        institution_id: i64,
        now_us: i64,
        limit: i64,
    ) -> Result<Vec<Hl7OutRecord>> {
        // a version waits while an earlier one of the same order is pending: the
        // clinic gets them in order, so no older report overwrites its correction
        let sql = format!(
            "SELECT {COLUMNS} FROM hl7_outbox h
             WHERE h.institution_id = $1 AND h.status = 'pending' AND h.next_at_us <= $2
               AND NOT EXISTS (SELECT 1 FROM hl7_outbox e
                               WHERE e.order_id = h.order_id AND e.status = 'pending' AND e.id < h.id)
             ORDER BY h.id LIMIT $3"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(institution_id).bind(now_us).bind(limit)
                .fetch_all(pool).await?.iter().map(record).collect()
        })
    }

    /// An order's queued messages, oldest first.
    pub async fn hl7_out_of_order(&self, order_id: i64) -> Result<Vec<Hl7OutRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM hl7_outbox WHERE order_id = $1 ORDER BY id");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(order_id).fetch_all(pool).await?.iter().map(record).collect()
        })
    }

    /// Ends a pending message with the system's answer and its audit record: `false`
    /// when it was ended meanwhile (nothing written).
    pub async fn end_hl7_out(
        &self,
        id: i64,
        end: Hl7OutEnd<'_>,
        now_us: i64,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let (status, ack, problem) = match end {
            Hl7OutEnd::Sent { ack_code } => ("sent", ack_code, None),
            Hl7OutEnd::Refused { ack_code, problem } => ("refused", ack_code, Some(problem)),
        };
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE hl7_outbox SET status = $2, ack_code = $3, problem = $4, sent_at_us = $5,
                     attempts = attempts + 1
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(id).bind(status).bind(ack).bind(problem).bind(now_us)
            .execute(&mut *tx).await?.rows_affected() == 1;
            if !done {
                return Ok(false);
            }
            stage_audit!(tx, std::slice::from_ref(audit));
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Puts a pending message off to `next_at_us` after a failed delivery.
    pub async fn put_off_hl7_out(&self, id: i64, next_at_us: i64, problem: &str) -> Result<()> {
        on_write!(self, pool => {
            sqlx::query(
                "UPDATE hl7_outbox SET attempts = attempts + 1, next_at_us = $2, problem = $3
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(id).bind(next_at_us).bind(problem).execute(pool).await?;
            Ok(())
        })
    }

    /// One kept version of an order's report (its signer for a signed one).
    pub async fn exam_report_version(
        &self,
        order_id: i64,
        version: i64,
    ) -> Result<Option<ReportVersionRecord>> {
        on_read!(self, pool => {
            sqlx::query(trusted(&format!(
                "{} WHERE v.report_id = (SELECT id FROM exam_reports WHERE order_id = $1) AND v.version = $2",
                super::reports::VERSION_SELECT
            )))
            .bind(order_id).bind(version).fetch_optional(pool).await?
            .as_ref().map(super::reports::version).transpose()
        })
    }
}
