//! An institution's incentive month settled (migration 0041): locked with its sources,
//! payouts and work items frozen as counted; appeals and their answers (an upheld one
//! reopens the month, its rows deleted and the appeal kept); the committee's approval
//! once no appeal is open; payment. Each step is one transaction, guarded by the state
//! it moves from, with its audit record.

use gongti_core::audit::AuditEntry;
use gongti_core::payment::scheme::WorkKind;

use crate::outbox::stage_audit;
use crate::payment::pool::WorkItem;
use crate::row::{RowExt, trusted};
use crate::{Result, Store, on_read, on_write};

/// A person's payout to save or as saved: units, post and quality in ten-thousandths,
/// the work counts by kind comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutRow {
    pub staff_id: i64,
    pub team: Option<String>,
    pub counts: String,
    pub units: i64,
    pub post: i64,
    pub quality: i64,
    pub quality_rate: Option<i64>,
    pub pay_fen: i64,
}

/// A month to lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncentiveMonth<'a> {
    pub institution_id: i64,
    pub year: i32,
    pub month: u8,
    pub scheme_version: i64,
    pub pool_fen: i64,
    pub sources: &'a [(&'static str, i64)],
    pub payouts: &'a [PayoutRow],
    pub items: &'a [WorkItem],
    pub staff_id: i64,
}

/// Who took a step, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthMark {
    pub by_name: String,
    pub at_us: i64,
}

/// A settled month as saved, each payout with its person's name and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncentiveMonthRecord {
    pub scheme_version: i64,
    pub state: String,
    pub pool_fen: i64,
    pub locked: MonthMark,
    pub approved: Option<MonthMark>,
    pub approval_note: Option<String>,
    pub paid: Option<MonthMark>,
    pub sources: Vec<(String, i64)>,
    /// With the person's name and role code.
    pub payouts: Vec<(PayoutRow, String, String)>,
}

/// An appeal against a month's payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppealRecord {
    pub id: i64,
    pub institution_id: i64,
    pub year: i32,
    pub month: u8,
    pub staff_id: i64,
    pub staff_name: String,
    pub reason: String,
    pub state: String,
    pub answer: Option<String>,
    pub created_at_us: i64,
    pub answered: Option<MonthMark>,
}

fn mark(r: &impl RowExt, who: &str, at: &str) -> Result<Option<MonthMark>> {
    Ok(match (r.opt_text(who)?, r.opt_i64(at)?) {
        (Some(by_name), Some(at_us)) => Some(MonthMark { by_name, at_us }),
        _ => None,
    })
}

fn appeal(r: &impl RowExt) -> Result<AppealRecord> {
    Ok(AppealRecord {
        id: r.i64("id")?,
        institution_id: r.i64("institution_id")?,
        year: i32::try_from(r.i64("year")?).unwrap_or_default(),
        month: u8::try_from(r.i64("month")?).unwrap_or_default(),
        staff_id: r.i64("staff_id")?,
        staff_name: r.text("staff_name")?,
        reason: r.text("reason")?,
        state: r.text("state")?,
        answer: r.opt_text("answer")?,
        created_at_us: r.i64("created_at_us")?,
        answered: mark(r, "answered_by_name", "answered_at_us")?,
    })
}

/// On PostgreSQL, locks a month's row for the rest of the transaction (SQLite's one
/// writer serialises the steps already): a step on the month and an appeal filed
/// against it then run one after the other, each later statement seeing what the
/// other committed.
const LOCK_MONTH_SQL: &str = "SELECT state FROM incentive_months
      WHERE institution_id = $1 AND year = $2 AND month = $3 FOR UPDATE";

const APPEAL_SQL: &str = "SELECT a.*, s.name AS staff_name, sa.name AS answered_by_name
       FROM incentive_appeals a JOIN staff s ON s.id = a.staff_id
       LEFT JOIN staff sa ON sa.id = a.answered_by_staff_id";

