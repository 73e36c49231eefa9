//! The year-end clearing (年度清算, issue 17 point 5, DOMAIN.md §6). Once a year with
//! an approved budget is over, the insurance officer freezes its data — each
//! institution's members by the days they were actually enrolled (no projection),
//! the whole year's quality terms (签约率 on its last day), the fund-paid costs of the
//! members' care at every level, the prepayments paid — and the clearing is computed
//! from them (`core::payment::clearing`), every person saved with their days, their
//! part of B and their cost. Freezing again recounts, until an institution's clearing
//! is approved.
//!
//! Each institution's administrator then confirms or disputes with a reason; the
//! officer approves (answering a dispute), pays the balance or recovers it, and closes
//! the year once every institution is settled. Every step is taken once — taking it
//! again changes nothing — checked against the state its taker saw, and audited; the
//! figures are recomputed from the frozen inputs on every read and shown to agree.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use gongti_core::audit::Outcome;
use gongti_core::payment::clearing::{
    ClearingFigures, ClearingInputs, ClearingState, ClearingStep, figures, next,
};
use gongti_core::payment::membership::{days_in_year, first_day, last_day, membership};
use gongti_core::payment::quality::{encode_counts, parse_counts};
use gongti_core::payment::scheme::{Condition, budget_of};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_core::role::Role;
use gongti_store::{
    ClearingMember, ClearingRecord, ClearingRow, FreezeOutcome, IndicatorScope, StepKind,
};

use super::{may_set_schemes, may_simulate};
use crate::{App, AppError, AppResult, Ctx};

/// The most characters of a dispute's reason or the officer's reply.
pub const CLEARING_NOTE_MAX_CHARS: usize = 500;

/// An institution's clearing as saved, with its figures recomputed from its frozen
/// inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionClearing {
    pub record: ClearingRecord,
    pub state: ClearingState,
    pub figures: ClearingFigures,
    /// Whether the recomputed figures agree with those saved, to the fen.
    pub reproduced: bool,
}

/// A year's clearing: the year as approved and frozen, and each institution the viewer
/// may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearClearing {
    pub year: gongti_store::CapitationYearRecord,
    pub institutions: Vec<InstitutionClearing>,
}

/// A person counted in a clearing, the name masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearingPerson {
    pub member: ClearingMember,
    pub name_masked: String,
}

/// An institution's members of a year, counted by the days actually enrolled.
#[derive(Default)]
struct Counted {
    persons: [i64; 3],
    person_days: [i64; 3],
    numerator: i128,
}

/// A person's members, in institution order, added to `out`: one where they have days
/// (`here`: institution, days by scheme, share — sorted by institution) or a cost
/// (`costs`: institution, fen — sorted the same way). One with a cost but no days
/// there (counted there on the day of the care, under a span the year cut) still shows
/// with the cost, of age 0 and no condition.
fn person_members(
    resident_id: i64,
    (age, condition): (u32, Condition),
    here: &[(i64, [i64; 3], i128)],
    costs: &[(i64, i64)],
    out: &mut Vec<ClearingMember>,
) {
    let (mut i, mut j) = (0, 0);
    loop {
        let d = here
            .get(i)
            .filter(|h| costs.get(j).is_none_or(|c| h.0 <= c.0));
        let c = costs
            .get(j)
            .filter(|c| here.get(i).is_none_or(|h| c.0 <= h.0));
        let Some(institution_id) = d.map(|h| h.0).or(c.map(|c| c.0)) else {
            return;
        };
        i += usize::from(d.is_some());
        j += usize::from(c.is_some());
        let cost_fen = c.map_or(0, |c| c.1);
        out.push(match d {
            Some((_, days, share)) => ClearingMember {
                institution_id,
                resident_id,
                age: i64::from(age),
                condition: Cow::Borrowed(condition.code()),
                days: *days,
                share_micro_fen: i64::try_from(*share).unwrap_or(i64::MAX),
                cost_fen,
            },
            None => ClearingMember {
                institution_id,
                resident_id,
                age: 0,
                condition: Cow::Borrowed(Condition::None.code()),
                days: [0; 3],
                share_micro_fen: 0,
                cost_fen,
            },
        });
    }
}

