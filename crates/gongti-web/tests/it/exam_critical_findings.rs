//! A reader's critical finding (危急值 from a report, DOMAIN.md §8), on both engines: a
//! finding of another modality is refused with nothing written; a preliminary report
//! carrying one notifies the ordering institution's clinicians at once (on the API, the
//! console list and the order's link), once however often it is saved again; the doctor
//! reads the finding back (a wrong read-back refused) and records the action; signing
//! with the same finding opens nothing new; an amendment naming another finding opens
//! one, and an amendment naming none closes it by itself; the FHIR DiagnosticReport
//! codes the finding (both validators); every write is audited.

use axum::http::StatusCode as S;

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::TestApp;
use gongti_core::exam::orders::Category;
use gongti_core::exam::reading::ReportStep;

#[tokio::test]
async fn a_readers_critical_finding_is_notified_read_back_and_closed() {
    for t in TestApp::all().await {
        let ordered = crate::exam_worklist::order_at_centre(
            &t,
            Category::Imaging,
            "RAD01",
            "XR-CHEST",
            "stat",
        )
        .await;
        crate::exam_worklist::study_arrives(&t, &ordered, "DX").await;
        let (chest, reader, doctor_token) = (
            &ordered.order,
            &ordered.reader,
            ordered.doctor_token.clone(),
        );
        let open = |token: &str| {
            let (t, token) = (&t, token.to_owned());
            async move {
                let r = t.get("/api/v1/worklists/critical-values", &token).await;
                assert_eq!(r.status, S::OK, "{}", r.text);
                r.json()["items"].as_array().unwrap().clone()
            }
        };

        // an ECG finding on a chest film: refused, nothing written
        let wrong = t
            .app
            .write_report(
                reader,
                chest.id,
                ReportStep::Draft,
                "右侧胸腔见无肺纹理透亮区。",
                "右侧气胸",
                Some("ECG-VT"),
            )
            .await;
        assert!(
            matches!(wrong, Err(gongti_app::AppError::Invalid(_))),
            "{wrong:?}"
        );
        assert!(t.store.exam_report(chest.id).await.unwrap().is_none());
        assert!(open(&doctor_token).await.is_empty());

        // the preliminary report with a tension pneumothorax notifies the doctor's
        // institution at once; saved again, still one
        for _ in 0..2 {
            let draft = t
                .app
                .write_report(
                    reader,
                    chest.id,
                    ReportStep::Draft,
                    "右侧胸腔见无肺纹理透亮区，纵隔左移。",
                    "右侧张力性气胸",
                    Some("IMG-PNEUMO"),
                )
                .await
                .unwrap();
            assert_eq!(draft.critical_code.as_deref(), Some("IMG-PNEUMO"));
        }
        let items = open(&doctor_token).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(
            (
                items[0]["side"].as_str(),
                items[0]["value"].as_str(),
                items[0]["exam_order_id"].as_i64(),
                items[0]["status"].as_str()
            ),
            (
                Some("finding"),
                Some("大量或张力性气胸"),
                Some(chest.id),
                Some("notified")
            )
        );
        assert!(items[0]["lab_result_id"].is_null());
        // named for the doctor who ordered the exam
        assert_eq!(
            (
                items[0]["ordering_doctor"]["staff_id"].as_i64(),
                items[0]["ordering_doctor"]["name"].as_str()
            ),
            (
                Some(chest.ordered_by_staff_id),
                Some(chest.ordered_by_name.as_str())
            )
        );
        let other = t.token("other_doctor").await;
        assert!(open(&other).await.is_empty(), "another institution's");

        // in the console: the finding, the order's link, the read-back, the action
        let session = sign_in(&t, "doctor").await;
        let list = page(&t, &session, "/critical-values", "zh").await;
        for shown in [
            "检查报告危急值",
            "大量或张力性气胸",
            "开单医生",
            "（您的患者）",
            &format!("/exam-orders/{}#report", chest.id),
        ] {
            assert!(list.text.contains(shown), "{shown}: {}", list.text);
        }
        let cv = items[0]["id"].as_i64().unwrap();
        let body = |text: &str| format!("csrf={}&{text}", csrf_of(&list.text));
        let steps = [
            (
                "confirm",
                "read_back=%E6%B0%94%E8%83%B8",
                S::UNPROCESSABLE_ENTITY,
            ),
            (
                "confirm",
                "read_back=%E5%A4%A7%E9%87%8F%E6%88%96%E5%BC%A0%E5%8A%9B%E6%80%A7%E6%B0%94%E8%83%B8",
                S::SEE_OTHER,
            ),
            (
                "act",
                "action=%E5%B7%B2%E9%80%81%E6%80%A5%E8%AF%8A%E8%83%B8%E8%85%94%E9%97%AD%E5%BC%8F%E5%BC%95%E6%B5%81",
                S::SEE_OTHER,
            ),
        ];
        for (step, text, want) in steps {
            let path = format!("/critical-values/{cv}/{step}");
            let r = post_form(&t, &session, &path, &body(text)).await;
            assert_eq!(r.status, want, "{step} {text}: {}", r.text);
        }
        let closed = t.store.critical_value_by_id(cv).await.unwrap().unwrap();
        assert_eq!(closed.status.code(), "closed");
        assert_eq!(closed.action.as_deref(), Some("已送急诊胸腔闭式引流"));
        assert_eq!(closed.read_back.as_deref(), Some("大量或张力性气胸"));

        // signed with the same finding: nothing new; the doctor's order page shows it
        let signed = t
            .app
            .write_report(
                reader,
                chest.id,
                ReportStep::Sign,
                "右侧胸腔见无肺纹理透亮区，纵隔左移。",
                "右侧张力性气胸",
                Some("IMG-PNEUMO"),
            )
            .await
            .unwrap();
        assert!(signed.status.signed());
        assert!(open(&doctor_token).await.is_empty());
        let order_page = page(&t, &session, &format!("/exam-orders/{}", chest.id), "zh").await;
        assert!(
            order_page.text.contains("危急值：") && order_page.text.contains("大量或张力性气胸"),
            "{}",
            order_page.text
        );
        // in FHIR the signed report codes its finding; both validators accept it
        let read = t
            .get(
                &format!("/fhir/DiagnosticReport/exam-{}", chest.id),
                &doctor_token,
            )
            .await;
        assert_eq!(read.status, S::OK, "{}", read.text);
        let fhir = read.json();
        assert_eq!(
            fhir["conclusionCode"][0]["coding"][0]["code"], "IMG-PNEUMO",
            "{fhir}"
        );
        let dir = gongti_testdb::temp_dir("gongti-critical-finding");
        std::fs::write(dir.join("report.json"), &read.text).unwrap();
        crate::fhir::validate(&dir, 1);
        // an amendment naming another finding opens it; one naming none closes it
        t.app
            .write_report(
                reader,
                chest.id,
                ReportStep::Sign,
                "右侧气胸，膈下见游离气体。",
                "右侧张力性气胸；消化道穿孔",
                Some("IMG-PERF"),
            )
            .await
            .unwrap();
        let items = open(&doctor_token).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["value"], "消化道穿孔");
        let perf = items[0]["id"].as_i64().unwrap();
        t.app
            .write_report(
                reader,
                chest.id,
                ReportStep::Sign,
                "右侧气胸；膈下未见游离气体（前次误读）。",
                "右侧张力性气胸",
                None,
            )
            .await
            .unwrap();
        assert!(open(&doctor_token).await.is_empty());
        let gone = t.store.critical_value_by_id(perf).await.unwrap().unwrap();
        assert_eq!(gone.status.code(), "closed");
        assert!(gone.action.unwrap().contains("不再为危急值"));

        // the versions keep what each said; every write is named by its audit record
        let report = t.store.exam_report(chest.id).await.unwrap().unwrap();
        let versions = t.store.exam_report_versions(report.id).await.unwrap();
        let codes: Vec<Option<&str>> = versions
            .iter()
            .map(|v| v.critical_code.as_deref())
            .collect();
        assert_eq!(
            codes,
            [
                Some("IMG-PNEUMO"),
                Some("IMG-PNEUMO"),
                Some("IMG-PNEUMO"),
                Some("IMG-PERF"),
                None
            ]
        );
        let verified = gongti_app::audit::verify(&t.store, &Default::default(), |_| {})
            .await
            .unwrap();
        assert!(verified.broken.is_none(), "{verified:?}");
        // a finding dropped by an amendment and named again is notified again (its
        // loop was closed by the amendment, not by anyone's action)
        t.app
            .write_report(
                reader,
                chest.id,
                ReportStep::Sign,
                "右侧气胸，膈下见游离气体（复核确认）。",
                "右侧张力性气胸；消化道穿孔",
                Some("IMG-PERF"),
            )
            .await
            .unwrap();
        let again = open(&doctor_token).await;
        assert_eq!(again.len(), 1, "{again:?}");
        assert_eq!(again[0]["value"], "消化道穿孔");
    }
}
