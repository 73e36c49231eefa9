//! End to end in a real headless Chromium (Debian `chromium` + `chromium-driver`):
//! a family doctor signs in to the console and finds a resident.

use std::net::TcpListener as StdListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use crate::support::{PASSWORD, TestApp};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// ChromeDriver in a process group of its own, with the Chromium it starts: dropped
/// (a test ending, or panicking before its session is closed), the whole group is
/// killed, so that no browser outlives the test run.
pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        // `kill -KILL -<group>` reaches Chromium's processes too; killing the driver
        // alone would leave them to init.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts ChromeDriver, or says why not: a failure in CI, a loud skip elsewhere.
pub(crate) fn chromedriver() -> Option<(Driver, u16)> {
    if !std::path::Path::new(CHROMEDRIVER).exists() || !std::path::Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI requires {CHROMIUM} and {CHROMEDRIVER}"
        );
        eprintln!(
            "SKIPPED browser test: install chromium and chromium-driver (scripts/test.sh does)"
        );
        return None;
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    Some((Driver(child), port))
}

pub(crate) async fn connect(port: u16) -> fantoccini::Client {
    let profile = gongti_testdb::temp_dir("gongti-chromium");
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                "--window-size=1280,900", format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let caps = caps.as_object().unwrap().clone();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..50 {
        match ClientBuilder::new(connector.clone())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return client,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!("chromedriver did not accept a session on port {port}");
}

/// Serves the router on a free loopback port for the browser; its base URL.
pub(crate) async fn served(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, router).into_future());
    base
}

