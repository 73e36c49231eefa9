use axum::http::StatusCode;

use crate::support::{HOME_RESIDENT_ID_NUMBER, TestApp};

/// Writes a FHIR JSON document for the independent validator (scripts/validate_fhir.py).
fn save(dir: &std::path::Path, name: &str, body: &str) {
    std::fs::write(dir.join(format!("{name}.json")), body).unwrap();
}

#[tokio::test]
async fn a_token_reads_the_same_person_over_fhir() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        let search = t.get(&format!("/fhir/Patient?identifier=urn:oid:2.16.156.10011.1.3%7C{HOME_RESIDENT_ID_NUMBER}"), &token).await;
        assert_eq!(search.status, StatusCode::OK);
        assert_eq!(search.headers["content-type"], "application/fhir+json");
        let bundle = search.json();
        assert_eq!(bundle["type"], "searchset");
        assert_eq!(bundle["entry"].as_array().unwrap().len(), 1);
        let patient = &bundle["entry"][0]["resource"];
        assert_eq!(patient["identifier"][0]["value"], HOME_RESIDENT_ID_NUMBER);
        let read = t
            .get(&format!("/fhir/Patient/{}", t.home_resident), &token)
            .await
            .json();
        assert_eq!(&read, patient);
        assert_eq!(read["gender"], "female");
        assert_eq!(read["birthDate"], "1949-12-31");
        assert_eq!(
            read["managingOrganization"]["reference"],
            format!("Organization/{}", t.home)
        );
    }
}

#[tokio::test]
async fn region_wide_searches_take_comma_separated_alternatives() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        let doctor_id = |n: u32| crate::support::id_number_born("19700101", n);
        for (name, n) in [("李建华", 11), ("王芳", 12)] {
            let r = t
                .post(
                    "/api/v1/residents",
                    &token,
                    serde_json::json!({"name": name, "id_number": doctor_id(n)}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        let total = |q: String| {
            let t = &t;
            let token = token.clone();
            async move {
                let r = t.get(&q, &token).await;
                assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text);
                r.json()["total"].as_u64().unwrap()
            }
        };
        let sys = "urn:oid:2.16.156.10011.1.3%7C";
        // Any of the alternatives (R4 search: a comma is OR).
        assert_eq!(
            total(format!(
                "/fhir/Patient?identifier={sys}{},{sys}{}",
                doctor_id(11),
                doctor_id(12)
            ))
            .await,
            2
        );
        assert_eq!(
            total(format!(
                "/fhir/Patient?identifier={sys}{},urn:other%7C1",
                doctor_id(11)
            ))
            .await,
            1
        );
        // 李, 王 and 张 (the home resident).
        assert_eq!(
            total("/fhir/Patient?name=%E6%9D%8E,%E7%8E%8B,%E5%BC%A0".into()).await,
            3
        );
        let male = total("/fhir/Patient?gender=male".into()).await;
        let female = total("/fhir/Patient?gender=female".into()).await;
        assert_eq!(
            total("/fhir/Patient?gender=male,female".into()).await,
            male + female
        );
        assert_eq!(total("/fhir/Patient?gender=male,other".into()).await, male);
        let roles = "urn:gongti:role%7C";
        let doctors = total(format!("/fhir/PractitionerRole?role={roles}family_doctor")).await;
        let nurses = total(format!("/fhir/PractitionerRole?role={roles}nurse")).await;
        assert!(doctors > 0 && nurses > 0);
        assert_eq!(
            total(format!(
                "/fhir/PractitionerRole?role={roles}family_doctor,{roles}nurse"
            ))
            .await,
            doctors + nurses
        );
        assert_eq!(
            total(format!(
                "/fhir/PractitionerRole?organization=Organization/{},Organization/{}",
                t.home, t.hospital
            ))
            .await,
            total(format!(
                "/fhir/PractitionerRole?organization=Organization/{}",
                t.home
            ))
            .await
                + total(format!(
                    "/fhir/PractitionerRole?organization=Organization/{}",
                    t.hospital
                ))
                .await
        );
        assert_eq!(
            total("/fhir/Practitioner?name=doctor,nurse".into()).await,
            total("/fhir/Practitioner?name=doctor".into()).await
                + total("/fhir/Practitioner?name=nurse".into()).await
        );
        let kinds = "urn:gongti:institution-kind%7C";
        let tertiary = total(format!("/fhir/Organization?type={kinds}tertiary_hospital")).await;
        let chc = total(format!(
            "/fhir/Organization?type={kinds}community_health_centre"
        ))
        .await;
        assert!(tertiary > 0 && chc > 0);
        assert_eq!(
            total(format!(
                "/fhir/Organization?type={kinds}tertiary_hospital,{kinds}community_health_centre"
            ))
            .await,
            tertiary + chc
        );
        // The same parameter twice (AND) matches no record of one value: refused.
        let r = t
            .get("/fhir/Patient?gender=male&gender=female", &token)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    }
}

