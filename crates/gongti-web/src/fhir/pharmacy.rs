//! FHIR R4 for the cloud pharmacy (DOMAIN.md §4, §6): the e-prescription as one
//! MedicationRequest per line (`{prescription}-{line}`, grouped by the prescription's
//! `groupIdentifier`), the software screen's findings as DetectedIssue, the pharmacist's
//! review as a Task (`review-{prescription}`), the fill as MedicationDispense, the
//! resident's insurance as Coverage, a 门特 settlement as Claim and ClaimResponse, and
//! the formulary's products as Medication and MedicationKnowledge.
//!
//! Every patient record is read through the app's use cases — the same access decision
//! and audit as the JSON API. A prescription's resources change only at a step of its
//! review or fill, so their versions are derived from those steps: version *k* of a
//! MedicationRequest or the review Task is the prescription as the *k*-th step left it
//! (and one more once it is filled), version *k* of a MedicationDispense the fill as
//! its *k*-th event left it, a Claim's version 2 its reversal.

use axum::extract::{Path, State};
use gongti_app::Ctx;
use gongti_app::insurance::ResidentInsurance;
use gongti_app::pharmacy::PrescriptionView;
use gongti_core::pharmacy::dispense::{FillStatus, last_valid_day};
use gongti_core::pharmacy::knowledge::{Antimicrobial, Control, Knowledge, Product, Tier};
use gongti_core::pharmacy::prescription::{RxContent, RxStatus, Step};
use gongti_store::SettlementRecord;
use serde_json::{Value, json};

use super::chronic::{ICD10, PATIENT_RECORDS_MAX, UCUM, answer, patient_of, patient_ref};
use super::search::{FhirQuery, Kind, Range, Search, Spec, local_day, searchset};
use super::{Fhir, FhirResult, base_url, fhir_err};
use crate::AppState;
use crate::error::ApiError;
use crate::views::{utc, yuan};

const PRESCRIPTION_SYSTEM: &str = "urn:gongti:prescription";
const INGREDIENT_SYSTEM: &str = "urn:gongti:ingredient";
const PRODUCT_SYSTEM: &str = "urn:gongti:product";
const FINDING_SYSTEM: &str = "urn:gongti:prescription-finding";
const DRUG_CLASS_SYSTEM: &str = "urn:gongti:drug-class";
const SETTLEMENT_ID_SYSTEM: &str = "urn:gongti:nhsa-setl-id";
const SETTLEMENT_SPLIT_SYSTEM: &str = "urn:gongti:settlement-split";
const INSUTYPE_SYSTEM: &str = "urn:gongti:nhsa-insutype";
const PSN_NO_SYSTEM: &str = "urn:gongti:nhsa-psn-no";
const RX_STATUS: &str = "http://hl7.org/fhir/CodeSystem/medicationrequest-status";
const DISPENSE_STATUS: &str = "http://terminology.hl7.org/CodeSystem/medicationdispense-status";
const FM_STATUS: &str = "http://hl7.org/fhir/fm-status";
const ADJUDICATION: &str = "http://terminology.hl7.org/CodeSystem/adjudication";
const CLAIM_TYPE: &str = "http://terminology.hl7.org/CodeSystem/claim-type";
/// Who answers 门特 settlements here: the built-in simulator, never a real bureau.
const BUREAU: &str = "医保局模拟器 (insurance bureau simulator)";

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/MedicationRequest", get(medication_requests))
        .route("/MedicationRequest/{id}", get(read_medication_request))
        .route("/MedicationDispense", get(medication_dispenses))
        .route("/MedicationDispense/{id}", get(read_medication_dispense))
        .route("/DetectedIssue", get(detected_issues))
        .route("/DetectedIssue/{id}", get(read_detected_issue))
        .route("/Coverage", get(coverages))
        .route("/Coverage/{id}", get(read_coverage))
        .route("/Claim", get(claims))
        .route("/Claim/{id}", get(read_claim))
        .route("/ClaimResponse", get(claim_responses))
        .route("/ClaimResponse/{id}", get(read_claim_response))
        .route("/Medication", get(medications))
        .route("/Medication/{id}", get(read_medication))
        .route("/MedicationKnowledge", get(knowledges))
        .route("/MedicationKnowledge/{id}", get(read_knowledge))
}

fn not_found() -> ApiError {
    ApiError::not_found().fhir()
}

/// Money as R4 writes it: yuan, currency CNY (fen are exact in two decimals).
fn money(fen: i64) -> Value {
    json!({"value": fen as f64 / 100.0, "currency": "CNY"})
}

fn days(n: u32) -> Value {
    json!({"value": n, "unit": "d", "system": UCUM, "code": "d"})
}

/// `{prescription}-{line}` (line from 1).
fn split_line_id(id: &str) -> Option<(i64, usize)> {
    let (rx, line) = id.split_once('-')?;
    let line: usize = line.parse().ok()?;
    Some((rx.parse().ok()?, line.checked_sub(1)?))
}

/// A prescription as one of its steps (or its fill) left it: the status, the version
/// of the content then, when, and the step's reason.
struct RxState {
    status: RxStatus,
    version: i64,
    at_us: i64,
    staff_id: i64,
    reason: Option<String>,
}

/// Every state a prescription has been in, oldest first: one per step, and the fill.
fn states(view: &PrescriptionView) -> Vec<RxState> {
    let mut out: Vec<RxState> = view
        .steps
        .iter()
        .filter_map(|s| {
            Some(RxState {
                status: RxStatus::parse(&s.status)?,
                version: s.version,
                at_us: s.at_us,
                staff_id: s.staff_id,
                reason: s.reason.clone(),
            })
        })
        .collect();
    if let Some(fill) = &view.fill {
        out.push(RxState {
            status: RxStatus::Dispensed,
            version: view.record.version,
            at_us: fill.dispensed_at_us,
            staff_id: fill.staff_id,
            reason: None,
        });
    }
    out
}

/// The content of `version`.
fn content_of(view: &PrescriptionView, version: i64) -> Option<RxContent> {
    view.versions
        .iter()
        .find(|v| v.version == version)
        .and_then(|v| RxContent::parse(&v.content))
}

fn rx_status(s: RxStatus) -> &'static str {
    match s {
        // Not yet dispensable: with the pharmacists, or back with the prescriber.
        RxStatus::PendingReview | RxStatus::Returned => "on-hold",
        RxStatus::Passed => "active",
        RxStatus::Refused | RxStatus::Cancelled => "cancelled",
        RxStatus::Dispensed => "completed",
    }
}

