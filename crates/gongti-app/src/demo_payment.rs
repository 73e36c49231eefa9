//! The demo region's capitation year (issue 17 point 10), labelled a demonstration:
//! last year's budget approved under the demo scheme and its twelve prepayments paid;
//! the bureau's settlement file of last year (a demo file, every row named so) giving
//! each institution a fund-paid cost around its adjusted budget — most of them with a
//! surplus rate in the seeds' range (Tianjin's grassroots kept 16–31 %), one in four
//! overspent — care split between the institution itself, its upper hospital and
//! hospitals outside Gongti; the year frozen and cleared by the insurance officer;
//! and the institutions' answers under way: the demo centre's clearing awaiting its
//! administrator (`centreadmin`), others confirmed, one disputed, some approved and
//! paid or recovered — the year left open for the officer to finish. And last month's
//! incentive pool of the demo centre settled through the use cases: locked by its
//! administrator with demo funds (retained surplus, public-health performance funds),
//! approved by the district officer for the committee, recorded paid.

use std::collections::{BTreeMap, HashMap};

use gongti_core::payment::clearing::{ClearingState, ClearingStep, next};
use gongti_core::payment::membership::{first_day, last_day, owner_for};
use gongti_core::payment::scheme::SchemeKind;
use gongti_store::{MemberFacts, NewBureauSettlement, StepKind};
use time::{Date, Duration};

use crate::demo::{DemoRng, demo_entry};
use crate::payment::MEMBER_CHUNK;
use crate::{App, AppResult};

/// The demo file's batch and the prefix of its 结算IDs.
const DEMO_BATCH: &str = "demo-bureau-file";
/// An institution outside Gongti, as the demo file names it.
const OUTSIDE: (&str, &str) = ("H12999900001", "市外定点医院（演示）");

/// A day of `year` on which `f` counted at `institution` for a cost of no disease,
/// looking back from the year's last day a fortnight at a time.
fn day_counted_at(f: &MemberFacts, year: i32, institution: i64) -> Option<Date> {
    let spans = crate::payment::member_spans(f);
    let mut day = last_day(year);
    while day >= first_day(year) {
        if owner_for(&spans.person(), day, SchemeKind::Contracted) == Some(institution) {
            return Some(day);
        }
        day -= Duration::days(15);
    }
    None
}

