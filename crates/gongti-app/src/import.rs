//! Bringing a region's existing records in: residents and their enrolments from the
//! days they really began (a FHIR transaction Bundle), decided and validated item by
//! item as the single use cases decide them — registration, update, enrolment — then
//! written in one transaction with every audit record (`Store::import`): all of it or
//! nothing. Every problem of every item is reported at once, with the item's index.

use gongti_core::access::{PatientAction, may_register_resident};
use gongti_core::audit::Outcome;
use gongti_core::chronic::Disease;
use gongti_core::chronic::record::{EnrolmentForm, validate_enrolment};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_core::region::InstitutionId;
use gongti_core::resident::{ResidentForm, validate};
use gongti_store::{
    ImportEnrolment, ImportPatient, ImportPlan, ImportRegistration, ImportUpdate, NewEnrolment,
    ResidentFilter, RiskProfile, StoreError,
};

use crate::chronic::{RiskBasis, risk_of};
use crate::{App, AppError, AppResult, Ctx};

/// One item of an import, in the order given.
#[derive(Debug, Clone)]
pub enum ImportItem {
    /// Register a resident at `home` (the actor's institution when absent); with
    /// `if_none_exist`, a resident already registered with the ID number is the answer.
    Register {
        form: ResidentForm,
        home: Option<i64>,
        if_none_exist: bool,
    },
    /// Replace a resident's record (only at `expected_version`, when given).
    Update {
        id: i64,
        form: ResidentForm,
        expected_version: Option<i64>,
    },
    /// Enrol a resident in the programme the ICD-10 code names, from the day management
    /// began (`form.enrolled_on`), at the actor's institution.
    Enrol {
        patient: Target,
        form: EnrolmentForm,
    },
}

/// The resident an item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The resident of the `Register` item at this index.
    Item(usize),
    Resident(i64),
}

/// What an item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    Registered(i64),
    /// A conditional registration found the resident already registered.
    Found(i64),
    Updated(i64),
    /// The enrolment's id, and its resident.
    Enrolled {
        enrolment: i64,
        resident: i64,
    },
}

/// What the plan's items stand for, to answer in the items' order.
enum Planned {
    Registration(usize),
    Found(i64),
    Update(i64),
    Enrolment(usize, ImportPatient),
}

