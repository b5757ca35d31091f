//! The operators' answers for one SLO (all its versions and the exclusions
//! that cover it) over one engine snapshot.
//!
//! Rules where versions meet (SLO_SEMANTICS.md fixes the rest):
//! - an event is counted with the definition (selectors, target) of the
//!   version in force at its time; the first version also governs all time
//!   before it; a version ends at the next one's start or at its own
//!   `effective_to`, whichever is first (a retired SLO counts nothing until
//!   it is applied again);
//! - the budgeting method, the slice length and the time zone are those of
//!   the version in force at the window's end;
//! - with time slices, a slice belongs to the version in force at its end,
//!   and only slices wholly inside the window count.

use nines_engine::read::Snapshot;
use nines_engine::TimestampMs;

use crate::calendar::{self, CalendarUnit, Period};
use crate::count::{Counter, Piece};
use crate::error::SloError;
use crate::exclusion::{excluded_windows, subtract, Exclusion};
use crate::model::{Budgeting, SloVersion, Window};
use crate::numbers::{self, Compliance, Totals};
use crate::sums::SumsCache;

/// The windows `(from, to]` each version governs, clipped to `(a, b]`:
/// version `i` governs the event times `[from_i, end_i)`, where `end_i` is
/// the next version's start or, when earlier, its own `effective_to` (an SLO
/// retired and applied again later counts nothing in between); an integer
/// millisecond interval `[s, e)` is the window `(s - 1, e - 1]`.
fn version_ranges(versions: &[SloVersion], a: TimestampMs, b: TimestampMs) -> Vec<(usize, Piece)> {
    let mut out = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let from = if i == 0 {
            TimestampMs::MIN
        } else {
            v.effective_from.saturating_sub(1)
        };
        let end = match (versions.get(i + 1), v.effective_to) {
            (Some(next), Some(to)) => Some(next.effective_from.min(to)),
            (Some(next), None) => Some(next.effective_from),
            (None, to) => to,
        };
        let to = end.map_or(TimestampMs::MAX, |t| t.saturating_sub(1));
        let (x, y) = (from.max(a), to.min(b));
        if x < y {
            out.push((i, (x, y)));
        }
    }
    out
}

/// One SLO's versions (ordered by `effective_from`, at least one) and the
/// exclusions to apply.
pub struct SloEval<'a> {
    counter: Counter<'a>,
    versions: &'a [SloVersion],
    exclusions: &'a [Exclusion],
    /// The excluded windows of a span `(a, b]`, computed once (see
    /// [`SloEval::with_holes_over`]).
    holes: Option<(TimestampMs, TimestampMs, Vec<Piece>)>,
}

