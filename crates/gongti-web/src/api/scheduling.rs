//! Schedules, slots and bookings over JSON (DOMAIN.md §3): the reserve policy,
//! publishing and capacity changes for a hospital's administrator, the slot lists,
//! booking from the reserved or public pool, cancel, reschedule, check-in, no-show,
//! and the day list of a schedule.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::scheduling::{BookRequest, PublishSchedule, SlotView};
use gongti_core::scheduling::{BookingAction, Pool, ReserveParams, Session};
use gongti_store::{BookingRecord, ScheduleFilter, ScheduleRecord, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};
use time::{Duration, Time};

use super::parse_date;
use super::{PageParams, bad_code};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/reserve-policy", get(policy).put(set_policy))
        .route("/schedules", get(list).post(publish))
        .route("/schedules/{id}", get(read))
        .route("/schedules/{id}/capacity", put(capacity))
        .route("/schedules/{id}/bookings", get(day_list))
        .route("/schedules/{id}/cancel", post(cancel_schedule))
        .route("/bookings", post(book))
        .route("/bookings/{id}/cancel", post(cancel))
        .route("/bookings/{id}/check-in", post(check_in))
        .route("/bookings/{id}/no-show", post(no_show))
        .route("/bookings/{id}/reschedule", post(reschedule))
        .route("/residents/{id}/bookings", get(resident_bookings))
}

fn params(p: &ReserveParams) -> Value {
    json!({
        "reserved_percent": f64::from(p.reserved_permille) / 10.0,
        "release_days": p.release_days,
    })
}

pub(crate) fn schedule(s: &ScheduleRecord) -> Value {
    json!({
        "id": s.id,
        "institution_id": s.institution_id,
        "institution_name": s.institution_name,
        "department_id": s.department_id,
        "department_name": s.department_name,
        "doctor_staff_id": s.doctor_staff_id,
        "doctor_name": s.doctor_name,
        "clinic_name": s.clinic_name,
        "day": s.day.to_string(),
        "session": s.session.code(),
        "status": if s.cancelled { "cancelled" } else { "published" },
        "reserve": params(&s.params),
        "slot_count": s.slot_count(),
        "reserved": {"slots": s.reserved_slots, "free": s.reserved_free},
        "public": {"slots": s.public_slots, "free": s.public_free},
    })
}

fn slot(v: &SlotView) -> Value {
    json!({
        "id": v.slot.id,
        "seq": v.slot.seq,
        "starts_at": views::utc(v.slot.starts_at_us),
        "ends_at": views::utc(v.slot.ends_at_us),
        "pool": v.slot.pool.code(),
        "status": v.slot.status,
        "open_to_public": v.open_to_public,
    })
}

pub(crate) fn booking(b: &BookingRecord) -> Value {
    json!({
        "id": b.id,
        "status": b.status.code(),
        "resident_id": b.resident_id,
        "resident_name": b.resident_name,
        "schedule_id": b.schedule_id,
        "slot_id": b.slot_id,
        "institution_id": b.institution_id,
        "institution_name": b.institution_name,
        "department_id": b.department_id,
        "department_name": b.department_name,
        "day": b.day.to_string(),
        "session": b.session.code(),
        "starts_at": views::utc(b.starts_at_us),
        "ends_at": views::utc(b.ends_at_us),
        "pool": b.pool.code(),
        "note": b.note,
        "booked_by_staff_id": b.booked_by_staff_id,
        "booked_by_resident": b.booked_by_account_id.is_some(),
        "created_at": views::utc(b.created_at_us),
    })
}

fn parse_time(field: &'static str, value: Option<&str>) -> ApiResult<Option<Time>> {
    let fmt = time::macros::format_description!("[hour]:[minute]");
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Time::parse(v, &fmt).map(Some).map_err(|_| {
            ApiError::bad_request(
                "bad_time",
                "时间格式应为 HH:MM（北京时间）",
                "Times are written HH:MM (Beijing time)",
            )
            .with_detail(field.to_owned())
        }),
    }
}

fn parse_pool(value: &str) -> ApiResult<Pool> {
    Pool::parse(value).ok_or_else(|| bad_code("pool", "reserved, public"))
}

#[derive(Deserialize)]
struct PolicyQuery {
    department_id: i64,
    institution_id: i64,
}

async fn policy(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PolicyQuery>,
) -> ApiResult<Json<Value>> {
    let p = state
        .app
        .reserve_params(q.institution_id, q.department_id)
        .await?;
    Ok(Json(params(&p)))
}

#[derive(Deserialize)]
struct PolicyBody {
    department_id: Option<i64>,
    reserved_percent: f64,
    release_days: u16,
}

