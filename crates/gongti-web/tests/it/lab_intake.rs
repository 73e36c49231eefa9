//! The laboratory intake over MLLP (DOMAIN.md §8), on both engines, through a real TCP
//! connection to the listener: one connection serving several messages; AA with the
//! results kept, AE for an unmatched patient (held), AR for what cannot be taken; a
//! repeated control id answered as before and stored once; a correction kept as a new
//! version; a fasting glucose counted in the kept figures on its collection day; every
//! stored row named by its audit record.

use gongti_web::mllp::{END_BLOCK, START_BLOCK, frame, serve_mllp};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::{HOME_RESIDENT_ID_NUMBER, TestApp};

fn oru(control: &str, id_number: &str, obx: &str, charset: &str) -> String {
    format!(
        "MSH|^~\\&|LIS|H1|GONGTI|C1|20261201083000+0800||ORU^R01^ORU_R01|{control}|P|2.5.1||||||{charset}\r\
         PID|1||{id_number}^^^&2.16.156.10011.1.3&ISO^ID||张^秀英\r\
         OBR|1|PL-1|FL-1|24323-8^生化^LN|||{collected}\r{obx}",
        collected = "20261201073000+0800",
    )
}

async fn exchange(stream: &mut TcpStream, message: &[u8]) -> String {
    stream.write_all(&frame(message)).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(&[END_BLOCK, 0x0D]) {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the listener closed without an answer");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got[0], START_BLOCK);
    String::from_utf8(got[1..got.len() - 2].to_vec()).unwrap()
}

fn msa(ack: &str) -> Vec<String> {
    let line = ack.split('\r').find(|s| s.starts_with("MSA|")).expect(ack);
    line.split('|').map(str::to_owned).collect()
}

#[tokio::test]
async fn laboratory_results_over_mllp() {
    for t in TestApp::all().await {
        // The clock: results collected "today" must not be in the future.
        let doctor = t.token("doctor").await;
        let base = format!("/api/v1/residents/{}", t.home_resident);
        let r = t
            .post(
                &format!("{base}/enrolments"),
                &doctor,
                json!({"icd10": "E11.9", "diagnosed_on": "2025-01-10"}),
            )
            .await;
        assert_eq!(r.status, axum::http::StatusCode::CREATED, "{}", r.text);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(serve_mllp(listener, t.app.clone(), Vec::new(), stopped));
        let mut c = TcpStream::connect(addr).await.unwrap();

        // collected an hour ago, written in China's time
        let at = (t.app.now() - time::Duration::hours(1)).to_offset(time::macros::offset!(+8));
        let stamp = format!(
            "{:04}{:02}{:02}{:02}{:02}00+0800",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute()
        );
        let with_day = |m: String| m.replace("20261201073000+0800", &stamp);

        // AA: a critical potassium, a fasting glucose, a text result
        let obx = "OBX|1|NM|2823-3^钾^LN||7.1|mmol/L|3.5-5.3|HH|||F\r\
                   OBX|2|NM|14771-0^空腹血糖^LN||8.2|mmol/L|3.9-6.1|H|||F\r\
                   OBX|3|ST|5804-0^尿蛋白^LN||阴性|||N|||F\r";
        let first = with_day(oru("M1", HOME_RESIDENT_ID_NUMBER, obx, "UNICODE UTF-8"));
        let ack = exchange(&mut c, first.as_bytes()).await;
        let a = msa(&ack);
        assert_eq!((a[1].as_str(), a[2].as_str()), ("AA", "M1"), "{ack}");
        assert!(a[3].starts_with("3 new"), "{ack}");
        assert!(ack.starts_with("MSH|^~\\&|GONGTI|C1|LIS|H1|"), "{ack}");

        // the same control id again: the same answer, nothing stored twice
        let again = exchange(&mut c, first.as_bytes()).await;
        assert_eq!(msa(&again)[1], "AA");
        let results = t
            .store
            .lab_results_of_resident(t.home_resident)
            .await
            .unwrap();
        assert_eq!(results.len(), 3, "{:?}", t.engine());
        let k = results.iter().find(|r| r.loinc == "2823-3").unwrap();
        assert_eq!(k.critical.map(|c| c.code()), Some("high"));
        assert_eq!((k.value_centi, k.unit.as_str()), (Some(710), "mmol/L"));
        let fpg = results.iter().find(|r| r.loinc == "14771-0").unwrap();
        assert_eq!(fpg.test, Some(gongti_core::lab::LabTest::FastingGlucose));
        let protein = results.iter().find(|r| r.loinc == "5804-0").unwrap();
        assert_eq!(
            (protein.value_text.as_str(), protein.value_centi),
            ("阴性", None)
        );

        // a correction of the glucose (OBX-11 C), in GB 18030
        let corrected = with_day(oru(
            "M2",
            HOME_RESIDENT_ID_NUMBER,
            "OBX|1|NM|14771-0^空腹血糖^LN||6.4|mmol/L|3.9-6.1||||C\r",
            "GB 18030-2000",
        ));
        let (gb, _, _) = encoding_rs::GB18030.encode(&corrected);
        let ack = exchange(&mut c, &gb).await;
        assert_eq!(msa(&ack)[1], "AA", "{ack}");
        assert!(msa(&ack)[3].starts_with("0 new, 1 updated"), "{ack}");
        let now = t.store.lab_result(fpg.id).await.unwrap().unwrap();
        assert_eq!(
            (now.value_centi, now.status.code()),
            (Some(640), "corrected")
        );
        assert_eq!(now.version.number, 2);
        let before = t
            .store
            .lab_result_version(fpg.id, 1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(before.value_centi, Some(820));
        // and over FHIR: the corrected Observation's history, and its first version
        let history = t
            .get(
                &format!("/fhir/Observation/lab{}/_history", fpg.id),
                &doctor,
            )
            .await;
        assert_eq!(
            history.status,
            axum::http::StatusCode::OK,
            "{}",
            history.text
        );
        assert_eq!(
            history.json()["entry"].as_array().map(Vec::len),
            Some(2),
            "{}",
            history.text
        );
        let first = t
            .get(
                &format!("/fhir/Observation/lab{}/_history/1", fpg.id),
                &doctor,
            )
            .await;
        assert_eq!(first.status, axum::http::StatusCode::OK, "{}", first.text);
        assert_eq!(
            first.json()["valueQuantity"]["value"],
            8.2,
            "{}",
            first.text
        );
        assert_eq!(first.json()["status"], "final");
        let versions_dir = gongti_testdb::temp_dir("gongti-lab-versions");
        std::fs::write(versions_dir.join("history.json"), &history.text).unwrap();
        std::fs::write(versions_dir.join("v1.json"), &first.text).unwrap();
        crate::fhir::validate(&versions_dir, 2);
        // the kept figures count the corrected value, as a recompute does
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored, "{:?}", t.engine());

        // as FHIR: every result an Observation both validators accept (a quantity with
        // its range and flags, a text value, a corrected status)
        let bundle = t
            .get(
                &format!(
                    "/fhir/Observation?patient={}&category=laboratory",
                    t.home_resident
                ),
                &doctor,
            )
            .await
            .json();
        let dir = gongti_testdb::temp_dir("gongti-lab-intake");
        let entries = bundle["entry"].as_array().expect("a searchset").clone();
        assert_eq!(entries.len(), 3, "{bundle}");
        for (i, e) in entries.iter().enumerate() {
            std::fs::write(dir.join(format!("lab{i}.json")), e["resource"].to_string()).unwrap();
        }
        let by_code = |code: &str| {
            entries
                .iter()
                .map(|e| &e["resource"])
                .find(|r| r["code"]["coding"][0]["code"] == code)
                .cloned()
                .expect(code)
        };
        let k = by_code("2823-3");
        assert_eq!(k["interpretation"][0]["coding"][0]["code"], "HH");
        assert_eq!(k["referenceRange"][0]["text"], "3.5-5.3");
        assert_eq!(by_code("5804-0")["valueString"], "阴性");
        let g = by_code("14771-0");
        assert_eq!(
            (g["status"].as_str(), g["meta"]["versionId"].as_str()),
            (Some("corrected"), Some("2"))
        );
        crate::fhir::validate(&dir, 3);

        // the resident sees her results on the phone, the critical one said plainly
        crate::patients::her_token(&t, "zxy.labs").await;
        let phone = crate::patients::phone_cookie(&t, "zxy.labs").await;
        let health = t
            .send(
                axum::http::Request::get("/patient/health")
                    .header(axum::http::header::COOKIE, phone)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        for shown in [
            "检验结果",
            "钾",
            "7.1 mmol/L",
            "危急值，医生会联系您",
            "阴性",
            "3.5-5.3",
        ] {
            assert!(health.text.contains(shown), "{shown}: {}", health.text);
        }

        // AE: nobody registered under the ID number (held); a bad ID number
        let unknown = with_day(oru("M3", "110105198001010016", obx, ""));
        let ack = exchange(&mut c, unknown.as_bytes()).await;
        assert_eq!(msa(&ack)[1], "AE", "{ack}");
        assert!(ack.contains("ERR|||204^"), "{ack}");
        let bad = with_day(oru("M4", "110105198001010017", obx, ""));
        assert_eq!(msa(&exchange(&mut c, bad.as_bytes()).await)[1], "AE");
        let held = t.store.hl7_messages("AE", None, 10).await.unwrap();
        let problems: Vec<&str> = held.iter().map(|m| m.problem.as_str()).collect();
        assert_eq!(problems, ["invalid_id_number", "not_registered"]);
        let raw = t.store.hl7_message_raw(held[1].id).await.unwrap().unwrap();
        assert_eq!(raw, unknown.as_bytes(), "the bytes as received");

        // AR: another message type, an unknown sending facility, nothing to keep
        let adt = "MSH|^~\\&|LIS|H1|G|C1|20261201||ADT^A01|M5|P|2.5.1\r";
        assert_eq!(msa(&exchange(&mut c, adt.as_bytes()).await)[1], "AR");
        let stranger = with_day(oru("M6", HOME_RESIDENT_ID_NUMBER, obx, ""))
            .replace("|LIS|H1|", "|LIS|NOWHERE|");
        assert_eq!(msa(&exchange(&mut c, stranger.as_bytes()).await)[1], "AR");
        let empty = with_day(oru(
            "M7",
            HOME_RESIDENT_ID_NUMBER,
            "OBX|1|NM|2823-3^钾^LN||4.1|mmol/L|||||X\r",
            "",
        ));
        let ack = exchange(&mut c, empty.as_bytes()).await;
        assert_eq!(msa(&ack)[1], "AR");
        assert!(ack.contains("OBX-11"), "{ack}");
        assert_eq!(t.store.hl7_messages("AR", None, 10).await.unwrap().len(), 3);

        drop(c);
        stop.send(true).unwrap();
        server.await.unwrap().unwrap();

        // the laboratory's administrator matches the held message by ID number in the
        // console: its results join that resident's record; a clinic's doctor may not
        let admin = sign_in(&t, "hospadmin").await;
        let list = page(&t, &admin, "/lab-messages", "zh").await;
        assert_eq!(list.status, axum::http::StatusCode::OK);
        for shown in [
            "检验报文匹配",
            "M3",
            "该身份证号没有登记的居民",
            "张秀英",
            "110105********0016",
            "钾",
        ] {
            assert!(list.text.contains(shown), "{shown}: {}", list.text);
        }
        assert!(
            !list.text.contains("110105198001010016"),
            "the number is masked"
        );
        let held_id = held[1].id;
        let wrong = post_form(
            &t,
            &admin,
            &format!("/lab-messages/{held_id}/match"),
            &format!("csrf={}&id_number=110105194912310038", csrf_of(&list.text)),
        )
        .await;
        assert_eq!(
            wrong.status,
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            wrong.text
        );
        let before = t
            .store
            .lab_results_of_resident(t.home_resident)
            .await
            .unwrap()
            .len();
        // matched once (its results, the same order and codes as the first message's,
        // are on the record already), then no longer held
        let path = format!("/lab-messages/{held_id}/match");
        let body = format!(
            "csrf={}&id_number={HOME_RESIDENT_ID_NUMBER}",
            csrf_of(&list.text)
        );
        for want in [
            axum::http::StatusCode::SEE_OTHER,
            axum::http::StatusCode::CONFLICT,
        ] {
            let r = post_form(&t, &admin, &path, &body).await;
            assert_eq!(r.status, want, "{}", r.text);
        }
        let after = t
            .store
            .lab_results_of_resident(t.home_resident)
            .await
            .unwrap()
            .len();
        assert_eq!(after, before, "{:?}", t.engine());
        let left = page(&t, &admin, "/lab-messages", "zh").await;
        assert!(
            !left.text.contains("该身份证号没有登记的居民"),
            "{}",
            left.text
        );
        let doctor_session = sign_in(&t, "doctor").await;
        let refused = page(&t, &doctor_session, "/lab-messages", "zh").await;
        assert_eq!(refused.status, axum::http::StatusCode::FORBIDDEN);

        // the critical potassium notified the resident's institution: on the API, then
        // read back and confirmed and its action recorded in the console
        let open = t.get("/api/v1/worklists/critical-values", &doctor).await;
        assert_eq!(open.status, axum::http::StatusCode::OK, "{}", open.text);
        let items = open.json()["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 1, "{}", open.text);
        assert_eq!(
            (
                items[0]["code"].as_str(),
                items[0]["value"].as_str(),
                items[0]["side"].as_str(),
                items[0]["status"].as_str()
            ),
            (Some("2823-3"), Some("7.1"), Some("high"), Some("notified"))
        );
        let cv = items[0]["id"].as_i64().unwrap();
        let other = t.token("other_doctor").await;
        let theirs = t
            .get("/api/v1/worklists/critical-values", &other)
            .await
            .json();
        assert_eq!(
            theirs["items"].as_array().unwrap().len(),
            0,
            "another institution's"
        );
        let officer = t.token("officer").await;
        assert_eq!(
            t.get("/api/v1/worklists/critical-values", &officer)
                .await
                .status,
            axum::http::StatusCode::FORBIDDEN
        );
        let desk = page(&t, &doctor_session, "/", "zh").await;
        assert!(desk.text.contains("危急值待确认处置"), "{}", desk.text);
        let list = page(&t, &doctor_session, "/critical-values", "zh").await;
        assert!(
            list.text.contains("7.1 mmol/L") && list.text.contains("危急高值"),
            "{}",
            list.text
        );
        let form = |text: &str| format!("csrf={}&{text}", csrf_of(&list.text));
        use axum::http::StatusCode as S;
        let steps = [
            ("act", "action=x", S::CONFLICT),
            ("confirm", "read_back=1.7", S::UNPROCESSABLE_ENTITY),
            ("confirm", "read_back=7.10", S::SEE_OTHER),
            (
                "act",
                "action=%E5%B7%B2%E7%94%B5%E8%AF%9D%E9%80%9A%E7%9F%A5%E6%82%A3%E8%80%85%E6%80%A5%E8%AF%8A%E5%B0%B1%E5%8C%BB",
                S::SEE_OTHER,
            ),
        ];
        for (step, body, want) in steps {
            let path = format!("/critical-values/{cv}/{step}");
            let r = post_form(&t, &doctor_session, &path, &form(body)).await;
            assert_eq!(r.status, want, "{step} {body}: {}", r.text);
            if want == S::UNPROCESSABLE_ENTITY {
                assert!(r.text.contains("复述结果"), "{}", r.text);
            }
        }
        let closed = t.store.critical_value_by_id(cv).await.unwrap().unwrap();
        assert_eq!(closed.status.code(), "closed");
        assert_eq!(closed.action.as_deref(), Some("已电话通知患者急诊就医"));
        assert!(closed.confirmed_at_us.is_some() && closed.actioned_at_us.is_some());

        // a corrected result that becomes critical notifies again; not confirmed within
        // 15 minutes it is escalated to the duty officer, once, by the system
        let low = with_day(oru(
            "M8",
            HOME_RESIDENT_ID_NUMBER,
            "OBX|1|NM|14771-0^空腹血糖^LN||2.1|mmol/L|3.9-6.1|LL|||C\r",
            "",
        ));
        let answer = t
            .app
            .receive_lab_message(gongti_web::hl7::read_message(
                low.as_bytes(),
                "test",
                gongti_app::DISPLAY_OFFSET,
            ))
            .await
            .unwrap();
        assert_eq!(answer.code.code(), "AA", "{answer:?}");
        let open = t
            .get("/api/v1/worklists/critical-values", &doctor)
            .await
            .json();
        assert_eq!(open["items"][0]["side"], "low", "{open}");
        assert!(open["items"][0]["escalated_at"].is_null());
        t.shift_clock(1);
        let admin_token = t.token("instadmin").await;
        let escalated = t
            .get("/api/v1/worklists/critical-values", &admin_token)
            .await
            .json();
        assert!(
            escalated["items"][0]["escalated_at"].is_string(),
            "{escalated}"
        );
        assert_eq!(t.app.escalate_critical_values().await.unwrap(), 0, "once");
        // corrected again, no longer critical: its loop closes by itself
        let normal = with_day(oru(
            "M9",
            HOME_RESIDENT_ID_NUMBER,
            "OBX|1|NM|14771-0^空腹血糖^LN||6.0|mmol/L|3.9-6.1||||C\r",
            "",
        ));
        let answer = t
            .app
            .receive_lab_message(gongti_web::hl7::read_message(
                normal.as_bytes(),
                "test",
                gongti_app::DISPLAY_OFFSET,
            ))
            .await
            .unwrap();
        assert_eq!(answer.code.code(), "AA", "{answer:?}");
        let none = t
            .get("/api/v1/worklists/critical-values", &admin_token)
            .await
            .json();
        assert_eq!(none["items"].as_array().map(Vec::len), Some(0), "{none}");
        t.shift_clock(0);

        // every row is named by the record of the write that made it
        let report = gongti_app::audit::verify(&t.store, &Default::default(), |_| {})
            .await
            .unwrap();
        assert!(report.broken.is_none(), "{report:?}");
        let uncovered: Vec<&str> = report.uncovered.iter().map(|u| u.table).collect();
        assert!(
            !uncovered.contains(&"lab_results") && !uncovered.contains(&"hl7_messages"),
            "{report:?}"
        );
        let tail = t.audit_tail(60).await;
        assert!(tail.iter().any(|e| e.entry.action == "lab.receive"));
        assert!(
            tail.iter()
                .any(|e| e.entry.action == "hl7.match"
                    && e.entry.patient_id == Some(t.home_resident))
        );
        assert!(tail.iter().any(|e| e.entry.action == "hl7.held.list"));
        for action in ["critical.confirm", "critical.act", "critical.escalate"] {
            assert!(tail.iter().any(|e| e.entry.action == action), "{action}");
        }
        assert!(tail.iter().any(|e| {
            e.entry.action == "hl7.receive"
                && e.entry
                    .detail
                    .as_deref()
                    .is_some_and(|d| d.starts_with("AE"))
        }));
    }
}
