//! Cached event sums per selector, so that an SLO question over a long
//! window costs a few hundred additions instead of reading every series.
//!
//! Why it is exact: the engine refuses every sample at or before its
//! persisted cut (`Version::persisted_through`), so the increases of
//! sealed time never change. For one selector (all the series it matches,
//! summed) the cache keeps the increase of every whole UTC day up to the
//! cut, and fills in on demand the hours of a day, the minutes of an hour
//! and the single events of a minute (each event at its sample's time), so
//! any window `(a, b]` that ends at or before the cut is a sum of cached
//! numbers: whole days, then hours, minutes and events at the two edges.
//! The part of a window after the cut is read live from the head, chained
//! from each series' last sealed value. Increases are additive
//! (SLO_SEMANTICS.md), so the answer is the one `Counter::increases` reads
//! from the series: equal for integer counts, and within rounding (far
//! below 1e-12 relative) for floating counters.
//!
//! When retention removes the oldest files (the engine's data floor
//! moves), a selector's sums are built again. A snapshot older than the
//! cached cut is answered without the cache.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use nines_engine::index::Matcher;
use nines_engine::read::{ReadScratch, SeriesHandle, Snapshot};
use nines_engine::rollup::{bucket_end, floor_to, pair_increase, Counting, Summary};
use nines_engine::types::is_stale_marker;
use nines_engine::{Labels, TimestampMs};
use parking_lot::Mutex;

use crate::count::{prev_value, Piece, SELECT_BEFORE_MS};
use crate::error::SloError;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
/// Hours are filled for this many days at a time, minutes for this many
/// hours, events for this many minutes: one pass per series fills a block,
/// and a window edge that moves on with the clock finds the next ones
/// ready.
const HOUR_BLOCK: i64 = 256 * DAY;
const MINUTE_BLOCK: i64 = 4 * HOUR;
const EVENT_BLOCK: i64 = 10 * MIN;
/// Beyond this many cached hours of minutes (or minutes of events) a
/// selector's finer maps are dropped and refilled as needed.
const MAX_MINUTE_HOURS: usize = 4_096;
const MAX_EVENT_MINUTES: usize = 4_096;

/// Per-selector sums shared by every query, alert and gate of one server.
pub struct SumsCache {
    inner: Mutex<Slots>,
    /// Passes over stored series made to fill sums (see [`SumsCache::reads`]).
    reads: AtomicU64,
}

struct Slots {
    map: HashMap<String, Slot>,
    tick: u64,
    limit: usize,
}

struct Slot {
    sums: Arc<Mutex<Option<Sums>>>,
    used: u64,
}

/// How many selectors a cache keeps by default (each about 4 KiB per year
/// of history, plus the edges in use).
pub const DEFAULT_SELECTORS: usize = 4_096;

impl Default for SumsCache {
    fn default() -> Self {
        SumsCache::new(DEFAULT_SELECTORS)
    }
}

impl SumsCache {
    /// A cache of at most `selectors` selectors, least recently used out
    /// first.
    pub fn new(selectors: usize) -> SumsCache {
        SumsCache {
            inner: Mutex::new(Slots {
                map: HashMap::new(),
                tick: 0,
                limit: selectors.max(1),
            }),
            reads: AtomicU64::new(0),
        }
    }

    /// Selectors held.
    pub fn len(&self) -> usize {
        self.inner.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times sums were built, moved on or filled in from stored
    /// series so far (a selector lookup each): a question answered from
    /// filled sums adds none.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn slot(&self, key: String) -> Arc<Mutex<Option<Sums>>> {
        let mut s = self.inner.lock();
        s.tick += 1;
        let tick = s.tick;
        if !s.map.contains_key(&key) && s.map.len() >= s.limit {
            if let Some(old) = s
                .map
                .iter()
                .min_by_key(|(_, v)| v.used)
                .map(|(k, _)| k.clone())
            {
                s.map.remove(&old);
            }
        }
        let slot = s.map.entry(key).or_insert_with(|| Slot {
            sums: Arc::new(Mutex::new(None)),
            used: tick,
        });
        slot.used = tick;
        Arc::clone(&slot.sums)
    }

