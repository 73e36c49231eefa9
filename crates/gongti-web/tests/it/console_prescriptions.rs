//! Issuing and reviewing in the console: the doctor signs a prescription from the
//! prescribing form with her password (a wrong one keeps the draft and signs nothing),
//! the pharmacist finds it in 处方审核 and passes it with his, the trail shows both
//! signatures verified; the doctor's 我的处方 lists it passed.

use axum::http::StatusCode;
use gongti_core::role::Role;
use gongti_store::NewStaff;

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::{PASSWORD, TestApp, urlencode};

#[tokio::test]
async fn a_doctor_issues_and_a_pharmacist_passes_in_the_console() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let staff = t
        .store
        .insert_staff(
            &NewStaff {
                name: "刘洋".into(),
                role: Role::Pharmacist,
                institution_id: Some(t.home),
                district_code: Some("120101".into()),
                department_id: None,
                licence_number: None,
                title: Some("主管药师".into()),
                practice_years: 6,
            },
            1,
            &[],
        )
        .await
        .unwrap();
    t.app
        .create_user("yaoshi", PASSWORD, staff.id)
        .await
        .unwrap();

    let doctor = sign_in(&t, "doctor").await;
    let form_page = page(
        &t,
        &doctor,
        &format!("/residents/{}/prescribe", t.home_resident),
        "zh",
    )
    .await;
    assert!(form_page.text.contains("签名并签发"), "{}", form_page.text);
    let csrf = csrf_of(&form_page.text);
    let draft = format!(
        "csrf={csrf}&channel=clinic&kind=normal&validity_days=1&allergies=&line0_name={}&line0_dose=5&line0_unit=mg&line0_times=1&line0_route=oral&line0_days=7",
        urlencode("苯磺酸氨氯地平片")
    );
    let path = format!("/residents/{}/prescribe/issue", t.home_resident);
    let wrong = post_form(&t, &doctor, &path, &format!("{draft}&password=wrong-one")).await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.text
    );
    assert!(
        wrong.text.contains("密码不正确，未签名")
            && wrong.text.contains("value=\"苯磺酸氨氯地平片\""),
        "the draft is kept: {}",
        wrong.text
    );
    assert!(
        !wrong.text.contains("wrong-one"),
        "the password is never sent back"
    );
    let issued = post_form(&t, &doctor, &path, &format!("{draft}&password={PASSWORD}")).await;
    assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.text);
    let at = issued.headers["location"].to_str().unwrap().to_owned();
    assert!(
        at.starts_with("/prescriptions/") && at.ends_with("?done=issue"),
        "{at}"
    );
    let shown = page(&t, &doctor, &at, "zh").await;
    assert!(
        shown.text.contains("处方已签发")
            && shown.text.contains("待审核")
            && shown.text.contains("✓ 验证通过"),
        "{}",
        shown.text
    );

    let pharmacist = sign_in(&t, "yaoshi").await;
    let home = page(&t, &pharmacist, "/", "zh").await;
    assert!(home.text.contains("/review"), "{}", home.text);
    let queue = page(&t, &pharmacist, "/review", "zh").await;
    assert_eq!(queue.status, StatusCode::OK);
    let id: i64 = at["/prescriptions/".len()..at.find('?').unwrap()]
        .parse()
        .unwrap();
    assert!(
        queue
            .text
            .contains(&format!("href=\"/prescriptions/{id}\""))
            && queue.text.contains("待审处方 <strong>1</strong>"),
        "{}",
        queue.text
    );
    let rx = page(&t, &pharmacist, &format!("/prescriptions/{id}"), "zh").await;
    assert!(
        rx.text.contains("审核通过") && rx.text.contains("退回医生"),
        "{}",
        rx.text
    );
    let csrf = csrf_of(&rx.text);
    // A return without a reason is refused with the page again.
    let r = post_form(
        &t,
        &pharmacist,
        &format!("/prescriptions/{id}/step"),
        &format!("csrf={csrf}&step=return&version=1&reason="),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("必填"), "{}", r.text);
    let r = post_form(
        &t,
        &pharmacist,
        &format!("/prescriptions/{id}/step"),
        &format!("csrf={csrf}&step=pass&version=1&password={PASSWORD}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let passed = page(
        &t,
        &pharmacist,
        &format!("/prescriptions/{id}?done=pass"),
        "zh",
    )
    .await;
    assert!(
        passed.text.contains("药师审核通过") && passed.text.matches("✓ 验证通过").count() == 2,
        "{}",
        passed.text
    );
    let mine = page(&t, &doctor, "/my-prescriptions?status=passed", "zh").await;
    assert!(mine.text.contains(&format!("#{id}")), "{}", mine.text);
}

