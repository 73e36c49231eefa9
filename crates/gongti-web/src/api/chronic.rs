//! Chronic-disease management over JSON: enrolments with risk, follow-ups judged by
//! the rules, the tasks urgent referrals create, and the rules as a service.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_core::chronic::followup::{Evaluation, FollowupForm};
use gongti_core::chronic::record::{EndingForm, EnrolmentForm, FollowupRecordForm};
use gongti_core::chronic::risk::{RiskFactor, RiskLevel};
use gongti_core::chronic::{Disease, RULESET_VERSION};
use gongti_store::{EnrolmentRecord, FollowupRecord, RiskProfile, TaskRecord, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;

use super::PageParams;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views, wording};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/followups/evaluate", post(evaluate_followup))
        .route("/residents/{id}/enrolments", get(enrolments).post(enrol))
        .route(
            "/residents/{id}/enrolments/{disease}/risk-factors",
            put(risk_factors),
        )
        .route(
            "/residents/{id}/enrolments/{disease}/end",
            post(end_enrolment),
        )
        .route(
            "/residents/{id}/followups",
            get(followups).post(record_followup),
        )
        .route("/worklists/tasks", get(tasks))
        .route("/worklists/followups", get(followup_worklist))
}

/// The follow-up fields the rules read, as the client sends them.
#[derive(Deserialize)]
pub(crate) struct FollowupBody {
    #[serde(default)]
    disease: String,
    age_years: Option<i64>,
    #[serde(default)]
    method: String,
    sbp_mmhg: Option<i64>,
    dbp_mmhg: Option<i64>,
    fpg_mmol: Option<f64>,
    heart_rate_bpm: Option<i64>,
    temperature_c: Option<f64>,
    #[serde(default)]
    symptoms: Vec<String>,
    #[serde(default)]
    pregnant_or_breastfeeding: bool,
    #[serde(default)]
    adverse_reaction: bool,
    #[serde(default)]
    adverse_reaction_uncontrolled: bool,
    complication: Option<String>,
    previous_classification: Option<i64>,
}

impl FollowupBody {
    pub(crate) fn form(self) -> FollowupForm {
        FollowupForm {
            disease: self.disease,
            age_years: self.age_years,
            method: self.method,
            sbp_mmhg: self.sbp_mmhg,
            dbp_mmhg: self.dbp_mmhg,
            fpg_mmol: self.fpg_mmol,
            heart_rate_bpm: self.heart_rate_bpm,
            temperature_c: self.temperature_c,
            symptoms: self.symptoms,
            pregnant_or_breastfeeding: self.pregnant_or_breastfeeding,
            adverse_reaction: self.adverse_reaction,
            adverse_reaction_uncontrolled: self.adverse_reaction_uncontrolled,
            complication: self.complication,
            previous_classification: self.previous_classification,
        }
    }
}

/// The rules' verdict as JSON, each reason with the rule that fired and its wording.
pub(crate) fn evaluation(e: &Evaluation) -> Value {
    let reasons: Vec<Value> = e
        .reasons
        .iter()
        .map(|r| {
            let (zh, en) = wording::reason(*r);
            json!({"code": r.code(), "rule": r.rule(), "message": zh, "message_en": en})
        })
        .collect();
    let (label, label_en) = e
        .classification
        .map(wording::classification)
        .map_or((Value::Null, Value::Null), |(zh, en)| {
            (zh.into(), en.into())
        });
    json!({
        "classification": e.classification.map(|c| c.number()),
        "classification_label": label,
        "classification_label_en": label_en,
        "urgent_referral": e.urgent_referral,
        "refer": e.refer,
        "next_followup_within_days": e.next_followup_within_days,
        "counts_as_face_to_face": e.counts_as_face_to_face,
        "reasons": reasons,
        "ruleset_version": RULESET_VERSION,
    })
}

async fn evaluate_followup(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<FollowupBody>,
) -> ApiResult<Json<Value>> {
    let (_, e) = state.app.evaluate_followup(&ctx, &body.form())?;
    Ok(Json(evaluation(&e)))
}

fn disease_of(code: &str) -> Result<Disease, ApiError> {
    Disease::parse(code).ok_or_else(|| {
        ApiError::bad_request(
            "bad_disease",
            "病种应为 hypertension 或 diabetes",
            "The programme must be hypertension or diabetes",
        )
    })
}

