//! Reading at a cloud centre (DOMAIN.md §8): the reading worklist (imaging and ECG
//! orders whose images arrived), a reader's claim on an order, and its report with
//! every version kept; signing the report off completes the order in the same
//! transaction, which the ordering doctor then sees.

use gongti_core::audit::AuditEntry;
use gongti_core::exam::reading::{ReportStatus, Taken};

use super::orders::{CENTRE_ACCESS_AFTER_US, ExamOrderRecord};
use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::{Result, Store, StoreError, on_read, on_write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    pub id: i64,
    pub order_id: i64,
    pub status: ReportStatus,
    pub findings: String,
    pub impression: String,
    pub author_staff_id: i64,
    pub author_name: String,
    pub signer_staff_id: Option<i64>,
    pub signer_name: Option<String>,
    pub version: i64,
    pub created_at_us: i64,
    pub changed_at_us: i64,
    pub signed_at_us: Option<i64>,
    /// The critical finding the report carries (`data/exam/critical_findings.tsv`).
    pub critical_code: Option<String>,
    /// The amendment drafted beside the signed report, waiting for its signature (the
    /// centre's alone to read).
    pub pending: Option<PendingAmendment>,
}

/// A signed report's amendment as drafted, not yet signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAmendment {
    pub findings: String,
    pub impression: String,
    pub critical_code: Option<String>,
    pub author_staff_id: i64,
    pub author_name: String,
    pub at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportVersionRecord {
    pub version: i64,
    pub status: ReportStatus,
    pub findings: String,
    pub impression: String,
    pub staff_name: String,
    pub at_us: i64,
    pub critical_code: Option<String>,
}

/// A report written: guarded by the version it was decided on (`None`: no report yet).
/// An amendment's draft is kept beside the signed report; a signature makes the text
/// the report's, names `author_staff_id` its author and `staff_id` its signer, and
/// ends any amendment drafted.
#[derive(Debug, Clone, Copy)]
pub struct ReportWrite<'a> {
    pub order_id: i64,
    pub from_version: Option<i64>,
    pub taken: Taken,
    pub findings: &'a str,
    pub impression: &'a str,
    pub staff_id: i64,
    pub author_staff_id: i64,
    pub now_us: i64,
    pub critical: Option<ReportCritical<'a>>,
}

/// A critical finding carried by a report version: it opens a critical value for the
/// ordering institution's clinicians unless a clinician already acted on one for the
/// same finding of the order (an open one for another finding is renewed with this
/// one; one closed only because an amendment dropped the finding does not count).
#[derive(Debug, Clone, Copy)]
pub struct ReportCritical<'a> {
    pub code: &'a str,
    pub display: &'a str,
    pub resident_id: i64,
    pub notify_institution_id: i64,
    pub due_at_us: i64,
}

/// An order on the reading worklist, with when its images arrived (or, for a signed
/// report's amendment waiting for its signature, when it was drafted).
#[derive(Debug, Clone)]
pub struct ReadingItem {
    pub order: ExamOrderRecord,
    pub arrived_at_us: i64,
    pub report_status: Option<ReportStatus>,
    pub amendment_pending: bool,
}

const REPORT_COLUMNS: &str = "r.id, r.order_id, r.status, r.findings, r.impression, r.author_staff_id, \
     a.name AS author_name, r.signer_staff_id, g.name AS signer_name, r.version, r.created_at_us, \
     r.changed_at_us, r.signed_at_us, r.critical_code, r.pending_findings, r.pending_impression, \
     r.pending_critical_code, r.pending_author_staff_id, p.name AS pending_author_name, r.pending_at_us";
const REPORT_FROM: &str = "FROM exam_reports r JOIN staff a ON a.id = r.author_staff_id \
     LEFT JOIN staff g ON g.id = r.signer_staff_id LEFT JOIN staff p ON p.id = r.pending_author_staff_id";

