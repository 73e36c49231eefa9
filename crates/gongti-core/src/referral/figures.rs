//! The cloud-management figures of the dashboard (DOMAIN.md §3): referrals up and down
//! by institution and month, time from referral to visit, the share of referred
//! patients returned to grassroots care, and the use of the reserved slots — from the
//! referrals' own facts, so that each figure has its patient list.

use std::collections::BTreeMap;

use time::Date;

use super::ReferralStatus;

/// What the figures read of one referral (days local to the region).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReferralFact {
    pub id: i64,
    pub from_institution_id: i64,
    pub status: ReferralStatus,
    pub created_on: Date,
    pub created_at_us: i64,
    pub arrived_at_us: Option<i64>,
    pub returned_on: Option<Date>,
}

/// Which referrals a figure counts; each has its patient list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferralMeasure {
    /// Made in the period (上转).
    Up,
    /// Referred back down in the period (下转).
    Down,
    /// Made in the period and reached the hospital (the returned share's denominator).
    Reached,
    /// Of those, referred back down (its numerator).
    Returned,
}

impl ReferralMeasure {
    pub fn code(self) -> &'static str {
        match self {
            ReferralMeasure::Up => "up",
            ReferralMeasure::Down => "down",
            ReferralMeasure::Reached => "reached",
            ReferralMeasure::Returned => "returned",
        }
    }

    pub fn parse(code: &str) -> Option<ReferralMeasure> {
        [
            ReferralMeasure::Up,
            ReferralMeasure::Down,
            ReferralMeasure::Reached,
            ReferralMeasure::Returned,
        ]
        .into_iter()
        .find(|m| m.code() == code)
    }

    /// Whether a referral counts in this measure for the period `[from, to]`.
    pub fn counts(self, f: &ReferralFact, from: Date, to: Date) -> bool {
        let made = (from..=to).contains(&f.created_on);
        let reached = f.arrived_at_us.is_some() || f.status == ReferralStatus::Returned;
        match self {
            ReferralMeasure::Up => made,
            ReferralMeasure::Down => f.returned_on.is_some_and(|d| (from..=to).contains(&d)),
            ReferralMeasure::Reached => made && reached,
            ReferralMeasure::Returned => made && reached && f.status == ReferralStatus::Returned,
        }
    }
}

/// Up and down referrals of one month or one institution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpDown {
    pub up: u64,
    pub down: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReferralFigures {
    pub up: u64,
    pub down: u64,
    /// (year, month) → counts.
    pub by_month: BTreeMap<(i32, u8), UpDown>,
    /// Sending institution → counts.
    pub by_institution: BTreeMap<i64, UpDown>,
    pub reached: u64,
    pub returned: u64,
    /// Referrals made in the period that reached the hospital, and the hours from the
    /// request to the arrival: median and 90th percentile (nearest rank).
    pub visits: u64,
    pub median_hours_to_visit: Option<u64>,
    pub p90_hours_to_visit: Option<u64>,
}

fn nearest_rank(sorted: &[i64], p: u64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted.get(rank - 1).copied()
}

/// The figures for `[from, to]` from the referrals made or returned in it.
pub fn figures(facts: &[ReferralFact], from: Date, to: Date) -> ReferralFigures {
    let mut out = ReferralFigures::default();
    let mut waits_us = Vec::new();
    for f in facts {
        if ReferralMeasure::Up.counts(f, from, to) {
            out.up += 1;
            let month = (f.created_on.year(), u8::from(f.created_on.month()));
            out.by_month.entry(month).or_default().up += 1;
            out.by_institution
                .entry(f.from_institution_id)
                .or_default()
                .up += 1;
        }
        if ReferralMeasure::Down.counts(f, from, to) {
            out.down += 1;
            if let Some(d) = f.returned_on {
                out.by_month
                    .entry((d.year(), u8::from(d.month())))
                    .or_default()
                    .down += 1;
            }
            out.by_institution
                .entry(f.from_institution_id)
                .or_default()
                .down += 1;
        }
        if ReferralMeasure::Reached.counts(f, from, to) {
            out.reached += 1;
            if let Some(at) = f.arrived_at_us {
                waits_us.push(at - f.created_at_us);
            }
        }
        if ReferralMeasure::Returned.counts(f, from, to) {
            out.returned += 1;
        }
    }
    waits_us.sort_unstable();
    out.visits = waits_us.len() as u64;
    let hours = |us: i64| (us.max(0) / 3_600_000_000) as u64;
    out.median_hours_to_visit = nearest_rank(&waits_us, 50).map(hours);
    out.p90_hours_to_visit = nearest_rank(&waits_us, 90).map(hours);
    out
}

