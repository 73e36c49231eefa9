//! Chronic-disease management over JSON: the follow-up rules as a service.

use axum::extract::State;
use axum::{Json, Router, routing::post};
use gongti_app::Ctx;
use gongti_core::chronic::RULESET_VERSION;
use gongti_core::chronic::followup::{Evaluation, FollowupForm};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::extract::ApiJson;
use crate::{AppState, wording};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/followups/evaluate", post(evaluate_followup))
}

/// The follow-up fields the rules read, as the client sends them.
#[derive(Deserialize)]
pub(crate) struct FollowupBody {
    #[serde(default)]
    disease: String,
    age_years: Option<i64>,
    #[serde(default)]
    method: String,
    sbp_mmhg: Option<i64>,
    dbp_mmhg: Option<i64>,
    fpg_mmol: Option<f64>,
    heart_rate_bpm: Option<i64>,
    temperature_c: Option<f64>,
    #[serde(default)]
    symptoms: Vec<String>,
    #[serde(default)]
    pregnant_or_breastfeeding: bool,
    #[serde(default)]
    adverse_reaction: bool,
    #[serde(default)]
    adverse_reaction_uncontrolled: bool,
    complication: Option<String>,
    previous_classification: Option<i64>,
}

impl FollowupBody {
    pub(crate) fn form(self) -> FollowupForm {
        FollowupForm {
            disease: self.disease,
            age_years: self.age_years,
            method: self.method,
            sbp_mmhg: self.sbp_mmhg,
            dbp_mmhg: self.dbp_mmhg,
            fpg_mmol: self.fpg_mmol,
            heart_rate_bpm: self.heart_rate_bpm,
            temperature_c: self.temperature_c,
            symptoms: self.symptoms,
            pregnant_or_breastfeeding: self.pregnant_or_breastfeeding,
            adverse_reaction: self.adverse_reaction,
            adverse_reaction_uncontrolled: self.adverse_reaction_uncontrolled,
            complication: self.complication,
            previous_classification: self.previous_classification,
        }
    }
}

/// The rules' verdict as JSON, each reason with the rule that fired and its wording.
pub(crate) fn evaluation(e: &Evaluation) -> Value {
    let reasons: Vec<Value> = e
        .reasons
        .iter()
        .map(|r| {
            let (zh, en) = wording::reason(*r);
            json!({"code": r.code(), "rule": r.rule(), "message": zh, "message_en": en})
        })
        .collect();
    let (label, label_en) = e
        .classification
        .map(wording::classification)
        .map_or((Value::Null, Value::Null), |(zh, en)| {
            (zh.into(), en.into())
        });
    json!({
        "classification": e.classification.map(|c| c.number()),
        "classification_label": label,
        "classification_label_en": label_en,
        "urgent_referral": e.urgent_referral,
        "refer": e.refer,
        "next_followup_within_days": e.next_followup_within_days,
        "counts_as_face_to_face": e.counts_as_face_to_face,
        "reasons": reasons,
        "ruleset_version": RULESET_VERSION,
    })
}

async fn evaluate_followup(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<FollowupBody>,
) -> ApiResult<Json<Value>> {
    let (_, e) = state.app.evaluate_followup(&ctx, &body.form())?;
    Ok(Json(evaluation(&e)))
}
