//! Request plumbing shared by the API and FHIR: the bearer-token guard, the JSON body
//! extractor with our error shape, paging cursors.

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gongti_app::auth::Session;
use gongti_app::{Ctx, unix_us};
use gongti_core::audit::{AuditEntry, Outcome};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::{AppState, REQUEST_BODY_MAX_BYTES, REQUEST_ID};

pub(crate) fn request_id(parts_headers: &axum::http::HeaderMap) -> Option<String> {
    parts_headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The client's address: the connection's peer, or — when the peer is a proxy the
/// configuration trusts — the last address `X-Forwarded-For` names that is not one of
/// those proxies. `None` when the server was not given connection info (tests).
pub(crate) fn client_ip(
    state: &AppState,
    extensions: &axum::http::Extensions,
    headers: &axum::http::HeaderMap,
) -> Option<std::net::IpAddr> {
    let peer = match extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>() {
        Some(c) => c.0.ip(),
        // What tests set in place of a connection.
        None => extensions
            .get::<axum::extract::connect_info::MockConnectInfo<std::net::SocketAddr>>()?
            .0
            .ip(),
    };
    let trusted = &state.config.trusted_proxies;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(peer),
    )
}

/// The client's address as an extractor (see [`client_ip`]).
pub(crate) struct ClientIp(pub Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(
            state,
            &parts.extensions,
            &parts.headers,
        )))
    }
}

/// An audit entry for something refused at the edge, before any use case ran.
pub(crate) fn edge_entry(
    state: &AppState,
    session: Option<&Session>,
    action: &str,
    outcome: Outcome,
    detail: &str,
    request_id: Option<String>,
) -> AuditEntry {
    let p = session.map(|s| &s.principal);
    AuditEntry {
        at_us: unix_us(state.app.now()),
        actor_user_id: p.map(|p| p.user_id),
        actor_username: p.map_or_else(|| "anonymous".to_owned(), |p| p.username.clone()),
        role: p.map(|p| p.role.code().to_owned()),
        institution_id: p.and_then(|p| p.institution_id),
        action: action.to_owned(),
        resource_type: "Request".to_owned(),
        resource_id: None,
        patient_id: None,
        reason: None,
        outcome,
        detail: Some(detail.to_owned()),
        request_id,
    }
}

/// Whether errors for this request are FHIR OperationOutcomes. Nested routers see
/// the path without its prefix, so the original URI decides.
fn is_fhir(extensions: &axum::http::Extensions, uri: &axum::http::Uri) -> bool {
    extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(uri, |o| &o.0)
        .path()
        .starts_with("/fhir")
}

/// Guards API and FHIR routes: a valid `Authorization: Bearer` token (or a console
/// session cookie) is required; a refused token is audited and answered with 401.
pub(crate) async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match authorize(&state, request).await {
        Ok(request) => next.run(request).await,
        Err(refusal) => refusal,
    }
}

/// [`require_token`]'s decision, for a guard that does more around it in the same
/// layer (every layer is cloned and boxed on every request): the request carrying its
/// [`Session`](gongti_app::auth::Session) and [`Ctx`], or the refusal (audited).
pub(crate) async fn authorize(state: &AppState, mut request: Request) -> Result<Request, Response> {
    let fhir = is_fhir(request.extensions(), request.uri());
    let bearer = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").map(str::trim).map(str::to_owned));
    let by_cookie = bearer.is_none();
    let token = bearer.or_else(|| crate::console::session_cookie(request.headers()));
    let rid = request_id(request.headers());
    let session = match &token {
        Some(t) => state.app.authenticate(t).await,
        None => Err(gongti_app::AppError::Unauthenticated),
    };
    match session {
        // A browser sends the console's cookie on any request to this site, a forged
        // one from a sibling origin too: with a cookie, only reads go through, unless
        // the request carries the session's CSRF token (which no other page can read).
        Ok(session)
            if by_cookie
                && !request.method().is_safe()
                && !csrf_matches(request.headers(), session.csrf.as_deref()) =>
        {
            let refused = edge_entry(
                state,
                Some(&session),
                "request.csrf",
                Outcome::Denied,
                "cookie_without_csrf_token",
                rid,
            );
            if let Err(e) = state.app.audit_edge(refused).await {
                return Err(finish(ApiError::from(e), fhir));
            }
            Err(finish(
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "请求缺少有效的 CSRF 令牌：接口请使用 Authorization: Bearer 令牌",
                    "A request with the console's cookie needs its CSRF token (X-CSRF-Token); the API takes Authorization: Bearer tokens",
                ),
                fhir,
            ))
        }
        Ok(session)
            if session.principal.scopes.as_ref().is_some_and(|scopes| {
                let uri = request
                    .extensions()
                    .get::<axum::extract::OriginalUri>()
                    .map_or(request.uri(), |o| &o.0);
                let conditional = request.headers().contains_key("if-none-exist");
                !crate::scopes::allows(
                    scopes,
                    request.method(),
                    uri.path(),
                    uri.query(),
                    conditional,
                )
            }) =>
        {
            let refused = edge_entry(
                state,
                Some(&session),
                "request.scope",
                Outcome::Denied,
                "insufficient_scope",
                rid,
            );
            if let Err(e) = state.app.audit_edge(refused).await {
                return Err(finish(ApiError::from(e), fhir));
            }
            Err(finish(crate::scopes::insufficient(), fhir))
        }
        Ok(session) => {
            request.extensions_mut().insert(Ctx {
                principal: session.principal.clone(),
                request_id: rid,
            });
            request.extensions_mut().insert(session);
            Ok(request)
        }
        Err(gongti_app::AppError::Unauthenticated) => {
            let detail = if token.is_some() {
                "token_rejected"
            } else {
                "token_missing"
            };
            if let Err(e) = state
                .app
                .audit_edge(edge_entry(
                    state,
                    None,
                    "auth.token",
                    Outcome::Failed,
                    detail,
                    rid,
                ))
                .await
            {
                return Err(finish(ApiError::from(e), fhir));
            }
            Err(finish(ApiError::unauthenticated(), fhir))
        }
        Err(e) => Err(finish(ApiError::from(e), fhir)),
    }
}