/// The use of reserved slots over a period: held back, taken by family doctors, and
/// taken by the public after their release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReservedUse {
    pub offered: u64,
    pub by_family_doctors: u64,
    pub by_public_after_release: u64,
}

impl ReservedUse {
    /// Slots used (either way) per 10,000 offered.
    pub fn use_basis_points(&self) -> Option<u64> {
        (self.offered > 0).then(|| {
            (self.by_family_doctors + self.by_public_after_release) * 10_000 / self.offered
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const HOUR: i64 = 3_600_000_000;

    fn fact(
        id: i64,
        from: i64,
        created: Date,
        status: ReferralStatus,
        wait_h: Option<i64>,
        back: Option<Date>,
    ) -> ReferralFact {
        let created_at_us = id * 1_000_000;
        ReferralFact {
            id,
            from_institution_id: from,
            status,
            created_on: created,
            created_at_us,
            arrived_at_us: wait_h.map(|h| created_at_us + h * HOUR),
            returned_on: back,
        }
    }

    #[test]
    fn referrals_up_down_returned_and_time_to_visit() {
        use ReferralStatus as S;
        let facts = [
            // Made in March, seen after 30 h, back down in April.
            fact(
                1,
                10,
                date!(2026 - 03 - 05),
                S::Returned,
                Some(30),
                Some(date!(2026 - 04 - 02)),
            ),
            // Made in March, arrived after 50 h, still there.
            fact(2, 10, date!(2026 - 03 - 20), S::Seen, Some(50), None),
            // Made in April, rejected: never reached.
            fact(3, 11, date!(2026 - 04 - 01), S::Rejected, None, None),
            // Made in February (outside), back down in March (inside).
            fact(
                4,
                11,
                date!(2026 - 02 - 27),
                S::Returned,
                Some(10),
                Some(date!(2026 - 03 - 03)),
            ),
            // Made in April, arrived after 100 h.
            fact(5, 10, date!(2026 - 04 - 10), S::Arrived, Some(100), None),
        ];
        let f = figures(&facts, date!(2026 - 03 - 01), date!(2026 - 04 - 30));
        assert_eq!((f.up, f.down), (4, 2));
        assert_eq!(f.by_month[&(2026, 3)], UpDown { up: 2, down: 1 });
        assert_eq!(f.by_month[&(2026, 4)], UpDown { up: 2, down: 1 });
        assert_eq!(f.by_institution[&10], UpDown { up: 3, down: 1 });
        assert_eq!(f.by_institution[&11], UpDown { up: 1, down: 1 });
        // Reached: 1, 2 and 5 (made in the period); returned of those: 1.
        assert_eq!((f.reached, f.returned), (3, 1));
        assert_eq!(f.visits, 3);
        assert_eq!(f.median_hours_to_visit, Some(50));
        assert_eq!(f.p90_hours_to_visit, Some(100));
        assert!(ReferralMeasure::Down.counts(
            &facts[3],
            date!(2026 - 03 - 01),
            date!(2026 - 03 - 31)
        ));
        assert!(!ReferralMeasure::Up.counts(
            &facts[3],
            date!(2026 - 03 - 01),
            date!(2026 - 03 - 31)
        ));
        let none = figures(&[], date!(2026 - 03 - 01), date!(2026 - 03 - 31));
        assert_eq!(none.median_hours_to_visit, None);
    }

    #[test]
    fn reserved_slot_use() {
        let u = ReservedUse {
            offered: 200,
            by_family_doctors: 150,
            by_public_after_release: 20,
        };
        assert_eq!(u.use_basis_points(), Some(8_500));
        assert_eq!(ReservedUse::default().use_basis_points(), None);
    }
}