#[tokio::test]
async fn fhir_search_parameters_and_paging() {
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        let by = |q: &str| format!("/fhir/Patient?{q}");
        let count = |body: &serde_json::Value| body["entry"].as_array().map_or(0, Vec::len);
        assert_eq!(count(&t.get(&by("gender=female"), &token).await.json()), 1);
        assert_eq!(count(&t.get(&by("gender=male"), &token).await.json()), 0);
        assert_eq!(
            count(&t.get(&by("birthdate=1949-12-31"), &token).await.json()),
            1
        );
        assert_eq!(count(&t.get(&by("name=%E5%BC%A0"), &token).await.json()), 1);
        assert_eq!(
            count(
                &t.get(
                    &by(&format!("organization=Organization/{}", t.home)),
                    &token
                )
                .await
                .json()
            ),
            1
        );
        assert_eq!(
            count(&t.get(&by("identifier=urn:other%7C1"), &token).await.json()),
            0
        );
        // Lenient by default: an unknown parameter is ignored and left out of the self
        // link; Prefer: handling=strict refuses it.
        let r = t.get(&by("family=x&gender=female"), &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let own = r.json()["link"][0]["url"].as_str().unwrap().to_owned();
        assert!(own.ends_with("/fhir/Patient?gender=female"), "{own}");
        let strict = |path: String| {
            axum::http::Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .header("prefer", "handling=strict")
                .body(axum::body::Body::empty())
                .unwrap()
        };
        let r = t.send(strict(by("family=x"))).await;
        assert_eq!(
            (r.status, r.json()["resourceType"].as_str()),
            (StatusCode::BAD_REQUEST, Some("OperationOutcome"))
        );
        // A modifier we do not support is refused either way, as is what the store
        // cannot answer as one range (so the total always matches the entries).
        for refused in [
            "gender:not=male",
            "name:exact=%E5%BC%A0",
            "birthdate=ne1949",
            "birthdate=1949,1950",
        ] {
            assert_eq!(
                t.get(&by(refused), &token).await.status,
                StatusCode::BAD_REQUEST,
                "{refused}"
            );
        }
        // Dates: prefixes and partial values; totals.
        for (q, n) in [
            ("birthdate=1949", 1),
            ("birthdate=1949-12", 1),
            ("birthdate=ge1949-12-31", 1),
            ("birthdate=gt1949-12-31&birthdate=le1960", 0),
            ("birthdate=lt1949-12-31", 0),
            ("birthdate=sa1948", 1),
            ("_lastUpdated=ge2000", 1),
            ("_lastUpdated=lt2000-01-01T00:00:00Z", 0),
            ("_lastUpdated=gt2999", 0),
            ("birthdate=lt1949-12-31T10:00%2B08:00", 1),
            ("birthdate=ap1950-01-20", 1),
        ] {
            let body = t.get(&by(q), &token).await.json();
            assert_eq!(
                (count(&body), body["total"].as_u64()),
                (n, Some(n as u64)),
                "{q}"
            );
        }
        // Incremental sync: changed at or after the patient's own lastUpdated, not after.
        let stamp = t
            .get(&format!("/fhir/Patient/{}", t.home_resident), &token)
            .await
            .json()["meta"]["lastUpdated"]
            .as_str()
            .unwrap()
            .replace('+', "%2B");
        for (q, n) in [
            (format!("_lastUpdated=ge{stamp}"), 1),
            (format!("_lastUpdated=gt{stamp}"), 0),
            (format!("_lastUpdated={stamp}"), 1),
        ] {
            assert_eq!(count(&t.get(&by(&q), &token).await.json()), n, "{q}");
        }
        let summary = t.get(&by("_summary=count"), &token).await.json();
        assert_eq!(
            (summary["total"].as_u64(), summary.get("entry")),
            (Some(1), None)
        );
        let none = t.get(&by("_total=none"), &token).await.json();
        assert!(none.get("total").is_none());
        let absolute = format!("organization=http://localhost/fhir/Organization/{}", t.home);
        let body = t.get(&by(&absolute), &token).await.json();
        assert_eq!(count(&body), 1, "an absolute reference on our base");
        let elements = t.get(&by("_elements=gender"), &token).await.json();
        let one = &elements["entry"][0]["resource"];
        assert_eq!(one["gender"], "female");
        assert!(one.get("name").is_none());
        assert_eq!(one["meta"]["tag"][0]["code"], "SUBSETTED");

        let orgs = t.get("/fhir/Organization?_count=2", &token).await.json();
        assert_eq!((count(&orgs), orgs["total"].as_u64()), (2, Some(3)));
        let next = orgs["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .unwrap()["url"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = &next[next.find("/fhir").unwrap()..];
        assert_eq!(count(&t.get(path, &token).await.json()), 1);
        let typed = t
            .get("/fhir/Organization?type=tertiary_hospital", &token)
            .await
            .json();
        assert_eq!(typed["entry"][0]["resource"]["id"], t.hospital.to_string());
        let part = t
            .get(
                &format!("/fhir/Organization?partof=Organization/{}", t.hospital),
                &token,
            )
            .await
            .json();
        assert_eq!(count(&part), 2);
        let roles = t
            .get(
                &format!(
                    "/fhir/PractitionerRole?organization={}&role=family_doctor",
                    t.home
                ),
                &token,
            )
            .await
            .json();
        assert_eq!(count(&roles), 1);
        let prac = t
            .get("/fhir/Practitioner?identifier=L-doctor", &token)
            .await
            .json();
        assert_eq!(
            prac["entry"][0]["resource"]["name"][0]["text"],
            "doctor姓名"
        );
    }
}

#[tokio::test]
async fn fhir_errors_are_operation_outcomes() {
    for t in TestApp::all().await {
        let r = t.get("/fhir/Patient/1", "bad").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.json()["resourceType"], "OperationOutcome");
        let token = t.token("doctor").await;
        let r = t
            .get(&format!("/fhir/Patient/{}", t.other_resident), &token)
            .await;
        assert_eq!(
            (r.status, r.json()["issue"][0]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("forbidden"))
        );
        let r = t.get("/fhir/Patient/999999", &token).await;
        assert_eq!(
            (r.status, r.json()["issue"][0]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not-found"))
        );
        let r = t.get("/fhir/Observation", &token).await;
        assert_eq!(r.json()["resourceType"], "OperationOutcome", "{}", r.text);

        // 401 names its scheme; JSON only (406 for XML); a method a route lacks is an
        // OperationOutcome too.
        let r = t.get("/fhir/Patient", "bad").await;
        assert_eq!(r.headers["www-authenticate"], "Bearer realm=\"gongti\"");
        let with = |method: &str, path: &str, accept: Option<&str>| {
            let mut b = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .header("authorization", format!("Bearer {token}"));
            if let Some(a) = accept {
                b = b.header("accept", a);
            }
            b.body(axum::body::Body::empty()).unwrap()
        };
        for (path, accept, status) in [
            (
                "/fhir/Patient",
                Some("application/fhir+xml"),
                StatusCode::NOT_ACCEPTABLE,
            ),
            (
                "/fhir/Patient?_format=xml",
                None,
                StatusCode::NOT_ACCEPTABLE,
            ),
            (
                "/fhir/metadata",
                Some("application/xml"),
                StatusCode::NOT_ACCEPTABLE,
            ),
            ("/fhir/Patient?_format=json", None, StatusCode::OK),
            (
                "/fhir/Patient?_format=application/fhir%2Bjson",
                Some("application/fhir+xml"),
                StatusCode::OK,
            ),
            (
                "/fhir/Patient",
                Some("text/html,application/xhtml+xml,*/*;q=0.8"),
                StatusCode::OK,
            ),
            (
                "/fhir/Patient",
                Some("application/fhir+json;fhirVersion=4.0"),
                StatusCode::OK,
            ),
        ] {
            let r = t.send(with("GET", path, accept)).await;
            assert_eq!(r.status, status, "{path} {accept:?}: {}", r.text);
            assert_eq!(r.headers["content-type"], "application/fhir+json", "{path}");
            if status != StatusCode::OK {
                assert_eq!(r.json()["issue"][0]["code"], "not-supported");
            }
        }
        let r = t.send(with("DELETE", "/fhir/Patient/1", None)).await;
        assert_eq!(
            (r.status, r.json()["resourceType"].as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, Some("OperationOutcome"))
        );
    }
}

/// Checks our resources with an independent R4 implementation (PyPI `fhir.resources`
/// 6.5, the last R4 line), installed by scripts/test.sh in a venv of its own.
#[tokio::test]
async fn an_independent_validator_accepts_our_resources() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let token = t.token("doctor").await;
    let dir = gongti_testdb::temp_dir("gongti-fhir");
    for (name, path) in [
        ("metadata", "/fhir/metadata".to_owned()),
        ("patient", format!("/fhir/Patient/{}", t.home_resident)),
        ("patients", "/fhir/Patient?_count=5".to_owned()),
        ("organization", format!("/fhir/Organization/{}", t.home)),
        ("organizations", "/fhir/Organization".to_owned()),
        ("practitioners", "/fhir/Practitioner".to_owned()),
        ("roles", "/fhir/PractitionerRole".to_owned()),
        ("outcome", "/fhir/Patient/999999".to_owned()),
        ("count", "/fhir/Patient?_summary=count".to_owned()),
        (
            "elements",
            "/fhir/Patient?_elements=gender,birthDate".to_owned(),
        ),
    ] {
        save(&dir, name, &t.get(&path, &token).await.text);
    }
    validate(&dir, 10);
}

