//! Break-the-glass by role (docs/access.md), on both engines: only the
//! district and city officers and the city administrator name patients with a
//! reason; the insurance officer never does, whatever reason; a reason of blanks or
//! zero-width characters is no reason; and such a name registers nobody.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, id_number_born, urlencode};

const ZERO_WIDTH: &str = "\u{200B}\u{200B}\u{200B}\u{200B}";

#[tokio::test]
async fn only_the_roles_that_may_break_the_glass_name_patients() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let r = t
            .post(
                "/api/v1/residents",
                &doctor,
                json!({"name": "周八", "id_number": id_number_born("19500505", 11)}),
            )
            .await;
        let id = r.json()["id"].as_i64().unwrap();
        let r = t
            .post(
                &format!("/api/v1/residents/{id}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": "2019-05-01"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let to = t.app.today();
        let from = to - time::Duration::days(29);
        // (user, the scope they may see aggregates of, names with a good reason?)
        let roles = [
            ("doctor", format!("institution:{}", t.home), Some(true)),
            ("nurse", format!("institution:{}", t.home), Some(true)),
            ("instadmin", format!("institution:{}", t.home), None),
            ("district", "district:120101".to_owned(), Some(true)),
            ("officer", "city".to_owned(), Some(true)),
            ("insurer", "city".to_owned(), None),
        ];
        for (user, scope, glass) in roles {
            let token = t.token(user).await;
            let list = format!(
                "/api/v1/indicators/patients?scope={scope}&from={from}&to={to}&disease=hypertension&indicator=standardised_management&part=denominator"
            );
            let plain = t.get(&list, &token).await;
            assert_eq!(plain.status, StatusCode::OK, "{user}: {}", plain.text);
            let with_reason = t
                .get(&format!("{list}&break_glass_reason=质控抽查病历"), &token)
                .await;
            match glass {
                Some(named) => {
                    assert_eq!(
                        with_reason.status,
                        StatusCode::OK,
                        "{user}: {}",
                        with_reason.text
                    );
                    let v = with_reason.json();
                    assert_eq!(v["identified"], named, "{user}");
                    assert!(
                        v["items"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|p| p["name"] == "周八"),
                        "{user}: {v}"
                    );
                }
                None => {
                    assert_eq!(
                        with_reason.status,
                        StatusCode::FORBIDDEN,
                        "{user}: {}",
                        with_reason.text
                    );
                    let v = plain.json();
                    assert_eq!(v["identified"], false, "{user}");
                    assert!(
                        v["items"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .all(|p| p["name"] != "周八"),
                        "{user}: {v}"
                    );
                }
            }
            // Blanks and zero-width characters are no reason.
            if matches!(user, "district" | "officer") {
                let hollow = t
                    .get(
                        &format!("{list}&break_glass_reason={}", urlencode(ZERO_WIDTH)),
                        &token,
                    )
                    .await;
                assert_eq!(hollow.status, StatusCode::OK);
                assert_eq!(hollow.json()["identified"], false, "{user}");
            }
        }
        // The insurance officer's refusals are on the trail.
        let trail = t.audit_tail(30).await;
        assert!(trail.iter().any(|r| r.entry.actor_username == "insurer"
            && r.entry.detail.as_deref() == Some("break_glass_not_for_role")));

        // A record read by break-the-glass needs a visible reason too.
        let officer = t.token("officer").await;
        let record = format!("/api/v1/residents/{id}");
        let r = t
            .get(
                &format!("{record}?break_glass_reason={}", urlencode(ZERO_WIDTH)),
                &officer,
            )
            .await;
        assert_eq!(
            (r.status, r.json()["code"].clone()),
            (StatusCode::FORBIDDEN, json!("break_glass_required"))
        );
        // The city administrator (no dashboard) reads a record the same way.
        let admin = t.token("admin").await;
        let r = t
            .get(
                &format!("{record}?break_glass_reason=合并重复档案核查"),
                &admin,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let insurer = t.token("insurer").await;
        let r = t
            .get(
                &format!("{record}?break_glass_reason=医保稽核抽查"),
                &insurer,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_name_of_blanks_or_zero_width_characters_registers_nobody() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        for (n, name) in [ZERO_WIDTH, "  ", "\u{3164}\u{FEFF}"]
            .into_iter()
            .enumerate()
        {
            let r = t
                .post(
                    "/api/v1/residents",
                    &doctor,
                    json!({"name": name, "id_number": id_number_born("19600606", 20 + n as u32)}),
                )
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{name:?}: {}",
                r.text
            );
            assert_eq!(r.json()["problems"][0]["field"], "name");
        }
    }
}
