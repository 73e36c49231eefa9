//! The token endpoint of client systems: OAuth 2.0 client credentials (RFC 6749
//! §4.4), the client authenticated by HTTP Basic (`client_secret_basic`) or by its id
//! and secret in the form (`client_secret_post`). Errors carry RFC 6749 §5.2's `error`
//! beside our `{code, message, message_en}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use gongti_app::AppError;
use gongti_core::audit::Outcome;
use serde_json::json;

use crate::AppState;
use crate::extract::{edge_entry, request_id};

/// An OAuth error answer (RFC 6749 §5.2), in our error shape too.
fn oauth_error(status: StatusCode, error: &'static str, zh: &str, en: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": en,
        "code": error,
        "message": zh,
        "message_en": en,
    });
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"gongti\""),
        );
    }
    response
}

/// The client's id and secret from `Authorization: Basic` (RFC 6749 §2.3.1: each
/// form-encoded before the Basic encoding).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let encoded = encoded.trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unform = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unform(id), unform(secret)))
}

/// `POST /api/v1/auth/client-token`.
pub(super) async fn client_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rid = request_id(&headers);
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    let refuse = |status: StatusCode, error: &'static str, zh: &str, en: &str| {
        let state = state.clone();
        let rid = rid.clone();
        let (zh, en) = (zh.to_owned(), en.to_owned());
        async move {
            let entry = edge_entry(
                &state,
                None,
                "auth.client_token",
                Outcome::Invalid,
                error,
                rid,
            );
            if let Err(e) = state.app.audit_edge(entry).await {
                return crate::error::ApiError::from(e).into_response();
            }
            oauth_error(status, error, &zh, &en)
        }
    };
    if !form_type {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "令牌请求应为表单（application/x-www-form-urlencoded）",
            "A token request is a form (Content-Type: application/x-www-form-urlencoded)",
        )
        .await;
    }
    let mut grant_type = None;
    let mut scope = None;
    let mut posted_id = None;
    let mut posted_secret = None;
    for (k, v) in form_urlencoded::parse(&body) {
        let slot = match k.as_ref() {
            "grant_type" => &mut grant_type,
            "scope" => &mut scope,
            "client_id" => &mut posted_id,
            "client_secret" => &mut posted_secret,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "同一参数出现了两次",
                "A parameter was sent twice",
            )
            .await;
        }
    }
    match grant_type.as_deref() {
        Some("client_credentials") => {}
        None => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "缺少 grant_type",
                "grant_type is required (client_credentials)",
            )
            .await;
        }
        Some(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "仅支持 client_credentials 授权方式",
                "Only the client_credentials grant is supported",
            )
            .await;
        }
    }
    let credentials = match (basic_credentials(&headers), posted_id, posted_secret) {
        (Some(basic), None, None) => Some(basic),
        (None, Some(id), Some(secret)) => Some((id, secret)),
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "客户端只能用一种方式认证（HTTP Basic 或表单）",
                "Authenticate the client one way only (HTTP Basic or the form, RFC 6749 §2.3)",
            )
            .await;
        }
        _ => None,
    };
    let Some((client_id, secret)) = credentials else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "请用 HTTP Basic（或表单中的 client_id 与 client_secret，二者择一）认证客户端",
            "Authenticate the client with HTTP Basic, or client_id and client_secret in the form (one of the two)",
        )
        .await;
    };
    match state
        .app
        .client_token(&client_id, &secret, scope.as_deref(), rid)
        .await
    {
        Ok(t) => Json(json!({
            "access_token": t.token,
            "token_type": "bearer",
            "expires_in": t.expires_in_s,
            "scope": t.scopes,
        }))
        .into_response(),
        Err(AppError::Unauthenticated) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "客户端标识或密钥不正确，或客户端已停用",
            "Unknown or disabled client, or a wrong secret",
        ),
        Err(AppError::Forbidden) => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "所请求的 scope 格式不对，或超出该客户端被授予的范围",
            "The scope is malformed or beyond what the client holds (system/<Type|*>.<read|write|*>)",
        ),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}
