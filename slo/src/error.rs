//! The SLO layer's error type.

use std::fmt;

/// Where in a definition file a problem is: file, 1-based line and column
/// (0 when unknown), and the field path (`spec.objectives[0].target`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub field: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if self.column > 0 {
            write!(f, ":{}", self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field {}", self.field)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SloError {
    #[error("{at}: {message}")]
    Parse { at: Location, message: String },

    #[error(
        "threshold {threshold} of SLO {slo:?} is not a bucket edge of {selector}; \
         the edges are: {}", edges.join(", ")
    )]
    NotAnEdge {
        slo: String,
        selector: String,
        threshold: f64,
        edges: Vec<String>,
    },

    #[error("no SLO named {0:?}")]
    UnknownSlo(String),

    #[error("no exclusion with id {0:?}")]
    UnknownExclusion(String),

    /// A change the current state refuses (retiring a retired SLO).
    #[error("conflict: {0}")]
    Conflict(String),

    #[error("invalid: {0}")]
    Invalid(String),

    #[error("time: {0}")]
    Time(String),

    #[error(transparent)]
    Engine(#[from] nines_engine::Error),
}
