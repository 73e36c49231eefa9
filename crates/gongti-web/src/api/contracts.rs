//! Family-doctor contracts over JSON: sign, renew, switch, terminate, a resident's
//! contract history, the service packages, and the expiring-contracts worklist.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::contracts::ContractAction;
use gongti_core::contract::FeeSplit;
use gongti_store::{ContractRecord, PackageRecord, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::extract::{ApiJson, ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/service-packages", get(packages))
        .route("/residents/{id}/contracts", get(history).post(sign))
        .route("/residents/{id}/contracts/renew", post(renew))
        .route("/residents/{id}/contracts/switch", post(switch))
        .route("/residents/{id}/contracts/terminate", post(terminate))
        .route("/worklists/expiring-contracts", get(expiring))
}

fn fee(s: &FeeSplit) -> Value {
    json!({
        "total_fen": s.total_fen(),
        "insurance_fen": s.insurance_fen,
        "public_health_fen": s.public_health_fen,
        "resident_fen": s.resident_fen,
    })
}

pub(crate) fn package(p: &PackageRecord) -> Value {
    json!({"id": p.id, "code": p.code, "name": p.name, "basic": p.basic, "fee": fee(&p.split)})
}

pub(crate) fn contract(c: &ContractRecord) -> Value {
    json!({
        "id": c.id,
        "resident_id": c.resident_id,
        "resident_name": c.resident_name,
        "team_id": c.team_id,
        "team_name": c.team_name,
        "institution_id": c.institution_id,
        "status": c.status.code(),
        "start_on": c.start_on.to_string(),
        "end_on": c.end_on.to_string(),
        "ended_on": c.ended_on.map(|d| d.to_string()),
        "end_reason": c.end_reason,
        "previous_id": c.previous_id,
        "fee": fee(&c.split),
        "packages": c.package_codes,
        "signed_by_staff_id": c.signed_by_staff_id,
        "signed_at": views::utc(c.signed_at_us),
    })
}

async fn packages(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = state
        .app
        .service_packages()
        .await?
        .iter()
        .map(package)
        .collect();
    Ok(Json(json!({"items": items})))
}

async fn history(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = state
        .app
        .resident_contracts(&ctx, id)
        .await?
        .iter()
        .map(contract)
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize)]
struct TeamBody {
    team_id: i64,
    #[serde(default)]
    packages: Vec<String>,
    /// The resident agreed (required true); recorded on the audit trail.
    #[serde(default)]
    resident_consent: bool,
}

#[derive(Deserialize)]
struct PackagesBody {
    #[serde(default)]
    packages: Vec<String>,
}

#[derive(Deserialize)]
struct ReasonBody {
    #[serde(default)]
    reason: String,
}

async fn apply(
    state: &AppState,
    ctx: &Ctx,
    resident_id: i64,
    action: ContractAction,
) -> ApiResult<axum::response::Response> {
    Ok(
        match state.app.change_contract(ctx, resident_id, action).await? {
            Some(c) => (StatusCode::CREATED, Json(contract(&c))).into_response(),
            None => StatusCode::NO_CONTENT.into_response(),
        },
    )
}

async fn sign(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<TeamBody>,
) -> ApiResult<axum::response::Response> {
    let action = ContractAction::Sign {
        team_id: body.team_id,
        packages: body.packages,
        resident_consent: body.resident_consent,
    };
    apply(&state, &ctx, id, action).await
}

async fn renew(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<PackagesBody>,
) -> ApiResult<axum::response::Response> {
    let action = ContractAction::Renew {
        packages: body.packages,
    };
    apply(&state, &ctx, id, action).await
}

async fn switch(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<TeamBody>,
) -> ApiResult<axum::response::Response> {
    let action = ContractAction::Switch {
        team_id: body.team_id,
        packages: body.packages,
        resident_consent: body.resident_consent,
    };
    apply(&state, &ctx, id, action).await
}

async fn terminate(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> ApiResult<axum::response::Response> {
    let action = ContractAction::Terminate {
        reason: body.reason,
    };
    apply(&state, &ctx, id, action).await
}

#[derive(Deserialize)]
struct WorklistParams {
    team: Option<i64>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn expiring(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<WorklistParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .expiring_contracts(
            &ctx,
            q.team,
            after,
            clamp_page_size(q.limit, PAGE_SIZE_DEFAULT),
        )
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(contract).collect(),
        page.next_after,
    )))
}
