//! Sign-in locks from the city administrator's side (DOMAIN.md §10, docs/access.md):
//! which staff accounts are locked now, and lifting the lock of a staff or resident
//! account. The person is still told of the failures at their next sign-in.

use std::collections::HashMap;

use gongti_core::audit::Outcome;
use gongti_core::role::Role;

pub use crate::sign_in::AccountKind;
use crate::sign_in::throttle_key;
use crate::{App, AppError, AppResult, Ctx};

/// A staff account locked now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedAccount {
    pub username: String,
    /// The staff member's name.
    pub name: String,
    pub locked_until_us: i64,
    /// Failed attempts in the run that locked it.
    pub failures: i64,
}

/// Only the city administrator manages sign-ins.
fn may_manage(ctx: &Ctx) -> AppResult<()> {
    match ctx.principal.role {
        Role::CityAdmin => Ok(()),
        _ => Err(AppError::Forbidden),
    }
}

impl App {
    /// The staff accounts locked now, soonest unlocked first.
    pub async fn locked_accounts(&self, ctx: &Ctx) -> AppResult<Vec<LockedAccount>> {
        may_manage(ctx)?;
        let locked: HashMap<[u8; 32], _> = self
            .store
            .locked_sign_in_names(self.now_us())
            .await?
            .into_iter()
            .collect();
        if locked.is_empty() {
            return Ok(Vec::new());
        }
        let mut accounts: Vec<LockedAccount> = self
            .store
            .staff_usernames()
            .await?
            .into_iter()
            .filter_map(|(username, name)| {
                let state = locked.get(&throttle_key(AccountKind::Staff, &username))?;
                Some(LockedAccount {
                    username,
                    name,
                    locked_until_us: state.locked_until_us.unwrap_or_default(),
                    failures: state.failures,
                })
            })
            .collect();
        accounts.sort_by_key(|a| a.locked_until_us);
        Ok(accounts)
    }

    /// Lifts the lock of an account, audited with who lifted it; an unknown name is
    /// [`AppError::NotFound`] (audited too).
    pub async fn unlock_account(
        &self,
        ctx: &Ctx,
        kind: AccountKind,
        username: &str,
    ) -> AppResult<()> {
        let (action, resource_type) = match kind {
            AccountKind::Staff => ("user.unlock", "User"),
            AccountKind::Resident => ("patient_account.unlock", "PatientAccount"),
        };
        let mut entry = ctx
            .principal
            .audit(self.now_us(), action, resource_type, Outcome::Ok);
        entry.request_id = ctx.request_id.clone();
        if let Err(e) = may_manage(ctx) {
            return Err(self.refuse(entry, e).await);
        }
        let id = match kind {
            AccountKind::Staff => self.store.user_by_username(username).await?.map(|u| u.id),
            AccountKind::Resident => self
                .store
                .patient_account_by_username(username)
                .await?
                .map(|a| a.id),
        };
        let Some(id) = id else {
            return Err(self.refuse(entry, AppError::NotFound).await);
        };
        entry.resource_id = Some(id.to_string());
        entry.detail = Some("lock_cleared".into());
        self.unlock_name(kind, username, entry).await
    }
}
