//! Home readings over JSON: single and batch uploads, a resident's readings over a
//! time window, and the alerts worklist.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_core::chronic::readings::ReadingForm;
use gongti_store::{AlertRecord, ReadingOutcome, ReadingRecord, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views, wording};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/residents/{id}/readings", get(list).post(upload_one))
        .route("/readings/batch", post(upload_batch))
        .route("/worklists/alerts", get(alerts))
        .route("/alerts/{id}/acknowledge", post(acknowledge))
}

#[derive(Deserialize, Default)]
pub(crate) struct ReadingBody {
    resident_id: Option<i64>,
    #[serde(default)]
    client_reading_id: String,
    #[serde(default)]
    kind: String,
    taken_at: Option<String>,
    sbp_mmhg: Option<i64>,
    dbp_mmhg: Option<i64>,
    pulse_bpm: Option<i64>,
    glucose_mmol: Option<f64>,
    glucose_context: Option<String>,
    device: Option<String>,
}

impl ReadingBody {
    pub(crate) fn form(self) -> ReadingForm {
        ReadingForm {
            client_reading_id: self.client_reading_id,
            kind: self.kind,
            taken_at: self.taken_at,
            sbp_mmhg: self.sbp_mmhg,
            dbp_mmhg: self.dbp_mmhg,
            pulse_bpm: self.pulse_bpm,
            glucose_mmol: self.glucose_mmol,
            glucose_context: self.glucose_context,
            device: self.device,
        }
    }
}

fn outcome(index: usize, o: &ReadingOutcome) -> Value {
    json!({
        "index": index,
        "resident_id": o.resident_id,
        "client_reading_id": o.client_reading_id,
        "status": if o.id.is_some() { "created" } else { "duplicate" },
        "id": o.id,
        "alert_id": o.alert_id,
    })
}

async fn upload_one(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<ReadingBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let outcomes = state
        .app
        .upload_readings(&ctx, vec![(id, body.form())])
        .await?;
    Ok(one_answer(&outcomes[0]))
}

/// The answer to a single upload: 201 stored, 200 uploaded already.
pub(crate) fn one_answer(o: &ReadingOutcome) -> (StatusCode, Json<Value>) {
    let status = if o.id.is_some() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(outcome(0, o)))
}

#[derive(Deserialize)]
struct BatchBody {
    #[serde(default)]
    readings: Vec<ReadingBody>,
}

async fn upload_batch(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<BatchBody>,
) -> ApiResult<Json<Value>> {
    let mut items = Vec::with_capacity(body.readings.len());
    for (index, r) in body.readings.into_iter().enumerate() {
        let Some(resident_id) = r.resident_id else {
            return Err(ApiError::bad_request(
                "resident_id_required",
                &format!("第 {index} 条缺少 resident_id"),
                &format!("Reading {index} has no resident_id"),
            ));
        };
        items.push((resident_id, r.form()));
    }
    let outcomes = state.app.upload_readings(&ctx, items).await?;
    let created = outcomes.iter().filter(|o| o.id.is_some()).count();
    let alerts = outcomes.iter().filter(|o| o.alert_id.is_some()).count();
    let results: Vec<Value> = outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| outcome(i, o))
        .collect();
    Ok(Json(json!({
        "created": created,
        "duplicates": outcomes.len() - created,
        "alerts": alerts,
        "results": results,
    })))
}

pub(crate) fn reading(r: &ReadingRecord) -> Value {
    json!({
        "id": r.id,
        "client_reading_id": r.client_reading_id,
        "kind": if r.bp.is_some() { "bp" } else { "glucose" },
        "taken_at": views::utc(r.taken_at_us),
        "sbp_mmhg": r.bp.map(|b| b.sbp_mmhg),
        "dbp_mmhg": r.bp.map(|b| b.dbp_mmhg),
        "pulse_bpm": r.pulse_bpm,
        "glucose_mmol": r.glucose_centi_mmol.map(|g| g as f64 / 100.0),
        "glucose_context": r.glucose_context,
        "device": r.device,
    })
}

#[derive(Deserialize)]
struct WindowParams {
    from: Option<String>,
    to: Option<String>,
    limit: Option<u32>,
}

fn instant(field: &'static str, value: Option<&str>, default_us: i64) -> Result<i64, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default_us),
        Some(v) => OffsetDateTime::parse(v, &Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000) as i64)
            .map_err(|_| {
                ApiError::bad_request(
                    "bad_time",
                    &format!("{field} 应为 RFC 3339 时间（含时区）"),
                    &format!("{field} must be an RFC 3339 time with an offset"),
                )
            }),
    }
}

async fn list(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<WindowParams>,
) -> ApiResult<Json<Value>> {
    let now_us = gongti_app::unix_us(state.app.now());
    let to_us = instant("to", q.to.as_deref(), now_us + 1)?;
    let from_us = instant(
        "from",
        q.from.as_deref(),
        to_us - 90 * 24 * 3600 * 1_000_000,
    )?;
    let limit = q.limit.unwrap_or(gongti_app::readings::READINGS_LIST_MAX);
    let items = state
        .app
        .resident_readings(&ctx, id, from_us, to_us, limit)
        .await?;
    let items: Vec<Value> = items.iter().map(reading).collect();
    Ok(Json(json!({"items": items})))
}

pub(crate) fn alert(a: &AlertRecord) -> Value {
    let (zh, en) = wording::alert_code(&a.code);
    json!({
        "id": a.id,
        "resident_id": a.resident_id,
        "resident_name": a.resident_name,
        "institution_id": a.institution_id,
        "team_id": a.team_id,
        "reading_id": a.reading_id,
        "code": a.code,
        "label": zh,
        "label_en": en,
        "status": if a.open { "open" } else { "acknowledged" },
        "raised_at": views::utc(a.raised_at_us),
        "risk_level": a.risk_level,
    })
}

#[derive(Deserialize)]
struct AlertParams {
    team: Option<i64>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn alerts(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<AlertParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .open_alerts(
            &ctx,
            q.team,
            after,
            clamp_page_size(q.limit, PAGE_SIZE_DEFAULT),
        )
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(alert).collect(),
        page.next_after,
    )))
}

async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<StatusCode> {
    state.app.acknowledge_alert(&ctx, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
