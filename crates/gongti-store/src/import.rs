//! Bringing a region's existing records in (a FHIR transaction Bundle): residents
//! registered or updated and enrolments from their real days, written in one
//! transaction with every audit record — all of it or none. The use case decided and
//! validated everything first (`app::import`); the database still refuses a taken ID
//! number, a second active enrolment in a programme or a record that moved on from the
//! version the update expected, and then nothing is written.

use gongti_core::audit::AuditEntry;
use gongti_core::chronic::followup::Evaluation;
use gongti_core::chronic::record::ValidFollowup;
use gongti_core::chronic::{Bp, Disease};
use gongti_core::resident::ValidResident;
use time::Date;

mod direct;

use crate::chronic::{
    EnrolmentMarks, EnrolmentVisits, LOCK_ACTIVE_ENROLMENT, Maintain, NewEnrolment, NewFollowup,
    StoredRisk, followup_tasks_in, insert_enrolments_in, insert_followups_in, mark_enrolments_in,
    summarise_enrolments_in,
};
use crate::lab::insert_lab_result_in;
use crate::outbox::{created, stage_audit};
use crate::residents::{
    ID_NUMBER_INDEX, SealedNumbers, insert_many, insert_many_sql, registered, seal_numbers,
    update_resident_in,
};
use crate::row::trusted;
use crate::{Result, Store, StoreError, on_write};

/// Whose record an imported enrolment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportPatient {
    /// The resident registered by the plan's registration at this index.
    New(usize),
    Existing(i64),
}

#[derive(Debug, Clone)]
pub struct ImportRegistration {
    pub resident: ValidResident,
    pub home_institution_id: i64,
    pub audit: AuditEntry,
}

#[derive(Debug, Clone)]
pub struct ImportUpdate {
    pub id: i64,
    pub resident: ValidResident,
    pub expected_version: Option<i64>,
    pub audit: AuditEntry,
}

#[derive(Debug, Clone)]
pub struct ImportEnrolment {
    pub patient: ImportPatient,
    /// Its `resident_id` is set from `patient` when written.
    pub enrolment: NewEnrolment,
    /// What the resident's stored readings and results make of its kept figures.
    pub history: Vec<crate::IndicatorEvent>,
    pub audit: AuditEntry,
}

/// A laboratory result to record.
#[derive(Debug, Clone)]
pub struct ImportLab {
    pub patient: ImportPatient,
    pub result: gongti_core::lab::ValidLabResult,
    /// The recording institution and user.
    pub institution_id: i64,
    pub entered_by_user_id: i64,
    /// The resident's stored enrolments (the plan's own are added when written).
    pub enrolments: Vec<crate::EnrolmentScope>,
    pub audit: AuditEntry,
}

/// A home reading to store (a repeat of the resident's stored one is the answer).
#[derive(Debug, Clone)]
pub struct ImportReading {
    pub patient: ImportPatient,
    pub reading: gongti_core::chronic::readings::ValidReading,
    /// Its day in the region's time zone (contact for the kept figures).
    pub taken_on: Date,
    /// The code of the alert an urgent reading raises, and the day whose contract
    /// decides where it goes (decided in the transaction, after the plan's
    /// enrolments: `store::readings::ALERT_HOME`).
    pub alert: Option<(&'static str, Date)>,
    pub uploaded_by_user_id: i64,
    /// The resident's stored enrolments (the plan's own are added when written).
    pub enrolments: Vec<crate::EnrolmentScope>,
    pub audit: AuditEntry,
}

/// The enrolment an imported follow-up belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportEnrolmentRef {
    /// The enrolment of the plan's enrolment at this index.
    New(usize),
    Existing(i64),
}

