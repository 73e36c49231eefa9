//! Bulk Data export (`$export`): the asynchronous kick-off, status and NDJSON files of
//! the Bulk Data Access IG, within the access rules, audited, with `_since` and `_type`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::fhir::validate;
use crate::support::{Reply, TestApp};

async fn kick_off(t: &TestApp, path: &str, token: &str) -> Reply {
    t.send(
        Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/fhir+json")
            .header("prefer", "respond-async")
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// Kicks off an export and polls it to its manifest.
pub(crate) async fn export(t: &TestApp, path: &str, token: &str) -> Value {
    let r = kick_off(t, path, token).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{path}: {}", r.text);
    let status = r.headers["content-location"].to_str().unwrap().to_owned();
    poll(t, status.strip_prefix("http://localhost").unwrap(), token).await
}

/// Polls an export's status to its manifest.
async fn poll(t: &TestApp, status: &str, token: &str) -> Value {
    for _ in 0..600 {
        let r = t.get(status, token).await;
        match r.status {
            StatusCode::ACCEPTED => {
                assert_eq!(r.headers["retry-after"], "2");
                assert!(r.headers.contains_key("x-progress"));
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            StatusCode::OK => {
                assert_eq!(r.headers["content-type"], "application/json");
                return r.json();
            }
            other => panic!("{status}: {other} {}", r.text),
        }
    }
    panic!("the export at {status} did not finish");
}

/// Every line of every file of a manifest, by type (checked against its count).
async fn lines(t: &TestApp, manifest: &Value, token: &str) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for o in manifest["output"].as_array().unwrap() {
        let url = o["url"].as_str().unwrap();
        let path = url.strip_prefix("http://localhost").unwrap();
        let r = t
            .send(
                Request::get(path)
                    .header("authorization", format!("Bearer {token}"))
                    .header("accept", "application/fhir+ndjson")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        assert_eq!(r.headers["content-type"], "application/fhir+ndjson");
        let ty = o["type"].as_str().unwrap();
        let found: Vec<Value> = r
            .text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect();
        assert_eq!(found.len() as u64, o["count"].as_u64().unwrap(), "{path}");
        assert!(found.iter().all(|v| v["resourceType"] == ty), "{path}");
        out.entry(ty.to_owned()).or_default().extend(found);
    }
    out
}

fn count(by_type: &BTreeMap<String, Vec<Value>>, ty: &str) -> usize {
    by_type.get(ty).map_or(0, Vec::len)
}

#[tokio::test]
async fn an_institution_exports_its_residents_records_and_officers_the_registry() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let admin = t.token("instadmin").await;
        let p = t.home_resident;
        let base = format!("/api/v1/residents/{p}");
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let r = t
            .post(
                &format!("{base}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": day(400)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        for ago in [60, 30] {
            let r = t
                .post(
                    &format!("{base}/followups"),
                    &doctor,
                    json!({"disease": "hypertension", "method": "clinic", "visit_on": day(ago), "sbp_mmhg": 150, "dbp_mmhg": 95, "heart_rate_bpm": 70}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        let taken = (t.app.now() - time::Duration::hours(2))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let r = t
            .post(
                &format!("{base}/readings"),
                &doctor,
                json!({"client_reading_id": "x-1", "kind": "bp", "taken_at": taken, "sbp_mmhg": 132, "dbp_mmhg": 84}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        // The institution's administrator: its residents' records and the registry.
        let audit_before = t.store.audit_count().await.unwrap();
        let manifest = export(&t, "/fhir/$export", &admin).await;
        assert_eq!(manifest["requiresAccessToken"], true);
        assert!(
            manifest["request"]
                .as_str()
                .unwrap()
                .ends_with("/fhir/$export")
        );
        assert!(manifest["transactionTime"].as_str().unwrap().ends_with('Z'));
        assert_eq!(manifest["error"], json!([]));
        let all = lines(&t, &manifest, &admin).await;
        let patients = &all["Patient"];
        assert!(
            patients
                .iter()
                .all(|v| v["managingOrganization"]["reference"]
                    == format!("Organization/{}", t.home))
        );
        let mine = patients
            .iter()
            .find(|v| v["id"].as_str() == Some(p.to_string().as_str()))
            .expect("the home resident");
        // The holding institution's own export: numbers in full.
        assert!(
            !mine["identifier"][0]["value"]
                .as_str()
                .unwrap()
                .contains('*')
        );
        assert!(
            !patients
                .iter()
                .any(|v| v["id"].as_str() == Some(t.other_resident.to_string().as_str()))
        );
        assert_eq!(count(&all, "Condition"), 1);
        assert_eq!(count(&all, "EpisodeOfCare"), 1);
        assert_eq!(count(&all, "Encounter"), 2);
        // Two visits (a BP panel and a heart rate each) and the home reading.
        assert_eq!(
            count(&all, "Observation"),
            5,
            "{:?}",
            all.get("Observation")
        );
        let institutions = t.store.institution_count().await.unwrap() as usize;
        assert_eq!(count(&all, "Organization"), institutions);
        assert!(count(&all, "Practitioner") >= 10);
        assert_eq!(count(&all, "Practitioner"), count(&all, "PractitionerRole"));
        assert!(count(&all, "HealthcareService") >= 1);
        // Both validators accept every resource of the files.
        let dir = gongti_testdb::temp_dir("gongti-fhir-export");
        let mut n = 0;
        for (ty, list) in &all {
            for (i, v) in list.iter().enumerate().take(20) {
                std::fs::write(dir.join(format!("{ty}-{i}.json")), v.to_string()).unwrap();
                n += 1;
            }
        }
        validate(&dir, n);
        // Audited: the request, each resident whose records left, each download.
        let trail = t
            .audit_tail(t.store.audit_count().await.unwrap() - audit_before)
            .await;
        let actions = |a: &str| trail.iter().filter(|c| c.entry.action == a).count();
        assert_eq!(actions("export.start"), 1);
        assert_eq!(actions("export.read"), patients.len());
        assert!(trail.iter().any(|c| c.entry.action == "export.read"
            && c.entry.patient_id == Some(p)
            && c.entry.actor_username == "instadmin"));
        assert_eq!(
            actions("export.download"),
            manifest["output"].as_array().unwrap().len()
        );

        // `_since`: only what changed after the last export's transaction time.
        let since = manifest["transactionTime"].as_str().unwrap().to_owned();
        let person = t.get(&base, &doctor).await.json();
        let mut body = json!({"address": "天津市和平区友谊路9号"});
        for field in [
            "id_number",
            "name",
            "sex",
            "birth_date",
            "phone",
            "household",
        ] {
            body[field] = person[field].clone();
        }
        let r = t.send_json("PUT", &base, &doctor, body.to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let path = format!(
            "/fhir/Patient/$export?_since={}&_type=Patient,Observation",
            since.replace(':', "%3A").replace('+', "%2B")
        );
        let changed = export(&t, &path, &admin).await;
        let changed = lines(&t, &changed, &admin).await;
        assert_eq!(count(&changed, "Patient"), 1, "{changed:?}");
        assert_eq!(changed["Patient"][0]["id"], p.to_string());
        assert_eq!(count(&changed, "Observation"), 0);
        assert!(!changed.contains_key("Organization"));

        // A Group is an institution's register (read by anyone, its members not
        // listed); exported by its own administrator only.
        let g = t.get(&format!("/fhir/Group/{}", t.home), &doctor).await;
        assert_eq!(g.status, StatusCode::OK, "{}", g.text);
        assert_eq!(g.json()["resourceType"], "Group");
        assert_eq!(
            g.json()["managingEntity"]["reference"],
            format!("Organization/{}", t.home)
        );
        assert!(g.json().get("member").is_none());
        let gdir = gongti_testdb::temp_dir("gongti-fhir-group");
        std::fs::write(gdir.join("group.json"), &g.text).unwrap();
        validate(&gdir, 1);
        let group = export(
            &t,
            &format!("/fhir/Group/{}/$export?_type=Patient", t.home),
            &admin,
        )
        .await;
        let group = lines(&t, &group, &admin).await;
        assert_eq!(count(&group, "Patient"), patients.len());
        let hospadmin = t.token("hospadmin").await;
        let r = kick_off(&t, &format!("/fhir/Group/{}/$export", t.home), &hospadmin).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let r = kick_off(&t, "/fhir/Group/999999/$export", &admin).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

        // Officers: the registry only, the named types left out with a reason.
        let officer = t.token("officer").await;
        let registry = export(&t, "/fhir/$export", &officer).await;
        let error = registry["error"].as_array().unwrap();
        assert_eq!(error.len(), 1, "{registry}");
        let files = lines(&t, &registry, &officer).await;
        assert!(!files.contains_key("Patient"));
        assert_eq!(count(&files, "Organization"), institutions);
        let path = error[0]["url"]
            .as_str()
            .unwrap()
            .strip_prefix("http://localhost")
            .unwrap()
            .to_owned();
        let outcomes = t.get(&path, &officer).await;
        assert_eq!(outcomes.status, StatusCode::OK);
        assert_eq!(outcomes.text.lines().count(), 8, "{}", outcomes.text);
        let r = kick_off(&t, "/fhir/Patient/$export", &officer).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        // Clinicians work patient by patient.
        let r = kick_off(&t, "/fhir/$export", &doctor).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.json()["resourceType"], "OperationOutcome");

        // What is not supported is refused before anything runs.
        for (query, code) in [
            ("_type=Appointment", "type_not_exported"),
            ("_outputFormat=application/fhir%2Bxml", "bad_output_format"),
            (
                "_typeFilter=Patient%3Fgender%3Dmale",
                "export_parameter_not_supported",
            ),
            ("_since=yesterday", "bad_date"),
        ] {
            let r = kick_off(&t, &format!("/fhir/$export?{query}"), &admin).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.text);
            assert_eq!(
                r.json()["issue"][0]["details"]["coding"][0]["code"],
                code,
                "{query}"
            );
        }
        let r = kick_off(&t, "/fhir/Patient/$export?_type=Organization", &admin).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

        // Only who asked may poll or download; a deleted export is gone with its files.
        // `+` sent unencoded, as many clients write it.
        let r = kick_off(
            &t,
            "/fhir/$export?_type=Organization&_outputFormat=application/fhir+ndjson",
            &admin,
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        let status = r.headers["content-location"]
            .to_str()
            .unwrap()
            .strip_prefix("http://localhost")
            .unwrap()
            .to_owned();
        let r = t.get(&status, &officer).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        let finished = poll(&t, &status, &admin).await;
        let file = finished["output"][0]["url"]
            .as_str()
            .unwrap()
            .strip_prefix("http://localhost")
            .unwrap()
            .to_owned();
        assert_eq!(t.get(&file, &officer).await.status, StatusCode::NOT_FOUND);
        let job = file.split('/').nth(3).unwrap().to_owned();
        let r = t
            .send(
                Request::delete(format!("/fhir/$export-poll/{job}"))
                    .header("authorization", format!("Bearer {admin}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
        assert_eq!(
            t.get(&format!("/fhir/$export-poll/{job}"), &admin)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(t.get(&file, &admin).await.status, StatusCode::NOT_FOUND);
        // Unauthenticated: 401 with its challenge.
        let r = t
            .send(Request::get("/fhir/$export").body(Body::empty()).unwrap())
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.headers.contains_key("www-authenticate"));
    }
}
