//! SQLite's WAL checkpoints, off the writer's path.
//!
//! A committed transaction lives in `gongti.db-wal` until a checkpoint copies its pages
//! into `gongti.db`. By default the connection whose commit takes the log past 1,000
//! pages runs that checkpoint itself, inside its commit — copying megabytes and
//! syncing the database file while the one writer is held and every other write waits.
//! An import spent about a sixth of its time so (BENCHMARKS.md, *Importing history*).
//!
//! Here the writers' connections never checkpoint (`wal_autocheckpoint=0`); a thread
//! of its own runs a `PASSIVE` checkpoint on a connection of its own every
//! [`CHECKPOINT_EVERY`]: it copies what readers no longer need without blocking
//! readers or the writer, and costs nothing when nothing was written. A crash loses
//! nothing either way: the log is durable, and SQLite replays it on the next open.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::{Result, StoreError};

/// How often the log is checkpointed.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// The writers' connections leave checkpoints to the [`Checkpointer`].
pub(crate) const WRITER_AUTOCHECKPOINT: &str = "0";

/// The thread that checkpoints the log (see the module's text); it stops when the
/// last clone of its store is dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    /// Dropped with the store: the thread then ends.
    _stop: Sender<()>,
}

impl Checkpointer {
    pub(crate) fn start(file: PathBuf) -> Result<Checkpointer> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("gongti-checkpoint".into())
            .spawn(move || checkpoint_until_stopped(&file, &stopped))
            .map_err(|e| StoreError::Corrupt(format!("the checkpointer's thread: {e}")))?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn checkpoint_until_stopped(file: &std::path::Path, stopped: &Receiver<()>) {
    let mut conn: Option<rusqlite::Connection> = None;
    loop {
        match stopped.recv_timeout(CHECKPOINT_EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            // The store is gone (its last connection checkpoints as it closes).
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        // A connection that failed is opened again at the next turn.
        if let Err(e) = checkpoint(file, &mut conn) {
            conn = None;
            tracing::warn!(error = %e, "WAL checkpoint failed; tried again shortly");
        }
    }
}

/// One `PASSIVE` checkpoint: (frames in the log, frames copied into the database).
fn checkpoint(
    file: &std::path::Path,
    conn: &mut Option<rusqlite::Connection>,
) -> rusqlite::Result<(i64, i64)> {
    let conn = match conn {
        Some(c) => c,
        empty => {
            let c = rusqlite::Connection::open_with_flags(
                file,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            c.busy_timeout(crate::SQLITE_BUSY_TIMEOUT)?;
            // The copy is synced as the writers' commits are.
            c.pragma_update(None, "synchronous", "full")?;
            empty.insert(c)
        }
    };
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `t` in the database file alone (a copy without its log): what a
    /// checkpoint has copied there; `None` while a copy cannot be read yet.
    fn rows_in_file_alone(file: &std::path::Path, copy: &std::path::Path) -> Option<i64> {
        std::fs::copy(file, copy).ok()?;
        let alone = rusqlite::Connection::open(copy).ok()?;
        let n = alone
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .ok();
        drop(alone);
        let _ = std::fs::remove_file(copy);
        n
    }

    #[test]
    fn what_the_writer_commits_reaches_the_database_file_without_its_help() {
        let dir = std::env::temp_dir().join(format!("gongti-checkpoint-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("t.db");
        let writer = rusqlite::Connection::open(&file).unwrap();
        writer.pragma_update(None, "journal_mode", "wal").unwrap();
        writer
            .pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT)
            .unwrap();
        writer
            .execute_batch(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
                 WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 20000)
                 INSERT INTO t (v) SELECT printf('%0200d', n) FROM k;",
            )
            .unwrap();
        // The writer did not checkpoint: well over the default 1,000 pages wait in
        // the log, and the database file alone has no rows yet.
        let wal_bytes = std::fs::metadata(dir.join("t.db-wal")).unwrap().len();
        assert!(wal_bytes > 1_000 * 4096, "{wal_bytes} bytes in the log");
        let copy = dir.join("copy.db");
        assert_ne!(rows_in_file_alone(&file, &copy), Some(20_000));
        let checkpointer = Checkpointer::start(file.clone()).unwrap();
        // Within a few turns the database file holds every row.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut copied = None;
        while copied != Some(20_000) && std::time::Instant::now() < deadline {
            std::thread::sleep(CHECKPOINT_EVERY);
            copied = rows_in_file_alone(&file, &copy);
        }
        assert_eq!(copied, Some(20_000), "the checkpointer copied the log");
        drop(checkpointer);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
