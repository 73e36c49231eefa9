//! The chronic-disease indicators of DOMAIN.md §2, per programme, for any period:
//! standardised management (规范管理率), BP control (管理人群血压控制率), glucose control
//! (管理人群血糖控制率), HbA1c target, missed visit and lost to follow-up.
//!
//! [`assess`] judges one patient's records for a period; [`Tally`] adds patients up.
//! Both the figures kept as records are written and the full recompute from raw
//! records go through these functions, so they cannot disagree on a rule.
//!
//! Where DOMAIN.md leaves a definition open, the choice is written here and pinned by
//! a test:
//! - *Managed in the period*: enrolled on or before the period's last day and not
//!   ended before its first.
//! - *Standardised*: at least ⌊days in period ÷ 90⌋ face-to-face follow-ups in the
//!   period (4 for a year), and at least one for periods shorter than 90 days.
//! - *Missed visit*: among patients enrolled at least 90 days before the period's
//!   end, those with no face-to-face follow-up in its last 90 days.
//! - *Lost to follow-up*: among patients enrolled at least 12 months (365 days)
//!   before the period's end, those with no contact of any kind — follow-up by any
//!   method or home reading — in the 365 days up to its end.

use time::{Date, Duration};

use super::{Bp, Disease, Params};
use crate::measure::{Mmol, Percent};

/// An inclusive range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

impl Period {
    pub fn new(from: Date, to: Date) -> Option<Period> {
        (from <= to).then_some(Period { from, to })
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).whole_days() + 1
    }

    pub fn contains(&self, day: Date) -> bool {
        self.from <= day && day <= self.to
    }

    /// The period of the same length just before this one (the baseline).
    pub fn previous(&self) -> Period {
        let to = self.from - Duration::days(1);
        Period {
            from: to - Duration::days(self.days() - 1),
            to,
        }
    }
}

/// Face-to-face follow-ups a patient needs in `period` to count as managed to the
/// specification: ⌊days ÷ 90⌋, at least 1 (4 for a year).
pub fn required_face_to_face(period: &Period, params: &Params) -> u32 {
    let interval = i64::from(params.routine_interval_days).max(1);
    u32::try_from(period.days() / interval)
        .unwrap_or(u32::MAX)
        .max(1)
}

/// What the indicators read of one follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitFact {
    pub visit_on: Date,
    /// Orders follow-ups of the same day (the stored id).
    pub id: i64,
    pub face_to_face: bool,
    pub age_years: u8,
    pub bp: Option<Bp>,
    pub fpg: Option<Mmol>,
    pub hba1c: Option<Percent>,
}

/// One patient's records in one programme, as far as the indicators need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientFacts {
    pub disease: Disease,
    pub enrolled_on: Date,
    pub ended_on: Option<Date>,
    /// Follow-ups in this programme, any order.
    pub visits: Vec<VisitFact>,
    /// Days with a home reading (contact for "lost to follow-up"), any order.
    pub reading_days: Vec<Date>,
}

/// Which indicators a patient counts in, for one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Assessment {
    pub managed: bool,
    pub face_to_face: u32,
    pub standardised: bool,
    /// The latest measured BP in the period was under target (hypertension).
    pub bp_controlled: bool,
    /// The latest FPG in the period was under 7.0 (diabetes).
    pub fpg_controlled: bool,
    pub hba1c_measured: bool,
    pub hba1c_on_target: bool,
    pub missed_visit_eligible: bool,
    pub missed_visit: bool,
    pub lost_eligible: bool,
    pub lost: bool,
}

/// Whether a patient is asked about a window of `window_days` ending on a period's
/// last day `to` (missed visit: 90 days; lost to follow-up: 365, DOMAIN.md §2):
/// enrolled at least that long before it, and still enrolled on it — an enrolment that
/// ended (结案) cannot miss a visit after its end.
pub fn window_eligible(
    enrolled_on: Date,
    ended_on: Option<Date>,
    to: Date,
    window_days: u16,
) -> bool {
    ended_on.is_none_or(|e| e >= to) && enrolled_on <= to - Duration::days(i64::from(window_days))
}

