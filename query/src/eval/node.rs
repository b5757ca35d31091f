//! Dispatch over the expression tree, the times selectors and subqueries
//! read (`@` and `offset`), and step invariance.
//!
//! Times: at evaluation time `T` a selector or subquery without `@` reads
//! at `T - offset`. With `@ a` it reads at `a - offset` — Prometheus turns
//! `@` into an offset relative to the evaluation's first step and evaluates
//! the `@`-fixed parts of a query once, at that step (they are "step
//! invariant"), then repeats the result at every step. Where a range
//! argument with `@` sits under a function that is not step invariant
//! (`predict_linear`, or one with a varying scalar argument), Prometheus
//! evaluates every step with that offset, so the window moves with `T`:
//! `a - offset + (T - first step)`. [`read_time`] reproduces both.

use nines_engine::Labels;

use super::values::{duplicate_labelset, RawSeries, StepSeries, Steps, Val};
use super::Evaluator;
use crate::error::QueryError;
use crate::syntax::ast::{At, Expr, UnaryOp, ValueType};

/// Functions whose result depends on the evaluation time even when their
/// arguments do not, or that read their argument's sample times: an `@`
/// below them does not make them step invariant.
const AT_UNSAFE_FUNCTIONS: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
    // the SLO operators read windows ending at each step
    "burn_rate",
    "error_ratio",
    "sli",
    "slo_budget_consumed",
    "slo_budget_remaining",
    "slo_budget_remaining_events",
    "slo_burn_rate",
    "slo_compliance",
    "slo_error_ratio",
    "slo_sli",
    "slo_time_to_exhaustion",
];

/// Whether Prometheus evaluates `e` once per evaluation (its value is the
/// same at every step): it has an `@` on every selector and subquery it
/// reads and no time-dependent function. An aggregation's parameter does not
/// count (Prometheus takes it at the first step).
pub(crate) fn is_step_invariant(e: &Expr) -> bool {
    match e {
        Expr::Number(_) | Expr::String(_) | Expr::Duration(_) => true,
        Expr::Vector(s) => s.at.is_some(),
        Expr::Matrix(m) => m.selector.at.is_some(),
        Expr::Subquery(s) => s.at.is_some(),
        Expr::Paren(e) => is_step_invariant(e),
        Expr::Unary(u) => is_step_invariant(&u.expr),
        Expr::Aggregate(a) => is_step_invariant(&a.expr),
        Expr::Binary(b) => is_step_invariant(&b.lhs) && is_step_invariant(&b.rhs),
        Expr::Call(c) => {
            !AT_UNSAFE_FUNCTIONS.contains(&c.func.name) && c.args.iter().all(is_step_invariant)
        }
    }
}

/// `e` without enclosing parentheses.
pub(crate) fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(inner) = e {
        e = inner;
    }
    e
}

/// Maps evaluation times of `steps` to the times a selector or subquery
/// with this `@` (resolved to ms) and offset reads (see the module doc).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadTime {
    pub at: Option<i64>,
    pub offset: i64,
    pub first: i64,
}

impl ReadTime {
    pub fn at(&self, t: i64) -> i64 {
        match self.at {
            Some(a) => a - self.offset + (t - self.first),
            None => t - self.offset,
        }
    }
}

pub(crate) fn read_time(
    ev: &Evaluator<'_>,
    at: Option<At>,
    offset: Option<i64>,
    steps: Steps,
) -> ReadTime {
    ReadTime {
        at: ev.resolve_at(at),
        offset: offset.unwrap_or(0),
        first: steps.start,
    }
}

