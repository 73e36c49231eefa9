//! The 门特 settlement of a prescription (DOMAIN.md §6): each fee line split into what
//! the patient pays in full, what is over the price cap, the 乙类 first share and what
//! is inside the policy scope; then the year's deductible, the fund's ratio and the
//! year's cap; then the patient's share from their personal account and in cash.
//!
//! - per line: `amount = fully_self + over_cap + pre_self + in_scope`;
//! - per settlement: `total = fund + patient`, `patient = account + cash`;
//! - the deductible and the cap run per person and year; a reversal gives back
//!   exactly what the settlement took from them.
//!
//! Money is integer fen; a share is basis points, applied once to a sum and rounded half
//! up to the fen.

use crate::insurance::Policy;
use crate::pharmacy::knowledge::InsuranceClass;

/// A fee line as priced: its amount, its class, the price cap for the quantity (when
/// the list has one), and whether a restricted-use drug is covered for the patient's
/// diagnoses (限定支付范围; `true` for an unrestricted drug).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeLine {
    pub amount_fen: i64,
    pub class: InsuranceClass,
    pub cap_fen: Option<i64>,
    pub covered: bool,
}

/// How a line splits (the 2204 answer's fulamt_ownpay_amt, overlmt_amt, preselfpay_amt,
/// inscp_scp_amt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineSplit {
    pub amount_fen: i64,
    pub fully_self_fen: i64,
    pub over_cap_fen: i64,
    pub pre_self_fen: i64,
    pub in_scope_fen: i64,
}

/// What a person has used of the year's deductible and the fund's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Year {
    pub deductible_used_fen: i64,
    pub fund_paid_fen: i64,
}

/// A settlement (the 2207 answer's setlinfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    pub lines: Vec<LineSplit>,
    pub total_fen: i64,
    pub fully_self_fen: i64,
    pub over_cap_fen: i64,
    pub pre_self_fen: i64,
    pub in_scope_fen: i64,
    /// The deductible this settlement applied (act_pay_dedc).
    pub deductible_fen: i64,
    /// The pooling fund's payment (hifp_pay = fund_pay_sumamt here).
    pub fund_fen: i64,
    /// The patient's part (psn_part_amt) …
    pub patient_fen: i64,
    /// … from their personal account (acct_pay) …
    pub account_fen: i64,
    /// … and in cash (psn_cash_pay).
    pub cash_fen: i64,
    /// The person's year after this settlement.
    pub year_after: Year,
}

/// `amount × bp ÷ 10000`, rounded half up (amounts are never negative here).
pub fn share_of(amount_fen: i64, bp: i64) -> i64 {
    let exact = i128::from(amount_fen) * i128::from(bp);
    i64::try_from((exact + 5_000).div_euclid(10_000)).unwrap_or(i64::MAX)
}

/// How one line splits under `policy`.
pub fn split(line: &FeeLine, policy: &Policy) -> LineSplit {
    let amount = line.amount_fen.max(0);
    if line.class == InsuranceClass::SelfPay || !line.covered {
        return LineSplit {
            amount_fen: amount,
            fully_self_fen: amount,
            ..LineSplit::default()
        };
    }
    let over_cap = line.cap_fen.map_or(0, |cap| (amount - cap.max(0)).max(0));
    let within = amount - over_cap;
    let pre_self = match line.class {
        InsuranceClass::B => share_of(within, policy.class_b_selfpay_bp),
        _ => 0,
    };
    LineSplit {
        amount_fen: amount,
        fully_self_fen: 0,
        over_cap_fen: over_cap,
        pre_self_fen: pre_self,
        in_scope_fen: within - pre_self,
    }
}

