//! Chronic-disease indicators (DOMAIN.md §2) for an institution, a district or the
//! city over any period, recomputed from the raw records a chunk of patients at a
//! time, and the patient lists behind every numerator and denominator.

use gongti_core::access::{
    AggregateScope, break_glass_reason_ok, may_break_glass, may_view_aggregates,
};
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::chronic::Disease;
use gongti_core::chronic::indicators::{self, Assessment, Indicator, Period, Tally, assess};
use gongti_core::chronic::maintained::{Basis, StandardPeriod, basis, comparable};
use gongti_core::region::{DistrictCode, InstitutionId};
use gongti_core::resident::{age_band, age_years, mask_name};
use gongti_core::role::ScopeLevel;
use gongti_store::{IndicatorPatient, IndicatorScope, IndicatorWindow, StoreError};
use time::{Duration, Time};

use crate::{App, AppError, AppResult, Ctx, DISPLAY_OFFSET, unix_us};

/// Patients assessed per round trip to the store, at most...
pub const INDICATOR_CHUNK: u32 = 5_000;
/// ...and in a list's first round trip: a page of 50 seldom needs thousands read (a
/// city's list read 5,000 patients with their year of visits for its first page:
/// 95 ms at 1,000,000 residents, BENCHMARKS.md). Each further round trip reads four
/// times as many, up to [`INDICATOR_CHUNK`].
const INDICATOR_FIRST_CHUNK: u32 = 128;
/// Enrolment ids per range of a recompute from the records (at most this many
/// enrolments' facts in memory per range)...
pub const INDICATOR_RANGE: i64 = 10_000;
/// ...and ranges read at once.
pub const INDICATOR_SCANS: usize = 2;
/// The longest period the indicators are computed over.
pub const PERIOD_MAX_DAYS: i64 = 3 * 366;

/// The setting that records that the indicator counters and their facts were built
/// with the facts kept a year to a row (migration 0047; before it, the counters' mark
/// was `indicator_counters`, so a database from then is rebuilt once).
const COUNTERS_SETTING: &str = "indicator_year_facts";

/// The setting that says from which day the region's records are complete (a
/// deployment's start, or the start of the history it brought in).
const RECORDS_SINCE_SETTING: &str = "records_kept_since";

/// Bases read up to a day kept at most (then all forgotten at once).
const BASELINES_KEPT: usize = 512;

/// Bases read up to a day, by scope, programmes, period and day, with the region's
/// day they were read on (kept only for that day).
pub(crate) type BaselineCache =
    std::sync::Mutex<std::collections::HashMap<String, (time::Date, Vec<(Disease, Tally)>)>>;

/// What a period's figures are compared with, and those figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub basis: Basis,
    /// False when the scope's records began after the basis period did: then no
    /// change is shown ("无可比数据") and `tallies` are empty.
    pub comparable: bool,
    /// The first day of the earliest month with a face-to-face follow-up in scope.
    pub records_since: Option<time::Date>,
    pub tallies: Vec<(Disease, Tally)>,
}

/// Which side of an indicator a patient list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListPart {
    Numerator,
    Denominator,
}

/// A patient on an indicator list, identified or not by the viewer's rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPatient {
    pub enrolment_id: i64,
    pub resident_id: i64,
    /// The full name, or the masked one (张**) when de-identified.
    pub name: String,
    pub id_number_masked: String,
    pub sex: gongti_core::Sex,
    pub age_band: &'static str,
    pub institution_id: i64,
    pub institution_name: String,
}

/// Which patients: one side of one indicator of a programme, scope and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientListQuery {
    pub scope: IndicatorScope,
    pub disease: Disease,
    pub period: Period,
    pub indicator: Indicator,
    pub part: ListPart,
}

/// A page of an indicator's patients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientList {
    pub items: Vec<ListedPatient>,
    pub next_after: Option<i64>,
    pub identified: bool,
}

impl App {
    pub(crate) async fn aggregate_scope(
        &self,
        scope: &IndicatorScope,
    ) -> AppResult<AggregateScope> {
        let district = |code: &str| {
            DistrictCode::parse(code).map_err(|_| {
                AppError::Invalid(vec![gongti_core::resident::FieldProblem::new(
                    "scope",
                    gongti_core::resident::Problem::UnknownCode,
                )])
            })
        };
        Ok(match scope {
            IndicatorScope::City => AggregateScope::City,
            IndicatorScope::District(code) => AggregateScope::District(district(code)?),
            IndicatorScope::Institution(id) => match self.store.institution(*id).await {
                Ok(i) => AggregateScope::Institution {
                    id: InstitutionId(*id),
                    district: district(&i.district_code)?,
                },
                Err(StoreError::NotFound) => return Err(AppError::NotFound),
                Err(e) => return Err(e.into()),
            },
        })
    }

