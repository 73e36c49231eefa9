//! The prescription check (DOMAIN.md §4): a draft judged against the law and the
//! knowledge base at once, every finding collected. Legal and format findings block
//! issuing; clinical findings go to the pharmacist with their PASS grade; a draft with
//! neither is clear. Pure: the caller fills the draft (from the request and the
//! record), calls, and shows or stores the judgement.

mod clinical;
mod legal;

use std::collections::HashSet;

use crate::Sex;
use crate::pharmacy::knowledge::amount_text as num;
use crate::pharmacy::knowledge::{
    DoseRule, DoseUnit, Grade, Hepatic, IngredientId, Knowledge, Route, TitleLevel,
};
use crate::problem::{FieldProblem, Problem};

/// Lines a draft may carry at all (more than the legal five is a finding, not an
/// input error, up to this).
pub const DRAFT_LINES_MAX: usize = 20;
/// Allergies, diagnoses or current drugs a draft may list.
pub const DRAFT_LIST_MAX: usize = 50;
/// Characters of one listed allergy, diagnosis or drug name.
pub const DRAFT_TEXT_MAX_CHARS: usize = 100;
pub const AGE_YEARS_MAX: f64 = 130.0;
pub const WEIGHT_KG_MAX: f64 = 400.0;
pub const EGFR_ML_MIN_MAX: f64 = 250.0;
pub const DOSE_MAX: f64 = 1_000_000.0;
pub const TIMES_PER_DAY_MAX: u32 = 24;
pub const DAYS_MAX: u32 = 365;
/// Relative tolerance when comparing a dose with a limit (0.5 g against 500 mg).
const EPSILON: f64 = 1e-9;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Online,
    Clinic,
}

/// 处方类别 as the check reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxKind {
    /// 普通
    Normal,
    /// 急诊
    Emergency,
    /// 儿科
    Paediatric,
}

#[derive(Debug, Clone)]
pub struct PatientFacts {
    pub age_years: f64,
    pub sex: Sex,
    pub weight_kg: Option<f64>,
    pub pregnant: bool,
    pub lactating: bool,
    pub egfr_ml_min: Option<f64>,
    pub hepatic: Hepatic,
    /// Ingredient or class names (阿莫西林, 青霉素类, 磺胺).
    pub allergies: Vec<String>,
    /// ICD-10 codes on record.
    pub diagnoses: Vec<String>,
    /// Generic names of what the patient takes now.
    pub current_drugs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Prescriber {
    pub licensed: bool,
    pub independent_practice_years: u32,
    pub title: TitleLevel,
    /// 执业助理医师
    pub assistant: bool,
    /// A physician co-signs (an assistant's prescription).
    pub cosigned: bool,
    /// An assistant working alone at a township or village institution (no co-signature needed).
    pub township_solo: bool,
    /// 麻醉药品和第一类精神药品处方权.
    pub narcotic_privilege: bool,
}

#[derive(Debug, Clone)]
pub struct Visit {
    pub channel: Channel,
    /// ICD-10 codes diagnosed offline, at an institution (the repeat-visit evidence).
    pub offline_diagnoses: Vec<String>,
    pub guardian_present: bool,
    pub specialist_present: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongRx {
    pub first: bool,
    pub assessment_recorded: bool,
    pub patient_confirmed: bool,
}

#[derive(Debug, Clone)]
pub struct DraftLine {
    pub generic_name: String,
    pub dose: Option<f64>,
    pub dose_unit: Option<String>,
    pub times_per_day: Option<u32>,
    pub route: Option<Route>,
    pub days: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Draft {
    pub patient: PatientFacts,
    pub prescriber: Prescriber,
    pub visit: Visit,
    pub kind: RxKind,
    pub validity_days: u32,
    pub long: Option<LongRx>,
    /// The doctor wrote a reason for a supply beyond the usual days.
    pub supply_reason: bool,
    pub lines: Vec<DraftLine>,
}

/// The closed set of finding codes (DOMAIN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingCode {
    OnlineFirstVisit,
    OnlineControlledDrug,
    OnlineChildUnattended,
    PrescriberNotQualified,
    TooManyDrugs,
    AsDirected,
    SupplyOverLimit,
    LongRxExcludedDrug,
    ValidityOverLimit,
    DoseOverMax,
    DoseUnderMin,
    FrequencyOutOfRange,
    DuplicateTherapy,
    Interaction,
    Allergy,
    ContraindicatedPregnancy,
    ContraindicatedLactation,
    ContraindicatedRenal,
    ContraindicatedHepatic,
    ContraindicatedAge,
    IndicationMismatch,
}

impl FindingCode {
    pub const ALL: [FindingCode; 21] = [
        FindingCode::OnlineFirstVisit,
        FindingCode::OnlineControlledDrug,
        FindingCode::OnlineChildUnattended,
        FindingCode::PrescriberNotQualified,
        FindingCode::TooManyDrugs,
        FindingCode::AsDirected,
        FindingCode::SupplyOverLimit,
        FindingCode::LongRxExcludedDrug,
        FindingCode::ValidityOverLimit,
        FindingCode::DoseOverMax,
        FindingCode::DoseUnderMin,
        FindingCode::FrequencyOutOfRange,
        FindingCode::DuplicateTherapy,
        FindingCode::Interaction,
        FindingCode::Allergy,
        FindingCode::ContraindicatedPregnancy,
        FindingCode::ContraindicatedLactation,
        FindingCode::ContraindicatedRenal,
        FindingCode::ContraindicatedHepatic,
        FindingCode::ContraindicatedAge,
        FindingCode::IndicationMismatch,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FindingCode::OnlineFirstVisit => "online_first_visit",
            FindingCode::OnlineControlledDrug => "online_controlled_drug",
            FindingCode::OnlineChildUnattended => "online_child_unattended",
            FindingCode::PrescriberNotQualified => "prescriber_not_qualified",
            FindingCode::TooManyDrugs => "too_many_drugs",
            FindingCode::AsDirected => "as_directed",
            FindingCode::SupplyOverLimit => "supply_over_limit",
            FindingCode::LongRxExcludedDrug => "long_rx_excluded_drug",
            FindingCode::ValidityOverLimit => "validity_over_limit",
            FindingCode::DoseOverMax => "dose_over_max",
            FindingCode::DoseUnderMin => "dose_under_min",
            FindingCode::FrequencyOutOfRange => "frequency_out_of_range",
            FindingCode::DuplicateTherapy => "duplicate_therapy",
            FindingCode::Interaction => "interaction",
            FindingCode::Allergy => "allergy",
            FindingCode::ContraindicatedPregnancy => "contraindicated_pregnancy",
            FindingCode::ContraindicatedLactation => "contraindicated_lactation",
            FindingCode::ContraindicatedRenal => "contraindicated_renal",
            FindingCode::ContraindicatedHepatic => "contraindicated_hepatic",
            FindingCode::ContraindicatedAge => "contraindicated_age",
            FindingCode::IndicationMismatch => "indication_mismatch",
        }
    }

