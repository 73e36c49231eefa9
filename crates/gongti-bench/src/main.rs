//! `gongti-bench`: benchmarks, apart from the tests. Every figure is reported beside a
//! reference measured in the same run on the same machine, because the machine is
//! shared and an absolute time is not a result. See BENCHMARKS.md.
//!
//! - `registration`: residents registered through `POST /api/v1/residents` (audited,
//!   SQLite, synchronous=FULL) against a raw batched SQLite insert of the same rows.
//! - `read`: audited `GET /fhir/Patient/{id}` at N connections against the constant
//!   `/healthz` handler on the same server stack.
//! - `chronic`: chronic care on a generated region (dashboard read, recompute vs DuckDB,
//!   home-reading ingest vs raw insert).
//! - `referrals`: one-click referrals competing for reserved slots (exactly that many
//!   booked, none twice) against an audited small read at the same concurrency.
//! - `console`: every role's main console pages on a generated region against the
//!   constant handler.
//! - `clearing`: the year-end clearing at a city's scale (a generated region, a year of
//!   contracts and fee lines) against DuckDB computing its inputs from the same rows.
//! - `roster`: a CSV list of residents checked and loaded against the raw insert.
//! - `pharmacy`: the prescription check in process (against parsing its JSON) and over
//!   HTTP (against the constant handler).
//! - `peer`: the same registrations and reads against the Helios FHIR server, when its
//!   `hfs` binary is given.

mod chronic;
mod clearing;
mod console;
mod dispensing;
mod export;
mod import;
mod load;
mod mllp;
mod pacs;
mod pharmacy;
mod referrals;
mod roster;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use gongti_app::demo::DemoRng;
use gongti_app::{App, system_clock};
use gongti_core::id_number::check_character;
use serde_json::{Value, json};

use crate::load::{Load, Method, Summary};

