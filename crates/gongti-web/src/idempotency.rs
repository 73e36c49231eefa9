//! Idempotent creation: a `POST` that carries a key — the `Idempotency-Key` header on
//! the API, the `idempotency_key` field every console form sends — runs once. A
//! repeat with the same key and the same request gets the first answer (marked
//! `Idempotent-Replayed: true`, and audited); the same key with another request is
//! refused (422); a repeat while the first still runs waits its turn (409). Answers are
//! kept 24 hours, sealed (they may hold personal data). Sign-in and sign-out are not
//! replayed: their answers carry tokens.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gongti_core::audit::Outcome;
use gongti_store::IdempotentStart;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::{edge_entry, request_id};
use crate::{AppState, REQUEST_BODY_MAX_BYTES};

/// The API's header.
pub(crate) const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// The console forms' field.
pub(crate) const IDEMPOTENCY_FIELD: &str = "idempotency_key";
/// How long a key and its answer are kept.
pub const IDEMPOTENCY_KEEP_US: i64 = 24 * 3600 * 1_000_000;
/// The longest key accepted.
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;
/// Answers larger than this are not kept (the key is released instead).
const ANSWER_KEPT_MAX_BYTES: usize = 4 * 1024 * 1024;
/// The headers of an answer that are kept with it.
const KEPT_HEADERS: [&str; 3] = ["content-type", "location", "retry-after"];

/// Who a key belongs to, from the request as the guards left it.
fn scope_of(request: &Request) -> Option<String> {
    if let Some(ctx) = request.extensions().get::<gongti_app::Ctx>() {
        return Some(format!("user:{}", ctx.principal.user_id));
    }
    request
        .extensions()
        .get::<gongti_app::patients::PatientCtx>()
        .map(|p| format!("patient:{}", p.account_id))
}

fn problem(status: StatusCode, code: &'static str, zh: &str, en: &str) -> Response {
    ApiError::new(status, code, zh, en).into_response()
}

/// A key as sent: visible ASCII, at most [`IDEMPOTENCY_KEY_MAX_CHARS`].
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= IDEMPOTENCY_KEY_MAX_CHARS
        && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The key of a console form, from its url-encoded body.
fn form_key(body: &[u8]) -> Option<String> {
    std::str::from_utf8(body).ok()?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == IDEMPOTENCY_FIELD).then(|| value.to_owned())
    })
}

/// A multipart body's boundary, from its content type.
fn boundary_of(headers: &HeaderMap) -> Option<String> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    content_type.split(';').find_map(|p| {
        p.trim()
            .strip_prefix("boundary=")
            .map(|b| b.trim_matches('"').to_owned())
    })
}

/// The bytes with every occurrence of `cut` removed.
fn without(bytes: &[u8], cut: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if !cut.is_empty() && bytes[i..].starts_with(cut) {
            i += cut.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The console form's key in a multipart body: the part named `idempotency_key`.
fn multipart_key(body: &[u8]) -> Option<String> {
    let marker = format!("name=\"{IDEMPOTENCY_FIELD}\"\r\n\r\n");
    let at = body
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())?
        + marker.len();
    let rest = &body[at..];
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    String::from_utf8(rest[..end].to_vec()).ok()
}

/// An answer as kept: its kept headers, then its body.
fn encode(headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    let kept: Vec<(&str, &HeaderValue)> = KEPT_HEADERS
        .iter()
        .filter_map(|name| headers.get(*name).map(|v| (*name, v)))
        .collect();
    out.push(kept.len() as u8);
    for (name, value) in kept {
        for part in [name.as_bytes(), value.as_bytes()] {
            out.extend_from_slice(&(part.len() as u16).to_be_bytes());
            out.extend_from_slice(part);
        }
    }
    out.extend_from_slice(body);
    out
}

fn decode(status: u16, kept: &[u8]) -> Option<Response> {
    let mut at = 1usize;
    let mut headers = Vec::new();
    for _ in 0..*kept.first()? {
        let mut part = || {
            let len = usize::from(u16::from_be_bytes([*kept.get(at)?, *kept.get(at + 1)?]));
            let bytes = kept.get(at + 2..at + 2 + len)?;
            at += 2 + len;
            Some(bytes)
        };
        let (name, value) = (part()?, part()?);
        headers.push((
            HeaderName::from_bytes(name).ok()?,
            HeaderValue::from_bytes(value).ok()?,
        ));
    }
    let mut response = Response::new(Body::from(kept.get(at..)?.to_vec()));
    *response.status_mut() = StatusCode::from_u16(status).ok()?;
    for (name, value) in headers {
        response.headers_mut().insert(name, value);
    }
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Some(response)
}

/// The guard on routes whose `POST`s may carry a key (after the sign-in guard).
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // Sign-in and sign-out answers carry tokens: never kept. The follow-up form's live
    // preview (a fragment) posts the form as the doctor types: it saves nothing.
    let path = request.uri().path();
    if request.method() != Method::POST
        || matches!(
            path,
            "/login" | "/logout" | "/patient/login" | "/patient/logout"
        )
        || request.headers().contains_key("x-fragment")
    {
        return next.run(request).await;
    }
    let header_key = request
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .map(|v| v.to_str().map(str::to_owned));
    let form = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|c| {
            c.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        });
    // A message with photos (an online visit's) is a multipart form: its key is read
    // from its parts, so a double tap on a slow phone sends it once.
    let path = request.uri().path();
    let upload = (path.starts_with("/patient/visits") || path.starts_with("/online-visits/"))
        && request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|c| c.as_bytes().starts_with(b"multipart/form-data"));
    if header_key.is_none() && !form && !upload {
        return next.run(request).await;
    }
    let Some(scope) = scope_of(&request).or_else(|| console_scope(&request)) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    // A list brought in (residents, staff) is a file of its own size limit.
    let path = parts.uri.path();
    let limit = if path.starts_with("/api/v1/") && path.ends_with("/import") {
        gongti_app::roster::FILE_BYTES_MAX
    } else if upload {
        crate::console::UPLOAD_BYTES_MAX
    } else {
        REQUEST_BODY_MAX_BYTES
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return ApiError::body_too_large(limit).into_response(),
    };
    let key = match header_key {
        Some(Ok(k)) => Some(k),
        // Not even text: not a key.
        Some(Err(_)) => Some(String::new()),
        None if upload => multipart_key(&bytes),
        None => form_key(&bytes),
    };
    // A browser draws a new multipart boundary for each submit: the same form sent
    // twice is the same request once its boundary is set aside.
    let fingerprint = if upload {
        boundary_of(&parts.headers).map_or_else(
            || bytes.clone(),
            |b| Bytes::from(without(&bytes, b.as_bytes())),
        )
    } else {
        bytes.clone()
    };
    let request = Request::from_parts(parts, Body::from(bytes.clone()));
    let Some(key) = key else {
        return next.run(request).await;
    };
    if !valid_key(&key) {
        return problem(
            StatusCode::BAD_REQUEST,
            "bad_idempotency_key",
            "Idempotency-Key 应为 1 到 255 个可见 ASCII 字符",
            "An Idempotency-Key is 1 to 255 visible ASCII characters",
        );
    }
    once(&state, scope, key, fingerprint, request, next).await
}

