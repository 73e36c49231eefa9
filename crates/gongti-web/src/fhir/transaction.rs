//! Transaction and batch Bundles (R4 http.html#transaction) posted to the base: how a
//! city brings its existing records in. A transaction is decided, validated and
//! written as one (`app::import`): every entry or none, every problem of every entry
//! answered at once. A batch runs each entry on its own and answers each.
//!
//! Entries served: `POST Patient` (with `ifNoneExist` on the ID number), `PUT
//! Patient/{id}` (with `ifMatch`), `POST Condition` (an enrolment: the programme by its
//! ICD-10 code, `onsetDateTime` the diagnosis, `recordedDate` the day management began)
//! and `POST EpisodeOfCare` naming a Condition of the same Bundle (its `period.start`
//! the day management began). A transaction's entries refer to one another by
//! `fullUrl` (`urn:uuid:…`). Years of follow-ups come as `POST Encounter` (class, day,
//! the enrolment as `episodeOfCare`) with the `POST Observation`s measured at it (BP
//! panel, FPG, HbA1c, heart rate): each Encounter is one follow-up, judged by the rules
//! in the order of its enrolment's visit days. A laboratory result is a `POST
//! Observation` with no Encounter (`fhir::lab`), of a Patient entry or a stored one; so
//! is a home reading (a BP panel or a blood glucose measured at home, `fhir::readings`),
//! which raises its alert when urgent.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gongti_app::import::{ImportItem, ImportOutcome, Programme, Target};
use gongti_app::{AppError, Ctx};
use gongti_core::chronic::record::{EnrolmentForm, FollowupRecordForm};
use gongti_core::problem::{FieldProblem, Problem};
use serde_json::{Value, json};

use super::json::Json;

use super::write::{
    id_number_criterion, if_match_value, on_patient, patient_form, resource_json, write_err,
};
use super::{Fhir, fhir_err};
use crate::AppState;
use crate::error::ApiError;

/// Entries per Bundle (a transaction is one database transaction).
pub(crate) const ENTRIES_MAX: usize = 5_000;
/// A Bundle's body may be this long (the API's other bodies: 1 MiB).
pub(crate) const BUNDLE_BYTES_MAX: usize = 8 * 1024 * 1024;