#[derive(Parser)]
#[command(about = "Gongti benchmarks: ratios against references measured in the same run")]
struct Cli {
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Registration over HTTP vs raw batched SQLite insert.
    Registration {
        #[arg(long, default_value_t = 20_000)]
        residents: usize,
        #[arg(long, default_value_t = 64)]
        connections: usize,
    },
    /// Audited FHIR Patient read vs a constant handler on the same stack.
    Read {
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Chronic care on a generated region: dashboard read, recompute vs DuckDB,
    /// home-reading ingest vs raw insert.
    Chronic {
        #[arg(long, default_value_t = 200_000)]
        residents: u64,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// A Python with `duckdb` installed, for the DuckDB reference.
        #[arg(long)]
        duckdb_python: Option<PathBuf>,
        /// Helios' `hfs`, for the peer's Bundle ingest of the same readings.
        #[arg(long)]
        peer_bin: Option<PathBuf>,
        /// Keep the region here: generated into it when it holds no database, reused
        /// as it is otherwise (a Tianjin-scale region takes over an hour to generate;
        /// `gongti demo --scale tianjin` with GONGTI_DEMO_PASSWORD=bench-password-1
        /// makes one too). A temporary directory when not given.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// One-click referrals competing for reserved slots, on SQLite and (with
    /// `--database-url`) PostgreSQL.
    Referrals {
        #[arg(long, default_value_t = 10_000)]
        patients: usize,
        #[arg(long, default_value_t = 100)]
        slots: usize,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// A PostgreSQL server (an administrator's URL) to run the contest on as well,
        /// in a fresh database of its own.
        #[arg(long)]
        postgres_admin_url: Option<String>,
    },
    /// The cloud pharmacy's chain — issued, passed, settled, filled — and two pharmacies
    /// filling the same 100 prescriptions at once, on SQLite and (with
    /// `--postgres-admin-url`) PostgreSQL.
    Dispensing {
        #[arg(long, default_value_t = 10_000)]
        prescriptions: usize,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long)]
        postgres_admin_url: Option<String>,
    },
    /// Bulk export of a generated region: every institution's warehouse through
    /// `$export`, against a raw scan of the same tables.
    Export {
        #[arg(long, default_value_t = 200_000)]
        residents: u64,
        /// Generate the region here (it must not hold one: each run registers its
        /// warehouses). A temporary directory when not given.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Importing history: transaction Bundles against the JSON API's paths for the
    /// same residents, enrolments and follow-ups (and Helios with `--peer-bin`).
    Import {
        #[arg(long, default_value_t = 5_000)]
        residents: usize,
        /// Residents per Bundle (each with all its entries).
        #[arg(long, default_value_t = 50)]
        per_bundle: usize,
        #[arg(long, default_value_t = 4)]
        connections: usize,
        #[arg(long)]
        peer_bin: Option<PathBuf>,
        /// Skip the JSON API's paths (for profiling the Bundles alone).
        #[arg(long)]
        bundles_only: bool,
    },
    /// Every role's main console pages on a generated region: p50/p95/p99 against
    /// the constant handler on the same server.
    Console {
        #[arg(long, default_value_t = 20_000)]
        residents: u64,
        /// Requests per page (after five to warm up).
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Keep the region here: generated when it holds no database, reused otherwise.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// The year-end clearing on a generated region (a year of contracts and fee lines
    /// for every grassroots resident) against DuckDB computing its inputs.
    Clearing {
        #[arg(long, default_value_t = 1_300_000)]
        residents: u64,
        /// Fee lines per contracted person in the bureau's file.
        #[arg(long, default_value_t = 12)]
        lines: u32,
        /// Staff of a post at the grassroots institutions, for the incentive month.
        #[arg(long, default_value_t = 10_000)]
        staff: i64,
        /// A Python with `duckdb` installed, for the DuckDB reference.
        #[arg(long)]
        duckdb_python: Option<PathBuf>,
        /// Generate into (or reuse) this directory instead of a temporary one.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Bringing residents in from a CSV list (dry run, load, repeat) against the raw
    /// batched insert of the same rows.
    Roster {
        #[arg(long, default_value_t = 100_000)]
        residents: usize,
    },
    /// The prescription check: in process, and over HTTP against the constant handler.
    Pharmacy {
        #[arg(long, default_value_t = 100_000)]
        calls: usize,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// HL7 ORU ingest over MLLP: each message stored before its acknowledgement, at 1
    /// and 16 connections, against a listener that only frames and acknowledges.
    Mllp {
        #[arg(long, default_value_t = 5_000)]
        messages: usize,
        #[arg(long, default_value_t = 4)]
        results: usize,
    },
    /// A stable study in a real Orthanc (GONGTI_TEST_ORTHANC_*, from
    /// `scripts/orthanc.sh start`) to the reading worklist, against a bare feed reader.
    StudyLatency {
        #[arg(long, default_value_t = 30)]
        studies: usize,
    },
    /// Both, and the peer when `--peer-bin` points at Helios' `hfs`.
    All {
        #[arg(long, default_value_t = 20_000)]
        residents: usize,
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long)]
        peer_bin: Option<PathBuf>,
    },
}

pub(crate) const PASSWORD: &str = "bench-password-1";

/// mimalloc instead of the system allocator: glibc's arenas took a lock per allocation
/// shared by the threads of both cores, and consolidated free chunks on the request
/// path (BENCHMARKS.md). Built without transparent huge pages (the workspace's
/// `Cargo.toml` says why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The server's errors (an incident's cause) on stderr; RUST_LOG for more.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        match cli.command {
            Bench::Registration { residents, connections } => {
                registration(residents, connections).await?;
            }
            Bench::Chronic { residents, seconds, duckdb_python, peer_bin, data_dir } => {
                chronic::chronic(
                    residents,
                    seconds,
                    duckdb_python.as_deref(),
                    peer_bin.as_deref(),
                    data_dir,
                )
                .await?;
            }
            Bench::Referrals { patients, slots, connections, postgres_admin_url } => {
                let dir = scratch_dir("gongti-bench-referrals");
                let store = gongti_store::Store::open_sqlite(&dir, chronic::bench_keys(&dir)?).await?;
                referrals::contest(store, "SQLite", patients, slots, connections).await?;
                if let Some(admin) = postgres_admin_url {
                    let url = gongti_testdb::fresh_postgres_url(&admin).await;
                    let store = gongti_store::Store::connect_postgres(&url, gongti_store::crypto::DataKeys::generate()).await?;
                    referrals::contest(store, "PostgreSQL", patients, slots, connections).await?;
                }
            }
            Bench::Dispensing { prescriptions, connections, postgres_admin_url } => {
                let dir = scratch_dir("gongti-bench-dispensing");
                let store = gongti_store::Store::open_sqlite(&dir, chronic::bench_keys(&dir)?).await?;
                dispensing::run(store, "SQLite", prescriptions, connections).await?;
                if let Some(admin) = postgres_admin_url {
                    let url = gongti_testdb::fresh_postgres_url(&admin).await;
                    let store = gongti_store::Store::connect_postgres(&url, gongti_store::crypto::DataKeys::generate()).await?;
                    dispensing::run(store, "PostgreSQL", prescriptions, connections).await?;
                }
            }
            Bench::Import { residents, per_bundle, connections, peer_bin, bundles_only } => {
                import::import(residents, per_bundle, connections, peer_bin.as_deref(), !bundles_only)
                    .await?;
            }
            Bench::Console { residents, requests, data_dir } => {
                console::console(residents, requests, data_dir).await?;
            }
            Bench::Clearing { residents, lines, staff, duckdb_python, data_dir } => {
                clearing::clearing(residents, lines, staff, duckdb_python.as_deref(), data_dir)
                    .await?;
            }
            Bench::Roster { residents } => {
                roster::roster(residents).await?;
            }
            Bench::Pharmacy { calls, connections, seconds } => {
                pharmacy::pharmacy(calls, connections, seconds).await?;
            }
            Bench::Mllp { messages, results } => {
                mllp::mllp(messages, results).await?;
            }
            Bench::StudyLatency { studies } => {
                pacs::study_latency(studies).await?;
            }
            Bench::Export { residents, data_dir } => {
                export::export(residents, data_dir).await?;
            }
            Bench::Read { connections, seconds } => {
                read(connections, Duration::from_secs(seconds)).await?;
            }
            Bench::All { residents, connections, seconds, peer_bin } => {
                let ours = registration(residents, connections).await?;
                let (read_ours, _) = read(connections, Duration::from_secs(seconds)).await?;
                if let Some(bin) = peer_bin {
                    peer(&bin, residents, connections, Duration::from_secs(seconds), &ours, &read_ours).await?;
                } else {
                    println!("\npeer: skipped (pass --peer-bin ~/.cargo/bin/hfs after `cargo install helios-hfs`)");
                }
            }
        }
        Ok(())
    });
    // The servers stop with the runtime; then their directories can go.
    runtime.shutdown_timeout(Duration::from_secs(10));
    remove_scratch();
    result
}

