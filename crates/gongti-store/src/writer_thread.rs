//! SQLite's long write transactions, driven from a thread of their own.
//!
//! A transaction through sqlx's one writer connection is a series of round trips to
//! sqlx's worker thread: each statement is handed over, and the transaction goes on
//! only when the task that holds it is polled again. Driven from tokio's worker
//! threads, that poll waits until a worker is free — behind the JSON of other
//! requests on a busy server — while the database's one writer stays taken and every
//! other write queues behind it. An import of 50 residents' history made about thirty
//! round trips and spent half its time so (BENCHMARKS.md, *Importing history*).
//!
//! [`WriterThread`] is a thread with a single-threaded tokio runtime that runs these
//! transactions and nothing else, so each answer from sqlx's worker is taken up at
//! once; the operating system shares the cores between it and tokio's workers. The
//! database still has one writer: the transactions it runs take the write pool's one
//! connection as any other writer does.

use std::future::Future;

use crate::{Result, StoreError};

/// A thread that runs write transactions (see the module's text); it ends when the
/// last clone of its store is dropped.
#[derive(Debug)]
pub(crate) struct WriterThread {
    runtime: tokio::runtime::Handle,
    /// Dropped with the store: the thread's runtime then stops.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WriterThread {
    pub(crate) fn start() -> Result<WriterThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Corrupt(format!("the writer's runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("gongti-writer".into())
            .spawn(move || {
                // Runs the spawned transactions (and the tasks sqlx spawns for them,
                // such as handing its connection back) until the store is dropped.
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| StoreError::Corrupt(format!("the writer's thread: {e}")))?;
        Ok(WriterThread {
            runtime: handle,
            _stop: stop,
        })
    }

    /// Runs `work` on the writer's thread and answers what it did. The work goes on to
    /// its end even if the caller stops waiting: a transaction is committed or rolled
    /// back whole, never left half-way.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.runtime
            .spawn(work)
            .await
            .map_err(|e| StoreError::Corrupt(format!("{what} stopped: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_writers_thread_and_its_error_comes_back() {
        let writer = WriterThread::start().unwrap();
        let name = writer
            .run("naming", async {
                Ok(std::thread::current().name().map(str::to_owned))
            })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("gongti-writer"));
        let refused: Result<()> = writer
            .run("refusing", async { Err(StoreError::NotFound) })
            .await;
        assert!(matches!(refused, Err(StoreError::NotFound)));
        // A panic in the work is an error of the call, not of the thread: the next
        // work still runs.
        let panicked: Result<()> = writer
            .run("panicking", async { panic!("on purpose") })
            .await;
        assert!(
            matches!(panicked, Err(StoreError::Corrupt(m)) if m.starts_with("panicking stopped"))
        );
        assert_eq!(writer.run("again", async { Ok(7) }).await.unwrap(), 7);
    }

    #[test]
    fn the_thread_ends_with_its_store() {
        let writer = WriterThread::start().unwrap();
        let handle = writer.runtime.clone();
        drop(writer);
        // The runtime has shut down: work spawned on it now is cancelled at once.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let outcome = rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(10), async {
                loop {
                    match handle.spawn(async {}).await {
                        Err(e) if e.is_cancelled() => return true,
                        _ => tokio::task::yield_now().await,
                    }
                }
            })
            .await
        });
        assert_eq!(outcome, Ok(true));
    }
}
