//! Schedules and bookings at upper hospitals (DOMAIN.md §3): publishing with the
//! reserved share for family doctors, capacity changes, booking from either pool,
//! reschedule, cancel, check-in and no-show — each allowed by `gongti_core::access`,
//! decided by `gongti_core::scheduling`, written in one transaction and audited.

use gongti_core::access::{
    BookingAsk, Decision, PatientAction, decide_patient, may_book, may_manage_schedules,
    may_run_clinic,
};
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::region::InstitutionId;
use gongti_core::resident::{FieldProblem, Problem};
use gongti_core::scheduling::{
    BookingAction, BookingError, CapacityError, Pool, RELEASE_DAYS_MAX, RESERVED_PERMILLE_MAX,
    ReserveParams, ScheduleDraft, Session, SlotWhen, may_take, open_to_public, plan_capacity,
    plan_schedule, transition,
};
use gongti_store::{
    BookOutcome, BookingRecord, NewBooking, NewSchedule, Page, ScheduleFilter, ScheduleRecord,
    SlotRecord, StoreError,
};
use time::{Date, Duration, PrimitiveDateTime, Time};

use crate::{App, AppError, AppResult, Ctx, DISPLAY_OFFSET, unix_us};

/// Days after the visit day that a booking keeps the hospital's access to the record.
pub const BOOKING_ACCESS_DAYS: i64 = 7;
/// Longest clinic name and booking note, in characters.
pub const CLINIC_NAME_MAX_CHARS: usize = 50;
pub const BOOKING_NOTE_MAX_CHARS: usize = 500;
/// Widest window of a schedule list, in days.
pub const SCHEDULE_WINDOW_MAX_DAYS: i64 = 92;

/// A schedule as an institution administrator publishes it.
#[derive(Debug, Clone)]
pub struct PublishSchedule {
    pub department_id: i64,
    pub doctor_staff_id: Option<i64>,
    pub clinic_name: Option<String>,
    pub day: Date,
    pub session: Session,
    pub starts: Option<Time>,
    pub ends: Option<Time>,
    pub slot_count: u32,
}

/// A booking as the edges ask for it.
#[derive(Debug, Clone)]
pub struct BookRequest {
    pub schedule_id: i64,
    /// A particular slot; the earliest free one of the pool when absent.
    pub slot_id: Option<i64>,
    pub resident_id: i64,
    pub via: Pool,
    pub note: Option<String>,
}

/// A slot with whether the public may book it today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotView {
    pub slot: SlotRecord,
    pub open_to_public: bool,
}

/// The instant a local day ends (the next midnight in the region).
pub(crate) fn end_of_local_day_us(day: Date) -> i64 {
    let next = day + Duration::days(1);
    unix_us(next.with_time(Time::MIDNIGHT).assume_offset(DISPLAY_OFFSET))
}

/// A local time in the region as µs since the epoch.
pub(crate) fn local_us(t: PrimitiveDateTime) -> i64 {
    unix_us(t.assume_offset(DISPLAY_OFFSET))
}

fn text_problem(field: &'static str, text: Option<&str>, max: usize) -> Option<FieldProblem> {
    let text = text?;
    if text.trim().is_empty() {
        Some(FieldProblem::new(field, Problem::Required))
    } else if text.chars().count() > max {
        Some(FieldProblem::new(
            field,
            Problem::TooLong { max_chars: max },
        ))
    } else if text.chars().any(char::is_control) {
        Some(FieldProblem::new(field, Problem::ControlCharacters))
    } else {
        None
    }
}

/// The pools a booking through `via` may take slots of today (DOMAIN.md §3 release).
pub(crate) fn pools_for(via: Pool, schedule: &ScheduleRecord, today: Date) -> Vec<Pool> {
    [Pool::Reserved, Pool::Public]
        .into_iter()
        .filter(|p| may_take(via, *p, schedule.day, today, &schedule.params))
        .collect()
}

/// The instant a booking for a visit on `day` stops opening the patient's record.
pub(crate) fn booking_access_until_us(day: Date) -> i64 {
    end_of_local_day_us(day + Duration::days(BOOKING_ACCESS_DAYS))
}

