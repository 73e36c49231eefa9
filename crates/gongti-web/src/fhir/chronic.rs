//! FHIR R4 for chronic-disease management: Condition and EpisodeOfCare (enrolments),
//! Encounter and Observation (follow-ups, home readings; LOINC codes, UCUM units),
//! CareTeam (contracts), Task (14-day tasks), Flag (alerts), all searched by patient,
//! and MeasureReport from `Measure/{id}/$evaluate-measure` for the indicators.

use axum::extract::{Path, State};
use gongti_app::Ctx;
use gongti_app::indicators::{ListPart, PatientListQuery};
use gongti_core::chronic::Disease;
use gongti_core::chronic::followup::Method;
use gongti_core::chronic::indicators::{Indicator, rate_basis_points};
use gongti_store::{
    AlertRecord, ContractRecord, EnrolmentRecord, FollowupRecord, IndicatorScope, ReadingRecord,
    TaskRecord,
};
use serde_json::{Value, json};
use time::Date;

use super::{Fhir, FhirResult, base_url, bundle, fhir_err, reference_id};
use crate::error::ApiError;
use crate::extract::{ApiQuery, decode_cursor};
use crate::views::utc;
use crate::{AppState, wording};

const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";
const MEASURE_BASE: &str = "urn:gongti:measure";

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/Condition", get(conditions))
        .route("/EpisodeOfCare", get(episodes))
        .route("/Encounter", get(encounters))
        .route("/Observation", get(observations))
        .route("/CareTeam", get(care_teams))
        .route("/Task", get(tasks))
        .route("/Flag", get(flags))
        .route("/Measure/{id}/$evaluate-measure", get(evaluate_measure))
}

/// The search parameters of a chronic-care search: repeated keys allowed (`date`).
pub(super) type Params = Vec<(String, String)>;

pub(super) fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(super) fn check(params: &Params, known: &[&str]) -> Result<(), ApiError> {
    match params.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some((unknown, _)) => Err(ApiError::bad_request(
            "unsupported_search_parameter",
            "不支持的查询参数",
            "Unsupported search parameter",
        )
        .with_detail(unknown.clone())
        .fhir()),
    }
}

/// The patient every chronic-care search is scoped to (`patient` or `subject`).
pub(super) fn patient_of(params: &Params) -> Result<i64, ApiError> {
    match param(params, "patient").or(param(params, "subject")) {
        Some(p) => reference_id(p, "Patient"),
        None => Err(ApiError::bad_request(
            "patient_required",
            "请指定 patient 参数",
            "Search by patient: give the patient parameter",
        )
        .fhir()),
    }
}

/// `date` parameters with FHIR prefixes (`ge2026-01-01`, `le…`, `eq…`, `gt…`, `lt…`).
fn date_filter(params: &Params) -> Result<impl Fn(Date) -> bool, ApiError> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let mut tests: Vec<(String, Date)> = Vec::new();
    for (k, v) in params {
        if k != "date" {
            continue;
        }
        let (prefix, day) = match v.get(..2) {
            Some(p @ ("ge" | "le" | "gt" | "lt" | "eq")) => (p.to_owned(), &v[2..]),
            _ => ("eq".to_owned(), v.as_str()),
        };
        let day = Date::parse(day.get(..10).unwrap_or(day), &fmt).map_err(|_| {
            ApiError::bad_request(
                "bad_date",
                "日期格式应为 YYYY-MM-DD",
                "Dates are YYYY-MM-DD",
            )
            .fhir()
        })?;
        tests.push((prefix, day));
    }
    Ok(move |d: Date| {
        tests.iter().all(|(p, x)| match p.as_str() {
            "ge" => d >= *x,
            "le" => d <= *x,
            "gt" => d > *x,
            "lt" => d < *x,
            _ => d == *x,
        })
    })
}

/// The day of an instant in the region's time zone.
fn local_day(us: i64) -> Date {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map(|t| t.to_offset(gongti_app::DISPLAY_OFFSET).date())
        .unwrap_or(Date::MIN)
}

