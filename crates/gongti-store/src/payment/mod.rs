//! Payment and performance (issue 17): the payment scheme's versions, each the whole
//! set of parameters as the canonical text `core::payment::scheme` reads, numbered in
//! the order saved and never changed (migration 0037); proposed, then approved or
//! rejected once by the committee, only an approved version in force (migration 0043).

use gongti_core::audit::AuditEntry;

mod clearing;
mod facts;
mod months;
mod pool;

pub use clearing::{
    ClearingMark, ClearingMember, ClearingRecord, ClearingRow, FreezeOutcome, StepKind,
};
pub use facts::{CostFact, CostOrigin, MemberFacts};
pub use months::{AppealRecord, IncentiveMonthRecord, MonthMark, NewIncentiveMonth, PayoutRow};
pub use pool::{TeamMembers, WorkItem};

/// PostgreSQL's transaction lock that orders the committee's decisions on versions
/// against what is counted under a version (a year's budget, an incentive month).
const PG_SCHEME_LOCK: i64 = 0x676f_6e67_7363;

/// In a write transaction: on PostgreSQL, waits for the scheme's lock (SQLite's one
/// writer orders these transactions already).
macro_rules! hold_schemes {
    ($store:expr, $tx:ident) => {
        if matches!($store.engine, crate::Engine::Postgres { .. }) {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(crate::payment::PG_SCHEME_LOCK)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

/// In a write transaction holding the scheme's lock: the approved version in force on
/// `$day`, if any.
macro_rules! scheme_in_force {
    ($tx:ident, $day:expr) => {{
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM payment_scheme_versions WHERE state = 'approved' AND effective_from <= $1
              ORDER BY effective_from DESC, id DESC LIMIT 1",
        )
        .bind($day)
        .fetch_optional(&mut *$tx)
        .await?;
        id
    }};
}
pub(crate) use {hold_schemes, scheme_in_force};

use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::{Result, Store, on_read, on_write};

/// A version to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSchemeVersion<'a> {
    pub effective_from: time::Date,
    pub params: &'a str,
    pub note: &'a str,
    pub based_on: Option<i64>,
    pub created_by_staff_id: i64,
}

/// A saved version, with its author's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeVersionRecord {
    pub id: i64,
    pub effective_from: time::Date,
    pub params: String,
    pub note: String,
    pub based_on: Option<i64>,
    pub created_by_staff_id: i64,
    pub created_by_name: String,
    pub created_at_us: i64,
    /// `proposed`, `approved` or `rejected`.
    pub state: String,
    /// The committee's decision: by whom (none for a version from before approval was
    /// required), when and why.
    pub decided_by_name: Option<String>,
    pub decided_at_us: Option<i64>,
    pub decision_note: Option<String>,
}

/// How a decision on a version went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemeDecision {
    /// Taken now.
    Taken,
    /// The version was not proposed any more: its state as found.
    AlreadyDecided(String),
    /// Approval refused: a year's budget or an incentive month already counted under an
    /// earlier version starts on or after the version's first day.
    PeriodSettled,
    NotFound,
}

const COLUMNS: &str = "v.id, v.effective_from, v.params, v.note, v.based_on, \
     v.created_by_staff_id, s.name AS created_by_name, v.created_at_us, v.state, \
     d.name AS decided_by_name, v.decided_at_us, v.decision_note";

/// The versions with their author and decider.
const FROM: &str = "payment_scheme_versions v JOIN staff s ON s.id = v.created_by_staff_id \
     LEFT JOIN staff d ON d.id = v.decided_by_staff_id";

fn version(row: &impl RowExt) -> Result<SchemeVersionRecord> {
    Ok(SchemeVersionRecord {
        id: row.i64("id")?,
        effective_from: row.date("effective_from")?,
        params: row.text("params")?,
        note: row.text("note")?,
        based_on: row.opt_i64("based_on")?,
        created_by_staff_id: row.i64("created_by_staff_id")?,
        created_by_name: row.text("created_by_name")?,
        created_at_us: row.i64("created_at_us")?,
        state: row.text("state")?,
        decided_by_name: row.opt_text("decided_by_name")?,
        decided_at_us: row.opt_i64("decided_at_us")?,
        decision_note: row.opt_text("decision_note")?,
    })
}

