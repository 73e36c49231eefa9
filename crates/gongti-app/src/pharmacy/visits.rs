//! Online repeat visits (互联网复诊, DOMAIN.md §4): the resident asks on their phone —
//! their family doctor's team or the internet hospital — about one disease, and sees at
//! once whether the record makes it a repeat visit; a doctor who opened the online
//! clinic (licensed, with the years, their password re-entered as the real-name check)
//! takes it from the queue, messages, may accept an uploaded document as the offline
//! diagnosis, and prescribes in the visit (the prescription's transaction ends it) or
//! ends it with "go to a clinic" and a reason. Every read and step is audited with
//! the patient (`online_visit.*`, resource `OnlineVisit`).

use gongti_core::access::may_prescribe;
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::chronic::Disease;
use gongti_core::pharmacy::visit::{
    BasisKind, ClinicRefusal, Destination, Eligibility, EndReason, ImageDraft, OfflineDiagnosis,
    Side, VisitRefusal, VisitStatus, VisitStep, disease_name_zh, eligibility, image_type,
    keep_until, long_weeks_allowed, may_open_clinic, take, validate_ending, validate_message,
    validate_request,
};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_core::region::InstitutionKind;
use gongti_store::{
    AcceptedDocument, InstitutionFilter, LongStep, MessageRecord, NewImage, NewMessage, NewVisit,
    StoreError, VisitChange, VisitRecord,
};
use sha2::{Digest, Sha256};

use crate::patients::PatientCtx;
use crate::readings::local_day;
use crate::{App, AppError, AppResult, Ctx};

/// Visits the phone lists (the newest), and a queue shows at a time.
pub const VISITS_SHOWN: u32 = 20;
pub const QUEUE_SHOWN: u32 = 50;

const RESOURCE: &str = "OnlineVisit";

/// A place the resident may ask: whom, the institution and its name (and the team).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub destination: Destination,
    pub institution_id: i64,
    pub name: String,
    pub team_id: Option<i64>,
}

/// What the phone's form offers: the diseases on the record with their eligibility,
/// and the places to ask.
#[derive(Debug, Clone)]
pub struct VisitOptions {
    pub diseases: Vec<(String, Eligibility)>,
    pub places: Vec<Place>,
}

/// A request as the resident sends it.
#[derive(Debug, Clone)]
pub struct VisitRequest {
    /// An ICD-10 code from the options; `None`: another disease (a document needed).
    pub disease_icd10: Option<String>,
    pub destination: Destination,
    pub complaint: String,
    pub images: Vec<ImageDraft>,
}

/// A visit with its messages and what its record holds.
#[derive(Debug, Clone)]
pub struct VisitView {
    pub record: VisitRecord,
    pub messages: Vec<MessageRecord>,
    /// The offline diagnoses on file for the resident.
    pub on_file: Vec<OfflineDiagnosis>,
    pub eligibility: Eligibility,
    /// The steps the viewer may take now.
    pub may: Vec<VisitStep>,
}

/// The doctor's online clinic: open until when, the visits waiting at their
/// institution (and how many in all), the ones they hold.
#[derive(Debug, Clone)]
pub struct ClinicView {
    pub open_until_us: Option<i64>,
    pub waiting: Vec<VisitRecord>,
    pub waiting_count: i64,
    pub held: Vec<VisitRecord>,
}

fn new_images(images: &[ImageDraft]) -> Vec<NewImage> {
    images
        .iter()
        .filter_map(|i| {
            Some(NewImage {
                content_type: image_type(&i.bytes)?,
                sha256: Sha256::digest(&i.bytes).into(),
                bytes: i.bytes.clone(),
            })
        })
        .collect()
}

fn refusal_error(r: VisitRefusal) -> AppError {
    match r {
        VisitRefusal::NotYours => AppError::Forbidden,
        VisitRefusal::NotNow(_) => AppError::Conflict("online_visit_not_open_for_step"),
    }
}

