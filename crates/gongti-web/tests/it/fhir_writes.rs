//! FHIR writes: create, conditional create and update of a Patient with the JSON
//! API's validation, access decision and audit; versions, ETags and preconditions.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::fhir::validate;
use crate::support::{Reply, TestApp, id_number_born};

fn save(dir: &std::path::Path, name: &str, body: &str) {
    std::fs::write(dir.join(format!("{name}.json")), body).unwrap();
}

const ID_SYSTEM: &str = "urn:oid:2.16.156.10011.1.3";

fn person(id_number: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{"system": ID_SYSTEM, "value": id_number}],
        "name": [{"use": "official", "family": "欧阳", "given": ["修"]}],
        "gender": "male",
        "birthDate": "1956-03-14",
        "telecom": [{"system": "phone", "value": "13812345678"}],
        "address": [{"text": "天津市和平区南京路8号"}],
    })
}

async fn write(
    t: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/fhir+json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    t.send(request.body(Body::from(body.to_string())).unwrap())
        .await
}

#[tokio::test]
async fn a_patient_is_created_once_and_updated_at_the_version_held() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let dir = gongti_testdb::temp_dir("gongti-fhir-writes");
        let id_number = id_number_born("19560314", 357);
        let created = write(
            &t,
            "POST",
            "/fhir/Patient",
            &doctor,
            &person(&id_number),
            &[],
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let p = created.json();
        let id = p["id"].as_str().unwrap().to_owned();
        assert_eq!(p["name"][0]["text"], "欧阳修");
        assert_eq!(p["name"][0]["family"], "欧阳");
        assert_eq!(p["meta"]["versionId"], "1");
        assert_eq!(
            p["managingOrganization"]["reference"],
            format!("Organization/{}", t.home)
        );
        assert!(
            created.headers["location"]
                .to_str()
                .unwrap()
                .ends_with(&format!("/fhir/Patient/{id}/_history/1"))
        );
        assert_eq!(created.headers["etag"], "W/\"1\"");
        save(&dir, "created", &created.text);
        // The JSON API sees the same person.
        let api = t
            .get(&format!("/api/v1/residents/{id}"), &doctor)
            .await
            .json();
        assert_eq!(api["address"], "天津市和平区南京路8号");
        assert_eq!(api["phone"], "13812345678");

        // Conditional create: the same person again is answered, not registered twice.
        let criterion = format!("identifier={ID_SYSTEM}|{id_number}");
        let again = write(
            &t,
            "POST",
            "/fhir/Patient",
            &doctor,
            &person(&id_number),
            &[("if-none-exist", &criterion)],
        )
        .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.json()["id"], id.as_str());
        let plain = write(
            &t,
            "POST",
            "/fhir/Patient",
            &doctor,
            &person(&id_number),
            &[],
        )
        .await;
        assert_eq!(plain.status, StatusCode::CONFLICT, "{}", plain.text);
        assert_eq!(plain.json()["resourceType"], "OperationOutcome");
        let other = id_number_born("19600101", 12);
        let mut someone = person(&other);
        // Sex and birth date come from the ID number when left out.
        someone.as_object_mut().unwrap().remove("gender");
        someone.as_object_mut().unwrap().remove("birthDate");
        let fresh = write(
            &t,
            "POST",
            "/fhir/Patient",
            &doctor,
            &someone,
            &[("if-none-exist", &format!("identifier={other}"))],
        )
        .await;
        assert_eq!(fresh.status, StatusCode::CREATED, "{}", fresh.text);
        assert_eq!(fresh.json()["birthDate"], "1960-01-01");
        let by_name = write(
            &t,
            "POST",
            "/fhir/Patient",
            &doctor,
            &person(&other),
            &[("if-none-exist", "name=欧阳修")],
        )
        .await;
        assert_eq!(by_name.status, StatusCode::BAD_REQUEST, "{}", by_name.text);

        // Update at the version held; a stale version is refused and nothing changes.
        let mut changed = p.clone();
        changed["address"] = json!([{"text": "天津市和平区南京路9号"}]);
        let updated = write(
            &t,
            "PUT",
            &format!("/fhir/Patient/{id}"),
            &doctor,
            &changed,
            &[("if-match", "W/\"1\"")],
        )
        .await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
        assert_eq!(updated.json()["meta"]["versionId"], "2");
        assert_eq!(
            updated.json()["address"][0]["text"],
            "天津市和平区南京路9号"
        );
        assert_eq!(updated.headers["etag"], "W/\"2\"");
        save(&dir, "updated", &updated.text);
        changed["address"] = json!([{"text": "天津市和平区南京路10号"}]);
        let stale = write(
            &t,
            "PUT",
            &format!("/fhir/Patient/{id}"),
            &doctor,
            &changed,
            &[("if-match", "W/\"1\"")],
        )
        .await;
        assert_eq!(
            stale.status,
            StatusCode::PRECONDITION_FAILED,
            "{}",
            stale.text
        );
        assert_eq!(stale.json()["resourceType"], "OperationOutcome");
        let now = t.get(&format!("/fhir/Patient/{id}"), &doctor).await.json();
        assert_eq!(now["address"][0]["text"], "天津市和平区南京路9号");
        assert_eq!(now["meta"]["versionId"], "2");
        // The version before the update reads back.
        let v1 = t
            .get(&format!("/fhir/Patient/{id}/_history/1"), &doctor)
            .await
            .json();
        assert_eq!(v1["address"][0]["text"], "天津市和平区南京路8号");
        // Without If-Match the update applies to whatever version is there.
        let last = write(
            &t,
            "PUT",
            &format!("/fhir/Patient/{id}"),
            &doctor,
            &changed,
            &[("prefer", "return=minimal")],
        )
        .await;
        assert_eq!(last.status, StatusCode::OK, "{}", last.text);
        assert!(last.text.is_empty());
        assert_eq!(last.headers["etag"], "W/\"3\"");
        // Each write is in the trail.
        let actions: Vec<String> = t
            .audit_tail(40)
            .await
            .into_iter()
            .map(|r| r.entry.action)
            .collect();
        assert!(
            actions.iter().any(|a| a == "resident.create"),
            "{actions:?}"
        );
        assert_eq!(
            actions.iter().filter(|a| *a == "resident.update").count(),
            3,
            "{actions:?}"
        );
        validate(&dir, 2);
    }
}

