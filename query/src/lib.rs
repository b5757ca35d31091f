//! The nines query language: PromQL with Prometheus's semantics, plus the
//! SLO operators of the SLO layer.
//!
//! Module map:
//! - [`syntax`]: AST, nom parser, printer (`Display` prints a query back).
//! - [`eval`]: the evaluator ([`eval_instant`], [`eval_range`]) over an
//!   engine snapshot, with Prometheus 2.42's semantics.
//! - [`functions`]: the function table and one file per function family.
//! - [`value`]: results and their Prometheus JSON encoding.
//! - [`range_cache`]: step-aligned range results kept across queries.
//! - [`error`]: query errors with their API error type and HTTP status.
//!
//! Data path: `parse` → `eval` (over an engine `Snapshot`: selectors load
//! series once per query, range functions slide over each series' samples)
//! → [`Value`].

#![forbid(unsafe_code)]

pub mod error;
pub mod eval;
pub mod functions;
mod gofmt;
pub mod range_cache;
pub mod syntax;
pub mod value;

pub use error::QueryError;
pub use eval::{eval_instant, eval_range, Cancel, QueryOptions};
pub use syntax::{parse, Expr, ParseError};
pub use value::{Sample, Series, Value};

/// Parses and evaluates a query at one time.
pub fn instant_query(
    snap: &nines_engine::read::Snapshot,
    query: &str,
    time_ms: i64,
    opts: &QueryOptions,
    cancel: &Cancel,
) -> Result<Value, QueryError> {
    let expr = parse(query)?;
    eval_instant(snap, &expr, time_ms, opts, cancel)
}

/// Parses and evaluates a range query at `start`, `start + step`, ... <= `end`.
pub fn range_query(
    snap: &nines_engine::read::Snapshot,
    query: &str,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    opts: &QueryOptions,
    cancel: &Cancel,
) -> Result<Value, QueryError> {
    let expr = parse(query)?;
    eval_range(snap, &expr, start_ms, end_ms, step_ms, opts, cancel)
}
