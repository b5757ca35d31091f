//! The read path: a [`Snapshot`] pins one [`Version`] of the segment files
//! and the head; [`Snapshot::select`] finds the series matching label
//! matchers in every segment that overlaps the time range and in the head,
//! merged by label set; [`Snapshot::read_samples`] decodes a series' samples
//! in time order; [`Snapshot::summarize`] answers exact counter summaries
//! from rollup buckets plus raw edges.

mod cache;
mod interner;
mod plan;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

pub(crate) use cache::FastHash;
pub use cache::{BucketCache, RawBlock, Slot, Value, DEFAULT_BUCKET_CACHE_BYTES};
pub use interner::LabelInterner;
pub use plan::Piece;

use crate::codec::DecodeScratch;
use crate::error::Result;
use crate::head::{count_at_or_before, Head, MemSeries};
use crate::index::{self, Matcher};
use crate::manifest::{LiveFile, Version};
use crate::rollup::{self, Bucket, Counting, Summary};
use crate::segment::ColumnBuf;
use crate::types::{Labels, SeriesKind, TimestampMs};

/// A consistent view for reading: the files of one version and the head
/// samples newer than that version's persisted cut.
#[derive(Clone)]
pub struct Snapshot {
    version: Arc<Version>,
    head: Arc<Head>,
    cut: TimestampMs,
}

/// One series found by a select, with where its data lives.
#[derive(Clone)]
pub struct SeriesHandle {
    /// The label set, interned: shared with the engine's interner (cloning
    /// a handle allocates nothing), and a select matches series across
    /// files by its address.
    pub labels: Arc<Labels>,
    pub kind: SeriesKind,
    raw: Vec<Source>,
    head: Option<Arc<MemSeries>>,
    rollups: BTreeMap<u32, Vec<Source>>,
    /// The files `raw` and `rollups` index into (one `Arc` per handle, not
    /// one per file: handles are many and short-lived).
    files: Arc<Version>,
}

/// A series in one file: the file's index in its list of the version
/// (`raw`, or `rollups` of the resolution) and the series' ordinal in it.
#[derive(Clone, Copy)]
struct Source {
    file: u32,
    ordinal: u32,
}

impl SeriesHandle {
    fn new(key: Arc<Labels>, files: Arc<Version>) -> SeriesHandle {
        SeriesHandle {
            files,
            labels: key,
            kind: SeriesKind::Unknown,
            raw: Vec::new(),
            head: None,
            rollups: BTreeMap::new(),
        }
    }

    fn note_kind(&mut self, k: SeriesKind) {
        if k != SeriesKind::Unknown {
            self.kind = k;
        }
    }

    /// How increases of this series are counted.
    pub fn counting(&self) -> Counting {
        Counting::of(self.kind)
    }
}

/// Series being collected by a select: handles in discovery order, indexed
/// by the address of their interned label set.
struct Found {
    files: Arc<Version>,
    handles: Vec<SeriesHandle>,
    by_key: HashMap<usize, usize, cache::FastHash>,
}

impl Found {
    fn handle(&mut self, key: &Arc<Labels>) -> &mut SeriesHandle {
        let n = self.handles.len();
        let i = *self.by_key.entry(Arc::as_ptr(key) as usize).or_insert(n);
        if i == n {
            self.handles
                .push(SeriesHandle::new(Arc::clone(key), Arc::clone(&self.files)));
        }
        &mut self.handles[i]
    }

    fn new(files: &Arc<Version>) -> Found {
        Found {
            files: Arc::clone(files),
            handles: Vec::new(),
            by_key: HashMap::default(),
        }
    }

    /// Room for `n` series in all (the first file usually tells how many
    /// a select finds), so that thousands of handles are not found by
    /// growing and rehashing.
    fn reserve(&mut self, n: usize) {
        let more = n.saturating_sub(self.handles.len());
        self.handles.reserve(more);
        self.by_key.reserve(more);
    }

    fn into_sorted(self) -> Vec<SeriesHandle> {
        let mut h = self.handles;
        h.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        h
    }
}

/// What a planned piece holds: raw samples or rollup buckets.
enum Item<'a> {
    Sample(TimestampMs, f64),
    Bucket(&'a Bucket),
}

/// Reusable decode buffers; one per reading thread.
#[derive(Default)]
pub struct ReadScratch {
    decode: DecodeScratch,
    rollup_cols: Vec<ColumnBuf>,
    ts: Vec<TimestampMs>,
    vs: Vec<f64>,
    buckets: Vec<Bucket>,
}

impl Snapshot {
    pub(crate) fn new(version: Arc<Version>, head: Arc<Head>) -> Snapshot {
        let cut = version.persisted_through.unwrap_or(TimestampMs::MIN);
        Snapshot { version, head, cut }
    }