/// Line `line` of the prescription as it stood at state `k` (from 1): `None` when that
/// version had no such line.
fn medication_request(view: &PrescriptionView, line: usize, k: usize) -> Option<Value> {
    let all = states(view);
    let state = all.get(k.checked_sub(1)?)?;
    let content = content_of(view, state.version)?;
    let l = content.lines.get(line)?;
    let kb = Knowledge::builtin();
    let rx = view.record.id;
    let ingredient = kb
        .find_ingredient(&l.generic_name)
        .map(|i| kb.ingredient(i));
    let mut medication = json!({"text": l.generic_name});
    if let Some(i) = ingredient {
        medication["coding"] =
            json!([{"system": INGREDIENT_SYSTEM, "code": i.code, "display": i.name_zh}]);
    }
    let issued_on = local_day(content.issued_at_us);
    let dose_text = format!(
        "{} {}{} 每日{}次 {} 共{}天",
        l.route.name_zh(),
        gongti_core::pharmacy::knowledge::amount_text(l.dose),
        l.dose_unit,
        l.times_per_day,
        l.generic_name,
        l.days
    );
    let mut notes = vec![
        json!({"text": format!("{} · {} · 第{}版", content.kind.name_zh(), content.channel.name_zh(), state.version)}),
    ];
    if let Some(reason) = &content.supply_reason {
        notes.push(json!({"text": format!("超量理由 Supply reason: {reason}")}));
    }
    let findings: Vec<Value> = findings_of(view, state.version)
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f["lines"]
                .as_array()
                .is_some_and(|ls| ls.iter().any(|n| n.as_u64() == Some(line as u64)))
        })
        .map(|(n, _)| {
            json!({"reference": format!("DetectedIssue/{rx}-v{}-{}", state.version, n + 1)})
        })
        .collect();
    let mut v = json!({
        "resourceType": "MedicationRequest",
        "id": format!("{rx}-{}", line + 1),
        "meta": {"versionId": k.to_string(), "lastUpdated": utc(state.at_us)},
        "identifier": [{"system": PRESCRIPTION_SYSTEM, "value": format!("{rx}-{}", line + 1)}],
        "groupIdentifier": {"system": PRESCRIPTION_SYSTEM, "value": rx.to_string()},
        "status": rx_status(state.status),
        "statusReason": {"coding": [{"system": "urn:gongti:prescription-status", "code": state.status.code(), "display": state.status.name_en()}], "text": state.status.name_zh()},
        "intent": "order",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category", "code": "outpatient"}], "text": content.channel.name_zh()}],
        "medicationCodeableConcept": medication,
        "subject": {"reference": format!("Patient/{}", view.record.resident_id), "display": view.record.resident_name},
        "authoredOn": utc(content.issued_at_us),
        "requester": {"reference": format!("Practitioner/{}", view.record.prescriber_staff_id), "display": view.record.prescriber_name},
        "reasonCode": content.diagnoses.iter().map(|d| json!({"coding": [{"system": ICD10, "code": d}]})).collect::<Vec<_>>(),
        "courseOfTherapyType": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", "code": if content.long.is_some() { "continuous" } else { "acute" }}], "text": if content.long.is_some() { "长期处方 long prescription" } else { "普通疗程" }},
        "note": notes,
        "dosageInstruction": [{
            "sequence": 1,
            "text": dose_text,
            "timing": {"repeat": {"frequency": l.times_per_day, "period": 1, "periodUnit": "d", "boundsDuration": days(l.days)}},
            "route": {"text": l.route.name_zh()},
            "doseAndRate": [{"doseQuantity": {"value": l.dose, "unit": l.dose_unit}}],
        }],
        "dispenseRequest": {
            "validityPeriod": {"start": issued_on.to_string(), "end": last_valid_day(issued_on, content.validity_days).to_string()},
            "expectedSupplyDuration": days(l.days),
        },
    });
    if !findings.is_empty() {
        v["detectedIssue"] = findings.into();
    }
    if state.version > 1 {
        v["priorPrescription"] =
            json!({"display": format!("第{}版 version {}", state.version - 1, state.version - 1)});
    }
    if let Some(pharmacy) = view.route.0 {
        v["dispenseRequest"]["performer"] =
            json!({"reference": format!("Organization/{pharmacy}")});
    }
    Some(v)
}