fn date(v: &Json<'_>) -> Option<time::Date> {
    let s = v.as_str()?;
    time::Date::parse(
        s.get(..10)?,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// A reference's target: an entry of this Bundle (by `fullUrl`) or a stored record
/// (`Type/id`, relative or absolute).
fn target(reference: &str, ty: &str, full_urls: &FullUrls<'_>) -> Option<Reference> {
    if let Some(i) = full_urls.get(reference) {
        return Some(Reference::Entry(*i));
    }
    let (_, id) = reference.rsplit_once(&format!("{ty}/"))?;
    id.parse().ok().map(Reference::Stored)
}

/// The entries of a Bundle by their `fullUrl` (the first entry of a repeated one).
type FullUrls<'a> = std::collections::HashMap<&'a str, usize>;

#[derive(Debug, Clone, Copy)]
enum Reference {
    Entry(usize),
    Stored(i64),
}

/// What one entry asks for, read from the Bundle.
enum Asked {
    Item(ImportItem),
    /// An EpisodeOfCare answered by the enrolment of the Condition entry it names.
    EpisodeOf(usize),
    /// An Observation measured at the Encounter entry it names: what it adds to that
    /// follow-up's form, and its id's suffix (`f{follow-up}-{suffix}`).
    MeasuredAt(usize, Measured, &'static str),
}

/// A value an Observation adds to its Encounter's follow-up.
#[derive(Debug, Clone, Copy)]
enum Measured {
    Bp { sbp_mmhg: i64, dbp_mmhg: i64 },
    FpgMmol(f64),
    Hba1cPercent(f64),
    HeartRateBpm(i64),
}

const LOINC: &str = "http://loinc.org";

/// What an Observation measured, by its LOINC code (BP panel, FPG, HbA1c, heart rate;
/// a glucose in mmol/L as 14771-0, or in mg/dL as 1558-6, converted), or the problem
/// with a code or unit it cannot take.
fn measured(o: &Json<'_>) -> Result<(Measured, &'static str), FieldProblem> {
    let unknown = || FieldProblem {
        field: "code",
        problem: Problem::UnknownCode,
    };
    let missing = |field| FieldProblem {
        field,
        problem: Problem::Required,
    };
    let code = o["code"]["coding"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["system"] == LOINC))
        .and_then(|c| c["code"].as_str())
        .ok_or_else(unknown)?;
    if matches!(code, "14771-0" | "1558-6" | "4548-4") {
        let q = &o["valueQuantity"];
        let value = q["value"]
            .as_f64()
            .ok_or_else(|| missing("valueQuantity.value"))?;
        let q = q.to_value();
        let unit = super::lab::unit_of(&q).ok_or_else(|| missing("valueQuantity.unit"))?;
        let (test, v) = gongti_core::lab::convert(code, unit, value)?;
        return Ok(match test {
            gongti_core::lab::LabTest::FastingGlucose => (Measured::FpgMmol(v), "fpg"),
            gongti_core::lab::LabTest::Hba1c => (Measured::Hba1cPercent(v), "hba1c"),
        });
    }
    let value = |v: &Json<'_>| v["valueQuantity"]["value"].as_f64();
    let component = |loinc: &str| {
        o["component"]
            .as_array()?
            .iter()
            .find(|c| {
                c["code"]["coding"]
                    .as_array()
                    .is_some_and(|cs| cs.iter().any(|x| x["code"] == loinc))
            })
            .and_then(value)
    };
    Ok(match code {
        "85354-9" => (
            Measured::Bp {
                sbp_mmhg: component("8480-6")
                    .ok_or_else(|| missing("component"))?
                    .round() as i64,
                dbp_mmhg: component("8462-4")
                    .ok_or_else(|| missing("component"))?
                    .round() as i64,
            },
            "bp",
        ),
        "8867-4" => (
            Measured::HeartRateBpm(
                value(o)
                    .ok_or_else(|| missing("valueQuantity.value"))?
                    .round() as i64,
            ),
            "hr",
        ),
        _ => return Err(unknown()),
    })
}

/// Reads entry `i` (its problems go to `problems`, numbered by entry).
async fn read_entry(
    state: &AppState,
    ctx: &Ctx,
    i: usize,
    entry: &Json<'_>,
    full_urls: &FullUrls<'_>,
    problems: &mut Vec<(usize, FieldProblem)>,
) -> Result<Option<Asked>, ApiError> {
    let bad = |field: &'static str, problem: Problem| FieldProblem { field, problem };
    let resource = &entry["resource"];
    let method = entry["request"]["method"].as_str().unwrap_or("");
    let url = entry["request"]["url"].as_str().unwrap_or("");
    let ty = resource["resourceType"].as_str().unwrap_or("");
    let path_type = url.split(['/', '?']).next().unwrap_or("");
    if path_type != ty {
        problems.push((
            i,
            bad(
                "request.url",
                Problem::Inconsistent {
                    with: "resourceType",
                },
            ),
        ));
        return Ok(None);
    }
    Ok(Some(match (method, ty) {
        ("POST", "Patient") => {
            let (form, home) = match patient_form(&resource.to_value()) {
                Ok(f) => f,
                Err(AppError::Invalid(found)) => {
                    problems.extend(found.into_iter().map(|p| (i, p)));
                    return Ok(None);
                }
                Err(e) => return Err(fhir_err(e)),
            };
            let if_none_exist = match entry["request"]["ifNoneExist"].as_str() {
                None => false,
                Some(q) => {
                    let wanted = id_number_criterion(q)?;
                    if !wanted.eq_ignore_ascii_case(&form.id_number) {
                        problems.push((
                            i,
                            bad(
                                "request.ifNoneExist",
                                Problem::Inconsistent { with: "identifier" },
                            ),
                        ));
                        return Ok(None);
                    }
                    true
                }
            };
            Asked::Item(ImportItem::Register {
                form,
                home,
                if_none_exist,
            })
        }
        ("PUT", "Patient") => {
            let Some(id) = url
                .strip_prefix("Patient/")
                .and_then(|id| id.parse::<i64>().ok())
                .filter(|id| resource["id"].as_str() == Some(id.to_string().as_str()))
            else {
                problems.push((
                    i,
                    bad(
                        "id",
                        Problem::Inconsistent {
                            with: "request.url",
                        },
                    ),
                ));
                return Ok(None);
            };
            let (mut form, _) = match patient_form(&resource.to_value()) {
                Ok(f) => f,
                Err(AppError::Invalid(found)) => {
                    problems.extend(found.into_iter().map(|p| (i, p)));
                    return Ok(None);
                }
                Err(e) => return Err(fhir_err(e)),
            };
            // What FHIR's Patient does not carry (the household) stays as recorded.
            let now = state
                .app
                .read_resident(ctx, id, None)
                .await
                .map_err(fhir_err)?;
            form.household = now.record.household;
            let expected_version = match entry["request"]["ifMatch"].as_str() {
                None => None,
                Some(tag) => Some(if_match_value(tag)?),
            };
            Asked::Item(ImportItem::Update {
                id,
                form,
                expected_version,
            })
        }
        ("POST", "Condition") => {
            let patient = resource["subject"]["reference"]
                .as_str()
                .and_then(|r| target(r, "Patient", full_urls));
            let icd10 = resource["code"]["coding"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["system"] == super::chronic::ICD10)
                .and_then(|c| c["code"].as_str())
                .map(str::to_owned);
            let mut missing = false;
            for (field, absent) in [
                ("subject", patient.is_none()),
                ("code", icd10.is_none()),
                ("onsetDateTime", date(&resource["onsetDateTime"]).is_none()),
            ] {
                if absent {
                    problems.push((i, bad(field, Problem::Required)));
                    missing = true;
                }
            }
            let (Some(patient), Some(icd10), false) = (patient, icd10, missing) else {
                return Ok(None);
            };
            let patient = match patient {
                Reference::Entry(j) => Target::Item(j),
                Reference::Stored(id) => Target::Resident(id),
            };
            Asked::Item(ImportItem::Enrol {
                patient,
                form: EnrolmentForm {
                    icd10,
                    diagnosed_on: date(&resource["onsetDateTime"]),
                    diagnosing_institution_id: None,
                    diagnosed_offline: None,
                    enrolled_on: date(&resource["recordedDate"]),
                },
            })
        }
        ("POST", "Encounter") => {
            let method = match resource["class"]["code"].as_str() {
                Some("AMB") => "clinic",
                Some("HH") => "home",
                Some("VR") => "phone",
                _ => {
                    problems.push((i, bad("class", Problem::UnknownCode)));
                    return Ok(None);
                }
            };
            let programme = resource["episodeOfCare"][0]["reference"]
                .as_str()
                .and_then(|r| {
                    target(r, "EpisodeOfCare", full_urls)
                        .or_else(|| target(r, "Condition", full_urls))
                });
            let Some(visit_on) = date(&resource["period"]["start"]) else {
                problems.push((i, bad("period.start", Problem::Required)));
                return Ok(None);
            };
            let programme = match programme {
                Some(Reference::Entry(j)) => Programme::Item(j),
                Some(Reference::Stored(id)) => Programme::Enrolment(id),
                None => {
                    problems.push((i, bad("episodeOfCare", Problem::Required)));
                    return Ok(None);
                }
            };
            let mut form = FollowupRecordForm {
                visit_on: Some(visit_on),
                ..Default::default()
            };
            form.rules.method = method.into();
            Asked::Item(ImportItem::Followup {
                programme,
                form: Box::new(form),
            })
        }
        ("POST", "Observation") if resource["encounter"].is_null() => {
            // A laboratory result or a home reading, of a resident of the Bundle or a
            // stored one.
            let patient = resource["subject"]["reference"]
                .as_str()
                .and_then(|r| target(r, "Patient", full_urls));
            let patient = match patient {
                Some(Reference::Entry(j)) => Target::Item(j),
                Some(Reference::Stored(id)) => Target::Resident(id),
                None => {
                    problems.push((i, bad("subject", Problem::Required)));
                    return Ok(None);
                }
            };
            // Read as the single-resource writes read it.
            let resource = resource.to_value();
            if super::lab::is_laboratory(&resource) {
                return Ok(Some(Asked::Item(ImportItem::LabResult {
                    patient,
                    form: super::lab::lab_form(&resource),
                })));
            }
            match super::readings::reading_of(&resource) {
                Ok(form) => Asked::Item(ImportItem::Reading { patient, form }),
                Err(found) => {
                    problems.extend(found.into_iter().map(|p| (i, p)));
                    return Ok(None);
                }
            }
        }
        ("POST", "Observation") => {
            let at = resource["encounter"]["reference"]
                .as_str()
                .and_then(|r| target(r, "Encounter", full_urls));
            let Some(Reference::Entry(j)) = at else {
                problems.push((i, bad("encounter", Problem::NotAllowed)));
                return Ok(None);
            };
            match measured(resource) {
                Ok((value, suffix)) => Asked::MeasuredAt(j, value, suffix),
                Err(problem) => {
                    problems.push((i, problem));
                    return Ok(None);
                }
            }
        }
        ("POST", "EpisodeOfCare") => {
            let condition = resource["diagnosis"][0]["condition"]["reference"]
                .as_str()
                .and_then(|r| target(r, "Condition", full_urls));
            match condition {
                Some(Reference::Entry(j)) => Asked::EpisodeOf(j),
                _ => {
                    problems.push((i, bad("diagnosis", Problem::NotAllowed)));
                    return Ok(None);
                }
            }
        }
        _ => {
            problems.push((i, bad("request", Problem::UnknownCode)));
            return Ok(None);
        }
    }))
}

/// `POST /fhir` with a transaction or batch Bundle.
pub(super) async fn bundle(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b = resource_json(&headers, &body, "Bundle")?;
    let batch_kind = match b["type"].as_str() {
        Some("transaction") => false,
        Some("batch") => true,
        _ => {
            return Err(ApiError::bad_request(
                "bundle_type",
                "只接受 transaction 或 batch 类型的 Bundle",
                "Only transaction and batch Bundles are taken",
            )
            .fhir());
        }
    };
    let entries = b["entry"].as_array().unwrap_or_default();
    if entries.len() > ENTRIES_MAX {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_entries",
            format!("一个 Bundle 最多 {ENTRIES_MAX} 条"),
            format!("At most {ENTRIES_MAX} entries per Bundle"),
        )
        .fhir());
    }
    if let Some(scopes) = &ctx.principal.scopes {
        // A client system writes only the types its token's scopes name.
        // A conditional create answers the record it finds: read as well.
        let beyond: Vec<&str> = entries
            .iter()
            .filter_map(|e| {
                let ty = e["resource"]["resourceType"]
                    .as_str()
                    .or_else(|| {
                        e["request"]["url"]
                            .as_str()
                            .and_then(|u| u.split(['/', '?']).next())
                    })
                    .unwrap_or("");
                let conditional = e["request"]["ifNoneExist"].is_string();
                let ok = scopes.allows(ty, gongti_core::scope::Access::Write)
                    && (!conditional || scopes.allows(ty, gongti_core::scope::Access::Read));
                (!ok).then_some(ty)
            })
            .collect();
        if !beyond.is_empty() {
            state
                .app
                .audit_scope_refusal(&ctx, &format!("bundle_types={}", beyond.join(",")))
                .await
                .map_err(fhir_err)?;
            return Err(crate::scopes::insufficient().fhir());
        }
    }
    if batch_kind {
        return Ok(batch(&state, &ctx, entries).await);
    }
    let mut problems = Vec::new();
    // Entries refer to one another by fullUrl, which names one entry only.
    let mut full_urls = FullUrls::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        if let Some(u) = e["fullUrl"].as_str()
            && full_urls.insert(u, i).is_some()
        {
            problems.push((
                i,
                FieldProblem {
                    field: "fullUrl",
                    problem: Problem::Inconsistent { with: "fullUrl" },
                },
            ));
        }
    }
    let mut asked = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        asked.push(read_entry(&state, &ctx, i, entry, &full_urls, &mut problems).await?);
    }
    // An EpisodeOfCare gives its Condition's enrolment the day management began.
    for (i, a) in asked.iter().enumerate() {
        if let Some(Asked::EpisodeOf(j)) = a {
            let start = date(&entries[i]["resource"]["period"]["start"]);
            match (asked.get(*j), start) {
                (Some(Some(Asked::Item(ImportItem::Enrol { .. }))), Some(_)) => {}
                _ => problems.push((
                    i,
                    FieldProblem {
                        field: "period.start",
                        problem: Problem::Required,
                    },
                )),
            }
        }
    }
    let starts: Vec<(usize, Option<time::Date>)> = asked
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            Some(Asked::EpisodeOf(j)) => {
                Some((*j, date(&entries[i]["resource"]["period"]["start"])))
            }
            _ => None,
        })
        .collect();
    for (j, start) in starts {
        if let Some(Some(Asked::Item(ImportItem::Enrol { form, .. }))) = asked.get_mut(j) {
            form.enrolled_on = start.or(form.enrolled_on);
        }
    }
    // An Encounter naming an EpisodeOfCare entry belongs to that entry's Condition.
    let episodes: Vec<Option<usize>> = asked
        .iter()
        .map(|a| match a {
            Some(Asked::EpisodeOf(j)) => Some(*j),
            _ => None,
        })
        .collect();
    for a in asked.iter_mut() {
        if let Some(Asked::Item(ImportItem::Followup {
            programme: Programme::Item(j),
            ..
        })) = a
            && let Some(Some(condition)) = episodes.get(*j)
        {
            *j = *condition;
        }
    }
    // What each Observation measured goes into its Encounter's follow-up.
    let measured: Vec<(usize, usize, Measured)> = asked
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            Some(Asked::MeasuredAt(j, m, _)) => Some((i, *j, *m)),
            _ => None,
        })
        .collect();
    let mut seen_codes = std::collections::HashSet::new();
    for (i, j, m) in measured {
        if !seen_codes.insert((j, std::mem::discriminant(&m))) {
            problems.push((
                i,
                FieldProblem {
                    field: "code",
                    problem: Problem::Inconsistent { with: "encounter" },
                },
            ));
            continue;
        }
        match asked.get_mut(j) {
            Some(Some(Asked::Item(ImportItem::Followup { form, .. }))) => match m {
                Measured::Bp { sbp_mmhg, dbp_mmhg } => {
                    form.rules.sbp_mmhg = Some(sbp_mmhg);
                    form.rules.dbp_mmhg = Some(dbp_mmhg);
                }
                Measured::FpgMmol(v) => form.rules.fpg_mmol = Some(v),
                Measured::Hba1cPercent(v) => form.hba1c_percent = Some(v),
                Measured::HeartRateBpm(v) => form.rules.heart_rate_bpm = Some(v),
            },
            _ => problems.push((
                i,
                FieldProblem {
                    field: "encounter",
                    problem: Problem::NotAllowed,
                },
            )),
        }
    }
    // The items, and which entry each came from (items refer to entries by index). An
    // enrolment whose resident's entry could not be read is left out.
    let mut items = Vec::new();
    let mut item_of_entry = vec![None; entries.len()];
    for (i, a) in asked.iter().enumerate() {
        if let Some(Asked::Item(item)) = a {
            let mut item = item.clone();
            let refers = match &mut item {
                ImportItem::Enrol {
                    patient: Target::Item(j),
                    ..
                } => Some(j),
                ImportItem::Followup {
                    programme: Programme::Item(j),
                    ..
                } => Some(j),
                ImportItem::LabResult {
                    patient: Target::Item(j),
                    ..
                }
                | ImportItem::Reading {
                    patient: Target::Item(j),
                    ..
                } => Some(j),
                _ => None,
            };
            if let Some(j) = refers {
                match item_of_entry.get(*j).copied().flatten() {
                    Some(k) => *j = k,
                    None => {
                        if !problems.iter().any(|(p, _)| p == j) {
                            problems.push((
                                i,
                                FieldProblem {
                                    field: "subject",
                                    problem: Problem::NotAllowed,
                                },
                            ));
                        }
                        continue;
                    }
                }
            }
            item_of_entry[i] = Some(items.len());
            items.push(item);
        }
    }
    let entry_of_item: Vec<usize> = (0..entries.len())
        .filter(|i| item_of_entry[*i].is_some())
        .collect();
    let renumbered = |found: Vec<(usize, FieldProblem)>| -> Vec<(usize, FieldProblem)> {
        found
            .into_iter()
            .map(|(k, p)| (entry_of_item[k], p))
            .collect()
    };
    // Every problem at once: what the entries' own reading found, and what deciding and
    // validating the others finds.
    if !problems.is_empty() {
        match state.app.import(&ctx, &items, true).await {
            Ok(_) => {}
            Err(AppError::InvalidBatch(found)) => problems.extend(renumbered(found)),
            Err(e) => return Err(fhir_err(e)),
        }
        problems.sort_by_key(|(i, _)| *i);
        let refused = state.app.refuse_import(&ctx, problems).await;
        return Err(fhir_err(on_patient(refused)));
    }
    let outcomes = match state.app.import(&ctx, &items, false).await {
        Ok(o) => o,
        Err(AppError::InvalidBatch(found)) => {
            return Err(fhir_err(on_patient(AppError::InvalidBatch(renumbered(
                found,
            )))));
        }
        Err(e) => return Err(write_err(e)),
    };
    let answers: Vec<Value> = asked
        .iter()
        .zip(item_of_entry.iter())
        .map(|(a, item)| match (a, item) {
            (Some(Asked::EpisodeOf(j)), _) => item_of_entry[*j]
                .map(|k| response_of(outcomes[k], Some("EpisodeOfCare")))
                .unwrap_or(Value::Null),
            (Some(Asked::MeasuredAt(j, _, suffix)), _) => {
                match item_of_entry[*j].map(|k| outcomes[k]) {
                    Some(ImportOutcome::Recorded { followup }) => json!({"response": {
                        "status": "201 Created",
                        "location": format!("Observation/f{followup}-{suffix}/_history/1"),
                        "etag": "W/\"1\"",
                    }}),
                    _ => Value::Null,
                }
            }
            (_, Some(k)) => response_of(outcomes[*k], None),
            _ => Value::Null,
        })
        .collect();
    Ok(Fhir(json!({
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": answers,
    }))
    .into_response())
}