    /// The increase of each piece summed over the series `matchers`
    /// select, or `None` when this snapshot cannot use the cache (nothing
    /// persisted yet, or older than what is cached): then read the series.
    pub fn increases(
        &self,
        snap: &Snapshot,
        matchers: &[Matcher],
        pieces: &[Piece],
        scratch: &mut ReadScratch,
    ) -> Result<Option<Vec<f64>>, SloError> {
        let Some(cut) = snap.version().persisted_through else {
            return Ok(None);
        };
        let slot = self.slot(key(snap, matchers));
        let mut guard = slot.lock();
        let mark = Mark::of(snap);
        let mut ctx = Ctx {
            snap,
            matchers,
            scratch,
            reads: &self.reads,
        };
        match guard.as_mut() {
            Some(s) if s.mark == mark => {}
            // only raw samples or minute buckets went: what the hour and day
            // rollups hold is unchanged, and so are the sums of hours and
            // days; minutes and events may now come from coarser data
            Some(s) if s.mark.keeps_hours(&mark) => {
                s.levels[1].sums.clear();
                s.events.clear();
                s.mark = mark;
            }
            _ => {
                *guard = None;
                *guard = Some(Sums::build(&mut ctx, cut, mark)?);
            }
        }
        let Some(sums) = guard.as_mut() else {
            return Ok(None);
        };
        if sums.hi > cut {
            return Ok(None);
        }
        if sums.hi < cut {
            sums.extend(&mut ctx, cut)?;
        }
        let mut out = Vec::with_capacity(pieces.len());
        let mut live = Vec::new();
        for (i, &(a, b)) in pieces.iter().enumerate() {
            out.push(if a < sums.hi {
                sums.sealed(&mut ctx, a, b.min(sums.hi))?
            } else {
                0.0
            });
            if b > sums.hi {
                live.push((i, (a.max(sums.hi), b)));
            }
        }
        if !live.is_empty() {
            sums.live(&mut ctx, &live, &mut out)?;
        }
        Ok(Some(out))
    }
}

/// The cache key: the engine (its label interner is one per engine) and
/// the matchers in a canonical order.
///
/// Built on every question: one string, the matchers written into it in
/// (name, operator, value) order, each as it prints (`name="value"`,
/// escaped, so the key reads back unambiguously).
fn key(snap: &Snapshot, matchers: &[Matcher]) -> String {
    let mut order: Vec<&Matcher> = matchers.iter().collect();
    order.sort_by(|a, b| {
        (&a.name, a.op.as_str(), &a.value).cmp(&(&b.name, b.op.as_str(), &b.value))
    });
    let text: usize = matchers
        .iter()
        .map(|m| m.name.len() + m.value.len() + 6)
        .sum();
    let mut k = String::with_capacity(20 + text);
    let _ = write!(k, "{:x}/", Arc::as_ptr(&snap.version().labels) as usize);
    for (i, m) in order.into_iter().enumerate() {
        if i > 0 {
            k.push(',');
        }
        m.write_into(&mut k);
    }
    k
}

/// Where the engine's data begins, per kind of file: retention moving it
/// means sums built before may hold data the files no longer have.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mark(Vec<(u32, TimestampMs)>);

/// Where the snapshot's data begins per kind of file: `(0, t)` for raw
/// segments, `(width in seconds, t)` for each rollup width. Retention
/// moving any of these is what makes cached sums stale.
pub fn data_floors(snap: &Snapshot) -> Vec<(u32, TimestampMs)> {
    let v = snap.version();
    let mut m = Vec::with_capacity(1 + v.rollups.len());
    if let Some(f) = v.raw.first() {
        m.push((0, f.min_t()));
    }
    for (res, files) in &v.rollups {
        if let Some(t) = files.iter().map(|f| f.min_t()).min() {
            m.push((*res, t));
        }
    }
    m
}

impl Mark {
    fn of(snap: &Snapshot) -> Mark {
        Mark(data_floors(snap))
    }

    /// The earliest sample time of any file.
    fn floor(&self) -> Option<TimestampMs> {
        self.0.iter().map(|&(_, t)| t).min()
    }

    /// Where the hour and day rollups begin.
    fn coarse(&self) -> impl Iterator<Item = &(u32, TimestampMs)> {
        self.0.iter().filter(|(res, _)| *res as i64 * 1000 >= HOUR)
    }

