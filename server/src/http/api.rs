//! Prometheus HTTP API endpoints: queries, labels, series, metadata, build
//! information, exemplars.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};

use crate::auth::Identity;
use axum::response::Response;
use nines_engine::index::{parse_selector, Matcher};
use nines_engine::is_valid_label_name;
use serde_json::{json, Value as Json};

use super::{parse_time, success, ApiError, Params, MAX_TIME, MIN_TIME};
use crate::state::AppState;

/// The `match[]` selectors of a request, parsed and scoped to the
/// caller's tenant.
fn selectors(p: &Params, id: &Identity) -> Result<Vec<Vec<Matcher>>, ApiError> {
    let mut sets = p
        .all("match[]")
        .into_iter()
        .map(|s| parse_selector(s).map_err(|e| ApiError::bad_data(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    crate::auth::scope_selector_sets(&mut sets, id.tenant.as_deref());
    Ok(sets)
}

fn time_range(p: &Params) -> Result<(i64, i64), ApiError> {
    let start = p
        .get("start")
        .map(|s| parse_time("start", s))
        .transpose()?
        .unwrap_or(MIN_TIME);
    let end = p
        .get("end")
        .map(|s| parse_time("end", s))
        .transpose()?
        .unwrap_or(MAX_TIME);
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    Ok((start, end))
}

pub(super) fn limit(p: &Params) -> Result<usize, ApiError> {
    match p.get("limit") {
        None | Some("") => Ok(0),
        Some(s) => s.parse::<usize>().map_err(|_| {
            ApiError::bad_data(format!(
                "invalid parameter \"limit\": cannot parse \"{s}\" to a non-negative integer"
            ))
        }),
    }
}

fn truncated<T>(mut v: Vec<T>, limit: usize) -> Vec<T> {
    if limit > 0 {
        v.truncate(limit);
    }
    v
}

/// Runs engine work off the async runtime.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("task failed: {e}")))?
}

/// `GET|POST /api/v1/labels`
pub async fn labels(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    p: Params,
) -> Result<Response, ApiError> {
    let sels = selectors(&p, &id)?;
    let (start, end) = time_range(&p)?;
    let limit = limit(&p)?;
    let names = blocking(move || {
        crate::lookup::label_names(&st.engine, &sels, start, end).map_err(storage)
    })
    .await?;
    Ok(success(json!(truncated(names, limit))))
}

/// `GET /api/v1/label/<name>/values`
pub async fn label_values(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    Path(name): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    if !is_valid_label_name(&name) {
        return Err(ApiError::bad_data(format!(
            "invalid label name: \"{name}\""
        )));
    }
    let sels = selectors(&p, &id)?;
    let (start, end) = time_range(&p)?;
    let limit = limit(&p)?;
    let values = blocking(move || {
        crate::lookup::label_values(&st.engine, &name, &sels, start, end).map_err(storage)
    })
    .await?;
    Ok(success(json!(truncated(values, limit))))
}

/// `GET|POST /api/v1/series`
pub async fn series(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    p: Params,
) -> Result<Response, ApiError> {
    let sels = selectors(&p, &id)?;
    if sels.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = time_range(&p)?;
    let limit = limit(&p)?;
    let series =
        blocking(move || crate::lookup::series(&st.engine, &sels, start, end).map_err(storage))
            .await?;
    let data: Vec<Json> = truncated(series, limit)
        .iter()
        .map(nines_query::value::labels_json)
        .collect();
    Ok(success(Json::Array(data)))
}

/// `GET /api/v1/metadata`: what remote-write senders reported.
pub async fn metadata(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    p: Params,
) -> Result<Response, ApiError> {
    let limit = limit(&p)?;
    let metric = p
        .get("metric")
        .filter(|m| !m.is_empty())
        .map(str::to_string);
    let meta = st.metadata.read();
    let mut out = serde_json::Map::new();
    // Metadata is reported per family across senders: a tenant-bound
    // token sees none rather than other tenants' metric names.
    let visible = id.tenant.is_none();
    for (name, m) in meta.iter().filter(|_| visible) {
        if metric.as_ref().is_some_and(|x| x != name) {
            continue;
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
        out.insert(
            name.clone(),
            json!([{"type": m.kind, "help": m.help, "unit": m.unit}]),
        );
    }
    Ok(success(Json::Object(out)))
}

/// `GET /api/v1/status/buildinfo`
pub async fn buildinfo() -> Response {
    success(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
        "application": "nines",
    }))
}

/// `GET|POST /api/v1/query_exemplars`: nines stores no exemplars.
pub async fn exemplars(p: Params) -> Result<Response, ApiError> {
    if p.get("query").is_none_or(str::is_empty) {
        return Err(ApiError::bad_data(
            "invalid parameter \"query\": query must not be empty",
        ));
    }
    time_range(&p)?;
    Ok(success(json!([])))
}

pub(super) fn storage(e: nines_engine::Error) -> ApiError {
    ApiError::internal(e.to_string())
}
