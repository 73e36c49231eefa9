//! The cloud examination's laboratory intake (DOMAIN.md §8): each HL7 v2 message stored
//! with its bytes sealed before it is acknowledged, once per sender and control id
//! (MSH-10) — a repeat finds the first and its answer — and, when its patient is matched,
//! its results in the same transaction: a new result inserted, a later one for the same
//! order and code (a correction, a final after a preliminary) updating the row, whose
//! earlier state the version trigger keeps; the kept indicator figures of a fasting
//! glucose or an HbA1c updated with it, and the audit records staged beside them.

use gongti_core::audit::AuditEntry;
use gongti_core::chronic::Params;
use gongti_core::coverage::encode_ids;
use gongti_core::exam::critical::CriticalStatus;
use gongti_core::exam::items::CriticalSide;
use gongti_core::exam::report::{PreparedResult, ResultStatus};

use crate::lab::{EnrolmentScope, lab_updates};

mod orders;
mod outbox;
mod reports;
mod studies;
use crate::outbox::stage_audit;
use crate::row::RowExt;
use crate::{Result, Store, on_read, on_write};
pub use orders::{
    CENTRE_ACCESS_AFTER_US, CentreRecord, ExamOrderRecord, NewCentre, NewExamOrder,
    OrderEventRecord, OrderList, OrderStepWrite, PriorLabResult, RecognitionFigures,
};
pub use outbox::{Hl7OutEnd, Hl7OutRecord, OML, ORDER_CANCEL, ORDER_NEW, ORU};
pub use reports::{
    PendingAmendment, ReadingItem, ReportCritical, ReportRecord, ReportVersionRecord, ReportWrite,
};
pub use studies::{StableStudy, StudyRecord, StudyTaken};

/// The associated data the raw bytes are sealed under.
const RAW_COLUMN: &str = "hl7_messages.raw";

/// A message as received and answered.
#[derive(Debug, Clone)]
pub struct NewHl7Message<'a> {
    /// `MSH-3@MSH-4`, `""` when unreadable.
    pub sender: &'a str,
    pub control_id: &'a str,
    pub message_type: &'a str,
    pub charset: &'a str,
    pub raw: &'a [u8],
    pub peer: &'a str,
    pub received_at_us: i64,
    /// `AA`, `AE` or `AR`.
    pub ack_code: &'a str,
    pub problem: &'a str,
    pub resident_id: Option<i64>,
    /// The sending institution (MSH-4), when registered.
    pub institution_id: Option<i64>,
    /// Its audit record (`hl7.receive`; the id is filled in when stored).
    pub audit: AuditEntry,
}

/// The results of a matched message.
#[derive(Debug, Clone)]
pub struct LabIntake<'a> {
    pub resident_id: i64,
    /// The institution the results are recorded for (the sender's).
    pub institution_id: i64,
    pub results: &'a [PreparedResult],
    pub enrolments: Vec<EnrolmentScope>,
    /// Whose clinicians a critical value notifies (the resident's institution), and
    /// how long they have to confirm it (µs).
    pub notify_institution_id: i64,
    pub confirm_within_us: i64,
    /// The results' audit record (`lab.receive`; the ids are filled in when stored).
    pub audit: AuditEntry,
}

/// What storing a message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Stored {
        message_id: i64,
        created: Vec<i64>,
        updated: Vec<i64>,
        /// Results left as they were: the same value again, a preliminary after a final,
        /// or a correction that would take a counted result out of the figures.
        unchanged: Vec<i64>,
    },
    /// The sender's control id was stored before: its first answer.
    Repeat {
        message_id: i64,
        ack_code: String,
        problem: String,
    },
}

/// A message in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hl7MessageRecord {
    pub id: i64,
    pub sender: String,
    pub control_id: String,
    pub message_type: String,
    pub charset: String,
    pub peer: String,
    pub received_at_us: i64,
    pub ack_code: String,
    pub problem: String,
    pub resident_id: Option<i64>,
    pub institution_id: Option<i64>,
    pub results: i64,
}

const MESSAGE_COLUMNS: &str = "id, sender, control_id, message_type, charset, peer, received_at_us, ack_code, problem, \
                               resident_id, institution_id, results";

