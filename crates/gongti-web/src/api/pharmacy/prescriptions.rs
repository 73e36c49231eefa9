//! Issued prescriptions over JSON: issue (`POST /prescriptions`, signed with the
//! doctor's password), read with every version and step, the pharmacists' queue, the
//! prescriber's own list, and the review's steps (`POST /prescriptions/{id}/steps`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::pharmacy::{
    Handover, IssueRequest, NotIssued, PrescriptionView, StepRequest, findings_json,
};
use gongti_core::pharmacy::check::Judgement;
use gongti_core::pharmacy::dispense::{DeliveryStep, FillStatus, Fulfilment};
use gongti_core::pharmacy::prescription::{RxStatus, Step};
use gongti_store::{FillRecord, PrescriptionRecord, QueueKey, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CheckBody, invalid, request};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/prescriptions", post(issue).get(mine))
        .route("/prescriptions/review-queue", get(queue))
        .route("/prescriptions/{id}", get(read))
        .route("/prescriptions/{id}/steps", post(step))
        .route("/prescriptions/{id}/route", post(route))
        .route("/prescriptions/{id}/dispense", post(dispense))
        .route("/prescriptions/{id}/delivery", post(delivery))
        .route("/pharmacy/board", get(board))
        .route("/pharmacy/stock", get(stock))
        .route("/pharmacy/stock/{product}", axum::routing::put(set_stock))
}

#[derive(Deserialize)]
struct RouteBody {
    pharmacy_id: i64,
    fulfilment: String,
    delivery_address: Option<String>,
}

fn fulfilment_of(code: &str) -> Result<Fulfilment, ApiError> {
    Fulfilment::parse(code.trim()).ok_or_else(|| {
        ApiError::unprocessable(
            "bad_fulfilment",
            "fulfilment 应为 pickup（到店自取）或 delivery（配送到家）",
            "fulfilment must be pickup or delivery",
        )
    })
}

async fn route(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<RouteBody>,
) -> ApiResult<Json<Value>> {
    let fulfilment = fulfilment_of(&body.fulfilment)?;
    state
        .app
        .route_prescription(
            &ctx,
            id,
            body.pharmacy_id,
            fulfilment,
            body.delivery_address.as_deref(),
        )
        .await?;
    Ok(Json(prescription_view(
        &state.app.prescription(&ctx, id).await?,
    )))
}

#[derive(Deserialize)]
struct DispenseBody {
    fulfilment: String,
    collector_name: Option<String>,
    collector_id_number: Option<String>,
    #[serde(default)]
    by_agent: bool,
}

async fn dispense(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<DispenseBody>,
) -> ApiResult<Json<Value>> {
    let handover = match fulfilment_of(&body.fulfilment)? {
        Fulfilment::Delivery => Handover::Delivery,
        Fulfilment::Pickup => Handover::Pickup {
            collector_name: body.collector_name.unwrap_or_default(),
            collector_id_number: body.collector_id_number.unwrap_or_default(),
            by_agent: body.by_agent,
        },
    };
    let fill = state.app.dispense(&ctx, id, handover).await?;
    Ok(Json(fill_view(&fill)))
}

#[derive(Deserialize)]
struct DeliveryBody {
    step: String,
    recipient_code: Option<String>,
    note: Option<String>,
}

async fn delivery(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<DeliveryBody>,
) -> ApiResult<Json<Value>> {
    let Some(step) = DeliveryStep::parse(body.step.trim()) else {
        return Err(ApiError::unprocessable(
            "bad_step",
            "step 应为 dispatch、in_transit、deliver、fail 或 return",
            "step must be dispatch, in_transit, deliver, fail or return",
        ));
    };
    let fill = state
        .app
        .delivery_step(
            &ctx,
            id,
            step,
            body.recipient_code.as_deref(),
            body.note.as_deref(),
        )
        .await?;
    Ok(Json(fill_view(&fill)))
}

