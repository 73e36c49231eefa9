//! Gongti's storage: one [`Store`] over two engines, SQLite (embedded default) and
//! PostgreSQL, with the same SQL text wherever the engines agree.
//!
//! Each operation is written once inside [`on_write!`] / [`on_read!`], which expand
//! it for each engine's pool, so both engines run the same statements and the contract
//! suite in `tests/it` holds them to the same behaviour. Every multi-row change runs in
//! one transaction.

mod audit;
mod audit_file;
mod auth;
pub mod backup;
mod bulk;
mod chronic;
mod consultations;
mod contracts;
mod coverage_counts;
pub mod crypto;
mod direct;
mod exam;
mod idempotency;
mod import;
mod indicators;
mod insurance;
mod lab;
mod maintained;
mod migrate;
mod outbox;
pub mod owner;
pub use outbox::AuditFor;
pub use versions::{Kept, Version, VersionMark};
mod patients;
mod payment;
mod pharmacy;
mod readings;
mod referral_figures;
mod referrals;
mod region;
mod residents;
mod row;
mod scheduling;
mod screening;
mod throttle;
mod versions;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use audit::{Appended, AuditAppender, AuditPage, RecordTable, RecordsSnapshot};
pub use auth::{ClientRecord, NewUser, TokenRecord, UserRecord};
pub use bulk::{BulkEnrolment, BulkFollowup};
pub use chronic::{
    EndEnrolment, EnrolmentRecord, FollowupList, FollowupRecord, Maintain, NewEnrolment,
    NewFollowup, RiskProfile, StoredRisk, TaskRecord, WorklistFilter, WorklistItem, WorklistOrder,
};
pub use consultations::{ConsultationBox, ConsultationRecord, FileInfo, NewConsultation};
pub use contracts::{ContractRecord, ContractWrite, NewPackage, OpenContract, PackageRecord};
pub use coverage_counts::ContractCoverage;
pub use exam::{
    CENTRE_ACCESS_AFTER_US, CentreRecord, CriticalStepWrite, CriticalValueRecord, ExamOrderRecord,
    Hl7MessageRecord, Hl7OutEnd, Hl7OutRecord, LabIntake, NewCentre, NewExamOrder, NewHl7Message,
    OML, ORDER_CANCEL, ORDER_NEW, ORU, OrderEventRecord, OrderList, OrderStepWrite,
    PendingAmendment, PriorLabResult, ReadingItem, Received, RecognitionFigures, ReportCritical,
    ReportRecord, ReportVersionRecord, ReportWrite, StableStudy, StudyRecord, StudyTaken,
};
pub use idempotency::IdempotentStart;
pub use import::{
    ImportEnrolment, ImportEnrolmentRef, ImportFollowup, ImportLab, ImportPatient, ImportPlan,
    ImportReading, ImportRegistration, ImportRisk, ImportUpdate, Imported,
};
pub use indicators::{IndicatorPatient, IndicatorScope, IndicatorWindow};
pub use insurance::{
    Certification, InsuredPerson, NewSettlement, SettleOutcome, SettlementFigures, SettlementRecord,
};
pub use lab::{EnrolmentScope, LabOutcome, LabResultRecord, NewLabResult};
pub use maintained::{IndicatorEvent, IndicatorTables, IndicatorUpdate, scopes_of};
pub use migrate::MIGRATION_COUNT;
pub use patients::{NewPatientToken, PatientAccount, PatientToken};
pub use payment::{AppealRecord, IncentiveMonthRecord, MonthMark, NewIncentiveMonth, PayoutRow};
pub use payment::{
    BudgetRecord, CapitationBudget, CapitationYearRecord, ClearingMark, ClearingMember,
    ClearingRecord, ClearingRow, CostFact, CostOrigin, FreezeOutcome, MemberFacts,
    NewBureauSettlement, NewCapitationYear, NewSchemeVersion, SchemeDecision, SchemeVersionRecord,
    StepKind, TeamMembers, WorkItem,
};
pub use pharmacy::{
    AcceptedDocument, DiagnosisOnFile, ImageInfo, LongStep, MessageRecord, NewImage, NewMessage,
    NewVisit, VisitChange, VisitRecord,
};
pub use pharmacy::{
    BoardItem, DrugRuleChange, DrugRuleSetting, FillEvent, FillLineRecord, FillOutcome, FillRecord,
    FillStep, KeyUse, NewFill, NewPrescription, PrescriptionFilter, PrescriptionRecord, QueueKey,
    SignedVersion, StepChange, StepRecord, StockRecord, VersionRecord,
};
pub use pharmacy::{
    FactPatient, PharmacyFacts, RX_LOOKBACK_US, RxFactRow, SettlementFactRow, VisitFactRow,
};
pub use readings::{AlertRecord, NewAlert, NewReading, ReadingOutcome, ReadingRecord, Uploader};
pub use referral_figures::ReferralFactRow;
pub use referrals::{
    NewReferral, ReferralBox, ReferralEventRecord, ReferralOutcome, ReferralRecord,
    ReferralStepWrite,
};
pub use region::{
    DepartmentRecord, DistrictRecord, InstitutionFilter, InstitutionRecord, NewInstitution,
    NewStaff, NewTeam, StaffFilter, StaffRecord, TeamRecord,
};
pub use residents::{PatientTable, ResidentFilter, ResidentRecord};
pub use scheduling::{
    BookOutcome, BookingRecord, NewBooking, NewSchedule, ScheduleFilter, ScheduleRecord, SlotRecord,
};
pub use screening::{ScreeningProfile, ScreeningStatus};

