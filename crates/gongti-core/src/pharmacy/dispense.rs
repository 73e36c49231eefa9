//! Outflow and dispensing (处方流转, DOMAIN.md §4): where a passed prescription goes,
//! whether it is still valid, which products fill its lines from a pharmacy's stock,
//! and the delivery's steps. Pure: the application reads the stock and records the
//! fill in one guarded transaction, so a prescription is filled once.
//!
//! ```text
//!   pickup:   passed ─dispense─▶ collected
//!   delivery: passed ─dispense─▶ packed ─dispatch─▶ dispatched ─in_transit─▶ in_transit
//!             in_transit / dispatched ─deliver (recipient's code)─▶ delivered
//!             in_transit / dispatched ─fail─▶ failed ─return─▶ returned
//! ```

use time::Date;

use crate::pharmacy::knowledge::{DoseUnit, Knowledge, Product};
use crate::pharmacy::prescription::RxLine;

/// How the patient takes the drugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fulfilment {
    /// 到店自取 (the patient or an agent).
    Pickup,
    /// 配送到家.
    Delivery,
}

impl Fulfilment {
    pub fn code(self) -> &'static str {
        match self {
            Fulfilment::Pickup => "pickup",
            Fulfilment::Delivery => "delivery",
        }
    }

    pub fn parse(code: &str) -> Option<Fulfilment> {
        match code {
            "pickup" => Some(Fulfilment::Pickup),
            "delivery" => Some(Fulfilment::Delivery),
            _ => None,
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Fulfilment::Pickup => "到店自取",
            Fulfilment::Delivery => "配送到家",
        }
    }
}

/// Where a fill stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillStatus {
    /// Handed over at the counter (pickup).
    Collected,
    /// Dispensed and packed for delivery.
    Packed,
    Dispatched,
    InTransit,
    Delivered,
    Failed,
    /// Back at the pharmacy after a failed delivery.
    Returned,
}

impl FillStatus {
    pub const ALL: [FillStatus; 7] = [
        FillStatus::Collected,
        FillStatus::Packed,
        FillStatus::Dispatched,
        FillStatus::InTransit,
        FillStatus::Delivered,
        FillStatus::Failed,
        FillStatus::Returned,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FillStatus::Collected => "collected",
            FillStatus::Packed => "packed",
            FillStatus::Dispatched => "dispatched",
            FillStatus::InTransit => "in_transit",
            FillStatus::Delivered => "delivered",
            FillStatus::Failed => "failed",
            FillStatus::Returned => "returned",
        }
    }

    pub fn parse(code: &str) -> Option<FillStatus> {
        FillStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            FillStatus::Collected => "已取药",
            FillStatus::Packed => "已调配待发出",
            FillStatus::Dispatched => "已发出",
            FillStatus::InTransit => "配送中",
            FillStatus::Delivered => "已签收",
            FillStatus::Failed => "配送失败",
            FillStatus::Returned => "已退回药房",
        }
    }
}

/// A step of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStep {
    Dispatch,
    InTransit,
    /// The recipient confirms with the code they were given.
    Deliver,
    Fail,
    Return,
}

impl DeliveryStep {
    pub const ALL: [DeliveryStep; 5] = [
        DeliveryStep::Dispatch,
        DeliveryStep::InTransit,
        DeliveryStep::Deliver,
        DeliveryStep::Fail,
        DeliveryStep::Return,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DeliveryStep::Dispatch => "dispatch",
            DeliveryStep::InTransit => "in_transit",
            DeliveryStep::Deliver => "deliver",
            DeliveryStep::Fail => "fail",
            DeliveryStep::Return => "return",
        }
    }

    pub fn parse(code: &str) -> Option<DeliveryStep> {
        DeliveryStep::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            DeliveryStep::Dispatch => "发出",
            DeliveryStep::InTransit => "配送中",
            DeliveryStep::Deliver => "签收",
            DeliveryStep::Fail => "配送失败",
            DeliveryStep::Return => "退回药房",
        }
    }
}

/// The status after a delivery step, or `None` when the fill's status does not allow it.
pub fn delivery_step(status: FillStatus, step: DeliveryStep) -> Option<FillStatus> {
    use DeliveryStep as S;
    use FillStatus as F;
    match (status, step) {
        (F::Packed, S::Dispatch) => Some(F::Dispatched),
        (F::Dispatched, S::InTransit) => Some(F::InTransit),
        (F::Dispatched | F::InTransit, S::Deliver) => Some(F::Delivered),
        (F::Dispatched | F::InTransit, S::Fail) => Some(F::Failed),
        (F::Failed, S::Return) => Some(F::Returned),
        _ => None,
    }
}

/// The last day a prescription may be filled: it is valid on its day of issue and, when
/// the doctor extended it, until `validity_days` days in all (DOMAIN.md §4).
pub fn last_valid_day(issued_on: Date, validity_days: u32) -> Date {
    let extra = i64::from(validity_days.max(1) - 1);
    issued_on
        .checked_add(time::Duration::days(extra))
        .unwrap_or(issued_on)
}

/// One line filled: the product and how many packs.
#[derive(Debug, Clone, PartialEq)]
pub struct FillLine {
    pub line: usize,
    pub product_code: String,
    pub packs: u32,
    /// The price of the packs, in fen.
    pub amount_fen: i64,
}

/// Why a prescription cannot be filled here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shortage {
    /// No product of the line's ingredient and route in the formulary.
    NoProduct { line: usize },
    /// Not enough packs of any product of the line's ingredient in stock.
    OutOfStock { line: usize, generic_name: String },
}

