//! The head: every series that received samples recently, with the samples
//! newer than the last flush, indexed by label.
//!
//! Series live in shards keyed by the label-set hash (one read lock per
//! series per batch to resolve it); each series guards its samples with its
//! own mutex; the label index is one `RwLock` written only when series come
//! and go. Invariant: every sample stored here is newer than
//! `persisted_through` once truncation has caught up; readers skip the rest.

mod postings;
mod series;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

pub(crate) use series::count_at_or_before;
pub use series::MemSeries;
pub(crate) use series::{AppendBounds, Placement, SeriesData};

use crate::index::{self, Matcher};
use crate::read::FastHash;
use crate::types::{
    AppendOutcome, LabelLimits, Labels, RejectReason, SeriesBatch, SeriesKind, SeriesRejection,
    TimestampMs, WriteBatch,
};
use postings::MemPostings;

const SHARDS: usize = 64;

/// Head settings, each default with its reason.
#[derive(Clone, Debug)]
pub struct HeadOptions {
    /// How far behind a series' newest sample a late sample is still
    /// accepted. 1 hour: covers agents that buffer through a network outage
    /// and remote-write retries, while keeping at most an hour of data
    /// unflushable.
    pub ooo_window_ms: i64,
    /// Most series the head holds at once. 5 million: far above what one
    /// node serves well, low enough to stop a cardinality explosion before the
    /// machine runs out of memory.
    pub max_series: usize,
    pub label_limits: LabelLimits,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            ooo_window_ms: 3_600_000,
            max_series: 5_000_000,
            label_limits: LabelLimits::default(),
        }
    }
}

/// The label-set hash is already a good hash: use it as is.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type HashIndexed<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

#[derive(Default)]
struct Shard {
    by_hash: HashIndexed<Arc<MemSeries>>,
    /// Series whose label hash collides with another's (vanishingly rare,
    /// but correctness must not depend on it).
    collided: Vec<Arc<MemSeries>>,
}

impl Shard {
    fn get(&self, hash: u64, labels: &Labels) -> Option<&Arc<MemSeries>> {
        match self.by_hash.get(&hash) {
            Some(s) if s.has_labels(labels) => Some(s),
            Some(_) => self.collided.iter().find(|s| s.has_labels(labels)),
            None => None,
        }
    }
}

/// The samples of one batch series that the head stored, for the WAL.
pub(crate) struct Stored<'a> {
    /// Also the labels the WAL declares for series new to its current file
    /// (in the encoded form the head keeps).
    pub series: Arc<MemSeries>,
    pub kind: SeriesKind,
    pub timestamps: Cow<'a, [TimestampMs]>,
    pub values: Cow<'a, [f64]>,
}

/// A sample at or before `persisted_through`: the engine checks it against
/// the segments (a retry of a flushed sample is a duplicate, not an error).
pub(crate) struct LateSample {
    pub series: Arc<MemSeries>,
    pub timestamp: TimestampMs,
    pub value: f64,
}

pub(crate) struct HeadAppend<'a> {
    pub stored: Vec<Stored<'a>>,
    pub late: Vec<LateSample>,
}

/// What one append has stored so far, and the span of its times.
struct Appended<'a> {
    result: HeadAppend<'a>,
    min: TimestampMs,
    max: TimestampMs,
}

/// A head series resolved once by its labels ([`Head::resolve`],
/// `Engine::resolve`), for writers that send the same label sets again and
/// again: a [`SeriesBatch`] carrying it skips hashing, looking up and
/// comparing the labels. It goes stale when the head forgets an idle
/// series; appends then resolve the labels again, and [`SeriesRef::is_live`]
/// tells a cache to drop it. Equality is identity.
#[derive(Clone)]
pub struct SeriesRef(Arc<MemSeries>);

impl SeriesRef {
    /// The head's id of the series.
    pub fn id(&self) -> u32 {
        self.0.id
    }

    pub fn is_live(&self) -> bool {
        self.0.is_live()
    }

    /// The label set (decoded: allocates).
    pub fn labels(&self) -> Labels {
        self.0.labels()
    }

    /// One label's value (no allocation).
    pub fn label(&self, name: &str) -> Option<&str> {
        self.0.label(name)
    }

    /// A handle that does not keep the series alive, for caches.
    pub fn downgrade(&self) -> WeakSeriesRef {
        WeakSeriesRef(Arc::downgrade(&self.0))
    }
}

