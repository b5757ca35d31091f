//! Builds the `WriteBatch` of one chunk: the samples of one series go into
//! one `SeriesBatch` (by index, or by extending the last one).

use crate::types::{Labels, SeriesBatch, SeriesKind, TimestampMs, WriteBatch};

pub(crate) struct BatchBuilder {
    batch: WriteBatch,
    samples: usize,
    limit: usize,
    /// Whether the last `SeriesBatch` may still take samples through
    /// `extend`; false after `take`, so the next line starts a new one even
    /// for the same series.
    open: bool,
}

impl BatchBuilder {
    pub(crate) fn new(limit: usize) -> Self {
        BatchBuilder {
            batch: WriteBatch::default(),
            samples: 0,
            limit,
            open: false,
        }
    }

    /// Room left before the batch is full.
    pub(crate) fn room(&self) -> usize {
        self.limit.saturating_sub(self.samples)
    }

    /// Starts a new series; `extend` adds to it.
    pub(crate) fn start(&mut self, labels: Labels, kind: SeriesKind) {
        self.batch.series.push(SeriesBatch {
            labels,
            kind,
            timestamps: Vec::new(),
            values: Vec::new(),
            resolved: None,
        });
        self.open = true;
    }

    /// The open series' labels and kind, to decide whether a sample belongs
    /// to it.
    pub(crate) fn open_series(&self) -> Option<(&Labels, SeriesKind)> {
        if !self.open {
            return None;
        }
        self.batch.series.last().map(|s| (&s.labels, s.kind))
    }

    /// Number of series in the batch; the next `start` gets this index.
    pub(crate) fn series_count(&self) -> usize {
        self.batch.series.len()
    }

    /// The labels of series `i` of the batch.
    pub(crate) fn labels_at(&self, i: usize) -> Option<&Labels> {
        self.batch.series.get(i).map(|s| &s.labels)
    }

    /// Adds a sample to series `i` of the batch (an index from
    /// `series_count` before its `start`). Callers check `room()` first.
    pub(crate) fn push_at(&mut self, i: usize, t: TimestampMs, v: f64) {
        debug_assert!(i < self.batch.series.len());
        if let Some(s) = self.batch.series.get_mut(i) {
            s.timestamps.push(t);
            s.values.push(v);
            self.samples += 1;
        }
    }

    /// Adds many samples to the open series; the slices have equal length.
    pub(crate) fn extend(&mut self, ts: &[TimestampMs], vs: &[f64]) {
        debug_assert!(self.open && ts.len() == vs.len());
        if let (true, Some(s)) = (self.open, self.batch.series.last_mut()) {
            let n = ts.len().min(vs.len());
            s.timestamps.extend_from_slice(&ts[..n]);
            s.values.extend_from_slice(&vs[..n]);
            self.samples += n;
        }
    }

    /// Hands out the batch and starts an empty one.
    pub(crate) fn take(&mut self) -> WriteBatch {
        self.samples = 0;
        self.open = false;
        std::mem::take(&mut self.batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_pushes_into_the_open_series() {
        let up = Labels::from_pairs(&[("__name__", "up")]);
        let mut b = BatchBuilder::new(4);
        assert!(b.open_series().is_none());
        b.start(up.clone(), SeriesKind::Gauge);
        b.extend(&[1, 2], &[1.0, 2.0]);
        assert_eq!(b.open_series(), Some((&up, SeriesKind::Gauge)));
        b.push_at(0, 0, 0.0);
        assert_eq!(b.labels_at(0), Some(&up));
        assert_eq!(b.room(), 1);
        b.start(up.clone(), SeriesKind::Counter);
        b.extend(&[3], &[3.0]);
        assert_eq!(b.room(), 0);
        assert_eq!(b.series_count(), 2);
        let batch = b.take();
        assert_eq!(batch.series.len(), 2);
        assert_eq!(batch.series[0].timestamps, vec![1, 2, 0]);
        assert_eq!(batch.series[1].values, vec![3.0]);
        assert!(b.open_series().is_none());
        assert_eq!(b.room(), 4);
    }
}
