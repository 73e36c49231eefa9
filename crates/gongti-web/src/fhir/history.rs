//! Versions over FHIR (R4 http.html#vread, #history): `{type}/{id}/_history/{vid}`
//! and `{type}/{id}/_history` for every type served, and the conditional read
//! (`ETag`, `If-None-Match` → 304, `Last-Modified`) for every read and vread.
//!
//! A version request first reads the record as it is now through its type's own read
//! — the same access decision and audit record as `GET {type}/{id}` — then its earlier
//! versions through `app::versions` (kept by the store, `store::versions`), or for a
//! prescription's resources as `fhir::pharmacy` derives them from its steps. Records
//! that are never changed once written (a follow-up's Encounter and Observations, a
//! home reading) have one version.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gongti_app::Ctx;
use gongti_app::versions::Earlier;
use gongti_store::{Kept, Version};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{
    Fhir, base_url, chronic, fhir_err, healthcare_service, organization, patient, pharmacy,
    practitioner, practitioner_role, referral,
};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::authorize;
use crate::views::utc;

/// A resource's body is at most this long when a version request reads the record as
/// it is now (one resource).
const RESOURCE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// The table whose rows are `ty`'s versions, and the row's id (`None`: a resource that
/// is never changed once written, whose only version is 1).
fn kept_row(ty: &str, id: &str) -> Result<Option<(Kept, i64)>, ApiError> {
    let not_found = || ApiError::not_found().fhir();
    let key = |raw: &str| raw.parse::<i64>().map_err(|_| not_found());
    Ok(Some(match ty {
        "Patient" => (Kept::Residents, key(id)?),
        "Organization" => (Kept::Institutions, key(id)?),
        "HealthcareService" => (Kept::Departments, key(id)?),
        "Practitioner" | "PractitionerRole" => (Kept::Staff, key(id)?),
        "Condition" | "EpisodeOfCare" => (Kept::Enrolments, key(id)?),
        "CareTeam" => (Kept::Contracts, key(id)?),
        "Task" => match id.strip_prefix("referral-") {
            Some(r) => (Kept::Referrals, key(r)?),
            None => (Kept::Tasks, key(id)?),
        },
        "Flag" => (Kept::Alerts, key(id)?),
        "Schedule" => (Kept::Schedules, key(id)?),
        "Slot" => (Kept::Slots, key(id)?),
        "Appointment" => (Kept::Bookings, key(id)?),
        "ServiceRequest" => (Kept::Referrals, key(id)?),
        "CommunicationRequest" | "Communication" => (Kept::Consultations, key(id)?),
        // a laboratory's result is corrected in place (DOMAIN.md §8): its versions are
        // kept; the other observations (follow-ups' and readings') never change
        "Observation" if id.starts_with("lab") => (Kept::LabResults, key(&id[3..])?),
        "Encounter" | "Observation" => return Ok(None),
        _ => return Err(not_found()),
    }))
}

/// `ty`'s resource from a record as it was.
async fn render(state: &AppState, ty: &str, earlier: Earlier) -> Result<Value, ApiError> {
    let not_found = || ApiError::not_found().fhir();
    Ok(match (ty, earlier) {
        ("Patient", Earlier::Resident(v)) => {
            patient(&v.record, super::may_see_identifiers(v.basis))
        }
        ("Organization", Earlier::Institution(i)) => organization(&i),
        ("HealthcareService", Earlier::Department(d)) => healthcare_service(&d),
        ("Practitioner", Earlier::Staff(s)) => practitioner(&s),
        ("PractitionerRole", Earlier::Staff(s)) => practitioner_role(&s),
        ("Condition", Earlier::Enrolment(e)) => chronic::condition(&e),
        ("EpisodeOfCare", Earlier::Enrolment(e)) => chronic::episode(&e),
        ("CareTeam", Earlier::Contract(c)) => {
            let team = state.app.store().team(c.team_id).await.ok();
            chronic::care_team(&c, team.as_ref())
        }
        ("Task", Earlier::Task(t)) => chronic::task(&t),
        ("Task", Earlier::Referral(r)) => referral::referral_task(&r),
        ("Flag", Earlier::Alert(a)) => chronic::flag(&a),
        ("Observation", Earlier::LabResult(r)) => super::lab::lab_observation(&r).1,
        ("Schedule", Earlier::Schedule(s)) => referral::schedule(&s),
        ("Slot", Earlier::Slot(v)) => referral::slot(&v),
        ("Appointment", Earlier::Booking(b)) => referral::appointment(&b),
        ("ServiceRequest", Earlier::Referral(r)) => referral::service_request(&r),
        ("CommunicationRequest", Earlier::Consultation(c)) => referral::communication_request(&c),
        // No opinion yet at that version: no Communication then.
        ("Communication", Earlier::Consultation(c)) => {
            referral::communication(&c).ok_or_else(not_found)?
        }
        _ => return Err(not_found()),
    })
}

