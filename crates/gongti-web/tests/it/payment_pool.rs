//! An institution's incentive month (issue 17 points 6–7), on both engines: the
//! doctor signs a contract today and follows the patient up; the month's pool is the
//! team's share of that contract's fee (DOMAIN.md §6 by hand), the doctor's units are
//! the follow-up's and the contract's by the demo table, and the pool goes whole to the
//! only person with work; the doctor sees their own month with the two items behind it;
//! the institution's administrator and the district officer read the institution's
//! month, a doctor and another institution's administrator do not; and the console's
//! pages as the administrator and the doctor walk them.

use axum::http::StatusCode as S;
use serde_json::{Value, json};

use crate::support::TestApp;

/// The demo scheme in force, a contract signed and a hypertension follow-up recorded
/// today by the doctor; the contract's fee in fen.
async fn a_month_of_work(t: &TestApp) -> i64 {
    crate::payment_schemes::demo_scheme_in_force(t).await;
    let doctor = t.token("doctor").await;
    let resident = t.home_resident;
    let signed = t
        .post(
            &format!("/api/v1/residents/{resident}/contracts"),
            &doctor,
            json!({"team_id": t.team, "resident_consent": true}),
        )
        .await;
    assert_eq!(signed.status, S::CREATED, "{}", signed.text);
    let enrolled = t
        .post(
            &format!("/api/v1/residents/{resident}/enrolments"),
            &doctor,
            json!({"icd10": "I10", "diagnosed_on": "2019-05-01"}),
        )
        .await;
    assert_eq!(enrolled.status, S::CREATED, "{}", enrolled.text);
    let followed = t
        .post(
            &format!("/api/v1/residents/{resident}/followups"),
            &doctor,
            json!({"disease": "hypertension", "method": "clinic", "visit_on": t.app.today().to_string(),
                   "sbp_mmhg": 128, "dbp_mmhg": 78}),
        )
        .await;
    assert_eq!(followed.status, S::CREATED, "{}", followed.text);
    signed.json()["fee"]["total_fen"].as_i64().unwrap()
}

fn person<'a>(month: &'a Value, staff_id: &Value) -> &'a Value {
    month["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["staff_id"] == *staff_id)
        .unwrap_or_else(|| panic!("{staff_id} in {month}"))
}

