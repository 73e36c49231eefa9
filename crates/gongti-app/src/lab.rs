//! Laboratory results (`gongti_core::lab`): recorded by a clinician or a laboratory's
//! client system for residents within its reach, idempotent on the sender's id, and
//! counted in the chronic-care indicators on their collection day (DOMAIN.md §2).

use std::collections::BTreeMap;

use gongti_core::access::PatientAction;
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::lab::{LabResultForm, ValidLabResult, validate_lab_result};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_store::{EnrolmentScope, LabOutcome, LabResultRecord, NewLabResult};

use crate::{App, AppError, AppResult, Ctx};

/// Most results in one request.
pub const LAB_BATCH_MAX: usize = 1_000;

impl App {
    /// Every enrolment of a resident, with its counter scopes: the kept figures a
    /// result of theirs changes.
    pub(crate) async fn enrolment_scopes(
        &self,
        resident_id: i64,
    ) -> AppResult<Vec<EnrolmentScope>> {
        let mut out = Vec::new();
        for e in self.store.enrolments_of_resident(resident_id).await? {
            out.push(EnrolmentScope {
                enrolment_id: e.id,
                disease: e.disease,
                enrolled_on: e.enrolled_on,
                ended_on: e.ended_on,
                scopes: self.counter_scopes(e.institution_id).await?,
            });
        }
        Ok(out)
    }

    /// Records laboratory results of one or more residents. Every result is checked
    /// first and every resident must be within the actor's reach to write, or nothing
    /// is stored. A result the resident already has (the same sender's id) is answered
    /// with its id and changes nothing.
    pub async fn record_lab_results(
        &self,
        ctx: &Ctx,
        items: Vec<(i64, LabResultForm)>,
    ) -> AppResult<Vec<LabOutcome>> {
        let mut entry = self.entry(ctx, "lab.record", Outcome::Ok);
        entry.resource_type = "Observation".into();
        if items.is_empty() || items.len() > LAB_BATCH_MAX {
            let problem = if items.is_empty() {
                Problem::Required
            } else {
                Problem::TooLong {
                    max_chars: LAB_BATCH_MAX,
                }
            };
            let error = AppError::Invalid(vec![FieldProblem::new("results", problem)]);
            return Err(self.refuse(entry, error).await);
        }
        let Some(institution_id) = ctx.principal.institution_id else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        let today = self.today();
        let mut valid: Vec<(i64, ValidLabResult)> = Vec::with_capacity(items.len());
        let mut problems = Vec::new();
        for (index, (resident_id, form)) in items.iter().enumerate() {
            match validate_lab_result(form, today) {
                Ok(v) => valid.push((*resident_id, v)),
                Err(ps) => problems.extend(ps.into_iter().map(|p| (index, p))),
            }
        }
        if !problems.is_empty() {
            entry.detail = Some(format!("{} problems", problems.len()));
            return Err(self.refuse(entry, AppError::InvalidBatch(problems)).await);
        }
        // Every resident within reach (a refusal is audited by `reach`).
        let mut residents: BTreeMap<i64, (AuditEntry, Vec<EnrolmentScope>)> = BTreeMap::new();
        for (resident_id, _) in &valid {
            if residents.contains_key(resident_id) {
                continue;
            }
            let (_, mut e) = self
                .reach(ctx, *resident_id, PatientAction::Write, "lab.record", None)
                .await?;
            e.resource_type = "Observation".into();
            e.resource_id = None;
            let enrolments = self.enrolment_scopes(*resident_id).await?;
            residents.insert(*resident_id, (e, enrolments));
        }
        let rows: Vec<NewLabResult<'_>> = valid
            .iter()
            .map(|(resident_id, result)| {
                let (audit, enrolments) = &residents[resident_id];
                let mut audit = audit.clone();
                audit.detail = Some(result.test.code().into());
                NewLabResult {
                    resident_id: *resident_id,
                    result,
                    institution_id,
                    enrolments: enrolments.clone(),
                    audit,
                }
            })
            .collect();
        let outcomes = self
            .store
            .insert_lab_results(&rows, ctx.principal.user_id, self.now_us(), &self.chronic)
            .await?;
        self.audit.flush().await?;
        Ok(outcomes)
    }

    /// A resident's laboratory results, newest collection first.
    pub async fn resident_lab_results(
        &self,
        ctx: &Ctx,
        resident_id: i64,
    ) -> AppResult<Vec<LabResultRecord>> {
        let (_, mut entry) = self
            .reach(ctx, resident_id, PatientAction::Read, "lab.list", None)
            .await?;
        entry.resource_type = "Observation".into();
        let list = self.store.lab_results_of_resident(resident_id).await?;
        self.audit.record(vec![entry]).await?;
        Ok(list)
    }
}
