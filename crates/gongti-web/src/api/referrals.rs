//! Two-way referrals over JSON (DOMAIN.md §3): the one-click referral, its steps on
//! the receiving and sending sides, the inbox / sent / returning lists, and a
//! resident's referrals.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::referrals::{ReferRequest, ReferralSource, ReferralView};
use gongti_core::chronic::Disease;
use gongti_core::referral::{ReferralStep, Urgency};
use gongti_core::scheduling::Pool;
use gongti_store::{ReferralRecord, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{BoxParams, PageParams, bad_code};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/residents/{id}/referrals", get(of_resident).post(refer))
        .route("/referrals", get(list))
        .route("/referrals/{id}", get(read))
        .route("/referrals/{id}/accept", post(accept))
        .route("/referrals/{id}/reject", post(reject))
        .route("/referrals/{id}/arrive", post(arrive))
        .route("/referrals/{id}/see", post(see))
        .route("/referrals/{id}/return", post(return_down))
        .route("/referrals/{id}/cancel", post(cancel))
}

pub(crate) fn referral(r: &ReferralRecord) -> Value {
    json!({
        "id": r.id,
        "status": r.status.code(),
        "urgency": r.urgency.code(),
        "disease": r.disease.code(),
        "resident_id": r.resident_id,
        "resident_name": r.resident_name,
        "from": {"institution_id": r.from_institution_id, "institution_name": r.from_institution_name,
                 "staff_id": r.from_staff_id, "staff_name": r.from_staff_name},
        "to": {"institution_id": r.to_institution_id, "institution_name": r.to_institution_name,
               "department_id": r.to_department_id, "department_name": r.to_department_name},
        "booking_id": r.booking_id,
        "slot_starts_at": r.slot_starts_at_us.map(views::utc),
        "booked_via": r.booking_pool.map(|p| p.code()),
        "source": {"kind": r.source_kind, "id": r.source_id},
        "reason": r.reason,
        "rules": r.rules.as_deref().map(|s| s.split(',').filter(|c| !c.is_empty()).collect::<Vec<_>>()),
        "summary": r.summary,
        "reject_reason": r.reject_reason,
        "return_plan": r.return_plan,
        "followup_due_on": r.followup_due_on.map(|d| d.to_string()),
        "followup_open": r.followup_open,
        "created_at": views::utc(r.created_at_us),
        "changed_at": views::utc(r.changed_at_us),
    })
}

fn view(v: &ReferralView) -> Value {
    let mut out = referral(&v.referral);
    out["timeline"] = v
        .events
        .iter()
        .map(|e| {
            json!({"step": e.step, "status": e.status.code(), "staff_id": e.staff_id, "staff_name": e.staff_name,
                   "institution_id": e.institution_id, "note": e.note, "at": views::utc(e.at_us)})
        })
        .collect::<Vec<_>>()
        .into();
    out
}

#[derive(Deserialize)]
struct ReferBody {
    #[serde(default)]
    source: Option<String>,
    alert_id: Option<i64>,
    followup_id: Option<i64>,
    disease: Option<String>,
    urgency: Option<String>,
    via: Option<String>,
    reason: Option<String>,
}

async fn refer(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<ReferBody>,
) -> ApiResult<axum::response::Response> {
    let source = match (
        body.source.as_deref().unwrap_or("manual"),
        body.alert_id,
        body.followup_id,
    ) {
        ("alert", Some(a), _) => ReferralSource::Alert(a),
        ("followup", _, Some(f)) => ReferralSource::Followup(f),
        ("manual", _, _) => ReferralSource::Manual,
        ("alert", None, _) | ("followup", _, None) => {
            return Err(ApiError::unprocessable(
                "bad_source",
                "来源为 alert / followup 时需给出 alert_id / followup_id",
                "A source of alert or followup needs alert_id or followup_id",
            ));
        }
        _ => return Err(bad_code("source", "alert, followup, manual")),
    };
    let disease = match body.disease.as_deref() {
        None => None,
        Some(d) => {
            Some(Disease::parse(d).ok_or_else(|| bad_code("disease", "hypertension, diabetes"))?)
        }
    };
    let urgency = match body.urgency.as_deref() {
        None => None,
        Some(u) => {
            Some(Urgency::parse(u).ok_or_else(|| bad_code("urgency", "routine, emergency"))?)
        }
    };
    let via = match body.via.as_deref() {
        None => Pool::Reserved,
        Some(v) => Pool::parse(v).ok_or_else(|| bad_code("via", "reserved, public"))?,
    };
    let request = ReferRequest {
        resident_id: id,
        source,
        disease,
        urgency,
        via,
        reason: body.reason,
    };
    let v = state.app.refer(&ctx, request).await?;
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/v1/referrals/{}", v.referral.id),
        )],
        Json(view(&v)),
    )
        .into_response())
}

async fn of_resident(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .resident_referrals(&ctx, id, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(referral).collect(),
        page.next_after,
    )))
}

async fn list(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<BoxParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .referral_box(
            &ctx,
            q.which.as_deref().unwrap_or("inbox"),
            after,
            clamp_page_size(q.limit, PAGE_SIZE_DEFAULT),
        )
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(referral).collect(),
        page.next_after,
    )))
}

async fn read(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    Ok(Json(view(&state.app.read_referral(&ctx, id).await?)))
}

async fn take(state: &AppState, ctx: &Ctx, id: i64, s: ReferralStep) -> ApiResult<Json<Value>> {
    Ok(Json(view(&state.app.referral_step(ctx, id, s).await?)))
}

async fn accept(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    take(&state, &ctx, id, ReferralStep::Accept).await
}

async fn arrive(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    take(&state, &ctx, id, ReferralStep::Arrive).await
}

async fn see(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    take(&state, &ctx, id, ReferralStep::See).await
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    take(&state, &ctx, id, ReferralStep::Cancel).await
}

#[derive(Deserialize)]
struct RejectBody {
    #[serde(default)]
    reason: String,
}

async fn reject(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<RejectBody>,
) -> ApiResult<Json<Value>> {
    take(
        &state,
        &ctx,
        id,
        ReferralStep::Reject {
            reason: body.reason,
        },
    )
    .await
}

#[derive(Deserialize)]
struct ReturnBody {
    #[serde(default)]
    plan: String,
}

async fn return_down(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<ReturnBody>,
) -> ApiResult<Json<Value>> {
    take(
        &state,
        &ctx,
        id,
        ReferralStep::ReturnDown { plan: body.plan },
    )
    .await
}
