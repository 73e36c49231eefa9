//! Referral for every patient in the console (DOMAIN.md §3, §5): a resident not
//! contracted with the doctor's team is told so, with the two ways forward — sign the
//! team's contract on the spot (the resident consenting) and book the reserved slot,
//! or book a public slot — and an urgent follow-up goes as an emergency.

use axum::http::{StatusCode, header};
use gongti_core::scheduling::Pool;
use serde_json::json;

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::{TestApp, id_number_born};

/// A resident of the doctor's centre under hypertension management, not contracted.
pub(crate) async fn enrolled(t: &TestApp, token: &str, sequence: u32) -> i64 {
    let r = t
        .post(
            "/api/v1/residents",
            token,
            json!({"name": format!("未签约{sequence}"), "id_number": id_number_born("19520304", sequence)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();
    let r = t
        .post(
            &format!("/api/v1/residents/{id}/enrolments"),
            token,
            json!({"icd10": "I10", "diagnosed_on": "2020-01-01"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    id
}

fn manual(csrf: &str, resident: i64) -> String {
    // 血压控制不佳 (the reason), url-encoded.
    format!(
        "csrf={csrf}&resident_id={resident}&source=manual&disease=hypertension&urgency=routine&reason=%E8%A1%80%E5%8E%8B%E6%8E%A7%E5%88%B6%E4%B8%8D%E4%BD%B3"
    )
}

async fn referral_of(t: &TestApp, token: &str, location: &str) -> serde_json::Value {
    let id = location.trim_start_matches("/referrals/");
    let r = t.get(&format!("/api/v1/referrals/{id}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

#[tokio::test]
async fn a_patient_without_a_contract_is_referred_by_signing_or_through_a_public_slot() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let token = t.token("doctor").await;
    let admin = t.token("hospadmin").await;
    crate::referrals::publish(&t, &admin, 3, 20).await;
    let first = enrolled(&t, &token, 1).await;
    let second = enrolled(&t, &token, 2).await;
    let doctor = sign_in(&t, "doctor").await;
    let chronic = page(&t, &doctor, &format!("/residents/{first}/chronic"), "zh").await;
    let csrf = csrf_of(&chronic.text);

    // Not contracted: the reason and the two ways forward, with the real status.
    let refused = post_form(&t, &doctor, "/referrals", &manual(&csrf, first)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    for shown in [
        "未与您的家庭医生团队签约",
        "签约并转诊",
        "居民本人已知情并同意签约",
        "预约普通号源",
        "医保",
        &format!("value=\"{}\"", t.team),
    ] {
        assert!(refused.text.contains(shown), "{shown}: {}", refused.text);
    }
    assert!(!refused.text.contains("无权访问"), "{}", refused.text);

    // Signing without the resident's consent is refused, nothing signed, and the
    // offers stay on the page.
    let sign = format!("{}&sign_team_id={}", manual(&csrf, first), t.team);
    let r = post_form(&t, &doctor, "/referrals", &sign).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("签约并转诊"), "{}", r.text);
    let contracts = t
        .get(&format!("/api/v1/residents/{first}/contracts"), &token)
        .await;
    assert_eq!(contracts.json()["items"].as_array().unwrap().len(), 0);

    // With consent: the contract, then the reserved slot.
    let r = post_form(&t, &doctor, "/referrals", &format!("{sign}&consent=on")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let referral = referral_of(&t, &token, &location).await;
    assert_eq!(referral["urgency"], "routine");
    let booking = t
        .store
        .booking(referral["booking_id"].as_i64().expect("a booking"))
        .await
        .unwrap();
    assert_eq!(booking.pool, Pool::Reserved);
    let contracts = t
        .get(&format!("/api/v1/residents/{first}/contracts"), &token)
        .await;
    let items = contracts.json()["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items[0]["team_id"], t.team);
    let signed = t.audit_tail(20).await;
    assert!(
        signed.iter().any(|e| e.entry.action == "contract.sign"
            && e.entry.detail.as_deref() == Some("consent=resident")),
        "the consent is on the trail"
    );
    let shown = page(&t, &doctor, &location, "zh").await;
    assert!(shown.text.contains("预留号就诊时间"), "{}", shown.text);

    // Or a public slot, no contract.
    let public = format!("{}&via=public", manual(&csrf, second));
    let r = post_form(&t, &doctor, "/referrals", &public).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let referral = referral_of(&t, &token, &location).await;
    let booking = t
        .store
        .booking(referral["booking_id"].as_i64().expect("a booking"))
        .await
        .unwrap();
    assert_eq!(booking.pool, Pool::Public);
    assert_eq!(referral["booked_via"], "public");
    let shown = page(&t, &doctor, &location, "zh").await;
    assert!(shown.text.contains("普通号就诊时间"), "{}", shown.text);
    assert!(!shown.text.contains("预留号就诊时间"), "{}", shown.text);
    let contracts = t
        .get(&format!("/api/v1/residents/{second}/contracts"), &token)
        .await;
    assert_eq!(contracts.json()["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn an_urgent_follow_up_is_referred_as_an_emergency() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let token = t.token("doctor").await;
    let patient = enrolled(&t, &token, 3).await;
    let r = t
        .post(
            &format!("/api/v1/residents/{patient}/followups"),
            &token,
            json!({"disease": "hypertension", "method": "clinic", "visit_on": t.app.today().to_string(),
                   "sbp_mmhg": 185, "dbp_mmhg": 100}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["urgent_referral"], true);
    let followup = r.json()["id"].as_i64().unwrap();
    let doctor = sign_in(&t, "doctor").await;
    let chronic = page(&t, &doctor, &format!("/residents/{patient}/chronic"), "zh").await;
    // The button says it goes as an emergency; no contract or slot is needed.
    assert!(
        chronic.text.contains("紧急转诊（急诊）"),
        "{}",
        chronic.text
    );
    let csrf = csrf_of(&chronic.text);
    let r = post_form(
        &t,
        &doctor,
        "/referrals",
        &format!("csrf={csrf}&resident_id={patient}&source=followup&source_id={followup}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let referral = referral_of(&t, &token, &location).await;
    assert_eq!(referral["urgency"], "emergency", "{referral}");
    assert!(referral["booking_id"].is_null(), "{referral}");
    let shown = page(&t, &doctor, &location, "zh").await;
    assert!(shown.text.contains("急诊通道"), "{}", shown.text);
}

#[tokio::test]
async fn signed_but_not_referred_is_said_and_another_teams_patient_gets_a_public_slot() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let token = t.token("doctor").await;
    // No clinic is published: signing works, the referral then finds no slot.
    let patient = enrolled(&t, &token, 4).await;
    let doctor = sign_in(&t, "doctor").await;
    let chronic = page(&t, &doctor, &format!("/residents/{patient}/chronic"), "zh").await;
    let csrf = csrf_of(&chronic.text);
    let sign = format!(
        "{}&sign_team_id={}&consent=on",
        manual(&csrf, patient),
        t.team
    );
    let r = post_form(&t, &doctor, "/referrals", &sign).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("已为居民签约"), "{}", r.text);
    assert!(
        !r.text.contains("签约并转诊"),
        "no second signing: {}",
        r.text
    );
    assert!(r.text.contains("预约普通号源"), "{}", r.text);

    // A patient of another team of the centre: no signing offered, a public slot is.
    let nurse = t
        .store
        .user_by_username("nurse")
        .await
        .unwrap()
        .unwrap()
        .staff_id;
    let other_team = t
        .store
        .insert_team(
            &gongti_store::NewTeam {
                institution_id: t.home,
                name: "第二团队".into(),
                doctor_staff_id: nurse,
                nurse_staff_id: nurse,
                public_health_staff_id: nurse,
            },
            1,
            &[],
        )
        .await
        .unwrap();
    let theirs = enrolled(&t, &token, 5).await;
    let r = t
        .store
        .apply_contract_plan(
            &gongti_store::ContractWrite {
                resident_id: theirs,
                close: Vec::new(),
                end_reason: None,
                open: Some(gongti_store::OpenContract {
                    term: gongti_core::contract::NewTerm {
                        team_id: other_team.id,
                        start_on: t.app.today(),
                        end_on: gongti_core::contract::term_end(t.app.today()),
                        previous_id: None,
                    },
                    institution_id: t.home,
                    packages: Vec::new(),
                    signed_by_staff_id: nurse,
                    care_until_us: i64::MAX / 2,
                }),
                now_us: 1,
            },
            &[],
        )
        .await;
    assert!(r.is_ok(), "{r:?}");
    let r = post_form(&t, &doctor, "/referrals", &manual(&csrf, theirs)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("已与其他家庭医生团队签约"), "{}", r.text);
    assert!(!r.text.contains("签约并转诊"), "{}", r.text);
    assert!(r.text.contains("预约普通号源"), "{}", r.text);
}

#[tokio::test]
async fn the_teams_nurse_refers_through_a_public_slot() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor_token = t.token("doctor").await;
    let admin = t.token("hospadmin").await;
    crate::referrals::publish(&t, &admin, 3, 20).await;
    let patient = enrolled(&t, &doctor_token, 7).await;
    // Contracted with the team: still the family doctor's reserved slot, not hers.
    let r = t
        .post(
            &format!("/api/v1/residents/{patient}/contracts"),
            &doctor_token,
            json!({"team_id": t.team, "resident_consent": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let nurse = sign_in(&t, "nurse").await;
    let chronic = page(&t, &nurse, &format!("/residents/{patient}/chronic"), "zh").await;
    let csrf = csrf_of(&chronic.text);
    let refused = post_form(&t, &nurse, "/referrals", &manual(&csrf, patient)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(
        refused.text.contains("预留号源由签约家庭医生")
            && refused.text.contains("预约普通号源")
            && !refused.text.contains("无权访问")
            && !refused.text.contains("签约并转诊"),
        "{}",
        refused.text
    );
    let r = post_form(
        &t,
        &nurse,
        "/referrals",
        &format!("{}&via=public", manual(&csrf, patient)),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let referral = referral_of(&t, &doctor_token, &location).await;
    let booking = t
        .store
        .booking(referral["booking_id"].as_i64().expect("a booking"))
        .await
        .unwrap();
    assert_eq!(booking.pool, Pool::Public);
}
