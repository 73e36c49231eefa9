//! An institution's incentive month over JSON (`app::payment` pool, issue 17 points
//! 6–7): `GET /incentives/institutions/{id}/months/{year}/{month}` (the pool's sources,
//! each person's work counts, units, post, quality factor and pay), and a person's
//! month with the work items behind it — `GET /incentives/me/months/{year}/{month}`
//! (one's own) and `GET /incentives/staff/{id}/months/{year}/{month}` (for those who
//! oversee the institution's pool).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::payment::{IncentiveMonth, PersonMonth};
use gongti_core::payment::scheme::WorkKind;
use gongti_store::WorkItem;
use serde::Deserialize;
use serde_json::{Value, json};

use super::number;
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::{AppState, views};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/incentives/institutions/{id}/months/{year}/{month}",
            get(institution_month),
        )
        .route(
            "/incentives/institutions/{id}/months/{year}/{month}/lock",
            post(lock),
        )
        .route(
            "/incentives/institutions/{id}/months/{year}/{month}/approve",
            post(approve),
        )
        .route(
            "/incentives/institutions/{id}/months/{year}/{month}/pay",
            post(pay),
        )
        .route("/incentives/me/months/{year}/{month}", get(my_month))
        .route("/incentives/me/months/{year}/{month}/appeals", post(appeal))
        .route("/incentives/appeals/{id}/answer", post(answer))
        .route(
            "/incentives/staff/{id}/months/{year}/{month}",
            get(staff_month),
        )
}

/// Ten-thousandths as the JSON number they are.
fn tenths_of_mille(v: i128) -> Value {
    number(v * 100)
}

fn person_view(p: &PersonMonth) -> Value {
    let mut counts = serde_json::Map::new();
    for (k, n) in WorkKind::ALL.iter().zip(p.counts) {
        counts.insert(k.code().to_owned(), json!(n));
    }
    json!({
        "staff_id": p.staff_id,
        "name": p.name,
        "role": p.role.code(),
        "team": p.team,
        "work": counts,
        "units": tenths_of_mille(p.units),
        "post": tenths_of_mille(p.post),
        "quality": tenths_of_mille(p.quality),
        "quality_rate": p.quality_rate.map_or(Value::Null, number),
        "pay_fen": p.pay_fen,
    })
}

fn month_view(m: &IncentiveMonth) -> Value {
    json!({
        "institution_id": m.institution_id,
        "institution_name": m.institution_name,
        "year": m.year,
        "month": m.month,
        "from": m.first.to_string(),
        "through": m.last.to_string(),
        "scheme_version": m.scheme_version,
        "state": m.settled.as_ref().map_or("counted", |s| s.state.as_str()),
        "locked": m.settled.as_ref().map(|s| mark(&s.locked)),
        "approved": m.settled.as_ref().and_then(|s| s.approved.as_ref().map(mark)),
        "approval_note": m.settled.as_ref().and_then(|s| s.approval_note.clone()),
        "paid": m.settled.as_ref().and_then(|s| s.paid.as_ref().map(mark)),
        "appeals": m.appeals.iter().map(|a| json!({
            "id": a.id, "staff_id": a.staff_id, "name": a.staff_name, "reason": a.reason,
            "state": a.state, "answer": a.answer, "created_at": views::utc(a.created_at_us),
            "answered": a.answered.as_ref().map(mark),
        })).collect::<Vec<_>>(),
        "contracts": m.contracts,
        "contract_fees_fen": m.fees_fen,
        "team_share": number(m.team_share),
        "sources": m.sources.iter().map(|(s, fen)| json!({"source": s.code(), "amount_fen": fen})).collect::<Vec<_>>(),
        "pool_fen": m.pool_fen,
        "undistributed_fen": m.undistributed_fen,
        "people": m.people.iter().map(person_view).collect::<Vec<_>>(),
    })
}

fn item_view(i: &WorkItem) -> Value {
    json!({
        "kind": i.kind,
        "record_id": i.record_id,
        "on": i.on.map(|d| d.to_string()),
        "at": i.at_us.map(views::utc),
    })
}

