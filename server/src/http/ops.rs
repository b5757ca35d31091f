//! Operations endpoints: liveness, readiness, the server's own metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// `/-/healthy`: the process serves HTTP.
pub async fn healthy() -> Response {
    (StatusCode::OK, "nines is Healthy.\n").into_response()
}

/// `/-/ready`: the data directory is open and the server takes traffic.
pub async fn ready(State(st): State<Arc<AppState>>) -> Response {
    if st.is_ready() {
        (StatusCode::OK, "nines is Ready.\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "nines is not ready.\n").into_response()
    }
}

/// `/metrics` in the Prometheus text format.
pub async fn metrics(State(st): State<Arc<AppState>>) -> Response {
    let st2 = Arc::clone(&st);
    let body = tokio::task::spawn_blocking(move || st2.metrics.render(&st2.engine))
        .await
        .unwrap_or_default();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}
