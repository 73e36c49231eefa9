//! An import on SQLite runs on the hot path's own connection (`store::import::direct`);
//! through sqlx (a store without it) it is the same transaction. The same Bundles
//! through both lanes leave the same rows.

use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use gongti_store::Store;
use gongti_store::crypto::DataKeys;
use serde_json::{Value, json};

use crate::fhir_transactions::{
    bp, bp_panel, condition, encounter, entry, home_reading, lab, patient, post_bundle,
};
use crate::support::{TestApp, id_number_born};

/// The tables an import writes, each with the columns compared: all but the times of
/// writing (`*_at_us`) and the sealed personal numbers (sealed with a fresh nonce each
/// time; their keyed hash is compared).
const TABLES: [&str; 12] = [
    "residents",
    "chronic_enrolments",
    "followups",
    "followup_drugs",
    "chronic_tasks",
    "indicator_year_facts",
    "indicator_counts",
    "enrolment_counts",
    "coverage_counts",
    "lab_results",
    "home_readings",
    "alerts",
];
const SEALED: [&str; 2] = ["id_number", "phone"];

/// A fresh SQLite test app in `dir` with `keys`, writing through sqlx alone or not.
async fn app_in(dir: &Path, keys: &Path, sqlx_only: bool) -> TestApp {
    let store = Store::open_sqlite(dir, DataKeys::load(keys).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    TestApp::on(if sqlx_only {
        store.without_direct_writes()
    } else {
        store
    })
    .await
}

/// Every row of the compared tables, in key order, as text.
fn rows(dir: &Path) -> Vec<(String, Vec<String>)> {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("gongti.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut out = Vec::new();
    for table in TABLES {
        let columns: Vec<String> = db
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .filter(|c| !c.ends_with("_at_us") && !SEALED.contains(&c.as_str()))
            .collect();
        let list = columns.join(", ");
        let order: Vec<String> = (1..=columns.len()).map(|k| k.to_string()).collect();
        let sql = format!("SELECT {list} FROM {table} ORDER BY {}", order.join(", "));
        let mut statement = db.prepare(&sql).unwrap();
        let found: Vec<String> = statement
            .query_map([], |r| {
                let mut cells = Vec::with_capacity(columns.len());
                for k in 0..columns.len() {
                    cells.push(format!("{:?}", r.get_ref(k)?));
                }
                Ok(format!("{list}: {}", cells.join(" | ")))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        out.push((table.to_owned(), found));
    }
    out
}

/// What the audit trail says of the import, without times and request ids.
async fn trail(t: &TestApp) -> Vec<String> {
    t.audit_tail(400)
        .await
        .into_iter()
        .map(|c| {
            let e = c.entry;
            format!(
                "{} {} {} {:?} {:?} {:?} {:?}",
                e.actor_username,
                e.action,
                e.resource_type,
                e.resource_id,
                e.patient_id,
                e.outcome,
                e.detail
            )
        })
        .collect()
}

/// The Bundles posted to both apps, each with the status it must answer.
fn bundles(t: &TestApp, home: &Value) -> Vec<(Value, StatusCode)> {
    let day = |ago: i64| (t.app.today() - time::Duration::days(ago)).to_string();
    let u = |n: u32| format!("urn:uuid:1a2e0000-0000-4000-8000-{n:012}");
    let (a, b, c) = (
        id_number_born("19500311", 901),
        id_number_born("19570921", 902),
        id_number_born("19610102", 903),
    );
    // Three new residents: one with years of visits (an urgent one opens a task, the
    // next closes it), one enrolled with none, one only registered.
    let mut first = vec![
        entry(&u(1), patient(&a, "欧阳建华"), "POST", "Patient"),
        entry(
            &u(2),
            condition(&u(1), "I10", &day(1300), Some(&day(1100))),
            "POST",
            "Condition",
        ),
        entry(&u(3), patient(&b, "刘淑珍"), "POST", "Patient"),
        entry(
            &u(4),
            condition(&u(3), "I10", &day(900), None),
            "POST",
            "Condition",
        ),
        entry(&u(5), patient(&c, "赵志强"), "POST", "Patient"),
    ];
    let visits = [
        (1000, 150, 96),
        (910, 138, 88),
        (800, 188, 112),
        (700, 136, 86),
        (500, 128, 82),
        (300, 158, 98),
        (100, 132, 84),
    ];
    for (n, (ago, sbp, dbp)) in (10u32..).zip(visits) {
        first.push(encounter(&u(n), &u(1), &u(2), &day(ago)));
        first.push(bp(&u(n + 100), &u(1), &u(n), &day(ago), sbp, dbp));
    }
    // Then laboratory results (HbA1c and glucose, one a day before a visit's) and home
    // readings (an urgent one alerts) of the residents the first stored.
    let at = |ago: i64| format!("{}T07:30:00+08:00", day(ago));
    // An HbA1c result of the laboratory's LIS-1, sent twice.
    let hba1c = |full_url: &str| {
        lab(
            full_url,
            "Patient/{a}",
            "4548-4",
            7.4,
            "%",
            &day(301),
            "LIS-1",
        )
    };
    let results = vec![
        hba1c(&u(30)),
        lab(
            &u(31),
            "Patient/{a}",
            "14771-0",
            8.6,
            "mmol/L",
            &day(99),
            "LIS-2",
        ),
        lab(
            &u(32),
            "Patient/{b}",
            "1558-6",
            131.0,
            "mg/dL",
            &day(40),
            "LIS-3",
        ),
        home_reading(&u(33), "Patient/{a}", &at(30), "cuff-1", bp_panel(142, 90)),
        home_reading(&u(34), "Patient/{b}", &at(2), "cuff-2", bp_panel(194, 118)),
    ];
    // Then more visits of a stored enrolment (an urgent one among them) beside a
    // stored resident's new enrolment with a visit (their kept counters summed), and
    // another resident updated.
    let mut moved = home.clone();
    moved["address"] = json!([{"text": "天津市和平区南京路12号"}]);
    let second = vec![
        encounter(&u(50), "Patient/{a}", "EpisodeOfCare/{ea}", &day(60)),
        bp(&u(51), "Patient/{a}", &u(50), &day(60), 182, 100),
        encounter(&u(52), "Patient/{a}", "EpisodeOfCare/{ea}", &day(20)),
        bp(&u(53), "Patient/{a}", &u(52), &day(20), 134, 84),
        entry(
            &u(54),
            condition("Patient/{c}", "I10", &day(400), Some(&day(200))),
            "POST",
            "Condition",
        ),
        encounter(&u(55), "Patient/{c}", &u(54), &day(90)),
        bp(&u(56), "Patient/{c}", &u(55), &day(90), 146, 92),
        encounter(&u(57), "Patient/{c}", &u(54), &day(60)),
        bp(&u(58), "Patient/{c}", &u(57), &day(60), 138, 86),
        json!({"resource": moved, "request": {"method": "PUT", "url": format!("Patient/{}", t.home_resident)}}),
    ];
    // Then a result sent again (the stored one is the answer) and a new one, a reading
    // sent again.
    let again = vec![
        hba1c(&u(70)),
        lab(&u(71), "Patient/{c}", "4548-4", 6.2, "%", &day(80), "LIS-4"),
        home_reading(&u(72), "Patient/{a}", &at(30), "cuff-1", bp_panel(142, 90)),
    ];
    // A Bundle refused whole: an ID number already taken.
    let refused = vec![
        entry(&u(60), patient(&b, "刘淑珍"), "POST", "Patient"),
        entry(
            &u(61),
            condition(&u(60), "I10", &day(300), None),
            "POST",
            "Condition",
        ),
    ];
    let bundle = |entries: Vec<Value>| json!({"resourceType": "Bundle", "type": "transaction", "entry": entries});
    vec![
        (bundle(first), StatusCode::OK),
        (bundle(results), StatusCode::OK),
        (bundle(second), StatusCode::OK),
        (bundle(again), StatusCode::OK),
        (bundle(refused), StatusCode::CONFLICT),
    ]
}

/// Fills in a later Bundle's references to what the first stored.
fn resolve(bundle: &Value, first_answer: &Value) -> Value {
    let location = |i: usize| -> String {
        let l = first_answer["entry"][i]["response"]["location"]
            .as_str()
            .unwrap();
        l.split("/_history").next().unwrap().to_owned()
    };
    let text = bundle
        .to_string()
        .replace("Patient/{a}", &location(0))
        .replace("Patient/{b}", &location(2))
        .replace("Patient/{c}", &location(4))
        .replace(
            "EpisodeOfCare/{ea}",
            &format!("EpisodeOfCare/{}", location(1).split('/').nth(1).unwrap()),
        );
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn both_lanes_leave_the_same_rows() {
    let keys = gongti_testdb::temp_dir("gongti-lanes-keys").join("keys");
    DataKeys::load_or_create(&keys).unwrap();
    let dirs: Vec<PathBuf> = (0..2)
        .map(|_| gongti_testdb::temp_dir("gongti-lanes"))
        .collect();
    let mut seen = Vec::new();
    for (dir, sqlx_only) in dirs.iter().zip([false, true]) {
        let t = app_in(dir, &keys, sqlx_only).await;
        let doctor = t.token("doctor").await;
        let home = t
            .get(&format!("/fhir/Patient/{}", t.home_resident), &doctor)
            .await
            .json();
        let mut first_answer = Value::Null;
        for (k, (bundle, status)) in bundles(&t, &home).into_iter().enumerate() {
            let bundle = if k == 0 {
                bundle
            } else {
                resolve(&bundle, &first_answer)
            };
            let r = post_bundle(&t, &doctor, &bundle).await;
            assert_eq!(
                r.status, status,
                "Bundle {k}, sqlx only {sqlx_only}: {}",
                r.text
            );
            if k == 0 {
                first_answer = r.json();
            }
        }
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(fresh, stored, "kept figures, sqlx only {sqlx_only}");
        seen.push((rows(dir), trail(&t).await));
    }
    let (direct, through_sqlx) = (&seen[0], &seen[1]);
    // Nothing compared is empty: each table holds what the Bundles wrote (but the
    // drugs: a Bundle's Encounter carries none).
    for (table, found) in &direct.0 {
        assert!(
            !found.is_empty() || *table == "followup_drugs",
            "{table} holds nothing"
        );
    }
    let tasks = &direct.0[4].1;
    assert!(tasks.len() >= 2, "the urgent visits' tasks: {tasks:?}");
    for ((table, a), (_, b)) in direct.0.iter().zip(&through_sqlx.0) {
        assert_eq!(a.len(), b.len(), "{table}: rows");
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x, y, "{table}");
        }
    }
    assert_eq!(direct.1, through_sqlx.1, "the audit trail");
}
