//! The cloud pharmacy over JSON: `POST /prescriptions/check`, a draft judged by
//! DOMAIN.md §4 at once (the prescribing form calls it as the doctor types), the
//! institution's rule settings, and the issued prescriptions (`prescriptions`).

mod prescriptions;

pub(crate) use prescriptions::{decode_queue_cursor, encode_queue_cursor};

use axum::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::pharmacy::{
    CheckRequest, PatientInput, PrescriberInput, parse_channel, parse_kind,
};
use gongti_core::pharmacy::check::{Channel, DraftLine, Judgement, LongRx, RxKind, Visit};
use gongti_core::pharmacy::{Hepatic, Route, TitleLevel};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_core::resident::parse_sex;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;

/// Years of independent practice a prescriber may state.
const PRACTICE_YEARS_MAX: u32 = 80;
const SUPPLY_REASON_MAX_CHARS: usize = 200;
const DOSE_UNIT_MAX_CHARS: usize = 20;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/prescriptions/check", post(check))
        .route("/institutions/{id}/drug-rules", get(rules))
        .route("/institutions/{id}/drug-rules/{rule}", put(set_rule))
        .merge(prescriptions::routes())
}

#[derive(Deserialize, Default)]
struct PatientBody {
    age_years: Option<f64>,
    sex: Option<String>,
    weight_kg: Option<f64>,
    #[serde(default)]
    pregnant: bool,
    #[serde(default)]
    lactating: bool,
    egfr_ml_min: Option<f64>,
    hepatic_impairment: Option<String>,
    #[serde(default)]
    allergies: Vec<String>,
    #[serde(default)]
    diagnoses: Vec<String>,
    #[serde(default)]
    current_drugs: Vec<String>,
}

#[derive(Deserialize, Default)]
struct PrescriberBody {
    licensed: Option<bool>,
    independent_practice_years: Option<u32>,
    title_level: Option<String>,
    assistant: Option<bool>,
    #[serde(default)]
    cosigned: bool,
    #[serde(default)]
    township_solo: bool,
    #[serde(default)]
    narcotic_privilege: bool,
}

#[derive(Deserialize, Default)]
struct VisitBody {
    channel: Option<String>,
    #[serde(default)]
    offline_diagnoses: Vec<String>,
    #[serde(default)]
    guardian_present: bool,
    #[serde(default)]
    specialist_present: bool,
}

#[derive(Deserialize)]
struct LongBody {
    #[serde(default)]
    first: bool,
    #[serde(default)]
    assessment_recorded: bool,
    #[serde(default)]
    patient_confirmed: bool,
}

#[derive(Deserialize)]
struct LineBody {
    #[serde(default)]
    generic_name: String,
    dose: Option<f64>,
    dose_unit: Option<String>,
    times_per_day: Option<u32>,
    route: Option<String>,
    days: Option<u32>,
}

#[derive(Deserialize)]
pub(crate) struct CheckBody {
    resident_id: Option<i64>,
    #[serde(default)]
    patient: PatientBody,
    #[serde(default)]
    prescriber: PrescriberBody,
    #[serde(default)]
    visit: VisitBody,
    kind: Option<String>,
    validity_days: Option<u32>,
    long_prescription: Option<LongBody>,
    supply_reason: Option<String>,
    lines: Vec<LineBody>,
}

/// A code field: absent is `None`; present and unknown is a problem.
fn code<T>(
    problems: &mut Vec<FieldProblem>,
    field: &'static str,
    text: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let text = text?;
    let parsed = parse(text.trim());
    if parsed.is_none() {
        problems.push(FieldProblem::new(field, Problem::UnknownCode));
    }
    parsed
}

