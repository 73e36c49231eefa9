//! Chronic-disease management records: enrolments (with the hypertension risk inputs
//! and the figures maintained from follow-ups), follow-ups with the rules' verdict,
//! their drugs, and the tasks urgent referrals create.

use gongti_core::audit::AuditEntry;
use gongti_core::chronic::followup::{AdverseReaction, Classification, Evaluation, Method};
use gongti_core::chronic::record::{ValidEnrolment, ValidFollowup};
use gongti_core::chronic::risk::RiskLevel;
use gongti_core::chronic::{Bp, Disease};
use time::Date;

use crate::outbox::{created, stage_audit};
use crate::row::{RowExt, id_list, trusted};
use crate::{Page, Result, Store, StoreError, date_cursor, on_read, on_write, split_date_cursor};

pub(crate) mod rows;
pub(crate) mod visits;
pub(crate) use rows::{
    CLOSE_TASKS, ENROLMENT_INSERT_COLUMNS, ENROLMENT_INSERT_VALUES, ENROLMENTS_PER_INSERT,
    FOLLOWUP_INSERT_COLUMNS, FOLLOWUP_INSERT_VALUES, FOLLOWUPS_PER_INSERT, OPEN_URGENT_TASK,
    close_tasks_values, drug_values, drugs_sql, enrolment_count_rows, enrolment_count_values,
    enrolment_counts_sql, enrolment_rows_values, enrolment_values, followup_drugs,
    followup_rows_values, followup_values, insert_enrolments_sql, insert_followups_sql,
    summed_enrolment_counts, urgent_task_values,
};
pub(crate) use visits::{EnrolmentMarks, EnrolmentVisits};

/// The guideline's risk inputs kept on a hypertension enrolment (age and sex come from
/// the resident, diabetes from the resident's other enrolment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RiskProfile {
    pub smoking: bool,
    pub dyslipidaemia: bool,
    pub impaired_glucose: bool,
    pub family_history_early_cvd: bool,
    pub target_organ_damage: bool,
    pub ckd_stage: u8,
    pub cvd: bool,
    /// For a diabetes enrolment: diabetes with complications.
    pub diabetes_complications: bool,
}

/// A risk stratification to store: the level and the codes of what decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRisk {
    pub level: RiskLevel,
    pub factors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentRecord {
    pub id: i64,
    pub resident_id: i64,
    pub disease: Disease,
    pub icd10: String,
    pub diagnosed_on: Date,
    pub diagnosing_institution_id: Option<i64>,
    pub diagnosed_offline: bool,
    pub institution_id: i64,
    pub active: bool,
    pub enrolled_on: Date,
    pub ended_on: Option<Date>,
    /// Why it ended (an `EndReason` code) and the clinician's note.
    pub end_reason: Option<String>,
    pub end_note: Option<String>,
    pub profile: RiskProfile,
    pub highest_bp: Option<Bp>,
    pub bmi_centi: Option<u16>,
    pub waist_cm: Option<u16>,
    pub risk: Option<StoredRisk>,
    pub last_followup_on: Option<Date>,
    pub last_face_to_face_on: Option<Date>,
    pub last_classification: Option<Classification>,
    pub next_due_on: Option<Date>,
    pub version: crate::Version,
}

#[derive(Debug, Clone)]
pub struct NewEnrolment {
    pub resident_id: i64,
    pub enrolment: ValidEnrolment,
    pub institution_id: i64,
    pub enrolled_on: Date,
    pub staff_id: i64,
    pub profile: RiskProfile,
    pub risk: Option<StoredRisk>,
    /// The counter scopes to count the enrolment in (`scopes_of`).
    pub scopes: Option<[String; 3]>,
}

/// The end of an enrolment to store (see [`Store::end_enrolment`]).
#[derive(Debug, Clone)]
pub struct EndEnrolment<'a> {
    pub enrolment_id: i64,
    pub ended_on: Date,
    /// An [`gongti_core::chronic::record::EndReason`] code.
    pub reason: &'a str,
    pub note: Option<&'a str>,
    pub now_us: i64,
    /// The rule parameters and counter scopes, to keep the indicator figures.
    pub maintain: Option<(&'a gongti_core::chronic::Params, &'a [String; 3])>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowupRecord {
    pub id: i64,
    pub enrolment_id: i64,
    pub resident_id: i64,
    pub disease: Disease,
    pub institution_id: i64,
    pub staff_id: i64,
    pub method: Method,
    pub visit_on: Date,
    pub age_years: u8,
    pub bp: Option<Bp>,
    pub fpg_centi_mmol: Option<i32>,
    pub hba1c_centi_percent: Option<i32>,
    pub heart_rate_bpm: Option<u16>,
    pub bmi_centi: Option<u16>,
    pub symptoms: Vec<String>,
    pub adherence: Option<String>,
    pub drugs: Vec<(String, String)>,
    pub note: Option<String>,
    pub classification: Option<Classification>,
    pub urgent_referral: bool,
    pub refer: bool,
    pub reasons: Vec<String>,
    pub next_due_on: Date,
    pub counts_face_to_face: bool,
    pub ruleset_version: String,
    pub created_at_us: i64,
}

/// A follow-up to write with what it changes around it.
#[derive(Debug, Clone)]
pub struct NewFollowup<'a> {
    pub enrolment_id: i64,
    pub resident_id: i64,
    pub disease: Disease,
    pub institution_id: i64,
    pub staff_id: i64,
    pub followup: &'a ValidFollowup,
    pub evaluation: &'a Evaluation,
    pub next_due_on: Date,
    pub ruleset_version: &'static str,
    /// An urgent referral's task: follow the patient up by this day.
    pub urgent_task_due_on: Option<Date>,
    /// The highest BP on record after this follow-up.
    pub highest_bp: Option<Bp>,
    /// The risk recomputed with this follow-up's values (hypertension).
    pub risk: Option<StoredRisk>,
    /// Keep the indicator counters up to date in the same transaction.
    pub maintain: Option<Maintain<'a>>,
    pub now_us: i64,
}

