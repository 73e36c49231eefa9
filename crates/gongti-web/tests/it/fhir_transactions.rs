//! Transaction and batch Bundles: a city's residents and enrolments from their real
//! days brought in all or nothing, the kept figures equal to a recompute afterwards.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::fhir::validate;
use crate::support::{Reply, TestApp, id_number_born};

const ID_SYSTEM: &str = "urn:oid:2.16.156.10011.1.3";
const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";

pub(crate) async fn post_bundle(t: &TestApp, token: &str, bundle: &Value) -> Reply {
    t.send(
        Request::post("/fhir")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/fhir+json")
            .body(Body::from(bundle.to_string()))
            .unwrap(),
    )
    .await
}

pub(crate) fn patient(id_number: &str, name: &str) -> Value {
    json!({"resourceType": "Patient", "identifier": [{"system": ID_SYSTEM, "value": id_number}], "name": [{"text": name}]})
}

pub(crate) fn condition(subject: &str, icd10: &str, onset: &str, recorded: Option<&str>) -> Value {
    let mut c = json!({
        "resourceType": "Condition",
        "subject": {"reference": subject},
        "code": {"coding": [{"system": ICD10, "code": icd10}]},
        "onsetDateTime": onset,
    });
    if let Some(r) = recorded {
        c["recordedDate"] = r.into();
    }
    c
}

pub(crate) fn entry(full_url: &str, resource: Value, method: &str, url: &str) -> Value {
    json!({"fullUrl": full_url, "resource": resource, "request": {"method": method, "url": url}})
}

async fn patient_count(t: &TestApp, token: &str) -> Value {
    t.get("/fhir/Patient?_summary=count", token).await.json()["total"].clone()
}

#[tokio::test]
async fn a_transaction_brings_residents_and_enrolments_in_from_their_real_days() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let (a, b) = (
            id_number_born("19520611", 101),
            id_number_born("19480203", 102),
        );
        let home = t
            .get(&format!("/fhir/Patient/{}", t.home_resident), &doctor)
            .await
            .json();
        let mut moved = home.clone();
        moved["address"] = json!([{"text": "天津市和平区成都道3号"}]);
        let bundle = json!({
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                entry("urn:uuid:0c1e4c3a-0000-4000-8000-000000000001", patient(&a, "王建国"), "POST", "Patient"),
                entry("urn:uuid:0c1e4c3a-0000-4000-8000-000000000002", patient(&b, "李秀兰"), "POST", "Patient"),
                entry("urn:uuid:0c1e4c3a-0000-4000-8000-000000000003",
                      condition("urn:uuid:0c1e4c3a-0000-4000-8000-000000000001", "I10", &day(1500), Some(&day(1200))), "POST", "Condition"),
                entry("urn:uuid:0c1e4c3a-0000-4000-8000-000000000004",
                      condition("urn:uuid:0c1e4c3a-0000-4000-8000-000000000002", "E11.9", &day(900), None), "POST", "Condition"),
                entry("urn:uuid:0c1e4c3a-0000-4000-8000-000000000005", json!({
                    "resourceType": "EpisodeOfCare", "status": "active",
                    "patient": {"reference": "urn:uuid:0c1e4c3a-0000-4000-8000-000000000002"},
                    "diagnosis": [{"condition": {"reference": "urn:uuid:0c1e4c3a-0000-4000-8000-000000000004"}}],
                    "period": {"start": day(700)},
                }), "POST", "EpisodeOfCare"),
                {"resource": moved, "request": {"method": "PUT", "url": format!("Patient/{}", t.home_resident), "ifMatch": "W/\"1\""}},
            ],
        });
        let r = post_bundle(&t, &doctor, &bundle).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let answer = r.json();
        assert_eq!(answer["type"], "transaction-response");
        let statuses: Vec<&str> = answer["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["response"]["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            [
                "201 Created",
                "201 Created",
                "201 Created",
                "201 Created",
                "201 Created",
                "200 OK"
            ]
        );
        let location = |i: usize| {
            answer["entry"][i]["response"]["location"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let first = location(0).split('/').nth(1).unwrap().to_owned();
        let diabetic = location(1).split('/').nth(1).unwrap().to_owned();
        // The enrolments begin on the days the records say.
        let c = t
            .get(
                &format!("/fhir/{}", location(2).trim_end_matches("/_history/1")),
                &doctor,
            )
            .await
            .json();
        assert_eq!(c["subject"]["reference"], format!("Patient/{first}"));
        assert_eq!(c["onsetDateTime"], day(1500));
        assert_eq!(c["recordedDate"], day(1200));
        let e = t
            .get(
                &format!("/fhir/{}", location(4).trim_end_matches("/_history/1")),
                &doctor,
            )
            .await
            .json();
        assert_eq!(e["resourceType"], "EpisodeOfCare");
        assert_eq!(e["patient"]["reference"], format!("Patient/{diabetic}"));
        assert_eq!(e["period"]["start"], day(700));
        let moved_now = t
            .get(&format!("/fhir/Patient/{}", t.home_resident), &doctor)
            .await
            .json();
        assert_eq!(moved_now["address"][0]["text"], "天津市和平区成都道3号");
        assert_eq!(moved_now["meta"]["versionId"], "2");
        // The kept indicator figures count them from those days, equal to a recompute.
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored, "the kept counters differ from the recompute");
        // Every row the transaction wrote is named by an audit record of the chain.
        let report = gongti_app::audit::verify(&t.store, &Default::default(), |_| {})
            .await
            .unwrap();
        assert!(report.broken.is_none(), "{report:?}");
        assert!(
            report
                .uncovered
                .iter()
                .all(|u| u.table != "residents" && u.table != "chronic_enrolments"),
            "{report:?}"
        );
        // The same Bundle again, the residents conditional: found, not registered twice;
        // the enrolments already active refuse the whole transaction.
        let mut again = bundle.clone();
        for i in 0..2 {
            let id_number = again["entry"][i]["resource"]["identifier"][0]["value"]
                .as_str()
                .unwrap()
                .to_owned();
            again["entry"][i]["request"]["ifNoneExist"] =
                format!("identifier={ID_SYSTEM}|{id_number}").into();
        }
        again["entry"].as_array_mut().unwrap().truncate(2);
        let r = post_bundle(&t, &doctor, &again).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let statuses: Vec<&str> = r.json()["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["response"]["status"].as_str().unwrap().to_owned().leak() as &str)
            .collect();
        assert_eq!(statuses, ["200 OK", "200 OK"]);
        let dir = gongti_testdb::temp_dir("gongti-fhir-transaction");
        std::fs::write(dir.join("response.json"), answer.to_string()).unwrap();
        validate(&dir, 1);
    }
}