impl App {
    /// A visit's guarded write, answered: a visit that moved meanwhile is refused
    /// (audited on `entry`) as changed; a done one has its audit record flushed.
    async fn visit_written<T>(
        &self,
        written: gongti_store::Result<T>,
        entry: AuditEntry,
    ) -> AppResult<()> {
        match written {
            Ok(_) => {}
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("online_visit_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.flush().await?;
        Ok(())
    }

    fn visit_entry(&self, ctx: &Ctx, action: &str, outcome: Outcome) -> AuditEntry {
        let mut e = ctx
            .principal
            .audit(self.now_us(), action, RESOURCE, outcome);
        e.request_id = ctx.request_id.clone();
        e
    }

    /// The offline diagnoses on file: enrolments diagnosed in person, referrals the
    /// hospital returned with a plan, documents doctors accepted.
    pub(crate) async fn offline_diagnoses(
        &self,
        resident_id: i64,
    ) -> AppResult<Vec<OfflineDiagnosis>> {
        let mut out = Vec::new();
        for e in self.store.enrolments_of_resident(resident_id).await? {
            if !e.diagnosed_offline {
                continue;
            }
            let at = e.diagnosing_institution_id.unwrap_or(e.institution_id);
            out.push(OfflineDiagnosis {
                icd10: e.icd10.clone(),
                kind: BasisKind::Enrolment,
                institution: self.store.institution(at).await?.name,
                on: e.diagnosed_on,
            });
        }
        let (documents, returns) = self.store.offline_diagnoses_on_file(resident_id).await?;
        for (disease, d) in returns {
            if let Some(disease) = Disease::parse(&disease) {
                out.push(OfflineDiagnosis {
                    icd10: disease.icd10().to_owned(),
                    kind: BasisKind::ReferralReturn,
                    institution: d.institution,
                    on: local_day(d.at_us),
                });
            }
        }
        for d in documents {
            out.push(OfflineDiagnosis {
                icd10: d.icd10,
                kind: BasisKind::Document,
                institution: d.institution,
                on: local_day(d.at_us),
            });
        }
        Ok(out)
    }

    /// Where the resident may ask: their contract's team, and the internet hospital.
    async fn places(&self, resident_id: i64) -> AppResult<Vec<Place>> {
        let mut out = Vec::new();
        let contract = self
            .store
            .contracts_of_resident(resident_id, crate::contracts::CONTRACT_HISTORY_MAX)
            .await?
            .into_iter()
            .find(|k| k.status == gongti_core::contract::ContractStatus::Active);
        if let Some(k) = contract {
            let team = self.store.team(k.team_id).await?;
            let institution = self.store.institution(team.institution_id).await?;
            out.push(Place {
                destination: Destination::Team,
                institution_id: institution.id,
                name: format!("{} · {}", institution.name, team.name),
                team_id: Some(team.id),
            });
        }
        let filter = InstitutionFilter {
            kinds: vec![InstitutionKind::InternetHospital],
            ..InstitutionFilter::default()
        };
        if let Some(i) = self
            .store
            .institutions(&filter, None, 1)
            .await?
            .items
            .into_iter()
            .next()
        {
            out.push(Place {
                destination: Destination::InternetHospital,
                institution_id: i.id,
                name: i.name,
                team_id: None,
            });
        }
        Ok(out)
    }

    /// What the phone's form offers (no patient data beyond the resident's own; not
    /// audited apart from the page's read).
    pub async fn visit_options(&self, p: &PatientCtx) -> AppResult<VisitOptions> {
        let on_file = self.offline_diagnoses(p.resident_id).await?;
        let mut codes: Vec<String> = Vec::new();
        for e in self.store.enrolments_of_resident(p.resident_id).await? {
            codes.push(e.icd10);
        }
        codes.extend(on_file.iter().map(|d| d.icd10.clone()));
        let mut diseases: Vec<(String, Eligibility)> = Vec::new();
        for code in codes {
            if !diseases
                .iter()
                .any(|(c, _)| gongti_core::pharmacy::visit::same_disease(c, &code))
            {
                let e = eligibility(Some(&code), &on_file);
                diseases.push((code, e));
            }
        }
        Ok(VisitOptions {
            diseases,
            places: self.places(p.resident_id).await?,
        })
    }

    /// The resident asks for a repeat visit (audited `online_visit.request`).
    pub async fn request_visit(&self, p: &PatientCtx, r: VisitRequest) -> AppResult<i64> {
        let now_us = self.now_us();
        let mut entry = p.entry(now_us, "online_visit.request", RESOURCE);
        entry.request_id = p.request_id.clone();
        let mut problems: Vec<FieldProblem> = validate_request(&r.complaint, &r.images)
            .err()
            .unwrap_or_default();
        let places = self.places(p.resident_id).await?;
        let place = places.iter().find(|pl| pl.destination == r.destination);
        if place.is_none() {
            problems.push(FieldProblem::new("destination", Problem::UnknownCode));
        }
        let disease = r
            .disease_icd10
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let options = self.visit_options(p).await?;
        if let Some(d) = disease
            && !options.diseases.iter().any(|(c, _)| c == d)
        {
            problems.push(FieldProblem::new("disease", Problem::UnknownCode));
        }
        let (Some(place), true) = (place, problems.is_empty()) else {
            entry.outcome = Outcome::Invalid;
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        };
        let on_file = self.offline_diagnoses(p.resident_id).await?;
        let basis = match eligibility(disease, &on_file) {
            Eligibility::Repeat(d) => Some(d.text()),
            Eligibility::NeedsDocument => None,
        };
        let params = &self.knowledge().params;
        let today = self.today();
        let id = self
            .store
            .insert_online_visit(
                &NewVisit {
                    resident_id: p.resident_id,
                    destination: r.destination.code(),
                    institution_id: place.institution_id,
                    team_id: place.team_id,
                    disease_icd10: disease.map(str::to_owned),
                    complaint: r.complaint.trim().to_owned(),
                    basis,
                    images: new_images(&r.images),
                    keep_until: keep_until(today, params.online_record_years),
                    chat_keep_until: keep_until(today, params.online_chat_years),
                    now_us,
                },
                &[AuditEntry {
                    institution_id: Some(place.institution_id),
                    ..entry
                }],
            )
            .await?;
        self.audit.flush().await?;
        Ok(id)
    }

    /// The resident's own visits, newest first (audited `online_visit.list`).
    pub async fn own_visits(&self, p: &PatientCtx) -> AppResult<Vec<VisitRecord>> {
        let visits = self
            .store
            .resident_online_visits(p.resident_id, VISITS_SHOWN)
            .await?;
        let mut entry = p.entry(self.now_us(), "online_visit.list", RESOURCE);
        entry.detail = Some(format!("{} listed", visits.len()));
        self.audit.record(vec![entry]).await?;
        Ok(visits)
    }

    /// One of the resident's own visits; another's is as absent as a missing one.
    async fn own_visit_record(
        &self,
        p: &PatientCtx,
        id: i64,
        entry: &mut AuditEntry,
    ) -> AppResult<VisitRecord> {
        entry.resource_id = Some(id.to_string());
        match self.store.online_visit(id).await {
            Ok(v) if v.resident_id == p.resident_id => Ok(v),
            Ok(_) | Err(StoreError::NotFound) => {
                Err(self.refuse(entry.clone(), AppError::NotFound).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn view_of(&self, record: VisitRecord, side: Side, holder: bool) -> AppResult<VisitView> {
        let messages = self.store.online_visit_messages(record.id).await?;
        let on_file = self.offline_diagnoses(record.resident_id).await?;
        let eligibility = eligibility(record.disease_icd10.as_deref(), &on_file);
        let steps = [
            VisitStep::Accept,
            VisitStep::Message,
            VisitStep::AcceptDocument,
            VisitStep::Prescribe,
            VisitStep::ToClinic,
            VisitStep::Withdraw,
            VisitStep::AskLongConfirmation,
            VisitStep::ConfirmLong,
        ];
        let asked = record.long_asked_at_us.is_some() && record.long_confirmed_at_us.is_none();
        let may = steps
            .into_iter()
            .filter(|s| take(record.status, *s, side).is_ok())
            .filter(|s| *s != VisitStep::ConfirmLong || asked)
            // A doctor's steps on an open visit are the holder's.
            .filter(|_| side == Side::Resident || record.status != VisitStatus::Open || holder)
            .collect();
        Ok(VisitView {
            record,
            messages,
            on_file,
            eligibility,
            may,
        })
    }

    /// One of the resident's own visits with its messages (audited `online_visit.read`).
    pub async fn own_visit(&self, p: &PatientCtx, id: i64) -> AppResult<VisitView> {
        let mut entry = p.entry(self.now_us(), "online_visit.read", RESOURCE);
        let record = self.own_visit_record(p, id, &mut entry).await?;
        let view = self.view_of(record, Side::Resident, false).await?;
        self.audit.record(vec![entry]).await?;
        Ok(view)
    }

    /// The resident writes in their visit (audited `online_visit.message`).
    pub async fn own_visit_message(
        &self,
        p: &PatientCtx,
        id: i64,
        text: &str,
        images: &[ImageDraft],
    ) -> AppResult<()> {
        let mut entry = p.entry(self.now_us(), "online_visit.message", RESOURCE);
        let record = self.own_visit_record(p, id, &mut entry).await?;
        if let Err(problems) = validate_message(text, images) {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        }
        if let Err(r) = take(record.status, VisitStep::Message, Side::Resident) {
            return Err(self.refuse(entry, refusal_error(r)).await);
        }
        entry.institution_id = Some(record.institution_id);
        entry.detail = Some(format!("{} image(s)", images.len()));
        self.add_message(&record, Side::Resident, None, text, images, entry)
            .await
    }

    async fn add_message(
        &self,
        record: &VisitRecord,
        side: Side,
        staff_id: Option<i64>,
        text: &str,
        images: &[ImageDraft],
        entry: AuditEntry,
    ) -> AppResult<()> {
        let chat_years = self.knowledge().params.online_chat_years;
        let written = self
            .store
            .add_online_visit_message(
                &NewMessage {
                    visit_id: record.id,
                    from_status: record.status,
                    sender: side.code(),
                    staff_id,
                    body: text.trim(),
                    images: new_images(images),
                    keep_until: keep_until(self.today(), chat_years),
                    now_us: self.now_us(),
                },
                std::slice::from_ref(&entry),
            )
            .await;
        self.visit_written(written, entry).await
    }

    /// The resident confirms the long prescription the doctor asked about — the ask
    /// they were shown, `seen` (weeks, asked at): a newer ask needs its own (LRX-1;
    /// audited `online_visit.confirm_long`).
    pub async fn own_confirm_long(
        &self,
        p: &PatientCtx,
        id: i64,
        seen: (i64, i64),
    ) -> AppResult<()> {
        let mut entry = p.entry(self.now_us(), "online_visit.confirm_long", RESOURCE);
        let record = self.own_visit_record(p, id, &mut entry).await?;
        if let Err(r) = take(record.status, VisitStep::ConfirmLong, Side::Resident) {
            return Err(self.refuse(entry, refusal_error(r)).await);
        }
        let (weeks, asked_at_us) = seen;
        let current = (record.long_weeks, record.long_asked_at_us);
        if current != (Some(weeks), Some(asked_at_us)) || record.long_confirmed_at_us.is_some() {
            return Err(self
                .refuse(entry, AppError::Conflict("online_visit_changed"))
                .await);
        }
        entry.institution_id = Some(record.institution_id);
        entry.detail = Some(format!("weeks={weeks}"));
        let text = format!("我已了解并确认：开具 {weeks} 周的长期处方。");
        self.long_step(
            &record,
            Side::Resident,
            None,
            &text,
            LongStep::Confirm { weeks, asked_at_us },
            entry,
        )
        .await
    }

    async fn long_step(
        &self,
        record: &VisitRecord,
        side: Side,
        staff_id: Option<i64>,
        text: &str,
        step: LongStep,
        entry: AuditEntry,
    ) -> AppResult<()> {
        let chat_years = self.knowledge().params.online_chat_years;
        let written = self
            .store
            .long_confirmation_step(
                &NewMessage {
                    visit_id: record.id,
                    from_status: record.status,
                    sender: side.code(),
                    staff_id,
                    body: text,
                    images: Vec::new(),
                    keep_until: keep_until(self.today(), chat_years),
                    now_us: self.now_us(),
                },
                step,
                std::slice::from_ref(&entry),
            )
            .await;
        self.visit_written(written, entry).await
    }

    /// The resident withdraws their visit (audited `online_visit.withdraw`).
    pub async fn own_visit_withdraw(&self, p: &PatientCtx, id: i64) -> AppResult<()> {
        let mut entry = p.entry(self.now_us(), "online_visit.withdraw", RESOURCE);
        let record = self.own_visit_record(p, id, &mut entry).await?;
        let to = match take(record.status, VisitStep::Withdraw, Side::Resident) {
            Ok(to) => to,
            Err(r) => return Err(self.refuse(entry, refusal_error(r)).await),
        };
        entry.institution_id = Some(record.institution_id);
        self.move_visit(&record, to, None, None, None, entry).await
    }

    async fn move_visit(
        &self,
        record: &VisitRecord,
        to: VisitStatus,
        doctor: Option<i64>,
        reason: Option<&str>,
        note: Option<&str>,
        mut entry: AuditEntry,
    ) -> AppResult<()> {
        entry.detail = Some(format!("{} -> {}", record.status.code(), to.code()));
        let written = self
            .store
            .change_online_visit(
                &VisitChange {
                    visit_id: record.id,
                    from_status: record.status,
                    to_status: to,
                    doctor_staff_id: doctor,
                    end_reason: reason,
                    end_note: note,
                    now_us: self.now_us(),
                },
                std::slice::from_ref(&entry),
            )
            .await;
        self.visit_written(written, entry).await
    }

    /// An image of the resident's own visit: its type and bytes (audited).
    pub async fn own_visit_image(
        &self,
        p: &PatientCtx,
        image_id: i64,
    ) -> AppResult<(String, Vec<u8>)> {
        let mut entry = p.entry(self.now_us(), "online_visit.image", RESOURCE);
        let (visit_id, content_type, bytes) = match self.store.online_visit_image(image_id).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        self.own_visit_record(p, visit_id, &mut entry).await?;
        entry.detail = Some(format!("image {image_id}"));
        self.audit.record(vec![entry]).await?;
        Ok((content_type, bytes))
    }

    // ---- the doctor's side ----

    /// The signed-in prescriber's institution, or a refusal audited on `entry`.
    async fn clinic_doctor(&self, ctx: &Ctx, entry: &AuditEntry) -> AppResult<i64> {
        let actor = ctx.principal.actor();
        match actor.institution.map(|i| i.0) {
            Some(own) if may_prescribe(&actor) && ctx.principal.scopes.is_none() => Ok(own),
            _ => Err(self.refuse(entry.clone(), AppError::Forbidden).await),
        }
    }

    /// Opens the doctor's online clinic: licensed, with the years, their password
    /// re-entered as the real-name check (audited `online_clinic.open`). Answers until
    /// when it is open.
    pub async fn open_online_clinic(&self, ctx: &Ctx, password: &str) -> AppResult<i64> {
        let mut entry = self.visit_entry(ctx, "online_clinic.open", Outcome::Ok);
        entry.resource_type = "OnlineClinic".into();
        let institution_id = self.clinic_doctor(ctx, &entry).await?;
        let staff = self.store.staff_member(ctx.principal.staff_id).await?;
        let params = &self.knowledge().params;
        let years = u32::try_from(staff.practice_years).unwrap_or(0);
        let licensed = staff
            .licence_number
            .as_deref()
            .is_some_and(|l| !l.trim().is_empty());
        if let Err(refusal) = may_open_clinic(licensed, years, params.online_practice_years_min) {
            let (code, detail) = match refusal {
                ClinicRefusal::Unlicensed => ("online_clinic_unlicensed", "unlicensed".to_owned()),
                ClinicRefusal::TooFewYears { has, needs } => (
                    "online_clinic_too_few_years",
                    format!("years {has} < {needs}"),
                ),
            };
            entry.detail = Some(detail);
            return Err(self.refuse(entry, AppError::Conflict(code)).await);
        }
        self.reauthenticate(ctx, Some(password), entry.clone())
            .await?;
        let now_us = self.now_us();
        let until_us = now_us + i64::from(params.online_clinic_hours) * 3_600 * 1_000_000;
        entry.detail = Some(format!("until_us={until_us}"));
        self.store
            .open_online_clinic(
                ctx.principal.staff_id,
                institution_id,
                now_us,
                until_us,
                &[entry],
            )
            .await?;
        self.audit.flush().await?;
        Ok(until_us)
    }

    /// The doctor's online clinic: whether open, the queue at their institution and
    /// the visits they hold (audited `online_visit.list`).
    pub async fn online_clinic(&self, ctx: &Ctx) -> AppResult<ClinicView> {
        let mut entry = self.visit_entry(ctx, "online_visit.list", Outcome::Ok);
        let institution_id = self.clinic_doctor(ctx, &entry).await?;
        let now_us = self.now_us();
        let open_until_us = self
            .store
            .online_clinic_open_until(ctx.principal.staff_id, institution_id, now_us)
            .await?;
        let (waiting, held, waiting_count) = self
            .store
            .online_visit_queue(institution_id, ctx.principal.staff_id, QUEUE_SHOWN)
            .await?;
        entry.detail = Some(format!("{} waiting, {} held", waiting.len(), held.len()));
        self.audit.record(vec![entry]).await?;
        Ok(ClinicView {
            open_until_us,
            waiting,
            waiting_count,
            held,
        })
    }

    /// A visit the doctor may see (asked of their institution, or held by them), or a
    /// refusal audited on `entry` (another institution's is as absent as a missing one).
    async fn doctor_visit_record(
        &self,
        ctx: &Ctx,
        id: i64,
        entry: &mut AuditEntry,
    ) -> AppResult<VisitRecord> {
        entry.resource_id = Some(id.to_string());
        let own = self.clinic_doctor(ctx, entry).await?;
        match self.store.online_visit(id).await {
            Ok(v)
                if v.institution_id == own || v.doctor_staff_id == Some(ctx.principal.staff_id) =>
            {
                entry.patient_id = Some(v.resident_id);
                Ok(v)
            }
            Ok(_) | Err(StoreError::NotFound) => {
                Err(self.refuse(entry.clone(), AppError::NotFound).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A visit with its messages, for the doctor (audited `online_visit.read`).
    pub async fn online_visit(&self, ctx: &Ctx, id: i64) -> AppResult<VisitView> {
        let mut entry = self.visit_entry(ctx, "online_visit.read", Outcome::Ok);
        let record = self.doctor_visit_record(ctx, id, &mut entry).await?;
        let holder = record.doctor_staff_id == Some(ctx.principal.staff_id);
        let view = self.view_of(record, Side::Doctor, holder).await?;
        self.audit.record(vec![entry]).await?;
        Ok(view)
    }

    /// A doctor's step needs the online clinic open (the real-name check of the day).
    pub(crate) async fn clinic_open(
        &self,
        ctx: &Ctx,
        institution_id: i64,
        entry: &AuditEntry,
    ) -> AppResult<()> {
        let open = self
            .store
            .online_clinic_open_until(ctx.principal.staff_id, institution_id, self.now_us())
            .await?;
        if open.is_none() {
            return Err(self
                .refuse(entry.clone(), AppError::Conflict("online_clinic_closed"))
                .await);
        }
        Ok(())
    }

    /// A doctor's step on a visit: decided, guarded (the clinic open, the holder for an
    /// open visit) and recorded with its audit record.
    async fn doctor_step(
        &self,
        ctx: &Ctx,
        id: i64,
        step: VisitStep,
        action: &str,
    ) -> AppResult<(VisitRecord, VisitStatus, AuditEntry)> {
        let mut entry = self.visit_entry(ctx, action, Outcome::Ok);
        let record = self.doctor_visit_record(ctx, id, &mut entry).await?;
        let to = match take(record.status, step, Side::Doctor) {
            Ok(to) => to,
            Err(r) => return Err(self.refuse(entry, refusal_error(r)).await),
        };
        if record.status == VisitStatus::Open
            && record.doctor_staff_id != Some(ctx.principal.staff_id)
        {
            return Err(self
                .refuse(entry, AppError::Conflict("online_visit_held_by_another"))
                .await);
        }
        self.clinic_open(ctx, record.institution_id, &entry).await?;
        entry.institution_id = ctx.principal.institution_id;
        Ok((record, to, entry))
    }

    /// The doctor takes a waiting visit (接诊; audited `online_visit.accept`).
    pub async fn accept_visit(&self, ctx: &Ctx, id: i64) -> AppResult<()> {
        let (record, to, entry) = self
            .doctor_step(ctx, id, VisitStep::Accept, "online_visit.accept")
            .await?;
        self.move_visit(&record, to, Some(ctx.principal.staff_id), None, None, entry)
            .await
    }

    /// The doctor writes in a visit they hold (audited `online_visit.message`).
    pub async fn doctor_visit_message(
        &self,
        ctx: &Ctx,
        id: i64,
        text: &str,
        images: &[ImageDraft],
    ) -> AppResult<()> {
        let (record, _, mut entry) = self
            .doctor_step(ctx, id, VisitStep::Message, "online_visit.message")
            .await?;
        if let Err(problems) = validate_message(text, images) {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        }
        entry.detail = Some(format!("{} image(s)", images.len()));
        self.add_message(
            &record,
            Side::Doctor,
            Some(ctx.principal.staff_id),
            text,
            images,
            entry,
        )
        .await
    }

    /// The doctor accepts an image of the visit as an offline diagnosis of `icd10`
    /// (诊断证明 and the like; audited `online_visit.accept_document`).
    pub async fn accept_visit_document(
        &self,
        ctx: &Ctx,
        id: i64,
        image_id: i64,
        icd10: &str,
    ) -> AppResult<()> {
        let (record, _, mut entry) = self
            .doctor_step(
                ctx,
                id,
                VisitStep::AcceptDocument,
                "online_visit.accept_document",
            )
            .await?;
        let icd10 = icd10.trim().to_ascii_uppercase();
        let valid = icd10.len() >= 3
            && icd10.len() <= 8
            && icd10.as_bytes()[0].is_ascii_uppercase()
            && icd10
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.');
        if !valid {
            return Err(self
                .refuse(entry, AppError::invalid("icd10", Problem::Malformed))
                .await);
        }
        let institution_id = entry.institution_id.unwrap_or(record.institution_id);
        let basis = OfflineDiagnosis {
            icd10: icd10.clone(),
            kind: BasisKind::Document,
            institution: self.store.institution(institution_id).await?.name,
            on: self.today(),
        }
        .text();
        entry.detail = Some(format!("image {image_id} as {icd10}"));
        let written = self
            .store
            .accept_offline_document(
                &AcceptedDocument {
                    visit_id: id,
                    resident_id: record.resident_id,
                    image_id,
                    icd10: &icd10,
                    institution_id,
                    staff_id: ctx.principal.staff_id,
                    basis: &basis,
                    now_us: self.now_us(),
                },
                std::slice::from_ref(&entry),
            )
            .await;
        self.visit_written(written, entry).await
    }

    /// The doctor asks the resident to confirm a long prescription of `weeks` on their
    /// phone (LRX-1: beyond 4 weeks, up to 12; audited `online_visit.ask_long`).
    pub async fn ask_long_confirmation(&self, ctx: &Ctx, id: i64, weeks: u32) -> AppResult<()> {
        let (record, _, mut entry) = self
            .doctor_step(
                ctx,
                id,
                VisitStep::AskLongConfirmation,
                "online_visit.ask_long",
            )
            .await?;
        let p = &self.knowledge().params;
        if !long_weeks_allowed(weeks, p.long_supply_days_plain_max, p.long_supply_days_max) {
            return Err(self
                .refuse(
                    entry,
                    AppError::invalid(
                        "weeks",
                        Problem::OutOfRange {
                            min: "5",
                            max: "12",
                        },
                    ),
                )
                .await);
        }
        entry.detail = Some(format!("weeks={weeks}"));
        let disease = record
            .disease_icd10
            .as_deref()
            .map(disease_name_zh)
            .unwrap_or_default();
        let text = format!(
            "医生建议为您开具 {weeks} 周的长期处方（{disease}）。长期处方适用于病情稳定的患者：请按时按量服药、定期复查，用药期间如有不适或病情变化请及时就医。同意请点“我已了解并确认”。"
        );
        self.long_step(
            &record,
            Side::Doctor,
            Some(ctx.principal.staff_id),
            &text,
            LongStep::Ask {
                weeks: i64::from(weeks),
            },
            entry,
        )
        .await
    }

    /// The doctor ends the visit: go to a clinic, with the reason (NET-2; audited
    /// `online_visit.to_clinic`).
    pub async fn visit_to_clinic(
        &self,
        ctx: &Ctx,
        id: i64,
        reason: EndReason,
        note: &str,
    ) -> AppResult<()> {
        let (record, to, entry) = self
            .doctor_step(ctx, id, VisitStep::ToClinic, "online_visit.to_clinic")
            .await?;
        if let Err(problems) = validate_ending(reason, note) {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        }
        let note = Some(note.trim()).filter(|n| !n.is_empty());
        let doctor = (record.status == VisitStatus::Open).then_some(ctx.principal.staff_id);
        self.move_visit(&record, to, doctor, Some(reason.code()), note, entry)
            .await
    }

    /// An image of a visit the doctor may see: its type and bytes (audited).
    pub async fn visit_image(&self, ctx: &Ctx, image_id: i64) -> AppResult<(String, Vec<u8>)> {
        let mut entry = self.visit_entry(ctx, "online_visit.image", Outcome::Ok);
        let (visit_id, content_type, bytes) = match self.store.online_visit_image(image_id).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        self.doctor_visit_record(ctx, visit_id, &mut entry).await?;
        entry.detail = Some(format!("image {image_id}"));
        self.audit.record(vec![entry]).await?;
        Ok((content_type, bytes))
    }

    /// The days of a long prescription the patient confirmed on the phone in a visit
    /// the signed-in doctor holds (0 otherwise): what the prescribing form's live check
    /// takes as the patient's confirmation. A number only: not audited.
    pub async fn long_confirmed_days(&self, ctx: &Ctx, visit_id: i64) -> AppResult<i64> {
        Ok(match self.store.online_visit(visit_id).await {
            Ok(v) if v.doctor_staff_id == Some(ctx.principal.staff_id) => v
                .long_weeks
                .filter(|_| v.long_confirmed_at_us.is_some())
                .map_or(0, |w| w * 7),
            Ok(_) | Err(StoreError::NotFound) => 0,
            Err(e) => return Err(e.into()),
        })
    }

    /// Before a prescription is issued in a visit: the visit is the resident's, open,
    /// held by the prescriber, and their clinic open; a refusal is audited on `entry`.
    pub(crate) async fn visit_for_issue(
        &self,
        ctx: &Ctx,
        visit_id: i64,
        resident_id: i64,
        entry: &AuditEntry,
    ) -> AppResult<VisitRecord> {
        let record = match self.store.online_visit(visit_id).await {
            Ok(v) if v.resident_id == resident_id => v,
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(self
                    .refuse(
                        entry.clone(),
                        AppError::invalid("online_visit_id", Problem::UnknownCode),
                    )
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        if record.status != VisitStatus::Open
            || record.doctor_staff_id != Some(ctx.principal.staff_id)
        {
            return Err(self
                .refuse(
                    entry.clone(),
                    AppError::Conflict("online_visit_not_open_for_step"),
                )
                .await);
        }
        self.clinic_open(ctx, record.institution_id, entry).await?;
        Ok(record)
    }
}
