//! Insurance as the built-in simulator of the bureau keeps it (DOMAIN.md §6): insured
//! persons, their 门特 certifications, their year's deductible used and fund paid, and
//! the settlements of prescriptions. A settlement is one transaction: the year moves
//! only from the figures it was computed on (a guarded update: a settlement computed on
//! a stale year is refused, never double-counted), the personal account never goes
//! below zero, and one settlement is in force per prescription. A reversal gives back
//! exactly what the settlement took, while the prescription is not yet filled.

use gongti_core::audit::AuditEntry;
use time::Date;

use crate::outbox::stage_audit;
use crate::row::RowExt;
use crate::{Page, Result, Store, StoreError, on_read, on_write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InsuredPerson {
    pub resident_id: i64,
    pub psn_no: String,
    pub insutype: String,
    pub psn_type: String,
    pub account_balance_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certification {
    pub disease: String,
    pub valid_from: Date,
    pub valid_until: Date,
}

/// A settlement to record: the figures, and the year it was computed on.
#[derive(Debug, Clone)]
pub struct NewSettlement<'a> {
    pub setl_id: &'a str,
    pub prescription_id: i64,
    pub resident_id: i64,
    pub disease: &'a str,
    pub year: i32,
    pub policy_version: &'a str,
    pub figures: SettlementFigures,
    /// The year's figures the settlement was computed on.
    pub year_before: (i64, i64),
    pub lines: &'a str,
    pub now_us: i64,
}

/// A settlement's figures, in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SettlementFigures {
    pub total_fen: i64,
    pub fully_self_fen: i64,
    pub over_cap_fen: i64,
    pub pre_self_fen: i64,
    pub in_scope_fen: i64,
    pub deductible_fen: i64,
    pub fund_fen: i64,
    pub account_fen: i64,
    pub cash_fen: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementRecord {
    pub id: i64,
    pub setl_id: String,
    pub prescription_id: i64,
    pub resident_id: i64,
    pub disease: String,
    pub year: i64,
    pub policy_version: String,
    pub status: String,
    pub figures: SettlementFigures,
    pub lines: String,
    pub settled_at_us: i64,
    pub reversed_at_us: Option<i64>,
}

/// What recording a settlement came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleOutcome {
    Settled,
    /// One is in force for the prescription already.
    AlreadySettled,
    /// The year moved since the settlement was computed (another settlement).
    YearChanged,
    /// The personal account holds less than the settlement takes from it.
    AccountShort,
    /// The prescription is no longer passed (filled, cancelled).
    NotSettleable,
}

const COLUMNS: &str =
    "id, setl_id, prescription_id, resident_id, disease, year, policy_version, status,
    total_fen, fully_self_fen, over_cap_fen, pre_self_fen, in_scope_fen, deductible_fen, fund_fen,
    account_fen, cash_fen, lines, settled_at_us, reversed_at_us";

fn settlement(row: &impl RowExt) -> Result<SettlementRecord> {
    Ok(SettlementRecord {
        id: row.i64("id")?,
        setl_id: row.text("setl_id")?,
        prescription_id: row.i64("prescription_id")?,
        resident_id: row.i64("resident_id")?,
        disease: row.text("disease")?,
        year: row.i64("year")?,
        policy_version: row.text("policy_version")?,
        status: row.text("status")?,
        figures: SettlementFigures {
            total_fen: row.i64("total_fen")?,
            fully_self_fen: row.i64("fully_self_fen")?,
            over_cap_fen: row.i64("over_cap_fen")?,
            pre_self_fen: row.i64("pre_self_fen")?,
            in_scope_fen: row.i64("in_scope_fen")?,
            deductible_fen: row.i64("deductible_fen")?,
            fund_fen: row.i64("fund_fen")?,
            account_fen: row.i64("account_fen")?,
            cash_fen: row.i64("cash_fen")?,
        },
        lines: row.text("lines")?,
        settled_at_us: row.i64("settled_at_us")?,
        reversed_at_us: row.opt_i64("reversed_at_us")?,
    })
}

