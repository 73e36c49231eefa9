//! The payment scheme's versions (issue 17 point 1): the insurance officer proposes a
//! new version of every parameter — checked whole by `core::payment::scheme` — with the
//! day it takes effect and a note saying what changed; the committee (绩效考核管理委员会,
//! sitting at the city health commission) approves or rejects it once, with its reason
//! (DOMAIN.md §6); the roles that oversee payment read them. A version is never changed:
//! a change is the next version. A year's capitation takes the approved version in force
//! on its first day, an incentive month the one in force on the month's first day
//! (`scheme_on`).

use gongti_core::audit::Outcome;
use gongti_core::payment::membership::first_day;
use gongti_core::payment::scheme::{DemoScheme, Scheme};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_core::role::Role;
use gongti_store::{NewSchemeVersion, SchemeVersionRecord};

use super::may_simulate;
use crate::{App, AppError, AppResult, Ctx};

/// The note's most characters.
pub const NOTE_MAX_CHARS: usize = 500;
/// How far ahead a version may take effect.
pub const EFFECTIVE_AHEAD_YEARS: i32 = 5;

/// A version as an officer asks to save it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeDraft {
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    /// One `name<TAB>value` per line (`core::payment::scheme`).
    pub params: String,
    pub note: String,
    /// The version it was edited from, if any.
    pub based_on: Option<i64>,
}

/// A saved version, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeVersion {
    pub record: SchemeVersionRecord,
    pub scheme: Scheme,
    /// In force today (the newest effective by today).
    pub in_force: bool,
}

/// Whether the actor sets the payment scheme (the insurance bureau).
pub fn may_set_schemes(role: Role) -> bool {
    role == Role::InsuranceOfficer
}

/// Whether the actor decides on a proposed version: the committee, which sits at the
/// city health commission.
pub fn may_decide_schemes(role: Role) -> bool {
    role == Role::CityOfficer
}

/// What is wrong with a version's note or the committee's (trimmed), if anything.
fn note_problem(note: &str, required: bool) -> Option<FieldProblem> {
    let problem = if note.is_empty() {
        required.then_some(Problem::Required)?
    } else if note.chars().count() > NOTE_MAX_CHARS {
        Problem::TooLong {
            max_chars: NOTE_MAX_CHARS,
        }
    } else if note.chars().any(char::is_control) {
        Problem::ControlCharacters
    } else {
        return None;
    };
    Some(FieldProblem::new("note", problem))
}

impl App {
    pub(crate) fn read_version(
        &self,
        record: SchemeVersionRecord,
        in_force: Option<i64>,
    ) -> AppResult<SchemeVersion> {
        let scheme = Scheme::parse(&record.params).map_err(|p| {
            AppError::Internal(anyhow::anyhow!(
                "payment scheme version {} does not read back: {p:?}",
                record.id
            ))
        })?;
        Ok(SchemeVersion {
            in_force: in_force == Some(record.id),
            record,
            scheme,
        })
    }

    async fn scheme_reader(&self, ctx: &Ctx, action: &str) -> AppResult<()> {
        if may_simulate(ctx.principal.role) {
            return Ok(());
        }
        let entry = self.registry_entry(ctx, action, "PaymentScheme", Outcome::Ok);
        Err(self.refuse(entry, AppError::Forbidden).await)
    }

    /// Every version, newest first, the one in force today marked.
    pub async fn payment_schemes(&self, ctx: &Ctx) -> AppResult<Vec<SchemeVersion>> {
        self.scheme_reader(ctx, "payment.scheme.list").await?;
        let in_force = self
            .store
            .scheme_version_on(self.today())
            .await?
            .map(|v| v.id);
        self.store
            .scheme_versions()
            .await?
            .into_iter()
            .map(|r| self.read_version(r, in_force))
            .collect()
    }

    pub async fn payment_scheme(&self, ctx: &Ctx, id: i64) -> AppResult<SchemeVersion> {
        self.scheme_reader(ctx, "payment.scheme.read").await?;
        let in_force = self
            .store
            .scheme_version_on(self.today())
            .await?
            .map(|v| v.id);
        match self.store.scheme_version(id).await? {
            Some(r) => self.read_version(r, in_force),
            None => Err(AppError::NotFound),
        }
    }

    /// The version in force on `day`, if any was saved by then.
    pub async fn scheme_on(&self, day: time::Date) -> AppResult<Option<SchemeVersion>> {
        let in_force = self
            .store
            .scheme_version_on(self.today())
            .await?
            .map(|v| v.id);
        match self.store.scheme_version_on(day).await? {
            Some(r) => Ok(Some(self.read_version(r, in_force)?)),
            None => Ok(None),
        }
    }