fn parse_date(field: &'static str, value: Option<&str>) -> Result<Option<Date>, ApiError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Date::parse(v, &fmt).map(Some).map_err(|_| {
            ApiError::bad_request(
                "bad_date",
                &format!("{field} 应为 YYYY-MM-DD 格式的日期"),
                &format!("{field} must be a date as YYYY-MM-DD"),
            )
        }),
    }
}

/// The risk inputs as the client sends them (all optional, false / 0 when absent).
#[derive(Deserialize, Default)]
struct RiskBody {
    #[serde(default)]
    smoking: bool,
    #[serde(default)]
    dyslipidaemia: bool,
    #[serde(default)]
    impaired_glucose: bool,
    #[serde(default)]
    family_history_early_cvd: bool,
    #[serde(default)]
    target_organ_damage: bool,
    #[serde(default)]
    ckd_stage: u8,
    #[serde(default)]
    cvd: bool,
    #[serde(default)]
    diabetes_complications: bool,
}

impl RiskBody {
    fn profile(&self) -> RiskProfile {
        RiskProfile {
            smoking: self.smoking,
            dyslipidaemia: self.dyslipidaemia,
            impaired_glucose: self.impaired_glucose,
            family_history_early_cvd: self.family_history_early_cvd,
            target_organ_damage: self.target_organ_damage,
            ckd_stage: self.ckd_stage,
            cvd: self.cvd,
            diabetes_complications: self.diabetes_complications,
        }
    }
}

fn risk_view(level: RiskLevel, factors: &[String]) -> Value {
    let (zh, en) = wording::risk_level(level);
    let factors: Vec<Value> = factors
        .iter()
        .map(|code| {
            let (fzh, fen) = RiskFactor::parse(code).map_or(("", ""), wording::risk_factor);
            json!({"code": code, "label": fzh, "label_en": fen})
        })
        .collect();
    json!({"level": level.code(), "label": zh, "label_en": en, "factors": factors})
}

pub(crate) fn enrolment(e: &EnrolmentRecord) -> Value {
    let p = &e.profile;
    json!({
        "id": e.id,
        "resident_id": e.resident_id,
        "disease": e.disease.code(),
        "icd10": e.icd10,
        "diagnosed_on": e.diagnosed_on.to_string(),
        "diagnosing_institution_id": e.diagnosing_institution_id,
        "diagnosed_offline": e.diagnosed_offline,
        "institution_id": e.institution_id,
        "status": if e.active { "active" } else { "ended" },
        "enrolled_on": e.enrolled_on.to_string(),
        "ended_on": e.ended_on.map(|d| d.to_string()),
        "end_reason": e.end_reason,
        "end_note": e.end_note,
        "risk_factors": {
            "smoking": p.smoking, "dyslipidaemia": p.dyslipidaemia, "impaired_glucose": p.impaired_glucose,
            "family_history_early_cvd": p.family_history_early_cvd, "target_organ_damage": p.target_organ_damage,
            "ckd_stage": p.ckd_stage, "cvd": p.cvd, "diabetes_complications": p.diabetes_complications,
        },
        "highest_bp": e.highest_bp.map(|b| json!({"sbp_mmhg": b.sbp_mmhg, "dbp_mmhg": b.dbp_mmhg})),
        "risk": e.risk.as_ref().map(|r| risk_view(r.level, &r.factors)),
        "last_followup_on": e.last_followup_on.map(|d| d.to_string()),
        "last_face_to_face_on": e.last_face_to_face_on.map(|d| d.to_string()),
        "last_classification": e.last_classification.map(|c| c.number()),
        "next_due_on": e.next_due_on.map(|d| d.to_string()),
    })
}

fn centi(v: Option<i32>) -> Value {
    v.map_or(Value::Null, |c| json!(f64::from(c) / 100.0))
}

