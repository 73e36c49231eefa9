//! FHIR R4 under `/fhir`: the CapabilityStatement, read and search of Patient,
//! Practitioner, PractitionerRole and Organization, and the chronic-care resources of
//! `chronic` and the scheduling and referral resources of `referral`, as
//! `application/fhir+json`.
//! Errors are OperationOutcomes. Resources are built by hand from the records.

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
    DepartmentRecord, InstitutionFilter, InstitutionRecord, StaffFilter, StaffRecord,
};
use serde_json::{Value, json};

mod chronic;
mod everything;
mod exam;
pub(crate) mod export;
mod history;
mod json;
mod lab;
mod patient;
mod pharmacy;
mod readings;
mod referral;
mod registry;
pub(crate) mod search;
mod transaction;
mod write;

pub(crate) use patient::patient;
use search::{FhirQuery, Kind, Next, Page, Search, Spec, Total, searchset};

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::require_token;

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
        // A resource's version goes with its answer for the conditional read, which
        // would otherwise read the body back.
        let version = history::answered_version(&self.0);
        // Written as bytes: `to_string` goes through the formatter, piece by piece.
        // A `Value` always serialises (its keys are strings).
        let body = serde_json::to_vec(&self.0).unwrap_or_default();
        answer(body, version)
    }
}

/// A resource's answer: its bytes as FHIR JSON, with its version when it has one.
fn answer(body: Vec<u8>, version: Option<history::AnsweredVersion>) -> Response {
    let mut response = (StatusCode::OK, [("content-type", FHIR_JSON)], body).into_response();
    if let Some(version) = version {
        response.extensions_mut().insert(version);
    }
    response
}

/// One resource answered from its typed form ([`patient::Patient`]): written straight
/// to bytes, with its version for the conditional read (as [`Fhir`] takes it from
/// `meta`).
struct FhirOne {
    body: Vec<u8>,
    version: gongti_store::Version,
}

impl FhirOne {
    fn of(
        resource: &impl serde::Serialize,
        version: gongti_store::Version,
    ) -> Result<FhirOne, ApiError> {
        let mut body = Vec::with_capacity(1024);
        serde_json::to_writer(&mut body, resource)
            .map_err(|e| fhir_err(gongti_app::AppError::Internal(e.into())))?;
        Ok(FhirOne { body, version })
    }
}

impl IntoResponse for FhirOne {
    fn into_response(self) -> Response {
        answer(self.body, Some(history::AnsweredVersion(self.version)))
    }
}

type FhirResult = Result<Fhir, ApiError>;

fn fhir_err(e: impl Into<ApiError>) -> ApiError {
    e.into().fhir()
}

pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let protected = Router::new()
        .route(
            "/",
            axum::routing::post(transaction::bundle).layer(axum::extract::DefaultBodyLimit::max(
                transaction::BUNDLE_BYTES_MAX,
            )),
        )
        .route("/Patient", get(search_patients).post(write::create_patient))
        .route(
            "/Patient/{id}",
            get(read_patient).put(write::update_patient),
        )
        .route("/Patient/{id}/$everything", get(everything::everything))
        .route("/$export", get(export::system))
        .route("/Patient/$export", get(export::patients))
        .route("/Group/{id}", get(read_group))
        .route("/Group/{id}/$export", get(export::group))
        .route(
            "/$export-poll/{job}",
            get(export::status).delete(export::delete),
        )
        .route("/Practitioner", get(search_practitioners))
        .route(
            "/Practitioner/{id}",
            get(read_practitioner).put(registry::update_practitioner),
        )
        .route(
            "/PractitionerRole",
            get(search_roles).post(registry::create_practitioner_role),
        )
        .route(
            "/PractitionerRole/{id}",
            get(read_role).put(registry::update_practitioner_role),
        )
        .route(
            "/Organization",
            get(search_organizations).post(registry::create_organization),
        )
        .route(
            "/Organization/{id}",
            get(read_organization).put(registry::update_organization),
        )
        .route("/HealthcareService", get(search_services))
        .route("/HealthcareService/{id}", get(read_service))
        .merge(chronic::routes())
        .merge(referral::routes())
        .merge(pharmacy::routes())
        .merge(exam::routes())
        .route(
            "/Condition",
            axum::routing::post(transaction::create_condition),
        )
        .route(
            "/Observation",
            axum::routing::post(readings::create_observation),
        );
    // Versions read the record as it is now through its type's own read.
    let reader: Router = protected
        .clone()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .with_state(state.clone());
    let kept = history::Versions {
        state: state.clone(),
        reader,
    };
    let mut versions: Router<history::Versions> = Router::new();
    for (ty, _) in served().into_iter().filter(|(ty, _)| versioned(ty)) {
        versions = versions
            .route(
                &format!("/{ty}/{{id}}/_history"),
                get(
                    move |State(v): State<history::Versions>,
                          Path(id): Path<String>,
                          axum::Extension(ctx): axum::Extension<Ctx>,
                          headers: axum::http::HeaderMap| {
                        history::history(v, ty, id, ctx, headers)
                    },
                ),
            )
            .route(
                &format!("/{ty}/{{id}}/_history/{{vid}}"),
                get(
                    move |State(v): State<history::Versions>,
                          Path(ids): Path<(String, String)>,
                          axum::Extension(ctx): axum::Extension<Ctx>,
                          headers: axum::http::HeaderMap| {
                        history::vread(v, ty, ids, ctx, headers)
                    },
                ),
            );
    }
    let protected = protected.merge(versions.with_state(kept)).route_layer(
        axum::middleware::from_fn_with_state(state.clone(), history::signed_in),
    );
    // An export's files are NDJSON: outside the JSON-only negotiation.
    let files = Router::new()
        .route("/$export-file/{job}/{file}", get(export::file))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ));
    Router::new()
        .route("/metadata", get(metadata))
        .route("/.well-known/smart-configuration", get(smart_configuration))
        .merge(protected)
        .layer(axum::middleware::from_fn(negotiate))
        .merge(files)
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

/// `POST /fhir/` — the base with its slash, as fhirclient writes it — is `POST /fhir`.
pub(crate) fn base_with_slash(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/fhir/",
            axum::routing::post(transaction::bundle).layer(axum::extract::DefaultBodyLimit::max(
                transaction::BUNDLE_BYTES_MAX,
            )),
        )
        .route_layer(axum::middleware::from_fn_with_state(state, require_token))
        .layer(axum::middleware::from_fn(negotiate))
}

/// Content negotiation (R4 http.html#mime-type): we answer JSON only, so a request
/// whose `_format` or `Accept` admits no JSON is refused with 406 before anything is
/// read (XML used to get a 200 with JSON).
async fn negotiate(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let json = |t: &str| {
        let t = t
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        matches!(
            t.as_str(),
            "json"
                | "*/*"
                | "application/*"
                | "application/json"
                | "application/fhir+json"
                | "application/json+fhir"
                | "fhir+json"
        )
    };
    let format = request.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "_format")
            .map(|(_, v)| v.into_owned())
    });
    let accept: Option<String> = request
        .headers()
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .reduce(|a, b| format!("{a},{b}"));
    let refused = match (&format, &accept) {
        (Some(f), _) => !json(f),
        (None, Some(a)) => !a.split(',').any(json),
        (None, None) => false,
    };
    if refused {
        return ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "not_acceptable",
            "仅提供 JSON 格式（application/fhir+json）",
            "Only JSON is served (application/fhir+json)",
        )
        .fhir()
        .into_response();
    }
    next.run(request).await
}

/// The FHIR base every absolute link is built on: the configured public URL, never a
/// header the client sent.
fn base_url(state: &AppState) -> String {
    format!("{}/fhir", state.config.public_url)
}

fn id_param(id: &str) -> ApiResult<i64> {
    id.parse().map_err(|_| ApiError::not_found().fhir())
}