    pub fn version(&self) -> &Arc<Version> {
        &self.version
    }

    /// The series matching every matcher with samples in `[mint, maxt]`,
    /// sorted by label set.
    pub fn select(
        &self,
        matchers: &[Matcher],
        mint: TimestampMs,
        maxt: TimestampMs,
    ) -> Result<Vec<SeriesHandle>> {
        let mut found = Found::new(&self.version);
        self.select_raw(&mut found, matchers, mint, maxt)?;
        Ok(found.into_sorted())
    }

    fn select_raw(
        &self,
        found: &mut Found,
        matchers: &[Matcher],
        mint: TimestampMs,
        maxt: TimestampMs,
    ) -> Result<()> {
        self.select_raw_in(found, matchers, mint, maxt, None)
    }

    /// The raw sources of the series matching `matchers` with samples in
    /// `[mint, maxt]`; with `rolled` (sorted, disjoint ranges inside it),
    /// series of a kind with rollups only where they have samples in one
    /// of those ranges (the rest of their data is read from buckets).
    fn select_raw_in(
        &self,
        found: &mut Found,
        matchers: &[Matcher],
        mint: TimestampMs,
        maxt: TimestampMs,
        rolled: Option<&[(TimestampMs, TimestampMs)]>,
    ) -> Result<()> {
        let interner = &self.version.labels;
        let in_rolled = |lo: TimestampMs, hi: TimestampMs| {
            rolled.is_none_or(|r| overlaps_any(r, lo, hi).is_some())
        };
        // A series is usually in every file: sized once, not grown by
        // doubling for each of thousands of handles.
        let n_files = self
            .version
            .raw
            .iter()
            .filter(|f| f.overlaps(mint, maxt))
            .count();
        for (i, f) in self.version.raw.iter().enumerate() {
            if !f.overlaps(mint, maxt) {
                continue;
            }
            let dir = f.segment.directory(interner)?;
            let mut ords = index::select(&f.segment, matchers);
            if !in_rolled(f.min_t(), f.max_t()) {
                // only series without rollups need this file
                ords &= dir.no_rollups();
            }
            found.reserve(ords.len() as usize);
            for ord in ords {
                let e = dir.get(&f.segment, ord)?;
                let wanted = match rolled {
                    Some(r) if !dir.no_rollups().contains(ord) => {
                        match e.chunk.min_t().zip(e.chunk.max_t()) {
                            Some((lo, hi)) => overlaps_any(r, lo, hi).is_some(),
                            None => false,
                        }
                    }
                    _ => e.chunk.overlaps(mint, maxt),
                };
                if !wanted {
                    continue;
                }
                let h = found.handle(&e.labels);
                h.note_kind(e.kind);
                if h.raw.capacity() == 0 {
                    h.raw.reserve_exact(n_files);
                }
                h.raw.push(Source {
                    file: i as u32,
                    ordinal: ord,
                });
            }
        }
        if self.head.max_time().is_some_and(|t| t >= mint) {
            let lo = self.cut.max(mint.saturating_sub(1));
            for s in self.head.select(matchers) {
                let mut labels = None;
                let kind = {
                    let data = s.data.lock();
                    // Rolled-up series: only with a sample in a range.
                    let rolls = rolled.filter(|_| match data.kind {
                        SeriesKind::Unknown => labels
                            .insert(s.labels())
                            .metric_name()
                            .is_some_and(|n| SeriesKind::Unknown.has_rollups(Some(n))),
                        k => k.has_rollups(None),
                    });
                    let wanted = match rolls {
                        Some(ranges) => samples_in(&data.ts, lo, maxt, ranges),
                        None => !data.range(lo, maxt).is_empty(),
                    };
                    if !wanted {
                        continue;
                    }
                    data.kind
                };
                // A series in some file has an interned label set (found by
                // the hash the head keeps, without decoding its labels); one
                // only in the head gets its own.
                let key = interner
                    .get_hashed(s.hash, |l| s.has_labels(l))
                    .unwrap_or_else(|| Arc::new(labels.unwrap_or_else(|| s.labels())));
                let h = found.handle(&key);
                h.note_kind(kind);
                h.head = Some(s);
            }
        }
        Ok(())
    }

