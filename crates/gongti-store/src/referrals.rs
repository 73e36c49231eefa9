//! Two-way referrals (DOMAIN.md §3): created with their reserved slot in one
//! transaction, each step written with its guard, its effects (slot freed, access
//! ended, the family doctor's 14-day task) and its timeline event; the inbox, sent and
//! returning lists; and the candidate departments of a one-click referral.

use gongti_core::audit::AuditEntry;
use gongti_core::chronic::Disease;
use gongti_core::referral::{Candidate, ReferralStatus, StepEffects, Urgency};
use gongti_core::scheduling::Pool;
use time::Date;

use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::scheduling::{BookOutcome, NewBooking, pick_slot_sql, take_slot};
use crate::{EngineKind, Page, Result, Store, StoreError, on_read, on_write};

#[derive(Debug, Clone)]
pub struct NewReferral {
    pub resident_id: i64,
    pub disease: Disease,
    pub urgency: Urgency,
    pub from_institution_id: i64,
    pub from_staff_id: i64,
    pub to_institution_id: i64,
    pub to_department_id: i64,
    /// `alert`, `followup` or `manual`, with the record's id.
    pub source_kind: &'static str,
    pub source_id: Option<i64>,
    pub reason: String,
    /// The rules that fired, comma-separated codes.
    pub rules: Option<String>,
    pub summary: String,
    /// The reserved slot to book with it (routine referrals).
    pub booking: Option<NewBooking>,
    pub now_us: i64,
}

/// What creating a referral came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferralOutcome {
    Created(i64),
    /// The slot could not be booked (taken meanwhile, or the patient is booked there).
    Slot(BookOutcome),
    /// A referral to this department is already under way for the patient.
    AlreadyOpen,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralRecord {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub disease: Disease,
    pub urgency: Urgency,
    pub status: ReferralStatus,
    pub from_institution_id: i64,
    pub from_institution_name: String,
    pub from_staff_id: i64,
    pub from_staff_name: String,
    pub to_institution_id: i64,
    pub to_institution_name: String,
    pub to_department_id: i64,
    pub to_department_name: String,
    pub booking_id: Option<i64>,
    pub slot_starts_at_us: Option<i64>,
    /// The pool the booking was made through: 预留号 (the family doctor's) or 普通号
    /// (a public booking, which may take a reserved slot once it is released).
    pub booking_pool: Option<Pool>,
    pub source_kind: String,
    pub source_id: Option<i64>,
    pub reason: String,
    pub rules: Option<String>,
    pub summary: String,
    pub reject_reason: Option<String>,
    pub return_plan: Option<String>,
    pub followup_due_on: Option<Date>,
    /// The 14-day task after the return is still open.
    pub followup_open: bool,
    pub created_at_us: i64,
    pub changed_at_us: i64,
    pub version: crate::Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralEventRecord {
    pub step: String,
    pub status: ReferralStatus,
    pub staff_id: i64,
    pub staff_name: String,
    pub institution_id: Option<i64>,
    pub note: Option<String>,
    pub at_us: i64,
}

/// A step to write: guarded by `from`, with its effects.
#[derive(Debug, Clone)]
pub struct ReferralStepWrite {
    pub id: i64,
    pub from: ReferralStatus,
    pub to: ReferralStatus,
    pub step: &'static str,
    pub staff_id: i64,
    pub institution_id: Option<i64>,
    pub note: Option<String>,
    pub effects: StepEffects,
    /// The enrolment to hang the family doctor's follow-up task on, if the patient is
    /// enrolled in the referral's programme.
    pub task_enrolment_id: Option<i64>,
    pub today: Date,
    pub now_us: i64,
}

/// Which referrals a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferralBox {
    /// Received by an institution (or one of its departments) and under way.
    Inbox {
        institution_id: i64,
        department_id: Option<i64>,
    },
    /// Sent by an institution, any status.
    Sent {
        institution_id: i64,
    },
    /// Sent by an institution and referred back down.
    Returning {
        institution_id: i64,
    },
    Resident {
        resident_id: i64,
    },
}