    /// Saves the next version (the insurance officer): every parameter checked, the day
    /// no earlier than this year's first (a past year's figures stay as they were
    /// computed) and at most five years ahead, a note of what changed; the text stored
    /// canonical. Audited as `payment.scheme.create` with its number; a refusal too.
    pub async fn save_payment_scheme(&self, ctx: &Ctx, draft: &SchemeDraft) -> AppResult<i64> {
        const ACTION: &str = "payment.scheme.create";
        let mut entry = self.registry_entry(ctx, ACTION, "PaymentScheme", Outcome::Ok);
        if !may_set_schemes(ctx.principal.role) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let mut problems = Vec::new();
        let today = self.today();
        let year_start = time::Date::from_calendar_date(today.year(), time::Month::January, 1)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let effective = match time::Date::parse(
            draft.effective_from.trim(),
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .ok()
        {
            None => {
                problems.push(FieldProblem::new("effective_from", Problem::Malformed));
                None
            }
            Some(d) if d < year_start => {
                problems.push(FieldProblem::new("effective_from", Problem::InPast));
                None
            }
            Some(d) if d.year() > today.year() + EFFECTIVE_AHEAD_YEARS => {
                problems.push(FieldProblem::new("effective_from", Problem::InFuture));
                None
            }
            Some(d) => Some(d),
        };
        let note = draft.note.trim();
        problems.extend(note_problem(note, true));
        let scheme = Scheme::parse(&draft.params)
            .map_err(|p| problems.extend(p))
            .ok();
        // A year whose budget was approved keeps the version it was approved under: a
        // new one may not come into force on its first day or before.
        if let Some(d) = effective {
            for year in d.year()..=d.year() + EFFECTIVE_AHEAD_YEARS + 1 {
                let first = time::Date::from_calendar_date(year, time::Month::January, 1)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                if d <= first && self.store.capitation_year(year).await?.is_some() {
                    problems.push(FieldProblem::new("effective_from", Problem::NotAllowed));
                    break;
                }
            }
        }
        if let Some(based_on) = draft.based_on
            && self.store.scheme_version(based_on).await?.is_none()
        {
            problems.push(FieldProblem::new("based_on", Problem::NotAllowed));
        }
        let (Some(effective), Some(scheme)) = (effective, scheme.filter(|_| problems.is_empty()))
        else {
            return Err(self.refuse(entry, AppError::Invalid(problems)).await);
        };
        entry.detail = Some(format!(
            "effective_from={effective};based_on={}",
            draft.based_on.map_or_else(|| "-".into(), |b| b.to_string())
        ));
        let saved = self
            .store
            .insert_scheme_version(
                &NewSchemeVersion {
                    effective_from: effective,
                    params: &scheme.text(),
                    note,
                    based_on: draft.based_on,
                    created_by_staff_id: ctx.principal.staff_id,
                },
                self.now_us(),
                &[entry.clone()],
            )
            .await;
        let id = match saved {
            Ok(id) => id,
            // another officer saved the number first (PostgreSQL, concurrently)
            Err(gongti_store::StoreError::Duplicate(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("scheme_saved_meanwhile"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        Ok(id)
    }

    /// The committee's decision on a proposed version: approved, it comes into force on
    /// its day; rejected, it never does, with the reason (required) kept. Approving again
    /// what is approved answers as done; deciding otherwise on a decided version is 409
    /// `scheme_decided`. An approval is refused (409 `scheme_period_settled`) while a
    /// year's budget or an incentive month starting on or after the version's day was
    /// already counted under an earlier version: those figures stay as they were. Audited
    /// as `payment.scheme.approve` or `payment.scheme.reject`, a refusal too.
    pub async fn decide_payment_scheme(
        &self,
        ctx: &Ctx,
        id: i64,
        approve: bool,
        note: &str,
    ) -> AppResult<()> {
        let action = if approve {
            "payment.scheme.approve"
        } else {
            "payment.scheme.reject"
        };
        let mut entry = self.registry_entry(ctx, action, "PaymentScheme", Outcome::Ok);
        entry.resource_id = Some(id.to_string());
        if !may_decide_schemes(ctx.principal.role) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        let note = note.trim();
        if let Some(p) = note_problem(note, !approve) {
            return Err(self.refuse(entry, AppError::Invalid(vec![p])).await);
        }
        let Some(version) = self.store.scheme_version(id).await? else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        let from = version.effective_from;
        // the first year and month that start on or after the version's day
        let first_year = from.year() + i32::from(from.ordinal() != 1);
        let first_month_index = i64::from(from.year()) * 12 + i64::from(u8::from(from.month())) - 1
            + i64::from(from.day() != 1);
        entry.detail = Some(format!("effective_from={from}"));
        if !note.is_empty() {
            entry.reason = Some(note.to_owned());
        }
        let decided = self
            .store
            .decide_scheme_version(
                id,
                approve,
                first_year,
                first_month_index,
                ctx.principal.staff_id,
                (!note.is_empty()).then_some(note),
                self.now_us(),
                &[entry.clone()],
            )
            .await?;
        match decided {
            gongti_store::SchemeDecision::Taken => {
                self.audit.flush().await?;
                Ok(())
            }
            gongti_store::SchemeDecision::AlreadyDecided(s) if approve && s == "approved" => Ok(()),
            gongti_store::SchemeDecision::AlreadyDecided(_) => Err(self
                .refuse(entry, AppError::Conflict("scheme_decided"))
                .await),
            gongti_store::SchemeDecision::PeriodSettled => Err(self
                .refuse(entry, AppError::Conflict("scheme_period_settled"))
                .await),
            gongti_store::SchemeDecision::NotFound => {
                Err(self.refuse(entry, AppError::NotFound).await)
            }
        }
    }

    /// The demo region's first version: the shipped demonstration scheme, in force from
    /// last year's first day, proposed as the insurance officer's and approved by the
    /// committee (the city officer); the year's budget approved and its prepayments paid
    /// up to this month.
    pub(crate) async fn seed_demo_scheme(
        &self,
        insurer_staff_id: i64,
        committee_staff_id: i64,
        today: time::Date,
        now_us: i64,
    ) -> AppResult<()> {
        let demo = DemoScheme::builtin();
        // in force since last year's first day: last year is the demo's cleared year
        let from = time::Date::from_calendar_date(today.year() - 1, time::Month::January, 1)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut entry = crate::demo::demo_entry(now_us, "PaymentScheme", None);
        entry.detail = Some(format!("effective_from={from};table={}", demo.version));
        let id = self
            .store
            .insert_scheme_version(
                &NewSchemeVersion {
                    effective_from: from,
                    params: &demo.scheme.text(),
                    note: &format!(
                        "演示方案（{}）：参数为演示值，来源见 data/payment/sources.tsv",
                        demo.version
                    ),
                    based_on: None,
                    created_by_staff_id: insurer_staff_id,
                },
                now_us,
                &[entry],
            )
            .await?;
        let mut entry = crate::demo::demo_entry(now_us, "PaymentScheme", None);
        entry.resource_id = Some(id.to_string());
        entry.detail = Some(format!("approved;effective_from={from}"));
        let decided = self
            .store
            .decide_scheme_version(
                id,
                true,
                from.year(),
                i64::from(from.year()) * 12,
                committee_staff_id,
                Some("演示：委员会审议通过"),
                now_us,
                &[entry],
            )
            .await?;
        if decided != gongti_store::SchemeDecision::Taken {
            return Err(anyhow::anyhow!("the demo scheme was not approved: {decided:?}").into());
        }
        // The insurance officer's proposal for next year, a higher rate per contracted
        // resident, awaiting the committee: the decision is the city officer's to take.
        let raised: String = demo
            .scheme
            .text()
            .lines()
            .map(|line| match line.split_once('\t') {
                Some(("rate_fen.contracted", fen)) => format!(
                    "rate_fen.contracted\t{}\n",
                    fen.parse::<i64>().unwrap_or(0) + 2_000
                ),
                _ => format!("{line}\n"),
            })
            .collect();
        let next = Scheme::parse(&raised)
            .map_err(|p| anyhow::anyhow!("the demo's proposal does not read: {p:?}"))?;
        let next_year = first_day(today.year() + 1);
        let mut entry = crate::demo::demo_entry(now_us, "PaymentScheme", None);
        entry.detail = Some(format!("effective_from={next_year};based_on={id}"));
        self.store
            .insert_scheme_version(
                &NewSchemeVersion {
                    effective_from: next_year,
                    params: &next.text(),
                    note: "演示：签约居民人头费提高 20 元，待委员会审批",
                    based_on: Some(id),
                    created_by_staff_id: insurer_staff_id,
                },
                now_us,
                &[entry],
            )
            .await?;
        // The year's budget approved on the demo's day, and each month's prepayment
        // paid up to this one.
        let version = self
            .scheme_on(first_day(today.year()))
            .await?
            .ok_or_else(|| anyhow::anyhow!("the demo scheme is not in force"))?;
        let entry = crate::demo::demo_entry(now_us, "CapitationYear", None);
        self.save_capitation_year(today.year(), &version, today, insurer_staff_id, entry)
            .await?;
        for month in 1..=u8::from(today.month()) {
            let entry = crate::demo::demo_entry(now_us, "CapitationYear", None);
            self.pay_month(today.year(), month, today, insurer_staff_id, entry)
                .await?;
        }
        Ok(())
    }
}
