//! Outflow and dispensing (处方流转, DOMAIN.md §4): where a passed prescription goes,
//! each pharmacy's stock, and the one fill of a prescription with its delivery.
//!
//! A fill is one transaction: the prescription moves from `passed` to `dispensed` only
//! if it is still passed and routed to this pharmacy or to none (a guarded update: on
//! PostgreSQL a second filler waits for the first and then finds nothing to update; on
//! SQLite writers take turns), every line's packs leave the stock only if enough are
//! left (`on_hand_packs >= n`, and a CHECK keeps it from going below zero), and the
//! fill's row is keyed by the prescription. Whatever fails rolls all of it back.

use gongti_core::audit::AuditEntry;

use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::{Page, Result, Store, StoreError, on_read, on_write};

const COLLECTOR_ID_COLUMN: &str = "prescription_fills.collector_id_number";
const RECIPIENT_CODE_COLUMN: &str = "prescription_fills.recipient_code";

/// A line as filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillLineRecord {
    pub line_no: i64,
    pub product_code: String,
    pub packs: i64,
    pub amount_fen: i64,
}

/// A fill to record.
#[derive(Debug, Clone)]
pub struct NewFill<'a> {
    pub prescription_id: i64,
    pub pharmacy_id: i64,
    pub fulfilment: &'a str,
    /// `collected` (pickup) or `packed` (delivery).
    pub status: &'a str,
    pub staff_id: i64,
    pub collector_name: Option<&'a str>,
    pub collector_id_number: Option<&'a str>,
    pub by_agent: bool,
    pub delivery_address: Option<&'a str>,
    /// The code the recipient gives at the door (sealed at rest).
    pub recipient_code: Option<&'a str>,
    /// The settlement the lines came from (`None`: the prescription was not settled);
    /// the fill goes ahead only if that is still so.
    pub settlement: Option<&'a str>,
    pub lines: Vec<FillLineRecord>,
    pub now_us: i64,
}

/// What a fill came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FillOutcome {
    Filled,
    /// Not passed, already filled, or routed to another pharmacy.
    NotFillable,
    /// Not enough packs of this line's product left.
    OutOfStock {
        line_no: i64,
    },
    /// Settled or reversed since the fill was planned.
    SettlementChanged,
}

/// A fill as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillRecord {
    pub prescription_id: i64,
    pub pharmacy_id: i64,
    pub pharmacy_name: String,
    pub fulfilment: String,
    pub status: String,
    pub staff_id: i64,
    pub staff_name: String,
    pub collector_name: Option<String>,
    pub collector_id_number: Option<String>,
    pub by_agent: bool,
    pub delivery_address: Option<String>,
    pub recipient_code: Option<String>,
    pub amount_fen: i64,
    pub dispensed_at_us: i64,
    pub changed_at_us: i64,
    pub lines: Vec<FillLineRecord>,
    pub events: Vec<FillEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FillEvent {
    pub status: String,
    pub staff_name: Option<String>,
    pub note: Option<String>,
    pub at_us: i64,
}

/// One product's stock at a pharmacy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockRecord {
    pub product_code: String,
    pub on_hand_packs: i64,
    pub updated_at_us: i64,
}

/// A delivery's step to record.
#[derive(Debug, Clone, Copy)]
pub struct FillStep<'a> {
    pub id: i64,
    pub from: &'a str,
    pub to: &'a str,
    pub staff_id: Option<i64>,
    pub note: Option<&'a str>,
    pub now_us: i64,
}

/// A prescription on a pharmacy's board: routed here and waiting, or a fill under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardItem {
    pub prescription_id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub fulfilment: Option<String>,
    /// The prescription's status (`passed`) or the fill's.
    pub status: String,
    pub delivery_address: Option<String>,
    pub changed_at_us: i64,
}

const INSERT_EVENT: &str =
    "INSERT INTO prescription_fill_events (prescription_id, status, staff_id, note, at_us)
    VALUES ($1, $2, $3, $4, $5)";