impl Store {
    /// Records (or replaces) a resident's insurance: 险种, person type, the bureau's
    /// person number, the personal account's balance.
    pub async fn set_insured(
        &self,
        p: &InsuredPerson,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO insured_persons (resident_id, psn_no, insutype, psn_type, account_balance_fen, updated_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (resident_id) DO UPDATE SET psn_no = excluded.psn_no, insutype = excluded.insutype,
                   psn_type = excluded.psn_type, account_balance_fen = excluded.account_balance_fen,
                   updated_at_us = excluded.updated_at_us",
            )
            .bind(p.resident_id).bind(&p.psn_no).bind(&p.insutype).bind(&p.psn_type)
            .bind(p.account_balance_fen).bind(now_us)
            .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn insured(&self, resident_id: i64) -> Result<Option<InsuredPerson>> {
        on_write!(self, pool => {
            let row: Option<(String, String, String, i64)> = sqlx::query_as(
                "SELECT psn_no, insutype, psn_type, account_balance_fen FROM insured_persons WHERE resident_id = $1",
            )
            .bind(resident_id).fetch_optional(pool).await?;
            Ok(row.map(|(psn_no, insutype, psn_type, account_balance_fen)| InsuredPerson {
                resident_id, psn_no, insutype, psn_type, account_balance_fen,
            }))
        })
    }

    /// The insured person a bureau person number names.
    pub async fn insured_by_psn_no(&self, psn_no: &str) -> Result<Option<InsuredPerson>> {
        on_write!(self, pool => {
            let row: Option<(i64, String, String, i64)> = sqlx::query_as(
                "SELECT resident_id, insutype, psn_type, account_balance_fen FROM insured_persons WHERE psn_no = $1",
            )
            .bind(psn_no).fetch_optional(pool).await?;
            Ok(row.map(|(resident_id, insutype, psn_type, account_balance_fen)| InsuredPerson {
                resident_id, psn_no: psn_no.to_owned(), insutype, psn_type, account_balance_fen,
            }))
        })
    }

    /// Certifies a resident for a disease's 门特 from one day to another.
    pub async fn certify_chronic(
        &self,
        resident_id: i64,
        c: &Certification,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO chronic_certifications (resident_id, disease, valid_from, valid_until, certified_at_us)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (resident_id, disease) DO UPDATE SET valid_from = excluded.valid_from,
                   valid_until = excluded.valid_until, certified_at_us = excluded.certified_at_us",
            )
            .bind(resident_id).bind(&c.disease).bind(c.valid_from).bind(c.valid_until).bind(now_us)
            .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn certifications(&self, resident_id: i64) -> Result<Vec<Certification>> {
        on_write!(self, pool => {
            let rows = sqlx::query(
                "SELECT disease, valid_from, valid_until FROM chronic_certifications WHERE resident_id = $1 ORDER BY disease",
            )
            .bind(resident_id).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(Certification {
                disease: r.text("disease")?,
                valid_from: r.date("valid_from")?,
                valid_until: r.date("valid_until")?,
            })).collect()
        })
    }

    /// A person's year: deductible used and fund paid (zero when nothing was settled).
    pub async fn insurance_year(&self, resident_id: i64, year: i32) -> Result<(i64, i64)> {
        on_write!(self, pool => {
            let row: Option<(i64, i64)> = sqlx::query_as(
                "SELECT deductible_used_fen, fund_paid_fen FROM insurance_years WHERE resident_id = $1 AND year = $2",
            )
            .bind(resident_id).bind(i64::from(year)).fetch_optional(pool).await?;
            Ok(row.unwrap_or((0, 0)))
        })
    }

    /// Records a settlement in one transaction (see the module's note).
    pub async fn record_settlement(
        &self,
        s: &NewSettlement<'_>,
        audit: &[AuditEntry],
    ) -> Result<SettleOutcome> {
        let f = &s.figures;
        let year = i64::from(s.year);
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            // Takes the prescription's row (as a fill or a step does), so that a fill, a
            // cancel and this settlement follow one another.
            let passed = sqlx::query(
                "UPDATE prescriptions SET changed_at_us = changed_at_us WHERE id = $1 AND status = 'passed'",
            )
            .bind(s.prescription_id).execute(&mut *tx).await?;
            if passed.rows_affected() == 0 {
                return Ok(SettleOutcome::NotSettleable);
            }
            sqlx::query(
                "INSERT INTO insurance_years (resident_id, year, deductible_used_fen, fund_paid_fen)
                 VALUES ($1, $2, 0, 0) ON CONFLICT (resident_id, year) DO NOTHING",
            )
            .bind(s.resident_id).bind(year).execute(&mut *tx).await?;
            let moved = sqlx::query(
                "UPDATE insurance_years SET deductible_used_fen = deductible_used_fen + $1, fund_paid_fen = fund_paid_fen + $2
                 WHERE resident_id = $3 AND year = $4 AND deductible_used_fen = $5 AND fund_paid_fen = $6",
            )
            .bind(f.deductible_fen).bind(f.fund_fen).bind(s.resident_id).bind(year)
            .bind(s.year_before.0).bind(s.year_before.1)
            .execute(&mut *tx).await?;
            if moved.rows_affected() == 0 {
                return Ok(SettleOutcome::YearChanged);
            }
            if f.account_fen > 0 {
                let paid = sqlx::query(
                    "UPDATE insured_persons SET account_balance_fen = account_balance_fen - $1
                     WHERE resident_id = $2 AND account_balance_fen >= $1",
                )
                .bind(f.account_fen).bind(s.resident_id).execute(&mut *tx).await?;
                if paid.rows_affected() == 0 {
                    return Ok(SettleOutcome::AccountShort);
                }
            }
            let inserted = sqlx::query(
                "INSERT INTO insurance_settlements (setl_id, prescription_id, resident_id, disease, year, policy_version,
                     status, total_fen, fully_self_fen, over_cap_fen, pre_self_fen, in_scope_fen, deductible_fen,
                     fund_fen, account_fen, cash_fen, lines, settled_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, 'settled', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(s.setl_id).bind(s.prescription_id).bind(s.resident_id).bind(s.disease).bind(year)
            .bind(s.policy_version).bind(f.total_fen).bind(f.fully_self_fen).bind(f.over_cap_fen)
            .bind(f.pre_self_fen).bind(f.in_scope_fen).bind(f.deductible_fen).bind(f.fund_fen)
            .bind(f.account_fen).bind(f.cash_fen).bind(s.lines).bind(s.now_us)
            .execute(&mut *tx).await;
            match inserted.map_err(StoreError::from) {
                Ok(_) => {}
                Err(StoreError::Duplicate(_)) => return Ok(SettleOutcome::AlreadySettled),
                Err(e) => return Err(e),
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(SettleOutcome::Settled)
        })
    }

