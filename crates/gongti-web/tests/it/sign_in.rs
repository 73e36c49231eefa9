//! Sign-in under attack, on both engines (DOMAIN.md §10): failures are counted and
//! checked atomically however many arrive at once; a lock says when it ends (429 with
//! Retry-After), is reported at the next sign-in and can be lifted by an
//! administrator; an unknown name is answered exactly like a wrong password; one
//! source is blocked across every name it tries; residents' accounts alike.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use gongti_core::audit::Outcome;
use gongti_core::throttle::ThrottleParams;
use serde_json::{Value, json};

use crate::support::{PASSWORD, Reply, TestApp};

fn limit() -> i64 {
    ThrottleParams::default().failures_before_lock
}

async fn send(router: &axum::Router, path: &str, body: Value) -> Reply {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    crate::support::reply_of(router, request).await
}

fn retry_after(r: &Reply) -> u64 {
    r.headers
        .get(header::RETRY_AFTER)
        .unwrap_or_else(|| panic!("no Retry-After: {}", r.text))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The home resident's own account, opened by the doctor (password `her-own-pass-1`).
async fn open_resident_account(t: &TestApp, username: &str) {
    let doctor = t.token("doctor").await;
    let r = t
        .post(
            &format!("/api/v1/residents/{}/patient-account", t.home_resident),
            &doctor,
            json!({"username": username, "password": "her-own-pass-1"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

async fn resident_sign_in(t: &TestApp, username: &str, password: &str) -> Reply {
    t.post(
        "/api/v1/patient/token",
        "",
        json!({"username": username, "password": password}),
    )
    .await
}

#[tokio::test]
async fn a_lock_says_when_it_ends_is_reported_and_can_be_lifted() {
    for t in TestApp::all().await {
        for attempt in 1..limit() {
            let r = t.sign_in("nurse", "wrong-password").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        }
        let r = t.sign_in("nurse", "wrong-password").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
        assert_eq!(r.json()["code"], "locked");
        let wait = retry_after(&r);
        assert!((890..=900).contains(&wait), "Retry-After {wait}");
        // The right password is refused too while locked, without being checked.
        let r = t.sign_in("nurse", PASSWORD).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(r.json()["message"].as_str().unwrap().contains("管理员解锁"));
        // An administrator lifts it; the nurse is told of the failures at once.
        t.app.unlock_user("nurse").await.unwrap();
        let r = t.sign_in("nurse", PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["notice"]["failed_attempts"], limit());
        // Told once: the next sign-in has nothing to report.
        let r = t.sign_in("nurse", PASSWORD).await;
        assert!(r.json().get("notice").is_none(), "{}", r.text);
        let trail = t.audit_tail(40).await;
        assert!(trail.iter().any(|r| r.entry.action == "user.unlock"));
        assert!(trail.iter().any(|r| r.entry.action == "auth.sign_in"
            && r.entry.detail.as_deref() == Some("locked")
            && r.entry.outcome == Outcome::Failed));
    }
}

#[tokio::test]
async fn many_wrong_passwords_at_once_never_beat_the_limit() {
    for t in TestApp::all().await {
        let router = t.router.clone();
        let mut attempts = Vec::new();
        for n in 0..40 {
            let router = router.clone();
            attempts.push(tokio::spawn(async move {
                send(
                    &router,
                    "/api/v1/auth/token",
                    json!({"username": "nurse", "password": format!("guess-{n}-wrong")}),
                )
                .await
                .status
            }));
        }
        let right = {
            let router = router.clone();
            tokio::spawn(async move {
                send(
                    &router,
                    "/api/v1/auth/token",
                    json!({"username": "nurse", "password": PASSWORD}),
                )
                .await
                .status
            })
        };
        let mut statuses = Vec::new();
        for a in attempts {
            statuses.push(a.await.unwrap());
        }
        let right = right.await.unwrap();
        // At most `limit` attempts had their password checked, the right one among
        // them or not; every other one was refused with 429.
        let checked = statuses
            .iter()
            .filter(|s| **s != StatusCode::TOO_MANY_REQUESTS)
            .count() as i64
            + i64::from(right == StatusCode::OK);
        assert!(
            checked <= limit(),
            "{checked} checked: {statuses:?} / {right}"
        );
        assert!(
            statuses
                .iter()
                .all(|s| matches!(*s, StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS)),
            "{statuses:?}"
        );
        assert!(
            matches!(right, StatusCode::OK | StatusCode::TOO_MANY_REQUESTS),
            "{right}"
        );
        let checks = t
            .audit_tail(200)
            .await
            .into_iter()
            .filter(|r| {
                r.entry.action == "auth.sign_in"
                    && r.entry
                        .detail
                        .as_deref()
                        .is_some_and(|d| d.starts_with("wrong_password"))
            })
            .count() as i64;
        assert!(checks <= limit(), "{checks} wrong passwords were checked");
    }
}

/// A success clears the name's count while others are deciding theirs: right
/// passwords sent together (fewer than the limit: each counts until it succeeds) all
/// sign in, round after round (a race once answered 404 on PostgreSQL).
#[tokio::test]
async fn right_passwords_sent_together_all_sign_in() {
    for t in TestApp::all().await {
        for round in 0..12 {
            let mut attempts = Vec::new();
            for _ in 1..limit() {
                let router = t.router.clone();
                attempts.push(tokio::spawn(async move {
                    let r = send(
                        &router,
                        "/api/v1/auth/token",
                        json!({"username": "nurse", "password": PASSWORD}),
                    )
                    .await;
                    (r.status, r.text)
                }));
            }
            for a in attempts {
                let (status, text) = a.await.unwrap();
                assert_eq!(status, StatusCode::OK, "round {round}: {text}");
            }
        }
    }
}

#[tokio::test]
async fn an_unknown_name_is_answered_like_a_wrong_password() {
    for t in TestApp::all().await {
        // Several names of each kind, each tried up to just before its lock, the two
        // kinds in turn: enough samples that a busy machine cannot tip the comparison.
        let (mut known, mut unknown) = (Vec::new(), Vec::new());
        for (name, nobody) in [
            ("specialist", "nobody-there"),
            ("district", "nobody-else"),
            ("insurer", "nobody-at-all"),
            ("nurse", "nobody-here"),
        ] {
            for _ in 0..limit() - 1 {
                let began = Instant::now();
                let a = t.sign_in(name, "wrong-password").await;
                known.push(began.elapsed());
                let began = Instant::now();
                let b = t.sign_in(nobody, "wrong-password").await;
                unknown.push(began.elapsed());
                assert_eq!((a.status, &a.text), (b.status, &b.text));
            }
        }
        // The last allowed attempt locks either name alike.
        let a = t.sign_in("nurse", "wrong-password").await;
        let b = t.sign_in("nobody-here", "wrong-password").await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            (a.status, a.json()["code"].clone()),
            (b.status, b.json()["code"].clone())
        );
        assert!(retry_after(&a).abs_diff(retry_after(&b)) <= 1);
        // And takes as long: the same work, a decoy hash for the unknown name. The
        // quickest of each is compared: a busy machine only ever adds time.
        let (k, u) = (*known.iter().min().unwrap(), *unknown.iter().min().unwrap());
        let gap = k.abs_diff(u);
        assert!(
            gap < Duration::from_millis(60) || gap < k.max(u) / 4,
            "quickest {k:?} for a wrong password, {u:?} for an unknown name"
        );
    }
}

#[tokio::test]
async fn one_source_is_blocked_whatever_names_it_tries() {
    for t in TestApp::all().await {
        let from = |ip: [u8; 4]| {
            let config = gongti_web::WebConfig::default();
            gongti_web::router(t.app.clone(), config)
                .layer(MockConnectInfo(SocketAddr::from((ip, 40000))))
        };
        let attacker = from([203, 0, 113, 9]);
        let budget = ThrottleParams::default().source_failures;
        for n in 0..budget {
            let r = send(
                &attacker,
                "/api/v1/auth/token",
                json!({"username": format!("user{n}"), "password": "wrong-password-1"}),
            )
            .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{n}: {}", r.text);
        }
        let r = send(
            &attacker,
            "/api/v1/auth/token",
            json!({"username": "doctor", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
        assert!(retry_after(&r) > 0);
        // Another source, and the doctor's own account, are untouched.
        let r = send(
            &from([198, 51, 100, 7]),
            "/api/v1/auth/token",
            json!({"username": "doctor", "password": PASSWORD}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let blocked = t.audit_tail(5).await;
        assert!(
            blocked
                .iter()
                .any(|r| r.entry.detail.as_deref() == Some("source_blocked")
                    && r.entry.reason.as_deref() == Some("from 203.0.113.9"))
        );
    }
}

#[tokio::test]
async fn a_residents_account_locks_the_same_way() {
    for t in TestApp::all().await {
        open_resident_account(&t, "zhang.xy").await;
        let token = |password: &'static str| resident_sign_in(&t, "zhang.xy", password);
        for _ in 1..limit() {
            assert_eq!(token("wrong-pass-1").await.status, StatusCode::UNAUTHORIZED);
        }
        let r = token("wrong-pass-1").await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        retry_after(&r);
        assert_eq!(
            token("her-own-pass-1").await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
        // A staff account of the same name is another account.
        assert_eq!(
            t.sign_in("zhang.xy", "whatever-1").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

/// The lock message says to ask an administrator: the city administrator sees the
/// locked staff accounts in the console and lifts a lock there (a staff member's from
/// the list, a resident's by name), audited with who did it; nobody else may.
#[tokio::test]
async fn the_city_administrator_lifts_locks_in_the_console() {
    use crate::console::{page, sign_in};
    use crate::console_scheduling::{csrf_of, post_form};
    for t in TestApp::all().await {
        let admin = sign_in(&t, "admin").await;
        let empty = page(&t, &admin, "/accounts", "zh").await;
        assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
        assert!(
            empty.text.contains("目前没有被锁定的账号"),
            "{}",
            empty.text
        );
        for _ in 0..limit() {
            t.sign_in("nurse", "wrong-password").await;
        }
        assert_eq!(
            t.sign_in("nurse", PASSWORD).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
        let listed = page(&t, &admin, "/accounts", "zh").await;
        assert!(
            listed.text.contains("<td>nurse</td>") && listed.text.contains("锁定至"),
            "{}",
            listed.text
        );
        let csrf = csrf_of(&listed.text);
        // Without the session's CSRF token: refused, still locked.
        let r = post_form(
            &t,
            &admin,
            "/accounts/unlock",
            "csrf=x&kind=staff&username=nurse",
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // Another role: refused and audited.
        let doctor = sign_in(&t, "doctor").await;
        let r = page(&t, &doctor, "/accounts", "zh").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let doctor_csrf = csrf_of(&page(&t, &doctor, "/", "zh").await.text);
        let r = post_form(
            &t,
            &doctor,
            "/accounts/unlock",
            &format!("csrf={doctor_csrf}&kind=staff&username=nurse"),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(
            t.sign_in("nurse", PASSWORD).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
        // An unknown name: said so on the page.
        let r = post_form(
            &t,
            &admin,
            "/accounts/unlock",
            &format!("csrf={csrf}&kind=staff&username=nobody"),
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert!(r.text.contains("账号解锁") && r.text.contains("role=\"alert\""));
        let r = post_form(
            &t,
            &admin,
            "/accounts/unlock",
            &format!("csrf={csrf}&kind=staff&username=nurse"),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        let after = page(&t, &admin, "/accounts?unlocked=1", "zh").await;
        assert!(after.text.contains("已解锁") && !after.text.contains("<td>nurse</td>"));
        assert_eq!(t.sign_in("nurse", PASSWORD).await.status, StatusCode::OK);
        let trail = t.audit_tail(60).await;
        assert!(trail.iter().any(|r| r.entry.action == "user.unlock"
            && r.entry.actor_username == "admin"
            && r.entry.outcome == Outcome::Ok));
        assert!(trail.iter().any(|r| r.entry.action == "user.unlock"
            && r.entry.actor_username == "doctor"
            && r.entry.outcome == Outcome::Denied));

        // A resident's account, by name.
        open_resident_account(&t, "li.min").await;
        let token = |password: &'static str| resident_sign_in(&t, "li.min", password);
        for _ in 0..limit() {
            token("wrong-pass-1").await;
        }
        assert_eq!(
            token("her-own-pass-1").await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
        let r = post_form(
            &t,
            &admin,
            "/accounts/unlock",
            &format!("csrf={csrf}&kind=resident&username=li.min"),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(token("her-own-pass-1").await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn staff_change_their_own_password_in_the_console() {
    use crate::console::{page, sign_in};
    use crate::console_scheduling::{csrf_of, post_form};
    for t in TestApp::all().await {
        let nurse = sign_in(&t, "nurse").await;
        let home = page(&t, &nurse, "/", "zh").await;
        assert!(
            home.text.contains("href=\"/account/password\""),
            "{}",
            home.text
        );
        let form = page(&t, &nurse, "/account/password", "zh").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.text);
        assert!(form.text.contains("当前密码") && form.text.contains("再次输入新密码"));
        let csrf = csrf_of(&form.text);
        let change = |current: &str, new: &str, again: &str| {
            format!(
                "csrf={csrf}&current_password={current}&new_password={new}&confirm_password={again}"
            )
        };
        let post = |body: String| {
            let t = &t;
            let nurse = nurse.clone();
            async move { post_form(t, &nurse, "/account/password", &body).await }
        };
        // Without the session's CSRF token: refused.
        let r = post(format!(
            "csrf=x&current_password={PASSWORD}&new_password=new-pass-99&confirm_password=new-pass-99"
        ))
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // The two new passwords differ; one too short for the rules.
        let r = post(change(PASSWORD, "new-pass-99", "new-pass-98")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("两次输入的新密码不一致"), "{}", r.text);
        let r = post(change(PASSWORD, "short", "short")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("新密码须为 8–128 个字符"), "{}", r.text);
        // A wrong current password: refused and counted like a sign-in.
        let r = post(change("wrong-pass-1", "new-pass-99", "new-pass-99")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("当前密码错误"), "{}", r.text);
        let again = t.sign_in("nurse", PASSWORD).await;
        assert_eq!(
            again.status,
            StatusCode::OK,
            "nothing changed: {}",
            again.text
        );
        assert_eq!(
            again.json()["notice"]["failed_attempts"],
            1,
            "{}",
            again.text
        );
        // The right one: every session ends, this one too, and the login page says why.
        let r = post(change(PASSWORD, "new-pass-99", "new-pass-99")).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(r.headers[header::LOCATION], "/login?changed=1");
        assert_eq!(
            page(&t, &nurse, "/", "zh").await.headers[header::LOCATION],
            "/login"
        );
        let login = page(&t, "", "/login?changed=1", "zh").await;
        assert!(login.text.contains("密码已修改"), "{}", login.text);
        assert_eq!(
            t.sign_in("nurse", PASSWORD).await.status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            t.sign_in("nurse", "new-pass-99").await.status,
            StatusCode::OK
        );
        let trail = t.audit_tail(40).await;
        let changes: Vec<(&str, Outcome)> = trail
            .iter()
            .filter(|r| r.entry.action == "user.change_password")
            .map(|r| (r.entry.detail.as_deref().unwrap_or(""), r.entry.outcome))
            .collect();
        assert_eq!(
            changes,
            vec![
                ("confirm_password", Outcome::Invalid),
                ("new_password", Outcome::Invalid),
                ("wrong_password", Outcome::Failed),
                ("sessions_ended", Outcome::Ok)
            ],
            "{:?}",
            t.engine()
        );
    }
}
