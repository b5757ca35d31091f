//! The evaluator: PromQL expression trees over an engine [`Snapshot`], with
//! Prometheus 2.42's semantics for float samples.
//!
//! Every node is evaluated once over all the steps of its evaluation
//! (`values::Steps`: the query's steps, or a subquery's), as Prometheus
//! does: selectors load each series' samples once for the union of the
//! windows of all steps and walk them with moving indices; range functions
//! slide windows over those samples; aggregations and binary operators work
//! step by step on step-indexed points.
//!
//! Module map:
//! - `values`: steps, per-node values, the output builder.
//! - `node`: dispatch over the expression tree, `@`/offset times, step
//!   invariance (Prometheus evaluates `@`-fixed parts once).
//! - `selector`: loading series, instant vector selection with lookback.
//! - `range_fn`: functions of a range vector (raw sliding windows).
//! - `rollup`: exact rollup acceleration of `rate`/`increase`/
//!   `count_over_time` over long windows.
//! - `slo`: the SLO operators, through `nines-slo`.
//! - `subquery`, `binary`, `aggregate`, `instant_fn`: the rest.
//! - `par`: series-parallel work over both cores.

mod aggregate;
mod binary;
mod instant_fn;
mod node;
mod par;
mod range_fn;
mod rollup;
mod selector;
mod slo;
mod subquery;
pub(crate) mod values;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nines_engine::read::Snapshot;

use crate::error::QueryError;
use crate::syntax::ast::{Expr, ValueType};
use crate::value::{Sample, Series, Value};
use values::{Steps, Val};

/// Limits and defaults of one query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryOptions {
    /// How far back an instant vector selector looks for a sample. 5 m:
    /// Prometheus's default, so that answers match it.
    pub lookback_ms: i64,
    /// Samples a query may load (or produce) before it is refused. 50 M:
    /// Prometheus's default `--query.max-samples`.
    pub max_samples: u64,
    /// 120 s: Prometheus's default `--query.timeout`.
    pub timeout: Duration,
    /// Where `slo_*` operators find SLO definitions. `None` by default:
    /// only the ad-hoc SLO functions work until a store is plugged in.
    pub slo_catalog: Option<SloCatalogRef>,
    /// Per-selector event sums shared by every query of one engine, so
    /// that SLO operators over long windows add cached numbers instead of
    /// reading every series (`nines_slo::sums`). `None`: read each time.
    pub slo_sums: Option<SloSumsRef>,
}

/// A shared cache of SLO event sums. Options compare equal when they share
/// the same cache.
#[derive(Clone, Default)]
pub struct SloSumsRef(pub Arc<nines_slo::sums::SumsCache>);

impl PartialEq for SloSumsRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SloSumsRef {}

impl std::fmt::Debug for SloSumsRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SloSumsRef(..)")
    }
}

/// A shared SLO catalog. Options compare equal when they share the same
/// catalog object.
#[derive(Clone)]
pub struct SloCatalogRef(pub Arc<dyn nines_slo::catalog::SloCatalog>);

impl PartialEq for SloCatalogRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SloCatalogRef {}

impl std::fmt::Debug for SloCatalogRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SloCatalogRef(..)")
    }
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            lookback_ms: 300_000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            slo_catalog: None,
            slo_sums: None,
        }
    }
}

/// Cancels a running query from another thread. Cheap to clone; clones
/// share the flag.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Prometheus's default subquery step when `[range:]` gives none: the
/// global evaluation interval, 1 m by default (for range queries too).
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// Prometheus's limit on the points of a range query.
pub const MAX_RANGE_POINTS: i64 = 11_000;

/// Evaluates `expr` at `time_ms`: a vector, a scalar, a string, or (for a
/// range vector expression) the raw samples of each series' window.
pub fn eval_instant(
    snap: &Snapshot,
    expr: &Expr,
    time_ms: i64,
    opts: &QueryOptions,
    cancel: &Cancel,
) -> Result<Value, QueryError> {
    let ev = Evaluator::new(snap, opts, cancel, time_ms, time_ms);
    let val = ev.eval(expr, Steps::single(time_ms))?;
    let out = match val {
        Val::Scalar(v) => Value::Scalar {
            t: time_ms,
            v: v.first().copied().unwrap_or(f64::NAN),
        },
        Val::String(s) => Value::String { t: time_ms, s },
        Val::Vector(series) => Value::Vector(
            series
                .into_iter()
                .filter_map(|s| {
                    let v = s.points.first()?.1;
                    Some(Sample {
                        labels: s.labels,
                        t: time_ms,
                        v,
                    })
                })
                .collect(),
        ),
        Val::Matrix(series) => Value::Matrix(
            series
                .into_iter()
                .map(|s| Series {
                    labels: s.labels,
                    points: s.ts.into_iter().zip(s.vs).collect(),
                })
                .collect(),
        ),
    };
    Ok(out)
}