    /// Whether sums built at `self` keep their days and hours at `new`:
    /// the hour and day rollups begin where they did, before any finer
    /// data on both sides, so the finer files that went were covered by
    /// them (hours are exact sums from whatever resolution holds them).
    fn keeps_hours(&self, new: &Mark) -> bool {
        let floor = self.coarse().map(|&(_, t)| t).min();
        floor.is_some()
            && self.coarse().eq(new.coarse())
            && floor == self.floor()
            && floor == new.floor()
    }
}

struct Ctx<'s, 'm> {
    snap: &'s Snapshot,
    matchers: &'m [Matcher],
    scratch: &'s mut ReadScratch,
    reads: &'s AtomicU64,
}

impl Ctx<'_, '_> {
    fn select(&self, a: TimestampMs, b: TimestampMs) -> Result<Vec<SeriesHandle>, SloError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self
            .snap
            .select_with_rollups(self.matchers, a.saturating_add(1), b)?)
    }

    fn summarize(
        &mut self,
        h: &SeriesHandle,
        a: TimestampMs,
        b: TimestampMs,
    ) -> Result<Summary, SloError> {
        Ok(self.snap.summarize(h, a, b, self.scratch)?)
    }

    /// The series' value before `t` for a cumulative series seen first at
    /// `first` (none before it: no need to look).
    fn prev(
        &mut self,
        h: &SeriesHandle,
        first: Option<TimestampMs>,
        t: TimestampMs,
    ) -> Result<Option<f64>, SloError> {
        match (h.counting(), first) {
            (Counting::Cumulative, Some(f)) if f <= t => prev_value(self.snap, h, t, self.scratch),
            _ => Ok(None),
        }
    }

    /// Adds the increase of each step `(start + k*step, start +
    /// (k+1)*step]`, `k < out.len()`, summed over every series; `first`
    /// holds when each series was first seen.
    fn add_steps(
        &mut self,
        first: &HashMap<Labels, TimestampMs>,
        start: TimestampMs,
        step: i64,
        out: &mut [f64],
    ) -> Result<(), SloError> {
        let n = out.len();
        let end = start + step * n as i64;
        let mut steps = Vec::new();
        for h in self.select(start.saturating_sub(SELECT_BEFORE_MS), end)? {
            let counting = h.counting();
            // one step more in front: its last sample is the one to bridge
            // from, so most series need no look-back of their own
            self.snap
                .summarize_steps(&h, start - step, step, n + 1, self.scratch, &mut steps)?;
            let mut prev = match steps.first() {
                Some(s) if !s.is_empty() && counting == Counting::Cumulative => Some(s.last_v),
                _ => self.prev(&h, first.get(&h.labels).copied(), start - step)?,
            };
            for (o, s) in out.iter_mut().zip(&steps[1..]) {
                *o += s.increase_after(counting, prev);
                if !s.is_empty() {
                    prev = Some(s.last_v);
                }
            }
        }
        Ok(())
    }
}

/// Hashes the bucket-start times that key a selector's finer sums. They
/// are multiples of a minute, so a multiply-rotate mix spreads them well;
/// SipHash's protection buys nothing here and cost a tenth of a warm
/// report's breach checks.
#[derive(Clone, Copy, Default)]
struct TimeHash;

impl std::hash::BuildHasher for TimeHash {
    type Hasher = TimeHasher;
    fn build_hasher(&self) -> TimeHasher {
        TimeHasher(0)
    }
}

struct TimeHasher(u64);

impl std::hash::Hasher for TimeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_i64(&mut self, v: i64) {
        self.0 = (v as u64 / 60_000)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
}

/// Sums of `unit`-wide buckets within `span`-wide ones, keyed by span
/// start, filled a `block` at a time.
struct Level {
    span: i64,
    unit: i64,
    block: i64,
    /// Beyond this many spans the level is dropped and refilled as needed.
    max_spans: usize,
    sums: HashMap<TimestampMs, Box<[f64]>, TimeHash>,
}

impl Level {
    fn new(span: i64, unit: i64, block: i64, max_spans: usize) -> Level {
        Level {
            span,
            unit,
            block,
            max_spans,
            sums: HashMap::default(),
        }
    }
}

