//! Orders to the cloud centres in FHIR R4 (DOMAIN.md §8): each order is a
//! ServiceRequest (`ServiceRequest/exam-{id}`: the item in LOINC for a laboratory item,
//! the placer and accession numbers as identifiers, the centre as performer) and its
//! workflow a Task (`Task/exam-{id}`: received → accepted → in-progress → completed,
//! rejected or cancelled with the reason). They are listed beside the referrals'
//! ServiceRequests and the other Tasks, read through the same use cases as the console
//! (the same access decisions and audit).

use gongti_app::Ctx;
use gongti_core::exam::orders::{Catalogue, Category, OrderStatus};
use gongti_store::{ExamOrderRecord, LabResultRecord};
use serde_json::{Value, json};

use super::fhir_err;
use crate::AppState;
use crate::error::ApiError;
use crate::views::utc;

const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
const V2_0487: &str = "http://terminology.hl7.org/CodeSystem/v2-0487";
/// Gongti's codes of the catalogue's items (`data/exam/catalogue.tsv`).
const ITEM_SYSTEM: &str = "urn:gongti:exam-item";
/// The region's critical findings (`data/exam/critical_findings.tsv`).
const CRITICAL_FINDING_SYSTEM: &str = "urn:gongti:critical-finding";
const IDENTIFIER_TYPE: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";
const PLACER_SYSTEM: &str = "urn:gongti:exam-order:placer";
const ACCESSION_SYSTEM: &str = "urn:gongti:exam-order:accession";

/// The id prefix of the orders' resources.
pub(super) const PREFIX: &str = "exam-";

fn meta(o: &ExamOrderRecord) -> Value {
    json!({"lastUpdated": utc(o.changed_at_us)})
}

fn category(c: Category) -> Value {
    let (code, display) = match c {
        Category::Lab => ("108252007", "Laboratory procedure"),
        Category::Imaging => ("363679005", "Imaging"),
        Category::Ecg => ("29303009", "Electrocardiographic procedure"),
    };
    json!([{"coding": [{"system": SNOMED, "code": code, "display": display}], "text": c.label_zh()}])
}

fn code(o: &ExamOrderRecord) -> Value {
    let item = Catalogue::builtin().get(&o.item_code);
    let label = item.map_or(o.item_code.as_str(), |i| i.label_zh.as_str());
    let mut coding = vec![
        json!({"system": ITEM_SYSTEM, "code": o.item_code, "display": item.map_or(label, |i| i.label_en.as_str())}),
    ];
    // a laboratory item by the code it is ordered by (a panel without one by its local
    // code alone, never by one of its results)
    if let Some(loinc) = item
        .and_then(|i| i.order_loinc.as_ref())
        .filter(|_| o.category == Category::Lab)
    {
        coding.insert(0, json!({"system": LOINC, "code": loinc}));
    }
    json!({"coding": coding, "text": label})
}

fn identifiers(o: &ExamOrderRecord) -> Value {
    json!([
        {"type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "PLAC"}], "text": "申请单号 placer number"},
         "system": PLACER_SYSTEM, "value": o.placer_number},
        {"type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "ACSN"}], "text": "检查单号 accession number"},
         "system": ACCESSION_SYSTEM, "value": o.accession_number},
    ])
}

/// The order as a ServiceRequest.
pub(super) fn service_request(o: &ExamOrderRecord) -> Value {
    let status = match o.status {
        OrderStatus::Received | OrderStatus::Accepted | OrderStatus::InProgress => "active",
        OrderStatus::Completed => "completed",
        OrderStatus::Rejected | OrderStatus::Cancelled => "revoked",
    };
    let mut v = json!({
        "resourceType": "ServiceRequest",
        "id": format!("{PREFIX}{}", o.id),
        "meta": meta(o),
        "identifier": identifiers(o),
        "status": status,
        "intent": "order",
        "category": category(o.category),
        "priority": o.priority.code(),
        "code": code(o),
        "subject": {"reference": format!("Patient/{}", o.resident_id)},
        "authoredOn": utc(o.created_at_us),
        "requester": {"reference": format!("Practitioner/{}", o.ordered_by_staff_id), "display": o.ordered_by_name},
        "performer": [{"reference": format!("Organization/{}", o.centre_institution_id), "display": format!("{} · {}", o.centre_institution_name, o.centre_name)}],
        "reasonCode": [{"text": o.indication}],
    });
    if let Some(r) = o.reorder_reason {
        let text = match o.reorder_text.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => format!("互认结果仍重新检查：{}：{t}", r.label_zh()),
            None => format!("互认结果仍重新检查：{}", r.label_zh()),
        };
        v["note"] = json!([{"text": text}]);
    }
    v
}

