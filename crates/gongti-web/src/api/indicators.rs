//! Chronic-disease indicators over JSON: figures per programme for a scope and
//! period, and the patients behind each numerator and denominator.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::indicators::{ListPart, PatientListQuery};
use gongti_core::chronic::indicators::{
    Indicator, Period, Tally, rate_basis_points, required_face_to_face,
};
use gongti_core::chronic::{Disease, RULESET_VERSION};
use gongti_core::role::ScopeLevel;
use gongti_store::{IndicatorScope, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views, wording};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/indicators", get(indicators))
        .route("/indicators/patients", get(patients))
}

/// `city`, `district:<code>` or `institution:<id>`; by default the actor's own.
pub(crate) fn parse_scope(ctx: &Ctx, text: Option<&str>) -> Result<IndicatorScope, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "bad_scope",
            "范围应为 city、district:<区划代码> 或 institution:<机构编号>",
            "scope must be city, district:<code> or institution:<id>",
        )
    };
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some("city") => Ok(IndicatorScope::City),
        Some(t) => match t.split_once(':') {
            Some(("district", code)) if !code.is_empty() => {
                Ok(IndicatorScope::District(code.to_owned()))
            }
            Some(("institution", id)) => id
                .parse()
                .map(IndicatorScope::Institution)
                .map_err(|_| bad()),
            _ => Err(bad()),
        },
        None => match (
            ctx.principal.role.scope_level(),
            ctx.principal.institution_id,
            &ctx.principal.district_code,
        ) {
            (ScopeLevel::Institution, Some(id), _) => Ok(IndicatorScope::Institution(id)),
            (ScopeLevel::District, _, Some(code)) => Ok(IndicatorScope::District(code.clone())),
            _ => Ok(IndicatorScope::City),
        },
    }
}

pub(crate) fn scope_text(s: &IndicatorScope) -> String {
    match s {
        IndicatorScope::City => "city".into(),
        IndicatorScope::District(c) => format!("district:{c}"),
        IndicatorScope::Institution(id) => format!("institution:{id}"),
    }
}

fn date(field: &'static str, text: Option<&str>, default: Date) -> Result<Date, ApiError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(t) => Date::parse(t, &fmt).map_err(|_| {
            ApiError::bad_request(
                "bad_date",
                &format!("{field} 应为 YYYY-MM-DD 格式的日期"),
                &format!("{field} must be a date as YYYY-MM-DD"),
            )
        }),
    }
}

/// The period asked for; by default this calendar year (a standard period, read from
/// the counters kept as records are written).
pub(crate) fn parse_period(
    state: &AppState,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Period, ApiError> {
    let today = state.app.today();
    let year = gongti_core::chronic::maintained::StandardPeriod::Year(today.year()).period();
    let from = date("from", from, year.from)?;
    let to = date("to", to, year.to)?;
    Period::new(from, to).ok_or_else(|| {
        ApiError::unprocessable(
            "bad_period",
            "开始日期不能晚于结束日期",
            "from must not be after to",
        )
    })
}

fn diseases(text: Option<&str>) -> Result<Vec<Disease>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(Disease::ALL.to_vec()),
        Some(t) => Disease::parse(t).map(|d| vec![d]).ok_or_else(|| {
            ApiError::bad_request(
                "bad_disease",
                "病种应为 hypertension 或 diabetes",
                "disease must be hypertension or diabetes",
            )
        }),
    }
}

fn figure(numerator: u64, denominator: u64) -> Value {
    json!({
        "numerator": numerator,
        "denominator": denominator,
        "rate": rate_basis_points(numerator, denominator).map(|bp| bp as f64 / 10_000.0),
    })
}

pub(crate) fn programme(disease: Disease, tally: &Tally, previous: Option<&Tally>) -> Value {
    let (zh, en) = wording::disease(disease);
    let indicators: Vec<Value> = Indicator::ALL
        .iter()
        .filter(|i| i.applies_to(disease))
        .map(|i| {
            let (label, label_en) = wording::indicator(*i);
            let (n, d) = tally.get(*i);
            let mut v = figure(n, d);
            v["code"] = i.code().into();
            v["label"] = label.into();
            v["label_en"] = label_en.into();
            if let Some(p) = previous {
                let (pn, pd) = p.get(*i);
                v["previous"] = figure(pn, pd);
            }
            v
        })
        .collect();
    json!({
        "disease": disease.code(),
        "label": zh,
        "label_en": en,
        "managed": tally.managed,
        "face_to_face_visits": tally.face_to_face_visits,
        "previous_managed": previous.map(|p| p.managed),
        "indicators": indicators,
    })
}

