//! `gongti backup` and `gongti restore` (docs/security.md): one consistent copy of
//! the store sealed into an archive with a key derived from the data key, and back.
//!
//! - SQLite: `gongti.db` then `audit.db` copied with `VACUUM INTO` beside a running
//!   server (records first, so every record's audit entry is in the copy);
//! - PostgreSQL: `pg_dump`'s custom format (one snapshot), sealed as it streams;
//!   restored with `pg_restore` in one transaction, after the whole archive opened.
//!
//! A restore goes into an empty data directory or database only. It signs a restore
//! mark into the anchor file (the checkpoints of the history lost since the backup no
//! longer count) and puts a `data.restore` record on the restored trail.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, bail};
use gongti_app::audit::checkpoint::{Anchor, AuditKey};
use gongti_core::audit::AuditEntry;
use gongti_store::backup::{self, SealedReader, SealedWriter};
use gongti_store::crypto::DataKeys;

use crate::config::Settings;
use crate::{DbArgs, at, audit_cli, open, settings_of};

/// A PostgreSQL client program (`pg_dump`, `pg_restore`): from `GONGTI_PG_BIN`, the
/// `PATH`, or Debian's newest `/usr/lib/postgresql/*/bin`.
fn pg_tool(name: &str) -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("GONGTI_PG_BIN") {
        return Ok(Path::new(&dir).join(name));
    }
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).collect())
        .unwrap_or_default();
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.filter_map(|d| d.ok())
                .map(|d| d.path().join("bin").join(name))
                .collect()
        })
        .unwrap_or_default();
    debian.sort_by_key(|p| {
        p.components()
            .nth(4)
            .and_then(|c| c.as_os_str().to_str()?.parse::<u32>().ok())
    });
    on_path
        .into_iter()
        .chain(debian.into_iter().rev())
        .find(|p| p.is_file())
        .with_context(|| {
            format!("{name} not found: install PostgreSQL's client programs or set GONGTI_PG_BIN")
        })
}

fn now_us() -> i64 {
    gongti_app::unix_us(time::OffsetDateTime::now_utc())
}

