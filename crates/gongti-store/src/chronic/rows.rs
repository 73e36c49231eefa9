//! What a row of the chronic-care tables is written with, listed once for both lanes
//! (sqlx's macros in `chronic` and the SQLite hot path, `import::direct`): each
//! statement's columns, its values in their order ([`crate::row::Val`]) and, for the
//! multi-row ones, its text for a number of rows.

use time::Date;

use super::{EnrolmentVisits, NewEnrolment, NewFollowup, adverse_code, visits};
use crate::row::Val;

/// The columns an enrolment is inserted with, in the order [`enrolment_values`] gives
/// them (its id, when given, comes first).
pub(crate) const ENROLMENT_INSERT_COLUMNS: &str = "resident_id, disease, icd10, diagnosed_on, diagnosing_institution_id, \
    diagnosed_offline, institution_id, status, enrolled_on, enrolled_by_staff_id, smoking, dyslipidaemia, \
    impaired_glucose, family_history_early_cvd, target_organ_damage, ckd_stage, cvd, \
    diabetes_complications, risk_level, risk_factors, created_at_us, changed_at_us";
pub(crate) const ENROLMENT_INSERT_VALUES: usize = 22;

/// A new enrolment's values (active from now, `now_us`) in the order of
/// [`ENROLMENT_INSERT_COLUMNS`].
pub(crate) fn enrolment_values(
    n: &NewEnrolment,
    now_us: i64,
) -> [Val<'_>; ENROLMENT_INSERT_VALUES] {
    let (e, p) = (&n.enrolment, &n.profile);
    [
        Val::int(n.resident_id),
        Val::text(e.disease.code()),
        Val::text(e.icd10.as_str()),
        Val::day(e.diagnosed_on),
        Val::opt_int(e.diagnosing_institution_id),
        Val::bool(e.diagnosed_offline),
        Val::int(n.institution_id),
        Val::text("active"),
        Val::day(n.enrolled_on),
        Val::int(n.staff_id),
        Val::bool(p.smoking),
        Val::bool(p.dyslipidaemia),
        Val::bool(p.impaired_glucose),
        Val::bool(p.family_history_early_cvd),
        Val::bool(p.target_organ_damage),
        Val::int(p.ckd_stage),
        Val::bool(p.cvd),
        Val::bool(p.diabetes_complications),
        Val::opt_text(n.risk.as_ref().map(|r| r.level.code())),
        Val::opt_owned(n.risk.as_ref().map(|r| r.factors.join(","))),
        Val::int(now_us),
        Val::int(now_us),
    ]
}

/// Enrolments counted by (scope, disease code, enrolment day), in key order.
pub(crate) type EnrolmentCount<'a> = ((&'a str, &'a str, Date), i64);

/// Sums scope rows of new enrolments (as [`enrolment_count_rows`] gives them).
pub(crate) fn summed_enrolment_counts<'a>(
    rows: impl IntoIterator<Item = (&'a str, &'a str, Date)>,
) -> Vec<EnrolmentCount<'a>> {
    let mut summed: std::collections::BTreeMap<(&str, &str, Date), i64> =
        std::collections::BTreeMap::new();
    for row in rows {
        *summed.entry(row).or_default() += 1;
    }
    summed.into_iter().collect()
}

/// The addition of `rows` enrolment counts (see [`crate::row::Numbering`]).
pub(crate) fn enrolment_counts_sql(numbered: bool, rows: usize) -> String {
    format!(
        "INSERT INTO enrolment_counts (scope, disease, day, enrolled) VALUES {} {}",
        crate::row::value_rows(numbered, rows, 4, ""),
        crate::maintained::ADD_ENROLMENT_TAIL
    )
}

/// The values of enrolment counts as [`enrolment_counts_sql`] takes them.
pub(crate) fn enrolment_count_values<'a>(rows: &[EnrolmentCount<'a>]) -> Vec<Val<'a>> {
    rows.iter()
        .flat_map(|((scope, disease, day), n)| {
            [
                Val::text(scope),
                Val::text(disease),
                Val::day(*day),
                Val::int(*n),
            ]
        })
        .collect()
}

/// The scope rows [`super::count_enrolments_in!`] takes for an enrolment.
pub(crate) fn enrolment_count_rows(n: &NewEnrolment) -> impl Iterator<Item = (&str, &str, Date)> {
    n.scopes
        .iter()
        .flatten()
        .map(move |scope| (scope.as_str(), n.enrolment.disease.code(), n.enrolled_on))
}

