//! The year-end clearing over JSON (`app::payment` clearing, issue 17 point 5):
//! `GET /capitation/years/{year}/clearing` (each institution's frozen inputs, its
//! figures recomputed from them and whether they agree with those saved, its state),
//! `POST …/clearing/freeze` and `…/clearing/close` (the insurance officer), the
//! steps on one institution's clearing `POST …/clearing/institutions/{id}/{confirm |
//! dispute | approve | settle}`, and the persons behind it
//! `GET …/clearing/institutions/{id}/members`; and what the city dashboard shows of a
//! cleared year, `GET /capitation/years/{year}/figures` (the surplus rate, cost per
//! enrolled person and share above the grassroots, for the city, by district and by
//! institution).

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::payment::{InstitutionClearing, YearClearing};
use gongti_core::decimal::shown;
use gongti_core::payment::clearing::ClearingStep;
use gongti_core::payment::costs::CostTally;
use gongti_core::payment::scheme::{QualityTerm, SchemeKind};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{number, tally_view};
use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::{AppState, views};

pub(super) fn routes() -> Router<AppState> {
    let step = |s: ClearingStep| {
        post(
            move |state: State<AppState>,
                  ctx: axum::Extension<Ctx>,
                  path: Path<(i32, i64)>,
                  body: Option<ApiJson<StepBody>>| take_step(state, ctx, path, s, body),
        )
    };
    Router::new()
        .route("/capitation/years/{year}/clearing", get(clearing))
        .route("/capitation/years/{year}/clearing/freeze", post(freeze))
        .route("/capitation/years/{year}/clearing/close", post(close))
        .route("/capitation/years/{year}/figures", get(figures))
        .route(
            "/capitation/years/{year}/clearing/institutions/{id}/members",
            get(members),
        )
        .route(
            "/capitation/years/{year}/clearing/institutions/{id}/confirm",
            step(ClearingStep::Confirm),
        )
        .route(
            "/capitation/years/{year}/clearing/institutions/{id}/dispute",
            step(ClearingStep::Dispute),
        )
        .route(
            "/capitation/years/{year}/clearing/institutions/{id}/approve",
            step(ClearingStep::Approve),
        )
        .route(
            "/capitation/years/{year}/clearing/institutions/{id}/settle",
            step(ClearingStep::Settle),
        )
}

/// A tally's sums and its three figures (basis points, fen; null with nothing to
/// divide by).
fn payment_tally(t: &gongti_core::payment::figures::PaymentTally) -> Value {
    json!({
        "institutions": t.institutions,
        "persons": t.persons,
        "adjusted_budget_fen": t.adjusted_budget_fen,
        "cost_fen": t.cost_fen,
        "surplus_fen": t.surplus_fen,
        "upper_fen": t.upper_fen,
        "surplus_rate_bp": t.surplus_rate_bp(),
        "cost_per_person_fen": t.cost_per_person_fen(),
        "upper_share_bp": t.upper_share_bp(),
    })
}

#[derive(Debug, Default, Deserialize)]
struct FiguresQuery {
    district: Option<String>,
}

async fn figures(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(year): Path<i32>,
    Query(q): Query<FiguresQuery>,
) -> ApiResult<Json<Value>> {
    let f = state
        .app
        .payment_figures(&ctx, year, q.district.as_deref().filter(|d| !d.is_empty()))
        .await?;
    Ok(Json(json!({
        "year": f.year,
        "scheme_version": f.scheme_version,
        "closed": f.closed,
        "total": payment_tally(&f.total),
        "districts": f.districts.iter().map(|d| json!({
            "code": d.code,
            "name": d.name,
            "figures": payment_tally(&d.tally),
        })).collect::<Vec<_>>(),
        "institutions": f.institutions.iter().map(|i| json!({
            "institution_id": i.institution_id,
            "name": i.name,
            "district_code": i.district_code,
            "community": i.community_name,
            "state": i.state,
            "figures": payment_tally(&i.tally),
        })).collect::<Vec<_>>(),
    })))
}

/// A step's words: a dispute's reason, an approval's reply.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepBody {
    reason: Option<String>,
    reply: Option<String>,
    /// The freeze the caller saw (`frozen_at_us` of the institution's clearing).
    frozen_at_us: Option<i64>,
}

fn by_kind(v: [i64; 3]) -> Value {
    let mut o = serde_json::Map::new();
    for (k, n) in SchemeKind::ALL.iter().zip(v) {
        o.insert(k.code().to_owned(), json!(n));
    }
    Value::Object(o)
}

fn mark(m: &Option<gongti_store::ClearingMark>) -> Value {
    m.as_ref().map_or(
        Value::Null,
        |m| json!({"by": m.by_name, "at": views::utc(m.at_us)}),
    )
}

