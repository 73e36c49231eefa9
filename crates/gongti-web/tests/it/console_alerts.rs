//! Alerts that are seen (DOMAIN.md §2 urgent readings): an urgent home reading is a
//! banner on the workstation and on the patient's page, with the reading, the
//! emergency referral and "handled"; the chart marks the point; once handled, the
//! banners go and the trail has it.

use axum::http::{StatusCode, header};
use serde_json::json;

use crate::console::{page, sign_in};
use crate::console_referrals::enrolled;
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::TestApp;

#[tokio::test]
async fn an_urgent_reading_is_a_banner_until_handled() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let token = t.token("doctor").await;
    let patient = enrolled(&t, &token, 7).await;
    let taken = (t.app.now() - time::Duration::minutes(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = t
        .post(
            &format!("/api/v1/residents/{patient}/readings"),
            &token,
            json!({"client_reading_id": "cuff-9", "kind": "bp", "taken_at": taken, "sbp_mmhg": 192, "dbp_mmhg": 116}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let alert = r.json()["alert_id"].as_i64().expect("an alert");

    let doctor = sign_in(&t, "doctor").await;
    // The home page counts it among the team's work.
    let home = page(&t, &doctor, "/", "zh").await;
    assert!(
        home.text
            .contains("href=\"/workstation?list=alerts\"><strong>1</strong><span>紧急预警待处理"),
        "{}",
        home.text
    );
    let desk = page(&t, &doctor, "/workstation", "zh").await;
    assert!(
        desk.text.contains("alert-banner") && desk.text.contains("1 条紧急预警待处理"),
        "{}",
        desk.text
    );
    let chronic_path = format!("/residents/{patient}/chronic");
    let chronic = page(&t, &doctor, &chronic_path, "zh").await;
    for shown in [
        "role=\"alert\"",
        "紧急预警",
        "192/116 mmHg",
        "紧急转诊（急诊）",
        "已处理（已联系患者）",
        "class=\"urgent\"",
        "自测紧急值",
    ] {
        assert!(chronic.text.contains(shown), "{shown}: {}", chronic.text);
    }

    // Handled from the patient's page: back there, and the banners are gone.
    let csrf = csrf_of(&chronic.text);
    let r = post_form(
        &t,
        &doctor,
        &format!("/alerts/{alert}/acknowledge"),
        &format!("csrf={csrf}&back=%2Fresidents%2F{patient}%2Fchronic"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], chronic_path.as_str());
    let chronic = page(&t, &doctor, &chronic_path, "zh").await;
    assert!(!chronic.text.contains("role=\"alert\""), "{}", chronic.text);
    // The point stays marked on the chart.
    assert!(chronic.text.contains("class=\"urgent\""));
    let desk = page(&t, &doctor, "/workstation", "zh").await;
    assert!(!desk.text.contains("alert-banner"), "{}", desk.text);
    let trail = t.audit_tail(200).await;
    assert!(
        trail
            .iter()
            .any(|e| e.entry.action == "alert.acknowledge" && e.entry.patient_id == Some(patient)),
        "handled is on the trail"
    );

    // Twice is a clear conflict with its status; a foreign "back" is not followed.
    let r = post_form(
        &t,
        &doctor,
        &format!("/alerts/{alert}/acknowledge"),
        &format!("csrf={csrf}&back=%2F%2Fevil.example"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("该提醒已被处理"), "{}", r.text);
    assert!(!r.text.contains("evil.example"), "{}", r.text);
}

#[tokio::test]
async fn each_role_is_shown_only_its_own_work() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    for (user, present, absent) in [
        (
            "doctor",
            &["/workstation", "/referrals", "/dashboard"][..],
            &[][..],
        ),
        (
            "specialist",
            &["/referrals", "/consultations", "待处理转入"][..],
            &["/workstation", "/dashboard"][..],
        ),
        (
            "district",
            &["/dashboard"][..],
            &["/workstation", "/referrals"][..],
        ),
        (
            "officer",
            &["/dashboard"][..],
            &["/workstation", "/schedules"][..],
        ),
    ] {
        let session = sign_in(&t, user).await;
        let home = page(&t, &session, "/", "zh").await;
        assert_eq!(home.status, StatusCode::OK);
        for p in present {
            assert!(
                home.text.contains(&format!("href=\"{p}")) || home.text.contains(p),
                "{user} {p}: {}",
                home.text
            );
        }
        for a in absent {
            assert!(
                !home.text.contains(&format!("href=\"{a}")),
                "{user} {a}: {}",
                home.text
            );
        }
    }
    // A page that cannot be shown answers with the error's own status.
    let specialist = sign_in(&t, "specialist").await;
    let refused = page(
        &t,
        &specialist,
        &format!("/residents/{}", t.home_resident),
        "zh",
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(refused.text.contains("无权访问"), "{}", refused.text);
    let missing = page(&t, &specialist, "/referrals/999999", "zh").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    // A district officer's dashboard offers no way up to the city it may not see.
    let district = sign_in(&t, "district").await;
    let board = page(&t, &district, "/dashboard?scope=district:120101", "zh").await;
    assert_eq!(board.status, StatusCode::OK, "{}", board.text);
    assert!(!board.text.contains("scope=city"), "{}", board.text);
}
