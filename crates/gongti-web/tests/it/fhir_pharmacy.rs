//! The cloud pharmacy over FHIR R4 (issue 15 item 8), on both engines: a prescription
//! returned for an allergy, revised, passed, settled and filled reads as
//! MedicationRequests whose versions are its steps, DetectedIssues naming the lines
//! they were found on, the review Task, MedicationDispenses, Coverage, Claim and
//! ClaimResponse (a reversed one in two versions), and the formulary as Medication and
//! MedicationKnowledge — each validated by both validators.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::fhir::validate;
use crate::prescriptions::{draft, issue_body, line, pharmacist, step};
use crate::support::{PASSWORD, TestApp};

fn entries(bundle: &Value) -> Vec<Value> {
    bundle["entry"]
        .as_array()
        .map(|e| e.iter().map(|x| x["resource"].clone()).collect())
        .unwrap_or_default()
}

/// Amlodipine 5 mg and valsartan 80 mg for 28 days: the revision of a refused draft.
fn revision(t: &TestApp) -> Value {
    let mut d = draft(
        t,
        vec![
            line("苯磺酸氨氯地平片", 5.0, "mg", 1, 28),
            line("缬沙坦", 80.0, "mg", 1, 28),
        ],
        &["青霉素类"],
    );
    d["supply_reason"] = json!("高血压慢病长期用药");
    d
}

