//! `GET /api/v1/audit`: the audit trail, oldest first.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::Value as Json;

use super::{parse_time, success, ApiError, Params};
use crate::state::AppState;

/// Parameters: `since` (RFC 3339 or unix seconds; entries at or after it),
/// `kind` (repeatable or comma separated; any of them), `limit` (the newest
/// N of what matches).
pub async fn log(State(st): State<Arc<AppState>>, p: Params) -> Result<Response, ApiError> {
    let since = match p.get("since").filter(|s| !s.is_empty()) {
        Some(t) => Some(parse_time("since", t)?),
        None => None,
    };
    let kinds: Vec<String> = p
        .all("kind")
        .iter()
        .flat_map(|k| k.split(','))
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect();
    let limit = match p.get("limit").filter(|s| !s.is_empty()) {
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            ApiError::bad_data(format!("invalid parameter \"limit\": {l:?} is not a count"))
        })?),
        None => None,
    };
    let mut entries = st.audit.entries(since, &kinds);
    if let Some(n) = limit {
        let drop = entries.len().saturating_sub(n);
        entries.drain(..drop);
    }
    let (seq, head) = st.audit.head();
    Ok(success(serde_json::json!({
        "head": {"seq": seq, "hash": nines_engine::chainlog::hex(&head)},
        "entries": entries.iter().map(|e| e.to_json()).collect::<Vec<Json>>(),
    })))
}
