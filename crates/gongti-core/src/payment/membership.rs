//! Who counts under capitation, for how many days, and where (DOMAIN.md §6, issue 17
//! point 2): a person's year from their contracts and chronic-care enrolments.
//!
//! - The contracted scheme counts the days a family-doctor contract was in force (its
//!   term, or up to the day it was ended early), each day once — where two contracts
//!   meet (a switch), the day belongs to the later one — at the contract's institution.
//! - The 门特 hypertension and diabetes schemes count the days under chronic management
//!   of that disease (enrolled to the last day under management) at the enrolling
//!   institution.
//! - Every count is cut to the year and to the day of death (inclusive).
//! - The risk weight's age is the age on the year's first day (0 for one born in it);
//!   the condition is hypertension, diabetes or both when the person was under
//!   management for it on any day of the year they count.

use time::{Date, Month};

use crate::payment::scheme::{Condition, Scheme, SchemeKind, budget_of};
use crate::resident::age_years;

/// A stretch of membership at an institution, both days inclusive; `to: None` runs on
/// past the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub institution_id: i64,
    pub from: Date,
    pub to: Option<Date>,
}

/// A person's facts for the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonYear<'a> {
    pub birth_date: Date,
    pub deceased_on: Option<Date>,
    pub contracts: &'a [Span],
    pub hypertension: &'a [Span],
    pub diabetes: &'a [Span],
}

/// Days a person counts under one scheme at one institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub institution_id: i64,
    pub kind: SchemeKind,
    pub days: i64,
}

/// A person's year: the age and condition that weigh them, and where they count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub age: u32,
    pub condition: Condition,
    pub counted: Vec<Counted>,
}

pub fn first_day(year: i32) -> Date {
    Date::from_calendar_date(year, Month::January, 1).unwrap_or(Date::MIN)
}

pub fn last_day(year: i32) -> Date {
    Date::from_calendar_date(year, Month::December, 31).unwrap_or(Date::MAX)
}

pub fn days_in_year(year: i32) -> i64 {
    i64::from(time::util::days_in_year(year))
}

/// Each span cut to `[from, to]` as (institution, first, last), empty ones dropped.
fn clipped(spans: &[Span], from: Date, to: Date) -> Vec<(i64, Date, Date)> {
    spans
        .iter()
        .filter_map(|s| {
            let a = s.from.max(from);
            let b = s.to.unwrap_or(to).min(to);
            (a <= b).then_some((s.institution_id, a, b))
        })
        .collect()
}

/// Days per institution, each day once: a day inside several spans belongs to the
/// one that started latest (the same start: the one listed last).
fn days_by_institution(spans: &[(i64, Date, Date)]) -> Vec<(i64, i64)> {
    let mut cuts: Vec<Date> = spans
        .iter()
        .flat_map(|&(_, from, to)| [from, to.next_day().unwrap_or(to)])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for w in cuts.windows(2) {
        let (from, next) = (w[0], w[1]);
        let owner = spans
            .iter()
            .enumerate()
            .filter(|(_, s)| s.1 <= from && from <= s.2)
            .max_by_key(|(i, s)| (s.1, *i))
            .map(|(_, s)| s.0);
        if let Some(institution) = owner {
            let days = (next - from).whole_days();
            match out.iter_mut().find(|(i, _)| *i == institution) {
                Some(entry) => entry.1 += days,
                None => out.push((institution, days)),
            }
        }
    }
    out
}

/// A person's year (see the module's rules).
pub fn membership(year: i32, p: &PersonYear<'_>) -> Membership {
    let from = first_day(year).max(p.birth_date);
    let to = match p.deceased_on {
        Some(d) => d.min(last_day(year)),
        None => last_day(year),
    };
    let contracts = clipped(p.contracts, from, to);
    let hypertension = clipped(p.hypertension, from, to);
    let diabetes = clipped(p.diabetes, from, to);
    let condition = match (!hypertension.is_empty(), !diabetes.is_empty()) {
        (false, false) => Condition::None,
        (true, false) => Condition::Hypertension,
        (false, true) => Condition::Diabetes,
        (true, true) => Condition::Both,
    };
    let mut counted = Vec::new();
    for (kind, spans) in [
        (SchemeKind::Contracted, contracts),
        (SchemeKind::MtHypertension, hypertension),
        (SchemeKind::MtDiabetes, diabetes),
    ] {
        for (institution_id, days) in days_by_institution(&spans) {
            counted.push(Counted {
                institution_id,
                kind,
                days,
            });
        }
    }
    Membership {
        age: u32::try_from(age_years(p.birth_date, first_day(year))).unwrap_or(0),
        condition,
        counted,
    }
}

/// Where a person counted under capitation on `day`: the institution of the contract
/// in force (the latest begun, as [`membership`] gives a shared day), else of the
/// hypertension enrolment, else of the diabetes one; `None` when they counted
/// nowhere (not contracted nor under management, or dead).
pub fn owner_on(p: &PersonYear<'_>, day: Date) -> Option<i64> {
    owner_for(p, day, SchemeKind::Contracted)
}

