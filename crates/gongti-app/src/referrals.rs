//! Two-way referral (双向转诊, DOMAIN.md §3): the one-click referral — from an alert, a
//! follow-up that called for referral, or the patient's page — that picks the
//! receiving department, books its reserved slot and sends a clinical summary, all in
//! one transaction; then the steps of the receiving and sending sides, each audited
//! and on the referral's timeline; and the inbox, sent and returning lists.

use gongti_core::access::BookingAsk;
use gongti_core::access::{Decision, PatientAction, may_book, may_run_clinic};
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::chronic::Disease;
use gongti_core::referral::{
    REFERRAL_TEXT_MAX_CHARS, ReferralStep, SLOT_SEARCH_DAYS, StepError, Urgency, department_for,
    disease_for_alert, propose, step, urgency_for,
};
use gongti_core::region::InstitutionId;
use gongti_core::resident::Problem;
use gongti_core::role::Role;
use gongti_core::scheduling::Pool;
use gongti_store::{
    BookOutcome, NewBooking, NewReferral, Page, ReferralBox, ReferralEventRecord, ReferralOutcome,
    ReferralRecord, ReferralStepWrite, StoreError,
};
use time::Duration;

use crate::scheduling::{booking_access_until_us, pools_for};
use crate::{App, AppError, AppResult, Ctx};

/// How many times a one-click referral looks again when its slot was taken meanwhile.
const BOOKING_ATTEMPTS: usize = 3;
/// Readings and follow-ups the clinical summary lists.
const SUMMARY_READINGS: u32 = 5;

/// What a referral starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferralSource {
    /// An alert raised by a home reading.
    Alert(i64),
    /// A follow-up whose rules called for (urgent) referral.
    Followup(i64),
    /// The patient's page: the doctor gives the programme and the reason.
    Manual,
}

/// A one-click referral as the edges ask for it.
#[derive(Debug, Clone)]
pub struct ReferRequest {
    pub resident_id: i64,
    pub source: ReferralSource,
    /// Required for a manual referral; otherwise taken from the source.
    pub disease: Option<Disease>,
    /// As asked; when absent, the source's own ([`urgency_for`]): an alert or a
    /// follow-up that called for urgent referral goes as an emergency.
    pub urgency: Option<Urgency>,
    /// The pool a routine referral books from: the family doctor's reserved slots
    /// (for their own contracted patients) or the hospital's public ones.
    pub via: Pool,
    /// The doctor's words; required for a manual referral.
    pub reason: Option<String>,
}

/// A referral with its timeline.
#[derive(Debug, Clone)]
pub struct ReferralView {
    pub referral: ReferralRecord,
    pub events: Vec<ReferralEventRecord>,
}

fn bp_text(bp: Option<gongti_core::chronic::Bp>) -> String {
    bp.map_or("—".to_owned(), |b| {
        format!("{}/{} mmHg", b.sbp_mmhg, b.dbp_mmhg)
    })
}

impl App {
    fn referral_entry(&self, ctx: &Ctx, action: &str, resident_id: Option<i64>) -> AuditEntry {
        let mut e = ctx
            .principal
            .audit(self.now_us(), action, "Referral", Outcome::Ok);
        e.request_id = ctx.request_id.clone();
        e.patient_id = resident_id;
        e
    }

