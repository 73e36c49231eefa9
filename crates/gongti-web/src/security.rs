//! Headers every answer carries: a Content-Security-Policy that allows no inline
//! script or style but the console's own (by hash) on a page and nothing at all on
//! data, no framing, no MIME sniffing, no referrer beyond this site (the console's
//! language switch returns to the same page by it), `Cache-Control: no-store` (every answer may hold personal data), and HSTS
//! when the public URL is https.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use base64::Engine;
use sha2::{Digest, Sha256};

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
        let styles: Vec<String> = crate::console::INLINE_STYLES
            .iter()
            .map(|s| sha256_source(s))
            .collect();
        format!(
            "default-src 'self'; script-src 'self' {}; style-src 'self' {}; img-src 'self' data:; \
             object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
            scripts.join(" "),
            styles.join(" ")
        )
    })
}

/// The headers every answer carries, built once.
fn fixed_headers() -> &'static [(HeaderName, HeaderValue)] {
    static FIXED: OnceLock<Vec<(HeaderName, HeaderValue)>> = OnceLock::new();
    FIXED.get_or_init(|| {
        vec![
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                HeaderValue::from_static("same-origin"),
            ),
        ]
    })
}

/// The policy of an answer that is not a page (JSON, FHIR, plain text): it loads
/// nothing and is framed nowhere (OWASP's REST Security Cheat Sheet). A few dozen
/// bytes on every API answer, where the console's policy (with its hashes) is several
/// hundred that the client must read too.
const DATA_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// The policy for an answer: the console's for an HTML page, [`DATA_POLICY`] else.
fn policy_for(h: &HeaderMap) -> HeaderValue {
    static PAGE: OnceLock<HeaderValue> = OnceLock::new();
    let page = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    if !page {
        return HeaderValue::from_static(DATA_POLICY);
    }
    PAGE.get_or_init(|| {
        // Hashes in base64 and ASCII keywords: always a valid header value.
        HeaderValue::from_str(content_security_policy())
            .unwrap_or_else(|_| HeaderValue::from_static(DATA_POLICY))
    })
    .clone()
}

/// Adds the headers to an answer (a handler's own `Cache-Control` stays); HSTS when
/// the public reaches Gongti over `https`.
pub(crate) fn add_headers(h: &mut HeaderMap, https: bool) {
    let policy = policy_for(h);
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    for (name, value) in fixed_headers() {
        h.insert(name.clone(), value.clone());
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if https {
        static HSTS: OnceLock<HeaderValue> = OnceLock::new();
        let hsts = HSTS.get_or_init(|| {
            HeaderValue::from_str(&format!("max-age={HSTS_MAX_AGE_S}; includeSubDomains"))
                .unwrap_or_else(|_| HeaderValue::from_static("max-age=31536000"))
        });
        h.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
}