/// The version a resource says it is (`meta`).
fn version_of(resource: &Value) -> Option<Version> {
    let number = resource["meta"]["versionId"].as_str()?.parse().ok()?;
    let since = resource["meta"]["lastUpdated"].as_str()?;
    let at =
        time::OffsetDateTime::parse(since, &time::format_description::well_known::Rfc3339).ok()?;
    Some(Version {
        number,
        since_us: gongti_app::unix_us(at),
    })
}

/// Reads `{ty}/{id}` as it is now through `reader` (the type's own read, with the
/// caller's credentials): the resource, or the refusal to answer with as it is.
async fn current(
    reader: axum::Router,
    headers: &HeaderMap,
    ty: &str,
    id: &str,
) -> Result<Value, Response> {
    let mut request = Request::builder()
        .method("GET")
        .uri(format!("/{ty}/{}", super::encode(id)));
    // The caller's credentials and request id (the read's audit record carries it).
    for name in [
        header::AUTHORIZATION,
        header::COOKIE,
        header::HeaderName::from_static("x-request-id"),
    ] {
        for v in headers.get_all(&name) {
            request = request.header(&name, v);
        }
    }
    let mut request = request
        .body(Body::empty())
        .map_err(|_| ApiError::not_found().fhir().into_response())?;
    // A refusal of the inner read is shaped as FHIR's, as the outer request's would be.
    if let Ok(uri) = format!("/fhir/{ty}/{}", super::encode(id)).parse() {
        request
            .extensions_mut()
            .insert(axum::extract::OriginalUri(uri));
    }
    let answer = match reader.oneshot(request).await {
        Ok(a) => a,
        Err(never) => match never {},
    };
    if answer.status() != StatusCode::OK {
        return Err(answer);
    }
    let bytes = axum::body::to_bytes(answer.into_body(), RESOURCE_BYTES_MAX)
        .await
        .map_err(|_| ApiError::not_found().fhir().into_response())?;
    serde_json::from_slice(&bytes).map_err(|_| ApiError::not_found().fhir().into_response())
}

/// The state the version routes need: the app, and the reads of every type.
#[derive(Clone)]
pub(super) struct Versions {
    pub state: AppState,
    pub reader: axum::Router,
}

/// `GET {ty}/{id}/_history/{vid}`.
pub(super) async fn vread(
    v: Versions,
    ty: &'static str,
    (id, vid): (String, String),
    ctx: Ctx,
    headers: HeaderMap,
) -> Response {
    match vread_resource(&v, &ctx, &headers, ty, &id, &vid).await {
        Ok(resource) => Fhir(resource).into_response(),
        Err(answer) => answer,
    }
}

async fn vread_resource(
    v: &Versions,
    ctx: &Ctx,
    headers: &HeaderMap,
    ty: &str,
    id: &str,
    vid: &str,
) -> Result<Value, Response> {
    let refuse = |e: ApiError| e.into_response();
    if pharmacy::derives_versions(ty, id) {
        let now = current(v.reader.clone(), headers, ty, id).await?;
        if now["meta"]["versionId"].as_str() == Some(vid) {
            return Ok(now);
        }
        return pharmacy::versions(&v.state, ctx, ty, id)
            .await
            .map_err(refuse)?
            .into_iter()
            .find(|r| r["meta"]["versionId"].as_str() == Some(vid))
            .ok_or_else(|| refuse(ApiError::not_found().fhir()));
    }
    let row = kept_row(ty, id).map_err(refuse)?;
    let now = current(v.reader.clone(), headers, ty, id).await?;
    let at = version_of(&now).ok_or_else(|| refuse(ApiError::not_found().fhir()))?;
    let wanted: i64 = vid
        .parse()
        .map_err(|_| refuse(ApiError::not_found().fhir()))?;
    if wanted == at.number {
        return Ok(now);
    }
    let Some((kept, key)) = row.filter(|_| wanted >= 1 && wanted < at.number) else {
        return Err(refuse(ApiError::not_found().fhir()));
    };
    let earlier = v
        .state
        .app
        .earlier_version(ctx, kept, key, wanted)
        .await
        .map_err(|e| refuse(fhir_err(e)))?;
    render(&v.state, ty, earlier).await.map_err(refuse)
}

/// `GET {ty}/{id}/_history`: every version, newest first, as a `history` Bundle.
pub(super) async fn history(
    v: Versions,
    ty: &'static str,
    id: String,
    ctx: Ctx,
    headers: HeaderMap,
) -> Response {
    match history_bundle(&v, &ctx, &headers, ty, &id).await {
        Ok(bundle) => bundle.into_response(),
        Err(answer) => answer,
    }
}

