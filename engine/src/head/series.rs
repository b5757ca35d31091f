//! One in-memory series: its samples not yet written to a segment, kept sorted
//! by timestamp, and the rules that decide which incoming samples are stored.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::bytes::{put_bytes, Cursor};
use crate::types::{Label, Labels, RejectReason, SeriesKind, TimestampMs};

/// A series in the head. `id` is dense and in-memory only (it is not stable
/// across restarts; the WAL maps it per file).
#[derive(Debug)]
pub struct MemSeries {
    pub id: u32,
    /// The label-set hash ([`Labels::hash64`]), kept to find the shard.
    pub(crate) hash: u64,
    labels: CompactLabels,
    pub(crate) data: Mutex<SeriesData>,
    /// Set (under the `data` lock) when the head forgets the series: a
    /// writer still holding it must resolve its labels again.
    pub(crate) dropped: AtomicBool,
}

impl MemSeries {
    pub(crate) fn new(id: u32, labels: &Labels, kind: SeriesKind) -> MemSeries {
        MemSeries {
            id,
            hash: labels.hash64(),
            labels: CompactLabels::new(labels),
            data: Mutex::new(SeriesData::new(kind)),
            dropped: AtomicBool::new(false),
        }
    }

    /// The label set (decoded from the compact form the head keeps).
    pub fn labels(&self) -> Labels {
        self.labels.decode()
    }

    /// The labels as the WAL's `Series` record lists them: for each label,
    /// the uvarint-length-prefixed name and value, sorted by name.
    pub(crate) fn encoded_labels(&self) -> &[u8] {
        &self.labels.0
    }

    /// One label's value, without decoding the set.
    pub fn label(&self, name: &str) -> Option<&str> {
        let mut it = self.labels.strings();
        while let (Some(n), Some(v)) = (it.next(), it.next()) {
            if n == name {
                return Some(v);
            }
        }
        None
    }

    /// Whether the head still holds the series (a writer's resolved handle
    /// goes stale when an idle series is forgotten).
    pub fn is_live(&self) -> bool {
        !self.dropped.load(Ordering::Acquire)
    }

    /// Compares with a label set without decoding.
    pub fn has_labels(&self, labels: &Labels) -> bool {
        self.labels.equals(labels)
    }

    pub fn kind(&self) -> SeriesKind {
        self.data.lock().kind
    }
}

/// A label set in one allocation: for each label, the length-prefixed name
/// and value. A `Vec<Label>` of seven labels costs about 480 bytes; this
/// costs the text plus a byte or two per string, which is most of what keeps
/// the head under 1 KiB per series.
#[derive(Debug)]
struct CompactLabels(Box<[u8]>);

impl CompactLabels {
    fn new(labels: &Labels) -> CompactLabels {
        let mut b = Vec::with_capacity(
            labels
                .iter()
                .map(|l| l.name.len() + l.value.len() + 2)
                .sum(),
        );
        for l in labels.iter() {
            put_bytes(&mut b, l.name.as_bytes());
            put_bytes(&mut b, l.value.as_bytes());
        }
        CompactLabels(b.into_boxed_slice())
    }

    /// The strings in order (name, value, name, value, ...). The bytes were
    /// written from valid `Labels`, so decoding cannot fail.
    fn strings(&self) -> impl Iterator<Item = &str> + '_ {
        let mut c = Cursor::new(&self.0);
        std::iter::from_fn(move || {
            if c.is_empty() {
                None
            } else {
                c.str("label").ok()
            }
        })
    }

    fn decode(&self) -> Labels {
        let mut it = self.strings();
        let mut out = Vec::new();
        while let (Some(n), Some(v)) = (it.next(), it.next()) {
            out.push(Label::new(n, v));
        }
        Labels::from_sorted(out)
    }

    fn equals(&self, labels: &Labels) -> bool {
        let mut it = self.strings();
        for l in labels.iter() {
            if it.next() != Some(l.name.as_str()) || it.next() != Some(l.value.as_str()) {
                return false;
            }
        }
        it.next().is_none()
    }
}