const COLUMNS: &str = "f.id, f.resident_id, r.name AS resident_name, f.disease, f.urgency, f.status,
    f.from_institution_id, fi.name AS from_institution_name, f.from_staff_id, fs.name AS from_staff_name,
    f.to_institution_id, ti.name AS to_institution_name, f.to_department_id, d.name AS to_department_name,
    f.booking_id, (SELECT x.starts_at_us FROM bookings b JOIN slots x ON x.id = b.slot_id WHERE b.id = f.booking_id) AS slot_starts_at_us,
    (SELECT b.pool FROM bookings b WHERE b.id = f.booking_id) AS booking_pool,
    f.source_kind, f.source_id, f.reason, f.rules, f.summary, f.reject_reason, f.return_plan, f.followup_due_on,
    (SELECT COUNT(*) FROM chronic_tasks t WHERE t.source_referral_id = f.id AND t.status = 'open') AS open_tasks,
    f.created_at_us, f.changed_at_us, f.version, COALESCE(f.version_at_us, f.created_at_us) AS version_at_us";
const FROM: &str = "FROM referrals f JOIN residents r ON r.id = f.resident_id
    JOIN institutions fi ON fi.id = f.from_institution_id JOIN staff fs ON fs.id = f.from_staff_id
    JOIN institutions ti ON ti.id = f.to_institution_id JOIN departments d ON d.id = f.to_department_id";

fn referral(row: &impl RowExt) -> Result<ReferralRecord> {
    let corrupt = |what: &str| StoreError::Corrupt(what.into());
    Ok(ReferralRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        resident_name: row.text("resident_name")?,
        disease: Disease::parse(&row.text("disease")?).ok_or_else(|| corrupt("disease"))?,
        urgency: Urgency::parse(&row.text("urgency")?).ok_or_else(|| corrupt("urgency"))?,
        status: ReferralStatus::parse(&row.text("status")?)
            .ok_or_else(|| corrupt("referral status"))?,
        from_institution_id: row.i64("from_institution_id")?,
        from_institution_name: row.text("from_institution_name")?,
        from_staff_id: row.i64("from_staff_id")?,
        from_staff_name: row.text("from_staff_name")?,
        to_institution_id: row.i64("to_institution_id")?,
        to_institution_name: row.text("to_institution_name")?,
        to_department_id: row.i64("to_department_id")?,
        to_department_name: row.text("to_department_name")?,
        booking_id: row.opt_i64("booking_id")?,
        slot_starts_at_us: row.opt_i64("slot_starts_at_us")?,
        booking_pool: match row.opt_text("booking_pool")? {
            Some(p) => Some(Pool::parse(&p).ok_or_else(|| corrupt("booking pool"))?),
            None => None,
        },
        source_kind: row.text("source_kind")?,
        source_id: row.opt_i64("source_id")?,
        reason: row.text("reason")?,
        rules: row.opt_text("rules")?,
        summary: row.text("summary")?,
        reject_reason: row.opt_text("reject_reason")?,
        return_plan: row.opt_text("return_plan")?,
        followup_due_on: row.opt_date("followup_due_on")?,
        followup_open: row.i64("open_tasks")? > 0,
        created_at_us: row.i64("created_at_us")?,
        changed_at_us: row.i64("changed_at_us")?,
        version: crate::Version::of(row)?,
    })
}

/// A timeline event as read: (step, status, staff id, staff name, institution, note, at).
type EventRow = (
    String,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
    i64,
);

