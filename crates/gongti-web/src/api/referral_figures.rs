//! Cloud-management figures over JSON (DOMAIN.md §3): referrals up and down by month
//! and institution, time to visit, the share returned to grassroots care, the use of
//! reserved slots, and the patients behind each referral figure.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_core::referral::figures::ReferralMeasure;
use gongti_store::clamp_page_size;
use serde::Deserialize;
use serde_json::{Value, json};

use super::bad_code;
use super::indicators::{listed_patient, parse_period, parse_scope, scope_text};
use crate::error::ApiResult;
use crate::extract::{ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/indicators/referrals", get(figures))
        .route("/indicators/referrals/patients", get(patients))
}

#[derive(Deserialize)]
struct FigureParams {
    scope: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// A rate in per cent with two decimals, or null without a denominator.
fn percent(numerator: u64, denominator: u64) -> Value {
    if denominator == 0 {
        return Value::Null;
    }
    json!(((numerator * 10_000 + denominator / 2) / denominator) as f64 / 100.0)
}

async fn figures(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<FigureParams>,
) -> ApiResult<Json<Value>> {
    let scope = parse_scope(&ctx, q.scope.as_deref())?;
    let period = parse_period(&state, q.from.as_deref(), q.to.as_deref())?;
    let f = state.app.cloud_figures(&ctx, &scope, &period).await?;
    let r = &f.referrals;
    let months: Vec<Value> = r
        .by_month
        .iter()
        .map(|((y, m), c)| json!({"month": format!("{y:04}-{m:02}"), "up": c.up, "down": c.down}))
        .collect();
    let institutions: Vec<Value> = r
        .by_institution
        .iter()
        .map(|(id, c)| {
            json!({"institution_id": id, "institution_name": f.institution_names.get(id), "up": c.up, "down": c.down})
        })
        .collect();
    let used = f.reserved.by_family_doctors + f.reserved.by_public_after_release;
    Ok(Json(json!({
        "scope": scope_text(&scope),
        "from": period.from.to_string(),
        "to": period.to.to_string(),
        "referrals_up": r.up,
        "referrals_down": r.down,
        "by_month": months,
        "by_institution": institutions,
        "returned_to_grassroots": {"numerator": r.returned, "denominator": r.reached, "rate_percent": percent(r.returned, r.reached)},
        "time_to_visit": {"visits": r.visits, "median_hours": r.median_hours_to_visit, "p90_hours": r.p90_hours_to_visit},
        "reserved_slots": {
            "offered": f.reserved.offered,
            "used_by_family_doctors": f.reserved.by_family_doctors,
            "used_by_public_after_release": f.reserved.by_public_after_release,
            "use_rate_percent": percent(used, f.reserved.offered),
        },
    })))
}

#[derive(Deserialize)]
struct PatientParams {
    scope: Option<String>,
    from: Option<String>,
    to: Option<String>,
    measure: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::reason")]
    break_glass_reason: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn patients(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<PatientParams>,
) -> ApiResult<Json<Value>> {
    let scope = parse_scope(&ctx, q.scope.as_deref())?;
    let period = parse_period(&state, q.from.as_deref(), q.to.as_deref())?;
    let measure = ReferralMeasure::parse(q.measure.as_deref().unwrap_or("up"))
        .ok_or_else(|| bad_code("measure", "up, down, reached, returned"))?;
    let after = decode_cursor(q.cursor.as_deref())?;
    let list = state
        .app
        .referral_figure_patients(
            &ctx,
            &gongti_app::referral_figures::ReferralListQuery {
                scope,
                period,
                measure,
            },
            after,
            clamp_page_size(q.limit, PAGE_SIZE_DEFAULT),
            q.break_glass_reason.as_deref(),
        )
        .await?;
    let items: Vec<Value> = list
        .items
        .iter()
        .map(|(referral, p)| {
            let mut v = listed_patient(p);
            v["referral_id"] = (*referral).into();
            v
        })
        .collect();
    let mut page = views::page(items, list.next_after);
    page["identified"] = list.identified.into();
    Ok(Json(page))
}
