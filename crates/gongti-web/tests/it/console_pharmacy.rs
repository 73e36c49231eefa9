//! The prescription check in the console: a family doctor drafts for a resident on
//! the record's page, sees the findings in words (a fragment as they type, the whole
//! page from the button), keeps what was typed; a nurse is refused with the real status.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::TestApp;

#[tokio::test]
async fn a_family_doctor_checks_a_draft_on_the_residents_page() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = sign_in(&t, "doctor").await;
    let profile = page(
        &t,
        &doctor,
        &format!("/residents/{}", t.home_resident),
        "zh",
    )
    .await;
    let link = format!("/residents/{}/prescribe", t.home_resident);
    assert!(profile.text.contains(&link), "{}", profile.text);
    let form_page = page(&t, &doctor, &link, "zh").await;
    assert_eq!(form_page.status, StatusCode::OK);
    assert!(
        form_page.text.contains("处方预审") && form_page.text.contains("氨氯地平"),
        "{}",
        form_page.text
    );
    let csrf = csrf_of(&form_page.text);
    let target = format!("{link}/check");
    // Online, with no offline diagnosis on record; 8 days of amlodipine and a second
    // calcium-channel blocker; a penicillin allergy and amoxicillin.
    let body = format!(
        "csrf={csrf}&channel=online&kind=normal&validity_days=1&allergies=%E9%9D%92%E9%9C%89%E7%B4%A0%E7%B1%BB\
         &line0_name=%E6%B0%A8%E6%B0%AF%E5%9C%B0%E5%B9%B3&line0_dose=5&line0_unit=mg&line0_times=1&line0_route=oral&line0_days=8\
         &line1_name=%E7%A1%9D%E8%8B%AF%E5%9C%B0%E5%B9%B3&line1_dose=30&line1_unit=mg&line1_times=1&line1_route=oral&line1_days=7\
         &line2_name=%E9%98%BF%E8%8E%AB%E8%A5%BF%E6%9E%97&line2_dose=500&line2_unit=mg&line2_times=3&line2_route=oral&line2_days=5"
    );
    let full = post_form(&t, &doctor, &target, &body).await;
    assert_eq!(full.status, StatusCode::OK, "{}", full.text);
    for words in [
        "不可开具",
        "非复诊（无线下诊断）",
        "用药天数超限",
        "重复用药",
        "过敏",
        "禁忌",
        "依据：",
    ] {
        assert!(full.text.contains(words), "{words} in {}", full.text);
    }
    // What was typed is kept, and no code leaks into the page.
    assert!(
        full.text.contains("value=\"阿莫西林\"") && full.text.contains("value=\"青霉素类\""),
        "{}",
        full.text
    );
    for code in [
        "online_first_visit",
        "duplicate_therapy",
        "supply_over_limit",
    ] {
        assert!(!full.text.contains(code), "{code} in {}", full.text);
    }
    // As the doctor types, the panel alone.
    let fragment = t
        .send(
            Request::post(&target)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, format!("gongti_session={doctor}"))
                .header("x-fragment", "1")
                .body(Body::from(body.clone()))
                .unwrap(),
        )
        .await;
    assert_eq!(fragment.status, StatusCode::OK);
    assert!(
        fragment.text.contains("不可开具") && !fragment.text.contains("<html"),
        "{}",
        fragment.text
    );
    let audit = t.audit_tail(1).await;
    assert_eq!(
        (audit[0].entry.action.as_str(), audit[0].entry.patient_id),
        ("prescription.check", Some(t.home_resident))
    );
    // An unknown drug is named by its line, in words.
    let bad = post_form(
        &t,
        &doctor,
        &target,
        &format!("csrf={csrf}&line0_name=%E4%B8%8D%E5%AD%98%E5%9C%A8&line0_dose=1&line0_unit=mg"),
    )
    .await;
    assert!(
        bad.text.contains("第1行 药品通用名：不在药品目录中"),
        "{}",
        bad.text
    );
    // A forged form is refused.
    let forged = post_form(&t, &doctor, &target, "csrf=forged&line0_name=x").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // A nurse has no link, and the page refuses her with its real status.
    let nurse = sign_in(&t, "nurse").await;
    let profile = page(&t, &nurse, &format!("/residents/{}", t.home_resident), "zh").await;
    assert!(!profile.text.contains(&link), "{}", profile.text);
    let refused = page(&t, &nurse, &link, "zh").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(refused.text.contains("无权"), "{}", refused.text);
    let csrf = csrf_of(&profile.text);
    let refused = post_form(
        &t,
        &nurse,
        &target,
        &format!("csrf={csrf}&line0_name=%E6%B0%A8%E6%B0%AF%E5%9C%B0%E5%B9%B3"),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
}
