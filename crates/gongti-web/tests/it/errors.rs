//! Errors and the contract: every refusal under `/api/v1` and `/fhir` is the JSON
//! error shape (an OperationOutcome under `/fhir`) — axum's own path, method and
//! route refusals and the layers' too — with generic text that never echoes the
//! refused value; every status the API answers is in its OpenAPI document; and what
//! could be an ID or phone number in a path is starred before the request is logged
//! (every test logs at debug level into the scan of `gongti_testdb::logscan`).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

const JSON: &str = "application/json";

/// (method, path, operation, template) sent with (token, content type, body),
/// answered with (status, code).
type Case<'a> = (
    (&'a str, &'a str, &'a str, &'a str),
    (&'a str, &'a str, &'a str),
    (StatusCode, &'a str),
);

/// The documented responses of the operation `method template`.
fn documented(doc: &Value, method: &str, template: &str) -> Vec<String> {
    doc["paths"][template][method]["responses"]
        .as_object()
        .unwrap_or_else(|| panic!("{method} {template} is not in openapi.json"))
        .keys()
        .cloned()
        .collect()
}

fn assert_api_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    let content_type = r.headers[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body = r.json();
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(body["message_en"].as_str().is_some_and(|m| !m.is_empty()));
}

async fn raw(
    t: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(ct) = content_type {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    t.send(request.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn every_refusal_is_the_json_error_shape_and_documented() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let doc = t.get("/api/v1/openapi.json", "").await.json();
        let big = " ".repeat(gongti_web::REQUEST_BODY_MAX_BYTES + 1);
        let invalid = json!({"name": "", "id_number": "1"}).to_string();
        let register = ("POST", "/api/v1/residents", "post", "/residents");
        let cases: Vec<Case> = vec![
            // A path parameter that does not parse: axum's rejection, reshaped.
            (
                (
                    "GET",
                    "/api/v1/residents/x13812345678",
                    "get",
                    "/residents/{id}",
                ),
                (&doctor, JSON, ""),
                (StatusCode::BAD_REQUEST, "bad_request"),
            ),
            (
                (
                    "GET",
                    "/api/v1/residents/1/enrolments/asthma/end",
                    "post",
                    "/residents/{id}/enrolments/{disease}/end",
                ),
                (&doctor, JSON, ""),
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ),
            (
                register,
                (&doctor, JSON, "{\"name\": "),
                (StatusCode::BAD_REQUEST, "bad_json"),
            ),
            (
                register,
                (&doctor, JSON, "{\"name\": 5}"),
                (StatusCode::BAD_REQUEST, "bad_json"),
            ),
            (
                register,
                (&doctor, "text/plain", "{}"),
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_type"),
            ),
            (
                register,
                (&doctor, JSON, &big),
                (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ),
            (
                register,
                (&doctor, JSON, &invalid),
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ),
            (
                ("GET", "/api/v1/referrals?box=", "get", "/referrals"),
                (&doctor, JSON, ""),
                (StatusCode::BAD_REQUEST, "empty_parameter"),
            ),
            (
                ("GET", "/api/v1/referrals?box=nowhere", "get", "/referrals"),
                (&doctor, JSON, ""),
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ),
            (
                ("GET", "/api/v1/referrals?cursor=c-5", "get", "/referrals"),
                (&doctor, JSON, ""),
                (StatusCode::BAD_REQUEST, "bad_cursor"),
            ),
            (
                (
                    "GET",
                    "/api/v1/indicators?from=2026-05-01&to=2026-04-01",
                    "get",
                    "/indicators",
                ),
                (&doctor, JSON, ""),
                (StatusCode::UNPROCESSABLE_ENTITY, "bad_period"),
            ),
            (
                (
                    "GET",
                    "/api/v1/residents/999999999",
                    "get",
                    "/residents/{id}",
                ),
                (&doctor, JSON, ""),
                (StatusCode::NOT_FOUND, "not_found"),
            ),
            (
                ("GET", "/api/v1/residents/1", "get", "/residents/{id}"),
                ("not-a-token", JSON, ""),
                (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ),
        ];
        let mut allow = String::new();
        for ((method, path, operation, template), (token, content_type, body), (status, code)) in
            cases
        {
            let reply = raw(
                &t,
                method,
                path,
                token,
                Some(content_type),
                body.as_bytes().to_vec(),
            )
            .await;
            assert_api_error(&reply, status, code);
            assert!(
                !reply.text.contains("13812345678"),
                "echoed: {}",
                reply.text
            );
            if status == StatusCode::METHOD_NOT_ALLOWED {
                allow = reply.headers[header::ALLOW].to_str().unwrap().to_owned();
            } else {
                let listed = documented(&doc, operation, template);
                assert!(
                    listed.contains(&status.as_u16().to_string()),
                    "{status} of {operation} {template} is not documented: {listed:?}"
                );
            }
        }
        // A method the path lacks says which it takes.
        assert!(allow.contains("POST"), "{allow}");

        // A route that does not exist, under the API and under FHIR.
        let r = t.get("/api/v1/no/such/route", &doctor).await;
        assert_api_error(&r, StatusCode::NOT_FOUND, "no_route");
        for (method, path, status) in [
            (
                "DELETE",
                "/fhir/Organization/1",
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            ("PUT", "/fhir/Organization/1", StatusCode::BAD_REQUEST),
            ("PUT", "/fhir/Patient/1", StatusCode::BAD_REQUEST),
            ("GET", "/fhir/Organization?name=", StatusCode::OK),
            ("GET", "/fhir/NoSuchResource", StatusCode::NOT_FOUND),
        ] {
            let r = raw(
                &t,
                method,
                path,
                &doctor,
                Some("application/fhir+json"),
                Vec::new(),
            )
            .await;
            assert_eq!(r.status, status, "{method} {path}: {}", r.text);
            let content_type = r.headers[header::CONTENT_TYPE].to_str().unwrap();
            assert!(
                content_type.starts_with("application/fhir+json"),
                "{method} {path}: {content_type}"
            );
            if !status.is_success() {
                assert_eq!(r.json()["resourceType"], "OperationOutcome", "{}", r.text);
            }
        }
    }
}

#[tokio::test]
async fn a_number_in_the_path_is_starred_before_the_request_is_logged() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let scanned = gongti_testdb::logscan::lines_scanned();
        // An ID number, a mobile and a landline where record ids go: had the path been
        // logged as sent, the scan would have stopped this test's process.
        for path in [
            "/api/v1/residents/110101199003077774",
            "/api/v1/residents/13812345678/contracts",
            "/fhir/Patient/11010119900307109X",
            "/api/v1/residents/022-23456789",
            "/residents/110101199003077774",
        ] {
            let r = t.get(path, &doctor).await;
            assert!(
                r.status.is_client_error() || r.status.is_redirection(),
                "{path}: {}",
                r.status
            );
            assert!(
                !r.text.contains("3077774") && !r.text.contains("12345678"),
                "{path} echoed: {}",
                r.text
            );
        }
        assert!(
            gongti_testdb::logscan::lines_scanned() > scanned,
            "the requests were logged, and scanned"
        );
    }
}