/// A [`SeriesRef`] that does not keep the series alive: once the head has
/// forgotten the series and no batch holds it, its labels and samples are
/// freed and [`WeakSeriesRef::upgrade`] answers `None`.
#[derive(Clone, Debug, Default)]
pub struct WeakSeriesRef(std::sync::Weak<MemSeries>);

impl WeakSeriesRef {
    /// The series, while the head still holds it.
    pub fn upgrade(&self) -> Option<SeriesRef> {
        self.0.upgrade().filter(|s| s.is_live()).map(SeriesRef)
    }
}

impl std::fmt::Debug for SeriesRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SeriesRef({}, live: {})", self.0.id, self.0.is_live())
    }
}

impl PartialEq for SeriesRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

pub struct Head {
    opts: HeadOptions,
    shards: Box<[RwLock<Shard>]>,
    by_id: RwLock<HashIndexed<Arc<MemSeries>>>,
    postings: RwLock<MemPostings>,
    next_id: AtomicU32,
    series_count: AtomicUsize,
    persisted_through: AtomicI64,
    max_t: AtomicI64,
    /// The oldest sample time the head has taken since it was opened (not
    /// raised when flushed samples leave it: a lower bound).
    min_t: AtomicI64,
}

/// Counts for `inspect` and `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct HeadStats {
    pub series: usize,
    pub samples: u64,
    pub sample_bytes: u64,
    pub min_t: Option<TimestampMs>,
    pub max_t: Option<TimestampMs>,
}

impl Head {
    pub fn new(opts: HeadOptions, persisted_through: TimestampMs) -> Head {
        Head {
            opts,
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            by_id: RwLock::default(),
            postings: RwLock::default(),
            next_id: AtomicU32::new(1),
            series_count: AtomicUsize::new(0),
            persisted_through: AtomicI64::new(persisted_through),
            max_t: AtomicI64::new(TimestampMs::MIN),
            min_t: AtomicI64::new(TimestampMs::MAX),
        }
    }

    pub fn options(&self) -> &HeadOptions {
        &self.opts
    }

    /// Samples at or before this time are in segments.
    pub fn persisted_through(&self) -> TimestampMs {
        self.persisted_through.load(Ordering::Acquire)
    }

    /// Moves the cut. A flush raises it before copying series out of the
    /// head and puts the old value back if the flush fails.
    pub(crate) fn set_persisted_through(&self, t: TimestampMs) {
        self.persisted_through.store(t, Ordering::SeqCst);
    }

    /// The newest sample time the head has seen.
    pub fn max_time(&self) -> Option<TimestampMs> {
        Some(self.max_t.load(Ordering::Acquire)).filter(|&t| t != TimestampMs::MIN)
    }

    /// No sample in the head is older than this (`None` when it never took
    /// one).
    pub fn min_time(&self) -> Option<TimestampMs> {
        Some(self.min_t.load(Ordering::Acquire)).filter(|&t| t != TimestampMs::MAX)
    }

    fn shard(&self, hash: u64) -> &RwLock<Shard> {
        &self.shards[(hash >> 58) as usize % SHARDS]
    }

    pub fn series_count(&self) -> usize {
        self.series_count.load(Ordering::Relaxed)
    }

    /// Looks the series up, creating it (within the limits) when new.
    pub(crate) fn get_or_create(
        &self,
        labels: &Labels,
        enforce_limits: bool,
    ) -> Result<Arc<MemSeries>, RejectReason> {
        let hash = labels.hash64();
        let shard = self.shard(hash);
        if let Some(s) = shard.read().get(hash, labels) {
            return Ok(Arc::clone(s));
        }
        if enforce_limits {
            labels.validate(&self.opts.label_limits)?;
        }
        let mut guard = shard.write();
        if let Some(s) = guard.get(hash, labels) {
            return Ok(Arc::clone(s));
        }
        if enforce_limits && self.series_count() >= self.opts.max_series {
            return Err(RejectReason::SeriesLimit {
                limit: self.opts.max_series,
            });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let series = Arc::new(MemSeries::new(id, labels, SeriesKind::Unknown));
        match guard.by_hash.entry(hash) {
            std::collections::hash_map::Entry::Occupied(_) => {
                guard.collided.push(Arc::clone(&series))
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Arc::clone(&series));
            }
        }
        drop(guard);
        self.by_id
            .write()
            .insert(u64::from(id), Arc::clone(&series));
        self.postings.write().add(id, labels);
        self.series_count.fetch_add(1, Ordering::Relaxed);
        Ok(series)
    }