/// The directories the bench made for its own databases: removed when it ends (each
/// holds tens of thousands of residents; left behind, a day of runs filled /tmp).
static SCRATCH: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// A new empty directory under the system temp dir, removed when the bench ends.
pub(crate) fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = gongti_testdb::temp_dir(prefix);
    SCRATCH
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(dir.clone());
    dir
}

fn remove_scratch() {
    let dirs = std::mem::take(
        &mut *SCRATCH
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for dir in dirs {
        if let Err(error) = std::fs::remove_dir_all(&dir) {
            eprintln!("could not remove {}: {error}", dir.display());
        }
    }
}

/// `n` distinct valid residents as JSON bodies, the same for every run.
pub(crate) fn residents_json(n: usize) -> Vec<Value> {
    let mut rng = DemoRng::new(99);
    (0..n)
        .map(|i| {
            let day = i / 1000;
            let (y, m, d) = (1940 + (day / 336) as i32, 1 + (day / 28) % 12, 1 + day % 28);
            let body = format!("120101{y:04}{m:02}{d:02}{:03}", i % 1000);
            let id = format!("{body}{}", check_character(body.as_bytes()));
            let sex = if rng.below(2) == 0 { gongti_core::Sex::Male } else { gongti_core::Sex::Female };
            json!({"name": gongti_app::demo::person_name(&mut rng, sex), "id_number": id, "phone": "13812341234"})
        })
        .collect()
}

pub(crate) struct Server {
    pub(crate) base: String,
    pub(crate) app: App,
    pub(crate) store: gongti_store::Store,
}

pub(crate) async fn serve_sqlite() -> anyhow::Result<Server> {
    let dir = scratch_dir("gongti-bench");
    serve_on(gongti_store::Store::open_sqlite(&dir, chronic::bench_keys(&dir)?).await?).await
}

/// Migrates `store`, seeds the demo region (no residents) and serves it on a free port.
pub(crate) async fn serve_on(store: gongti_store::Store) -> anyhow::Result<Server> {
    store.migrate().await?;
    let (app, _writer) = App::start(store.clone(), system_clock())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    app.seed_demo(0, 1, PASSWORD, |_, _| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let router = gongti_web::router(app.clone(), gongti_web::WebConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(axum::serve(listener, router).into_future());
    Ok(Server { base, app, store })
}

/// Signs a demo user in; the bearer token.
pub(crate) async fn token(load: &Load, base: &str, username: &str) -> anyhow::Result<String> {
    let body = json!({"username": username, "password": PASSWORD}).to_string();
    let (status, text) = load
        .once(
            Method::Post,
            &format!("{base}/api/v1/auth/token"),
            None,
            Some(body),
        )
        .await?;
    if status != 200 {
        bail!("sign-in of {username} failed: {status} {text}");
    }
    Ok(serde_json::from_str::<Value>(&text)?["access_token"]
        .as_str()
        .context("token")?
        .to_owned())
}

/// Raw batched insert of the same rows into a fresh SQLite database of the same schema
/// and settings: the ceiling for any registration path.
pub(crate) async fn raw_sqlite_insert(rows: &[Value]) -> anyhow::Result<Duration> {
    let dir = scratch_dir("gongti-bench-raw");
    let store = gongti_store::Store::open_sqlite(&dir, chronic::bench_keys(&dir)?).await?;
    store.migrate().await?;
    store.upsert_district("120101", "和平区", "120100").await?;
    let inst = store
        .insert_institution(
            &gongti_store::NewInstitution {
                code: "X".into(),
                name: "x".into(),
                kind: gongti_core::region::InstitutionKind::CommunityHealthCentre,
                district_code: "120101".into(),
                upper_institution_id: None,
            },
            0,
            &[],
        )
        .await?;
    store.close().await;
    // rusqlite with one prepared statement: no async driver between the rows and SQLite.
    let path = dir.join("gongti.db");
    let rows: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["id_number"].as_str().unwrap_or_default().to_owned(),
                r["name"].as_str().unwrap_or_default().to_owned(),
                r["phone"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let inst_id = inst.id;
    tokio::task::spawn_blocking(move || -> anyhow::Result<Duration> {
        let mut conn = rusqlite::Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let started = Instant::now();
        for chunk in rows.chunks(5_000) {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO residents (id_number, name, sex, birth_date, phone, home_institution_id, created_at_us, updated_at_us)
                     VALUES (?1, ?2, '1', '1950-01-01', ?3, ?4, 0, 0)",
                )?;
                for (id_number, name, phone) in chunk {
                    insert.execute(rusqlite::params![id_number, name, phone, inst_id])?;
                }
            }
            tx.commit()?;
        }
        Ok(started.elapsed())
    })
    .await?
}

struct Registration {
    per_s: f64,
    summary: Summary,
}

async fn registration(n: usize, connections: usize) -> anyhow::Result<Registration> {
    println!(
        "== registration: {n} residents, {connections} connections, SQLite (WAL, synchronous=FULL)"
    );
    let rows = residents_json(n);
    let raw = raw_sqlite_insert(&rows).await?;
    let raw_per_s = n as f64 / raw.as_secs_f64();
    println!("reference  raw batched SQLite insert:   {raw_per_s:>10.0} rows/s");

    let server = serve_sqlite().await?;
    let load = Load::new(connections);
    let token = token(&load, &server.base, "doctor").await?;
    let url = format!("{}/api/v1/residents", server.base);
    let bodies: Vec<String> = rows.iter().map(Value::to_string).collect();
    let summary = load
        .run_bodies(Method::Post, &url, Some(&token), bodies, 201)
        .await?;
    let per_s = summary.per_s();
    println!(
        "gongti     POST /api/v1/residents:     {per_s:>10.0} residents/s  (p50 {:.1} ms, p99 {:.1} ms, {} errors)",
        summary.p(50.0),
        summary.p(99.0),
        summary.errors
    );
    if summary.errors > 0 {
        println!(
            "           errors by status (0: no answer): {:?}; the first: {}",
            summary.error_statuses,
            summary.first_error.as_deref().unwrap_or("-")
        );
    }
    println!(
        "ratio      gongti / raw insert:          {:>10.3}",
        per_s / raw_per_s
    );
    let registered = server.store.resident_count().await?;
    let audited = server.store.audit_count().await?;
    println!("check      residents stored {registered}, audit records {audited}");
    drop(server.app);
    Ok(Registration { per_s, summary })
}

async fn read(connections: usize, duration: Duration) -> anyhow::Result<(Summary, Summary)> {
    println!(
        "\n== read: {connections} connections for {}s each",
        duration.as_secs()
    );
    let server = serve_sqlite().await?;
    let load = Load::new(connections);
    let token = token(&load, &server.base, "doctor").await?;
    // Residents the doctor may read.
    let rows = residents_json(2_000);
    for r in &rows {
        load.once(
            Method::Post,
            &format!("{}/api/v1/residents", server.base),
            Some(&token),
            Some(r.to_string()),
        )
        .await?;
    }
    let ids: Vec<String> = (1..=2_000)
        .map(|i| format!("{}/fhir/Patient/{i}", server.base))
        .collect();
    let constant = load
        .run_for(
            Method::Get,
            &[format!("{}/healthz", server.base)],
            None,
            duration,
            200,
        )
        .await?;
    println!(
        "reference  GET /healthz (constant):     {:>10.0} req/s  (p50 {:.2} ms, p99 {:.2} ms)",
        constant.per_s(),
        constant.p(50.0),
        constant.p(99.0)
    );
    // A ladder of costs between the constant handler and the audited read.
    let me = load
        .run_for(
            Method::Get,
            &[format!("{}/api/v1/me", server.base)],
            Some(&token),
            duration,
            200,
        )
        .await?;
    println!(
        "ladder     GET /api/v1/me (token only): {:>10.0} req/s  (p99 {:.2} ms)",
        me.per_s(),
        me.p(99.0)
    );
    let orgs: Vec<String> = (1..=200)
        .map(|i| format!("{}/fhir/Organization/{i}", server.base))
        .collect();
    let org = load
        .run_for(Method::Get, &orgs, Some(&token), duration, 200)
        .await?;
    println!(
        "ladder     GET /fhir/Organization/{{id}}: {:>9.0} req/s  (p99 {:.2} ms; token + one query, no audit)",
        org.per_s(),
        org.p(99.0)
    );
    let audit_before = server.store.audit_count().await?;
    let ours = load
        .run_for(Method::Get, &ids, Some(&token), duration, 200)
        .await?;
    println!(
        "gongti     GET /fhir/Patient/{{id}}:     {:>10.0} req/s  (p50 {:.2} ms, p99 {:.2} ms, {} errors)",
        ours.per_s(),
        ours.p(50.0),
        ours.p(99.0),
        ours.errors
    );
    println!(
        "ratio      audited read / constant:      {:>10.3}",
        ours.per_s() / constant.per_s()
    );
    let audited = server.store.audit_count().await? - audit_before;
    println!(
        "check      audit records written during the read run: {audited} (reads answered: {})",
        ours.ok
    );
    Ok((ours, constant))
}

/// Starts Helios `hfs` on SQLite in a fresh directory and waits for it to answer;
/// returns the process (killed on drop) and its base URL.
pub(crate) async fn start_peer(
    bin: &std::path::Path,
) -> anyhow::Result<(tokio::process::Child, String)> {
    let dir = scratch_dir("gongti-bench-helios");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = tokio::process::Command::new(bin)
        .args([
            "--port",
            &port.to_string(),
            "--data-dir",
            dir.to_str().context("dir")?,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the peer")?;
    let base = format!("http://127.0.0.1:{port}");
    let probe = Load::new(1);
    for _ in 0..100 {
        if probe
            .once(Method::Get, &format!("{base}/metadata"), None, None)
            .await
            .is_ok_and(|(s, _)| s == 200)
        {
            return Ok((child, base));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("the peer did not answer /metadata on port {port}")
}

async fn peer(
    bin: &std::path::Path,
    n: usize,
    connections: usize,
    duration: Duration,
    ours_reg: &Registration,
    ours_read: &Summary,
) -> anyhow::Result<()> {
    println!("\n== peer: Helios FHIR server ({}), SQLite", bin.display());
    let (mut child, base) = start_peer(bin).await?;
    let load = Load::new(connections);
    let patients: Vec<String> = residents_json(n)
        .iter()
        .map(|r| {
            json!({
                "resourceType": "Patient",
                "identifier": [{"system": "urn:oid:2.16.156.10011.1.3", "value": r["id_number"]}],
                "name": [{"text": r["name"]}],
                "telecom": [{"system": "phone", "value": r["phone"]}],
            })
            .to_string()
        })
        .collect();
    let created = load
        .run_bodies(
            Method::PostFhir,
            &format!("{base}/Patient"),
            None,
            patients,
            201,
        )
        .await?;
    println!(
        "peer       POST /Patient:               {:>10.0} patients/s  (p50 {:.1} ms, p99 {:.1} ms, {} errors)",
        created.per_s(),
        created.p(50.0),
        created.p(99.0),
        created.errors
    );
    println!(
        "ratio      gongti / peer registration:  {:>10.2}  (gongti p99 {:.1} ms)",
        ours_reg.per_s / created.per_s(),
        ours_reg.summary.p(99.0)
    );
    let (_, listing) = load
        .once(
            Method::Get,
            &format!("{base}/Patient?_count=1000"),
            None,
            None,
        )
        .await?;
    let ids: Vec<String> = serde_json::from_str::<Value>(&listing)?["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|x| x["resource"]["id"].as_str())
                .map(|id| format!("{base}/Patient/{id}"))
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        bail!("the peer listed no patients");
    }
    let reads = load.run_for(Method::Get, &ids, None, duration, 200).await?;
    println!(
        "peer       GET /Patient/{{id}} (unaudited): {:>7.0} req/s  (p50 {:.2} ms, p99 {:.2} ms)",
        reads.per_s(),
        reads.p(50.0),
        reads.p(99.0)
    );
    println!(
        "ratio      gongti audited / peer read:   {:>10.2}",
        ours_read.per_s() / reads.per_s()
    );
    child.kill().await.ok();
    Ok(())
}
