//! An institution's incentive pool of a month, counted from the records (issue 17
//! points 6–7, `core::payment::pool`): the contract fees signed there that month with
//! the team's share into the pool (the other sources are entered when the month is
//! settled); each person of a post with their work items — follow-ups, contracts,
//! referrals, online repeat visits, prescription reviews, exam reports — the standard
//! units by the scheme version in force on the month's first day, their post
//! coefficient, their team's quality factor (the share of its contracted chronic
//! patients whose next follow-up is not overdue at the month's end, or today for the
//! month under way, through the scheme's bands) and the pay that share gives, summing
//! exactly to the pool — each team's share of its own contracts' fees among that
//! team's members, the rest among everyone. The institution's administrator and the
//! health commissions' officers read an institution's month (audited, naming the
//! staff); each member of staff reads their own, with the work behind it.

use std::collections::BTreeMap;

use gongti_core::audit::Outcome;
use gongti_core::payment::pool::{
    FundSource, Worker, month_payouts, quality_factor, team_share_fen, units,
};
use gongti_core::payment::scheme::WorkKind;
use gongti_core::problem::Problem;
use gongti_core::role::Role;
use gongti_store::{AppealRecord, MonthMark, NewIncentiveMonth, PayoutRow, StaffFilter, WorkItem};
use time::{Date, Month};

use crate::{App, AppError, AppResult, Ctx, DISPLAY_OFFSET};

/// A person's month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonMonth {
    pub staff_id: i64,
    pub name: String,
    pub role: Role,
    pub team: Option<String>,
    /// Work items by [`WorkKind::ALL`].
    pub counts: [i64; 8],
    /// Units, post coefficient and quality factor in ten-thousandths.
    pub units: i128,
    pub post: i128,
    pub quality: i128,
    /// The team's measure behind the quality factor, in millionths.
    pub quality_rate: Option<i128>,
    pub pay_fen: i64,
}

/// An institution's month, counted from the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncentiveMonth {
    pub institution_id: i64,
    pub institution_name: String,
    pub year: i32,
    pub month: u8,
    pub first: Date,
    pub last: Date,
    pub scheme_version: i64,
    /// Contracts signed there that month and their fees.
    pub contracts: usize,
    pub fees_fen: i64,
    pub team_share: i128,
    pub sources: Vec<(FundSource, i64)>,
    pub pool_fen: i64,
    /// The fen no one could be given: a team's fees when nobody of the team has work,
    /// or the rest of the pool when nobody has any.
    pub undistributed_fen: i64,
    pub people: Vec<PersonMonth>,
    /// Once locked: its state and who took each step.
    pub settled: Option<Settlement>,
    pub appeals: Vec<AppealRecord>,
}

/// A settled month's state and steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// `locked`, `approved` or `paid`.
    pub state: String,
    pub locked: MonthMark,
    pub approved: Option<MonthMark>,
    pub approval_note: Option<String>,
    pub paid: Option<MonthMark>,
}

/// The most characters of an appeal, its answer or the committee's note.
pub const MONTH_NOTE_MAX_CHARS: usize = 500;

