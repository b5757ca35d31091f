//! Functions of a range vector (`rate(x[5m])`, `avg_over_time(q[1h:1m])`):
//! for each series, windows `[e - range, e]` slide over its samples with two
//! moving indices, `e` being the read time of each step. `rate`,
//! `increase`, `resets` and `changes` cost O(1) per window from per-series
//! precomputations; the others are computed over the window's slice.

use std::sync::Arc;

use nines_engine::Labels;

use super::node::{check_unique_labels, read_time, unparen, ReadTime};
use super::selector::drop_stale;
use super::values::{RawSeries, StepSeries, Steps, Val};
use super::Evaluator;
use crate::error::QueryError;
use crate::functions::labels::absent_labels;
use crate::functions::rate::{
    extrapolate, instant_value, is_change, is_reset, PairCounts, RateWindow, Resets,
};
use crate::functions::{over_time, regression};
use crate::syntax::ast::{Call, Expr};

/// A function with a range-vector argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeFn {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Resets,
    Changes,
    Deriv,
    PredictLinear,
    HoltWinters,
    Avg,
    Sum,
    Min,
    Max,
    Count,
    Last,
    Present,
    Stddev,
    Stdvar,
    Quantile,
    Absent,
}

impl RangeFn {
    pub fn from_name(name: &str) -> Option<RangeFn> {
        Some(match name {
            "rate" => RangeFn::Rate,
            "increase" => RangeFn::Increase,
            "delta" => RangeFn::Delta,
            "irate" => RangeFn::Irate,
            "idelta" => RangeFn::Idelta,
            "resets" => RangeFn::Resets,
            "changes" => RangeFn::Changes,
            "deriv" => RangeFn::Deriv,
            "predict_linear" => RangeFn::PredictLinear,
            "holt_winters" => RangeFn::HoltWinters,
            "avg_over_time" => RangeFn::Avg,
            "sum_over_time" => RangeFn::Sum,
            "min_over_time" => RangeFn::Min,
            "max_over_time" => RangeFn::Max,
            "count_over_time" => RangeFn::Count,
            "last_over_time" => RangeFn::Last,
            "present_over_time" => RangeFn::Present,
            "stddev_over_time" => RangeFn::Stddev,
            "stdvar_over_time" => RangeFn::Stdvar,
            "quantile_over_time" => RangeFn::Quantile,
            "absent_over_time" => RangeFn::Absent,
            _ => return None,
        })
    }
}

/// One series' labels and its step-indexed results.
/// A series' label set (shared with the engine's interner where it came
/// from a select) and its points.
pub(crate) type PerSeries = (Arc<Labels>, Vec<(u32, f64)>);

/// The steps of one range-function call: evaluation times, the window end
/// each step reads, the range, and the scalar arguments per step (indexed
/// like the call's arguments; empty for the range argument).
pub(crate) struct Windows<'a> {
    pub f: RangeFn,
    pub steps: Steps,
    pub ends: &'a [i64],
    pub range: i64,
    pub scalars: &'a [Vec<f64>],
}

