//! `clearing`: the year-end clearing (年度清算, issue 17) at a city's scale. A region is
//! generated with the demo generator (266 grassroots institutions at any size), then
//! every resident of a grassroots institution not yet contracted gets a year of
//! family-doctor contracts (a first term begun up to 200 days before the year, renewed
//! for two in three, one in seventeen of the renewals ended early) and their year of
//! fee lines in the bureau's settlement file (`--lines` each, at the institution, its
//! upper hospital or outside the community), inserted in bulk. The app's clock is then
//! moved to the next year's second day, the remaining prepayments are paid and the
//! insurance officer freezes the year — timed, twice (the second recounts), with the
//! process's peak memory. The reference: DuckDB computing the clearing's inputs from the
//! same rows (`scripts/bench_clearing_duckdb.py`: each institution's persons and
//! person-days per scheme, B and the bureau's cost), compared institution by
//! institution.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use gongti_app::auth::TokenKind;
use gongti_app::{App, Ctx};
use gongti_core::payment::scheme::SchemeKind;
use serde_json::{Value, json};
use time::{Date, Month, OffsetDateTime};

use crate::PASSWORD;
use crate::chronic::peak_rss_mib;

/// The bench's rows in the bureau's file.
const BATCH: &str = "bench-clearing";
/// An institution outside the community, as the bench's file names it.
const OUTSIDE: (&str, &str) = ("H12999900002", "市外定点医院（基准测试）");
/// Freezes timed.
const FREEZES: usize = 2;

