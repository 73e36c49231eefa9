//! The payment scheme's versions (issue 17 point 1), on both engines: the insurance
//! officer saves the shipped demonstration scheme as version 1 and a changed rate as
//! version 2 from next year; each reads back parameter by parameter, the one in force
//! marked; bad versions are refused with every problem named and nothing saved; only
//! the insurance officer saves, the roles that oversee payment read; and in the
//! console, the editor checks and computes as the officer types, saves, and shows the
//! version in words.

use axum::http::StatusCode as S;
use gongti_core::payment::scheme::DemoScheme;
use serde_json::{Map, Value, json};

use crate::support::{TestApp, urlencode};

/// The demonstration scheme proposed by the insurance officer and approved by the
/// committee (the city officer), in force from this year's first day.
pub(crate) async fn demo_scheme_in_force(t: &crate::support::TestApp) {
    let year = t.app.today().year();
    let r = propose_and_approve(
        t,
        json!({"effective_from": format!("{year}-01-01"), "note": "演示方案", "params": demo_params()}),
    )
    .await;
    assert_eq!(r["in_force"], json!(true), "{r}");
}

/// A version proposed by the insurance officer and approved by the committee; the
/// version as approved.
pub(crate) async fn propose_and_approve(t: &crate::support::TestApp, body: Value) -> Value {
    let insurer = t.token("insurer").await;
    let r = t.post("/api/v1/payment/schemes", &insurer, body).await;
    assert_eq!(r.status, S::CREATED, "{}", r.text);
    let id = r.json()["id"].as_i64().unwrap();
    let officer = t.token("officer").await;
    let approved = t
        .post(
            &format!("/api/v1/payment/schemes/{id}/approve"),
            &officer,
            json!({"note": "委员会审议通过"}),
        )
        .await;
    assert_eq!(approved.status, S::OK, "{}", approved.text);
    approved.json()
}

/// The demonstration scheme as the API's `params`: each name to its number.
pub(crate) fn demo_params() -> Map<String, Value> {
    let mut out = Map::new();
    for line in DemoScheme::builtin().scheme.text().lines() {
        let (name, value) = line.split_once('\t').unwrap();
        let v = if value == "none" {
            Value::Null
        } else {
            serde_json::from_str(value).unwrap()
        };
        out.insert(name.to_owned(), v);
    }
    out
}

fn year_start(t: &TestApp, years_on: i32) -> String {
    format!("{}-01-01", t.app.today().year() + years_on)
}

