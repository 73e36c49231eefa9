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
        let codes = reason_codes(&v);
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

/// The codes of an evaluation's reasons, in order.
fn reason_codes(v: &serde_json::Value) -> Vec<&str> {
    v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect()
}

fn day(t: &TestApp, days_ago: i64) -> String {
    (t.app.today() - time::Duration::days(days_ago)).to_string()
}

#[tokio::test]
async fn enrol_follow_up_and_the_rules_decide_what_is_stored() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let base = format!("/api/v1/residents/{}", t.home_resident);
        // The home resident is a woman born in 1949: age > 65 is one risk factor.
        let r = t
            .post(
                &format!("{base}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": day(&t, 400)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let htn = r.json();
        assert_eq!(htn["disease"], "hypertension");
        assert_eq!(htn["risk"]["level"], "medium", "{htn}");
        assert_eq!(htn["risk"]["factors"][0]["code"], "age");
        let again = t
            .post(
                &format!("{base}/enrolments"),
                &doctor,
                json!({"icd10": "I11.9", "diagnosed_on": day(&t, 10)}),
            )
            .await;
        assert_eq!(again.json()["code"], "already_enrolled");
        let bad = t
            .post(
                &format!("{base}/enrolments"),
                &doctor,
                json!({"icd10": "J45", "diagnosed_on": day(&t, -3)}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.json()["problems"].as_array().unwrap().len(), 2);

        // A follow-up for a programme the resident is not in is refused.
        let not_enrolled = t
            .post(
                &format!("{base}/followups"),
                &doctor,
                json!({"disease": "diabetes", "method": "clinic", "visit_on": day(&t, 1),
                       "sbp_mmhg": 130, "dbp_mmhg": 80, "fpg_mmol": 6.0}),
            )
            .await;
        assert_eq!(not_enrolled.json()["code"], "not_enrolled");

        // Diabetes moves the hypertension risk to the third row of the table.
        let dm = t
            .post(
                &format!("{base}/enrolments"),
                &doctor,
                json!({"icd10": "E11.9", "diagnosed_on": day(&t, 300)}),
            )
            .await;
        assert_eq!(dm.status, StatusCode::CREATED, "{}", dm.text);
        let list = t.get(&format!("{base}/enrolments"), &doctor).await.json();
        let htn_now = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["disease"] == "hypertension")
            .unwrap()
            .clone();
        assert_eq!(htn_now["risk"]["level"], "high", "{htn_now}");

        // At 76 the target is < 150/90: DBP 95 is unsatisfactory.
        let first = t
            .post(
                &format!("{base}/followups"),
                &doctor,
                json!({"disease": "hypertension", "method": "clinic", "visit_on": day(&t, 40),
                       "sbp_mmhg": 148, "dbp_mmhg": 95, "weight_kg": 61.0, "height_cm": 158,
                       "adherence": "regular", "drugs": [{"name": "氨氯地平", "dose": "5 mg 每日1次"}],
                       "previous_classification": 2}),
            )
            .await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        let first = first.json();
        assert_eq!(
            (
                first["classification"].as_i64(),
                first["refer"].as_bool(),
                first["next_followup_within_days"].as_i64()
            ),
            (Some(2), Some(false), Some(14)),
            "the client's previous_classification is ignored: {first}"
        );
        assert_eq!(first["enrolment"]["last_classification"], 2);
        assert_eq!(
            first["enrolment"]["highest_bp"],
            json!({"sbp_mmhg": 148, "dbp_mmhg": 95})
        );

        let second = t
            .post(
                &format!("{base}/followups"),
                &doctor,
                json!({"disease": "hypertension", "method": "home", "visit_on": day(&t, 20),
                       "sbp_mmhg": 152, "dbp_mmhg": 88}),
            )
            .await
            .json();
        assert_eq!(second["classification"], 2);
        assert_eq!(
            second["refer"], true,
            "unsatisfactory twice in a row: {second}"
        );

        // An urgent reading opens a task due 14 days after the visit.
        let urgent = t
            .post(
                &format!("{base}/followups"),
                &doctor,
                json!({"disease": "hypertension", "method": "clinic", "visit_on": day(&t, 10),
                       "sbp_mmhg": 186, "dbp_mmhg": 100, "symptoms": ["chest_tightness"]}),
            )
            .await
            .json();
        assert_eq!(urgent["urgent_referral"], true);
        assert_eq!(urgent["enrolment"]["risk"]["level"], "very_high");
        let tasks = t.get("/api/v1/worklists/tasks", &doctor).await.json();
        assert_eq!(tasks["items"].as_array().unwrap().len(), 1, "{tasks}");
        assert_eq!(tasks["items"][0]["due_on"], day(&t, -4));
        assert_eq!(tasks["items"][0]["resident_id"], t.home_resident);

        // A phone call afterwards follows the referral up: the task is done, and the
        // call does not count as face-to-face.
        let phone = t
            .post(
                &format!("{base}/followups"),
                &doctor,
                json!({"disease": "hypertension", "method": "phone", "visit_on": day(&t, 0)}),
            )
            .await
            .json();
        assert_eq!(phone["counts_as_face_to_face"], false);
        assert_eq!(phone["classification"], serde_json::Value::Null);
        assert_eq!(phone["enrolment"]["last_face_to_face_on"], day(&t, 10));
        assert_eq!(phone["enrolment"]["last_followup_on"], day(&t, 0));
        let tasks = t.get("/api/v1/worklists/tasks", &doctor).await.json();
        assert_eq!(tasks["items"], json!([]));

        // Bad input is listed and nothing is saved.
        let invalid = t
            .post(
                &format!("{base}/followups"),
                &doctor,
                json!({"disease": "hypertension", "method": "clinic", "visit_on": day(&t, 0), "note": "x"}),
            )
            .await;
        assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
        let list = t
            .get(
                &format!("{base}/followups?disease=hypertension&limit=3"),
                &doctor,
            )
            .await
            .json();
        let visits: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["visit_on"].as_str().unwrap())
            .collect();
        assert_eq!(visits, [day(&t, 0), day(&t, 10), day(&t, 20)]);
        let next = list["next_cursor"].as_str().unwrap();
        let rest = t
            .get(
                &format!("{base}/followups?disease=hypertension&cursor={next}"),
                &doctor,
            )
            .await
            .json();
        assert_eq!(rest["items"][0]["drugs"][0]["name"], "氨氯地平");
        assert_eq!(rest["items"][0]["bmi"], 24.43);
        assert_eq!(rest["next_cursor"], serde_json::Value::Null);
        assert_eq!(t.audit_tail(1).await[0].entry.action, "followup.list");

        // Another centre's doctor may not record for this resident.
        let other = t.token("other_doctor").await;
        let denied = t
            .post(
                &format!("{base}/followups"),
                &other,
                json!({"disease": "hypertension", "method": "clinic", "visit_on": day(&t, 0),
                       "sbp_mmhg": 130, "dbp_mmhg": 80}),
            )
            .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);

        // DOMAIN.md §2 hypoglycaemia: FPG 2.9 is never satisfactory; on a
        // glucose-lowering drug it is an adverse reaction (3), without one poor
        // control (2), and urgent either way.
        for (drugs, class) in [
            (json!([{"name": "二甲双胍", "dose": "0.5 g 每日3次"}]), 3),
            (json!([]), 2),
        ] {
            let low = t
                .post(
                    &format!("{base}/followups"),
                    &doctor,
                    json!({"disease": "diabetes", "method": "clinic", "visit_on": day(&t, 5),
                           "sbp_mmhg": 128, "dbp_mmhg": 78, "fpg_mmol": 2.9, "drugs": drugs}),
                )
                .await;
            assert_eq!(low.status, StatusCode::CREATED, "{}", low.text);
            let low = low.json();
            let codes = reason_codes(&low);
            assert_eq!(
                (
                    low["classification"].as_i64(),
                    low["urgent_referral"].as_bool(),
                    codes
                ),
                (
                    Some(class),
                    Some(true),
                    vec!["urgent_glucose_low", "hypoglycaemia"]
                ),
                "{low}"
            );
        }
    }
}

