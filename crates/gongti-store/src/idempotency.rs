//! Idempotency keys: the first request with a key runs and its answer is kept; a
//! repeat with the same key and the same request gets that answer; the same key with
//! another request is refused. The web edge decides what a request and an answer are;
//! here they are a fingerprint and opaque bytes.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::row::RowExt;
use crate::{Result, Store, on_write};

/// Every this many new keys, expired ones are deleted.
const PURGE_EVERY: u64 = 256;
static STARTED: AtomicU64 = AtomicU64::new(0);

/// What a request with an idempotency key finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotentStart {
    /// The first with this key: run it, then [`Store::idempotency_finish`].
    Fresh,
    /// Answered before: give the same answer.
    Answered { status: u16, answer: Vec<u8> },
    /// The key was used for another request.
    Mismatch,
    /// The first request with this key has not finished (or never did).
    InProgress,
}

/// The keyed hash's domain for request fingerprints.
const FINGERPRINT_DOMAIN: &str = "idempotency.fingerprint";

impl Store {
    /// Claims `key` for `scope` (who sends it) with the request's `fingerprint`; a
    /// claim older than `keep_us` has expired and is replaced.
    pub async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &[u8; 32],
        now_us: i64,
        keep_us: i64,
    ) -> Result<IdempotentStart> {
        // Kept keyed: a request's body may hold a password (opening a resident's
        // account, changing one's own), and a plain digest kept for a day would let a
        // reader of the database test guesses of it at SHA-256's speed.
        let fingerprint = &self.keys.keyed_hash(FINGERPRINT_DOMAIN, fingerprint);
        let purge = STARTED
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PURGE_EVERY);
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            if purge {
                sqlx::query("DELETE FROM idempotency_keys WHERE created_at_us < $1")
                    .bind(now_us - keep_us).execute(&mut *tx).await?;
            }
            sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at_us < $3")
                .bind(scope).bind(key).bind(now_us - keep_us).execute(&mut *tx).await?;
            let claimed = sqlx::query(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at_us) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (scope, key) DO NOTHING",
            )
            .bind(scope).bind(key).bind(&fingerprint[..]).bind(now_us)
            .execute(&mut *tx).await?;
            let start = if claimed.rows_affected() == 1 {
                IdempotentStart::Fresh
            } else {
                let row = sqlx::query(
                    "SELECT fingerprint, status, answer FROM idempotency_keys WHERE scope = $1 AND key = $2",
                )
                .bind(scope).bind(key)
                .fetch_one(&mut *tx).await?;
                let stored = row.bytes("fingerprint")?;
                match (stored.as_slice() == fingerprint, row.opt_i64("status")?) {
                    (false, _) => IdempotentStart::Mismatch,
                    (true, None) => IdempotentStart::InProgress,
                    (true, Some(status)) => IdempotentStart::Answered {
                        status: u16::try_from(status).unwrap_or(500),
                        answer: self.open_sealed(&row.bytes("answer")?)?,
                    },
                }
            };
            tx.commit().await?;
            Ok(start)
        })
    }

    /// Keeps the answer to the first request with `key`.
    pub async fn idempotency_finish(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        answer: &[u8],
    ) -> Result<()> {
        let sealed = self.seal(answer)?;
        on_write!(self, pool => {
            sqlx::query("UPDATE idempotency_keys SET status = $3, answer = $4 WHERE scope = $1 AND key = $2")
                .bind(scope).bind(key).bind(i64::from(status)).bind(&sealed[..])
                .execute(pool).await?;
        });
        Ok(())
    }

    /// Forgets a claim whose request never reached a use case (refused at the door),
    /// so that the key may be used again.
    pub async fn idempotency_release(&self, scope: &str, key: &str) -> Result<()> {
        on_write!(self, pool => {
            sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL")
                .bind(scope).bind(key).execute(pool).await?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::DataKeys;
    use crate::on_read;

    #[tokio::test]
    async fn a_fingerprint_is_kept_keyed_and_still_matched() {
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "gongti-test-idempotency-{}",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        let store = Store::open_sqlite(&dir, DataKeys::generate())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let digest = [7u8; 32];
        let (now, keep) = (1_000_000, 86_400_000_000);
        let first = store.idempotency_begin("u1", "k", &digest, now, keep).await;
        assert!(matches!(first, Ok(IdempotentStart::Fresh)));
        let (kept,): (Vec<u8>,) = on_read!(store, pool => {
            sqlx::query_as("SELECT fingerprint FROM idempotency_keys WHERE key = 'k'").fetch_one(pool).await
        })
        .unwrap();
        assert_ne!(kept, digest, "the digest itself is not kept");
        assert_eq!(kept, store.keys.keyed_hash(FINGERPRINT_DOMAIN, &digest));
        let again = store.idempotency_begin("u1", "k", &digest, now, keep).await;
        assert!(matches!(again, Ok(IdempotentStart::InProgress)));
        let other = store
            .idempotency_begin("u1", "k", &[8u8; 32], now, keep)
            .await;
        assert!(matches!(other, Ok(IdempotentStart::Mismatch)));
        std::fs::remove_dir_all(&dir).ok();
    }
}
