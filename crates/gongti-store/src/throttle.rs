//! Sign-in throttling state per account name (`gongti_core::throttle` decides): each
//! attempt is admitted or refused in one transaction that holds the name's row, so
//! concurrent attempts are decided one after the other.

use gongti_core::audit::AuditEntry;
use gongti_core::throttle::{Admission, NameState, ThrottleParams, admit};

use crate::outbox::stage_audit;
use crate::row::RowExt;
use crate::{Result, Store, on_read, on_write};

/// Creates a name's row when absent and returns its state, locking the row on
/// PostgreSQL (the upsert takes the row lock). One statement, so a row deleted by a
/// concurrent success between "create" and "read" cannot go missing.
pub(crate) const LOCK_STATE: &str =
    "INSERT INTO sign_in_throttle (key, failures, failures_since_success) VALUES ($1, 0, 0)
     ON CONFLICT (key) DO UPDATE SET failures = sign_in_throttle.failures
     RETURNING failures, locked_until_us, failures_since_success, last_failure_at_us";

pub(crate) fn state_of(row: &impl RowExt) -> Result<NameState> {
    Ok(NameState {
        failures: row.i64("failures")?,
        locked_until_us: row.opt_i64("locked_until_us")?,
        failures_since_success: row.i64("failures_since_success")?,
        last_failure_at_us: row.opt_i64("last_failure_at_us")?,
    })
}

/// Reads a name's state inside a write transaction `$tx`, creating it when absent and
/// holding its row until the transaction ends (on SQLite the one writer connection
/// runs transactions one after the other).
macro_rules! locked_state {
    ($tx:ident, $key:expr) => {{
        let row = sqlx::query($crate::throttle::LOCK_STATE)
            .bind(&$key[..])
            .fetch_one(&mut *$tx)
            .await?;
        $crate::throttle::state_of(&row)?
    }};
}
pub(crate) use locked_state;

impl Store {
    /// Admits or refuses a sign-in attempt on the name whose key is `key`, and stores
    /// the new state; `refused` (the refusal's audit records) commits with it when
    /// the name is locked.
    pub async fn admit_sign_in(
        &self,
        key: &[u8; 32],
        now_us: i64,
        params: &ThrottleParams,
        refused: &[AuditEntry],
    ) -> Result<Admission> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let state = locked_state!(tx, key);
            let decided = admit(state, now_us, params);
            match decided {
                Admission::Admit(next) => {
                    sqlx::query(
                        "UPDATE sign_in_throttle SET failures = $2, locked_until_us = $3,
                             failures_since_success = $4, last_failure_at_us = $5 WHERE key = $1",
                    )
                    .bind(&key[..]).bind(next.failures).bind(next.locked_until_us)
                    .bind(next.failures_since_success).bind(next.last_failure_at_us)
                    .execute(&mut *tx).await?;
                }
                Admission::Locked { .. } => stage_audit!(tx, refused),
            }
            tx.commit().await?;
            Ok(decided)
        })
    }

    /// Starts the count of a name again after its password was given right outside a
    /// sign-in (re-entered to sign a prescription): the attempt was counted when it
    /// was admitted, as every attempt is.
    pub async fn sign_in_confirmed(&self, key: &[u8; 32]) -> Result<()> {
        on_write!(self, pool => {
            sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1")
                .bind(&key[..]).execute(pool).await?;
        });
        Ok(())
    }

    /// The names locked at `now_us` (their keys), with their state.
    pub async fn locked_sign_in_names(&self, now_us: i64) -> Result<Vec<([u8; 32], NameState)>> {
        on_read!(self, pool => {
            let rows = sqlx::query(
                "SELECT key, failures, locked_until_us, failures_since_success, last_failure_at_us
                 FROM sign_in_throttle WHERE locked_until_us > $1 ORDER BY locked_until_us",
            )
            .bind(now_us)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let key = <[u8; 32]>::try_from(row.bytes("key")?.as_slice()).map_err(|_| {
                        crate::StoreError::Corrupt("a throttle key is not 32 bytes".into())
                    })?;
                    Ok((key, state_of(row)?))
                })
                .collect()
        })
    }

    /// Every staff sign-in: username and the staff member's name.
    pub async fn staff_usernames(&self) -> Result<Vec<(String, String)>> {
        on_read!(self, pool => sqlx::query_as(
            "SELECT u.username, s.name FROM users u JOIN staff s ON s.id = u.staff_id ORDER BY u.username",
        )
        .fetch_all(pool)
        .await)
        .map_err(Into::into)
    }

    /// Lifts the lock of a name and starts its count again (an administrator's
    /// unlock); the failures since the last success stay, for the notice at the next.
    pub async fn unlock_sign_in(&self, key: &[u8; 32], audit: &[AuditEntry]) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE sign_in_throttle SET failures = 0, locked_until_us = NULL WHERE key = $1")
                .bind(&key[..]).execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
}