impl App {
    /// Imports `items` in one transaction: every item's outcome, in order, or nothing.
    /// With `check_only`, decides and validates every item and writes nothing (no
    /// outcomes): the problems of a Bundle whose other entries could not be read.
    pub async fn import(
        &self,
        ctx: &Ctx,
        items: &[ImportItem],
        check_only: bool,
    ) -> AppResult<Vec<ImportOutcome>> {
        let today = self.today();
        let actor = ctx.principal.actor();
        let mut plan = ImportPlan::default();
        let mut planned = Vec::with_capacity(items.len());
        let mut problems: Vec<(usize, FieldProblem)> = Vec::new();
        // Each item's registration in the plan (for enrolments naming it), and the
        // resident a conditional registration found.
        let mut registration_of: Vec<Option<usize>> = vec![None; items.len()];
        let mut found: Vec<Option<i64>> = vec![None; items.len()];
        let mut id_numbers = std::collections::HashSet::new();
        let mut programmes = std::collections::HashSet::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                ImportItem::Register {
                    form,
                    home,
                    if_none_exist,
                } => {
                    let entry = self.entry(ctx, "resident.create", Outcome::Ok);
                    let Some(home) = home.or(ctx.principal.institution_id) else {
                        return Err(self.refuse(entry, AppError::Forbidden).await);
                    };
                    if !may_register_resident(&actor, InstitutionId(home)) {
                        return Err(self.refuse(entry, AppError::Forbidden).await);
                    }
                    let valid = match validate(form, today) {
                        Ok(v) => v,
                        Err(found) => {
                            problems.extend(found.into_iter().map(|p| (i, p)));
                            continue;
                        }
                    };
                    if !id_numbers.insert(valid.id_number.as_str().to_owned()) {
                        problems.push((
                            i,
                            FieldProblem::new(
                                "id_number",
                                Problem::Inconsistent { with: "id_number" },
                            ),
                        ));
                        continue;
                    }
                    if *if_none_exist {
                        let filter = ResidentFilter {
                            id_number: Some(valid.id_number.as_str().to_owned()),
                            ..Default::default()
                        };
                        if let Some(existing) =
                            self.store.residents(&filter, None, 1).await?.items.first()
                        {
                            // Answered as a read of that resident (decided and audited).
                            let (view, entry) = self
                                .reach(ctx, existing.id, PatientAction::Read, "resident.read", None)
                                .await?;
                            self.audit.record(vec![entry]).await?;
                            found[i] = Some(view.record.id);
                            planned.push(Planned::Found(view.record.id));
                            continue;
                        }
                    }
                    registration_of[i] = Some(plan.registrations.len());
                    planned.push(Planned::Registration(plan.registrations.len()));
                    plan.registrations.push(ImportRegistration {
                        resident: valid,
                        home_institution_id: home,
                        audit: entry,
                    });
                }
                ImportItem::Update {
                    id,
                    form,
                    expected_version,
                } => {
                    let (_, entry) = self
                        .reach(ctx, *id, PatientAction::Write, "resident.update", None)
                        .await?;
                    match validate(form, today) {
                        Ok(valid) => {
                            planned.push(Planned::Update(*id));
                            plan.updates.push(ImportUpdate {
                                id: *id,
                                resident: valid,
                                expected_version: *expected_version,
                                audit: entry,
                            });
                        }
                        Err(found) => problems.extend(found.into_iter().map(|p| (i, p))),
                    }
                }
                ImportItem::Enrol { patient, form } => {
                    // The resident: one the bundle registers, or one the actor may write.
                    let (target, birth_date, sex, mut entry, institution) = match *patient {
                        Target::Item(j) => match (
                            registration_of.get(j).copied().flatten(),
                            found.get(j).copied().flatten(),
                        ) {
                            (Some(k), _) => {
                                let mut entry = self.entry(ctx, "chronic.enrol", Outcome::Ok);
                                entry.resource_type = "EpisodeOfCare".into();
                                let Some(institution) = ctx
                                    .principal
                                    .institution_id
                                    .filter(|_| ctx.principal.role.is_clinical())
                                else {
                                    return Err(self.refuse(entry, AppError::Forbidden).await);
                                };
                                let r = &plan.registrations[k].resident;
                                (
                                    ImportPatient::New(k),
                                    r.birth_date,
                                    r.sex,
                                    entry,
                                    institution,
                                )
                            }
                            (None, Some(id)) => {
                                let (record, entry, institution) = self
                                    .clinical_write(ctx, id, "chronic.enrol", "EpisodeOfCare")
                                    .await?;
                                (
                                    ImportPatient::Existing(id),
                                    record.birth_date,
                                    record.sex,
                                    entry,
                                    institution,
                                )
                            }
                            (None, None) => {
                                problems
                                    .push((i, FieldProblem::new("patient", Problem::NotAllowed)));
                                continue;
                            }
                        },
                        Target::Resident(id) => {
                            let (record, entry, institution) = self
                                .clinical_write(ctx, id, "chronic.enrol", "EpisodeOfCare")
                                .await?;
                            (
                                ImportPatient::Existing(id),
                                record.birth_date,
                                record.sex,
                                entry,
                                institution,
                            )
                        }
                    };
                    let valid = match validate_enrolment(form, birth_date, today) {
                        Ok(v) => v,
                        Err(found) => {
                            problems.extend(found.into_iter().map(|p| (i, p)));
                            continue;
                        }
                    };
                    if !programmes.insert((target, valid.disease)) {
                        problems.push((
                            i,
                            FieldProblem::new("icd10", Problem::Inconsistent { with: "patient" }),
                        ));
                        continue;
                    }
                    let diabetes = match target {
                        _ if programmes.contains(&(target, Disease::Diabetes)) => {
                            gongti_core::chronic::risk::DiabetesStatus::WithoutComplications
                        }
                        ImportPatient::Existing(id) => self.diabetes_status(id).await?,
                        ImportPatient::New(_) => gongti_core::chronic::risk::DiabetesStatus::None,
                    };
                    let profile = RiskProfile::default();
                    let risk = (valid.disease == Disease::Hypertension).then(|| {
                        risk_of(&RiskBasis {
                            sex,
                            birth_date,
                            profile: &profile,
                            highest_bp: None,
                            bmi_centi: None,
                            waist_cm: None,
                            diabetes,
                            today,
                        })
                    });
                    entry.resource_id = None;
                    entry.detail = Some(valid.disease.code().into());
                    let enrolled_on = valid.enrolled_on;
                    planned.push(Planned::Enrolment(plan.enrolments.len(), target));
                    plan.enrolments.push(ImportEnrolment {
                        patient: target,
                        enrolment: NewEnrolment {
                            resident_id: 0,
                            enrolment: valid,
                            institution_id: institution,
                            enrolled_on,
                            staff_id: ctx.principal.staff_id,
                            profile,
                            risk,
                            scopes: Some(self.counter_scopes(institution).await?),
                        },
                        audit: entry,
                    });
                }
            }
        }
        let mut refusal = self.entry(ctx, "import.transaction", Outcome::Ok);
        refusal.resource_type = "Bundle".into();
        if !problems.is_empty() {
            return Err(self.refuse(refusal, AppError::InvalidBatch(problems)).await);
        }
        if check_only {
            return Ok(Vec::new());
        }
        let imported = match self.store.import(&plan, self.now_us()).await {
            Ok(done) => done,
            Err(StoreError::Duplicate(index)) => {
                let code = if index.contains("id_number") {
                    "id_number_taken"
                } else {
                    "already_enrolled"
                };
                return Err(self.refuse(refusal, AppError::Conflict(code)).await);
            }
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(refusal, AppError::Conflict("version_changed"))
                    .await);
            }
            Err(StoreError::NotFound) => {
                return Err(self.refuse(refusal, AppError::NotFound).await);
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        // A diabetes enrolment is a row of an existing hypertension enrolment's risk table.
        for e in &plan.enrolments {
            if let (ImportPatient::Existing(id), Disease::Diabetes) =
                (e.patient, e.enrolment.enrolment.disease)
                && !programmes.contains(&(e.patient, Disease::Hypertension))
            {
                let record = self.store.resident(id).await?;
                self.restratify(&record, None, &[]).await?;
            }
        }
        let resident_of = |p: ImportPatient| match p {
            ImportPatient::New(k) => imported.residents[k],
            ImportPatient::Existing(id) => id,
        };
        Ok(planned
            .into_iter()
            .map(|p| match p {
                Planned::Registration(k) => ImportOutcome::Registered(imported.residents[k]),
                Planned::Found(id) => ImportOutcome::Found(id),
                Planned::Update(id) => ImportOutcome::Updated(id),
                Planned::Enrolment(k, target) => ImportOutcome::Enrolled {
                    enrolment: imported.enrolments[k],
                    resident: resident_of(target),
                },
            })
            .collect())
    }
}