    /// Like [`Snapshot::select_with_rollups`], for summarizing each window
    /// `(a, b]` of `windows` with [`Snapshot::summarize`]: of each file list
    /// only the files some window's summary reads. A 30-day window then
    /// visits the raw files of its two edge minutes and the 1 h files of
    /// its two edge days instead of every file of the month.
    ///
    /// The files follow the plan of a series with buckets of every written
    /// width: raw files for the raw pieces, and for each width the files of
    /// its own pieces and of every finer piece (a raw edge is first looked
    /// up in the bucket that contains it). A series without buckets of some
    /// width in those files has no sample there, so its own plan, which
    /// reads finer data over that stretch, finds nothing it misses. Series
    /// of a kind without rollups get all their raw files in the windows.
    pub fn select_for_windows(
        &self,
        matchers: &[Matcher],
        windows: &[(TimestampMs, TimestampMs)],
    ) -> Result<Vec<SeriesHandle>> {
        let mut found = Found::new(&self.version);
        let (Some(a), Some(b)) = (
            windows.iter().map(|w| w.0).min(),
            windows.iter().map(|w| w.1).max(),
        ) else {
            return Ok(found.into_sorted());
        };
        let levels = plan::written_levels(&self.version);
        let mut pieces = Vec::new();
        for &(a, b) in windows {
            plan::split(&levels, a, b, &mut pieces);
        }
        let mut raw = Vec::new();
        let mut rolled: BTreeMap<u32, Vec<(TimestampMs, TimestampMs)>> = BTreeMap::new();
        for p in &pieces {
            let (res_s, after, through) = match *p {
                Piece::Raw { after, through } => (0, after, through),
                Piece::Buckets {
                    res_s,
                    after,
                    through,
                } => (res_s, after, through),
            };
            if res_s == 0 {
                raw.push((after.saturating_add(1), through));
            }
            for &(r, _) in levels.iter().filter(|l| l.0 >= res_s) {
                let w = i64::from(r) * 1000;
                rolled
                    .entry(r)
                    .or_default()
                    .push((after.saturating_sub(w), through.saturating_add(w)));
            }
        }
        let raw = coalesce(raw);
        self.select_raw_in(&mut found, matchers, a.saturating_add(1), b, Some(&raw))?;
        for (res, files) in &self.version.rollups {
            let Some(ranges) = rolled.remove(res).map(coalesce) else {
                continue;
            };
            self.select_rollups(&mut found, matchers, *res, files, |f| {
                overlaps_any(&ranges, f.min_t(), f.max_t()).is_some()
            })?;
        }
        Ok(found.into_sorted())
    }

    /// Adds to `found` the series matching `matchers` in the files of
    /// rollup width `res` (seconds) that `wanted` accepts.
    fn select_rollups(
        &self,
        found: &mut Found,
        matchers: &[Matcher],
        res: u32,
        files: &[Arc<LiveFile>],
        wanted: impl Fn(&LiveFile) -> bool,
    ) -> Result<()> {
        let n_files = files.iter().filter(|f| wanted(f)).count();
        for (i, f) in files.iter().enumerate() {
            if !wanted(f) {
                continue;
            }
            let dir = f.segment.directory(&self.version.labels)?;
            let ords = index::select(&f.segment, matchers);
            found.reserve(ords.len() as usize);
            for ord in ords {
                let e = dir.get(&f.segment, ord)?;
                let h = found.handle(&e.labels);
                h.note_kind(e.kind);
                h.rollups
                    .entry(res)
                    .or_insert_with(|| Vec::with_capacity(n_files))
                    .push(Source {
                        file: i as u32,
                        ordinal: ord,
                    });
            }
        }
        Ok(())
    }

    /// Like [`Snapshot::select`], and also finds each series' rollup
    /// buckets (including series whose raw data retention has removed).
    pub fn select_with_rollups(
        &self,
        matchers: &[Matcher],
        mint: TimestampMs,
        maxt: TimestampMs,
    ) -> Result<Vec<SeriesHandle>> {
        let mut found = Found::new(&self.version);
        self.select_raw(&mut found, matchers, mint, maxt)?;
        for (res, files) in &self.version.rollups {
            let w = i64::from(*res) * 1000;
            self.select_rollups(&mut found, matchers, *res, files, |f| {
                f.overlaps(mint, maxt.saturating_add(w))
            })?;
        }
        Ok(found.into_sorted())
    }

    /// Like [`Snapshot::select_with_rollups`], for reading whole steps of
    /// `step` from a multiple of it (as [`Snapshot::summarize_steps`]
    /// does): only the rollup widths dividing `step`, and of each only the
    /// files after where the next coarser one is written (the plan reads
    /// nothing finer before that), raw files only after the finest. Years
    /// of history then cost the coarse width's files, not every width's.
    pub fn select_for_steps(
        &self,
        matchers: &[Matcher],
        mint: TimestampMs,
        maxt: TimestampMs,
        step: i64,
    ) -> Result<Vec<SeriesHandle>> {
        let mut widths: Vec<(u32, TimestampMs)> = self
            .version
            .rollups_through
            .iter()
            .map(|(r, t)| (*r, *t))
            .filter(|(r, _)| {
                let w = i64::from(*r) * 1000;
                step % w == 0 && mint.rem_euclid(w) == 0
            })
            .collect();
        widths.sort_by_key(|w| std::cmp::Reverse(w.0));
        let mut from: BTreeMap<u32, TimestampMs> = BTreeMap::new();
        let mut lo = mint;
        for &(res, written) in &widths {
            from.insert(res, lo);
            lo = lo.max(rollup::floor_to(written, i64::from(res) * 1000));
        }
        let mut found = Found::new(&self.version);
        self.select_raw(&mut found, matchers, lo, maxt)?;
        for (res, files) in &self.version.rollups {
            let Some(&res_from) = from.get(res) else {
                continue;
            };
            let w = i64::from(*res) * 1000;
            self.select_rollups(&mut found, matchers, *res, files, |f| {
                f.overlaps(res_from, maxt.saturating_add(w))
            })?;
        }
        Ok(found.into_sorted())
    }