fn message(row: &impl RowExt) -> Result<Hl7MessageRecord> {
    Ok(Hl7MessageRecord {
        id: row.i64("id")?,
        sender: row.text("sender")?,
        control_id: row.text("control_id")?,
        message_type: row.text("message_type")?,
        charset: row.text("charset")?,
        peer: row.text("peer")?,
        received_at_us: row.i64("received_at_us")?,
        ack_code: row.text("ack_code")?,
        problem: row.text("problem")?,
        resident_id: row.opt_i64("resident_id")?,
        institution_id: row.opt_i64("institution_id")?,
        results: row.i64("results")?,
    })
}

/// A step on a critical value: from the status it was decided on to the next, by whom
/// and when, with the read-back or the action.
#[derive(Debug, Clone, Copy)]
pub struct CriticalStepWrite<'a> {
    pub id: i64,
    pub from: CriticalStatus,
    pub to: CriticalStatus,
    pub user_id: i64,
    pub now_us: i64,
    pub text: &'a str,
    /// The finding or item it was decided on (an amendment may renew it with another).
    pub code: &'a str,
}

/// A critical value and its loop's steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalValueRecord {
    pub id: i64,
    /// The laboratory result it was detected in, or the order whose report carried it
    /// (exactly one of the two).
    pub lab_result_id: Option<i64>,
    pub exam_order_id: Option<i64>,
    pub resident_id: i64,
    pub institution_id: i64,
    pub code: String,
    pub display: String,
    pub value_text: String,
    pub unit: String,
    /// Below or above the limit; `None` for a reader's critical finding.
    pub side: Option<CriticalSide>,
    pub status: CriticalStatus,
    pub detected_at_us: i64,
    pub due_at_us: i64,
    pub escalated_at_us: Option<i64>,
    pub confirmed_by_user_id: Option<i64>,
    pub confirmed_at_us: Option<i64>,
    pub read_back: Option<String>,
    pub actioned_by_user_id: Option<i64>,
    pub actioned_at_us: Option<i64>,
    pub action: Option<String>,
}

pub(crate) const CRITICAL_COLUMNS: &str = "id, lab_result_id, exam_order_id, resident_id, institution_id, code, display, value_text, unit, side, \
                                status, detected_at_us, due_at_us, escalated_at_us, confirmed_by_user_id, \
                                confirmed_at_us, read_back, actioned_by_user_id, actioned_at_us, action";

/// The `side` of a critical value from a reader's report.
pub(crate) const FINDING_SIDE: &str = "finding";

pub(crate) fn critical_value(row: &impl RowExt) -> Result<CriticalValueRecord> {
    let corrupt = |what: &str| crate::StoreError::Corrupt(format!("critical value {what}"));
    Ok(CriticalValueRecord {
        id: row.i64("id")?,
        lab_result_id: row.opt_i64("lab_result_id")?,
        exam_order_id: row.opt_i64("exam_order_id")?,
        resident_id: row.i64("resident_id")?,
        institution_id: row.i64("institution_id")?,
        code: row.text("code")?,
        display: row.text("display")?,
        value_text: row.text("value_text")?,
        unit: row.text("unit")?,
        side: match row.text("side")?.as_str() {
            FINDING_SIDE => None,
            side => Some(CriticalSide::parse(side).ok_or_else(|| corrupt("side"))?),
        },
        status: CriticalStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("status"))?,
        detected_at_us: row.i64("detected_at_us")?,
        due_at_us: row.i64("due_at_us")?,
        escalated_at_us: row.opt_i64("escalated_at_us")?,
        confirmed_by_user_id: row.opt_i64("confirmed_by_user_id")?,
        confirmed_at_us: row.opt_i64("confirmed_at_us")?,
        read_back: row.opt_text("read_back")?,
        actioned_by_user_id: row.opt_i64("actioned_by_user_id")?,
        actioned_at_us: row.opt_i64("actioned_at_us")?,
        action: row.opt_text("action")?,
    })
}

/// What a result's row holds now, to decide what a later one for it changes.
struct Existing {
    id: i64,
    counted: bool,
    value_text: String,
    unit: String,
    flags: String,
    status: ResultStatus,
}

