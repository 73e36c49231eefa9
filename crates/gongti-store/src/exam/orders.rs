//! Orders to the cloud centres (DOMAIN.md §8): the centres, each order with its
//! placer and accession numbers, its steps, the care relationship that lets the centre
//! read the patient's record while it works, and the doctors' mutual-recognition
//! decisions. Every write is one transaction with its audit record.

use gongti_core::audit::AuditEntry;
use gongti_core::exam::orders::{
    Category, Decision, OrderStatus, PriorResult, Priority, ReorderReason, accession_number,
    placer_number,
};
use time::Date;

use crate::lab::LabResultRecord;
use crate::outbox::{created, stage_audit};
use crate::row::{RowExt, trusted};
use crate::{Result, Store, StoreError, on_read, on_write};

/// How long the centre keeps reading the record after the order is completed (its
/// report can still be amended).
pub const CENTRE_ACCESS_AFTER_US: i64 = 30 * 86_400 * 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentreRecord {
    pub id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub kind: Category,
    pub code: String,
    pub name: String,
    /// The HR mark its results carry (`""`: none).
    pub hr_scope: String,
    pub qc_valid_until: Option<Date>,
}

#[derive(Debug, Clone)]
pub struct NewCentre<'a> {
    pub institution_id: i64,
    pub kind: Category,
    pub code: &'a str,
    pub name: &'a str,
    pub hr_scope: &'a str,
    pub qc_valid_until: Option<Date>,
}

/// An order as the ordering doctor placed it.
#[derive(Debug, Clone)]
pub struct NewExamOrder<'a> {
    pub resident_id: i64,
    pub item_code: &'a str,
    pub category: Category,
    pub priority: Priority,
    pub indication: &'a str,
    pub centre: &'a CentreRecord,
    pub placer_institution_id: i64,
    pub placer_institution_code: &'a str,
    pub staff_id: i64,
    pub decision: &'a Decision,
    /// The recognised result that was shown, when the doctor ordered again.
    pub shown_result_id: Option<i64>,
    /// An imaging or ECG order's pre-assigned StudyInstanceUID.
    pub study_uid: Option<&'a str>,
    pub now_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExamOrderRecord {
    pub id: i64,
    pub resident_id: i64,
    pub item_code: String,
    pub category: Category,
    pub priority: Priority,
    pub indication: String,
    pub status: OrderStatus,
    pub status_reason: Option<String>,
    pub placer_number: String,
    pub accession_number: String,
    pub study_uid: Option<String>,
    pub centre_id: i64,
    pub centre_name: String,
    pub centre_institution_id: i64,
    pub centre_institution_name: String,
    pub placer_institution_id: i64,
    pub placer_institution_name: String,
    pub ordered_by_staff_id: i64,
    pub ordered_by_name: String,
    /// The reader who claimed it for reading, and their name.
    pub reader_staff_id: Option<i64>,
    pub reader_name: Option<String>,
    pub reorder_reason: Option<ReorderReason>,
    pub reorder_text: Option<String>,
    pub created_at_us: i64,
    pub changed_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEventRecord {
    pub status: OrderStatus,
    /// `None` for a step the laboratory's results took.
    pub staff_name: Option<String>,
    pub at_us: i64,
    pub note: Option<String>,
}

/// A step taken on an order, guarded by the status it was decided from.
#[derive(Debug, Clone, Copy)]
pub struct OrderStepWrite<'a> {
    pub id: i64,
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub staff_id: i64,
    pub reason: Option<&'a str>,
    pub now_us: i64,
}

/// An earlier result with what the recognition check needs and what the warning shows.
#[derive(Debug, Clone)]
pub struct PriorLabResult {
    pub prior: PriorResult,
    pub result: LabResultRecord,
    pub institution_name: String,
    /// The HR mark of the laboratory that made it, when it passed quality control.
    pub hr_scope: String,
}

/// Who a list of orders is for.
#[derive(Debug, Clone, Copy)]
pub enum OrderList {
    /// The orders sent to the centres of an institution, with one of the statuses.
    Centres {
        institution_id: i64,
        statuses: &'static [OrderStatus],
    },
    /// The orders an institution placed.
    Placed { institution_id: i64 },
}

