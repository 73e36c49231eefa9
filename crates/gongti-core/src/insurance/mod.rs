//! Insurance (医保, DOMAIN.md §6): the 门诊慢特病 (门特) policy as versioned data
//! (`data/insurance/policy.tsv`) and the settlement of a prescription's fee lines
//! (`settle`). Pure: the application keeps each person's year (deductible used, fund
//! paid) and the settlements, and speaks the bureau's transactions.

pub mod settle;

use std::sync::OnceLock;

use time::Date;

use crate::tsv::{Table, TableProblem};

/// 险种: employees' or urban and rural residents' basic medical insurance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsuranceType {
    /// 职工基本医疗保险 (national code 310).
    Employee,
    /// 城乡居民基本医疗保险 (national code 390).
    Resident,
}

impl InsuranceType {
    pub fn code(self) -> &'static str {
        match self {
            InsuranceType::Employee => "employee",
            InsuranceType::Resident => "resident",
        }
    }

    pub fn parse(code: &str) -> Option<InsuranceType> {
        match code {
            "employee" => Some(InsuranceType::Employee),
            "resident" => Some(InsuranceType::Resident),
            _ => None,
        }
    }

    /// The national platform's `insutype`.
    pub fn national_code(self) -> &'static str {
        match self {
            InsuranceType::Employee => "310",
            InsuranceType::Resident => "390",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            InsuranceType::Employee => "职工医保",
            InsuranceType::Resident => "城乡居民医保",
        }
    }
}

/// 人员类别 as the policy distinguishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonType {
    Working,
    Retired,
}

impl PersonType {
    pub fn code(self) -> &'static str {
        match self {
            PersonType::Working => "working",
            PersonType::Retired => "retired",
        }
    }

    pub fn parse(code: &str) -> Option<PersonType> {
        match code {
            "working" => Some(PersonType::Working),
            "retired" => Some(PersonType::Retired),
            _ => None,
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            PersonType::Working => "在职",
            PersonType::Retired => "退休",
        }
    }
}

/// The level of the institution a prescription comes from, as the policy grades it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CareLevel {
    Grassroots,
    Secondary,
    Tertiary,
    Internet,
}

impl CareLevel {
    pub fn code(self) -> &'static str {
        match self {
            CareLevel::Grassroots => "grassroots",
            CareLevel::Secondary => "secondary",
            CareLevel::Tertiary => "tertiary",
            CareLevel::Internet => "internet",
        }
    }

    pub fn parse(code: &str) -> Option<CareLevel> {
        [
            CareLevel::Grassroots,
            CareLevel::Secondary,
            CareLevel::Tertiary,
            CareLevel::Internet,
        ]
        .into_iter()
        .find(|l| l.code() == code)
    }

    /// The level of an institution of `kind`.
    pub fn of(kind: crate::region::InstitutionKind) -> CareLevel {
        use crate::region::InstitutionKind as K;
        match kind {
            K::InternetHospital => CareLevel::Internet,
            K::TertiaryHospital => CareLevel::Tertiary,
            K::SecondaryHospital => CareLevel::Secondary,
            K::CommunityHealthCentre
            | K::TownshipHealthCentre
            | K::HealthStation
            | K::VillageClinic => CareLevel::Grassroots,
        }
    }
}

/// One row of the policy: what the fund pays for a disease at a level, for a kind of
/// insured person, from a day on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub version: String,
    pub effective_from: Date,
    pub insurance: InsuranceType,
    /// `None`: any person type.
    pub person: Option<PersonType>,
    pub level: CareLevel,
    /// `hypertension` or `diabetes` (the chronic programme's code).
    pub disease: String,
    pub deductible_fen: i64,
    /// The fund's share inside the policy scope, in basis points.
    pub ratio_bp: i64,
    /// 乙类 drugs' 先行自付 share, in basis points.
    pub class_b_selfpay_bp: i64,
    pub annual_cap_fen: i64,
    pub source: String,
}

/// The policy table.
#[derive(Debug, Clone)]
pub struct PolicyTable {
    pub rows: Vec<Policy>,
    sources: Vec<(String, String)>,
}

/// Which policy applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyKey<'a> {
    pub insurance: InsuranceType,
    pub person: PersonType,
    pub level: CareLevel,
    pub disease: &'a str,
    pub on: Date,
}

