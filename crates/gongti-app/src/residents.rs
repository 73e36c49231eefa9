//! Residents: registration into the master patient index, reading a record, searching,
//! correcting and merging — each decided by the access rules and audited.

use gongti_core::access::{
    Basis, Decision, PatientAction, PatientPlace, SearchScope, decide_patient,
    may_register_resident, search_scope,
};
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::region::{DistrictCode, InstitutionId};
use gongti_core::resident::{FieldProblem, ResidentForm, validate};
use gongti_core::{IdNumber, Sex};
use gongti_store::{Page, ResidentFilter, ResidentRecord, StoreError};
use time::Date;

use crate::{App, AppError, AppResult, Ctx};

/// A resident as read by someone allowed to, with the ground of that access.
#[derive(Debug, Clone)]
pub struct ResidentView {
    pub record: ResidentRecord,
    pub basis: Basis,
}

/// Search criteria as the edges accept them.
#[derive(Debug, Clone, Default)]
pub struct ResidentQuery {
    /// Names starting with any of these (anyone when empty).
    pub name_prefixes: Vec<String>,
    /// Any of these, each matched exactly after normalisation (15→18 digits,
    /// upper-case X).
    pub id_numbers: Vec<String>,
    pub birth_date: Option<Date>,
    /// Born on or after / on or before (a birth-date range).
    pub born_from: Option<Date>,
    pub born_to: Option<Date>,
    /// Last changed at or after / before (microseconds).
    pub updated_from_us: Option<i64>,
    pub updated_until_us: Option<i64>,
    /// Any of these (either when empty).
    pub sexes: Vec<Sex>,
    pub home_institution_id: Option<i64>,
}

/// A search query that cannot match anything valid, reported as a field problem.
fn bad_query(field: &'static str, problem: gongti_core::resident::Problem) -> AppError {
    AppError::Invalid(vec![FieldProblem { field, problem }])
}

impl App {
    pub(crate) fn entry(&self, ctx: &Ctx, action: &str, outcome: Outcome) -> AuditEntry {
        let mut e = ctx
            .principal
            .audit(self.now_us(), action, "Resident", outcome);
        e.request_id = ctx.request_id.clone();
        e
    }

    /// Audits a refusal and returns the error to answer with.
    pub(crate) async fn refuse(&self, mut entry: AuditEntry, error: AppError) -> AppError {
        entry.outcome = match error {
            AppError::Invalid(_) | AppError::InvalidBatch(_) => Outcome::Invalid,
            AppError::NotFound => Outcome::NotFound,
            AppError::Forbidden | AppError::BreakGlassRequired => Outcome::Denied,
            AppError::Conflict(_) => Outcome::Invalid,
            _ => Outcome::Error,
        };
        if entry.detail.is_none() {
            entry.detail = Some(match &error {
                AppError::Invalid(problems) => problems
                    .iter()
                    .map(|p| format!("{}:{}", p.field, p.problem.code()))
                    .collect::<Vec<_>>()
                    .join(","),
                AppError::BreakGlassRequired => "break_glass_required".into(),
                AppError::Conflict(code) => (*code).into(),
                other => format!("{other}"),
            });
        }
        match self.audit.record(vec![entry]).await {
            Ok(()) => error,
            Err(audit_error) => audit_error,
        }
    }