/// A patient's facts as they stood at the end of `day`: later follow-ups and readings
/// dropped, an ending after it not yet happened; `None` if not enrolled by then. Read
/// over a past period, it gives the figure as that period showed it on that day — the
/// counterpart of a period still in progress.
pub fn as_of(mut p: PatientFacts, day: Date) -> Option<PatientFacts> {
    if p.enrolled_on > day {
        return None;
    }
    p.visits.retain(|v| v.visit_on <= day);
    p.reading_days.retain(|d| *d <= day);
    p.ended_on = p.ended_on.filter(|e| *e <= day);
    Some(p)
}

/// Judges one patient for a period (DOMAIN.md §2 indicators).
pub fn assess(p: &PatientFacts, period: &Period, params: &Params) -> Assessment {
    let managed = p.enrolled_on <= period.to && p.ended_on.is_none_or(|e| e >= period.from);
    if !managed {
        return Assessment::default();
    }
    let mut in_period: Vec<&VisitFact> = p
        .visits
        .iter()
        .filter(|v| period.contains(v.visit_on))
        .collect();
    in_period.sort_by_key(|v| (v.visit_on, v.id));
    let face_to_face = in_period.iter().filter(|v| v.face_to_face).count() as u32;
    let latest_bp = in_period
        .iter()
        .rev()
        .find_map(|v| v.bp.map(|bp| (bp, v.age_years)));
    let latest_fpg = in_period.iter().rev().find_map(|v| v.fpg);
    let latest_hba1c = in_period.iter().rev().find_map(|v| v.hba1c);
    let targets = &params.targets;
    let (bp_controlled, fpg_controlled) = match p.disease {
        Disease::Hypertension => (
            latest_bp.is_some_and(|(bp, age)| targets.bp_controlled(bp, age)),
            false,
        ),
        Disease::Diabetes => (false, latest_fpg.is_some_and(|g| targets.fpg_controlled(g))),
    };
    let (hba1c_measured, hba1c_on_target) = match p.disease {
        Disease::Diabetes => (
            latest_hba1c.is_some(),
            latest_hba1c.is_some_and(|h| targets.hba1c_on_target(h)),
        ),
        Disease::Hypertension => (false, false),
    };

    let missed_window_from = period.to - Duration::days(i64::from(params.missed_visit_days) - 1);
    let missed_visit_eligible = window_eligible(
        p.enrolled_on,
        p.ended_on,
        period.to,
        params.missed_visit_days,
    );
    let visited_recently = p
        .visits
        .iter()
        .any(|v| v.face_to_face && missed_window_from <= v.visit_on && v.visit_on <= period.to);
    let lost_window_from = period.to - Duration::days(i64::from(params.lost_to_follow_up_days) - 1);
    let lost_eligible = window_eligible(
        p.enrolled_on,
        p.ended_on,
        period.to,
        params.lost_to_follow_up_days,
    );
    let in_lost_window = |d: Date| lost_window_from <= d && d <= period.to;
    let contacted = p.visits.iter().any(|v| in_lost_window(v.visit_on))
        || p.reading_days.iter().any(|d| in_lost_window(*d));

    Assessment {
        managed,
        face_to_face,
        standardised: face_to_face >= required_face_to_face(period, params),
        bp_controlled,
        fpg_controlled,
        hba1c_measured,
        hba1c_on_target,
        missed_visit_eligible,
        missed_visit: missed_visit_eligible && !visited_recently,
        lost_eligible,
        lost: lost_eligible && !contacted,
    }
}

/// The indicators a dashboard shows, each a numerator over a denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Indicator {
    /// 规范管理率
    Standardised,
    /// 管理人群血压控制率 (hypertension)
    BpControl,
    /// 管理人群血糖控制率 (diabetes)
    GlucoseControl,
    /// HbA1c < 7.0 % among those measured (diabetes)
    Hba1cTarget,
    MissedVisit,
    LostToFollowUp,
}