/// A follow-up as the use case judged it (the rules run in visit order).
#[derive(Debug, Clone)]
pub struct ImportFollowup {
    pub patient: ImportPatient,
    pub enrolment: ImportEnrolmentRef,
    pub disease: Disease,
    pub institution_id: i64,
    pub staff_id: i64,
    pub followup: ValidFollowup,
    pub evaluation: Evaluation,
    pub next_due_on: Date,
    pub urgent_task_due_on: Option<Date>,
    pub highest_bp: Option<Bp>,
    pub risk: Option<StoredRisk>,
    /// The enrolment's start and counter scopes (the kept figures).
    pub enrolled_on: Date,
    pub scopes: [String; 3],
    pub audit: AuditEntry,
}

/// A stored hypertension enrolment's risk recomputed by the import (a diabetes
/// enrolment is a row of its table).
#[derive(Debug, Clone)]
pub struct ImportRisk {
    pub enrolment_id: i64,
    pub risk: StoredRisk,
    pub audit: AuditEntry,
}

/// What one import writes. Follow-ups are written in the order given (each
/// enrolment's in visit order).
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    pub registrations: Vec<ImportRegistration>,
    pub updates: Vec<ImportUpdate>,
    pub enrolments: Vec<ImportEnrolment>,
    pub followups: Vec<ImportFollowup>,
    pub risks: Vec<ImportRisk>,
    pub lab_results: Vec<ImportLab>,
    pub readings: Vec<ImportReading>,
}

/// The ids an import created, in the plan's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub residents: Vec<i64>,
    pub enrolments: Vec<i64>,
    pub followups: Vec<i64>,
    /// Each result's id and whether this import created it.
    pub lab_results: Vec<(i64, bool)>,
    /// Each home reading's id and whether this import created it.
    pub readings: Vec<(i64, bool)>,
    /// On SQLite's direct lane, the last audit outbox id of the import's records: they
    /// are in the chain once the audit writer has moved through it (elsewhere none).
    pub audit_through: Option<i64>,
}

/// Residents per INSERT statement (as a registration batch writes them).
const RESIDENTS_PER_INSERT: usize = 128;

impl Store {
    /// Writes `plan` in one transaction with its audit records: all of it or, on any
    /// refusal ([`StoreError::Duplicate`] for a taken ID number or a programme already
    /// active, [`StoreError::Changed`] for an update whose record moved on,
    /// [`StoreError::NotFound`]), nothing. The personal numbers are sealed where it is
    /// called. On SQLite the transaction runs on the hot path's own connection in the
    /// write turn ([`direct`]); elsewhere (PostgreSQL, a store
    /// [`Store::without_direct_writes`]) through sqlx, where it is called.
    pub async fn import(
        &self,
        plan: ImportPlan,
        params: std::sync::Arc<gongti_core::chronic::Params>,
        ruleset_version: &'static str,
        now_us: i64,
    ) -> Result<Imported> {
        let sealed: Vec<SealedNumbers> = plan
            .registrations
            .iter()
            .map(|r| seal_numbers(&self.keys, &r.resident.id_number, r.resident.phone.as_ref()))
            .collect();
        let mut distinct = std::collections::HashSet::with_capacity(sealed.len());
        if !sealed.iter().all(|s| distinct.insert(s.id_hash)) {
            return Err(StoreError::Duplicate(ID_NUMBER_INDEX.into()));
        }
        let updates: Vec<SealedNumbers> = plan
            .updates
            .iter()
            .map(|u| seal_numbers(&self.keys, &u.resident.id_number, u.resident.phone.as_ref()))
            .collect();
        if let Some(lane) = self.direct_writes() {
            let ahead = direct::Ahead::fold(&plan, &params, ruleset_version, now_us)?;
            // Rows moved into the audit chain leave the outbox with the import, as with
            // the registration batch (through sqlx they wait for the sweep).
            let moved = self.audit_file().map_or(0, |f| f.moved_mark());
            return lane
                .transaction_while_wanted(move |tx| {
                    let imported = direct::write_import(
                        tx,
                        &plan,
                        ahead,
                        &params,
                        (&sealed, &updates),
                        ruleset_version,
                        now_us,
                    )?;
                    crate::outbox::delete_moved_direct(tx, moved)?;
                    Ok(imported)
                })
                .await;
        }
        self.write_import(&plan, &params, &sealed, &updates, ruleset_version, now_us)
            .await
    }

