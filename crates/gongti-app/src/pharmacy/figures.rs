//! The cloud pharmacy's figures on the dashboard (issue 15; definitions in
//! `gongti_core::pharmacy::figures`) and the patients behind each: online visits,
//! prescriptions reviewed and passed at once, findings by code, the median review
//! time, deliveries on time, and the 门特 patients' monthly self-pay against the full
//! price. Aggregates for those who may view the scope's; the lists name patients as
//! the other dashboard lists do (`list_identity`), and are audited.

use gongti_core::audit::Outcome;
use gongti_core::chronic::indicators::Period;
use gongti_core::pharmacy::figures::{
    PatientMonth, PharmacyFigures, PharmacyMeasure, RxFact, Window, figures, patient_months,
};
use gongti_core::resident::{age_band, age_years, mask_name};
use gongti_store::{FactPatient, IndicatorScope, PharmacyFacts};
use serde_json::Value;

use crate::indicators::{ListedPatient, list_identity};
use crate::referral_figures::window_us;
use crate::{App, AppResult, Ctx};

/// Which list: a figure's prescriptions or visits, or the 门特 patient-months.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PharmacyList {
    Measure(PharmacyMeasure),
    SelfPay,
}

impl PharmacyList {
    pub fn code(&self) -> String {
        match self {
            PharmacyList::Measure(m) => m.code(),
            PharmacyList::SelfPay => "self_pay".into(),
        }
    }

    pub fn parse(code: &str) -> Option<PharmacyList> {
        if code == "self_pay" {
            Some(PharmacyList::SelfPay)
        } else {
            PharmacyMeasure::parse(code).map(PharmacyList::Measure)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PharmacyListQuery {
    pub scope: IndicatorScope,
    pub period: Period,
    pub list: PharmacyList,
}

/// A page of the patients behind a figure: the row's id (a prescription, a visit, or
/// a patient-month's key), the patient, and for 门特 the month's sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PharmacyPatients {
    pub items: Vec<(i64, ListedPatient, Option<PatientMonth>)>,
    pub next_after: Option<i64>,
    pub identified: bool,
}

/// The figures of a scope and period, with the delivery promise they used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PharmacyFiguresView {
    pub figures: PharmacyFigures,
    pub on_time_hours: u32,
}

/// The finding codes of a kept version's findings.
fn codes(findings: Option<&str>) -> Vec<String> {
    findings
        .and_then(|f| serde_json::from_str::<Value>(f).ok())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f["code"].as_str().map(str::to_owned))
        .collect()
}

/// A patient-month's paging key: the month, then the resident.
fn month_key(m: &PatientMonth) -> i64 {
    i64::from(m.month) * 10_000_000_000 + m.resident_id
}

impl App {
    fn pharmacy_window(&self, period: &Period) -> Window {
        let (from_us, to_us) = window_us(period);
        Window {
            from_us,
            to_us,
            on_time_us: i64::from(self.knowledge().params.delivery_on_time_hours)
                * 3_600
                * 1_000_000,
        }
    }

    async fn pharmacy_facts(&self, scope: &IndicatorScope, w: &Window) -> AppResult<PharmacyFacts> {
        let mut facts = self
            .store
            .pharmacy_facts(scope, w.from_us, w.to_us, |at_us| {
                let day = crate::readings::local_day(at_us);
                u32::try_from(day.year()).unwrap_or(0) * 100 + u32::from(u8::from(day.month()))
            })
            .await?;
        for r in &mut facts.prescriptions {
            r.fact.first_codes = codes(r.first_findings.as_deref());
        }
        Ok(facts)
    }

