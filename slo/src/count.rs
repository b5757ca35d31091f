//! Exact event counts over windows, from `Snapshot::summarize` (rollup
//! buckets plus raw edges), per SLO_SEMANTICS.md:
//!
//! - the increase of a window `(a, b]` sums the pairs whose later sample is
//!   in it, so the pair that crosses `a` needs the last sample at or before
//!   `a` ([`Counter::increases`] finds it by looking back);
//! - a window with holes (exclusions, other versions) is a sorted list of
//!   pieces; the series' summaries are chained through the holes so that
//!   each piece's first pair is bridged from the true previous sample;
//! - delta counters sum their values (the `Counting` of each series).

use nines_engine::index::{MatchOp, Matcher};
use nines_engine::read::{ReadScratch, SeriesHandle, Snapshot};
use nines_engine::rollup::Counting;
use nines_engine::types::is_stale_marker;
use nines_engine::TimestampMs;

use crate::error::SloError;
use crate::model::{RatioEvents, Sli};
use crate::sums::SumsCache;

/// A window `(after, through]`.
pub type Piece = (TimestampMs, TimestampMs);

/// How far back the sample before a window is looked for: widening steps
/// from an hour to about a century (then the series has none).
const LOOKBACK_START_MS: i64 = 3_600_000;
const LOOKBACK_GROWTH: i64 = 16;
const LOOKBACK_LIMIT_MS: i64 = 100 * 366 * 86_400_000;

/// How far before a window series are selected, so that the sample before
/// the window is usually in a file the handle knows.
pub(crate) const SELECT_BEFORE_MS: i64 = 2 * 86_400_000;

/// The last sample value of the series `h` at or before `t`, if any. `h`
/// may know only the files of a time range (a select's); when they hold
/// no sample before `t`, the series is looked up again by its exact labels
/// in every file up to `t`.
pub(crate) fn prev_value(
    snap: &Snapshot,
    h: &SeriesHandle,
    t: TimestampMs,
    scratch: &mut ReadScratch,
) -> Result<Option<f64>, SloError> {
    if let Some(v) = value_at_or_before(snap, h, t, scratch)? {
        return Ok(Some(v));
    }
    let exact: Vec<Matcher> = h
        .labels
        .iter()
        .map(|l| Matcher::equal(l.name.clone(), l.value.clone()))
        .collect();
    match snap
        .select_with_rollups(&exact, TimestampMs::MIN, t)?
        .into_iter()
        .find(|x| x.labels == h.labels)
    {
        Some(all) => value_at_or_before(snap, &all, t, scratch),
        None => Ok(None),
    }
}

/// The last sample value of `h` at or before `t`, if any, in the files `h`
/// knows.
pub(crate) fn value_at_or_before(
    snap: &Snapshot,
    h: &SeriesHandle,
    t: TimestampMs,
    scratch: &mut ReadScratch,
) -> Result<Option<f64>, SloError> {
    let mut span = LOOKBACK_START_MS;
    loop {
        let s = snap.summarize(h, t.saturating_sub(span), t, scratch)?;
        if !s.is_empty() {
            return Ok(Some(s.last_v));
        }
        if span >= LOOKBACK_LIMIT_MS {
            return Ok(None);
        }
        span = span.saturating_mul(LOOKBACK_GROWTH);
    }
}

/// Good and total events of each piece.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PieceCounts {
    pub good: Vec<f64>,
    pub total: Vec<f64>,
}

/// Counts events of SLIs over pieces of time, reading one snapshot.
pub struct Counter<'a> {
    snap: &'a Snapshot,
    scratch: ReadScratch,
    cache: Option<&'a SumsCache>,
}

