//! `gongti`: one binary that serves a region on SQLite or PostgreSQL, seeds the demo
//! region, migrates, verifies the audit chain and manages sign-ins.

mod audit_cli;
mod backup_cli;
mod config;

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use gongti_app::App;
use gongti_core::role::Role;
use gongti_store::{NewStaff, Store};

use crate::config::Settings;

#[derive(Parser)]
#[command(
    name = "gongti",
    version,
    about = "共体 Gongti — regional digital health community"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives. Also read from `GONGTI_*` variables and `--config`.
#[derive(Args, Clone, Debug)]
struct DbArgs {
    /// Directory of the embedded SQLite database.
    #[arg(long, env = "GONGTI_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// PostgreSQL URL (postgres://…); when given, SQLite is not used.
    #[arg(long, env = "GONGTI_DATABASE_URL")]
    database_url: Option<String>,
    /// A configuration file of `key = "value"` lines (data_dir, database_url, listen,
    /// audit_key, audit_anchor).
    #[arg(long, env = "GONGTI_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// The Ed25519 key file that signs the audit chain's checkpoints (created on first
    /// use; keep it outside the database: docs/audit.md).
    #[arg(long, env = "GONGTI_AUDIT_KEY")]
    audit_key: Option<std::path::PathBuf>,
    /// The append-only file the signed checkpoints are written to.
    #[arg(long, env = "GONGTI_AUDIT_ANCHOR")]
    audit_anchor: Option<std::path::PathBuf>,
    /// The key file that seals ID and phone numbers at rest (created on first use;
    /// keep it outside the database and its backups: docs/security.md).
    #[arg(long, env = "GONGTI_DATA_KEY")]
    data_key: Option<std::path::PathBuf>,
}

