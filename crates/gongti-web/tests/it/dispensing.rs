//! Outflow and dispensing over the API, on both engines (DOMAIN.md §4, 处方流转): a
//! passed prescription sent for delivery is filled only by its pharmacy and only from
//! stock, goes out and is signed for with the patient's code; one collected by an
//! agent keeps both identities; an expired one is refused; and when two pharmacies
//! try to fill the same prescriptions at once, each is filled exactly once and the
//! stock falls by exactly what was filled.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::prescriptions::{draft, issue_body, line, pharmacist, step};
use crate::support::{PASSWORD, TestApp};

/// A passed prescription of amlodipine 5 mg once a day for `days`.
async fn passed(t: &TestApp, doctor: &str, reviewer: &str, days: u32) -> i64 {
    let d = draft(t, vec![line("苯磺酸氨氯地平片", 5.0, "mg", 1, days)], &[]);
    let mut body = issue_body(&d, PASSWORD);
    if days > 7 {
        body["supply_reason"] = json!("高血压慢病长期用药");
    }
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

async fn stock(t: &TestApp, token: &str, packs: i64) {
    let r = t
        .send_json(
            "PUT",
            "/api/v1/pharmacy/stock/amlodipine-tablet-5mg-28",
            token,
            json!({"on_hand_packs": packs}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

async fn on_hand(t: &TestApp, token: &str) -> i64 {
    let s = t.get("/api/v1/pharmacy/stock", token).await.json();
    s["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["product_code"] == "amlodipine-tablet-5mg-28")
        .map_or(0, |i| i["on_hand_packs"].as_i64().unwrap())
}

#[tokio::test]
async fn a_delivery_is_filled_from_stock_once_and_signed_for_with_the_code() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let reviewer = pharmacist(&t, "yaoshi", t.home, "主管药师", 5).await;
        let elsewhere = pharmacist(&t, "other_ph", t.other, "药士", 1).await;
        let id = passed(&t, &doctor, &reviewer, 28).await;
        let dispense = |token: &str, body: Value| {
            let path = format!("/api/v1/prescriptions/{id}/dispense");
            let token = token.to_owned();
            let t = &t;
            async move { t.post(&path, &token, body).await }
        };

        // The doctor sends it, for the patient, to the home centre's pharmacy for delivery.
        let r = t
            .post(
                &format!("/api/v1/prescriptions/{id}/route"),
                &doctor,
                json!({"pharmacy_id": t.home, "fulfilment": "delivery"}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "an address is needed: {}",
            r.text
        );
        let r = t
            .post(&format!("/api/v1/prescriptions/{id}/route"), &doctor, json!({"pharmacy_id": t.home, "fulfilment": "delivery", "delivery_address": "和平区南京路1号"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["route"]["fulfilment"], "delivery");

        // Another pharmacy may not fill it; its own only from stock.
        let r = dispense(&elsewhere, json!({"fulfilment": "delivery"})).await;
        assert_eq!(r.json()["code"], "routed_elsewhere", "{}", r.text);
        let r = dispense(&reviewer, json!({"fulfilment": "delivery"})).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.json()["code"], "out_of_stock");
        let r = dispense(&reviewer, json!({"fulfilment": "pickup", "collector_name": "x", "collector_id_number": "11010519491231002X"})).await;
        assert_eq!(r.json()["code"], "routed_for_delivery", "{}", r.text);
        stock(&t, &reviewer, 5).await;
        let r = dispense(&reviewer, json!({"fulfilment": "delivery"})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let fill = r.json();
        assert_eq!(fill["status"], "packed");
        assert_eq!(fill["lines"][0]["packs"], 1, "28 tablets: one box");
        assert_eq!(fill["amount_fen"], 2380);
        assert!(
            fill.get("recipient_code").is_none(),
            "the code is the patient's"
        );
        assert_eq!(on_hand(&t, &reviewer).await, 4);
        // Never twice.
        let r = dispense(&reviewer, json!({"fulfilment": "delivery"})).await;
        assert_eq!(r.json()["code"], "already_dispensed", "{}", r.text);
        assert_eq!(on_hand(&t, &reviewer).await, 4);
        let rx = t
            .get(&format!("/api/v1/prescriptions/{id}"), &doctor)
            .await
            .json();
        assert_eq!(rx["status"], "dispensed");
        assert_eq!(rx["fill"]["status"], "packed");
        assert_eq!(
            rx["allowed_steps"],
            json!([]),
            "nothing to cancel once filled"
        );

        // The delivery: out, on its way, signed for with the patient's code.
        let path = format!("/api/v1/prescriptions/{id}/delivery");
        let r = t
            .post(
                &path,
                &reviewer,
                json!({"step": "deliver", "recipient_code": "000000"}),
            )
            .await;
        assert_eq!(r.json()["code"], "delivery_not_open_for_step", "{}", r.text);
        for s in ["dispatch", "in_transit"] {
            let r = t.post(&path, &reviewer, json!({"step": s})).await;
            assert_eq!(r.status, StatusCode::OK, "{s}: {}", r.text);
        }
        let code = t
            .store
            .fill(id)
            .await
            .unwrap()
            .unwrap()
            .recipient_code
            .unwrap();
        assert_eq!(code.len(), 6);
        let wrong = if code == "123456" { "654321" } else { "123456" };
        let r = t
            .post(
                &path,
                &reviewer,
                json!({"step": "deliver", "recipient_code": wrong}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = t
            .post(
                &path,
                &reviewer,
                json!({"step": "deliver", "recipient_code": code}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let delivered = r.json();
        assert_eq!(delivered["status"], "delivered");
        let trail: Vec<&str> = delivered["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["status"].as_str().unwrap())
            .collect();
        assert_eq!(trail, ["packed", "dispatched", "in_transit", "delivered"]);
        let audit = t.audit_tail(1).await;
        assert_eq!(
            (audit[0].entry.action.as_str(), audit[0].entry.patient_id),
            ("prescription.delivery", Some(t.home_resident))
        );
    }
}

#[tokio::test]
async fn an_agent_collects_with_both_identities_and_an_expired_one_is_refused() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let reviewer = pharmacist(&t, "yaoshi", t.home, "主管药师", 5).await;
        stock(&t, &reviewer, 3).await;
        let id = passed(&t, &doctor, &reviewer, 7).await;
        let path = format!("/api/v1/prescriptions/{id}/dispense");
        let r = t
            .post(&path, &reviewer, json!({"fulfilment": "pickup", "collector_name": " ", "collector_id_number": "110105194912310021"}))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let problems = r.json();
        let fields: Vec<&str> = problems["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["collector_name", "collector_id_number"]);
        let r = t
            .post(&path, &reviewer, json!({"fulfilment": "pickup", "collector_name": "李小红", "collector_id_number": "11010519491231002X", "by_agent": true}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let fill = r.json();
        assert_eq!(fill["status"], "collected");
        assert_eq!(
            fill["collector"],
            json!({"name": "李小红", "id_number": "1101**********002X", "by_agent": true})
        );
        // Sealed at rest, whole for the store's owner.
        let kept = t.store.fill(id).await.unwrap().unwrap();
        assert_eq!(
            kept.collector_id_number.as_deref(),
            Some("11010519491231002X")
        );

        // Issued today with one day's validity: refused two days on.
        let late = passed(&t, &doctor, &reviewer, 7).await;
        t.shift_days.store(2, std::sync::atomic::Ordering::SeqCst);
        let reviewer = t.token("yaoshi").await;
        let r = t
            .post(&format!("/api/v1/prescriptions/{late}/dispense"), &reviewer, json!({"fulfilment": "pickup", "collector_name": "李小红", "collector_id_number": "11010519491231002X"}))
            .await;
        assert_eq!(r.json()["code"], "prescription_expired", "{}", r.text);
        t.shift_days.store(0, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn two_pharmacies_filling_the_same_prescriptions_at_once_fill_each_once() {
    const PRESCRIPTIONS: usize = 12;
    const ATTEMPTS_EACH: usize = 3;
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let here = pharmacist(&t, "here", t.home, "主管药师", 5).await;
        let there = pharmacist(&t, "there", t.other, "药师", 4).await;
        stock(&t, &here, 100).await;
        stock(&t, &there, 100).await;
        let mut ids = Vec::new();
        for _ in 0..PRESCRIPTIONS {
            ids.push(passed(&t, &doctor, &here, 7).await);
        }
        // Not routed: the patient may present each at either pharmacy.
        let mut attempts = Vec::new();
        for id in &ids {
            for n in 0..ATTEMPTS_EACH * 2 {
                let token = if n % 2 == 0 {
                    here.clone()
                } else {
                    there.clone()
                };
                let router = t.router.clone();
                let path = format!("/api/v1/prescriptions/{id}/dispense");
                attempts.push(tokio::spawn(async move {
                    let request = Request::post(path)
                        .header(header::CONTENT_TYPE, "application/json")
                        .header(header::AUTHORIZATION, format!("Bearer {token}"))
                        .body(Body::from(
                            json!({"fulfilment": "pickup", "collector_name": "曾丽", "collector_id_number": "11010519491231002X"}).to_string(),
                        ))
                        .unwrap();
                    crate::support::reply_of(&router, request).await
                }));
            }
        }
        let mut replies = Vec::new();
        for a in attempts {
            replies.push(a.await.unwrap());
        }
        let filled = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert_eq!(filled, PRESCRIPTIONS, "{:?}", t.engine());
        assert!(
            replies
                .iter()
                .filter(|r| r.status != StatusCode::OK)
                .all(
                    |r| r.status == StatusCode::CONFLICT && r.json()["code"] == "already_dispensed"
                ),
            "every other attempt is told it was filled"
        );
        let left = on_hand(&t, &here).await + on_hand(&t, &there).await;
        assert_eq!(left, 200 - PRESCRIPTIONS as i64, "one box a fill, no more");
    }
}
