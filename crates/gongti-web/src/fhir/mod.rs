//! FHIR R4 under `/fhir`: the CapabilityStatement, read and search of Patient,
//! Practitioner, PractitionerRole and Organization, and the chronic-care resources of
//! `chronic` and the scheduling and referral resources of `referral`, as
//! `application/fhir+json`.
//! Errors are OperationOutcomes. Resources are built by hand from the records.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gongti_app::Ctx;
use gongti_app::residents::ResidentQuery;
use gongti_core::access::{SearchScope, may_see_identifiers};
use gongti_core::region::InstitutionKind;
use gongti_core::resident::parse_sex;
use gongti_store::{
    DepartmentRecord, InstitutionFilter, InstitutionRecord, ResidentRecord, StaffFilter,
    StaffRecord, clamp_page_size,
};
use serde_json::{Value, json};

mod chronic;
mod referral;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, decode_cursor, encode_cursor, require_token};
use crate::views::{sex_code, utc};
use crate::{AppState, PAGE_SIZE_DEFAULT};

/// The national ID number's identifier system (DOMAIN.md §1).
pub const ID_NUMBER_SYSTEM: &str = "urn:oid:2.16.156.10011.1.3";
pub const INSTITUTION_CODE_SYSTEM: &str = "urn:gongti:institution-code";
pub const INSTITUTION_KIND_SYSTEM: &str = "urn:gongti:institution-kind";
pub const LICENCE_SYSTEM: &str = "urn:gongti:practitioner-licence";
pub const ROLE_SYSTEM: &str = "urn:gongti:role";
pub const DEPARTMENT_CODE_SYSTEM: &str = "urn:gongti:department-code";
const FHIR_JSON: &str = "application/fhir+json";

struct Fhir(Value);

impl IntoResponse for Fhir {
    fn into_response(self) -> Response {
        (
            StatusCode::OK,
            [("content-type", FHIR_JSON)],
            self.0.to_string(),
        )
            .into_response()
    }
}

type FhirResult = Result<Fhir, ApiError>;

fn fhir_err(e: impl Into<ApiError>) -> ApiError {
    e.into().fhir()
}

pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let protected = Router::new()
        .route("/Patient", get(search_patients))
        .route("/Patient/{id}", get(read_patient))
        .route("/Practitioner", get(search_practitioners))
        .route("/Practitioner/{id}", get(read_practitioner))
        .route("/PractitionerRole", get(search_roles))
        .route("/PractitionerRole/{id}", get(read_role))
        .route("/Organization", get(search_organizations))
        .route("/Organization/{id}", get(read_organization))
        .route("/HealthcareService", get(search_services))
        .route("/HealthcareService/{id}", get(read_service))
        .merge(chronic::routes())
        .merge(referral::routes())
        .route_layer(axum::middleware::from_fn_with_state(state, require_token));
    Router::new()
        .route("/metadata", get(metadata))
        .merge(protected)
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_route",
                "没有这个 FHIR 资源或操作",
                "No such FHIR resource or interaction",
            )
            .fhir()
        })
}

/// The FHIR base every absolute link is built on: the configured public URL, never a
/// header the client sent.
fn base_url(state: &AppState) -> String {
    format!("{}/fhir", state.config.public_url)
}

fn id_param(id: &str) -> ApiResult<i64> {
    id.parse().map_err(|_| ApiError::not_found().fhir())
}

/// Supported search parameters per resource; anything else is refused, so a client is
/// never handed everything when it asked for something we do not filter on.
const PATIENT_PARAMS: [&str; 7] = [
    "identifier",
    "name",
    "birthdate",
    "gender",
    "organization",
    "_count",
    "_cursor",
];
const PRACTITIONER_PARAMS: [&str; 4] = ["identifier", "name", "_count", "_cursor"];
const ROLE_PARAMS: [&str; 5] = ["organization", "practitioner", "role", "_count", "_cursor"];
const ORGANIZATION_PARAMS: [&str; 6] =
    ["identifier", "name", "type", "partof", "_count", "_cursor"];

fn check_params(params: &BTreeMap<String, String>, known: &[&str]) -> ApiResult<()> {
    match params.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(unknown) => Err(ApiError::bad_request(
            "unsupported_search_parameter",
            "不支持的查询参数",
            "Unsupported search parameter",
        )
        .with_detail(unknown.clone())
        .fhir()),
    }
}

