//! Capitation's costs (issue 17 point 3, DOMAIN.md §6): the bureau's settlement file
//! brought in (the insurance officer: checked whole — every problem by line and
//! column, a person unknown by 人员编号, a 结算ID brought in already — then every row
//! or none, or only checked on a dry run), and a year's costs to date by institution:
//! each cost of an enrolled person counted where the person counted that day, by
//! source (cloud pharmacy, cloud centres, the bureau) and by level (grassroots,
//! internet hospital, secondary, tertiary, outside the community), with the share at
//! the upper levels — cost shifted upward shows there.

use std::collections::{BTreeMap, HashMap, VecDeque};

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
use tokio::sync::mpsc;

use super::capitation::{MEMBER_CHUNK, Spans, spans};
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

/// A person's fund-paid costs counted at one institution (the owner) in a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PersonCost {
    pub resident_id: i64,
    pub owner: i64,
    pub fen: i64,
}

/// Chunks read ahead of the one being counted.
const CHUNKS_AHEAD: usize = 2;
/// Reads of chunks' costs under way at once.
const COSTS_IN_FLIGHT: usize = 2;

/// A chunk of the year's persons: their facts as read (by resident id), their spans in
/// the same order and their costs in the days counted.
pub(crate) struct YearChunk {
    pub facts: Vec<gongti_store::MemberFacts>,
    pub persons: Vec<Spans>,
    pub costs: Vec<gongti_store::CostFact>,
}

/// The year's chunks as [`CostCounter::chunks`] reads them ahead.
pub(crate) struct YearChunks {
    receive: mpsc::Receiver<AppResult<YearChunk>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl YearChunks {
    /// The next chunk; `None` at the end — only once the reading ended as it should,
    /// a reading that stopped short (a panic) being an error, never a shorter year.
    pub(crate) async fn next(&mut self) -> AppResult<Option<YearChunk>> {
        if let Some(chunk) = self.receive.recv().await {
            return chunk.map(Some);
        }
        if let Some(task) = self.task.take() {
            task.await.map_err(|e| {
                AppError::Internal(anyhow::anyhow!("the reading of the year stopped: {e}"))
            })?;
        }
        Ok(None)
    }
}

/// Counts a year's costs where each person counted that day, by owner, a chunk of
/// persons at a time (the chunk's persons read once serve the members' count too).
pub(crate) struct CostCounter {
    levels: HashMap<i64, CareLevel>,
    exam_fund_share: i128,
    /// The days counted, `[first, through]`, and the same in microseconds, `[from, to)`.
    days: (Date, Date),
    times_us: (i64, i64),
    /// By the owner's institution id.
    pub out: BTreeMap<i64, CostTally>,
}

impl CostCounter {
    /// Counts the costs of a chunk's persons (`facts` as read, by resident id, with
    /// `persons` their spans in the same order) into the owners' tallies; each
    /// person's sums by owner, sorted by resident and owner, each pair once.
    pub(crate) fn count(&mut self, chunk: &YearChunk) -> Vec<PersonCost> {
        let YearChunk {
            facts,
            persons,
            costs,
        } = chunk;
        let prices = ExamPrices::builtin();
        // The costs come a source at a time, each by resident: the person is most often
        // the one before or the next, and a person's costs most often count at one
        // institution, so a run of them makes one entry; a source's runs meet the
        // others' in the sort at the end.
        let mut at = 0;
        let mut runs: Vec<PersonCost> = Vec::with_capacity(facts.len() * 5 / 4);
        for c in costs {
            if facts.get(at).is_none_or(|f| f.resident_id != c.resident_id) {
                match facts.binary_search_by_key(&c.resident_id, |f| f.resident_id) {
                    Ok(found) => at = found,
                    Err(_) => continue,
                }
            }
            let (day, source) = match c.origin {
                CostOrigin::Pharmacy { at_us } => (local_day(at_us), CostSource::Pharmacy),
                CostOrigin::Exam { at_us } => (local_day(at_us), CostSource::Exam),
                CostOrigin::Bureau { on } => (on, CostSource::Bureau),
            };
            let first_tried = match c.disease.as_deref() {
                Some("hypertension") => SchemeKind::MtHypertension,
                Some("diabetes") => SchemeKind::MtDiabetes,
                _ => SchemeKind::Contracted,
            };
            let Some(owner) = owner_for(&persons[at].person(), day, first_tried) else {
                continue;
            };
            let fund_fen = match (&c.origin, &c.item_code) {
                (CostOrigin::Exam { .. }, Some(code)) => prices
                    .price_fen(code)
                    .map_or(0, |p| exam_fund_fen(p, self.exam_fund_share)),
                _ => c.fund_fen,
            };
            let level = c
                .institution_id
                .and_then(|i| self.levels.get(&i).copied())
                .map_or(CostLevel::Outside, CostLevel::At);
            self.out
                .entry(owner)
                .or_default()
                .add(source, level, fund_fen);
            match runs.last_mut() {
                Some(r) if r.owner == owner && r.resident_id == c.resident_id => r.fen += fund_fen,
                _ => runs.push(PersonCost {
                    resident_id: c.resident_id,
                    owner,
                    fen: fund_fen,
                }),
            }
        }
        // the sources came one after another: a person's runs brought together
        runs.sort_by_key(|r| (r.resident_id, r.owner));
        runs.dedup_by(|later, kept| {
            let same = (later.resident_id, later.owner) == (kept.resident_id, kept.owner);
            if same {
                kept.fen += later.fen;
            }
            same
        });
        runs
    }

