//! `/api/v1/annotations`: deploy and incident annotations (see
//! [`crate::annotations`]). Parameters come as a query string or a
//! form-encoded body, like the rest of the Prometheus-style API.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::api::blocking;
use super::{now_ms, parse_time, success, ApiError, Params};
use crate::annotations::{self, Annotation, AnnotationError, Filter};
use crate::state::AppState;

fn text(p: &Params, key: &str) -> Option<String> {
    p.get(key).filter(|v| !v.is_empty()).map(str::to_string)
}

fn refused(e: AnnotationError) -> ApiError {
    match e {
        AnnotationError::Invalid(_) => ApiError::bad_data(e.to_string()),
        AnnotationError::Rejected(_) => ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error_type: "execution",
            message: e.to_string(),
        },
        AnnotationError::Storage(_) => ApiError::internal(e.to_string()),
    }
}

/// `POST /api/v1/annotations`: `kind` (deploy|incident), `service`,
/// `version`, `env`, `commit`, `id`, `severity`, `at` (default now), `end`.
pub async fn add(State(st): State<Arc<AppState>>, p: Params) -> Result<Response, ApiError> {
    let at = match p.get("at") {
        Some(s) if !s.is_empty() => parse_time("at", s)?,
        _ => now_ms(),
    };
    let end = match p.get("end") {
        Some(s) if !s.is_empty() => Some(parse_time("end", s)?),
        _ => None,
    };
    let a = Annotation {
        kind: text(&p, "kind").unwrap_or_else(|| "deploy".into()),
        service: text(&p, "service")
            .ok_or_else(|| ApiError::bad_data("missing parameter \"service\""))?,
        version: text(&p, "version"),
        env: text(&p, "env"),
        commit: text(&p, "commit"),
        id: text(&p, "id"),
        severity: text(&p, "severity"),
        at,
        end,
    };
    a.validate().map_err(refused)?;
    let (engine, stored) = (Arc::clone(&st.engine), a.clone());
    let new = blocking(move || annotations::write(&engine, &stored).map_err(refused)).await?;
    Ok(success(json!({
        "annotation": a,
        "labels": a.labels().to_string(),
        "created": new,
    })))
}

/// `GET /api/v1/annotations`: filters `kind`, `service`, `env`, and the
/// range `start` (default 30 days ago) to `end` (default now).
pub async fn list(State(st): State<Arc<AppState>>, p: Params) -> Result<Response, ApiError> {
    let now = now_ms();
    let end = match p.get("end") {
        Some(s) => parse_time("end", s)?,
        None => now,
    };
    let start = match p.get("start") {
        Some(s) => parse_time("start", s)?,
        None => end - 30 * 86_400_000,
    };
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let f = Filter {
        kind: text(&p, "kind"),
        service: text(&p, "service"),
        env: text(&p, "env"),
        start,
        end,
    };
    let engine = Arc::clone(&st.engine);
    let found = blocking(move || annotations::list(&engine, &f).map_err(refused)).await?;
    Ok(success(json!(found)))
}
