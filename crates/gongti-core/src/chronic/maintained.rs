//! The indicator figures kept up to date as records are written, for the standard
//! periods a dashboard shows (calendar months, quarters and years, in the region's
//! dates): per enrolment and period, the few facts the indicators read
//! ([`PeriodFacts`]), and the counts they contribute ([`Contribution`]). A new record
//! changes the facts of the periods it falls in; the caller adds the difference of
//! the contributions to the counters of the patient's institution, district and city.
//!
//! The same definitions as [`super::indicators::assess`], restated per period so they
//! can be updated a record at a time; a test holds the two to the same answers, and
//! the full recompute checks the stored counters against the raw records.

use time::{Date, Duration, Month};

use super::Disease;
use super::Params;
use super::indicators::{Period, VisitFact, required_face_to_face, window_eligible};

/// A calendar month, quarter or year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StandardPeriod {
    Year(i32),
    /// Quarter 1–4.
    Quarter(i32, u8),
    Month(i32, Month),
}

fn month_from(n: u8) -> Month {
    Month::try_from(n).unwrap_or(Month::January)
}

fn last_of_month(year: i32, month: Month) -> Date {
    let first_next = match month {
        Month::December => Date::from_calendar_date(year + 1, Month::January, 1),
        m => Date::from_calendar_date(year, m.next(), 1),
    };
    first_next.map_or(Date::MAX, |d| d - Duration::days(1))
}

impl StandardPeriod {
    pub fn period(self) -> Period {
        let (from, to) = match self {
            StandardPeriod::Year(y) => (
                Date::from_calendar_date(y, Month::January, 1),
                Date::from_calendar_date(y, Month::December, 31),
            ),
            StandardPeriod::Quarter(y, q) => {
                let first = month_from((q - 1) * 3 + 1);
                let last = month_from(q * 3);
                (
                    Date::from_calendar_date(y, first, 1),
                    Ok(last_of_month(y, last)),
                )
            }
            StandardPeriod::Month(y, m) => {
                (Date::from_calendar_date(y, m, 1), Ok(last_of_month(y, m)))
            }
        };
        Period {
            from: from.unwrap_or(Date::MIN),
            to: to.unwrap_or(Date::MAX),
        }
    }

    /// `2026`, `2026-Q4`, `2026-11`.
    pub fn code(self) -> String {
        match self {
            StandardPeriod::Year(y) => format!("{y}"),
            StandardPeriod::Quarter(y, q) => format!("{y}-Q{q}"),
            StandardPeriod::Month(y, m) => format!("{y}-{:02}", m as u8),
        }
    }

    pub fn parse(code: &str) -> Option<StandardPeriod> {
        let (year, rest) = match code.split_once('-') {
            Some((y, r)) => (y.parse().ok()?, Some(r)),
            None => (code.parse().ok()?, None),
        };
        match rest {
            None => Some(StandardPeriod::Year(year)),
            Some(r) => match r.strip_prefix('Q') {
                Some(q) => q
                    .parse()
                    .ok()
                    .filter(|q| (1..=4).contains(q))
                    .map(|q| StandardPeriod::Quarter(year, q)),
                None => r
                    .parse::<u8>()
                    .ok()
                    .filter(|m| (1..=12).contains(m))
                    .map(|m| StandardPeriod::Month(year, month_from(m))),
            },
        }
    }

    /// The standard period with exactly these bounds, if any.
    pub fn of(period: &Period) -> Option<StandardPeriod> {
        let [y, q, m] = StandardPeriod::containing(period.from);
        [y, q, m].into_iter().find(|p| p.period() == *period)
    }

    /// The year, quarter and month a day falls in.
    pub fn containing(day: Date) -> [StandardPeriod; 3] {
        let y = day.year();
        let m = day.month();
        [
            StandardPeriod::Year(y),
            StandardPeriod::Quarter(y, (m as u8 - 1) / 3 + 1),
            StandardPeriod::Month(y, m),
        ]
    }

    /// The calendar year the period falls in.
    pub fn year(self) -> i32 {
        match self {
            StandardPeriod::Year(y)
            | StandardPeriod::Quarter(y, _)
            | StandardPeriod::Month(y, _) => y,
        }
    }

    /// Its place among the seventeen periods of its year: 0 the year, 1–4 its
    /// quarters, 5–16 its months.
    pub fn slot(self) -> u8 {
        match self {
            StandardPeriod::Year(_) => 0,
            StandardPeriod::Quarter(_, q) => q,
            StandardPeriod::Month(_, m) => 4 + m as u8,
        }
    }

