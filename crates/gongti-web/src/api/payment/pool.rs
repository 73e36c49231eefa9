//! An institution's incentive month over JSON (`app::payment` pool, issue 17 points
//! 6–7): `GET /incentives/institutions/{id}/months/{year}/{month}` (the pool's sources,
//! each person's work counts, units, post, quality factor and pay), and a person's
//! month with the work items behind it — `GET /incentives/me/months/{year}/{month}`
//! (one's own) and `GET /incentives/staff/{id}/months/{year}/{month}` (for those who
//! oversee the institution's pool).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::payment::{IncentiveMonth, PersonMonth};
use gongti_core::payment::scheme::WorkKind;
use gongti_store::WorkItem;
use serde_json::{Value, json};

use super::number;
use crate::error::ApiResult;
use crate::{AppState, views};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/incentives/institutions/{id}/months/{year}/{month}",
            get(institution_month),
        )
        .route("/incentives/me/months/{year}/{month}", get(my_month))
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
        "state": "counted",
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
