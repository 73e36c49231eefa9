//! The cloud examination (`gongti_core::exam`): so far the laboratory intake. A message
//! a laboratory sends over MLLP (read by the edge into a [`ReceivedReport`]) is stored
//! before it is answered — AA when its results are kept, AE when its patient is not
//! matched by ID number (held for a person to match), AR when it cannot be taken — and a
//! repeat of a control id is answered as the first one was (DOMAIN.md §8).

use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::exam::items::LabItems;
use gongti_core::exam::report::{ReceivedReport, Unmatched, id_number_of, prepare};
use gongti_store::{InstitutionFilter, LabIntake, NewHl7Message, Received, ResidentFilter};

use crate::{App, AppResult, DISPLAY_OFFSET};

pub mod hl7_out;
pub mod orders;
pub mod reading;
pub mod studies;

/// The acknowledgement's code (HL7 table 0008, original mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Accepted: stored, and its results kept.
    Accept,
    /// Application error: stored and held (an unmatched patient).
    Error,
    /// Rejected: malformed or not taken here; stored for the record only.
    Reject,
}

impl AckCode {
    pub fn code(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }

    fn parse(code: &str) -> AckCode {
        match code {
            "AA" => AckCode::Accept,
            "AE" => AckCode::Error,
            _ => AckCode::Reject,
        }
    }
}

/// What the edge read of a message's header (`""` for what it could not read).
#[derive(Debug, Clone, Default)]
pub struct MessageHeader {
    pub sending_application: String,
    pub sending_facility: String,
    /// MSH-5 and MSH-6: whom the sender addressed (the acknowledgement's sender).
    pub receiving_application: String,
    pub receiving_facility: String,
    pub control_id: String,
    pub message_type: String,
    /// The character set it was decoded with (`ASCII`, `UNICODE UTF-8`, `GB 18030-2000`).
    pub charset: String,
}

/// A message as received.
#[derive(Debug, Clone)]
pub struct IncomingLabMessage<'a> {
    pub raw: &'a [u8],
    /// The peer's address.
    pub peer: &'a str,
    pub header: MessageHeader,
    /// The report, or why the message cannot be taken (the AR's text; ASCII).
    pub report: Result<ReceivedReport, String>,
}

/// The answer to send back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabAnswer {
    pub code: AckCode,
    /// ASCII text for MSA-3 (`""` when accepted with nothing to say).
    pub text: String,
    /// The stored message (its id in the held list).
    pub message_id: i64,
}

