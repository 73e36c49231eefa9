//! 用药规则 in the console: the institution's administrator disables a rule with a
//! reason and confirms another; a refused decision comes back with its real status and
//! the reason named; a doctor reads the list without the forms; the check follows.

use axum::http::StatusCode;
use serde_json::json;

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::TestApp;

#[tokio::test]
async fn an_administrator_reviews_the_rules_in_the_console() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let admin = sign_in(&t, "instadmin").await;
    let home = page(&t, &admin, "/", "zh").await;
    assert!(home.text.contains("/drug-rules"), "{}", home.text);
    let list = page(&t, &admin, "/drug-rules", "zh").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.text.contains("氯吡格雷 + 奥美拉唑")
            && list.text.contains("未审定")
            && list.text.contains("停用理由"),
        "{}",
        list.text
    );
    let csrf = csrf_of(&list.text);
    // No reason: refused with its status, the reason named, the list again.
    let r = post_form(
        &t,
        &admin,
        "/drug-rules/ddi-001",
        &format!("csrf={csrf}&kind=interaction&state=disabled&reason="),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("原因：必填") && r.text.contains("氯吡格雷 + 奥美拉唑"),
        "{}",
        r.text
    );
    let r = post_form(
        &t,
        &admin,
        "/drug-rules/ddi-001",
        &format!("csrf={csrf}&kind=interaction&state=disabled&reason=%E6%9C%AC%E9%99%A2%E6%94%B9%E7%94%A8%E6%B3%AE%E6%89%98%E6%8B%89%E5%94%91"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let after = page(
        &t,
        &admin,
        "/drug-rules?kind=interaction&saved=ddi-001",
        "zh",
    )
    .await;
    assert!(
        after.text.contains("已停用")
            && after.text.contains("本院改用泮托拉唑")
            && after.text.contains("已保存：氯吡格雷 + 奥美拉唑"),
        "{}",
        after.text
    );
    let csrf = csrf_of(&after.text);
    let r = post_form(
        &t,
        &admin,
        "/drug-rules/ddi-002",
        &format!("csrf={csrf}&kind=interaction&state=confirmed"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);

    // The doctor reads the list, without the forms; the disabled interaction is gone
    // from her checks.
    let doctor = sign_in(&t, "doctor").await;
    let list = page(&t, &doctor, "/drug-rules?kind=interaction", "zh").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.text.contains("已停用") && !list.text.contains("停用理由"),
        "{}",
        list.text
    );
    let token = t.token("doctor").await;
    let answer = t
        .post(
            "/api/v1/prescriptions/check",
            &token,
            json!({"patient": {"age_years": 70, "sex": "male", "diagnoses": ["I25", "K21"]}, "lines": [
                {"generic_name": "氯吡格雷", "dose": 75, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 7},
                {"generic_name": "奥美拉唑", "dose": 20, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 7}]}),
        )
        .await
        .json();
    assert_eq!(answer["verdict"], "clear", "{answer}");
    // The city's officer belongs to no institution: refused with its status.
    let officer = sign_in(&t, "officer").await;
    assert_eq!(
        page(&t, &officer, "/drug-rules", "zh").await.status,
        StatusCode::FORBIDDEN
    );
}
