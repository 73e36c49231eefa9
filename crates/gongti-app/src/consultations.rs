//! Remote consultation (远程会诊, DOMAIN.md §3): a grassroots doctor asks an upper
//! hospital for a specialist's opinion on a patient, with files and a video time; the
//! consulted hospital may read the record while the consultation is open; the opinion
//! joins the patient's record. Each use case decides access, applies
//! `gongti_core::consultation`, writes in one transaction and audits.

use gongti_core::access::{PatientAction, may_run_clinic};
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::consultation::{
    ConsultationDraft, ConsultationError, ConsultationStep, step, validate_request,
};
use gongti_core::region::InstitutionId;
use gongti_core::resident::{FieldProblem, Problem};
use gongti_core::role::Role;
use gongti_store::{
    ConsultationBox, ConsultationRecord, FileInfo, NewConsultation, Page, StoreError,
};
use sha2::{Digest, Sha256};

use crate::{App, AppError, AppResult, Ctx};

/// A consultation request as the edges ask for it.
#[derive(Debug, Clone)]
pub struct ConsultationAsk {
    pub resident_id: i64,
    pub department_id: i64,
    pub specialist_staff_id: Option<i64>,
    pub draft: ConsultationDraft,
}

impl App {
    fn consultation_entry(&self, ctx: &Ctx, action: &str) -> AuditEntry {
        let mut e = ctx
            .principal
            .audit(self.now_us(), action, "Consultation", Outcome::Ok);
        e.request_id = ctx.request_id.clone();
        e
    }

    /// Asks an upper hospital's department (optionally one specialist) for an opinion.
    pub async fn request_consultation(
        &self,
        ctx: &Ctx,
        ask: ConsultationAsk,
    ) -> AppResult<ConsultationRecord> {
        let (_, mut entry) = self
            .reach(
                ctx,
                ask.resident_id,
                PatientAction::Write,
                "consultation.create",
                None,
            )
            .await?;
        entry.resource_type = "Consultation".into();
        entry.resource_id = None;
        let (Some(from), true) = (
            ctx.principal.institution_id,
            ctx.principal.role.is_clinical(),
        ) else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        let mut problems = Vec::new();
        let to = match self.store.department_home(ask.department_id).await {
            Ok((id, kind)) if kind.ends_with("_hospital") && id != from => Some(id),
            Ok(_) | Err(StoreError::NotFound) => {
                problems.push(FieldProblem::new("department_id", Problem::NotAllowed));
                None
            }
            Err(e) => return Err(e.into()),
        };
        if let (Some(staff), Some(to)) = (ask.specialist_staff_id, to) {
            let ok = match self.store.staff_member(staff).await {
                Ok(s) => s.institution_id == Some(to) && s.role == Role::Specialist,
                Err(StoreError::NotFound) => false,
                Err(e) => return Err(e.into()),
            };
            if !ok {
                problems.push(FieldProblem::new(
                    "specialist_staff_id",
                    Problem::NotAllowed,
                ));
            }
        }
        if let Err(more) = validate_request(&ask.draft, self.now_us()) {
            problems.extend(more);
        }
        let Some(to) = to.filter(|_| problems.is_empty()) else {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        };
        let files = ask
            .draft
            .attachments
            .into_iter()
            .map(|a| {
                let hash: [u8; 32] = Sha256::digest(&a.bytes).into();
                (a.filename.trim().to_owned(), a.content_type, hash, a.bytes)
            })
            .collect::<Vec<_>>();
        let new = NewConsultation {
            resident_id: ask.resident_id,
            from_institution_id: from,
            from_staff_id: ctx.principal.staff_id,
            to_institution_id: to,
            to_department_id: ask.department_id,
            to_staff_id: ask.specialist_staff_id,
            question: ask.draft.question.trim().to_owned(),
            video_at_us: ask.draft.video_at_us,
            files,
            now_us: self.now_us(),
        };
        entry.resource_id = None;
        entry.detail = Some(format!("to={to} files={}", new.files.len()));
        let id = self
            .store
            .insert_consultation(&new, std::slice::from_ref(&entry))
            .await?;
        self.audit.flush().await?;
        Ok(self.store.consultation(id).await?)
    }