    /// [`Store::import`]'s transaction through sqlx, its numbers sealed (`sealed` the
    /// registrations', `updates` the updates').
    async fn write_import(
        &self,
        plan: &ImportPlan,
        params: &gongti_core::chronic::Params,
        sealed: &[SealedNumbers],
        updates: &[SealedNumbers],
        ruleset_version: &'static str,
        now_us: i64,
    ) -> Result<Imported> {
        let taken = || StoreError::Duplicate(ID_NUMBER_INDEX.into());
        let rows: Vec<(&ValidResident, i64, &SealedNumbers)> = plan
            .registrations
            .iter()
            .zip(sealed)
            .map(|(r, s)| (&r.resident, r.home_institution_id, s))
            .collect();
        let enrolled = enrolled_existing(plan);
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let before = crate::coverage_counts::coverage_facts_in!(tx, &enrolled, true);
            let mut residents = Vec::with_capacity(rows.len());
            let mut staged = Vec::new();
            // Every change of the kept figures, applied at once at the end.
            let mut kept: Vec<crate::IndicatorUpdate> = Vec::new();
            for chunk in crate::row::cached_chunks(&rows, RESIDENTS_PER_INSERT) {
                let inserted = insert_many!(tx, chunk, now_us);
                for (_, _, s) in chunk {
                    residents.push(*inserted.get(&s.id_hash[..]).ok_or_else(taken)?);
                }
            }
            for (r, id) in plan.registrations.iter().zip(&residents) {
                staged.extend(registered(std::slice::from_ref(&r.audit), *id));
            }
            for (u, s) in plan.updates.iter().zip(updates) {
                let done = update_resident_in!(tx, u.id, &u.resident, s, now_us, u.expected_version);
                if done == 0 {
                    return Err(not_updated(u));
                }
                staged.push(u.audit.clone());
            }
            // Enrolments, with ids reserved for them, in a few statements.
            let enrolments = crate::row::reserve_ids!(tx, "chronic_enrolments", plan.enrolments.len());
            let mut new_enrolments = planned_enrolments(plan, &residents, &enrolments, &mut kept, &mut staged)?;
            // Follow-ups. A stored enrolment is locked once (still active; on
            // PostgreSQL against a concurrent ending).
            for id in stored_enrolments(plan) {
                let still_active = sqlx::query(LOCK_ACTIVE_ENROLMENT)
                    .bind(id).bind(now_us)
                    .execute(&mut *tx).await?;
                if still_active.rows_affected() == 0 {
                    return Err(StoreError::Changed("enrolment"));
                }
            }
            let followups = crate::row::reserve_ids!(tx, "followups", plan.followups.len());
            let written = planned_followups(plan, &residents, &enrolments, &followups, ruleset_version, now_us)?;
            let (fresh_visits, stored_visits) = fold_visits(&written, &enrolments, &mut new_enrolments);
            let none = EnrolmentVisits::default();
            insert_enrolments_in!(tx, &enrolment_rows(&new_enrolments, &fresh_visits, &none), now_us);
            let rows: Vec<(i64, &NewFollowup<'_>)> = written.iter().map(|(id, n)| (*id, n)).collect();
            insert_followups_in!(tx, &rows);
            for ((id, n), close) in written.iter().zip(closing(plan, &written)) {
                followup_tasks_in!(tx, n, *id, close);
            }
            followups_kept(plan, &written, params, &mut kept, &mut staged);
            let touched: Vec<i64> = stored_visits.keys().copied().collect();
            summarise_enrolments_in!(tx, &touched, now_us);
            let rows: Vec<(i64, &EnrolmentMarks)> = stored_visits.iter().map(|(id, v)| (*id, &v.marks)).collect();
            mark_enrolments_in!(tx, &rows);
            for r in &plan.risks {
                let values = risk_values(r, now_us);
                crate::row::bind_vals!(sqlx::query(SET_RISK), &values).execute(&mut *tx).await?;
                staged.push(r.audit.clone());
            }
            let mut lab_results = Vec::with_capacity(plan.lab_results.len());
            for l in &plan.lab_results {
                let resident_id = resident_of(l.patient, &residents)?;
                match insert_lab_result_in!(
                    tx, resident_id, &l.result, l.institution_id, l.entered_by_user_id, now_us
                ) {
                    Some(id) => {
                        lab_written(plan, &enrolments, l, (resident_id, id), &mut kept, &mut staged)?;
                        lab_results.push((id, true));
                    }
                    None => {
                        let (id,): (i64,) = sqlx::query_as(crate::lab::EXISTING)
                        .bind(resident_id).bind(&l.result.source_system).bind(&l.result.source_id)
                        .fetch_one(&mut *tx).await?;
                        lab_results.push((id, false));
                    }
                }
            }
            // Home readings: contact in every programme of their resident.
            let mut reading_rows = Vec::with_capacity(plan.readings.len());
            for r in &plan.readings {
                let resident_id = resident_of(r.patient, &residents)?;
                let alert = match r.alert {
                    Some((code, today)) => {
                        use crate::row::RowExt as _;
                        let home = sqlx::query(crate::readings::ALERT_HOME)
                            .bind(resident_id).bind(today)
                            .fetch_one(&mut *tx).await?;
                        Some(crate::NewAlert {
                            institution_id: home.i64("institution_id")?,
                            team_id: home.opt_i64("team_id")?,
                            code,
                        })
                    }
                    None => None,
                };
                reading_rows.push(crate::NewReading { resident_id, reading: &r.reading, alert });
            }
            let mut readings = Vec::with_capacity(reading_rows.len());
            // One statement's rows share their uploader.
            let mut start = 0;
            for chunk in plan.readings.chunk_by(|a, b| a.uploaded_by_user_id == b.uploaded_by_user_id) {
                let rows = &reading_rows[start..start + chunk.len()];
                start += chunk.len();
                let by = chunk[0].uploaded_by_user_id;
                let outcomes = crate::readings::insert_readings_in!(tx, rows, crate::Uploader::User(by), now_us);
                for ((r, row), o) in chunk.iter().zip(rows).zip(outcomes) {
                    let id = match o.id {
                        Some(id) => id,
                        None => {
                            let (id,): (i64,) = sqlx::query_as(crate::readings::EXISTING_READING)
                                .bind(row.resident_id).bind(&r.reading.client_reading_id)
                                .fetch_one(&mut *tx).await?;
                            id
                        }
                    };
                    readings.push(reading_written(plan, &enrolments, r, &o, id, &mut kept, &mut staged));
                }
            }
            crate::maintained::apply_indicator_updates!(tx, kept, params, fresh: &enrolments);
            let (homes, restated) = coverage_changed(plan, &residents, &enrolled);
            crate::coverage_counts::count_registered_in!(tx, &homes);
            crate::coverage_counts::restate_coverage_in!(tx, &restated, before);
            stage_audit!(tx, &staged);
            tx.commit().await?;
            Ok(Imported { residents, enrolments, followups, lab_results, readings, audit_through: None })
        })
    }
}

