//! Payment and performance over JSON (`app::payment`, DOMAIN.md §6): the what-if
//! endpoints insurers and committees use while they set a scheme, nothing saved —
//! `POST /capitation/simulate` (a year of capitation under a total budget) and
//! `POST /incentives/simulate` (a month's incentive pool shared by workload, post and
//! quality). Shares, weights and scores are JSON numbers read exactly as written. And
//! the payment scheme's versions (`GET`/`POST /payment/schemes`, `GET
//! /payment/schemes/{id}`): every parameter by its dotted name (`rate_fen.contracted`,
//! `weight.65.hypertension`, …, `core::payment::scheme`), each proposed and then approved
//! or rejected by the committee (`POST /payment/schemes/{id}/approve|reject`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::payment::{CapitationYear, SchemeDraft, SchemeVersion};
use gongti_core::decimal::shown;
use gongti_core::payment::capitation::{self, BandForm, CapitationForm, MemberForm};
use gongti_core::payment::costs::{CostLevel, CostSource, CostTally};
use gongti_core::payment::incentive::PersonForm;
use gongti_core::payment::scheme::{QualityTerm, SchemeKind};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::{AppState, views};

mod clearing;
mod pool;

/// A year of a large institution's members (up to `capitation::MEMBERS_MAX`, about
/// 40 bytes each) is larger than the API's usual limit on a body.
const BODY_MAX_BYTES: usize = 64 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/capitation/simulate", post(simulate_capitation))
        .route("/incentives/simulate", post(simulate_incentives))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_MAX_BYTES))
        .merge(
            Router::new()
                .route("/payment/schemes", get(schemes).post(save_scheme))
                .route("/payment/schemes/{id}", get(scheme))
                .route("/payment/schemes/{id}/approve", post(approve_scheme))
                .route("/payment/schemes/{id}/reject", post(reject_scheme))
                .route("/capitation/years/{year}", get(capitation_year))
                .route("/capitation/years/{year}/approve", post(approve_year))
                .route(
                    "/capitation/years/{year}/prepayments/{month}/pay",
                    post(pay_month),
                )
                .route("/capitation/years/{year}/costs", get(year_costs))
                .route("/capitation/years/{year}/quality", get(year_quality))
                .route(
                    "/capitation/years/{year}/institutions/{id}/members",
                    get(budget_members),
                )
                .merge(clearing::routes())
                .merge(pool::routes())
                .route(
                    "/capitation/settlements/import",
                    post(import_settlements).layer(axum::extract::DefaultBodyLimit::max(
                        gongti_app::roster::FILE_BYTES_MAX,
                    )),
                ),
        )
}

/// A version's parameters as JSON: each name to its number (`null` for "none").
fn params(text: &str) -> Value {
    let mut out = serde_json::Map::new();
    for line in text.lines() {
        if let Some((name, value)) = line.split_once('\t') {
            let v = if value == "none" {
                Value::Null
            } else {
                serde_json::from_str::<serde_json::Number>(value).map_or(Value::Null, Value::Number)
            };
            out.insert(name.to_owned(), v);
        }
    }
    Value::Object(out)
}

fn version(v: &SchemeVersion) -> Value {
    let r = &v.record;
    json!({
        "id": r.id,
        "effective_from": r.effective_from.to_string(),
        "in_force": v.in_force,
        "note": r.note,
        "based_on": r.based_on,
        "created_by": r.created_by_name,
        "created_at": views::utc(r.created_at_us),
        "state": r.state,
        "decided_by": r.decided_by_name,
        "decided_at": r.decided_at_us.map(views::utc),
        "decision_note": r.decision_note,
        "params": params(&r.params),
    })
}

/// The committee's note: optional for an approval, the reason for a rejection.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    #[serde(default)]
    note: String,
}

async fn decide_scheme(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    approve: bool,
    note: &str,
) -> ApiResult<Json<Value>> {
    state
        .app
        .decide_payment_scheme(ctx, id, approve, note)
        .await?;
    Ok(Json(version(&state.app.payment_scheme(ctx, id).await?)))
}

async fn approve_scheme(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<i64>,
    body: Option<ApiJson<DecisionBody>>,
) -> ApiResult<Json<Value>> {
    let note = body.map(|b| b.0.note).unwrap_or_default();
    decide_scheme(&state, &ctx, id, true, &note).await
}

