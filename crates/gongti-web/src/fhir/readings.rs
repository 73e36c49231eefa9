//! `POST Observation` of a stored resident, with no Encounter: a laboratory result
//! (`fhir::lab`), or a home reading (a BP panel 85354-9, a blood glucose 15074-8 in
//! mmol/L) uploaded through the
//! readings use case — its validation,
//! reach, alerting and audit. The Observation's `identifier` is the uploader's own id
//! for the reading: posting it again changes nothing and answers the stored one (200).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gongti_app::{AppError, Ctx};
use gongti_core::chronic::readings::ReadingForm;
use gongti_core::problem::{FieldProblem, Problem};
use serde_json::Value;

use super::write::{one_item_err, resource_body, write_err, written};
use crate::AppState;
use crate::error::ApiError;

const LOINC: &str = "http://loinc.org";

fn problem(field: &'static str, problem: Problem) -> FieldProblem {
    FieldProblem { field, problem }
}

/// The reading an Observation is (its subject aside): every problem collected.
pub(super) fn reading_of(o: &Value) -> Result<ReadingForm, Vec<FieldProblem>> {
    let code = o["code"]["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["system"] == LOINC)
        .and_then(|c| c["code"].as_str());
    let component = |loinc: &str| {
        o["component"].as_array()?.iter().find(|c| {
            c["code"]["coding"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|x| x["code"] == loinc))
        })?["valueQuantity"]["value"]
            .as_f64()
    };
    let mut form = ReadingForm {
        client_reading_id: o["identifier"][0]["value"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        taken_at: o["effectiveDateTime"].as_str().map(str::to_owned),
        device: o["device"]["display"].as_str().map(str::to_owned),
        ..Default::default()
    };
    match code {
        Some("85354-9") => {
            form.kind = "bp".into();
            form.sbp_mmhg = component("8480-6").map(|v| v.round() as i64);
            form.dbp_mmhg = component("8462-4").map(|v| v.round() as i64);
        }
        // A blood glucose in mmol/L, taken fasting unless the reading says otherwise.
        Some("15074-8") => {
            if super::lab::unit_of(&o["valueQuantity"]).is_some_and(|u| u.trim() != "mmol/L") {
                return Err(vec![problem(
                    "valueQuantity.unit",
                    Problem::Inconsistent { with: "code" },
                )]);
            }
            form.kind = "glucose".into();
            form.glucose_mmol = o["valueQuantity"]["value"].as_f64();
        }
        _ => return Err(vec![problem("code", Problem::UnknownCode)]),
    }
    Ok(form)
}

/// The reading an Observation is, and whose (a stored resident): every problem
/// collected.
fn reading_form(o: &Value) -> Result<(i64, ReadingForm), AppError> {
    let resident = o["subject"]["reference"]
        .as_str()
        .and_then(|r| r.rsplit_once("Patient/"))
        .and_then(|(_, id)| id.parse::<i64>().ok());
    let mut problems = Vec::new();
    if resident.is_none() {
        problems.push(problem("Observation.subject", Problem::Required));
    }
    let form = reading_of(o).map_err(|found| problems.extend(found));
    match (resident, form) {
        (Some(r), Ok(form)) if problems.is_empty() => Ok((r, form)),
        _ => Err(AppError::Invalid(problems)),
    }
}

/// `POST Observation`.
pub(super) async fn create_observation(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let o = resource_body(&headers, &body, "Observation")?;
    if o["encounter"].is_null() && super::lab::is_laboratory(&o) {
        return super::lab::create(&state, &ctx, &headers, &o).await;
    }
    if !o["encounter"].is_null() {
        // A follow-up's measurements come with their Encounter in a transaction.
        return Err(write_err(AppError::Invalid(vec![problem(
            "Observation.encounter",
            Problem::NotAllowed,
        )])));
    }
    let (resident, form) = reading_form(&o).map_err(write_err)?;
    let client_id = form.client_reading_id.trim().to_owned();
    let outcome = state
        .app
        .upload_readings(&ctx, vec![(resident, form)])
        .await
        .map_err(one_item_err)?;
    let created = outcome.first().and_then(|o| o.id).is_some();
    // The reading as stored (a repeat answers the one stored before).
    let stored = state
        .app
        .resident_readings(
            &ctx,
            resident,
            0,
            i64::MAX,
            gongti_app::readings::READINGS_LIST_MAX,
        )
        .await
        .map_err(write_err)?
        .into_iter()
        .find(|r| r.client_reading_id == client_id)
        .ok_or_else(|| ApiError::not_found().fhir())?;
    let (_, resource) = super::chronic::reading_observation(&stored);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(written(&state, status, resource, &headers))
}
