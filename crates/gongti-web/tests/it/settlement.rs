//! 门特 settlement over the API, on both engines (DOMAIN.md §6), through Gongti's
//! simulator of the bureau: the patient's share shown before they confirm and settled
//! only at that share, the year's fund paid accumulating and given back by a reversal
//! (also when the prescription is cancelled), the filled drugs the settled ones, and
//! the officer's list of figures without names.

use axum::http::StatusCode;
use gongti_store::{Certification, InsuredPerson};
use serde_json::{Value, json};

use crate::prescriptions::{draft, issue_body, line, pharmacist, step};
use crate::support::{PASSWORD, TestApp};

/// Insures the home resident under the simulator (城乡居民, working, no account).
pub(crate) async fn insure(t: &TestApp) {
    let resident = t.home_resident;
    t.store
        .set_insured(
            &InsuredPerson {
                resident_id: resident,
                psn_no: format!("SIMPSN{resident}"),
                insutype: "resident".into(),
                psn_type: "working".into(),
                account_balance_fen: 0,
            },
            1,
            &[],
        )
        .await
        .unwrap();
}

/// Certifies the home resident's hypertension for 门特, from 30 days ago for 300 days.
pub(crate) async fn certify_hypertension(t: &TestApp) {
    let today = t.app.today();
    t.store
        .certify_chronic(
            t.home_resident,
            &Certification {
                disease: "hypertension".into(),
                valid_from: today - time::Duration::days(30),
                valid_until: today + time::Duration::days(300),
            },
            1,
            &[],
        )
        .await
        .unwrap();
}

