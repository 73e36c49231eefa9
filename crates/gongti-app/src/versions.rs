//! Earlier versions of records (FHIR `vread` and `_history`): read with the access
//! decision and the audit record of any read of the record as it is now — a patient's
//! record on the patient (break-the-glass is not offered: an earlier version is no
//! emergency), the region's registry and schedules by any signed-in staff member.

use gongti_core::access::{Decision, PatientAction, decide_patient};
use gongti_core::audit::Outcome;
use gongti_store::{
    AlertRecord, BookingRecord, ConsultationRecord, ContractRecord, DepartmentRecord,
    EnrolmentRecord, InstitutionRecord, Kept, LabResultRecord, PatientTable, RecordTable,
    ReferralRecord, ScheduleRecord, StaffRecord, StoreError, TaskRecord, Version, VersionMark,
};

use crate::scheduling::SlotView;
use crate::{App, AppError, AppResult, Ctx};

/// A record as it was at one of its earlier versions.
#[derive(Debug, Clone)]
pub enum Earlier {
    /// With the basis the actor reads the resident on now.
    Resident(crate::residents::ResidentView),
    Institution(InstitutionRecord),
    Department(DepartmentRecord),
    Staff(StaffRecord),
    Enrolment(EnrolmentRecord),
    Contract(ContractRecord),
    Task(TaskRecord),
    Referral(ReferralRecord),
    Alert(AlertRecord),
    Schedule(ScheduleRecord),
    Slot(SlotView),
    Booking(BookingRecord),
    Consultation(ConsultationRecord),
    LabResult(LabResultRecord),
}

/// The patient table a kept table's rows belong to a resident through (`None`: the
/// region's data, or the resident's own record).
fn patient_table(kept: Kept) -> Option<PatientTable> {
    Some(match kept {
        Kept::Enrolments => PatientTable::Record(RecordTable::Enrolments),
        Kept::Contracts => PatientTable::Record(RecordTable::Contracts),
        Kept::Tasks => PatientTable::Tasks,
        Kept::Referrals => PatientTable::Record(RecordTable::Referrals),
        Kept::Alerts => PatientTable::Alerts,
        Kept::Bookings => PatientTable::Record(RecordTable::Bookings),
        Kept::Consultations => PatientTable::Record(RecordTable::Consultations),
        Kept::LabResults => PatientTable::Record(RecordTable::LabResults),
        Kept::Residents
        | Kept::Institutions
        | Kept::Departments
        | Kept::Staff
        | Kept::Schedules
        | Kept::Slots => return None,
    })
}

impl App {
    /// Decides whether the actor may read `kept`'s row `id` as it is now, and audits a
    /// read of patient data (`action`, naming the version in its detail).
    async fn may_read_versions(
        &self,
        ctx: &Ctx,
        kept: Kept,
        id: i64,
        action: &str,
        detail: String,
    ) -> AppResult<Option<gongti_core::access::Basis>> {
        let resident = match (kept, patient_table(kept)) {
            (Kept::Residents, _) => id,
            (_, Some(table)) => match self.store.resident_of(table, id).await {
                Ok(r) => r,
                Err(StoreError::NotFound) => return Err(AppError::NotFound),
                Err(e) => return Err(e.into()),
            },
            // The region's data: open to every signed-in staff member.
            (_, None) => return Ok(None),
        };
        let mut entry = self.entry(ctx, action, Outcome::Ok);
        entry.resource_type = kept.table().into();
        entry.resource_id = Some(id.to_string());
        entry.patient_id = Some(resident);
        let (record, care) = match self.store.resident_with_care(resident, self.now_us()).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        let place = Self::place_of(&record, care)?;
        match decide_patient(&ctx.principal.actor(), PatientAction::Read, &place, None) {
            Decision::Allow(basis) => {
                entry.detail = Some(format!("{} {detail}", basis.code()));
                self.audit.record(vec![entry]).await?;
                Ok(Some(basis))
            }
            Decision::BreakGlassRequired | Decision::Deny => {
                Err(self.refuse(entry, AppError::Forbidden).await)
            }
        }
    }

    /// A record's versions, newest first (`current`: the version it is at now).
    pub async fn record_versions(
        &self,
        ctx: &Ctx,
        kept: Kept,
        id: i64,
        current: Version,
    ) -> AppResult<Vec<VersionMark>> {
        self.may_read_versions(ctx, kept, id, "record.history", "history".into())
            .await?;
        Ok(self.store.version_marks(kept, id, current).await?)
    }

    /// A record as it was at an earlier `version`; [`AppError::NotFound`] when it had
    /// no such version before the current one.
    pub async fn earlier_version(
        &self,
        ctx: &Ctx,
        kept: Kept,
        id: i64,
        version: i64,
    ) -> AppResult<Earlier> {
        let basis = self
            .may_read_versions(ctx, kept, id, "record.version.read", format!("v{version}"))
            .await?;
        let s = &self.store;
        let found = match kept {
            Kept::Residents => match (s.resident_version(id, version).await?, basis) {
                (Some(record), Some(basis)) => {
                    Some(Earlier::Resident(crate::residents::ResidentView {
                        record,
                        basis,
                    }))
                }
                _ => None,
            },
            Kept::Institutions => s
                .institution_version(id, version)
                .await?
                .map(Earlier::Institution),
            Kept::Departments => s
                .department_version(id, version)
                .await?
                .map(Earlier::Department),
            Kept::Staff => s.staff_version(id, version).await?.map(Earlier::Staff),
            Kept::Enrolments => s
                .enrolment_version(id, version)
                .await?
                .map(Earlier::Enrolment),
            Kept::Contracts => s
                .contract_version(id, version)
                .await?
                .map(Earlier::Contract),
            Kept::Tasks => s.task_version(id, version).await?.map(Earlier::Task),
            Kept::Referrals => s
                .referral_version(id, version)
                .await?
                .map(Earlier::Referral),
            Kept::Alerts => s.alert_version(id, version).await?.map(Earlier::Alert),
            Kept::Schedules => s
                .schedule_version(id, version)
                .await?
                .map(Earlier::Schedule),
            Kept::Slots => match s.slot_version(id, version).await? {
                Some(slot) => {
                    let schedule = s.schedule(slot.schedule_id).await?;
                    Some(Earlier::Slot(SlotView {
                        open_to_public: gongti_core::scheduling::open_to_public(
                            slot.pool,
                            schedule.day,
                            self.today(),
                            &schedule.params,
                        ),
                        slot,
                    }))
                }
                None => None,
            },
            Kept::Bookings => s.booking_version(id, version).await?.map(Earlier::Booking),
            Kept::Consultations => s
                .consultation_version(id, version)
                .await?
                .map(Earlier::Consultation),
            Kept::LabResults => s
                .lab_result_version(id, version)
                .await?
                .map(Earlier::LabResult),
        };
        found.ok_or(AppError::NotFound)
    }
}