/// Settles `lines` for a person in `year` with `account_balance_fen` in their personal
/// account (used when `use_account`).
pub fn settle(
    policy: &Policy,
    lines: &[FeeLine],
    year: Year,
    account_balance_fen: i64,
    use_account: bool,
) -> Settlement {
    let splits: Vec<LineSplit> = lines.iter().map(|l| split(l, policy)).collect();
    let sum = |f: fn(&LineSplit) -> i64| splits.iter().map(f).sum::<i64>();
    let total = sum(|s| s.amount_fen);
    let in_scope = sum(|s| s.in_scope_fen);
    let deductible_left = (policy.deductible_fen - year.deductible_used_fen).max(0);
    let deductible = in_scope.min(deductible_left);
    let cap_left = (policy.annual_cap_fen - year.fund_paid_fen).max(0);
    let fund = share_of(in_scope - deductible, policy.ratio_bp).min(cap_left);
    let patient = total - fund;
    let account = if use_account {
        patient.min(account_balance_fen.max(0))
    } else {
        0
    };
    Settlement {
        total_fen: total,
        fully_self_fen: sum(|s| s.fully_self_fen),
        over_cap_fen: sum(|s| s.over_cap_fen),
        pre_self_fen: sum(|s| s.pre_self_fen),
        in_scope_fen: in_scope,
        deductible_fen: deductible,
        fund_fen: fund,
        patient_fen: patient,
        account_fen: account,
        cash_fen: patient - account,
        year_after: Year {
            deductible_used_fen: year.deductible_used_fen + deductible,
            fund_paid_fen: year.fund_paid_fen + fund,
        },
        lines: splits,
    }
}

