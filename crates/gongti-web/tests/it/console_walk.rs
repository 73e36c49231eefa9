//! Every page as every role, on the demo region: sign in as each demo user, follow
//! the links of the console from the home page (three levels, a few pages of each
//! kind), and fail on any link to the API's JSON, any link
//! the role is shown but cannot follow (a 4xx or 5xx) and on any raw code — a
//! snake_case token or a stored code word — in the visible text of a Chinese page.

use std::collections::{BTreeSet, VecDeque};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gongti_app::demo::DEMO_USERS;

use crate::support::{Reply, reply_of};

const PASSWORD: &str = "walk-password-1";
/// Pages looked at per role, and of each shape (the path with its numbers as `#`):
/// a few residents' pages, not every one a list links to.
const PAGES_PER_ROLE: usize = 80;
const PAGES_PER_SHAPE: usize = 3;
/// How many links away from the home page the walk goes.
const DEPTH: usize = 3;

fn shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Stored codes that must never reach a Chinese page as they are.
const CODE_WORDS: [&str; 22] = [
    "clinic",
    "home",
    "phone",
    "hypertension",
    "diabetes",
    "routine",
    "emergency",
    "requested",
    "accepted",
    "rejected",
    "arrived",
    "returned",
    "cancelled",
    "active",
    "renewed",
    "switched",
    "terminated",
    "expired",
    "booked",
    "reserved",
    "public",
    "request",
];

async fn sign_in(router: &axum::Router, username: &str) -> String {
    form_sign_in(router, "/login", username, "gongti_session").await
}

/// Signs the demo's resident in on the phone page; returns the session cookie.
async fn patient_sign_in(router: &axum::Router) -> String {
    form_sign_in(router, "/patient/login", "patient", "gongti_patient").await
}

/// Signs in through a sign-in form; returns the value of the session cookie.
async fn form_sign_in(
    router: &axum::Router,
    login: &str,
    username: &str,
    session_cookie: &str,
) -> String {
    let page = reply_of(router, Request::get(login).body(Body::empty()).unwrap()).await;
    let csrf = crate::console::cookie_value(&page, "gongti_login_csrf").expect("a sign-in token");
    let reply = reply_of(
        router,
        Request::post(login)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("gongti_login_csrf={csrf}"))
            .body(Body::from(format!(
                "username={username}&password={PASSWORD}&csrf={csrf}"
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "{username}: {}",
        reply.text
    );
    crate::console::cookie_value(&reply, session_cookie).expect("a session")
}

/// The text a person reads: no tags, scripts, styles or drawings, entities as is.
fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let tag = &rest[open..];
        let skip_to = ["script", "style", "svg", "title"]
            .iter()
            .find(|name| {
                tag[1..].starts_with(*name) && tag[1 + name.len()..].starts_with(['>', ' '])
            })
            .and_then(|name| {
                tag.find(&format!("</{name}>"))
                    .map(|end| end + name.len() + 3)
            });
        rest = match skip_to {
            Some(end) => &tag[end..],
            None => match tag.find('>') {
                Some(end) => &tag[end + 1..],
                None => "",
            },
        };
    }
    out.push_str(rest);
    out
}

/// Raw codes in a Chinese page's text: snake_case tokens and stored code words.
fn raw_codes(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.is_empty() || !word.starts_with(|c: char| c.is_ascii_lowercase()) {
            continue;
        }
        let snake = word.contains('_')
            && word
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit());
        if snake || CODE_WORDS.contains(&word) {
            found.push(word.to_owned());
        }
    }
    found
}

/// The console links of a page (same origin, not the API, FHIR or sign-out).
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .filter(|h| {
            h.starts_with('/')
                && !h.starts_with("//")
                && !["/api", "/fhir", "/lang/", "/logout", "/metrics", "/healthz"]
                    .iter()
                    .any(|p| h.starts_with(p))
        })
        .collect()
}