    /// Appends the series' samples with `mint <= t <= maxt` in time order.
    /// Where sources overlap (they normally do not), a later source's sample
    /// replaces an earlier one at the same timestamp.
    pub fn read_samples(
        &self,
        h: &SeriesHandle,
        mint: TimestampMs,
        maxt: TimestampMs,
        scratch: &mut ReadScratch,
        ts: &mut Vec<TimestampMs>,
        vs: &mut Vec<f64>,
    ) -> Result<()> {
        let start = ts.len();
        let mut unsorted = false;
        let mut note_boundary = |ts: &[TimestampMs], before: usize| {
            if before > start && ts.len() > before && ts[before] <= ts[before - 1] {
                unsorted = true;
            }
        };
        let mut cols = [
            ColumnBuf::I64(std::mem::take(ts)),
            ColumnBuf::F64(std::mem::take(vs)),
        ];
        let mut result = Ok(());
        // The file's own range first: it is shared by every series, so it is
        // in cache where the series' entry is not.
        let files = &h.files.raw;
        for f in h
            .raw
            .iter()
            .filter_map(|s| Some((files.get(s.file as usize)?, s.ordinal)))
        {
            let (f, ordinal) = f;
            if !f.overlaps(mint, maxt) {
                continue;
            }
            let before = cols[0].len();
            if let Err(err) = self.read_raw_source(f, ordinal, mint, maxt, scratch, &mut cols) {
                result = Err(err);
                break;
            }
            if let ColumnBuf::I64(t) = &cols[0] {
                note_boundary(t, before);
            }
        }
        let [ColumnBuf::I64(t), ColumnBuf::F64(v)] = cols else {
            unreachable!("constructed above with these variants")
        };
        *ts = t;
        *vs = v;
        result?;
        if let Some(s) = &h.head {
            let before = ts.len();
            let data = s.data.lock();
            let r = data.range(self.cut.max(mint.saturating_sub(1)), maxt);
            ts.extend_from_slice(&data.ts[r.clone()]);
            vs.extend_from_slice(&data.vals[r]);
            drop(data);
            note_boundary(ts, before);
        }
        if unsorted {
            merge_sorted_runs(ts, vs, start);
        }
        Ok(())
    }

    /// Appends the series' rollup buckets of width `res_s` seconds whose end
    /// lies in `[mint, maxt]`, in time order.
    pub fn read_buckets(
        &self,
        h: &SeriesHandle,
        res_s: u32,
        mint: TimestampMs,
        maxt: TimestampMs,
        scratch: &mut ReadScratch,
        out: &mut Vec<Bucket>,
    ) -> Result<()> {
        let Some(sources) = h.rollups.get(&res_s) else {
            return Ok(());
        };
        let w = i64::from(res_s) * 1000;
        let Some(files) = h.files.rollups.get(&res_s) else {
            return Ok(());
        };
        for src in sources {
            let Some(f) = files.get(src.file as usize) else {
                continue;
            };
            if !f.overlaps(mint, maxt) {
                continue;
            }
            let seg = &f.segment;
            let dir = seg.directory(&self.version.labels)?;
            let e = dir.get(seg, src.ordinal)?;
            if !e.chunk.overlaps(mint, maxt) {
                continue;
            }
            let cache = &self.version.buckets;
            let slot = dir.slot(src.ordinal);
            let cached = slot.and_then(|s| cache.buckets(f, src.ordinal, s));
            if cached.is_none() && narrow(&e.chunk, mint, maxt) {
                // A window edge needs a few buckets of a long source: decode
                // only the blocks that hold them, and leave the cache to the
                // sources read whole.
                self.decode_buckets(f, src.ordinal, w, mint, maxt, scratch, out)?;
                continue;
            }
            let all = match cached {
                Some(b) => b,
                None => {
                    let b = self.decode_source(f, src.ordinal, w, scratch)?;
                    if let Some(s) = slot {
                        cache.insert(f, src.ordinal, s, Value::Buckets(Arc::clone(&b)));
                    }
                    b
                }
            };
            let lo = first_ending_from(&all, mint, w);
            let hi = first_ending_from(&all, maxt.saturating_add(1), w);
            out.extend_from_slice(&all[lo..hi.max(lo)]);
        }
        Ok(())
    }