/// Resets the peak to the current resident size (Linux ≥ 4.0).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Adds the bench's contracts and fee lines for `year` (once per region); their counts.
fn add_rows(db: &Path, year: i32, lines: u32, now_us: i64) -> anyhow::Result<(i64, i64)> {
    let mut conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    let done: i64 = conn.query_row(
        "SELECT COUNT(*) FROM bureau_settlements WHERE batch = ?1",
        [BATCH],
        |r| r.get(0),
    )?;
    if done > 0 {
        let contracts: i64 = conn.query_row(
            "SELECT COUNT(*) FROM contracts c JOIN care_relationships cr ON cr.id = c.care_relationship_id
              WHERE cr.opened_at_us = (SELECT MIN(imported_at_us) FROM bureau_settlements WHERE batch = ?1)",
            [BATCH],
            |r| r.get(0),
        )?;
        return Ok((contracts, done));
    }
    let jan1 = format!("{year}-01-01");
    let tx = conn.transaction()?;
    // a care relationship and a first term for each grassroots resident not contracted
    tx.execute(
        "INSERT INTO care_relationships (resident_id, institution_id, kind, opened_at_us)
         SELECT r.id, r.home_institution_id, 'contract', ?1 FROM residents r
          JOIN institutions i ON i.id = r.home_institution_id
          WHERE i.kind IN ('community_health_centre', 'township_health_centre')
            AND r.merged_into_id IS NULL
            AND EXISTS (SELECT 1 FROM teams t WHERE t.institution_id = i.id)
            AND NOT EXISTS (SELECT 1 FROM contracts c WHERE c.resident_id = r.id)",
        [now_us],
    )?;
    let first_term = "date(?2, '-' || (cr.resident_id % 200) || ' days')";
    // signed on its first day, in microseconds
    let signed = |day: &str| format!("CAST(unixepoch({day}) AS INTEGER) * 1000000");
    tx.execute(
        &format!(
            "INSERT INTO contracts (resident_id, team_id, institution_id, status, start_on, end_on,
               insurance_fen, public_health_fen, resident_fen, signed_by_staff_id,
               care_relationship_id, signed_at_us, changed_at_us)
             SELECT cr.resident_id, t.id, cr.institution_id,
                    CASE WHEN cr.resident_id % 3 = 0 THEN 'active' ELSE 'renewed' END,
                    {first_term}, date({first_term}, '+1 year', '-1 day'),
                    7000, 3000, 2000, t.doctor_staff_id, cr.id, {at}, {at}
               FROM care_relationships cr
               JOIN teams t ON t.id = (SELECT MIN(id) FROM teams WHERE institution_id = cr.institution_id)
              WHERE cr.opened_at_us = ?1 AND cr.kind = 'contract'",
            at = signed(first_term)
        ),
        rusqlite::params![now_us, jan1],
    )?;
    // the renewals: the next term from the day after, one in seventeen ended early
    tx.execute(
        &format!(
            "INSERT INTO contracts (resident_id, team_id, institution_id, status, start_on, end_on,
               ended_on, end_reason, previous_id, insurance_fen, public_health_fen, resident_fen,
               signed_by_staff_id, care_relationship_id, signed_at_us, changed_at_us)
             SELECT c.resident_id, c.team_id, c.institution_id,
                    CASE WHEN c.resident_id % 17 = 0 THEN 'terminated' ELSE 'active' END,
                    date(c.end_on, '+1 day'), date(c.end_on, '+1 year'),
                    CASE WHEN c.resident_id % 17 = 0 THEN date(c.end_on, '+61 days') END,
                    CASE WHEN c.resident_id % 17 = 0 THEN 'moved' END,
                    c.id, 7000, 3000, 2000, c.signed_by_staff_id, c.care_relationship_id, {at}, {at}
               FROM contracts c JOIN care_relationships cr ON cr.id = c.care_relationship_id
              WHERE cr.opened_at_us = ?1 AND c.status = 'renewed'",
            at = signed("date(c.end_on, '+1 day')")
        ),
        [now_us],
    )?;
    let contracts: i64 = tx.query_row(
        "SELECT COUNT(*) FROM contracts c JOIN care_relationships cr ON cr.id = c.care_relationship_id
          WHERE cr.opened_at_us = ?1",
        [now_us],
        |r| r.get(0),
    )?;
    let staff: i64 = tx.query_row("SELECT MIN(id) FROM staff", [], |r| r.get(0))?;
    // the year's fee lines: at the institution (6 in 10), its upper hospital (3), or
    // outside the community (1); a day of the year each
    tx.execute(
        "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < ?3),
         people AS (SELECT cr.resident_id, cr.institution_id FROM care_relationships cr
                     WHERE cr.opened_at_us = ?1 AND cr.kind = 'contract')
         INSERT INTO bureau_settlements (setl_id, resident_id, psn_no, settled_on, total_fen, fund_fen,
           fixmedins_code, fixmedins_name, institution_id, batch, imported_by_staff_id, imported_at_us)
         SELECT 'BENCH' || p.resident_id || '-' || n.k, p.resident_id, 'BENCH' || p.resident_id,
                date(?2, '+' || ((p.resident_id * 31 + n.k * 97) % 365) || ' days'),
                (2000 + (p.resident_id * 7 + n.k * 13) % 30000) * 10 / 7,
                2000 + (p.resident_id * 7 + n.k * 13) % 30000,
                CASE WHEN (p.resident_id + n.k) % 10 < 6 THEN i.code
                     WHEN (p.resident_id + n.k) % 10 < 9 AND u.id IS NOT NULL THEN u.code ELSE ?5 END,
                CASE WHEN (p.resident_id + n.k) % 10 < 6 THEN i.name
                     WHEN (p.resident_id + n.k) % 10 < 9 AND u.id IS NOT NULL THEN u.name ELSE ?6 END,
                CASE WHEN (p.resident_id + n.k) % 10 < 6 THEN i.id
                     WHEN (p.resident_id + n.k) % 10 < 9 THEN u.id END,
                ?4, ?7, ?1
           FROM people p CROSS JOIN n
           JOIN institutions i ON i.id = p.institution_id
           LEFT JOIN institutions u ON u.id = i.upper_institution_id",
        rusqlite::params![now_us, jan1, lines, BATCH, OUTSIDE.0, OUTSIDE.1, staff],
    )?;
    let fees: i64 = tx.query_row(
        "SELECT COUNT(*) FROM bureau_settlements WHERE batch = ?1",
        [BATCH],
        |r| r.get(0),
    )?;
    tx.commit()?;
    Ok((contracts, fees))
}