    /// The head series of a batch series: its resolved handle while the
    /// head still holds it, else looked up (or created) by its labels.
    /// `stale` is a handle found dropped under its lock.
    fn series_of(
        &self,
        sb: &SeriesBatch,
        stale: Option<&Arc<MemSeries>>,
    ) -> Result<Arc<MemSeries>, RejectReason> {
        if stale.is_none() {
            if let Some(r) = sb.resolved.as_ref().filter(|r| r.0.is_live()) {
                return Ok(Arc::clone(&r.0));
            }
        }
        if sb.labels.is_empty() {
            if let Some(s) = stale.or(sb.resolved.as_ref().map(|r| &r.0)) {
                return self.get_or_create(&s.labels(), true);
            }
        }
        self.get_or_create(&sb.labels, true)
    }

    /// Resolves a label set to its head series, creating it (within the
    /// limits) when new; see [`SeriesRef`].
    pub fn resolve(&self, labels: &Labels) -> Result<SeriesRef, RejectReason> {
        self.get_or_create(labels, true).map(SeriesRef)
    }

    /// Stores what it can of a batch and reports the rest in `out`. Each
    /// series of the batch is resolved once; its samples are inserted under
    /// its lock.
    ///
    /// Concurrent writers usually carry the same series in the same order
    /// (an agent's successive batches): walking them in lockstep, each
    /// would wait on the series lock the other holds, batch after batch.
    /// A series whose lock is taken is left for a second pass, so writers
    /// work on different series instead of queueing. A series met again
    /// in the batch after being left waits for its earlier samples: a
    /// batch's samples of one series are stored in batch order.
    pub(crate) fn append<'a>(
        &self,
        batch: &'a WriteBatch,
        out: &mut AppendOutcome,
    ) -> HeadAppend<'a> {
        // Racy by design: a lock taken just after this look costs a short
        // wait, as before.
        self.append_leaving(batch, out, |s| s.data.is_locked())
    }

    /// [`Head::append`], leaving for the second pass the series `busy_now`
    /// names.
    fn append_leaving<'a>(
        &self,
        batch: &'a WriteBatch,
        out: &mut AppendOutcome,
        busy_now: impl Fn(&MemSeries) -> bool,
    ) -> HeadAppend<'a> {
        let mut acc = Appended {
            result: HeadAppend {
                stored: Vec::with_capacity(batch.series.len()),
                late: Vec::new(),
            },
            min: TimestampMs::MAX,
            max: TimestampMs::MIN,
        };
        let mut busy: Vec<(&'a SeriesBatch, Arc<MemSeries>)> = Vec::new();
        let mut busy_ids: HashSet<u32, FastHash> = HashSet::default();
        for sb in &batch.series {
            if sb.timestamps.len() != sb.values.len() {
                reject_series(
                    out,
                    sb,
                    RejectReason::LengthMismatch {
                        timestamps: sb.timestamps.len(),
                        values: sb.values.len(),
                    },
                );
                continue;
            }
            if sb.timestamps.is_empty() {
                continue;
            }
            let series = match self.series_of(sb, None) {
                Ok(s) => s,
                Err(reason) => {
                    reject_series(out, sb, reason);
                    continue;
                }
            };
            if busy_now(&series) || (!busy.is_empty() && busy_ids.contains(&series.id)) {
                busy_ids.insert(series.id);
                busy.push((sb, series));
                continue;
            }
            self.append_series(sb, series, &mut acc, out);
        }
        for (sb, series) in busy {
            self.append_series(sb, series, &mut acc, out);
        }
        if acc.max != TimestampMs::MIN {
            self.max_t.fetch_max(acc.max, Ordering::AcqRel);
            self.min_t.fetch_min(acc.min, Ordering::AcqRel);
        }
        acc.result
    }

    /// Inserts one batch series' samples into its head series under the
    /// series lock; what was stored goes to `acc`, refusals to `out`.
    fn append_series<'a>(
        &self,
        sb: &'a SeriesBatch,
        mut series: Arc<MemSeries>,
        acc: &mut Appended<'a>,
        out: &mut AppendOutcome,
    ) {
        let mut rejections = Rejections::default();
        let stored = {
            let mut data = series.data.lock();
            // Truncation may have forgotten the series since it was
            // resolved (a writer's handle, or an idle series found just
            // before): its samples would be invisible. Checked under
            // the series lock, which truncation holds when it drops.
            while !series.is_live() {
                drop(data);
                series = match self.series_of(sb, Some(&series)) {
                    Ok(s) => s,
                    Err(reason) => {
                        reject_series(out, sb, reason);
                        return;
                    }
                };
                data = series.data.lock();
            }
            // Read under the series lock: a flush raises the cut before
            // it copies each series under this lock, so a sample at or
            // below the cut can never slip in after the copy.
            let bounds = AppendBounds {
                persisted_through: self.persisted_through(),
                ooo_window_ms: self.opts.ooo_window_ms,
            };
            if let Err(reason) = data.reconcile_kind(sb.kind) {
                drop(data);
                reject_series(out, sb, reason);
                return;
            }
            let kind = data.kind;
            let late = &mut acc.result.late;
            let (ts, vs) =
                insert_samples(&mut data, sb, bounds, out, &mut rejections, &mut |t, v| {
                    late.push(LateSample {
                        series: Arc::clone(&series),
                        timestamp: t,
                        value: v,
                    })
                });
            // Stored samples come out in time order.
            if let (Some(&lo), Some(&hi)) = (ts.first(), ts.last()) {
                acc.min = acc.min.min(lo);
                acc.max = acc.max.max(hi);
            }
            (kind, ts, vs)
        };
        if !rejections.is_empty() {
            rejections.flush_into(out, &batch_labels(sb));
        }
        let (kind, timestamps, values) = stored;
        if !timestamps.is_empty() {
            acc.result.stored.push(Stored {
                series,
                kind,
                timestamps,
                values,
            });
        }
    }

    /// Re-inserts samples from the WAL. Samples already in segments are
    /// skipped; the out-of-order window does not apply again.
    pub(crate) fn replay(
        &self,
        series: &MemSeries,
        kind: SeriesKind,
        ts: &[TimestampMs],
        vals: &[f64],
    ) {
        let cut = self.persisted_through();
        let mut data = series.data.lock();
        if data.kind == SeriesKind::Unknown {
            data.kind = kind;
        }
        let (mut min, mut max) = (TimestampMs::MAX, TimestampMs::MIN);
        for (&t, &v) in ts.iter().zip(vals) {
            if t > cut {
                data.replay(t, v);
                min = min.min(t);
                max = max.max(t);
            }
        }
        drop(data);
        if max != TimestampMs::MIN {
            self.max_t.fetch_max(max, Ordering::AcqRel);
            self.min_t.fetch_min(min, Ordering::AcqRel);
        }
    }

    /// The head series the matchers select (in no particular order).
    pub fn select(&self, matchers: &[Matcher]) -> Vec<Arc<MemSeries>> {
        let ids = index::select(&*self.postings.read(), matchers);
        let by_id = self.by_id.read();
        ids.iter()
            .filter_map(|id| by_id.get(&u64::from(id)).cloned())
            .collect()
    }

    pub fn label_names(&self) -> Vec<String> {
        self.postings
            .read()
            .label_names()
            .map(str::to_string)
            .collect()
    }

    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.postings
            .read()
            .values(name)
            .map(|(v, _)| v.to_string())
            .collect()
    }

    /// Every series, for flushing.
    pub(crate) fn all_series(&self) -> Vec<Arc<MemSeries>> {
        self.by_id.read().values().cloned().collect()
    }

    /// Drops samples at or before `cut` (now in segments) and forgets series
    /// that have had no sample for `idle_ms` before the cut.
    pub(crate) fn truncate_through(&self, cut: TimestampMs, idle_ms: i64) -> usize {
        let mut idle = Vec::new();
        for s in self.all_series() {
            let mut data = s.data.lock();
            data.truncate_through(cut);
            if data.ts.is_empty() && data.max_t <= cut.saturating_sub(idle_ms) {
                idle.push(Arc::clone(&s));
            }
        }
        for s in &idle {
            let hash = s.hash;
            let mut shard = self.shard(hash).write();
            // The series may have received a sample since the scan.
            let data = s.data.lock();
            if !data.ts.is_empty() {
                continue;
            }
            // Under its lock: an append holding a resolved handle sees it
            // dropped and resolves the labels again.
            s.dropped.store(true, Ordering::Release);
            drop(data);
            let in_main = shard.by_hash.get(&hash).is_some_and(|x| Arc::ptr_eq(x, s));
            if in_main {
                shard.by_hash.remove(&hash);
                if let Some(pos) = shard.collided.iter().position(|c| c.hash == hash) {
                    let promoted = shard.collided.swap_remove(pos);
                    shard.by_hash.insert(hash, promoted);
                }
            } else {
                shard.collided.retain(|c| !Arc::ptr_eq(c, s));
            }
            drop(shard);
            self.by_id.write().remove(&u64::from(s.id));
            self.postings.write().remove(s.id, &s.labels());
            self.series_count.fetch_sub(1, Ordering::Relaxed);
        }
        idle.len()
    }

    pub fn stats(&self) -> HeadStats {
        let cut = self.persisted_through();
        let mut st = HeadStats {
            series: self.series_count(),
            ..HeadStats::default()
        };
        for s in self.all_series() {
            let data = s.data.lock();
            let r = data.range(cut, TimestampMs::MAX);
            if r.is_empty() {
                continue;
            }
            st.samples += r.len() as u64;
            st.sample_bytes += data.sample_bytes() as u64;
            let (lo, hi) = (data.ts[r.start], data.ts[r.end - 1]);
            st.min_t = Some(st.min_t.map_or(lo, |m| m.min(lo)));
            st.max_t = Some(st.max_t.map_or(hi, |m| m.max(hi)));
        }
        st
    }
}