impl Windows<'_> {
    fn scalar(&self, arg: usize, step: usize) -> f64 {
        self.scalars
            .get(arg)
            .and_then(|v| v.get(step))
            .copied()
            .unwrap_or(f64::NAN)
    }

    /// The function over every window of one series (samples in time
    /// order, no stale markers).
    pub fn slide(&self, ts: &[i64], vs: &[f64]) -> Result<Vec<(u32, f64)>, QueryError> {
        let f = self.f;
        let resets = matches!(f, RangeFn::Rate | RangeFn::Increase).then(|| Resets::new(vs));
        let pairs = match f {
            RangeFn::Resets => Some(PairCounts::new(vs, is_reset)),
            RangeFn::Changes => Some(PairCounts::new(vs, is_change)),
            _ => None,
        };
        let mut scratch = Vec::new();
        let mut out = Vec::new();
        let (mut lo, mut hi) = (0usize, 0usize);
        for (i, &end) in self.ends.iter().enumerate() {
            let start = end - self.range;
            if hi > 0 && ts[hi - 1] > end {
                // Window ends never go back; recover anyway.
                lo = ts.partition_point(|&t| t < start);
                hi = ts.partition_point(|&t| t <= end);
            }
            lo = gallop(ts, lo, |t| t < start);
            hi = gallop(ts, hi.max(lo), |t| t <= end);
            if hi == lo {
                continue;
            }
            let (wt, wv) = (&ts[lo..hi], &vs[lo..hi]);
            let v = match f {
                RangeFn::Rate | RangeFn::Increase | RangeFn::Delta => {
                    if wt.len() < 2 {
                        None
                    } else {
                        let delta = match &resets {
                            Some(r) => r.counter_delta(vs, lo, hi),
                            None => wv[wv.len() - 1] - wv[0],
                        };
                        let w = RateWindow {
                            first_t: wt[0],
                            first_v: wv[0],
                            last_t: wt[wt.len() - 1],
                            count: wt.len() as u64,
                            delta,
                        };
                        let is_counter = f != RangeFn::Delta;
                        let is_rate = f == RangeFn::Rate;
                        Some(extrapolate(&w, start, end, self.range, is_counter, is_rate))
                    }
                }
                RangeFn::Irate => instant_value(wt, wv, true),
                RangeFn::Idelta => instant_value(wt, wv, false),
                RangeFn::Resets | RangeFn::Changes => pairs.as_ref().map(|p| p.count(lo, hi)),
                RangeFn::Deriv => regression::deriv(wt, wv),
                RangeFn::PredictLinear => {
                    let t = self.steps.time(i);
                    regression::predict_linear(wt, wv, t, self.scalar(1, i))
                }
                RangeFn::HoltWinters => {
                    regression::holt_winters(wv, self.scalar(1, i), self.scalar(2, i))
                        .map_err(QueryError::Execution)?
                }
                RangeFn::Avg => Some(over_time::avg(wv)),
                RangeFn::Sum => Some(over_time::sum(wv)),
                RangeFn::Min => Some(over_time::min(wv)),
                RangeFn::Max => Some(over_time::max(wv)),
                RangeFn::Count => Some(wv.len() as f64),
                RangeFn::Last => Some(wv[wv.len() - 1]),
                RangeFn::Present | RangeFn::Absent => Some(1.0),
                RangeFn::Stddev => Some(over_time::stddev(wv)),
                RangeFn::Stdvar => Some(over_time::stdvar(wv)),
                RangeFn::Quantile => {
                    Some(over_time::quantile_of(self.scalar(0, i), wv, &mut scratch))
                }
            };
            if let Some(v) = v {
                out.push((i as u32, v));
            }
        }
        Ok(out)
    }
}

/// The first index at or after `from` whose time fails `before` (`ts` is
/// sorted and `before` holds for a prefix): galloping, since windows move
/// by a step, which is usually a few samples.
fn gallop(ts: &[i64], from: usize, before: impl Fn(i64) -> bool) -> usize {
    let mut lo = from;
    let mut step = 1;
    // Invariant: every index below `lo` satisfies `before`.
    while lo < ts.len() && before(ts[lo]) {
        let probe = lo + step;
        if probe >= ts.len() || !before(ts[probe]) {
            let hi = probe.min(ts.len());
            return lo + 1 + ts[lo + 1..hi].partition_point(|&t| before(t));
        }
        lo = probe + 1;
        step *= 2;
    }
    lo
}