/// Staff of a post at the grassroots institutions brought up to `total` (family
/// doctors and nurses added in turn), and the follow-ups of `year`-`month` there shared
/// among each institution's post holders in turn (once per region); the staff of a post
/// there.
fn add_staff(db: &Path, total: i64, year: i32, month: u8, now_us: i64) -> anyhow::Result<i64> {
    const POSTS: &str = "'family_doctor', 'nurse', 'public_health_doctor', 'health_manager'";
    const GRASSROOTS: &str = "'community_health_centre', 'township_health_centre'";
    let mut conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(60))?;
    let count = |conn: &rusqlite::Connection| -> rusqlite::Result<i64> {
        conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM staff s JOIN institutions i ON i.id = s.institution_id
                  WHERE s.role IN ({POSTS}) AND i.kind IN ({GRASSROOTS})"
            ),
            [],
            |r| r.get(0),
        )
    };
    let have = count(&conn)?;
    let added: i64 = conn.query_row(
        "SELECT COUNT(*) FROM staff WHERE name LIKE '基准%'",
        [],
        |r| r.get(0),
    )?;
    if added > 0 || have >= total {
        return Ok(have);
    }
    let first = format!("{year}-{month:02}-01");
    let tx = conn.transaction()?;
    tx.execute(
        &format!(
            "WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < ?1),
             g AS (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS i, COUNT(*) OVER () AS c
                     FROM institutions WHERE kind IN ({GRASSROOTS}))
             INSERT INTO staff (name, role, institution_id, practice_years, created_at_us)
             SELECT '基准' || n.k, CASE WHEN n.k % 2 = 0 THEN 'family_doctor' ELSE 'nurse' END,
                    g.id, 5, ?2
               FROM n JOIN g ON g.i = n.k % g.c"
        ),
        rusqlite::params![total - have, now_us],
    )?;
    // the month's follow-ups shared among the institution's post holders in turn
    tx.execute(
        &format!(
            "CREATE TEMP TABLE posts AS
             SELECT s.id, s.institution_id,
                    ROW_NUMBER() OVER (PARTITION BY s.institution_id ORDER BY s.id) - 1 AS i,
                    COUNT(*) OVER (PARTITION BY s.institution_id) AS c
               FROM staff s WHERE s.role IN ({POSTS}) AND s.institution_id IS NOT NULL"
        ),
        [],
    )?;
    tx.execute(
        "UPDATE followups SET staff_id = (
            SELECT p.id FROM posts p
             WHERE p.institution_id = followups.institution_id AND p.i = followups.id % p.c)
          WHERE visit_on >= ?1 AND visit_on <= date(?1, '+1 month', '-1 day')
            AND EXISTS (SELECT 1 FROM posts p WHERE p.institution_id = followups.institution_id)",
        [first],
    )?;
    tx.execute("DROP TABLE posts", [])?;
    tx.commit()?;
    Ok(count(&conn)?)
}

