//! FHIR writes of the region's registry: `POST Organization` adds an institution and
//! `POST PractitionerRole` (its Practitioner contained) a staff member, through the
//! registry's use cases — the same administrator rights, validation and audit as the
//! JSON API. With `If-None-Exist` on the institution code or the practising licence,
//! one already registered is the answer (200). `PUT Organization/{id}` renames an
//! institution or changes its tie; `PUT PractitionerRole/{id}` and `PUT
//! Practitioner/{id}` replace what the staff record says of a person (with `If-Match`
//! only at the version held, 412 otherwise). What identifies or counts a record — an
//! institution's code, kind and district, a staff member's role and institution — is
//! refused as a change (422).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gongti_app::{AppError, Ctx};
use gongti_core::problem::{FieldProblem, Problem};
use gongti_core::region::InstitutionKind;
use gongti_core::role::Role;
use gongti_store::{InstitutionFilter, NewInstitution, NewStaff, StaffFilter};
use serde_json::Value;

use super::write::{identifier_criterion, if_match, resource_body, write_err, written};
use super::{
    INSTITUTION_CODE_SYSTEM, INSTITUTION_KIND_SYSTEM, LICENCE_SYSTEM, ROLE_SYSTEM, fhir_err,
    id_param, organization, practitioner, practitioner_role,
};
use crate::AppState;
use crate::error::ApiError;

fn problem(field: &'static str, problem: Problem) -> FieldProblem {
    FieldProblem { field, problem }
}

/// The value of the first identifier or coding of `system` in `list`.
fn of_system<'v>(list: &'v Value, system: &str, key: &str) -> Option<&'v str> {
    list.as_array()?.iter().find(|i| i["system"] == system)?[key]
        .as_str()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The id a `Type/id` reference names.
fn referenced(v: &Value, ty: &str) -> Option<i64> {
    v["reference"]
        .as_str()?
        .rsplit_once(&format!("{ty}/"))?
        .1
        .parse()
        .ok()
}

/// The identifier an `If-None-Exist` header asks for, of `system`.
fn criterion(headers: &HeaderMap, system: &str) -> Result<Option<String>, ApiError> {
    headers
        .get("if-none-exist")
        .map(|q| identifier_criterion(q.to_str().unwrap_or(""), system))
        .transpose()
}

/// The institution an Organization describes.
fn institution_form(o: &Value) -> Result<NewInstitution, ApiError> {
    let mut problems = Vec::new();
    let code = of_system(&o["identifier"], INSTITUTION_CODE_SYSTEM, "value");
    if code.is_none() {
        problems.push(problem("Organization.identifier", Problem::Required));
    }
    let kind = o["type"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|t| of_system(&t["coding"], INSTITUTION_KIND_SYSTEM, "code"))
        .and_then(InstitutionKind::from_code);
    if kind.is_none() {
        problems.push(problem("Organization.type", Problem::UnknownCode));
    }
    let district = o["address"][0]["district"].as_str().map(str::to_owned);
    let upper = match &o["partOf"] {
        Value::Null => None,
        part => match referenced(part, "Organization") {
            Some(id) => Some(id),
            None => {
                problems.push(problem("Organization.partOf", Problem::NotAllowed));
                None
            }
        },
    };
    let (Some(code), Some(kind), true) = (code, kind, problems.is_empty()) else {
        return Err(fhir_err(AppError::Invalid(problems)));
    };
    Ok(NewInstitution {
        code: code.to_owned(),
        name: o["name"].as_str().unwrap_or("").trim().to_owned(),
        kind,
        district_code: district.unwrap_or_default(),
        upper_institution_id: upper,
    })
}

/// `POST Organization`.
pub(super) async fn create_organization(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let o = resource_body(&headers, &body, "Organization")?;
    if let Some(code) = criterion(&headers, INSTITUTION_CODE_SYSTEM)? {
        let found = state
            .app
            .institutions(
                &InstitutionFilter {
                    codes: vec![code],
                    ..Default::default()
                },
                None,
                1,
            )
            .await
            .map_err(fhir_err)?;
        if let Some(existing) = found.items.first() {
            return Ok(written(
                &state,
                StatusCode::OK,
                organization(existing),
                &headers,
            ));
        }
    }
    let record = state
        .app
        .create_institution(&ctx, &institution_form(&o)?)
        .await
        .map_err(write_err)?;
    Ok(written(
        &state,
        StatusCode::CREATED,
        organization(&record),
        &headers,
    ))
}

/// The person a Practitioner describes: name, practising licence, title.
fn person_of(person: &Value) -> (String, Option<String>, Option<String>) {
    let name = person["name"][0]["text"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let n = &person["name"][0];
            let given: String = n["given"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            format!("{}{given}", n["family"].as_str().unwrap_or(""))
        });
    (
        name,
        of_system(&person["identifier"], LICENCE_SYSTEM, "value").map(str::to_owned),
        person["qualification"][0]["code"]["text"]
            .as_str()
            .map(str::to_owned),
    )
}

