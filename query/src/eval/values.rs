//! What a node evaluates to over the steps of one evaluation: the steps
//! ([`Steps`]), a value per step for scalars, step-indexed points for
//! instant vectors, raw columns for range vectors, and [`OutBuilder`], which
//! assembles output series and enforces "one sample per label set and step".

use std::collections::HashMap;

use nines_engine::Labels;

use crate::error::QueryError;

/// The evaluation times `start, start + step, ..., <= end` (none when
/// `end < start`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Steps {
    pub start: i64,
    pub end: i64,
    /// Positive.
    pub step: i64,
}

impl Steps {
    pub fn single(t: i64) -> Steps {
        Steps {
            start: t,
            end: t,
            step: 1,
        }
    }

    pub fn len(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            usize::try_from((self.end - self.start) / self.step + 1).unwrap_or(0)
        }
    }

    pub fn time(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.time(i))
    }
}

/// One series of an instant vector over the steps: `(step index, value)` in
/// step order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StepSeries {
    pub labels: Labels,
    pub points: Vec<(u32, f64)>,
}

/// One series of a range vector: samples in time order, columnar so that
/// windows are slices. Never holds stale markers.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RawSeries {
    pub labels: Labels,
    pub ts: Vec<i64>,
    pub vs: Vec<f64>,
}

/// A node's value over the steps of its evaluation.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Val {
    /// One value per step.
    Scalar(Vec<f64>),
    String(String),
    /// Label sets unique.
    Vector(Vec<StepSeries>),
    /// Only as the result of a matrix selector or subquery at the top of an
    /// instant query.
    Matrix(Vec<RawSeries>),
}

impl Val {
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::String(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }

