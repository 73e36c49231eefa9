//! Chronic-disease management use cases (慢病管理, DOMAIN.md §2): enrolment with the
//! hypertension risk stratification, follow-ups judged by the rules and stored with
//! their verdict, the tasks urgent referrals create, and the rules as a service.

use gongti_core::access::PatientAction;
use gongti_core::chronic::followup::{Evaluation, Findings, FollowupForm, evaluate, validate};
use gongti_core::chronic::record::{
    EndingForm, EnrolmentForm, FollowupRecordForm, validate_ending, validate_enrolment,
    validate_record,
};
use gongti_core::chronic::risk::{DiabetesStatus, RiskInputs, bp_grade, stratify};
use gongti_core::chronic::{Bp, Disease, RULESET_VERSION};
use gongti_core::resident::{Problem, age_years};
use gongti_store::{
    EndEnrolment, EnrolmentRecord, FollowupRecord, NewEnrolment, NewFollowup, Page, ResidentRecord,
    RiskProfile, StoreError, StoredRisk, TaskRecord,
};
use time::{Date, Duration};

use crate::{App, AppError, AppResult, Ctx};

/// Orders readings by how high they are: BP grade first, then SBP, then DBP.
pub(crate) fn height_of(bp: Bp) -> (u8, u16, u16) {
    (
        bp_grade(bp).map_or(0, |g| g as u8),
        bp.sbp_mmhg,
        bp.dbp_mmhg,
    )
}

pub(crate) fn age_on(birth_date: Date, day: Date) -> u8 {
    u8::try_from(age_years(birth_date, day).clamp(0, 130)).unwrap_or(0)
}

/// What the risk table reads for one hypertension enrolment.
pub struct RiskBasis<'a> {
    pub sex: gongti_core::Sex,
    pub birth_date: Date,
    pub profile: &'a RiskProfile,
    pub highest_bp: Option<Bp>,
    pub bmi_centi: Option<u16>,
    pub waist_cm: Option<u16>,
    pub diabetes: DiabetesStatus,
    pub today: Date,
}

/// The stratification of DOMAIN.md §2 for a hypertension enrolment.
pub fn risk_of(b: &RiskBasis<'_>) -> StoredRisk {
    let s = stratify(&RiskInputs {
        sex: b.sex,
        age_years: age_on(b.birth_date, b.today),
        highest_bp: b.highest_bp,
        smoking: b.profile.smoking,
        dyslipidaemia: b.profile.dyslipidaemia,
        impaired_glucose: b.profile.impaired_glucose,
        family_history_early_cvd: b.profile.family_history_early_cvd,
        bmi_centi: b.bmi_centi,
        waist_cm: b.waist_cm,
        target_organ_damage: b.profile.target_organ_damage,
        ckd_stage: b.profile.ckd_stage,
        diabetes: b.diabetes,
        cvd: b.profile.cvd,
    });
    StoredRisk {
        level: s.level,
        factors: s.factors.iter().map(|f| f.code().to_owned()).collect(),
    }
}

/// An enrolment's state as a follow-up is judged on it.
pub(crate) struct Course {
    pub disease: Disease,
    pub sex: gongti_core::Sex,
    pub birth_date: Date,
    pub profile: RiskProfile,
    /// The highest BP, BMI and waist on record before the visit.
    pub highest_bp: Option<Bp>,
    pub bmi_centi: Option<u16>,
    pub waist_cm: Option<u16>,
    pub diabetes: DiabetesStatus,
}

/// What the rules make of a validated follow-up (its `findings.previous` set): the
/// verdict, when the next visit is due, the urgent referral's task, the new highest BP
/// and, for hypertension, the risk recomputed when an input changed.
pub(crate) struct Judged {
    pub evaluation: Evaluation,
    pub next_due_on: Date,
    pub urgent_task_due_on: Option<Date>,
    pub highest_bp: Option<Bp>,
    pub risk: Option<StoredRisk>,
}

