//! Home readings (家庭自测): single and batch uploads, idempotent on the client's id,
//! checked for plausibility and the clock, and alerts raised at once for urgent
//! values. Readings never count as follow-ups.

use std::collections::BTreeMap;

use gongti_core::access::PatientAction;
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::chronic::readings::{
    BATCH_MAX, ReadingForm, ValidReading, urgent_reading, validate_reading,
};
use gongti_core::coverage::encode_ids;
use gongti_core::resident::{FieldProblem, Problem};
use gongti_store::{
    AlertRecord, NewAlert, NewReading, Page, ReadingOutcome, ReadingRecord, StoreError, Uploader,
};

use crate::patients::PatientCtx;
use crate::{App, AppError, AppResult, Ctx};

/// The day of an instant in the region's time zone.
pub(crate) fn local_day(us: i64) -> time::Date {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map(|t| t.to_offset(crate::DISPLAY_OFFSET).date())
        .unwrap_or(time::Date::MIN)
}

/// Most readings one list returns.
pub const READINGS_LIST_MAX: u32 = 1000;

impl App {
    /// Stores readings of one or more residents. Every reading is checked first; if
    /// any is invalid, or any resident is out of the uploader's reach, nothing is
    /// stored. A reading already uploaded (same resident and client id) is reported
    /// with no id and changes nothing.
    pub async fn upload_readings(
        &self,
        ctx: &Ctx,
        items: Vec<(i64, ReadingForm)>,
    ) -> AppResult<Vec<ReadingOutcome>> {
        let mut entry =
            ctx.principal
                .audit(self.now_us(), "reading.upload", "Observation", Outcome::Ok);
        entry.request_id = ctx.request_id.clone();
        let valid = self.checked_readings(entry, &items).await?;
        // Every resident must be within reach; each gets its own audit record.
        let mut entries = BTreeMap::new();
        for (resident_id, _) in &valid {
            if entries.contains_key(resident_id) {
                continue;
            }
            let (_, mut e) = self
                .reach(
                    ctx,
                    *resident_id,
                    PatientAction::Write,
                    "reading.upload",
                    None,
                )
                .await?;
            e.resource_type = "Observation".into();
            entries.insert(*resident_id, e);
        }
        self.save_readings(&valid, entries, Uploader::User(ctx.principal.user_id))
            .await
    }

    /// Stores home readings the signed-in resident took of themselves (患者自助), as
    /// [`App::upload_readings`] does for staff: checked first, all or none, repeats
    /// changing nothing, urgent values raising the care team's alert.
    pub async fn patient_upload_readings(
        &self,
        p: &PatientCtx,
        forms: Vec<ReadingForm>,
    ) -> AppResult<Vec<ReadingOutcome>> {
        let entry = p.entry(self.now_us(), "reading.upload", "Observation");
        let items: Vec<(i64, ReadingForm)> =
            forms.into_iter().map(|f| (p.resident_id, f)).collect();
        let valid = self.checked_readings(entry.clone(), &items).await?;
        let entries = BTreeMap::from([(p.resident_id, entry)]);
        self.save_readings(&valid, entries, Uploader::Account(p.account_id))
            .await
    }

    /// Refuses, audited, a reading the resident's form could not read (a number or a
    /// time that is none); the error to answer with.
    pub async fn patient_reading_unreadable(
        &self,
        p: &PatientCtx,
        problems: Vec<FieldProblem>,
    ) -> AppError {
        let entry = p.entry(self.now_us(), "reading.upload", "Observation");
        self.refuse(entry, AppError::Invalid(problems)).await
    }