    /// The period of `year` at `slot` (see [`StandardPeriod::slot`]), if any.
    pub fn at_slot(year: i32, slot: u8) -> Option<StandardPeriod> {
        match slot {
            0 => Some(StandardPeriod::Year(year)),
            1..=4 => Some(StandardPeriod::Quarter(year, slot)),
            5..=16 => Month::try_from(slot - 4)
                .ok()
                .map(|m| StandardPeriod::Month(year, m)),
            _ => None,
        }
    }

    /// The one before (the previous year, quarter or month).
    pub fn previous(self) -> StandardPeriod {
        match self {
            StandardPeriod::Year(y) => StandardPeriod::Year(y - 1),
            StandardPeriod::Quarter(y, 1) => StandardPeriod::Quarter(y - 1, 4),
            StandardPeriod::Quarter(y, q) => StandardPeriod::Quarter(y, q - 1),
            StandardPeriod::Month(y, Month::January) => {
                StandardPeriod::Month(y - 1, Month::December)
            }
            StandardPeriod::Month(y, m) => StandardPeriod::Month(y, m.previous()),
        }
    }

    /// Every standard period whose last day is within `[day, day + days − 1]`.
    pub fn ending_within(day: Date, days: u16) -> Vec<StandardPeriod> {
        let until = day + Duration::days(i64::from(days) - 1);
        let mut out = Vec::new();
        let mut cursor = day;
        // Walk month by month: every quarter and year ends at a month's end.
        loop {
            let [y, q, m] = StandardPeriod::containing(cursor);
            for p in [m, q, y] {
                let end = p.period().to;
                if day <= end && end <= until && !out.contains(&p) {
                    out.push(p);
                }
            }
            let next = last_of_month(cursor.year(), cursor.month()) + Duration::days(1);
            if next > until {
                break;
            }
            cursor = next;
        }
        out
    }
}

/// The period a figure is compared with: the standard period before a standard one
/// (last year, last quarter, last month), otherwise the same number of days before.
pub fn baseline(period: &Period) -> Period {
    match StandardPeriod::of(period) {
        Some(p) => p.previous().period(),
        None => period.previous(),
    }
}

/// What a figure is compared with: the [`baseline`] period and, while the period is
/// still in progress, the day the baseline's records are read up to — the same number
/// of days into it as today is into the period (December 1–3 against November 1–3;
/// this year to date against last year to the same day), clamped to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Basis {
    pub period: Period,
    pub as_of: Option<Date>,
}

/// The [`Basis`] of `period` when the region's day is `today`.
pub fn basis(period: &Period, today: Date) -> Basis {
    let base = baseline(period);
    let as_of = (period.from <= today && today < period.to)
        .then(|| (base.from + (today - period.from)).min(base.to));
    Basis {
        period: base,
        as_of,
    }
}

/// Whether a basis period can be compared with at all: records were kept from its
/// first day on (`records_since`, the first day of the earliest month with a
/// face-to-face follow-up in the scope). Against a period whose records began later,
/// its zeros are records not yet kept, not the work of the teams: "无可比数据".
pub fn comparable(basis: &Period, records_since: Option<Date>) -> bool {
    records_since.is_some_and(|since| since <= basis.from)
}

/// What one enrolment did in one standard period, as far as the indicators read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeriodFacts {
    pub face_to_face: u32,
    /// The latest measured BP in the period: (day, record id, under target).
    pub latest_bp: Option<(Date, i64, bool)>,
    pub latest_fpg: Option<(Date, i64, bool)>,
    pub latest_hba1c: Option<(Date, i64, bool)>,
    /// A face-to-face follow-up in the last `missed_visit_days` of the period.
    pub seen_recently: bool,
    /// Any contact in the `lost_to_follow_up_days` up to the period's end.
    pub contacted: bool,
}

/// The later of two measurements by day, then key. The same day and key is the same
/// record measured again (a laboratory's correction, DOMAIN.md §8): the new one stands.
fn later(old: Option<(Date, i64, bool)>, new: (Date, i64, bool)) -> Option<(Date, i64, bool)> {
    match old {
        Some(o) if (o.0, o.1) > (new.0, new.1) => Some(o),
        _ => Some(new),
    }
}

