//! Function calls: dispatch to the range-vector functions, and the
//! functions of instant vectors and scalars, which work series by series
//! (label changes computed once per series) or step by step.

use std::collections::HashMap;

use nines_engine::Labels;

use super::node::{string_arg, unparen};
use super::range_fn::RangeFn;
use super::values::{sort_go, ByStep, OutBuilder, StepSeries, Steps, Val};
use super::Evaluator;
use crate::error::QueryError;
use crate::functions::histogram::{bucket_quantile, parse_go_float, Bucket};
use crate::functions::labels::{absent_labels, check_label_join, label_join, LabelReplace};
use crate::functions::math;
use crate::functions::stats::GO_NAN;
use crate::functions::time::{date_fn, unix_seconds, Civil};
use crate::syntax::ast::{Call, Expr, ValueType};

/// Applies a per-series relabelling and a per-point function, merging
/// series that end up with one label set (two samples at one step are an
/// error).
fn map_series(
    input: Vec<StepSeries>,
    relabel: impl Fn(&Labels) -> Labels,
    f: impl Fn(usize, f64) -> Option<f64>,
) -> Result<Vec<StepSeries>, QueryError> {
    let mut out = OutBuilder::default();
    for s in input {
        let mut slot = None;
        for (i, v) in s.points {
            if let Some(v) = f(i as usize, v) {
                let slot = *slot.get_or_insert_with(|| out.slot(relabel(&s.labels)));
                out.push(slot, i, v)?;
            }
        }
    }
    out.finish()
}

fn drop_name(l: &Labels) -> Labels {
    l.without_metric_name()
}