async fn board(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<super::super::PageParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .pharmacy_board(&ctx, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    Ok(Json(views::page(
        page.items
            .iter()
            .map(|b| {
                json!({
                    "prescription_id": b.prescription_id,
                    "resident_name": b.resident_name,
                    "fulfilment": b.fulfilment,
                    "status": b.status,
                    "delivery_address": b.delivery_address,
                    "changed_at": views::utc(b.changed_at_us),
                })
            })
            .collect(),
        page.next_after,
    )))
}

async fn stock(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    let stock = state.app.pharmacy_stock(&ctx).await?;
    let kb = state.app.knowledge();
    Ok(Json(json!({
        "items": stock.iter().map(|s| {
            let p = kb.product(&s.product_code);
            json!({
                "product_code": s.product_code,
                "name": p.map(|p| p.name_zh.clone()),
                "pack": p.map(|p| format!("{}{} × {}/{}", gongti_core::pharmacy::knowledge::amount_text(p.strength), p.unit.symbol(), p.pack_size, p.pack_unit)),
                "on_hand_packs": s.on_hand_packs,
                "updated_at": views::utc(s.updated_at_us),
            })
        }).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct StockBody {
    on_hand_packs: i64,
}

async fn set_stock(
    State(state): State<AppState>,
    Path(product): Path<String>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<StockBody>,
) -> ApiResult<axum::http::StatusCode> {
    state
        .app
        .set_stock(&ctx, &product, body.on_hand_packs)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A fill: the pharmacy, the handover (the collector's ID number masked), the products
/// and packs, the delivery's events. The recipient's code is never shown here.
pub(crate) fn fill_view(f: &FillRecord) -> Value {
    json!({
        "prescription_id": f.prescription_id,
        "pharmacy": {"id": f.pharmacy_id, "name": f.pharmacy_name},
        "fulfilment": f.fulfilment,
        "status": f.status,
        "status_name": FillStatus::parse(&f.status).map(FillStatus::name_zh),
        "dispensed_by": {"id": f.staff_id, "name": f.staff_name},
        "collector": f.collector_name.as_ref().map(|name| json!({
            "name": name,
            "id_number": f.collector_id_number.as_deref().map(views::masked_id_text),
            "by_agent": f.by_agent,
        })),
        "delivery_address": f.delivery_address,
        "amount_fen": f.amount_fen,
        "lines": f.lines.iter().map(|l| json!({
            "line": l.line_no, "product_code": l.product_code, "packs": l.packs, "amount_fen": l.amount_fen,
        })).collect::<Vec<_>>(),
        "events": f.events.iter().map(|e| json!({
            "status": e.status, "by": e.staff_name, "note": e.note, "at": views::utc(e.at_us),
        })).collect::<Vec<_>>(),
        "dispensed_at": views::utc(f.dispensed_at_us),
    })
}

#[derive(Deserialize)]
struct IssueBody {
    #[serde(flatten)]
    draft: CheckBody,
    #[serde(default)]
    password: String,
    /// The online visit (互联网复诊) the prescription is written in.
    #[serde(default)]
    online_visit_id: Option<i64>,
}

/// The answer to a draft that could not be issued: 422 with the problems, or with
/// the blocking findings.
fn not_issued(not: NotIssued) -> Response {
    match not {
        NotIssued::Draft(p) => invalid(p.fields, p.lines).into_response(),
        NotIssued::Blocked(j) => blocked(&j),
    }
}

fn blocked(j: &Judgement) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({
            "code": "prescription_blocked",
            "message": "处方有法规或书写问题，不能开具；请按提示修改",
            "message_en": "The prescription breaks a legal or format rule and cannot be issued; see the findings",
            "verdict": j.verdict.code(),
            "ruleset_version": j.ruleset_version,
            "findings": findings_json(&j.findings),
        })),
    )
        .into_response()
}

async fn issue(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<IssueBody>,
) -> ApiResult<Response> {
    let draft = request(body.draft)?;
    let issued = state
        .app
        .issue_prescription(
            &ctx,
            IssueRequest {
                draft,
                password: body.password,
                online_visit_id: body.online_visit_id,
            },
        )
        .await?;
    let (id, _) = match issued {
        Ok(issued) => issued,
        Err(not) => return Ok(not_issued(not)),
    };
    let view = state.app.prescription(&ctx, id).await?;
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/v1/prescriptions/{id}"),
        )],
        Json(prescription_view(&view)),
    )
        .into_response())
}

async fn read(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    Ok(Json(prescription_view(
        &state.app.prescription(&ctx, id).await?,
    )))
}

#[derive(Deserialize)]
struct StepBody {
    step: String,
    reason: Option<String>,
    password: Option<String>,
    version: Option<i64>,
    revision: Option<CheckBody>,
}

async fn step(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<StepBody>,
) -> ApiResult<Response> {
    let Some(step) = Step::parse(body.step.trim()) else {
        return Err(ApiError::unprocessable(
            "bad_step",
            "step 应为 pass、return、refuse、confirm、revise 或 cancel",
            "step must be pass, return, refuse, confirm, revise or cancel",
        ));
    };
    let revision = body.revision.map(request).transpose()?;
    let taken = state
        .app
        .prescription_step(
            &ctx,
            id,
            StepRequest {
                step,
                reason: body.reason,
                password: body.password,
                revision,
                version: body.version,
            },
        )
        .await?;
    if let Err(not) = taken {
        return Ok(not_issued(not));
    }
    let view = state.app.prescription(&ctx, id).await?;
    Ok(Json(prescription_view(&view)).into_response())
}

#[derive(Deserialize)]
struct MineParams {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn mine(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<MineParams>,
) -> ApiResult<Json<Value>> {
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(RxStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "bad_status",
                "status 不是可用的处方状态",
                "status is not a prescription status",
            )
        })?),
    };
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .my_prescriptions(
            &ctx,
            status,
            after,
            clamp_page_size(q.limit, PAGE_SIZE_DEFAULT),
        )
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(summary).collect(),
        page.next_after,
    )))
}

