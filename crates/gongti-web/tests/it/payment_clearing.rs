//! The year-end clearing (issue 17 point 5), on both engines: a year's data cannot be
//! frozen before it is over; once over, the insurance officer freezes it — the home
//! resident counted by the days actually enrolled (B by hand, DOMAIN.md §6), the
//! bureau's settlement as the cost, the prepayments paid — and every figure follows
//! §6 by hand and is reproduced from the frozen inputs; freezing again recounts the
//! same; the institution's administrator disputes with a reason, the officer approves
//! with a reply, pays or recovers the balance and closes the year; every step taken
//! again changes nothing, a step out of turn answers its code, and only the right
//! roles take each step.

use axum::http::StatusCode as S;
use serde_json::{Value, json};

use crate::payment_budget::{budget_by_hand, joined};
use crate::payment_costs::{HEADER, member, upload};
use crate::support::TestApp;

fn fen(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not fen: {v}"))
}

/// `round(a × b)` half up for b in millionths given as a JSON number.
fn times(a: i64, multiplier: &Value) -> i64 {
    let m = (multiplier.as_f64().unwrap() * 1_000_000.0).round() as i128;
    i64::try_from((i128::from(a) * m * 2 + 1_000_000) / 2_000_000).unwrap()
}

#[tokio::test]
async fn a_year_is_frozen_cleared_disputed_approved_settled_and_closed() {
    for t in TestApp::all().await {
        let year = t.app.today().year();
        member(&t).await;
        let (_, days) = joined(&t);
        let insurer = t.token("insurer").await;
        let today = t.app.today();
        // 356.40 settled at the platform's tertiary hospital, the fund paying 249.48
        let file = format!("{HEADER}S1,PSN1,{today},356.40,249.48,H1,测试H1\n");
        assert_eq!(upload(&t, &insurer, "", &file).await.status, S::OK);
        let base = format!("/api/v1/capitation/years/{year}");
        let r = t
            .post(&format!("{base}/approve"), &insurer, json!({}))
            .await;
        assert_eq!(r.status, S::OK, "{}", r.text);
        // the months due so far but December
        let months = u8::from(today.month()).min(11);
        for m in 1..=months {
            let r = t
                .post(&format!("{base}/prepayments/{m}/pay"), &insurer, json!({}))
                .await;
            assert_eq!(r.status, S::OK, "{}", r.text);
        }

        let clearing = format!("{base}/clearing");
        let early = t
            .post(&format!("{clearing}/freeze"), &insurer, json!({}))
            .await;
        assert_eq!(
            (early.status, early.json()["code"].clone()),
            (S::CONFLICT, json!("year_not_over")),
            "{}",
            early.text
        );
        assert_eq!(
            t.get(&clearing, &insurer).await.json()["code"],
            json!("clearing_not_computed")
        );

        // the second day of next year
        let next = time::Date::from_calendar_date(year + 1, time::Month::January, 2).unwrap();
        t.shift_clock((next - today).whole_days());
        // tokens of today, the old ones expired
        let insurer = t.token("insurer").await;
        let doctor = t.token("doctor").await;
        assert_eq!(
            t.post(&format!("{clearing}/freeze"), &doctor, json!({}))
                .await
                .status,
            S::FORBIDDEN
        );
        // the prepayments come first: all twelve, and none after the freeze
        let unpaid = t
            .post(&format!("{clearing}/freeze"), &insurer, json!({}))
            .await;
        assert_eq!(
            unpaid.json()["code"],
            json!("prepayments_unpaid"),
            "{}",
            unpaid.text
        );
        for m in months + 1..=12 {
            let r = t
                .post(&format!("{base}/prepayments/{m}/pay"), &insurer, json!({}))
                .await;
            assert_eq!(r.status, S::OK, "{}", r.text);
        }
        let paid = fen(&t.get(&base, &insurer).await.json()["paid_fen"]);
        let frozen = t
            .post(&format!("{clearing}/freeze"), &insurer, json!({}))
            .await;
        assert_eq!(frozen.status, S::OK, "{}", frozen.text);
        let late = t
            .post(&format!("{base}/prepayments/12/pay"), &insurer, json!({}))
            .await;
        assert_eq!(late.json()["code"], json!("year_frozen"), "{}", late.text);
        let y = frozen.json();
        assert_eq!(y["state"], json!("clearing_computed"), "{y}");
        let home = y["institutions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["institution_id"] == json!(t.home))
            .cloned()
            .unwrap_or_else(|| panic!("the home institution is cleared: {y}"));
        let days_in_year = i64::from(time::util::days_in_year(year));
        let budget = budget_by_hand(days, days_in_year);
        let inputs = &home["inputs"];
        assert_eq!(
            (
                fen(&inputs["budget_fen"]),
                fen(&inputs["prepaid_fen"]),
                fen(&home["cost_fen"]),
                &inputs["person_days"]
            ),
            (
                budget,
                paid,
                24_948,
                &json!({"contracted": days, "mt_hypertension": days, "mt_diabetes": 0})
            ),
            "{home}"
        );
        // DOMAIN.md §6 by hand from the reported multiplier
        let adjusted = times(budget, &home["multiplier"]);
        let surplus = adjusted - 24_948;
        assert!(surplus > 0, "{home}");
        assert_eq!(
            (
                fen(&home["adjusted_budget_fen"]),
                fen(&home["surplus_fen"]),
                fen(&home["retained_fen"]),
                fen(&home["fund_covers_fen"]),
                fen(&home["community_bears_fen"]),
                fen(&home["balance_fen"]),
                &home["reproduced"],
                &home["state"]
            ),
            (
                adjusted,
                surplus,
                surplus, // no cap in the demo scheme: all of it retained
                0,
                0,
                24_948 + surplus - paid,
                &json!(true),
                &json!("computed")
            ),
            "{home}"
        );

        // the persons behind it
        let people = t
            .get(
                &format!("{clearing}/institutions/{}/members", t.home),
                &insurer,
            )
            .await;
        assert_eq!(people.status, S::OK, "{}", people.text);
        let p = &people.json()["items"];
        assert_eq!(p.as_array().unwrap().len(), 1, "{p}");
        assert_eq!(
            (
                &p[0]["resident_id"],
                &p[0]["cost_fen"],
                &p[0]["days"]["contracted"]
            ),
            (&json!(t.home_resident), &json!(24_948), &json!(days))
        );

        // what the city dashboard shows: the surplus rate, the cost per person and the
        // share above the grassroots, from the frozen clearing (DOMAIN.md §6)
        let shown = t.get(&format!("{base}/figures"), &insurer).await;
        assert_eq!(shown.status, S::OK, "{}", shown.text);
        let shown = shown.json();
        let mine = shown["institutions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["institution_id"] == json!(t.home))
            .cloned()
            .unwrap_or_else(|| panic!("{shown}"));
        let upper = fen(&inputs["cost"]["upper_fen"]);
        let rate_bp = (surplus * 10_000 + adjusted / 2) / adjusted;
        let upper_bp = (upper * 10_000 + 24_948 / 2) / 24_948;
        assert_eq!(
            mine["figures"],
            json!({"institutions": 1, "persons": 1, "adjusted_budget_fen": adjusted,
                   "cost_fen": 24_948, "surplus_fen": surplus, "upper_fen": upper,
                   "surplus_rate_bp": rate_bp, "cost_per_person_fen": 24_948,
                   "upper_share_bp": upper_bp}),
            "{shown}"
        );
        // a district's and the city's sums: their rates are those of the sums
        let district = shown["districts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == mine["district_code"])
            .cloned()
            .unwrap();
        let d = &district["figures"];
        assert_eq!(
            d["surplus_rate_bp"],
            json!(
                (fen(&d["surplus_fen"]) * 10_000 + fen(&d["adjusted_budget_fen"]) / 2)
                    / fen(&d["adjusted_budget_fen"])
            ),
            "{district}"
        );
        let only = t
            .get(
                &format!(
                    "{base}/figures?district={}",
                    mine["district_code"].as_str().unwrap()
                ),
                &insurer,
            )
            .await
            .json();
        assert!(
            only["institutions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["district_code"] == mine["district_code"]),
            "{only}"
        );
        assert_eq!(
            t.get(&format!("{base}/figures"), &doctor).await.status,
            S::FORBIDDEN
        );
        // a district officer sees their district, an institution's administrator their own
        for who in ["district", "instadmin"] {
            let token = t.token(who).await;
            let seen = t.get(&format!("{base}/figures"), &token).await.json();
            let institutions = seen["institutions"].as_array().unwrap();
            assert!(!institutions.is_empty(), "{who}: {seen}");
            for i in institutions {
                if who == "instadmin" {
                    assert_eq!(i["institution_id"], json!(t.home), "{who}: {seen}");
                } else {
                    assert_eq!(i["district_code"], json!("120101"), "{who}: {seen}");
                }
            }
            assert!(
                seen["districts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|d| d["code"] == json!("120101")),
                "{who}: {seen}"
            );
        }

        // B and C trace to the persons frozen behind them
        let sums = t.store.clearing_member_sums(year).await.unwrap();
        let (_, shares, costs) = sums.iter().find(|(id, _, _)| *id == t.home).unwrap();
        assert_eq!(
            (
                gongti_core::payment::scheme::budget_of(*shares, days_in_year),
                *costs
            ),
            (budget, 24_948)
        );

        // again: the same figures, recounted; an answer to the earlier freeze is refused
        let again = t
            .post(&format!("{clearing}/freeze"), &insurer, json!({}))
            .await;
        assert_eq!(again.status, S::OK, "{}", again.text);
        assert_eq!(again.json()["balance_fen"], y["balance_fen"]);
        // a freeze runs in a task of its own: asked to wait no time it answers that it
        // goes on; the year says so, a second freeze meanwhile is refused, and once it
        // ends the clearing is as before
        let session = t.app.authenticate(&insurer).await.unwrap();
        let ctx = gongti_app::Ctx {
            principal: session.principal,
            request_id: None,
        };
        let started = t
            .app
            .start_freeze(&ctx, year, std::time::Duration::ZERO)
            .await;
        assert!(matches!(started, Ok(false)), "{started:?}");
        assert!(t.app.freezing(year));
        let meanwhile = t
            .post(&format!("{clearing}/freeze"), &insurer, json!({}))
            .await;
        assert_eq!(
            (meanwhile.status, meanwhile.json()["code"].clone()),
            (S::CONFLICT, json!("clearing_in_progress")),
            "{}",
            meanwhile.text
        );
        while t.app.freezing(year) {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            t.get(&clearing, &insurer).await.json()["balance_fen"],
            y["balance_fen"]
        );
        let stale = t
            .post(
                &format!("{clearing}/institutions/{}/confirm", t.home),
                &t.token("instadmin").await,
                json!({"frozen_at_us": home["frozen_at_us"]}),
            )
            .await;
        assert_eq!(
            stale.json()["code"],
            json!("clearing_changed_meanwhile"),
            "{}",
            stale.text
        );

        let step = |s: &str| format!("{clearing}/institutions/{}/{s}", t.home);
        let admin = t.token("instadmin").await;
        let other_admin = t.token("hospadmin").await;
        let r = t.post(&step("approve"), &insurer, json!({})).await;
        assert_eq!(
            r.json()["code"],
            json!("clearing_not_answered"),
            "{}",
            r.text
        );
        assert_eq!(
            t.post(&step("confirm"), &other_admin, json!({}))
                .await
                .status,
            S::FORBIDDEN
        );
        assert_eq!(
            t.post(&step("confirm"), &insurer, json!({})).await.status,
            S::FORBIDDEN
        );
        let r = t
            .post(&step("dispute"), &admin, json!({"reason": "  "}))
            .await;
        assert_eq!(r.status, S::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = t
            .post(
                &step("dispute"),
                &admin,
                json!({"reason": "漏计一笔门特结算"}),
            )
            .await;
        assert_eq!(
            (
                r.status,
                r.json()["state"].clone(),
                r.json()["reason"].clone()
            ),
            (S::OK, json!("disputed"), json!("漏计一笔门特结算")),
            "{}",
            r.text
        );
        assert_eq!(
            t.post(&step("approve"), &admin, json!({})).await.status,
            S::FORBIDDEN
        );
        let r = t.post(&step("approve"), &insurer, json!({})).await;
        assert_eq!(
            r.status,
            S::UNPROCESSABLE_ENTITY,
            "a dispute is answered: {}",
            r.text
        );
        let r = t
            .post(
                &step("approve"),
                &insurer,
                json!({"reply": "该笔结算属下一年度"}),
            )
            .await;
        assert_eq!(r.json()["state"], json!("approved"), "{}", r.text);
        let r = t.post(&step("approve"), &insurer, json!({})).await;
        assert_eq!(r.json()["state"], json!("approved"), "again: {}", r.text);
        let r = t.post(&step("confirm"), &admin, json!({})).await;
        assert_eq!(r.json()["code"], json!("clearing_already_approved"));
        let r = t
            .post(&format!("{clearing}/freeze"), &insurer, json!({}))
            .await;
        assert_eq!(r.json()["code"], json!("clearing_already_approved"));

        let close = format!("{clearing}/close");
        let r = t.post(&close, &insurer, json!({})).await;
        let unsettled = r.json()["code"].clone();
        let settled_state = if fen(&home["balance_fen"]) < 0 {
            "recovered"
        } else {
            "paid"
        };
        // only the home institution has members here
        let all = t.get(&clearing, &insurer).await.json();
        assert_eq!(all["institutions"].as_array().unwrap().len(), 1, "{all}");
        assert_eq!(unsettled, json!("clearing_not_settled"));
        let r = t.post(&step("settle"), &insurer, json!({})).await;
        assert_eq!(r.json()["state"], json!(settled_state), "{}", r.text);
        assert_eq!(
            t.post(&step("settle"), &insurer, json!({})).await.json()["state"],
            json!(settled_state)
        );
        let r = t.post(&close, &insurer, json!({})).await;
        assert_eq!(
            (r.status, r.json()["state"].clone()),
            (S::OK, json!("closed")),
            "{}",
            r.text
        );
        assert_eq!(t.post(&close, &insurer, json!({})).await.status, S::OK);
        let r = t
            .post(&format!("{clearing}/freeze"), &insurer, json!({}))
            .await;
        assert_eq!(r.json()["code"], json!("clearing_already_approved"));

        // the overseeing roles read; a doctor does not
        assert_eq!(t.get(&clearing, &doctor).await.status, S::FORBIDDEN);
        let district = t.token("district").await;
        let seen = t.get(&clearing, &district).await;
        assert_eq!(seen.status, S::OK, "{}", seen.text);

        let trail = t.audit_tail(60).await;
        for action in [
            "capitation.clearing.freeze",
            "capitation.clearing.dispute",
            "capitation.clearing.approve",
            "capitation.clearing.settle",
            "capitation.clearing.close",
            "capitation.clearing.members",
        ] {
            assert!(
                trail.iter().any(|e| e.entry.action == action
                    && e.entry.outcome == gongti_core::audit::Outcome::Ok),
                "{action} is audited"
            );
        }
        let dispute = trail
            .iter()
            .find(|e| {
                e.entry.action == "capitation.clearing.dispute"
                    && e.entry.outcome == gongti_core::audit::Outcome::Ok
            })
            .unwrap();
        assert_eq!(
            dispute.entry.reason.as_deref(),
            Some("漏计一笔门特结算"),
            "the trail keeps the reason"
        );
        let freeze = trail
            .iter()
            .find(|e| {
                e.entry.action == "capitation.clearing.freeze"
                    && e.entry.outcome == gongti_core::audit::Outcome::Ok
            })
            .unwrap();
        assert!(
            freeze
                .entry
                .detail
                .as_deref()
                .unwrap_or("")
                .contains("residents="),
            "naming the persons counted"
        );
        t.shift_clock(0);
    }
}

/// The console, as its users walk it: an overspent year frozen by the insurance
/// officer, its page showing the negative surplus rate and what the community bears;
/// the institution's administrator disputes with a reason; the officer approves with a
/// reply, pays the balance and closes the year.
#[tokio::test]
async fn the_console_walks_an_overspent_year_from_frozen_to_closed() {
    use crate::console::{page, sign_in};
    use crate::console_scheduling::{csrf_of, post_form};
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let year = t.app.today().year();
    member(&t).await;
    let insurer = t.token("insurer").await;
    let today = t.app.today();
    // far above the one person's budget: an overspend
    let file = format!("{HEADER}S1,PSN1,{today},20000.00,15000.00,X1,院外医院\n");
    assert_eq!(upload(&t, &insurer, "", &file).await.status, S::OK);
    let base = format!("/api/v1/capitation/years/{year}");
    assert_eq!(
        t.post(&format!("{base}/approve"), &insurer, json!({}))
            .await
            .status,
        S::OK
    );
    let next = time::Date::from_calendar_date(year + 1, time::Month::January, 2).unwrap();
    t.shift_clock((next - today).whole_days());
    let insurer = t.token("insurer").await;
    for m in 1..=12 {
        let r = t
            .post(&format!("{base}/prepayments/{m}/pay"), &insurer, json!({}))
            .await;
        assert_eq!(r.status, S::OK, "{}", r.text);
    }

    let session = sign_in(&t, "insurer").await;
    let home = page(&t, &session, "/", "zh").await;
    assert!(home.text.contains("/payment/clearing"), "in the menu");
    // last year is shown first
    let before = page(&t, &session, "/payment/clearing", "zh").await;
    assert!(
        before.text.contains(&format!("年度清算 {year}"))
            && before.text.contains("冻结数据并计算清算"),
        "{}",
        before.text
    );
    let form = format!("csrf={}&year={year}", csrf_of(&before.text));
    let frozen = post_form(&t, &session, "/payment/clearing/freeze", &form).await;
    assert_eq!(frozen.status, S::SEE_OTHER, "{}", frozen.text);
    let list = page(&t, &session, "/payment/clearing", "zh").await;
    assert_eq!(list.status, S::OK, "{}", list.text);
    for text in ["已计算，待机构确认", "测试C1", "承担 ", "%"] {
        assert!(list.text.contains(text), "{text}: {}", list.text);
    }
    assert!(
        list.text.contains("<td>-"),
        "a negative surplus rate: {}",
        list.text
    );
    // the dashboard's card and 支付成效: the cost above the grassroots is all of it (the
    // bureau's file names a hospital outside the community), one person's 15,000 yuan
    let dashboard = page(&t, &session, "/dashboard", "zh").await;
    assert_eq!(dashboard.status, S::OK, "{}", dashboard.text);
    for text in [
        "医保支付成效",
        &format!("{year} 年度清算"),
        "15000.00",
        "100.00%",
        &format!("/payment/figures?year={year}"),
    ] {
        assert!(dashboard.text.contains(text), "{text}: {}", dashboard.text);
    }
    let outcomes = page(&t, &session, &format!("/payment/figures?year={year}"), "zh").await;
    assert_eq!(outcomes.status, S::OK, "{}", outcomes.text);
    for text in [
        "支付成效",
        "测试C1",
        "15000.00",
        "100.00%",
        "class=\"bad\">-",
        &format!(
            "/payment/clearing/members?year={year}&amp;institution={}",
            t.home
        ),
    ] {
        assert!(outcomes.text.contains(text), "{text}: {}", outcomes.text);
    }
    let not_yet = page(
        &t,
        &session,
        &format!("/payment/figures?year={}", year + 1),
        "zh",
    )
    .await;
    assert!(
        not_yet.text.contains("/payment/costs?year="),
        "{}",
        not_yet.text
    );
    let one_path = format!("/payment/clearing/institution?year={year}&id={}", t.home);
    let one = page(&t, &session, &one_path, "zh").await;
    for text in [
        "医联体承担超支",
        "由冻结数据重算一致",
        "人员名单",
        "待机构确认或提出异议后审定",
    ] {
        assert!(one.text.contains(text), "{text}: {}", one.text);
    }
    let people = page(
        &t,
        &session,
        &format!(
            "/payment/clearing/members?year={year}&institution={}",
            t.home
        ),
        "zh",
    )
    .await;
    assert!(
        people.text.contains("张**") && people.text.contains("15000.00"),
        "{}",
        people.text
    );

    let admin = sign_in(&t, "instadmin").await;
    let mine = page(&t, &admin, &one_path, "zh").await;
    assert!(
        mine.text.contains("确认清算结果") && mine.text.contains("提出异议"),
        "{}",
        mine.text
    );
    let frozen_of = |html: &str| {
        let needle = "name=\"frozen\" value=\"";
        let at = html.find(needle).expect("the freeze seen") + needle.len();
        html[at..].split('"').next().unwrap().to_owned()
    };
    let step = |page: &str, step: &str, words: &str| {
        format!(
            "csrf={}&year={year}&institution={}&step={step}&words={words}&frozen={}",
            csrf_of(page),
            t.home,
            frozen_of(page)
        )
    };
    let empty = post_form(
        &t,
        &admin,
        "/payment/clearing/step",
        &step(&mine.text, "dispute", ""),
    )
    .await;
    assert_eq!(empty.status, S::UNPROCESSABLE_ENTITY, "{}", empty.text);
    let disputed = post_form(
        &t,
        &admin,
        "/payment/clearing/step",
        &step(
            &mine.text,
            "dispute",
            "%E9%99%A2%E5%A4%96%E4%BD%8F%E9%99%A2",
        ),
    )
    .await;
    assert_eq!(disputed.status, S::SEE_OTHER, "{}", disputed.text);
    let seen = page(&t, &session, &one_path, "zh").await;
    assert!(
        seen.text.contains("机构有异议") && seen.text.contains("院外住院"),
        "{}",
        seen.text
    );
    let approved = post_form(
        &t,
        &session,
        "/payment/clearing/step",
        &step(&seen.text, "approve", "%E7%BB%B4%E6%8C%81"),
    )
    .await;
    assert_eq!(approved.status, S::SEE_OTHER, "{}", approved.text);
    let now = page(&t, &session, &one_path, "zh").await;
    assert!(
        now.text.contains("医保审定") && now.text.contains("记录"),
        "{}",
        now.text
    );
    let settled = post_form(
        &t,
        &session,
        "/payment/clearing/step",
        &step(&now.text, "settle", ""),
    )
    .await;
    assert_eq!(settled.status, S::SEE_OTHER, "{}", settled.text);
    let list = page(&t, &session, "/payment/clearing", "zh").await;
    let form = format!("csrf={}&year={year}", csrf_of(&list.text));
    let closed = post_form(&t, &session, "/payment/clearing/close", &form).await;
    assert_eq!(closed.status, S::SEE_OTHER, "{}", closed.text);
    let after = page(&t, &session, "/payment/clearing", "zh").await;
    assert!(after.text.contains("年度已关闭"), "{}", after.text);
    let doctor = sign_in(&t, "doctor").await;
    assert_eq!(
        page(&t, &doctor, "/payment/clearing", "zh").await.status,
        S::FORBIDDEN
    );
    t.shift_clock(0);
}
