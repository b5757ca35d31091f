//! `GET|POST /api/v1/report`: a compliance report (docs/reports.md),
//! streamed as it is made. Parameters: `slo=NAME` or `all=true`,
//! `period` (week, month, quarter), `from` and `to` (`YYYY-MM-DD` or
//! `YYYY-MM`), `format` (csv, the default, or json).
//!
//! Bad parameters and an unknown SLO are refused before the first byte
//! (the usual error envelope); an error while rendering ends the stream
//! without its trailer, so a cut-short report never looks whole.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use nines_slo::compliance::render::Format;
use nines_slo::compliance::ReportRange;
use tokio::sync::mpsc;

use super::{ApiError, Params};
use crate::report::{self, ReportQuery};
use crate::slo_ops::OpError;
use crate::state::AppState;

/// Pieces buffered between the renderer and the connection.
const CHANNEL_PIECES: usize = 64;

fn param<'a>(p: &'a Params, key: &str) -> Result<&'a str, ApiError> {
    p.get(key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_data(format!("missing parameter \"{key}\"")))
}

/// The request's query, checked.
pub fn parse_query(p: &Params) -> Result<ReportQuery, ApiError> {
    let all = match p.get("all").map(str::trim) {
        None | Some("" | "false" | "0" | "no") => false,
        Some("true" | "1" | "yes") => true,
        Some(v) => {
            return Err(ApiError::bad_data(format!(
                "invalid parameter \"all\": {v:?}; expected true or false"
            )))
        }
    };
    let slo = p.get("slo").map(str::trim).filter(|s| !s.is_empty());
    let slo = match (slo, all) {
        (Some(_), true) => {
            return Err(ApiError::bad_data(
                "give either \"slo\" or \"all=true\", not both",
            ))
        }
        (None, false) => {
            return Err(ApiError::bad_data(
                "missing parameter \"slo\" (or \"all=true\" for every SLO)",
            ))
        }
        (s, _) => s.map(str::to_string),
    };
    let range = ReportRange::parse(param(p, "period")?, param(p, "from")?, param(p, "to")?)
        .map_err(|e| ApiError::bad_data(e.to_string()))?;
    let format = match p.get("format").map(str::trim) {
        None | Some("") => Format::Csv,
        Some(f) => Format::parse(f).ok_or_else(|| {
            ApiError::bad_data(format!(
                "invalid parameter \"format\": {f:?}; expected csv or json"
            ))
        })?,
    };
    Ok(ReportQuery { slo, range, format })
}

pub async fn report(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<crate::auth::Identity>,
    p: Params,
) -> Result<Response, ApiError> {
    let q = parse_query(&p)?;
    let slos = report::slos_of(&st.slos, &q).map_err(|e| match e {
        OpError::UnknownSlo(_) => ApiError {
            status: StatusCode::NOT_FOUND,
            error_type: "not_found",
            message: e.to_string(),
        },
        _ => ApiError::internal(e.to_string()),
    })?;
    // Reports are exports of the retained evidence: each is on the record
    // (its own digest is in its trailer; the request says what it covers).
    st.audit.record(
        "report",
        Some(&id.name),
        super::now_ms(),
        serde_json::json!({
            "slos": slos.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            "period": p.get("period"),
            "from": p.get("from"),
            "to": p.get("to"),
            "format": p.get("format").unwrap_or("csv"),
        }),
    );
    let (tx, rx) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(CHANNEL_PIECES);
    let content_type = q.format.content_type();
    tokio::task::spawn_blocking(move || {
        let mut send = |piece: Vec<u8>| tx.blocking_send(Ok(piece)).is_ok();
        let out = report::run(
            &st.engine,
            &st.slos,
            Some(&st.slo_sums.0),
            &q,
            &slos,
            &mut send,
        );
        if let Err(e) = out {
            tracing::warn!(error = %e, "compliance report failed while streaming");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(stream),
    )
        .into_response())
}