/// `Organization/12` or `12` (an operation's parameter), refused when it is not one.
fn reference_id(param: &str, resource: &str) -> ApiResult<i64> {
    let raw = param.strip_prefix(&format!("{resource}/")).unwrap_or(param);
    raw.parse().map_err(|_| {
        ApiError::bad_request("bad_reference", "引用格式无效", "Not a valid reference")
            .with_detail(param.to_owned())
            .fhir()
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

/// A resource's `meta` at a version: which version it is and since when (typed for
/// [`patient::Patient`], as a `Value` through [`meta`] for the others).
#[derive(Debug, serde::Serialize)]
struct Meta {
    #[serde(rename = "lastUpdated")]
    last_updated: String,
    #[serde(rename = "versionId")]
    version_id: String,
}

impl Meta {
    fn of(version: gongti_store::Version) -> Meta {
        Meta {
            last_updated: crate::views::utc(version.since_us),
            version_id: version.number.to_string(),
        }
    }
}

/// A resource's `meta` at `version`: which version it is and since when.
pub(crate) fn meta(version: gongti_store::Version) -> Value {
    // Strings only: it always serialises.
    serde_json::to_value(Meta::of(version)).unwrap_or_default()
}

fn organization(i: &InstitutionRecord) -> Value {
    let mut o = json!({
        "resourceType": "Organization",
        "id": i.id.to_string(),
        "meta": meta(i.version),
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
        "meta": meta(d.version),
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
        "meta": meta(s.version),
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
        "meta": meta(s.version),
        "active": true,
        "practitioner": {"reference": format!("Practitioner/{}", s.id), "display": s.name},
        "code": [{"coding": [{"system": ROLE_SYSTEM, "code": s.role.code(), "display": s.role.name_zh()}], "text": s.role.name_en()}],
    });
    if let Some(org) = s.institution_id {
        r["organization"] = json!({"reference": format!("Organization/{org}")});
    }
    r
}

/// Every type served — each read by id and searched — with its search: the
/// CapabilityStatement is written from this, and the conformance test derives its
/// search cases from the CapabilityStatement.
fn served() -> Vec<(&'static str, &'static Spec)> {
    vec![
        ("Patient", &PATIENT),
        ("Practitioner", &PRACTITIONER),
        ("PractitionerRole", &PRACTITIONER_ROLE),
        ("Organization", &ORGANIZATION),
        ("HealthcareService", &HEALTHCARE_SERVICE),
        ("Condition", &chronic::CONDITION),
        ("EpisodeOfCare", &chronic::EPISODE),
        ("Encounter", &chronic::ENCOUNTER),
        ("Observation", &chronic::OBSERVATION),
        ("CareTeam", &chronic::BY_PATIENT_AND_STATUS),
        ("Task", &chronic::BY_PATIENT_AND_STATUS),
        ("Flag", &chronic::FLAG),
        ("Schedule", &referral::SCHEDULE),
        ("Slot", &referral::SLOT),
        ("Appointment", &referral::APPOINTMENT),
        ("ServiceRequest", &referral::SERVICE_REQUEST),
        ("DiagnosticReport", &exam::REPORT_SPEC),
        ("ImagingStudy", &exam::REPORT_SPEC),
        ("Specimen", &exam::REPORT_SPEC),
        ("CommunicationRequest", &referral::CONSULTATION),
        ("Communication", &referral::CONSULTATION),
        ("MedicationRequest", &pharmacy::MEDICATION_REQUEST),
        ("MedicationDispense", &pharmacy::MEDICATION_DISPENSE),
        ("DetectedIssue", &pharmacy::DETECTED_ISSUE),
        ("Coverage", &pharmacy::COVERAGE),
        ("Claim", &pharmacy::CLAIM),
        ("ClaimResponse", &pharmacy::CLAIM_RESPONSE),
        ("Medication", &pharmacy::MEDICATION),
        ("MedicationKnowledge", &pharmacy::MEDICATION_KNOWLEDGE),
    ]
}

/// Whether a type served keeps versions (vread and history). A resident's Coverage is
/// the bureau's current word, and a formulary product is the knowledge base's (its
/// version in `meta.tag`): read and searched only.
fn versioned(ty: &str) -> bool {
    // (an exam report's, a study's and a specimen's earlier states are not served as versions)
    !matches!(
        ty,
        "Coverage"
            | "Medication"
            | "MedicationKnowledge"
            | "DiagnosticReport"
            | "ImagingStudy"
            | "Specimen"
    )
}

/// SMART discovery (SMART App Launch 2.x §Conformance): where client systems get
/// their tokens and how they authenticate.
async fn smart_configuration(State(state): State<AppState>) -> axum::Json<Value> {
    axum::Json(json!({
        "token_endpoint": format!("{}/api/v1/auth/client-token", state.config.public_url),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": ["system/*.read", "system/*.write", "system/*.*"],
        "capabilities": ["client-confidential-symmetric", "permission-v1", "permission-v2"],
    }))
}

async fn metadata(State(state): State<AppState>) -> Fhir {
    let mut resources: Vec<Value> = served()
        .into_iter()
        .map(|(ty, spec)| {
            let mut v = if versioned(ty) {
                json!({
                    "type": ty,
                    "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "history-instance"}, {"code": "search-type"}],
                    "versioning": "versioned",
                    "readHistory": true,
                    "conditionalRead": "not-match",
                })
            } else {
                json!({
                    "type": ty,
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "versioning": "no-version",
                    "readHistory": false,
                })
            };
            v["searchParam"] = spec.params.iter().map(|(n, k)| json!({"name": n, "type": k.code()})).collect::<Vec<_>>().into();
            if !spec.includes.is_empty() {
                v["searchInclude"] = json!(spec.includes);
            }
            if !spec.revincludes.is_empty() {
                v["searchRevInclude"] = json!(spec.revincludes);
            }
            if matches!(ty, "Organization" | "PractitionerRole") {
                // The registry's use cases (web::fhir::registry); a PractitionerRole
                // carries its Practitioner contained.
                if let Some(list) = v["interaction"].as_array_mut() {
                    list.push(json!({"code": "create"}));
                }
                v["conditionalCreate"] = true.into();
            }
            if matches!(ty, "Organization" | "PractitionerRole" | "Practitioner") {
                if let Some(list) = v["interaction"].as_array_mut() {
                    list.push(json!({"code": "update"}));
                }
                v["updateCreate"] = false.into();
            }
            if ty == "Observation" {
                // A home reading (web::fhir::readings) or a laboratory result
                // (web::fhir::lab); a follow-up's measurements come with their
                // Encounter in a transaction.
                if let Some(list) = v["interaction"].as_array_mut() {
                    list.push(json!({"code": "create"}));
                }
            }
            if ty == "Condition" {
                // An enrolment (web::fhir::transaction); EpisodeOfCare comes with its
                // Condition in a transaction.
                if let Some(list) = v["interaction"].as_array_mut() {
                    list.push(json!({"code": "create"}));
                }
            }
            if ty == "Patient" {
                // Written as the JSON API writes a resident (web::fhir::write).
                if let Some(list) = v["interaction"].as_array_mut() {
                    list.extend([json!({"code": "create"}), json!({"code": "update"})]);
                }
                v["conditionalCreate"] = true.into();
                v["updateCreate"] = false.into();
                v["operation"] = json!([
                    {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
                    {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"},
                ]);
            }
            v
        })
        .collect();
    resources.push(json!({"type": "Measure", "operation": [{"name": "evaluate-measure", "definition": "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure"}]}));
    // A Group is an institution's register (its id the Organization's): exported only.
    resources.push(json!({"type": "Group", "interaction": [{"code": "read"}], "operation": [{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export", "documentation": "Group/{id} is the register of the institution Organization/{id}: the residents it holds."}]}));
    let exported: Vec<&str> = export::EXPORTED.iter().map(|(ty, _)| *ty).collect();
    Fhir(json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-02",
        "publisher": "Gongti",
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        "software": {"name": "Gongti", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Gongti regional health community", "url": base_url(&state)},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Search is lenient by default (unknown parameters are ignored and left out of the self link); Prefer: handling=strict refuses them. Every search takes _count (at most 200), _total=none|accurate, _summary=count, _elements and, where listed, _sort, _include, _revinclude and _lastUpdated (each resource's meta.lastUpdated: incremental sync). Patient-scoped types need patient (or subject). Region-wide types (Patient, Practitioner, PractitionerRole, Organization, Schedule) take each parameter once (no AND of repeats); comma-separated alternatives (OR) on Patient name, identifier and gender, Practitioner name and identifier, PractitionerRole role, organization and practitioner, Organization name, identifier and type — Patient.organization, Organization.partof and Schedule's parameters take one value; their date parameters (Patient.birthdate, Schedule.date) take every prefix but ne. Medication and MedicationKnowledge are the formulary (not patient-scoped): every parameter takes comma-separated alternatives and repeats (AND). Coverage is found by patient or beneficiary. No string modifiers (:exact, :contains) are supported.",
            "security": {
                "cors": false,
                "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}],
                "description": "Bearer tokens: people from POST /api/v1/auth/token; client systems by OAuth 2.0 client credentials at POST /api/v1/auth/client-token (see /fhir/.well-known/smart-configuration), their SMART system scopes (system/<Type|*>.<read|write|*> or v2 letters) narrowing what their role may do.",
            },
            "interaction": [
                {"code": "transaction", "documentation": "All or nothing: POST Patient (ifNoneExist on the identifier), PUT Patient/{id} (ifMatch), POST Condition (an enrolment: ICD-10 code, onsetDateTime the diagnosis, recordedDate the day management began) and POST EpisodeOfCare naming a Condition of the same Bundle (period.start the day management began), POST Encounter (a follow-up on its real day: class AMB, HH or VR, period.start, episodeOfCare naming a Condition or EpisodeOfCare of the Bundle or a stored EpisodeOfCare) with POST Observation naming it (LOINC 85354-9 BP panel, 14771-0 FPG in mmol/L or 1558-6 in mg/dL, 4548-4 HbA1c in %, 8867-4 heart rate), judged by the follow-up rules in the order of their days; POST Observation with no encounter, category laboratory (a laboratory result: 14771-0 or 1558-6 fasting glucose, 4548-4 HbA1c; identifier the sender's id; effectiveDateTime the collection), of a Patient of the Bundle or a stored one, counted in the indicators on its collection day; POST Observation with no encounter and any other category, a home reading (85354-9 BP panel, 15074-8 blood glucose in mmol/L; identifier the device's id; taken within the last 366 days), of a Patient of the Bundle or a stored one, alerting the team when urgent; entries refer to one another by fullUrl."},
                {"code": "batch", "documentation": "The same entries, each on its own; entries may not refer to one another."},
            ],
            "resource": resources,
            "operation": [{
                "name": "export",
                "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                "documentation": format!("Bulk Data export (async: 202 and Content-Location, poll for 202 with X-Progress then the manifest, DELETE to cancel; NDJSON files of at most {} resources each, kept a day, for the requester's token only). Parameters: _outputFormat (application/fhir+ndjson), _since, _type; _typeFilter, _elements and patient are refused. Types: {}. Named patient records go to an institution administrator (the residents the institution holds); officers and the city administrator get the registry (Organization, HealthcareService, Practitioner, PractitionerRole) and an OperationOutcome for each named type left out.", export::FILE_LINES_MAX, exported.join(", ")),
            }],
        }],
    }))
}

async fn read_patient(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> Result<FhirOne, ApiError> {
    let view = state
        .app
        .read_resident(&ctx, id_param(&id)?, None)
        .await
        .map_err(fhir_err)?;
    let patient = patient::Patient::of(&view.record, may_see_identifiers(view.basis));
    FhirOne::of(&patient, patient.version())
}

pub(super) const PATIENT: Spec = Spec {
    params: &[
        ("identifier", Kind::Token),
        ("name", Kind::String),
        ("birthdate", Kind::Date),
        ("gender", Kind::Token),
        ("organization", Kind::Reference),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

/// The answer of a keyset-paged search: the page, its total unless `_total=none`.
pub(super) fn keyset_page(
    s: &Search,
    entries: Vec<Value>,
    next: Option<i64>,
    total: Option<i64>,
) -> Page {
    Page {
        entries: if s.summary_count { Vec::new() } else { entries },
        total: total.map(|t| t as usize),
        next: match next {
            Some(after) if !s.summary_count => Next::Cursor(after),
            _ => Next::None,
        },
    }
}

pub(super) fn wants_total(s: &Search) -> bool {
    s.summary_count || s.total == Total::Accurate
}

fn empty(state: &AppState, resource: &str, s: &Search) -> FhirResult {
    Ok(Fhir(searchset(
        &base_url(state),
        resource,
        s,
        s.page_of(Vec::new()),
        Vec::new(),
    )))
}

/// An organization reference parameter's id: `None` when it names another type or
/// server (nothing can match).
fn organization_param(s: &Search, name: &str, base: &str) -> Result<Option<Option<i64>>, ApiError> {
    Ok(s.one_value(name)?
        .map(|o| search::reference_id(&o, "Organization", base)))
}

async fn search_patients(
    State(state): State<AppState>,
    q: FhirQuery,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> FhirResult {
    let s = q.search(&PATIENT)?;
    let base = base_url(&state);
    let bad = |code, zh: &str, en: &str| ApiError::bad_request(code, zh, en).fhir();
    let now = chronic::now_us(&state);
    let (born_from, born_to) = s.day_bounds("birthdate", now)?;
    let (updated_from_us, updated_until_us) = s.instant_bounds("_lastUpdated", now)?;
    let mut query = ResidentQuery {
        name_prefixes: s.any_of("name")?,
        born_from,
        born_to,
        updated_from_us,
        updated_until_us,
        ..ResidentQuery::default()
    };
    let identifiers = s.any_of("identifier")?;
    // A value that is no ID number matches no one (a search, not a form).
    query.id_numbers = identifiers
        .iter()
        .filter_map(|i| {
            search::Token::parse(i)
                .code_in(ID_NUMBER_SYSTEM)
                .filter(|v| gongti_core::id_number::IdNumber::parse(v, state.app.today()).is_ok())
                .map(str::to_owned)
        })
        .collect();
    if !identifiers.is_empty() && query.id_numbers.is_empty() {
        return empty(&state, "Patient", &s);
    }
    let genders = s.any_of("gender")?;
    for g in &genders {
        match parse_sex(g) {
            Some(sex) => query.sexes.push(sex),
            None if g == "other" || g == "unknown" => {}
            None => {
                return Err(bad(
                    "bad_gender",
                    "性别参数无效",
                    "gender is male, female, other or unknown",
                ));
            }
        }
    }
    if !genders.is_empty() && query.sexes.is_empty() {
        return empty(&state, "Patient", &s);
    }
    match organization_param(&s, "organization", &base)? {
        None => {}
        Some(None) => return empty(&state, "Patient", &s),
        Some(Some(o)) => query.home_institution_id = Some(o),
    }
    let (page, scope, total) = state
        .app
        .search_residents_counted(&ctx, &query, s.after, s.count as u32, None, wants_total(&s))
        .await
        .map_err(fhir_err)?;
    let identifiers = matches!(scope, SearchScope::Institution(_));
    // The store applied every filter: the page and its total agree.
    let entries = page.items.iter().map(|r| patient(r, identifiers)).collect();
    let page = keyset_page(&s, entries, page.next_after, total);
    Ok(Fhir(searchset(&base, "Patient", &s, page, Vec::new())))
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

/// `Group/{id}`: the register of `Organization/{id}` — the residents it holds — as
/// the Bulk Data IG's Group-level `$export` names it (no members listed).
async fn read_group(State(state): State<AppState>, Path(id): Path<String>) -> FhirResult {
    let i = state
        .app
        .institution(id_param(&id)?)
        .await
        .map_err(fhir_err)?;
    Ok(Fhir(json!({
        "resourceType": "Group",
        "id": i.id.to_string(),
        "meta": meta(i.version),
        "type": "person",
        "actual": true,
        "name": format!("{} 居民档案", i.name),
        "managingEntity": {"reference": format!("Organization/{}", i.id), "display": i.name},
    })))
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

pub(super) const HEALTHCARE_SERVICE: Spec = Spec {
    params: &[
        ("organization", Kind::Reference),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

/// The departments of one institution (`organization`, required: a city has tens of
/// thousands).
async fn search_services(State(state): State<AppState>, q: FhirQuery) -> FhirResult {
    let s = q.search(&HEALTHCARE_SERVICE)?;
    let base = base_url(&state);
    let org = match organization_param(&s, "organization", &base)? {
        None => {
            return Err(ApiError::bad_request(
                "organization_required",
                "请指定 organization 参数",
                "Search departments by organization",
            )
            .fhir());
        }
        Some(None) => return empty(&state, "HealthcareService", &s),
        Some(Some(o)) => o,
    };
    let list = state.app.departments(org).await.map_err(fhir_err)?;
    let page = s.page_of(list.iter().map(healthcare_service).collect());
    Ok(Fhir(searchset(
        &base,
        "HealthcareService",
        &s,
        page,
        Vec::new(),
    )))
}

pub(super) const PRACTITIONER: Spec = Spec {
    params: &[("identifier", Kind::Token), ("name", Kind::String)],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

pub(super) const PRACTITIONER_ROLE: Spec = Spec {
    params: &[
        ("organization", Kind::Reference),
        ("practitioner", Kind::Reference),
        ("role", Kind::Token),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

pub(super) const ORGANIZATION: Spec = Spec {
    params: &[
        ("identifier", Kind::Token),
        ("name", Kind::String),
        ("type", Kind::Token),
        ("partof", Kind::Reference),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

/// Staff by filter, keyset-paged and counted, as Practitioner or PractitionerRole.
async fn staff_search(
    state: &AppState,
    s: &Search,
    resource: &str,
    filter: StaffFilter,
    shape: fn(&StaffRecord) -> Value,
) -> FhirResult {
    let page = state
        .app
        .staff(&filter, s.after, s.count as u32)
        .await
        .map_err(fhir_err)?;
    let total = if wants_total(s) {
        Some(state.app.staff_count(&filter).await.map_err(fhir_err)?)
    } else {
        None
    };
    let page = keyset_page(
        s,
        page.items.iter().map(shape).collect(),
        page.next_after,
        total,
    );
    Ok(Fhir(searchset(
        &base_url(state),
        resource,
        s,
        page,
        Vec::new(),
    )))
}

async fn search_practitioners(State(state): State<AppState>, q: FhirQuery) -> FhirResult {
    let s = q.search(&PRACTITIONER)?;
    let identifiers = s.any_of("identifier")?;
    let licences: Vec<String> = identifiers
        .iter()
        .filter_map(|i| {
            search::Token::parse(i)
                .code_in(LICENCE_SYSTEM)
                .map(str::to_owned)
        })
        .collect();
    if !identifiers.is_empty() && licences.is_empty() {
        return empty(&state, "Practitioner", &s);
    }
    let filter = StaffFilter {
        name_prefixes: s.any_of("name")?,
        licence_numbers: licences,
        ..StaffFilter::default()
    };
    staff_search(&state, &s, "Practitioner", filter, practitioner).await
}

async fn search_roles(State(state): State<AppState>, q: FhirQuery) -> FhirResult {
    let s = q.search(&PRACTITIONER_ROLE)?;
    let base = base_url(&state);
    let asked_roles = s.any_of("role")?;
    let roles: Vec<gongti_core::role::Role> = asked_roles
        .iter()
        .filter_map(|r| {
            search::Token::parse(r)
                .code_in(ROLE_SYSTEM)
                .and_then(gongti_core::role::Role::from_code)
        })
        .collect();
    let asked_orgs = s.any_of("organization")?;
    let institutions: Vec<i64> = asked_orgs
        .iter()
        .filter_map(|o| search::reference_id(o, "Organization", &base))
        .collect();
    if (!asked_roles.is_empty() && roles.is_empty())
        || (!asked_orgs.is_empty() && institutions.is_empty())
    {
        return empty(&state, "PractitionerRole", &s);
    }
    let practitioners = s.any_of("practitioner")?;
    if !practitioners.is_empty() {
        // One practitioner has one role record here: its id is the staff id.
        let mut ids: Vec<i64> = practitioners
            .iter()
            .filter_map(|p| search::reference_id(p, "Practitioner", &base))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let mut entries = Vec::new();
        for id in ids {
            match state.app.staff_member(id).await {
                Ok(m)
                    if (institutions.is_empty()
                        || m.institution_id.is_some_and(|i| institutions.contains(&i)))
                        && (roles.is_empty() || roles.contains(&m.role)) =>
                {
                    entries.push(practitioner_role(&m));
                }
                Ok(_) | Err(gongti_app::AppError::NotFound) => {}
                Err(e) => return Err(fhir_err(e)),
            }
        }
        let page = s.page_of(entries);
        return Ok(Fhir(searchset(
            &base,
            "PractitionerRole",
            &s,
            page,
            Vec::new(),
        )));
    }
    let filter = StaffFilter {
        institution_ids: institutions,
        roles,
        ..StaffFilter::default()
    };
    staff_search(&state, &s, "PractitionerRole", filter, practitioner_role).await
}

async fn search_organizations(State(state): State<AppState>, q: FhirQuery) -> FhirResult {
    let s = q.search(&ORGANIZATION)?;
    let base = base_url(&state);
    let mut filter = InstitutionFilter {
        name_prefixes: s.any_of("name")?,
        ..InstitutionFilter::default()
    };
    let identifiers = s.any_of("identifier")?;
    filter.codes = identifiers
        .iter()
        .filter_map(|i| {
            search::Token::parse(i)
                .code_in(INSTITUTION_CODE_SYSTEM)
                .map(str::to_owned)
        })
        .collect();
    let types = s.any_of("type")?;
    filter.kinds = types
        .iter()
        .filter_map(|t| {
            search::Token::parse(t)
                .code_in(INSTITUTION_KIND_SYSTEM)
                .and_then(InstitutionKind::from_code)
        })
        .collect();
    if (!identifiers.is_empty() && filter.codes.is_empty())
        || (!types.is_empty() && filter.kinds.is_empty())
    {
        return empty(&state, "Organization", &s);
    }
    match organization_param(&s, "partof", &base)? {
        None => {}
        Some(None) => return empty(&state, "Organization", &s),
        Some(Some(u)) => filter.upper_institution_id = Some(u),
    }
    let page = state
        .app
        .institutions(&filter, s.after, s.count as u32)
        .await
        .map_err(fhir_err)?;
    let total = if wants_total(&s) {
        Some(
            state
                .app
                .institutions_count(&filter)
                .await
                .map_err(fhir_err)?,
        )
    } else {
        None
    };
    let page = keyset_page(
        &s,
        page.items.iter().map(organization).collect(),
        page.next_after,
        total,
    );
    Ok(Fhir(searchset(&base, "Organization", &s, page, Vec::new())))
}
