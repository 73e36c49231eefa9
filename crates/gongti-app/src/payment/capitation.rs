//! A year of capitation (issue 17 point 2, DOMAIN.md §6): who counts, for how many
//! days and where — every contract and chronic enrolment touching the year, read a
//! chunk of persons at a time (`core::payment::membership`) — each institution's
//! budget under the scheme version in force on the year's first day, and the twelve
//! monthly prepayments of `round(α × B)`.
//!
//! Before the insurance officer approves the year, its figures are a preview counted
//! today. Approving saves them with the version's number and the day they were counted
//! on — members are projected to the year's end: a contract in force today is taken
//! as renewed, an enrolment still open as running on (the clearing counts the days
//! actually enrolled) — and schedules the prepayments; approving again changes
//! nothing. Each month's prepayment is paid in turn, once it is due; paying again
//! changes nothing. Every step is audited; the roles that oversee payment read.

use std::collections::BTreeMap;

use gongti_core::audit::Outcome;
use gongti_core::contract::ContractStatus;
use gongti_core::payment::capitation::monthly;
use gongti_core::payment::membership::{
    PersonYear, Span, Tally, days_in_year, first_day, last_day, membership,
};
use gongti_core::payment::scheme::Scheme;
use gongti_core::problem::Problem;
use gongti_store::{
    BudgetRecord, CapitationBudget, CapitationYearRecord, MemberFacts, NewCapitationYear,
};
use time::Date;

use super::{may_set_schemes, may_simulate};
use crate::{App, AppError, AppResult, Ctx};

/// Persons read per round trip.
pub const MEMBER_CHUNK: i64 = 5_000;
/// The years a budget may be asked for.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// A year of capitation: approved (its saved figures) or a preview counted today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapitationYear {
    pub year: i32,
    pub approved: Option<CapitationYearRecord>,
    pub scheme_version: i64,
    pub days_in_year: i64,
    pub counted_on: Date,
    pub institutions: Vec<BudgetRecord>,
}

impl CapitationYear {
    pub fn budget_fen(&self) -> i64 {
        self.institutions.iter().map(|b| b.budget.budget_fen).sum()
    }

    pub fn prepaid_fen(&self) -> i64 {
        self.institutions.iter().map(|b| b.budget.prepaid_fen).sum()
    }

    /// The prepayments paid so far, in fen.
    pub fn paid_fen(&self) -> i64 {
        self.institutions
            .iter()
            .map(|b| {
                (0..12)
                    .filter(|m| b.paid[*m])
                    .map(|m| b.budget.months_fen[m])
                    .sum::<i64>()
            })
            .sum()
    }
}

/// A person's spans from their facts; `projected`: a contract in force on `on` runs to
/// the year's end as if renewed.
pub(crate) fn spans(f: &MemberFacts, on: Option<Date>) -> Spans {
    let contracts = f
        .contracts
        .iter()
        .map(|(institution_id, start, end, ended, status)| {
            let last = match ended {
                Some(e) if e < end => *e,
                _ => *end,
            };
            let renewed = on.is_some_and(|d| {
                ContractStatus::parse(status) == Some(ContractStatus::Active)
                    && *start <= d
                    && d <= last
            });
            Span {
                institution_id: *institution_id,
                from: *start,
                to: if renewed { None } else { Some(last) },
            }
        })
        .collect();
    let of = |disease: &str| {
        f.enrolments
            .iter()
            .filter(|e| e.0 == disease)
            .map(|(_, institution_id, from, to)| Span {
                institution_id: *institution_id,
                from: *from,
                to: *to,
            })
            .collect()
    };
    Spans {
        birth_date: f.birth_date,
        deceased_on: f.deceased_on,
        contracts,
        hypertension: of("hypertension"),
        diabetes: of("diabetes"),
    }
}

/// A person's facts as spans, owned; [`Spans::person`] lends them as a year.
pub(crate) struct Spans {
    birth_date: Date,
    deceased_on: Option<Date>,
    contracts: Vec<Span>,
    hypertension: Vec<Span>,
    diabetes: Vec<Span>,
}

impl Spans {
    pub(crate) fn person(&self) -> PersonYear<'_> {
        PersonYear {
            birth_date: self.birth_date,
            deceased_on: self.deceased_on,
            contracts: &self.contracts,
            hypertension: &self.hypertension,
            diabetes: &self.diabetes,
        }
    }
}

impl App {
    async fn capitation_reader(&self, ctx: &Ctx, action: &str) -> AppResult<()> {
        if may_simulate(ctx.principal.role) {
            return Ok(());
        }
        let entry = self.registry_entry(ctx, action, "CapitationYear", Outcome::Ok);
        Err(self.refuse(entry, AppError::Forbidden).await)
    }