impl Indicator {
    pub const ALL: [Indicator; 6] = [
        Indicator::Standardised,
        Indicator::BpControl,
        Indicator::GlucoseControl,
        Indicator::Hba1cTarget,
        Indicator::MissedVisit,
        Indicator::LostToFollowUp,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Indicator::Standardised => "standardised_management",
            Indicator::BpControl => "bp_control",
            Indicator::GlucoseControl => "glucose_control",
            Indicator::Hba1cTarget => "hba1c_target",
            Indicator::MissedVisit => "missed_visit",
            Indicator::LostToFollowUp => "lost_to_follow_up",
        }
    }

    pub fn parse(code: &str) -> Option<Indicator> {
        Indicator::ALL.into_iter().find(|i| i.code() == code)
    }

    /// Whether the indicator belongs to the programme.
    pub fn applies_to(self, disease: Disease) -> bool {
        match self {
            Indicator::BpControl => disease == Disease::Hypertension,
            Indicator::GlucoseControl | Indicator::Hba1cTarget => disease == Disease::Diabetes,
            _ => true,
        }
    }

    /// Whether the patient is in this indicator's (numerator, denominator).
    pub fn counts(self, a: &Assessment) -> (bool, bool) {
        match self {
            Indicator::Standardised => (a.standardised, a.managed),
            Indicator::BpControl => (a.bp_controlled, a.managed),
            Indicator::GlucoseControl => (a.fpg_controlled, a.managed),
            Indicator::Hba1cTarget => (a.hba1c_on_target, a.hba1c_measured),
            Indicator::MissedVisit => (a.missed_visit, a.missed_visit_eligible),
            Indicator::LostToFollowUp => (a.lost, a.lost_eligible),
        }
    }
}

/// Numerators and denominators added up over patients of one programme.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tally {
    pub managed: u64,
    pub face_to_face_visits: u64,
    /// (numerator, denominator) per indicator, in [`Indicator::ALL`] order.
    pub counts: [(u64, u64); 6],
}

impl Tally {
    /// Adds another tally's counts (two programmes, or two areas, together).
    pub fn merge(&mut self, other: &Tally) {
        self.managed += other.managed;
        self.face_to_face_visits += other.face_to_face_visits;
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            mine.0 += theirs.0;
            mine.1 += theirs.1;
        }
    }

    pub fn add(&mut self, a: &Assessment) {
        self.managed += u64::from(a.managed);
        self.face_to_face_visits += u64::from(a.face_to_face);
        for (i, indicator) in Indicator::ALL.iter().enumerate() {
            let (num, den) = indicator.counts(a);
            self.counts[i].0 += u64::from(num);
            self.counts[i].1 += u64::from(den);
        }
    }

    pub fn get(&self, indicator: Indicator) -> (u64, u64) {
        let i = Indicator::ALL
            .iter()
            .position(|x| *x == indicator)
            .unwrap_or(0);
        self.counts[i]
    }
}

/// A rate in basis points (1/100 of a percent), rounded half up; `None` for an empty
/// denominator.
pub fn rate_basis_points(numerator: u64, denominator: u64) -> Option<u64> {
    (denominator > 0).then(|| (numerator * 20_000 + denominator) / (2 * denominator))
}

