//! The SLO questions outside the query language: `/api/v1/gate` (the
//! deploy gate), `/api/v1/incidents` (breach intervals), and
//! `/api/v1/alerts`, `/api/v1/rules` (burn-rate alerts in Prometheus's
//! shapes, so Grafana lists them).

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::Response;
use nines_slo::alerting::Severity;
use nines_slo::gate::{parse_max_burn, GatePolicy, NoData, Verdict};
use nines_slo::SloError;
use serde_json::json;

use super::api::blocking;
use super::{now_ms, parse_duration, parse_time, success, ApiError, Params};
use crate::auth::{AuthError, Identity, Role};
use crate::slo_ops::{self, IncidentQuery, OpError};
use crate::state::AppState;

fn op_error(e: OpError) -> ApiError {
    match e {
        OpError::UnknownSlo(_) => ApiError {
            status: StatusCode::NOT_FOUND,
            error_type: "not_found",
            message: e.to_string(),
        },
        OpError::Invalid(_) => ApiError::bad_data(e.to_string()),
        OpError::Slo(SloError::Invalid(_)) => ApiError::bad_data(e.to_string()),
        _ => ApiError::internal(e.to_string()),
    }
}

fn required<'a>(p: &'a Params, key: &str) -> Result<&'a str, ApiError> {
    p.get(key)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::bad_data(format!("missing parameter \"{key}\"")))
}

/// `POST /api/v1/gate`: `slo`, `min_budget` (fraction, default 0),
/// `max_burn` (repeatable `WINDOW:MAX`; default `1h:14.4`), `no_data`
/// (undecided|promote|block), `time` (default now), and for an override
/// `override=true`, `reason`, `approver`.
pub async fn gate(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    p: Params,
) -> Result<Response, ApiError> {
    let slo = required(&p, "slo")?.to_string();
    let mut policy = GatePolicy::default();
    if let Some(m) = p.get("min_budget").filter(|v| !v.is_empty()) {
        policy.min_budget = m
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x <= 1.0)
            .ok_or_else(|| {
                ApiError::bad_data(format!(
                    "invalid parameter \"min_budget\": {m:?} is not a fraction such as 0.1"
                ))
            })?;
    }
    let burns = p.all("max_burn");
    if !burns.is_empty() {
        policy.max_burn = burns
            .iter()
            .map(|b| parse_max_burn(b).map_err(ApiError::bad_data))
            .collect::<Result<_, _>>()?;
    }
    if let Some(n) = p.get("no_data").filter(|v| !v.is_empty()) {
        policy.no_data = NoData::parse(n).ok_or_else(|| {
            ApiError::bad_data(format!(
                "invalid parameter \"no_data\": {n:?}; expected undecided, promote or block"
            ))
        })?;
    }
    let at = match p.get("time") {
        Some(t) if !t.is_empty() => parse_time("time", t)?,
        _ => now_ms(),
    };
    let overriding = matches!(p.get("override"), Some("true" | "1" | "yes"));
    let (reason, approver) = (
        p.get("reason").unwrap_or("").trim().to_string(),
        p.get("approver").unwrap_or("").trim().to_string(),
    );
    if overriding && (reason.is_empty() || approver.is_empty()) {
        return Err(ApiError::bad_data(
            "an override needs both \"reason\" and \"approver\"",
        ));
    }
    if overriding && id.role != Role::Admin {
        let e = AuthError::Forbidden {
            name: id.name.to_string(),
            role: id.role.as_str(),
            need: "admin (a gate override)",
        };
        return Ok(super::guard::refuse(&st, &e, "POST", "/api/v1/gate"));
    }
    let st2 = Arc::clone(&st);
    let out = blocking(move || {
        let decision = slo_ops::gate(
            &st2.engine,
            st2.slos.as_ref(),
            Some(&st2.slo_sums.0),
            &slo,
            &policy,
            at,
        )
        .map_err(op_error)?;
        let mut body = json!(decision);
        let said = decision.verdict;
        if overriding {
            let event = st2
                .slos
                .record_gate_override(&decision, &approver, &reason, now_ms())
                .map_err(|e| op_error(OpError::Slo(e)))?;
            body["verdict"] = json!(Verdict::Promote);
            body["override"] = json!({
                "approver": approver,
                "reason": reason,
                "overridden_verdict": said,
                "record": event.seq,
            });
        }
        st2.audit.record(
            "gate_decision",
            Some(if overriding {
                approver.as_str()
            } else {
                &id.name
            }),
            now_ms(),
            json!({
                "slo": slo,
                "time": at,
                "verdict": body["verdict"],
                "decided_verdict": said,
                "overridden": overriding,
                "token": (st2.auth.enabled()).then(|| id.name.to_string()),
                "reason": overriding.then_some(&reason),
                "version": body.get("version"),
                "checks": body.get("checks"),
                "reasons": body.get("reasons"),
            }),
        );
        Ok(body)
    })
    .await?;
    Ok(success(out))
}

/// `GET /api/v1/incidents`: `slo`, `start` (default 30 days before
/// `end`), `end` (default now), `step` (default 5m), `severity` (page or
/// ticket, default page), `deploy_window` (default 1h).
pub async fn incidents(State(st): State<Arc<AppState>>, p: Params) -> Result<Response, ApiError> {
    let slo = required(&p, "slo")?.to_string();
    let end = match p.get("end") {
        Some(t) => parse_time("end", t)?,
        None => now_ms(),
    };
    let start = match p.get("start") {
        Some(t) => parse_time("start", t)?,
        None => end - 30 * 86_400_000,
    };
    let dur = |key: &str, default: i64| -> Result<i64, ApiError> {
        match p.get(key) {
            Some(v) => {
                let ms = parse_duration(key, v)?;
                if ms <= 0 {
                    return Err(ApiError::bad_data(format!(
                        "invalid parameter \"{key}\": must be positive"
                    )));
                }
                Ok(ms)
            }
            None => Ok(default),
        }
    };
    let step_ms = dur("step", 300_000)?;
    let deploy_lead_ms = dur("deploy_window", 3_600_000)?;
    let min_severity = match p.get("severity") {
        None => Severity::Page,
        Some(s) => Severity::parse(s).ok_or_else(|| {
            ApiError::bad_data(format!(
                "invalid parameter \"severity\": {s:?}; expected page or ticket"
            ))
        })?,
    };
    let q = IncidentQuery {
        slo,
        from: start,
        to: end,
        step_ms,
        min_severity,
        deploy_lead_ms,
    };
    let policy = st
        .config
        .burn_policy()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let st2 = Arc::clone(&st);
    let found = blocking(move || {
        slo_ops::incidents(
            &st2.engine,
            st2.slos.as_ref(),
            Some(&st2.slo_sums.0),
            &policy,
            &q,
        )
        .map_err(op_error)
    })
    .await?;
    Ok(success(json!(found)))
}

/// `GET /api/v1/alerts`
pub async fn alerts(State(st): State<Arc<AppState>>) -> Response {
    success(st.alerter.alerts_json())
}

/// `GET /api/v1/rules`
pub async fn rules(State(st): State<Arc<AppState>>) -> Response {
    success(st.alerter.rules_json())
}
