//! The SLO operators (docs/slo-queries.md): `slo_*` over SLOs from the
//! catalog in `QueryOptions`, and the ad-hoc `sli`, `error_ratio`,
//! `burn_rate` over two selectors. Each step is answered by
//! `nines_slo::report::SloEval` for the window ending at that step; a step
//! whose window has no events has no point.

use std::collections::BTreeMap;

use nines_engine::Labels;
use nines_slo::calendar::CalendarUnit;
use nines_slo::report::SloEval;
use nines_slo::{
    Budgeting, Objective, RatioEvents, Selector, Sli, Slo, SloError, SloVersion, Window,
};

use super::node::{string_arg, unparen};
use super::values::{StepSeries, Steps, Val};
use super::Evaluator;
use crate::error::QueryError;
use crate::syntax::ast::{Call, Expr};

fn slo_err(e: SloError) -> QueryError {
    match e {
        SloError::Engine(e) => QueryError::Storage(e),
        e => QueryError::Execution(e.to_string()),
    }
}

/// A range argument in seconds as milliseconds; must be positive.
fn range_ms(name: &str, seconds: f64) -> Result<i64, QueryError> {
    let ms = (seconds * 1000.0).round();
    if !(1.0..9.0e15).contains(&ms) {
        return Err(QueryError::Execution(format!(
            "range argument of {name} must be a positive duration, got {seconds}"
        )));
    }
    Ok(ms as i64)
}

/// The selector of an ad-hoc argument (it must be a plain selector).
fn selector_arg(name: &str, e: &Expr) -> Result<Selector, QueryError> {
    match unparen(e) {
        Expr::Vector(v) if v.offset.is_none() && v.at.is_none() => {
            Ok(Selector::from_matchers(e.to_string(), v.matchers.clone()))
        }
        _ => Err(QueryError::Execution(format!(
            "the arguments of {name} must be plain series selectors (no functions, offset or @)"
        ))),
    }
}