impl Evaluator<'_> {
    /// A call whose argument `m` is a range vector.
    pub fn range_call(
        &self,
        c: &Call,
        f: RangeFn,
        m: usize,
        steps: Steps,
    ) -> Result<Val, QueryError> {
        let mut scalars = vec![Vec::new(); c.args.len()];
        for (i, a) in c.args.iter().enumerate() {
            if i != m {
                scalars[i] = self.eval_scalar(a, steps)?;
            }
        }
        let arg = unparen(&c.args[m]);
        let (rt, range): (ReadTime, i64) = match arg {
            Expr::Matrix(ms) => (
                read_time(self, ms.selector.at, ms.selector.offset.map(|o| o.0), steps),
                ms.range,
            ),
            Expr::Subquery(sq) => (
                read_time(self, sq.at, sq.offset.map(|o| o.0), steps),
                sq.range,
            ),
            _ => {
                return Err(QueryError::Execution(format!(
                    "expected type range vector in call to function \"{}\"",
                    c.func.name
                )))
            }
        };
        let ends: Vec<i64> = steps.times().map(|t| rt.at(t)).collect();
        let w = Windows {
            f,
            steps,
            ends: &ends,
            range,
            scalars: &scalars,
        };
        let (Some(&first), Some(&last)) = (ends.iter().min(), ends.iter().max()) else {
            return Ok(Val::Vector(Vec::new()));
        };
        let per_series: Vec<PerSeries> = match arg {
            Expr::Matrix(ms) => {
                if let Some(out) = self.rollup_call(&w, &ms.selector)? {
                    out
                } else {
                    let (mint, maxt) = (first - range, last);
                    let handles = self.select(&ms.selector, mint, maxt)?;
                    self.par_map(handles, |h, scratch| {
                        self.read(h, mint, maxt, scratch)?;
                        drop_stale(&mut scratch.ts, &mut scratch.vs);
                        Ok((Arc::clone(&h.labels), w.slide(&scratch.ts, &scratch.vs)?))
                    })?
                }
            }
            Expr::Subquery(sq) => {
                let series: Vec<RawSeries> = self.subquery(sq, steps)?;
                self.par_map(series, |s, _| {
                    Ok((Arc::new(s.labels.clone()), w.slide(&s.ts, &s.vs)?))
                })?
            }
            _ => Vec::new(),
        };
        if f == RangeFn::Absent {
            return Ok(Val::Vector(absent_over_time(arg, &per_series, steps)));
        }
        let mut out = Vec::with_capacity(per_series.len());
        for (labels, points) in per_series {
            if points.is_empty() {
                continue;
            }
            self.count_samples(points.len())?;
            let labels = if f == RangeFn::Last {
                Arc::unwrap_or_clone(labels)
            } else {
                labels.without_metric_name()
            };
            out.push(StepSeries { labels, points });
        }
        check_unique_labels(out.iter().map(|s| &s.labels))?;
        Ok(Val::Vector(out))
    }
}

