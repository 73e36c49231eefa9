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
use gongti_core::lab::LabTest;
use gongti_store::{
    AlertRecord, ContractRecord, EnrolmentRecord, FollowupRecord, IndicatorScope, ReadingRecord,
    TaskRecord, Version,
};
use serde_json::{Value, json};
use time::Date;

use super::search::{FhirQuery, Kind, Range, Search, Spec, searchset};
use super::{Fhir, FhirResult, base_url, fhir_err, meta, reference_id};
use crate::error::ApiError;
use crate::views::utc;
use crate::{AppState, wording};

pub(super) const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
const LOINC: &str = "http://loinc.org";
pub(super) const UCUM: &str = "http://unitsofmeasure.org";
const MEASURE_BASE: &str = "urn:gongti:measure";
const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const EPISODE_STATUS: &str = "http://hl7.org/fhir/episode-of-care-status";
const CARE_TEAM_STATUS: &str = "http://hl7.org/fhir/care-team-status";
const TASK_STATUS: &str = "http://hl7.org/fhir/task-status";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
/// Our own category beside R4's: where an observation came from.
const OBSERVATION_SOURCE: &str = "urn:gongti:observation-source";

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    let mut router = axum::Router::new()
        .route("/Encounter", get(encounters))
        .route("/Measure/{id}/$evaluate-measure", get(evaluate_measure));
    for (ty, spec) in [
        ("Condition", &CONDITION),
        ("EpisodeOfCare", &EPISODE),
        ("Observation", &OBSERVATION),
        ("CareTeam", &BY_PATIENT_AND_STATUS),
        ("Task", &BY_PATIENT_AND_STATUS),
        ("Flag", &FLAG),
    ] {
        router = router.route(
            &format!("/{ty}"),
            get(
                move |State(state): State<AppState>,
                      axum::Extension(ctx): axum::Extension<Ctx>,
                      q: FhirQuery| search_scoped(ty, spec, state, ctx, q),
            ),
        );
    }
    for ty in [
        "Condition",
        "EpisodeOfCare",
        "Encounter",
        "Observation",
        "CareTeam",
        "Task",
        "Flag",
    ] {
        router = router.route(
            &format!("/{ty}/{{id}}"),
            get(
                move |State(state): State<AppState>,
                      axum::Extension(ctx): axum::Extension<Ctx>,
                      Path(id): Path<String>| read_scoped(ty, state, ctx, id),
            ),
        );
    }
    router
}

pub(super) fn patient_ref(id: i64) -> Value {
    json!({"reference": format!("Patient/{id}")})
}

/// The disease, not the programme: hypertension and diabetes stay `active` when an
/// enrolment ends (died, moved away, declined — the EpisodeOfCare says `finished`);
/// only an excluded diagnosis refutes it.
pub(super) fn condition(e: &EnrolmentRecord) -> Value {
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
        "meta": meta(e.version),
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}]},
        "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "problem-list-item"}]}],
        "code": {"coding": [{"system": ICD10, "code": e.icd10}], "text": zh},
        "subject": patient_ref(e.resident_id),
        "onsetDateTime": e.diagnosed_on.to_string(),
        "recordedDate": e.enrolled_on.to_string(),
    })
}