/// The findings a version was issued with (DOMAIN.md §4's shape).
fn findings_of(view: &PrescriptionView, version: i64) -> Vec<Value> {
    view.versions
        .iter()
        .find(|v| v.version == version)
        .and_then(|v| serde_json::from_str::<Value>(&v.findings).ok())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

/// The prescriber's second signature (双签确认) on `version`'s findings, if given.
fn confirmation(view: &PrescriptionView, version: i64) -> Option<&gongti_store::StepRecord> {
    view.steps
        .iter()
        .find(|s| s.version == version && Step::parse(&s.step) == Some(Step::Confirm))
}

/// How many versions a finding of `version` has: as found, and once the prescriber
/// confirmed it.
fn issue_versions(view: &PrescriptionView, version: i64) -> usize {
    1 + usize::from(confirmation(view, version).is_some())
}

/// Finding `n` (from 1) of `version` as a DetectedIssue at its version `k` (from 1):
/// as the screen found it, then with the prescriber's confirmation as its mitigation.
fn detected_issue(view: &PrescriptionView, version: i64, n: usize, k: usize) -> Option<Value> {
    if k == 0 || k > issue_versions(view, version) {
        return None;
    }
    let f = findings_of(view, version).get(n.checked_sub(1)?)?.clone();
    let kept = view.versions.iter().find(|v| v.version == version)?;
    let rx = view.record.id;
    let lines = content_of(view, version).map_or(0, |c| c.lines.len());
    // An earlier version's lines are named as they were then (a versioned reference
    // to the first state that version was in).
    let at = if version == view.record.version {
        String::new()
    } else {
        let first = states(view).iter().position(|s| s.version == version)?;
        format!("/_history/{}", first + 1)
    };
    let implicated: Vec<Value> = f["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .filter(|l| (*l as usize) < lines)
        .map(|l| json!({"reference": format!("MedicationRequest/{rx}-{}{at}", l + 1)}))
        .collect();
    let code = f["code"].as_str().unwrap_or("");
    let grade = f["grade"]
        .as_u64()
        .map(|g| format!(" · {g}级"))
        .unwrap_or_default();
    let mut v = json!({
        "resourceType": "DetectedIssue",
        "id": format!("{rx}-v{version}-{n}"),
        "meta": {"versionId": "1", "lastUpdated": utc(kept.at_us)},
        "status": "final",
        "code": {"coding": [{"system": FINDING_SYSTEM, "code": code}], "text": format!("{}{grade}", f["message"].as_str().unwrap_or(code))},
        "severity": match f["severity"].as_str() { Some("high") => "high", Some("moderate") => "moderate", _ => "low" },
        "patient": patient_ref(view.record.resident_id),
        "identifiedDateTime": utc(kept.at_us),
        "author": {"display": format!("处方前置审核规则 prescription screen {}", kept.ruleset_version)},
        "detail": format!("{} / {}", f["message"].as_str().unwrap_or(""), f["message_en"].as_str().unwrap_or("")),
    });
    if !implicated.is_empty() {
        v["implicated"] = implicated.into();
    }
    if let Some(basis) = f["basis"].as_str().filter(|b| !b.is_empty()) {
        v["evidence"] = json!([{"code": [{"text": format!("依据 basis: {basis}")}]}]);
    }
    if let Some(c) = confirmation(view, version).filter(|_| k >= 2) {
        v["meta"] = json!({"versionId": "2", "lastUpdated": utc(c.at_us)});
        let reason = c.reason.as_deref().unwrap_or("");
        v["mitigation"] = json!([{
            "action": {"text": format!("医生双签确认 confirmed by the prescriber: {reason}")},
            "date": utc(c.at_us),
            "author": {"reference": format!("Practitioner/{}", c.staff_id), "display": c.staff_name},
        }]);
    }
    Some(v)
}

/// The pharmacist's review (处方审核) as the prescription's `k`-th state left it.
fn review_task(view: &PrescriptionView, k: usize) -> Option<Value> {
    let all = states(view);
    let state = all.get(k.checked_sub(1)?)?;
    let rx = view.record.id;
    let (status, business) = match state.status {
        RxStatus::PendingReview => ("ready", "待审核 awaiting review"),
        RxStatus::Returned => ("on-hold", "已退回医生 returned to the prescriber"),
        RxStatus::Passed => ("completed", "审核通过 passed"),
        RxStatus::Refused => ("completed", "审核拒绝 refused"),
        RxStatus::Cancelled => ("cancelled", "已作废 cancelled by the prescriber"),
        RxStatus::Dispensed => ("completed", "审核通过，已调配 passed and dispensed"),
    };
    let lines = content_of(view, state.version).map_or(0, |c| c.lines.len());
    let first_at = all.first().map_or(state.at_us, |s| s.at_us);
    let mut v = json!({
        "resourceType": "Task",
        "id": format!("review-{rx}"),
        "meta": {"versionId": k.to_string(), "lastUpdated": utc(state.at_us)},
        "status": status,
        "businessStatus": {"text": business},
        "intent": "order",
        "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "approve"}], "text": "处方审核 prescription review"},
        "basedOn": (1..=lines).map(|n| json!({"reference": format!("MedicationRequest/{rx}-{n}")})).collect::<Vec<_>>(),
        "focus": {"reference": format!("MedicationRequest/{rx}-1")},
        "for": patient_ref(view.record.resident_id),
        "authoredOn": utc(first_at),
        "lastModified": utc(state.at_us),
        "requester": {"reference": format!("Practitioner/{}", view.record.prescriber_staff_id)},
    });
    if matches!(
        state.status,
        RxStatus::Passed | RxStatus::Refused | RxStatus::Dispensed
    ) {
        // The pharmacist who decided: the latest pass or refusal up to this state.
        let decided = all[..k]
            .iter()
            .rev()
            .find(|s| matches!(s.status, RxStatus::Passed | RxStatus::Refused));
        if let Some(d) = decided {
            v["owner"] = json!({"reference": format!("Practitioner/{}", d.staff_id)});
            v["executionPeriod"] = json!({"start": utc(first_at), "end": utc(d.at_us)});
        }
    }
    if let Some(reason) = &state.reason {
        v["statusReason"] = json!({"text": reason});
    }
    Some(v)
}

fn dispense_status(s: Option<FillStatus>) -> &'static str {
    match s {
        Some(FillStatus::Collected | FillStatus::Delivered) => "completed",
        Some(FillStatus::Packed | FillStatus::Dispatched | FillStatus::InTransit) => "in-progress",
        Some(FillStatus::Failed) => "on-hold",
        Some(FillStatus::Returned) => "stopped",
        None => "unknown",
    }
}

/// The fill of line `line` as its `k`-th event (from 1) left it.
fn medication_dispense(view: &PrescriptionView, line: usize, k: usize) -> Option<Value> {
    let fill = view.fill.as_ref()?;
    let event = fill.events.get(k.checked_sub(1)?)?;
    let filled = fill
        .lines
        .iter()
        .find(|l| usize::try_from(l.line_no).ok() == Some(line))?;
    let rx_line = view.content.lines.get(line)?;
    let kb = Knowledge::builtin();
    let product = kb.product(&filled.product_code);
    let status = FillStatus::parse(&event.status);
    let rx = view.record.id;
    let mut v = json!({
        "resourceType": "MedicationDispense",
        "id": format!("{rx}-{}", line + 1),
        "meta": {"versionId": k.to_string(), "lastUpdated": utc(event.at_us)},
        "status": dispense_status(status),
        "category": {"text": if fill.fulfilment == "delivery" { "配送到家 delivery" } else { "到店自取 pickup" }},
        "medicationReference": {"reference": format!("Medication/{}", product_id(&filled.product_code)), "display": product.map_or(filled.product_code.as_str(), |p| p.name_zh.as_str())},
        "subject": {"reference": format!("Patient/{}", view.record.resident_id), "display": view.record.resident_name},
        "performer": [{"actor": {"reference": format!("Practitioner/{}", fill.staff_id), "display": fill.staff_name}}],
        "authorizingPrescription": [{"reference": format!("MedicationRequest/{rx}-{}", line + 1)}],
        "type": {"text": status.map_or("", FillStatus::name_zh)},
        "quantity": {"value": filled.packs, "unit": product.map_or("盒", |p| p.pack_unit.as_str())},
        "daysSupply": days(rx_line.days),
        "whenPrepared": utc(fill.dispensed_at_us),
        "note": [{"text": format!("{} · 金额 {} 元", fill.pharmacy_name, yuan(filled.amount_fen))}],
    });
    if let Some(at) = handed_over(&fill.events[..k]) {
        v["whenHandedOver"] = utc(at).into();
        // The patient, or an agent (whose identity the pharmacy recorded).
        v["receiver"] = if fill.by_agent {
            json!([{"display": "代取人 agent (identity recorded by the pharmacy)"}])
        } else {
            json!([patient_ref(view.record.resident_id)])
        };
    }
    Some(v)
}

/// When the drugs were handed over (collected or delivered), among `events`.
fn handed_over(events: &[gongti_store::FillEvent]) -> Option<i64> {
    events
        .iter()
        .rev()
        .find(|e| {
            matches!(
                FillStatus::parse(&e.status),
                Some(FillStatus::Collected | FillStatus::Delivered)
            )
        })
        .map(|e| e.at_us)
}

/// How many versions a MedicationDispense has (its fill's events).
fn dispense_versions(view: &PrescriptionView) -> usize {
    view.fill.as_ref().map_or(0, |f| f.events.len())
}

fn mask(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..3].iter().collect();
    out.push_str(&"*".repeat(chars.len() - 5));
    out.extend(&chars[chars.len() - 2..]);
    out
}