async fn get(router: &axum::Router, session: &str, path: &str) -> Reply {
    reply_of(
        router,
        Request::get(path)
            .header(
                header::COOKIE,
                format!("gongti_session={session}; gongti_lang=zh"),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// A small demo region on SQLite and the router serving it.
async fn demo() -> (gongti_app::App, axum::Router) {
    let store = gongti_testdb::fresh_sqlite().await;
    // (Dropping the audit writer's handle leaves it running.)
    let (app, _writer) = gongti_app::App::start(store, gongti_app::system_clock())
        .await
        .unwrap();
    app.seed_demo(3_000, 7, PASSWORD, |_, _| {}).await.unwrap();
    let router = gongti_web::router(app.clone(), gongti_web::WebConfig::default());
    (app, router)
}

#[tokio::test]
async fn every_page_as_every_role_shows_words_not_codes() {
    let (_app, router) = demo().await;
    let mut problems = Vec::new();
    let mut looked_at = 0;
    for (username, _) in DEMO_USERS {
        let session = sign_in(&router, username).await;
        let mut seen = BTreeSet::new();
        let mut shapes: std::collections::HashMap<String, usize> = Default::default();
        let mut queue = VecDeque::from([("/".to_owned(), 0)]);
        while let Some((path, depth)) = queue.pop_front() {
            if seen.len() >= PAGES_PER_ROLE || seen.contains(&path) {
                continue;
            }
            let of_shape = shapes.entry(shape(&path)).or_default();
            if *of_shape >= PAGES_PER_SHAPE {
                continue;
            }
            *of_shape += 1;
            seen.insert(path.clone());
            let reply = get(&router, &session, &path).await;
            looked_at += 1;
            if !reply.status.is_success() && !reply.status.is_redirection() {
                problems.push(format!("{username} {path}: {}", reply.status));
                continue;
            }
            let is_html = reply
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html"));
            if !is_html {
                continue;
            }
            let codes = raw_codes(&visible_text(&reply.text));
            if !codes.is_empty() {
                problems.push(format!("{username} {path}: {codes:?}"));
            }
            // A person follows links to pages, not to the API's JSON.
            for api in reply.text.split("href=\"/api/v1/").skip(1) {
                let target = api.split('"').next().unwrap_or("");
                if target != "docs" && !target.contains("/files/") {
                    problems.push(format!("{username} {path}: links to /api/v1/{target}"));
                }
            }
            if depth < DEPTH {
                for link in links(&reply.text) {
                    if !seen.contains(&link) {
                        queue.push_back((link, depth + 1));
                    }
                }
            }
        }
    }
    // The resident's phone pages, as the demo's own `patient`.
    let patient = patient_sign_in(&router).await;
    for path in ["/patient", "/patient/health"] {
        let reply = reply_of(
            &router,
            Request::get(path)
                .header(
                    header::COOKIE,
                    format!("gongti_patient={patient}; gongti_lang=zh"),
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        looked_at += 1;
        if reply.status != StatusCode::OK {
            problems.push(format!("patient {path}: {}", reply.status));
            continue;
        }
        let codes = raw_codes(&visible_text(&reply.text));
        if !codes.is_empty() {
            problems.push(format!("patient {path}: {codes:?}"));
        }
        // The demo's resident is contracted and under chronic management.
        if path == "/patient/health"
            && (reply.text.contains("尚未签约") || reply.text.contains("未纳入"))
        {
            problems.push(format!("patient {path}: no contract or programme to show"));
        }
    }
    assert!(looked_at > 150, "only {looked_at} pages looked at");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_walk_sees_codes_and_not_markup() {
    let page = r#"<style>a_b{}</style><p class="x_y">高血压 · <code>urgent_bp</code> clinic</p><svg><text>sbp_mmhg</text></svg><title>t_t</title>"#;
    let text = visible_text(page);
    assert_eq!(raw_codes(&text), vec!["urgent_bp", "clinic"], "{text}");
    assert!(raw_codes(&visible_text("<p>HbA1c 7.0 mmHg API</p>")).is_empty());
}

/// A dashboard figure drills down to its patients as a page, masked for an officer
/// and named for the institution's clinicians, and exports as CSV (audited).
#[tokio::test]
async fn a_figure_drills_down_to_a_page_and_a_csv_of_its_patients() {
    let (app, router) = demo().await;
    let year = app.today().year();
    let query = format!(
        "disease=hypertension&indicator=standardised_management&from={year}-01-01&to={year}-12-31"
    );

    let officer = sign_in(&router, "officer").await;
    let board = get(
        &router,
        &officer,
        &format!("/dashboard?scope=city&from={year}-01-01&to={year}-12-31"),
    )
    .await;
    assert!(
        board.text.contains("id=\"coverage\"") && board.text.contains("签约率"),
        "{}",
        board.text
    );
    let list_link = format!(
        "/dashboard/patients?scope=city&amp;{}",
        query.replace('&', "&amp;")
    );
    assert!(board.text.contains(&list_link), "{}", board.text);
    let list = get(
        &router,
        &officer,
        &format!("/dashboard/patients?scope=city&{query}"),
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert!(
        list.text.contains("已脱敏") && list.text.contains("导出 CSV"),
        "{}",
        list.text
    );
    assert!(
        !list.text.contains("href=\"/residents/"),
        "an officer gets no record links"
    );
    let rows = list.text.matches("<td class=\"id\">").count();
    assert!(rows > 5, "{}", list.text);
    // The list pages forward and back again.
    let href_of = |html: &str, rel: &str| {
        html.split(&format!("rel=\"{rel}\" href=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|h| h.replace("&amp;", "&"))
    };
    assert_eq!(
        href_of(&list.text, "prev"),
        None,
        "the first page has no way back"
    );
    let second = get(&router, &officer, &href_of(&list.text, "next").unwrap()).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let back = href_of(&second.text, "prev").expect("a way back");
    assert!(!back.contains("cursor="), "back to the first page: {back}");
    let third = href_of(&second.text, "next").expect("a third page");
    assert!(third.contains("trail=p.c"), "{third}");
    let third = get(&router, &officer, &third).await;
    let to_second = href_of(&third.text, "prev").unwrap();
    assert_eq!(
        get(&router, &officer, &to_second).await.text,
        second.text,
        "back from the third page is the second"
    );
    assert_eq!(
        get(&router, &officer, &back).await.text,
        list.text,
        "and from the second the first"
    );

    let before = app.store().audit_count().await.unwrap();
    let file = get(
        &router,
        &officer,
        &format!("/dashboard/patients?scope=city&{query}&format=csv"),
    )
    .await;
    assert_eq!(file.status, StatusCode::OK);
    let after = app.store().audit_count().await.unwrap();
    let trail = app
        .store()
        .audit_records(before, (after - before) as u32)
        .await
        .unwrap()
        .records;
    assert!(
        trail.iter().any(|r| r.entry.action == "indicators.export"
            && r.entry.actor_username == "officer"
            && r.entry
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with("format=csv rows="))),
        "the export is on the trail"
    );
    assert_eq!(
        file.headers[header::CONTENT_TYPE],
        "text/csv; charset=utf-8"
    );
    assert!(
        file.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
    );
    assert!(
        file.text.starts_with('\u{feff}'),
        "a byte-order mark for spreadsheets"
    );
    let lines: Vec<&str> = file.text.lines().collect();
    assert_eq!(lines[1], "姓名,身份证号,性别,年龄段,管理机构");
    assert!(lines.len() >= rows + 2, "{}", file.text);
    assert!(
        lines[2..].iter().all(|l| l.contains('*')),
        "masked: {}",
        file.text
    );

    // The same list as a spreadsheet: every row, all text, on the trail too.
    let book = get(
        &router,
        &officer,
        &format!("/dashboard/patients?scope=city&{query}&format=xlsx"),
    )
    .await;
    assert_eq!(book.status, StatusCode::OK, "{}", book.text);
    assert_eq!(
        book.headers[header::CONTENT_TYPE],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let sheet = {
        use calamine::Reader;
        let mut xlsx: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(book.bytes.clone())).unwrap();
        xlsx.worksheet_range("名单").unwrap()
    };
    let cells: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(cells[1], ["姓名", "身份证号", "性别", "年龄段", "管理机构"]);
    assert_eq!(cells.len(), lines.len(), "as many rows as the CSV");
    assert_eq!(
        cells[2..],
        lines[2..]
            .iter()
            .map(|l| l.split(',').map(str::to_owned).collect::<Vec<_>>())
            .collect::<Vec<_>>()[..],
        "the same rows as the CSV"
    );
    let trail = app.store().audit_records(after, 50).await.unwrap().records;
    assert!(
        trail.iter().any(|r| r.entry.action == "indicators.export"
            && r.entry
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with("format=xlsx rows="))),
        "the spreadsheet is on the trail"
    );

    // The institution's family doctor sees its own patients by name, with links.
    let doctor = sign_in(&router, "doctor").await;
    let home = app
        .store()
        .user_by_username("doctor")
        .await
        .unwrap()
        .unwrap()
        .staff_id;
    let institution = app
        .staff_member(home)
        .await
        .unwrap()
        .institution_id
        .unwrap();
    let mine = get(
        &router,
        &doctor,
        &format!("/dashboard/patients?scope=institution:{institution}&{query}"),
    )
    .await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert!(
        mine.text.contains("href=\"/residents/") && !mine.text.contains("已脱敏"),
        "{}",
        mine.text
    );
    // Not another scope's list.
    let city = get(
        &router,
        &doctor,
        &format!("/dashboard/patients?scope=city&{query}"),
    )
    .await;
    assert_eq!(city.status, StatusCode::FORBIDDEN, "{}", city.text);
}

/// The operations big screen: this year's figures as the API counts them, all 16
/// districts on the map with their rates and links for the city's officer; a
/// district's user sees only their own district's figure and cannot ask for the city.
#[tokio::test]
async fn the_big_screen_shows_the_city_and_a_district_its_own() {
    let (app, router) = demo().await;
    let officer = sign_in(&router, "officer").await;
    let screen = get(&router, &officer, "/dashboard/screen").await;
    assert_eq!(screen.status, StatusCode::OK, "{}", screen.text);
    assert!(
        raw_codes(&visible_text(&screen.text)).is_empty(),
        "{}",
        screen.text
    );
    let districts = app.districts().await.unwrap();
    assert_eq!(districts.len(), 16);
    for d in &districts {
        assert!(screen.text.contains(&d.name), "{}: {}", d.name, screen.text);
        assert!(
            screen
                .text
                .contains(&format!("href=\"/dashboard?scope=district:{}\"", d.code)),
            "{} links to its dashboard",
            d.name
        );
    }
    // The figure is the API's for the city this year.
    let year = app.today().year();
    let token = crate::support::reply_of(
        &router,
        Request::post("/api/v1/auth/token")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!(
                r#"{{"username":"officer","password":"{PASSWORD}"}}"#
            )))
            .unwrap(),
    )
    .await
    .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = crate::support::reply_of(
        &router,
        Request::get(format!(
            "/api/v1/indicators?scope=city&from={year}-01-01&to={year}-12-31&disease=hypertension"
        ))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap(),
    )
    .await
    .json();
    let rate = api["programmes"][0]["indicators"][0]["rate"]
        .as_f64()
        .unwrap();
    let shown = format!("{:.2}%", rate * 100.0);
    assert!(screen.text.contains(&shown), "{shown}: {}", screen.text);

    // A district's user: their own district's tile carries a figure, the others none.
    let district = sign_in(&router, "district").await;
    let own = get(&router, &district, "/dashboard/screen").await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    let tiles_with_figures = own.text.matches("font-weight=\"700\"").count();
    assert_eq!(tiles_with_figures, 1, "{}", own.text);
    let map = own.text.split("<svg class=\"map\"").nth(1).unwrap();
    let map = map.split("</svg>").next().unwrap();
    assert_eq!(map.matches("href=\"/dashboard?scope=district:").count(), 1);
    let city = get(&router, &district, "/dashboard/screen?scope=city").await;
    assert_eq!(city.status, StatusCode::FORBIDDEN, "{}", city.text);
}
