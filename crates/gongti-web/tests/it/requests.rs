//! Sessions and requests: the API takes the console's cookie for reads only (a write
//! needs the session's CSRF token, or a bearer token); every answer carries the
//! security headers, with inline code allowed only by hash; the public URL, not the
//! client's Host, builds links and decides Secure cookies and HSTS; the server's
//! named limits close half-sent and idle connections and cap how many it serves.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use serde_json::json;
use sha2::Digest;

use crate::console::{page, sign_in};
use crate::support::{Reply, TestApp, reply_of};

fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with the CSRF token")
        + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

async fn with_cookie(
    t: &TestApp,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, format!("gongti_session={cookie}"))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = csrf {
        request = request.header("x-csrf-token", token);
    }
    t.send(request.body(Body::from("{}")).unwrap()).await
}

#[tokio::test]
async fn the_api_takes_the_console_cookie_for_reads_only() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        // An urgent home reading raises an alert to acknowledge.
        let taken = (t.app.now() - time::Duration::hours(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let r = t
            .post(
                "/api/v1/readings/batch",
                &doctor,
                json!({"readings": [{"resident_id": t.home_resident, "client_reading_id": "c-1",
                    "kind": "bp", "taken_at": taken, "sbp_mmhg": 196, "dbp_mmhg": 118}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let alerts = t.get("/api/v1/worklists/alerts", &doctor).await.json();
        let alert = alerts["items"][0]["id"].as_i64().unwrap();
        let acknowledge = format!("/api/v1/alerts/{alert}/acknowledge");

        let session = sign_in(&t, "doctor").await;
        // Reading with the cookie works (the console links to API lists and files).
        let me = with_cookie(&t, "GET", "/api/v1/me", &session, None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        // A body-less write with the cookie alone — what a form on a sibling origin
        // could send — is refused and audited.
        let forged = with_cookie(&t, "POST", &acknowledge, &session, None).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
        assert_eq!(forged.json()["code"], "csrf");
        let wrong = with_cookie(&t, "POST", &acknowledge, &session, Some("not-the-token")).await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN);
        let trail = t.audit_tail(2).await;
        assert!(trail.iter().all(|r| r.entry.action == "request.csrf"));
        // The session's own token lets the console's script through; a bearer token
        // needs none.
        let home = page(&t, &session, "/", "zh").await;
        let csrf = csrf_of(&home.text);
        let ok = with_cookie(&t, "POST", &acknowledge, &session, Some(&csrf)).await;
        assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
        let again = t.post(&acknowledge, &doctor, json!({})).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    for t in TestApp::all().await {
        let session = sign_in(&t, "doctor").await;
        let doctor = t.token("doctor").await;
        let answers = [
            t.send(Request::get("/healthz").body(Body::empty()).unwrap())
                .await,
            t.send(Request::get("/login").body(Body::empty()).unwrap())
                .await,
            t.send(Request::get("/nowhere").body(Body::empty()).unwrap())
                .await,
            t.get("/api/v1/me", "not-a-token").await,
            t.get(&format!("/api/v1/residents/{}", t.home_resident), &doctor)
                .await,
            t.get("/fhir/metadata", &doctor).await,
            page(
                &t,
                &session,
                &format!("/residents/{}", t.home_resident),
                "zh",
            )
            .await,
        ];
        for a in &answers {
            let h = |name: &str| {
                a.headers
                    .get(name)
                    .unwrap_or_else(|| panic!("{} without {name}", a.status))
                    .to_str()
                    .unwrap()
                    .to_owned()
            };
            let csp = h("content-security-policy");
            assert!(
                csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
                "{csp}"
            );
            // A page gets the console's policy; data loads nothing.
            let page = a
                .headers
                .get("content-type")
                .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
            assert_eq!(
                csp == "default-src 'none'; frame-ancestors 'none'",
                !page,
                "{csp}"
            );
            assert_eq!(h("x-frame-options"), "DENY");
            assert_eq!(h("x-content-type-options"), "nosniff");
            assert_eq!(h("referrer-policy"), "same-origin");
            assert_eq!(h("cache-control"), "no-store");
            assert!(a.headers.get("strict-transport-security").is_none());
        }
        // The inline script and style the console serves are exactly what the policy
        // allows by hash.
        let form = page(
            &t,
            &session,
            &format!(
                "/residents/{}/followups/new?disease=hypertension",
                t.home_resident
            ),
            "zh",
        )
        .await;
        let csp = form.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        for (open, close) in [("<script>", "</script>"), ("<style>", "</style>")] {
            let mut rest = form.text.as_str();
            let mut seen = 0;
            while let Some(at) = rest.find(open) {
                let body = &rest[at + open.len()..];
                let end = body.find(close).unwrap();
                let hash = base64::engine::general_purpose::STANDARD
                    .encode(sha2::Sha256::digest(&body.as_bytes()[..end]));
                assert!(
                    csp.contains(&format!("'sha256-{hash}'")),
                    "{open} not allowed by {csp}"
                );
                rest = &body[end..];
                seen += 1;
            }
            assert!(
                seen > 0,
                "the follow-up form serves no {open}: {}",
                form.status
            );
        }
    }
}

#[tokio::test]
async fn the_public_url_not_the_host_header_builds_links_and_decides_https() {
    for t in TestApp::all().await {
        let config = gongti_web::WebConfig {
            public_url: "https://gongti.example.cn".into(),
            trusted_proxies: Vec::new(),
            export_dir: None,
            orthanc: None,
        };
        let router = gongti_web::router(t.app.clone(), config);
        let doctor = t.token("doctor").await;
        let bundle = reply_of(
            &router,
            Request::get("/fhir/Patient?_count=1")
                .header(header::HOST, "evil.example")
                .header("x-forwarded-host", "evil.example")
                .header("x-forwarded-proto", "http")
                .header(header::AUTHORIZATION, format!("Bearer {doctor}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(bundle.status, StatusCode::OK, "{}", bundle.text);
        assert!(!bundle.text.contains("evil.example"), "{}", bundle.text);
        assert!(
            bundle
                .text
                .contains("https://gongti.example.cn/fhir/Patient"),
            "{}",
            bundle.text
        );
        assert!(
            bundle.headers["strict-transport-security"]
                .to_str()
                .unwrap()
                .starts_with("max-age=")
        );
        // Behind the TLS proxy the server listens on loopback: cookies are Secure all
        // the same.
        let login = reply_of(&router, Request::get("/login").body(Body::empty()).unwrap()).await;
        let cookie = login.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.contains("; Secure"), "{cookie}");
        let plain = t
            .send(Request::get("/login").body(Body::empty()).unwrap())
            .await;
        assert!(
            !plain.headers[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}

/// A served router on a port of its own, with small limits.
async fn served(t: &TestApp, limits: gongti_web::ServeLimits) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = gongti_web::router(t.app.clone(), gongti_web::WebConfig::default());
    tokio::spawn(gongti_web::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    port
}

/// Whether the server closed the connection (EOF or reset) within `within`.
fn closed_within(stream: &mut std::net::TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_and_idle_connections_are_closed_and_connections_are_capped() {
    let t = TestApp::all().await.remove(0);
    let limits = gongti_web::ServeLimits {
        header_read_timeout: Duration::from_millis(400),
        connections_max: 3,
    };
    let port = served(&t, limits).await;
    tokio::task::spawn_blocking(move || {
        let connect = || std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        // Three clients send half a request head and wait: the connection limit.
        let mut slow: Vec<_> = (0..3)
            .map(|_| {
                let mut s = connect();
                s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
                    .unwrap();
                s
            })
            .collect();
        // A fourth is not served while they hold the slots...
        let began = Instant::now();
        let mut fourth = connect();
        fourth
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        fourth
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        fourth.read_to_string(&mut answer).unwrap();
        // ...until the header-read time-out closes them; then it is.
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            began.elapsed() >= Duration::from_millis(300),
            "{:?}",
            began.elapsed()
        );
        for s in &mut slow {
            assert!(
                closed_within(s, Duration::from_secs(2)),
                "a half-sent request was held open"
            );
        }
        // A keep-alive connection idle after its answer is closed too.
        let mut idle = connect();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 1024];
        idle.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let n = idle.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        assert!(
            closed_within(&mut idle, Duration::from_secs(2)),
            "an idle connection was held open"
        );
    })
    .await
    .unwrap();
}