/// The header a script of the console would send its session's CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

fn csrf_matches(headers: &axum::http::HeaderMap, expected: Option<&str>) -> bool {
    match (
        headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()),
        expected,
    ) {
        (Some(sent), Some(expected)) => {
            !expected.is_empty()
                && gongti_core::text::constant_time_eq(sent.as_bytes(), expected.as_bytes())
        }
        _ => false,
    }
}

fn finish(error: ApiError, fhir: bool) -> Response {
    if fhir {
        error.fhir().into_response()
    } else {
        error.into_response()
    }
}

/// A JSON body: rejections come back in our error shape, and an over-long body is
/// audited before it is refused.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request<Body>, state: &AppState) -> Result<Self, ApiError> {
        let session = request.extensions().get::<Session>().cloned();
        let rid = request_id(request.headers());
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => {
                let (error, detail) = describe(rejection);
                state
                    .app
                    .audit_edge(edge_entry(
                        state,
                        session.as_ref(),
                        "request.body",
                        Outcome::Invalid,
                        detail,
                        rid,
                    ))
                    .await?;
                Err(error)
            }
        }
    }
}

/// A JSON body that may be left out: none without a `Content-Type`, else as
/// [`ApiJson`].
impl<T: DeserializeOwned + Send> axum::extract::OptionalFromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(
        request: Request<Body>,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        if !request
            .headers()
            .contains_key(axum::http::header::CONTENT_TYPE)
        {
            return Ok(None);
        }
        <ApiJson<T> as FromRequest<AppState>>::from_request(request, state)
            .await
            .map(Some)
    }
}

/// The answer to a refused JSON body and the audit detail for it.
fn describe(rejection: JsonRejection) -> (ApiError, &'static str) {
    match &rejection {
        JsonRejection::BytesRejection(_) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (
                ApiError::body_too_large(REQUEST_BODY_MAX_BYTES),
                "body_too_large",
            )
        }
        JsonRejection::MissingJsonContentType(_) => (
            ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "content_type",
                "请求体应为 JSON（Content-Type: application/json）",
                "The body must be JSON (Content-Type: application/json)",
            ),
            "content_type",
        ),
        _ => (
            ApiError::bad_request(
                "bad_json",
                "请求体不是有效的 JSON 或字段类型不符",
                "The body is not valid JSON for this request",
            )
            .with_detail(rejection.body_text()),
            "bad_json",
        ),
    }
}

/// Query parameters: a malformed query is a 400 in our error shape (FHIR paths get an
/// OperationOutcome), never axum's plain-text rejection.
pub(crate) struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send> axum::extract::FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        let fhir = is_fhir(&parts.extensions, &parts.uri);
        // An empty parameter (`?box=`) is malformed on the API: leave it out for the
        // default (FHIR search ignores empty parameters, as its specification says).
        let empty = parts.uri.query().and_then(|q| {
            q.split('&')
                .filter(|pair| !pair.is_empty())
                .find(|pair| pair.split_once('=').is_none_or(|(_, v)| v.is_empty()))
        });
        if let (Some(pair), false) = (empty, fhir) {
            let name = pair.split('=').next().unwrap_or_default();
            let name: String = name.chars().take(40).collect();
            return Err(ApiError::bad_request(
                "empty_parameter",
                "查询参数不能为空值：不需要时请省略该参数",
                "A query parameter has no value: leave it out instead",
            )
            .with_detail(gongti_core::text::redact_numbers(&name).into_owned()));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let error = ApiError::bad_request(
                    "bad_query",
                    "查询参数无效",
                    "The query parameters are not valid",
                )
                .with_detail(rejection.body_text());
                Err(if fhir { error.fhir() } else { error })
            }
        }
    }
}

/// A break-the-glass reason: refused as malformed past
/// [`BREAK_GLASS_REASON_MAX_CHARS`](gongti_core::access::BREAK_GLASS_REASON_MAX_CHARS)
/// characters, whoever sends it.
pub(crate) fn reason<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let reason: Option<String> = serde::Deserialize::deserialize(d)?;
    let max = gongti_core::access::BREAK_GLASS_REASON_MAX_CHARS;
    match reason {
        Some(r) if r.chars().count() > max => Err(serde::de::Error::custom(format_args!(
            "break_glass_reason is over {max} characters"
        ))),
        r => Ok(r),
    }
}

/// Opaque paging cursor: `c` + the last id in hex.
pub(crate) fn encode_cursor(after: i64) -> String {
    format!("c{after:x}")
}

pub(crate) fn decode_cursor(cursor: Option<&str>) -> Result<Option<i64>, ApiError> {
    match cursor.filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => c
            .strip_prefix('c')
            .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|hex| i64::from_str_radix(hex, 16).ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "bad_cursor",
                    "分页游标无效",
                    "The paging cursor is not valid",
                )
            }),
    }
}
