//! Orders to the cloud centres (DOMAIN.md §8), on both engines, through the console as
//! its users work: the family doctor orders an HbA1c from the cloud laboratory and a
//! chest X-ray from the imaging centre (a centre of another kind refused, nothing
//! saved); the centre's reader accepts and starts the X-ray (completed only by its
//! report), a rejection needs its reason and the doctor may not work the centre's
//! steps; the laboratory's
//! HL7 result naming the order's placer number completes it and is linked to it; then
//! ordering HbA1c again warns with the recognised result (never blocking): without a
//! reason nothing is ordered, "other" needs its text, a reason orders it and is kept,
//! taking the result records a duplicate exam avoided; the figures count both; a result
//! of a laboratory without quality control, or past the window, does not warn; another
//! institution's doctor may not order; the doctor cancels an order with its reason;
//! the HbA1c's result is its panel's DiagnosticReport with its Specimen in FHIR (both
//! validators); and every order and decision is named by its audit record.

use axum::http::StatusCode as S;

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::{HOME_RESIDENT_ID_NUMBER, TestApp};
use gongti_core::exam::orders::{Category, OrderStatus, ReorderReason};

/// An ORU^R01 from `facility` for the home resident, with an OBR-2 placer number.
fn oru(control: &str, facility: &str, placer: &str, stamp: &str, obx: &str) -> String {
    format!(
        "MSH|^~\\&|LIS|{facility}|GONGTI|C1|{stamp}||ORU^R01^ORU_R01|{control}|P|2.5.1||||||UNICODE UTF-8\r\
         PID|1||{HOME_RESIDENT_ID_NUMBER}^^^&2.16.156.10011.1.3&ISO^ID||张^秀英\r\
         OBR|1|{placer}|FL-{control}|4548-4^糖化血红蛋白^LN|||{stamp}\r{obx}"
    )
}

/// Sends a message through the intake (as the MLLP listener does) and expects AA.
async fn receive(t: &TestApp, message: &str) {
    let incoming = gongti_web::hl7::read_message(
        message.as_bytes(),
        "127.0.0.1:1",
        gongti_app::DISPLAY_OFFSET,
    );
    let answer = t.app.receive_lab_message(incoming).await.unwrap();
    assert_eq!(answer.code, gongti_app::exam::AckCode::Accept);
}

