//! Residents' own sign-ins (patient accounts) and their hashed tokens.

use gongti_core::audit::AuditEntry;

use crate::outbox::{created, stage_audit};
use crate::row::RowExt;
use crate::{Result, Store, on_read, on_write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientAccount {
    pub id: i64,
    pub resident_id: i64,
    pub username: String,
    pub password_hash: String,
    pub failed_attempts: i64,
    pub locked_until_us: Option<i64>,
}

/// A presented patient token: the account and the resident, and the session's CSRF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientToken {
    pub account_id: i64,
    pub resident_id: i64,
    pub username: String,
    pub csrf: Option<String>,
    pub expires_at_us: i64,
}

/// A resident's token to store (its hash only), with the session's CSRF secret.
#[derive(Debug, Clone)]
pub struct NewPatientToken<'a> {
    pub token_hash: &'a [u8; 32],
    pub account_id: i64,
    pub csrf: Option<&'a str>,
    pub expires_at_us: i64,
}

const COLUMNS: &str = "id, resident_id, username, password_hash, failed_attempts, locked_until_us";

fn account(row: &impl RowExt) -> Result<PatientAccount> {
    Ok(PatientAccount {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        failed_attempts: row.i64("failed_attempts")?,
        locked_until_us: row.opt_i64("locked_until_us")?,
    })
}

impl Store {
    /// Opens a resident's account; a taken username or a second account for the
    /// resident is [`StoreError::Duplicate`].
    pub async fn insert_patient_account(
        &self,
        resident_id: i64,
        username: &str,
        password_hash: &str,
        staff_id: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<i64> {
        let id = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO patient_accounts (resident_id, username, password_hash, created_by_staff_id, created_at_us)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(resident_id).bind(username).bind(password_hash).bind(staff_id).bind(now_us)
            .fetch_one(&mut *tx).await?;
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            id
        });
        Ok(id)
    }

    pub async fn patient_account_by_username(
        &self,
        username: &str,
    ) -> Result<Option<PatientAccount>> {
        let sql = format!("SELECT {COLUMNS} FROM patient_accounts WHERE username = $1");
        on_write!(self, pool => {
            sqlx::query(crate::row::trusted(&sql)).bind(username).fetch_optional(pool).await?
                .as_ref().map(account).transpose()
        })
    }

    pub async fn insert_patient_token(
        &self,
        t: &NewPatientToken<'_>,
        now_us: i64,
        throttle_key: &[u8; 32],
        audit: crate::AuditFor<'_, gongti_core::throttle::NameState>,
    ) -> Result<gongti_core::throttle::NameState> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let before = crate::throttle::locked_state!(tx, throttle_key);
            sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1")
                .bind(&throttle_key[..]).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO patient_tokens (token_hash, account_id, csrf, expires_at_us, created_at_us)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&t.token_hash[..]).bind(t.account_id).bind(t.csrf).bind(t.expires_at_us).bind(now_us)
            .execute(&mut *tx).await?;
            stage_audit!(tx, &audit(&before));
            tx.commit().await?;
            Ok(before)
        })
    }

    pub async fn patient_token(&self, token_hash: &[u8; 32]) -> Result<Option<PatientToken>> {
        on_read!(self, pool => {
            sqlx::query(
                "SELECT t.account_id, a.resident_id, a.username, t.csrf, t.expires_at_us
                 FROM patient_tokens t JOIN patient_accounts a ON a.id = t.account_id WHERE t.token_hash = $1",
            )
            .bind(&token_hash[..])
            .fetch_optional(pool).await?
            .map(|row| {
                Ok(PatientToken {
                    account_id: row.i64("account_id")?,
                    resident_id: row.i64("resident_id")?,
                    username: row.text("username")?,
                    csrf: row.opt_text("csrf")?,
                    expires_at_us: row.i64("expires_at_us")?,
                })
            })
            .transpose()
        })
    }

    pub async fn delete_patient_token(
        &self,
        token_hash: &[u8; 32],
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM patient_tokens WHERE token_hash = $1")
                .bind(&token_hash[..]).execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }
}