#[tokio::test]
async fn a_transaction_with_any_problem_writes_nothing() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let before = patient_count(&t, &doctor).await;
        let trail = t.audit_tail(1).await[0].seq;
        let fresh = id_number_born("19570101", 201);
        // Every problem of every entry at once: a future diagnosis, a missing code.
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry("urn:uuid:1", patient(&fresh, "赵一"), "POST", "Patient"),
            entry("urn:uuid:2", condition("urn:uuid:1", "I10", &day(-30), None), "POST", "Condition"),
            entry("urn:uuid:3", json!({"resourceType": "Condition", "subject": {"reference": "urn:uuid:1"}, "onsetDateTime": day(10)}), "POST", "Condition"),
        ]});
        let r = post_bundle(&t, &doctor, &bundle).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let expressions: Vec<String> = r.json()["issue"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["expression"][0].as_str().map(str::to_owned))
            .collect();
        assert!(
            expressions.iter().any(|e| e.starts_with("Bundle.entry[1]")),
            "{expressions:?}"
        );
        assert!(
            expressions
                .iter()
                .any(|e| e == "Bundle.entry[2].resource.code"),
            "{expressions:?}"
        );
        // The database refuses a taken ID number: the other new resident is not kept.
        let taken = t
            .get(&format!("/api/v1/residents/{}", t.home_resident), &doctor)
            .await
            .json()["id_number"]
            .as_str()
            .unwrap()
            .to_owned();
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry("urn:uuid:1", patient(&fresh, "赵一"), "POST", "Patient"),
            entry("urn:uuid:2", patient(&taken, "重复"), "POST", "Patient"),
        ]});
        let r = post_bundle(&t, &doctor, &bundle).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        // A stale version refuses the whole transaction too.
        let home = t
            .get(&format!("/fhir/Patient/{}", t.home_resident), &doctor)
            .await
            .json();
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry("urn:uuid:1", patient(&fresh, "赵一"), "POST", "Patient"),
            {"resource": home, "request": {"method": "PUT", "url": format!("Patient/{}", t.home_resident), "ifMatch": "W/\"9\""}},
        ]});
        let r = post_bundle(&t, &doctor, &bundle).await;
        assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.text);
        assert_eq!(patient_count(&t, &doctor).await, before);
        // Nothing written but the refusals' own audit records (and the reads).
        let written: Vec<String> = t
            .audit_tail(60)
            .await
            .into_iter()
            .filter(|r| r.seq > trail)
            .map(|r| r.entry.action)
            .filter(|a| a.ends_with(".create") || a.ends_with(".enrol") || a.ends_with(".update"))
            .collect();
        assert!(written.is_empty(), "{written:?}");
        // Another institution's doctor cannot update this resident in a transaction.
        let other = t.token("other_doctor").await;
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": t.get(&format!("/fhir/Patient/{}", t.home_resident), &doctor).await.json(),
             "request": {"method": "PUT", "url": format!("Patient/{}", t.home_resident)}},
        ]});
        let r = post_bundle(&t, &other, &bundle).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        // A type not taken in a transaction is named.
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry("urn:uuid:9", json!({"resourceType": "Flag"}), "POST", "Flag"),
        ]});
        let r = post_bundle(&t, &doctor, &bundle).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    }
}