/// The same month's work items counted by member of staff straight from the rows (the
/// floor under any count): the reference for the incentive month; its time and the
/// items.
fn raw_work(db: &Path, year: i32, month: u8) -> anyhow::Result<(f64, i64)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let first = Date::from_calendar_date(year, Month::try_from(month)?, 1)?;
    let next = first.replace_day(28)? + time::Duration::days(4);
    let next = next.replace_day(1)?;
    let last = next.previous_day().context("a month")?;
    let us = |d: Date| d.midnight().assume_utc().unix_timestamp() * 1_000_000;
    let (from_us, to_us) = (us(first), us(next));
    let started = Instant::now();
    let items: i64 = conn.query_row(
        "SELECT COALESCE(SUM(n), 0) FROM (
           SELECT staff_id, COUNT(*) AS n FROM (
             SELECT f.staff_id FROM followups f
              WHERE f.institution_id IN (SELECT id FROM institutions WHERE kind IN ('community_health_centre', 'township_health_centre')) AND f.visit_on >= ?1 AND f.visit_on <= ?2
             UNION ALL SELECT c.signed_by_staff_id FROM contracts c
              WHERE c.institution_id IN (SELECT id FROM institutions WHERE kind IN ('community_health_centre', 'township_health_centre')) AND c.signed_at_us >= ?3 AND c.signed_at_us < ?4
             UNION ALL SELECT r.from_staff_id FROM referrals r
              WHERE r.from_institution_id IN (SELECT id FROM institutions WHERE kind IN ('community_health_centre', 'township_health_centre')) AND r.created_at_us >= ?3 AND r.created_at_us < ?4
             UNION ALL SELECT v.doctor_staff_id FROM online_visits v
              WHERE v.institution_id IN (SELECT id FROM institutions WHERE kind IN ('community_health_centre', 'township_health_centre')) AND v.doctor_staff_id IS NOT NULL
                AND v.status IN ('prescribed', 'to_clinic') AND v.ended_at_us >= ?3 AND v.ended_at_us < ?4
             UNION ALL SELECT p.staff_id FROM prescription_steps p JOIN staff s ON s.id = p.staff_id
              WHERE s.institution_id IN (SELECT id FROM institutions WHERE kind IN ('community_health_centre', 'township_health_centre')) AND p.step IN ('pass', 'return', 'refuse')
                AND p.at_us >= ?3 AND p.at_us < ?4
             UNION ALL SELECT r.signer_staff_id FROM exam_reports r JOIN staff s ON s.id = r.signer_staff_id
              WHERE s.institution_id IN (SELECT id FROM institutions WHERE kind IN ('community_health_centre', 'township_health_centre')) AND r.signed_at_us >= ?3 AND r.signed_at_us < ?4
           ) GROUP BY staff_id)",
        rusqlite::params![first.to_string(), last.to_string(), from_us, to_us],
        |r| r.get(0),
    )?;
    Ok((started.elapsed().as_secs_f64(), items))
}

