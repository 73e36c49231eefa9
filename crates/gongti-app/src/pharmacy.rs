//! The cloud pharmacy's use cases (DOMAIN.md §4). The prescription check: a prescriber
//! sends a draft; with a resident named, the record fills what the draft leaves out
//! (age, sex, diagnoses, the offline diagnoses that make an online visit a repeat
//! visit, the drugs of the latest follow-ups) and the read is audited; without one,
//! nothing is read, saved or audited. The prescriber's licence, years and title come
//! from the staff register unless the draft states them; the rules disabled by the
//! prescriber's institution raise nothing. The institution's pharmacists and
//! administrator confirm or disable each rule of the knowledge base (audited).

use gongti_core::Sex;
use gongti_core::access::{PatientAction, may_prescribe, may_set_drug_rules};
use gongti_core::audit::Outcome;
use gongti_core::pharmacy::check::{
    Channel, Draft, DraftLine, DraftProblems, Judgement, LongRx, PatientFacts, Prescriber,
    RuleSettings, RxKind, Visit, check_with,
};
use gongti_core::pharmacy::{Hepatic, Knowledge, TitleLevel};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_core::region::InstitutionId;
use gongti_store::{DrugRuleChange, DrugRuleSetting};

use crate::{App, AppError, AppResult, Ctx};

mod dispensing;
mod figures;
mod own;
mod prescriptions;
mod visits;

pub use dispensing::{ADDRESS_MAX_CHARS, Handover};
pub use figures::{PharmacyFiguresView, PharmacyList, PharmacyListQuery, PharmacyPatients};
pub use own::{OWN_PRESCRIPTIONS_SHOWN, OwnPrescription};
pub use visits::{
    ClinicView, Place, QUEUE_SHOWN, VISITS_SHOWN, VisitOptions, VisitRequest, VisitView,
};

pub use prescriptions::{
    IssueRequest, NotIssued, PrescriptionView, QueuePage, StepRequest, findings_json,
};

/// Follow-ups read per programme for the current drugs (the newest carries them).
const FOLLOWUPS_FOR_DRUGS: u32 = 1;

/// The patient as the draft states them; what is `None` or empty the record fills.
#[derive(Debug, Clone, Default)]
pub struct PatientInput {
    pub age_years: Option<f64>,
    pub sex: Option<Sex>,
    pub weight_kg: Option<f64>,
    pub pregnant: bool,
    pub lactating: bool,
    pub egfr_ml_min: Option<f64>,
    pub hepatic: Option<Hepatic>,
    pub allergies: Vec<String>,
    pub diagnoses: Vec<String>,
    pub current_drugs: Vec<String>,
}

/// The prescriber as the draft states them; what is `None` the staff register fills.
#[derive(Debug, Clone, Default)]
pub struct PrescriberInput {
    pub licensed: Option<bool>,
    pub independent_practice_years: Option<u32>,
    pub title: Option<TitleLevel>,
    pub assistant: Option<bool>,
    pub cosigned: bool,
    pub township_solo: bool,
    pub narcotic_privilege: bool,
}

#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub resident_id: Option<i64>,
    pub patient: PatientInput,
    pub prescriber: PrescriberInput,
    pub visit: Visit,
    pub kind: RxKind,
    pub validity_days: u32,
    pub long: Option<LongRx>,
    pub supply_reason: bool,
    pub lines: Vec<DraftLine>,
}

/// The check's answer: a judgement, or what is wrong with the draft itself.
pub type CheckAnswer = Result<Judgement, DraftProblems>;

