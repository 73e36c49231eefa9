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

use super::chronic::{PATIENT_RECORDS_MAX, answer, patient_of};
use super::search::{FhirQuery, Kind, Range, Search, Spec, reference_id, searchset};
use super::{Fhir, FhirResult, base_url, fhir_err, id_param, meta};
use crate::AppState;
use crate::error::ApiError;
use crate::views::utc;

const SLOT_POOL: &str = "urn:gongti:slot-pool";
const SNOMED: &str = "http://snomed.info/sct";
const SLOT_STATUS: &str = "http://hl7.org/fhir/slotstatus";
const APPOINTMENT_STATUS: &str = "http://hl7.org/fhir/appointmentstatus";
const REQUEST_STATUS: &str = "http://hl7.org/fhir/request-status";
const REQUEST_PRIORITY: &str = "http://hl7.org/fhir/request-priority";

pub(super) fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    let mut router = axum::Router::new()
        .route("/Schedule", get(schedules))
        .route("/Schedule/{id}", get(read_schedule))
        .route("/Slot", get(slots))
        .route("/Appointment", get(appointments))
        .route("/ServiceRequest", get(service_requests))
        .route("/ServiceRequest/{id}", get(read_service_request))
        .route("/CommunicationRequest", get(communication_requests))
        .route("/Communication", get(communications))
        .route("/Slot/{id}", get(read_slot));
    for ty in ["Appointment", "CommunicationRequest", "Communication"] {
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

pub(super) fn schedule(s: &ScheduleRecord) -> Value {
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
        "meta": meta(s.version),
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

pub(super) fn slot(v: &SlotView) -> Value {
    let status = match v.slot.status.as_str() {
        "free" => "free",
        "booked" => "busy",
        _ => "entered-in-error",
    };
    let pool = v.slot.pool;
    json!({
        "resourceType": "Slot",
        "id": v.slot.id.to_string(),
        "meta": meta(v.slot.version),
        "schedule": {"reference": format!("Schedule/{}", v.slot.schedule_id)},
        "serviceCategory": [{"coding": [{"system": SLOT_POOL, "code": pool.code(),
            "display": if pool == Pool::Reserved { "Reserved for grassroots family doctors" } else { "Public" }}]}],
        "status": status,
        "start": utc(v.slot.starts_at_us),
        "end": utc(v.slot.ends_at_us),
        "comment": if v.open_to_public { "open to the public" } else { "family doctors only (reserved pool)" },
    })
}

pub(super) fn appointment(b: &BookingRecord) -> Value {
    let status = match b.status {
        BookingStatus::Booked => "booked",
        BookingStatus::CheckedIn => "arrived",
        BookingStatus::Cancelled => "cancelled",
        BookingStatus::NoShow => "noshow",
    };
    json!({
        "resourceType": "Appointment",
        "id": b.id.to_string(),
        "meta": meta(b.version),
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

pub(super) fn service_request(r: &ReferralRecord) -> Value {
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
        "meta": meta(r.version),
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
        "meta": meta(r.version),
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

pub(super) const SCHEDULE: Spec = Spec {
    params: &[
        ("actor", Kind::Reference),
        ("date", Kind::Date),
        ("active", Kind::Token),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

fn horizon(s: &ScheduleRecord) -> Range {
    let (start, end) = s.session.default_hours();
    let at = |t: time::Time| {
        let local =
            time::PrimitiveDateTime::new(s.day, t).assume_offset(gongti_app::DISPLAY_OFFSET);
        (local.unix_timestamp_nanos() / 1000) as i64
    };
    Range {
        start_us: at(start),
        end_us: at(end),
    }
}

/// Published clinics by day (`date` on the planning horizon, any prefix), by
/// `actor=HealthcareService/{department}` or `Organization/{id}` (every clinic of an
/// institution, its departments' providedBy), paged by keyset and counted.
async fn schedules(State(state): State<AppState>, q: FhirQuery) -> FhirResult {
    let s = q.search(&SCHEDULE)?;
    let base = base_url(&state);
    let (mut institution, mut department) = (None, None);
    for ors in s.all("actor") {
        let [one] = ors.as_slice() else {
            return Err(
                ApiError::bad_request("one_actor", "actor 只能指定一个", "Give one actor").fhir(),
            );
        };
        if let Some(id) = reference_id(one, "Organization", &base) {
            institution = Some(id);
        } else if let Some(id) = reference_id(one, "HealthcareService", &base) {
            department = Some(id);
        } else {
            return Ok(Fhir(searchset(
                &base,
                "Schedule",
                &s,
                s.page_of(Vec::new()),
                Vec::new(),
            )));
        }
    }
    let now = super::chronic::now_us(&state);
    // Only published schedules are listed: all of them active.
    if !s.tokens_match("active", &[("", "true")]) {
        return Ok(Fhir(searchset(
            &base,
            "Schedule",
            &s,
            s.page_of(Vec::new()),
            Vec::new(),
        )));
    }
    let (from_day, to_day) = s.day_bounds("date", now)?;
    // Days every engine stores.
    let floor =
        time::Date::from_calendar_date(1900, time::Month::January, 1).unwrap_or(time::Date::MIN);
    let ceiling =
        time::Date::from_calendar_date(9999, time::Month::December, 31).unwrap_or(time::Date::MAX);
    let (from_day, to_day) = (
        from_day.unwrap_or(floor).max(floor),
        to_day.unwrap_or(ceiling).min(ceiling),
    );
    let filter = ScheduleFilter {
        institution_id: institution,
        department_id: department,
        from_day,
        to_day,
    };
    let total = if super::wants_total(&s) {
        Some(state.app.schedule_count(&filter).await.map_err(fhir_err)?)
    } else {
        None
    };
    let found = state
        .app
        .schedule_search(filter, s.after, s.count as u32)
        .await
        .map_err(fhir_err)?;
    // The store bounds the days; the exact test runs on each clinic's hours, which drops
    // a schedule only for a value finer than a day.
    let entries = found
        .items
        .iter()
        .filter(|r| s.dates_match("date", horizon(r), now))
        .map(schedule)
        .collect();
    let page = super::keyset_page(&s, entries, found.next_after, total);
    Ok(Fhir(searchset(&base, "Schedule", &s, page, Vec::new())))
}

async fn read_schedule(State(state): State<AppState>, Path(id): Path<String>) -> FhirResult {
    let s = state.app.schedule(id_param(&id)?).await.map_err(fhir_err)?;
    Ok(Fhir(schedule(&s)))
}

pub(super) const SLOT: Spec = Spec {
    params: &[
        ("schedule", Kind::Reference),
        ("status", Kind::Token),
        ("start", Kind::Date),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

async fn slots(State(state): State<AppState>, q: FhirQuery) -> FhirResult {
    let s = q.search(&SLOT)?;
    let base = base_url(&state);
    let missing = ApiError::bad_request(
        "schedule_required",
        "请指定 schedule 参数",
        "Search slots by schedule",
    )
    .fhir();
    let id = s.one_referenced(&["schedule"], "Schedule", &base, missing)?;
    let now = super::chronic::now_us(&state);
    let found = match id {
        None => Vec::new(),
        Some(id) => state
            .app
            .schedule_slots(id)
            .await
            .map_err(fhir_err)?
            .iter()
            .map(|v| {
                (
                    Range {
                        start_us: v.slot.starts_at_us,
                        end_us: v.slot.ends_at_us,
                    },
                    slot(v),
                )
            })
            .filter(|(when, v)| {
                s.tokens_match(
                    "status",
                    &[(SLOT_STATUS, v["status"].as_str().unwrap_or(""))],
                ) && s.dates_match("start", Range::instant(when.start_us), now)
            })
            .collect(),
    };
    Ok(answer(&state, "Slot", &s, found))
}

pub(super) const APPOINTMENT: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("actor", Kind::Reference),
        ("status", Kind::Token),
        ("date", Kind::Date),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &["date"],
    includes: &["Appointment:slot"],
    revincludes: &[],
};

async fn appointments(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&APPOINTMENT)?;
    let base = base_url(&state);
    let Some(patient) = patient_of(&s, &base)? else {
        return Ok(answer(&state, "Appointment", &s, Vec::new()));
    };
    let now = super::chronic::now_us(&state);
    let bookings = state
        .app
        .resident_bookings(&ctx, patient, None, PATIENT_RECORDS_MAX)
        .await
        .map_err(fhir_err)?
        .items;
    let mut found: Vec<(Range, Value, i64)> = bookings
        .iter()
        .map(|b| {
            (
                Range {
                    start_us: b.starts_at_us,
                    end_us: b.ends_at_us,
                },
                appointment(b),
                b.schedule_id,
            )
        })
        .filter(|(when, v, _)| {
            s.tokens_match(
                "status",
                &[(APPOINTMENT_STATUS, v["status"].as_str().unwrap_or(""))],
            ) && s.dates_match("date", *when, now)
        })
        .collect();
    found.retain(|(_, v, _)| s.last_updated_matches(v));
    s.sort_by_time(&mut found, |(r, _, _)| r.start_us);
    // `_include=Appointment:slot`: the slots of the page's appointments.
    let mut included = Vec::new();
    if !s.includes.is_empty() {
        let shown = &found[s.window(found.len())];
        let mut schedules: Vec<i64> = shown.iter().map(|(_, _, sid)| *sid).collect();
        schedules.dedup();
        let wanted: Vec<String> = shown
            .iter()
            .filter_map(|(_, v, _)| v["slot"][0]["reference"].as_str().map(str::to_owned))
            .collect();
        for sid in schedules {
            for v in state.app.schedule_slots(sid).await.map_err(fhir_err)? {
                let one = slot(&v);
                if wanted.contains(&format!("Slot/{}", v.slot.id))
                    && !included.iter().any(|i: &Value| i["id"] == one["id"])
                {
                    included.push(one);
                }
            }
        }
    }
    let page = s.page_of(found.into_iter().map(|(_, v, _)| v).collect());
    Ok(Fhir(searchset(&base, "Appointment", &s, page, included)))
}

pub(super) const SERVICE_REQUEST: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("performer", Kind::Reference),
        ("requester", Kind::Reference),
        ("status", Kind::Token),
        ("priority", Kind::Token),
        ("authored", Kind::Date),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &["authored"],
    includes: &["ServiceRequest:patient", "ServiceRequest:subject"],
    revincludes: &[],
};

/// A patient's referrals (`patient`), or a receiving hospital's incoming ones
/// (`performer=Organization/{own}`: those under way, as its inbox shows them).
async fn service_requests(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&SERVICE_REQUEST)?;
    let base = base_url(&state);
    let (referrals, orders) = if s.has("patient") || s.has("subject") || !s.has("performer") {
        match patient_of(&s, &base)? {
            None => (Vec::new(), Vec::new()),
            Some(p) => (
                state
                    .app
                    .resident_referrals(&ctx, p, None, PATIENT_RECORDS_MAX)
                    .await
                    .map_err(fhir_err)?
                    .items,
                super::exam::patient_orders(&state, &ctx, p).await?,
            ),
        }
    } else {
        // a receiving hospital's inbox: its referrals, and its cloud centres' open
        // orders (the newest page) for those who work them
        use gongti_core::role::Role;
        let works_centres = matches!(
            ctx.principal.role,
            Role::ExamReader | Role::InstitutionAdmin
        );
        let orders = if works_centres {
            state
                .app
                .exam_worklist(&ctx, gongti_app::exam::orders::Worklist::CentreOpen, None)
                .await
                .map_err(fhir_err)?
                .into_iter()
                .map(|o| o.order)
                .collect()
        } else {
            Vec::new()
        };
        (
            state
                .app
                .referral_box(&ctx, "inbox", None, PATIENT_RECORDS_MAX)
                .await
                .map_err(fhir_err)?
                .items,
            orders,
        )
    };
    let now = super::chronic::now_us(&state);
    // (when, resource, patient, performing organisation, requesting practitioner)
    let rows = referrals
        .iter()
        .map(|r| {
            (
                r.created_at_us,
                service_request(r),
                r.resident_id,
                r.to_institution_id,
                r.from_staff_id,
            )
        })
        .chain(orders.iter().map(|o| {
            (
                o.created_at_us,
                super::exam::service_request(o),
                o.resident_id,
                o.centre_institution_id,
                o.ordered_by_staff_id,
            )
        }));
    let mut found: Vec<(Range, Value, i64)> = rows
        .filter(|(_, _, _, performer, requester)| {
            s.references_match("performer", "Organization", &base, *performer)
                && s.references_match("requester", "Practitioner", &base, *requester)
        })
        .map(|(at, v, patient, _, _)| (Range::instant(at), v, patient))
        .filter(|(when, v, _)| {
            s.tokens_match(
                "status",
                &[(REQUEST_STATUS, v["status"].as_str().unwrap_or(""))],
            ) && s.tokens_match(
                "priority",
                &[(REQUEST_PRIORITY, v["priority"].as_str().unwrap_or(""))],
            ) && s.dates_match("authored", *when, now)
        })
        .collect();
    found.retain(|(_, v, _)| s.last_updated_matches(v));
    s.sort_by_time(&mut found, |(r, _, _)| r.start_us);
    // `_include=ServiceRequest:patient`: the page's patients, as the caller may see them.
    let mut included = Vec::new();
    if !s.includes.is_empty() {
        let mut patients: Vec<i64> = found[s.window(found.len())]
            .iter()
            .map(|(_, _, p)| *p)
            .collect();
        patients.sort_unstable();
        patients.dedup();
        for p in patients {
            if let Ok(view) = state.app.read_resident(&ctx, p, None).await {
                included.push(super::patient(
                    &view.record,
                    gongti_core::access::may_see_identifiers(view.basis),
                ));
            }
        }
    }
    let page = s.page_of(found.into_iter().map(|(_, v, _)| v).collect());
    Ok(Fhir(searchset(&base, "ServiceRequest", &s, page, included)))
}

async fn read_service_request(
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> FhirResult {
    if let Some(order) = super::exam::read_order(&state, &ctx, &id).await? {
        return Ok(Fhir(super::exam::service_request(&order)));
    }
    let v = state
        .app
        .read_referral(&ctx, id_param(&id)?)
        .await
        .map_err(fhir_err)?;
    Ok(Fhir(service_request(&v.referral)))
}

pub(super) fn communication_request(c: &ConsultationRecord) -> Value {
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
        "meta": meta(c.version),
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

pub(super) fn communication(c: &ConsultationRecord) -> Option<Value> {
    let opinion = c.opinion.as_ref()?;
    Some(json!({
        "resourceType": "Communication",
        "id": c.id.to_string(),
        "meta": meta(c.version),
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

pub(super) const CONSULTATION: Spec = Spec {
    params: &[
        ("patient", Kind::Reference),
        ("subject", Kind::Reference),
        ("_lastUpdated", Kind::Date),
    ],
    sorts: &[],
    includes: &[],
    revincludes: &[],
};

async fn consultations_of(
    state: &AppState,
    ctx: &Ctx,
    s: &Search,
) -> Result<Vec<ConsultationRecord>, ApiError> {
    let Some(patient) = patient_of(s, &base_url(state))? else {
        return Ok(Vec::new());
    };
    let page = state
        .app
        .resident_consultations(ctx, patient, None, PATIENT_RECORDS_MAX)
        .await
        .map_err(fhir_err)?;
    Ok(page.items)
}

async fn communication_requests(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&CONSULTATION)?;
    let list = consultations_of(&state, &ctx, &s).await?;
    let found = list
        .iter()
        .map(|c| (Range::instant(c.created_at_us), communication_request(c)))
        .collect();
    Ok(answer(&state, "CommunicationRequest", &s, found))
}

async fn communications(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    q: FhirQuery,
) -> FhirResult {
    let s = q.search(&CONSULTATION)?;
    let list = consultations_of(&state, &ctx, &s).await?;
    let found = list
        .iter()
        .filter_map(|c| communication(c).map(|v| (Range::instant(c.created_at_us), v)))
        .collect();
    Ok(answer(&state, "Communication", &s, found))
}

/// Everything of cloud management a patient has (their bookings, referrals and
/// consultations), for `Patient/{id}/$everything`: read through the same lists, with
/// the same access decisions and audit, as the searches.
pub(super) async fn patient_records(
    state: &AppState,
    ctx: &Ctx,
    patient: i64,
) -> Result<Vec<Value>, ApiError> {
    let mut out: Vec<Value> = state
        .app
        .resident_bookings(ctx, patient, None, PATIENT_RECORDS_MAX)
        .await
        .map_err(fhir_err)?
        .items
        .iter()
        .map(appointment)
        .collect();
    out.extend(
        state
            .app
            .resident_referrals(ctx, patient, None, PATIENT_RECORDS_MAX)
            .await
            .map_err(fhir_err)?
            .items
            .iter()
            .map(service_request),
    );
    out.extend(
        super::exam::patient_orders(state, ctx, patient)
            .await?
            .iter()
            .map(super::exam::service_request),
    );
    let exams = super::exam::patient_exam_records(state, ctx, patient).await?;
    out.extend(exams.reports);
    out.extend(exams.studies);
    out.extend(exams.specimens);
    for c in state
        .app
        .resident_consultations(ctx, patient, None, PATIENT_RECORDS_MAX)
        .await
        .map_err(fhir_err)?
        .items
    {
        out.push(communication_request(&c));
        out.extend(communication(&c));
    }
    Ok(out)
}

async fn read_slot(State(state): State<AppState>, Path(id): Path<String>) -> FhirResult {
    let v = state.app.slot(id_param(&id)?).await.map_err(fhir_err)?;
    Ok(Fhir(slot(&v)))
}

/// `{ty}/{id}` of a patient's booking or consultation: its patient looked up, then the
/// record read as that patient's list shows it (the same access decision and audit).
async fn read_scoped(ty: &'static str, state: AppState, ctx: Ctx, id: String) -> FhirResult {
    use gongti_store::{PatientTable, RecordTable};
    let not_found = || ApiError::not_found().fhir();
    let key = id_param(&id)?;
    let table = if ty == "Appointment" {
        RecordTable::Bookings
    } else {
        RecordTable::Consultations
    };
    let patient = state
        .app
        .record_owner(PatientTable::Record(table), key)
        .await
        .map_err(fhir_err)?;
    let found = if ty == "Appointment" {
        state
            .app
            .resident_bookings(&ctx, patient, None, PATIENT_RECORDS_MAX)
            .await
            .map_err(fhir_err)?
            .items
            .iter()
            .find(|b| b.id == key)
            .map(appointment)
    } else {
        state
            .app
            .resident_consultations(&ctx, patient, None, PATIENT_RECORDS_MAX)
            .await
            .map_err(fhir_err)?
            .items
            .iter()
            .find(|c| c.id == key)
            .and_then(|c| {
                if ty == "Communication" {
                    communication(c)
                } else {
                    Some(communication_request(c))
                }
            })
    };
    found.map(Fhir).ok_or_else(not_found)
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