pub(crate) fn followup(f: &FollowupRecord) -> Value {
    json!({
        "id": f.id,
        "enrolment_id": f.enrolment_id,
        "resident_id": f.resident_id,
        "disease": f.disease.code(),
        "institution_id": f.institution_id,
        "staff_id": f.staff_id,
        "method": f.method.code(),
        "visit_on": f.visit_on.to_string(),
        "age_years": f.age_years,
        "sbp_mmhg": f.bp.map(|b| b.sbp_mmhg),
        "dbp_mmhg": f.bp.map(|b| b.dbp_mmhg),
        "fpg_mmol": centi(f.fpg_centi_mmol),
        "hba1c_percent": centi(f.hba1c_centi_percent),
        "heart_rate_bpm": f.heart_rate_bpm,
        "bmi": centi(f.bmi_centi.map(i32::from)),
        "symptoms": f.symptoms,
        "adherence": f.adherence,
        "drugs": f.drugs.iter().map(|(name, dose)| json!({"name": name, "dose": dose})).collect::<Vec<_>>(),
        "note": f.note,
        "classification": f.classification.map(|c| c.number()),
        "urgent_referral": f.urgent_referral,
        "refer": f.refer,
        "reasons": f.reasons,
        "next_due_on": f.next_due_on.to_string(),
        "counts_as_face_to_face": f.counts_face_to_face,
        "ruleset_version": f.ruleset_version,
        "recorded_at": views::utc(f.created_at_us),
    })
}

fn task(t: &TaskRecord) -> Value {
    json!({
        "id": t.id,
        "resident_id": t.resident_id,
        "resident_name": t.resident_name,
        "enrolment_id": t.enrolment_id,
        "disease": t.disease.code(),
        "kind": t.kind,
        "due_on": t.due_on.to_string(),
        "source_followup_id": t.source_followup_id,
        "status": if t.open { "open" } else { "done" },
        "done_followup_id": t.done_followup_id,
    })
}

#[derive(Deserialize)]
struct EnrolBody {
    #[serde(default)]
    icd10: String,
    diagnosed_on: Option<String>,
    diagnosing_institution_id: Option<i64>,
    diagnosed_offline: Option<bool>,
    enrolled_on: Option<String>,
    #[serde(default)]
    risk_factors: Option<RiskBody>,
}

async fn enrol(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<EnrolBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let form = EnrolmentForm {
        icd10: body.icd10,
        diagnosed_on: parse_date("diagnosed_on", body.diagnosed_on.as_deref())?,
        diagnosing_institution_id: body.diagnosing_institution_id,
        diagnosed_offline: body.diagnosed_offline,
        enrolled_on: parse_date("enrolled_on", body.enrolled_on.as_deref())?,
    };
    let profile = body.risk_factors.unwrap_or_default().profile();
    let e = state.app.enrol(&ctx, id, &form, profile).await?;
    Ok((StatusCode::CREATED, Json(enrolment(&e))))
}

#[derive(Deserialize)]
struct EndBody {
    ended_on: Option<String>,
    reason: Option<String>,
    note: Option<String>,
}

/// Ends the resident's active enrolment in a programme (结案).
async fn end_enrolment(
    State(state): State<AppState>,
    Path((id, disease)): Path<(i64, String)>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<EndBody>,
) -> ApiResult<Json<Value>> {
    let disease = disease_of(&disease)?;
    let form = EndingForm {
        ended_on: parse_date("ended_on", body.ended_on.as_deref())?,
        reason: body.reason,
        note: body.note,
    };
    let e = state.app.end_enrolment(&ctx, id, disease, &form).await?;
    Ok(Json(enrolment(&e)))
}

async fn enrolments(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = state
        .app
        .resident_enrolments(&ctx, id)
        .await?
        .iter()
        .map(enrolment)
        .collect();
    Ok(Json(json!({"items": items})))
}

async fn risk_factors(
    State(state): State<AppState>,
    Path((id, disease)): Path<(i64, String)>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<RiskBody>,
) -> ApiResult<Json<Value>> {
    let disease = disease_of(&disease)?;
    let e = state
        .app
        .set_risk_factors(&ctx, id, disease, body.profile())
        .await?;
    Ok(Json(enrolment(&e)))
}

#[derive(Deserialize)]
struct DrugBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    dose: String,
}

