use axum::http::StatusCode;
use gongti_core::audit::Outcome;
use serde_json::json;

use crate::support::{HOME_RESIDENT_ID_NUMBER, TestApp};

#[tokio::test]
async fn a_wrong_id_number_is_a_422_listing_every_problem_and_saves_nothing() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        let before = t.store.resident_count().await.unwrap();
        let r = t
            .post(
                "/api/v1/residents",
                &token,
                json!({"name": "", "id_number": "110105194912310021", "phone": "123"}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{:?}",
            t.engine()
        );
        let body = r.json();
        assert_eq!(body["code"], "invalid");
        assert_eq!(r.problem_fields(), ["name", "id_number", "phone"]);
        assert_eq!(t.store.resident_count().await.unwrap(), before);
        let audit = t.audit_tail(1).await;
        assert_eq!(audit[0].entry.action, "resident.create");
        assert_eq!(audit[0].entry.outcome, Outcome::Invalid);
        // The audit trail names the problems, never the number itself.
        assert!(
            !audit[0]
                .entry
                .detail
                .as_deref()
                .unwrap()
                .contains("1101051949")
        );
    }
}

#[tokio::test]
async fn a_taken_id_number_is_a_409() {
    for t in TestApp::all().await {
        let token = t.token("nurse").await;
        let r = t
            .post(
                "/api/v1/residents",
                &token,
                json!({"name": "重复", "id_number": HOME_RESIDENT_ID_NUMBER}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.json()["code"], "id_number_taken");
    }
}

#[tokio::test]
async fn an_over_long_body_is_a_413_and_audited() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        let huge = format!(
            "{{\"name\":\"{}\",\"id_number\":\"1\"}}",
            "x".repeat(gongti_web::REQUEST_BODY_MAX_BYTES + 10)
        );
        let before = t.store.resident_count().await.unwrap();
        let r = t.send_json("POST", "/api/v1/residents", &token, huge).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(r.json()["code"], "body_too_large");
        assert_eq!(t.store.resident_count().await.unwrap(), before);
        let audit = t.audit_tail(1).await;
        assert_eq!(
            (
                audit[0].entry.action.as_str(),
                audit[0].entry.detail.as_deref()
            ),
            ("request.body", Some("body_too_large"))
        );
        assert_eq!(audit[0].entry.actor_username, "doctor");
    }
}