/// The order's workflow as a Task.
pub(super) fn order_task(o: &ExamOrderRecord) -> Value {
    let mut v = json!({
        "resourceType": "Task",
        "id": format!("{PREFIX}{}", o.id),
        "meta": meta(o),
        "identifier": identifiers(o),
        "status": o.status.code(),
        "businessStatus": {"text": o.status.label_zh()},
        "intent": "order",
        "priority": o.priority.code(),
        "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}], "text": "检查检验 exam order"},
        "focus": {"reference": format!("ServiceRequest/{PREFIX}{}", o.id)},
        "for": {"reference": format!("Patient/{}", o.resident_id)},
        "authoredOn": utc(o.created_at_us),
        "lastModified": utc(o.changed_at_us),
        "requester": {"reference": format!("Organization/{}", o.placer_institution_id)},
        "owner": {"reference": format!("Organization/{}", o.centre_institution_id)},
    });
    if let Some(reason) = o
        .status_reason
        .as_deref()
        .filter(|_| matches!(o.status, OrderStatus::Rejected | OrderStatus::Cancelled))
    {
        v["statusReason"] = json!({"text": reason});
    }
    v
}

/// A patient's orders, as their record's page lists them (audited as that read).
pub(super) async fn patient_orders(
    state: &AppState,
    ctx: &Ctx,
    patient: i64,
) -> Result<Vec<ExamOrderRecord>, ApiError> {
    state
        .app
        .resident_exam_orders(ctx, patient)
        .await
        .map_err(fhir_err)
}

/// One order, as its page is read (`exam-{id}`), or `None` for another id.
pub(super) async fn read_order(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
) -> Result<Option<ExamOrderRecord>, ApiError> {
    let Some(key) = id.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    let key: i64 = key.parse().map_err(|_| ApiError::not_found().fhir())?;
    let view = state
        .app
        .exam_order_view(ctx, key)
        .await
        .map_err(fhir_err)?;
    Ok(Some(view.order))
}

const DICOM_DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";

/// A signed report as a DiagnosticReport (`exam-{order}`): the item's code, the study,
/// the impression as `conclusion` and the findings as a text attachment. Preliminary
/// reports are the centre's and are not served.
pub(super) fn diagnostic_report(
    o: &ExamOrderRecord,
    r: &gongti_store::ReportRecord,
    studies: &[gongti_store::StudyRecord],
) -> Value {
    use base64::Engine;
    let (service, text) = match o.category {
        Category::Ecg => ("EC", "心电"),
        _ => ("RAD", "放射影像"),
    };
    let mut v = json!({
        "resourceType": "DiagnosticReport",
        "id": format!("{PREFIX}{}", o.id),
        "meta": {"lastUpdated": utc(r.changed_at_us), "versionId": r.version.to_string()},
        "identifier": [{"system": ACCESSION_SYSTEM, "value": o.accession_number}],
        "basedOn": [{"reference": format!("ServiceRequest/{PREFIX}{}", o.id)}],
        "status": r.status.code(),
        "category": [{"coding": [{"system": V2_0074, "code": service}], "text": text}],
        "code": code(o),
        "subject": {"reference": format!("Patient/{}", o.resident_id)},
        "issued": utc(r.signed_at_us.unwrap_or(r.changed_at_us)),
        "performer": [{"reference": format!("Organization/{}", o.centre_institution_id), "display": o.centre_institution_name}],
        "conclusion": r.impression,
        "presentedForm": [{
            "contentType": "text/plain; charset=utf-8",
            "language": "zh-CN",
            "title": "检查所见 findings",
            "data": base64::engine::general_purpose::STANDARD.encode(r.findings.as_bytes()),
        }],
    });
    if let Some(signer) = r.signer_staff_id {
        v["resultsInterpreter"] =
            json!([{"reference": format!("Practitioner/{signer}"), "display": r.signer_name}]);
    }
    if let Some(code) = &r.critical_code {
        // the reader's critical finding (危急值), coded from the region's table
        let label = gongti_core::exam::critical::CriticalFindings::builtin()
            .by_code(code)
            .map_or_else(
                || code.clone(),
                |f| format!("危急值：{} critical finding: {}", f.label_zh, f.label_en),
            );
        v["conclusionCode"] = json!([{
            "coding": [{"system": CRITICAL_FINDING_SYSTEM, "code": code, "display": label}],
            "text": label,
        }]);
    }
    if let Some(first) = studies.first() {
        v["effectiveDateTime"] = json!(utc(first.received_at_us));
        v["imagingStudy"] = studies
            .iter()
            .map(|s| json!({"reference": format!("ImagingStudy/{PREFIX}{}", s.id)}))
            .collect();
    }
    v
}