    /// The readings of an upload, each checked; the refusal (audited as `entry`)
    /// lists every problem by its place in the upload.
    async fn checked_readings(
        &self,
        mut entry: AuditEntry,
        items: &[(i64, ReadingForm)],
    ) -> AppResult<Vec<(i64, ValidReading)>> {
        if items.is_empty() || items.len() > BATCH_MAX {
            let problem = if items.is_empty() {
                Problem::Required
            } else {
                Problem::TooLong {
                    max_chars: BATCH_MAX,
                }
            };
            let error = AppError::Invalid(vec![FieldProblem::new("readings", problem)]);
            return Err(self.refuse(entry, error).await);
        }
        let now_us = self.now_us();
        let mut valid: Vec<(i64, ValidReading)> = Vec::with_capacity(items.len());
        let mut problems = Vec::new();
        for (index, (resident_id, form)) in items.iter().enumerate() {
            match validate_reading(form, now_us) {
                Ok(v) => valid.push((*resident_id, v)),
                Err(ps) => problems.extend(ps.into_iter().map(|p| (index, p))),
            }
        }
        if !problems.is_empty() {
            entry.detail = Some(format!("{} problems", problems.len()));
            return Err(self.refuse(entry, AppError::InvalidBatch(problems)).await);
        }
        Ok(valid)
    }

    /// Stores checked readings with one audit record per resident (`entries`, each
    /// resident's record as the upload's actor writes it): alerts for the new urgent
    /// ones go to each resident's care team, and the contact counters of every
    /// programme the resident is in are kept.
    async fn save_readings(
        &self,
        valid: &[(i64, ValidReading)],
        entries: BTreeMap<i64, AuditEntry>,
        uploader: Uploader,
    ) -> AppResult<Vec<ReadingOutcome>> {
        let today = self.today();
        let mut homes = BTreeMap::new();
        for resident_id in entries.keys() {
            homes.insert(
                *resident_id,
                self.store.alert_home(*resident_id, today).await?,
            );
        }
        let rows: Vec<NewReading<'_>> = valid
            .iter()
            .map(|(resident_id, reading)| {
                let (institution_id, team_id) = homes[resident_id];
                NewReading {
                    resident_id: *resident_id,
                    reading,
                    alert: urgent_reading(&reading.value, &self.chronic).map(|reason| NewAlert {
                        institution_id,
                        team_id,
                        code: reason.code(),
                    }),
                }
            })
            .collect();
        // Home readings are contact for "lost to follow-up": keep the counters of each
        // programme the resident is in.
        let mut updates = Vec::new();
        for resident_id in entries.keys() {
            let mut days: Vec<time::Date> = valid
                .iter()
                .filter(|(r, _)| r == resident_id)
                .map(|(_, v)| local_day(v.taken_at_us))
                .collect();
            days.sort();
            days.dedup();
            // Ended enrolments too: a reading from before the end is contact inside
            // it, and the recompute counts every enrolment of the resident alike.
            for e in self.store.enrolments_of_resident(*resident_id).await? {
                updates.push(gongti_store::IndicatorUpdate {
                    enrolment_id: e.id,
                    disease: e.disease,
                    enrolled_on: e.enrolled_on,
                    ended_on: e.ended_on,
                    scopes: self.counter_scopes(e.institution_id).await?,
                    event: gongti_store::IndicatorEvent::Readings(days.clone()),
                });
            }
        }
        // One record per resident, naming the readings stored for them.
        let audit = |outcomes: &[gongti_store::ReadingOutcome]| {
            let mut audit = Vec::with_capacity(entries.len());
            for (resident_id, e) in &entries {
                let mine = || outcomes.iter().filter(|o| o.resident_id == *resident_id);
                let (sent, new, alerts) = mine().fold((0, 0, 0), |(s, n, a), o| {
                    (
                        s + 1,
                        n + usize::from(o.id.is_some()),
                        a + usize::from(o.alert_id.is_some()),
                    )
                });
                let mut e = e.clone();
                e.resource_id = (new > 0).then(|| encode_ids(mine().filter_map(|o| o.id)));
                e.detail = Some(format!("{sent} sent, {new} new, {alerts} alerts"));
                audit.push(e);
            }
            audit
        };
        let outcomes = self
            .store
            .insert_readings(
                &rows,
                uploader,
                self.now_us(),
                Some((&self.chronic, &updates)),
                &audit,
            )
            .await?;
        self.audit.flush().await?;
        Ok(outcomes)
    }