async fn reject_scheme(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<DecisionBody>,
) -> ApiResult<Json<Value>> {
    decide_scheme(&state, &ctx, id, false, &b.note).await
}

async fn schemes(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    let all = state.app.payment_schemes(&ctx).await?;
    Ok(Json(
        json!({ "items": all.iter().map(version).collect::<Vec<_>>() }),
    ))
}

async fn scheme(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(version(&state.app.payment_scheme(&ctx, id).await?)))
}

#[derive(Deserialize)]
struct SchemeBody {
    effective_from: String,
    note: String,
    #[serde(default)]
    based_on: Option<i64>,
    params: serde_json::Map<String, Value>,
}

/// The body's parameters as the scheme's lines: a number as written, `null` as
/// "none", a string as typed; a name or value the text cannot carry (a line break, a
/// tab, another kind of JSON value) becomes a line the rule refuses by name.
fn params_text(params: &serde_json::Map<String, Value>) -> String {
    let mut text = String::new();
    for (name, value) in params {
        let name = if name.chars().any(char::is_control) {
            "invalid"
        } else {
            name.as_str()
        };
        let value = match value {
            Value::Number(n) => n.to_string(),
            Value::Null => "none".to_owned(),
            Value::String(s) if !s.chars().any(char::is_control) => s.clone(),
            _ => "invalid".to_owned(),
        };
        text.push_str(name);
        text.push('\t');
        text.push_str(&value);
        text.push('\n');
    }
    text
}