impl App {
    /// The knowledge base the check judges by.
    pub fn knowledge(&self) -> &'static Knowledge {
        Knowledge::builtin()
    }

    /// Judges a draft prescription (`POST /prescriptions/check`).
    pub async fn check_prescription(
        &self,
        ctx: &Ctx,
        request: CheckRequest,
    ) -> AppResult<CheckAnswer> {
        Ok(self
            .screen(ctx, request)
            .await?
            .map(|(judgement, _)| judgement))
    }

    /// The check with the draft as the record filled it.
    pub(crate) async fn screen(
        &self,
        ctx: &Ctx,
        request: CheckRequest,
    ) -> AppResult<Result<(Judgement, Draft), DraftProblems>> {
        let kb = self.knowledge();
        let actor = ctx.principal.actor();
        if !may_prescribe(&actor) {
            let entry = ctx.principal.audit(
                self.now_us(),
                "prescription.check",
                "MedicationRequest",
                Outcome::Denied,
            );
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let mut patient = request.patient;
        let mut visit = request.visit;
        if let Some(resident_id) = request.resident_id {
            let (view, mut entry) = self
                .reach(
                    ctx,
                    resident_id,
                    PatientAction::Read,
                    "prescription.check",
                    None,
                )
                .await?;
            entry.resource_type = "MedicationRequest".into();
            let record = &view.record;
            if patient.age_years.is_none() {
                let days = (self.today() - record.birth_date).whole_days().max(0);
                patient.age_years = Some(days as f64 / 365.25);
            }
            patient.sex.get_or_insert(record.sex);
            let enrolments = self.store.enrolments_of_resident(resident_id).await?;
            for e in &enrolments {
                push_new(&mut patient.diagnoses, &e.icd10);
            }
            // Enrolments diagnosed in person, referrals returned with a plan, documents
            // a doctor accepted in an online visit.
            for d in self.offline_diagnoses(resident_id).await? {
                push_new(&mut visit.offline_diagnoses, &d.icd10);
            }
            let mut diseases: Vec<_> = enrolments.iter().map(|e| e.disease).collect();
            diseases.dedup();
            for disease in diseases {
                let latest = self
                    .store
                    .followups_of_resident(resident_id, Some(disease), None, FOLLOWUPS_FOR_DRUGS)
                    .await?;
                for f in &latest.items {
                    for (name, _) in &f.drugs {
                        push_new(&mut patient.current_drugs, name);
                    }
                }
            }
            self.audit.record(vec![entry]).await?;
        }
        let (Some(age_years), Some(sex)) = (patient.age_years, patient.sex) else {
            let mut missing = Vec::new();
            if patient.age_years.is_none() {
                missing.push(FieldProblem::new("age_years", Problem::Required));
            }
            if patient.sex.is_none() {
                missing.push(FieldProblem::new("sex", Problem::Required));
            }
            return Err(AppError::Invalid(missing));
        };
        let prescriber = self.prescriber(ctx, kb, request.prescriber).await?;
        let draft = Draft {
            patient: PatientFacts {
                age_years,
                sex,
                weight_kg: patient.weight_kg,
                pregnant: patient.pregnant,
                lactating: patient.lactating,
                egfr_ml_min: patient.egfr_ml_min,
                hepatic: patient.hepatic.unwrap_or(Hepatic::None),
                allergies: patient.allergies,
                diagnoses: patient.diagnoses,
                current_drugs: patient.current_drugs,
            },
            prescriber,
            visit,
            kind: request.kind,
            validity_days: request.validity_days,
            long: request.long,
            supply_reason: request.supply_reason,
            lines: request.lines,
        };
        let settings = self.rule_settings(actor.institution.map(|i| i.0)).await?;
        Ok(check_with(kb, &draft, &settings).map(|judgement| (judgement, draft)))
    }

    /// The prescriber: the draft's statements over the staff register's.
    async fn prescriber(
        &self,
        ctx: &Ctx,
        kb: &Knowledge,
        stated: PrescriberInput,
    ) -> AppResult<Prescriber> {
        let staff = self.store.staff_member(ctx.principal.staff_id).await?;
        let (title, assistant) = staff
            .title
            .as_deref()
            .and_then(|t| kb.title(t))
            .unwrap_or((TitleLevel::Junior, false));
        Ok(Prescriber {
            licensed: stated.licensed.unwrap_or(staff.licence_number.is_some()),
            independent_practice_years: stated
                .independent_practice_years
                .unwrap_or(u32::try_from(staff.practice_years).unwrap_or(0)),
            title: stated.title.unwrap_or(title),
            assistant: stated.assistant.unwrap_or(assistant),
            cosigned: stated.cosigned,
            township_solo: stated.township_solo,
            narcotic_privilege: stated.narcotic_privilege,
        })
    }
}