/// A laboratory order's results as its panel's DiagnosticReport (`exam-{order}`):
/// `final` when every result is, `corrected` when one was corrected, `partial` while
/// one is preliminary; each result an Observation (`lab{id}`), the specimen beside it.
pub(super) fn lab_report(o: &ExamOrderRecord, results: &[LabResultRecord]) -> Value {
    use gongti_core::exam::report::ResultStatus;
    let status = if results
        .iter()
        .any(|r| r.status == ResultStatus::Preliminary)
    {
        "partial"
    } else if results.iter().any(|r| r.status == ResultStatus::Corrected) {
        "corrected"
    } else {
        "final"
    };
    let issued = results
        .iter()
        .map(|r| r.created_at_us)
        .max()
        .unwrap_or(o.changed_at_us);
    let mut v = json!({
        "resourceType": "DiagnosticReport",
        "id": format!("{PREFIX}{}", o.id),
        "meta": {"lastUpdated": utc(issued.max(o.changed_at_us))},
        "identifier": identifiers(o),
        "basedOn": [{"reference": format!("ServiceRequest/{PREFIX}{}", o.id)}],
        "status": status,
        "category": [{"coding": [{"system": V2_0074, "code": "LAB", "display": "Laboratory"}], "text": "检验"}],
        "code": code(o),
        "subject": {"reference": format!("Patient/{}", o.resident_id)},
        "issued": utc(issued),
        "performer": [{"reference": format!("Organization/{}", o.centre_institution_id), "display": o.centre_institution_name}],
        "result": results
            .iter()
            .map(|r| json!({"reference": format!("Observation/lab{}", r.id), "display": r.display}))
            .collect::<Vec<_>>(),
    });
    if let Some(first) = results.first() {
        v["effectiveDateTime"] = match first.collected_at_us {
            Some(at) => json!(utc(at)),
            None => json!(first.collected_on.to_string()),
        };
    }
    if specimen_of(o).is_some() {
        v["specimen"] = json!([{"reference": format!("Specimen/{PREFIX}{}", o.id)}]);
    }
    v
}

/// The catalogue's specimen of a laboratory order's item.
fn specimen_of(o: &ExamOrderRecord) -> Option<gongti_core::exam::orders::Specimen> {
    Catalogue::builtin()
        .get(&o.item_code)
        .and_then(|i| i.specimen)
}

/// What a laboratory order's results were measured in, as a Specimen (`exam-{order}`):
/// its type from the catalogue, the accession number, when it was collected.
pub(super) fn specimen(o: &ExamOrderRecord, results: &[LabResultRecord]) -> Option<Value> {
    let kind = specimen_of(o)?;
    let mut v = json!({
        "resourceType": "Specimen",
        "id": format!("{PREFIX}{}", o.id),
        "meta": meta(o),
        "accessionIdentifier": {"system": ACCESSION_SYSTEM, "value": o.accession_number},
        "status": "available",
        "type": {"coding": [{"system": V2_0487, "code": kind.code(), "display": kind.label_en()}], "text": kind.label_zh()},
        "subject": {"reference": format!("Patient/{}", o.resident_id)},
        "request": [{"reference": format!("ServiceRequest/{PREFIX}{}", o.id)}],
    });
    if let Some(first) = results.first() {
        v["collection"] = match first.collected_at_us {
            Some(at) => json!({"collectedDateTime": utc(at)}),
            None => json!({"collectedDateTime": first.collected_on.to_string()}),
        };
        v["receivedTime"] = json!(utc(first.created_at_us));
    }
    Some(v)
}

/// A study the PACS holds as an ImagingStudy (`exam-{study}`): its UID, modalities and
/// instance count, the order it answers.
pub(super) fn imaging_study(o: &ExamOrderRecord, s: &gongti_store::StudyRecord) -> Value {
    let modality: Vec<Value> = s
        .modalities
        .split('\\')
        .filter(|m| !m.is_empty())
        .map(|m| json!({"system": DICOM_DCM, "code": m}))
        .collect();
    let mut v = json!({
        "resourceType": "ImagingStudy",
        "id": format!("{PREFIX}{}", s.id),
        "meta": {"lastUpdated": utc(s.received_at_us)},
        "identifier": [{"system": "urn:dicom:uid", "value": format!("urn:oid:{}", s.study_uid)}],
        "status": "available",
        "subject": {"reference": format!("Patient/{}", o.resident_id)},
        "basedOn": [{"reference": format!("ServiceRequest/{PREFIX}{}", o.id)}],
        "numberOfInstances": s.instances,
    });
    if !modality.is_empty() {
        v["modality"] = Value::Array(modality);
    }
    if !s.description.is_empty() {
        v["description"] = json!(s.description);
    }
    v
}

/// A patient's exam records as FHIR: signed imaging and ECG reports and laboratory
/// panels (DiagnosticReport), studies (ImagingStudy), specimens (Specimen).
#[derive(Default)]
pub(super) struct ExamRecords {
    pub reports: Vec<Value>,
    pub studies: Vec<Value>,
    pub specimens: Vec<Value>,
}

