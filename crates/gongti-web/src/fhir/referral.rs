//! FHIR R4 for cloud management (DOMAIN.md §3): Schedule and Slot (the reserved pool
//! marked on each slot), Appointment (bookings), ServiceRequest (the referral) and the
//! referral's workflow Task, and for remote consultation CommunicationRequest (the
//! question with its files) and Communication (the opinion), following the HL7 China two-way referral steps (request →
//! response → arrival → return).

use axum::extract::{Path, State};
use gongti_app::Ctx;
use gongti_app::scheduling::SlotView;
use gongti_core::consultation::ConsultationStatus;
use gongti_core::referral::{ReferralStatus, Urgency};
use gongti_core::scheduling::{BookingStatus, Pool};
use gongti_store::{
    BookingRecord, ConsultationRecord, ReferralRecord, ScheduleFilter, ScheduleRecord,
};
use serde_json::{Value, json};
use time::Duration;

use super::chronic::{Params, check, param, patient_of, searchset};
use super::{Fhir, FhirResult, fhir_err, id_param, reference_id};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::views::utc;
use crate::{AppState, PAGE_SIZE_DEFAULT};

const SLOT_POOL: &str = "urn:gongti:slot-pool";
const SNOMED: &str = "http://snomed.info/sct";

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/Schedule", get(schedules))
        .route("/Schedule/{id}", get(read_schedule))
        .route("/Slot", get(slots))
        .route("/Appointment", get(appointments))
        .route("/ServiceRequest", get(service_requests))
        .route("/ServiceRequest/{id}", get(read_service_request))
        .route("/CommunicationRequest", get(communication_requests))
        .route("/Communication", get(communications))
}

fn schedule(s: &ScheduleRecord) -> Value {
    // R4 allows no Organization here: the clinic is its department's HealthcareService
    // (providedBy the institution), with the doctor when one is named.
    let mut actors = vec![
        json!({"reference": format!("HealthcareService/{}", s.department_id), "display": format!("{} · {}", s.institution_name, s.department_name)}),
    ];
    if let Some(d) = s.doctor_staff_id {
        actors.push(json!({"reference": format!("Practitioner/{d}"), "display": s.doctor_name}));
    }
    let (start, end) = s.session.default_hours();
    json!({
        "resourceType": "Schedule",
        "id": s.id.to_string(),
        "active": !s.cancelled,
        "serviceType": [{"text": s.department_name}],
        "actor": actors,
        "planningHorizon": {
            "start": local_date_time(s.day, start),
            "end": local_date_time(s.day, end),
        },
        "comment": format!(
            "{} · {} · 预留家庭医生号 {}/{} (reserved for family doctors)",
            s.clinic_name.as_deref().or(s.doctor_name.as_deref()).unwrap_or(""),
            s.session.code(),
            s.reserved_slots,
            s.slot_count()
        ),
    })
}

/// A clinic day's local time as an R4 `dateTime` (`YYYY-MM-DDThh:mm:ss+08:00`, every
/// field zero-padded: `time::Time`'s display writes `8:00:00.0`, which R4 refuses).
fn local_date_time(day: time::Date, at: time::Time) -> String {
    let (h, m, sec) = at.as_hms();
    format!("{day}T{h:02}:{m:02}:{sec:02}+08:00")
}

fn slot(v: &SlotView) -> Value {
    let status = match v.slot.status.as_str() {
        "free" => "free",
        "booked" => "busy",
        _ => "entered-in-error",
    };
    let pool = v.slot.pool;
    json!({
        "resourceType": "Slot",
        "id": v.slot.id.to_string(),
        "schedule": {"reference": format!("Schedule/{}", v.slot.schedule_id)},
        "serviceCategory": [{"coding": [{"system": SLOT_POOL, "code": pool.code(),
            "display": if pool == Pool::Reserved { "Reserved for grassroots family doctors" } else { "Public" }}]}],
        "status": status,
        "start": utc(v.slot.starts_at_us),
        "end": utc(v.slot.ends_at_us),
        "comment": if v.open_to_public { "open to the public" } else { "family doctors only (reserved pool)" },
    })
}

