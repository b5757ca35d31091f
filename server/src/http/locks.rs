//! Retention locks over HTTP: `GET /api/v1/locks`, `POST /api/v1/locks`
//! (set or lengthen; admin), `DELETE /api/v1/locks/{resolution}` (an
//! expired lock; admin). Every change and every refusal is audited.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use nines_engine::locks::{parse_resolution, resolution_name, RetentionLock, SetError};
use serde_json::{json, Value as Json};

use super::api::blocking;
use super::{now_ms, parse_time, success, ApiError, Params};
use crate::auth::Identity;
use crate::state::AppState;

fn lock_json(l: &RetentionLock) -> Json {
    let t = |ms: i64| super::slos::time_json(Some(ms));
    json!({
        "resolution": resolution_name(l.resolution_s),
        "keep": keep_text(l.keep_ms),
        "keep_ms": l.keep_ms,
        "until": t(l.until_ms),
        "set_at": t(l.at),
        "author": l.author,
        "reason": l.reason,
        "active": l.active,
        "in_force": l.in_force(now_ms()),
    })
}

/// `7y` for whole 365-day years (PromQL's `y`), else as SLO windows print.
fn keep_text(ms: i64) -> String {
    const YEAR: i64 = 365 * 86_400_000;
    if ms % YEAR == 0 {
        format!("{}y", ms / YEAR)
    } else {
        super::slos::duration_text(ms)
    }
}

fn resolution(s: &str) -> Result<u32, ApiError> {
    parse_resolution(s).ok_or_else(|| {
        ApiError::bad_data(format!(
            "invalid resolution {s:?}: expected raw, 1m, 1h or 1d"
        ))
    })
}

/// Who acts: the `author` given, else the token's name.
fn author(p: &Params, id: &Identity) -> String {
    p.get("author")
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map_or_else(|| id.name.to_string(), str::to_string)
}

/// `GET /api/v1/locks`: each resolution's lock as last set, and every
/// change.
pub async fn list(State(st): State<Arc<AppState>>) -> Response {
    let locks = st.engine.locks();
    success(json!({
        "locks": locks.list().iter().map(lock_json).collect::<Vec<_>>(),
        "history": locks.history().iter().map(lock_json).collect::<Vec<_>>(),
    }))
}

fn refused(st: &AppState, e: SetError, actor: &str, detail: Json) -> ApiError {
    match e {
        SetError::Refused(r) => {
            let mut d = detail;
            d["error"] = json!(r.to_string());
            st.audit.record("lock_refused", Some(actor), now_ms(), d);
            ApiError {
                status: StatusCode::CONFLICT,
                error_type: "conflict",
                message: r.to_string(),
            }
        }
        SetError::Storage(e) => ApiError::internal(e.to_string()),
    }
}

/// `POST /api/v1/locks`: `resolution` (raw|1m|1h|1d), `keep` (`7y`,
/// `400d`), `until` (RFC 3339 or unix seconds), `reason`, `author`.
pub async fn set(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    p: Params,
) -> Result<Response, ApiError> {
    let need = |k: &str| {
        p.get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::bad_data(format!("missing parameter \"{k}\"")))
    };
    let res = resolution(need("resolution")?)?;
    let keep_ms = super::parse_duration("keep", need("keep")?)?;
    let until_ms = parse_time("until", need("until")?)?;
    let reason = need("reason")?.to_string();
    let actor = author(&p, &id);
    let now = now_ms();
    let lock = RetentionLock {
        resolution_s: res,
        keep_ms,
        until_ms,
        at: now,
        author: actor.clone(),
        reason,
        active: true,
    };
    let detail = serde_json::to_value(&lock).unwrap_or_default();
    let st2 = Arc::clone(&st);
    let out = blocking(move || match st2.engine.locks().set(lock.clone(), now) {
        Ok(prev) => {
            let mut d = json!({"lock": lock_json(&lock)});
            if let Some(p) = &prev {
                d["previous"] = lock_json(p);
            }
            let kind = if prev.is_some() {
                "lock_extended"
            } else {
                "lock_added"
            };
            st2.audit.record(kind, Some(&actor), now, d);
            Ok(lock_json(&lock))
        }
        Err(e) => Err(refused(&st2, e, &actor, json!({"requested": detail}))),
    })
    .await?;
    Ok(success(out))
}

/// `DELETE /api/v1/locks/{resolution}?reason=..&author=..`: removes a lock
/// that has expired; one in force is refused.
pub async fn remove(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    Path(res): Path<String>,
    p: Params,
) -> Result<Response, ApiError> {
    let res = resolution(&res)?;
    let actor = author(&p, &id);
    let reason = p.get("reason").unwrap_or("").to_string();
    let now = now_ms();
    let st2 = Arc::clone(&st);
    let out = blocking(
        move || match st2.engine.locks().remove(res, &actor, &reason, now) {
            Ok(l) => {
                st2.audit.record(
                    "lock_removed",
                    Some(&actor),
                    now,
                    json!({"lock": lock_json(&l)}),
                );
                Ok(lock_json(&l))
            }
            Err(e) => Err(refused(
                &st2,
                e,
                &actor,
                json!({"remove": resolution_name(res), "reason": reason}),
            )),
        },
    )
    .await?;
    Ok(success(out))
}
