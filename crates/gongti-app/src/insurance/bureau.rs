//! The built-in **simulator of the insurance bureau** (医保局模拟器, DOMAIN.md §6). It
//! answers the national platform's transactions in their shapes (infno and the fields of
//! reference/pharmacy.md §1.5.3: amounts in yuan with two decimals) from the versioned
//! policy (`gongti_core::insurance`) and the persons, years and settlements it keeps in
//! the store. Gongti talks to it through `call`, as it would talk to the real platform
//! through an adapter: 1101 person, 2201 register, 2203 visit, 2204 fee lines, 2206
//! pre-settle, 2207 settle, 2208 reverse. It is a simulator: never a real bureau.

use gongti_core::audit::AuditEntry;
use gongti_core::insurance::settle::{FeeLine, Settlement, Year, settle};
use gongti_core::insurance::{
    CareLevel, InsuranceType, PersonType, Policy, PolicyKey, PolicyTable,
};
use gongti_core::pharmacy::knowledge::InsuranceClass;
use gongti_store::{NewSettlement, SettleOutcome, SettlementFigures, Store};
use serde_json::{Value, json};

use crate::{AppError, AppResult};

/// Fen as the platform writes money: yuan with two decimals.
pub use gongti_core::money::yuan;

/// The platform's money back to fen (`None` unless it is yuan with at most two
/// decimals).
pub fn fen(text: &str) -> Option<i64> {
    let (whole, cents) = match text.split_once('.') {
        Some((w, c)) if (1..=2).contains(&c.len()) => (w, format!("{c:0<2}")),
        None => (text, "00".to_owned()),
        _ => return None,
    };
    let whole: i64 = whole.parse().ok()?;
    let cents: i64 = cents.parse().ok()?;
    Some(whole * 100 + cents)
}

/// 医保目录类别 as the platform codes a line's chrgitm_lv.
pub fn class_code(c: InsuranceClass) -> &'static str {
    match c {
        InsuranceClass::A => "01",
        InsuranceClass::B => "02",
        InsuranceClass::SelfPay => "03",
    }
}

fn class_of(code: &str) -> Option<InsuranceClass> {
    match code {
        "01" => Some(InsuranceClass::A),
        "02" => Some(InsuranceClass::B),
        "03" => Some(InsuranceClass::SelfPay),
        _ => None,
    }
}

/// The simulator, over the store it keeps its ledger in.
#[derive(Clone)]
pub struct BureauSimulator {
    store: Store,
}

impl std::fmt::Debug for BureauSimulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BureauSimulator").finish_non_exhaustive()
    }
}

fn refused(code: &'static str) -> AppError {
    AppError::Conflict(code)
}

fn text<'a>(input: &'a Value, field: &str) -> AppResult<&'a str> {
    input[field]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("bureau message without `{field}`").into())
}

impl BureauSimulator {
    pub fn new(store: Store) -> BureauSimulator {
        BureauSimulator { store }
    }

    /// Answers one transaction. `now` is the transaction time (inf_time); `audit` are
    /// the audit records committed with what a settling transaction (2207, 2208) keeps.
    pub async fn call(
        &self,
        infno: &str,
        input: &Value,
        now: time::OffsetDateTime,
        audit: &[AuditEntry],
    ) -> AppResult<Value> {
        match infno {
            "1101" => self.person(input).await,
            "2201" => Ok(
                json!({"mdtrt_id": format!("SIM{}", text(input, "ipt_otp_no")?), "psn_no": input["psn_no"]}),
            ),
            "2203" => Ok(json!({})),
            "2204" => self.fee_lines(input, now).await,
            "2206" => self.presettle(input, now).await,
            "2207" => self.settle(input, now, audit).await,
            "2208" => self.reverse(input, now, audit).await,
            _ => Err(anyhow::anyhow!("the bureau simulator does not answer {infno}").into()),
        }
    }

    /// 1101: the person's insurance (`certno` here is Gongti's resident id).
    async fn person(&self, input: &Value) -> AppResult<Value> {
        let resident_id: i64 = text(input, "certno")?
            .parse()
            .map_err(|_| anyhow::anyhow!("1101 certno is not a resident id"))?;
        let Some(p) = self.store.insured(resident_id).await? else {
            return Err(refused("not_insured"));
        };
        let insutype = InsuranceType::parse(&p.insutype).unwrap_or(InsuranceType::Resident);
        Ok(json!({
            "baseinfo": {"psn_no": p.psn_no, "certno": resident_id.to_string()},
            "insuinfo": [{
                "balc": yuan(p.account_balance_fen),
                "insutype": insutype.national_code(),
                "psn_type": p.psn_type,
                "psn_insu_stas": "1",
            }],
            "mdtrt_certs": self.store.certifications(resident_id).await?.iter().map(|c| json!({
                "opsp_dise_cod": c.disease, "begndate": c.valid_from.to_string(), "enddate": c.valid_until.to_string(),
            })).collect::<Vec<_>>(),
        }))
    }

