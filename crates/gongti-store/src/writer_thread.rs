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

use tracing::Instrument as _;

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
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (started, handle) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("gongti-writer".into())
            .spawn(move || {
                // Built and dropped on this thread, never inside the caller's runtime.
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return;
                    }
                };
                let _ = started.send(Ok(runtime.handle().clone()));
                // Runs the spawned transactions (and the tasks sqlx spawns for them,
                // such as handing its connection back) until the store is dropped.
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| StoreError::Corrupt(format!("the writer's thread: {e}")))?;
        let runtime = handle
            .recv()
            .map_err(|_| StoreError::Corrupt("the writer's thread ended at once".into()))?
            .map_err(|e| StoreError::Corrupt(format!("the writer's runtime: {e}")))?;
        Ok(WriterThread {
            runtime,
            _stop: stop,
        })
    }

    /// Runs `work` on the writer's thread, in the caller's tracing span, and answers
    /// what it did. If the caller stops waiting (a request timed out, its client went
    /// away), the work is dropped where it stands, as it would have been on the
    /// caller's thread: an open transaction rolls back. A panic in the work goes on
    /// in the caller.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        what: &'static str,
        work: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let mut task = AbortOnDrop(
            self.runtime
                .spawn(work.instrument(tracing::Span::current())),
        );
        match (&mut task.0).await {
            Ok(out) => out,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(StoreError::Corrupt(format!("{what} stopped: {e}"))),
        }
    }
}

/// A task on the writer's thread, aborted if its caller drops it before it ends.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
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
        // A panic in the work goes on in the caller; the thread runs the next work.
        let writer = std::sync::Arc::new(writer);
        let shared = std::sync::Arc::clone(&writer);
        let panicked = tokio::spawn(async move {
            let _: Result<()> = shared
                .run("panicking", async { panic!("on purpose") })
                .await;
        })
        .await;
        assert!(panicked.is_err_and(|e| e.is_panic()));
        assert_eq!(writer.run("again", async { Ok(7) }).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn work_whose_caller_stops_waiting_is_dropped_where_it_stands() {
        let writer = WriterThread::start().unwrap();
        let (held, dropped) = tokio::sync::oneshot::channel::<()>();
        let (begun, began) = tokio::sync::oneshot::channel::<()>();
        let waiting = writer.run("waiting", async move {
            // `held` is dropped with the work: `dropped` then resolves.
            let _held = held;
            let _ = begun.send(());
            std::future::pending::<Result<()>>().await
        });
        tokio::select! {
            _ = waiting => unreachable!("the work never ends by itself"),
            _ = began => {}
        }
        // The caller gave up (the `select!` dropped its future): the work is dropped.
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), dropped).await;
        assert!(matches!(outcome, Ok(Err(_))), "the work was dropped");
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