#[tokio::test]
async fn the_insurance_officer_keeps_the_scheme_by_version() {
    for t in TestApp::all().await {
        let insurer = t.token("insurer").await;
        let empty = t.get("/api/v1/payment/schemes", &insurer).await;
        assert_eq!(empty.status, S::OK, "{}", empty.text);
        assert_eq!(empty.json()["items"], json!([]));

        let first = t
            .post(
                "/api/v1/payment/schemes",
                &insurer,
                json!({"effective_from": year_start(&t, 0), "note": "演示方案", "params": demo_params()}),
            )
            .await;
        assert_eq!(first.status, S::CREATED, "{}", first.text);
        assert_eq!(
            first.headers.get("location").unwrap(),
            "/api/v1/payment/schemes/1"
        );
        let proposed = first.json();
        assert_eq!(
            (&proposed["id"], &proposed["in_force"], &proposed["state"]),
            (&json!(1), &json!(false), &json!("proposed")),
            "not in force until the committee approves it"
        );
        assert_eq!(
            t.get(
                &format!("/api/v1/capitation/years/{}", t.app.today().year()),
                &insurer
            )
            .await
            .json()["code"],
            json!("no_payment_scheme")
        );

        // the committee: the city officer approves; no one else does, a rejection
        // needs its reason, approving again changes nothing
        let officer = t.token("officer").await;
        for who in ["insurer", "district", "hospadmin"] {
            let token = t.token(who).await;
            let r = t
                .post("/api/v1/payment/schemes/1/approve", &token, json!({}))
                .await;
            assert_eq!(r.status, S::FORBIDDEN, "{who}: {}", r.text);
        }
        let no_reason = t
            .post(
                "/api/v1/payment/schemes/1/reject",
                &officer,
                json!({"note": " "}),
            )
            .await;
        assert_eq!(no_reason.problem_fields(), ["note"], "{}", no_reason.text);
        let approved = t
            .post(
                "/api/v1/payment/schemes/1/approve",
                &officer,
                json!({"note": "委员会审议通过"}),
            )
            .await;
        assert_eq!(approved.status, S::OK, "{}", approved.text);
        let v1 = approved.json();
        assert_eq!(
            (
                &v1["state"],
                &v1["in_force"],
                &v1["decided_by"],
                &v1["decision_note"]
            ),
            (
                &json!("approved"),
                &json!(true),
                &json!("officer姓名"),
                &json!("委员会审议通过")
            )
        );
        let again = t
            .send(
                axum::http::Request::post("/api/v1/payment/schemes/1/approve")
                    .header("authorization", format!("Bearer {officer}"))
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(again.status, S::OK, "{}", again.text);
        assert_eq!(again.json()["decided_at"], v1["decided_at"], "unchanged");
        let too_late = t
            .post(
                "/api/v1/payment/schemes/1/reject",
                &officer,
                json!({"note": "不同意"}),
            )
            .await;
        assert_eq!(
            too_late.json()["code"],
            json!("scheme_decided"),
            "{}",
            too_late.text
        );
        assert_eq!(
            t.post("/api/v1/payment/schemes/99/approve", &officer, json!({}))
                .await
                .status,
            S::NOT_FOUND
        );
        assert_eq!(v1["params"], Value::Object(demo_params()));
        assert_eq!(v1["params"]["surplus_cap_share"], Value::Null);
        assert_eq!(v1["params"]["weight.75.both"], json!(1.6));
        assert_eq!(v1["created_by"], json!("insurer姓名"));

        // a higher rate from next year, edited from version 1; written as strings too
        let mut params = demo_params();
        params.insert("rate_fen.contracted".into(), json!("32000"));
        params.insert("prepay_share".into(), json!("0.75"));
        let second = t
            .post(
                "/api/v1/payment/schemes",
                &insurer,
                json!({"effective_from": year_start(&t, 1), "note": "提高签约人头费", "based_on": 1, "params": params}),
            )
            .await;
        assert_eq!(second.status, S::CREATED, "{}", second.text);
        let v2 = second.json();
        assert_eq!(
            (&v2["id"], &v2["in_force"], &v2["based_on"]),
            (&json!(2), &json!(false), &json!(1))
        );
        assert_eq!(v2["params"]["rate_fen.contracted"], json!(32000));
        assert_eq!(v2["params"]["prepay_share"], json!(0.75));
        let list = t.get("/api/v1/payment/schemes", &insurer).await.json();
        let ids: Vec<(&Value, &Value)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (&v["id"], &v["in_force"]))
            .collect();
        assert_eq!(
            ids,
            [(&json!(2), &json!(false)), (&json!(1), &json!(true))],
            "newest first, version 1 in force until next year"
        );

        // every problem at once, nothing saved
        let mut bad = demo_params();
        bad.remove("rate_fen.mt_diabetes");
        bad.insert("quality_weight.bp_control".into(), json!(0.3));
        bad.insert("team_share".into(), json!(0.6));
        bad.insert("bonus".into(), json!(1));
        bad.insert("weight.0.none\nrate_fen.contracted".into(), json!(1));
        bad.insert("overspend_share".into(), json!(true));
        let refused = t
            .post(
                "/api/v1/payment/schemes",
                &insurer,
                json!({"effective_from": year_start(&t, -1), "note": " ", "based_on": 9, "params": bad}),
            )
            .await;
        assert_eq!(refused.status, S::UNPROCESSABLE_ENTITY, "{}", refused.text);
        let mut fields = refused.problem_fields();
        fields.sort();
        fields.dedup();
        assert_eq!(
            fields,
            [
                "based_on",
                "effective_from",
                "note",
                "overspend_share",
                "params",
                "quality_weight",
                "rate_fen",
                "team_share"
            ],
            "{}",
            refused.text
        );
        let malformed = t
            .post(
                "/api/v1/payment/schemes",
                &insurer,
                json!({"effective_from": "2026-13-01", "note": "x", "params": demo_params()}),
            )
            .await;
        assert_eq!(malformed.problem_fields(), ["effective_from"]);
        let list = t.get("/api/v1/payment/schemes", &insurer).await.json();
        assert_eq!(list["items"].as_array().unwrap().len(), 2, "nothing saved");

        // who reads, who saves
        let officer = t.token("officer").await;
        let read = t.get("/api/v1/payment/schemes/1", &officer).await;
        assert_eq!(read.status, S::OK, "{}", read.text);
        assert_eq!(read.json()["params"], v1["params"]);
        let write = t
            .post(
                "/api/v1/payment/schemes",
                &officer,
                json!({"effective_from": year_start(&t, 1), "note": "x", "params": demo_params()}),
            )
            .await;
        assert_eq!(write.status, S::FORBIDDEN);
        let doctor = t.token("doctor").await;
        assert_eq!(
            t.get("/api/v1/payment/schemes", &doctor).await.status,
            S::FORBIDDEN
        );
        assert_eq!(
            t.get("/api/v1/payment/schemes/99", &insurer).await.status,
            S::NOT_FOUND
        );

        // rejected with its reason, version 2 never comes into force
        let rejected = t
            .post(
                "/api/v1/payment/schemes/2/reject",
                &officer,
                json!({"note": "人头费涨幅需再测算"}),
            )
            .await;
        assert_eq!(rejected.status, S::OK, "{}", rejected.text);
        assert_eq!(
            (&rejected.json()["state"], &rejected.json()["decision_note"]),
            (&json!("rejected"), &json!("人头费涨幅需再测算"))
        );
        // a version from this year's first day, proposed before the year's budget was
        // approved under version 1, can no longer be approved once it is
        let late = t
            .post(
                "/api/v1/payment/schemes",
                &insurer,
                json!({"effective_from": year_start(&t, 0), "note": "追溯调整", "params": demo_params()}),
            )
            .await;
        assert_eq!(late.status, S::CREATED, "{}", late.text);
        let year = t.app.today().year();
        let budget = t
            .post(
                &format!("/api/v1/capitation/years/{year}/approve"),
                &insurer,
                json!({}),
            )
            .await;
        assert_eq!(budget.status, S::OK, "{}", budget.text);
        assert_eq!(budget.json()["scheme_version"], json!(1));
        let settled = t
            .post("/api/v1/payment/schemes/3/approve", &officer, json!({}))
            .await;
        assert_eq!(
            (settled.status, settled.json()["code"].clone()),
            (S::CONFLICT, json!("scheme_period_settled")),
            "{}",
            settled.text
        );
        let v3 = t.get("/api/v1/payment/schemes/3", &insurer).await.json();
        assert_eq!(
            (&v3["state"], &v3["in_force"]),
            (&json!("proposed"), &json!(false))
        );

        // an incentive month counted under version 1 — December's, locked — holds its
        // version too: a version from mid-November (so in force from December's first
        // day) is refused; one from the second of December (in force from next January's
        // first day) is approved
        let me = t.get("/api/v1/me", &officer).await.json();
        let locked = t
            .store
            .lock_incentive_month(
                &gongti_store::NewIncentiveMonth {
                    institution_id: t.home,
                    year,
                    month: 12,
                    scheme_version: 1,
                    pool_fen: 0,
                    sources: &[],
                    payouts: &[],
                    items: &[],
                    staff_id: me["staff_id"].as_i64().unwrap(),
                },
                0,
                &[],
            )
            .await;
        assert!(locked.unwrap());
        for (id, from, approved) in [(4, "11-15", false), (5, "12-02", true)] {
            let proposed = t
                .post(
                    "/api/v1/payment/schemes",
                    &insurer,
                    json!({"effective_from": format!("{year}-{from}"), "note": "月中调整", "params": demo_params()}),
                )
                .await;
            assert_eq!(proposed.json()["id"], json!(id), "{}", proposed.text);
            let decided = t
                .post(
                    &format!("/api/v1/payment/schemes/{id}/approve"),
                    &officer,
                    json!({}),
                )
                .await;
            if approved {
                assert_eq!(
                    decided.json()["state"],
                    json!("approved"),
                    "{}",
                    decided.text
                );
            } else {
                assert_eq!(
                    decided.json()["code"],
                    json!("scheme_period_settled"),
                    "{}",
                    decided.text
                );
            }
        }
        // and the other way round: what was counted under a version no longer the one
        // in force on its first day is not saved (the committee approved another
        // meanwhile) — next year is under version 5 now, not 1; November under 1, not 3
        let staff_id = me["staff_id"].as_i64().unwrap();
        let budget = t
            .store
            .insert_capitation_year(
                &gongti_store::NewCapitationYear {
                    year: year + 1,
                    scheme_version: 1,
                    days_in_year: 365,
                    counted_on: t.app.today(),
                    budgets: &[],
                    staff_id,
                },
                0,
                &[],
            )
            .await;
        assert!(
            matches!(
                budget,
                Err(gongti_store::StoreError::Changed(
                    "scheme_changed_meanwhile"
                ))
            ),
            "{budget:?}"
        );
        let month = t
            .store
            .lock_incentive_month(
                &gongti_store::NewIncentiveMonth {
                    institution_id: t.home,
                    year,
                    month: 11,
                    scheme_version: 3,
                    pool_fen: 0,
                    sources: &[],
                    payouts: &[],
                    items: &[],
                    staff_id,
                },
                0,
                &[],
            )
            .await;
        assert!(
            matches!(
                month,
                Err(gongti_store::StoreError::Changed(
                    "scheme_changed_meanwhile"
                ))
            ),
            "{month:?}"
        );
    }
}