    /// The year's persons with a contract or an enrolment in the days counted, a chunk
    /// at a time with their spans and costs, read ahead in a task of its own: a
    /// chunk's persons are read while the costs of the chunks before are (up to
    /// [`COSTS_IN_FLIGHT`] of those reads at once, SQLite's on the blocking pool) and
    /// the chunk before those is counted, so that on two cores a read seldom waits for
    /// another. The task stops at the end, at an error (sent last) or when the receiver
    /// is dropped.
    pub(crate) fn chunks(&self, store: &gongti_store::Store) -> YearChunks {
        let (send, receive) = mpsc::channel(CHUNKS_AHEAD);
        let (store, (first, through), times_us) = (store.clone(), self.days, self.times_us);
        let task = tokio::spawn(async move {
            let mut in_flight: VecDeque<(YearChunk, CostsRead)> = VecDeque::new();
            let mut after = 0;
            // the costs per person of the chunks so far, to make room for the next's
            let mut read = Read::default();
            loop {
                let (facts, last_id) = match store
                    .member_facts(first, through, after, MEMBER_CHUNK)
                    .await
                {
                    Ok(next) => next,
                    Err(e) => {
                        let _ = send.send(Err(AppError::from(e))).await;
                        return;
                    }
                };
                // only `None` says the end: a chunk may hold no one while more remain
                let Some(hi) = last_id else { break };
                after = hi;
                let Some(lo) = facts.first().map(|f| f.resident_id) else {
                    continue;
                };
                // the reads done handed on (in order), and the oldest waited for
                // when another would be one too many
                while in_flight
                    .front()
                    .is_some_and(|(_, c)| c.is_finished() || in_flight.len() >= COSTS_IN_FLIGHT)
                    && let Some((chunk, costs)) = in_flight.pop_front()
                {
                    if !read.hand_on(chunk, costs, &send).await {
                        return;
                    }
                }
                let store = store.clone();
                let expected = (read.costs / read.persons.max(1) + 1) * facts.len() * 9 / 8;
                let costs = tokio::spawn(async move {
                    store
                        .cost_facts((lo, hi), (first, through), times_us, expected)
                        .await
                });
                let persons = facts.iter().map(|f| spans(f, None)).collect();
                let chunk = YearChunk {
                    facts,
                    persons,
                    costs: Vec::new(),
                };
                in_flight.push_back((chunk, costs));
            }
            // the end: the reads still under way handed on in order
            while let Some((chunk, costs)) = in_flight.pop_front() {
                if !read.hand_on(chunk, costs, &send).await {
                    return;
                }
            }
        });
        YearChunks {
            receive,
            task: Some(task),
        }
    }
}

/// A read of a chunk's costs under way.
type CostsRead = tokio::task::JoinHandle<gongti_store::Result<Vec<gongti_store::CostFact>>>;

/// The persons and costs handed on so far.
#[derive(Default)]
struct Read {
    persons: usize,
    costs: usize,
}

impl Read {
    /// Hands `chunk` on with its costs once read; `false` when the reading is over (an
    /// error sent, or no one receiving).
    async fn hand_on(
        &mut self,
        mut chunk: YearChunk,
        costs: CostsRead,
        send: &mpsc::Sender<AppResult<YearChunk>>,
    ) -> bool {
        let costs = match costs.await {
            Ok(Ok(costs)) => costs,
            Ok(Err(e)) => {
                let _ = send.send(Err(AppError::from(e))).await;
                return false;
            }
            Err(e) => {
                let _ = send
                    .send(Err(AppError::Internal(anyhow::anyhow!(
                        "a read of costs stopped: {e}"
                    ))))
                    .await;
                return false;
            }
        };
        self.persons += chunk.facts.len();
        self.costs += costs.len();
        chunk.costs = costs;
        send.send(Ok(chunk)).await.is_ok()
    }
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
                institutions.insert(owner, costs);
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
    /// capitation, by the institution where they counted that day.
    pub(crate) async fn costs_by_owner(
        &self,
        scheme: &gongti_core::payment::scheme::Scheme,
        year: i32,
        through: Date,
    ) -> AppResult<BTreeMap<i64, CostTally>> {
        let mut counter = self.cost_counter(scheme, year, through).await?;
        let mut chunks = counter.chunks(&self.store);
        while let Some(chunk) = chunks.next().await? {
            counter.count(&chunk);
        }
        Ok(counter.out)
    }

    /// A counter of `year`'s costs through `through` under `scheme`, empty.
    pub(crate) async fn cost_counter(
        &self,
        scheme: &gongti_core::payment::scheme::Scheme,
        year: i32,
        through: Date,
    ) -> AppResult<CostCounter> {
        let first = first_day(year);
        let midnight = |day: Date| {
            crate::unix_us(
                day.with_time(time::Time::MIDNIGHT)
                    .assume_offset(DISPLAY_OFFSET),
            )
        };
        Ok(CostCounter {
            levels: self.institution_levels().await?,
            exam_fund_share: scheme.exam_fund_share,
            days: (first, through),
            times_us: (
                midnight(first),
                midnight(through.next_day().unwrap_or(through)),
            ),
            out: BTreeMap::new(),
        })
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