    fn window(&self, period: &Period) -> IndicatorWindow {
        let p = &self.chronic;
        let lost_from = period.to - Duration::days(i64::from(p.lost_to_follow_up_days) - 1);
        let at_midnight =
            |d: time::Date| unix_us(d.with_time(Time::MIDNIGHT).assume_offset(DISPLAY_OFFSET));
        IndicatorWindow {
            enrolled_by: period.to,
            active_from: period.from,
            visits_from: period
                .from
                .min(lost_from)
                .min(period.to - Duration::days(i64::from(p.missed_visit_days) - 1)),
            visits_to: period.to,
            readings_from_us: at_midnight(lost_from),
            readings_to_us: at_midnight(period.to + Duration::days(1)),
        }
    }

    /// Assesses every patient of a scope in a programme, a chunk at a time (growing
    /// from [`INDICATOR_FIRST_CHUNK`]), from enrolment id `after`; `visit` returns
    /// false to stop.
    async fn scan_patients(
        &self,
        scope: &IndicatorScope,
        disease: Disease,
        period: &Period,
        mut after: i64,
        mut visit: impl FnMut(&IndicatorPatient, &Assessment) -> bool,
    ) -> AppResult<()> {
        let window = self.window(period);
        let mut size = INDICATOR_FIRST_CHUNK;
        loop {
            let chunk = self
                .store
                .indicator_patients(
                    scope,
                    disease,
                    &window,
                    after,
                    size,
                    crate::readings::local_day,
                )
                .await?;
            for p in &chunk {
                if !visit(p, &assess(&p.facts, period, &self.chronic)) {
                    return Ok(());
                }
            }
            match chunk.last() {
                Some(last) if chunk.len() == size as usize => {
                    after = last.enrolment_id;
                    size = size.saturating_mul(4).min(INDICATOR_CHUNK);
                }
                _ => return Ok(()),
            }
        }
    }

    pub(crate) fn check_period(period: &Period) -> AppResult<()> {
        if period.days() > PERIOD_MAX_DAYS {
            return Err(AppError::Invalid(vec![
                gongti_core::resident::FieldProblem::new(
                    "to",
                    gongti_core::resident::Problem::OutOfRange {
                        min: "from",
                        max: "from + 3 years",
                    },
                ),
            ]));
        }
        Ok(())
    }

    /// The indicators of each programme for a scope and period, recomputed from the
    /// raw records. Aggregates carry no patient data and are not audited.
    pub async fn indicators(
        &self,
        ctx: &Ctx,
        scope: &IndicatorScope,
        diseases: &[Disease],
        period: &Period,
    ) -> AppResult<Vec<(Disease, Tally)>> {
        let aggregate = self.aggregate_scope(scope).await?;
        if !may_view_aggregates(&ctx.principal.actor(), &aggregate) {
            return Err(AppError::Forbidden);
        }
        Self::check_period(period)?;
        if let Some(standard) = StandardPeriod::of(period) {
            let mut out = Vec::with_capacity(diseases.len());
            for &disease in diseases {
                out.push((
                    disease,
                    self.maintained_tally(scope, disease, standard).await?,
                ));
            }
            return Ok(out);
        }
        self.indicators_from_records(ctx, scope, diseases, period)
            .await
    }