/// How a server is reached. Also read from `GONGTI_*` variables and `--config`.
#[derive(Args, Clone, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GONGTI_LISTEN")]
    listen: Option<String>,
    /// Where the public reaches Gongti (`https://gongti.example.cn`): every absolute
    /// link is built on it, and https makes cookies Secure and sends HSTS. Defaults to
    /// `http://` and the listen address.
    #[arg(long, env = "GONGTI_PUBLIC_URL")]
    public_url: Option<String>,
    /// A proxy whose X-Forwarded-For is believed (repeatable; its own address).
    #[arg(
        long = "trusted-proxy",
        env = "GONGTI_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Address to take laboratory results on, HL7 v2 over MLLP (`off`: none). Off in
    /// `serve` unless given; the demo listens on 127.0.0.1:2575 unless told otherwise.
    #[arg(long, env = "GONGTI_MLLP_LISTEN")]
    mllp_listen: Option<String>,
    /// A laboratory system's address allowed to send over MLLP (repeatable); with
    /// none, only loopback peers. MLLP carries no credentials: run it over TLS or a
    /// private network.
    #[arg(long = "mllp-peer", env = "GONGTI_MLLP_PEERS", value_delimiter = ',')]
    mllp_peers: Vec<std::net::IpAddr>,
    /// Folder to keep the open imaging and ECG orders in as DICOM Modality Worklist
    /// files (`{accession}.wl`), for Orthanc's worklist plugin (`Worklists.Database`).
    /// Off unless given.
    #[arg(long, env = "GONGTI_WORKLIST_DIR")]
    worklist_dir: Option<std::path::PathBuf>,
    /// The PACS (Orthanc's HTTP root, `http://127.0.0.1:8042`): its changes feed is
    /// followed for stable studies, matched to their orders, and their images shown
    /// through Gongti. Its user and password come from GONGTI_ORTHANC_USER and
    /// GONGTI_ORTHANC_PASSWORD (never on the command line). Off unless given.
    #[arg(long, env = "GONGTI_ORTHANC_URL")]
    orthanc_url: Option<String>,
    /// An institution's system that wants HL7 over MLLP: the signed reports of the
    /// orders its institution placed (ORU^R01) and the laboratory orders sent to its
    /// centres (OML^O21): `INSTITUTION_CODE=HOST:PORT` (repeatable). Each message is
    /// queued in its signature's or order's transaction and sent until the system
    /// acknowledges it. Off unless given.
    #[arg(long = "hl7-send", env = "GONGTI_HL7_SEND", value_delimiter = ',')]
    hl7_send: Vec<String>,
    /// Start even though the audit chain fails its start-up check, for this
    /// reason (recorded in the trail).
    #[arg(long, value_name = "REASON")]
    accept_broken_audit_chain: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, FHIR and the console.
    Serve {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        web: ServeArgs,
    },
    /// Create the synthetic demo region if the data directory is empty, then serve it.
    Demo {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        web: ServeArgs,
        /// Residents to generate.
        #[arg(long, default_value_t = 20_000)]
        residents: u64,
        /// `tianjin`: a city of 13.6 million residents, about 1.3 million of them under
        /// chronic-disease management (overrides --residents).
        #[arg(long, value_parser = ["tianjin"])]
        scale: Option<String>,
        /// Seed of the generator: the same seed gives the same region.
        #[arg(long, default_value_t = 2020)]
        seed: u64,
        /// Seed only; do not serve.
        #[arg(long)]
        no_serve: bool,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Sign-ins.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Client systems (a laboratory system, a data warehouse) and their scopes.
    Client {
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// The chronic-disease indicator counters.
    Indicators {
        #[command(subcommand)]
        command: IndicatorCommand,
    },
    /// The keys that seal ID and phone numbers at rest.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Write one consistent, sealed copy of the store (both SQLite files, or a
    /// PostgreSQL dump) to a new file; a server may keep running.
    Backup {
        #[command(flatten)]
        db: DbArgs,
        /// The archive to write (never overwritten).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Restore an archive of `gongti backup` into an empty data directory or
    /// database, with the data key file it was made with; the restore is signed into
    /// the anchor file and recorded on the trail.
    Restore {
        #[command(flatten)]
        db: DbArgs,
        /// The archive to restore.
        #[arg(long)]
        from: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum DataCommand {
    /// Add a new data key (it seals from now on) and seal every stored value again
    /// with it; afterwards the older keys may be removed from the key file.
    RotateKey {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum IndicatorCommand {
    /// Recompute the counters from the raw records and compare: exit 0 when they agree,
    /// 1 listing the first differences.
    Verify {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Recompute the counters from the raw records and store them.
    Rebuild {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Say from which day the region's records are complete (YYYY-MM-DD): no figure is
    /// compared with a period that began earlier ("无可比数据"). Set it to a
    /// deployment's start, or to the start of an earlier system's history brought in.
    RecordsSince {
        #[command(flatten)]
        db: DbArgs,
        /// The first day of complete records.
        day: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole trail: every link, the signed checkpoints (a shortened or
    /// rehashed trail fails, naming the last good checkpoint), the patient index, and
    /// that every record row has its audit record. Exit 0 when sound, 1 otherwise.
    Verify {
        #[command(flatten)]
        db: DbArgs,
        /// Another public key whose checkpoints count (64 hex digits; repeatable), e.g.
        /// a previous key or another server's.
        #[arg(long = "trusted-key")]
        trusted_keys: Vec<String>,
        /// Another anchor file to check against (repeatable), e.g. another server's.
        #[arg(long = "anchor")]
        anchors: Vec<std::path::PathBuf>,
    },
    /// Print the public key of the audit signing key, for the auditors.
    Key {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a staff member with a sign-in. The password is read from
    /// GONGTI_NEW_USER_PASSWORD or the first line of standard input.
    Create {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
        /// Full name of the staff member.
        #[arg(long)]
        name: String,
        /// Role code, e.g. family_doctor, nurse, city_officer.
        #[arg(long)]
        role: String,
        /// Institution id (for institution roles).
        #[arg(long)]
        institution: Option<i64>,
        /// District code (for district officers).
        #[arg(long)]
        district: Option<String>,
    },
    /// Set a user's password (read like `create`) and clear any lock.
    SetPassword {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
    },
    /// Lift a sign-in lock (after failed attempts) and forget the failures.
    Unlock {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client system; prints its secret once (OAuth 2.0 client credentials
    /// at POST /api/v1/auth/client-token).
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// What the system authenticates as: letters, digits, `-`, `_`, `.`.
        #[arg(long)]
        client_id: String,
        /// Its name, e.g. 和平区社区卫生服务中心检验系统.
        #[arg(long)]
        name: String,
        /// The role it acts in, e.g. exam_reader, institution_admin, city_officer.
        #[arg(long)]
        role: String,
        /// Institution id (for institution roles).
        #[arg(long)]
        institution: Option<i64>,
        /// SMART-style scopes, space-separated, e.g. "system/Patient.read system/Observation.write".
        #[arg(long)]
        scopes: String,
    },
    /// List the registered client systems.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Disable a client system and end its tokens.
    Disable {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        client_id: String,
    },
}

/// mimalloc instead of the system allocator: glibc's arenas took a lock per allocation
/// shared by the threads of both cores, and consolidated free chunks on the request
/// path (BENCHMARKS.md). Built without transparent huge pages (the workspace's
/// `Cargo.toml` says why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    config::init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(Cli::parse())) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("错误 error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn audit_paths(db: &DbArgs) -> config::AuditPaths {
    config::AuditPaths {
        key: db.audit_key.clone(),
        anchor: db.audit_anchor.clone(),
        data_key: db.data_key.clone(),
    }
}

fn settings_of(db: &DbArgs) -> anyhow::Result<Settings> {
    settings_listening(db, None)
}

fn settings_listening(db: &DbArgs, listen: Option<String>) -> anyhow::Result<Settings> {
    Settings::resolve(
        db.data_dir.clone(),
        db.database_url.clone(),
        listen,
        audit_paths(db),
        db.config.as_deref(),
    )
}

fn settings_serving(db: &DbArgs, web: &ServeArgs) -> anyhow::Result<Settings> {
    let mut settings = settings_listening(db, web.listen.clone())?;
    settings.serving(web.public_url.clone(), &web.trusted_proxies)?;
    Ok(settings)
}

/// An instant, in the region's time zone.
fn at(us: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .map(|t| {
            t.to_offset(gongti_app::DISPLAY_OFFSET)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        })
        .unwrap_or_else(|_| format!("{us} µs"))
}

async fn open(db: &DbArgs) -> anyhow::Result<(Store, Settings)> {
    let settings = settings_of(db)?;
    let (keys, created) = gongti_store::crypto::DataKeys::load_or_create(&settings.data_key)
        .context("the data key file")?;
    if created {
        println!(
            "数据密钥已生成 data key created at {}: it seals ID and phone numbers; keep it (and a copy) outside the database and its backups — without it they cannot be read",
            settings.data_key.display()
        );
    }
    let store = match &settings.database_url {
        Some(url) => Store::connect_postgres(url, keys)
            .await
            .context("connecting to PostgreSQL")?,
        None => Store::open_sqlite(&settings.data_dir, keys)
            .await
            .with_context(|| format!("opening {}", settings.data_dir.display()))?,
    };
    let applied = store.migrate().await.context("migrating")?;
    if applied > 0 {
        tracing::info!(applied, "database migrated");
        // Changing the schema is a write like any other: on the trail.
        let entry = gongti_core::audit::AuditEntry {
            resource_id: Some(gongti_store::MIGRATION_COUNT.to_string()),
            detail: Some(format!("{applied} migrations applied")),
            ..gongti_core::audit::AuditEntry::system(
                gongti_app::unix_us(time::OffsetDateTime::now_utc()),
                "schema.migrate",
                "Schema",
            )
        };
        store
            .append_entries(&[entry], 0)
            .await
            .context("recording the migration")?;
    }
    Ok((store, settings))
}

/// Opens the store for reading only, beside a server that may own it: nothing is
/// migrated, written or locked (`audit verify`).
async fn open_for_reading(db: &DbArgs) -> anyhow::Result<Store> {
    let settings = settings_of(db)?;
    let keys =
        gongti_store::crypto::DataKeys::load(&settings.data_key).context("the data key file")?;
    Ok(match &settings.database_url {
        Some(url) => Store::connect_postgres(url, keys)
            .await
            .context("connecting to PostgreSQL")?,
        None => Store::open_sqlite_read_only(&settings.data_dir, keys)
            .await
            .with_context(|| format!("opening {}", settings.data_dir.display()))?,
    })
}

/// What `serve` and `demo` do before serving: open the store as one of its servers,
/// check the audit chain, start the application, build the counters and the city
/// administrator when missing.
async fn start_server(
    db: &DbArgs,
    web: &ServeArgs,
) -> anyhow::Result<(App, tokio::task::JoinHandle<()>, Settings)> {
    let (store, _) = open(db).await?;
    let store = store.serve_lease().await?;
    let settings = settings_serving(db, web)?;
    let (app, writer) = audit_cli::start_app(
        store,
        &settings,
        true,
        web.accept_broken_audit_chain.as_deref(),
    )
    .await?;
    if app.ensure_indicator_counters().await? {
        tracing::info!("indicator counters built from the records");
    }
    ensure_admin(&app).await?;
    Ok((app, writer, settings))
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { db, web } => {
            let (app, writer, settings) = start_server(&db, &web).await?;
            let mllp = web.mllp_listen.clone().map(|a| (a, true));
            serve(app, writer, &settings, &web, mllp).await?;
        }
        Command::Demo {
            db,
            web,
            residents,
            scale,
            seed,
            no_serve,
        } => {
            let residents = match scale.as_deref() {
                Some("tianjin") => TIANJIN_RESIDENTS,
                _ => residents,
            };
            let (app, writer, settings) = start_server(&db, &web).await?;
            let password = seed_demo_if_empty(&app, residents, seed).await?;
            if no_serve {
                drop(app);
                writer.await.context("audit writer")?;
                return Ok(ExitCode::SUCCESS);
            }
            let url = format!("{}/", settings.public_url);
            println!("\n共体 Gongti 演示区 demo region: {url}");
            println!("API: {url}api/v1/docs   FHIR: {url}fhir/metadata");
            match password {
                Some(p) => println!("演示账号 demo sign-ins (password {p}):"),
                None => {
                    println!("演示账号 demo sign-ins (password as set when the demo was created):")
                }
            }
            for (username, role) in gongti_app::demo::DEMO_USERS {
                println!("  {username:<11} {}", role.name_zh());
            }
            println!("  {:<11} 居民（自助预约 {url}patient）", "patient");
            println!(
                "  {:<11} 家庭医生（宁河区云药房故事）",
                gongti_app::demo::STORY_DOCTOR
            );
            println!(
                "  {:<11} 居民（宁河区，我的处方 {url}patient/prescriptions）",
                gongti_app::demo::STORY_PATIENT
            );
            let mllp = match web.mllp_listen.clone() {
                Some(a) => Some((a, true)),
                None => Some((DEMO_MLLP_LISTEN.to_owned(), false)),
            };
            serve(app, writer, &settings, &web, mllp).await?;
        }
        Command::Migrate { db } => {
            let (store, _) = open(&db).await?;
            println!(
                "schema up to date ({} migrations known)",
                gongti_store::MIGRATION_COUNT
            );
            store.close().await;
        }
        Command::Indicators { command } => {
            let (rebuild, db) = match command {
                IndicatorCommand::Verify { db } => (false, db),
                IndicatorCommand::Rebuild { db } => (true, db),
                IndicatorCommand::RecordsSince { db, day } => {
                    let day = time::Date::parse(
                        &day,
                        time::macros::format_description!("[year]-[month]-[day]"),
                    )
                    .map_err(|_| {
                        anyhow::anyhow!("日期应为 YYYY-MM-DD / the day must be YYYY-MM-DD: {day}")
                    })?;
                    let (store, _) = open(&db).await?;
                    let (app, writer) =
                        audit_cli::start_app(store, &settings_of(&db)?, false, None).await?;
                    app.set_records_kept_since(day)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                    println!("记录完整起始日 records complete from {day}");
                    drop(app);
                    writer.await?;
                    return Ok(ExitCode::SUCCESS);
                }
            };
            let (store, _) = open(&db).await?;
            // A rebuild replaces every counter: no server may update them meanwhile.
            let alone = match rebuild {
                true => store.alone("indicators rebuild").await?,
                false => None,
            };
            let (app, writer) =
                audit_cli::start_app(store, &settings_of(&db)?, false, None).await?;
            let (fresh, stored) = app.recompute_indicators(rebuild).await?;
            drop(app);
            let _ = writer.await;
            if let Some(guard) = alone {
                guard.release().await;
            }
            if rebuild {
                println!(
                    "指标计数已重建 indicator counters rebuilt: {} counters, {} enrolment days",
                    fresh.counts.len(),
                    fresh.enrolments.len()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let differences: Vec<String> = differences("", &fresh.counts, &stored.counts)
                .chain(
                    (fresh.enrolments != stored.enrolments)
                        .then(|| "enrolment counts differ".to_owned()),
                )
                .chain((fresh.endings != stored.endings).then(|| "ending counts differ".to_owned()))
                .chain(differences("签约率 ", &fresh.coverage, &stored.coverage))
                .collect();
            if differences.is_empty() {
                println!(
                    "指标计数一致 indicator counters agree with the records: {} counters",
                    fresh.counts.len()
                );
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!(
                "指标计数不一致 indicator counters differ from the records ({}):",
                differences.len()
            );
            for d in differences.iter().take(20) {
                eprintln!("  {d}");
            }
            return Ok(ExitCode::from(1));
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    db,
                    trusted_keys,
                    anchors,
                },
        } => {
            let store = open_for_reading(&db).await?;
            let code =
                audit_cli::verify(&store, &settings_of(&db)?, &trusted_keys, &anchors).await?;
            store.close().await;
            return Ok(code);
        }
        Command::Audit {
            command: AuditCommand::Key { db },
        } => return audit_cli::print_key(&settings_of(&db)?),
        Command::User { command } => user(command).await?,
        Command::Client { command } => client(command).await?,
        Command::Backup { db, out } => return backup_cli::backup(&db, &out).await,
        Command::Restore { db, from } => return backup_cli::restore(&db, &from).await,
        Command::Data {
            command: DataCommand::RotateKey { db },
        } => {
            let settings = settings_of(&db)?;
            // Refused while a server holds the store, before the key file changes.
            let (store, _) = open(&db).await?;
            let alone = store.alone("data rotate-key").await?;
            store.close().await;
            drop(store);
            let id = gongti_store::crypto::DataKeys::rotate(&settings.data_key)
                .context("rotating the data key")?;
            let (store, _) = open(&db).await?;
            let sealed = store.reseal_personal_data().await?;
            let (app, writer) = audit_cli::start_app(store, &settings, false, None).await?;
            app.audit_edge(gongti_core::audit::AuditEntry {
                resource_id: Some(id.to_string()),
                detail: Some(format!("{sealed} records sealed again")),
                ..gongti_core::audit::AuditEntry::system(
                    gongti_app::unix_us(app.now()),
                    "data.rotate_key",
                    "DataKey",
                )
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            drop(app);
            writer.await?;
            if let Some(guard) = alone {
                guard.release().await;
            }
            println!(
                "数据密钥已轮换 data key {id} now seals; {sealed} records sealed again. The older keys may now leave {}",
                settings.data_key.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_password(var: &str) -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(var) {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    if p.is_empty() {
        bail!("no password: set {var} or give it on standard input");
    }
    Ok(p)
}

async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            db,
            username,
            name,
            role,
            institution,
            district,
        } => {
            let (store, _) = open(&db).await?;
            let role = Role::from_code(&role).with_context(|| format!("unknown role {role}"))?;
            let district = match (institution, district) {
                (Some(i), _) => Some(
                    store
                        .institution(i)
                        .await
                        .context("institution")?
                        .district_code,
                ),
                (None, d) => d,
            };
            let password = read_password("GONGTI_NEW_USER_PASSWORD")?;
            let (app, writer) =
                audit_cli::start_app(store.clone(), &settings_of(&db)?, false, None).await?;
            gongti_app::auth::check_password(&password).map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let (staff, _) = app
                .create_staff_account(
                    &new_staff(name, role, institution, district),
                    &username,
                    &password,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("created user {username} (staff {staff})");
            drop(app);
            writer.await?;
        }
        UserCommand::SetPassword { db, username } => {
            let (store, _) = open(&db).await?;
            let password = read_password("GONGTI_NEW_USER_PASSWORD")?;
            let (app, writer) =
                audit_cli::start_app(store, &settings_of(&db)?, false, None).await?;
            app.set_password(&username, &password)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("password set for {username}");
            drop(app);
            writer.await?;
        }
        UserCommand::Unlock { db, username } => {
            let (store, _) = open(&db).await?;
            let (app, writer) =
                audit_cli::start_app(store, &settings_of(&db)?, false, None).await?;
            app.unlock_user(&username)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("已解锁 unlocked {username}");
            drop(app);
            writer.await?;
        }
    }
    Ok(())
}

async fn client(command: ClientCommand) -> anyhow::Result<()> {
    let db = match &command {
        ClientCommand::Create { db, .. }
        | ClientCommand::List { db }
        | ClientCommand::Disable { db, .. } => db.clone(),
    };
    let (store, _) = open(&db).await?;
    let (app, writer) = audit_cli::start_app(store, &settings_of(&db)?, false, None).await?;
    match command {
        ClientCommand::Create {
            client_id,
            name,
            role,
            institution,
            scopes,
            ..
        } => {
            let role = Role::from_code(&role).with_context(|| format!("unknown role {role}"))?;
            let form = gongti_app::clients::ClientForm {
                client_id,
                name,
                role,
                institution_id: institution,
                scopes,
            };
            let (client, secret) = app
                .register_client(&form)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!(
                "已登记客户端 registered client {} (scopes {})",
                client.client_id, client.scopes
            );
            println!("client_secret: {secret}");
            println!("(只显示这一次 shown this once)");
        }
        ClientCommand::List { .. } => {
            for c in app.clients().await.map_err(|e| anyhow::anyhow!("{e:?}"))? {
                println!(
                    "{}\t{}\t{}\t{}\t{}{}",
                    c.client_id,
                    c.name,
                    c.role,
                    c.institution_id.map(|i| i.to_string()).unwrap_or_default(),
                    c.scopes,
                    if c.disabled {
                        "\t已停用 disabled"
                    } else {
                        ""
                    }
                );
            }
        }
        ClientCommand::Disable { client_id, .. } => {
            app.disable_client(&client_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!("已停用 disabled {client_id}");
        }
    }
    drop(app);
    writer.await?;
    Ok(())
}

/// A staff record for a sign-in made from the command line (no licence or title yet).
fn new_staff(
    name: String,
    role: Role,
    institution_id: Option<i64>,
    district_code: Option<String>,
) -> NewStaff {
    NewStaff {
        name,
        role,
        institution_id,
        district_code,
        department_id: None,
        licence_number: None,
        title: None,
        practice_years: 0,
    }
}

fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("random source");
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The counters of `fresh` (a recompute) that `stored` does not hold with the same
/// value, and those only `stored` holds, each as a line naming its key.
fn differences<'a, K: std::fmt::Debug + Ord>(
    label: &'a str,
    fresh: &'a std::collections::BTreeMap<K, i64>,
    stored: &'a std::collections::BTreeMap<K, i64>,
) -> impl Iterator<Item = String> + 'a {
    fresh
        .iter()
        .filter(|(k, v)| stored.get(*k) != Some(*v))
        .map(move |(k, v)| format!("{label}{k:?}: recomputed {v}, stored {:?}", stored.get(k)))
        .chain(
            stored
                .keys()
                .filter(|k| !fresh.contains_key(*k))
                .map(move |k| format!("{label}{k:?}: stored only")),
        )
}

/// On first start the city administrator `admin` is created, with the password from
/// GONGTI_ADMIN_PASSWORD or a random one printed once.
async fn ensure_admin(app: &App) -> anyhow::Result<()> {
    if app.store().user_by_username("admin").await?.is_some() {
        return Ok(());
    }
    let (password, printed) = match std::env::var("GONGTI_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (random_password(), true),
    };
    app.create_staff_account(
        &new_staff("系统管理员".into(), Role::CityAdmin, None, None),
        "admin",
        &password,
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating admin: {e:?}"))?;
    if printed {
        println!(
            "城市管理员 city administrator: admin / {password}  (shown once; set GONGTI_ADMIN_PASSWORD to choose it)"
        );
    }
    Ok(())
}

/// Residents of a Tianjin-sized demo region (常住人口 13.6 million).
const TIANJIN_RESIDENTS: u64 = 13_600_000;

/// Seeds the demo region when the store holds no institution; returns the demo
/// password when it was just chosen.
/// The demo's laboratory day over the same intake as MLLP: the family doctor orders an
/// HbA1c for the demo's `patient` and their diabetes patients (three in all) — and a
/// chest X-ray and an ECG for `patient` —, the cloud laboratory (the specialist's
/// hospital) reports on each order (the first with a critical potassium) and sends one
/// report for nobody registered, held for matching (`/lab-messages`). Returns how many
/// messages were answered AA.
async fn seed_demo_lab_day(app: &App) -> anyhow::Result<usize> {
    let store = app.store();
    let staff_of = |username: &'static str| async move {
        let user = store
            .user_by_username(username)
            .await?
            .with_context(|| format!("the demo's {username}"))?;
        anyhow::Ok(store.staff_member(user.staff_id).await?)
    };
    let doctor = staff_of("doctor").await?;
    let lab = staff_of("specialist").await?;
    let (Some(home), Some(lab)) = (doctor.institution_id, lab.institution_id) else {
        anyhow::bail!("the demo's doctor and specialist have no institution");
    };
    let facility = store.institution(lab).await?.code;
    let filter = gongti_store::ResidentFilter {
        home_institution_id: Some(home),
        ..Default::default()
    };
    // the demo's own `patient` first, so that her phone shows a laboratory's report
    let mut patients = Vec::new();
    let own = store.patient_account_by_username("patient").await?;
    if let Some(account) = &own {
        let r = store.resident(account.resident_id).await?;
        patients.push((r.id, r.id_number.as_str().to_owned(), r.name.clone()));
    }
    let mut after = None;
    'pages: loop {
        let page = store.residents(&filter, after, 200).await?;
        let ids: Vec<i64> = page.items.iter().map(|r| r.id).collect();
        let enrolments = store.enrolments_of_residents(&ids, None).await?;
        for r in &page.items {
            let diabetic = enrolments.iter().any(|e| {
                e.resident_id == r.id
                    && e.disease == gongti_core::chronic::Disease::Diabetes
                    && e.ended_on.is_none()
            });
            if diabetic && !patients.iter().any(|(id, _, _)| *id == r.id) {
                patients.push((r.id, r.id_number.as_str().to_owned(), r.name.clone()));
                if patients.len() == 3 {
                    break 'pages;
                }
            }
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    // the doctor's orders first: the laboratory's reports answer them
    let ids: Vec<i64> = patients.iter().map(|(id, _, _)| *id).collect();
    let placers = app
        .seed_demo_exam_orders(&ids, own.as_ref().map(|a| a.resident_id))
        .await
        .map_err(|e| anyhow::anyhow!("the demo's exam orders: {e:?}"))?;
    let patients: Vec<(String, String, String)> = patients
        .into_iter()
        .zip(placers)
        .map(|((_, id_number, name), placer)| (id_number, name, placer))
        .collect();
    let answers = gongti_web::hl7::seed_demo_lab_day(app, &facility, &patients)
        .await
        .map_err(|e| anyhow::anyhow!("the demo's laboratory day: {e:?}"))?;
    if let Some(account) = &own {
        app.seed_demo_recognition(account.resident_id)
            .await
            .map_err(|e| anyhow::anyhow!("the demo's result recognition: {e:?}"))?;
    }
    Ok(answers
        .iter()
        .filter(|a| a.code == gongti_app::exam::AckCode::Accept)
        .count())
}

async fn seed_demo_if_empty(
    app: &App,
    residents: u64,
    seed: u64,
) -> anyhow::Result<Option<String>> {
    if app.store().institution_count().await? > 0 {
        println!(
            "数据目录已有数据，直接启动 the data directory already holds a region: serving it"
        );
        return Ok(None);
    }
    let password = match std::env::var("GONGTI_DEMO_PASSWORD") {
        Ok(p) if !p.is_empty() => p,
        _ => random_password(),
    };
    let bar = indicatif::ProgressBar::new(residents);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "生成居民 residents {bar:40} {pos}/{len} ({per_sec}, eta {eta})",
        )
        .expect("progress template"),
    );
    let started = std::time::Instant::now();
    let summary = app
        .seed_demo(residents, seed, &password, |done, _| bar.set_position(done))
        .await
        .map_err(|e| anyhow::anyhow!("seeding the demo region: {e:?}"))?;
    bar.finish();
    let lab = seed_demo_lab_day(app).await?;
    println!(
        "演示区已生成 demo region: {} districts, {} grassroots institutions, {} upper hospitals, {} residents, {} family-doctor contracts, {} hypertension and {} diabetes patients under management, {} follow-ups, {} home readings, {} laboratory results, {} clinic schedules in {:.1}s",
        summary.districts,
        summary.grassroots,
        summary.upper_hospitals,
        summary.residents,
        summary.contracts,
        summary.chronic.hypertension.managed,
        summary.chronic.diabetes.managed,
        summary.chronic.hypertension.followups + summary.chronic.diabetes.followups,
        summary.chronic.readings,
        summary.chronic.lab_results + lab as u64 * 4,
        summary.schedules,
        started.elapsed().as_secs_f64()
    );
    Ok(Some(password))
}

/// Where the demo takes laboratory results over MLLP unless told otherwise.
const DEMO_MLLP_LISTEN: &str = "127.0.0.1:2575";

/// Binds the MLLP listener: `(address, given)`; `off` binds none, and a default address
/// that is taken (another demo on the machine) is only a warning.
async fn bind_mllp(
    mllp: Option<(String, bool)>,
) -> anyhow::Result<Option<tokio::net::TcpListener>> {
    let Some((addr, given)) = mllp else {
        return Ok(None);
    };
    if addr.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let parsed: SocketAddr = addr
        .parse()
        .with_context(|| format!("MLLP listen address {addr}"))?;
    match tokio::net::TcpListener::bind(parsed).await {
        Ok(l) => Ok(Some(l)),
        Err(e) if !given => {
            tracing::warn!(%addr, error = %e, "the demo's MLLP address is taken: laboratory results over MLLP are off");
            println!("MLLP {addr} 已被占用 taken: HL7 laboratory intake off (--mllp-listen ADDR)");
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("binding MLLP {addr}")),
    }
}

/// The systems of `--hl7-send` (`CODE=HOST:PORT`), each code an institution's.
async fn hl7_peers(app: &App, given: &[String]) -> anyhow::Result<Vec<gongti_web::hl7_out::Peer>> {
    let mut peers = Vec::new();
    for text in given.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let (code, address) = text
            .split_once('=')
            .with_context(|| format!("--hl7-send {text}: INSTITUTION_CODE=HOST:PORT"))?;
        anyhow::ensure!(
            address
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()),
            "--hl7-send {text}: the address is HOST:PORT"
        );
        let filter = gongti_store::InstitutionFilter {
            codes: vec![code.trim().to_owned()],
            ..Default::default()
        };
        let found = app.store().institutions(&filter, None, 1).await?;
        let institution = found
            .items
            .first()
            .with_context(|| format!("--hl7-send {text}: no institution has the code {code}"))?;
        peers.push(gongti_web::hl7_out::Peer {
            institution_id: institution.id,
            address: address.trim().to_owned(),
        });
    }
    Ok(peers)
}

async fn serve(
    app: App,
    writer: tokio::task::JoinHandle<()>,
    settings: &Settings,
    web: &ServeArgs,
    mllp: Option<(String, bool)>,
) -> anyhow::Result<()> {
    let mllp_peers = web.mllp_peers.clone();
    let worklist_dir = web.worklist_dir.clone();
    let addr: SocketAddr = settings
        .listen
        .parse()
        .with_context(|| format!("listen address {}", settings.listen))?;
    let config = gongti_web::WebConfig {
        public_url: settings.public_url.clone(),
        trusted_proxies: settings.trusted_proxies.clone(),
        export_dir: Some(settings.data_dir.join("exports")),
        orthanc: web.orthanc_url.as_deref().map(|url| {
            gongti_web::orthanc::OrthancClient::new(
                url,
                &std::env::var("GONGTI_ORTHANC_USER").unwrap_or_default(),
                &std::env::var("GONGTI_ORTHANC_PASSWORD").unwrap_or_default(),
            )
        }),
    };
    if !config.https() && !addr.ip().is_loopback() {
        tracing::warn!(
            public_url = %config.public_url,
            "serving beyond loopback without an https public URL: cookies are not Secure; set --public-url behind a TLS proxy"
        );
    }
    let mllp = bind_mllp(mllp).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mllp_task = match mllp {
        Some(l) => {
            let at = l.local_addr()?;
            if !at.ip().is_loopback() {
                tracing::warn!(%at, "MLLP beyond loopback is cleartext: run it over TLS or a private network, and name the laboratories with --mllp-peer");
            }
            tracing::info!(%at, peers = mllp_peers.len(), "taking laboratory results over MLLP");
            println!("HL7 MLLP laboratory intake on {at}");
            Some(tokio::spawn(gongti_web::mllp::serve_mllp(
                l,
                app.clone(),
                mllp_peers,
                stopped,
            )))
        }
        None => None,
    };
    // The open imaging and ECG orders as Modality Worklist files, kept in line with
    // the orders every few seconds (DOMAIN.md §8).
    let worklist_task = worklist_dir.map(|dir| {
        tracing::info!(dir = %dir.display(), "keeping the modality worklist folder");
        println!(
            "DICOM 检查工作列表 modality worklist folder: {}",
            dir.display()
        );
        tokio::spawn(gongti_web::worklist::serve_worklist(
            app.clone(),
            dir,
            stop.subscribe(),
        ))
    });
    // Signed reports to the clinic systems that want them (DOMAIN.md §8).
    let peers = hl7_peers(&app, &web.hl7_send).await?;
    let hl7_out_task = (!peers.is_empty()).then(|| {
        for p in &peers {
            tracing::info!(institution = p.institution_id, address = %p.address, "sending signed reports over MLLP");
        }
        tokio::spawn(gongti_web::hl7_out::run(
            app.clone(),
            peers,
            stop.subscribe(),
        ))
    });
    // The PACS's stable studies, matched to their orders as they arrive.
    let pacs_task = config.orthanc.clone().map(|pacs| {
        tracing::info!(pacs = ?pacs, "following the PACS's changes");
        tokio::spawn(gongti_web::orthanc::follow_changes(
            app.clone(),
            pacs,
            stop.subscribe(),
        ))
    });
    // Critical values not confirmed in time go to the duty officer (DOMAIN.md §8): a
    // sweep every minute (the lists sweep too before they answer).
    let sweeper = {
        let app = app.clone();
        let mut stopped = stop.subscribe();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                let stop_now = async {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                tokio::select! {
                    () = stop_now => break,
                    _ = every.tick() => {}
                }
                if let Err(e) = app.escalate_critical_values().await {
                    tracing::error!(error = %e, "escalating critical values");
                }
            }
        })
    };
    let router = gongti_web::router(app, config);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, public_url = %settings.public_url, "serving");
    println!("listening on http://{}", listener.local_addr()?);
    gongti_web::serve(
        listener,
        router,
        gongti_web::ServeLimits::default(),
        shutdown_signal(),
    )
    .await?;
    let _ = stop.send(true);
    if let Some(task) = mllp_task {
        task.await.context("MLLP listener")??;
    }
    sweeper.await.context("critical-value sweep")?;
    if let Some(task) = worklist_task {
        task.await.context("modality worklist")?;
    }
    if let Some(task) = pacs_task {
        task.await.context("the PACS's changes")?;
    }
    if let Some(task) = hl7_out_task {
        task.await.context("reports to clinic systems")?;
    }
    tracing::info!("shutting down: flushing the audit queue");
    writer.await.context("audit writer")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
