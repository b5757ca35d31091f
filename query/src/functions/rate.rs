//! `rate`, `increase`, `delta` (Prometheus's extrapolatedRate), `irate`,
//! `idelta`, `resets` and `changes`, over one window of a series' samples
//! (time order, stale markers already removed).
//!
//! extrapolatedRate is split in two so that the evaluator can feed it either
//! from raw samples or from an exact rollup summary: [`counter_delta`] is the
//! raw difference with Prometheus's reset correction (last - first, then
//! each reset adds the value before it, in time order), and [`extrapolate`]
//! applies the boundary extrapolation with Prometheus's operation order.

/// What extrapolatedRate needs to know about the samples of a window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateWindow {
    pub first_t: i64,
    pub first_v: f64,
    pub last_t: i64,
    /// Number of samples; at least 2.
    pub count: u64,
    /// `last - first`, plus for counters the value before each reset.
    pub delta: f64,
}

/// `last - first` plus, when `is_counter`, `vs[i-1]` for every `i` with
/// `vs[i] < vs[i-1]`, added in that order. `vs` must not be empty.
pub fn counter_delta(vs: &[f64], is_counter: bool) -> f64 {
    let (Some(&first), Some(&last)) = (vs.first(), vs.last()) else {
        return 0.0;
    };
    let mut result = last - first;
    if is_counter {
        let mut prev = first;
        for &v in &vs[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    result
}

/// Positions `i >= 1` of a series where `vs[i] < vs[i-1]`, so that the
/// reset correction of any window costs only its resets.
#[derive(Clone, Debug, Default)]
pub struct Resets {
    idx: Vec<usize>,
}

impl Resets {
    pub fn new(vs: &[f64]) -> Resets {
        let idx = (1..vs.len()).filter(|&i| vs[i] < vs[i - 1]).collect();
        Resets { idx }
    }

    /// [`counter_delta`] of `vs[lo..hi]` (non-empty), the same additions in
    /// the same order.
    pub fn counter_delta(&self, vs: &[f64], lo: usize, hi: usize) -> f64 {
        let mut result = vs[hi - 1] - vs[lo];
        let from = self.idx.partition_point(|&i| i <= lo);
        for &i in &self.idx[from..] {
            if i >= hi {
                break;
            }
            result += vs[i - 1];
        }
        result
    }
}

/// `d.Seconds()` of Go's `time.Duration` for a duration in milliseconds:
/// whole seconds plus the nanoseconds over 1e9, as Go computes it.
pub fn duration_seconds(ms: i64) -> f64 {
    let sec = ms / 1000;
    let nsec = (ms % 1000) * 1_000_000;
    sec as f64 + nsec as f64 / 1e9
}

/// Prometheus's extrapolation of a window's delta to the window
/// `[range_start, range_end]` of length `range_ms`, per second when
/// `is_rate`.
pub fn extrapolate(
    w: &RateWindow,
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> f64 {
    let mut result = w.delta;
    let mut duration_to_start = (w.first_t - range_start) as f64 / 1000.0;
    let duration_to_end = (range_end - w.last_t) as f64 / 1000.0;
    let sampled_interval = (w.last_t - w.first_t) as f64 / 1000.0;
    let average_between = sampled_interval / (w.count - 1) as f64;

    if is_counter && result > 0.0 && w.first_v >= 0.0 {
        // A counter cannot go below zero: do not extrapolate past the
        // point where the line through the samples reaches zero.
        let duration_to_zero = sampled_interval * (w.first_v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }

    let threshold = average_between * 1.1;
    let mut extrapolate_to = sampled_interval;
    if duration_to_start < threshold {
        extrapolate_to += duration_to_start;
    } else {
        extrapolate_to += average_between / 2.0;
    }
    if duration_to_end < threshold {
        extrapolate_to += duration_to_end;
    } else {
        extrapolate_to += average_between / 2.0;
    }
    let mut factor = extrapolate_to / sampled_interval;
    if is_rate {
        factor /= duration_seconds(range_ms);
    }
    result *= factor;
    result
}

/// extrapolatedRate over whole slices: `None` with fewer than two samples.
pub fn extrapolated_rate(
    ts: &[i64],
    vs: &[f64],
    range_start: i64,
    range_end: i64,
    range_ms: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if ts.len() < 2 {
        return None;
    }
    let w = RateWindow {
        first_t: ts[0],
        first_v: vs[0],
        last_t: ts[ts.len() - 1],
        count: ts.len() as u64,
        delta: counter_delta(vs, is_counter),
    };
    Some(extrapolate(
        &w,
        range_start,
        range_end,
        range_ms,
        is_counter,
        is_rate,
    ))
}

/// `irate` (`is_rate`) and `idelta` from the last two samples: `None` with
/// fewer than two.
pub fn instant_value(ts: &[i64], vs: &[f64], is_rate: bool) -> Option<f64> {
    let n = ts.len();
    if n < 2 {
        return None;
    }
    let (last, prev) = (vs[n - 1], vs[n - 2]);
    let mut result = if is_rate && last < prev {
        last
    } else {
        last - prev
    };
    let interval = ts[n - 1] - ts[n - 2];
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// How many consecutive pairs of a window satisfy a predicate, in O(1) per
/// window from prefix counts (`resets`, `changes`).
#[derive(Clone, Debug, Default)]
pub struct PairCounts {
    /// `prefix[i]`: pairs `(j-1, j)` with `j <= i` that count.
    prefix: Vec<u32>,
}

impl PairCounts {
    pub fn new(vs: &[f64], counts: impl Fn(f64, f64) -> bool) -> PairCounts {
        let mut prefix = Vec::with_capacity(vs.len());
        let mut n = 0u32;
        for i in 0..vs.len() {
            if i > 0 && counts(vs[i - 1], vs[i]) {
                n += 1;
            }
            prefix.push(n);
        }
        PairCounts { prefix }
    }

    /// Counting pairs inside `[lo, hi)` (non-empty).
    pub fn count(&self, lo: usize, hi: usize) -> f64 {
        f64::from(self.prefix[hi - 1] - self.prefix[lo])
    }
}

/// `resets`: a pair counts when the value decreases.
pub fn is_reset(prev: f64, cur: f64) -> bool {
    cur < prev
}

/// `changes`: a pair counts when the value differs (two NaNs are equal).
pub fn is_change(prev: f64, cur: f64) -> bool {
    cur != prev && !(cur.is_nan() && prev.is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_a_regular_counter() {
        // Samples every 15 s from t=15s to t=300s in a 5 m window ending at
        // 300 s: 20 samples, increasing by 1 each.
        let ts: Vec<i64> = (1..=20).map(|i| i * 15_000).collect();
        let vs: Vec<f64> = (101..=120).map(f64::from).collect();
        // sampled 285 s, avg 15 s; 15 s to the start (< 16.5: extrapolate;
        // the zero point is far), 0 s to the end.
        let inc = extrapolated_rate(&ts, &vs, 0, 300_000, 300_000, true, false).unwrap();
        assert_eq!(inc, 19.0 * (300.0 / 285.0));
        let rate = extrapolated_rate(&ts, &vs, 0, 300_000, 300_000, true, true).unwrap();
        assert_eq!(rate, 19.0 * (300.0 / 285.0 / 300.0));
        assert_eq!(
            extrapolated_rate(&ts[..1], &vs[..1], 0, 1, 1, true, true),
            None
        );
    }

    #[test]
    fn resets_add_the_value_before_them() {
        let vs = [5.0, 8.0, 2.0, 4.0, 1.0];
        // 1 - 5 + 8 + 4
        assert_eq!(counter_delta(&vs, true), 8.0);
        assert_eq!(counter_delta(&vs, false), -4.0);
        let r = Resets::new(&vs);
        assert_eq!(r.counter_delta(&vs, 0, 5), 8.0);
        // window [1, 4): 8, 2, 4 -> 4 - 8 + 8
        assert_eq!(r.counter_delta(&vs, 1, 4), 4.0);
        // window [2, 5): 2, 4, 1 -> 1 - 2 + 4; the reset at 2 is outside
        assert_eq!(r.counter_delta(&vs, 2, 5), 3.0);
        assert_eq!(r.counter_delta(&vs, 3, 4), 0.0);
    }

    #[test]
    fn zero_point_limits_start_extrapolation() {
        // counter from 2 to 12 over 10 s, window starts 30 s before the
        // first sample: the zero point is 2 s before it.
        let w = RateWindow {
            first_t: 30_000,
            first_v: 2.0,
            last_t: 40_000,
            count: 11,
            delta: 10.0,
        };
        let got = extrapolate(&w, 0, 40_000, 40_000, true, false);
        // avg 1 s, threshold 1.1 s: zero point 2 s is not below it, so the
        // start adds avg/2; end adds 0.
        assert_eq!(got, 10.0 * (10.5 / 10.0));
        // as a gauge (delta) the same: start too far, half an interval
        assert_eq!(
            extrapolate(&w, 0, 40_000, 40_000, false, false),
            10.0 * (10.5 / 10.0)
        );
        let near = RateWindow { first_t: 500, ..w };
        // first sample 0.5 s after the start: extrapolated to the start,
        // unless the zero point (sampled 39.5 * 2/10 = 7.9 s) is closer.
        let got = extrapolate(&near, 0, 40_000, 40_000, true, false);
        assert_eq!(got, 10.0 * ((39.5 + 0.5) / 39.5));
    }

    #[test]
    fn rate_divides_by_the_range_in_go_seconds() {
        assert_eq!(duration_seconds(300_000), 300.0);
        assert_eq!(duration_seconds(1_500), 1.5);
        assert_eq!(duration_seconds(-1_500), -1.5);
    }

    #[test]
    fn irate_and_idelta() {
        let ts = [0, 10_000, 20_000];
        assert_eq!(instant_value(&ts, &[1.0, 5.0, 3.0], true), Some(0.3));
        assert_eq!(instant_value(&ts, &[1.0, 5.0, 3.0], false), Some(-2.0));
        assert_eq!(instant_value(&ts, &[1.0, 5.0, 9.0], true), Some(0.4));
        assert_eq!(instant_value(&ts[..1], &[1.0], true), None);
    }

    #[test]
    fn pair_counts() {
        let vs = [1.0, 1.0, f64::NAN, f64::NAN, 2.0, 1.0, 3.0];
        let ch = PairCounts::new(&vs, is_change);
        // 1->1 no, 1->NaN yes, NaN->NaN no, NaN->2 yes, 2->1 yes, 1->3 yes
        assert_eq!(ch.count(0, 7), 4.0);
        assert_eq!(ch.count(2, 4), 0.0);
        assert_eq!(ch.count(5, 6), 0.0);
        let rs = PairCounts::new(&vs, is_reset);
        assert_eq!(rs.count(0, 7), 1.0);
        assert_eq!(rs.count(5, 7), 0.0);
    }
}
