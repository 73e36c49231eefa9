//! The year-end clearing (年度清算, DOMAIN.md §6, issue 17 point 5): from an
//! institution's frozen inputs — its budget `B` counted from the days its members
//! were actually enrolled, the quality terms' counts of the whole year, the fund-paid
//! cost of its members' care at every level and the prepayments paid — the year's
//! figures (`A = B × m(Q)`, the surplus or overspend, what is retained, what the fund
//! covers and what the community bears) and the balance still to pay or to recover;
//! and the states each institution's clearing passes through.
//!
//! The balance: the community has earned its members' cost up to the adjusted budget,
//! `min(C, A)`, plus what it retains of a surplus or what the fund covers of an
//! overspend; it has been paid the prepayments. `balance = min(C, A) + retained +
//! fund covers − prepaid` — positive, the fund pays it (清算拨付); negative, the fund
//! recovers it (清算追回). With a surplus and no cap this is `A − prepaid`; with an
//! overspend under 超支不补 it is `A − prepaid` too, the community bearing `C − A`.

use crate::payment::capitation::{Clearing, UNIT, settle};
use crate::payment::quality::{QualityScore, TermCounts, assess};
use crate::payment::scheme::Scheme;

/// What an institution's clearing is computed from, frozen when the year's data are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingInputs {
    /// B from the days actually enrolled, in fen.
    pub budget_fen: i64,
    /// The year's quality terms.
    pub counts: TermCounts,
    /// The fund-paid cost of the members' care at every level, in fen.
    pub cost_fen: i64,
    /// The prepayments paid, in fen.
    pub prepaid_fen: i64,
}

/// An institution's figures of the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingFigures {
    pub assessment: QualityScore,
    /// `prepaid_fen` and the monthly amounts here are those of `round(α × B)` for the
    /// actual B; what was paid is the inputs' `prepaid_fen`.
    pub clearing: Clearing,
    /// Still to pay (positive) or to recover (negative), in fen.
    pub balance_fen: i64,
}

/// The figures of `inputs` under `scheme` (DOMAIN.md §6); with no measurable quality
/// term the multiplier is 1.
pub fn figures(scheme: &Scheme, inputs: &ClearingInputs) -> ClearingFigures {
    let assessment = assess(scheme, &inputs.counts);
    let clearing = settle(
        i128::from(inputs.budget_fen),
        scheme.prepay_share,
        assessment.multiplier.unwrap_or(UNIT),
        inputs.cost_fen,
        scheme.surplus_cap_share,
        scheme.overspend_share,
    );
    let earned = inputs.cost_fen.min(clearing.adjusted_budget_fen)
        + clearing.retained_fen
        + clearing.fund_covers_fen;
    ClearingFigures {
        assessment,
        balance_fen: earned - inputs.prepaid_fen,
        clearing,
    }
}

closed_set! {
    /// Where an institution's clearing stands (DOMAIN.md §6).
    ClearingState {
        Computed = "computed", "已计算，待机构确认", "Computed, awaiting the institution";
        Confirmed = "confirmed", "机构已确认", "Confirmed by the institution";
        Disputed = "disputed", "机构有异议", "Disputed by the institution";
        Approved = "approved", "医保已审定", "Approved by the insurer";
        Paid = "paid", "已拨付", "Paid";
        Recovered = "recovered", "已追回", "Recovered";
    }
}

closed_set! {
    /// What may be done to an institution's clearing.
    ClearingStep {
        Confirm = "confirm", "确认", "Confirm";
        Dispute = "dispute", "提出异议", "Dispute";
        Approve = "approve", "审定", "Approve";
        Settle = "settle", "拨付或追回", "Pay or recover";
    }
}

/// Why a step is refused in a state (an answer's code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepRefused {
    /// The insurer has approved it: the institution's answer is final.
    AlreadyApproved,
    /// The institution has neither confirmed nor disputed it.
    NotAnswered,
    /// It is not approved yet.
    NotApproved,
}

impl StepRefused {
    pub fn code(self) -> &'static str {
        match self {
            StepRefused::AlreadyApproved => "clearing_already_approved",
            StepRefused::NotAnswered => "clearing_not_answered",
            StepRefused::NotApproved => "clearing_not_approved",
        }
    }
}

/// The state after `step` from `state` — the same state when the step was taken
/// already (every step idempotent) — with a balance's sign deciding between paid and
/// recovered.
pub fn next(
    state: ClearingState,
    step: ClearingStep,
    balance_fen: i64,
) -> Result<ClearingState, StepRefused> {
    use ClearingState as S;
    use ClearingStep as T;
    let settled = if balance_fen < 0 {
        S::Recovered
    } else {
        S::Paid
    };
    match (step, state) {
        (T::Confirm | T::Dispute, S::Approved | S::Paid | S::Recovered) => {
            Err(StepRefused::AlreadyApproved)
        }
        (T::Confirm, _) => Ok(S::Confirmed),
        (T::Dispute, _) => Ok(S::Disputed),
        (T::Approve, S::Computed) => Err(StepRefused::NotAnswered),
        (T::Approve, S::Confirmed | S::Disputed) => Ok(S::Approved),
        (T::Approve, done) => Ok(done),
        (T::Settle, S::Approved) => Ok(settled),
        (T::Settle, S::Paid | S::Recovered) => Ok(state),
        (T::Settle, _) => Err(StepRefused::NotApproved),
    }
}

