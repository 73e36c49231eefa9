//! An import's transaction on SQLite's hot path ([`crate::direct::DirectWrites`]): the
//! statements of [`Store::write_import`](super) run one after another on one thread,
//! through rusqlite on the read-write connection of the write turn, instead of each
//! being handed to sqlx's worker thread and its answer waited for (BENCHMARKS.md,
//! *Importing history*). The same plan gives the same rows through either lane: the
//! steps that decide what to write are shared with sqlx's lane (`super`), the values of
//! each statement are listed once ([`crate::row::Val`]), and `gongti-web`'s
//! `fhir_import_lanes` posts the same Bundles through both and compares every table an
//! import writes and the audit trail.

use std::collections::{BTreeMap, HashMap};

use gongti_core::chronic::Params;
use gongti_core::chronic::maintained::StandardPeriod;
use rusqlite::Transaction;

use super::{
    ImportEnrolmentRef, ImportPlan, Imported, RESIDENTS_PER_INSERT, SET_RISK, closing,
    coverage_changed, enrolled_existing, enrolment_rows, fold_visits, followup_kept,
    followups_kept, lab_written, not_updated, planned_enrolments, planned_followups,
    reading_written, resident_of, risk_values, stored_enrolments,
};
use crate::chronic::{
    CLOSE_TASKS, ENROLMENTS_PER_INSERT, EnrolmentVisits, FOLLOWUPS_PER_INSERT,
    LOCK_ACTIVE_ENROLMENT, NewFollowup, OPEN_URGENT_TASK, close_tasks_values, urgent_task_values,
};
use crate::direct::{execute_numbered, execute_values as execute, first_numbered};
use crate::maintained::{CountChange, FactsRow};
use crate::residents::{
    ID_NUMBER_INDEX, SealedNumbers, UPDATE_RESIDENT, insert_many_direct, registered, update_values,
};
use crate::row::RowExt as _;
use crate::row::{Val, cached_chunks};
use crate::{Result, StoreError};

/// `n` new ids of `table`: those after its largest (the transaction holds the
/// database's write lock), as `reserve_ids!` reserves them on SQLite.
fn reserve_ids(tx: &Transaction<'_>, table: &'static str, n: usize) -> Result<Vec<i64>> {
    let sql = format!("SELECT COALESCE(MAX(id), 0) FROM {table}");
    let last: i64 = tx.prepare_cached(&sql)?.query_row([], |row| row.get(0))?;
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    Ok((1..=n).map(|k| last + k).collect())
}

