//! Region administration in the console, through the forms a browser sends: the city
//! administrator adds an institution tied to its upper hospital; an institution's
//! administrator adds a staff member and opens, resets and disables their sign-in —
//! each refused form kept as entered with its problems in words, each change audited,
//! nothing reachable for another institution's staff.

use axum::http::StatusCode;

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::{TestApp, urlencode};

fn form_of(csrf: &str, fields: &[(&str, &str)]) -> String {
    let mut out = format!("csrf={csrf}");
    for (k, v) in fields {
        out.push_str(&format!("&{k}={}", urlencode(v)));
    }
    out
}

#[tokio::test]
async fn the_city_administrator_adds_an_institution_tied_to_its_hospital() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let admin = sign_in(&t, "admin").await;
    let list = page(&t, &admin, "/institutions", "zh").await;
    assert!(list.text.contains("id=\"new-institution\""));
    let form = page(&t, &admin, "/institutions/new", "zh").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = csrf_of(&form.text);
    let hospital = t.hospital.to_string();

    // A blank name and a code already taken: the form comes back as entered.
    let r = post_form(
        &t,
        &admin,
        "/institutions/new",
        &form_of(
            &csrf,
            &[
                ("code", "C9"),
                ("name", " "),
                ("kind", "community_health_centre"),
                ("district_code", "120101"),
                ("upper_institution_id", &hospital),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("机构名称：必填"), "{}", r.text);
    assert!(r.text.contains("value=\"C9\""), "kept as entered");
    let r = post_form(
        &t,
        &admin,
        "/institutions/new",
        &form_of(
            &csrf,
            &[
                ("code", "C1"),
                ("name", "重名编码中心"),
                ("kind", "community_health_centre"),
                ("district_code", "120101"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text.contains("该机构编码已被使用"));

    let r = post_form(
        &t,
        &admin,
        "/institutions/new",
        &form_of(
            &csrf,
            &[
                ("code", "C9"),
                ("name", "劝业场社区卫生服务中心"),
                ("kind", "community_health_centre"),
                ("district_code", "120101"),
                ("upper_institution_id", &hospital),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let to = r.headers["location"].to_str().unwrap().to_owned();
    let tree = page(&t, &admin, &to, "zh").await;
    assert!(tree.text.contains("劝业场社区卫生服务中心"));
    let tail = t.audit_tail(1).await;
    assert_eq!(
        (
            tail[0].entry.action.as_str(),
            tail[0].entry.actor_username.as_str()
        ),
        ("institution.create", "admin")
    );

    // An institution's administrator may not add institutions.
    let instadmin = sign_in(&t, "instadmin").await;
    assert!(
        !page(&t, &instadmin, "/institutions", "zh")
            .await
            .text
            .contains("new-institution")
    );
    assert_eq!(
        page(&t, &instadmin, "/institutions/new", "zh").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_centre_administrator_adds_a_doctor_and_manages_the_sign_in() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let admin = sign_in(&t, "instadmin").await;
    let list = page(&t, &admin, &format!("/staff?institution={}", t.home), "zh").await;
    assert!(list.text.contains("id=\"new-staff\""), "{}", list.text);
    let form = page(
        &t,
        &admin,
        &format!("/staff/new?institution={}", t.home),
        "zh",
    )
    .await;
    let csrf = csrf_of(&form.text);
    let home = t.home.to_string();
    let fields = |role: &'static str| {
        vec![
            ("institution_id", home.clone()),
            ("name", "周家医".to_owned()),
            ("role", role.to_owned()),
            ("licence_number", "110120000012345".to_owned()),
            ("title", "主治医师".to_owned()),
            ("practice_years", "8".to_owned()),
        ]
    };
    let encode = |f: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form_of(&csrf, &pairs)
    };
    // The city administrator's role is not given at an institution.
    let r = post_form(&t, &admin, "/staff/new", &encode(fields("city_admin"))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("角色：不允许使用该值") && r.text.contains("value=\"周家医\""),
        "{}",
        r.text
    );

    let r = post_form(&t, &admin, "/staff/new", &encode(fields("family_doctor"))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let member = r.headers["location"].to_str().unwrap().to_owned();
    let shown = page(&t, &admin, &member, "zh").await;
    assert!(
        shown.text.contains("周家医") && shown.text.contains("尚未开通登录账号"),
        "{}",
        shown.text
    );
    let path = member.split('?').next().unwrap().to_owned();
    let accounts = format!("{path}/accounts");
    let csrf = csrf_of(&shown.text);
    let account = |fields: &[(&str, &str)]| {
        let body = form_of(&csrf, fields);
        let (t, admin, accounts) = (&t, &admin, &accounts);
        async move { post_form(t, admin, accounts, &body).await }
    };

    // Open a sign-in: a short password is refused in words, then it opens.
    let r = account(&[
        ("action", "open"),
        ("username", "zhoujy"),
        ("password", "short"),
    ])
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("密码"));
    let first = "first-password-2026";
    let r = account(&[
        ("action", "open"),
        ("username", "zhoujy"),
        ("password", first),
    ])
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(t.sign_in("zhoujy", first).await.status, StatusCode::OK);
    let r = account(&[
        ("action", "open"),
        ("username", "zhoujy"),
        ("password", first),
    ])
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "the name is taken");

    // Reset: the new password works, the old does not.
    let user = t
        .store
        .user_by_username("zhoujy")
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    let again = "second-password-2026";
    let r = account(&[("action", "reset"), ("user_id", &user), ("password", again)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        t.sign_in("zhoujy", first).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(t.sign_in("zhoujy", again).await.status, StatusCode::OK);
    // Disable: no sign-in any more.
    let r = account(&[("action", "disable"), ("user_id", &user)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_ne!(t.sign_in("zhoujy", again).await.status, StatusCode::OK);
    assert!(page(&t, &admin, &path, "zh").await.text.contains("已停用"));
    let actions: Vec<String> = t
        .audit_tail(40)
        .await
        .iter()
        .map(|e| e.entry.action.clone())
        .collect();
    for action in [
        "staff.create",
        "user.create",
        "user.set_password",
        "user.disable",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} audited: {actions:?}"
        );
    }

    // Another institution's staff are out of reach.
    let other_staff = t
        .store
        .user_by_username("other_doctor")
        .await
        .unwrap()
        .unwrap()
        .staff_id;
    assert_eq!(
        page(
            &t,
            &admin,
            &format!("/staff/new?institution={}", t.other),
            "zh"
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        page(&t, &admin, &format!("/staff/{other_staff}"), "zh")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let other_user = t
        .store
        .user_by_username("other_doctor")
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    let r = post_form(
        &t,
        &admin,
        &format!("/staff/{other_staff}/accounts"),
        &form_of(
            &csrf,
            &[
                ("action", "reset"),
                ("user_id", &other_user),
                ("password", again),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Nor is a sign-in of another staff member reached through this one's page.
    let r = account(&[("action", "disable"), ("user_id", &other_user)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        t.sign_in("other_doctor", crate::support::PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_api_adds_institutions_staff_and_sign_ins_on_both_engines() {
    for t in TestApp::all().await {
        let admin = t.token("admin").await;
        let r = t
            .post(
                "/api/v1/institutions",
                &admin,
                serde_json::json!({"code": "C8", "name": "小白楼社区卫生服务中心", "kind": "community_health_centre",
                    "district_code": "120101", "upper_institution_id": t.hospital}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let centre = r.json()["id"].as_i64().unwrap();
        assert_eq!(r.json()["upper_institution_id"], t.hospital);
        let r = t
            .post(
                "/api/v1/institutions",
                &admin,
                serde_json::json!({"code": "C9", "name": "x", "kind": "castle", "district_code": "120101"}),
            )
            .await;
        assert_eq!(
            (r.status, r.json()["problems"][0]["field"].clone()),
            (StatusCode::UNPROCESSABLE_ENTITY, "kind".into())
        );

        let r = t
            .post(
                "/api/v1/staff",
                &admin,
                serde_json::json!({"institution_id": centre, "name": "吴医生", "role": "family_doctor", "practice_years": 6}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let staff = r.json()["id"].as_i64().unwrap();
        let r = t
            .post(
                "/api/v1/staff",
                &admin,
                serde_json::json!({"institution_id": centre, "name": "钱官员", "role": "city_officer"}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "an officer does not work at an institution"
        );

        let accounts = format!("/api/v1/staff/{staff}/accounts");
        // A name with a space inside is said to be so, not a wrong length.
        let r = t
            .post(
                &accounts,
                &admin,
                serde_json::json!({"username": "wu ys", "password": "wu-first-2026"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("\"whitespace\""), "{}", r.text);
        let r = t
            .post(
                &accounts,
                &admin,
                serde_json::json!({"username": "wuys", "password": "wu-first-2026"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let user = r.json()["user_id"].as_i64().unwrap();
        let listed = t.get(&accounts, &admin).await.json();
        assert_eq!(listed["items"][0]["username"], "wuys");
        assert_eq!(listed["items"][0]["disabled"], false);
        let signed = t.sign_in("wuys", "wu-first-2026").await;
        assert_eq!(signed.status, StatusCode::OK, "{}", signed.text);
        let doctor = signed.json()["access_token"].as_str().unwrap().to_owned();
        assert_eq!(t.get("/api/v1/me", &doctor).await.status, StatusCode::OK);
        let r = t
            .post(
                &format!("{accounts}/{user}/password"),
                &admin,
                serde_json::json!({"password": "wu-second-2026"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        assert_eq!(
            t.get("/api/v1/me", &doctor).await.status,
            StatusCode::UNAUTHORIZED,
            "the old token ended"
        );
        let r = t
            .post(
                &format!("{accounts}/{user}/disable"),
                &admin,
                serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        assert_ne!(
            t.sign_in("wuys", "wu-second-2026").await.status,
            StatusCode::OK
        );

        // Not an officer's sign-in (no one gains another's city-wide powers), not a
        // client system's, not one's own, and not for a doctor.
        let officer = t.store.user_by_username("officer").await.unwrap().unwrap();
        let r = t
            .post(
                &format!("/api/v1/staff/{}/accounts", officer.staff_id),
                &admin,
                serde_json::json!({"username": "officer2", "password": "officer-second-2026"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let r = t
            .post(
                &format!(
                    "/api/v1/staff/{}/accounts/{}/password",
                    officer.staff_id, officer.id
                ),
                &admin,
                serde_json::json!({"password": "officer-second-2026"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        let me = t
            .store
            .user_by_username("instadmin")
            .await
            .unwrap()
            .unwrap();
        let instadmin = t.token("instadmin").await;
        let r = t
            .post(
                &format!("/api/v1/staff/{}/accounts/{}/disable", me.staff_id, me.id),
                &instadmin,
                serde_json::json!({}),
            )
            .await;
        assert_eq!(
            (r.status, r.json()["code"].clone()),
            (StatusCode::CONFLICT, "own_account".into())
        );
        let doctor = t.token("doctor").await;
        let r = t
            .post("/api/v1/institutions", &doctor, serde_json::json!({"code": "C7", "name": "x", "kind": "health_station", "district_code": "120101"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(
            t.get(&accounts, &doctor).await.status,
            StatusCode::FORBIDDEN
        );
    }
}

/// The staff ids of the home centre's first team (doctor, nurse, public-health doctor).
async fn home_team_members(t: &TestApp) -> (i64, i64, i64) {
    let team = t.store.team(t.team).await.unwrap();
    (
        team.doctor_staff_id,
        team.nurse_staff_id,
        team.public_health_staff_id,
    )
}

#[tokio::test]
async fn the_api_adds_departments_and_family_doctor_teams_on_both_engines() {
    for t in TestApp::all().await {
        let instadmin = t.token("instadmin").await;
        let hospadmin = t.token("hospadmin").await;
        let (doctor, nurse, ph) = home_team_members(&t).await;
        let departments = format!("/api/v1/institutions/{}/departments", t.home);
        let r = t
            .post(
                &departments,
                &instadmin,
                serde_json::json!({"code": "gp", "name": "全科诊室"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(t.audit_tail(1).await[0].entry.action, "department.create");
        let r = t
            .post(
                &departments,
                &instadmin,
                serde_json::json!({"code": "gp", "name": "又一个"}),
            )
            .await;
        assert_eq!(
            (r.status, r.json()["code"].clone()),
            (StatusCode::CONFLICT, "department_code_taken".into())
        );
        let r = t
            .post(
                &departments,
                &instadmin,
                serde_json::json!({"code": "全科", "name": ""}),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.json()["problems"].as_array().unwrap().len(), 2);
        let shown = t
            .get(&format!("/api/v1/institutions/{}", t.home), &instadmin)
            .await
            .json();
        assert!(
            shown["departments"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["code"] == "gp" && d["name"] == "全科诊室"),
            "{shown}"
        );
        // Another institution's administrator sets up nothing here.
        let r = t
            .post(
                &departments,
                &hospadmin,
                serde_json::json!({"code": "x1", "name": "外科"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert_eq!(t.audit_tail(1).await[0].entry.outcome.code(), "denied");

        let teams = format!("/api/v1/institutions/{}/teams", t.home);
        let body = |name: &str, d: i64, n: i64, p: i64| serde_json::json!({"name": name, "doctor_staff_id": d, "nurse_staff_id": n, "public_health_staff_id": p});
        // A nurse in the doctor's seat and no such public-health doctor: both named.
        let r = t
            .post(&teams, &instadmin, body("错位团队", nurse, nurse, 999_999))
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let fields = r.problem_fields();
        assert_eq!(fields, ["doctor_staff_id", "public_health_staff_id"]);
        let r = t
            .post(
                &teams,
                &instadmin,
                body("第二家庭医生团队", doctor, nurse, ph),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let team = r.json()["id"].as_i64().unwrap();
        assert_eq!(t.audit_tail(1).await[0].entry.action, "team.create");
        let listed = t.get(&teams, &instadmin).await.json();
        assert!(
            listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["id"] == team),
            "{listed}"
        );
        // A hospital holds no family-doctor team, and its staff sit on none here.
        let r = t
            .post(
                &format!("/api/v1/institutions/{}/teams", t.hospital),
                &hospadmin,
                body("医院团队", doctor, nurse, ph),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("institution_id"), "{}", r.text);
        // The new team signs contracts.
        let doctor_token = t.token("doctor").await;
        let r = t
            .post(
                &format!("/api/v1/residents/{}/contracts", t.home_resident),
                &doctor_token,
                serde_json::json!({"team_id": team, "resident_consent": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json()["team_id"], team);
    }
}

#[tokio::test]
async fn a_centre_administrator_sets_up_departments_and_a_team_in_the_console() {
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let admin = sign_in(&t, "instadmin").await;
    let (doctor, nurse, ph) = home_team_members(&t).await;
    // Their menu's 科室与团队 is their own centre's page.
    let home = page(&t, &admin, "/", "zh").await;
    assert!(home.text.contains("href=\"/units\""), "{}", home.text);
    let r = page(&t, &admin, "/units", "zh").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let path = format!("/institutions/{}/units", t.home);
    let units = page(&t, &admin, &path, "zh").await;
    assert_eq!(units.status, StatusCode::OK, "{}", units.text);
    assert!(
        units.text.contains("王医生团队") && units.text.contains("id=\"add-team\""),
        "{}",
        units.text
    );
    let csrf = csrf_of(&units.text);
    let departments = format!("/institutions/{}/departments", t.home);
    let r = post_form(
        &t,
        &admin,
        &departments,
        &form_of(&csrf, &[("code", "全科"), ("name", "全科诊室")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("科室编码：") && r.text.contains("value=\"全科诊室\""),
        "{}",
        r.text
    );
    let r = post_form(
        &t,
        &admin,
        &departments,
        &form_of(&csrf, &[("code", "gp"), ("name", "全科诊室")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let units = page(&t, &admin, &format!("{path}?added=department"), "zh").await;
    assert!(
        units.text.contains("科室已新增") && units.text.contains("<td>全科诊室</td>"),
        "{}",
        units.text
    );
    let teams = format!("/institutions/{}/teams", t.home);
    let team_form = |name: &str| {
        form_of(
            &csrf,
            &[
                ("name", name),
                ("doctor_staff_id", &doctor.to_string()),
                ("nurse_staff_id", &nurse.to_string()),
                ("public_health_staff_id", &ph.to_string()),
            ],
        )
    };
    let r = post_form(&t, &admin, &teams, &team_form(" ")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("团队名称：必填"), "{}", r.text);
    let r = post_form(&t, &admin, &teams, &team_form("南营门团队")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let units = page(&t, &admin, &format!("{path}?added=team"), "zh").await;
    assert!(
        units.text.contains("<td>南营门团队</td>") && units.text.contains("可用于签约"),
        "{}",
        units.text
    );
    // Another centre's page: read only, and its forms refuse.
    let other = page(
        &t,
        &admin,
        &format!("/institutions/{}/units", t.other),
        "zh",
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
    assert!(!other.text.contains("id=\"add-team\""), "{}", other.text);
    let r = post_form(
        &t,
        &admin,
        &format!("/institutions/{}/departments", t.other),
        &form_of(&csrf, &[("code", "x"), ("name", "外来")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