#[tokio::test]
async fn the_doctor_sends_it_for_delivery_and_the_pharmacy_fills_and_delivers_it() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let reviewer = crate::prescriptions::pharmacist(&t, "yaoshi", t.home, "主管药师", 6).await;
    let doctor_token = t.token("doctor").await;
    let d = crate::prescriptions::draft(
        &t,
        vec![crate::prescriptions::line(
            "苯磺酸氨氯地平片",
            5.0,
            "mg",
            1,
            7,
        )],
        &[],
    );
    let id = t
        .post(
            "/api/v1/prescriptions",
            &doctor_token,
            crate::prescriptions::issue_body(&d, PASSWORD),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    crate::prescriptions::step(
        &t,
        &reviewer,
        id,
        serde_json::json!({"step": "pass", "password": PASSWORD}),
    )
    .await;

    // The doctor picks the home centre's pharmacy and delivery, for the patient.
    let doctor = sign_in(&t, "doctor").await;
    let rx = page(&t, &doctor, &format!("/prescriptions/{id}"), "zh").await;
    assert!(
        rx.text.contains("处方流转") && rx.text.contains("配送到家"),
        "{}",
        rx.text
    );
    let csrf = csrf_of(&rx.text);
    let r = post_form(
        &t,
        &doctor,
        &format!("/prescriptions/{id}/route"),
        &format!(
            "csrf={csrf}&pharmacy_id={}&fulfilment=delivery&delivery_address=",
            t.home
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("必填"), "{}", r.text);
    let r = post_form(
        &t,
        &doctor,
        &format!("/prescriptions/{id}/route"),
        &format!(
            "csrf={csrf}&pharmacy_id={}&fulfilment=delivery&delivery_address={}",
            t.home,
            urlencode("和平区南京路1号")
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    // The pharmacy: the board lists it; no stock, then counted, then filled.
    let pharmacist = sign_in(&t, "yaoshi").await;
    let board = page(&t, &pharmacist, "/pharmacy", "zh").await;
    assert!(
        board
            .text
            .contains(&format!("href=\"/prescriptions/{id}\""))
            && board.text.contains("待调配"),
        "{}",
        board.text
    );
    let csrf = csrf_of(&board.text);
    let rx = page(&t, &pharmacist, &format!("/prescriptions/{id}"), "zh").await;
    assert!(rx.text.contains("调配并打包待配送"), "{}", rx.text);
    let r = post_form(
        &t,
        &pharmacist,
        &format!("/prescriptions/{id}/dispense"),
        &format!("csrf={csrf}&fulfilment=delivery"),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.text.contains("库存不足"), "{}", r.text);
    let r = post_form(
        &t,
        &pharmacist,
        "/pharmacy/stock",
        &format!("csrf={csrf}&product_code=amlodipine-tablet-5mg-28&on_hand_packs=10"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = post_form(
        &t,
        &pharmacist,
        &format!("/prescriptions/{id}/dispense"),
        &format!("csrf={csrf}&fulfilment=delivery"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let filled = page(
        &t,
        &pharmacist,
        &format!("/prescriptions/{id}?done=dispense"),
        "zh",
    )
    .await;
    assert!(
        filled.text.contains("已调配待发出")
            && filled.text.contains("苯磺酸氨氯地平片 × 1盒")
            && filled.text.contains("发出"),
        "{}",
        filled.text
    );
    for step in ["dispatch", "in_transit"] {
        let r = post_form(
            &t,
            &pharmacist,
            &format!("/prescriptions/{id}/delivery"),
            &format!("csrf={csrf}&step={step}"),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{step}: {}", r.text);
    }
    let code = t
        .store
        .fill(id)
        .await
        .unwrap()
        .unwrap()
        .recipient_code
        .unwrap();
    let r = post_form(
        &t,
        &pharmacist,
        &format!("/prescriptions/{id}/delivery"),
        &format!("csrf={csrf}&step=deliver&recipient_code={code}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let done = page(&t, &doctor, &format!("/prescriptions/{id}"), "zh").await;
    assert!(
        done.text.contains("已签收") && done.text.contains("已调配"),
        "{}",
        done.text
    );
    let board = page(&t, &pharmacist, "/pharmacy", "zh").await;
    assert!(
        !board
            .text
            .contains(&format!("href=\"/prescriptions/{id}\"")),
        "delivered: off the board"
    );
}

#[tokio::test]
async fn the_doctor_shows_the_patient_their_share_settles_it_and_the_insurer_sees_the_figures() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let reviewer = crate::prescriptions::pharmacist(&t, "yaoshi", t.home, "主管药师", 6).await;
    let doctor_token = t.token("doctor").await;
    let d = crate::prescriptions::draft(
        &t,
        vec![crate::prescriptions::line(
            "苯磺酸氨氯地平片",
            5.0,
            "mg",
            1,
            7,
        )],
        &[],
    );
    let id = t
        .post(
            "/api/v1/prescriptions",
            &doctor_token,
            crate::prescriptions::issue_body(&d, PASSWORD),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    crate::prescriptions::step(
        &t,
        &reviewer,
        id,
        serde_json::json!({"step": "pass", "password": PASSWORD}),
    )
    .await;
    let resident = t.home_resident;
    crate::settlement::insure(&t).await;
    crate::settlement::certify_hypertension(&t).await;

    let doctor = sign_in(&t, "doctor").await;
    let rx = page(&t, &doctor, &format!("/prescriptions/{id}"), "zh").await;
    assert!(rx.text.contains("医保预结算"), "{}", rx.text);
    let csrf = csrf_of(&rx.text);
    let shown = post_form(
        &t,
        &doctor,
        &format!("/prescriptions/{id}/settlement/preview"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    // One box: 23.80, the fund 80 % (19.04), the patient 4.76.
    assert!(
        shown.text.contains("19.04 元")
            && shown.text.contains("4.76 元")
            && shown.text.contains("患者已确认，结算"),
        "{}",
        shown.text
    );
    let r = post_form(
        &t,
        &doctor,
        &format!("/prescriptions/{id}/settlement"),
        &format!("csrf={csrf}&expected_cash_fen=476&use_account="),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let settled = page(
        &t,
        &doctor,
        &format!("/prescriptions/{id}?done=settle"),
        "zh",
    )
    .await;
    assert!(
        settled.text.contains("医保结算完成") && settled.text.contains("冲销结算"),
        "{}",
        settled.text
    );

    let insurer = sign_in(&t, "insurer").await;
    let home = page(&t, &insurer, "/", "zh").await;
    assert!(home.text.contains("/settlements"), "{}", home.text);
    let list = page(&t, &insurer, "/settlements", "zh").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.text.contains("19.04") && list.text.contains("高血压"),
        "{}",
        list.text
    );
    let name = t.store.resident(resident).await.unwrap().name;
    assert!(!list.text.contains(&name), "no names: {}", list.text);
}

#[tokio::test]
async fn a_returned_prescription_is_revised_from_the_console_as_a_new_version() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let reviewer = crate::prescriptions::pharmacist(&t, "yaoshi", t.home, "主管药师", 6).await;
    let doctor_token = t.token("doctor").await;
    let d = crate::prescriptions::draft(
        &t,
        vec![crate::prescriptions::line("阿莫西林", 500.0, "mg", 3, 5)],
        &["青霉素类"],
    );
    let id = t
        .post(
            "/api/v1/prescriptions",
            &doctor_token,
            crate::prescriptions::issue_body(&d, PASSWORD),
        )
        .await
        .json()["id"]
        .as_i64()
        .unwrap();
    let r = crate::prescriptions::step(
        &t,
        &reviewer,
        id,
        serde_json::json!({"step": "return", "reason": "青霉素过敏"}),
    )
    .await;
    assert_eq!(r.json()["status"], "returned", "{}", r.text);

    let doctor = sign_in(&t, "doctor").await;
    let rx = page(&t, &doctor, &format!("/prescriptions/{id}"), "zh").await;
    let link = format!("/residents/{}/prescribe?revise={id}", t.home_resident);
    assert!(
        rx.text.contains(&link.replace('&', "&amp;")) || rx.text.contains(&link),
        "{}",
        rx.text
    );
    let form = page(&t, &doctor, &link, "zh").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(
        form.text.contains("value=\"阿莫西林\"")
            && form.text.contains("签名并重开")
            && form.text.contains(&format!("修改重开处方 #{id}")),
        "{}",
        form.text
    );
    let csrf = csrf_of(&form.text);
    let body = format!(
        "csrf={csrf}&revise={id}&version=1&channel=clinic&kind=normal&validity_days=1&allergies={}&line0_name={}&line0_dose=5&line0_unit=mg&line0_times=1&line0_route=oral&line0_days=5&password={PASSWORD}",
        urlencode("青霉素类"),
        urlencode("苯磺酸氨氯地平片")
    );
    let r = post_form(
        &t,
        &doctor,
        &format!("/residents/{}/prescribe/revise", t.home_resident),
        &body,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let revised = page(
        &t,
        &doctor,
        &format!("/prescriptions/{id}?done=revise"),
        "zh",
    )
    .await;
    assert!(
        revised.text.contains("医生修改重开")
            && revised.text.contains("第 2 版")
            && revised.text.contains("待审核"),
        "{}",
        revised.text
    );
}