fn code_matches(params: &Params, system: &str, code: &str) -> bool {
    match param(params, "code") {
        None => true,
        Some(c) => c.split(',').any(|one| match one.split_once('|') {
            Some((s, v)) => (s.is_empty() || s == system) && v == code,
            None => one == code,
        }),
    }
}

fn patient_ref(id: i64) -> Value {
    json!({"reference": format!("Patient/{id}")})
}

/// The disease, not the programme: hypertension and diabetes stay `active` when an
/// enrolment ends (died, moved away, declined — the EpisodeOfCare says `finished`);
/// only an excluded diagnosis refutes it.
fn condition(e: &EnrolmentRecord) -> Value {
    let (zh, _) = wording::disease(e.disease);
    let excluded = e.end_reason.as_deref()
        == Some(gongti_core::chronic::record::EndReason::DiagnosisExcluded.code());
    let (clinical, verification) = if excluded {
        ("inactive", "refuted")
    } else {
        ("active", "confirmed")
    };
    json!({
        "resourceType": "Condition",
        "id": e.id.to_string(),
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}],
        "code": {"coding": [{"system": ICD10, "code": e.icd10}], "text": zh},
        "subject": patient_ref(e.resident_id),
        "onsetDateTime": e.diagnosed_on.to_string(),
        "recordedDate": e.enrolled_on.to_string(),
    })
}

fn episode(e: &EnrolmentRecord) -> Value {
    let (zh, en) = wording::disease(e.disease);
    let mut v = json!({
        "resourceType": "EpisodeOfCare",
        "id": e.id.to_string(),
        "status": if e.active { "active" } else { "finished" },
        "type": [{"coding": [{"system": "urn:gongti:programme", "code": e.disease.code(), "display": en}], "text": format!("{zh}管理")}],
        "diagnosis": [{"condition": {"reference": format!("Condition/{}", e.id)}}],
        "patient": patient_ref(e.resident_id),
        "managingOrganization": {"reference": format!("Organization/{}", e.institution_id)},
        "period": {"start": e.enrolled_on.to_string()},
    });
    if let Some(end) = e.ended_on {
        v["period"]["end"] = end.to_string().into();
    }
    v
}

fn encounter(f: &FollowupRecord) -> Value {
    let (class, display) = match f.method {
        Method::Clinic => ("AMB", "ambulatory"),
        Method::Home => ("HH", "home health"),
        Method::Phone => ("VR", "virtual"),
    };
    let mut v = json!({
        "resourceType": "Encounter",
        "id": f.id.to_string(),
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class, "display": display},
        "type": [{"coding": [{"system": "urn:gongti:encounter-type", "code": format!("{}-followup", f.disease.code())}], "text": "随访"}],
        "subject": patient_ref(f.resident_id),
        "episodeOfCare": [{"reference": format!("EpisodeOfCare/{}", f.enrolment_id)}],
        "participant": [{"individual": {"reference": format!("Practitioner/{}", f.staff_id)}}],
        "period": {"start": f.visit_on.to_string(), "end": f.visit_on.to_string()},
        "serviceProvider": {"reference": format!("Organization/{}", f.institution_id)},
    });
    if let Some(c) = f.classification {
        let (zh, en) = wording::classification(c);
        v["reasonCode"] = json!([{"coding": [{"system": "urn:gongti:followup-classification", "code": c.number().to_string(), "display": en}], "text": zh}]);
    }
    v
}

fn quantity(value: f64, unit: &str, code: &str) -> Value {
    json!({"value": value, "unit": unit, "system": UCUM, "code": code})
}

fn category(code: &str) -> Value {
    json!([{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": code}]}])
}

fn bp_observation(
    id: String,
    patient: i64,
    when: Value,
    sbp: u16,
    dbp: u16,
    encounter: Option<i64>,
) -> Value {
    let mut v = json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "category": category("vital-signs"),
        "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}], "text": "血压"},
        "subject": patient_ref(patient),
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"}]}, "valueQuantity": quantity(f64::from(sbp), "mmHg", "mm[Hg]")},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"}]}, "valueQuantity": quantity(f64::from(dbp), "mmHg", "mm[Hg]")},
        ],
    });
    merge_when(&mut v, when, encounter);
    v
}

