//! Family-doctor contracts over the API, on both engines.

use axum::http::StatusCode;
use gongti_core::contract::{NewTerm, term_end};
use gongti_store::{ContractWrite, OpenContract};
use serde_json::json;
use time::Duration;

use crate::support::TestApp;

#[tokio::test]
async fn sign_once_terminate_with_a_reason_and_see_the_history() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let path = format!("/api/v1/residents/{}/contracts", t.home_resident);
        // Not without the resident's consent (DOMAIN.md §5): nothing is signed.
        let r = t.post(&path, &doctor, json!({"team_id": t.team})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.json()["problems"][0]["field"], "resident_consent");
        assert_eq!(t.get(&path, &doctor).await.json()["items"], json!([]));
        let r = t
            .post(
                &path,
                &doctor,
                json!({"team_id": t.team, "packages": ["elderly"], "resident_consent": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let c = r.json();
        assert_eq!(c["status"], "active");
        assert_eq!(c["team_name"], "王医生团队");
        assert_eq!(c["packages"], json!(["basic", "elderly"]));
        assert_eq!(
            c["fee"],
            json!({"total_fen": 19_000, "insurance_fen": 6_000, "public_health_fen": 8_000, "resident_fen": 5_000})
        );
        let audit = t.audit_tail(1).await;
        assert_eq!(audit[0].entry.action, "contract.sign");
        assert_eq!(audit[0].entry.detail.as_deref(), Some("consent=resident"));
        assert_eq!(audit[0].entry.patient_id, Some(t.home_resident));

        // One team at a time.
        let again = t
            .post(
                &path,
                &doctor,
                json!({"team_id": t.team, "resident_consent": true}),
            )
            .await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
        assert_eq!(again.json()["code"], "already_contracted");
        // Renewal opens only near the end of the term.
        let early = t.post(&format!("{path}/renew"), &doctor, json!({})).await;
        assert_eq!(early.json()["code"], "not_in_renewal_window");
        // Unknown packages and a missing reason are listed problems.
        let bad = t
            .post(
                &format!("{path}/terminate"),
                &doctor,
                json!({"reason": "  "}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(bad.json()["problems"][0]["field"], "reason");

        // Another institution's doctor cannot touch the contract, nor a specialist.
        let other = t.token("other_doctor").await;
        let denied = t
            .post(
                &format!("{path}/terminate"),
                &other,
                json!({"reason": "迁出"}),
            )
            .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);

        let ended = t
            .post(
                &format!("{path}/terminate"),
                &doctor,
                json!({"reason": "迁出本区"}),
            )
            .await;
        assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);
        let history = t.get(&path, &doctor).await.json();
        assert_eq!(history["items"][0]["status"], "terminated");
        assert_eq!(history["items"][0]["end_reason"], "迁出本区");
        let audit = t.audit_tail(1).await;
        assert_eq!(audit[0].entry.action, "contract.list");

        // After termination a new contract may be signed.
        let resigned = t
            .post(
                &path,
                &doctor,
                json!({"team_id": t.team, "resident_consent": true}),
            )
            .await;
        assert_eq!(resigned.status, StatusCode::CREATED, "{}", resigned.text);

        let unknown = t
            .post(
                &format!("/api/v1/residents/{}/contracts", t.other_resident),
                &other,
                json!({"team_id": 999_999, "resident_consent": true}),
            )
            .await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        let wrong_team = t
            .post(
                &format!("/api/v1/residents/{}/contracts", t.other_resident),
                &other,
                json!({"team_id": t.team, "resident_consent": true}),
            )
            .await;
        assert_eq!(
            wrong_team.status,
            StatusCode::FORBIDDEN,
            "{}",
            wrong_team.text
        );
    }
}

#[tokio::test]
async fn a_contract_near_its_end_is_on_the_worklist_until_renewed() {
    for t in TestApp::all().await {
        let today = t.app.today();
        // Signed a year ago less ten days: the term ends in ten days.
        let start_on = today - Duration::days(355);
        let basic = t.store.packages().await.unwrap()[0].clone();
        t.store
            .apply_contract_plan(
                &ContractWrite {
                    resident_id: t.home_resident,
                    close: Vec::new(),
                    end_reason: None,
                    open: Some(OpenContract {
                        term: NewTerm {
                            team_id: t.team,
                            start_on,
                            end_on: term_end(start_on),
                            previous_id: None,
                        },
                        institution_id: t.home,
                        packages: vec![(basic.id, basic.split)],
                        signed_by_staff_id: 1,
                        care_until_us: i64::MAX,
                    }),
                    now_us: 1,
                },
                &[],
            )
            .await
            .unwrap();
        let nurse = t.token("nurse").await;
        let list = t.get("/api/v1/worklists/expiring-contracts", &nurse).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        let items = list.json()["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["end_on"], term_end(start_on).to_string());
        assert_eq!(
            t.audit_tail(1).await[0].entry.action,
            "worklist.expiring_contracts"
        );

        let renewed = t
            .post(
                &format!("/api/v1/residents/{}/contracts/renew", t.home_resident),
                &nurse,
                json!({}),
            )
            .await;
        assert_eq!(renewed.status, StatusCode::CREATED, "{}", renewed.text);
        let c = renewed.json();
        let next_start = term_end(start_on) + Duration::days(1);
        assert_eq!(c["start_on"], next_start.to_string());
        assert_eq!(c["end_on"], term_end(next_start).to_string());
        let list = t
            .get("/api/v1/worklists/expiring-contracts", &nurse)
            .await
            .json();
        assert_eq!(list["items"], json!([]));

        let officer = t.token("officer").await;
        let denied = t
            .get("/api/v1/worklists/expiring-contracts", &officer)
            .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
    }
}

/// 签约率 (DOMAIN.md §5): residents with a contract in force today, and the same
/// among patients under chronic management, by the institution holding each.
#[tokio::test]
async fn contract_coverage_counts_contracts_in_force() {
    use gongti_store::IndicatorScope;
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let today = t.app.today();
        let scope = IndicatorScope::Institution(t.home);
        let before = t.store.contract_coverage(&scope, today).await.unwrap();
        assert!(before.residents >= 1, "{before:?}");
        let path = format!("/api/v1/residents/{}", t.home_resident);
        let r = t
            .post(
                &format!("{path}/contracts"),
                &doctor,
                json!({"team_id": t.team, "resident_consent": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = t
            .post(
                &format!("{path}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": "2020-01-01"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let after = t.store.contract_coverage(&scope, today).await.unwrap();
        assert_eq!(after.residents, before.residents);
        assert_eq!(after.contracted, before.contracted + 1);
        assert_eq!(after.chronic, before.chronic + 1);
        assert_eq!(after.chronic_contracted, before.chronic_contracted + 1);
        // The city counts it too; another district does not.
        let city = t
            .store
            .contract_coverage(&IndicatorScope::City, today)
            .await
            .unwrap();
        assert!(city.contracted >= after.contracted && city.residents >= after.residents);
        let elsewhere = t
            .store
            .contract_coverage(&IndicatorScope::District("120199".into()), today)
            .await
            .unwrap();
        assert_eq!(elsewhere, gongti_store::ContractCoverage::default());
        // A terminated contract is not in force.
        let r = t
            .post(
                &format!("{path}/contracts/terminate"),
                &doctor,
                json!({"reason": "迁出本区"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let ended = t.store.contract_coverage(&scope, today).await.unwrap();
        assert_eq!(ended.contracted, before.contracted);
        assert_eq!(ended.chronic_contracted, before.chronic_contracted);
    }
}