/// Evaluates `expr` at `start_ms, start_ms + step_ms, ..., <= end_ms`: a
/// matrix sorted by label set, each series with the steps that have a
/// value.
pub fn eval_range(
    snap: &Snapshot,
    expr: &Expr,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    opts: &QueryOptions,
    cancel: &Cancel,
) -> Result<Value, QueryError> {
    validate_range(start_ms, end_ms, step_ms)?;
    match expr.value_type() {
        ValueType::Scalar | ValueType::Vector => {}
        other => {
            return Err(QueryError::BadRequest(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                other.name()
            )))
        }
    }
    let ev = Evaluator::new(snap, opts, cancel, start_ms, end_ms);
    let steps = Steps {
        start: start_ms,
        end: end_ms,
        step: step_ms,
    };
    let mut out: Vec<Series> = match ev.eval(expr, steps)? {
        Val::Scalar(v) => vec![Series {
            labels: Default::default(),
            points: steps.times().zip(v).collect(),
        }],
        Val::Vector(series) => series
            .into_iter()
            .map(|s| Series {
                labels: s.labels,
                points: s
                    .points
                    .into_iter()
                    .map(|(i, v)| (steps.time(i as usize), v))
                    .collect(),
            })
            .collect(),
        other => {
            return Err(QueryError::Execution(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                other.type_name()
            )))
        }
    };
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(Value::Matrix(out))
}

/// A range query's parameters, checked as Prometheus's HTTP API checks them.
pub fn validate_range(start_ms: i64, end_ms: i64, step_ms: i64) -> Result<(), QueryError> {
    if end_ms < start_ms {
        return Err(QueryError::BadRequest(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        ));
    }
    if step_ms <= 0 {
        return Err(QueryError::BadRequest(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
        ));
    }
    if (end_ms - start_ms) / step_ms > MAX_RANGE_POINTS {
        return Err(QueryError::BadRequest(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    Ok(())
}

/// The state of one query's evaluation, shared (read-only but for atomic
/// counters) by the threads that work on it.
pub(crate) struct Evaluator<'a> {
    pub snap: &'a Snapshot,
    pub opts: &'a QueryOptions,
    cancel: &'a Cancel,
    started: Instant,
    /// Samples loaded from storage plus points produced so far.
    samples: AtomicU64,
    /// Series whose range function was answered from rollup summaries.
    pub rollup_series: AtomicU64,
    /// The query's own start and end, for `@ start()` / `@ end()`.
    pub query_start: i64,
    pub query_end: i64,
    /// Whether long-window range functions may be answered from rollups
    /// (always, but for tests that compare with the raw path).
    pub use_rollups: bool,
    /// Whether `sum` may run series by series (always, but for tests that
    /// compare with the step-major loop).
    pub sum_series_major: bool,
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(
        snap: &'a Snapshot,
        opts: &'a QueryOptions,
        cancel: &'a Cancel,
        query_start: i64,
        query_end: i64,
    ) -> Evaluator<'a> {
        Evaluator {
            snap,
            opts,
            cancel,
            started: Instant::now(),
            samples: AtomicU64::new(0),
            rollup_series: AtomicU64::new(0),
            query_start,
            query_end,
            use_rollups: true,
            sum_series_major: true,
        }
    }

    /// Fails once the query is canceled or out of time; called between
    /// series and between steps.
    pub fn check(&self, phase: &'static str) -> Result<(), QueryError> {
        if self.cancel.is_canceled() {
            return Err(QueryError::Canceled);
        }
        let elapsed = self.started.elapsed();
        if elapsed >= self.opts.timeout {
            return Err(QueryError::Timeout {
                phase,
                elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
                timeout_ms: u64::try_from(self.opts.timeout.as_millis()).unwrap_or(u64::MAX),
            });
        }
        Ok(())
    }

    /// Counts `n` samples against `max_samples`.
    pub fn count_samples(&self, n: usize) -> Result<(), QueryError> {
        let n = n as u64;
        let total = self.samples.fetch_add(n, Ordering::Relaxed) + n;
        if total > self.opts.max_samples {
            return Err(QueryError::TooManySamples {
                limit: self.opts.max_samples,
            });
        }
        Ok(())
    }
}
