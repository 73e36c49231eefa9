//! `POST /residents/import`: a community's register brought in from its own list —
//! the body is the file itself, CSV (UTF-8 or GBK) or XLSX (`gongti_app::roster`);
//! `POST /institutions/{id}/staff/import` the same for an institution's staff list.
//! `dry_run=true` checks every row and saves nothing. Every problem comes back at once
//! with its line and column; the load registers every row or none.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gongti_app::Ctx;
use gongti_app::roster::{FILE_BYTES_MAX, RosterError};
use gongti_core::roster::SheetProblem;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::ApiQuery;

pub(super) fn routes() -> Router<AppState> {
    let limit = || axum::extract::DefaultBodyLimit::max(FILE_BYTES_MAX);
    Router::new()
        .route(
            "/residents/import",
            axum::routing::post(import).layer(limit()),
        )
        .route(
            "/institutions/import",
            axum::routing::post(import_institutions).layer(limit()),
        )
        .route(
            "/institutions/{id}/staff/import",
            axum::routing::post(import_staff).layer(limit()),
        )
        .route("/jobs/{job}", axum::routing::get(job))
}

/// `GET /jobs/{job}`: how far the caller's own list has come (stage, rows done of
/// all); 404 for a key not known, another user's or long finished.
async fn job(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(key): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let report = state
        .app
        .job_progress(&ctx, &key)
        .ok_or_else(|| ApiError::of(&gongti_app::AppError::NotFound))?;
    Ok(Json(job_json(&report)))
}

/// The caller's job key, when it is one (8 to 64 letters, digits, `-`, `_`).
pub(crate) fn job_key(q: &ImportParams) -> Result<Option<&str>, ApiError> {
    match q.job.as_deref() {
        Some(key) if !gongti_app::progress::valid_key(key) => {
            Err(ApiError::of(&gongti_app::AppError::Invalid(vec![
                gongti_core::problem::FieldProblem::new(
                    "job",
                    gongti_core::problem::Problem::Malformed,
                ),
            ])))
        }
        key => Ok(key),
    }
}

/// A job's progress as the API and the console's page give it.
pub(crate) fn job_json(r: &gongti_app::progress::Report) -> Value {
    json!({
        "stage": r.stage.code(),
        "done": r.done,
        "total": r.total,
        "started_at": crate::views::utc(r.started_at_us),
        "updated_at": crate::views::utc(r.updated_at_us),
    })
}

#[derive(Deserialize)]
pub(crate) struct ImportParams {
    #[serde(default)]
    pub(crate) dry_run: bool,
    /// A key of the caller's choosing: how far the list has come is then at
    /// `GET /jobs/{job}` while it is read, checked and saved.
    pub(crate) job: Option<String>,
}

/// A problem of the list as the API and the console's page word it.
pub(crate) fn problem_json(p: &SheetProblem) -> Value {
    let ((place_zh, place_en), (zh, en)) = crate::wording::sheet_problem(p);
    json!({
        "line": p.line,
        "column": p.column,
        "code": p.problem.code(),
        "place": place_zh,
        "place_en": place_en,
        "message": zh,
        "message_en": en,
    })
}

async fn import(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<ImportParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let job = job_key(&q)?;
    let result = state
        .app
        .import_residents(&ctx, &body, q.dry_run, job)
        .await;
    Ok(answer(
        result,
        q.dry_run,
        ("registered", "would_register", "already_registered"),
    ))
}

/// `POST /institutions/import`: a city's institutions.
async fn import_institutions(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiQuery(q): ApiQuery<ImportParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let job = job_key(&q)?;
    let result = state
        .app
        .import_institutions(&ctx, &body, q.dry_run, job)
        .await;
    Ok(answer(
        result,
        q.dry_run,
        ("added", "would_add", "already_registered"),
    ))
}

/// `POST /institutions/{id}/staff/import`: an institution's staff list.
async fn import_staff(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<ImportParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let job = job_key(&q)?;
    let result = state
        .app
        .import_staff(&ctx, id, &body, q.dry_run, job)
        .await;
    Ok(answer(
        result,
        q.dry_run,
        ("added", "would_add", "already_on_staff"),
    ))
}

/// The answer to a list: what it came to (the names of the added, the to-be-added
/// and the left-as-stored counts), or every problem with its line and column.
pub(crate) fn answer(
    result: Result<gongti_app::roster::RosterSummary, RosterError>,
    dry_run: bool,
    (added, would, already): (&str, &str, &str),
) -> Response {
    match result {
        Ok(s) => Json(json!({
            "dry_run": dry_run,
            "rows": s.rows,
            added: s.registered,
            would: s.would_register,
            already: s.already_registered,
            "ignored_columns": s.ignored_columns,
        }))
        .into_response(),
        Err(RosterError::Problems(found)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "code": "invalid_list",
                "message": "名单有误，已列出每一处问题（行、列、原因），未保存任何数据",
                "message_en": "The list has problems, each listed with its line and column; nothing was saved",
                "problems": found.iter().map(problem_json).collect::<Vec<_>>(),
            })),
        )
            .into_response(),
        Err(RosterError::App(e)) => ApiError::from(e).into_response(),
    }
}