fn coverage(resident_id: i64, ins: &ResidentInsurance) -> Option<Value> {
    let person = ins.insured.as_ref()?;
    let number = if ins.identifiers {
        person.psn_no.clone()
    } else {
        mask(&person.psn_no)
    };
    let insutype = match person.insutype.as_str() {
        "employee" => "职工基本医疗保险 employees' basic medical insurance",
        "resident" => "城乡居民基本医疗保险 urban and rural residents' basic medical insurance",
        _ => "基本医疗保险 basic medical insurance",
    };
    let mut v = json!({
        "resourceType": "Coverage",
        "id": resident_id.to_string(),
        "identifier": [{"system": PSN_NO_SYSTEM, "value": number}],
        "status": "active",
        "type": {"coding": [{"system": INSUTYPE_SYSTEM, "code": person.insutype}], "text": insutype},
        "subscriberId": number,
        "beneficiary": patient_ref(resident_id),
        "relationship": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": "self"}]},
        "payor": [{"display": BUREAU}],
    });
    let classes: Vec<Value> = ins
        .certifications
        .iter()
        .map(|c| {
            let name = match c.disease.as_str() {
                "hypertension" => "高血压",
                "diabetes" => "糖尿病",
                other => other,
            };
            json!({
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class", "code": "plan"}]},
                "value": format!("mt-{}", c.disease),
                "name": format!("门诊特殊病 {name} {}–{}", c.valid_from, c.valid_until),
            })
        })
        .collect();
    if !classes.is_empty() {
        v["class"] = classes.into();
    }
    Some(v)
}

fn claim_versions(s: &SettlementRecord) -> usize {
    if s.reversed_at_us.is_some() { 2 } else { 1 }
}

fn claim_meta(s: &SettlementRecord, k: usize) -> Value {
    let at = if k >= 2 {
        s.reversed_at_us.unwrap_or(s.settled_at_us)
    } else {
        s.settled_at_us
    };
    json!({"versionId": k.to_string(), "lastUpdated": utc(at)})
}

fn settled_lines(s: &SettlementRecord) -> Vec<Value> {
    serde_json::from_str::<Value>(&s.lines)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn count_of(v: &Value) -> f64 {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|t| t.parse().ok()))
        .unwrap_or(0.0)
}

/// A settlement as the Claim the pharmacy's claim for it is (version `k`: 2 once
/// reversed).
fn claim(s: &SettlementRecord, view: &PrescriptionView, k: usize) -> Option<Value> {
    if k == 0 || k > claim_versions(s) {
        return None;
    }
    let kb = Knowledge::builtin();
    let items: Vec<Value> = settled_lines(s)
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let code = l["med_list_codg"].as_str().unwrap_or("");
            json!({
                "sequence": i + 1,
                "productOrService": {"coding": [{"system": PRODUCT_SYSTEM, "code": code}], "text": kb.product(code).map_or(code, |p| p.name_zh.as_str())},
                "quantity": {"value": count_of(&l["cnt"])},
                "net": money(l["amount_fen"].as_i64().unwrap_or(0)),
            })
        })
        .collect();
    let provider = view
        .fill
        .as_ref()
        .map_or(view.record.institution_id, |f| f.pharmacy_id);
    let mut v = json!({
        "resourceType": "Claim",
        "id": s.id.to_string(),
        "meta": claim_meta(s, k),
        "identifier": [{"system": SETTLEMENT_ID_SYSTEM, "value": s.setl_id}],
        "status": if k >= 2 { "cancelled" } else { "active" },
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "pharmacy"}], "text": "门特 outpatient special chronic disease"},
        "use": "claim",
        "patient": patient_ref(s.resident_id),
        "created": utc(s.settled_at_us),
        "provider": {"reference": format!("Organization/{provider}")},
        "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
        "prescription": {"reference": format!("MedicationRequest/{}-1", s.prescription_id)},
        "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"text": s.disease}}],
        "insurance": [{"sequence": 1, "focal": true, "coverage": {"reference": format!("Coverage/{}", s.resident_id)}}],
        "total": money(s.figures.total_fen),
    });
    if !items.is_empty() {
        v["item"] = items.into();
    }
    Some(v)
}

fn adjudication(code: &str, fen: i64, ours: bool) -> Value {
    let system = if ours {
        SETTLEMENT_SPLIT_SYSTEM
    } else {
        ADJUDICATION
    };
    json!({"category": {"coding": [{"system": system, "code": code}]}, "amount": money(fen)})
}

