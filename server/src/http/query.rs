//! Prometheus's query endpoints: `/api/v1/query`, `/api/v1/query_range`
//! (GET, or POST with a form body) and `/api/v1/format_query`.
//!
//! Parameters are checked in Prometheus's order (times, then step, then
//! timeout) so the first error a request gets is the one Prometheus names.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Extension, State};
use bytes::Bytes;

use crate::auth::Identity;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nines_query::{QueryError, Value};
use serde_json::json;

use super::api::limit;
use super::{json_headers, now_ms, parse_duration, parse_time, success, ApiError, Params};
use crate::query::{execute, Answer, QueryRequest, Range, RunError};
use crate::state::AppState;

impl From<RunError> for ApiError {
    fn from(e: RunError) -> ApiError {
        // Prometheus rejects what fails before evaluation starts (syntax, a
        // range query over a non-vector) as a bad `query` parameter.
        let about_query = match &e {
            RunError::Query(QueryError::Parse(_)) => true,
            RunError::Query(QueryError::BadRequest(m)) => m.starts_with("invalid expression type"),
            _ => false,
        };
        let message = if about_query {
            format!("invalid parameter \"query\": {}", e.message())
        } else {
            e.message()
        };
        ApiError {
            status: StatusCode::from_u16(e.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            error_type: e.error_type(),
            message,
        }
    }
}

/// `timeout`: a duration or seconds; absent or empty: the server's.
fn timeout(p: &Params) -> Result<Option<Duration>, ApiError> {
    match p.get("timeout").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => {
            let ms = parse_duration("timeout", s)?;
            Ok((ms > 0).then(|| Duration::from_millis(ms.unsigned_abs())))
        }
    }
}

fn query_text(p: &Params) -> String {
    p.get("query").unwrap_or_default().to_string()
}

/// Keeps the first `limit` series of a vector or matrix (0: all) and says
/// so in `warnings`, as Prometheus 3 does.
fn respond(mut answer: Answer, limit: usize) -> Response {
    let mut truncated = false;
    if limit > 0 {
        match &mut answer {
            Answer::Value(Value::Vector(s)) if s.len() > limit => {
                s.truncate(limit);
                truncated = true;
            }
            Answer::Value(Value::Matrix(s)) if s.len() > limit => {
                s.truncate(limit);
                truncated = true;
            }
            Answer::Range(r) if r.len() > limit => {
                r.truncate(limit);
                truncated = true;
            }
            _ => {}
        }
    }
    let warnings: &[&str] = if truncated {
        &["results truncated due to limit"]
    } else {
        &[]
    };
    match &answer {
        Answer::Value(v) => {
            let mut body = Vec::new();
            v.write_response(warnings, &mut body);
            (StatusCode::OK, json_headers(), body).into_response()
        }
        Answer::Range(r) => {
            let body = Pieces::new(r.response_pieces(warnings));
            (StatusCode::OK, json_headers(), Body::new(body)).into_response()
        }
    }
}

/// A response body sent as the pieces it was written in, its length known
/// up front (a `Content-Length`, not chunks). A range answer's cached
/// points go to the socket from the range cache's memory, all pieces in
/// one vectored write.
struct Pieces {
    left: VecDeque<Bytes>,
    len: u64,
}

impl Pieces {
    fn new(pieces: Vec<Bytes>) -> Pieces {
        let len = pieces.iter().map(|b| b.len() as u64).sum();
        Pieces {
            left: pieces.into_iter().filter(|b| !b.is_empty()).collect(),
            len,
        }
    }
}

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = self.left.pop_front();
        if let Some(b) = &next {
            self.len -= b.len() as u64;
        }
        Poll::Ready(next.map(|b| Ok(http_body::Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.left.is_empty()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

/// `GET|POST /api/v1/query`: `query`, `time` (default now), `timeout`,
/// `limit`.
pub async fn instant(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    p: Params,
) -> Result<Response, ApiError> {
    let time_ms = match p.get("time").filter(|s| !s.is_empty()) {
        Some(s) => parse_time("time", s)?,
        None => now_ms(),
    };
    let timeout = timeout(&p)?;
    let limit = limit(&p)?;
    let req = QueryRequest {
        query: query_text(&p),
        range: Range::Instant { time_ms },
        timeout,
        tenant: id.tenant.clone(),
    };
    let v = execute(&st, "query", req).await?;
    Ok(respond(v, limit))
}

/// `GET|POST /api/v1/query_range`: `query`, `start`, `end`, `step` (a
/// duration or seconds), `timeout`, `limit`.
pub async fn range(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    p: Params,
) -> Result<Response, ApiError> {
    let start_ms = parse_time("start", p.get("start").unwrap_or_default())?;
    let end_ms = parse_time("end", p.get("end").unwrap_or_default())?;
    if end_ms < start_ms {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let step_ms = parse_duration("step", p.get("step").unwrap_or_default())?;
    let timeout = timeout(&p)?;
    let limit = limit(&p)?;
    let req = QueryRequest {
        query: query_text(&p),
        range: Range::Range {
            start_ms,
            end_ms,
            step_ms,
        },
        timeout,
        tenant: id.tenant.clone(),
    };
    let v = execute(&st, "query_range", req).await?;
    Ok(respond(v, limit))
}

/// `GET|POST /api/v1/format_query`: the query printed canonically.
pub async fn format_query(p: Params) -> Result<Response, ApiError> {
    let expr = nines_query::parse(p.get("query").unwrap_or_default())
        .map_err(|e| ApiError::bad_data(e.to_string()))?;
    Ok(success(json!(expr.to_string())))
}