    /// What a period's figures are compared with (DOMAIN.md §2 indicators; see
    /// [`basis`]): the period before, read up to the same day while this one is in
    /// progress, and not at all when the scope's records began after it started.
    /// A basis read up to a day is recomputed from the records once a day per scope
    /// and kept until the region's day changes.
    pub async fn indicator_comparison(
        &self,
        ctx: &Ctx,
        scope: &IndicatorScope,
        diseases: &[Disease],
        period: &Period,
    ) -> AppResult<Comparison> {
        let aggregate = self.aggregate_scope(scope).await?;
        if !may_view_aggregates(&ctx.principal.actor(), &aggregate) {
            return Err(AppError::Forbidden);
        }
        Self::check_period(period)?;
        let today = self.today();
        let basis = basis(period, today);
        let records_since = self.records_kept_since(scope).await?;
        let comparable = comparable(&basis.period, records_since);
        let tallies = match (comparable, basis.as_of) {
            (false, _) => diseases.iter().map(|&d| (d, Tally::default())).collect(),
            (true, None) => self.indicators(ctx, scope, diseases, &basis.period).await?,
            (true, Some(day)) => {
                let key = format!(
                    "{}|{diseases:?}|{}|{}|{day}",
                    scope.counter_key(),
                    basis.period.from,
                    basis.period.to
                );
                let kept = self.baselines.lock().ok().and_then(|m| {
                    m.get(&key)
                        .filter(|(on, _)| *on == today)
                        .map(|(_, t)| t.clone())
                });
                match kept {
                    Some(t) => t,
                    None => {
                        let t = self
                            .tally_records(scope, diseases, &basis.period, Some(day))
                            .await?;
                        if let Ok(mut m) = self.baselines.lock() {
                            if m.len() >= BASELINES_KEPT {
                                m.clear();
                            }
                            m.insert(key, (today, t.clone()));
                        }
                        t
                    }
                }
            }
        };
        Ok(Comparison {
            basis,
            comparable,
            records_since,
            tallies,
        })
    }

