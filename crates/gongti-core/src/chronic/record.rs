//! Enrolment in a programme (慢病建档) and the full follow-up record (随访记录表):
//! every field DOMAIN.md §2 lists, validated with every problem collected. The rules'
//! part of a follow-up is [`super::followup`]; this adds the visit date, body
//! measures, lifestyle, adherence, drugs and the doctor's note.

use time::Date;

use super::Disease;
use super::followup::{Findings, FollowupForm};
use crate::measure::{Kg, Percent};
use crate::problem::{FieldProblem, Problem};

/// Residents enter the programmes from this age (DOMAIN.md §2 "Who").
pub const PROGRAMME_FROM_AGE_YEARS: i32 = 35;
/// A follow-up may be entered up to this many days after the visit.
pub const BACKDATE_MAX_DAYS: i64 = 366;
pub const NOTE_MAX_CHARS: usize = 500;
pub const DRUGS_MAX: usize = 20;
pub const DRUG_TEXT_MAX_CHARS: usize = 100;

/// An enrolment as entered.
#[derive(Debug, Clone, Default)]
pub struct EnrolmentForm {
    pub icd10: String,
    pub diagnosed_on: Option<Date>,
    /// Where the diagnosis was made, when inside the region.
    pub diagnosing_institution_id: Option<i64>,
    /// Diagnosed at an in-person visit (not online); online repeat visits need it.
    pub diagnosed_offline: Option<bool>,
    /// When management began, for a patient already under management elsewhere or
    /// brought in from an earlier system (default: today).
    pub enrolled_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEnrolment {
    pub disease: Disease,
    pub icd10: String,
    pub diagnosed_on: Date,
    pub diagnosing_institution_id: Option<i64>,
    pub diagnosed_offline: bool,
    pub enrolled_on: Date,
}

/// Why a chronic-disease enrolment ends (结案原因).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// 死亡
    Died,
    /// 迁出 — moved out of the region, or to another institution's care outside it.
    MovedAway,
    /// 排除诊断 — the diagnosis was not confirmed after all.
    DiagnosisExcluded,
    /// 拒绝管理 — the resident declines to be managed.
    Declined,
}

