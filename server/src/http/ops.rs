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
    let body = tokio::task::spawn_blocking(move || {
        st2.metrics
            .render(&st2.engine, &st2.series_cache, st2.range_cache.stats())
    })
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

/// `POST /api/v1/verify`: the integrity check `nines verify` runs, over the
/// live data directory (`decode=true` also decodes every block). 200 with
/// the report either way; `data.ok` says whether anything is damaged.
pub async fn verify(
    State(st): State<Arc<AppState>>,
    p: super::Params,
) -> Result<Response, super::ApiError> {
    let decode = matches!(p.get("decode"), Some("true" | "1" | "yes"));
    let st2 = Arc::clone(&st);
    let out = tokio::task::spawn_blocking(move || {
        if decode {
            crate::integrity::check(
                &st2.config.data_dir,
                nines_engine::verify::VerifyOptions { decode: true },
                &mut |_, _| {},
            )
        } else {
            crate::integrity::check_for_server(&st2.config.data_dir, &st2.metrics)
        }
    })
    .await
    .map_err(|e| super::ApiError::internal(format!("task failed: {e}")))?
    .map_err(|e| super::ApiError::internal(e.to_string()))?;
    let mut data = serde_json::to_value(&out).unwrap_or_default();
    data["ok"] = serde_json::json!(out.ok());
    Ok(super::success(data))
}