/// The booking made, or the conflict to answer when no slot was taken.
pub(crate) fn booked_or_conflict(
    outcome: BookOutcome,
    slot_id: Option<i64>,
    via: Pool,
) -> Result<i64, &'static str> {
    match outcome {
        BookOutcome::Booked(id) => Ok(id),
        BookOutcome::NoSlot => Err(match (slot_id, via) {
            (Some(_), _) => "slot_taken",
            (None, Pool::Reserved) => "no_reserved_slot_left",
            (None, Pool::Public) => "no_slot_left",
        }),
        BookOutcome::PatientHasBooking => Err("already_booked_that_day"),
        BookOutcome::ReplacedChanged => Err("booking_changed"),
    }
}

impl App {
    fn schedule_entry(&self, ctx: &Ctx, action: &str, id: Option<i64>) -> AuditEntry {
        let mut e = ctx
            .principal
            .audit(self.now_us(), action, "Schedule", Outcome::Ok);
        e.request_id = ctx.request_id.clone();
        e.resource_id = id.map(|i| i.to_string());
        e
    }

    /// The reserve policy in force for a department (its own, its hospital's, or the
    /// defaults of DOMAIN.md §3).
    pub async fn reserve_params(
        &self,
        institution_id: i64,
        department_id: i64,
    ) -> AppResult<ReserveParams> {
        Ok(self
            .store
            .reserve_policy(institution_id, department_id)
            .await?
            .unwrap_or_default())
    }

    /// Sets the reserved share and release window of the actor's hospital, or of one
    /// of its departments.
    pub async fn set_reserve_policy(
        &self,
        ctx: &Ctx,
        department_id: Option<i64>,
        params: ReserveParams,
    ) -> AppResult<()> {
        let mut entry = self.schedule_entry(ctx, "schedule.policy", None);
        let Some(hospital) = ctx.principal.institution_id else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        if !may_manage_schedules(&ctx.principal.actor(), InstitutionId(hospital)) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let mut problems = Vec::new();
        if params.reserved_permille > RESERVED_PERMILLE_MAX {
            problems.push(FieldProblem::new(
                "reserved_percent",
                Problem::OutOfRange {
                    min: "0",
                    max: "100",
                },
            ));
        }
        if params.release_days > RELEASE_DAYS_MAX {
            problems.push(FieldProblem::new(
                "release_days",
                Problem::OutOfRange {
                    min: "0",
                    max: "60",
                },
            ));
        }
        if let Some(d) = department_id
            && !self.department_of(hospital, d).await?
        {
            problems.push(FieldProblem::new("department_id", Problem::NotAllowed));
        }
        if !problems.is_empty() {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        }
        entry.detail = Some(format!(
            "department={} reserved_permille={} release_days={}",
            department_id.map_or("all".to_owned(), |d| d.to_string()),
            params.reserved_permille,
            params.release_days
        ));
        self.store
            .set_reserve_policy(
                hospital,
                department_id,
                params,
                ctx.principal.staff_id,
                self.now_us(),
                &[entry],
            )
            .await?;
        self.audit.flush().await
    }

    async fn department_of(&self, institution_id: i64, department_id: i64) -> AppResult<bool> {
        Ok(self
            .store
            .departments(institution_id)
            .await?
            .iter()
            .any(|d| d.id == department_id))
    }

