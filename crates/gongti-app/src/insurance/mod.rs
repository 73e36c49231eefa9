//! 门特 insurance settlement of prescriptions (DOMAIN.md §6), through the bureau's
//! transactions (`bureau`: Gongti's built-in simulator of the bureau answers them).
//!
//! A passed prescription for a certified chronic disease is priced from the products
//! that will fill it (the pharmacy it was sent to, or the formulary's first products),
//! pre-settled (2204, 2206: the patient sees their own share) and settled (2207) only
//! for the share they were shown; it is reversed (2208) on cancellation before it is
//! filled, the year's deductible and cap given back. The prescriber or the pharmacy it
//! was sent to does it for the patient; every step is audited with the patient.

pub mod bureau;

use gongti_core::audit::Outcome;
use gongti_core::insurance::CareLevel;
use gongti_core::pharmacy::dispense::plan_fill;
use gongti_core::pharmacy::knowledge::InsuranceClass;
use gongti_core::pharmacy::prescription::RxStatus;
use gongti_core::role::Role;
use gongti_store::{Page, SettlementRecord};
use serde_json::{Value, json};

use crate::{App, AppError, AppResult, Ctx};
use bureau::{BureauSimulator, class_code, fen, yuan};

/// A fee line as priced for the bureau, with its split once the bureau answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub product_code: String,
    pub name: String,
    pub packs: u32,
    pub amount_fen: i64,
    pub class: &'static str,
    pub fully_self_fen: i64,
    pub over_cap_fen: i64,
    pub pre_self_fen: i64,
    pub in_scope_fen: i64,
}

/// What the bureau answered to a pre-settlement or a settlement, in fen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementAnswer {
    pub disease: String,
    pub policy_version: String,
    pub lines: Vec<PricedLine>,
    pub total_fen: i64,
    pub deductible_fen: i64,
    pub fund_fen: i64,
    pub patient_fen: i64,
    pub account_fen: i64,
    pub cash_fen: i64,
    /// The settlement's id at the bureau (2207 only).
    pub setl_id: Option<String>,
}

/// A resident's insurance: the person, their certifications, their settlements.
#[derive(Debug, Clone)]
pub struct ResidentInsurance {
    /// Whether the reader may see identifiers (the person number) unmasked.
    pub identifiers: bool,
    pub insured: Option<gongti_store::InsuredPerson>,
    pub certifications: Vec<gongti_store::Certification>,
    pub settlements: Vec<SettlementRecord>,
}

/// The chronic programme an ICD-10 code belongs to, for 门特 (I10–I15 hypertension,
/// E11 type 2 diabetes).
pub fn chronic_disease_of(icd10: &str) -> Option<&'static str> {
    let code = icd10.trim().to_ascii_uppercase();
    if ["I10", "I11", "I12", "I13", "I15"]
        .iter()
        .any(|p| code.starts_with(p))
    {
        Some("hypertension")
    } else if code.starts_with("E11") {
        Some("diabetes")
    } else {
        None
    }
}

impl App {
    fn bureau(&self) -> BureauSimulator {
        BureauSimulator::new(self.store.clone())
    }

    /// The bureau's common input for a prescription, and its priced lines; refused
    /// (audited on `entry`) when the prescription cannot be settled by the viewer.
    async fn settlement_input(
        &self,
        ctx: &Ctx,
        id: i64,
        entry: &mut gongti_core::audit::AuditEntry,
        use_account: bool,
    ) -> AppResult<(Value, Vec<PricedLine>)> {
        let record = self.rx_record(id, entry).await?;
        let routed = record.pharmacy_id;
        let p = &ctx.principal;
        let allowed = p.scopes.is_none()
            && (record.prescriber_staff_id == p.staff_id
                || (p.role == Role::Pharmacist && routed.is_some() && routed == p.institution_id));
        if !allowed {
            return Err(self.refuse(entry.clone(), AppError::Forbidden).await);
        }
        self.priced_input(record, entry, use_account).await
    }

