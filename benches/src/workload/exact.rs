//! Exact answers: the contract increase of SLO_SEMANTICS.md, computed by
//! plain loops over the generated samples. This is the reference that the
//! engine's answers are checked against, so it stays simple.

use nines_engine::{is_stale_marker, Labels, TimestampMs};

use super::Workload;

/// Series with this metric name and these label values (equality only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesSelector {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl SeriesSelector {
    pub fn new(name: impl Into<String>) -> SeriesSelector {
        SeriesSelector {
            name: name.into(),
            labels: Vec::new(),
        }
    }

    /// Also requires `label == value`.
    pub fn with(mut self, label: impl Into<String>, value: impl Into<String>) -> SeriesSelector {
        self.labels.push((label.into(), value.into()));
        self
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        labels.metric_name() == Some(self.name.as_str())
            && self
                .labels
                .iter()
                .all(|(n, v)| labels.get(n) == Some(v.as_str()))
    }
}

/// The contract increase of one counter series over `(a, b]`: the sum over
/// consecutive samples `(i, i + 1)` with `a < t_{i+1} <= b` of
/// `v_{i+1} - v_i`, or of `v_{i+1}` when it is below `v_i` (a reset). The
/// first sample adds nothing. Stale markers are not samples and are skipped.
/// Samples must be in time order.
pub fn contract_increase(
    timestamps: &[TimestampMs],
    values: &[f64],
    a: TimestampMs,
    b: TimestampMs,
) -> f64 {
    let mut total = 0.0;
    let mut prev: Option<f64> = None;
    for (&t, &v) in timestamps.iter().zip(values) {
        if is_stale_marker(v) {
            continue;
        }
        if let Some(p) = prev {
            if a < t && t <= b {
                total += if v >= p { v - p } else { v };
            }
        }
        prev = Some(v);
    }
    total
}

impl Workload {
    /// The contract increase over `(a, b]` summed over the series that
    /// `selector` matches, in series order.
    pub fn increase(&self, selector: &SeriesSelector, a: TimestampMs, b: TimestampMs) -> f64 {
        self.increases(selector, &[(a, b)])[0]
    }

    /// [`Workload::increase`] for several windows in one pass over the
    /// samples.
    pub fn increases(
        &self,
        selector: &SeriesSelector,
        windows: &[(TimestampMs, TimestampMs)],
    ) -> Vec<f64> {
        let mut totals = vec![0.0; windows.len()];
        self.for_each_series_where(
            |labels| selector.matches(labels),
            |s| {
                for (total, &(a, b)) in totals.iter_mut().zip(windows) {
                    *total += contract_increase(&s.timestamps, &s.values, a, b);
                }
            },
        );
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_engine::STALE_NAN_BITS;

    #[test]
    fn increase_follows_the_contract() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let t = [10, 20, 30, 40, 50, 60];
        let v = [5.0, 7.0, 7.0, 2.0, 6.0, stale];
        // Pairs end at 20 (+2), 30 (+0), 40 (reset: +2), 50 (+4).
        assert_eq!(contract_increase(&t, &v, 0, 100), 8.0);
        // The first sample adds nothing, even inside the window.
        assert_eq!(contract_increase(&t, &v, 0, 10), 0.0);
        // (a, b] is half-open: the pair ending at 20 is in (10, 20] only.
        assert_eq!(contract_increase(&t, &v, 10, 20), 2.0);
        assert_eq!(contract_increase(&t, &v, 20, 30), 0.0);
        assert_eq!(contract_increase(&t, &v, 30, 40), 2.0);
        assert_eq!(contract_increase(&t, &v, 35, 60), 6.0);
        // Additive over adjacent windows.
        for b in [10, 15, 20, 35, 40, 45, 50] {
            assert_eq!(
                contract_increase(&t, &v, 0, b) + contract_increase(&t, &v, b, 100),
                8.0
            );
        }
        // A stale marker is skipped: the pair (40, 60) spans it.
        let v = [5.0, 7.0, 7.0, stale, 6.0, 9.0];
        assert_eq!(contract_increase(&t, &v, 0, 100), 2.0 + 0.0 + 6.0 + 3.0);
    }

    #[test]
    fn selector_needs_the_name_and_every_label() {
        let l = Labels::from_pairs(&[("__name__", "up"), ("pod", "a"), ("job", "j")]);
        assert!(SeriesSelector::new("up").matches(&l));
        assert!(SeriesSelector::new("up")
            .with("pod", "a")
            .with("job", "j")
            .matches(&l));
        assert!(!SeriesSelector::new("up").with("pod", "b").matches(&l));
        assert!(!SeriesSelector::new("up").with("code", "a").matches(&l));
        assert!(!SeriesSelector::new("down").matches(&l));
    }
}
