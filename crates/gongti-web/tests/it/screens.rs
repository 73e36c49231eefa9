//! Each role's main pages in real Chromium on a demo region, photographed at 1440 and
//! 390 px wide and kept as the test run's artefact — `target/screenshots/` (or
//! `GONGTI_SCREENSHOT_DIR`) — to be looked at whenever a page changes. Every page must
//! be shown (a heading, no refusal, no error); Debian's `fonts-noto-cjk` draws the
//! Chinese (scripts/test.sh installs it).

use std::time::Duration;

use fantoccini::Locator;

use crate::browser::{browser_sign_in, chromedriver, connect, fill_sign_in, served, wait_for_url};
use crate::support::PASSWORD;

/// Each role and its main pages (`admin` is the city's administrator, opened as
/// `gongti user create` would).
const PAGES: [(&str, &[&str]); 11] = [
    (
        "doctor",
        &[
            "/",
            "/workstation",
            "/residents",
            "/referrals",
            "/my-prescriptions",
        ],
    ),
    ("nurse", &["/"]),
    ("nhdoctor", &["/", "/online-clinic", "/my-prescriptions"]),
    ("pharmacist", &["/", "/review", "/pharmacy"]),
    ("specialist", &["/", "/referrals", "/consultations"]),
    ("hospadmin", &["/", "/schedules"]),
    (
        "centreadmin",
        &["/", "/residents/import", "/staff", "/staff/new"],
    ),
    ("officer", &["/", "/dashboard", "/dashboard/screen"]),
    ("district", &["/dashboard"]),
    ("insurer", &["/", "/settlements"]),
    (
        "admin",
        &["/", "/institutions", "/institutions/new", "/accounts"],
    ),
];
/// The resident's phone pages.
const PATIENT_PAGES: [&str; 3] = ["/patient", "/patient/health", "/patient/prescriptions"];
const WIDTHS: [(u32, u32); 2] = [(1440, 900), (390, 844)];

fn out_dir() -> std::path::PathBuf {
    let dir = std::env::var_os("GONGTI_SCREENSHOT_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn file_name(user: &str, path: &str, width: u32) -> String {
    let page: String = path
        .trim_matches('/')
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let page = if page.is_empty() {
        "home".to_owned()
    } else {
        page
    };
    format!("{user}-{page}-{width}.png")
}

/// Shows the page at each width, checks it is shown, and keeps its picture.
async fn photograph(c: &fantoccini::Client, base: &str, user: &str, path: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (width, height) in WIDTHS {
        c.set_window_size(width, height).await.unwrap();
        c.goto(&format!("{base}{path}")).await.unwrap();
        if c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("h1"))
            .await
            .is_err()
        {
            problems.push(format!("{user} {path} at {width}: no heading"));
        }
        let source = c.source().await.unwrap();
        for refusal in ["无权访问", "服务器内部错误", "未找到"] {
            if source.contains(refusal) {
                problems.push(format!("{user} {path} at {width}: {refusal}"));
            }
        }
        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a picture of {path}");
        std::fs::write(out_dir().join(file_name(user, path, width)), png).unwrap();
    }
    problems
}

#[tokio::test]
async fn each_roles_main_pages_are_photographed_at_1440_and_390() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let (app, _writer) = gongti_app::App::start(
        gongti_testdb::fresh_sqlite().await,
        gongti_app::system_clock(),
    )
    .await
    .unwrap();
    app.seed_demo(3_000, 11, PASSWORD, |_, _| {}).await.unwrap();
    app.create_staff_account(
        &gongti_store::NewStaff {
            name: "系统管理员".into(),
            role: gongti_core::role::Role::CityAdmin,
            institution_id: None,
            district_code: None,
            department_id: None,
            licence_number: None,
            title: None,
            practice_years: 0,
        },
        "admin",
        PASSWORD,
    )
    .await
    .unwrap();
    let router = gongti_web::router(app, gongti_web::WebConfig::default());
    let base = served(router).await;

    let mut problems = Vec::new();
    let mut taken = 0;
    for (user, pages) in PAGES {
        let c = connect(port).await;
        browser_sign_in(&c, &base, user).await;
        for path in pages {
            problems.extend(photograph(&c, &base, user, path).await);
            taken += WIDTHS.len();
        }
        c.close().await.unwrap();
    }
    // The resident, on the phone pages.
    let c = connect(port).await;
    fill_sign_in(&c, &format!("{base}/patient/login"), "patient").await;
    wait_for_url(&c, "/patient").await;
    c.wait().for_element(Locator::Id("me")).await.unwrap();
    for path in PATIENT_PAGES {
        problems.extend(photograph(&c, &base, "patient", path).await);
        taken += WIDTHS.len();
    }
    c.close().await.unwrap();
    // The cloud pharmacy story's patient: his repeat visits, a parcel delivered, a
    // prescription waiting.
    let c = connect(port).await;
    fill_sign_in(
        &c,
        &format!("{base}/patient/login"),
        gongti_app::demo::STORY_PATIENT,
    )
    .await;
    wait_for_url(&c, "/patient").await;
    for path in ["/patient/visits", "/patient/prescriptions"] {
        problems.extend(photograph(&c, &base, gongti_app::demo::STORY_PATIENT, path).await);
        taken += WIDTHS.len();
    }
    c.close().await.unwrap();

    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let kept = std::fs::read_dir(out_dir())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "png"))
        })
        .count();
    assert!(kept >= taken, "{kept} pictures kept of {taken} taken");
}