impl PeriodFacts {
    /// The facts after a follow-up that falls in the period.
    pub fn with_visit(mut self, v: &VisitFact, disease: Disease, params: &Params) -> PeriodFacts {
        let t = &params.targets;
        if v.face_to_face {
            self.face_to_face += 1;
        }
        if let Some(bp) = v.bp
            && disease == Disease::Hypertension
        {
            self.latest_bp = later(
                self.latest_bp,
                (v.visit_on, v.id, t.bp_controlled(bp, v.age_years)),
            );
        }
        if let Some(g) = v.fpg
            && disease == Disease::Diabetes
        {
            self.latest_fpg = later(self.latest_fpg, (v.visit_on, v.id, t.fpg_controlled(g)));
        }
        if let Some(h) = v.hba1c
            && disease == Disease::Diabetes
        {
            self.latest_hba1c = later(self.latest_hba1c, (v.visit_on, v.id, t.hba1c_on_target(h)));
        }
        self
    }

    /// What the patient contributes to the period's counters. `enrolled_on` and
    /// `ended_on` decide whether they are eligible for missed visit and lost to
    /// follow-up (enrolled long enough before the period's end, and still enrolled on
    /// its last day); an enrolment ended before the period began contributes nothing.
    pub fn contribution(
        &self,
        period: StandardPeriod,
        enrolled_on: Date,
        ended_on: Option<Date>,
        params: &Params,
    ) -> Contribution {
        let p = period.period();
        if ended_on.is_some_and(|e| e < p.from) {
            return Contribution::default();
        }
        let missed_eligible =
            window_eligible(enrolled_on, ended_on, p.to, params.missed_visit_days);
        let lost_eligible =
            window_eligible(enrolled_on, ended_on, p.to, params.lost_to_follow_up_days);
        Contribution {
            face_to_face: i64::from(self.face_to_face),
            standardised: i64::from(self.face_to_face >= required_face_to_face(&p, params)),
            bp_controlled: i64::from(self.latest_bp.is_some_and(|b| b.2)),
            fpg_controlled: i64::from(self.latest_fpg.is_some_and(|g| g.2)),
            hba1c_measured: i64::from(self.latest_hba1c.is_some()),
            hba1c_on_target: i64::from(self.latest_hba1c.is_some_and(|h| h.2)),
            seen: i64::from(missed_eligible && self.seen_recently),
            contacted: i64::from(lost_eligible && self.contacted),
        }
    }
}

/// Counts one patient adds to a period's counters (0 or 1, face-to-face any number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Contribution {
    pub face_to_face: i64,
    pub standardised: i64,
    pub bp_controlled: i64,
    pub fpg_controlled: i64,
    pub hba1c_measured: i64,
    pub hba1c_on_target: i64,
    /// Eligible for missed visit and seen in the period's last 90 days.
    pub seen: i64,
    /// Eligible for lost to follow-up and contacted in its last 365 days.
    pub contacted: i64,
}

impl Contribution {
    pub const MEASURES: [&'static str; 8] = [
        "face_to_face",
        "standardised",
        "bp_controlled",
        "fpg_controlled",
        "hba1c_measured",
        "hba1c_on_target",
        "seen",
        "contacted",
    ];

    pub fn values(&self) -> [i64; 8] {
        [
            self.face_to_face,
            self.standardised,
            self.bp_controlled,
            self.fpg_controlled,
            self.hba1c_measured,
            self.hba1c_on_target,
            self.seen,
            self.contacted,
        ]
    }

    /// `self − before`, measure by measure.
    pub fn minus(&self, before: &Contribution) -> [i64; 8] {
        let (a, b) = (self.values(), before.values());
        std::array::from_fn(|i| a[i] - b[i])
    }
}

/// The standard periods a follow-up on `day` touches: the three it falls in, those
/// whose last 90 days contain it (if face to face), and those whose last 365 days
/// contain it (any contact).
pub fn periods_touched(day: Date, face_to_face: bool, params: &Params) -> Vec<StandardPeriod> {
    let mut out: Vec<StandardPeriod> = StandardPeriod::containing(day).to_vec();
    if face_to_face {
        out.extend(StandardPeriod::ending_within(day, params.missed_visit_days));
    }
    out.extend(StandardPeriod::ending_within(
        day,
        params.lost_to_follow_up_days,
    ));
    out.sort();
    out.dedup();
    out
}