/// Largest page any list returns, whatever the caller asks for.
pub const PAGE_SIZE_MAX: u32 = 200;
/// Connections to keep open for reads on SQLite and for everything on PostgreSQL.
pub const POOL_CONNECTIONS_MAX: u32 = 16;
/// SQLite read connections. Each runs on a worker thread of its own, so more than a
/// few per core only adds context switches (measured in BENCHMARKS.md).
pub const SQLITE_READ_CONNECTIONS: u32 = 4;
/// Prepared statements the embedded engine's write connection keeps.
const WRITE_STATEMENT_CACHE: usize = 400;
/// How long a statement waits for SQLite's write lock before it fails.
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique key is already taken; the payload names the constraint or column.
    #[error("already exists: {0}")]
    Duplicate(String),
    /// A referenced row does not exist.
    #[error("a referenced record does not exist: {0}")]
    MissingReference(String),
    /// A guarded update found the record no longer in the state it was read in.
    #[error("changed meanwhile: {0}")]
    Changed(&'static str),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("the schema is newer than this build of Gongti (version {found}, known {known})")]
    SchemaTooNew { found: i64, known: i64 },
    /// Another process owns the data directory (see [`owner`]).
    #[error(
        "另一个 gongti 进程正在使用数据目录 another gongti process ({holder}) owns the data directory {dir}: stop it first (a server holds it for as long as it runs)"
    )]
    Owned { dir: String, holder: String },
    /// Another server serves the database, and this command must run alone.
    #[error(
        "数据库正由 gongti 服务使用 a gongti server is serving this database: stop every server before `{command}`"
    )]
    Serving { command: &'static str },
    #[error(transparent)]
    Database(sqlx::Error),
    /// An error from the SQLite hot path ([`direct`]).
    #[error(transparent)]
    Direct(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi;
        match e {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            // As sqlx reports them: SQLite's message names the constraint's columns.
            rusqlite::Error::SqliteFailure(f, Some(message))
                if matches!(
                    f.extended_code,
                    ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                StoreError::Duplicate(message)
            }
            rusqlite::Error::SqliteFailure(f, Some(message))
                if f.extended_code == ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
            {
                StoreError::MissingReference(message)
            }
            e => StoreError::Direct(e),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let what = db
                .constraint()
                .map(str::to_owned)
                .unwrap_or_else(|| db.message().to_owned());
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return StoreError::Duplicate(what),
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StoreError::MissingReference(what);
                }
                _ => {}
            }
        }
        if matches!(e, sqlx::Error::RowNotFound) {
            return StoreError::NotFound;
        }
        StoreError::Database(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
enum Engine {
    /// SQLite allows one writer at a time: writes go through a one-connection pool so
    /// they queue in Gongti instead of spinning on the database lock.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        /// The hot path's own read-only connections (see [`direct`]).
        direct: Arc<direct::DirectReads>,
        /// The hot path's read-write connection, for the write turn (see [`direct`]);
        /// `None` for a read-only store.
        direct_writes: Option<Arc<direct::DirectWrites>>,
        /// The audit trail's own file (see [`audit_file`]).
        audit: Arc<audit_file::AuditFile>,
        /// The data directory's owner lock, held as long as any clone of the store
        /// (`None` for a read-only store).
        _owner: Option<Arc<owner::DirLock>>,
    },
    Postgres {
        pool: PgPool,
        _lease: Lease,
    },
}

