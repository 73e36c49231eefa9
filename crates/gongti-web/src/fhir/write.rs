//! FHIR writes (R4 http.html#create, #update, #ccreate): a resource is read into the
//! same form the JSON API takes and written by the same use case — its validation
//! (every problem at once, nothing half-saved), access decision and audit record.
//!
//! - `POST Patient` registers a resident at the caller's institution (or the
//!   `managingOrganization` given, if the caller may register there); with
//!   `If-None-Exist: identifier=<system>|<ID number>` it answers the resident already
//!   registered (200) instead of a second registration.
//! - `PUT Patient/{id}` replaces the record's demographics; with `If-Match: W/"n"` only
//!   while the record is at version n (412 otherwise).
//!
//! Answers carry `Location` (the new version), `ETag` and the resource as stored
//! (`Prefer: return=minimal` leaves the body out).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongti_app::{AppError, Ctx};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_core::resident::ResidentForm;
use gongti_store::ResidentRecord;
use serde_json::Value;

use super::{ID_NUMBER_SYSTEM, base_url, fhir_err, id_param, patient};
use crate::AppState;
use crate::error::ApiError;

/// A FHIR resource from a request body: JSON of the FHIR media type, of `ty`.
pub(super) fn resource_body(headers: &HeaderMap, body: &[u8], ty: &str) -> Result<Value, ApiError> {
    resource_json(headers, body, ty).map(|json| json.to_value())
}

/// [`resource_body`] borrowed from the body (see [`super::json`]).
pub(super) fn resource_json<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
    ty: &str,
) -> Result<super::json::Json<'a>, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !matches!(
        media.as_deref(),
        Some("application/fhir+json" | "application/json" | "application/json+fhir")
    ) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请求体须为 JSON（application/fhir+json）",
            "The body must be JSON (application/fhir+json)",
        )
        .fhir());
    }
    let bad_json = || {
        ApiError::bad_request(
            "bad_json",
            "请求体不是有效的 JSON",
            "The body is not valid JSON",
        )
        .fhir()
    };
    // The text checked as UTF-8 once, in one pass, rather than string by string.
    let text = std::str::from_utf8(body).map_err(|_| bad_json())?;
    let value: super::json::Json<'a> = serde_json::from_str(text).map_err(|_| bad_json())?;
    if value["resourceType"] != ty {
        return Err(ApiError::bad_request(
            "wrong_resource_type",
            "资源类型与地址不符",
            "The resource's type does not match the address",
        )
        .with_detail(format!("expected {ty}"))
        .fhir());
    }
    Ok(value)
}

/// A string element's text, trimmed; `None` when absent or blank.
fn text(v: &Value) -> Option<&str> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty())
}

fn problem(field: &'static str, problem: Problem) -> FieldProblem {
    FieldProblem { field, problem }
}

