//! Query execution shared by the HTTP API and gRPC: a query slot, then the
//! evaluation on a blocking thread, cancelled when the caller goes away.
//!
//! Order of one query: check the parameters (no slot is taken for a request
//! that cannot run) → wait for a query slot, at most the query's timeout →
//! evaluate on a blocking thread with the time that is left → record the
//! latency. Dropping the future (client disconnected, gRPC deadline) or
//! running past the timeout cancels the evaluation through [`Cancel`]; the
//! slot is held until the blocking thread has actually stopped, so slots
//! always count running evaluations.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nines_proto::v1;
use nines_query::eval::validate_range;
use nines_query::range_cache::RangeAnswer;
use nines_query::{eval_instant, reads_only_slo_state, Cancel, QueryError, QueryOptions, Value};
use tonic::Status;

use crate::ingest::labels_to_proto;
use crate::state::AppState;

/// What to evaluate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    /// At one time, ms since the epoch.
    Instant { time_ms: i64 },
    /// At `start, start + step, ... <= end`, all in ms.
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// One query as both front ends hand it over.
#[derive(Clone, Debug)]
pub struct QueryRequest {
    pub query: String,
    pub range: Range,
    /// The caller's timeout; `None` or zero: the server's. Never longer than
    /// the server's `limits.query_timeout`.
    pub timeout: Option<Duration>,
    /// The caller's tenant: every selector is scoped to it.
    pub tenant: Option<std::sync::Arc<str>>,
}

/// A query's result: a value, or a range query's matrix that may point
/// into the range-result cache (written out without copying its points).
pub enum Answer {
    Value(Value),
    Range(RangeAnswer),
}

impl Answer {
    pub fn into_value(self) -> Value {
        match self {
            Answer::Value(v) => v,
            Answer::Range(r) => r.into_value(),
        }
    }
}

/// Why a query produced no result.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Every query slot stayed busy for the whole timeout.
    #[error("all {slots} query slots stayed busy for the query's whole timeout of {timeout_ms} ms; retry later or raise limits.query_concurrency")]
    Busy { slots: usize, timeout_ms: u64 },
    /// A tenant-bound caller asked for what spans tenants.
    #[error("{0}")]
    Forbidden(String),
    /// The evaluation thread failed (a bug); the server keeps running.
    #[error("query evaluation failed: {0}")]
    Internal(String),
}

impl RunError {
    /// Prometheus's `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            RunError::Query(e) => e.error_type(),
            RunError::Busy { .. } => "timeout",
            RunError::Forbidden(_) => "forbidden",
            RunError::Internal(_) => "internal",
        }
    }

    /// The HTTP status Prometheus answers with (503 for a query that timed
    /// out waiting, as for one that timed out running).
    pub fn http_status(&self) -> u16 {
        match self {
            RunError::Query(e) => e.http_status(),
            RunError::Busy { .. } => 503,
            RunError::Forbidden(_) => 403,
            RunError::Internal(_) => 500,
        }
    }

    /// The message in Prometheus's words: a syntax error as
    /// `line:column: parse error: what` (the caret snippet the CLI shows
    /// is left out: API clients print the message on one line).
    pub fn message(&self) -> String {
        match self {
            RunError::Query(QueryError::Parse(p)) => {
                format!("{}:{}: parse error: {}", p.line, p.column, p.message)
            }
            e => e.to_string(),
        }
    }

    /// The gRPC status: bad queries and parameters INVALID_ARGUMENT, time
    /// outs DEADLINE_EXCEEDED, limits RESOURCE_EXHAUSTED, the rest INTERNAL.
    pub fn to_status(&self) -> Status {
        let msg = self.message();
        match self {
            RunError::Query(QueryError::Parse(_) | QueryError::BadRequest(_)) => {
                Status::invalid_argument(msg)
            }
            // Valid syntax the data cannot answer (many-to-many matching...):
            // the query must change, as for a syntax error.
            RunError::Query(QueryError::Execution(_)) => Status::invalid_argument(msg),
            RunError::Query(QueryError::TooManySamples { .. }) | RunError::Busy { .. } => {
                Status::resource_exhausted(msg)
            }
            RunError::Query(QueryError::Timeout { .. }) => Status::deadline_exceeded(msg),
            RunError::Query(QueryError::Canceled) => Status::cancelled(msg),
            RunError::Forbidden(_) => Status::permission_denied(msg),
            RunError::Query(QueryError::Storage(_)) | RunError::Internal(_) => {
                Status::internal(msg)
            }
        }
    }
}

/// How long past its timeout a query's caller waits for the evaluation to
/// notice it before answering with the timeout itself.
const OVERRUN_GRACE: Duration = Duration::from_millis(100);

