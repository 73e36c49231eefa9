//! Sign-ins: users, their failed-attempt counters, and hashed session / API tokens.

use gongti_core::audit::AuditEntry;
use gongti_core::throttle::NameState;

use crate::outbox::{created, stage_audit};
use crate::row::{RowExt, trusted};
use crate::{Result, Store, StoreError, on_read, on_write};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    /// An argon2 PHC string; never a password.
    pub password_hash: String,
    pub staff_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub staff_id: i64,
    pub failed_attempts: i64,
    pub locked_until_us: Option<i64>,
    pub disabled: bool,
    /// A client system's scopes (`Scopes::text`); `None` for a person.
    pub client_scopes: Option<String>,
    /// A client system's secret, hashed.
    pub client_secret_hash: Option<[u8; 32]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub user_id: i64,
    /// `api` or `session`.
    pub kind: String,
    pub csrf: Option<String>,
    pub expires_at_us: i64,
    /// A client system's token: the scopes it was granted.
    pub scopes: Option<String>,
}

/// A client system as listed: its account and staff row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub user_id: i64,
    pub client_id: String,
    pub name: String,
    pub role: String,
    pub institution_id: Option<i64>,
    pub scopes: String,
    pub disabled: bool,
}

const USER_COLUMNS: &str = "id, username, password_hash, staff_id, failed_attempts, locked_until_us, disabled, \
    client_scopes, client_secret_hash";

fn user(row: &impl RowExt) -> Result<UserRecord> {
    Ok(UserRecord {
        id: row.i64("id")?,
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        staff_id: row.i64("staff_id")?,
        failed_attempts: row.i64("failed_attempts")?,
        locked_until_us: row.opt_i64("locked_until_us")?,
        disabled: row.bool("disabled")?,
        client_scopes: row.opt_text("client_scopes")?,
        client_secret_hash: match row.opt_bytes("client_secret_hash")? {
            Some(b) => Some(
                b.try_into()
                    .map_err(|_| StoreError::Corrupt("client_secret_hash".into()))?,
            ),
            None => None,
        },
    })
}

impl Store {
    pub async fn insert_user(
        &self,
        new: &NewUser,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<i64> {
        let id = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO users (username, password_hash, staff_id, created_at_us) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(&new.username).bind(&new.password_hash).bind(new.staff_id).bind(now_us)
            .fetch_one(&mut *tx).await?;
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            id
        });
        Ok(id)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(username).fetch_optional(pool).await?.as_ref().map(user).transpose()
        })
    }

    pub async fn user(&self, id: i64) -> Result<UserRecord> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        on_read!(self, pool => {
            user(&sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?.ok_or(StoreError::NotFound)?)
        })
    }

    /// A staff member's sign-ins, in the order opened.
    pub async fn users_of_staff(&self, staff_id: i64) -> Result<Vec<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE staff_id = $1 ORDER BY id");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(staff_id).fetch_all(pool).await?.iter().map(user).collect()
        })
    }

    pub async fn user_count(&self) -> Result<i64> {
        let (n,): (i64,) = on_read!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(pool).await)?;
        Ok(n)
    }

    /// Sets a new password hash, clears the failure count and lock, and ends every
    /// token the old password opened, in one transaction.
    pub async fn set_password(
        &self,
        user_id: i64,
        password_hash: &str,
        throttle_key: &[u8; 32],
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1")
                .bind(&throttle_key[..]).execute(&mut *tx).await?;
            let done = sqlx::query("UPDATE users SET password_hash = $1, failed_attempts = 0, locked_until_us = NULL WHERE id = $2")
                .bind(password_hash).bind(user_id).execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("DELETE FROM tokens WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn insert_token(
        &self,
        token_hash: &[u8; 32],
        record: &TokenRecord,
        now_us: i64,
        throttle_key: &[u8; 32],
        audit: crate::AuditFor<'_, NameState>,
    ) -> Result<NameState> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            // A successful sign-in ends the name's run of failures; what it was is the
            // notice the person gets.
            let before = crate::throttle::locked_state!(tx, throttle_key);
            sqlx::query("DELETE FROM sign_in_throttle WHERE key = $1")
                .bind(&throttle_key[..]).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO tokens (token_hash, user_id, kind, csrf, expires_at_us, created_at_us) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(token_hash.as_slice()).bind(record.user_id).bind(&record.kind).bind(&record.csrf)
            .bind(record.expires_at_us).bind(now_us)
            .execute(&mut *tx).await?;
            stage_audit!(tx, &audit(&before));
            tx.commit().await?;
            Ok(before)
        })
    }

    pub async fn token(&self, token_hash: &[u8; 32]) -> Result<Option<TokenRecord>> {
        on_read!(self, pool => {
            let row = sqlx::query("SELECT user_id, kind, csrf, expires_at_us, scopes FROM tokens WHERE token_hash = $1")
                .bind(token_hash.as_slice()).fetch_optional(pool).await?;
            row.map(|r| Ok(TokenRecord {
                user_id: r.i64("user_id")?,
                kind: r.text("kind")?,
                csrf: r.opt_text("csrf")?,
                expires_at_us: r.i64("expires_at_us")?,
                scopes: r.opt_text("scopes")?,
            })).transpose()
        })
    }

    /// Makes an account a client system's: its scopes and its secret's hash.
    pub async fn set_client(
        &self,
        user_id: i64,
        scopes: &str,
        secret_hash: &[u8; 32],
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE users SET client_scopes = $2, client_secret_hash = $3 WHERE id = $1")
                .bind(user_id).bind(scopes).bind(secret_hash.as_slice()).execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every client system with its staff row, in the order registered.
    pub async fn clients(&self) -> Result<Vec<ClientRecord>> {
        on_read!(self, pool => {
            sqlx::query(
                "SELECT u.id, u.username, s.name, s.role, s.institution_id, u.client_scopes, u.disabled
                 FROM users u JOIN staff s ON s.id = u.staff_id WHERE u.client_secret_hash IS NOT NULL ORDER BY u.id",
            )
            .fetch_all(pool).await?.iter().map(|r| Ok(ClientRecord {
                user_id: r.i64("id")?,
                client_id: r.text("username")?,
                name: r.text("name")?,
                role: r.text("role")?,
                institution_id: r.opt_i64("institution_id")?,
                scopes: r.text("client_scopes")?,
                disabled: r.bool("disabled")?,
            })).collect()
        })
    }

    /// Disables an account and ends every token it holds, in one transaction.
    pub async fn disable_user(&self, user_id: i64, audit: &[AuditEntry]) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE users SET disabled = TRUE WHERE id = $1").bind(user_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM tokens WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Stores a client system's token with the scopes it was granted.
    pub async fn insert_client_token(
        &self,
        token_hash: &[u8; 32],
        record: &TokenRecord,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO tokens (token_hash, user_id, kind, csrf, expires_at_us, created_at_us, scopes) VALUES ($1, $2, $3, NULL, $4, $5, $6)",
            )
            .bind(token_hash.as_slice()).bind(record.user_id).bind(&record.kind)
            .bind(record.expires_at_us).bind(now_us).bind(&record.scopes)
            .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn delete_token(&self, token_hash: &[u8; 32], audit: &[AuditEntry]) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM tokens WHERE token_hash = $1").bind(token_hash.as_slice()).execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes expired tokens; returns how many.
    pub async fn purge_expired_tokens(&self, now_us: i64) -> Result<u64> {
        let done = on_write!(self, pool => {
            sqlx::query("DELETE FROM tokens WHERE expires_at_us <= $1").bind(now_us).execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(done)
    }
}
