//! DICOMweb through Gongti (DOMAIN.md §8, PS3.18): a viewer or a clinic system finds
//! and fetches an order's images with its Gongti token, never Orthanc's credential.
//!
//! - **QIDO-RS** `GET /dicom-web/studies?…`: the search names a patient (`PatientID`,
//!   the worklist's `GT` id), an accession number or a study UID — one at least; the
//!   app lists the studies the caller may read (their institution placed or works the
//!   order) and the PACS describes each (`includefield`, `fuzzymatching` and the
//!   study's date, time, description, ID and modalities are passed on; any other key
//!   is refused, lest it name another study). `limit` and `offset` page Gongti's list.
//! - **WADO-RS** `GET /dicom-web/studies/{uid}[/…]`: a study the caller may read, and
//!   anything under it (series, instances, metadata, frames, rendered, thumbnail),
//!   passed on as the PACS sends it.
//!
//! Every answer is decided and audited by the app as a read of the order's images;
//! the URLs the PACS writes into its JSON (RetrieveURL) are rewritten to Gongti's.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gongti_app::Ctx;
use gongti_app::exam::studies::StudySearch;
use http_body_util::BodyExt;

use crate::AppState;
use crate::error::ApiError;
use crate::orthanc::OrthancClient;

/// QIDO's content type.
const DICOM_JSON: &str = "application/dicom+json";
/// Studies described in one search at most.
const LIMIT_MAX: usize = 100;
/// Largest JSON answer rewritten in memory (metadata of a big study).
const JSON_MAX_BYTES: usize = 64 * 1024 * 1024;

pub(crate) fn routes(state: AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route("/studies", get(search_studies))
        .route("/studies/{uid}", get(retrieve_study))
        .route("/studies/{uid}/{*rest}", get(retrieve_under_study))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            crate::extract::require_token,
        ))
}

/// The keys passed on to the PACS (upper case, keyword or tag): what narrows or
/// describes a study Gongti already chose, never what names one.
const PASSED: [&str; 12] = [
    "INCLUDEFIELD",
    "FUZZYMATCHING",
    "MODALITIESINSTUDY",
    "00080061",
    "STUDYDATE",
    "00080020",
    "STUDYTIME",
    "00080030",
    "STUDYDESCRIPTION",
    "00081030",
    "STUDYID",
    "00200010",
];

/// The search's own keys (by keyword or tag), which Gongti decides itself.
#[derive(Debug, Default)]
struct Search {
    patient_id: Option<String>,
    accession_number: Option<String>,
    study_uid: Option<String>,
    limit: usize,
    offset: usize,
    /// Everything else, passed on to the PACS with each study's UID.
    passed: Vec<(String, String)>,
}

fn parse_search(query: Option<&str>) -> Result<Search, ApiError> {
    let mut s = Search {
        limit: LIMIT_MAX,
        ..Search::default()
    };
    let number = |key: &str, v: &str| {
        v.parse::<usize>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("参数 {key} 应为非负整数"),
                format!("`{key}` is a whole number"),
            )
        })
    };
    let pairs = form_urlencoded::parse(query.unwrap_or("").as_bytes());
    for (key, value) in pairs {
        let value = value.trim().to_owned();
        match key.to_ascii_uppercase().as_str() {
            "PATIENTID" | "00100020" => s.patient_id = Some(value),
            "ACCESSIONNUMBER" | "00080050" => s.accession_number = Some(value),
            "STUDYINSTANCEUID" | "0020000D" => s.study_uid = Some(value),
            "LIMIT" => s.limit = number("limit", &value)?.min(LIMIT_MAX),
            "OFFSET" => s.offset = number("offset", &value)?,
            upper if PASSED.contains(&upper) => s.passed.push((key.into_owned(), value)),
            _ => {
                // anything else might name another study to the PACS (a UID spelt
                // otherwise): not passed on
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("不支持的查询参数 {key}"),
                    format!("`{key}` is not a search key Gongti passes on"),
                ));
            }
        }
    }
    Ok(s)
}

