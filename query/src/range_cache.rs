//! A step-aligned cache of range-query results, so that a dashboard that
//! refreshes (or a second viewer of the same panel) computes only the steps
//! it has not seen.
//!
//! Why a cached point stays right: a range query's point at time `t` reads
//! samples at or before `t` only (no `@`, no negative `offset`, checked by
//! [`start_independent`]) and does not depend on where the range starts
//! (windows are cut per step, subqueries align to absolute multiples of
//! their step, aggregations work per step). Samples at or before a
//! version's `persisted_through` live in that version's segment files
//! alone, and a write that late is refused: so a point at `t <=
//! persisted_through` computed from one version is what any later query
//! on the same version computes. Any manifest change (a flush, a
//! compaction, new rollups, retention) gives a new version sequence number
//! and the entry is replaced on its next use.
//!
//! An entry is keyed by the query text (after tenant scoping: a tenant's
//! query differs from another's), the step, the start's phase within the
//! step (`start mod step`: points of two queries coincide only when their
//! grids do) and the lookback. It holds the series' points from its first
//! step through the last step at or before the cut. A request whose start
//! lies in an entry takes the entry's points up to the entry's last step,
//! evaluates the rest, and adds the new fixed steps to the entry (dropping
//! those before its start: dashboards move forward).
//!
//! Not cached: queries with `@` or a negative offset, and the SLO functions
//! (their answers depend on definitions and exclusions, which change
//! without a new storage version).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use nines_engine::read::Snapshot;
use nines_engine::Labels;
use parking_lot::Mutex;

use crate::error::QueryError;
use crate::eval::{eval_range, validate_range, Cancel, QueryOptions};
use crate::syntax::ast::{Expr, Offset, VectorSelector};
use crate::syntax::parse;
use crate::value::{write_labels, write_point, Series, Value};

/// Whether every point of `expr` in a range query depends only on data at
/// or before the point's time and not on the range's start or end.
pub fn start_independent(expr: &Expr) -> bool {
    fn selector(s: &VectorSelector) -> bool {
        s.at.is_none() && !matches!(s.offset, Some(Offset(o)) if o < 0)
    }
    match expr {
        Expr::Number(_) | Expr::String(_) | Expr::Duration(_) => true,
        Expr::Vector(s) => selector(s),
        Expr::Matrix(m) => selector(&m.selector),
        Expr::Subquery(q) => {
            q.at.is_none()
                && !matches!(q.offset, Some(Offset(o)) if o < 0)
                && start_independent(&q.expr)
        }
        Expr::Paren(e) => start_independent(e),
        Expr::Unary(u) => start_independent(&u.expr),
        Expr::Binary(b) => start_independent(&b.lhs) && start_independent(&b.rhs),
        Expr::Aggregate(a) => {
            start_independent(&a.expr) && a.param.as_deref().is_none_or(start_independent)
        }
        Expr::Call(c) => {
            let name = c.func.name;
            !(name.starts_with("slo_") || matches!(name, "sli" | "error_ratio" | "burn_rate"))
                && c.args.iter().all(start_independent)
        }
    }
}

/// Counters of a [`RangeCache`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RangeCacheStats {
    /// Range queries answered from the cache alone.
    pub hits: u64,
    /// Range queries that took some steps from the cache and computed the
    /// rest.
    pub partial_hits: u64,
    /// Cacheable range queries computed in full.
    pub misses: u64,
    /// Range queries the cache cannot hold (`@`, negative offsets, SLO
    /// functions).
    pub uncacheable: u64,
    pub entries: usize,
    pub bytes: usize,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    query: String,
    step: i64,
    phase: i64,
    lookback: i64,
}

impl Key {
    /// Two queries share points only on the same grid: same step and the
    /// same start within it.
    fn new(query: &str, start: i64, step: i64, lookback: i64) -> Key {
        Key {
            query: query.to_owned(),
            step,
            phase: start.rem_euclid(step),
            lookback,
        }
    }
}