    /// The cloud pharmacy's figures of a scope and period (aggregates: not audited).
    pub async fn pharmacy_figures(
        &self,
        ctx: &Ctx,
        scope: &IndicatorScope,
        period: &Period,
    ) -> AppResult<PharmacyFiguresView> {
        self.cloud_scope(ctx, scope, period).await?;
        let w = self.pharmacy_window(period);
        let facts = self.pharmacy_facts(scope, &w).await?;
        let rx: Vec<RxFact> = facts.prescriptions.into_iter().map(|r| r.fact).collect();
        let visits: Vec<_> = facts.visits.iter().map(|v| v.fact).collect();
        let settlements: Vec<_> = facts.settlements.iter().map(|s| s.fact).collect();
        Ok(PharmacyFiguresView {
            figures: figures(&rx, &visits, &settlements, &w),
            on_time_hours: self.knowledge().params.delivery_on_time_hours,
        })
    }

    /// The patients behind a figure, one line per prescription, visit or patient-month,
    /// in order of the row's id (audited as a list, as the dashboard's others).
    pub async fn pharmacy_figure_patients(
        &self,
        ctx: &Ctx,
        q: &PharmacyListQuery,
        after: Option<i64>,
        limit: u32,
        break_glass_reason: Option<&str>,
    ) -> AppResult<PharmacyPatients> {
        let mut entry = ctx.principal.audit(
            self.now_us(),
            "indicators.pharmacy_patients",
            "MeasureReport",
            Outcome::Ok,
        );
        entry.request_id = ctx.request_id.clone();
        entry.reason = break_glass_reason.map(str::to_owned);
        entry.resource_id = Some(format!("pharmacy:{}", q.list.code()));
        if let Err(e) = self.cloud_scope(ctx, &q.scope, &q.period).await {
            return Err(self.refuse(entry, e).await);
        }
        let (identified, clinician) = match list_identity(ctx, &q.scope, break_glass_reason) {
            Ok(found) => found,
            Err(e) => {
                entry.detail = Some("break_glass_not_for_role".into());
                return Err(self.refuse(entry, e).await);
            }
        };
        let w = self.pharmacy_window(&q.period);
        let facts = self.pharmacy_facts(&q.scope, &w).await?;
        let today = self.today();
        let listed = |key: i64, p: &FactPatient| ListedPatient {
            enrolment_id: key,
            resident_id: p.resident_id,
            name: if identified {
                p.name.clone()
            } else {
                mask_name(&p.name)
            },
            id_number_masked: p.id_number.masked(),
            sex: p.sex,
            age_band: age_band(age_years(p.birth_date, today)),
            institution_id: p.institution_id,
            institution_name: p.institution_name.clone(),
        };
        let mut rows: Vec<(i64, ListedPatient, Option<PatientMonth>)> = match &q.list {
            PharmacyList::Measure(m @ PharmacyMeasure::Visits(_)) => facts
                .visits
                .iter()
                .filter(|v| m.counts_visit(&v.fact, &w))
                .map(|v| (v.fact.id, listed(v.fact.id, &v.patient), None))
                .collect(),
            PharmacyList::Measure(m) => facts
                .prescriptions
                .iter()
                .filter(|r| m.counts_rx(&r.fact, &w))
                .map(|r| (r.fact.id, listed(r.fact.id, &r.patient), None))
                .collect(),
            PharmacyList::SelfPay => {
                let settlements: Vec<_> = facts.settlements.iter().map(|s| s.fact).collect();
                patient_months(&settlements)
                    .into_iter()
                    .filter_map(|m| {
                        let who = facts
                            .settlements
                            .iter()
                            .find(|s| s.patient.resident_id == m.resident_id)?;
                        let key = month_key(&m);
                        Some((key, listed(key, &who.patient), Some(m)))
                    })
                    .collect()
            }
        };
        rows.sort_by_key(|(key, _, _)| *key);
        let mut matching = rows
            .into_iter()
            .filter(|(key, _, _)| after.is_none_or(|a| *key > a));
        let items: Vec<_> = matching.by_ref().take(limit as usize).collect();
        let next_after = if matching.next().is_some() {
            items.last().map(|(key, _, _)| *key)
        } else {
            None
        };
        self.record_listing(
            entry,
            items.iter().map(|(_, p, _)| p.resident_id),
            identified,
            clinician,
        )
        .await?;
        Ok(PharmacyPatients {
            items,
            next_after,
            identified,
        })
    }
}