    /// Legal and format findings: they block issuing.
    pub fn is_legal(self) -> bool {
        self <= FindingCode::ValidityOverLimit
    }
}

/// The sources legal findings cite; the loader's test checks each is in `sources.tsv`.
pub const LEGAL_SOURCES: [&str; 4] = ["net2018", "lrx2021", "rx2007", "amr2012"];

/// FHIR DetectedIssue.severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    High,
    Moderate,
    Low,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Moderate => "moderate",
            Severity::Low => "low",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub code: FindingCode,
    /// The PASS grade of a clinical finding; legal findings have none.
    pub grade: Option<Grade>,
    /// Indices of the draft's lines it concerns (empty: the prescription as a whole).
    pub lines: Vec<usize>,
    pub message_zh: String,
    pub message_en: String,
    /// The citation of the rule's source.
    pub basis: String,
    /// The knowledge-base rule that produced it, when one did.
    pub rule: Option<String>,
    /// The rule is confirmed by the prescriber's institution.
    pub confirmed: bool,
}

impl Finding {
    pub fn severity(&self) -> Severity {
        match self.grade {
            None | Some(Grade::Contraindicated | Grade::NotRecommended) => Severity::High,
            Some(Grade::Caution) => Severity::Moderate,
            Some(Grade::Note) => Severity::Low,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Blocked,
    Flagged,
    Clear,
}

impl Verdict {
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Blocked => "blocked",
            Verdict::Flagged => "flagged",
            Verdict::Clear => "clear",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Judgement {
    pub verdict: Verdict,
    pub ruleset_version: String,
    pub findings: Vec<Finding>,
}

/// What is wrong with the draft itself (not a finding): a problem per field, and per
/// line with the line's index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DraftProblems {
    pub fields: Vec<FieldProblem>,
    pub lines: Vec<(usize, FieldProblem)>,
}

/// A resolved line.
struct Line<'a> {
    index: usize,
    draft: &'a DraftLine,
    ingredient: IngredientId,
    unit: Option<DoseUnit>,
}

/// An institution's decisions on the knowledge base's rules (by its pharmacy and
/// therapeutics committee, DOMAIN.md §4: each rule set or confirmed by the institution):
/// a disabled rule raises nothing there, a confirmed one says so on its findings. Legal
/// rules are law and have no setting.
#[derive(Debug, Clone, Default)]
pub struct RuleSettings {
    pub disabled: HashSet<String>,
    pub confirmed: HashSet<String>,
}

/// Judges `draft` by DOMAIN.md §4 against `kb`, every rule in force.
pub fn check(kb: &Knowledge, draft: &Draft) -> Result<Judgement, DraftProblems> {
    check_with(kb, draft, &RuleSettings::default())
}

/// Judges `draft` with an institution's rule settings.
pub fn check_with(
    kb: &Knowledge,
    draft: &Draft,
    settings: &RuleSettings,
) -> Result<Judgement, DraftProblems> {
    let lines = validate(kb, draft)?;
    let mut c = Checker {
        kb,
        draft,
        findings: Vec::new(),
    };
    c.legal(&lines);
    c.doses(&lines);
    c.pairs(&lines);
    c.allergies(&lines);
    c.cautions(&lines);
    c.indications(&lines);
    let mut findings = c.findings;
    findings.retain(|f| {
        f.rule
            .as_ref()
            .is_none_or(|r| !settings.disabled.contains(r))
    });
    for f in &mut findings {
        f.confirmed = f
            .rule
            .as_ref()
            .is_some_and(|r| settings.confirmed.contains(r));
    }
    findings.sort_by_key(|f| {
        (
            !f.code.is_legal(),
            f.grade.map_or(0, Grade::number),
            f.lines.first().copied().unwrap_or(0),
            f.code,
        )
    });
    let verdict = if findings.iter().any(|f| f.code.is_legal()) {
        Verdict::Blocked
    } else if findings.is_empty() {
        Verdict::Clear
    } else {
        Verdict::Flagged
    };
    Ok(Judgement {
        verdict,
        ruleset_version: kb.version.clone(),
        findings,
    })
}

fn validate<'a>(kb: &Knowledge, d: &'a Draft) -> Result<Vec<Line<'a>>, DraftProblems> {
    let mut p = DraftProblems::default();
    let range = |field, ok: bool, min, max, p: &mut DraftProblems| {
        if !ok {
            p.fields
                .push(FieldProblem::new(field, Problem::OutOfRange { min, max }));
        }
    };
    let pt = &d.patient;
    range(
        "age_years",
        pt.age_years.is_finite() && (0.0..=AGE_YEARS_MAX).contains(&pt.age_years),
        "0",
        "130",
        &mut p,
    );
    if let Some(w) = pt.weight_kg {
        range(
            "weight_kg",
            w.is_finite() && w > 0.0 && w <= WEIGHT_KG_MAX,
            "0",
            "400",
            &mut p,
        );
    }
    if let Some(e) = pt.egfr_ml_min {
        range(
            "egfr_ml_min",
            e.is_finite() && (0.0..=EGFR_ML_MIN_MAX).contains(&e),
            "0",
            "250",
            &mut p,
        );
    }
    if pt.sex == Sex::Male && (pt.pregnant || pt.lactating) {
        let field = if pt.pregnant { "pregnant" } else { "lactating" };
        p.fields.push(FieldProblem::new(
            field,
            Problem::Inconsistent { with: "sex" },
        ));
    }
    for (field, list) in [
        ("allergies", &pt.allergies),
        ("diagnoses", &pt.diagnoses),
        ("current_drugs", &pt.current_drugs),
        ("offline_diagnoses", &d.visit.offline_diagnoses),
    ] {
        if list.len() > DRAFT_LIST_MAX {
            p.fields.push(FieldProblem::new(
                field,
                Problem::TooLong {
                    max_chars: DRAFT_LIST_MAX,
                },
            ));
        } else if list
            .iter()
            .any(|t| t.chars().count() > DRAFT_TEXT_MAX_CHARS)
        {
            p.fields.push(FieldProblem::new(
                field,
                Problem::TooLong {
                    max_chars: DRAFT_TEXT_MAX_CHARS,
                },
            ));
        }
    }
    range(
        "validity_days",
        (1..=DAYS_MAX).contains(&d.validity_days),
        "1",
        "365",
        &mut p,
    );
    if d.lines.is_empty() {
        p.fields.push(FieldProblem::new("lines", Problem::Required));
    } else if d.lines.len() > DRAFT_LINES_MAX {
        p.fields.push(FieldProblem::new(
            "lines",
            Problem::OutOfRange {
                min: "1",
                max: "20",
            },
        ));
    }
    let mut lines = Vec::new();
    for (index, l) in d.lines.iter().enumerate().take(DRAFT_LINES_MAX) {
        let mut bad = |field, problem| p.lines.push((index, FieldProblem::new(field, problem)));
        let ingredient = if l.generic_name.trim().is_empty() {
            bad("generic_name", Problem::Required);
            None
        } else {
            let found = kb.find_ingredient(&l.generic_name);
            if found.is_none() {
                bad("generic_name", Problem::UnknownDrug);
            }
            found
        };
        if l.dose
            .is_some_and(|x| !(x.is_finite() && x > 0.0 && x <= DOSE_MAX))
        {
            bad(
                "dose",
                Problem::OutOfRange {
                    min: "0",
                    max: "1000000",
                },
            );
        }
        if l.times_per_day
            .is_some_and(|t| !(1..=TIMES_PER_DAY_MAX).contains(&t))
        {
            bad(
                "times_per_day",
                Problem::OutOfRange {
                    min: "1",
                    max: "24",
                },
            );
        }
        if l.days.is_some_and(|t| !(1..=DAYS_MAX).contains(&t)) {
            bad(
                "days",
                Problem::OutOfRange {
                    min: "1",
                    max: "365",
                },
            );
        }
        let unit_text = l
            .dose_unit
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty() && !says_as_directed(u));
        let unit = unit_text.and_then(|u| {
            let parsed = DoseUnit::parse(u);
            if parsed.is_none() {
                bad("dose_unit", Problem::UnknownCode);
            }
            parsed
        });
        if let (Some(i), Some(u)) = (ingredient, unit) {
            let rules: Vec<&DoseRule> = kb.doses.iter().filter(|r| r.ingredient == i).collect();
            if !rules.is_empty() && rules.iter().all(|r| u.convert(1.0, r.unit).is_none()) {
                bad(
                    "dose_unit",
                    Problem::WrongUnit {
                        expected: rules[0].unit.accepted_zh(),
                    },
                );
            }
        }
        if let Some(ingredient) = ingredient {
            lines.push(Line {
                index,
                draft: l,
                ingredient,
                unit,
            });
        }
    }
    if p == DraftProblems::default() {
        Ok(lines)
    } else {
        Err(p)
    }
}

