//! Residents' own API (患者自助): sign in, the clinics open to the public, book a
//! public slot for oneself, list and cancel one's bookings, upload one's own home
//! readings. A patient token is
//! accepted here only, and staff tokens are not: the two never mix. Staff open a
//! resident's account at `POST /residents/{id}/patient-account`.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::patients::PatientCtx;
use gongti_store::{ScheduleFilter, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Duration;

use super::{PageParams, parse_date};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, decode_cursor, request_id};
use crate::{AppState, PAGE_SIZE_DEFAULT, views};

/// Staff routes (behind the staff token).
pub(crate) fn staff_routes() -> Router<AppState> {
    Router::new().route("/residents/{id}/patient-account", post(open_account))
}

/// The residents' own routes: the token route is open, the rest need a patient token.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let protected = Router::new()
        .route("/patient/me", get(me))
        .route("/patient/schedules", get(schedules))
        .route("/patient/bookings", get(bookings).post(book))
        .route("/patient/bookings/{id}/cancel", post(cancel))
        .route("/patient/readings", post(upload_reading))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::guard,
        ))
        .route_layer(axum::middleware::from_fn_with_state(state, require_patient));
    Router::new()
        .route("/patient/token", post(token))
        .merge(protected)
}

fn bearer(request: &Request) -> Option<String> {
    request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").map(str::trim).map(str::to_owned))
}

async fn require_patient(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let rid = request_id(request.headers());
    let token = bearer(&request);
    match token {
        Some(t) => match state.app.authenticate_patient(&t, rid).await {
            Ok(p) => {
                request.extensions_mut().insert(p);
                next.run(request).await
            }
            Err(e) => ApiError::from(e).into_response(),
        },
        None => ApiError::from(gongti_app::AppError::Unauthenticated).into_response(),
    }
}

#[derive(Deserialize)]
struct TokenBody {
    username: String,
    password: String,
}

async fn token(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    ApiJson(body): ApiJson<TokenBody>,
) -> ApiResult<Json<Value>> {
    let s = state
        .app
        .patient_sign_in(
            &body.username,
            &body.password,
            false,
            request_id(&headers),
            ip,
        )
        .await?;
    let mut answer =
        json!({"access_token": s.token, "token_type": "Bearer", "expires_in": s.expires_in_s});
    if let Some(n) = s.notice {
        answer["notice"] = crate::views::sign_in_notice(&n);
    }
    Ok(Json(answer))
}

#[derive(Deserialize)]
struct AccountBody {
    username: String,
    password: String,
}

async fn open_account(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<AccountBody>,
) -> ApiResult<Response> {
    let account = state
        .app
        .open_patient_account(&ctx, id, &body.username, &body.password)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": account, "resident_id": id, "username": body.username.trim()})),
    )
        .into_response())
}

/// A home reading the resident took of themselves: 201 stored, 200 already uploaded.
async fn upload_reading(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<PatientCtx>,
    ApiJson(body): ApiJson<super::readings::ReadingBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let outcomes = state
        .app
        .patient_upload_readings(&p, vec![body.form()])
        .await?;
    Ok(super::readings::one_answer(&outcomes[0]))
}

async fn me(axum::Extension(p): axum::Extension<PatientCtx>) -> Json<Value> {
    Json(json!({"resident_id": p.resident_id, "username": p.username}))
}

#[derive(Deserialize)]
struct ScheduleParams {
    institution: Option<i64>,
    department: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// Clinics with a place open to the public: only the public counts are shown.
async fn schedules(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ScheduleParams>,
) -> ApiResult<Json<Value>> {
    let today = state.app.today();
    let from_day = parse_date("from", q.from.as_deref())?
        .unwrap_or(today)
        .max(today);
    let to_day = parse_date("to", q.to.as_deref())?.unwrap_or(from_day + Duration::days(14));
    let filter = ScheduleFilter {
        institution_id: q.institution,
        department_id: q.department,
        from_day,
        to_day,
    };
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .schedules(filter, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    let items = page
        .items
        .iter()
        .map(|s| {
            let released = if gongti_core::scheduling::open_to_public(
                gongti_core::scheduling::Pool::Reserved,
                s.day,
                today,
                &s.params,
            ) {
                s.reserved_free
            } else {
                0
            };
            json!({
                "id": s.id, "institution_name": s.institution_name, "department_id": s.department_id,
                "department_name": s.department_name, "doctor_name": s.doctor_name, "clinic_name": s.clinic_name,
                "day": s.day.to_string(), "session": s.session.code(), "free": s.public_free + released,
            })
        })
        .collect();
    Ok(Json(views::page(items, page.next_after)))
}

async fn bookings(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<PatientCtx>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .patient_bookings(&p, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(super::scheduling::booking).collect(),
        page.next_after,
    )))
}

#[derive(Deserialize)]
struct BookBody {
    schedule_id: i64,
    slot_id: Option<i64>,
}

async fn book(
    State(state): State<AppState>,
    axum::Extension(p): axum::Extension<PatientCtx>,
    ApiJson(body): ApiJson<BookBody>,
) -> ApiResult<Response> {
    let b = state
        .app
        .patient_book(&p, body.schedule_id, body.slot_id)
        .await?;
    Ok((StatusCode::CREATED, Json(super::scheduling::booking(&b))).into_response())
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(p): axum::Extension<PatientCtx>,
) -> ApiResult<Json<Value>> {
    Ok(Json(super::scheduling::booking(
        &state.app.patient_cancel(&p, id).await?,
    )))
}
