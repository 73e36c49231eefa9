//! Capitation's costs (issue 17 point 3, DOMAIN.md §6): the bureau's settlement file
//! brought in (the insurance officer: checked whole — every problem by line and
//! column, a person unknown by 人员编号, a 结算ID brought in already — then every row
//! or none, or only checked on a dry run), and a year's costs to date by institution:
//! each cost of an enrolled person counted where the person counted that day, by
//! source (cloud pharmacy, cloud centres, the bureau) and by level (grassroots,
//! internet hospital, secondary, tertiary, outside the community), with the share at
//! the upper levels — cost shifted upward shows there.

use std::collections::{BTreeMap, HashMap};

use gongti_core::audit::Outcome;
use gongti_core::insurance::CareLevel;
use gongti_core::payment::costs::{
    CostLevel, CostSource, CostTally, ExamPrices, SETTLEMENT_COLUMNS, exam_fund_fen,
    settlement_rows,
};
use gongti_core::payment::membership::{first_day, last_day, owner_for};
use gongti_core::payment::scheme::SchemeKind;
use gongti_core::roster::{RosterProblem, SheetProblem};
use gongti_store::{CostOrigin, InstitutionFilter, NewBureauSettlement};
use time::Date;

use super::capitation::{MEMBER_CHUNK, spans};
use super::{may_set_schemes, may_simulate};
use crate::progress::Stage;
use crate::roster::{RosterError, RosterSummary, read_list};
use crate::{App, AppError, AppResult, Ctx, DISPLAY_OFFSET};

/// A year's costs to date: each institution's, with the scheme version that priced
/// the exams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCosts {
    pub year: i32,
    /// The last day counted (today, or the year's last day for a past year).
    pub through: Date,
    pub scheme_version: i64,
    /// By institution id.
    pub institutions: BTreeMap<i64, CostTally>,
}

impl YearCosts {
    pub fn total(&self) -> CostTally {
        let mut all = CostTally::default();
        for t in self.institutions.values() {
            for (i, v) in t.by_source_fen.iter().enumerate() {
                all.by_source_fen[i] += v;
            }
            for (i, v) in t.by_level_fen.iter().enumerate() {
                all.by_level_fen[i] += v;
            }
            all.lines += t.lines;
        }
        all
    }
}

/// The costs counted at an institution: by source and level, and by person.
#[derive(Debug, Clone, Default)]
pub(crate) struct OwnerCosts {
    pub tally: CostTally,
    /// Resident id → fund-paid fen.
    pub by_person: BTreeMap<i64, i64>,
}

fn local_day(at_us: i64) -> Date {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_us) * 1_000)
        .map_or(Date::MIN, |t| t.to_offset(DISPLAY_OFFSET).date())
}

impl App {
    /// Brings the bureau's settlement file in (the insurance officer): CSV or XLSX of
    /// the national 2207 fields, every row or none, audited as
    /// `bureau_settlement.import` naming the rows; with `dry_run`, checks and writes
    /// nothing.
    pub async fn import_bureau_settlements(
        &self,
        ctx: &Ctx,
        bytes: &[u8],
        dry_run: bool,
        job: Option<&str>,
    ) -> Result<RosterSummary, RosterError> {
        let tracker = self
            .progress
            .tracker(ctx.principal.user_id, job, self.now_us());
        let mut entry = self.registry_entry(
            ctx,
            "bureau_settlement.import",
            "BureauSettlement",
            Outcome::Ok,
        );
        entry.reason = dry_run.then(|| "dry_run".to_owned());
        if !may_set_schemes(ctx.principal.role) {
            self.job_ended(&tracker);
            return Err(self.refuse(entry, AppError::Forbidden).await.into());
        }
        let result = match read_list(bytes, &SETTLEMENT_COLUMNS, settlement_rows) {
            Ok((rows, ignored_columns)) => {
                let read = rows.len();
                tracker.report(Stage::Checking, 0, read as u64, self.now_us());
                self.bring_settlements_in(rows, dry_run, ctx, &entry)
                    .await
                    .map(|summary| RosterSummary {
                        ignored_columns,
                        ..summary
                    })
            }
            Err(found) => Err(RosterError::Problems(found)),
        };
        self.list_done(entry, result, dry_run, &tracker).await
    }