const INSERT_EVENT: &str =
    "INSERT INTO referral_events (referral_id, step, status, staff_id, institution_id, note, at_us)
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Store {
    /// Departments with `department_code` at upper hospitals, each with its earliest
    /// free slot of `slot_pool` starting after `after_us` on a day up to `to_day` (if
    /// any); `tied_to` is the sending institution's upper hospital.
    pub async fn referral_candidates(
        &self,
        department_code: &str,
        tied_to: Option<i64>,
        from_day: Date,
        to_day: Date,
        after_us: i64,
        via: Pool,
    ) -> Result<Vec<Candidate>> {
        // The public pool takes public slots and the reserved ones already released
        // to it: a visit within the schedule's release window of `from_day` (DOMAIN.md
        // §3, `gongti_core::scheduling::open_to_public`).
        let released = match self.kind() {
            EngineKind::Sqlite => "s.day <= date($2, '+' || s.release_days || ' days')",
            EngineKind::Postgres => "s.day <= $2::date + s.release_days::integer",
        };
        let pools = match via {
            Pool::Reserved => "y.pool = 'reserved'".to_owned(),
            Pool::Public => format!("(y.pool = 'public' OR (y.pool = 'reserved' AND {released}))"),
        };
        let sql = format!(
            "SELECT d.id, d.institution_id, x.schedule_id, x.starts_at_us
             FROM departments d JOIN institutions i ON i.id = d.institution_id
             LEFT JOIN slots x ON x.id = (
                 SELECT y.id FROM slots y JOIN schedules s ON s.id = y.schedule_id
                 WHERE s.department_id = d.id AND s.status = 'published' AND s.day >= $2 AND s.day <= $3
                   AND {pools} AND y.status = 'free' AND y.starts_at_us > $4
                 ORDER BY y.starts_at_us, y.id LIMIT 1)
             WHERE d.code = $1 AND i.kind IN ('tertiary_hospital', 'secondary_hospital')
             ORDER BY d.id"
        );
        let rows: Vec<(i64, i64, Option<i64>, Option<i64>)> = on_read!(self, pool => {
            sqlx::query_as(trusted(&sql))
                .bind(department_code).bind(from_day).bind(to_day).bind(after_us)
                .fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(department_id, institution_id, schedule, starts)| Candidate {
                    institution_id,
                    department_id,
                    tied: tied_to == Some(institution_id),
                    earliest: schedule.zip(starts),
                },
            )
            .collect())
    }

    /// Creates a referral — with its reserved slot, the receiving hospital's care
    /// relationship and the `request` event — in one transaction. `audit` gives its
    /// records from the (referral, booking) created; they commit with it.
    pub async fn create_referral(
        &self,
        n: &NewReferral,
        audit: crate::AuditFor<'_, (i64, Option<i64>)>,
    ) -> Result<ReferralOutcome> {
        let pick = n
            .booking
            .as_ref()
            .map(|b| pick_slot_sql(self.kind(), &b.pools))
            .unwrap_or_default();
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let booking_id = match &n.booking {
                Some(b) => match take_slot!(tx, b, &pick) {
                    BookOutcome::Booked(id) => Some(id),
                    other => return Ok(ReferralOutcome::Slot(other)),
                },
                None => None,
            };
            let (care_id,): (i64,) = sqlx::query_as(
                "INSERT INTO care_relationships (resident_id, institution_id, kind, opened_at_us)
                 VALUES ($1, $2, 'referral', $3) RETURNING id",
            )
            .bind(n.resident_id).bind(n.to_institution_id).bind(n.now_us)
            .fetch_one(&mut *tx).await?;
            let inserted: std::result::Result<(i64,), sqlx::Error> = sqlx::query_as(
                "INSERT INTO referrals (resident_id, disease, urgency, status, from_institution_id, from_staff_id,
                     to_institution_id, to_department_id, booking_id, source_kind, source_id, reason, rules, summary,
                     care_relationship_id, created_at_us, changed_at_us)
                 VALUES ($1, $2, $3, 'requested', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING id",
            )
            .bind(n.resident_id).bind(n.disease.code()).bind(n.urgency.code())
            .bind(n.from_institution_id).bind(n.from_staff_id).bind(n.to_institution_id).bind(n.to_department_id)
            .bind(booking_id).bind(n.source_kind).bind(n.source_id).bind(&n.reason).bind(n.rules.as_deref())
            .bind(&n.summary).bind(care_id).bind(n.now_us)
            .fetch_one(&mut *tx).await;
            let id = match inserted.map_err(StoreError::from) {
                Ok((id,)) => id,
                Err(StoreError::Duplicate(_)) => return Ok(ReferralOutcome::AlreadyOpen),
                Err(e) => return Err(e),
            };
            sqlx::query(INSERT_EVENT)
                .bind(id).bind("request").bind(ReferralStatus::Requested.code()).bind(n.from_staff_id)
                .bind(n.from_institution_id).bind(Some(n.reason.as_str())).bind(n.now_us)
                .execute(&mut *tx).await?;
            stage_audit!(tx, &audit(&(id, booking_id)));
            tx.commit().await?;
            Ok(ReferralOutcome::Created(id))
        })
    }

    /// A superseded version of a referral (`None`: not a version it had before).
    pub async fn referral_version(&self, id: i64, version: i64) -> Result<Option<ReferralRecord>> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE f.id = $1");
        crate::versions::superseded!(
            self,
            crate::Kept::Referrals,
            "f",
            &sql,
            id,
            version,
            referral
        )
    }

    pub async fn referral(&self, id: i64) -> Result<ReferralRecord> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE f.id = $1");
        on_read!(self, pool => {
            referral(&sqlx::query(trusted(&sql)).bind(id).fetch_one(pool).await?)
        })
    }

    /// The same as [`Store::referral`], read through the writer (after a write).
    pub async fn referral_fresh(&self, id: i64) -> Result<ReferralRecord> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE f.id = $1");
        on_write!(self, pool => {
            referral(&sqlx::query(trusted(&sql)).bind(id).fetch_one(pool).await?)
        })
    }

    /// A referral's timeline, oldest first.
    pub async fn referral_events(&self, id: i64) -> Result<Vec<ReferralEventRecord>> {
        let rows: Vec<EventRow> = on_read!(self, pool => {
            sqlx::query_as(
                "SELECT e.step, e.status, e.staff_id, s.name, e.institution_id, e.note, e.at_us
                 FROM referral_events e JOIN staff s ON s.id = e.staff_id WHERE e.referral_id = $1 ORDER BY e.id",
            )
            .bind(id).fetch_all(pool).await?
        });
        rows.into_iter()
            .map(
                |(step, status, staff_id, staff_name, institution_id, note, at_us)| {
                    Ok(ReferralEventRecord {
                        step,
                        status: ReferralStatus::parse(&status)
                            .ok_or_else(|| StoreError::Corrupt("referral status".into()))?,
                        staff_id,
                        staff_name,
                        institution_id,
                        note,
                        at_us,
                    })
                },
            )
            .collect()
    }

    /// Writes a referral step in one transaction: the guarded status change, the
    /// rejection reason or return plan, the freed slot, the ended access, the booking
    /// checked in on arrival, the family doctor's task, and the timeline event.
    pub async fn apply_referral_step(
        &self,
        w: &ReferralStepWrite,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let (reject_reason, return_plan) = match w.to {
            ReferralStatus::Rejected => (w.note.as_deref(), None),
            ReferralStatus::Returned => (None, w.note.as_deref()),
            _ => (None, None),
        };
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE referrals SET status = $1, changed_at_us = $2,
                     reject_reason = COALESCE($3, reject_reason), return_plan = COALESCE($4, return_plan),
                     followup_due_on = COALESCE($5, followup_due_on)
                 WHERE id = $6 AND status = $7",
            )
            .bind(w.to.code()).bind(w.now_us).bind(reject_reason).bind(return_plan)
            .bind(w.effects.followup_due_on).bind(w.id).bind(w.from.code())
            .execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Changed("referral"));
            }
            if w.effects.release_slot {
                let freed = sqlx::query(
                    "UPDATE bookings SET status = 'cancelled', changed_at_us = $1
                     WHERE id = (SELECT booking_id FROM referrals WHERE id = $2) AND status = 'booked'",
                )
                .bind(w.now_us).bind(w.id)
                .execute(&mut *tx).await?;
                if freed.rows_affected() == 1 {
                    sqlx::query(
                        "UPDATE slots SET status = 'free'
                         WHERE id = (SELECT b.slot_id FROM bookings b JOIN referrals f ON f.booking_id = b.id WHERE f.id = $1)",
                    )
                    .bind(w.id).execute(&mut *tx).await?;
                    sqlx::query(
                        "UPDATE care_relationships SET closed_at_us = $1
                         WHERE id = (SELECT b.care_relationship_id FROM bookings b JOIN referrals f ON f.booking_id = b.id WHERE f.id = $2)
                           AND closed_at_us IS NULL",
                    )
                    .bind(w.now_us).bind(w.id).execute(&mut *tx).await?;
                }
            }
            if w.to == ReferralStatus::Arrived {
                sqlx::query(
                    "UPDATE bookings SET status = 'checked_in', changed_at_us = $1
                     WHERE id = (SELECT booking_id FROM referrals WHERE id = $2) AND status = 'booked'",
                )
                .bind(w.now_us).bind(w.id).execute(&mut *tx).await?;
            }
            if w.effects.close_access {
                // Both the referral's access and its booking's end with it.
                sqlx::query(
                    "UPDATE care_relationships SET closed_at_us = $1
                     WHERE closed_at_us IS NULL AND id IN (
                         SELECT care_relationship_id FROM referrals WHERE id = $2
                         UNION SELECT b.care_relationship_id FROM bookings b JOIN referrals f ON f.booking_id = b.id WHERE f.id = $2)",
                )
                .bind(w.now_us).bind(w.id).execute(&mut *tx).await?;
            }
            if let (Some(due_on), Some(enrolment_id)) = (w.effects.followup_due_on, w.task_enrolment_id) {
                sqlx::query(
                    "INSERT INTO chronic_tasks (resident_id, enrolment_id, institution_id, kind, due_on, status,
                         created_at_us, source_referral_id, opened_on)
                     SELECT f.resident_id, $1, f.from_institution_id, 'referral_return_followup', $2, 'open', $3, f.id, $4
                     FROM referrals f WHERE f.id = $5",
                )
                .bind(enrolment_id).bind(due_on).bind(w.now_us).bind(w.today).bind(w.id)
                .execute(&mut *tx).await?;
            }
            sqlx::query(INSERT_EVENT)
                .bind(w.id).bind(w.step).bind(w.to.code()).bind(w.staff_id)
                .bind(w.institution_id).bind(w.note.as_deref()).bind(w.now_us)
                .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// A box of referrals, newest first.
    pub async fn referrals(
        &self,
        which: ReferralBox,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<ReferralRecord>> {
        let (filter, key) = match which {
            ReferralBox::Inbox {
                institution_id,
                department_id,
            } => (
                format!(
                    "f.to_institution_id = {institution_id} AND f.status IN ('requested', 'accepted', 'arrived', 'seen'){}",
                    department_id
                        .map_or(String::new(), |d| format!(" AND f.to_department_id = {d}"))
                ),
                institution_id,
            ),
            ReferralBox::Sent { institution_id } => (
                format!("f.from_institution_id = {institution_id}"),
                institution_id,
            ),
            ReferralBox::Returning { institution_id } => (
                format!("f.from_institution_id = {institution_id} AND f.status = 'returned'"),
                institution_id,
            ),
            ReferralBox::Resident { resident_id } => {
                (format!("f.resident_id = {resident_id}"), resident_id)
            }
        };
        let sql = format!(
            "SELECT {COLUMNS} {FROM} WHERE {filter} AND ($1 IS NULL OR f.id < $1) AND $2 = $2
             ORDER BY f.id DESC LIMIT $3"
        );
        let rows: Vec<ReferralRecord> = on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(after).bind(key).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?.iter().map(referral).collect::<Result<_>>()
        })?;
        Ok(Page::from_overfetch(rows, limit, |r| r.id))
    }
}
