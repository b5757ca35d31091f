//! Aggregations, step by step over the input's series in order, with
//! Prometheus's arithmetic (incremental mean, Welford variance), NaN rules
//! and output order (groups in order of first appearance; topk/bottomk
//! through Go's heap and sort, so ties come out as in Prometheus).

use std::collections::HashMap;

use nines_engine::{is_valid_label_name, Label, Labels, METRIC_NAME};

use super::node::string_arg;
use super::values::{sort_go, ByStep, OutBuilder, StepSeries, Steps, Val};
use super::Evaluator;
use crate::error::QueryError;
use crate::functions::stats::quantile;
use crate::gofmt::{fmt_v, quote};
use crate::syntax::ast::{AggregateExpr, AggregateOp, Grouping};
use crate::value::format_value;

/// The labels that identify a series' group (and label the group's output).
fn group_labels(labels: &Labels, grouping: Option<&Grouping>) -> Labels {
    let keep = |l: &Label| match grouping {
        None => false,
        Some(g) if g.without => l.name != METRIC_NAME && !g.labels.contains(&l.name),
        Some(g) => g.labels.contains(&l.name),
    };
    Labels::from_sorted(labels.iter().filter(|l| keep(l)).cloned().collect())
}

/// Go's `float64 <= math.MaxInt64 && float64 >= math.MinInt64`.
fn convertible_to_i64(f: f64) -> bool {
    (-9_223_372_036_854_775_808.0..=9_223_372_036_854_774_784.0).contains(&f)
}

/// Per-group state of one step.
#[derive(Clone, Copy, Default)]
struct Acc {
    value: f64,
    mean: f64,
    count: u64,
}

