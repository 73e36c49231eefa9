//! Schedules, slots and bookings at upper hospitals (DOMAIN.md §3). A booking takes
//! one free slot of an allowed pool in one transaction: on SQLite the single writer
//! serialises bookings; on PostgreSQL the candidate slot is locked with
//! `FOR UPDATE SKIP LOCKED`, so concurrent bookings take different slots. Behind both,
//! a partial unique index holds one active booking per slot and one per patient,
//! department and day.

use gongti_core::audit::AuditEntry;
use gongti_core::scheduling::{
    BookingStatus, CapacityPlan, Pool, ReserveParams, Session, SlotState,
};
use time::Date;

use crate::outbox::{created, stage_audit};
use crate::row::{RowExt, trusted};
use crate::{
    EngineKind, Page, Result, Store, StoreError, date_cursor, on_read, on_write, split_date_cursor,
};

/// A schedule to publish, with its slots laid out (UTC instants).
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub institution_id: i64,
    pub department_id: i64,
    pub doctor_staff_id: Option<i64>,
    pub clinic_name: Option<String>,
    pub day: Date,
    pub session: Session,
    pub params: ReserveParams,
    /// (seq, starts_at_us, ends_at_us, pool)
    pub slots: Vec<(u32, i64, i64, Pool)>,
    pub created_by_staff_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    pub id: i64,
    pub institution_id: i64,
    pub institution_name: String,
    pub department_id: i64,
    pub department_name: String,
    pub doctor_staff_id: Option<i64>,
    pub doctor_name: Option<String>,
    pub clinic_name: Option<String>,
    pub day: Date,
    pub session: Session,
    pub params: ReserveParams,
    pub cancelled: bool,
    /// Live slots (not withdrawn), by pool, and how many of them are free.
    pub reserved_slots: i64,
    pub reserved_free: i64,
    pub public_slots: i64,
    pub public_free: i64,
    pub created_at_us: i64,
    pub version: crate::Version,
}

