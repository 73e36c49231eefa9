//! Who may use a store at once.
//!
//! - An SQLite data directory has one owner: the process that opens it takes an
//!   exclusive lock on `gongti.lock` for as long as it runs ([`DirLock`]). A second
//!   server, or a command that writes (`user create`, `indicators rebuild`, `migrate`),
//!   is refused with a message naming the holder, instead of racing the owner for
//!   the audit chain. `gongti audit verify` opens the directory read-only beside it.
//! - A PostgreSQL database may be served by several servers (a city runs more than
//!   one): each holds a shared session lock ([`ServerLease`]) while it serves, and the
//!   chain stays one chain because every append takes the chain's advisory lock.
//!   Commands that must run alone (`indicators rebuild`, `restore`) take the same key
//!   exclusively ([`AloneGuard`]) and refuse while any server holds it.

use std::io::{Read, Seek, Write};
use std::path::Path;

use sqlx::Connection;
use sqlx::postgres::PgPool;

use crate::{Result, StoreError};

/// The lock file in a data directory.
pub const LOCK_FILE: &str = "gongti.lock";
/// Key of the PostgreSQL advisory lock that servers share and lone commands take.
const PG_SERVER_LEASE: i64 = 0x676f_6e67_7473;

/// The exclusive lock on a data directory, held until dropped (or the process ends:
/// the operating system releases it, so a crash leaves nothing to clean up).
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
}

impl DirLock {
    /// Takes the lock of `dir` (created when absent), or says who holds it.
    pub fn take(dir: &Path) -> Result<DirLock> {
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::Corrupt(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StoreError::Owned {
                    dir: dir.display().to_string(),
                    holder: if holder.is_empty() {
                        "pid unknown".into()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StoreError::Corrupt(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
        // Say who holds it, for the next one who asks.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "pid {}", std::process::id());
        let _ = file.flush();
        Ok(DirLock { _file: file })
    }
}

/// A server's share of a PostgreSQL database: a session advisory lock on a connection
/// of its own, held until dropped.
#[derive(Debug)]
pub struct ServerLease {
    _conn: tokio::sync::Mutex<sqlx::PgConnection>,
}

impl ServerLease {
    pub(crate) async fn take(pool: &PgPool) -> Result<ServerLease> {
        let conn = lease_connection(
            pool,
            "SELECT pg_try_advisory_lock_shared($1)",
            "serve (a command that must run alone is running)",
        )
        .await?;
        Ok(ServerLease {
            _conn: tokio::sync::Mutex::new(conn),
        })
    }
}

/// A connection of its own that took the lease with `try_lock` (shared or exclusive);
/// [`StoreError::Serving`] naming `command` when it could not.
async fn lease_connection(
    pool: &PgPool,
    try_lock: &'static str,
    command: &'static str,
) -> Result<sqlx::PgConnection> {
    let mut conn = pool.acquire().await?.detach();
    let (got,): (bool,) = sqlx::query_as(try_lock)
        .bind(PG_SERVER_LEASE)
        .fetch_one(&mut conn)
        .await?;
    if !got {
        let _ = conn.close().await;
        return Err(StoreError::Serving { command });
    }
    Ok(conn)
}

/// Held by a command that must run alone on a PostgreSQL database.
#[derive(Debug)]
pub struct AloneGuard {
    conn: Option<sqlx::PgConnection>,
}

impl AloneGuard {
    pub(crate) async fn take(pool: &PgPool, command: &'static str) -> Result<AloneGuard> {
        let conn = lease_connection(pool, "SELECT pg_try_advisory_lock($1)", command).await?;
        Ok(AloneGuard { conn: Some(conn) })
    }

    /// Releases the lock (closing the session releases it too).
    pub async fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }
}
