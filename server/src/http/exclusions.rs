//! The exclusion API: `GET|POST /api/v1/exclusions`, `DELETE
//! /api/v1/exclusions/{id}` (docs/http-api.md, "Exclusions").

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use nines_slo::exclusion::{Category, Exclusion, Recurrence, Schedule, Scope};
use nines_slo::store::{ExclusionInfo, NewExclusion, Origin};
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::slos::{author, blocking, duration_text, query_params, time_json};
use super::{now_ms, parse_duration, parse_time, success, ApiError};
use crate::state::AppState;

/// An exclusion as the API shows it.
pub(super) fn exclusion_json(e: &Exclusion) -> Json {
    let mut m = serde_json::Map::new();
    m.insert("id".into(), json!(e.id));
    match &e.scope {
        Scope::All => {
            m.insert("all".into(), json!(true));
            m.insert("slos".into(), json!([]));
        }
        Scope::Slos(names) => {
            m.insert("all".into(), json!(false));
            m.insert("slos".into(), json!(names));
        }
    }
    match &e.schedule {
        Schedule::Once { start, end } => {
            m.insert("start".into(), time_json(Some(*start)));
            m.insert("end".into(), time_json(Some(*end)));
        }
        Schedule::Recurring(r) => {
            m.insert("rrule".into(), json!(r.rule()));
            m.insert("duration".into(), json!(duration_text(r.duration_ms)));
            m.insert("tz".into(), json!(r.tz));
        }
    }
    m.insert("category".into(), json!(e.category));
    m.insert("reason".into(), json!(e.reason));
    m.insert("author".into(), json!(e.author));
    Json::Object(m)
}

fn info_json(e: &ExclusionInfo) -> Json {
    let mut j = exclusion_json(&e.exclusion);
    if let Json::Object(m) = &mut j {
        m.insert("created_at".into(), time_json(Some(e.created_at)));
        m.insert("record".into(), json!(e.seq));
        m.insert("deleted_at".into(), time_json(e.deleted_at));
        m.insert("deleted_by".into(), json!(e.deleted_by));
    }
    j
}

/// The body of `POST /api/v1/exclusions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBody {
    #[serde(default)]
    slos: Vec<String>,
    #[serde(default)]
    all: bool,
    #[serde(default)]
    start: Option<Json>,
    #[serde(default)]
    end: Option<Json>,
    #[serde(default)]
    rrule: Option<String>,
    #[serde(default)]
    duration: Option<Json>,
    #[serde(default)]
    tz: Option<String>,
    #[serde(default)]
    category: Option<Category>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    author: String,
}

/// A JSON string or number as text, for the time and duration parsers.
fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl NewBody {
    fn into_new(self) -> Result<NewExclusion, ApiError> {
        let scope = match (self.all, self.slos.is_empty()) {
            (true, true) => Scope::All,
            (false, false) => Scope::Slos(self.slos),
            _ => {
                return Err(ApiError::bad_data(
                    "give either \"slos\" (a list of SLO names) or \"all\": true",
                ))
            }
        };
        let schedule = match (self.start, self.end, self.rrule) {
            (Some(s), Some(e), None) if self.duration.is_none() && self.tz.is_none() => {
                Schedule::Once {
                    start: parse_time("start", &text(&s))?,
                    end: parse_time("end", &text(&e))?,
                }
            }
            (None, None, Some(rule)) => {
                let d = self.duration.as_ref().ok_or_else(|| {
                    ApiError::bad_data("a recurring exclusion needs \"duration\" (e.g. \"2h\")")
                })?;
                let duration_ms = parse_duration("duration", &text(d))?;
                let tz = self.tz.as_deref().unwrap_or("UTC");
                Schedule::Recurring(
                    Recurrence::parse(&rule, duration_ms, tz)
                        .map_err(|e| ApiError::bad_data(e.to_string()))?,
                )
            }
            _ => {
                return Err(ApiError::bad_data(
                    "give either \"start\" and \"end\", or \"rrule\", \"duration\" and optionally \"tz\"",
                ))
            }
        };
        Ok(NewExclusion {
            scope,
            schedule,
            category: self.category.unwrap_or(Category::Other),
            reason: self.reason,
            author: self.author,
        })
    }
}

/// `GET /api/v1/exclusions?slo=NAME&deleted=true`: in the order they were
/// added; only those covering `slo` when given; deleted ones only when
/// asked.
pub async fn list(State(st): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Response {
    let p = query_params(raw);
    let deleted = matches!(p.get("deleted"), Some("true" | "1"));
    let slo = p.get("slo").filter(|s| !s.is_empty());
    let items: Vec<Json> = st
        .slos
        .exclusion_list(deleted)
        .iter()
        .filter(|e| slo.is_none_or(|s| e.exclusion.covers(s)))
        .map(info_json)
        .collect();
    success(Json::Array(items))
}

/// `POST /api/v1/exclusions` with a JSON body: the new exclusion, with its
/// id.
pub async fn add(State(st): State<Arc<AppState>>, body: Bytes) -> Result<Response, Response> {
    let req: NewBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_data(format!("the body is not an exclusion: {e}")).into_response()
    })?;
    let new = req.into_new().map_err(IntoResponse::into_response)?;
    let store = Arc::clone(&st.slos);
    let at = now_ms();
    let made = blocking(move || store.add_exclusion(new, at)).await?;
    Ok(success(exclusion_json(&made)))
}

/// `DELETE /api/v1/exclusions/{id}?author=A`
pub async fn delete(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Response> {
    let origin = Origin {
        at: now_ms(),
        author: author(&query_params(raw)),
    };
    let store = Arc::clone(&st.slos);
    let gone = blocking(move || store.delete_exclusion(&id, origin)).await?;
    Ok(success(exclusion_json(&gone)))
}