impl EndReason {
    pub const ALL: [EndReason; 4] = [
        EndReason::Died,
        EndReason::MovedAway,
        EndReason::DiagnosisExcluded,
        EndReason::Declined,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EndReason::Died => "died",
            EndReason::MovedAway => "moved_away",
            EndReason::DiagnosisExcluded => "diagnosis_excluded",
            EndReason::Declined => "declined",
        }
    }

    pub fn parse(code: &str) -> Option<EndReason> {
        EndReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// The end of an enrolment as entered.
#[derive(Debug, Clone, Default)]
pub struct EndingForm {
    /// The last day under management; today when not given.
    pub ended_on: Option<Date>,
    pub reason: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidEnding {
    pub ended_on: Date,
    pub reason: EndReason,
    pub note: Option<String>,
}

/// A note on an ending, in characters.
pub const ENDING_NOTE_MAX_CHARS: usize = 200;

/// Checks the end of an enrolment made on `enrolled_on` whose latest follow-up was on
/// `last_followup_on`: the last day under management is not in the future, not before
/// the enrolment and not before a recorded follow-up (a follow-up after the end would
/// belong to no enrolment). Every problem is listed.
pub fn validate_ending(
    form: &EndingForm,
    enrolled_on: Date,
    last_followup_on: Option<Date>,
    today: Date,
) -> Result<ValidEnding, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let ended_on = form.ended_on.unwrap_or(today);
    if ended_on > today {
        problems.push(FieldProblem::new("ended_on", Problem::InFuture));
    } else if ended_on < enrolled_on {
        problems.push(FieldProblem::new(
            "ended_on",
            Problem::Inconsistent {
                with: "enrolled_on",
            },
        ));
    } else if last_followup_on.is_some_and(|last| ended_on < last) {
        problems.push(FieldProblem::new(
            "ended_on",
            Problem::Inconsistent {
                with: "last_followup_on",
            },
        ));
    }
    let reason = match form.reason.as_deref().map(str::trim) {
        None | Some("") => {
            problems.push(FieldProblem::new("reason", Problem::Required));
            None
        }
        Some(code) => {
            let r = EndReason::parse(code);
            if r.is_none() {
                problems.push(FieldProblem::new("reason", Problem::UnknownCode));
            }
            r
        }
    };
    let note = form
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(n) = note {
        if n.chars().count() > ENDING_NOTE_MAX_CHARS {
            problems.push(FieldProblem::new(
                "note",
                Problem::TooLong {
                    max_chars: ENDING_NOTE_MAX_CHARS,
                },
            ));
        } else if n.chars().any(char::is_control) {
            problems.push(FieldProblem::new("note", Problem::ControlCharacters));
        }
    }
    match reason {
        Some(reason) if problems.is_empty() => Ok(ValidEnding {
            ended_on,
            reason,
            note: note.map(str::to_owned),
        }),
        _ => Err(problems),
    }
}

/// Checks an enrolment for a resident born on `birth_date`.
pub fn validate_enrolment(
    form: &EnrolmentForm,
    birth_date: Date,
    today: Date,
) -> Result<ValidEnrolment, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let icd10 = form.icd10.trim().to_ascii_uppercase();
    let disease = if icd10.is_empty() {
        problems.push(FieldProblem::new("icd10", Problem::Required));
        None
    } else {
        let d = Disease::from_icd10(&icd10);
        if d.is_none() {
            problems.push(FieldProblem::new("icd10", Problem::UnknownCode));
        }
        d
    };
    match form.diagnosed_on {
        None => problems.push(FieldProblem::new("diagnosed_on", Problem::Required)),
        Some(d) if d > today => problems.push(FieldProblem::new("diagnosed_on", Problem::InFuture)),
        Some(d) if d < birth_date => problems.push(FieldProblem::new(
            "diagnosed_on",
            Problem::Inconsistent { with: "birth_date" },
        )),
        Some(_) => {}
    }
    // Managed from a real earlier day, never a future one, never before the diagnosis.
    match (form.enrolled_on, form.diagnosed_on) {
        (Some(e), _) if e > today => {
            problems.push(FieldProblem::new("enrolled_on", Problem::InFuture))
        }
        (Some(e), Some(d)) if e < d => problems.push(FieldProblem::new(
            "enrolled_on",
            Problem::Inconsistent {
                with: "diagnosed_on",
            },
        )),
        _ => {}
    }
    if crate::resident::age_years(birth_date, today) < PROGRAMME_FROM_AGE_YEARS {
        problems.push(FieldProblem::new(
            "birth_date",
            Problem::OutOfRange {
                min: "35",
                max: "130",
            },
        ));
    }
    match (disease, form.diagnosed_on) {
        (Some(disease), Some(diagnosed_on)) if problems.is_empty() => Ok(ValidEnrolment {
            disease,
            icd10,
            diagnosed_on,
            diagnosing_institution_id: form.diagnosing_institution_id,
            diagnosed_offline: form.diagnosed_offline.unwrap_or(true),
            enrolled_on: form.enrolled_on.unwrap_or(today),
        }),
        _ => Err(problems),
    }
}

