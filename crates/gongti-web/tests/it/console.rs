use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::support::{PASSWORD, TestApp};

pub(crate) fn cookie_value(reply: &crate::support::Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap().to_owned())
        })
}

pub(crate) async fn sign_in(t: &TestApp, username: &str) -> String {
    let page = t
        .send(Request::get("/login").body(Body::empty()).unwrap())
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("登录"));
    let csrf = cookie_value(&page, "gongti_login_csrf").unwrap();
    assert!(
        page.headers
            .get(header::SET_COOKIE)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("HttpOnly; SameSite=Strict")
    );
    let form = format!("username={username}&password={PASSWORD}&csrf={csrf}");
    let reply = t
        .send(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, format!("gongti_login_csrf={csrf}"))
                .body(Body::from(form))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    cookie_value(&reply, "gongti_session").unwrap()
}

pub(crate) async fn page(
    t: &TestApp,
    session: &str,
    path: &str,
    lang: &str,
) -> crate::support::Reply {
    t.send(
        Request::get(path)
            .header(
                header::COOKIE,
                format!("gongti_session={session}; gongti_lang={lang}"),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_doctor_signs_in_and_finds_a_resident_with_the_id_number_masked() {
    for t in TestApp::all().await {
        let session = sign_in(&t, "doctor").await;
        let home = page(&t, &session, "/", "zh").await;
        assert!(home.text.contains("家庭医生"), "{}", home.text);
        let found = page(&t, &session, "/residents?name=%E5%BC%A0", "zh").await;
        assert!(found.text.contains("张秀英"));
        assert!(found.text.contains("1101**********002X"));
        assert!(!found.text.contains("11010519491231002X"));
        let profile = page(
            &t,
            &session,
            &format!("/residents/{}", t.home_resident),
            "en",
        )
        .await;
        assert!(profile.text.contains("ID number") && profile.text.contains("11010519491231002X"));
        // The record's own recent audit trail: the doctor's registration and this read.
        assert!(
            profile.text.contains("id=\"access-log\""),
            "{}",
            profile.text
        );
        assert!(
            profile.text.contains("resident record created")
                && profile.text.contains("resident record read")
                && !profile.text.contains("resident.read"),
            "{}",
            profile.text
        );
        let tree = page(&t, &session, "/institutions?district=120101", "zh")
            .await
            .text;
        let (hospital, centre) = (tree.find("测试H1").unwrap(), tree.find("测试C1").unwrap());
        assert!(
            hospital < centre,
            "the centre is listed under its upper hospital"
        );
        let staff = page(&t, &session, "/staff", "zh").await.text;
        assert!(
            staff.contains("id=\"teams\"") && staff.contains("王医生团队"),
            "{staff}"
        );
        assert!(staff.contains("doctor姓名") && staff.contains("nurse姓名"));
        for path in ["/institutions", "/staff"] {
            assert_eq!(
                page(&t, &session, path, "zh").await.status,
                StatusCode::OK,
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn a_login_without_the_csrf_cookie_is_refused() {
    for t in TestApp::all().await {
        let reply = t
            .send(
                Request::post("/login")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(format!(
                        "username=doctor&password={PASSWORD}&csrf=forged"
                    )))
                    .unwrap(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(cookie_value(&reply, "gongti_session").is_none());
    }
}

#[tokio::test]
async fn without_a_session_pages_redirect_to_sign_in() {
    for t in TestApp::all().await {
        let reply = t
            .send(Request::get("/residents").body(Body::empty()).unwrap())
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.headers[header::LOCATION], "/login");
        // An API token is not a console session.
        let token = t.token("doctor").await;
        assert_eq!(
            page(&t, &token, "/", "zh").await.status,
            StatusCode::SEE_OTHER
        );
    }
}