impl<'a> Counter<'a> {
    pub fn new(snap: &'a Snapshot) -> Counter<'a> {
        Counter {
            snap,
            scratch: ReadScratch::default(),
            cache: None,
        }
    }

    /// Answers selectors from `cache` (shared by every query of one
    /// engine) where it can.
    pub fn with_cache(mut self, cache: Option<&'a SumsCache>) -> Counter<'a> {
        self.cache = cache;
        self
    }

    fn prev_value(&mut self, h: &SeriesHandle, t: TimestampMs) -> Result<Option<f64>, SloError> {
        prev_value(self.snap, h, t, &mut self.scratch)
    }

    /// The increase of each piece summed over the series `matchers`
    /// select: from the shared sums when there are, else read.
    fn selector_increases(
        &mut self,
        matchers: &[Matcher],
        pieces: &[Piece],
    ) -> Result<Vec<f64>, SloError> {
        if let Some(cache) = self.cache {
            if let Some(out) = cache.increases(self.snap, matchers, pieces, &mut self.scratch)? {
                return Ok(out);
            }
        }
        let handles = self.select(matchers, pieces)?;
        self.increases(&handles, pieces)
    }

    /// The series matching `matchers` with samples in the span of `pieces`.
    pub fn select(
        &self,
        matchers: &[Matcher],
        pieces: &[Piece],
    ) -> Result<Vec<SeriesHandle>, SloError> {
        let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
            return Ok(Vec::new());
        };
        Ok(self.snap.select_with_rollups(
            matchers,
            first.0.saturating_sub(SELECT_BEFORE_MS).saturating_add(1),
            last.1,
        )?)
    }

    /// The increase of each piece summed over `handles`. `pieces` are
    /// sorted and disjoint.
    pub fn increases(
        &mut self,
        handles: &[SeriesHandle],
        pieces: &[Piece],
    ) -> Result<Vec<f64>, SloError> {
        let mut out = vec![0.0; pieces.len()];
        let Some(&(start, _)) = pieces.first() else {
            return Ok(out);
        };
        for h in handles {
            let counting = h.counting();
            let mut prev = match counting {
                Counting::Cumulative => self.prev_value(h, start)?,
                Counting::Delta => None,
            };
            let mut at = start;
            for (i, &(a, b)) in pieces.iter().enumerate() {
                if a > at && counting == Counting::Cumulative {
                    let gap = self.snap.summarize(h, at, a, &mut self.scratch)?;
                    if !gap.is_empty() {
                        prev = Some(gap.last_v);
                    }
                }
                let s = self.snap.summarize(h, a, b, &mut self.scratch)?;
                out[i] += s.increase_after(counting, prev);
                if !s.is_empty() {
                    prev = Some(s.last_v);
                }
                at = b;
            }
        }
        Ok(out)
    }

    /// Good and total events of `sli` in each piece. `slo` names the SLO in
    /// errors.
    pub fn count(
        &mut self,
        slo: &str,
        sli: &Sli,
        pieces: &[Piece],
    ) -> Result<PieceCounts, SloError> {
        match sli {
            Sli::Ratio { events, total } => {
                let total_inc = self.selector_increases(total.matchers(), pieces)?;
                let good = match events {
                    RatioEvents::Good(sel) => self.selector_increases(sel.matchers(), pieces)?,
                    RatioEvents::Bad(sel) => {
                        let bad = self.selector_increases(sel.matchers(), pieces)?;
                        total_inc.iter().zip(bad).map(|(t, b)| t - b).collect()
                    }
                };
                Ok(PieceCounts {
                    good,
                    total: total_inc,
                })
            }
            Sli::GaugeThreshold { gauge, op, value } => {
                // every sample is an event, good when it meets the bound;
                // stale markers are no samples, NaN never meets a bound
                let mut out = PieceCounts {
                    good: vec![0.0; pieces.len()],
                    total: vec![0.0; pieces.len()],
                };
                let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
                    return Ok(out);
                };
                let (mut ts, mut vs) = (Vec::new(), Vec::new());
                for h in self.select(gauge.matchers(), pieces)? {
                    ts.clear();
                    vs.clear();
                    self.snap.read_samples(
                        &h,
                        first.0.saturating_add(1),
                        last.1,
                        &mut self.scratch,
                        &mut ts,
                        &mut vs,
                    )?;
                    let mut i = 0;
                    for (&t, &v) in ts.iter().zip(&vs) {
                        if is_stale_marker(v) {
                            continue;
                        }
                        while i < pieces.len() && pieces[i].1 < t {
                            i += 1;
                        }
                        let Some(&(a, _)) = pieces.get(i) else {
                            break;
                        };
                        if t > a {
                            out.total[i] += 1.0;
                            if op.holds(v, *value) {
                                out.good[i] += 1.0;
                            }
                        }
                    }
                }
                Ok(out)
            }
            Sli::ThresholdLatency { bucket, threshold } => {
                let all = self.select(bucket.matchers(), pieces)?;
                let mut edges: Vec<String> = Vec::new();
                let mut at_edge = Vec::new();
                for h in all {
                    let le = h.labels.get("le").unwrap_or("");
                    if parse_le(le) == Some(*threshold) {
                        at_edge.push(h);
                    } else if !edges.iter().any(|e| e == le) {
                        edges.push(le.to_string());
                    }
                }
                if at_edge.is_empty() && !edges.is_empty() {
                    edges.sort_by(|a, b| {
                        let (x, y) = (parse_le(a), parse_le(b));
                        x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
                    });
                    return Err(SloError::NotAnEdge {
                        slo: slo.to_string(),
                        selector: bucket.text().to_string(),
                        threshold: *threshold,
                        edges,
                    });
                }
                // one `le` text at the edge (the usual case): the bucket
                // series are a selector, and the shared sums answer it
                let le = at_edge.first().and_then(|h| h.labels.get("le"));
                let good = match le {
                    Some(le) if at_edge.iter().all(|h| h.labels.get("le") == Some(le)) => {
                        let mut m: Vec<Matcher> = bucket
                            .matchers()
                            .iter()
                            .filter(|m| m.name != "le")
                            .cloned()
                            .collect();
                        m.push(Matcher::equal("le", le));
                        self.selector_increases(&m, pieces)?
                    }
                    _ => self.increases(&at_edge, pieces)?,
                };
                let count_sel = count_matchers(bucket.matchers())?;
                let total = self.selector_increases(&count_sel, pieces)?;
                Ok(PieceCounts { good, total })
            }
        }
    }
}