/// A FHIR Patient as the registration form, with the institution it names
/// (`managingOrganization`). Every problem is collected.
pub(super) fn patient_form(p: &Value) -> Result<(ResidentForm, Option<i64>), AppError> {
    let mut problems = Vec::new();
    let id_numbers: Vec<&str> = p["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["system"] == ID_NUMBER_SYSTEM)
        .filter_map(|i| text(&i["value"]))
        .collect();
    let id_number = match id_numbers.as_slice() {
        [one] => (*one).to_owned(),
        [] => {
            problems.push(problem("Patient.identifier", Problem::Required));
            String::new()
        }
        _ => {
            problems.push(problem(
                "Patient.identifier",
                Problem::Inconsistent {
                    with: "Patient.identifier",
                },
            ));
            String::new()
        }
    };
    // The official name, else the first: its text, else family then given (Chinese
    // names are written without a space).
    let names = p["name"].as_array().cloned().unwrap_or_default();
    let chosen = names
        .iter()
        .find(|n| n["use"] == "official")
        .or_else(|| names.first());
    let name = chosen
        .and_then(|n| {
            text(&n["text"]).map(str::to_owned).or_else(|| {
                let family = text(&n["family"]).unwrap_or("");
                let given: String = n["given"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(text)
                    .collect();
                let whole = format!("{family}{given}");
                (!whole.is_empty()).then_some(whole)
            })
        })
        .unwrap_or_default();
    let sex = match p["gender"].as_str() {
        None => None,
        Some(g @ ("male" | "female")) => Some(g.to_owned()),
        Some(_) => {
            problems.push(problem("Patient.gender", Problem::UnknownSex));
            None
        }
    };
    let birth_date = match p["birthDate"].as_str() {
        None => None,
        Some(d) => {
            match time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")) {
                Ok(d) => Some(d),
                Err(_) => {
                    problems.push(problem("Patient.birthDate", Problem::UnknownCode));
                    None
                }
            }
        }
    };
    let phone = p["telecom"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["system"] == "phone")
        .and_then(|t| text(&t["value"]))
        .map(str::to_owned);
    let address = p["address"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|a| {
            text(&a["text"]).map(str::to_owned).or_else(|| {
                let lines: String = a["line"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(text)
                    .collect();
                (!lines.is_empty()).then_some(lines)
            })
        });
    let home = match p["managingOrganization"]["reference"].as_str() {
        None => None,
        Some(r) => match r
            .rsplit_once("Organization/")
            .and_then(|(_, id)| id.parse::<i64>().ok())
        {
            Some(id) => Some(id),
            None => {
                problems.push(problem("Patient.managingOrganization", Problem::NotAllowed));
                None
            }
        },
    };
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    Ok((
        ResidentForm {
            name,
            sex,
            birth_date,
            id_number,
            phone,
            address,
            household: None,
        },
        home,
    ))
}

/// A registration's problems named by the FHIR element they came from.
pub(super) fn on_patient(e: AppError) -> AppError {
    match e {
        AppError::Invalid(problems) => AppError::Invalid(
            problems
                .into_iter()
                .map(|p| FieldProblem {
                    field: match p.field {
                        "name" => "Patient.name",
                        "sex" => "Patient.gender",
                        "birth_date" => "Patient.birthDate",
                        "id_number" => "Patient.identifier",
                        "phone" => "Patient.telecom",
                        "address" => "Patient.address",
                        other => other,
                    },
                    problem: p.problem,
                })
                .collect(),
        ),
        AppError::InvalidBatch(problems) => AppError::InvalidBatch(
            problems
                .into_iter()
                .map(|(i, p)| match on_patient(AppError::Invalid(vec![p])) {
                    AppError::Invalid(mut one) => (i, one.remove(0)),
                    _ => unreachable!("on_patient keeps the shape"),
                })
                .collect(),
        ),
        other => other,
    }
}

/// A write error of a batch use case given one item: its problems are the resource's.
pub(super) fn one_item_err(e: AppError) -> ApiError {
    match e {
        AppError::InvalidBatch(found) => write_err(AppError::Invalid(
            found.into_iter().map(|(_, p)| p).collect(),
        )),
        other => write_err(other),
    }
}

/// A refused write as FHIR answers it: a record that moved on from the version the
/// client gave is 412 (R4 http.html#concurrency), problems are named by FHIR element.
pub(super) fn write_err(e: AppError) -> ApiError {
    match e {
        AppError::Conflict("version_changed") => ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "version_changed",
            "记录已被修改（版本不符），请重新读取后再改",
            "The record changed since the version given; read it again",
        )
        .fhir(),
        other => fhir_err(on_patient(other)),
    }
}

/// Whether the caller asked for no body (`Prefer: return=minimal`).
fn minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .any(|p| p.trim().eq_ignore_ascii_case("return=minimal"))
}

/// The answer to a write: its status, the new version's address and tag, the
/// resource as stored.
pub(super) fn written(
    state: &AppState,
    status: StatusCode,
    resource: Value,
    headers: &HeaderMap,
) -> Response {
    let ty = resource["resourceType"].as_str().unwrap_or("").to_owned();
    let id = resource["id"].as_str().unwrap_or("").to_owned();
    let version = resource["meta"]["versionId"]
        .as_str()
        .unwrap_or("1")
        .to_owned();
    let location = format!("{}/{ty}/{id}/_history/{version}", base_url(state));
    let mut answer = if minimal(headers) {
        status.into_response()
    } else {
        (status, super::Fhir(resource)).into_response()
    };
    let h = answer.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v.clone());
        h.insert(header::CONTENT_LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
        h.insert(header::ETAG, v);
    }
    answer
}