    /// Publishes a schedule at the actor's hospital: slots laid out over the session,
    /// the reserved share held back by the policy in force.
    pub async fn publish_schedule(
        &self,
        ctx: &Ctx,
        p: PublishSchedule,
    ) -> AppResult<ScheduleRecord> {
        let mut entry = self.schedule_entry(ctx, "schedule.publish", None);
        let Some(hospital) = ctx.principal.institution_id else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        if !may_manage_schedules(&ctx.principal.actor(), InstitutionId(hospital)) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let mut problems = Vec::new();
        if !self.department_of(hospital, p.department_id).await? {
            problems.push(FieldProblem::new("department_id", Problem::NotAllowed));
        }
        if let Some(doctor) = p.doctor_staff_id {
            let ok = match self.store.staff_member(doctor).await {
                Ok(s) => s.institution_id == Some(hospital) && s.role.is_clinical(),
                Err(StoreError::NotFound) => false,
                Err(e) => return Err(e.into()),
            };
            if !ok {
                problems.push(FieldProblem::new("doctor_staff_id", Problem::NotAllowed));
            }
        }
        problems.extend(text_problem(
            "clinic_name",
            p.clinic_name.as_deref(),
            CLINIC_NAME_MAX_CHARS,
        ));
        if p.doctor_staff_id.is_none() && p.clinic_name.is_none() {
            problems.push(FieldProblem::new("clinic_name", Problem::Required));
        }
        let params = self.reserve_params(hospital, p.department_id).await?;
        let draft = ScheduleDraft {
            day: p.day,
            session: p.session,
            starts: p.starts,
            ends: p.ends,
            slot_count: p.slot_count,
        };
        let planned = match plan_schedule(&draft, self.today(), &params) {
            Ok(slots) if problems.is_empty() => slots,
            Ok(_) => return Err(self.refuse(entry, AppError::Invalid(problems)).await),
            Err(more) => {
                problems.extend(more);
                return Err(self.refuse(entry, AppError::Invalid(problems)).await);
            }
        };
        let new = NewSchedule {
            institution_id: hospital,
            department_id: p.department_id,
            doctor_staff_id: p.doctor_staff_id,
            clinic_name: p.clinic_name.map(|c| c.trim().to_owned()),
            day: p.day,
            session: p.session,
            params,
            slots: planned
                .iter()
                .map(|s| (s.seq, local_us(s.starts), local_us(s.ends), s.pool))
                .collect(),
            created_by_staff_id: ctx.principal.staff_id,
        };
        entry.detail = Some(format!(
            "slots={} reserved={}",
            planned.len(),
            planned.iter().filter(|s| s.pool == Pool::Reserved).count()
        ));
        let id = self
            .store
            .insert_schedule(&new, self.now_us(), &[entry])
            .await?;
        self.audit.flush().await?;
        Ok(self.store.schedule(id).await?)
    }