impl App {
    /// Stores a laboratory's message and keeps its results (see the module).
    pub async fn receive_lab_message(&self, m: IncomingLabMessage<'_>) -> AppResult<LabAnswer> {
        let now_us = self.now_us();
        let h = &m.header;
        let sender = if h.sending_application.is_empty() && h.sending_facility.is_empty() {
            String::new()
        } else {
            format!("{}@{}", h.sending_application, h.sending_facility)
        };
        let mut audit = AuditEntry::system(now_us, "hl7.receive", "Hl7Message");
        audit.actor_username = format!("hl7:{sender}");
        let mut notify = 0;
        let (code, problem, resident, institution_id, prepared) = match &m.report {
            Err(reason) => (AckCode::Reject, reason.clone(), None, None, None),
            Ok(report) => match self.sending_institution(&h.sending_facility).await? {
                None => (
                    AckCode::Reject,
                    "MSH-4 names no institution of the region".into(),
                    None,
                    None,
                    None,
                ),
                Some(institution_id) => match self.lab_patient(report).await? {
                    Err(u) => (
                        AckCode::Error,
                        u.code().to_owned(),
                        None,
                        Some(institution_id),
                        None,
                    ),
                    Ok((resident_id, home)) => {
                        notify = home;
                        let p =
                            prepare(report, LabItems::builtin(), &sender, now_us, DISPLAY_OFFSET);
                        if p.results.is_empty() {
                            let reasons: Vec<String> = p
                                .skipped
                                .iter()
                                .map(|s| format!("OBX {}: {}", s.set_id, s.reason))
                                .collect();
                            let why = if reasons.is_empty() {
                                "no OBX result in the message".to_owned()
                            } else {
                                reasons.join("; ")
                            };
                            (
                                AckCode::Reject,
                                why,
                                Some(resident_id),
                                Some(institution_id),
                                None,
                            )
                        } else {
                            (
                                AckCode::Accept,
                                String::new(),
                                Some(resident_id),
                                Some(institution_id),
                                Some(p),
                            )
                        }
                    }
                },
            },
        };
        // the message is stored whatever its answer: the write succeeded (its answer,
        // AA, AE or AR, leads the detail)
        audit.outcome = Outcome::Ok;
        audit.patient_id = resident;
        audit.institution_id = institution_id;
        audit.detail = Some(
            format!("{} {} {}", code.code(), h.message_type, problem)
                .trim()
                .to_owned(),
        );
        let mut lab_audit = AuditEntry::system(now_us, "lab.receive", "Observation");
        lab_audit.actor_username = audit.actor_username.clone();
        lab_audit.patient_id = resident;
        lab_audit.institution_id = institution_id;
        let intake = match (&prepared, resident, institution_id) {
            (Some(p), Some(resident_id), Some(institution_id)) => {
                let codes: Vec<&str> = p.results.iter().map(|r| r.code.as_str()).collect();
                lab_audit.detail = Some(codes.join(","));
                Some(LabIntake {
                    resident_id,
                    institution_id,
                    results: &p.results,
                    enrolments: self.enrolment_scopes(resident_id).await?,
                    notify_institution_id: notify,
                    confirm_within_us: self.confirm_within_us(),
                    audit: lab_audit,
                })
            }
            _ => None,
        };
        let received = self
            .store
            .receive_hl7(
                &NewHl7Message {
                    sender: &sender,
                    control_id: &h.control_id,
                    message_type: &h.message_type,
                    charset: &h.charset,
                    raw: m.raw,
                    peer: m.peer,
                    received_at_us: now_us,
                    ack_code: code.code(),
                    problem: &problem,
                    resident_id: resident,
                    institution_id,
                    audit,
                },
                intake.as_ref(),
                &self.chronic,
            )
            .await?;
        self.audit.flush().await?;
        Ok(match received {
            Received::Repeat {
                message_id,
                ack_code,
                problem,
            } => LabAnswer {
                code: AckCode::parse(&ack_code),
                text: answer_text(&problem, "a repeat of a message stored before"),
                message_id,
            },
            Received::Stored {
                message_id,
                created,
                updated,
                unchanged,
            } => {
                let mut text = answer_text(&problem, "");
                if let Some(p) = &prepared {
                    text = format!(
                        "{} new, {} updated, {} unchanged",
                        created.len(),
                        updated.len(),
                        unchanged.len()
                    );
                    for s in &p.skipped {
                        text.push_str(&format!("; OBX {} skipped: {}", s.set_id, s.reason));
                    }
                }
                LabAnswer {
                    code,
                    text,
                    message_id,
                }
            }
        })
    }

    /// The institution whose code MSH-4 gives.
    async fn sending_institution(&self, facility: &str) -> AppResult<Option<i64>> {
        if facility.trim().is_empty() {
            return Ok(None);
        }
        let page = self
            .store
            .institutions(
                &InstitutionFilter {
                    codes: vec![facility.trim().to_owned()],
                    ..Default::default()
                },
                None,
                1,
            )
            .await?;
        Ok(page.items.first().map(|i| i.id))
    }

    /// How long a critical value's clinicians have to confirm it (µs).
    fn confirm_within_us(&self) -> i64 {
        gongti_core::exam::critical::ExamParams::builtin().confirm_within_us()
    }

    /// The registered resident of the report's one ID number, with their institution.
    async fn lab_patient(
        &self,
        report: &ReceivedReport,
    ) -> AppResult<Result<(i64, i64), Unmatched>> {
        let id_number = match id_number_of(report, self.today()) {
            Ok(n) => n,
            Err(u) => return Ok(Err(u)),
        };
        Ok(self
            .registered_under(&id_number)
            .await?
            .ok_or(Unmatched::NotRegistered))
    }

    /// The resident registered under an ID number, with their institution.
    async fn registered_under(
        &self,
        id_number: &gongti_core::IdNumber,
    ) -> AppResult<Option<(i64, i64)>> {
        let page = self
            .store
            .residents(
                &ResidentFilter {
                    id_numbers: vec![id_number.as_str().to_owned()],
                    ..Default::default()
                },
                None,
                1,
            )
            .await?;
        Ok(page.items.first().map(|r| (r.id, r.home_institution_id)))
    }
}