impl ScheduleRecord {
    pub fn slot_count(&self) -> i64 {
        self.reserved_slots + self.public_slots
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRecord {
    pub id: i64,
    pub schedule_id: i64,
    pub seq: u32,
    pub starts_at_us: i64,
    pub ends_at_us: i64,
    pub pool: Pool,
    /// `free`, `booked` or `withdrawn`.
    pub status: String,
    pub version: crate::Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRecord {
    pub id: i64,
    pub slot_id: i64,
    pub schedule_id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub department_id: i64,
    pub department_name: String,
    pub day: Date,
    pub session: Session,
    pub starts_at_us: i64,
    pub ends_at_us: i64,
    /// The pool the booking was made through.
    pub pool: Pool,
    pub status: BookingStatus,
    /// Who booked: a staff member, or the resident's own account.
    pub booked_by_staff_id: Option<i64>,
    pub booked_by_account_id: Option<i64>,
    pub note: Option<String>,
    pub created_at_us: i64,
    pub changed_at_us: i64,
    pub version: crate::Version,
}

/// A booking to make: the first free slot of the schedule in one of `pools`, or the
/// one slot asked for if it is free and in one of them.
#[derive(Debug, Clone)]
pub struct NewBooking {
    pub schedule_id: i64,
    pub slot_id: Option<i64>,
    pub pools: Vec<Pool>,
    /// The pool recorded on the booking.
    pub via: Pool,
    pub resident_id: i64,
    /// Who books: a staff member, or the resident's own account.
    pub booked_by_staff_id: Option<i64>,
    pub booked_by_account_id: Option<i64>,
    pub note: Option<String>,
    /// The receiving hospital may read the record until this instant.
    pub care_until_us: i64,
    /// A booking this one replaces (a reschedule): cancelled in the same transaction.
    pub replaces: Option<i64>,
    pub now_us: i64,
}

/// What a booking attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookOutcome {
    Booked(i64),
    /// No free slot in the allowed pools (or the slot asked for is taken).
    NoSlot,
    /// The patient already holds a booking in this department on this day.
    PatientHasBooking,
    /// The booking to replace is no longer booked.
    ReplacedChanged,
}

const SCHEDULE_COLUMNS: &str = "s.id, s.institution_id, i.name AS institution_name, s.department_id,
    d.name AS department_name, s.doctor_staff_id, st.name AS doctor_name, s.clinic_name, s.day, s.session,
    s.reserved_permille, s.release_days, s.status, s.created_at_us,
    s.version, COALESCE(s.version_at_us, s.created_at_us) AS version_at_us,
    (SELECT COUNT(*) FROM slots x WHERE x.schedule_id = s.id AND x.pool = 'reserved' AND x.status <> 'withdrawn') AS reserved_slots,
    (SELECT COUNT(*) FROM slots x WHERE x.schedule_id = s.id AND x.pool = 'reserved' AND x.status = 'free') AS reserved_free,
    (SELECT COUNT(*) FROM slots x WHERE x.schedule_id = s.id AND x.pool = 'public' AND x.status <> 'withdrawn') AS public_slots,
    (SELECT COUNT(*) FROM slots x WHERE x.schedule_id = s.id AND x.pool = 'public' AND x.status = 'free') AS public_free";
const SCHEDULE_FROM: &str = "FROM schedules s JOIN institutions i ON i.id = s.institution_id
    JOIN departments d ON d.id = s.department_id LEFT JOIN staff st ON st.id = s.doctor_staff_id";

const BOOKING_COLUMNS: &str =
    "b.id, b.slot_id, b.schedule_id, b.resident_id, r.name AS resident_name,
    b.institution_id, i.name AS institution_name, b.department_id, d.name AS department_name, b.day,
    s.session, x.starts_at_us, x.ends_at_us, b.pool, b.status, b.booked_by_staff_id, b.booked_by_account_id, b.note,
    b.created_at_us, b.changed_at_us, b.version, COALESCE(b.version_at_us, b.created_at_us) AS version_at_us";
const SLOT_COLUMNS: &str = "id, schedule_id, seq, starts_at_us, ends_at_us, pool, status, \
    version, COALESCE(version_at_us, created_at_us) AS version_at_us";
const BOOKING_FROM: &str = "FROM bookings b JOIN residents r ON r.id = b.resident_id
    JOIN institutions i ON i.id = b.institution_id JOIN departments d ON d.id = b.department_id
    JOIN schedules s ON s.id = b.schedule_id JOIN slots x ON x.id = b.slot_id";

fn pool(row: &impl RowExt, column: &str) -> Result<Pool> {
    let code = row.text(column)?;
    Pool::parse(&code).ok_or_else(|| StoreError::Corrupt(format!("pool {code:?}")))
}

fn session(row: &impl RowExt) -> Result<Session> {
    let code = row.text("session")?;
    Session::parse(&code).ok_or_else(|| StoreError::Corrupt(format!("session {code:?}")))
}

fn small<T: TryFrom<i64>>(row: &impl RowExt, column: &str) -> Result<T> {
    T::try_from(row.i64(column)?).map_err(|_| StoreError::Corrupt(column.into()))
}

fn schedule(row: &impl RowExt) -> Result<ScheduleRecord> {
    Ok(ScheduleRecord {
        id: row.i64("id")?,
        institution_id: row.i64("institution_id")?,
        institution_name: row.text("institution_name")?,
        department_id: row.i64("department_id")?,
        department_name: row.text("department_name")?,
        doctor_staff_id: row.opt_i64("doctor_staff_id")?,
        doctor_name: row.opt_text("doctor_name")?,
        clinic_name: row.opt_text("clinic_name")?,
        day: row.date("day")?,
        session: session(row)?,
        params: ReserveParams {
            reserved_permille: small(row, "reserved_permille")?,
            release_days: small(row, "release_days")?,
        },
        cancelled: row.text("status")? == "cancelled",
        reserved_slots: row.i64("reserved_slots")?,
        reserved_free: row.i64("reserved_free")?,
        public_slots: row.i64("public_slots")?,
        public_free: row.i64("public_free")?,
        created_at_us: row.i64("created_at_us")?,
        version: crate::Version::of(row)?,
    })
}

fn slot(row: &impl RowExt) -> Result<SlotRecord> {
    Ok(SlotRecord {
        id: row.i64("id")?,
        schedule_id: row.i64("schedule_id")?,
        seq: small(row, "seq")?,
        starts_at_us: row.i64("starts_at_us")?,
        ends_at_us: row.i64("ends_at_us")?,
        pool: pool(row, "pool")?,
        status: row.text("status")?,
        version: crate::Version::of(row)?,
    })
}

fn booking(row: &impl RowExt) -> Result<BookingRecord> {
    let status = row.text("status")?;
    Ok(BookingRecord {
        id: row.i64("id")?,
        slot_id: row.i64("slot_id")?,
        schedule_id: row.i64("schedule_id")?,
        resident_id: row.i64("resident_id")?,
        resident_name: row.text("resident_name")?,
        institution_id: row.i64("institution_id")?,
        institution_name: row.text("institution_name")?,
        department_id: row.i64("department_id")?,
        department_name: row.text("department_name")?,
        day: row.date("day")?,
        session: session(row)?,
        starts_at_us: row.i64("starts_at_us")?,
        ends_at_us: row.i64("ends_at_us")?,
        pool: pool(row, "pool")?,
        status: BookingStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("booking status {status:?}")))?,
        booked_by_staff_id: row.opt_i64("booked_by_staff_id")?,
        booked_by_account_id: row.opt_i64("booked_by_account_id")?,
        note: row.opt_text("note")?,
        created_at_us: row.i64("created_at_us")?,
        changed_at_us: row.i64("changed_at_us")?,
        version: crate::Version::of(row)?,
    })
}