/// The bureau's answer to the Claim: what the fund paid and what the patient paid.
fn claim_response(s: &SettlementRecord, k: usize) -> Option<Value> {
    if k == 0 || k > claim_versions(s) {
        return None;
    }
    let f = &s.figures;
    let items: Vec<Value> = settled_lines(s)
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let n = |key: &str| l[key].as_i64().unwrap_or(0);
            json!({
                "itemSequence": i + 1,
                "adjudication": [
                    adjudication("submitted", n("amount_fen"), false),
                    adjudication("fully-self", n("fully_self_fen"), true),
                    adjudication("over-cap", n("over_cap_fen"), true),
                    adjudication("pre-self", n("pre_self_fen"), true),
                    adjudication("eligible", n("in_scope_fen"), false),
                ],
            })
        })
        .collect();
    let patient_fen = f.total_fen - f.fund_fen;
    let mut v = json!({
        "resourceType": "ClaimResponse",
        "id": s.id.to_string(),
        "meta": claim_meta(s, k),
        "identifier": [{"system": SETTLEMENT_ID_SYSTEM, "value": s.setl_id}],
        "status": if k >= 2 { "cancelled" } else { "active" },
        "type": {"coding": [{"system": CLAIM_TYPE, "code": "pharmacy"}]},
        "use": "claim",
        "patient": patient_ref(s.resident_id),
        "created": utc(s.settled_at_us),
        "insurer": {"display": BUREAU},
        "request": {"reference": format!("Claim/{}", s.id)},
        "outcome": "complete",
        "disposition": if k >= 2 {
            format!("已冲正 reversed · 政策 {}", s.policy_version)
        } else {
            format!("门特结算 settled · 政策 {} · 个人负担 {} 元", s.policy_version, yuan(patient_fen))
        },
        "total": [
            adjudication("submitted", f.total_fen, false),
            adjudication("deductible", f.deductible_fen, false),
            adjudication("benefit", f.fund_fen, false),
            adjudication("copay", patient_fen, false),
            adjudication("account", f.account_fen, true),
            adjudication("cash", f.cash_fen, true),
        ],
        "payment": {
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/ex-paymenttype", "code": "complete"}]},
            "date": local_day(s.settled_at_us).to_string(),
            "amount": money(f.fund_fen),
        },
    });
    if !items.is_empty() {
        v["item"] = items.into();
    }
    Some(v)
}

/// A product's FHIR id: its code with `_` (not an id character) as `-`.
pub(super) fn product_id(code: &str) -> String {
    code.replace('_', "-")
}

fn product_by_id(id: &str) -> Option<&'static Product> {
    Knowledge::builtin()
        .products
        .iter()
        .find(|p| product_id(&p.code) == id)
}

fn product_code(p: &Product) -> Value {
    json!({"coding": [{"system": PRODUCT_SYSTEM, "code": p.code, "display": p.name_zh}], "text": p.name_zh})
}

fn knowledge_tag(kb: &Knowledge) -> Value {
    json!({"tag": [{"system": "urn:gongti:knowledge-version", "code": kb.version}]})
}

/// A formulary product (its ingredient, strength and pack).
fn medication(p: &Product) -> Value {
    let kb = Knowledge::builtin();
    let i = kb.ingredient(p.ingredient);
    json!({
        "resourceType": "Medication",
        "id": product_id(&p.code),
        "meta": knowledge_tag(kb),
        "code": product_code(p),
        "status": "active",
        "form": {"text": p.form},
        "amount": {"numerator": {"value": p.pack_size, "unit": "单位 unit"}, "denominator": {"value": 1, "unit": p.pack_unit}},
        "ingredient": [{
            "itemCodeableConcept": {"coding": [{"system": INGREDIENT_SYSTEM, "code": i.code, "display": i.name_zh}], "text": i.name_en},
            "isActive": true,
            "strength": {"numerator": {"value": p.strength, "unit": p.unit.symbol()}, "denominator": {"value": 1, "unit": p.form}},
        }],
    })
}

/// What the knowledge base holds of a product: its classes, control class,
/// antimicrobial tier, insurance class and (demo) price.
fn medication_knowledge(p: &Product) -> Value {
    let kb = Knowledge::builtin();
    let i = kb.ingredient(p.ingredient);
    let classes: Vec<Value> = i
        .classes
        .iter()
        .map(|c| {
            let c = kb.class(*c);
            json!({"coding": [{"system": DRUG_CLASS_SYSTEM, "code": c.code, "display": c.name_zh}], "text": c.name_en})
        })
        .collect();
    let mut classification = vec![
        json!({"type": {"text": "医保类别 insurance class (demo list)"}, "classification": [{"text": p.insurance_class.name_zh()}]}),
    ];
    if !classes.is_empty() {
        classification.insert(
            0,
            json!({"type": {"text": "治疗分类 therapeutic class"}, "classification": classes}),
        );
    }
    if i.antimicrobial != Antimicrobial::No {
        let tier = match i.tier {
            Some(Tier::Unrestricted) => "非限制使用级",
            Some(Tier::Restricted) => "限制使用级",
            Some(Tier::Special) => "特殊使用级",
            None => "抗菌药物",
        };
        classification.push(json!({"type": {"text": "抗菌药物分级 antimicrobial tier"}, "classification": [{"text": tier}]}));
    }
    let mut v = json!({
        "resourceType": "MedicationKnowledge",
        "id": product_id(&p.code),
        "meta": knowledge_tag(kb),
        "code": product_code(p),
        "status": "active",
        "doseForm": {"text": p.form},
        "amount": {"value": p.pack_size, "unit": p.pack_unit},
        "synonym": [i.name_zh.clone(), i.name_en.clone()],
        "associatedMedication": [{"reference": format!("Medication/{}", product_id(&p.code))}],
        "intendedRoute": [{"text": p.route.name_zh()}],
        "cost": [{"type": {"text": "每包装价格 price per pack (demo value)"}, "source": "demo-price", "cost": money(p.price_fen)}],
        "medicineClassification": classification,
        "packaging": {"type": {"text": p.pack_unit}, "quantity": {"value": p.pack_size}},
    });
    if i.control != Control::None {
        v["regulatory"] = json!([{
            "regulatoryAuthority": {"display": "国家药品监督管理局 NMPA"},
            "schedule": [{"schedule": {"text": format!("{} {}", i.control.name_zh(), i.control.name_en())}}],
        }]);
    }
    v
}

// ---- searches and reads ----------------------------------------------------------

pub(super) const MEDICATION_REQUEST: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("status", Kind::Token),
        ("intent", Kind::Token),
        ("code", Kind::Token),
        ("requester", Kind::Reference),
        ("authoredon", Kind::Date),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &["authoredon"],
    includes: &[],
    revincludes: &[],
};

pub(super) const MEDICATION_DISPENSE: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("status", Kind::Token),
        ("whenhandedover", Kind::Date),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

pub(super) const DETECTED_ISSUE: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("code", Kind::Token),
        ("identified", Kind::Date),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &["identified"],
    includes: &[],
    revincludes: &[],
};