impl Evaluator<'_> {
    pub fn aggregate(&self, a: &AggregateExpr, steps: Steps) -> Result<Val, QueryError> {
        let grouping = a.grouping.as_ref();
        let param: Vec<f64> = match (&a.param, a.op) {
            (Some(p), AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Quantile) => {
                self.eval_scalar(p, steps)?
            }
            _ => Vec::new(),
        };
        let input = self.eval_vector(&a.expr, steps)?;
        let out = match a.op {
            AggregateOp::Topk | AggregateOp::Bottomk => {
                self.top_k(a.op == AggregateOp::Topk, &input, grouping, &param, steps)?
            }
            AggregateOp::CountValues => {
                let label = string_arg(a.param.as_deref().ok_or_else(|| {
                    QueryError::Execution("count_values needs a label name".into())
                })?)?;
                self.count_values(label, &input, grouping, steps)?
            }
            op => self.simple(op, &input, grouping, &param, steps)?,
        };
        Ok(Val::Vector(out))
    }

    /// Groups per input series, interned.
    fn groups(&self, input: &[StepSeries], grouping: Option<&Grouping>) -> (Vec<u32>, Vec<Labels>) {
        let mut ids: HashMap<Labels, u32> = HashMap::new();
        let mut labels = Vec::new();
        let gid = input
            .iter()
            .map(|s| {
                let g = group_labels(&s.labels, grouping);
                *ids.entry(g).or_insert_with_key(|g| {
                    labels.push(g.clone());
                    labels.len() as u32 - 1
                })
            })
            .collect();
        (gid, labels)
    }

    fn simple(
        &self,
        op: AggregateOp,
        input: &[StepSeries],
        grouping: Option<&Grouping>,
        param: &[f64],
        steps: Steps,
    ) -> Result<Vec<StepSeries>, QueryError> {
        let (gid, glabels) = self.groups(input, grouping);
        if self.sum_series_major
            && op == AggregateOp::Sum
            && glabels.len().saturating_mul(steps.len())
                <= input.iter().map(|s| s.points.len()).sum::<usize>()
        {
            return self.sum_series_major(input, &gid, glabels, steps);
        }
        let by_step = ByStep::new(input, steps.len());
        let mut acc = vec![Acc::default(); glabels.len()];
        let mut seen = vec![u32::MAX; glabels.len()];
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); glabels.len()];
        let mut slots: Vec<Option<usize>> = vec![None; glabels.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut out = OutBuilder::default();
        for i in 0..steps.len() {
            if i % 64 == 0 {
                self.check("expression evaluation")?;
            }
            touched.clear();
            for &(s, v) in by_step.at(i) {
                let g = gid[s as usize] as usize;
                let a = &mut acc[g];
                if seen[g] != i as u32 {
                    seen[g] = i as u32;
                    touched.push(g as u32);
                    *a = Acc {
                        value: v,
                        mean: v,
                        count: 1,
                    };
                    match op {
                        AggregateOp::Stddev | AggregateOp::Stdvar => a.value = 0.0,
                        AggregateOp::Group => a.value = 1.0,
                        AggregateOp::Quantile => {
                            values[g].clear();
                            values[g].push(v);
                        }
                        _ => {}
                    }
                    continue;
                }
                match op {
                    AggregateOp::Sum => a.value += v,
                    AggregateOp::Avg => {
                        a.count += 1;
                        let keep_inf = a.mean.is_infinite()
                            && ((v.is_infinite() && (a.mean > 0.0) == (v > 0.0))
                                || (!v.is_infinite() && !v.is_nan()));
                        if !keep_inf {
                            let n = a.count as f64;
                            a.mean += v / n - a.mean / n;
                        }
                    }
                    AggregateOp::Max if a.value < v || a.value.is_nan() => a.value = v,
                    AggregateOp::Min if a.value > v || a.value.is_nan() => a.value = v,
                    AggregateOp::Count => a.count += 1,
                    AggregateOp::Stddev | AggregateOp::Stdvar => {
                        a.count += 1;
                        let delta = v - a.mean;
                        a.mean += delta / a.count as f64;
                        a.value += delta * (v - a.mean);
                    }
                    AggregateOp::Quantile => values[g].push(v),
                    _ => {}
                }
            }
            for &g in &touched {
                let g = g as usize;
                let a = &acc[g];
                let v = match op {
                    AggregateOp::Avg => a.mean,
                    AggregateOp::Count => a.count as f64,
                    AggregateOp::Stdvar => a.value / a.count as f64,
                    AggregateOp::Stddev => (a.value / a.count as f64).sqrt(),
                    AggregateOp::Quantile => {
                        let q = param.get(i).copied().unwrap_or(f64::NAN);
                        quantile(q, &mut values[g])
                    }
                    _ => a.value,
                };
                let slot = *slots[g].get_or_insert_with(|| out.slot(glabels[g].clone()));
                out.push(slot, i as u32, v)?;
            }
        }
        out.finish()
    }

    /// `sum` without turning the input step-major: each group keeps a row of
    /// per-step sums, filled series by series. The additions at each step
    /// happen in series order, as in the step-major loop of
    /// [`Self::simple`], so the results are bit-identical, and the output
    /// keeps its order (groups by the step, then the series, that first
    /// touches them). Taken when the groups' rows hold no more cells than
    /// the input has points (a dashboard's `sum by (service)` over many
    /// series): it skips the transposition, which was most of such a query's
    /// aggregation time.
    fn sum_series_major(
        &self,
        input: &[StepSeries],
        gid: &[u32],
        glabels: Vec<Labels>,
        steps: Steps,
    ) -> Result<Vec<StepSeries>, QueryError> {
        let n = steps.len();
        let mut sums = vec![0f64; glabels.len() * n];
        let mut present = vec![false; glabels.len() * n];
        // (step, series) that first touches each group
        let mut first = vec![(u32::MAX, u32::MAX); glabels.len()];
        for (si, s) in input.iter().enumerate() {
            if si % 64 == 0 {
                self.check("expression evaluation")?;
            }
            let g = gid[si] as usize;
            if let Some(&(i, _)) = s.points.first() {
                if i < first[g].0 {
                    first[g] = (i, si as u32);
                }
            }
            let row = g * n;
            for &(i, v) in &s.points {
                let k = row + i as usize;
                if present[k] {
                    sums[k] += v;
                } else {
                    present[k] = true;
                    sums[k] = v;
                }
            }
        }
        let mut order: Vec<usize> = (0..glabels.len())
            .filter(|&g| first[g].0 != u32::MAX)
            .collect();
        order.sort_unstable_by_key(|&g| first[g]);
        let mut glabels: Vec<Option<Labels>> = glabels.into_iter().map(Some).collect();
        Ok(order
            .into_iter()
            .map(|g| {
                let row = g * n..(g + 1) * n;
                let points = present[row.clone()]
                    .iter()
                    .zip(&sums[row])
                    .enumerate()
                    .filter(|(_, (&p, _))| p)
                    .map(|(i, (_, &v))| (i as u32, v))
                    .collect();
                StepSeries {
                    labels: glabels[g].take().unwrap_or_default(),
                    points,
                }
            })
            .collect())
    }

    fn top_k(
        &self,
        top: bool,
        input: &[StepSeries],
        grouping: Option<&Grouping>,
        param: &[f64],
        steps: Steps,
    ) -> Result<Vec<StepSeries>, QueryError> {
        let (gid, glabels) = self.groups(input, grouping);
        let by_step = ByStep::new(input, steps.len());
        let mut heaps: Vec<Vec<(u32, f64)>> = vec![Vec::new(); glabels.len()];
        let mut seen = vec![u32::MAX; glabels.len()];
        let mut slots: Vec<Option<usize>> = vec![None; input.len()];
        let mut touched: Vec<u32> = Vec::new();
        let mut out = OutBuilder::default();
        // Go's heap order: topk keeps the smallest on top, bottomk the
        // largest; NaN is always "less", so it is the first to go.
        let less = |a: f64, b: f64| a.is_nan() || if top { a < b } else { a > b };
        for i in 0..steps.len() {
            if i % 64 == 0 {
                self.check("expression evaluation")?;
            }
            let f = param.get(i).copied().unwrap_or(f64::NAN);
            if !convertible_to_i64(f) {
                return Err(QueryError::Execution(format!(
                    "Scalar value {} overflows int64",
                    fmt_v(f)
                )));
            }
            let k = f as i64;
            if k < 1 {
                continue;
            }
            touched.clear();
            for &(s, v) in by_step.at(i) {
                let g = gid[s as usize] as usize;
                let h = &mut heaps[g];
                if seen[g] != i as u32 {
                    seen[g] = i as u32;
                    touched.push(g as u32);
                    h.clear();
                    h.push((s, v));
                    continue;
                }
                let len = h.len() as i64;
                if len < k || less(h[0].1, v) || h[0].1.is_nan() {
                    if len == k {
                        if k == 1 {
                            h[0] = (s, v);
                            continue;
                        }
                        heap_pop(h, &less);
                    }
                    heap_push(h, (s, v), &less);
                }
            }
            for &g in &touched {
                let h = &mut heaps[g as usize];
                // sort.Sort(sort.Reverse(heap)): the reverse of the heap order.
                sort_go(h, |a, b| less(b.1, a.1));
                for &(s, v) in h.iter() {
                    let slot = *slots[s as usize]
                        .get_or_insert_with(|| out.slot(input[s as usize].labels.clone()));
                    out.push(slot, i as u32, v)?;
                }
            }
        }
        out.finish()
    }

    fn count_values(
        &self,
        label: &str,
        input: &[StepSeries],
        grouping: Option<&Grouping>,
        steps: Steps,
    ) -> Result<Vec<StepSeries>, QueryError> {
        if !is_valid_label_name(label) {
            return Err(QueryError::Execution(format!(
                "invalid label name {}",
                quote(label)
            )));
        }
        // `by` (or no clause) also keeps the value label.
        let mut grouping = grouping.cloned().unwrap_or(Grouping {
            without: false,
            labels: Vec::new(),
        });
        if !grouping.without {
            grouping.labels.push(label.to_string());
        }
        let grouping = Some(grouping);
        let by_step = ByStep::new(input, steps.len());
        let mut counts: HashMap<Labels, (usize, u64)> = HashMap::new();
        let mut order: Vec<Labels> = Vec::new();
        let mut out = OutBuilder::default();
        for i in 0..steps.len() {
            if i % 64 == 0 {
                self.check("expression evaluation")?;
            }
            counts.clear();
            order.clear();
            for &(s, v) in by_step.at(i) {
                let mut labels = input[s as usize].labels.clone();
                labels.set(label, &format_value(v));
                let g = group_labels(&labels, grouping.as_ref());
                match counts.get_mut(&g) {
                    Some(c) => c.1 += 1,
                    None => {
                        counts.insert(g.clone(), (order.len(), 1));
                        order.push(g);
                    }
                }
            }
            for g in order.drain(..) {
                let n = counts.get(&g).map_or(0, |c| c.1);
                let slot = out.slot(g);
                out.push(slot, i as u32, n as f64)?;
            }
        }
        out.finish()
    }
}