impl Store {
    /// Locks a month with everything counted, and the audit record, in one
    /// transaction; `false` (nothing written) when it is locked already.
    pub async fn lock_incentive_month(
        &self,
        m: &NewIncentiveMonth<'_>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<bool> {
        const I_COLS: usize = 8;
        let (inst, year, month) = (m.institution_id, i64::from(m.year), i64::from(m.month));
        let first = time::Date::from_calendar_date(
            m.year,
            time::Month::try_from(m.month)
                .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
            1,
        )
        .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?;
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            super::hold_schemes!(self, tx);
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT year FROM incentive_months WHERE institution_id = $1 AND year = $2 AND month = $3",
            )
            .bind(inst).bind(year).bind(month).fetch_optional(&mut *tx).await?;
            if exists.is_none() && super::scheme_in_force!(tx, first) != Some(m.scheme_version) {
                tx.rollback().await?;
                return Err(crate::StoreError::Changed("scheme_changed_meanwhile"));
            }
            let done = sqlx::query(
                "INSERT INTO incentive_months (institution_id, year, month, scheme_version, state, pool_fen,
                   locked_by_staff_id, locked_at_us)
                 VALUES ($1, $2, $3, $4, 'locked', $5, $6, $7)
                 ON CONFLICT (institution_id, year, month) DO NOTHING",
            )
            .bind(inst).bind(year).bind(month).bind(m.scheme_version).bind(m.pool_fen)
            .bind(m.staff_id).bind(now_us)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            for (source, fen) in m.sources {
                sqlx::query(
                    "INSERT INTO incentive_sources (institution_id, year, month, source, amount_fen)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(inst).bind(year).bind(month).bind(*source).bind(*fen)
                .execute(&mut *tx).await?;
            }
            for p in m.payouts {
                sqlx::query(
                    "INSERT INTO incentive_payouts (institution_id, year, month, staff_id, team, counts, units,
                       post, quality, quality_rate, pay_fen)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(inst).bind(year).bind(month).bind(p.staff_id).bind(p.team.as_deref())
                .bind(p.counts.as_str()).bind(p.units).bind(p.post).bind(p.quality).bind(p.quality_rate)
                .bind(p.pay_fen)
                .execute(&mut *tx).await?;
            }
            let per = (crate::bulk::PARAMS_PER_STATEMENT / I_COLS).max(1);
            for chunk in m.items.chunks(per) {
                let sql = format!(
                    "INSERT INTO incentive_work_items (institution_id, year, month, staff_id, kind, record_id, at_us,
                       on_day) VALUES {}",
                    crate::row::value_rows(crate::row::numbered(&tx), chunk.len(), I_COLS, "")
                );
                let mut q = sqlx::query(trusted(&sql));
                for i in chunk {
                    q = q.bind(inst).bind(year).bind(month).bind(i.staff_id).bind(i.kind)
                        .bind(i.record_id).bind(i.at_us).bind(i.on);
                }
                q.execute(&mut *tx).await?;
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// A settled month, if it is.
    pub async fn incentive_month_record(
        &self,
        institution_id: i64,
        year: i32,
        month: u8,
    ) -> Result<Option<IncentiveMonthRecord>> {
        let key = (institution_id, i64::from(year), i64::from(month));
        on_read!(self, pool => {
            let Some(r) = sqlx::query(
                "SELECT m.*, sl.name AS locked_by_name, sa.name AS approved_by_name, sp.name AS paid_by_name
                   FROM incentive_months m JOIN staff sl ON sl.id = m.locked_by_staff_id
                   LEFT JOIN staff sa ON sa.id = m.approved_by_staff_id
                   LEFT JOIN staff sp ON sp.id = m.paid_by_staff_id
                  WHERE m.institution_id = $1 AND m.year = $2 AND m.month = $3",
            )
            .bind(key.0).bind(key.1).bind(key.2).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let sources = sqlx::query(
                "SELECT source, amount_fen FROM incentive_sources
                  WHERE institution_id = $1 AND year = $2 AND month = $3 ORDER BY source",
            )
            .bind(key.0).bind(key.1).bind(key.2).fetch_all(pool).await?
            .iter()
            .map(|s| Ok((s.text("source")?, s.i64("amount_fen")?)))
            .collect::<Result<Vec<_>>>()?;
            let payouts = sqlx::query(
                "SELECT p.*, s.name, s.role FROM incentive_payouts p JOIN staff s ON s.id = p.staff_id
                  WHERE p.institution_id = $1 AND p.year = $2 AND p.month = $3 ORDER BY p.staff_id",
            )
            .bind(key.0).bind(key.1).bind(key.2).fetch_all(pool).await?
            .iter()
            .map(|p| {
                Ok((
                    PayoutRow {
                        staff_id: p.i64("staff_id")?,
                        team: p.opt_text("team")?,
                        counts: p.text("counts")?,
                        units: p.i64("units")?,
                        post: p.i64("post")?,
                        quality: p.i64("quality")?,
                        quality_rate: p.opt_i64("quality_rate")?,
                        pay_fen: p.i64("pay_fen")?,
                    },
                    p.text("name")?,
                    p.text("role")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
            Ok(Some(IncentiveMonthRecord {
                scheme_version: r.i64("scheme_version")?,
                state: r.text("state")?,
                pool_fen: r.i64("pool_fen")?,
                locked: MonthMark { by_name: r.text("locked_by_name")?, at_us: r.i64("locked_at_us")? },
                approved: mark(&r, "approved_by_name", "approved_at_us")?,
                approval_note: r.opt_text("approval_note")?,
                paid: mark(&r, "paid_by_name", "paid_at_us")?,
                sources,
                payouts,
            }))
        })
    }

    /// The work items frozen with a locked month for one person.
    pub async fn frozen_work_items(
        &self,
        institution_id: i64,
        year: i32,
        month: u8,
        staff_id: i64,
    ) -> Result<Vec<WorkItem>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT kind, record_id, at_us, on_day FROM incentive_work_items
                  WHERE institution_id = $1 AND year = $2 AND month = $3 AND staff_id = $4
                  ORDER BY kind, record_id",
            )
            .bind(institution_id).bind(i64::from(year)).bind(i64::from(month)).bind(staff_id)
            .fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let Some(kind) = WorkKind::parse(&r.text("kind")?) else { continue };
                out.push(WorkItem {
                    staff_id,
                    kind: kind.code(),
                    record_id: r.i64("record_id")?,
                    at_us: r.opt_i64("at_us")?,
                    on: r.opt_date("on_day")?,
                });
            }
            Ok(out)
        })
    }

    /// A month's appeals, oldest first.
    pub async fn incentive_appeals(
        &self,
        institution_id: i64,
        year: i32,
        month: u8,
    ) -> Result<Vec<AppealRecord>> {
        let sql = format!(
            "{APPEAL_SQL} WHERE a.institution_id = $1 AND a.year = $2 AND a.month = $3 ORDER BY a.id"
        );
        on_read!(self, pool => {
            let rows = sqlx::query(trusted(&sql))
                .bind(institution_id).bind(i64::from(year)).bind(i64::from(month))
                .fetch_all(pool).await?;
            rows.iter().map(appeal).collect()
        })
    }

    pub async fn incentive_appeal(&self, id: i64) -> Result<Option<AppealRecord>> {
        let sql = format!("{APPEAL_SQL} WHERE a.id = $1");
        on_read!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(appeal).transpose()
        })
    }

    /// Files an appeal while the month is locked, with the audit record (named by the
    /// appeal); `None` (nothing written) when it is not locked.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_appeal(
        &self,
        institution_id: i64,
        year: i32,
        month: u8,
        staff_id: i64,
        reason: &str,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<Option<i64>> {
        let postgres = self.kind() == crate::EngineKind::Postgres;
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                sqlx::query(LOCK_MONTH_SQL)
                    .bind(institution_id).bind(i64::from(year)).bind(i64::from(month))
                    .execute(&mut *tx).await?;
            }
            let id: Option<i64> = sqlx::query_scalar(
                "INSERT INTO incentive_appeals (institution_id, year, month, staff_id, reason, state, created_at_us)
                 SELECT $1, $2, $3, $4, $5, 'open', $6
                  WHERE EXISTS (SELECT 1 FROM incentive_months
                                 WHERE institution_id = $1 AND year = $2 AND month = $3 AND state = 'locked')
                 RETURNING id",
            )
            .bind(institution_id).bind(i64::from(year)).bind(i64::from(month)).bind(staff_id)
            .bind(reason).bind(now_us)
            .fetch_optional(&mut *tx).await?;
            let Some(id) = id else { return Ok(None) };
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
            Ok(Some(id))
        })
    }

    /// Answers an open appeal; upheld, the month is reopened (its locked rows deleted,
    /// only while locked). `false` (nothing written) when the appeal is no longer open,
    /// or, upheld, its month no longer locked.
    pub async fn answer_appeal(
        &self,
        id: i64,
        upheld: bool,
        answer: &str,
        staff_id: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<bool> {
        let postgres = self.kind() == crate::EngineKind::Postgres;
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let key: Option<(i64, i64, i64)> = sqlx::query_as(
                "UPDATE incentive_appeals SET state = $2, answer = $3, answered_by_staff_id = $4,
                   answered_at_us = $5
                  WHERE id = $1 AND state = 'open' RETURNING institution_id, year, month",
            )
            .bind(id).bind(if upheld { "upheld" } else { "dismissed" }).bind(answer)
            .bind(staff_id).bind(now_us)
            .fetch_optional(&mut *tx).await?;
            let Some((inst, year, month)) = key else { return Ok(false) };
            if upheld {
                // the month is counted again: its other open appeals end with it
                sqlx::query(
                    "UPDATE incentive_appeals SET state = 'superseded', answered_by_staff_id = $4,
                       answered_at_us = $5
                      WHERE institution_id = $1 AND year = $2 AND month = $3 AND state = 'open'",
                )
                .bind(inst).bind(year).bind(month).bind(staff_id).bind(now_us)
                .execute(&mut *tx).await?;
                let state: Option<String> = sqlx::query_scalar(if postgres {
                    LOCK_MONTH_SQL
                } else {
                    "SELECT state FROM incentive_months WHERE institution_id = $1 AND year = $2 AND month = $3"
                })
                .bind(inst).bind(year).bind(month).fetch_optional(&mut *tx).await?;
                if state.as_deref() != Some("locked") {
                    tx.rollback().await?;
                    return Ok(false);
                }
                for table in ["incentive_work_items", "incentive_payouts", "incentive_sources", "incentive_months"] {
                    let sql = format!(
                        "DELETE FROM {table} WHERE institution_id = $1 AND year = $2 AND month = $3"
                    );
                    sqlx::query(trusted(&sql)).bind(inst).bind(year).bind(month)
                        .execute(&mut *tx).await?;
                }
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Moves a month from `from` to `to` (`approved` with the committee's note, or
    /// `paid`), with the audit record; `false` (nothing written) when it is not in
    /// `from`, or, approving, while an appeal is open.
    #[allow(clippy::too_many_arguments)]
    pub async fn incentive_month_step(
        &self,
        (institution_id, year, month): (i64, i32, u8),
        (from, to): (&str, &str),
        note: Option<&str>,
        staff_id: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<bool> {
        let set = if to == "approved" {
            "approved_by_staff_id = $5, approved_at_us = $6, approval_note = $7"
        } else {
            "paid_by_staff_id = $5, paid_at_us = $6, approval_note = COALESCE(approval_note, $7)"
        };
        let sql = format!(
            "UPDATE incentive_months SET state = $4, {set}
              WHERE institution_id = $1 AND year = $2 AND month = $3 AND state = $8"
        );
        let postgres = self.kind() == crate::EngineKind::Postgres;
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            if postgres {
                sqlx::query(LOCK_MONTH_SQL)
                    .bind(institution_id).bind(i64::from(year)).bind(i64::from(month))
                    .execute(&mut *tx).await?;
            }
            // read after the month's row is held: an appeal committed meanwhile is seen
            if to == "approved" {
                let open: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM incentive_appeals
                      WHERE institution_id = $1 AND year = $2 AND month = $3 AND state = 'open'",
                )
                .bind(institution_id).bind(i64::from(year)).bind(i64::from(month))
                .fetch_one(&mut *tx).await?;
                if open > 0 {
                    return Ok(false);
                }
            }
            let done = sqlx::query(trusted(&sql))
                .bind(institution_id).bind(i64::from(year)).bind(i64::from(month)).bind(to)
                .bind(staff_id).bind(now_us).bind(note).bind(from)
                .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(true)
        })
    }
}
