//! Remote consultation over JSON (DOMAIN.md §3): the request with files (base64 in the
//! JSON body, within the body limit), the consulted side's inbox, the answer, close and
//! cancel, the files, and a resident's consultations with their opinions.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use gongti_app::Ctx;
use gongti_app::consultations::ConsultationAsk;
use gongti_core::consultation::{AttachmentDraft, ConsultationDraft, ConsultationStep};
use gongti_store::{ConsultationRecord, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{BoxParams, PageParams};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, decode_cursor};
use crate::{AppState, PAGE_SIZE_DEFAULT, views};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/residents/{id}/consultations",
            get(of_resident).post(request),
        )
        .route("/consultations", get(list))
        .route("/consultations/{id}", get(read))
        .route("/consultations/{id}/answer", post(answer))
        .route("/consultations/{id}/close", post(close))
        .route("/consultations/{id}/cancel", post(cancel))
        .route("/consultations/{id}/files/{file}", get(file))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn consultation(c: &ConsultationRecord) -> Value {
    json!({
        "id": c.id,
        "status": c.status.code(),
        "resident_id": c.resident_id,
        "resident_name": c.resident_name,
        "from": {"institution_id": c.from_institution_id, "institution_name": c.from_institution_name,
                 "staff_id": c.from_staff_id, "staff_name": c.from_staff_name},
        "to": {"institution_id": c.to_institution_id, "institution_name": c.to_institution_name,
               "department_id": c.to_department_id, "department_name": c.to_department_name,
               "specialist_staff_id": c.to_staff_id},
        "question": c.question,
        "video_at": c.video_at_us.map(views::utc),
        "opinion": c.opinion,
        "answered_by_staff_id": c.answered_by_staff_id,
        "answered_at": c.answered_at_us.map(views::utc),
        "files": c.files.iter().map(|f| json!({
            "id": f.id, "filename": f.filename, "content_type": f.content_type, "size_bytes": f.size_bytes,
            "sha256": hex(&f.sha256), "url": format!("/api/v1/consultations/{}/files/{}", c.id, f.id),
        })).collect::<Vec<_>>(),
        "created_at": views::utc(c.created_at_us),
        "changed_at": views::utc(c.changed_at_us),
    })
}

#[derive(Deserialize)]
struct FileBody {
    filename: String,
    content_type: String,
    data_base64: String,
}

#[derive(Deserialize)]
struct RequestBody {
    department_id: i64,
    specialist_staff_id: Option<i64>,
    #[serde(default)]
    question: String,
    video_at: Option<String>,
    #[serde(default)]
    files: Vec<FileBody>,
}

async fn request(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<RequestBody>,
) -> ApiResult<axum::response::Response> {
    let video_at_us = match body.video_at.as_deref() {
        None | Some("") => None,
        Some(t) => Some(
            OffsetDateTime::parse(t, &Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000) as i64)
                .map_err(|_| {
                    ApiError::bad_request(
                        "bad_time",
                        "video_at 应为 RFC 3339 时间",
                        "video_at must be an RFC 3339 time",
                    )
                })?,
        ),
    };
    let mut attachments = Vec::new();
    for f in body.files {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(f.data_base64.trim())
            .map_err(|_| {
                ApiError::bad_request(
                    "bad_base64",
                    "附件内容应为 base64 编码",
                    "File data must be base64",
                )
            })?;
        attachments.push(AttachmentDraft {
            filename: f.filename,
            content_type: f.content_type,
            bytes,
        });
    }
    let ask = ConsultationAsk {
        resident_id: id,
        department_id: body.department_id,
        specialist_staff_id: body.specialist_staff_id,
        draft: ConsultationDraft {
            question: body.question,
            video_at_us,
            attachments,
        },
    };
    let c = state.app.request_consultation(&ctx, ask).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/api/v1/consultations/{}", c.id))],
        Json(consultation(&c)),
    )
        .into_response())
}

async fn of_resident(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .resident_consultations(&ctx, id, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(consultation).collect(),
        page.next_after,
    )))
}

async fn list(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<BoxParams>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .consultation_box(
            &ctx,
            q.which.as_deref().unwrap_or("inbox"),
            after,
            clamp_page_size(q.limit, PAGE_SIZE_DEFAULT),
        )
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(consultation).collect(),
        page.next_after,
    )))
}

async fn read(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    Ok(Json(consultation(
        &state.app.read_consultation(&ctx, id).await?,
    )))
}

#[derive(Deserialize)]
struct AnswerBody {
    #[serde(default)]
    opinion: String,
}

async fn take(state: &AppState, ctx: &Ctx, id: i64, s: ConsultationStep) -> ApiResult<Json<Value>> {
    Ok(Json(consultation(
        &state.app.consultation_step(ctx, id, s).await?,
    )))
}

async fn answer(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<AnswerBody>,
) -> ApiResult<Json<Value>> {
    take(
        &state,
        &ctx,
        id,
        ConsultationStep::Answer {
            opinion: body.opinion,
        },
    )
    .await
}

async fn close(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    take(&state, &ctx, id, ConsultationStep::Close).await
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    take(&state, &ctx, id, ConsultationStep::Cancel).await
}

async fn file(
    State(state): State<AppState>,
    Path((id, file)): Path<(i64, i64)>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<axum::response::Response> {
    let (info, bytes) = state.app.consultation_file(&ctx, id, file).await?;
    Ok((
        [
            (header::CONTENT_TYPE, info.content_type),
            (header::CONTENT_DISPOSITION, "attachment".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