/// What the store needs to keep the indicator counters of an enrolment.
#[derive(Debug, Clone)]
pub struct Maintain<'a> {
    pub params: &'a gongti_core::chronic::Params,
    pub enrolled_on: Date,
    pub scopes: [String; 3],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub enrolment_id: i64,
    pub disease: Disease,
    pub institution_id: i64,
    pub kind: String,
    pub due_on: Date,
    pub source_followup_id: Option<i64>,
    pub open: bool,
    pub done_followup_id: Option<i64>,
    pub version: crate::Version,
}

fn disease_of(row: &impl RowExt) -> Result<Disease> {
    let code = row.text("disease")?;
    Disease::parse(&code).ok_or_else(|| StoreError::Corrupt(format!("disease {code:?}")))
}

fn small(row: &impl RowExt, column: &str) -> Result<Option<u16>> {
    row.opt_i64(column)?
        .map(|v| u16::try_from(v).map_err(|_| StoreError::Corrupt(column.to_owned())))
        .transpose()
}

fn classification(row: &impl RowExt, column: &str) -> Result<Option<Classification>> {
    row.opt_i64(column)?
        .map(|n| {
            Classification::from_number(n).ok_or_else(|| StoreError::Corrupt(column.to_owned()))
        })
        .transpose()
}

fn bp(row: &impl RowExt, sbp: &str, dbp: &str) -> Result<Option<Bp>> {
    Ok(small(row, sbp)?
        .zip(small(row, dbp)?)
        .map(|(s, d)| Bp::new(s, d)))
}

fn codes(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Touches an enrolment only while it is active: inside a write, it both checks the
/// status and (on PostgreSQL) locks the row against a concurrent ending or follow-up.
pub(crate) const LOCK_ACTIVE_ENROLMENT: &str =
    "UPDATE chronic_enrolments SET changed_at_us = $2 WHERE id = $1 AND status = 'active'";

const ENROLMENT_COLUMNS: &str = "id, resident_id, disease, icd10, diagnosed_on, diagnosing_institution_id, \
    diagnosed_offline, institution_id, status, enrolled_on, ended_on, end_reason, end_note, smoking, dyslipidaemia, impaired_glucose, \
    family_history_early_cvd, target_organ_damage, ckd_stage, cvd, diabetes_complications, highest_sbp_mmhg, \
    highest_dbp_mmhg, bmi_centi, waist_cm, risk_level, risk_factors, last_followup_on, last_face_to_face_on, last_classification, next_due_on, \
    version, COALESCE(version_at_us, created_at_us) AS version_at_us";

fn enrolment(row: &impl RowExt) -> Result<EnrolmentRecord> {
    let risk = match row.opt_text("risk_level")? {
        Some(code) => Some(StoredRisk {
            level: RiskLevel::parse(&code)
                .ok_or_else(|| StoreError::Corrupt(format!("risk level {code:?}")))?,
            factors: codes(row.opt_text("risk_factors")?),
        }),
        None => None,
    };
    Ok(EnrolmentRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        disease: disease_of(row)?,
        icd10: row.text("icd10")?,
        diagnosed_on: row.date("diagnosed_on")?,
        diagnosing_institution_id: row.opt_i64("diagnosing_institution_id")?,
        diagnosed_offline: row.bool("diagnosed_offline")?,
        institution_id: row.i64("institution_id")?,
        active: row.text("status")? == "active",
        enrolled_on: row.date("enrolled_on")?,
        ended_on: row.opt_date("ended_on")?,
        end_reason: row.opt_text("end_reason")?,
        end_note: row.opt_text("end_note")?,
        profile: RiskProfile {
            smoking: row.bool("smoking")?,
            dyslipidaemia: row.bool("dyslipidaemia")?,
            impaired_glucose: row.bool("impaired_glucose")?,
            family_history_early_cvd: row.bool("family_history_early_cvd")?,
            target_organ_damage: row.bool("target_organ_damage")?,
            ckd_stage: u8::try_from(row.i64("ckd_stage")?)
                .map_err(|_| StoreError::Corrupt("ckd_stage".into()))?,
            cvd: row.bool("cvd")?,
            diabetes_complications: row.bool("diabetes_complications")?,
        },
        highest_bp: bp(row, "highest_sbp_mmhg", "highest_dbp_mmhg")?,
        bmi_centi: small(row, "bmi_centi")?,
        waist_cm: small(row, "waist_cm")?,
        risk,
        last_followup_on: row.opt_date("last_followup_on")?,
        last_face_to_face_on: row.opt_date("last_face_to_face_on")?,
        last_classification: classification(row, "last_classification")?,
        next_due_on: row.opt_date("next_due_on")?,
        version: crate::Version::of(row)?,
    })
}

const FOLLOWUP_COLUMNS: &str = "f.id, f.enrolment_id, f.resident_id, f.disease, f.institution_id, f.staff_id, \
    f.method, f.visit_on, f.age_years, f.sbp_mmhg, f.dbp_mmhg, f.fpg_centi_mmol, f.hba1c_centi_percent, \
    f.heart_rate_bpm, f.bmi_centi, f.symptoms, f.adherence, f.note, f.classification, f.urgent_referral, f.refer, \
    f.reasons, f.next_due_on, f.counts_face_to_face, f.ruleset_version, f.created_at_us";