impl Store {
    /// Saves a version numbered one after the newest, proposed, with its audit record
    /// (named by the number) in the same transaction; the number.
    pub async fn insert_scheme_version(
        &self,
        v: &NewSchemeVersion<'_>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<i64> {
        let id = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO payment_scheme_versions
                   (id, effective_from, params, note, based_on, created_by_staff_id, created_at_us, state)
                 SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6, 'proposed'
                 FROM payment_scheme_versions
                 RETURNING id",
            )
            .bind(v.effective_from).bind(v.params).bind(v.note).bind(v.based_on)
            .bind(v.created_by_staff_id).bind(now_us)
            .fetch_one(&mut *tx).await?;
            let named: Vec<AuditEntry> = audit
                .iter()
                .cloned()
                .map(|mut e| {
                    e.resource_id = Some(id.to_string());
                    e
                })
                .collect();
            stage_audit!(tx, &named);
            tx.commit().await?;
            id
        });
        Ok(id)
    }

    /// Every version, newest first.
    pub async fn scheme_versions(&self) -> Result<Vec<SchemeVersionRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} ORDER BY v.id DESC");
        on_read!(self, pool => {
            let rows = sqlx::query(trusted(&sql)).fetch_all(pool).await?;
            rows.iter().map(version).collect()
        })
    }

    pub async fn scheme_version(&self, id: i64) -> Result<Option<SchemeVersionRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE v.id = $1");
        on_read!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(version).transpose()
        })
    }

    /// The version in force on `day`: of the approved ones effective by then, the one
    /// effective latest (the later saved of two effective the same day).
    pub async fn scheme_version_on(&self, day: time::Date) -> Result<Option<SchemeVersionRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM}
             WHERE v.state = 'approved' AND v.effective_from <= $1
             ORDER BY v.effective_from DESC, v.id DESC LIMIT 1"
        );
        on_read!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(day).fetch_optional(pool).await?;
            row.as_ref().map(version).transpose()
        })
    }

    /// The committee's decision on a proposed version, with its audit record in the same
    /// transaction. An approval holds only while no year's budget starting on or after
    /// the version's first day (`first_year` onwards) and no incentive month starting on
    /// or after it (month index `year × 12 + month − 1` from `first_month_index`) has
    /// been saved under an earlier version: checked in the statement that decides.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide_scheme_version(
        &self,
        id: i64,
        approve: bool,
        first_year: i32,
        first_month_index: i64,
        staff_id: i64,
        note: Option<&str>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<SchemeDecision> {
        let state = if approve { "approved" } else { "rejected" };
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            hold_schemes!(self, tx);
            let changed = sqlx::query(
                "UPDATE payment_scheme_versions
                 SET state = $2, decided_by_staff_id = $3, decided_at_us = $4, decision_note = $5
                 WHERE id = $1 AND state = 'proposed'
                   AND ($2 = 'rejected' OR (
                     NOT EXISTS (SELECT 1 FROM capitation_years y WHERE y.year >= $6)
                     AND NOT EXISTS (SELECT 1 FROM incentive_months m
                                     WHERE m.year * 12 + m.month - 1 >= $7)))",
            )
            .bind(id).bind(state).bind(staff_id).bind(now_us).bind(note)
            .bind(i64::from(first_year)).bind(first_month_index)
            .execute(&mut *tx).await?
            .rows_affected();
            if changed == 0 {
                let found: Option<String> =
                    sqlx::query_scalar("SELECT state FROM payment_scheme_versions WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                tx.rollback().await?;
                return Ok(match found {
                    None => SchemeDecision::NotFound,
                    Some(s) if s == "proposed" => SchemeDecision::PeriodSettled,
                    Some(s) => SchemeDecision::AlreadyDecided(s),
                });
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(SchemeDecision::Taken)
    }
}

/// An institution's budget of a year, to save or as saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapitationBudget {
    pub institution_id: i64,
    /// By scheme: contracted, 门特 hypertension, 门特 diabetes.
    pub persons: [i64; 3],
    pub person_days: [i64; 3],
    pub budget_fen: i64,
    pub prepaid_fen: i64,
    /// Months 1–12.
    pub months_fen: [i64; 12],
}

