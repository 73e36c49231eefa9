//! Bulk export (FHIR Bulk Data Access, `$export`): what an export may carry, decided
//! once when it is asked for (`core::access::export_reach`), and its records read a
//! page of residents at a time — so memory stays bounded whatever the city's size —
//! each page's residents audited before their records leave this crate.

use gongti_core::access::{ExportReach, export_reach};
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_store::{
    AlertRecord, ContractRecord, EnrolmentRecord, FollowupRecord, ReadingRecord, ResidentFilter,
    ResidentRecord, TaskRecord,
};

use crate::{App, AppError, AppResult, Ctx};

/// Residents read per page of an export: a page's records are held in memory at once
/// (but for their home readings, read in chunks of [`EXPORT_READINGS_PER_CHUNK`]).
pub const EXPORT_RESIDENTS_PER_PAGE: u32 = 500;
/// Home readings read at once: a resident may upload several a day for years.
pub const EXPORT_READINGS_PER_CHUNK: u32 = 10_000;

/// The level an export was asked at (Bulk Data IG: system, Group, Patient).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportLevel {
    /// `[base]/$export`: everything the caller may export.
    System,
    /// `[base]/Patient/$export`: the patient compartments the caller may export.
    Patient,
    /// `[base]/Group/{id}/$export`: the residents an institution holds (its register).
    Group(i64),
}

/// An export that was allowed: whose named records it carries, if anyone's.
#[derive(Debug, Clone)]
pub struct ExportGrant {
    pub level: ExportLevel,
    pub reach: ExportReach,
    ctx: Ctx,
}

impl ExportGrant {
    /// Whether named patient records go out (not the registry alone).
    pub fn named(&self) -> bool {
        matches!(self.reach, ExportReach::Institution(_))
    }

    /// Whether the registry (institutions, departments, staff) goes out: at system
    /// level only — Patient and Group exports are patient compartments.
    pub fn registry(&self) -> bool {
        self.level == ExportLevel::System
    }

    fn residents(&self) -> Option<ResidentFilter> {
        match self.reach {
            ExportReach::Institution(i) => Some(ResidentFilter {
                home_institution_id: Some(i.0),
                ..ResidentFilter::default()
            }),
            ExportReach::RegistryOnly => None,
        }
    }
}

/// Which of a patient's records an export reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PatientKinds {
    pub residents: bool,
    pub enrolments: bool,
    pub followups: bool,
    /// Home readings and laboratory results (Observations not of a follow-up).
    pub readings: bool,
    pub contracts: bool,
    pub tasks: bool,
    pub alerts: bool,
}

/// One page of residents with the records of theirs an export asked for, changed
/// after its `_since` (when given); their readings come in chunks
/// ([`App::export_readings`]).
#[derive(Debug, Default)]
pub struct ExportPage {
    pub residents: Vec<ResidentRecord>,
    /// The residents of the page with readings to export ([`App::export_readings`]).
    pub with_readings: Vec<i64>,
    pub enrolments: Vec<EnrolmentRecord>,
    pub followups: Vec<FollowupRecord>,
    pub lab_results: Vec<gongti_store::LabResultRecord>,
    pub contracts: Vec<ContractRecord>,
    pub tasks: Vec<TaskRecord>,
    pub alerts: Vec<AlertRecord>,
    /// How many residents the page went through (exported or not).
    pub scanned: usize,
    /// The resident id to continue after; `None` on the last page.
    pub next_after: Option<i64>,
}

impl App {
    fn export_entry(&self, ctx: &Ctx, action: &str) -> AuditEntry {
        let mut e = ctx
            .principal
            .audit(self.now_us(), action, "Bulk", Outcome::Ok);
        e.request_id = ctx.request_id.clone();
        e
    }