/// 遵医嘱 / 自用 / "as directed" written where an exact instruction belongs.
fn says_as_directed(text: &str) -> bool {
    let t = text.to_lowercase();
    t.contains("遵医嘱") || t.contains("自用") || t.contains("as directed")
}

/// Whether a diagnosis code is under one of the prefixes.
fn icd_matches(prefixes: &[String], diagnosis: &str) -> bool {
    let d = diagnosis.trim().to_ascii_uppercase();
    prefixes.iter().any(|p| d.starts_with(p.as_str()))
}

fn over(value: f64, max: f64) -> bool {
    value > max * (1.0 + EPSILON)
}

fn under(value: f64, min: f64) -> bool {
    value < min * (1.0 - EPSILON)
}

struct Checker<'a> {
    kb: &'a Knowledge,
    draft: &'a Draft,
    findings: Vec<Finding>,
}

impl Checker<'_> {
    fn name(&self, line: &Line<'_>) -> &str {
        &self.kb.ingredient(line.ingredient).name_zh
    }

    fn name_en(&self, line: &Line<'_>) -> &str {
        &self.kb.ingredient(line.ingredient).name_en
    }

    fn legal_finding(
        &mut self,
        code: FindingCode,
        source: &str,
        lines: Vec<usize>,
        zh: String,
        en: String,
    ) {
        self.findings.push(Finding {
            code,
            grade: None,
            lines,
            message_zh: zh,
            message_en: en,
            basis: self.kb.citation(source).to_owned(),
            rule: None,
            confirmed: false,
        });
    }

    fn clinical(
        &mut self,
        code: FindingCode,
        grade: Grade,
        lines: Vec<usize>,
        (zh, en): (String, String),
        source: &str,
        rule: Option<&str>,
    ) {
        self.findings.push(Finding {
            code,
            grade: Some(grade),
            lines,
            message_zh: zh,
            message_en: en,
            basis: self.kb.citation(source).to_owned(),
            rule: rule.map(str::to_owned),
            confirmed: false,
        });
    }
}