/// Mutual-recognition figures of a period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecognitionFigures {
    /// Earlier results taken instead of a new exam (duplicate exams avoided).
    pub recognised: i64,
    /// Orders placed again, by reason.
    pub reordered: Vec<(ReorderReason, i64)>,
}

const CENTRE_COLUMNS: &str = "c.id, c.institution_id, i.name AS institution_name, c.kind, c.code, c.name, c.hr_scope, \
                              c.qc_valid_until";

fn centre(row: &impl RowExt) -> Result<CentreRecord> {
    Ok(CentreRecord {
        id: row.i64("id")?,
        institution_id: row.i64("institution_id")?,
        institution_name: row.text("institution_name")?,
        kind: Category::parse(&row.text("kind")?)
            .ok_or_else(|| StoreError::Corrupt("exam centre kind".into()))?,
        code: row.text("code")?,
        name: row.text("name")?,
        hr_scope: row.text("hr_scope")?,
        qc_valid_until: row.opt_date("qc_valid_until")?,
    })
}

pub(super) const ORDER_COLUMNS: &str = "o.id, o.resident_id, o.item_code, o.category, o.priority, o.indication, o.status, \
     o.status_reason, o.placer_number, o.accession_number, o.study_uid, o.centre_id, c.name AS centre_name, \
     o.centre_institution_id, ci.name AS centre_institution_name, o.placer_institution_id, \
     pi.name AS placer_institution_name, o.ordered_by_staff_id, s.name AS ordered_by_name, \
     o.reader_staff_id, rs.name AS reader_name, o.reorder_reason, o.reorder_text, o.created_at_us, \
     o.changed_at_us";
pub(super) const ORDER_FROM: &str = "FROM exam_orders o JOIN exam_centres c ON c.id = o.centre_id \
     JOIN institutions ci ON ci.id = o.centre_institution_id \
     JOIN institutions pi ON pi.id = o.placer_institution_id \
     JOIN staff s ON s.id = o.ordered_by_staff_id \
     LEFT JOIN staff rs ON rs.id = o.reader_staff_id";

pub(super) fn order(row: &impl RowExt) -> Result<ExamOrderRecord> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("exam order {what}"));
    Ok(ExamOrderRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        item_code: row.text("item_code")?,
        category: Category::parse(&row.text("category")?).ok_or_else(|| corrupt("category"))?,
        priority: Priority::parse(&row.text("priority")?).ok_or_else(|| corrupt("priority"))?,
        indication: row.text("indication")?,
        status: OrderStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("status"))?,
        status_reason: row.opt_text("status_reason")?,
        placer_number: row.text("placer_number")?,
        accession_number: row.text("accession_number")?,
        study_uid: row.opt_text("study_uid")?,
        centre_id: row.i64("centre_id")?,
        centre_name: row.text("centre_name")?,
        centre_institution_id: row.i64("centre_institution_id")?,
        centre_institution_name: row.text("centre_institution_name")?,
        placer_institution_id: row.i64("placer_institution_id")?,
        placer_institution_name: row.text("placer_institution_name")?,
        ordered_by_staff_id: row.i64("ordered_by_staff_id")?,
        ordered_by_name: row.text("ordered_by_name")?,
        reader_staff_id: row.opt_i64("reader_staff_id")?,
        reader_name: row.opt_text("reader_name")?,
        reorder_reason: row
            .opt_text("reorder_reason")?
            .map(|r| ReorderReason::parse(&r).ok_or_else(|| corrupt("reorder reason")))
            .transpose()?,
        reorder_text: row.opt_text("reorder_text")?,
        created_at_us: row.i64("created_at_us")?,
        changed_at_us: row.i64("changed_at_us")?,
    })
}