    /// Decides an export asked for at `level` and audits the request (`what` says
    /// which types and since when). A Patient or Group export without named reach,
    /// or a Group other than the caller's own institution, is refused.
    pub async fn begin_export(
        &self,
        ctx: &Ctx,
        level: ExportLevel,
        what: &str,
    ) -> AppResult<ExportGrant> {
        let mut entry = self.export_entry(ctx, "export.start");
        entry.detail = Some(what.to_owned());
        if let ExportLevel::Group(g) = level {
            entry.resource_id = Some(format!("Group/{g}"));
            if self.store.institution(g).await.is_err() {
                return Err(self.refuse(entry, AppError::NotFound).await);
            }
        }
        let reach = match export_reach(&ctx.principal.actor()) {
            Ok(reach) => reach,
            Err(_) => return Err(self.refuse(entry, AppError::Forbidden).await),
        };
        let allowed = match (level, reach) {
            (ExportLevel::System, _) => true,
            (ExportLevel::Patient, ExportReach::Institution(_)) => true,
            (ExportLevel::Group(g), ExportReach::Institution(own)) => g == own.0,
            (_, ExportReach::RegistryOnly) => false,
        };
        if !allowed {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        self.audit.record(vec![entry]).await?;
        Ok(ExportGrant {
            level,
            reach,
            ctx: ctx.clone(),
        })
    }

    /// How many residents an export goes through (its progress's whole).
    pub async fn export_resident_total(&self, grant: &ExportGrant) -> AppResult<i64> {
        match grant.residents() {
            Some(filter) => Ok(self.store.residents_count(&filter).await?),
            None => Ok(0),
        }
    }

    /// The next page of an export's residents after `after`, with the records of
    /// `kinds` changed after `since_us` (all when `None`). Every resident with a record
    /// in the page is audited (`export.read`, one record each) before it is returned.
    pub async fn export_page(
        &self,
        grant: &ExportGrant,
        kinds: PatientKinds,
        since_us: Option<i64>,
        after: Option<i64>,
    ) -> AppResult<ExportPage> {
        let Some(filter) = grant.residents() else {
            return Ok(ExportPage::default());
        };
        let page = self
            .store
            .residents(&filter, after, EXPORT_RESIDENTS_PER_PAGE)
            .await?;
        let ids: Vec<i64> = page.items.iter().map(|r| r.id).collect();
        let mut out = ExportPage {
            scanned: page.items.len(),
            next_after: page.next_after,
            ..ExportPage::default()
        };
        let s = since_us;
        if kinds.enrolments {
            out.enrolments = self.store.enrolments_of_residents(&ids, s).await?;
        }
        if kinds.followups {
            out.followups = self.store.followups_of_residents(&ids, s).await?;
        }
        let with_readings = if kinds.readings {
            out.lab_results = self.store.lab_results_of_residents(&ids, s).await?;
            self.store.residents_with_readings(&ids, s).await?
        } else {
            Vec::new()
        };
        if kinds.contracts {
            out.contracts = self.store.contracts_of_residents(&ids, s).await?;
        }
        if kinds.tasks {
            out.tasks = self.store.tasks_of_residents(&ids, s).await?;
        }
        if kinds.alerts {
            out.alerts = self.store.alerts_of_residents(&ids, s).await?;
        }
        if kinds.residents {
            out.residents = page
                .items
                .into_iter()
                .filter(|r| s.is_none_or(|s| r.updated_at_us > s))
                .collect();
        }
        // Who leaves in this page: one audit record per resident, committed first —
        // their readings too, which are read after it.
        let mut exported: Vec<i64> = out
            .residents
            .iter()
            .map(|r| r.id)
            .chain(out.enrolments.iter().map(|e| e.resident_id))
            .chain(out.followups.iter().map(|f| f.resident_id))
            .chain(with_readings.iter().copied())
            .chain(out.lab_results.iter().map(|l| l.resident_id))
            .chain(out.contracts.iter().map(|c| c.resident_id))
            .chain(out.tasks.iter().map(|t| t.resident_id))
            .chain(out.alerts.iter().map(|a| a.resident_id))
            .collect();
        exported.sort_unstable();
        exported.dedup();
        let entry = self.export_entry(&grant.ctx, "export.read");
        let entries: Vec<AuditEntry> = exported
            .iter()
            .map(|&id| {
                let mut e = entry.clone();
                e.resource_type = "Patient".into();
                e.resource_id = Some(id.to_string());
                e.patient_id = Some(id);
                e.detail = Some("home_institution".into());
                e
            })
            .collect();
        self.audit.record(entries).await?;
        out.with_readings = with_readings;
        Ok(out)
    }

    /// The next chunk of home readings of a page's residents (audited with the page),
    /// after reading id `after`.
    pub async fn export_readings(
        &self,
        page: &ExportPage,
        since_us: Option<i64>,
        after: i64,
    ) -> AppResult<gongti_store::Page<ReadingRecord>> {
        Ok(self
            .store
            .readings_of_residents(
                &page.with_readings,
                since_us,
                after,
                EXPORT_READINGS_PER_CHUNK,
            )
            .await?)
    }

    /// Audits the download of one of an export's files (`file` names it).
    pub async fn export_downloaded(&self, ctx: &Ctx, file: &str) -> AppResult<()> {
        let mut entry = self.export_entry(ctx, "export.download");
        entry.resource_id = Some(file.to_owned());
        self.audit.record(vec![entry]).await
    }
}
