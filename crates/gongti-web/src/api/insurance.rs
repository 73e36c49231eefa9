//! 门特 settlement over JSON (DOMAIN.md §6): a passed prescription pre-settled (the
//! patient's share shown), settled for that share, reversed before it is filled; the
//! insurance officer's list of settlements (figures, no names).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::insurance::SettlementAnswer;
use gongti_store::{SettlementRecord, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/prescriptions/{id}/settlement/preview", post(preview))
        .route("/prescriptions/{id}/settlement", post(settle))
        .route("/prescriptions/{id}/settlement/reverse", post(reverse))
        .route("/prescriptions/{id}/settlements", get(of_prescription))
        .route("/insurance/settlements", get(list))
}

#[derive(Deserialize, Default)]
struct PreviewBody {
    #[serde(default)]
    use_account: bool,
}

#[derive(Deserialize)]
struct SettleBody {
    #[serde(default)]
    use_account: bool,
    expected_cash_fen: i64,
}

/// A pre-settlement or settlement in fen, with each line's split.
pub(crate) fn answer_view(a: &SettlementAnswer) -> Value {
    json!({
        "disease": a.disease,
        "policy_version": a.policy_version,
        "setl_id": a.setl_id,
        "total_fen": a.total_fen,
        "deductible_fen": a.deductible_fen,
        "fund_fen": a.fund_fen,
        "patient_fen": a.patient_fen,
        "account_fen": a.account_fen,
        "cash_fen": a.cash_fen,
        "lines": a.lines.iter().map(|l| json!({
            "product_code": l.product_code,
            "name": l.name,
            "packs": l.packs,
            "insurance_class": l.class,
            "amount_fen": l.amount_fen,
            "fully_self_fen": l.fully_self_fen,
            "over_cap_fen": l.over_cap_fen,
            "pre_self_fen": l.pre_self_fen,
            "in_scope_fen": l.in_scope_fen,
        })).collect::<Vec<_>>(),
    })
}

/// A kept settlement: its figures, never the patient's name.
pub(crate) fn record_view(s: &SettlementRecord) -> Value {
    let f = &s.figures;
    json!({
        "id": s.id,
        "setl_id": s.setl_id,
        "prescription_id": s.prescription_id,
        "disease": s.disease,
        "year": s.year,
        "policy_version": s.policy_version,
        "status": s.status,
        "total_fen": f.total_fen,
        "fully_self_fen": f.fully_self_fen,
        "over_cap_fen": f.over_cap_fen,
        "pre_self_fen": f.pre_self_fen,
        "in_scope_fen": f.in_scope_fen,
        "deductible_fen": f.deductible_fen,
        "fund_fen": f.fund_fen,
        "patient_fen": f.account_fen + f.cash_fen,
        "account_fen": f.account_fen,
        "cash_fen": f.cash_fen,
        "settled_at": views::utc(s.settled_at_us),
        "reversed_at": s.reversed_at_us.map(views::utc),
    })
}

async fn preview(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<PreviewBody>,
) -> ApiResult<Json<Value>> {
    let a = state
        .app
        .presettle_prescription(&ctx, id, body.use_account)
        .await?;
    Ok(Json(answer_view(&a)))
}

async fn settle(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<SettleBody>,
) -> ApiResult<Response> {
    let a = state
        .app
        .settle_prescription(&ctx, id, body.use_account, body.expected_cash_fen)
        .await?;
    Ok((StatusCode::CREATED, Json(answer_view(&a))).into_response())
}

async fn reverse(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    state.app.reverse_prescription_settlement(&ctx, id).await?;
    let kept = state.app.prescription_settlements(&ctx, id).await?;
    Ok(Json(
        json!({"items": kept.iter().map(record_view).collect::<Vec<_>>()}),
    ))
}

async fn of_prescription(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    let kept = state.app.prescription_settlements(&ctx, id).await?;
    Ok(Json(
        json!({"items": kept.iter().map(record_view).collect::<Vec<_>>()}),
    ))
}

async fn list(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<super::PageParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .settlement_list(&ctx, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(record_view).collect(),
        page.next_after,
    )))
}