/// The `INSERT` of `rows` enrolments with their ids and what their visits leave on
/// them (see [`crate::row::Numbering`]).
pub(crate) fn insert_enrolments_sql(numbered: bool, rows: usize) -> String {
    static COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!("{ENROLMENT_INSERT_COLUMNS}, {}", visits::VISITS_COLUMNS)
    });
    crate::row::insert_rows_sql(
        "chronic_enrolments",
        &COLUMNS,
        ENROLMENT_INSERT_VALUES + visits::VISITS_VALUES,
        numbered,
        rows,
        true,
    )
}

/// The `INSERT` of `rows` follow-ups with their ids (see [`crate::row::Numbering`]).
pub(crate) fn insert_followups_sql(numbered: bool, rows: usize) -> String {
    crate::row::insert_rows_sql(
        "followups",
        FOLLOWUP_INSERT_COLUMNS,
        FOLLOWUP_INSERT_VALUES,
        numbered,
        rows,
        true,
    )
}

/// The values of enrolments inserted with their ids and what their visits leave on
/// them (see [`super::insert_enrolments_in!`]), row after row.
pub(crate) fn enrolment_rows_values<'a>(
    rows: &[(i64, &'a NewEnrolment, &'a EnrolmentVisits)],
    now_us: i64,
) -> Vec<Val<'a>> {
    let mut values =
        Vec::with_capacity(rows.len() * (1 + ENROLMENT_INSERT_VALUES + visits::VISITS_VALUES));
    for (id, n, v) in rows {
        values.push(Val::int(*id));
        values.extend(enrolment_values(n, now_us));
        values.extend(v.values());
    }
    values
}

/// Enrolments per multi-row `INSERT` (31 values each with the id: within both
/// engines' limits).
pub(crate) const ENROLMENTS_PER_INSERT: usize = 200;
/// Follow-ups per multi-row `INSERT` (41 values each: within both engines' limits).
pub(crate) const FOLLOWUPS_PER_INSERT: usize = 200;

/// The columns a follow-up is inserted with, in the order [`followup_values`] gives them
/// (its id, when given, comes first).
pub(crate) const FOLLOWUP_INSERT_COLUMNS: &str = "enrolment_id, resident_id, disease, institution_id, staff_id, method, visit_on,
    age_years, sbp_mmhg, dbp_mmhg, fpg_centi_mmol, hba1c_centi_percent, heart_rate_bpm,
    temperature_centi_c, weight_centi_kg, height_cm, bmi_centi, waist_cm, dorsalis_pedis, symptoms,
    pregnant_or_breastfeeding, adverse_reaction, complication, cigarettes_per_day,
    alcohol_ml_per_day, exercise_sessions_per_week, exercise_minutes_per_session, salt_intake,
    staple_food_g_per_day, adherence, hypoglycaemia, insulin, note, classification,
    urgent_referral, refer, reasons, next_due_on, counts_face_to_face, ruleset_version, created_at_us";
pub(crate) const FOLLOWUP_INSERT_VALUES: usize = 41;

/// A follow-up's values in the order of [`FOLLOWUP_INSERT_COLUMNS`].
pub(crate) fn followup_values<'a>(n: &NewFollowup<'a>) -> [Val<'a>; FOLLOWUP_INSERT_VALUES] {
    let f = &n.followup.findings;
    let d = &n.followup.details;
    let e = n.evaluation;
    let symptoms: Vec<&str> = f.symptoms.iter().map(|s| s.code()).collect();
    let reasons: Vec<&str> = e.reasons.iter().map(|r| r.code()).collect();
    [
        Val::int(n.enrolment_id),
        Val::int(n.resident_id),
        Val::text(n.disease.code()),
        Val::int(n.institution_id),
        Val::int(n.staff_id),
        Val::text(f.method.code()),
        Val::day(n.followup.visit_on),
        Val::int(f.age_years),
        Val::opt_int(f.bp.map(|b| b.sbp_mmhg)),
        Val::opt_int(f.bp.map(|b| b.dbp_mmhg)),
        Val::opt_int(f.fpg.map(|g| g.centi())),
        Val::opt_int(d.hba1c.map(|h| h.centi())),
        Val::opt_int(f.heart_rate_bpm),
        Val::opt_int(f.temperature.map(|t| t.centi())),
        Val::opt_int(d.weight.map(|w| w.centi())),
        Val::opt_int(d.height_cm),
        Val::opt_int(d.bmi_centi),
        Val::opt_int(d.waist_cm),
        Val::opt_text(d.dorsalis_pedis.map(|p| p.code())),
        Val::owned(symptoms.join(",")),
        Val::bool(f.pregnant_or_breastfeeding),
        Val::text(adverse_code(f.adverse_reaction)),
        Val::text(f.complication.code()),
        Val::opt_int(d.cigarettes_per_day),
        Val::opt_int(d.alcohol_ml_per_day),
        Val::opt_int(d.exercise_sessions_per_week),
        Val::opt_int(d.exercise_minutes_per_session),
        Val::opt_text(d.salt_intake.map(|s| s.code())),
        Val::opt_int(d.staple_food_g_per_day),
        Val::opt_text(d.adherence.map(|a| a.code())),
        Val::opt_text(d.hypoglycaemia.map(|h| h.code())),
        Val::opt_text(d.insulin.as_deref()),
        Val::opt_text(d.note.as_deref()),
        Val::opt_int(e.classification.map(|c| c.number())),
        Val::bool(e.urgent_referral),
        Val::bool(e.refer),
        Val::owned(reasons.join(",")),
        Val::day(n.next_due_on),
        Val::bool(e.counts_as_face_to_face),
        Val::text(n.ruleset_version),
        Val::int(n.now_us),
    ]
}