    /// The policy for a message's person, institution level and disease, on its day,
    /// with the insured person it names.
    async fn policy(
        &self,
        input: &Value,
        now: time::OffsetDateTime,
    ) -> AppResult<(&'static Policy, gongti_store::InsuredPerson)> {
        let Some(p) = self.store.insured_by_psn_no(text(input, "psn_no")?).await? else {
            return Err(refused("not_insured"));
        };
        let resident_id = p.resident_id;
        let insurance = InsuranceType::parse(&p.insutype).unwrap_or(InsuranceType::Resident);
        let person = PersonType::parse(&p.psn_type).unwrap_or(PersonType::Working);
        let level = CareLevel::parse(text(input, "fixmedins_level")?)
            .ok_or_else(|| anyhow::anyhow!("unknown level"))?;
        let disease = text(input, "dise_codg")?;
        let day = now.to_offset(crate::DISPLAY_OFFSET).date();
        let certified = self
            .store
            .certifications(resident_id)
            .await?
            .iter()
            .any(|c| c.disease == disease && c.valid_from <= day && day <= c.valid_until);
        if !certified {
            return Err(refused("no_chronic_certification"));
        }
        let policy = PolicyTable::builtin()
            .find(&PolicyKey {
                insurance,
                person,
                level,
                disease,
                on: day,
            })
            .ok_or(refused("no_policy"))?;
        Ok((policy, p))
    }

    fn lines_of(input: &Value) -> AppResult<Vec<FeeLine>> {
        input["feedetail"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("no feedetail"))?
            .iter()
            .map(|l| {
                let amount = fen(l["det_item_fee_sumamt"].as_str().unwrap_or(""))
                    .ok_or_else(|| anyhow::anyhow!("det_item_fee_sumamt is not money"))?;
                let class = class_of(l["chrgitm_lv"].as_str().unwrap_or(""))
                    .ok_or_else(|| anyhow::anyhow!("chrgitm_lv unknown"))?;
                Ok(FeeLine {
                    amount_fen: amount,
                    class,
                    cap_fen: l["pric_uplmt_amt"].as_str().and_then(fen),
                    // hosp_appr_flag 2: not covered (restricted use outside its diagnoses).
                    covered: l["hosp_appr_flag"].as_str() != Some("2"),
                })
            })
            .collect()
    }

    async fn compute(
        &self,
        input: &Value,
        now: time::OffsetDateTime,
    ) -> AppResult<(Settlement, &'static Policy, i64, (i64, i64))> {
        let (policy, person) = self.policy(input, now).await?;
        let (resident_id, balance) = (person.resident_id, person.account_balance_fen);
        let lines = Self::lines_of(input)?;
        let year = now.to_offset(crate::DISPLAY_OFFSET).year();
        let (used, paid) = self.store.insurance_year(resident_id, year).await?;
        let use_account = input["acct_used_flag"].as_str() == Some("1");
        let s = settle(
            policy,
            &lines,
            Year {
                deductible_used_fen: used,
                fund_paid_fen: paid,
            },
            balance,
            use_account,
        );
        Ok((s, policy, resident_id, (used, paid)))
    }

    /// 2204: each fee line's split.
    async fn fee_lines(&self, input: &Value, now: time::OffsetDateTime) -> AppResult<Value> {
        let (s, policy, _, _) = self.compute(input, now).await?;
        let lines = input["feedetail"].as_array().cloned().unwrap_or_default();
        Ok(
            json!({"result": s.lines.iter().zip(&lines).map(|(split, l)| json!({
            "feedetl_sn": l["feedetl_sn"],
            "det_item_fee_sumamt": yuan(split.amount_fen),
            "fulamt_ownpay_amt": yuan(split.fully_self_fen),
            "overlmt_amt": yuan(split.over_cap_fen),
            "preselfpay_amt": yuan(split.pre_self_fen),
            "inscp_scp_amt": yuan(split.in_scope_fen),
            "selfpay_prop": if l["chrgitm_lv"] == class_code(InsuranceClass::B) { format!("{:.2}", policy.class_b_selfpay_bp as f64 / 10_000.0) } else { "0.00".into() },
        })).collect::<Vec<_>>()}),
        )
    }

    fn setlinfo(s: &Settlement, balance_after_fen: i64) -> Value {
        json!({
            "medfee_sumamt": yuan(s.total_fen),
            "fulamt_ownpay_amt": yuan(s.fully_self_fen),
            "overlmt_selfpay": yuan(s.over_cap_fen),
            "preselfpay_amt": yuan(s.pre_self_fen),
            "inscp_scp_amt": yuan(s.in_scope_fen),
            "act_pay_dedc": yuan(s.deductible_fen),
            "hifp_pay": yuan(s.fund_fen),
            "fund_pay_sumamt": yuan(s.fund_fen),
            "psn_part_amt": yuan(s.patient_fen),
            "acct_pay": yuan(s.account_fen),
            "psn_cash_pay": yuan(s.cash_fen),
            "balc": yuan(balance_after_fen),
        })
    }