/// A position in the queue as a cursor: `q` and the rank, waiting time and id in hex.
pub(crate) fn encode_queue_cursor((rank, since, id): QueueKey) -> String {
    format!("q{rank:x}-{since:x}-{id:x}")
}

pub(crate) fn decode_queue_cursor(cursor: Option<&str>) -> Result<Option<QueueKey>, ApiError> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let parse = |hex: &str| {
        (!hex.is_empty() && hex.len() <= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| i64::from_str_radix(hex, 16).ok())
            .flatten()
    };
    let parts: Vec<&str> = c.strip_prefix('q').unwrap_or("").split('-').collect();
    match parts[..] {
        [rank, since, id] => match (parse(rank), parse(since), parse(id)) {
            (Some(r), Some(s), Some(i)) => Ok(Some((r, s, i))),
            _ => Err(bad_cursor()),
        },
        _ => Err(bad_cursor()),
    }
}

fn bad_cursor() -> ApiError {
    ApiError::bad_request(
        "bad_cursor",
        "cursor 无效：请使用上一页返回的 next_cursor",
        "cursor is not valid: pass the next_cursor of the previous page",
    )
}

async fn queue(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<super::super::PageParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_queue_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .review_queue(&ctx, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    Ok(Json(json!({
        "waiting": page.waiting,
        "items": page.items.iter().map(summary).collect::<Vec<_>>(),
        "next_cursor": page.next.map(encode_queue_cursor),
    })))
}

const SEVERITY_BY_RANK: [&str; 4] = ["high", "moderate", "low", "none"];

/// A prescription in a list.
pub(crate) fn summary(p: &PrescriptionRecord) -> Value {
    let status = RxStatus::parse(&p.status);
    json!({
        "id": p.id,
        "status": p.status,
        "status_name": status.map(RxStatus::name_zh),
        "version": p.version,
        "channel": p.channel,
        "resident": {"id": p.resident_id, "name": p.resident_name},
        "institution": {"id": p.institution_id, "name": p.institution_name},
        "prescriber": {"id": p.prescriber_staff_id, "name": p.prescriber_name},
        "most_severe": SEVERITY_BY_RANK.get(usize::try_from(p.queue_rank).unwrap_or(3)).copied(),
        "confirmed_by_prescriber": p.confirmed,
        "issued_at": views::utc(p.issued_at_us),
        "waiting_since": views::utc(p.waiting_since_us),
    })
}

/// A prescription with its content, versions (each with its findings and whether its
/// signature checks out) and steps.
pub(crate) fn prescription_view(v: &PrescriptionView) -> Value {
    let c = &v.content;
    let mut out = summary(&v.record);
    out["content"] = json!({
        "kind": c.kind.code(),
        "validity_days": c.validity_days,
        "long_prescription": c.long.map(|l| json!({
            "first": l.first,
            "assessment_recorded": l.assessment_recorded,
            "patient_confirmed": l.patient_confirmed,
        })),
        "diagnoses": c.diagnoses,
        "patient": {"name": c.patient_name, "sex": c.sex, "birth_date": c.birth_date.to_string()},
        "lines": c.lines.iter().map(|l| json!({
            "generic_name": l.generic_name,
            "dose": l.dose,
            "dose_unit": l.dose_unit,
            "times_per_day": l.times_per_day,
            "route": l.route.code(),
            "days": l.days,
        })).collect::<Vec<_>>(),
    });
    out["versions"] = v
        .versions
        .iter()
        .zip(&v.versions_verified)
        .map(|(ver, ok)| {
            json!({
                "version": ver.version,
                "digest": ver.digest,
                "signer_key": ver.signer_key,
                "signature_valid": ok,
                "verdict": ver.verdict,
                "ruleset_version": ver.ruleset_version,
                "findings": serde_json::from_str::<Value>(&ver.findings).unwrap_or(Value::Null),
                "at": views::utc(ver.at_us),
            })
        })
        .collect();
    out["steps"] = v
        .steps
        .iter()
        .zip(&v.steps_verified)
        .map(|(s, ok)| {
            json!({
                "step": s.step,
                "status": s.status,
                "version": s.version,
                "by": {"id": s.staff_id, "name": s.staff_name},
                "reason": s.reason,
                "signed": s.signature.is_some(),
                "signature_valid": ok,
                "at": views::utc(s.at_us),
            })
        })
        .collect();
    out["allowed_steps"] = v.may.iter().map(|s| s.code()).collect();
    out["route"] = json!({
        "pharmacy_id": v.route.0,
        "fulfilment": v.route.1,
        "delivery_address": v.route.2,
    });
    out["fill"] = v.fill.as_ref().map_or(Value::Null, fill_view);
    out
}