    async fn bring_settlements_in(
        &self,
        rows: Vec<gongti_core::payment::costs::SettlementRow>,
        dry_run: bool,
        ctx: &Ctx,
        entry: &gongti_core::audit::AuditEntry,
    ) -> Result<RosterSummary, RosterError> {
        let mut problems: Vec<SheetProblem> = rows
            .iter()
            .flat_map(|r| r.problems.iter().cloned())
            .collect();
        let psn_nos: Vec<String> = rows.iter().map(|r| r.psn_no.clone()).collect();
        let persons = self
            .store
            .residents_by_psn_no(&psn_nos)
            .await
            .map_err(AppError::from)?;
        let ids: Vec<String> = rows.iter().map(|r| r.setl_id.clone()).collect();
        let taken = self
            .store
            .bureau_settlements_taken(&ids)
            .await
            .map_err(AppError::from)?;
        let mut codes: Vec<String> = rows.iter().map(|r| r.fixmedins_code.clone()).collect();
        codes.sort();
        codes.dedup();
        let mut ours: HashMap<String, i64> = HashMap::new();
        for chunk in codes.chunks(gongti_store::PAGE_SIZE_MAX as usize) {
            let filter = InstitutionFilter {
                codes: chunk.to_vec(),
                ..Default::default()
            };
            let page = self
                .store
                .institutions(&filter, None, gongti_store::PAGE_SIZE_MAX)
                .await
                .map_err(AppError::from)?;
            ours.extend(page.items.into_iter().map(|i| (i.code, i.id)));
        }
        let mut plan = Vec::with_capacity(rows.len());
        for r in &rows {
            let person = persons.get(&r.psn_no).copied();
            if person.is_none() && !r.psn_no.is_empty() {
                problems.push(SheetProblem::at_row(
                    r.line,
                    "psn_no",
                    RosterProblem::UnknownPerson,
                ));
            }
            if taken.contains(&r.setl_id) {
                problems.push(SheetProblem::at_row(
                    r.line,
                    "setl_id",
                    RosterProblem::AlreadyImported,
                ));
            }
            if let (Some(resident_id), Some(settled_on)) = (person, r.settled_on) {
                plan.push(NewBureauSettlement {
                    setl_id: r.setl_id.clone(),
                    resident_id,
                    psn_no: r.psn_no.clone(),
                    settled_on,
                    total_fen: r.total_fen,
                    fund_fen: r.fund_fen,
                    fixmedins_code: r.fixmedins_code.clone(),
                    fixmedins_name: r.fixmedins_name.clone(),
                    institution_id: ours.get(&r.fixmedins_code).copied(),
                });
            }
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(RosterError::Problems(problems));
        }
        let registered = if dry_run {
            0
        } else {
            let mut entry = entry.clone();
            entry.detail = Some(format!(
                "rows={};fund_fen={}",
                plan.len(),
                plan.iter().map(|p| p.fund_fen).sum::<i64>()
            ));
            let batch = format!("{}-{}", ctx.principal.user_id, self.now_us());
            match self
                .store
                .insert_bureau_settlements(
                    &plan,
                    &batch,
                    ctx.principal.staff_id,
                    self.now_us(),
                    &entry,
                )
                .await
            {
                Ok(n) => n,
                // another load brought one of them in meanwhile
                Err(gongti_store::StoreError::Duplicate(_)) => {
                    return Err(RosterError::App(AppError::Conflict("already_imported")));
                }
                Err(e) => return Err(RosterError::App(e.into())),
            }
        };
        Ok(RosterSummary {
            rows: rows.len(),
            registered,
            would_register: plan.len(),
            ignored_columns: Vec::new(),
            already_registered: 0,
        })
    }