    /// Appends the buckets of one rollup source whose end is in `[mint,
    /// maxt]`, decoding only the blocks that hold them.
    #[allow(clippy::too_many_arguments)]
    fn decode_buckets(
        &self,
        f: &LiveFile,
        ordinal: u32,
        w: i64,
        mint: TimestampMs,
        maxt: TimestampMs,
        scratch: &mut ReadScratch,
        out: &mut Vec<Bucket>,
    ) -> Result<()> {
        if scratch.rollup_cols.len() == rollup::COLUMNS.len() {
            scratch.rollup_cols.iter_mut().for_each(ColumnBuf::clear);
        } else {
            scratch.rollup_cols = rollup::column_buffers();
        }
        self.read_source(
            f,
            ordinal,
            mint,
            maxt,
            &mut scratch.decode,
            &mut scratch.rollup_cols,
        )?;
        if rollup::buckets_from_columns(w, &scratch.rollup_cols, out).is_none() {
            return Err(crate::Error::corrupted(
                f.segment.path(),
                0,
                "rollup segment does not have the rollup column layout",
            ));
        }
        Ok(())
    }

    /// Every bucket of one rollup source, decoded.
    fn decode_source(
        &self,
        f: &LiveFile,
        ordinal: u32,
        w: i64,
        scratch: &mut ReadScratch,
    ) -> Result<Arc<[Bucket]>> {
        if scratch.rollup_cols.len() == rollup::COLUMNS.len() {
            scratch.rollup_cols.iter_mut().for_each(ColumnBuf::clear);
        } else {
            scratch.rollup_cols = rollup::column_buffers();
        }
        self.read_source(
            f,
            ordinal,
            TimestampMs::MIN,
            TimestampMs::MAX,
            &mut scratch.decode,
            &mut scratch.rollup_cols,
        )?;
        let mut buckets = Vec::new();
        if rollup::buckets_from_columns(w, &scratch.rollup_cols, &mut buckets).is_none() {
            return Err(crate::Error::corrupted(
                f.segment.path(),
                0,
                "rollup segment does not have the rollup column layout",
            ));
        }
        Ok(buckets.into())
    }

    /// Appends the samples of one raw source in `[mint, maxt]`. A range
    /// inside one block that does not take all of it (a window's edge) is
    /// answered from that block decoded whole and kept in the bucket cache,
    /// so the next window with an edge in the same block decodes nothing.
    fn read_raw_source(
        &self,
        f: &Arc<LiveFile>,
        ordinal: u32,
        mint: TimestampMs,
        maxt: TimestampMs,
        scratch: &mut ReadScratch,
        out: &mut [ColumnBuf; 2],
    ) -> Result<()> {
        let seg = &f.segment;
        let dir = seg.directory(&self.version.labels)?;
        let e = dir.get(seg, ordinal)?;
        let blocks = &e.chunk.blocks;
        let i = blocks.partition_point(|b| b.max_t < mint);
        let edge = blocks.get(i).is_some_and(|b| {
            b.min_t <= maxt
                && (mint > b.min_t || maxt < b.max_t)
                && blocks.get(i + 1).is_none_or(|next| next.min_t > maxt)
        });
        let slot = if edge { dir.slot(ordinal) } else { None };
        let Some(slot) = slot else {
            return seg.read_chunk(&e.chunk, &e.labels, mint, maxt, &mut scratch.decode, out);
        };
        let cache = &self.version.buckets;
        let block = match cache.get(f, ordinal, slot) {
            Some(Value::Block(b)) if b.index == i => b,
            _ => {
                let (lo, hi) = (blocks[i].min_t, blocks[i].max_t);
                let rows = blocks[i].rows as usize;
                let mut cols = [
                    ColumnBuf::I64(Vec::with_capacity(rows)),
                    ColumnBuf::F64(Vec::with_capacity(rows)),
                ];
                seg.read_chunk(&e.chunk, &e.labels, lo, hi, &mut scratch.decode, &mut cols)?;
                let [ColumnBuf::I64(ts), ColumnBuf::F64(vs)] = cols else {
                    unreachable!("constructed above with these variants")
                };
                let b = Arc::new(RawBlock { index: i, ts, vs });
                cache.insert(f, ordinal, slot, Value::Block(Arc::clone(&b)));
                b
            }
        };
        let lo = block.ts.partition_point(|&t| t < mint);
        let hi = block.ts.partition_point(|&t| t <= maxt).max(lo);
        match out {
            [ColumnBuf::I64(ts), ColumnBuf::F64(vs)] => {
                ts.extend_from_slice(&block.ts[lo..hi]);
                vs.extend_from_slice(&block.vs[lo..hi]);
                Ok(())
            }
            _ => Err(crate::Error::InvalidArgument(
                "raw reads take a time and a value column".into(),
            )),
        }
    }