    pub(super) fn year_ok(year: i32) -> AppResult<()> {
        if YEARS.contains(&year) {
            Ok(())
        } else {
            Err(AppError::invalid(
                "year",
                Problem::OutOfRange {
                    min: "2000",
                    max: "2100",
                },
            ))
        }
    }

    /// Each institution's budget of `year` under `scheme`, counted from the records
    /// (projected from `on` when given), by health community and institution.
    async fn count_budgets(
        &self,
        year: i32,
        scheme: &Scheme,
        on: Option<Date>,
    ) -> AppResult<Vec<CapitationBudget>> {
        let (first, last) = (first_day(year), last_day(year));
        let days = days_in_year(year);
        let mut tallies: BTreeMap<i64, Tally> = BTreeMap::new();
        let mut after = 0;
        loop {
            let (facts, last_id) = self
                .store
                .member_facts(first, last, after, MEMBER_CHUNK)
                .await?;
            for f in &facts {
                let m = membership(year, &spans(f, on).person());
                for c in &m.counted {
                    tallies
                        .entry(c.institution_id)
                        .or_default()
                        .add(scheme, &m, c);
                }
            }
            match last_id {
                Some(id) => after = id,
                None => break,
            }
        }
        Ok(tallies
            .into_iter()
            .map(|(institution_id, t)| {
                let budget_fen = t.budget_fen(days);
                let prepaid_fen = scheme.clearing(budget_fen, 0, 0).prepaid_fen;
                CapitationBudget {
                    institution_id,
                    persons: t.persons,
                    person_days: t.person_days,
                    budget_fen,
                    prepaid_fen,
                    months_fen: monthly(prepaid_fen),
                }
            })
            .collect())
    }

    /// The scheme version in force on the year's first day, or 409 `no_payment_scheme`.
    async fn year_scheme(&self, year: i32) -> AppResult<super::SchemeVersion> {
        self.scheme_on(first_day(year))
            .await?
            .ok_or(AppError::Conflict("no_payment_scheme"))
    }

    /// The year's scheme version: the one its approval used, or else the one in force
    /// on its first day (409 `no_payment_scheme`).
    pub(crate) async fn year_version(&self, year: i32) -> AppResult<super::SchemeVersion> {
        match self.store.capitation_year(year).await? {
            Some(approved) => {
                let record = self
                    .store
                    .scheme_version(approved.scheme_version)
                    .await?
                    .ok_or(AppError::NotFound)?;
                let in_force = self
                    .store
                    .scheme_version_on(self.today())
                    .await?
                    .map(|v| v.id);
                self.read_version(record, in_force)
            }
            None => self.year_scheme(year).await,
        }
    }

    /// Whether the viewer may see an institution's figures (an institution's
    /// administrator their own, a district officer their district's).
    pub(crate) async fn may_see_institution(&self, ctx: &Ctx, id: i64) -> AppResult<bool> {
        let scope = self
            .aggregate_scope(&gongti_store::IndicatorScope::Institution(id))
            .await?;
        Ok(gongti_core::access::may_view_aggregates(
            &ctx.principal.actor(),
            &scope,
        ))
    }

    /// `institutions` without those the viewer may not see.
    async fn seen(
        &self,
        ctx: &Ctx,
        institutions: Vec<BudgetRecord>,
    ) -> AppResult<Vec<BudgetRecord>> {
        let mut out = Vec::with_capacity(institutions.len());
        for b in institutions {
            if self
                .may_see_institution(ctx, b.budget.institution_id)
                .await?
            {
                out.push(b);
            }
        }
        Ok(out)
    }

    /// A year's budgets: as approved, or a preview counted today.
    pub async fn capitation_year(&self, ctx: &Ctx, year: i32) -> AppResult<CapitationYear> {
        self.capitation_reader(ctx, "capitation.year.read").await?;
        Self::year_ok(year)?;
        if let Some(approved) = self.store.capitation_year(year).await? {
            return Ok(CapitationYear {
                year,
                scheme_version: approved.scheme_version,
                days_in_year: approved.days_in_year,
                counted_on: approved.counted_on,
                institutions: self
                    .seen(ctx, self.store.capitation_budgets(year).await?)
                    .await?,
                approved: Some(approved),
            });
        }
        let version = self.year_scheme(year).await?;
        let today = self.today();
        let budgets = self
            .count_budgets(year, &version.scheme, Some(today))
            .await?;
        let mut institutions = Vec::with_capacity(budgets.len());
        for budget in budgets {
            let i = self.store.institution(budget.institution_id).await?;
            let upper = match i.upper_institution_id {
                Some(u) => Some(self.store.institution(u).await?),
                None => None,
            };
            institutions.push(BudgetRecord {
                budget,
                institution_name: i.name,
                district_code: i.district_code,
                community_id: upper.as_ref().map(|u| u.id),
                community_name: upper.map(|u| u.name),
                paid: [false; 12],
            });
        }
        institutions.sort_by_key(|b| (b.community_id, b.budget.institution_id));
        let institutions = self.seen(ctx, institutions).await?;
        Ok(CapitationYear {
            year,
            approved: None,
            scheme_version: version.record.id,
            days_in_year: days_in_year(year),
            counted_on: today,
            institutions,
        })
    }