fn followup(row: &impl RowExt) -> Result<FollowupRecord> {
    let method = row.text("method")?;
    let centi = |column: &str| -> Result<Option<i32>> {
        row.opt_i64(column)?
            .map(|v| i32::try_from(v).map_err(|_| StoreError::Corrupt(column.to_owned())))
            .transpose()
    };
    Ok(FollowupRecord {
        id: row.i64("id")?,
        enrolment_id: row.i64("enrolment_id")?,
        resident_id: row.i64("resident_id")?,
        disease: disease_of(row)?,
        institution_id: row.i64("institution_id")?,
        staff_id: row.i64("staff_id")?,
        method: Method::parse(&method)
            .ok_or_else(|| StoreError::Corrupt(format!("method {method:?}")))?,
        visit_on: row.date("visit_on")?,
        age_years: u8::try_from(row.i64("age_years")?)
            .map_err(|_| StoreError::Corrupt("age_years".into()))?,
        bp: bp(row, "sbp_mmhg", "dbp_mmhg")?,
        fpg_centi_mmol: centi("fpg_centi_mmol")?,
        hba1c_centi_percent: centi("hba1c_centi_percent")?,
        heart_rate_bpm: small(row, "heart_rate_bpm")?,
        bmi_centi: small(row, "bmi_centi")?,
        symptoms: codes(Some(row.text("symptoms")?)),
        adherence: row.opt_text("adherence")?,
        drugs: Vec::new(),
        note: row.opt_text("note")?,
        classification: classification(row, "classification")?,
        urgent_referral: row.bool("urgent_referral")?,
        refer: row.bool("refer")?,
        reasons: codes(Some(row.text("reasons")?)),
        next_due_on: row.date("next_due_on")?,
        counts_face_to_face: row.bool("counts_face_to_face")?,
        ruleset_version: row.text("ruleset_version")?,
        created_at_us: row.i64("created_at_us")?,
    })
}

const TASK_SELECT: &str = "SELECT t.id, t.resident_id, r.name AS resident_name, t.enrolment_id, e.disease, \
    t.institution_id, t.kind, t.due_on, t.source_followup_id, t.status, t.done_followup_id, \
    t.version, COALESCE(t.version_at_us, t.created_at_us) AS version_at_us \
    FROM chronic_tasks t JOIN residents r ON r.id = t.resident_id JOIN chronic_enrolments e ON e.id = t.enrolment_id";

fn task(row: &impl RowExt) -> Result<TaskRecord> {
    Ok(TaskRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        resident_name: row.text("resident_name")?,
        enrolment_id: row.i64("enrolment_id")?,
        disease: disease_of(row)?,
        institution_id: row.i64("institution_id")?,
        kind: row.text("kind")?,
        due_on: row.date("due_on")?,
        source_followup_id: row.opt_i64("source_followup_id")?,
        open: row.text("status")? == "open",
        done_followup_id: row.opt_i64("done_followup_id")?,
        version: crate::Version::of(row)?,
    })
}

pub(crate) fn adverse_code(a: AdverseReaction) -> &'static str {
    match a {
        AdverseReaction::None => "none",
        AdverseReaction::Present => "present",
        AdverseReaction::Uncontrolled => "uncontrolled",
    }
}

/// The kept-figure updates of a new enrolment from its resident's earlier records.
pub(crate) fn enrolment_history(
    id: i64,
    n: &NewEnrolment,
    scopes: &[String; 3],
    events: &[crate::IndicatorEvent],
) -> Vec<crate::IndicatorUpdate> {
    events
        .iter()
        .map(|event| crate::IndicatorUpdate {
            enrolment_id: id,
            disease: n.enrolment.disease,
            enrolled_on: n.enrolled_on,
            ended_on: None,
            scopes: scopes.clone(),
            event: event.clone(),
        })
        .collect()
}

/// The kept-figure update a stored follow-up (`id`) makes.
pub(crate) fn followup_update(
    n: &NewFollowup<'_>,
    id: i64,
    m: &Maintain<'_>,
) -> crate::IndicatorUpdate {
    let (f, d) = (&n.followup.findings, &n.followup.details);
    crate::IndicatorUpdate {
        enrolment_id: n.enrolment_id,
        disease: n.disease,
        enrolled_on: m.enrolled_on,
        // Follow-ups are written to active enrolments only.
        ended_on: None,
        scopes: m.scopes.clone(),
        event: crate::IndicatorEvent::Visit(gongti_core::chronic::indicators::VisitFact {
            visit_on: n.followup.visit_on,
            id,
            face_to_face: n.evaluation.counts_as_face_to_face,
            age_years: f.age_years,
            bp: f.bp,
            fpg: f.fpg,
            hba1c: d.hba1c,
        }),
    }
}