async fn set_policy(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<PolicyBody>,
) -> ApiResult<StatusCode> {
    let p = ReserveParams {
        reserved_permille: gongti_core::scheduling::permille_from_percent(body.reserved_percent),
        release_days: body.release_days,
    };
    state
        .app
        .set_reserve_policy(&ctx, body.department_id, p)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PublishBody {
    department_id: i64,
    doctor_staff_id: Option<i64>,
    clinic_name: Option<String>,
    day: String,
    session: String,
    starts_at: Option<String>,
    ends_at: Option<String>,
    slot_count: u32,
}

async fn publish(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<PublishBody>,
) -> ApiResult<axum::response::Response> {
    let p = PublishSchedule {
        department_id: body.department_id,
        doctor_staff_id: body.doctor_staff_id,
        clinic_name: body.clinic_name,
        day: parse_date("day", Some(&body.day))?.ok_or_else(|| bad_code("day", "YYYY-MM-DD"))?,
        session: Session::parse(&body.session).ok_or_else(|| bad_code("session", "am, pm"))?,
        starts: parse_time("starts_at", body.starts_at.as_deref())?,
        ends: parse_time("ends_at", body.ends_at.as_deref())?,
        slot_count: body.slot_count,
    };
    let s = state.app.publish_schedule(&ctx, p).await?;
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/v1/schedules/{}", s.id),
        )],
        Json(schedule(&s)),
    )
        .into_response())
}

#[derive(Deserialize)]
struct ListParams {
    institution: Option<i64>,
    department: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Json<Value>> {
    let today = state.app.today();
    let from_day = parse_date("from", q.from.as_deref())?.unwrap_or(today);
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
    Ok(Json(views::page(
        page.items.iter().map(schedule).collect(),
        page.next_after,
    )))
}

async fn read(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let s = state.app.schedule(id).await?;
    let slots: Vec<Value> = state
        .app
        .schedule_slots(id)
        .await?
        .iter()
        .map(slot)
        .collect();
    let mut v = schedule(&s);
    v["slots"] = slots.into();
    Ok(Json(v))
}

#[derive(Deserialize)]
struct CapacityBody {
    slot_count: u32,
}

async fn capacity(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<CapacityBody>,
) -> ApiResult<Json<Value>> {
    let s = state.app.change_capacity(&ctx, id, body.slot_count).await?;
    Ok(Json(schedule(&s)))
}

async fn day_list(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = state
        .app
        .schedule_bookings(&ctx, id)
        .await?
        .iter()
        .map(booking)
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
struct CancelBody {
    #[serde(default)]
    reason: String,
}

/// 停诊: the clinic and every booking that still holds a place, with the patients to
/// contact in the answer.
async fn cancel_schedule(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<CancelBody>,
) -> ApiResult<Json<Value>> {
    let cancelled = state.app.cancel_schedule(&ctx, id, &body.reason).await?;
    let s = state.app.schedule(id).await?;
    let mut v = schedule(&s);
    v["cancelled_bookings"] = cancelled.iter().map(booking).collect::<Vec<_>>().into();
    Ok(Json(v))
}

#[derive(Deserialize)]
struct BookBody {
    schedule_id: i64,
    slot_id: Option<i64>,
    resident_id: i64,
    pool: String,
    note: Option<String>,
}

fn created(b: &BookingRecord) -> axum::response::Response {
    (
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/v1/residents/{}/bookings", b.resident_id),
        )],
        Json(booking(b)),
    )
        .into_response()
}

async fn book(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<BookBody>,
) -> ApiResult<axum::response::Response> {
    let request = BookRequest {
        schedule_id: body.schedule_id,
        slot_id: body.slot_id,
        resident_id: body.resident_id,
        via: parse_pool(&body.pool)?,
        note: body.note,
    };
    Ok(created(&state.app.book(&ctx, request).await?))
}

async fn change(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    action: BookingAction,
) -> ApiResult<Json<Value>> {
    Ok(Json(booking(
        &state.app.change_booking(ctx, id, action).await?,
    )))
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    change(&state, &ctx, id, BookingAction::Cancel).await
}

async fn check_in(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    change(&state, &ctx, id, BookingAction::CheckIn).await
}

async fn no_show(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    change(&state, &ctx, id, BookingAction::NoShow).await
}

#[derive(Deserialize)]
struct RescheduleBody {
    schedule_id: i64,
    slot_id: Option<i64>,
}

async fn reschedule(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<RescheduleBody>,
) -> ApiResult<axum::response::Response> {
    let b = state
        .app
        .reschedule(&ctx, id, body.schedule_id, body.slot_id)
        .await?;
    Ok(created(&b))
}

async fn resident_bookings(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .resident_bookings(&ctx, id, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(booking).collect(),
        page.next_after,
    )))
}