/// Inserts a batch series' samples; returns the stored ones. The common
/// cases (sorted, all newer than the series or all in one gap of it) borrow
/// the batch's columns.
fn insert_samples<'a>(
    data: &mut SeriesData,
    sb: &'a SeriesBatch,
    bounds: AppendBounds,
    out: &mut AppendOutcome,
    rejections: &mut Rejections,
    late: &mut dyn FnMut(TimestampMs, f64),
) -> (Cow<'a, [TimestampMs]>, Cow<'a, [f64]>) {
    let ts = &sb.timestamps;
    let vs = &sb.values;
    let sorted = ts.windows(2).all(|w| w[0] < w[1]);
    if sorted && data.insert_run(ts, vs, bounds) {
        out.accepted += ts.len() as u64;
        return (Cow::Borrowed(ts), Cow::Borrowed(vs));
    }
    // Concurrent writers deliver overlapping batches out of order, so this
    // path is common; sorted input (the usual case) needs no index sort.
    let order: Option<Vec<usize>> = (!sorted).then(|| {
        let mut o: Vec<usize> = (0..ts.len()).collect();
        o.sort_by_key(|&i| ts[i]);
        o
    });
    let samples = (0..ts.len()).map(|k| {
        let i = order.as_ref().map_or(k, |o| o[k]);
        (ts[i], vs[i])
    });
    let (sts, svs) = data.insert_ascending(samples, bounds, &mut |t, v, r| match r {
        Ok(Placement::Stored) => out.accepted += 1,
        Ok(Placement::Duplicate) => out.duplicates += 1,
        Err(RejectReason::AlreadyPersisted { .. }) => late(t, v),
        Err(reason) => rejections.add(t, reason),
    });
    (Cow::Owned(sts), Cow::Owned(svs))
}