    /// The value of a single-step evaluation repeated at every one of `n`
    /// steps (a step-invariant expression).
    pub fn replicate(self, n: usize) -> Val {
        match self {
            Val::Scalar(v) => Val::Scalar(vec![v.first().copied().unwrap_or(f64::NAN); n]),
            Val::Vector(series) => Val::Vector(
                series
                    .into_iter()
                    .filter_map(|s| {
                        let v = s.points.first()?.1;
                        Some(StepSeries {
                            labels: s.labels,
                            points: (0..n).map(|i| (i as u32, v)).collect(),
                        })
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

/// The error Prometheus raises when an operation yields two samples with one
/// label set at one step.
pub(crate) fn duplicate_labelset() -> QueryError {
    QueryError::Execution("vector cannot contain metrics with the same labelset".into())
}

/// Collects output samples into series keyed by label set. Series keep the
/// order in which they first received a sample (an instant query's output
/// order). Samples may arrive out of step order (series by series); two
/// samples for one label set and step are an error.
#[derive(Default)]
pub(crate) struct OutBuilder {
    index: HashMap<Labels, usize>,
    series: Vec<StepSeries>,
    unsorted: Vec<bool>,
}

impl OutBuilder {
    /// The slot for a label set, created on first use.
    pub fn slot(&mut self, labels: Labels) -> usize {
        if let Some(&i) = self.index.get(&labels) {
            return i;
        }
        let i = self.series.len();
        self.index.insert(labels.clone(), i);
        self.series.push(StepSeries {
            labels,
            points: Vec::new(),
        });
        self.unsorted.push(false);
        i
    }

    /// Adds a sample; an out-of-order or repeated step is sorted out (or
    /// reported) by [`OutBuilder::finish`].
    pub fn push(&mut self, slot: usize, step: u32, v: f64) -> Result<(), QueryError> {
        let s = &mut self.series[slot];
        if let Some(&(last, _)) = s.points.last() {
            if last == step {
                return Err(duplicate_labelset());
            }
            if last > step {
                self.unsorted[slot] = true;
            }
        }
        s.points.push((step, v));
        Ok(())
    }

    pub fn finish(self) -> Result<Vec<StepSeries>, QueryError> {
        let mut out = self.series;
        for (s, unsorted) in out.iter_mut().zip(self.unsorted) {
            if unsorted {
                s.points.sort_by_key(|p| p.0);
                if s.points.windows(2).any(|w| w[0].0 == w[1].0) {
                    return Err(duplicate_labelset());
                }
            }
        }
        out.retain(|s| !s.points.is_empty());
        Ok(out)
    }
}

/// An instant vector turned step-major: for each step, the `(series index,
/// value)` pairs present at it, in series order.
pub(crate) struct ByStep {
    offsets: Vec<usize>,
    entries: Vec<(u32, f64)>,
}

impl ByStep {
    pub fn new(series: &[StepSeries], steps: usize) -> ByStep {
        let mut counts = vec![0usize; steps + 1];
        for s in series {
            for &(i, _) in &s.points {
                counts[i as usize + 1] += 1;
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut entries = vec![(0u32, 0.0f64); counts[steps]];
        for (si, s) in series.iter().enumerate() {
            for &(i, v) in &s.points {
                let at = &mut fill[i as usize];
                entries[*at] = (si as u32, v);
                *at += 1;
            }
        }
        ByStep {
            offsets: counts,
            entries,
        }
    }

    pub fn at(&self, step: usize) -> &[(u32, f64)] {
        &self.entries[self.offsets[step]..self.offsets[step + 1]]
    }
}

/// Go's `sort.Sort` with a `Less` that may not be a strict order (NaN
/// rules): insertion sort (stable) up to 12 elements, as Go's pdqsort
/// does; beyond that a stable sort with the order `less` implies.
pub(crate) fn sort_go<T>(items: &mut [T], less: impl Fn(&T, &T) -> bool) {
    if items.len() <= 12 {
        for i in 1..items.len() {
            let mut j = i;
            while j > 0 && less(&items[j], &items[j - 1]) {
                items.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        items.sort_by(|a, b| match (less(a, b), less(b, a)) {
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            _ => std::cmp::Ordering::Equal,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_count_and_times() {
        let s = Steps {
            start: 10,
            end: 40,
            step: 10,
        };
        assert_eq!(s.len(), 4);
        assert_eq!(s.times().collect::<Vec<_>>(), vec![10, 20, 30, 40]);
        let s = Steps {
            start: 10,
            end: 39,
            step: 10,
        };
        assert_eq!(s.len(), 3);
        let s = Steps {
            start: 10,
            end: 9,
            step: 10,
        };
        assert_eq!(s.len(), 0);
        assert_eq!(Steps::single(5).len(), 1);
    }

    #[test]
    fn out_builder_merges_and_detects_duplicates() {
        let a = Labels::from_pairs(&[("a", "1")]);
        let b = Labels::from_pairs(&[("a", "2")]);
        let mut o = OutBuilder::default();
        let sa = o.slot(a.clone());
        o.push(sa, 0, 1.0).unwrap();
        o.push(sa, 2, 3.0).unwrap();
        let sb = o.slot(b.clone());
        o.push(sb, 1, 5.0).unwrap();
        // a second input for label set a, at a free step
        let sa2 = o.slot(a.clone());
        assert_eq!(sa, sa2);
        o.push(sa2, 1, 2.0).unwrap();
        let out = o.finish().unwrap();
        assert_eq!(out[0].labels, a);
        assert_eq!(out[0].points, vec![(0, 1.0), (1, 2.0), (2, 3.0)]);
        assert_eq!(out[1].labels, b);

        let mut o = OutBuilder::default();
        let s = o.slot(a.clone());
        o.push(s, 3, 1.0).unwrap();
        o.push(s, 1, 1.0).unwrap();
        o.push(s, 3, 2.0).unwrap();
        assert!(o.finish().is_err());
        let mut o = OutBuilder::default();
        let s = o.slot(a);
        o.push(s, 3, 1.0).unwrap();
        assert!(o.push(s, 3, 1.0).is_err());
    }

    #[test]
    fn by_step_transposes_in_series_order() {
        let s = |pts: &[(u32, f64)]| StepSeries {
            labels: Labels::default(),
            points: pts.to_vec(),
        };
        let bs = ByStep::new(
            &[s(&[(0, 1.0), (2, 3.0)]), s(&[(2, 4.0)]), s(&[(1, 9.0)])],
            3,
        );
        assert_eq!(bs.at(0), &[(0, 1.0)]);
        assert_eq!(bs.at(1), &[(2, 9.0)]);
        assert_eq!(bs.at(2), &[(0, 3.0), (1, 4.0)]);
    }
}