/// The values of follow-ups inserted with their ids (see [`super::insert_followups_in!`]),
/// row after row.
pub(crate) fn followup_rows_values<'a>(rows: &[(i64, &NewFollowup<'a>)]) -> Vec<Val<'a>> {
    let mut values = Vec::with_capacity(rows.len() * (1 + FOLLOWUP_INSERT_VALUES));
    for (id, n) in rows {
        values.push(Val::int(*id));
        values.extend(followup_values(n));
    }
    values
}

/// The drugs of follow-ups stored as `rows`' ids: (follow-up id, position, drug).
pub(crate) fn followup_drugs<'a>(
    rows: &[(i64, &NewFollowup<'a>)],
) -> Vec<(i64, i64, &'a gongti_core::chronic::record::Drug)> {
    rows.iter()
        .flat_map(|(id, n)| {
            n.followup
                .details
                .drugs
                .iter()
                .enumerate()
                .map(move |(p, d)| (*id, p as i64, d))
        })
        .collect()
}

/// The values of follow-ups' drugs (`rows` as [`followup_drugs`] gives them), row
/// after row.
pub(crate) fn drug_values<'a>(
    rows: &[(i64, i64, &'a gongti_core::chronic::record::Drug)],
) -> Vec<Val<'a>> {
    rows.iter()
        .flat_map(|(id, position, drug)| {
            [
                Val::int(*id),
                Val::int(*position),
                Val::text(drug.name.as_str()),
                Val::text(drug.dose.as_str()),
            ]
        })
        .collect()
}

/// `INSERT INTO followup_drugs` of `rows` rows (see [`crate::row::Numbering`]).
pub(crate) fn drugs_sql(numbered: bool, rows: usize) -> String {
    format!(
        "INSERT INTO followup_drugs (followup_id, position, name, dose) VALUES {}",
        crate::row::value_rows(numbered, rows, 4, "")
    )
}

/// The open tasks of enrolment `$3` that follow-up `$1` (visit day `$4`, written at
/// `$2`) does: an earlier visit's urgent referral, or a referral back down on or
/// before the visit day.
pub(crate) const CLOSE_TASKS: &str = "UPDATE chronic_tasks SET status = 'done', done_followup_id = $1, done_at_us = $2
    WHERE enrolment_id = $3 AND status = 'open'
      AND (source_followup_id IN (SELECT id FROM followups WHERE enrolment_id = $3 AND visit_on < $4)
           OR (source_referral_id IS NOT NULL AND opened_on <= $4))";

/// The task an urgent referral opens: resident `$1`, enrolment `$2`, institution `$3`,
/// due `$4`, from follow-up `$5`, at `$6`.
pub(crate) const OPEN_URGENT_TASK: &str =
    "INSERT INTO chronic_tasks (resident_id, enrolment_id, institution_id, kind, due_on,
        source_followup_id, status, created_at_us)
    VALUES ($1, $2, $3, 'urgent_referral_followup', $4, $5, 'open', $6)";

/// The values of [`CLOSE_TASKS`] for follow-up `id`.
pub(crate) fn close_tasks_values(id: i64, n: &NewFollowup<'_>) -> [Val<'static>; 4] {
    [
        Val::int(id),
        Val::int(n.now_us),
        Val::int(n.enrolment_id),
        Val::day(n.followup.visit_on),
    ]
}

/// The values of [`OPEN_URGENT_TASK`] for follow-up `id`, when it referred urgently.
pub(crate) fn urgent_task_values(id: i64, n: &NewFollowup<'_>) -> Option<[Val<'static>; 6]> {
    n.urgent_task_due_on.map(|due_on| {
        [
            Val::int(n.resident_id),
            Val::int(n.enrolment_id),
            Val::int(n.institution_id),
            Val::day(due_on),
            Val::int(id),
            Val::int(n.now_us),
        ]
    })
}