    fn read_source(
        &self,
        f: &LiveFile,
        ordinal: u32,
        mint: TimestampMs,
        maxt: TimestampMs,
        scratch: &mut DecodeScratch,
        out: &mut [ColumnBuf],
    ) -> Result<()> {
        let seg = &f.segment;
        let e = seg.directory(&self.version.labels)?.get(seg, ordinal)?;
        seg.read_chunk(&e.chunk, &e.labels, mint, maxt, scratch, out)
    }

    /// How [`Snapshot::summarize`] would answer `(a, b]` for this series.
    pub fn plan(&self, h: &SeriesHandle, a: TimestampMs, b: TimestampMs) -> Vec<Piece> {
        plan::plan(&self.version, h, a, b)
    }

    /// The exact summary of the series' samples in `(a, b]`, from the
    /// coarsest rollup buckets that fit whole and raw samples at the edges.
    pub fn summarize(
        &self,
        h: &SeriesHandle,
        a: TimestampMs,
        b: TimestampMs,
        scratch: &mut ReadScratch,
    ) -> Result<Summary> {
        let counting = h.counting();
        let mut acc = Summary::EMPTY;
        for piece in plan::plan(&self.version, h, a, b) {
            if let Piece::Raw { after, through } = piece {
                if let Some(s) = self.raw_from_bucket(h, after, through, scratch)? {
                    acc = acc.then(counting, &s);
                    continue;
                }
            }
            let mut s = Summary::EMPTY;
            self.read_piece(h, piece, scratch, |item| match item {
                Item::Sample(t, v) => s.push(counting, t, v),
                Item::Bucket(b) => s = s.then(counting, &b.summary),
            })?;
            acc = acc.then(counting, &s);
        }
        Ok(acc)
    }

    /// The summary of each step `(start + k*step, start + (k+1)*step]` for
    /// `k < n`, into `out` (cleared first), in one pass over the series: the
    /// rollup buckets whose width divides `step` (and `start`), raw samples
    /// for the rest. What [`Snapshot::summarize`] would give for each step
    /// on its own, without planning and reading each step apart.
    #[allow(clippy::too_many_arguments)]
    pub fn summarize_steps(
        &self,
        h: &SeriesHandle,
        start: TimestampMs,
        step: i64,
        n: usize,
        scratch: &mut ReadScratch,
        out: &mut Vec<Summary>,
    ) -> Result<()> {
        out.clear();
        out.resize(n, Summary::EMPTY);
        if n == 0 || step <= 0 {
            return Ok(());
        }
        let counting = h.counting();
        let end = start.saturating_add(step.saturating_mul(n as i64));
        // the step of a time in (start, end]
        let at = |t: TimestampMs| ((t - start - 1) / step) as usize;
        for piece in plan::plan_steps(&self.version, h, start, end, step) {
            self.read_piece(h, piece, scratch, |item| match item {
                Item::Sample(t, v) => out[at(t)].push(counting, t, v),
                Item::Bucket(b) => {
                    let k = at(b.end);
                    out[k] = out[k].then(counting, &b.summary);
                }
            })?;
        }
        Ok(())
    }

    /// Calls `f` with the label-set hash ([`Labels::hash64`]), the counting
    /// and the summary of `(after, through]` of every head series matching
    /// `matchers` that has samples there, summarised in place. For times
    /// after the persisted cut, where the head holds every sample: `after`
    /// is raised to the cut. A series counts deltas when its kind says so
    /// or `is_delta` does (the caller may know better than a head series
    /// re-created without its kind).
    pub fn head_summaries(
        &self,
        matchers: &[Matcher],
        after: TimestampMs,
        through: TimestampMs,
        is_delta: impl Fn(u64) -> bool,
        mut f: impl FnMut(u64, Counting, &Summary),
    ) {
        let lo = after.max(self.cut);
        if !self.head_overlaps(lo.saturating_add(1), through) {
            return;
        }
        for s in self.head.select(matchers) {
            let data = s.data.lock();
            let r = data.range(lo, through);
            if r.is_empty() {
                continue;
            }
            let counting = if is_delta(s.hash) {
                Counting::Delta
            } else {
                Counting::of(data.kind)
            };
            let sum = Summary::of(counting, &data.ts[r.clone()], &data.vals[r]);
            drop(data);
            if !sum.is_empty() {
                f(s.hash, counting, &sum);
            }
        }
    }