    /// A resident's readings taken in `[from_us, to_us)`, newest first.
    pub async fn resident_readings(
        &self,
        ctx: &Ctx,
        resident_id: i64,
        from_us: i64,
        to_us: i64,
        limit: u32,
    ) -> AppResult<Vec<ReadingRecord>> {
        let (_, mut entry) = self
            .reach(ctx, resident_id, PatientAction::Read, "reading.list", None)
            .await?;
        entry.resource_type = "Observation".into();
        let list = self
            .store
            .readings_of_resident(resident_id, from_us, to_us, limit.min(READINGS_LIST_MAX))
            .await?;
        self.audit.record(vec![entry]).await?;
        Ok(list)
    }

    /// Open alerts of the actor's institution (optionally one team), newest first.
    pub async fn open_alerts(
        &self,
        ctx: &Ctx,
        team_id: Option<i64>,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<AlertRecord>> {
        let (entry, institution) = self.worklist_scope(ctx, "worklist.alerts", "Flag").await?;
        let page = self
            .store
            .open_alerts(institution, team_id, after, limit)
            .await?;
        self.listed(entry, page.items.len()).await?;
        Ok(page)
    }

    /// Marks an alert of the actor's institution as seen.
    pub async fn acknowledge_alert(&self, ctx: &Ctx, alert_id: i64) -> AppResult<()> {
        let mut entry =
            ctx.principal
                .audit(self.now_us(), "alert.acknowledge", "Flag", Outcome::Ok);
        entry.request_id = ctx.request_id.clone();
        entry.resource_id = Some(alert_id.to_string());
        let alert = match self.store.alert(alert_id).await {
            Ok(a) => a,
            Err(StoreError::NotFound) => return Err(self.refuse(entry, AppError::NotFound).await),
            Err(e) => return Err(e.into()),
        };
        entry.patient_id = Some(alert.resident_id);
        if ctx.principal.institution_id != Some(alert.institution_id)
            || !ctx.principal.role.is_clinical()
        {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        match self
            .store
            .acknowledge_alert(
                alert_id,
                ctx.principal.staff_id,
                self.now_us(),
                std::slice::from_ref(&entry),
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Changed(_)) => {
                return Err(self
                    .refuse(entry, AppError::Conflict("already_acknowledged"))
                    .await);
            }
            Err(e) => return Err(e.into()),
        }
        self.audit.flush().await?;
        Ok(())
    }
}

impl App {
    /// A resident's alerts, newest first, for those who may read the record.
    pub async fn resident_alerts(
        &self,
        ctx: &Ctx,
        resident_id: i64,
    ) -> AppResult<Vec<AlertRecord>> {
        let (_, mut entry) = self
            .reach(ctx, resident_id, PatientAction::Read, "alert.list", None)
            .await?;
        entry.resource_type = "Flag".into();
        let list = self
            .store
            .alerts_of_resident(resident_id, READINGS_LIST_MAX)
            .await?;
        self.audit.record(vec![entry]).await?;
        Ok(list)
    }

    /// A resident's follow-up tasks (all programmes), newest first.
    pub async fn resident_tasks(
        &self,
        ctx: &Ctx,
        resident_id: i64,
    ) -> AppResult<Vec<gongti_store::TaskRecord>> {
        let (_, mut entry) = self
            .reach(ctx, resident_id, PatientAction::Read, "task.list", None)
            .await?;
        entry.resource_type = "Task".into();
        let mut tasks = Vec::new();
        for e in self.store.enrolments_of_resident(resident_id).await? {
            tasks.extend(self.store.tasks_of_enrolment(e.id).await?);
        }
        tasks.sort_by_key(|t| std::cmp::Reverse(t.id));
        self.audit.record(vec![entry]).await?;
        Ok(tasks)
    }
}
