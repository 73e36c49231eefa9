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

/// The month settled, on both engines: not before it is over; locked by the
/// institution's administrator with the sources entered (a revenue code refused, the
/// team share counted beside them), frozen; an appeal upheld reopens it, a new lock and
/// an appeal dismissed let the committee (the district officer) approve it, after which
/// no appeal is taken; the administrator records it paid; each step again changes
/// nothing, and the doctor's work stays behind their pay.
#[tokio::test]
async fn a_month_is_locked_appealed_approved_and_paid() {
    for t in TestApp::all().await {
        let fee = a_month_of_work(&t).await;
        let today = t.app.today();
        let (year, month) = (today.year(), u8::from(today.month()));
        let base = format!(
            "/api/v1/incentives/institutions/{}/months/{year}/{month}",
            t.home
        );
        let admin = t.token("instadmin").await;
        let early = t.post(&format!("{base}/lock"), &admin, json!({})).await;
        assert_eq!(
            early.json()["code"],
            json!("month_not_over"),
            "{}",
            early.text
        );

        // the second day of the next month
        let next = if month == 12 {
            time::Date::from_calendar_date(year + 1, time::Month::January, 2)
        } else {
            time::Date::from_calendar_date(year, time::Month::try_from(month + 1).unwrap(), 2)
        }
        .unwrap();
        t.shift_clock((next - today).whole_days());
        let admin = t.token("instadmin").await;
        let doctor = t.token("doctor").await;
        let district = t.token("district").await;
        let revenue = t
            .post(
                &format!("{base}/lock"),
                &admin,
                json!({"sources": [{"source": "drug_revenue", "amount_fen": 100}]}),
            )
            .await;
        assert_eq!(revenue.status, S::UNPROCESSABLE_ENTITY, "{}", revenue.text);
        assert!(revenue.text.contains("not_allowed"), "{}", revenue.text);
        assert_eq!(
            t.post(&format!("{base}/lock"), &doctor, json!({}))
                .await
                .status,
            S::FORBIDDEN
        );
        let sources = json!({"sources": [
            {"source": "retained_surplus", "amount_fen": 100_000},
            {"source": "public_health_performance", "amount_fen": 50_000}]});
        let locked = t
            .post(&format!("{base}/lock"), &admin, sources.clone())
            .await;
        assert_eq!(locked.status, S::OK, "{}", locked.text);
        let m = locked.json();
        let team = (fee * 7 + 5) / 10;
        assert_eq!(
            (&m["state"], &m["pool_fen"]),
            (&json!("locked"), &json!(team + 150_000)),
            "{m}"
        );
        // the doctor is the only one with work: the team's part and the rest are theirs
        let doctor_id = t.get("/api/v1/me", &doctor).await.json()["staff_id"].clone();
        assert_eq!(person(&m, &doctor_id)["pay_fen"], json!(team + 150_000));
        assert_eq!(
            t.post(&format!("{base}/lock"), &admin, sources.clone())
                .await
                .json()["pool_fen"],
            json!(team + 150_000),
            "locking again changes nothing"
        );
        let other = t.post(&format!("{base}/lock"), &admin, json!({})).await;
        assert_eq!(
            other.json()["code"],
            json!("month_locked"),
            "other amounts are a conflict: {}",
            other.text
        );

        // an appeal upheld reopens the month
        let appeals = format!("/api/v1/incentives/me/months/{year}/{month}/appeals");
        let r = t
            .post(&appeals, &doctor, json!({"reason": "漏计一次上门随访"}))
            .await;
        assert_eq!(r.status, S::CREATED, "{}", r.text);
        let first = r.json()["id"].clone();
        let nurse = t.token("nurse").await;
        let r = t
            .post(&appeals, &nurse, json!({"reason": "工作量未计入"}))
            .await;
        assert_eq!(r.status, S::CREATED, "{}", r.text);
        let r = t
            .post(&format!("{base}/approve"), &district, json!({}))
            .await;
        assert_eq!(r.json()["code"], json!("appeals_open"), "{}", r.text);
        let r = t
            .post(
                &format!("/api/v1/incentives/appeals/{first}/answer"),
                &admin,
                json!({"upheld": true, "answer": "重新核算"}),
            )
            .await;
        assert_eq!(r.status, S::OK, "{}", r.text);
        let reopened = t.get(&base, &admin).await.json();
        assert_eq!(reopened["state"], json!("counted"), "{reopened}");
        assert_eq!(
            (
                &reopened["appeals"][0]["state"],
                &reopened["appeals"][1]["state"]
            ),
            (&json!("upheld"), &json!("superseded")),
            "the other open appeal ends with the recount: {reopened}"
        );

        // locked again, an appeal dismissed, approved, paid
        assert_eq!(
            t.post(&format!("{base}/lock"), &admin, sources)
                .await
                .status,
            S::OK
        );
        let r = t
            .post(&appeals, &doctor, json!({"reason": "质量系数偏低"}))
            .await;
        let second = r.json()["id"].clone();
        let r = t
            .post(
                &format!("/api/v1/incentives/appeals/{second}/answer"),
                &admin,
                json!({"upheld": false, "answer": "按团队随访情况计"}),
            )
            .await;
        assert_eq!(r.status, S::OK, "{}", r.text);
        assert_eq!(
            t.post(&format!("{base}/approve"), &admin, json!({}))
                .await
                .status,
            S::FORBIDDEN,
            "the committee approves"
        );
        let r = t
            .post(
                &format!("{base}/approve"),
                &district,
                json!({"note": "同意"}),
            )
            .await;
        assert_eq!(
            (r.status, r.json()["state"].clone()),
            (S::OK, json!("approved")),
            "{}",
            r.text
        );
        let late = t
            .post(&appeals, &doctor, json!({"reason": "再次申诉"}))
            .await;
        assert_eq!(
            late.json()["code"],
            json!("month_not_locked"),
            "{}",
            late.text
        );
        let r = t.post(&format!("{base}/pay"), &admin, json!({})).await;
        assert_eq!(r.json()["state"], json!("paid"), "{}", r.text);
        assert_eq!(
            t.post(&format!("{base}/pay"), &admin, json!({}))
                .await
                .status,
            S::OK
        );
        // the pay opens the work frozen behind it
        let mine = t
            .get(
                &format!("/api/v1/incentives/me/months/{year}/{month}"),
                &doctor,
            )
            .await
            .json();
        assert_eq!(
            (
                mine["items"].as_array().map(Vec::len),
                &mine["person"]["pay_fen"]
            ),
            (Some(2), &json!(team + 150_000)),
            "{mine}"
        );
        let trail = t.audit_tail(40).await;
        for action in [
            "incentive.month.lock",
            "incentive.appeal.create",
            "incentive.appeal.answer",
            "incentive.month.approve",
            "incentive.month.pay",
        ] {
            assert!(
                trail.iter().any(|e| e.entry.action == action
                    && e.entry.outcome == gongti_core::audit::Outcome::Ok),
                "{action} is audited"
            );
        }
        t.shift_clock(0);
    }
}