/// A year of capitation as approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapitationYearRecord {
    pub year: i32,
    pub scheme_version: i64,
    pub state: String,
    pub days_in_year: i64,
    pub counted_on: time::Date,
    pub approved_by_name: String,
    pub approved_at_us: i64,
    /// When its data were frozen for the clearing (the latest freeze).
    pub frozen_at_us: Option<i64>,
    pub closed_at_us: Option<i64>,
}

/// An institution's budget as saved, with its name, its health community (the upper
/// hospital it is tied to) and its prepayments' states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetRecord {
    pub budget: CapitationBudget,
    pub institution_name: String,
    pub district_code: String,
    pub community_id: Option<i64>,
    pub community_name: Option<String>,
    /// Months 1–12: paid or not.
    pub paid: [bool; 12],
}

/// A year's approval to save: the year, the budgets and who approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCapitationYear<'a> {
    pub year: i32,
    pub scheme_version: i64,
    pub days_in_year: i64,
    pub counted_on: time::Date,
    pub budgets: &'a [CapitationBudget],
    pub staff_id: i64,
}

impl Store {
    /// Saves a year's approval with its budgets and their twelve scheduled prepayments,
    /// and the audit record, in one transaction; `false` (nothing written) when the
    /// year was approved already.
    pub async fn insert_capitation_year(
        &self,
        y: &NewCapitationYear<'_>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<bool> {
        let first = time::Date::from_calendar_date(y.year, time::Month::January, 1)
            .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?;
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            hold_schemes!(self, tx);
            let exists: Option<i64> = sqlx::query_scalar("SELECT year FROM capitation_years WHERE year = $1")
                .bind(i64::from(y.year)).fetch_optional(&mut *tx).await?;
            if exists.is_none() && scheme_in_force!(tx, first) != Some(y.scheme_version) {
                tx.rollback().await?;
                return Err(crate::StoreError::Changed("scheme_changed_meanwhile"));
            }
            let done = sqlx::query(
                "INSERT INTO capitation_years (year, scheme_version, state, days_in_year, counted_on,
                   approved_by_staff_id, approved_at_us)
                 VALUES ($1, $2, 'budget_approved', $3, $4, $5, $6) ON CONFLICT (year) DO NOTHING",
            )
            .bind(i64::from(y.year)).bind(y.scheme_version).bind(y.days_in_year).bind(y.counted_on)
            .bind(y.staff_id).bind(now_us)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            for b in y.budgets {
                sqlx::query(
                    "INSERT INTO capitation_budgets (year, institution_id, persons_contracted,
                       persons_mt_hypertension, persons_mt_diabetes, days_contracted, days_mt_hypertension,
                       days_mt_diabetes, budget_fen, prepaid_fen)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(i64::from(y.year)).bind(b.institution_id)
                .bind(b.persons[0]).bind(b.persons[1]).bind(b.persons[2])
                .bind(b.person_days[0]).bind(b.person_days[1]).bind(b.person_days[2])
                .bind(b.budget_fen).bind(b.prepaid_fen)
                .execute(&mut *tx).await?;
                for (m, amount) in b.months_fen.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO capitation_prepayments (year, institution_id, month, amount_fen, state)
                         VALUES ($1, $2, $3, $4, 'scheduled')",
                    )
                    .bind(i64::from(y.year)).bind(b.institution_id).bind(m as i64 + 1).bind(*amount)
                    .execute(&mut *tx).await?;
                }
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(true)
    }

    pub async fn capitation_year(&self, year: i32) -> Result<Option<CapitationYearRecord>> {
        on_read!(self, pool => {
            let row = sqlx::query(
                "SELECT y.year, y.scheme_version, y.state, y.days_in_year, y.counted_on,
                        s.name AS approved_by_name, y.approved_at_us, y.frozen_at_us, y.closed_at_us
                   FROM capitation_years y JOIN staff s ON s.id = y.approved_by_staff_id WHERE y.year = $1",
            )
            .bind(i64::from(year)).fetch_optional(pool).await?;
            row.map(|r| -> Result<CapitationYearRecord> {
                Ok(CapitationYearRecord {
                    year: i32::try_from(r.i64("year")?).unwrap_or_default(),
                    scheme_version: r.i64("scheme_version")?,
                    state: r.text("state")?,
                    days_in_year: r.i64("days_in_year")?,
                    counted_on: r.date("counted_on")?,
                    approved_by_name: r.text("approved_by_name")?,
                    approved_at_us: r.i64("approved_at_us")?,
                    frozen_at_us: r.opt_i64("frozen_at_us")?,
                    closed_at_us: r.opt_i64("closed_at_us")?,
                })
            })
            .transpose()
        })
    }

    /// The year's budgets by health community and institution, with each month's
    /// state.
    pub async fn capitation_budgets(&self, year: i32) -> Result<Vec<BudgetRecord>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT b.*, i.name AS institution_name, i.district_code, u.id AS community_id,
                        u.name AS community_name
                   FROM capitation_budgets b JOIN institutions i ON i.id = b.institution_id
                   LEFT JOIN institutions u ON u.id = i.upper_institution_id
                  WHERE b.year = $1 ORDER BY (u.id IS NOT NULL), u.id, b.institution_id",
            )
            .bind(i64::from(year)).fetch_all(pool).await?;
            let months = sqlx::query(
                "SELECT institution_id, month, amount_fen, state FROM capitation_prepayments
                  WHERE year = $1 ORDER BY institution_id, month",
            )
            .bind(i64::from(year)).fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                out.push(BudgetRecord {
                    budget: CapitationBudget {
                        institution_id: r.i64("institution_id")?,
                        persons: [r.i64("persons_contracted")?, r.i64("persons_mt_hypertension")?, r.i64("persons_mt_diabetes")?],
                        person_days: [r.i64("days_contracted")?, r.i64("days_mt_hypertension")?, r.i64("days_mt_diabetes")?],
                        budget_fen: r.i64("budget_fen")?,
                        prepaid_fen: r.i64("prepaid_fen")?,
                        months_fen: [0; 12],
                    },
                    institution_name: r.text("institution_name")?,
                    district_code: r.text("district_code")?,
                    community_id: r.opt_i64("community_id")?,
                    community_name: r.opt_text("community_name")?,
                    paid: [false; 12],
                });
            }
            for m in &months {
                let id = m.i64("institution_id")?;
                let month = usize::try_from(m.i64("month")? - 1).unwrap_or(0).min(11);
                if let Some(b) = out.iter_mut().find(|b| b.budget.institution_id == id) {
                    b.budget.months_fen[month] = m.i64("amount_fen")?;
                    b.paid[month] = m.text("state")? == "paid";
                }
            }
            Ok(out)
        })
    }

    /// Marks a month's scheduled prepayments of the year paid, with the audit record,
    /// in one transaction; how many were paid now (0 when all were already, or once the
    /// year's data are frozen for the clearing).
    pub async fn pay_prepayments(
        &self,
        year: i32,
        month: u8,
        staff_id: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<u64> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE capitation_prepayments SET state = 'paid', paid_at_us = $3, paid_by_staff_id = $4
                  WHERE year = $1 AND month = $2 AND state = 'scheduled'
                    AND EXISTS (SELECT 1 FROM capitation_years y WHERE y.year = $1 AND y.state = 'budget_approved')",
            )
            .bind(i64::from(year)).bind(i64::from(month)).bind(now_us).bind(staff_id)
            .execute(&mut *tx).await?;
            if done.rows_affected() > 0 {
                stage_audit!(tx, audit);
            }
            tx.commit().await?;
            Ok(done.rows_affected())
        })
    }
}