/// MSA-3's text for a stored problem code or reason.
fn answer_text(problem: &str, otherwise: &str) -> String {
    match Unmatched::parse(problem) {
        Some(u) => u.text().to_owned(),
        None if problem.is_empty() => otherwise.to_owned(),
        None => problem.to_owned(),
    }
}

/// A message held for matching, with its bytes (to show what the laboratory sent).
#[derive(Debug, Clone)]
pub struct HeldMessage {
    pub record: gongti_store::Hl7MessageRecord,
    pub raw: Vec<u8>,
}

/// Held messages listed at once.
pub const HELD_PAGE: i64 = 50;

impl App {
    /// The institution whose held messages the actor matches: a diagnosing doctor
    /// (诊断医生) or the administrator of the laboratory's institution.
    async fn lab_matcher(&self, ctx: &crate::Ctx, entry: &AuditEntry) -> AppResult<i64> {
        use gongti_core::role::Role;
        match (ctx.principal.role, ctx.principal.institution_id) {
            (Role::ExamReader | Role::InstitutionAdmin, Some(i)) => Ok(i),
            _ => Err(self.refuse(entry.clone(), crate::AppError::Forbidden).await),
        }
    }

    /// The actor's institution's held messages, oldest first after `after` (audited:
    /// they carry the names and numbers the laboratory sent).
    pub async fn held_lab_messages(
        &self,
        ctx: &crate::Ctx,
        after: Option<i64>,
    ) -> AppResult<Vec<HeldMessage>> {
        let mut entry = self.entry(ctx, "hl7.held.list", Outcome::Ok);
        entry.resource_type = "Hl7Message".into();
        let institution = self.lab_matcher(ctx, &entry).await?;
        let list = self
            .store
            .held_hl7_messages(institution, after, HELD_PAGE)
            .await?;
        let mut out = Vec::with_capacity(list.len());
        for record in list {
            let raw = self
                .store
                .hl7_message_raw(record.id)
                .await?
                .ok_or(crate::AppError::NotFound)?;
            out.push(HeldMessage { record, raw });
        }
        entry.detail = Some(format!("{} held", out.len()));
        self.audit.record(vec![entry]).await?;
        Ok(out)
    }

    /// A message of the actor's institution with the audit entry of `action` on it
    /// (a message elsewhere is not found, and that refusal is audited).
    async fn message_of_matcher(
        &self,
        ctx: &crate::Ctx,
        action: &str,
        id: i64,
    ) -> AppResult<(AuditEntry, i64, gongti_store::Hl7MessageRecord)> {
        let mut entry = self.entry(ctx, action, Outcome::Ok);
        entry.resource_type = "Hl7Message".into();
        entry.resource_id = Some(id.to_string());
        let institution = self.lab_matcher(ctx, &entry).await?;
        match self.store.hl7_message(id).await? {
            Some(r) if r.institution_id == Some(institution) => Ok((entry, institution, r)),
            _ => Err(self.refuse(entry, crate::AppError::NotFound).await),
        }
    }

    /// One held message of the actor's institution.
    pub async fn held_lab_message(&self, ctx: &crate::Ctx, id: i64) -> AppResult<HeldMessage> {
        let (mut entry, _, record) = self.message_of_matcher(ctx, "hl7.read", id).await?;
        let raw = self
            .store
            .hl7_message_raw(id)
            .await?
            .ok_or(crate::AppError::NotFound)?;
        entry.patient_id = record.resident_id;
        self.audit.record(vec![entry]).await?;
        Ok(HeldMessage { record, raw })
    }