/// [`Store::import`](crate::Store::import)'s transaction on the hot path: `plan` with
/// its numbers sealed (the registrations', the updates') and, when
/// it could be, the kept figures of its own enrolments folded before ([`Ahead`]), in
/// `tx`, which the caller commits.
pub(super) fn write_import(
    tx: &Transaction<'_>,
    plan: &ImportPlan,
    ahead: Option<Ahead>,
    params: &Params,
    (sealed, updates): (&[SealedNumbers], &[SealedNumbers]),
    ruleset_version: &'static str,
    now_us: i64,
) -> Result<Imported> {
    let enrolled = enrolled_existing(plan);
    let before = crate::coverage_counts::coverage_facts_direct(tx, &enrolled)?;
    let mut staged = Vec::new();
    let mut kept: Vec<crate::IndicatorUpdate> = Vec::new();
    // Residents, a chunk a statement; a taken ID number is missing from its answer.
    let rows: Vec<(&gongti_core::resident::ValidResident, i64, &SealedNumbers)> = plan
        .registrations
        .iter()
        .zip(sealed)
        .map(|(r, s)| (&r.resident, r.home_institution_id, s))
        .collect();
    let mut residents = Vec::with_capacity(rows.len());
    for chunk in cached_chunks(&rows, RESIDENTS_PER_INSERT) {
        let inserted = insert_many_direct(tx, chunk, now_us)?;
        for (_, _, s) in chunk {
            let id = inserted
                .get(&s.id_hash[..])
                .ok_or_else(|| StoreError::Duplicate(ID_NUMBER_INDEX.into()))?;
            residents.push(*id);
        }
    }
    for (r, id) in plan.registrations.iter().zip(&residents) {
        staged.extend(registered(std::slice::from_ref(&r.audit), *id));
    }
    for (u, s) in plan.updates.iter().zip(updates) {
        let values = update_values(u.id, &u.resident, s, now_us, u.expected_version);
        if execute_numbered(tx, UPDATE_RESIDENT, &values)? == 0 {
            return Err(not_updated(u));
        }
        staged.push(u.audit.clone());
    }
    let enrolments = reserve_ids(tx, "chronic_enrolments", plan.enrolments.len())?;
    let mut new_enrolments =
        planned_enrolments(plan, &residents, &enrolments, &mut kept, &mut staged)?;
    for id in stored_enrolments(plan) {
        if execute_numbered(tx, LOCK_ACTIVE_ENROLMENT, &[Val::int(id), Val::int(now_us)])? == 0 {
            return Err(StoreError::Changed("enrolment"));
        }
    }
    let followups = reserve_ids(tx, "followups", plan.followups.len())?;
    let written = planned_followups(
        plan,
        &residents,
        &enrolments,
        &followups,
        ruleset_version,
        now_us,
    )?;
    let (fresh_visits, stored_visits) = fold_visits(&written, &enrolments, &mut new_enrolments);
    let none = EnrolmentVisits::default();
    let rows = enrolment_rows(&new_enrolments, &fresh_visits, &none);
    for chunk in cached_chunks(&rows, ENROLMENTS_PER_INSERT) {
        let sql = crate::chronic::insert_enrolments_sql(false, chunk.len());
        execute(
            tx,
            &sql,
            crate::chronic::enrolment_rows_values(chunk, now_us),
        )?;
    }
    let counts = crate::chronic::summed_enrolment_counts(
        rows.iter()
            .flat_map(|(_, n, _)| crate::chronic::enrolment_count_rows(n)),
    );
    for chunk in cached_chunks(&counts, crate::maintained::ROWS_PER_INSERT) {
        let sql = crate::chronic::enrolment_counts_sql(false, chunk.len());
        execute(tx, &sql, crate::chronic::enrolment_count_values(chunk))?;
    }
    let rows: Vec<(i64, &NewFollowup<'_>)> = written.iter().map(|(id, n)| (*id, n)).collect();
    for chunk in cached_chunks(&rows, FOLLOWUPS_PER_INSERT) {
        let sql = crate::chronic::insert_followups_sql(false, chunk.len());
        execute(tx, &sql, crate::chronic::followup_rows_values(chunk))?;
    }
    let drugs = crate::chronic::followup_drugs(&rows);
    for chunk in cached_chunks(&drugs, crate::maintained::ROWS_PER_INSERT) {
        let sql = crate::chronic::drugs_sql(false, chunk.len());
        execute(tx, &sql, crate::chronic::drug_values(chunk))?;
    }
    for ((id, n), close) in written.iter().zip(closing(plan, &written)) {
        if close {
            execute_numbered(tx, CLOSE_TASKS, &close_tasks_values(*id, n))?;
        }
        if let Some(values) = urgent_task_values(*id, n) {
            execute_numbered(tx, OPEN_URGENT_TASK, &values)?;
        }
    }
    followups_kept(plan, &written, params, &mut kept, &mut staged);
    if !stored_visits.is_empty() {
        let touched: Vec<i64> = stored_visits.keys().copied().collect();
        let sql = crate::chronic::visits::summarise_sql(&touched);
        execute_numbered(tx, &sql, &[Val::int(now_us)])?;
        let marks: Vec<(i64, &crate::chronic::EnrolmentMarks)> = stored_visits
            .iter()
            .map(|(id, v)| (*id, &v.marks))
            .collect();
        for chunk in cached_chunks(&marks, crate::maintained::ROWS_PER_INSERT) {
            let sql = crate::chronic::visits::mark_sql(false, chunk.len());
            let values = chunk.iter().flat_map(|(id, m)| m.values(*id)).collect();
            execute(tx, &sql, values)?;
        }
    }
    for r in &plan.risks {
        execute_numbered(tx, SET_RISK, &risk_values(r, now_us))?;
        staged.push(r.audit.clone());
    }
    let mut lab_results = Vec::with_capacity(plan.lab_results.len());
    for l in &plan.lab_results {
        let resident_id = resident_of(l.patient, &residents)?;
        let (id, new) = crate::lab::insert_lab_result_direct(
            tx,
            resident_id,
            &l.result,
            l.institution_id,
            l.entered_by_user_id,
            now_us,
        )?;
        if new {
            lab_written(
                plan,
                &enrolments,
                l,
                (resident_id, id),
                &mut kept,
                &mut staged,
            )?;
        }
        lab_results.push((id, new));
    }
    let readings = write_readings(
        tx,
        plan,
        &residents,
        &enrolments,
        now_us,
        &mut kept,
        &mut staged,
    )?;
    match ahead {
        None => crate::maintained::apply_indicator_updates_direct(tx, &kept, params, &enrolments)?,
        Some(ahead) => {
            // The plan's own enrolments were folded before the turn: the stored ones'
            // updates are folded here, and both written with the counters summed.
            kept.retain(|u| enrolments.binary_search(&u.enrolment_id).is_err());
            let stored = crate::maintained::touched_facts_direct(tx, &kept, params, &[])?;
            let (facts, counts) = crate::maintained::fold_updates(&kept, &stored, params);
            let (mut all_facts, all_counts) = ahead.settled(&enrolments, &followups, &counts)?;
            all_facts.extend(facts);
            crate::maintained::write_kept_direct(tx, &all_facts, &stored, &all_counts)?;
        }
    }
    let (homes, restated) = coverage_changed(plan, &residents, &enrolled);
    crate::coverage_counts::count_registered_direct(tx, &homes)?;
    let after = crate::coverage_counts::coverage_facts_direct(tx, &restated)?;
    crate::coverage_counts::add_coverage_direct(
        tx,
        &crate::coverage_counts::difference(&before, &after),
    )?;
    let audit_through = crate::outbox::stage_direct(tx, &staged)?;
    Ok(Imported {
        residents,
        enrolments,
        followups,
        lab_results,
        readings,
        audit_through,
    })
}

/// The plan's home readings, their alerts raised where their resident's alerts go;
/// answers each one's id and whether this import created it.
fn write_readings(
    tx: &Transaction<'_>,
    plan: &ImportPlan,
    residents: &[i64],
    enrolments: &[i64],
    now_us: i64,
    kept: &mut Vec<crate::IndicatorUpdate>,
    staged: &mut Vec<gongti_core::audit::AuditEntry>,
) -> Result<Vec<(i64, bool)>> {
    let mut rows = Vec::with_capacity(plan.readings.len());
    for r in &plan.readings {
        let resident_id = resident_of(r.patient, residents)?;
        let alert = match r.alert {
            Some((code, today)) => {
                let key = [Val::int(resident_id), Val::day(today)];
                let (institution_id, team_id) =
                    first_numbered(tx, crate::readings::ALERT_HOME, &key, |row| {
                        Ok((row.i64("institution_id")?, row.opt_i64("team_id")?))
                    })?;
                Some(crate::NewAlert {
                    institution_id,
                    team_id,
                    code,
                })
            }
            None => None,
        };
        rows.push(crate::NewReading {
            resident_id,
            reading: &r.reading,
            alert,
        });
    }
    let mut readings = Vec::with_capacity(rows.len());
    // One statement's rows share their uploader.
    let mut start = 0;
    for chunk in plan
        .readings
        .chunk_by(|a, b| a.uploaded_by_user_id == b.uploaded_by_user_id)
    {
        let these = &rows[start..start + chunk.len()];
        start += chunk.len();
        let by = crate::Uploader::User(chunk[0].uploaded_by_user_id);
        let outcomes = crate::readings::insert_readings_direct(tx, these, by, now_us)?;
        for (r, o) in chunk.iter().zip(&outcomes) {
            let id = match o.id {
                Some(id) => id,
                None => {
                    let key = [
                        Val::int(o.resident_id),
                        Val::text(&r.reading.client_reading_id),
                    ];
                    first_numbered(tx, crate::readings::EXISTING_READING, &key, |row| {
                        row.i64("id")
                    })?
                }
            };
            readings.push(reading_written(plan, enrolments, r, o, id, kept, staged));
        }
    }
    Ok(readings)
}

/// The kept figures of an import's own enrolments, folded before the write turn (on
/// the caller's thread, while another import holds the turn): an enrolment made by the
/// import has no stored facts, so what its follow-ups make of them depends on the plan
/// alone. Its ids are not known until the turn reserves them, so the fold keys the
/// plan's enrolments and follow-ups by their place in the plan (`k + 1`), which orders
/// them as the reserved ids will (ascending in the plan's order), and
/// [`Ahead::settled`] puts the reserved ids in. Only for a plan whose own enrolments
/// get nothing but its follow-ups (no earlier records of their residents, no results
/// or readings in the plan), so that no other record's id is compared with theirs.
pub(super) struct Ahead {
    facts: Vec<FactsRow>,
    counts: Vec<(String, &'static str, StandardPeriod, &'static str, i64)>,
}

/// A place in the plan as the id it stands for until the turn (`k + 1`).
fn provisional(n: usize) -> Vec<i64> {
    (1..=i64::try_from(n).unwrap_or(i64::MAX)).collect()
}

impl Ahead {
    /// Folds the plan's own enrolments' figures, when the plan allows it (see
    /// [`Ahead`]).
    pub(super) fn fold(
        plan: &ImportPlan,
        params: &Params,
        ruleset_version: &'static str,
        now_us: i64,
    ) -> Result<Option<Ahead>> {
        if !plan.lab_results.is_empty()
            || !plan.readings.is_empty()
            || plan.enrolments.iter().any(|e| !e.history.is_empty())
        {
            return Ok(None);
        }
        let (residents, enrolments, followups) = (
            provisional(plan.registrations.len()),
            provisional(plan.enrolments.len()),
            provisional(plan.followups.len()),
        );
        let written = planned_followups(
            plan,
            &residents,
            &enrolments,
            &followups,
            ruleset_version,
            now_us,
        )?;
        let kept: Vec<crate::IndicatorUpdate> = plan
            .followups
            .iter()
            .zip(&written)
            .filter(|(f, _)| matches!(f.enrolment, ImportEnrolmentRef::New(_)))
            .map(|(f, (id, n))| followup_kept(f, *id, n, params))
            .collect();
        let (facts, counts) = crate::maintained::fold_updates(&kept, &HashMap::new(), params);
        Ok(Some(Ahead {
            facts,
            counts: counts
                .into_iter()
                .map(|(scope, disease, period, measure, change)| {
                    (scope.to_owned(), disease, period, measure, change)
                })
                .collect(),
        }))
    }

    /// The facts with the reserved ids of the plan's enrolments and follow-ups in, and
    /// the counter changes summed with `others` (the stored enrolments' ones), in key
    /// order, none zero.
    fn settled<'a>(
        &'a self,
        enrolments: &[i64],
        followups: &[i64],
        others: &[CountChange<'a>],
    ) -> Result<(Vec<FactsRow>, Vec<CountChange<'a>>)> {
        // A place the plan does not have would be a fault of this module's: refused,
        // never written as some other record's id.
        let reserved = |ids: &[i64], provisional: i64| {
            usize::try_from(provisional - 1)
                .ok()
                .and_then(|k| ids.get(k).copied())
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("no reserved id for place {provisional}"))
                })
        };
        let visit = |latest: Option<(time::Date, i64, bool)>| -> Result<_> {
            latest
                .map(|(on, id, ok)| Ok((on, reserved(followups, id)?, ok)))
                .transpose()
        };
        let facts = self
            .facts
            .iter()
            .map(|(id, period, f)| {
                let mut f = *f;
                f.latest_bp = visit(f.latest_bp)?;
                f.latest_fpg = visit(f.latest_fpg)?;
                f.latest_hba1c = visit(f.latest_hba1c)?;
                Ok((reserved(enrolments, *id)?, *period, f))
            })
            .collect::<Result<Vec<FactsRow>>>()?;
        let mut summed: BTreeMap<(&str, &'static str, StandardPeriod, &'static str), i64> =
            BTreeMap::new();
        let mine = self
            .counts
            .iter()
            .map(|(scope, disease, period, measure, change)| {
                (scope.as_str(), *disease, *period, *measure, *change)
            });
        for (scope, disease, period, measure, change) in mine.chain(others.iter().copied()) {
            *summed.entry((scope, disease, period, measure)).or_default() += change;
        }
        let counts = summed
            .into_iter()
            .filter(|(_, change)| *change != 0)
            .map(|((scope, disease, period, measure), change)| {
                (scope, disease, period, measure, change)
            })
            .collect();
        Ok((facts, counts))
    }
}
