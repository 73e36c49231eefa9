//! Versions over FHIR: `meta.versionId` on every resource, `_history` and vread of
//! every type served, the conditional read (ETag, If-None-Match → 304), and access and
//! audit as for the read of the record now.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::fhir::validate;
use crate::support::TestApp;

fn save(dir: &std::path::Path, name: &str, body: &str) {
    std::fs::write(dir.join(format!("{name}.json")), body).unwrap();
}

#[tokio::test]
async fn every_record_has_its_versions_and_earlier_ones_read_back() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let p = t.home_resident;
        let base = format!("/api/v1/residents/{p}");
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let r = t
            .post(
                &format!("{base}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": day(800)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let condition = r.json()["id"].as_i64().unwrap();
        let at = |v: &Value| v["meta"]["versionId"].as_str().unwrap().to_owned();
        let read = |path: String| {
            let t = &t;
            let doctor = doctor.clone();
            async move { t.get(&path, &doctor).await }
        };
        let first = read(format!("/fhir/Condition/{condition}")).await.json();
        assert_eq!(at(&first), "1");
        // A follow-up keeps the enrolment's figures up to date: no new version of the
        // Condition, whose content it does not change.
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
        assert_eq!(
            at(&read(format!("/fhir/Condition/{condition}")).await.json()),
            "1"
        );
        // Ending the enrolment is a new version of its EpisodeOfCare.
        let r = t
            .post(
                &format!("{base}/enrolments/hypertension/end"),
                &doctor,
                json!({"ended_on": day(0), "reason": "moved_away"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let episode = read(format!("/fhir/EpisodeOfCare/{condition}")).await;
        assert_eq!(at(&episode.json()), "2", "{}", episode.text);
        assert_eq!(episode.headers["etag"], "W/\"2\"");
        assert!(episode.headers.contains_key("last-modified"));
        // A patient's records sync by `_lastUpdated`: the ending is the latest change.
        let changed = episode.json()["meta"]["lastUpdated"]
            .as_str()
            .unwrap()
            .to_owned();
        let since = |prefix: &str| {
            format!(
                "/fhir/EpisodeOfCare?patient={p}&_lastUpdated={prefix}{}",
                changed.replace(':', "%3A")
            )
        };
        assert_eq!(read(since("ge")).await.json()["total"], 1);
        assert_eq!(read(since("gt")).await.json()["total"], 0);
        let encounters_before = read(format!(
            "/fhir/Encounter?patient={p}&_lastUpdated=lt{}",
            changed.replace(':', "%3A")
        ))
        .await
        .json();
        assert_eq!(encounters_before["total"], 2, "{encounters_before}");
        let was = read(format!("/fhir/EpisodeOfCare/{condition}/_history/1")).await;
        assert_eq!(was.status, StatusCode::OK, "{}", was.text);
        assert_eq!(was.json()["status"], "active");
        assert!(was.json()["period"].get("end").is_none());
        assert_eq!(was.headers["etag"], "W/\"1\"");
        // The resident's record changed twice.
        let person = read(format!("/api/v1/residents/{p}")).await.json();
        for address in ["天津市和平区友谊路1号", "天津市和平区友谊路2号"] {
            let mut body = json!({});
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
            body["address"] = address.into();
            let r = t.send_json("PUT", &base, &doctor, body.to_string()).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
        let history = read(format!("/fhir/Patient/{p}/_history")).await;
        assert_eq!(history.status, StatusCode::OK, "{}", history.text);
        let h = history.json();
        assert_eq!(h["type"], "history");
        let versions: Vec<String> = h["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| at(&e["resource"]))
            .collect();
        assert_eq!(
            versions.first().map(String::as_str),
            Some("3"),
            "{versions:?}"
        );
        assert_eq!(versions.len(), 3, "{versions:?}");
        assert_eq!(
            h["entry"][0]["resource"]["address"][0]["text"],
            "天津市和平区友谊路2号"
        );
        assert_eq!(
            h["entry"][1]["resource"]["address"][0]["text"],
            "天津市和平区友谊路1号"
        );
        assert_eq!(h["entry"][2]["request"]["method"], "POST");
        let dir = gongti_testdb::temp_dir("gongti-fhir-versions");
        save(&dir, "patient-history", &history.text);
        save(&dir, "episode-v1", &was.text);

        // Every resource of the patient's record, and what it references: each has a
        // history whose first entry is the resource as read now, and every entry reads
        // back by its version.
        let everything = read(format!("/fhir/Patient/{p}/$everything?_count=200"))
            .await
            .json();
        let mut targets: Vec<String> = everything["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}/{}",
                    e["resource"]["resourceType"].as_str().unwrap(),
                    e["resource"]["id"].as_str().unwrap()
                )
            })
            .collect();
        targets.push(format!("Organization/{}", t.home));
        targets.push("Practitioner/1".into());
        targets.push("PractitionerRole/1".into());
        let mut types = std::collections::BTreeSet::new();
        for (n, target) in targets.iter().enumerate() {
            let now = read(format!("/fhir/{target}")).await;
            assert_eq!(now.status, StatusCode::OK, "{target}: {}", now.text);
            let now = now.json();
            let history = read(format!("/fhir/{target}/_history")).await;
            assert_eq!(history.status, StatusCode::OK, "{target}: {}", history.text);
            let h = history.json();
            assert_eq!(h["entry"][0]["resource"], now, "{target}");
            let entries = h["entry"].as_array().unwrap();
            assert_eq!(h["total"], entries.len());
            assert_eq!(entries.len().to_string(), at(&now), "{target}");
            for e in entries {
                let v = at(&e["resource"]);
                let back = read(format!("/fhir/{target}/_history/{v}")).await;
                assert_eq!(back.status, StatusCode::OK, "{target} v{v}: {}", back.text);
                assert_eq!(back.json(), e["resource"], "{target} v{v}");
            }
            let past = entries.len() + 1;
            let none = read(format!("/fhir/{target}/_history/{past}")).await;
            assert_eq!(none.status, StatusCode::NOT_FOUND, "{target}");
            assert_eq!(none.json()["resourceType"], "OperationOutcome");
            types.insert(target.split('/').next().unwrap().to_owned());
            if n < 12 {
                save(&dir, &format!("history-{n}"), &history.text);
            }
        }
        for ty in [
            "Patient",
            "Condition",
            "EpisodeOfCare",
            "Encounter",
            "Observation",
            "Organization",
            "Practitioner",
        ] {
            assert!(types.contains(ty), "{ty} in {types:?}");
        }
        validate(&dir, 2 + targets.len().min(12));
    }
}

#[tokio::test]
async fn a_client_holding_the_version_gets_304_and_others_are_refused_as_for_a_read() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    let p = t.home_resident;
    let conditional = |tag: &'static str| {
        axum::http::Request::get(format!("/fhir/Patient/{p}"))
            .header("authorization", format!("Bearer {doctor}"))
            .header("if-none-match", tag)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let held = t.send(conditional("W/\"1\"")).await;
    assert_eq!(held.status, StatusCode::NOT_MODIFIED, "{}", held.text);
    assert!(held.text.is_empty());
    assert_eq!(held.headers["etag"], "W/\"1\"");
    let stale = t.send(conditional("W/\"7\", \"8\"")).await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.json()["id"], p.to_string());
    // The conditional read is a read: audited like one.
    let tail = t.audit_tail(3).await;
    assert!(
        tail.iter()
            .filter(|r| r.entry.action == "resident.read")
            .count()
            >= 2,
        "{:?}",
        tail.iter().map(|r| &r.entry.action).collect::<Vec<_>>()
    );
    // Another institution's doctor reads no version of the record.
    let other = t.token("other_doctor").await;
    for path in [
        format!("/fhir/Patient/{p}/_history"),
        format!("/fhir/Patient/{p}/_history/1"),
    ] {
        let r = t.get(&path, &other).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
        assert_eq!(r.json()["resourceType"], "OperationOutcome");
    }
    for path in [
        "/fhir/Patient/x/_history",
        "/fhir/Patient/999999/_history/1",
        "/fhir/Patient/1/_history/x",
    ] {
        let r = t.get(path, &doctor).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
    }
    // Without a token: 401 as for any read.
    let r = t
        .send(
            axum::http::Request::get(format!("/fhir/Patient/{p}/_history"))
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