/// `system|value`, `|value` or `value`: the value, if the system (when given) is ours.
fn token_value<'a>(param: &'a str, system: &str) -> Option<&'a str> {
    match param.split_once('|') {
        Some((s, v)) if s.is_empty() || s == system => Some(v),
        Some(_) => None,
        None => Some(param),
    }
}

/// `Organization/12` or `12`.
fn reference_id(param: &str, resource: &str) -> ApiResult<i64> {
    let raw = param.strip_prefix(&format!("{resource}/")).unwrap_or(param);
    raw.parse().map_err(|_| {
        ApiError::bad_request("bad_reference", "引用格式无效", "Not a valid reference")
            .with_detail(param.to_owned())
            .fhir()
    })
}

fn bundle(
    base: &str,
    resource: &str,
    params: &BTreeMap<String, String>,
    entries: Vec<Value>,
    next_after: Option<i64>,
) -> Value {
    let query = |cursor: Option<String>| {
        let mut pairs: Vec<String> = params
            .iter()
            .filter(|(k, _)| k.as_str() != "_cursor")
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        if let Some(c) = cursor {
            pairs.push(format!("_cursor={c}"));
        }
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    };
    let mut links = vec![
        json!({"relation": "self", "url": format!("{base}/{resource}{}", query(params.get("_cursor").cloned()))}),
    ];
    if let Some(after) = next_after {
        links.push(json!({"relation": "next", "url": format!("{base}/{resource}{}", query(Some(encode_cursor(after))))}));
    }
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": entries.into_iter().map(|r| {
            let id = r["id"].as_str().unwrap_or_default().to_owned();
            json!({"fullUrl": format!("{base}/{resource}/{id}"), "resource": r, "search": {"mode": "match"}})
        }).collect::<Vec<_>>(),
    })
}

/// Percent-encodes a query component (UTF-8 names stay valid in links).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn paging(params: &BTreeMap<String, String>) -> ApiResult<(Option<i64>, u32)> {
    let after = decode_cursor(params.get("_cursor").map(String::as_str)).map_err(ApiError::fhir)?;
    let count = match params.get("_count") {
        None => None,
        Some(c) => Some(c.parse::<u32>().map_err(|_| {
            ApiError::bad_request(
                "bad_count",
                "_count 应为正整数",
                "_count must be a positive integer",
            )
            .fhir()
        })?),
    };
    Ok((after, clamp_page_size(count, PAGE_SIZE_DEFAULT)))
}

pub(crate) fn patient(r: &ResidentRecord, identifiers: bool) -> Value {
    let mut name = json!({"use": "official", "text": r.name});
    let parts = gongti_core::names::split_name(&r.name);
    if let Some(family) = parts.family {
        name["family"] = family.into();
    }
    if let Some(given) = parts.given {
        name["given"] = json!([given]);
    }
    let id_value = if identifiers {
        r.id_number.as_str().to_owned()
    } else {
        r.id_number.masked()
    };
    let mut p = json!({
        "resourceType": "Patient",
        "id": r.id.to_string(),
        "meta": {"lastUpdated": utc(r.updated_at_us)},
        "identifier": [{"use": "official", "system": ID_NUMBER_SYSTEM, "value": id_value}],
        "active": r.merged_into_id.is_none(),
        "name": [name],
        "gender": sex_code(r.sex),
        "birthDate": r.birth_date.to_string(),
        "managingOrganization": {"reference": format!("Organization/{}", r.home_institution_id)},
    });
    if let Some(phone) = &r.phone {
        let value = if identifiers {
            phone.as_str().to_owned()
        } else {
            phone.masked()
        };
        p["telecom"] = json!([{"system": "phone", "value": value, "use": "mobile"}]);
    }
    if let Some(address) = &r.address {
        p["address"] = json!([{"use": "home", "text": address}]);
    }
    if let Some(day) = r.deceased_on {
        p["deceasedDateTime"] = day.to_string().into();
    }
    if let Some(survivor) = r.merged_into_id {
        p["link"] =
            json!([{"other": {"reference": format!("Patient/{survivor}")}, "type": "replaced-by"}]);
    }
    p
}

