//! Bringing a register in from a list (issue 14): a CSV file of N residents checked
//! (dry run) and then loaded through `POST /api/v1/residents/import`, every row
//! validated, looked up and audited, against the raw batched insert of the same rows
//! into the same schema (`raw_sqlite_insert`), measured in the same run.

use std::time::Instant;

use anyhow::bail;
use serde_json::Value;

use crate::load::Load;

pub async fn roster(residents: usize) -> anyhow::Result<()> {
    println!("\n== bringing {residents} residents in from a CSV list");
    let rows = crate::residents_json(residents);
    let raw = crate::raw_sqlite_insert(&rows).await?;
    let raw_per_s = residents as f64 / raw.as_secs_f64();
    println!(
        "reference  raw batched SQLite insert:      {:>7.2} s  {raw_per_s:>9.0} rows/s",
        raw.as_secs_f64()
    );
    let mut csv = String::from("姓名,身份证号,联系电话\n");
    for r in &rows {
        let cell = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
        csv.push_str(&format!(
            "{},{},{}\n",
            cell("name"),
            cell("id_number"),
            cell("phone")
        ));
    }
    println!(
        "the list   {} rows, {:.1} MiB",
        residents,
        csv.len() as f64 / 1024.0 / 1024.0
    );
    let server = crate::serve_sqlite().await?;
    let load = Load::new(1);
    let token = crate::token(&load, &server.base, "doctor").await?;
    let url = |dry: bool| format!("{}/api/v1/residents/import?dry_run={dry}", server.base);
    for (label, dry, field) in [
        ("dry run (check, nothing saved)", true, "would_register"),
        ("load (every row or none)      ", false, "registered"),
        (
            "the same list again           ",
            false,
            "already_registered",
        ),
    ] {
        let started = Instant::now();
        let request = axum::http::Request::post(url(dry))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "text/csv")
            .body(http_body_util::Full::new(csv.clone().into()))?;
        let (status, _, body) = load.exchange(request).await?;
        let took = started.elapsed().as_secs_f64();
        if status != 200 && status != 201 {
            bail!("{label}: {status} {}", String::from_utf8_lossy(&body));
        }
        let answer: Value = serde_json::from_slice(&body)?;
        println!(
            "gongti     {label}: {took:>7.2} s  {:>9.0} rows/s  ({field} {}; {:.3} of raw)",
            residents as f64 / took,
            answer[field],
            (residents as f64 / took) / raw_per_s
        );
    }
    let stored = server
        .store
        .residents_count(&gongti_store::ResidentFilter::default())
        .await?;
    println!("stored     {stored} residents");
    Ok(())
}