/// `'reserved','public'` for an IN list (our own codes).
fn pool_list(pools: &[Pool]) -> String {
    if pools.is_empty() {
        return "''".to_owned();
    }
    pools
        .iter()
        .map(|p| format!("'{}'", p.code()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Takes a slot for `$b` inside the open transaction `$tx` (either engine) with the
/// candidate query `$pick`: marks it booked, opens the hospital's care relationship and
/// records the booking. Evaluates to the [`BookOutcome`]; on anything but `Booked` the
/// caller must not commit.
macro_rules! take_slot {
    ($tx:ident, $b:expr, $pick:expr) => {{
        let b: &$crate::scheduling::NewBooking = $b;
        'take: {
            use $crate::row::RowExt;
            let picked = sqlx::query($crate::row::trusted($pick))
                .bind(b.schedule_id).bind(b.slot_id)
                .fetch_optional(&mut *$tx).await?;
            let Some(row) = picked else {
                break 'take $crate::scheduling::BookOutcome::NoSlot;
            };
            let slot_id = row.i64("id")?;
            let institution_id = row.i64("institution_id")?;
            let department_id = row.i64("department_id")?;
            let day = row.date("day")?;
            let taken = sqlx::query("UPDATE slots SET status = 'booked' WHERE id = $1 AND status = 'free'")
                .bind(slot_id).execute(&mut *$tx).await?;
            if taken.rows_affected() != 1 {
                break 'take $crate::scheduling::BookOutcome::NoSlot;
            }
            let (care_id,): (i64,) = sqlx::query_as(
                "INSERT INTO care_relationships (resident_id, institution_id, kind, opened_at_us, until_us)
                 VALUES ($1, $2, 'booking', $3, $4) RETURNING id",
            )
            .bind(b.resident_id).bind(institution_id).bind(b.now_us).bind(b.care_until_us)
            .fetch_one(&mut *$tx).await?;
            let inserted: std::result::Result<(i64,), sqlx::Error> = sqlx::query_as(
                "INSERT INTO bookings (slot_id, schedule_id, resident_id, institution_id, department_id, day, pool,
                     status, booked_by_staff_id, booked_by_account_id, care_relationship_id, note, created_at_us,
                     changed_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'booked', $8, $12, $9, $10, $11, $11) RETURNING id",
            )
            .bind(slot_id).bind(b.schedule_id).bind(b.resident_id).bind(institution_id)
            .bind(department_id).bind(day).bind(b.via.code()).bind(b.booked_by_staff_id)
            .bind(care_id).bind(b.note.as_deref()).bind(b.now_us).bind(b.booked_by_account_id)
            .fetch_one(&mut *$tx).await;
            match inserted.map_err($crate::StoreError::from) {
                Ok((id,)) => $crate::scheduling::BookOutcome::Booked(id),
                Err($crate::StoreError::Duplicate(what))
                    if what.contains("patient_day") || what.contains("resident_id") =>
                {
                    $crate::scheduling::BookOutcome::PatientHasBooking
                }
                Err(e) => return Err(e),
            }
        }
    }};
}
pub(crate) use take_slot;

/// The candidate-slot query of a booking: the earliest free slot of the allowed pools
/// (or the one asked for), locked against concurrent bookings on PostgreSQL.
pub(crate) fn pick_slot_sql(kind: EngineKind, pools: &[Pool]) -> String {
    let lock = match kind {
        EngineKind::Postgres => " FOR UPDATE OF x SKIP LOCKED",
        EngineKind::Sqlite => "",
    };
    format!(
        "SELECT x.id, x.schedule_id, s.institution_id, s.department_id, s.day, x.pool
         FROM slots x JOIN schedules s ON s.id = x.schedule_id
         WHERE x.schedule_id = $1 AND x.status = 'free' AND s.status = 'published' AND x.pool IN ({})
           AND ($2 IS NULL OR x.id = $2)
         ORDER BY x.starts_at_us, x.seq LIMIT 1{lock}",
        pool_list(pools)
    )
}

/// Which schedules a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleFilter {
    pub institution_id: Option<i64>,
    pub department_id: Option<i64>,
    pub from_day: Date,
    pub to_day: Date,
}