/// One series' fixed points, with their JSON already written: a hit costs
/// no float formatting per point, and its text goes out from here without
/// a copy ([`RangeAnswer::response_pieces`]).
pub struct CachedSeries {
    labels: Labels,
    points: Vec<(i64, f64)>,
    /// `[t,"v"],[t,"v"],...` as the query API writes points.
    json: Bytes,
    /// Where each point's text ends in `json`.
    ends: Vec<u32>,
}

/// A [`CachedSeries`] being written.
struct Writing {
    labels: Labels,
    points: Vec<(i64, f64)>,
    json: Vec<u8>,
    ends: Vec<u32>,
}

impl Writing {
    fn new(labels: Labels, points: usize) -> Writing {
        Writing {
            labels,
            points: Vec::with_capacity(points),
            json: Vec::with_capacity(points * 36),
            ends: Vec::with_capacity(points),
        }
    }

    fn push(&mut self, t: i64, v: f64) {
        if !self.points.is_empty() {
            self.json.push(b',');
        }
        write_point(t, v, &mut self.json);
        // a series holds at most 11,000 points (a range query's limit) of
        // under 64 bytes each
        self.ends.push(self.json.len() as u32);
        self.points.push((t, v));
    }

    fn done(self) -> CachedSeries {
        CachedSeries {
            labels: self.labels,
            points: self.points,
            json: Bytes::from(self.json),
            ends: self.ends,
        }
    }
}

impl CachedSeries {
    fn new(labels: Labels, points: &[(i64, f64)]) -> CachedSeries {
        let mut s = Writing::new(labels, points.len());
        for &(t, v) in points {
            s.push(t, v);
        }
        s.done()
    }

    /// A part's points, the cached ones' text copied.
    fn from_part(p: &Part) -> CachedSeries {
        let fresh = p.fresh.as_ref().map_or(&[][..], |s| &s.points[..]);
        let cached = p.cached.as_ref().filter(|(_, r)| !r.is_empty());
        let mut s = Writing::new(
            p.labels().clone(),
            cached.map_or(0, |(_, r)| r.len()) + fresh.len(),
        );
        if let Some((c, r)) = cached {
            let text = c.json_of(r);
            let base = c.ends[r.end - 1] - text.len() as u32;
            s.json.extend_from_slice(text);
            s.ends.extend(c.ends[r.clone()].iter().map(|&e| e - base));
            s.points.extend_from_slice(&c.points[r.clone()]);
        }
        for &(t, v) in fresh {
            s.push(t, v);
        }
        s.done()
    }

    /// The indexes of the points in `[from, to]`.
    fn within(&self, from: i64, to: i64) -> Range<usize> {
        let a = self.points.partition_point(|p| p.0 < from);
        let b = self.points.partition_point(|p| p.0 <= to);
        a..b.max(a)
    }

    /// Where the JSON text of points `r` (not empty) lies in `json`.
    fn text_range(&self, r: &Range<usize>) -> Range<usize> {
        let from = if r.start == 0 {
            0
        } else {
            self.ends[r.start - 1] as usize + 1
        };
        from..self.ends[r.end - 1] as usize
    }

    /// The JSON text of points `r` (not empty).
    fn json_of(&self, r: &Range<usize>) -> &[u8] {
        &self.json[self.text_range(r)]
    }

    fn bytes(&self) -> usize {
        std::mem::size_of::<CachedSeries>()
            + self.points.len() * std::mem::size_of::<(i64, f64)>()
            + self.json.len()
            + self.ends.len() * 4
            + self
                .labels
                .iter()
                .map(|l| l.name.len() + l.value.len() + 48)
                .sum::<usize>()
    }
}

struct Entry {
    /// The storage version the points were computed from.
    seq: u64,
    /// First and last step held (inclusive, on the key's grid).
    first: i64,
    last: i64,
    /// Sorted by labels; every point in `[first, last]`.
    series: Vec<Arc<CachedSeries>>,
    bytes: usize,
    used: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, Entry>,
    bytes: usize,
    tick: u64,
}