/// Waits until the browser has navigated to a URL containing `part`, so that the next
/// look-up cannot find an element of the page it left.
pub(crate) async fn wait_for_url(c: &fantoccini::Client, part: &str) {
    for _ in 0..100 {
        if c.current_url().await.unwrap().as_str().contains(part) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the browser never reached a URL containing {part}");
}

#[tokio::test]
async fn a_doctor_signs_in_in_chromium_and_finds_a_resident() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let base = served(t.router.clone()).await;

    let c = connect(port).await;
    c.goto(&format!("{base}/residents")).await.unwrap();
    // Not signed in: the console sends us to the sign-in page, in Chinese.
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    assert!(c.source().await.unwrap().contains("登录"));
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys("doctor")
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("header .who"))
        .await
        .unwrap();
    assert!(c.source().await.unwrap().contains("家庭医生"));

    c.find(Locator::LinkText("居民"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let name = c
        .wait()
        .for_element(Locator::Css("input[name=name]"))
        .await
        .unwrap();
    name.send_keys("张").await.unwrap();
    c.find(Locator::Css("form.search button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The unsearched page has a table too: wait for the search's own page.
    wait_for_url(&c, "name=").await;
    let table = c
        .wait()
        .for_element(Locator::Id("residents"))
        .await
        .unwrap();
    let text = table.text().await.unwrap();
    assert!(text.contains("张秀英"), "{text}");
    assert!(
        text.contains("1101**********002X"),
        "the list masks ID numbers: {text}"
    );

    c.find(Locator::LinkText("张秀英"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let profile = c
        .wait()
        .for_element(Locator::Css("dl.profile"))
        .await
        .unwrap();
    assert!(profile.text().await.unwrap().contains("11010519491231002X"));

    // Switch to English and stay on the page.
    wait_for_url(&c, "/residents/").await;
    c.find(Locator::LinkText("English"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The same URL comes back in English: wait for an English label, not the old page.
    c.wait()
        .for_element(Locator::XPath("//dt[text()='Record held by']"))
        .await
        .unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(
        gongti_testdb::temp_dir("gongti-shot").join("profile.png"),
        png,
    )
    .unwrap();

    c.find(Locator::Css("header form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("username")).await.unwrap();
    c.close().await.unwrap();
}

/// Signs `username` in through the browser's sign-in page.
pub(crate) async fn browser_sign_in(c: &fantoccini::Client, base: &str, username: &str) {
    fill_sign_in(c, &format!("{base}/login"), username).await;
    c.wait()
        .for_element(Locator::Css("header .who"))
        .await
        .unwrap();
}

/// Opens a sign-in page, types the name and the tests' password, and sends it.
pub(crate) async fn fill_sign_in(c: &fantoccini::Client, page: &str, username: &str) {
    c.goto(page).await.unwrap();
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_workstation_lists_a_due_patient_and_the_form_classifies_as_the_doctor_types() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    // Enrolled and seen 100 days ago, unsatisfactory: overdue now.
    t.shift_clock(-100);
    let base_api = format!("/api/v1/residents/{}", t.home_resident);
    let r = t
        .post(
            &format!("{base_api}/enrolments"),
            &doctor,
            json!({"icd10": "I10", "diagnosed_on": "2019-05-01"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let day = t.app.today().to_string();
    let r = t
        .post(
            &format!("{base_api}/followups"),
            &doctor,
            json!({"disease": "hypertension", "method": "clinic", "visit_on": day, "sbp_mmhg": 156, "dbp_mmhg": 92}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    t.shift_clock(0);

    let base = served(t.router.clone()).await;
    let c = connect(port).await;
    browser_sign_in(&c, &base, "doctor").await;

    c.find(Locator::LinkText("工作台"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::LinkText("逾期"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(&c, "list=overdue").await;
    let list = c.wait().for_element(Locator::Id("worklist")).await.unwrap();
    assert!(list.text().await.unwrap().contains("张秀英"));
    c.find(Locator::LinkText("张秀英"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(&c, "/chronic").await;
    c.wait()
        .for_element(Locator::Css("svg.chart"))
        .await
        .unwrap();
    assert!(
        c.source().await.unwrap().contains("polyline")
            || c.source().await.unwrap().contains("circle")
    );

    c.find(Locator::Css("a.button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let sbp = c.wait().for_element(Locator::Id("sbp")).await.unwrap();
    sbp.send_keys("186").await.unwrap();
    c.find(Locator::Id("dbp"))
        .await
        .unwrap()
        .send_keys("96")
        .await
        .unwrap();
    // The verdict appears without leaving the page: urgent referral at 186.
    let mut verdict = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Id("evaluation")).await {
            verdict = e.text().await.unwrap_or_default();
            if verdict.contains("紧急转诊") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(verdict.contains("紧急转诊"), "{verdict}");
    assert!(
        verdict.contains("连续两次控制不满意") || verdict.contains("§2"),
        "{verdict}"
    );
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/followups/new")
    );

    c.find(Locator::Id("save"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(&c, "saved=").await;
    let saved = c.wait().for_element(Locator::Css("p.saved")).await.unwrap();
    assert!(saved.text().await.unwrap().contains("随访已保存"));
    let rows = c
        .find(Locator::Id("followups"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(rows.contains("186/96"), "{rows}");
    // The urgent referral put a 14-day task on the worklist.
    c.goto(&format!("{base}/workstation?list=tasks"))
        .await
        .unwrap();
    let tasks = c.wait().for_element(Locator::Id("worklist")).await.unwrap();
    assert!(tasks.text().await.unwrap().contains("张秀英"));
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_officer_reads_the_dashboard_and_drills_down_to_a_district() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    gongti_testdb::logscan::install_scanning_subscriber();
    let (app, _writer) = gongti_app::App::start(
        gongti_testdb::fresh_sqlite().await,
        gongti_app::system_clock(),
    )
    .await
    .unwrap();
    app.seed_demo(3_000, 5, PASSWORD, |_, _| {}).await.unwrap();
    let router = gongti_web::router(app, gongti_web::WebConfig::default());
    let base = served(router).await;
    let c = connect(port).await;
    browser_sign_in(&c, &base, "officer").await;

    c.find(Locator::LinkText("看板"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let table = c
        .wait()
        .for_element(Locator::Id("indicators-hypertension"))
        .await
        .unwrap();
    let text = table.text().await.unwrap();
    assert!(
        text.contains("规范管理率") && text.contains("管理人群血压控制率") && text.contains('%'),
        "{text}"
    );
    assert!(c.find(Locator::Id("indicators-diabetes")).await.is_ok());
    let charts = c.find_all(Locator::Css("svg.chart")).await.unwrap();
    assert_eq!(charts.len(), 2, "two trend charts");
    assert!(c.source().await.unwrap().contains("http-equiv=\"refresh\""));

    // Drill down: the first district with patients.
    let district = c.find(Locator::Css("#children a")).await.unwrap();
    let name = district.text().await.unwrap();
    district.click().await.unwrap();
    wait_for_url(&c, "scope=district").await;
    let heading = c
        .wait()
        .for_element(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(heading.contains(&name), "{heading} / {name}");
    let institutions = c
        .find(Locator::Id("children"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        institutions.contains("社区卫生服务中心") || institutions.contains("镇卫生院"),
        "{institutions}"
    );
    let png = c.screenshot().await.unwrap();
    std::fs::write(
        gongti_testdb::temp_dir("gongti-shot").join("dashboard.png"),
        png,
    )
    .unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_centre_administrator_brings_a_list_in_from_a_file_in_chromium() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let base = served(t.router.clone()).await;
    let mut list = String::from("姓名,身份证号,联系电话\n");
    for i in 1..=3 {
        list.push_str(&format!(
            "导入{i},{},1390000000{i}\n",
            crate::support::id_number_born("19550505", 900 + i)
        ));
    }
    let file = gongti_testdb::temp_dir("gongti-roster").join("名单.csv");
    std::fs::write(&file, list).unwrap();
    let before = t.store.resident_count().await.unwrap();

    let c = connect(port).await;
    browser_sign_in(&c, &base, "instadmin").await;
    c.find(Locator::LinkText("花名册导入"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(&c, "/residents/import").await;
    for (button, expected) in [
        ("check", "检查通过：共 3 行"),
        ("load", "导入完成：新建档 3 人"),
    ] {
        c.wait()
            .for_element(Locator::Id("file"))
            .await
            .unwrap()
            .send_keys(&file.display().to_string())
            .await
            .unwrap();
        // What the progress box says while the list is sent and worked on, kept in
        // the window's name (it outlives the page the answer replaces).
        c.execute(
            "window.name='';var b=document.getElementById('list-progress');\
             new MutationObserver(function(){if(!b.hidden)window.name+=b.innerText+'|'})\
             .observe(b,{subtree:true,childList:true,characterData:true,attributes:true});",
            vec![],
        )
        .await
        .unwrap();
        c.find(Locator::Id(button))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // The answer is a new page: wait for its words, not the last page's.
        let mut shown = String::new();
        for _ in 0..100 {
            shown = c.source().await.unwrap();
            if shown.contains(expected) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(shown.contains(expected), "{button}: {shown}");
        let said = c.execute("return window.name", vec![]).await.unwrap();
        assert!(
            said.as_str().is_some_and(|s| s.contains("正在上传文件")),
            "the page said it was sending the list: {said}"
        );
        if button == "check" {
            assert_eq!(
                t.store.resident_count().await.unwrap(),
                before,
                "checked only"
            );
        }
    }
    assert_eq!(t.store.resident_count().await.unwrap(), before + 3);
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_doctor_drafts_a_prescription_and_the_findings_appear_as_she_types() {
    let Some((_driver, port)) = chromedriver() else {
        return;
    };
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let doctor = t.token("doctor").await;
    let r = t
        .post(
            &format!("/api/v1/residents/{}/enrolments", t.home_resident),
            &doctor,
            json!({"icd10": "I10", "diagnosed_on": "2019-05-01", "diagnosed_offline": true}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let base = served(t.router.clone()).await;
    let c = connect(port).await;
    browser_sign_in(&c, &base, "doctor").await;
    c.goto(&format!("{base}/residents/{}", t.home_resident))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Css("a[href$=\"/prescribe\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_url(&c, "/prescribe").await;
    let name = c
        .wait()
        .for_element(Locator::Css("input[name=line0_name]"))
        .await
        .unwrap();
    name.send_keys("氨氯地平").await.unwrap();
    c.find(Locator::Css("input[name=line0_dose]"))
        .await
        .unwrap()
        .send_keys("20")
        .await
        .unwrap();
    c.find(Locator::Css("input[name=line0_times]"))
        .await
        .unwrap()
        .send_keys("1")
        .await
        .unwrap();
    c.find(Locator::Css("input[name=line0_days]"))
        .await
        .unwrap()
        .send_keys("7")
        .await
        .unwrap();
    // Without leaving the page: 20 mg is over the usual maximum (grade 2). The panel
    // follows each keystroke; it is read once it judges the whole line (an answer to
    // an earlier keystroke may still say the frequency is missing).
    let mut findings = String::new();
    for _ in 0..100 {
        if let Ok(e) = c.find(Locator::Id("rx-findings")).await {
            findings = e.text().await.unwrap_or_default();
            if findings.contains("超剂量") && findings.contains("药师审核") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        findings.contains("超剂量") && findings.contains("不推荐"),
        "{findings}"
    );
    assert!(findings.contains("药师审核"), "{findings}");
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/prescribe")
    );
    // Without it the browser outlives the test (ChromeDriver is killed, not asked).
    c.close().await.unwrap();
}
