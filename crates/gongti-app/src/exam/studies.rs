//! Images from the PACS (DOMAIN.md §8): a study Orthanc reports stable is taken by the
//! system — matched to its order, which moves to in progress — and its images are
//! shown only through Gongti, to those who may read the order (no user reaches Orthanc
//! itself).

use gongti_core::audit::{AuditEntry, Outcome};
use gongti_store::{StableStudy, StudyRecord, StudyTaken};

use gongti_core::exam::worklist::resident_of_patient_id;

use crate::{App, AppError, AppResult, Ctx};

/// What a DICOMweb study search (QIDO-RS) names: one of the three at least.
#[derive(Debug, Clone, Copy, Default)]
pub struct StudySearch<'a> {
    /// (0010,0020) as the worklist wrote it: `GT` and the record's id.
    pub patient_id: Option<&'a str>,
    pub accession_number: Option<&'a str>,
    pub study_uid: Option<&'a str>,
}

impl App {
    /// Takes a study the PACS reported stable (the system's, audited as
    /// `exam.study.receive`).
    pub async fn receive_stable_study(&self, s: &StableStudy<'_>) -> AppResult<StudyTaken> {
        let audit = AuditEntry::system(self.now_us(), "exam.study.receive", "ExamStudy");
        let taken = self.store.receive_study(s, &audit).await?;
        if !matches!(taken, StudyTaken::Known { .. }) {
            self.audit.flush().await?;
        }
        Ok(taken)
    }

    /// Where the PACS changes feed was left (`None`: never read).
    pub async fn feed_seq(&self) -> AppResult<Option<i64>> {
        Ok(self.store.feed_seq().await?)
    }

    pub async fn set_feed_seq(&self, seq: i64) -> AppResult<()> {
        Ok(self.store.set_feed_seq(seq).await?)
    }

    /// A study of an order, for whoever may read the order (its two institutions'
    /// clinical staff), audited as a read of the patient's images.
    pub async fn exam_study_view(&self, ctx: &Ctx, study_id: i64) -> AppResult<StudyRecord> {
        let entry = self.study_entry(ctx, Some(study_id.to_string()));
        let study = self.store.exam_study(study_id).await?;
        self.decide_study(ctx, entry, study).await
    }

    /// A study by its UID, decided as [`App::exam_study_view`] (DICOMweb's retrieve).
    pub async fn exam_study_by_uid(&self, ctx: &Ctx, study_uid: &str) -> AppResult<StudyRecord> {
        let entry = self.study_entry(ctx, None);
        let study = self.store.exam_study_by_uid(study_uid).await?;
        self.decide_study(ctx, entry, study).await
    }

    /// The studies a DICOMweb search (QIDO-RS) names — by study UID, by accession
    /// number, or by patient (the worklist's `GT` id) — that the actor may read: its
    /// institution placed or works their orders. A search naming none of the three is
    /// refused (no one lists the whole PACS). A patient's search reaches the record
    /// as a read and is audited once, naming the studies found.
    pub async fn exam_study_search(
        &self,
        ctx: &Ctx,
        q: &StudySearch<'_>,
    ) -> AppResult<Vec<StudyRecord>> {
        use gongti_core::access::PatientAction;
        use gongti_core::problem::Problem;
        let wanted = |s: &StudyRecord| {
            q.accession_number.is_none_or(|a| s.accession_number == a)
                && q.patient_id.is_none_or(|p| {
                    resident_of_patient_id(p).is_some_and(|r| s.resident_id == Some(r))
                })
        };
        if let Some(uid) = q.study_uid {
            let found = match self.exam_study_by_uid(ctx, uid).await {
                Ok(s) => vec![s],
                Err(AppError::NotFound) => Vec::new(),
                Err(e) => return Err(e),
            };
            return Ok(found.into_iter().filter(wanted).collect());
        }
        if let Some(patient) = q.patient_id {
            let mut entry = self.entry(ctx, "exam.study.search", Outcome::Ok);
            entry.resource_type = "ExamStudy".into();
            let Some(resident_id) = resident_of_patient_id(patient) else {
                let e = AppError::invalid("PatientID", Problem::Malformed);
                return Err(self.refuse(entry, e).await);
            };
            let institution = match ctx.principal.institution_id {
                Some(i) if ctx.principal.role.is_clinical() => i,
                _ => {
                    entry.patient_id = Some(resident_id);
                    return Err(self.refuse(entry, AppError::Forbidden).await);
                }
            };
            let (_, mut read) = self
                .reach(
                    ctx,
                    resident_id,
                    PatientAction::Read,
                    "exam.study.search",
                    None,
                )
                .await?;
            let found = self
                .store
                .studies_for_institution(resident_id, institution, q.accession_number)
                .await?;
            read.resource_type = "ExamStudy".into();
            read.resource_id = None;
            let ids: Vec<String> = found.iter().map(|s| s.id.to_string()).collect();
            read.detail = Some(format!("studies [{}]", ids.join(",")));
            self.audit.record(vec![read]).await?;
            return Ok(found);
        }
        let Some(accession) = q.accession_number else {
            let entry = self.entry(ctx, "exam.study.search", Outcome::Ok);
            let e = AppError::invalid("PatientID", Problem::Required);
            return Err(self.refuse(entry, e).await);
        };
        // each study decided on its own (refusals audited); those the actor may not
        // read are left out, as a patient's search leaves them out
        let mut found = Vec::new();
        for s in self.store.studies_by_accession(accession).await? {
            let entry = self.study_entry(ctx, Some(s.id.to_string()));
            match self.decide_study(ctx, entry, Some(s)).await {
                Ok(s) => found.push(s),
                Err(AppError::Forbidden | AppError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    }

    fn study_entry(&self, ctx: &Ctx, id: Option<String>) -> AuditEntry {
        let mut entry = self.entry(ctx, "exam.study.read", Outcome::Ok);
        entry.resource_type = "ExamStudy".into();
        entry.resource_id = id;
        entry
    }

    /// Lets the actor see `study` if they may read its order (that read decided and
    /// audited as on the order's page), then records `entry` naming the patient.
    async fn decide_study(
        &self,
        ctx: &Ctx,
        mut entry: AuditEntry,
        study: Option<StudyRecord>,
    ) -> AppResult<StudyRecord> {
        let Some(study) = study else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        entry.resource_id = Some(study.id.to_string());
        let Some(order_id) = study.order_id else {
            // a study with no order is nobody's to see here
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        // the order's read decides (and is audited) as on its page
        self.exam_order_view(ctx, order_id).await?;
        entry.patient_id = study.resident_id;
        self.audit.record(vec![entry]).await?;
        Ok(study)
    }
}
