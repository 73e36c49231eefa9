//! Bringing a region's existing records in: residents and their enrolments from the
//! days they really began (a FHIR transaction Bundle), decided and validated item by
//! item as the single use cases decide them — registration, update, enrolment — then
//! written in one transaction with every audit record (`Store::import`): all of it or
//! nothing. Every problem of every item is reported at once, with the item's index.

use gongti_core::access::{PatientAction, may_register_resident};
use gongti_core::audit::Outcome;
use gongti_core::chronic::readings::{ReadingForm, urgent_reading, validate_reading};
use gongti_core::chronic::record::{
    Earliest, EnrolmentForm, FollowupRecordForm, validate_enrolment, validate_record_within,
};
use gongti_core::chronic::{Disease, RULESET_VERSION};
use gongti_core::lab::{LabResultForm, validate_lab_result};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_core::region::InstitutionId;
use gongti_core::resident::{ResidentForm, validate};
use gongti_store::{
    ImportEnrolment, ImportEnrolmentRef, ImportFollowup, ImportLab, ImportPatient, ImportPlan,
    ImportReading, ImportRegistration, ImportRisk, ImportUpdate, NewEnrolment, PatientTable,
    RecordTable, ResidentFilter, RiskProfile, StoreError,
};
use time::Date;

use crate::chronic::{Course, Judged, RiskBasis, age_on, judge, risk_of};
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
    /// Record a follow-up visit of an enrolment on its real day (any day since
    /// management began), judged by the rules like any other — an enrolment's visits
    /// in the order of their days.
    Followup {
        programme: Programme,
        form: Box<FollowupRecordForm>,
    },
    /// Record a laboratory result of a resident (counted in every programme they are
    /// in, on its collection day); the resident's stored result with the same
    /// sender's id is the answer.
    LabResult {
        patient: Target,
        form: LabResultForm,
    },
    /// Store a home reading of a resident (contact in every programme they are in; an
    /// urgent one raises its alert); the resident's stored reading with the same
    /// client id is the answer.
    Reading { patient: Target, form: ReadingForm },
}

/// The enrolment a follow-up belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Programme {
    /// The enrolment of the `Enrol` item at this index.
    Item(usize),
    Enrolment(i64),
}

/// The resident an item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The follow-up's id.
    Recorded {
        followup: i64,
    },
    /// The laboratory result's id; `created` is false for one already stored.
    LabRecorded {
        result: i64,
        created: bool,
    },
    /// The home reading's id; `created` is false for one already stored.
    ReadingRecorded {
        reading: i64,
        created: bool,
    },
}

/// An enrolment's state as its imported follow-ups are judged in visit order.
struct Progress {
    enrolment: ImportEnrolmentRef,
    patient: ImportPatient,
    /// What the rules read of the enrolment, kept up to date visit by visit.
    course: Course,
    diagnosed_on: Date,
    enrolled_on: Date,
    scopes: [String; 3],
    /// The stored enrolment (its earlier classifications come from the store).
    stored: Option<i64>,
}

/// Who `patient` is: the plan's registration of its item, or the stored resident (one
/// named, or found by the item's conditional registration).
fn whose(
    patient: Target,
    registration_of: &[Option<usize>],
    found: &[Option<i64>],
) -> (Option<usize>, Option<i64>) {
    match patient {
        Target::Item(j) => (
            registration_of.get(j).copied().flatten(),
            found.get(j).copied().flatten(),
        ),
        Target::Resident(id) => (None, Some(id)),
    }
}