#[tokio::test]
async fn a_month_is_counted_from_the_work_and_shared_exactly() {
    for t in TestApp::all().await {
        let fee = a_month_of_work(&t).await;
        let today = t.app.today();
        let (year, month) = (today.year(), u8::from(today.month()));
        let path = format!(
            "/api/v1/incentives/institutions/{}/months/{year}/{month}",
            t.home
        );
        let admin = t.token("instadmin").await;
        let r = t.get(&path, &admin).await;
        assert_eq!(r.status, S::OK, "{}", r.text);
        let m = r.json();
        // the team's share, 0.7 of the fee, rounded half up once
        let pool = (fee * 7 + 5) / 10;
        assert_eq!(
            (&m["contracts"], &m["contract_fees_fen"], &m["pool_fen"]),
            (&json!(1), &json!(fee), &json!(pool)),
            "{m}"
        );
        assert_eq!(
            m["sources"],
            json!([{"source": "contract_fee_team", "amount_fen": pool}])
        );
        assert_eq!(m["undistributed_fen"], json!(0), "{m}");
        let doctor = t.token("doctor").await;
        let me = t.get("/api/v1/me", &doctor).await.json();
        let doctor_id = me["staff_id"].clone();
        let d = person(&m, &doctor_id);
        // demo units: a hypertension follow-up 1.7 and a contract 1.0; post 1.2
        assert_eq!(
            (
                &d["work"]["followup_hypertension"],
                &d["work"]["contract_signed"],
                &d["units"],
                &d["post"]
            ),
            (&json!(1), &json!(1), &json!(2.7), &json!(1.2)),
            "{d}"
        );
        // the team's one chronic patient is not overdue: rate 1
        assert_eq!(d["quality_rate"], json!(1.0), "{d}");
        // the only person with work takes the whole pool, to the fen
        let paid: i64 = m["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pay_fen"].as_i64().unwrap())
            .sum();
        assert_eq!((&d["pay_fen"], paid), (&json!(pool), pool), "{m}");

        let mine = t
            .get(
                &format!("/api/v1/incentives/me/months/{year}/{month}"),
                &doctor,
            )
            .await;
        assert_eq!(mine.status, S::OK, "{}", mine.text);
        let mine = mine.json();
        let mut kinds: Vec<&str> = mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["kind"].as_str().unwrap())
            .collect();
        kinds.sort_unstable();
        assert_eq!(
            kinds,
            ["contract_signed", "followup_hypertension"],
            "{mine}"
        );
        assert_eq!(mine["person"]["pay_fen"], json!(pool));
        let nurse = t.token("nurse").await;
        let hers = t
            .get(
                &format!("/api/v1/incentives/me/months/{year}/{month}"),
                &nurse,
            )
            .await
            .json();
        assert_eq!(
            (&hers["person"]["pay_fen"], &hers["items"]),
            (&json!(0), &json!([])),
            "{hers}"
        );

        // who reads an institution's month, and a person's work
        assert_eq!(t.get(&path, &doctor).await.status, S::FORBIDDEN);
        let other = t.token("hospadmin").await;
        assert_eq!(t.get(&path, &other).await.status, S::FORBIDDEN);
        let district = t.token("district").await;
        assert_eq!(t.get(&path, &district).await.status, S::OK);
        // the insurer pays the institution, not its staff
        let insurer = t.token("insurer").await;
        assert_eq!(t.get(&path, &insurer).await.status, S::FORBIDDEN);
        let theirs = format!("/api/v1/incentives/staff/{doctor_id}/months/{year}/{month}");
        assert_eq!(t.get(&theirs, &admin).await.status, S::OK);
        assert_eq!(t.get(&theirs, &nurse).await.status, S::FORBIDDEN);
        let bad = t
            .get(
                &format!(
                    "/api/v1/incentives/institutions/{}/months/{year}/13",
                    t.home
                ),
                &admin,
            )
            .await;
        assert_eq!(bad.status, S::UNPROCESSABLE_ENTITY, "{}", bad.text);
        let trail = t.audit_tail(20).await;
        assert!(
            trail.iter().any(|e| e.entry.action == "incentive.work.list"
                && e.entry.outcome == gongti_core::audit::Outcome::Ok),
            "a person's work read is audited"
        );
        assert!(
            trail
                .iter()
                .any(|e| e.entry.action == "incentive.month.read"
                    && e.entry.outcome == gongti_core::audit::Outcome::Ok),
            "an institution's month read is audited"
        );
    }
}

#[tokio::test]
async fn the_administrator_and_the_doctor_see_the_month_in_the_console() {
    use crate::console::{page, sign_in};
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    a_month_of_work(&t).await;
    let admin = sign_in(&t, "instadmin").await;
    let home = page(&t, &admin, "/", "zh").await;
    assert!(
        home.text.contains("/payment/incentive-month"),
        "in the menu"
    );
    let month = page(&t, &admin, "/payment/incentive-month", "zh").await;
    assert_eq!(month.status, S::OK, "{}", month.text);
    for text in [
        "绩效分配",
        "签约服务费（团队部分）",
        "doctor姓名",
        "高血压随访 1",
        "预计绩效",
    ] {
        assert!(month.text.contains(text), "{text}: {}", month.text);
    }
    let doctor = sign_in(&t, "doctor").await;
    let home = page(&t, &doctor, "/", "zh").await;
    assert!(home.text.contains("/my-work"), "in the menu");
    let mine = page(&t, &doctor, "/my-work", "zh").await;
    assert_eq!(mine.status, S::OK, "{}", mine.text);
    for text in [
        "我的绩效",
        "标准工作量",
        "2.7",
        "签约（含续约）",
        "预计绩效",
    ] {
        assert!(mine.text.contains(text), "{text}: {}", mine.text);
    }
    assert_eq!(
        page(&t, &doctor, "/payment/incentive-month", "zh")
            .await
            .status,
        S::FORBIDDEN
    );
}
