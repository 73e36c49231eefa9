//! The incentive pool's payout (绩效考核激励资金池, DOMAIN.md §6): `pay_i = pool ×
//! (units_i × post_i × quality_i) ÷ Σ_j (units_j × post_j × quality_j)`, the fen given
//! out by largest remainder so that the payouts sum exactly to the pool (ties to the
//! person listed first).

use crate::decimal::scaled_f64;
use crate::problem::{FieldProblem, Problem};

/// Decimal places of units, post coefficients and quality factors.
pub const PLACES: u32 = 4;
pub const POOL_FEN_MAX: i64 = 10_000_000_000_000;
pub const PEOPLE_MAX: usize = 100_000;
pub const ID_MAX_CHARS: usize = 64;
const UNITS_MAX: i128 = 10_000_000 * 10_000;
const POST_MAX: i128 = 100 * 10_000;
const QUALITY_MAX: i128 = 10 * 10_000;

#[derive(Debug, Clone, PartialEq)]
pub struct PersonForm {
    pub id: String,
    /// Standard workload units (标准工作量) of the month.
    pub units: f64,
    /// The post coefficient (岗位系数).
    pub post: f64,
    /// The quality factor from the team's indicators.
    pub quality: f64,
}

/// What each person is paid, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub id: String,
    pub pay_fen: i64,
}

/// Checks the people: ids present, unique and short; units 0–10,000,000, post 0–100
/// and quality 0–10, each with at most [`PLACES`] places; someone with work when the
/// pool holds money.
fn validate(pool_fen: i64, people: &[PersonForm]) -> Result<Vec<i128>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let range = |field, min, max| FieldProblem::new(field, Problem::OutOfRange { min, max });
    if !(0..=POOL_FEN_MAX).contains(&pool_fen) {
        problems.push(range("pool_fen", "0", "10000000000000"));
    }
    if people.len() > PEOPLE_MAX {
        problems.push(range("people", "0", "100000"));
        return Err(problems);
    }
    let mut ids: Vec<&str> = people.iter().map(|p| p.id.as_str()).collect();
    if ids
        .iter()
        .any(|id| id.trim().is_empty() || id.chars().count() > ID_MAX_CHARS)
    {
        problems.push(FieldProblem::new(
            "people.id",
            Problem::Length {
                min_chars: 1,
                max_chars: ID_MAX_CHARS,
            },
        ));
    }
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        problems.push(FieldProblem::new(
            "people.id",
            Problem::Inconsistent { with: "people" },
        ));
    }
    let mut shares = Vec::with_capacity(people.len());
    let mut bad = [false; 3];
    for p in people {
        let units = scaled_f64(p.units, PLACES).filter(|v| *v <= UNITS_MAX);
        let post = scaled_f64(p.post, PLACES).filter(|v| *v <= POST_MAX);
        let quality = scaled_f64(p.quality, PLACES).filter(|v| *v <= QUALITY_MAX);
        bad[0] |= units.is_none();
        bad[1] |= post.is_none();
        bad[2] |= quality.is_none();
        shares.push(units.unwrap_or(0) * post.unwrap_or(0) * quality.unwrap_or(0));
    }
    for (i, (field, max)) in [
        ("people.units", "10000000"),
        ("people.post", "100"),
        ("people.quality", "10"),
    ]
    .into_iter()
    .enumerate()
    {
        if bad[i] {
            problems.push(range(field, "0", max));
        }
    }
    if problems.is_empty() && pool_fen > 0 && shares.iter().all(|s| *s == 0) {
        problems.push(FieldProblem::new(
            "people",
            Problem::Inconsistent { with: "pool_fen" },
        ));
    }
    if problems.is_empty() {
        Ok(shares)
    } else {
        Err(problems)
    }
}

/// Shares `pool_fen` among `people` (DOMAIN.md §6): each their exact share rounded
/// down to the fen, then the fen left over one each to the largest remainders.
pub fn payouts(pool_fen: i64, people: &[PersonForm]) -> Result<Vec<Payout>, Vec<FieldProblem>> {
    let shares = validate(pool_fen, people)?;
    let pay = share_exact(pool_fen, &shares);
    Ok(people
        .iter()
        .zip(pay)
        .map(|(p, pay_fen)| Payout {
            id: p.id.clone(),
            pay_fen,
        })
        .collect())
}

