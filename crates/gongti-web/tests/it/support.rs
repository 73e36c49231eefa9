//! The test app: a fresh store per engine with a small region, the router called with
//! `oneshot`, and sign-ins for each role.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gongti_app::{App, system_clock};
use gongti_core::audit::ChainedEntry;
use gongti_core::region::InstitutionKind;
use gongti_core::role::Role;
use gongti_store::{NewInstitution, NewStaff, NewTeam, Store};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PASSWORD: &str = "test-password-1";

/// A resident registered at the home centre, and one at the other centre.
pub const HOME_RESIDENT_ID_NUMBER: &str = "11010519491231002X";
pub const OTHER_RESIDENT_ID_NUMBER: &str = "440524188001010014";

/// Every byte of `s` percent-encoded (a form field's value as a browser may send it).
pub fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// A valid 和平区 ID number born on `birth` (YYYYMMDD) with sequence `sequence`.
pub fn id_number_born(birth: &str, sequence: u32) -> String {
    let body = format!("120101{birth}{sequence:03}");
    format!(
        "{body}{}",
        gongti_core::id_number::check_character(body.as_bytes())
    )
}

pub struct TestApp {
    pub app: App,
    pub store: Store,
    pub router: axum::Router,
    pub home: i64,
    pub other: i64,
    pub hospital: i64,
    /// The hospital's cardiology department (心血管内科).
    pub cardio: i64,
    /// The doctor's family-doctor team at the home centre.
    pub team: i64,
    /// Days the app's clock runs ahead of (or, negative, behind) the system clock.
    pub shift_days: std::sync::Arc<std::sync::atomic::AtomicI64>,
    pub home_resident: i64,
    pub other_resident: i64,
}

/// Sends a request through a router and reads the whole answer.
pub async fn reply_of(router: &axum::Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
        bytes: bytes.to_vec(),
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
    /// The body as sent (a file's bytes).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The fields a refusal's `problems` name, in order.
    pub fn problem_fields(&self) -> Vec<String> {
        self.json()["problems"]
            .as_array()
            .unwrap_or_else(|| panic!("no problems: {}", self.text))
            .iter()
            .map(|p| p["field"].as_str().unwrap().to_owned())
            .collect()
    }
}

async fn institution(
    store: &Store,
    code: &str,
    kind: InstitutionKind,
    district: &str,
    upper: Option<i64>,
) -> i64 {
    store
        .insert_institution(
            &NewInstitution {
                code: code.into(),
                name: format!("测试{code}"),
                kind,
                district_code: district.into(),
                upper_institution_id: upper,
            },
            1,
            &[],
        )
        .await
        .unwrap()
        .id
}

