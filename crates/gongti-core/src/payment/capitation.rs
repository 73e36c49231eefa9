//! Capitation under a total budget (按人头打包付费, DOMAIN.md §6): the budget from the
//! enrolled persons, the monthly prepayments, the quality multiplier, the adjusted
//! budget against the actual cost, and what is retained, covered by the fund or borne
//! by the community — "surplus retained, overspend not compensated" being the share 0.
//!
//! Arithmetic (DOMAIN.md §6): weights and shares are exact decimals (up to
//! [`PLACES`] places); each money figure is rounded half up to the fen once, after its
//! sum, never per person; a band applies when the score reaches its `min_score`, the
//! highest such band; the prepayments are `round(α × B)` spread over twelve months,
//! months 1–11 each its whole twelfth in fen and the last the remainder, so they sum
//! exactly.

use crate::decimal::{div_half_up, scaled_f64};
use crate::problem::{FieldProblem, Problem};

/// Decimal places of a weight, share, score or multiplier.
pub const PLACES: u32 = 6;
pub(crate) const UNIT: i128 = 1_000_000;

pub const RATE_FEN_MAX: i64 = 100_000_000;
pub const COST_FEN_MAX: i64 = 1_000_000_000_000_000;
/// Entries of the member list (persons or groups), and persons a group counts.
pub const MEMBERS_MAX: usize = 1_000_000;
pub const GROUP_COUNT_MAX: i64 = 10_000_000;
pub const BANDS_MAX: usize = 50;
pub(crate) const WEIGHT_MAX: i128 = 100 * UNIT;
pub(crate) const MULTIPLIER_MAX: i128 = 10 * UNIT;
pub(crate) const SCORE_MAX: i128 = 100 * UNIT;

/// Enrolled persons of one risk weight (age band × disease) and days enrolled: one
/// person, or a group of `count` alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemberForm {
    pub weight: f64,
    pub days: i64,
    pub count: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandForm {
    pub min_score: f64,
    pub multiplier: f64,
}

/// A year of one institution (or health community) under one scheme, as asked.
#[derive(Debug, Clone, PartialEq)]
pub struct CapitationForm {
    /// The per-head rate of the scheme and year.
    pub rate_fen: i64,
    pub days_in_year: i64,
    pub members: Vec<MemberForm>,
    /// α, the share of the budget prepaid monthly.
    pub prepay_share: f64,
    /// Q, 0–100.
    pub quality_score: f64,
    pub quality_bands: Vec<BandForm>,
    /// C, the fund-paid cost of the members' care at every level.
    pub actual_cost_fen: i64,
    /// The most the community keeps of a surplus, as a share of the adjusted budget
    /// (`None`: no cap).
    pub surplus_cap_share: Option<f64>,
    /// The share of an overspend the fund covers (Tianjin 超支不补: 0).
    pub overspend_share: f64,
}

/// A [`CapitationForm`] checked: every decimal a count of millionths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capitation {
    pub rate_fen: i64,
    pub days_in_year: i64,
    /// (weight in millionths, days, persons).
    pub members: Vec<(i128, i64, i64)>,
    pub prepay_share: i128,
    pub quality_score: i128,
    /// (min score, multiplier) in millionths.
    pub quality_bands: Vec<(i128, i128)>,
    pub actual_cost_fen: i64,
    pub surplus_cap_share: Option<i128>,
    pub overspend_share: i128,
}

/// The year's figures (DOMAIN.md §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clearing {
    /// B.
    pub budget_fen: i64,
    /// round(α × B).
    pub prepaid_fen: i64,
    pub monthly_prepayments_fen: [i64; 12],
    /// m(Q), in millionths.
    pub multiplier: i128,
    /// A = B × m(Q).
    pub adjusted_budget_fen: i64,
    /// S = A − C (negative for an overspend).
    pub surplus_fen: i64,
    /// S ÷ A in millionths, rounded half up (away from zero); `None` when A is 0.
    pub surplus_rate: Option<i128>,
    pub retained_fen: i64,
    pub fund_covers_fen: i64,
    pub community_bears_fen: i64,
}