    /// 2206: the settlement as it would be, nothing kept.
    async fn presettle(&self, input: &Value, now: time::OffsetDateTime) -> AppResult<Value> {
        let (s, policy, resident_id, _) = self.compute(input, now).await?;
        let balance = self
            .store
            .insured(resident_id)
            .await?
            .map_or(0, |p| p.account_balance_fen);
        Ok(
            json!({"setlinfo": Self::setlinfo(&s, balance - s.account_fen), "policy_version": policy.version}),
        )
    }

    /// 2207: the settlement, kept with the year and the account moved.
    async fn settle(
        &self,
        input: &Value,
        now: time::OffsetDateTime,
        audit: &[AuditEntry],
    ) -> AppResult<Value> {
        let (s, policy, resident_id, before) = self.compute(input, now).await?;
        if input["expected_psn_cash_pay"]
            .as_str()
            .and_then(fen)
            .is_some_and(|expected| expected != s.cash_fen)
        {
            return Err(refused("settlement_changed"));
        }
        let prescription_id: i64 = text(input, "rxno")?
            .parse()
            .map_err(|_| anyhow::anyhow!("2207 rxno is not a prescription id"))?;
        let msgid = text(input, "msgid")?;
        let setl_id = format!("SIMSETL{msgid}");
        let lines = json!(s.lines.iter().zip(input["feedetail"].as_array().cloned().unwrap_or_default()).map(|(split, l)| json!({
            "med_list_codg": l["med_list_codg"], "cnt": l["cnt"], "amount_fen": split.amount_fen,
            "fully_self_fen": split.fully_self_fen, "over_cap_fen": split.over_cap_fen,
            "pre_self_fen": split.pre_self_fen, "in_scope_fen": split.in_scope_fen,
        })).collect::<Vec<_>>()).to_string();
        let outcome = self
            .store
            .record_settlement(
                &NewSettlement {
                    setl_id: &setl_id,
                    prescription_id,
                    resident_id,
                    disease: text(input, "dise_codg")?,
                    year: now.to_offset(crate::DISPLAY_OFFSET).year(),
                    policy_version: &policy.version,
                    figures: SettlementFigures {
                        total_fen: s.total_fen,
                        fully_self_fen: s.fully_self_fen,
                        over_cap_fen: s.over_cap_fen,
                        pre_self_fen: s.pre_self_fen,
                        in_scope_fen: s.in_scope_fen,
                        deductible_fen: s.deductible_fen,
                        fund_fen: s.fund_fen,
                        account_fen: s.account_fen,
                        cash_fen: s.cash_fen,
                    },
                    year_before: before,
                    lines: &lines,
                    now_us: crate::unix_us(now),
                },
                audit,
            )
            .await?;
        match outcome {
            SettleOutcome::Settled => {}
            SettleOutcome::AlreadySettled => return Err(refused("already_settled")),
            SettleOutcome::YearChanged => return Err(refused("settlement_changed")),
            SettleOutcome::AccountShort => return Err(refused("settlement_changed")),
            SettleOutcome::NotSettleable => return Err(refused("prescription_not_passed")),
        }
        let balance = self
            .store
            .insured(resident_id)
            .await?
            .map_or(0, |p| p.account_balance_fen);
        let mut info = Self::setlinfo(&s, balance);
        info["setl_id"] = json!(setl_id);
        Ok(json!({"setlinfo": info, "policy_version": policy.version}))
    }

    /// 2208: the settlement in force for a prescription (`rxno`) reversed.
    async fn reverse(
        &self,
        input: &Value,
        now: time::OffsetDateTime,
        audit: &[AuditEntry],
    ) -> AppResult<Value> {
        let prescription_id: i64 = text(input, "rxno")?
            .parse()
            .map_err(|_| anyhow::anyhow!("2208 rxno is not a prescription id"))?;
        match self
            .store
            .reverse_settlement(prescription_id, crate::unix_us(now), audit)
            .await
        {
            Ok(Some(s)) => Ok(
                json!({"setlinfo": {"setl_id": s.setl_id, "medfee_sumamt": yuan(-s.figures.total_fen), "fund_pay_sumamt": yuan(-s.figures.fund_fen), "psn_cash_pay": yuan(-s.figures.cash_fen), "acct_pay": yuan(-s.figures.account_fen)}}),
            ),
            Ok(None) => Err(refused("not_settled")),
            Err(gongti_store::StoreError::Changed(_)) => Err(refused("already_dispensed")),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_goes_to_yuan_and_back() {
        for f in [0, 1, 99, 100, 12_345, 48_000] {
            assert_eq!(fen(&yuan(f)), Some(f));
        }
        assert_eq!(yuan(12_005), "120.05");
        assert_eq!(fen("12.5"), Some(1_250));
        assert_eq!(fen("1.234"), None);
        assert_eq!(fen("x"), None);
    }
}