/// A file written under a temporary name and renamed into place only when complete.
struct Partial {
    path: PathBuf,
    done: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// `gongti backup --out FILE`.
pub async fn backup(db: &DbArgs, out: &Path) -> anyhow::Result<ExitCode> {
    let settings = settings_of(db)?;
    let keys = DataKeys::load(&settings.data_key).context("the data key file")?;
    if out.exists() {
        bail!(
            "{} already exists: a backup never overwrites a file",
            out.display()
        );
    }
    let mut partial = Partial {
        path: PathBuf::from(format!("{}.partial", out.display())),
        done: false,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial.path)
        .with_context(|| format!("creating {}", partial.path.display()))?;
    let created_at_us = now_us();
    let engine = match settings.database_url {
        Some(_) => "postgres",
        None => "sqlite",
    };
    let mut sealed = SealedWriter::begin(BufWriter::new(file), &keys, engine, created_at_us)?;
    match &settings.database_url {
        None => {
            let staging = tempdir_beside(out)?;
            let copied = backup::snapshot_sqlite(&settings.data_dir, &staging.0)
                .map_err(anyhow::Error::from)
                .and_then(|()| {
                    backup::write_sqlite_files(&mut sealed, &staging.0)
                        .context("writing the archive")
                });
            copied?;
        }
        Some(url) => {
            let mut child = Command::new(pg_tool("pg_dump")?)
                .args(["--format=custom", "--no-owner", "--no-privileges"])
                .arg(format!("--dbname={url}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("starting pg_dump")?;
            let copied = std::io::copy(child.stdout.as_mut().expect("piped"), &mut sealed);
            let output = child.wait_with_output().context("pg_dump")?;
            if !output.status.success() {
                bail!(
                    "pg_dump failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            copied.context("writing the archive")?;
        }
    }
    let file = sealed
        .finish()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .context("writing the archive")?;
    file.sync_all().context("syncing the archive")?;
    let bytes = file.metadata()?.len();
    std::fs::rename(&partial.path, out)
        .with_context(|| format!("renaming the archive to {}", out.display()))?;
    partial.done = true;
    let recorded = record_backup(db, &settings, out, bytes, created_at_us).await?;
    println!(
        "备份完成 backup written: {} ({bytes} bytes, {engine}, sealed with data key {}); restore needs the data key file {}",
        out.display(),
        keys.current_id(),
        settings.data_key.display()
    );
    if !recorded {
        println!(
            "服务器正在运行 a server owns the data directory: this backup is not on the audit trail (the copy is consistent all the same)"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A directory removed with what it holds when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An empty directory beside `path` (on its file system, not in memory).
fn tempdir_beside(path: &Path) -> anyhow::Result<TempDir> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path.with_file_name(format!(".{name}.{}.staging", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(TempDir(dir))
}

/// Puts the backup on the trail when this command may write (always on PostgreSQL;
/// on SQLite when no server owns the directory). Says whether it did.
async fn record_backup(
    db: &DbArgs,
    settings: &Settings,
    out: &Path,
    bytes: u64,
    created_at_us: i64,
) -> anyhow::Result<bool> {
    let store = match open(db).await {
        Ok((store, _)) => store,
        Err(e)
            if e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<gongti_store::StoreError>(),
                    Some(gongti_store::StoreError::Owned { .. })
                )
            }) =>
        {
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    let (app, writer) = audit_cli::start_app(store, settings, false, None).await?;
    app.audit_edge(AuditEntry {
        resource_id: out.file_name().map(|n| n.to_string_lossy().into_owned()),
        detail: Some(format!("{bytes} bytes, made at {}", at(created_at_us))),
        ..AuditEntry::system(created_at_us, "data.backup", "Backup")
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    drop(app);
    writer.await?;
    Ok(true)
}

fn open_archive(
    from: &Path,
    keys: &DataKeys,
) -> anyhow::Result<SealedReader<BufReader<std::fs::File>>> {
    let file = std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
    SealedReader::open(BufReader::new(file), keys)
        .with_context(|| format!("{} cannot be restored", from.display()))
}

/// `gongti restore --from FILE`, into an empty data directory or database.
pub async fn restore(db: &DbArgs, from: &Path) -> anyhow::Result<ExitCode> {
    let settings = settings_of(db)?;
    let keys = DataKeys::load(&settings.data_key)
        .context("the data key file (the archive opens only with the key it was made with)")?;
    let mut archive = open_archive(from, &keys)?;
    let header = archive.header().clone();
    let refused = |e: std::io::Error| {
        anyhow::anyhow!(
            "{} cannot be restored, nothing was restored: {e}",
            from.display()
        )
    };
    match (&settings.database_url, header.engine.as_str()) {
        (None, "sqlite") => {
            let dir = &settings.data_dir;
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            // No server may start on the directory meanwhile.
            let lock = gongti_store::owner::DirLock::take(dir)?;
            if backup::sqlite_store_present(dir) {
                bail!(
                    "{} already holds a store: restore into an empty data directory (move the old files away first)",
                    dir.display()
                );
            }
            let staging = TempDir(dir.join(format!(".restore.{}", std::process::id())));
            std::fs::create_dir_all(&staging.0)?;
            backup::read_sqlite_files(&mut archive, &staging.0).map_err(refused)?;
            for name in backup::SQLITE_FILES {
                std::fs::rename(staging.0.join(name), dir.join(name))?;
            }
            drop(lock);
        }
        (Some(url), "postgres") => {
            if !backup::postgres_is_empty(url).await? {
                bail!(
                    "the database already holds tables: restore into an empty database (createdb a new one)"
                );
            }
            // The whole archive must open before anything is restored from it.
            std::io::copy(&mut archive, &mut std::io::sink()).map_err(refused)?;
            pg_restore(url, open_archive(from, &keys)?)?;
        }
        (_, engine) => bail!(
            "this archive holds a {engine} store: restore it with {}",
            match engine {
                "sqlite" => "--data-dir",
                _ => "--database-url",
            }
        ),
    }
    let (store, _) = open(db).await?;
    let head = store.audit_head().await?;
    let (seq, hash) = head.unwrap_or((0, [0; 32]));
    // The checkpoints signed since the backup describe a history this store no longer
    // has: a signed mark says the trail goes on from here.
    let anchor = Anchor::at(&settings.audit_anchor);
    let lost = anchor
        .read()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .checkpoints
        .iter()
        .filter(|c| c.seq > seq)
        .count();
    let (key, _) =
        AuditKey::load_or_create(&settings.audit_key).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    anchor
        .append_restore(&key.sign_restore(seq, hash, now_us()))
        .with_context(|| format!("writing the restore mark to {}", anchor.path().display()))?;
    let (app, writer) = audit_cli::start_app(store, &settings, false, None).await?;
    app.audit_edge(AuditEntry {
        resource_id: from.file_name().map(|n| n.to_string_lossy().into_owned()),
        detail: Some(format!(
            "backup made at {} restored; the trail goes on from record {seq}; {lost} later checkpoints no longer count",
            at(header.created_at_us)
        )),
        ..AuditEntry::system(now_us(), "data.restore", "Backup")
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    drop(app);
    writer.await?;
    println!(
        "恢复完成 restored the backup made at {} ({}): the trail goes on from record {seq}; run `gongti audit verify`",
        at(header.created_at_us),
        header.engine
    );
    Ok(ExitCode::SUCCESS)
}

/// Streams an opened archive into `pg_restore`, one transaction.
fn pg_restore(url: &str, mut archive: impl Read) -> anyhow::Result<()> {
    let mut child = Command::new(pg_tool("pg_restore")?)
        .args([
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
        ])
        .arg(format!("--dbname={url}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting pg_restore")?;
    let mut stdin = child.stdin.take().expect("piped");
    let copied = std::io::copy(&mut archive, &mut stdin).and_then(|_| stdin.flush());
    drop(stdin);
    if let Err(e) = copied {
        let _ = child.kill();
        let output = child.wait_with_output()?;
        bail!(
            "pg_restore stopped ({e}): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let output = child.wait_with_output().context("pg_restore")?;
    if !output.status.success() {
        bail!(
            "pg_restore failed ({}), nothing was restored: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