#[derive(Deserialize)]
struct IndicatorParams {
    scope: Option<String>,
    from: Option<String>,
    to: Option<String>,
    disease: Option<String>,
    compare: Option<String>,
}

async fn indicators(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<IndicatorParams>,
) -> ApiResult<Json<Value>> {
    let scope = parse_scope(&ctx, q.scope.as_deref())?;
    let period = parse_period(&state, q.from.as_deref(), q.to.as_deref())?;
    let diseases = diseases(q.disease.as_deref())?;
    let now = state
        .app
        .indicators(&ctx, &scope, &diseases, &period)
        .await?;
    let previous = match q.compare.as_deref() {
        Some("previous") => Some(
            state
                .app
                .indicator_comparison(&ctx, &scope, &diseases, &period)
                .await?,
        ),
        None | Some("") => None,
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_compare",
                "compare 只能为 previous",
                "compare must be previous",
            ));
        }
    };
    let programmes: Vec<Value> = now
        .iter()
        .enumerate()
        .map(|(i, (d, t))| {
            let before = previous
                .as_ref()
                .filter(|p| p.comparable)
                .map(|p| &p.tallies[i].1);
            programme(*d, t, before)
        })
        .collect();
    Ok(Json(json!({
        "scope": scope_text(&scope),
        "from": period.from.to_string(),
        "to": period.to.to_string(),
        "days": period.days(),
        "required_face_to_face": required_face_to_face(&period, state.app.chronic_params()),
        // The period compared with; while this one is in progress, read up to the same
        // day (`as_of`); not `comparable` when the scope's records began after it did.
        "previous": previous.as_ref().map(|c| {
            let p = c.basis.period;
            json!({"from": p.from.to_string(), "to": p.to.to_string(),
                   "as_of": c.basis.as_of.map(|d| d.to_string()),
                   "comparable": c.comparable,
                   "records_since": c.records_since.map(|d| d.to_string())})
        }),
        "programmes": programmes,
        "ruleset_version": RULESET_VERSION,
    })))
}

#[derive(Deserialize)]
struct PatientParams {
    scope: Option<String>,
    from: Option<String>,
    to: Option<String>,
    disease: Option<String>,
    indicator: Option<String>,
    part: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
    #[serde(default, deserialize_with = "crate::extract::reason")]
    break_glass_reason: Option<String>,
}

async fn patients(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<PatientParams>,
) -> ApiResult<Json<Value>> {
    let scope = parse_scope(&ctx, q.scope.as_deref())?;
    let period = parse_period(&state, q.from.as_deref(), q.to.as_deref())?;
    let disease = match diseases(q.disease.as_deref())?.as_slice() {
        [one] if q.disease.is_some() => *one,
        _ => {
            return Err(ApiError::bad_request(
                "disease_required",
                "请指定病种",
                "Name the programme (disease)",
            ));
        }
    };
    let indicator = q
        .indicator
        .as_deref()
        .and_then(Indicator::parse)
        .filter(|i| i.applies_to(disease))
        .ok_or_else(|| {
            ApiError::unprocessable(
                "bad_indicator",
                "指标代码无效或不属于该病种",
                "Unknown indicator for this programme",
            )
        })?;
    let part = match q.part.as_deref() {
        None | Some("") | Some("numerator") => ListPart::Numerator,
        Some("denominator") => ListPart::Denominator,
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_part",
                "part 应为 numerator 或 denominator",
                "part must be numerator or denominator",
            ));
        }
    };
    let after = decode_cursor(q.cursor.as_deref())?;
    let list = state
        .app
        .indicator_patient_list(
            &ctx,
            &PatientListQuery {
                scope,
                disease,
                period,
                indicator,
                part,
            },
            after,
            clamp_page_size(q.limit, PAGE_SIZE_DEFAULT),
            q.break_glass_reason.as_deref(),
        )
        .await?;
    let items: Vec<Value> = list
        .items
        .iter()
        .map(|p| {
            let mut v = listed_patient(p);
            v["enrolment_id"] = p.enrolment_id.into();
            v
        })
        .collect();
    let mut page = views::page(items, list.next_after);
    page["identified"] = list.identified.into();
    Ok(Json(page))
}

/// A patient on an indicator's list, named or masked as the app decided.
pub(crate) fn listed_patient(p: &gongti_app::indicators::ListedPatient) -> Value {
    json!({
        "resident_id": p.resident_id,
        "name": p.name,
        "id_number": p.id_number_masked,
        "sex": views::sex_code(p.sex),
        "age_band": p.age_band,
        "institution_id": p.institution_id,
        "institution_name": p.institution_name,
    })
}