    /// Approves a year's budgets (the insurance officer): counted today under the
    /// version in force on its first day, saved with their twelve scheduled
    /// prepayments; approving again changes nothing. Audited as
    /// `capitation.budget.approve` with the version and the total.
    pub async fn approve_capitation_budget(&self, ctx: &Ctx, year: i32) -> AppResult<()> {
        let mut entry = self.registry_entry(
            ctx,
            "capitation.budget.approve",
            "CapitationYear",
            Outcome::Ok,
        );
        entry.resource_id = Some(year.to_string());
        if !may_set_schemes(ctx.principal.role) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        if let Err(e) = Self::year_ok(year) {
            return Err(self.refuse(entry, e).await);
        }
        if self.store.capitation_year(year).await?.is_some() {
            return Ok(());
        }
        let version = match self.year_scheme(year).await {
            Ok(v) => v,
            Err(e) => return Err(self.refuse(entry, e).await),
        };
        let today = self.today();
        self.save_capitation_year(year, &version, today, ctx.principal.staff_id, entry)
            .await?;
        self.audit.flush().await?;
        Ok(())
    }

    pub(crate) async fn save_capitation_year(
        &self,
        year: i32,
        version: &super::SchemeVersion,
        today: Date,
        staff_id: i64,
        mut entry: gongti_core::audit::AuditEntry,
    ) -> AppResult<()> {
        let budgets = self
            .count_budgets(year, &version.scheme, Some(today))
            .await?;
        let total: i64 = budgets.iter().map(|b| b.budget_fen).sum();
        entry.detail = Some(format!(
            "scheme_version={};institutions={};budget_fen={total};counted_on={today}",
            version.record.id,
            budgets.len()
        ));
        let saved = self
            .store
            .insert_capitation_year(
                &NewCapitationYear {
                    year,
                    scheme_version: version.record.id,
                    days_in_year: days_in_year(year),
                    counted_on: today,
                    budgets: &budgets,
                    staff_id,
                },
                self.now_us(),
                std::slice::from_ref(&entry),
            )
            .await;
        match saved {
            Ok(_) => Ok(()),
            // the committee approved a version for the year's first day meanwhile
            Err(gongti_store::StoreError::Changed(code)) => {
                Err(self.refuse(entry, AppError::Conflict(code)).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Pays a month's prepayments of an approved year to every institution (the
    /// insurance officer): the month must have begun and the months before it be paid
    /// (409 `budget_not_approved`, `month_not_due`, `earlier_month_unpaid`, and
    /// `year_frozen` once the year is frozen for its clearing); paying again changes
    /// nothing. Audited as `capitation.prepayment.pay`.
    pub async fn pay_capitation_month(&self, ctx: &Ctx, year: i32, month: u8) -> AppResult<()> {
        let mut entry = self.registry_entry(
            ctx,
            "capitation.prepayment.pay",
            "CapitationYear",
            Outcome::Ok,
        );
        entry.resource_id = Some(format!("{year}-{month:02}"));
        if !may_set_schemes(ctx.principal.role) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        if !(1..=12).contains(&month) {
            let e = AppError::invalid(
                "month",
                Problem::OutOfRange {
                    min: "1",
                    max: "12",
                },
            );
            return Err(self.refuse(entry, e).await);
        }
        let today = self.today();
        self.pay_month(year, month, today, ctx.principal.staff_id, entry)
            .await?;
        self.audit.flush().await?;
        Ok(())
    }

    pub(crate) async fn pay_month(
        &self,
        year: i32,
        month: u8,
        today: Date,
        staff_id: i64,
        mut entry: gongti_core::audit::AuditEntry,
    ) -> AppResult<()> {
        match self.store.capitation_year(year).await? {
            None => {
                return Err(self
                    .refuse(entry, AppError::Conflict("budget_not_approved"))
                    .await);
            }
            // once frozen for the clearing, what was paid is what the clearing counts
            Some(y) if y.state != "budget_approved" => {
                return Err(self.refuse(entry, AppError::Conflict("year_frozen")).await);
            }
            Some(_) => {}
        }
        let due = time::Date::from_calendar_date(
            year,
            time::Month::try_from(month).map_err(|e| anyhow::anyhow!("{e}"))?,
            1,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        if today < due {
            return Err(self
                .refuse(entry, AppError::Conflict("month_not_due"))
                .await);
        }
        let budgets = self.store.capitation_budgets(year).await?;
        let m = usize::from(month - 1);
        if budgets.iter().any(|b| b.paid[..m].iter().any(|p| !p)) {
            return Err(self
                .refuse(entry, AppError::Conflict("earlier_month_unpaid"))
                .await);
        }
        let amount: i64 = budgets
            .iter()
            .filter(|b| !b.paid[m])
            .map(|b| b.budget.months_fen[m])
            .sum();
        entry.detail = Some(format!("month={month};amount_fen={amount}"));
        self.store
            .pay_prepayments(year, month, staff_id, self.now_us(), &[entry])
            .await?;
        Ok(())
    }
}

/// A person behind an institution's budget: who (the name masked: the figures are
/// the insurer's and the commissions', never a record), the weight's age and
/// condition, the days under each scheme there and their part of B.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetMember {
    pub resident_id: i64,
    pub name_masked: String,
    pub age: u32,
    pub condition: gongti_core::payment::scheme::Condition,
    /// By scheme (contracted, 门特 hypertension, 门特 diabetes).
    pub days: [i64; 3],
    /// `Σ rate × weight × days ÷ days in year`, in millionths of a fen (unrounded:
    /// B rounds once, over all).
    pub share_micro_fen: i128,
}

impl App {
    /// The persons behind an institution's budget of `year` — as counted today (a
    /// year not approved) or on the day it was approved, projected alike — a page of
    /// up to `limit` after resident `after` (the roles that oversee payment, for the
    /// institutions they may see; audited with the persons listed).
    pub async fn capitation_members(
        &self,
        ctx: &Ctx,
        year: i32,
        institution_id: i64,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<gongti_store::Page<BudgetMember>> {
        let mut entry = self.registry_entry(
            ctx,
            "capitation.members.list",
            "CapitationYear",
            Outcome::Ok,
        );
        entry.resource_id = Some(format!("{year}:{institution_id}"));
        if !may_simulate(ctx.principal.role)
            || !self.may_see_institution(ctx, institution_id).await?
        {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        Self::year_ok(year)?;
        let version = self.year_version(year).await?;
        let on = match self.store.capitation_year(year).await? {
            Some(a) => a.counted_on,
            None => self.today(),
        };
        let days_in_year = days_in_year(year);
        let limit = usize::try_from(limit.clamp(1, gongti_store::PAGE_SIZE_MAX)).unwrap_or(50);
        let mut items = Vec::new();
        let mut cursor = after.unwrap_or(0);
        let mut more = false;
        'pages: loop {
            let (facts, last_id) = self
                .store
                .member_facts(first_day(year), last_day(year), cursor, MEMBER_CHUNK)
                .await?;
            for f in &facts {
                let m = membership(year, &spans(f, Some(on)).person());
                let mut days = [0; 3];
                let mut numerator = 0;
                for c in m
                    .counted
                    .iter()
                    .filter(|c| c.institution_id == institution_id)
                {
                    let k = gongti_core::payment::scheme::SchemeKind::ALL
                        .iter()
                        .position(|x| *x == c.kind)
                        .unwrap_or(0);
                    days[k] += c.days;
                    numerator += version.scheme.share(c.kind, m.age, m.condition, c.days);
                }
                if days.iter().all(|d| *d == 0) {
                    continue;
                }
                if items.len() == limit {
                    more = true;
                    break 'pages;
                }
                let name = self.store.resident(f.resident_id).await?.name;
                items.push(BudgetMember {
                    resident_id: f.resident_id,
                    name_masked: gongti_core::resident::mask_name(&name),
                    age: m.age,
                    condition: m.condition,
                    days,
                    share_micro_fen: numerator / i128::from(days_in_year),
                });
            }
            match last_id {
                Some(id) => cursor = id,
                None => break,
            }
        }
        entry.detail = Some(format!(
            "{} listed;residents={}",
            items.len(),
            gongti_core::coverage::encode_ids(items.iter().map(|i| i.resident_id))
        ));
        self.audit.record(vec![entry]).await?;
        let next_after = if more {
            items.last().map(|i| i.resident_id)
        } else {
            None
        };
        Ok(gongti_store::Page { items, next_after })
    }
}