/// Every `fullUrl` and every relative reference in `bodies` answers a read with the
/// resource it names (no search-only types: a reference always resolves).
pub(crate) async fn assert_resolvable(t: &TestApp, token: &str, bodies: &[&serde_json::Value]) {
    fn walk(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, x) in map {
                    match (k.as_str(), x.as_str()) {
                        ("fullUrl", Some(url)) => {
                            out.insert(url[url.find("/fhir/").unwrap() + 6..].to_owned());
                        }
                        ("reference", Some(r))
                            if !r.starts_with('#') && r.matches('/').count() == 1 =>
                        {
                            out.insert(r.to_owned());
                        }
                        _ => walk(x, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut refs = std::collections::BTreeSet::new();
    for b in bodies {
        walk(b, &mut refs);
    }
    assert!(!refs.is_empty());
    for r in &refs {
        let reply = t.get(&format!("/fhir/{r}"), token).await;
        assert_eq!(reply.status, StatusCode::OK, "{r}: {}", reply.text);
        let read = reply.json();
        let (ty, id) = r.split_once('/').unwrap();
        assert_eq!(
            (read["resourceType"].as_str(), read["id"].as_str()),
            (Some(ty), Some(id)),
            "{r}"
        );
    }
}

/// Runs the independent validator over a directory; a loud skip outside CI when the
/// validator is not installed.
/// Validates every FHIR file in `dir` with both validators: PyPI `fhir.resources` (R4
/// models, `GONGTI_FHIR_PYTHON`) and npm `@medplum/core`'s `validateResource` against
/// the R4 StructureDefinitions (`GONGTI_FHIR_NODE`); scripts/test.sh sets both, CI
/// requires both.
pub(crate) fn validate(dir: &std::path::Path, files: usize) {
    let scripts = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts");
    let validators = [
        (
            "GONGTI_FHIR_PYTHON",
            None,
            format!("{scripts}/validate_fhir.py"),
        ),
        (
            "GONGTI_FHIR_NODE",
            Some("node"),
            format!("{scripts}/fhir-node/validate.mjs"),
        ),
    ];
    for (var, program, script) in validators {
        let Some(setting) = std::env::var(var).ok().filter(|p| !p.is_empty()) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI requires {var}"
            );
            eprintln!("SKIPPED a FHIR validator: {var} is not set (scripts/test.sh sets it)");
            continue;
        };
        let mut command = std::process::Command::new(program.unwrap_or(&setting));
        if program.is_some() {
            // @medplum/core 5 wants Node 22's WebSocket global; Node 20 has it behind a flag.
            command
                .arg("--experimental-websocket")
                .env("GONGTI_FHIR_NODE", &setting);
        }
        command.arg(&script).arg(dir);
        let out = command.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{var}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("{files} valid")),
            "{var}: {stdout}"
        );
    }
}

