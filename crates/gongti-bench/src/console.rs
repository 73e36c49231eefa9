//! The console as its users meet it (issue 14): every role's main pages on a generated
//! region, each asked for again and again on one connection with the role's session,
//! against the constant `/healthz` handler on the same server in the same run. The
//! pages are the ones a user reaches: each role's menu, read from its home page, and
//! the pages one click deeper (a patient's record from the workstation, the patients
//! behind a dashboard figure, the big screen, the resident's phone).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use gongti_app::App;
use gongti_core::role::Role;

use crate::load::{Load, Summary};

const PASSWORD: &str = "bench-password-1";

/// The goal for a page's p95 (issue 14), and the big screen's.
const PAGE_GOAL_MS: f64 = 50.0;
const SCREEN_GOAL_MS: f64 = 100.0;

/// The demo users walked, and the pages each reaches one click below its menu.
const USERS: [(&str, &[&str]); 11] = [
    ("doctor", &["/residents?name=%E7%8E%8B"]),
    ("nurse", &[]),
    ("phdoctor", &[]),
    ("manager", &[]),
    ("pharmacist", &[]),
    ("specialist", &[]),
    ("hospadmin", &[]),
    ("district", &["/dashboard/screen"]),
    ("officer", &["/dashboard/screen"]),
    ("insurer", &[]),
    ("admin", &[]),
];

