//! Rollup acceleration of `increase`, `rate` and `count_over_time` over long
//! windows: each window `[e - range, e]` is answered by the engine's exact
//! summary of `(e - range - 1, e]` (whole rollup buckets plus raw edges)
//! instead of the raw samples, when that gives bit for bit what the raw
//! samples give:
//!
//! - `count_over_time`: the summary's count, always (stale markers are not
//!   samples in either).
//! - `rate`/`increase`: only for cumulative counting (not delta counters)
//!   over exact integers (`Summary::integral`, the increase itself within
//!   2^53). Then every partial sum is exact, so Prometheus's `last - first`
//!   plus the values before resets equals the summary's `inc` exactly, and
//!   the extrapolation is computed from `(first_t, first_v, last_t, count,
//!   inc)` with Prometheus's operation order.
//!
//! A series with any window that does not qualify is evaluated from raw
//! samples for all its windows.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use nines_engine::read::{ReadScratch, SeriesHandle};
use nines_engine::rollup::{Counting, Summary};

use super::range_fn::{PerSeries, RangeFn, Windows};
use super::selector::drop_stale;
use super::Evaluator;
use crate::error::QueryError;
use crate::functions::rate::{extrapolate, RateWindow};
use crate::syntax::ast::VectorSelector;

/// Windows shorter than this are read raw: rollup buckets only pay off
/// when they cover much of the window (the raw edges can be up to an hour
/// on each side where only 1 h buckets are written).
pub const ROLLUP_MIN_RANGE_MS: i64 = 2 * 3_600_000;

/// In a range query, consecutive windows overlapping by more than this
/// share of the range are cheaper to slide over raw samples than to
/// summarize one by one.
const MAX_OVERLAP_SHARE: i64 = 4;

/// Where the summary of `(a, b]` is exact for this function.
fn summary_value(f: RangeFn, s: &Summary, counting: Counting, w: &Windows<'_>, i: usize) -> Answer {
    if s.count == 0 {
        return Answer::Empty;
    }
    if f == RangeFn::Count {
        return Answer::Value(s.count as f64);
    }
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if counting != Counting::Cumulative || !s.integral || s.inc.abs() > EXACT {
        return Answer::Raw;
    }
    if s.count < 2 {
        return Answer::Empty;
    }
    // With no reset inside, Prometheus's delta is `last - first` (which
    // keeps the sign of a zero); otherwise it equals the exact increase.
    let delta = if s.inc == 0.0 && s.last_v == s.first_v {
        s.last_v - s.first_v
    } else {
        s.inc
    };
    let win = RateWindow {
        first_t: s.first_t,
        first_v: s.first_v,
        last_t: s.last_t,
        count: s.count,
        delta,
    };
    let end = w.ends[i];
    Answer::Value(extrapolate(
        &win,
        end - w.range,
        end,
        w.range,
        true,
        f == RangeFn::Rate,
    ))
}

enum Answer {
    Value(f64),
    Empty,
    Raw,
}

impl Evaluator<'_> {
    /// The per-series results from rollups, or `None` when this call is
    /// not worth (or not able to be) answered from them.
    pub fn rollup_call(
        &self,
        w: &Windows<'_>,
        sel: &VectorSelector,
    ) -> Result<Option<Vec<PerSeries>>, QueryError> {
        if !self.use_rollups
            || !matches!(w.f, RangeFn::Rate | RangeFn::Increase | RangeFn::Count)
            || w.range < ROLLUP_MIN_RANGE_MS
            || (w.steps.len() > 1 && w.steps.step < w.range / MAX_OVERLAP_SHARE)
        {
            return Ok(None);
        }
        let (Some(&first), Some(&last)) = (w.ends.iter().min(), w.ends.iter().max()) else {
            return Ok(None);
        };
        let (mint, maxt) = (first - w.range, last);
        self.check("series selection")?;
        // Handles that know only the files the summaries read (for a 30-day
        // window, the edges' raw and fine-bucket files, not the month's).
        let windows: Vec<(i64, i64)> = w.ends.iter().map(|&e| (e - w.range - 1, e)).collect();
        let handles = self.snap.select_for_windows(&sel.matchers, &windows)?;
        let mut out: Vec<Option<PerSeries>> = Vec::with_capacity(handles.len());
        let mut raw_labels = Vec::new();
        for (labels, points) in self.par_map(handles, |h, scratch| {
            if let Some(points) = self.summarized(w, h, &mut scratch.read)? {
                self.rollup_series.fetch_add(1, Ordering::Relaxed);
                return Ok((Arc::clone(&h.labels), Some(points)));
            }
            Ok((Arc::clone(&h.labels), None))
        })? {
            match points {
                Some(points) => out.push(Some((labels, points))),
                None => {
                    raw_labels.push((out.len(), labels));
                    out.push(None);
                }
            }
        }
        if !raw_labels.is_empty() {
            // Some window of these is not exact from buckets: all their raw
            // samples, from a select that knows every raw file.
            let all = self.select(sel, mint, maxt)?;
            let wanted: Vec<(usize, SeriesHandle)> = raw_labels
                .into_iter()
                .filter_map(|(slot, labels)| {
                    let i = all.binary_search_by(|h| (*h.labels).cmp(&labels)).ok()?;
                    Some((slot, all[i].clone()))
                })
                .collect();
            let read = self.par_map(wanted, |(slot, h), scratch| {
                self.read(h, mint, maxt, scratch)?;
                drop_stale(&mut scratch.ts, &mut scratch.vs);
                Ok((
                    *slot,
                    Arc::clone(&h.labels),
                    w.slide(&scratch.ts, &scratch.vs)?,
                ))
            })?;
            for (slot, labels, points) in read {
                out[slot] = Some((labels, points));
            }
        }
        Ok(Some(out.into_iter().flatten().collect()))
    }

    /// One series from summaries; `None` when some window needs raw
    /// samples.
    fn summarized(
        &self,
        w: &Windows<'_>,
        h: &SeriesHandle,
        scratch: &mut ReadScratch,
    ) -> Result<Option<Vec<(u32, f64)>>, QueryError> {
        let counting = h.counting();
        let mut points = Vec::new();
        for (i, &end) in w.ends.iter().enumerate() {
            let s = self.snap.summarize(h, end - w.range - 1, end, scratch)?;
            self.count_samples(1)?;
            match summary_value(w.f, &s, counting, w, i) {
                Answer::Value(v) => points.push((i as u32, v)),
                Answer::Empty => {}
                Answer::Raw => return Ok(None),
            }
        }
        Ok(Some(points))
    }
}
