//! Images from the PACS (DOMAIN.md §8): a study Orthanc reports stable is taken by the
//! system — matched to its order, which moves to in progress — and its images are
//! shown only through Gongti, to those who may read the order (no user reaches Orthanc
//! itself).

use gongti_core::audit::{AuditEntry, Outcome};
use gongti_store::{StableStudy, StudyRecord, StudyTaken};

use crate::{App, AppError, AppResult, Ctx};

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
        let mut entry = self.entry(ctx, "exam.study.read", Outcome::Ok);
        entry.resource_type = "ExamStudy".into();
        entry.resource_id = Some(study_id.to_string());
        let Some(study) = self.store.exam_study(study_id).await? else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
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