    /// Reads one planned piece of `h`, giving `visit` each raw sample or
    /// rollup bucket in time order.
    fn read_piece(
        &self,
        h: &SeriesHandle,
        piece: Piece,
        scratch: &mut ReadScratch,
        mut visit: impl FnMut(Item<'_>),
    ) -> Result<()> {
        match piece {
            Piece::Raw { after, through } => {
                let (mut ts, mut vs) = (
                    std::mem::take(&mut scratch.ts),
                    std::mem::take(&mut scratch.vs),
                );
                ts.clear();
                vs.clear();
                let r = self.read_samples(
                    h,
                    after.saturating_add(1),
                    through,
                    scratch,
                    &mut ts,
                    &mut vs,
                );
                for (&t, &v) in ts.iter().zip(&vs) {
                    visit(Item::Sample(t, v));
                }
                scratch.ts = ts;
                scratch.vs = vs;
                r
            }
            Piece::Buckets {
                res_s,
                after,
                through,
            } => {
                let mut buckets = std::mem::take(&mut scratch.buckets);
                buckets.clear();
                let r = self.read_buckets(
                    h,
                    res_s,
                    after.saturating_add(1),
                    through,
                    scratch,
                    &mut buckets,
                );
                buckets.iter().for_each(|b| visit(Item::Bucket(b)));
                scratch.buckets = buckets;
                r
            }
        }
    }

    /// The summary of the samples in `(after, through]` from the written
    /// rollup bucket that contains that whole interval, when the bucket's
    /// samples all lie inside it or all outside (so no raw sample is
    /// needed); finest width first. `None` when no bucket decides it.
    fn raw_from_bucket(
        &self,
        h: &SeriesHandle,
        after: TimestampMs,
        through: TimestampMs,
        scratch: &mut ReadScratch,
    ) -> Result<Option<Summary>> {
        for (&res_s, &written) in &self.version.rollups_through {
            if !h.rollups.contains_key(&res_s) {
                continue;
            }
            let w = i64::from(res_s) * 1000;
            let end = rollup::bucket_end(through, w);
            if end - w > after || end > written {
                continue;
            }
            let mut buckets = std::mem::take(&mut scratch.buckets);
            buckets.clear();
            let r = self.read_buckets(h, res_s, end, end, scratch, &mut buckets);
            let found = buckets.first().map(|b| b.summary);
            scratch.buckets = buckets;
            r?;
            // Buckets hold every sample of a written interval, so no bucket
            // means no sample.
            let Some(s) = found else {
                return Ok(Some(Summary::EMPTY));
            };
            if s.first_t > after && s.last_t <= through {
                return Ok(Some(s));
            }
            if s.last_t <= after || s.first_t > through {
                return Ok(Some(Summary::EMPTY));
            }
        }
        Ok(None)
    }

    /// Whether the head may hold a visible sample in `[mint, maxt]`: its
    /// visible samples lie after the cut, within `[min_time, max_time]`.
    fn head_overlaps(&self, mint: TimestampMs, maxt: TimestampMs) -> bool {
        match (self.head.min_time(), self.head.max_time()) {
            (Some(lo), Some(hi)) => hi >= mint && lo <= maxt && self.cut < maxt,
            _ => false,
        }
    }

    /// Label names of the series with samples in `[mint, maxt]` that match
    /// every matcher (all series when there are no matchers), sorted.
    pub fn label_names(
        &self,
        matchers: &[Matcher],
        mint: TimestampMs,
        maxt: TimestampMs,
    ) -> Result<Vec<String>> {
        let mut names = BTreeSet::new();
        if matchers.is_empty() {
            for f in self.version.raw.iter().filter(|f| f.overlaps(mint, maxt)) {
                names.extend(f.segment.label_names().into_iter().map(str::to_string));
            }
            if self.head_overlaps(mint, maxt) {
                names.extend(self.head.label_names());
            }
        } else {
            for h in self.select(matchers, mint, maxt)? {
                names.extend(h.labels.iter().map(|l| l.name.clone()));
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Values of label `name` among the series with samples in `[mint,
    /// maxt]` matching every matcher, sorted.
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: TimestampMs,
        maxt: TimestampMs,
    ) -> Result<Vec<String>> {
        let mut values = BTreeSet::new();
        if matchers.is_empty() {
            for f in self.version.raw.iter().filter(|f| f.overlaps(mint, maxt)) {
                values.extend(f.segment.label_values(name).into_iter().map(str::to_string));
            }
            if self.head_overlaps(mint, maxt) {
                values.extend(self.head.label_values(name));
            }
        } else {
            for h in self.select(matchers, mint, maxt)? {
                if let Some(v) = h.labels.get(name) {
                    values.insert(v.to_string());
                }
            }
        }
        Ok(values.into_iter().collect())
    }
}

/// The index of the first of `buckets` (ends rising, multiples of `w`)
/// that ends at or after `t`. Buckets are usually gapless, so bucket `i`
/// ends at `first + i * w`: that guess is checked first (one or two cache
/// lines instead of a binary search's dozen over a year of buckets); with
/// gaps the answer lies before the guess.
fn first_ending_from(buckets: &[Bucket], t: TimestampMs, w: i64) -> usize {
    let Some(first) = buckets.first() else {
        return 0;
    };
    if t <= first.end {
        return 0;
    }
    let w = w.max(1);
    let guess = (t - first.end).saturating_add(w - 1) / w;
    let g = usize::try_from(guess)
        .unwrap_or(usize::MAX)
        .min(buckets.len());
    // buckets[g - 1] ends at or after first + (g - 1) * w, maybe at or after t
    if buckets[g - 1].end < t {
        return g;
    }
    buckets[..g].partition_point(|b| b.end < t)
}

/// Sorted, merged copies of closed ranges `[lo, hi]`.
fn coalesce(mut r: Vec<(TimestampMs, TimestampMs)>) -> Vec<(TimestampMs, TimestampMs)> {
    r.retain(|x| x.0 <= x.1);
    r.sort_unstable();
    let mut out: Vec<(TimestampMs, TimestampMs)> = Vec::with_capacity(r.len());
    for x in r {
        match out.last_mut() {
            Some(last) if x.0 <= last.1.saturating_add(1) => last.1 = last.1.max(x.1),
            _ => out.push(x),
        }
    }
    out
}

/// The first of the sorted, disjoint `ranges` that meets `[lo, hi]`.
fn overlaps_any(
    ranges: &[(TimestampMs, TimestampMs)],
    lo: TimestampMs,
    hi: TimestampMs,
) -> Option<usize> {
    let i = ranges.partition_point(|r| r.1 < lo);
    (i < ranges.len() && ranges[i].0 <= hi).then_some(i)
}

/// Whether one of the sorted times `ts` with `lo < t <= hi` lies in one of
/// the sorted, disjoint `ranges`.
fn samples_in(
    ts: &[TimestampMs],
    lo: TimestampMs,
    hi: TimestampMs,
    ranges: &[(TimestampMs, TimestampMs)],
) -> bool {
    let (Some(&first), Some(&last)) = (ts.first(), ts.last()) else {
        return false;
    };
    let (first, last) = (first.max(lo.saturating_add(1)), last.min(hi));
    let Some(i) = overlaps_any(ranges, first, last) else {
        return false;
    };
    ranges[i..]
        .iter()
        .take_while(|r| r.0 <= last)
        .any(|&(a, b)| {
            let (a, b) = (a.max(first), b.min(last));
            let k = count_at_or_before(ts, a - 1);
            ts.get(k).is_some_and(|&t| t <= b)
        })
}

/// Sorts `ts[start..]` (with `vs`) by time, keeping for equal timestamps the
/// sample that came last.
fn merge_sorted_runs(ts: &mut Vec<TimestampMs>, vs: &mut Vec<f64>, start: usize) {
    let mut pairs: Vec<(TimestampMs, usize, f64)> = ts[start..]
        .iter()
        .zip(&vs[start..])
        .enumerate()
        .map(|(i, (&t, &v))| (t, i, v))
        .collect();
    pairs.sort_by_key(|&(t, i, _)| (t, i));
    ts.truncate(start);
    vs.truncate(start);
    for (t, _, v) in pairs {
        if ts.len() > start && ts.last() == Some(&t) {
            if let Some(last) = vs.last_mut() {
                *last = v;
            }
            continue;
        }
        ts.push(t);
        vs.push(v);
    }
}

/// Whether `[mint, maxt]` touches at most half of the chunk's blocks (and
/// it has more than one): then decoding just those beats decoding the
/// whole source for the cache.
fn narrow(chunk: &crate::segment::Chunk, mint: TimestampMs, maxt: TimestampMs) -> bool {
    let n = chunk.blocks.len();
    if n < 2 {
        return false;
    }
    let touched = chunk
        .blocks
        .iter()
        .filter(|b| b.max_t >= mint && b.min_t <= maxt)
        .count();
    touched * 2 <= n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_runs_merge_with_the_later_value_winning() {
        let mut ts = vec![99, 1, 3, 5, 2, 3, 6];
        let mut vs = vec![9.0, 1.0, 3.0, 5.0, 2.0, 30.0, 6.0];
        merge_sorted_runs(&mut ts, &mut vs, 1);
        assert_eq!(ts, vec![99, 1, 2, 3, 5, 6]);
        assert_eq!(vs, vec![9.0, 1.0, 2.0, 30.0, 5.0, 6.0]);
    }
}