impl ExamRecords {
    fn of(&mut self, ty: &str) -> &mut Vec<Value> {
        match ty {
            "DiagnosticReport" => &mut self.reports,
            "ImagingStudy" => &mut self.studies,
            _ => &mut self.specimens,
        }
    }
}

/// The patient's exam records (for their searches and `$everything`).
pub(super) async fn patient_exam_records(
    state: &AppState,
    ctx: &Ctx,
    patient: i64,
) -> Result<ExamRecords, ApiError> {
    let mut out = ExamRecords::default();
    let store = state.app.store();
    let err = |e: gongti_store::StoreError| fhir_err(gongti_app::AppError::from(e));
    for o in patient_orders(state, ctx, patient).await? {
        if o.category == Category::Lab {
            let results = store.lab_results_of_order(o.id).await.map_err(err)?;
            if !results.is_empty() {
                out.reports.push(lab_report(&o, &results));
                out.specimens.extend(specimen(&o, &results));
            }
            continue;
        }
        let found = store.studies_of_order(o.id).await.map_err(err)?;
        out.studies
            .extend(found.iter().map(|s| imaging_study(&o, s)));
        if let Some(r) = store
            .exam_report(o.id)
            .await
            .map_err(err)?
            .filter(|r| r.status.signed())
        {
            out.reports.push(diagnostic_report(&o, &r, &found));
        }
    }
    Ok(out)
}

pub(super) const REPORT_SPEC: super::search::Spec = super::search::Spec {
    params: &[
        ("patient", super::search::Kind::Reference),
        ("subject", super::search::Kind::Reference),
        ("_lastUpdated", super::search::Kind::Date),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::extract::{Path, State};
    use axum::routing::get;
    let mut router = axum::Router::new();
    for ty in ["DiagnosticReport", "ImagingStudy", "Specimen"] {
        router = router
            .route(
                &format!("/{ty}"),
                get(
                    move |State(state): State<AppState>,
                          axum::Extension(ctx): axum::Extension<Ctx>,
                          q: super::FhirQuery| search(ty, state, ctx, q),
                ),
            )
            .route(
                &format!("/{ty}/{{id}}"),
                get(
                    move |State(state): State<AppState>,
                          axum::Extension(ctx): axum::Extension<Ctx>,
                          Path(id): Path<String>| read(ty, state, ctx, id),
                ),
            );
    }
    router
}

async fn search(
    ty: &'static str,
    state: AppState,
    ctx: Ctx,
    q: super::FhirQuery,
) -> super::FhirResult {
    let s = q.search(&REPORT_SPEC)?;
    let found = match super::chronic::patient_of(&s, &super::base_url(&state))? {
        Some(p) => {
            let mut records = patient_exam_records(&state, &ctx, p).await?;
            std::mem::take(records.of(ty))
                .into_iter()
                .filter(|v| s.last_updated_matches(v))
                .map(|v| (super::search::Range::instant(0), v))
                .collect()
        }
        None => Vec::new(),
    };
    Ok(super::chronic::answer(&state, ty, &s, found))
}

/// A report or a specimen by its order (`exam-{order}`) or a study (`exam-{study}`),
/// read through the order's page (the same decision and audit).
async fn read(ty: &'static str, state: AppState, ctx: Ctx, id: String) -> super::FhirResult {
    let not_found = || ApiError::not_found().fhir();
    let key: i64 = id
        .strip_prefix(PREFIX)
        .and_then(|k| k.parse().ok())
        .ok_or_else(not_found)?;
    let store = state.app.store();
    let order_id = if ty == "DiagnosticReport" || ty == "Specimen" {
        key
    } else {
        store
            .exam_study(key)
            .await
            .map_err(|e| fhir_err(gongti_app::AppError::from(e)))?
            .and_then(|s| s.order_id)
            .ok_or_else(not_found)?
    };
    let view = state
        .app
        .exam_order_view(&ctx, order_id)
        .await
        .map_err(fhir_err)?;
    let lab = view.order.category == Category::Lab && !view.results.is_empty();
    let v = if ty == "Specimen" {
        specimen(&view.order, &view.results)
            .filter(|_| lab)
            .ok_or_else(not_found)?
    } else if ty == "DiagnosticReport" && lab {
        lab_report(&view.order, &view.results)
    } else if ty == "DiagnosticReport" {
        let r = view
            .report
            .filter(|r| r.status.signed())
            .ok_or_else(not_found)?;
        diagnostic_report(&view.order, &r, &view.studies)
    } else {
        let s = view
            .studies
            .iter()
            .find(|s| s.id == key)
            .ok_or_else(not_found)?;
        imaging_study(&view.order, s)
    };
    Ok(super::Fhir(v))
}