fn no_pacs() -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "pacs_not_configured",
        "未连接影像服务器（PACS）",
        "No PACS is connected (--orthanc-url)",
    )
    .into_response()
}

fn pacs_unreachable(e: &anyhow::Error) -> Response {
    tracing::error!(error = %e, "the PACS's DICOMweb");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "pacs_unreachable",
        "影像服务器暂时无法访问，请稍后再试",
        "The image server cannot be reached; try again shortly",
    )
    .into_response()
}

/// QIDO-RS: the studies the search names that the caller may read, as the PACS
/// describes them.
async fn search_studies(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(query): RawQuery,
) -> Response {
    let search = match parse_search(query.as_deref()) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let Some(pacs) = &state.config.orthanc else {
        return no_pacs();
    };
    let asked = StudySearch {
        patient_id: search.patient_id.as_deref(),
        accession_number: search.accession_number.as_deref(),
        study_uid: search.study_uid.as_deref(),
    };
    let studies = match state.app.exam_study_search(&ctx, &asked).await {
        Ok(list) => list,
        Err(e) => {
            // PS3.18 answers a search it cannot take with 400
            let mut e = ApiError::from(e);
            if e.status == StatusCode::UNPROCESSABLE_ENTITY {
                e.status = StatusCode::BAD_REQUEST;
            }
            return e.into_response();
        }
    };
    let mut out: Vec<serde_json::Value> = Vec::new();
    for study in studies.iter().skip(search.offset).take(search.limit) {
        let path = {
            let mut q = form_urlencoded::Serializer::new(String::new());
            q.append_pair("StudyInstanceUID", &study.study_uid);
            for (k, v) in &search.passed {
                q.append_pair(k, v);
            }
            format!("/studies?{}", q.finish())
        };
        let described = async {
            let answer = pacs.dicomweb(&path, DICOM_JSON).await?;
            let status = answer.status();
            let body = answer.into_body().collect().await?.to_bytes();
            anyhow::ensure!(
                status.is_success(),
                "the PACS answered {status} to a search"
            );
            if body.is_empty() {
                return Ok(Vec::new());
            }
            let text = rewrite(pacs, &state.config.public_url, &body);
            let found = serde_json::from_str::<Vec<serde_json::Value>>(&text)?;
            // only the study asked for, of its patient, whatever the PACS made of the
            // query (a UID a modality reused for someone else is not shown)
            let patient = study
                .resident_id
                .map(gongti_core::exam::worklist::patient_id)
                .unwrap_or_default();
            Ok(found
                .into_iter()
                .filter(|v| {
                    v["0020000D"]["Value"][0] == study.study_uid.as_str()
                        && v["00100020"]["Value"][0] == patient.as_str()
                })
                .collect::<Vec<_>>())
        };
        match described.await {
            Ok(found) => out.extend(found),
            Err(e) => return pacs_unreachable(&e),
        }
    }
    (
        [
            (header::CONTENT_TYPE, DICOM_JSON),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        serde_json::Value::Array(out).to_string(),
    )
        .into_response()
}

async fn retrieve_study(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path(uid): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    retrieve(&state, &ctx, &uid, "", query.as_deref(), &headers).await
}

async fn retrieve_under_study(
    State(state): State<AppState>,
    Extension(ctx): Extension<Ctx>,
    Path((uid, rest)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    retrieve(&state, &ctx, &uid, &rest, query.as_deref(), &headers).await
}

/// A UID as DICOM writes it: numbers joined by dots, at most 64 characters.
fn is_uid(text: &str) -> bool {
    text.len() <= 64
        && text
            .split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What may follow a study's UID: the WADO-RS resources under it, made of UIDs and
/// the words PS3.18 names, so that no path leaves the study.
fn is_under_study(rest: &str) -> bool {
    const WORDS: [&str; 7] = [
        "series",
        "instances",
        "metadata",
        "frames",
        "rendered",
        "thumbnail",
        "bulk",
    ];
    rest.split('/').all(|part| {
        WORDS.contains(&part)
            || is_uid(part)
            || (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit() || b == b','))
    })
}

/// WADO-RS: the study `uid` (or what `rest` names under it) as the PACS sends it, once
/// the app let the caller read it.
async fn retrieve(
    state: &AppState,
    ctx: &Ctx,
    uid: &str,
    rest: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    if !is_uid(uid) || !(rest.is_empty() || is_under_study(rest)) {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "没有这个资源",
            "No such resource",
        )
        .into_response();
    }
    let Some(pacs) = &state.config.orthanc else {
        return no_pacs();
    };
    if let Err(e) = state.app.exam_study_by_uid(ctx, uid).await {
        return ApiError::from(e).into_response();
    }
    let mut path = format!("/studies/{uid}");
    if !rest.is_empty() {
        path.push('/');
        path.push_str(rest);
    }
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        path.push('?');
        path.push_str(q);
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*");
    let answer = match pacs.dicomweb(&path, accept).await {
        Ok(a) => a,
        Err(e) => return pacs_unreachable(&e),
    };
    let status = answer.status();
    let kind = answer.headers().get(header::CONTENT_TYPE).cloned();
    let no_store = HeaderValue::from_static("private, no-store");
    let is_json = kind
        .as_ref()
        .and_then(|k| k.to_str().ok())
        .is_some_and(|k| k.contains("json"));
    let body = if is_json {
        // metadata names the PACS's URLs: rewritten to Gongti's
        let limited = http_body_util::Limited::new(answer.into_body(), JSON_MAX_BYTES);
        match limited.collect().await {
            Ok(b) => Body::from(rewrite(pacs, &state.config.public_url, &b.to_bytes())),
            Err(e) => return pacs_unreachable(&anyhow::anyhow!("{e}")),
        }
    } else {
        Body::new(answer.into_body())
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    if let Some(kind) = kind {
        response.headers_mut().insert(header::CONTENT_TYPE, kind);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, no_store);
    response
}

/// The PACS's JSON with its DICOMweb root replaced by Gongti's.
fn rewrite(pacs: &OrthancClient, public_url: &str, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.replace(
        &pacs.dicomweb_root(),
        &format!("{}/dicom-web", public_url.trim_end_matches('/')),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_follow_a_study() {
        let cases: &[(&str, bool)] = &[
            ("series", true),
            ("metadata", true),
            ("series/1.2.3/instances/1.2.3.4/frames/1,2", true),
            ("series/1.2.3/instances/1.2.3.4/rendered", true),
            ("series/1.2.3/thumbnail", true),
            ("../../tools/find", false),
            ("series/..", false),
            ("series//x", false),
            ("series/1.2.3/instances/abc", false),
            ("", false),
        ];
        for (rest, ok) in cases {
            assert_eq!(is_under_study(rest), *ok, "{rest:?}");
        }
        assert!(is_uid("2.25.123"));
        assert!(!is_uid("2.25.123/.."));
        assert!(!is_uid(&"1".repeat(65)));
        assert!(!is_uid("..") && !is_uid("1..2") && !is_uid(".1") && !is_uid(""));
    }

    #[test]
    fn a_search_keeps_its_own_keys() {
        let s = parse_search(Some(
            "PatientID=GT00000001&00080050=RAD0100000001&includefield=00081030&ModalitiesInStudy=DX&limit=500&offset=2",
        ))
        .unwrap();
        assert_eq!(s.patient_id.as_deref(), Some("GT00000001"));
        assert_eq!(s.accession_number.as_deref(), Some("RAD0100000001"));
        assert_eq!((s.limit, s.offset), (LIMIT_MAX, 2));
        assert_eq!(
            s.passed,
            [
                ("includefield".to_owned(), "00081030".to_owned()),
                ("ModalitiesInStudy".to_owned(), "DX".to_owned())
            ]
        );
        assert!(parse_search(Some("limit=-1")).is_err());
        // a key that could name another study is refused, however it is spelt
        for other in [
            "0020,000D=1.2.3",
            "studyinstanceuid2=1",
            "PatientName=x",
            "SeriesInstanceUID=1.2",
        ] {
            assert!(parse_search(Some(other)).is_err(), "{other}");
        }
        assert!(parse_search(Some("studyinstanceuid=1.2.3")).is_ok());
    }
}
