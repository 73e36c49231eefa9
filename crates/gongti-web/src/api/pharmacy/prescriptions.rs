//! Issued prescriptions over JSON: issue (`POST /prescriptions`, signed with the
//! doctor's password), read with every version and step, the pharmacists' queue, the
//! prescriber's own list, and the review's steps (`POST /prescriptions/{id}/steps`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gongti_app::Ctx;
use gongti_app::pharmacy::{IssueRequest, NotIssued, PrescriptionView, StepRequest, findings_json};
use gongti_core::pharmacy::check::Judgement;
use gongti_core::pharmacy::prescription::{RxStatus, Step};
use gongti_store::{PrescriptionRecord, QueueKey, clamp_page_size};
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
}

#[derive(Deserialize)]
struct IssueBody {
    #[serde(flatten)]
    draft: CheckBody,
    #[serde(default)]
    password: String,
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
    out
}
