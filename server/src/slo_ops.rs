//! The SLO questions the server answers outside the query language: the
//! deploy gate and breach intervals with their deploys. Blocking: call from
//! a blocking thread. Both APIs (HTTP, gRPC) and the CLI go through here,
//! so the numbers are the query operators' own.

use nines_engine::Engine;
use nines_slo::alerting::{BurnPolicy, Severity};
use nines_slo::catalog::SloCatalog;
use nines_slo::gate::{self, GateDecision, GatePolicy};
use nines_slo::incidents::{self, Breach, Deploy, Scan};
use nines_slo::report::SloEval;
use nines_slo::sums::SumsCache;
use nines_slo::SloError;

use crate::annotations::{self, Filter};

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("no SLO named {0:?}")]
    UnknownSlo(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error(transparent)]
    Slo(#[from] SloError),
    #[error(transparent)]
    Annotations(#[from] annotations::AnnotationError),
}

/// The gate's verdict for `slo` at `at`.
pub fn gate(
    engine: &Engine,
    catalog: &dyn SloCatalog,
    sums: Option<&SumsCache>,
    slo: &str,
    policy: &GatePolicy,
    at: i64,
) -> Result<GateDecision, OpError> {
    let versions = catalog
        .versions(slo)
        .ok_or_else(|| OpError::UnknownSlo(slo.into()))?;
    let exclusions = catalog.exclusions(slo);
    let snap = engine.snapshot();
    let mut eval = SloEval::new(&snap, &versions, &exclusions)?.with_cache(sums);
    Ok(gate::decide(&mut eval, policy, at)?)
}

/// What `incidents` scans.
#[derive(Clone, Debug)]
pub struct IncidentQuery {
    pub slo: String,
    pub from: i64,
    pub to: i64,
    pub step_ms: i64,
    pub min_severity: Severity,
    pub deploy_lead_ms: i64,
}

/// At most this many scan steps per request (30 days at 1 minute).
pub const MAX_SCAN_STEPS: i64 = 43_200;

/// The breach intervals of an SLO, with the deploys of its service (the
/// service of the version in force at the end) shortly before each onset.
pub fn incidents(
    engine: &Engine,
    catalog: &dyn SloCatalog,
    sums: Option<&SumsCache>,
    policy: &BurnPolicy,
    q: &IncidentQuery,
) -> Result<Vec<Breach>, OpError> {
    if q.step_ms <= 0 || q.to < q.from {
        return Err(OpError::Invalid(
            "the step must be positive and the end not before the start".into(),
        ));
    }
    if (q.to - q.from) / q.step_ms > MAX_SCAN_STEPS {
        return Err(OpError::Invalid(format!(
            "{} steps of {} s asked; at most {MAX_SCAN_STEPS}: use a larger step or a shorter range",
            (q.to - q.from) / q.step_ms,
            q.step_ms / 1000
        )));
    }
    let versions = catalog
        .versions(&q.slo)
        .ok_or_else(|| OpError::UnknownSlo(q.slo.clone()))?;
    let exclusions = catalog.exclusions(&q.slo);
    let snap = engine.snapshot();
    let mut eval = SloEval::new(&snap, &versions, &exclusions)?.with_cache(sums);
    let service = eval.version_at(q.to).def.service.clone();
    let deploys: Vec<Deploy> = annotations::list(
        engine,
        &Filter {
            kind: Some("deploy".into()),
            service: Some(service),
            env: None,
            start: q.from - q.deploy_lead_ms,
            end: q.to,
        },
    )?
    .into_iter()
    .map(|a| Deploy {
        at: a.at,
        service: a.service,
        version: a.version.unwrap_or_default(),
        env: a.env,
        id: a.id,
        commit: a.commit,
    })
    .collect();
    let scan = Scan {
        from: q.from,
        to: q.to,
        step_ms: q.step_ms,
        min_severity: q.min_severity,
        deploy_lead_ms: q.deploy_lead_ms,
    };
    Ok(incidents::breaches(&mut eval, policy, &scan, &deploys)?)
}