/// How a rate moved from the period it is compared with, in basis points (a positive
/// number is a rise). `None` — "无可比数据" — when either rate is undefined, or when the
/// earlier period is not comparable (see `maintained::comparable`) or holds no
/// face-to-face visit at all: its zeros are records not yet kept (a region that began
/// recording later), not the work of its teams, and a change against them would be
/// meaningless.
pub fn change_basis_points(
    now: (u64, u64),
    before: (u64, u64),
    comparable: bool,
    visits_before: u64,
) -> Option<i64> {
    if !comparable || visits_before == 0 {
        return None;
    }
    let now = rate_basis_points(now.0, now.1)?;
    let before = rate_basis_points(before.0, before.1)?;
    Some(now as i64 - before as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_change_is_only_against_a_period_with_records() {
        let cases = [
            // (now, before, comparable, visits before) → change in basis points
            ((50, 100), (40, 100), true, 10, Some(1_000)),
            ((40, 100), (50, 100), true, 10, Some(-1_000)),
            ((5_886, 10_000), (0, 900), true, 0, None),
            ((1, 3), (1, 3), true, 4, Some(0)),
            ((10, 0), (1, 2), true, 3, None),
            ((1, 2), (1, 0), true, 3, None),
            // A small fall is a fall: 33.33 % → 33.29 %.
            ((3_329, 10_000), (3_333, 10_000), true, 1, Some(-4)),
            // Records began after the basis period did: its visits are a part only.
            ((5_886, 10_000), (100, 10_000), false, 900, None),
        ];
        for (now, before, comparable, visits, expected) in cases {
            assert_eq!(
                change_basis_points(now, before, comparable, visits),
                expected,
                "{now:?} {before:?} {comparable} {visits}"
            );
        }
    }

    #[test]
    fn facts_as_of_a_day_drop_what_came_after() {
        let p = PatientFacts {
            disease: Disease::Hypertension,
            enrolled_on: date!(2025 - 03 - 01),
            ended_on: Some(date!(2025 - 11 - 20)),
            visits: vec![
                visit(date!(2025 - 04 - 01), 1, true, Some((130, 80))),
                visit(date!(2025 - 10 - 01), 2, true, Some((150, 95))),
            ],
            reading_days: vec![date!(2025 - 05 - 01), date!(2025 - 12 - 01)],
        };
        let cases = [
            // (day, enrolled, visits kept, readings kept, ended)
            (date!(2025 - 02 - 28), false, 0, 0, None),
            (date!(2025 - 03 - 01), true, 0, 0, None),
            (date!(2025 - 09 - 30), true, 1, 1, None),
            (date!(2025 - 10 - 01), true, 2, 1, None),
            (
                date!(2025 - 11 - 20),
                true,
                2,
                1,
                Some(date!(2025 - 11 - 20)),
            ),
            (
                date!(2025 - 12 - 31),
                true,
                2,
                2,
                Some(date!(2025 - 11 - 20)),
            ),
        ];
        for (day, enrolled, visits, readings, ended) in cases {
            let got = as_of(p.clone(), day);
            assert_eq!(got.is_some(), enrolled, "{day}");
            if let Some(g) = got {
                assert_eq!(
                    (g.visits.len(), g.reading_days.len(), g.ended_on),
                    (visits, readings, ended),
                    "{day}"
                );
            }
        }
    }

    const YEAR: Period = Period {
        from: date!(2026 - 01 - 01),
        to: date!(2026 - 12 - 31),
    };

    fn visit(visit_on: Date, id: i64, face_to_face: bool, bp: Option<(u16, u16)>) -> VisitFact {
        VisitFact {
            visit_on,
            id,
            face_to_face,
            age_years: 60,
            bp: bp.map(|(s, d)| Bp::new(s, d)),
            fpg: None,
            hba1c: None,
        }
    }

    fn htn(visits: Vec<VisitFact>) -> PatientFacts {
        PatientFacts {
            disease: Disease::Hypertension,
            enrolled_on: date!(2024 - 06 - 01),
            ended_on: None,
            visits,
            reading_days: Vec::new(),
        }
    }

    fn quarterly() -> Vec<VisitFact> {
        vec![
            visit(date!(2026 - 02 - 01), 1, true, Some((130, 80))),
            visit(date!(2026 - 05 - 01), 2, true, Some((132, 82))),
            visit(date!(2026 - 08 - 01), 3, true, Some((128, 78))),
            visit(date!(2026 - 11 - 01), 4, true, Some((126, 79))),
        ]
    }

    #[test]
    fn standardised_needs_four_face_to_face_in_a_year_pro_rated() {
        // DOMAIN.md §2 standardised management rate: at least 4 face-to-face a year,
        // ⌊days ÷ 90⌋ for a shorter period; phone follow-ups do not count.
        let p = Params::default();
        assert_eq!(required_face_to_face(&YEAR, &p), 4);
        let quarter = Period::new(date!(2026 - 01 - 01), date!(2026 - 03 - 31)).unwrap();
        assert_eq!(required_face_to_face(&quarter, &p), 1);
        let half = Period::new(date!(2026 - 01 - 01), date!(2026 - 06 - 30)).unwrap();
        assert_eq!(required_face_to_face(&half, &p), 2);
        let month = Period::new(date!(2026 - 01 - 01), date!(2026 - 01 - 31)).unwrap();
        assert_eq!(required_face_to_face(&month, &p), 1);

        assert!(assess(&htn(quarterly()), &YEAR, &p).standardised);
        let mut three_and_a_call = quarterly();
        three_and_a_call[3].face_to_face = false;
        let a = assess(&htn(three_and_a_call), &YEAR, &p);
        assert_eq!((a.face_to_face, a.standardised), (3, false));
    }

    #[test]
    fn bp_control_reads_the_latest_measured_follow_up_at_the_age_on_that_day() {
        // DOMAIN.md §2 BP control rate: the latest follow-up BP in the period; a phone
        // call without a measurement does not replace it; home readings are not
        // follow-ups; no measured follow-up counts as not controlled.
        let p = Params::default();
        let mut v = quarterly();
        v.push(visit(date!(2026 - 12 - 01), 5, false, None));
        assert!(assess(&htn(v.clone()), &YEAR, &p).bp_controlled);
        v.push(visit(date!(2026 - 12 - 15), 6, true, Some((140, 80))));
        assert!(!assess(&htn(v.clone()), &YEAR, &p).bp_controlled);
        // Same day: the later record wins.
        v.push(visit(date!(2026 - 12 - 15), 7, true, Some((138, 80))));
        assert!(assess(&htn(v), &YEAR, &p).bp_controlled);
        // 145/85 is controlled for a 65-year-old (< 150/90), not for a 64-year-old.
        let mut old = visit(date!(2026 - 06 - 01), 1, true, Some((145, 85)));
        old.age_years = 65;
        assert!(assess(&htn(vec![old]), &YEAR, &p).bp_controlled);
        old.age_years = 64;
        assert!(!assess(&htn(vec![old]), &YEAR, &p).bp_controlled);
        // Nothing measured in the period: not controlled, still in the denominator.
        let none = assess(&htn(Vec::new()), &YEAR, &p);
        assert_eq!((none.managed, none.bp_controlled), (true, false));
        // A measurement outside the period does not count.
        let before = visit(date!(2025 - 12 - 31), 1, true, Some((120, 70)));
        assert!(!assess(&htn(vec![before]), &YEAR, &p).bp_controlled);
    }

    #[test]
    fn glucose_and_hba1c_targets() {
        // DOMAIN.md §2: glucose control = latest FPG < 7.0; HbA1c target rate =
        // latest HbA1c < 7.0 % among those with an HbA1c.
        let p = Params::default();
        let dm = |fpg_tenths: i32, hba1c_tenths: Option<i32>| PatientFacts {
            disease: Disease::Diabetes,
            visits: vec![VisitFact {
                fpg: Some(Mmol::from_tenths(fpg_tenths)),
                hba1c: hba1c_tenths.map(Percent::from_tenths),
                ..visit(date!(2026 - 06 - 01), 1, true, Some((130, 80)))
            }],
            ..htn(Vec::new())
        };
        let a = assess(&dm(69, Some(69)), &YEAR, &p);
        assert_eq!(
            (a.fpg_controlled, a.hba1c_measured, a.hba1c_on_target),
            (true, true, true)
        );
        let a = assess(&dm(70, Some(70)), &YEAR, &p);
        assert_eq!(
            (a.fpg_controlled, a.hba1c_measured, a.hba1c_on_target),
            (false, true, false)
        );
        let a = assess(&dm(60, None), &YEAR, &p);
        assert_eq!((a.hba1c_measured, a.hba1c_on_target), (false, false));
        assert!(
            !a.bp_controlled,
            "BP control is the hypertension programme's"
        );
    }

    #[test]
    fn managed_means_enrolled_by_the_end_and_not_ended_before_the_start() {
        let p = Params::default();
        let late = PatientFacts {
            enrolled_on: date!(2027 - 01 - 01),
            ..htn(Vec::new())
        };
        assert!(!assess(&late, &YEAR, &p).managed);
        let ended = PatientFacts {
            ended_on: Some(date!(2025 - 12 - 31)),
            ..htn(Vec::new())
        };
        assert!(!assess(&ended, &YEAR, &p).managed);
        let ended_inside = PatientFacts {
            ended_on: Some(date!(2026 - 01 - 01)),
            ..htn(Vec::new())
        };
        assert!(assess(&ended_inside, &YEAR, &p).managed);
    }

    /// An enrolment that ended (结案) inside the period is managed in it, but is not
    /// asked about the period's last 90 days or 12 months: it cannot miss a visit
    /// after its end. Ending on the last day keeps it eligible.
    #[test]
    fn an_ended_enrolment_is_not_missed_or_lost_after_its_end() {
        let p = Params::default();
        let cases = [
            (None, true, true),
            (Some(date!(2026 - 12 - 31)), true, true),
            (Some(date!(2026 - 12 - 30)), true, false),
            (Some(date!(2026 - 06 - 30)), true, false),
            (Some(date!(2025 - 12 - 31)), false, false),
        ];
        for (ended_on, managed, eligible) in cases {
            let patient = PatientFacts {
                enrolled_on: date!(2024 - 01 - 01),
                ended_on,
                ..htn(Vec::new())
            };
            let a = assess(&patient, &YEAR, &p);
            assert_eq!(a.managed, managed, "{ended_on:?}");
            assert_eq!(
                (a.missed_visit_eligible, a.lost_eligible),
                (eligible, eligible),
                "{ended_on:?}"
            );
            assert_eq!(
                (a.missed_visit, a.lost),
                (eligible, eligible),
                "{ended_on:?}"
            );
        }
    }

    #[test]
    fn missed_visit_and_lost_to_follow_up_windows() {
        // DOMAIN.md §2: missed visit = no face-to-face follow-up in the last 90 days
        // of the period; lost = no contact of any kind in the 12 months to its end.
        let p = Params::default();
        // The last 90 days of 2026 start on 3 October.
        let seen = htn(vec![visit(date!(2026 - 10 - 03), 1, true, None)]);
        let a = assess(&seen, &YEAR, &p);
        assert_eq!((a.missed_visit_eligible, a.missed_visit), (true, false));
        let earlier = htn(vec![visit(date!(2026 - 10 - 02), 1, true, None)]);
        assert!(assess(&earlier, &YEAR, &p).missed_visit);
        let called = htn(vec![visit(date!(2026 - 12 - 01), 1, false, None)]);
        let a = assess(&called, &YEAR, &p);
        assert_eq!(
            (a.missed_visit, a.lost),
            (true, false),
            "a call is contact, not a visit"
        );
        // Enrolled less than 90 days before the end: not yet eligible.
        let new = PatientFacts {
            enrolled_on: date!(2026 - 10 - 03),
            ..htn(Vec::new())
        };
        let a = assess(&new, &YEAR, &p);
        assert_eq!((a.missed_visit_eligible, a.lost_eligible), (false, false));
        // Lost: no contact from 2026-01-01 (365 days up to 2026-12-31).
        let silent = htn(vec![visit(date!(2025 - 12 - 31), 1, true, None)]);
        assert!(assess(&silent, &YEAR, &p).lost);
        let reading = PatientFacts {
            reading_days: vec![date!(2026 - 01 - 01)],
            ..silent.clone()
        };
        assert!(
            !assess(&reading, &YEAR, &p).lost,
            "a home reading is contact"
        );
    }

    #[test]
    fn a_tally_adds_numerators_and_denominators_and_rates_round_half_up() {
        let p = Params::default();
        let mut t = Tally::default();
        t.add(&assess(&htn(quarterly()), &YEAR, &p));
        t.add(&assess(&htn(Vec::new()), &YEAR, &p));
        t.add(&assess(&htn(quarterly()[..2].to_vec()), &YEAR, &p));
        assert_eq!(t.managed, 3);
        assert_eq!(t.face_to_face_visits, 6);
        assert_eq!(t.get(Indicator::Standardised), (1, 3));
        assert_eq!(t.get(Indicator::BpControl), (2, 3));
        assert_eq!(t.get(Indicator::LostToFollowUp), (1, 3));
        assert_eq!(rate_basis_points(2, 3), Some(6667));
        assert_eq!(rate_basis_points(1, 8), Some(1250));
        assert_eq!(rate_basis_points(0, 0), None);
        assert_eq!(
            YEAR.previous(),
            Period::new(date!(2025 - 01 - 01), date!(2025 - 12 - 31)).unwrap()
        );
    }
}