/// One series of a [`RangeAnswer`]: points from the cache, then computed
/// ones.
struct Part {
    cached: Option<(Arc<CachedSeries>, Range<usize>)>,
    fresh: Option<Series>,
}

impl Part {
    fn labels(&self) -> &Labels {
        match (&self.cached, &self.fresh) {
            (Some((c, _)), _) => &c.labels,
            (None, Some(s)) => &s.labels,
            (None, None) => unreachable!("a part has points"),
        }
    }
}

/// A range query's matrix, part of it possibly straight from the cache.
pub struct RangeAnswer {
    parts: Vec<Part>,
}

impl RangeAnswer {
    fn fresh(series: Vec<Series>) -> RangeAnswer {
        RangeAnswer {
            parts: series
                .into_iter()
                .map(|s| Part {
                    cached: None,
                    fresh: Some(s),
                })
                .collect(),
        }
    }

    /// Series in the answer.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Keeps the first `n` series.
    pub fn truncate(&mut self, n: usize) {
        self.parts.truncate(n);
    }

    /// The answer as a [`Value::Matrix`].
    pub fn into_value(self) -> Value {
        Value::Matrix(
            self.parts
                .into_iter()
                .map(|p| match (p.cached, p.fresh) {
                    (Some((c, r)), fresh) => {
                        let mut points = c.points[r].to_vec();
                        points.extend(fresh.into_iter().flat_map(|s| s.points));
                        Series {
                            labels: c.labels.clone(),
                            points,
                        }
                    }
                    (None, Some(s)) => s,
                    (None, None) => unreachable!("a part has points"),
                })
                .collect(),
        )
    }

    /// The whole success response, byte for byte what
    /// `into_value().write_response(..)` writes, in pieces to be sent one
    /// after another: cached points' text of at least [`SHARED_TEXT_MIN`]
    /// bytes is a piece of the cache entry's own memory (a 7-day panel's
    /// ~150 KB goes to the socket without being copied into a response
    /// first); everything else is written into the pieces between.
    pub fn response_pieces(&self, warnings: &[&str]) -> Vec<Bytes> {
        let mut pieces = Vec::new();
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(br#"{"status":"success","data":{"resultType":"matrix","result":["#);
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"metric":"#);
            write_labels(p.labels(), &mut out);
            out.extend_from_slice(br#","values":["#);
            let mut any = false;
            if let Some((c, r)) = &p.cached {
                let text = c.text_range(r);
                if text.len() >= SHARED_TEXT_MIN {
                    pieces.push(Bytes::from(std::mem::take(&mut out)));
                    pieces.push(c.json.slice(text));
                    out.reserve(512);
                } else {
                    out.extend_from_slice(&c.json[text]);
                }
                any = true;
            }
            for &(t, v) in p.fresh.iter().flat_map(|s| &s.points) {
                if any {
                    out.push(b',');
                }
                write_point(t, v, &mut out);
                any = true;
            }
            out.extend_from_slice(b"]}");
        }
        out.extend_from_slice(b"]}");
        Value::write_warnings(warnings, &mut out);
        out.push(b'}');
        pieces.push(Bytes::from(out));
        pieces
    }
}

/// Cached points' text this long or longer goes out as a piece of the
/// cache entry ([`RangeAnswer::response_pieces`]); shorter text is copied,
/// so that an answer of many small series stays a few pieces (each piece
/// is one more buffer in the socket write).
pub const SHARED_TEXT_MIN: usize = 16 << 10;

/// The cache; one per server, shared by all queries.
pub struct RangeCache {
    budget: usize,
    inner: Mutex<Inner>,
    hits: AtomicU64,
    partial_hits: AtomicU64,
    misses: AtomicU64,
    uncacheable: AtomicU64,
}

/// The points of `series` in `[from, to]` as cached series, those without
/// any left out.
fn to_cached(series: &[Series], from: i64, to: i64) -> Vec<Arc<CachedSeries>> {
    series
        .iter()
        .filter_map(|s| {
            let a = s.points.partition_point(|p| p.0 < from);
            let b = s.points.partition_point(|p| p.0 <= to);
            (a < b).then(|| Arc::new(CachedSeries::new(s.labels.clone(), &s.points[a..b])))
        })
        .collect()
}

/// Joins cached series and computed ones, both sorted by labels, whose
/// points do not interleave (every cached point before every computed
/// one). Cached series with no point in `[from, to]` are left out.
fn splice(cached: &[Arc<CachedSeries>], from: i64, to: i64, late: Vec<Series>) -> RangeAnswer {
    let mut parts = Vec::with_capacity(cached.len().max(late.len()));
    let mut a = cached
        .iter()
        .filter_map(|c| {
            let r = c.within(from, to);
            (!r.is_empty()).then(|| (Arc::clone(c), r))
        })
        .peekable();
    let mut b = late.into_iter().peekable();
    loop {
        let part = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Part {
                cached: a.next(),
                fresh: None,
            },
            (None, Some(_)) => Part {
                cached: None,
                fresh: b.next(),
            },
            (Some((c, _)), Some(s)) => match c.labels.cmp(&s.labels) {
                std::cmp::Ordering::Less => Part {
                    cached: a.next(),
                    fresh: None,
                },
                std::cmp::Ordering::Greater => Part {
                    cached: None,
                    fresh: b.next(),
                },
                std::cmp::Ordering::Equal => Part {
                    cached: a.next(),
                    fresh: b.next(),
                },
            },
        };
        parts.push(part);
    }
    RangeAnswer { parts }
}