fn appointment(b: &BookingRecord) -> Value {
    let status = match b.status {
        BookingStatus::Booked => "booked",
        BookingStatus::CheckedIn => "arrived",
        BookingStatus::Cancelled => "cancelled",
        BookingStatus::NoShow => "noshow",
    };
    json!({
        "resourceType": "Appointment",
        "id": b.id.to_string(),
        "status": status,
        "serviceType": [{"text": b.department_name}],
        "start": utc(b.starts_at_us),
        "end": utc(b.ends_at_us),
        "created": utc(b.created_at_us),
        "slot": [{"reference": format!("Slot/{}", b.slot_id)}],
        "comment": format!("{} · {} · {}", b.institution_name, b.department_name, b.pool.code()),
        "participant": [
            {"actor": {"reference": format!("Patient/{}", b.resident_id), "display": b.resident_name}, "status": "accepted"},
        ],
    })
}

fn service_request(r: &ReferralRecord) -> Value {
    let status = match r.status {
        ReferralStatus::Requested
        | ReferralStatus::Accepted
        | ReferralStatus::Arrived
        | ReferralStatus::Seen => "active",
        ReferralStatus::Returned => "completed",
        ReferralStatus::Rejected | ReferralStatus::Cancelled => "revoked",
    };
    let mut notes = vec![json!({"text": r.summary})];
    if let Some(plan) = &r.return_plan {
        notes.push(json!({"text": format!("下转方案 Plan: {plan}")}));
    }
    let mut v = json!({
        "resourceType": "ServiceRequest",
        "id": r.id.to_string(),
        "status": status,
        "intent": "order",
        "category": [{"coding": [{"system": SNOMED, "code": "3457005", "display": "Patient referral"}], "text": "上转 upward referral"}],
        "priority": match r.urgency { Urgency::Emergency => "stat", Urgency::Routine => "routine" },
        "code": {"text": format!("转诊至 {} · {}", r.to_institution_name, r.to_department_name)},
        "subject": {"reference": format!("Patient/{}", r.resident_id), "display": r.resident_name},
        "authoredOn": utc(r.created_at_us),
        "requester": {"reference": format!("Practitioner/{}", r.from_staff_id), "display": r.from_staff_name},
        "performer": [{"reference": format!("Organization/{}", r.to_institution_id), "display": r.to_institution_name}],
        "reasonCode": [{"text": r.reason}],
        "note": notes,
    });
    if let Some(b) = r.booking_id {
        v["supportingInfo"] = json!([{"reference": format!("Appointment/{b}")}]);
    }
    v
}

/// The referral's workflow Task (HL7 China referral: request → response → arrival →
/// return), beside the family doctor's follow-up tasks in `Task` searches.
pub(super) fn referral_task(r: &ReferralRecord) -> Value {
    let (status, business) = match r.status {
        ReferralStatus::Requested => ("requested", "申请 request"),
        ReferralStatus::Accepted => ("accepted", "接收 response: accepted"),
        ReferralStatus::Rejected => ("rejected", "拒绝 response: rejected"),
        ReferralStatus::Arrived => ("in-progress", "到院 arrival"),
        ReferralStatus::Seen => ("in-progress", "接诊 seen"),
        ReferralStatus::Returned => ("completed", "下转 return"),
        ReferralStatus::Cancelled => ("cancelled", "撤销 cancelled"),
    };
    let mut v = json!({
        "resourceType": "Task",
        "id": format!("referral-{}", r.id),
        "status": status,
        "businessStatus": {"text": business},
        "intent": "order",
        "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}], "text": "双向转诊 two-way referral"},
        "focus": {"reference": format!("ServiceRequest/{}", r.id)},
        "for": {"reference": format!("Patient/{}", r.resident_id)},
        "authoredOn": utc(r.created_at_us),
        "lastModified": utc(r.changed_at_us),
        "requester": {"reference": format!("Organization/{}", r.from_institution_id)},
        "owner": {"reference": format!("Organization/{}", r.to_institution_id)},
    });
    if let Some(reason) = &r.reject_reason {
        v["statusReason"] = json!({"text": reason});
    }
    v
}

