//! End to end in headless Chromium (DOMAIN.md §3): a family doctor sees a home-reading
//! alert and refers with one click; the specialist accepts, records the visit and
//! refers the patient back with a plan; the family doctor's 14-day task appears. And a
//! resident books a visit on a phone-sized screen.

use fantoccini::Locator;
use serde_json::json;

use crate::browser::{browser_sign_in, chromedriver, connect, served, wait_for_url};
use crate::support::TestApp;

async fn click(c: &fantoccini::Client, css: &str) {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn status_is(c: &fantoccini::Client, expected: &str) {
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Id("referral-status")).await
            && e.text().await.unwrap_or_default().contains(expected)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "the referral never showed {expected}: {}",
        c.source().await.unwrap()
    );
}

#[tokio::test]
async fn an_alert_is_referred_with_one_click_accepted_and_referred_back() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    let admin = t.token("hospadmin").await;
    let patient = t.home_resident;
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
            .post(
                &format!("/api/v1/residents/{patient}/{path}"),
                &doctor,
                body,
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    }
    // A home reading at the urgent threshold raises an alert on the team's worklist.
    let taken = (t.app.now() - time::Duration::minutes(10))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = t
        .post(
            &format!("/api/v1/residents/{patient}/readings"),
            &doctor,
            json!({"client_reading_id": "cuff-1", "kind": "bp", "taken_at": taken, "sbp_mmhg": 186, "dbp_mmhg": 104}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    assert!(r.json()["alert_id"].is_i64(), "{}", r.text);
    let day = (t.app.today() + time::Duration::days(2)).to_string();
    let r = t
        .post(
            "/api/v1/schedules",
            &admin,
            json!({"department_id": t.cardio, "clinic_name": "高血压门诊", "day": day, "session": "am", "slot_count": 20}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);

    let base = served(t.router.clone()).await;
    let c = connect(port).await;

    // The family doctor: the alert, one click.
    browser_sign_in(&c, &base, "doctor").await;
    c.goto(&format!("{base}/workstation?list=alerts"))
        .await
        .unwrap();
    let list = c.wait().for_element(Locator::Id("worklist")).await.unwrap();
    assert!(list.text().await.unwrap().contains("张秀英"));
    click(&c, "#worklist form.refer button").await;
    wait_for_url(&c, "/referrals/").await;
    status_is(&c, "已申请").await;
    let page = c.source().await.unwrap();
    assert!(
        page.contains("心血管内科") && page.contains("186/104"),
        "{page}"
    );

    // The specialist: inbox, accept, arrival, visit, back down with a plan.
    c.delete_all_cookies().await.unwrap();
    browser_sign_in(&c, &base, "specialist").await;
    c.goto(&format!("{base}/referrals?box=inbox"))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::LinkText("张秀英"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(&c, "/referrals/").await;
    click(&c, "button[value=accept]").await;
    status_is(&c, "已接收").await;
    click(&c, "button[value=arrive]").await;
    status_is(&c, "已到院").await;
    click(&c, "button[value=see]").await;
    status_is(&c, "已接诊").await;
    c.find(Locator::Css("textarea[name=text]"))
        .await
        .unwrap()
        .send_keys("氨氯地平加至10mg，两周后社区复查")
        .await
        .unwrap();
    click(&c, "button[value=return]").await;
    status_is(&c, "已下转").await;
    let plan = c.find(Locator::Id("return-plan")).await.unwrap();
    assert!(plan.text().await.unwrap().contains("氨氯地平加至10mg"));

    // The family doctor's 14-day task is on the workstation.
    c.delete_all_cookies().await.unwrap();
    browser_sign_in(&c, &base, "doctor").await;
    c.goto(&format!("{base}/workstation?list=tasks"))
        .await
        .unwrap();
    let tasks = c.wait().for_element(Locator::Id("worklist")).await.unwrap();
    let text = tasks.text().await.unwrap();
    assert!(
        text.contains("张秀英") && text.contains("上级医院下转后随访"),
        "{text}"
    );
    let due = (t.app.today() + time::Duration::days(14)).to_string();
    assert!(text.contains(&due), "{text}");
    c.goto(&format!("{base}/referrals?box=returning"))
        .await
        .unwrap();
    let returning = c
        .wait()
        .for_element(Locator::Id("referrals"))
        .await
        .unwrap();
    assert!(returning.text().await.unwrap().contains("待随访"));
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_resident_books_on_a_phone_sized_screen() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    let admin = t.token("hospadmin").await;
    let r = t
        .post(
            &format!("/api/v1/residents/{}/patient-account", t.home_resident),
            &doctor,
            json!({"username": "zxy", "password": "her-own-pass-1"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let day = (t.app.today() + time::Duration::days(3)).to_string();
    let r = t
        .post(
            "/api/v1/schedules",
            &admin,
            json!({"department_id": t.cardio, "clinic_name": "高血压门诊", "day": day, "session": "am", "slot_count": 10}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);

    let base = served(t.router.clone()).await;
    let c = connect(port).await;
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/patient")).await.unwrap();
    wait_for_url(&c, "/patient/login").await;
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys("zxy")
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys("her-own-pass-1")
        .await
        .unwrap();
    click(&c, "button[type=submit]").await;
    let book = c
        .wait()
        .for_element(Locator::Css("div.slotcard button.primary"))
        .await
        .unwrap();
    // On a phone the booking button spans the card: easy to tap.
    let (_, _, width, _) = book.rectangle().await.unwrap();
    assert!(
        width > 250.0,
        "the book button is {width}px wide on a 390px screen"
    );
    assert!(book.text().await.unwrap().contains("余 9"));
    book.click().await.unwrap();
    // Asked first, then booked.
    c.wait().for_element(Locator::Id("confirm")).await.unwrap();
    click(&c, "button.primary").await;
    let cancel = c
        .wait()
        .for_element(Locator::XPath("//button[contains(., '取消预约')]"))
        .await
        .unwrap();
    assert!(cancel.is_displayed().await.unwrap());
    assert!(c.source().await.unwrap().contains("余 8"));
    c.close().await.unwrap();
}
