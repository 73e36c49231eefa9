//! Sign-in and sessions: argon2 password hashes, failed-attempt slow-down and lockout,
//! and opaque random tokens stored only as their SHA-256 hash.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use gongti_core::access::Actor;
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::problem::username_problem;
use gongti_core::region::{DistrictCode, InstitutionId};
use gongti_core::resident::{FieldProblem, Problem};
use gongti_core::role::Role;
use gongti_store::{NewUser, StoreError, TokenRecord, UserRecord};
use sha2::{Digest, Sha256};

use crate::{App, AppError, AppResult};

/// Extra delay per consecutive failure before a failed sign-in is answered.
pub const FAILURE_DELAY_STEP: Duration = Duration::from_millis(250);
pub const FAILURE_DELAY_MAX: Duration = Duration::from_secs(2);
/// Lifetime of an API bearer token.
pub const API_TOKEN_TTL: Duration = Duration::from_secs(60 * 60);
/// Lifetime of a console session.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const USERNAME_MAX_CHARS: usize = 64;
/// Tokens remembered in memory at most; past this the cache is emptied and refilled.
const TOKEN_CACHE_MAX: usize = 100_000;
/// A cached token is looked up again after this long: another server sharing the
/// database may have revoked it (sign-out, a new password), and the revocation
/// reaches every server within this time.
pub const TOKEN_CACHE_RECHECK: Duration = Duration::from_secs(5);

/// A signed-in person: the user, their staff record and where they work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub staff_id: i64,
    pub staff_name: String,
    pub role: Role,
    pub institution_id: Option<i64>,
    pub district_code: Option<String>,
    /// A client system's scopes (what its token was granted); `None` for a person,
    /// whose role alone decides.
    pub scopes: Option<gongti_core::scope::Scopes>,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor {
            role: self.role,
            institution: self.institution_id.map(InstitutionId),
            district: self
                .district_code
                .as_deref()
                .and_then(|d| DistrictCode::parse(d).ok()),
        }
    }

    /// An audit entry with this principal as the actor.
    pub(crate) fn audit(
        &self,
        at_us: i64,
        action: &str,
        resource_type: &str,
        outcome: Outcome,
    ) -> AuditEntry {
        AuditEntry {
            at_us,
            actor_user_id: Some(self.user_id),
            actor_username: self.username.clone(),
            role: Some(self.role.code().to_owned()),
            institution_id: self.institution_id,
            action: action.to_owned(),
            resource_type: resource_type.to_owned(),
            resource_id: None,
            patient_id: None,
            reason: None,
            outcome,
            detail: None,
            request_id: None,
        }
    }
}

/// The kind of token: an API bearer token or a console session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Api,
    Session,
}

impl TokenKind {
    fn code(self) -> &'static str {
        match self {
            TokenKind::Api => "api",
            TokenKind::Session => "session",
        }
    }
    fn ttl(self) -> Duration {
        match self {
            TokenKind::Api => API_TOKEN_TTL,
            TokenKind::Session => SESSION_TTL,
        }
    }
}

/// What a successful sign-in hands back. The token is shown to the client once.
#[derive(Debug, Clone)]
pub struct SignInOutcome {
    pub token: String,
    pub csrf: Option<String>,
    pub expires_in_s: u64,
    pub principal: Principal,
    pub notice: Option<SignInNotice>,
}

/// Failed attempts on the account since its last successful sign-in: the person is
/// told, so that a lock or a guessing attempt is never silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInNotice {
    pub failed_attempts: i64,
    pub last_failed_at_us: i64,
}

impl SignInNotice {
    pub(crate) fn of(state: &gongti_core::throttle::NameState) -> Option<SignInNotice> {
        gongti_core::throttle::succeeded(*state)
            .0
            .map(|(failed_attempts, last_failed_at_us)| SignInNotice {
                failed_attempts,
                last_failed_at_us,
            })
    }
}

/// A resolved token: who it is and, for sessions, the CSRF secret.
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    pub kind: TokenKind,
    pub csrf: Option<String>,
    expires_at_us: i64,
}

#[derive(Default)]
pub(crate) struct AuthState {
    tokens: RwLock<HashMap<[u8; 32], (Session, std::time::Instant)>>,
    pub(crate) sources: crate::sign_in::Sources,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("random salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?
        .to_string())
}

fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// A hash nobody's password matches, verified for unknown usernames so that their
/// answer takes as long as a wrong password's.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_token()).expect("decoy hash"))
}

/// Checks a new password against the policy.
pub fn check_password(password: &str) -> AppResult<()> {
    let chars = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        return Err(AppError::Invalid(vec![FieldProblem {
            field: "password",
            problem: Problem::Length {
                min_chars: PASSWORD_MIN_CHARS,
                max_chars: PASSWORD_MAX_CHARS,
            },
        }]));
    }
    Ok(())
}