#[tokio::test]
async fn screening_raised_on_three_days_makes_hypertension_suspected() {
    // DOMAIN.md §2 screening: a raised first reading → recheck another day; raised on
    // 3 different days → suspected, refer for diagnosis, follow up within 2 weeks.
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let path = format!("/api/v1/residents/{}/screening", t.home_resident);
        let first = t.get(&path, &doctor).await.json();
        assert_eq!(
            first["state"], "due",
            "a resident of 76 never measured is due: {first}"
        );
        for (ago, sbp, state) in [
            (20, 146, "recheck_due"),
            (13, 152, "recheck_due"),
            (6, 148, "suspected"),
        ] {
            let day = (t.app.today() - time::Duration::days(ago)).to_string();
            let r = t
                .post(
                    &format!("{path}/bp"),
                    &doctor,
                    json!({"measured_on": day, "sbp_mmhg": sbp, "dbp_mmhg": 88}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            assert_eq!(r.json()["state"], state);
        }
        let v = t.get(&path, &doctor).await.json();
        assert_eq!(v["refer_for_diagnosis"], true);
        assert_eq!(
            v["followup_by"],
            (t.app.today() + time::Duration::days(8)).to_string()
        );
        assert!(
            v["high_risk_factors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "age")
        );
        let list = t
            .get("/api/v1/worklists/screening?state=suspected", &doctor)
            .await
            .json();
        assert_eq!(list["items"][0]["resident_id"], t.home_resident, "{list}");
        // A normal day starts the count again.
        let r = t
            .post(
                &format!("{path}/bp"),
                &doctor,
                json!({"measured_on": t.app.today().to_string(), "sbp_mmhg": 128, "dbp_mmhg": 80}),
            )
            .await;
        assert_eq!(r.json()["state"], "normal");
        let bad = t
            .post(&format!("{path}/bp"), &doctor, json!({"sbp_mmhg": 20}))
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.json()["problems"].as_array().unwrap().len(), 3);
        let profile = t
            .send_json(
                "PUT",
                &format!("{path}/profile"),
                &doctor,
                json!({"bmi": 25.1, "heavy_drinking": true}).to_string(),
            )
            .await;
        assert_eq!(profile.status, StatusCode::OK, "{}", profile.text);
        let factors = profile.json()["high_risk_factors"].clone();
        assert!(
            factors
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == "overweight"),
            "{factors}"
        );
    }
}

