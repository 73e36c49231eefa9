//! Schedule management and the booking page in the console, through the forms a
//! browser would send (session cookie and CSRF token).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::console::{page, sign_in};
use crate::support::{Reply, TestApp};

pub(crate) async fn post_form(t: &TestApp, session: &str, path: &str, form: &str) -> Reply {
    t.send(
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("gongti_session={session}"))
            .body(Body::from(form.to_owned()))
            .unwrap(),
    )
    .await
}

/// The CSRF token the page's forms carry.
pub(crate) fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_hospital_publishes_in_the_console_and_a_doctor_books_from_the_phone_page() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let admin = sign_in(&t, "hospadmin").await;
    let list = page(&t, &admin, "/schedules", "zh").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.text.contains("发布排班") && list.text.contains("心血管内科"),
        "{}",
        list.text
    );
    let csrf = csrf_of(&list.text);
    let day = (t.app.today() + time::Duration::days(4)).to_string();
    let form = format!(
        "csrf={csrf}&department_id={}&clinic_name=%E9%AB%98%E8%A1%80%E5%8E%8B&day={day}&session=am&slot_count=10",
        t.cardio
    );
    // A forged form (no matching token) changes nothing.
    let forged = post_form(&t, &admin, "/schedules", &form.replace(&csrf, "forged")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // A bad day and no slot count: both said in words, the form shown again as it was
    // filled in, nothing published.
    let bad = post_form(
        &t,
        &admin,
        "/schedules",
        &form
            .replace(&day, "2026-13-40")
            .replace("slot_count=10", "slot_count="),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    for kept in [
        "value=\"高血压\"",
        "value=\"2026-13-40\"",
        "日期",
        "号源数",
        "格式不正确",
    ] {
        assert!(bad.text.contains(kept), "{kept}: {}", bad.text);
    }
    assert!(
        bad.text
            .contains(&format!("<option value=\"{}\" selected>", t.cardio)),
        "{}",
        bad.text
    );
    // The same for the reserved share: a share out of range keeps what was typed.
    let policy = post_form(
        &t,
        &admin,
        "/schedules/policy",
        &format!("csrf={csrf}&department_id=&reserved_percent=150&release_days=2"),
    )
    .await;
    assert_eq!(
        policy.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        policy.text
    );
    assert!(policy.text.contains("value=\"150\""), "{}", policy.text);
    assert!(
        page(&t, &admin, "/schedules", "zh")
            .await
            .text
            .contains("未来两周暂无排班"),
        "nothing was published"
    );
    let r = post_form(&t, &admin, "/schedules", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let detail = page(&t, &admin, &location, "zh").await;
    assert!(
        detail.text.contains("家庭医生预留") && detail.text.contains("可约"),
        "{}",
        detail.text
    );
    // Capacity down to 6: still published, booked patients kept (none yet).
    let r = post_form(
        &t,
        &admin,
        &format!("{location}/capacity"),
        &format!("csrf={csrf}&slot_count=6"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let detail = page(&t, &admin, &location, "en").await;
    assert_eq!(detail.text.matches("<tr>").count(), 7, "{}", detail.text);

    // The family doctor books a public place for their patient from the booking page.
    let doctor = sign_in(&t, "doctor").await;
    let path = format!("/residents/{}/bookings", t.home_resident);
    let booking = page(&t, &doctor, &path, "zh").await;
    assert_eq!(booking.status, StatusCode::OK);
    assert!(
        booking.text.contains("width=device-width") && booking.text.contains("预约（余 5）"),
        "{}",
        booking.text
    );
    let csrf = csrf_of(&booking.text);
    let schedule = location.rsplit('/').next().unwrap();
    let r = post_form(
        &t,
        &doctor,
        &path,
        &format!("csrf={csrf}&schedule_id={schedule}&pool=public"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let booking = page(&t, &doctor, &path, "zh").await;
    assert!(
        booking.text.contains("已有预约") && booking.text.contains("取消预约"),
        "{}",
        booking.text
    );
    // A second booking the same day in the same department is refused, with the reason.
    let r = post_form(
        &t,
        &doctor,
        &path,
        &format!("csrf={csrf}&schedule_id={schedule}&pool=public"),
    )
    .await;
    assert!(r.text.contains("该居民当天在该科室已有预约"), "{}", r.text);

    // 停诊: the clinic goes, and the booked patient is listed to contact.
    let detail = page(&t, &admin, &location, "zh").await;
    let csrf = csrf_of(&detail.text);
    let r = post_form(
        &t,
        &admin,
        &format!("{location}/cancel"),
        &format!("csrf={csrf}&reason=%E4%B8%93%E5%AE%B6%E5%A4%96%E5%87%BA"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.text.contains("已停诊") && r.text.contains("张秀英"),
        "{}",
        r.text
    );
}