impl Store {
    /// Sends a passed prescription to a pharmacy, for pickup or delivery (the patient's
    /// choice; again to move it while it is unfilled).
    pub async fn route_prescription(
        &self,
        id: i64,
        pharmacy_id: i64,
        fulfilment: &str,
        address: Option<&str>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE prescriptions SET pharmacy_id = $1, fulfilment = $2, delivery_address = $3, changed_at_us = $4
                 WHERE id = $5 AND status = 'passed'",
            )
            .bind(pharmacy_id).bind(fulfilment).bind(address).bind(now_us).bind(id)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Changed("prescription"));
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    /// A pharmacy's stock, by product code.
    pub async fn stock(&self, institution_id: i64) -> Result<Vec<StockRecord>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT product_code, on_hand_packs, updated_at_us FROM drug_stock
                 WHERE institution_id = $1 ORDER BY product_code",
            )
            .bind(institution_id).fetch_all(pool).await?;
            rows.iter().map(|r| Ok(StockRecord {
                product_code: r.text("product_code")?,
                on_hand_packs: r.i64("on_hand_packs")?,
                updated_at_us: r.i64("updated_at_us")?,
            })).collect()
        })
    }

    /// Sets a product's stock at a pharmacy (a count, or goods received), audited.
    pub async fn set_stock(
        &self,
        institution_id: i64,
        product_code: &str,
        on_hand_packs: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO drug_stock (institution_id, product_code, on_hand_packs, updated_at_us)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (institution_id, product_code) DO UPDATE SET
                   on_hand_packs = excluded.on_hand_packs, updated_at_us = excluded.updated_at_us",
            )
            .bind(institution_id).bind(product_code).bind(on_hand_packs).bind(now_us)
            .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Fills a prescription in one transaction (see the module's note), with its audit
    /// records.
    pub async fn fill_prescription(
        &self,
        f: &NewFill<'_>,
        audit: &[AuditEntry],
    ) -> Result<FillOutcome> {
        let collector_id = f
            .collector_id_number
            .map(|n| self.keys.seal_text(COLLECTOR_ID_COLUMN, n));
        let code = f
            .recipient_code
            .map(|c| self.keys.seal_text(RECIPIENT_CODE_COLUMN, c));
        let amount: i64 = f.lines.iter().map(|l| l.amount_fen).sum();
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE prescriptions SET status = 'dispensed', pharmacy_id = $1, changed_at_us = $2
                 WHERE id = $3 AND status = 'passed' AND (pharmacy_id IS NULL OR pharmacy_id = $1)",
            )
            .bind(f.pharmacy_id).bind(f.now_us).bind(f.prescription_id)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Ok(FillOutcome::NotFillable);
            }
            // The row is this transaction's now: a settlement or reversal is either
            // committed and seen here, or waits.
            let in_force: Option<(String,)> = sqlx::query_as(
                "SELECT setl_id FROM insurance_settlements WHERE prescription_id = $1 AND status = 'settled'",
            )
            .bind(f.prescription_id).fetch_optional(&mut *tx).await?;
            if in_force.as_ref().map(|(id,)| id.as_str()) != f.settlement {
                return Ok(FillOutcome::SettlementChanged);
            }
            // Products taken in one order (their codes), so that two fills never wait
            // on each other's rows crosswise.
            let mut by_product: Vec<&FillLineRecord> = f.lines.iter().collect();
            by_product.sort_by(|a, b| a.product_code.cmp(&b.product_code));
            for l in by_product {
                let taken = sqlx::query(
                    "UPDATE drug_stock SET on_hand_packs = on_hand_packs - $1, updated_at_us = $2
                     WHERE institution_id = $3 AND product_code = $4 AND on_hand_packs >= $1",
                )
                .bind(l.packs).bind(f.now_us).bind(f.pharmacy_id).bind(&l.product_code)
                .execute(&mut *tx).await?;
                if taken.rows_affected() == 0 {
                    return Ok(FillOutcome::OutOfStock { line_no: l.line_no });
                }
            }
            sqlx::query(
                "INSERT INTO prescription_fills (prescription_id, pharmacy_id, fulfilment, status, staff_id,
                     collector_name, collector_id_number, by_agent, delivery_address, recipient_code,
                     amount_fen, dispensed_at_us, changed_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
            )
            .bind(f.prescription_id).bind(f.pharmacy_id).bind(f.fulfilment).bind(f.status).bind(f.staff_id)
            .bind(f.collector_name).bind(collector_id.as_deref()).bind(f.by_agent).bind(f.delivery_address)
            .bind(code.as_deref()).bind(amount).bind(f.now_us)
            .execute(&mut *tx).await?;
            for l in &f.lines {
                sqlx::query(
                    "INSERT INTO prescription_fill_lines (prescription_id, line_no, product_code, packs, amount_fen)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(f.prescription_id).bind(l.line_no).bind(&l.product_code).bind(l.packs).bind(l.amount_fen)
                .execute(&mut *tx).await?;
            }
            sqlx::query(INSERT_EVENT)
                .bind(f.prescription_id).bind(f.status).bind(Some(f.staff_id)).bind(None::<String>).bind(f.now_us)
                .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(FillOutcome::Filled)
        })
    }

    /// Moves a delivery on, only from `step.from` (else [`StoreError::Changed`]).
    pub async fn fill_step(&self, step: &FillStep<'_>, audit: &[AuditEntry]) -> Result<()> {
        let FillStep {
            id,
            from,
            to,
            staff_id,
            note,
            now_us,
        } = *step;
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE prescription_fills SET status = $1, changed_at_us = $2 WHERE prescription_id = $3 AND status = $4",
            )
            .bind(to).bind(now_us).bind(id).bind(from)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Changed("fill"));
            }
            sqlx::query(INSERT_EVENT)
                .bind(id).bind(to).bind(staff_id).bind(note).bind(now_us)
                .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    /// A prescription's fill with its lines and events, if it was filled.
    pub async fn fill(&self, id: i64) -> Result<Option<FillRecord>> {
        let fill = on_write!(self, pool => {
            let Some(row) = sqlx::query(
                "SELECT f.*, i.name AS pharmacy_name, s.name AS staff_name FROM prescription_fills f
                 JOIN institutions i ON i.id = f.pharmacy_id JOIN staff s ON s.id = f.staff_id
                 WHERE f.prescription_id = $1",
            )
            .bind(id).fetch_optional(pool).await? else {
                return Ok(None);
            };
            let lines = sqlx::query(
                "SELECT line_no, product_code, packs, amount_fen FROM prescription_fill_lines
                 WHERE prescription_id = $1 ORDER BY line_no",
            )
            .bind(id).fetch_all(pool).await?;
            let events = sqlx::query(
                "SELECT e.status, s.name AS staff_name, e.note, e.at_us FROM prescription_fill_events e
                 LEFT JOIN staff s ON s.id = e.staff_id WHERE e.prescription_id = $1 ORDER BY e.id",
            )
            .bind(id).fetch_all(pool).await?;
            FillRecord {
                prescription_id: row.i64("prescription_id")?,
                pharmacy_id: row.i64("pharmacy_id")?,
                pharmacy_name: row.text("pharmacy_name")?,
                fulfilment: row.text("fulfilment")?,
                status: row.text("status")?,
                staff_id: row.i64("staff_id")?,
                staff_name: row.text("staff_name")?,
                collector_name: row.opt_text("collector_name")?,
                collector_id_number: row.opt_text("collector_id_number")?,
                by_agent: row.bool("by_agent")?,
                delivery_address: row.opt_text("delivery_address")?,
                recipient_code: row.opt_text("recipient_code")?,
                amount_fen: row.i64("amount_fen")?,
                dispensed_at_us: row.i64("dispensed_at_us")?,
                changed_at_us: row.i64("changed_at_us")?,
                lines: lines.iter().map(|r| Ok(FillLineRecord {
                    line_no: r.i64("line_no")?,
                    product_code: r.text("product_code")?,
                    packs: r.i64("packs")?,
                    amount_fen: r.i64("amount_fen")?,
                })).collect::<Result<_>>()?,
                events: events.iter().map(|r| Ok(FillEvent {
                    status: r.text("status")?,
                    staff_name: r.opt_text("staff_name")?,
                    note: r.opt_text("note")?,
                    at_us: r.i64("at_us")?,
                })).collect::<Result<_>>()?,
            }
        });
        let open = |column: &str, v: Option<String>| -> Result<Option<String>> {
            v.map(|t| self.keys.open_text(column, &t)).transpose()
        };
        Ok(Some(FillRecord {
            collector_id_number: open(COLLECTOR_ID_COLUMN, fill.collector_id_number.clone())?,
            recipient_code: open(RECIPIENT_CODE_COLUMN, fill.recipient_code.clone())?,
            ..fill
        }))
    }

    /// A pharmacy's board: passed prescriptions routed here and waiting, and its
    /// deliveries under way (packed, dispatched, in transit, failed), by prescription.
    pub async fn pharmacy_board(
        &self,
        institution_id: i64,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<BoardItem>> {
        let sql = String::from(
            "SELECT * FROM (
               SELECT p.id AS prescription_id, p.resident_id, r.name AS resident_name, p.fulfilment, p.status,
                      p.delivery_address, p.changed_at_us
                 FROM prescriptions p JOIN residents r ON r.id = p.resident_id
                WHERE p.pharmacy_id = $1 AND p.status = 'passed'
               UNION ALL
               SELECT f.prescription_id, p.resident_id, r.name, f.fulfilment, f.status, f.delivery_address, f.changed_at_us
                 FROM prescription_fills f JOIN prescriptions p ON p.id = f.prescription_id
                 JOIN residents r ON r.id = p.resident_id
                WHERE f.pharmacy_id = $1 AND f.status IN ('packed', 'dispatched', 'in_transit', 'failed')
             ) b WHERE ($2 IS NULL OR b.prescription_id > $2) ORDER BY b.prescription_id LIMIT $3",
        );
        let items: Vec<BoardItem> = on_read!(self, pool => {
            let rows = sqlx::query(trusted(&sql))
                .bind(institution_id).bind(after).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?;
            rows.iter().map(|r| Ok(BoardItem {
                prescription_id: r.i64("prescription_id")?,
                resident_id: r.i64("resident_id")?,
                resident_name: r.text("resident_name")?,
                fulfilment: r.opt_text("fulfilment")?,
                status: r.text("status")?,
                delivery_address: r.opt_text("delivery_address")?,
                changed_at_us: r.i64("changed_at_us")?,
            })).collect::<Result<_>>()?
        });
        Ok(Page::from_overfetch(items, limit, |b| b.prescription_id))
    }

    /// Seals again under the current key the collectors' ID numbers and the recipients'
    /// codes sealed with an older one (`Store::reseal_personal_data`); returns how many
    /// fills.
    pub(crate) async fn reseal_fills(
        &self,
        stale: &dyn Fn(&Option<String>) -> bool,
    ) -> Result<u64> {
        let rows: Vec<(i64, Option<String>, Option<String>)> = on_write!(self, pool => {
            sqlx::query_as(
                "SELECT prescription_id, collector_id_number, recipient_code FROM prescription_fills
                 WHERE collector_id_number IS NOT NULL OR recipient_code IS NOT NULL",
            )
            .fetch_all(pool).await?
        });
        let mut done = 0;
        for (id, id_number, code) in rows {
            if !(stale(&id_number) || stale(&code)) {
                continue;
            }
            let again = |column: &str, v: Option<String>| -> Result<Option<String>> {
                v.map(|t| {
                    Ok(self
                        .keys
                        .seal_text(column, &self.keys.open_text(column, &t)?))
                })
                .transpose()
            };
            let id_number = again(COLLECTOR_ID_COLUMN, id_number)?;
            let code = again(RECIPIENT_CODE_COLUMN, code)?;
            on_write!(self, pool => {
                sqlx::query(
                    "UPDATE prescription_fills SET collector_id_number = $1, recipient_code = $2
                     WHERE prescription_id = $3",
                )
                .bind(id_number).bind(code).bind(id).execute(pool).await?;
            });
            done += 1;
        }
        Ok(done)
    }
}
