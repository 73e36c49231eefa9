//! The prescription check over the API, on both engines: the judgement's shape, the
//! record and the staff register filling the draft, the audit only when a resident is
//! named, the refusal of non-prescribers, and every problem of a bad draft at once.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

fn amlodipine() -> Value {
    json!({"generic_name": "苯磺酸氨氯地平片", "dose": 5, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 7})
}

fn codes(answer: &Value) -> Vec<&str> {
    answer["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_draft_is_judged_at_once_with_every_finding() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let before = t.audit_tail(1).await[0].seq;
        let clear = t
            .post(
                "/api/v1/prescriptions/check",
                &doctor,
                json!({"patient": {"age_years": 66, "sex": "male", "diagnoses": ["I10.x00"]}, "lines": [amlodipine()]}),
            )
            .await;
        assert_eq!(clear.status, StatusCode::OK, "{}", clear.text);
        let clear = clear.json();
        assert_eq!(clear["verdict"], "clear", "{clear}");
        assert_eq!(clear["ruleset_version"], "2026.12.1");
        assert_eq!(clear["findings"], json!([]));

        // Online: a psychotropic, an ACE inhibitor for a pregnant woman, a second
        // calcium-channel blocker, a 30-day supply without a reason.
        let r = t
            .post(
                "/api/v1/prescriptions/check",
                &doctor,
                json!({
                    "patient": {"age_years": 31, "sex": "female", "pregnant": true, "diagnoses": ["I10"]},
                    "visit": {"channel": "online", "offline_diagnoses": ["I10"]},
                    "lines": [
                        {"generic_name": "氨氯地平", "dose": 5, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 30},
                        {"generic_name": "硝苯地平", "dose": 30, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 7},
                        {"generic_name": "依那普利", "dose": 10, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 7},
                        {"generic_name": "地西泮", "dose": 5, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 3},
                    ],
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let answer = r.json();
        assert_eq!(answer["verdict"], "blocked");
        let found = codes(&answer);
        for code in [
            "online_controlled_drug",
            "supply_over_limit",
            "online_first_visit",
            "duplicate_therapy",
            "contraindicated_pregnancy",
        ] {
            assert!(found.contains(&code), "{code} in {found:?}");
        }
        let pregnancy = answer["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "contraindicated_pregnancy" && f["lines"] == json!([2]))
            .expect("enalapril in pregnancy");
        assert_eq!(
            (pregnancy["grade"].as_u64(), pregnancy["severity"].as_str()),
            (Some(1), Some("high"))
        );
        assert!(
            pregnancy["basis"]
                .as_str()
                .unwrap()
                .contains("高血压防治指南"),
            "{pregnancy}"
        );
        assert!(
            pregnancy["message"]
                .as_str()
                .unwrap()
                .starts_with("依那普利"),
            "{pregnancy}"
        );
        let controlled = answer["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "online_controlled_drug")
            .unwrap();
        assert_eq!(
            (controlled["lines"].clone(), controlled.get("grade")),
            (json!([3]), None)
        );

        // Without a resident nothing was read or audited.
        assert_eq!(t.audit_tail(1).await[0].seq, before, "{:?}", t.engine());
    }
}

#[tokio::test]
async fn the_record_and_the_staff_register_fill_the_draft_and_the_read_is_audited() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let base = format!("/api/v1/residents/{}", t.home_resident);
        let today = t.app.today();
        let r = t
            .post(
                &format!("{base}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": (today - time::Duration::days(400)).to_string(), "diagnosed_offline": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = t
            .post(
                &format!("{base}/followups"),
                &doctor,
                json!({"disease": "hypertension", "method": "clinic", "visit_on": (today - time::Duration::days(20)).to_string(),
                       "sbp_mmhg": 138, "dbp_mmhg": 84, "adherence": "regular",
                       "drugs": [{"name": "硝苯地平控释片", "dose": "30 mg 每日1次"}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

        // Online, for the enrolled resident: the offline diagnosis makes it a repeat
        // visit, her age and sex come from the record, and the nifedipine she takes is
        // a second dihydropyridine beside the amlodipine prescribed.
        let r = t
            .post(
                "/api/v1/prescriptions/check",
                &doctor,
                json!({"resident_id": t.home_resident, "visit": {"channel": "online"}, "lines": [amlodipine()]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let answer = r.json();
        assert_eq!(codes(&answer), ["duplicate_therapy"], "{answer}");
        assert_eq!(answer["verdict"], "flagged");
        assert!(
            answer["findings"][0]["message"]
                .as_str()
                .unwrap()
                .contains("正在使用的硝苯地平"),
            "{answer}"
        );
        let audit = t.audit_tail(1).await;
        assert_eq!(
            (
                audit[0].entry.action.as_str(),
                audit[0].entry.patient_id,
                audit[0].entry.resource_type.as_str()
            ),
            (
                "prescription.check",
                Some(t.home_resident),
                "MedicationRequest"
            )
        );

        // The doctor's register says 主治医师 with 5 years: stating junior makes a
        // first long prescription unqualified; the register alone does not.
        let long = |title: Option<&str>| {
            let mut body = json!({"resident_id": t.home_resident, "long_prescription": {"first": true},
                                  "lines": [{"generic_name": "氨氯地平", "dose": 5, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 28}]});
            if let Some(title) = title {
                body["prescriber"] = json!({"title_level": title});
            }
            body
        };
        let r = t
            .post("/api/v1/prescriptions/check", &doctor, long(None))
            .await
            .json();
        assert!(!codes(&r).contains(&"prescriber_not_qualified"), "{r}");
        let r = t
            .post("/api/v1/prescriptions/check", &doctor, long(Some("junior")))
            .await
            .json();
        assert!(codes(&r).contains(&"prescriber_not_qualified"), "{r}");

        // Another institution's resident is refused, and the refusal is audited.
        let other = t.token("other_doctor").await;
        let r = t
            .post(
                "/api/v1/prescriptions/check",
                &other,
                json!({"resident_id": t.home_resident, "lines": [amlodipine()]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(t.audit_tail(1).await[0].entry.action, "prescription.check");
    }
}

#[tokio::test]
async fn only_prescribers_check_and_a_bad_draft_names_every_problem() {
    for t in TestApp::all().await {
        for who in ["nurse", "officer", "admin"] {
            let token = t.token(who).await;
            let r = t
                .post(
                    "/api/v1/prescriptions/check",
                    &token,
                    json!({"patient": {"age_years": 60, "sex": "male"}, "lines": [amlodipine()]}),
                )
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {}", r.text);
        }
        let specialist = t.token("specialist").await;
        let r = t
            .post(
                "/api/v1/prescriptions/check",
                &specialist,
                json!({"patient": {"age_years": 60, "sex": "male", "diagnoses": ["I10"]}, "lines": [amlodipine()]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);

        let doctor = t.token("doctor").await;
        let r = t
            .post(
                "/api/v1/prescriptions/check",
                &doctor,
                json!({"patient": {"sex": "unknown"}, "kind": "urgent", "lines": [
                    {"generic_name": "不存在的药", "dose": 1, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 1},
                    {"generic_name": "氨氯地平", "dose": 5, "dose_unit": "mg", "times_per_day": 1, "route": "nasal", "days": 1},
                ]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let problems: Vec<(Value, String, String)> = r.json()["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["index"].clone(),
                    p["field"].as_str().unwrap().to_owned(),
                    p["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            problems,
            [
                (Value::Null, "sex".into(), "unknown_code".into()),
                (Value::Null, "kind".into(), "unknown_code".into()),
                (json!(1), "route".into(), "unknown_code".into()),
            ]
        );
        // The age is missing once the codes are right; an unknown drug is named by line.
        let r = t
            .post(
                "/api/v1/prescriptions/check",
                &doctor,
                json!({"patient": {"sex": "male"}, "lines": [{"generic_name": "不存在的药", "dose": 1, "dose_unit": "mg"}]}),
            )
            .await;
        assert_eq!(r.json()["problems"][0]["field"], "age_years", "{}", r.text);
        let r = t
            .post(
                "/api/v1/prescriptions/check",
                &doctor,
                json!({"patient": {"sex": "male", "age_years": 50}, "lines": [{"generic_name": "不存在的药", "dose": 1, "dose_unit": "mg"}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let p = &r.json()["problems"][0];
        assert_eq!(
            (p["index"].as_u64(), p["code"].as_str()),
            (Some(0), Some("unknown_drug")),
            "{p}"
        );
        assert!(p["message"].as_str().unwrap().contains("药品目录"));
    }
}

#[tokio::test]
async fn an_institution_confirms_or_disables_rules_and_its_checks_follow() {
    for t in TestApp::all().await {
        let admin = t.token("instadmin").await;
        let rules = format!("/api/v1/institutions/{}/drug-rules", t.home);
        let list = t.get(&rules, &admin).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        let list = list.json();
        let ddi = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == "ddi-001")
            .unwrap()
            .clone();
        assert_eq!(
            (ddi["kind"].as_str(), ddi["state"].as_str()),
            (Some("interaction"), Some("unset"))
        );
        assert_eq!(ddi["about"], "氯吡格雷 + 奥美拉唑");
        let interactions = t
            .get(&format!("{rules}?kind=interaction"), &admin)
            .await
            .json();
        assert!(
            interactions["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["kind"] == "interaction")
        );

        // Disabling needs a reason.
        let r = t
            .send_json(
                "PUT",
                &format!("{rules}/ddi-001"),
                &admin,
                json!({"state": "disabled"}).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.json()["problems"][0]["field"], "reason");
        let r = t
            .send_json(
                "PUT",
                &format!("{rules}/ddi-001"),
                &admin,
                json!({"state": "disabled", "reason": "本院改用泮托拉唑，药事会决定停用"})
                    .to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let set = r.json();
        assert_eq!(
            (set["state"].as_str(), set["decided_by"].as_str()),
            (Some("disabled"), Some("instadmin姓名"))
        );
        let audit = t.audit_tail(1).await;
        assert_eq!(
            (
                audit[0].entry.action.as_str(),
                audit[0].entry.resource_id.as_deref()
            ),
            ("drug_rule.set", Some("ddi-001"))
        );

        // The home institution's doctor no longer meets the interaction; another
        // institution's does.
        let draft = json!({"patient": {"age_years": 70, "sex": "male", "diagnoses": ["I25", "K21"], "egfr_ml_min": 40}, "lines": [
            {"generic_name": "氯吡格雷", "dose": 75, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 7},
            {"generic_name": "奥美拉唑", "dose": 20, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 7},
            {"generic_name": "二甲双胍", "dose": 500, "dose_unit": "mg", "times_per_day": 2, "route": "oral", "days": 7}]});
        let doctor = t.token("doctor").await;
        let home = t
            .post("/api/v1/prescriptions/check", &doctor, draft.clone())
            .await
            .json();
        assert!(!codes(&home).contains(&"interaction"), "{home}");
        let other = t.token("other_doctor").await;
        let elsewhere = t
            .post("/api/v1/prescriptions/check", &other, draft.clone())
            .await
            .json();
        assert!(codes(&elsewhere).contains(&"interaction"), "{elsewhere}");

        // A confirmed rule says so on its finding.
        let renal = home["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "contraindicated_renal")
            .unwrap();
        assert_eq!(renal["confirmed"], false);
        let rule = renal["rule"].as_str().unwrap().to_owned();
        let r = t
            .send_json(
                "PUT",
                &format!("{rules}/{rule}"),
                &admin,
                json!({"state": "confirmed"}).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let home = t
            .post("/api/v1/prescriptions/check", &doctor, draft)
            .await
            .json();
        let renal = home["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "contraindicated_renal")
            .unwrap();
        assert_eq!(renal["confirmed"], true, "{home}");

        // A doctor may not decide; nor another institution's administrator; an unknown
        // rule is not found.
        let r = t
            .send_json(
                "PUT",
                &format!("{rules}/ddi-002"),
                &doctor,
                json!({"state": "confirmed"}).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let hospital_admin = t.token("hospadmin").await;
        let r = t
            .send_json(
                "PUT",
                &format!("{rules}/ddi-002"),
                &hospital_admin,
                json!({"state": "confirmed"}).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            t.get(&rules, &hospital_admin).await.status,
            StatusCode::FORBIDDEN
        );
        let r = t
            .send_json(
                "PUT",
                &format!("{rules}/ddi-999"),
                &admin,
                json!({"state": "confirmed"}).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
}