fn report(row: &impl RowExt) -> Result<ReportRecord> {
    Ok(ReportRecord {
        id: row.i64("id")?,
        order_id: row.i64("order_id")?,
        status: ReportStatus::parse(&row.text("status")?)
            .ok_or_else(|| StoreError::Corrupt("report status".into()))?,
        findings: row.text("findings")?,
        impression: row.text("impression")?,
        author_staff_id: row.i64("author_staff_id")?,
        author_name: row.text("author_name")?,
        signer_staff_id: row.opt_i64("signer_staff_id")?,
        signer_name: row.opt_text("signer_name")?,
        version: row.i64("version")?,
        created_at_us: row.i64("created_at_us")?,
        changed_at_us: row.i64("changed_at_us")?,
        signed_at_us: row.opt_i64("signed_at_us")?,
        critical_code: row.opt_text("critical_code")?,
        pending: match row.opt_i64("pending_author_staff_id")? {
            None => None,
            Some(author_staff_id) => Some(PendingAmendment {
                findings: row.text("pending_findings")?,
                impression: row.text("pending_impression")?,
                critical_code: row.opt_text("pending_critical_code")?,
                author_staff_id,
                author_name: row.text("pending_author_name")?,
                at_us: row.i64("pending_at_us")?,
            }),
        },
    })
}

/// Keeps a report version's critical finding in the open transaction `$tx` (see
/// [`ReportCritical`]): evaluates to the id of the critical value opened or renewed.
/// A version without one closes the order's open critical value: the report no longer
/// says it. With `$only_open` (an amendment's draft, which the signed report still
/// stands against) a finding opens a critical value only where none is open, and
/// nothing is renewed or closed: the signature settles it.
macro_rules! keep_report_critical_in {
    ($tx:ident, $w:expr, $only_open:expr) => {{
        let w: &ReportWrite<'_> = $w;
        let only_open: bool = $only_open;
        match w.critical {
            None if only_open => None,
            None => {
                sqlx::query(
                    "UPDATE critical_values SET status = 'closed', actioned_at_us = $2,
                         action = '报告已修改，不再为危急值 (report amended: no longer critical)'
                     WHERE exam_order_id = $1 AND status <> 'closed'",
                )
                .bind(w.order_id).bind(w.now_us).execute(&mut *$tx).await?;
                None
            }
            Some(c) => {
                let renewed: Option<(i64,)> = if only_open { None } else { sqlx::query_as(
                    "UPDATE critical_values SET code = $2, display = $3, value_text = $3,
                         status = 'notified', detected_at_us = $4, due_at_us = $5,
                         escalated_at_us = NULL, confirmed_by_user_id = NULL,
                         confirmed_at_us = NULL, read_back = NULL
                     WHERE exam_order_id = $1 AND status <> 'closed' AND code <> $2 RETURNING id",
                )
                .bind(w.order_id).bind(c.code).bind(c.display).bind(w.now_us).bind(c.due_at_us)
                .fetch_optional(&mut *$tx).await? };
                match renewed {
                    Some((id,)) => Some(id),
                    None => {
                        let made: Option<(i64,)> = sqlx::query_as(
                            "INSERT INTO critical_values (exam_order_id, resident_id, institution_id, code, display,
                                 value_text, unit, side, status, detected_at_us, due_at_us)
                             SELECT $1, $2, $3, $4, $5, $5, '', $6, 'notified', $7, $8
                             WHERE NOT EXISTS (SELECT 1 FROM critical_values
                                               WHERE exam_order_id = $1 AND code = $4
                                                 AND actioned_by_user_id IS NOT NULL)
                             ON CONFLICT (exam_order_id) WHERE status <> 'closed' DO NOTHING RETURNING id",
                        )
                        .bind(w.order_id).bind(c.resident_id).bind(c.notify_institution_id).bind(c.code)
                        .bind(c.display).bind(crate::exam::FINDING_SIDE).bind(w.now_us).bind(c.due_at_us)
                        .fetch_optional(&mut *$tx).await?;
                        made.map(|(id,)| id)
                    }
                }
            }
        }
    }};
}

/// A report's kept versions with who wrote or signed each (`v`), to be narrowed.
pub(super) const VERSION_SELECT: &str = "SELECT v.version, v.status, v.findings, v.impression, \
     s.name AS staff_name, v.at_us, v.critical_code \
     FROM exam_report_versions v JOIN staff s ON s.id = v.staff_id";

