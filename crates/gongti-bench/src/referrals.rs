//! One-click referrals competing for reserved slots (DOMAIN.md §3): N contracted
//! patients, each referred once by their family doctor over `connections`
//! connections, against a fixed number of reserved slots. Checks that exactly that many
//! are booked, no slot twice, and every other answer is 409 `no_reserved_slot_left`;
//! reports referrals answered per second and latencies. The reference in the same run
//! is the audited `GET /api/v1/me` at the same concurrency (the cost of an
//! authenticated request on this stack).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::load::{Load, Method, percentile};
use crate::{residents_json, token};

struct Outcome {
    booked: usize,
    no_slot: usize,
    other: Vec<(u16, String)>,
    elapsed: Duration,
    latencies_ms: Vec<f64>,
    /// Latencies of the referrals that booked a slot.
    winners_ms: Vec<f64>,
}

/// Runs the contest on a fresh store of the given engine.
pub async fn contest(
    store: gongti_store::Store,
    label: &str,
    patients: usize,
    slots: usize,
    connections: usize,
) -> anyhow::Result<()> {
    let crate::Server { base, app, store } = crate::serve_on(store).await?;
    let load = Load::new(connections);
    let doctor = token(&load, &base, "doctor").await?;
    let admin = token(&load, &base, "hospadmin").await?;

    // The contracted patients: registered and signed with the doctor's team.
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
    let institution = me["institution_id"]
        .as_i64()
        .context("doctor's institution")?;
    let teams: Value = serde_json::from_str(
        &load
            .once(
                Method::Get,
                &format!("{base}/api/v1/institutions/{institution}/teams"),
                Some(&doctor),
                None,
            )
            .await?
            .1,
    )?;
    let team = teams["items"]
        .as_array()
        .context("teams")?
        .iter()
        .find(|t| t["doctor_staff_id"] == me["staff_id"])
        .and_then(|t| t["id"].as_i64())
        .context("the doctor's team")?;
    let bodies: Vec<String> = residents_json(patients)
        .iter()
        .map(Value::to_string)
        .collect();
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
    let ids: Vec<i64> = {
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
        ids.sort_unstable();
        ids.into_iter().rev().take(patients).collect()
    };
    let signed = run_each(
        &load,
        ids.iter()
            .map(|id| {
                (
                    format!("{base}/api/v1/residents/{id}/contracts"),
                    json!({"team_id": team, "resident_consent": true}).to_string(),
                )
            })
            .collect(),
        &doctor,
    )
    .await?;
    if signed.booked != patients {
        bail!(
            "{} contracts of {patients} signed: {:?}",
            signed.booked,
            signed.other.first()
        );
    }

    // The reserved slots: the demo's cardiology clinics already hold some back; one
    // more schedule of 200 slots, with the share set so that the total is `slots`.
    let hospital = me_hospital(&load, &base, &admin).await?;
    let h: Value = serde_json::from_str(
        &load
            .once(
                Method::Get,
                &format!("{base}/api/v1/institutions/{hospital}"),
                Some(&admin),
                None,
            )
            .await?
            .1,
    )?;
    let cardio = h["departments"]
        .as_array()
        .context("departments")?
        .iter()
        .find(|d| d["code"] == "cardio")
        .and_then(|d| d["id"].as_i64())
        .context("cardiology")?;
    let to = (app.today() + time::Duration::days(14)).to_string();
    let listed: Value = serde_json::from_str(
        &load
            .once(
                Method::Get,
                &format!("{base}/api/v1/schedules?department={cardio}&to={to}&limit=200"),
                Some(&admin),
                None,
            )
            .await?
            .1,
    )?;
    let existing: usize = listed["items"]
        .as_array()
        .context("schedules")?
        .iter()
        .filter(|s| s["day"].as_str() > Some(app.today().to_string().as_str()))
        .map(|s| s["reserved"]["free"].as_u64().unwrap_or(0) as usize)
        .sum();
    let needed = slots
        .checked_sub(existing)
        .filter(|n| (1..=200).contains(n))
        .with_context(|| {
            format!(
                "the demo holds back {existing} cardiology slots; ask for {} to {}",
                existing + 1,
                existing + 200
            )
        })?;
    let percent = needed as f64 / 2.0;
    for (path, method, body) in [
        (
            "reserve-policy",
            "PUT",
            json!({"department_id": cardio, "reserved_percent": percent, "release_days": 0}),
        ),
        (
            "schedules",
            "POST",
            json!({"department_id": cardio, "clinic_name": "压测门诊", "day": (app.today() + time::Duration::days(2)).to_string(), "session": "pm", "slot_count": 200}),
        ),
    ] {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(format!("{base}/api/v1/{path}"))
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(axum::body::Bytes::from(
                body.to_string(),
            )))?;
        let status = load.send(request).await?;
        if !(200..300).contains(&status) {
            bail!("{method} {path}: {status}");
        }
    }

    // The reference: an authenticated, audited small read at the same concurrency.
    let reference = load
        .run_for(
            Method::Get,
            &[format!("{base}/api/v1/me")],
            Some(&doctor),
            Duration::from_secs(3),
            200,
        )
        .await?;

    // The contest.
    let requests: Vec<(String, String)> = ids
        .iter()
        .map(|id| {
            (
                format!("{base}/api/v1/residents/{id}/referrals"),
                json!({"source": "manual", "disease": "hypertension", "reason": "血压控制不满意"})
                    .to_string(),
            )
        })
        .collect();
    let outcome = run_each(&load, requests, &doctor).await?;
    let twice = store.double_booked_slots().await?;
    let mut latencies = outcome.latencies_ms.clone();
    latencies.sort_by(f64::total_cmp);
    let per_s = patients as f64 / outcome.elapsed.as_secs_f64();
    println!("\n== one-click referral contest ({label}) ==");
    println!(
        "{patients} referrals over {connections} connections for {slots} reserved slots: {} booked, {} answered 409 no_reserved_slot_left, {} other answers; slots booked twice: {twice}",
        outcome.booked,
        outcome.no_slot,
        outcome.other.len()
    );
    println!(
        "  {per_s:.0} referrals answered/s in {:.2}s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        outcome.elapsed.as_secs_f64(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0)
    );
    let mut winners = outcome.winners_ms.clone();
    winners.sort_by(f64::total_cmp);
    println!(
        "  the {} that booked: p50 {:.1} ms, max {:.1} ms",
        winners.len(),
        percentile(&winners, 50.0),
        percentile(&winners, 100.0)
    );
    println!(
        "  reference GET /api/v1/me (audited) at {connections} connections: {:.0}/s, p99 {:.1} ms; ratio {:.2}",
        reference.per_s(),
        reference.p(99.0),
        per_s / reference.per_s()
    );
    if let Some((status, body)) = outcome.other.first() {
        println!("  first other answer: {status} {body}");
    }
    if outcome.booked != slots || twice != 0 || !outcome.other.is_empty() {
        bail!("the contest broke its guarantees");
    }
    Ok(())
}