/// Inserts `new` into `v` before index `at`: the tail (the few samples
/// that overtook a late run) moves up once. `Vec::splice` took ~160
/// instructions per call here (callgrind, benches/examples/append_count.rs),
/// a third of the head's share of a write under concurrent writers.
fn insert_slice<T: Copy>(v: &mut Vec<T>, at: usize, new: &[T]) {
    let old = v.len();
    v.extend_from_slice(new);
    v.copy_within(at..old, at + new.len());
    v[at..at + new.len()].copy_from_slice(new);
}

/// `binary_search` for `t` in sorted `ts`, galloping back from the end: late
/// samples land among the newest ones, so this touches a few cache lines at
/// the tail where a search over a long series misses cache at every level.
fn search_from_end(ts: &[TimestampMs], t: TimestampMs) -> Result<usize, usize> {
    // Invariant: every element of ts[hi..] is greater than t.
    let mut hi = ts.len();
    let mut step = 1;
    loop {
        let lo = hi.saturating_sub(step);
        if lo == 0 || ts[lo] <= t {
            return match ts[lo..hi].binary_search(&t) {
                Ok(i) => Ok(lo + i),
                Err(i) => Err(lo + i),
            };
        }
        hi = lo;
        step = step.saturating_mul(2);
    }
}

/// The mutable part of a series, behind its mutex.
#[derive(Debug)]
pub(crate) struct SeriesData {
    pub kind: SeriesKind,
    /// Sorted, strictly increasing. May still hold samples at or before the
    /// head's cut until they are truncated after a flush; readers skip them.
    pub ts: Vec<TimestampMs>,
    /// `vals[i]` belongs to `ts[i]`; compared and stored by bit pattern.
    pub vals: Vec<f64>,
    /// The newest timestamp ever accepted, kept after truncation: the
    /// out-of-order window is measured back from it.
    pub max_t: TimestampMs,
}

/// Where an incoming sample went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    Stored,
    Duplicate,
}

/// The bounds an incoming sample must respect.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AppendBounds {
    /// Samples at or before this time are already in segments.
    pub persisted_through: TimestampMs,
    /// How far behind the series' newest sample a sample may be.
    pub ooo_window_ms: i64,
}

impl SeriesData {
    pub fn new(kind: SeriesKind) -> SeriesData {
        SeriesData {
            kind,
            ts: Vec::new(),
            vals: Vec::new(),
            max_t: TimestampMs::MIN,
        }
    }

    /// Checks the series kind a writer declares against the stored one. An
    /// unknown kind on either side is compatible; a known kind fills in an
    /// unknown one.
    pub fn reconcile_kind(&mut self, new: SeriesKind) -> Result<(), RejectReason> {
        match (self.kind, new) {
            (_, SeriesKind::Unknown) => Ok(()),
            (SeriesKind::Unknown, k) => {
                self.kind = k;
                Ok(())
            }
            (a, b) if a == b => Ok(()),
            (stored, new) => Err(RejectReason::KindMismatch { stored, new }),
        }
    }

