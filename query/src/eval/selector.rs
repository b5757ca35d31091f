//! Selectors: each series' samples are read once for the union of the
//! windows of all steps, then walked with a moving index.
//!
//! Instant vector selection at read time `t` (Prometheus 2.42): the newest
//! sample with a timestamp in `[t - lookback, t]`, both ends included; none
//! if that sample is a stale marker. Range vectors hold the samples of
//! `[t - range, t]`, both ends included, without stale markers.

use nines_engine::read::SeriesHandle;
use nines_engine::{is_stale_marker, Labels};

use super::node::read_time;
use super::par::Scratch;
use super::values::{OutBuilder, RawSeries, StepSeries, Steps};
use super::Evaluator;
use crate::error::QueryError;
use crate::syntax::ast::VectorSelector;

impl Evaluator<'_> {
    /// The series matching `sel` with samples in `[mint, maxt]`.
    pub fn select(
        &self,
        sel: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesHandle>, QueryError> {
        self.check("series selection")?;
        Ok(self.snap.select(&sel.matchers, mint, maxt)?)
    }

    /// Reads one series' samples in `[mint, maxt]` (stale markers kept) into
    /// the scratch buffers, counting them against the sample limit.
    pub fn read(
        &self,
        h: &SeriesHandle,
        mint: i64,
        maxt: i64,
        scratch: &mut Scratch,
    ) -> Result<(), QueryError> {
        scratch.ts.clear();
        scratch.vs.clear();
        self.snap.read_samples(
            h,
            mint,
            maxt,
            &mut scratch.read,
            &mut scratch.ts,
            &mut scratch.vs,
        )?;
        self.count_samples(scratch.ts.len())
    }

    /// Every matching series' samples in `[mint, maxt]` without stale
    /// markers, in label order (series without samples included).
    pub fn load_range(
        &self,
        sel: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<RawSeries>, QueryError> {
        let handles = self.select(sel, mint, maxt)?;
        self.par_map(handles, |h, scratch| {
            self.read(h, mint, maxt, scratch)?;
            drop_stale(&mut scratch.ts, &mut scratch.vs);
            Ok(RawSeries {
                labels: Labels::clone(&h.labels),
                ts: scratch.ts.clone(),
                vs: scratch.vs.clone(),
            })
        })
    }

    /// An instant vector selector at every step.
    pub fn vector_selector(
        &self,
        sel: &VectorSelector,
        steps: Steps,
    ) -> Result<Vec<StepSeries>, QueryError> {
        let rt = read_time(self, sel.at, sel.offset.map(|o| o.0), steps);
        self.select_instant(sel, steps, |t| rt.at(t), |_, v| v)
    }

    /// `timestamp(selector)`: the time of the sample each step selects, in
    /// seconds, without the metric name. Prometheus reads such a selector
    /// with `@` at the `@` time itself, ignoring its offset.
    pub fn timestamp_of_selector(
        &self,
        sel: &VectorSelector,
        steps: Steps,
    ) -> Result<Vec<StepSeries>, QueryError> {
        let at = self.resolve_at(sel.at);
        let offset = sel.offset.map_or(0, |o| o.0);
        let read = |t: i64| at.unwrap_or(t - offset);
        let series = self.select_instant(sel, steps, read, |t, _| t as f64 / 1000.0)?;
        let mut out = OutBuilder::default();
        for s in series {
            let slot = out.slot(s.labels.without_metric_name());
            for (i, v) in s.points {
                out.push(slot, i, v)?;
            }
        }
        out.finish()
    }

    /// Instant selection at `read(T)` for every step `T`; `value` maps the
    /// selected sample `(t, v)` to the output value.
    fn select_instant(
        &self,
        sel: &VectorSelector,
        steps: Steps,
        read: impl Fn(i64) -> i64 + Sync,
        value: impl Fn(i64, f64) -> f64 + Sync,
    ) -> Result<Vec<StepSeries>, QueryError> {
        if steps.len() == 0 {
            return Ok(Vec::new());
        }
        let lookback = self.opts.lookback_ms;
        let times: Vec<i64> = steps.times().map(&read).collect();
        let (Some(&lo), Some(&hi)) = (times.iter().min(), times.iter().max()) else {
            return Ok(Vec::new());
        };
        let (mint, maxt) = (lo - lookback, hi);
        let handles = self.select(sel, mint, maxt)?;
        let series = self.par_map(handles, |h, scratch| {
            self.read(h, mint, maxt, scratch)?;
            let points = instant_points(&scratch.ts, &scratch.vs, &times, lookback, &value);
            self.count_samples(points.len())?;
            Ok(StepSeries {
                labels: Labels::clone(&h.labels),
                points,
            })
        })?;
        Ok(series
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .collect())
    }
}

/// The step-indexed values of one series: at each read time `t` (non
/// decreasing, or the same time repeated), the newest sample at or before
/// `t` and not older than `t - lookback`, unless it is a stale marker.
pub(crate) fn instant_points(
    ts: &[i64],
    vs: &[f64],
    times: &[i64],
    lookback: i64,
    value: impl Fn(i64, f64) -> f64,
) -> Vec<(u32, f64)> {
    let mut out = Vec::new();
    let mut j = 0; // samples before j are at or before the current time
    for (i, &t) in times.iter().enumerate() {
        if j > 0 && ts[j - 1] > t {
            // Times went back (cannot happen for increasing steps).
            j = ts.partition_point(|&x| x <= t);
        }
        while j < ts.len() && ts[j] <= t {
            j += 1;
        }
        if j == 0 {
            continue;
        }
        let (st, sv) = (ts[j - 1], vs[j - 1]);
        if st < t - lookback || is_stale_marker(sv) {
            continue;
        }
        out.push((i as u32, value(st, sv)));
    }
    out
}

/// Removes stale markers (range vectors never hold them), in place.
pub(crate) fn drop_stale(ts: &mut Vec<i64>, vs: &mut Vec<f64>) {
    if !vs.iter().any(|&v| is_stale_marker(v)) {
        return;
    }
    let mut k = 0;
    for i in 0..ts.len() {
        if !is_stale_marker(vs[i]) {
            ts[k] = ts[i];
            vs[k] = vs[i];
            k += 1;
        }
    }
    ts.truncate(k);
    vs.truncate(k);
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE: f64 = f64::from_bits(nines_engine::STALE_NAN_BITS);

    #[test]
    fn lookback_includes_both_ends() {
        let ts = [100, 200];
        let vs = [1.0, 2.0];
        let times = [99, 100, 150, 200, 400, 500, 501];
        let got = instant_points(&ts, &vs, &times, 300, |_, v| v);
        // 99: nothing yet; 100: exactly at the sample; 500: 200 + 300,
        // still in; 501: out.
        assert_eq!(got, vec![(1, 1.0), (2, 1.0), (3, 2.0), (4, 2.0), (5, 2.0)]);
    }

    #[test]
    fn stale_marker_ends_the_series_until_the_next_sample() {
        let ts = [100, 200, 300];
        let vs = [1.0, STALE, 3.0];
        let got = instant_points(&ts, &vs, &[150, 200, 250, 300], 1000, |_, v| v);
        assert_eq!(got, vec![(0, 1.0), (3, 3.0)]);
    }

    #[test]
    fn fixed_read_times_repeat() {
        let got = instant_points(&[100], &[7.0], &[150, 150, 150], 1000, |t, _| t as f64);
        assert_eq!(got, vec![(0, 100.0), (1, 100.0), (2, 100.0)]);
    }

    #[test]
    fn stale_markers_leave_range_vectors() {
        let (mut ts, mut vs) = (vec![1, 2, 3], vec![1.0, STALE, f64::NAN]);
        drop_stale(&mut ts, &mut vs);
        assert_eq!(ts, vec![1, 3]);
        assert!(vs[1].is_nan());
    }
}
