//! Indicators over the API on both engines: figures recomputed from the records,
//! and the patient lists behind them, named or de-identified by the viewer's rights.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

fn id_number(sequence: u32) -> String {
    crate::support::id_number_born("19600101", sequence)
}

fn figure(v: &Value, disease: &str, code: &str) -> (i64, i64) {
    let p = v["programmes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .find(|p| p["disease"] == disease)
        .unwrap();
    let i = p["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .unwrap();
    (
        i["numerator"].as_i64().unwrap(),
        i["denominator"].as_i64().unwrap(),
    )
}

/// Registers a resident as `doctor`; returns the id.
async fn new_resident(t: &TestApp, doctor: &str, name: &str, sequence: u32) -> i64 {
    let r = t
        .post(
            "/api/v1/residents",
            doctor,
            json!({"name": name, "id_number": id_number(sequence)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["id"].as_i64().unwrap()
}

/// Enrols a resident in hypertension on the clock's today.
async fn enrol_in_hypertension(t: &TestApp, doctor: &str, id: i64) {
    let r = t
        .post(
            &format!("/api/v1/residents/{id}/enrolments"),
            doctor,
            json!({"icd10": "I10", "diagnosed_on": "2020-01-01"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn indicators_and_the_patients_behind_them() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let mut ids = Vec::new();
        for (i, name) in ["赵一", "钱二", "孙三"].iter().enumerate() {
            let r = t
                .post(
                    "/api/v1/residents",
                    &doctor,
                    json!({"name": name, "id_number": id_number(i as u32 * 2 + 1)}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            ids.push(r.json()["id"].as_i64().unwrap());
        }
        // All three enrolled in hypertension 200 days ago.
        t.shift_clock(-200);
        for id in &ids {
            enrol_in_hypertension(&t, &doctor, *id).await;
        }
        // 赵一: two face-to-face visits, the latest controlled. 钱二: one visit,
        // uncontrolled. 孙三: nothing.
        // Each visit is on the (moved) clock's today.
        let visit = |id: i64, sbp: i64| {
            let day = t.app.today().to_string();
            (
                format!("/api/v1/residents/{id}/followups"),
                json!({"disease": "hypertension", "method": "clinic", "visit_on": day, "sbp_mmhg": sbp, "dbp_mmhg": 80}),
            )
        };
        t.shift_clock(-150);
        for (id, sbp) in [(ids[0], 150), (ids[1], 150)] {
            let (path, body) = visit(id, sbp);
            assert_eq!(
                t.post(&path, &doctor, body).await.status,
                StatusCode::CREATED
            );
        }
        t.shift_clock(-20);
        let (path, body) = visit(ids[0], 132);
        assert_eq!(
            t.post(&path, &doctor, body).await.status,
            StatusCode::CREATED
        );
        t.shift_clock(0);

        // A 180-day period ending today needs ⌊180 ÷ 90⌋ = 2 face-to-face visits.
        let from = (t.app.today() - time::Duration::days(179)).to_string();
        let to = t.app.today().to_string();
        let scope = format!("institution:{}", t.home);
        let q = format!(
            "/api/v1/indicators?scope={scope}&from={from}&to={to}&disease=hypertension&compare=previous"
        );
        let v = t.get(&q, &doctor).await;
        assert_eq!(v.status, StatusCode::OK, "{}", v.text);
        let v = v.json();
        assert_eq!(v["required_face_to_face"], 2);
        assert_eq!(
            figure(&v, "hypertension", "standardised_management"),
            (1, 3)
        );
        assert_eq!(figure(&v, "hypertension", "bp_control"), (1, 3));
        // Enrolled 200 days before the end: eligible for missed visit, not for lost.
        assert_eq!(figure(&v, "hypertension", "missed_visit"), (2, 3));
        assert_eq!(figure(&v, "hypertension", "lost_to_follow_up"), (0, 0));
        let programme = &v["programmes"][0];
        assert_eq!(programme["managed"], 3);
        assert_eq!(programme["indicators"][1]["rate"], 0.3333);
        // The 180 days before began before any record was kept: not comparable, so no
        // figures of it (its zeros would read as a rise).
        assert_eq!(v["previous"]["comparable"], false, "{v}");
        assert_eq!(v["previous"]["as_of"], serde_json::Value::Null);
        let since = v["previous"]["records_since"].as_str().unwrap();
        assert!(since.ends_with("-01") && since > v["previous"]["to"].as_str().unwrap());
        assert_eq!(
            programme["indicators"][1]["previous"],
            serde_json::Value::Null
        );

        // The doctor sees the numerator by name; nothing but aggregates is audited
        // until a list is opened, then each named patient's trail shows it.
        let list = format!(
            "/api/v1/indicators/patients?scope={scope}&from={from}&to={to}&disease=hypertension&indicator=missed_visit"
        );
        let named = t.get(&list, &doctor).await.json();
        let names: Vec<&str> = named["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["钱二", "孙三"]);
        assert_eq!(named["identified"], true);
        assert_eq!(t.audit_tail(1).await[0].entry.action, "indicators.patients");

        // The city officer sees them de-identified, unless breaking the glass.
        let officer = t.token("officer").await;
        let masked = t.get(&list, &officer).await.json();
        assert_eq!(masked["identified"], false);
        assert_eq!(masked["items"][0]["name"], "钱*");
        assert_eq!(masked["items"][0]["age_band"], "65-74");
        assert!(
            masked["items"][0]["id_number"]
                .as_str()
                .unwrap()
                .contains("**********")
        );
        let glass = t
            .get(&format!("{list}&break_glass_reason=质控抽查病历"), &officer)
            .await
            .json();
        assert_eq!(glass["items"][0]["name"], "钱二");
        let trail = t.audit_tail(3).await;
        assert!(trail.iter().any(|r| r.entry.patient_id == Some(ids[1])
            && r.entry.reason.as_deref() == Some("质控抽查病历")));

        // The denominator, one at a time.
        let first = t
            .get(&format!("{list}&part=denominator&limit=2"), &doctor)
            .await
            .json();
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        let next = first["next_cursor"].as_str().unwrap();
        let rest = t
            .get(
                &format!("{list}&part=denominator&limit=2&cursor={next}"),
                &doctor,
            )
            .await
            .json();
        assert_eq!(rest["items"].as_array().unwrap().len(), 1);
        assert_eq!(rest["next_cursor"], Value::Null);

        // Another centre's doctor may not see this centre's figures.
        let other = t.token("other_doctor").await;
        assert_eq!(t.get(&q, &other).await.status, StatusCode::FORBIDDEN);
        // The district officer of the centre's district may; the city sums it too.
        let district = t.token("district").await;
        let d = t
            .get(
                &format!("/api/v1/indicators?scope=district:120101&from={from}&to={to}"),
                &district,
            )
            .await;
        assert_eq!(d.status, StatusCode::OK, "{}", d.text);
        assert_eq!(figure(&d.json(), "hypertension", "bp_control"), (1, 3));
        let bad = t.get("/api/v1/indicators?scope=galaxy", &officer).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    }
}

/// The demo generator keeps its own count of the year's indicators, decided visit by
/// visit; the indicators recomputed from what it stored must equal it exactly.
#[tokio::test]
async fn the_generators_ground_truth_equals_the_computed_indicators() {
    for store in gongti_testdb::engines().await {
        let (app, _writer) = gongti_app::App::start(store, gongti_app::system_clock())
            .await
            .unwrap();
        let summary = app
            .seed_demo(4_000, 11, "demo-password-1", |_, _| {})
            .await
            .unwrap();
        let truth = summary.chronic;
        assert!(
            truth.hypertension.managed > 200 && truth.diabetes.managed > 80,
            "{truth:?}"
        );
        // Some HbA1c values come only from the laboratory, so the truth exercises
        // results counted on their collection day too.
        assert!(truth.lab_results > 5, "{truth:?}");
        // Some enrolments have ended (结案), so the truth exercises endings too.
        assert!(
            truth.hypertension.ended > 3 && truth.diabetes.ended > 0,
            "{truth:?}"
        );
        // Most patients under management have signed with a team of their home
        // institution — at the demo doctor's centre, with the demo doctor's team — so
        // referral from the workstation books reserved slots.
        let store = app.store();
        let doctor = store
            .user_by_username("doctor")
            .await
            .unwrap()
            .unwrap()
            .staff_id;
        let today = app.today();
        let (mut managed, mut contracted, mut with_doctor) = (0, 0, 0);
        let mut after = None;
        loop {
            let page = store
                .residents(&gongti_store::ResidentFilter::default(), after, 1_000)
                .await
                .unwrap();
            let ids: Vec<i64> = page.items.iter().map(|r| r.id).collect();
            let enrolments = store.enrolments_of_residents(&ids, None).await.unwrap();
            for r in &page.items {
                let mine: Vec<_> = enrolments
                    .iter()
                    .filter(|e| e.resident_id == r.id)
                    .collect();
                if mine.is_empty() || mine.iter().any(|e| e.ended_on.is_some()) {
                    continue;
                }
                managed += 1;
                if let Some(d) = store.contract_doctor(r.id, today).await.unwrap() {
                    contracted += 1;
                    with_doctor += u64::from(d == doctor);
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert!(
            contracted * 100 >= managed * 80 && with_doctor > 10,
            "{contracted} of {managed} contracted, {with_doctor} with the demo doctor"
        );
        let router = gongti_web::router(app.clone(), gongti_web::WebConfig::default());
        let call = |request: axum::http::Request<axum::body::Body>| {
            let router = router.clone();
            async move {
                use http_body_util::BodyExt;
                use tower::ServiceExt;
                let reply = router.oneshot(request).await.unwrap();
                let bytes = reply.into_body().collect().await.unwrap().to_bytes();
                serde_json::from_slice::<Value>(&bytes).unwrap()
            }
        };
        let token = call(
            axum::http::Request::post("/api/v1/auth/token")
                .header("content-type", "application/json")
                .body(
                    json!({"username": "officer", "password": "demo-password-1"})
                        .to_string()
                        .into(),
                )
                .unwrap(),
        )
        .await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let today = app.today();
        let from = (today - time::Duration::days(364)).to_string();
        let v = call(
            axum::http::Request::get(format!(
                "/api/v1/indicators?scope=city&from={from}&to={today}"
            ))
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap(),
        )
        .await;
        for (disease, t, control) in [
            ("hypertension", truth.hypertension, "bp_control"),
            ("diabetes", truth.diabetes, "glucose_control"),
        ] {
            let p = v["programmes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["disease"] == disease)
                .unwrap();
            assert_eq!(p["managed"].as_u64(), Some(t.managed), "{disease} managed");
            assert_eq!(
                figure(&v, disease, "standardised_management"),
                (t.standardised as i64, t.managed as i64),
                "{disease}"
            );
            assert_eq!(
                figure(&v, disease, control),
                (t.controlled as i64, t.managed as i64),
                "{disease}"
            );
            assert_eq!(
                figure(&v, disease, "missed_visit"),
                (t.missed as i64, t.missed_eligible as i64),
                "{disease}"
            );
            assert_eq!(
                figure(&v, disease, "lost_to_follow_up"),
                (t.lost as i64, t.lost_eligible as i64),
                "{disease}"
            );
        }
        assert_eq!(
            figure(&v, "diabetes", "hba1c_target"),
            (
                truth.diabetes.hba1c_on_target as i64,
                truth.diabetes.hba1c_measured as i64
            )
        );
        // The demo's counters were rebuilt from what it wrote: every standard period of
        // this year reads the same from them as from the records.
        let officer = gongti_app::Ctx {
            principal: app.authenticate(&token).await.unwrap().principal,
            request_id: None,
        };
        let mut periods = vec![gongti_core::chronic::maintained::StandardPeriod::Year(
            today.year(),
        )];
        periods.extend(
            (1..=4).map(|q| {
                gongti_core::chronic::maintained::StandardPeriod::Quarter(today.year(), q)
            }),
        );
        for p in &periods {
            let scope = gongti_store::IndicatorScope::City;
            let all = gongti_core::chronic::Disease::ALL;
            let kept = app
                .indicators(&officer, &scope, &all, &p.period())
                .await
                .unwrap();
            let raw = app
                .indicators_from_records(&officer, &scope, &all, &p.period())
                .await
                .unwrap();
            assert_eq!(kept, raw, "{}", p.code());
        }
        figures_equal_the_patient_lists(&app, &officer).await;
        // A realistic year: most are managed to the specification, not all.
        let (standardised, managed) = figure(&v, "hypertension", "standardised_management");
        assert!(
            standardised * 100 > managed * 50 && standardised < managed,
            "{standardised}/{managed}"
        );
    }
}

/// The figures recomputed from the records (the facts scan: id ranges, no identities,
/// follow-ups from their covering index, dense ranges walked and sparse ones looked up)
/// equal the lengths of the patient lists behind them (the identified scan, a chunk of
/// patients at a time) — for the city, a district and an institution, each programme
/// asked alone and both together, over a period no counter keeps.
async fn figures_equal_the_patient_lists(app: &gongti_app::App, officer: &gongti_app::Ctx) {
    use gongti_app::indicators::{ListPart, PatientListQuery};
    use gongti_core::chronic::Disease;
    use gongti_core::chronic::indicators::{Indicator, Period};
    use gongti_store::IndicatorScope;
    let today = app.today();
    let period = Period::new(today - time::Duration::days(199), today).unwrap();
    let institution = app
        .store()
        .user_by_username("doctor")
        .await
        .unwrap()
        .map(|u| u.staff_id)
        .unwrap();
    let institution = app
        .store()
        .staff_member(institution)
        .await
        .unwrap()
        .institution_id
        .expect("the demo doctor works at an institution");
    for scope in [
        IndicatorScope::City,
        IndicatorScope::District("120101".into()),
        IndicatorScope::Institution(institution),
    ] {
        let both = app
            .indicators_from_records(officer, &scope, &Disease::ALL, &period)
            .await
            .unwrap();
        for (disease, tally) in &both {
            let alone = app
                .indicators_from_records(officer, &scope, &[*disease], &period)
                .await
                .unwrap();
            assert_eq!(alone, vec![(*disease, tally.clone())], "{scope:?}");
            assert!(
                tally.managed > 0,
                "{scope:?} {disease:?}: no patients to compare"
            );
            for indicator in Indicator::ALL.iter().filter(|i| i.applies_to(*disease)) {
                let mut listed = [0u64; 2];
                for (k, part) in [ListPart::Numerator, ListPart::Denominator]
                    .into_iter()
                    .enumerate()
                {
                    let q = PatientListQuery {
                        scope: scope.clone(),
                        disease: *disease,
                        period,
                        indicator: *indicator,
                        part,
                    };
                    let mut after = None;
                    loop {
                        let page = app
                            .indicator_patient_list(officer, &q, after, 500, None)
                            .await
                            .unwrap();
                        listed[k] += page.items.len() as u64;
                        match page.next_after {
                            Some(next) => after = Some(next),
                            None => break,
                        }
                    }
                }
                assert_eq!(
                    tally.get(*indicator),
                    (listed[0], listed[1]),
                    "{scope:?} {disease:?} {indicator:?}"
                );
            }
        }
    }
}

/// The counters kept as follow-ups, readings and enrolments are written agree with
/// the full recompute from raw records, and the figures of every standard period read
/// from them equal the figures recomputed from the records.
#[tokio::test]
async fn maintained_counters_agree_with_the_recompute_for_every_standard_period() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let mut ids = Vec::new();
        for (i, name) in ["甲", "乙", "丙"].iter().enumerate() {
            let r = t
                .post(
                    "/api/v1/residents",
                    &doctor,
                    json!({"name": name, "id_number": id_number(i as u32 * 2 + 41)}),
                )
                .await;
            ids.push(r.json()["id"].as_i64().unwrap());
        }
        ids.push(t.home_resident);
        t.shift_clock(-500);
        for (n, id) in ids.iter().enumerate() {
            let icd = if n % 2 == 0 { "I10" } else { "E11.9" };
            let r = t
                .post(
                    &format!("/api/v1/residents/{id}/enrolments"),
                    &doctor,
                    json!({"icd10": icd, "diagnosed_on": "2018-03-01"}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        // Visits across two years, some entered late (out of order), some on one day.
        let plan: [(i64, i64, &str, i64); 9] = [
            (470, 0, "clinic", 150),
            (380, 1, "home", 128),
            (300, 2, "clinic", 138),
            (200, 3, "phone", 0),
            (120, 0, "clinic", 132),
            (120, 0, "clinic", 145),
            (60, 1, "clinic", 160),
            (30, 2, "home", 126),
            (400, 3, "clinic", 135),
        ];
        for (days_ago, who, method, sbp) in plan {
            t.shift_clock(-days_ago + 5);
            let id = ids[who as usize];
            let disease = if who % 2 == 0 {
                "hypertension"
            } else {
                "diabetes"
            };
            let visit_on = (t.app.today() - time::Duration::days(5)).to_string();
            let mut body = json!({"disease": disease, "method": method, "visit_on": visit_on});
            if sbp > 0 {
                body["sbp_mmhg"] = sbp.into();
                body["dbp_mmhg"] = 82.into();
                body["fpg_mmol"] = (if sbp > 140 { 8.1 } else { 6.2 }).into();
                body["hba1c_percent"] = 6.9.into();
            }
            let r = t
                .post(&format!("/api/v1/residents/{id}/followups"), &doctor, body)
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        t.shift_clock(-20);
        let taken = t
            .app
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let r = t
            .post(
                &format!("/api/v1/residents/{}/readings", ids[3]),
                &doctor,
                json!({"client_reading_id": "m1", "kind": "bp", "taken_at": taken, "sbp_mmhg": 130, "dbp_mmhg": 80}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        t.shift_clock(0);

        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert!(!fresh.counts.is_empty());
        assert_eq!(
            fresh, stored,
            "the counters kept as records were written differ from the recompute"
        );

        // A rebuild writes the same figures, and the facts it writes carry the next
        // record correctly (a follow-up of patient 0 today, on top of rebuilt rows).
        let (rebuilt, _) = t.app.recompute_indicators(true).await.unwrap();
        assert_eq!(rebuilt, fresh);
        let (_, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(
            stored, fresh,
            "the rebuild stored other figures than it computed"
        );
        let visit_on = t.app.today().to_string();
        let r = t
            .post(
                &format!("/api/v1/residents/{}/followups", ids[0]),
                &doctor,
                json!({"disease": "hypertension", "method": "clinic", "visit_on": visit_on,
                       "sbp_mmhg": 128, "dbp_mmhg": 78}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let (after, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_ne!(after, fresh);
        assert_eq!(after, stored, "counters kept on top of a rebuild drifted");

        every_standard_period_reads_as_recomputed(&t).await;
    }
}

/// The figures of every standard period of the last three years, read from the kept
/// counters, equal the figures recomputed from the records, in every scope.
async fn every_standard_period_reads_as_recomputed(t: &TestApp) {
    use gongti_core::chronic::Disease;
    use gongti_core::chronic::maintained::StandardPeriod;
    let officer = gongti_app::Ctx {
        principal: t
            .app
            .authenticate(&t.token("officer").await)
            .await
            .unwrap()
            .principal,
        request_id: None,
    };
    let today = t.app.today();
    let mut periods = Vec::new();
    for year in [today.year() - 2, today.year() - 1, today.year()] {
        periods.push(StandardPeriod::Year(year));
        periods.extend((1..=4).map(|q| StandardPeriod::Quarter(year, q)));
        periods.extend(
            (1..=12u8).map(|m| StandardPeriod::Month(year, time::Month::try_from(m).unwrap())),
        );
    }
    for scope in [
        gongti_store::IndicatorScope::City,
        gongti_store::IndicatorScope::District("120101".into()),
        gongti_store::IndicatorScope::Institution(t.home),
    ] {
        for p in &periods {
            let kept = t
                .app
                .indicators(&officer, &scope, &Disease::ALL, &p.period())
                .await
                .unwrap();
            let raw = t
                .app
                .indicators_from_records(&officer, &scope, &Disease::ALL, &p.period())
                .await
                .unwrap();
            assert_eq!(kept, raw, "{scope:?} {}", p.code());
        }
    }
}

/// Ending an enrolment (结案): bad input is refused with every problem and nothing
/// saved; the ended enrolment takes no follow-up and cannot end twice; a reading from
/// before the end, uploaded after it, still counts; the kept counters equal the
/// recompute and every standard period reads as recomputed; the resident may enrol
/// again; the ending is in the patient's access log.
#[tokio::test]
async fn ending_an_enrolment_keeps_the_figures_equal_to_the_recompute() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let mut ids = Vec::new();
        for (i, name) in ["丁", "戊"].iter().enumerate() {
            let r = t
                .post(
                    "/api/v1/residents",
                    &doctor,
                    json!({"name": name, "id_number": id_number(i as u32 * 2 + 61)}),
                )
                .await;
            ids.push(r.json()["id"].as_i64().unwrap());
        }
        t.shift_clock(-500);
        for id in &ids {
            for icd in ["I10", "E11.9"] {
                let r = t
                    .post(
                        &format!("/api/v1/residents/{id}/enrolments"),
                        &doctor,
                        json!({"icd10": icd, "diagnosed_on": "2018-03-01"}),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            }
        }
        // Quarterly visits for both programmes: the first resident's up to 140 days
        // ago, the second's stop 270 days ago — so in the periods around the first
        // one's end, only the ended enrolment was seen, and an ending that still
        // counted it would show.
        for days_ago in [450, 360, 270, 180, 140] {
            t.shift_clock(-days_ago);
            let visit_on = t.app.today().to_string();
            for (n, id) in ids.iter().enumerate() {
                if n == 1 && days_ago < 270 {
                    continue;
                }
                for disease in ["hypertension", "diabetes"] {
                    let sbp = if n == 0 { 132 } else { 152 };
                    let r = t
                        .post(
                            &format!("/api/v1/residents/{id}/followups"),
                            &doctor,
                            json!({"disease": disease, "method": "clinic", "visit_on": visit_on,
                                   "sbp_mmhg": sbp, "dbp_mmhg": 82, "fpg_mmol": 6.4}),
                        )
                        .await;
                    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
                }
            }
        }
        t.shift_clock(0);
        let today = t.app.today();
        let end =
            |id: i64, disease: &str| format!("/api/v1/residents/{id}/enrolments/{disease}/end");
        let day = |days_ago: i64| (today - time::Duration::days(days_ago)).to_string();

        // Every problem at once, and nothing saved.
        let r = t
            .post(
                &end(ids[0], "hypertension"),
                &doctor,
                json!({"ended_on": day(-1)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let fields = r.problem_fields();
        assert_eq!(fields, ["ended_on", "reason"]);
        let r = t
            .post(
                &end(ids[0], "hypertension"),
                &doctor,
                json!({"ended_on": day(141), "reason": "died"}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "before the last follow-up: {}",
            r.text
        );
        let r = t
            .post(
                &end(ids[0], "hypertension"),
                &doctor,
                json!({"reason": "cured"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let listed = t
            .get(&format!("/api/v1/residents/{}/enrolments", ids[0]), &doctor)
            .await
            .json();
        assert!(
            listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["status"] == "active")
        );

        // Ended 100 days ago (the last follow-up was 140 days ago), and today.
        let r = t
            .post(
                &end(ids[0], "hypertension"),
                &doctor,
                json!({"ended_on": day(100), "reason": "moved_away", "note": "迁往外省"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let ended = r.json();
        assert_eq!(
            (
                &ended["status"],
                &ended["ended_on"],
                &ended["end_reason"],
                &ended["end_note"]
            ),
            (
                &json!("ended"),
                &json!(day(100)),
                &json!("moved_away"),
                &json!("迁往外省")
            )
        );
        let r = t
            .post(&end(ids[1], "diabetes"), &doctor, json!({"reason": "died"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);

        let r = t
            .post(
                &end(ids[0], "hypertension"),
                &doctor,
                json!({"reason": "died"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert_eq!(r.json()["code"], "not_enrolled");
        let r = t
            .post(
                &format!("/api/v1/residents/{}/followups", ids[0]),
                &doctor,
                json!({"disease": "hypertension", "method": "clinic", "visit_on": today.to_string(),
                       "sbp_mmhg": 130, "dbp_mmhg": 80}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

        // A home reading taken before the end, uploaded after it.
        let taken = (t.app.now() - time::Duration::days(110))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let r = t
            .post(
                &format!("/api/v1/residents/{}/readings", ids[0]),
                &doctor,
                json!({"client_reading_id": "before-end", "kind": "bp", "taken_at": taken,
                       "sbp_mmhg": 130, "dbp_mmhg": 80}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        // Enrolled 60 days ago and ended 30 days ago: never enrolled long enough to be
        // asked about a missed visit (90 days) in any period so far, so its ending must
        // not come off those denominators either.
        let r = t
            .post(
                "/api/v1/residents",
                &doctor,
                json!({"name": "己", "id_number": id_number(65)}),
            )
            .await;
        let short = r.json()["id"].as_i64().unwrap();
        t.shift_clock(-60);
        let r = t
            .post(
                &format!("/api/v1/residents/{short}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": "2024-05-01"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        t.shift_clock(0);
        let r = t
            .post(
                &end(short, "hypertension"),
                &doctor,
                json!({"ended_on": day(30), "reason": "moved_away"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);

        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert!(!fresh.endings.is_empty());
        assert_eq!(
            fresh, stored,
            "the kept counters differ from the recompute after endings"
        );
        every_standard_period_reads_as_recomputed(&t).await;
        let (rebuilt, _) = t.app.recompute_indicators(true).await.unwrap();
        assert_eq!(rebuilt, fresh);

        // This year: both hypertension patients were managed (one until 100 days ago),
        // but only the one still enrolled is asked about the last 90 days.
        let officer = t.token("officer").await;
        let from = format!("{}-01-01", today.year());
        let year = t
            .get(
                &format!(
                    "/api/v1/indicators?scope=institution:{}&from={from}&to={today}",
                    t.home
                ),
                &officer,
            )
            .await
            .json();
        let (_, managed) = figure(&year, "hypertension", "standardised_management");
        let (_, missed_eligible) = figure(&year, "hypertension", "missed_visit");
        assert!(managed >= 2, "{year}");
        assert!(missed_eligible < managed, "{year}");

        // Over FHIR the ended enrolment is a finished EpisodeOfCare with its end.
        let episodes = t
            .get(&format!("/fhir/EpisodeOfCare?patient={}", ids[0]), &doctor)
            .await
            .json();
        let finished: Vec<&Value> = episodes["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["status"] == "finished")
            .collect();
        assert_eq!(finished.len(), 1, "{episodes}");
        assert_eq!(finished[0]["period"]["end"], day(100));

        // A new enrolment in the same programme may follow.
        let r = t
            .post(
                &format!("/api/v1/residents/{}/enrolments", ids[0]),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": "2018-03-01"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored);
        let log = t
            .get(&format!("/api/v1/residents/{}/access-log", ids[0]), &doctor)
            .await
            .json();
        let actions: Vec<(&str, &str)> = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "chronic.end")
            .map(|e| {
                (
                    e["outcome"].as_str().unwrap(),
                    e["detail"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert!(
            actions
                .iter()
                .any(|(o, d)| *o == "ok" && d.contains("reason=moved_away")),
            "{actions:?}"
        );
        assert!(
            actions.iter().filter(|(o, _)| *o != "ok").count() >= 3,
            "refusals are audited: {actions:?}"
        );
    }
}

/// Issue 13: a patient already under management elsewhere is enrolled from the real
/// day (`enrolled_on`), then the last year's follow-ups are entered today (the JSON
/// API takes visits up to 366 days old); the kept figures
/// stay equal to the recompute in every standard period, and the enrolment's day is
/// refused in the future or before the diagnosis.
#[tokio::test]
async fn an_enrolment_brought_in_with_its_real_day_keeps_the_figures_equal() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let id = new_resident(&t, &doctor, "迁入", 77).await;
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let path = format!("/api/v1/residents/{id}/enrolments");
        let enrol = |body: serde_json::Value| t.post(&path, &doctor, body);
        for (body, problem) in [
            (
                json!({"icd10": "I10", "diagnosed_on": day(900), "enrolled_on": day(-1)}),
                "in_future",
            ),
            (
                json!({"icd10": "I10", "diagnosed_on": day(900), "enrolled_on": day(901)}),
                "inconsistent",
            ),
        ] {
            let r = enrol(body).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
            assert_eq!(r.json()["problems"][0]["code"], problem, "{}", r.text);
        }
        let r =
            enrol(json!({"icd10": "I10", "diagnosed_on": day(900), "enrolled_on": day(700)})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json()["enrolled_on"], day(700));
        for (ago, sbp) in [(360, 150), (270, 138), (180, 132), (90, 146), (10, 129)] {
            let r = t
                .post(
                    &format!("/api/v1/residents/{id}/followups"),
                    &doctor,
                    json!({"disease": "hypertension", "method": "clinic", "visit_on": day(ago),
                           "sbp_mmhg": sbp, "dbp_mmhg": 82}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{ago}: {}", r.text);
        }
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored, "the kept counters differ from the recompute");
        every_standard_period_reads_as_recomputed(&t).await;
    }
}

#[tokio::test]
async fn a_month_in_progress_is_compared_with_the_same_days_of_the_last() {
    use gongti_core::chronic::maintained::StandardPeriod;
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        // The test clock is the real one shifted by whole days; the region's day is
        // read in its own zone.
        t.shift_clock(0);
        let real_today = t.app.today();
        let days_until = |day: time::Date| (day - real_today).whole_days();
        // "Today" is the 3rd of a month well ahead of the real one.
        let [_, _, month] = StandardPeriod::containing(real_today + time::Duration::days(75));
        let month = month.period();
        let last = StandardPeriod::of(&month).unwrap().previous().period();
        let today = month.from + time::Duration::days(2);
        let id = new_resident(&t, &doctor, "李四", 41).await;
        // Tokens expire: each move of the clock signs in afresh.
        t.shift_clock(days_until(last.from - time::Duration::days(1)));
        let doctor = t.token("doctor").await;
        enrol_in_hypertension(&t, &doctor, id).await;
        // Last month: controlled on its 2nd, not on its 10th. This month: controlled on
        // its 2nd.
        for (day, sbp) in [
            (last.from + time::Duration::days(1), 130),
            (last.from + time::Duration::days(9), 156),
            (month.from + time::Duration::days(1), 128),
        ] {
            t.shift_clock(days_until(day));
            let doctor = t.token("doctor").await;
            let r = t
                .post(
                    &format!("/api/v1/residents/{id}/followups"),
                    &doctor,
                    json!({"disease": "hypertension", "method": "clinic", "visit_on": day.to_string(),
                           "sbp_mmhg": sbp, "dbp_mmhg": 80}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        t.shift_clock(days_until(today));
        let doctor = t.token("doctor").await;
        let scope = format!("institution:{}", t.home);
        let ask = |p: &gongti_core::chronic::indicators::Period| {
            format!(
                "/api/v1/indicators?scope={scope}&from={}&to={}&disease=hypertension&compare=previous",
                p.from, p.to
            )
        };
        let v = t.get(&ask(&month), &doctor).await.json();
        assert_eq!(figure(&v, "hypertension", "bp_control"), (1, 1), "{v}");
        // Compared with last month's first three days: controlled then too.
        let previous = &v["previous"];
        assert_eq!(
            (
                previous["from"].as_str(),
                previous["as_of"].as_str(),
                previous["comparable"].as_bool()
            ),
            (
                Some(last.from.to_string().as_str()),
                Some((last.from + time::Duration::days(2)).to_string().as_str()),
                Some(true)
            ),
            "{v}"
        );
        let bp = v["programmes"][0]["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == "bp_control")
            .unwrap()
            .clone();
        assert_eq!(
            (&bp["previous"]["numerator"], &bp["previous"]["denominator"]),
            (&json!(1), &json!(1)),
            "{bp}"
        );
        // The whole of last month ends uncontrolled.
        let whole = t.get(&ask(&last), &doctor).await.json();
        assert_eq!(
            figure(&whole, "hypertension", "bp_control"),
            (0, 1),
            "{whole}"
        );

        // The console says what it compares with.
        let officer = crate::console::sign_in(&t, "doctor").await;
        let board_path = format!(
            "/dashboard?scope={scope}&from={}&to={}",
            month.from, month.to
        );
        let board = crate::console::page(&t, &officer, &board_path, "zh").await;
        assert_eq!(board.status, StatusCode::OK, "{}", board.text);
        assert!(board.text.contains("对比上期同期"), "{}", board.text);
        assert!(
            board
                .text
                .contains(&(last.from + time::Duration::days(2)).to_string()),
            "{}",
            board.text
        );

        // A region whose records are complete only from this month on: last month's
        // visits are a part of its work, and nothing is compared.
        t.app.set_records_kept_since(month.from).await.unwrap();
        let v = t.get(&ask(&month), &doctor).await.json();
        assert_eq!(
            (
                v["previous"]["comparable"].as_bool(),
                v["previous"]["records_since"].as_str()
            ),
            (Some(false), Some(month.from.to_string().as_str())),
            "{v}"
        );
        let board = crate::console::page(&t, &officer, &board_path, "zh").await;
        assert!(board.text.contains("无可比数据"), "{}", board.text);
    }
}

/// The counters and their facts by year are built once (a database from before
/// migration 0047 carries only the earlier mark, `indicator_counters`, and is rebuilt
/// once); a rebuild by command marks them built as well.
#[tokio::test]
async fn counters_are_built_once_and_marked_by_a_rebuild() {
    for t in TestApp::all().await {
        t.store
            .delete_setting("indicator_year_facts")
            .await
            .unwrap();
        t.store
            .set_setting("indicator_counters", "built")
            .await
            .unwrap();
        assert!(t.app.ensure_indicator_counters().await.unwrap(), "rebuilt");
        assert!(!t.app.ensure_indicator_counters().await.unwrap(), "once");
        t.store
            .delete_setting("indicator_year_facts")
            .await
            .unwrap();
        t.app.recompute_indicators(true).await.unwrap();
        assert!(
            !t.app.ensure_indicator_counters().await.unwrap(),
            "by command"
        );
    }
}
