//! Remote consultation over the API and FHIR on both engines (DOMAIN.md §3): the
//! question with a file, the consulted hospital's access only while it is open, the
//! opinion in the patient's record.

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn a_specialist_answers_and_access_ends_when_the_consultation_closes() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let specialist = t.token("specialist").await;
        let other = t.token("other_doctor").await;
        let p = t.home_resident;
        let record = format!("/api/v1/residents/{p}");
        assert_eq!(
            t.get(&record, &specialist).await.status,
            StatusCode::FORBIDDEN
        );

        // Every problem at once, nothing saved.
        let r = t
            .post(
                &format!("/api/v1/residents/{p}/consultations"),
                &doctor,
                json!({"department_id": t.cardio, "question": "", "video_at": "2020-01-01T08:00:00+08:00",
                       "files": [{"filename": "x.exe", "content_type": "application/x-msdownload", "data_base64": "AAEC"}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(
            r.json()["problems"].as_array().unwrap().len(),
            3,
            "{}",
            r.text
        );
        let r = t
            .get(&format!("/api/v1/residents/{p}/consultations"), &doctor)
            .await;
        assert!(r.json()["items"].as_array().unwrap().is_empty());

        let ecg = b"%PDF-1.4 ECG 12-lead, ST depression V4-V6";
        let video = (t.app.now() + time::Duration::days(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let r = t
            .post(
                &format!("/api/v1/residents/{p}/consultations"),
                &doctor,
                json!({"department_id": t.cardio, "question": "心电图ST段压低，是否需调整降压方案？", "video_at": video,
                       "files": [{"filename": "ecg.pdf", "content_type": "application/pdf",
                                  "data_base64": base64::engine::general_purpose::STANDARD.encode(ecg)}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let c = r.json();
        let id = c["id"].as_i64().unwrap();
        assert_eq!(c["status"], "requested");
        let file_url = c["files"][0]["url"].as_str().unwrap().to_owned();

        // While open, the consulted hospital reads the record and the file.
        let inbox = t
            .get("/api/v1/consultations?box=inbox", &specialist)
            .await
            .json();
        assert_eq!(inbox["items"][0]["id"], id);
        assert_eq!(t.get(&record, &specialist).await.status, StatusCode::OK);
        let r = t.get(&file_url, &specialist).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.text.as_bytes(), ecg);
        assert_eq!(r.headers["content-type"], "application/pdf");
        assert_eq!(t.get(&file_url, &other).await.status, StatusCode::FORBIDDEN);
        // Only the consulted side answers; a closed consultation needs an answer first.
        let answer = format!("/api/v1/consultations/{id}/answer");
        let opinion = json!({"opinion": "考虑心肌缺血，加用β受体阻滞剂，两周后复查心电图"});
        assert_eq!(
            t.post(&answer, &doctor, opinion.clone()).await.status,
            StatusCode::FORBIDDEN
        );
        let r = t
            .post(
                &format!("/api/v1/consultations/{id}/close"),
                &doctor,
                json!({}),
            )
            .await;
        assert_eq!(r.json()["code"], "consultation_not_open_for_step");
        let r = t.post(&answer, &specialist, opinion).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["status"], "answered");

        // The opinion is in the patient's record, over the API and FHIR.
        let mine = t
            .get(&format!("/api/v1/residents/{p}/consultations"), &doctor)
            .await
            .json();
        assert!(
            mine["items"][0]["opinion"]
                .as_str()
                .unwrap()
                .contains("β受体阻滞剂")
        );
        let dir = gongti_testdb::temp_dir("gongti-fhir-consultation");
        for (name, path) in [
            (
                "requests",
                format!("/fhir/CommunicationRequest?patient={p}"),
            ),
            (
                "opinions",
                format!("/fhir/Communication?patient=Patient/{p}"),
            ),
        ] {
            let r = t.get(&path, &doctor).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            std::fs::write(dir.join(format!("{name}.json")), &r.text).unwrap();
            // Each entry and what it references reads back by id.
            crate::fhir::assert_resolvable(&t, &doctor, &[&r.json()]).await;
        }
        crate::fhir::validate(&dir, 2);

        // Closed: the hospital's access ends.
        let r = t
            .post(
                &format!("/api/v1/consultations/{id}/close"),
                &doctor,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            t.get(&record, &specialist).await.status,
            StatusCode::FORBIDDEN
        );
        let inbox = t
            .get("/api/v1/consultations?box=inbox", &specialist)
            .await
            .json();
        assert!(inbox["items"].as_array().unwrap().is_empty());
        // The hospital still sees what it answered.
        assert_eq!(
            t.get(&format!("/api/v1/consultations/{id}"), &specialist)
                .await
                .status,
            StatusCode::OK
        );
    }
}
