//! Gongti's application layer: the use cases the edges call. Each one resolves who is
//! asking, decides access with `gongti_core::access`, calls the store, and writes the
//! audit record before the caller may answer.

pub mod accounts;
pub mod audit;
pub mod auth;
mod chronic;
pub mod clients;
pub mod consultations;
pub mod contracts;
pub mod demo;
pub mod demo_chronic;
mod demo_exam;
mod demo_payment;
mod demo_pharmacy;
mod demo_scheduling;
mod error;
pub mod exam;
pub mod export;
pub mod import;
pub mod indicators;
pub mod insurance;
pub mod lab;
pub mod patients;
pub mod payment;
pub mod pharmacy;
pub mod progress;
pub mod readings;
pub mod referral_figures;
pub mod referrals;
mod registrar;
pub mod registry;
pub mod residents;
pub mod roster;
pub mod scheduling;
pub mod screening;
mod sign_in;
pub mod versions;
pub mod worklists;

use std::sync::Arc;

use gongti_store::Store;
use time::OffsetDateTime;

pub use auth::{Principal, SignInNotice, SignInOutcome};
pub use error::{AppError, AppResult};

/// Where the current time comes from: the system clock in production, a fixed or
/// stepped clock in tests.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// Microseconds since the Unix epoch.
pub fn unix_us(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

/// The regional time zone the console shows (Asia/Shanghai has no daylight saving).
pub const DISPLAY_OFFSET: time::UtcOffset = time::macros::offset!(+8);

/// The application: shared by every request, cheap to clone.
#[derive(Clone)]
pub struct App {
    pub(crate) store: Store,
    pub(crate) audit: audit::AuditLog,
    pub(crate) registrar: registrar::Registrar,
    pub(crate) auth: Arc<auth::AuthState>,
    pub(crate) clock: Clock,
    pub(crate) chronic: Arc<gongti_core::chronic::Params>,
    pub(crate) throttle: gongti_core::throttle::ThrottleParams,
    /// Indicator bases read up to a day (`App::indicator_comparison`).
    pub(crate) baselines: Arc<indicators::BaselineCache>,
    /// Long jobs' progress (an imported list's), for the user who started them.
    pub(crate) progress: progress::Progress,
    /// The years whose clearing is being frozen in this process (`App::start_freeze`).
    pub(crate) freezing: Arc<std::sync::Mutex<std::collections::BTreeSet<i32>>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("store", &self.store.kind())
            .finish_non_exhaustive()
    }
}

/// Who asked, with the request id the edge assigned.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub principal: Principal,
    pub request_id: Option<String>,
}

impl App {
    /// Starts the application on a migrated store; returns it with the audit writer's
    /// task, which ends once every clone of the app is dropped and the queue is flushed.
    pub async fn start(
        store: Store,
        clock: Clock,
    ) -> AppResult<(App, tokio::task::JoinHandle<()>)> {
        App::start_signing(store, clock, None).await
    }

    /// [`App::start`] with the audit writer signing checkpoints of the chain (see
    /// `audit::checkpoint`).
    pub async fn start_signing(
        store: Store,
        clock: Clock,
        signing: Option<audit::checkpoint::Signing>,
    ) -> AppResult<(App, tokio::task::JoinHandle<()>)> {
        // The prescription knowledge base is loaded (and checked) at start, not on the
        // first prescription.
        gongti_core::pharmacy::Knowledge::builtin();
        let (audit, writer) = audit::AuditLog::start(store.clone(), signing).await?;
        let registrar = registrar::Registrar::start(store.clone(), audit.clone());
        let app = App {
            store,
            audit,
            registrar,
            auth: Arc::new(auth::AuthState::default()),
            clock,
            chronic: Arc::new(gongti_core::chronic::Params::default()),
            throttle: gongti_core::throttle::ThrottleParams::default(),
            baselines: Arc::default(),
            progress: progress::Progress::default(),
            freezing: Arc::default(),
        };
        Ok((app, writer))
    }

    /// How far the caller's own job `key` has come (an imported list), if known.
    pub fn job_progress(&self, ctx: &Ctx, key: &str) -> Option<progress::Report> {
        self.progress
            .report(ctx.principal.user_id, key, self.now_us())
    }

    /// When sign-in attempts lock an account, and for how long.
    pub fn throttle_params(&self) -> &gongti_core::throttle::ThrottleParams {
        &self.throttle
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    pub(crate) fn now_us(&self) -> i64 {
        unix_us(self.now())
    }

    /// Records an audit entry written by an edge (a rejected token, an over-long
    /// body …) and waits until it is committed.
    pub async fn audit_edge(&self, entry: gongti_core::audit::AuditEntry) -> AppResult<()> {
        self.audit.record(vec![entry]).await
    }

    /// Today in the region's time zone.
    pub fn today(&self) -> time::Date {
        self.now().to_offset(DISPLAY_OFFSET).date()
    }
}
