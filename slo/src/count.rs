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
use nines_engine::TimestampMs;

use crate::error::SloError;
use crate::model::{RatioEvents, Sli};

/// A window `(after, through]`.
pub type Piece = (TimestampMs, TimestampMs);

/// How far back the sample before a window is looked for: widening steps
/// from an hour to about a century (then the series has none).
const LOOKBACK_START_MS: i64 = 3_600_000;
const LOOKBACK_GROWTH: i64 = 16;
const LOOKBACK_LIMIT_MS: i64 = 100 * 366 * 86_400_000;

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
}

impl<'a> Counter<'a> {
    pub fn new(snap: &'a Snapshot) -> Counter<'a> {
        Counter {
            snap,
            scratch: ReadScratch::default(),
        }
    }

    /// The last sample value of `h` at or before `t`, if any.
    fn value_at_or_before(
        &mut self,
        h: &SeriesHandle,
        t: TimestampMs,
    ) -> Result<Option<f64>, SloError> {
        let mut span = LOOKBACK_START_MS;
        loop {
            let s = self
                .snap
                .summarize(h, t.saturating_sub(span), t, &mut self.scratch)?;
            if !s.is_empty() {
                return Ok(Some(s.last_v));
            }
            if span >= LOOKBACK_LIMIT_MS {
                return Ok(None);
            }
            span = span.saturating_mul(LOOKBACK_GROWTH);
        }
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
        Ok(self
            .snap
            .select_with_rollups(matchers, first.0.saturating_add(1), last.1)?)
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
                Counting::Cumulative => self.value_at_or_before(h, start)?,
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
                let t_handles = self.select(total.matchers(), pieces)?;
                let total_inc = self.increases(&t_handles, pieces)?;
                let good = match events {
                    RatioEvents::Good(sel) => {
                        let h = self.select(sel.matchers(), pieces)?;
                        self.increases(&h, pieces)?
                    }
                    RatioEvents::Bad(sel) => {
                        let h = self.select(sel.matchers(), pieces)?;
                        let bad = self.increases(&h, pieces)?;
                        total_inc.iter().zip(bad).map(|(t, b)| t - b).collect()
                    }
                };
                Ok(PieceCounts {
                    good,
                    total: total_inc,
                })
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
                let good = self.increases(&at_edge, pieces)?;
                let count_sel = count_matchers(bucket.matchers())?;
                let c_handles = self.select(&count_sel, pieces)?;
                let total = self.increases(&c_handles, pieces)?;
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