pub(crate) fn request(body: CheckBody) -> Result<CheckRequest, ApiError> {
    let mut problems = Vec::new();
    let mut indexed = Vec::new();
    let p = body.patient;
    let sex = code(&mut problems, "sex", p.sex.as_deref(), parse_sex);
    let hepatic = code(
        &mut problems,
        "hepatic_impairment",
        p.hepatic_impairment.as_deref(),
        Hepatic::parse,
    );
    let title = code(
        &mut problems,
        "title_level",
        body.prescriber.title_level.as_deref(),
        TitleLevel::parse,
    );
    let channel = code(
        &mut problems,
        "channel",
        body.visit.channel.as_deref(),
        parse_channel,
    );
    let kind = code(&mut problems, "kind", body.kind.as_deref(), parse_kind);
    if body
        .prescriber
        .independent_practice_years
        .is_some_and(|y| y > PRACTICE_YEARS_MAX)
    {
        problems.push(FieldProblem::new(
            "independent_practice_years",
            Problem::OutOfRange {
                min: "0",
                max: "80",
            },
        ));
    }
    if body
        .supply_reason
        .as_deref()
        .is_some_and(|r| r.chars().count() > SUPPLY_REASON_MAX_CHARS)
    {
        problems.push(FieldProblem::new(
            "supply_reason",
            Problem::TooLong {
                max_chars: SUPPLY_REASON_MAX_CHARS,
            },
        ));
    }
    let mut lines = Vec::with_capacity(body.lines.len());
    for (index, l) in body.lines.into_iter().enumerate() {
        if l.dose_unit
            .as_deref()
            .is_some_and(|u| u.chars().count() > DOSE_UNIT_MAX_CHARS)
        {
            indexed.push((
                index,
                FieldProblem::new(
                    "dose_unit",
                    Problem::TooLong {
                        max_chars: DOSE_UNIT_MAX_CHARS,
                    },
                ),
            ));
        }
        let route = match l.route.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(r) => {
                let parsed = Route::parse(r);
                if parsed.is_none() {
                    indexed.push((index, FieldProblem::new("route", Problem::UnknownCode)));
                }
                parsed
            }
        };
        lines.push(DraftLine {
            generic_name: l.generic_name,
            dose: l.dose,
            dose_unit: l.dose_unit,
            times_per_day: l.times_per_day,
            route,
            days: l.days,
        });
    }
    if !problems.is_empty() || !indexed.is_empty() {
        return Err(invalid(problems, indexed));
    }
    let supply_reason = body
        .supply_reason
        .as_deref()
        .is_some_and(|r| gongti_core::text::visible_chars(r) > 0);
    Ok(CheckRequest {
        resident_id: body.resident_id,
        patient: PatientInput {
            age_years: p.age_years,
            sex,
            weight_kg: p.weight_kg,
            pregnant: p.pregnant,
            lactating: p.lactating,
            egfr_ml_min: p.egfr_ml_min,
            hepatic,
            allergies: p.allergies,
            diagnoses: p.diagnoses,
            current_drugs: p.current_drugs,
        },
        prescriber: PrescriberInput {
            licensed: body.prescriber.licensed,
            independent_practice_years: body.prescriber.independent_practice_years,
            title,
            assistant: body.prescriber.assistant,
            cosigned: body.prescriber.cosigned,
            township_solo: body.prescriber.township_solo,
            narcotic_privilege: body.prescriber.narcotic_privilege,
        },
        visit: Visit {
            channel: channel.unwrap_or(Channel::Clinic),
            offline_diagnoses: body.visit.offline_diagnoses,
            guardian_present: body.visit.guardian_present,
            specialist_present: body.visit.specialist_present,
        },
        kind: kind.unwrap_or(RxKind::Normal),
        validity_days: body.validity_days.unwrap_or(1),
        long: body.long_prescription.map(|l| LongRx {
            first: l.first,
            assessment_recorded: l.assessment_recorded,
            patient_confirmed: l.patient_confirmed,
        }),
        supply_reason,
        lines,
    })
}

pub(crate) fn invalid(
    problems: Vec<FieldProblem>,
    indexed: Vec<(usize, FieldProblem)>,
) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "处方草稿有误，请检查标出的字段（index 为药品行序号，从 0 起）",
        "The draft has problems; see the fields listed (index is the line, from 0)",
    );
    error.problems = problems;
    error.indexed = indexed.into_boxed_slice();
    error
}

/// The judgement as JSON (DOMAIN.md §4's shape).
pub(crate) fn judgement_view(j: &Judgement) -> Value {
    json!({
        "verdict": j.verdict.code(),
        "ruleset_version": j.ruleset_version,
        "findings": gongti_app::pharmacy::findings_json(&j.findings),
    })
}

async fn check(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<CheckBody>,
) -> ApiResult<Json<Value>> {
    let request = request(body)?;
    match state.app.check_prescription(&ctx, request).await? {
        Ok(judgement) => Ok(Json(judgement_view(&judgement))),
        Err(p) => Err(invalid(p.fields, p.lines)),
    }
}

#[derive(Deserialize, Default)]
struct RulesQuery {
    kind: Option<String>,
}

/// Every rule of the knowledge base with the institution's decision on it.
pub(crate) fn rules_view(
    kb: &gongti_core::pharmacy::Knowledge,
    settings: &[gongti_store::DrugRuleSetting],
    kind: Option<gongti_core::pharmacy::knowledge::RuleKind>,
) -> Vec<Value> {
    kb.rules()
        .iter()
        .filter(|r| kind.is_none_or(|k| r.kind == k))
        .map(|r| {
            let setting = settings.iter().find(|s| s.rule_id == r.id);
            json!({
                "id": r.id,
                "kind": r.kind.code(),
                "about": r.about_zh,
                "about_en": r.about_en,
                "grade": r.grade.number(),
                "text": r.text_zh,
                "text_en": r.text_en,
                "basis": r.basis,
                "state": setting.map_or("unset", |s| s.state.as_str()),
                "reason": setting.and_then(|s| s.reason.clone()),
                "decided_by": setting.map(|s| s.staff_name.clone()),
                "decided_at": setting.map(|s| crate::views::utc(s.at_us)),
                "decided_on_ruleset": setting.map(|s| s.ruleset_version.clone()),
            })
        })
        .collect()
}

async fn rules(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<RulesQuery>,
) -> ApiResult<Json<Value>> {
    let kind = match q.kind.as_deref() {
        None => None,
        Some(k) => Some(
            gongti_core::pharmacy::knowledge::RuleKind::parse(k).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_kind",
                    "kind 不是可用的规则类别",
                    "kind is not a rule kind",
                )
            })?,
        ),
    };
    let settings = state.app.drug_rules(&ctx, id).await?;
    let kb = state.app.knowledge();
    Ok(Json(json!({
        "ruleset_version": kb.version,
        "items": rules_view(kb, &settings, kind),
    })))
}

#[derive(Deserialize)]
struct RuleBody {
    state: String,
    reason: Option<String>,
}

async fn set_rule(
    State(state): State<AppState>,
    Path((id, rule)): Path<(i64, String)>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<RuleBody>,
) -> ApiResult<Json<Value>> {
    state
        .app
        .set_drug_rule(&ctx, id, &rule, &body.state, body.reason.as_deref())
        .await?;
    let settings = state.app.drug_rules(&ctx, id).await?;
    let kb = state.app.knowledge();
    let view = rules_view(kb, &settings, None)
        .into_iter()
        .find(|v| v["id"] == rule)
        .unwrap_or(Value::Null);
    Ok(Json(view))
}