#[derive(Deserialize)]
struct RecordBody {
    #[serde(flatten)]
    rules: FollowupBody,
    visit_on: Option<String>,
    weight_kg: Option<f64>,
    height_cm: Option<i64>,
    waist_cm: Option<i64>,
    hba1c_percent: Option<f64>,
    dorsalis_pedis: Option<String>,
    cigarettes_per_day: Option<i64>,
    alcohol_ml_per_day: Option<i64>,
    exercise_sessions_per_week: Option<i64>,
    exercise_minutes_per_session: Option<i64>,
    salt_intake: Option<String>,
    staple_food_g_per_day: Option<i64>,
    adherence: Option<String>,
    hypoglycaemia: Option<String>,
    #[serde(default)]
    drugs: Vec<DrugBody>,
    insulin: Option<String>,
    note: Option<String>,
}

async fn record_followup(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<RecordBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let form = FollowupRecordForm {
        visit_on: parse_date("visit_on", body.visit_on.as_deref())?,
        rules: body.rules.form(),
        weight_kg: body.weight_kg,
        height_cm: body.height_cm,
        waist_cm: body.waist_cm,
        hba1c_percent: body.hba1c_percent,
        dorsalis_pedis: body.dorsalis_pedis,
        cigarettes_per_day: body.cigarettes_per_day,
        alcohol_ml_per_day: body.alcohol_ml_per_day,
        exercise_sessions_per_week: body.exercise_sessions_per_week,
        exercise_minutes_per_session: body.exercise_minutes_per_session,
        salt_intake: body.salt_intake,
        staple_food_g_per_day: body.staple_food_g_per_day,
        adherence: body.adherence,
        hypoglycaemia: body.hypoglycaemia,
        drugs: body.drugs.into_iter().map(|d| (d.name, d.dose)).collect(),
        insulin: body.insulin,
        note: body.note,
    };
    let (followup_id, e, enrolled) = state.app.record_followup(&ctx, id, form).await?;
    let mut out = evaluation(&e);
    out["id"] = followup_id.into();
    out["enrolment"] = enrolment(&enrolled);
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize)]
struct FollowupParams {
    disease: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn followups(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<FollowupParams>,
) -> ApiResult<Json<Value>> {
    let disease = q
        .disease
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(disease_of)
        .transpose()?;
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .resident_followups(
            &ctx,
            id,
            disease,
            after,
            clamp_page_size(q.limit, PAGE_SIZE_DEFAULT),
        )
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(followup).collect(),
        page.next_after,
    )))
}

async fn tasks(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .open_tasks(&ctx, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(task).collect(),
        page.next_after,
    )))
}

#[derive(Deserialize)]
struct WorklistParams {
    list: Option<String>,
    disease: Option<String>,
    team: Option<i64>,
    sort: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn followup_worklist(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<WorklistParams>,
) -> ApiResult<Json<Value>> {
    use gongti_app::worklists::FollowupWorklist;
    use gongti_store::WorklistOrder;
    let which =
        FollowupWorklist::parse(q.list.as_deref().unwrap_or("due_this_week")).ok_or_else(|| {
            ApiError::bad_request(
                "bad_list",
                "清单应为 due_this_week、overdue、missed_visit 或 lost_to_follow_up",
                "list must be due_this_week, overdue, missed_visit or lost_to_follow_up",
            )
        })?;
    let order = match q.sort.as_deref() {
        None | Some("") | Some("due") => WorklistOrder::Due,
        Some("risk") => WorklistOrder::Risk,
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_sort",
                "排序应为 due 或 risk",
                "sort must be due or risk",
            ));
        }
    };
    let disease = q
        .disease
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(disease_of)
        .transpose()?;
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .followup_worklist(
            &ctx,
            gongti_app::worklists::WorklistQuery {
                which,
                disease,
                team_id: q.team,
                order,
            },
            after,
            clamp_page_size(q.limit, PAGE_SIZE_DEFAULT),
        )
        .await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|w| {
            json!({
                "enrolment_id": w.enrolment_id,
                "resident_id": w.resident_id,
                "resident_name": w.resident_name,
                "disease": w.disease.code(),
                "risk_level": w.risk_level.map(|l| l.code()),
                "next_due_on": w.next_due_on.map(|d| d.to_string()),
                "last_followup_on": w.last_followup_on.map(|d| d.to_string()),
                "last_face_to_face_on": w.last_face_to_face_on.map(|d| d.to_string()),
                "last_classification": w.last_classification.map(|c| c.number()),
            })
        })
        .collect();
    Ok(Json(views::page(items, page.next_after)))
}
