//! Hypertension screening (高血压筛查), DOMAIN.md §2: a free BP once a year for every
//! resident 35+, a recheck on another day after a raised reading, suspected
//! hypertension after raised readings on three different days (→ referral for
//! diagnosis, follow-up within two weeks, enrolment on confirmation), and BP every
//! six months for high-risk residents.
//!
//! Readings taken on one day are averaged (the guideline measures twice and takes the
//! mean); "three different days" means three days in a row of the resident's
//! screening readings — a normal day in between starts the count again.

use time::{Date, Duration};

use super::Bp;
use crate::Sex;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreeningParams {
    pub from_age_years: u8,
    pub raised: Bp,
    pub raised_days_for_suspicion: u8,
    /// "Recheck on another day": the earliest is the next day.
    pub recheck_after_days: u16,
    pub annual_interval_days: u16,
    pub high_risk_interval_days: u16,
    /// Suspected hypertension: follow the resident up within this after referral.
    pub suspected_followup_days: u16,
    /// High-risk BP band: SBP 130–139 and/or DBP 85–89.
    pub high_normal_from: Bp,
    pub high_risk_from_age_years: u8,
}

impl Default for ScreeningParams {
    fn default() -> ScreeningParams {
        ScreeningParams {
            from_age_years: 35,
            raised: Bp::new(140, 90),
            raised_days_for_suspicion: 3,
            recheck_after_days: 1,
            annual_interval_days: 365,
            high_risk_interval_days: 182,
            suspected_followup_days: 14,
            high_normal_from: Bp::new(130, 85),
            high_risk_from_age_years: 55,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScreeningReading {
    pub on: Date,
    pub bp: Bp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreeningState {
    /// Under the screening age and not high-risk: nothing due.
    NotDue,
    /// Eligible and never measured: measure at the next contact.
    Due,
    /// The latest day was normal.
    Normal,
    /// Raised on this many days in a row, fewer than needed: recheck another day.
    RecheckDue { raised_days: u8 },
    /// Raised on enough days: suspected hypertension, refer for diagnosis.
    Suspected,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreeningOutcome {
    pub state: ScreeningState,
    /// When the next BP is due (`None` when nothing is due).
    pub next_bp_due: Option<Date>,
    /// Suspected: refer for diagnosis and follow up by this date.
    pub followup_by: Option<Date>,
}

/// Why a resident is high-risk (DOMAIN.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HighRiskFactor {
    HighNormalBp,
    /// BMI ≥ 24.
    Overweight,
    /// Waist ≥ 90 cm men / ≥ 85 cm women.
    CentralObesity,
    FamilyHistory,
    HighSaltDiet,
    HeavyDrinking,
    /// Age ≥ 55.
    Age,
}

impl HighRiskFactor {
    pub fn code(self) -> &'static str {
        match self {
            HighRiskFactor::HighNormalBp => "high_normal_bp",
            HighRiskFactor::Overweight => "overweight",
            HighRiskFactor::CentralObesity => "central_obesity",
            HighRiskFactor::FamilyHistory => "family_history",
            HighRiskFactor::HighSaltDiet => "high_salt_diet",
            HighRiskFactor::HeavyDrinking => "heavy_drinking",
            HighRiskFactor::Age => "age",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HighRiskInputs {
    pub sex: Sex,
    pub age_years: u8,
    pub latest_bp: Option<Bp>,
    pub bmi_centi: Option<u16>,
    pub waist_cm: Option<u16>,
    pub family_history: bool,
    pub high_salt_diet: bool,
    pub heavy_drinking: bool,
}

/// The high-risk flags that apply; any one makes the resident high-risk.
pub fn high_risk_factors(i: &HighRiskInputs, p: &ScreeningParams) -> Vec<HighRiskFactor> {
    let high_normal = i.latest_bp.is_some_and(|bp| {
        bp.at_or_above(p.high_normal_from.sbp_mmhg, p.high_normal_from.dbp_mmhg)
            && !bp.at_or_above(p.raised.sbp_mmhg, p.raised.dbp_mmhg)
    });
    let central = i.waist_cm.is_some_and(|w| match i.sex {
        Sex::Male => w >= 90,
        Sex::Female => w >= 85,
    });
    [
        (high_normal, HighRiskFactor::HighNormalBp),
        (
            i.bmi_centi.is_some_and(|b| b >= 2400),
            HighRiskFactor::Overweight,
        ),
        (central, HighRiskFactor::CentralObesity),
        (i.family_history, HighRiskFactor::FamilyHistory),
        (i.high_salt_diet, HighRiskFactor::HighSaltDiet),
        (i.heavy_drinking, HighRiskFactor::HeavyDrinking),
        (
            i.age_years >= p.high_risk_from_age_years,
            HighRiskFactor::Age,
        ),
    ]
    .into_iter()
    .filter_map(|(present, f)| present.then_some(f))
    .collect()
}

fn day_mean(readings: &[ScreeningReading]) -> Bp {
    let n = readings.len() as u32;
    let sum = |f: fn(&Bp) -> u16| readings.iter().map(|r| u32::from(f(&r.bp))).sum::<u32>();
    // Round half up.
    let mean = |total: u32| ((total * 2 + n) / (2 * n)) as u16;
    Bp::new(mean(sum(|b| b.sbp_mmhg)), mean(sum(|b| b.dbp_mmhg)))
}

/// Where a resident stands in screening, given their screening readings (any order).
pub fn screen(
    age_years: u8,
    high_risk: bool,
    readings: &[ScreeningReading],
    today: Date,
    p: &ScreeningParams,
) -> ScreeningOutcome {
    let eligible = age_years >= p.from_age_years || high_risk;
    let mut sorted = readings.to_vec();
    sorted.sort_by_key(|r| r.on);
    let days: Vec<(Date, Bp)> = sorted
        .chunk_by(|a, b| a.on == b.on)
        .map(|day| (day[0].on, day_mean(day)))
        .collect();
    let Some(&(last_day, _)) = days.last() else {
        return ScreeningOutcome {
            state: if eligible {
                ScreeningState::Due
            } else {
                ScreeningState::NotDue
            },
            next_bp_due: eligible.then_some(today),
            followup_by: None,
        };
    };
    let streak = days
        .iter()
        .rev()
        .take_while(|(_, bp)| bp.at_or_above(p.raised.sbp_mmhg, p.raised.dbp_mmhg))
        .count();
    let after = |n: u16| Some(last_day + Duration::days(i64::from(n)));
    if streak >= usize::from(p.raised_days_for_suspicion) {
        return ScreeningOutcome {
            state: ScreeningState::Suspected,
            next_bp_due: None,
            followup_by: after(p.suspected_followup_days),
        };
    }
    if streak > 0 {
        return ScreeningOutcome {
            state: ScreeningState::RecheckDue {
                raised_days: streak as u8,
            },
            next_bp_due: after(p.recheck_after_days),
            followup_by: None,
        };
    }
    let next_bp_due = if high_risk {
        after(p.high_risk_interval_days)
    } else if eligible {
        after(p.annual_interval_days)
    } else {
        None
    };
    ScreeningOutcome {
        state: ScreeningState::Normal,
        next_bp_due,
        followup_by: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn r(on: Date, sbp: u16, dbp: u16) -> ScreeningReading {
        ScreeningReading {
            on,
            bp: Bp::new(sbp, dbp),
        }
    }

    /// name, age, high-risk, readings → state, next BP due, follow up by.
    type Case = (
        &'static str,
        u8,
        bool,
        Vec<ScreeningReading>,
        ScreeningState,
        Option<Date>,
        Option<Date>,
    );

    #[test]
    fn the_screening_path() {
        // DOMAIN.md §2 screening: first raised reading → recheck on another day;
        // raised on 3 different days → suspected, refer, follow up within 2 weeks;
        // annual BP from 35; 6-monthly for high-risk.
        let p = ScreeningParams::default();
        let today = date!(2026 - 06 - 01);
        let d1 = date!(2026 - 03 - 01);
        let d2 = date!(2026 - 03 - 08);
        let d3 = date!(2026 - 03 - 15);
        use ScreeningState::*;
        let cases: Vec<Case> = vec![
            (
                "34 and never measured",
                34,
                false,
                vec![],
                NotDue,
                None,
                None,
            ),
            (
                "35 and never measured",
                35,
                false,
                vec![],
                Due,
                Some(today),
                None,
            ),
            ("high-risk at 30", 30, true, vec![], Due, Some(today), None),
            (
                "normal at 35: next year",
                35,
                false,
                vec![r(d1, 139, 89)],
                Normal,
                Some(date!(2027 - 03 - 01)),
                None,
            ),
            (
                "normal and high-risk: six months",
                35,
                true,
                vec![r(d1, 120, 80)],
                Normal,
                Some(date!(2026 - 08 - 30)),
                None,
            ),
            (
                "first raised reading 140/80",
                40,
                false,
                vec![r(d1, 140, 80)],
                RecheckDue { raised_days: 1 },
                Some(date!(2026 - 03 - 02)),
                None,
            ),
            (
                "first raised reading 120/90",
                40,
                false,
                vec![r(d1, 120, 90)],
                RecheckDue { raised_days: 1 },
                Some(date!(2026 - 03 - 02)),
                None,
            ),
            (
                "two raised days",
                40,
                false,
                vec![r(d2, 150, 95), r(d1, 145, 92)],
                RecheckDue { raised_days: 2 },
                Some(date!(2026 - 03 - 09)),
                None,
            ),
            (
                "three raised days",
                40,
                false,
                vec![r(d1, 145, 92), r(d2, 150, 95), r(d3, 142, 85)],
                Suspected,
                None,
                Some(date!(2026 - 03 - 29)),
            ),
            (
                "two raised readings on one day are one day",
                40,
                false,
                vec![r(d1, 145, 92), r(d2, 150, 95), r(d2, 148, 94)],
                RecheckDue { raised_days: 2 },
                Some(date!(2026 - 03 - 09)),
                None,
            ),
            (
                "a normal day in between starts again",
                40,
                false,
                vec![r(d1, 145, 92), r(d2, 130, 80), r(d3, 150, 95)],
                RecheckDue { raised_days: 1 },
                Some(date!(2026 - 03 - 16)),
                None,
            ),
            (
                "a day's readings are averaged: 142 and 136 → 139",
                40,
                false,
                vec![r(d1, 142, 80), r(d1, 136, 80)],
                Normal,
                Some(date!(2027 - 03 - 01)),
                None,
            ),
        ];
        for (name, age, high_risk, readings, state, next, followup) in cases {
            let o = screen(age, high_risk, &readings, today, &p);
            assert_eq!(
                (o.state, o.next_bp_due, o.followup_by),
                (state, next, followup),
                "{name}"
            );
        }
    }

    #[test]
    fn high_risk_flags() {
        // DOMAIN.md §2: SBP 130–139 and/or DBP 85–89; BMI ≥ 24; waist ≥ 90 cm men /
        // ≥ 85 cm women; family history; high-salt diet; heavy drinking; age ≥ 55.
        let p = ScreeningParams::default();
        let none = HighRiskInputs {
            sex: Sex::Male,
            age_years: 54,
            latest_bp: Some(Bp::new(129, 84)),
            bmi_centi: Some(2399),
            waist_cm: Some(89),
            family_history: false,
            high_salt_diet: false,
            heavy_drinking: false,
        };
        assert_eq!(high_risk_factors(&none, &p), []);
        let codes = |i: HighRiskInputs| -> Vec<&str> {
            high_risk_factors(&i, &p).iter().map(|f| f.code()).collect()
        };
        assert_eq!(
            codes(HighRiskInputs {
                latest_bp: Some(Bp::new(130, 70)),
                ..none.clone()
            }),
            ["high_normal_bp"]
        );
        assert_eq!(
            codes(HighRiskInputs {
                latest_bp: Some(Bp::new(120, 85)),
                ..none.clone()
            }),
            ["high_normal_bp"]
        );
        assert_eq!(
            codes(HighRiskInputs {
                latest_bp: Some(Bp::new(140, 85)),
                ..none.clone()
            }),
            Vec::<&str>::new()
        );
        assert_eq!(
            codes(HighRiskInputs {
                bmi_centi: Some(2400),
                ..none.clone()
            }),
            ["overweight"]
        );
        assert_eq!(
            codes(HighRiskInputs {
                waist_cm: Some(90),
                ..none.clone()
            }),
            ["central_obesity"]
        );
        assert_eq!(
            codes(HighRiskInputs {
                sex: Sex::Female,
                waist_cm: Some(85),
                ..none.clone()
            }),
            ["central_obesity"]
        );
        assert_eq!(
            codes(HighRiskInputs {
                sex: Sex::Female,
                waist_cm: Some(84),
                ..none.clone()
            }),
            Vec::<&str>::new()
        );
        assert_eq!(
            codes(HighRiskInputs {
                age_years: 55,
                ..none.clone()
            }),
            ["age"]
        );
        assert_eq!(
            codes(HighRiskInputs {
                family_history: true,
                high_salt_diet: true,
                heavy_drinking: true,
                ..none.clone()
            }),
            ["family_history", "high_salt_diet", "heavy_drinking"]
        );
    }
}