fn simple_observation(
    id: String,
    patient: i64,
    when: Value,
    loinc: (&str, &str, &str),
    value: Value,
    encounter: Option<i64>,
) -> Value {
    let (code, display, cat) = loinc;
    let mut v = json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "category": category(cat),
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": patient_ref(patient),
        "valueQuantity": value,
    });
    merge_when(&mut v, when, encounter);
    v
}

fn merge_when(v: &mut Value, when: Value, encounter: Option<i64>) {
    v["effectiveDateTime"] = when;
    if let Some(e) = encounter {
        v["encounter"] = json!({"reference": format!("Encounter/{e}")});
    }
}

/// The observations a follow-up measured, each with its LOINC code.
fn followup_observations(f: &FollowupRecord) -> Vec<(Date, &'static str, Value)> {
    let when: Value = f.visit_on.to_string().into();
    let mut out = Vec::new();
    if let Some(bp) = f.bp {
        out.push((
            f.visit_on,
            "85354-9",
            bp_observation(
                format!("f{}-bp", f.id),
                f.resident_id,
                when.clone(),
                bp.sbp_mmhg,
                bp.dbp_mmhg,
                Some(f.id),
            ),
        ));
    }
    if let Some(g) = f.fpg_centi_mmol {
        out.push((
            f.visit_on,
            "1558-6",
            simple_observation(
                format!("f{}-fpg", f.id),
                f.resident_id,
                when.clone(),
                (
                    "1558-6",
                    "Fasting glucose [Moles/volume] in Serum or Plasma",
                    "laboratory",
                ),
                quantity(f64::from(g) / 100.0, "mmol/L", "mmol/L"),
                Some(f.id),
            ),
        ));
    }
    if let Some(h) = f.hba1c_centi_percent {
        out.push((
            f.visit_on,
            "4548-4",
            simple_observation(
                format!("f{}-hba1c", f.id),
                f.resident_id,
                when.clone(),
                (
                    "4548-4",
                    "Hemoglobin A1c/Hemoglobin.total in Blood",
                    "laboratory",
                ),
                quantity(f64::from(h) / 100.0, "%", "%"),
                Some(f.id),
            ),
        ));
    }
    if let Some(hr) = f.heart_rate_bpm {
        out.push((
            f.visit_on,
            "8867-4",
            simple_observation(
                format!("f{}-hr", f.id),
                f.resident_id,
                when.clone(),
                ("8867-4", "Heart rate", "vital-signs"),
                quantity(f64::from(hr), "/min", "/min"),
                Some(f.id),
            ),
        ));
    }
    if let Some(bmi) = f.bmi_centi {
        out.push((
            f.visit_on,
            "39156-5",
            simple_observation(
                format!("f{}-bmi", f.id),
                f.resident_id,
                when,
                ("39156-5", "Body mass index (BMI) [Ratio]", "vital-signs"),
                quantity(f64::from(bmi) / 100.0, "kg/m2", "kg/m2"),
                Some(f.id),
            ),
        ));
    }
    out
}

fn reading_observation(r: &ReadingRecord, day: Date) -> (Date, &'static str, Value) {
    let when: Value = utc(r.taken_at_us).into();
    let mut v = match (r.bp, r.glucose_centi_mmol) {
        (Some(bp), _) => bp_observation(
            format!("r{}", r.id),
            r.resident_id,
            when,
            bp.sbp_mmhg,
            bp.dbp_mmhg,
            None,
        ),
        (None, g) => simple_observation(
            format!("r{}", r.id),
            r.resident_id,
            when,
            ("15074-8", "Glucose [Moles/volume] in Blood", "vital-signs"),
            quantity(g.unwrap_or_default() as f64 / 100.0, "mmol/L", "mmol/L"),
            None,
        ),
    };
    v["method"] = json!({"text": "家庭自测 home reading"});
    let code = if r.bp.is_some() { "85354-9" } else { "15074-8" };
    (day, code, v)
}