/// The person's year once `settlement` is reversed (2208): what it took is given back.
pub fn reverse(year: Year, settlement: &Settlement) -> Year {
    Year {
        deductible_used_fen: year.deductible_used_fen - settlement.deductible_fen,
        fund_paid_fen: year.fund_paid_fen - settlement.fund_fen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insurance::{CareLevel, InsuranceType};

    fn policy(deductible_fen: i64, ratio_bp: i64, b_bp: i64, cap_fen: i64) -> Policy {
        Policy {
            version: "t".into(),
            effective_from: time::macros::date!(2026 - 01 - 01),
            insurance: InsuranceType::Resident,
            person: None,
            level: CareLevel::Grassroots,
            disease: "hypertension".into(),
            deductible_fen,
            ratio_bp,
            class_b_selfpay_bp: b_bp,
            annual_cap_fen: cap_fen,
            source: "demo-policy".into(),
        }
    }

    fn line(amount_fen: i64, class: InsuranceClass) -> FeeLine {
        FeeLine {
            amount_fen,
            class,
            cap_fen: None,
            covered: true,
        }
    }

    /// DOMAIN.md §6 by example: the seed's patient pays about a fifth of a month's drugs.
    #[test]
    fn a_months_drugs_settle_to_the_patients_share() {
        let p = policy(0, 8000, 1000, 300_000);
        // 600 yuan of 甲类 drugs: the fund pays 480, the patient 120.
        let s = settle(
            &p,
            &[line(60_000, InsuranceClass::A)],
            Year::default(),
            0,
            false,
        );
        assert_eq!(
            (s.fund_fen, s.patient_fen, s.cash_fen),
            (48_000, 12_000, 12_000)
        );
        // A 乙类 line pays its 10 % first, then 80 % of the rest is the fund's.
        let s = settle(
            &p,
            &[line(10_000, InsuranceClass::B)],
            Year::default(),
            0,
            false,
        );
        assert_eq!(
            s.lines[0],
            LineSplit {
                amount_fen: 10_000,
                fully_self_fen: 0,
                over_cap_fen: 0,
                pre_self_fen: 1_000,
                in_scope_fen: 9_000
            }
        );
        assert_eq!((s.fund_fen, s.patient_fen), (7_200, 2_800));
        // Self-pay and a restricted drug outside its diagnoses are the patient's alone.
        let restricted = FeeLine {
            covered: false,
            ..line(5_000, InsuranceClass::A)
        };
        let s = settle(
            &p,
            &[line(3_000, InsuranceClass::SelfPay), restricted],
            Year::default(),
            0,
            false,
        );
        assert_eq!(
            (s.fully_self_fen, s.fund_fen, s.patient_fen),
            (8_000, 0, 8_000)
        );
        // Over the price cap: the excess is the patient's.
        let capped = FeeLine {
            cap_fen: Some(4_000),
            ..line(5_000, InsuranceClass::A)
        };
        let s = settle(&p, &[capped], Year::default(), 0, false);
        assert_eq!(
            (s.over_cap_fen, s.fund_fen, s.patient_fen),
            (1_000, 3_200, 1_800)
        );
    }

    #[test]
    fn the_deductible_and_cap_run_over_the_year_and_a_reversal_gives_them_back() {
        let p = policy(20_000, 7000, 1000, 50_000);
        let first = settle(
            &p,
            &[line(15_000, InsuranceClass::A)],
            Year::default(),
            0,
            false,
        );
        assert_eq!((first.deductible_fen, first.fund_fen), (15_000, 0));
        let second = settle(
            &p,
            &[line(15_000, InsuranceClass::A)],
            first.year_after,
            0,
            false,
        );
        // 5,000 of deductible left; 70 % of the other 10,000.
        assert_eq!((second.deductible_fen, second.fund_fen), (5_000, 7_000));
        let near_cap = Year {
            deductible_used_fen: 20_000,
            fund_paid_fen: 48_000,
        };
        let third = settle(&p, &[line(10_000, InsuranceClass::A)], near_cap, 0, false);
        assert_eq!((third.fund_fen, third.patient_fen), (2_000, 8_000));
        assert_eq!(third.year_after.fund_paid_fen, 50_000);
        assert_eq!(reverse(third.year_after, &third), near_cap);
        // The personal account pays first when the patient uses it.
        let s = settle(
            &p,
            &[line(10_000, InsuranceClass::A)],
            near_cap,
            5_000,
            true,
        );
        assert_eq!((s.account_fen, s.cash_fen), (5_000, 3_000));
    }

    #[test]
    fn shares_round_half_up_once() {
        assert_eq!(share_of(5, 1000), 1); // 0.5 fen → 1
        assert_eq!(share_of(4, 1000), 0);
        assert_eq!(share_of(12_345, 8000), 9_876);
        assert_eq!(share_of(0, 8000), 0);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn class() -> impl Strategy<Value = InsuranceClass> {
            prop_oneof![
                Just(InsuranceClass::A),
                Just(InsuranceClass::B),
                Just(InsuranceClass::SelfPay)
            ]
        }

        fn fee_line() -> impl Strategy<Value = FeeLine> {
            (
                0i64..5_000_000,
                class(),
                proptest::option::of(0i64..5_000_000),
                any::<bool>(),
            )
                .prop_map(|(amount_fen, class, cap_fen, covered)| FeeLine {
                    amount_fen,
                    class,
                    cap_fen,
                    covered,
                })
        }

        proptest! {
            /// DOMAIN.md §6's sums hold for any lines, policy, year and account.
            #[test]
            fn the_sums_of_domain_section_6_hold(
                lines in proptest::collection::vec(fee_line(), 0..8),
                deductible in 0i64..1_000_000,
                ratio in 0i64..=10_000,
                b_share in 0i64..=10_000,
                cap in 0i64..10_000_000,
                used in 0i64..2_000_000,
                paid in 0i64..20_000_000,
                balance in 0i64..1_000_000,
                use_account in any::<bool>(),
            ) {
                let p = policy(deductible, ratio, b_share, cap);
                let year = Year { deductible_used_fen: used, fund_paid_fen: paid };
                let s = settle(&p, &lines, year, balance, use_account);
                for (l, split) in lines.iter().zip(&s.lines) {
                    prop_assert_eq!(split.amount_fen, l.amount_fen);
                    prop_assert_eq!(l.amount_fen, split.fully_self_fen + split.over_cap_fen + split.pre_self_fen + split.in_scope_fen);
                    prop_assert!(split.fully_self_fen >= 0 && split.over_cap_fen >= 0 && split.pre_self_fen >= 0 && split.in_scope_fen >= 0);
                }
                prop_assert_eq!(s.total_fen, lines.iter().map(|l| l.amount_fen).sum::<i64>());
                prop_assert_eq!(s.total_fen, s.fund_fen + s.patient_fen);
                prop_assert_eq!(s.patient_fen, s.account_fen + s.cash_fen);
                prop_assert!(s.fund_fen >= 0 && s.account_fen >= 0 && s.cash_fen >= 0);
                prop_assert!(s.fund_fen <= s.in_scope_fen - s.deductible_fen);
                prop_assert!(s.deductible_fen <= (deductible - used).max(0));
                prop_assert!(s.fund_fen <= (cap - paid).max(0), "never past the year's cap");
                prop_assert!(s.account_fen <= balance);
                if !use_account { prop_assert_eq!(s.account_fen, 0); }
                prop_assert_eq!(reverse(s.year_after, &s), year);
            }
        }
    }
}