pub(super) const COVERAGE: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("beneficiary", Kind::Reference),
        ("status", Kind::Token),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

pub(super) const CLAIM: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("status", Kind::Token),
        ("use", Kind::Token),
        ("created", Kind::Date),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &["created"],
    includes: &[],
    revincludes: &[],
};

pub(super) const CLAIM_RESPONSE: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("status", Kind::Token),
        ("outcome", Kind::Token),
        ("created", Kind::Date),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &["created"],
    includes: &[],
    revincludes: &[],
};

pub(super) const MEDICATION: Spec = Spec {
    params: &[
        ("code", Kind::Token),
        ("ingredient-code", Kind::Token),
        ("form", Kind::Token),
        ("status", Kind::Token),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

pub(super) const MEDICATION_KNOWLEDGE: Spec = Spec {
    params: &[
        ("code", Kind::Token),
        ("ingredient-code", Kind::Token),
        ("classification", Kind::Token),
        ("doseform", Kind::Token),
        ("status", Kind::Token),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

/// The code of the first coding of `system` in a CodeableConcept.
fn coded(v: &Value, system: &str) -> String {
    v["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["system"] == system)
        .and_then(|c| c["code"].as_str())
        .unwrap_or("")
        .to_owned()
}

async fn prescriptions_of(
    state: &AppState,
    ctx: &Ctx,
    patient: i64,
) -> Result<Vec<PrescriptionView>, ApiError> {
    state
        .app
        .resident_prescriptions(ctx, patient, PATIENT_RECORDS_MAX)
        .await
        .map_err(fhir_err)
}

/// A resident's MedicationRequests as they are now, with when each was issued.
fn current_requests(views: &[PrescriptionView]) -> Vec<(Range, Value)> {
    views
        .iter()
        .flat_map(|view| {
            let k = states(view).len();
            (0..view.content.lines.len()).filter_map(move |line| {
                medication_request(view, line, k)
                    .map(|v| (Range::instant(view.content.issued_at_us), v))
            })
        })
        .collect()
}

async fn medication_requests(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&MEDICATION_REQUEST)?;
    let base = base_url(&state);
    let Some(patient) = patient_of(&s, &base)? else {
        return Ok(answer(&state, "MedicationRequest", &s, Vec::new()));
    };
    let views = prescriptions_of(&state, &ctx, patient).await?;
    let now = super::chronic::now_us(&state);
    let found = current_requests(&views)
        .into_iter()
        .filter(|(when, v)| {
            s.tokens_match("status", &[(RX_STATUS, v["status"].as_str().unwrap_or(""))])
                && s.tokens_match(
                    "intent",
                    &[(
                        "http://hl7.org/fhir/CodeSystem/medicationrequest-intent",
                        "order",
                    )],
                )
                && s.tokens_match(
                    "code",
                    &[(
                        INGREDIENT_SYSTEM,
                        &coded(&v["medicationCodeableConcept"], INGREDIENT_SYSTEM),
                    )],
                )
                && requester_matches(&s, &base, v)
                && s.dates_match("authoredon", *when, now)
        })
        .collect();
    Ok(answer(&state, "MedicationRequest", &s, found))
}

fn requester_matches(s: &Search, base: &str, v: &Value) -> bool {
    let id = v["requester"]["reference"]
        .as_str()
        .and_then(|r| r.strip_prefix("Practitioner/"))
        .and_then(|r| r.parse().ok())
        .unwrap_or(-1);
    s.references_match("requester", "Practitioner", base, id)
}

async fn read_medication_request(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<String>,
) -> FhirResult {
    let (rx, line) = split_line_id(&id).ok_or_else(not_found)?;
    let view = state.app.prescription(&ctx, rx).await.map_err(fhir_err)?;
    medication_request(&view, line, states(&view).len())
        .map(Fhir)
        .ok_or_else(not_found)
}

async fn medication_dispenses(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&MEDICATION_DISPENSE)?;
    let Some(patient) = patient_of(&s, &base_url(&state))? else {
        return Ok(answer(&state, "MedicationDispense", &s, Vec::new()));
    };
    let views = prescriptions_of(&state, &ctx, patient).await?;
    let now = super::chronic::now_us(&state);
    let mut found = Vec::new();
    for view in &views {
        let Some(fill) = &view.fill else { continue };
        for l in &fill.lines {
            let line = usize::try_from(l.line_no).unwrap_or(usize::MAX);
            let Some(v) = medication_dispense(view, line, dispense_versions(view)) else {
                continue;
            };
            let when_ok = match handed_over(&fill.events) {
                Some(at) => s.dates_match("whenhandedover", Range::instant(at), now),
                None => !s.has("whenhandedover"),
            };
            if when_ok
                && s.tokens_match(
                    "status",
                    &[(DISPENSE_STATUS, v["status"].as_str().unwrap_or(""))],
                )
            {
                found.push((Range::instant(fill.dispensed_at_us), v));
            }
        }
    }
    Ok(answer(&state, "MedicationDispense", &s, found))
}

async fn read_medication_dispense(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<String>,
) -> FhirResult {
    let (rx, line) = split_line_id(&id).ok_or_else(not_found)?;
    let view = state.app.prescription(&ctx, rx).await.map_err(fhir_err)?;
    medication_dispense(&view, line, dispense_versions(&view))
        .map(Fhir)
        .ok_or_else(not_found)
}

/// Every version's findings of each prescription.
fn all_issues(views: &[PrescriptionView]) -> Vec<(Range, Value)> {
    views
        .iter()
        .flat_map(|view| {
            view.versions.iter().flat_map(move |kept| {
                (1..=findings_of(view, kept.version).len()).filter_map(move |n| {
                    let v =
                        detected_issue(view, kept.version, n, issue_versions(view, kept.version))?;
                    Some((Range::instant(kept.at_us), v))
                })
            })
        })
        .collect()
}

async fn detected_issues(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&DETECTED_ISSUE)?;
    let Some(patient) = patient_of(&s, &base_url(&state))? else {
        return Ok(answer(&state, "DetectedIssue", &s, Vec::new()));
    };
    let views = prescriptions_of(&state, &ctx, patient).await?;
    let now = super::chronic::now_us(&state);
    let found = all_issues(&views)
        .into_iter()
        .filter(|(when, v)| {
            s.tokens_match(
                "code",
                &[(FINDING_SYSTEM, &coded(&v["code"], FINDING_SYSTEM))],
            ) && s.dates_match("identified", *when, now)
        })
        .collect();
    Ok(answer(&state, "DetectedIssue", &s, found))
}

/// A finding's id: `{prescription}-v{version}-{n}`.
fn issue_id(id: &str) -> Option<(i64, i64, usize)> {
    let (rx, rest) = id.split_once("-v")?;
    let (version, n) = rest.split_once('-')?;
    Some((rx.parse().ok()?, version.parse().ok()?, n.parse().ok()?))
}

async fn read_detected_issue(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<String>,
) -> FhirResult {
    let (rx, version, n) = issue_id(&id).ok_or_else(not_found)?;
    let view = state.app.prescription(&ctx, rx).await.map_err(fhir_err)?;
    detected_issue(&view, version, n, issue_versions(&view, version))
        .map(Fhir)
        .ok_or_else(not_found)
}

/// A resident's review Tasks (for the `Task` search beside the follow-up and referral
/// tasks; `$everything` has them from `patient_records`).
pub(super) async fn review_tasks(
    state: &AppState,
    ctx: &Ctx,
    patient: i64,
) -> Result<Vec<Value>, ApiError> {
    Ok(prescriptions_of(state, ctx, patient)
        .await?
        .iter()
        .filter_map(|view| review_task(view, states(view).len()))
        .collect())
}

/// `Task/review-{prescription}`.
pub(super) async fn read_review_task(state: &AppState, ctx: &Ctx, rx: &str) -> FhirResult {
    let rx: i64 = rx.parse().map_err(|_| not_found())?;
    let view = state.app.prescription(ctx, rx).await.map_err(fhir_err)?;
    review_task(&view, states(&view).len())
        .map(Fhir)
        .ok_or_else(not_found)
}

async fn coverages(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&COVERAGE)?;
    let Some(patient) = patient_of(&s, &base_url(&state))? else {
        return Ok(answer(&state, "Coverage", &s, Vec::new()));
    };
    let ins = state
        .app
        .resident_insurance(&ctx, patient)
        .await
        .map_err(fhir_err)?;
    let found = coverage(patient, &ins)
        .filter(|v| s.tokens_match("status", &[(FM_STATUS, v["status"].as_str().unwrap_or(""))]))
        .map(|v| (Range::instant(0), v))
        .into_iter()
        .collect();
    Ok(answer(&state, "Coverage", &s, found))
}

async fn read_coverage(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<String>,
) -> FhirResult {
    let resident = super::id_param(&id)?;
    let ins = state
        .app
        .resident_insurance(&ctx, resident)
        .await
        .map_err(fhir_err)?;
    coverage(resident, &ins).map(Fhir).ok_or_else(not_found)
}

/// A resident's settlements with the prescription each settled.
async fn settlements_of(
    state: &AppState,
    ctx: &Ctx,
    patient: i64,
) -> Result<Vec<(SettlementRecord, PrescriptionView)>, ApiError> {
    let ins = state
        .app
        .resident_insurance(ctx, patient)
        .await
        .map_err(fhir_err)?;
    if ins.settlements.is_empty() {
        return Ok(Vec::new());
    }
    let views = prescriptions_of(state, ctx, patient).await?;
    Ok(ins
        .settlements
        .into_iter()
        .filter_map(|s| {
            let view = views
                .iter()
                .find(|v| v.record.id == s.prescription_id)?
                .clone();
            Some((s, view))
        })
        .collect())
}

async fn claims(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&CLAIM)?;
    let Some(patient) = patient_of(&s, &base_url(&state))? else {
        return Ok(answer(&state, "Claim", &s, Vec::new()));
    };
    let now = super::chronic::now_us(&state);
    let found = settlements_of(&state, &ctx, patient)
        .await?
        .iter()
        .filter_map(|(r, view)| {
            claim(r, view, claim_versions(r)).map(|v| (Range::instant(r.settled_at_us), v))
        })
        .filter(|(when, v)| {
            s.tokens_match("status", &[(FM_STATUS, v["status"].as_str().unwrap_or(""))])
                && s.tokens_match("use", &[("http://hl7.org/fhir/claim-use", "claim")])
                && s.dates_match("created", *when, now)
        })
        .collect();
    Ok(answer(&state, "Claim", &s, found))
}