/// A server's lease on a PostgreSQL database, held as long as any clone of the store.
#[derive(Debug, Clone, Default)]
struct Lease {
    _held: Option<Arc<owner::ServerLease>>,
}

/// The storage handle: cheap to clone, shared by the whole server.
#[derive(Debug, Clone)]
pub struct Store {
    engine: Engine,
    /// The keys personal data is sealed with (`crypto`).
    keys: Arc<crypto::DataKeys>,
}

/// Runs `$body` with `$pool` bound to the pool that takes writes.
macro_rules! on_write {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.engine {
            $crate::Engine::Sqlite { write: $pool, .. } => $body,
            $crate::Engine::Postgres { pool: $pool, .. } => $body,
        }
    };
}
/// Runs `$body` with `$pool` bound to the pool that serves reads.
macro_rules! on_read {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.engine {
            $crate::Engine::Sqlite { read: $pool, .. } => $body,
            $crate::Engine::Postgres { pool: $pool, .. } => $body,
        }
    };
}
pub(crate) use {on_read, on_write};

/// One page of a keyset-paginated list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The id to pass as `after` for the next page, if there is one.
    pub next_after: Option<i64>,
}

impl<T> Page<T> {
    /// Cuts a list fetched with `limit + 1` rows into a page and its continuation.
    pub(crate) fn from_overfetch(mut items: Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> Page<T> {
        let next_after = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(&id)
        } else {
            None
        };
        Page { items, next_after }
    }
}

/// A keyset cursor over (date, id) in one i64, for lists ordered by a date then id.
pub(crate) fn date_cursor(on: time::Date, id: i64) -> i64 {
    (i64::from(on.to_julian_day()) << 40) | (id & ((1 << 40) - 1))
}

/// The (date, id) a [`date_cursor`] encodes, or a start before any stored date.
pub(crate) fn split_date_cursor(after: Option<i64>) -> Result<(time::Date, i64)> {
    match after {
        // A cursor no page handed out lands past every date: an empty page.
        Some(cursor) => Ok((
            i32::try_from(cursor >> 40)
                .ok()
                .and_then(|day| time::Date::from_julian_day(day).ok())
                .map_or(time::macros::date!(9999 - 12 - 31), |d| {
                    d.min(time::macros::date!(9999 - 12 - 31))
                }),
            cursor & ((1 << 40) - 1),
        )),
        // PostgreSQL's DATE cannot hold `Date::MIN`.
        None => Ok((time::macros::date!(1900 - 01 - 01), 0)),
    }
}

/// The page size actually used for a request of `requested` rows.
pub fn clamp_page_size(requested: Option<u32>, default: u32) -> u32 {
    requested.unwrap_or(default).clamp(1, PAGE_SIZE_MAX)
}