/// `pool_fen` shared by `weights` (each `≥ 0`): `pool × wᵢ ÷ Σ w` rounded down, then the
/// fen left over one each to the largest remainders (between equal ones, the one
/// listed first), so that the shares sum exactly to the pool; all 0 when every weight
/// is.
pub fn share_exact(pool_fen: i64, weights: &[i128]) -> Vec<i64> {
    debug_assert!(pool_fen >= 0 && weights.iter().all(|w| *w >= 0));
    let total: i128 = weights.iter().sum();
    let pool = i128::from(pool_fen);
    let mut pay: Vec<i128> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, s) in weights.iter().enumerate() {
        if total == 0 {
            pay.push(0);
            continue;
        }
        let exact = pool * s;
        pay.push(exact / total);
        remainders.push((exact % total, i));
    }
    let left = pool - pay.iter().sum::<i128>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    if total > 0 {
        for (_, i) in remainders.iter().take(usize::try_from(left).unwrap_or(0)) {
            pay[*i] += 1;
        }
    }
    pay.into_iter()
        .map(|fen| i64::try_from(fen).unwrap_or(i64::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(id: &str, units: f64, post: f64, quality: f64) -> PersonForm {
        PersonForm {
            id: id.into(),
            units,
            post,
            quality,
        }
    }

    fn paid(pool: i64, people: &[PersonForm]) -> Vec<i64> {
        payouts(pool, people)
            .unwrap()
            .iter()
            .map(|p| p.pay_fen)
            .collect()
    }

    /// DOMAIN.md §6, by hand, one case a row.
    #[test]
    fn the_pool_is_shared_exactly() {
        // (pool, (units, post, quality) a person, what each is paid)
        type Case<'a> = (i64, &'a [(f64, f64, f64)], &'a [i64]);
        let cases: &[Case] = &[
            // 2 : 1 of 300 fen
            (300, &[(2.0, 1.0, 1.0), (1.0, 1.0, 1.0)], &[200, 100]),
            // thirds of 100 fen: 33.33 each, the fen left to the first listed
            (
                100,
                &[(1.0, 1.0, 1.0), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0)],
                &[34, 33, 33],
            ),
            // 10 fen as 1.7 : 2.0 : 2.5 (follow-ups and a record): 4.594…, 5.405…
            // → 4 and 5 with 1 left to the larger remainder (0.594 > 0.405)
            (10, &[(1.7, 1.0, 1.0), (2.0, 1.0, 1.0)], &[5, 5]),
            // post and quality weigh in: 100 units × 1.2 × 0.9 = 108 against 100 × 1 × 1
            (
                20_800,
                &[(100.0, 1.2, 0.9), (100.0, 1.0, 1.0)],
                &[10_800, 10_000],
            ),
            // no work, no pay; an empty pool pays nobody
            (100, &[(0.0, 1.0, 1.0), (5.0, 1.0, 1.0)], &[0, 100]),
            (0, &[(0.0, 1.0, 1.0)], &[0]),
            (0, &[], &[]),
        ];
        for (pool, people, want) in cases {
            let list: Vec<PersonForm> = people
                .iter()
                .enumerate()
                .map(|(i, (u, p, q))| person(&format!("p{i}"), *u, *p, *q))
                .collect();
            let got = paid(*pool, &list);
            assert_eq!(got, *want, "pool {pool} for {people:?}");
            assert_eq!(got.iter().sum::<i64>(), *pool);
        }
    }

    #[test]
    fn many_people_sum_to_the_pool() {
        let people: Vec<PersonForm> = (0..10_000)
            .map(|i| person(&format!("s{i}"), f64::from(i % 97) + 0.5, 1.1, 0.95))
            .collect();
        let got = paid(123_456_789, &people);
        assert_eq!(got.iter().sum::<i64>(), 123_456_789);
    }

    #[test]
    fn bad_lists_are_refused() {
        let cases: &[(i64, Vec<PersonForm>, &[&str])] = &[
            (-1, vec![person("a", 1.0, 1.0, 1.0)], &["pool_fen"]),
            (
                100,
                vec![person("a", 1.0, 1.0, 1.0), person("a", 1.0, 1.0, 1.0)],
                &["people.id"],
            ),
            (100, vec![person(" ", 1.0, 1.0, 1.0)], &["people.id"]),
            (
                100,
                vec![person("a", -1.0, 101.0, 1.23456)],
                &["people.units", "people.post", "people.quality"],
            ),
            (100, vec![person("a", 0.0, 1.0, 1.0)], &["people"]),
        ];
        for (pool, people, fields) in cases {
            let got: Vec<&str> = payouts(*pool, people)
                .unwrap_err()
                .iter()
                .map(|p| p.field)
                .collect();
            assert_eq!(got, *fields, "{pool} {people:?}");
        }
    }
}