/// Issued with a penicillin allergy (grade 1), returned, revised, passed: four steps.
async fn returned_revised_passed(t: &TestApp, doctor: &str, reviewer: &str) -> i64 {
    let d = draft(t, vec![line("阿莫西林", 500.0, "mg", 3, 5)], &["青霉素类"]);
    let r = t
        .post("/api/v1/prescriptions", doctor, issue_body(&d, PASSWORD))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();
    let r = step(
        t,
        reviewer,
        id,
        json!({"step": "return", "reason": "青霉素过敏，请换药"}),
    )
    .await;
    assert_eq!(r.json()["status"], "returned", "{}", r.text);
    let r = step(
        t,
        doctor,
        id,
        json!({"step": "revise", "password": PASSWORD, "revision": revision(t)}),
    )
    .await;
    assert_eq!(r.json()["status"], "pending_review", "{}", r.text);
    let r = step(
        t,
        reviewer,
        id,
        json!({"step": "pass", "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.json()["status"], "passed", "{}", r.text);
    id
}

#[tokio::test]
async fn a_prescriptions_whole_chain_reads_and_validates_over_fhir() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let reviewer = pharmacist(&t, "yaoshi", t.home, "主管药师", 5).await;
        let resident = t.home_resident;
        crate::settlement::insure(&t).await;
        crate::settlement::certify_hypertension(&t).await;
        let id = returned_revised_passed(&t, &doctor, &reviewer).await;
        let r = t
            .post(
                &format!("/api/v1/prescriptions/{id}/settlement"),
                &doctor,
                json!({"expected_cash_fen": 2_066}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        for product in ["amlodipine-tablet-5mg-28", "valsartan-capsule-80mg-7"] {
            let r = t
                .send_json(
                    "PUT",
                    &format!("/api/v1/pharmacy/stock/{product}"),
                    &reviewer,
                    json!({"on_hand_packs": 10}).to_string(),
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        }
        let r = t
            .post(&format!("/api/v1/prescriptions/{id}/dispense"), &reviewer, json!({"fulfilment": "pickup", "collector_name": "本人", "collector_id_number": "11010519491231002X"}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // A second one settled, then cancelled: its settlement reversed.
        let second = returned_revised_passed(&t, &doctor, &reviewer).await;
        let r = t
            .post(
                &format!("/api/v1/prescriptions/{second}/settlement"),
                &doctor,
                json!({"expected_cash_fen": 2_066}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = step(
            &t,
            &doctor,
            second,
            json!({"step": "cancel", "reason": "患者改用其他方案"}),
        )
        .await;
        assert_eq!(r.json()["status"], "cancelled", "{}", r.text);

        let dir = gongti_testdb::temp_dir("gongti-fhir-pharmacy");
        let mut files = 0;
        let mut save = |name: &str, body: &str| {
            std::fs::write(dir.join(format!("{name}.json")), body).unwrap();
            files += 1;
        };
        let get = |path: String| {
            let t = &t;
            let doctor = doctor.clone();
            async move {
                let r = t.get(&path, &doctor).await;
                assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
                assert_eq!(r.headers["content-type"], "application/fhir+json");
                r
            }
        };

        // The prescription: one MedicationRequest a line, its versions its steps.
        let r = get(format!(
            "/fhir/MedicationRequest?patient=Patient/{resident}"
        ))
        .await;
        save("medication-requests", &r.text);
        let found = entries(&r.json());
        assert_eq!(found.len(), 4, "two lines of two prescriptions");
        let first = found.iter().find(|m| m["id"] == format!("{id}-1")).unwrap();
        assert_eq!(first["status"], "completed");
        assert_eq!(
            first["meta"]["versionId"], "5",
            "issue, return, revise, pass, fill"
        );
        assert_eq!(first["groupIdentifier"]["value"], id.to_string());
        assert_eq!(
            first["medicationCodeableConcept"]["coding"][0]["code"],
            "amlodipine"
        );
        assert_eq!(first["reasonCode"][0]["coding"][0]["code"], "I10");
        assert_eq!(
            first["dosageInstruction"][0]["timing"]["repeat"]["boundsDuration"]["value"],
            28
        );
        let read = get(format!("/fhir/MedicationRequest/{id}-1")).await.json();
        assert_eq!(&read, first);
        let cancelled = get(format!(
            "/fhir/MedicationRequest?patient={resident}&status=cancelled"
        ))
        .await
        .json();
        assert_eq!(cancelled["total"], 2, "{cancelled}");
        let history = get(format!("/fhir/MedicationRequest/{id}-1/_history")).await;
        save("medication-request-history", &history.text);
        let versions = entries(&history.json());
        let statuses: Vec<&str> = versions
            .iter()
            .map(|v| v["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["completed", "active", "on-hold", "on-hold", "on-hold"],
            "newest first"
        );
        let v1 = get(format!("/fhir/MedicationRequest/{id}-1/_history/1"))
            .await
            .json();
        assert_eq!(v1["medicationCodeableConcept"]["text"], "阿莫西林", "{v1}");
        assert_eq!(
            v1["detectedIssue"][0]["reference"],
            format!("DetectedIssue/{id}-v1-1")
        );
        let r = t
            .get(
                &format!("/fhir/MedicationRequest/{id}-2/_history/1"),
                &doctor,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "version 1 had one line");
        let r = t
            .get(&format!("/fhir/MedicationRequest/{id}-3"), &doctor)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);

        // The findings, naming the line as it was when found.
        let r = get(format!(
            "/fhir/DetectedIssue?patient={resident}&code=allergy"
        ))
        .await;
        save("detected-issues", &r.text);
        let issues = entries(&r.json());
        let allergy = issues
            .iter()
            .find(|i| i["id"] == format!("{id}-v1-1"))
            .unwrap_or_else(|| panic!("{issues:?}"));
        assert_eq!(allergy["severity"], "high");
        assert_eq!(
            allergy["implicated"][0]["reference"],
            format!("MedicationRequest/{id}-1/_history/1")
        );
        assert_eq!(
            get(format!("/fhir/DetectedIssue/{id}-v1-1")).await.json(),
            *allergy
        );

        // The review: a Task beside the patient's other tasks, in as many versions.
        let r = get(format!("/fhir/Task?patient={resident}")).await;
        save("tasks", &r.text);
        let review = entries(&r.json())
            .into_iter()
            .find(|t| t["id"] == format!("review-{id}"))
            .unwrap();
        assert_eq!(review["status"], "completed");
        assert_eq!(review["code"]["coding"][0]["code"], "approve");
        assert!(
            review["owner"]["reference"]
                .as_str()
                .unwrap()
                .starts_with("Practitioner/")
        );
        let r = get(format!("/fhir/Task/review-{id}/_history")).await;
        save("review-history", &r.text);
        let kept = entries(&r.json());
        assert_eq!(kept.len(), 5);
        assert_eq!(kept[3]["status"], "on-hold", "returned to the doctor");
        assert_eq!(kept[3]["statusReason"]["text"], "青霉素过敏，请换药");
        assert_eq!(
            get(format!("/fhir/Task/review-{id}/_history/2"))
                .await
                .json(),
            kept[3]
        );

        // The fill.
        let r = get(format!("/fhir/MedicationDispense?patient={resident}")).await;
        save("dispenses", &r.text);
        let dispensed = entries(&r.json());
        assert_eq!(dispensed.len(), 2);
        assert_eq!(dispensed[0]["status"], "completed");
        assert_eq!(
            dispensed[0]["authorizingPrescription"][0]["reference"],
            format!("MedicationRequest/{id}-1")
        );
        assert_eq!(dispensed[1]["quantity"]["value"], 4, "four boxes of seven");
        let medication = dispensed[1]["medicationReference"]["reference"]
            .as_str()
            .unwrap()
            .to_owned();

        // Insurance: the Coverage with its 门特 certification; the Claims and answers.
        let r = get(format!("/fhir/Coverage?beneficiary=Patient/{resident}")).await;
        save("coverage", &r.text);
        let coverage = entries(&r.json());
        assert_eq!(coverage.len(), 1);
        assert_eq!(coverage[0]["class"][0]["value"], "mt-hypertension");
        let r = get(format!("/fhir/Claim?patient={resident}&_sort=created")).await;
        save("claims", &r.text);
        let claims = entries(&r.json());
        assert_eq!(claims.len(), 2);
        assert_eq!(claims[0]["status"], "active");
        assert_eq!(claims[0]["total"]["value"], 80.6);
        assert_eq!(
            claims[0]["prescription"]["reference"],
            format!("MedicationRequest/{id}-1")
        );
        assert_eq!(claims[1]["status"], "cancelled");
        assert_eq!(claims[1]["meta"]["versionId"], "2");
        let reversed = claims[1]["id"].as_str().unwrap();
        let r = get(format!("/fhir/Claim/{reversed}/_history")).await;
        save("claim-history", &r.text);
        assert_eq!(entries(&r.json())[1]["status"], "active");
        let r = get(format!(
            "/fhir/ClaimResponse?patient={resident}&status=active"
        ))
        .await;
        save("claim-responses", &r.text);
        let answer = &entries(&r.json())[0];
        let total = |code: &str| {
            answer["total"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["category"]["coding"][0]["code"] == code)
                .unwrap()["amount"]["value"]
                .clone()
        };
        assert_eq!(total("benefit"), json!(59.94));
        assert_eq!(total("copay"), json!(20.66));
        assert_eq!(answer["payment"]["amount"]["value"], 59.94);

        // The formulary.
        let r = get(format!("/fhir/{medication}")).await;
        save("medication", &r.text);
        assert_eq!(
            r.json()["ingredient"][0]["itemCodeableConcept"]["coding"][0]["code"],
            "valsartan"
        );
        let r = get("/fhir/MedicationKnowledge?ingredient-code=amlodipine".into()).await;
        save("knowledge", &r.text);
        let known = entries(&r.json());
        assert_eq!(known.len(), 1);
        assert_eq!(known[0]["cost"][0]["cost"]["value"], 23.8);
        let r = get("/fhir/MedicationKnowledge?classification=arb&_count=200".into()).await;
        assert!(r.json()["total"].as_u64().unwrap() >= 3, "{}", r.text);
        let r = get("/fhir/Medication?_count=200".into()).await;
        assert_eq!(
            r.json()["total"].as_u64().unwrap() as usize,
            gongti_core::pharmacy::knowledge::Knowledge::builtin()
                .products
                .len()
        );
        let r = get("/fhir/MedicationKnowledge?ingredient-code=morphine".into()).await;
        let morphine = entries(&r.json());
        assert!(
            morphine[0]["regulatory"][0]["schedule"][0]["schedule"]["text"]
                .as_str()
                .unwrap()
                .contains("麻醉药品"),
            "{morphine:?}"
        );
        save("morphine", &r.text);

        // A finding the prescriber confirmed with a second signature: its mitigation is
        // that confirmation, a second version of the finding.
        let d = draft(&t, vec![line("苯磺酸氨氯地平片", 20.0, "mg", 1, 7)], &[]);
        let r = t
            .post("/api/v1/prescriptions", &doctor, issue_body(&d, PASSWORD))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let over = r.json()["id"].as_i64().unwrap();
        let r = t
            .get(&format!("/fhir/DetectedIssue/{over}-v1-1"), &doctor)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.json().get("mitigation").is_none(), "{}", r.text);
        let r = step(
            &t,
            &reviewer,
            over,
            json!({"step": "return", "reason": "剂量超说明书上限"}),
        )
        .await;
        assert_eq!(r.json()["status"], "returned", "{}", r.text);
        let r = step(
            &t,
            &doctor,
            over,
            json!({"step": "confirm", "reason": "血压控制不佳，已知情", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.json()["status"], "pending_review", "{}", r.text);
        let issue = get(format!("/fhir/DetectedIssue/{over}-v1-1")).await.json();
        assert_eq!(issue["meta"]["versionId"], "2");
        assert!(
            issue["mitigation"][0]["action"]["text"]
                .as_str()
                .unwrap()
                .contains("血压控制不佳，已知情"),
            "{issue}"
        );
        let r = get(format!("/fhir/DetectedIssue/{over}-v1-1/_history")).await;
        save("detected-issue-history", &r.text);
        let kept = entries(&r.json());
        assert_eq!(kept.len(), 2);
        assert!(kept[1].get("mitigation").is_none(), "as found: {}", kept[1]);

        // The whole record.
        let r = get(format!("/fhir/Patient/{resident}/$everything?_count=200")).await;
        save("everything", &r.text);
        let types: std::collections::BTreeSet<String> = entries(&r.json())
            .iter()
            .map(|e| e["resourceType"].as_str().unwrap().to_owned())
            .collect();
        for ty in [
            "MedicationRequest",
            "DetectedIssue",
            "MedicationDispense",
            "Coverage",
            "Claim",
            "ClaimResponse",
            "Task",
        ] {
            assert!(types.contains(ty), "{ty}: {types:?}");
        }

        // Someone who may not read the patient reads none of it.
        let insurer = t.token("insurer").await;
        for path in [
            format!("/fhir/MedicationRequest/{id}-1"),
            format!("/fhir/Coverage/{resident}"),
            format!("/fhir/Claim/{reversed}"),
        ] {
            let r = t.get(&path, &insurer).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
        }
        validate(&dir, files);
    }
}
