//! Remote consultation in the console: asked from the patient's page, answered from
//! the consulted hospital's inbox, the opinion shown to the family doctor.

use axum::http::{StatusCode, header};

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::TestApp;

#[tokio::test]
async fn a_consultation_is_asked_answered_and_closed_in_the_console() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = sign_in(&t, "doctor").await;
    let patient = format!("/residents/{}/chronic", t.home_resident);
    let chronic = page(&t, &doctor, &patient, "zh").await;
    assert!(
        chronic.text.contains("远程会诊") && chronic.text.contains("心血管内科"),
        "{}",
        chronic.text
    );
    let csrf = csrf_of(&chronic.text);
    let form = format!(
        "csrf={csrf}&resident_id={}&department_id={}&question=%E8%A1%80%E5%8E%8B%E6%B3%A2%E5%8A%A8%E5%A4%A7",
        t.home_resident, t.cardio
    );
    let r = post_form(&t, &doctor, "/consultations", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();

    let specialist = sign_in(&t, "specialist").await;
    let inbox = page(&t, &specialist, "/consultations?box=inbox", "zh").await;
    assert!(
        inbox.text.contains("张秀英") && inbox.text.contains("待答复"),
        "{}",
        inbox.text
    );
    let detail = page(&t, &specialist, &location, "zh").await;
    let csrf = csrf_of(&detail.text);
    let r = post_form(
        &t,
        &specialist,
        &format!("{location}/step"),
        &format!("csrf={csrf}&step=answer&text=%E5%8A%A0%E7%94%A8%E5%88%A9%E5%B0%BF%E5%89%82"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    let mine = page(&t, &doctor, &location, "zh").await;
    assert!(
        mine.text.contains("已答复") && mine.text.contains("加用利尿剂"),
        "{}",
        mine.text
    );
    let csrf = csrf_of(&mine.text);
    let r = post_form(
        &t,
        &doctor,
        &format!("{location}/step"),
        &format!("csrf={csrf}&step=close"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let closed = page(&t, &doctor, &location, "en").await;
    assert!(closed.text.contains("Closed"), "{}", closed.text);
    // The patient's page shows it on the timeline with the opinion.
    let chronic = page(&t, &doctor, &patient, "zh").await;
    assert!(
        chronic.text.contains("care-timeline") && chronic.text.contains("加用利尿剂"),
        "{}",
        chronic.text
    );
}
