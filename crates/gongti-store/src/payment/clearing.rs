//! The year-end clearing's rows (migration 0040): each institution's frozen inputs
//! and figures with its state, the persons behind them, and the steps from frozen to
//! closed — each a compare-and-set on the state the caller saw, with its audit record
//! in the same transaction.

use gongti_core::audit::AuditEntry;

use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::{Page, Result, Store, on_read, on_write};

/// An institution's clearing: what was frozen and what was computed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingRow {
    pub institution_id: i64,
    /// By scheme: contracted, 门特 hypertension, 门特 diabetes.
    pub persons: [i64; 3],
    pub person_days: [i64; 3],
    pub budget_fen: i64,
    /// The prepayments paid.
    pub prepaid_fen: i64,
    /// `core::payment::quality::encode_counts`.
    pub quality_counts: String,
    /// Cloud pharmacy, cloud centres, the bureau.
    pub cost_by_source_fen: [i64; 3],
    /// Grassroots, internet hospital, secondary, tertiary, outside.
    pub cost_by_level_fen: [i64; 5],
    pub cost_lines: i64,
    pub score_micro: Option<i64>,
    pub multiplier_micro: i64,
    pub adjusted_budget_fen: i64,
    pub surplus_fen: i64,
    pub retained_fen: i64,
    pub fund_covers_fen: i64,
    pub community_bears_fen: i64,
    pub balance_fen: i64,
}

/// A person counted in an institution's clearing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingMember {
    pub institution_id: i64,
    pub resident_id: i64,
    pub age: i64,
    /// The condition's code (`Condition::code`).
    pub condition: std::borrow::Cow<'static, str>,
    pub days: [i64; 3],
    /// rate × weight × days, in millionths of a fen.
    pub share_micro_fen: i64,
    pub cost_fen: i64,
}

/// A step taken on an institution's clearing: by whom, when, with what words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingMark {
    pub by_name: String,
    pub at_us: i64,
}

/// An institution's clearing as saved, with its name, community and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingRecord {
    pub row: ClearingRow,
    pub institution_name: String,
    pub district_code: String,
    pub community_id: Option<i64>,
    pub community_name: Option<String>,
    pub state: String,
    /// The freeze the figures came from.
    pub frozen_at_us: i64,
    /// The institution's reason for a dispute.
    pub reason: Option<String>,
    /// The officer's answer on approving.
    pub reply: Option<String>,
    pub answered: Option<ClearingMark>,
    pub approved: Option<ClearingMark>,
    pub settled: Option<ClearingMark>,
}

/// How a freeze went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezeOutcome {
    Frozen,
    /// The year's budget was never approved.
    NotApproved,
    /// An institution's clearing is approved already (or the year closed): the
    /// frozen inputs stand.
    Settled,
}

/// Which step, for the columns it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// Confirm or dispute: the reason, who answered.
    Answer,
    /// The officer's approval: the reply.
    Approve,
    /// Paid or recovered.
    Settle,
}

const ROW_COLUMNS: usize = 31;
/// The columns of a person counted, each bound.
const MEMBER_COLUMNS: usize = 10;

// A freeze's statements, the same on both engines: $1 is the year.
const YEAR_STATE: &str = "SELECT state FROM capitation_years WHERE year = $1";
const SETTLED: &str = "SELECT COUNT(*) FROM capitation_clearings
  WHERE year = $1 AND state IN ('approved', 'paid', 'recovered')";
const MARK_FROZEN: &str = "UPDATE capitation_years SET state = 'clearing_computed', frozen_at_us = $2, frozen_by_staff_id = $3
  WHERE year = $1 AND state IN ('budget_approved', 'clearing_computed')";
const CLEAR_MEMBERS: &str = "DELETE FROM clearing_members WHERE year = $1";
const CLEAR_ROWS: &str = "DELETE FROM capitation_clearings WHERE year = $1 AND state IN ('computed', 'confirmed', 'disputed')";
const LEFT: &str = "SELECT COUNT(*) FROM capitation_clearings WHERE year = $1";
/// Followed by the rows' values: `ROW_COLUMNS - 2` bound, then the state and the answer.
const INSERT_ROWS: &str = "INSERT INTO capitation_clearings (year, institution_id, persons_contracted, persons_mt_hypertension,
   persons_mt_diabetes, days_contracted, days_mt_hypertension, days_mt_diabetes, budget_fen,
   prepaid_fen, quality_counts, cost_pharmacy_fen, cost_exam_fen, cost_bureau_fen,
   cost_grassroots_fen, cost_internet_fen, cost_secondary_fen, cost_tertiary_fen, cost_outside_fen,
   cost_lines, score_micro, multiplier_micro, adjusted_budget_fen, surplus_fen, retained_fen,
   fund_covers_fen, community_bears_fen, balance_fen, frozen_at_us, state, answered_at_us)
 VALUES";