async fn institution_month(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((id, year, month)): Path<(i64, i32, u8)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(month_view(
        &state.app.incentive_month(&ctx, id, year, month).await?,
    )))
}

fn work_view(m: &IncentiveMonth, p: &PersonMonth, items: &[WorkItem]) -> Value {
    json!({
        "institution_id": m.institution_id,
        "year": m.year,
        "month": m.month,
        "scheme_version": m.scheme_version,
        "pool_fen": m.pool_fen,
        "state": m.settled.as_ref().map_or("counted", |s| s.state.as_str()),
        "appeals": m.appeals.iter().filter(|a| a.staff_id == p.staff_id).map(|a| json!({
            "id": a.id, "reason": a.reason, "state": a.state, "answer": a.answer,
            "created_at": views::utc(a.created_at_us),
        })).collect::<Vec<_>>(),
        "person": person_view(p),
        "items": items.iter().map(item_view).collect::<Vec<_>>(),
    })
}

async fn my_month(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((year, month)): Path<(i32, u8)>,
) -> ApiResult<Json<Value>> {
    let (m, p, items) = state.app.incentive_work(&ctx, None, year, month).await?;
    Ok(Json(work_view(&m, &p, &items)))
}

async fn staff_month(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((id, year, month)): Path<(i64, i32, u8)>,
) -> ApiResult<Json<Value>> {
    let (m, p, items) = state
        .app
        .incentive_work(&ctx, Some(id), year, month)
        .await?;
    Ok(Json(work_view(&m, &p, &items)))
}

fn mark(m: &gongti_store::MonthMark) -> Value {
    json!({"by": m.by_name, "at": views::utc(m.at_us)})
}

/// The sources a month is locked with: retained surplus and public-health performance
/// funds, in fen (the contract fee's team share is counted).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LockBody {
    #[serde(default)]
    sources: Vec<SourceBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceBody {
    source: String,
    amount_fen: i64,
}

async fn lock(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((id, year, month)): Path<(i64, i32, u8)>,
    body: Option<ApiJson<LockBody>>,
) -> ApiResult<Json<Value>> {
    let body = body.map(|b| b.0).unwrap_or_default();
    let entered: Vec<(String, i64)> = body
        .sources
        .into_iter()
        .map(|s| (s.source, s.amount_fen))
        .collect();
    state
        .app
        .lock_incentive_month(&ctx, id, (year, month), &entered)
        .await?;
    institution_month(State(state), axum::Extension(ctx), Path((id, year, month))).await
}

/// The committee's note, or an appeal's reason, or an answer.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoteBody {
    note: Option<String>,
}

async fn approve(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((id, year, month)): Path<(i64, i32, u8)>,
    body: Option<ApiJson<NoteBody>>,
) -> ApiResult<Json<Value>> {
    let note = body.and_then(|b| b.0.note).unwrap_or_default();
    state
        .app
        .approve_incentive_month(&ctx, id, (year, month), &note)
        .await?;
    institution_month(State(state), axum::Extension(ctx), Path((id, year, month))).await
}

async fn pay(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((id, year, month)): Path<(i64, i32, u8)>,
) -> ApiResult<Json<Value>> {
    state
        .app
        .pay_incentive_month(&ctx, id, (year, month))
        .await?;
    institution_month(State(state), axum::Extension(ctx), Path((id, year, month))).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppealBody {
    reason: String,
}

async fn appeal(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((year, month)): Path<(i32, u8)>,
    ApiJson(body): ApiJson<AppealBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = state
        .app
        .appeal_incentive_month(&ctx, (year, month), &body.reason)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "state": "open"})),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerBody {
    upheld: bool,
    answer: String,
}

async fn answer(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<AnswerBody>,
) -> ApiResult<Json<Value>> {
    state
        .app
        .answer_incentive_appeal(&ctx, id, body.upheld, &body.answer)
        .await?;
    Ok(Json(
        json!({"id": id, "state": if body.upheld { "upheld" } else { "dismissed" }}),
    ))
}
