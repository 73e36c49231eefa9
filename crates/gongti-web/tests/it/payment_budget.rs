//! A year of capitation (issue 17 point 2), on both engines: no budget without a
//! scheme in force on the year's first day; a resident contracted and enrolled for
//! hypertension since the year's 15 January counts under two schemes at their
//! institution, weighed by their age band and condition (DOMAIN.md §6 by hand); the
//! preview becomes the approved budget once, with twelve prepayments that sum exactly;
//! months are paid in turn, once due, once; only the insurance officer approves and
//! pays, and the console does it as the officer would.

use axum::http::StatusCode as S;
use serde_json::{Value, json};

use crate::payment_schemes::demo_params;
use crate::support::TestApp;

/// The day the resident's contract and enrolment begin: 15 January this year (or
/// today, in the year's first fortnight), and the days from it to the year's end.
pub(crate) fn joined(t: &TestApp) -> (time::Date, i64) {
    let today = t.app.today();
    let jan15 = time::Date::from_calendar_date(today.year(), time::Month::January, 15).unwrap();
    let on = today.min(jan15);
    let last = time::Date::from_calendar_date(today.year(), time::Month::December, 31).unwrap();
    (on, (last - on).whole_days() + 1)
}

/// The home resident contracted with the doctor's team and enrolled for hypertension
/// on `on` (the clock set back to it meanwhile).
pub(crate) async fn contracted_and_enrolled(t: &TestApp, on: time::Date) {
    let doctor = t.token("doctor").await;
    t.shift_clock(-(t.app.today() - on).whole_days());
    let r = t
        .post(
            &format!("/api/v1/residents/{}/contracts", t.home_resident),
            &doctor,
            json!({"team_id": t.team, "resident_consent": true}),
        )
        .await;
    assert_eq!(r.status, S::CREATED, "{}", r.text);
    let r = t
        .post(
            &format!("/api/v1/residents/{}/enrolments", t.home_resident),
            &doctor,
            json!({"icd10": "I10", "diagnosed_on": on.to_string()}),
        )
        .await;
    assert_eq!(r.status, S::CREATED, "{}", r.text);
    t.shift_clock(0);
}

/// B of one person by hand (DOMAIN.md §6): (contracted 30,000 + 门特 hypertension
/// 150,000 fen) × weight 1.3 (aged 75 or more with hypertension, the demo table) ×
/// days ÷ the year's days, rounded half up once.
pub(crate) fn budget_by_hand(days: i64, days_in_year: i64) -> i64 {
    let numerator = 180_000_i128 * 13 * i128::from(days);
    let d = 10 * i128::from(days_in_year);
    i64::try_from((numerator * 2 + d) / (2 * d)).unwrap()
}

