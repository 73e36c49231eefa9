//! Issued prescriptions and their review over the API, on both engines (DOMAIN.md §4,
//! 处方审核; reference/pharmacy.md §7 vectors 11 and 12): issued only with the doctor's
//! password and never when blocked, signed and kept with every version, reviewed by a
//! qualified pharmacist only, grade 1 never passing, grade 2 passing after the doctor's
//! second signature, and one decision when two pharmacists decide at once.

use axum::http::StatusCode;
use gongti_core::role::Role;
use gongti_store::NewStaff;
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp};

/// A pharmacist at `institution` with `title` and years of dispensing; their token.
pub(crate) async fn pharmacist(
    t: &TestApp,
    username: &str,
    institution: i64,
    title: &str,
    years: i64,
) -> String {
    let staff = t
        .store
        .insert_staff(
            &NewStaff {
                name: format!("{username}药师"),
                role: Role::Pharmacist,
                institution_id: Some(institution),
                district_code: Some("120101".into()),
                department_id: None,
                licence_number: None,
                title: Some(title.into()),
                practice_years: years,
            },
            1,
            &[],
        )
        .await
        .unwrap();
    t.app
        .create_user(username, PASSWORD, staff.id)
        .await
        .unwrap();
    t.token(username).await
}

pub(crate) fn line(name: &str, dose: f64, unit: &str, times: u32, days: u32) -> Value {
    json!({"generic_name": name, "dose": dose, "dose_unit": unit, "times_per_day": times, "route": "oral", "days": days})
}

pub(crate) fn draft(t: &TestApp, lines: Vec<Value>, allergies: &[&str]) -> Value {
    json!({
        "resident_id": t.home_resident,
        "patient": {"diagnoses": ["I10"], "allergies": allergies},
        "lines": lines,
    })
}

pub(crate) fn issue_body(draft: &Value, password: &str) -> Value {
    let mut body = draft.clone();
    body["password"] = json!(password);
    body
}

fn codes(v: &Value) -> Vec<String> {
    v["versions"].as_array().unwrap().last().unwrap()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) async fn step(t: &TestApp, token: &str, id: i64, body: Value) -> crate::support::Reply {
    t.post(&format!("/api/v1/prescriptions/{id}/steps"), token, body)
        .await
}

