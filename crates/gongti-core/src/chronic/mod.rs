//! Chronic-disease management (慢病管理) by the national basic public-health service
//! specification (国家基本公共卫生服务规范, 3rd ed.), DOMAIN.md §2: the two programmes,
//! follow-up classification and urgent referral, risk stratification, screening.
//!
//! Every number the text marks as a parameter lives in [`Params`] with the text's
//! default; the rules take it as an argument.

pub mod followup;
pub mod indicators;
pub mod maintained;
pub mod readings;
pub mod record;
pub mod risk;
pub mod screening;

use crate::measure::Mmol;

/// The version stamped on every stored evaluation, so a figure can be traced to the
/// rules that produced it. Bump it whenever a rule or a default parameter changes.
pub const RULESET_VERSION: &str = "bphs-3rd/2026.2";

/// The two managed programmes (慢病管理项目).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Disease {
    /// 高血压, ICD-10 I10–I15.
    Hypertension,
    /// 2型糖尿病, ICD-10 E11.
    Diabetes,
}

impl Disease {
    pub const ALL: [Disease; 2] = [Disease::Hypertension, Disease::Diabetes];

    pub fn code(self) -> &'static str {
        match self {
            Disease::Hypertension => "hypertension",
            Disease::Diabetes => "diabetes",
        }
    }

    /// The programme's Chinese name, as the 规范 and the console write it.
    pub fn name_zh(self) -> &'static str {
        match self {
            Disease::Hypertension => "高血压",
            Disease::Diabetes => "2型糖尿病",
        }
    }

    /// The programme's ICD-10 category (the code its enrolments usually carry).
    pub fn icd10(self) -> &'static str {
        match self {
            Disease::Hypertension => "I10",
            Disease::Diabetes => "E11",
        }
    }

    pub fn parse(code: &str) -> Option<Disease> {
        match code {
            "hypertension" => Some(Disease::Hypertension),
            "diabetes" => Some(Disease::Diabetes),
            _ => None,
        }
    }

    /// The programme an ICD-10 diagnosis code belongs to: I10–I15 (with or without a
    /// subcategory, e.g. `I11.9`) is hypertension, E11 (`E11`, `E11.9`) is type 2
    /// diabetes. Other codes belong to neither.
    pub fn from_icd10(code: &str) -> Option<Disease> {
        let code = code.trim().to_ascii_uppercase();
        let (category, sub) = match code.split_once('.') {
            Some((c, s)) => (c.to_owned(), Some(s.to_owned())),
            None => (code.clone(), None),
        };
        if let Some(sub) = &sub
            && (sub.is_empty() || sub.len() > 2 || !sub.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return None;
        }
        match category.as_str() {
            "I10" | "I11" | "I12" | "I13" | "I14" | "I15" => Some(Disease::Hypertension),
            "E11" => Some(Disease::Diabetes),
            _ => None,
        }
    }
}

/// A blood-pressure reading in mmHg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bp {
    pub sbp_mmhg: u16,
    pub dbp_mmhg: u16,
}

impl Bp {
    pub const fn new(sbp_mmhg: u16, dbp_mmhg: u16) -> Bp {
        Bp { sbp_mmhg, dbp_mmhg }
    }

    /// At or above a threshold on either number ("SBP ≥ x and/or DBP ≥ y").
    pub fn at_or_above(self, sbp_mmhg: u16, dbp_mmhg: u16) -> bool {
        self.sbp_mmhg >= sbp_mmhg || self.dbp_mmhg >= dbp_mmhg
    }
}

/// A BP target: controlled means both numbers strictly under it (DOMAIN.md §2:
/// "Both SBP and DBP must be under target to count as controlled").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpTarget {
    pub sbp_below_mmhg: u16,
    pub dbp_below_mmhg: u16,
}

impl BpTarget {
    pub fn is_met_by(self, bp: Bp) -> bool {
        bp.sbp_mmhg < self.sbp_below_mmhg && bp.dbp_mmhg < self.dbp_below_mmhg
    }
}

/// The control targets for one age: a younger and an older band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Targets {
    pub bp: BpTarget,
    /// From this age (inclusive) the older band applies.
    pub older_from_age_years: u8,
    pub bp_older: BpTarget,
    pub fpg_below: Mmol,
    pub hba1c_below_centi_percent: i32,
}

impl Targets {
    /// The service specification's targets, on which the indicators are assessed:
    /// < 140/90, < 150/90 from 65; FPG < 7.0 mmol/L; HbA1c < 7.0 %.
    pub const SPECIFICATION: Targets = Targets {
        bp: BpTarget {
            sbp_below_mmhg: 140,
            dbp_below_mmhg: 90,
        },
        older_from_age_years: 65,
        bp_older: BpTarget {
            sbp_below_mmhg: 150,
            dbp_below_mmhg: 90,
        },
        fpg_below: Mmol::from_tenths(70),
        hba1c_below_centi_percent: 700,
    };