impl Store {
    /// Registers a cloud centre (audited with it).
    pub async fn insert_exam_centre(
        &self,
        n: &NewCentre<'_>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<i64> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO exam_centres (institution_id, kind, code, name, hr_scope, qc_valid_until, created_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(n.institution_id).bind(n.kind.code()).bind(n.code).bind(n.name).bind(n.hr_scope)
            .bind(n.qc_valid_until).bind(now_us)
            .fetch_one(&mut *tx).await?;
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Every centre of the region, by kind and name.
    pub async fn exam_centres(&self) -> Result<Vec<CentreRecord>> {
        let sql = format!(
            "SELECT {CENTRE_COLUMNS} FROM exam_centres c JOIN institutions i ON i.id = c.institution_id
             ORDER BY c.kind, c.name, c.id"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).fetch_all(pool).await?.iter().map(centre).collect()
        })
    }

    pub async fn exam_centre(&self, id: i64) -> Result<Option<CentreRecord>> {
        let sql = format!(
            "SELECT {CENTRE_COLUMNS} FROM exam_centres c JOIN institutions i ON i.id = c.institution_id
             WHERE c.id = $1"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?
                .as_ref().map(centre).transpose()
        })
    }

    /// Places an order: the centre's care relationship, the order with its numbers, its
    /// first step and — when a recognised result was shown — the doctor's decision, in
    /// one transaction with the audit records.
    pub async fn insert_exam_order(
        &self,
        n: &NewExamOrder<'_>,
        audit: &[AuditEntry],
    ) -> Result<i64> {
        let (reason, text) = match n.decision {
            Decision::Plain => (None, None),
            Decision::Reorder { reason, text } => (Some(reason.code()), Some(text.as_str())),
        };
        // unique stand-ins until the id is known (the numbers are made from it)
        let stand_in = format!("pending-{}-{}", n.staff_id, n.now_us);
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (care_id,): (i64,) = sqlx::query_as(
                "INSERT INTO care_relationships (resident_id, institution_id, kind, opened_at_us)
                 VALUES ($1, $2, 'exam_order', $3) RETURNING id",
            )
            .bind(n.resident_id).bind(n.centre.institution_id).bind(n.now_us)
            .fetch_one(&mut *tx).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO exam_orders (resident_id, item_code, category, priority, indication, status,
                     placer_number, accession_number, centre_id, centre_institution_id, placer_institution_id,
                     ordered_by_staff_id, reorder_reason, reorder_text, care_relationship_id, created_at_us,
                     changed_at_us, study_uid)
                 VALUES ($1, $2, $3, $4, $5, 'received', $6, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)
                 RETURNING id",
            )
            .bind(n.resident_id).bind(n.item_code).bind(n.category.code()).bind(n.priority.code())
            .bind(n.indication).bind(&stand_in).bind(n.centre.id).bind(n.centre.institution_id)
            .bind(n.placer_institution_id).bind(n.staff_id).bind(reason).bind(text).bind(care_id)
            .bind(n.now_us).bind(n.study_uid)
            .fetch_one(&mut *tx).await?;
            sqlx::query("UPDATE exam_orders SET placer_number = $2, accession_number = $3 WHERE id = $1")
                .bind(id).bind(placer_number(n.placer_institution_code, id))
                .bind(accession_number(&n.centre.code, id))
                .execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO exam_order_events (order_id, status, staff_id, at_us) VALUES ($1, 'received', $2, $3)",
            )
            .bind(id).bind(n.staff_id).bind(n.now_us)
            .execute(&mut *tx).await?;
            if n.category == Category::Lab {
                // the laboratory's system gets the order (`exam::outbox`)
                sqlx::query(
                    "INSERT INTO hl7_outbox (institution_id, order_id, report_version, message_type, status,
                         created_at_us, next_at_us)
                     VALUES ($1, $2, $3, $4, 'pending', $5, $5)",
                )
                .bind(n.centre.institution_id).bind(id).bind(super::outbox::ORDER_NEW)
                .bind(super::outbox::OML).bind(n.now_us)
                .execute(&mut *tx).await?;
            }
            let mut entries = created(audit, id);
            if let (Some(shown), Some(reason)) = (n.shown_result_id, reason) {
                let (decision_id,): (i64,) = sqlx::query_as(
                    "INSERT INTO exam_recognitions (resident_id, item_code, lab_result_id, decision, reason,
                         reason_text, order_id, institution_id, staff_id, at_us)
                     VALUES ($1, $2, $3, 'reordered', $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(n.resident_id).bind(n.item_code).bind(shown).bind(reason).bind(text).bind(id)
                .bind(n.placer_institution_id).bind(n.staff_id).bind(n.now_us)
                .fetch_one(&mut *tx).await?;
                // the decision is a record of its own, named by its audit record
                if let Some(first) = audit.first() {
                    let mut e = first.clone();
                    e.action = "exam.recognise".into();
                    e.resource_type = "ExamRecognition".into();
                    e.resource_id = Some(decision_id.to_string());
                    e.detail = Some(format!("reordered {reason} (order {id}, result {shown})"));
                    entries.push(e);
                }
            }
            stage_audit!(tx, &entries);
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Records that a doctor took a recognised result instead of ordering again (a
    /// duplicate exam avoided).
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_exam_recognition(
        &self,
        resident_id: i64,
        item_code: &str,
        lab_result_id: i64,
        institution_id: i64,
        staff_id: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<i64> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO exam_recognitions (resident_id, item_code, lab_result_id, decision, institution_id,
                     staff_id, at_us)
                 VALUES ($1, $2, $3, 'recognised', $4, $5, $6) RETURNING id",
            )
            .bind(resident_id).bind(item_code).bind(lab_result_id).bind(institution_id).bind(staff_id)
            .bind(now_us)
            .fetch_one(&mut *tx).await?;
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            Ok(id)
        })
    }

    /// The order a laboratory result answers, if it was linked to one.
    pub async fn exam_order_of_lab_result(&self, lab_result_id: i64) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = on_read!(self, pool => {
            sqlx::query_as("SELECT exam_order_id FROM lab_results WHERE id = $1")
                .bind(lab_result_id).fetch_optional(pool).await?
        });
        Ok(row.and_then(|(id,)| id))
    }

    pub async fn exam_order(&self, id: i64) -> Result<Option<ExamOrderRecord>> {
        let sql = format!("SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE o.id = $1");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?
                .as_ref().map(order).transpose()
        })
    }

    /// A resident's orders, newest first.
    pub async fn exam_orders_of_resident(&self, resident_id: i64) -> Result<Vec<ExamOrderRecord>> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE o.resident_id = $1 ORDER BY o.id DESC LIMIT 200"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(resident_id).fetch_all(pool).await?
                .iter().map(order).collect()
        })
    }

    /// A page of orders (newest first, before the keyset `before_id`): those sent to an
    /// institution's centres in some statuses, or those it placed.
    pub async fn exam_orders(
        &self,
        list: OrderList,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ExamOrderRecord>> {
        let before = before_id.unwrap_or(i64::MAX);
        match list {
            OrderList::Centres {
                institution_id,
                statuses,
            } => {
                let codes: Vec<String> =
                    statuses.iter().map(|s| format!("'{}'", s.code())).collect();
                let sql = format!(
                    "SELECT {ORDER_COLUMNS} {ORDER_FROM}
                     WHERE o.centre_institution_id = $1 AND o.status IN ({}) AND o.id < $2
                     ORDER BY o.id DESC LIMIT $3",
                    codes.join(", ")
                );
                on_read!(self, pool => {
                    sqlx::query(trusted(&sql)).bind(institution_id).bind(before).bind(limit)
                        .fetch_all(pool).await?.iter().map(order).collect()
                })
            }
            OrderList::Placed { institution_id } => {
                let sql = format!(
                    "SELECT {ORDER_COLUMNS} {ORDER_FROM}
                     WHERE o.placer_institution_id = $1 AND o.id < $2 ORDER BY o.id DESC LIMIT $3"
                );
                on_read!(self, pool => {
                    sqlx::query(trusted(&sql)).bind(institution_id).bind(before).bind(limit)
                        .fetch_all(pool).await?.iter().map(order).collect()
                })
            }
        }
    }

    /// The open imaging and ECG orders (each a Modality Worklist item), oldest first.
    pub async fn worklist_orders(&self) -> Result<Vec<ExamOrderRecord>> {
        let sql = format!(
            "SELECT {ORDER_COLUMNS} {ORDER_FROM}
             WHERE o.study_uid IS NOT NULL AND o.status IN ('received', 'accepted', 'in-progress')
             ORDER BY o.id LIMIT 10000"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).fetch_all(pool).await?.iter().map(order).collect()
        })
    }

    /// An order's steps, oldest first.
    pub async fn exam_order_events(&self, order_id: i64) -> Result<Vec<OrderEventRecord>> {
        fn event(row: &impl RowExt) -> Result<OrderEventRecord> {
            Ok(OrderEventRecord {
                status: OrderStatus::parse(&row.text("status")?)
                    .ok_or_else(|| StoreError::Corrupt("exam order event status".into()))?,
                staff_name: row.opt_text("staff_name")?,
                at_us: row.i64("at_us")?,
                note: row.opt_text("note")?,
            })
        }
        on_read!(self, pool => {
            sqlx::query(
                "SELECT e.status, s.name AS staff_name, e.at_us, e.note FROM exam_order_events e
                 LEFT JOIN staff s ON s.id = e.staff_id WHERE e.order_id = $1 ORDER BY e.id",
            )
            .bind(order_id).fetch_all(pool).await?.iter().map(event).collect()
        })
    }

    /// The results a laboratory sent for an order.
    pub async fn lab_results_of_order(&self, order_id: i64) -> Result<Vec<LabResultRecord>> {
        let sql = format!(
            "SELECT {} FROM lab_results WHERE exam_order_id = $1 ORDER BY id",
            crate::lab::COLUMNS
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(order_id).fetch_all(pool).await?
                .iter().map(crate::lab::record).collect()
        })
    }

    /// Takes a step on an order, guarded by the status it was decided from: `false`
    /// when it moved meanwhile (nothing written). A completed order leaves the centre
    /// its access for [`CENTRE_ACCESS_AFTER_US`]; a rejected or cancelled one ends it.
    pub async fn step_exam_order(
        &self,
        s: &OrderStepWrite<'_>,
        audit: &AuditEntry,
    ) -> Result<bool> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE exam_orders SET status = $3, status_reason = COALESCE($4, status_reason), changed_at_us = $5
                 WHERE id = $1 AND status = $2",
            )
            .bind(s.id).bind(s.from.code()).bind(s.to.code()).bind(s.reason).bind(s.now_us)
            .execute(&mut *tx).await?.rows_affected() == 1;
            if !done {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO exam_order_events (order_id, status, staff_id, at_us, note) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(s.id).bind(s.to.code()).bind(s.staff_id).bind(s.now_us).bind(s.reason)
            .execute(&mut *tx).await?;
            match s.to {
                OrderStatus::Completed => {
                    sqlx::query(
                        "UPDATE care_relationships SET until_us = $2
                         WHERE id = (SELECT care_relationship_id FROM exam_orders WHERE id = $1)",
                    )
                    .bind(s.id).bind(s.now_us + CENTRE_ACCESS_AFTER_US)
                    .execute(&mut *tx).await?;
                }
                OrderStatus::Rejected | OrderStatus::Cancelled => {
                    sqlx::query(
                        "UPDATE care_relationships SET closed_at_us = $2
                         WHERE id = (SELECT care_relationship_id FROM exam_orders WHERE id = $1)",
                    )
                    .bind(s.id).bind(s.now_us)
                    .execute(&mut *tx).await?;
                    // a cancelled order the laboratory's system was sent is cancelled there
                    // too (after the order itself: the sender keeps an order's messages in
                    // order); not one the system refused
                    if s.to == OrderStatus::Cancelled {
                        sqlx::query(
                            "INSERT INTO hl7_outbox (institution_id, order_id, report_version, message_type,
                                 status, created_at_us, next_at_us)
                             SELECT institution_id, order_id, $2, message_type, 'pending', $3, $3
                             FROM hl7_outbox WHERE order_id = $1 AND message_type = $4 AND report_version = $5
                               AND status <> 'refused'",
                        )
                        .bind(s.id).bind(super::outbox::ORDER_CANCEL).bind(s.now_us)
                        .bind(super::outbox::OML).bind(super::outbox::ORDER_NEW)
                        .execute(&mut *tx).await?;
                    }
                }
                _ => {}
            }
            stage_audit!(tx, std::slice::from_ref(audit));
            tx.commit().await?;
            Ok(true)
        })
    }

    /// The resident's results of any of `codes` collected on or after `since`, newest
    /// first, each with whether it can be recognised: its laboratory is a centre with
    /// `hr_scope` whose quality evaluation held on the collection day, and no critical
    /// value of it is open.
    pub async fn prior_lab_results(
        &self,
        resident_id: i64,
        codes: &[String],
        since: Date,
        hr_scope: &str,
    ) -> Result<Vec<PriorLabResult>> {
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..codes.len()).map(|i| format!("${}", i + 4)).collect();
        let columns: Vec<String> = crate::lab::COLUMNS
            .split(',')
            .map(|c| format!("r.{}", c.trim()))
            .collect();
        let sql = format!(
            "SELECT {}, i.name AS institution_name,
                 (SELECT MIN(c.hr_scope) FROM exam_centres c WHERE c.institution_id = r.institution_id
                     AND c.kind = 'lab' AND c.hr_scope = $3 AND c.qc_valid_until >= r.collected_on) AS hr_mark,
                 (SELECT COUNT(*) FROM critical_values v WHERE v.lab_result_id = r.id AND v.status <> 'closed')
                     AS open_critical
             FROM lab_results r JOIN institutions i ON i.id = r.institution_id
             WHERE r.resident_id = $1 AND r.collected_on >= $2 AND r.loinc IN ({})
             ORDER BY r.collected_on DESC, r.id DESC LIMIT 50",
            columns.join(", "),
            placeholders.join(", ")
        );
        fn prior(row: &impl RowExt) -> Result<PriorLabResult> {
            let result = crate::lab::record(row)?;
            let hr_scope = row.opt_text("hr_mark")?.unwrap_or_default();
            Ok(PriorLabResult {
                prior: PriorResult {
                    lab_result_id: result.id,
                    code: result.loinc.clone(),
                    collected_on: result.collected_on,
                    settled: result.status.counts(),
                    qc_passed: !hr_scope.is_empty(),
                    open_critical: row.i64("open_critical")? > 0,
                },
                institution_name: row.text("institution_name")?,
                hr_scope,
                result,
            })
        }
        on_read!(self, pool => {
            let mut q = sqlx::query(trusted(&sql)).bind(resident_id).bind(since).bind(hr_scope);
            for c in codes {
                q = q.bind(c);
            }
            q.fetch_all(pool).await?.iter().map(prior).collect()
        })
    }

    /// Mutual-recognition figures of the decisions taken at `institution_id` (every
    /// institution when `None`) from `since_us`.
    pub async fn recognition_figures(
        &self,
        institution_id: Option<i64>,
        since_us: i64,
    ) -> Result<RecognitionFigures> {
        let rows: Vec<(String, Option<String>, i64)> = on_read!(self, pool => {
            sqlx::query_as(
                "SELECT decision, reason, COUNT(*) FROM exam_recognitions
                 WHERE ($1 IS NULL OR institution_id = $1) AND at_us >= $2
                 GROUP BY decision, reason ORDER BY decision, reason",
            )
            .bind(institution_id).bind(since_us).fetch_all(pool).await?
        });
        let mut out = RecognitionFigures::default();
        for (decision, reason, n) in rows {
            match (
                decision.as_str(),
                reason.as_deref().and_then(ReorderReason::parse),
            ) {
                ("recognised", _) => out.recognised += n,
                ("reordered", Some(r)) => out.reordered.push((r, n)),
                _ => return Err(StoreError::Corrupt("exam recognition decision".into())),
            }
        }
        Ok(out)
    }
}