async fn read_claim(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<String>,
) -> FhirResult {
    let (r, view) = state
        .app
        .settlement(&ctx, super::id_param(&id)?)
        .await
        .map_err(fhir_err)?;
    claim(&r, &view, claim_versions(&r))
        .map(Fhir)
        .ok_or_else(not_found)
}

async fn claim_responses(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&CLAIM_RESPONSE)?;
    let Some(patient) = patient_of(&s, &base_url(&state))? else {
        return Ok(answer(&state, "ClaimResponse", &s, Vec::new()));
    };
    let now = super::chronic::now_us(&state);
    // The bureau's answers need no prescription: the settlements alone.
    let found = state
        .app
        .resident_insurance(&ctx, patient)
        .await
        .map_err(fhir_err)?
        .settlements
        .iter()
        .filter_map(|r| {
            claim_response(r, claim_versions(r)).map(|v| (Range::instant(r.settled_at_us), v))
        })
        .filter(|(when, v)| {
            s.tokens_match("status", &[(FM_STATUS, v["status"].as_str().unwrap_or(""))])
                && s.tokens_match(
                    "outcome",
                    &[("http://hl7.org/fhir/remittance-outcome", "complete")],
                )
                && s.dates_match("created", *when, now)
        })
        .collect();
    Ok(answer(&state, "ClaimResponse", &s, found))
}

async fn read_claim_response(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<String>,
) -> FhirResult {
    let (r, _) = state
        .app
        .settlement(&ctx, super::id_param(&id)?)
        .await
        .map_err(fhir_err)?;
    claim_response(&r, claim_versions(&r))
        .map(Fhir)
        .ok_or_else(not_found)
}

/// The formulary's products a search names (by product code, ingredient, form).
fn products_matching<'k>(s: &Search, kb: &'k Knowledge) -> Vec<&'k Product> {
    kb.products
        .iter()
        .filter(|p| {
            let i = kb.ingredient(p.ingredient);
            let classes: Vec<(&str, &str)> = i
                .classes
                .iter()
                .map(|c| (DRUG_CLASS_SYSTEM, kb.class(*c).code.as_str()))
                .collect();
            s.tokens_match("code", &[(PRODUCT_SYSTEM, &p.code)])
                && s.tokens_match("ingredient-code", &[(INGREDIENT_SYSTEM, &i.code)])
                && s.tokens_match("form", &[("", &p.form)])
                && s.tokens_match("doseform", &[("", &p.form)])
                && s.tokens_match("classification", &classes)
                && s.tokens_match(
                    "status",
                    &[("http://hl7.org/fhir/CodeSystem/medication-status", "active")],
                )
        })
        .collect()
}

