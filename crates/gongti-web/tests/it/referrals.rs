//! Two-way referral over the API on both engines (DOMAIN.md §3): one click from a
//! follow-up that called for urgent referral books the tied hospital's reserved slot
//! and sends a summary; the specialist accepts, records the arrival and the visit and
//! refers the patient back; the family doctor's 14-day task appears and closes with
//! the next follow-up; rejection frees the slot; access follows the referral.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, id_number_born};

async fn enrolled_contracted(t: &TestApp, doctor: &str, sequence: u32) -> i64 {
    let r = t
        .post(
            "/api/v1/residents",
            doctor,
            json!({"name": format!("转诊{sequence}"), "id_number": id_number_born("19500101", sequence)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();
    for (path, body) in [
        (
            "contracts",
            json!({"team_id": t.team, "resident_consent": true}),
        ),
        (
            "enrolments",
            json!({"icd10": "I10", "diagnosed_on": "2019-05-01"}),
        ),
    ] {
        let r = t
            .post(&format!("/api/v1/residents/{id}/{path}"), doctor, body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    id
}

pub(crate) async fn publish(t: &TestApp, admin: &str, days_ahead: i64, slots: u32) -> i64 {
    let day = (t.app.today() + time::Duration::days(days_ahead)).to_string();
    let r = t
        .post(
            "/api/v1/schedules",
            admin,
            json!({"department_id": t.cardio, "clinic_name": "高血压门诊", "day": day, "session": "pm", "slot_count": slots}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["id"].as_i64().unwrap()
}

fn ids(v: &Value) -> Vec<i64> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn one_click_referral_up_and_back_down() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let specialist = t.token("specialist").await;
        let admin = t.token("hospadmin").await;
        let patient = enrolled_contracted(&t, &doctor, 1).await;
        let schedule = publish(&t, &admin, 3, 10).await;

        // A follow-up with SBP 185: the rules call for urgent referral.
        let today = t.app.today().to_string();
        let r = t
            .post(
                &format!("/api/v1/residents/{patient}/followups"),
                &doctor,
                json!({"disease": "hypertension", "method": "clinic", "visit_on": today,
                       "sbp_mmhg": 185, "dbp_mmhg": 100,
                       "drugs": [{"name": "氨氯地平", "dose": "5mg qd"}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let followup = r.json();
        assert_eq!(followup["urgent_referral"], true);
        let followup_id = followup["id"].as_i64().unwrap();

        // Before the referral the specialist cannot open the record.
        let record = format!("/api/v1/residents/{patient}");
        assert_eq!(
            t.get(&record, &specialist).await.status,
            StatusCode::FORBIDDEN
        );

        // One click.
        let r = t
            .post(
                &format!("/api/v1/residents/{patient}/referrals"),
                &doctor,
                // The doctor chose a routine referral (an urgent follow-up otherwise goes
                // as an emergency, without a slot).
                json!({"source": "followup", "followup_id": followup_id, "urgency": "routine"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let referral = r.json();
        let id = referral["id"].as_i64().unwrap();
        assert_eq!(referral["status"], "requested");
        assert_eq!(referral["to"]["institution_id"], t.hospital);
        assert_eq!(referral["to"]["department_id"], t.cardio);
        assert!(referral["booking_id"].is_i64(), "{referral}");
        assert!(
            referral["rules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == "urgent_bp"),
            "{referral}"
        );
        let summary = referral["summary"].as_str().unwrap();
        assert!(
            summary.contains("I10")
                && summary.contains("185/100")
                && summary.contains("氨氯地平")
                && summary.contains("高血压")
                && summary.contains("门诊")
                && !summary.contains("clinic"),
            "{summary}"
        );
        assert_eq!(referral["timeline"].as_array().unwrap().len(), 1);
        // The reserved slot is taken.
        let s = t
            .get(&format!("/api/v1/schedules/{schedule}"), &admin)
            .await
            .json();
        assert_eq!(s["reserved"]["free"], 0);
        // A second referral to the same department is refused while this one runs.
        let r = t
            .post(
                &format!("/api/v1/residents/{patient}/referrals"),
                &doctor,
                json!({"source": "manual", "disease": "hypertension", "urgency": "emergency", "reason": "胸痛"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.json()["code"], "referral_open");

        // The receiving department sees it in its inbox, and may open the record.
        let inbox = t
            .get("/api/v1/referrals?box=inbox", &specialist)
            .await
            .json();
        assert_eq!(ids(&inbox), vec![id]);
        // A specialist of another department of the hospital does not.
        let endo = t
            .store
            .departments(t.hospital)
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.code == "endo")
            .unwrap()
            .id;
        let staff = t
            .store
            .insert_staff(
                &gongti_store::NewStaff {
                    name: "内分泌医生".into(),
                    role: gongti_core::role::Role::Specialist,
                    institution_id: Some(t.hospital),
                    district_code: Some("120101".into()),
                    department_id: Some(endo),
                    licence_number: None,
                    title: None,
                    practice_years: 10,
                },
                1,
                &[],
            )
            .await
            .unwrap();
        t.app
            .create_user("endo_doc", crate::support::PASSWORD, staff.id)
            .await
            .unwrap();
        let endo_doc = t.token("endo_doc").await;
        let theirs = t.get("/api/v1/referrals?box=inbox", &endo_doc).await.json();
        assert!(ids(&theirs).is_empty(), "{theirs}");
        assert_eq!(t.get(&record, &specialist).await.status, StatusCode::OK);
        let sent = t.get("/api/v1/referrals?box=sent", &doctor).await.json();
        assert_eq!(ids(&sent), vec![id]);
        // The sending doctor cannot take the receiving side's steps.
        let r = t
            .post(
                &format!("/api/v1/referrals/{id}/accept"),
                &doctor,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        let step = |name: &'static str, body: Value| {
            let path = format!("/api/v1/referrals/{id}/{name}");
            let token = specialist.clone();
            let t = &t;
            async move { t.post(&path, &token, body).await }
        };
        for (name, status) in [
            ("accept", "accepted"),
            ("arrive", "arrived"),
            ("see", "seen"),
        ] {
            let r = step(name, json!({})).await;
            assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.text);
            assert_eq!(r.json()["status"], status);
        }
        let r = step("return", json!({"plan": "  "})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = step(
            "return",
            json!({"plan": "氨氯地平加至10mg qd，两周后社区复查血压"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let back = r.json();
        assert_eq!(back["status"], "returned");
        let due = (t.app.today() + time::Duration::days(14)).to_string();
        assert_eq!(back["followup_due_on"], due);
        assert_eq!(back["followup_open"], true);
        let steps: Vec<_> = back["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["step"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(steps, ["request", "accept", "arrive", "see", "return"]);
        // The booking was checked in on arrival; access ends with the return.
        assert_eq!(
            t.get(&record, &specialist).await.status,
            StatusCode::FORBIDDEN
        );
        // The hospital keeps the referral itself; its steps are over.
        let r = step("accept", json!({})).await;
        assert_eq!(r.json()["code"], "referral_not_open_for_step");

        // The family doctor's returning list and 14-day task.
        let returning = t
            .get("/api/v1/referrals?box=returning", &doctor)
            .await
            .json();
        assert_eq!(ids(&returning), vec![id]);
        let tasks = t.get("/api/v1/worklists/tasks", &doctor).await.json();
        let task = tasks["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == "referral_return_followup")
            .unwrap_or_else(|| panic!("{tasks}"))
            .clone();
        assert_eq!(task["due_on"], due);
        // The next follow-up closes it.
        let r = t
            .post(
                &format!("/api/v1/residents/{patient}/followups"),
                &doctor,
                json!({"disease": "hypertension", "method": "clinic", "visit_on": today,
                       "sbp_mmhg": 136, "dbp_mmhg": 84}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = t.get(&format!("/api/v1/referrals/{id}"), &doctor).await;
        assert_eq!(r.json()["followup_open"], false, "{}", r.text);

        // The dashboard's figures, and the patients behind them.
        let officer = t.token("officer").await;
        let window = format!(
            "from={}&to={}",
            t.app.today() - time::Duration::days(1),
            t.app.today() + time::Duration::days(30)
        );
        let r = t
            .get(
                &format!("/api/v1/indicators/referrals?scope=city&{window}"),
                &officer,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let f = r.json();
        assert_eq!(
            (f["referrals_up"].as_i64(), f["referrals_down"].as_i64()),
            (Some(1), Some(1)),
            "{f}"
        );
        assert_eq!(f["returned_to_grassroots"]["rate_percent"], 100.0);
        assert_eq!(f["time_to_visit"]["visits"], 1);
        assert_eq!(f["reserved_slots"]["offered"], 1);
        assert_eq!(f["reserved_slots"]["used_by_family_doctors"], 1);
        assert_eq!(f["by_institution"][0]["institution_id"], t.home);
        let list = format!("/api/v1/indicators/referrals/patients?measure=returned&{window}");
        let r = t.get(&format!("{list}&scope=city"), &officer).await;
        let v = r.json();
        assert_eq!(v["identified"], false, "{v}");
        assert_eq!(v["items"][0]["name"], "转**");
        let r = t
            .get(&format!("{list}&scope=institution:{}", t.home), &doctor)
            .await;
        let v = r.json();
        assert_eq!(v["identified"], true, "{v}");
        assert_eq!(v["items"][0]["name"], "转诊1");
        assert_eq!(v["items"][0]["referral_id"], id);
        let r = t
            .get(
                &format!("/api/v1/indicators/referrals?scope=city&{window}"),
                &doctor,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // The same figures on the officers' dashboard, in Chinese and in English.
        let session = crate::console::sign_in(&t, "officer").await;
        for (lang, label) in [
            ("zh", "双向转诊与预留号源"),
            ("en", "Two-way referral and reserved slots"),
        ] {
            let page = crate::console::page(
                &t,
                &session,
                &format!("/dashboard?scope=city&{window}"),
                lang,
            )
            .await;
            assert_eq!(page.status, StatusCode::OK);
            assert!(
                page.text.contains(label) && page.text.contains("cloud-figures"),
                "{}",
                page.text
            );
        }

        // Another doctor's institution cannot refer this patient.
        let other = t.token("other_doctor").await;
        let r = t
            .post(
                &format!("/api/v1/residents/{patient}/referrals"),
                &other,
                json!({"source": "manual", "disease": "hypertension", "reason": "复诊"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_cancelled_clinic_lists_its_patients_and_tells_the_referral() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let admin = t.token("hospadmin").await;
        let specialist = t.token("specialist").await;
        let patient = enrolled_contracted(&t, &doctor, 40).await;
        let schedule = publish(&t, &admin, 3, 10).await;
        let r = t
            .post(
                &format!("/api/v1/residents/{patient}/referrals"),
                &doctor,
                json!({"source": "manual", "disease": "hypertension", "reason": "血压波动大"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let referral = r.json()["id"].as_i64().unwrap();
        let r = t
            .post(
                "/api/v1/bookings",
                &doctor,
                json!({"schedule_id": schedule, "resident_id": t.home_resident, "pool": "public"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let cancel = format!("/api/v1/schedules/{schedule}/cancel");
        assert_eq!(
            t.post(&cancel, &specialist, json!({"reason": "专家外出"}))
                .await
                .status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            t.post(&cancel, &admin, json!({"reason": " "})).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let r = t
            .post(&cancel, &admin, json!({"reason": "专家外出会诊"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let v = r.json();
        assert_eq!(v["status"], "cancelled");
        let mut patients: Vec<i64> = v["cancelled_bookings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["resident_id"].as_i64().unwrap())
            .collect();
        patients.sort();
        let mut expected = vec![patient, t.home_resident];
        expected.sort();
        assert_eq!(patients, expected, "{v}");
        assert!(
            v["cancelled_bookings"][0]["note"]
                .as_str()
                .unwrap()
                .contains("专家外出会诊")
        );
        // The referral still stands, and its timeline says the slot went.
        let r = t
            .get(&format!("/api/v1/referrals/{referral}"), &doctor)
            .await
            .json();
        assert_eq!(r["status"], "requested");
        let steps: Vec<_> = r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["step"].clone())
            .collect();
        assert!(steps.iter().any(|s| s == "slot_cancelled"), "{r}");
        // Nothing left to book, and nothing held twice.
        assert_eq!(t.store.double_booked_slots().await.unwrap(), 0);
        let r = t
            .post(
                "/api/v1/bookings",
                &doctor,
                json!({"schedule_id": schedule, "resident_id": t.home_resident, "pool": "public"}),
            )
            .await;
        assert_eq!(r.json()["code"], "schedule_closed");
        assert_eq!(
            t.post(&cancel, &admin, json!({"reason": "再次"}))
                .await
                .json()["code"],
            "schedule_closed"
        );
    }
}

#[tokio::test]
async fn rejection_frees_the_slot_and_the_sender_may_cancel() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let specialist = t.token("specialist").await;
        let admin = t.token("hospadmin").await;
        let first = enrolled_contracted(&t, &doctor, 20).await;
        let second = enrolled_contracted(&t, &doctor, 21).await;
        let schedule = publish(&t, &admin, 2, 20).await;
        let refer = |patient: i64| {
            let t = &t;
            let doctor = doctor.clone();
            async move {
                t.post(
                    &format!("/api/v1/residents/{patient}/referrals"),
                    &doctor,
                    json!({"source": "manual", "disease": "hypertension", "reason": "血压控制不满意，联合用药后仍不达标"}),
                )
                .await
            }
        };
        let r = refer(first).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let a = r.json()["id"].as_i64().unwrap();
        let r = refer(second).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let b = r.json()["id"].as_i64().unwrap();
        let s = t
            .get(&format!("/api/v1/schedules/{schedule}"), &admin)
            .await
            .json();
        assert_eq!(s["reserved"]["free"], 0, "{s}");

        // Rejection needs a reason, frees the slot and ends access.
        let reject = format!("/api/v1/referrals/{a}/reject");
        let r = t.post(&reject, &specialist, json!({})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        let r = t
            .post(
                &reject,
                &specialist,
                json!({"reason": "建议先至二级医院就诊"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["reject_reason"], "建议先至二级医院就诊");
        let s = t
            .get(&format!("/api/v1/schedules/{schedule}"), &admin)
            .await
            .json();
        assert_eq!(s["reserved"]["free"], 1);
        let record = format!("/api/v1/residents/{first}");
        assert_eq!(
            t.get(&record, &specialist).await.status,
            StatusCode::FORBIDDEN
        );

        // The sender cancels the other before arrival; after that nothing more happens.
        let r = t
            .post(&format!("/api/v1/referrals/{b}/cancel"), &doctor, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["status"], "cancelled");
        let r = t
            .post(
                &format!("/api/v1/referrals/{b}/accept"),
                &specialist,
                json!({}),
            )
            .await;
        assert_eq!(r.json()["code"], "referral_not_open_for_step");
        let s = t
            .get(&format!("/api/v1/schedules/{schedule}"), &admin)
            .await
            .json();
        assert_eq!(s["reserved"]["free"], 2);
        let inbox = t
            .get("/api/v1/referrals?box=inbox", &specialist)
            .await
            .json();
        assert!(ids(&inbox).is_empty());
        // The resident's referral history shows both outcomes.
        let r = t
            .get(&format!("/api/v1/residents/{first}/referrals"), &doctor)
            .await;
        assert_eq!(r.json()["items"][0]["status"], "rejected");
    }
}

#[tokio::test]
async fn a_public_referral_takes_reserved_slots_once_released() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let admin = t.token("hospadmin").await;
        let patient = enrolled_contracted(&t, &doctor, 40).await;
        // Every slot reserved, released to the public two days before the visit.
        let r = t
            .send_json(
                "PUT",
                "/api/v1/reserve-policy",
                &admin,
                json!({"department_id": t.cardio, "reserved_percent": 100, "release_days": 2})
                    .to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let path = format!("/api/v1/residents/{patient}/referrals");
        let refer = || {
            t.post(
                &path,
                &doctor,
                json!({"source": "manual", "disease": "hypertension", "via": "public",
                       "reason": "血压控制不满意，联合用药后仍不达标"}),
            )
        };
        // Five days ahead: still the family doctors' alone.
        publish(&t, &admin, 5, 4).await;
        let r = refer().await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.json()["code"], "no_slot_left", "{}", r.text);
        // Tomorrow: released, so the public referral books one.
        let tomorrow = publish(&t, &admin, 1, 4).await;
        let r = refer().await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let referral = r.json();
        assert_eq!(referral["booked_via"], "public", "{referral}");
        let booking = t
            .store
            .booking(referral["booking_id"].as_i64().unwrap())
            .await
            .unwrap();
        assert_eq!(booking.schedule_id, tomorrow);
    }
}
