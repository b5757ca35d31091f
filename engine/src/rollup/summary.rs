//! Exact, additive summaries of a counter over a time interval.
//!
//! For the samples of one series inside an interval, a [`Summary`] keeps the
//! sample count, the first and last sample, and `inc`: for a cumulative
//! counter the sum over consecutive pairs *inside* the interval of
//! `v[i+1] - v[i]` (or `v[i+1]` after a reset), for a delta counter the sum of
//! the values. Summaries of adjacent intervals combine exactly
//! ([`Summary::then`]): the pair that straddles the boundary is the only thing
//! missing, and the two summaries hold both of its samples. That is what makes
//! `increase(a, b]` of SLO_SEMANTICS.md answerable from rollup buckets with the
//! same result as the raw samples.
//!
//! Prometheus's stale markers are not samples: they are skipped, as Prometheus
//! skips them in range vectors.

use crate::types::{is_stale_marker, SeriesKind, TimestampMs};

/// How increases are counted for a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counting {
    /// Cumulative counter: increases from consecutive samples, resets detected.
    Cumulative,
    /// Each sample is already an increase (delta temporality).
    Delta,
}

impl Counting {
    pub fn of(kind: SeriesKind) -> Counting {
        if kind == SeriesKind::DeltaCounter {
            Counting::Delta
        } else {
            Counting::Cumulative
        }
    }
}