/// Counts new enrolments in their scopes' kept figures: `$rows` of (scope, disease
/// code, enrolment day), each one enrolment, added in one statement per chunk.
macro_rules! count_enrolments_in {
    ($tx:ident, $rows:expr) => {{
        let summed = $crate::chronic::summed_enrolment_counts($rows);
        for chunk in $crate::row::cached_chunks(&summed, $crate::maintained::ROWS_PER_INSERT) {
            let sql =
                $crate::chronic::enrolment_counts_sql($crate::row::numbered(&$tx), chunk.len());
            let values = $crate::chronic::enrolment_count_values(chunk);
            $crate::row::bind_vals!(sqlx::query($crate::row::trusted(&sql)), &values)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use count_enrolments_in;

/// Inserts an enrolment (`&NewEnrolment`) in the transaction `$tx` and counts it in
/// its scopes' kept figures; evaluates to its id. A second active enrolment in the same
/// programme is refused by the database.
macro_rules! insert_enrolment_in {
    ($tx:ident, $n:expr, $now_us:expr) => {{
        let n: &$crate::chronic::NewEnrolment = $n;
        let sql = $crate::row::insert_rows_sql(
            "chronic_enrolments",
            $crate::chronic::ENROLMENT_INSERT_COLUMNS,
            $crate::chronic::ENROLMENT_INSERT_VALUES,
            $crate::row::numbered(&$tx),
            1,
            false,
        ) + " RETURNING id";
        let values = $crate::chronic::enrolment_values(n, $now_us);
        let q = sqlx::query_as::<_, (i64,)>($crate::row::trusted(&sql));
        let (id,) = $crate::row::bind_vals!(q, &values)
            .fetch_one(&mut *$tx)
            .await?;
        $crate::chronic::count_enrolments_in!($tx, $crate::chronic::enrolment_count_rows(n));
        id
    }};
}

/// Inserts enrolments with the ids given (`$rows`: `&[(i64, &NewEnrolment,
/// &EnrolmentVisits)]`, ids from [`crate::row::reserve_ids!`]) with what their
/// follow-ups written in the same transaction leave on them, in the transaction `$tx`,
/// a chunk a statement, and counts them in their scopes' kept figures.
macro_rules! insert_enrolments_in {
    ($tx:ident, $rows:expr, $now_us:expr) => {{
        let rows: &[(
            i64,
            &$crate::chronic::NewEnrolment,
            &$crate::chronic::EnrolmentVisits,
        )] = $rows;
        for chunk in $crate::row::cached_chunks(rows, $crate::chronic::ENROLMENTS_PER_INSERT) {
            let sql =
                $crate::chronic::insert_enrolments_sql($crate::row::numbered(&$tx), chunk.len());
            let values = $crate::chronic::enrolment_rows_values(chunk, $now_us);
            $crate::row::bind_vals!(sqlx::query($crate::row::trusted(&sql)), &values)
                .execute(&mut *$tx)
                .await?;
        }
        $crate::chronic::count_enrolments_in!(
            $tx,
            rows.iter()
                .flat_map(|(_, n, _)| $crate::chronic::enrolment_count_rows(n))
        );
    }};
}
pub(crate) use insert_enrolments_in;

/// Writes the summary of their follow-ups (last visit, last face-to-face visit, last
/// classification, next due day) on the enrolments `$ids` (`&[i64]`, read back from
/// the database), in the transaction `$tx`, in one statement.
macro_rules! summarise_enrolments_in {
    ($tx:ident, $ids:expr, $now_us:expr) => {{
        let ids: &[i64] = $ids;
        if !ids.is_empty() {
            let sql = $crate::chronic::visits::summarise_sql(ids);
            sqlx::query($crate::row::trusted(&sql))
                .bind($now_us)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use summarise_enrolments_in;

/// Leaves each enrolment's marks (`$rows`: `&[(i64, &EnrolmentMarks)]`, one row an
/// enrolment) on its row in the transaction `$tx`, each kept where the marks have none,
/// in one statement per chunk.
macro_rules! mark_enrolments_in {
    ($tx:ident, $rows:expr) => {{
        let rows: &[(i64, &$crate::chronic::EnrolmentMarks)] = $rows;
        for chunk in $crate::row::cached_chunks(rows, $crate::maintained::ROWS_PER_INSERT) {
            let sql = $crate::chronic::visits::mark_sql($crate::row::numbered(&$tx), chunk.len());
            let values: Vec<$crate::row::Val<'_>> = chunk
                .iter()
                .flat_map(|(id, marks)| marks.values(*id))
                .collect();
            $crate::row::bind_vals!(sqlx::query($crate::row::trusted(&sql)), &values)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use mark_enrolments_in;

/// Inserts follow-ups with the ids given (`$rows`: `&[(i64, &NewFollowup)]`, ids from
/// [`crate::row::reserve_ids!`]) and their drugs in the transaction `$tx`, a chunk a
/// statement. Their tasks, enrolments' summaries and kept figures are the caller's.
macro_rules! insert_followups_in {
    ($tx:ident, $rows:expr) => {{
        let rows: &[(i64, &$crate::chronic::NewFollowup<'_>)] = $rows;
        for chunk in $crate::row::cached_chunks(rows, $crate::chronic::FOLLOWUPS_PER_INSERT) {
            let sql =
                $crate::chronic::insert_followups_sql($crate::row::numbered(&$tx), chunk.len());
            let values = $crate::chronic::followup_rows_values(chunk);
            $crate::row::bind_vals!(sqlx::query($crate::row::trusted(&sql)), &values)
                .execute(&mut *$tx)
                .await?;
        }
        $crate::chronic::insert_drugs_in!($tx, &$crate::chronic::followup_drugs(rows));
    }};
}
pub(crate) use insert_followups_in;

/// Inserts follow-ups' drugs (`$rows`: `&[(follow-up id, position, &Drug)]`) in the
/// transaction `$tx`, a chunk a statement.
macro_rules! insert_drugs_in {
    ($tx:ident, $rows:expr) => {{
        let rows: &[(i64, i64, &gongti_core::chronic::record::Drug)] = $rows;
        for chunk in $crate::row::cached_chunks(rows, $crate::maintained::ROWS_PER_INSERT) {
            let sql = $crate::chronic::drugs_sql($crate::row::numbered(&$tx), chunk.len());
            let values = $crate::chronic::drug_values(chunk);
            $crate::row::bind_vals!(sqlx::query($crate::row::trusted(&sql)), &values)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use insert_drugs_in;

/// A follow-up's (`&NewFollowup`, stored as `$id`) tasks in the transaction `$tx`: with
/// `$close`, the open tasks an earlier visit or a referral back down left are done by
/// it; an urgent referral opens one.
macro_rules! followup_tasks_in {
    ($tx:ident, $n:expr, $id:expr, $close:expr) => {{
        let n: &$crate::chronic::NewFollowup<'_> = $n;
        let id: i64 = $id;
        // Any later contact follows up an earlier urgent referral, or a patient
        // referred back down on or before the visit day.
        if $close {
            let values = $crate::chronic::close_tasks_values(id, n);
            $crate::row::bind_vals!(sqlx::query($crate::chronic::CLOSE_TASKS), &values)
                .execute(&mut *$tx)
                .await?;
        }
        if let Some(values) = $crate::chronic::urgent_task_values(id, n) {
            $crate::row::bind_vals!(sqlx::query($crate::chronic::OPEN_URGENT_TASK), &values)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use followup_tasks_in;

/// Writes a follow-up (`&NewFollowup`) in the transaction `$tx` — the record and its
/// drugs, the task an urgent referral creates, the open tasks an earlier visit left
/// (done now), the enrolment's summary and marks, and its kept figures when asked;
/// evaluates to its id. [`StoreError::Changed`] when the enrolment is no longer active.
macro_rules! insert_followup_in {
    ($tx:ident, $n:expr) => {{
        let n: &$crate::chronic::NewFollowup<'_> = $n;
        // The enrolment must still be active: an ending may have committed since it
        // was read (on PostgreSQL this also locks the row against one).
        let still_active = sqlx::query($crate::chronic::LOCK_ACTIVE_ENROLMENT)
            .bind(n.enrolment_id)
            .bind(n.now_us)
            .execute(&mut *$tx)
            .await?;
        if still_active.rows_affected() == 0 {
            return Err($crate::StoreError::Changed("enrolment"));
        }
        let sql = $crate::row::insert_rows_sql(
            "followups",
            $crate::chronic::FOLLOWUP_INSERT_COLUMNS,
            $crate::chronic::FOLLOWUP_INSERT_VALUES,
            $crate::row::numbered(&$tx),
            1,
            false,
        ) + " RETURNING id";
        let values = $crate::chronic::followup_values(n);
        let q = sqlx::query_as::<_, (i64,)>($crate::row::trusted(&sql));
        let (id,) = $crate::row::bind_vals!(q, &values)
            .fetch_one(&mut *$tx)
            .await?;
        $crate::chronic::insert_drugs_in!($tx, &$crate::chronic::followup_drugs(&[(id, n)]));
        $crate::chronic::followup_tasks_in!($tx, n, id, true);
        $crate::chronic::summarise_enrolments_in!($tx, &[n.enrolment_id], n.now_us);
        $crate::chronic::mark_enrolments_in!(
            $tx,
            &[(n.enrolment_id, &$crate::chronic::EnrolmentMarks::of(n))]
        );
        if let Some(m) = &n.maintain {
            let update = $crate::chronic::followup_update(n, id, m);
            $crate::maintained::apply_indicator_updates!($tx, [update], m.params);
        }
        id
    }};
}

impl Store {
    /// Enrols a resident in a programme. A second active enrolment in the same
    /// programme is refused by the database ([`StoreError::Duplicate`]).
    ///
    /// `history` is what the resident's earlier records (home readings, laboratory
    /// results) make of the new enrolment's kept figures, with the rule parameters:
    /// the recompute counts every record of the resident for each of their enrolments.
    pub async fn insert_enrolment(
        &self,
        n: &NewEnrolment,
        now_us: i64,
        audit: &[AuditEntry],
        history: Option<(&gongti_core::chronic::Params, &[crate::IndicatorEvent])>,
    ) -> Result<EnrolmentRecord> {
        let id: i64 = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let before = crate::coverage_counts::coverage_facts_in!(tx, &[n.resident_id], true);
            let id = insert_enrolment_in!(tx, n, now_us);
            if let (Some((params, events)), Some(scopes)) = (history, &n.scopes) {
                let updates = enrolment_history(id, n, scopes, events);
                crate::maintained::apply_indicator_updates!(tx, updates, params);
            }
            crate::coverage_counts::restate_coverage_in!(tx, &[n.resident_id], before);
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            id
        });
        self.enrolment_for_write(id).await
    }

    /// Ends an active enrolment (结案) in one transaction: the enrolment, its open
    /// tasks, and the kept indicator figures — the ending counted for the
    /// denominators, and the periods it already has facts in re-counted under the
    /// ending (an enrolment ended before a period's last day is no longer asked about
    /// missed visits or loss to follow-up there). [`StoreError::Changed`] when it is
    /// no longer active, or a follow-up after `ended_on` was recorded meanwhile.
    pub async fn end_enrolment(
        &self,
        n: &EndEnrolment<'_>,
        audit: &[AuditEntry],
    ) -> Result<EnrolmentRecord> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            // The resident first (as every write of their 签约率 facts locks them),
            // then the enrolment (on PostgreSQL); then the follow-ups read afresh.
            let patient: Option<(i64,)> = sqlx::query_as("SELECT resident_id FROM chronic_enrolments WHERE id = $1")
                .bind(n.enrolment_id)
                .fetch_optional(&mut *tx).await?;
            let Some((patient,)) = patient else {
                return Err(StoreError::Changed("enrolment"));
            };
            let before = crate::coverage_counts::coverage_facts_in!(tx, &[patient], true);
            let locked = sqlx::query(LOCK_ACTIVE_ENROLMENT)
                .bind(n.enrolment_id).bind(n.now_us)
                .execute(&mut *tx).await?;
            if locked.rows_affected() == 0 {
                return Err(StoreError::Changed("enrolment"));
            }
            let (last,): (Option<Date>,) = sqlx::query_as(
                "SELECT MAX(visit_on) FROM followups WHERE enrolment_id = $1",
            )
            .bind(n.enrolment_id)
            .fetch_one(&mut *tx).await?;
            if last.is_some_and(|last| last > n.ended_on) {
                return Err(StoreError::Changed("enrolment"));
            }
            let (disease, enrolled_on, resident_id): (String, Date, i64) = sqlx::query_as(
                "UPDATE chronic_enrolments SET status = 'ended', ended_on = $2, end_reason = $3, end_note = $4,
                     next_due_on = NULL
                 WHERE id = $1 RETURNING disease, enrolled_on, resident_id",
            )
            .bind(n.enrolment_id).bind(n.ended_on).bind(n.reason).bind(n.note)
            .fetch_one(&mut *tx).await?;
            if n.reason == gongti_core::chronic::record::EndReason::Died.code() {
                // The death is the resident's: the earliest day recorded stands.
                sqlx::query(
                    "UPDATE residents SET deceased_on = $2, updated_at_us = $3
                     WHERE id = $1 AND (deceased_on IS NULL OR deceased_on > $2)",
                )
                .bind(resident_id).bind(n.ended_on).bind(n.now_us)
                .execute(&mut *tx).await?;
            }
            sqlx::query(
                "UPDATE chronic_tasks SET status = 'closed', done_at_us = $2 WHERE enrolment_id = $1 AND status = 'open'",
            )
            .bind(n.enrolment_id).bind(n.now_us)
            .execute(&mut *tx).await?;
            if let Some((params, scopes)) = n.maintain {
                for scope in scopes.iter() {
                    for effect in gongti_core::chronic::maintained::EndingEffect::ALL {
                        sqlx::query(crate::maintained::ADD_ENDING)
                            .bind(scope).bind(&disease).bind(effect.code())
                            .bind(effect.from_day(enrolled_on, n.ended_on, params))
                            .execute(&mut *tx).await?;
                    }
                }
                let rows = sqlx::query("SELECT * FROM indicator_year_facts WHERE enrolment_id = $1")
                    .bind(n.enrolment_id)
                    .fetch_all(&mut *tx).await?;
                for row in &rows {
                    for (period, facts) in crate::maintained::facts_of_row(row)?.1 {
                        let code = period.code();
                        let delta = facts
                            .contribution(period, enrolled_on, Some(n.ended_on), params)
                            .minus(&facts.contribution(period, enrolled_on, None, params));
                        crate::maintained::add_count_deltas!(tx, scopes, &disease, &code, delta);
                    }
                }
            }
            crate::coverage_counts::restate_coverage_in!(tx, &[patient], before);
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        self.enrolment_for_write(n.enrolment_id).await
    }

    /// A superseded version of an enrolment (`None`: not a version it had before).
    pub async fn enrolment_version(
        &self,
        id: i64,
        version: i64,
    ) -> Result<Option<EnrolmentRecord>> {
        let sql = format!("SELECT {ENROLMENT_COLUMNS} FROM chronic_enrolments WHERE id = $1");
        crate::versions::superseded!(
            self,
            crate::Kept::Enrolments,
            "",
            &sql,
            id,
            version,
            enrolment
        )
    }

    /// A superseded version of a follow-up task (`None`: not a version it had before).
    pub async fn task_version(&self, id: i64, version: i64) -> Result<Option<TaskRecord>> {
        let sql = format!("{TASK_SELECT} WHERE t.id = $1");
        crate::versions::superseded!(self, crate::Kept::Tasks, "t", &sql, id, version, task)
    }

    async fn enrolment_for_write(&self, id: i64) -> Result<EnrolmentRecord> {
        let sql = format!("SELECT {ENROLMENT_COLUMNS} FROM chronic_enrolments WHERE id = $1");
        on_write!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(enrolment).transpose()?.ok_or(StoreError::NotFound)
        })
    }

    /// A resident's enrolments, active first, newest first.
    pub async fn enrolments_of_resident(&self, resident_id: i64) -> Result<Vec<EnrolmentRecord>> {
        let sql = format!(
            "SELECT {ENROLMENT_COLUMNS} FROM chronic_enrolments WHERE resident_id = $1
             ORDER BY CASE WHEN status = 'active' THEN 0 ELSE 1 END, id DESC LIMIT 20"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(resident_id).fetch_all(pool).await?
                .iter().map(enrolment).collect()
        })
    }

    /// The enrolments of several residents (a bulk export's page) whose version is
    /// newer than `since_us` (all when `None`), by resident then id.
    pub async fn enrolments_of_residents(
        &self,
        residents: &[i64],
        since_us: Option<i64>,
    ) -> Result<Vec<EnrolmentRecord>> {
        if residents.is_empty() {
            return Ok(Vec::new());
        }
        // The ids are integers read back from the database, not client input.
        let sql = format!(
            "SELECT {ENROLMENT_COLUMNS} FROM chronic_enrolments WHERE resident_id IN ({})
               AND ($1 IS NULL OR COALESCE(version_at_us, created_at_us) > $1) ORDER BY resident_id, id",
            id_list(residents.iter().copied())
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(since_us).fetch_all(pool).await?.iter().map(enrolment).collect()
        })
    }

    /// The follow-ups of several residents with their drugs (a bulk export's page)
    /// recorded after `since_us` (all when `None`), by resident, then visit, then id.
    pub async fn followups_of_residents(
        &self,
        residents: &[i64],
        since_us: Option<i64>,
    ) -> Result<Vec<FollowupRecord>> {
        if residents.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {FOLLOWUP_COLUMNS} FROM followups f WHERE f.resident_id IN ({})
               AND ($1 IS NULL OR f.created_at_us > $1)
             ORDER BY f.resident_id, f.visit_on, f.id",
            id_list(residents.iter().copied())
        );
        let mut items: Vec<FollowupRecord> = on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(since_us).fetch_all(pool).await?.iter().map(followup).collect::<Result<_>>()
        })?;
        self.attach_drugs(&mut items).await?;
        Ok(items)
    }

    /// Fills each follow-up's drugs, read in one statement.
    async fn attach_drugs(&self, items: &mut [FollowupRecord]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT followup_id, name, dose FROM followup_drugs WHERE followup_id IN ({}) ORDER BY followup_id, position",
            id_list(items.iter().map(|f| f.id))
        );
        let drugs: Vec<(i64, String, String)> = on_read!(self, pool => {
            sqlx::query_as(trusted(&sql)).fetch_all(pool).await?
        });
        let at: std::collections::HashMap<i64, usize> =
            items.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
        for (fid, name, dose) in drugs {
            if let Some(&i) = at.get(&fid) {
                items[i].drugs.push((name, dose));
            }
        }
        Ok(())
    }

    /// The follow-up tasks of several residents (a bulk export's page) whose version
    /// is newer than `since_us` (all when `None`), by resident then id.
    pub async fn tasks_of_residents(
        &self,
        residents: &[i64],
        since_us: Option<i64>,
    ) -> Result<Vec<TaskRecord>> {
        if residents.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{TASK_SELECT} WHERE t.resident_id IN ({})
               AND ($1 IS NULL OR COALESCE(t.version_at_us, t.created_at_us) > $1) ORDER BY t.resident_id, t.id",
            id_list(residents.iter().copied())
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(since_us).fetch_all(pool).await?.iter().map(task).collect()
        })
    }

    /// The resident's active enrolment in a programme, read on the write path so a
    /// follow-up is decided on the latest figures.
    pub async fn active_enrolment(
        &self,
        resident_id: i64,
        disease: Disease,
    ) -> Result<EnrolmentRecord> {
        let sql = format!(
            "SELECT {ENROLMENT_COLUMNS} FROM chronic_enrolments WHERE resident_id = $1 AND disease = $2 AND status = 'active'"
        );
        on_write!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(resident_id).bind(disease.code())
                .fetch_optional(pool).await?;
            row.as_ref().map(enrolment).transpose()?.ok_or(StoreError::NotFound)
        })
    }

    /// Replaces an enrolment's risk inputs and stratification.
    pub async fn set_risk(
        &self,
        enrolment_id: i64,
        profile: &RiskProfile,
        risk: Option<&StoredRisk>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<EnrolmentRecord> {
        let p = profile;
        let done = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE chronic_enrolments SET smoking = $1, dyslipidaemia = $2, impaired_glucose = $3,
                     family_history_early_cvd = $4, target_organ_damage = $5, ckd_stage = $6, cvd = $7,
                     diabetes_complications = $8, risk_level = $9, risk_factors = $10, changed_at_us = $11
                 WHERE id = $12 AND status = 'active'",
            )
            .bind(p.smoking).bind(p.dyslipidaemia).bind(p.impaired_glucose).bind(p.family_history_early_cvd)
            .bind(p.target_organ_damage).bind(i64::from(p.ckd_stage)).bind(p.cvd).bind(p.diabetes_complications)
            .bind(risk.map(|r| r.level.code())).bind(risk.map(|r| r.factors.join(",")))
            .bind(now_us).bind(enrolment_id)
            .execute(&mut *tx).await?.rows_affected();
            if done > 0 {
                stage_audit!(tx, audit);
                tx.commit().await?;
            }
            done
        });
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        self.enrolment_for_write(enrolment_id).await
    }

    /// The classification of the latest classified follow-up on or before `visit_on`
    /// (the "previous" one for a follow-up being entered for that day).
    pub async fn previous_classification(
        &self,
        enrolment_id: i64,
        visit_on: Date,
    ) -> Result<Option<Classification>> {
        on_write!(self, pool => {
            let row = sqlx::query(
                "SELECT classification FROM followups WHERE enrolment_id = $1 AND visit_on <= $2
                   AND classification IS NOT NULL ORDER BY visit_on DESC, id DESC LIMIT 1",
            )
            .bind(enrolment_id).bind(visit_on)
            .fetch_optional(pool).await?;
            match row {
                Some(r) => classification(&r, "classification"),
                None => Ok(None),
            }
        })
    }

    /// Writes a follow-up in one transaction: the record and its drugs, the task an
    /// urgent referral creates, the open tasks an earlier visit left (done now), the
    /// enrolment's maintained figures and, when given, its new risk.
    pub async fn insert_followup(&self, n: &NewFollowup<'_>, audit: &[AuditEntry]) -> Result<i64> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let id = insert_followup_in!(tx, n);
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            Ok(id)
        })
    }

    /// A resident's follow-ups, newest visit first, optionally of one programme.
    pub async fn followups_of_resident(
        &self,
        resident_id: i64,
        disease: Option<Disease>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<FollowupRecord>> {
        let (after_on, after_id) = match after {
            Some(_) => split_date_cursor(after)?,
            None => (time::macros::date!(9999 - 12 - 31), i64::MAX),
        };
        let sql = format!(
            "SELECT {FOLLOWUP_COLUMNS} FROM followups f WHERE f.resident_id = $1 AND ($2 IS NULL OR f.disease = $2)
               AND (f.visit_on < $3 OR (f.visit_on = $3 AND f.id < $4))
             ORDER BY f.visit_on DESC, f.id DESC LIMIT $5"
        );
        let mut items: Vec<FollowupRecord> = on_read!(self, pool => {
            sqlx::query(trusted(&sql))
                .bind(resident_id).bind(disease.map(Disease::code)).bind(after_on).bind(after_id)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool).await?.iter().map(followup).collect::<Result<_>>()
        })?;
        self.attach_drugs(&mut items).await?;
        Ok(Page::from_overfetch(items, limit, |f| {
            date_cursor(f.visit_on, f.id)
        }))
    }

    /// Open tasks of an institution, soonest due first.
    pub async fn open_tasks(
        &self,
        institution_id: i64,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<TaskRecord>> {
        let (after_on, after_id) = split_date_cursor(after)?;
        let sql = format!(
            "{TASK_SELECT} WHERE t.institution_id = $1 AND t.status = 'open'
               AND (t.due_on > $2 OR (t.due_on = $2 AND t.id > $3))
             ORDER BY t.due_on, t.id LIMIT $4"
        );
        let rows: Vec<TaskRecord> = on_read!(self, pool => {
            sqlx::query(trusted(&sql))
                .bind(institution_id).bind(after_on).bind(after_id).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?.iter().map(task).collect::<Result<_>>()
        })?;
        Ok(Page::from_overfetch(rows, limit, |t| {
            date_cursor(t.due_on, t.id)
        }))
    }

    /// Tasks of one enrolment, newest first.
    pub async fn tasks_of_enrolment(&self, enrolment_id: i64) -> Result<Vec<TaskRecord>> {
        let sql = format!("{TASK_SELECT} WHERE t.enrolment_id = $1 ORDER BY t.id DESC LIMIT 50");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(enrolment_id).fetch_all(pool).await?
                .iter().map(task).collect()
        })
    }
}

/// The follow-up worklists of DOMAIN.md §2, over an institution's active enrolments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowupList {
    /// Next follow-up due between `today` and `until` (inclusive).
    Due { until: Date },
    /// Next follow-up due before `today`.
    Overdue,
    /// No face-to-face follow-up since `since` (enrolled before it).
    MissedVisit { since: Date },
    /// No follow-up since `since` and no home reading since `since_us`.
    Lost { since: Date, since_us: i64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorklistOrder {
    /// Soonest date first.
    Due,
    /// Highest hypertension risk first, then soonest.
    Risk,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorklistItem {
    pub enrolment_id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub disease: Disease,
    /// The resident's hypertension risk level, if stratified.
    pub risk_level: Option<RiskLevel>,
    pub next_due_on: Option<Date>,
    pub last_followup_on: Option<Date>,
    pub last_face_to_face_on: Option<Date>,
    pub last_classification: Option<Classification>,
    /// The keyset cursor of this item in its list.
    pub cursor: i64,
}

/// (rank, date, id) in one i64: 3 bits of rank, 22 bits of Julian day, 38 of id.
fn worklist_cursor(rank: i64, on: Date, id: i64) -> i64 {
    (rank << 60) | ((i64::from(on.to_julian_day()) & 0x3F_FFFF) << 38) | (id & 0x3F_FFFF_FFFF)
}

fn split_worklist_cursor(cursor: i64) -> (i64, Date, i64) {
    let day = ((cursor >> 38) & 0x3F_FFFF) as i32;
    let on = Date::from_julian_day(day).unwrap_or(time::macros::date!(9999 - 12 - 31));
    ((cursor >> 60) & 0x7, on, cursor & 0x3F_FFFF_FFFF)
}

/// Which follow-up worklist of which institution, for the day `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorklistFilter {
    pub institution_id: i64,
    pub list: FollowupList,
    pub disease: Option<Disease>,
    /// Only residents contracted with this team.
    pub team_id: Option<i64>,
    pub order: WorklistOrder,
    pub today: Date,
}

impl Store {
    /// One page of a follow-up worklist of an institution.
    pub async fn followup_worklist(
        &self,
        f: &WorklistFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<WorklistItem>> {
        let WorklistFilter {
            institution_id,
            list,
            disease,
            team_id,
            order,
            today,
        } = *f;
        let risk = "COALESCE(e.risk_level, (SELECT h.risk_level FROM chronic_enrolments h WHERE h.resident_id = e.resident_id \
                    AND h.disease = 'hypertension' AND h.status = 'active'))";
        let rank = match order {
            WorklistOrder::Due => "CAST(0 AS BIGINT)".to_owned(),
            WorklistOrder::Risk => format!(
                "CAST(CASE {risk} WHEN 'very_high' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END AS BIGINT)"
            ),
        };
        // Every list names all the parameters (a no-op `$n = $n` where it needs none),
        // so the statement takes the same arguments whichever list it is.
        let (condition, date_arg, us_arg) = match list {
            FollowupList::Due { until } => {
                ("e.next_due_on >= $4 AND e.next_due_on <= $5", until, 0)
            }
            FollowupList::Overdue => ("e.next_due_on < $4 AND $5 = $5 AND $6 = $6", today, 0),
            FollowupList::MissedVisit { since } => (
                "COALESCE(e.last_face_to_face_on, e.enrolled_on) < $5 AND $4 = $4 AND $6 = $6",
                since,
                0,
            ),
            FollowupList::Lost { since, since_us } => (
                "COALESCE(e.last_followup_on, e.enrolled_on) < $5 AND $4 = $4 AND NOT EXISTS \
                 (SELECT 1 FROM home_readings hr WHERE hr.resident_id = e.resident_id AND hr.taken_at_us >= $6)",
                since,
                since_us,
            ),
        };
        let condition = if matches!(list, FollowupList::Due { .. }) {
            format!("{condition} AND $6 = $6")
        } else {
            condition.to_owned()
        };
        let sql = format!(
            "SELECT * FROM (
               SELECT e.id, e.resident_id, r.name AS resident_name, e.disease, {risk} AS risk_level, e.next_due_on,
                      e.last_followup_on, e.last_face_to_face_on, e.last_classification,
                      COALESCE(e.next_due_on, e.enrolled_on) AS sort_on, {rank} AS rank
               FROM chronic_enrolments e JOIN residents r ON r.id = e.resident_id
               WHERE e.institution_id = $1 AND e.status = 'active' AND ($2 IS NULL OR e.disease = $2)
                 AND ($3 IS NULL OR EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = e.resident_id
                      AND c.team_id = $3 AND c.status IN ('active', 'renewed', 'switched')
                      AND c.start_on <= $4 AND c.end_on >= $4))
                 AND {condition}
             ) w
             WHERE (w.rank > $7 OR (w.rank = $7 AND (w.sort_on > $8 OR (w.sort_on = $8 AND w.id > $9))))
             ORDER BY w.rank, w.sort_on, w.id LIMIT $10"
        );
        let (after_rank, after_on, after_id) = match after {
            Some(c) => split_worklist_cursor(c),
            None => (-1, time::macros::date!(1900 - 01 - 01), 0),
        };
        let rows: Vec<WorklistItem> = on_read!(self, pool => {
            sqlx::query(trusted(&sql))
                .bind(institution_id).bind(disease.map(Disease::code)).bind(team_id).bind(today)
                .bind(date_arg).bind(us_arg).bind(after_rank).bind(after_on).bind(after_id)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool).await?
                .iter()
                .map(|row| {
                    let risk_level = row
                        .opt_text("risk_level")?
                        .map(|c| RiskLevel::parse(&c).ok_or_else(|| StoreError::Corrupt("risk level".into())))
                        .transpose()?;
                    let id = row.i64("id")?;
                    Ok(WorklistItem {
                        enrolment_id: id,
                        resident_id: row.i64("resident_id")?,
                        resident_name: row.text("resident_name")?,
                        disease: disease_of(row)?,
                        risk_level,
                        next_due_on: row.opt_date("next_due_on")?,
                        last_followup_on: row.opt_date("last_followup_on")?,
                        last_face_to_face_on: row.opt_date("last_face_to_face_on")?,
                        last_classification: classification(row, "last_classification")?,
                        cursor: worklist_cursor(row.i64("rank")?, row.date("sort_on")?, id),
                    })
                })
                .collect::<Result<_>>()
        })?;
        Ok(Page::from_overfetch(rows, limit, |w| w.cursor))
    }
}