#[tokio::test]
async fn a_batch_answers_each_entry_on_its_own() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    let before = patient_count(&t, &doctor).await;
    let good = id_number_born("19610505", 301);
    let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": patient(&good, "钱二"), "request": {"method": "POST", "url": "Patient"}},
        {"resource": patient("not-an-id", "孙三"), "request": {"method": "POST", "url": "Patient"}},
    ]});
    let r = post_bundle(&t, &doctor, &bundle).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let answer = r.json();
    assert_eq!(answer["type"], "batch-response");
    assert_eq!(answer["entry"][0]["response"]["status"], "201 Created");
    assert!(
        answer["entry"][1]["response"]["status"]
            .as_str()
            .unwrap()
            .starts_with("422")
    );
    assert_eq!(
        answer["entry"][1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    let after = patient_count(&t, &doctor).await;
    assert_eq!(after.as_i64().unwrap(), before.as_i64().unwrap() + 1);
    let dir = gongti_testdb::temp_dir("gongti-fhir-batch");
    std::fs::write(dir.join("response.json"), answer.to_string()).unwrap();
    validate(&dir, 1);
}

#[tokio::test]
async fn a_condition_posted_alone_enrols_a_stored_resident() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
    let p = format!("Patient/{}", t.home_resident);
    let c = condition(&p, "I10", &day(400), Some(&day(300)));
    let send = |body: Value| {
        Request::post("/fhir/Condition")
            .header("authorization", format!("Bearer {doctor}"))
            .header("content-type", "application/fhir+json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let r = t.send(send(c.clone())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["recordedDate"], day(300));
    assert_eq!(r.json()["meta"]["versionId"], "1");
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .contains("/fhir/Condition/")
    );
    // A second active enrolment in the programme is refused.
    let again = t.send(send(c)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    // A reference into a Bundle has no meaning here.
    let loose = t
        .send(send(condition("urn:uuid:1", "E11", &day(10), None)))
        .await;
    assert_eq!(
        loose.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        loose.text
    );
    let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
    assert_eq!(fresh, stored);
}

pub(crate) fn encounter(full_url: &str, patient: &str, episode: &str, day: &str) -> Value {
    entry(
        full_url,
        json!({
            "resourceType": "Encounter", "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": patient},
            "episodeOfCare": [{"reference": episode}],
            "period": {"start": day, "end": day},
        }),
        "POST",
        "Encounter",
    )
}

pub(crate) fn bp(
    full_url: &str,
    patient: &str,
    encounter: &str,
    day: &str,
    sbp: i64,
    dbp: i64,
) -> Value {
    let q = |v: i64| json!({"value": v, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
    entry(
        full_url,
        json!({
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": patient}, "encounter": {"reference": encounter},
            "effectiveDateTime": day,
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": q(sbp)},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": q(dbp)},
            ],
        }),
        "POST",
        "Observation",
    )
}

/// Years of follow-ups come in with their Encounters and Observations, judged by the
/// rules in the order of their days; the figures they imply are the kept ones.
#[tokio::test]
async fn years_of_follow_ups_come_in_judged_in_order_and_counted() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let person = id_number_born("19500708", 401);
        let p = "urn:uuid:5a0e0000-0000-4000-8000-000000000001";
        let c = "urn:uuid:5a0e0000-0000-4000-8000-000000000002";
        let mut entries = vec![
            entry(p, patient(&person, "周卫国"), "POST", "Patient"),
            entry(
                c,
                condition(p, "I10", &day(1200), Some(&day(1100))),
                "POST",
                "Condition",
            ),
        ];
        // Quarterly visits over three years, listed newest first (the rules take them
        // in the order of their days).
        let visits: Vec<(i64, i64, i64)> = (0..12)
            .map(|q| (1080 - q * 90, if q % 4 == 1 { 168 } else { 132 }, 84))
            .collect();
        for (n, (ago, sbp, dbp)) in visits.iter().enumerate().rev() {
            let e = format!("urn:uuid:5a0e0000-0000-4000-8000-1000000000{n:02}");
            let o = format!("urn:uuid:5a0e0000-0000-4000-8000-2000000000{n:02}");
            entries.push(encounter(&e, p, c, &day(*ago)));
            entries.push(bp(&o, p, &e, &day(*ago), *sbp, *dbp));
        }
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
        let r = post_bundle(&t, &doctor, &bundle).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let answer = r.json();
        let resident = answer["entry"][0]["response"]["location"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_owned();
        for e in answer["entry"].as_array().unwrap() {
            assert_eq!(e["response"]["status"], "201 Created", "{e}");
        }
        let obs_location = answer["entry"][3]["response"]["location"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            obs_location.starts_with("Observation/f") && obs_location.contains("-bp/"),
            "{obs_location}"
        );
        // Every visit is there, on its day, with its BP panel.
        let encounters = t
            .get(
                &format!("/fhir/Encounter?patient={resident}&_count=50&_sort=date"),
                &doctor,
            )
            .await
            .json();
        assert_eq!(encounters["total"], 12, "{encounters}");
        assert_eq!(
            encounters["entry"][0]["resource"]["period"]["start"],
            day(1080)
        );
        let panels = t
            .get(
                &format!("/fhir/Observation?patient={resident}&code=85354-9&_count=50"),
                &doctor,
            )
            .await
            .json();
        assert_eq!(panels["total"], 12);
        let read = t
            .get(
                &format!("/fhir/{}", obs_location.trim_end_matches("/_history/1")),
                &doctor,
            )
            .await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
        // Judged like any follow-up: the uncontrolled visits are classified so.
        let api = t
            .get(
                &format!("/api/v1/residents/{resident}/followups?limit=50"),
                &doctor,
            )
            .await;
        assert_eq!(api.status, StatusCode::OK, "{}", api.text);
        let classes: Vec<i64> = api.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["classification"].as_i64())
            .collect();
        assert_eq!(classes.len(), 12, "{}", api.text);
        assert!(classes.iter().any(|c| *c != 1), "{classes:?}");
        // The family doctor reads them on the patient's page in words, not codes.
        let session = crate::console::sign_in(&t, "doctor").await;
        let page = crate::console::page(
            &t,
            &session,
            &format!("/residents/{resident}/chronic"),
            "zh",
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("<td>门诊</td>"), "{}", page.text);
        assert!(!page.text.contains("<td>clinic</td>"), "{}", page.text);
        // The kept figures count those visits, equal to a recompute.
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored, "the kept counters differ from the recompute");
        let report = gongti_app::audit::verify(&t.store, &Default::default(), |_| {})
            .await
            .unwrap();
        assert!(
            report.uncovered.iter().all(|u| u.table != "followups"),
            "{report:?}"
        );
        // More visits for the stored enrolment come in the same way.
        let episode = answer["entry"][1]["response"]["location"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_owned();
        let more = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            encounter("urn:uuid:e", &format!("Patient/{resident}"), &format!("EpisodeOfCare/{episode}"), &day(20)),
            bp("urn:uuid:o", &format!("Patient/{resident}"), "urn:uuid:e", &day(20), 128, 80),
        ]});
        let r = post_bundle(&t, &doctor, &more).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let encounters = t
            .get(
                &format!("/fhir/Encounter?patient={resident}&_summary=count"),
                &doctor,
            )
            .await
            .json();
        assert_eq!(encounters["total"], 13);
        // A visit before management began refuses the whole Bundle.
        let early = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            encounter("urn:uuid:e", &format!("Patient/{resident}"), &format!("EpisodeOfCare/{episode}"), &day(1150)),
            bp("urn:uuid:o", &format!("Patient/{resident}"), "urn:uuid:e", &day(1150), 128, 80),
        ]});
        let r = post_bundle(&t, &doctor, &early).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(
            r.text.contains("Bundle.entry[0].resource.visit_on"),
            "{}",
            r.text
        );
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored);
        let dir = gongti_testdb::temp_dir("gongti-fhir-followups");
        std::fs::write(dir.join("response.json"), answer.to_string()).unwrap();
        std::fs::write(dir.join("encounters.json"), encounters.to_string()).unwrap();
        std::fs::write(dir.join("panels.json"), panels.to_string()).unwrap();
        validate(&dir, 3);
    }
}

