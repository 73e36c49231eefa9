//! The quality assessment behind capitation's multiplier (DOMAIN.md §6, issue 17
//! point 4): a score `Q` from 0 to 100 from the terms of the scheme — 规范管理率, BP and
//! glucose control, the HbA1c target rate, 签约率, follow-ups on time, referrals
//! returned — each a rate `numerator ÷ denominator`, weighed by the scheme's weights.
//!
//! `Q = 100 × Σ wᵢ·rᵢ ÷ Σ wᵢ` over the terms that can be measured (a denominator above
//! 0): a term with nobody to measure neither helps nor hurts. Each term's share is
//! taken to 10⁻⁹ and `Q` rounded half up once to 10⁻⁶; with no term measurable there
//! is no score.

use crate::decimal::div_half_up;
use crate::payment::scheme::{QualityTerm, Scheme};

/// Each term's (numerator, denominator), by [`QualityTerm::ALL`].
pub type TermCounts = [(u64, u64); 7];

/// A score and what it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualityScore {
    pub counts: TermCounts,
    /// Each term's rate in millionths (rounded half up), `None` when not measurable.
    pub rates: [Option<i128>; 7],
    /// Q in millionths (0 to 100,000,000); `None` when no term is measurable.
    pub score: Option<i128>,
    /// m(Q) in millionths, when there is a score.
    pub multiplier: Option<i128>,
}

const SHARE_SCALE: i128 = 1_000_000_000;

/// The score of `counts` under `scheme`'s weights and bands.
pub fn assess(scheme: &Scheme, counts: &TermCounts) -> QualityScore {
    let mut rates = [None; 7];
    let mut weighed: i128 = 0;
    let mut weights: i128 = 0;
    for (i, term) in QualityTerm::ALL.iter().enumerate() {
        let (num, den) = counts[i];
        if den == 0 {
            continue;
        }
        let (num, den) = (i128::from(num.min(den)), i128::from(den));
        rates[i] = Some(div_half_up(num * 1_000_000, den));
        let w = scheme.quality_weight(*term);
        weighed += w * num * SHARE_SCALE / den;
        weights += w;
    }
    // Q = 100 × weighed ÷ (weights × 10⁹), in millionths
    let score =
        (weights > 0).then(|| div_half_up(weighed * 100 * 1_000_000, weights * SHARE_SCALE));
    QualityScore {
        counts: *counts,
        rates,
        score,
        multiplier: score.map(|s| scheme.multiplier(s)),
    }
}

/// The counts as `n/d` pairs, comma-separated (as frozen).
pub fn encode_counts(counts: &TermCounts) -> String {
    counts
        .iter()
        .map(|(n, d)| format!("{n}/{d}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Counts as [`encode_counts`] wrote them; `None` for anything else.
pub fn parse_counts(text: &str) -> Option<TermCounts> {
    let mut out = [(0, 0); 7];
    let mut parts = text.split(',');
    for slot in &mut out {
        let (n, d) = parts.next()?.split_once('/')?;
        *slot = (n.parse().ok()?, d.parse().ok()?);
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::scheme::DemoScheme;

    #[test]
    fn frozen_counts_read_back() {
        let c: TermCounts = [(2, 3), (0, 0), (5, 5), (0, 4), (1, 2), (9, 10), (0, 1)];
        assert_eq!(encode_counts(&c), "2/3,0/0,5/5,0/4,1/2,9/10,0/1");
        assert_eq!(parse_counts(&encode_counts(&c)), Some(c));
        for bad in [
            "",
            "1/2",
            "1/2,0/0,5/5,0/4,1/2,9/10,0/1,1/1",
            "a/b,0/0,5/5,0/4,1/2,9/10,0/1",
        ] {
            assert_eq!(parse_counts(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_score_weighs_the_measurable_terms() {
        let s = &DemoScheme::builtin().scheme;
        // demo weights: 0.25, 0.15, 0.15, 0.10, 0.15, 0.10, 0.10
        for (counts, score, multiplier) in [
            // every term at 80 %: Q = 80, the 0.95 band
            ([(80, 100); 7], Some(80_000_000), Some(950_000)),
            // all perfect but 签约率 at 0: Q = 85
            (
                [(1, 1), (1, 1), (1, 1), (1, 1), (0, 10), (1, 1), (1, 1)],
                Some(85_000_000),
                Some(950_000),
            ),
            // nobody with diabetes (no glucose nor HbA1c terms): the rest weigh 0.75;
            // standardised 1/3 and the others whole:
            // (0.25/3 + 0.15 + 0.15 + 0.10 + 0.10) ÷ 0.75 = 0.777777…7 → 77.777778
            (
                [(1, 3), (1, 1), (0, 0), (0, 0), (1, 1), (1, 1), (1, 1)],
                Some(77_777_778),
                Some(900_000),
            ),
            // nothing measurable: no score
            ([(0, 0); 7], None, None),
        ] {
            let q = assess(s, &counts);
            assert_eq!((q.score, q.multiplier), (score, multiplier), "{counts:?}");
        }
        let q = assess(
            s,
            &[(2, 3), (0, 0), (5, 5), (0, 4), (1, 2), (9, 10), (0, 1)],
        );
        assert_eq!(
            q.rates,
            [
                Some(666_667),
                None,
                Some(1_000_000),
                Some(0),
                Some(500_000),
                Some(900_000),
                Some(0)
            ]
        );
    }
}
