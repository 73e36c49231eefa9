//! The quality assessment of a year (issue 17 point 4, DOMAIN.md §6): each budgeted
//! institution's terms from the records — the chronic-care indicators of its
//! patients from the year's first day to date (规范管理率 of both programmes, BP
//! control, glucose control, the HbA1c target rate, follow-ups on time as the share
//! not missed), 签约率 of its registered residents on the period's last day, and the share of its
//! referrals that reached a hospital and were returned — scored by the weights and
//! bands of the year's scheme (`core::payment::quality`). Aggregates only: each term's
//! patients open through the dashboard's lists, as the viewer's rights allow.

use gongti_core::access::may_view_aggregates;
use gongti_core::chronic::Disease;
use gongti_core::chronic::indicators::{Indicator, Period, Tally};
use gongti_core::payment::membership::{first_day, last_day};
use gongti_core::payment::quality::{QualityScore, TermCounts, assess};
use gongti_store::IndicatorScope;

use crate::{App, AppResult, Ctx};

/// An institution's assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionQuality {
    pub institution_id: i64,
    pub name: String,
    pub assessment: QualityScore,
}

/// A year's assessment to date, by the scheme version in force on its first day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearQuality {
    pub year: i32,
    pub period: Period,
    pub scheme_version: i64,
    pub institutions: Vec<InstitutionQuality>,
}

fn index(i: Indicator) -> usize {
    Indicator::ALL.iter().position(|x| *x == i).unwrap_or(0)
}

/// The terms of an institution's tallies, coverage and referrals, by
/// `QualityTerm::ALL`.
fn terms(
    hypertension: &Tally,
    diabetes: &Tally,
    coverage: (u64, u64),
    referrals: (u64, u64),
) -> TermCounts {
    let mut both = hypertension.clone();
    both.merge(diabetes);
    let (missed, due) = both.counts[index(Indicator::MissedVisit)];
    [
        both.counts[index(Indicator::Standardised)],
        hypertension.counts[index(Indicator::BpControl)],
        diabetes.counts[index(Indicator::GlucoseControl)],
        diabetes.counts[index(Indicator::Hba1cTarget)],
        coverage,
        (due.saturating_sub(missed), due),
        referrals,
    ]
}

impl App {
    /// The year's assessment to date of every budgeted institution the viewer may see
    /// the figures of (the roles that oversee payment; 409 `no_payment_scheme`).
    pub async fn capitation_quality(&self, ctx: &Ctx, year: i32) -> AppResult<YearQuality> {
        let budgets = self.capitation_year(ctx, year).await?;
        let version = self.year_version(year).await?;
        let through = self.today().min(last_day(year));
        let period = Period::new(first_day(year), through.max(first_day(year)))
            .ok_or_else(|| anyhow::anyhow!("an empty year"))?;
        let mut institutions = Vec::with_capacity(budgets.institutions.len());
        // a year not begun has nothing to assess yet
        let begun = self.today() >= first_day(year);
        for b in budgets.institutions.iter().filter(|_| begun) {
            let id = b.budget.institution_id;
            let scope = IndicatorScope::Institution(id);
            let aggregate = self.aggregate_scope(&scope).await?;
            if !may_view_aggregates(&ctx.principal.actor(), &aggregate) {
                continue;
            }
            let counts = self.term_counts(ctx, &scope, &period).await?;
            institutions.push(InstitutionQuality {
                institution_id: id,
                name: b.institution_name.clone(),
                assessment: assess(&version.scheme, &counts),
            });
        }
        Ok(YearQuality {
            year,
            period,
            scheme_version: version.record.id,
            institutions,
        })
    }

    pub(super) async fn term_counts(
        &self,
        ctx: &Ctx,
        scope: &IndicatorScope,
        period: &Period,
    ) -> AppResult<TermCounts> {
        let tallies = self
            .indicators(
                ctx,
                scope,
                &[Disease::Hypertension, Disease::Diabetes],
                period,
            )
            .await?;
        let of = |d: Disease| {
            tallies
                .iter()
                .find(|(x, _)| *x == d)
                .map(|(_, t)| t.clone())
                .unwrap_or_default()
        };
        // 签约率 on the period's last day (today, during the year)
        let coverage = self.store.contract_coverage(scope, period.to).await?;
        let referrals = self.cloud_figures(ctx, scope, period).await?.referrals;
        Ok(terms(
            &of(Disease::Hypertension),
            &of(Disease::Diabetes),
            (coverage.contracted, coverage.residents),
            (referrals.returned, referrals.reached),
        ))
    }
}