/// Cancels the evaluation when the request's future is dropped before the
/// result arrived (or given up on).
struct CancelOnDrop {
    cancel: Cancel,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.cancel.cancel();
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A query ready to evaluate: instant queries are parsed before they take
/// a slot; range queries are parsed by the range cache, which keys on the
/// text.
enum Job {
    Instant {
        time_ms: i64,
        expr: Arc<nines_query::Expr>,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// Runs one query; `endpoint` labels the latency histogram.
pub async fn execute(
    st: &Arc<AppState>,
    endpoint: &'static str,
    req: QueryRequest,
) -> Result<Answer, RunError> {
    let started = Instant::now();
    let out = run(st, req, started).await;
    st.metrics.query(endpoint, started.elapsed());
    if let Err(e) = &out {
        st.metrics.query_error(e.error_type());
    }
    out
}

async fn run(
    st: &Arc<AppState>,
    mut req: QueryRequest,
    started: Instant,
) -> Result<Answer, RunError> {
    if let Some(t) = &req.tenant {
        req.query = crate::auth::scope_query(&req.query, t).map_err(RunError::Forbidden)?;
    }
    if let Range::Range {
        start_ms,
        end_ms,
        step_ms,
    } = req.range
    {
        validate_range(start_ms, end_ms, step_ms)?;
        // A dashboard refresh whose every step is cached: answered here,
        // without a query slot or a hand-over to a blocking thread (each
        // hand-over is a pair of thread wake-ups, most of such a request's
        // time).
        let snap = st.engine.snapshot();
        let lookback = QueryOptions::default().lookback_ms;
        if let Some(a) = st
            .range_cache
            .full_hit(&snap, &req.query, start_ms, end_ms, step_ms, lookback)
        {
            return Ok(Answer::Range(a));
        }
    }
    // An instant query is parsed here: a syntax error takes no slot, and
    // the expression says whether it reads only the SLO state.
    let job = match req.range {
        Range::Instant { time_ms } => Job::Instant {
            time_ms,
            expr: st.parsed.parse(&req.query).map_err(QueryError::from)?,
        },
        Range::Range {
            start_ms,
            end_ms,
            step_ms,
        } => Job::Range {
            start_ms,
            end_ms,
            step_ms,
        },
    };
    let timeout = req
        .timeout
        .filter(|t| !t.is_zero())
        .map_or(st.query_timeout, |t| t.min(st.query_timeout));
    let permit = st.query_slot(timeout).await.ok_or(RunError::Busy {
        slots: st.config.limits.query_concurrency,
        timeout_ms: ms(timeout),
    })?;
    let waited = started.elapsed();
    let left = timeout.saturating_sub(waited);
    if left.is_zero() {
        return Err(QueryError::Timeout {
            phase: "queue",
            elapsed_ms: ms(waited),
            timeout_ms: ms(timeout),
        }
        .into());
    }
    let opts = QueryOptions {
        timeout: left,
        max_samples: st.config.limits.max_samples_per_query,
        slo_catalog: Some(st.slo_catalog.clone()),
        slo_sums: Some(st.slo_sums.clone()),
        ..QueryOptions::default()
    };
    let cancel = Cancel::new();
    if let Job::Instant { time_ms, expr } = &job {
        if reads_only_slo_state(expr) {
            // Native SLO operators answer from the SLO sums in microseconds:
            // evaluated here, as a dashboard or alert rule asks them, not
            // handed to a blocking thread and back (two thread wake-ups,
            // most of such a request's time). The evaluator still keeps to
            // the timeout; nothing here waits on I/O.
            let _slot = permit;
            let snap = st.engine.snapshot();
            return eval_instant(&snap, expr, *time_ms, &opts, &cancel)
                .map(Answer::Value)
                .map_err(RunError::from);
        }
    }
    let mut guard = CancelOnDrop {
        cancel: cancel.clone(),
        armed: true,
    };
    let state = Arc::clone(st);
    let task = tokio::task::spawn_blocking(move || {
        let _slot = permit;
        let snap = state.engine.snapshot();
        let range_cache = &state.range_cache;
        match job {
            Job::Instant { time_ms, expr } => {
                eval_instant(&snap, &expr, time_ms, &opts, &cancel).map(Answer::Value)
            }
            Job::Range {
                start_ms,
                end_ms,
                step_ms,
            } => range_cache
                .range_query(&snap, &req.query, start_ms, end_ms, step_ms, &opts, &cancel)
                .map(Answer::Range),
        }
    });
    // The evaluator checks its clock between series and steps; a single
    // step can still run long (a subquery inside a subquery), so the caller
    // gets its timeout answer on time regardless. The thread keeps its slot
    // until it notices the cancellation: it still holds a core.
    let Ok(out) = tokio::time::timeout(left + OVERRUN_GRACE, task).await else {
        return Err(QueryError::Timeout {
            phase: "evaluation",
            elapsed_ms: ms(started.elapsed()),
            timeout_ms: ms(timeout),
        }
        .into());
    };
    guard.armed = false;
    match out {
        Ok(r) => r.map_err(RunError::from),
        Err(e) => Err(RunError::Internal(e.to_string())),
    }
}

/// A query result as the typed gRPC message.
pub fn value_to_proto(v: Value) -> v1::QueryResponse {
    use v1::query_response::Result as R;
    let result = match v {
        Value::Scalar { t, v } => R::Scalar(v1::ScalarResult {
            time_ms: t,
            value: v,
        }),
        Value::String { t, s } => R::String(v1::StringResult {
            time_ms: t,
            value: s,
        }),
        Value::Vector(samples) => R::Vector(v1::VectorResult {
            samples: samples
                .into_iter()
                .map(|s| v1::VectorSample {
                    labels: labels_to_proto(&s.labels),
                    time_ms: s.t,
                    value: s.v,
                })
                .collect(),
        }),
        Value::Matrix(series) => R::Matrix(v1::MatrixResult {
            series: series
                .into_iter()
                .map(|s| {
                    let (timestamps_ms, values) = s.points.into_iter().unzip();
                    v1::MatrixSeries {
                        labels: labels_to_proto(&s.labels),
                        timestamps_ms,
                        values,
                    }
                })
                .collect(),
        }),
    };
    v1::QueryResponse {
        result: Some(result),
    }
}

fn grpc_timeout(timeout_ms: u64) -> Option<Duration> {
    (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms))
}

/// `Query.Instant`.
pub async fn grpc_instant(
    st: &Arc<AppState>,
    r: v1::InstantRequest,
    tenant: Option<std::sync::Arc<str>>,
) -> Result<v1::QueryResponse, Status> {
    let req = QueryRequest {
        query: r.query,
        range: Range::Instant {
            time_ms: r.time_ms.unwrap_or_else(crate::http::now_ms),
        },
        timeout: grpc_timeout(r.timeout_ms),
        tenant,
    };
    execute(st, "grpc_instant", req)
        .await
        .map(|a| value_to_proto(a.into_value()))
        .map_err(|e| e.to_status())
}

/// `Query.Range`.
pub async fn grpc_range(
    st: &Arc<AppState>,
    r: v1::RangeRequest,
    tenant: Option<std::sync::Arc<str>>,
) -> Result<v1::QueryResponse, Status> {
    let req = QueryRequest {
        query: r.query,
        range: Range::Range {
            start_ms: r.start_ms,
            end_ms: r.end_ms,
            step_ms: r.step_ms,
        },
        timeout: grpc_timeout(r.timeout_ms),
        tenant,
    };
    execute(st, "grpc_range", req)
        .await
        .map(|a| value_to_proto(a.into_value()))
        .map_err(|e| e.to_status())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_engine::Labels;

    #[test]
    fn errors_map_to_prometheus_types_and_grpc_codes() {
        let cases: Vec<(RunError, &str, u16, tonic::Code)> = vec![
            (
                QueryError::BadRequest("step".into()).into(),
                "bad_data",
                400,
                tonic::Code::InvalidArgument,
            ),
            (
                QueryError::Execution("many-to-many".into()).into(),
                "execution",
                422,
                tonic::Code::InvalidArgument,
            ),
            (
                QueryError::TooManySamples { limit: 1 }.into(),
                "execution",
                422,
                tonic::Code::ResourceExhausted,
            ),
            (
                QueryError::Timeout {
                    phase: "eval",
                    elapsed_ms: 2,
                    timeout_ms: 1,
                }
                .into(),
                "timeout",
                503,
                tonic::Code::DeadlineExceeded,
            ),
            (
                RunError::Busy {
                    slots: 1,
                    timeout_ms: 5,
                },
                "timeout",
                503,
                tonic::Code::ResourceExhausted,
            ),
            (
                RunError::Internal("x".into()),
                "internal",
                500,
                tonic::Code::Internal,
            ),
        ];
        for (e, ty, status, code) in cases {
            assert_eq!(e.error_type(), ty, "{e}");
            assert_eq!(e.http_status(), status, "{e}");
            assert_eq!(e.to_status().code(), code, "{e}");
        }
    }

    #[test]
    fn matrix_becomes_columnar_series() {
        let labels = Labels::from_pairs(&[("__name__", "up")]);
        let v = Value::Matrix(vec![nines_query::Series {
            labels,
            points: vec![(1000, 1.0), (2000, 0.0)],
        }]);
        let Some(v1::query_response::Result::Matrix(m)) = value_to_proto(v).result else {
            panic!("not a matrix");
        };
        assert_eq!(m.series[0].timestamps_ms, vec![1000, 2000]);
        assert_eq!(m.series[0].values, vec![1.0, 0.0]);
        assert_eq!(m.series[0].labels[0].value, "up");
    }
}