/// What the plan's items stand for, to answer in the items' order.
#[derive(Debug, Clone, Copy)]
enum Planned {
    /// Not planned: the item has problems (and nothing is written).
    Refused,
    Registration(usize),
    Found(i64),
    Update(i64),
    Enrolment(usize, ImportPatient),
    Followup(usize),
    LabResult(usize),
    Reading(usize),
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
        let mut planned = vec![Planned::Refused; items.len()];
        let mut problems: Vec<(usize, FieldProblem)> = Vec::new();
        // Each item's registration in the plan (for enrolments naming it), and the
        // resident a conditional registration found.
        let mut registration_of: Vec<Option<usize>> = vec![None; items.len()];
        let mut enrolment_of: Vec<Option<usize>> = vec![None; items.len()];
        let mut found: Vec<Option<i64>> = vec![None; items.len()];
        let mut id_numbers = std::collections::HashSet::new();
        // Whose diabetes the Bundle itself enrols, wherever its entry stands: a row of
        // their hypertension risk.
        let diabetic: std::collections::HashSet<Target> = items
            .iter()
            .filter_map(|item| match item {
                ImportItem::Enrol { patient, form }
                    if Disease::from_icd10(&form.icd10) == Some(Disease::Diabetes) =>
                {
                    Some(*patient)
                }
                _ => None,
            })
            .collect();
        let mut programmes = std::collections::HashSet::new();
        // Stored residents with readings in the import: the record of their upload and
        // the enrolments the readings count in.
        let mut reading_residents: std::collections::HashMap<
            i64,
            (
                gongti_core::audit::AuditEntry,
                Vec<gongti_store::EnrolmentScope>,
            ),
        > = std::collections::HashMap::new();
        // Each institution's counter scopes, read once.
        let mut institution_scopes: std::collections::HashMap<i64, [String; 3]> =
            std::collections::HashMap::new();
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
                            id_numbers: vec![valid.id_number.as_str().to_owned()],
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
                            planned[i] = Planned::Found(view.record.id);
                            continue;
                        }
                    }
                    registration_of[i] = Some(plan.registrations.len());
                    planned[i] = Planned::Registration(plan.registrations.len());
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
                            planned[i] = Planned::Update(*id);
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
                ImportItem::Followup { .. } => {
                    // Judged below, each enrolment's visits in the order of their days.
                    planned[i] = Planned::Followup(usize::MAX);
                }
                ImportItem::LabResult { patient, form } => {
                    let (new, stored) = whose(*patient, &registration_of, &found);
                    let mut entry = self.entry(ctx, "lab.record", Outcome::Ok);
                    entry.resource_type = "Observation".into();
                    let Some(institution) = ctx.principal.institution_id else {
                        return Err(self.refuse(entry, AppError::Forbidden).await);
                    };
                    let (target, enrolments) = match (new, stored) {
                        (Some(k), _) => (ImportPatient::New(k), Vec::new()),
                        (None, Some(id)) => {
                            let (e, enrolments) = self.measured_of(ctx, id, "lab.record").await?;
                            entry = e;
                            (ImportPatient::Existing(id), enrolments)
                        }
                        (None, None) => {
                            problems.push((i, FieldProblem::new("subject", Problem::NotAllowed)));
                            continue;
                        }
                    };
                    match validate_lab_result(form, today) {
                        Ok(result) => {
                            entry.detail = Some(result.test.code().into());
                            planned[i] = Planned::LabResult(plan.lab_results.len());
                            plan.lab_results.push(ImportLab {
                                patient: target,
                                result,
                                institution_id: institution,
                                entered_by_user_id: ctx.principal.user_id,
                                enrolments,
                                audit: entry,
                            });
                        }
                        Err(found) => problems.extend(found.into_iter().map(|p| (i, p))),
                    }
                }
                ImportItem::Reading { patient, form } => {
                    let (new, stored) = whose(*patient, &registration_of, &found);
                    let (target, enrolments, entry) = match (new, stored) {
                        (Some(k), _) => {
                            let mut entry = self.entry(ctx, "reading.upload", Outcome::Ok);
                            entry.resource_type = "Observation".into();
                            (ImportPatient::New(k), Vec::new(), entry)
                        }
                        // A stored resident's reach and enrolments, decided once.
                        (None, Some(id)) => match reading_residents.get(&id) {
                            Some((entry, enrolments)) => (
                                ImportPatient::Existing(id),
                                enrolments.clone(),
                                entry.clone(),
                            ),
                            None => {
                                let (entry, enrolments) =
                                    self.measured_of(ctx, id, "reading.upload").await?;
                                reading_residents.insert(id, (entry.clone(), enrolments.clone()));
                                (ImportPatient::Existing(id), enrolments, entry)
                            }
                        },
                        (None, None) => {
                            problems.push((i, FieldProblem::new("subject", Problem::NotAllowed)));
                            continue;
                        }
                    };
                    match validate_reading(form, self.now_us()) {
                        Ok(reading) => {
                            let alert = urgent_reading(&reading.value, &self.chronic)
                                .map(|reason| (reason.code(), today));
                            planned[i] = Planned::Reading(plan.readings.len());
                            plan.readings.push(ImportReading {
                                patient: target,
                                taken_on: crate::readings::local_day(reading.taken_at_us),
                                reading,
                                alert,
                                uploaded_by_user_id: ctx.principal.user_id,
                                enrolments,
                                audit: entry,
                            });
                        }
                        Err(found) => problems.extend(found.into_iter().map(|p| (i, p))),
                    }
                }
                ImportItem::Enrol { patient, form } => {
                    // The resident: one the Bundle registers, or one stored (named, or
                    // found by a conditional registration) that the actor may write.
                    let (new, stored) = whose(*patient, &registration_of, &found);
                    let (target, birth_date, sex, mut entry, institution) = match (new, stored) {
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
                            let (birth, sex) = (record.birth_date, record.sex);
                            (ImportPatient::Existing(id), birth, sex, entry, institution)
                        }
                        (None, None) => {
                            problems.push((i, FieldProblem::new("patient", Problem::NotAllowed)));
                            continue;
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
                    let diabetes = match (diabetic.contains(patient), target) {
                        (true, _) => {
                            gongti_core::chronic::risk::DiabetesStatus::WithoutComplications
                        }
                        (false, ImportPatient::Existing(id)) => self.diabetes_status(id).await?,
                        (false, ImportPatient::New(_)) => {
                            gongti_core::chronic::risk::DiabetesStatus::None
                        }
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
                    enrolment_of[i] = Some(plan.enrolments.len());
                    planned[i] = Planned::Enrolment(plan.enrolments.len(), target);
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
                            scopes: Some(match institution_scopes.get(&institution) {
                                Some(s) => s.clone(),
                                None => {
                                    let s = self.counter_scopes(institution).await?;
                                    institution_scopes.insert(institution, s.clone());
                                    s
                                }
                            }),
                        },
                        // A stored resident's earlier readings and results count in
                        // the new enrolment.
                        history: match target {
                            ImportPatient::Existing(id) => self.indicator_history(id).await?,
                            ImportPatient::New(_) => Vec::new(),
                        },
                        audit: entry,
                    });
                }
            }
        }
        self.judge_followups(
            ctx,
            items,
            &enrolment_of,
            &mut plan,
            &mut planned,
            &mut problems,
        )
        .await?;
        self.plan_restratified(ctx, &mut plan).await?;
        let mut refusal = self.entry(ctx, "import.transaction", Outcome::Ok);
        refusal.resource_type = "Bundle".into();
        if !problems.is_empty() {
            return Err(self.refuse(refusal, AppError::InvalidBatch(problems)).await);
        }
        if check_only {
            return Ok(Vec::new());
        }
        let imported = match self
            .store
            .import(plan, self.chronic.clone(), RULESET_VERSION, self.now_us())
            .await
        {
            Ok(done) => done,
            Err(StoreError::Duplicate(index)) => {
                let code = if index.contains("id_number") {
                    "id_number_taken"
                } else {
                    "already_enrolled"
                };
                return Err(self.refuse(refusal, AppError::Conflict(code)).await);
            }
            // A record that moved on from the version the update gave, or an enrolment
            // ended meanwhile.
            Err(StoreError::Changed(what)) => {
                let code = if what == "version" {
                    "version_changed"
                } else {
                    "not_enrolled"
                };
                return Err(self.refuse(refusal, AppError::Conflict(code)).await);
            }
            Err(StoreError::NotFound) => {
                return Err(self.refuse(refusal, AppError::NotFound).await);
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush_through(imported.audit_through).await?;
        // Every item of a plan written has its outcome (the ids the store returned).
        let missing = || AppError::Internal(anyhow::anyhow!("an imported item without its id"));
        let id = |list: &[i64], k: usize| list.get(k).copied().ok_or_else(missing);
        let mut outcomes = Vec::with_capacity(planned.len());
        for p in planned {
            outcomes.push(match p {
                Planned::Registration(k) => ImportOutcome::Registered(id(&imported.residents, k)?),
                Planned::Found(r) => ImportOutcome::Found(r),
                Planned::Update(r) => ImportOutcome::Updated(r),
                Planned::Enrolment(k, target) => ImportOutcome::Enrolled {
                    enrolment: id(&imported.enrolments, k)?,
                    resident: match target {
                        ImportPatient::New(r) => id(&imported.residents, r)?,
                        ImportPatient::Existing(r) => r,
                    },
                },
                Planned::Followup(k) => ImportOutcome::Recorded {
                    followup: id(&imported.followups, k)?,
                },
                Planned::LabResult(k) => {
                    let &(result, created) = imported.lab_results.get(k).ok_or_else(missing)?;
                    ImportOutcome::LabRecorded { result, created }
                }
                Planned::Reading(k) => {
                    let &(reading, created) = imported.readings.get(k).ok_or_else(missing)?;
                    ImportOutcome::ReadingRecorded { reading, created }
                }
                Planned::Refused => return Err(missing()),
            });
        }
        Ok(outcomes)
    }

    /// Judges the follow-up items: each enrolment's in the order of their days, with
    /// the classification before each (imported or stored) as the rules read it, and
    /// plans them in that order.
    async fn judge_followups(
        &self,
        ctx: &Ctx,
        items: &[ImportItem],
        enrolment_of: &[Option<usize>],
        plan: &mut ImportPlan,
        planned: &mut [Planned],
        problems: &mut Vec<(usize, FieldProblem)>,
    ) -> AppResult<()> {
        let today = self.today();
        let mut courses: Vec<Progress> = Vec::new();
        // (course, visit day, item index)
        let mut visits: Vec<(usize, Date, usize)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ImportItem::Followup { programme, form } = item else {
                continue;
            };
            let key = match *programme {
                Programme::Item(j) => match enrolment_of.get(j).copied().flatten() {
                    Some(k) => ImportEnrolmentRef::New(k),
                    None => {
                        problems.push((i, FieldProblem::new("episodeOfCare", Problem::NotAllowed)));
                        continue;
                    }
                },
                Programme::Enrolment(id) => ImportEnrolmentRef::Existing(id),
            };
            let course = match courses.iter().position(|c| c.enrolment == key) {
                Some(c) => c,
                None => {
                    let Some(course) = self.course(ctx, key, plan).await? else {
                        problems.push((i, FieldProblem::new("episodeOfCare", Problem::NotAllowed)));
                        continue;
                    };
                    courses.push(course);
                    courses.len() - 1
                }
            };
            match form.visit_on {
                Some(day) => visits.push((course, day, i)),
                None => problems.push((i, FieldProblem::new("visit_on", Problem::Required))),
            }
        }
        visits.sort_by_key(|(course, day, i)| (*course, *day, *i));
        // Planned follow-ups are large: grown once rather than copied as they come.
        plan.followups.reserve(visits.len());
        let params = &self.chronic;
        let mut previous = vec![None; courses.len()];
        let mut seen = vec![false; courses.len()];
        for (c, day, i) in visits {
            let ImportItem::Followup { form, .. } = &items[i] else {
                continue;
            };
            let course = &mut courses[c];
            let mut form = (**form).clone();
            form.rules.disease = course.course.disease.code().into();
            form.rules.age_years = Some(i64::from(age_on(course.course.birth_date, day)));
            form.rules.previous_classification = None;
            let mut valid = match validate_record_within(
                &form,
                today,
                Earliest::ManagedSince(course.enrolled_on),
            ) {
                Ok(v) => v,
                Err(found) => {
                    problems.extend(found.into_iter().map(|p| (i, p)));
                    continue;
                }
            };
            if valid.visit_on < course.diagnosed_on {
                problems.push((
                    i,
                    FieldProblem::new(
                        "visit_on",
                        Problem::Inconsistent {
                            with: "diagnosed_on",
                        },
                    ),
                ));
                continue;
            }
            valid.findings.previous = match (seen[c], course.stored) {
                (true, _) => previous[c],
                (false, Some(id)) => {
                    self.store
                        .previous_classification(id, valid.visit_on)
                        .await?
                }
                (false, None) => None,
            };
            let Judged {
                evaluation,
                next_due_on,
                urgent_task_due_on,
                highest_bp,
                risk,
            } = judge(&valid, &course.course, params, today);
            seen[c] = true;
            previous[c] = evaluation.classification.or(previous[c]);
            let c = &mut course.course;
            c.highest_bp = highest_bp.or(c.highest_bp);
            c.bmi_centi = valid.details.bmi_centi.or(c.bmi_centi);
            c.waist_cm = valid.details.waist_cm.or(c.waist_cm);
            let mut entry = self.entry(ctx, "followup.create", Outcome::Ok);
            entry.resource_type = "Encounter".into();
            entry.detail = evaluation
                .classification
                .map(|c| format!("classification={}", c.number()));
            let Some(institution) = ctx.principal.institution_id else {
                return Err(self.refuse(entry, AppError::Forbidden).await);
            };
            planned[i] = Planned::Followup(plan.followups.len());
            plan.followups.push(ImportFollowup {
                patient: course.patient,
                enrolment: course.enrolment,
                disease: course.course.disease,
                institution_id: institution,
                staff_id: ctx.principal.staff_id,
                followup: valid,
                evaluation,
                next_due_on,
                urgent_task_due_on,
                highest_bp,
                risk,
                enrolled_on: course.enrolled_on,
                scopes: course.scopes.clone(),
                audit: entry,
            });
        }
        Ok(())
    }

    /// The course of an enrolment a follow-up names: one the plan enrols, or a stored
    /// active one the actor may write (`None`: no such enrolment).
    async fn course(
        &self,
        ctx: &Ctx,
        key: ImportEnrolmentRef,
        plan: &ImportPlan,
    ) -> AppResult<Option<Progress>> {
        match key {
            ImportEnrolmentRef::New(k) => {
                let e = &plan.enrolments[k];
                let (birth_date, sex) = match e.patient {
                    ImportPatient::New(r) => {
                        let r = &plan.registrations[r].resident;
                        (r.birth_date, r.sex)
                    }
                    ImportPatient::Existing(id) => {
                        let r = self.store.resident(id).await?;
                        (r.birth_date, r.sex)
                    }
                };
                let diabetes = match e.patient {
                    _ if plan.enrolments.iter().any(|o| {
                        o.patient == e.patient && o.enrolment.enrolment.disease == Disease::Diabetes
                    }) =>
                    {
                        gongti_core::chronic::risk::DiabetesStatus::WithoutComplications
                    }
                    ImportPatient::Existing(id) => self.diabetes_status(id).await?,
                    ImportPatient::New(_) => gongti_core::chronic::risk::DiabetesStatus::None,
                };
                Ok(Some(Progress {
                    enrolment: key,
                    patient: e.patient,
                    course: Course {
                        disease: e.enrolment.enrolment.disease,
                        sex,
                        birth_date,
                        profile: e.enrolment.profile,
                        highest_bp: None,
                        bmi_centi: None,
                        waist_cm: None,
                        diabetes,
                    },
                    diagnosed_on: e.enrolment.enrolment.diagnosed_on,
                    enrolled_on: e.enrolment.enrolled_on,
                    scopes: e.enrolment.scopes.clone().unwrap_or_default(),
                    stored: None,
                }))
            }
            ImportEnrolmentRef::Existing(id) => {
                let resident = match self
                    .store
                    .resident_of(PatientTable::Record(RecordTable::Enrolments), id)
                    .await
                {
                    Ok(r) => r,
                    Err(StoreError::NotFound) => return Ok(None),
                    Err(e) => return Err(e.into()),
                };
                let (record, entry, _) = self
                    .clinical_write(ctx, resident, "followup.create", "Encounter")
                    .await?;
                let Some(e) = self
                    .store
                    .enrolments_of_resident(resident)
                    .await?
                    .into_iter()
                    .find(|e| e.id == id && e.active)
                else {
                    return Err(self.refuse(entry, AppError::Conflict("not_enrolled")).await);
                };
                Ok(Some(Progress {
                    enrolment: key,
                    patient: ImportPatient::Existing(resident),
                    course: Course {
                        disease: e.disease,
                        sex: record.sex,
                        birth_date: record.birth_date,
                        profile: e.profile,
                        highest_bp: e.highest_bp,
                        bmi_centi: e.bmi_centi,
                        waist_cm: e.waist_cm,
                        diabetes: self.diabetes_status(resident).await?,
                    },
                    diagnosed_on: e.diagnosed_on,
                    enrolled_on: e.enrolled_on,
                    scopes: self.counter_scopes(e.institution_id).await?,
                    stored: Some(id),
                }))
            }
        }
    }

    /// A diabetes enrolment of a resident whose hypertension enrolment is stored (not
    /// in the Bundle) is a row of that enrolment's risk table: its risk recomputed, in
    /// the import's transaction, with its audit record.
    async fn plan_restratified(&self, ctx: &Ctx, plan: &mut ImportPlan) -> AppResult<()> {
        let today = self.today();
        let mut risks = Vec::new();
        for e in &plan.enrolments {
            let ImportPatient::Existing(resident) = e.patient else {
                continue;
            };
            if e.enrolment.enrolment.disease != Disease::Diabetes
                || plan.enrolments.iter().any(|o| {
                    o.patient == e.patient && o.enrolment.enrolment.disease == Disease::Hypertension
                })
            {
                continue;
            }
            let htn = match self
                .store
                .active_enrolment(resident, Disease::Hypertension)
                .await
            {
                Ok(h) => h,
                Err(StoreError::NotFound) => continue,
                Err(err) => return Err(err.into()),
            };
            let record = self.store.resident(resident).await?;
            let risk = risk_of(&RiskBasis {
                sex: record.sex,
                birth_date: record.birth_date,
                profile: &htn.profile,
                highest_bp: htn.highest_bp,
                bmi_centi: htn.bmi_centi,
                waist_cm: htn.waist_cm,
                diabetes: gongti_core::chronic::risk::DiabetesStatus::WithoutComplications,
                today,
            });
            let mut audit = self.entry(ctx, "chronic.risk_factors", Outcome::Ok);
            audit.resource_type = "EpisodeOfCare".into();
            audit.resource_id = Some(htn.id.to_string());
            audit.patient_id = Some(resident);
            audit.detail = Some(format!("risk={}", risk.level.code()));
            risks.push(ImportRisk {
                enrolment_id: htn.id,
                risk,
                audit,
            });
        }
        plan.risks = risks;
        Ok(())
    }

    /// A measurement (laboratory result, home reading) of stored resident `id` that the
    /// actor must be able to write: the record of `action` to commit with it, and the
    /// enrolments it counts in.
    async fn measured_of(
        &self,
        ctx: &Ctx,
        id: i64,
        action: &str,
    ) -> AppResult<(
        gongti_core::audit::AuditEntry,
        Vec<gongti_store::EnrolmentScope>,
    )> {
        let (_, mut entry) = self
            .reach(ctx, id, PatientAction::Write, action, None)
            .await?;
        entry.resource_type = "Observation".into();
        entry.resource_id = None;
        Ok((entry, self.enrolment_scopes(id).await?))
    }

    /// Audits the refusal of a Bundle whose entries could not all be read (their
    /// problems found at the edge) and returns the error to answer with.
    pub async fn refuse_import(&self, ctx: &Ctx, problems: Vec<(usize, FieldProblem)>) -> AppError {
        let mut refusal = self.entry(ctx, "import.transaction", Outcome::Ok);
        refusal.resource_type = "Bundle".into();
        self.refuse(refusal, AppError::InvalidBatch(problems)).await
    }
}