    /// Reverses the settlement in force for a prescription not yet filled, giving the
    /// year and the account back what it took; `None` when there is none to reverse.
    pub async fn reverse_settlement(
        &self,
        prescription_id: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<Option<SettlementRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM insurance_settlements WHERE prescription_id = $1 AND status = 'settled'"
        );
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            // Takes the prescription's row first: a fill in progress finishes before.
            let open = sqlx::query(
                "UPDATE prescriptions SET changed_at_us = changed_at_us WHERE id = $1 AND status <> 'dispensed'",
            )
            .bind(prescription_id).execute(&mut *tx).await?;
            if open.rows_affected() == 0 {
                return Err(StoreError::Changed("settlement"));
            }
            let Some(row) = sqlx::query(crate::row::trusted(&sql)).bind(prescription_id).fetch_optional(&mut *tx).await? else {
                return Ok(None);
            };
            let s = settlement(&row)?;
            let done = sqlx::query(
                "UPDATE insurance_settlements SET status = 'reversed', reversed_at_us = $1
                 WHERE id = $2 AND status = 'settled'
                   AND NOT EXISTS (SELECT 1 FROM prescriptions p WHERE p.id = $3 AND p.status = 'dispensed')",
            )
            .bind(now_us).bind(s.id).bind(prescription_id)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Changed("settlement"));
            }
            sqlx::query(
                "UPDATE insurance_years SET deductible_used_fen = deductible_used_fen - $1, fund_paid_fen = fund_paid_fen - $2
                 WHERE resident_id = $3 AND year = $4",
            )
            .bind(s.figures.deductible_fen).bind(s.figures.fund_fen).bind(s.resident_id).bind(s.year)
            .execute(&mut *tx).await?;
            sqlx::query(
                "UPDATE insured_persons SET account_balance_fen = account_balance_fen + $1 WHERE resident_id = $2",
            )
            .bind(s.figures.account_fen).bind(s.resident_id)
            .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(Some(SettlementRecord { status: "reversed".into(), reversed_at_us: Some(now_us), ..s }))
        })
    }

    /// A prescription's settlements, the newest first.
    pub async fn settlements_of(&self, prescription_id: i64) -> Result<Vec<SettlementRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM insurance_settlements WHERE prescription_id = $1 ORDER BY id DESC"
        );
        on_write!(self, pool => {
            let rows = sqlx::query(crate::row::trusted(&sql)).bind(prescription_id).fetch_all(pool).await?;
            rows.iter().map(settlement).collect()
        })
    }

    /// A resident's settlements, the newest first.
    pub async fn resident_settlements(&self, resident_id: i64) -> Result<Vec<SettlementRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM insurance_settlements WHERE resident_id = $1 ORDER BY id DESC"
        );
        on_read!(self, pool => {
            let rows = sqlx::query(crate::row::trusted(&sql)).bind(resident_id).fetch_all(pool).await?;
            rows.iter().map(settlement).collect()
        })
    }

    /// A settlement by its id.
    pub async fn settlement(&self, id: i64) -> Result<SettlementRecord> {
        let sql = format!("SELECT {COLUMNS} FROM insurance_settlements WHERE id = $1");
        on_read!(self, pool => {
            let row = sqlx::query(crate::row::trusted(&sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(settlement).transpose()?.ok_or(StoreError::NotFound)
        })
    }

    /// Every settlement, the newest first (the insurance officer's list).
    pub async fn settlements(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<SettlementRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM insurance_settlements WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"
        );
        let items: Vec<SettlementRecord> = on_read!(self, pool => {
            let rows = sqlx::query(crate::row::trusted(&sql)).bind(after).bind(i64::from(limit) + 1).fetch_all(pool).await?;
            rows.iter().map(settlement).collect::<Result<_>>()?
        });
        Ok(Page::from_overfetch(items, limit, |s| s.id))
    }
}