/// The scope of a console form: the staff session or the resident's own.
fn console_scope(request: &Request) -> Option<String> {
    let headers = request.headers();
    crate::console::session_cookie(headers)
        .map(|t| format!("session:{}", hex_of(&Sha256::digest(t.as_bytes()))))
        .or_else(|| {
            crate::console::patient_cookie(headers)
                .map(|t| format!("patient-session:{}", hex_of(&Sha256::digest(t.as_bytes()))))
        })
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn once(
    state: &AppState,
    scope: String,
    key: String,
    body: Bytes,
    request: Request,
    next: Next,
) -> Response {
    let mut h = Sha256::new();
    h.update(request.method().as_str());
    h.update([0]);
    h.update(request.uri().to_string());
    h.update([0]);
    h.update(&body);
    let fingerprint: [u8; 32] = h.finalize().into();
    let now_us = gongti_app::unix_us(state.app.now());
    let store = state.app.store();
    let started = store
        .idempotency_begin(&scope, &key, &fingerprint, now_us, IDEMPOTENCY_KEEP_US)
        .await;
    match started {
        Err(error) => ApiError::from(gongti_app::AppError::from(error)).into_response(),
        Ok(IdempotentStart::Mismatch) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "该 Idempotency-Key 已用于另一个请求",
            "This Idempotency-Key was used for another request",
        ),
        Ok(IdempotentStart::InProgress) => crate::error::with_retry_after(
            problem(
                StatusCode::CONFLICT,
                "idempotency_in_progress",
                "同一请求正在处理，请稍后查看结果",
                "The first request with this key is still running; look for its result shortly",
            ),
            Some(1),
        ),
        Ok(IdempotentStart::Answered { status, answer }) => {
            let session = request.extensions().get::<gongti_app::auth::Session>();
            let entry = edge_entry(
                state,
                session,
                "request.replay",
                Outcome::Ok,
                &format!("{} {}", request.method(), request.uri().path()),
                request_id(request.headers()),
            );
            if let Err(e) = state.app.audit_edge(entry).await {
                return ApiError::from(e).into_response();
            }
            decode(status, &answer).unwrap_or_else(|| {
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "保存的应答无法读取",
                    "The kept answer could not be read",
                )
            })
        }
        Ok(IdempotentStart::Fresh) => {
            let response = next.run(request).await;
            let (parts, body) = response.into_parts();
            let bytes = match axum::body::to_bytes(body, ANSWER_KEPT_MAX_BYTES).await {
                Ok(b) => b,
                Err(_) => {
                    let _ = store.idempotency_release(&scope, &key).await;
                    return problem(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "应答过大",
                        "The answer was too large to keep",
                    );
                }
            };
            let kept = encode(&parts.headers, &bytes);
            if let Err(error) = store
                .idempotency_finish(&scope, &key, parts.status.as_u16(), &kept)
                .await
            {
                tracing::error!(%error, "an idempotent answer was not kept");
            }
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reads_back_as_it_was_kept() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("location", HeaderValue::from_static("/api/v1/residents/7"));
        headers.insert("set-cookie", HeaderValue::from_static("secret=1"));
        let kept = encode(&headers, br#"{"id":7}"#);
        let r = decode(201, &kept).unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()["location"], "/api/v1/residents/7");
        assert_eq!(r.headers()["idempotent-replayed"], "true");
        assert!(r.headers().get("set-cookie").is_none());
        assert!(decode(201, &[3, 0]).is_none());
        assert_eq!(
            form_key(b"csrf=a&idempotency_key=k-1&x=2"),
            Some("k-1".into())
        );
        assert!(valid_key("8b1f-2c") && !valid_key("") && !valid_key("a b") && !valid_key("钥"));
    }

    #[test]
    fn a_multipart_form_names_its_key_in_a_part() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nc\r\n--b\r\nContent-Disposition: form-data; name=\"idempotency_key\"\r\n\r\nk-2\r\n--b--\r\n";
        assert_eq!(multipart_key(body), Some("k-2".to_owned()));
        assert_eq!(multipart_key(b"--b--\r\n"), None);
        assert_eq!(without(b"--xyz\r\na--xyz--", b"xyz"), b"--\r\na----");
    }
}