async fn me_hospital(load: &Load, base: &str, admin: &str) -> anyhow::Result<i64> {
    let me: Value = serde_json::from_str(
        &load
            .once(Method::Get, &format!("{base}/api/v1/me"), Some(admin), None)
            .await?
            .1,
    )?;
    me["institution_id"].as_i64().context("hospital")
}

/// Posts each (url, body) once over the load's connections; 201 counts as booked,
/// 409 `no_reserved_slot_left` as a clean loss, anything else is kept.
async fn run_each(
    load: &Load,
    requests: Vec<(String, String)>,
    token: &str,
) -> anyhow::Result<Outcome> {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..load.connections() {
        let (requests, next, load, token) = (
            requests.clone(),
            next.clone(),
            load.clone(),
            token.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome {
                booked: 0,
                no_slot: 0,
                other: Vec::new(),
                elapsed: Duration::ZERO,
                latencies_ms: Vec::new(),
                winners_ms: Vec::new(),
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((url, body)) = requests.get(i) else {
                    break;
                };
                let t = Instant::now();
                let answer = load
                    .once(Method::Post, url, Some(&token), Some(body.clone()))
                    .await;
                out.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                if matches!(answer, Ok((201, _))) {
                    out.winners_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                match answer {
                    Ok((201, _)) => out.booked += 1,
                    Ok((409, text)) if text.contains("no_reserved_slot_left") => out.no_slot += 1,
                    Ok((status, text)) => out.other.push((status, text)),
                    Err(e) => out.other.push((0, e.to_string())),
                }
            }
            out
        }));
    }
    let mut all = Outcome {
        booked: 0,
        no_slot: 0,
        other: Vec::new(),
        elapsed: Duration::ZERO,
        latencies_ms: Vec::new(),
        winners_ms: Vec::new(),
    };
    for t in tasks {
        let o = t.await?;
        all.booked += o.booked;
        all.no_slot += o.no_slot;
        all.other.extend(o.other);
        all.latencies_ms.extend(o.latencies_ms);
        all.winners_ms.extend(o.winners_ms);
    }
    all.elapsed = started.elapsed();
    Ok(all)
}