/// A search of the formulary: the products it names, each as `ty`, paged.
fn formulary_search(
    state: &AppState,
    q: &FhirQuery,
    ty: &str,
    spec: &Spec,
    render: fn(&Product) -> Value,
) -> FhirResult {
    let s = q.search(spec)?;
    let all = products_matching(&s, Knowledge::builtin())
        .into_iter()
        .map(render)
        .collect();
    let page = s.page_of(all);
    Ok(Fhir(searchset(&base_url(state), ty, &s, page, Vec::new())))
}

async fn medications(State(state): State<AppState>, q: FhirQuery) -> FhirResult {
    formulary_search(&state, &q, "Medication", &MEDICATION, medication)
}

async fn read_medication(Path(id): Path<String>) -> FhirResult {
    product_by_id(&id)
        .map(|p| Fhir(medication(p)))
        .ok_or_else(not_found)
}

async fn knowledges(State(state): State<AppState>, q: FhirQuery) -> FhirResult {
    formulary_search(
        &state,
        &q,
        "MedicationKnowledge",
        &MEDICATION_KNOWLEDGE,
        medication_knowledge,
    )
}

async fn read_knowledge(Path(id): Path<String>) -> FhirResult {
    product_by_id(&id)
        .map(|p| Fhir(medication_knowledge(p)))
        .ok_or_else(not_found)
}

/// Whether `ty/id`'s versions are derived here (from a prescription's steps, a fill's
/// events or a settlement's reversal).
pub(super) fn derives_versions(ty: &str, id: &str) -> bool {
    match ty {
        "MedicationRequest" | "MedicationDispense" | "DetectedIssue" | "Claim"
        | "ClaimResponse" => true,
        "Task" => id.starts_with("review-"),
        _ => false,
    }
}

/// Every version of `ty/id`, oldest first (the caller's read of the current one has
/// decided access and been audited; this reads the prescription again, audited too).
pub(super) async fn versions(
    state: &AppState,
    ctx: &Ctx,
    ty: &str,
    id: &str,
) -> Result<Vec<Value>, ApiError> {
    let read = |rx: i64| async move { state.app.prescription(ctx, rx).await.map_err(fhir_err) };
    Ok(match ty {
        "MedicationRequest" => {
            let (rx, line) = split_line_id(id).ok_or_else(not_found)?;
            let view = read(rx).await?;
            (1..=states(&view).len())
                .filter_map(|k| medication_request(&view, line, k))
                .collect()
        }
        "MedicationDispense" => {
            let (rx, line) = split_line_id(id).ok_or_else(not_found)?;
            let view = read(rx).await?;
            (1..=dispense_versions(&view))
                .filter_map(|k| medication_dispense(&view, line, k))
                .collect()
        }
        "Task" => {
            let rx = id
                .strip_prefix("review-")
                .and_then(|r| r.parse().ok())
                .ok_or_else(not_found)?;
            let view = read(rx).await?;
            (1..=states(&view).len())
                .filter_map(|k| review_task(&view, k))
                .collect()
        }
        "Claim" | "ClaimResponse" => {
            let (r, view) = state
                .app
                .settlement(ctx, super::id_param(id)?)
                .await
                .map_err(fhir_err)?;
            (1..=claim_versions(&r))
                .filter_map(|k| {
                    if ty == "Claim" {
                        claim(&r, &view, k)
                    } else {
                        claim_response(&r, k)
                    }
                })
                .collect()
        }
        "DetectedIssue" => {
            let (rx, version, n) = issue_id(id).ok_or_else(not_found)?;
            let view = read(rx).await?;
            (1..=issue_versions(&view, version))
                .filter_map(|k| detected_issue(&view, version, n, k))
                .collect()
        }
        _ => Vec::new(),
    })
}

/// Everything of the cloud pharmacy a patient has, for `Patient/{id}/$everything`.
pub(super) async fn patient_records(
    state: &AppState,
    ctx: &Ctx,
    patient: i64,
) -> Result<Vec<Value>, ApiError> {
    let views = prescriptions_of(state, ctx, patient).await?;
    let mut out: Vec<Value> = current_requests(&views)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    out.extend(all_issues(&views).into_iter().map(|(_, v)| v));
    for view in &views {
        out.extend(review_task(view, states(view).len()));
        if let Some(fill) = &view.fill {
            for l in &fill.lines {
                let line = usize::try_from(l.line_no).unwrap_or(usize::MAX);
                out.extend(medication_dispense(view, line, dispense_versions(view)));
            }
        }
    }
    let ins = state
        .app
        .resident_insurance(ctx, patient)
        .await
        .map_err(fhir_err)?;
    out.extend(coverage(patient, &ins));
    for r in &ins.settlements {
        if let Some(view) = views.iter().find(|v| v.record.id == r.prescription_id) {
            out.extend(claim(r, view, claim_versions(r)));
            out.extend(claim_response(r, claim_versions(r)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_product_has_its_own_valid_fhir_id() {
        let kb = Knowledge::builtin();
        let mut seen = std::collections::HashSet::new();
        for p in &kb.products {
            let id = product_id(&p.code);
            assert!(
                id.len() <= 64
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
                "{id}"
            );
            assert!(seen.insert(id.clone()), "{id} twice");
            assert_eq!(product_by_id(&id).map(|q| &q.code), Some(&p.code));
        }
    }

    #[test]
    fn line_ids_name_a_prescription_and_a_line_from_one() {
        for (id, want) in [
            ("12-1", Some((12, 0))),
            ("12-3", Some((12, 2))),
            ("12-0", None),
            ("12", None),
            ("x-1", None),
            ("12-1-2", None),
        ] {
            assert_eq!(split_line_id(id), want, "{id}");
        }
    }

    #[test]
    fn an_insurance_number_is_masked_but_its_ends() {
        assert_eq!(mask("SIMPSN1751"), "SIM*****51");
        assert_eq!(mask("12345"), "*****");
    }
}