/// A settlement of the bureau's file to bring in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBureauSettlement {
    pub setl_id: String,
    pub resident_id: i64,
    pub psn_no: String,
    pub settled_on: time::Date,
    pub total_fen: i64,
    pub fund_fen: i64,
    pub fixmedins_code: String,
    pub fixmedins_name: String,
    pub institution_id: Option<i64>,
}

/// Settlements of the bureau's file to check or bring in at a time.
const LOOKUP_CHUNK: usize = 500;

fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Store {
    /// The residents insured under each of `psn_nos` (those found).
    pub async fn residents_by_psn_no(
        &self,
        psn_nos: &[String],
    ) -> Result<std::collections::HashMap<String, i64>> {
        let mut out = std::collections::HashMap::new();
        for chunk in psn_nos.chunks(LOOKUP_CHUNK) {
            let sql = format!(
                "SELECT psn_no, resident_id FROM insured_persons WHERE psn_no IN ({})",
                placeholders(chunk.len())
            );
            on_read!(self, pool => {
                let mut q = sqlx::query(trusted(&sql));
                for p in chunk {
                    q = q.bind(p);
                }
                for r in q.fetch_all(pool).await? {
                    out.insert(r.text("psn_no")?, r.i64("resident_id")?);
                }
            });
        }
        Ok(out)
    }

    /// Which of `setl_ids` are counted already: brought in from a file before, or the
    /// cloud pharmacy's own settlements (the bureau's file lists those too).
    pub async fn bureau_settlements_taken(
        &self,
        setl_ids: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        let mut out = std::collections::HashSet::new();
        for chunk in setl_ids.chunks(LOOKUP_CHUNK) {
            let sql = format!(
                "SELECT setl_id FROM bureau_settlements WHERE setl_id IN ({0})
                 UNION SELECT setl_id FROM insurance_settlements WHERE setl_id IN ({0})",
                placeholders(chunk.len())
            );
            on_read!(self, pool => {
                let mut q = sqlx::query_scalar::<_, String>(trusted(&sql));
                for p in chunk {
                    q = q.bind(p);
                }
                out.extend(q.fetch_all(pool).await?);
            });
        }
        Ok(out)
    }

    /// Brings a file's settlements in, every one or none, with the audit record
    /// naming their rows, in one transaction.
    pub async fn insert_bureau_settlements(
        &self,
        rows: &[NewBureauSettlement],
        batch: &str,
        staff_id: i64,
        now_us: i64,
        audit: &AuditEntry,
    ) -> Result<usize> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut ids = Vec::with_capacity(rows.len());
            for r in rows {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO bureau_settlements (setl_id, resident_id, psn_no, settled_on, total_fen, fund_fen,
                       fixmedins_code, fixmedins_name, institution_id, batch, imported_by_staff_id, imported_at_us)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                )
                .bind(&r.setl_id).bind(r.resident_id).bind(&r.psn_no).bind(r.settled_on)
                .bind(r.total_fen).bind(r.fund_fen).bind(&r.fixmedins_code).bind(&r.fixmedins_name)
                .bind(r.institution_id).bind(batch).bind(staff_id).bind(now_us)
                .fetch_one(&mut *tx).await?;
                ids.push(id);
            }
            let mut entry = audit.clone();
            entry.resource_id = Some(gongti_core::coverage::encode_ids(ids.iter().copied()));
            stage_audit!(tx, std::slice::from_ref(&entry));
            tx.commit().await?;
        });
        Ok(rows.len())
    }
}