impl PolicyTable {
    /// The policy shipped with Gongti (`data/insurance/`), checked at first use.
    pub fn builtin() -> &'static PolicyTable {
        static TABLE: OnceLock<PolicyTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            PolicyTable::load(
                include_str!("../../data/insurance/policy.tsv"),
                include_str!("../../data/insurance/sources.tsv"),
            )
            .unwrap_or_else(|problems| {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                panic!(
                    "the shipped insurance policy is broken:\n{}",
                    list.join("\n")
                )
            })
        })
    }

    /// Reads and checks a policy table; every problem named by file and line.
    pub fn load(policy: &str, sources: &str) -> Result<PolicyTable, Vec<TableProblem>> {
        let mut problems = Vec::new();
        let sources_t = Table::parse("sources.tsv", sources, &["id", "citation"])?;
        let sources: Vec<(String, String)> = sources_t
            .rows()
            .iter()
            .map(|r| {
                (
                    sources_t.cell(r, "id").to_owned(),
                    sources_t.cell(r, "citation").to_owned(),
                )
            })
            .collect();
        let t = Table::parse(
            "policy.tsv",
            policy,
            &[
                "version",
                "effective_from",
                "insutype",
                "psn_type",
                "level",
                "disease",
                "deductible_fen",
                "ratio_bp",
                "class_b_selfpay_bp",
                "annual_cap_fen",
                "source",
            ],
        )?;
        let mut rows = Vec::new();
        for row in t.rows() {
            let money = |column: &str| t.cell(row, column).parse::<i64>().ok().filter(|v| *v >= 0);
            let share = |column: &str| {
                t.cell(row, column)
                    .parse::<i64>()
                    .ok()
                    .filter(|v| (0..=10_000).contains(v))
            };
            let day = Date::parse(
                t.cell(row, "effective_from"),
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .ok();
            let person = match t.cell(row, "psn_type") {
                "any" => Some(None),
                other => PersonType::parse(other).map(Some),
            };
            let disease = t.cell(row, "disease");
            let source = t.cell(row, "source");
            if !sources.iter().any(|(id, _)| id == source) {
                problems.push(t.problem(row, format!("unknown source `{source}`")));
            }
            match (
                day,
                InsuranceType::parse(t.cell(row, "insutype")),
                person,
                CareLevel::parse(t.cell(row, "level")),
                money("deductible_fen"),
                share("ratio_bp"),
                share("class_b_selfpay_bp"),
                money("annual_cap_fen"),
            ) {
                (
                    Some(effective_from),
                    Some(insurance),
                    Some(person),
                    Some(level),
                    Some(deductible_fen),
                    Some(ratio_bp),
                    Some(class_b_selfpay_bp),
                    Some(annual_cap_fen),
                ) if matches!(disease, "hypertension" | "diabetes") => rows.push(Policy {
                    version: t.cell(row, "version").to_owned(),
                    effective_from,
                    insurance,
                    person,
                    level,
                    disease: disease.to_owned(),
                    deductible_fen,
                    ratio_bp,
                    class_b_selfpay_bp,
                    annual_cap_fen,
                    source: source.to_owned(),
                }),
                _ => problems.push(t.problem(
                    row,
                    "a day, code, amount (fen ≥ 0) or share (0–10000 basis points) is not valid",
                )),
            }
        }
        if problems.is_empty() {
            Ok(PolicyTable { rows, sources })
        } else {
            Err(problems)
        }
    }

    /// The policy in force for `key`: of the rows that match, the one that took effect
    /// last on or before the day; a row for the person type before one for any.
    pub fn find(&self, key: &PolicyKey<'_>) -> Option<&Policy> {
        self.rows
            .iter()
            .filter(|p| {
                p.insurance == key.insurance
                    && p.level == key.level
                    && p.disease == key.disease
                    && p.person.is_none_or(|t| t == key.person)
                    && p.effective_from <= key.on
            })
            .max_by_key(|p| (p.effective_from, p.person.is_some()))
    }

    /// A source's citation.
    pub fn citation(&self, id: &str) -> Option<&str> {
        self.sources
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, c)| c.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_loads_and_finds_the_row_in_force() {
        let table = PolicyTable::builtin();
        let on = time::macros::date!(2026 - 12 - 04);
        let key = PolicyKey {
            insurance: InsuranceType::Resident,
            person: PersonType::Retired,
            level: CareLevel::Grassroots,
            disease: "diabetes",
            on,
        };
        let p = table.find(&key).unwrap();
        assert_eq!(
            (p.version.as_str(), p.ratio_bp, p.annual_cap_fen),
            ("demo-2026.1", 8000, 400_000)
        );
        assert!(table.citation(&p.source).unwrap().contains("演示"));
        // Employees distinguish working from retired.
        let retired = table
            .find(&PolicyKey {
                insurance: InsuranceType::Employee,
                ..key
            })
            .unwrap();
        assert_eq!(retired.ratio_bp, 9000);
        // Nothing before the first version took effect.
        assert!(
            table
                .find(&PolicyKey {
                    on: time::macros::date!(2025 - 06 - 01),
                    ..key
                })
                .is_none()
        );
        assert_eq!(
            CareLevel::of(crate::region::InstitutionKind::TownshipHealthCentre),
            CareLevel::Grassroots
        );
    }

    #[test]
    fn a_broken_policy_names_its_lines() {
        let policy = "version\teffective_from\tinsutype\tpsn_type\tlevel\tdisease\tdeductible_fen\tratio_bp\tclass_b_selfpay_bp\tannual_cap_fen\tsource\nv\t2026-01-01\tresident\tany\tgrassroots\thypertension\t0\t12000\t0\t1\tdemo-policy\nv\t2026-01-01\tresident\tany\tgrassroots\tgout\t0\t1\t0\t1\tnowhere\n";
        let sources = "id\tcitation\ndemo-policy\tx\n";
        let problems: Vec<String> = PolicyTable::load(policy, sources)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            problems,
            [
                "policy.tsv:2: a day, code, amount (fen ≥ 0) or share (0–10000 basis points) is not valid",
                "policy.tsv:3: unknown source `nowhere`",
                "policy.tsv:3: a day, code, amount (fen ≥ 0) or share (0–10000 basis points) is not valid",
            ]
        );
    }
}