    /// A year's costs to date by institution (the roles that oversee payment): every
    /// cost of a person while they counted under capitation, where they counted that
    /// day; exams priced by the demo price list at the fund's share of the year's
    /// scheme (409 `no_payment_scheme` without one).
    pub async fn capitation_costs(&self, ctx: &Ctx, year: i32) -> AppResult<YearCosts> {
        if !may_simulate(ctx.principal.role) {
            let entry =
                self.registry_entry(ctx, "capitation.costs.read", "CapitationYear", Outcome::Ok);
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        if !super::YEARS.contains(&year) {
            return Err(AppError::invalid(
                "year",
                gongti_core::problem::Problem::OutOfRange {
                    min: "2000",
                    max: "2100",
                },
            ));
        }
        let version = self.year_version(year).await?;
        let first = first_day(year);
        // a year not begun has no cost yet: through the day before it
        let through = self
            .today()
            .min(last_day(year))
            .max(first.previous_day().unwrap_or(first));
        let all = self.costs_by_owner(&version.scheme, year, through).await?;
        let mut institutions = BTreeMap::new();
        for (owner, costs) in all {
            if self.may_see_institution(ctx, owner).await? {
                institutions.insert(owner, costs.tally);
            }
        }
        Ok(YearCosts {
            year,
            through,
            scheme_version: version.record.id,
            institutions,
        })
    }

    /// Every cost of `year` through `through` of a person while they counted under
    /// capitation, by the institution where they counted that day, with each person's
    /// part.
    pub(crate) async fn costs_by_owner(
        &self,
        scheme: &gongti_core::payment::scheme::Scheme,
        year: i32,
        through: Date,
    ) -> AppResult<BTreeMap<i64, OwnerCosts>> {
        let first = first_day(year);
        let start_us = crate::unix_us(
            first
                .with_time(time::Time::MIDNIGHT)
                .assume_offset(DISPLAY_OFFSET),
        );
        let end_us = crate::unix_us(
            through
                .next_day()
                .unwrap_or(through)
                .with_time(time::Time::MIDNIGHT)
                .assume_offset(DISPLAY_OFFSET),
        );
        let levels = self.institution_levels().await?;
        let prices = ExamPrices::builtin();
        let mut out: BTreeMap<i64, OwnerCosts> = BTreeMap::new();
        let mut after = 0;
        loop {
            let (facts, last_id) = self
                .store
                .member_facts(first, through, after, MEMBER_CHUNK)
                .await?;
            let (Some(lo), Some(hi)) = (facts.first().map(|f| f.resident_id), last_id) else {
                break;
            };
            let by_resident: HashMap<i64, &gongti_store::MemberFacts> =
                facts.iter().map(|f| (f.resident_id, f)).collect();
            let costs = self
                .store
                .cost_facts((lo, hi), (first, through), (start_us, end_us))
                .await?;
            for c in costs {
                let Some(f) = by_resident.get(&c.resident_id) else {
                    continue;
                };
                let (day, source) = match c.origin {
                    CostOrigin::Pharmacy { at_us } => (local_day(at_us), CostSource::Pharmacy),
                    CostOrigin::Exam { at_us } => (local_day(at_us), CostSource::Exam),
                    CostOrigin::Bureau { on } => (on, CostSource::Bureau),
                };
                let person = spans(f, None);
                let first_tried = match c.disease.as_deref() {
                    Some("hypertension") => SchemeKind::MtHypertension,
                    Some("diabetes") => SchemeKind::MtDiabetes,
                    _ => SchemeKind::Contracted,
                };
                let Some(owner) = owner_for(&person.person(), day, first_tried) else {
                    continue;
                };
                let fund_fen = match (&c.origin, &c.item_code) {
                    (CostOrigin::Exam { .. }, Some(code)) => prices
                        .price_fen(code)
                        .map_or(0, |p| exam_fund_fen(p, scheme.exam_fund_share)),
                    _ => c.fund_fen,
                };
                let level = c
                    .institution_id
                    .and_then(|i| levels.get(&i).copied())
                    .map_or(CostLevel::Outside, CostLevel::At);
                let o = out.entry(owner).or_default();
                o.tally.add(source, level, fund_fen);
                *o.by_person.entry(c.resident_id).or_default() += fund_fen;
            }
            after = hi;
        }
        Ok(out)
    }

    /// Every institution's level of care, by id.
    pub(crate) async fn institution_levels(&self) -> AppResult<HashMap<i64, CareLevel>> {
        let mut out = HashMap::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .institutions(
                    &InstitutionFilter::default(),
                    after,
                    gongti_store::PAGE_SIZE_MAX,
                )
                .await?;
            for i in &page.items {
                out.insert(i.id, CareLevel::of(i.kind));
            }
            match page.next_after {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        Ok(out)
    }
}
