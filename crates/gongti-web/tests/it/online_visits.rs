//! Online repeat visits (互联网复诊, DOMAIN.md §4) on both engines: the resident asks on
//! the phone and sees that the record makes it a repeat visit; a bad request saves
//! nothing; the doctor opens the online clinic (password), takes the visit, writes,
//! and prescribes in it (the visit ends with the prescription, once); another visit
//! with no offline diagnosis gets a document accepted, then ends with "go to a
//! clinic" and its reason, which the phone shows; every step is audited.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gongti_app::{AppError, Ctx};
use gongti_core::pharmacy::visit::{EndReason, VisitStatus};
use serde_json::json;

use crate::prescriptions::{draft, issue_body, line};
use crate::support::{PASSWORD, TestApp};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n-a-photo-of-a-record";
const BOUNDARY: &str = "----gongti-visit-boundary";

/// A multipart form: text fields, then the images.
fn multipart(fields: &[(&str, &str)], images: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for image in images {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"images\"; filename=\"p.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(image);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A resident's context for a resident who is not the visit's.
pub(crate) fn nobody() -> gongti_app::patients::PatientCtx {
    gongti_app::patients::PatientCtx {
        account_id: 0,
        resident_id: 0,
        username: "nobody".into(),
        csrf: None,
        request_id: None,
    }
}

/// The bytes with every `from` replaced by `to`.
fn replaced(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

async fn ctx_of(t: &TestApp, username: &str) -> Ctx {
    let token = t.token(username).await;
    Ctx {
        principal: t.app.authenticate(&token).await.unwrap().principal,
        request_id: None,
    }
}

#[tokio::test]
async fn a_repeat_visit_from_the_phone_ends_in_a_prescription_or_at_a_clinic() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let base = format!("/api/v1/residents/{}", t.home_resident);
        let today = t.app.today();
        let r = t
            .post(
                &format!("{base}/contracts"),
                &doctor,
                json!({"team_id": t.team, "packages": ["basic"], "resident_consent": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = t
            .post(
                &format!("{base}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": (today - time::Duration::days(400)).to_string(), "diagnosed_offline": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        // The phone: the disease on the record, a repeat visit, her team to ask.
        crate::patients::her_token(&t, "zxy.visit").await;
        let cookie = crate::patients::phone_cookie(&t, "zxy.visit").await;
        let get = |path: String| {
            Request::get(path)
                .header(header::COOKIE, cookie.clone())
                .body(Body::empty())
                .unwrap()
        };
        let send = |path: String, body: Vec<u8>| {
            Request::post(path)
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .header(header::COOKIE, cookie.clone())
                .body(Body::from(body))
                .unwrap()
        };
        let page = t.send(get("/patient/visits".into())).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for words in ["高血压", "符合复诊条件", "王医生团队"] {
            assert!(page.text.contains(words), "{words}: {}", page.text);
        }
        let csrf = crate::console_scheduling::csrf_of(&page.text);

        // A request with no complaint and a page instead of a photo: both named, nothing saved.
        let bad = t
            .send(send(
                "/patient/visits".into(),
                multipart(
                    &[
                        ("csrf", &csrf),
                        ("disease", "I10"),
                        ("destination", "team"),
                        ("complaint", " "),
                    ],
                    &[b"<html>not a photo</html>"],
                ),
            ))
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        assert!(
            bad.text.contains("complaint") || bad.text.contains("病情"),
            "{}",
            bad.text
        );
        assert!(
            t.store
                .resident_online_visits(t.home_resident, 10)
                .await
                .unwrap()
                .is_empty()
        );

        // Tapped twice on a slow phone: sent once, the second answered as the first.
        let form = multipart(
            &[
                ("csrf", &csrf),
                ("idempotency_key", "visit-k-1"),
                ("disease", "I10"),
                ("destination", "team"),
                ("complaint", "药快吃完了，想复诊开药"),
            ],
            &[PNG],
        );
        let asked = t.send(send("/patient/visits".into(), form.clone())).await;
        assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.text);
        // The browser draws a new boundary for the second submit.
        let resent = replaced(&form, BOUNDARY.as_bytes(), b"----another-boundary");
        let again = t
            .send(
                Request::post("/patient/visits")
                    .header(
                        header::CONTENT_TYPE,
                        "multipart/form-data; boundary=----another-boundary",
                    )
                    .header(header::COOKIE, cookie.clone())
                    .body(Body::from(resent))
                    .unwrap(),
            )
            .await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        let visits = t
            .store
            .resident_online_visits(t.home_resident, 10)
            .await
            .unwrap();
        assert_eq!(visits.len(), 1);
        let visit = visits[0].clone();
        assert_eq!(visit.status, VisitStatus::Waiting);
        assert_eq!(visit.institution_id, t.home);
        assert!(
            visit
                .basis
                .as_deref()
                .is_some_and(|b| b.starts_with("enrolment|I10|")),
            "{:?}",
            visit.basis
        );
        let mine = t.send(get(format!("/patient/visits/{}", visit.id))).await;
        assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
        assert!(
            mine.text.contains("等待医生接诊") && mine.text.contains("药快吃完了"),
            "{}",
            mine.text
        );
        let messages = t.store.online_visit_messages(visit.id).await.unwrap();
        let image_id = messages[0].images[0].id;
        let photo = t
            .send(get(format!("/patient/visits/images/{image_id}")))
            .await;
        assert_eq!(photo.status, StatusCode::OK);
        assert_eq!(photo.headers[header::CONTENT_TYPE], "image/png");

        // The doctor: the clinic opens with the password (the real-name check) only.
        let d = ctx_of(&t, "doctor").await;
        let closed = t.app.accept_visit(&d, visit.id).await;
        assert!(
            matches!(closed, Err(AppError::Conflict("online_clinic_closed"))),
            "{closed:?}"
        );
        let wrong = t.app.open_online_clinic(&d, "not-my-password").await;
        assert!(matches!(wrong, Err(AppError::Invalid(_))), "{wrong:?}");
        t.app.open_online_clinic(&d, PASSWORD).await.unwrap();
        let clinic = t.app.online_clinic(&d).await.unwrap();
        assert_eq!(clinic.waiting_count, 1);
        // Another institution's doctor does not see it.
        let other = ctx_of(&t, "other_doctor").await;
        assert!(matches!(
            t.app.online_visit(&other, visit.id).await,
            Err(AppError::NotFound)
        ));
        t.app.accept_visit(&d, visit.id).await.unwrap();
        let again = t.app.accept_visit(&d, visit.id).await;
        assert!(matches!(again, Err(AppError::Conflict(_))), "{again:?}");
        t.app
            .doctor_visit_message(&d, visit.id, "按原方案开药", &[])
            .await
            .unwrap();

        // Eight weeks: a long prescription the patient confirms on the phone — a tick
        // on the doctor's form does not stand for it online (LRX-1).
        let mut body = issue_body(
            &draft(&t, vec![line("苯磺酸氨氯地平片", 5.0, "mg", 1, 56)], &[]),
            PASSWORD,
        );
        body["long_prescription"] =
            json!({"first": true, "assessment_recorded": true, "patient_confirmed": true});
        body["online_visit_id"] = json!(visit.id);
        let r = t.post("/api/v1/prescriptions", &doctor, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("supply_over_limit"), "{}", r.text);
        let far = t.app.ask_long_confirmation(&d, visit.id, 13).await;
        assert!(matches!(far, Err(AppError::Invalid(_))), "{far:?}");
        // What the resident confirms is the ask they were shown: asked for 5 weeks, then
        // for 8, the 5-week page confirms nothing.
        t.app.ask_long_confirmation(&d, visit.id, 5).await.unwrap();
        let shown = t.store.online_visit(visit.id).await.unwrap();
        t.app.ask_long_confirmation(&d, visit.id, 8).await.unwrap();
        let confirm = |weeks: i64, asked_at: i64| {
            Request::post(format!("/patient/visits/{}/confirm-long", visit.id))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, cookie.clone())
                .body(Body::from(format!(
                    "csrf={csrf}&weeks={weeks}&asked_at_us={asked_at}"
                )))
                .unwrap()
        };
        let stale = t.send(confirm(5, shown.long_asked_at_us.unwrap())).await;
        assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.text);
        let mine = t.send(get(format!("/patient/visits/{}", visit.id))).await;
        assert!(
            mine.text.contains("我已了解并确认") && mine.text.contains("8 周"),
            "{}",
            mine.text
        );
        let asked = t.store.online_visit(visit.id).await.unwrap();
        let confirmed = t.send(confirm(8, asked.long_asked_at_us.unwrap())).await;
        assert_eq!(
            confirmed.status,
            StatusCode::SEE_OTHER,
            "{}",
            confirmed.text
        );
        let again = t
            .app
            .own_visit_withdraw(&crate::online_visits::nobody(), visit.id)
            .await;
        assert!(again.is_err());

        // An online prescription outside a visit is refused, with the reason in words.
        let mut outside = body.clone();
        outside["online_visit_id"] = serde_json::Value::Null;
        outside["visit"] = json!({"channel": "online"});
        let r = t.post("/api/v1/prescriptions", &doctor, outside).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(
            r.json()["problems"][0]["field"],
            "online_visit_id",
            "{}",
            r.text
        );

        // Prescribed in the visit: the prescription is an online one, the visit ends.
        let r = t.post("/api/v1/prescriptions", &doctor, body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let rx = r.json()["id"].as_i64().unwrap();
        let ended = t.store.online_visit(visit.id).await.unwrap();
        assert_eq!(
            (ended.status, ended.prescription_id),
            (VisitStatus::Prescribed, Some(rx))
        );
        let record = t.store.prescription(rx).await.unwrap();
        assert_eq!(record.channel, "online");
        let twice = t.post("/api/v1/prescriptions", &doctor, body.clone()).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
        // Returned and revised as a clinic one: it stays online, confirmed on the phone.
        let reviewer = crate::prescriptions::pharmacist(&t, "yaoshi", t.home, "主管药师", 5).await;
        let r = crate::prescriptions::step(
            &t,
            &reviewer,
            rx,
            json!({"step": "return", "reason": "请核对"}),
        )
        .await;
        assert_eq!(r.json()["status"], "returned", "{}", r.text);
        let mut revision = body;
        revision["visit"] = json!({"channel": "clinic"});
        revision["long_prescription"]["patient_confirmed"] = json!(false);
        let r = crate::prescriptions::step(
            &t,
            &doctor,
            rx,
            json!({"step": "revise", "password": PASSWORD, "revision": revision}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["version"], 2, "{}", r.text);
        assert_eq!(
            r.json()["content"]["long_prescription"]["patient_confirmed"],
            true,
            "the phone's confirmation, not the form's: {}",
            r.text
        );
        let versions = t.store.prescription_versions(rx).await.unwrap();
        assert!(
            versions[1].content.contains("channel=online"),
            "{}",
            versions[1].content
        );
        let mine = t.send(get(format!("/patient/visits/{}", visit.id))).await;
        assert!(mine.text.contains("医生已开处方"), "{}", mine.text);

        // Another disease with no offline diagnosis: a document accepted, then to a clinic.
        let asked = t
            .send(send(
                "/patient/visits".into(),
                multipart(
                    &[
                        ("csrf", &csrf),
                        ("disease", ""),
                        ("destination", "team"),
                        ("complaint", "哮喘，附诊断证明"),
                    ],
                    &[PNG],
                ),
            ))
            .await;
        assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.text);
        let second = t
            .store
            .resident_online_visits(t.home_resident, 10)
            .await
            .unwrap()[0]
            .clone();
        assert_eq!(second.basis, None);
        t.app.accept_visit(&d, second.id).await.unwrap();
        // The prescribing form opened from the visit: online, the last prescription's
        // drugs filled in for the doctor to check.
        let session = crate::console::sign_in(&t, "doctor").await;
        let form = crate::console::page(
            &t,
            &session,
            &format!(
                "/residents/{}/prescribe?visit={}",
                t.home_resident, second.id
            ),
            "zh",
        )
        .await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.text);
        assert!(
            form.text.contains("value=\"苯磺酸氨氯地平片\"")
                && form.text.contains("已按上次处方预填")
                && form
                    .text
                    .contains(&format!("name=\"online_visit_id\" value=\"{}\"", second.id)),
            "{}",
            form.text
        );
        let image = t.store.online_visit_messages(second.id).await.unwrap()[0].images[0].id;
        t.app
            .accept_visit_document(&d, second.id, image, "j45.9")
            .await
            .unwrap();
        let view = t.app.online_visit(&d, second.id).await.unwrap();
        // The accepted document is kept as long as the visit's record (15 years), its
        // other messages 3 years.
        assert_eq!(view.messages[0].keep_until, view.record.keep_until);
        assert!(
            matches!(&view.eligibility, gongti_core::pharmacy::visit::Eligibility::Repeat(b) if b.icd10 == "J45.9"),
            "{:?}",
            view.eligibility
        );
        let no_note = t
            .app
            .visit_to_clinic(&d, second.id, EndReason::Other, " ")
            .await;
        assert!(matches!(no_note, Err(AppError::Invalid(_))), "{no_note:?}");
        t.app
            .visit_to_clinic(
                &d,
                second.id,
                EndReason::ConditionChanged,
                "喘息加重，需要听诊",
            )
            .await
            .unwrap();
        let late = t
            .send(send(
                format!("/patient/visits/{}/message", second.id),
                multipart(&[("csrf", &csrf), ("text", "还能再问吗")], &[]),
            ))
            .await;
        assert_eq!(late.status, StatusCode::CONFLICT, "{}", late.text);
        let mine = t.send(get(format!("/patient/visits/{}", second.id))).await;
        assert!(
            mine.text.contains("请到医院线下就诊") && mine.text.contains("喘息加重"),
            "{}",
            mine.text
        );
        // An image of the visit is never taken as another visit's document.
        let foreign = t
            .app
            .accept_visit_document(&d, second.id, image_id, "I10")
            .await;
        assert!(foreign.is_err());

        let actions: Vec<String> = t
            .audit_tail(200)
            .await
            .into_iter()
            .map(|e| e.entry.action)
            .collect();
        for action in [
            "online_visit.request",
            "online_visit.read",
            "online_clinic.open",
            "online_visit.accept",
            "online_visit.message",
            "online_visit.accept_document",
            "online_visit.to_clinic",
            "online_visit.image",
            "online_visit.ask_long",
            "online_visit.confirm_long",
        ] {
            assert!(actions.iter().any(|a| a == action), "{action}");
        }
    }
}
