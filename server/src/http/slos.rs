//! The SLO API: `GET|POST /api/v1/slos`, `GET|DELETE /api/v1/slos/{name}`,
//! `GET /api/v1/slos/{name}/history` (docs/http-api.md, "SLOs"). Answers use
//! Prometheus's envelope; times are RFC 3339 strings in UTC.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nines_slo::model::{Budgeting, Window};
use nines_slo::store::{
    ApplyRequest, AuditEvent, Change, Origin, SloInfo, VersionInfo, VersionReason,
};
use nines_slo::{Slo, SloError};
use serde_json::{json, Value as Json};

use super::exclusions::exclusion_json;
use super::{json_headers, now_ms, parse_time, success, ApiError, Params};
use crate::state::AppState;

/// A time as RFC 3339 (`2026-01-05T00:00:00.123Z`), `null` when absent.
pub(super) fn time_json(ms: Option<i64>) -> Json {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or(Json::Null, |t| Json::String(t.to_string()))
}

/// A length in the largest unit that divides it: `28d`, `90m`, `1500ms`.
pub(super) fn duration_text(ms: i64) -> String {
    for (unit, per) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms != 0 && ms % per == 0 {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

/// Query-string parameters (the body of these requests is not a form).
pub(super) fn query_params(raw: Option<String>) -> Params {
    Params(
        raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default(),
    )
}

pub(super) fn author(p: &Params) -> Option<String> {
    p.get("author")
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

/// An SLO store error as an API error: bad input 400 (a parse error also
/// gets `location`), unknown names 404, conflicts 409, storage 500.
pub(super) fn slo_error(e: SloError) -> Response {
    let (status, error_type) = match &e {
        SloError::Parse { .. }
        | SloError::Invalid(_)
        | SloError::NotAnEdge { .. }
        | SloError::Time(_) => (StatusCode::BAD_REQUEST, "bad_data"),
        SloError::UnknownSlo(_) | SloError::UnknownExclusion(_) => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        SloError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
        SloError::Engine(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    let mut body = json!({"status": "error", "errorType": error_type, "error": e.to_string()});
    if let SloError::Parse { at, .. } = &e {
        body["location"] = json!({
            "file": at.file, "line": at.line, "column": at.column, "field": at.field,
        });
    }
    (status, json_headers(), body.to_string()).into_response()
}

/// Runs store work (it fsyncs) off the async runtime.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SloError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(slo_error),
        Err(e) => Err(ApiError::internal(format!("task failed: {e}")).into_response()),
    }
}

fn window_text(w: &Window) -> String {
    match w {
        Window::Rolling { ms } => format!("rolling {}", duration_text(*ms)),
        Window::Calendar { unit, tz } => format!("calendar {} {tz}", unit.as_str()),
    }
}

fn budgeting_text(b: &Budgeting) -> String {
    match b {
        Budgeting::Occurrences => "occurrences".into(),
        Budgeting::Timeslices {
            slice_ms,
            slice_target,
        } => format!("timeslices {} >= {slice_target}", duration_text(*slice_ms)),
        Budgeting::RatioTimeslices { slice_ms } => {
            format!("ratio_timeslices {}", duration_text(*slice_ms))
        }
    }
}

fn summary_json(def: &Slo) -> serde_json::Map<String, Json> {
    let mut m = serde_json::Map::new();
    m.insert("service".into(), json!(def.service));
    m.insert("description".into(), json!(def.description));
    m.insert("target".into(), json!(def.target()));
    m.insert("window".into(), json!(window_text(&def.window)));
    m.insert("budgeting".into(), json!(budgeting_text(&def.budgeting)));
    m
}

fn version_json(v: &VersionInfo) -> Json {
    json!({
        "version": v.version.version,
        "effective_from": time_json(Some(v.version.effective_from)),
        "effective_to": time_json(v.version.effective_to),
        "applied_at": time_json(Some(v.applied_at)),
        "author": v.author,
        "record": v.seq,
        "definition": v.version.def,
    })
}

/// One line of the list: the newest version's essentials.
fn list_item(s: &SloInfo) -> Json {
    let mut m = serde_json::Map::new();
    m.insert("name".into(), json!(s.name));
    if let Some(cur) = s.current() {
        m.extend(summary_json(&cur.version.def));
        m.insert("version".into(), json!(cur.version.version));
        m.insert(
            "effective_from".into(),
            time_json(Some(cur.version.effective_from)),
        );
    }
    m.insert("versions".into(), json!(s.versions.len()));
    m.insert("retired_at".into(), time_json(s.retired_at));
    Json::Object(m)
}

fn reason_text(r: VersionReason) -> &'static str {
    match r {
        VersionReason::Created => "created",
        VersionReason::Changed => "changed",
        VersionReason::Reactivated => "reactivated",
    }
}

/// An audit event as the history endpoint shows it.
pub(super) fn event_json(e: &AuditEvent) -> Json {
    let mut m = serde_json::Map::new();
    m.insert("record".into(), json!(e.seq));
    m.insert(
        "record_hash".into(),
        json!(nines_engine::chainlog::hex(&e.record_hash)),
    );
    m.insert("at".into(), time_json(Some(e.at)));
    m.insert("author".into(), json!(e.author));
    match &e.change {
        Change::SloVersion {
            name,
            version,
            effective_from,
            reason,
            backdated,
        } => {
            m.insert("change".into(), json!(reason_text(*reason)));
            m.insert("slo".into(), json!(name));
            m.insert("version".into(), json!(version));
            m.insert("effective_from".into(), time_json(Some(*effective_from)));
            m.insert("backdated".into(), json!(backdated));
        }
        Change::SloRetired {
            name,
            version,
            effective_to,
        } => {
            m.insert("change".into(), json!("retired"));
            m.insert("slo".into(), json!(name));
            m.insert("version".into(), json!(version));
            m.insert("effective_to".into(), time_json(Some(*effective_to)));
        }
        Change::ExclusionAdded { exclusion } => {
            m.insert("change".into(), json!("exclusion_added"));
            m.insert("exclusion".into(), exclusion_json(exclusion));
        }
        Change::ExclusionDeleted { exclusion } => {
            m.insert("change".into(), json!("exclusion_deleted"));
            m.insert("exclusion".into(), exclusion_json(exclusion));
        }
        Change::GateOverride {
            slo,
            approver,
            reason,
            decision,
        } => {
            m.insert("change".into(), json!("gate_override"));
            m.insert("slo".into(), json!(slo));
            m.insert("approver".into(), json!(approver));
            m.insert("reason".into(), json!(reason));
            m.insert("decision".into(), json!(decision));
        }
    }
    Json::Object(m)
}

/// `GET /api/v1/slos`: every SLO, retired ones included, by name.
pub async fn list(State(st): State<Arc<AppState>>) -> Response {
    let items: Vec<Json> = st.slos.list().iter().map(list_item).collect();
    success(Json::Array(items))
}

/// `GET /api/v1/slos/{name}`: the current version and every version.
pub async fn get(State(st): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    let Some(s) = st.slos.get(&name) else {
        return slo_error(SloError::UnknownSlo(name));
    };
    let mut m = match list_item(&s) {
        Json::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    m.insert(
        "current".into(),
        s.current().map_or(Json::Null, version_json),
    );
    m.insert(
        "versions".into(),
        Json::Array(s.versions.iter().map(version_json).collect()),
    );
    success(Json::Object(m))
}

/// `GET /api/v1/slos/{name}/history`: the recorded changes that concern it.
pub async fn history(State(st): State<Arc<AppState>>, Path(name): Path<String>) -> Response {
    match st.slos.history(&name) {
        Some(events) => success(Json::Array(events.iter().map(event_json).collect())),
        None => slo_error(SloError::UnknownSlo(name)),
    }
}

/// `POST /api/v1/slos?file=F&author=A&effective_from=T`: the body is an
/// OpenSLO file (several `---`-separated SLOs), applied all or none.
pub async fn apply(
    State(st): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, Response> {
    let p = query_params(raw);
    let file = p
        .get("file")
        .filter(|f| !f.is_empty())
        .unwrap_or("request body")
        .to_string();
    let effective_from = p
        .get("effective_from")
        .filter(|s| !s.is_empty())
        .map(|s| parse_time("effective_from", s))
        .transpose()
        .map_err(IntoResponse::into_response)?;
    let yaml = String::from_utf8(body.to_vec()).map_err(|e| {
        ApiError::bad_data(format!("{file}: the body is not UTF-8 text: {e}")).into_response()
    })?;
    let origin = Origin {
        at: now_ms(),
        author: author(&p),
    };
    let store = Arc::clone(&st.slos);
    let applied = blocking(move || {
        store.apply(
            ApplyRequest {
                file: &file,
                yaml: &yaml,
                effective_from,
            },
            origin,
        )
    })
    .await?;
    let items: Vec<Json> = applied
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "version": a.version,
                "change": a.reason.map_or("unchanged", reason_text),
            })
        })
        .collect();
    Ok(success(json!({ "applied": items })))
}

/// `DELETE /api/v1/slos/{name}?author=A`: retires the SLO.
pub async fn retire(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let origin = Origin {
        at: now_ms(),
        author: author(&query_params(raw)),
    };
    let store = Arc::clone(&st.slos);
    let event = blocking(move || store.retire(&name, origin)).await?;
    Ok(success(event_json(&event)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_print_plainly() {
        assert_eq!(duration_text(28 * 86_400_000), "28d");
        assert_eq!(duration_text(30 * 86_400_000), "30d");
        assert_eq!(duration_text(5_400_000), "90m");
        assert_eq!(duration_text(1_500), "1500ms");
        assert_eq!(duration_text(0), "0ms");
        assert_eq!(
            time_json(Some(1_767_571_200_123)),
            json!("2026-01-05T00:00:00.123Z")
        );
        assert_eq!(time_json(None), Json::Null);
    }
}
