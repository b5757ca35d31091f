//! The HTTP server: Prometheus's HTTP API (what Grafana's Prometheus data
//! source sends), the remote-write receiver, and operations endpoints. One
//! file per area: `query.rs` (PromQL queries), `api.rs` (labels, series,
//! metadata, build information), `write.rs` (remote-write), `slos.rs` and
//! `exclusions.rs` (the SLO store), `ops.rs` (health, readiness, /metrics).

mod annotate;
mod api;
mod audit;
mod exclusions;
mod guard;
mod locks;
mod ops;
mod query;
mod report;
mod slo_ops;
mod slos;
mod write;

pub use write::decode_remote_write_body;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde_json::json;

use crate::state::AppState;

pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.config.limits.max_request_bytes;
    Router::new()
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route(
            "/api/v1/format_query",
            get(query::format_query).post(query::format_query),
        )
        .route("/api/v1/labels", get(api::labels).post(api::labels))
        .route("/api/v1/label/{name}/values", get(api::label_values))
        .route("/api/v1/series", get(api::series).post(api::series))
        .route("/api/v1/metadata", get(api::metadata))
        .route("/api/v1/status/buildinfo", get(api::buildinfo))
        .route(
            "/api/v1/query_exemplars",
            get(api::exemplars).post(api::exemplars),
        )
        .route("/api/v1/write", post(write::remote_write))
        .route(
            "/api/v1/annotations",
            get(annotate::list).post(annotate::add),
        )
        .route("/api/v1/slos", get(slos::list).post(slos::apply))
        .route("/api/v1/slos/{name}", get(slos::get).delete(slos::retire))
        .route("/api/v1/slos/{name}/history", get(slos::history))
        .route(
            "/api/v1/exclusions",
            get(exclusions::list).post(exclusions::add),
        )
        .route("/api/v1/exclusions/{id}", delete(exclusions::delete))
        .route("/api/v1/gate", post(slo_ops::gate))
        .route("/api/v1/audit", get(audit::log))
        .route("/api/v1/locks", get(locks::list).post(locks::set))
        .route("/api/v1/locks/{resolution}", delete(locks::remove))
        .route("/api/v1/incidents", get(slo_ops::incidents))
        .route("/api/v1/report", get(report::report).post(report::report))
        .route("/api/v1/alerts", get(slo_ops::alerts))
        .route("/api/v1/rules", get(slo_ops::rules))
        .route("/-/healthy", get(ops::healthy))
        .route("/-/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/verify", post(ops::verify))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            guard::guard,
        ))
        .with_state(state)
}

/// An API error in Prometheus's envelope:
/// `{"status":"error","errorType":"bad_data","error":"..."}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn bad_data(msg: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error_type: "bad_data",
            message: msg.into(),
        }
    }

    pub fn internal(msg: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error_type: "internal",
            message: msg.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"status": "error", "errorType": self.error_type, "error": self.message});
        (self.status, json_headers(), body.to_string()).into_response()
    }
}

impl From<nines_query::QueryError> for ApiError {
    fn from(e: nines_query::QueryError) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(e.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            error_type: e.error_type(),
            message: e.to_string(),
        }
    }
}

pub(crate) fn json_headers() -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )]
}

/// A success response: `{"status":"success","data":...}`.
pub(crate) fn success(data: serde_json::Value) -> Response {
    let body = json!({"status": "success", "data": data});
    (StatusCode::OK, json_headers(), body.to_string()).into_response()
}

/// Request parameters from the query string and, for form-encoded POSTs,
/// the body (as Prometheus accepts both). Keys may repeat (`match[]`).
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Params, ApiError> {
        let mut out: Vec<(String, String)> = req
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if req.method() == Method::POST && is_form {
            let body = Bytes::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_data(format!("cannot read the request body: {e}")))?;
            out.extend(form_urlencoded::parse(&body).into_owned());
        }
        Ok(Params(out))
    }
}

/// Parses a time parameter: RFC 3339 or unix seconds (fractions allowed),
/// as Prometheus does; returns milliseconds.
pub fn parse_time(name: &str, s: &str) -> Result<i64, ApiError> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() {
            return Ok((secs * 1000.0).round() as i64);
        }
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    Err(ApiError::bad_data(format!(
        "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid timestamp"
    )))
}

/// Parses a duration parameter as Prometheus does: seconds as a float (any
/// sign; the caller checks the range) or a PromQL duration (`30s`, `1h5m`);
/// returns milliseconds.
pub fn parse_duration(name: &str, s: &str) -> Result<i64, ApiError> {
    let s = s.trim();
    let bad = || {
        ApiError::bad_data(format!(
            "invalid parameter \"{name}\": cannot parse \"{s}\" to a valid duration"
        ))
    };
    if let Ok(secs) = s.parse::<f64>() {
        let ms = (secs * 1000.0).round();
        // Go's time.Duration bound, in ms.
        if ms.is_finite() && ms.abs() < 9.2e15 {
            return Ok(ms as i64);
        }
        return Err(bad());
    }
    nines_query::syntax::parse_duration(s).map_err(|_| bad())
}

/// Times as Prometheus's API clamps "all time" for labels and series.
pub const MIN_TIME: i64 = i64::MIN / 2;
pub const MAX_TIME: i64 = i64::MAX / 2;

pub fn now_ms() -> i64 {
    nines_engine::engine::now_ms()
}