async fn history_bundle(
    v: &Versions,
    ctx: &Ctx,
    headers: &HeaderMap,
    ty: &str,
    id: &str,
) -> Result<Fhir, Response> {
    let refuse = |e: ApiError| e.into_response();
    let derived = pharmacy::derives_versions(ty, id);
    let row = if derived {
        None
    } else {
        kept_row(ty, id).map_err(refuse)?
    };
    let now = current(v.reader.clone(), headers, ty, id).await?;
    let at = version_of(&now).ok_or_else(|| refuse(ApiError::not_found().fhir()))?;
    let mut versions = vec![now];
    if derived {
        // Oldest first there; newest first here, the current one already in.
        let earlier = pharmacy::versions(&v.state, ctx, ty, id)
            .await
            .map_err(refuse)?;
        versions.extend(
            earlier
                .into_iter()
                .rev()
                .filter(|r| version_of(r).is_some_and(|e| e.number < at.number)),
        );
    }
    if let Some((kept, key)) = row {
        let marks = v
            .state
            .app
            .record_versions(ctx, kept, key, at)
            .await
            .map_err(|e| refuse(fhir_err(e)))?;
        for mark in marks.iter().filter(|m| m.number < at.number) {
            let earlier = v
                .state
                .app
                .earlier_version(ctx, kept, key, mark.number)
                .await
                .map_err(|e| refuse(fhir_err(e)))?;
            match render(&v.state, ty, earlier).await {
                Ok(resource) => versions.push(resource),
                // A Communication did not exist before its opinion was given.
                Err(e) if e.status == StatusCode::NOT_FOUND => break,
                Err(e) => return Err(refuse(e)),
            }
        }
    }
    let base = base_url(&v.state);
    let entries: Vec<Value> = versions
        .iter()
        .map(|resource| {
            let number = resource["meta"]["versionId"].as_str().unwrap_or("1");
            let created = number == "1";
            json!({
                "fullUrl": format!("{base}/{ty}/{id}"),
                "resource": resource,
                "request": {
                    "method": if created { "POST" } else { "PUT" },
                    "url": if created { ty.to_owned() } else { format!("{ty}/{id}") },
                },
                "response": {
                    "status": if created { "201 Created" } else { "200 OK" },
                    "etag": format!("W/\"{number}\""),
                    "lastModified": resource["meta"]["lastUpdated"],
                },
            })
        })
        .collect();
    Ok(Fhir(json!({
        "resourceType": "Bundle",
        "type": "history",
        "total": entries.len(),
        "link": [{"relation": "self", "url": format!("{base}/{ty}/{id}/_history")}],
        "entry": entries,
    })))
}

/// The version a single resource's answer carries (a Bundle has none), for
/// [`conditional_read`]: set by [`Fhir`]'s answer from the resource's `meta`, and by
/// `FhirOne`'s from the typed resource it writes.
#[derive(Debug, Clone, Copy)]
pub(super) struct AnsweredVersion(pub(super) Version);

/// `resource`'s version when it is one resource (not a Bundle) that says it.
pub(super) fn answered_version(resource: &Value) -> Option<AnsweredVersion> {
    if resource["resourceType"] == "Bundle" {
        return None;
    }
    version_of(resource).map(AnsweredVersion)
}

/// The protected routes' one layer (each layer is cloned and boxed on every request):
/// the token or session ([`authorize`]), then the conditional read.
pub(super) async fn signed_in(
    State(state): State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    match authorize(&state, request).await {
        Ok(request) => conditional_read(request, next).await,
        Err(refusal) => refusal,
    }
}

/// Whether `path` reads one resource: `…/{Type}/{id}` or `…/{Type}/{id}/_history/{vid}`,
/// under any prefix.
fn reads_one(path: &str) -> bool {
    let mut last = path.trim_matches('/').rsplit('/');
    let (Some(a), Some(b)) = (last.next(), last.next()) else {
        return false;
    };
    let plain = !a.starts_with(['$', '_'])
        && !b.starts_with(['$', '_'])
        && b.starts_with(char::is_uppercase);
    plain || (b == "_history" && last.next().is_some() && last.next().is_some())
}

/// The conditional read (R4 http.html#cread): a read's or vread's answer carries its
/// version as `ETag` and `Last-Modified`, and one the client already holds
/// (`If-None-Match`) is answered 304 with no body. The read itself happened (and was
/// audited) either way.
async fn conditional_read(request: Request, next: axum::middleware::Next) -> Response {
    let single = request.method() == axum::http::Method::GET && reads_one(request.uri().path());
    let held: Vec<String> = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| {
            t.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_owned()
        })
        .collect();
    let answer = next.run(request).await;
    if !single || answer.status() != StatusCode::OK {
        return answer;
    }
    let Some(AnsweredVersion(version)) = answer.extensions().get::<AnsweredVersion>().copied()
    else {
        return answer;
    };
    let (mut parts, body) = answer.into_parts();
    if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{}\"", version.number)) {
        parts.headers.insert(header::ETAG, etag);
    }
    if let Ok(modified) = HeaderValue::from_str(&http_date(version.since_us)) {
        parts.headers.insert(header::LAST_MODIFIED, modified);
    }
    let number = version.number.to_string();
    if held.iter().any(|h| *h == number || h == "*") {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, body)
}

/// An HTTP date (RFC 9110 §5.6.7: `Wed, 02 Dec 2026 10:00:00 GMT`).
fn http_date(at_us: i64) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::from_unix_timestamp(at_us.div_euclid(1_000_000))
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| utc(at_us))
}
