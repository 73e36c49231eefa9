//! Outflow and dispensing (处方流转, DOMAIN.md §4). The prescriber sends a passed
//! prescription to the pharmacy the patient chose, for pickup or delivery (again to
//! move it while it is unfilled: out of stock there). A pharmacist of the pharmacy
//! fills it — a prescription routed to no pharmacy may be presented at any — after
//! checking that it is still valid, that its signatures verify and who collects it
//! (the patient, or an agent with both identities recorded). The fill takes the packs
//! from the pharmacy's stock and marks the prescription used in one guarded
//! transaction (`Store::fill_prescription`): it is never filled twice. A delivery
//! goes out and is signed for with the code the patient was given, or comes back.

use gongti_core::IdNumber;
use gongti_core::audit::Outcome;
use gongti_core::pharmacy::dispense::{
    DeliveryStep, FillStatus, Fulfilment, Shortage, delivery_step, last_valid_day, plan_fill,
};
use gongti_core::pharmacy::prescription::RxStatus;
use gongti_core::problem::Problem;
use gongti_core::role::Role;
use gongti_store::{
    BoardItem, FillLineRecord, FillOutcome, FillRecord, FillStep, NewFill, Page, StockRecord,
    StoreError,
};

use crate::{App, AppError, AppResult, Ctx};

/// The longest delivery address and note.
pub const ADDRESS_MAX_CHARS: usize = 200;
/// The most packs a stock count may hold for one product.
pub const STOCK_PACKS_MAX: i64 = 1_000_000;

/// Who takes the drugs away.
#[derive(Debug, Clone)]
pub enum Handover {
    /// At the counter: the collector's name and ID number; `by_agent` when it is not
    /// the patient (the patient's identity is the prescription's).
    Pickup {
        collector_name: String,
        collector_id_number: String,
        by_agent: bool,
    },
    /// Packed for the delivery the prescription was routed for.
    Delivery,
}

impl App {
    /// A pharmacist of a pharmacy (any 药学 title: dispensing is not reviewing), in person.
    pub(super) fn pharmacy_of(&self, ctx: &Ctx) -> Option<i64> {
        let p = &ctx.principal;
        (p.role == Role::Pharmacist && p.scopes.is_none())
            .then_some(p.institution_id)
            .flatten()
    }

