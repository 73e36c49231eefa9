//! Laboratory results as FHIR Observations (category `laboratory`, LOINC, UCUM): a
//! fasting glucose (14771-0 in mmol/L, or 1558-6 in mg/dL converted) or an HbA1c
//! (4548-4, %) of a resident, posted alone or in a transaction Bundle, recorded by the
//! `app::lab` use case and counted in the indicators on its collection day. The
//! Observation's `identifier` is the sender's id for the result: posting it again
//! answers the stored one (200). Served as `Observation/lab{id}`.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gongti_app::{AppError, Ctx};
use gongti_core::exam::items::{CriticalSide, LabItems};
use gongti_core::lab::{LOINC, LabResultForm};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_store::LabResultRecord;
use serde_json::{Value, json};
use time::Date;

use super::chronic::{quantity, simple_observation};
use super::write::{one_item_err, write_err, written};
use super::{fhir_err, meta};
use crate::AppState;
use crate::error::ApiError;
use crate::views::utc;

/// Where a result's `identifier` values live when the sender named no system: the
/// recording institution's ids.
const SOURCE_SYSTEM: &str = "urn:gongti:lab-result";

/// Whether an Observation is a laboratory result: category `laboratory`, or a code
/// only a laboratory measures (a serum or plasma glucose, an HbA1c).
pub(super) fn is_laboratory(o: &Value) -> bool {
    let category = o["category"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
        .any(|c| c["code"] == "laboratory");
    let lab_code = o["code"]["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| {
            c["system"] == LOINC
                && (c["code"] == "14771-0" || c["code"] == "1558-6" || c["code"] == "4548-4")
        });
    category || lab_code
}

/// The region's day and the instant of an `effectiveDateTime` (a day alone, or a
/// date-time with its offset).
fn collected(v: &Value) -> (Option<Date>, Option<i64>) {
    let Some(text) = v.as_str().map(str::trim) else {
        return (None, None);
    };
    if text.len() == 10 {
        let day = Date::parse(
            text,
            time::macros::format_description!("[year]-[month]-[day]"),
        );
        return (day.ok(), None);
    }
    match time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        Ok(t) => (
            Some(t.to_offset(gongti_app::DISPLAY_OFFSET).date()),
            Some((t.unix_timestamp_nanos() / 1_000) as i64),
        ),
        Err(_) => (None, None),
    }
}

/// A quantity's UCUM code, or its human unit when that is the only one given.
pub(super) fn unit_of(q: &Value) -> Option<&str> {
    q["code"].as_str().or(q["unit"].as_str())
}