/// Checks a password against an account's hash, or — when there is no account —
/// against a decoy, so that both take as long (argon2 off the async threads).
/// [`hash_password`] on tokio's blocking pool: argon2 takes tens of milliseconds of
/// CPU, which a thread that serves requests must not spend.
pub(crate) async fn hash_password_off_thread(password: &str) -> AppResult<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(anyhow::Error::new)?
}

/// A staff member's change of their own password, as typed in the form.
#[derive(Debug, Clone, Copy)]
pub struct PasswordChange<'a> {
    pub current: &'a str,
    pub new: &'a str,
    /// The new password typed again.
    pub again: &'a str,
}

pub(crate) async fn password_matches_or_decoy(
    password: &str,
    phc: Option<&str>,
) -> AppResult<bool> {
    let (pw, phc) = (password.to_owned(), phc.map(str::to_owned));
    let matches = tokio::task::spawn_blocking(move || match phc {
        Some(phc) => password_matches(&pw, &phc),
        None => {
            password_matches(&pw, decoy_hash());
            false
        }
    })
    .await
    .map_err(anyhow::Error::new)?;
    Ok(matches)
}

pub(crate) fn new_token() -> (String, [u8; 32]) {
    let token = random_token();
    let hash = token_hash(&token);
    (token, hash)
}

pub(crate) fn hash_of_token(token: &str) -> [u8; 32] {
    token_hash(token)
}

impl App {
    /// Creates a staff member with a sign-in, from the command line (the city
    /// administrator on first start, `gongti user create`): each write audited.
    pub async fn create_staff_account(
        &self,
        staff: &gongti_store::NewStaff,
        username: &str,
        password: &str,
    ) -> AppResult<(i64, i64)> {
        check_password(password)?;
        if self
            .store
            .user_by_username(username.trim())
            .await?
            .is_some()
        {
            return Err(AppError::Conflict("username_taken"));
        }
        let mut entry = self.system_entry("staff.create", None, "command line");
        entry.resource_type = "Staff".into();
        let record = self
            .store
            .insert_staff(staff, self.now_us(), &[entry])
            .await?;
        let user = self.create_user(username, password, record.id).await?;
        Ok((record.id, user))
    }

    /// Creates a sign-in for an existing staff member.
    pub async fn create_user(
        &self,
        username: &str,
        password: &str,
        staff_id: i64,
    ) -> AppResult<i64> {
        check_password(password)?;
        let entry = self.system_entry("user.create", None, &format!("staff={staff_id}"));
        self.insert_sign_in(username, password, staff_id, entry)
            .await
    }

    /// Stores a sign-in with its audit record (the password already checked).
    pub(crate) async fn insert_sign_in(
        &self,
        username: &str,
        password: &str,
        staff_id: i64,
        entry: AuditEntry,
    ) -> AppResult<i64> {
        let username = username.trim();
        if let Some(problem) = username_problem(username, USERNAME_MAX_CHARS) {
            return Err(AppError::Invalid(vec![FieldProblem {
                field: "username",
                problem,
            }]));
        }
        let hash = hash_password_off_thread(password).await?;
        let new = NewUser {
            username: username.to_owned(),
            password_hash: hash,
            staff_id,
        };
        let id = match self.store.insert_user(&new, self.now_us(), &[entry]).await {
            Err(StoreError::Duplicate(_)) => return Err(AppError::Conflict("username_taken")),
            Err(StoreError::MissingReference(_)) => return Err(AppError::NotFound),
            other => other?,
        };
        self.audit.flush().await?;
        Ok(id)
    }

    pub async fn set_password(&self, username: &str, password: &str) -> AppResult<()> {
        check_password(password)?;
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or(AppError::NotFound)?;
        // A new password ends every session and token the old one opened.
        let entry = self.system_entry("user.set_password", Some(user.id), "lock_cleared");
        let key = crate::sign_in::throttle_key(crate::sign_in::AccountKind::Staff, &user.username);
        self.store
            .set_password(user.id, &hash_password(password)?, &key, &[entry])
            .await?;
        self.forget_sessions_of(user.id);
        self.audit.flush().await
    }