fn care_team(c: &ContractRecord, members: Option<&gongti_store::TeamRecord>) -> Value {
    let active = matches!(
        c.status,
        gongti_core::contract::ContractStatus::Active
            | gongti_core::contract::ContractStatus::Renewed
            | gongti_core::contract::ContractStatus::Switched
    );
    let participants: Vec<Value> = members
        .map(|t| {
            [(t.doctor_staff_id, "家庭医生"), (t.nurse_staff_id, "护士"), (t.public_health_staff_id, "公卫医生")]
                .iter()
                .map(|(id, role)| json!({"role": [{"text": role}], "member": {"reference": format!("Practitioner/{id}")}}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "resourceType": "CareTeam",
        "id": c.id.to_string(),
        "status": if active { "active" } else { "inactive" },
        "category": [{"coding": [{"system": "urn:gongti:care-team", "code": "family-doctor-contract"}], "text": "家庭医生签约"}],
        "name": c.team_name,
        "subject": patient_ref(c.resident_id),
        "period": {"start": c.start_on.to_string(), "end": c.ended_on.unwrap_or(c.end_on).to_string()},
        "participant": participants,
        "managingOrganization": [{"reference": format!("Organization/{}", c.institution_id)}],
    })
}

fn task(t: &TaskRecord) -> Value {
    let mut v = json!({
        "resourceType": "Task",
        "id": t.id.to_string(),
        "status": if t.open { "requested" } else { "completed" },
        "intent": "order",
        "code": {"coding": [{"system": "urn:gongti:task", "code": t.kind}], "text": if t.kind == "referral_return_followup" {
            "上级医院下转后14天内随访"
        } else {
            "紧急转诊后14天内随访"
        }},
        "for": patient_ref(t.resident_id),
        "restriction": {"period": {"end": t.due_on.to_string()}},
        "owner": {"reference": format!("Organization/{}", t.institution_id)},
    });
    if let Some(f) = t.source_followup_id {
        v["focus"] = json!({"reference": format!("Encounter/{f}")});
    }
    v
}

fn flag(a: &AlertRecord) -> Value {
    let (zh, en) = wording::alert_code(&a.code);
    json!({
        "resourceType": "Flag",
        "id": a.id.to_string(),
        "status": if a.open { "active" } else { "inactive" },
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category", "code": "clinical"}]}],
        "code": {"coding": [{"system": "urn:gongti:alert", "code": a.code, "display": en}], "text": zh},
        "subject": patient_ref(a.resident_id),
        "period": {"start": utc(a.raised_at_us)},
        "author": {"reference": format!("Organization/{}", a.institution_id)},
    })
}

pub(super) fn searchset(
    state: &AppState,
    resource: &str,
    params: &Params,
    entries: Vec<Value>,
    next: Option<i64>,
) -> Fhir {
    let map = params.iter().cloned().collect();
    Fhir(bundle(&base_url(state), resource, &map, entries, next))
}

async fn conditions(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(&params, &["patient", "subject", "code"])?;
    let patient = patient_of(&params)?;
    let list = state
        .app
        .resident_enrolments(&ctx, patient)
        .await
        .map_err(fhir_err)?;
    let entries = list
        .iter()
        .filter(|e| code_matches(&params, ICD10, &e.icd10))
        .map(condition)
        .collect();
    Ok(searchset(&state, "Condition", &params, entries, None))
}

async fn episodes(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(&params, &["patient", "subject", "date"])?;
    let patient = patient_of(&params)?;
    let on = date_filter(&params)?;
    let list = state
        .app
        .resident_enrolments(&ctx, patient)
        .await
        .map_err(fhir_err)?;
    Ok(searchset(
        &state,
        "EpisodeOfCare",
        &params,
        list.iter()
            .filter(|e| on(e.enrolled_on))
            .map(episode)
            .collect(),
        None,
    ))
}

async fn followups(
    state: &AppState,
    ctx: &Ctx,
    params: &Params,
) -> Result<(Vec<FollowupRecord>, Option<i64>), ApiError> {
    let patient = patient_of(params)?;
    let after = decode_cursor(param(params, "_cursor")).map_err(ApiError::fhir)?;
    let count = param(params, "_count").and_then(|c| c.parse().ok());
    let page = state
        .app
        .resident_followups(
            ctx,
            patient,
            None,
            after,
            gongti_store::clamp_page_size(count, crate::PAGE_SIZE_DEFAULT),
        )
        .await
        .map_err(fhir_err)?;
    Ok((page.items, page.next_after))
}

async fn encounters(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(
        &params,
        &["patient", "subject", "date", "_count", "_cursor"],
    )?;
    let on = date_filter(&params)?;
    let (items, next) = followups(&state, &ctx, &params).await?;
    let entries = items
        .iter()
        .filter(|f| on(f.visit_on))
        .map(encounter)
        .collect();
    Ok(searchset(&state, "Encounter", &params, entries, next))
}

/// Observations of the follow-ups (paged by follow-up), or with
/// `category=home-reading` the home readings of the last year (at most 1,000).
async fn observations(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(
        &params,
        &[
            "patient", "subject", "code", "date", "category", "_count", "_cursor",
        ],
    )?;
    let on = date_filter(&params)?;
    let (found, next) = if param(&params, "category") == Some("home-reading") {
        let patient = patient_of(&params)?;
        let now_us = gongti_app::unix_us(state.app.now());
        let readings = state
            .app
            .resident_readings(
                &ctx,
                patient,
                now_us - 366 * 24 * 3600 * 1_000_000,
                now_us + 1,
                gongti_app::readings::READINGS_LIST_MAX,
            )
            .await
            .map_err(fhir_err)?;
        (
            readings
                .iter()
                .map(|r| reading_observation(r, local_day(r.taken_at_us)))
                .collect::<Vec<_>>(),
            None,
        )
    } else {
        let (items, next) = followups(&state, &ctx, &params).await?;
        (items.iter().flat_map(followup_observations).collect(), next)
    };
    let entries = found
        .into_iter()
        .filter(|(day, code, _)| on(*day) && code_matches(&params, LOINC, code))
        .map(|(_, _, v)| v)
        .collect();
    Ok(searchset(&state, "Observation", &params, entries, next))
}

async fn care_teams(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(&params, &["patient", "subject"])?;
    let patient = patient_of(&params)?;
    let contracts = state
        .app
        .resident_contracts(&ctx, patient)
        .await
        .map_err(fhir_err)?;
    let mut entries = Vec::with_capacity(contracts.len());
    for c in &contracts {
        let team = state.app.store().team(c.team_id).await.ok();
        entries.push(care_team(c, team.as_ref()));
    }
    Ok(searchset(&state, "CareTeam", &params, entries, None))
}

async fn tasks(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(&params, &["patient", "subject", "status"])?;
    let patient = patient_of(&params)?;
    let list = state
        .app
        .resident_tasks(&ctx, patient)
        .await
        .map_err(fhir_err)?;
    let referrals = state
        .app
        .resident_referrals(&ctx, patient, None, crate::PAGE_SIZE_DEFAULT)
        .await
        .map_err(fhir_err)?;
    let wanted = param(&params, "status");
    let entries = list
        .iter()
        .map(task)
        .chain(referrals.items.iter().map(super::referral::referral_task))
        .filter(|t| wanted.is_none_or(|s| t["status"] == s))
        .collect();
    Ok(searchset(&state, "Task", &params, entries, None))
}

async fn flags(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(&params, &["patient", "subject", "date"])?;
    let patient = patient_of(&params)?;
    let on = date_filter(&params)?;
    let list = state
        .app
        .resident_alerts(&ctx, patient)
        .await
        .map_err(fhir_err)?;
    let entries = list
        .iter()
        .filter(|a| on(local_day(a.raised_at_us)))
        .map(flag)
        .collect();
    Ok(searchset(&state, "Flag", &params, entries, None))
}

/// `Measure/{programme}-{indicator}/$evaluate-measure?periodStart&periodEnd&reportType`
/// with `subject=Organization/{id}` or `scope=city|district:<code>`: a MeasureReport,
/// `summary` (counts and score) or `subject-list` (the numerator's patients in a
/// contained List, de-identified unless the reader is the institution's clinician).
async fn evaluate_measure(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(
        &params,
        &["periodStart", "periodEnd", "reportType", "subject", "scope"],
    )?;
    let not_found = || ApiError::not_found().fhir();
    let (disease, indicator) = id.split_once('-').ok_or_else(not_found)?;
    let disease = Disease::parse(disease).ok_or_else(not_found)?;
    let indicator = Indicator::parse(indicator)
        .filter(|i| i.applies_to(disease))
        .ok_or_else(not_found)?;
    let scope = match (param(&params, "subject"), param(&params, "scope")) {
        (Some(s), _) => IndicatorScope::Institution(reference_id(s, "Organization")?),
        (None, s) => crate::api::indicators::parse_scope(&ctx, s).map_err(ApiError::fhir)?,
    };
    let period = crate::api::indicators::parse_period(
        &state,
        param(&params, "periodStart"),
        param(&params, "periodEnd"),
    )
    .map_err(ApiError::fhir)?;
    let subject_list = match param(&params, "reportType") {
        None | Some("summary") => false,
        Some("subject-list") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_report_type",
                "reportType 应为 summary 或 subject-list",
                "reportType must be summary or subject-list",
            )
            .fhir());
        }
    };
    let figures = state
        .app
        .indicators(&ctx, &scope, &[disease], &period)
        .await
        .map_err(fhir_err)?;
    let (n, d) = figures.first().map_or((0, 0), |(_, t)| t.get(indicator));
    let (label, label_en) = wording::indicator(indicator);
    let mut report = json!({
        "resourceType": "MeasureReport",
        // FHIR ids allow letters, digits, '-' and '.' only.
        "id": format!("{id}-{}-{}", period.from, period.to).replace('_', "-"),
        "status": "complete",
        "type": if subject_list { "subject-list" } else { "summary" },
        "measure": format!("{MEASURE_BASE}/{id}"),
        "date": utc(gongti_app::unix_us(state.app.now())),
        "period": {"start": period.from.to_string(), "end": period.to.to_string()},
        "group": [{
            "code": {"coding": [{"system": MEASURE_BASE, "code": indicator.code(), "display": label_en}], "text": label},
            "population": [
                {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "numerator"}]}, "count": n},
                {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "denominator"}]}, "count": d},
            ],
            "measureScore": {"value": rate_basis_points(n, d).map_or(0.0, |bp| bp as f64 / 10_000.0)},
        }],
    });
    if let IndicatorScope::Institution(i) = scope {
        report["reporter"] = json!({"reference": format!("Organization/{i}")});
    }
    if subject_list {
        let list = state
            .app
            .indicator_patient_list(
                &ctx,
                &PatientListQuery {
                    scope,
                    disease,
                    period,
                    indicator,
                    part: ListPart::Numerator,
                },
                None,
                gongti_store::PAGE_SIZE_MAX,
                None,
            )
            .await
            .map_err(fhir_err)?;
        let entries: Vec<Value> = list
            .items
            .iter()
            .map(|p| json!({"item": {"reference": format!("Patient/{}", p.resident_id), "display": p.name}}))
            .collect();
        report["contained"] = json!([{"resourceType": "List", "id": "numerator", "status": "current", "mode": "snapshot", "entry": entries}]);
        report["group"][0]["population"][0]["subjectResults"] = json!({"reference": "#numerator"});
    }
    Ok(Fhir(report))
}