/// Judges a follow-up on its enrolment's course (DOMAIN.md §2): one rule for a visit
/// recorded now and one brought in from an earlier system.
pub(crate) fn judge(
    valid: &gongti_core::chronic::record::ValidFollowup,
    course: &Course,
    params: &gongti_core::chronic::Params,
    today: Date,
) -> Judged {
    let evaluation = evaluate(&valid.findings, params);
    let next_due_on =
        valid.visit_on + Duration::days(i64::from(evaluation.next_followup_within_days));
    let urgent_task_due_on = evaluation
        .urgent_referral
        .then(|| valid.visit_on + Duration::days(i64::from(params.urgent_task_days)));
    let highest_bp = match (course.highest_bp, valid.findings.bp) {
        (Some(old), Some(new)) if height_of(new) <= height_of(old) => None,
        (_, new) => new,
    };
    let risk = match course.disease {
        Disease::Hypertension
            if highest_bp.is_some()
                || valid.details.bmi_centi.is_some()
                || valid.details.waist_cm.is_some() =>
        {
            Some(risk_of(&RiskBasis {
                sex: course.sex,
                birth_date: course.birth_date,
                profile: &course.profile,
                highest_bp: highest_bp.or(course.highest_bp),
                bmi_centi: valid.details.bmi_centi.or(course.bmi_centi),
                waist_cm: valid.details.waist_cm.or(course.waist_cm),
                diabetes: course.diabetes,
                today,
            }))
        }
        _ => None,
    };
    Judged {
        evaluation,
        next_due_on,
        urgent_task_due_on,
        highest_bp,
        risk,
    }
}

impl App {
    /// The rules' verdict on a follow-up form, saving nothing: live feedback for the
    /// doctor's form. Touches no patient record, so nothing is audited.
    pub fn evaluate_followup(
        &self,
        _ctx: &Ctx,
        form: &FollowupForm,
    ) -> AppResult<(Findings, Evaluation)> {
        let findings = validate(form).map_err(AppError::Invalid)?;
        let evaluation = evaluate(&findings, &self.chronic);
        Ok((findings, evaluation))
    }

    /// [`App::evaluate_followup`] for a whole record form: the rules also read its
    /// hypoglycaemia and treatment fields, as they will when it is saved.
    pub fn evaluate_followup_record(
        &self,
        _ctx: &Ctx,
        form: &FollowupRecordForm,
    ) -> AppResult<(Findings, Evaluation)> {
        let mut findings = validate(&form.rules).map_err(AppError::Invalid)?;
        gongti_core::chronic::record::read_by_rules(form, &mut findings);
        let evaluation = evaluate(&findings, &self.chronic);
        Ok((findings, evaluation))
    }

    /// The chronic-disease parameters in force (DOMAIN.md §2 **(param)** values).
    pub fn chronic_params(&self) -> &gongti_core::chronic::Params {
        &self.chronic
    }

    /// The indicator counter scopes of an institution: the city, its district, itself.
    /// What a resident's earlier records (home readings, laboratory results) make of
    /// a new enrolment's kept figures.
    pub(crate) async fn indicator_history(
        &self,
        resident_id: i64,
    ) -> AppResult<Vec<gongti_store::IndicatorEvent>> {
        let (taken, labs) = self.store.indicator_history(resident_id).await?;
        let mut days: Vec<Date> = taken.into_iter().map(crate::readings::local_day).collect();
        days.sort();
        days.dedup();
        let mut events: Vec<gongti_store::IndicatorEvent> = labs
            .into_iter()
            .map(gongti_store::IndicatorEvent::Visit)
            .collect();
        if !days.is_empty() {
            events.push(gongti_store::IndicatorEvent::Readings(days));
        }
        Ok(events)
    }

    pub(crate) async fn counter_scopes(&self, institution_id: i64) -> AppResult<[String; 3]> {
        let i = self.store.institution(institution_id).await?;
        Ok(gongti_store::scopes_of(institution_id, &i.district_code))
    }

    /// A resident the actor may write, for a clinician acting at an institution: the
    /// record, the audit entry to complete, and the actor's institution.
    pub(crate) async fn clinical_write(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        action: &str,
        resource_type: &str,
    ) -> AppResult<(ResidentRecord, gongti_core::audit::AuditEntry, i64)> {
        let (view, mut entry) = self
            .reach(ctx, resident_id, PatientAction::Write, action, None)
            .await?;
        entry.resource_type = resource_type.into();
        match ctx.principal.institution_id {
            Some(institution) if ctx.principal.role.is_clinical() => {
                Ok((view.record, entry, institution))
            }
            _ => Err(self.refuse(entry, AppError::Forbidden).await),
        }
    }

