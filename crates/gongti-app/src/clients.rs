//! Client systems (a laboratory system, an institution's data warehouse): registered
//! from the command line with the role and institution they act in and their scopes
//! (`core::scope`), they obtain tokens by OAuth 2.0 client credentials. A client is an
//! account like a person's — a staff row for its role and institution (kept out of the
//! registry's lists), a users row whose password nobody knows — so every record it
//! writes names its author, every access decision and audit is the role's, and its
//! token's scopes narrow it further to the resource types and the reading or writing
//! they name (`web::scopes` enforces them on each request).

use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::role::Role;
use gongti_core::scope::Scopes;
use gongti_store::{ClientRecord, NewStaff, TokenRecord};

use crate::auth::{API_TOKEN_TTL, USERNAME_MAX_CHARS};
use crate::{App, AppError, AppResult};

/// What registering a client asks for.
#[derive(Debug, Clone)]
pub struct ClientForm {
    pub client_id: String,
    pub name: String,
    pub role: Role,
    pub institution_id: Option<i64>,
    pub scopes: String,
}

/// A token issued to a client: shown to it once.
#[derive(Debug, Clone)]
pub struct ClientToken {
    pub token: String,
    pub expires_in_s: u64,
    /// What it was granted, canonical (`system/Patient.read …`).
    pub scopes: String,
}

/// The kind recorded on a client's tokens.
pub(crate) const CLIENT_TOKEN_KIND: &str = "client";

fn invalid(field: &'static str) -> AppError {
    AppError::Invalid(vec![gongti_core::resident::FieldProblem {
        field,
        problem: gongti_core::resident::Problem::Malformed,
    }])
}