impl TestApp {
    pub async fn on(store: Store) -> TestApp {
        // Every test logs at debug level into the scan for personal numbers (printed
        // too with `TEST_LOG=1 cargo nextest run … --no-capture`).
        gongti_testdb::logscan::install_scanning_subscriber();
        store
            .upsert_district("120101", "和平区", "120100")
            .await
            .unwrap();
        store
            .upsert_district("120102", "河东区", "120100")
            .await
            .unwrap();
        let hospital = institution(
            &store,
            "H1",
            InstitutionKind::TertiaryHospital,
            "120101",
            None,
        )
        .await;
        let home = institution(
            &store,
            "C1",
            InstitutionKind::CommunityHealthCentre,
            "120101",
            Some(hospital),
        )
        .await;
        let other = institution(
            &store,
            "C2",
            InstitutionKind::CommunityHealthCentre,
            "120102",
            Some(hospital),
        )
        .await;
        // The clock runs `shift_days` away from the system clock, for tests that need
        // records made in the past.
        let shift_days = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
        let shift = shift_days.clone();
        let system = system_clock();
        let clock: gongti_app::Clock = std::sync::Arc::new(move || {
            system() + time::Duration::days(shift.load(std::sync::atomic::Ordering::SeqCst))
        });
        let (app, _writer) = App::start(store.clone(), clock).await.unwrap();
        let users: [(&str, Role, Option<i64>, Option<&str>); 10] = [
            ("doctor", Role::FamilyDoctor, Some(home), Some("120101")),
            ("nurse", Role::Nurse, Some(home), Some("120101")),
            (
                "other_doctor",
                Role::FamilyDoctor,
                Some(other),
                Some("120102"),
            ),
            (
                "specialist",
                Role::Specialist,
                Some(hospital),
                Some("120101"),
            ),
            (
                "instadmin",
                Role::InstitutionAdmin,
                Some(home),
                Some("120101"),
            ),
            (
                "hospadmin",
                Role::InstitutionAdmin,
                Some(hospital),
                Some("120101"),
            ),
            ("district", Role::DistrictOfficer, None, Some("120101")),
            ("officer", Role::CityOfficer, None, None),
            ("insurer", Role::InsuranceOfficer, None, None),
            ("admin", Role::CityAdmin, None, None),
        ];
        let mut staff_ids = std::collections::HashMap::new();
        for (username, role, institution_id, district) in users {
            let staff = store
                .insert_staff(
                    &NewStaff {
                        name: format!("{username}姓名"),
                        role,
                        institution_id,
                        district_code: district.map(str::to_owned),
                        department_id: None,
                        licence_number: Some(format!("L-{username}")),
                        title: Some("主治医师".into()),
                        practice_years: 5,
                    },
                    1,
                    &[],
                )
                .await
                .unwrap();
            app.create_user(username, PASSWORD, staff.id).await.unwrap();
            staff_ids.insert(username, staff.id);
        }
        let public_health = store
            .insert_staff(
                &NewStaff {
                    name: "公卫姓名".into(),
                    role: Role::PublicHealthDoctor,
                    institution_id: Some(home),
                    district_code: Some("120101".into()),
                    department_id: None,
                    licence_number: None,
                    title: None,
                    practice_years: 3,
                },
                1,
                &[],
            )
            .await
            .unwrap();
        let team = store
            .insert_team(
                &NewTeam {
                    institution_id: home,
                    name: "王医生团队".into(),
                    doctor_staff_id: staff_ids["doctor"],
                    nurse_staff_id: staff_ids["nurse"],
                    public_health_staff_id: public_health.id,
                },
                1,
                &[],
            )
            .await
            .unwrap()
            .id;
        for (code, basic, insurance_fen, resident_fen) in
            [("basic", true, 6_000, 2_000), ("elderly", false, 0, 3_000)]
        {
            store
                .insert_package(
                    &gongti_store::NewPackage {
                        code: code.into(),
                        name: format!("{code}包"),
                        basic,
                        split: gongti_core::contract::FeeSplit {
                            insurance_fen,
                            public_health_fen: 4_000,
                            resident_fen,
                        },
                    },
                    1,
                )
                .await
                .unwrap();
        }
        let cardio = store
            .insert_department(hospital, "cardio", "心血管内科", 1, &[])
            .await
            .unwrap()
            .id;
        store
            .insert_department(hospital, "endo", "内分泌科", 1, &[])
            .await
            .unwrap();
        let router = gongti_web::router(app.clone(), gongti_web::WebConfig::default());
        let mut t = TestApp {
            app,
            store,
            router,
            home,
            other,
            hospital,
            cardio,
            team,
            shift_days,
            home_resident: 0,
            other_resident: 0,
        };
        let doctor = t.token("doctor").await;
        let r = t.post("/api/v1/residents", &doctor, json!({"name": "张秀英", "id_number": HOME_RESIDENT_ID_NUMBER, "phone": "13812341234"})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        t.home_resident = r.json()["id"].as_i64().unwrap();
        let other_doctor = t.token("other_doctor").await;
        let r = t
            .post(
                "/api/v1/residents",
                &other_doctor,
                json!({"name": "李四", "id_number": OTHER_RESIDENT_ID_NUMBER}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        t.other_resident = r.json()["id"].as_i64().unwrap();
        t
    }

    /// Moves the app's clock `days` from the system clock.
    pub fn shift_clock(&self, days: i64) {
        self.shift_days
            .store(days, std::sync::atomic::Ordering::SeqCst);
    }

    /// One test app per engine.
    pub async fn all() -> Vec<TestApp> {
        let mut apps = Vec::new();
        for store in gongti_testdb::engines().await {
            apps.push(TestApp::on(store).await);
        }
        apps
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        reply_of(&self.router, request).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        let request = Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.send(request).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send_json("POST", path, token, body.to_string()).await
    }

    pub async fn send_json(&self, method: &str, path: &str, token: &str, body: String) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    pub async fn token(&self, username: &str) -> String {
        let r = self.sign_in(username, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{username}: {}", r.text);
        r.json()["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> Reply {
        self.post(
            "/api/v1/auth/token",
            "",
            json!({"username": username, "password": password}),
        )
        .await
    }

    /// The newest audit records, newest last.
    pub async fn audit_tail(&self, n: i64) -> Vec<ChainedEntry> {
        let count = self.store.audit_count().await.unwrap();
        self.store
            .audit_records((count - n).max(0), n as u32)
            .await
            .unwrap()
            .records
    }

    pub fn engine(&self) -> gongti_store::EngineKind {
        self.store.kind()
    }
}