impl Store {
    /// Opens (creating if needed) the embedded SQLite database in `data_dir`, as its
    /// one owner: [`StoreError::Owned`] when another process holds it. Personal data
    /// is sealed with `keys`.
    pub async fn open_sqlite(data_dir: &Path, keys: crypto::DataKeys) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| {
            StoreError::Corrupt(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        let lock = owner::DirLock::take(data_dir)?;
        let file = data_dir.join("gongti.db");
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a committed transaction survives power loss. Nothing a clinician
            // saves is ever lost.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .pragma("temp_store", "memory")
            .pragma("cache_size", "-65536");
        // A connection to a local file cannot go stale: skip sqlx's ping before each
        // acquire, which would cost a second worker-thread round trip per statement.
        let write = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .acquire_timeout(SQLITE_BUSY_TIMEOUT * 3)
            // Multi-row writes come in a few fixed lengths (`row::cached_chunks`): room
            // for all of them beside every other statement.
            .connect_with(
                options
                    .clone()
                    .statement_cache_capacity(WRITE_STATEMENT_CACHE),
            )
            .await?;
        let read = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(SQLITE_READ_CONNECTIONS)
            .connect_with(options.read_only(true))
            .await?;
        let direct_writes = Arc::new(direct::DirectWrites::new(file.clone(), write.clone()));
        Ok(Store {
            engine: Engine::Sqlite {
                read,
                write,
                direct: Arc::new(direct::DirectReads::new(file.clone())),
                direct_writes: Some(direct_writes),
                audit: Arc::new(audit_file::AuditFile::open(data_dir)?),
                _owner: Some(Arc::new(lock)),
            },
            keys: Arc::new(keys),
        })
    }

    /// This store writing through sqlx alone: on SQLite, without the hot path's own
    /// read-write connection ([`direct::DirectWrites`]), as PostgreSQL writes. The
    /// two lanes write the same rows; this is how that is tested and measured.
    #[must_use]
    pub fn without_direct_writes(self) -> Store {
        let keys = self.keys;
        match self.engine {
            Engine::Sqlite {
                read,
                write,
                direct,
                audit,
                _owner,
                ..
            } => Store {
                engine: Engine::Sqlite {
                    read,
                    write,
                    direct,
                    direct_writes: None,
                    audit,
                    _owner,
                },
                keys,
            },
            engine => Store { engine, keys },
        }
    }

    /// Opens the embedded database in `data_dir` for reading only, beside its owner
    /// (a running server): nothing is written, migrated or locked. For
    /// `gongti audit verify`; every write fails.
    pub async fn open_sqlite_read_only(data_dir: &Path, keys: crypto::DataKeys) -> Result<Store> {
        let file = data_dir.join("gongti.db");
        if !file.exists() {
            return Err(StoreError::Corrupt(format!(
                "no database in {}",
                data_dir.display()
            )));
        }
        let options = SqliteConnectOptions::new()
            .filename(&file)
            .read_only(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let read = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(SQLITE_READ_CONNECTIONS)
            .connect_with(options)
            .await?;
        Ok(Store {
            engine: Engine::Sqlite {
                read: read.clone(),
                write: read,
                direct: Arc::new(direct::DirectReads::new(file)),
                direct_writes: None,
                audit: Arc::new(audit_file::AuditFile::open_read_only(data_dir)?),
                _owner: None,
            },
            keys: Arc::new(keys),
        })
    }

    /// Connects to PostgreSQL at `url` (`postgres://…`); personal data is sealed with
    /// `keys`.
    pub async fn connect_postgres(url: &str, keys: crypto::DataKeys) -> Result<Store> {
        let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS_MAX)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Store {
            engine: Engine::Postgres {
                pool,
                _lease: Lease::default(),
            },
            keys: Arc::new(keys),
        })
    }

    /// Marks this process as a server of the PostgreSQL database for as long as the
    /// store lives (a shared session lock): several servers may serve one database,
    /// and commands that must run alone ([`Store::alone`]) refuse while any does.
    /// Nothing on SQLite, whose data directory has one owner anyway.
    pub async fn serve_lease(self) -> Result<Store> {
        let keys = self.keys;
        match self.engine {
            Engine::Postgres { pool, .. } => {
                let lease = owner::ServerLease::take(&pool).await?;
                Ok(Store {
                    engine: Engine::Postgres {
                        pool,
                        _lease: Lease {
                            _held: Some(Arc::new(lease)),
                        },
                    },
                    keys,
                })
            }
            engine => Ok(Store { engine, keys }),
        }
    }