/// A Bundle is judged whole: a bad entry anywhere is reported with the others'
/// problems (never a failure of the server), and a diabetes enrolment counts in the
/// hypertension risk wherever its entry stands.
#[tokio::test]
async fn a_bundle_is_judged_whole_whatever_the_order_of_its_entries() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let good = id_number_born("19490101", 501);
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry("urn:uuid:a", patient("120101194901015019", "坏号"), "POST", "Patient"),
            entry("urn:uuid:b", patient(&good, "好号"), "POST", "Patient"),
            entry("urn:uuid:c", condition("urn:uuid:b", "I10", &day(400), None), "POST", "Condition"),
            encounter("urn:uuid:e", "urn:uuid:b", "urn:uuid:c", &day(100)),
            bp("urn:uuid:o", "urn:uuid:b", "urn:uuid:e", &day(100), 150, 90),
            bp("urn:uuid:o2", "urn:uuid:b", "urn:uuid:e", &day(100), 151, 91),
        ]});
        let r = post_bundle(&t, &doctor, &bundle).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(
            r.text.contains("Bundle.entry[0].resource.identifier"),
            "{}",
            r.text
        );
        assert!(
            r.text.contains("Bundle.entry[5].resource.code"),
            "{}",
            r.text
        );
        // Hypertension then diabetes, or diabetes then hypertension: the same risk.
        let mut risks = Vec::new();
        for (n, codes) in [["I10", "E11.9"], ["E11.9", "I10"]].iter().enumerate() {
            let person = id_number_born("19520303", 510 + n as u32);
            let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                entry("urn:uuid:p", patient(&person, "风险"), "POST", "Patient"),
                entry("urn:uuid:c1", condition("urn:uuid:p", codes[0], &day(500), None), "POST", "Condition"),
                entry("urn:uuid:c2", condition("urn:uuid:p", codes[1], &day(500), None), "POST", "Condition"),
            ]});
            let r = post_bundle(&t, &doctor, &bundle).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let resident = r.json()["entry"][0]["response"]["location"]
                .as_str()
                .unwrap()
                .split('/')
                .nth(1)
                .unwrap()
                .to_owned();
            let list = t
                .get(&format!("/api/v1/residents/{resident}/enrolments"), &doctor)
                .await
                .json();
            let htn = list
                .as_array()
                .or_else(|| list["items"].as_array())
                .unwrap()
                .iter()
                .find(|e| e["disease"] == "hypertension")
                .unwrap()
                .clone();
            risks.push(htn["risk"].clone());
        }
        assert_eq!(risks[0], risks[1]);
        assert!(risks[0].to_string().contains("diabetes"), "{}", risks[0]);
    }
}

pub(crate) fn lab(
    full_url: &str,
    patient: &str,
    loinc: &str,
    value: f64,
    unit: &str,
    day: &str,
    id: &str,
) -> Value {
    entry(
        full_url,
        json!({
            "resourceType": "Observation",
            "status": "final",
            "identifier": [{"system": "urn:example:lis", "value": id}],
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": patient},
            "effectiveDateTime": day,
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        }),
        "POST",
        "Observation",
    )
}