/// A laboratory result this import stored (`ids`: its resident's and its own): its
/// kept figures (to `kept`) and audit record (to `staged`).
fn lab_written(
    plan: &ImportPlan,
    enrolments: &[i64],
    l: &ImportLab,
    (resident_id, id): (i64, i64),
    kept: &mut Vec<crate::IndicatorUpdate>,
    staged: &mut Vec<AuditEntry>,
) -> Result<()> {
    let scopes = with_planned(plan, enrolments, l.patient, &l.enrolments);
    kept.extend(crate::lab::lab_updates(id, &l.result, &scopes)?);
    let mut audit = l.audit.clone();
    audit.patient_id = Some(resident_id);
    audit.resource_id = Some(id.to_string());
    staged.push(audit);
    Ok(())
}

/// A home reading after its insert (`o`; `id` the stored one, this import's or, for a
/// repeat, the one stored before): a new one is contact in every programme of its
/// resident (to `kept`); either is on the trail as the single upload puts it (to
/// `staged`). Answers its id and whether this import created it.
fn reading_written(
    plan: &ImportPlan,
    enrolments: &[i64],
    r: &ImportReading,
    o: &crate::ReadingOutcome,
    id: i64,
    kept: &mut Vec<crate::IndicatorUpdate>,
    staged: &mut Vec<AuditEntry>,
) -> (i64, bool) {
    let mut audit = r.audit.clone();
    audit.patient_id = Some(o.resident_id);
    if o.id.is_none() {
        audit.detail = Some("1 sent, 0 new, 0 alerts".into());
        staged.push(audit);
        return (id, false);
    }
    let scopes = with_planned(plan, enrolments, r.patient, &r.enrolments);
    kept.extend(scopes.into_iter().map(|e| crate::IndicatorUpdate {
        enrolment_id: e.enrolment_id,
        disease: e.disease,
        enrolled_on: e.enrolled_on,
        ended_on: e.ended_on,
        scopes: e.scopes,
        event: crate::IndicatorEvent::Readings(vec![r.taken_on]),
    }));
    audit.resource_id = Some(id.to_string());
    audit.detail = Some(format!(
        "1 sent, 1 new, {} alerts",
        usize::from(o.alert_id.is_some())
    ));
    staged.push(audit);
    (id, true)
}

