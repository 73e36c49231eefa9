//! One sign-in attempt, for staff and residents alike (`gongti_core::throttle`
//! decides): the source address's block is checked, the account name's attempt is
//! admitted or refused in one transaction before any password is checked, and the
//! password is checked against the account's hash — or against a decoy when the name
//! does not exist, so that the answer and its time are the same either way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use gongti_core::audit::AuditEntry;
use gongti_core::throttle::{
    Admission, SourceState, ThrottleParams, source_failed, source_may_try,
};
use sha2::{Digest, Sha256};

use crate::auth::{FAILURE_DELAY_MAX, FAILURE_DELAY_STEP, password_matches_or_decoy};
use crate::{App, AppError, AppResult};

/// Source addresses remembered at most; past this the oldest windows are forgotten.
const SOURCES_MAX: usize = 100_000;

/// Which accounts a name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    Staff,
    Resident,
}

/// The throttle's key of an account name: the kind and the name, hashed.
pub(crate) fn throttle_key(kind: AccountKind, username: &str) -> [u8; 32] {
    let tag: &[u8] = match kind {
        AccountKind::Staff => b"staff\0",
        AccountKind::Resident => b"resident\0",
    };
    let mut h = Sha256::new();
    h.update(tag);
    h.update(username.as_bytes());
    h.finalize().into()
}

/// Recent failures per source address (kept in memory, per server).
#[derive(Default)]
pub(crate) struct Sources {
    seen: Mutex<HashMap<IpAddr, SourceState>>,
}

impl Sources {
    fn may_try(&self, ip: IpAddr, now_us: i64) -> Result<(), i64> {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        source_may_try(seen.get(&ip).copied().unwrap_or_default(), now_us)
    }

    fn failed(&self, ip: IpAddr, now_us: i64, p: &ThrottleParams) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() >= SOURCES_MAX && !seen.contains_key(&ip) {
            seen.retain(|_, s| now_us - s.window_start_us < p.source_window_us);
            if seen.len() >= SOURCES_MAX {
                seen.clear();
            }
        }
        let next = source_failed(seen.get(&ip).copied().unwrap_or_default(), now_us, p);
        seen.insert(ip, next);
    }
}

/// How a checked attempt came out.
pub(crate) enum Checked {
    Right,
    /// Wrong (or no such account): answered with this error after the delay.
    Wrong(AppError),
}

/// Seconds from `now_us` until `until_us`, at least one.
pub(crate) fn retry_after_s(until_us: i64, now_us: i64) -> u64 {
    u64::try_from((until_us - now_us + 999_999) / 1_000_000)
        .unwrap_or(1)
        .max(1)
}

impl App {
    /// Decides one attempt on `username` with `password` against `phc` (the account's
    /// hash; `None` when there is no such account). A refusal is audited with
    /// `refused` (detail set here) and answered with [`AppError::Locked`].
    pub(crate) async fn check_attempt(
        &self,
        kind: AccountKind,
        username: &str,
        password: &str,
        phc: Option<&str>,
        source: Option<IpAddr>,
        mut refused: AuditEntry,
    ) -> AppResult<Checked> {
        let now_us = self.now_us();
        let params = &self.throttle;
        if let Some(ip) = source
            && let Err(until_us) = self.auth.sources.may_try(ip, now_us)
        {
            refused.detail = Some("source_blocked".into());
            self.audit.record(vec![refused]).await?;
            return Err(AppError::Locked {
                until_us,
                retry_after_s: retry_after_s(until_us, now_us),
            });
        }
        refused.detail = Some("locked".into());
        let key = throttle_key(kind, username);
        let admitted = match self
            .store
            .admit_sign_in(&key, now_us, params, std::slice::from_ref(&refused))
            .await?
        {
            Admission::Locked { until_us } => {
                self.audit.flush().await?;
                return Err(AppError::Locked {
                    until_us,
                    retry_after_s: retry_after_s(until_us, now_us),
                });
            }
            Admission::Admit(next) => next,
        };
        if password_matches_or_decoy(password, phc).await? {
            return Ok(Checked::Right);
        }
        if let Some(ip) = source {
            self.auth.sources.failed(ip, now_us, params);
        }
        // Slower after each failure, whoever the name belongs to.
        let delay = FAILURE_DELAY_STEP
            .saturating_mul(u32::try_from(admitted.failures).unwrap_or(u32::MAX))
            .min(FAILURE_DELAY_MAX);
        tokio::time::sleep(delay).await;
        Ok(Checked::Wrong(match admitted.locked_until_us {
            Some(until_us) => AppError::Locked {
                until_us,
                retry_after_s: retry_after_s(until_us, now_us),
            },
            None => AppError::Unauthenticated,
        }))
    }

    /// Lifts the lock of an account name and starts its count again (an
    /// administrator, or the command line), audited.
    pub(crate) async fn unlock_name(
        &self,
        kind: AccountKind,
        username: &str,
        entry: AuditEntry,
    ) -> AppResult<()> {
        self.store
            .unlock_sign_in(&throttle_key(kind, username), &[entry])
            .await?;
        self.audit.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_kind_and_name() {
        let a = throttle_key(AccountKind::Staff, "zhang");
        assert_ne!(a, throttle_key(AccountKind::Resident, "zhang"));
        assert_ne!(a, throttle_key(AccountKind::Staff, "zhang "));
        assert_eq!(a, throttle_key(AccountKind::Staff, "zhang"));
        assert_eq!(retry_after_s(10_000_001, 10_000_000), 1);
        assert_eq!(retry_after_s(910_000_000, 10_000_000), 900);
        assert_eq!(retry_after_s(5, 10), 1);
    }
}
