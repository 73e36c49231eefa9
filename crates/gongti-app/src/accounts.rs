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

/// A staff member's sign-in as the administrator sees it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAccount {
    pub user_id: i64,
    pub username: String,
    pub disabled: bool,
    /// A client system's sign-in (managed on the command line), not a person's.
    pub client: bool,
}

/// What an administrator does to a staff member's sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange<'a> {
    /// Opens a sign-in with a first password (the person changes it at first use).
    Open {
        username: &'a str,
        password: &'a str,
    },
    /// Sets a new password: the lock is lifted and every session of it ends.
    ResetPassword { user_id: i64, password: &'a str },
    /// Disables the sign-in for good: every session of it ends.
    Disable { user_id: i64 },
}

impl AccountChange<'_> {
    fn action(&self) -> &'static str {
        match self {
            AccountChange::Open { .. } => "user.create",
            AccountChange::ResetPassword { .. } => "user.set_password",
            AccountChange::Disable { .. } => "user.disable",
        }
    }
}

impl App {
    /// May the actor manage the sign-ins of this staff member (their institution's
    /// administrator, or the city administrator)?
    async fn may_manage_staff(&self, ctx: &Ctx, staff_id: i64) -> AppResult<bool> {
        use gongti_core::access::{RegistryAction, may_administer};
        let staff = self.store.staff_member(staff_id).await?;
        // Officers' and administrators' sign-ins (no institution) are an operator's,
        // on the command line: here no one gains another's city-wide powers.
        if staff.role.scope_level() != gongti_core::role::ScopeLevel::Institution {
            return Ok(false);
        }
        let action = match staff.institution_id {
            Some(i) => RegistryAction::ManageStaff {
                institution: gongti_core::region::InstitutionId(i),
            },
            None => RegistryAction::ManageInstitutions,
        };
        Ok(may_administer(&ctx.principal.actor(), action))
    }

    /// A staff member's sign-ins, for whoever may manage them.
    pub async fn staff_accounts(&self, ctx: &Ctx, staff_id: i64) -> AppResult<Vec<StaffAccount>> {
        if !self.may_manage_staff(ctx, staff_id).await? {
            return Err(AppError::Forbidden);
        }
        Ok(self
            .store
            .users_of_staff(staff_id)
            .await?
            .into_iter()
            .map(|u| StaffAccount {
                user_id: u.id,
                username: u.username,
                disabled: u.disabled,
                client: u.client_secret_hash.is_some(),
            })
            .collect())
    }

    /// Opens, resets or disables a staff member's sign-in (their institution's
    /// administrator or the city administrator), audited with who did it; a refusal
    /// is audited too. Client systems' sign-ins are not changed here.
    pub async fn change_staff_account(
        &self,
        ctx: &Ctx,
        staff_id: i64,
        change: AccountChange<'_>,
    ) -> AppResult<i64> {
        let mut entry = ctx
            .principal
            .audit(self.now_us(), change.action(), "User", Outcome::Ok);
        entry.request_id = ctx.request_id.clone();
        entry.detail = Some(format!("staff={staff_id}"));
        let allowed = match self.may_manage_staff(ctx, staff_id).await {
            Ok(allowed) => allowed,
            Err(e) => return Err(self.refuse(entry, e).await),
        };
        if !allowed {
            return Err(self.refuse(entry, AppError::Forbidden).await);
        }
        // The sign-in changed must be the staff member's own, and a person's.
        let target = match change {
            AccountChange::Open { .. } => None,
            AccountChange::ResetPassword { user_id, .. } | AccountChange::Disable { user_id } => {
                match self.store.user(user_id).await {
                    Ok(u) if u.staff_id == staff_id && u.client_secret_hash.is_none() => Some(u),
                    Ok(_) | Err(gongti_store::StoreError::NotFound) => {
                        return Err(self.refuse(entry, AppError::NotFound).await);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        // One's own sign-in is changed with the current password (修改密码), and an
        // administrator who disabled their own would lock the registry out.
        if target
            .as_ref()
            .is_some_and(|u| u.id == ctx.principal.user_id)
        {
            return Err(self.refuse(entry, AppError::Conflict("own_account")).await);
        }
        match (change, target) {
            (AccountChange::Open { username, password }, _) => {
                // A client system's staff row takes no person's sign-in.
                let client = match self.store.users_of_staff(staff_id).await {
                    Ok(users) => users.iter().any(|u| u.client_secret_hash.is_some()),
                    Err(e) => return Err(self.refuse(entry, e.into()).await),
                };
                if client {
                    return Err(self.refuse(entry, AppError::Forbidden).await);
                }
                if let Err(e) = crate::auth::check_password(password) {
                    return Err(self.refuse(entry, e).await);
                }
                match self
                    .insert_sign_in(username, password, staff_id, entry.clone())
                    .await
                {
                    Ok(id) => Ok(id),
                    Err(e) => Err(self.refuse(entry, e).await),
                }
            }
            (AccountChange::ResetPassword { password, .. }, Some(user)) => {
                if let Err(e) = crate::auth::check_password(password) {
                    return Err(self.refuse(entry, e).await);
                }
                entry.resource_id = Some(user.id.to_string());
                entry.detail = Some(format!("staff={staff_id} lock_cleared"));
                let key = crate::sign_in::throttle_key(AccountKind::Staff, &user.username);
                let hash = match crate::auth::hash_password_off_thread(password).await {
                    Ok(h) => h,
                    Err(e) => return Err(self.refuse(entry, e).await),
                };
                if let Err(e) = self
                    .store
                    .set_password(user.id, &hash, &key, &[entry.clone()])
                    .await
                {
                    return Err(self.refuse(entry, e.into()).await);
                }
                self.forget_sessions_of(user.id);
                self.audit.flush().await?;
                Ok(user.id)
            }
            (AccountChange::Disable { .. }, Some(user)) => {
                entry.resource_id = Some(user.id.to_string());
                if let Err(e) = self.store.disable_user(user.id, &[entry.clone()]).await {
                    return Err(self.refuse(entry, e.into()).await);
                }
                self.forget_sessions_of(user.id);
                self.audit.flush().await?;
                Ok(user.id)
            }
            _ => Err(AppError::NotFound),
        }
    }
}