/// The products that fill each line from a pharmacy's stock (`on_hand` packs by product
/// code): of the line's ingredient and route, the first in the formulary's order with
/// enough packs, counting what earlier lines of the same prescription take.
pub fn plan_fill(
    kb: &Knowledge,
    lines: &[RxLine],
    on_hand: &dyn Fn(&str) -> i64,
) -> Result<Vec<FillLine>, Shortage> {
    let mut taken: Vec<(String, i64)> = Vec::new();
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let ingredient = kb
            .find_ingredient(&l.generic_name)
            .ok_or(Shortage::NoProduct { line: i })?;
        let unit = DoseUnit::parse(&l.dose_unit).ok_or(Shortage::NoProduct { line: i })?;
        let candidates: Vec<(&Product, u32)> = kb
            .products_of(ingredient)
            .filter(|p| p.route == l.route)
            .filter_map(|p| Some((p, p.packs_for(l.dose, unit, l.times_per_day, l.days)?)))
            .collect();
        if candidates.is_empty() {
            return Err(Shortage::NoProduct { line: i });
        }
        let already = |code: &str| {
            taken
                .iter()
                .filter(|(c, _)| c == code)
                .map(|(_, n)| n)
                .sum::<i64>()
        };
        let (product, packs) = candidates
            .into_iter()
            .find(|(p, packs)| on_hand(&p.code) - already(&p.code) >= i64::from(*packs))
            .ok_or_else(|| Shortage::OutOfStock {
                line: i,
                generic_name: l.generic_name.clone(),
            })?;
        taken.push((product.code.clone(), i64::from(packs)));
        out.push(FillLine {
            line: i,
            product_code: product.code.clone(),
            packs,
            amount_fen: product.price_fen * i64::from(packs),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pharmacy::Route;

    fn line(name: &str, dose: f64, unit: &str, times: u32, days: u32) -> RxLine {
        RxLine {
            generic_name: name.into(),
            dose,
            dose_unit: unit.into(),
            times_per_day: times,
            route: Route::Oral,
            days,
        }
    }

    #[test]
    fn a_fill_takes_the_first_product_in_stock_and_counts_earlier_lines() {
        let kb = Knowledge::builtin();
        let stock = |code: &str| match code {
            "amlodipine-tablet-5mg-28" => 3,
            "metformin-tablet-500mg-20" => 2,
            "nifedipine-controlled_tablet-30mg-7" => 0,
            "nifedipine-tablet-10mg-100" => 5,
            _ => 0,
        };
        let fill = plan_fill(
            kb,
            &[
                line("苯磺酸氨氯地平片", 5.0, "mg", 1, 56),
                line("二甲双胍", 0.5, "g", 2, 14),
                line("硝苯地平", 10.0, "mg", 3, 7),
            ],
            &stock,
        )
        .unwrap();
        let picked: Vec<(&str, u32)> = fill
            .iter()
            .map(|f| (f.product_code.as_str(), f.packs))
            .collect();
        assert_eq!(
            picked,
            [
                ("amlodipine-tablet-5mg-28", 2),
                ("metformin-tablet-500mg-20", 2),
                // The controlled-release tablets are out; the plain ones fill it.
                ("nifedipine-tablet-10mg-100", 1),
            ]
        );
        assert_eq!(fill[0].amount_fen, 2 * 2380);
        // Two lines of amlodipine need 4 boxes where 3 are left: the second is short.
        let short = plan_fill(
            kb,
            &[
                line("氨氯地平", 5.0, "mg", 1, 56),
                line("氨氯地平", 5.0, "mg", 1, 56),
            ],
            &stock,
        );
        assert_eq!(
            short,
            Err(Shortage::OutOfStock {
                line: 1,
                generic_name: "氨氯地平".into()
            })
        );
        // An inhaled line has no oral product.
        let mut inhaled = line("氨氯地平", 5.0, "mg", 1, 7);
        inhaled.route = Route::Inhaled;
        assert_eq!(
            plan_fill(kb, &[inhaled], &stock),
            Err(Shortage::NoProduct { line: 0 })
        );
    }

    /// DOMAIN.md §4: valid on the day of issue, extended to at most 3 days in all;
    /// reference/pharmacy.md §7 vector 5.
    #[test]
    fn a_prescription_is_valid_on_its_day_and_its_extension() {
        let d = time::macros::date!(2026 - 12 - 04);
        assert_eq!(last_valid_day(d, 1), d);
        assert_eq!(last_valid_day(d, 0), d);
        assert_eq!(last_valid_day(d, 3), time::macros::date!(2026 - 12 - 06));
    }

    #[test]
    fn a_delivery_goes_out_and_is_signed_for_or_comes_back() {
        use DeliveryStep as S;
        use FillStatus as F;
        let table = [
            (F::Packed, S::Dispatch, Some(F::Dispatched)),
            (F::Dispatched, S::InTransit, Some(F::InTransit)),
            (F::InTransit, S::Deliver, Some(F::Delivered)),
            (F::Dispatched, S::Deliver, Some(F::Delivered)),
            (F::InTransit, S::Fail, Some(F::Failed)),
            (F::Failed, S::Return, Some(F::Returned)),
            (F::Collected, S::Dispatch, None),
            (F::Packed, S::Deliver, None),
            (F::Delivered, S::Fail, None),
            (F::Returned, S::Dispatch, None),
        ];
        for (from, step, want) in table {
            assert_eq!(delivery_step(from, step), want, "{from:?} {step:?}");
        }
        for s in FillStatus::ALL {
            assert_eq!(FillStatus::parse(s.code()), Some(s));
        }
        for s in DeliveryStep::ALL {
            assert_eq!(DeliveryStep::parse(s.code()), Some(s));
        }
    }
}