    /// The clinical summary sent with a referral: diagnoses, the latest follow-ups and
    /// home readings with their trend, current medication, and why.
    async fn clinical_summary(
        &self,
        resident_id: i64,
        disease: Disease,
        reason: &str,
        rules: Option<&str>,
    ) -> AppResult<String> {
        let mut lines = Vec::new();
        let enrolments = self.store.enrolments_of_resident(resident_id).await?;
        let diagnoses: Vec<String> = enrolments
            .iter()
            .filter(|e| e.active)
            .map(|e| {
                format!(
                    "{} (ICD-10 {}, 确诊 {})",
                    e.disease.name_zh(),
                    e.icd10,
                    e.diagnosed_on
                )
            })
            .collect();
        lines.push(format!(
            "诊断 Diagnoses: {}",
            if diagnoses.is_empty() {
                "—".to_owned()
            } else {
                diagnoses.join("; ")
            }
        ));
        let followups = self
            .store
            .followups_of_resident(resident_id, Some(disease), None, SUMMARY_READINGS)
            .await?;
        let visits: Vec<String> = followups
            .items
            .iter()
            .map(|f| {
                let glucose = f
                    .fpg_centi_mmol
                    .map(|g| format!(", FPG {}.{:02} mmol/L", g / 100, g % 100))
                    .unwrap_or_default();
                format!(
                    "{} {} {}{glucose}{}",
                    f.visit_on,
                    f.method.name_zh(),
                    bp_text(f.bp),
                    f.classification
                        .map(|c| format!(", 分类 {}", c.number()))
                        .unwrap_or_default()
                )
            })
            .collect();
        lines.push(format!(
            "最近随访 Recent follow-ups: {}",
            if visits.is_empty() {
                "—".to_owned()
            } else {
                visits.join("; ")
            }
        ));
        let now_us = self.now_us();
        let readings = self
            .store
            .readings_of_resident(
                resident_id,
                now_us - 90 * 86_400 * 1_000_000,
                now_us + 1,
                SUMMARY_READINGS,
            )
            .await?;
        let home: Vec<String> = readings
            .iter()
            .map(|r| {
                let value = match (r.bp, r.glucose_centi_mmol) {
                    (Some(bp), _) => bp_text(Some(bp)),
                    (None, Some(g)) => format!("{}.{:02} mmol/L", g / 100, g % 100),
                    (None, None) => "—".to_owned(),
                };
                format!("{} {value}", crate::readings::local_day(r.taken_at_us))
            })
            .collect();
        let trend = {
            let sbp: Vec<i64> = readings
                .iter()
                .filter_map(|r| r.bp.map(|b| i64::from(b.sbp_mmhg)))
                .collect();
            match (sbp.first(), sbp.last()) {
                (Some(newest), Some(oldest)) if sbp.len() >= 2 => {
                    format!(" (收缩压趋势 SBP trend {:+} mmHg)", newest - oldest)
                }
                _ => String::new(),
            }
        };
        lines.push(format!(
            "家庭监测 Home readings (90 d): {}{trend}",
            if home.is_empty() {
                "—".to_owned()
            } else {
                home.join("; ")
            }
        ));
        let drugs: Vec<String> = followups
            .items
            .first()
            .map(|f| {
                f.drugs
                    .iter()
                    .map(|(name, dose)| format!("{name} {dose}"))
                    .collect()
            })
            .unwrap_or_default();
        lines.push(format!(
            "用药 Medication: {}",
            if drugs.is_empty() {
                "—".to_owned()
            } else {
                drugs.join("; ")
            }
        ));
        lines.push(format!("转诊原因 Reason: {reason}"));
        if let Some(rules) = rules {
            lines.push(format!("触发规则 Rules: {rules}"));
        }
        Ok(lines.join("\n"))
    }