fn organization(i: &InstitutionRecord) -> Value {
    let mut o = json!({
        "resourceType": "Organization",
        "id": i.id.to_string(),
        "identifier": [{"system": INSTITUTION_CODE_SYSTEM, "value": i.code}],
        "active": true,
        "type": [{"coding": [{"system": INSTITUTION_KIND_SYSTEM, "code": i.kind.code(), "display": i.kind.name_zh()}], "text": i.kind.name_en()}],
        "name": i.name,
        "address": [{"district": i.district_code}],
    });
    if let Some(upper) = i.upper_institution_id {
        // The health-community tie: the grassroots institution is part of its upper
        // hospital's community.
        o["partOf"] = json!({"reference": format!("Organization/{upper}")});
    }
    o
}

/// A department of an institution (心血管内科 at a hospital): what a Schedule's clinic
/// belongs to and a referral is sent to.
pub(crate) fn healthcare_service(d: &DepartmentRecord) -> Value {
    json!({
        "resourceType": "HealthcareService",
        "id": d.id.to_string(),
        "active": true,
        "identifier": [{"system": DEPARTMENT_CODE_SYSTEM, "value": format!("{}-{}", d.institution_id, d.code)}],
        "providedBy": {"reference": format!("Organization/{}", d.institution_id)},
        "name": d.name,
    })
}

fn practitioner(s: &StaffRecord) -> Value {
    let mut p = json!({
        "resourceType": "Practitioner",
        "id": s.id.to_string(),
        "active": true,
        "name": [{"text": s.name}],
    });
    if let Some(licence) = &s.licence_number {
        p["identifier"] = json!([{"system": LICENCE_SYSTEM, "value": licence}]);
    }
    if let Some(title) = &s.title {
        p["qualification"] = json!([{"code": {"text": title}}]);
    }
    p
}

fn practitioner_role(s: &StaffRecord) -> Value {
    let mut r = json!({
        "resourceType": "PractitionerRole",
        "id": s.id.to_string(),
        "active": true,
        "practitioner": {"reference": format!("Practitioner/{}", s.id), "display": s.name},
        "code": [{"coding": [{"system": ROLE_SYSTEM, "code": s.role.code(), "display": s.role.name_zh()}], "text": s.role.name_en()}],
    });
    if let Some(org) = s.institution_id {
        r["organization"] = json!({"reference": format!("Organization/{org}")});
    }
    r
}

async fn metadata(State(state): State<AppState>) -> Fhir {
    let search = |names: &[(&str, &str)]| -> Vec<Value> {
        names
            .iter()
            .map(|(n, t)| json!({"name": n, "type": t}))
            .collect()
    };
    let resource = |ty: &str, params: Vec<Value>| json!({"type": ty, "interaction": [{"code": "read"}, {"code": "search-type"}], "searchParam": params});
    let search_only = |ty: &str, params: Vec<Value>| json!({"type": ty, "interaction": [{"code": "search-type"}], "searchParam": params});
    Fhir(json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-22",
        "publisher": "Gongti",
        "kind": "instance",
        "software": {"name": "Gongti", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Gongti regional health community", "url": base_url(&state)},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "security": {"description": "Bearer tokens from POST /api/v1/auth/token", "cors": false},
            "resource": [
                resource("Patient", search(&[("identifier", "token"), ("name", "string"), ("birthdate", "date"), ("gender", "token"), ("organization", "reference")])),
                resource("Practitioner", search(&[("identifier", "token"), ("name", "string")])),
                resource("PractitionerRole", search(&[("organization", "reference"), ("practitioner", "reference"), ("role", "token")])),
                resource("Organization", search(&[("identifier", "token"), ("name", "string"), ("type", "token"), ("partof", "reference")])),
                resource("HealthcareService", search(&[("organization", "reference")])),
                search_only("Condition", search(&[("patient", "reference"), ("code", "token")])),
                search_only("EpisodeOfCare", search(&[("patient", "reference"), ("date", "date")])),
                search_only("Encounter", search(&[("patient", "reference"), ("date", "date")])),
                search_only("Observation", search(&[("patient", "reference"), ("code", "token"), ("date", "date"), ("category", "token")])),
                search_only("CareTeam", search(&[("patient", "reference")])),
                search_only("Task", search(&[("patient", "reference"), ("status", "token")])),
                search_only("Flag", search(&[("patient", "reference"), ("date", "date")])),
                resource("Schedule", search(&[("actor", "reference"), ("date", "date")])),
                search_only("Slot", search(&[("schedule", "reference"), ("status", "token")])),
                search_only("Appointment", search(&[("patient", "reference"), ("status", "token")])),
                resource("ServiceRequest", search(&[("patient", "reference"), ("status", "token")])),
                search_only("CommunicationRequest", search(&[("patient", "reference")])),
                search_only("Communication", search(&[("patient", "reference")])),
                json!({"type": "Measure", "operation": [{"name": "evaluate-measure", "definition": "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure"}]}),
            ],
        }],
    }))
}