#[tokio::test]
async fn a_bad_or_refused_write_saves_nothing_and_says_why() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    let before = t.get("/fhir/Patient?_summary=count", &doctor).await.json()["total"].clone();
    // Every problem at once, as an OperationOutcome.
    let mut bad = person("12010119560314999X");
    bad["gender"] = "unknown-ish".into();
    bad["birthDate"] = "14/03/1956".into();
    let r = write(&t, "POST", "/fhir/Patient", &doctor, &bad, &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let paths: Vec<String> = r.json()["issue"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["expression"][0].as_str().map(str::to_owned))
        .collect();
    for path in ["Patient.gender", "Patient.birthDate"] {
        assert!(paths.iter().any(|p| p == path), "{path} in {}", r.text);
    }
    let mut nameless = person(&id_number_born("19700101", 41));
    nameless["identifier"] = json!([]);
    let r = write(&t, "POST", "/fhir/Patient", &doctor, &nameless, &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // Not JSON of FHIR's type, or of another resource type.
    let r = t
        .send(
            Request::post("/fhir/Patient")
                .header("authorization", format!("Bearer {doctor}"))
                .header("content-type", "application/fhir+xml")
                .body(Body::from("<Patient/>"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    let r = write(
        &t,
        "POST",
        "/fhir/Patient",
        &doctor,
        &json!({"resourceType": "Observation"}),
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // Another institution's doctor may not change this resident; the id must match.
    let p = t.home_resident;
    let now = t.get(&format!("/fhir/Patient/{p}"), &doctor).await.json();
    let other = t.token("other_doctor").await;
    let r = write(&t, "PUT", &format!("/fhir/Patient/{p}"), &other, &now, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = write(&t, "PUT", "/fhir/Patient/999999", &doctor, &now, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = write(
        &t,
        "PUT",
        &format!("/fhir/Patient/{p}"),
        &doctor,
        &now,
        &[("if-match", "three")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let after = t.get("/fhir/Patient?_summary=count", &doctor).await.json()["total"].clone();
    assert_eq!(before, after);
    assert_eq!(
        t.get(&format!("/fhir/Patient/{p}"), &doctor).await.json()["meta"]["versionId"],
        "1"
    );
}

#[tokio::test]
async fn the_registry_takes_organizations_and_practitioner_roles_from_its_administrators() {
    for t in TestApp::all().await {
        let admin = t.token("admin").await;
        let dir = gongti_testdb::temp_dir("gongti-fhir-registry");
        let org = json!({
            "resourceType": "Organization",
            "identifier": [{"system": "urn:gongti:institution-code", "value": "FHIR-CHC-9"}],
            "type": [{"coding": [{"system": "urn:gongti:institution-kind", "code": "community_health_centre"}]}],
            "name": "和平区测试社区卫生服务中心",
            "address": [{"district": "120101"}],
        });
        let r = write(&t, "POST", "/fhir/Organization", &admin, &org, &[]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let created = r.json();
        assert_eq!(created["name"], "和平区测试社区卫生服务中心");
        assert_eq!(created["meta"]["versionId"], "1");
        std::fs::write(dir.join("organization.json"), &r.text).unwrap();
        let again = write(
            &t,
            "POST",
            "/fhir/Organization",
            &admin,
            &org,
            &[(
                "if-none-exist",
                "identifier=urn:gongti:institution-code|FHIR-CHC-9",
            )],
        )
        .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.json()["id"], created["id"]);
        let twice = write(&t, "POST", "/fhir/Organization", &admin, &org, &[]).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
        // A family doctor administers nothing.
        let doctor = t.token("doctor").await;
        let mut other = org.clone();
        other["identifier"][0]["value"] = "FHIR-CHC-10".into();
        let r = write(&t, "POST", "/fhir/Organization", &doctor, &other, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let mut bad = other.clone();
        bad["type"] =
            json!([{"coding": [{"system": "urn:gongti:institution-kind", "code": "spaceport"}]}]);
        let r = write(&t, "POST", "/fhir/Organization", &admin, &bad, &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

        // The institution's administrator adds a family doctor there.
        let org_id = created["id"].as_str().unwrap().to_owned();
        let role = |organization: &str| {
            json!({
                "resourceType": "PractitionerRole",
                "contained": [{"resourceType": "Practitioner", "id": "p",
                    "identifier": [{"system": "urn:gongti:practitioner-licence", "value": "L-FHIR-1"}],
                    "name": [{"text": "孙思邈"}], "qualification": [{"code": {"text": "主治医师"}}]}],
                "practitioner": {"reference": "#p"},
                "organization": {"reference": organization},
                "code": [{"coding": [{"system": "urn:gongti:role", "code": "family_doctor"}]}],
            })
        };
        let instadmin = t.token("instadmin").await;
        let r = write(
            &t,
            "POST",
            "/fhir/PractitionerRole",
            &instadmin,
            &role(&format!("Organization/{org_id}")),
            &[],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "another institution's administrator: {}",
            r.text
        );
        let r = write(
            &t,
            "POST",
            "/fhir/PractitionerRole",
            &instadmin,
            &role(&format!("Organization/{}", t.home)),
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let staff = r.json()["id"].as_str().unwrap().to_owned();
        std::fs::write(dir.join("role.json"), &r.text).unwrap();
        let person = t
            .get(&format!("/fhir/Practitioner/{staff}"), &instadmin)
            .await;
        assert_eq!(
            person.json()["name"][0]["text"],
            "孙思邈",
            "{}",
            person.text
        );
        std::fs::write(dir.join("practitioner.json"), &person.text).unwrap();
        let again = write(
            &t,
            "POST",
            "/fhir/PractitionerRole",
            &instadmin,
            &role(&format!("Organization/{}", t.home)),
            &[("if-none-exist", "identifier=L-FHIR-1")],
        )
        .await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.json()["id"], staff.as_str());
        let mut loose = role(&format!("Organization/{}", t.home));
        loose["practitioner"] = json!({"reference": "Practitioner/1"});
        let r = write(
            &t,
            "POST",
            "/fhir/PractitionerRole",
            &instadmin,
            &loose,
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        validate(&dir, 3);
    }
}

/// Registry updates: what may change does, at the version held; what identifies or
/// counts a record does not; every earlier version stays readable.
#[tokio::test]
async fn the_registry_is_updated_at_the_version_held() {
    for t in TestApp::all().await {
        let admin = t.token("admin").await;
        let instadmin = t.token("instadmin").await;
        let dir = gongti_testdb::temp_dir("gongti-fhir-registry-updates");
        let org = t
            .get(&format!("/fhir/Organization/{}", t.home), &admin)
            .await
            .json();
        let old_name = org["name"].as_str().unwrap().to_owned();
        let mut renamed = org.clone();
        renamed["name"] = format!("{old_name}（新址）").into();
        let path = format!("/fhir/Organization/{}", t.home);
        let r = write(&t, "PUT", &path, &instadmin, &renamed, &[]).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "only the city administrator: {}",
            r.text
        );
        let version = org["meta"]["versionId"].as_str().unwrap().to_owned();
        let stale = format!("W/\"{}\"", version.parse::<i64>().unwrap() + 5);
        let r = write(&t, "PUT", &path, &admin, &renamed, &[("if-match", &stale)]).await;
        assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.text);
        let held = format!("W/\"{version}\"");
        let r = write(&t, "PUT", &path, &admin, &renamed, &[("if-match", &held)]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let updated = r.json();
        assert_eq!(updated["name"], renamed["name"]);
        let next = (version.parse::<i64>().unwrap() + 1).to_string();
        assert_eq!(updated["meta"]["versionId"], next.as_str());
        std::fs::write(dir.join("organization.json"), &r.text).unwrap();
        let before = t.get(&format!("{path}/_history/{version}"), &admin).await;
        assert_eq!(before.status, StatusCode::OK, "{}", before.text);
        assert_eq!(before.json()["name"], old_name.as_str());
        // Its code and kind identify and count it: refused, nothing saved.
        let mut recoded = updated.clone();
        recoded["identifier"] =
            json!([{"system": "urn:gongti:institution-code", "value": "ELSEWHERE-1"}]);
        recoded["name"] = "改不了".into();
        let r = write(&t, "PUT", &path, &admin, &recoded, &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("code"), "{}", r.text);
        let now = t.get(&path, &admin).await.json();
        assert_eq!(
            now["name"], renamed["name"],
            "nothing of the refused update is saved"
        );
        let r = write(
            &t,
            "PUT",
            &format!("/fhir/Organization/{}", t.other),
            &admin,
            &renamed,
            &[],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "the id must match: {}",
            r.text
        );

        // A doctor's record: the institution's administrator corrects the title.
        let staff = t
            .get(
                "/fhir/PractitionerRole?role=family_doctor&_count=1",
                &instadmin,
            )
            .await
            .json();
        let doctor_id = staff["entry"][0]["resource"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let person = t
            .get(&format!("/fhir/Practitioner/{doctor_id}"), &instadmin)
            .await
            .json();
        let mut titled = person.clone();
        titled["qualification"] = json!([{"code": {"text": "副主任医师"}}]);
        let r = write(
            &t,
            "PUT",
            &format!("/fhir/Practitioner/{doctor_id}"),
            &instadmin,
            &titled,
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["qualification"][0]["code"]["text"], "副主任医师");
        assert_eq!(r.json()["name"], person["name"]);
        std::fs::write(dir.join("practitioner.json"), &r.text).unwrap();
        let doctor = t.token("doctor").await;
        let r = write(
            &t,
            "PUT",
            &format!("/fhir/Practitioner/{doctor_id}"),
            &doctor,
            &titled,
            &[],
        )
        .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "a doctor administers nothing: {}",
            r.text
        );
        // A role is not changed by an update: a move is a new record.
        let role = t
            .get(&format!("/fhir/PractitionerRole/{doctor_id}"), &instadmin)
            .await
            .json();
        let mut promoted = role.clone();
        promoted["code"] =
            json!([{"coding": [{"system": "urn:gongti:role", "code": "institution_admin"}]}]);
        promoted["contained"] =
            json!([{"resourceType": "Practitioner", "id": "p", "name": [{"text": "改名"}]}]);
        promoted["practitioner"] = json!({"reference": "#p"});
        let r = write(
            &t,
            "PUT",
            &format!("/fhir/PractitionerRole/{doctor_id}"),
            &instadmin,
            &promoted,
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let mut renamed_role = promoted.clone();
        renamed_role["code"] = role["code"].clone();
        let r = write(
            &t,
            "PUT",
            &format!("/fhir/PractitionerRole/{doctor_id}"),
            &instadmin,
            &renamed_role,
            &[],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        std::fs::write(dir.join("role.json"), &r.text).unwrap();
        let person = t
            .get(&format!("/fhir/Practitioner/{doctor_id}"), &instadmin)
            .await
            .json();
        assert_eq!(person["name"][0]["text"], "改名");
        let history = t
            .get(
                &format!("/fhir/Practitioner/{doctor_id}/_history"),
                &instadmin,
            )
            .await
            .json();
        assert_eq!(history["total"], 3, "{history}");
        let metadata = t.get("/fhir/metadata", &admin).await.json();
        let declared = metadata["rest"][0]["resource"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["interaction"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|i| i["code"] == "update")
            })
            .filter_map(|r| r["type"].as_str())
            .collect::<Vec<_>>();
        for ty in [
            "Organization",
            "Practitioner",
            "PractitionerRole",
            "Patient",
        ] {
            assert!(declared.contains(&ty), "{declared:?}");
        }
        validate(&dir, 3);
    }
}

#[tokio::test]
async fn a_home_reading_comes_in_as_an_observation_once() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let p = t.home_resident;
        let taken = (time::OffsetDateTime::now_utc() - time::Duration::hours(2))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let q = |v: i64| json!({"value": v, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
        let bp = json!({
            "resourceType": "Observation", "status": "final",
            "identifier": [{"system": "urn:example:device-readings", "value": "dev-7-000123"}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": format!("Patient/{p}")},
            "effectiveDateTime": taken,
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": q(192)},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": q(116)},
            ],
            "device": {"display": "欧姆龙 HEM-7136"},
        });
        let r = write(&t, "POST", "/fhir/Observation", &doctor, &bp, &[]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let created = r.json();
        assert!(
            created["id"].as_str().unwrap().starts_with('r'),
            "{created}"
        );
        assert_eq!(created["component"][0]["valueQuantity"]["value"], 192.0);
        let dir = gongti_testdb::temp_dir("gongti-fhir-reading");
        std::fs::write(dir.join("reading.json"), &r.text).unwrap();
        // The same reading again changes nothing.
        let again = write(&t, "POST", "/fhir/Observation", &doctor, &bp, &[]).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(again.json()["id"], created["id"]);
        // An urgent reading raises its alert, as an upload over the JSON API does.
        let flags = t
            .get(&format!("/fhir/Flag?patient={p}&status=active"), &doctor)
            .await
            .json();
        assert!(flags["total"].as_u64().unwrap() >= 1, "{flags}");
        // A bad value, a measurement of a follow-up, another institution's patient.
        let mut bad = bp.clone();
        bad["identifier"][0]["value"] = "dev-7-000124".into();
        bad["component"][0]["valueQuantity"]["value"] = 999.into();
        let r = write(&t, "POST", "/fhir/Observation", &doctor, &bad, &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let mut at_visit = bp.clone();
        at_visit["encounter"] = json!({"reference": "Encounter/1"});
        let r = write(&t, "POST", "/fhir/Observation", &doctor, &at_visit, &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let other = t.token("other_doctor").await;
        let mut theirs = bp.clone();
        theirs["identifier"][0]["value"] = "dev-7-000125".into();
        let r = write(&t, "POST", "/fhir/Observation", &other, &theirs, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        validate(&dir, 1);
    }
}