#[tokio::test]
async fn a_year_is_budgeted_approved_and_prepaid_month_by_month() {
    for t in TestApp::all().await {
        let year = t.app.today().year();
        let path = format!("/api/v1/capitation/years/{year}");
        let insurer = t.token("insurer").await;
        let none = t.get(&path, &insurer).await;
        assert_eq!(
            (none.status, none.json()["code"].clone()),
            (S::CONFLICT, json!("no_payment_scheme")),
            "{}",
            none.text
        );
        crate::payment_schemes::propose_and_approve(
            &t,
            json!({"effective_from": format!("{year}-01-01"), "note": "演示方案", "params": demo_params()}),
        )
        .await;
        let (on, days) = joined(&t);
        contracted_and_enrolled(&t, on).await;

        let preview = t.get(&path, &insurer).await;
        assert_eq!(preview.status, S::OK, "{}", preview.text);
        let p = preview.json();
        let days_in_year = i64::from(time::util::days_in_year(year));
        let budget = budget_by_hand(days, days_in_year);
        let prepaid = (budget * 8 + 5) / 10;
        assert_eq!(
            (
                &p["state"],
                &p["scheme_version"],
                &p["budget_fen"],
                &p["prepaid_fen"]
            ),
            (
                &json!("preview"),
                &json!(1),
                &json!(budget),
                &json!(prepaid)
            ),
            "{p}"
        );
        let institutions = p["institutions"].as_array().unwrap();
        assert_eq!(institutions.len(), 1, "{p}");
        let home = &institutions[0];
        assert_eq!(home["institution_id"], json!(t.home));
        assert_eq!(home["community"]["id"], json!(t.hospital));
        assert_eq!(
            (&home["persons"], &home["person_days"]),
            (
                &json!({"contracted": 1, "mt_hypertension": 1, "mt_diabetes": 0}),
                &json!({"contracted": days, "mt_hypertension": days, "mt_diabetes": 0})
            )
        );
        let months: Vec<i64> = home["prepayments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["amount_fen"].as_i64().unwrap())
            .collect();
        assert_eq!(months.iter().sum::<i64>(), prepaid, "they sum exactly");
        assert!(months[..11].iter().all(|m| *m == prepaid / 12));
        assert_eq!(home["prepayments"][0]["state"], "planned");

        // the person behind the budget: masked, their days, their part of B (rounded
        // once, it is B); another district's institution is not the district's to see
        let members = t
            .get(&format!("{path}/institutions/{}/members", t.home), &insurer)
            .await;
        assert_eq!(members.status, S::OK, "{}", members.text);
        let m = members.json();
        assert_eq!(
            (
                &m["items"][0]["name"],
                &m["items"][0]["condition"],
                &m["items"][0]["days"]["contracted"]
            ),
            (&json!("张**"), &json!("hypertension"), &json!(days)),
            "{m}"
        );
        let share = m["items"][0]["share_fen"].as_f64().unwrap();
        assert_eq!(share.round() as i64, budget, "{m}");
        let district = t.token("district").await;
        assert_eq!(
            t.get(
                &format!("{path}/institutions/{}/members", t.other),
                &district
            )
            .await
            .status,
            S::FORBIDDEN
        );

        // only the insurance officer approves; once
        let officer = t.token("officer").await;
        let approve = format!("{path}/approve");
        assert_eq!(
            t.post(&approve, &officer, json!({})).await.status,
            S::FORBIDDEN
        );
        let approved = t.post(&approve, &insurer, json!({})).await;
        assert_eq!(approved.status, S::OK, "{}", approved.text);
        let a = approved.json();
        assert_eq!(
            (&a["state"], &a["budget_fen"], &a["approved_by"]),
            (
                &json!("budget_approved"),
                &json!(budget),
                &json!("insurer姓名")
            )
        );
        assert_eq!(a["institutions"][0]["prepayments"][0]["state"], "scheduled");
        let again = t.post(&approve, &insurer, json!({})).await.json();
        assert_eq!(
            again["approved_at"], a["approved_at"],
            "approving again changes nothing"
        );

        // months in turn, once due, once
        let month = u8::from(t.app.today().month());
        let pay = |m: u32| format!("{path}/prepayments/{m}/pay");
        if month > 1 {
            let early = t.post(&pay(u32::from(month)), &insurer, json!({})).await;
            assert_eq!(
                early.json()["code"],
                "earlier_month_unpaid",
                "{}",
                early.text
            );
        }
        if month < 12 {
            let ahead = t
                .post(&pay(u32::from(month) + 1), &insurer, json!({}))
                .await;
            assert_eq!(ahead.json()["code"], "month_not_due", "{}", ahead.text);
        }
        let bad = t.post(&pay(13), &insurer, json!({})).await;
        assert_eq!(bad.status, S::UNPROCESSABLE_ENTITY, "{}", bad.text);
        assert_eq!(
            t.post(&pay(1), &officer, json!({})).await.status,
            S::FORBIDDEN
        );
        let next_year = t
            .post(
                &format!("/api/v1/capitation/years/{}/prepayments/1/pay", year + 1),
                &insurer,
                json!({}),
            )
            .await;
        assert_eq!(next_year.json()["code"], "budget_not_approved");
        let mut last = Value::Null;
        for m in 1..=u32::from(month) {
            let r = t.post(&pay(m), &insurer, json!({})).await;
            assert_eq!(r.status, S::OK, "{}", r.text);
            last = r.json();
        }
        let paid: i64 = months[..usize::from(month)].iter().sum();
        assert_eq!(last["paid_fen"], json!(paid));
        let twice = t.post(&pay(1), &insurer, json!({})).await.json();
        assert_eq!(
            twice["paid_fen"],
            json!(paid),
            "paying again changes nothing"
        );
        assert_eq!(
            t.get(&path, &officer).await.json()["paid_fen"],
            json!(paid),
            "the overseeing officer reads"
        );
        let doctor = t.token("doctor").await;
        assert_eq!(t.get(&path, &doctor).await.status, S::FORBIDDEN);
        let trail = t.audit_tail(40).await;
        assert!(
            trail
                .iter()
                .any(|e| e.entry.action == "capitation.budget.approve"
                    && e.entry.actor_username == "officer"),
            "the refusal is audited"
        );
    }
}

/// 预算与预拨 in the console: the insurance officer sees the preview with the
/// institution under its health community, approves, and pays the first month.
#[tokio::test]
async fn the_officer_approves_and_pays_in_the_console() {
    use crate::console::{page, sign_in};
    use crate::console_scheduling::{csrf_of, post_form};
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let year = t.app.today().year();
    let session = sign_in(&t, "insurer").await;
    let missing = page(&t, &session, "/payment/budget", "zh").await;
    assert_eq!(missing.status, S::OK);
    assert!(
        missing.text.contains("尚无生效的付费方案"),
        "{}",
        missing.text
    );
    crate::payment_schemes::propose_and_approve(
        &t,
        json!({"effective_from": format!("{year}-01-01"), "note": "演示方案", "params": demo_params()}),
    )
    .await;
    let (on, days) = joined(&t);
    contracted_and_enrolled(&t, on).await;
    let budget = budget_by_hand(days, i64::from(time::util::days_in_year(year)));
    let shown = gongti_core::money::yuan(budget);
    let preview = page(&t, &session, "/payment/budget", "zh").await;
    for text in ["预览", "测试H1", "测试C1", shown.as_str(), "批准年度预算"] {
        assert!(preview.text.contains(text), "{text}: {}", preview.text);
    }
    let link = format!(
        "/payment/budget/members?year={year}&amp;institution={}",
        t.home
    );
    assert!(
        preview.text.contains(&link),
        "each institution opens its persons"
    );
    let persons = page(
        &t,
        &session,
        &format!("/payment/budget/members?year={year}&institution={}", t.home),
        "zh",
    )
    .await;
    assert_eq!(persons.status, S::OK, "{}", persons.text);
    assert!(
        persons.text.contains("张**") && !persons.text.contains("张秀英"),
        "{}",
        persons.text
    );
    // the person's part of B in yuan (one person: B itself)
    assert!(persons.text.contains(&shown), "{shown}: {}", persons.text);
    let form = format!("csrf={}&year={year}", csrf_of(&preview.text));
    let approved = post_form(&t, &session, "/payment/budget/approve", &form).await;
    assert_eq!(approved.status, S::SEE_OTHER, "{}", approved.text);
    let after = page(&t, &session, "/payment/budget", "zh").await;
    assert!(
        after.text.contains("已批准") && after.text.contains("拨付 1 月预拨"),
        "{}",
        after.text
    );
    let paid = post_form(
        &t,
        &session,
        "/payment/budget/pay",
        &format!("csrf={}&year={year}&month=1", csrf_of(&after.text)),
    )
    .await;
    assert_eq!(paid.status, S::SEE_OTHER, "{}", paid.text);
    let now = page(&t, &session, "/payment/budget", "zh").await;
    assert!(now.text.contains("1 个月"), "{}", now.text);
    let doctor = sign_in(&t, "doctor").await;
    assert_eq!(
        page(&t, &doctor, "/payment/budget", "zh").await.status,
        S::FORBIDDEN
    );
}

/// The persons of a year are read a chunk at a time, each side (contracts, chronic
/// enrolments) walking its index only as far as the chunk needs: in chunks of one, two
/// and three, the demo region's persons come out each once, with all their facts, as
/// in one chunk.
#[tokio::test]
async fn the_persons_of_a_year_come_a_chunk_at_a_time_each_once() {
    for store in gongti_testdb::engines().await {
        let (app, _writer) = gongti_app::App::start(store.clone(), gongti_app::system_clock())
            .await
            .unwrap();
        app.seed_demo(400, 11, "chunk-pass-2026", |_, _| {})
            .await
            .unwrap();
        let year = app.today().year();
        let first = time::Date::from_calendar_date(year, time::Month::January, 1).unwrap();
        let last = time::Date::from_calendar_date(year, time::Month::December, 31).unwrap();
        let (all, _) = store.member_facts(first, last, 0, 1_000_000).await.unwrap();
        assert!(
            all.len() > 20,
            "the demo has persons under capitation: {}",
            all.len()
        );
        assert!(
            all.iter().any(|f| f.contracts.is_empty())
                && all.iter().any(|f| f.enrolments.len() > 1),
            "persons with enrolments only, and with two"
        );
        for limit in 1..=3 {
            let mut chunked = Vec::new();
            let mut after = 0;
            loop {
                let (facts, last_id) = store.member_facts(first, last, after, limit).await.unwrap();
                assert!(facts.len() as i64 <= limit);
                chunked.extend(facts);
                match last_id {
                    Some(id) => after = id,
                    None => break,
                }
            }
            assert_eq!(
                chunked, all,
                "chunks of {limit}: each once, whole, in order"
            );
        }
    }
}