    /// Stores one sample or says why not. Samples at or before
    /// `persisted_through` are never stored here; the caller resolves them
    /// against the segments. The one-sample rule that
    /// [`SeriesData::insert_ascending`] (what appends use) must agree with;
    /// the tests hold them to each other.
    #[cfg(test)]
    pub fn insert(
        &mut self,
        t: TimestampMs,
        v: f64,
        bounds: AppendBounds,
    ) -> Result<Placement, RejectReason> {
        if t <= bounds.persisted_through {
            return Err(RejectReason::AlreadyPersisted {
                timestamp: t,
                persisted_through: bounds.persisted_through,
            });
        }
        // `max_t` trails the last sample only after a truncation that removed
        // everything; then the sorted insert below handles it.
        if t > self.max_t && self.ts.last().is_none_or(|&last| t > last) {
            self.ts.push(t);
            self.vals.push(v);
            self.max_t = t;
            return Ok(Placement::Stored);
        }
        match search_from_end(&self.ts, t) {
            Ok(i) => {
                let stored = self.vals[i].to_bits();
                if stored == v.to_bits() {
                    Ok(Placement::Duplicate)
                } else {
                    Err(RejectReason::Conflict {
                        timestamp: t,
                        stored,
                        new: v.to_bits(),
                    })
                }
            }
            Err(i) => {
                if self.max_t != TimestampMs::MIN
                    && t < self.max_t.saturating_sub(bounds.ooo_window_ms)
                {
                    return Err(RejectReason::TooOld {
                        timestamp: t,
                        series_max: self.max_t,
                        window_ms: bounds.ooo_window_ms,
                    });
                }
                self.ts.insert(i, t);
                self.vals.insert(i, v);
                self.max_t = self.max_t.max(t);
                Ok(Placement::Stored)
            }
        }
    }

