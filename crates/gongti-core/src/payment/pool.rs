//! An institution's incentive pool of a month (绩效考核激励资金池, DOMAIN.md §5–§6,
//! issue 17 points 6–7): what may fund it — the retained surplus, the contract fee's
//! team share, public-health performance funds; **never** drug, consumable, test or
//! exam revenue —, the contract fee's team share of the month (`team_share × Σ fees`,
//! rounded once), each person's standard workload units from their work items by the
//! scheme's table, the quality factor from their team's measure through the scheme's
//! bands, and the payouts `pool × (units × post × quality) ÷ Σ`, exact to the fen.

use crate::decimal::div_half_up;
use crate::payment::capitation::UNIT;
use crate::payment::incentive::share_exact;
use crate::payment::scheme::{Scheme, WorkKind};

closed_set! {
    /// What may fund the pool (DOMAIN.md §6).
    FundSource {
        RetainedSurplus = "retained_surplus", "结余留用", "retained surplus";
        ContractFeeTeam = "contract_fee_team", "签约服务费（团队部分）", "contract fee, the team's share";
        PublicHealthPerformance = "public_health_performance", "基本公共卫生绩效经费", "public-health performance funds";
    }
}

closed_set! {
    /// Revenue that may never fund the pool: the pay of the staff is decoupled from it
    /// (DOMAIN.md §6, 两个允许 and the 医疗服务收入 rule).
    Revenue {
        Drug = "drug_revenue", "药品收入", "drug revenue";
        Consumable = "consumable_revenue", "耗材收入", "consumable revenue";
        Test = "test_revenue", "检验收入", "test revenue";
        Exam = "exam_revenue", "检查收入", "exam revenue";
    }
}

/// Why a funding source is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceRefused {
    /// Revenue that may never fund the pool.
    Revenue(Revenue),
    /// Not a source at all.
    Unknown,
}

/// A funding source by its code.
pub fn fund_source(code: &str) -> Result<FundSource, SourceRefused> {
    FundSource::parse(code)
        .ok_or_else(|| Revenue::parse(code).map_or(SourceRefused::Unknown, SourceRefused::Revenue))
}

/// The team's share of the contract fees signed in a month, `team_share × Σ fees`
/// rounded half up once (DOMAIN.md §6: the share, ≥ 70 %, goes to the team).
pub fn team_share_fen(fees_fen: i64, team_share: i128) -> i64 {
    i64::try_from(div_half_up(
        i128::from(fees_fen.max(0)) * team_share.max(0),
        UNIT,
    ))
    .unwrap_or(i64::MAX)
}

/// Standard workload units of a person's work items, by [`WorkKind::ALL`]: `Σ
/// units[kind] × count`, in ten-thousandths (`incentive::PLACES`).
pub fn units(scheme: &Scheme, counts: &[i64; 8]) -> i128 {
    WorkKind::ALL
        .iter()
        .zip(counts)
        .map(|(k, n)| scheme.work_units(*k) * i128::from((*n).max(0)))
        .sum()
}

/// The quality factor of a measure `rate` given in millionths (0 to 1): the scheme's
/// multiplier for the score `100 × rate`, rounded half up to ten-thousandths (the
/// places of units and posts); 1 with nothing measured.
pub fn quality_factor(scheme: &Scheme, rate: Option<i128>) -> i128 {
    rate.map_or(10_000, |r| {
        div_half_up(scheme.multiplier(r.clamp(0, UNIT) * 100), 100)
    })
}

/// A person of the month: units, post coefficient and quality factor, each in
/// ten-thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worker {
    pub units: i128,
    pub post: i128,
    pub quality: i128,
}

/// Each person's pay, in the order given, summing exactly to `pool_fen` when anyone
/// has weight (DOMAIN.md §6).
pub fn payouts(pool_fen: i64, workers: &[Worker]) -> Vec<i64> {
    let weights: Vec<i128> = workers
        .iter()
        .map(|w| w.units.max(0) * w.post.max(0) * w.quality.max(0))
        .collect();
    share_exact(pool_fen, &weights)
}