#[tokio::test]
async fn a_prescription_is_issued_signed_and_passed_by_a_qualified_pharmacist() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let reviewer = pharmacist(&t, "yaoshi", t.home, "主管药师", 5).await;
        let novice = pharmacist(&t, "novice", t.home, "药师", 2).await;
        let elsewhere = pharmacist(&t, "elsewhere", t.other, "主管药师", 9).await;
        let d = draft(&t, vec![line("苯磺酸氨氯地平片", 5.0, "mg", 1, 7)], &[]);

        // A wrong password signs nothing and saves nothing.
        let r = t
            .post(
                "/api/v1/prescriptions",
                &doctor,
                issue_body(&d, "not-my-password"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(
            r.json()["problems"][0]["code"],
            "wrong_password",
            "{}",
            r.text
        );
        // A blocked draft is refused with its findings, before any password is asked.
        let mut six = Vec::new();
        for _ in 0..6 {
            six.push(line("苯磺酸氨氯地平片", 5.0, "mg", 1, 7));
        }
        let r = t
            .post(
                "/api/v1/prescriptions",
                &doctor,
                issue_body(&draft(&t, six, &[]), ""),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let blocked = r.json();
        assert_eq!(blocked["code"], "prescription_blocked");
        assert!(
            blocked["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["code"] == "too_many_drugs"),
            "{blocked}"
        );
        let mine = t.get("/api/v1/prescriptions", &doctor).await.json();
        assert_eq!(mine["items"], json!([]), "{mine}");

        // Issued: pending review, the text signed by the doctor's key.
        let r = t
            .post("/api/v1/prescriptions", &doctor, issue_body(&d, PASSWORD))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let rx = r.json();
        let id = rx["id"].as_i64().unwrap();
        assert_eq!(rx["status"], "pending_review");
        assert_eq!(rx["version"], 1);
        assert_eq!(
            rx["content"]["lines"][0]["generic_name"],
            "苯磺酸氨氯地平片"
        );
        assert_eq!(rx["content"]["diagnoses"], json!(["I10"]));
        assert_eq!(rx["versions"][0]["signature_valid"], true, "{rx}");
        assert_eq!(rx["versions"][0]["verdict"], "clear", "{rx}");
        assert_eq!(rx["steps"][0]["step"], "issue");
        assert_eq!(rx["steps"][0]["signature_valid"], true);
        assert_eq!(rx["allowed_steps"], json!(["revise", "cancel"]), "{rx}");
        let audit = t.audit_tail(3).await;
        assert!(
            audit.iter().any(|e| e.entry.action == "prescription.issue"
                && e.entry.patient_id == Some(t.home_resident)
                && e.entry.resource_id.as_deref() == Some(&id.to_string())),
            "{audit:?}"
        );

        // The queue: the qualified pharmacist sees it; a pharmacist of two years does
        // not review (vector 11), nor one of another centre; a doctor has no queue.
        let queue = t.get("/api/v1/prescriptions/review-queue", &reviewer).await;
        assert_eq!(queue.status, StatusCode::OK, "{}", queue.text);
        let queue = queue.json();
        assert_eq!(queue["waiting"], 1);
        assert_eq!(queue["items"][0]["id"], id);
        assert_eq!(queue["items"][0]["most_severe"], "none");
        for token in [&novice, &doctor] {
            let r = t.get("/api/v1/prescriptions/review-queue", token).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        }
        let r = step(
            &t,
            &novice,
            id,
            json!({"step": "pass", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let r = step(
            &t,
            &elsewhere,
            id,
            json!({"step": "pass", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let elsewhere_queue = t
            .get("/api/v1/prescriptions/review-queue", &elsewhere)
            .await;
        assert_eq!(elsewhere_queue.json()["items"], json!([]));

        // The pharmacist reads it and passes it, signing with their own password.
        let seen = t
            .get(&format!("/api/v1/prescriptions/{id}"), &reviewer)
            .await
            .json();
        assert_eq!(
            seen["allowed_steps"],
            json!(["pass", "return", "refuse"]),
            "{seen}"
        );
        let r = step(
            &t,
            &reviewer,
            id,
            json!({"step": "pass", "password": "wrong"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = step(
            &t,
            &reviewer,
            id,
            json!({"step": "pass", "password": PASSWORD, "version": 1}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let passed = r.json();
        assert_eq!(passed["status"], "passed");
        let pass = &passed["steps"][1];
        assert_eq!(
            (pass["step"].as_str(), pass["signature_valid"].as_bool()),
            (Some("pass"), Some(true))
        );
        assert_eq!(pass["by"]["name"], "yaoshi药师");
        // Reviewed once only.
        let r = step(
            &t,
            &reviewer,
            id,
            json!({"step": "return", "reason": "再看看"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.json()["code"], "prescription_not_open_for_step");
        assert_eq!(
            t.get("/api/v1/prescriptions/review-queue", &reviewer)
                .await
                .json()["waiting"],
            0
        );
        // Another centre's doctor has no way to it.
        let other = t.token("other_doctor").await;
        let r = t.get(&format!("/api/v1/prescriptions/{id}"), &other).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
}

#[tokio::test]
async fn grade_1_never_passes_and_grade_2_passes_after_the_doctors_second_signature() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let reviewer = pharmacist(&t, "yaoshi", t.home, "药师", 3).await;

        // Amoxicillin for a patient allergic to penicillins: grade 1 (vector 12).
        let d = draft(&t, vec![line("阿莫西林", 500.0, "mg", 3, 5)], &["青霉素类"]);
        let rx = t
            .post("/api/v1/prescriptions", &doctor, issue_body(&d, PASSWORD))
            .await;
        assert_eq!(rx.status, StatusCode::CREATED, "{}", rx.text);
        let rx = rx.json();
        let id = rx["id"].as_i64().unwrap();
        assert!(codes(&rx).contains(&"allergy".to_owned()), "{rx}");
        assert_eq!(rx["most_severe"], "high");
        let r = step(
            &t,
            &reviewer,
            id,
            json!({"step": "pass", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.json()["code"], "contraindication_cannot_pass");
        let r = step(&t, &reviewer, id, json!({"step": "return"})).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a return needs a reason: {}",
            r.text
        );
        let r = step(
            &t,
            &reviewer,
            id,
            json!({"step": "return", "reason": "青霉素过敏，请换药"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["status"], "returned");
        // The doctor's override of grade 1 is refused; a new version goes back to review.
        let r = step(
            &t,
            &doctor,
            id,
            json!({"step": "confirm", "reason": "患者坚持", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.json()["code"], "contraindication_cannot_pass");
        let revision = draft(
            &t,
            vec![line("苯磺酸氨氯地平片", 5.0, "mg", 1, 7)],
            &["青霉素类"],
        );
        let r = step(
            &t,
            &doctor,
            id,
            json!({"step": "revise", "password": PASSWORD, "revision": revision}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let revised = r.json();
        assert_eq!(
            (revised["status"].as_str(), revised["version"].as_i64()),
            (Some("pending_review"), Some(2))
        );
        assert_eq!(
            revised["versions"].as_array().unwrap().len(),
            2,
            "every version kept"
        );
        assert_eq!(revised["versions"][1]["signature_valid"], true);
        assert_ne!(
            revised["versions"][0]["digest"],
            revised["versions"][1]["digest"]
        );
        // A decision on the version it did not see is refused.
        let r = step(
            &t,
            &reviewer,
            id,
            json!({"step": "pass", "password": PASSWORD, "version": 1}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.json()["code"], "prescription_changed");
        let r = step(
            &t,
            &reviewer,
            id,
            json!({"step": "pass", "password": PASSWORD, "version": 2}),
        )
        .await;
        assert_eq!(r.json()["status"], "passed", "{}", r.text);

        // Amlodipine 20 mg a day: above the maximum, grade 2.
        let d = draft(&t, vec![line("苯磺酸氨氯地平片", 20.0, "mg", 1, 7)], &[]);
        let rx = t
            .post("/api/v1/prescriptions", &doctor, issue_body(&d, PASSWORD))
            .await
            .json();
        let id = rx["id"].as_i64().unwrap();
        assert!(codes(&rx).contains(&"dose_over_max".to_owned()), "{rx}");
        let r = step(
            &t,
            &reviewer,
            id,
            json!({"step": "pass", "password": PASSWORD}),
        )
        .await;
        assert_eq!(
            r.json()["code"],
            "needs_prescriber_confirmation",
            "{}",
            r.text
        );
        step(
            &t,
            &reviewer,
            id,
            json!({"step": "return", "reason": "剂量超说明书上限"}),
        )
        .await;
        let r = step(
            &t,
            &doctor,
            id,
            json!({"step": "confirm", "password": PASSWORD}),
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a confirmation needs a reason: {}",
            r.text
        );
        let r = step(
            &t,
            &doctor,
            id,
            json!({"step": "confirm", "reason": "血压控制不佳，已知情", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let confirmed = r.json();
        assert_eq!(confirmed["status"], "pending_review");
        assert_eq!(confirmed["confirmed_by_prescriber"], true);
        let second = confirmed["steps"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(
            (second["step"].as_str(), second["signature_valid"].as_bool()),
            (Some("confirm"), Some(true))
        );
        assert_eq!(second["reason"], "血压控制不佳，已知情");
        let r = step(
            &t,
            &reviewer,
            id,
            json!({"step": "pass", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.json()["status"], "passed", "{}", r.text);
        let passed = r.json();
        let steps: Vec<&str> = passed["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert_eq!(steps, ["issue", "return", "confirm", "pass"]);
    }
}

#[tokio::test]
async fn two_pharmacists_deciding_at_once_make_one_decision() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let first = pharmacist(&t, "first", t.home, "药师", 3).await;
        let second = pharmacist(&t, "second", t.home, "主任药师", 20).await;
        let d = draft(&t, vec![line("苯磺酸氨氯地平片", 5.0, "mg", 1, 7)], &[]);
        for _ in 0..3 {
            let id = t
                .post("/api/v1/prescriptions", &doctor, issue_body(&d, PASSWORD))
                .await
                .json()["id"]
                .as_i64()
                .unwrap();
            let (a, b) = tokio::join!(
                step(
                    &t,
                    &first,
                    id,
                    json!({"step": "pass", "password": PASSWORD})
                ),
                step(
                    &t,
                    &second,
                    id,
                    json!({"step": "refuse", "reason": "测试并发"})
                ),
            );
            let mut statuses = [a.status, b.status];
            statuses.sort();
            assert_eq!(
                statuses,
                [StatusCode::OK, StatusCode::CONFLICT],
                "{} / {}",
                a.text,
                b.text
            );
            let rx = t
                .get(&format!("/api/v1/prescriptions/{id}"), &first)
                .await
                .json();
            assert_eq!(rx["steps"].as_array().unwrap().len(), 2, "{rx}");
        }
    }
}
