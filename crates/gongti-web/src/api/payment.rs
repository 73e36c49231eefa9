//! Payment and performance over JSON (`app::payment`, DOMAIN.md §6): the what-if
//! endpoints insurers and committees use while they set a scheme, nothing saved —
//! `POST /capitation/simulate` (a year of capitation under a total budget) and
//! `POST /incentives/simulate` (a month's incentive pool shared by workload, post and
//! quality). Shares, weights and scores are JSON numbers read exactly as written.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_core::decimal::shown;
use gongti_core::payment::capitation::{self, BandForm, CapitationForm, MemberForm};
use gongti_core::payment::incentive::PersonForm;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::extract::ApiJson;

/// A year of a large institution's members (up to `capitation::MEMBERS_MAX`, about
/// 40 bytes each) is larger than the API's usual limit on a body.
const BODY_MAX_BYTES: usize = 64 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/capitation/simulate", post(simulate_capitation))
        .route("/incentives/simulate", post(simulate_incentives))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_MAX_BYTES))
}

#[derive(Deserialize)]
struct MemberBody {
    weight: f64,
    days: i64,
    /// Persons alike (a group); one when left out.
    #[serde(default = "one")]
    count: i64,
}

fn one() -> i64 {
    1
}

#[derive(Deserialize)]
struct BandBody {
    min_score: f64,
    multiplier: f64,
}

#[derive(Deserialize)]
struct CapitationBody {
    rate_fen: i64,
    days_in_year: i64,
    members: Vec<MemberBody>,
    prepay_share: f64,
    quality_score: f64,
    quality_bands: Vec<BandBody>,
    actual_cost_fen: i64,
    surplus_cap_share: Option<f64>,
    overspend_share: f64,
}

/// A count of millionths as the JSON number it is.
fn number(millionths: i128) -> Value {
    shown(millionths, capitation::PLACES)
        .parse::<f64>()
        .map_or(Value::Null, Value::from)
}

async fn simulate_capitation(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<CapitationBody>,
) -> ApiResult<Json<Value>> {
    let form = CapitationForm {
        rate_fen: body.rate_fen,
        days_in_year: body.days_in_year,
        members: body
            .members
            .iter()
            .map(|m| MemberForm {
                weight: m.weight,
                days: m.days,
                count: m.count,
            })
            .collect(),
        prepay_share: body.prepay_share,
        quality_score: body.quality_score,
        quality_bands: body
            .quality_bands
            .iter()
            .map(|b| BandForm {
                min_score: b.min_score,
                multiplier: b.multiplier,
            })
            .collect(),
        actual_cost_fen: body.actual_cost_fen,
        surplus_cap_share: body.surplus_cap_share,
        overspend_share: body.overspend_share,
    };
    let c = state.app.simulate_capitation(&ctx, &form).await?;
    Ok(Json(json!({
        "budget_fen": c.budget_fen,
        "prepaid_fen": c.prepaid_fen,
        "monthly_prepayments_fen": c.monthly_prepayments_fen,
        "multiplier": number(c.multiplier),
        "adjusted_budget_fen": c.adjusted_budget_fen,
        "surplus_fen": c.surplus_fen,
        "surplus_rate": c.surplus_rate.map_or(Value::Null, number),
        "retained_fen": c.retained_fen,
        "fund_covers_fen": c.fund_covers_fen,
        "community_bears_fen": c.community_bears_fen,
    })))
}

#[derive(Deserialize)]
struct PersonBody {
    id: String,
    units: f64,
    post: f64,
    quality: f64,
}

#[derive(Deserialize)]
struct IncentiveBody {
    pool_fen: i64,
    people: Vec<PersonBody>,
}

async fn simulate_incentives(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<IncentiveBody>,
) -> ApiResult<Json<Value>> {
    let people: Vec<PersonForm> = body
        .people
        .into_iter()
        .map(|p| PersonForm {
            id: p.id,
            units: p.units,
            post: p.post,
            quality: p.quality,
        })
        .collect();
    let paid = state
        .app
        .simulate_incentives(&ctx, body.pool_fen, &people)
        .await?;
    let payouts: Vec<Value> = paid
        .iter()
        .map(|p| json!({"id": p.id, "pay_fen": p.pay_fen}))
        .collect();
    Ok(Json(json!({ "payouts": payouts })))
}