/// As [`owner_on`], but the spans of `first` tried first: a 门特 settlement of a
/// disease belongs where the person's budget for that disease is, the institution
/// managing it, when one did that day.
pub fn owner_for(p: &PersonYear<'_>, day: Date, first: SchemeKind) -> Option<i64> {
    if p.deceased_on.is_some_and(|d| day > d) || day < p.birth_date {
        return None;
    }
    let of = |kind: SchemeKind| match kind {
        SchemeKind::Contracted => p.contracts,
        SchemeKind::MtHypertension => p.hypertension,
        SchemeKind::MtDiabetes => p.diabetes,
    };
    std::iter::once(first)
        .chain(SchemeKind::ALL.iter().copied())
        .find_map(|kind| {
            of(kind)
                .iter()
                .enumerate()
                .filter(|(_, s)| s.from <= day && s.to.is_none_or(|t| day <= t))
                .max_by_key(|(i, s)| (s.from, *i))
                .map(|(_, s)| s.institution_id)
        })
}

/// An institution's budget being summed: B's numerator exactly, and the persons and
/// person-days of each scheme.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub numerator: i128,
    /// By [`SchemeKind`].
    pub persons: [i64; 3],
    pub person_days: [i64; 3],
}

impl Tally {
    /// Adds a person's days under one scheme here, weighed by their age and condition.
    pub fn add(&mut self, scheme: &Scheme, m: &Membership, c: &Counted) {
        self.numerator += scheme.share(c.kind, m.age, m.condition, c.days);
        let k = SchemeKind::ALL
            .iter()
            .position(|x| *x == c.kind)
            .unwrap_or(0);
        self.persons[k] += 1;
        self.person_days[k] += c.days;
    }

