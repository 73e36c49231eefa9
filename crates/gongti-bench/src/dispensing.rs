//! The cloud pharmacy's chain and its double-fill contest (issue 15), on SQLite and
//! (with `--postgres-admin-url`) PostgreSQL:
//!
//! - **chain**: N prescriptions issued (each signed behind the doctor's password) →
//!   passed (signed behind the pharmacist's) → pre-settled and settled (门特, through the
//!   simulator of the bureau) → filled, every step over HTTP at `connections`; each
//!   phase's rate, and settlements per second against the audited `GET /api/v1/me` at
//!   the same concurrency (the reference in the same run);
//! - **contest**: two pharmacies try to fill the same 100 unrouted prescriptions, 10
//!   attempts each in all, at once: exactly one fill each, every other attempt told
//!   409 `already_dispensed`, and the stock down by exactly the packs filled.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gongti_core::role::Role;
use gongti_store::{Certification, InsuredPerson, NewStaff};
use serde_json::{Value, json};

use crate::load::{Load, Method, percentile};
use crate::{PASSWORD, residents_json, token};

/// Every request's status, body and latency, sent over the load's connections.
async fn post_each(
    load: &Load,
    requests: Vec<(String, String, String)>,
) -> anyhow::Result<(Vec<(u16, String)>, Duration, Vec<f64>)> {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..load.connections() {
        let (requests, next, load) = (requests.clone(), next.clone(), load.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((url, token, body)) = requests.get(i) else {
                    break;
                };
                let t = Instant::now();
                let answer = load
                    .once(Method::Post, url, Some(token), Some(body.clone()))
                    .await
                    .unwrap_or_else(|e| (0, e.to_string()));
                out.push((i, answer, t.elapsed().as_secs_f64() * 1000.0));
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed();
    all.sort_by_key(|(i, _, _)| *i);
    let mut latencies: Vec<f64> = all.iter().map(|(_, _, ms)| *ms).collect();
    latencies.sort_by(f64::total_cmp);
    Ok((
        all.into_iter().map(|(_, a, _)| a).collect(),
        elapsed,
        latencies,
    ))
}

fn ok_all(label: &str, answers: &[(u16, String)], expect: u16) -> anyhow::Result<()> {
    if let Some((status, text)) = answers.iter().find(|(s, _)| *s != expect) {
        bail!("{label}: {status} {text}");
    }
    Ok(())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Runs the chain and the contest on a fresh store of the given engine.
pub async fn run(
    store: gongti_store::Store,
    label: &str,
    prescriptions: usize,
    connections: usize,
) -> anyhow::Result<()> {
    let crate::Server { base, app, store } = crate::serve_on(store).await?;
    let load = Load::new(connections);
    let doctor = token(&load, &base, "doctor").await?;
    let pharmacist = token(&load, &base, "pharmacist").await?;
    let me: Value = serde_json::from_str(
        &load
            .once(
                Method::Get,
                &format!("{base}/api/v1/me"),
                Some(&doctor),
                None,
            )
            .await?
            .1,
    )?;
    let centre = me["institution_id"]
        .as_i64()
        .context("the doctor's centre")?;
    // A second pharmacy: a pharmacist of the doctor's centre.
    let staff = store
        .insert_staff(
            &NewStaff {
                name: "孙药师".into(),
                role: Role::Pharmacist,
                institution_id: Some(centre),
                district_code: me["district_code"].as_str().map(str::to_owned),
                department_id: None,
                licence_number: None,
                title: Some("主管药师".into()),
                practice_years: 6,
            },
            1,
            &[],
        )
        .await?;
    app.create_user("centre_ph", PASSWORD, staff.id)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let centre_ph = token(&load, &base, "centre_ph").await?;
    // Signing is behind each signer's password, and a name's attempts in flight count
    // toward its lock as sign-ins do: as in a real region, many doctors and pharmacists
    // sign at once, each one prescription at a time. One of each per connection.
    let ph_me: Value = serde_json::from_str(
        &load
            .once(
                Method::Get,
                &format!("{base}/api/v1/me"),
                Some(&pharmacist),
                None,
            )
            .await?
            .1,
    )?;
    let cloud = ph_me["institution_id"]
        .as_i64()
        .context("the cloud pharmacy")?;
    let mut doctors = Vec::new();
    let mut reviewers = Vec::new();
    for n in 0..connections {
        for (role, institution, username, title, is_doctor) in [
            (
                Role::FamilyDoctor,
                centre,
                format!("bench_dr{n}"),
                "主治医师",
                true,
            ),
            (
                Role::Pharmacist,
                cloud,
                format!("bench_ph{n}"),
                "主管药师",
                false,
            ),
        ] {
            let staff = store
                .insert_staff(
                    &NewStaff {
                        name: username.clone(),
                        role,
                        institution_id: Some(institution),
                        district_code: me["district_code"].as_str().map(str::to_owned),
                        department_id: None,
                        licence_number: Some(format!("L{username}")),
                        title: Some(title.into()),
                        practice_years: 8,
                    },
                    1,
                    &[],
                )
                .await?;
            app.create_user(&username, PASSWORD, staff.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let t = token(&load, &base, &username).await?;
            if is_doctor {
                doctors.push(t);
            } else {
                reviewers.push(t);
            }
        }
    }
    let signer = |list: &Vec<String>, i: usize| list[i % list.len()].clone();

    // The patients: registered, insured, certified for hypertension.
    let total = prescriptions + 100;
    let bodies: Vec<String> = residents_json(total).iter().map(Value::to_string).collect();
    let registered = load
        .run_bodies(
            Method::Post,
            &format!("{base}/api/v1/residents"),
            Some(&doctor),
            bodies,
            201,
        )
        .await?;
    if registered.errors > 0 {
        bail!("{} registrations failed", registered.errors);
    }
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}/api/v1/residents?limit=200&cursor={c}"),
            None => format!("{base}/api/v1/residents?limit=200"),
        };
        let page: Value =
            serde_json::from_str(&load.once(Method::Get, &url, Some(&doctor), None).await?.1)?;
        ids.extend(
            page["items"]
                .as_array()
                .context("residents")?
                .iter()
                .filter_map(|r| r["id"].as_i64()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let today = app.today();
    for id in &ids {
        store
            .set_insured(
                &InsuredPerson {
                    resident_id: *id,
                    psn_no: format!("SIMPSN{id}"),
                    insutype: "resident".into(),
                    psn_type: "working".into(),
                    account_balance_fen: 0,
                },
                1,
                &[],
            )
            .await?;
        store
            .certify_chronic(
                *id,
                &Certification {
                    disease: "hypertension".into(),
                    valid_from: today,
                    valid_until: today + time::Duration::days(365),
                },
                1,
                &[],
            )
            .await?;
    }
    let (chain_ids, contest_ids) = ids.split_at(prescriptions.min(ids.len()));
    // Enough stock for every fill at both pharmacies.
    for t in [&pharmacist, &centre_ph] {
        let (status, text) = load
            .once(
                Method::Put,
                &format!("{base}/api/v1/pharmacy/stock/amlodipine-tablet-5mg-28"),
                Some(t),
                Some(json!({"on_hand_packs": total + 10}).to_string()),
            )
            .await?;
        if status != 204 {
            bail!("stock: {status} {text}");
        }
    }
    let issue = |resident: i64| {
        json!({
            "resident_id": resident,
            "password": PASSWORD,
            "patient": {"diagnoses": ["I10"]},
            "lines": [{"generic_name": "苯磺酸氨氯地平片", "dose": 5, "dose_unit": "mg", "times_per_day": 1, "route": "oral", "days": 7}],
        })
        .to_string()
    };
    let issue_all = |residents: &[i64]| -> Vec<(String, String, String)> {
        residents
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    format!("{base}/api/v1/prescriptions"),
                    signer(&doctors, i),
                    issue(*r),
                )
            })
            .collect()
    };
    let pass_all = |rx: &[i64]| -> Vec<(String, String, String)> {
        rx.iter()
            .enumerate()
            .map(|(i, id)| {
                (
                    format!("{base}/api/v1/prescriptions/{id}/steps"),
                    signer(&reviewers, i),
                    json!({"step": "pass", "password": PASSWORD}).to_string(),
                )
            })
            .collect()
    };
    let rx_ids = |answers: &[(u16, String)]| -> anyhow::Result<Vec<i64>> {
        answers
            .iter()
            .map(|(_, t)| {
                serde_json::from_str::<Value>(t)?["id"]
                    .as_i64()
                    .context("prescription id")
            })
            .collect()
    };

    // The chain.
    println!(
        "\n== {label}: {} prescriptions issued → passed → settled → filled, {connections} connections",
        chain_ids.len()
    );
    let (issued, issue_time, _) = post_each(&load, issue_all(chain_ids)).await?;
    ok_all("issue", &issued, 201)?;
    let rx = rx_ids(&issued)?;
    let (passed, pass_time, _) = post_each(&load, pass_all(&rx)).await?;
    ok_all("pass", &passed, 200)?;
    let previews: Vec<_> = rx
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                format!("{base}/api/v1/prescriptions/{id}/settlement/preview"),
                signer(&doctors, i),
                "{}".to_owned(),
            )
        })
        .collect();
    let settle_started = Instant::now();
    let (shown, _, _) = post_each(&load, previews).await?;
    ok_all("pre-settle", &shown, 200)?;
    let settles: Vec<_> = rx
        .iter()
        .zip(&shown)
        .enumerate()
        .map(|(i, (id, (_, t)))| {
            let cash = serde_json::from_str::<Value>(t)
                .ok()
                .and_then(|v| v["cash_fen"].as_i64())
                .unwrap_or(-1);
            (
                format!("{base}/api/v1/prescriptions/{id}/settlement"),
                signer(&doctors, i),
                json!({"expected_cash_fen": cash}).to_string(),
            )
        })
        .collect();
    let (settled, _, settle_latencies) = post_each(&load, settles).await?;
    let settle_time = settle_started.elapsed();
    ok_all("settle", &settled, 201)?;
    let fills: Vec<_> = rx
        .iter()
        .map(|id| {
            (
                format!("{base}/api/v1/prescriptions/{id}/dispense"),
                pharmacist.clone(),
                json!({"fulfilment": "pickup", "collector_name": "本人", "collector_id_number": "11010519491231002X"}).to_string(),
            )
        })
        .collect();
    let (filled, fill_time, _) = post_each(&load, fills).await?;
    ok_all("dispense", &filled, 200)?;
    let reference = load
        .run_for(
            Method::Get,
            &[format!("{base}/api/v1/me")],
            Some(&doctor),
            Duration::from_secs(5),
            200,
        )
        .await?;
    let me_rate = reference.ok as f64 / reference.elapsed.as_secs_f64();
    let settle_rate = rate(rx.len(), settle_time);
    println!(
        "  issued   {:>8.1}/s (each signed behind the doctor's password: argon2id)",
        rate(rx.len(), issue_time)
    );
    println!(
        "  passed   {:>8.1}/s (each signed behind the pharmacist's password)",
        rate(rx.len(), pass_time)
    );
    println!(
        "  settled  {:>8.1}/s (pre-settle + settle; p50 {:.1} ms, p99 {:.1} ms for the settle) — {:.3} of GET /me's {:.0}/s",
        settle_rate,
        percentile(&settle_latencies, 50.0),
        percentile(&settle_latencies, 99.0),
        settle_rate / me_rate,
        me_rate
    );
    println!("  filled   {:>8.1}/s", rate(rx.len(), fill_time));

    // The contest: 100 unrouted prescriptions, 10 attempts each by two pharmacies.
    let (issued, _, _) = post_each(&load, issue_all(contest_ids)).await?;
    ok_all("issue", &issued, 201)?;
    let contest = rx_ids(&issued)?;
    let (passed, _, _) = post_each(&load, pass_all(&contest)).await?;
    ok_all("pass", &passed, 200)?;
    let on_hand = |t: String| {
        let load = load.clone();
        let base = base.clone();
        async move {
            let s: Value = serde_json::from_str(
                &load
                    .once(
                        Method::Get,
                        &format!("{base}/api/v1/pharmacy/stock"),
                        Some(&t),
                        None,
                    )
                    .await?
                    .1,
            )?;
            anyhow::Ok(
                s["items"]
                    .as_array()
                    .context("stock")?
                    .iter()
                    .find(|i| i["product_code"] == "amlodipine-tablet-5mg-28")
                    .and_then(|i| i["on_hand_packs"].as_i64())
                    .unwrap_or(0),
            )
        }
    };
    let before = on_hand(pharmacist.clone()).await? + on_hand(centre_ph.clone()).await?;
    let mut attempts = Vec::new();
    for round in 0..10 {
        for id in &contest {
            let who = if (round + id) % 2 == 0 {
                &pharmacist
            } else {
                &centre_ph
            };
            attempts.push((
                format!("{base}/api/v1/prescriptions/{id}/dispense"),
                who.clone(),
                json!({"fulfilment": "pickup", "collector_name": "本人", "collector_id_number": "11010519491231002X"}).to_string(),
            ));
        }
    }
    let n = attempts.len();
    let (answers, contest_time, _) = post_each(&load, attempts).await?;
    let fills = answers.iter().filter(|(s, _)| *s == 200).count();
    let told = answers
        .iter()
        .filter(|(s, t)| *s == 409 && t.contains("already_dispensed"))
        .count();
    let after = on_hand(pharmacist.clone()).await? + on_hand(centre_ph.clone()).await?;
    println!(
        "  contest  {n} attempts by two pharmacies on {} prescriptions in {:.2} s: {fills} fills, {told} told already_dispensed, other {}; stock {before} → {after}",
        contest.len(),
        contest_time.as_secs_f64(),
        n - fills - told
    );
    if fills != contest.len() || told != n - fills || before - after != fills as i64 {
        bail!("{label}: a prescription filled twice, or stock that does not add up");
    }
    Ok(())
}