    /// Published schedules in a window of days (any signed-in staff: no patient data).
    pub async fn schedules(
        &self,
        filter: ScheduleFilter,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<ScheduleRecord>> {
        let mut problems = Vec::new();
        if filter.to_day < filter.from_day {
            problems.push(FieldProblem::new(
                "to",
                Problem::Inconsistent { with: "from" },
            ));
        } else if (filter.to_day - filter.from_day).whole_days() > SCHEDULE_WINDOW_MAX_DAYS {
            problems.push(FieldProblem::new(
                "to",
                Problem::OutOfRange {
                    min: "from",
                    max: "from + 92 days",
                },
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        Ok(self.store.schedules(filter, after, limit).await?)
    }

    /// Published schedules over any window (FHIR search: keyset-paged, so a wide
    /// window costs a page, not the window).
    pub async fn schedule_search(
        &self,
        filter: ScheduleFilter,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<ScheduleRecord>> {
        Ok(self.store.schedules(filter, after, limit).await?)
    }

    pub async fn schedule_count(&self, filter: &ScheduleFilter) -> AppResult<i64> {
        Ok(self.store.schedule_count(filter).await?)
    }

    pub async fn schedule(&self, id: i64) -> AppResult<ScheduleRecord> {
        Ok(self.store.schedule(id).await?)
    }

    /// A slot, as its schedule lists it.
    pub async fn slot(&self, id: i64) -> AppResult<SlotView> {
        let schedule = self.store.slot_schedule(id).await?;
        self.schedule_slots(schedule)
            .await?
            .into_iter()
            .find(|v| v.slot.id == id)
            .ok_or(AppError::NotFound)
    }

    /// A schedule's live slots, each with whether the public may book it today.
    pub async fn schedule_slots(&self, id: i64) -> AppResult<Vec<SlotView>> {
        let schedule = self.store.schedule(id).await?;
        let today = self.today();
        Ok(self
            .store
            .slots_of(id)
            .await?
            .into_iter()
            .filter(|s| s.status != "withdrawn")
            .map(|slot| SlotView {
                open_to_public: open_to_public(slot.pool, schedule.day, today, &schedule.params),
                slot,
            })
            .collect())
    }

    /// Changes a published schedule to `slot_count` slots without dropping anyone.
    pub async fn change_capacity(
        &self,
        ctx: &Ctx,
        schedule_id: i64,
        slot_count: u32,
    ) -> AppResult<ScheduleRecord> {
        let mut entry = self.schedule_entry(ctx, "schedule.capacity", Some(schedule_id));
        let schedule = match self.store.schedule(schedule_id).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        if !may_manage_schedules(
            &ctx.principal.actor(),
            InstitutionId(schedule.institution_id),
        ) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        if schedule.cancelled || schedule.day < self.today() {
            return Err(self
                .refuse(entry, AppError::Conflict("schedule_closed"))
                .await);
        }
        let (live, next_seq) = self.store.capacity_state(schedule_id).await?;
        let plan = match plan_capacity(&live, next_seq, slot_count, &schedule.params) {
            Ok(plan) => plan,
            Err(CapacityError::OutOfRange) => {
                let error = AppError::Invalid(vec![FieldProblem::new(
                    "slot_count",
                    Problem::OutOfRange {
                        min: "1",
                        max: "200",
                    },
                )]);
                return Err(self.refuse(entry, error).await);
            }
            Err(e @ CapacityError::BelowBookings { .. }) => {
                entry.detail = Some(e.to_string());
                return Err(self
                    .refuse(entry, AppError::Conflict("capacity_below_bookings"))
                    .await);
            }
        };
        // New slots follow the last live one, at the length of the first.
        let slots = self.store.slots_of(schedule_id).await?;
        let length_us = slots
            .first()
            .map_or(10 * 60 * 1_000_000, |s| s.ends_at_us - s.starts_at_us);
        let last_end = slots
            .iter()
            .filter(|s| s.status != "withdrawn")
            .map(|s| s.ends_at_us)
            .max()
            .unwrap_or_else(|| {
                local_us(PrimitiveDateTime::new(
                    schedule.day,
                    schedule.session.default_hours().0,
                ))
            });
        let appended: Vec<(u32, i64, i64, Pool)> = plan
            .append
            .iter()
            .enumerate()
            .map(|(i, (seq, pool))| {
                let starts = last_end + length_us * i as i64;
                (*seq, starts, starts + length_us, *pool)
            })
            .collect();
        let mut done = entry.clone();
        done.detail = Some(format!(
            "slots {} -> {slot_count}: withdrawn {}, added {}, moved {}",
            live.len(),
            plan.withdraw.len(),
            plan.append.len(),
            plan.repool.len()
        ));
        match self
            .store
            .apply_capacity(schedule_id, &plan, &appended, self.now_us(), &[done])
            .await
        {
            Ok(()) => {}
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("schedule_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.flush().await?;
        Ok(self.store.schedule(schedule_id).await?)
    }

    /// Cancels a clinic (停诊) with a reason: every patient still booked is cancelled
    /// with it — each on their own audit trail — and returned, so that the hospital can
    /// reach them; referrals that booked a slot are told on their timeline.
    pub async fn cancel_schedule(
        &self,
        ctx: &Ctx,
        schedule_id: i64,
        reason: &str,
    ) -> AppResult<Vec<BookingRecord>> {
        let entry = self.schedule_entry(ctx, "schedule.cancel", Some(schedule_id));
        let schedule = match self.store.schedule(schedule_id).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        if !may_manage_schedules(
            &ctx.principal.actor(),
            InstitutionId(schedule.institution_id),
        ) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let reason = reason.trim();
        if let Some(problem) = text_problem("reason", Some(reason), CLINIC_NAME_MAX_CHARS * 4) {
            return Err(self.refuse(entry, AppError::Invalid(vec![problem])).await);
        }
        if schedule.cancelled || schedule.day < self.today() {
            return Err(self
                .refuse(entry, AppError::Conflict("schedule_closed"))
                .await);
        }
        let audit = |held: &[(i64, i64)]| {
            let mut records: Vec<AuditEntry> = held
                .iter()
                .map(|(booking, resident)| {
                    let mut e = self.booking_entry(ctx, "booking.cancel", Some(*resident));
                    e.resource_id = Some(booking.to_string());
                    e.detail = Some(format!("clinic cancelled: schedule={schedule_id}"));
                    e
                })
                .collect();
            let mut e = entry.clone();
            e.reason = Some(reason.to_owned());
            e.detail = Some(format!("{} bookings cancelled", held.len()));
            records.push(e);
            records
        };
        let cancelled = match self
            .store
            .cancel_schedule(
                schedule_id,
                reason,
                ctx.principal.staff_id,
                self.now_us(),
                &audit,
            )
            .await
        {
            Ok(ids) => ids,
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("schedule_closed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        let mut bookings = Vec::with_capacity(cancelled.len());
        for id in cancelled {
            bookings.push(self.store.booking_fresh(id).await?);
        }
        Ok(bookings)
    }

    /// What the actor may do with a patient's record, without refusing: booking rules
    /// weigh it with other facts. `NotFound` when there is no such resident.
    async fn record_decision(&self, ctx: &Ctx, resident_id: i64) -> AppResult<Decision> {
        let (record, care) = self
            .store
            .resident_with_care(resident_id, self.now_us())
            .await?;
        let place = Self::place_of(&record, care)?;
        Ok(decide_patient(
            &ctx.principal.actor(),
            PatientAction::Write,
            &place,
            None,
        ))
    }

    pub(crate) fn booking_entry(
        &self,
        ctx: &Ctx,
        action: &str,
        resident_id: Option<i64>,
    ) -> AuditEntry {
        let mut e = ctx
            .principal
            .audit(self.now_us(), action, "Booking", Outcome::Ok);
        e.request_id = ctx.request_id.clone();
        e.patient_id = resident_id;
        e
    }

    /// Books a slot for a patient: the reserved pool for a family doctor's own
    /// contracted patient, the public pool for carers and the hospital's desk. With
    /// `replaces`, the old booking is cancelled in the same transaction (reschedule).
    pub async fn book(&self, ctx: &Ctx, r: BookRequest) -> AppResult<BookingRecord> {
        self.book_replacing(ctx, r, None).await
    }

    async fn book_replacing(
        &self,
        ctx: &Ctx,
        r: BookRequest,
        replaces: Option<i64>,
    ) -> AppResult<BookingRecord> {
        let action = if replaces.is_some() {
            "booking.reschedule"
        } else {
            "booking.create"
        };
        let mut entry = self.booking_entry(ctx, action, Some(r.resident_id));
        let record = match self.record_decision(ctx, r.resident_id).await {
            Ok(d) => d,
            Err(AppError::NotFound) => {
                entry.patient_id = None;
                return Err(self.refuse(entry, AppError::NotFound).await);
            }
            Err(e) => return Err(e),
        };
        let schedule = match self.store.schedule(r.schedule_id).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => {
                let error =
                    AppError::Invalid(vec![FieldProblem::new("schedule_id", Problem::NotAllowed)]);
                return Err(self.refuse(entry, error).await);
            }
            Err(e) => return Err(e.into()),
        };
        let contracted_with_actor = r.via == Pool::Reserved
            && self
                .store
                .contract_doctor(r.resident_id, self.today())
                .await?
                == Some(ctx.principal.staff_id);
        let ask = BookingAsk {
            via: r.via,
            hospital: InstitutionId(schedule.institution_id),
            contracted_with_actor,
            record,
        };
        if !may_book(&ctx.principal.actor(), &ask) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        if let Some(problem) = text_problem("note", r.note.as_deref(), BOOKING_NOTE_MAX_CHARS) {
            return Err(self.refuse(entry, AppError::Invalid(vec![problem])).await);
        }
        let today = self.today();
        if schedule.cancelled || schedule.day < today {
            return Err(self
                .refuse(entry, AppError::Conflict("schedule_closed"))
                .await);
        }
        let new = NewBooking {
            schedule_id: schedule.id,
            slot_id: r.slot_id,
            pools: pools_for(r.via, &schedule, today),
            via: r.via,
            resident_id: r.resident_id,
            booked_by_staff_id: Some(ctx.principal.staff_id),
            booked_by_account_id: None,
            note: r.note.map(|n| n.trim().to_owned()),
            care_until_us: booking_access_until_us(schedule.day),
            replaces,
            now_us: self.now_us(),
        };
        let mut done = entry.clone();
        done.detail = Some(format!(
            "schedule={} via={}{}",
            schedule.id,
            r.via.code(),
            replaces.map_or(String::new(), |old| format!(" replaces={old}"))
        ));
        let booked = self.store.book(&new, &[done]).await?;
        let id = match booked_or_conflict(booked, r.slot_id, r.via) {
            Ok(id) => id,
            Err(code) => return Err(self.refuse(entry, AppError::Conflict(code)).await),
        };
        self.audit.flush().await?;
        Ok(self.store.booking_fresh(id).await?)
    }

    /// Loads a booking for a change and decides whether the actor may make it:
    /// the hospital's staff always; the patient's carers for cancel and reschedule.
    async fn booking_for_change(
        &self,
        ctx: &Ctx,
        id: i64,
        action: &str,
        clinic_only: bool,
    ) -> AppResult<(BookingRecord, AuditEntry)> {
        let mut entry = self.booking_entry(ctx, action, None);
        entry.resource_id = Some(id.to_string());
        let booking = match self.store.booking(id).await {
            Ok(b) => b,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        entry.patient_id = Some(booking.resident_id);
        let actor = ctx.principal.actor();
        let allowed = may_run_clinic(&actor, InstitutionId(booking.institution_id))
            || (!clinic_only
                && matches!(
                    self.record_decision(ctx, booking.resident_id).await?,
                    Decision::Allow(
                        gongti_core::access::Basis::HomeInstitution
                            | gongti_core::access::Basis::CareRelationship
                    )
                ));
        if !allowed {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        Ok((booking, entry))
    }

    /// Cancels a booking, checks the patient in, or marks a no-show.
    pub async fn change_booking(
        &self,
        ctx: &Ctx,
        id: i64,
        action: BookingAction,
    ) -> AppResult<BookingRecord> {
        let (audit_action, clinic_only) = match action {
            BookingAction::Cancel => ("booking.cancel", false),
            BookingAction::CheckIn => ("booking.check_in", true),
            BookingAction::NoShow => ("booking.no_show", true),
        };
        let (booking, entry) = self
            .booking_for_change(ctx, id, audit_action, clinic_only)
            .await?;
        let when = SlotWhen {
            starts_at_us: booking.starts_at_us,
            ends_at_us: booking.ends_at_us,
            day: booking.day,
        };
        let to = match transition(booking.status, action, when, self.now_us(), self.today()) {
            Ok(to) => to,
            Err(e) => {
                let code = match e {
                    BookingError::NotBooked(_) => "booking_not_open",
                    BookingError::TooEarly => "too_early",
                    BookingError::TooLate => "too_late",
                };
                return Err(self.refuse(entry, AppError::Conflict(code)).await);
            }
        };
        match self
            .store
            .change_booking(
                id,
                booking.status,
                to,
                self.now_us(),
                std::slice::from_ref(&entry),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("booking_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.flush().await?;
        Ok(self.store.booking_fresh(id).await?)
    }

    /// Moves a booking to another slot (of any schedule) in one transaction: the new
    /// slot is taken through the same pool, and the old one freed.
    pub async fn reschedule(
        &self,
        ctx: &Ctx,
        id: i64,
        schedule_id: i64,
        slot_id: Option<i64>,
    ) -> AppResult<BookingRecord> {
        let (booking, entry) = self
            .booking_for_change(ctx, id, "booking.reschedule", false)
            .await?;
        let when = SlotWhen {
            starts_at_us: booking.starts_at_us,
            ends_at_us: booking.ends_at_us,
            day: booking.day,
        };
        if let Err(e) = transition(
            booking.status,
            BookingAction::Cancel,
            when,
            self.now_us(),
            self.today(),
        ) {
            let code = match e {
                BookingError::NotBooked(_) => "booking_not_open",
                BookingError::TooEarly | BookingError::TooLate => "too_late",
            };
            return Err(self.refuse(entry, AppError::Conflict(code)).await);
        }
        let request = BookRequest {
            schedule_id,
            slot_id,
            resident_id: booking.resident_id,
            via: booking.pool,
            note: booking.note.clone(),
        };
        self.book_replacing(ctx, request, Some(id)).await
    }

    /// A schedule's bookings with the patients' names, for the hospital's staff; one
    /// audit record for the list.
    pub async fn schedule_bookings(
        &self,
        ctx: &Ctx,
        schedule_id: i64,
    ) -> AppResult<Vec<BookingRecord>> {
        let entry = self.schedule_entry(ctx, "schedule.bookings", Some(schedule_id));
        let schedule = match self.store.schedule(schedule_id).await {
            Ok(s) => s,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        if !may_run_clinic(
            &ctx.principal.actor(),
            InstitutionId(schedule.institution_id),
        ) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let bookings = self.store.bookings_of_schedule(schedule_id).await?;
        self.listed(entry, bookings.len()).await?;
        Ok(bookings)
    }

    /// A resident's bookings, newest first, for those who may read the record.
    pub async fn resident_bookings(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<BookingRecord>> {
        let (_, mut entry) = self
            .reach(ctx, resident_id, PatientAction::Read, "booking.list", None)
            .await?;
        entry.resource_type = "Booking".into();
        let page = self
            .store
            .bookings_of_resident(resident_id, after, limit)
            .await?;
        self.audit.record(vec![entry]).await?;
        Ok(page)
    }
}