#[tokio::test]
async fn chronic_care_over_fhir_validates_and_searches_by_patient_code_and_date() {
    use serde_json::json;
    for t in TestApp::all().await {
        let token = t.token("doctor").await;
        let base = format!("/api/v1/residents/{}", t.home_resident);
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        for icd in ["I10", "E11.9"] {
            let r = t
                .post(
                    &format!("{base}/enrolments"),
                    &token,
                    json!({"icd10": icd, "diagnosed_on": day(800)}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        for (ago, sbp) in [(60, 132), (5, 184)] {
            let r = t
                .post(
                    &format!("{base}/followups"),
                    &token,
                    json!({"disease": "hypertension", "method": "clinic", "visit_on": day(ago), "sbp_mmhg": sbp, "dbp_mmhg": 84,
                           "heart_rate_bpm": 72, "weight_kg": 60.0, "height_cm": 160}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        let r = t
            .post(
                &format!("{base}/followups"),
                &token,
                json!({"disease": "diabetes", "method": "home", "visit_on": day(30), "sbp_mmhg": 128, "dbp_mmhg": 80, "fpg_mmol": 6.4, "hba1c_percent": 6.8}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let taken = t
            .app
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let r = t
            .post(
                &format!("{base}/readings"),
                &token,
                json!({"client_reading_id": "g1", "kind": "glucose", "taken_at": taken, "glucose_mmol": 17.2}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = t
            .post(
                &format!("{base}/contracts"),
                &token,
                json!({"team_id": t.team, "resident_consent": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        let p = t.home_resident;
        let get = |q: String| {
            let token = token.clone();
            let t = &t;
            async move {
                let r = t.get(&format!("/fhir/{q}"), &token).await;
                assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text);
                assert_eq!(r.headers["content-type"], "application/fhir+json");
                r
            }
        };
        let entries = |v: &serde_json::Value| v["entry"].as_array().cloned().unwrap_or_default();
        let conditions = get(format!(
            "Condition?patient=Patient/{p}&code=http://hl7.org/fhir/sid/icd-10%7CI10"
        ))
        .await;
        let c = entries(&conditions.json());
        assert_eq!(c.len(), 1);
        assert_eq!(c[0]["resource"]["code"]["coding"][0]["code"], "I10");
        let bp = get(format!(
            "Observation?patient={p}&code=http://loinc.org%7C85354-9"
        ))
        .await;
        let b = entries(&bp.json());
        assert_eq!(b.len(), 3, "BP panels of three follow-ups");
        assert_eq!(
            b[0]["resource"]["component"][0]["code"]["coding"][0]["code"],
            "8480-6"
        );
        assert_eq!(
            b[0]["resource"]["component"][0]["valueQuantity"]["code"],
            "mm[Hg]"
        );
        let recent = get(format!(
            "Observation?patient={p}&code=85354-9&date=ge{}",
            day(10)
        ))
        .await;
        assert_eq!(
            entries(&recent.json()).len(),
            1,
            "only the visit 5 days ago"
        );
        // mmol/L is 14771-0 (DOMAIN.md §7): 1558-6 is the mg/dL code.
        let fpg = get(format!("Observation?patient={p}&code=14771-0")).await;
        assert_eq!(
            entries(&fpg.json())[0]["resource"]["valueQuantity"]["value"],
            6.4
        );
        let mass = get(format!("Observation?patient={p}&code=1558-6")).await;
        assert!(entries(&mass.json()).is_empty());
        let home = get(format!("Observation?patient={p}&category=home-reading")).await;
        assert_eq!(entries(&home.json()).len(), 1);
        let encounters = get(format!("Encounter?patient={p}&date=le{}", day(20))).await;
        assert_eq!(entries(&encounters.json()).len(), 2);
        let tasks = get(format!("Task?patient={p}&status=requested")).await;
        assert_eq!(
            entries(&tasks.json()).len(),
            1,
            "the urgent referral's task"
        );
        let flags = get(format!("Flag?patient={p}")).await;
        assert_eq!(
            entries(&flags.json())[0]["resource"]["code"]["coding"][0]["code"],
            "urgent_glucose_high"
        );
        let teams = get(format!("CareTeam?patient={p}")).await;
        assert_eq!(
            entries(&teams.json())[0]["resource"]["participant"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        let episodes = get(format!("EpisodeOfCare?patient={p}")).await;
        assert_eq!(entries(&episodes.json()).len(), 2);
        let from = day(89);
        let to = day(0);
        let summary = get(format!(
            "Measure/hypertension-bp_control/$evaluate-measure?subject=Organization/{}&periodStart={from}&periodEnd={to}",
            t.home
        ))
        .await;
        let s = summary.json();
        assert_eq!(s["resourceType"], "MeasureReport");
        assert_eq!(s["group"][0]["population"][1]["count"], 1);
        assert_eq!(
            s["group"][0]["population"][0]["count"], 0,
            "the latest BP, 184/84, is not controlled"
        );
        let list = get(format!(
            "Measure/diabetes-glucose_control/$evaluate-measure?subject=Organization/{}&periodStart={from}&periodEnd={to}&reportType=subject-list",
            t.home
        ))
        .await;
        let l = list.json();
        assert_eq!(
            l["contained"][0]["entry"][0]["item"]["reference"],
            format!("Patient/{p}")
        );
        let note = l["contained"][0]["note"][0]["text"].as_str().unwrap();
        assert!(note.starts_with("分子共 1 人，本页 1 人"), "{note}");
        let missing = t
            .get("/fhir/Measure/flu-bp_control/$evaluate-measure", &token)
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        if t.engine() == gongti_store::EngineKind::Sqlite {
            let dir = gongti_testdb::temp_dir("gongti-fhir-chronic");
            for (name, reply) in [
                ("conditions", &conditions),
                ("observations", &bp),
                ("fpg", &fpg),
                ("home", &home),
                ("encounters", &encounters),
                ("tasks", &tasks),
                ("flags", &flags),
                ("careteams", &teams),
                ("episodes", &episodes),
                ("summary", &summary),
                ("subjectlist", &list),
            ] {
                save(&dir, name, &reply.text);
            }
            validate(&dir, 11);
        }
        // The shared record: everything of the patient, paged, each kind as its
        // search lists it.
        let parts = [
            &conditions,
            &bp,
            &fpg,
            &encounters,
            &tasks,
            &flags,
            &teams,
            &episodes,
        ];
        let all = get(format!("Patient/{p}/$everything?_count=7"))
            .await
            .json();
        let total = all["total"].as_u64().unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let mut page = all.clone();
        loop {
            for e in page["entry"].as_array().unwrap() {
                let r = &e["resource"];
                assert!(seen.insert(format!(
                    "{}/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                )));
            }
            let Some(next) = page["link"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["relation"] == "next")
            else {
                break;
            };
            let url = next["url"].as_str().unwrap();
            page = get(url[url.find("/fhir/").unwrap() + 6..].to_owned())
                .await
                .json();
        }
        assert_eq!(seen.len() as u64, total);
        assert!(seen.contains(&format!("Patient/{p}")));
        for part in parts {
            for e in part.json()["entry"].as_array().into_iter().flatten() {
                let r = &e["resource"];
                let key = format!(
                    "{}/{}",
                    r["resourceType"].as_str().unwrap(),
                    r["id"].as_str().unwrap()
                );
                assert!(seen.contains(&key), "{key} missing from $everything");
            }
        }
        let typed = get(format!("Patient/{p}/$everything?_type=Condition,Flag"))
            .await
            .json();
        let types: std::collections::BTreeSet<&str> = typed["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["resource"]["resourceType"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["Condition", "Flag"].into_iter().collect());
        let other = t
            .get(
                &format!("/fhir/Patient/{}/$everything", t.other_resident),
                &token,
            )
            .await;
        assert_eq!(other.status, StatusCode::FORBIDDEN, "{}", other.text);
        if t.engine() == gongti_store::EngineKind::Sqlite {
            let dir = gongti_testdb::temp_dir("gongti-fhir-everything");
            save(&dir, "everything", &all.to_string());
            validate(&dir, 1);
        }
        let read: Vec<serde_json::Value> = [
            &conditions,
            &bp,
            &fpg,
            &home,
            &encounters,
            &tasks,
            &flags,
            &teams,
            &episodes,
        ]
        .iter()
        .map(|r| r.json())
        .collect();
        assert_resolvable(&t, &token, &read.iter().collect::<Vec<_>>()).await;
    }
}

#[tokio::test]
async fn scheduling_and_referral_over_fhir_validate() {
    use serde_json::json;
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let admin = t.token("hospadmin").await;
        let specialist = t.token("specialist").await;
        let p = t.home_resident;
        let r = t
            .post(
                &format!("/api/v1/residents/{p}/contracts"),
                &doctor,
                json!({"team_id": t.team, "resident_consent": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        // The hospital finds the patient by ID number only once they are in its care.
        let by_id = format!(
            "/fhir/Patient?identifier=urn:oid:2.16.156.10011.1.3%7C{HOME_RESIDENT_ID_NUMBER}"
        );
        let before = t.get(&by_id, &specialist).await.json();
        assert_eq!(before["total"], 0, "{before}");
        let day = (t.app.today() + time::Duration::days(3)).to_string();
        let r = t
            .post(
                "/api/v1/schedules",
                &admin,
                json!({"department_id": t.cardio, "clinic_name": "高血压门诊", "day": day, "session": "am", "slot_count": 10}),
            )
            .await;
        let schedule = r.json()["id"].as_i64().unwrap();
        let r = t
            .post(
                &format!("/api/v1/residents/{p}/referrals"),
                &doctor,
                json!({"source": "manual", "disease": "hypertension", "reason": "联合用药血压仍不达标"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let referral = r.json()["id"].as_i64().unwrap();
        let r = t
            .post(
                &format!("/api/v1/referrals/{referral}/accept"),
                &specialist,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let found = t.get(&by_id, &specialist).await.json();
        assert_eq!(
            found["entry"][0]["resource"]["id"],
            p.to_string(),
            "{found}"
        );
        let incoming = t
            .get(
                &format!("/fhir/ServiceRequest?performer=Organization/{}", t.hospital),
                &specialist,
            )
            .await
            .json();
        assert!(
            incoming["entry"]
                .as_array()
                .unwrap()
                .iter()
                .any(
                    |e| e["resource"]["id"].as_str().and_then(|i| i.parse().ok()) == Some(referral)
                ),
            "{incoming}"
        );

        let dir = gongti_testdb::temp_dir("gongti-fhir-referral");
        let reads = [
            (
                "schedules",
                format!("/fhir/Schedule?actor=Organization/{}", t.hospital),
            ),
            ("schedule", format!("/fhir/Schedule/{schedule}")),
            ("slots", format!("/fhir/Slot?schedule=Schedule/{schedule}")),
            (
                "appointments",
                format!("/fhir/Appointment?patient=Patient/{p}"),
            ),
            ("requests", format!("/fhir/ServiceRequest?patient={p}")),
            ("request", format!("/fhir/ServiceRequest/{referral}")),
            ("tasks", format!("/fhir/Task?patient={p}")),
        ];
        let mut bodies = std::collections::HashMap::new();
        for (name, path) in reads {
            let r = t.get(&path, &doctor).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
            save(&dir, name, &r.text);
            bodies.insert(name, r.json());
        }
        validate(&dir, 7);
        let slots = bodies["slots"]["entry"].as_array().unwrap();
        assert_eq!(slots.len(), 10);
        let busy: Vec<_> = slots
            .iter()
            .filter(|e| e["resource"]["status"] == "busy")
            .collect();
        assert_eq!(busy.len(), 1);
        assert_eq!(
            busy[0]["resource"]["serviceCategory"][0]["coding"][0]["code"],
            "reserved"
        );
        assert_eq!(
            bodies["appointments"]["entry"][0]["resource"]["status"],
            "booked"
        );
        let request = &bodies["request"];
        assert_eq!(request["status"], "active");
        assert_eq!(
            request["performer"][0]["reference"],
            format!("Organization/{}", t.hospital)
        );
        let task = bodies["tasks"]["entry"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["resource"]["id"] == format!("referral-{referral}"))
            .unwrap_or_else(|| panic!("{}", bodies["tasks"]));
        assert_eq!(task["resource"]["status"], "accepted");
        assert_eq!(
            task["resource"]["focus"]["reference"],
            format!("ServiceRequest/{referral}")
        );
        assert_eq!(request["priority"], "routine", "a routine referral");
        // The schedule's actor is its department (R4 allows no Organization there),
        // which reads back and is provided by the hospital.
        let actor = bodies["schedule"]["actor"][0]["reference"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(actor.starts_with("HealthcareService/"), "{actor}");
        let service = t.get(&format!("/fhir/{actor}"), &doctor).await;
        assert_eq!(service.status, StatusCode::OK, "{}", service.text);
        assert_eq!(
            service.json()["providedBy"]["reference"],
            format!("Organization/{}", t.hospital)
        );
        let services = t
            .get(
                &format!("/fhir/HealthcareService?organization={}", t.hospital),
                &doctor,
            )
            .await;
        assert!(
            services
                .text
                .contains(&format!("\"id\":\"{}\"", &actor[18..]))
        );
        let inactive = t
            .get(
                &format!("/fhir/Schedule?actor={actor}&active=false"),
                &doctor,
            )
            .await
            .json();
        assert_eq!(
            (inactive["total"].as_u64(), inactive.get("entry")),
            (Some(0), None)
        );
        let by_service = t
            .get(&format!("/fhir/Schedule?actor={actor}"), &doctor)
            .await;
        assert_eq!(
            by_service.json()["entry"][0]["resource"]["id"],
            bodies["schedule"]["id"]
        );
        let dir = gongti_testdb::temp_dir("gongti-fhir-service");
        save(&dir, "service", &service.text);
        save(&dir, "services", &services.text);
        validate(&dir, 2);
        let all: Vec<&serde_json::Value> = bodies.values().collect();
        assert_resolvable(&t, &doctor, &all).await;
    }
}

/// DOMAIN.md §7 meaning: a compound surname stays whole (欧阳娜娜 → 欧阳 + 娜娜), a
/// recorded death reaches `Patient.deceasedDateTime`, and an ended enrolment finishes
/// the EpisodeOfCare while the disease stays an active Condition.
#[tokio::test]
async fn names_deaths_and_diseases_mean_what_they_say() {
    use serde_json::json;
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let r = t
            .post(
                "/api/v1/residents",
                &doctor,
                json!({"name": "欧阳娜娜", "id_number": crate::support::id_number_born("19500214", 271)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let p = r.json()["id"].as_i64().unwrap();
        let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
        let r = t
            .post(
                &format!("/api/v1/residents/{p}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": day(900)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let alive = t.get(&format!("/fhir/Patient/{p}"), &doctor).await.json();
        assert_eq!(alive["name"][0]["family"], "欧阳");
        assert_eq!(alive["name"][0]["given"], json!(["娜娜"]));
        assert_eq!(alive["name"][0]["text"], "欧阳娜娜");
        assert!(alive.get("deceasedDateTime").is_none());

        let r = t
            .post(
                &format!("/api/v1/residents/{p}/enrolments/hypertension/end"),
                &doctor,
                json!({"ended_on": day(0), "reason": "died"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let dir = gongti_testdb::temp_dir("gongti-fhir-meaning");
        let patient = t.get(&format!("/fhir/Patient/{p}"), &doctor).await;
        save(&dir, "patient", &patient.text);
        assert_eq!(patient.json()["deceasedDateTime"], day(0));
        let conditions = t
            .get(&format!("/fhir/Condition?patient=Patient/{p}"), &doctor)
            .await;
        save(&dir, "conditions", &conditions.text);
        let c = &conditions.json()["entry"][0]["resource"];
        assert_eq!(c["clinicalStatus"]["coding"][0]["code"], "active");
        assert_eq!(c["verificationStatus"]["coding"][0]["code"], "confirmed");
        let episodes = t
            .get(&format!("/fhir/EpisodeOfCare?patient={p}"), &doctor)
            .await;
        save(&dir, "episodes", &episodes.text);
        let e = &episodes.json()["entry"][0]["resource"];
        assert_eq!(e["status"], "finished");
        assert_eq!(e["period"]["end"], day(0));
        validate(&dir, 3);
    }
}

/// Every search parameter the CapabilityStatement declares answers, in strict handling,
/// with a Bundle whose `total` equals what paging through it with `_count=1` finds
/// (filters applied before paging: no short or empty pages with a `next`).
#[tokio::test]
async fn every_declared_search_parameter_answers_and_pages_completely() {
    use serde_json::Value;
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let token = t.token("doctor").await;
    let base = format!("/api/v1/residents/{}", t.home_resident);
    let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
    let r = t
        .post(
            &format!("{base}/enrolments"),
            &token,
            serde_json::json!({"icd10": "I10", "diagnosed_on": day(800)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for ago in [90, 60, 30] {
        let r = t
            .post(
                &format!("{base}/followups"),
                &token,
                serde_json::json!({"disease": "hypertension", "method": "clinic", "visit_on": day(ago), "sbp_mmhg": 132, "dbp_mmhg": 84, "heart_rate_bpm": 70}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let get = |path: String| {
        let request = axum::http::Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .header("prefer", "handling=strict")
            .body(axum::body::Body::empty())
            .unwrap();
        t.send(request)
    };
    let metadata = t.get("/fhir/metadata", &token).await.json();
    let p = t.home_resident;
    let sample = |name: &str, kind: &str| -> String {
        match (name, kind) {
            ("patient" | "subject", _) => format!("Patient/{p}"),
            ("organization" | "partof" | "performer" | "actor", _) => {
                format!("Organization/{}", t.home)
            }
            ("gender", _) => "female".into(),
            ("status", _) | ("clinical-status", _) | ("active", _) => "active".into(),
            (_, "date") => "ge2000-01".into(),
            (_, "reference") => "Practitioner/1".into(),
            (_, "string") => "张".into(),
            _ => "x".into(),
        }
    };
    let mut cases = 0;
    for resource in metadata["rest"][0]["resource"].as_array().unwrap() {
        let ty = resource["type"].as_str().unwrap();
        let Some(params) = resource["searchParam"].as_array() else {
            continue;
        };
        let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        // What the type requires to be searched at all.
        let scope = if names.contains(&"patient") {
            format!("patient=Patient/{p}&")
        } else if ty == "Slot" || ty == "HealthcareService" {
            continue;
        } else {
            String::new()
        };
        for param in params {
            let (name, kind) = (
                param["name"].as_str().unwrap(),
                param["type"].as_str().unwrap(),
            );
            let value = sample(name, kind);
            let path = format!(
                "/fhir/{ty}?{scope}{name}={}&_count=1",
                value.replace('|', "%7C")
            );
            let r = get(path.clone()).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
            let bundle = r.json();
            assert_eq!(bundle["resourceType"], "Bundle", "{path}");
            let total = bundle["total"]
                .as_u64()
                .unwrap_or_else(|| panic!("{path}: no total"));
            // Follow `next` to the end: every page holds one entry, and they add up.
            let mut seen = 0;
            let mut page: Value = bundle;
            loop {
                let n = page["entry"].as_array().map_or(0, Vec::len);
                let next = page["link"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|l| l["relation"] == "next")
                    .cloned();
                assert!(
                    n == 1 || (n == 0 && next.is_none()),
                    "{path}: a page of {n} with next {next:?}"
                );
                seen += n as u64;
                let Some(next) = next else { break };
                let url = next["url"].as_str().unwrap();
                page = get(url[url.find("/fhir").unwrap()..].to_owned())
                    .await
                    .json();
            }
            assert_eq!(seen, total, "{path}");
            cases += 1;
        }
    }
    assert!(cases > 40, "{cases} cases");
    // The follow-ups' BP panels page one by one, newest first when sorted.
    let sorted = t
        .get(
            &format!("/fhir/Observation?patient={p}&code=85354-9&_sort=-date&_count=2"),
            &token,
        )
        .await
        .json();
    assert_eq!(sorted["total"], 3);
    assert_eq!(sorted["entry"][0]["resource"]["effectiveDateTime"], day(30));
    // `_revinclude`: an encounter page brings its observations along.
    let with = t
        .get(
            &format!(
                "/fhir/Encounter?patient={p}&_count=1&_sort=date&_revinclude=Observation:encounter"
            ),
            &token,
        )
        .await;
    let entries = with.json()["entry"].as_array().unwrap().clone();
    let modes: Vec<&str> = entries
        .iter()
        .map(|e| e["search"]["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["match", "include", "include"], "{}", with.text);
    let encounter = entries[0]["resource"]["id"].as_str().unwrap();
    assert_eq!(
        entries[1]["resource"]["encounter"]["reference"],
        format!("Encounter/{encounter}")
    );
    let dir = gongti_testdb::temp_dir("gongti-fhir-include");
    save(&dir, "encounters", &with.text);
    save(&dir, "observations", &sorted.to_string());
    validate(&dir, 2);
}