impl Evaluator<'_> {
    pub fn call(&self, c: &Call, steps: Steps) -> Result<Val, QueryError> {
        let name = c.func.name;
        if let Some(v) = self.slo_call(c, steps)? {
            return Ok(v);
        }
        if let Some(f) = RangeFn::from_name(name) {
            let m = c
                .args
                .iter()
                .position(|a| a.value_type() == ValueType::Matrix)
                .ok_or_else(|| {
                    QueryError::Execution(format!(
                        "expected type range vector in call to function \"{name}\""
                    ))
                })?;
            return self.range_call(c, f, m, steps);
        }
        let n = steps.len();
        let arg = |i: usize| {
            c.args.get(i).ok_or_else(|| {
                QueryError::Execution(format!("missing argument {} of \"{name}\"", i + 1))
            })
        };
        let out = match name {
            "time" => {
                return Ok(Val::Scalar(
                    steps.times().map(|t| t as f64 / 1000.0).collect(),
                ))
            }
            "pi" => return Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
            "scalar" => {
                let v = self.eval_vector(arg(0)?, steps)?;
                let mut count = vec![0u32; n];
                let mut value = vec![GO_NAN; n];
                for s in &v {
                    for &(i, x) in &s.points {
                        count[i as usize] += 1;
                        value[i as usize] = x;
                    }
                }
                let out = count
                    .iter()
                    .zip(value)
                    .map(|(&c, v)| if c == 1 { v } else { GO_NAN })
                    .collect();
                return Ok(Val::Scalar(out));
            }
            "vector" => {
                let s = self.eval_scalar(arg(0)?, steps)?;
                vec![StepSeries {
                    labels: Labels::default(),
                    points: s
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (i as u32, v))
                        .collect(),
                }]
            }
            "timestamp" => {
                if let Expr::Vector(sel) = unparen(arg(0)?) {
                    self.timestamp_of_selector(sel, steps)?
                } else {
                    let v = self.eval_vector(arg(0)?, steps)?;
                    map_series(v, drop_name, |i, _| Some(steps.time(i) as f64 / 1000.0))?
                }
            }
            "absent" => {
                let v = self.eval_vector(arg(0)?, steps)?;
                let mut present = vec![false; n];
                for s in &v {
                    for &(i, _) in &s.points {
                        present[i as usize] = true;
                    }
                }
                let points: Vec<(u32, f64)> = (0..n)
                    .filter(|&i| !present[i])
                    .map(|i| (i as u32, 1.0))
                    .collect();
                if points.is_empty() {
                    Vec::new()
                } else {
                    let labels = match unparen(arg(0)?) {
                        Expr::Vector(sel) => absent_labels(&sel.matchers),
                        _ => Labels::default(),
                    };
                    vec![StepSeries { labels, points }]
                }
            }
            "sort" | "sort_desc" => {
                let mut v = self.eval_vector(arg(0)?, steps)?;
                if n == 1 {
                    // Ascending (descending) by value, NaN last either way.
                    let value = |s: &StepSeries| s.points.first().map_or(f64::NAN, |p| p.1);
                    let asc = name == "sort";
                    sort_go(&mut v, |a, b| {
                        let (a, b) = (value(a), value(b));
                        b.is_nan() || if asc { a < b } else { a > b }
                    });
                }
                v
            }
            "histogram_quantile" => {
                let q = self.eval_scalar(arg(0)?, steps)?;
                let v = self.eval_vector(arg(1)?, steps)?;
                self.histogram_quantile(&q, &v, steps)?
            }
            "label_replace" => {
                let r = LabelReplace::new(
                    string_arg(arg(1)?)?,
                    string_arg(arg(2)?)?,
                    string_arg(arg(3)?)?,
                    string_arg(arg(4)?)?,
                )
                .map_err(QueryError::Execution)?;
                let v = self.eval_vector(arg(0)?, steps)?;
                map_series(v, |l| r.apply(l), |_, v| Some(v))?
            }
            "label_join" => {
                let dst = string_arg(arg(1)?)?;
                let sep = string_arg(arg(2)?)?;
                let srcs = c.args[3..]
                    .iter()
                    .map(string_arg)
                    .collect::<Result<Vec<_>, _>>()?;
                check_label_join(dst, &srcs).map_err(QueryError::Execution)?;
                let v = self.eval_vector(arg(0)?, steps)?;
                map_series(v, |l| label_join(l, dst, sep, &srcs), |_, v| Some(v))?
            }
            "clamp" => {
                let v = self.eval_vector(arg(0)?, steps)?;
                let lo = self.eval_scalar(arg(1)?, steps)?;
                let hi = self.eval_scalar(arg(2)?, steps)?;
                map_series(v, drop_name, |i, x| {
                    // Nothing when max < min (a NaN bound clamps to NaN).
                    (hi[i] >= lo[i] || hi[i].is_nan() || lo[i].is_nan())
                        .then(|| math::clamp(x, lo[i], hi[i]))
                })?
            }
            "clamp_max" | "clamp_min" | "round" => {
                let v = self.eval_vector(arg(0)?, steps)?;
                let p = match c.args.get(1) {
                    Some(e) => self.eval_scalar(e, steps)?,
                    None => vec![1.0; n],
                };
                let f = match name {
                    "clamp_max" => math::clamp_max,
                    "clamp_min" => math::clamp_min,
                    _ => math::round,
                };
                map_series(v, drop_name, |i, x| Some(f(x, p[i])))?
            }
            _ => {
                if let Some(f) = date_fn(name) {
                    match c.args.first() {
                        None => vec![StepSeries {
                            labels: Labels::default(),
                            points: steps
                                .times()
                                .enumerate()
                                .map(|(i, t)| (i as u32, f(&Civil::of_unix(t / 1000))))
                                .collect(),
                        }],
                        Some(a) => {
                            let v = self.eval_vector(a, steps)?;
                            map_series(v, drop_name, |_, x| {
                                Some(f(&Civil::of_unix(unix_seconds(x))))
                            })?
                        }
                    }
                } else if let Some(f) = math::simple(name) {
                    let v = self.eval_vector(arg(0)?, steps)?;
                    map_series(v, drop_name, |_, x| Some(f(x)))?
                } else {
                    return Err(QueryError::Execution(format!(
                        "unknown function with name \"{name}\""
                    )));
                }
            }
        };
        Ok(Val::Vector(out))
    }

    /// `histogram_quantile(q, buckets)`: per step, the buckets of each
    /// histogram (series equal but for `le`) that are present.
    fn histogram_quantile(
        &self,
        q: &[f64],
        v: &[StepSeries],
        steps: Steps,
    ) -> Result<Vec<StepSeries>, QueryError> {
        // Per series: its histogram (None when `le` is missing or not a
        // number) and upper bound.
        let mut ids: HashMap<Labels, usize> = HashMap::new();
        let mut out_labels: Vec<Labels> = Vec::new();
        let per_series: Vec<Option<(usize, f64)>> = v
            .iter()
            .map(|s| {
                let upper = parse_go_float(s.labels.get("le")?)?;
                let mut key = s.labels.clone();
                key.set("le", "");
                let next = ids.len();
                let id = *ids.entry(key.clone()).or_insert_with(|| {
                    key.set(nines_engine::METRIC_NAME, "");
                    out_labels.push(key);
                    next
                });
                Some((id, upper))
            })
            .collect();
        let by_step = ByStep::new(v, steps.len());
        let mut buckets: Vec<Vec<Bucket>> = vec![Vec::new(); out_labels.len()];
        let mut seen = vec![u32::MAX; out_labels.len()];
        let mut touched: Vec<usize> = Vec::new();
        let mut slots: Vec<Option<usize>> = vec![None; out_labels.len()];
        let mut out = OutBuilder::default();
        for (i, &qi) in q.iter().enumerate().take(steps.len()) {
            if i % 64 == 0 {
                self.check("expression evaluation")?;
            }
            touched.clear();
            for &(s, count) in by_step.at(i) {
                let Some((h, upper)) = per_series[s as usize] else {
                    continue;
                };
                if seen[h] != i as u32 {
                    seen[h] = i as u32;
                    buckets[h].clear();
                    touched.push(h);
                }
                buckets[h].push(Bucket { upper, count });
            }
            for &h in &touched {
                let value = bucket_quantile(qi, &mut buckets[h]);
                let slot = *slots[h].get_or_insert_with(|| out.slot(out_labels[h].clone()));
                out.push(slot, i as u32, value)?;
            }
        }
        out.finish()
    }
}