/// 付费方案 in the console: with no version saved the editor opens on the shipped
/// demonstration scheme and computes the example institution's year (DOMAIN.md §6 by
/// hand: 3,000 contracted aged 45 at 300 yuan × 0.8, 600 门特 hypertension aged 65 at
/// 1,500 × 1.1 and 300 门特 diabetes at 2,400 × 1.2: B = 720,000 + 990,000 + 864,000 =
/// 2,574,000 yuan; Q 88 takes the 0.95 band, A = 2,445,300; a cost of 2,000,000
/// leaves 445,300, 18.21 %); a bad edit is named in words and not saved; the saved
/// version reads back in words and is in force.
#[tokio::test]
async fn the_officer_edits_a_scheme_in_the_console() {
    use crate::console::{page, sign_in};
    use crate::console_scheduling::{csrf_of, post_form};
    let t = TestApp::on(gongti_testdb::fresh_sqlite().await).await;
    let session = sign_in(&t, "insurer").await;
    let home = page(&t, &session, "/", "zh").await;
    assert!(home.text.contains("/payment/schemes"), "in the menu");
    let list = page(&t, &session, "/payment/schemes", "zh").await;
    assert!(list.text.contains("尚未保存任何版本"), "{}", list.text);
    let editor = page(&t, &session, "/payment/schemes/new", "zh").await;
    assert_eq!(editor.status, S::OK, "{}", editor.text);
    for shown in [
        "data-live=\"scheme-figures\"",
        "2574000.00",
        "2445300.00",
        "445300.00",
        "18.21%",
        "门特糖尿病",
        "高血压随访",
    ] {
        assert!(editor.text.contains(shown), "{shown}: {}", editor.text);
    }
    let csrf = csrf_of(&editor.text);
    // The editor's own fields as a browser sends them.
    let fields = form_fields(&editor.text);
    let encode = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let with = |changes: &[(&str, &str)]| {
        let mut pairs = fields.clone();
        for (k, v) in changes {
            match pairs.iter_mut().find(|(name, _)| name == k) {
                Some(p) => p.1 = (*v).to_owned(),
                None => pairs.push(((*k).to_owned(), (*v).to_owned())),
            }
        }
        encode(&pairs)
    };
    // live: a cost of 3,000,000 overspends, borne by the community (超支不补)
    let live = t
        .send(
            axum::http::Request::post("/payment/schemes/preview")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("gongti_session={session}"))
                .header("x-fragment", "1")
                .body(axum::body::Body::from(with(&[
                    ("csrf", csrf.as_str()),
                    ("ex_cost_yuan", "3000000"),
                ])))
                .unwrap(),
        )
        .await;
    assert_eq!(live.status, S::OK, "{}", live.text);
    for shown in ["超支", "554700.00", "-22.68%"] {
        assert!(live.text.contains(shown), "{shown}: {}", live.text);
    }
    assert!(!live.text.contains("<html"), "a fragment");
    // a team share under 70 %, no note, a band removed: named, nothing saved
    let bad = post_form(
        &t,
        &session,
        "/payment/schemes/new",
        &with(&[
            ("csrf", csrf.as_str()),
            ("p:team_share", "0.6"),
            ("note", ""),
            ("qb0_min", ""),
        ]),
    )
    .await;
    assert_eq!(bad.status, S::UNPROCESSABLE_ENTITY, "{}", bad.text);
    for shown in ["签约服务费团队分配比例", "说明", "质量档次"] {
        assert!(bad.text.contains(shown), "{shown}: {}", bad.text);
    }
    assert!(
        page(&t, &session, "/payment/schemes", "zh")
            .await
            .text
            .contains("尚未保存任何版本")
    );
    // mended on the page that named the problems (its form keeps what was typed), and
    // saved from this year's first day: in force, in words
    let today = t.app.today();
    let mut again = form_fields(&bad.text);
    for (k, v) in [
        ("p:team_share", "0.7"),
        ("qb0_min", "0"),
        ("note", "签约人头费 320 元"),
        ("yuan:rate_fen.contracted", "320"),
        ("effective_from", &format!("{}-01-01", today.year())),
    ] {
        again.iter_mut().find(|(name, _)| name == k).unwrap().1 = v.to_owned();
    }
    let saved = post_form(&t, &session, "/payment/schemes/new", &encode(&again)).await;
    assert_eq!(saved.status, S::SEE_OTHER, "{}", saved.text);
    assert_eq!(saved.headers.get("location").unwrap(), "/payment/schemes/1");
    let shown = page(&t, &session, "/payment/schemes/1", "zh").await;
    for text in [
        "第 1 版",
        "待委员会审批",
        "签约人头费 320 元",
        "320.00",
        "0.85",
        "1.2",
    ] {
        assert!(shown.text.contains(text), "{text}: {}", shown.text);
    }
    assert!(
        !shown.text.contains("批准生效"),
        "the insurer does not decide"
    );
    // the committee (the city officer) reads it with the decision's form; a rejection
    // without a reason is named, the approval puts it in force
    let officer = sign_in(&t, "officer").await;
    let to_decide = page(&t, &officer, "/payment/schemes/1", "zh").await;
    assert_eq!(to_decide.status, S::OK);
    assert!(to_decide.text.contains("批准生效"), "{}", to_decide.text);
    let csrf = csrf_of(&to_decide.text);
    let no_reason = post_form(
        &t,
        &officer,
        "/payment/schemes/1/decide",
        &format!("csrf={csrf}&decision=reject&note="),
    )
    .await;
    assert_eq!(
        no_reason.status,
        S::UNPROCESSABLE_ENTITY,
        "{}",
        no_reason.text
    );
    assert!(
        no_reason.text.contains("待委员会审批"),
        "{}",
        no_reason.text
    );
    let approved = post_form(
        &t,
        &officer,
        "/payment/schemes/1/decide",
        &format!("csrf={csrf}&decision=approve&note={}", urlencode("同意")),
    )
    .await;
    assert_eq!(approved.status, S::SEE_OTHER, "{}", approved.text);
    let in_force = page(&t, &session, "/payment/schemes/1", "zh").await;
    for text in ["现行", "委员会已批准", "同意"] {
        assert!(in_force.text.contains(text), "{text}: {}", in_force.text);
    }
    assert_eq!(
        page(&t, &officer, "/payment/schemes/new", "zh")
            .await
            .status,
        S::FORBIDDEN
    );
    let doctor = sign_in(&t, "doctor").await;
    assert_eq!(
        page(&t, &doctor, "/payment/schemes", "zh").await.status,
        S::FORBIDDEN
    );
}

/// The named inputs of the page's scheme form with their values.
fn form_fields(html: &str) -> Vec<(String, String)> {
    let form = &html[html.find("id=\"scheme-form\"").expect("the form")..];
    let form = &form[..form.find("</form>").unwrap()];
    let mut out = Vec::new();
    for part in form.split("<input").skip(1) {
        let tag = &part[..part.find('>').unwrap()];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            tag.find(&key).map(|at| {
                let rest = &tag[at + key.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
        };
        if let Some(name) = attr("name") {
            out.push((name, attr("value").unwrap_or_default()));
        }
    }
    out
}