fn fail(e: gongti_app::AppError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// December's incentive month of every grassroots institution, counted from the work
/// items for `staff` members of staff of a post, read as the city officer (each read
/// audited naming the staff), against counting the same items straight from the rows.
async fn incentive_month(app: &App, db: &Path, staff: i64, year: i32) -> anyhow::Result<()> {
    let month = 12;
    let now_us = gongti_app::unix_us(OffsetDateTime::now_utc());
    let db2 = db.to_owned();
    let posts =
        tokio::task::spawn_blocking(move || add_staff(&db2, staff, year, month, now_us)).await??;
    let signed = app
        .sign_in("officer", PASSWORD, TokenKind::Api, None, None)
        .await
        .map_err(fail)?;
    let ctx = Ctx {
        principal: signed.principal,
        request_id: None,
    };
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let ids: Vec<i64> = conn
        .prepare(
            "SELECT id FROM institutions WHERE kind IN ('community_health_centre', 'township_health_centre') ORDER BY id",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    drop(conn);
    let mut runs = Vec::new();
    let (mut people, mut items, mut pool) = (0usize, 0i64, 0i64);
    for run in 0..2 {
        let t = Instant::now();
        for id in &ids {
            let m = app
                .incentive_month(&ctx, *id, year, month)
                .await
                .map_err(fail)?;
            if run == 0 {
                people += m.people.len();
                items += m
                    .people
                    .iter()
                    .map(|p| p.counts.iter().sum::<i64>())
                    .sum::<i64>();
                pool += m.pool_fen;
            }
        }
        runs.push(t.elapsed().as_secs_f64());
    }
    let db2 = db.to_owned();
    let (raw_s, raw_items) =
        tokio::task::spawn_blocking(move || raw_work(&db2, year, month)).await??;
    println!(
        "== an incentive month ({year}-{month:02}) of {} grassroots institutions: {posts} staff of a post, {people} paid, {items} work items, pool {} yuan",
        ids.len(),
        gongti_core::money::yuan(pool)
    );
    println!(
        "gongti     every institution's month counted (work, units, quality, the exact split; each read audited): {} s",
        runs.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!(
        "reference  the same month's work items counted by staff straight from the rows (SQLite): {raw_s:.2} s, {raw_items} items; ratio {:.1}×",
        runs.iter().copied().fold(f64::INFINITY, f64::min) / raw_s
    );
    Ok(())
}

pub async fn clearing(
    residents: u64,
    lines: u32,
    staff: i64,
    duckdb_python: Option<&Path>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let dir = data_dir.unwrap_or_else(|| crate::scratch_dir("gongti-bench-clearing"));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("gongti.db");
    let reuse = db.exists();
    // the app's clock, moved on to the next year's second day once the year is made
    let shift_s = Arc::new(AtomicI64::new(0));
    let clock_shift = shift_s.clone();
    let clock: gongti_app::Clock = Arc::new(move || {
        OffsetDateTime::now_utc() + time::Duration::seconds(clock_shift.load(Ordering::Relaxed))
    });
    let store = gongti_store::Store::open_sqlite(&dir, crate::chronic::bench_keys(&dir)?).await?;
    store.migrate().await?;
    let (app, _writer) = App::start(store, clock).await.map_err(fail)?;
    let started = Instant::now();
    if !reuse {
        app.seed_demo(residents, 2020, PASSWORD, |_, _| {})
            .await
            .map_err(fail)?;
        println!(
            "generator  a region of {residents} residents in {:.1} s (peak RSS {:.0} MiB)",
            started.elapsed().as_secs_f64(),
            peak_rss_mib()
        );
    }
    let today = app.today();
    let year = today.year();
    let now_us = gongti_app::unix_us(OffsetDateTime::now_utc());
    let (db2, made) = (db.clone(), Instant::now());
    let (contracts, fees) =
        tokio::task::spawn_blocking(move || add_rows(&db2, year, lines, now_us)).await??;
    println!(
        "rows       {contracts} bench contracts and {fees} fee lines of {year} in the bureau's file ({:.1} s)",
        made.elapsed().as_secs_f64()
    );

    // the year over: the next year's second day
    let next = Date::from_calendar_date(year + 1, Month::January, 2)?;
    shift_s.store((next - today).whole_seconds(), Ordering::Relaxed);
    let signed = app
        .sign_in("insurer", PASSWORD, TokenKind::Api, None, None)
        .await
        .map_err(fail)?;
    let ctx = Ctx {
        principal: signed.principal,
        request_id: None,
    };
    for month in 1..=12 {
        match app.pay_capitation_month(&ctx, year, month).await {
            // a region reused: frozen by an earlier run, every month paid
            Ok(()) | Err(gongti_app::AppError::Conflict("year_frozen")) => {}
            Err(e) => return Err(fail(e)),
        }
    }
    let mut runs = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..FREEZES {
        reset_peak_rss();
        let t = Instant::now();
        app.freeze_capitation_year(&ctx, year).await.map_err(fail)?;
        runs.push(t.elapsed().as_secs_f64());
        peaks.push(peak_rss_mib());
    }
    let cleared = app.capitation_clearing(&ctx, year).await.map_err(fail)?;
    let persons: i64 = cleared
        .institutions
        .iter()
        .map(|c| c.record.row.persons.iter().sum::<i64>())
        .sum();
    let cost_lines: i64 = cleared
        .institutions
        .iter()
        .map(|c| c.record.row.cost_lines)
        .sum();
    println!(
        "== the clearing of {year}: {} institutions, {persons} person-schemes, {cost_lines} cost lines",
        cleared.institutions.len()
    );
    println!(
        "gongti     freeze (members by the days enrolled, costs where each person counted that day, quality, figures; saved): {} s, peak RSS {} MiB",
        runs.iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>()
            .join(" / "),
        peaks
            .iter()
            .map(|m| format!("{m:.0}"))
            .collect::<Vec<_>>()
            .join(" / "),
    );

    incentive_month(&app, &db, staff, year).await?;

    let Some(python) = duckdb_python else {
        println!("reference  DuckDB: skipped (pass --duckdb-python with duckdb installed)");
        return Ok(());
    };
    let version = app
        .payment_scheme(&ctx, cleared.year.scheme_version)
        .await
        .map_err(fail)?;
    let mut params = serde_json::Map::new();
    for line in version.scheme.text().lines() {
        if let Some((name, value)) = line.split_once('\t') {
            params.insert(name.to_owned(), json!(value));
        }
    }
    let params_path = dir.join("clearing-params.json");
    std::fs::write(&params_path, Value::Object(params).to_string())?;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/bench_clearing_duckdb.py"
    );
    let out = tokio::process::Command::new(python)
        .arg(script)
        .arg(&db)
        .arg(year.to_string())
        .arg(&params_path)
        .output()
        .await
        .context("running the DuckDB reference")?;
    if !out.status.success() {
        bail!("duckdb: {}", String::from_utf8_lossy(&out.stderr));
    }
    let duck: Value = serde_json::from_slice(&out.stdout)?;
    let compute = duck["compute_s"].as_f64().unwrap_or(f64::NAN);
    println!(
        "reference  DuckDB: the same inputs from the same rows in {compute:.2} s (the median of {} s), after {:.1} s to load them",
        duck["runs_s"]
            .as_array()
            .map(|r| r
                .iter()
                .map(|s| format!("{:.2}", s.as_f64().unwrap_or(f64::NAN)))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
        duck["load_s"].as_f64().unwrap_or(f64::NAN)
    );
    let mut runs_sorted = runs.clone();
    runs_sorted.sort_by(f64::total_cmp);
    println!(
        "ratio      freeze ÷ DuckDB = {:.2}× (best freeze), {:.2}× (worst)",
        runs_sorted[0] / compute,
        runs_sorted[runs_sorted.len() - 1] / compute
    );
    // figures equal, institution by institution
    use gongti_core::payment::costs::CostSource;
    let bureau_index = CostSource::ALL
        .iter()
        .position(|s| *s == CostSource::Bureau)
        .context("the bureau's source")?;
    let mut unequal = Vec::new();
    for c in &cleared.institutions {
        let r = &c.record.row;
        let want = &duck["institutions"][r.institution_id.to_string()];
        let ours = json!({
            "budget_fen": r.budget_fen,
            "persons": r.persons,
            "person_days": r.person_days,
            "bureau_fen": r.cost_by_source_fen[bureau_index],
        });
        let theirs = if want.is_null() {
            json!({"budget_fen": 0, "persons": [0, 0, 0], "person_days": [0, 0, 0], "bureau_fen": 0})
        } else {
            want.clone()
        };
        if ours != theirs {
            unequal.push(format!("{}: ours {ours} DuckDB {theirs}", r.institution_id));
        }
    }
    let extra = duck["institutions"]
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| {
                    !cleared
                        .institutions
                        .iter()
                        .any(|c| c.record.row.institution_id.to_string() == **k)
                })
                .count()
        })
        .unwrap_or(0);
    if unequal.is_empty() && extra == 0 {
        println!(
            "figures    equal for every institution: B, persons and person-days per scheme ({}), the bureau's cost",
            SchemeKind::ALL
                .iter()
                .map(|k| k.code())
                .collect::<Vec<_>>()
                .join(", ")
        );
    } else {
        println!(
            "figures    NOT equal: {} institutions differ, {extra} only in DuckDB",
            unequal.len()
        );
        for u in unequal.iter().take(5) {
            println!("           {u}");
        }
    }
    Ok(())
}