/// `container/heap.Push`: append, then sift up.
fn heap_push(h: &mut Vec<(u32, f64)>, x: (u32, f64), less: &impl Fn(f64, f64) -> bool) {
    h.push(x);
    let mut j = h.len() - 1;
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(h[j].1, h[i].1) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

/// `container/heap.Pop`: move the top to the end, sift down, remove it.
fn heap_pop(h: &mut Vec<(u32, f64)>, less: &impl Fn(f64, f64) -> bool) {
    let n = h.len() - 1;
    h.swap(0, n);
    let mut i = 0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        if j1 + 1 < n && less(h[j1 + 1].1, h[j1].1) {
            j = j1 + 1;
        }
        if !less(h[j].1, h[i].1) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    h.pop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_heap_keeps_the_k_largest() {
        let less = |a: f64, b: f64| a.is_nan() || a < b;
        let mut h: Vec<(u32, f64)> = Vec::new();
        for (i, v) in [5.0, 1.0, 9.0, 3.0, 7.0].into_iter().enumerate() {
            if h.len() < 3 || less(h[0].1, v) {
                if h.len() == 3 {
                    heap_pop(&mut h, &less);
                }
                heap_push(&mut h, (i as u32, v), &less);
            }
        }
        sort_go(&mut h, |a, b| less(b.1, a.1));
        assert_eq!(
            h.iter().map(|x| x.1).collect::<Vec<_>>(),
            vec![9.0, 7.0, 5.0]
        );
    }

    #[test]
    fn group_label_derivation() {
        let l = Labels::from_pairs(&[("__name__", "x"), ("a", "1"), ("b", "2")]);
        let by = Grouping {
            without: false,
            labels: vec!["a".into(), "__name__".into()],
        };
        assert_eq!(
            group_labels(&l, Some(&by)),
            Labels::from_pairs(&[("__name__", "x"), ("a", "1")])
        );
        let without = Grouping {
            without: true,
            labels: vec!["a".into()],
        };
        assert_eq!(
            group_labels(&l, Some(&without)),
            Labels::from_pairs(&[("b", "2")])
        );
        assert_eq!(group_labels(&l, None), Labels::default());
        assert!(convertible_to_i64(2f64.powi(63) - 1024.0));
        assert!(!convertible_to_i64(2f64.powi(63)));
        assert!(!convertible_to_i64(f64::NAN));
    }
}