impl Evaluator<'_> {
    pub fn resolve_at(&self, at: Option<At>) -> Option<i64> {
        at.map(|a| match a {
            At::Timestamp(t) => t,
            At::Start => self.query_start,
            At::End => self.query_end,
        })
    }

    /// Evaluates `e` at every step of `steps`.
    pub fn eval(&self, e: &Expr, steps: Steps) -> Result<Val, QueryError> {
        self.check("expression evaluation")?;
        if steps.len() > 1
            && matches!(e.value_type(), ValueType::Scalar | ValueType::Vector)
            && !matches!(e, Expr::Number(_) | Expr::String(_) | Expr::Duration(_))
            && is_step_invariant(e)
        {
            let once = self.eval_node(e, Steps::single(steps.start))?;
            let out = once.replicate(steps.len());
            if let Val::Vector(series) = &out {
                self.count_samples(series.len() * steps.len())?;
            }
            return Ok(out);
        }
        self.eval_node(e, steps)
    }

    fn eval_node(&self, e: &Expr, steps: Steps) -> Result<Val, QueryError> {
        let n = steps.len();
        match e {
            Expr::Number(v) => Ok(Val::Scalar(vec![*v; n])),
            Expr::Duration(ms) => Ok(Val::Scalar(vec![*ms as f64 / 1000.0; n])),
            Expr::String(s) => Ok(Val::String(s.clone())),
            Expr::Paren(inner) => self.eval(inner, steps),
            Expr::Unary(u) => {
                let v = self.eval(&u.expr, steps)?;
                match u.op {
                    UnaryOp::Pos => Ok(v),
                    UnaryOp::Neg => negate(v),
                }
            }
            Expr::Vector(sel) => Ok(Val::Vector(self.vector_selector(sel, steps)?)),
            Expr::Matrix(m) => {
                if n != 1 {
                    return Err(QueryError::Execution(
                        "cannot do range evaluation of matrix selector".into(),
                    ));
                }
                let rt = read_time(self, m.selector.at, m.selector.offset.map(|o| o.0), steps);
                let end = rt.at(steps.start);
                let mut series = self.load_range(&m.selector, end - m.range, end)?;
                series.retain(|s| !s.ts.is_empty());
                Ok(Val::Matrix(series))
            }
            Expr::Subquery(sq) => {
                let mut series: Vec<RawSeries> = self.subquery(sq, steps)?;
                series.retain(|s| !s.ts.is_empty());
                series.sort_by(|a, b| a.labels.cmp(&b.labels));
                Ok(Val::Matrix(series))
            }
            Expr::Binary(b) => self.binary(b, steps),
            Expr::Aggregate(a) => self.aggregate(a, steps),
            Expr::Call(c) => self.call(c, steps),
        }
    }

    /// Evaluates an expression the parser typed as scalar: one value per
    /// step.
    pub fn eval_scalar(&self, e: &Expr, steps: Steps) -> Result<Vec<f64>, QueryError> {
        match self.eval(e, steps)? {
            Val::Scalar(v) => Ok(v),
            other => Err(type_error("scalar", &other)),
        }
    }

    pub fn eval_vector(&self, e: &Expr, steps: Steps) -> Result<Vec<StepSeries>, QueryError> {
        match self.eval(e, steps)? {
            Val::Vector(v) => Ok(v),
            other => Err(type_error("instant vector", &other)),
        }
    }
}

pub(crate) fn type_error(want: &str, got: &Val) -> QueryError {
    QueryError::Execution(format!("expected {want} but got {}", got.type_name()))
}

/// The value of a string argument (a literal, maybe in parentheses).
pub(crate) fn string_arg(e: &Expr) -> Result<&str, QueryError> {
    match unparen(e) {
        Expr::String(s) => Ok(s),
        _ => Err(QueryError::Execution(
            "expected a string literal argument".into(),
        )),
    }
}

/// Unary minus: scalars negate; vectors negate and lose the metric name,
/// which must leave label sets unique.
fn negate(v: Val) -> Result<Val, QueryError> {
    match v {
        Val::Scalar(mut s) => {
            for x in &mut s {
                *x = -*x;
            }
            Ok(Val::Scalar(s))
        }
        Val::Vector(mut series) => {
            for s in &mut series {
                s.labels = s.labels.without_metric_name();
                for p in &mut s.points {
                    p.1 = -p.1;
                }
            }
            check_unique_labels(series.iter().map(|s| &s.labels))?;
            Ok(Val::Vector(series))
        }
        other => Err(type_error("scalar or instant vector", &other)),
    }
}

/// Prometheus's check over whole results (all steps at once): no two series
/// with one label set.
pub(crate) fn check_unique_labels<'l>(
    labels: impl Iterator<Item = &'l Labels>,
) -> Result<(), QueryError> {
    let mut seen = std::collections::HashSet::new();
    for l in labels {
        if !seen.insert(l) {
            return Err(duplicate_labelset());
        }
    }
    Ok(())
}