    /// B in fen (rounded once, DOMAIN.md §6).
    pub fn budget_fen(&self, days_in_year: i64) -> i64 {
        budget_of(self.numerator, days_in_year)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn span(institution_id: i64, from: Date, to: Option<Date>) -> Span {
        Span {
            institution_id,
            from,
            to,
        }
    }

    type Row = (i64, SchemeKind, i64);

    struct P {
        birth_date: Date,
        deceased_on: Option<Date>,
        contracts: Vec<Span>,
        hypertension: Vec<Span>,
        diabetes: Vec<Span>,
    }

    fn counted(m: &Membership) -> Vec<Row> {
        m.counted
            .iter()
            .map(|c| (c.institution_id, c.kind, c.days))
            .collect()
    }

    #[test]
    fn days_count_from_contracts_and_enrolments_cut_to_the_year_and_to_death() {
        use SchemeKind::{Contracted as K, MtDiabetes as D, MtHypertension as H};
        // (birth, death, contracts, hypertension, diabetes) → (age, condition, counted)
        let cases: Vec<(P, u32, Condition, Vec<Row>)> = vec![
            // a whole year under a contract signed the year before: 365 days
            (
                P {
                    birth_date: date!(1960 - 06 - 15),
                    deceased_on: None,
                    contracts: vec![
                        span(1, date!(2025 - 03 - 01), Some(date!(2026 - 02 - 28))),
                        span(1, date!(2026 - 03 - 01), Some(date!(2027 - 02 - 28))),
                    ],
                    hypertension: vec![],
                    diabetes: vec![],
                },
                65,
                Condition::None,
                vec![(1, K, 365)],
            ),
            // joining on 1 July: 184 days (July to December)
            (
                P {
                    birth_date: date!(1980 - 01 - 01),
                    deceased_on: None,
                    contracts: vec![span(1, date!(2026 - 07 - 01), Some(date!(2027 - 06 - 30)))],
                    hypertension: vec![],
                    diabetes: vec![],
                },
                46,
                Condition::None,
                vec![(1, K, 184)],
            ),
            // terminated on 31 March (its last day): 90 days
            (
                P {
                    birth_date: date!(1980 - 01 - 02),
                    deceased_on: None,
                    contracts: vec![span(1, date!(2025 - 10 - 01), Some(date!(2026 - 03 - 31)))],
                    hypertension: vec![],
                    diabetes: vec![],
                },
                45,
                Condition::None,
                vec![(1, K, 90)],
            ),
            // switched on 1 April from institution 1 to 2 (the old ended that day, the new
            // began it): the shared day goes to the new one — 90 and 275
            (
                P {
                    birth_date: date!(1950 - 05 - 05),
                    deceased_on: None,
                    contracts: vec![
                        span(1, date!(2025 - 09 - 01), Some(date!(2026 - 04 - 01))),
                        span(2, date!(2026 - 04 - 01), Some(date!(2027 - 03 - 31))),
                    ],
                    hypertension: vec![span(1, date!(2020 - 01 - 01), None)],
                    diabetes: vec![],
                },
                75,
                Condition::Hypertension,
                vec![(1, K, 90), (2, K, 275), (1, H, 365)],
            ),
            // died on 10 February: 41 days under each; diabetes and hypertension both
            (
                P {
                    birth_date: date!(1940 - 02 - 01),
                    deceased_on: Some(date!(2026 - 02 - 10)),
                    contracts: vec![span(3, date!(2025 - 05 - 01), Some(date!(2026 - 04 - 30)))],
                    hypertension: vec![span(3, date!(2024 - 01 - 01), None)],
                    diabetes: vec![span(3, date!(2025 - 01 - 01), None)],
                },
                85,
                Condition::Both,
                vec![(3, K, 41), (3, H, 41), (3, D, 41)],
            ),
            // a diabetes enrolment ended last year: not counted, and not the condition;
            // died last year: nothing at all
            (
                P {
                    birth_date: date!(1970 - 01 - 01),
                    deceased_on: None,
                    contracts: vec![],
                    hypertension: vec![],
                    diabetes: vec![span(4, date!(2023 - 01 - 01), Some(date!(2025 - 12 - 31)))],
                },
                56,
                Condition::None,
                vec![],
            ),
            (
                P {
                    birth_date: date!(1930 - 01 - 01),
                    deceased_on: Some(date!(2025 - 06 - 01)),
                    contracts: vec![span(4, date!(2025 - 01 - 01), Some(date!(2025 - 12 - 31)))],
                    hypertension: vec![],
                    diabetes: vec![],
                },
                96,
                Condition::None,
                vec![],
            ),
            // born on 1 March and contracted at birth: age 0, 306 days
            (
                P {
                    birth_date: date!(2026 - 03 - 01),
                    deceased_on: None,
                    contracts: vec![span(5, date!(2026 - 03 - 01), Some(date!(2027 - 02 - 28)))],
                    hypertension: vec![],
                    diabetes: vec![],
                },
                0,
                Condition::None,
                vec![(5, K, 306)],
            ),
            // a short enrolment elsewhere inside a long one: the later start takes its
            // days, the earlier resumes after (31 at 7, 334 at 6)
            (
                P {
                    birth_date: date!(1955 - 07 - 07),
                    deceased_on: None,
                    contracts: vec![],
                    hypertension: vec![],
                    diabetes: vec![
                        span(6, date!(2019 - 01 - 01), None),
                        span(7, date!(2026 - 03 - 01), Some(date!(2026 - 03 - 31))),
                    ],
                },
                70,
                Condition::Diabetes,
                vec![(6, D, 334), (7, D, 31)],
            ),
        ];
        for (p, age, condition, expected) in cases {
            let person = PersonYear {
                birth_date: p.birth_date,
                deceased_on: p.deceased_on,
                contracts: &p.contracts,
                hypertension: &p.hypertension,
                diabetes: &p.diabetes,
            };
            let m = membership(2026, &person);
            assert_eq!((m.age, m.condition), (age, condition), "{person:?}");
            assert_eq!(counted(&m), expected, "{person:?}");
        }
        assert_eq!((days_in_year(2026), days_in_year(2028)), (365, 366));
    }

    #[test]
    fn a_cost_belongs_where_its_person_counted_that_day() {
        let contracts = [
            span(1, date!(2025 - 09 - 01), Some(date!(2026 - 04 - 01))),
            span(2, date!(2026 - 04 - 01), Some(date!(2027 - 03 - 31))),
        ];
        let hypertension = [span(3, date!(2020 - 01 - 01), None)];
        let p = PersonYear {
            birth_date: date!(1950 - 05 - 05),
            deceased_on: Some(date!(2026 - 11 - 30)),
            contracts: &contracts,
            hypertension: &hypertension,
            diabetes: &[],
        };
        for (day, owner) in [
            (date!(2026 - 03 - 31), Some(1)),
            (date!(2026 - 04 - 01), Some(2)),
            (date!(2026 - 11 - 30), Some(2)),
            (date!(2026 - 12 - 01), None),
        ] {
            assert_eq!(owner_on(&p, day), owner, "{day}");
        }
        let managed_only = PersonYear {
            contracts: &[],
            deceased_on: None,
            ..p
        };
        assert_eq!(owner_on(&managed_only, date!(2026 - 06 - 01)), Some(3));
        // contracted at 1, managed for hypertension at 3: a hypertension settlement
        // goes where the disease's budget is
        let both = PersonYear {
            deceased_on: None,
            ..p
        };
        assert_eq!(owner_on(&both, date!(2026 - 03 - 01)), Some(1));
        assert_eq!(
            owner_for(&both, date!(2026 - 03 - 01), SchemeKind::MtHypertension),
            Some(3)
        );
        assert_eq!(
            owner_for(&both, date!(2026 - 03 - 01), SchemeKind::MtDiabetes),
            Some(1),
            "not managed for diabetes: the contract's"
        );
        assert_eq!(owner_on(&managed_only, date!(2019 - 06 - 01)), None);
    }
}