fn institution_view(i: &InstitutionClearing) -> Value {
    let r = &i.record.row;
    let f = &i.figures;
    let c = &f.clearing;
    let a = &f.assessment;
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
    let cost = CostTally {
        by_source_fen: r.cost_by_source_fen,
        by_level_fen: r.cost_by_level_fen,
        lines: r.cost_lines,
    };
    json!({
        "institution_id": r.institution_id,
        "name": i.record.institution_name,
        "district_code": i.record.district_code,
        "community": i.record.community_id.map(|id| json!({"id": id, "name": i.record.community_name})),
        "state": i.state.code(),
        "frozen_at_us": i.record.frozen_at_us,
        "inputs": {
            "persons": by_kind(r.persons),
            "person_days": by_kind(r.person_days),
            "budget_fen": r.budget_fen,
            "prepaid_fen": r.prepaid_fen,
            "quality_terms": terms,
            "cost": tally_view(&cost),
        },
        "score": a.score.map_or(Value::Null, number),
        "multiplier": number(c.multiplier),
        "adjusted_budget_fen": c.adjusted_budget_fen,
        "cost_fen": cost.total_fen(),
        "surplus_fen": c.surplus_fen,
        "surplus_rate": c.surplus_rate.map_or(Value::Null, number),
        "retained_fen": c.retained_fen,
        "fund_covers_fen": c.fund_covers_fen,
        "community_bears_fen": c.community_bears_fen,
        "balance_fen": f.balance_fen,
        "reproduced": i.reproduced,
        "reason": i.record.reason,
        "reply": i.record.reply,
        "answered": mark(&i.record.answered),
        "approved": mark(&i.record.approved),
        "settled": mark(&i.record.settled),
    })
}

pub(crate) fn clearing_view(y: &YearClearing) -> Value {
    let sum = |g: fn(&InstitutionClearing) -> i64| y.institutions.iter().map(g).sum::<i64>();
    json!({
        "year": y.year.year,
        "state": y.year.state,
        "scheme_version": y.year.scheme_version,
        "frozen_at": y.year.frozen_at_us.map(views::utc),
        "closed_at": y.year.closed_at_us.map(views::utc),
        "budget_fen": sum(|i| i.record.row.budget_fen),
        "adjusted_budget_fen": sum(|i| i.figures.clearing.adjusted_budget_fen),
        "cost_fen": sum(|i| i.record.row.cost_by_source_fen.iter().sum()),
        "retained_fen": sum(|i| i.figures.clearing.retained_fen),
        "community_bears_fen": sum(|i| i.figures.clearing.community_bears_fen),
        "balance_fen": sum(|i| i.figures.balance_fen),
        "institutions": y.institutions.iter().map(institution_view).collect::<Vec<_>>(),
    })
}

async fn clearing(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(year): Path<i32>,
) -> ApiResult<Json<Value>> {
    Ok(Json(clearing_view(
        &state.app.capitation_clearing(&ctx, year).await?,
    )))
}

/// Freezes in a task of its own: the clearing once done, or 202 with the year
/// `freezing` when it goes on past the wait (a city's year takes a minute).
async fn freeze(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(year): Path<i32>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    if !state
        .app
        .start_freeze(&ctx, year, crate::FREEZE_WAIT)
        .await?
    {
        return Ok((
            axum::http::StatusCode::ACCEPTED,
            Json(json!({"year": year, "state": "freezing"})),
        )
            .into_response());
    }
    Ok(clearing(State(state), axum::Extension(ctx), Path(year))
        .await?
        .into_response())
}

async fn close(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(year): Path<i32>,
) -> ApiResult<Json<Value>> {
    state.app.close_capitation_year(&ctx, year).await?;
    clearing(State(state), axum::Extension(ctx), Path(year)).await
}

async fn take_step(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((year, id)): Path<(i32, i64)>,
    step: ClearingStep,
    body: Option<ApiJson<StepBody>>,
) -> ApiResult<Json<Value>> {
    let body = body.map(|b| b.0).unwrap_or_default();
    let words = match step {
        ClearingStep::Dispute | ClearingStep::Confirm => body.reason,
        ClearingStep::Approve | ClearingStep::Settle => body.reply,
    };
    state
        .app
        .clearing_step(&ctx, year, id, step, words.as_deref(), body.frozen_at_us)
        .await?;
    let y = state.app.capitation_clearing(&ctx, year).await?;
    let one = y
        .institutions
        .iter()
        .find(|i| i.record.row.institution_id == id)
        .map(institution_view)
        .ok_or(gongti_app::AppError::NotFound)?;
    Ok(Json(one))
}

async fn members(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((year, id)): Path<(i32, i64)>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<crate::api::PageParams>,
) -> ApiResult<Json<Value>> {
    let after = crate::extract::decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .clearing_persons(
            &ctx,
            year,
            id,
            after,
            gongti_store::clamp_page_size(q.limit, crate::PAGE_SIZE_DEFAULT),
        )
        .await?;
    // the part of B: the share divided by the year's days (B rounds once, over all)
    let days = gongti_core::payment::membership::days_in_year(year);
    let items = page
        .items
        .iter()
        .map(|p| {
            let m = &p.member;
            json!({
                "resident_id": m.resident_id,
                "name": p.name_masked,
                "age": m.age,
                "condition": m.condition,
                "days": by_kind(m.days),
                "share_fen": shown(i128::from(m.share_micro_fen) / i128::from(days), 6).parse::<f64>().map_or(Value::Null, Value::from),
                "cost_fen": m.cost_fen,
            })
        })
        .collect();
    Ok(Json(views::page(items, page.next_after)))
}
