//! Query errors, with the Prometheus API error type and HTTP status each
//! maps to.

use crate::syntax::ParseError;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// A request that makes no sense (a step of zero, end before start).
    #[error("{0}")]
    BadRequest(String),
    /// The query is valid but cannot be evaluated on this data
    /// (many-to-many matching, a label set appearing twice, ...).
    #[error("{0}")]
    Execution(String),
    #[error(
        "query processing would load too many samples into memory in query execution \
         (limit {limit}); narrow the selectors or the time range, or raise the limit"
    )]
    TooManySamples { limit: u64 },
    #[error("query timed out in {phase} after {elapsed_ms} ms (timeout {timeout_ms} ms)")]
    Timeout {
        phase: &'static str,
        elapsed_ms: u64,
        timeout_ms: u64,
    },
    #[error("query was canceled")]
    Canceled,
    #[error("storage: {0}")]
    Storage(#[from] nines_engine::Error),
}

impl QueryError {
    /// Prometheus's `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) | QueryError::BadRequest(_) => "bad_data",
            QueryError::Execution(_) | QueryError::TooManySamples { .. } => "execution",
            QueryError::Timeout { .. } => "timeout",
            QueryError::Canceled => "canceled",
            QueryError::Storage(_) => "internal",
        }
    }

    /// The HTTP status Prometheus answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            QueryError::Parse(_) | QueryError::BadRequest(_) => 400,
            QueryError::Execution(_) | QueryError::TooManySamples { .. } => 422,
            QueryError::Timeout { .. } => 503,
            QueryError::Canceled => 499,
            QueryError::Storage(_) => 500,
        }
    }
}