impl App {
    /// Seeds last year's capitation (see the module) for the demo's `insurer`.
    pub(crate) async fn seed_demo_clearing(
        &self,
        insurer: i64,
        today: Date,
        now_us: i64,
        seed: u64,
    ) -> AppResult<()> {
        let year = today.year() - 1;
        let version = self
            .scheme_on(first_day(year))
            .await?
            .ok_or_else(|| anyhow::anyhow!("the demo scheme is not in force last year"))?;
        let entry = demo_entry(now_us, "CapitationYear", None);
        self.save_capitation_year(year, &version, today, insurer, entry)
            .await?;
        for month in 1..=12 {
            let entry = demo_entry(now_us, "CapitationYear", None);
            self.pay_month(year, month, today, insurer, entry).await?;
        }
        let ctx = self.demo_ctx("insurer").await?;
        // a first count gives each institution its B and m(Q), and so A
        self.freeze_capitation_year(&ctx, year).await?;
        let rows = self.store.clearings(year).await?;

        // every member's facts, to date each settlement on a day they counted there
        let mut facts: HashMap<i64, MemberFacts> = HashMap::new();
        let mut after = 0;
        loop {
            let (chunk, last_id) = self
                .store
                .member_facts(first_day(year), last_day(year), after, MEMBER_CHUNK)
                .await?;
            facts.extend(chunk.into_iter().map(|f| (f.resident_id, f)));
            match last_id {
                Some(id) => after = id,
                None => break,
            }
        }
        let institutions: BTreeMap<i64, gongti_store::InstitutionRecord> = {
            let mut out = BTreeMap::new();
            for r in &rows {
                let i = self.store.institution(r.row.institution_id).await?;
                if let Some(u) = i.upper_institution_id {
                    out.insert(u, self.store.institution(u).await?);
                }
                out.insert(i.id, i);
            }
            out
        };
        let mut rng = DemoRng::new(seed ^ 0x5041_594D_454E_5453);
        let mut settlements = Vec::new();
        for (index, r) in rows.iter().enumerate() {
            let id = r.row.institution_id;
            // one in four overspends by 3–12 %, the others keep 16–31 %
            let rate_bp = if index % 4 == 3 {
                -300 - rng.below(901) as i64
            } else {
                1_600 + rng.below(1_501) as i64
            };
            let adjusted = i128::from(r.row.adjusted_budget_fen);
            let had: i64 = r.row.cost_by_source_fen.iter().sum();
            let target = i64::try_from(adjusted * i128::from(10_000 - rate_bp) / 10_000)
                .unwrap_or(0)
                .saturating_sub(had)
                .max(0);
            let mut page_after = 0;
            let mut members = Vec::new();
            loop {
                let page = self
                    .store
                    .clearing_members(year, id, page_after, gongti_store::PAGE_SIZE_MAX)
                    .await?;
                members.extend(page.items.into_iter().filter(|m| m.share_micro_fen > 0));
                match page.next_after {
                    Some(n) => page_after = n,
                    None => break,
                }
            }
            let shares: i128 = members.iter().map(|m| i128::from(m.share_micro_fen)).sum();
            if shares == 0 {
                continue;
            }
            let upper = institutions
                .get(&id)
                .and_then(|i| i.upper_institution_id)
                .and_then(|u| institutions.get(&u));
            for m in &members {
                let fund =
                    i64::try_from(i128::from(target) * i128::from(m.share_micro_fen) / shares)
                        .unwrap_or(0);
                let Some(day) = facts
                    .get(&m.resident_id)
                    .and_then(|f| day_counted_at(f, year, id))
                else {
                    continue;
                };
                if fund <= 0 {
                    continue;
                }
                // where the care happened: the institution itself, its upper hospital
                // or a hospital outside Gongti
                let roll = rng.below(100);
                let (code, name, at) = match (roll, upper) {
                    (0..=54, _) | (55..=89, None) => {
                        let i = &institutions[&id];
                        (i.code.clone(), i.name.clone(), Some(id))
                    }
                    (55..=89, Some(u)) => (u.code.clone(), u.name.clone(), Some(u.id)),
                    _ => (OUTSIDE.0.to_owned(), OUTSIDE.1.to_owned(), None),
                };
                settlements.push(NewBureauSettlement {
                    setl_id: format!("DEMO{year}{:08}", settlements.len() + 1),
                    resident_id: m.resident_id,
                    psn_no: format!("DEMO{:010}", m.resident_id),
                    settled_on: day,
                    // the fund paid about seven tenths of the bill
                    total_fen: fund + fund * 3 / 7,
                    fund_fen: fund,
                    fixmedins_code: code,
                    fixmedins_name: name,
                    institution_id: at,
                });
            }
        }
        if !settlements.is_empty() {
            let mut entry = demo_entry(now_us, "BureauSettlement", None);
            entry.detail = Some(format!("{DEMO_BATCH};rows={}", settlements.len()));
            self.store
                .insert_bureau_settlements(&settlements, DEMO_BATCH, insurer, now_us, &entry)
                .await?;
        }
        // counted again with the bureau's file
        self.freeze_capitation_year(&ctx, year).await?;

        // the institutions' answers under way; the demo centre's awaits its administrator
        let centre = self.demo_ctx("centreadmin").await?.principal.institution_id;
        let rows = self.store.clearings(year).await?;
        let others = rows.iter().filter(|r| Some(r.row.institution_id) != centre);
        for (index, r) in others.enumerate() {
            let steps: &[(ClearingStep, Option<&str>)] = match index % 5 {
                0 => &[(
                    ClearingStep::Dispute,
                    Some("演示：本机构签约居民在院外住院的费用不应计入门诊按人头付费"),
                )],
                1 => &[(ClearingStep::Confirm, None)],
                2 | 3 => &[
                    (ClearingStep::Confirm, None),
                    (ClearingStep::Approve, None),
                    (ClearingStep::Settle, None),
                ],
                _ => &[(ClearingStep::Confirm, None), (ClearingStep::Approve, None)],
            };
            let mut state = ClearingState::Computed;
            for (step, words) in steps {
                let to = next(state, *step, r.row.balance_fen)
                    .map_err(|e| anyhow::anyhow!("demo clearing step: {}", e.code()))?;
                let kind = match step {
                    ClearingStep::Confirm | ClearingStep::Dispute => StepKind::Answer,
                    ClearingStep::Approve => StepKind::Approve,
                    ClearingStep::Settle => StepKind::Settle,
                };
                let mut entry = demo_entry(now_us, "CapitationClearing", None);
                entry.resource_id = Some(format!("{year}:{}", r.row.institution_id));
                entry.detail = Some(format!(
                    "{};from={};to={}",
                    step.code(),
                    state.code(),
                    to.code()
                ));
                let done = self
                    .store
                    .clearing_step(
                        year,
                        r.row.institution_id,
                        (state.code(), to.code()),
                        r.frozen_at_us,
                        kind,
                        *words,
                        // the demo's answers were given by no one of the institution
                        (kind != StepKind::Answer).then_some(insurer),
                        now_us,
                        &[entry],
                    )
                    .await?;
                if !done {
                    return Err(anyhow::anyhow!("demo clearing step not taken").into());
                }
                state = to;
            }
        }
        Ok(())
    }

    /// Last month's incentive pool of the demo centre, settled (see the module).
    pub(crate) async fn seed_demo_incentive_month(&self, today: Date) -> AppResult<()> {
        let admin = self.demo_ctx("centreadmin").await?;
        let Some(centre) = admin.principal.institution_id else {
            return Ok(());
        };
        let first = today.replace_day(1).map_err(|e| anyhow::anyhow!("{e}"))?;
        let last_month = first.previous_day().unwrap_or(first);
        let key = (last_month.year(), u8::from(last_month.month()));
        // demo funds, in fen: 20,000 yuan of last year's retained surplus, 10,000 yuan
        // of public-health performance funds
        let funds = [
            ("retained_surplus".to_owned(), 2_000_000),
            ("public_health_performance".to_owned(), 1_000_000),
        ];
        self.lock_incentive_month(&admin, centre, key, &funds)
            .await?;
        let district = self.demo_ctx("district").await?;
        self.approve_incentive_month(&district, centre, key, "演示：绩效考核管理委员会审定")
            .await?;
        self.pay_incentive_month(&admin, centre, key).await?;
        Ok(())
    }
}