    /// Loads a consultation and decides the actor's side: the consulted hospital's
    /// staff, or the requesting institution's carers of the patient.
    async fn consultation_for(
        &self,
        ctx: &Ctx,
        id: i64,
        action: &str,
    ) -> AppResult<(ConsultationRecord, AuditEntry, bool)> {
        let mut entry = self.consultation_entry(ctx, action);
        entry.resource_id = Some(id.to_string());
        let c = match self.store.consultation(id).await {
            Ok(c) => c,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        entry.patient_id = Some(c.resident_id);
        let actor = ctx.principal.actor();
        let receiver = may_run_clinic(&actor, InstitutionId(c.to_institution_id));
        let sender = self
            .cares_from(ctx, c.resident_id, c.from_institution_id)
            .await?;
        if !receiver && !sender {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        Ok((c, entry, receiver))
    }

    /// A consultation with its question, files and opinion (audited).
    pub async fn read_consultation(&self, ctx: &Ctx, id: i64) -> AppResult<ConsultationRecord> {
        let (c, entry, _) = self.consultation_for(ctx, id, "consultation.read").await?;
        self.audit.record(vec![entry]).await?;
        Ok(c)
    }

    /// One attached file (audited).
    pub async fn consultation_file(
        &self,
        ctx: &Ctx,
        id: i64,
        file_id: i64,
    ) -> AppResult<(FileInfo, Vec<u8>)> {
        let (_, mut entry, _) = self.consultation_for(ctx, id, "consultation.file").await?;
        let file = match self.store.consultation_file(id, file_id).await {
            Ok(f) => f,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        entry.detail = Some(format!("file={file_id}"));
        self.audit.record(vec![entry]).await?;
        Ok(file)
    }

    /// Answers (the consulted hospital's clinicians), closes (either side, once
    /// answered) or cancels (the requesting side, before an answer).
    pub async fn consultation_step(
        &self,
        ctx: &Ctx,
        id: i64,
        s: ConsultationStep,
    ) -> AppResult<ConsultationRecord> {
        let action = match &s {
            ConsultationStep::Answer { .. } => "consultation.answer",
            ConsultationStep::Close => "consultation.close",
            ConsultationStep::Cancel => "consultation.cancel",
        };
        let (c, entry, receiver) = self.consultation_for(ctx, id, action).await?;
        let allowed = match &s {
            ConsultationStep::Answer { .. } => receiver && ctx.principal.role.is_clinical(),
            ConsultationStep::Close => true,
            ConsultationStep::Cancel => !receiver,
        };
        if !allowed {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let to = match step(c.status, &s) {
            Ok(to) => to,
            Err(ConsultationError::NotNow(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("consultation_not_open_for_step"))
                    .await);
            }
            Err(ConsultationError::Invalid(problems)) => {
                return Err(self.refuse(entry, AppError::Invalid(problems)).await);
            }
        };
        let opinion = match &s {
            ConsultationStep::Answer { opinion } => Some((opinion.trim(), ctx.principal.staff_id)),
            _ => None,
        };
        let mut done = entry.clone();
        done.detail = Some(format!("{} -> {}", c.status.code(), to.code()));
        match self
            .store
            .change_consultation(id, c.status, to, opinion, self.now_us(), &[done])
            .await
        {
            Ok(()) => {}
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("consultation_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.flush().await?;
        Ok(self.store.consultation(id).await?)
    }

    /// The actor's institution's consultations: `inbox` (asked of it, open) or `sent`.
    pub async fn consultation_box(
        &self,
        ctx: &Ctx,
        which: &str,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<ConsultationRecord>> {
        let (entry, institution_id) = self
            .worklist_scope(ctx, &format!("consultation.{which}"), "Consultation")
            .await?;
        let b = match which {
            "inbox" => ConsultationBox::Inbox { institution_id },
            "sent" => ConsultationBox::Sent { institution_id },
            _ => {
                let error = AppError::Invalid(vec![FieldProblem::new("box", Problem::UnknownCode)]);
                return Err(self.refuse(entry, error).await);
            }
        };
        let page = self.store.consultations(b, after, limit).await?;
        self.listed(entry, page.items.len()).await?;
        Ok(page)
    }

    /// A resident's consultations with their opinions and files, newest first (audited).
    pub async fn resident_consultations(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<ConsultationRecord>> {
        let (_, mut entry) = self
            .reach(
                ctx,
                resident_id,
                PatientAction::Read,
                "consultation.list",
                None,
            )
            .await?;
        entry.resource_type = "Consultation".into();
        let mut page = self
            .store
            .consultations(ConsultationBox::Resident { resident_id }, after, limit)
            .await?;
        for c in &mut page.items {
            c.files = self.store.consultation_files(c.id).await?;
        }
        self.audit.record(vec![entry]).await?;
        Ok(page)
    }
}