/// Followed by the persons' values, `MEMBER_COLUMNS` each.
const INSERT_MEMBERS: &str = "INSERT INTO clearing_members (year, institution_id, resident_id, age, condition, days_contracted,
   days_mt_hypertension, days_mt_diabetes, share_micro_fen, cost_fen)
 VALUES";
/// The direct freeze's word for "an institution's clearing was approved meanwhile":
/// its transaction rolls back.
const SETTLED_MEANWHILE: &str = "clearing_settled_meanwhile";

/// [`Store::freeze_clearing`] on SQLite's direct lane, in its writer's transaction.
fn freeze_direct(
    tx: &rusqlite::Transaction<'_>,
    year: i64,
    rows: &[ClearingRow],
    members: &[ClearingMember],
    (staff_id, now_us): (i64, i64),
    audit: &[AuditEntry],
) -> Result<FreezeOutcome> {
    use rusqlite::OptionalExtension;
    let by_year: &[(&str, &dyn rusqlite::ToSql)] = &[("$1", &year)];
    let state: Option<String> = tx
        .prepare_cached(YEAR_STATE)?
        .query_row(by_year, |r| r.get(0))
        .optional()?;
    let Some(state) = state else {
        return Ok(FreezeOutcome::NotApproved);
    };
    let settled: i64 = tx
        .prepare_cached(SETTLED)?
        .query_row(by_year, |r| r.get(0))?;
    if settled > 0 || state == "closed" {
        return Ok(FreezeOutcome::Settled);
    }
    let changed = tx.prepare_cached(MARK_FROZEN)?.execute(
        &[
            ("$1", &year as &dyn rusqlite::ToSql),
            ("$2", &now_us),
            ("$3", &staff_id),
        ][..],
    )?;
    if changed == 0 {
        return Ok(FreezeOutcome::Settled);
    }
    tx.prepare_cached(CLEAR_MEMBERS)?.execute(by_year)?;
    tx.prepare_cached(CLEAR_ROWS)?.execute(by_year)?;
    let left: i64 = tx.prepare_cached(LEFT)?.query_row(by_year, |r| r.get(0))?;
    if left > 0 {
        return Err(crate::StoreError::Changed(SETTLED_MEANWHILE));
    }
    let mut insert = tx.prepare_cached(&format!(
        "{INSERT_ROWS} {}",
        crate::row::value_rows(false, 1, ROW_COLUMNS - 2, ", 'computed', NULL")
    ))?;
    for r in rows {
        insert.execute(rusqlite::params![
            year,
            r.institution_id,
            r.persons[0],
            r.persons[1],
            r.persons[2],
            r.person_days[0],
            r.person_days[1],
            r.person_days[2],
            r.budget_fen,
            r.prepaid_fen,
            r.quality_counts,
            r.cost_by_source_fen[0],
            r.cost_by_source_fen[1],
            r.cost_by_source_fen[2],
            r.cost_by_level_fen[0],
            r.cost_by_level_fen[1],
            r.cost_by_level_fen[2],
            r.cost_by_level_fen[3],
            r.cost_by_level_fen[4],
            r.cost_lines,
            r.score_micro,
            r.multiplier_micro,
            r.adjusted_budget_fen,
            r.surplus_fen,
            r.retained_fen,
            r.fund_covers_fen,
            r.community_bears_fen,
            r.balance_fen,
            now_us,
        ])?;
    }
    // one person to a statement: many to a statement (a VALUES list of 64) was slower
    // at a city's scale
    let mut insert = tx.prepare_cached(&format!(
        "{INSERT_MEMBERS} {}",
        crate::row::value_rows(false, 1, MEMBER_COLUMNS, "")
    ))?;
    for m in members {
        insert.execute(rusqlite::params![
            year,
            m.institution_id,
            m.resident_id,
            m.age,
            m.condition,
            m.days[0],
            m.days[1],
            m.days[2],
            m.share_micro_fen,
            m.cost_fen,
        ])?;
    }
    crate::outbox::stage_direct(tx, audit)?;
    Ok(FreezeOutcome::Frozen)
}