fn location(r: &crate::support::Reply) -> String {
    r.headers
        .get(axum::http::header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_doctor_orders_a_centre_works_it_and_recognition_warns_without_blocking() {
    for t in TestApp::all().await {
        let now_us = gongti_app::unix_us(t.app.now());
        let today = t.app.today();
        let centre = |kind, code: &'static str, hr: &'static str, qc| gongti_store::NewCentre {
            institution_id: t.hospital,
            kind,
            code,
            name: code,
            hr_scope: hr,
            qc_valid_until: qc,
        };
        let lab = t
            .store
            .insert_exam_centre(
                &centre(
                    Category::Lab,
                    "LAB01",
                    "京津冀HR",
                    Some(today + time::Duration::days(365)),
                ),
                now_us,
                &[],
            )
            .await
            .unwrap();
        let rad = t
            .store
            .insert_exam_centre(&centre(Category::Imaging, "RAD01", "", None), now_us, &[])
            .await
            .unwrap();
        // the centre's diagnosing doctor (`reader`)
        crate::exam_worklist::reader_ctx(&t).await;

        let doctor = sign_in(&t, "doctor").await;
        let home = t.home_resident;
        let form_path = format!("/residents/{home}/exam-orders/new?item=HBA1C");
        let blank = page(&t, &doctor, &form_path, "zh").await;
        assert_eq!(blank.status, S::OK, "{}", blank.text);
        assert!(
            !blank.text.contains("互认提示"),
            "no result yet: no warning"
        );
        let csrf = csrf_of(&blank.text);
        let place = |body: String| {
            let (t, doctor) = (&t, &doctor);
            async move { post_form(t, doctor, &format!("/residents/{home}/exam-orders"), &body).await }
        };
        let order_count = || async { t.store.exam_orders_of_resident(home).await.unwrap().len() };

        // HbA1c to the laboratory
        let r = place(format!(
            "csrf={csrf}&item=HBA1C&centre={lab}&priority=routine&indication=%E7%B3%96%E5%B0%BF%E7%97%85%E5%A4%8D%E6%9F%A5"
        ))
        .await;
        assert_eq!(r.status, S::SEE_OTHER, "{}", r.text);
        let hba1c_id: i64 = location(&r)
            .trim_start_matches("/exam-orders/")
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let hba1c = t.store.exam_order(hba1c_id).await.unwrap().unwrap();
        assert_eq!(hba1c.status, OrderStatus::Received);
        assert_eq!(hba1c.placer_number, format!("C1-{hba1c_id:08}"));
        assert_eq!(hba1c.accession_number, format!("LAB01{hba1c_id:08}"));
        assert!(hba1c.accession_number.len() <= 16);

        // a chest X-ray to the laboratory is refused, nothing saved; to imaging it goes
        let before = order_count().await;
        let r = place(format!(
            "csrf={csrf}&item=XR-CHEST&centre={lab}&priority=routine&indication=cough"
        ))
        .await;
        assert_eq!(r.status, S::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r2 = place(format!(
            "csrf={csrf}&item=XR-CHEST&centre={rad}&priority=urgent&indication="
        ))
        .await;
        assert_eq!(r2.status, S::UNPROCESSABLE_ENTITY, "{}", r2.text);
        assert_eq!(order_count().await, before, "nothing half-saved");
        let r = place(format!(
            "csrf={csrf}&item=XR-CHEST&centre={rad}&priority=urgent&indication=%E5%92%B3%E5%97%BD"
        ))
        .await;
        assert_eq!(r.status, S::SEE_OTHER, "{}", r.text);
        let chest_id = t.store.exam_orders_of_resident(home).await.unwrap()[0].id;

        // the reader works the X-ray; the doctor may not
        let reader = sign_in(&t, "reader").await;
        let list = page(&t, &reader, "/exam-orders", "zh").await;
        assert_eq!(list.status, S::OK, "{}", list.text);
        assert!(list.text.contains("张秀英") && list.text.contains("胸部正位DR"));
        let order_page = page(&t, &reader, &format!("/exam-orders/{chest_id}"), "zh").await;
        assert_eq!(order_page.status, S::OK, "{}", order_page.text);
        let rcsrf = csrf_of(&order_page.text);
        let step = |who: &str, body: &str| {
            let (t, who, body) = (&t, who.to_owned(), format!("csrf={rcsrf}&{body}"));
            async move { post_form(t, &who, &format!("/exam-orders/{chest_id}/step"), &body).await }
        };
        let doctor_tries = step(&doctor, "step=accept").await;
        assert_eq!(doctor_tries.status, S::FORBIDDEN);
        let r = step(&reader, "step=reject&reason=").await;
        assert_eq!(r.status, S::UNPROCESSABLE_ENTITY, "{}", r.text);
        for (s, want) in [
            ("accept", OrderStatus::Accepted),
            ("start", OrderStatus::InProgress),
        ] {
            let r = step(&reader, &format!("step={s}")).await;
            assert_eq!(r.status, S::SEE_OTHER, "{s}: {}", r.text);
            let o = t.store.exam_order(chest_id).await.unwrap().unwrap();
            assert_eq!(o.status, want, "{s}");
        }
        // an X-ray is completed by its signed report (tests/it/exam_worklist.rs), not
        // by hand; once under way it is neither accepted again nor cancelled
        let r = step(&reader, "step=complete").await;
        assert_eq!(r.status, S::CONFLICT, "{}", r.text);
        let r = step(&reader, "step=accept").await;
        assert_eq!(
            r.status,
            S::CONFLICT,
            "an order under way is not accepted again"
        );
        let events = t.store.exam_order_events(chest_id).await.unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[2].staff_name.as_deref(), Some("读片医生"));

        // the laboratory's HbA1c naming the order's placer number completes it
        let at = (t.app.now() - time::Duration::hours(1)).to_offset(time::macros::offset!(+8));
        let stamp = format!(
            "{:04}{:02}{:02}{:02}{:02}00+0800",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        );
        let message = oru(
            "M1",
            "H1",
            &hba1c.placer_number,
            &stamp,
            "OBX|1|NM|4548-4^糖化血红蛋白^LN||7.3|%|4.0-6.0|H|||F\r",
        );
        receive(&t, &message).await;
        let done = t.store.exam_order(hba1c_id).await.unwrap().unwrap();
        assert_eq!(done.status, OrderStatus::Completed, "{:?}", t.engine());
        let linked = t.store.lab_results_of_order(hba1c_id).await.unwrap();
        assert_eq!(linked.len(), 1);
        assert_eq!(linked[0].value_text, "7.3");
        assert_eq!(
            linked[0].version.number, 1,
            "linked as it was written: no phantom version"
        );
        let events = t.store.exam_order_events(hba1c_id).await.unwrap();
        assert_eq!(events.last().map(|e| e.staff_name.clone()), Some(None));
        let shown = page(&t, &doctor, &format!("/exam-orders/{hba1c_id}"), "zh").await;
        assert!(shown.text.contains("7.3") && shown.text.contains("已完成"));

        // ordering HbA1c again warns with the recognised result
        let warned = page(&t, &doctor, &form_path, "zh").await;
        assert!(
            warned.text.contains("互认提示") && warned.text.contains("京津冀HR"),
            "{}",
            warned.text
        );
        let before = order_count().await;
        let again = format!(
            "csrf={csrf}&item=HBA1C&centre={lab}&priority=routine&indication=%E5%A4%8D%E6%9F%A5"
        );
        let r = place(again.clone()).await;
        assert_eq!(r.status, S::OK, "the warning, not an error");
        assert!(r.text.contains("互认提示") && r.text.contains("7.3"));
        assert_eq!(
            order_count().await,
            before,
            "nothing ordered without a reason"
        );
        let r = place(format!("{again}&reorder_reason=other&reorder_text=")).await;
        assert_eq!(r.status, S::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("互认提示"), "the warning stays on screen");
        let r = place(format!("{again}&reorder_reason=whim")).await;
        assert_eq!(r.status, S::UNPROCESSABLE_ENTITY);
        assert_eq!(order_count().await, before);
        let r = place(format!("{again}&reorder_reason=condition_changed")).await;
        assert_eq!(r.status, S::SEE_OTHER, "{}", r.text);
        let reordered = &t.store.exam_orders_of_resident(home).await.unwrap()[0];
        assert_eq!(
            reordered.reorder_reason,
            Some(ReorderReason::ConditionChanged)
        );

        // taking the result instead: a duplicate exam avoided
        let r = post_form(
            &t,
            &doctor,
            &format!("/residents/{home}/exam-recognitions"),
            &format!("csrf={csrf}&item=HBA1C&lab_result_id={}", linked[0].id),
        )
        .await;
        assert_eq!(r.status, S::SEE_OTHER, "{}", r.text);
        let exams = page(&t, &doctor, &location(&r), "zh").await;
        assert!(exams.text.contains("已采用互认结果"), "{}", exams.text);
        // a result that is not recognised for the item cannot be taken
        let r = post_form(
            &t,
            &doctor,
            &format!("/residents/{home}/exam-recognitions"),
            &format!("csrf={csrf}&item=K&lab_result_id={}", linked[0].id),
        )
        .await;
        assert_eq!(r.status, S::UNPROCESSABLE_ENTITY);
        let figures = t.store.recognition_figures(None, 0).await.unwrap();
        assert_eq!(figures.recognised, 1);
        assert_eq!(figures.reordered, [(ReorderReason::ConditionChanged, 1)]);
        // the figures in the console: the institution's for its doctor, the city's for
        // the city's officer; a district officer is refused
        let own = page(&t, &doctor, "/exam-figures", "zh").await;
        assert_eq!(own.status, S::OK, "{}", own.text);
        assert!(
            own.text.contains("本机构") && own.text.contains("病情变化"),
            "{}",
            own.text
        );
        let officer = sign_in(&t, "officer").await;
        let city = page(&t, &officer, "/exam-figures", "zh").await;
        assert!(
            city.text.contains("全市") && city.text.contains("<strong>1</strong>"),
            "{}",
            city.text
        );
        let district = sign_in(&t, "district").await;
        let refused = page(&t, &district, "/exam-figures", "zh").await;
        assert_eq!(refused.status, S::FORBIDDEN);
        // and on the dashboard beside the other figures (none for a district's officer)
        let board = page(&t, &officer, "/dashboard?scope=city", "zh").await;
        assert_eq!(board.status, S::OK, "{}", board.text);
        let card = board
            .text
            .split("id=\"recognition-figures\"")
            .nth(1)
            .expect("the recognition card");
        assert!(
            card.contains("<strong>1</strong>")
                && card.contains("病情变化")
                && card.contains(" 1)"),
            "{card}"
        );
        let board = page(&t, &district, "/dashboard?scope=district:120101", "zh").await;
        assert_eq!(board.status, S::OK);
        assert!(!board.text.contains("recognition-figures"));

        // past the window (90 days) no warning; nor for a laboratory without quality
        // control (the community centre C1 sends a potassium)
        t.shift_clock(91);
        let later = page(&t, &doctor, &form_path, "zh").await;
        assert!(!later.text.contains("互认提示"), "out of its window");
        t.shift_clock(0);
        let message = oru(
            "M2",
            "C1",
            "",
            &stamp,
            "OBX|1|NM|2823-3^钾^LN||4.1|mmol/L|3.5-5.3|N|||F\r",
        );
        receive(&t, &message).await;
        let k = page(
            &t,
            &doctor,
            &format!("/residents/{home}/exam-orders/new?item=K"),
            "zh",
        )
        .await;
        assert!(
            !k.text.contains("互认提示"),
            "no quality control, no recognition"
        );

        // another institution's doctor may not order for this patient
        let other = sign_in(&t, "other_doctor").await;
        let r = post_form(
            &t,
            &other,
            &format!("/residents/{home}/exam-orders"),
            &format!(
                "csrf={}&item=K&centre={lab}&priority=routine&indication=x",
                {
                    let p = page(&t, &other, "/exam-orders", "zh").await;
                    csrf_of(&p.text)
                }
            ),
        )
        .await;
        assert_eq!(r.status, S::FORBIDDEN, "{}", r.text);

        // the doctor cancels an order (with its reason): the centre's access ends
        let r = place(format!(
            "csrf={csrf}&item=K&centre={lab}&priority=stat&indication=%E4%B9%8F%E5%8A%9B"
        ))
        .await;
        assert_eq!(r.status, S::SEE_OTHER, "{}", r.text);
        let k_id = t.store.exam_orders_of_resident(home).await.unwrap()[0].id;
        let care = t
            .store
            .care_institutions(home, gongti_app::unix_us(t.app.now()))
            .await
            .unwrap();
        assert!(care.contains(&t.hospital));
        let r = post_form(
            &t,
            &doctor,
            &format!("/exam-orders/{k_id}/step"),
            &format!(
                "csrf={csrf}&step=cancel&reason=%E6%82%A3%E8%80%85%E5%B7%B2%E8%BD%AC%E9%99%A2"
            ),
        )
        .await;
        assert_eq!(r.status, S::SEE_OTHER, "{}", r.text);
        let k = t.store.exam_order(k_id).await.unwrap().unwrap();
        assert_eq!(k.status, OrderStatus::Cancelled);
        assert_eq!(k.status_reason.as_deref(), Some("患者已转院"));

        // the doctor's list of placed orders, the reader's of done ones
        let placed = page(&t, &doctor, "/exam-orders", "zh").await;
        assert!(placed.text.contains(&hba1c.accession_number));
        let done_list = page(&t, &reader, "/exam-orders?list=done", "zh").await;
        assert!(done_list.text.contains("已撤销"));

        // FHIR: each order a ServiceRequest, its workflow a Task, both validated, read
        // by their ids and found by the patient's searches; the centre's reader finds
        // the open ones as the performer
        let token = t.token("doctor").await;
        let requests = t
            .get(&format!("/fhir/ServiceRequest?patient={home}"), &token)
            .await;
        assert_eq!(requests.status, S::OK, "{}", requests.text);
        let requests = requests.json();
        let orders_found: Vec<&serde_json::Value> = requests["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["id"].as_str().unwrap_or("").starts_with("exam-"))
            .collect();
        assert_eq!(orders_found.len(), order_count().await, "{requests}");
        let hba1c_fhir = t
            .get(&format!("/fhir/ServiceRequest/exam-{hba1c_id}"), &token)
            .await;
        assert_eq!(hba1c_fhir.status, S::OK, "{}", hba1c_fhir.text);
        let sr = hba1c_fhir.json();
        assert_eq!(sr["status"], "completed");
        assert_eq!(sr["code"]["coding"][0]["code"], "4548-4");
        assert_eq!(
            sr["identifier"][1]["value"],
            hba1c.accession_number.as_str()
        );
        let task = t.get(&format!("/fhir/Task/exam-{k_id}"), &token).await;
        assert_eq!(task.status, S::OK, "{}", task.text);
        let task = task.json();
        assert_eq!(
            (
                task["status"].as_str(),
                task["statusReason"]["text"].as_str()
            ),
            (Some("cancelled"), Some("患者已转院"))
        );
        let tasks = t
            .get(
                &format!("/fhir/Task?patient={home}&status=in-progress"),
                &token,
            )
            .await
            .json();
        assert!(
            tasks["entry"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["resource"]["id"] == format!("exam-{chest_id}")),
            "{tasks}"
        );
        let reordered_fhir = t
            .get(
                &format!("/fhir/ServiceRequest/exam-{}", reordered.id),
                &token,
            )
            .await
            .json();
        assert!(
            reordered_fhir["note"][0]["text"]
                .as_str()
                .unwrap()
                .contains("病情变化")
        );
        // the HbA1c's result as its panel's DiagnosticReport with its Specimen: read by
        // id, found by the patient's searches, every reference resolvable
        let panel = t
            .get(&format!("/fhir/DiagnosticReport/exam-{hba1c_id}"), &token)
            .await;
        assert_eq!(panel.status, S::OK, "{}", panel.text);
        let panel = panel.json();
        assert_eq!(
            (
                panel["status"].as_str(),
                panel["category"][0]["coding"][0]["code"].as_str(),
                panel["code"]["coding"][0]["code"].as_str()
            ),
            (Some("final"), Some("LAB"), Some("4548-4"))
        );
        let linked = t.store.lab_results_of_order(hba1c_id).await.unwrap();
        assert_eq!(
            panel["result"][0]["reference"],
            format!("Observation/lab{}", linked[0].id).as_str()
        );
        let specimen = t
            .get(&format!("/fhir/Specimen/exam-{hba1c_id}"), &token)
            .await;
        assert_eq!(specimen.status, S::OK, "{}", specimen.text);
        let specimen = specimen.json();
        assert_eq!(specimen["type"]["coding"][0]["code"], "BLD");
        assert_eq!(
            specimen["accessionIdentifier"]["value"],
            hba1c.accession_number.as_str()
        );
        let reports = t
            .get(&format!("/fhir/DiagnosticReport?patient={home}"), &token)
            .await
            .json();
        assert!(
            reports["entry"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["resource"]["id"] == format!("exam-{hba1c_id}")),
            "{reports}"
        );
        let specimens = t
            .get(&format!("/fhir/Specimen?patient={home}"), &token)
            .await
            .json();
        assert_eq!(specimens["total"], 1, "{specimens}");
        // the CapabilityStatement says Specimen is read and searched, nothing more
        let metadata = t.get("/fhir/metadata", &token).await.json();
        let declared = metadata["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["type"] == "Specimen")
            .cloned()
            .expect("Specimen declared");
        let interactions: Vec<&str> = declared["interaction"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["code"].as_str())
            .collect();
        assert_eq!(interactions, ["read", "search-type"], "{declared}");
        let no_panel = t
            .get(&format!("/fhir/Specimen/exam-{chest_id}"), &token)
            .await;
        assert_eq!(no_panel.status, S::NOT_FOUND, "an X-ray has no specimen");
        let dir = gongti_testdb::temp_dir("gongti-exam-orders");
        std::fs::write(dir.join("requests.json"), requests.to_string()).unwrap();
        std::fs::write(dir.join("task.json"), task.to_string()).unwrap();
        std::fs::write(dir.join("reordered.json"), reordered_fhir.to_string()).unwrap();
        std::fs::write(dir.join("panel.json"), panel.to_string()).unwrap();
        std::fs::write(dir.join("specimen.json"), specimen.to_string()).unwrap();
        std::fs::write(dir.join("specimens.json"), specimens.to_string()).unwrap();
        crate::fhir::validate(&dir, 6);
        crate::fhir::assert_resolvable(&t, &token, &[&sr, &task, &panel, &specimen]).await;
        let reader_token = t.token("reader").await;
        let inbox = t
            .get(
                &format!("/fhir/ServiceRequest?performer=Organization/{}", t.hospital),
                &reader_token,
            )
            .await
            .json();
        let ids: Vec<&str> = inbox["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["resource"]["id"].as_str())
            .collect();
        assert!(
            ids.contains(&format!("exam-{}", reordered.id).as_str()),
            "{inbox}"
        );
        assert!(
            !ids.contains(&format!("exam-{hba1c_id}").as_str()),
            "done: not in the inbox"
        );
        let other_token = t.token("other_doctor").await;
        let refused = t
            .get(
                &format!("/fhir/ServiceRequest/exam-{hba1c_id}"),
                &other_token,
            )
            .await;
        assert_eq!(refused.status, S::FORBIDDEN, "{}", refused.text);

        // every order and decision is named by the record of the write that made it
        let report = gongti_app::audit::verify(&t.store, &Default::default(), |_| {})
            .await
            .unwrap();
        assert!(report.broken.is_none(), "{report:?}");
        let uncovered: Vec<&str> = report.uncovered.iter().map(|u| u.table).collect();
        assert!(
            !uncovered.contains(&"exam_orders") && !uncovered.contains(&"exam_recognitions"),
            "{report:?}"
        );
        let tail = t.audit_tail(80).await;
        for action in [
            "exam.order",
            "exam.recognise",
            "exam.recognition.check",
            "exam.order.accept",
            "exam.order.cancel",
            "exam.order.list",
        ] {
            assert!(
                tail.iter().any(|e| e.entry.action == action),
                "{action} audited"
            );
        }
    }
}