impl App {
    /// Registers a client system (the command line); returns it with its secret,
    /// shown this once. The client id is letters, digits, `-`, `_` and `.`, and no
    /// account may have it as a username. A client acts at an institution (clinical
    /// roles, the institution administrator) or for the city (`city_officer`,
    /// `insurance_officer`); never as the city administrator or a district officer.
    pub async fn register_client(&self, form: &ClientForm) -> AppResult<(ClientRecord, String)> {
        let id = form.client_id.trim();
        let id_ok = !id.is_empty()
            && id.chars().count() <= USERNAME_MAX_CHARS
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !id_ok {
            return Err(invalid("client_id"));
        }
        let scopes = Scopes::parse(&form.scopes).map_err(|_| invalid("scopes"))?;
        let name = form.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(invalid("name"));
        }
        let needs_institution = match form.role {
            Role::CityOfficer | Role::InsuranceOfficer => false,
            Role::CityAdmin | Role::DistrictOfficer => return Err(invalid("role")),
            _ => true,
        };
        if needs_institution != form.institution_id.is_some() {
            return Err(invalid("institution_id"));
        }
        let district_code = match form.institution_id {
            Some(i) => Some(self.store.institution(i).await?.district_code),
            None => None,
        };
        let staff = NewStaff {
            name: name.to_owned(),
            role: form.role,
            institution_id: form.institution_id,
            district_code,
            department_id: None,
            licence_number: None,
            title: None,
            practice_years: 0,
        };
        // A password nobody is told: the account signs in only by its secret.
        let unknown = crate::auth::new_token().0;
        let (_, user_id) = self.create_staff_account(&staff, id, &unknown).await?;
        let secret = crate::auth::new_token().0;
        let entry = AuditEntry {
            resource_id: Some(user_id.to_string()),
            detail: Some(format!(
                "role={} scopes={}",
                form.role.code(),
                scopes.text()
            )),
            ..AuditEntry::system(self.now_us(), "client.create", "User")
        };
        self.store
            .set_client(
                user_id,
                &scopes.text(),
                &crate::auth::hash_of_token(&secret),
                &[entry],
            )
            .await?;
        self.audit.flush().await?;
        let record = ClientRecord {
            user_id,
            client_id: id.to_owned(),
            name: name.to_owned(),
            role: form.role.code().to_owned(),
            institution_id: form.institution_id,
            scopes: scopes.text(),
            disabled: false,
        };
        Ok((record, secret))
    }

    /// Every registered client (the command line's list).
    pub async fn clients(&self) -> AppResult<Vec<ClientRecord>> {
        Ok(self.store.clients().await?)
    }

    /// Disables a client and ends its tokens (the command line).
    pub async fn disable_client(&self, client_id: &str) -> AppResult<()> {
        let user = self
            .store
            .user_by_username(client_id)
            .await?
            .filter(|u| u.client_secret_hash.is_some())
            .ok_or(AppError::NotFound)?;
        let entry = AuditEntry {
            resource_id: Some(user.id.to_string()),
            ..AuditEntry::system(self.now_us(), "client.disable", "User")
        };
        self.store.disable_user(user.id, &[entry]).await?;
        self.forget_sessions_of(user.id);
        self.audit.flush().await
    }

    /// Issues a token to a client that proves its secret (OAuth 2.0 client
    /// credentials), for `scope` (all the client holds when `None`).
    /// `Unauthenticated` for an unknown or disabled client or a wrong secret;
    /// `Forbidden` for a scope that is malformed or beyond what the client holds.
    /// Every attempt is audited, without the secret.
    pub async fn client_token(
        &self,
        client_id: &str,
        secret: &str,
        scope: Option<&str>,
        request_id: Option<String>,
    ) -> AppResult<ClientToken> {
        let now_us = self.now_us();
        let user = self
            .store
            .user_by_username(client_id)
            .await?
            .filter(|u| !u.disabled && u.client_secret_hash.is_some());
        let mut entry = AuditEntry {
            actor_username: client_id.chars().take(USERNAME_MAX_CHARS).collect(),
            resource_id: user.as_ref().map(|u| u.id.to_string()),
            request_id,
            ..AuditEntry::system(now_us, "auth.client_token", "User")
        };
        let (user, held) = match user {
            Some(u)
                if u.client_secret_hash.as_ref().is_some_and(|h| {
                    gongti_core::text::constant_time_eq(h, &crate::auth::hash_of_token(secret))
                }) =>
            {
                let held = u.client_scopes.clone().unwrap_or_default();
                (u, held)
            }
            found => {
                entry.outcome = Outcome::Failed;
                entry.detail = Some(
                    if found.is_some() {
                        "wrong_secret"
                    } else {
                        "unknown_client"
                    }
                    .into(),
                );
                self.audit.record(vec![entry]).await?;
                return Err(AppError::Unauthenticated);
            }
        };
        let principal = self.principal_of(&user).await?;
        entry.actor_user_id = Some(user.id);
        entry.role = Some(principal.role.code().to_owned());
        entry.institution_id = principal.institution_id;
        let held = Scopes::parse(&held)
            .map_err(|e| anyhow::anyhow!("stored scopes of account {}: {e:?}", user.id))?;
        let granted = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(held.clone()),
            Some(asked) => match Scopes::parse(asked) {
                Ok(asked) if asked.within(&held) => Ok(asked),
                Ok(_) => Err("scope_not_held"),
                Err(_) => Err("scope_malformed"),
            },
        };
        let granted = match granted {
            Ok(g) => g,
            Err(detail) => {
                entry.outcome = Outcome::Denied;
                entry.detail = Some(detail.into());
                self.audit.record(vec![entry]).await?;
                return Err(AppError::Forbidden);
            }
        };
        let (token, hash) = crate::auth::new_token();
        let record = TokenRecord {
            user_id: user.id,
            kind: CLIENT_TOKEN_KIND.into(),
            csrf: None,
            expires_at_us: now_us + API_TOKEN_TTL.as_micros() as i64,
            scopes: Some(granted.text()),
        };
        entry.detail = Some(granted.text());
        self.store
            .insert_client_token(&hash, &record, now_us, &[entry])
            .await?;
        self.audit.flush().await?;
        Ok(ClientToken {
            token,
            expires_in_s: API_TOKEN_TTL.as_secs(),
            scopes: granted.text(),
        })
    }

    /// Audits a request refused for its token's scopes, found inside a handler (a
    /// Bundle's entry of a type the token may not write).
    pub async fn audit_scope_refusal(&self, ctx: &crate::Ctx, detail: &str) -> AppResult<()> {
        let mut e = ctx
            .principal
            .audit(self.now_us(), "request.scope", "Request", Outcome::Denied);
        e.detail = Some(detail.chars().take(200).collect());
        e.request_id = ctx.request_id.clone();
        self.audit.record(vec![e]).await
    }
}