/// The month's payouts (DOMAIN.md §6: the contract fee's share goes to the team that
/// holds the contracts): each team's pool among that team's members, the rest of the
/// pool among everyone, each by `units × post × quality` and exact to the fen. The
/// pays in the order of `workers` (each with their team, if any), and the fen no one
/// could be given — a pool whose people have no work.
pub fn month_payouts(
    team_pools: &[(i64, i64)],
    other_fen: i64,
    workers: &[(Option<i64>, Worker)],
) -> (Vec<i64>, i64) {
    let weight = |w: &Worker| w.units.max(0) * w.post.max(0) * w.quality.max(0);
    let mut pay = vec![0i64; workers.len()];
    let mut undistributed = 0;
    let pools = team_pools
        .iter()
        .map(|(team, fen)| (Some(*team), *fen))
        .chain(std::iter::once((None, other_fen)));
    for (team, fen) in pools {
        let members: Vec<usize> = (0..workers.len())
            .filter(|i| team.is_none() || workers[*i].0 == team)
            .collect();
        let weights: Vec<i128> = members.iter().map(|i| weight(&workers[*i].1)).collect();
        if weights.iter().all(|w| *w == 0) {
            undistributed += fen;
            continue;
        }
        for (i, p) in members.iter().zip(share_exact(fen, &weights)) {
            pay[*i] += p;
        }
    }
    (pay, undistributed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::scheme::DemoScheme;

    #[test]
    fn revenue_never_funds_the_pool() {
        for (code, found) in [
            ("retained_surplus", Ok(FundSource::RetainedSurplus)),
            ("contract_fee_team", Ok(FundSource::ContractFeeTeam)),
            (
                "public_health_performance",
                Ok(FundSource::PublicHealthPerformance),
            ),
            ("drug_revenue", Err(SourceRefused::Revenue(Revenue::Drug))),
            (
                "consumable_revenue",
                Err(SourceRefused::Revenue(Revenue::Consumable)),
            ),
            ("test_revenue", Err(SourceRefused::Revenue(Revenue::Test))),
            ("exam_revenue", Err(SourceRefused::Revenue(Revenue::Exam))),
            ("lottery", Err(SourceRefused::Unknown)),
        ] {
            assert_eq!(fund_source(code), found, "{code}");
        }
    }

    #[test]
    fn the_month_is_counted_and_shared_exactly() {
        let s = &DemoScheme::builtin().scheme;
        // DOMAIN.md §6 by hand: three contracts of 120 yuan, team share 0.7 → 252 yuan
        assert_eq!(team_share_fen(3 * 12_000, s.team_share), 25_200);
        // 0.7 × 1 fen = 0.7 → 1 fen (half up, once)
        assert_eq!(team_share_fen(1, s.team_share), 1);
        // demo units: hypertension follow-up 1.7, diabetes 2.0, contract 1.0
        assert_eq!(
            units(s, &[10, 5, 0, 3, 0, 0, 0, 0]),
            170_000 + 100_000 + 30_000
        );
        // a team whose follow-ups are 80 % on time takes the 0.95 band; nothing
        // measured, 1
        assert_eq!(quality_factor(s, Some(800_000)), 9_500);
        assert_eq!(quality_factor(s, None), 10_000);
        // 10,000 fen among 30 units × 1.2 × 0.95 and 10 units × 1.0 × 1.0:
        // weights 34.2 and 10 → 7737.556… and 2262.443… → 7738 and 2262
        let pay = payouts(
            10_000,
            &[
                Worker {
                    units: 300_000,
                    post: 12_000,
                    quality: 9_500,
                },
                Worker {
                    units: 100_000,
                    post: 10_000,
                    quality: 10_000,
                },
            ],
        );
        assert_eq!(pay, vec![7_738, 2_262]);
        assert_eq!(payouts(10_000, &[]), Vec::<i64>::new());
    }

    #[test]
    fn a_teams_fees_go_to_the_team_and_the_rest_to_everyone() {
        let w = |units: i128| Worker {
            units,
            post: 10_000,
            quality: 10_000,
        };
        // team 1's 1,000 fen between its two members 3:1; team 2's 500 fen to its only
        // member; the other 900 fen among all four (3:1:2:3); team 3's 70 fen to no
        // one (nobody of it has work)
        let (pay, left) = month_payouts(
            &[(1, 1_000), (2, 500), (3, 70)],
            900,
            &[
                (Some(1), w(30_000)),
                (Some(1), w(10_000)),
                (Some(2), w(20_000)),
                (None, w(30_000)),
            ],
        );
        assert_eq!(pay, vec![750 + 300, 250 + 100, 500 + 200, 300]);
        assert_eq!(left, 70);
        assert_eq!(pay.iter().sum::<i64>() + left, 1_000 + 500 + 70 + 900);
    }
}