/// Whether the year may close: every institution paid or recovered.
pub fn may_close(states: &[ClearingState]) -> bool {
    states
        .iter()
        .all(|s| matches!(s, ClearingState::Paid | ClearingState::Recovered))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payment::scheme::DemoScheme;

    fn scheme(cap: Option<i128>, overspend: i128) -> Scheme {
        let mut s = DemoScheme::builtin().scheme.clone();
        s.surplus_cap_share = cap;
        s.overspend_share = overspend;
        s
    }

    /// Every term at 80 %: Q = 80, m = 0.95 under the demo bands.
    const EIGHTY: TermCounts = [(80, 100); 7];

    #[test]
    fn the_balance_is_what_was_earned_less_what_was_prepaid() {
        // DOMAIN.md §6 by hand, B = 1,000,000 fen, m = 0.95 → A = 950,000; α = 0.8 of
        // the projected budget was paid: 800,000.
        for (cap, overspend, cost, adjusted, surplus, retained, covers, bears, balance) in [
            // a 22 % surplus, no cap: the community keeps it all; the fund owes A − paid
            (None, 0, 741_000, 950_000, 209_000, 209_000, 0, 0, 150_000),
            // the same under a cap of 10 % of A: 95,000 retained; 741,000 + 95,000 − 800,000
            (
                Some(100_000),
                0,
                741_000,
                950_000,
                209_000,
                95_000,
                0,
                0,
                36_000,
            ),
            // an overspend of 100,000 under 超支不补: the community bears it all
            (
                None, 0, 1_050_000, 950_000, -100_000, 0, 0, 100_000, 150_000,
            ),
            // 合理超支分担 at 0.5: the fund covers 50,000 of it
            (
                None, 500_000, 1_050_000, 950_000, -100_000, 0, 50_000, 50_000, 200_000,
            ),
            // a cost far below the prepayments under a 5 % cap: the fund recovers
            (
                Some(50_000),
                0,
                300_000,
                950_000,
                650_000,
                47_500,
                0,
                0,
                -452_500,
            ),
        ] {
            let f = figures(
                &scheme(cap, overspend),
                &ClearingInputs {
                    budget_fen: 1_000_000,
                    counts: EIGHTY,
                    cost_fen: cost,
                    prepaid_fen: 800_000,
                },
            );
            let c = &f.clearing;
            assert_eq!(
                (
                    c.adjusted_budget_fen,
                    c.surplus_fen,
                    c.retained_fen,
                    c.fund_covers_fen,
                    c.community_bears_fen,
                    f.balance_fen
                ),
                (adjusted, surplus, retained, covers, bears, balance),
                "cap {cap:?}, overspend share {overspend}, cost {cost}"
            );
        }
    }

    #[test]
    fn with_no_term_measurable_the_multiplier_is_one() {
        let f = figures(
            &scheme(None, 0),
            &ClearingInputs {
                budget_fen: 1_000_000,
                counts: [(0, 0); 7],
                cost_fen: 0,
                prepaid_fen: 0,
            },
        );
        assert_eq!(f.assessment.score, None);
        assert_eq!(
            (f.clearing.multiplier, f.clearing.adjusted_budget_fen),
            (1_000_000, 1_000_000)
        );
    }

    #[test]
    fn each_step_moves_once_and_again_changes_nothing() {
        use ClearingState as S;
        use ClearingStep as T;
        use StepRefused as R;
        for (state, step, balance, after) in [
            (S::Computed, T::Confirm, 0, Ok(S::Confirmed)),
            (S::Confirmed, T::Confirm, 0, Ok(S::Confirmed)),
            (S::Computed, T::Dispute, 0, Ok(S::Disputed)),
            (S::Disputed, T::Dispute, 0, Ok(S::Disputed)),
            // an institution may change its answer until the insurer approves
            (S::Disputed, T::Confirm, 0, Ok(S::Confirmed)),
            (S::Confirmed, T::Dispute, 0, Ok(S::Disputed)),
            (S::Approved, T::Confirm, 0, Err(R::AlreadyApproved)),
            (S::Paid, T::Dispute, 0, Err(R::AlreadyApproved)),
            (S::Computed, T::Approve, 0, Err(R::NotAnswered)),
            (S::Confirmed, T::Approve, 0, Ok(S::Approved)),
            (S::Disputed, T::Approve, 0, Ok(S::Approved)),
            (S::Approved, T::Approve, 0, Ok(S::Approved)),
            (S::Paid, T::Approve, 0, Ok(S::Paid)),
            (S::Confirmed, T::Settle, 5, Err(R::NotApproved)),
            (S::Approved, T::Settle, 5, Ok(S::Paid)),
            (S::Approved, T::Settle, 0, Ok(S::Paid)),
            (S::Approved, T::Settle, -5, Ok(S::Recovered)),
            (S::Recovered, T::Settle, -5, Ok(S::Recovered)),
            (S::Paid, T::Settle, 5, Ok(S::Paid)),
        ] {
            assert_eq!(next(state, step, balance), after, "{state:?} {step:?}");
        }
        assert!(may_close(&[S::Paid, S::Recovered]));
        assert!(!may_close(&[S::Paid, S::Approved]));
        for s in ClearingState::ALL {
            assert_eq!(ClearingState::parse(s.code()), Some(*s));
        }
    }
}