fn inputs(r: &ClearingRow) -> AppResult<ClearingInputs> {
    Ok(ClearingInputs {
        budget_fen: r.budget_fen,
        counts: parse_counts(&r.quality_counts)
            .ok_or_else(|| anyhow::anyhow!("unreadable frozen quality counts"))?,
        cost_fen: r.cost_by_source_fen.iter().sum(),
        prepaid_fen: r.prepaid_fen,
    })
}

/// Whether saved figures are those `f` computes.
fn agrees(r: &ClearingRow, f: &ClearingFigures) -> bool {
    let c = &f.clearing;
    r.score_micro == f.assessment.score.and_then(|s| i64::try_from(s).ok())
        && i128::from(r.multiplier_micro) == c.multiplier
        && r.adjusted_budget_fen == c.adjusted_budget_fen
        && r.surplus_fen == c.surplus_fen
        && r.retained_fen == c.retained_fen
        && r.fund_covers_fen == c.fund_covers_fen
        && r.community_bears_fen == c.community_bears_fen
        && r.balance_fen == f.balance_fen
}

fn note(field: &'static str, text: Option<&str>, required: bool) -> AppResult<Option<String>> {
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    match text {
        None if required => Err(AppError::Invalid(vec![FieldProblem::new(
            field,
            Problem::Required,
        )])),
        Some(t) if t.chars().count() > CLEARING_NOTE_MAX_CHARS => {
            Err(AppError::Invalid(vec![FieldProblem::new(
                field,
                Problem::TooLong {
                    max_chars: CLEARING_NOTE_MAX_CHARS,
                },
            )]))
        }
        t => Ok(t.map(str::to_owned)),
    }
}

