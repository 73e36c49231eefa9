//! Bulk export of a generated region (issue 13): each institution's data warehouse —
//! a client system acting as the institution's administrator with `system/*.read` —
//! exports the records of the residents it holds through `$export` (kick-off, status,
//! NDJSON files), one institution after another, so the whole city passes through the
//! real path, its access decisions and its audit. Reported: resources per second from
//! the first kick-off to the last file read, and the process's resident memory during
//! the exports; the reference is a raw scan of the same tables through rusqlite in the
//! same run (the floor: rows read, nothing built, checked or written).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use gongti_app::clients::ClientForm;
use gongti_app::{App, system_clock};
use gongti_core::role::Role;
use serde_json::Value;

use crate::load::Load;

const PASSWORD: &str = "bench-password-1";
const PATIENT_TYPES: &str =
    "Patient,Condition,EpisodeOfCare,CareTeam,Encounter,Observation,Task,Flag";

/// Resident memory of this process now, in MiB (Linux).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Institutions holding residents, with how many, most first.
fn holders(dir: &Path) -> anyhow::Result<Vec<(i64, i64)>> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("gongti.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let mut stmt = conn.prepare(
        "SELECT home_institution_id, COUNT(*) FROM residents WHERE merged_into_id IS NULL
         GROUP BY home_institution_id ORDER BY 2 DESC, 1",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<(i64, i64)>, _>>()?;
    Ok(rows)
}

/// The reference: every row of the tables an export reads, scanned raw.
fn raw_scan(dir: &Path) -> anyhow::Result<(u64, f64)> {
    let conn = rusqlite::Connection::open_with_flags(
        dir.join("gongti.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let started = Instant::now();
    let mut rows = 0u64;
    for table in [
        "residents",
        "chronic_enrolments",
        "followups",
        "followup_drugs",
        "home_readings",
        "contracts",
        "chronic_tasks",
        "alerts",
    ] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table}"))?;
        let columns = stmt.column_count();
        let mut q = stmt.query([])?;
        while let Some(row) = q.next()? {
            // Touch every column, as a reader would.
            for i in 0..columns {
                let _ = row.get_ref(i)?;
            }
            rows += 1;
        }
    }
    Ok((rows, started.elapsed().as_secs_f64()))
}

