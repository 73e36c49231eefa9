//! Home readings over the API, on both engines: idempotent uploads, all-or-nothing
//! batches, alerts at urgent values, and never a follow-up.

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use crate::support::TestApp;

fn ago(t: &TestApp, minutes: i64) -> String {
    (t.app.now() - time::Duration::minutes(minutes))
        .to_offset(time::macros::offset!(+8))
        .format(&Rfc3339)
        .unwrap()
}

fn bp(t: &TestApp, id: &str, minutes_ago: i64, sbp: i64, dbp: i64) -> Value {
    json!({"client_reading_id": id, "kind": "bp", "taken_at": ago(t, minutes_ago), "sbp_mmhg": sbp, "dbp_mmhg": dbp})
}

#[tokio::test]
async fn uploads_are_idempotent_and_urgent_values_alert_the_team() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let path = format!("/api/v1/residents/{}/readings", t.home_resident);
        let first = t.post(&path, &doctor, bp(&t, "dev-1", 30, 128, 82)).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        assert_eq!(first.json()["alert_id"], Value::Null);
        let again = t.post(&path, &doctor, bp(&t, "dev-1", 30, 128, 82)).await;
        assert_eq!(again.status, StatusCode::OK);
        assert_eq!(again.json()["status"], "duplicate");

        // Out of order: an older reading uploaded later, and an urgent one.
        let urgent = t
            .post(&path, &doctor, bp(&t, "dev-2", 5, 182, 96))
            .await
            .json();
        let alert_id = urgent["alert_id"].as_i64().expect("an alert");
        t.post(&path, &doctor, bp(&t, "dev-0", 600, 135, 85)).await;
        let glucose = t
            .post(
                &path,
                &doctor,
                json!({"client_reading_id": "g-1", "kind": "glucose", "taken_at": ago(&t, 1), "glucose_mmol": 3.9}),
            )
            .await
            .json();
        assert!(glucose["alert_id"].is_i64(), "{glucose}");

        let list = t.get(&path, &doctor).await.json();
        let ids: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["client_reading_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["g-1", "dev-2", "dev-1", "dev-0"]);

        let alerts = t.get("/api/v1/worklists/alerts", &doctor).await.json();
        let codes: Vec<&str> = alerts["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["urgent_glucose_low", "urgent_bp"]);
        assert_eq!(alerts["items"][1]["resident_id"], t.home_resident);

        let ack = t
            .post(
                &format!("/api/v1/alerts/{alert_id}/acknowledge"),
                &doctor,
                json!({}),
            )
            .await;
        assert_eq!(ack.status, StatusCode::NO_CONTENT, "{}", ack.text);
        let twice = t
            .post(
                &format!("/api/v1/alerts/{alert_id}/acknowledge"),
                &doctor,
                json!({}),
            )
            .await;
        assert_eq!(twice.json()["code"], "already_acknowledged");
        let other = t.token("other_doctor").await;
        let foreign = t.get("/api/v1/worklists/alerts", &other).await.json();
        assert_eq!(foreign["items"], json!([]));
    }
}

#[tokio::test]
async fn a_batch_is_stored_whole_or_not_at_all() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let mut readings: Vec<Value> = (0..1000)
            .map(|i| {
                let mut r = bp(&t, &format!("b-{i}"), 1000 - i, 120 + i % 30, 75 + i % 10);
                r["resident_id"] = t.home_resident.into();
                r
            })
            .collect();
        let ok = t
            .post(
                "/api/v1/readings/batch",
                &doctor,
                json!({"readings": readings}),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
        let v = ok.json();
        assert_eq!(
            (
                v["created"].as_i64(),
                v["duplicates"].as_i64(),
                v["alerts"].as_i64()
            ),
            (Some(1000), Some(0), Some(0))
        );

        // Resending is harmless; two bad items refuse the whole batch.
        readings[5]["sbp_mmhg"] = 20.into();
        readings[7]["taken_at"] = "tomorrow".into();
        readings[9]["client_reading_id"] = "new-one".into();
        let bad = t
            .post(
                "/api/v1/readings/batch",
                &doctor,
                json!({"readings": readings}),
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        let problems: Vec<(i64, String)> = bad.json()["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["index"].as_i64().unwrap(),
                    p["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            problems,
            [(5, "out_of_range".to_owned()), (7, "malformed".to_owned())]
        );
        let far = (t.app.now() - time::Duration::days(400))
            .format(&Rfc3339)
            .unwrap();
        let list = t
            .get(
                &format!(
                    "/api/v1/residents/{}/readings?from={far}&limit=2000",
                    t.home_resident
                ),
                &doctor,
            )
            .await
            .json();
        assert_eq!(
            list["items"].as_array().unwrap().len(),
            1000,
            "nothing of the bad batch"
        );

        let too_many: Vec<Value> = (0..1001)
            .map(|i| {
                let mut r = bp(&t, &format!("x-{i}"), 5, 120, 80);
                r["resident_id"] = t.home_resident.into();
                r
            })
            .collect();
        let refused = t
            .post(
                "/api/v1/readings/batch",
                &doctor,
                json!({"readings": too_many}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

        // A resident outside the uploader's reach refuses the batch too.
        let mut mixed = vec![bp(&t, "m-1", 5, 120, 80), bp(&t, "m-2", 5, 120, 80)];
        mixed[0]["resident_id"] = t.home_resident.into();
        mixed[1]["resident_id"] = t.other_resident.into();
        let denied = t
            .post(
                "/api/v1/readings/batch",
                &doctor,
                json!({"readings": mixed}),
            )
            .await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        let list = t
            .get(
                &format!("/api/v1/residents/{}/readings?limit=5", t.home_resident),
                &doctor,
            )
            .await
            .json();
        assert!(
            !list["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["client_reading_id"] == "m-1")
        );
    }
}