    /// The second, configurable target set of the newer guidelines (national
    /// primary-care hypertension guideline 2025: < 130/80 under 80, < 150/90 from 80;
    /// diabetes guideline 2022: HbA1c < 7.0 %).
    pub const GUIDELINE_2025: Targets = Targets {
        bp: BpTarget {
            sbp_below_mmhg: 130,
            dbp_below_mmhg: 80,
        },
        older_from_age_years: 80,
        bp_older: BpTarget {
            sbp_below_mmhg: 150,
            dbp_below_mmhg: 90,
        },
        fpg_below: Mmol::from_tenths(70),
        hba1c_below_centi_percent: 700,
    };

    pub fn bp_for_age(&self, age_years: u8) -> BpTarget {
        if age_years >= self.older_from_age_years {
            self.bp_older
        } else {
            self.bp
        }
    }

    pub fn bp_controlled(&self, bp: Bp, age_years: u8) -> bool {
        self.bp_for_age(age_years).is_met_by(bp)
    }

    pub fn fpg_controlled(&self, fpg: Mmol) -> bool {
        fpg < self.fpg_below
    }

    pub fn hba1c_on_target(&self, hba1c: crate::measure::Percent) -> bool {
        hba1c.centi() < self.hba1c_below_centi_percent
    }
}

/// The parameters DOMAIN.md §2 marks **(param)**, with its defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub targets: Targets,
    /// Face-to-face follow-ups a year that count as "managed to the specification".
    pub face_to_face_per_year: u8,
    /// Next routine follow-up after a satisfactory one (3 months).
    pub routine_interval_days: u16,
    /// Follow-up after an unsatisfactory, adverse-reaction or complication visit.
    pub short_interval_days: u16,
    /// The task an urgent referral creates: follow the patient up within this.
    pub urgent_task_days: u16,
    pub urgent_bp: Bp,
    pub urgent_glucose_at_or_above: Mmol,
    pub urgent_glucose_at_or_below: Mmol,
    pub urgent_heart_rate_above_bpm: u16,
    pub urgent_temperature_above: crate::measure::Celsius,
    /// "Raised" BP in screening and for pregnancy: SBP ≥ 140 and/or DBP ≥ 90.
    pub raised_bp: Bp,
    /// Missed visit: no face-to-face follow-up in this many days.
    pub missed_visit_days: u16,
    /// Lost to follow-up: no contact of any kind in this many days (12 months).
    pub lost_to_follow_up_days: u16,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            targets: Targets::SPECIFICATION,
            face_to_face_per_year: 4,
            routine_interval_days: 90,
            short_interval_days: 14,
            urgent_task_days: 14,
            urgent_bp: Bp::new(180, 110),
            urgent_glucose_at_or_above: Mmol::from_tenths(167),
            urgent_glucose_at_or_below: Mmol::from_tenths(39),
            urgent_heart_rate_above_bpm: 100,
            urgent_temperature_above: crate::measure::Celsius::from_tenths(390),
            raised_bp: Bp::new(140, 90),
            missed_visit_days: 90,
            lost_to_follow_up_days: 365,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd10_codes_i10_to_i15_are_hypertension_and_e11_is_diabetes() {
        // DOMAIN.md §2 "Who"; issue 3 item 2.
        for (code, disease) in [
            ("I10", Some(Disease::Hypertension)),
            ("i10", Some(Disease::Hypertension)),
            ("I11.9", Some(Disease::Hypertension)),
            ("I15", Some(Disease::Hypertension)),
            ("I15.0", Some(Disease::Hypertension)),
            ("I16", None),
            ("I09", None),
            ("I1", None),
            ("E11", Some(Disease::Diabetes)),
            ("E11.9", Some(Disease::Diabetes)),
            ("E10", None),
            ("E12", None),
            ("E11.", None),
            ("E11.123", None),
            ("", None),
        ] {
            assert_eq!(Disease::from_icd10(code), disease, "{code:?}");
        }
    }

    #[test]
    fn controlled_means_both_numbers_under_target_judged_at_age() {
        // DOMAIN.md §2 classification table and the BP control indicator.
        let t = Targets::SPECIFICATION;
        for (sbp, dbp, age, controlled) in [
            (139, 89, 64, true),
            (140, 89, 64, false),
            (139, 90, 64, false),
            (149, 89, 65, true),
            (150, 89, 65, false),
            (149, 90, 65, false),
            (149, 89, 64, false),
        ] {
            assert_eq!(
                t.bp_controlled(Bp::new(sbp, dbp), age),
                controlled,
                "{sbp}/{dbp} at {age}"
            );
        }
        assert!(t.fpg_controlled(Mmol::from_tenths(69)));
        assert!(!t.fpg_controlled(Mmol::from_tenths(70)));
    }

    #[test]
    fn guideline_targets_are_a_second_set() {
        // DOMAIN.md §2: < 130/80 under 80, < 150/90 at 80+.
        let t = Targets::GUIDELINE_2025;
        assert!(t.bp_controlled(Bp::new(129, 79), 79));
        assert!(!t.bp_controlled(Bp::new(130, 79), 79));
        assert!(t.bp_controlled(Bp::new(149, 89), 80));
    }
}
