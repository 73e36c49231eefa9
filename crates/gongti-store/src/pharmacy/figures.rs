//! What the cloud pharmacy's figures read (`gongti_core::pharmacy::figures`): the
//! prescriptions, online visits and 门特 settlements of a scope and window, each with
//! its patient for the lists. A prescription or visit is in a scope by the institution
//! that issued or was asked; a settlement by its prescription's institution.

use gongti_core::pharmacy::figures::{Decision, DeliveryEnd, RxFact, SettlementFact, VisitFact};
use gongti_core::pharmacy::visit::VisitStatus;
use gongti_core::{IdNumber, Sex};
use time::Date;

use crate::referral_figures::scope_sql;
use crate::row::{RowExt, trusted};
use crate::{IndicatorScope, Result, Store, StoreError, on_read};

/// How far before the window a prescription's issue is looked for, when its review or
/// delivery falls in the window: 90 days, in µs.
pub const RX_LOOKBACK_US: i64 = 90 * 86_400 * 1_000_000;

/// The patient a fact is about, for the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactPatient {
    pub resident_id: i64,
    pub name: String,
    pub id_number: IdNumber,
    pub sex: Sex,
    pub birth_date: Date,
    pub institution_id: i64,
    pub institution_name: String,
}

/// A prescription's fact with its patient and its first version's findings (JSON, as
/// kept) for the caller to read the codes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxFactRow {
    pub fact: RxFact,
    pub first_findings: Option<String>,
    pub patient: FactPatient,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitFactRow {
    pub fact: VisitFact,
    pub patient: FactPatient,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementFactRow {
    pub id: i64,
    pub fact: SettlementFact,
    pub patient: FactPatient,
}

/// The facts of a window, read together.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PharmacyFacts {
    pub prescriptions: Vec<RxFactRow>,
    pub visits: Vec<VisitFactRow>,
    pub settlements: Vec<SettlementFactRow>,
}

const PATIENT_COLUMNS: &str =
    "r.name, r.id_number, r.sex, r.birth_date, i.id AS institution_id, i.name AS institution_name";

impl Store {
    fn fact_patient(&self, row: &impl RowExt, resident_id: i64) -> Result<FactPatient> {
        Ok(FactPatient {
            resident_id,
            name: row.text("name")?,
            id_number: crate::residents::stored_id_number(&self.keys, row)?,
            sex: Sex::from_code(&row.text("sex")?)
                .ok_or_else(|| StoreError::Corrupt("sex".into()))?,
            birth_date: row.date("birth_date")?,
            institution_id: row.i64("institution_id")?,
            institution_name: row.text("institution_name")?,
        })
    }