    /// The bureau's common input for a prescription whose access was decided.
    pub(crate) async fn priced_input(
        &self,
        record: gongti_store::PrescriptionRecord,
        entry: &mut gongti_core::audit::AuditEntry,
        use_account: bool,
    ) -> AppResult<(Value, Vec<PricedLine>)> {
        let id = record.id;
        let routed = record.pharmacy_id;
        match RxStatus::parse(&record.status) {
            Some(RxStatus::Passed) => {}
            Some(RxStatus::Dispensed) => {
                return Err(self
                    .refuse(entry.clone(), AppError::Conflict("already_dispensed"))
                    .await);
            }
            _ => {
                return Err(self
                    .refuse(entry.clone(), AppError::Conflict("prescription_not_passed"))
                    .await);
            }
        }
        let view = self.prescription_unaudited(id).await?;
        // Never settled once it can no longer be filled.
        let issued_on = crate::readings::local_day(view.content.issued_at_us);
        if gongti_core::pharmacy::dispense::last_valid_day(issued_on, view.content.validity_days)
            < self.today()
        {
            return Err(self
                .refuse(entry.clone(), AppError::Conflict("prescription_expired"))
                .await);
        }
        let Some(disease) = view
            .content
            .diagnoses
            .iter()
            .find_map(|d| chronic_disease_of(d))
        else {
            return Err(self
                .refuse(
                    entry.clone(),
                    AppError::Conflict("no_chronic_certification"),
                )
                .await);
        };
        let level = CareLevel::of(self.store.institution(record.institution_id).await?.kind);
        // The products that will fill it: the pharmacy's, or the formulary's first.
        let stock = match routed {
            Some(pharmacy) => Some(self.store.stock(pharmacy).await?),
            None => None,
        };
        let on_hand = |code: &str| match &stock {
            Some(s) => s
                .iter()
                .find(|x| x.product_code == code)
                .map_or(0, |x| x.on_hand_packs),
            None => i64::MAX / 4,
        };
        let kb = self.knowledge();
        let plan = match plan_fill(kb, &view.content.lines, &on_hand) {
            Ok(plan) => plan,
            Err(_) => {
                return Err(self
                    .refuse(entry.clone(), AppError::Conflict("out_of_stock"))
                    .await);
            }
        };
        let now = self.now();
        let person = match self
            .bureau()
            .call(
                "1101",
                &json!({"psn_cert_type": "01", "certno": record.resident_id.to_string()}),
                now,
                &[],
            )
            .await
        {
            Ok(v) => v,
            Err(e @ AppError::Conflict(_)) => return Err(self.refuse(entry.clone(), e).await),
            Err(e) => return Err(e),
        };
        let priced: Vec<PricedLine> = plan
            .iter()
            .map(|f| {
                let product = kb.product(&f.product_code);
                PricedLine {
                    product_code: f.product_code.clone(),
                    name: product.map_or_else(|| f.product_code.clone(), |p| p.name_zh.clone()),
                    packs: f.packs,
                    amount_fen: f.amount_fen,
                    class: class_code(
                        product.map_or(InsuranceClass::SelfPay, |p| p.insurance_class),
                    ),
                    fully_self_fen: 0,
                    over_cap_fen: 0,
                    pre_self_fen: 0,
                    in_scope_fen: 0,
                }
            })
            .collect();
        let total: i64 = priced.iter().map(|l| l.amount_fen).sum();
        let input = json!({
            "psn_no": person["baseinfo"]["psn_no"],
            "insutype": person["insuinfo"][0]["insutype"],
            "fixmedins_code": record.institution_id.to_string(),
            "fixmedins_level": level.code(),
            "dise_codg": disease,
            "rxno": id.to_string(),
            "medfee_sumamt": yuan(total),
            "acct_used_flag": if use_account { "1" } else { "0" },
            "feedetail": priced.iter().enumerate().map(|(i, l)| json!({
                "feedetl_sn": format!("{id}-{}", i + 1),
                "med_list_codg": l.product_code,
                "cnt": l.packs,
                "det_item_fee_sumamt": yuan(l.amount_fen),
                "chrgitm_lv": l.class,
                "hosp_appr_flag": "1",
                "rx_circ_flag": if routed.is_some() { "1" } else { "0" },
            })).collect::<Vec<_>>(),
        });
        Ok((input, priced))
    }