macro_rules! coded {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
        }

        impl $name {
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)*
                }
            }

            pub fn parse(code: &str) -> Option<$name> {
                match code {
                    $($code => Some($name::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

coded!(
    /// 服药依从性
    Adherence { Regular = "regular", Intermittent = "intermittent", None = "none" }
);
coded!(
    /// 低血糖反应 (diabetes)
    Hypoglycaemia { None = "none", Occasional = "occasional", Frequent = "frequent" }
);
coded!(
    /// 摄盐情况 (hypertension)
    SaltIntake { Light = "light", Moderate = "moderate", Heavy = "heavy" }
);
coded!(
    /// 足背动脉搏动 (diabetes)
    DorsalisPedis { Palpable = "palpable", Weakened = "weakened", Absent = "absent" }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drug {
    pub name: String,
    /// Dose and frequency as prescribed, e.g. "5 mg 每日1次".
    pub dose: String,
}

/// A complete follow-up as entered: the rules' fields plus the rest of the form.
#[derive(Debug, Clone, Default)]
pub struct FollowupRecordForm {
    /// `age_years` is filled in by the caller from the resident's birth date.
    pub rules: FollowupForm,
    pub visit_on: Option<Date>,
    pub weight_kg: Option<f64>,
    pub height_cm: Option<i64>,
    pub waist_cm: Option<i64>,
    pub hba1c_percent: Option<f64>,
    pub dorsalis_pedis: Option<String>,
    pub cigarettes_per_day: Option<i64>,
    pub alcohol_ml_per_day: Option<i64>,
    pub exercise_sessions_per_week: Option<i64>,
    pub exercise_minutes_per_session: Option<i64>,
    pub salt_intake: Option<String>,
    pub staple_food_g_per_day: Option<i64>,
    pub adherence: Option<String>,
    pub hypoglycaemia: Option<String>,
    pub drugs: Vec<(String, String)>,
    pub insulin: Option<String>,
    pub note: Option<String>,
}

/// The follow-up fields beyond what the rules read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Details {
    pub weight: Option<Kg>,
    pub height_cm: Option<u16>,
    /// Computed from weight and height when both are given, in hundredths.
    pub bmi_centi: Option<u16>,
    pub waist_cm: Option<u16>,
    pub hba1c: Option<Percent>,
    pub dorsalis_pedis: Option<DorsalisPedis>,
    pub cigarettes_per_day: Option<u16>,
    pub alcohol_ml_per_day: Option<u16>,
    pub exercise_sessions_per_week: Option<u16>,
    pub exercise_minutes_per_session: Option<u16>,
    pub salt_intake: Option<SaltIntake>,
    pub staple_food_g_per_day: Option<u16>,
    pub adherence: Option<Adherence>,
    pub hypoglycaemia: Option<Hypoglycaemia>,
    pub drugs: Vec<Drug>,
    pub insulin: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidFollowup {
    pub visit_on: Date,
    pub findings: Findings,
    pub details: Details,
}

/// BMI in hundredths from weight (kg, hundredths) and height (cm).
pub fn bmi_centi(weight: Kg, height_cm: u16) -> Option<u16> {
    if height_cm == 0 {
        return None;
    }
    // kg / m² = (centi_kg / 100) / (cm / 100)² = centi_kg * 100 / cm²; ×100 for centi.
    let centi = i64::from(weight.centi()) * 10_000 / (i64::from(height_cm) * i64::from(height_cm));
    u16::try_from(centi).ok()
}

fn int(
    problems: &mut Vec<FieldProblem>,
    field: &'static str,
    value: Option<i64>,
    max: u16,
    max_text: &'static str,
) -> Option<u16> {
    let v = value?;
    match u16::try_from(v) {
        Ok(n) if n <= max => Some(n),
        _ => {
            problems.push(FieldProblem::new(
                field,
                Problem::OutOfRange {
                    min: "0",
                    max: max_text,
                },
            ));
            None
        }
    }
}

fn code<T>(
    problems: &mut Vec<FieldProblem>,
    field: &'static str,
    value: Option<&str>,
    parse: fn(&str) -> Option<T>,
) -> Option<T> {
    let v = value.map(str::trim).filter(|v| !v.is_empty())?;
    let parsed = parse(v);
    if parsed.is_none() {
        problems.push(FieldProblem::new(field, Problem::UnknownCode));
    }
    parsed
}

fn free_text(
    problems: &mut Vec<FieldProblem>,
    field: &'static str,
    value: Option<&str>,
    max_chars: usize,
) -> Option<String> {
    let v = value.map(str::trim).filter(|v| !v.is_empty())?;
    if v.chars().count() > max_chars {
        problems.push(FieldProblem::new(field, Problem::TooLong { max_chars }));
        None
    } else if v.chars().any(char::is_control) {
        problems.push(FieldProblem::new(field, Problem::ControlCharacters));
        None
    } else {
        Some(v.to_owned())
    }
}

/// Copies into the rules' findings the two record fields they read (DOMAIN.md §2,
/// hypoglycaemia at a follow-up): frequent hypoglycaemia, and whether the patient takes
/// glucose-lowering treatment — on a diabetes form every drug listed is one, as is
/// insulin. Unknown codes are left to [`validate_record`] to report.
pub fn read_by_rules(form: &FollowupRecordForm, findings: &mut Findings) {
    let filled = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
    findings.frequent_hypoglycaemia = form
        .hypoglycaemia
        .as_deref()
        .map(str::trim)
        .and_then(Hypoglycaemia::parse)
        == Some(Hypoglycaemia::Frequent);
    findings.glucose_lowering = findings.disease == Disease::Diabetes
        && (form.drugs.iter().any(|(name, _)| !name.trim().is_empty()) || filled(&form.insulin));
}

/// Checks a whole follow-up record, collecting the rules' problems and the rest.
pub fn validate_record(
    form: &FollowupRecordForm,
    today: Date,
) -> Result<ValidFollowup, Vec<FieldProblem>> {
    validate_record_within(form, today, Earliest::Backdate)
}

/// How far back a follow-up's visit may lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Earliest {
    /// Recorded now: at most [`BACKDATE_MAX_DAYS`] ago.
    Backdate,
    /// Brought in from an earlier system (an import): any day since management began.
    ManagedSince(Date),
}

/// [`validate_record`] with the earliest visit day given.
pub fn validate_record_within(
    form: &FollowupRecordForm,
    today: Date,
    earliest: Earliest,
) -> Result<ValidFollowup, Vec<FieldProblem>> {
    let rules = super::followup::validate(&form.rules);
    let mut problems = rules.as_ref().err().cloned().unwrap_or_default();
    match (form.visit_on, earliest) {
        (None, _) => problems.push(FieldProblem::new("visit_on", Problem::Required)),
        (Some(d), _) if d > today => {
            problems.push(FieldProblem::new("visit_on", Problem::InFuture))
        }
        (Some(d), Earliest::Backdate) if (today - d).whole_days() > BACKDATE_MAX_DAYS => problems
            .push(FieldProblem::new(
                "visit_on",
                Problem::OutOfRange {
                    min: "today − 366 days",
                    max: "today",
                },
            )),
        (Some(d), Earliest::ManagedSince(start)) if d < start => problems.push(FieldProblem::new(
            "visit_on",
            Problem::Inconsistent {
                with: "enrolled_on",
            },
        )),
        _ => {}
    }
    let weight = form.weight_kg.and_then(|w| {
        let kg = Kg::from_f64(w).filter(|k| (1000..=30000).contains(&k.centi()));
        if kg.is_none() {
            problems.push(FieldProblem::new(
                "weight_kg",
                Problem::OutOfRange {
                    min: "10",
                    max: "300",
                },
            ));
        }
        kg
    });
    let height_cm = match form.height_cm {
        Some(h) if !(50..=250).contains(&h) => {
            problems.push(FieldProblem::new(
                "height_cm",
                Problem::OutOfRange {
                    min: "50",
                    max: "250",
                },
            ));
            None
        }
        h => h.and_then(|h| u16::try_from(h).ok()),
    };
    let waist_cm = match form.waist_cm {
        Some(w) if !(30..=250).contains(&w) => {
            problems.push(FieldProblem::new(
                "waist_cm",
                Problem::OutOfRange {
                    min: "30",
                    max: "250",
                },
            ));
            None
        }
        w => w.and_then(|w| u16::try_from(w).ok()),
    };
    let hba1c = form.hba1c_percent.and_then(|h| {
        let p = Percent::from_f64(h).filter(|p| (300..=2000).contains(&p.centi()));
        if p.is_none() {
            problems.push(FieldProblem::new(
                "hba1c_percent",
                Problem::OutOfRange {
                    min: "3.0",
                    max: "20.0",
                },
            ));
        }
        p
    });
    let mut drugs = Vec::new();
    if form.drugs.len() > DRUGS_MAX {
        problems.push(FieldProblem::new(
            "drugs",
            Problem::TooLong {
                max_chars: DRUGS_MAX,
            },
        ));
    } else {
        for (name, dose) in &form.drugs {
            let name = free_text(&mut problems, "drugs", Some(name), DRUG_TEXT_MAX_CHARS);
            let dose = free_text(&mut problems, "drugs", Some(dose), DRUG_TEXT_MAX_CHARS);
            match name {
                Some(name) => drugs.push(Drug {
                    name,
                    dose: dose.unwrap_or_default(),
                }),
                None => problems.push(FieldProblem::new("drugs", Problem::Required)),
            }
        }
    }
    let details = Details {
        weight,
        height_cm,
        bmi_centi: weight.zip(height_cm).and_then(|(w, h)| bmi_centi(w, h)),
        waist_cm,
        hba1c,
        dorsalis_pedis: code(
            &mut problems,
            "dorsalis_pedis",
            form.dorsalis_pedis.as_deref(),
            DorsalisPedis::parse,
        ),
        cigarettes_per_day: int(
            &mut problems,
            "cigarettes_per_day",
            form.cigarettes_per_day,
            200,
            "200",
        ),
        alcohol_ml_per_day: int(
            &mut problems,
            "alcohol_ml_per_day",
            form.alcohol_ml_per_day,
            5000,
            "5000",
        ),
        exercise_sessions_per_week: int(
            &mut problems,
            "exercise_sessions_per_week",
            form.exercise_sessions_per_week,
            50,
            "50",
        ),
        exercise_minutes_per_session: int(
            &mut problems,
            "exercise_minutes_per_session",
            form.exercise_minutes_per_session,
            600,
            "600",
        ),
        salt_intake: code(
            &mut problems,
            "salt_intake",
            form.salt_intake.as_deref(),
            SaltIntake::parse,
        ),
        staple_food_g_per_day: int(
            &mut problems,
            "staple_food_g_per_day",
            form.staple_food_g_per_day,
            3000,
            "3000",
        ),
        adherence: code(
            &mut problems,
            "adherence",
            form.adherence.as_deref(),
            Adherence::parse,
        ),
        hypoglycaemia: code(
            &mut problems,
            "hypoglycaemia",
            form.hypoglycaemia.as_deref(),
            Hypoglycaemia::parse,
        ),
        drugs,
        insulin: free_text(
            &mut problems,
            "insulin",
            form.insulin.as_deref(),
            DRUG_TEXT_MAX_CHARS,
        ),
        note: free_text(&mut problems, "note", form.note.as_deref(), NOTE_MAX_CHARS),
    };
    match (rules, form.visit_on) {
        (Ok(mut findings), Some(visit_on)) if problems.is_empty() => {
            read_by_rules(form, &mut findings);
            Ok(ValidFollowup {
                visit_on,
                findings,
                details,
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 22);

    #[test]
    fn enrolment_needs_a_programme_code_a_past_diagnosis_and_age_35() {
        // DOMAIN.md §2 "Who": residents aged 35+ with primary hypertension (I10–I15)
        // or type 2 diabetes (E11).
        let born = date!(1960 - 05 - 01);
        let ok = validate_enrolment(
            &EnrolmentForm {
                icd10: "i10".into(),
                diagnosed_on: Some(date!(2020 - 01 - 01)),
                ..Default::default()
            },
            born,
            TODAY,
        )
        .unwrap();
        assert_eq!(
            (ok.disease, ok.icd10.as_str(), ok.diagnosed_offline),
            (Disease::Hypertension, "I10", true)
        );
        let codes = |f: EnrolmentForm, born: Date| -> Vec<(&str, &str)> {
            validate_enrolment(&f, born, TODAY)
                .err()
                .unwrap_or_default()
                .iter()
                .map(|p| (p.field, p.problem.code()))
                .collect()
        };
        assert_eq!(
            codes(
                EnrolmentForm {
                    icd10: "J45".into(),
                    diagnosed_on: Some(date!(2027 - 01 - 01)),
                    ..Default::default()
                },
                born
            ),
            [("icd10", "unknown_code"), ("diagnosed_on", "in_future")]
        );
        assert_eq!(
            codes(EnrolmentForm::default(), born),
            [("icd10", "required"), ("diagnosed_on", "required")]
        );
        // 34 years and 364 days old on the day: too young for the programme.
        let young = date!(1991 - 11 - 23);
        assert_eq!(
            codes(
                EnrolmentForm {
                    icd10: "E11.9".into(),
                    diagnosed_on: Some(date!(2026 - 01 - 01)),
                    ..Default::default()
                },
                young
            ),
            [("birth_date", "out_of_range")]
        );
        assert!(
            validate_enrolment(
                &EnrolmentForm {
                    icd10: "E11.9".into(),
                    diagnosed_on: Some(date!(2026 - 01 - 01)),
                    ..Default::default()
                },
                date!(1991 - 11 - 22),
                TODAY
            )
            .is_ok()
        );
    }

    /// Issue 13 (DOMAIN.md §2 "Who"): a patient already under management elsewhere is
    /// enrolled from their real enrolment day — not in the future, not before the
    /// diagnosis; today when none is given.
    #[test]
    fn an_enrolment_may_start_on_an_earlier_real_day() {
        let born = date!(1960 - 05 - 01);
        let form = |enrolled_on| EnrolmentForm {
            icd10: "I10".into(),
            diagnosed_on: Some(date!(2020 - 01 - 01)),
            enrolled_on,
            ..Default::default()
        };
        type Outcome = Result<Date, (&'static str, &'static str)>;
        let cases: [(Option<Date>, Outcome); 5] = [
            (None, Ok(TODAY)),
            (Some(date!(2021 - 03 - 15)), Ok(date!(2021 - 03 - 15))),
            (Some(date!(2020 - 01 - 01)), Ok(date!(2020 - 01 - 01))),
            (
                Some(date!(2019 - 12 - 31)),
                Err(("enrolled_on", "inconsistent")),
            ),
            (
                Some(date!(2026 - 11 - 23)),
                Err(("enrolled_on", "in_future")),
            ),
        ];
        for (enrolled_on, expected) in cases {
            let got = validate_enrolment(&form(enrolled_on), born, TODAY)
                .map(|v| v.enrolled_on)
                .map_err(|p| (p[0].field, p[0].problem.code()));
            assert_eq!(got, expected, "{enrolled_on:?}");
        }
    }

    fn record() -> FollowupRecordForm {
        FollowupRecordForm {
            rules: FollowupForm {
                disease: "diabetes".into(),
                age_years: Some(60),
                method: "clinic".into(),
                sbp_mmhg: Some(130),
                dbp_mmhg: Some(80),
                fpg_mmol: Some(6.5),
                ..Default::default()
            },
            visit_on: Some(TODAY),
            ..Default::default()
        }
    }

    #[test]
    fn a_full_record_computes_bmi_and_keeps_every_field() {
        // DOMAIN.md §2 follow-up fields.
        let f = FollowupRecordForm {
            weight_kg: Some(72.5),
            height_cm: Some(170),
            hba1c_percent: Some(6.8),
            dorsalis_pedis: Some("weakened".into()),
            cigarettes_per_day: Some(5),
            alcohol_ml_per_day: Some(100),
            exercise_sessions_per_week: Some(3),
            exercise_minutes_per_session: Some(30),
            staple_food_g_per_day: Some(250),
            adherence: Some("intermittent".into()),
            hypoglycaemia: Some("occasional".into()),
            drugs: vec![("二甲双胍".into(), "0.5 g 每日3次".into())],
            insulin: Some("甘精胰岛素 10 U 睡前".into()),
            ..record()
        };
        let v = validate_record(&f, TODAY).unwrap();
        // 72.5 / 1.70² = 25.09
        assert_eq!(v.details.bmi_centi, Some(2508));
        assert_eq!(v.details.hba1c, Some(Percent::from_tenths(68)));
        assert_eq!(v.details.adherence, Some(Adherence::Intermittent));
        assert_eq!(v.details.drugs[0].name, "二甲双胍");
    }

    #[test]
    fn record_problems_are_collected_with_the_rules_problems() {
        let f = FollowupRecordForm {
            rules: FollowupForm {
                sbp_mmhg: Some(400),
                ..record().rules
            },
            visit_on: Some(date!(2026 - 11 - 23)),
            weight_kg: Some(5.0),
            adherence: Some("sometimes".into()),
            note: Some("x".repeat(501)),
            ..record()
        };
        let got: Vec<_> = validate_record(&f, TODAY)
            .unwrap_err()
            .iter()
            .map(|p| (p.field, p.problem.code()))
            .collect();
        assert_eq!(
            got,
            [
                ("sbp_mmhg", "out_of_range"),
                ("visit_on", "in_future"),
                ("weight_kg", "out_of_range"),
                ("adherence", "unknown_code"),
                ("note", "too_long"),
            ]
        );
        let old = FollowupRecordForm {
            visit_on: Some(date!(2025 - 11 - 20)),
            ..record()
        };
        assert_eq!(
            validate_record(&old, TODAY).unwrap_err()[0].field,
            "visit_on"
        );
    }

    /// A follow-up brought in from an earlier system may lie years back, but not before
    /// management began, nor in the future; recorded now, at most 366 days back.
    #[test]
    fn an_imported_visit_lies_between_the_start_of_management_and_today() {
        let since = date!(2021 - 04 - 01);
        let on = |d: Date| FollowupRecordForm {
            visit_on: Some(d),
            ..record()
        };
        type Case = (Date, Earliest, Option<&'static str>);
        let cases: [Case; 6] = [
            (date!(2021 - 04 - 01), Earliest::ManagedSince(since), None),
            (date!(2022 - 07 - 15), Earliest::ManagedSince(since), None),
            (
                date!(2021 - 03 - 31),
                Earliest::ManagedSince(since),
                Some("inconsistent"),
            ),
            (
                TODAY + time::Duration::days(1),
                Earliest::ManagedSince(since),
                Some("in_future"),
            ),
            (
                date!(2022 - 07 - 15),
                Earliest::Backdate,
                Some("out_of_range"),
            ),
            (TODAY, Earliest::Backdate, None),
        ];
        for (day, earliest, want) in cases {
            let got = validate_record_within(&on(day), TODAY, earliest)
                .err()
                .and_then(|p| p.into_iter().find(|p| p.field == "visit_on"))
                .map(|p| p.problem.code());
            assert_eq!(got, want, "{day} {earliest:?}");
        }
    }

    /// Ending an enrolment (结案): the last day under management lies between the
    /// enrolment (or its latest follow-up) and today; the reason is one of the codes.
    #[test]
    fn an_ending_lies_between_the_last_follow_up_and_today() {
        let enrolled = date!(2026 - 03 - 01);
        let last = Some(date!(2026 - 09 - 10));
        let form = |ended_on: Option<Date>, reason: Option<&str>| EndingForm {
            ended_on,
            reason: reason.map(str::to_owned),
            note: None,
        };
        type Case<'a> = (
            Option<Date>,
            Option<&'a str>,
            Result<Date, Vec<(&'a str, Problem)>>,
        );
        let cases: [Case; 8] = [
            (None, Some("died"), Ok(TODAY)),
            (
                Some(date!(2026 - 09 - 10)),
                Some("moved_away"),
                Ok(date!(2026 - 09 - 10)),
            ),
            (Some(TODAY), Some("declined"), Ok(TODAY)),
            (
                Some(date!(2026 - 09 - 09)),
                Some("died"),
                Err(vec![(
                    "ended_on",
                    Problem::Inconsistent {
                        with: "last_followup_on",
                    },
                )]),
            ),
            (
                Some(date!(2026 - 02 - 28)),
                Some("died"),
                Err(vec![(
                    "ended_on",
                    Problem::Inconsistent {
                        with: "enrolled_on",
                    },
                )]),
            ),
            (
                Some(date!(2026 - 11 - 23)),
                Some("died"),
                Err(vec![("ended_on", Problem::InFuture)]),
            ),
            (
                None,
                Some("cured"),
                Err(vec![("reason", Problem::UnknownCode)]),
            ),
            (
                Some(date!(2027 - 01 - 01)),
                None,
                Err(vec![
                    ("ended_on", Problem::InFuture),
                    ("reason", Problem::Required),
                ]),
            ),
        ];
        for (ended_on, reason, expected) in cases {
            let got = validate_ending(&form(ended_on, reason), enrolled, last, TODAY);
            match expected {
                Ok(day) => assert_eq!(got.map(|v| v.ended_on), Ok(day), "{ended_on:?} {reason:?}"),
                Err(problems) => {
                    let got = got.expect_err("must be refused");
                    let got: Vec<(&str, Problem)> =
                        got.iter().map(|p| (p.field, p.problem.clone())).collect();
                    assert_eq!(got, problems, "{ended_on:?} {reason:?}");
                }
            }
        }
        // With no follow-up yet, the enrolment day itself may end it.
        assert!(
            validate_ending(
                &form(Some(enrolled), Some("diagnosis_excluded")),
                enrolled,
                None,
                TODAY
            )
            .is_ok()
        );
        let long = EndingForm {
            note: Some("很".repeat(ENDING_NOTE_MAX_CHARS + 1)),
            ..form(None, Some("died"))
        };
        assert_eq!(
            validate_ending(&long, enrolled, last, TODAY).map_err(|p| p[0].problem.clone()),
            Err(Problem::TooLong {
                max_chars: ENDING_NOTE_MAX_CHARS
            })
        );
        for r in EndReason::ALL {
            assert_eq!(EndReason::parse(r.code()), Some(r));
        }
    }
}