    /// Matches a held message to the resident registered under `id_number` (read from
    /// the paper form or asked of the patient) and keeps its results: the message is
    /// then accepted as if it had named them. `report` is the message as the edge reads
    /// it again from its stored bytes.
    pub async fn match_lab_message(
        &self,
        ctx: &crate::Ctx,
        id: i64,
        id_number: &str,
        report: &ReceivedReport,
    ) -> AppResult<usize> {
        use gongti_core::problem::{FieldProblem, Problem};
        let now_us = self.now_us();
        let (mut entry, institution, record) =
            self.message_of_matcher(ctx, "hl7.match", id).await?;
        if record.ack_code != "AE" {
            let error = crate::AppError::Conflict("not_held");
            return Err(self.refuse(entry, error).await);
        }
        let number = match gongti_core::IdNumber::parse(id_number.trim(), self.today()) {
            Ok(n) => n,
            Err(e) => {
                let error = crate::AppError::Invalid(vec![FieldProblem::new(
                    "id_number",
                    Problem::IdNumber(e),
                )]);
                return Err(self.refuse(entry, error).await);
            }
        };
        let Some((resident, home)) = self.registered_under(&number).await? else {
            let error =
                crate::AppError::Invalid(vec![FieldProblem::new("id_number", Problem::NotAllowed)]);
            return Err(self.refuse(entry, error).await);
        };
        let p = prepare(
            report,
            LabItems::builtin(),
            &record.sender,
            now_us,
            DISPLAY_OFFSET,
        );
        if p.results.is_empty() {
            let error =
                crate::AppError::Invalid(vec![FieldProblem::new("results", Problem::Required)]);
            return Err(self.refuse(entry, error).await);
        }
        entry.patient_id = Some(resident);
        entry.institution_id = Some(institution);
        let mut lab_audit = self.entry(ctx, "lab.receive", Outcome::Ok);
        lab_audit.resource_type = "Observation".into();
        lab_audit.patient_id = Some(resident);
        lab_audit.detail = Some(
            p.results
                .iter()
                .map(|r| r.code.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        let intake = LabIntake {
            resident_id: resident,
            institution_id: institution,
            results: &p.results,
            enrolments: self.enrolment_scopes(resident).await?,
            notify_institution_id: home,
            confirm_within_us: self.confirm_within_us(),
            audit: lab_audit,
        };
        let matched = self
            .store
            .match_held_hl7(
                id,
                &intake,
                ctx.principal.user_id,
                now_us,
                &entry,
                &self.chronic,
            )
            .await?;
        let Some((created, updated, _)) = matched else {
            let error = crate::AppError::Conflict("not_held");
            return Err(self.refuse(entry, error).await);
        };
        self.audit.flush().await?;
        Ok(created.len() + updated.len())
    }
}

/// A critical value with the name of its patient (for the clinicians' list).
#[derive(Debug, Clone)]
pub struct CriticalView {
    pub record: gongti_store::CriticalValueRecord,
    pub resident_name: String,
    /// Whom it is for by name (DOMAIN.md §8: "the ordering doctor (and the patient's
    /// family doctor) notified"): the doctor who ordered the exam it came from, and the
    /// family doctor of the resident's active contract — each `(staff id, name)`.
    pub ordering_doctor: Option<(i64, String)>,
    pub family_doctor: Option<(i64, String)>,
}

impl CriticalView {
    /// Whether the viewer is one of the two doctors it names.
    pub fn names(&self, staff_id: i64) -> bool {
        [&self.ordering_doctor, &self.family_doctor]
            .into_iter()
            .flatten()
            .any(|(id, _)| *id == staff_id)
    }
}

impl App {
    /// Escalates the critical values past their deadline (the server's minute sweep,
    /// and before every list): each escalation is audited as the system's.
    pub async fn escalate_critical_values(&self) -> AppResult<usize> {
        let mut audit = AuditEntry::system(self.now_us(), "critical.escalate", "CriticalValue");
        audit.detail = Some("not confirmed in time: the institution's duty officer".into());
        let done = self
            .store
            .escalate_critical_values(self.now_us(), &audit)
            .await?;
        if !done.is_empty() {
            self.audit.flush().await?;
        }
        Ok(done.len())
    }

    /// The open critical values of the actor's institution (its clinicians, and its
    /// administrator as the duty officer), oldest first, escalated ones marked.
    pub async fn critical_values(&self, ctx: &crate::Ctx) -> AppResult<Vec<CriticalView>> {
        use gongti_core::role::Role;
        let mut entry = self.entry(ctx, "critical.list", Outcome::Ok);
        entry.resource_type = "CriticalValue".into();
        let institution = match (ctx.principal.role, ctx.principal.institution_id) {
            (role, Some(i)) if role.is_clinical() || role == Role::InstitutionAdmin => i,
            _ => return Err(self.refuse(entry, crate::AppError::Forbidden).await),
        };
        self.escalate_critical_values().await?;
        let list = self
            .store
            .open_critical_values(institution, None, 200)
            .await?;
        let mut out = Vec::with_capacity(list.len());
        let today = self.today();
        for record in list {
            let resident_name = self.store.resident(record.resident_id).await?.name;
            let order_id = match (record.exam_order_id, record.lab_result_id) {
                (Some(order), _) => Some(order),
                (None, Some(result)) => self.store.exam_order_of_lab_result(result).await?,
                (None, None) => None,
            };
            let ordering_doctor = match order_id {
                Some(id) => self
                    .store
                    .exam_order(id)
                    .await?
                    .map(|o| (o.ordered_by_staff_id, o.ordered_by_name)),
                None => None,
            };
            let family_doctor = match self
                .store
                .contract_doctor(record.resident_id, today)
                .await?
            {
                Some(id) => Some((id, self.store.staff_member(id).await?.name)),
                None => None,
            };
            out.push(CriticalView {
                record,
                resident_name,
                ordering_doctor,
                family_doctor,
            });
        }
        entry.institution_id = Some(institution);
        entry.detail = Some(format!("{} open", out.len()));
        self.audit.record(vec![entry]).await?;
        Ok(out)
    }

    /// A resident's critical values (for their record's page), audited as a read.
    pub async fn resident_critical_values(
        &self,
        ctx: &crate::Ctx,
        resident_id: i64,
    ) -> AppResult<Vec<gongti_store::CriticalValueRecord>> {
        self.resident_lab_results(ctx, resident_id).await?;
        Ok(self.store.critical_values_of_resident(resident_id).await?)
    }

    /// A clinician of the value's institution reads the value back and confirms it, or
    /// records the action taken (DOMAIN.md §8).
    pub async fn critical_step(
        &self,
        ctx: &crate::Ctx,
        id: i64,
        step: gongti_core::exam::critical::CriticalStep<'_>,
    ) -> AppResult<gongti_store::CriticalValueRecord> {
        use gongti_core::exam::critical::{CriticalRefusal, CriticalStep, take};
        use gongti_core::problem::{FieldProblem, Problem};
        let (action, field, text) = match &step {
            CriticalStep::Confirm { read_back } => ("critical.confirm", "read_back", *read_back),
            CriticalStep::Act { action } => ("critical.act", "action", *action),
        };
        let mut entry = self.entry(ctx, action, Outcome::Ok);
        entry.resource_type = "CriticalValue".into();
        entry.resource_id = Some(id.to_string());
        let record = match self.store.critical_value_by_id(id).await? {
            Some(r)
                if ctx.principal.role.is_clinical()
                    && ctx.principal.institution_id == Some(r.institution_id) =>
            {
                r
            }
            Some(_) => return Err(self.refuse(entry, crate::AppError::Forbidden).await),
            None => return Err(self.refuse(entry, crate::AppError::NotFound).await),
        };
        entry.patient_id = Some(record.resident_id);
        entry.institution_id = Some(record.institution_id);
        let to = match take(record.status, &record.value_text, &step) {
            Ok(to) => to,
            Err(r @ (CriticalRefusal::ReadBackMismatch | CriticalRefusal::ActionRequired)) => {
                let problem = match r {
                    CriticalRefusal::ReadBackMismatch => Problem::Inconsistent { with: "value" },
                    _ => Problem::Required,
                };
                let error = crate::AppError::Invalid(vec![FieldProblem::new(field, problem)]);
                return Err(self.refuse(entry, error).await);
            }
            Err(r) => {
                let error = crate::AppError::Conflict(r.code());
                return Err(self.refuse(entry, error).await);
            }
        };
        let minutes = (self.now_us() - record.detected_at_us) / 60_000_000;
        entry.detail = Some(format!("{} after {minutes} min", to.code()));
        let done = self
            .store
            .step_critical_value(
                &gongti_store::CriticalStepWrite {
                    id,
                    from: record.status,
                    to,
                    user_id: ctx.principal.user_id,
                    now_us: self.now_us(),
                    text: text.trim(),
                    code: &record.code,
                },
                &entry,
            )
            .await?;
        if !done {
            let error = crate::AppError::Conflict("critical_changed");
            return Err(self.refuse(entry, error).await);
        }
        self.audit.flush().await?;
        self.store
            .critical_value_by_id(id)
            .await?
            .ok_or(crate::AppError::NotFound)
    }
}