impl<'a> SloEval<'a> {
    pub fn new(
        snap: &'a Snapshot,
        versions: &'a [SloVersion],
        exclusions: &'a [Exclusion],
    ) -> Result<SloEval<'a>, SloError> {
        if versions.is_empty() {
            return Err(SloError::Invalid(
                "an SLO needs at least one version".into(),
            ));
        }
        Ok(SloEval {
            counter: Counter::new(snap),
            versions,
            exclusions,
            holes: None,
        })
    }

    /// Computes the excluded windows of `(a, b]` once, for the many
    /// windows inside it that follow (recurring exclusions are expanded
    /// day by day, which costs more than counting from the shared sums).
    /// Clipping the merged windows of the span to a window inside it gives
    /// the windows computed for that window alone.
    pub fn with_holes_over(
        mut self,
        a: TimestampMs,
        b: TimestampMs,
    ) -> Result<SloEval<'a>, SloError> {
        let holes = self.holes(a, b)?;
        self.holes = Some((a, b, holes));
        Ok(self)
    }

    /// The excluded windows of `(a, b]`, merged and clipped.
    pub fn holes(&self, a: TimestampMs, b: TimestampMs) -> Result<Vec<Piece>, SloError> {
        match &self.holes {
            Some((x, y, holes)) if *x <= a && b <= *y => Ok(holes
                .iter()
                .map(|&(s, e)| (s.max(a), e.min(b)))
                .filter(|(s, e)| s < e)
                .collect()),
            _ => excluded_windows(self.exclusions, self.name(), a, b),
        }
    }

    /// Counts through the shared per-selector sums of `cache` where it
    /// can (see [`crate::sums`]).
    pub fn with_cache(mut self, cache: Option<&'a SumsCache>) -> SloEval<'a> {
        self.counter = self.counter.with_cache(cache);
        self
    }

    /// The version in force at event time `t`.
    pub fn version_at(&self, t: TimestampMs) -> &'a SloVersion {
        let i = self
            .versions
            .iter()
            .rposition(|v| v.effective_from <= t)
            .unwrap_or(0);
        &self.versions[i]
    }

    fn name(&self) -> &'a str {
        &self.versions[0].def.name
    }

    fn version_ranges(&self, a: TimestampMs, b: TimestampMs) -> Vec<(usize, Piece)> {
        version_ranges(self.versions, a, b)
    }

    /// Good, total and allowed bad over `(a, b]` in budgeting units.
    pub fn totals(&mut self, a: TimestampMs, b: TimestampMs) -> Result<Totals, SloError> {
        let at_end = self.version_at(b);
        let mut out = Totals::default();
        if a >= b {
            return Ok(out);
        }
        let holes = self.holes(a, b)?;
        match at_end.def.budgeting {
            Budgeting::Occurrences => {
                for (i, (x, y)) in self.version_ranges(a, b) {
                    let v = &self.versions[i];
                    let pieces = subtract(x, y, &holes);
                    let c = self.counter.count(self.name(), &v.def.sli, &pieces)?;
                    let good: f64 = c.good.iter().sum();
                    let total: f64 = c.total.iter().sum();
                    out.add(&Totals {
                        good,
                        total,
                        allowed_bad: (1.0 - v.def.target()) * total,
                    });
                }
            }
            Budgeting::Timeslices { .. } | Budgeting::RatioTimeslices { .. } => {
                for (_, t) in self.slice_list(a, b, &holes)? {
                    out.add(&t);
                }
            }
        }
        Ok(out)
    }

    /// The counted slices of `(a, b]` in time order, each as `(slice end,
    /// its budget units)`, when the budget at `b` is counted in time
    /// slices; `totals` is their sum in this order.
    fn slice_list(
        &mut self,
        a: TimestampMs,
        b: TimestampMs,
        holes: &[Piece],
    ) -> Result<Vec<(TimestampMs, Totals)>, SloError> {
        let at_end = self.version_at(b);
        let mut out = Vec::new();
        let (Budgeting::Timeslices { slice_ms, .. } | Budgeting::RatioTimeslices { slice_ms }) =
            at_end.def.budgeting
        else {
            return Ok(out);
        };
        let tz = calendar::zone(at_end.def.tz_name())?;
        let slices = calendar::slices(a, b, slice_ms, &tz)?;
        for (i, (x, y)) in self.version_ranges(a, b) {
            let v = &self.versions[i];
            // the slice target of the slice's own version, else the
            // one at the window's end; none for ratio time slices
            let target = match (&at_end.def.budgeting, &v.def.budgeting) {
                (Budgeting::RatioTimeslices { .. }, _) => None,
                (_, Budgeting::Timeslices { slice_target, .. })
                | (Budgeting::Timeslices { slice_target, .. }, _) => Some(*slice_target),
                _ => None,
            };
            let mine: Vec<Piece> = slices
                .iter()
                .copied()
                .filter(|&(_, e)| e > x && e <= y)
                .collect();
            let mut pieces = Vec::new();
            let mut owner = Vec::new();
            for (k, &(s, e)) in mine.iter().enumerate() {
                for p in subtract(s, e, holes) {
                    pieces.push(p);
                    owner.push(k);
                }
            }
            let c = self.counter.count(self.name(), &v.def.sli, &pieces)?;
            let mut per = vec![(0.0, 0.0); mine.len()];
            for (j, &k) in owner.iter().enumerate() {
                per[k].0 += c.good[j];
                per[k].1 += c.total[j];
            }
            for (k, (g, t)) in per.into_iter().enumerate() {
                if let Some(units) = numbers::slice_units(g, t, target) {
                    out.push((
                        mine[k].1,
                        Totals {
                            good: units,
                            total: 1.0,
                            allowed_bad: 1.0 - v.def.target(),
                        },
                    ));
                }
            }
        }
        Ok(out)
    }

    /// [`SloEval::slice_list`] for callers: `None` when the budget at `b`
    /// is counted in events.
    pub fn slice_totals(
        &mut self,
        a: TimestampMs,
        b: TimestampMs,
    ) -> Result<Option<Vec<(TimestampMs, Totals)>>, SloError> {
        if self.version_at(b).def.budgeting == Budgeting::Occurrences || a >= b {
            return Ok(None);
        }
        let holes = self.holes(a, b)?;
        self.slice_list(a, b, &holes).map(Some)
    }

    /// The versions that govern some of `(a, b]`, oldest first.
    pub fn versions_in(&self, a: TimestampMs, b: TimestampMs) -> Vec<&'a SloVersion> {
        self.version_ranges(a, b)
            .into_iter()
            .map(|(i, _)| &self.versions[i])
            .collect()
    }

    /// The exclusions this evaluation applies.
    pub fn exclusions(&self) -> &'a [Exclusion] {
        self.exclusions
    }

    /// Totals of `n` consecutive steps `(start + k*step, start + (k+1)*step]`,
    /// in one pass over the series, when the budget is counted in events
    /// (the counts are additive, so any window made of whole steps is the
    /// sum of its steps). `None` with time slices, whose windows do not
    /// decompose into steps: ask [`SloEval::totals`] per window instead.
    pub fn step_totals(
        &mut self,
        start: TimestampMs,
        step: i64,
        n: usize,
    ) -> Result<Option<Vec<Totals>>, SloError> {
        if n == 0 || step <= 0 {
            return Ok(Some(vec![Totals::default(); n]));
        }
        let edges: Vec<TimestampMs> = (0..=n as i64)
            .map(|k| start.saturating_add(step.saturating_mul(k)))
            .collect();
        self.edge_totals(&edges)
    }

    /// Totals of the windows `(edges[k], edges[k+1]]` (`edges` strictly
    /// increasing), in one pass over the series, when the budget at the
    /// last edge is counted in events; `None` with time slices.
    pub fn edge_totals(&mut self, edges: &[TimestampMs]) -> Result<Option<Vec<Totals>>, SloError> {
        let n = edges.len().saturating_sub(1);
        let mut out = vec![Totals::default(); n];
        let (Some(&start), Some(&end)) = (edges.first(), edges.last()) else {
            return Ok(Some(out));
        };
        if n == 0 {
            return Ok(Some(out));
        }
        if self.version_at(end).def.budgeting != Budgeting::Occurrences {
            return Ok(None);
        }
        let holes = self.holes(start, end)?;
        for (i, (x, y)) in self.version_ranges(start, end) {
            let v = &self.versions[i];
            // split the included windows at the edges, remembering the step
            let mut pieces = Vec::new();
            let mut owner = Vec::new();
            for (a, b) in subtract(x, y, &holes) {
                let mut at = a;
                while at < b {
                    // the step holding (at, ..]: the last edge at or before `at`
                    let k = edges.partition_point(|&e| e <= at).saturating_sub(1);
                    let to = edges[k + 1].min(b);
                    pieces.push((at, to));
                    owner.push(k);
                    at = to;
                }
            }
            let c = self.counter.count(self.name(), &v.def.sli, &pieces)?;
            let t = v.def.target();
            for (j, &k) in owner.iter().enumerate() {
                out[k].add(&Totals {
                    good: c.good[j],
                    total: c.total[j],
                    allowed_bad: (1.0 - t) * c.total[j],
                });
            }
        }
        Ok(Some(out))
    }

    /// The budget period at `now`: the rolling window ending at `now`, or
    /// the calendar period holding `now` up to `now`.
    pub fn budget_period(&self, now: TimestampMs) -> Result<Piece, SloError> {
        match &self.version_at(now).def.window {
            Window::Rolling { ms } => Ok((now.saturating_sub(*ms), now)),
            Window::Calendar { unit, tz } => {
                let p = calendar::period_containing(now, *unit, &calendar::zone(tz)?)?;
                Ok((p.start, now))
            }
        }
    }

    pub fn sli(&mut self, now: TimestampMs, range_ms: i64) -> Result<Option<f64>, SloError> {
        Ok(numbers::sli(&self.totals(now - range_ms, now)?))
    }

    pub fn error_ratio(
        &mut self,
        now: TimestampMs,
        range_ms: i64,
    ) -> Result<Option<f64>, SloError> {
        Ok(numbers::error_ratio(&self.totals(now - range_ms, now)?))
    }

    pub fn burn_rate(&mut self, now: TimestampMs, range_ms: i64) -> Result<Option<f64>, SloError> {
        Ok(numbers::burn_rate(&self.totals(now - range_ms, now)?))
    }

    fn period_totals(&mut self, now: TimestampMs) -> Result<Totals, SloError> {
        let (a, b) = self.budget_period(now)?;
        self.totals(a, b)
    }

    pub fn budget_remaining(&mut self, now: TimestampMs) -> Result<Option<f64>, SloError> {
        Ok(numbers::budget_remaining(&self.period_totals(now)?))
    }

    pub fn budget_remaining_events(&mut self, now: TimestampMs) -> Result<Option<f64>, SloError> {
        Ok(numbers::budget_remaining_events(&self.period_totals(now)?))
    }

    pub fn budget_consumed(
        &mut self,
        now: TimestampMs,
        range_ms: i64,
    ) -> Result<Option<f64>, SloError> {
        let w = self.totals(now - range_ms, now)?;
        Ok(numbers::budget_consumed(&w, &self.period_totals(now)?))
    }

    pub fn time_to_exhaustion(
        &mut self,
        now: TimestampMs,
        range_ms: i64,
    ) -> Result<Option<f64>, SloError> {
        let w = self.totals(now - range_ms, now)?;
        let p = self.period_totals(now)?;
        Ok(numbers::time_to_exhaustion_s(&w, range_ms, &p))
    }

    /// The last calendar period of `unit` closed at `now`, in the SLO's
    /// time zone, and its compliance.
    pub fn compliance(
        &mut self,
        now: TimestampMs,
        unit: CalendarUnit,
    ) -> Result<(Period, Option<Compliance>), SloError> {
        let tz = calendar::zone(self.version_at(now).def.tz_name())?;
        let p = calendar::last_closed_period(now, unit, &tz)?;
        Ok((p, numbers::compliance(&self.totals(p.start, p.end)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Objective, RatioEvents, Selector, Sli, Slo};

    fn v(version: u32, from: i64, to: Option<i64>) -> SloVersion {
        SloVersion {
            version,
            effective_from: from,
            effective_to: to,
            def: Slo {
                name: "a".into(),
                service: "s".into(),
                description: None,
                sli: Sli::Ratio {
                    events: RatioEvents::Bad(Selector::parse("e_total").unwrap()),
                    total: Selector::parse("t_total").unwrap(),
                },
                objectives: vec![Objective {
                    display_name: None,
                    target: 0.9,
                }],
                window: Window::Rolling { ms: 1000 },
                budgeting: Budgeting::Occurrences,
            },
        }
    }

    #[test]
    fn versions_govern_up_to_the_next_start_or_their_own_end() {
        // v1 from 100 (and all time before), retired at 200, applied again
        // as v2 at 300 and retired at 400: events at 200..=299 and from 400
        // on count for nothing
        let vs = [v(1, 100, Some(200)), v(2, 300, Some(400))];
        assert_eq!(
            version_ranges(&vs, 0, 1000),
            vec![(0, (0, 199)), (1, (299, 399))]
        );
        // changed without a retirement: each ends where the next begins
        let vs = [v(1, 100, Some(300)), v(2, 300, None)];
        assert_eq!(
            version_ranges(&vs, 0, 1000),
            vec![(0, (0, 299)), (1, (299, 1000))]
        );
        assert_eq!(version_ranges(&vs, 350, 360), vec![(1, (350, 360))]);
    }
}