async fn save_scheme(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(b): ApiJson<SchemeBody>,
) -> ApiResult<impl IntoResponse> {
    let draft = SchemeDraft {
        effective_from: b.effective_from,
        params: params_text(&b.params),
        note: b.note,
        based_on: b.based_on,
    };
    let id = state.app.save_payment_scheme(&ctx, &draft).await?;
    let saved = state.app.payment_scheme(&ctx, id).await?;
    Ok((
        StatusCode::CREATED,
        [(LOCATION, format!("/api/v1/payment/schemes/{id}"))],
        Json(version(&saved)),
    ))
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
pub(crate) fn number(millionths: i128) -> Value {
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

/// A year's budgets as JSON (`state` "preview" until the insurance officer approves).
pub(crate) fn capitation_view(y: &CapitationYear) -> Value {
    let by_kind = |v: [i64; 3]| {
        let mut o = serde_json::Map::new();
        for (k, n) in SchemeKind::ALL.iter().zip(v) {
            o.insert(k.code().to_owned(), json!(n));
        }
        Value::Object(o)
    };
    let institutions: Vec<Value> = y
        .institutions
        .iter()
        .map(|b| {
            let prepayments: Vec<Value> = (0..12)
                .map(|m| {
                    let state = match (&y.approved, b.paid[m]) {
                        (None, _) => "planned",
                        (Some(_), true) => "paid",
                        (Some(_), false) => "scheduled",
                    };
                    json!({"month": m + 1, "amount_fen": b.budget.months_fen[m], "state": state})
                })
                .collect();
            json!({
                "institution_id": b.budget.institution_id,
                "name": b.institution_name,
                "district_code": b.district_code,
                "community": b.community_id.map(|id| json!({"id": id, "name": b.community_name})),
                "persons": by_kind(b.budget.persons),
                "person_days": by_kind(b.budget.person_days),
                "budget_fen": b.budget.budget_fen,
                "prepaid_fen": b.budget.prepaid_fen,
                "prepayments": prepayments,
            })
        })
        .collect();
    json!({
        "year": y.year,
        "state": y.approved.as_ref().map_or("preview", |a| a.state.as_str()),
        "scheme_version": y.scheme_version,
        "days_in_year": y.days_in_year,
        "counted_on": y.counted_on.to_string(),
        "approved_by": y.approved.as_ref().map(|a| a.approved_by_name.clone()),
        "approved_at": y.approved.as_ref().map(|a| views::utc(a.approved_at_us)),
        "budget_fen": y.budget_fen(),
        "prepaid_fen": y.prepaid_fen(),
        "paid_fen": y.paid_fen(),
        "institutions": institutions,
    })
}

async fn capitation_year(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(year): Path<i32>,
) -> ApiResult<Json<Value>> {
    Ok(Json(capitation_view(
        &state.app.capitation_year(&ctx, year).await?,
    )))
}

async fn approve_year(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(year): Path<i32>,
) -> ApiResult<Json<Value>> {
    state.app.approve_capitation_budget(&ctx, year).await?;
    Ok(Json(capitation_view(
        &state.app.capitation_year(&ctx, year).await?,
    )))
}

async fn pay_month(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((year, month)): Path<(i32, u8)>,
) -> ApiResult<Json<Value>> {
    state.app.pay_capitation_month(&ctx, year, month).await?;
    Ok(Json(capitation_view(
        &state.app.capitation_year(&ctx, year).await?,
    )))
}

/// A tally of costs as JSON: the fund-paid cost by source and level, the upper share.
pub(crate) fn tally_view(t: &CostTally) -> Value {
    let mut by_source = serde_json::Map::new();
    for (i, s) in CostSource::ALL.iter().enumerate() {
        by_source.insert(s.code().to_owned(), json!(t.by_source_fen[i]));
    }
    let mut by_level = serde_json::Map::new();
    for l in CostLevel::ALL {
        by_level.insert(l.code().to_owned(), json!(t.level_fen(l)));
    }
    json!({
        "fund_fen": t.total_fen(),
        "by_source_fen": by_source,
        "by_level_fen": by_level,
        "upper_fen": t.upper_fen(),
        "upper_share": t.upper_share_bp().map(|bp| bp as f64 / 10_000.0),
        "lines": t.lines,
    })
}

async fn year_costs(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(year): Path<i32>,
) -> ApiResult<Json<Value>> {
    let c = state.app.capitation_costs(&ctx, year).await?;
    let institutions: Vec<Value> = c
        .institutions
        .iter()
        .map(|(id, t)| {
            let mut v = tally_view(t);
            v["institution_id"] = json!(id);
            v
        })
        .collect();
    Ok(Json(json!({
        "year": c.year,
        "through": c.through.to_string(),
        "scheme_version": c.scheme_version,
        "total": tally_view(&c.total()),
        "institutions": institutions,
    })))
}

/// `POST /capitation/settlements/import`: the bureau's settlement file (CSV or XLSX,
/// the national 2207 fields) — every row or none; `dry_run=true` checks only.
async fn import_settlements(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<crate::api::roster::ImportParams>,
    body: axum::body::Bytes,
) -> Result<axum::response::Response, crate::error::ApiError> {
    let job = crate::api::roster::job_key(&q)?;
    let result = state
        .app
        .import_bureau_settlements(&ctx, &body, q.dry_run, job)
        .await;
    Ok(crate::api::roster::answer(
        result,
        q.dry_run,
        ("imported", "would_import", "already_imported"),
    ))
}

async fn year_quality(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(year): Path<i32>,
) -> ApiResult<Json<Value>> {
    let q = state.app.capitation_quality(&ctx, year).await?;
    let institutions: Vec<Value> = q
        .institutions
        .iter()
        .map(|i| {
            let a = &i.assessment;
            let terms: Vec<Value> = QualityTerm::ALL
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    json!({
                        "term": t.code(),
                        "numerator": a.counts[k].0,
                        "denominator": a.counts[k].1,
                        "rate": a.rates[k].map_or(Value::Null, number),
                    })
                })
                .collect();
            json!({
                "institution_id": i.institution_id,
                "name": i.name,
                "terms": terms,
                "score": a.score.map_or(Value::Null, number),
                "multiplier": a.multiplier.map_or(Value::Null, number),
            })
        })
        .collect();
    Ok(Json(json!({
        "year": q.year,
        "from": q.period.from.to_string(),
        "through": q.period.to.to_string(),
        "scheme_version": q.scheme_version,
        "institutions": institutions,
    })))
}

async fn budget_members(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((year, id)): Path<(i32, i64)>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<crate::api::PageParams>,
) -> ApiResult<Json<Value>> {
    let after = crate::extract::decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .capitation_members(
            &ctx,
            year,
            id,
            after,
            gongti_store::clamp_page_size(q.limit, crate::PAGE_SIZE_DEFAULT),
        )
        .await?;
    let items = page
        .items
        .iter()
        .map(|m| {
            json!({
                "resident_id": m.resident_id,
                "name": m.name_masked,
                "age": m.age,
                "condition": m.condition.code(),
                "days": {"contracted": m.days[0], "mt_hypertension": m.days[1], "mt_diabetes": m.days[2]},
                "share_fen": shown(m.share_micro_fen, 6).parse::<f64>().map_or(Value::Null, Value::from),
            })
        })
        .collect();
    Ok(Json(views::page(items, page.next_after)))
}