/// A share's, a score's or a multiplier's bound, and as it is said.
type Bound = (i128, &'static str);
const SHARE: Bound = (UNIT, "1");
const SCORE: Bound = (SCORE_MAX, "100");
const MULTIPLIER: Bound = (MULTIPLIER_MAX, "10");

fn decimal(
    field: &'static str,
    value: f64,
    (max, max_text): Bound,
    problems: &mut Vec<FieldProblem>,
) -> i128 {
    match scaled_f64(value, PLACES).filter(|v| *v <= max) {
        Some(v) => v,
        None => {
            problems.push(FieldProblem::new(
                field,
                Problem::OutOfRange {
                    min: "0",
                    max: max_text,
                },
            ));
            0
        }
    }
}

/// Checks the form: amounts in their ranges, at most [`MEMBERS_MAX`] members each
/// enrolled 0 to `days_in_year` days, decimals with at most [`PLACES`] places in their
/// ranges (shares 0–1, weights 0–100, score and band minimums 0–100, multipliers 0–10),
/// no two bands with the same minimum.
pub fn validate(f: &CapitationForm) -> Result<Capitation, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let range = |field, min, max| FieldProblem::new(field, Problem::OutOfRange { min, max });
    if !(0..=RATE_FEN_MAX).contains(&f.rate_fen) {
        problems.push(range("rate_fen", "0", "100000000"));
    }
    if !(1..=366).contains(&f.days_in_year) {
        problems.push(range("days_in_year", "1", "366"));
    }
    if !(0..=COST_FEN_MAX).contains(&f.actual_cost_fen) {
        problems.push(range("actual_cost_fen", "0", "1000000000000000"));
    }
    let mut members = Vec::with_capacity(f.members.len().min(MEMBERS_MAX));
    if f.members.len() > MEMBERS_MAX {
        problems.push(range("members", "0", "1000000"));
    } else {
        let mut weight_bad = false;
        let mut days_bad = false;
        let mut count_bad = false;
        for m in &f.members {
            let w = scaled_f64(m.weight, PLACES).filter(|w| *w <= WEIGHT_MAX);
            weight_bad |= w.is_none();
            days_bad |= !(0..=f.days_in_year.max(1)).contains(&m.days);
            count_bad |= !(0..=GROUP_COUNT_MAX).contains(&m.count);
            members.push((w.unwrap_or(0), m.days, m.count));
        }
        if count_bad {
            problems.push(range("members.count", "0", "10000000"));
        }
        if weight_bad {
            problems.push(range("members.weight", "0", "100"));
        }
        if days_bad {
            problems.push(FieldProblem::new(
                "members.days",
                Problem::Inconsistent {
                    with: "days_in_year",
                },
            ));
        }
    }
    let prepay_share = decimal("prepay_share", f.prepay_share, SHARE, &mut problems);
    let quality_score = decimal("quality_score", f.quality_score, SCORE, &mut problems);
    let overspend_share = decimal("overspend_share", f.overspend_share, SHARE, &mut problems);
    let surplus_cap_share = f
        .surplus_cap_share
        .map(|c| decimal("surplus_cap_share", c, SHARE, &mut problems));
    let mut quality_bands = Vec::new();
    if f.quality_bands.len() > BANDS_MAX {
        problems.push(range("quality_bands", "0", "50"));
    } else {
        for b in &f.quality_bands {
            let min = decimal("quality_bands.min_score", b.min_score, SCORE, &mut problems);
            let m = decimal(
                "quality_bands.multiplier",
                b.multiplier,
                MULTIPLIER,
                &mut problems,
            );
            quality_bands.push((min, m));
        }
        let mut mins: Vec<i128> = quality_bands.iter().map(|b| b.0).collect();
        mins.sort_unstable();
        if mins.windows(2).any(|w| w[0] == w[1]) {
            problems.push(FieldProblem::new(
                "quality_bands.min_score",
                Problem::Inconsistent {
                    with: "quality_bands",
                },
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Capitation {
        rate_fen: f.rate_fen,
        days_in_year: f.days_in_year,
        members,
        prepay_share,
        quality_score,
        quality_bands,
        actual_cost_fen: f.actual_cost_fen,
        surplus_cap_share,
        overspend_share,
    })
}

/// m(Q): the multiplier of the highest band whose minimum the score reaches; 1 when
/// no bands are set; `None` when the score is below every band.
pub fn multiplier(score: i128, bands: &[(i128, i128)]) -> Option<i128> {
    if bands.is_empty() {
        return Some(UNIT);
    }
    bands
        .iter()
        .filter(|(min, _)| score >= *min)
        .max_by_key(|(min, _)| *min)
        .map(|(_, m)| *m)
}

/// Twelve monthly prepayments of `prepaid_fen`: months 1–11 its whole twelfth, the
/// last the remainder.
pub fn monthly(prepaid_fen: i64) -> [i64; 12] {
    let month = prepaid_fen / 12;
    let mut out = [month; 12];
    out[11] = prepaid_fen - 11 * month;
    out
}

fn fen(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The year's figures of a checked form (DOMAIN.md §6); `Err` when the score falls
/// below every quality band.
pub fn clear(c: &Capitation) -> Result<Clearing, FieldProblem> {
    let m = multiplier(c.quality_score, &c.quality_bands).ok_or_else(|| {
        FieldProblem::new(
            "quality_score",
            Problem::Inconsistent {
                with: "quality_bands",
            },
        )
    })?;
    // B = Σ rate × weight × days ÷ days in year, rounded once
    let numerator: i128 = c
        .members
        .iter()
        .map(|(w, days, count)| i128::from(c.rate_fen) * w * i128::from(*days) * i128::from(*count))
        .sum();
    let budget = div_half_up(numerator, UNIT * i128::from(c.days_in_year));
    Ok(settle(
        budget,
        c.prepay_share,
        m,
        c.actual_cost_fen,
        c.surplus_cap_share,
        c.overspend_share,
    ))
}

/// The year's figures from its budget `B` in fen: the prepayments `round(α × B)`, the
/// adjusted budget `A = B × m`, the surplus against the cost, what is retained (up to
/// `cap × A`) or how an overspend is shared (DOMAIN.md §6).
pub fn settle(
    budget: i128,
    prepay_share: i128,
    m: i128,
    actual_cost_fen: i64,
    surplus_cap_share: Option<i128>,
    overspend_share: i128,
) -> Clearing {
    let prepaid = div_half_up(prepay_share * budget, UNIT);
    let adjusted = div_half_up(budget * m, UNIT);
    let surplus = adjusted - i128::from(actual_cost_fen);
    let surplus_rate = (adjusted > 0).then(|| {
        let magnitude = div_half_up(surplus.abs() * UNIT, adjusted);
        if surplus < 0 { -magnitude } else { magnitude }
    });
    let (retained, fund_covers, community_bears) = if surplus >= 0 {
        let retained = match surplus_cap_share {
            None => surplus,
            Some(cap) => surplus.min(div_half_up(cap * adjusted, UNIT)),
        };
        (retained, 0, 0)
    } else {
        let over = -surplus;
        let covers = div_half_up(overspend_share * over, UNIT);
        (0, covers, over - covers)
    };
    let prepaid = fen(prepaid);
    Clearing {
        budget_fen: fen(budget),
        prepaid_fen: prepaid,
        monthly_prepayments_fen: monthly(prepaid),
        multiplier: m,
        adjusted_budget_fen: fen(adjusted),
        surplus_fen: fen(surplus),
        surplus_rate,
        retained_fen: fen(retained),
        fund_covers_fen: fen(fund_covers),
        community_bears_fen: fen(community_bears),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(members: &[(f64, i64)], cost_fen: i64) -> CapitationForm {
        CapitationForm {
            rate_fen: 60_000,
            days_in_year: 365,
            members: members
                .iter()
                .map(|&(weight, days)| MemberForm {
                    weight,
                    days,
                    count: 1,
                })
                .collect(),
            prepay_share: 0.8,
            quality_score: 92.0,
            quality_bands: vec![
                BandForm {
                    min_score: 0.0,
                    multiplier: 0.85,
                },
                BandForm {
                    min_score: 80.0,
                    multiplier: 0.95,
                },
                BandForm {
                    min_score: 90.0,
                    multiplier: 1.0,
                },
            ],
            actual_cost_fen: cost_fen,
            surplus_cap_share: None,
            overspend_share: 0.0,
        }
    }

    fn run(f: &CapitationForm) -> Clearing {
        clear(&validate(f).unwrap()).unwrap()
    }

    /// DOMAIN.md §6, by hand: B = 600 yuan × (1.2 × 365 + 1.0 × 100 + 0.8 × 365) ÷ 365
    /// = 600 × (438 + 100 + 292) ÷ 365 = 600 × 830 ÷ 365 = 1,364.3835… yuan →
    /// 136,438.356… fen → 136,438; α = 0.8 → 109,150.4 → 109,150, months 9,095 × 11 and
    /// 9,105; Q = 92 → m = 1.00 → A = 136,438; C = 110,000 → S = 26,438, rate
    /// 26,438 ÷ 136,438 = 0.193773…; 超支不补, no cap: all retained.
    #[test]
    fn a_surplus_is_retained() {
        let c = run(&form(&[(1.2, 365), (1.0, 100), (0.8, 365)], 110_000));
        assert_eq!(c.budget_fen, 136_438);
        assert_eq!(c.prepaid_fen, 109_150);
        assert_eq!(c.monthly_prepayments_fen[0], 9_095);
        assert_eq!(c.monthly_prepayments_fen[11], 9_105);
        assert_eq!(c.monthly_prepayments_fen.iter().sum::<i64>(), 109_150);
        assert_eq!(
            (c.multiplier, c.adjusted_budget_fen, c.surplus_fen),
            (UNIT, 136_438, 26_438)
        );
        assert_eq!(c.surplus_rate, Some(193_773));
        assert_eq!(
            (c.retained_fen, c.fund_covers_fen, c.community_bears_fen),
            (26_438, 0, 0)
        );
    }

    /// A group of n alike counts as n persons.
    #[test]
    fn a_group_counts_its_persons() {
        let mut grouped = form(&[(1.2, 365)], 0);
        grouped.members[0].count = 3;
        let single = form(&[(1.2, 365), (1.2, 365), (1.2, 365)], 0);
        assert_eq!(run(&grouped), run(&single));
        grouped.members[0].count = -1;
        let fields: Vec<&str> = validate(&grouped)
            .unwrap_err()
            .iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(fields, ["members.count"]);
    }

    /// Rounding once after the sum: three persons of 1/3 of a fen each make 1 fen, not 0.
    #[test]
    fn money_is_rounded_once_after_its_sum() {
        let mut f = form(&[(1.0, 1), (1.0, 1), (1.0, 1)], 0);
        f.rate_fen = 365 / 3 + 1; // 122 fen a year: 122 ÷ 365 a day, 0.334… fen each
        let c = run(&f);
        assert_eq!(c.budget_fen, 1, "3 × 122 ÷ 365 = 1.0027… → 1");
        f.members.truncate(1);
        assert_eq!(run(&f).budget_fen, 0, "122 ÷ 365 = 0.334… → 0");
    }

    /// The bands, the cap, the overspend shares (DOMAIN.md §6), one case a row:
    /// (score, cost, cap, overspend share) → (multiplier, A, S, retained, fund, borne).
    #[test]
    fn bands_caps_and_overspend_shares() {
        type Case = (f64, i64, Option<f64>, f64, (i128, i64, i64, i64, i64, i64));
        let cases: &[Case] = &[
            // B = 600 yuan × 3.65 (one person-year at weight 3.65) = 219,000 fen; a
            // score exactly at a band's minimum takes that band
            (
                90.0,
                100_000,
                None,
                0.0,
                (UNIT, 219_000, 119_000, 119_000, 0, 0),
            ),
            (
                89.999999,
                100_000,
                None,
                0.0,
                (950_000, 208_050, 108_050, 108_050, 0, 0),
            ),
            (
                50.0,
                100_000,
                None,
                0.0,
                (850_000, 186_150, 86_150, 86_150, 0, 0),
            ),
            // a cap of 10 % of A: 21,900 kept of 119,000
            (
                95.0,
                100_000,
                Some(0.1),
                0.0,
                (UNIT, 219_000, 119_000, 21_900, 0, 0),
            ),
            // Tianjin 超支不补: the community bears all of an overspend
            (
                95.0,
                250_000,
                None,
                0.0,
                (UNIT, 219_000, -31_000, 0, 0, 31_000),
            ),
            // 合理超支分担 with the fund covering 35 %: 10,850 and 20,150
            (
                95.0,
                250_000,
                None,
                0.35,
                (UNIT, 219_000, -31_000, 0, 10_850, 20_150),
            ),
            // half a fen rounds up: 0.5 × 31,001 = 15,500.5 → 15,501
            (
                95.0,
                250_001,
                None,
                0.5,
                (UNIT, 219_000, -31_001, 0, 15_501, 15_500),
            ),
            (95.0, 219_000, Some(0.0), 1.0, (UNIT, 219_000, 0, 0, 0, 0)),
        ];
        for (score, cost, cap, share, want) in cases {
            let mut f = form(&[(3.65, 365)], *cost);
            f.quality_score = *score;
            f.surplus_cap_share = *cap;
            f.overspend_share = *share;
            let c = run(&f);
            assert_eq!(
                (
                    c.multiplier,
                    c.adjusted_budget_fen,
                    c.surplus_fen,
                    c.retained_fen,
                    c.fund_covers_fen,
                    c.community_bears_fen
                ),
                *want,
                "Q {score}, C {cost}, cap {cap:?}, share {share}"
            );
            assert_eq!(c.budget_fen, 219_000);
        }
    }

    #[test]
    fn an_overspend_has_a_negative_rate_and_no_budget_no_rate() {
        let c = run(&form(&[(1.0, 365)], 90_000));
        assert_eq!((c.surplus_fen, c.surplus_rate), (-30_000, Some(-500_000)));
        let c = run(&form(&[], 5));
        assert_eq!(
            (c.budget_fen, c.surplus_rate, c.community_bears_fen),
            (0, None, 5)
        );
    }

    #[test]
    fn prepayments_sum_exactly() {
        for prepaid in [0, 1, 11, 12, 13, 109_150, 999_999_999] {
            let m = monthly(prepaid);
            assert_eq!(m.iter().sum::<i64>(), prepaid);
            assert!(m[..11].iter().all(|x| *x == prepaid / 12) && m[11] >= m[0]);
        }
    }

    #[test]
    fn bad_forms_are_refused_with_every_problem() {
        let mut f = form(&[(1.2345678, 400), (-1.0, 10)], -1);
        f.rate_fen = -5;
        f.days_in_year = 0;
        f.prepay_share = 1.5;
        f.quality_bands.push(BandForm {
            min_score: 80.0,
            multiplier: 1.1,
        });
        let fields: Vec<&str> = validate(&f).unwrap_err().iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "rate_fen",
                "days_in_year",
                "actual_cost_fen",
                "members.weight",
                "members.days",
                "prepay_share",
                "quality_bands.min_score"
            ]
        );
        // a score below every band has no multiplier
        let mut f = form(&[(1.0, 365)], 0);
        f.quality_bands.remove(0);
        f.quality_score = 10.0;
        assert_eq!(
            clear(&validate(&f).unwrap()).unwrap_err().field,
            "quality_score"
        );
        f.quality_bands.clear();
        assert_eq!(clear(&validate(&f).unwrap()).unwrap().multiplier, UNIT);
    }
}