/// `absent_over_time`: 1 at the steps where no series had a sample in its
/// window, labelled from the selector's equality matchers.
fn absent_over_time(arg: &Expr, per_series: &[PerSeries], steps: Steps) -> Vec<StepSeries> {
    let mut present = vec![false; steps.len()];
    for (_, points) in per_series {
        for &(i, _) in points {
            present[i as usize] = true;
        }
    }
    let points: Vec<(u32, f64)> = present
        .iter()
        .enumerate()
        .filter(|(_, p)| !**p)
        .map(|(i, _)| (i as u32, 1.0))
        .collect();
    if points.is_empty() {
        return Vec::new();
    }
    let labels = match arg {
        Expr::Matrix(ms) => absent_labels(&ms.selector.matchers),
        _ => Labels::default(),
    };
    vec![StepSeries { labels, points }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: RangeFn, ts: &[i64], vs: &[f64], ends: &[i64], range: i64) -> Vec<(u32, f64)> {
        let steps = Steps {
            start: ends[0],
            end: ends[ends.len() - 1],
            step: if ends.len() > 1 { ends[1] - ends[0] } else { 1 },
        };
        let scalars = vec![
            vec![0.5; ends.len()],
            vec![0.5; ends.len()],
            vec![0.5; ends.len()],
        ];
        Windows {
            f,
            steps,
            ends,
            range,
            scalars: &scalars,
        }
        .slide(ts, vs)
        .unwrap()
    }

    #[test]
    fn windows_are_closed_at_both_ends() {
        let ts = [10, 20, 30, 40];
        let vs = [1.0, 2.0, 3.0, 4.0];
        // [10, 30] holds 3 samples; [11, 31] 2; [21, 41] 2; [31, 51] 1;
        // [41, 61] none
        assert_eq!(
            run(RangeFn::Count, &ts, &vs, &[30, 31, 41, 51, 61], 20),
            vec![(0, 3.0), (1, 2.0), (2, 2.0), (3, 1.0)]
        );
        assert_eq!(
            run(RangeFn::Sum, &ts, &vs, &[30, 40], 20),
            vec![(0, 6.0), (1, 9.0)]
        );
        assert_eq!(run(RangeFn::Last, &ts, &vs, &[35], 100), vec![(0, 3.0)]);
    }

    #[test]
    fn sliding_rate_equals_the_whole_window_formula() {
        let ts: Vec<i64> = (0..200).map(|i| i * 15_000 + (i % 7) * 11).collect();
        let vs: Vec<f64> = (0..200)
            .map(|i| {
                if i % 37 == 36 {
                    1.0
                } else {
                    (i * i % 101) as f64 + i as f64
                }
            })
            .collect();
        let ends: Vec<i64> = (0..60).map(|k| 300_000 + k * 37_000).collect();
        for f in [RangeFn::Rate, RangeFn::Increase, RangeFn::Delta] {
            let got = run(f, &ts, &vs, &ends, 300_000);
            let mut want = Vec::new();
            for (i, &e) in ends.iter().enumerate() {
                let lo = ts.partition_point(|&t| t < e - 300_000);
                let hi = ts.partition_point(|&t| t <= e);
                let r = crate::functions::rate::extrapolated_rate(
                    &ts[lo..hi],
                    &vs[lo..hi],
                    e - 300_000,
                    e,
                    300_000,
                    f != RangeFn::Delta,
                    f == RangeFn::Rate,
                );
                if let Some(r) = r {
                    want.push((i as u32, r));
                }
            }
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.0, w.0);
                assert_eq!(g.1.to_bits(), w.1.to_bits(), "{f:?} step {}", g.0);
            }
        }
    }

    #[test]
    fn gallop_finds_the_first_failing_index() {
        let ts: Vec<i64> = (0..100).map(|i| i * 10).collect();
        for from in [0, 1, 7, 50, 99, 100] {
            for bound in [-5, 0, 5, 10, 95, 333, 990, 2000] {
                let want = ts.partition_point(|&t| t < bound).max(from);
                assert_eq!(gallop(&ts, from, |t| t < bound), want, "{from} {bound}");
            }
        }
        assert_eq!(gallop(&[], 0, |t| t < 5), 0);
    }

    #[test]
    fn resets_and_changes_per_window() {
        let ts = [1, 2, 3, 4, 5];
        let vs = [3.0, 1.0, 1.0, 0.0, 2.0];
        assert_eq!(run(RangeFn::Resets, &ts, &vs, &[5], 10), vec![(0, 2.0)]);
        assert_eq!(run(RangeFn::Changes, &ts, &vs, &[5], 10), vec![(0, 3.0)]);
        assert_eq!(
            run(RangeFn::Resets, &ts, &vs, &[3, 5], 1),
            vec![(0, 0.0), (1, 0.0)]
        );
    }

    #[test]
    fn holt_winters_errors_surface() {
        let steps = Steps::single(10);
        let scalars = vec![Vec::new(), vec![2.0], vec![0.5]];
        let w = Windows {
            f: RangeFn::HoltWinters,
            steps,
            ends: &[10],
            range: 10,
            scalars: &scalars,
        };
        let err = w.slide(&[1, 2], &[1.0, 2.0]).unwrap_err();
        assert!(
            err.to_string().contains("invalid smoothing factor"),
            "{err}"
        );
    }
}