/// The facts of `period` after a follow-up on `v.visit_on`.
pub fn apply_visit(
    facts: PeriodFacts,
    period: StandardPeriod,
    v: &VisitFact,
    disease: Disease,
    params: &Params,
) -> PeriodFacts {
    let p = period.period();
    let mut f = if p.contains(v.visit_on) {
        facts.with_visit(v, disease, params)
    } else {
        facts
    };
    let seen_from = p.to - Duration::days(i64::from(params.missed_visit_days) - 1);
    let contact_from = p.to - Duration::days(i64::from(params.lost_to_follow_up_days) - 1);
    if v.face_to_face && seen_from <= v.visit_on && v.visit_on <= p.to {
        f.seen_recently = true;
    }
    if contact_from <= v.visit_on && v.visit_on <= p.to {
        f.contacted = true;
    }
    f
}

/// The facts of `period` after a home reading on `day` (contact only).
pub fn apply_reading(
    facts: PeriodFacts,
    period: StandardPeriod,
    day: Date,
    params: &Params,
) -> PeriodFacts {
    let p = period.period();
    let contact_from = p.to - Duration::days(i64::from(params.lost_to_follow_up_days) - 1);
    PeriodFacts {
        contacted: facts.contacted || (contact_from <= day && day <= p.to),
        ..facts
    }
}

/// What an ended enrolment (结案) is taken out of, in a standard period's kept
/// denominators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndingEffect {
    /// Not managed in periods starting after its end.
    Managed,
    /// Not asked about a missed visit (DOMAIN.md §2, 3 months).
    MissedVisit,
    /// Not asked about loss to follow-up (12 months).
    LostToFollowUp,
}