/// An entry of a transaction- or batch-response for an item's outcome (`as_type`: the
/// type the entry asked for, when it differs from the outcome's).
fn response_of(outcome: ImportOutcome, as_type: Option<&str>) -> Value {
    let (status, location) = match outcome {
        ImportOutcome::Registered(id) => ("201 Created", format!("Patient/{id}/_history/1")),
        ImportOutcome::Found(id) => ("200 OK", format!("Patient/{id}")),
        ImportOutcome::Updated(id) => ("200 OK", format!("Patient/{id}")),
        ImportOutcome::Enrolled { enrolment, .. } => (
            "201 Created",
            format!("{}/{enrolment}/_history/1", as_type.unwrap_or("Condition")),
        ),
        ImportOutcome::Recorded { followup } => {
            ("201 Created", format!("Encounter/{followup}/_history/1"))
        }
        ImportOutcome::LabRecorded {
            result,
            created: true,
        } => ("201 Created", format!("Observation/lab{result}/_history/1")),
        ImportOutcome::LabRecorded {
            result,
            created: false,
        } => ("200 OK", format!("Observation/lab{result}")),
        ImportOutcome::ReadingRecorded {
            reading,
            created: true,
        } => ("201 Created", format!("Observation/r{reading}/_history/1")),
        ImportOutcome::ReadingRecorded {
            reading,
            created: false,
        } => ("200 OK", format!("Observation/r{reading}")),
    };
    let mut response = json!({"status": status, "location": location});
    if status.starts_with("201") {
        response["etag"] = "W/\"1\"".into();
    }
    json!({"response": response})
}

