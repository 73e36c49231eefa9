//! Chronic-disease management over the API: the follow-up rules as a service.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn evaluate_classifies_and_explains_without_saving() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        let audit_before = t.audit_tail(1).await[0].seq;
        let r = t
            .post(
                "/api/v1/followups/evaluate",
                &token,
                json!({"disease": "hypertension", "age_years": 65, "sbp_mmhg": 149, "dbp_mmhg": 89, "method": "clinic"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let v = r.json();
        assert_eq!(v["classification"], 1);
        assert_eq!(v["classification_label"], "控制满意");
        assert_eq!(v["urgent_referral"], false);
        assert_eq!(v["next_followup_within_days"], 90);
        assert_eq!(v["reasons"][0]["code"], "controlled");
        assert!(
            v["ruleset_version"]
                .as_str()
                .unwrap()
                .starts_with("bphs-3rd/")
        );

        let v = t
            .post(
                "/api/v1/followups/evaluate",
                &token,
                json!({"disease": "diabetes", "age_years": 58, "sbp_mmhg": 132, "dbp_mmhg": 84,
                       "fpg_mmol": 16.7, "symptoms": ["polydipsia_polyuria", "numb_limbs"],
                       "previous_classification": 2, "method": "home"}),
            )
            .await
            .json();
        assert_eq!(v["classification"], 2);
        assert_eq!(v["urgent_referral"], true);
        assert_eq!(v["refer"], true);
        assert_eq!(v["next_followup_within_days"], 14);
        let codes: Vec<&str> = v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        assert_eq!(
            codes,
            [
                "urgent_glucose_high",
                "urgent_symptom",
                "fpg_not_controlled",
                "unsatisfactory_twice"
            ]
        );
        assert_eq!(v["reasons"][0]["rule"], "§2 urgent referral");
        assert!(
            v["reasons"][0]["message"]
                .as_str()
                .unwrap()
                .contains("16.7")
        );

        let phone = t
            .post(
                "/api/v1/followups/evaluate",
                &token,
                json!({"disease": "hypertension", "age_years": 50, "method": "phone"}),
            )
            .await
            .json();
        assert_eq!(phone["classification"], serde_json::Value::Null);
        assert_eq!(phone["counts_as_face_to_face"], false);

        // Evaluating touches no patient: nothing is saved and nothing audited.
        assert_eq!(
            t.audit_tail(1).await[0].seq,
            audit_before,
            "{:?}",
            t.engine()
        );
    }
}

#[tokio::test]
async fn evaluate_lists_every_out_of_range_value() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let token = t.token("doctor").await;
    let r = t
        .post(
            "/api/v1/followups/evaluate",
            &token,
            json!({"disease": "hypertension", "age_years": 60, "sbp_mmhg": 20, "dbp_mmhg": 400,
                   "symptoms": ["hiccups"], "method": "clinic"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let v = r.json();
    assert_eq!(v["code"], "invalid");
    let problems: Vec<(String, String)> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["field"].as_str().unwrap().into(),
                p["code"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            ("sbp_mmhg".to_owned(), "out_of_range".to_owned()),
            ("dbp_mmhg".into(), "out_of_range".into()),
            ("symptoms".into(), "unknown_code".into()),
        ]
    );
    assert_eq!(v["problems"][0]["message"], "应在 50 到 300 之间");

    let above = t
        .post(
            "/api/v1/followups/evaluate",
            &token,
            json!({"disease": "hypertension", "age_years": 60, "sbp_mmhg": 120, "dbp_mmhg": 130, "method": "clinic"}),
        )
        .await;
    assert_eq!(above.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(above.json()["problems"][0]["code"], "inconsistent");

    let not_json = t
        .send_json(
            "POST",
            "/api/v1/followups/evaluate",
            &token,
            "{\"sbp_mmhg\": \"high\"}".into(),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);

    let anonymous = t
        .post(
            "/api/v1/followups/evaluate",
            "",
            json!({"disease": "hypertension", "age_years": 60, "sbp_mmhg": 120, "dbp_mmhg": 80, "method": "clinic"}),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
