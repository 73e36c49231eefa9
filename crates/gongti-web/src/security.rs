//! Headers every answer carries: a Content-Security-Policy that allows no inline
//! script or style but the console's own (by hash), no framing, no MIME sniffing, no
//! referrer beyond this site (the console's language switch returns to the same page
//! by it), `Cache-Control: no-store` (every answer may hold personal data), and HSTS
//! when the public URL is https.

use std::sync::OnceLock;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::AppState;

/// How long browsers remember to use https only.
const HSTS_MAX_AGE_S: u64 = 365 * 24 * 3600;

fn sha256_source(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// The policy: inline code only by the hash of what the console itself serves.
pub(crate) fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let scripts: Vec<String> = crate::console::INLINE_SCRIPTS
            .iter()
            .map(|s| sha256_source(s))
            .collect();
        format!(
            "default-src 'self'; script-src 'self' {}; style-src 'self' {}; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            scripts.join(" "),
            sha256_source(crate::console::CSS)
        )
    })
}

/// Adds the headers to every answer (a handler's own `Cache-Control` stays).
pub(crate) async fn headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        content_security_policy(),
    );
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(
        h,
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    if state.config.https() {
        set(
            h,
            header::STRICT_TRANSPORT_SECURITY,
            &format!("max-age={HSTS_MAX_AGE_S}; includeSubDomains"),
        );
    }
    response
}