/// The sums of one selector.
struct Sums {
    mark: Mark,
    /// Sealed through: everything at or before is final.
    hi: TimestampMs,
    /// Day-aligned; no sample is at or before it.
    d0: TimestampMs,
    /// Day `k` is `(d0 + k*DAY, d0 + (k+1)*DAY]`; whole days up to `hi`.
    days: Vec<f64>,
    /// The increase in `(floor_to(hi, DAY), hi]`.
    tail: f64,
    /// The hours of days, then the minutes of hours: each filled where a
    /// window edge needs them, for units that end at or before `hi`.
    levels: [Level; 2],
    /// Keyed by minute start: the increase each sample time in the minute
    /// (at or before `hi`) adds, sorted by time.
    events: HashMap<TimestampMs, Vec<(TimestampMs, f64)>, TimeHash>,
    /// The last value at or before `hi` of each cumulative series, by
    /// label-set hash (the head's own key; 64 bits make a collision between
    /// two series of one selector vanishingly unlikely).
    last: HashMap<u64, f64>,
    /// The series known to count deltas, by label-set hash (a head series
    /// re-created without its kind still counts as its files say).
    delta: std::collections::HashSet<u64>,
    /// When each series' first sample at or before `hi` is.
    first: HashMap<Labels, TimestampMs>,
}

impl Sums {
    fn build(ctx: &mut Ctx<'_, '_>, hi: TimestampMs, mark: Mark) -> Result<Sums, SloError> {
        let floor = mark.floor().unwrap_or(hi).min(hi);
        let d0 = floor_to(floor.saturating_sub(1), DAY);
        let dhi = floor_to(hi, DAY).max(d0);
        let mut s = Sums {
            mark,
            hi,
            d0,
            days: vec![0.0; ((dhi - d0) / DAY) as usize],
            tail: 0.0,
            levels: [
                Level::new(DAY, HOUR, HOUR_BLOCK, usize::MAX),
                Level::new(HOUR, MIN, MINUTE_BLOCK, MAX_MINUTE_HOURS),
            ],
            events: HashMap::default(),
            last: HashMap::new(),
            delta: Default::default(),
            first: HashMap::new(),
        };
        let mut steps = Vec::new();
        ctx.reads.fetch_add(1, Ordering::Relaxed);
        // whole days: the 1 d rollup files, finer ones only where the 1 d
        // ones are not written yet
        for h in ctx.snap.select_for_steps(ctx.matchers, d0, hi, DAY)? {
            let counting = h.counting();
            // nothing lies at or before d0: no earlier sample to bridge from
            let mut prev = None;
            ctx.snap
                .summarize_steps(&h, d0, DAY, s.days.len(), ctx.scratch, &mut steps)?;
            for (o, st) in s.days.iter_mut().zip(&steps) {
                *o += st.increase_after(counting, prev);
                if !st.is_empty() {
                    prev = Some(st.last_v);
                }
            }
            let t = ctx.summarize(&h, dhi, hi)?;
            s.tail += t.increase_after(counting, prev);
            if !t.is_empty() {
                prev = Some(t.last_v);
            }
            if let Some(f) = steps.iter().chain([&t]).find(|st| !st.is_empty()) {
                s.first.insert(Labels::clone(&h.labels), f.first_t);
            }
            s.note_last(&h, prev);
        }
        Ok(s)
    }

    fn note_last(&mut self, h: &SeriesHandle, prev: Option<f64>) {
        match (h.counting(), prev) {
            (Counting::Cumulative, Some(v)) => {
                self.last.insert(h.labels.hash64(), v);
            }
            (Counting::Delta, _) => {
                self.delta.insert(h.labels.hash64());
            }
            _ => {}
        }
    }

