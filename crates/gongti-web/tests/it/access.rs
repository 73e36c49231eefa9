//! The access table of docs/access.md, over HTTP.

use axum::http::StatusCode;
use gongti_core::audit::Outcome;

use crate::support::TestApp;

#[tokio::test]
async fn a_cross_institution_read_is_a_403_and_audited() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        let r = t
            .get(&format!("/api/v1/residents/{}", t.other_resident), &token)
            .await;
        assert_eq!(
            (r.status, r.json()["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden")),
            "{:?}",
            t.engine()
        );
        let audit = t.audit_tail(1).await;
        assert_eq!(audit[0].entry.action, "resident.read");
        assert_eq!(audit[0].entry.outcome, Outcome::Denied);
        assert_eq!(audit[0].entry.patient_id, Some(t.other_resident));
        // Nor can a search reach into another institution.
        let r = t
            .get(
                &format!("/api/v1/residents?institution={}", t.other),
                &token,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_care_relationship_opens_the_record_and_closing_it_shuts_it() {
    for t in TestApp::all().await {
        let token = t.token("specialist").await;
        let path = format!("/api/v1/residents/{}", t.home_resident);
        assert_eq!(t.get(&path, &token).await.status, StatusCode::FORBIDDEN);
        let rel = t
            .store
            .open_care_relationship(t.home_resident, t.hospital, "referral", 2)
            .await
            .unwrap();
        let r = t.get(&path, &token).await.json();
        assert_eq!(r["access_basis"], "care_relationship");
        t.store.close_care_relationship(rel, 3).await.unwrap();
        assert_eq!(t.get(&path, &token).await.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn officers_break_the_glass_with_a_reason_and_see_identifiers_masked() {
    for t in TestApp::all().await {
        let path = format!("/api/v1/residents/{}", t.home_resident);
        for officer in ["officer", "district"] {
            let token = t.token(officer).await;
            let r = t.get(&path, &token).await;
            assert_eq!(r.json()["code"], "break_glass_required", "{officer}");
            let r = t
                .get(
                    &format!("{path}?break_glass_reason=%E7%96%AB%E6%83%85%E8%B0%83%E6%9F%A5"),
                    &token,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{officer}: {}", r.text);
            let body = r.json();
            assert_eq!(body["access_basis"], "break_glass");
            assert_eq!(body["id_number"], "1101**********002X");
            let audit = t.audit_tail(1).await;
            assert_eq!(audit[0].entry.reason.as_deref(), Some("疫情调查"));
            assert_eq!(audit[0].entry.detail.as_deref(), Some("break_glass"));
        }
        // The district officer's glass reaches only their district.
        let token = t.token("district").await;
        let r = t
            .get(
                &format!(
                    "/api/v1/residents/{}?break_glass_reason=reason-long",
                    t.other_resident
                ),
                &token,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // Insurance officers get aggregates only.
        let token = t.token("insurer").await;
        let r = t
            .get(&format!("{path}?break_glass_reason=reason-long"), &token)
            .await;
        assert_eq!(r.json()["code"], "forbidden");
    }
}

#[tokio::test]
async fn only_registering_roles_register_at_their_own_institution() {
    for t in TestApp::all().await {
        let body = serde_json::json!({"name": "新居民", "id_number": "110105194912310062"});
        let specialist = t.token("specialist").await;
        assert_eq!(
            t.post("/api/v1/residents", &specialist, body.clone())
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        let mut elsewhere = body.clone();
        elsewhere["home_institution_id"] = t.other.into();
        let doctor = t.token("doctor").await;
        assert_eq!(
            t.post("/api/v1/residents", &doctor, elsewhere).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            t.post("/api/v1/residents", &doctor, body).await.status,
            StatusCode::CREATED
        );
    }
}