    /// Since when a scope's records are complete: the later of the region's setting
    /// (when one was made) and the first day of the scope's earliest month with a
    /// face-to-face follow-up. A few older records (a follow-up entered after the
    /// fact) do not make the months before complete; the setting says so.
    pub async fn records_kept_since(
        &self,
        scope: &IndicatorScope,
    ) -> AppResult<Option<time::Date>> {
        let first = self.store.records_since(&scope.counter_key()).await?;
        let set = self
            .store
            .setting(RECORDS_SINCE_SETTING)
            .await?
            .and_then(|v| {
                time::Date::parse(
                    &v,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .ok()
            });
        Ok(first.map(|f| set.map_or(f, |s| s.max(f))))
    }

    /// Records that the region's records are complete from `day` on (the demo's
    /// history; a deployment that brought in an earlier system's).
    pub async fn set_records_kept_since(&self, day: time::Date) -> AppResult<()> {
        self.store
            .set_setting(RECORDS_SINCE_SETTING, &day.to_string())
            .await?;
        let mut entry = AuditEntry::system(self.now_us(), "setting.update", "Setting");
        entry.detail = Some(format!("{RECORDS_SINCE_SETTING}={day}"));
        self.audit.record(vec![entry]).await?;
        self.audit.flush().await?;
        Ok(())
    }

    /// The indicators recomputed from the raw records, whatever the period (what the
    /// counters of standard periods must always agree with).
    pub async fn indicators_from_records(
        &self,
        ctx: &Ctx,
        scope: &IndicatorScope,
        diseases: &[Disease],
        period: &Period,
    ) -> AppResult<Vec<(Disease, Tally)>> {
        let aggregate = self.aggregate_scope(scope).await?;
        if !may_view_aggregates(&ctx.principal.actor(), &aggregate) {
            return Err(AppError::Forbidden);
        }
        Self::check_period(period)?;
        self.tally_records(scope, diseases, period, None).await
    }

    /// The tallies of a period from the raw records, each patient's facts as they
    /// stood at the end of `as_of` when given.
    async fn tally_records(
        &self,
        scope: &IndicatorScope,
        diseases: &[Disease],
        period: &Period,
        as_of: Option<time::Date>,
    ) -> AppResult<Vec<(Disease, Tally)>> {
        let mut tallies: Vec<(Disease, Tally)> =
            diseases.iter().map(|&d| (d, Tally::default())).collect();
        let Some((low, high)) = self.store.enrolment_id_span().await? else {
            return Ok(tallies);
        };
        // Ranges of enrolment ids, every asked programme in one pass, INDICATOR_SCANS
        // ranges read at once (each on a read connection of its own, so both cores
        // work) and tallied as they come back.
        let window = self.window(period);
        let mut ranges = (low - 1..high)
            .step_by(INDICATOR_RANGE as usize)
            .map(|after| (after, (after + INDICATOR_RANGE).min(high)));
        let mut scans = tokio::task::JoinSet::new();
        loop {
            while scans.len() < INDICATOR_SCANS {
                let Some(range) = ranges.next() else { break };
                let (store, scope, diseases) =
                    (self.store.clone(), scope.clone(), diseases.to_vec());
                scans.spawn(async move {
                    store
                        .indicator_facts(
                            &scope,
                            &diseases,
                            &window,
                            range,
                            crate::readings::local_day,
                        )
                        .await
                });
            }
            let Some(done) = scans.join_next().await else {
                return Ok(tallies);
            };
            for facts in done.map_err(|e| anyhow::anyhow!("indicator scan: {e}"))?? {
                let facts = match as_of {
                    Some(day) => match indicators::as_of(facts, day) {
                        Some(f) => f,
                        None => continue,
                    },
                    None => facts,
                };
                if let Some((_, tally)) = tallies.iter_mut().find(|(d, _)| *d == facts.disease) {
                    tally.add(&assess(&facts, period, &self.chronic));
                }
            }
        }
    }

    /// The indicators of a standard period from the counters kept as records are
    /// written: a handful of rows, whatever the size of the scope.
    async fn maintained_tally(
        &self,
        scope: &IndicatorScope,
        disease: Disease,
        period: StandardPeriod,
    ) -> AppResult<Tally> {
        let key = scope.counter_key();
        let p = period.period();
        let c = self.store.indicator_counts(&key, disease, period).await?;
        // Managed: enrolled by the period's end and not ended (结案) before its start.
        // Missed visit and lost to follow-up: enrolled long enough before the end and
        // still enrolled on its last day (docs/indicators.md).
        let eligible_by = |days: u16| p.to - Duration::days(i64::from(days));
        let [managed, missed_eligible, lost_eligible] = self
            .store
            .enrolment_denominators(
                &key,
                disease,
                p.from,
                p.to,
                [
                    eligible_by(self.chronic.missed_visit_days),
                    eligible_by(self.chronic.lost_to_follow_up_days),
                ],
            )
            .await?;
        // A count below zero means the kept counters disagree with themselves; the
        // tests hold them to the recompute, and a debug build says so at once.
        let n = |v: i64| {
            debug_assert!(v >= 0, "a kept indicator count below zero: {v}");
            u64::try_from(v).unwrap_or(0)
        };
        let [
            face_to_face,
            standardised,
            bp,
            fpg,
            hba1c_measured,
            hba1c_on_target,
            seen,
            contacted,
        ] = c;
        let mut tally = Tally {
            managed: n(managed),
            face_to_face_visits: n(face_to_face),
            ..Tally::default()
        };
        for (i, indicator) in Indicator::ALL.iter().enumerate() {
            tally.counts[i] = match indicator {
                Indicator::Standardised => (n(standardised), n(managed)),
                Indicator::BpControl => (n(bp), n(managed)),
                Indicator::GlucoseControl => (n(fpg), n(managed)),
                Indicator::Hba1cTarget => (n(hba1c_on_target), n(hba1c_measured)),
                Indicator::MissedVisit => (n(missed_eligible - seen), n(missed_eligible)),
                Indicator::LostToFollowUp => (n(lost_eligible - contacted), n(lost_eligible)),
            };
        }
        Ok(tally)
    }

    /// Recomputes the indicator counters from the raw records; with `rebuild`, stores
    /// the result. Returns the recomputed and the stored counters (before a rebuild).
    pub async fn recompute_indicators(
        &self,
        rebuild: bool,
    ) -> AppResult<(gongti_store::IndicatorTables, gongti_store::IndicatorTables)> {
        let stored = self.store.stored_indicator_tables().await?;
        let entry = AuditEntry::system(self.now_us(), "indicators.rebuild", "IndicatorCounters");
        let audit = [entry];
        let fresh = self
            .store
            .recompute_indicators(
                &self.chronic,
                crate::readings::local_day,
                rebuild.then_some(&audit[..]),
            )
            .await?;
        if rebuild {
            self.audit.flush().await?;
            self.store.set_setting(COUNTERS_SETTING, "built").await?;
        }
        Ok((fresh, stored))
    }

    /// Builds the indicator counters from the records once, when a database first gets
    /// them (a new database, or one that predates them or their facts by year); returns
    /// whether it did.
    pub async fn ensure_indicator_counters(&self) -> AppResult<bool> {
        if self.store.setting(COUNTERS_SETTING).await?.is_some() {
            return Ok(false);
        }
        self.recompute_indicators(true).await?;
        Ok(true)
    }

    /// Records that a list of patients left as a file — its format, rows and which
    /// list — apart from the audited page reads that filled it.
    pub async fn record_list_export(
        &self,
        ctx: &Ctx,
        list: &str,
        format: &str,
        rows: usize,
    ) -> AppResult<()> {
        let mut e = ctx.principal.audit(
            self.now_us(),
            "indicators.export",
            "Patient",
            gongti_core::audit::Outcome::Ok,
        );
        e.request_id = ctx.request_id.clone();
        e.detail = Some(format!("format={format} rows={rows} list={list}"));
        self.audit.record(vec![e]).await?;
        Ok(())
    }

    /// The patients behind an indicator's numerator or denominator. Clinicians see
    /// their own institution's patients by name; anyone else sees them de-identified
    /// unless they give a break-the-glass reason, which is audited per patient.
    pub async fn indicator_patient_list(
        &self,
        ctx: &Ctx,
        q: &PatientListQuery,
        after: Option<i64>,
        limit: u32,
        break_glass_reason: Option<&str>,
    ) -> AppResult<PatientList> {
        let PatientListQuery {
            scope,
            disease,
            period,
            indicator,
            part,
        } = q;
        let (disease, indicator, part) = (*disease, *indicator, *part);
        let mut entry = ctx.principal.audit(
            self.now_us(),
            "indicators.patients",
            "MeasureReport",
            Outcome::Ok,
        );
        entry.request_id = ctx.request_id.clone();
        entry.reason = break_glass_reason.map(str::to_owned);
        entry.resource_id = Some(format!("{}:{}", disease.code(), indicator.code()));
        let aggregate = self.aggregate_scope(scope).await?;
        if !may_view_aggregates(&ctx.principal.actor(), &aggregate) {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        Self::check_period(period)?;
        let (identified, clinician) = match list_identity(ctx, scope, break_glass_reason) {
            Ok(found) => found,
            Err(e) => {
                entry.detail = Some("break_glass_not_for_role".into());
                return Err(self.refuse(entry, e).await);
            }
        };
        let today = self.today();
        let mut items = Vec::new();
        let mut more = false;
        self.scan_patients(scope, disease, period, after.unwrap_or(0), |p, a| {
            let (num, den) = indicator.counts(a);
            let wanted = match part {
                ListPart::Numerator => num,
                ListPart::Denominator => den,
            };
            if !wanted {
                return true;
            }
            if items.len() == limit as usize {
                more = true;
                return false;
            }
            items.push(ListedPatient {
                enrolment_id: p.enrolment_id,
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
            });
            true
        })
        .await?;
        let next_after = if more {
            items.last().map(|i| i.enrolment_id)
        } else {
            None
        };
        self.record_listing(
            entry,
            items.iter().map(|i| i.resident_id),
            identified,
            clinician,
        )
        .await?;
        Ok(PatientList {
            items,
            next_after,
            identified,
        })
    }
}

/// Whether a patient list names its patients, and whether on the ground of care: the
/// clinicians of the institution the list is about see names; the roles that may
/// break the glass (`may_break_glass`) only with a reason of at least four visible
/// characters; nobody else ever — a reason from them is refused (`Forbidden`), so the
/// insurance officer's lists stay de-identified (DOMAIN.md §10).
pub(crate) fn list_identity(
    ctx: &Ctx,
    scope: &IndicatorScope,
    break_glass_reason: Option<&str>,
) -> AppResult<(bool, bool)> {
    let own_institution = matches!(scope, IndicatorScope::Institution(id) if ctx.principal.institution_id == Some(*id));
    let clinician = ctx.principal.role.is_clinical()
        && ctx.principal.role.scope_level() == ScopeLevel::Institution
        && own_institution;
    if clinician {
        return Ok((true, true));
    }
    let asked = break_glass_reason.is_some_and(|r| !r.is_empty());
    if asked && !may_break_glass(ctx.principal.role) {
        return Err(AppError::Forbidden);
    }
    Ok((break_glass_reason_ok(break_glass_reason), false))
}

impl App {
    /// Audits a patient list: one record for the list, and when it names patients one
    /// on each named patient's own trail, with the ground (care team or break-the-glass).
    pub(crate) async fn record_listing(
        &self,
        mut entry: gongti_core::audit::AuditEntry,
        residents: impl Iterator<Item = i64>,
        identified: bool,
        clinician: bool,
    ) -> AppResult<()> {
        let mut audit = Vec::new();
        let mut listed = 0usize;
        for resident in residents {
            listed += 1;
            if identified {
                let mut e = entry.clone();
                e.patient_id = Some(resident);
                e.detail = Some(
                    if clinician {
                        "care_team"
                    } else {
                        "break_glass"
                    }
                    .into(),
                );
                audit.push(e);
            }
        }
        entry.detail = Some(format!(
            "{listed} listed, {}",
            if identified {
                "identified"
            } else {
                "de-identified"
            }
        ));
        audit.push(entry);
        self.audit.record(audit).await
    }
}
