//! Residents' own sign-in and self-service booking on both engines: the account opened
//! by their family doctor, the public clinics, booking and cancelling only their own,
//! lockout, and tokens that never cross between patients and staff.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::TestApp;

async fn patient_token(t: &TestApp, username: &str, password: &str) -> crate::support::Reply {
    t.post(
        "/api/v1/patient/token",
        "",
        json!({"username": username, "password": password}),
    )
    .await
}

#[tokio::test]
async fn a_resident_books_a_public_slot_for_themselves() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let admin = t.token("hospadmin").await;
        let other = t.token("other_doctor").await;
        let open = format!("/api/v1/residents/{}/patient-account", t.home_resident);
        // Only someone caring for the resident opens the account.
        let body = json!({"username": "zhang.xiuying", "password": "her-own-pass-1"});
        assert_eq!(
            t.post(&open, &other, body.clone()).await.status,
            StatusCode::FORBIDDEN
        );
        let r = t
            .post(&open, &doctor, json!({"username": "", "password": "short"}))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.json()["problems"].as_array().unwrap().len(), 2);
        let r = t.post(&open, &doctor, body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = t
            .post(
                &open,
                &doctor,
                json!({"username": "another", "password": "her-own-pass-1"}),
            )
            .await;
        assert_eq!(r.json()["code"], "account_exists");

        // A clinic of 10 places, one held back for family doctors.
        let day = (t.app.today() + time::Duration::days(5)).to_string();
        let r = t
            .post(
                "/api/v1/schedules",
                &admin,
                json!({"department_id": t.cardio, "clinic_name": "高血压门诊", "day": day, "session": "am", "slot_count": 10}),
            )
            .await;
        let schedule = r.json()["id"].as_i64().unwrap();

        let r = patient_token(&t, "zhang.xiuying", "her-own-pass-1").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let me = r.json()["access_token"].as_str().unwrap().to_owned();
        // Patient and staff tokens never cross.
        assert_eq!(
            t.get("/api/v1/residents", &me).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            t.get("/api/v1/patient/me", &doctor).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            t.get("/api/v1/patient/me", &me).await.json()["resident_id"],
            t.home_resident
        );

        let clinics = t.get("/api/v1/patient/schedules", &me).await.json();
        let clinic = clinics["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == schedule)
            .unwrap_or_else(|| panic!("{clinics}"))
            .clone();
        assert_eq!(
            clinic["free"], 9,
            "the reserved place is not the public's yet"
        );
        let r = t
            .post(
                "/api/v1/patient/bookings",
                &me,
                json!({"schedule_id": schedule}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let booking = r.json();
        assert_eq!(booking["pool"], "public");
        assert_eq!(booking["booked_by_resident"], true);
        assert_eq!(booking["resident_id"], t.home_resident);
        let r = t
            .post(
                "/api/v1/patient/bookings",
                &me,
                json!({"schedule_id": schedule}),
            )
            .await;
        assert_eq!(r.json()["code"], "already_booked_that_day");
        let mine = t.get("/api/v1/patient/bookings", &me).await.json();
        assert_eq!(mine["items"].as_array().unwrap().len(), 1);

        // Someone else's booking is not theirs to cancel.
        let r = t
            .post(
                "/api/v1/bookings",
                &other,
                json!({"schedule_id": schedule, "resident_id": t.other_resident, "pool": "public"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let theirs = r.json()["id"].as_i64().unwrap();
        let r = t
            .post(
                &format!("/api/v1/patient/bookings/{theirs}/cancel"),
                &me,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let id = booking["id"].as_i64().unwrap();
        let r = t
            .post(
                &format!("/api/v1/patient/bookings/{id}/cancel"),
                &me,
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["status"], "cancelled");

        // Every step is on the resident's own trail.
        let trail = t
            .get(
                &format!("/api/v1/residents/{}/access-log", t.home_resident),
                &doctor,
            )
            .await
            .json();
        let actions: Vec<String> = trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap_or("").to_owned())
            .collect();
        for a in ["patient.sign_in", "patient.book", "patient.cancel"] {
            assert!(
                actions.iter().any(|x| x == a),
                "{a} missing from {actions:?}"
            );
        }

        // Wrong passwords are slowed, then the account locks.
        let mut last = StatusCode::OK;
        for _ in 0..5 {
            last = patient_token(&t, "zhang.xiuying", "wrong-password")
                .await
                .status;
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
        let r = patient_token(&t, "zhang.xiuying", "her-own-pass-1").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test]
async fn a_resident_books_on_the_phone_page() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    let admin = t.token("hospadmin").await;
    let r = t
        .post(
            &format!("/api/v1/residents/{}/patient-account", t.home_resident),
            &doctor,
            json!({"username": "zxy", "password": "her-own-pass-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let day = (t.app.today() + time::Duration::days(3)).to_string();
    let r = t
        .post(
            "/api/v1/schedules",
            &admin,
            json!({"department_id": t.cardio, "clinic_name": "高血压门诊", "day": day, "session": "pm", "slot_count": 20}),
        )
        .await;
    let schedule = r.json()["id"].as_i64().unwrap();

    let get = |path: &str, cookie: String| {
        Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let post = |path: &str, cookie: String, form: String| {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .body(Body::from(form))
            .unwrap()
    };
    // Not signed in: to the sign-in page.
    let r = t.send(get("/patient", String::new())).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = t.send(get("/patient/login", String::new())).await;
    let csrf = crate::console_scheduling::csrf_of(&r.text);
    // A wrong password first: the next sign-in tells her.
    let r = t
        .send(post(
            "/patient/login",
            format!("gongti_login_csrf={csrf}"),
            format!("username=zxy&password=wrong-pass-1&csrf={csrf}"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(
        r.text.contains("用户名或密码错误") && !r.text.contains("令牌"),
        "{}",
        r.text
    );
    let r = t
        .send(post(
            "/patient/login",
            format!("gongti_login_csrf={csrf}"),
            format!("username=zxy&password=her-own-pass-1&csrf={csrf}"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let set = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    let token = set
        .iter()
        .find_map(|c| {
            c.strip_prefix("gongti_patient=")
                .and_then(|v| v.split(';').next())
        })
        .unwrap()
        .to_owned();
    let cookie = format!("gongti_patient={token}");
    assert!(
        set.iter().any(|c| c.starts_with("gongti_notice=1;")),
        "{set:?}"
    );
    let told = t
        .send(get("/patient", format!("{cookie}; gongti_notice=1")))
        .await;
    assert!(
        told.text.contains("次失败的登录尝试") && told.text.contains("<strong>1</strong>"),
        "{}",
        told.text
    );
    assert!(
        told.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("gongti_notice=;")),
        "shown once"
    );
    // The patient cookie is no staff session.
    assert_eq!(
        t.send(get("/residents", cookie.clone())).await.status,
        StatusCode::SEE_OTHER
    );

    let home = t.send(get("/patient", cookie.clone())).await;
    assert!(
        home.text.contains("查找门诊") && home.text.contains("预约（余 18）"),
        "{}",
        home.text
    );
    // The header names the resident, with sign-out at hand.
    assert!(home.text.contains("id=\"me\">张秀英"), "{}", home.text);

    // Her own health: nothing yet, said plainly.
    let health = t.send(get("/patient/health", cookie.clone())).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    assert!(
        health.text.contains("您尚未签约家庭医生"),
        "{}",
        health.text
    );
    // Contracted, in the hypertension programme, a follow-up and an urgent home
    // reading later: her phone shows the team by name, the visit and the alert.
    let base = format!("/api/v1/residents/{}", t.home_resident);
    for (path, body) in [
        (
            format!("{base}/contracts"),
            json!({"team_id": t.team, "resident_consent": true}),
        ),
        (
            format!("{base}/enrolments"),
            json!({"icd10": "I10", "diagnosed_on": "2020-01-01"}),
        ),
        (
            format!("{base}/followups"),
            json!({"disease": "hypertension", "method": "clinic", "visit_on": t.app.today().to_string(),
                   "sbp_mmhg": 148, "dbp_mmhg": 92}),
        ),
        (
            format!("{base}/readings"),
            json!({"client_reading_id": "cuff-1", "kind": "bp", "sbp_mmhg": 192, "dbp_mmhg": 116,
                   "taken_at": (t.app.now() - time::Duration::minutes(5)).format(&time::format_description::well_known::Rfc3339).unwrap()}),
        ),
    ] {
        let r = t.post(&path, &doctor, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{path}: {}", r.text);
    }
    let health = t.send(get("/patient/health", cookie.clone())).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    for shown in [
        "王医生团队",
        "家庭医生 <strong>",
        "高血压",
        "148/92 mmHg",
        "控制不满意",
        "192/116 mmHg",
        "已提醒医生",
        "<svg",
    ] {
        assert!(health.text.contains(shown), "{shown}: {}", health.text);
    }
    assert!(
        !health.text.contains("您尚未签约家庭医生"),
        "{}",
        health.text
    );
    let read = t.audit_tail(1).await;
    assert_eq!(
        (read[0].entry.action.as_str(), read[0].entry.patient_id),
        ("self.read", Some(t.home_resident))
    );
    // Found by hospital and department; another day finds nothing.
    let found = t
        .send(get(
            "/patient?hospital=%E6%B5%8B%E8%AF%95H1&department=%E5%BF%83%E8%A1%80%E7%AE%A1%E5%86%85%E7%A7%91",
            cookie.clone(),
        ))
        .await;
    assert!(found.text.contains("预约（余 18）"), "{}", found.text);
    let none = t.send(get("/patient?day=2000-01-01", cookie.clone())).await;
    assert!(!none.text.contains("预约（余"), "{}", none.text);
    let csrf = crate::console_scheduling::csrf_of(&home.text);
    // Booking asks first, and books nothing until confirmed.
    let asked = t
        .send(post(
            "/patient/book",
            cookie.clone(),
            format!("csrf={csrf}&schedule_id={schedule}"),
        ))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.text);
    assert!(
        asked.text.contains("确认预约") && asked.text.contains("心血管内科"),
        "{}",
        asked.text
    );
    let unchanged = t.send(get("/patient", cookie.clone())).await;
    assert!(
        unchanged.text.contains("预约（余 18）"),
        "{}",
        unchanged.text
    );
    let r = t
        .send(post(
            "/patient/book",
            cookie.clone(),
            format!("csrf={csrf}&schedule_id={schedule}&confirm=1"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let home = t.send(get("/patient", cookie.clone())).await;
    assert!(
        home.text.contains("取消预约") && home.text.contains("预约（余 17）"),
        "{}",
        home.text
    );
    // Cancelling asks first too.
    let booking = home
        .text
        .split("/patient/bookings/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("a booking to cancel")
        .to_owned();
    let asked = t
        .send(post(
            &format!("/patient/bookings/{booking}/cancel"),
            cookie.clone(),
            format!("csrf={csrf}"),
        ))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.text);
    assert!(asked.text.contains("确认取消"), "{}", asked.text);
    let still = t.send(get("/patient", cookie.clone())).await;
    assert!(still.text.contains("预约（余 17）"), "{}", still.text);
    // A forged form books nothing.
    let r = t
        .send(post(
            "/patient/book",
            cookie.clone(),
            format!("csrf=forged&schedule_id={schedule}"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// Opens the home resident's own account (by her doctor) and signs her in over JSON.
pub(crate) async fn her_token(t: &TestApp, username: &str) -> String {
    let doctor = t.token("doctor").await;
    let r = t
        .post(
            &format!("/api/v1/residents/{}/patient-account", t.home_resident),
            &doctor,
            json!({"username": username, "password": "her-own-pass-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = patient_token(t, username, "her-own-pass-1").await;
    r.json()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_resident_uploads_her_own_home_readings() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let me = her_token(&t, "zxy.readings").await;
        let minutes_ago = |m: i64| {
            (t.app.now() - time::Duration::minutes(m))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let reading = |id: &str, sbp: i64, dbp: i64| json!({"client_reading_id": id, "kind": "bp", "sbp_mmhg": sbp, "dbp_mmhg": dbp, "taken_at": minutes_ago(10)});
        // A staff token is no patient's, and a patient's reaches only her own.
        let r = t
            .post("/api/v1/patient/readings", &doctor, reading("c-0", 130, 80))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        let r = t
            .post("/api/v1/patient/readings", &me, reading("c-1", 132, 84))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json()["resident_id"], t.home_resident);
        assert!(r.json()["alert_id"].is_null(), "{}", r.text);
        let audit = t.audit_tail(1).await;
        let e = &audit[0].entry;
        assert_eq!(
            (
                e.action.as_str(),
                e.actor_username.as_str(),
                e.patient_id,
                e.actor_user_id
            ),
            (
                "reading.upload",
                "patient:zxy.readings",
                Some(t.home_resident),
                None
            )
        );
        // The same reading again changes nothing.
        let r = t
            .post("/api/v1/patient/readings", &me, reading("c-1", 132, 84))
            .await;
        assert_eq!(
            (r.status, r.json()["status"].as_str()),
            (StatusCode::OK, Some("duplicate"))
        );
        // Implausible: refused with the field named, nothing stored.
        let r = t
            .post("/api/v1/patient/readings", &me, reading("c-2", 400, 84))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("sbp_mmhg"), "{}", r.text);
        // Urgent: her care team is alerted, as for a reading staff upload.
        let r = t
            .post("/api/v1/patient/readings", &me, reading("c-3", 192, 116))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let alert = r.json()["alert_id"].as_i64().expect("an alert");
        let alerts = t.get("/api/v1/worklists/alerts", &doctor).await.json();
        assert!(
            alerts["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == alert && a["resident_id"] == t.home_resident),
            "{alerts}"
        );
        let list = t
            .get(
                &format!("/api/v1/residents/{}/readings", t.home_resident),
                &doctor,
            )
            .await
            .json();
        let ids: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["client_reading_id"].as_str().unwrap())
            .collect();
        // Taken at the same minute: the newest stored first.
        assert_eq!(ids, ["c-3", "c-1"]);
    }
}

/// Signs the resident in on the phone page; her session cookie.
pub(crate) async fn phone_cookie(t: &TestApp, username: &str) -> String {
    use axum::body::Body;
    use axum::http::{Request, header};
    let r = t
        .send(Request::get("/patient/login").body(Body::empty()).unwrap())
        .await;
    let csrf = crate::console_scheduling::csrf_of(&r.text);
    let r = t
        .send(
            Request::post("/patient/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, format!("gongti_login_csrf={csrf}"))
                .body(Body::from(format!(
                    "username={username}&password=her-own-pass-1&csrf={csrf}"
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let token = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .find_map(|c| {
            c.to_str()
                .unwrap()
                .strip_prefix("gongti_patient=")
                .and_then(|v| v.split(';').next())
                .map(str::to_owned)
        })
        .expect("a session cookie");
    format!("gongti_patient={token}")
}

#[tokio::test]
async fn a_resident_records_a_reading_on_the_phone_page() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    her_token(&t, "zxy.phone").await;
    let cookie = phone_cookie(&t, "zxy.phone").await;
    let get = |path: &str| {
        Request::get(path)
            .header(header::COOKIE, cookie.clone())
            .body(Body::empty())
            .unwrap()
    };
    let post = |form: String| {
        Request::post("/patient/readings")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie.clone())
            .body(Body::from(form))
            .unwrap()
    };
    let page = t.send(get("/patient/health")).await;
    assert!(
        page.text.contains("记录家庭自测") && page.text.contains("保存血压"),
        "{}",
        page.text
    );
    let csrf = crate::console_scheduling::csrf_of(&page.text);
    let now = (t.app.now() - time::Duration::minutes(3)).to_offset(gongti_app::DISPLAY_OFFSET);
    let taken = now
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]"
        ))
        .unwrap();
    // A typo comes back as typed, with the field named, and nothing is stored.
    let r = t
        .send(post(format!(
            "csrf={csrf}&kind=bp&client_reading_id=form-1&sbp_mmhg=1a8&dbp_mmhg=96&taken_at={taken}"
        )))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("收缩压")
            && r.text.contains("value=\"1a8\"")
            && r.text.contains("value=\"form-1\""),
        "{}",
        r.text
    );
    // The refusal is on her trail (before the page's own read of her record).
    let trail = t.audit_tail(3).await;
    assert!(
        trail.iter().any(|r| r.entry.action == "reading.upload"
            && r.entry.outcome.code() == "invalid"
            && r.entry.patient_id == Some(t.home_resident)),
        "{trail:?}"
    );
    // Urgent: saved, and she is told her team was alerted.
    let r = t
        .send(post(format!(
            "csrf={csrf}&kind=bp&client_reading_id=form-1&sbp_mmhg=188&dbp_mmhg=112&taken_at={taken}"
        )))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let to = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    assert!(to.starts_with("/patient/health?saved="), "{to}");
    let shown = t.send(get(to.split('#').next().unwrap())).await;
    assert!(
        shown.text.contains("已保存：188/112 mmHg")
            && shown.text.contains("已提醒您的家庭医生团队"),
        "{}",
        shown.text
    );
    // The same form sent twice stores once.
    let r = t
        .send(post(format!(
            "csrf={csrf}&kind=bp&client_reading_id=form-1&sbp_mmhg=188&dbp_mmhg=112&taken_at={taken}"
        )))
        .await;
    assert_eq!(
        r.headers[header::LOCATION].to_str().unwrap(),
        "/patient/health?saved=repeat#own-upload"
    );
    // Glucose, read in the region's time zone.
    let r = t
        .send(post(format!(
            "csrf={csrf}&kind=glucose&client_reading_id=form-2&glucose_mmol=6.1&glucose_context=postprandial&taken_at={taken}&sbp_mmhg=ignored"
        )))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let list = t
        .get(
            &format!("/api/v1/residents/{}/readings", t.home_resident),
            &doctor,
        )
        .await
        .json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let glucose = items
        .iter()
        .find(|r| r["client_reading_id"] == "form-2")
        .unwrap();
    assert_eq!(glucose["glucose_context"], "postprandial", "{glucose}");
    let at = time::OffsetDateTime::parse(
        glucose["taken_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        at.to_offset(gongti_app::DISPLAY_OFFSET)
            .format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]"
            ))
            .unwrap(),
        taken
    );
    // A forged form stores nothing.
    let r = t
        .send(post(format!(
            "csrf=forged&kind=glucose&client_reading_id=form-3&glucose_mmol=6.1&taken_at={taken}"
        )))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