async fn read_patient(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> FhirResult {
    let view = state
        .app
        .read_resident(&ctx, id_param(&id)?, None)
        .await
        .map_err(fhir_err)?;
    Ok(Fhir(patient(&view.record, may_see_identifiers(view.basis))))
}

async fn search_patients(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<BTreeMap<String, String>>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> FhirResult {
    check_params(&params, &PATIENT_PARAMS)?;
    let (after, count) = paging(&params)?;
    let bad = |code, zh: &str, en: &str| ApiError::bad_request(code, zh, en).fhir();
    let mut query = ResidentQuery {
        name_prefix: params.get("name").cloned(),
        ..ResidentQuery::default()
    };
    let mut impossible = false;
    if let Some(identifier) = params.get("identifier") {
        match token_value(identifier, ID_NUMBER_SYSTEM) {
            Some(v) => query.id_number = Some(v.to_owned()),
            None => impossible = true,
        }
    }
    if let Some(g) = params.get("gender") {
        match parse_sex(g) {
            Some(s) => query.sex = Some(s),
            None if g == "other" || g == "unknown" => impossible = true,
            None => {
                return Err(bad(
                    "bad_gender",
                    "性别参数无效",
                    "gender is male, female, other or unknown",
                ));
            }
        }
    }
    if let Some(b) = params.get("birthdate") {
        let date = b.strip_prefix("eq").unwrap_or(b);
        query.birth_date =
            crate::api::parse_date("birthdate", Some(date)).map_err(ApiError::fhir)?;
    }
    if let Some(o) = params.get("organization") {
        query.home_institution_id = Some(reference_id(o, "Organization")?);
    }
    let base = base_url(&state);
    if impossible {
        return Ok(Fhir(bundle(&base, "Patient", &params, vec![], None)));
    }
    let (page, scope) = state
        .app
        .search_residents(&ctx, &query, after, count, None)
        .await
        .map_err(fhir_err)?;
    let identifiers = matches!(scope, SearchScope::Institution(_));
    let entries = page.items.iter().map(|r| patient(r, identifiers)).collect();
    Ok(Fhir(bundle(
        &base,
        "Patient",
        &params,
        entries,
        page.next_after,
    )))
}

async fn read_practitioner(State(state): State<AppState>, Path(id): Path<String>) -> FhirResult {
    Ok(Fhir(practitioner(
        &state
            .app
            .staff_member(id_param(&id)?)
            .await
            .map_err(fhir_err)?,
    )))
}

async fn read_role(State(state): State<AppState>, Path(id): Path<String>) -> FhirResult {
    Ok(Fhir(practitioner_role(
        &state
            .app
            .staff_member(id_param(&id)?)
            .await
            .map_err(fhir_err)?,
    )))
}

async fn read_organization(State(state): State<AppState>, Path(id): Path<String>) -> FhirResult {
    Ok(Fhir(organization(
        &state
            .app
            .institution(id_param(&id)?)
            .await
            .map_err(fhir_err)?,
    )))
}

async fn read_service(State(state): State<AppState>, Path(id): Path<String>) -> FhirResult {
    Ok(Fhir(healthcare_service(
        &state
            .app
            .department(id_param(&id)?)
            .await
            .map_err(fhir_err)?,
    )))
}

/// The departments of one institution (`organization`, required: a city has tens of
/// thousands).
async fn search_services(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<BTreeMap<String, String>>,
) -> FhirResult {
    check_params(&params, &["organization"])?;
    let Some(org) = params.get("organization") else {
        return Err(ApiError::bad_request(
            "organization_required",
            "请指定 organization 参数",
            "Search departments by organization",
        )
        .fhir());
    };
    let list = state
        .app
        .departments(reference_id(org, "Organization")?)
        .await
        .map_err(fhir_err)?;
    Ok(Fhir(bundle(
        &base_url(&state),
        "HealthcareService",
        &params,
        list.iter().map(healthcare_service).collect(),
        None,
    )))
}

async fn search_staff(
    state: &AppState,
    params: &BTreeMap<String, String>,
    filter: StaffFilter,
) -> ApiResult<(Vec<StaffRecord>, Option<i64>)> {
    let (after, count) = paging(params)?;
    let page = state
        .app
        .staff(&filter, after, count)
        .await
        .map_err(fhir_err)?;
    Ok((page.items, page.next_after))
}

async fn search_practitioners(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<BTreeMap<String, String>>,
) -> FhirResult {
    check_params(&params, &PRACTITIONER_PARAMS)?;
    let licence = match params.get("identifier") {
        None => None,
        Some(i) => match token_value(i, LICENCE_SYSTEM) {
            Some(v) => Some(v.to_owned()),
            None => {
                return Ok(Fhir(bundle(
                    &base_url(&state),
                    "Practitioner",
                    &params,
                    vec![],
                    None,
                )));
            }
        },
    };
    let filter = StaffFilter {
        name_prefix: params.get("name").cloned(),
        licence_number: licence,
        ..StaffFilter::default()
    };
    let (items, next) = search_staff(&state, &params, filter).await?;
    Ok(Fhir(bundle(
        &base_url(&state),
        "Practitioner",
        &params,
        items.iter().map(practitioner).collect(),
        next,
    )))
}

async fn search_roles(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<BTreeMap<String, String>>,
) -> FhirResult {
    check_params(&params, &ROLE_PARAMS)?;
    let base = base_url(&state);
    let role = match params.get("role") {
        None => None,
        Some(r) => match token_value(r, ROLE_SYSTEM).and_then(gongti_core::role::Role::from_code) {
            Some(role) => Some(role),
            None => {
                return Ok(Fhir(bundle(
                    &base,
                    "PractitionerRole",
                    &params,
                    vec![],
                    None,
                )));
            }
        },
    };
    let institution = params
        .get("organization")
        .map(|o| reference_id(o, "Organization"))
        .transpose()?;
    if let Some(p) = params.get("practitioner") {
        // One practitioner has one role record here: its id is the staff id.
        let id = reference_id(p, "Practitioner")?;
        let entries = match state.app.staff_member(id).await {
            Ok(s)
                if institution.is_none_or(|i| s.institution_id == Some(i))
                    && role.is_none_or(|r| s.role == r) =>
            {
                vec![practitioner_role(&s)]
            }
            Ok(_) | Err(gongti_app::AppError::NotFound) => vec![],
            Err(e) => return Err(fhir_err(e)),
        };
        return Ok(Fhir(bundle(
            &base,
            "PractitionerRole",
            &params,
            entries,
            None,
        )));
    }
    let filter = StaffFilter {
        institution_id: institution,
        role,
        ..StaffFilter::default()
    };
    let (items, next) = search_staff(&state, &params, filter).await?;
    Ok(Fhir(bundle(
        &base,
        "PractitionerRole",
        &params,
        items.iter().map(practitioner_role).collect(),
        next,
    )))
}

async fn search_organizations(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<BTreeMap<String, String>>,
) -> FhirResult {
    check_params(&params, &ORGANIZATION_PARAMS)?;
    let base = base_url(&state);
    let empty = || Ok(Fhir(bundle(&base, "Organization", &params, vec![], None)));
    let mut filter = InstitutionFilter {
        name_prefix: params.get("name").cloned(),
        ..InstitutionFilter::default()
    };
    if let Some(i) = params.get("identifier") {
        match token_value(i, INSTITUTION_CODE_SYSTEM) {
            Some(v) => filter.code = Some(v.to_owned()),
            None => return empty(),
        }
    }
    if let Some(t) = params.get("type") {
        match token_value(t, INSTITUTION_KIND_SYSTEM).and_then(InstitutionKind::from_code) {
            Some(k) => filter.kind = Some(k),
            None => return empty(),
        }
    }
    if let Some(p) = params.get("partof") {
        filter.upper_institution_id = Some(reference_id(p, "Organization")?);
    }
    let (after, count) = paging(&params)?;
    let page = state
        .app
        .institutions(&filter, after, count)
        .await
        .map_err(fhir_err)?;
    Ok(Fhir(bundle(
        &base,
        "Organization",
        &params,
        page.items.iter().map(organization).collect(),
        page.next_after,
    )))
}
