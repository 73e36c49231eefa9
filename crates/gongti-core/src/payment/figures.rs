//! The city's payment figures (issue 17 point 9, DOMAIN.md §6): from a year's clearing,
//! the surplus rate `S ÷ A`, the fund-paid cost per enrolled person and the share of
//! that cost above the grassroots (secondary, tertiary and outside the community: cost
//! shifted upward shows here), for an institution and summed over a district or the
//! city — a sum's rate is that of the sums, never an average of rates.

use crate::decimal::div_half_up;

/// One institution's cleared year, or the sum of several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaymentTally {
    pub institutions: i64,
    /// Persons counted under capitation there (each once per institution).
    pub persons: i64,
    /// The adjusted budget `A = B × m(Q)`, in fen.
    pub adjusted_budget_fen: i64,
    /// The fund-paid cost `C` of the persons' care at every level, in fen.
    pub cost_fen: i64,
    /// `S = A − C`, in fen (negative for an overspend).
    pub surplus_fen: i64,
    /// The part of `C` above the grassroots, in fen.
    pub upper_fen: i64,
}

/// `n ÷ d` rounded half up, with the sign of `n`; `None` when `d` is not positive.
fn ratio(n: i64, d: i64, scale: i128) -> Option<i64> {
    (d > 0).then(|| {
        let v = div_half_up(i128::from(n).abs() * scale, i128::from(d));
        let v = i64::try_from(v).unwrap_or(i64::MAX);
        if n < 0 { -v } else { v }
    })
}

impl PaymentTally {
    /// Adds another institution's figures (or another sum's).
    pub fn add(&mut self, other: &PaymentTally) {
        self.institutions += other.institutions;
        self.persons += other.persons;
        self.adjusted_budget_fen += other.adjusted_budget_fen;
        self.cost_fen += other.cost_fen;
        self.surplus_fen += other.surplus_fen;
        self.upper_fen += other.upper_fen;
    }

    /// `S ÷ A` in basis points, rounded half up away from zero; `None` when `A` is 0.
    pub fn surplus_rate_bp(&self) -> Option<i64> {
        ratio(self.surplus_fen, self.adjusted_budget_fen, 10_000)
    }

    /// `C ÷ persons` in fen, rounded half up; `None` with no person.
    pub fn cost_per_person_fen(&self) -> Option<i64> {
        ratio(self.cost_fen, self.persons, 1)
    }

    /// The share of `C` above the grassroots in basis points; `None` with no cost.
    pub fn upper_share_bp(&self) -> Option<i64> {
        ratio(self.upper_fen, self.cost_fen, 10_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(persons: i64, a: i64, c: i64, upper: i64) -> PaymentTally {
        PaymentTally {
            institutions: 1,
            persons,
            adjusted_budget_fen: a,
            cost_fen: c,
            surplus_fen: a - c,
            upper_fen: upper,
        }
    }

    /// DOMAIN.md §6: surplus rate S ÷ A; cost at every level, the upper share seen.
    #[test]
    fn the_rates_of_one_institution() {
        // (persons, A, C, upper) → (surplus rate bp, cost per person fen, upper bp)
        let table = [
            // 20 % kept: S = 200,000 of A = 1,000,000
            (
                (100, 1_000_000, 800_000, 200_000),
                (Some(2_000), Some(8_000), Some(2_500)),
            ),
            // an overspend of 5 %
            (
                (3, 100_000, 105_000, 0),
                (Some(-500), Some(35_000), Some(0)),
            ),
            // half a basis point rounds up, away from zero for an overspend too
            ((1, 20_000, 19_999, 1), (Some(1), Some(19_999), Some(1))),
            (
                (1, 20_000, 20_001, 20_001),
                (Some(-1), Some(20_001), Some(10_000)),
            ),
            // nothing to divide by
            ((0, 0, 0, 0), (None, None, None)),
        ];
        for ((persons, a, c, upper), want) in table {
            let t = tally(persons, a, c, upper);
            assert_eq!(
                (
                    t.surplus_rate_bp(),
                    t.cost_per_person_fen(),
                    t.upper_share_bp()
                ),
                want,
                "{t:?}"
            );
        }
    }

    /// A district's rate is that of its sums: one large surplus and one small
    /// overspend are not averaged as equals.
    #[test]
    fn a_sum_takes_the_rate_of_its_sums() {
        let mut district = PaymentTally::default();
        district.add(&tally(900, 9_000_000, 6_300_000, 630_000)); // 30 %
        district.add(&tally(100, 1_000_000, 1_100_000, 550_000)); // −10 %
        assert_eq!(district.institutions, 2);
        assert_eq!(district.surplus_fen, 2_600_000);
        assert_eq!(district.surplus_rate_bp(), Some(2_600)); // not (30 − 10) ÷ 2
        assert_eq!(district.cost_per_person_fen(), Some(7_400));
        assert_eq!(district.upper_share_bp(), Some(1_595)); // 1,180,000 ÷ 7,400,000
    }
}