/// The longest reason for a rule decision.
pub const RULE_REASON_MAX_CHARS: usize = 200;

/// A decision on a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleState {
    Confirmed,
    Disabled,
}

impl RuleState {
    pub fn code(self) -> &'static str {
        match self {
            RuleState::Confirmed => "confirmed",
            RuleState::Disabled => "disabled",
        }
    }

    pub fn parse(code: &str) -> Option<RuleState> {
        match code {
            "confirmed" => Some(RuleState::Confirmed),
            "disabled" => Some(RuleState::Disabled),
            _ => None,
        }
    }
}

impl App {
    /// The settings in force at an institution, as the check takes them.
    async fn rule_settings(&self, institution: Option<i64>) -> AppResult<RuleSettings> {
        let mut settings = RuleSettings::default();
        if let Some(institution) = institution {
            for s in self.store.drug_rule_settings(institution).await? {
                match RuleState::parse(&s.state) {
                    Some(RuleState::Disabled) => settings.disabled.insert(s.rule_id),
                    Some(RuleState::Confirmed) => settings.confirmed.insert(s.rule_id),
                    None => false,
                };
            }
        }
        Ok(settings)
    }

    /// An institution's decisions on the rules (its staff read them).
    pub async fn drug_rules(&self, ctx: &Ctx, institution: i64) -> AppResult<Vec<DrugRuleSetting>> {
        if ctx.principal.institution_id != Some(institution) {
            let mut entry =
                self.registry_entry(ctx, "drug_rules.read", "DrugRule", Outcome::Denied);
            entry.detail = Some(format!("institution={institution}"));
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        Ok(self.store.drug_rule_settings(institution).await?)
    }

    /// Confirms or disables a rule for an institution (its pharmacists or its
    /// administrator); a disabled rule needs a reason. Audited with the rule, the state
    /// and the knowledge base's version.
    pub async fn set_drug_rule(
        &self,
        ctx: &Ctx,
        institution: i64,
        rule_id: &str,
        state: &str,
        reason: Option<&str>,
    ) -> AppResult<()> {
        const ACTION: &str = "drug_rule.set";
        let kb = self.knowledge();
        let mut entry = self.registry_entry(ctx, ACTION, "DrugRule", Outcome::Ok);
        entry.resource_id = Some(rule_id.chars().take(64).collect());
        if !may_set_drug_rules(&ctx.principal.actor(), InstitutionId(institution)) {
            entry.detail = Some(format!("institution={institution}"));
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        if !kb.has_rule(rule_id) {
            return Err(self.refuse(entry, AppError::NotFound).await);
        }
        let mut problems = Vec::new();
        let parsed = RuleState::parse(state);
        if parsed.is_none() {
            problems.push(FieldProblem::new("state", Problem::UnknownCode));
        }
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if reason.is_some_and(|r| r.chars().count() > RULE_REASON_MAX_CHARS) {
            problems.push(FieldProblem::new(
                "reason",
                Problem::TooLong {
                    max_chars: RULE_REASON_MAX_CHARS,
                },
            ));
        } else if parsed == Some(RuleState::Disabled) && reason.is_none() {
            problems.push(FieldProblem::new("reason", Problem::Required));
        }
        let Some(parsed) = parsed.filter(|_| problems.is_empty()) else {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        };
        entry.detail = Some(format!(
            "institution={institution};state={};ruleset={}",
            parsed.code(),
            kb.version
        ));
        self.store
            .set_drug_rule(
                &DrugRuleChange {
                    institution_id: institution,
                    rule_id,
                    state: parsed.code(),
                    ruleset_version: &kb.version,
                    reason,
                    staff_id: ctx.principal.staff_id,
                },
                self.now_us(),
                &[entry],
            )
            .await?;
        self.audit.flush().await?;
        Ok(())
    }
}

fn push_new(list: &mut Vec<String>, item: &str) {
    if !list.iter().any(|x| x == item) {
        list.push(item.to_owned());
    }
}

/// The channel and kind codes the edges accept.
pub fn parse_channel(code: &str) -> Option<Channel> {
    Channel::parse(code)
}

pub fn parse_kind(code: &str) -> Option<RxKind> {
    RxKind::parse(code)
}