/// Refusals of one series, grouped by reason: the first instance of each
/// reason and how many samples it covered.
#[derive(Default)]
pub(crate) struct Rejections(Vec<(RejectReason, TimestampMs, u64)>);

impl Rejections {
    pub fn add(&mut self, t: TimestampMs, reason: RejectReason) {
        let d = std::mem::discriminant(&reason);
        match self
            .0
            .iter_mut()
            .find(|(r, _, _)| std::mem::discriminant(r) == d)
        {
            Some(entry) => entry.2 += 1,
            None => self.0.push((reason, t, 1)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn flush_into(self, out: &mut AppendOutcome, labels: &Labels) {
        for (reason, t, n) in self.0 {
            out.rejected_samples += n;
            out.rejected.push(SeriesRejection {
                labels: labels.clone(),
                timestamp: Some(t),
                samples: n,
                reason,
            });
        }
    }
}

/// A batch series' labels, for rejections: from its resolved handle when
/// the writer sent none.
fn batch_labels(sb: &SeriesBatch) -> Cow<'_, Labels> {
    match &sb.resolved {
        Some(r) if sb.labels.is_empty() => Cow::Owned(r.0.labels()),
        _ => Cow::Borrowed(&sb.labels),
    }
}

fn reject_series(out: &mut AppendOutcome, sb: &SeriesBatch, reason: RejectReason) {
    let n = sb.timestamps.len().max(sb.values.len()) as u64;
    out.rejected_samples += n;
    out.rejected.push(SeriesRejection {
        labels: batch_labels(sb).into_owned(),
        timestamp: None,
        samples: n,
        reason,
    });
}

#[cfg(test)]
mod tests;
