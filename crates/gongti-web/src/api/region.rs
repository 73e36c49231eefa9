//! Region administration over the JSON API (administrators only, every change
//! audited by the use cases): institutions with their health-community tie, their
//! departments and family-doctor teams, staff, and staff members' sign-ins (open,
//! reset the password, disable). The console's
//! `console::region` does the same through forms.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use gongti_app::Ctx;
use gongti_app::accounts::AccountChange;
use gongti_core::problem::Problem;
use gongti_core::region::InstitutionKind;
use gongti_core::role::Role;
use gongti_store::{NewInstitution, NewStaff, NewTeam};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::extract::ApiJson;
use crate::{AppState, views};

pub(super) fn routes() -> Router<AppState> {
    use axum::routing::{get, post};
    Router::new()
        .route("/institutions", post(create_institution))
        .route("/institutions/{id}/departments", post(create_department))
        .route(
            "/institutions/{id}/teams",
            get(super::teams).post(create_team),
        )
        .route("/staff", post(create_staff))
        .route("/staff/{id}/accounts", get(accounts).post(open_account))
        .route("/staff/{id}/accounts/{user}/password", post(reset_password))
        .route("/staff/{id}/accounts/{user}/disable", post(disable))
}

fn unknown(field: &'static str) -> ApiError {
    ApiError::from(gongti_app::AppError::invalid(field, Problem::UnknownCode))
}

#[derive(Deserialize)]
struct InstitutionBody {
    code: String,
    name: String,
    kind: String,
    district_code: String,
    upper_institution_id: Option<i64>,
}

async fn create_institution(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(b): ApiJson<InstitutionBody>,
) -> ApiResult<impl IntoResponse> {
    let kind = InstitutionKind::from_code(&b.kind).ok_or_else(|| unknown("kind"))?;
    let new = NewInstitution {
        code: b.code.trim().to_owned(),
        name: b.name.trim().to_owned(),
        kind,
        district_code: b.district_code,
        upper_institution_id: b.upper_institution_id,
    };
    let record = state.app.create_institution(&ctx, &new).await?;
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/v1/institutions/{}", record.id),
        )],
        Json(views::institution(&record)),
    ))
}

#[derive(Deserialize)]
struct DepartmentBody {
    code: String,
    name: String,
}

async fn create_department(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<DepartmentBody>,
) -> ApiResult<impl IntoResponse> {
    let record = state
        .app
        .create_department(&ctx, id, &b.code, &b.name)
        .await?;
    Ok((StatusCode::CREATED, Json(views::department(&record))))
}

#[derive(Deserialize)]
struct TeamBody {
    name: String,
    doctor_staff_id: i64,
    nurse_staff_id: i64,
    public_health_staff_id: i64,
}

async fn create_team(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<TeamBody>,
) -> ApiResult<impl IntoResponse> {
    let new = NewTeam {
        institution_id: id,
        name: b.name,
        doctor_staff_id: b.doctor_staff_id,
        nurse_staff_id: b.nurse_staff_id,
        public_health_staff_id: b.public_health_staff_id,
    };
    let record = state.app.create_team(&ctx, &new).await?;
    Ok((StatusCode::CREATED, Json(views::team(&record))))
}

#[derive(Deserialize)]
struct StaffBody {
    institution_id: i64,
    name: String,
    role: String,
    department_id: Option<i64>,
    licence_number: Option<String>,
    title: Option<String>,
    #[serde(default)]
    practice_years: u8,
}

async fn create_staff(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(b): ApiJson<StaffBody>,
) -> ApiResult<impl IntoResponse> {
    let role = Role::from_code(&b.role).ok_or_else(|| unknown("role"))?;
    let optional = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let new = NewStaff {
        name: b.name.trim().to_owned(),
        role,
        institution_id: Some(b.institution_id),
        district_code: None,
        department_id: b.department_id,
        licence_number: optional(b.licence_number),
        title: optional(b.title),
        practice_years: i64::from(b.practice_years).min(gongti_core::role::PRACTICE_YEARS_MAX),
    };
    let record = state.app.create_staff(&ctx, &new).await?;
    Ok((
        StatusCode::CREATED,
        [(
            axum::http::header::LOCATION,
            format!("/api/v1/staff/{}", record.id),
        )],
        Json(views::staff(&record)),
    ))
}

async fn accounts(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = state
        .app
        .staff_accounts(&ctx, id)
        .await?
        .iter()
        .map(|a| {
            json!({"user_id": a.user_id, "username": a.username, "disabled": a.disabled, "client": a.client})
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
struct OpenBody {
    username: String,
    password: String,
}

async fn open_account(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path(id): Path<i64>,
    ApiJson(b): ApiJson<OpenBody>,
) -> ApiResult<impl IntoResponse> {
    let change = AccountChange::Open {
        username: &b.username,
        password: &b.password,
    };
    let user_id = state.app.change_staff_account(&ctx, id, change).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user_id": user_id, "username": b.username.trim()})),
    ))
}

#[derive(Deserialize)]
struct PasswordBody {
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((id, user_id)): Path<(i64, i64)>,
    ApiJson(b): ApiJson<PasswordBody>,
) -> ApiResult<StatusCode> {
    let change = AccountChange::ResetPassword {
        user_id,
        password: &b.password,
    };
    state.app.change_staff_account(&ctx, id, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn disable(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    Path((id, user_id)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    state
        .app
        .change_staff_account(&ctx, id, AccountChange::Disable { user_id })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
