//! The cloud pharmacy's records: each institution's decisions on the prescription
//! knowledge base's rules (confirmed or disabled), the row in force kept with its
//! version, its author and its reason, every change audited with it; and the issued
//! prescriptions with their versions and review (`prescriptions`), and their outflow,
//! each pharmacy's stock and the one fill of each (`dispensing`); the online repeat
//! visits they are written in, with their messages and images (`visits`).

mod dispensing;
mod figures;
mod prescriptions;
mod visits;

pub use dispensing::{
    BoardItem, FillEvent, FillLineRecord, FillOutcome, FillRecord, FillStep, NewFill, StockRecord,
};
pub use figures::{
    FactPatient, PharmacyFacts, RX_LOOKBACK_US, RxFactRow, SettlementFactRow, VisitFactRow,
};
pub use prescriptions::{
    KeyUse, NewPrescription, PrescriptionFilter, PrescriptionRecord, QueueKey, SignedVersion,
    StepChange, StepRecord, VersionRecord,
};
pub use visits::{
    AcceptedDocument, DiagnosisOnFile, ImageInfo, LongStep, MessageRecord, NewImage, NewMessage,
    NewVisit, VisitChange, VisitRecord,
};

use gongti_core::audit::AuditEntry;

use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::{Result, Store, on_read, on_write};

/// An institution's decision on one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrugRuleSetting {
    pub rule_id: String,
    /// `confirmed` or `disabled`.
    pub state: String,
    pub ruleset_version: String,
    pub reason: Option<String>,
    pub staff_id: i64,
    pub staff_name: String,
    pub at_us: i64,
}

/// A decision to record.
#[derive(Debug, Clone, Copy)]
pub struct DrugRuleChange<'a> {
    pub institution_id: i64,
    pub rule_id: &'a str,
    /// `confirmed` or `disabled`.
    pub state: &'a str,
    pub ruleset_version: &'a str,
    pub reason: Option<&'a str>,
    pub staff_id: i64,
}

const SETTING_COLUMNS: &str =
    "d.rule_id, d.state, d.ruleset_version, d.reason, d.staff_id, s.name AS staff_name, d.at_us";

fn setting(row: &impl RowExt) -> Result<DrugRuleSetting> {
    Ok(DrugRuleSetting {
        rule_id: row.text("rule_id")?,
        state: row.text("state")?,
        ruleset_version: row.text("ruleset_version")?,
        reason: row.opt_text("reason")?,
        staff_id: row.i64("staff_id")?,
        staff_name: row.text("staff_name")?,
        at_us: row.i64("at_us")?,
    })
}

impl Store {
    /// The rule settings in force at an institution, by rule id.
    pub async fn drug_rule_settings(&self, institution_id: i64) -> Result<Vec<DrugRuleSetting>> {
        let sql = format!(
            "SELECT {SETTING_COLUMNS} FROM drug_rule_settings d JOIN staff s ON s.id = d.staff_id
             WHERE d.institution_id = $1 ORDER BY d.rule_id"
        );
        on_read!(self, pool => {
            let rows = sqlx::query(trusted(&sql)).bind(institution_id).fetch_all(pool).await?;
            rows.iter().map(setting).collect()
        })
    }

    /// Sets an institution's decision on a rule (replacing the one before), with its
    /// audit record in the same transaction.
    pub async fn set_drug_rule(
        &self,
        change: &DrugRuleChange<'_>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO drug_rule_settings (institution_id, rule_id, state, ruleset_version, reason, staff_id, at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (institution_id, rule_id) DO UPDATE SET state = excluded.state,
                   ruleset_version = excluded.ruleset_version, reason = excluded.reason,
                   staff_id = excluded.staff_id, at_us = excluded.at_us",
            )
            .bind(change.institution_id).bind(change.rule_id).bind(change.state).bind(change.ruleset_version)
            .bind(change.reason).bind(change.staff_id).bind(now_us)
            .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
}