async fn client_token(load: &Load, base: &str, id: &str, secret: &str) -> anyhow::Result<String> {
    let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let request = axum::http::Request::post(format!("{base}/api/v1/auth/client-token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {pair}"))
        .body(http_body_util::Full::new(
            "grant_type=client_credentials".into(),
        ))?;
    let (status, _, body) = load.exchange(request).await?;
    if status != 200 {
        bail!(
            "client token for {id}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let v: Value = serde_json::from_slice(&body)?;
    Ok(v["access_token"]
        .as_str()
        .context("access_token")?
        .to_owned())
}

fn get(
    url: &str,
    token: &str,
) -> anyhow::Result<axum::http::Request<http_body_util::Full<axum::body::Bytes>>> {
    Ok(axum::http::Request::get(url)
        .header("authorization", format!("Bearer {token}"))
        .header("accept", "application/fhir+json")
        .header("prefer", "respond-async")
        .body(http_body_util::Full::new(axum::body::Bytes::new()))?)
}

pub async fn export(residents: u64, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let dir = data_dir.unwrap_or_else(|| crate::scratch_dir("gongti-bench-export"));
    std::fs::create_dir_all(&dir)?;
    let reuse = dir.join("gongti.db").exists();
    let store = gongti_store::Store::open_sqlite(&dir, crate::chronic::bench_keys(&dir)?).await?;
    store.migrate().await?;
    let (app, _writer) = App::start(store.clone(), system_clock())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if reuse {
        println!("== bulk export: the region in {}, SQLite", dir.display());
    } else {
        let started = Instant::now();
        app.seed_demo(residents, 2020, PASSWORD, |_, _| {})
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        println!(
            "== bulk export: a region of {residents} residents, SQLite (generated in {:.1} s)",
            started.elapsed().as_secs_f64()
        );
    }
    let holders = holders(&dir)?;
    // One warehouse per institution, registered before anything is timed.
    let mut warehouses = Vec::with_capacity(holders.len());
    for (institution, _) in &holders {
        let client_id = format!("bench-dw-{institution}");
        let secret = match app
            .register_client(&ClientForm {
                client_id: client_id.clone(),
                name: format!("数据仓库 {institution}"),
                role: Role::InstitutionAdmin,
                institution_id: Some(*institution),
                scopes: "system/*.read".into(),
            })
            .await
        {
            Ok((_, secret)) => secret,
            Err(e) => bail!("registering {client_id} (use a fresh --data-dir): {e:?}"),
        };
        warehouses.push((client_id, secret));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    // Links (status, files) are built on the public URL: the listener's here.
    let config = gongti_web::WebConfig {
        public_url: base.clone(),
        export_dir: Some(dir.join("exports")),
        ..gongti_web::WebConfig::default()
    };
    let router = gongti_web::router(app.clone(), config);
    tokio::spawn(axum::serve(listener, router).into_future());
    let load = Load::new(1);
    let mut tokens = Vec::with_capacity(warehouses.len());
    for (id, secret) in &warehouses {
        tokens.push(client_token(&load, &base, id, secret).await?);
    }

    let baseline = rss_mib();
    let mut peak = baseline;
    let mut resources = 0u64;
    let mut bytes = 0u64;
    let mut files = 0usize;
    let started = Instant::now();
    for token in &tokens {
        let (status, headers, body) = load
            .exchange(get(
                &format!("{base}/fhir/$export?_type={PATIENT_TYPES}"),
                token,
            )?)
            .await?;
        if status != 202 {
            bail!("kick-off: {status} {}", String::from_utf8_lossy(&body));
        }
        let poll = headers
            .get("content-location")
            .and_then(|v| v.to_str().ok())
            .context("Content-Location")?
            .to_owned();
        let manifest: Value = loop {
            let (status, _, body) = load.exchange(get(&poll, token)?).await?;
            peak = peak.max(rss_mib());
            match status {
                200 => break serde_json::from_slice(&body)?,
                202 => tokio::time::sleep(Duration::from_millis(20)).await,
                other => bail!("status: {other} {}", String::from_utf8_lossy(&body)),
            }
        };
        for o in manifest["output"].as_array().into_iter().flatten() {
            let url = o["url"].as_str().context("url")?;
            let (status, _, body) = load.exchange(get(url, token)?).await?;
            if status != 200 {
                bail!("file: {status}");
            }
            let lines = body.iter().filter(|b| **b == b'\n').count() as u64;
            if lines != o["count"].as_u64().unwrap_or(0) {
                bail!("{url}: {lines} lines, the manifest says {}", o["count"]);
            }
            resources += lines;
            bytes += body.len() as u64;
            files += 1;
        }
        peak = peak.max(rss_mib());
        // Each warehouse's files go once read, as a warehouse would after loading them.
        let _ = load
            .exchange(
                axum::http::Request::delete(&poll)
                    .header("authorization", format!("Bearer {token}"))
                    .body(http_body_util::Full::new(axum::body::Bytes::new()))?,
            )
            .await?;
    }
    let took = started.elapsed().as_secs_f64();
    let (rows, raw_s) = raw_scan(&dir)?;
    let people: i64 = holders.iter().map(|(_, n)| n).sum();
    println!(
        "gongti     $export, {} institutions one after another: {resources} resources of {people} residents in {took:.1} s = {:.0} resources/s ({files} files, {:.0} MiB of NDJSON)",
        holders.len(),
        resources as f64 / took,
        bytes as f64 / 1048576.0
    );
    println!(
        "memory     resident {baseline:.0} MiB before, at most {peak:.0} MiB during the exports (+{:.0} MiB)",
        peak - baseline
    );
    println!(
        "reference  raw rusqlite scan of the same tables: {rows} rows in {raw_s:.2} s = {:.0} rows/s",
        rows as f64 / raw_s
    );
    println!(
        "ratio      export resources/s ÷ raw rows/s = {:.3}",
        (resources as f64 / took) / (rows as f64 / raw_s)
    );
    Ok(())
}
