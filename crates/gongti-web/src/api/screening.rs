//! Hypertension screening over JSON: office BP readings, the high-risk profile, a
//! resident's screening status, and the screening worklist.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::screening::{ScreeningView, state_code};
use gongti_core::chronic::screening::ScreeningState;
use gongti_store::{ScreeningProfile, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/residents/{id}/screening", get(read))
        .route("/residents/{id}/screening/bp", post(record_bp))
        .route("/residents/{id}/screening/profile", put(profile))
        .route("/worklists/screening", get(worklist))
}

fn view(v: &ScreeningView) -> Value {
    let o = &v.outcome;
    json!({
        "state": state_code(o.state),
        "raised_days": match o.state { ScreeningState::RecheckDue { raised_days } => raised_days, _ => 0 },
        "refer_for_diagnosis": o.state == ScreeningState::Suspected,
        "next_bp_due": o.next_bp_due.map(|d| d.to_string()),
        "followup_by": o.followup_by.map(|d| d.to_string()),
        "high_risk": !v.high_risk.is_empty(),
        "high_risk_factors": v.high_risk.iter().map(|f| f.code()).collect::<Vec<_>>(),
        "readings": v.readings.iter().map(|r| json!({"measured_on": r.on.to_string(), "sbp_mmhg": r.bp.sbp_mmhg, "dbp_mmhg": r.bp.dbp_mmhg})).collect::<Vec<_>>(),
        "profile": {
            "bmi": v.profile.bmi_centi.map(|b| f64::from(b) / 100.0),
            "waist_cm": v.profile.waist_cm,
            "family_history": v.profile.family_history,
            "high_salt_diet": v.profile.high_salt_diet,
            "heavy_drinking": v.profile.heavy_drinking,
        },
    })
}

async fn read(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    Ok(Json(view(&state.app.screening(&ctx, id).await?)))
}

#[derive(Deserialize)]
struct BpBody {
    measured_on: Option<String>,
    sbp_mmhg: Option<i64>,
    dbp_mmhg: Option<i64>,
}

async fn record_bp(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<BpBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let measured_on = match body
        .measured_on
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        None => None,
        Some(d) => Some(time::Date::parse(d, &fmt).map_err(|_| {
            ApiError::bad_request(
                "bad_date",
                "measured_on 应为 YYYY-MM-DD",
                "measured_on must be YYYY-MM-DD",
            )
        })?),
    };
    let v = state
        .app
        .record_screening_bp(&ctx, id, measured_on, body.sbp_mmhg, body.dbp_mmhg)
        .await?;
    Ok((StatusCode::CREATED, Json(view(&v))))
}

#[derive(Deserialize)]
struct ProfileBody {
    bmi: Option<f64>,
    waist_cm: Option<u16>,
    #[serde(default)]
    family_history: bool,
    #[serde(default)]
    high_salt_diet: bool,
    #[serde(default)]
    heavy_drinking: bool,
}

async fn profile(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<ProfileBody>,
) -> ApiResult<Json<Value>> {
    let p = ScreeningProfile {
        bmi_centi: body
            .bmi
            .and_then(|b| u16::try_from((b * 100.0).round() as i64).ok()),
        waist_cm: body.waist_cm,
        family_history: body.family_history,
        high_salt_diet: body.high_salt_diet,
        heavy_drinking: body.heavy_drinking,
    };
    Ok(Json(view(
        &state.app.set_screening_profile(&ctx, id, p).await?,
    )))
}

#[derive(Deserialize)]
struct WorklistParams {
    state: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn worklist(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<WorklistParams>,
) -> ApiResult<Json<Value>> {
    let wanted = q.state.as_deref().unwrap_or("suspected");
    if !["suspected", "recheck_due", "normal"].contains(&wanted) {
        return Err(ApiError::bad_request(
            "bad_state",
            "state 应为 suspected、recheck_due 或 normal",
            "state must be suspected, recheck_due or normal",
        ));
    }
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .screening_worklist(
            &ctx,
            wanted,
            after,
            clamp_page_size(q.limit, PAGE_SIZE_DEFAULT),
        )
        .await?;
    let items = page
        .items
        .iter()
        .map(|s| {
            json!({
                "resident_id": s.resident_id, "resident_name": s.resident_name, "state": s.state,
                "raised_days": s.raised_days, "high_risk": s.high_risk,
                "next_bp_due": s.next_bp_due.map(|d| d.to_string()), "followup_by": s.followup_by.map(|d| d.to_string()),
            })
        })
        .collect();
    Ok(Json(views::page(items, page.next_after)))
}