    /// Reads the bureau's 2204 and 2206/2207 answers into an answer in fen.
    fn answer_of(
        input: &Value,
        mut lines: Vec<PricedLine>,
        splits: &Value,
        settled: &Value,
    ) -> AppResult<SettlementAnswer> {
        let money = |v: &Value| -> AppResult<i64> {
            v.as_str().and_then(fen).ok_or_else(|| {
                anyhow::anyhow!("the bureau's answer has no money where expected").into()
            })
        };
        for (line, split) in lines
            .iter_mut()
            .zip(splits["result"].as_array().cloned().unwrap_or_default())
        {
            line.fully_self_fen = money(&split["fulamt_ownpay_amt"])?;
            line.over_cap_fen = money(&split["overlmt_amt"])?;
            line.pre_self_fen = money(&split["preselfpay_amt"])?;
            line.in_scope_fen = money(&split["inscp_scp_amt"])?;
        }
        let info = &settled["setlinfo"];
        Ok(SettlementAnswer {
            disease: input["dise_codg"].as_str().unwrap_or_default().to_owned(),
            policy_version: settled["policy_version"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            lines,
            total_fen: money(&info["medfee_sumamt"])?,
            deductible_fen: money(&info["act_pay_dedc"])?,
            fund_fen: money(&info["fund_pay_sumamt"])?,
            patient_fen: money(&info["psn_part_amt"])?,
            account_fen: money(&info["acct_pay"])?,
            cash_fen: money(&info["psn_cash_pay"])?,
            setl_id: info["setl_id"].as_str().map(str::to_owned),
        })
    }

    /// 预结算: what the fund pays and what the patient pays for a passed prescription,
    /// nothing kept (audited `insurance.presettle`).
    pub async fn presettle_prescription(
        &self,
        ctx: &Ctx,
        id: i64,
        use_account: bool,
    ) -> AppResult<SettlementAnswer> {
        let mut entry = self.rx_entry(ctx, "insurance.presettle", Outcome::Ok);
        entry.resource_type = "Claim".into();
        entry.resource_id = Some(id.to_string());
        let (input, lines) = self
            .settlement_input(ctx, id, &mut entry, use_account)
            .await?;
        self.presettle_with(entry, input, lines).await
    }

    /// 2204 and 2206 for a priced input, audited on `entry`.
    pub(crate) async fn presettle_with(
        &self,
        mut entry: gongti_core::audit::AuditEntry,
        input: Value,
        lines: Vec<PricedLine>,
    ) -> AppResult<SettlementAnswer> {
        let now = self.now();
        let bureau = self.bureau();
        let answer = async {
            let splits = bureau.call("2204", &input, now, &[]).await?;
            let pre = bureau.call("2206", &input, now, &[]).await?;
            Self::answer_of(&input, lines, &splits, &pre)
        }
        .await;
        match answer {
            Ok(a) => {
                entry.detail = Some(format!("patient_fen={}", a.patient_fen));
                self.audit.record(vec![entry]).await?;
                Ok(a)
            }
            Err(e @ AppError::Conflict(_)) => Err(self.refuse(entry, e).await),
            Err(e) => Err(e),
        }
    }

    /// 结算: settles a passed prescription for the share the patient was shown
    /// (`expected_cash_fen`; 409 `settlement_changed` when it moved meanwhile). Audited
    /// `insurance.settle` with the settlement.
    pub async fn settle_prescription(
        &self,
        ctx: &Ctx,
        id: i64,
        use_account: bool,
        expected_cash_fen: i64,
    ) -> AppResult<SettlementAnswer> {
        let mut entry = self.rx_entry(ctx, "insurance.settle", Outcome::Ok);
        entry.resource_type = "Claim".into();
        entry.resource_id = Some(id.to_string());
        let (input, lines) = self
            .settlement_input(ctx, id, &mut entry, use_account)
            .await?;
        self.settle_with(entry, input, lines, expected_cash_fen)
            .await
    }

    /// 2204, 2206 and 2207 for a priced input, settled only at `expected_cash_fen`,
    /// audited on `entry` with the settlement.
    pub(crate) async fn settle_with(
        &self,
        entry: gongti_core::audit::AuditEntry,
        mut input: Value,
        lines: Vec<PricedLine>,
        expected_cash_fen: i64,
    ) -> AppResult<SettlementAnswer> {
        let id = input["rxno"].as_str().unwrap_or_default().to_owned();
        let now = self.now();
        let bureau = self.bureau();
        let result = async {
            let splits = bureau.call("2204", &input, now, &[]).await?;
            let pre = bureau.call("2206", &input, now, &[]).await?;
            let shown = Self::answer_of(&input, lines.clone(), &splits, &pre)?;
            if shown.cash_fen != expected_cash_fen {
                return Err(AppError::Conflict("settlement_changed"));
            }
            input["msgid"] = json!(format!("{id:0>12}{}", crate::unix_us(now)));
            // The bureau settles only at the share shown, whatever moved since 2206.
            input["expected_psn_cash_pay"] = json!(yuan(expected_cash_fen));
            let mut audited = entry.clone();
            audited.detail = Some(format!(
                "total_fen={};fund_fen={};cash_fen={}",
                shown.total_fen, shown.fund_fen, shown.cash_fen
            ));
            let settled = bureau.call("2207", &input, now, &[audited]).await?;
            Self::answer_of(&input, lines, &splits, &settled)
        }
        .await;
        match result {
            Ok(a) => {
                self.audit.flush().await?;
                Ok(a)
            }
            Err(e @ AppError::Conflict(_)) => Err(self.refuse(entry, e).await),
            Err(e) => Err(e),
        }
    }

    /// 冲销: reverses a prescription's settlement before it is filled (audited
    /// `insurance.reverse`).
    pub async fn reverse_prescription_settlement(&self, ctx: &Ctx, id: i64) -> AppResult<()> {
        let mut entry = self.rx_entry(ctx, "insurance.reverse", Outcome::Ok);
        entry.resource_type = "Claim".into();
        entry.resource_id = Some(id.to_string());
        let record = self.rx_record(id, &mut entry).await?;
        if record.prescriber_staff_id != ctx.principal.staff_id || ctx.principal.scopes.is_some() {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        self.reverse_settlement_of(id, entry).await
    }

    /// Reverses the settlement in force (if any) through the bureau, audited on `entry`.
    pub(crate) async fn reverse_settlement_of(
        &self,
        id: i64,
        entry: gongti_core::audit::AuditEntry,
    ) -> AppResult<()> {
        match self
            .bureau()
            .call(
                "2208",
                &json!({"rxno": id.to_string()}),
                self.now(),
                std::slice::from_ref(&entry),
            )
            .await
        {
            Ok(_) => self.audit.flush().await,
            Err(e @ AppError::Conflict(_)) => Err(self.refuse(entry, e).await),
            Err(e) => Err(e),
        }
    }

    /// A prescription's settlements (its readers'), the newest first.
    pub async fn prescription_settlements(
        &self,
        ctx: &Ctx,
        id: i64,
    ) -> AppResult<Vec<SettlementRecord>> {
        // Reading the prescription decides access and audits the read.
        self.prescription(ctx, id).await?;
        Ok(self.store.settlements_of(id).await?)
    }

    /// One settlement, for whoever may read its prescription (that read decides
    /// access and is audited).
    pub async fn settlement(
        &self,
        ctx: &Ctx,
        id: i64,
    ) -> AppResult<(SettlementRecord, crate::pharmacy::PrescriptionView)> {
        let record = self.store.settlement(id).await?;
        let prescription = self.prescription(ctx, record.prescription_id).await?;
        Ok((record, prescription))
    }

    /// A resident's insurance as the bureau's simulator keeps it: the insured person
    /// (if insured), their 门特 certifications and their settlements, the newest first
    /// — for whoever may read the resident's record. Audited.
    pub async fn resident_insurance(
        &self,
        ctx: &Ctx,
        resident_id: i64,
    ) -> AppResult<ResidentInsurance> {
        let (view, mut entry) = self
            .reach(
                ctx,
                resident_id,
                gongti_core::access::PatientAction::Read,
                "insurance.read",
                None,
            )
            .await?;
        entry.resource_type = "Coverage".into();
        let insured = self.store.insured(resident_id).await?;
        let certifications = self.store.certifications(resident_id).await?;
        let settlements = self.store.resident_settlements(resident_id).await?;
        entry.detail = Some(format!("{} settlements", settlements.len()));
        self.audit.record(vec![entry]).await?;
        Ok(ResidentInsurance {
            identifiers: gongti_core::access::may_see_identifiers(view.basis),
            insured,
            certifications,
            settlements,
        })
    }

    /// Every settlement, the newest first, for the insurance officer and the city's:
    /// figures without names (DOMAIN.md §10). The listing is audited.
    pub async fn settlement_list(
        &self,
        ctx: &Ctx,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<SettlementRecord>> {
        let mut entry = self.rx_entry(ctx, "insurance.list", Outcome::Ok);
        entry.resource_type = "Claim".into();
        if !matches!(
            ctx.principal.role,
            Role::InsuranceOfficer | Role::CityOfficer
        ) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let page = self.store.settlements(after, limit).await?;
        entry.detail = Some(format!("{} listed", page.items.len()));
        self.audit.record(vec![entry]).await?;
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnosis_names_its_chronic_programme() {
        assert_eq!(chronic_disease_of("I10"), Some("hypertension"));
        assert_eq!(chronic_disease_of("i11.9"), Some("hypertension"));
        assert_eq!(chronic_disease_of("E11.900"), Some("diabetes"));
        assert_eq!(chronic_disease_of("E10"), None);
        assert_eq!(chronic_disease_of("J45"), None);
    }
}