    /// Registers a resident held by `home_institution_id` (the actor's institution when
    /// absent). Nothing is saved unless every rule passes.
    pub async fn register_resident(
        &self,
        ctx: &Ctx,
        form: &ResidentForm,
        home_institution_id: Option<i64>,
    ) -> AppResult<ResidentRecord> {
        let entry = self.entry(ctx, "resident.create", Outcome::Ok);
        let Some(home) = home_institution_id.or(ctx.principal.institution_id) else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        if !may_register_resident(&ctx.principal.actor(), InstitutionId(home)) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let valid = match validate(form, self.today()) {
            Ok(v) => v,
            Err(problems) => return Err(self.refuse(entry, AppError::Invalid(problems)).await),
        };
        let record = match self
            .registrar
            .register(valid, home, self.now_us(), entry.clone())
            .await
        {
            Ok(r) => r,
            Err(StoreError::Duplicate(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("id_number_taken"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        // The registrar answers once the record is in the chain.
        Ok(record)
    }

    pub(crate) fn place_of(record: &ResidentRecord, care: Vec<i64>) -> AppResult<PatientPlace> {
        Ok(PatientPlace {
            home_institution: InstitutionId(record.home_institution_id),
            home_district: DistrictCode::parse(&record.home_district_code)
                .map_err(|e| anyhow::anyhow!("stored district code: {e}"))?,
            care_institutions: care.into_iter().map(InstitutionId).collect(),
        })
    }

    /// Whether the actor works at `institution` and cares for the patient there: may
    /// write the record as its holder or through a care relationship (not by
    /// break-the-glass). The sending side of a referral or a consultation.
    pub(crate) async fn cares_from(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        institution: i64,
    ) -> AppResult<bool> {
        let actor = ctx.principal.actor();
        if actor.institution != Some(InstitutionId(institution)) {
            return Ok(false);
        }
        let (record, care) = self
            .store
            .resident_with_care(resident_id, self.now_us())
            .await?;
        let place = Self::place_of(&record, care)?;
        Ok(matches!(
            decide_patient(&actor, PatientAction::Write, &place, None),
            Decision::Allow(
                gongti_core::access::Basis::HomeInstitution
                    | gongti_core::access::Basis::CareRelationship
            )
        ))
    }

    /// Reads one resident, for `action` (read or write), if the rules allow.
    pub(crate) async fn reach(
        &self,
        ctx: &Ctx,
        id: i64,
        action: PatientAction,
        audit_action: &str,
        break_glass_reason: Option<&str>,
    ) -> AppResult<(ResidentView, AuditEntry)> {
        let mut entry = self.entry(ctx, audit_action, Outcome::Ok);
        entry.resource_id = Some(id.to_string());
        entry.reason = break_glass_reason.map(str::to_owned);
        let (record, care) = match self.store.resident_with_care(id, self.now_us()).await {
            Ok(found) => found,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        entry.patient_id = Some(record.id);
        let place = Self::place_of(&record, care)?;
        match decide_patient(&ctx.principal.actor(), action, &place, break_glass_reason) {
            Decision::Allow(basis) => {
                entry.detail = Some(basis.code().to_owned());
                Ok((ResidentView { record, basis }, entry))
            }
            Decision::BreakGlassRequired => {
                Err(self.refuse(entry, AppError::BreakGlassRequired).await)
            }
            Decision::Deny => Err(self.refuse(entry, AppError::Forbidden).await),
        }
    }

    /// Reads one resident's record.
    pub async fn read_resident(
        &self,
        ctx: &Ctx,
        id: i64,
        break_glass_reason: Option<&str>,
    ) -> AppResult<ResidentView> {
        let (view, entry) = self
            .reach(
                ctx,
                id,
                PatientAction::Read,
                "resident.read",
                break_glass_reason,
            )
            .await?;
        self.audit.record(vec![entry]).await?;
        Ok(view)
    }

    /// The resident a record belongs to: the key for a read by the record's id, whose
    /// access is then decided on the resident as for any read of their records.
    pub async fn record_owner(&self, table: gongti_store::PatientTable, id: i64) -> AppResult<i64> {
        Ok(self.store.resident_of(table, id).await?)
    }

    /// Searches residents within the actor's reach; each listed resident is audited.
    pub async fn search_residents(
        &self,
        ctx: &Ctx,
        query: &ResidentQuery,
        after: Option<i64>,
        limit: u32,
        break_glass_reason: Option<&str>,
    ) -> AppResult<(Page<ResidentRecord>, SearchScope)> {
        let (page, scope, _) = self
            .search_residents_counted(ctx, query, after, limit, break_glass_reason, false)
            .await?;
        Ok((page, scope))
    }

    /// [`App::search_residents`], with how many residents match in all when `count`
    /// (a FHIR search's `Bundle.total`), within the same access scope.
    pub async fn search_residents_counted(
        &self,
        ctx: &Ctx,
        query: &ResidentQuery,
        after: Option<i64>,
        limit: u32,
        break_glass_reason: Option<&str>,
        count: bool,
    ) -> AppResult<(Page<ResidentRecord>, SearchScope, Option<i64>)> {
        let mut entry = self.entry(ctx, "resident.search", Outcome::Ok);
        entry.reason = break_glass_reason.map(str::to_owned);
        let scope = match search_scope(&ctx.principal.actor(), break_glass_reason) {
            Ok(scope) => scope,
            Err(Decision::BreakGlassRequired) => {
                return Err(self.refuse(entry, AppError::BreakGlassRequired).await);
            }
            Err(_) => return Err(self.refuse(entry, AppError::Forbidden).await),
        };
        let mut id_numbers = Vec::with_capacity(query.id_numbers.len());
        for raw in query
            .id_numbers
            .iter()
            .map(|n| n.trim())
            .filter(|s| !s.is_empty())
        {
            match IdNumber::parse(raw, self.today()) {
                Ok(id) => id_numbers.push(id.as_str().to_owned()),
                Err(e) => {
                    let error = bad_query("id_number", gongti_core::resident::Problem::IdNumber(e));
                    return Err(self.refuse(entry, error).await);
                }
            }
        }
        let mut filter = ResidentFilter {
            name_prefixes: query
                .name_prefixes
                .iter()
                .filter(|n| !n.trim().is_empty())
                .cloned()
                .collect(),
            id_numbers,
            birth_date: query.birth_date,
            born_from: query.born_from,
            born_to: query.born_to,
            updated_from_us: query.updated_from_us,
            updated_until_us: query.updated_until_us,
            sexes: query.sexes.clone(),
            home_institution_id: query.home_institution_id,
            ..ResidentFilter::default()
        };
        match &scope {
            SearchScope::Institution(own) => {
                if filter
                    .home_institution_id
                    .is_some_and(|asked| asked != own.0)
                {
                    return Err(self.refuse(entry, AppError::Forbidden).await);
                }
                if !filter.id_numbers.is_empty() && filter.home_institution_id.is_none() {
                    // One person by their ID number: registered here or in this
                    // institution's care now (a hospital finds a referred patient).
                    filter.reach = Some((own.0, crate::unix_us(self.now())));
                } else {
                    filter.home_institution_id = Some(own.0);
                }
            }
            SearchScope::District(d) => filter.home_district_code = Some(d.as_str().to_owned()),
            SearchScope::City => {}
        }
        let page = self.store.residents(&filter, after, limit).await?;
        let total = if count {
            Some(self.store.residents_count(&filter).await?)
        } else {
            None
        };
        let basis = |r: &ResidentRecord| match scope {
            SearchScope::Institution(own) if r.home_institution_id == own.0 => "home_institution",
            SearchScope::Institution(_) => "care_relationship",
            _ => "break_glass",
        };
        let entries = if page.items.is_empty() {
            entry.detail = Some("no_match".into());
            vec![entry]
        } else {
            page.items
                .iter()
                .map(|r| {
                    let mut e = entry.clone();
                    e.resource_id = Some(r.id.to_string());
                    e.patient_id = Some(r.id);
                    e.detail = Some(basis(r).into());
                    e
                })
                .collect()
        };
        self.audit.record(entries).await?;
        Ok((page, scope, total))
    }

    /// Corrects a resident's demographics; the same rules as registration apply.
    /// Updates a resident's record; with `expected_version`, only if it is still at
    /// that version (`Conflict("version_changed")` otherwise).
    pub async fn update_resident(
        &self,
        ctx: &Ctx,
        id: i64,
        form: &ResidentForm,
        expected_version: Option<i64>,
    ) -> AppResult<ResidentRecord> {
        let (_, entry) = self
            .reach(ctx, id, PatientAction::Write, "resident.update", None)
            .await?;
        let valid = match validate(form, self.today()) {
            Ok(v) => v,
            Err(problems) => return Err(self.refuse(entry, AppError::Invalid(problems)).await),
        };
        let record = match self
            .store
            .update_resident(
                id,
                &valid,
                self.now_us(),
                expected_version,
                std::slice::from_ref(&entry),
            )
            .await
        {
            Ok(r) => r,
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("version_changed"))
                    .await);
            }
            Err(StoreError::Duplicate(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("id_number_taken"))
                    .await);
            }
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        Ok(record)
    }

    /// Merges the record `merged` into `survivor` (two records of one person). Both must
    /// be within the actor's merge rights; the reason is kept in the audit trail.
    pub async fn merge_residents(
        &self,
        ctx: &Ctx,
        survivor: i64,
        merged: i64,
        reason: &str,
    ) -> AppResult<()> {
        if survivor == merged || reason.trim().is_empty() {
            let problem = if survivor == merged {
                "merged"
            } else {
                "reason"
            };
            let e = self.entry(ctx, "resident.merge", Outcome::Invalid);
            return Err(self
                .refuse(
                    e,
                    bad_query(problem, gongti_core::resident::Problem::Required),
                )
                .await);
        }
        let (_, keep) = self
            .reach(
                ctx,
                survivor,
                PatientAction::Merge,
                "resident.merge",
                Some(reason),
            )
            .await?;
        let (_, gone) = self
            .reach(
                ctx,
                merged,
                PatientAction::Merge,
                "resident.merge",
                Some(reason),
            )
            .await?;
        let mut records = [keep.clone(), gone.clone()];
        records[0].detail = Some(format!("survivor; merged={merged}"));
        records[1].detail = Some(format!("merged_into={survivor}"));
        if let Err(e) = self
            .store
            .merge_residents(survivor, merged, self.now_us(), &records)
            .await
        {
            let error = match e {
                StoreError::NotFound => AppError::Conflict("already_merged"),
                other => other.into(),
            };
            return Err(self.refuse(gone, error).await);
        }
        self.audit.flush().await
    }

    /// The audit trail of one resident's record, newest first, for those who may read it.
    pub async fn resident_access_log(
        &self,
        ctx: &Ctx,
        id: i64,
        before_seq: Option<i64>,
        limit: u32,
    ) -> AppResult<Vec<gongti_core::audit::ChainedEntry>> {
        let (_, entry) = self
            .reach(ctx, id, PatientAction::Read, "resident.read_audit", None)
            .await?;
        self.audit.record(vec![entry]).await?;
        Ok(self
            .store
            .audit_for_patient(id, before_seq, limit)
            .await?
            .records)
    }
}