/// The increase contributed by the consecutive pair `(prev, next)`.
#[inline]
pub fn pair_increase(prev: f64, next: f64) -> f64 {
    if next >= prev {
        next - prev
    } else {
        next
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub count: u64,
    pub first_t: TimestampMs,
    pub first_v: f64,
    pub last_t: TimestampMs,
    pub last_v: f64,
    pub inc: f64,
    /// Every summarised value is an integer of magnitude at most 2^53, so
    /// every sum of increases is exact whatever the order of additions: a
    /// result from buckets is then bit-identical to one summed over the raw
    /// samples in any other order (Prometheus's `increase` included).
    pub integral: bool,
}

/// An integer that f64 holds exactly, with room for exact sums of
/// increases.
#[inline]
pub fn is_exact_integer(v: f64) -> bool {
    v.fract() == 0.0 && v.abs() <= 9_007_199_254_740_992.0
}

impl Summary {
    /// The summary of no samples.
    pub const EMPTY: Summary = Summary {
        count: 0,
        first_t: 0,
        first_v: 0.0,
        last_t: 0,
        last_v: 0.0,
        inc: 0.0,
        integral: true,
    };

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Summarises samples in time order (stale markers skipped).
    pub fn of(counting: Counting, ts: &[TimestampMs], vs: &[f64]) -> Summary {
        let mut s = Summary::EMPTY;
        for (&t, &v) in ts.iter().zip(vs) {
            s.push(counting, t, v);
        }
        s
    }

    /// Adds one sample newer than every sample already summarised.
    #[inline]
    pub fn push(&mut self, counting: Counting, t: TimestampMs, v: f64) {
        if is_stale_marker(v) {
            return;
        }
        if self.count == 0 {
            self.first_t = t;
            self.first_v = v;
            self.inc = match counting {
                Counting::Cumulative => 0.0,
                Counting::Delta => v,
            };
        } else {
            self.inc += match counting {
                Counting::Cumulative => pair_increase(self.last_v, v),
                Counting::Delta => v,
            };
        }
        self.last_t = t;
        self.last_v = v;
        self.count += 1;
        self.integral &= is_exact_integer(v);
    }

    /// This interval followed by the adjacent, later interval `next`.
    pub fn then(&self, counting: Counting, next: &Summary) -> Summary {
        if self.is_empty() {
            return *next;
        }
        if next.is_empty() {
            return *self;
        }
        let bridge = match counting {
            Counting::Cumulative => pair_increase(self.last_v, next.first_v),
            Counting::Delta => 0.0,
        };
        Summary {
            count: self.count + next.count,
            first_t: self.first_t,
            first_v: self.first_v,
            last_t: next.last_t,
            last_v: next.last_v,
            inc: self.inc + bridge + next.inc,
            integral: self.integral && next.integral,
        }
    }

    /// The contract's `increase(a, b]` given this summary of the samples in
    /// `(a, b]` and the last sample at or before `a` (if any): the pair that
    /// crosses `a` counts in the window because its later sample is inside.
    pub fn increase_after(&self, counting: Counting, before: Option<f64>) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        match (counting, before) {
            (Counting::Cumulative, Some(prev)) => pair_increase(prev, self.first_v) + self.inc,
            _ => self.inc,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The contract, written as plainly as possible.
    fn reference_increase(ts: &[i64], vs: &[f64], a: i64, b: i64) -> f64 {
        let pts: Vec<(i64, f64)> = ts
            .iter()
            .zip(vs)
            .filter(|(_, v)| !is_stale_marker(**v))
            .map(|(t, v)| (*t, *v))
            .collect();
        let mut sum = 0.0;
        for w in pts.windows(2) {
            let (prev, next) = (w[0].1, w[1].1);
            if a < w[1].0 && w[1].0 <= b {
                sum += if next >= prev { next - prev } else { next };
            }
        }
        sum
    }

    fn counter() -> impl Strategy<Value = (Vec<i64>, Vec<f64>)> {
        proptest::collection::vec((1i64..5000, 0u32..50, prop::bool::weighted(0.05)), 1..200)
            .prop_map(|steps| {
                let (mut t, mut v) = (0i64, 0u32);
                let mut ts = Vec::new();
                let mut vs = Vec::new();
                for (dt, dv, reset) in steps {
                    t += dt;
                    v = if reset { dv } else { v + dv };
                    ts.push(t);
                    vs.push(f64::from(v));
                }
                (ts, vs)
            })
    }

    proptest! {
        #[test]
        fn split_summaries_combine_to_the_whole((ts, vs) in counter(), cuts in proptest::collection::vec(0usize..200, 0..6)) {
            let whole = Summary::of(Counting::Cumulative, &ts, &vs);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(ts.len())).collect();
            cuts.push(0);
            cuts.push(ts.len());
            cuts.sort_unstable();
            let mut acc = Summary::EMPTY;
            for w in cuts.windows(2) {
                let part = Summary::of(Counting::Cumulative, &ts[w[0]..w[1]], &vs[w[0]..w[1]]);
                acc = acc.then(Counting::Cumulative, &part);
            }
            // integer counts: exact
            prop_assert_eq!(acc, whole);
        }

        #[test]
        fn increase_after_equals_the_contract((ts, vs) in counter(), a in 0i64..200_000, len in 0i64..200_000) {
            let b = a + len;
            let lo = ts.partition_point(|&t| t <= a);
            let hi = ts.partition_point(|&t| t <= b);
            let s = Summary::of(Counting::Cumulative, &ts[lo..hi], &vs[lo..hi]);
            let before = lo.checked_sub(1).map(|i| vs[i]);
            prop_assert_eq!(s.increase_after(Counting::Cumulative, before), reference_increase(&ts, &vs, a, b));
        }
    }

    #[test]
    fn integral_tracks_every_value() {
        assert!(Summary::of(Counting::Cumulative, &[1, 2], &[3.0, 5.0]).integral);
        let a = Summary::of(Counting::Cumulative, &[1, 2], &[3.0, 5.5]);
        assert!(!a.integral);
        let b = Summary::of(Counting::Cumulative, &[3], &[9.0]);
        assert!(!a.then(Counting::Cumulative, &b).integral);
        assert!(!Summary::of(Counting::Cumulative, &[1], &[f64::NAN]).integral);
        assert!(!Summary::of(Counting::Cumulative, &[1], &[1e300]).integral);
        const { assert!(Summary::EMPTY.integral) };
    }

    #[test]
    fn stale_markers_are_not_samples() {
        let stale = f64::from_bits(crate::types::STALE_NAN_BITS);
        let s = Summary::of(Counting::Cumulative, &[1, 2, 3], &[5.0, stale, 8.0]);
        assert_eq!((s.count, s.inc), (2, 3.0));
    }

    #[test]
    fn delta_counters_sum_values() {
        let a = Summary::of(Counting::Delta, &[1, 2], &[3.0, 4.0]);
        let b = Summary::of(Counting::Delta, &[3], &[5.0]);
        assert_eq!(a.then(Counting::Delta, &b).inc, 12.0);
        assert_eq!(b.increase_after(Counting::Delta, Some(100.0)), 5.0);
    }

    #[test]
    fn reset_counts_the_new_value() {
        let s = Summary::of(Counting::Cumulative, &[1, 2, 3], &[10.0, 3.0, 5.0]);
        assert_eq!(s.inc, 3.0 + 2.0);
    }
}