/// Keeps a matched message's results in the open transaction `$tx` (see the module):
/// evaluates to `(created, updated, unchanged)` ids and pushes the results' audit record
/// onto `$staged` when anything was written.
macro_rules! keep_lab_results_in {
    ($tx:ident, $intake:expr, $sender:expr, $message_id:expr, $now_us:expr, $params:expr, $staged:expr) => {{
        let intake: &LabIntake<'_> = $intake;
        let (sender, message_id, now_us): (&str, i64, i64) = ($sender, $message_id, $now_us);
        let (mut created, mut updated, mut unchanged) = (Vec::new(), Vec::new(), Vec::new());
        let mut updates = Vec::new();
        let mut criticals: Vec<(i64, &gongti_core::exam::report::PreparedResult)> = Vec::new();
        // results written now whose OBR-2 may name a Gongti order
        // (order, its status when read, the result) for each result linked to an order
        let mut linked: Vec<(i64, String, &gongti_core::exam::report::PreparedResult)> = Vec::new();
        for r in intake.results {
            let found = sqlx::query(
                "SELECT id, test, value_text, unit, flags, status FROM lab_results
                 WHERE resident_id = $1 AND source_system = $2 AND source_id = $3",
            )
            .bind(intake.resident_id).bind(sender).bind(&r.source_id)
            .fetch_optional(&mut *$tx).await?;
            let existing = match found {
                None => None,
                Some(row) => Some(Existing {
                    id: row.i64("id")?,
                    counted: !row.text("test")?.is_empty(),
                    value_text: row.text("value_text")?,
                    unit: row.text("unit")?,
                    flags: row.text("flags")?,
                    status: ResultStatus::parse(&row.text("status")?)
                        .ok_or_else(|| crate::StoreError::Corrupt("lab result status".into()))?,
                }),
            };
            let test = r.indicator.as_ref().map_or("", |v| v.test.code());
            let reported = &r.reported;
            let critical = r.critical.map(|c| c.code());
            // a result sent for a Gongti order (OBR-2 = its placer number, from the centre
            // it was sent to, one of the item's codes) is linked to it in the same write
            let order: Option<(i64, String, String)> = if r.placer.is_empty() {
                None
            } else {
                sqlx::query_as(
                    "SELECT id, status, item_code FROM exam_orders
                     WHERE placer_number = $1 AND resident_id = $2 AND centre_institution_id = $3
                       AND category = 'lab'",
                )
                .bind(&r.placer).bind(intake.resident_id).bind(intake.institution_id)
                .fetch_optional(&mut *$tx).await?
            };
            let order = order.filter(|(_, _, item)| {
                gongti_core::exam::orders::Catalogue::builtin()
                    .get(item)
                    .is_some_and(|i| i.loincs.contains(&r.code))
            });
            let order_id = order.as_ref().map(|o| o.0);
            match existing {
                None => {
                    let (id,): (i64,) = sqlx::query_as(
                        "INSERT INTO lab_results (resident_id, source_system, source_id, test, loinc,
                             code_system, display, value_centi, value_text, unit, reference_range, flags,
                             status, critical, reported, collected_on, collected_at_us, institution_id,
                             created_at_us, hl7_message_id, exam_order_id)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                             $17, $18, $19, $20, $21) RETURNING id",
                    )
                    .bind(intake.resident_id).bind(sender).bind(&r.source_id).bind(test)
                    .bind(&r.code).bind(&r.code_system).bind(&r.display).bind(r.value_centi)
                    .bind(&r.value_text).bind(&r.unit).bind(&r.reference_range).bind(&r.flags)
                    .bind(r.status.code()).bind(critical).bind(&reported).bind(r.collected_on)
                    .bind(r.collected_at_us).bind(intake.institution_id).bind(now_us)
                    .bind(message_id).bind(order_id)
                    .fetch_one(&mut *$tx).await?;
                    if let Some(v) = &r.indicator {
                        updates.extend(lab_updates(id, v, &intake.enrolments)?);
                    }
                    if r.critical.is_some() {
                        criticals.push((id, r));
                    }
                    if let Some(o) = &order {
                        linked.push((o.0, o.1.clone(), r));
                    }
                    created.push(id);
                }
                Some(e) => {
                    let same = e.value_text == r.value_text && e.unit == r.unit
                        && e.flags == r.flags && e.status == r.status;
                    let backwards = r.status == ResultStatus::Preliminary
                        && e.status != ResultStatus::Preliminary;
                    let uncounts = e.counted && r.indicator.is_none();
                    if same || backwards || uncounts {
                        unchanged.push(e.id);
                        continue;
                    }
                    sqlx::query(
                        "UPDATE lab_results SET test = $2, value_centi = $3, value_text = $4, unit = $5,
                             reference_range = $6, flags = $7, status = $8, critical = $9, reported = $10,
                             display = $11, hl7_message_id = $12, exam_order_id = COALESCE($13, exam_order_id)
                         WHERE id = $1",
                    )
                    .bind(e.id).bind(test).bind(r.value_centi).bind(&r.value_text).bind(&r.unit)
                    .bind(&r.reference_range).bind(&r.flags).bind(r.status.code()).bind(critical)
                    .bind(&reported).bind(&r.display).bind(message_id).bind(order_id)
                    .execute(&mut *$tx).await?;
                    if let Some(v) = &r.indicator {
                        // the same key as the row's first fact: it takes that one's place
                        updates.extend(lab_updates(e.id, v, &intake.enrolments)?);
                    }
                    // a correction checks the critical value again: one no longer
                    // critical closes its loop; one still (or now) critical is notified
                    // afresh with the corrected value
                    match r.critical {
                        None => {
                            sqlx::query(
                                "UPDATE critical_values SET status = 'closed', actioned_at_us = $2,
                                     action = '检验结果已更正，不再为危急值 (corrected: no longer critical)'
                                 WHERE lab_result_id = $1 AND status <> 'closed'",
                            )
                            .bind(e.id).bind(now_us).execute(&mut *$tx).await?;
                        }
                        Some(side) => {
                            let renewed = sqlx::query(
                                "UPDATE critical_values SET value_text = $2, unit = $3, side = $4,
                                     status = 'notified', detected_at_us = $5, due_at_us = $6,
                                     escalated_at_us = NULL, confirmed_by_user_id = NULL,
                                     confirmed_at_us = NULL, read_back = NULL
                                 WHERE lab_result_id = $1 AND status <> 'closed'",
                            )
                            .bind(e.id).bind(&r.value_text).bind(&r.unit).bind(side.code())
                            .bind(now_us).bind(now_us + intake.confirm_within_us)
                            .execute(&mut *$tx).await?.rows_affected();
                            if renewed == 0 {
                                criticals.push((e.id, r));
                            }
                        }
                    }
                    if let Some(o) = &order {
                        linked.push((o.0, o.1.clone(), r));
                    }
                    updated.push(e.id);
                }
            }
        }
        crate::maintained::apply_indicator_updates!($tx, updates, $params);
        let mut flagged = Vec::new();
        for (result_id, r) in criticals {
            let side = r.critical.map_or("", |c| c.code());
            let made: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO critical_values (lab_result_id, resident_id, institution_id, code, display,
                     value_text, unit, side, status, detected_at_us, due_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'notified', $9, $10)
                 ON CONFLICT (lab_result_id) WHERE status <> 'closed' DO NOTHING RETURNING id",
            )
            .bind(result_id).bind(intake.resident_id).bind(intake.notify_institution_id)
            .bind(&r.code).bind(&r.display).bind(&r.value_text).bind(&r.unit).bind(side)
            .bind(now_us).bind(now_us + intake.confirm_within_us)
            .fetch_optional(&mut *$tx).await?;
            if let Some((id,)) = made {
                flagged.push(id.to_string());
            }
        }
        // a settled result completes its order (guarded: a cancellation meanwhile wins)
        let mut completed_orders: Vec<String> = Vec::new();
        for (order_id, status, r) in linked {
            let open = gongti_core::exam::orders::OrderStatus::parse(&status)
                .is_some_and(|s| s.is_open());
            if !open || !r.status.counts() || completed_orders.contains(&order_id.to_string()) {
                continue;
            }
            let done = sqlx::query(
                "UPDATE exam_orders SET status = 'completed', changed_at_us = $2
                 WHERE id = $1 AND status IN ('received', 'accepted', 'in-progress')",
            )
            .bind(order_id).bind(now_us).execute(&mut *$tx).await?.rows_affected() == 1;
            if !done {
                continue;
            }
            sqlx::query(
                "INSERT INTO exam_order_events (order_id, status, at_us, note)
                 VALUES ($1, 'completed', $2, '检验结果已回传 (results received)')",
            )
            .bind(order_id).bind(now_us).execute(&mut *$tx).await?;
            sqlx::query(
                "UPDATE care_relationships SET until_us = $2
                 WHERE id = (SELECT care_relationship_id FROM exam_orders WHERE id = $1)",
            )
            .bind(order_id).bind(now_us + orders::CENTRE_ACCESS_AFTER_US)
            .execute(&mut *$tx).await?;
            completed_orders.push(order_id.to_string());
        }
        sqlx::query("UPDATE hl7_messages SET results = $2 WHERE id = $1")
            .bind(message_id).bind((created.len() + updated.len()) as i64)
            .execute(&mut *$tx).await?;
        if !created.is_empty() || !updated.is_empty() {
            let mut audit = intake.audit.clone();
            if !created.is_empty() {
                audit.resource_id = Some(encode_ids(created.iter().copied()));
            }
            let mut detail = audit.detail.take().unwrap_or_default();
            if !updated.is_empty() {
                let ids: Vec<String> = updated.iter().map(i64::to_string).collect();
                detail = format!("{detail} updated {}", ids.join(",")).trim().to_owned();
            }
            if !completed_orders.is_empty() {
                detail = format!("{detail} orders completed {}", completed_orders.join(","))
                    .trim()
                    .to_owned();
            }
            if !flagged.is_empty() {
                // the critical values detected, each notified to the resident's institution
                detail = format!("{detail} critical {}", flagged.join(",")).trim().to_owned();
            }
            audit.detail = Some(detail);
            $staged.push(audit);
        }
        (created, updated, unchanged)
    }};
}