impl Store {
    /// The reserve policy for a department: its own, else its hospital's, else none.
    pub async fn reserve_policy(
        &self,
        institution_id: i64,
        department_id: i64,
    ) -> Result<Option<ReserveParams>> {
        let row: Option<(i64, i64)> = on_read!(self, pool => {
            sqlx::query_as(
                "SELECT reserved_permille, release_days FROM reserve_policies
                 WHERE institution_id = $1 AND (department_id = $2 OR department_id IS NULL)
                 ORDER BY department_id IS NULL LIMIT 1",
            )
            .bind(institution_id).bind(department_id)
            .fetch_optional(pool).await?
        });
        row.map(|(permille, days)| {
            Ok(ReserveParams {
                reserved_permille: u16::try_from(permille)
                    .map_err(|_| StoreError::Corrupt("reserved_permille".into()))?,
                release_days: u16::try_from(days)
                    .map_err(|_| StoreError::Corrupt("release_days".into()))?,
            })
        })
        .transpose()
    }

    /// Sets the reserve policy of a hospital (`department_id` None) or a department.
    pub async fn set_reserve_policy(
        &self,
        institution_id: i64,
        department_id: Option<i64>,
        params: ReserveParams,
        staff_id: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "DELETE FROM reserve_policies WHERE institution_id = $1
                 AND COALESCE(department_id, 0) = COALESCE($2, 0)",
            )
            .bind(institution_id).bind(department_id)
            .execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO reserve_policies (institution_id, department_id, reserved_permille, release_days,
                     updated_by_staff_id, updated_at_us) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(institution_id).bind(department_id)
            .bind(i64::from(params.reserved_permille)).bind(i64::from(params.release_days))
            .bind(staff_id).bind(now_us)
            .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Publishes a schedule with its slots in one transaction.
    pub async fn insert_schedule(
        &self,
        s: &NewSchedule,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<i64> {
        let values = s
            .slots
            .iter()
            .map(|(seq, starts, ends, pool)| {
                format!(
                    "($1, {seq}, {starts}, {ends}, '{}', 'free', {now_us})",
                    pool.code()
                )
            })
            .collect::<Vec<_>>();
        let slots_sql = format!(
            "INSERT INTO slots (schedule_id, seq, starts_at_us, ends_at_us, pool, status, created_at_us) VALUES {}",
            values.join(",")
        );
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO schedules (institution_id, department_id, doctor_staff_id, clinic_name, day, session,
                     reserved_permille, release_days, status, created_by_staff_id, created_at_us, updated_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'published', $9, $10, $10) RETURNING id",
            )
            .bind(s.institution_id).bind(s.department_id).bind(s.doctor_staff_id)
            .bind(s.clinic_name.as_deref()).bind(s.day).bind(s.session.code())
            .bind(i64::from(s.params.reserved_permille)).bind(i64::from(s.params.release_days))
            .bind(s.created_by_staff_id).bind(now_us)
            .fetch_one(&mut *tx).await?;
            if !s.slots.is_empty() {
                sqlx::query(trusted(&slots_sql)).bind(id).execute(&mut *tx).await?;
            }
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            Ok(id)
        })
    }

    /// A superseded version of a schedule (`None`: not a version it had before).
    pub async fn schedule_version(&self, id: i64, version: i64) -> Result<Option<ScheduleRecord>> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} {SCHEDULE_FROM} WHERE s.id = $1");
        crate::versions::superseded!(
            self,
            crate::Kept::Schedules,
            "s",
            &sql,
            id,
            version,
            schedule
        )
    }

    /// A superseded version of a slot (`None`: not a version it had before).
    pub async fn slot_version(&self, id: i64, version: i64) -> Result<Option<SlotRecord>> {
        let sql = format!("SELECT {SLOT_COLUMNS} FROM slots WHERE id = $1");
        crate::versions::superseded!(self, crate::Kept::Slots, "", &sql, id, version, slot)
    }

    /// A superseded version of a booking (`None`: not a version it had before).
    pub async fn booking_version(&self, id: i64, version: i64) -> Result<Option<BookingRecord>> {
        let sql = format!("SELECT {BOOKING_COLUMNS} {BOOKING_FROM} WHERE b.id = $1");
        crate::versions::superseded!(self, crate::Kept::Bookings, "b", &sql, id, version, |row| {
            booking(row)
        })
    }

    pub async fn schedule(&self, id: i64) -> Result<ScheduleRecord> {
        let sql = format!("SELECT {SCHEDULE_COLUMNS} {SCHEDULE_FROM} WHERE s.id = $1");
        on_read!(self, pool => {
            schedule(&sqlx::query(trusted(&sql)).bind(id).fetch_one(pool).await?)
        })
    }

    /// Published schedules by day, then id; keyset-paginated.
    pub async fn schedules(
        &self,
        filter: ScheduleFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<ScheduleRecord>> {
        let (after_day, after_id) = split_date_cursor(after)?;
        let sql = format!(
            "SELECT {SCHEDULE_COLUMNS} {SCHEDULE_FROM}
             WHERE s.status = 'published' AND s.day >= $1 AND s.day <= $2
               AND ($3 IS NULL OR s.institution_id = $3) AND ($4 IS NULL OR s.department_id = $4)
               AND (s.day > $5 OR (s.day = $5 AND s.id > $6))
             ORDER BY s.day, s.id LIMIT $7"
        );
        let rows: Vec<ScheduleRecord> = on_read!(self, pool => {
            sqlx::query(trusted(&sql))
                .bind(filter.from_day).bind(filter.to_day)
                .bind(filter.institution_id).bind(filter.department_id)
                .bind(after_day).bind(after_id).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?.iter().map(schedule).collect::<Result<_>>()
        })?;
        Ok(Page::from_overfetch(rows, limit, |s| {
            date_cursor(s.day, s.id)
        }))
    }

    /// How many published schedules a filter matches (a search's total).
    pub async fn schedule_count(&self, filter: &ScheduleFilter) -> Result<i64> {
        let (n,): (i64,) = on_read!(self, pool => {
            sqlx::query_as(
                "SELECT COUNT(*) FROM schedules s
                 WHERE s.status = 'published' AND s.day >= $1 AND s.day <= $2
                   AND ($3 IS NULL OR s.institution_id = $3) AND ($4 IS NULL OR s.department_id = $4)",
            )
            .bind(filter.from_day).bind(filter.to_day)
            .bind(filter.institution_id).bind(filter.department_id)
            .fetch_one(pool).await
        })?;
        Ok(n)
    }

    /// The schedule a slot belongs to.
    pub async fn slot_schedule(&self, slot_id: i64) -> Result<i64> {
        let row: Option<(i64,)> = on_read!(self, pool => {
            sqlx::query_as("SELECT schedule_id FROM slots WHERE id = $1")
                .bind(slot_id).fetch_optional(pool).await?
        });
        row.map(|(s,)| s).ok_or(StoreError::NotFound)
    }

    /// A schedule's slots in time order, withdrawn ones included.
    pub async fn slots_of(&self, schedule_id: i64) -> Result<Vec<SlotRecord>> {
        on_read!(self, pool => {
            sqlx::query(trusted(&format!(
                "SELECT {SLOT_COLUMNS} FROM slots WHERE schedule_id = $1 ORDER BY starts_at_us, seq"
            )))
            .bind(schedule_id)
            .fetch_all(pool).await?.iter().map(slot).collect()
        })
    }

    /// Takes a slot and records the booking (and the hospital's care relationship)
    /// in one transaction; see the module notes for how a slot is never taken twice.
    pub async fn book(&self, b: &NewBooking, audit: &[AuditEntry]) -> Result<BookOutcome> {
        let pick = pick_slot_sql(self.kind(), &b.pools);
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            if let Some(old) = b.replaces {
                let done = sqlx::query(
                    "UPDATE bookings SET status = 'cancelled', changed_at_us = $1
                     WHERE id = $2 AND resident_id = $3 AND status = 'booked'",
                )
                .bind(b.now_us).bind(old).bind(b.resident_id)
                .execute(&mut *tx).await?;
                if done.rows_affected() != 1 {
                    return Ok(BookOutcome::ReplacedChanged);
                }
                sqlx::query(
                    "UPDATE slots SET status = 'free' WHERE id = (SELECT slot_id FROM bookings WHERE id = $1)",
                )
                .bind(old).execute(&mut *tx).await?;
                sqlx::query(
                    "UPDATE care_relationships SET closed_at_us = $1
                     WHERE id = (SELECT care_relationship_id FROM bookings WHERE id = $2) AND closed_at_us IS NULL",
                )
                .bind(b.now_us).bind(old).execute(&mut *tx).await?;
            }
            let outcome = take_slot!(tx, b, &pick);
            if let BookOutcome::Booked(id) = &outcome {
                stage_audit!(tx, &created(audit, *id));
                tx.commit().await?;
            }
            Ok(outcome)
        })
    }

    pub async fn booking(&self, id: i64) -> Result<BookingRecord> {
        let sql = format!("SELECT {BOOKING_COLUMNS} {BOOKING_FROM} WHERE b.id = $1");
        on_read!(self, pool => {
            booking(&sqlx::query(trusted(&sql)).bind(id).fetch_one(pool).await?)
        })
    }

    /// The same as [`Store::booking`], read through the writer (after a write).
    pub async fn booking_fresh(&self, id: i64) -> Result<BookingRecord> {
        let sql = format!("SELECT {BOOKING_COLUMNS} {BOOKING_FROM} WHERE b.id = $1");
        on_write!(self, pool => {
            booking(&sqlx::query(trusted(&sql)).bind(id).fetch_one(pool).await?)
        })
    }

    /// Moves a booking from `from` to `to`, guarded by `from`; a status that no longer
    /// holds the slot frees it and ends the hospital's care relationship.
    pub async fn change_booking(
        &self,
        id: i64,
        from: BookingStatus,
        to: BookingStatus,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("UPDATE bookings SET status = $1, changed_at_us = $2 WHERE id = $3 AND status = $4")
                .bind(to.code()).bind(now_us).bind(id).bind(from.code())
                .execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Changed("booking"));
            }
            if to == BookingStatus::Cancelled {
                sqlx::query("UPDATE slots SET status = 'free' WHERE id = (SELECT slot_id FROM bookings WHERE id = $1)")
                    .bind(id).execute(&mut *tx).await?;
                sqlx::query(
                    "UPDATE care_relationships SET closed_at_us = $1
                     WHERE id = (SELECT care_relationship_id FROM bookings WHERE id = $2) AND closed_at_us IS NULL",
                )
                .bind(now_us).bind(id).execute(&mut *tx).await?;
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// A schedule's live slots as a capacity change sees them, and the next free seq.
    pub async fn capacity_state(&self, schedule_id: i64) -> Result<(Vec<SlotState>, u32)> {
        let slots = self.slots_of(schedule_id).await?;
        let next_seq = slots.iter().map(|s| s.seq + 1).max().unwrap_or(0);
        let live = slots
            .iter()
            .filter(|s| s.status != "withdrawn")
            .map(|s| SlotState {
                seq: s.seq,
                pool: s.pool,
                booked: s.status == "booked",
            })
            .collect();
        Ok((live, next_seq))
    }

    /// Applies a capacity plan in one transaction. Each withdrawn or re-pooled slot
    /// must still be free ([`StoreError::Changed`] otherwise, nothing saved).
    /// `appended` carries the (seq, starts_at_us, ends_at_us, pool) of new slots.
    pub async fn apply_capacity(
        &self,
        schedule_id: i64,
        plan: &CapacityPlan,
        appended: &[(u32, i64, i64, Pool)],
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            for seq in &plan.withdraw {
                let done = sqlx::query(
                    "UPDATE slots SET status = 'withdrawn' WHERE schedule_id = $1 AND seq = $2 AND status = 'free'",
                )
                .bind(schedule_id).bind(i64::from(*seq))
                .execute(&mut *tx).await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Changed("slot"));
                }
            }
            for (seq, to) in &plan.repool {
                let done = sqlx::query(
                    "UPDATE slots SET pool = $1 WHERE schedule_id = $2 AND seq = $3 AND status = 'free'",
                )
                .bind(to.code()).bind(schedule_id).bind(i64::from(*seq))
                .execute(&mut *tx).await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Changed("slot"));
                }
            }
            for (seq, starts, ends, p) in appended {
                sqlx::query(
                    "INSERT INTO slots (schedule_id, seq, starts_at_us, ends_at_us, pool, status, created_at_us)
                     VALUES ($1, $2, $3, $4, $5, 'free', $6)",
                )
                .bind(schedule_id).bind(i64::from(*seq)).bind(starts).bind(ends).bind(p.code()).bind(now_us)
                .execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE schedules SET updated_at_us = $1 WHERE id = $2")
                .bind(now_us).bind(schedule_id).execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Bookings of a schedule (the department's day list), in slot order.
    pub async fn bookings_of_schedule(&self, schedule_id: i64) -> Result<Vec<BookingRecord>> {
        let sql = format!(
            "SELECT {BOOKING_COLUMNS} {BOOKING_FROM} WHERE b.schedule_id = $1 ORDER BY x.starts_at_us, b.id"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(schedule_id)
                .fetch_all(pool).await?.iter().map(booking).collect()
        })
    }

    /// Cancels a published clinic (停诊) in one transaction: the schedule, its free
    /// slots, and every booking that still holds a slot — each cancelled with the
    /// reason, its access closed, and any referral that booked it told on its timeline.
    /// Returns the bookings it cancelled (patients to contact); [`StoreError::Changed`]
    /// when the schedule is no longer published. `audit` gives the records of the
    /// change from the (booking, resident) pairs it cancels; they commit with it.
    pub async fn cancel_schedule(
        &self,
        schedule_id: i64,
        reason: &str,
        staff_id: i64,
        now_us: i64,
        audit: crate::AuditFor<'_, [(i64, i64)]>,
    ) -> Result<Vec<i64>> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE schedules SET status = 'cancelled', updated_at_us = $1 WHERE id = $2 AND status = 'published'",
            )
            .bind(now_us).bind(schedule_id)
            .execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Changed("schedule"));
            }
            let held: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT id, resident_id FROM bookings WHERE schedule_id = $1 AND status = 'booked' ORDER BY id",
            )
            .bind(schedule_id)
            .fetch_all(&mut *tx).await?;
            sqlx::query(
                "UPDATE care_relationships SET closed_at_us = $1 WHERE closed_at_us IS NULL AND id IN (
                     SELECT care_relationship_id FROM bookings WHERE schedule_id = $2 AND status = 'booked')",
            )
            .bind(now_us).bind(schedule_id)
            .execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO referral_events (referral_id, step, status, staff_id, institution_id, note, at_us)
                 SELECT f.id, 'slot_cancelled', f.status, $1, s.institution_id, $2, $3
                 FROM referrals f JOIN bookings b ON b.id = f.booking_id JOIN schedules s ON s.id = b.schedule_id
                 WHERE b.schedule_id = $4 AND b.status = 'booked'",
            )
            .bind(staff_id).bind(reason).bind(now_us).bind(schedule_id)
            .execute(&mut *tx).await?;
            sqlx::query(
                "UPDATE bookings SET status = 'cancelled', changed_at_us = $1,
                     note = CASE WHEN note IS NULL THEN $2 ELSE note || ' / ' || $2 END
                 WHERE schedule_id = $3 AND status = 'booked'",
            )
            .bind(now_us).bind(format!("停诊 clinic cancelled: {reason}")).bind(schedule_id)
            .execute(&mut *tx).await?;
            sqlx::query(
                "UPDATE slots SET status = 'withdrawn' WHERE schedule_id = $1 AND id NOT IN (
                     SELECT slot_id FROM bookings WHERE schedule_id = $1 AND status = 'checked_in')",
            )
            .bind(schedule_id)
            .execute(&mut *tx).await?;
            stage_audit!(tx, &audit(&held));
            tx.commit().await?;
            Ok(held.into_iter().map(|(id, _)| id).collect())
        })
    }

    /// Slots held by more than one active booking, or marked free while one holds them
    /// — the guarantee the booking transaction keeps; always 0.
    pub async fn double_booked_slots(&self) -> Result<i64> {
        let (n,): (i64,) = on_read!(self, pool => {
            sqlx::query_as(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM (
                     SELECT b.slot_id FROM bookings b WHERE b.status IN ('booked', 'checked_in')
                     GROUP BY b.slot_id HAVING COUNT(*) > 1
                     UNION ALL
                     SELECT x.id FROM slots x WHERE x.status <> 'booked' AND EXISTS (
                         SELECT 1 FROM bookings b WHERE b.slot_id = x.id AND b.status IN ('booked', 'checked_in'))
                 ) AS broken",
            )
            .fetch_one(pool).await?
        });
        Ok(n)
    }

    /// The family doctor of the resident's active contract on `today`, if any.
    pub async fn contract_doctor(&self, resident_id: i64, today: Date) -> Result<Option<i64>> {
        let row: Option<(i64,)> = on_read!(self, pool => {
            sqlx::query_as(
                "SELECT t.doctor_staff_id FROM contracts c JOIN teams t ON t.id = c.team_id
                 WHERE c.resident_id = $1 AND c.status = 'active' AND c.start_on <= $2 AND c.end_on >= $2",
            )
            .bind(resident_id).bind(today)
            .fetch_optional(pool).await?
        });
        Ok(row.map(|(id,)| id))
    }

    /// A resident's bookings, newest first.
    pub async fn bookings_of_resident(
        &self,
        resident_id: i64,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<BookingRecord>> {
        let sql = format!(
            "SELECT {BOOKING_COLUMNS} {BOOKING_FROM} WHERE b.resident_id = $1 AND ($2 IS NULL OR b.id < $2)
             ORDER BY b.id DESC LIMIT $3"
        );
        let rows: Vec<BookingRecord> = on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(resident_id).bind(after).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?.iter().map(booking).collect::<Result<_>>()
        })?;
        Ok(Page::from_overfetch(rows, limit, |b| b.id))
    }
}