    /// A staff member changes their own password (修改密码). The new one must be
    /// typed twice alike and pass the password rules; the current one is checked as a
    /// sign-in is — throttled, counted toward the lock, audited — so a session left
    /// open cannot be used to guess it. Every session and token of the account ends,
    /// this one too. Each refusal is audited.
    pub async fn change_own_password(
        &self,
        ctx: &crate::Ctx,
        change: &PasswordChange<'_>,
        source: Option<std::net::IpAddr>,
    ) -> AppResult<()> {
        let p = &ctx.principal;
        let entry = |outcome: Outcome, detail: &str| {
            let mut e = p.audit(self.now_us(), "user.change_password", "User", outcome);
            e.resource_id = Some(p.user_id.to_string());
            e.detail = Some(detail.into());
            e.request_id = ctx.request_id.clone();
            e
        };
        let rules = if change.new != change.again {
            Err(AppError::Invalid(vec![FieldProblem {
                field: "confirm_password",
                problem: Problem::Inconsistent {
                    with: "new_password",
                },
            }]))
        } else {
            check_password(change.new).map_err(|e| match e {
                AppError::Invalid(problems) => AppError::Invalid(
                    problems
                        .into_iter()
                        .map(|problem| FieldProblem {
                            field: "new_password",
                            ..problem
                        })
                        .collect(),
                ),
                other => other,
            })
        };
        if let Err(e) = rules {
            let detail = match &e {
                AppError::Invalid(p) if p.iter().any(|p| p.field == "confirm_password") => {
                    "confirm_password"
                }
                _ => "new_password",
            };
            self.audit
                .record(vec![entry(Outcome::Invalid, detail)])
                .await?;
            return Err(e);
        }
        let user = self.store.user(p.user_id).await?;
        let checked = self
            .check_attempt(
                crate::sign_in::AccountKind::Staff,
                &user.username,
                change.current,
                Some(user.password_hash.as_str()),
                source,
                entry(Outcome::Failed, "locked"),
            )
            .await?;
        if let crate::sign_in::Checked::Wrong(error) = checked {
            let detail = match error {
                AppError::Locked { .. } => "wrong_password_locked",
                _ => "wrong_password",
            };
            self.audit
                .record(vec![entry(Outcome::Failed, detail)])
                .await?;
            return Err(error);
        }
        let key = crate::sign_in::throttle_key(crate::sign_in::AccountKind::Staff, &user.username);
        let hash = hash_password_off_thread(change.new).await?;
        self.store
            .set_password(
                user.id,
                &hash,
                &key,
                &[entry(Outcome::Ok, "sessions_ended")],
            )
            .await?;
        self.forget_sessions_of(user.id);
        self.audit.flush().await
    }

    /// Drops the cached sessions of a user whose tokens were deleted (a new password).
    pub(crate) fn forget_sessions_of(&self, user_id: i64) {
        self.auth
            .tokens
            .write()
            .expect("token cache")
            .retain(|_, (s, _)| s.principal.user_id != user_id);
    }

    /// An audit entry for an account change made from the command line.
    fn system_entry(&self, action: &str, user_id: Option<i64>, detail: &str) -> AuditEntry {
        AuditEntry {
            resource_id: user_id.map(|id| id.to_string()),
            detail: Some(detail.into()),
            ..AuditEntry::system(self.now_us(), action, "User")
        }
    }

    pub(crate) async fn principal_of(&self, user: &UserRecord) -> AppResult<Principal> {
        let staff = self.store.staff_member(user.staff_id).await?;
        Ok(Principal {
            user_id: user.id,
            username: user.username.clone(),
            staff_id: staff.id,
            staff_name: staff.name,
            role: staff.role,
            institution_id: staff.institution_id,
            district_code: staff.district_code,
            scopes: None,
        })
    }

    /// Lifts a sign-in lock (the command line); the person is still told of the
    /// failures at their next sign-in.
    pub async fn unlock_user(&self, username: &str) -> AppResult<()> {
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or(AppError::NotFound)?;
        let entry = self.system_entry("user.unlock", Some(user.id), "lock_cleared");
        self.unlock_name(crate::sign_in::AccountKind::Staff, &user.username, entry)
            .await
    }

