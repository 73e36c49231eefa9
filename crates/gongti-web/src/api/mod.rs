//! The JSON API under `/api/v1`. Its contract is the OpenAPI document in `openapi.rs`.

mod chronic;
mod clients;
mod consultations;
mod contracts;
mod exam;
pub(crate) mod indicators;
mod insurance;
mod patients;
mod payment;
mod pharmacy;
pub(crate) use pharmacy::{decode_queue_cursor, encode_queue_cursor};
mod readings;
mod referral_figures;
mod referrals;
mod region;
pub(crate) mod roster;
mod scheduling;
mod screening;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use gongti_app::Ctx;
use gongti_app::auth::{Session, TokenKind};
use gongti_app::residents::ResidentQuery;
use gongti_core::access::may_see_identifiers;
use gongti_core::region::InstitutionKind;
use gongti_core::resident::{ResidentForm, parse_sex};
use gongti_core::role::Role;
use gongti_store::{InstitutionFilter, StaffFilter, clamp_page_size};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, authorize, decode_cursor, request_id};
use crate::{AppState, PAGE_SIZE_DEFAULT, openapi, views};

pub(crate) fn routes(state: AppState) -> Router<AppState> {
    let protected = Router::new()
        .route("/auth/token", axum::routing::delete(revoke_token))
        .route("/me", get(me))
        .route("/districts", get(districts))
        .route("/institutions", get(institutions))
        .route("/institutions/{id}", get(institution))
        .route("/staff", get(staff_list))
        .route("/staff/{id}", get(staff_member))
        .route("/residents", get(search_residents).post(register_resident))
        .route("/residents/{id}", get(read_resident).put(update_resident))
        .route("/residents/{id}/merge", post(merge_resident))
        .route("/residents/{id}/access-log", get(access_log))
        .merge(chronic::routes())
        .merge(contracts::routes())
        .merge(indicators::routes())
        .merge(readings::routes())
        .merge(exam::routes())
        .merge(screening::routes())
        .merge(scheduling::routes())
        .merge(referrals::routes())
        .merge(consultations::routes())
        .merge(patients::staff_routes())
        .merge(pharmacy::routes())
        .merge(insurance::routes())
        .merge(payment::routes())
        .merge(referral_figures::routes())
        .merge(roster::routes())
        .merge(region::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            signed_in,
        ));
    Router::new()
        .route("/auth/token", post(issue_token))
        .route("/auth/client-token", post(clients::client_token))
        .merge(patients::routes(state.clone()))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .route("/docs", get(|| async { Html(openapi::docs_page()) }))
        .merge(protected)
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_route",
                "没有这个接口",
                "No such endpoint",
            )
        })
}

#[derive(Deserialize)]
struct TokenRequest {
    username: String,
    password: String,
}

async fn issue_token(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    ApiJson(body): ApiJson<TokenRequest>,
) -> ApiResult<Json<Value>> {
    let outcome = state
        .app
        .sign_in(
            &body.username,
            &body.password,
            TokenKind::Api,
            request_id(&headers),
            ip,
        )
        .await?;
    let mut answer = json!({
        "access_token": outcome.token,
        "token_type": "Bearer",
        "expires_in": outcome.expires_in_s,
    });
    if let Some(n) = outcome.notice {
        answer["notice"] = crate::views::sign_in_notice(&n);
    }
    Ok(Json(answer))
}