/// The settlement in the console: the administrator locks the month with the funds in
/// yuan, the doctor finds the appeal form, the district officer approves from the
/// institutions they may see, and the administrator records it paid.
#[tokio::test]
async fn the_console_locks_approves_and_pays_a_month() {
    use crate::console::{page, sign_in};
    use crate::console_scheduling::{csrf_of, post_form};
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    a_month_of_work(&t).await;
    let today = t.app.today();
    let (year, month) = (today.year(), u8::from(today.month()));
    let next = if month == 12 {
        time::Date::from_calendar_date(year + 1, time::Month::January, 2)
    } else {
        time::Date::from_calendar_date(year, time::Month::try_from(month + 1).unwrap(), 2)
    }
    .unwrap();
    t.shift_clock((next - today).whole_days());
    let path = format!("/payment/incentive-month?year={year}&month={month}");
    let admin = sign_in(&t, "instadmin").await;
    let before = page(&t, &admin, &path, "zh").await;
    assert!(before.text.contains("锁定本月绩效"), "{}", before.text);
    let form = |html: &str, step: &str, extra: &str| {
        format!(
            "csrf={}&institution={}&year={year}&month={month}&step={step}{extra}",
            csrf_of(html),
            t.home
        )
    };
    let r = post_form(
        &t,
        &admin,
        "/payment/incentive-month/step",
        &form(
            &before.text,
            "lock",
            "&retained_yuan=1000&public_health_yuan=500.50",
        ),
    )
    .await;
    assert_eq!(r.status, S::SEE_OTHER, "{}", r.text);
    let locked = page(&t, &admin, &path, "zh").await;
    assert!(
        locked.text.contains("已锁定，待委员会审定") && locked.text.contains("500.50"),
        "{}",
        locked.text
    );
    let doctor = sign_in(&t, "doctor").await;
    let mine = page(
        &t,
        &doctor,
        &format!("/my-work?year={year}&month={month}"),
        "zh",
    )
    .await;
    assert!(mine.text.contains("提出申诉"), "{}", mine.text);
    let district = sign_in(&t, "district").await;
    let list = page(&t, &district, "/payment/incentive-month", "zh").await;
    assert!(list.text.contains("测试C1"), "{}", list.text);
    let theirs = format!(
        "/payment/incentive-month?institution={}&year={year}&month={month}",
        t.home
    );
    let seen = page(&t, &district, &theirs, "zh").await;
    assert!(seen.text.contains("审定本月绩效"), "{}", seen.text);
    let r = post_form(
        &t,
        &district,
        "/payment/incentive-month/step",
        &form(&seen.text, "approve", "&words=%E5%90%8C%E6%84%8F"),
    )
    .await;
    assert_eq!(r.status, S::SEE_OTHER, "{}", r.text);
    let approved = page(&t, &admin, &path, "zh").await;
    assert!(approved.text.contains("记录已发放"), "{}", approved.text);
    let r = post_form(
        &t,
        &admin,
        "/payment/incentive-month/step",
        &form(&approved.text, "pay", ""),
    )
    .await;
    assert_eq!(r.status, S::SEE_OTHER, "{}", r.text);
    let paid = page(&t, &admin, &path, "zh").await;
    assert!(paid.text.contains("已发放"), "{}", paid.text);
    t.shift_clock(0);
}