fn matrix(v: Value) -> Vec<Series> {
    match v {
        Value::Matrix(s) => s,
        // a range query's result is always a matrix
        other => unreachable!("range query returned {}", other.result_type()),
    }
}

/// The points of `s` after `t`.
fn after(mut series: Vec<Series>, t: i64) -> Vec<Series> {
    series.retain_mut(|s| {
        let a = s.points.partition_point(|p| p.0 <= t);
        s.points.drain(..a);
        !s.points.is_empty()
    });
    series
}

impl RangeCache {
    /// A cache holding at most about `budget` bytes (0: off).
    pub fn new(budget: usize) -> RangeCache {
        RangeCache {
            budget,
            inner: Mutex::new(Inner::default()),
            hits: AtomicU64::new(0),
            partial_hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            uncacheable: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> RangeCacheStats {
        let inner = self.inner.lock();
        RangeCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            partial_hits: self.partial_hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            uncacheable: self.uncacheable.load(Ordering::Relaxed),
            entries: inner.map.len(),
            bytes: inner.bytes,
        }
    }

    /// [`crate::range_query`] through the cache: the same answer, bit for
    /// bit.
    #[allow(clippy::too_many_arguments)]
    pub fn range_query(
        &self,
        snap: &Snapshot,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        opts: &QueryOptions,
        cancel: &Cancel,
    ) -> Result<RangeAnswer, QueryError> {
        let expr = parse(query)?;
        validate_range(start, end, step)?;
        let eval = |from: i64, to: i64| -> Result<Vec<Series>, QueryError> {
            eval_range(snap, &expr, from, to, step, opts, cancel).map(matrix)
        };
        if self.budget == 0 || !start_independent(&expr) {
            self.uncacheable.fetch_add(1, Ordering::Relaxed);
            return eval(start, end).map(RangeAnswer::fresh);
        }
        // the last step (`@ end()` would see the difference, but is not
        // cached)
        let end = start + (end - start) / step * step;
        let version = snap.version();
        let seq = version.seq;
        // the last step whose inputs can no longer change
        let fixed = match version.persisted_through {
            Some(cut) if cut >= start => start + (end.min(cut) - start) / step * step,
            _ => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                return eval(start, end).map(RangeAnswer::fresh);
            }
        };
        let key = Key::new(query, start, step, opts.lookback_ms);
        let Some((last, series)) = self.lookup(&key, seq, start) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            let all = eval(start, end)?;
            let series = to_cached(&all, start, fixed);
            self.store(key, seq, start, fixed, series.clone());
            return Ok(splice(&series, start, fixed, after(all, fixed)));
        };
        if last >= end {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(splice(&series, start, end, Vec::new()));
        }
        self.partial_hits.fetch_add(1, Ordering::Relaxed);
        let late = eval(last + step, end)?;
        let (upto, series) = if fixed > last {
            let grown = self.extend(&key, seq, last, start, fixed, &series, &late);
            (fixed, grown)
        } else {
            (last, series)
        };
        Ok(splice(&series, start, upto, after(late, upto)))
    }

    /// The entry's last step and series when it holds `start` for `seq`.
    fn lookup(&self, key: &Key, seq: u64, start: i64) -> Option<(i64, Vec<Arc<CachedSeries>>)> {
        let mut inner = self.inner.lock();
        inner.tick += 1;
        let tick = inner.tick;
        let e = inner
            .map
            .get_mut(key)
            .filter(|e| e.seq == seq && e.first <= start && start <= e.last)?;
        e.used = tick;
        Some((e.last, e.series.clone()))
    }

    /// The answer when the cache holds every step of the query, else
    /// `None` (nothing is evaluated): cheap enough to try before handing a
    /// query to a worker thread. Counted as a hit when it answers.
    pub fn full_hit(
        &self,
        snap: &Snapshot,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        lookback: i64,
    ) -> Option<RangeAnswer> {
        if self.budget == 0 || step <= 0 || end < start {
            return None;
        }
        let end = start + (end - start) / step * step;
        let key = Key::new(query, start, step, lookback);
        let (last, series) = self.lookup(&key, snap.version().seq, start)?;
        if last < end {
            return None;
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(splice(&series, start, end, Vec::new()))
    }

    fn store(&self, key: Key, seq: u64, first: i64, last: i64, series: Vec<Arc<CachedSeries>>) {
        let bytes = series.iter().map(|s| s.bytes()).sum::<usize>()
            + key.query.len()
            + std::mem::size_of::<Entry>()
            + 64;
        if bytes > self.budget / 2 {
            return;
        }
        let mut inner = self.inner.lock();
        if inner.map.get(&key).is_some_and(|e| e.seq > seq) {
            return; // a newer version's answer is there already
        }
        inner.tick += 1;
        let entry = Entry {
            seq,
            first,
            last,
            series,
            bytes,
            used: inner.tick,
        };
        if let Some(old) = inner.map.insert(key, entry) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        inner.evict(self.budget);
    }

    /// The entry's series (which ended at `last`) from `start` on, with the
    /// computed steps `(last, fixed]` added; stored in place of the old
    /// ones when the entry is still as it was.
    #[allow(clippy::too_many_arguments)]
    fn extend(
        &self,
        key: &Key,
        seq: u64,
        last: i64,
        start: i64,
        fixed: i64,
        old: &[Arc<CachedSeries>],
        late: &[Series],
    ) -> Vec<Arc<CachedSeries>> {
        let new: Vec<Series> = late
            .iter()
            .filter_map(|s| {
                let b = s.points.partition_point(|p| p.0 <= fixed);
                (b > 0).then(|| Series {
                    labels: s.labels.clone(),
                    points: s.points[..b].to_vec(),
                })
            })
            .collect();
        let grown: Vec<Arc<CachedSeries>> = splice(old, start, last, new)
            .parts
            .iter()
            .map(|p| Arc::new(CachedSeries::from_part(p)))
            .collect();
        let still = {
            let mut inner = self.inner.lock();
            let still = inner
                .map
                .get(key)
                .is_some_and(|e| e.seq == seq && e.last == last);
            if still {
                if let Some(e) = inner.map.remove(key) {
                    inner.bytes -= e.bytes;
                }
            }
            still
        };
        if still {
            self.store(key.clone(), seq, start, fixed, grown.clone());
        }
        grown
    }
}

impl Inner {
    /// Drops the least recently used entries until the budget holds.
    fn evict(&mut self, budget: usize) {
        while self.bytes > budget {
            let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                return;
            };
            if let Some(e) = self.map.remove(&oldest) {
                self.bytes -= e.bytes;
            }
        }
    }
}
