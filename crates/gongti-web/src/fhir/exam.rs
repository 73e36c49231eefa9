//! Orders to the cloud centres in FHIR R4 (DOMAIN.md §8): each order is a
//! ServiceRequest (`ServiceRequest/exam-{id}`: the item in LOINC for a laboratory item,
//! the placer and accession numbers as identifiers, the centre as performer) and its
//! workflow a Task (`Task/exam-{id}`: received → accepted → in-progress → completed,
//! rejected or cancelled with the reason). They are listed beside the referrals'
//! ServiceRequests and the other Tasks, read through the same use cases as the console
//! (the same access decisions and audit).

use gongti_app::Ctx;
use gongti_core::exam::orders::{Catalogue, Category, OrderStatus};
use gongti_store::ExamOrderRecord;
use serde_json::{Value, json};

use super::fhir_err;
use crate::AppState;
use crate::error::ApiError;
use crate::views::utc;

const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";
/// Gongti's codes of the catalogue's items (`data/exam/catalogue.tsv`).
const ITEM_SYSTEM: &str = "urn:gongti:exam-item";
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
    if let Some(loinc) = item
        .and_then(|i| i.loincs.first())
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