/// Amlodipine 5 mg (甲) and valsartan 80 mg (乙) for 28 days, passed.
pub(crate) async fn passed(t: &TestApp, doctor: &str, reviewer: &str) -> i64 {
    let d = draft(
        t,
        vec![
            line("苯磺酸氨氯地平片", 5.0, "mg", 1, 28),
            line("缬沙坦", 80.0, "mg", 1, 28),
        ],
        &[],
    );
    let mut body = issue_body(&d, PASSWORD);
    body["supply_reason"] = json!("高血压慢病长期用药");
    let r = t.post("/api/v1/prescriptions", doctor, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();
    let r = step(
        t,
        reviewer,
        id,
        json!({"step": "pass", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.json()["status"], "passed", "{}", r.text);
    id
}

fn sums_hold(a: &Value) {
    for l in a["lines"].as_array().unwrap() {
        let part = |k: &str| l[k].as_i64().unwrap();
        assert_eq!(
            part("amount_fen"),
            part("fully_self_fen")
                + part("over_cap_fen")
                + part("pre_self_fen")
                + part("in_scope_fen"),
            "{l}"
        );
    }
    let f = |k: &str| a[k].as_i64().unwrap();
    assert_eq!(f("total_fen"), f("fund_fen") + f("patient_fen"), "{a}");
    assert_eq!(f("patient_fen"), f("account_fen") + f("cash_fen"), "{a}");
}

#[tokio::test]
async fn a_prescription_settles_at_the_share_shown_and_a_reversal_gives_the_year_back() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let reviewer = pharmacist(&t, "yaoshi", t.home, "主管药师", 5).await;
        let id = passed(&t, &doctor, &reviewer).await;
        let preview = format!("/api/v1/prescriptions/{id}/settlement/preview");
        let r = t.post(&preview, &doctor, json!({})).await;
        assert_eq!(r.json()["code"], "not_insured", "{}", r.text);
        let resident = t.home_resident;
        insure(&t).await;
        let r = t.post(&preview, &doctor, json!({})).await;
        assert_eq!(r.json()["code"], "no_chronic_certification", "{}", r.text);
        let today = t.app.today();
        certify_hypertension(&t).await;

        // The patient's share: one box of amlodipine (23.80, 甲) and four of valsartan
        // (4 × 14.20, 乙: 10 % first), 80 % of the rest from the fund (demo policy).
        let r = t.post(&preview, &doctor, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let shown = r.json();
        sums_hold(&shown);
        assert_eq!(shown["total_fen"], 2_380 + 4 * 1_420);
        assert_eq!(shown["lines"][1]["pre_self_fen"], 568);
        assert_eq!(
            shown["fund_fen"], 5_994,
            "80 % of 2,380 + 5,112, rounded once"
        );
        assert_eq!(shown["cash_fen"], 2_066);
        assert_eq!(shown["policy_version"], "demo-2026.1");

        // Settled only for the share shown; once.
        let settle = format!("/api/v1/prescriptions/{id}/settlement");
        let r = t
            .post(&settle, &doctor, json!({"expected_cash_fen": 100}))
            .await;
        assert_eq!(r.json()["code"], "settlement_changed", "{}", r.text);
        let r = t
            .post(&settle, &doctor, json!({"expected_cash_fen": 2_066}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let settled = r.json();
        sums_hold(&settled);
        assert!(settled["setl_id"].as_str().unwrap().starts_with("SIMSETL"));
        let r = t
            .post(&settle, &doctor, json!({"expected_cash_fen": 2_066}))
            .await;
        assert_eq!(r.json()["code"], "already_settled", "{}", r.text);
        let year = today.year();
        assert_eq!(
            t.store.insurance_year(resident, year).await.unwrap(),
            (0, 5_994)
        );

        // A second prescription's fund share adds to the year; cancelling it reverses it.
        let second = passed(&t, &doctor, &reviewer).await;
        let r = t
            .post(
                &format!("/api/v1/prescriptions/{second}/settlement"),
                &doctor,
                json!({"expected_cash_fen": 2_066}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(
            t.store.insurance_year(resident, year).await.unwrap(),
            (0, 11_988)
        );
        let r = step(
            &t,
            &doctor,
            second,
            json!({"step": "cancel", "reason": "患者改用其他方案"}),
        )
        .await;
        assert_eq!(r.json()["status"], "cancelled", "{}", r.text);
        assert_eq!(
            t.store.insurance_year(resident, year).await.unwrap(),
            (0, 5_994)
        );
        let kept = t
            .get(
                &format!("/api/v1/prescriptions/{second}/settlements"),
                &doctor,
            )
            .await
            .json();
        assert_eq!(kept["items"][0]["status"], "reversed", "{kept}");

        // Filled with the products it was settled for; no reversal once filled.
        for product in ["amlodipine-tablet-5mg-28", "valsartan-capsule-80mg-7"] {
            let r = t
                .send_json(
                    "PUT",
                    &format!("/api/v1/pharmacy/stock/{product}"),
                    &reviewer,
                    json!({"on_hand_packs": 10}).to_string(),
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        }
        let r = t
            .post(&format!("/api/v1/prescriptions/{id}/dispense"), &reviewer, json!({"fulfilment": "pickup", "collector_name": "本人", "collector_id_number": "11010519491231002X"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let packs: Vec<i64> = r.json()["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["packs"].as_i64().unwrap())
            .collect();
        assert_eq!(packs, [1, 4]);
        let r = t
            .post(
                &format!("/api/v1/prescriptions/{id}/settlement/reverse"),
                &doctor,
                json!({}),
            )
            .await;
        assert_eq!(r.json()["code"], "already_dispensed", "{}", r.text);

        // Never settled once it can no longer be filled (valid one day).
        let late = passed(&t, &doctor, &reviewer).await;
        t.shift_days.store(2, std::sync::atomic::Ordering::SeqCst);
        let doctor_later = t.token("doctor").await;
        let r = t
            .post(
                &format!("/api/v1/prescriptions/{late}/settlement/preview"),
                &doctor_later,
                json!({}),
            )
            .await;
        assert_eq!(r.json()["code"], "prescription_expired", "{}", r.text);
        t.shift_days.store(0, std::sync::atomic::Ordering::SeqCst);

        // The officer sees figures, never names; a doctor has no such list.
        let insurer = t.token("insurer").await;
        let list = t.get("/api/v1/insurance/settlements", &insurer).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        let list = list.json();
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
        assert!(!list.to_string().contains("name"), "{list}");
        let r = t.get("/api/v1/insurance/settlements", &doctor).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn the_resident_chooses_delivery_pays_her_share_and_sees_her_code_on_the_phone() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    let reviewer = pharmacist(&t, "yaoshi", t.home, "主管药师", 5).await;
    insure(&t).await;
    certify_hypertension(&t).await;
    let id = passed(&t, &doctor, &reviewer).await;
    crate::patients::her_token(&t, "zxy.phone").await;
    let cookie = crate::patients::phone_cookie(&t, "zxy.phone").await;
    let get = |path: &str| {
        Request::get(path)
            .header(header::COOKIE, cookie.clone())
            .body(Body::empty())
            .unwrap()
    };
    let post = |path: String, form: String| {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie.clone())
            .body(Body::from(form))
            .unwrap()
    };
    let mine = t.send(get("/patient/prescriptions")).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert!(
        mine.text.contains(&format!("#{id}"))
            && mine.text.contains("审核通过，请选择取药方式")
            && mine.text.contains("送药上门"),
        "{}",
        mine.text
    );
    let csrf = crate::console_scheduling::csrf_of(&mine.text);
    // Her share first, then she pays exactly it.
    let shown = t
        .send(post(
            format!("/patient/prescriptions/{id}/settle"),
            format!("csrf={csrf}"),
        ))
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    assert!(
        shown.text.contains("您需支付")
            && shown.text.contains("20.66")
            && shown.text.contains("确认支付 20.66 元"),
        "{}",
        shown.text
    );
    let r = t
        .send(post(
            format!("/patient/prescriptions/{id}/settle"),
            format!("csrf={csrf}&confirm=1&expected_cash_fen=2066"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    // Delivery to her address.
    let r = t
        .send(post(
            format!("/patient/prescriptions/{id}/route"),
            format!(
                "csrf={csrf}&pharmacy_id={}&fulfilment=delivery&delivery_address={}",
                t.home,
                crate::support::urlencode("宁河区芦台镇光明路18号")
            ),
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    // Someone else's pharmacy choice is refused in words.
    let r = t
        .send(post(
            format!("/patient/prescriptions/{id}/route"),
            format!("csrf={csrf}&pharmacy_id=999999&fulfilment=pickup"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

    // The pharmacy fills and sends it; her page shows the code and the way.
    for (product, packs) in [
        ("amlodipine-tablet-5mg-28", 5),
        ("valsartan-capsule-80mg-7", 20),
    ] {
        t.send_json(
            "PUT",
            &format!("/api/v1/pharmacy/stock/{product}"),
            &reviewer,
            json!({"on_hand_packs": packs}).to_string(),
        )
        .await;
    }
    let r = t
        .post(
            &format!("/api/v1/prescriptions/{id}/dispense"),
            &reviewer,
            json!({"fulfilment": "delivery"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    t.post(
        &format!("/api/v1/prescriptions/{id}/delivery"),
        &reviewer,
        json!({"step": "dispatch"}),
    )
    .await;
    let mine = t.send(get("/patient/prescriptions")).await;
    let code = t
        .store
        .fill(id)
        .await
        .unwrap()
        .unwrap()
        .recipient_code
        .unwrap();
    assert!(
        mine.text.contains(&code) && mine.text.contains("已发出") && mine.text.contains("您支付"),
        "{}",
        mine.text
    );
    let r = t
        .post(
            &format!("/api/v1/prescriptions/{id}/delivery"),
            &reviewer,
            json!({"step": "deliver", "recipient_code": code}),
        )
        .await;
    assert_eq!(r.json()["status"], "delivered", "{}", r.text);
    let mine = t.send(get("/patient/prescriptions")).await;
    assert!(
        mine.text.contains("已签收") && !mine.text.contains(&format!("签收码 <strong>{code}")),
        "the code is gone once used: {}",
        mine.text
    );
}