    /// Seals opaque bytes (an answer kept for an idempotent request).
    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        Ok(self.keys.seal(b"idempotency_keys.answer", plaintext))
    }

    /// Opens what [`Store::seal`] sealed.
    pub(crate) fn open_sealed(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        self.keys.open(b"idempotency_keys.answer", sealed)
    }

    /// Runs a command that must be the only one touching the database (`command`
    /// names it for the refusal): on PostgreSQL it waits for no server and holds the
    /// exclusive lease while it runs, refusing with [`StoreError::Serving`] when a
    /// server holds a shared one. On SQLite the directory's lock already says so.
    pub async fn alone(&self, command: &'static str) -> Result<Option<owner::AloneGuard>> {
        match &self.engine {
            Engine::Postgres { pool, .. } => owner::AloneGuard::take(pool, command).await.map(Some),
            Engine::Sqlite { .. } => Ok(None),
        }
    }

    /// The SQLite hot path's connections, on SQLite.
    pub(crate) fn direct(&self) -> Option<&Arc<direct::DirectReads>> {
        match &self.engine {
            Engine::Sqlite { direct, .. } => Some(direct),
            Engine::Postgres { .. } => None,
        }
    }

    /// Sets what runs after each commit of the direct lane's writes, before their
    /// callers are answered (the audit writer is asked there to move what they
    /// staged, so that the move is under way when they ask for it). Once; answers
    /// whether it was set (not on PostgreSQL, nor a second time).
    pub fn after_direct_commit(&self, hook: impl Fn() + Send + Sync + 'static) -> bool {
        self.direct_writes()
            .is_some_and(|direct| direct.after_commit(Box::new(hook)))
    }

    /// On SQLite (a store that writes), the hot path's read-write connection, whose
    /// transactions run in the write turn (see [`direct::DirectWrites`]).
    pub(crate) fn direct_writes(&self) -> Option<&Arc<direct::DirectWrites>> {
        match &self.engine {
            Engine::Sqlite {
                direct_writes: Some(direct),
                ..
            } => Some(direct),
            _ => None,
        }
    }

    /// The SQLite audit trail's file, on SQLite.
    pub(crate) fn audit_file(&self) -> Option<&Arc<audit_file::AuditFile>> {
        match &self.engine {
            Engine::Sqlite { audit, .. } => Some(audit),
            Engine::Postgres { .. } => None,
        }
    }

    /// A secret for another purpose (a staff member's signing key), derived from the
    /// data key `id` (the sealing one when `None`) and `label`; with the id it came from.
    pub fn derive_secret(&self, id: Option<u32>, label: &[u8]) -> Option<(u32, [u8; 32])> {
        self.keys.derive(id, label)
    }

    pub fn kind(&self) -> EngineKind {
        match self.engine {
            Engine::Sqlite { .. } => EngineKind::Sqlite,
            Engine::Postgres { .. } => EngineKind::Postgres,
        }
    }

    /// Applies every migration not yet applied; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize> {
        migrate::run(self).await
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        on_read!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.engine {
            Engine::Sqlite { read, write, .. } => {
                read.close().await;
                write.close().await;
            }
            Engine::Postgres { pool, .. } => pool.close().await,
        }
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        let value: Option<(String,)> = on_read!(self, pool => {
            sqlx::query_as("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(pool).await
        })?;
        Ok(value.map(|(v,)| v))
    }

    pub async fn delete_setting(&self, key: &str) -> Result<()> {
        on_write!(self, pool => {
            sqlx::query("DELETE FROM settings WHERE key = $1")
                .bind(key)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        on_write!(self, pool => {
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }
}