fn encode_counts(counts: &[i64; 8]) -> String {
    counts
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_counts(text: &str) -> [i64; 8] {
    let mut out = [0; 8];
    for (slot, n) in out.iter_mut().zip(text.split(',')) {
        *slot = n.parse().unwrap_or(0);
    }
    out
}

fn note(field: &'static str, text: &str, required: bool) -> AppResult<Option<String>> {
    let t = text.trim();
    if t.is_empty() {
        return if required {
            Err(AppError::invalid(field, Problem::Required))
        } else {
            Ok(None)
        };
    }
    if t.chars().count() > MONTH_NOTE_MAX_CHARS {
        return Err(AppError::invalid(
            field,
            Problem::TooLong {
                max_chars: MONTH_NOTE_MAX_CHARS,
            },
        ));
    }
    Ok(Some(t.to_owned()))
}

fn month_bounds(year: i32, month: u8) -> AppResult<(Date, Date)> {
    let bad = || {
        AppError::invalid(
            "month",
            Problem::OutOfRange {
                min: "1",
                max: "12",
            },
        )
    };
    if !super::YEARS.contains(&year) {
        return Err(AppError::invalid(
            "year",
            Problem::OutOfRange {
                min: "2000",
                max: "2100",
            },
        ));
    }
    let m = Month::try_from(month).map_err(|_| bad())?;
    let first = Date::from_calendar_date(year, m, 1).map_err(|_| bad())?;
    let last = Date::from_calendar_date(year, m, m.length(year)).map_err(|_| bad())?;
    Ok((first, last))
}

fn start_us(day: Date) -> i64 {
    crate::unix_us(
        day.with_time(time::Time::MIDNIGHT)
            .assume_offset(DISPLAY_OFFSET),
    )
}

impl App {
    /// An institution's month with the work items behind it (nothing checked here).
    async fn count_month(
        &self,
        institution_id: i64,
        year: i32,
        month: u8,
        entered: &[(FundSource, i64)],
    ) -> AppResult<(IncentiveMonth, Vec<WorkItem>)> {
        let (first, last) = month_bounds(year, month)?;
        let version = self
            .scheme_on(first)
            .await?
            .ok_or(AppError::Conflict("no_payment_scheme"))?;
        let scheme = &version.scheme;
        let window = (start_us(first), start_us(last.next_day().unwrap_or(last)));
        let institution = self.store.institution(institution_id).await?;
        let items = self
            .store
            .work_items(institution_id, (first, last), window)
            .await?;
        let fees = self.store.contract_fees(institution_id, window).await?;
        let fees_fen: i64 = fees.iter().map(|(_, f)| f).sum();
        // each team's share of its own contracts' fees, rounded once a team
        let mut by_team: BTreeMap<i64, i64> = BTreeMap::new();
        for (team, fen) in &fees {
            *by_team.entry(*team).or_default() += fen;
        }
        let team_pools: Vec<(i64, i64)> = by_team
            .into_iter()
            .map(|(team, fen)| (team, team_share_fen(fen, scheme.team_share)))
            .collect();
        let team_fen: i64 = team_pools.iter().map(|(_, f)| f).sum();
        // each team's measure: its contracted patients under chronic care not overdue
        // at the month's end (today, for the month under way: the records as they
        // stand, not as they stood)
        let on = last.min(self.today());
        let mut due: BTreeMap<i64, (i128, i128)> = BTreeMap::new();
        for (team, _, next) in self.store.team_followups_due(institution_id).await? {
            let d = due.entry(team).or_default();
            d.1 += 1;
            if next >= on {
                d.0 += 1;
            }
        }
        let teams = self.store.team_members(institution_id).await?;
        let mut staff = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .staff(
                    &StaffFilter {
                        institution_ids: vec![institution_id],
                        ..StaffFilter::default()
                    },
                    after,
                    gongti_store::PAGE_SIZE_MAX,
                )
                .await?;
            staff.extend(page.items);
            match page.next_after {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        // and whoever did work here that month and has moved on since
        let mut gone: Vec<i64> = items
            .iter()
            .map(|i| i.staff_id)
            .filter(|id| staff.iter().all(|s| s.id != *id))
            .collect();
        gone.sort_unstable();
        gone.dedup();
        for id in gone {
            staff.push(self.store.staff_member(id).await?);
        }
        let mut people = Vec::new();
        for s in staff {
            let Some(post) = scheme.post_coefficient(s.role) else {
                continue;
            };
            let mut counts = [0i64; 8];
            for item in items.iter().filter(|i| i.staff_id == s.id) {
                if let Some(k) = WorkKind::parse(item.kind) {
                    counts[k.index()] += 1;
                }
            }
            let team = teams.iter().find(|t| t.staff_ids.contains(&s.id));
            let quality_rate = team
                .and_then(|t| due.get(&t.team_id))
                .filter(|(_, n)| *n > 0)
                .map(|(ok, n)| gongti_core::decimal::div_half_up(ok * 1_000_000, *n));
            people.push(PersonMonth {
                staff_id: s.id,
                name: s.name,
                role: s.role,
                team: team.map(|t| t.name.clone()),
                counts,
                units: units(scheme, &counts),
                post,
                quality: quality_factor(scheme, quality_rate),
                quality_rate,
                pay_fen: 0,
            });
        }
        let mut sources = vec![(FundSource::ContractFeeTeam, team_fen)];
        sources.extend(entered.iter().copied());
        let pool_fen: i64 = sources.iter().map(|(_, f)| f).sum();
        let workers: Vec<(Option<i64>, Worker)> = people
            .iter()
            .map(|p| {
                let team = teams
                    .iter()
                    .find(|t| t.staff_ids.contains(&p.staff_id))
                    .map(|t| t.team_id);
                (
                    team,
                    Worker {
                        units: p.units,
                        post: p.post,
                        quality: p.quality,
                    },
                )
            })
            .collect();
        let (pays, undistributed_fen) = month_payouts(&team_pools, pool_fen - team_fen, &workers);
        for (p, pay) in people.iter_mut().zip(pays) {
            p.pay_fen = pay;
        }
        Ok((
            IncentiveMonth {
                institution_id,
                institution_name: institution.name,
                year,
                month,
                first,
                last,
                scheme_version: version.record.id,
                contracts: fees.len(),
                fees_fen,
                team_share: scheme.team_share,
                sources,
                pool_fen,
                undistributed_fen,
                people,
                settled: None,
                appeals: Vec::new(),
            },
            items,
        ))
    }

    /// Whether the viewer oversees an institution's pool: its administrator, or an
    /// officer who may see its figures.
    async fn oversees_pool(&self, ctx: &Ctx, institution_id: i64) -> AppResult<bool> {
        let allowed = match ctx.principal.role {
            Role::InstitutionAdmin => ctx.principal.institution_id == Some(institution_id),
            // the health commissions, whose committee approves the month; the insurer
            // pays the institution, not its staff
            Role::DistrictOfficer | Role::CityOfficer => true,
            _ => false,
        };
        Ok(allowed && self.may_see_institution(ctx, institution_id).await?)
    }

    /// An institution's month (its administrator, the officers who may see it; 409
    /// `no_payment_scheme`).
    pub async fn incentive_month(
        &self,
        ctx: &Ctx,
        institution_id: i64,
        year: i32,
        month: u8,
    ) -> AppResult<IncentiveMonth> {
        if !self.oversees_pool(ctx, institution_id).await? {
            let mut entry =
                self.registry_entry(ctx, "incentive.month.read", "IncentiveMonth", Outcome::Ok);
            entry.resource_id = Some(format!("{institution_id}:{year}-{month:02}"));
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let m = self.month_as_is(institution_id, year, month).await?;
        // named staff's pay: each read recorded
        let mut entry =
            self.registry_entry(ctx, "incentive.month.read", "IncentiveMonth", Outcome::Ok);
        entry.resource_id = Some(format!("{institution_id}:{year}-{month:02}"));
        entry.detail = Some(format!(
            "staff={}",
            gongti_core::coverage::encode_ids(m.people.iter().map(|p| p.staff_id))
        ));
        self.audit.record(vec![entry]).await?;
        Ok(m)
    }

    /// A month as settled, or else counted now.
    async fn month_as_is(
        &self,
        institution_id: i64,
        year: i32,
        month: u8,
    ) -> AppResult<IncentiveMonth> {
        let (counted, _) = self.count_month(institution_id, year, month, &[]).await?;
        let appeals = self
            .store
            .incentive_appeals(institution_id, year, month)
            .await?;
        let Some(r) = self
            .store
            .incentive_month_record(institution_id, year, month)
            .await?
        else {
            return Ok(IncentiveMonth { appeals, ..counted });
        };
        let people = r
            .payouts
            .iter()
            .map(|(p, name, role)| PersonMonth {
                staff_id: p.staff_id,
                name: name.clone(),
                role: Role::from_code(role).unwrap_or(Role::FamilyDoctor),
                team: p.team.clone(),
                counts: parse_counts(&p.counts),
                units: i128::from(p.units),
                post: i128::from(p.post),
                quality: i128::from(p.quality),
                quality_rate: p.quality_rate.map(i128::from),
                pay_fen: p.pay_fen,
            })
            .collect();
        Ok(IncentiveMonth {
            scheme_version: r.scheme_version,
            sources: r
                .sources
                .iter()
                .filter_map(|(code, fen)| FundSource::parse(code).map(|s| (s, *fen)))
                .collect(),
            pool_fen: r.pool_fen,
            undistributed_fen: r.pool_fen
                - r.payouts.iter().map(|(p, _, _)| p.pay_fen).sum::<i64>(),
            people,
            settled: Some(Settlement {
                state: r.state,
                locked: r.locked,
                approved: r.approved,
                approval_note: r.approval_note,
                paid: r.paid,
            }),
            appeals,
            ..counted
        })
    }

    /// A person's month and the work behind it: their own (anyone of a post at an
    /// institution), or anyone's for those who oversee the institution's pool. The
    /// items name records, never patients; audited as `incentive.work.list`.
    pub async fn incentive_work(
        &self,
        ctx: &Ctx,
        staff_id: Option<i64>,
        year: i32,
        month: u8,
    ) -> AppResult<(IncentiveMonth, PersonMonth, Vec<WorkItem>)> {
        let mut entry =
            self.registry_entry(ctx, "incentive.work.list", "IncentiveMonth", Outcome::Ok);
        let own = staff_id.is_none_or(|s| s == ctx.principal.staff_id);
        let staff_id = staff_id.unwrap_or(ctx.principal.staff_id);
        entry.resource_id = Some(format!("{staff_id}:{year}-{month:02}"));
        let institution_id = if own {
            ctx.principal.institution_id
        } else {
            match self.store.staff_member(staff_id).await {
                Ok(s) => s.institution_id,
                Err(gongti_store::StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            }
        };
        let Some(institution_id) = institution_id else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        if !own && !self.oversees_pool(ctx, institution_id).await? {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let month_figures = self.month_as_is(institution_id, year, month).await?;
        let items = if month_figures.settled.is_some() {
            self.store
                .frozen_work_items(institution_id, year, month, staff_id)
                .await?
        } else {
            self.count_month(institution_id, year, month, &[]).await?.1
        };
        let Some(person) = month_figures
            .people
            .iter()
            .find(|p| p.staff_id == staff_id)
            .cloned()
        else {
            // not of a post that earns from the pool
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        let mine: Vec<WorkItem> = items
            .into_iter()
            .filter(|i| i.staff_id == staff_id)
            .collect();
        entry.detail = Some(format!("{} items", mine.len()));
        self.audit.record(vec![entry]).await?;
        Ok((month_figures, person, mine))
    }
}

impl App {
    fn month_entry(
        &self,
        ctx: &Ctx,
        action: &str,
        institution_id: i64,
        year: i32,
        month: u8,
    ) -> gongti_core::audit::AuditEntry {
        let mut entry = self.registry_entry(ctx, action, "IncentiveMonth", Outcome::Ok);
        entry.resource_id = Some(format!("{institution_id}:{year}-{month:02}"));
        entry
    }

    /// Whether the viewer is the institution's administrator.
    fn administers(ctx: &Ctx, institution_id: i64) -> bool {
        ctx.principal.role == Role::InstitutionAdmin
            && ctx.principal.institution_id == Some(institution_id)
    }

    /// Locks a month once it is over (its administrator; 409 `month_not_over`): the
    /// sources entered — retained surplus, public-health performance funds, in fen; a
    /// revenue code refused (422, `not_allowed`), the contract fee's team share being
    /// counted, not entered — beside the team share counted, every payout and work
    /// item frozen as counted. Locking again changes nothing. Audited as
    /// `incentive.month.lock` with the pool.
    pub async fn lock_incentive_month(
        &self,
        ctx: &Ctx,
        institution_id: i64,
        (year, month): (i32, u8),
        entered: &[(String, i64)],
    ) -> AppResult<()> {
        let mut entry = self.month_entry(ctx, "incentive.month.lock", institution_id, year, month);
        if !Self::administers(ctx, institution_id) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let (_, last) = match month_bounds(year, month) {
            Ok(b) => b,
            Err(e) => return Err(self.refuse(entry, e).await),
        };
        let mut problems = Vec::new();
        let mut sources: Vec<(FundSource, i64)> = Vec::new();
        for (code, fen) in entered {
            let field = "sources";
            match gongti_core::payment::pool::fund_source(code) {
                Ok(FundSource::ContractFeeTeam) => {
                    problems.push(gongti_core::problem::FieldProblem::new(
                        field,
                        Problem::Inconsistent { with: "contracts" },
                    ))
                }
                Ok(s) if sources.iter().any(|(x, _)| *x == s) => {
                    problems.push(gongti_core::problem::FieldProblem::new(
                        field,
                        Problem::Inconsistent { with: "sources" },
                    ))
                }
                Ok(s) => sources.push((s, *fen)),
                Err(gongti_core::payment::pool::SourceRefused::Revenue(_)) => problems.push(
                    gongti_core::problem::FieldProblem::new(field, Problem::NotAllowed),
                ),
                Err(gongti_core::payment::pool::SourceRefused::Unknown) => problems.push(
                    gongti_core::problem::FieldProblem::new(field, Problem::UnknownCode),
                ),
            }
            if !(0..=gongti_core::payment::incentive::POOL_FEN_MAX).contains(fen) {
                problems.push(gongti_core::problem::FieldProblem::new(
                    "sources.amount_fen",
                    Problem::OutOfRange {
                        min: "0",
                        max: "10000000000000",
                    },
                ));
            }
        }
        if !problems.is_empty() {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        }
        if self.today() <= last {
            return Err(self
                .refuse(entry, AppError::Conflict("month_not_over"))
                .await);
        }
        if let Some(locked) = self
            .store
            .incentive_month_record(institution_id, year, month)
            .await?
        {
            return self.locked_again(entry, &locked, &sources).await;
        }
        let (m, items) = self
            .count_month(institution_id, year, month, &sources)
            .await?;
        let payouts: Vec<PayoutRow> = m
            .people
            .iter()
            .map(|p| PayoutRow {
                staff_id: p.staff_id,
                team: p.team.clone(),
                counts: encode_counts(&p.counts),
                units: i64::try_from(p.units).unwrap_or(i64::MAX),
                post: i64::try_from(p.post).unwrap_or(i64::MAX),
                quality: i64::try_from(p.quality).unwrap_or(i64::MAX),
                quality_rate: p.quality_rate.and_then(|r| i64::try_from(r).ok()),
                pay_fen: p.pay_fen,
            })
            .collect();
        let codes: Vec<(&'static str, i64)> =
            m.sources.iter().map(|(s, f)| (s.code(), *f)).collect();
        entry.detail = Some(format!(
            "scheme_version={};pool_fen={};people={};items={}",
            m.scheme_version,
            m.pool_fen,
            payouts.len(),
            items.len()
        ));
        let done = self
            .store
            .lock_incentive_month(
                &NewIncentiveMonth {
                    institution_id,
                    year,
                    month,
                    scheme_version: m.scheme_version,
                    pool_fen: m.pool_fen,
                    sources: &codes,
                    payouts: &payouts,
                    items: &items,
                    staff_id: ctx.principal.staff_id,
                },
                self.now_us(),
                std::slice::from_ref(&entry),
            )
            .await;
        let done = match done {
            Ok(done) => done,
            // the committee approved a version for the month's first day meanwhile
            Err(gongti_store::StoreError::Changed(code)) => {
                return Err(self.refuse(entry, AppError::Conflict(code)).await);
            }
            Err(e) => return Err(e.into()),
        };
        if !done {
            // locked meanwhile by another
            if let Some(locked) = self
                .store
                .incentive_month_record(institution_id, year, month)
                .await?
            {
                return self.locked_again(entry, &locked, &sources).await;
            }
        }
        self.audit.flush().await?;
        Ok(())
    }

    /// A lock of a month locked already: nothing changes when it names the same
    /// sources, else 409 `month_locked` (audited).
    async fn locked_again(
        &self,
        entry: gongti_core::audit::AuditEntry,
        locked: &gongti_store::IncentiveMonthRecord,
        sources: &[(FundSource, i64)],
    ) -> AppResult<()> {
        // the entered sources, as saved: any other than the counted team share, not 0
        fn entered<'a>(list: impl Iterator<Item = (&'a str, i64)>) -> Vec<(&'a str, i64)> {
            let mut list: Vec<(&str, i64)> = list
                .filter(|(code, fen)| *code != FundSource::ContractFeeTeam.code() && *fen != 0)
                .collect();
            list.sort_unstable();
            list
        }
        let same = entered(sources.iter().map(|(s, f)| (s.code(), *f)))
            == entered(locked.sources.iter().map(|(c, f)| (c.as_str(), *f)));
        if same {
            Ok(())
        } else {
            Err(self.refuse(entry, AppError::Conflict("month_locked")).await)
        }
    }

    /// Appeals one's own payout of a locked month with a reason (409
    /// `month_not_locked`; 404 without a payout there). Audited as
    /// `incentive.appeal.create` with the reason.
    pub async fn appeal_incentive_month(
        &self,
        ctx: &Ctx,
        (year, month): (i32, u8),
        reason: &str,
    ) -> AppResult<i64> {
        let institution_id = ctx.principal.institution_id.unwrap_or(0);
        let mut entry =
            self.month_entry(ctx, "incentive.appeal.create", institution_id, year, month);
        let reason = match note("reason", reason, true) {
            Ok(r) => r.unwrap_or_default(),
            Err(e) => return Err(self.refuse(entry, e).await),
        };
        let has_payout = match self
            .store
            .incentive_month_record(institution_id, year, month)
            .await?
        {
            Some(r) => r
                .payouts
                .iter()
                .any(|(p, _, _)| p.staff_id == ctx.principal.staff_id),
            None => {
                return Err(self
                    .refuse(entry, AppError::Conflict("month_not_locked"))
                    .await);
            }
        };
        if !has_payout {
            return Err(self.refuse(entry, AppError::NotFound).await);
        }
        entry.reason = Some(reason.clone());
        match self
            .store
            .insert_appeal(
                institution_id,
                year,
                month,
                ctx.principal.staff_id,
                &reason,
                self.now_us(),
                &[entry.clone()],
            )
            .await?
        {
            Some(id) => {
                self.audit.flush().await?;
                Ok(id)
            }
            None => Err(self
                .refuse(entry, AppError::Conflict("month_not_locked"))
                .await),
        }
    }

    /// Answers an open appeal (the institution's administrator): upheld reopens the
    /// month for a new count (409 `month_not_locked` once approved), dismissed keeps
    /// it; an answer is required (422). Audited as `incentive.appeal.answer`.
    pub async fn answer_incentive_appeal(
        &self,
        ctx: &Ctx,
        appeal_id: i64,
        upheld: bool,
        answer: &str,
    ) -> AppResult<()> {
        let mut entry = self.registry_entry(
            ctx,
            "incentive.appeal.answer",
            "IncentiveAppeal",
            Outcome::Ok,
        );
        entry.resource_id = Some(appeal_id.to_string());
        let Some(appeal) = self.store.incentive_appeal(appeal_id).await? else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        if !Self::administers(ctx, appeal.institution_id) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        if appeal.state != "open" {
            return Err(self
                .refuse(entry, AppError::Conflict("appeal_answered"))
                .await);
        }
        let answer = match note("answer", answer, true) {
            Ok(a) => a.unwrap_or_default(),
            Err(e) => return Err(self.refuse(entry, e).await),
        };
        entry.detail = Some(format!(
            "{};month={}-{:02}",
            if upheld { "upheld" } else { "dismissed" },
            appeal.year,
            appeal.month
        ));
        entry.reason = Some(answer.clone());
        if !self
            .store
            .answer_appeal(
                appeal_id,
                upheld,
                &answer,
                ctx.principal.staff_id,
                self.now_us(),
                &[entry.clone()],
            )
            .await?
        {
            return Err(self
                .refuse(entry, AppError::Conflict("month_not_locked"))
                .await);
        }
        self.audit.flush().await?;
        Ok(())
    }

    /// The committee's approval of a locked month (绩效考核管理委员会: a district
    /// officer of its district or a city officer; 409 `month_not_locked`,
    /// `appeals_open`), with an optional note; approving again changes nothing.
    /// Audited as `incentive.month.approve`.
    pub async fn approve_incentive_month(
        &self,
        ctx: &Ctx,
        institution_id: i64,
        (year, month): (i32, u8),
        approval_note: &str,
    ) -> AppResult<()> {
        let entry = self.month_entry(ctx, "incentive.month.approve", institution_id, year, month);
        let committee = matches!(
            ctx.principal.role,
            Role::DistrictOfficer | Role::CityOfficer
        ) && self.may_see_institution(ctx, institution_id).await?;
        if !committee {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let approval_note = match note("note", approval_note, false) {
            Ok(n) => n,
            Err(e) => return Err(self.refuse(entry, e).await),
        };
        self.month_step(
            ctx,
            entry,
            (institution_id, year, month),
            ("locked", "approved"),
            approval_note.as_deref(),
        )
        .await
    }

    /// Records an approved month paid (its administrator; 409 `month_not_approved`);
    /// again changes nothing. Audited as `incentive.month.pay`.
    pub async fn pay_incentive_month(
        &self,
        ctx: &Ctx,
        institution_id: i64,
        (year, month): (i32, u8),
    ) -> AppResult<()> {
        let entry = self.month_entry(ctx, "incentive.month.pay", institution_id, year, month);
        if !Self::administers(ctx, institution_id) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        self.month_step(
            ctx,
            entry,
            (institution_id, year, month),
            ("approved", "paid"),
            None,
        )
        .await
    }

    async fn month_step(
        &self,
        ctx: &Ctx,
        entry: gongti_core::audit::AuditEntry,
        key: (i64, i32, u8),
        (from, to): (&str, &str),
        words: Option<&str>,
    ) -> AppResult<()> {
        let Some(record) = self
            .store
            .incentive_month_record(key.0, key.1, key.2)
            .await?
        else {
            return Err(self
                .refuse(entry, AppError::Conflict("month_not_locked"))
                .await);
        };
        if record.state == to || (to == "approved" && record.state == "paid") {
            return Ok(());
        }
        if record.state != from {
            let code = if from == "locked" {
                "month_not_locked"
            } else {
                "month_not_approved"
            };
            return Err(self.refuse(entry, AppError::Conflict(code)).await);
        }
        if !self
            .store
            .incentive_month_step(
                key,
                (from, to),
                words,
                ctx.principal.staff_id,
                self.now_us(),
                std::slice::from_ref(&entry),
            )
            .await?
        {
            // as it stands now: taken meanwhile by another, or held by an appeal
            let now = self
                .store
                .incentive_month_record(key.0, key.1, key.2)
                .await?
                .map(|r| r.state);
            let code = match now.as_deref() {
                Some(s) if s == to || (to == "approved" && s == "paid") => return Ok(()),
                Some("locked") if to == "approved" => "appeals_open",
                Some("locked") => "month_not_approved",
                Some(_) if to == "approved" => "month_not_locked",
                Some(_) => "month_not_approved",
                None => "month_not_locked",
            };
            return Err(self.refuse(entry, AppError::Conflict(code)).await);
        }
        self.audit.flush().await?;
        Ok(())
    }
}