/// The staff member a PractitionerRole with its Practitioner contained describes.
fn staff_form(r: &Value) -> Result<NewStaff, ApiError> {
    let mut problems = Vec::new();
    let local = r["practitioner"]["reference"]
        .as_str()
        .and_then(|p| p.strip_prefix('#'));
    let person = r["contained"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["resourceType"] == "Practitioner" && c["id"].as_str() == local);
    let Some(person) = person else {
        problems.push(problem("PractitionerRole.practitioner", Problem::Required));
        return Err(fhir_err(AppError::Invalid(problems)));
    };
    let (name, licence_number, title) = person_of(person);
    let role = r["code"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|c| of_system(&c["coding"], ROLE_SYSTEM, "code"))
        .and_then(Role::from_code);
    if role.is_none() {
        problems.push(problem("PractitionerRole.code", Problem::UnknownCode));
    }
    let institution = referenced(&r["organization"], "Organization");
    if institution.is_none() {
        problems.push(problem("PractitionerRole.organization", Problem::Required));
    }
    let department = match &r["healthcareService"][0] {
        Value::Null => None,
        d => match referenced(d, "HealthcareService") {
            Some(id) => Some(id),
            None => {
                problems.push(problem(
                    "PractitionerRole.healthcareService",
                    Problem::NotAllowed,
                ));
                None
            }
        },
    };
    let Some(role) = role.filter(|_| problems.is_empty()) else {
        return Err(fhir_err(AppError::Invalid(problems)));
    };
    Ok(NewStaff {
        name,
        role,
        institution_id: institution,
        district_code: None,
        department_id: department,
        licence_number,
        title,
        practice_years: 0,
    })
}

/// `POST PractitionerRole`, its Practitioner contained (`practitioner` = `#id`): one
/// staff member, whose Practitioner and PractitionerRole share the id.
pub(super) async fn create_practitioner_role(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r = resource_body(&headers, &body, "PractitionerRole")?;
    if let Some(licence) = criterion(&headers, LICENCE_SYSTEM)? {
        let found = state
            .app
            .staff(
                &StaffFilter {
                    licence_numbers: vec![licence],
                    ..Default::default()
                },
                None,
                1,
            )
            .await
            .map_err(fhir_err)?;
        if let Some(existing) = found.items.first() {
            return Ok(written(
                &state,
                StatusCode::OK,
                practitioner_role(existing),
                &headers,
            ));
        }
    }
    let record = state
        .app
        .create_staff(&ctx, &staff_form(&r)?)
        .await
        .map_err(write_err)?;
    Ok(written(
        &state,
        StatusCode::CREATED,
        practitioner_role(&record),
        &headers,
    ))
}

/// The id of a `PUT`, which the resource's own id must repeat.
fn put_id(id: &str, resource: &Value) -> Result<i64, ApiError> {
    let key = id_param(id)?;
    if resource["id"].as_str() != Some(id) {
        return Err(ApiError::bad_request(
            "id_mismatch",
            "资源的 id 与地址不符",
            "The resource's id does not match the address",
        )
        .fhir());
    }
    Ok(key)
}

/// `PUT Organization/{id}`: a new name or tie (`If-Match` for the version held).
pub(super) async fn update_organization(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let o = resource_body(&headers, &body, "Organization")?;
    let key = put_id(&id, &o)?;
    let expected = if_match(&headers)?;
    let record = state
        .app
        .update_institution(&ctx, key, &institution_form(&o)?, expected)
        .await
        .map_err(write_err)?;
    Ok(written(
        &state,
        StatusCode::OK,
        organization(&record),
        &headers,
    ))
}

/// `PUT PractitionerRole/{id}`: the staff member's record, its Practitioner contained.
pub(super) async fn update_practitioner_role(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let r = resource_body(&headers, &body, "PractitionerRole")?;
    let key = put_id(&id, &r)?;
    let expected = if_match(&headers)?;
    let now = state.app.staff_member(key).await.map_err(fhir_err)?;
    let changed = NewStaff {
        practice_years: now.practice_years,
        ..staff_form(&r)?
    };
    let record = state
        .app
        .update_staff(&ctx, key, &changed, expected)
        .await
        .map_err(write_err)?;
    Ok(written(
        &state,
        StatusCode::OK,
        practitioner_role(&record),
        &headers,
    ))
}

/// `PUT Practitioner/{id}`: the person of a staff record (name, licence, title); the
/// role, institution and department stay as recorded.
pub(super) async fn update_practitioner(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = resource_body(&headers, &body, "Practitioner")?;
    let key = put_id(&id, &p)?;
    let expected = if_match(&headers)?;
    let now = state.app.staff_member(key).await.map_err(fhir_err)?;
    let (name, licence_number, title) = person_of(&p);
    let changed = NewStaff {
        name,
        role: now.role,
        institution_id: now.institution_id,
        district_code: now.district_code.clone(),
        department_id: now.department_id,
        licence_number,
        title,
        practice_years: now.practice_years,
    };
    let record = state
        .app
        .update_staff(&ctx, key, &changed, expected)
        .await
        .map_err(write_err)?;
    Ok(written(
        &state,
        StatusCode::OK,
        practitioner(&record),
        &headers,
    ))
}