    /// The prescriptions (issued from `RX_LOOKBACK_US` before the window), online
    /// visits (asked in it) and 门特 settlements in force (made in it) of a scope;
    /// `month_of` gives a settlement's local month as `YYYYMM`.
    pub async fn pharmacy_facts(
        &self,
        scope: &IndicatorScope,
        from_us: i64,
        to_us: i64,
        month_of: impl Fn(i64) -> u32,
    ) -> Result<PharmacyFacts> {
        let (filter, institution, district) = scope_sql(scope, "i", "i");
        let first_step = "FROM prescription_steps s WHERE s.prescription_id = p.id
            AND s.step IN ('pass', 'return', 'refuse') ORDER BY s.id LIMIT 1";
        let ended = "FROM prescription_fill_events e WHERE e.prescription_id = p.id
            AND e.status IN ('delivered', 'failed') ORDER BY e.id LIMIT 1";
        let rx_sql = format!(
            "SELECT p.id, p.issued_at_us, p.resident_id, {PATIENT_COLUMNS},
                (SELECT s.step {first_step}) AS first_step,
                (SELECT s.at_us {first_step}) AS first_at_us,
                (SELECT v.findings FROM prescription_versions v WHERE v.prescription_id = p.id AND v.version = 1) AS findings,
                (SELECT f.dispensed_at_us FROM prescription_fills f WHERE f.prescription_id = p.id AND f.fulfilment = 'delivery') AS dispensed_at_us,
                (SELECT e.status {ended}) AS end_status,
                (SELECT e.at_us {ended}) AS end_at_us
             FROM prescriptions p JOIN residents r ON r.id = p.resident_id JOIN institutions i ON i.id = p.institution_id
             WHERE {filter} AND p.issued_at_us >= $3 AND p.issued_at_us < $4 ORDER BY p.id"
        );
        let visit_sql = format!(
            "SELECT v.id, v.requested_at_us, v.status, v.resident_id, {PATIENT_COLUMNS}
             FROM online_visits v JOIN residents r ON r.id = v.resident_id JOIN institutions i ON i.id = v.institution_id
             WHERE {filter} AND v.requested_at_us >= $3 AND v.requested_at_us < $4 ORDER BY v.id"
        );
        let settlement_sql = format!(
            "SELECT s.id, s.resident_id, s.total_fen, s.account_fen + s.cash_fen AS self_fen, s.settled_at_us, {PATIENT_COLUMNS}
             FROM insurance_settlements s JOIN prescriptions p ON p.id = s.prescription_id
             JOIN residents r ON r.id = s.resident_id JOIN institutions i ON i.id = p.institution_id
             WHERE {filter} AND s.status = 'settled' AND s.settled_at_us >= $3 AND s.settled_at_us < $4 ORDER BY s.id"
        );
        let mut facts = PharmacyFacts::default();
        on_read!(self, pool => {
            for row in sqlx::query(trusted(&rx_sql))
                .bind(institution).bind(&district).bind(from_us - RX_LOOKBACK_US).bind(to_us)
                .fetch_all(pool).await?
                .iter()
            {
                let first_decision = match (row.opt_text("first_step")?, row.opt_i64("first_at_us")?) {
                    (Some(step), Some(at)) => Decision::parse(&step).map(|d| (d, at)),
                    _ => None,
                };
                let end = match (row.opt_text("end_status")?, row.opt_i64("end_at_us")?) {
                    (Some(status), Some(at_us)) => Some(DeliveryEnd { delivered: status == "delivered", at_us }),
                    _ => None,
                };
                let resident_id = row.i64("resident_id")?;
                facts.prescriptions.push(RxFactRow {
                    fact: RxFact {
                        id: row.i64("id")?,
                        issued_at_us: row.i64("issued_at_us")?,
                        first_decision,
                        first_codes: Vec::new(),
                        delivery: row.opt_i64("dispensed_at_us")?.map(|d| (d, end)),
                    },
                    first_findings: row.opt_text("findings")?,
                    patient: self.fact_patient(row, resident_id)?,
                });
            }
            for row in sqlx::query(trusted(&visit_sql))
                .bind(institution).bind(&district).bind(from_us).bind(to_us)
                .fetch_all(pool).await?
                .iter()
            {
                let resident_id = row.i64("resident_id")?;
                facts.visits.push(VisitFactRow {
                    fact: VisitFact {
                        id: row.i64("id")?,
                        requested_at_us: row.i64("requested_at_us")?,
                        status: VisitStatus::parse(&row.text("status")?)
                            .ok_or_else(|| StoreError::Corrupt("online visit status".into()))?,
                    },
                    patient: self.fact_patient(row, resident_id)?,
                });
            }
            for row in sqlx::query(trusted(&settlement_sql))
                .bind(institution).bind(&district).bind(from_us).bind(to_us)
                .fetch_all(pool).await?
                .iter()
            {
                let resident_id = row.i64("resident_id")?;
                facts.settlements.push(SettlementFactRow {
                    id: row.i64("id")?,
                    fact: SettlementFact {
                        resident_id,
                        month: month_of(row.i64("settled_at_us")?),
                        total_fen: row.i64("total_fen")?,
                        self_fen: row.i64("self_fen")?,
                    },
                    patient: self.fact_patient(row, resident_id)?,
                });
            }
        });
        Ok(facts)
    }
}