fn mark(r: &impl RowExt, who: &str, at: &str) -> Result<Option<ClearingMark>> {
    Ok(match (r.opt_text(who)?, r.opt_i64(at)?) {
        (Some(by_name), Some(at_us)) => Some(ClearingMark { by_name, at_us }),
        _ => None,
    })
}

impl Store {
    /// Freezes a year's clearing: replaces any earlier freeze's rows and persons with
    /// these, marks the year computed, and stages the audit records, in one
    /// transaction — refused (nothing written) when the year's budget was not approved
    /// or any institution's clearing is approved already.
    pub async fn freeze_clearing(
        &self,
        year: i32,
        rows: Vec<ClearingRow>,
        members: Vec<ClearingMember>,
        staff_id: i64,
        now_us: i64,
        audit: Vec<AuditEntry>,
    ) -> Result<FreezeOutcome> {
        let year = i64::from(year);
        // In resident order: the foreign key's look-up of each person then walks the
        // residents' table once, where an institution's persons at a time would jump
        // about it (at a city's scale, most of the save was those look-ups' reads).
        // The freeze hands them over in this order already; the sort only makes sure.
        let mut members = members;
        members.sort_unstable_by_key(|m| (m.resident_id, m.institution_id));
        if let Some(direct) = self.direct_writes() {
            // At a city's scale, 1.3 M persons: through the direct lane's writer, each
            // inserted by one statement prepared once.
            let done = direct
                .transaction_alone(move |tx| {
                    freeze_direct(tx, year, &rows, &members, (staff_id, now_us), &audit)
                })
                .await;
            return match done {
                Err(crate::StoreError::Changed(SETTLED_MEANWHILE)) => Ok(FreezeOutcome::Settled),
                done => done,
            };
        }
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let state: Option<String> = sqlx::query_scalar(YEAR_STATE)
                .bind(year).fetch_optional(&mut *tx).await?;
            let Some(state) = state else { return Ok(FreezeOutcome::NotApproved) };
            let settled: i64 = sqlx::query_scalar(SETTLED).bind(year).fetch_one(&mut *tx).await?;
            if settled > 0 || state == "closed" {
                return Ok(FreezeOutcome::Settled);
            }
            let changed = sqlx::query(MARK_FROZEN)
                .bind(year).bind(now_us).bind(staff_id).execute(&mut *tx).await?;
            if changed.rows_affected() == 0 {
                return Ok(FreezeOutcome::Settled);
            }
            // only what no one has approved: an approval committed meanwhile stays, and
            // the freeze gives way to it
            sqlx::query(CLEAR_MEMBERS).bind(year).execute(&mut *tx).await?;
            sqlx::query(CLEAR_ROWS).bind(year).execute(&mut *tx).await?;
            let left: i64 = sqlx::query_scalar(LEFT).bind(year).fetch_one(&mut *tx).await?;
            if left > 0 {
                tx.rollback().await?;
                return Ok(FreezeOutcome::Settled);
            }
            let per = (crate::bulk::PARAMS_PER_STATEMENT / ROW_COLUMNS).max(1);
            for chunk in rows.chunks(per) {
                let sql = format!(
                    "{INSERT_ROWS} {}",
                    crate::row::value_rows(crate::row::numbered(&tx), chunk.len(), ROW_COLUMNS - 2, ", 'computed', NULL")
                );
                let mut q = sqlx::query(trusted(&sql));
                for r in chunk {
                    q = q.bind(year).bind(r.institution_id)
                        .bind(r.persons[0]).bind(r.persons[1]).bind(r.persons[2])
                        .bind(r.person_days[0]).bind(r.person_days[1]).bind(r.person_days[2])
                        .bind(r.budget_fen).bind(r.prepaid_fen).bind(r.quality_counts.as_str())
                        .bind(r.cost_by_source_fen[0]).bind(r.cost_by_source_fen[1]).bind(r.cost_by_source_fen[2])
                        .bind(r.cost_by_level_fen[0]).bind(r.cost_by_level_fen[1]).bind(r.cost_by_level_fen[2])
                        .bind(r.cost_by_level_fen[3]).bind(r.cost_by_level_fen[4]).bind(r.cost_lines)
                        .bind(r.score_micro).bind(r.multiplier_micro).bind(r.adjusted_budget_fen)
                        .bind(r.surplus_fen).bind(r.retained_fen).bind(r.fund_covers_fen)
                        .bind(r.community_bears_fen).bind(r.balance_fen).bind(now_us);
                }
                q.execute(&mut *tx).await?;
            }
            let per = (crate::bulk::PARAMS_PER_STATEMENT / MEMBER_COLUMNS).max(1);
            for chunk in members.chunks(per) {
                let sql = format!(
                    "{INSERT_MEMBERS} {}",
                    crate::row::value_rows(crate::row::numbered(&tx), chunk.len(), MEMBER_COLUMNS, "")
                );
                let mut q = sqlx::query(trusted(&sql));
                for m in chunk {
                    q = q.bind(year).bind(m.institution_id).bind(m.resident_id).bind(m.age)
                        .bind(m.condition.as_ref()).bind(m.days[0]).bind(m.days[1]).bind(m.days[2])
                        .bind(m.share_micro_fen).bind(m.cost_fen);
                }
                q.execute(&mut *tx).await?;
            }
            stage_audit!(tx, &audit);
            tx.commit().await?;
        });
        Ok(FreezeOutcome::Frozen)
    }

    /// A year's clearing by health community and institution.
    pub async fn clearings(&self, year: i32) -> Result<Vec<ClearingRecord>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT c.*, i.name AS institution_name, i.district_code, u.id AS community_id,
                        u.name AS community_name, sa.name AS answered_by_name, sp.name AS approved_by_name,
                        ss.name AS settled_by_name
                   FROM capitation_clearings c JOIN institutions i ON i.id = c.institution_id
                   LEFT JOIN institutions u ON u.id = i.upper_institution_id
                   LEFT JOIN staff sa ON sa.id = c.answered_by_staff_id
                   LEFT JOIN staff sp ON sp.id = c.approved_by_staff_id
                   LEFT JOIN staff ss ON ss.id = c.settled_by_staff_id
                  WHERE c.year = $1 ORDER BY (u.id IS NOT NULL), u.id, c.institution_id",
            )
            .bind(i64::from(year)).fetch_all(pool).await?;
            rows.iter().map(|r| -> Result<ClearingRecord> {
                Ok(ClearingRecord {
                    row: ClearingRow {
                        institution_id: r.i64("institution_id")?,
                        persons: [r.i64("persons_contracted")?, r.i64("persons_mt_hypertension")?, r.i64("persons_mt_diabetes")?],
                        person_days: [r.i64("days_contracted")?, r.i64("days_mt_hypertension")?, r.i64("days_mt_diabetes")?],
                        budget_fen: r.i64("budget_fen")?,
                        prepaid_fen: r.i64("prepaid_fen")?,
                        quality_counts: r.text("quality_counts")?,
                        cost_by_source_fen: [r.i64("cost_pharmacy_fen")?, r.i64("cost_exam_fen")?, r.i64("cost_bureau_fen")?],
                        cost_by_level_fen: [
                            r.i64("cost_grassroots_fen")?, r.i64("cost_internet_fen")?, r.i64("cost_secondary_fen")?,
                            r.i64("cost_tertiary_fen")?, r.i64("cost_outside_fen")?,
                        ],
                        cost_lines: r.i64("cost_lines")?,
                        score_micro: r.opt_i64("score_micro")?,
                        multiplier_micro: r.i64("multiplier_micro")?,
                        adjusted_budget_fen: r.i64("adjusted_budget_fen")?,
                        surplus_fen: r.i64("surplus_fen")?,
                        retained_fen: r.i64("retained_fen")?,
                        fund_covers_fen: r.i64("fund_covers_fen")?,
                        community_bears_fen: r.i64("community_bears_fen")?,
                        balance_fen: r.i64("balance_fen")?,
                    },
                    institution_name: r.text("institution_name")?,
                    district_code: r.text("district_code")?,
                    community_id: r.opt_i64("community_id")?,
                    community_name: r.opt_text("community_name")?,
                    state: r.text("state")?,
                    frozen_at_us: r.i64("frozen_at_us")?,
                    reason: r.opt_text("reason")?,
                    reply: r.opt_text("reply")?,
                    answered: mark(r, "answered_by_name", "answered_at_us")?,
                    approved: mark(r, "approved_by_name", "approved_at_us")?,
                    settled: mark(r, "settled_by_name", "settled_at_us")?,
                })
            })
            .collect()
        })
    }

    /// Moves an institution's clearing of the freeze at `frozen_at_us` from `from` to `to`, writing the step's
    /// columns (who took it: `None` for the demo's answers, which no one of the
    /// institution gave), with the audit records, in one transaction; `false`
    /// (nothing written) when its state is no longer `from`.
    #[allow(clippy::too_many_arguments)]
    pub async fn clearing_step(
        &self,
        year: i32,
        institution_id: i64,
        (from, to): (&str, &str),
        frozen_at_us: i64,
        kind: StepKind,
        words: Option<&str>,
        staff_id: Option<i64>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<bool> {
        let set = match kind {
            StepKind::Answer => "reason = $4, answered_by_staff_id = $5, answered_at_us = $6",
            StepKind::Approve => "reply = $4, approved_by_staff_id = $5, approved_at_us = $6",
            StepKind::Settle => {
                "reply = COALESCE(reply, $4), settled_by_staff_id = $5, settled_at_us = $6"
            }
        };
        let sql = format!(
            "UPDATE capitation_clearings SET state = $3, {set}
              WHERE year = $1 AND institution_id = $2 AND state = $7 AND frozen_at_us = $8"
        );
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(trusted(&sql))
                .bind(i64::from(year)).bind(institution_id).bind(to).bind(words)
                .bind(staff_id).bind(now_us).bind(from).bind(frozen_at_us)
                .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// Closes a year whose every institution is paid or recovered, with the audit
    /// records; `false` (nothing written) otherwise.
    pub async fn close_clearing_year(
        &self,
        year: i32,
        staff_id: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<bool> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE capitation_years SET state = 'closed', closed_at_us = $2, closed_by_staff_id = $3
                  WHERE year = $1 AND state = 'clearing_computed'
                    AND EXISTS (SELECT 1 FROM capitation_clearings WHERE year = $1)
                    AND NOT EXISTS (SELECT 1 FROM capitation_clearings
                                     WHERE year = $1 AND state NOT IN ('paid', 'recovered'))",
            )
            .bind(i64::from(year)).bind(now_us).bind(staff_id)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(true)
    }

    /// The persons counted in an institution's clearing, a page of up to `limit` after
    /// resident `after`.
    pub async fn clearing_members(
        &self,
        year: i32,
        institution_id: i64,
        after: i64,
        limit: u32,
    ) -> Result<Page<ClearingMember>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT * FROM clearing_members WHERE year = $1 AND institution_id = $2 AND resident_id > $3
                  ORDER BY resident_id LIMIT $4",
            )
            .bind(i64::from(year)).bind(institution_id).bind(after).bind(i64::from(limit) + 1)
            .fetch_all(pool).await?;
            let items = rows.iter().map(|r| -> Result<ClearingMember> {
                Ok(ClearingMember {
                    institution_id: r.i64("institution_id")?,
                    resident_id: r.i64("resident_id")?,
                    age: r.i64("age")?,
                    condition: r.text("condition")?.into(),
                    days: [r.i64("days_contracted")?, r.i64("days_mt_hypertension")?, r.i64("days_mt_diabetes")?],
                    share_micro_fen: r.i64("share_micro_fen")?,
                    cost_fen: r.i64("cost_fen")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
            Ok(Page::from_overfetch(items, limit, |m| m.resident_id))
        })
    }

    /// How many persons each institution's clearing of a year counted: (institution,
    /// persons), by institution.
    pub async fn clearing_member_counts(&self, year: i32) -> Result<Vec<(i64, i64)>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT institution_id, COUNT(*) AS persons FROM clearing_members WHERE year = $1
                  GROUP BY institution_id ORDER BY institution_id",
            )
            .bind(i64::from(year)).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.i64("institution_id")?, r.i64("persons")?)))
                .collect()
        })
    }

    /// Every person of a year's clearing: (institution, Σ shares, Σ costs) — what the
    /// frozen budgets and costs must be reproduced from.
    pub async fn clearing_member_sums(&self, year: i32) -> Result<Vec<(i64, i128, i64)>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT institution_id, share_micro_fen, cost_fen FROM clearing_members WHERE year = $1
                  ORDER BY institution_id",
            )
            .bind(i64::from(year)).fetch_all(pool).await?;
            let mut out: Vec<(i64, i128, i64)> = Vec::new();
            for r in &rows {
                let id = r.i64("institution_id")?;
                let (share, cost) = (i128::from(r.i64("share_micro_fen")?), r.i64("cost_fen")?);
                match out.last_mut() {
                    Some(last) if last.0 == id => {
                        last.1 += share;
                        last.2 += cost;
                    }
                    _ => out.push((id, share, cost)),
                }
            }
            Ok(out)
        })
    }
}
