//! What a client system's token may ask for: its scopes (`core::scope`) read against
//! the request. A client works on FHIR only (and may see who it is, and revoke its
//! token); each FHIR request needs its type's read (GET) or write (other methods)
//! scope. `$everything` and `_include`/`_revinclude` name no single type, so they need
//! `system/*.read`; a Bundle is checked entry by entry where it is read
//! (`fhir::transaction`), an export type by type (`fhir::export`).

use axum::http::{Method, StatusCode};
use gongti_core::scope::{Access, Scopes};

use crate::error::ApiError;

/// The refusal of a request beyond the token's scopes (RFC 6750 §3.1).
pub(crate) fn insufficient() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        "该系统令牌的 scope 不包含此操作",
        "The token's scopes do not cover this request",
    )
}

/// Whether a client's token with `scopes` may make the request `method path?query`
/// (the full path, `/fhir/…` or `/api/v1/…`).
/// `conditional`: the request carries `If-None-Exist`, which answers a found record
/// (read as well as write).
pub(crate) fn allows(
    scopes: &Scopes,
    method: &Method,
    path: &str,
    query: Option<&str>,
    conditional: bool,
) -> bool {
    if let Some(rest) = path.strip_prefix("/api/v1/") {
        return matches!(
            (method, rest),
            (&Method::GET, "me") | (&Method::DELETE, "auth/token")
        );
    }
    let Some(rest) = path.strip_prefix("/fhir") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let reading = method == Method::GET || method == Method::HEAD;
    let access = if reading { Access::Read } else { Access::Write };
    let includes = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, _)| {
            let k = k.split(':').next().unwrap_or("");
            k == "_include" || k == "_revinclude"
        })
    });
    if includes && !scopes.allows_every_type(Access::Read) {
        return false;
    }
    let subject_list = query.is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "reportType" && v == "subject-list")
    });
    match parts.as_slice() {
        // A transaction or batch: checked entry by entry.
        [] => method == Method::POST,
        // An export checks its types; its status and files are the requester's own.
        ["$export"] | ["Patient", "$export"] | ["Group", _, "$export"] => reading,
        [op, ..] if op.starts_with("$export-") => true,
        ["Patient", _, "$everything"] => scopes.allows_every_type(Access::Read),
        // A measure's subject list names patients.
        ["Measure", ..] if subject_list => {
            scopes.allows("Measure", access) && scopes.allows("Patient", Access::Read)
        }
        [ty, ..] if ty.starts_with(|c: char| c.is_ascii_uppercase()) => {
            scopes.allows(ty, access) && (!conditional || scopes.allows(ty, Access::Read))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/access.md, "Client systems".
    #[test]
    fn a_request_needs_its_types_scope() {
        let lab = Scopes::parse("system/Patient.read system/Observation.write").unwrap();
        let all = Scopes::parse("system/*.read").unwrap();
        let cases: [(&Scopes, Method, &str, Option<&str>, bool); 24] = [
            (
                &lab,
                Method::GET,
                "/fhir/Patient",
                Some("identifier=x"),
                true,
            ),
            (&lab, Method::GET, "/fhir/Patient/5", None, true),
            (&lab, Method::GET, "/fhir/Patient/5/_history/1", None, true),
            (&lab, Method::PUT, "/fhir/Patient/5", None, false),
            (&lab, Method::POST, "/fhir/Observation", None, true),
            (
                &lab,
                Method::GET,
                "/fhir/Observation",
                Some("patient=5"),
                false,
            ),
            (
                &lab,
                Method::GET,
                "/fhir/Condition",
                Some("patient=5"),
                false,
            ),
            (
                &lab,
                Method::GET,
                "/fhir/Patient/5/$everything",
                None,
                false,
            ),
            (&all, Method::GET, "/fhir/Patient/5/$everything", None, true),
            (
                &lab,
                Method::GET,
                "/fhir/Patient",
                Some("_revinclude=Observation:patient"),
                false,
            ),
            (
                &all,
                Method::GET,
                "/fhir/Encounter",
                Some("patient=5&_revinclude=Observation:encounter"),
                true,
            ),
            (&lab, Method::POST, "/fhir", None, true),
            (&lab, Method::POST, "/fhir/", None, true),
            (&lab, Method::GET, "/fhir/$export", None, true),
            (&lab, Method::GET, "/fhir/Group/6/$export", None, true),
            (&lab, Method::GET, "/fhir/$export-poll/abc", None, true),
            (&lab, Method::DELETE, "/fhir/$export-poll/abc", None, true),
            (&lab, Method::GET, "/api/v1/residents", None, false),
            (&all, Method::POST, "/api/v1/residents", None, false),
            (&lab, Method::GET, "/api/v1/me", None, true),
            (&lab, Method::DELETE, "/api/v1/auth/token", None, true),
            (&all, Method::GET, "/", None, false),
            (
                &lab,
                Method::GET,
                "/fhir/Measure/bp-control/$evaluate-measure",
                Some("reportType=subject-list"),
                false,
            ),
            (
                &all,
                Method::GET,
                "/fhir/Measure/bp-control/$evaluate-measure",
                Some("reportType=subject-list"),
                true,
            ),
        ];
        for (scopes, method, path, query, allowed) in cases {
            assert_eq!(
                allows(scopes, &method, path, query, false),
                allowed,
                "{method} {path}?{query:?}"
            );
        }
        // A conditional create answers the record it finds: it needs read too.
        let writer = Scopes::parse("system/Patient.write").unwrap();
        assert!(allows(&writer, &Method::POST, "/fhir/Patient", None, false));
        assert!(!allows(&writer, &Method::POST, "/fhir/Patient", None, true));
        assert!(allows(
            &lab,
            &Method::POST,
            "/fhir/Observation",
            None,
            false
        ));
    }
}
