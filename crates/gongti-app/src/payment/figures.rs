//! The city dashboard's payment figures (issue 17 point 9): from a year's clearing,
//! each institution's surplus rate, fund-paid cost per enrolled person and share of
//! that cost above the grassroots, summed by district and for the city
//! (`core::payment::figures`), for the institutions the viewer may see. Each figure
//! opens its list: a district its institutions, an institution its clearing (B to the
//! balance) and its persons with their costs.

use gongti_core::payment::costs::CostTally;
use gongti_core::payment::figures::PaymentTally;

use super::clearing::InstitutionClearing;
use crate::{App, AppResult, Ctx};

/// An institution's figures of a cleared year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionFigures {
    pub institution_id: i64,
    pub name: String,
    pub district_code: String,
    pub community_name: Option<String>,
    /// The clearing's state (`computed`, `confirmed`, …).
    pub state: String,
    pub tally: PaymentTally,
}

/// A district's sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictFigures {
    pub code: String,
    pub name: String,
    pub tally: PaymentTally,
}

/// A year's payment figures for what the viewer may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFigures {
    pub year: i32,
    pub scheme_version: i64,
    /// Whether every clearing of the year is settled and the year closed.
    pub closed: bool,
    pub total: PaymentTally,
    /// By district code, the districts the viewer may see.
    pub districts: Vec<DistrictFigures>,
    /// The institutions, of `district` when one was asked for; by district, then name.
    pub institutions: Vec<InstitutionFigures>,
}

fn tally_of(c: &InstitutionClearing, persons: i64) -> PaymentTally {
    let levels = CostTally {
        by_source_fen: c.record.row.cost_by_source_fen,
        by_level_fen: c.record.row.cost_by_level_fen,
        lines: c.record.row.cost_lines,
    };
    PaymentTally {
        institutions: 1,
        persons,
        adjusted_budget_fen: c.figures.clearing.adjusted_budget_fen,
        cost_fen: levels.total_fen(),
        surplus_fen: c.figures.clearing.surplus_fen,
        upper_fen: levels.upper_fen(),
    }
}

impl App {
    /// A cleared year's payment figures (the roles that oversee payment, for the
    /// institutions they may see; 409 `clearing_not_computed` before the year's data
    /// are frozen), the institutions of `district` only when one is named.
    pub async fn payment_figures(
        &self,
        ctx: &Ctx,
        year: i32,
        district: Option<&str>,
    ) -> AppResult<PaymentFigures> {
        let clearing = self.capitation_clearing(ctx, year).await?;
        let persons: std::collections::HashMap<i64, i64> = self
            .store
            .clearing_member_counts(year)
            .await?
            .into_iter()
            .collect();
        let names: std::collections::HashMap<String, String> = self
            .store
            .districts()
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect();
        let mut total = PaymentTally::default();
        let mut by_district: std::collections::BTreeMap<String, PaymentTally> =
            std::collections::BTreeMap::new();
        let mut institutions = Vec::new();
        for c in &clearing.institutions {
            let id = c.record.row.institution_id;
            let tally = tally_of(c, persons.get(&id).copied().unwrap_or(0));
            total.add(&tally);
            by_district
                .entry(c.record.district_code.clone())
                .or_default()
                .add(&tally);
            if district.is_none_or(|d| d == c.record.district_code) {
                institutions.push(InstitutionFigures {
                    institution_id: id,
                    name: c.record.institution_name.clone(),
                    district_code: c.record.district_code.clone(),
                    community_name: c.record.community_name.clone(),
                    state: c.record.state.clone(),
                    tally,
                });
            }
        }
        institutions.sort_by(|a, b| {
            (&a.district_code, &a.name, a.institution_id).cmp(&(
                &b.district_code,
                &b.name,
                b.institution_id,
            ))
        });
        Ok(PaymentFigures {
            year,
            scheme_version: clearing.year.scheme_version,
            closed: clearing.year.closed_at_us.is_some(),
            total,
            districts: by_district
                .into_iter()
                .map(|(code, tally)| DistrictFigures {
                    name: names.get(&code).cloned().unwrap_or_else(|| code.clone()),
                    code,
                    tally,
                })
                .collect(),
            institutions,
        })
    }
}
