//! Chronic-care benchmarks on a generated region: the dashboard's indicator read (kept
//! counters) against the same figures recomputed from the records; the full recompute
//! against DuckDB computing the same indicators over the same rows; and home-reading
//! ingest through the batch API against a raw batched insert of the same rows.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gongti_app::{App, system_clock};
use gongti_core::chronic::Disease;
use gongti_core::chronic::indicators::Period;
use serde_json::{Value, json};

use crate::load::{Load, Method};
use crate::token;

const PASSWORD: &str = "bench-password-1";

/// Runs of the one-period recompute on each side (Gongti, DuckDB); the median counts.
const RECOMPUTE_RUNS: usize = 5;

fn median(runs: &mut [f64]) -> f64 {
    runs.sort_by(f64::total_cmp);
    crate::load::percentile(runs, 50.0)
}

fn seconds_list(runs: &[f64]) -> String {
    runs.iter()
        .map(|s| format!("{s:.3}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Peak resident memory of this process so far (or since `clearing::reset_peak_rss`),
/// in MiB (Linux).
pub(crate) fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The region in `dir`: generated with `residents` when the directory holds no
/// database (its summary returned), else reused as it is (migrated, the counters
/// ensured).
pub(crate) async fn region(
    dir: &Path,
    residents: u64,
) -> anyhow::Result<(App, Option<gongti_app::demo::DemoSummary>)> {
    std::fs::create_dir_all(dir)?;
    let reuse = dir.join("gongti.db").exists();
    let store = gongti_store::Store::open_sqlite(dir, bench_keys(dir)?).await?;
    store.migrate().await?;
    // The audit writer runs as long as a clone of the app is alive.
    let (app, _writer) = App::start(store, system_clock())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if reuse {
        app.ensure_indicator_counters()
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        return Ok((app, None));
    }
    let summary = app
        .seed_demo(residents, 2020, PASSWORD, |_, _| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok((app, Some(summary)))
}

pub async fn chronic(
    residents: u64,
    seconds: u64,
    duckdb_python: Option<&Path>,
    peer_bin: Option<&Path>,
    data_dir: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let dir = data_dir.unwrap_or_else(|| crate::scratch_dir("gongti-bench-chronic"));
    let started = Instant::now();
    let (app, generated) = region(&dir, residents).await?;
    let store = app.store().clone();
    if let Some(summary) = generated {
        println!("== chronic care: a region of {residents} residents, SQLite");
        let c = summary.chronic;
        println!(
            "generator  {} hypertension + {} diabetes patients, {} follow-ups, {} home readings in {:.1} s (peak RSS {:.0} MiB)",
            c.hypertension.managed,
            c.diabetes.managed,
            c.hypertension.followups + c.diabetes.followups,
            c.readings,
            started.elapsed().as_secs_f64(),
            peak_rss_mib()
        );
    } else {
        println!(
            "== chronic care: the region in {}, SQLite (migrated and ready in {:.1} s)",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
        region_counts(&dir)?;
    }

    let router = gongti_web::router(app.clone(), gongti_web::WebConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(axum::serve(listener, router).into_future());
    let one = Load::new(1);
    let officer = token(&one, &base, "officer").await?;

    // The dashboard's read: this calendar year, city-wide, from the kept counters.
    let kept = one
        .run_for(
            Method::Get,
            &[format!("{base}/api/v1/indicators?scope=city")],
            Some(&officer),
            Duration::from_secs(seconds),
            200,
        )
        .await?;
    println!(
        "gongti     dashboard read (kept counters):   {:>8.0} req/s  (p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, {} errors)",
        kept.per_s(),
        kept.p(50.0),
        kept.p(95.0),
        kept.p(99.0),
        kept.errors
    );

    // The same figures for the 365 days to today, recomputed from the records.
    let today = app.today();
    let period = Period::new(today - time::Duration::days(364), today).context("period")?;
    let url = format!(
        "{base}/api/v1/indicators?scope=city&from={}&to={}",
        period.from, period.to
    );
    let recompute = one
        .run_for(
            Method::Get,
            &[url],
            Some(&officer),
            Duration::from_secs(seconds),
            200,
        )
        .await?;
    println!(
        "reference  same read recomputed from records: {:>7.1} req/s  (p50 {:.0} ms)  ratio kept/recomputed {:.0}×",
        recompute.per_s(),
        recompute.p(50.0),
        recompute.p(50.0) / kept.p(50.0).max(0.001)
    );

    // The full recompute of every counter, and DuckDB on the same rows.
    let t = Instant::now();
    let (fresh, _) = app
        .recompute_indicators(false)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let full = t.elapsed();
    println!(
        "gongti     full recompute of all counters:   {:>8.2} s  ({} counters, peak RSS {:.0} MiB)",
        full.as_secs_f64(),
        fresh.counts.len(),
        peak_rss_mib()
    );
    let ctx = gongti_app::Ctx {
        principal: app
            .authenticate(&officer)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .principal,
        request_id: None,
    };
    // The median of a few runs on each side: one run swings with the machine.
    let mut runs = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..RECOMPUTE_RUNS {
        let t = Instant::now();
        ours = app
            .indicators_from_records(
                &ctx,
                &gongti_store::IndicatorScope::City,
                &Disease::ALL,
                &period,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        runs.push(t.elapsed().as_secs_f64());
    }
    let one_period = median(&mut runs);
    println!(
        "gongti     one period from the records:      {one_period:>8.3} s  (median of {RECOMPUTE_RUNS}: {})",
        seconds_list(&runs)
    );
    if let Some(python) = duckdb_python {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/bench_duckdb.py");
        let out = std::process::Command::new(python)
            .arg(script)
            .arg(dir.join("gongti.db"))
            .arg(period.from.to_string())
            .arg(period.to.to_string())
            .arg(RECOMPUTE_RUNS.to_string())
            .output()?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            bail!("duckdb: {text}{}", String::from_utf8_lossy(&out.stderr));
        }
        let v: Value = serde_json::from_str(text.lines().last().unwrap_or("{}"))?;
        let duck_s = v["compute_s"].as_f64().unwrap_or(f64::NAN);
        let duck_runs: Vec<f64> = v["runs_s"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        println!(
            "reference  DuckDB, same indicators, same rows: {duck_s:>6.3} s  (median of {}: {}; load from SQLite {:.2} s)  ratio gongti/DuckDB {:.2}",
            duck_runs.len(),
            seconds_list(&duck_runs),
            v["load_s"].as_f64().unwrap_or(f64::NAN),
            one_period / duck_s
        );
        for (disease, tally) in &ours {
            for i in gongti_core::chronic::indicators::Indicator::ALL
                .iter()
                .filter(|i| i.applies_to(*disease))
            {
                let (n, d) = tally.get(*i);
                let theirs = &v[disease.code()][i.code()];
                if theirs[0].as_u64() != Some(n) || theirs[1].as_u64() != Some(d) {
                    bail!(
                        "DuckDB disagrees on {} {}: ours {n}/{d}, DuckDB {theirs}",
                        disease.code(),
                        i.code()
                    );
                }
            }
        }
        println!("check      DuckDB's figures equal ours for every indicator");
    } else {
        println!("reference  DuckDB: skipped (pass --duckdb-python with duckdb installed)");
    }

    // Home readings through the batch API vs a raw batched insert of the same rows.
    let doctor = token(&one, &base, "doctor").await?;
    let home = store.user_by_username("doctor").await?.context("doctor")?;
    let home_staff = store.staff_member(home.staff_id).await?;
    let filter = gongti_store::ResidentFilter {
        home_institution_id: home_staff.institution_id,
        ..Default::default()
    };
    let patients = store.residents(&filter, None, 200).await?.items;
    let per_patient = 100;
    let now = time::OffsetDateTime::now_utc();
    // New reading ids every run: a reused region must ingest rows, not answer repeats.
    let run = now.unix_timestamp();
    let mut batches = Vec::new();
    let mut rows = Vec::new();
    for (p, r) in patients.iter().enumerate() {
        for k in 0..per_patient {
            let taken = (now - time::Duration::minutes(10 + (k * 37 + p as i64) % 100_000))
                .format(&time::format_description::well_known::Rfc3339)?;
            rows.push(
                json!({"resident_id": r.id, "client_reading_id": format!("b{run}-{p}-{k}"), "kind": "bp",
                "taken_at": taken, "sbp_mmhg": 118 + (k % 40), "dbp_mmhg": 72 + (k % 15)}),
            );
        }
    }
    for chunk in rows.chunks(1000) {
        batches.push(json!({"readings": chunk}).to_string());
    }
    let four = Load::new(4);
    let ingest = four
        .run_bodies(
            Method::Post,
            &format!("{base}/api/v1/readings/batch"),
            Some(&doctor),
            batches,
            200,
        )
        .await?;
    let readings_per_s = (ingest.ok * 1000) as f64 / ingest.elapsed.as_secs_f64();
    println!(
        "gongti     home readings, batch API (1,000/request, 4 conns): {:>8.0} readings/s  (p99 {:.0} ms per batch, {} errors)",
        readings_per_s,
        ingest.p(99.0),
        ingest.errors
    );
    let raw = raw_readings_insert(&rows).await?;
    let raw_per_s = rows.len() as f64 / raw.as_secs_f64();
    println!(
        "reference  raw batched insert of the same rows:             {:>8.0} rows/s  ratio {:.3}",
        raw_per_s,
        readings_per_s / raw_per_s
    );
    match peer_bin {
        Some(bin) => {
            let peer_per_s = peer_ingest(bin, &patients, &rows).await?;
            println!(
                "ratio      gongti / peer Bundle ingest:                  {:>8.2}",
                readings_per_s / peer_per_s
            );
        }
        None => println!("peer       skipped (pass --peer-bin with Helios' hfs)"),
    }
    println!("peak RSS   {:.0} MiB", peak_rss_mib());
    Ok(())
}

/// What a reused region holds, counted from its database.
fn region_counts(dir: &Path) -> anyhow::Result<()> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("gongti.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    println!(
        "region     {} residents, {} hypertension + {} diabetes enrolments, {} follow-ups, {} home readings",
        count("SELECT COUNT(*) FROM residents")?,
        count("SELECT COUNT(*) FROM chronic_enrolments WHERE disease = 'hypertension'")?,
        count("SELECT COUNT(*) FROM chronic_enrolments WHERE disease = 'diabetes'")?,
        count("SELECT COUNT(*) FROM followups")?,
        count("SELECT COUNT(*) FROM home_readings")?,
    );
    Ok(())
}

/// The same readings as Observations (LOINC 85354-9 with systolic and diastolic
/// components, UCUM mm[Hg]) in transaction Bundles of 1,000 to the Helios FHIR server,
/// over 4 connections as ours, after creating the same patients there. Plain creates:
/// the peer is not asked to deduplicate on the reading id as Gongti does.
async fn peer_ingest(
    bin: &Path,
    patients: &[gongti_store::ResidentRecord],
    rows: &[Value],
) -> anyhow::Result<f64> {
    let (mut child, base) = crate::start_peer(bin).await?;
    let one = Load::new(1);
    let mut peer_ids = std::collections::HashMap::new();
    for r in patients {
        let body = json!({"resourceType": "Patient", "name": [{"text": r.name}]}).to_string();
        let (status, reply) = one
            .once(
                Method::PostFhir,
                &format!("{base}/Patient"),
                None,
                Some(body),
            )
            .await?;
        if status != 201 {
            anyhow::bail!("the peer refused a patient: {status} {reply}");
        }
        let id = serde_json::from_str::<Value>(&reply)?["id"]
            .as_str()
            .context("peer patient id")?
            .to_owned();
        peer_ids.insert(r.id, id);
    }
    let quantity = |v: &Value| json!({"value": v, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
    let loinc = |code: &str| json!({"coding": [{"system": "http://loinc.org", "code": code}]});
    let mut bundles = Vec::new();
    for chunk in rows.chunks(1000) {
        let entries: Vec<Value> = chunk
            .iter()
            .map(|r| {
                let patient = r["resident_id"].as_i64().and_then(|id| peer_ids.get(&id));
                json!({
                    "resource": {
                        "resourceType": "Observation",
                        "identifier": [{"system": "urn:gongti:client-reading-id", "value": r["client_reading_id"]}],
                        "status": "final",
                        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
                        "code": loinc("85354-9"),
                        "subject": {"reference": format!("Patient/{}", patient.map_or("", |p| p.as_str()))},
                        "effectiveDateTime": r["taken_at"],
                        "component": [
                            {"code": loinc("8480-6"), "valueQuantity": quantity(&r["sbp_mmhg"])},
                            {"code": loinc("8462-4"), "valueQuantity": quantity(&r["dbp_mmhg"])},
                        ],
                    },
                    "request": {"method": "POST", "url": "Observation"},
                })
            })
            .collect();
        bundles.push(
            json!({"resourceType": "Bundle", "type": "transaction", "entry": entries}).to_string(),
        );
    }
    let four = Load::new(4);
    let ingest = four
        .run_bodies(Method::PostFhir, &format!("{base}/"), None, bundles, 200)
        .await?;
    let per_s = (ingest.ok * 1000) as f64 / ingest.elapsed.as_secs_f64();
    println!(
        "peer       Helios transaction Bundles (1,000 Observations, 4 conns): {:>8.0} readings/s  (p99 {:.0} ms per Bundle, {} errors)",
        per_s,
        ingest.p(99.0),
        ingest.errors
    );
    child.kill().await.ok();
    Ok(per_s)
}

/// The same readings as multi-row INSERTs into a fresh database of the same schema.
async fn raw_readings_insert(rows: &[Value]) -> anyhow::Result<Duration> {
    use sqlx::Connection;
    let dir = crate::scratch_dir("gongti-bench-raw-readings");
    let store = gongti_store::Store::open_sqlite(&dir, bench_keys(&dir)?).await?;
    store.migrate().await?;
    store.close().await;
    let url = format!("sqlite://{}?mode=rwc", dir.join("gongti.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await?;
    sqlx::query("PRAGMA journal_mode=WAL")
        .execute(&mut conn)
        .await?;
    sqlx::query("PRAGMA synchronous=FULL")
        .execute(&mut conn)
        .await?;
    // No foreign keys: the raw reference writes the rows alone.
    sqlx::query("PRAGMA foreign_keys=OFF")
        .execute(&mut conn)
        .await?;
    let started = Instant::now();
    for batch in rows.chunks(1000) {
        let mut tx = conn.begin().await?;
        for chunk in batch.chunks(250) {
            let mut sql = String::from(
                "INSERT INTO home_readings (resident_id, client_reading_id, kind, taken_at_us, sbp_mmhg, dbp_mmhg, uploaded_by_user_id, received_at_us) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 5;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${},${},'bp',${},${},${},1,0)",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                ));
            }
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in chunk {
                q = q
                    .bind(r["resident_id"].as_i64())
                    .bind(r["client_reading_id"].as_str().map(str::to_owned))
                    .bind(1_795_000_000_000_000i64)
                    .bind(r["sbp_mmhg"].as_i64())
                    .bind(r["dbp_mmhg"].as_i64());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(started.elapsed())
}

/// The keys of a benchmark's data directory (kept beside it, so a region is reused).
pub(crate) fn bench_keys(dir: &std::path::Path) -> anyhow::Result<gongti_store::crypto::DataKeys> {
    Ok(gongti_store::crypto::DataKeys::load_or_create(&dir.join("data.key"))?.0)
}
