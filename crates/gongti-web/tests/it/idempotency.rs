//! Idempotent creation on both engines: a POST with an `Idempotency-Key` runs once —
//! a repeat gets the first answer, another request under the same key is refused, a
//! key is its sender's own and lasts 24 hours — and a console form submitted twice
//! stores once.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, id_number_born, urlencode};

async fn post_keyed(t: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> Reply {
    t.send(
        Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn residents_named(t: &TestApp, token: &str, prefix: &str) -> usize {
    let list = t
        .get(
            &format!("/api/v1/residents?name={}", urlencode(prefix)),
            token,
        )
        .await
        .json();
    list["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_repeated_post_with_its_key_runs_once() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let nurse = t.token("nurse").await;
        let body = json!({"name": "幂等甲", "id_number": id_number_born("19700707", 31)});
        let first = post_keyed(&t, "/api/v1/residents", &doctor, "reg-0001", &body).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        assert!(first.headers.get("idempotent-replayed").is_none());
        let again = post_keyed(&t, "/api/v1/residents", &doctor, "reg-0001", &body).await;
        assert_eq!(again.status, StatusCode::CREATED);
        assert_eq!(again.text, first.text);
        assert_eq!(again.headers["location"], first.headers["location"]);
        assert_eq!(again.headers["idempotent-replayed"], "true");
        assert_eq!(residents_named(&t, &doctor, "幂等甲").await, 1);
        assert_eq!(t.audit_tail(2).await[0].entry.action, "request.replay");
        // The same key with another request is refused, and nothing is stored.
        let other = json!({"name": "幂等乙", "id_number": id_number_born("19700707", 33)});
        let reused = post_keyed(&t, "/api/v1/residents", &doctor, "reg-0001", &other).await;
        assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reused.json()["code"], "idempotency_key_reused");
        assert_eq!(residents_named(&t, &doctor, "幂等乙").await, 0);
        // A key is its sender's own: the nurse's "reg-0001" is another key.
        let hers = post_keyed(&t, "/api/v1/residents", &nurse, "reg-0001", &other).await;
        assert_eq!(hers.status, StatusCode::CREATED, "{}", hers.text);
        // A refusal is kept like any answer: the repeat gets it again.
        let bad = json!({"name": "", "id_number": "1"});
        let refused = post_keyed(&t, "/api/v1/residents", &doctor, "reg-0002", &bad).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        let refused_again = post_keyed(&t, "/api/v1/residents", &doctor, "reg-0002", &bad).await;
        assert_eq!(
            (refused_again.status, refused_again.text),
            (refused.status, refused.text)
        );
        // A key lasts 24 hours.
        t.shift_clock(2);
        let doctor = t.token("doctor").await;
        let later = post_keyed(&t, "/api/v1/residents", &doctor, "reg-0001", &other).await;
        assert_eq!(later.status, StatusCode::CONFLICT, "{}", later.text);
        assert_eq!(later.json()["code"], "id_number_taken");
        t.shift_clock(0);
        // A key that is not one.
        let r = post_keyed(&t, "/api/v1/residents", &doctor, "带空格 key", &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn a_double_submitted_follow_up_is_stored_once() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let id = t.home_resident;
        let r = t
            .post(
                &format!("/api/v1/residents/{id}/enrolments"),
                &doctor,
                json!({"icd10": "I10", "diagnosed_on": "2019-05-01"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let body = json!({"disease": "hypertension", "method": "clinic",
            "visit_on": t.app.today().to_string(), "sbp_mmhg": 138, "dbp_mmhg": 86});
        let path = format!("/api/v1/residents/{id}/followups");
        // Two at once, as a double tap sends them.
        let (a, b) = tokio::join!(
            post_keyed(&t, &path, &doctor, "fu-1", &body),
            post_keyed(&t, &path, &doctor, "fu-1", &body)
        );
        let statuses = [a.status, b.status];
        assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
        assert!(
            statuses
                .iter()
                .all(|s| matches!(*s, StatusCode::CREATED | StatusCode::CONFLICT)),
            "{statuses:?}"
        );
        let listed = t
            .get(&format!("/api/v1/residents/{id}/followups"), &doctor)
            .await
            .json();
        assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

        // The console's form carries its own key: submitted twice, stored once.
        let session = crate::console::sign_in(&t, "doctor").await;
        let form_page = crate::console::page(
            &t,
            &session,
            &format!("/residents/{id}/followups/new?disease=hypertension"),
            "zh",
        )
        .await;
        let field = |name: &str| {
            let at = form_page
                .text
                .find(&format!("name=\"{name}\" value=\""))
                .unwrap_or_else(|| panic!("no {name} in the form"))
                + name.len()
                + 15;
            form_page.text[at..at + form_page.text[at..].find('"').unwrap()].to_owned()
        };
        let form = format!(
            "csrf={}&idempotency_key={}&disease=hypertension&method=clinic&visit_on={}&sbp_mmhg=142&dbp_mmhg=88",
            field("csrf"),
            field("idempotency_key"),
            t.app.today()
        );
        let submit = || {
            t.send(
                Request::post(format!("/residents/{id}/followups"))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::COOKIE, format!("gongti_session={session}"))
                    .body(Body::from(form.clone()))
                    .unwrap(),
            )
        };
        let first = submit().await;
        let second = submit().await;
        assert_eq!(first.status, second.status, "{}", second.text);
        assert_eq!(second.headers["idempotent-replayed"], "true");
        let listed = t
            .get(&format!("/api/v1/residents/{id}/followups"), &doctor)
            .await
            .json();
        assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
    }
}