    /// Moves `hi` on to the snapshot's cut `to`, reading only the new time.
    fn extend(&mut self, ctx: &mut Ctx<'_, '_>, to: TimestampMs) -> Result<(), SloError> {
        let old = self.hi;
        let (old_day, new_day) = (floor_to(old, DAY), floor_to(to, DAY));
        let whole = ((new_day - old_day) / DAY) as usize;
        // the day that held the old cut, then whole days, then the new tail
        let mut first = self.tail;
        let mut days = vec![0.0; whole.saturating_sub(1)];
        let mut tail = if whole == 0 { self.tail } else { 0.0 };
        let mut steps = Vec::new();
        for h in ctx.select(old, to)? {
            let counting = h.counting();
            let mut prev = self.last.get(&h.labels.hash64()).copied();
            let mut seen = None;
            let mut take = |s: &Summary, acc: &mut f64, prev: &mut Option<f64>| {
                *acc += s.increase_after(counting, *prev);
                if !s.is_empty() {
                    *prev = Some(s.last_v);
                    seen = seen.or(Some(s.first_t));
                }
            };
            if whole == 0 {
                let s = ctx.summarize(&h, old, to)?;
                take(&s, &mut tail, &mut prev);
            } else {
                let s = ctx.summarize(&h, old, old_day + DAY)?;
                take(&s, &mut first, &mut prev);
                ctx.snap.summarize_steps(
                    &h,
                    old_day + DAY,
                    DAY,
                    days.len(),
                    ctx.scratch,
                    &mut steps,
                )?;
                for (o, st) in days.iter_mut().zip(&steps) {
                    take(st, o, &mut prev);
                }
                let s = ctx.summarize(&h, new_day, to)?;
                take(&s, &mut tail, &mut prev);
            }
            self.note_last(&h, prev);
            if let Some(f) = seen {
                self.first.entry(Labels::clone(&h.labels)).or_insert(f);
            }
        }
        if whole > 0 {
            self.days.push(first);
            self.days.extend(days);
        }
        self.tail = tail;
        // the buckets that held the old cut were partial
        for l in &mut self.levels {
            l.sums.remove(&floor_to(old, l.span));
        }
        self.events.remove(&floor_to(old, MIN));
        self.hi = to;
        Ok(())
    }

    /// The increase in `(x, y]`, `y <= hi`.
    fn sealed(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        x: TimestampMs,
        y: TimestampMs,
    ) -> Result<f64, SloError> {
        let x = x.max(self.d0);
        if x >= y {
            return Ok(0.0);
        }
        let (xd, yd) = (bucket_end(x, DAY), floor_to(y, DAY));
        if xd > yd {
            return self.within(ctx, 0, x, y);
        }
        let (i, j) = (
            ((xd - self.d0) / DAY) as usize,
            ((yd - self.d0) / DAY) as usize,
        );
        let days: f64 = self.days[i..j].iter().sum();
        // a window through the cut ends with the cut's partial day, which
        // is kept whole
        let last = if y == self.hi && yd == floor_to(self.hi, DAY) {
            self.tail
        } else {
            self.within(ctx, 0, yd, y)?
        };
        Ok(self.within(ctx, 0, x, xd)? + days + last)
    }

    /// `(x, y]` inside one bucket of `self.levels[li]`'s span (a day for
    /// level 0, an hour for level 1), from its cached finer sums; inside
    /// one minute below that.
    fn within(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        li: usize,
        x: TimestampMs,
        y: TimestampMs,
    ) -> Result<f64, SloError> {
        if x >= y {
            return Ok(0.0);
        }
        let Some(&Level { span, unit, .. }) = self.levels.get(li) else {
            return self.within_minute(ctx, x, y);
        };
        let (xu, yu) = (bucket_end(x, unit), floor_to(y, unit));
        if xu > yu {
            return self.within(ctx, li + 1, x, y);
        }
        let mid = if xu < yu {
            let key = floor_to(xu, span);
            if !self.levels[li].sums.contains_key(&key) {
                self.fill(ctx, li, key)?;
            }
            let sums = &self.levels[li].sums[&key];
            sums[((xu - key) / unit) as usize..((yu - key) / unit) as usize]
                .iter()
                .sum()
        } else {
            0.0
        };
        // An edge near the far end of its unit (an exclusion's `end - 1 ms`
        // is the usual one) is the whole unit less the rest of it: one
        // look at the finest level instead of filling the finer ones. The
        // choice depends on positions only, so every cache state gives the
        // same sum.
        let (xs, ye) = (xu - unit, yu + unit);
        let left = if x > xs && x - xs < xu - x && xs >= self.d0 {
            self.unit_sum(ctx, li, xs)? - self.within(ctx, li + 1, xs, x)?
        } else {
            self.within(ctx, li + 1, x, xu)?
        };
        let right = if y > yu && ye - y < y - yu && ye <= self.hi {
            self.unit_sum(ctx, li, yu)? - self.within(ctx, li + 1, y, ye)?
        } else {
            self.within(ctx, li + 1, yu, y)?
        };
        Ok(left + mid + right)
    }