pub(super) fn version(row: &impl RowExt) -> Result<ReportVersionRecord> {
    Ok(ReportVersionRecord {
        version: row.i64("version")?,
        status: ReportStatus::parse(&row.text("status")?)
            .ok_or_else(|| StoreError::Corrupt("report status".into()))?,
        findings: row.text("findings")?,
        impression: row.text("impression")?,
        staff_name: row.text("staff_name")?,
        at_us: row.i64("at_us")?,
        critical_code: row.opt_text("critical_code")?,
    })
}

impl Store {
    /// A reader claims an order for reading (`Some`), or releases their claim
    /// (`None`): `false` when someone else holds it (nothing written).
    pub async fn claim_exam_order(
        &self,
        order_id: i64,
        staff_id: i64,
        claim: bool,
        now_us: i64,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let sql = if claim {
            "UPDATE exam_orders SET reader_staff_id = $2, claimed_at_us = $3
             WHERE id = $1 AND status = 'in-progress' AND (reader_staff_id IS NULL OR reader_staff_id = $2)"
        } else {
            "UPDATE exam_orders SET reader_staff_id = NULL, claimed_at_us = NULL
             WHERE id = $1 AND reader_staff_id = $2 AND $3 > 0"
        };
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(sql).bind(order_id).bind(staff_id).bind(now_us)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if !done {
                return Ok(false);
            }
            stage_audit!(tx, std::slice::from_ref(audit));
            tx.commit().await?;
            Ok(true)
        })
    }

    /// An institution's reading worklist: its centres' imaging and ECG orders in
    /// progress whose images arrived, and its signed reports with an amendment waiting
    /// for its signature — or, once the centre's access to the record lapsed, to be
    /// withdrawn; oldest first.
    pub async fn reading_worklist(&self, institution_id: i64) -> Result<Vec<ReadingItem>> {
        let sql = format!(
            "SELECT {}, COALESCE(r.pending_at_us,
                     (SELECT MIN(x.received_at_us) FROM exam_studies x WHERE x.order_id = o.id)) AS arrived_at_us,
                 r.status AS report_status, r.pending_at_us
             {}
             LEFT JOIN exam_reports r ON r.order_id = o.id
             WHERE o.centre_institution_id = $1 AND o.category <> 'lab'
               AND ((o.status = 'in-progress' AND EXISTS (SELECT 1 FROM exam_studies x WHERE x.order_id = o.id))
                    OR o.id IN (SELECT p.order_id FROM exam_reports p WHERE p.pending_at_us IS NOT NULL))
             ORDER BY arrived_at_us, o.id LIMIT 500",
            super::orders::ORDER_COLUMNS,
            super::orders::ORDER_FROM
        );
        fn item(row: &impl RowExt) -> Result<ReadingItem> {
            Ok(ReadingItem {
                order: super::orders::order(row)?,
                arrived_at_us: row.i64("arrived_at_us")?,
                report_status: row
                    .opt_text("report_status")?
                    .map(|s| {
                        ReportStatus::parse(&s)
                            .ok_or_else(|| StoreError::Corrupt("report status".into()))
                    })
                    .transpose()?,
                amendment_pending: row.opt_i64("pending_at_us")?.is_some(),
            })
        }
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(institution_id).fetch_all(pool).await?.iter().map(item).collect()
        })
    }

    pub async fn exam_report(&self, order_id: i64) -> Result<Option<ReportRecord>> {
        let sql = format!("SELECT {REPORT_COLUMNS} {REPORT_FROM} WHERE r.order_id = $1");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(order_id).fetch_optional(pool).await?.as_ref().map(report).transpose()
        })
    }

    /// A report's versions, oldest first.
    pub async fn exam_report_versions(&self, report_id: i64) -> Result<Vec<ReportVersionRecord>> {
        on_read!(self, pool => {
            sqlx::query(trusted(&format!("{VERSION_SELECT} WHERE v.report_id = $1 ORDER BY v.version")))
            .bind(report_id).fetch_all(pool).await?.iter().map(version).collect()
        })
    }

    /// Withdraws the amendment drafted beside a signed report: the draft leaves (its
    /// saved versions stay), and a critical value it opened for a finding the signed
    /// report does not carry is closed, unless a clinician already acted on it.
    async fn withdraw_amendment(&self, w: &ReportWrite<'_>, audit: &AuditEntry) -> Result<bool> {
        let Some(from) = w.from_version else {
            return Ok(false);
        };
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let withdrawn: Option<(i64,)> = sqlx::query_as(
                "UPDATE exam_reports SET pending_findings = NULL, pending_impression = NULL,
                     pending_critical_code = NULL, pending_author_staff_id = NULL, pending_at_us = NULL,
                     version = version + 1, changed_at_us = $3
                 WHERE order_id = $1 AND version = $2 AND pending_author_staff_id IS NOT NULL RETURNING id",
            )
            .bind(w.order_id).bind(from).bind(w.now_us)
            .fetch_optional(&mut *tx).await?;
            let Some((report_id,)) = withdrawn else {
                return Ok(false);
            };
            sqlx::query(
                "UPDATE critical_values SET status = 'closed', actioned_at_us = $2,
                     action = '修订草稿已撤回，不再为危急值 (amendment draft withdrawn: no longer critical)'
                 WHERE exam_order_id = $1 AND status <> 'closed' AND actioned_by_user_id IS NULL
                   AND code IS DISTINCT FROM (SELECT critical_code FROM exam_reports WHERE order_id = $1)",
            )
            .bind(w.order_id).bind(w.now_us).execute(&mut *tx).await?;
            let mut entry = audit.clone();
            entry.resource_type = "ExamReport".into();
            entry.resource_id = Some(report_id.to_string());
            stage_audit!(tx, std::slice::from_ref(&entry));
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Writes a report version (see [`ReportWrite`]): `false` when the report moved
    /// meanwhile. A signed report completes its order (the centre keeps access for
    /// [`CENTRE_ACCESS_AFTER_US`]).
    pub async fn write_exam_report(&self, w: &ReportWrite<'_>, audit: &AuditEntry) -> Result<bool> {
        if w.taken == Taken::AmendmentWithdrawn {
            return self.withdraw_amendment(w, audit).await;
        }
        let status = w.taken.version_status();
        let signed = status.signed();
        let amendment_draft = w.taken == Taken::AmendmentDraft;
        let critical_code = w.critical.map(|c| c.code);
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let report_id = match w.from_version {
                None => {
                    let made: Option<(i64,)> = sqlx::query_as(
                        "INSERT INTO exam_reports (order_id, status, findings, impression, author_staff_id,
                             signer_staff_id, version, created_at_us, changed_at_us, signed_at_us, critical_code)
                         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7, $8, $9)
                         ON CONFLICT (order_id) DO NOTHING RETURNING id",
                    )
                    .bind(w.order_id).bind(status.code()).bind(w.findings).bind(w.impression)
                    .bind(w.author_staff_id).bind(signed.then_some(w.staff_id)).bind(w.now_us)
                    .bind(signed.then_some(w.now_us)).bind(critical_code)
                    .fetch_optional(&mut *tx).await?;
                    match made {
                        Some((id,)) => id,
                        None => return Ok(false),
                    }
                }
                Some(from) => {
                    // a draft over a draft names its writer (one saved unchanged keeps its
                    // author: saving is not writing); a signature names its signer
                    // and ends the amendment drafted; an amendment's draft waits beside
                    // the signed report
                    let sql = if amendment_draft {
                        "UPDATE exam_reports SET pending_author_staff_id = CASE
                                 WHEN pending_findings = $4 AND pending_impression = $5
                                      AND pending_critical_code IS NOT DISTINCT FROM $8
                                 THEN pending_author_staff_id ELSE $6 END,
                             pending_findings = $4, pending_impression = $5,
                             pending_critical_code = $8, pending_at_us = $7,
                             version = version + 1, changed_at_us = $7
                         WHERE order_id = $1 AND version = $2 AND status <> $3 AND $9 > 0 RETURNING id"
                    } else if signed {
                        "UPDATE exam_reports SET status = $3, findings = $4, impression = $5, signer_staff_id = $6,
                             author_staff_id = $9, version = version + 1, changed_at_us = $7, signed_at_us = $7,
                             critical_code = $8, pending_findings = NULL, pending_impression = NULL,
                             pending_critical_code = NULL, pending_author_staff_id = NULL, pending_at_us = NULL
                         WHERE order_id = $1 AND version = $2 RETURNING id"
                    } else {
                        "UPDATE exam_reports SET author_staff_id = CASE
                                 WHEN findings = $4 AND impression = $5 AND critical_code IS NOT DISTINCT FROM $8
                                 THEN author_staff_id ELSE $6 END,
                             status = $3, findings = $4, impression = $5,
                             version = version + 1, changed_at_us = $7, critical_code = $8
                         WHERE order_id = $1 AND version = $2 AND status = $3 AND $9 > 0 RETURNING id"
                    };
                    let updated: Option<(i64,)> = sqlx::query_as(sql)
                        .bind(w.order_id).bind(from).bind(status.code()).bind(w.findings)
                        .bind(w.impression).bind(w.staff_id).bind(w.now_us).bind(critical_code)
                        .bind(w.author_staff_id)
                        .fetch_optional(&mut *tx).await?;
                    match updated {
                        Some((id,)) => id,
                        None => return Ok(false),
                    }
                }
            };
            let version_sql = if amendment_draft {
                "INSERT INTO exam_report_versions (report_id, version, status, findings, impression, staff_id, at_us,
                     critical_code)
                 SELECT id, version, 'preliminary', pending_findings, pending_impression, $2, $3, pending_critical_code
                 FROM exam_reports WHERE id = $1"
            } else {
                "INSERT INTO exam_report_versions (report_id, version, status, findings, impression, staff_id, at_us,
                     critical_code)
                 SELECT id, version, status, findings, impression, $2, $3, critical_code FROM exam_reports WHERE id = $1"
            };
            sqlx::query(version_sql)
            .bind(report_id).bind(w.staff_id).bind(w.now_us)
            .execute(&mut *tx).await?;
            // an amendment's draft naming a critical finding notifies at once where none
            // is open; it never renews or closes the signed report's: the signature does
            let critical_id = keep_report_critical_in!(tx, w, amendment_draft);
            if signed {
                // the ordering institution's system gets the signed version (`exam::outbox`)
                sqlx::query(
                    "INSERT INTO hl7_outbox (institution_id, order_id, report_version, message_type, status,
                         created_at_us, next_at_us)
                     SELECT o.placer_institution_id, o.id, r.version, $3, 'pending', $2, $2
                     FROM exam_reports r JOIN exam_orders o ON o.id = r.order_id WHERE r.id = $1",
                )
                .bind(report_id).bind(w.now_us).bind(super::outbox::ORU).execute(&mut *tx).await?;
            }
            if signed {
                let completed = sqlx::query(
                    "UPDATE exam_orders SET status = 'completed', changed_at_us = $2
                     WHERE id = $1 AND status = 'in-progress'",
                )
                .bind(w.order_id).bind(w.now_us).execute(&mut *tx).await?.rows_affected() == 1;
                if completed {
                    sqlx::query(
                        "INSERT INTO exam_order_events (order_id, status, staff_id, at_us, note)
                         VALUES ($1, 'completed', $2, $3, '报告已签发 report signed')",
                    )
                    .bind(w.order_id).bind(w.staff_id).bind(w.now_us).execute(&mut *tx).await?;
                    sqlx::query(
                        "UPDATE care_relationships SET until_us = $2
                         WHERE id = (SELECT care_relationship_id FROM exam_orders WHERE id = $1)",
                    )
                    .bind(w.order_id).bind(w.now_us + CENTRE_ACCESS_AFTER_US)
                    .execute(&mut *tx).await?;
                }
            }
            let mut entry = audit.clone();
            entry.resource_type = "ExamReport".into();
            entry.resource_id = Some(report_id.to_string());
            if let Some(id) = critical_id {
                let detail = entry.detail.take().unwrap_or_default();
                entry.detail = Some(format!("{detail} critical {id}").trim().to_owned());
            }
            stage_audit!(tx, std::slice::from_ref(&entry));
            tx.commit().await?;
            Ok(true)
        })
    }
}