impl Store {
    /// Stores a message (and a matched one's results) in one transaction with their
    /// audit records. A message from a sender whose control id was stored before (not
    /// rejected) writes nothing and answers with the first one's answer.
    pub async fn receive_hl7(
        &self,
        m: &NewHl7Message<'_>,
        intake: Option<&LabIntake<'_>>,
        params: &Params,
    ) -> Result<Received> {
        let raw = self.keys.seal_bytes_text(RAW_COLUMN, m.raw);
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let inserted: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO hl7_messages (sender, control_id, message_type, charset, raw, peer, received_at_us,
                     ack_code, problem, resident_id, institution_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (sender, control_id) WHERE ack_code <> 'AR' DO NOTHING RETURNING id",
            )
            .bind(m.sender).bind(m.control_id).bind(m.message_type).bind(m.charset).bind(&raw)
            .bind(m.peer).bind(m.received_at_us).bind(m.ack_code).bind(m.problem).bind(m.resident_id)
            .bind(m.institution_id)
            .fetch_optional(&mut *tx).await?;
            let Some((message_id,)) = inserted else {
                let row = sqlx::query(
                    "SELECT id, ack_code, problem FROM hl7_messages
                     WHERE sender = $1 AND control_id = $2 AND ack_code <> 'AR'",
                )
                .bind(m.sender).bind(m.control_id).fetch_one(&mut *tx).await?;
                return Ok(Received::Repeat {
                    message_id: row.i64("id")?,
                    ack_code: row.text("ack_code")?,
                    problem: row.text("problem")?,
                });
            };
            let mut staged = Vec::new();
            let mut audit = m.audit.clone();
            audit.resource_id = Some(message_id.to_string());
            staged.push(audit);
            let (created, updated, unchanged) = match intake {
                Some(intake) => keep_lab_results_in!(
                    tx, intake, m.sender, message_id, m.received_at_us, params, staged
                ),
                None => (Vec::new(), Vec::new(), Vec::new()),
            };
            stage_audit!(tx, &staged);
            tx.commit().await?;
            Ok(Received::Stored { message_id, created, updated, unchanged })
        })
    }

    /// Keeps a held message's results for the resident a person matched it to, and
    /// marks it accepted; `None` when it is no longer held (matched meanwhile).
    pub async fn match_held_hl7(
        &self,
        message_id: i64,
        intake: &LabIntake<'_>,
        matched_by_user_id: i64,
        now_us: i64,
        audit: &AuditEntry,
        params: &Params,
    ) -> Result<Option<(Vec<i64>, Vec<i64>, Vec<i64>)>> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let held: Option<(String,)> = sqlx::query_as(
                "UPDATE hl7_messages SET ack_code = 'AA', resident_id = $2, matched_by_user_id = $3,
                     matched_at_us = $4
                 WHERE id = $1 AND ack_code = 'AE' RETURNING sender",
            )
            .bind(message_id).bind(intake.resident_id).bind(matched_by_user_id).bind(now_us)
            .fetch_optional(&mut *tx).await?;
            let Some((sender,)) = held else {
                return Ok(None);
            };
            let mut staged = vec![audit.clone()];
            let kept = keep_lab_results_in!(tx, intake, &sender, message_id, now_us, params, staged);
            stage_audit!(tx, &staged);
            tx.commit().await?;
            Ok(Some(kept))
        })
    }

    /// The messages of an institution held for matching (AE), oldest first after the
    /// keyset `after_id`.
    pub async fn held_hl7_messages(
        &self,
        institution_id: i64,
        after_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Hl7MessageRecord>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM hl7_messages
             WHERE institution_id = $1 AND ack_code = 'AE' AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        on_read!(self, pool => {
            sqlx::query(crate::row::trusted(&sql)).bind(institution_id).bind(after_id).bind(limit)
                .fetch_all(pool).await?.iter().map(message).collect()
        })
    }

    /// Escalates every critical value not confirmed by its deadline (`now_us`), each
    /// with its audit record (`audit` filled in per value).
    pub async fn escalate_critical_values(
        &self,
        now_us: i64,
        audit: &AuditEntry,
    ) -> Result<Vec<CriticalValueRecord>> {
        let sql = format!(
            "UPDATE critical_values SET escalated_at_us = $1
             WHERE status = 'notified' AND escalated_at_us IS NULL AND due_at_us <= $1
             RETURNING {CRITICAL_COLUMNS}"
        );
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let rows = sqlx::query(crate::row::trusted(&sql)).bind(now_us).fetch_all(&mut *tx).await?;
            let escalated = rows.iter().map(critical_value).collect::<Result<Vec<_>>>()?;
            let staged: Vec<AuditEntry> = escalated
                .iter()
                .map(|c| AuditEntry {
                    resource_id: Some(c.id.to_string()),
                    patient_id: Some(c.resident_id),
                    institution_id: Some(c.institution_id),
                    ..audit.clone()
                })
                .collect();
            stage_audit!(tx, &staged);
            tx.commit().await?;
            Ok(escalated)
        })
    }

    /// An institution's critical values not closed, oldest first after `after_id`.
    pub async fn open_critical_values(
        &self,
        institution_id: i64,
        after_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<CriticalValueRecord>> {
        let sql = format!(
            "SELECT {CRITICAL_COLUMNS} FROM critical_values
             WHERE institution_id = $1 AND status <> 'closed' AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        on_read!(self, pool => {
            sqlx::query(crate::row::trusted(&sql)).bind(institution_id).bind(after_id).bind(limit)
                .fetch_all(pool).await?.iter().map(critical_value).collect()
        })
    }

    /// A resident's critical values, newest first.
    pub async fn critical_values_of_resident(
        &self,
        resident_id: i64,
    ) -> Result<Vec<CriticalValueRecord>> {
        let sql = format!(
            "SELECT {CRITICAL_COLUMNS} FROM critical_values WHERE resident_id = $1 ORDER BY id DESC"
        );
        on_read!(self, pool => {
            sqlx::query(crate::row::trusted(&sql)).bind(resident_id)
                .fetch_all(pool).await?.iter().map(critical_value).collect()
        })
    }

    pub async fn critical_value_by_id(&self, id: i64) -> Result<Option<CriticalValueRecord>> {
        let sql = format!("SELECT {CRITICAL_COLUMNS} FROM critical_values WHERE id = $1");
        on_read!(self, pool => {
            sqlx::query(crate::row::trusted(&sql)).bind(id)
                .fetch_optional(pool).await?.as_ref().map(critical_value).transpose()
        })
    }

    /// Takes a step on a critical value, guarded by the status it was decided from:
    /// `false` when it moved meanwhile (nothing written).
    pub async fn step_critical_value(
        &self,
        step: &CriticalStepWrite<'_>,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let CriticalStepWrite {
            id,
            from,
            to,
            user_id,
            now_us,
            text,
            code,
        } = *step;
        let sql = match to {
            CriticalStatus::Confirmed => {
                "UPDATE critical_values SET status = $3, confirmed_by_user_id = $4, confirmed_at_us = $5,
                     read_back = $6
                 WHERE id = $1 AND status = $2 AND code = $7"
            }
            _ => {
                "UPDATE critical_values SET status = $3, actioned_by_user_id = $4, actioned_at_us = $5,
                     action = $6
                 WHERE id = $1 AND status = $2 AND code = $7"
            }
        };
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(sql)
                .bind(id).bind(from.code()).bind(to.code()).bind(user_id).bind(now_us).bind(text).bind(code)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if !done {
                return Ok(false);
            }
            stage_audit!(tx, std::slice::from_ref(audit));
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Seals again under the current key the messages' bytes sealed with an older one
    /// (`Store::reseal_personal_data`), a batch at a time; returns how many messages.
    pub(crate) async fn reseal_hl7_messages(
        &self,
        stale: &dyn Fn(&Option<String>) -> bool,
    ) -> Result<u64> {
        let mut done = 0;
        let mut after = 0i64;
        loop {
            let rows: Vec<(i64, String)> = on_write!(self, pool => {
                sqlx::query_as("SELECT id, raw FROM hl7_messages WHERE id > $1 ORDER BY id LIMIT 500")
                    .bind(after).fetch_all(pool).await?
            });
            let Some(last) = rows.last().map(|r| r.0) else {
                return Ok(done);
            };
            after = last;
            for (id, raw) in rows {
                if !stale(&Some(raw.clone())) {
                    continue;
                }
                let bytes = self.keys.open_bytes_text(RAW_COLUMN, &raw)?;
                let again = self.keys.seal_bytes_text(RAW_COLUMN, &bytes);
                on_write!(self, pool => {
                    sqlx::query("UPDATE hl7_messages SET raw = $1 WHERE id = $2")
                        .bind(again).bind(id).execute(pool).await?;
                });
                done += 1;
            }
        }
    }

    /// A message's bytes as received.
    pub async fn hl7_message_raw(&self, id: i64) -> Result<Option<Vec<u8>>> {
        let raw: Option<(String,)> = on_read!(self, pool => {
            sqlx::query_as("SELECT raw FROM hl7_messages WHERE id = $1")
                .bind(id).fetch_optional(pool).await?
        });
        raw.map(|(text,)| self.keys.open_bytes_text(RAW_COLUMN, &text))
            .transpose()
    }

    /// Messages answered with `ack_code`, newest first, after the keyset `before_id`.
    pub async fn hl7_messages(
        &self,
        ack_code: &str,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Hl7MessageRecord>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM hl7_messages
             WHERE ack_code = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        );
        on_read!(self, pool => {
            sqlx::query(crate::row::trusted(&sql)).bind(ack_code).bind(before_id).bind(limit)
                .fetch_all(pool).await?.iter().map(message).collect()
        })
    }

    pub async fn hl7_message(&self, id: i64) -> Result<Option<Hl7MessageRecord>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM hl7_messages WHERE id = $1");
        on_read!(self, pool => {
            sqlx::query(crate::row::trusted(&sql)).bind(id)
                .fetch_optional(pool).await?.as_ref().map(message).transpose()
        })
    }
}