    pub(crate) async fn diabetes_status(&self, resident_id: i64) -> AppResult<DiabetesStatus> {
        Ok(
            match self
                .store
                .active_enrolment(resident_id, Disease::Diabetes)
                .await
            {
                Ok(e) if e.profile.diabetes_complications => DiabetesStatus::WithComplications,
                Ok(_) => DiabetesStatus::WithoutComplications,
                Err(StoreError::NotFound) => DiabetesStatus::None,
                Err(e) => return Err(e.into()),
            },
        )
    }

    /// Recomputes the hypertension risk of a resident after something it reads
    /// changed (risk factors, a diabetes enrolment).
    pub(crate) async fn restratify(
        &self,
        resident: &ResidentRecord,
        profile: Option<RiskProfile>,
        audit: &[gongti_core::audit::AuditEntry],
    ) -> AppResult<Option<EnrolmentRecord>> {
        let htn = match self
            .store
            .active_enrolment(resident.id, Disease::Hypertension)
            .await
        {
            Ok(e) => e,
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let profile = profile.unwrap_or(htn.profile);
        let risk = risk_of(&RiskBasis {
            sex: resident.sex,
            birth_date: resident.birth_date,
            profile: &profile,
            highest_bp: htn.highest_bp,
            bmi_centi: htn.bmi_centi,
            waist_cm: htn.waist_cm,
            diabetes: self.diabetes_status(resident.id).await?,
            today: self.today(),
        });
        Ok(Some(
            self.store
                .set_risk(htn.id, &profile, Some(&risk), self.now_us(), audit)
                .await?,
        ))
    }

    /// Enrols a resident in the hypertension or diabetes programme at the actor's
    /// institution (建档). The ICD-10 code decides the programme.
    pub async fn enrol(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        form: &EnrolmentForm,
        profile: RiskProfile,
    ) -> AppResult<EnrolmentRecord> {
        let (resident, mut entry, institution_id) = self
            .clinical_write(ctx, resident_id, "chronic.enrol", "EpisodeOfCare")
            .await?;
        let today = self.today();
        let valid = match validate_enrolment(form, resident.birth_date, today) {
            Ok(v) => v,
            Err(problems) => return Err(self.refuse(entry, AppError::Invalid(problems)).await),
        };
        if let Some(id) = valid.diagnosing_institution_id {
            match self.store.institution(id).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => {
                    let error = AppError::invalid("diagnosing_institution_id", Problem::NotAllowed);
                    return Err(self.refuse(entry, error).await);
                }
                Err(e) => return Err(e.into()),
            }
        }
        if profile.ckd_stage > 5 {
            let error = AppError::invalid("ckd_stage", Problem::OutOfRange { min: "0", max: "5" });
            return Err(self.refuse(entry, error).await);
        }
        let risk = match valid.disease {
            Disease::Hypertension => Some(risk_of(&RiskBasis {
                sex: resident.sex,
                birth_date: resident.birth_date,
                profile: &profile,
                highest_bp: None,
                bmi_centi: None,
                waist_cm: None,
                diabetes: self.diabetes_status(resident.id).await?,
                today,
            })),
            Disease::Diabetes => None,
        };
        let (disease, enrolled_on) = (valid.disease, valid.enrolled_on);
        entry.resource_id = None;
        entry.detail = Some(disease.code().into());
        let history = self.indicator_history(resident_id).await?;
        let record = match self
            .store
            .insert_enrolment(
                &NewEnrolment {
                    resident_id,
                    enrolment: valid,
                    institution_id,
                    enrolled_on,
                    staff_id: ctx.principal.staff_id,
                    profile,
                    risk,
                    scopes: Some(self.counter_scopes(institution_id).await?),
                },
                self.now_us(),
                std::slice::from_ref(&entry),
                Some((&self.chronic, &history)),
            )
            .await
        {
            Ok(r) => r,
            Err(StoreError::Duplicate(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("already_enrolled"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        if disease == Disease::Diabetes {
            // Diabetes is a row of the hypertension risk table.
            self.restratify(&resident, None, &[]).await?;
        }
        Ok(record)
    }

    /// Replaces the risk inputs of a resident's enrolment in a programme and
    /// recomputes the hypertension risk.
    pub async fn set_risk_factors(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        disease: Disease,
        profile: RiskProfile,
    ) -> AppResult<EnrolmentRecord> {
        let (view, mut entry) = self
            .reach(
                ctx,
                resident_id,
                PatientAction::Write,
                "chronic.risk_factors",
                None,
            )
            .await?;
        entry.resource_type = "EpisodeOfCare".into();
        if !ctx.principal.role.is_clinical() {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        if profile.ckd_stage > 5 {
            let error = AppError::invalid("ckd_stage", Problem::OutOfRange { min: "0", max: "5" });
            return Err(self.refuse(entry, error).await);
        }
        let enrolment = match self.store.active_enrolment(resident_id, disease).await {
            Ok(e) => e,
            Err(StoreError::NotFound) => {
                return Err(self.refuse(entry, AppError::Conflict("not_enrolled")).await);
            }
            Err(e) => return Err(e.into()),
        };
        entry.resource_id = Some(enrolment.id.to_string());
        let audit = std::slice::from_ref(&entry);
        let record = match disease {
            Disease::Hypertension => self
                .restratify(&view.record, Some(profile), audit)
                .await?
                .ok_or(AppError::NotFound)?,
            Disease::Diabetes => {
                let updated = self
                    .store
                    .set_risk(enrolment.id, &profile, None, self.now_us(), audit)
                    .await?;
                self.audit.flush().await?;
                self.restratify(&view.record, None, &[]).await?;
                updated
            }
        };
        self.audit.flush().await?;
        Ok(record)
    }

    /// A resident's enrolments, for those who may read the record.
    pub async fn resident_enrolments(
        &self,
        ctx: &Ctx,
        resident_id: i64,
    ) -> AppResult<Vec<EnrolmentRecord>> {
        let (_, mut entry) = self
            .reach(ctx, resident_id, PatientAction::Read, "chronic.read", None)
            .await?;
        entry.resource_type = "EpisodeOfCare".into();
        let list = self.store.enrolments_of_resident(resident_id).await?;
        self.audit.record(vec![entry]).await?;
        Ok(list)
    }

    /// Records a follow-up: the rules judge it with the patient's previous
    /// classification, and the verdict, the rule-set version, the next due date and
    /// an urgent referral's 14-day task are stored with it in one transaction.
    pub async fn record_followup(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        mut form: FollowupRecordForm,
    ) -> AppResult<(i64, Evaluation, EnrolmentRecord)> {
        let (resident, mut entry, institution_id) = self
            .clinical_write(ctx, resident_id, "followup.create", "Encounter")
            .await?;
        let today = self.today();
        // The rules judge targets at the age on the day of the visit; the previous
        // classification is the stored one, never the client's.
        form.rules.age_years = Some(i64::from(age_on(
            resident.birth_date,
            form.visit_on.unwrap_or(today),
        )));
        form.rules.previous_classification = None;
        let mut valid = match validate_record(&form, today) {
            Ok(v) => v,
            Err(problems) => return Err(self.refuse(entry, AppError::Invalid(problems)).await),
        };
        let disease = valid.findings.disease;
        let enrolment = match self.store.active_enrolment(resident_id, disease).await {
            Ok(e) => e,
            Err(StoreError::NotFound) => {
                return Err(self.refuse(entry, AppError::Conflict("not_enrolled")).await);
            }
            Err(e) => return Err(e.into()),
        };
        if valid.visit_on < enrolment.diagnosed_on {
            let error = AppError::invalid(
                "visit_on",
                Problem::Inconsistent {
                    with: "diagnosed_on",
                },
            );
            return Err(self.refuse(entry, error).await);
        }
        valid.findings.previous = self
            .store
            .previous_classification(enrolment.id, valid.visit_on)
            .await?;
        let diabetes = match disease {
            Disease::Hypertension => self.diabetes_status(resident_id).await?,
            Disease::Diabetes => DiabetesStatus::None,
        };
        let Judged {
            evaluation,
            next_due_on,
            urgent_task_due_on,
            highest_bp,
            risk,
        } = judge(
            &valid,
            &Course {
                disease,
                sex: resident.sex,
                birth_date: resident.birth_date,
                profile: enrolment.profile,
                highest_bp: enrolment.highest_bp,
                bmi_centi: enrolment.bmi_centi,
                waist_cm: enrolment.waist_cm,
                diabetes,
            },
            &self.chronic,
            today,
        );
        entry.resource_id = None;
        entry.detail = evaluation
            .classification
            .map(|c| format!("classification={}", c.number()));
        let id = match self
            .store
            .insert_followup(
                &NewFollowup {
                    enrolment_id: enrolment.id,
                    resident_id,
                    disease,
                    institution_id,
                    staff_id: ctx.principal.staff_id,
                    followup: &valid,
                    evaluation: &evaluation,
                    next_due_on,
                    ruleset_version: RULESET_VERSION,
                    urgent_task_due_on,
                    highest_bp,
                    risk,
                    maintain: Some(gongti_store::Maintain {
                        params: &self.chronic,
                        enrolled_on: enrolment.enrolled_on,
                        scopes: self.counter_scopes(enrolment.institution_id).await?,
                    }),
                    now_us: self.now_us(),
                },
                std::slice::from_ref(&entry),
            )
            .await
        {
            Ok(id) => id,
            // Ended (结案) since it was read.
            Err(StoreError::Changed(_)) => {
                return Err(self.refuse(entry, AppError::Conflict("not_enrolled")).await);
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        let enrolment = self.store.active_enrolment(resident_id, disease).await?;
        Ok((id, evaluation, enrolment))
    }

    /// Ends a resident's enrolment (结案: died, moved away, diagnosis excluded,
    /// declined). Its open tasks close, it leaves the worklists, and the indicator
    /// figures count it as managed up to its last day. A new enrolment in the same
    /// programme may follow.
    pub async fn end_enrolment(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        disease: Disease,
        form: &EndingForm,
    ) -> AppResult<EnrolmentRecord> {
        let (resident, mut entry, _) = self
            .clinical_write(ctx, resident_id, "chronic.end", "EpisodeOfCare")
            .await?;
        let enrolment = match self.store.active_enrolment(resident_id, disease).await {
            Ok(e) => e,
            Err(StoreError::NotFound) => {
                return Err(self.refuse(entry, AppError::Conflict("not_enrolled")).await);
            }
            Err(e) => return Err(e.into()),
        };
        entry.resource_id = Some(enrolment.id.to_string());
        let valid = match validate_ending(
            form,
            enrolment.enrolled_on,
            enrolment.last_followup_on,
            self.today(),
        ) {
            Ok(v) => v,
            Err(problems) => return Err(self.refuse(entry, AppError::Invalid(problems)).await),
        };
        let scopes = self.counter_scopes(enrolment.institution_id).await?;
        let mut done_entry = entry.clone();
        done_entry.detail = Some(format!(
            "{} ended_on={} reason={}",
            enrolment.disease.code(),
            valid.ended_on,
            valid.reason.code()
        ));
        let ended = match self
            .store
            .end_enrolment(
                &EndEnrolment {
                    enrolment_id: enrolment.id,
                    ended_on: valid.ended_on,
                    reason: valid.reason.code(),
                    note: valid.note.as_deref(),
                    now_us: self.now_us(),
                    maintain: Some((&self.chronic, &scopes)),
                },
                std::slice::from_ref(&done_entry),
            )
            .await
        {
            Ok(e) => e,
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("enrolment_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        if enrolment.disease == Disease::Diabetes {
            // Diabetes is a row of the hypertension risk table.
            self.restratify(&resident, None, &[]).await?;
        }
        Ok(ended)
    }

    /// A resident's follow-ups, newest visit first.
    pub async fn resident_followups(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        disease: Option<Disease>,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<FollowupRecord>> {
        let (_, mut entry) = self
            .reach(ctx, resident_id, PatientAction::Read, "followup.list", None)
            .await?;
        entry.resource_type = "Encounter".into();
        let page = self
            .store
            .followups_of_resident(resident_id, disease, after, limit)
            .await?;
        self.audit.record(vec![entry]).await?;
        Ok(page)
    }

    /// Open follow-up tasks of the actor's institution, soonest due first.
    pub async fn open_tasks(
        &self,
        ctx: &Ctx,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<TaskRecord>> {
        let (entry, institution) = self.worklist_scope(ctx, "worklist.tasks", "Task").await?;
        let page = self.store.open_tasks(institution, after, limit).await?;
        self.listed(entry, page.items.len()).await?;
        Ok(page)
    }
}
