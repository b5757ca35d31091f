//! Time-ordered iteration: scrape round after scrape round, cut into write
//! batches of bounded size.

use nines_engine::{Labels, SeriesBatch, SeriesKind, TimestampMs, WriteBatch};

use super::emit::{Unit, UnitKind};
use super::plan::Plan;

/// The iterator returned by [`super::Workload::batches`].
///
/// Round `k` holds every pod's scrape of slot `k` (grid times in
/// `[start + k * interval, start + (k + 1) * interval)`). A batch holds up to
/// `max_samples` samples from one or more consecutive rounds, a round may be
/// split between batches, and a series appears at most once per batch with
/// its samples in time order.
pub struct Batches<'a> {
    plan: &'a Plan,
    max_samples: usize,
    /// Pod indices sorted by first slot; `next_pod` is the next to start.
    order: Vec<usize>,
    next_pod: usize,
    next_round: u64,
    active: Vec<Active<'a>>,
    /// The current round: (index into `active`, timestamp), and how far it
    /// has been emitted (entry, series within the entry).
    round: Vec<(usize, TimestampMs)>,
    cursor: (usize, usize),
    batch_no: u64,
    /// Samples a series is expected to get in one batch; preallocated.
    per_series: usize,
}

struct Active<'a> {
    unit: Unit<'a>,
    series: Vec<(Labels, SeriesKind)>,
    /// One past the unit's last slot.
    end: u64,
    /// Per series: (batch number, index in that batch) of its entry.
    placed: Vec<(u64, usize)>,
}

impl<'a> Batches<'a> {
    pub(super) fn new(plan: &'a Plan, max_samples: usize) -> Batches<'a> {
        let mut order: Vec<usize> = (0..plan.pods.len()).collect();
        order.sort_by_key(|&p| plan.pods[p].first_slot);
        Batches {
            plan,
            max_samples: max_samples.max(1),
            order,
            next_pod: 0,
            next_round: 0,
            active: Vec::new(),
            round: Vec::new(),
            cursor: (0, 0),
            batch_no: 0,
            per_series: 1,
        }
    }

    /// Steps every live unit through the next round. False after the last.
    fn fill_round(&mut self) -> bool {
        let k = self.next_round;
        if k >= self.plan.slots {
            return false;
        }
        self.next_round += 1;
        self.active.retain(|a| a.end > k);
        while let Some(&p) = self.order.get(self.next_pod) {
            if self.plan.pods[p].first_slot != k {
                break;
            }
            self.next_pod += 1;
            let kinds = (0..self.plan.config.endpoints_per_service)
                .map(UnitKind::Endpoint)
                .chain([UnitKind::Gauges]);
            for kind in kinds {
                if let Some(unit) = Unit::new(self.plan, p, kind) {
                    let series = unit.series();
                    self.active.push(Active {
                        end: unit.slots().end,
                        placed: vec![(0, 0); series.len()],
                        series,
                        unit,
                    });
                }
            }
        }
        let live: usize = self.active.iter().map(|a| a.series.len()).sum();
        let rounds_left = usize::try_from(self.plan.slots - k).unwrap_or(usize::MAX);
        self.per_series = (self.max_samples / live.max(1)).clamp(1, rounds_left.max(1));
        self.round.clear();
        for (i, a) in self.active.iter_mut().enumerate() {
            if let Some(ts) = a.unit.step(k) {
                self.round.push((i, ts));
            }
        }
        self.cursor = (0, 0);
        true
    }
}

impl Iterator for Batches<'_> {
    type Item = WriteBatch;

    fn next(&mut self) -> Option<WriteBatch> {
        let mut batch = WriteBatch::default();
        let mut count = 0;
        self.batch_no += 1;
        while count < self.max_samples {
            let Some(&(ai, ts)) = self.round.get(self.cursor.0) else {
                if self.fill_round() {
                    continue;
                }
                break;
            };
            let a = &mut self.active[ai];
            let values = a.unit.values();
            while self.cursor.1 < values.len() && count < self.max_samples {
                let i = self.cursor.1;
                let placed = &mut a.placed[i];
                if placed.0 != self.batch_no {
                    *placed = (self.batch_no, batch.series.len());
                    batch.series.push(SeriesBatch {
                        labels: a.series[i].0.clone(),
                        kind: a.series[i].1,
                        timestamps: Vec::with_capacity(self.per_series),
                        values: Vec::with_capacity(self.per_series),
                        resolved: None,
                    });
                }
                let s = &mut batch.series[placed.1];
                s.timestamps.push(ts);
                s.values.push(values[i]);
                count += 1;
                self.cursor.1 += 1;
            }
            if self.cursor.1 >= values.len() {
                self.cursor = (self.cursor.0 + 1, 0);
            }
        }
        (count > 0).then_some(batch)
    }
}