    /// Signs in with a password (`source`: the client's address, when known). Every
    /// attempt is throttled and audited (without the password); see `sign_in`.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        kind: TokenKind,
        request_id: Option<String>,
        source: Option<std::net::IpAddr>,
    ) -> AppResult<SignInOutcome> {
        let now_us = self.now_us();
        let audit = |outcome: Outcome, user: Option<&UserRecord>, detail: &str| AuditEntry {
            at_us: now_us,
            actor_user_id: user.map(|u| u.id),
            actor_username: username.chars().take(USERNAME_MAX_CHARS).collect(),
            role: None,
            institution_id: None,
            action: "auth.sign_in".into(),
            resource_type: "User".into(),
            resource_id: user.map(|u| u.id.to_string()),
            patient_id: None,
            reason: source.map(|ip| format!("from {ip}")),
            outcome,
            detail: Some(detail.into()),
            request_id: request_id.clone(),
        };
        let user = self
            .store
            .user_by_username(username)
            .await?
            .filter(|u| !u.disabled && u.client_secret_hash.is_none());
        let checked = self
            .check_attempt(
                crate::sign_in::AccountKind::Staff,
                username,
                password,
                user.as_ref().map(|u| u.password_hash.as_str()),
                source,
                audit(Outcome::Failed, user.as_ref(), "locked"),
            )
            .await?;
        let user = match (checked, user) {
            (crate::sign_in::Checked::Right, Some(user)) => user,
            (crate::sign_in::Checked::Wrong(error), user) => {
                let detail = match (&user, &error) {
                    (None, _) => "unknown_user",
                    (Some(_), AppError::Locked { .. }) => "wrong_password_locked",
                    (Some(_), _) => "wrong_password",
                };
                self.audit
                    .record(vec![audit(Outcome::Failed, user.as_ref(), detail)])
                    .await?;
                return Err(error);
            }
            (crate::sign_in::Checked::Right, None) => return Err(AppError::Unauthenticated),
        };
        let principal = self.principal_of(&user).await?;
        let token = random_token();
        let csrf = (kind == TokenKind::Session).then(random_token);
        let expires_at_us = now_us + kind.ttl().as_micros() as i64;
        let record = TokenRecord {
            user_id: user.id,
            kind: kind.code().to_owned(),
            csrf: csrf.clone(),
            expires_at_us,
            scopes: None,
        };
        let entry = |before: &gongti_core::throttle::NameState| {
            let mut entry = audit(Outcome::Ok, Some(&user), kind.code());
            entry.role = Some(principal.role.code().to_owned());
            entry.institution_id = principal.institution_id;
            if let Some(n) = SignInNotice::of(before) {
                entry.detail = Some(format!(
                    "{} after {} failed attempts",
                    kind.code(),
                    n.failed_attempts
                ));
            }
            vec![entry]
        };
        let key = crate::sign_in::throttle_key(crate::sign_in::AccountKind::Staff, username);
        let before = self
            .store
            .insert_token(&token_hash(&token), &record, now_us, &key, &entry)
            .await?;
        self.audit.flush().await?;
        Ok(SignInOutcome {
            token,
            csrf,
            expires_in_s: kind.ttl().as_secs(),
            principal,
            notice: SignInNotice::of(&before),
        })
    }

    /// Resolves a presented token to its session, or `Unauthenticated`.
    pub async fn authenticate(&self, token: &str) -> AppResult<Session> {
        if token.len() != 64 {
            return Err(AppError::Unauthenticated);
        }
        let hash = token_hash(token);
        let now_us = self.now_us();
        let cached = self
            .auth
            .tokens
            .read()
            .expect("token cache")
            .get(&hash)
            .cloned();
        if let Some((session, checked)) = cached {
            if session.expires_at_us <= now_us {
                self.auth.tokens.write().expect("token cache").remove(&hash);
                return Err(AppError::Unauthenticated);
            }
            if checked.elapsed() < TOKEN_CACHE_RECHECK {
                return Ok(session);
            }
            self.auth.tokens.write().expect("token cache").remove(&hash);
        }
        let record = self
            .store
            .token(&hash)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if record.expires_at_us <= now_us {
            return Err(AppError::Unauthenticated);
        }
        let user = self.store.user(record.user_id).await?;
        // A client system's account acts only through tokens that carry scopes.
        if user.disabled || (user.client_secret_hash.is_some() && record.scopes.is_none()) {
            return Err(AppError::Unauthenticated);
        }
        let mut principal = self.principal_of(&user).await?;
        if let Some(scopes) = &record.scopes {
            principal.scopes = Some(
                gongti_core::scope::Scopes::parse(scopes)
                    .map_err(|e| anyhow::anyhow!("stored scopes of a token: {e:?}"))?,
            );
        }
        let session = Session {
            principal,
            kind: if record.kind == "session" {
                TokenKind::Session
            } else {
                TokenKind::Api
            },
            csrf: record.csrf,
            expires_at_us: record.expires_at_us,
        };
        self.cache_session(hash, &session);
        Ok(session)
    }

    fn cache_session(&self, hash: [u8; 32], session: &Session) {
        let mut cache = self.auth.tokens.write().expect("token cache");
        if cache.len() >= TOKEN_CACHE_MAX {
            cache.clear();
        }
        cache.insert(hash, (session.clone(), std::time::Instant::now()));
    }

    /// Ends a session or revokes a token.
    pub async fn sign_out(&self, token: &str, ctx: &crate::Ctx) -> AppResult<()> {
        let hash = token_hash(token);
        self.auth.tokens.write().expect("token cache").remove(&hash);
        let mut entry = ctx
            .principal
            .audit(self.now_us(), "auth.sign_out", "User", Outcome::Ok);
        entry.request_id = ctx.request_id.clone();
        self.store.delete_token(&hash, &[entry]).await?;
        self.audit.flush().await
    }
}