/// The counts of a diabetes measure over a period: (numerator, denominator).
async fn measure(t: &TestApp, token: &str, indicator: &str, from: &str, to: &str) -> (i64, i64) {
    let r = t
        .get(
            &format!(
                "/fhir/Measure/diabetes-{indicator}/$evaluate-measure?subject=Organization/{}&periodStart={from}&periodEnd={to}",
                t.home
            ),
            token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let m = r.json();
    let count = |i: usize| m["group"][0]["population"][i]["count"].as_i64().unwrap();
    (count(0), count(1))
}

/// DOMAIN.md §2: a laboratory's FPG or HbA1c counts as measured on its collection day;
/// §7: a glucose in mmol/L is 14771-0, 1558-6 is mg/dL.
#[tokio::test]
async fn laboratory_results_come_in_and_count_on_their_collection_day() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let (from, to) = (day(100), day(0));
        let target_before = measure(&t, &doctor, "hba1c_target", &from, &to).await;
        let glucose_before = measure(&t, &doctor, "glucose_control", &from, &to).await;
        let (a, b) = (
            id_number_born("19560302", 601),
            id_number_born("19490917", 602),
        );
        let (pa, pb) = (
            "urn:uuid:1ab00000-0000-4000-8000-00000000000a",
            "urn:uuid:1ab00000-0000-4000-8000-00000000000b",
        );
        // The results stand before the enrolments they count in: the Bundle is whole.
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry(pa, patient(&a, "赵淑珍"), "POST", "Patient"),
            entry(pb, patient(&b, "钱永福"), "POST", "Patient"),
            lab("urn:uuid:1ab00000-0000-4000-8000-000000000001", pa, "4548-4", 6.5, "%", &day(30), "LIS-A-1"),
            lab("urn:uuid:1ab00000-0000-4000-8000-000000000002", pa, "14771-0", 8.2, "mmol/L", &day(60), "LIS-A-2"),
            lab("urn:uuid:1ab00000-0000-4000-8000-000000000003", pa, "1558-6", 126.0, "mg/dL", &day(30), "LIS-A-3"),
            lab("urn:uuid:1ab00000-0000-4000-8000-000000000004", pb, "4548-4", 8.1, "%", &day(20), "LIS-B-1"),
            entry("urn:uuid:1ab00000-0000-4000-8000-000000000005", condition(pa, "E11.9", &day(900), Some(&day(800))), "POST", "Condition"),
            entry("urn:uuid:1ab00000-0000-4000-8000-000000000006", condition(pb, "E11.9", &day(700), Some(&day(650))), "POST", "Condition"),
        ]});
        let r = post_bundle(&t, &doctor, &bundle).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let answer = r.json();
        let location = |i: usize| {
            answer["entry"][i]["response"]["location"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        for i in 2..6 {
            assert_eq!(answer["entry"][i]["response"]["status"], "201 Created");
            assert!(
                location(i).starts_with("Observation/lab"),
                "{}",
                location(i)
            );
        }
        let resident_a = location(0).split('/').nth(1).unwrap().to_owned();
        // A (HbA1c 6.5 %, latest FPG 126 mg/dL = 6.99 mmol/L) is on target and
        // controlled; B (8.1 %, no FPG) neither.
        let target_after = measure(&t, &doctor, "hba1c_target", &from, &to).await;
        assert_eq!(
            (
                target_after.0 - target_before.0,
                target_after.1 - target_before.1
            ),
            (1, 2),
            "HbA1c target: one of the two with an HbA1c"
        );
        let glucose_after = measure(&t, &doctor, "glucose_control", &from, &to).await;
        assert_eq!(
            (
                glucose_after.0 - glucose_before.0,
                glucose_after.1 - glucose_before.1
            ),
            (1, 2),
            "glucose control: the latest FPG of A is under 7.0"
        );
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored, "the kept counters differ from the recompute");
        // Read back and searched as laboratory Observations of the patient.
        let read = t
            .get(
                &format!("/fhir/{}", location(4).trim_end_matches("/_history/1")),
                &doctor,
            )
            .await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
        let fpg = read.json();
        assert_eq!(fpg["code"]["coding"][0]["code"], "14771-0");
        assert_eq!(fpg["valueQuantity"]["value"], 6.99);
        assert_eq!(fpg["valueQuantity"]["code"], "mmol/L");
        assert_eq!(fpg["identifier"][0]["system"], "urn:example:lis");
        assert_eq!(fpg["identifier"][0]["value"], "LIS-A-3");
        let labs = t
            .get(
                &format!("/fhir/Observation?patient={resident_a}&category=laboratory&_sort=date"),
                &doctor,
            )
            .await
            .json();
        assert_eq!(labs["total"], 3, "{labs}");
        let a1c = t
            .get(
                &format!("/fhir/Observation?patient={resident_a}&code=http://loinc.org|4548-4"),
                &doctor,
            )
            .await
            .json();
        assert_eq!(a1c["total"], 1, "{a1c}");
        // Sent again (the same sender's id): the stored result, nothing new.
        let again = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            lab("urn:uuid:x", &format!("Patient/{resident_a}"), "4548-4", 6.5, "%", &day(30), "LIS-A-1"),
        ]});
        let r = post_bundle(&t, &doctor, &again).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["entry"][0]["response"]["status"], "200 OK");
        assert_eq!(
            r.json()["entry"][0]["response"]["location"],
            location(2).trim_end_matches("/_history/1")
        );
        assert_eq!(
            measure(&t, &doctor, "hba1c_target", &from, &to).await,
            target_after
        );
        // A glucose in mmol/L under the mg/dL code, or from tomorrow, refuses the Bundle.
        let wrong = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            lab("urn:uuid:y", &format!("Patient/{resident_a}"), "1558-6", 6.5, "mmol/L", &day(3), "LIS-A-9"),
            lab("urn:uuid:z", &format!("Patient/{resident_a}"), "4548-4", 6.5, "%", &day(-1), "LIS-A-10"),
        ]});
        let r = post_bundle(&t, &doctor, &wrong).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(
            r.text
                .contains("Bundle.entry[0].resource.valueQuantity.unit"),
            "{}",
            r.text
        );
        assert!(
            r.text
                .contains("Bundle.entry[1].resource.effectiveDateTime"),
            "{}",
            r.text
        );
        let labs_now = t
            .get(
                &format!(
                    "/fhir/Observation?patient={resident_a}&category=laboratory&_summary=count"
                ),
                &doctor,
            )
            .await
            .json();
        assert_eq!(
            labs_now["total"], 3,
            "nothing of the refused Bundle is stored"
        );
        // A result posted alone for a resident not yet enrolled; the enrolment that
        // follows counts it (kept figures equal to the recompute).
        let alone = json!({
            "resourceType": "Observation", "status": "final",
            "identifier": [{"system": "urn:example:lis", "value": "LIS-H-1"}],
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
            "subject": {"reference": format!("Patient/{}", t.home_resident)},
            "effectiveDateTime": format!("{}T08:10:00+08:00", day(10)),
            "valueQuantity": {"value": 6.2, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
        });
        let r = t
            .send(
                Request::post("/fhir/Observation")
                    .header("authorization", format!("Bearer {doctor}"))
                    .header("content-type", "application/fhir+json")
                    .body(Body::from(alone.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let posted = r.json();
        assert!(
            posted["id"].as_str().unwrap().starts_with("lab"),
            "{posted}"
        );
        assert_eq!(
            posted["effectiveDateTime"],
            format!("{}T00:10:00Z", day(10))
        );
        // The family doctor sees it on the patient's chronic-care page.
        let session = crate::console::sign_in(&t, "doctor").await;
        let page = crate::console::page(
            &t,
            &session,
            &format!("/residents/{}/chronic", t.home_resident),
            "zh",
        )
        .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        assert!(page.text.contains("检验结果"), "{}", page.text);
        assert!(page.text.contains("糖化血红蛋白"));
        assert!(page.text.contains("6.20 %"));
        // Resident A's laboratory FPG is on the glucose chart, apart from follow-ups'.
        let page_a = crate::console::page(
            &t,
            &session,
            &format!("/residents/{resident_a}/chronic"),
            "zh",
        )
        .await;
        assert_eq!(page_a.status, StatusCode::OK, "{}", page_a.text);
        assert!(page_a.text.contains("空腹血糖（检验）"), "{}", page_a.text);
        assert!(
            page_a.text.contains("<title>") && page_a.text.contains(" 6.99</title>"),
            "the 126 mg/dL FPG plotted as 6.99 mmol/L"
        );
        let enrol = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry("urn:uuid:c", condition(&format!("Patient/{}", t.home_resident), "E11.9", &day(400), Some(&day(300))), "POST", "Condition"),
        ]});
        let r = post_bundle(&t, &doctor, &enrol).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(
            fresh, stored,
            "an enrolment counts the resident's earlier results"
        );
        let report = gongti_app::audit::verify(&t.store, &Default::default(), |_| {})
            .await
            .unwrap();
        assert!(
            report.uncovered.iter().all(|u| u.table != "lab_results"),
            "{report:?}"
        );
        let dir = gongti_testdb::temp_dir("gongti-fhir-labs");
        std::fs::write(dir.join("labs.json"), labs.to_string()).unwrap();
        std::fs::write(dir.join("posted.json"), posted.to_string()).unwrap();
        validate(&dir, 2);
    }
}

