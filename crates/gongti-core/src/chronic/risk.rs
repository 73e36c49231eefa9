//! Hypertension risk stratification (高血压心血管风险分层), DOMAIN.md §2: BP grade
//! combined with the count of risk factors, target-organ damage and clinical
//! conditions, by the table of the Chinese hypertension guideline (2018 revision):
//!
//! | | grade 1 | grade 2 | grade 3 |
//! |---|---|---|---|
//! | no other risk factor | low | medium | high |
//! | 1–2 risk factors | medium | medium ¹ | very high |
//! | ≥ 3 risk factors, target-organ damage, CKD stage 3, or diabetes without complications | high | high | very high |
//! | clinical CVD, CKD stage ≥ 4, or diabetes with complications | very high | very high | very high |
//!
//! ¹ The 2018 table prints "medium/high" here; we take the 2010 table's "medium",
//! so one patient always gets one level.
//!
//! The grade is that of the highest BP on record (risk is judged on the untreated
//! level); a diagnosed patient with no reading at or above 140/90 is grade 1.

use super::Bp;
use crate::Sex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BpGrade {
    One = 1,
    Two = 2,
    Three = 3,
}

/// The grade of one reading (the higher of the SBP and DBP grades); `None` under
/// 140/90.
pub fn bp_grade(bp: Bp) -> Option<BpGrade> {
    let by_sbp = match bp.sbp_mmhg {
        180.. => Some(BpGrade::Three),
        160.. => Some(BpGrade::Two),
        140.. => Some(BpGrade::One),
        _ => None,
    };
    let by_dbp = match bp.dbp_mmhg {
        110.. => Some(BpGrade::Three),
        100.. => Some(BpGrade::Two),
        90.. => Some(BpGrade::One),
        _ => None,
    };
    by_sbp.max(by_dbp)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskLevel {
    /// 低危
    Low,
    /// 中危
    Medium,
    /// 高危
    High,
    /// 很高危
    VeryHigh,
}

impl RiskLevel {
    pub fn code(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::VeryHigh => "very_high",
        }
    }

    pub fn parse(code: &str) -> Option<RiskLevel> {
        match code {
            "low" => Some(RiskLevel::Low),
            "medium" => Some(RiskLevel::Medium),
            "high" => Some(RiskLevel::High),
            "very_high" => Some(RiskLevel::VeryHigh),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiabetesStatus {
    #[default]
    None,
    WithoutComplications,
    WithComplications,
}

/// Everything the stratification reads. Recompute whenever one of these changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskInputs {
    pub sex: Sex,
    pub age_years: u8,
    /// The highest reading on record, if any.
    pub highest_bp: Option<Bp>,
    pub smoking: bool,
    pub dyslipidaemia: bool,
    /// Impaired glucose tolerance or fasting glucose (糖耐量受损/空腹血糖异常).
    pub impaired_glucose: bool,
    pub family_history_early_cvd: bool,
    /// BMI in hundredths (2800 = 28.0).
    pub bmi_centi: Option<u16>,
    pub waist_cm: Option<u16>,
    pub target_organ_damage: bool,
    /// 0 when no chronic kidney disease.
    pub ckd_stage: u8,
    pub diabetes: DiabetesStatus,
    /// Established cardiovascular or cerebrovascular disease.
    pub cvd: bool,
}

/// What counted, so the doctor sees why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RiskFactor {
    /// Men > 55, women > 65.
    Age,
    Smoking,
    Dyslipidaemia,
    ImpairedGlucose,
    FamilyHistory,
    /// BMI ≥ 28 or waist ≥ 90 cm (men) / ≥ 85 cm (women).
    Obesity,
    TargetOrganDamage,
    Ckd3,
    DiabetesWithoutComplications,
    Ckd4OrWorse,
    DiabetesWithComplications,
    Cvd,
}

impl RiskFactor {
    pub const ALL: [RiskFactor; 12] = [
        RiskFactor::Age,
        RiskFactor::Smoking,
        RiskFactor::Dyslipidaemia,
        RiskFactor::ImpairedGlucose,
        RiskFactor::FamilyHistory,
        RiskFactor::Obesity,
        RiskFactor::TargetOrganDamage,
        RiskFactor::Ckd3,
        RiskFactor::DiabetesWithoutComplications,
        RiskFactor::Ckd4OrWorse,
        RiskFactor::DiabetesWithComplications,
        RiskFactor::Cvd,
    ];

    pub fn parse(code: &str) -> Option<RiskFactor> {
        RiskFactor::ALL.into_iter().find(|f| f.code() == code)
    }

    pub fn code(self) -> &'static str {
        match self {
            RiskFactor::Age => "age",
            RiskFactor::Smoking => "smoking",
            RiskFactor::Dyslipidaemia => "dyslipidaemia",
            RiskFactor::ImpairedGlucose => "impaired_glucose",
            RiskFactor::FamilyHistory => "family_history_early_cvd",
            RiskFactor::Obesity => "obesity",
            RiskFactor::TargetOrganDamage => "target_organ_damage",
            RiskFactor::Ckd3 => "ckd_stage_3",
            RiskFactor::DiabetesWithoutComplications => "diabetes",
            RiskFactor::Ckd4OrWorse => "ckd_stage_4_plus",
            RiskFactor::DiabetesWithComplications => "diabetes_with_complications",
            RiskFactor::Cvd => "cvd",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stratification {
    pub level: RiskLevel,
    pub grade: BpGrade,
    /// Risk factors counted (the six of the guideline).
    pub risk_factor_count: u8,
    /// Everything that decided the row: risk factors, organ damage, conditions.
    pub factors: Vec<RiskFactor>,
}

pub fn stratify(i: &RiskInputs) -> Stratification {
    let mut factors = Vec::new();
    let older = match i.sex {
        Sex::Male => i.age_years > 55,
        Sex::Female => i.age_years > 65,
    };
    let obese = i.bmi_centi.is_some_and(|b| b >= 2800)
        || i.waist_cm.is_some_and(|w| match i.sex {
            Sex::Male => w >= 90,
            Sex::Female => w >= 85,
        });
    for (present, factor) in [
        (older, RiskFactor::Age),
        (i.smoking, RiskFactor::Smoking),
        (i.dyslipidaemia, RiskFactor::Dyslipidaemia),
        (i.impaired_glucose, RiskFactor::ImpairedGlucose),
        (i.family_history_early_cvd, RiskFactor::FamilyHistory),
        (obese, RiskFactor::Obesity),
    ] {
        if present {
            factors.push(factor);
        }
    }
    let risk_factor_count = factors.len() as u8;
    let clinical = [
        (i.cvd, RiskFactor::Cvd),
        (i.ckd_stage >= 4, RiskFactor::Ckd4OrWorse),
        (
            i.diabetes == DiabetesStatus::WithComplications,
            RiskFactor::DiabetesWithComplications,
        ),
    ];
    let third_row = [
        (i.target_organ_damage, RiskFactor::TargetOrganDamage),
        (i.ckd_stage == 3, RiskFactor::Ckd3),
        (
            i.diabetes == DiabetesStatus::WithoutComplications,
            RiskFactor::DiabetesWithoutComplications,
        ),
    ];
    let has_clinical = clinical.iter().any(|(p, _)| *p);
    let has_third = third_row.iter().any(|(p, _)| *p);
    factors.extend(
        third_row
            .iter()
            .chain(clinical.iter())
            .filter(|(p, _)| *p)
            .map(|(_, f)| *f),
    );

    let grade = i.highest_bp.and_then(bp_grade).unwrap_or(BpGrade::One);
    use BpGrade::*;
    use RiskLevel::*;
    let level = if has_clinical {
        VeryHigh
    } else if has_third || risk_factor_count >= 3 {
        match grade {
            One | Two => High,
            Three => VeryHigh,
        }
    } else if risk_factor_count >= 1 {
        match grade {
            One | Two => Medium,
            Three => VeryHigh,
        }
    } else {
        match grade {
            One => Low,
            Two => Medium,
            Three => High,
        }
    };
    Stratification {
        level,
        grade,
        risk_factor_count,
        factors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(sbp: u16, dbp: u16) -> RiskInputs {
        RiskInputs {
            sex: Sex::Male,
            age_years: 50,
            highest_bp: Some(Bp::new(sbp, dbp)),
            smoking: false,
            dyslipidaemia: false,
            impaired_glucose: false,
            family_history_early_cvd: false,
            bmi_centi: None,
            waist_cm: None,
            target_organ_damage: false,
            ckd_stage: 0,
            diabetes: DiabetesStatus::None,
            cvd: false,
        }
    }

    #[test]
    fn bp_grades_take_the_higher_of_the_two_numbers() {
        // DOMAIN.md §2 risk stratification: grade 1 140–159/90–99, grade 2
        // 160–179/100–109, grade 3 ≥ 180/110.
        for (sbp, dbp, grade) in [
            (139, 89, None),
            (140, 80, Some(BpGrade::One)),
            (130, 90, Some(BpGrade::One)),
            (159, 99, Some(BpGrade::One)),
            (160, 80, Some(BpGrade::Two)),
            (150, 100, Some(BpGrade::Two)),
            (179, 109, Some(BpGrade::Two)),
            (180, 80, Some(BpGrade::Three)),
            (150, 110, Some(BpGrade::Three)),
        ] {
            assert_eq!(bp_grade(Bp::new(sbp, dbp)), grade, "{sbp}/{dbp}");
        }
    }

    /// A row of the table: its name, how to set it up, the level per grade.
    type Row = (&'static str, fn(&mut RiskInputs), [RiskLevel; 3]);

    #[test]
    fn the_guideline_table_row_by_row() {
        // DOMAIN.md §2 risk stratification; the table in this module's header.
        use RiskLevel::*;
        let grades = [(150, 95), (165, 100), (185, 100)];
        let rows: Vec<Row> = vec![
            ("no risk factor", |_| {}, [Low, Medium, High]),
            (
                "one risk factor",
                |i| i.smoking = true,
                [Medium, Medium, VeryHigh],
            ),
            (
                "two risk factors",
                |i| {
                    i.smoking = true;
                    i.dyslipidaemia = true;
                },
                [Medium, Medium, VeryHigh],
            ),
            (
                "three risk factors",
                |i| {
                    i.smoking = true;
                    i.dyslipidaemia = true;
                    i.family_history_early_cvd = true;
                },
                [High, High, VeryHigh],
            ),
            (
                "target-organ damage",
                |i| i.target_organ_damage = true,
                [High, High, VeryHigh],
            ),
            ("CKD stage 3", |i| i.ckd_stage = 3, [High, High, VeryHigh]),
            (
                "diabetes without complications",
                |i| i.diabetes = DiabetesStatus::WithoutComplications,
                [High, High, VeryHigh],
            ),
            (
                "CKD stage 4",
                |i| i.ckd_stage = 4,
                [VeryHigh, VeryHigh, VeryHigh],
            ),
            ("CVD", |i| i.cvd = true, [VeryHigh, VeryHigh, VeryHigh]),
            (
                "diabetes with complications",
                |i| i.diabetes = DiabetesStatus::WithComplications,
                [VeryHigh, VeryHigh, VeryHigh],
            ),
        ];
        for (name, setup, expected) in rows {
            for ((sbp, dbp), want) in grades.iter().zip(expected) {
                let mut i = base(*sbp, *dbp);
                setup(&mut i);
                assert_eq!(stratify(&i).level, want, "{name} at {sbp}/{dbp}");
            }
        }
    }

    #[test]
    fn age_and_obesity_thresholds_differ_by_sex() {
        // DOMAIN.md §2: age men > 55 / women > 65; obesity (guideline): BMI ≥ 28 or
        // waist ≥ 90 cm men / ≥ 85 cm women.
        let count = |sex, age, bmi: Option<u16>, waist: Option<u16>| {
            let i = RiskInputs {
                sex,
                age_years: age,
                bmi_centi: bmi,
                waist_cm: waist,
                ..base(150, 95)
            };
            stratify(&i).risk_factor_count
        };
        assert_eq!(count(Sex::Male, 55, None, None), 0);
        assert_eq!(count(Sex::Male, 56, None, None), 1);
        assert_eq!(count(Sex::Female, 65, None, None), 0);
        assert_eq!(count(Sex::Female, 66, None, None), 1);
        assert_eq!(count(Sex::Male, 50, Some(2799), None), 0);
        assert_eq!(count(Sex::Male, 50, Some(2800), None), 1);
        assert_eq!(count(Sex::Male, 50, None, Some(89)), 0);
        assert_eq!(count(Sex::Male, 50, None, Some(90)), 1);
        assert_eq!(count(Sex::Female, 50, None, Some(84)), 0);
        assert_eq!(count(Sex::Female, 50, None, Some(85)), 1);
    }

    #[test]
    fn without_a_raised_reading_a_diagnosed_patient_is_grade_one() {
        let mut i = base(0, 0);
        i.highest_bp = None;
        assert_eq!(stratify(&i).grade, BpGrade::One);
        i.highest_bp = Some(Bp::new(135, 85));
        assert_eq!(stratify(&i).grade, BpGrade::One);
    }

    #[test]
    fn the_factors_that_decided_are_listed() {
        let mut i = base(165, 100);
        i.sex = Sex::Female;
        i.age_years = 70;
        i.smoking = true;
        i.ckd_stage = 3;
        let s = stratify(&i);
        let codes: Vec<_> = s.factors.iter().map(|f| f.code()).collect();
        assert_eq!(codes, ["age", "smoking", "ckd_stage_3"]);
        assert_eq!(
            (s.level, s.grade, s.risk_factor_count),
            (RiskLevel::High, BpGrade::Two, 2)
        );
    }
}
