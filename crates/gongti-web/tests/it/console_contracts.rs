//! Contracts in the console (DOMAIN.md §5–§6): the resident's page shows the
//! contract, its team and term, packages and fee split; the team signs (the
//! resident consenting), renews near the end, and terminates with a reason —
//! each with its notice, a refused step with its real status and the form again.

use axum::http::{StatusCode, header};

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::TestApp;

#[tokio::test]
async fn the_team_signs_renews_and_terminates_on_the_residents_page() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = sign_in(&t, "doctor").await;
    let path = format!("/residents/{}", t.home_resident);
    let profile = page(&t, &doctor, &path, "zh").await;
    assert!(
        profile.text.contains("尚未签约") && profile.text.contains("王医生团队"),
        "{}",
        profile.text
    );
    // Codes of the record's access basis are words.
    assert!(
        !profile.text.contains("home_institution"),
        "{}",
        profile.text
    );
    let csrf = csrf_of(&profile.text);
    let form = |rest: &str| format!("csrf={csrf}&{rest}");
    let target = format!("{path}/contracts");

    // Not without the resident's consent: the reason, the status, the form again.
    let r = post_form(
        &t,
        &doctor,
        &target,
        &form(&format!("action=sign&team_id={}&package=elderly", t.team)),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("居民本人已知情并同意签约"), "{}", r.text);
    assert!(
        r.text.contains("居民同意：") && !r.text.contains("resident_consent"),
        "{}",
        r.text
    );

    let r = post_form(
        &t,
        &doctor,
        &target,
        &form(&format!(
            "action=sign&team_id={}&package=elderly&consent=on",
            t.team
        )),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        r.headers[header::LOCATION],
        format!("{path}?contract=sign").as_str()
    );
    let signed = page(&t, &doctor, &format!("{path}?contract=sign"), "zh").await;
    for shown in [
        "已签约",
        "生效中",
        "王医生团队",
        "190.00",
        "医保 60.00",
        "居民自付 50.00",
        "解约",
    ] {
        assert!(signed.text.contains(shown), "{shown}: {}", signed.text);
    }
    // Renewal opens only near the end of the term.
    assert!(!signed.text.contains("续约一年"), "{}", signed.text);
    assert!(signed.text.contains("天可续约或改签"), "{}", signed.text);

    // Eleven months on, it is ending soon and may be renewed.
    t.shift_clock(340);
    // (The session has long expired: sign in again.)
    let doctor = sign_in(&t, "doctor").await;
    let later = page(&t, &doctor, &path, "zh").await;
    assert!(
        later.text.contains("即将到期") && later.text.contains("续约一年"),
        "{}",
        later.text
    );
    let csrf = csrf_of(&later.text);
    let r = post_form(
        &t,
        &doctor,
        &target,
        &format!("csrf={csrf}&action=renew&package="),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let renewed = page(&t, &doctor, &format!("{path}?contract=renew"), "zh").await;
    assert!(
        renewed.text.contains("已续约") && renewed.text.contains("签约历史"),
        "{}",
        renewed.text
    );

    // Terminating needs a reason.
    let r = post_form(
        &t,
        &doctor,
        &target,
        &format!("csrf={csrf}&action=terminate&reason="),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = post_form(
        &t,
        &doctor,
        &target,
        &format!("csrf={csrf}&action=terminate&reason=%E8%BF%81%E5%87%BA%E6%9C%AC%E5%8C%BA"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let ended = page(&t, &doctor, &format!("{path}?contract=terminate"), "zh").await;
    for shown in ["已解约", "尚未签约", "迁出本区"] {
        assert!(ended.text.contains(shown), "{shown}: {}", ended.text);
    }
    // Each change is on the trail with the resident.
    let trail = t.audit_tail(200).await;
    for action in ["contract.sign", "contract.renew", "contract.terminate"] {
        assert!(
            trail
                .iter()
                .any(|e| e.entry.action == action && e.entry.patient_id == Some(t.home_resident)),
            "{action}"
        );
    }
}