async fn revoke_token(State(state): State<AppState>, request: Request) -> ApiResult<StatusCode> {
    let ctx = request
        .extensions()
        .get::<Ctx>()
        .cloned()
        .expect("signed_in runs first");
    let token = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(ApiError::unauthenticated)?;
    state.app.sign_out(token, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The protected routes' one layer (each layer is cloned and boxed on every request):
/// the token or session ([`authorize`]), then a creation's idempotency.
async fn signed_in(
    State(state): State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match authorize(&state, request).await {
        Ok(request) => crate::idempotency::guard(State(state), request, next).await,
        Err(refusal) => refusal,
    }
}

async fn me(request: Request) -> Json<Value> {
    let session = request.extensions().get::<Session>().expect("signed_in");
    let p = &session.principal;
    Json(json!({
        "user_id": p.user_id,
        "username": p.username,
        "staff_id": p.staff_id,
        "name": p.staff_name,
        "role": p.role.code(),
        "role_name": p.role.name_zh(),
        "institution_id": p.institution_id,
        "district_code": p.district_code,
    }))
}

async fn districts(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let items: Vec<Value> = state
        .app
        .districts()
        .await?
        .iter()
        .map(|d| json!({"code": d.code, "name": d.name, "city_code": d.city_code}))
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
struct InstitutionParams {
    district: Option<String>,
    kind: Option<String>,
    upper: Option<i64>,
    name: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn institutions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<InstitutionParams>,
) -> ApiResult<Json<Value>> {
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(InstitutionKind::from_code(k).ok_or_else(|| {
            ApiError::bad_request("bad_kind", "机构类型无效", "Unknown institution kind")
        })?),
    };
    let filter = InstitutionFilter {
        district_code: q.district.filter(|d| !d.is_empty()),
        kinds: kind.into_iter().collect(),
        upper_institution_id: q.upper,
        name_prefixes: q.name.filter(|n| !n.is_empty()).into_iter().collect(),
        codes: Vec::new(),
    };
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .institutions(&filter, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(views::institution).collect(),
        page.next_after,
    )))
}

async fn institution(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let i = state.app.institution(id).await?;
    let mut body = views::institution(&i);
    let departments: Vec<Value> = state
        .app
        .store()
        .departments(id)
        .await
        .map_err(gongti_app::AppError::from)?
        .iter()
        .map(views::department)
        .collect();
    body["departments"] = departments.into();
    Ok(Json(body))
}

pub(super) async fn teams(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let teams = state.app.teams(id).await?;
    Ok(Json(
        json!({"items": teams.iter().map(views::team).collect::<Vec<_>>()}),
    ))
}

#[derive(Deserialize)]
struct StaffParams {
    institution: Option<i64>,
    role: Option<String>,
    name: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

async fn staff_list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StaffParams>,
) -> ApiResult<Json<Value>> {
    let role = match q.role.as_deref() {
        None | Some("") => None,
        Some(r) => Some(
            Role::from_code(r)
                .ok_or_else(|| ApiError::bad_request("bad_role", "角色无效", "Unknown role"))?,
        ),
    };
    let filter = StaffFilter {
        institution_ids: q.institution.into_iter().collect(),
        roles: role.into_iter().collect(),
        name_prefixes: q.name.filter(|n| !n.is_empty()).into_iter().collect(),
        licence_numbers: Vec::new(),
    };
    let after = decode_cursor(q.cursor.as_deref())?;
    let page = state
        .app
        .staff(&filter, after, clamp_page_size(q.limit, PAGE_SIZE_DEFAULT))
        .await?;
    Ok(Json(views::page(
        page.items.iter().map(views::staff).collect(),
        page.next_after,
    )))
}

async fn staff_member(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    Ok(Json(views::staff(&state.app.staff_member(id).await?)))
}

#[derive(Deserialize)]
pub(crate) struct ResidentParams {
    pub name: Option<String>,
    pub id_number: Option<String>,
    pub birth_date: Option<String>,
    pub sex: Option<String>,
    pub institution: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::reason")]
    pub break_glass_reason: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// Cursor and page size of a plain paginated list.
#[derive(Deserialize)]
pub(crate) struct PageParams {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// The box of a two-sided list (inbox, sent …), with paging.
#[derive(Deserialize)]
pub(crate) struct BoxParams {
    #[serde(rename = "box")]
    pub which: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// A 400 for a value outside a documented list of codes.
pub(crate) fn bad_code(field: &str, allowed: &str) -> ApiError {
    ApiError::bad_request(
        "bad_code",
        &format!("{field} 应为 {allowed} 之一"),
        &format!("{field} must be one of {allowed}"),
    )
}

pub(crate) fn parse_date(
    field: &'static str,
    value: Option<&str>,
) -> ApiResult<Option<time::Date>> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => time::Date::parse(v, &fmt).map(Some).map_err(|_| {
            ApiError::bad_request(
                "bad_date",
                "日期格式应为 YYYY-MM-DD",
                "Dates are written YYYY-MM-DD",
            )
            .with_detail(field.to_owned())
        }),
    }
}

impl ResidentParams {
    pub(crate) fn query(&self) -> ApiResult<ResidentQuery> {
        let sex = match self.sex.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(
                parse_sex(s)
                    .ok_or_else(|| ApiError::bad_request("bad_sex", "性别无效", "Unknown sex"))?,
            ),
        };
        Ok(ResidentQuery {
            name_prefixes: self.name.clone().into_iter().collect(),
            id_numbers: self.id_number.clone().into_iter().collect(),
            birth_date: parse_date("birth_date", self.birth_date.as_deref())?,
            sexes: sex.into_iter().collect(),
            home_institution_id: self.institution,
            ..ResidentQuery::default()
        })
    }
}

