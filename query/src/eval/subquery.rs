//! Subqueries: the inner expression evaluated once, as a range evaluation
//! whose steps are absolute multiples of the subquery's step (the default
//! step is Prometheus's global evaluation interval, 1 m), from the first
//! multiple at or after `first read time - range` through the last read
//! time.

use super::node::read_time;
use super::values::{RawSeries, Steps, Val};
use super::{Evaluator, DEFAULT_SUBQUERY_STEP_MS};
use crate::error::QueryError;
use crate::syntax::ast::SubqueryExpr;

/// The steps a subquery evaluates its expression at, given the read times
/// of its first and last outer step.
pub(crate) fn inner_steps(first_read: i64, last_read: i64, range: i64, step: i64) -> Steps {
    let from = first_read - range;
    // The smallest multiple of the step at or after `from`.
    let start = from.div_euclid(step) * step + if from.rem_euclid(step) == 0 { 0 } else { step };
    Steps {
        start,
        end: last_read,
        step,
    }
}

impl Evaluator<'_> {
    /// The subquery's result as range-vector series (points at the inner
    /// steps), for the read times of every outer step.
    pub fn subquery(&self, sq: &SubqueryExpr, steps: Steps) -> Result<Vec<RawSeries>, QueryError> {
        if steps.len() == 0 {
            return Ok(Vec::new());
        }
        let rt = read_time(self, sq.at, sq.offset.map(|o| o.0), steps);
        let step = match sq.step {
            Some(s) if s > 0 => s,
            _ => DEFAULT_SUBQUERY_STEP_MS,
        };
        let inner = inner_steps(rt.at(steps.start), rt.at(steps.end), sq.range, step);
        let val = if inner.len() == 0 {
            Val::Vector(Vec::new())
        } else {
            self.eval(&sq.expr, inner)?
        };
        let out = match val {
            Val::Vector(series) => series
                .into_iter()
                .map(|s| {
                    let (ts, vs) = s
                        .points
                        .into_iter()
                        .map(|(i, v)| (inner.time(i as usize), v))
                        .unzip();
                    RawSeries {
                        labels: s.labels,
                        ts,
                        vs,
                    }
                })
                .collect(),
            Val::Scalar(v) => vec![RawSeries {
                labels: Default::default(),
                ts: inner.times().collect(),
                vs: v,
            }],
            other => return Err(super::node::type_error("instant vector", &other)),
        };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_align_to_absolute_multiples() {
        // read at 10:07:30 with 5 m range and 1 m step: 10:03, ..., 10:07
        let m = 60_000;
        let t = 600 * m + 7 * m + 30_000;
        let s = inner_steps(t, t, 5 * m, m);
        assert_eq!(s.start, 603 * m);
        assert_eq!(s.len(), 5);
        // exactly aligned: the window's first instant is a step
        let s = inner_steps(605 * m, 605 * m, 5 * m, m);
        assert_eq!((s.start, s.len()), (600 * m, 6));
        // negative times align the same way
        let s = inner_steps(-90_000, -90_000, 0, m);
        assert_eq!((s.start, s.len()), (-60_000, 0));
        let s = inner_steps(-60_000, 0, 0, m);
        assert_eq!((s.start, s.len()), (-60_000, 2));
        // a range shorter than the step can hold no step
        let s = inner_steps(90_000, 90_000, 20_000, m);
        assert_eq!(s.len(), 0);
    }
}