/// A stored enrolment's risk recomputed by an import (`$1` level, `$2` factors, `$3`
/// the time of the change, `$4` the enrolment).
pub(crate) const SET_RISK: &str =
    "UPDATE chronic_enrolments SET risk_level = $1, risk_factors = $2, changed_at_us = $3
    WHERE id = $4 AND status = 'active'";

/// The values of [`SET_RISK`].
fn risk_values(r: &ImportRisk, now_us: i64) -> [crate::row::Val<'_>; 4] {
    use crate::row::Val;
    [
        Val::text(r.risk.level.code()),
        Val::owned(r.risk.factors.join(",")),
        Val::int(now_us),
        Val::int(r.enrolment_id),
    ]
}

/// Why an update wrote nothing: its record moved on from the version it expected, or
/// there is no such record (or it was merged away).
fn not_updated(u: &ImportUpdate) -> StoreError {
    if u.expected_version.is_some() {
        StoreError::Changed("version")
    } else {
        StoreError::NotFound
    }
}

/// The resident `patient` names (`residents`: the ids of the plan's registrations).
fn resident_of(patient: ImportPatient, residents: &[i64]) -> Result<i64> {
    match patient {
        ImportPatient::New(i) => residents.get(i).copied().ok_or(StoreError::NotFound),
        ImportPatient::Existing(id) => Ok(id),
    }
}

/// Stored residents the plan enrols, ascending: what they count for in 签约率 changes.
fn enrolled_existing(plan: &ImportPlan) -> Vec<i64> {
    let mut enrolled: Vec<i64> = plan
        .enrolments
        .iter()
        .filter_map(|e| match e.patient {
            ImportPatient::Existing(id) => Some(id),
            ImportPatient::New(_) => None,
        })
        .collect();
    enrolled.sort_unstable();
    enrolled.dedup();
    enrolled
}

/// The plan's enrolments with their ids (`ids`, reserved) and residents; the kept
/// figures their residents' earlier records make go to `kept`, their audit records to
/// `staged`.
fn planned_enrolments(
    plan: &ImportPlan,
    residents: &[i64],
    ids: &[i64],
    kept: &mut Vec<crate::IndicatorUpdate>,
    staged: &mut Vec<AuditEntry>,
) -> Result<Vec<(i64, NewEnrolment)>> {
    let mut out = Vec::with_capacity(plan.enrolments.len());
    for (e, id) in plan.enrolments.iter().zip(ids) {
        let mut n = e.enrolment.clone();
        n.resident_id = resident_of(e.patient, residents)?;
        if let (false, Some(scopes)) = (e.history.is_empty(), &n.scopes) {
            kept.extend(crate::chronic::enrolment_history(
                *id, &n, scopes, &e.history,
            ));
        }
        let mut audit = e.audit.clone();
        audit.patient_id = Some(n.resident_id);
        staged.extend(created(std::slice::from_ref(&audit), *id));
        out.push((*id, n));
    }
    Ok(out)
}