    /// Sends a passed prescription to a pharmacy for pickup or delivery (the prescriber,
    /// for the patient's choice). Audited `prescription.route`.
    pub async fn route_prescription(
        &self,
        ctx: &Ctx,
        id: i64,
        pharmacy_id: i64,
        fulfilment: Fulfilment,
        address: Option<&str>,
    ) -> AppResult<()> {
        let mut entry = self.rx_entry(ctx, "prescription.route", Outcome::Ok);
        entry.resource_id = Some(id.to_string());
        let record = self.rx_record(id, &mut entry).await?;
        if record.prescriber_staff_id != ctx.principal.staff_id || ctx.principal.scopes.is_some() {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        self.route_decided(record, entry, pharmacy_id, fulfilment, address)
            .await
    }

    /// Routes a prescription whose access was decided, audited on `entry`.
    pub(crate) async fn route_decided(
        &self,
        record: gongti_store::PrescriptionRecord,
        mut entry: gongti_core::audit::AuditEntry,
        pharmacy_id: i64,
        fulfilment: Fulfilment,
        address: Option<&str>,
    ) -> AppResult<()> {
        let id = record.id;
        let address = address.map(str::trim).filter(|a| !a.is_empty());
        let mut problems = Vec::new();
        if self.store.institution(pharmacy_id).await.is_err() {
            problems.push(gongti_core::problem::FieldProblem::new(
                "pharmacy_id",
                Problem::NotAllowed,
            ));
        }
        match address {
            None if fulfilment == Fulfilment::Delivery => problems.push(
                gongti_core::problem::FieldProblem::new("delivery_address", Problem::Required),
            ),
            Some(a) if a.chars().count() > ADDRESS_MAX_CHARS => {
                problems.push(gongti_core::problem::FieldProblem::new(
                    "delivery_address",
                    Problem::TooLong {
                        max_chars: ADDRESS_MAX_CHARS,
                    },
                ))
            }
            _ => {}
        }
        if !problems.is_empty() {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        }
        if record.status != RxStatus::Passed.code() {
            return Err(self
                .refuse(entry, AppError::Conflict("prescription_not_open_for_step"))
                .await);
        }
        entry.detail = Some(format!(
            "pharmacy={pharmacy_id};fulfilment={}",
            fulfilment.code()
        ));
        let address = address.filter(|_| fulfilment == Fulfilment::Delivery);
        match self
            .store
            .route_prescription(
                id,
                pharmacy_id,
                fulfilment.code(),
                address,
                self.now_us(),
                &[entry.clone()],
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("prescription_changed"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.flush().await
    }

    /// Fills a prescription at the signed-in pharmacist's pharmacy. Audited
    /// `prescription.dispense` with the patient.
    pub async fn dispense(&self, ctx: &Ctx, id: i64, handover: Handover) -> AppResult<FillRecord> {
        let mut entry = self.rx_entry(ctx, "prescription.dispense", Outcome::Ok);
        entry.resource_id = Some(id.to_string());
        let Some(pharmacy) = self.pharmacy_of(ctx) else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        // The status and the route read together (one row); filled already is said
        // first (a fill sends the prescription to the pharmacy that filled it).
        let gongti_store::PrescriptionRecord {
            status,
            pharmacy_id: routed,
            fulfilment,
            delivery_address: address,
            ..
        } = self.rx_record(id, &mut entry).await?;
        let conflict = match RxStatus::parse(&status) {
            Some(RxStatus::Passed) => None,
            Some(RxStatus::Dispensed) => Some("already_dispensed"),
            _ => Some("prescription_not_passed"),
        };
        if let Some(code) = conflict {
            return Err(self.refuse(entry, AppError::Conflict(code)).await);
        }
        if routed.is_some_and(|r| r != pharmacy) {
            return Err(self
                .refuse(entry, AppError::Conflict("routed_elsewhere"))
                .await);
        }
        // Who collects it, or the delivery it was routed for.
        let delivery = fulfilment.as_deref() == Some(Fulfilment::Delivery.code());
        let (collector, by_agent) = match (&handover, delivery) {
            (Handover::Delivery, true) => (None, false),
            (Handover::Delivery, false) => {
                return Err(self
                    .refuse(entry, AppError::invalid("fulfilment", Problem::NotAllowed))
                    .await);
            }
            (Handover::Pickup { .. }, true) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("routed_for_delivery"))
                    .await);
            }
            (
                Handover::Pickup {
                    collector_name,
                    collector_id_number,
                    by_agent,
                },
                false,
            ) => {
                let mut problems = Vec::new();
                let name = collector_name.trim();
                if gongti_core::text::visible_chars(name) == 0 {
                    problems.push(gongti_core::problem::FieldProblem::new(
                        "collector_name",
                        Problem::Required,
                    ));
                }
                let id_number = match IdNumber::parse(collector_id_number.trim(), self.today()) {
                    Ok(n) => Some(n),
                    Err(e) => {
                        problems.push(gongti_core::problem::FieldProblem::new(
                            "collector_id_number",
                            Problem::IdNumber(e),
                        ));
                        None
                    }
                };
                match id_number.filter(|_| problems.is_empty()) {
                    Some(n) => (Some((name.to_owned(), n)), *by_agent),
                    None => return Err(self.refuse(entry, AppError::Invalid(problems)).await),
                }
            }
        };
        // Still valid today, and authentic: the version's and the pass's signatures.
        let view = self.prescription_unaudited(id).await?;
        let issued_on = crate::readings::local_day(view.content.issued_at_us);
        if last_valid_day(issued_on, view.content.validity_days) < self.today() {
            return Err(self
                .refuse(entry, AppError::Conflict("prescription_expired"))
                .await);
        }
        let passed_signed = view
            .steps
            .iter()
            .zip(&view.steps_verified)
            .rev()
            .find(|(s, _)| s.step == "pass")
            .is_some_and(|(_, ok)| *ok == Some(true));
        if !(passed_signed && view.versions_verified.iter().all(|ok| *ok)) {
            return Err(self
                .refuse(entry, AppError::Conflict("signature_invalid"))
                .await);
        }
        let stock = self.store.stock(pharmacy).await?;
        let on_hand = |code: &str| {
            stock
                .iter()
                .find(|s| s.product_code == code)
                .map_or(0, |s| s.on_hand_packs)
        };
        // A settled prescription is filled with the products it was settled for.
        let settled = self
            .store
            .settlements_of(id)
            .await?
            .into_iter()
            .find(|s| s.status == "settled");
        let settlement = settled.as_ref().map(|s| s.setl_id.clone());
        let plan = match &settled {
            Some(s) => Ok(settled_lines(self.knowledge(), &s.lines)?),
            None => plan_fill(self.knowledge(), &view.content.lines, &on_hand),
        };
        let plan = match plan {
            Ok(plan) => plan,
            Err(shortage) => {
                entry.detail = Some(match &shortage {
                    Shortage::NoProduct { line } => format!("no_product;line={line}"),
                    Shortage::OutOfStock { line, .. } => format!("out_of_stock;line={line}"),
                });
                let code = match shortage {
                    Shortage::NoProduct { .. } => "no_product",
                    Shortage::OutOfStock { .. } => "out_of_stock",
                };
                return Err(self.refuse(entry, AppError::Conflict(code)).await);
            }
        };
        let code = delivery.then(recipient_code);
        let status = if delivery {
            FillStatus::Packed
        } else {
            FillStatus::Collected
        };
        entry.detail = Some(format!(
            "pharmacy={pharmacy};fulfilment={};by_agent={by_agent}",
            if delivery { "delivery" } else { "pickup" }
        ));
        let outcome = self
            .store
            .fill_prescription(
                &NewFill {
                    prescription_id: id,
                    pharmacy_id: pharmacy,
                    fulfilment: if delivery { "delivery" } else { "pickup" },
                    status: status.code(),
                    staff_id: ctx.principal.staff_id,
                    collector_name: collector.as_ref().map(|(n, _)| n.as_str()),
                    collector_id_number: collector.as_ref().map(|(_, n)| n.as_str()),
                    by_agent,
                    delivery_address: address.as_deref().filter(|_| delivery),
                    recipient_code: code.as_deref(),
                    settlement: settlement.as_deref(),
                    lines: plan
                        .iter()
                        .map(|l| FillLineRecord {
                            line_no: i64::try_from(l.line).unwrap_or(i64::MAX),
                            product_code: l.product_code.clone(),
                            packs: i64::from(l.packs),
                            amount_fen: l.amount_fen,
                        })
                        .collect(),
                    now_us: self.now_us(),
                },
                std::slice::from_ref(&entry),
            )
            .await?;
        match outcome {
            FillOutcome::Filled => {}
            FillOutcome::NotFillable => {
                return Err(self
                    .refuse(entry, AppError::Conflict("already_dispensed"))
                    .await);
            }
            FillOutcome::OutOfStock { .. } => {
                return Err(self.refuse(entry, AppError::Conflict("out_of_stock")).await);
            }
            FillOutcome::SettlementChanged => {
                return Err(self
                    .refuse(entry, AppError::Conflict("settlement_changed"))
                    .await);
            }
        }
        self.audit.flush().await?;
        self.store
            .fill(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("prescription {id} filled but not found").into())
    }

