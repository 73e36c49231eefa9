//! Bringing residents in from an institution's own list (花名册导入): CSV in UTF-8 or
//! GBK and XLSX, through the API and the console's upload page — every problem at
//! once by line and column with nothing saved, then every row or none, a repeat
//! registering nobody twice.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;

use crate::console::{page, sign_in};
use crate::console_scheduling::csrf_of;
use crate::support::{
    HOME_RESIDENT_ID_NUMBER, OTHER_RESIDENT_ID_NUMBER, Reply, TestApp, id_number_born,
};

async fn upload(t: &TestApp, token: &str, query: &str, content_type: &str, body: Vec<u8>) -> Reply {
    t.send(
        Request::post(format!("/api/v1/residents/import{query}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

fn places(reply: &Reply) -> Vec<(i64, String, String)> {
    reply.json()["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["line"].as_i64().unwrap(),
                p["column"].as_str().unwrap_or("").to_owned(),
                p["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn good_list() -> String {
    let mut text = String::from("姓名,身份证号,性别,出生日期,联系电话,住址\n");
    for i in 1..=5 {
        text.push_str(&format!(
            "居民{i},{},,1950/01/01,1380013800{i},和平区卫津路{i}号\n",
            id_number_born("19500101", 500 + i)
        ));
    }
    // Registered here already: left as stored.
    text.push_str(&format!("张三,{HOME_RESIDENT_ID_NUMBER},,,,\n"));
    text
}

#[tokio::test]
async fn a_centre_checks_its_list_sees_every_problem_then_loads_every_row_once() {
    for t in TestApp::all().await {
        let admin = t.token("instadmin").await;

        // Every problem at once, by line and column; nothing saved.
        let bad = format!(
            "姓名,身份证号,出生日期\n\
             甲,{},1950-01-01\n\
             ,{},1950-01-02\n\
             丙,110105194912310021,\n\
             丁,{},1950年\n\
             戊,{},\n\
             己,{OTHER_RESIDENT_ID_NUMBER},\n",
            id_number_born("19500101", 601),
            id_number_born("19500102", 602),
            id_number_born("19500103", 603),
            id_number_born("19500101", 601),
        );
        let r = upload(&t, &admin, "?dry_run=true", "text/csv", bad.into_bytes()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(
            places(&r),
            [
                (3, "name".into(), "required".into()),
                (4, "id_number".into(), "id_number_check_character".into()),
                (5, "birth_date".into(), "malformed".into()),
                (6, "id_number".into(), "duplicate_row".into()),
                (7, "id_number".into(), "registered_elsewhere".into()),
            ],
            "{}",
            r.text
        );
        // A record merged into another keeps its ID number: registered already.
        let merged_id = id_number_born("19500109", 650);
        let mut ids = Vec::new();
        for (name, id) in [
            ("留存", id_number_born("19500109", 651)),
            ("并入", merged_id.clone()),
        ] {
            let r = t
                .post(
                    "/api/v1/residents",
                    &admin,
                    serde_json::json!({"name": name, "id_number": id}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            ids.push(r.json()["id"].as_i64().unwrap());
        }
        let r = t
            .post(
                &format!("/api/v1/residents/{}/merge", ids[0]),
                &admin,
                serde_json::json!({"merged_id": ids[1], "reason": "同一人重复建档"}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
        let merged = format!("姓名,身份证号\n并入,{merged_id}\n");
        for dry_run in ["?dry_run=true", ""] {
            let r = upload(&t, &admin, dry_run, "text/csv", merged.clone().into_bytes()).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            assert_eq!(r.json()["already_registered"], 1);
        }
        let before = t.store.resident_count().await.unwrap();

        // Registered elsewhere, in words.
        let elsewhere = format!("姓名,身份证号\n己,{OTHER_RESIDENT_ID_NUMBER}\n");
        let r = upload(&t, &admin, "", "text/csv", elsewhere.into_bytes()).await;
        assert_eq!(
            places(&r),
            [(2, "id_number".into(), "registered_elsewhere".into())]
        );
        assert!(
            r.json()["problems"][0]["message"]
                .as_str()
                .unwrap()
                .contains("其他机构")
        );
        // A header that is not ours: named, all at once.
        let r = upload(
            &t,
            &admin,
            "",
            "text/csv",
            "名字,证件\n甲,1\n".as_bytes().to_vec(),
        )
        .await;
        assert_eq!(
            places(&r),
            [
                (1, "".into(), "column_unknown".into()),
                (1, "".into(), "column_unknown".into()),
                (1, "name".into(), "column_missing".into()),
                (1, "id_number".into(), "column_missing".into()),
            ]
        );
        assert_eq!(
            t.store.resident_count().await.unwrap(),
            before,
            "nothing saved"
        );

        // The mended list, saved by Excel as GBK: the dry run counts and saves nothing.
        let list = good_list();
        let (gbk, _, _) = encoding_rs::GB18030.encode(&list);
        let r = upload(&t, &admin, "?dry_run=true", "text/csv", gbk.to_vec()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            (r.json()["rows"].clone(), r.json()["registered"].clone()),
            (Value::from(6), Value::from(0))
        );
        assert_eq!(r.json()["already_registered"], 1);
        assert_eq!(r.json()["would_register"], 5, "what a load registers");
        assert_eq!(t.store.resident_count().await.unwrap(), before);

        // The load: every row, audited; the one already here left as stored. Its
        // progress is the loader's to see, and ends done with every row.
        let r = upload(
            &t,
            &admin,
            "?job=api-job-0001",
            "text/csv",
            good_list().into_bytes(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            (
                r.json()["registered"].as_i64(),
                r.json()["already_registered"].as_i64()
            ),
            (Some(5), Some(1))
        );
        assert_eq!(t.store.resident_count().await.unwrap(), before + 5);
        let tail = t.audit_tail(7).await;
        let actions: Vec<&str> = tail.iter().map(|e| e.entry.action.as_str()).collect();
        assert_eq!(
            actions.iter().filter(|a| **a == "resident.create").count(),
            5,
            "{actions:?}"
        );
        assert_eq!(actions.last(), Some(&"resident.import"));
        let found = t
            .get(
                &format!(
                    "/api/v1/residents?id_number={}",
                    id_number_born("19500101", 503)
                ),
                &admin,
            )
            .await;
        assert_eq!(found.json()["items"][0]["name"], "居民3");
        assert_eq!(found.json()["items"][0]["sex"], "male");
        let job = t.get("/api/v1/jobs/api-job-0001", &admin).await;
        assert_eq!(job.status, StatusCode::OK, "{}", job.text);
        assert_eq!(
            (
                job.json()["stage"].clone(),
                job.json()["done"].clone(),
                job.json()["total"].clone()
            ),
            (Value::from("done"), Value::from(6), Value::from(6))
        );
        // A key that cannot name a job is refused before anything is read.
        let r = upload(
            &t,
            &admin,
            "?job=short",
            "text/csv",
            good_list().into_bytes(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.json()["problems"][0]["field"], "job", "{}", r.text);
        let doctor = t.token("doctor").await;
        for (token, key) in [(&doctor, "api-job-0001"), (&admin, "api-job-0002")] {
            let r = t.get(&format!("/api/v1/jobs/{key}"), token).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{key}: {}", r.text);
        }

        // The same list again registers nobody twice.
        let r = upload(&t, &admin, "", "text/csv", good_list().into_bytes()).await;
        assert_eq!(
            (
                r.json()["registered"].as_i64(),
                r.json()["already_registered"].as_i64()
            ),
            (Some(0), Some(6))
        );
        assert_eq!(t.store.resident_count().await.unwrap(), before + 5);

        // Who may not register residents may not bring them in.
        for user in ["officer", "admin", "specialist"] {
            let token = t.token(user).await;
            let r = upload(
                &t,
                &token,
                "?dry_run=true",
                "text/csv",
                good_list().into_bytes(),
            )
            .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}");
        }
    }
}

#[tokio::test]
async fn an_xlsx_list_is_read_with_its_dates_and_an_id_number_kept_as_a_number_is_named() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let admin = t.token("instadmin").await;
    let book = |id_as_number: bool| {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        // A title, a blank row, the header on row 3 and the resident on row 5 (a blank
        // row between): problems name the rows the spreadsheet shows.
        sheet.write_string(0, 0, "卫津社区居民花名册").unwrap();
        for (c, h) in ["*姓名", "*身份证号", "出生日期"].iter().enumerate() {
            sheet.write_string(2, c as u16, *h).unwrap();
        }
        let id = id_number_born("19600229", 700);
        sheet.write_string(4, 0, "陈一").unwrap();
        if id_as_number {
            sheet
                .write_number(4, 1, id[..17].parse::<f64>().unwrap() * 10.0)
                .unwrap();
        } else {
            sheet.write_string(4, 1, &id).unwrap();
        }
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(1960, 2, 29).unwrap();
        let format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        sheet
            .write_datetime_with_format(4, 2, &date, &format)
            .unwrap();
        // A stray cell at the sheet's far corner is not read (nor a grid built to it).
        sheet.write_string(1_048_575, 16_383, "x").unwrap();
        book.save_to_buffer().unwrap()
    };
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let r = upload(&t, &admin, "?dry_run=true", XLSX, book(true)).await;
    assert_eq!(
        places(&r),
        [(5, "id_number".into(), "number_not_text".into())],
        "{}",
        r.text
    );
    let r = upload(&t, &admin, "", XLSX, book(false)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["registered"], 1);
    let found = t
        .get(
            &format!(
                "/api/v1/residents?id_number={}",
                id_number_born("19600229", 700)
            ),
            &admin,
        )
        .await;
    assert_eq!(found.json()["items"][0]["birth_date"], "1960-02-29");
    // Neither CSV nor a workbook.
    let r = upload(&t, &admin, "", XLSX, b"PK\x03\x04broken".to_vec()).await;
    assert_eq!(places(&r), [(0, "".into(), "unreadable".into())]);
}

/// A browser's multipart upload of the console's form.
fn multipart(csrf: &str, mode: &str, file: &[u8]) -> (String, Vec<u8>) {
    multipart_with_job(csrf, mode, "", file)
}

/// The upload form as the page sends it, with its job key (none when empty).
fn multipart_with_job(csrf: &str, mode: &str, job: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----gongti-test-boundary";
    let mut body = Vec::new();
    let fields = [("csrf", csrf), ("mode", mode), ("job", job)];
    for (name, value) in fields.into_iter().filter(|(_, v)| !v.is_empty()) {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"名单.csv\"\r\nContent-Type: text/csv\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn the_console_page_checks_and_loads_a_list_in_words() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let session = sign_in(&t, "instadmin").await;
    let home = page(&t, &session, "/", "zh").await;
    assert!(
        home.text.contains("href=\"/residents/import\""),
        "on the administrator's menu"
    );
    let form = page(&t, &session, "/residents/import", "zh").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.text.contains("居民花名册导入") && form.text.contains("身份证号"));
    let csrf = csrf_of(&form.text);
    // The form as the page sends it: its token, the button, the job key, the file.
    let send_form = |csrf: &str, mode: &str, job: &str, file: &[u8]| {
        let (content_type, body) = multipart_with_job(csrf, mode, job, file);
        t.send(
            Request::post("/residents/import")
                .header(header::CONTENT_TYPE, content_type)
                .header(header::COOKIE, format!("gongti_session={session}"))
                .body(Body::from(body))
                .unwrap(),
        )
    };
    let send = |mode: &'static str, file: Vec<u8>| send_form(&csrf, mode, "", &file);
    let bad = format!(
        "姓名,身份证号\n甲,110105194912310021\n甲,{}\n",
        id_number_born("19500101", 801)
    );
    let r = send("check", bad.into_bytes()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("发现 1 处问题，未保存任何数据"),
        "{}",
        r.text
    );
    assert!(r.text.contains("第 2 行 · 身份证号") && r.text.contains("身份证号校验码错误"));

    let r = send("check", good_list().into_bytes()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text.contains("检查通过：共 6 行")
            && r.text.contains("其中 1 人已在本机构登记")
            && r.text.contains("导入后将新建档 5 人"),
        "{}",
        r.text
    );
    // The form names its job, and its script asks how far the upload has come.
    assert!(
        form.text.contains("name=\"job\"") && form.text.contains("id=\"list-progress\""),
        "{}",
        form.text
    );
    let r = send_form(&csrf, "load", "page-job-0001", good_list().as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("导入完成：新建档 5 人"), "{}", r.text);
    let job = page(&t, &session, "/jobs/page-job-0001", "zh").await;
    assert_eq!(job.status, StatusCode::OK, "{}", job.text);
    assert_eq!(job.json()["stage"], "done", "{}", job.text);
    assert_eq!(job.json()["total"], 6, "{}", job.text);
    let r = send("load", Vec::new()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("请选择要导入的文件"));

    // A forged form is refused, the template is the header the page describes.
    let r = send_form("forged", "load", "", good_list().as_bytes()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let template = page(&t, &session, "/residents/import/template.csv", "zh").await;
    assert!(
        template
            .bytes
            .starts_with(b"\xEF\xBB\xBF*\xE5\xA7\x93\xE5\x90\x8D,"),
        "BOM then *姓名"
    );

    // The doctor finds it from the residents page; an officer is refused in words.
    let doctor = sign_in(&t, "doctor").await;
    assert!(
        page(&t, &doctor, "/residents", "zh")
            .await
            .text
            .contains("id=\"import-link\"")
    );
    let officer = sign_in(&t, "officer").await;
    assert_eq!(
        page(&t, &officer, "/jobs/page-job-0001", "zh").await.status,
        StatusCode::NOT_FOUND,
        "another user's job"
    );
    let r = page(&t, &officer, "/residents/import", "zh").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("无权"));
    assert!(
        !page(&t, &officer, "/residents", "zh")
            .await
            .text
            .contains("import-link")
    );
}

async fn upload_staff(
    t: &TestApp,
    token: &str,
    institution: i64,
    query: &str,
    body: &str,
) -> Reply {
    t.send(
        Request::post(format!(
            "/api/v1/institutions/{institution}/staff/import{query}"
        ))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "text/csv")
        .body(Body::from(body.to_owned()))
        .unwrap(),
    )
    .await
}

#[tokio::test]
async fn an_institution_brings_its_staff_in_from_a_list_on_both_engines() {
    for t in TestApp::all().await {
        let admin = t.token("instadmin").await;
        let dept = t
            .post(
                &format!("/api/v1/institutions/{}/departments", t.home),
                &admin,
                serde_json::json!({"code": "gp", "name": "全科"}),
            )
            .await;
        assert_eq!(dept.status, StatusCode::CREATED, "{}", dept.text);
        let before = t.store.audit_count().await.unwrap();
        let bad = "人员名单\n姓名,角色,科室,执业证书编号,独立执业年限\n吴医生,家庭医生,外科,L-1,8\n,市卫健委,,L-1,\n";
        let r = upload_staff(&t, &admin, t.home, "?dry_run=true", bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(
            places(&r),
            [
                (3, "department".to_owned(), "department_unknown".to_owned()),
                (4, "name".to_owned(), "required".to_owned()),
                (4, "role".to_owned(), "role_not_at_institution".to_owned()),
                (4, "licence_number".to_owned(), "duplicate_row".to_owned()),
            ]
        );
        // (备注 is the list's own column: ignored, and said so.)
        let good = "姓名,角色,科室,执业证书编号,职称,独立执业年限,备注\n吴医生,家庭医生,全科,L-1,主治医师,8,组长\n钱护士,nurse,gp,L-2,,,\n孙公卫,公卫医生,,,,3,\n";
        let r = upload_staff(&t, &admin, t.home, "?dry_run=true", good).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            (
                r.json()["rows"].as_i64(),
                r.json()["added"].as_i64(),
                r.json()["would_add"].as_i64()
            ),
            (Some(3), Some(0), Some(3))
        );
        assert_eq!(r.json()["ignored_columns"], serde_json::json!(["备注"]));
        let staff_of = |name: &'static str| {
            let t = &t;
            let admin = admin.clone();
            async move {
                t.get(
                    &format!(
                        "/api/v1/staff?institution={}&name={}",
                        t.home,
                        crate::support::urlencode(name)
                    ),
                    &admin,
                )
                .await
                .json()["items"]
                    .as_array()
                    .unwrap()
                    .clone()
            }
        };
        assert!(
            staff_of("吴医生").await.is_empty(),
            "a dry run saves nothing"
        );
        let r = upload_staff(&t, &admin, t.home, "", good).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["added"], 3);
        let wu = staff_of("吴医生").await;
        assert_eq!(wu.len(), 1);
        assert_eq!(
            (
                wu[0]["role"].as_str(),
                wu[0]["practice_years"].as_i64(),
                wu[0]["department_id"].clone()
            ),
            (Some("family_doctor"), Some(8), dept.json()["id"].clone())
        );
        // One staff.create per person and the list's own record, with the load.
        let trail = t
            .audit_tail(t.store.audit_count().await.unwrap() - before)
            .await;
        let actions: Vec<&str> = trail.iter().map(|r| r.entry.action.as_str()).collect();
        assert_eq!(
            actions.iter().filter(|a| **a == "staff.create").count(),
            3,
            "{actions:?}"
        );
        assert!(actions.contains(&"staff.import"), "{actions:?}");
        // Loaded again: nobody twice — by licence number, or by name and role.
        let r = upload_staff(&t, &admin, t.home, "", good).await;
        assert_eq!(
            (
                r.json()["added"].as_i64(),
                r.json()["already_on_staff"].as_i64()
            ),
            (Some(0), Some(3)),
            "{}",
            r.text
        );
        // Another institution's administrator brings nobody in here.
        let other = t.token("hospadmin").await;
        let r = upload_staff(&t, &other, t.home, "", good).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        // A resident list is not a staff list.
        let r = upload_staff(&t, &admin, t.home, "", &good_list()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            places(&r).iter().any(|p| p.2 == "column_missing"),
            "{}",
            r.text
        );
    }
}

#[tokio::test]
async fn the_staff_list_page_checks_and_loads_in_words() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let session = sign_in(&t, "instadmin").await;
    let staff = page(
        &t,
        &session,
        &format!("/staff?institution={}", t.home),
        "zh",
    )
    .await;
    assert!(staff.text.contains("id=\"import-staff\""), "{}", staff.text);
    let path = format!("/staff/import?institution={}", t.home);
    let form = page(&t, &session, &path, "zh").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(form.text.contains("人员名单导入") && form.text.contains("执业证书编号"));
    let home_name = t.app.institution_name(t.home).await;
    assert!(
        form.text.contains(&format!("人员名单导入 · {home_name}")),
        "whose list: {}",
        form.text
    );
    let csrf = csrf_of(&form.text);
    let send = |mode: &'static str, file: &str| {
        let (content_type, body) = multipart(&csrf, mode, file.as_bytes());
        t.send(
            Request::post(path.as_str())
                .header(header::CONTENT_TYPE, content_type)
                .header(header::COOKIE, format!("gongti_session={session}"))
                .body(Body::from(body))
                .unwrap(),
        )
    };
    let r = send("check", "姓名,角色\n周医生,院长\n").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("第 2 行 · 角色") && r.text.contains("发现 1 处问题"),
        "{}",
        r.text
    );
    let r = send("load", "姓名,角色,执业证书编号\n周医生,家庭医生,Z-1\n").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("导入完成：新增人员 1 人"), "{}", r.text);
    let template = page(&t, &session, "/staff/import/template.csv", "zh").await;
    assert!(
        String::from_utf8_lossy(&template.bytes).contains("*姓名,*角色,科室"),
        "the staff template"
    );
    // A doctor sets up nobody.
    let doctor = sign_in(&t, "doctor").await;
    assert_eq!(
        page(&t, &doctor, &path, "zh").await.status,
        StatusCode::FORBIDDEN
    );
    // The city administrator, of no institution, picks the institution first.
    let city = sign_in(&t, "admin").await;
    let chooser = page(&t, &city, "/staff/import", "zh").await;
    assert_eq!(chooser.status, StatusCode::OK, "{}", chooser.text);
    assert!(chooser.text.contains("选择机构"), "{}", chooser.text);
    let prefix: String = home_name.chars().take(3).collect();
    let found = page(
        &t,
        &city,
        &format!(
            "/staff/import?name={}",
            prefix
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>()
        ),
        "zh",
    )
    .await;
    assert!(
        found
            .text
            .contains(&format!("href=\"/staff/import?institution={}\"", t.home)),
        "{}",
        found.text
    );
    assert!(!found.text.contains("institution=0"), "{}", found.text);
}

async fn upload_institutions(t: &TestApp, token: &str, query: &str, body: &str) -> Reply {
    t.send(
        Request::post(format!("/api/v1/institutions/import{query}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from(body.to_owned()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_city_brings_its_institutions_in_with_their_ties_on_both_engines() {
    for t in TestApp::all().await {
        let admin = t.token("admin").await;
        let existing = t
            .get(&format!("/api/v1/institutions/{}", t.hospital), &admin)
            .await
            .json()["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let bad = format!(
            "机构编码,机构名称,机构类别,所在区,上级医院编码\n\
             N-H1,新医院,三级医院,不存在区,\n\
             N-C1,新中心,社区卫生服务中心,120101,N-X\n\
             N-C2,另一中心,社区卫生服务中心,120101,N-C1\n\
             N-H2,二院,二级医院,120101,{existing}\n"
        );
        let r = upload_institutions(&t, &admin, "?dry_run=true", &bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(
            places(&r),
            [
                (2, "district".to_owned(), "district_unknown".to_owned()),
                (3, "upper_code".to_owned(), "upper_unknown".to_owned()),
                (4, "upper_code".to_owned(), "tie_not_allowed".to_owned()),
                (5, "upper_code".to_owned(), "tie_not_allowed".to_owned()),
            ]
        );
        // A centre listed before its hospital, another tied to a hospital already here.
        let good = format!(
            "机构编码,机构名称,机构类别,所在区,上级医院编码\n\
             N-C1,新中心,社区卫生服务中心,和平区,N-H1\n\
             N-H1,新医院,tertiary_hospital,120101,\n\
             N-C2,另一中心,乡镇卫生院,120101,{existing}\n\
             {existing},已有医院,三级医院,120101,\n"
        );
        let r = upload_institutions(&t, &admin, "?dry_run=true", &good).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            (
                r.json()["would_add"].as_i64(),
                r.json()["added"].as_i64(),
                r.json()["already_registered"].as_i64()
            ),
            (Some(3), Some(0), Some(1))
        );
        let r = upload_institutions(&t, &admin, "", &good).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["added"], 3);
        let find = |code: &'static str| {
            let t = &t;
            let admin = admin.clone();
            async move {
                let page = t
                    .get("/api/v1/institutions?district=120101&limit=200", &admin)
                    .await
                    .json();
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["code"] == code)
                    .cloned()
                    .unwrap_or_else(|| panic!("{code} in {page}"))
            }
        };
        let hospital = find("N-H1").await;
        let centre = find("N-C1").await;
        assert_eq!(centre["upper_institution_id"], hospital["id"]);
        assert_eq!(find("N-C2").await["upper_institution_id"], t.hospital);
        // Again: every code registered, nothing added.
        let r = upload_institutions(&t, &admin, "", &good).await;
        assert_eq!(
            (
                r.json()["added"].as_i64(),
                r.json()["already_registered"].as_i64()
            ),
            (Some(0), Some(4))
        );
        // Only the city administrator brings institutions in.
        let instadmin = t.token("instadmin").await;
        assert_eq!(
            upload_institutions(&t, &instadmin, "", &good).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

#[tokio::test]
async fn the_institutions_list_page_loads_in_words() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let session = sign_in(&t, "admin").await;
    let list = page(&t, &session, "/institutions", "zh").await;
    assert!(list.text.contains("id=\"import-institutions\""));
    let form = page(&t, &session, "/institutions/import", "zh").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(form.text.contains("机构名单导入") && form.text.contains("上级医院编码"));
    let csrf = csrf_of(&form.text);
    let (content_type, body) = multipart(
        &csrf,
        "load",
        "机构编码,机构名称,机构类别,所在区\nP-1,新村卫生室,村卫生室,120101\n".as_bytes(),
    );
    let r = t
        .send(
            Request::post("/institutions/import")
                .header(header::CONTENT_TYPE, content_type)
                .header(header::COOKIE, format!("gongti_session={session}"))
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("导入完成：新增机构 1 个"), "{}", r.text);
    let centre = sign_in(&t, "instadmin").await;
    assert_eq!(
        page(&t, &centre, "/institutions/import", "zh").await.status,
        StatusCode::FORBIDDEN
    );
}