    /// The sum of the whole unit `(u, u + unit]` of level `li`, sealed.
    fn unit_sum(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        li: usize,
        u: TimestampMs,
    ) -> Result<f64, SloError> {
        let Level { span, unit, .. } = self.levels[li];
        let key = floor_to(u, span);
        if !self.levels[li].sums.contains_key(&key) {
            self.fill(ctx, li, key)?;
        }
        Ok(self.levels[li].sums[&key][((u - key) / unit) as usize])
    }

    /// `(x, y]` inside one minute.
    fn within_minute(
        &mut self,
        ctx: &mut Ctx<'_, '_>,
        x: TimestampMs,
        y: TimestampMs,
    ) -> Result<f64, SloError> {
        if x >= y {
            return Ok(0.0);
        }
        let minute = floor_to(y - 1, MIN);
        if !self.events.contains_key(&minute) {
            self.fill_events(ctx, minute)?;
        }
        let ev = &self.events[&minute];
        let lo = ev.partition_point(|e| e.0 <= x);
        let hi = ev.partition_point(|e| e.0 <= y);
        Ok(ev[lo..hi].iter().map(|e| e.1).sum())
    }

    /// The unit sums of level `li` for the block holding the span starting
    /// at `key`, up to `hi`.
    fn fill(&mut self, ctx: &mut Ctx<'_, '_>, li: usize, key: TimestampMs) -> Result<(), SloError> {
        let Level {
            span,
            unit,
            block,
            max_spans,
            ..
        } = self.levels[li];
        let start = floor_to(key, block).max(self.d0);
        let end = (start + block).min(floor_to(self.hi, unit));
        let mut sums = vec![0.0; ((end - start).max(0) / unit) as usize];
        ctx.add_steps(&self.first, start, unit, &mut sums)?;
        let level = &mut self.levels[li];
        if level.sums.len() > max_spans {
            level.sums.clear();
        }
        let per = (span / unit) as usize;
        let mut d = start;
        while d < end || d <= key {
            let at = ((d - start) / unit) as usize;
            let row: Box<[f64]> = (at..at + per)
                .map(|k| sums.get(k).copied().unwrap_or(0.0))
                .collect();
            level.sums.insert(d, row);
            d += span;
        }
        Ok(())
    }

    /// The events of the block of minutes holding `minute`, up to `hi`.
    fn fill_events(&mut self, ctx: &mut Ctx<'_, '_>, minute: TimestampMs) -> Result<(), SloError> {
        if self.events.len() > MAX_EVENT_MINUTES {
            self.events.clear();
        }
        // a block near the cut, where an edge moves on with the clock; one
        // minute for an edge of the past (a report's exclusion edges), so
        // years of them fit in the map
        let block = if minute + DAY >= self.hi {
            EVENT_BLOCK
        } else {
            MIN
        };
        let start = floor_to(minute, block);
        let end = (start + block).min(self.hi);
        let mut all: Vec<(TimestampMs, f64)> = Vec::new();
        let (mut ts, mut vs, mut steps) = (Vec::new(), Vec::new(), Vec::new());
        for h in ctx.select(start.saturating_sub(SELECT_BEFORE_MS), end)? {
            let counting = h.counting();
            ts.clear();
            vs.clear();
            // from a minute in front: its last sample is the one to bridge
            // from, so most series need no look-back of their own
            ctx.snap
                .read_samples(&h, start - MIN + 1, end, ctx.scratch, &mut ts, &mut vs)?;
            let inside = ts.partition_point(|&t| t <= start);
            let before = vs[..inside].iter().rev().find(|v| !is_stale_marker(**v));
            if inside < ts.len() {
                let mut prev = match (counting, before) {
                    (Counting::Cumulative, Some(&v)) => Some(v),
                    _ => ctx.prev(&h, self.first.get(&h.labels).copied(), start)?,
                };
                for (&t, &v) in ts[inside..].iter().zip(&vs[inside..]) {
                    if is_stale_marker(v) {
                        continue;
                    }
                    match (counting, prev) {
                        (Counting::Delta, _) => all.push((t, v)),
                        (Counting::Cumulative, Some(p)) => all.push((t, pair_increase(p, v))),
                        (Counting::Cumulative, None) => {}
                    }
                    prev = Some(v);
                }
                continue;
            }
            // Raw samples gone (retention): minute buckets give each
            // sample's increase when a minute holds at most two samples;
            // more are placed at the minute's last sample.
            // One minute more in front: its last value is the one to bridge
            // from, so most series need no look-back of their own.
            let n = ((end - start + MIN - 1) / MIN) as usize;
            ctx.snap
                .summarize_steps(&h, start - MIN, MIN, n + 1, ctx.scratch, &mut steps)?;
            let mut prev = match (counting, &steps[0]) {
                (Counting::Cumulative, s) if !s.is_empty() => Some(s.last_v),
                _ => ctx.prev(&h, self.first.get(&h.labels).copied(), start)?,
            };
            for s in &steps[1..] {
                if s.is_empty() || s.last_t > end {
                    continue;
                }
                let bridge = match (counting, prev) {
                    (Counting::Cumulative, Some(p)) => pair_increase(p, s.first_v),
                    (Counting::Delta, _) => s.first_v,
                    _ => 0.0,
                };
                all.push((s.first_t, bridge));
                if s.count > 1 {
                    let rest = match counting {
                        Counting::Cumulative => s.inc,
                        Counting::Delta => s.inc - s.first_v,
                    };
                    all.push((s.last_t, rest));
                }
                prev = Some(s.last_v);
            }
        }
        all.sort_by_key(|e| e.0);
        let mut m = start;
        while m < end || m <= minute {
            let lo = all.partition_point(|e| e.0 <= m);
            let hi = all.partition_point(|e| e.0 <= m + MIN);
            self.events.insert(m, all[lo..hi].to_vec());
            m += MIN;
        }
        Ok(())
    }