/// The stored enrolments the plan's follow-ups belong to, each once, in the plan's
/// order: each is locked (still active) before they are written.
fn stored_enrolments(plan: &ImportPlan) -> Vec<i64> {
    let mut seen = std::collections::HashSet::new();
    plan.followups
        .iter()
        .filter_map(|f| match f.enrolment {
            ImportEnrolmentRef::Existing(id) => seen.insert(id).then_some(id),
            ImportEnrolmentRef::New(_) => None,
        })
        .collect()
}

/// The plan's follow-ups with their ids (`ids`, reserved), residents and enrolments
/// (`enrolments`: the ids of the plan's enrolments).
fn planned_followups<'p>(
    plan: &'p ImportPlan,
    residents: &[i64],
    enrolments: &[i64],
    ids: &[i64],
    ruleset_version: &'static str,
    now_us: i64,
) -> Result<Vec<(i64, NewFollowup<'p>)>> {
    let mut written = Vec::with_capacity(plan.followups.len());
    for (f, id) in plan.followups.iter().zip(ids) {
        let enrolment_id = match f.enrolment {
            ImportEnrolmentRef::New(k) => *enrolments.get(k).ok_or(StoreError::NotFound)?,
            ImportEnrolmentRef::Existing(id) => id,
        };
        written.push((
            *id,
            NewFollowup {
                enrolment_id,
                resident_id: resident_of(f.patient, residents)?,
                disease: f.disease,
                institution_id: f.institution_id,
                staff_id: f.staff_id,
                followup: &f.followup,
                evaluation: &f.evaluation,
                next_due_on: f.next_due_on,
                ruleset_version,
                urgent_task_due_on: f.urgent_task_due_on,
                highest_bp: f.highest_bp,
                risk: f.risk.clone(),
                // The kept figures of the whole import are written at its end.
                maintain: None,
                now_us,
            },
        ));
    }
    Ok(written)
}

/// Enrolments by id with what their follow-ups leave on them.
type Visits = std::collections::BTreeMap<i64, EnrolmentVisits>;