    /// Stores a strictly ascending run of samples in one step when all of
    /// them land between the same two stored samples (or after the last),
    /// none at or before `persisted_through` and none beyond the
    /// out-of-order window: then one [`SeriesData::insert`] per sample
    /// would store every one. Returns false, changing nothing, when the
    /// run does not fit so. A writer's next batch of a series usually
    /// starts after its last sample; under concurrent writers it often
    /// lands just before one that overtook it.
    pub fn insert_run(&mut self, ts: &[TimestampMs], vals: &[f64], bounds: AppendBounds) -> bool {
        debug_assert!(ts.windows(2).all(|w| w[0] < w[1]) && ts.len() == vals.len());
        let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
            return true;
        };
        if first <= bounds.persisted_through {
            return false;
        }
        let at = match self.ts.last() {
            None => 0,
            Some(&l) if first > l => self.ts.len(),
            Some(_) => match search_from_end(&self.ts, first) {
                Ok(_) => return false,
                Err(i) => i,
            },
        };
        if self.ts.get(at).is_some_and(|&next| last >= next)
            || (self.max_t != TimestampMs::MIN
                && first < self.max_t.saturating_sub(bounds.ooo_window_ms))
        {
            return false;
        }
        if at == self.ts.len() {
            self.ts.extend_from_slice(ts);
            self.vals.extend_from_slice(vals);
        } else {
            insert_slice(&mut self.ts, at, ts);
            insert_slice(&mut self.vals, at, vals);
        }
        self.max_t = self.max_t.max(last);
        true
    }

    /// Stores samples given in ascending time order (equal times allowed)
    /// with the outcome that one [`SeriesData::insert`] call per sample, in
    /// that order, would have, reporting each to `each`; returns the stored
    /// ones, ascending. Late samples from concurrent writers land inside
    /// the series: instead of shifting the tail once per sample, they are
    /// merged in with one pass over it.
    pub fn insert_ascending(
        &mut self,
        samples: impl Iterator<Item = (TimestampMs, f64)>,
        bounds: AppendBounds,
        each: &mut dyn FnMut(TimestampMs, f64, Result<Placement, RejectReason>),
    ) -> (Vec<TimestampMs>, Vec<f64>) {
        let max_before = self.max_t;
        let last_before = self.ts.last().copied();
        let n = samples.size_hint().0;
        let (mut new_ts, mut new_vals) = (Vec::with_capacity(n), Vec::<f64>::with_capacity(n));
        for (t, v) in samples {
            debug_assert!(new_ts.last().is_none_or(|&p| p <= t), "ascending input");
            let same = |stored: u64| {
                if stored == v.to_bits() {
                    Ok(Placement::Duplicate)
                } else {
                    Err(RejectReason::Conflict {
                        timestamp: t,
                        stored,
                        new: v.to_bits(),
                    })
                }
            };
            let r = if t <= bounds.persisted_through {
                Err(RejectReason::AlreadyPersisted {
                    timestamp: t,
                    persisted_through: bounds.persisted_through,
                })
            } else if new_ts.last() == Some(&t) {
                // an earlier sample of this batch at the same time was stored
                same(new_vals.last().map_or(0, |x| x.to_bits()))
            } else if t > max_before && last_before.is_none_or(|l| t > l) {
                Ok(Placement::Stored)
            } else {
                match search_from_end(&self.ts, t) {
                    Ok(i) => same(self.vals[i].to_bits()),
                    // Samples of this batch stored before `t` are older than
                    // it, so the window is measured from the series' newest
                    // sample before the batch, as `insert` would.
                    Err(_)
                        if max_before != TimestampMs::MIN
                            && t < max_before.saturating_sub(bounds.ooo_window_ms) =>
                    {
                        Err(RejectReason::TooOld {
                            timestamp: t,
                            series_max: max_before,
                            window_ms: bounds.ooo_window_ms,
                        })
                    }
                    Err(_) => Ok(Placement::Stored),
                }
            };
            if matches!(r, Ok(Placement::Stored)) {
                new_ts.push(t);
                new_vals.push(v);
            }
            each(t, v, r);
        }
        self.merge(&new_ts, &new_vals);
        (new_ts, new_vals)
    }

    /// Merges ascending samples whose times the series does not hold, with
    /// one backward pass over the part of the series after the first.
    fn merge(&mut self, ts: &[TimestampMs], vals: &[f64]) {
        let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
            return;
        };
        let old = self.ts.len();
        // from the end: late samples land near it, and a binary search over
        // a long series is a cache miss per level
        let (Ok(from) | Err(from)) = search_from_end(&self.ts, first);
        self.ts.resize(old + ts.len(), 0);
        self.vals.resize(old + ts.len(), 0.0);
        let (mut i, mut j, mut w) = (old, ts.len(), old + ts.len());
        while j > 0 {
            w -= 1;
            if i > from && self.ts[i - 1] > ts[j - 1] {
                self.ts[w] = self.ts[i - 1];
                self.vals[w] = self.vals[i - 1];
                i -= 1;
            } else {
                self.ts[w] = ts[j - 1];
                self.vals[w] = vals[j - 1];
                j -= 1;
            }
        }
        self.max_t = self.max_t.max(last);
    }

    /// Inserts a sample replayed from the WAL: it was accepted once, so the
    /// out-of-order window does not apply again; duplicates are dropped.
    pub fn replay(&mut self, t: TimestampMs, v: f64) {
        match self.ts.last() {
            Some(&last) if t <= last => {
                if let Err(i) = self.ts.binary_search(&t) {
                    self.ts.insert(i, t);
                    self.vals.insert(i, v);
                }
            }
            _ => {
                self.ts.push(t);
                self.vals.push(v);
            }
        }
        self.max_t = self.max_t.max(t);
    }

    /// Removes samples at or before `cut` (they are in a segment now).
    pub fn truncate_through(&mut self, cut: TimestampMs) {
        let n = self.ts.partition_point(|&t| t <= cut);
        if n == 0 {
            return;
        }
        self.ts.drain(..n);
        self.vals.drain(..n);
        if self.ts.capacity() > 64 && self.ts.capacity() > 4 * self.ts.len() {
            self.ts.shrink_to_fit();
            self.vals.shrink_to_fit();
        }
    }

    /// The index range of samples with `lo < t <= hi`.
    pub fn range(&self, lo_exclusive: TimestampMs, hi: TimestampMs) -> std::ops::Range<usize> {
        let b = count_at_or_before(&self.ts, hi);
        let a = count_at_or_before(&self.ts[..b], lo_exclusive);
        a..b
    }

    /// Bytes held for samples (length, not capacity).
    pub fn sample_bytes(&self) -> usize {
        self.ts.len() * 16
    }
}