/// A bucket's `le` as a number (`+Inf` included); `1`, `1.0` and `1e0` are
/// the same edge.
pub fn parse_le(le: &str) -> Option<f64> {
    match le.trim() {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        s => s.parse::<f64>().ok().filter(|v| !v.is_nan()),
    }
}

/// The `_count` series of the histogram a `_bucket` selector selects: the
/// same matchers, `name_bucket` renamed `name_count`, any `le` matcher
/// dropped.
pub fn count_matchers(bucket: &[Matcher]) -> Result<Vec<Matcher>, SloError> {
    let mut out = Vec::new();
    let mut named = false;
    for m in bucket {
        if m.name == "le" {
            continue;
        }
        if m.name == nines_engine::METRIC_NAME {
            match (m.op, m.value.strip_suffix("_bucket")) {
                (MatchOp::Equal, Some(base)) => {
                    out.push(Matcher::equal(m.name.clone(), format!("{base}_count")));
                    named = true;
                    continue;
                }
                _ => {
                    return Err(SloError::Invalid(format!(
                        "a histogram threshold SLI selects its _bucket series by exact name, not {}{}{:?}",
                        m.name,
                        m.op.as_str(),
                        m.value
                    )))
                }
            }
        }
        out.push(m.clone());
    }
    if !named {
        return Err(SloError::Invalid(
            "a histogram threshold SLI needs the _bucket series' name".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_engine::index::parse_selector;

    #[test]
    fn le_edges_normalise() {
        assert_eq!(parse_le("1"), Some(1.0));
        assert_eq!(parse_le("1.0"), parse_le("1e0"));
        assert_eq!(parse_le("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_le("x"), None);
    }

    #[test]
    fn count_selector_from_bucket_selector() {
        let m = parse_selector(r#"lat_bucket{job="a", le="0.3"}"#).unwrap();
        let c = count_matchers(&m).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].value, "lat_count");
        assert_eq!(c[1].name, "job");
        let m = parse_selector(r#"{__name__=~"lat_bucket"}"#).unwrap();
        assert!(count_matchers(&m).is_err());
    }
}