async fn search_residents(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ResidentParams>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    let after = decode_cursor(q.cursor.as_deref())?;
    let limit = clamp_page_size(q.limit, PAGE_SIZE_DEFAULT);
    let (page, _) = state
        .app
        .search_residents(
            &ctx,
            &q.query()?,
            after,
            limit,
            q.break_glass_reason.as_deref(),
        )
        .await?;
    // Lists always show identifiers masked.
    Ok(Json(views::page(
        page.items
            .iter()
            .map(|r| views::resident(r, false))
            .collect(),
        page.next_after,
    )))
}

#[derive(Deserialize)]
struct ResidentBody {
    name: String,
    id_number: String,
    sex: Option<String>,
    birth_date: Option<String>,
    phone: Option<String>,
    address: Option<String>,
    household: Option<String>,
    home_institution_id: Option<i64>,
}

impl ResidentBody {
    fn form(&self) -> ApiResult<ResidentForm> {
        Ok(ResidentForm {
            name: self.name.clone(),
            sex: self.sex.clone(),
            birth_date: parse_date("birth_date", self.birth_date.as_deref())?,
            id_number: self.id_number.clone(),
            phone: self.phone.clone(),
            address: self.address.clone(),
            household: self.household.clone(),
        })
    }
}

async fn register_resident(
    State(state): State<AppState>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<ResidentBody>,
) -> ApiResult<impl IntoResponse> {
    let record = state
        .app
        .register_resident(&ctx, &body.form()?, body.home_institution_id)
        .await?;
    let location = format!("/api/v1/residents/{}", record.id);
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, location)],
        Json(views::resident(&record, true)),
    ))
}

#[derive(Deserialize)]
pub(crate) struct BreakGlass {
    #[serde(default, deserialize_with = "crate::extract::reason")]
    pub break_glass_reason: Option<String>,
}

async fn read_resident(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<BreakGlass>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    let view = state
        .app
        .read_resident(&ctx, id, q.break_glass_reason.as_deref())
        .await?;
    let mut body = views::resident(&view.record, may_see_identifiers(view.basis));
    body["access_basis"] = view.basis.code().into();
    Ok(Json(body))
}

async fn update_resident(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<ResidentBody>,
) -> ApiResult<Json<Value>> {
    let record = state
        .app
        .update_resident(&ctx, id, &body.form()?, None)
        .await?;
    Ok(Json(views::resident(&record, true)))
}

#[derive(Deserialize)]
struct MergeBody {
    merged_id: i64,
    reason: String,
}

async fn merge_resident(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    axum::Extension(ctx): axum::Extension<Ctx>,
    ApiJson(body): ApiJson<MergeBody>,
) -> ApiResult<StatusCode> {
    state
        .app
        .merge_residents(&ctx, id, body.merged_id, &body.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn access_log(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    ApiQuery(q): ApiQuery<PageParams>,
    axum::Extension(ctx): axum::Extension<Ctx>,
) -> ApiResult<Json<Value>> {
    // Newest first: the cursor is the last record's seq, the next page older ones.
    let before = decode_cursor(q.cursor.as_deref())?;
    let limit = clamp_page_size(q.limit, PAGE_SIZE_DEFAULT);
    let records = state
        .app
        .resident_access_log(&ctx, id, before, limit)
        .await?;
    let next_cursor = (records.len() == limit as usize)
        .then(|| records.last().map(|r| crate::extract::encode_cursor(r.seq)))
        .flatten();
    let items: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "seq": r.seq,
                "at": views::utc(r.entry.at_us),
                "actor": r.entry.actor_username,
                "role": r.entry.role,
                "institution_id": r.entry.institution_id,
                "action": r.entry.action,
                "outcome": r.entry.outcome.code(),
                "reason": r.entry.reason,
                "detail": r.entry.detail,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items, "next_cursor": next_cursor })))
}