/// The result an Observation carries (its subject is read by the caller).
pub(super) fn lab_form(o: &Value) -> LabResultForm {
    let (collected_on, collected_at_us) = collected(&o["effectiveDateTime"]);
    let q = &o["valueQuantity"];
    LabResultForm {
        source_system: o["identifier"][0]["system"].as_str().map(str::to_owned),
        source_id: o["identifier"][0]["value"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        loinc: o["code"]["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["system"] == LOINC)
            .and_then(|c| c["code"].as_str())
            .map(str::to_owned),
        value: q["value"].as_f64(),
        unit: unit_of(q).map(str::to_owned),
        collected_on,
        collected_at_us,
    }
}

/// The interpretation codes (HL7 v2 table 0078 and FHIR's v3-ObservationInterpretation
/// share them) a laboratory's abnormal flags map to.
const INTERPRETATIONS: [(&str, &str); 7] = [
    ("H", "High"),
    ("L", "Low"),
    ("HH", "Critical high"),
    ("LL", "Critical low"),
    ("A", "Abnormal"),
    ("AA", "Critical abnormal"),
    ("N", "Normal"),
];

/// A stored result as an Observation, with its LOINC code (`""` for a code Gongti's
/// items table does not know, which a search by code does not find).
pub(super) fn lab_observation(r: &LabResultRecord) -> (&'static str, Value) {
    let when: Value = match r.collected_at_us {
        Some(us) => utc(us).into(),
        None => r.collected_on.to_string().into(),
    };
    let item = (r.code_system == "LN")
        .then(|| LabItems::builtin().get(&r.loinc))
        .flatten();
    let (code, display, label): (&'static str, String, String) = match (r.test, item) {
        (Some(test), _) => (
            test.loinc(),
            test.loinc_display().into(),
            test.label_zh().into(),
        ),
        (None, Some(item)) => (
            item.loinc.as_str(),
            item.label_en.clone(),
            item.label_zh.clone(),
        ),
        (None, None) => ("", r.display.clone(), r.display.clone()),
    };
    let value = match (r.test, r.value_centi) {
        (Some(test), Some(c)) => quantity(c as f64 / 100.0, test.unit(), test.unit()),
        (None, Some(c)) if !r.unit.is_empty() => quantity(c as f64 / 100.0, &r.unit, &r.unit),
        (None, Some(c)) => json!({"value": c as f64 / 100.0}),
        (_, None) => Value::Null,
    };
    let mut v = simple_observation(
        format!("lab{}", r.id),
        r.resident_id,
        when,
        (code, &display, "laboratory"),
        value,
        None,
    );
    if r.value_centi.is_none() {
        v.as_object_mut().map(|o| o.remove("valueQuantity"));
        v["valueString"] = r.value_text.clone().into();
    }
    if code.is_empty() {
        v["code"]["coding"] = json!([{"system": format!("{SOURCE_SYSTEM}:lab-code:{}", r.code_system), "code": r.loinc}]);
    }
    v["status"] = r.status.code().into();
    if !label.is_empty() {
        v["code"]["text"] = label.into();
    }
    let system = match r.source_system.as_str() {
        "" => format!("{SOURCE_SYSTEM}:{}", r.institution_id),
        given if given.contains(':') => given.to_owned(),
        // a laboratory's HL7 sender (`LIS@FACILITY`)
        given => format!("{SOURCE_SYSTEM}:hl7:{given}"),
    };
    v["identifier"] = json!([{"system": system, "value": r.source_id}]);
    v["performer"] = json!([{"reference": format!("Organization/{}", r.institution_id)}]);
    v["issued"] = utc(r.created_at_us).into();
    if !r.reference_range.is_empty() {
        v["referenceRange"] = json!([{"text": r.reference_range}]);
    }
    let flags: Vec<Value> = r
        .flags
        .split(',')
        .filter_map(|f| INTERPRETATIONS.iter().find(|(c, _)| *c == f.trim()))
        .map(|(c, d)| json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": c, "display": d}]}))
        .collect();
    if !flags.is_empty() {
        v["interpretation"] = flags.into();
    }
    if r.test.is_some_and(|t| r.loinc != t.loinc()) {
        v["note"] =
            json!([{"text": format!("报告值 reported as {} (LOINC {})", r.reported, r.loinc)}]);
    }
    if let Some(side) = r.critical {
        let text = match side {
            CriticalSide::Low => "危急值（低）critical value (low)",
            CriticalSide::High => "危急值（高）critical value (high)",
        };
        v["note"] = json!([{"text": text}]);
    }
    v["meta"] = meta(r.version);
    (code, v)
}

/// `POST Observation` of a laboratory result for a stored resident.
pub(super) async fn create(
    state: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    o: &Value,
) -> Result<Response, ApiError> {
    let resident = o["subject"]["reference"]
        .as_str()
        .and_then(|r| r.rsplit_once("Patient/"))
        .and_then(|(_, id)| id.parse::<i64>().ok());
    let Some(resident) = resident else {
        return Err(write_err(AppError::Invalid(vec![FieldProblem::new(
            "Observation.subject",
            Problem::Required,
        )])));
    };
    let outcome = state
        .app
        .record_lab_results(ctx, vec![(resident, lab_form(o))])
        .await
        .map_err(one_item_err)?;
    let Some(done) = outcome.first() else {
        return Err(ApiError::not_found().fhir());
    };
    let stored = state
        .app
        .resident_lab_results(ctx, resident)
        .await
        .map_err(fhir_err)?
        .into_iter()
        .find(|r| r.id == done.id)
        .ok_or_else(|| ApiError::not_found().fhir())?;
    let (_, resource) = lab_observation(&stored);
    let status = if done.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(written(state, status, resource, headers))
}