async fn schedules(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(&params, &["actor", "date", "_count"])?;
    // `actor=HealthcareService/{department}`, or `Organization/{id}` for every clinic of
    // an institution (the departments' providedBy).
    let (mut institution, mut department) = (None, None);
    if let Some(a) = param(&params, "actor") {
        if a.starts_with("Organization/") {
            institution = Some(reference_id(a, "Organization")?);
        } else {
            department = Some(reference_id(a, "HealthcareService")?);
        }
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let from = match param(&params, "date") {
        Some(d) => time::Date::parse(d.trim_start_matches("ge"), &fmt).map_err(|_| {
            ApiError::bad_request(
                "bad_date",
                "日期格式应为 YYYY-MM-DD",
                "Dates are YYYY-MM-DD",
            )
            .fhir()
        })?,
        None => state.app.today(),
    };
    let filter = ScheduleFilter {
        institution_id: institution,
        department_id: department,
        from_day: from,
        to_day: from + Duration::days(14),
    };
    let page = state
        .app
        .schedules(filter, None, PAGE_SIZE_DEFAULT)
        .await
        .map_err(fhir_err)?;
    let entries = page.items.iter().map(schedule).collect();
    Ok(searchset(&state, "Schedule", &params, entries, None))
}

async fn read_schedule(State(state): State<AppState>, Path(id): Path<String>) -> FhirResult {
    let s = state.app.schedule(id_param(&id)?).await.map_err(fhir_err)?;
    Ok(Fhir(schedule(&s)))
}

async fn slots(State(state): State<AppState>, ApiQuery(params): ApiQuery<Params>) -> FhirResult {
    check(&params, &["schedule", "status"])?;
    let Some(schedule) = param(&params, "schedule") else {
        return Err(ApiError::bad_request(
            "schedule_required",
            "请指定 schedule 参数",
            "Search slots by schedule",
        )
        .fhir());
    };
    let id = reference_id(schedule, "Schedule")?;
    let wanted = param(&params, "status");
    let entries = state
        .app
        .schedule_slots(id)
        .await
        .map_err(fhir_err)?
        .iter()
        .map(slot)
        .filter(|s| wanted.is_none_or(|w| s["status"] == w))
        .collect();
    Ok(searchset(&state, "Slot", &params, entries, None))
}

async fn appointments(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(&params, &["patient", "subject", "status"])?;
    let patient = patient_of(&params)?;
    let wanted = param(&params, "status");
    let entries = state
        .app
        .resident_bookings(&ctx, patient, None, PAGE_SIZE_DEFAULT)
        .await
        .map_err(fhir_err)?
        .items
        .iter()
        .map(appointment)
        .filter(|a| wanted.is_none_or(|w| a["status"] == w))
        .collect();
    Ok(searchset(&state, "Appointment", &params, entries, None))
}

async fn service_requests(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    check(&params, &["patient", "subject", "status"])?;
    let patient = patient_of(&params)?;
    let wanted = param(&params, "status");
    let entries = state
        .app
        .resident_referrals(&ctx, patient, None, PAGE_SIZE_DEFAULT)
        .await
        .map_err(fhir_err)?
        .items
        .iter()
        .map(service_request)
        .filter(|s| wanted.is_none_or(|w| s["status"] == w))
        .collect();
    Ok(searchset(&state, "ServiceRequest", &params, entries, None))
}

async fn read_service_request(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> FhirResult {
    let v = state
        .app
        .read_referral(&ctx, id_param(&id)?)
        .await
        .map_err(fhir_err)?;
    Ok(Fhir(service_request(&v.referral)))
}

fn communication_request(c: &ConsultationRecord) -> Value {
    let status = match c.status {
        ConsultationStatus::Requested | ConsultationStatus::Answered => "active",
        ConsultationStatus::Closed => "completed",
        ConsultationStatus::Cancelled => "revoked",
    };
    let mut payload = vec![json!({"contentString": c.question})];
    payload.extend(c.files.iter().map(|f| {
        json!({"contentAttachment": {
            "contentType": f.content_type,
            "url": format!("/api/v1/consultations/{}/files/{}", c.id, f.id),
            "size": f.size_bytes,
            "title": f.filename,
        }})
    }));
    let mut recipients = vec![
        json!({"reference": format!("Organization/{}", c.to_institution_id), "display": c.to_institution_name}),
    ];
    if let Some(s) = c.to_staff_id {
        recipients.push(json!({"reference": format!("Practitioner/{s}")}));
    }
    let mut v = json!({
        "resourceType": "CommunicationRequest",
        "id": c.id.to_string(),
        "status": status,
        "category": [{"text": "远程会诊 remote consultation"}],
        "subject": {"reference": format!("Patient/{}", c.resident_id), "display": c.resident_name},
        "authoredOn": utc(c.created_at_us),
        "requester": {"reference": format!("Practitioner/{}", c.from_staff_id), "display": c.from_staff_name},
        "recipient": recipients,
        "sender": {"reference": format!("Organization/{}", c.from_institution_id)},
        "payload": payload,
    });
    if let Some(at) = c.video_at_us {
        v["occurrenceDateTime"] = utc(at).into();
    }
    v
}

fn communication(c: &ConsultationRecord) -> Option<Value> {
    let opinion = c.opinion.as_ref()?;
    Some(json!({
        "resourceType": "Communication",
        "id": c.id.to_string(),
        "basedOn": [{"reference": format!("CommunicationRequest/{}", c.id)}],
        "status": "completed",
        "category": [{"text": "会诊意见 consultation opinion"}],
        "subject": {"reference": format!("Patient/{}", c.resident_id)},
        "sent": c.answered_at_us.map(utc),
        "sender": c.answered_by_staff_id.map(|s| json!({"reference": format!("Practitioner/{s}")})),
        "recipient": [{"reference": format!("Practitioner/{}", c.from_staff_id)}],
        "payload": [{"contentString": opinion}],
    }))
}

async fn consultations_of(
    state: &AppState,
    ctx: &Ctx,
    params: &Params,
) -> Result<Vec<ConsultationRecord>, ApiError> {
    check(params, &["patient", "subject"])?;
    let patient = patient_of(params)?;
    let page = state
        .app
        .resident_consultations(ctx, patient, None, PAGE_SIZE_DEFAULT)
        .await
        .map_err(fhir_err)?;
    Ok(page.items)
}

async fn communication_requests(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    let list = consultations_of(&state, &ctx, &params).await?;
    let entries = list.iter().map(communication_request).collect();
    Ok(searchset(
        &state,
        "CommunicationRequest",
        &params,
        entries,
        None,
    ))
}

async fn communications(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(params): ApiQuery<Params>,
) -> FhirResult {
    let list = consultations_of(&state, &ctx, &params).await?;
    let entries = list.iter().filter_map(communication).collect();
    Ok(searchset(&state, "Communication", &params, entries, None))
}

#[cfg(test)]
mod tests {
    use time::macros::{date, time};

    #[test]
    fn a_clinic_time_is_an_r4_date_time() {
        for (day, at, want) in [
            (
                date!(2026 - 12 - 03),
                time!(8:00),
                "2026-12-03T08:00:00+08:00",
            ),
            (
                date!(2026 - 12 - 03),
                time!(13:30),
                "2026-12-03T13:30:00+08:00",
            ),
            (
                date!(2027 - 01 - 09),
                time!(7:05:09),
                "2027-01-09T07:05:09+08:00",
            ),
        ] {
            assert_eq!(super::local_date_time(day, at), want);
        }
    }
}