impl Evaluator<'_> {
    /// Evaluates an SLO operator; `None` when `c` is no SLO operator.
    pub fn slo_call(&self, c: &Call, steps: Steps) -> Result<Option<Val>, QueryError> {
        let name = c.func.name;
        let arg = |i: usize| {
            c.args.get(i).ok_or_else(|| {
                QueryError::Execution(format!("missing argument {} of \"{name}\"", i + 1))
            })
        };
        match name {
            "sli" | "error_ratio" | "burn_rate" => {
                let events = selector_arg(name, arg(0)?)?;
                let total = selector_arg(name, arg(1)?)?;
                let (target, range) = if name == "burn_rate" {
                    (
                        self.eval_scalar(arg(2)?, steps)?,
                        self.eval_scalar(arg(3)?, steps)?,
                    )
                } else {
                    // the target does not enter sli or error_ratio
                    (vec![0.5; steps.len()], self.eval_scalar(arg(2)?, steps)?)
                };
                let events = if name == "sli" {
                    RatioEvents::Good(events)
                } else {
                    RatioEvents::Bad(events)
                };
                let mut points = Vec::new();
                for (i, t) in steps.times().enumerate() {
                    self.check("SLO evaluation")?;
                    let w = range_ms(name, range[i])?;
                    if !(target[i] > 0.0 && target[i] < 1.0) {
                        return Err(QueryError::Execution(format!(
                            "the objective of {name} must be in (0, 1), got {}",
                            target[i]
                        )));
                    }
                    let def = Slo {
                        name: String::new(),
                        service: String::new(),
                        description: None,
                        sli: Sli::Ratio {
                            events: events.clone(),
                            total: total.clone(),
                        },
                        objectives: vec![Objective {
                            display_name: None,
                            target: target[i],
                        }],
                        window: Window::Rolling { ms: w },
                        budgeting: Budgeting::Occurrences,
                    };
                    let versions = [SloVersion {
                        version: 1,
                        effective_from: t,
                        effective_to: None,
                        def,
                    }];
                    let mut ev = SloEval::new(self.snap, &versions, &[])
                        .map_err(slo_err)?
                        .with_cache(self.opts.slo_sums.as_ref().map(|c| &*c.0));
                    let v = match name {
                        "sli" => ev.sli(t, w),
                        "error_ratio" => ev.error_ratio(t, w),
                        _ => ev.burn_rate(t, w),
                    }
                    .map_err(slo_err)?;
                    if let Some(v) = v {
                        points.push((i as u32, v));
                    }
                }
                self.count_samples(points.len())?;
                let out = if points.is_empty() {
                    vec![]
                } else {
                    vec![StepSeries {
                        labels: Labels::default(),
                        points,
                    }]
                };
                Ok(Some(Val::Vector(out)))
            }
            n if n.starts_with("slo_") => self.stored_slo_call(c, steps).map(Some),
            _ => Ok(None),
        }
    }

    fn stored_slo_call(&self, c: &Call, steps: Steps) -> Result<Val, QueryError> {
        let name = c.func.name;
        let catalog = self.opts.slo_catalog.as_ref().ok_or_else(|| {
            QueryError::Execution(format!(
                "{name}: no SLO store is configured; use the ad-hoc forms (sli, error_ratio, burn_rate)"
            ))
        })?;
        let slo =
            string_arg(c.args.first().ok_or_else(|| {
                QueryError::Execution(format!("missing argument 1 of \"{name}\""))
            })?)?;
        let versions = catalog
            .0
            .versions(slo)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| slo_err(SloError::UnknownSlo(slo.to_string())))?;
        let exclusions = catalog.0.exclusions(slo);
        let range = match (name, c.args.get(1)) {
            ("slo_compliance", _) | (_, None) => None,
            (_, Some(e)) => Some(self.eval_scalar(e, steps)?),
        };
        let unit = if name == "slo_compliance" {
            let u = string_arg(c.args.get(1).ok_or_else(|| {
                QueryError::Execution("missing argument 2 of \"slo_compliance\"".into())
            })?)?;
            Some(CalendarUnit::parse(u).ok_or_else(|| {
                QueryError::Execution(format!(
                    "slo_compliance: period {u:?} is not one of day, week, month, quarter, year"
                ))
            })?)
        } else {
            None
        };
        let mut ev = SloEval::new(self.snap, &versions, &exclusions)
            .map_err(slo_err)?
            .with_cache(self.opts.slo_sums.as_ref().map(|c| &*c.0));
        let mut series: BTreeMap<Labels, Vec<(u32, f64)>> = BTreeMap::new();
        for (i, t) in steps.times().enumerate() {
            self.check("SLO evaluation")?;
            let w = match &range {
                Some(r) => range_ms(name, r[i])?,
                None => 0,
            };
            let v = match name {
                "slo_sli" => ev.sli(t, w),
                "slo_error_ratio" => ev.error_ratio(t, w),
                "slo_burn_rate" => ev.burn_rate(t, w),
                "slo_budget_remaining" => ev.budget_remaining(t),
                "slo_budget_remaining_events" => ev.budget_remaining_events(t),
                "slo_budget_consumed" => ev.budget_consumed(t, w),
                "slo_time_to_exhaustion" => ev.time_to_exhaustion(t, w),
                "slo_compliance" => match unit {
                    Some(u) => ev.compliance(t, u).map(|(_, c)| c.map(|c| c.attainment)),
                    None => Ok(None),
                },
                other => {
                    return Err(QueryError::Execution(format!(
                        "unknown SLO function {other}"
                    )))
                }
            }
            .map_err(slo_err)?;
            if let Some(v) = v {
                let in_force = ev.version_at(t);
                let labels = Labels::from_pairs(&[
                    ("slo", slo),
                    ("service", in_force.def.service.as_str()),
                    ("slo_version", in_force.version.to_string().as_str()),
                ]);
                series.entry(labels).or_default().push((i as u32, v));
            }
        }
        let n: usize = series.values().map(Vec::len).sum();
        self.count_samples(n)?;
        Ok(Val::Vector(
            series
                .into_iter()
                .map(|(labels, points)| StepSeries { labels, points })
                .collect(),
        ))
    }
}