impl EndingEffect {
    pub const ALL: [EndingEffect; 3] = [
        EndingEffect::Managed,
        EndingEffect::MissedVisit,
        EndingEffect::LostToFollowUp,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EndingEffect::Managed => "managed",
            EndingEffect::MissedVisit => "missed",
            EndingEffect::LostToFollowUp => "lost",
        }
    }

    pub fn parse(code: &str) -> Option<EndingEffect> {
        EndingEffect::ALL.into_iter().find(|e| e.code() == code)
    }

    /// The first day from which an enrolment of `enrolled_on` ended on `ended_on` is
    /// taken out: out of "managed" for every period starting on or after it, out of a
    /// window's eligible patients for every period ending on or after it. An enrolment
    /// is eligible for a window of N days when enrolled N days before the period's last
    /// day and not ended before it (`indicators::window_eligible`), so an ending is
    /// subtracted from those eligible once the last day is past its end *and* N days
    /// past its enrolment — one day per ending, whatever the period, so the kept
    /// counts need one row per day rather than one per (ended, enrolled) pair.
    pub fn from_day(self, enrolled_on: Date, ended_on: Date, params: &Params) -> Date {
        let after_end = ended_on + Duration::days(1);
        let window = |days: u16| after_end.max(enrolled_on + Duration::days(i64::from(days)));
        match self {
            EndingEffect::Managed => after_end,
            EndingEffect::MissedVisit => window(params.missed_visit_days),
            EndingEffect::LostToFollowUp => window(params.lost_to_follow_up_days),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chronic::Bp;
    use crate::chronic::indicators::{Assessment, PatientFacts, assess};
    use time::macros::date;

    #[test]
    fn each_period_of_a_year_has_its_own_slot_and_is_found_by_it() {
        let mut seen = Vec::new();
        for slot in 0..17 {
            let p = StandardPeriod::at_slot(2026, slot).expect("a slot of the year");
            assert_eq!((p.year(), p.slot()), (2026, slot));
            seen.push(p.code());
        }
        assert_eq!(seen[0], "2026");
        assert_eq!(seen[4], "2026-Q4");
        assert_eq!(seen[5], "2026-01");
        assert_eq!(seen[16], "2026-12");
        assert_eq!(StandardPeriod::at_slot(2026, 17), None);
    }

    #[test]
    fn a_period_in_progress_is_compared_with_the_same_days() {
        let p = |a: Date, b: Date| Period::new(a, b).unwrap();
        let month = StandardPeriod::Month(2026, time::Month::December).period();
        let march = StandardPeriod::Month(2026, time::Month::March).period();
        let year = StandardPeriod::Year(2026).period();
        let cases = [
            // (period, today) → (basis period, read up to)
            (
                month,
                date!(2026 - 12 - 03),
                (
                    StandardPeriod::Month(2026, time::Month::November).period(),
                    Some(date!(2026 - 11 - 03)),
                ),
            ),
            // 30 March against a February of 28 days: its last day.
            (
                march,
                date!(2026 - 03 - 30),
                (
                    StandardPeriod::Month(2026, time::Month::February).period(),
                    Some(date!(2026 - 02 - 28)),
                ),
            ),
            (
                year,
                date!(2026 - 12 - 03),
                (
                    StandardPeriod::Year(2025).period(),
                    Some(date!(2025 - 12 - 03)),
                ),
            ),
            // The last day of a period: it is complete.
            (
                year,
                date!(2026 - 12 - 31),
                (StandardPeriod::Year(2025).period(), None),
            ),
            // A past period: the whole of the one before.
            (
                month,
                date!(2027 - 01 - 05),
                (
                    StandardPeriod::Month(2026, time::Month::November).period(),
                    None,
                ),
            ),
            // Any other period: the same number of days before, to the same day.
            (
                p(date!(2026 - 11 - 20), date!(2026 - 12 - 09)),
                date!(2026 - 12 - 03),
                (
                    p(date!(2026 - 10 - 31), date!(2026 - 11 - 19)),
                    Some(date!(2026 - 11 - 13)),
                ),
            ),
        ];
        for (period, today, (basis_period, as_of)) in cases {
            assert_eq!(
                basis(&period, today),
                Basis {
                    period: basis_period,
                    as_of
                },
                "{period:?} on {today}"
            );
        }
    }

    #[test]
    fn a_basis_is_comparable_only_when_records_were_kept_from_its_start() {
        let year_2025 = StandardPeriod::Year(2025).period();
        let cases = [
            (None, false),
            (Some(date!(2025 - 12 - 01)), false),
            (Some(date!(2025 - 01 - 01)), true),
            (Some(date!(2020 - 06 - 01)), true),
        ];
        for (since, expected) in cases {
            assert_eq!(comparable(&year_2025, since), expected, "{since:?}");
        }
    }

    #[test]
    fn standard_periods_and_their_codes() {
        let d = date!(2026 - 11 - 22);
        let [y, q, m] = StandardPeriod::containing(d);
        assert_eq!(
            (y.code(), q.code(), m.code()),
            ("2026".into(), "2026-Q4".into(), "2026-11".into())
        );
        assert_eq!(
            q.period(),
            Period::new(date!(2026 - 10 - 01), date!(2026 - 12 - 31)).unwrap()
        );
        assert_eq!(
            StandardPeriod::Month(2028, Month::February).period().to,
            date!(2028 - 02 - 29)
        );
        for p in [y, q, m, StandardPeriod::Quarter(2026, 1)] {
            assert_eq!(StandardPeriod::parse(&p.code()), Some(p));
            assert_eq!(StandardPeriod::of(&p.period()), Some(p));
        }
        assert_eq!(StandardPeriod::parse("2026-13"), None);
        assert_eq!(StandardPeriod::of(&Period::new(d, d).unwrap()), None);
        assert_eq!(
            StandardPeriod::Quarter(2026, 1).previous(),
            StandardPeriod::Quarter(2025, 4)
        );
        assert_eq!(
            StandardPeriod::Month(2026, Month::January).previous(),
            StandardPeriod::Month(2025, Month::December)
        );
        // Ends within 90 days of 15 November 2026: Nov, Dec, Jan, Q4 and 2026.
        let codes: Vec<String> = StandardPeriod::ending_within(date!(2026 - 11 - 15), 90)
            .iter()
            .map(|p| p.code())
            .collect();
        assert_eq!(codes, ["2026-11", "2026-Q4", "2026", "2026-12", "2027-01"]);
    }

    /// The maintained facts, updated one record at a time in any order, give every
    /// standard period the same answer as judging the whole record at once.
    #[test]
    fn record_by_record_equals_all_at_once() {
        let params = Params::default();
        let enrolled_on = date!(2025 - 03 - 10);
        let visits = [
            (date!(2025 - 04 - 02), 1, true, Some((150, 95)), 60),
            (date!(2025 - 12 - 30), 2, true, Some((132, 80)), 60),
            (date!(2026 - 02 - 11), 3, false, None, 61),
            (date!(2026 - 05 - 20), 4, true, Some((146, 85)), 65),
            (date!(2026 - 05 - 20), 5, true, Some((152, 85)), 65),
            (date!(2026 - 10 - 15), 6, true, Some((128, 78)), 65),
        ];
        let visits: Vec<VisitFact> = visits
            .iter()
            .map(|&(visit_on, id, f2f, bp, age)| VisitFact {
                visit_on,
                id,
                face_to_face: f2f,
                age_years: age,
                bp: bp.map(|(s, d)| Bp::new(s, d)),
                fpg: None,
                hba1c: None,
            })
            .collect();
        let readings = [date!(2026 - 03 - 01)];
        let mut facts: std::collections::HashMap<StandardPeriod, PeriodFacts> = Default::default();
        // Out of order on purpose: the latest record wins by date, not by arrival.
        for v in visits.iter().rev() {
            for p in periods_touched(v.visit_on, v.face_to_face, &params) {
                let f = facts.get(&p).copied().unwrap_or_default();
                facts.insert(p, apply_visit(f, p, v, Disease::Hypertension, &params));
            }
        }
        for day in readings {
            for p in StandardPeriod::ending_within(day, params.lost_to_follow_up_days) {
                let f = facts.get(&p).copied().unwrap_or_default();
                facts.insert(p, apply_reading(f, p, day, &params));
            }
        }
        let mut checked = 0;
        // Still enrolled, and ended (结案) on the last follow-up's day: an ending is
        // judged by the same rule on both sides.
        for ended_on in [None, Some(date!(2026 - 10 - 15))] {
            let patient = PatientFacts {
                disease: Disease::Hypertension,
                enrolled_on,
                ended_on,
                visits: visits.clone(),
                reading_days: readings.to_vec(),
            };
            for year in [2025, 2026, 2027] {
                let mut periods = vec![StandardPeriod::Year(year)];
                periods.extend((1..=4).map(|q| StandardPeriod::Quarter(year, q)));
                periods.extend((1..=12).map(|m| StandardPeriod::Month(year, month_from(m))));
                for p in periods {
                    let a: Assessment = assess(&patient, &p.period(), &params);
                    if !a.managed {
                        continue;
                    }
                    let c = facts.get(&p).copied().unwrap_or_default().contribution(
                        p,
                        enrolled_on,
                        ended_on,
                        &params,
                    );
                    let code = p.code();
                    assert_eq!(c.standardised == 1, a.standardised, "standardised {code}");
                    assert_eq!(c.bp_controlled == 1, a.bp_controlled, "bp {code}");
                    assert_eq!(c.face_to_face, i64::from(a.face_to_face), "f2f {code}");
                    assert_eq!(
                        c.seen == 0 && a.missed_visit_eligible,
                        a.missed_visit,
                        "missed {code}"
                    );
                    assert_eq!(c.contacted == 0 && a.lost_eligible, a.lost, "lost {code}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 50, "{checked}");
    }

    /// For every period end around an ending, subtracting the ending from the day
    /// `from_day` gives exactly the patients `window_eligible` and the managed
    /// rule leave out (DOMAIN.md §2 windows; docs/indicators.md on endings).
    #[test]
    fn an_ending_leaves_the_denominators_from_its_from_day() {
        use crate::chronic::indicators::window_eligible;
        use time::macros::date;
        let params = Params::default();
        let enrolled_on = date!(2025 - 03 - 10);
        for ended_after_days in [0, 1, 30, 89, 90, 91, 200, 364, 365, 366, 700] {
            let ended_on = enrolled_on + Duration::days(ended_after_days);
            for offset in -3..800 {
                let day = enrolled_on + Duration::days(offset);
                let ever_eligible = |days: u16| {
                    // Eligible but for the ending: enrolled long enough before `day`.
                    enrolled_on <= day - Duration::days(i64::from(days))
                };
                for (effect, days) in [
                    (EndingEffect::MissedVisit, params.missed_visit_days),
                    (EndingEffect::LostToFollowUp, params.lost_to_follow_up_days),
                ] {
                    let taken_out = ever_eligible(days)
                        && !window_eligible(enrolled_on, Some(ended_on), day, days);
                    assert_eq!(
                        effect.from_day(enrolled_on, ended_on, &params) <= day,
                        taken_out,
                        "{effect:?} ended after {ended_after_days} days, period ends {day}"
                    );
                }
                // Managed: enrolled by the period's end and not ended before its start.
                let starts_after_end = ended_on < day;
                assert_eq!(
                    EndingEffect::Managed.from_day(enrolled_on, ended_on, &params) <= day,
                    starts_after_end,
                    "managed, ended after {ended_after_days} days, period starts {day}"
                );
            }
        }
        for effect in EndingEffect::ALL {
            assert_eq!(EndingEffect::parse(effect.code()), Some(effect));
        }
    }
}
