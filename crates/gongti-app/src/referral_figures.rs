//! The cloud-management figures for the dashboard (DOMAIN.md §3) and the patients
//! behind each: referrals up and down by institution and month, time to visit, the
//! share returned to grassroots care, and the use of the reserved slots. Aggregates are
//! for those who may view the scope's aggregates; the lists name patients only for
//! clinicians of the institution the scope is, or through an audited break-the-glass.

use std::collections::BTreeMap;

use gongti_core::access::may_view_aggregates;
use gongti_core::audit::Outcome;
use gongti_core::chronic::indicators::Period;
use gongti_core::referral::figures::{ReferralFigures, ReferralMeasure, ReservedUse, figures};
use gongti_core::resident::{age_band, age_years, mask_name};
use gongti_store::IndicatorScope;
use time::{Duration, Time};

use crate::indicators::{ListedPatient, list_identity};
use crate::{App, AppError, AppResult, Ctx, DISPLAY_OFFSET, unix_us};

/// The figures of a scope and period, with the names of the institutions they list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudFigures {
    pub referrals: ReferralFigures,
    pub reserved: ReservedUse,
    pub institution_names: BTreeMap<i64, String>,
}

/// Which patients: one referral figure of a scope and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralListQuery {
    pub scope: IndicatorScope,
    pub period: Period,
    pub measure: ReferralMeasure,
}

/// A page of the patients behind a referral figure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralPatients {
    /// (referral id, the patient).
    pub items: Vec<(i64, ListedPatient)>,
    pub next_after: Option<i64>,
    pub identified: bool,
}

pub(crate) fn window_us(period: &Period) -> (i64, i64) {
    let at = |d: time::Date| unix_us(d.with_time(Time::MIDNIGHT).assume_offset(DISPLAY_OFFSET));
    (at(period.from), at(period.to + Duration::days(1)))
}

impl App {
    pub(crate) async fn cloud_scope(
        &self,
        ctx: &Ctx,
        scope: &IndicatorScope,
        period: &Period,
    ) -> AppResult<()> {
        let aggregate = self.aggregate_scope(scope).await?;
        if !may_view_aggregates(&ctx.principal.actor(), &aggregate) {
            return Err(AppError::Forbidden);
        }
        Self::check_period(period)
    }

    /// The cloud-management figures of a scope and period (aggregates: not audited).
    pub async fn cloud_figures(
        &self,
        ctx: &Ctx,
        scope: &IndicatorScope,
        period: &Period,
    ) -> AppResult<CloudFigures> {
        self.cloud_scope(ctx, scope, period).await?;
        let (from_us, to_us) = window_us(period);
        let rows = self
            .store
            .referral_facts(scope, from_us, to_us, crate::readings::local_day)
            .await?;
        let facts: Vec<_> = rows.iter().map(|r| r.fact).collect();
        let institution_names = rows
            .iter()
            .map(|r| (r.fact.from_institution_id, r.from_institution_name.clone()))
            .collect();
        Ok(CloudFigures {
            referrals: figures(&facts, period.from, period.to),
            reserved: self
                .store
                .reserved_use(scope, period.from, period.to)
                .await?,
            institution_names,
        })
    }

    /// The patients behind a referral figure, one line per referral.
    pub async fn referral_figure_patients(
        &self,
        ctx: &Ctx,
        q: &ReferralListQuery,
        after: Option<i64>,
        limit: u32,
        break_glass_reason: Option<&str>,
    ) -> AppResult<ReferralPatients> {
        let ReferralListQuery {
            scope,
            period,
            measure,
        } = q;
        let measure = *measure;
        let mut entry = ctx.principal.audit(
            self.now_us(),
            "indicators.referral_patients",
            "MeasureReport",
            Outcome::Ok,
        );
        entry.request_id = ctx.request_id.clone();
        entry.reason = break_glass_reason.map(str::to_owned);
        entry.resource_id = Some(format!("referrals:{}", measure.code()));
        if let Err(e) = self.cloud_scope(ctx, scope, period).await {
            return Err(self.refuse(entry, e).await);
        }
        let (identified, clinician) = match list_identity(ctx, scope, break_glass_reason) {
            Ok(found) => found,
            Err(e) => {
                entry.detail = Some("break_glass_not_for_role".into());
                return Err(self.refuse(entry, e).await);
            }
        };
        let (from_us, to_us) = window_us(period);
        let today = self.today();
        let rows = self
            .store
            .referral_facts(scope, from_us, to_us, crate::readings::local_day)
            .await?;
        let mut matching = rows
            .into_iter()
            .filter(|r| measure.counts(&r.fact, period.from, period.to))
            .filter(|r| after.is_none_or(|a| r.fact.id > a));
        let mut items = Vec::new();
        for r in matching.by_ref().take(limit as usize) {
            items.push((
                r.fact.id,
                ListedPatient {
                    enrolment_id: r.fact.id,
                    resident_id: r.resident_id,
                    name: if identified {
                        r.name.clone()
                    } else {
                        mask_name(&r.name)
                    },
                    id_number_masked: r.id_number.masked(),
                    sex: r.sex,
                    age_band: age_band(age_years(r.birth_date, today)),
                    institution_id: r.fact.from_institution_id,
                    institution_name: r.from_institution_name.clone(),
                },
            ));
        }
        let next_after = if matching.next().is_some() {
            items.last().map(|(id, _)| *id)
        } else {
            None
        };
        self.record_listing(
            entry,
            items.iter().map(|(_, p)| p.resident_id),
            identified,
            clinician,
        )
        .await?;
        Ok(ReferralPatients {
            items,
            next_after,
            identified,
        })
    }
}