/// Ending an enrolment from the console (结案): the form on the programme's card, a
/// refusal shown on the page with nothing saved, then the card shows the ending and
/// no longer offers a follow-up.
#[tokio::test]
async fn an_enrolment_ends_from_the_patients_chronic_record() {
    use crate::console::{page, sign_in};
    use crate::console_scheduling::{csrf_of, post_form};
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let token = t.token("doctor").await;
    let id = t.home_resident;
    let r = t
        .post(
            &format!("/api/v1/residents/{id}/enrolments"),
            &token,
            json!({"icd10": "E11.9", "diagnosed_on": "2019-05-01"}),
        )
        .await;
    assert!(
        r.status == StatusCode::CREATED || r.json()["code"] == "already_enrolled",
        "{}",
        r.text
    );
    let doctor = sign_in(&t, "doctor").await;
    let path = format!("/residents/{id}/chronic");
    let before = page(&t, &doctor, &path, "zh").await;
    assert!(
        before.text.contains("结案…") && before.text.contains("排除诊断"),
        "{}",
        before.text
    );
    let csrf = csrf_of(&before.text);
    let end = format!("/residents/{id}/enrolments/diabetes/end");

    let refused = post_form(&t, &doctor, &end, &format!("csrf={csrf}&reason=&ended_on=")).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text.contains("error"), "{}", refused.text);
    let forged = post_form(&t, &doctor, &end, "csrf=forged&reason=died").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let still = t
        .get(&format!("/api/v1/residents/{id}/enrolments"), &token)
        .await
        .json();
    assert!(
        still["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["disease"] == "diabetes" && e["status"] == "active")
    );

    let today = t.app.today();
    let r = post_form(
        &t,
        &doctor,
        &end,
        &format!(
            "csrf={csrf}&reason=diagnosis_excluded&ended_on={today}&note=OGTT%E6%AD%A3%E5%B8%B8"
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let after = page(&t, &doctor, &format!("{path}?ended=diabetes"), "zh").await;
    assert!(
        after.text.contains("管理已结案")
            && after.text.contains("已结案 ")
            && after.text.contains("OGTT正常"),
        "{}",
        after.text
    );
    assert!(
        !after.text.contains("followups/new?disease=diabetes"),
        "an ended programme offers no follow-up"
    );
    let english = page(&t, &doctor, &path, "en").await;
    assert!(
        english.text.contains("Diagnosis excluded"),
        "{}",
        english.text
    );
}