/// How many of the sorted times `ts` are at or before `t`, searched from
/// the end: reads ask mostly about the newest samples (windows ending now),
/// which this finds in the last cache lines instead of by a binary search
/// over the whole series.
pub(crate) fn count_at_or_before(ts: &[TimestampMs], t: TimestampMs) -> usize {
    let n = ts.len();
    if ts.last().is_none_or(|&last| last <= t) {
        return n;
    }
    // ts[n - 1] > t: widen the tail until its first time is at or before t
    let mut step = 1;
    let mut hi = n - 1; // ts[hi] > t
    loop {
        let lo = hi.saturating_sub(step);
        if ts[lo] <= t {
            return lo + 1 + ts[lo + 1..hi].partition_point(|&x| x <= t);
        }
        if lo == 0 {
            return 0;
        }
        hi = lo;
        step *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searching_from_the_end_agrees_with_a_binary_search() {
        for n in 0..70i64 {
            // sorted, with repeats and gaps
            let ts: Vec<i64> = (0..n).map(|i| i / 3 * 10 + i64::from(i % 3 == 2)).collect();
            for t in -5..n * 4 + 5 {
                assert_eq!(
                    count_at_or_before(&ts, t),
                    ts.partition_point(|&x| x <= t),
                    "n {n} t {t}"
                );
            }
        }
    }

    #[test]
    fn compact_labels_round_trip_and_compare() {
        let l = Labels::from_pairs(&[("__name__", "x"), ("a", "é\n\"q"), ("b", &"v".repeat(300))]);
        let s = MemSeries::new(1, &l, SeriesKind::Gauge);
        assert_eq!(s.labels(), l);
        assert!(s.has_labels(&l));
        assert!(!s.has_labels(&Labels::from_pairs(&[("__name__", "x"), ("a", "é\n\"q")])));
        assert!(!s.has_labels(&Labels::from_pairs(&[
            ("__name__", "x"),
            ("a", "é\n\"q"),
            ("b", "v"),
            ("c", "1")
        ])));
        assert!(!s.has_labels(&Labels::from_pairs(&[
            ("__name__", "y"),
            ("a", "é\n\"q"),
            ("b", &"v".repeat(300))
        ])));
    }

    const B: AppendBounds = AppendBounds {
        persisted_through: 1000,
        ooo_window_ms: 100,
    };

    #[test]
    fn in_order_out_of_order_duplicate_conflict() {
        let mut s = SeriesData::new(SeriesKind::Counter);
        assert_eq!(s.insert(2000, 1.0, B), Ok(Placement::Stored));
        assert_eq!(s.insert(2010, 2.0, B), Ok(Placement::Stored));
        // within the window, out of order
        assert_eq!(s.insert(1950, 0.5, B), Ok(Placement::Stored));
        assert_eq!(s.ts, vec![1950, 2000, 2010]);
        // same time, same bits: a retried write is a no-op
        assert_eq!(s.insert(2000, 1.0, B), Ok(Placement::Duplicate));
        // same time, other value
        assert!(matches!(
            s.insert(2000, 1.5, B),
            Err(RejectReason::Conflict {
                timestamp: 2000,
                ..
            })
        ));
        // older than the window
        assert!(matches!(
            s.insert(1900, 0.1, B),
            Err(RejectReason::TooOld {
                timestamp: 1900,
                series_max: 2010,
                window_ms: 100
            })
        ));
        // persisted range
        assert!(matches!(
            s.insert(1000, 0.1, B),
            Err(RejectReason::AlreadyPersisted {
                timestamp: 1000,
                ..
            })
        ));
        assert_eq!(s.vals, vec![0.5, 1.0, 2.0]);
    }

    #[test]
    fn values_compare_by_bits() {
        let mut s = SeriesData::new(SeriesKind::Gauge);
        let stale = f64::from_bits(crate::types::STALE_NAN_BITS);
        assert_eq!(s.insert(2000, stale, B), Ok(Placement::Stored));
        assert_eq!(s.insert(2000, stale, B), Ok(Placement::Duplicate));
        assert!(s.insert(2000, f64::NAN, B).is_err());
        assert_eq!(s.insert(2001, 0.0, B), Ok(Placement::Stored));
        assert!(s.insert(2001, -0.0, B).is_err());
        assert_eq!(s.vals[0].to_bits(), crate::types::STALE_NAN_BITS);
    }

    #[test]
    fn truncate_keeps_window_reference() {
        let mut s = SeriesData::new(SeriesKind::Counter);
        for t in [1100, 1200, 1300] {
            s.insert(t, t as f64, B).unwrap();
        }
        s.truncate_through(1300);
        assert!(s.ts.is_empty());
        let b = AppendBounds {
            persisted_through: 1300,
            ooo_window_ms: 100,
        };
        assert!(matches!(
            s.insert(1300, 1.0, b),
            Err(RejectReason::AlreadyPersisted { .. })
        ));
        assert_eq!(s.insert(1350, 1.0, b), Ok(Placement::Stored));
        assert_eq!(s.insert(1320, 1.0, b), Ok(Placement::Stored));
        assert_eq!(s.ts, vec![1320, 1350]);
    }

    #[test]
    fn search_from_end_matches_binary_search() {
        for n in 0..40i64 {
            let ts: Vec<i64> = (0..n).map(|i| i * 10).collect();
            for t in -5..n * 10 + 5 {
                assert_eq!(search_from_end(&ts, t), ts.binary_search(&t), "n={n} t={t}");
            }
        }
    }

    #[test]
    fn kinds_reconcile() {
        let mut s = SeriesData::new(SeriesKind::Unknown);
        assert_eq!(s.reconcile_kind(SeriesKind::Counter), Ok(()));
        assert_eq!(s.kind, SeriesKind::Counter);
        assert_eq!(s.reconcile_kind(SeriesKind::Unknown), Ok(()));
        assert!(s.reconcile_kind(SeriesKind::Gauge).is_err());
    }

    #[test]
    fn replay_ignores_window_and_drops_duplicates() {
        let mut s = SeriesData::new(SeriesKind::Counter);
        s.replay(5000, 1.0);
        s.replay(10, 0.5);
        s.replay(5000, 1.0);
        assert_eq!(s.ts, vec![10, 5000]);
        assert_eq!(s.max_t, 5000);
        assert_eq!(s.range(10, 5000), 1..2);
        assert_eq!(s.range(i64::MIN, 9), 0..0);
    }

    #[test]
    fn a_run_goes_in_whole_or_not_at_all() {
        let open = AppendBounds {
            persisted_through: -1,
            ooo_window_ms: 100,
        };
        let mut s = SeriesData::new(SeriesKind::Counter);
        assert!(s.insert_run(&[10, 20], &[1.0, 2.0], open));
        assert!(s.insert_run(&[50, 60], &[5.0, 6.0], open));
        // into the gap a concurrent writer left
        assert!(s.insert_run(&[30, 40], &[3.0, 4.0], open));
        assert_eq!(s.ts, vec![10, 20, 30, 40, 50, 60]);
        assert_eq!(s.vals, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let before = (s.ts.clone(), s.max_t);
        // spans a stored sample, meets one, too old, persisted
        assert!(!s.insert_run(&[35, 45], &[0.0, 0.0], open));
        assert!(!s.insert_run(&[41, 50], &[0.0, 0.0], open));
        assert!(!s.insert_run(&[-50, -45], &[0.0, 0.0], open));
        let cut = AppendBounds {
            persisted_through: 44,
            ..open
        };
        assert!(!s.insert_run(&[44, 45], &[0.0, 0.0], cut));
        assert_eq!((s.ts.clone(), s.max_t), before);
    }

    /// A series holding `before` (inserted one by one, anything accepted),
    /// its `max_t` then raised by `max_bump` hundreds as a truncation
    /// leaves it past the last sample.
    fn series_of(before: &[(i64, u8)], max_bump: i64) -> SeriesData {
        let open = AppendBounds {
            persisted_through: -1,
            ooo_window_ms: i64::MAX,
        };
        let mut s = SeriesData::new(SeriesKind::Counter);
        for &(t, v) in before {
            let _ = s.insert(t, f64::from(v), open);
        }
        if max_bump > 0 && s.max_t != i64::MIN {
            s.max_t += max_bump * 100;
        }
        s
    }

    proptest::proptest! {
        /// A run `insert_run` takes is one `insert` per sample storing
        /// each; a run it refuses leaves the series as it was.
        #[test]
        fn insert_run_agrees_with_insert_one_by_one(
            before in proptest::collection::vec((0i64..400, 0u8..3), 0..40),
            start in 0i64..420,
            offsets in proptest::collection::vec(0i64..12, 0..8),
            persisted in -1i64..150,
            window in 0i64..300,
            max_bump in 0i64..3,
        ) {
            let b = AppendBounds { persisted_through: persisted, ooo_window_ms: window };
            let mut one = series_of(&before, max_bump);
            let mut run = series_of(&before, max_bump);
            let mut ts: Vec<i64> = offsets.iter().map(|o| start + o).collect();
            ts.sort_unstable();
            ts.dedup();
            let vals: Vec<f64> = ts.iter().map(|&t| (t % 7) as f64).collect();
            let (ts0, max0) = (run.ts.clone(), run.max_t);
            if run.insert_run(&ts, &vals, b) {
                for (&t, &v) in ts.iter().zip(&vals) {
                    proptest::prop_assert_eq!(one.insert(t, v, b), Ok(Placement::Stored));
                }
                proptest::prop_assert_eq!(&run.ts, &one.ts);
                proptest::prop_assert_eq!(&run.vals, &one.vals);
                proptest::prop_assert_eq!(run.max_t, one.max_t);
            } else {
                proptest::prop_assert_eq!((&run.ts, run.max_t), (&ts0, max0));
                // refused only when the run straddles a stored sample or
                // one-by-one would not store them all
                let straddles = ts.len() > 1 && ts0.iter().any(|&t| ts[0] < t && t < ts[ts.len() - 1]);
                let all = ts.iter().zip(&vals).all(|(&t, &v)| one.insert(t, v, b) == Ok(Placement::Stored));
                proptest::prop_assert!(straddles || !all);
            }
        }
    }

    proptest::proptest! {
        /// `insert_ascending` gives every sample the outcome one `insert`
        /// per sample gives, and leaves the same series.
        #[test]
        fn insert_ascending_agrees_with_insert_one_by_one(
            before in proptest::collection::vec((0i64..400, 0u8..3), 0..40),
            batch in proptest::collection::vec((0i64..400, 0u8..3), 0..40),
            persisted in -1i64..150,
            window in 0i64..300,
            max_bump in 0i64..3,
        ) {
            let b = AppendBounds { persisted_through: persisted, ooo_window_ms: window };
            let mut one = series_of(&before, max_bump);
            let mut many = series_of(&before, max_bump);
            let mut batch = batch;
            batch.sort_by_key(|&(t, _)| t);
            let expected: Vec<_> = batch.iter().map(|&(t, v)| one.insert(t, f64::from(v), b)).collect();
            let mut got = Vec::new();
            let (sts, svs) = many.insert_ascending(
                batch.iter().map(|&(t, v)| (t, f64::from(v))),
                b,
                &mut |_, _, r| got.push(r),
            );
            proptest::prop_assert_eq!(&got, &expected);
            proptest::prop_assert_eq!(&many.ts, &one.ts);
            proptest::prop_assert_eq!(
                many.vals.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                one.vals.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
            proptest::prop_assert_eq!(many.max_t, one.max_t);
            let stored: Vec<(i64, u64)> = batch
                .iter()
                .zip(&expected)
                .filter(|(_, r)| **r == Ok(Placement::Stored))
                .map(|(&(t, v), _)| (t, f64::from(v).to_bits()))
                .collect();
            proptest::prop_assert_eq!(
                sts.iter().zip(&svs).map(|(&t, v)| (t, v.to_bits())).collect::<Vec<_>>(),
                stored
            );
        }
    }
}
