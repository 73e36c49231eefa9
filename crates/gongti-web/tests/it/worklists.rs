//! The follow-up worklists over the API on both engines, with records made in the
//! past by moving the app's clock.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::TestApp;

fn id_number(sequence: u32) -> String {
    crate::support::id_number_born("19700101", sequence)
}

fn day(t: &TestApp, days_ago: i64) -> String {
    (t.app.today() - time::Duration::days(days_ago)).to_string()
}

fn names(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|i| i["resident_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn due_overdue_missed_and_lost_lists() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let mut ids = std::collections::HashMap::new();
        for (i, name) in ["甲", "乙", "丙", "丁"].iter().enumerate() {
            let r = t
                .post(
                    "/api/v1/residents",
                    &doctor,
                    json!({"name": name, "id_number": id_number(i as u32 * 2 + 1)}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            ids.insert(*name, r.json()["id"].as_i64().unwrap());
        }
        let followup = |name: &str, method: &str, sbp: Option<i64>| {
            let mut body =
                json!({"disease": "hypertension", "method": method, "visit_on": day(&t, 0)});
            if let Some(sbp) = sbp {
                body["sbp_mmhg"] = sbp.into();
                body["dbp_mmhg"] = 80.into();
            }
            (format!("/api/v1/residents/{}/followups", ids[name]), body)
        };
        // 400 days ago: all four enrolled.
        t.shift_clock(-400);
        for id in ids.values() {
            let r = t
                .post(
                    &format!("/api/v1/residents/{id}/enrolments"),
                    &doctor,
                    json!({"icd10": "I10", "diagnosed_on": day(&t, 100)}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        // 甲 seen once, 380 days ago: satisfactory, due again 90 days later.
        t.shift_clock(-380);
        let (path, body) = followup("甲", "clinic", Some(130));
        assert_eq!(
            t.post(&path, &doctor, body).await.status,
            StatusCode::CREATED
        );
        // 丙 seen 100 days ago, unsatisfactory: due 14 days later.
        t.shift_clock(-100);
        let (path, body) = followup("丙", "clinic", Some(150));
        assert_eq!(
            t.post(&path, &doctor, body).await.status,
            StatusCode::CREATED
        );
        // 乙 seen 10 days ago, unsatisfactory: due in 4 days.
        t.shift_clock(-10);
        let (path, body) = followup("乙", "home", Some(150));
        assert_eq!(
            t.post(&path, &doctor, body).await.status,
            StatusCode::CREATED
        );
        // 丁 only called 2 days ago: never seen face to face.
        t.shift_clock(-2);
        let (path, body) = followup("丁", "phone", None);
        assert_eq!(
            t.post(&path, &doctor, body).await.status,
            StatusCode::CREATED
        );
        t.shift_clock(0);

        let list = |q: &str| {
            let url = format!("/api/v1/worklists/followups?{q}");
            let doctor = doctor.clone();
            let t = &t;
            async move { t.get(&url, &doctor).await.json() }
        };
        assert_eq!(names(&list("list=due_this_week").await), ["乙"]);
        assert_eq!(names(&list("list=overdue").await), ["甲", "丙"]);
        assert_eq!(names(&list("list=missed_visit").await), ["甲", "丙", "丁"]);
        assert_eq!(names(&list("list=lost_to_follow_up").await), ["甲"]);

        // Very high risk comes first when sorted by risk. 甲 was stratified at 55 (no
        // risk factor: low), 丙 again at 56 by the follow-up (age > 55: medium).
        let r = t
            .send_json(
                "PUT",
                &format!(
                    "/api/v1/residents/{}/enrolments/hypertension/risk-factors",
                    ids["丁"]
                ),
                &doctor,
                json!({"cvd": true}).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["risk"]["level"], "very_high");
        let by_risk = list("list=missed_visit&sort=risk").await;
        assert_eq!(names(&by_risk), ["丁", "丙", "甲"]);
        assert_eq!(by_risk["items"][0]["risk_level"], "very_high");

        // Pages of one, following the cursor, give the same order.
        let mut seen = Vec::new();
        let mut query = "list=missed_visit&sort=risk&limit=1".to_owned();
        loop {
            let page = list(&query).await;
            seen.extend(names(&page));
            match page["next_cursor"].as_str() {
                Some(c) => query = format!("list=missed_visit&sort=risk&limit=1&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(seen, ["丁", "丙", "甲"]);

        // A home reading is contact: 甲 is no longer lost.
        let now = t
            .app
            .now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let r = t
            .post(
                &format!("/api/v1/residents/{}/readings", ids["甲"]),
                &doctor,
                json!({"client_reading_id": "a-1", "kind": "bp", "taken_at": now, "sbp_mmhg": 128, "dbp_mmhg": 80}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(
            names(&list("list=lost_to_follow_up").await),
            Vec::<String>::new()
        );

        let bad = t
            .get("/api/v1/worklists/followups?list=someday", &doctor)
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        let officer = t.token("officer").await;
        let denied = t.get("/api/v1/worklists/followups", &officer).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
    }
}