pub(super) fn episode(e: &EnrolmentRecord) -> Value {
    let (zh, en) = wording::disease(e.disease);
    let mut v = json!({
        "resourceType": "EpisodeOfCare",
        "id": e.id.to_string(),
        "meta": meta(e.version),
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

pub(super) fn encounter(f: &FollowupRecord) -> Value {
    let (class, display) = match f.method {
        Method::Clinic => ("AMB", "ambulatory"),
        Method::Home => ("HH", "home health"),
        Method::Phone => ("VR", "virtual"),
    };
    let mut v = json!({
        "resourceType": "Encounter",
        "id": f.id.to_string(),
        // A follow-up is never changed once recorded: its only version.
        "meta": meta(Version::first(f.created_at_us)),
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

pub(super) fn quantity(value: f64, unit: &str, code: &str) -> Value {
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

pub(super) fn simple_observation(
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
pub(super) fn followup_observations(f: &FollowupRecord) -> Vec<(Date, &'static str, Value)> {
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
        // mmol/L: 14771-0, whose property is a molar concentration (1558-6 is mg/dL).
        let fpg = LabTest::FastingGlucose;
        out.push((
            f.visit_on,
            fpg.loinc(),
            simple_observation(
                format!("f{}-fpg", f.id),
                f.resident_id,
                when.clone(),
                (fpg.loinc(), fpg.loinc_display(), "laboratory"),
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
    // What a follow-up measured is never changed once recorded: its only version.
    for (_, _, v) in &mut out {
        v["meta"] = meta(Version::first(f.created_at_us));
    }
    out
}

/// A home reading: categorised as R4's vital-signs and as our `home-reading` source, so
/// it answers ordinary searches and a search for home readings alike.
pub(super) fn reading_observation(r: &ReadingRecord) -> (&'static str, Value) {
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
    // A reading is never changed once received: its only version.
    v["meta"] = meta(Version::first(r.received_at_us));
    if let Some(categories) = v["category"].as_array_mut() {
        categories.push(json!({"coding": [{"system": OBSERVATION_SOURCE, "code": "home-reading", "display": "家庭自测 home reading"}]}));
    }
    let code = if r.bp.is_some() { "85354-9" } else { "15074-8" };
    (code, v)
}

pub(super) fn care_team(c: &ContractRecord, members: Option<&gongti_store::TeamRecord>) -> Value {
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
        "meta": meta(c.version),
        "status": if active { "active" } else { "inactive" },
        "category": [{"coding": [{"system": "urn:gongti:care-team", "code": "family-doctor-contract"}], "text": "家庭医生签约"}],
        "name": c.team_name,
        "subject": patient_ref(c.resident_id),
        "period": {"start": c.start_on.to_string(), "end": c.ended_on.unwrap_or(c.end_on).to_string()},
        "participant": participants,
        "managingOrganization": [{"reference": format!("Organization/{}", c.institution_id)}],
    })
}

pub(super) fn task(t: &TaskRecord) -> Value {
    let mut v = json!({
        "resourceType": "Task",
        "id": t.id.to_string(),
        "meta": meta(t.version),
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

pub(super) fn flag(a: &AlertRecord) -> Value {
    let (zh, en) = wording::alert_code(&a.code);
    json!({
        "resourceType": "Flag",
        "id": a.id.to_string(),
        "meta": meta(a.version),
        "status": if a.open { "active" } else { "inactive" },
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/flag-category", "code": "clinical"}]}],
        "code": {"coding": [{"system": "urn:gongti:alert", "code": a.code, "display": en}], "text": zh},
        "subject": patient_ref(a.resident_id),
        "period": {"start": utc(a.raised_at_us)},
        "author": {"reference": format!("Organization/{}", a.institution_id)},
    })
}

/// The patient a patient-scoped search reads (`patient`, `subject`, an
/// appointment's `actor` or a coverage's `beneficiary`; required: access is decided per patient). `Ok(None)` when the
/// references can match no patient here, so the answer is empty.
pub(super) fn patient_of(s: &Search, base: &str) -> Result<Option<i64>, ApiError> {
    let missing = ApiError::bad_request(
        "patient_required",
        "请指定 patient 参数",
        "Search by patient: give the patient parameter",
    )
    .fhir();
    s.one_referenced(
        &["patient", "subject", "actor", "beneficiary"],
        "Patient",
        base,
        missing,
    )
}

/// Answers a patient-scoped search: the list filtered, then sorted by `date` when
/// `_sort` asks, counted and paged.
pub(super) fn answer(
    state: &AppState,
    resource: &str,
    s: &Search,
    mut found: Vec<(Range, Value)>,
) -> Fhir {
    s.sort_by_time(&mut found, |(r, _)| r.start_us);
    let page = s.page_of(found.into_iter().map(|(_, v)| v).collect());
    Fhir(searchset(&base_url(state), resource, s, page, Vec::new()))
}

/// Most records one patient-scoped search reads (follow-ups of a lifetime are a few
/// hundred).
pub(super) const PATIENT_RECORDS_MAX: u32 = 5_000;

pub(super) const CONDITION: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("code", Kind::Token),
        ("clinical-status", Kind::Token),
        ("onset-date", Kind::Date),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

pub(super) const EPISODE: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("date", Kind::Date),
        ("status", Kind::Token),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

/// Every follow-up of the patient (read whole: filters and totals need all of them).
async fn all_followups(
    state: &AppState,
    ctx: &Ctx,
    patient: i64,
) -> Result<Vec<FollowupRecord>, ApiError> {
    let page = state
        .app
        .resident_followups(ctx, patient, None, None, PATIENT_RECORDS_MAX)
        .await
        .map_err(fhir_err)?;
    Ok(page.items)
}

pub(super) const ENCOUNTER: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("date", Kind::Date),
        ("class", Kind::Token),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &["date"],
    includes: &[],
    revincludes: &["Observation:encounter"],
};

async fn encounters(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&ENCOUNTER)?;
    let base = base_url(&state);
    let Some(patient) = patient_of(&s, &base)? else {
        return Ok(answer(&state, "Encounter", &s, Vec::new()));
    };
    let now = now_us(&state);
    let items = all_followups(&state, &ctx, patient).await?;
    let mut found: Vec<(Range, Value, &FollowupRecord)> = items
        .iter()
        .map(|f| (Range::day(f.visit_on), encounter(f), f))
        .filter(|(day, v, _)| {
            s.dates_match("date", *day, now)
                && s.tokens_match(
                    "class",
                    &[(ACT_CODE, v["class"]["code"].as_str().unwrap_or(""))],
                )
        })
        .collect();
    found.retain(|(_, v, _)| s.last_updated_matches(v));
    s.sort_by_time(&mut found, |(r, _, _)| r.start_us);
    // `_revinclude=Observation:encounter`: the page's encounters' observations.
    let included = if s.revincludes.is_empty() {
        Vec::new()
    } else {
        found[s.window(found.len())]
            .iter()
            .flat_map(|(_, _, f)| followup_observations(f))
            .map(|(_, _, v)| v)
            .collect()
    };
    let page = s.page_of(found.into_iter().map(|(_, v, _)| v).collect());
    Ok(Fhir(searchset(&base, "Encounter", &s, page, included)))
}

pub(super) const OBSERVATION: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("code", Kind::Token),
        ("date", Kind::Date),
        ("category", Kind::Token),
        ("encounter", Kind::Reference),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &["date"],
    includes: &[],
    revincludes: &[],
};

/// CareTeam and Task: by patient and status.
pub(super) const BY_PATIENT_AND_STATUS: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("status", Kind::Token),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

pub(super) const FLAG: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("date", Kind::Date),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &["date"],
    includes: &[],
    revincludes: &[],
};

/// A patient's records of one chronic-care type as a search filters them, each with
/// the time it is dated by (for `_sort`). The searches and the reads by id share it.
pub(super) async fn list(
    ty: &str,
    state: &AppState,
    ctx: &Ctx,
    s: &Search,
    patient: i64,
) -> Result<Vec<(Range, Value)>, ApiError> {
    let now = now_us(state);
    let code = |v: &Value, path: &[&str]| -> String {
        let mut at = v;
        for p in path {
            at = if let Ok(i) = p.parse::<usize>() {
                &at[i]
            } else {
                &at[*p]
            };
        }
        at.as_str().unwrap_or("").to_owned()
    };
    Ok(match ty {
        "Condition" | "EpisodeOfCare" => {
            let list = state
                .app
                .resident_enrolments(ctx, patient)
                .await
                .map_err(fhir_err)?;
            if ty == "Condition" {
                list.iter()
                    .map(|e| (Range::day(e.diagnosed_on), condition(e)))
                    .filter(|(day, c)| {
                        s.tokens_match(
                            "code",
                            &[(ICD10, &code(c, &["code", "coding", "0", "code"]))],
                        ) && s.tokens_match(
                            "clinical-status",
                            &[(
                                CONDITION_CLINICAL,
                                &code(c, &["clinicalStatus", "coding", "0", "code"]),
                            )],
                        ) && s.dates_match("onset-date", *day, now)
                    })
                    .collect()
            } else {
                list.iter()
                    .map(|e| (Range::days(e.enrolled_on, e.ended_on), episode(e)))
                    .filter(|(period, v)| {
                        s.dates_match("date", *period, now)
                            && s.tokens_match("status", &[(EPISODE_STATUS, &code(v, &["status"]))])
                    })
                    .collect()
            }
        }
        "Encounter" => all_followups(state, ctx, patient)
            .await?
            .iter()
            .map(|f| (Range::day(f.visit_on), encounter(f)))
            .filter(|(day, v)| {
                s.dates_match("date", *day, now)
                    && s.tokens_match("class", &[(ACT_CODE, &code(v, &["class", "code"]))])
            })
            .collect(),
        "Observation" => {
            // The follow-ups' measurements and the home readings, filtered before paging.
            let mut found: Vec<(Range, &'static str, Value, Option<i64>)> =
                all_followups(state, ctx, patient)
                    .await?
                    .iter()
                    .flat_map(|f| {
                        followup_observations(f)
                            .into_iter()
                            .map(move |(day, code, v)| (Range::day(day), code, v, Some(f.id)))
                    })
                    .collect();
            if !s.has("encounter") {
                let readings = state
                    .app
                    .resident_readings(
                        ctx,
                        patient,
                        0,
                        now + 1,
                        gongti_app::readings::READINGS_LIST_MAX,
                    )
                    .await
                    .map_err(fhir_err)?;
                found.extend(readings.iter().map(|r| {
                    let (code, v) = reading_observation(r);
                    (Range::instant(r.taken_at_us), code, v, None)
                }));
                let labs = state
                    .app
                    .resident_lab_results(ctx, patient)
                    .await
                    .map_err(fhir_err)?;
                found.extend(labs.iter().map(|r| {
                    let (code, v) = super::lab::lab_observation(r);
                    let when = match r.collected_at_us {
                        Some(us) => Range::instant(us),
                        None => Range::day(r.collected_on),
                    };
                    (when, code, v, None)
                }));
            }
            let base = base_url(state);
            found
                .into_iter()
                .filter(|(when, loinc, v, encounter)| {
                    let categories: Vec<(&str, &str)> = v["category"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|c| c["coding"].as_array().into_iter().flatten())
                        .map(|c| {
                            (
                                c["system"].as_str().unwrap_or(""),
                                c["code"].as_str().unwrap_or(""),
                            )
                        })
                        .collect();
                    s.dates_match("date", *when, now)
                        && s.tokens_match("code", &[(LOINC, loinc)])
                        && s.tokens_match("category", &categories)
                        && encounter
                            .is_none_or(|e| s.references_match("encounter", "Encounter", &base, e))
                })
                .map(|(when, _, v, _)| (when, v))
                .collect()
        }
        "CareTeam" => {
            let contracts = state
                .app
                .resident_contracts(ctx, patient)
                .await
                .map_err(fhir_err)?;
            let mut found = Vec::with_capacity(contracts.len());
            for c in &contracts {
                let team = state.app.store().team(c.team_id).await.ok();
                let v = care_team(c, team.as_ref());
                if s.tokens_match("status", &[(CARE_TEAM_STATUS, &code(&v, &["status"]))]) {
                    found.push((
                        Range::days(c.start_on, Some(c.ended_on.unwrap_or(c.end_on))),
                        v,
                    ));
                }
            }
            found
        }
        "Task" => {
            let list = state
                .app
                .resident_tasks(ctx, patient)
                .await
                .map_err(fhir_err)?;
            let referrals = state
                .app
                .resident_referrals(ctx, patient, None, PATIENT_RECORDS_MAX)
                .await
                .map_err(fhir_err)?;
            let orders = super::exam::patient_orders(state, ctx, patient).await?;
            list.iter()
                .map(task)
                .chain(referrals.items.iter().map(super::referral::referral_task))
                .chain(orders.iter().map(super::exam::order_task))
                .filter(|t| s.tokens_match("status", &[(TASK_STATUS, &code(t, &["status"]))]))
                .map(|t| (Range::instant(0), t))
                .collect()
        }
        "Flag" => state
            .app
            .resident_alerts(ctx, patient)
            .await
            .map_err(fhir_err)?
            .iter()
            .map(|a| (Range::instant(a.raised_at_us), flag(a)))
            .filter(|(when, _)| s.dates_match("date", *when, now))
            .collect(),
        _ => Vec::new(),
    })
}

/// A patient-scoped search of `ty`: the patient, the list, the page.
async fn search_scoped(
    ty: &'static str,
    spec: &'static Spec,
    state: AppState,
    ctx: Ctx,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(spec)?;
    let found = match patient_of(&s, &base_url(&state))? {
        Some(patient) => {
            let mut found = list(ty, &state, &ctx, &s, patient).await?;
            if ty == "Task" {
                // The prescriptions' reviews, beside the follow-up and referral tasks
                // (read by their own read: `Task/review-{id}`).
                found.extend(
                    super::pharmacy::review_tasks(&state, &ctx, patient)
                        .await?
                        .into_iter()
                        .filter(|t| {
                            s.tokens_match(
                                "status",
                                &[(TASK_STATUS, t["status"].as_str().unwrap_or(""))],
                            )
                        })
                        .map(|t| (Range::instant(0), t)),
                );
            }
            found
        }
        None => Vec::new(),
    };
    Ok(answer(&state, ty, &s, found))
}

/// `{ty}/{id}`: the record's patient is looked up and the record read as that
/// patient's search lists it — the same access decision and audit.
async fn read_scoped(ty: &'static str, state: AppState, ctx: Ctx, id: String) -> FhirResult {
    use gongti_store::{PatientTable, RecordTable};
    let not_found = || ApiError::not_found().fhir();
    // A prescription's review Task is read as its prescription is.
    if let Some(rx) = id.strip_prefix("review-").filter(|_| ty == "Task") {
        return super::pharmacy::read_review_task(&state, &ctx, rx).await;
    }
    // An exam order's Task is read as the order is.
    if ty == "Task"
        && let Some(order) = super::exam::read_order(&state, &ctx, &id).await?
    {
        return Ok(Fhir(super::exam::order_task(&order)));
    }
    let (table, key) = match ty {
        "Condition" | "EpisodeOfCare" => {
            (PatientTable::Record(RecordTable::Enrolments), id.as_str())
        }
        "Encounter" => (PatientTable::Record(RecordTable::Followups), id.as_str()),
        // `f{follow-up}-{measure}`, `r{reading}` or `lab{result}`.
        "Observation" => match (
            id.strip_prefix('f'),
            id.strip_prefix('r'),
            id.strip_prefix("lab"),
        ) {
            (Some(f), _, _) => (
                PatientTable::Record(RecordTable::Followups),
                f.split('-').next().unwrap_or(""),
            ),
            (None, Some(r), _) => (PatientTable::Record(RecordTable::HomeReadings), r),
            (None, None, Some(l)) => (PatientTable::Record(RecordTable::LabResults), l),
            _ => return Err(not_found()),
        },
        "CareTeam" => (PatientTable::Record(RecordTable::Contracts), id.as_str()),
        // A follow-up task, or a referral's workflow Task (`referral-{id}`).
        "Task" => match id.strip_prefix("referral-") {
            Some(r) => (PatientTable::Record(RecordTable::Referrals), r),
            None => (PatientTable::Tasks, id.as_str()),
        },
        "Flag" => (PatientTable::Alerts, id.as_str()),
        _ => return Err(not_found()),
    };
    let key: i64 = key.parse().map_err(|_| not_found())?;
    let patient = state.app.record_owner(table, key).await.map_err(fhir_err)?;
    let everything = FhirQuery::empty().search(&NO_FILTER)?;
    list(ty, &state, &ctx, &everything, patient)
        .await?
        .into_iter()
        .map(|(_, v)| v)
        .find(|v| v["id"] == id.as_str())
        .map(Fhir)
        .ok_or_else(not_found)
}

/// A search with no filters (what a read lists its record from).
pub(super) const NO_FILTER: Spec = Spec {
    params: &[],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

pub(super) fn now_us(state: &AppState) -> i64 {
    gongti_app::unix_us(state.app.now())
}

const EVALUATE_MEASURE: Spec = Spec {
    params: &[
        ("periodStart", Kind::String),
        ("periodEnd", Kind::String),
        ("reportType", Kind::String),
        ("subject", Kind::Reference),
        ("scope", Kind::String),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

/// `Measure/{programme}-{indicator}/$evaluate-measure?periodStart&periodEnd&reportType`
/// with `subject=Organization/{id}` or `scope=city|district:<code>`: a MeasureReport,
/// `summary` (counts and score) or `subject-list` (the numerator's patients in a
/// contained List, de-identified unless the reader is the institution's clinician).
async fn evaluate_measure(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&EVALUATE_MEASURE)?;
    let param = |name: &str| s.first(name);
    let not_found = || ApiError::not_found().fhir();
    let (disease, indicator) = id.split_once('-').ok_or_else(not_found)?;
    let disease = Disease::parse(disease).ok_or_else(not_found)?;
    let indicator = Indicator::parse(indicator)
        .filter(|i| i.applies_to(disease))
        .ok_or_else(not_found)?;
    let scope = match (param("subject"), param("scope")) {
        (Some(o), _) => IndicatorScope::Institution(reference_id(&o, "Organization")?),
        (None, scope) => {
            crate::api::indicators::parse_scope(&ctx, scope.as_deref()).map_err(ApiError::fhir)?
        }
    };
    let period = crate::api::indicators::parse_period(
        &state,
        param("periodStart").as_deref(),
        param("periodEnd").as_deref(),
    )
    .map_err(ApiError::fhir)?;
    let subject_list = match param("reportType").as_deref() {
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
                s.after,
                s.count as u32,
                None,
            )
            .await
            .map_err(fhir_err)?;
        let entries: Vec<Value> = list
            .items
            .iter()
            .map(|p| json!({"item": {"reference": format!("Patient/{}", p.resident_id), "display": p.name}}))
            .collect();
        // The numerator's patients are paged like a search (`_count`, `_cursor`): the
        // List says how many there are and where the next page is.
        let mut note = format!(
            "分子共 {n} 人，本页 {} 人 / {n} patients in the numerator, {} on this page",
            entries.len(),
            entries.len()
        );
        if let Some(after) = list.next_after {
            let mut pairs: Vec<String> =
                ["periodStart", "periodEnd", "reportType", "subject", "scope"]
                    .iter()
                    .filter_map(|k| param(k).map(|v| format!("{k}={}", super::encode(&v))))
                    .collect();
            pairs.push(format!("_count={}", s.count));
            pairs.push(format!("_cursor={}", crate::extract::encode_cursor(after)));
            note.push_str(&format!(
                "；下一页 next page: {}/Measure/{id}/$evaluate-measure?{}",
                base_url(&state),
                pairs.join("&")
            ));
        }
        report["contained"] = json!([{"resourceType": "List", "id": "numerator", "status": "current", "mode": "snapshot", "note": [{"text": note}], "entry": entries}]);
        report["group"][0]["population"][0]["subjectResults"] = json!({"reference": "#numerator"});
    }
    Ok(Fhir(report))
}