impl App {
    /// Freezes a year's data and computes its clearing (the insurance officer): the
    /// year must be over (409 `year_not_over`) with its budget approved (409
    /// `budget_not_approved`) and its twelve prepayments paid (409
    /// `prepayments_unpaid`; none can be paid after), and no institution's clearing
    /// approved yet (409 `clearing_already_approved`). Audited as `capitation.clearing.freeze` naming
    /// the persons counted.
    pub async fn freeze_capitation_year(&self, ctx: &Ctx, year: i32) -> AppResult<()> {
        let mut entry = self.registry_entry(
            ctx,
            "capitation.clearing.freeze",
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
        if self.today() <= last_day(year) {
            return Err(self
                .refuse(entry, AppError::Conflict("year_not_over"))
                .await);
        }
        let Some(approved) = self.store.capitation_year(year).await? else {
            return Err(self
                .refuse(entry, AppError::Conflict("budget_not_approved"))
                .await);
        };
        // the prepayments precede the clearing: all twelve paid, none can follow
        if self
            .store
            .capitation_budgets(year)
            .await?
            .iter()
            .any(|b| b.paid.iter().any(|p| !p))
        {
            return Err(self
                .refuse(entry, AppError::Conflict("prepayments_unpaid"))
                .await);
        }
        let version = self.year_version(year).await?;
        let scheme = &version.scheme;
        let (first, last) = (first_day(year), last_day(year));
        let days = days_in_year(year);

        // members, by the days actually enrolled, and their costs where each counted
        // that day: one walk of the year's persons, in resident order — the members
        // come out in the order they are saved in, each person's by institution
        let mut counted: BTreeMap<i64, Counted> = BTreeMap::new();
        let mut members: Vec<ClearingMember> = Vec::new();
        let mut costs = self.cost_counter(scheme, year, last).await?;
        let mut chunks = costs.chunks(&self.store);
        // a person's days and share by institution, sorted by institution
        let mut here: Vec<(i64, [i64; 3], i128)> = Vec::new();
        // the person's costs by owner: (institution id, fen)
        let mut mine: Vec<(i64, i64)> = Vec::new();
        while let Some(chunk) = chunks.next().await? {
            let mut person_costs = costs.count(&chunk).into_iter().peekable();
            members.reserve(chunk.facts.len() * 9 / 8);
            for (f, person) in chunk.facts.iter().zip(&chunk.persons) {
                let m = membership(year, &person.person());
                here.clear();
                for c in &m.counted {
                    let k = c.kind.index();
                    let share = scheme.share(c.kind, m.age, m.condition, c.days);
                    let at = match here.iter().position(|h| h.0 == c.institution_id) {
                        Some(at) => at,
                        None => {
                            here.push((c.institution_id, [0; 3], 0));
                            here.len() - 1
                        }
                    };
                    here[at].1[k] += c.days;
                    here[at].2 += share;
                    let t = counted.entry(c.institution_id).or_default();
                    t.persons[k] += 1;
                    t.person_days[k] += c.days;
                    t.numerator += share;
                }
                here.sort_unstable_by_key(|h| h.0);
                // the person's costs by owner, sorted as `here` is
                mine.clear();
                while let Some(p) = person_costs.next_if(|p| p.resident_id <= f.resident_id) {
                    if p.resident_id == f.resident_id {
                        mine.push((p.owner, p.fen));
                    }
                }
                person_members(
                    f.resident_id,
                    (m.age, m.condition),
                    &here,
                    &mine,
                    &mut members,
                );
            }
        }
        let costs = costs.out;
        let paid: BTreeMap<i64, i64> = self
            .store
            .capitation_budgets(year)
            .await?
            .iter()
            .map(|b| {
                let paid = (0..12)
                    .filter(|m| b.paid[*m])
                    .map(|m| b.budget.months_fen[m])
                    .sum();
                (b.budget.institution_id, paid)
            })
            .collect();
        let ids: BTreeSet<i64> = counted
            .keys()
            .chain(costs.keys())
            .chain(paid.keys())
            .copied()
            .collect();
        let period = gongti_core::chronic::indicators::Period::new(first, last)
            .ok_or_else(|| anyhow::anyhow!("an empty year"))?;
        let mut rows = Vec::with_capacity(ids.len());
        for id in ids {
            let c = counted.remove(&id).unwrap_or_default();
            let cost = costs.get(&id).cloned().unwrap_or_default();
            let counts = self
                .term_counts(ctx, &IndicatorScope::Institution(id), &period)
                .await?;
            let budget_fen = budget_of(c.numerator, days);
            let input = ClearingInputs {
                budget_fen,
                counts,
                cost_fen: cost.total_fen(),
                prepaid_fen: paid.get(&id).copied().unwrap_or(0),
            };
            let f = figures(scheme, &input);
            rows.push(ClearingRow {
                institution_id: id,
                persons: c.persons,
                person_days: c.person_days,
                budget_fen,
                prepaid_fen: input.prepaid_fen,
                quality_counts: encode_counts(&counts),
                cost_by_source_fen: cost.by_source_fen,
                cost_by_level_fen: cost.by_level_fen,
                cost_lines: cost.lines,
                score_micro: f.assessment.score.and_then(|s| i64::try_from(s).ok()),
                multiplier_micro: i64::try_from(f.clearing.multiplier).unwrap_or(i64::MAX),
                adjusted_budget_fen: f.clearing.adjusted_budget_fen,
                surplus_fen: f.clearing.surplus_fen,
                retained_fen: f.clearing.retained_fen,
                fund_covers_fen: f.clearing.fund_covers_fen,
                community_bears_fen: f.clearing.community_bears_fen,
                balance_fen: f.balance_fen,
            });
        }
        let sum = |g: fn(&ClearingRow) -> i64| rows.iter().map(g).sum::<i64>();
        entry.detail = Some(format!(
            "scheme_version={};institutions={};budget_fen={};cost_fen={};balance_fen={};persons={};residents={}",
            approved.scheme_version,
            rows.len(),
            sum(|r| r.budget_fen),
            sum(|r| r.cost_by_source_fen.iter().sum()),
            sum(|r| r.balance_fen),
            members.len(),
            gongti_core::coverage::encode_ids(members.iter().map(|m| m.resident_id))
        ));
        match self
            .store
            .freeze_clearing(
                year,
                rows,
                members,
                ctx.principal.staff_id,
                self.now_us(),
                vec![entry.clone()],
            )
            .await?
        {
            FreezeOutcome::Frozen => {
                self.audit.flush().await?;
                Ok(())
            }
            FreezeOutcome::NotApproved => Err(self
                .refuse(entry, AppError::Conflict("budget_not_approved"))
                .await),
            FreezeOutcome::Settled => Err(self
                .refuse(entry, AppError::Conflict("clearing_already_approved"))
                .await),
        }
    }

    /// Freezes the year's clearing as [`App::freeze_capitation_year`] does, in a task of
    /// its own that no caller's time limit cuts short (at a city's scale a freeze takes
    /// a minute): answers once it is done, or after `wait` with `false` — it goes on,
    /// and [`App::freezing`] says so until it ends. One freeze of a year at a time in
    /// this process: another asked meanwhile is 409 `clearing_in_progress`.
    pub async fn start_freeze(
        &self,
        ctx: &Ctx,
        year: i32,
        wait: std::time::Duration,
    ) -> AppResult<bool> {
        if !may_set_schemes(ctx.principal.role) {
            // refused (and audited) as the freeze itself refuses, holding nothing
            return self.freeze_capitation_year(ctx, year).await.map(|()| true);
        }
        if !self
            .freezing
            .lock()
            .map_err(|_| anyhow::anyhow!("the freezing set is poisoned"))?
            .insert(year)
        {
            return Err(AppError::Conflict("clearing_in_progress"));
        }
        /// Takes the year off the set however the task ends (a panic included).
        struct Release(App, i32);
        impl Drop for Release {
            fn drop(&mut self) {
                if let Ok(mut f) = self.0.freezing.lock() {
                    f.remove(&self.1);
                }
            }
        }
        let (app, ctx) = (self.clone(), ctx.clone());
        let task = tokio::spawn(async move {
            let _release = Release(app.clone(), year);
            app.freeze_capitation_year(&ctx, year).await
        });
        match tokio::time::timeout(wait, task).await {
            Ok(Ok(done)) => done.map(|()| true),
            Ok(Err(e)) => Err(AppError::Internal(anyhow::anyhow!(
                "the freeze stopped: {e}"
            ))),
            Err(_) => Ok(false),
        }
    }

    /// Whether the year's clearing is being frozen in this process now.
    pub fn freezing(&self, year: i32) -> bool {
        self.freezing.lock().is_ok_and(|f| f.contains(&year))
    }

    /// A year's clearing (the roles that oversee payment, for the institutions they
    /// may see): 409 `clearing_not_computed` before its data are frozen.
    pub async fn capitation_clearing(&self, ctx: &Ctx, year: i32) -> AppResult<YearClearing> {
        if !may_simulate(ctx.principal.role) {
            let entry = self.registry_entry(
                ctx,
                "capitation.clearing.read",
                "CapitationYear",
                Outcome::Ok,
            );
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        Self::year_ok(year)?;
        let year_record = self
            .store
            .capitation_year(year)
            .await?
            .filter(|y| y.frozen_at_us.is_some())
            .ok_or(AppError::Conflict("clearing_not_computed"))?;
        let version = self.year_version(year).await?;
        let mut institutions = Vec::new();
        for record in self.store.clearings(year).await? {
            if !self
                .may_see_institution(ctx, record.row.institution_id)
                .await?
            {
                continue;
            }
            let f = figures(&version.scheme, &inputs(&record.row)?);
            let state = ClearingState::parse(&record.state)
                .ok_or_else(|| anyhow::anyhow!("unknown clearing state {}", record.state))?;
            institutions.push(InstitutionClearing {
                reproduced: agrees(&record.row, &f),
                figures: f,
                state,
                record,
            });
        }
        Ok(YearClearing {
            year: year_record,
            institutions,
        })
    }

    /// Takes `step` on an institution's clearing: confirm or dispute (its
    /// administrator, a dispute with a reason), approve (the insurance officer, a
    /// disputed one with a reply) or pay/recover the balance (the officer). Taking a
    /// step again changes nothing; a step the state does not allow answers 409 with
    /// the reason's code, a change meanwhile — or a freeze other than the one seen,
    /// `seen_frozen_at_us` — 409 `clearing_changed_meanwhile`; approving or paying
    /// figures the frozen inputs do not give, 409 `clearing_not_reproduced`. Audited
    /// as `capitation.clearing.{step}` with the reason or reply.
    pub async fn clearing_step(
        &self,
        ctx: &Ctx,
        year: i32,
        institution_id: i64,
        step: ClearingStep,
        words: Option<&str>,
        seen_frozen_at_us: Option<i64>,
    ) -> AppResult<ClearingState> {
        let mut entry = self.registry_entry(
            ctx,
            &format!("capitation.clearing.{}", step.code()),
            "CapitationClearing",
            Outcome::Ok,
        );
        entry.resource_id = Some(format!("{year}:{institution_id}"));
        let allowed = match step {
            ClearingStep::Confirm | ClearingStep::Dispute => {
                ctx.principal.role == Role::InstitutionAdmin
                    && ctx.principal.institution_id == Some(institution_id)
            }
            ClearingStep::Approve | ClearingStep::Settle => may_set_schemes(ctx.principal.role),
        };
        if !allowed {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        if let Err(e) = Self::year_ok(year) {
            return Err(self.refuse(entry, e).await);
        }
        let Some(record) = self
            .store
            .clearings(year)
            .await?
            .into_iter()
            .find(|c| c.row.institution_id == institution_id)
        else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        let state = ClearingState::parse(&record.state)
            .ok_or_else(|| anyhow::anyhow!("unknown clearing state {}", record.state))?;
        // a step answers the figures its taker saw: the officer may have frozen again
        if seen_frozen_at_us.is_some_and(|seen| seen != record.frozen_at_us) {
            return Err(self
                .refuse(entry, AppError::Conflict("clearing_changed_meanwhile"))
                .await);
        }
        // nothing is approved or paid on figures the frozen inputs do not give
        if matches!(step, ClearingStep::Approve | ClearingStep::Settle) {
            let version = self.year_version(year).await?;
            let f = figures(&version.scheme, &inputs(&record.row)?);
            if !agrees(&record.row, &f) {
                return Err(self
                    .refuse(entry, AppError::Conflict("clearing_not_reproduced"))
                    .await);
            }
        }
        let to = match next(state, step, record.row.balance_fen) {
            Ok(to) => to,
            Err(r) => return Err(self.refuse(entry, AppError::Conflict(r.code())).await),
        };
        if to == state {
            return Ok(state);
        }
        let (field, required) = match step {
            ClearingStep::Dispute => ("reason", true),
            ClearingStep::Approve => ("reply", state == ClearingState::Disputed),
            ClearingStep::Confirm | ClearingStep::Settle => ("reply", false),
        };
        let words = match note(field, words, required) {
            Ok(w) => w,
            Err(e) => return Err(self.refuse(entry, e).await),
        };
        let kind = match step {
            ClearingStep::Confirm | ClearingStep::Dispute => StepKind::Answer,
            ClearingStep::Approve => StepKind::Approve,
            ClearingStep::Settle => StepKind::Settle,
        };
        entry.detail = Some(format!(
            "from={};to={};balance_fen={};frozen_at_us={}",
            state.code(),
            to.code(),
            record.row.balance_fen,
            record.frozen_at_us
        ));
        // the trail keeps each dispute's reason and each reply, whatever later steps
        // or freezes write over the row
        entry.reason = words.clone();
        let done = self
            .store
            .clearing_step(
                year,
                institution_id,
                (state.code(), to.code()),
                record.frozen_at_us,
                kind,
                words.as_deref(),
                Some(ctx.principal.staff_id),
                self.now_us(),
                &[entry.clone()],
            )
            .await?;
        if !done {
            return Err(self
                .refuse(entry, AppError::Conflict("clearing_changed_meanwhile"))
                .await);
        }
        self.audit.flush().await?;
        Ok(to)
    }

    /// Closes a year whose every institution is paid or recovered (the insurance
    /// officer; 409 `clearing_not_settled`); closing again changes nothing. Audited as
    /// `capitation.clearing.close`.
    pub async fn close_capitation_year(&self, ctx: &Ctx, year: i32) -> AppResult<()> {
        let mut entry = self.registry_entry(
            ctx,
            "capitation.clearing.close",
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
        match self.store.capitation_year(year).await? {
            Some(y) if y.state == "closed" => return Ok(()),
            Some(y) if y.frozen_at_us.is_some() => {}
            _ => {
                return Err(self
                    .refuse(entry, AppError::Conflict("clearing_not_computed"))
                    .await);
            }
        }
        if !self
            .store
            .close_clearing_year(
                year,
                ctx.principal.staff_id,
                self.now_us(),
                &[entry.clone()],
            )
            .await?
        {
            return Err(self
                .refuse(entry, AppError::Conflict("clearing_not_settled"))
                .await);
        }
        self.audit.flush().await?;
        Ok(())
    }

    /// The persons of an institution's clearing as frozen, a page at a time (the roles
    /// that oversee payment, for the institutions they may see; audited with the
    /// persons listed).
    pub async fn clearing_persons(
        &self,
        ctx: &Ctx,
        year: i32,
        institution_id: i64,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<gongti_store::Page<ClearingPerson>> {
        let mut entry = self.registry_entry(
            ctx,
            "capitation.clearing.members",
            "CapitationClearing",
            Outcome::Ok,
        );
        entry.resource_id = Some(format!("{year}:{institution_id}"));
        if !may_simulate(ctx.principal.role)
            || !self.may_see_institution(ctx, institution_id).await?
        {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        Self::year_ok(year)?;
        let page = self
            .store
            .clearing_members(
                year,
                institution_id,
                after.unwrap_or(0),
                limit.clamp(1, gongti_store::PAGE_SIZE_MAX),
            )
            .await?;
        let mut items = Vec::with_capacity(page.items.len());
        for member in page.items {
            let name = self.store.resident(member.resident_id).await?.name;
            items.push(ClearingPerson {
                name_masked: gongti_core::resident::mask_name(&name),
                member,
            });
        }
        entry.detail = Some(format!(
            "{} listed;residents={}",
            items.len(),
            gongti_core::coverage::encode_ids(items.iter().map(|i| i.member.resident_id))
        ));
        self.audit.record(vec![entry]).await?;
        Ok(gongti_store::Page {
            items,
            next_after: page.next_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persons_members_join_days_and_costs_by_institution() {
        let h = |id: i64, d: i64| (id, [d, 0, 0], i128::from(d) * 1_000);
        // (days by institution, costs by institution) → (institution, days, cost, age)
        type Case = (
            &'static [(i64, i64)],
            &'static [(i64, i64)],
            &'static [(i64, i64, i64, i64)],
        );
        let cases: [Case; 5] = [
            (&[], &[], &[]),
            (&[(3, 100)], &[], &[(3, 100, 0, 70)]),
            (&[(3, 100)], &[(3, 500)], &[(3, 100, 500, 70)]),
            // a cost where the person has no days: shown with the cost, age 0
            (&[(3, 100)], &[(2, 40)], &[(2, 0, 40, 0), (3, 100, 0, 70)]),
            (
                &[(2, 10), (5, 20)],
                &[(1, 7), (2, 8), (5, 9), (9, 6)],
                &[(1, 0, 7, 0), (2, 10, 8, 70), (5, 20, 9, 70), (9, 0, 6, 0)],
            ),
        ];
        for (days, costs, want) in cases {
            let here: Vec<_> = days.iter().map(|(id, d)| h(*id, *d)).collect();
            let mut out = Vec::new();
            person_members(42, (70, Condition::Hypertension), &here, costs, &mut out);
            let got: Vec<_> = out
                .iter()
                .map(|m| (m.institution_id, m.days[0], m.cost_fen, m.age))
                .collect();
            assert_eq!(got, want, "{days:?} {costs:?}");
            for m in &out {
                assert_eq!(m.resident_id, 42);
                let with_days = m.days[0] > 0;
                assert_eq!(m.share_micro_fen, m.days[0] * 1_000);
                assert_eq!(
                    m.condition,
                    if with_days {
                        Condition::Hypertension
                    } else {
                        Condition::None
                    }
                    .code()
                );
            }
        }
    }
}