/// A batch: each entry on its own (entries may not refer to one another).
async fn batch(state: &AppState, ctx: &Ctx, entries: &[Json<'_>]) -> Response {
    let none = FullUrls::new();
    let mut answers = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let mut problems = Vec::new();
        let asked = read_entry(state, ctx, i, entry, &none, &mut problems).await;
        let result = match asked {
            Err(e) => Err(e),
            Ok(_) if !problems.is_empty() => {
                Err(fhir_err(on_patient(AppError::InvalidBatch(problems))))
            }
            Ok(Some(Asked::Item(item))) => match state
                .app
                .import(ctx, std::slice::from_ref(&item), false)
                .await
            {
                Ok(outcomes) => Ok(response_of(outcomes[0], None)),
                Err(AppError::InvalidBatch(found)) => Err(fhir_err(on_patient(
                    AppError::InvalidBatch(found.into_iter().map(|(_, p)| (i, p)).collect()),
                ))),
                Err(e) => Err(write_err(e)),
            },
            // A reference to another entry has no meaning in a batch.
            Ok(_) => Err(fhir_err(AppError::InvalidBatch(vec![(
                i,
                FieldProblem {
                    field: "diagnosis",
                    problem: Problem::NotAllowed,
                },
            )]))),
        };
        answers.push(match result {
            Ok(answer) => answer,
            Err(e) => {
                let status = e.status;
                let outcome = e.into_response();
                let body = axum::body::to_bytes(outcome.into_body(), 1 << 20).await.unwrap_or_default();
                let outcome: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                json!({"response": {
                    "status": format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")),
                    "outcome": outcome,
                }})
            }
        });
    }
    Fhir(json!({
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": answers,
    }))
    .into_response()
}