/// An enrolment the import makes writes its bookkeeping once, after its visits: the
/// enrolment's summary, marks and tasks must equal those of the same visits recorded
/// one at a time through the JSON API.
#[tokio::test]
async fn an_imported_enrolment_ends_as_if_its_visits_were_recorded_one_by_one() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        // (days ago, SBP, DBP): an urgent visit opens a task, the next closes it.
        let visits = [
            (300, 132, 84),
            (200, 186, 96),
            (120, 150, 95),
            (30, 128, 80),
        ];
        // One by one through the JSON API.
        let a = id_number_born("19510405", 701);
        let r = t
            .post(
                "/api/v1/residents",
                &doctor,
                json!({"id_number": a, "name": "孙立平", "address": "天津市和平区"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let resident_a = r.json()["id"].as_i64().unwrap();
        let base = format!("/api/v1/residents/{resident_a}");
        let r = t
            .post(
                &format!("{base}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": day(500), "enrolled_on": day(380)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        for (ago, sbp, dbp) in visits {
            let r = t
                .post(
                    &format!("{base}/followups"),
                    &doctor,
                    json!({"disease": "hypertension", "method": "clinic", "visit_on": day(ago),
                           "sbp_mmhg": sbp, "dbp_mmhg": dbp}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        // The same visits in one transaction Bundle.
        let b = id_number_born("19510405", 702);
        let p = "urn:uuid:2ab00000-0000-4000-8000-000000000001";
        let c = "urn:uuid:2ab00000-0000-4000-8000-000000000002";
        let mut entries = vec![
            entry(p, patient(&b, "孙立安"), "POST", "Patient"),
            entry(
                c,
                condition(p, "I10", &day(500), Some(&day(380))),
                "POST",
                "Condition",
            ),
        ];
        for (n, (ago, sbp, dbp)) in visits.iter().enumerate() {
            let e = format!("urn:uuid:2ab00000-0000-4000-8000-1000000000{n:02}");
            let o = format!("urn:uuid:2ab00000-0000-4000-8000-2000000000{n:02}");
            entries.push(encounter(&e, p, c, &day(*ago)));
            entries.push(bp(&o, p, &e, &day(*ago), *sbp, *dbp));
        }
        let r = post_bundle(
            &t,
            &doctor,
            &json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let resident_b = r.json()["entry"][0]["response"]["location"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .parse::<i64>()
            .unwrap();
        // The imported enrolment is written once, with what its visits leave on it:
        // one version, no state of it that existed only inside the import.
        let episode = location_of(&r.json(), 1)
            .split('/')
            .nth(1)
            .unwrap()
            .to_owned();
        let history = t
            .get(&format!("/fhir/EpisodeOfCare/{episode}/_history"), &doctor)
            .await;
        assert_eq!(history.status, StatusCode::OK, "{}", history.text);
        assert_eq!(history.json()["total"], 1, "{}", history.text);
        let read = t
            .get(&format!("/fhir/EpisodeOfCare/{episode}"), &doctor)
            .await
            .json();
        assert_eq!(read["meta"]["versionId"], "1", "{read}");
        // What the enrolment and its tasks say, without ids and times of writing.
        let state = |resident: i64| {
            let t = &t;
            let doctor = doctor.clone();
            async move {
                let mut e = t
                    .get(&format!("/api/v1/residents/{resident}/enrolments"), &doctor)
                    .await
                    .json()["items"][0]
                    .clone();
                for k in [
                    "id",
                    "resident_id",
                    "created_at",
                    "changed_at",
                    "version",
                    "updated_at",
                ] {
                    e.as_object_mut().unwrap().remove(k);
                }
                let tasks = t
                    .get(&format!("/fhir/Task?patient={resident}"), &doctor)
                    .await
                    .json();
                let mut kinds: Vec<String> = tasks["entry"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| {
                        format!(
                            "{} {}",
                            x["resource"]["code"]["coding"][0]["code"], x["resource"]["status"]
                        )
                    })
                    .collect();
                kinds.sort();
                (e, kinds)
            }
        };
        let (one_by_one, imported) = (state(resident_a).await, state(resident_b).await);
        assert_eq!(
            one_by_one.1.len(),
            1,
            "the urgent visit's task: {:?}",
            one_by_one.1
        );
        assert_eq!(one_by_one, imported);
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored);
    }
}

/// Posts a Bundle that must be accepted; its response Bundle.
async fn accepted(t: &TestApp, token: &str, bundle: &Value) -> Value {
    let r = post_bundle(t, token, bundle).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

/// The location a response Bundle's entry `i` answers.
fn location_of(answer: &Value, i: usize) -> String {
    answer["entry"][i]["response"]["location"]
        .as_str()
        .unwrap_or_else(|| panic!("entry {i} has no location: {answer}"))
        .to_owned()
}

/// A home reading in a Bundle: a BP panel or a blood glucose of `patient`, the
/// device's own `id` as its identifier.
pub(crate) fn home_reading(
    full_url: &str,
    patient: &str,
    at: &str,
    id: &str,
    value: Value,
) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "status": "final",
        "identifier": [{"system": "urn:example:device", "value": id}],
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "subject": {"reference": patient},
        "effectiveDateTime": at,
    });
    for (k, v) in value.as_object().unwrap() {
        o[k] = v.clone();
    }
    entry(full_url, o, "POST", "Observation")
}

pub(crate) fn bp_panel(sbp: i64, dbp: i64) -> Value {
    let q = |v: i64| json!({"value": v, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
    json!({
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": q(sbp)},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": q(dbp)},
        ],
    })
}

/// Home readings come in with the residents they belong to, in a transaction or a
/// batch: stored as an upload stores them (an urgent one alerts the team, a repeat of
/// the device's id answers the stored one), counted as contact in the kept figures and
/// audited with the transaction.
#[tokio::test]
async fn home_readings_come_in_with_their_residents_and_alert_when_urgent() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let at = |ago: i64| format!("{}T07:30:00+08:00", day(ago));
        let alerts_before = t.get("/api/v1/worklists/alerts", &doctor).await.json()["items"]
            .as_array()
            .unwrap()
            .len();
        let a = id_number_born("19500808", 711);
        let pa = "urn:uuid:4ea00000-0000-4000-8000-00000000000a";
        let glucose = json!({
            "code": {"coding": [{"system": "http://loinc.org", "code": "15074-8"}]},
            "valueQuantity": {"value": 6.1, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
        });
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry(pa, patient(&a, "孙桂兰"), "POST", "Patient"),
            entry("urn:uuid:4ea00000-0000-4000-8000-000000000001", condition(pa, "I10", &day(900), Some(&day(300))), "POST", "Condition"),
            home_reading("urn:uuid:4ea00000-0000-4000-8000-000000000002", pa, &at(40), "cuff-1", bp_panel(136, 84)),
            home_reading("urn:uuid:4ea00000-0000-4000-8000-000000000003", pa, &at(2), "cuff-2", bp_panel(192, 116)),
            home_reading("urn:uuid:4ea00000-0000-4000-8000-000000000004", &format!("Patient/{}", t.home_resident), &at(3), "meter-1", glucose.clone()),
        ]});
        let answer = accepted(&t, &doctor, &bundle).await;
        let location = |i: usize| location_of(&answer, i);
        for i in 2..5 {
            assert_eq!(answer["entry"][i]["response"]["status"], "201 Created");
            assert!(location(i).starts_with("Observation/r"), "{}", location(i));
        }
        let resident: i64 = location(0).split('/').nth(1).unwrap().parse().unwrap();
        // The urgent reading alerts the team, naming the new resident.
        let alerts = t.get("/api/v1/worklists/alerts", &doctor).await.json();
        let items = alerts["items"].as_array().unwrap();
        assert_eq!(items.len(), alerts_before + 1, "{alerts}");
        assert!(
            items
                .iter()
                .any(|a| a["code"] == "urgent_bp" && a["resident_id"] == resident),
            "{alerts}"
        );
        // Read back as the upload stores them, and valid R4.
        let read = t
            .get(
                &format!("/fhir/{}", location(3).trim_end_matches("/_history/1")),
                &doctor,
            )
            .await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
        let read = read.json();
        assert_eq!(read["component"][0]["valueQuantity"]["value"], 192.0);
        assert_eq!(read["subject"]["reference"], format!("Patient/{resident}"));
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored, "the kept counters differ from the recompute");

        // Sent again in a batch: the device's id answers the stored reading; a
        // reading in the future is refused on its own.
        let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
            home_reading("urn:uuid:x", &format!("Patient/{resident}"), &at(2), "cuff-2", bp_panel(192, 116)),
            home_reading("urn:uuid:y", &format!("Patient/{resident}"), &at(-2), "cuff-3", bp_panel(130, 80)),
            home_reading("urn:uuid:z", &format!("Patient/{resident}"), &at(1), "cuff-4", bp_panel(128, 78)),
        ]});
        let r = post_bundle(&t, &doctor, &batch).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let answer = r.json();
        assert_eq!(
            answer["entry"][0]["response"]["status"], "200 OK",
            "{answer}"
        );
        assert_eq!(
            answer["entry"][0]["response"]["location"],
            location(3).trim_end_matches("/_history/1")
        );
        assert!(
            answer["entry"][1]["response"]["status"]
                .as_str()
                .unwrap()
                .starts_with("422"),
            "{answer}"
        );
        assert_eq!(answer["entry"][2]["response"]["status"], "201 Created");
        let alerts = t.get("/api/v1/worklists/alerts", &doctor).await.json();
        assert_eq!(
            alerts["items"].as_array().unwrap().len(),
            alerts_before + 1,
            "a repeat raises no second alert"
        );
        // Each reading's record commits with it.
        let report = gongti_app::audit::verify(&t.store, &Default::default(), |_| {})
            .await
            .unwrap();
        assert!(
            report.uncovered.iter().all(|u| u.table != "home_readings"),
            "{report:?}"
        );
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored);
        let dir = gongti_testdb::temp_dir("gongti-fhir-home-readings");
        std::fs::write(dir.join("reading.json"), read.to_string()).unwrap();
        validate(&dir, 1);
    }
}

