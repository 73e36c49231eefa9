//! The cloud pharmacy's figures on both engines (issue 15): a prescription passed at
//! once, delivered and settled under 门特; another returned first; an online visit
//! sent to a clinic. The dashboard counts them by their definitions
//! (`gongti_core::pharmacy::figures`) and each figure opens its list.

use axum::http::StatusCode;
use gongti_app::Ctx;
use gongti_core::pharmacy::visit::{Destination, VisitStatus};
use serde_json::json;

use crate::prescriptions::{draft, issue_body, line, pharmacist, step};
use crate::support::{PASSWORD, TestApp};

#[tokio::test]
async fn the_figures_count_what_happened_and_open_their_lists() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let reviewer = pharmacist(&t, "yaoshi", t.home, "主管药师", 5).await;
        let resident = t.home_resident;
        let today = t.app.today();
        crate::settlement::insure(&t).await;
        crate::settlement::certify_hypertension(&t).await;
        let issue = |dose: f64| {
            let mut body = issue_body(
                &draft(&t, vec![line("苯磺酸氨氯地平片", dose, "mg", 1, 28)], &[]),
                PASSWORD,
            );
            body["supply_reason"] = json!("高血压慢病长期用药");
            body
        };
        // A: passed at once, delivered, settled.
        let r = t.post("/api/v1/prescriptions", &doctor, issue(5.0)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let a = r.json()["id"].as_i64().unwrap();
        let r = step(
            &t,
            &reviewer,
            a,
            json!({"step": "pass", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.json()["status"], "passed", "{}", r.text);
        let r = t
            .post(
                &format!("/api/v1/prescriptions/{a}/settlement/preview"),
                &doctor,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let shown = r.json();
        let r = t
            .post(
                &format!("/api/v1/prescriptions/{a}/settlement"),
                &doctor,
                json!({"expected_cash_fen": shown["cash_fen"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let settled = r.json();
        let r = t
            .post(
                &format!("/api/v1/prescriptions/{a}/route"),
                &doctor,
                json!({"pharmacy_id": t.home, "fulfilment": "delivery", "delivery_address": "和平区南京路1号"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = t
            .send_json(
                "PUT",
                "/api/v1/pharmacy/stock/amlodipine-tablet-5mg-28",
                &reviewer,
                json!({"on_hand_packs": 5}).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let r = t
            .post(
                &format!("/api/v1/prescriptions/{a}/dispense"),
                &reviewer,
                json!({"fulfilment": "delivery"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let delivery = format!("/api/v1/prescriptions/{a}/delivery");
        for s in ["dispatch", "in_transit"] {
            let r = t.post(&delivery, &reviewer, json!({"step": s})).await;
            assert_eq!(r.status, StatusCode::OK, "{s}: {}", r.text);
        }
        let code = t
            .store
            .fill(a)
            .await
            .unwrap()
            .unwrap()
            .recipient_code
            .unwrap();
        let r = t
            .post(
                &delivery,
                &reviewer,
                json!({"step": "deliver", "recipient_code": code}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // B: a dose over the maximum, returned, confirmed with the second signature, passed.
        let r = t.post("/api/v1/prescriptions", &doctor, issue(20.0)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let b = r.json()["id"].as_i64().unwrap();
        let r = step(
            &t,
            &reviewer,
            b,
            json!({"step": "return", "reason": "剂量偏大"}),
        )
        .await;
        assert_eq!(r.json()["status"], "returned", "{}", r.text);
        let r = step(
            &t,
            &doctor,
            b,
            json!({"step": "confirm", "reason": "患者耐受，已评估", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = step(
            &t,
            &reviewer,
            b,
            json!({"step": "pass", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.json()["status"], "passed", "{}", r.text);
        // An online visit the doctor sent to a clinic.
        let r = t
            .post(
                &format!("/api/v1/residents/{resident}/contracts"),
                &doctor,
                json!({"team_id": t.team, "packages": ["basic"], "resident_consent": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let me = gongti_app::patients::PatientCtx {
            account_id: 0,
            resident_id: resident,
            username: "zxy".into(),
            csrf: None,
            request_id: None,
        };
        let visit = t
            .app
            .request_visit(
                &me,
                gongti_app::pharmacy::VisitRequest {
                    disease_icd10: None,
                    destination: Destination::Team,
                    complaint: "胸闷两天".into(),
                    images: Vec::new(),
                },
            )
            .await
            .unwrap();
        let d = Ctx {
            principal: t.app.authenticate(&doctor).await.unwrap().principal,
            request_id: None,
        };
        t.app.open_online_clinic(&d, PASSWORD).await.unwrap();
        t.app
            .visit_to_clinic(
                &d,
                visit,
                gongti_core::pharmacy::visit::EndReason::ConditionChanged,
                "",
            )
            .await
            .unwrap();

        // The figures of this month at the home centre.
        let scope = gongti_store::IndicatorScope::Institution(t.home);
        let from = today.replace_day(1).unwrap();
        let period = gongti_core::chronic::indicators::Period { from, to: today };
        let view = t.app.pharmacy_figures(&d, &scope, &period).await.unwrap();
        let f = &view.figures;
        assert_eq!(f.visits, 1);
        assert_eq!(f.visits_by_status, vec![(VisitStatus::ToClinic, 1)]);
        assert_eq!(
            (f.reviewed, f.first_pass, f.first_pass_bp()),
            (2, 1, Some(5_000))
        );
        assert!(f.median_review_minutes.is_some());
        assert_eq!(
            f.findings
                .iter()
                .find(|(c, _)| c == "dose_over_max")
                .map(|x| x.1),
            Some(1)
        );
        assert_eq!((f.deliveries, f.on_time), (1, 1));
        assert_eq!(f.patient_months, 1);
        assert_eq!(f.full_price_fen, settled["total_fen"].as_i64());
        assert_eq!(
            f.self_pay_fen,
            Some(settled["cash_fen"].as_i64().unwrap() + settled["account_fen"].as_i64().unwrap())
        );

        // The dashboard shows them; each opens its list, named for the centre's doctor.
        let session = crate::console::sign_in(&t, "doctor").await;
        let q = format!("scope=institution:{}&from={from}&to={today}", t.home);
        let page = crate::console::page(&t, &session, &format!("/dashboard?{q}"), "zh").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(
            page.text.contains("云药房")
                && page.text.contains("一次审核通过率")
                && page.text.contains("超剂量"),
            "{}",
            page.text
        );
        for (list, expected) in [
            ("first_pass", "处方 #".to_owned() + &a.to_string()),
            ("not_first_pass", "处方 #".to_owned() + &b.to_string()),
            (
                "finding.dose_over_max",
                "处方 #".to_owned() + &b.to_string(),
            ),
            ("deliveries_on_time", "处方 #".to_owned() + &a.to_string()),
            ("visits.to_clinic", format!("在线复诊 #{visit}")),
            ("self_pay", "自付".to_owned()),
        ] {
            let r = crate::console::page(
                &t,
                &session,
                &format!("/dashboard/patients?{q}&pharmacy={list}"),
                "zh",
            )
            .await;
            assert_eq!(r.status, StatusCode::OK, "{list}: {}", r.text);
            assert!(
                r.text.contains(&expected) && r.text.contains("张秀英"),
                "{list}: {}",
                r.text
            );
        }
        let r = crate::console::page(
            &t,
            &session,
            &format!("/dashboard/patients?{q}&pharmacy=self_pay&format=csv"),
            "zh",
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(
            r.text.contains("说明") && r.text.contains("全价"),
            "{}",
            r.text
        );
        let bad = crate::console::page(
            &t,
            &session,
            &format!("/dashboard/patients?{q}&pharmacy=nonsense"),
            "zh",
        )
        .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    }
}