/// The ID number an `If-None-Exist` query asks for (`identifier=<system>|<value>`; the
/// system may be left out). Other criteria are refused: we match on identity only.
pub(super) fn id_number_criterion(query: &str) -> Result<String, ApiError> {
    identifier_criterion(query, ID_NUMBER_SYSTEM)
}

/// The identifier value a conditional create's query asks for
/// (`identifier=<system>|<value>`, the system of `system` or left out); other criteria
/// are refused: we match on identity only.
pub(super) fn identifier_criterion(query: &str, system: &str) -> Result<String, ApiError> {
    let refuse = || {
        ApiError::bad_request(
            "unsupported_condition",
            "条件创建仅支持按标识（identifier）",
            "A conditional create matches on the identifier only",
        )
        .fhir()
    };
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
            .into_owned()
            .collect();
    match pairs.as_slice() {
        [(name, value)] if name == "identifier" => {
            let value = match value.split_once('|') {
                Some((s, v)) if s.is_empty() || s == system => v,
                Some(_) => return Err(refuse()),
                None => value.as_str(),
            };
            if value.is_empty() {
                return Err(refuse());
            }
            Ok(value.to_owned())
        }
        _ => Err(refuse()),
    }
}

/// `POST Patient`.
pub(super) async fn create_patient(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = resource_body(&headers, &body, "Patient")?;
    if let Some(query) = headers.get("if-none-exist") {
        let query = query
            .to_str()
            .map_err(|_| id_number_criterion("").unwrap_err())?;
        let id_number = id_number_criterion(query)?;
        let (found, _) = state
            .app
            .search_residents(
                &ctx,
                &gongti_app::residents::ResidentQuery {
                    id_numbers: vec![id_number],
                    ..Default::default()
                },
                None,
                2,
                None,
            )
            .await
            .map_err(fhir_err)?;
        match found.items.as_slice() {
            [] => {}
            [one] => {
                let view = state
                    .app
                    .read_resident(&ctx, one.id, None)
                    .await
                    .map_err(fhir_err)?;
                let resource = patient(
                    &view.record,
                    gongti_core::access::may_see_identifiers(view.basis),
                );
                return Ok(written(&state, StatusCode::OK, resource, &headers));
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "several_matches",
                    "条件匹配到多条记录",
                    "The condition matches more than one record",
                )
                .fhir());
            }
        }
    }
    let (form, home) = patient_form(&p).map_err(fhir_err)?;
    let record = state
        .app
        .register_resident(&ctx, &form, home)
        .await
        .map_err(|e| fhir_err(on_patient(e)))?;
    Ok(written(
        &state,
        StatusCode::CREATED,
        patient(&record, true),
        &headers,
    ))
}

/// The version an `If-Match` header names (`W/"3"` or `"3"`).
pub(super) fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    match headers.get(header::IF_MATCH) {
        None => Ok(None),
        Some(v) => if_match_value(v.to_str().unwrap_or("")).map(Some),
    }
}

/// The version a version tag names (`W/"3"` or `"3"`).
pub(super) fn if_match_value(tag: &str) -> Result<i64, ApiError> {
    Some(tag)
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_if_match",
                "If-Match 应为版本标签，如 W/\"3\"",
                "If-Match must be a version tag such as W/\"3\"",
            )
            .fhir()
        })
}

/// `PUT Patient/{id}`.
pub(super) async fn update_patient(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let key = id_param(&id)?;
    let p = resource_body(&headers, &body, "Patient")?;
    if p["id"].as_str() != Some(id.as_str()) {
        return Err(ApiError::bad_request(
            "id_mismatch",
            "资源的 id 与地址不符",
            "The resource's id does not match the address",
        )
        .fhir());
    }
    let expected = if_match(&headers)?;
    // What FHIR's Patient does not carry (the household) stays as recorded.
    let now: ResidentRecord = state
        .app
        .read_resident(&ctx, key, None)
        .await
        .map_err(fhir_err)?
        .record;
    let (mut form, _) = patient_form(&p).map_err(fhir_err)?;
    form.household = now.household.clone();
    let record = match state.app.update_resident(&ctx, key, &form, expected).await {
        Ok(r) => r,
        Err(e) => return Err(write_err(e)),
    };
    Ok(written(
        &state,
        StatusCode::OK,
        patient(&record, true),
        &headers,
    ))
}