#[tokio::test]
async fn bad_json_and_bad_queries_get_our_error_shape() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        let r = t
            .send_json("POST", "/api/v1/residents", &token, "{not json".into())
            .await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_json"))
        );
        let r = t.get("/api/v1/residents?limit=many", &token).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_query"))
        );
        let r = t.get("/api/v1/residents?cursor=zz", &token).await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_cursor"))
        );
        let r = t.get("/api/v1/nothing-here", &token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_bad_token_is_a_401_and_audited() {
    for t in TestApp::all().await {
        let r = t.get("/api/v1/me", &"0".repeat(64)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.json()["code"], "unauthenticated");
        let audit = t.audit_tail(1).await;
        assert_eq!(audit[0].entry.action, "auth.token");
        assert_eq!(audit[0].entry.outcome, Outcome::Failed);
        let r = t.get("/api/v1/me", "").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_revoked_token_stops_working() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        assert_eq!(t.get("/api/v1/me", &token).await.status, StatusCode::OK);
        assert_eq!(
            t.send_json("DELETE", "/api/v1/auth/token", &token, String::new())
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            t.get("/api/v1/me", &token).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn resident_lists_are_paged_and_masked() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        for n in 0..3u32 {
            let body = format!("12010119800101{:03}", n * 2 + 1);
            let id = format!(
                "{body}{}",
                gongti_core::id_number::check_character(body.as_bytes())
            );
            let r = t
                .post(
                    "/api/v1/residents",
                    &token,
                    json!({"name": format!("王{n}"), "id_number": id}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        let first = t.get("/api/v1/residents?limit=2", &token).await.json();
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        assert_eq!(first["items"][0]["id_number"], "1101**********002X");
        assert_eq!(first["items"][0]["phone"], "138****1234");
        let cursor = first["next_cursor"].as_str().unwrap();
        let second = t
            .get(
                &format!("/api/v1/residents?limit=2&cursor={cursor}"),
                &token,
            )
            .await
            .json();
        assert_eq!(second["items"].as_array().unwrap().len(), 2);
        assert!(second["next_cursor"].is_null());
        // Only the doctor's own institution's residents are listed.
        assert!(
            second["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["home_institution_id"] == t.home)
        );
        let by_name = t
            .get(&format!("/api/v1/residents?name={}", "%E7%8E%8B"), &token)
            .await
            .json();
        assert_eq!(by_name["items"].as_array().unwrap().len(), 3);
        let by_legacy_number = t
            .get("/api/v1/residents?id_number=110105491231002", &token)
            .await
            .json();
        assert_eq!(by_legacy_number["items"][0]["id"], t.home_resident);
    }
}

#[tokio::test]
async fn a_full_record_shows_identifiers_to_its_own_institution() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        let r = t
            .get(&format!("/api/v1/residents/{}", t.home_resident), &token)
            .await
            .json();
        assert_eq!(r["id_number"], HOME_RESIDENT_ID_NUMBER);
        assert_eq!(r["sex"], "female");
        assert_eq!(r["birth_date"], "1949-12-31");
        assert_eq!(r["access_basis"], "home_institution");
    }
}

#[tokio::test]
async fn merging_is_an_audited_admin_operation() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let dup = t
            .post(
                "/api/v1/residents",
                &doctor,
                json!({"name": "张秀英", "id_number": "110105194912310046"}),
            )
            .await;
        assert_eq!(dup.status, StatusCode::CREATED, "{}", dup.text);
        let dup_id = dup.json()["id"].as_i64().unwrap();
        let path = format!("/api/v1/residents/{}/merge", t.home_resident);
        let body = json!({"merged_id": dup_id, "reason": "同一人重复建档"});
        assert_eq!(
            t.post(&path, &doctor, body.clone()).await.status,
            StatusCode::FORBIDDEN
        );
        let admin = t.token("instadmin").await;
        assert_eq!(
            t.post(&path, &admin, body.clone()).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            t.post(&path, &admin, body).await.status,
            StatusCode::CONFLICT
        );
        let merged = t
            .get(&format!("/api/v1/residents/{dup_id}"), &doctor)
            .await
            .json();
        assert_eq!(merged["merged_into_id"], t.home_resident);
        let log = t
            .get(
                &format!("/api/v1/residents/{}/access-log", t.home_resident),
                &doctor,
            )
            .await
            .json();
        assert!(
            log["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "resident.merge" && e["reason"] == "同一人重复建档")
        );
    }
}

#[tokio::test]
async fn registry_lists_and_health() {
    for t in TestApp::all().await {
        let token = t.token("officer").await;
        let r = t
            .get(
                "/api/v1/institutions?kind=community_health_centre&limit=1",
                &token,
            )
            .await
            .json();
        assert_eq!(r["items"].as_array().unwrap().len(), 1);
        assert!(r["next_cursor"].is_string());
        let r = t
            .get(
                &format!("/api/v1/institutions?upper={}", t.hospital),
                &token,
            )
            .await
            .json();
        assert_eq!(r["items"].as_array().unwrap().len(), 2);
        let r = t
            .get(
                &format!("/api/v1/staff?institution={}&role=family_doctor", t.home),
                &token,
            )
            .await
            .json();
        assert_eq!(r["items"][0]["name"], "doctor姓名");
        assert_eq!(
            t.get("/api/v1/districts", &token).await.json()["items"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(t.get("/healthz", "").await.status, StatusCode::OK);
        assert_eq!(t.get("/readyz", "").await.status, StatusCode::OK);
        let metrics = t.get("/metrics", "").await;
        assert!(
            metrics.text.contains(
                "gongti_http_requests_total{route=\"/api/v1/institutions\",status=\"2xx\"}"
            )
        );
        assert!(
            t.get("/api/v1/me", &token)
                .await
                .headers
                .contains_key("x-request-id")
        );
    }
}

/// Every route of the API, as registered in `api/*.rs`; the document must name each.
const ROUTES: &[&str] = &[
    "/auth/token",
    "/auth/client-token",
    "/me",
    "/districts",
    "/institutions",
    "/institutions/{id}",
    "/institutions/{id}/teams",
    "/institutions/{id}/departments",
    "/staff",
    "/staff/{id}",
    "/staff/{id}/accounts",
    "/staff/{id}/accounts/{user}/password",
    "/staff/{id}/accounts/{user}/disable",
    "/residents",
    "/residents/{id}",
    "/residents/{id}/merge",
    "/residents/import",
    "/institutions/{id}/staff/import",
    "/institutions/import",
    "/jobs/{job}",
    "/residents/{id}/access-log",
    "/followups/evaluate",
    "/prescriptions/check",
    "/capitation/simulate",
    "/incentives/simulate",
    "/payment/schemes",
    "/payment/schemes/{id}",
    "/payment/schemes/{id}/approve",
    "/payment/schemes/{id}/reject",
    "/capitation/years/{year}",
    "/capitation/years/{year}/approve",
    "/capitation/years/{year}/prepayments/{month}/pay",
    "/capitation/years/{year}/costs",
    "/capitation/years/{year}/quality",
    "/capitation/years/{year}/institutions/{id}/members",
    "/capitation/years/{year}/clearing",
    "/capitation/years/{year}/clearing/freeze",
    "/capitation/years/{year}/clearing/close",
    "/capitation/years/{year}/figures",
    "/capitation/years/{year}/clearing/institutions/{id}/confirm",
    "/capitation/years/{year}/clearing/institutions/{id}/dispute",
    "/capitation/years/{year}/clearing/institutions/{id}/approve",
    "/capitation/years/{year}/clearing/institutions/{id}/settle",
    "/capitation/years/{year}/clearing/institutions/{id}/members",
    "/incentives/institutions/{id}/months/{year}/{month}",
    "/incentives/institutions/{id}/months/{year}/{month}/lock",
    "/incentives/institutions/{id}/months/{year}/{month}/approve",
    "/incentives/institutions/{id}/months/{year}/{month}/pay",
    "/incentives/me/months/{year}/{month}/appeals",
    "/incentives/appeals/{id}/answer",
    "/incentives/me/months/{year}/{month}",
    "/incentives/staff/{id}/months/{year}/{month}",
    "/capitation/settlements/import",
    "/prescriptions",
    "/prescriptions/review-queue",
    "/prescriptions/{id}",
    "/prescriptions/{id}/steps",
    "/prescriptions/{id}/route",
    "/prescriptions/{id}/dispense",
    "/prescriptions/{id}/delivery",
    "/pharmacy/board",
    "/pharmacy/stock",
    "/pharmacy/stock/{product}",
    "/prescriptions/{id}/settlement/preview",
    "/prescriptions/{id}/settlement",
    "/prescriptions/{id}/settlement/reverse",
    "/prescriptions/{id}/settlements",
    "/insurance/settlements",
    "/institutions/{id}/drug-rules",
    "/institutions/{id}/drug-rules/{rule}",
    "/residents/{id}/enrolments",
    "/residents/{id}/enrolments/{disease}/risk-factors",
    "/residents/{id}/enrolments/{disease}/end",
    "/residents/{id}/followups",
    "/worklists/tasks",
    "/worklists/followups",
    "/service-packages",
    "/residents/{id}/contracts",
    "/residents/{id}/contracts/renew",
    "/residents/{id}/contracts/switch",
    "/residents/{id}/contracts/terminate",
    "/worklists/expiring-contracts",
    "/indicators",
    "/indicators/patients",
    "/residents/{id}/readings",
    "/readings/batch",
    "/worklists/alerts",
    "/worklists/critical-values",
    "/alerts/{id}/acknowledge",
    "/residents/{id}/screening",
    "/residents/{id}/screening/bp",
    "/residents/{id}/screening/profile",
    "/worklists/screening",
    "/reserve-policy",
    "/schedules",
    "/schedules/{id}",
    "/schedules/{id}/capacity",
    "/schedules/{id}/bookings",
    "/schedules/{id}/cancel",
    "/bookings",
    "/bookings/{id}/cancel",
    "/bookings/{id}/check-in",
    "/bookings/{id}/no-show",
    "/bookings/{id}/reschedule",
    "/residents/{id}/bookings",
    "/residents/{id}/referrals",
    "/referrals",
    "/referrals/{id}",
    "/referrals/{id}/accept",
    "/referrals/{id}/reject",
    "/referrals/{id}/arrive",
    "/referrals/{id}/see",
    "/referrals/{id}/return",
    "/referrals/{id}/cancel",
    "/indicators/referrals",
    "/indicators/referrals/patients",
    "/residents/{id}/consultations",
    "/consultations",
    "/consultations/{id}",
    "/consultations/{id}/answer",
    "/consultations/{id}/close",
    "/consultations/{id}/cancel",
    "/consultations/{id}/files/{file}",
    "/residents/{id}/patient-account",
    "/patient/token",
    "/patient/me",
    "/patient/schedules",
    "/patient/bookings",
    "/patient/bookings/{id}/cancel",
    "/patient/readings",
];

#[tokio::test]
async fn every_route_is_documented() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doc = t.get("/api/v1/openapi.json", "").await.json();
    let paths = doc["paths"].as_object().unwrap();
    for route in ROUTES {
        assert!(paths.contains_key(*route), "{route} is not in openapi.json");
    }
    assert_eq!(
        paths.len(),
        ROUTES.len(),
        "a documented path is missing from ROUTES"
    );
}

#[tokio::test]
async fn every_documented_path_exists() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let token = t.token("doctor").await;
    let doc = t.get("/api/v1/openapi.json", "").await.json();
    assert_eq!(doc["openapi"], "3.0.3");
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete = format!(
            "/api/v1{}",
            path.replace("{id}", &t.home_resident.to_string())
                .replace("{disease}", "hypertension")
                .replace("{file}", "1")
        );
        for method in ops.as_object().unwrap().keys() {
            let r = t
                .send_json(&method.to_uppercase(), &concrete, &token, "{}".into())
                .await;
            let code = serde_json::from_str::<serde_json::Value>(&r.text)
                .ok()
                .map(|v| v["code"].clone());
            assert_ne!(code, Some("no_route".into()), "{method} {concrete}");
            assert_ne!(
                r.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {concrete}"
            );
        }
    }
    let docs = t.get("/api/v1/docs", "").await;
    assert!(
        docs.text.contains("/api/v1/residents") && !docs.text.contains("http"),
        "docs page must work offline"
    );
    // Grouped by tag, each group reached from the sidebar, every operation in one.
    let doc = t.get("/api/v1/openapi.json", "").await.json();
    let mut tags: Vec<String> = Vec::new();
    let mut operations = 0;
    for ops in doc["paths"].as_object().unwrap().values() {
        for o in ops.as_object().unwrap().values() {
            operations += 1;
            let tag = o["tags"][0].as_str().unwrap().to_owned();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    assert!(tags.len() > 5, "{tags:?}");
    for tag in &tags {
        assert!(
            docs.text.contains(&format!("href=\"#tag-{tag}\""))
                && docs.text.contains(&format!("id=\"tag-{tag}\"")),
            "{tag}"
        );
    }
    assert_eq!(
        docs.text.matches("<section class=\"op\">").count(),
        operations
    );
    assert!(docs.text.contains("居民档案") && docs.text.contains("双向转诊"));
}

#[tokio::test]
async fn a_new_password_ends_the_old_tokens() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        assert_eq!(t.get("/api/v1/me", &token).await.status, StatusCode::OK);
        t.app
            .set_password("doctor", "another-password-2")
            .await
            .unwrap();
        assert_eq!(
            t.get("/api/v1/me", &token).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            t.sign_in("doctor", "another-password-2").await.status,
            StatusCode::OK
        );
    }
}
