//! The registration writer: concurrent registrations are queued to one task that
//! writes whatever has gathered in one transaction (a taken ID number fails alone:
//! see `Store::insert_residents_each`) and answers every waiting request. One durable
//! commit then carries many registrations, which is what SQLite's single writer needs
//! to keep up. The registrations' audit records commit with them (staged in the
//! outbox); the registrar asks the audit writer to move them into the chain and
//! answers the batch's requests once it has, while it goes on with the next batch.

use gongti_core::audit::AuditEntry;
use gongti_core::resident::ValidResident;
use gongti_store::{ResidentRecord, Store, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::audit::AuditLog;

/// Registrations waiting before new ones wait for room.
pub const REGISTRATION_QUEUE_MAX: usize = 8_192;
/// Registrations written in one transaction at most.
pub const REGISTRATION_BATCH_MAX: usize = 512;

type Reply = Result<ResidentRecord, StoreError>;

struct Request {
    resident: ValidResident,
    home_institution_id: i64,
    now_us: i64,
    /// The registration's audit record, committed with it.
    audit: AuditEntry,
    done: oneshot::Sender<Reply>,
}

#[derive(Clone, Debug)]
pub(crate) struct Registrar {
    queue: mpsc::Sender<Request>,
}

impl Registrar {
    pub(crate) fn start(store: Store, audit: AuditLog) -> Registrar {
        let (queue, rx) = mpsc::channel(REGISTRATION_QUEUE_MAX);
        tokio::spawn(write_loop(store, audit, rx));
        Registrar { queue }
    }

    pub(crate) async fn register(
        &self,
        resident: ValidResident,
        home_institution_id: i64,
        now_us: i64,
        audit: AuditEntry,
    ) -> Reply {
        let (done, reply) = oneshot::channel();
        let stopped = || StoreError::Corrupt("the registration writer has stopped".into());
        self.queue
            .send(Request {
                resident,
                home_institution_id,
                now_us,
                audit,
                done,
            })
            .await
            .map_err(|_| stopped())?;
        reply.await.map_err(|_| stopped())?
    }
}

async fn write_loop(store: Store, audit: AuditLog, mut rx: mpsc::Receiver<Request>) {
    let mut pending: Vec<Request> = Vec::new();
    while let Some(first) = rx.recv().await {
        pending.push(first);
        while pending.len() < REGISTRATION_BATCH_MAX {
            match rx.try_recv() {
                Ok(r) => pending.push(r),
                Err(_) => break,
            }
        }
        // One timestamp per commit: the latest of the batch's request times.
        let now_us = pending.iter().map(|r| r.now_us).max().unwrap_or_default();
        let count = pending.len();
        let (rows, answers): (Vec<_>, Vec<_>) = pending
            .drain(..)
            .map(|r| ((r.resident, r.home_institution_id, r.audit), r.done))
            .unzip();
        match store.insert_residents_each(rows, now_us).await {
            Ok(results) => {
                // Answered once the registrations' records are in the chain, as every
                // write's are (none to wait for when every registration failed).
                let moved = if results.iter().any(Result::is_ok) {
                    Some(audit.flush_later().await)
                } else {
                    None
                };
                tokio::spawn(answer_when_moved(moved, answers, results));
            }
            Err(error) => {
                tracing::error!(%error, rows = count, "registration batch failed; its requests fail");
                let message = error.to_string();
                for done in answers {
                    let _ = done.send(Err(StoreError::Corrupt(message.clone())));
                }
            }
        }
    }
}

/// Answers a batch's requests once the audit writer has moved their records; a
/// registration whose record could not be moved is answered with the error (it is
/// stored, and its record is in the outbox for the writer's next sweep).
async fn answer_when_moved(
    moved: Option<crate::AppResult<oneshot::Receiver<bool>>>,
    answers: Vec<oneshot::Sender<Reply>>,
    results: Vec<Reply>,
) {
    let in_chain = match moved {
        None => true,
        Some(Ok(committed)) => committed.await.unwrap_or(false),
        Some(Err(_)) => false,
    };
    for (done, result) in answers.into_iter().zip(results) {
        let result = match result {
            Ok(_) if !in_chain => Err(StoreError::Corrupt(
                "the registration's audit record was not moved into the chain".into(),
            )),
            other => other,
        };
        let _ = done.send(result);
    }
}
