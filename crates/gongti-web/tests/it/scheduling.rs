//! Schedules, slots and bookings over the API on both engines (DOMAIN.md §3): the
//! reserved share, its release to the public, who may book which pool, the booking
//! lifecycle, capacity changes, and no slot booked twice under concurrency.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{TestApp, id_number_born};

fn day(t: &TestApp, days_ahead: i64) -> String {
    (t.app.today() + time::Duration::days(days_ahead)).to_string()
}

async fn publish(t: &TestApp, admin: &str, days_ahead: i64, slots: u32) -> Value {
    let r = t
        .post(
            "/api/v1/schedules",
            admin,
            json!({"department_id": t.cardio, "clinic_name": "高血压专病门诊", "day": day(t, days_ahead),
                   "session": "am", "slot_count": slots}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()
}

/// How many cardiology schedules are published in the next 30 days.
async fn cardio_schedules(t: &TestApp, token: &str) -> usize {
    let path = format!(
        "/api/v1/schedules?department={}&to={}",
        t.cardio,
        day(t, 30)
    );
    t.get(&path, token).await.json()["items"]
        .as_array()
        .unwrap()
        .len()
}

/// Registers `n` residents at the home centre and signs each with the doctor's team.
async fn contracted_residents(t: &TestApp, doctor: &str, first: u32, n: u32) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in first..first + n {
        let r = t
            .post(
                "/api/v1/residents",
                doctor,
                json!({"name": format!("患者{i}"), "id_number": id_number_born("19550101", i)}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let id = r.json()["id"].as_i64().unwrap();
        let r = t
            .post(
                &format!("/api/v1/residents/{id}/contracts"),
                doctor,
                json!({"team_id": t.team, "resident_consent": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        ids.push(id);
    }
    ids
}

async fn book(
    t: &TestApp,
    token: &str,
    schedule: i64,
    resident: i64,
    pool: &str,
) -> super::support::Reply {
    t.post(
        "/api/v1/bookings",
        token,
        json!({"schedule_id": schedule, "resident_id": resident, "pool": pool}),
    )
    .await
}

#[tokio::test]
async fn schedules_hold_back_a_share_for_family_doctors() {
    for t in TestApp::all().await {
        let admin = t.token("hospadmin").await;
        let doctor = t.token("doctor").await;

        // DOMAIN.md §3: 10 % by default, rounded up.
        let s = publish(&t, &admin, 5, 10).await;
        assert_eq!(s["slot_count"], 10);
        assert_eq!(s["reserved"], json!({"slots": 1, "free": 1}));
        assert_eq!(s["public"], json!({"slots": 9, "free": 9}));
        assert_eq!(s["reserve"]["reserved_percent"], 10.0);

        // A department's own policy (30 %, as Beijing) wins over the default.
        let r = t
            .send_json(
                "PUT",
                "/api/v1/reserve-policy",
                &admin,
                json!({"department_id": t.cardio, "reserved_percent": 30, "release_days": 3})
                    .to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let s2 = publish(&t, &admin, 6, 10).await;
        assert_eq!(s2["reserved"]["slots"], 3);
        assert_eq!(s2["reserve"]["release_days"], 3);
        let r = t
            .get(
                &format!(
                    "/api/v1/reserve-policy?institution_id={}&department_id={}",
                    t.hospital, t.cardio
                ),
                &doctor,
            )
            .await;
        assert_eq!(r.json()["reserved_percent"], 30.0);

        // Slots: 08:00 Beijing is 00:00 UTC; reserved ones not yet open to the public.
        let r = t
            .get(&format!("/api/v1/schedules/{}", s2["id"]), &doctor)
            .await;
        let slots = r.json()["slots"].as_array().unwrap().clone();
        assert_eq!(slots.len(), 10);
        assert!(
            slots[0]["starts_at"]
                .as_str()
                .unwrap()
                .ends_with("T00:00:00Z")
        );
        let reserved: Vec<_> = slots.iter().filter(|s| s["pool"] == "reserved").collect();
        assert_eq!(reserved.len(), 3);
        assert!(reserved.iter().all(|s| s["open_to_public"] == false));

        // Bad input lists every problem and saves nothing; others may not publish.
        let before = cardio_schedules(&t, &doctor).await;
        assert_eq!(before, 2);
        let r = t
            .post(
                "/api/v1/schedules",
                &admin,
                json!({"department_id": t.cardio, "day": day(&t, -1), "session": "pm",
                       "starts_at": "17:00", "ends_at": "13:00", "slot_count": 0}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let codes: Vec<_> = r.json()["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{}:{}",
                    p["field"].as_str().unwrap(),
                    p["code"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            codes,
            [
                "clinic_name:required",
                "day:in_past",
                "slot_count:out_of_range",
                "ends_at:inconsistent"
            ]
        );
        let r = t
            .post(
                "/api/v1/schedules",
                &doctor,
                json!({"department_id": t.cardio, "clinic_name": "x", "day": day(&t, 3), "session": "am", "slot_count": 5}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let after = cardio_schedules(&t, &doctor).await;
        assert_eq!(after, before);
    }
}

#[tokio::test]
async fn family_doctors_book_reserved_slots_for_their_own_contracted_patients() {
    for t in TestApp::all().await {
        let admin = t.token("hospadmin").await;
        let doctor = t.token("doctor").await;
        let other_doctor = t.token("other_doctor").await;
        let specialist = t.token("specialist").await;
        let ids = contracted_residents(&t, &doctor, 1, 2).await;
        let s = publish(&t, &admin, 5, 10).await;
        let schedule = s["id"].as_i64().unwrap();

        // Not contracted with this doctor: refused, and audited.
        let r = book(&t, &doctor, schedule, t.home_resident, "reserved").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let r = book(&t, &other_doctor, schedule, ids[0], "reserved").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let last = t.audit_tail(1).await.pop().unwrap();
        assert_eq!(last.entry.action, "booking.create");
        assert_eq!(last.entry.patient_id, Some(ids[0]));

        // The specialist cannot read the patient before the booking …
        let path = format!("/api/v1/residents/{}", ids[0]);
        assert_eq!(
            t.get(&path, &specialist).await.status,
            StatusCode::FORBIDDEN
        );
        let r = book(&t, &doctor, schedule, ids[0], "reserved").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let booking = r.json();
        assert_eq!(booking["pool"], "reserved");
        assert_eq!(booking["status"], "booked");
        assert_eq!(booking["department_name"], "心血管内科");
        // … and can while it stands.
        assert_eq!(t.get(&path, &specialist).await.status, StatusCode::OK);

        // One reserved slot of ten: the next family-doctor booking finds none left.
        let r = book(&t, &doctor, schedule, ids[1], "reserved").await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.json()["code"], "no_reserved_slot_left");
        // One active booking per patient, department and day.
        let r = book(&t, &doctor, schedule, ids[0], "public").await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.json()["code"], "already_booked_that_day");
        let s = t
            .get(&format!("/api/v1/schedules/{schedule}"), &doctor)
            .await
            .json();
        assert_eq!(s["reserved"]["free"], 0);
        assert_eq!(s["public"]["free"], 9);

        // The hospital's day list names the patient; the family doctor may not see it.
        let list = format!("/api/v1/schedules/{schedule}/bookings");
        let r = t.get(&list, &specialist).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["items"][0]["resident_name"], "患者1");
        assert_eq!(t.get(&list, &doctor).await.status, StatusCode::FORBIDDEN);

        // Cancelling frees the slot and ends the hospital's access.
        let id = booking["id"].as_i64().unwrap();
        let r = t
            .post(&format!("/api/v1/bookings/{id}/cancel"), &doctor, json!({}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["status"], "cancelled");
        assert_eq!(
            t.get(&path, &specialist).await.status,
            StatusCode::FORBIDDEN
        );
        let s = t
            .get(&format!("/api/v1/schedules/{schedule}"), &doctor)
            .await
            .json();
        assert_eq!(s["reserved"]["free"], 1);
        let r = t
            .post(&format!("/api/v1/bookings/{id}/cancel"), &doctor, json!({}))
            .await;
        assert_eq!(r.json()["code"], "booking_not_open");

        // The resident's own list shows the history.
        let r = t
            .get(&format!("/api/v1/residents/{}/bookings", ids[0]), &doctor)
            .await;
        assert_eq!(r.json()["items"][0]["status"], "cancelled");
    }
}

#[tokio::test]
async fn reserved_slots_open_to_the_public_near_the_visit_and_the_day_runs() {
    for t in TestApp::all().await {
        let admin = t.token("hospadmin").await;
        let doctor = t.token("doctor").await;
        // One slot, held back for family doctors (10 % of 1, rounded up).
        let s = publish(&t, &admin, 5, 1).await;
        let schedule = s["id"].as_i64().unwrap();
        assert_eq!(s["reserved"]["slots"], 1);
        let r = book(&t, &doctor, schedule, t.home_resident, "public").await;
        assert_eq!(r.json()["code"], "no_slot_left", "{}", r.text);
        // Two days before the visit (the default release window) the public may take it.
        t.shift_clock(3);
        let admin = t.token("hospadmin").await;
        let r = book(&t, &admin, schedule, t.home_resident, "public").await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let b = r.json();
        assert_eq!(b["pool"], "public");
        let id = b["id"].as_i64().unwrap();

        // Check-in only on the day, by the hospital.
        let check_in = format!("/api/v1/bookings/{id}/check-in");
        assert_eq!(
            t.post(&check_in, &admin, json!({})).await.json()["code"],
            "too_early"
        );
        t.shift_clock(5);
        let (admin, doctor) = (t.token("hospadmin").await, t.token("doctor").await);
        assert_eq!(
            t.post(&check_in, &doctor, json!({})).await.status,
            StatusCode::FORBIDDEN
        );
        let r = t.post(&check_in, &admin, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["status"], "checked_in");
        // Cancelling after the slot started is too late; a checked-in booking is not open.
        let r = t
            .post(&format!("/api/v1/bookings/{id}/cancel"), &admin, json!({}))
            .await;
        assert_eq!(r.json()["code"], "booking_not_open");
        t.shift_clock(0);
    }
}

#[tokio::test]
async fn capacity_changes_never_drop_a_booked_patient_and_reschedule_moves_one() {
    for t in TestApp::all().await {
        let admin = t.token("hospadmin").await;
        let doctor = t.token("doctor").await;
        let ids = contracted_residents(&t, &doctor, 10, 3).await;
        let s = publish(&t, &admin, 4, 10).await;
        let schedule = s["id"].as_i64().unwrap();
        for id in &ids {
            let r = book(&t, &doctor, schedule, *id, "public").await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        let capacity = format!("/api/v1/schedules/{schedule}/capacity");
        let put = |n: u32| {
            t.send_json(
                "PUT",
                &capacity,
                &admin,
                json!({"slot_count": n}).to_string(),
            )
        };
        let r = put(2).await;
        assert_eq!(r.status, StatusCode::CONFLICT);
        assert_eq!(r.json()["code"], "capacity_below_bookings");
        let r = put(5).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let v = r.json();
        assert_eq!(v["slot_count"], 5);
        assert_eq!(v["reserved"]["slots"], 1);
        assert_eq!(v["public"]["free"], 1);
        let r = put(20).await;
        let v = r.json();
        assert_eq!(v["slot_count"], 20);
        assert_eq!(v["reserved"]["slots"], 2);
        let day_list = t
            .get(&format!("/api/v1/schedules/{schedule}/bookings"), &admin)
            .await
            .json();
        let booked = day_list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["status"] == "booked")
            .count();
        assert_eq!(booked, 3);
        assert_eq!(
            t.send_json(
                "PUT",
                &capacity,
                &doctor,
                json!({"slot_count": 9}).to_string()
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );

        // Reschedule to another day: one transaction, the old slot freed.
        let other = publish(&t, &admin, 6, 10).await;
        let first = day_list["items"][0]["id"].as_i64().unwrap();
        let r = t
            .post(
                &format!("/api/v1/bookings/{first}/reschedule"),
                &doctor,
                json!({"schedule_id": other["id"]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json()["day"], day(&t, 6));
        let v = t
            .get(&format!("/api/v1/schedules/{schedule}"), &admin)
            .await
            .json();
        assert_eq!(
            v["public"]["free"].as_i64().unwrap() + v["reserved"]["free"].as_i64().unwrap(),
            18
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bookings_never_take_a_slot_twice() {
    for t in TestApp::all().await {
        let admin = t.token("hospadmin").await;
        let doctor = t.token("doctor").await;
        let ids = contracted_residents(&t, &doctor, 100, 30).await;
        // 50 slots, 5 reserved; 30 family-doctor bookings race for them.
        let s = publish(&t, &admin, 7, 50).await;
        let schedule = s["id"].as_i64().unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for id in ids {
            let router = t.router.clone();
            let body = json!({"schedule_id": schedule, "resident_id": id, "pool": "reserved"});
            let request = Request::post("/api/v1/bookings")
                .header(header::AUTHORIZATION, format!("Bearer {doctor}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            tasks.spawn(async move {
                let response = router.oneshot(request).await.unwrap();
                let status = response.status();
                let bytes = http_body_util::BodyExt::collect(response.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                (status, serde_json::from_slice::<Value>(&bytes).unwrap())
            });
        }
        let mut booked_slots = Vec::new();
        let mut losers = 0;
        while let Some(done) = tasks.join_next().await {
            let (status, body) = done.unwrap();
            match status {
                StatusCode::CREATED => booked_slots.push(body["slot_id"].as_i64().unwrap()),
                StatusCode::CONFLICT => {
                    assert_eq!(body["code"], "no_reserved_slot_left", "{body}");
                    losers += 1;
                }
                other => panic!("{other}: {body}"),
            }
        }
        booked_slots.sort();
        booked_slots.dedup();
        assert_eq!(booked_slots.len(), 5, "{:?}", t.engine());
        assert_eq!(losers, 25);
        let v = t
            .get(&format!("/api/v1/schedules/{schedule}"), &admin)
            .await
            .json();
        assert_eq!(v["reserved"]["free"], 0);
        assert_eq!(v["public"]["free"], 45);
    }
}