/// What the follow-ups leave on their enrolments' rows, split into the plan's own
/// enrolments (`fresh`, ascending: inserted with it, their risk set here) and stored
/// ones (updated after).
fn fold_visits(
    written: &[(i64, NewFollowup<'_>)],
    fresh: &[i64],
    new_enrolments: &mut [(i64, NewEnrolment)],
) -> (Visits, Visits) {
    let mut visits = Visits::new();
    for (id, n) in written {
        let v: &mut EnrolmentVisits = visits.entry(n.enrolment_id).or_default();
        *v = std::mem::take(v).with(*id, n);
    }
    let (fresh_visits, stored_visits): (Visits, Visits) = visits
        .into_iter()
        .partition(|(id, _)| fresh.binary_search(id).is_ok());
    for (id, n) in new_enrolments {
        if let Some(v) = fresh_visits.get(id) {
            n.risk = v.risk_over(n.risk.take());
        }
    }
    (fresh_visits, stored_visits)
}

/// The rows `insert_enrolments_in!` takes for the plan's enrolments.
fn enrolment_rows<'a>(
    new_enrolments: &'a [(i64, NewEnrolment)],
    fresh_visits: &'a Visits,
    none: &'a EnrolmentVisits,
) -> Vec<(i64, &'a NewEnrolment, &'a EnrolmentVisits)> {
    new_enrolments
        .iter()
        .map(|(id, n)| (*id, n, fresh_visits.get(id).unwrap_or(none)))
        .collect()
}

/// Whether each follow-up, in visit order, does its enrolment's open tasks. A stored
/// enrolment's open tasks may be done by any visit; an enrolment of this import has
/// none until one of its visits opens one.
fn closing(plan: &ImportPlan, written: &[(i64, NewFollowup<'_>)]) -> Vec<bool> {
    let mut tasks_opened = std::collections::HashSet::new();
    plan.followups
        .iter()
        .zip(written)
        .map(|(f, (_, n))| {
            let close = match f.enrolment {
                ImportEnrolmentRef::New(_) => tasks_opened.contains(&n.enrolment_id),
                ImportEnrolmentRef::Existing(_) => true,
            };
            if n.urgent_task_due_on.is_some() {
                tasks_opened.insert(n.enrolment_id);
            }
            close
        })
        .collect()
}

/// The follow-ups' changes of the kept figures (to `kept`) and audit records (to
/// `staged`).
fn followups_kept(
    plan: &ImportPlan,
    written: &[(i64, NewFollowup<'_>)],
    params: &gongti_core::chronic::Params,
    kept: &mut Vec<crate::IndicatorUpdate>,
    staged: &mut Vec<AuditEntry>,
) {
    for (f, (id, n)) in plan.followups.iter().zip(written) {
        kept.push(followup_kept(f, *id, n, params));
        let mut audit = f.audit.clone();
        audit.patient_id = Some(n.resident_id);
        staged.extend(created(std::slice::from_ref(&audit), *id));
    }
}

/// The kept-figure update of an imported follow-up (`id`, as `n`).
fn followup_kept(
    f: &ImportFollowup,
    id: i64,
    n: &NewFollowup<'_>,
    params: &gongti_core::chronic::Params,
) -> crate::IndicatorUpdate {
    let maintain = Maintain {
        params,
        enrolled_on: f.enrolled_on,
        scopes: f.scopes.clone(),
    };
    crate::chronic::followup_update(n, id, &maintain)
}

/// What changes in 签约率: the home institutions of new residents the plan does not
/// enrol (each counted as registered), and the residents it enrols (`enrolled`: the
/// stored ones; new or not, read again).
fn coverage_changed(
    plan: &ImportPlan,
    residents: &[i64],
    enrolled: &[i64],
) -> (Vec<i64>, Vec<i64>) {
    let mut new_enrolled = vec![false; residents.len()];
    for e in &plan.enrolments {
        if let ImportPatient::New(i) = e.patient
            && let Some(flag) = new_enrolled.get_mut(i)
        {
            *flag = true;
        }
    }
    let homes: Vec<i64> = plan
        .registrations
        .iter()
        .zip(&new_enrolled)
        .filter(|(_, enrolled)| !**enrolled)
        .map(|(r, _)| r.home_institution_id)
        .collect();
    let restated: Vec<i64> = enrolled
        .iter()
        .copied()
        .chain(
            residents
                .iter()
                .zip(&new_enrolled)
                .filter(|(_, e)| **e)
                .map(|(id, _)| *id),
        )
        .collect();
    (homes, restated)
}

/// The enrolments a resident's new reading or result counts in: their stored ones and
/// those the plan made for them (`ids`: the plan's enrolments' ids, in order).
fn with_planned(
    plan: &ImportPlan,
    ids: &[i64],
    patient: ImportPatient,
    stored: &[crate::EnrolmentScope],
) -> Vec<crate::EnrolmentScope> {
    let mut scopes = stored.to_vec();
    for (e, enrolment_id) in plan.enrolments.iter().zip(ids) {
        if let (true, Some(s)) = (e.patient == patient, &e.enrolment.scopes) {
            scopes.push(crate::EnrolmentScope {
                enrolment_id: *enrolment_id,
                disease: e.enrolment.enrolment.disease,
                enrolled_on: e.enrolment.enrolled_on,
                ended_on: None,
                scopes: s.clone(),
            });
        }
    }
    scopes
}