    /// Adds to `out[i]` the increase of each live piece `(a, b]` (all after
    /// `hi`, sorted), read from the head and chained from each series' last
    /// sealed value.
    fn live(
        &self,
        ctx: &mut Ctx<'_, '_>,
        live: &[(usize, Piece)],
        out: &mut [f64],
    ) -> Result<(), SloError> {
        let (Some(first), Some(last)) = (live.first(), live.last()) else {
            return Ok(());
        };
        if let [(i, (a, b))] = live {
            if *a == self.hi {
                // one window from the cut on, the common case: summarised
                // in the head, in place
                let mut sum = 0.0;
                ctx.snap.head_summaries(
                    ctx.matchers,
                    *a,
                    *b,
                    |hash| self.delta.contains(&hash),
                    |hash, counting, s| {
                        sum += s.increase_after(counting, self.last.get(&hash).copied());
                    },
                );
                out[*i] += sum;
                return Ok(());
            }
        }
        for h in ctx
            .snap
            .select(ctx.matchers, first.1 .0.saturating_add(1), last.1 .1)?
        {
            let counting = h.counting();
            let mut prev = match counting {
                Counting::Delta => None,
                Counting::Cumulative => self.last.get(&h.labels.hash64()).copied(),
            };
            // everything after `hi` is in the head
            let mut at = self.hi;
            for &(i, (a, b)) in live {
                if a > at && counting == Counting::Cumulative {
                    let gap = ctx.summarize(&h, at, a)?;
                    if !gap.is_empty() {
                        prev = Some(gap.last_v);
                    }
                }
                let s = ctx.summarize(&h, a, b)?;
                out[i] += s.increase_after(counting, prev);
                if !s.is_empty() {
                    prev = Some(s.last_v);
                }
                at = b;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;
    use nines_engine::index::parse_selector;
    use nines_engine::{Engine, EngineOptions};

    #[test]
    fn the_cache_key_is_the_matcher_set_in_canonical_order() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(EngineOptions::new(dir.path()).background(false)).unwrap();
        let snap = engine.snapshot();
        let k = |sel: &str| key(&snap, &parse_selector(sel).unwrap());
        let a = k(r#"{__name__="up",job="api",code=~"5.."}"#);
        assert_eq!(a, k(r#"{code=~"5..",job="api",__name__="up"}"#));
        assert!(
            a.ends_with(r#"/__name__="up",code=~"5..",job="api""#),
            "{a}"
        );
        // Operators and escaped values keep sets apart.
        assert_ne!(a, k(r#"{__name__="up",job="api",code!~"5.."}"#));
        assert_ne!(
            k(r#"{job="a\",job=\"b"}"#),
            k(r#"{job="a",job="b"}"#),
            "a value holding a quote and a comma"
        );
    }
}