    /// Moves a delivery on (the pharmacy's staff; the recipient's code to sign for it,
    /// a note when it fails). Audited `prescription.delivery`.
    pub async fn delivery_step(
        &self,
        ctx: &Ctx,
        id: i64,
        step: DeliveryStep,
        code: Option<&str>,
        note: Option<&str>,
    ) -> AppResult<FillRecord> {
        let mut entry = self.rx_entry(ctx, "prescription.delivery", Outcome::Ok);
        entry.resource_id = Some(id.to_string());
        let Some(pharmacy) = self.pharmacy_of(ctx) else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        let Some(fill) = self.store.fill(id).await? else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        let record = self.store.prescription(id).await?;
        entry.patient_id = Some(record.resident_id);
        if fill.pharmacy_id != pharmacy {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > ADDRESS_MAX_CHARS) {
            return Err(self
                .refuse(
                    entry,
                    AppError::invalid(
                        "note",
                        Problem::TooLong {
                            max_chars: ADDRESS_MAX_CHARS,
                        },
                    ),
                )
                .await);
        }
        if step == DeliveryStep::Fail && note.is_none() {
            return Err(self
                .refuse(entry, AppError::invalid("note", Problem::Required))
                .await);
        }
        let from = FillStatus::parse(&fill.status)
            .ok_or_else(|| anyhow::anyhow!("fill {id} has an unknown status"))?;
        let Some(to) = delivery_step(from, step) else {
            return Err(self
                .refuse(entry, AppError::Conflict("delivery_not_open_for_step"))
                .await);
        };
        if step == DeliveryStep::Deliver && code.map(str::trim) != fill.recipient_code.as_deref() {
            return Err(self
                .refuse(
                    entry,
                    AppError::invalid("recipient_code", Problem::NotAllowed),
                )
                .await);
        }
        entry.detail = Some(format!("from={};to={}", from.code(), to.code()));
        match self
            .store
            .fill_step(
                &FillStep {
                    id,
                    from: from.code(),
                    to: to.code(),
                    staff_id: Some(ctx.principal.staff_id),
                    note,
                    now_us: self.now_us(),
                },
                std::slice::from_ref(&entry),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Changed(_)) => {
                return Err(self.refuse(entry, AppError::Conflict("fill_changed")).await);
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.flush().await?;
        self.store
            .fill(id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("fill {id} vanished").into())
    }

    /// The signed-in pharmacist's pharmacy's stock.
    pub async fn pharmacy_stock(&self, ctx: &Ctx) -> AppResult<Vec<StockRecord>> {
        let Some(pharmacy) = self.pharmacy_of(ctx) else {
            let entry = self.rx_entry(ctx, "stock.read", Outcome::Denied);
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        Ok(self.store.stock(pharmacy).await?)
    }

    /// Counts a product's stock at the signed-in pharmacist's pharmacy (audited
    /// `stock.set`).
    pub async fn set_stock(&self, ctx: &Ctx, product_code: &str, packs: i64) -> AppResult<()> {
        let mut entry = self.rx_entry(ctx, "stock.set", Outcome::Ok);
        entry.resource_type = "Medication".into();
        entry.resource_id = Some(product_code.chars().take(64).collect());
        let Some(pharmacy) = self.pharmacy_of(ctx) else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        if self.knowledge().product(product_code).is_none() {
            return Err(self.refuse(entry, AppError::NotFound).await);
        }
        if !(0..=STOCK_PACKS_MAX).contains(&packs) {
            return Err(self
                .refuse(
                    entry,
                    AppError::invalid(
                        "on_hand_packs",
                        Problem::OutOfRange {
                            min: "0",
                            max: "1000000",
                        },
                    ),
                )
                .await);
        }
        entry.detail = Some(format!("pharmacy={pharmacy};packs={packs}"));
        self.store
            .set_stock(pharmacy, product_code, packs, self.now_us(), &[entry])
            .await?;
        self.audit.flush().await
    }

    /// The signed-in pharmacist's board: prescriptions routed to the pharmacy and
    /// waiting, deliveries under way. The listing is audited.
    pub async fn pharmacy_board(
        &self,
        ctx: &Ctx,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<BoardItem>> {
        let mut entry = self.rx_entry(ctx, "prescription.board", Outcome::Ok);
        let Some(pharmacy) = self.pharmacy_of(ctx) else {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        };
        let page = self.store.pharmacy_board(pharmacy, after, limit).await?;
        entry.resource_id = Some(gongti_core::coverage::encode_ids(
            page.items.iter().map(|b| b.resident_id),
        ));
        entry.detail = Some(format!("{} listed", page.items.len()));
        self.audit.record(vec![entry]).await?;
        Ok(page)
    }
}

/// The lines a settlement was made for, as a fill's plan (product and packs).
fn settled_lines(
    kb: &gongti_core::pharmacy::Knowledge,
    lines: &str,
) -> AppResult<Vec<gongti_core::pharmacy::dispense::FillLine>> {
    let list: Vec<serde_json::Value> = serde_json::from_str(lines)
        .map_err(|e| anyhow::anyhow!("a settlement's lines do not read: {e}"))?;
    list.iter()
        .enumerate()
        .map(|(line, l)| {
            let code = l["med_list_codg"].as_str().unwrap_or_default().to_owned();
            let packs = l["cnt"]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0);
            let price = kb.product(&code).map_or(0, |p| p.price_fen);
            Ok(gongti_core::pharmacy::dispense::FillLine {
                line,
                amount_fen: price * i64::from(packs),
                product_code: code,
                packs,
            })
        })
        .collect()
}

/// Six random digits the recipient gives at the door.
fn recipient_code() -> String {
    let mut b = [0u8; 4];
    getrandom::fill(&mut b).expect("the operating system's random source");
    format!("{:06}", u32::from_le_bytes(b) % 1_000_000)
}