pub async fn console(
    residents: u64,
    requests: usize,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let dir = data_dir.unwrap_or_else(|| crate::scratch_dir("gongti-bench-console"));
    let started = Instant::now();
    let (app, generated) = crate::chronic::region(&dir, residents).await?;
    if generated.is_none() {
        println!("== console pages: the region in {}, SQLite", dir.display());
    } else {
        println!(
            "== console pages: a region of {residents} residents, SQLite (generated in {:.1} s)",
            started.elapsed().as_secs_f64()
        );
    }
    ensure_admin(&app).await?;

    let router = gongti_web::router(app.clone(), gongti_web::WebConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(axum::serve(listener, router).into_future());
    let load = Load::new(1);

    println!(
        "each page {requests} times on one connection, after 5 to warm up; times at the client on loopback (ms)\n"
    );
    println!(
        "| user | page | p50 | p95 | p99 | p95 ÷ constant p95 | goal (p95) | errors |\n|---|---|---|---|---|---|---|---|"
    );
    let constant = measure(&load, &format!("{base}/healthz"), "", requests).await?;
    row(
        "—",
        "/healthz (constant handler)",
        &constant,
        &constant,
        None,
    );
    let mut over = Vec::new();
    for (user, deeper) in USERS {
        let cookie = format!("gongti_session={}", sign_in(&load, &base, user).await?);
        let home = page_text(&load, &format!("{base}/"), &cookie).await?;
        let mut paths = vec!["/".to_owned()];
        paths.extend(menu_of(&home));
        paths.extend(deeper.iter().map(|p| (*p).to_owned()));
        // One click deeper: a patient's record (from the home page or the
        // workstation), the patients behind a figure.
        let mut record = first_link(&home, "/residents/", starts_with_digit);
        if record.is_none() && paths.iter().any(|p| p == "/workstation") {
            let desk = page_text(&load, &format!("{base}/workstation"), &cookie).await?;
            record = first_link(&desk, "/residents/", starts_with_digit);
        }
        paths.extend(record);
        if paths.iter().any(|p| p == "/dashboard") {
            let dashboard = page_text(&load, &format!("{base}/dashboard"), &cookie).await?;
            if let Some(p) = first_link(&dashboard, "/dashboard/patients?", |_| true) {
                paths.push(p);
            }
        }
        let mut seen = std::collections::HashSet::new();
        paths.retain(|p| seen.insert(p.clone()));
        for path in paths {
            // A menu entry that leads on (科室与团队 → the institution's own page) is
            // measured where it leads.
            let path = landing(&load, &base, &path, &cookie).await?;
            let s = measure(&load, &format!("{base}{path}"), &cookie, requests).await?;
            let goal = if path.starts_with("/dashboard/screen") {
                SCREEN_GOAL_MS
            } else {
                PAGE_GOAL_MS
            };
            row(user, &path, &s, &constant, Some(goal));
            if s.p(95.0) > goal || s.errors > 0 {
                over.push(format!("{user} {path}"));
            }
        }
    }
    // The resident's phone.
    let cookie = patient_cookie(&load, &base).await?;
    for path in ["/patient", "/patient/health"] {
        let s = measure(&load, &format!("{base}{path}"), &cookie, requests).await?;
        row("patient", path, &s, &constant, Some(PAGE_GOAL_MS));
        if s.p(95.0) > PAGE_GOAL_MS || s.errors > 0 {
            over.push(format!("patient {path}"));
        }
    }
    if over.is_empty() {
        println!("\nevery page within its goal");
    } else {
        println!("\nover the goal or with errors: {}", over.join(", "));
    }
    Ok(())
}

fn row(user: &str, path: &str, s: &Summary, constant: &Summary, goal: Option<f64>) {
    let goal = goal.map_or("—".to_owned(), |g| {
        format!(
            "≤ {g:.0} ms {}",
            if s.p(95.0) <= g { "met" } else { "**not met**" }
        )
    });
    println!(
        "| {user} | `{path}` | {:.2} | {:.2} | {:.2} | {:.1}× | {goal} | {} |",
        s.p(50.0),
        s.p(95.0),
        s.p(99.0),
        s.p(95.0) / constant.p(95.0).max(0.001),
        s.errors
    );
}

async fn measure(load: &Load, url: &str, cookie: &str, requests: usize) -> anyhow::Result<Summary> {
    load.get_times(url, cookie, 5, 200).await?;
    let s = load.get_times(url, cookie, requests, 200).await?;
    if let Some(e) = &s.first_error {
        eprintln!("{url}: {e}");
    }
    Ok(s)
}

async fn page_text(load: &Load, url: &str, cookie: &str) -> anyhow::Result<String> {
    let req = axum::http::Request::get(url)
        .header("cookie", cookie)
        .body(http_body_util::Full::new(axum::body::Bytes::new()))?;
    let (status, _, body) = load.exchange(req).await?;
    if status != 200 {
        bail!("{url}: {status}");
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The menu's links: the `href`s inside the page's `<nav>`, but for changing the
/// language and signing out.
fn menu_of(page: &str) -> Vec<String> {
    let Some(start) = page.find("<nav") else {
        return Vec::new();
    };
    let end = page[start..]
        .find("</nav>")
        .map_or(page.len(), |e| start + e);
    hrefs(&page[start..end])
        .filter(|h| h.starts_with('/') && !h.starts_with("/lang") && !h.starts_with("/logout"))
        .collect()
}

fn hrefs(html: &str) -> impl Iterator<Item = String> + '_ {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(|h| h.replace("&amp;", "&")))
}

fn starts_with_digit(rest: &str) -> bool {
    rest.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Where `path` lands: itself, or where its redirect points.
async fn landing(load: &Load, base: &str, path: &str, cookie: &str) -> anyhow::Result<String> {
    let req = axum::http::Request::get(format!("{base}{path}"))
        .header("cookie", cookie)
        .body(http_body_util::Full::new(axum::body::Bytes::new()))?;
    let (status, headers, _) = load.exchange(req).await?;
    if !(300..400).contains(&status) {
        return Ok(path.to_owned());
    }
    let to = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .context("a redirect's location")?;
    Ok(to.strip_prefix(base).unwrap_or(to).to_owned())
}

/// The first link starting with `prefix` whose rest passes `ok`.
fn first_link(page: &str, prefix: &str, ok: impl Fn(&str) -> bool) -> Option<String> {
    hrefs(page).find(|h| h.strip_prefix(prefix).is_some_and(&ok))
}

/// The value of cookie `name` set by an answer.
fn set_cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers.get_all("set-cookie").iter().find_map(|v| {
        v.to_str()
            .ok()?
            .strip_prefix(&format!("{name}="))?
            .split(';')
            .next()
            .map(str::to_owned)
    })
}

/// Signs in through a sign-in form (`/login` or `/patient/login`); the answer's headers.
async fn form_sign_in(
    load: &Load,
    base: &str,
    path: &str,
    username: &str,
) -> anyhow::Result<axum::http::HeaderMap> {
    let req = axum::http::Request::get(format!("{base}{path}"))
        .body(http_body_util::Full::new(axum::body::Bytes::new()))?;
    let (_, headers, _) = load.exchange(req).await?;
    let csrf = set_cookie(&headers, "gongti_login_csrf").context("the sign-in form's token")?;
    let form = format!("username={username}&password={PASSWORD}&csrf={csrf}");
    let req = axum::http::Request::post(format!("{base}{path}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("gongti_login_csrf={csrf}"))
        .body(http_body_util::Full::new(form.into()))?;
    let (status, headers, body) = load.exchange(req).await?;
    if status != 303 {
        bail!(
            "sign-in of {username} at {path}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(headers)
}

async fn sign_in(load: &Load, base: &str, username: &str) -> anyhow::Result<String> {
    let headers = form_sign_in(load, base, "/login", username).await?;
    set_cookie(&headers, "gongti_session").context("a session")
}

async fn patient_cookie(load: &Load, base: &str) -> anyhow::Result<String> {
    let headers = form_sign_in(load, base, "/patient/login", "patient").await?;
    let token = set_cookie(&headers, "gongti_patient").context("a phone session")?;
    Ok(format!("gongti_patient={token}"))
}

/// The city administrator, as `gongti serve` makes it on first start.
async fn ensure_admin(app: &App) -> anyhow::Result<()> {
    if app.store().user_by_username("admin").await?.is_some() {
        return Ok(());
    }
    let staff = gongti_store::NewStaff {
        name: "系统管理员".into(),
        role: Role::CityAdmin,
        institution_id: None,
        district_code: None,
        department_id: None,
        licence_number: None,
        title: None,
        practice_years: 0,
    };
    app.create_staff_account(&staff, "admin", PASSWORD)
        .await
        .map_err(|e| anyhow::anyhow!("creating admin: {e:?}"))?;
    Ok(())
}