/// `POST Condition`: an enrolment of a stored resident (a Condition naming one of the
/// same Bundle comes in a transaction).
pub(super) async fn create_condition(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let resource = resource_json(&headers, &body, "Condition")?;
    let text = |s: &'static str| Json::String(s.into());
    let entry = Json::Object(vec![
        ("resource".into(), resource),
        (
            "request".into(),
            Json::Object(vec![
                ("method".into(), text("POST")),
                ("url".into(), text("Condition")),
            ]),
        ),
    ]);
    let mut problems = Vec::new();
    let asked = read_entry(&state, &ctx, 0, &entry, &FullUrls::new(), &mut problems).await?;
    let item = match asked {
        Some(Asked::Item(
            item @ ImportItem::Enrol {
                patient: Target::Resident(_),
                ..
            },
        )) if problems.is_empty() => item,
        _ => {
            if problems.is_empty() {
                problems.push((
                    0,
                    FieldProblem {
                        field: "subject",
                        problem: Problem::NotAllowed,
                    },
                ));
            }
            let plain = problems.into_iter().map(|(_, p)| p).collect();
            return Err(fhir_err(AppError::Invalid(plain)));
        }
    };
    let outcome = match state
        .app
        .import(&ctx, std::slice::from_ref(&item), false)
        .await
    {
        Ok(o) => o[0],
        Err(AppError::InvalidBatch(found)) => {
            return Err(fhir_err(AppError::Invalid(
                found.into_iter().map(|(_, p)| p).collect(),
            )));
        }
        Err(e) => return Err(fhir_err(e)),
    };
    let ImportOutcome::Enrolled {
        enrolment,
        resident,
    } = outcome
    else {
        return Err(ApiError::not_found().fhir());
    };
    let stored = state
        .app
        .resident_enrolments(&ctx, resident)
        .await
        .map_err(fhir_err)?
        .into_iter()
        .find(|e| e.id == enrolment)
        .ok_or_else(|| ApiError::not_found().fhir())?;
    Ok(super::write::written(
        &state,
        StatusCode::CREATED,
        super::chronic::condition(&stored),
        &headers,
    ))
}