    /// One-click referral: decides where, books the reserved slot (routine), creates
    /// the referral with its summary and opens the receiving hospital's access.
    pub async fn refer(&self, ctx: &Ctx, r: ReferRequest) -> AppResult<ReferralView> {
        let (view, mut entry) = self
            .reach(
                ctx,
                r.resident_id,
                PatientAction::Write,
                "referral.create",
                None,
            )
            .await?;
        entry.resource_type = "Referral".into();
        entry.resource_id = None;
        let Some(from) = ctx.principal.institution_id else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        let free_text = r.reason.as_deref().map(str::trim).filter(|t| !t.is_empty());
        if let Some(t) = free_text
            && t.chars().count() > REFERRAL_TEXT_MAX_CHARS
        {
            let error = AppError::invalid(
                "reason",
                Problem::TooLong {
                    max_chars: REFERRAL_TEXT_MAX_CHARS,
                },
            );
            return Err(self.refuse(entry, error).await);
        }
        // What the referral starts from decides the programme and the rules that fired.
        let (source_kind, source_id, disease, rules, default_reason, urgent) = match r.source {
            ReferralSource::Alert(id) => {
                let alert = match self.store.alert(id).await {
                    Ok(a) if a.resident_id == r.resident_id => a,
                    Ok(_) | Err(StoreError::NotFound) => {
                        let error = AppError::invalid("alert_id", Problem::NotAllowed);
                        return Err(self.refuse(entry, error).await);
                    }
                    Err(e) => return Err(e.into()),
                };
                let disease = disease_for_alert(&alert.code).or(r.disease);
                (
                    "alert",
                    Some(id),
                    disease,
                    Some(alert.code.clone()),
                    "家庭监测读数达到紧急转诊标准".to_owned(),
                    true,
                )
            }
            ReferralSource::Followup(id) => {
                let found = self
                    .store
                    .followups_of_resident(r.resident_id, None, None, 200)
                    .await?
                    .items
                    .into_iter()
                    .find(|f| f.id == id);
                let Some(f) = found.filter(|f| f.urgent_referral || f.refer) else {
                    let error = AppError::invalid("followup_id", Problem::NotAllowed);
                    return Err(self.refuse(entry, error).await);
                };
                (
                    "followup",
                    Some(id),
                    Some(f.disease),
                    Some(f.reasons.join(",")),
                    if f.urgent_referral {
                        "随访判定需紧急转诊".to_owned()
                    } else {
                        "随访判定建议转诊".to_owned()
                    },
                    f.urgent_referral,
                )
            }
            ReferralSource::Manual => {
                if free_text.is_none() {
                    return Err(self
                        .refuse(entry, AppError::invalid("reason", Problem::Required))
                        .await);
                }
                ("manual", None, r.disease, None, String::new(), false)
            }
        };
        let Some(disease) = disease else {
            return Err(self
                .refuse(entry, AppError::invalid("disease", Problem::Required))
                .await);
        };
        let reason = free_text.map_or(default_reason, str::to_owned);
        let urgency = urgency_for(urgent, r.urgency);
        let tied_to = self.store.institution(from).await?.upper_institution_id;
        let today = self.today();
        if urgency == Urgency::Routine {
            // The reserved pool is the family doctor's, for their own contracted
            // patients; the public pool is open to those caring for the patient.
            let contract_doctor = self.store.contract_doctor(r.resident_id, today).await?;
            let contracted = contract_doctor == Some(ctx.principal.staff_id);
            let ask = BookingAsk {
                via: r.via,
                hospital: InstitutionId(tied_to.unwrap_or(from)),
                contracted_with_actor: contracted,
                record: Decision::Allow(view.basis),
            };
            if !may_book(&ctx.principal.actor(), &ask) {
                let error = if r.via == Pool::Reserved
                    && ctx.principal.role == Role::FamilyDoctor
                    && contract_doctor.is_some()
                {
                    entry.detail = Some("reserved pool: contracted with another team".into());
                    AppError::Conflict("contracted_elsewhere")
                } else if r.via == Pool::Reserved && ctx.principal.role == Role::FamilyDoctor {
                    entry.detail =
                        Some("reserved pool: not contracted with the doctor's team".into());
                    AppError::Conflict("not_contracted")
                } else if r.via == Pool::Reserved
                    && may_book(
                        &ctx.principal.actor(),
                        &BookingAsk {
                            via: Pool::Public,
                            ..ask
                        },
                    )
                {
                    // A nurse or a public-health doctor of the team: the reserved pool
                    // is the family doctor's, the public one is theirs to book.
                    entry.detail = Some("reserved pool: the family doctor's".into());
                    AppError::Conflict("reserved_for_family_doctor")
                } else {
                    entry.detail = Some(format!("{} pool: may not book", r.via.code()));
                    AppError::Forbidden
                };
                return Err(self.refuse(entry, error).await);
            }
        }
        // Written once, when there is somewhere to send it.
        let mut summary: Option<String> = None;
        let mut outcome = None;
        for _ in 0..BOOKING_ATTEMPTS {
            let candidates = self
                .store
                .referral_candidates(
                    department_for(disease),
                    tied_to,
                    today,
                    today + Duration::days(SLOT_SEARCH_DAYS),
                    self.now_us(),
                    r.via,
                )
                .await?;
            let Some(chosen) = propose(&candidates, urgency) else {
                let code = match (urgency, r.via) {
                    (Urgency::Routine, Pool::Reserved) => "no_reserved_slot_left",
                    (Urgency::Routine, Pool::Public) => "no_slot_left",
                    (Urgency::Emergency, _) => "no_receiving_department",
                };
                return Err(self.refuse(entry, AppError::Conflict(code)).await);
            };
            let booking = match (urgency, chosen.earliest) {
                (Urgency::Routine, Some((schedule_id, _))) => {
                    let schedule = self.store.schedule(schedule_id).await?;
                    let day = schedule.day;
                    Some(NewBooking {
                        schedule_id,
                        slot_id: None,
                        pools: pools_for(r.via, &schedule, today),
                        via: r.via,
                        resident_id: r.resident_id,
                        booked_by_staff_id: Some(ctx.principal.staff_id),
                        booked_by_account_id: None,
                        note: Some("一键转诊 one-click referral".into()),
                        care_until_us: booking_access_until_us(day),
                        replaces: None,
                        now_us: self.now_us(),
                    })
                }
                _ => None,
            };
            let summary = match &summary {
                Some(s) => s.clone(),
                None => {
                    let s = self
                        .clinical_summary(r.resident_id, disease, &reason, rules.as_deref())
                        .await?;
                    summary.insert(s).clone()
                }
            };
            let new = NewReferral {
                resident_id: r.resident_id,
                disease,
                urgency,
                from_institution_id: from,
                from_staff_id: ctx.principal.staff_id,
                to_institution_id: chosen.institution_id,
                to_department_id: chosen.department_id,
                source_kind,
                source_id,
                reason: reason.clone(),
                rules: rules.clone(),
                summary,
                booking,
                now_us: self.now_us(),
            };
            let to = (chosen.institution_id, chosen.department_id);
            let audit = |&(id, booking): &(i64, Option<i64>)| {
                let mut e = entry.clone();
                e.resource_id = Some(id.to_string());
                e.detail = Some(format!(
                    "source={source_kind} urgency={} to={} department={} booking={}",
                    urgency.code(),
                    to.0,
                    to.1,
                    booking.map_or("none".to_owned(), |b| b.to_string())
                ));
                let mut records = vec![e];
                if let Some(b) = booking {
                    let mut e = self.booking_entry(ctx, "booking.create", Some(r.resident_id));
                    e.resource_id = Some(b.to_string());
                    e.detail = Some(format!("referral={id} via={}", r.via.code()));
                    records.push(e);
                }
                records
            };
            match self.store.create_referral(&new, &audit).await? {
                ReferralOutcome::Slot(BookOutcome::NoSlot) => continue,
                other => {
                    outcome = Some(other);
                    break;
                }
            }
        }
        let id = match outcome {
            Some(ReferralOutcome::Created(id)) => id,
            Some(ReferralOutcome::AlreadyOpen) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("referral_open"))
                    .await);
            }
            Some(ReferralOutcome::Slot(BookOutcome::PatientHasBooking)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("already_booked_that_day"))
                    .await);
            }
            _ => {
                let code = match r.via {
                    Pool::Reserved => "no_reserved_slot_left",
                    Pool::Public => "no_slot_left",
                };
                return Err(self.refuse(entry, AppError::Conflict(code)).await);
            }
        };
        self.audit.flush().await?;
        let referral = self.store.referral_fresh(id).await?;
        let events = self.store.referral_events(id).await?;
        Ok(ReferralView { referral, events })
    }

    /// Loads a referral and decides whether the actor may see or act on it: the
    /// receiving hospital's staff, or those caring for the patient at the sending side.
    async fn referral_for(
        &self,
        ctx: &Ctx,
        id: i64,
        action: &str,
        receiver_only: bool,
    ) -> AppResult<(ReferralRecord, AuditEntry)> {
        let mut entry = self.referral_entry(ctx, action, None);
        entry.resource_id = Some(id.to_string());
        let referral = match self.store.referral(id).await {
            Ok(r) => r,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        entry.patient_id = Some(referral.resident_id);
        let actor = ctx.principal.actor();
        let receiver = may_run_clinic(&actor, InstitutionId(referral.to_institution_id));
        let sender = !receiver_only
            && self
                .cares_from(ctx, referral.resident_id, referral.from_institution_id)
                .await?;
        if !receiver && !sender {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        Ok((referral, entry))
    }

    /// A referral with its timeline (audited).
    pub async fn read_referral(&self, ctx: &Ctx, id: i64) -> AppResult<ReferralView> {
        let (referral, entry) = self.referral_for(ctx, id, "referral.read", false).await?;
        self.audit.record(vec![entry]).await?;
        let events = self.store.referral_events(id).await?;
        Ok(ReferralView { referral, events })
    }

    /// Takes a step of the referral: the receiving side accepts, rejects with a reason,
    /// records the arrival and the visit, and refers the patient back with a plan; the
    /// sending side may cancel before the patient arrives.
    pub async fn referral_step(
        &self,
        ctx: &Ctx,
        id: i64,
        s: ReferralStep,
    ) -> AppResult<ReferralView> {
        let action = format!("referral.{}", s.code());
        let (referral, entry) = self.referral_for(ctx, id, &action, s.by_receiver()).await?;
        if s.by_receiver()
            && !may_run_clinic(
                &ctx.principal.actor(),
                InstitutionId(referral.to_institution_id),
            )
        {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let today = self.today();
        let (to, effects) = match step(referral.status, &s, today) {
            Ok(done) => done,
            Err(StepError::NotNow(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("referral_not_open_for_step"))
                    .await);
            }
            Err(StepError::TextRequired) => {
                let field = if matches!(s, ReferralStep::Reject { .. }) {
                    "reason"
                } else {
                    "plan"
                };
                return Err(self
                    .refuse(entry, AppError::invalid(field, Problem::Required))
                    .await);
            }
            Err(StepError::TextTooLong) => {
                let field = if matches!(s, ReferralStep::Reject { .. }) {
                    "reason"
                } else {
                    "plan"
                };
                let error = AppError::invalid(
                    field,
                    Problem::TooLong {
                        max_chars: REFERRAL_TEXT_MAX_CHARS,
                    },
                );
                return Err(self.refuse(entry, error).await);
            }
        };
        let note = match &s {
            ReferralStep::Reject { reason } => Some(reason.trim().to_owned()),
            ReferralStep::ReturnDown { plan } => Some(plan.trim().to_owned()),
            _ => None,
        };
        let task_enrolment_id = match effects.followup_due_on {
            Some(_) => match self
                .store
                .active_enrolment(referral.resident_id, referral.disease)
                .await
            {
                Ok(e) => Some(e.id),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let write = ReferralStepWrite {
            id,
            from: referral.status,
            to,
            step: s.code(),
            staff_id: ctx.principal.staff_id,
            institution_id: ctx.principal.institution_id,
            note,
            effects,
            task_enrolment_id,
            today,
            now_us: self.now_us(),
        };
        let mut done = entry.clone();
        done.detail = Some(format!("{} -> {}", referral.status.code(), to.code()));
        match self.store.apply_referral_step(&write, &[done]).await {
            Ok(()) => {}
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("referral_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.flush().await?;
        let referral = self.store.referral_fresh(id).await?;
        let events = self.store.referral_events(id).await?;
        Ok(ReferralView { referral, events })
    }

    /// The actor's institution's referrals: `inbox` (received, under way), `sent`, or
    /// `returning` (sent and referred back down). One audit record per page.
    pub async fn referral_box(
        &self,
        ctx: &Ctx,
        which: &str,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<ReferralRecord>> {
        let (entry, institution_id) = self
            .worklist_scope(ctx, &format!("referral.{which}"), "Referral")
            .await?;
        let b = match which {
            // A department's staff see their department's inbox; the rest of the
            // hospital (the desk, the administrator) sees all of it.
            "inbox" => ReferralBox::Inbox {
                institution_id,
                department_id: self
                    .store
                    .staff_member(ctx.principal.staff_id)
                    .await?
                    .department_id,
            },
            "sent" => ReferralBox::Sent { institution_id },
            "returning" => ReferralBox::Returning { institution_id },
            _ => {
                return Err(self
                    .refuse(entry, AppError::invalid("box", Problem::UnknownCode))
                    .await);
            }
        };
        let page = self.store.referrals(b, after, limit).await?;
        self.listed(entry, page.items.len()).await?;
        Ok(page)
    }

    /// A resident's referrals, newest first, for those who may read the record.
    pub async fn resident_referrals(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<ReferralRecord>> {
        let (_, mut entry) = self
            .reach(ctx, resident_id, PatientAction::Read, "referral.list", None)
            .await?;
        entry.resource_type = "Referral".into();
        let page = self
            .store
            .referrals(ReferralBox::Resident { resident_id }, after, limit)
            .await?;
        self.audit.record(vec![entry]).await?;
        Ok(page)
    }
}
