//! The application's closed set of failures; the edges map each to a status and a
//! stable code.

use gongti_core::resident::FieldProblem;
use gongti_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input broke one or more rules; every problem is listed.
    #[error("invalid input")]
    Invalid(Vec<FieldProblem>),
    /// Items of a batch broke rules; every problem is listed with its item's index.
    #[error("invalid batch")]
    InvalidBatch(Vec<(usize, FieldProblem)>),
    #[error("not signed in, or the token is not valid")]
    Unauthenticated,
    /// Too many failed sign-ins (of the account name, or from the source address):
    /// refused until then.
    #[error("too many failed sign-ins: locked")]
    Locked { until_us: i64, retry_after_s: u64 },
    #[error("not allowed")]
    Forbidden,
    #[error("allowed only through break-the-glass with a reason")]
    BreakGlassRequired,
    #[error("not found")]
    NotFound,
    /// A unique key is taken; the payload is a stable code such as `id_number_taken`.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// Input with one problem, in one field.
    pub fn invalid(field: &'static str, problem: gongti_core::problem::Problem) -> AppError {
        AppError::Invalid(vec![FieldProblem::new(field, problem)])
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AppError::NotFound,
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}
