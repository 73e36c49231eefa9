//! Capitation's costs (issue 17 point 3), on both engines: the bureau's settlement file
//! checked (every problem by line and column: an unknown 人员编号, a 结算ID twice or
//! brought in already, the fund's share above the total), dry-run, brought in whole;
//! a year's costs counted where the person counted that day, by source and level —
//! a tertiary hospital of the platform and an institution outside it both above the
//! grassroots — and a settlement of last year left out; only the insurance officer
//! brings a file in; and the console's pages.

use axum::body::Body;
use axum::http::{Request, StatusCode as S, header};
use serde_json::json;

use crate::payment_budget::{contracted_and_enrolled, joined};
use crate::support::{Reply, TestApp};

pub(crate) async fn upload(t: &TestApp, token: &str, query: &str, body: &str) -> Reply {
    t.send(
        Request::post(format!("/api/v1/capitation/settlements/import{query}"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from(body.to_owned()))
            .unwrap(),
    )
    .await
}

pub(crate) const HEADER: &str =
    "结算ID,人员编号,结算时间,医疗费总额,基金支付总额,定点医药机构编号,定点医药机构名称\n";

/// A scheme in force, the home resident contracted and enrolled and insured as PSN1.
pub(crate) async fn member(t: &TestApp) -> time::Date {
    crate::payment_schemes::demo_scheme_in_force(t).await;
    let (on, _) = joined(t);
    contracted_and_enrolled(t, on).await;
    t.store
        .set_insured(
            &gongti_store::InsuredPerson {
                resident_id: t.home_resident,
                psn_no: "PSN1".into(),
                insutype: "resident".into(),
                psn_type: "working".into(),
                account_balance_fen: 0,
            },
            1,
            &[],
        )
        .await
        .unwrap();
    on
}

#[tokio::test]
async fn the_bureaus_file_is_checked_brought_in_and_counted_where_the_person_belongs() {
    for t in TestApp::all().await {
        let year = t.app.today().year();
        member(&t).await;
        let today = t.app.today();
        let insurer = t.token("insurer").await;
        let bad = format!(
            "{HEADER}S1,PSN1,{today},100.00,80.00,H1,测试H1\nS1,PSN9,{today},100.00,120.00,X1,院外\n"
        );
        let r = upload(&t, &insurer, "?dry_run=true", &bad).await;
        assert_eq!(r.status, S::UNPROCESSABLE_ENTITY, "{}", r.text);
        let found: Vec<(i64, String, String)> = r.json()["problems"]
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
            .collect();
        let mut found = found;
        found.sort();
        assert_eq!(
            found,
            [
                (3, "fund_pay_sumamt".into(), "inconsistent".into()),
                (3, "psn_no".into(), "person_unknown".into()),
                (3, "setl_id".into(), "duplicate_row".into()),
            ],
            "{}",
            r.text
        );
        // 356.40 at the platform's tertiary hospital, 100.00 outside it, and one of
        // last year's 31 December
        let good = format!(
            "{HEADER}S1,PSN1,{today} 10:20:00,\"1,356.40\",249.48,H1,测试H1\nS2,PSN1,{today},100.00,80.00,X999,院外医院\nS3,PSN1,{}-12-31,50.00,40.00,H1,测试H1\n",
            year - 1
        );
        let dry = upload(&t, &insurer, "?dry_run=true", &good).await;
        assert_eq!(dry.status, S::OK, "{}", dry.text);
        assert_eq!(
            (&dry.json()["would_import"], &dry.json()["imported"]),
            (&json!(3), &json!(0))
        );
        let costs_path = format!("/api/v1/capitation/years/{year}/costs");
        let before = t.get(&costs_path, &insurer).await.json();
        assert_eq!(
            before["total"]["fund_fen"],
            json!(0),
            "a dry run saves nothing"
        );
        let officer = t.token("officer").await;
        assert_eq!(upload(&t, &officer, "", &good).await.status, S::FORBIDDEN);
        let done = upload(&t, &insurer, "", &good).await;
        assert_eq!(done.status, S::OK, "{}", done.text);
        assert_eq!(done.json()["imported"], json!(3));
        let again = upload(&t, &insurer, "", &good).await;
        assert_eq!(again.status, S::UNPROCESSABLE_ENTITY);
        assert!(again.text.contains("already_imported"), "{}", again.text);

        let costs = t.get(&costs_path, &officer).await;
        assert_eq!(costs.status, S::OK, "{}", costs.text);
        let c = costs.json();
        assert_eq!(
            c["total"],
            json!({
                "fund_fen": 32_948,
                "by_source_fen": {"pharmacy": 0, "exam": 0, "bureau": 32_948},
                "by_level_fen": {"grassroots": 0, "internet": 0, "secondary": 0, "tertiary": 24_948, "outside": 8_000},
                "upper_fen": 32_948,
                "upper_share": 1.0,
                "lines": 2
            }),
            "{c}"
        );
        assert_eq!(c["institutions"][0]["institution_id"], json!(t.home));
        let doctor = t.token("doctor").await;
        assert_eq!(t.get(&costs_path, &doctor).await.status, S::FORBIDDEN);
        let trail = t.audit_tail(20).await;
        let import = trail
            .iter()
            .rev()
            .find(|e| {
                e.entry.action == "bureau_settlement.import"
                    && e.entry.reason.is_none()
                    && e.entry.outcome == gongti_core::audit::Outcome::Ok
            })
            .expect("the load is audited");
        assert!(import.entry.resource_id.is_some(), "naming its rows");
    }
}

/// The console: the insurance officer's upload page with its template, and 费用与预测
/// with the year's costs by source and level.
#[tokio::test]
async fn the_officer_sees_costs_and_the_upload_page_in_the_console() {
    use crate::console::{page, sign_in};
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    member(&t).await;
    let today = t.app.today();
    let insurer = t.token("insurer").await;
    let r = upload(
        &t,
        &insurer,
        "",
        &format!("{HEADER}S1,PSN1,{today},200.00,150.00,X1,院外医院\n"),
    )
    .await;
    assert_eq!(r.status, S::OK, "{}", r.text);
    let session = sign_in(&t, "insurer").await;
    let home = page(&t, &session, "/", "zh").await;
    assert!(home.text.contains("/payment/costs"), "in the menu");
    let costs = page(&t, &session, "/payment/costs", "zh").await;
    assert_eq!(costs.status, S::OK, "{}", costs.text);
    for text in [
        "费用与预测",
        "150.00",
        "共同体外机构",
        "100.00%",
        "测试C1",
        "导入医保局结算数据",
    ] {
        assert!(costs.text.contains(text), "{text}: {}", costs.text);
    }
    let upload_page = page(&t, &session, "/payment/settlements/import", "zh").await;
    assert_eq!(upload_page.status, S::OK);
    assert!(
        upload_page.text.contains("医保结算数据导入") && upload_page.text.contains("基金支付总额")
    );
    let template = page(
        &t,
        &session,
        "/payment/settlements/import/template.csv",
        "zh",
    )
    .await;
    assert!(template.text.contains("结算ID"), "{}", template.text);
    let officer = sign_in(&t, "officer").await;
    assert_eq!(
        page(&t, &officer, "/payment/settlements/import", "zh")
            .await
            .status,
        S::FORBIDDEN
    );
}

/// A cloud-pharmacy 门特 settlement is a cost at the prescribing institution, where the
/// person's hypertension budget is; the bureau's file listing the same 结算ID is
/// refused (never counted twice); a reversed settlement is no cost.
#[tokio::test]
async fn a_pharmacy_settlement_is_a_cost_once_and_no_more_once_reversed() {
    use crate::prescriptions::pharmacist;
    use crate::settlement::{certify_hypertension, insure, passed};
    for t in TestApp::all().await {
        let year = t.app.today().year();
        member(&t).await;
        insure(&t).await;
        certify_hypertension(&t).await;
        let doctor = t.token("doctor").await;
        let reviewer = pharmacist(&t, "yaoshi", t.home, "主管药师", 5).await;
        let id = passed(&t, &doctor, &reviewer).await;
        let settled = t
            .post(
                &format!("/api/v1/prescriptions/{id}/settlement"),
                &doctor,
                json!({"expected_cash_fen": 2_066}),
            )
            .await;
        assert_eq!(settled.status, S::CREATED, "{}", settled.text);
        let setl_id = settled.json()["setl_id"].as_str().unwrap().to_owned();
        let insurer = t.token("insurer").await;
        let costs_path = format!("/api/v1/capitation/years/{year}/costs");
        let c = t.get(&costs_path, &insurer).await.json();
        assert_eq!(
            (
                &c["total"]["by_source_fen"]["pharmacy"],
                &c["total"]["by_level_fen"]["grassroots"],
                &c["institutions"][0]["institution_id"]
            ),
            (&json!(5_994), &json!(5_994), &json!(t.home)),
            "{c}"
        );
        let today = t.app.today();
        let psn = format!("SIMPSN{}", t.home_resident);
        let twice = upload(
            &t,
            &insurer,
            "?dry_run=true",
            &format!("{HEADER}{setl_id},{psn},{today},74.92,59.94,C1,测试C1\n"),
        )
        .await;
        assert_eq!(twice.status, S::UNPROCESSABLE_ENTITY, "{}", twice.text);
        assert!(twice.text.contains("already_imported"), "{}", twice.text);
        let reversed = t
            .post(
                &format!("/api/v1/prescriptions/{id}/settlement/reverse"),
                &doctor,
                json!({}),
            )
            .await;
        assert_eq!(reversed.status, S::OK, "{}", reversed.text);
        let c = t.get(&costs_path, &insurer).await.json();
        assert_eq!(c["total"]["fund_fen"], json!(0), "{c}");
    }
}

/// 质量考核 (issue 17 point 4): the home institution's terms from its records — its
/// one resident contracted (签约率 1 of 1) — and Q as `core::payment::quality` scores
/// those counts; a year not begun has nothing to assess; the console's page.
#[tokio::test]
async fn the_year_is_assessed_from_the_records() {
    use gongti_core::payment::quality::assess;
    use gongti_core::payment::scheme::DemoScheme;
    for t in TestApp::all().await {
        let year = t.app.today().year();
        member(&t).await;
        let insurer = t.token("insurer").await;
        let r = t
            .get(
                &format!("/api/v1/capitation/years/{year}/quality"),
                &insurer,
            )
            .await;
        assert_eq!(r.status, S::OK, "{}", r.text);
        let q = r.json();
        let home = &q["institutions"][0];
        assert_eq!(home["institution_id"], json!(t.home), "{q}");
        let terms = home["terms"].as_array().unwrap();
        assert_eq!(
            (
                &terms[4]["term"],
                &terms[4]["numerator"],
                &terms[4]["denominator"]
            ),
            (&json!("contract_coverage"), &json!(1), &json!(1))
        );
        let mut counts = [(0u64, 0u64); 7];
        for (k, term) in terms.iter().enumerate() {
            counts[k] = (
                term["numerator"].as_u64().unwrap(),
                term["denominator"].as_u64().unwrap(),
            );
        }
        let expected = assess(&DemoScheme::builtin().scheme, &counts);
        let score = expected.score.expect("签约率 is measurable");
        assert_eq!(
            home["score"].as_f64().unwrap(),
            gongti_core::decimal::shown(score, 6)
                .parse::<f64>()
                .unwrap(),
            "{q}"
        );
        let ahead = t
            .get(
                &format!("/api/v1/capitation/years/{}/quality", year + 1),
                &insurer,
            )
            .await
            .json();
        assert_eq!(ahead["institutions"], json!([]), "a year not begun");
        let doctor = t.token("doctor").await;
        assert_eq!(
            t.get(&format!("/api/v1/capitation/years/{year}/quality"), &doctor)
                .await
                .status,
            S::FORBIDDEN
        );
    }
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    member(&t).await;
    let session = crate::console::sign_in(&t, "insurer").await;
    let page = crate::console::page(&t, &session, "/payment/quality", "zh").await;
    assert_eq!(page.status, S::OK, "{}", page.text);
    for text in ["质量考核", "测试C1", "签约率", "100.00%", "m(Q)"] {
        assert!(page.text.contains(text), "{text}: {}", page.text);
    }
}
