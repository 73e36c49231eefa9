//! The what-if endpoints of payment (DOMAIN.md §6, issue 17), on both engines: a year
//! of capitation and a month's incentive pool, each figure to the fen as DOMAIN.md §6
//! computes it by hand; a surplus retained under a cap, Tianjin's overspend borne by
//! the community, a partly shared one; the pool's payouts summing exactly; bad input
//! refused with every problem named; only the roles that set or oversee payment ask.

use axum::http::StatusCode as S;
use serde_json::{Value, json};

use crate::support::TestApp;

fn year(members: Value, cost_fen: i64) -> Value {
    json!({
        "rate_fen": 60000,
        "days_in_year": 365,
        "members": members,
        "prepay_share": 0.8,
        "quality_score": 92,
        "quality_bands": [
            {"min_score": 0, "multiplier": 0.85},
            {"min_score": 80, "multiplier": 0.95},
            {"min_score": 90, "multiplier": 1.0}
        ],
        "actual_cost_fen": cost_fen,
        "surplus_cap_share": null,
        "overspend_share": 0
    })
}

#[tokio::test]
async fn capitation_and_the_incentive_pool_what_if() {
    for t in TestApp::all().await {
        let insurer = t.token("insurer").await;

        // B = 600 yuan × (1.2 × 365 + 1.0 × 100 + 0.8 × 365) ÷ 365 = 136,438.356… fen
        let members = json!([
            {"weight": 1.2, "days": 365},
            {"weight": 1.0, "days": 100},
            {"weight": 0.8, "days": 365}
        ]);
        let r = t
            .post(
                "/api/v1/capitation/simulate",
                &insurer,
                year(members.clone(), 110_000),
            )
            .await;
        assert_eq!(r.status, S::OK, "{}", r.text);
        let mut months = vec![9_095; 11];
        months.push(9_105);
        assert_eq!(
            r.json(),
            json!({
                "budget_fen": 136438,
                "prepaid_fen": 109150,
                "monthly_prepayments_fen": months,
                "multiplier": 1.0,
                "adjusted_budget_fen": 136438,
                "surplus_fen": 26438,
                "surplus_rate": 0.193773,
                "retained_fen": 26438,
                "fund_covers_fen": 0,
                "community_bears_fen": 0
            })
        );

        // one person-year at weight 3.65: B = 219,000; a score of 85 takes the 0.95 band;
        // a cap of 10 % keeps 20,805 of the 108,050 saved
        let mut capped = year(json!([{"weight": 3.65, "days": 365}]), 100_000);
        capped["quality_score"] = json!(85);
        capped["surplus_cap_share"] = json!(0.1);
        let c = t
            .post("/api/v1/capitation/simulate", &insurer, capped)
            .await
            .json();
        assert_eq!(
            (
                &c["multiplier"],
                &c["adjusted_budget_fen"],
                &c["surplus_fen"],
                &c["retained_fen"]
            ),
            (&json!(0.95), &json!(208050), &json!(108050), &json!(20805))
        );

        // Tianjin 超支不补: an overspend of 31,000 borne by the community; with a 35 %
        // fund share, 10,850 covered
        let over = year(json!([{"weight": 3.65, "days": 365}]), 250_000);
        let c = t
            .post("/api/v1/capitation/simulate", &insurer, over.clone())
            .await
            .json();
        assert_eq!(
            (
                &c["surplus_fen"],
                &c["fund_covers_fen"],
                &c["community_bears_fen"]
            ),
            (&json!(-31000), &json!(0), &json!(31000))
        );
        let mut shared = over;
        shared["overspend_share"] = json!(0.35);
        let c = t
            .post("/api/v1/capitation/simulate", &insurer, shared)
            .await
            .json();
        assert_eq!(
            (&c["fund_covers_fen"], &c["community_bears_fen"]),
            (&json!(10850), &json!(20150))
        );
        let empty = t
            .post("/api/v1/capitation/simulate", &insurer, year(json!([]), 0))
            .await
            .json();
        assert!(empty["surplus_rate"].is_null(), "{empty}");

        // bad input: every problem named, 422
        let mut bad = year(json!([{"weight": 1.2345678, "days": 400}]), -1);
        bad["prepay_share"] = json!(1.5);
        let r = t.post("/api/v1/capitation/simulate", &insurer, bad).await;
        assert_eq!(r.status, S::UNPROCESSABLE_ENTITY, "{}", r.text);
        let fields = r.problem_fields();
        assert_eq!(
            fields,
            [
                "actual_cost_fen",
                "members.weight",
                "members.days",
                "prepay_share"
            ]
        );
        let mut below = year(json!([{"weight": 1, "days": 365}]), 0);
        below["quality_bands"] = json!([{"min_score": 60, "multiplier": 1}]);
        below["quality_score"] = json!(59.5);
        let r = t.post("/api/v1/capitation/simulate", &insurer, below).await;
        assert_eq!(r.status, S::UNPROCESSABLE_ENTITY, "{}", r.text);
        let r = t
            .post(
                "/api/v1/capitation/simulate",
                &insurer,
                json!({"rate_fen": 1}),
            )
            .await;
        assert!(r.status.is_client_error(), "{}", r.text);

        // the incentive pool: 10 fen as 1.7 : 2.0 → 4.59… and 5.40… → 5 and 5
        let pool = json!({"pool_fen": 10, "people": [
            {"id": "随访-李", "units": 1.7, "post": 1, "quality": 1},
            {"id": "建档-王", "units": 2.0, "post": 1, "quality": 1}
        ]});
        let r = t.post("/api/v1/incentives/simulate", &insurer, pool).await;
        assert_eq!(r.status, S::OK, "{}", r.text);
        assert_eq!(
            r.json(),
            json!({"payouts": [{"id": "随访-李", "pay_fen": 5}, {"id": "建档-王", "pay_fen": 5}]})
        );
        let people: Vec<Value> = (0..200)
            .map(|i| json!({"id": format!("s{i}"), "units": (i % 13) as f64 + 0.25, "post": 1.2, "quality": 0.9}))
            .collect();
        let many = t
            .post(
                "/api/v1/incentives/simulate",
                &insurer,
                json!({"pool_fen": 98_765_432, "people": people}),
            )
            .await
            .json();
        let sum: i64 = many["payouts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pay_fen"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, 98_765_432, "the payouts sum to the pool");
        let twice = json!({"pool_fen": 10, "people": [
            {"id": "a", "units": 1, "post": 1, "quality": 1},
            {"id": "a", "units": 1, "post": 1, "quality": 1}
        ]});
        let r = t.post("/api/v1/incentives/simulate", &insurer, twice).await;
        assert_eq!(r.status, S::UNPROCESSABLE_ENTITY, "{}", r.text);

        // the city officer asks too; a family doctor does not (refusal audited)
        let officer = t.token("officer").await;
        let r = t
            .post(
                "/api/v1/capitation/simulate",
                &officer,
                year(members.clone(), 0),
            )
            .await;
        assert_eq!(r.status, S::OK, "{}", r.text);
        let doctor = t.token("doctor").await;
        let r = t
            .post("/api/v1/capitation/simulate", &doctor, year(members, 0))
            .await;
        assert_eq!(r.status, S::FORBIDDEN, "{}", r.text);
        let tail = t.audit_tail(10).await;
        assert!(
            tail.iter()
                .any(|e| e.entry.action == "payment.capitation.simulate"),
            "the refusal is audited"
        );
    }
}