/// Entries refer to one another by fullUrl wherever they stand and whatever entries
/// make no item of their own (an EpisodeOfCare, an Observation measured at an
/// Encounter): a reading or a result goes to the Patient it names. A repeat of a
/// reading is on the trail; a fullUrl names one entry only; a serum glucose is a
/// laboratory's, a blood glucose in mg/dL is not a home reading.
#[tokio::test]
async fn references_reach_the_entry_they_name_wherever_it_stands() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let at = |ago: i64| format!("{}T07:30:00+08:00", day(ago));
        let (a, b, c) = (
            id_number_born("19510101", 811),
            id_number_born("19520202", 812),
            id_number_born("19530303", 813),
        );
        let u = |n: u32| format!("urn:uuid:5eb00000-0000-4000-8000-{n:012}");
        let (pa, pb, pc) = (u(1), u(2), u(3));
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry(&pa, patient(&a, "周文"), "POST", "Patient"),
            entry(&u(4), condition(&pa, "I10", &day(900), Some(&day(300))), "POST", "Condition"),
            entry(&u(5), json!({"resourceType": "EpisodeOfCare", "status": "active",
                "patient": {"reference": pa}, "diagnosis": [{"condition": {"reference": u(4)}}],
                "period": {"start": day(300)}}), "POST", "EpisodeOfCare"),
            encounter(&u(6), &pa, &u(5), &day(100)),
            bp(&u(7), &pa, &u(6), &day(100), 138, 86),
            entry(&pb, patient(&b, "吴敏"), "POST", "Patient"),
            entry(&pc, patient(&c, "郑强"), "POST", "Patient"),
            home_reading(&u(8), &pb, &at(3), "cuff-b", bp_panel(134, 82)),
            lab(&u(9), &pc, "4548-4", 6.4, "%", &day(20), "LIS-C-1"),
            // 1558-6 with no category: a serum glucose is a laboratory's (mg/dL).
            entry(&u(10), json!({"resourceType": "Observation", "status": "final",
                "identifier": [{"system": "urn:example:lis", "value": "LIS-C-2"}],
                "code": {"coding": [{"system": "http://loinc.org", "code": "1558-6"}]},
                "subject": {"reference": pc}, "effectiveDateTime": day(20),
                "valueQuantity": {"value": 126.0, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}}),
                "POST", "Observation"),
        ]});
        let answer = accepted(&t, &doctor, &bundle).await;
        let location = |i: usize| {
            location_of(&answer, i)
                .trim_end_matches("/_history/1")
                .to_owned()
        };
        let subject = |path: String| {
            let t = &t;
            let doctor = &doctor;
            async move {
                let r = t.get(&format!("/fhir/{path}"), doctor).await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                r.json()["subject"]["reference"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        assert_eq!(subject(location(7)).await, location(5), "B's reading");
        assert_eq!(subject(location(8)).await, location(6), "C's HbA1c");
        assert!(
            location(9).starts_with("Observation/lab"),
            "{}",
            location(9)
        );
        assert_eq!(subject(location(9)).await, location(6), "C's serum glucose");
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored);

        // B's reading again: answered with the stored one, and on the trail.
        let resident_b: i64 = location(5).split('/').nth(1).unwrap().parse().unwrap();
        let again = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            home_reading(&u(11), &location(5), &at(3), "cuff-b", bp_panel(134, 82)),
        ]});
        let r = post_bundle(&t, &doctor, &again).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["entry"][0]["response"]["status"], "200 OK");
        let trail = t.audit_tail(5).await;
        assert!(
            trail.iter().any(|e| e.entry.action == "reading.upload"
                && e.entry.patient_id == Some(resident_b)
                && e.entry.detail.as_deref() == Some("1 sent, 0 new, 0 alerts")),
            "{trail:?}"
        );

        // Refused, nothing written: a fullUrl twice; a blood glucose in mg/dL.
        let before = patient_count(&t, &doctor).await;
        let d = id_number_born("19540404", 814);
        let twice = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry(&u(12), patient(&d, "冯丽"), "POST", "Patient"),
            entry(&u(12), condition(&u(12), "I10", &day(900), Some(&day(300))), "POST", "Condition"),
        ]});
        let r = post_bundle(&t, &doctor, &twice).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("fullUrl"), "{}", r.text);
        let mg = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            entry(&u(13), patient(&d, "冯丽"), "POST", "Patient"),
            home_reading(&u(14), &u(13), &at(1), "meter-d", json!({
                "code": {"coding": [{"system": "http://loinc.org", "code": "15074-8"}]},
                "valueQuantity": {"value": 110.0, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"},
            })),
        ]});
        let r = post_bundle(&t, &doctor, &mg).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("valueQuantity.unit"), "{}", r.text);
        assert_eq!(patient_count(&t, &doctor).await, before);
    }
}
