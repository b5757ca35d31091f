//! The engine: opens a data directory (lock, manifest, segments, WAL replay),
//! takes writes (`append`: head, then WAL), hands out read snapshots, and runs
//! maintenance (flush, rollups, compaction, retention) in the background.
//!
//! Data directory:
//! ```text
//! LOCK                 held while open
//! MANIFEST             hash-chained edits: the live segment files
//! wal/                 write-ahead log files
//! segments/raw/        raw segments        segments/1m/ 1h/ 1d/  rollups
//! quarantine/          damaged files set aside, never deleted by nines
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use crate::error::{Error, IoContext, Result};
use crate::head::{Head, LateSample, MemSeries, SeriesRef};
use crate::manifest::{self, Edit, FileEntry, LiveFile, Manifest, Version};
use crate::options::EngineOptions;
use crate::read::BucketCache;
use crate::read::{ReadScratch, Snapshot};
use crate::segment::Segment;
use crate::types::{AppendOutcome, Labels, RejectReason, TimestampMs, WriteBatch};
use crate::wal::{Wal, WalLabels, WalOptions, WalRecord, WalSeries};

pub const LOCK_FILE: &str = "LOCK";
pub const SEGMENTS_DIR: &str = "segments";
pub const WAL_DIR: &str = "wal";
pub const QUARANTINE_DIR: &str = "quarantine";

/// What opening the engine found and did.
#[derive(Clone, Debug, Default)]
pub struct OpenReport {
    pub segments: usize,
    pub wal_records: u64,
    pub wal_samples: u64,
    pub head_series: usize,
    /// Files or records set aside, each with the reason.
    pub quarantined: Vec<String>,
    /// Leftovers of an interrupted flush or compaction that were removed.
    pub orphans_removed: usize,
}

pub(crate) struct Inner {
    pub opts: EngineOptions,
    pub dir: PathBuf,
    _lock: File,
    pub wal: Wal,
    pub head: Arc<Head>,
    pub manifest: Manifest,
    pub version: RwLock<Arc<Version>>,
    /// One flush, rollup, compaction or retention pass at a time.
    pub maintenance: Mutex<()>,
    /// Retention locks (`meta/locks.log`): floors under retention.
    pub locks: crate::locks::LockStore,
    pub next_file_id: AtomicU64,
    /// A flushed cut whose head samples wait for older snapshots to go.
    pending_truncation: Mutex<Option<(TimestampMs, Weak<Version>)>>,
    pub counters: Counters,
}

/// Monotonic counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    pub samples_appended: AtomicU64,
    pub samples_duplicate: AtomicU64,
    pub samples_rejected: AtomicU64,
    pub flushes: AtomicU64,
    pub compactions: AtomicU64,
    pub rollup_files: AtomicU64,
    pub retention_deletions: AtomicU64,
    pub maintenance_errors: AtomicU64,
}

pub struct Engine {
    inner: Arc<Inner>,
    background: Option<Background>,
    pub open_report: OpenReport,
}

/// The maintenance thread; dropping it stops and joins the thread.
struct Background {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Engine {
    pub fn open(opts: EngineOptions) -> Result<Engine> {
        opts.validate().map_err(Error::InvalidArgument)?;
        let dir = opts.data_dir.clone();
        std::fs::create_dir_all(&dir).ctx("create data directory", &dir)?;
        let lock = acquire_lock(&dir)?;
        for sub in [SEGMENTS_DIR, WAL_DIR] {
            std::fs::create_dir_all(dir.join(sub)).ctx("create directory", dir.join(sub))?;
        }
        let mut report = OpenReport::default();

        let (manifest, mut state, mlog) = Manifest::open(&dir)?;
        for (offset, rule) in &mlog.damaged {
            let msg = format!("{} offset {offset}: {rule}", manifest.path().display());
            tracing::error!("{msg}; the record was skipped");
            report.quarantined.push(msg);
        }
        if !mlog.damaged.is_empty() {
            quarantine_copy(&dir, &manifest.path())?;
        }

        // Open every live file; set aside the ones that fail their checks.
        let mut files = Vec::new();
        let mut bad = Vec::new();
        for entry in state.files.values() {
            let path = dir.join(SEGMENTS_DIR).join(&entry.path);
            match Segment::open(&path) {
                Ok(segment) => files.push(Arc::new(LiveFile {
                    entry: entry.clone(),
                    segment,
                })),
                Err(e) => {
                    tracing::error!(error = %e, "segment set aside");
                    report.quarantined.push(e.to_string());
                    if path.exists() {
                        quarantine_move(&dir, &path)?;
                    }
                    bad.push(entry.path.clone());
                }
            }
        }
        if !bad.is_empty() {
            let edit = Edit {
                time_ms: now_ms(),
                reason: "recover".into(),
                remove: bad,
                ..Edit::default()
            };
            manifest.commit(&edit)?;
            state.apply(&edit);
        }
        report.orphans_removed = clean_orphans(&dir, &state.files, !mlog.damaged.is_empty())?;
        report.segments = files.len();

        let head = Arc::new(Head::new(
            opts.head.clone(),
            state.persisted_through.unwrap_or(TimestampMs::MIN),
        ));
        let wal_opts = WalOptions {
            sync: opts.sync,
            segment_bytes: opts.wal_segment_bytes,
            quarantine_dir: Some(dir.join(QUARANTINE_DIR)),
        };
        let mut ids: HashMap<(u64, u32), (Arc<MemSeries>, crate::types::SeriesKind)> =
            HashMap::new();
        let mut samples = 0u64;
        let (wal, wal_report) = Wal::open(&dir.join(WAL_DIR), wal_opts, &mut |file, rec| {
            match rec {
                WalRecord::Series { id, kind, labels } => {
                    let s = head.get_or_create(&labels, false).map_err(|r| {
                        Error::InvalidArgument(format!(
                            "WAL series {labels} cannot be restored: {r}"
                        ))
                    })?;
                    ids.insert((file, id), (s, kind));
                }
                WalRecord::Samples(entries) => {
                    for e in entries {
                        match ids.get(&(file, e.id)) {
                            Some((s, kind)) => {
                                head.replay(s, *kind, &e.timestamps, &e.values);
                                samples += e.timestamps.len() as u64;
                            }
                            None => tracing::warn!(
                                file,
                                id = e.id,
                                "WAL samples for an unknown series id skipped"
                            ),
                        }
                    }
                }
            }
            Ok(())
        })?;
        report.wal_records = wal_report.records;
        report.wal_samples = samples;
        report.head_series = head.series_count();

        let locks = crate::locks::LockStore::open(&dir)?;
        let next_file_id = AtomicU64::new(state.next_file_id.max(1));
        let inner = Arc::new(Inner {
            version: RwLock::new(Arc::new(Version {
                buckets: Arc::new(BucketCache::new(opts.rollup_cache_bytes)),
                ..Version::new(&state, files)
            })),
            opts,
            dir,
            _lock: lock,
            wal,
            head,
            manifest,
            maintenance: Mutex::new(()),
            locks,
            next_file_id,
            pending_truncation: Mutex::new(None),
            counters: Counters::default(),
        });
        let background = if inner.opts.background {
            Some(Background::start(Arc::clone(&inner))?)
        } else {
            None
        };
        tracing::info!(
            dir = %inner.dir.display(),
            segments = report.segments,
            wal_samples = report.wal_samples,
            head_series = report.head_series,
            "engine open"
        );
        Ok(Engine {
            inner,
            background,
            open_report: report,
        })
    }

    /// The manifest record that sealed time `t` as `snap` sees the
    /// manifest (see [`manifest::sealing_record`]); `None` when `t` is
    /// after the snapshot's persisted cut. A snapshot's own head is
    /// `snap.version().head_hash` (record `snap.version().seq`).
    pub fn sealing_record(
        &self,
        snap: &Snapshot,
        t: TimestampMs,
    ) -> Result<Option<(u64, crate::chainlog::Hash)>> {
        let v = snap.version();
        if v.persisted_through.is_none_or(|p| p < t) {
            return Ok(None);
        }
        manifest::sealing_record(&self.inner.dir, t, v.seq)
    }

    pub fn options(&self) -> &EngineOptions {
        &self.inner.opts
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Retention locks: set, lengthen, list (retention reads them).
    pub fn locks(&self) -> &crate::locks::LockStore {
        &self.inner.locks
    }

    /// Stores a batch. Returns once the stored samples are durable under the
    /// sync policy; refused samples are listed in the outcome and never fail
    /// the rest of the batch. An `Err` means nothing in the batch may be
    /// assumed durable.
    pub fn append(&self, batch: &WriteBatch) -> Result<AppendOutcome> {
        let inner = &self.inner;
        let mut out = AppendOutcome::default();
        let res = inner.head.append(batch, &mut out);
        if !res.late.is_empty() {
            inner.resolve_late(res.late, &mut out)?;
        }
        let wal: Vec<WalSeries<'_>> = res
            .stored
            .iter()
            .map(|s| WalSeries {
                id: s.series.id,
                kind: s.kind,
                labels: WalLabels::Encoded(s.series.encoded_labels()),
                timestamps: &s.timestamps,
                values: &s.values,
            })
            .collect();
        if !wal.is_empty() {
            inner.wal.append(&wal)?;
        } else if out.duplicates > 0 {
            // A retry may race the original write's fsync: make sure what it
            // duplicates is durable before calling it done.
            inner.wal.sync()?;
        }
        let c = &inner.counters;
        c.samples_appended
            .fetch_add(out.accepted, Ordering::Relaxed);
        c.samples_duplicate
            .fetch_add(out.duplicates, Ordering::Relaxed);
        c.samples_rejected
            .fetch_add(out.rejected_samples, Ordering::Relaxed);
        Ok(out)
    }

    /// Resolves a label set to its head series once (creating it, within
    /// the limits, when new), for writers that send the same label sets
    /// again and again: batches carrying the handle in
    /// [`SeriesBatch::resolved`](crate::SeriesBatch) skip the label lookup.
    pub fn resolve(&self, labels: &Labels) -> std::result::Result<SeriesRef, RejectReason> {
        self.inner.head.resolve(labels)
    }

    /// A consistent read view.
    pub fn snapshot(&self) -> Snapshot {
        self.inner.snapshot()
    }

    pub fn head(&self) -> &Arc<Head> {
        &self.inner.head
    }

    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    pub fn wal(&self) -> &Wal {
        &self.inner.wal
    }

    /// Writes the head to a segment: everything (`all`), or only what is
    /// older than the out-of-order window rounded down to the block range.
    pub fn flush(&self, all: bool) -> Result<Option<FileEntry>> {
        self.inner.flush(all)
    }

    /// Flushes the head, writes due rollups and merges every window that has
    /// more than one segment (what `nines compact` runs).
    pub fn compact_all(&self) -> Result<crate::compaction::CompactionReport> {
        let inner = &self.inner;
        inner.flush(true)?;
        inner.build_rollups()?;
        let report = inner.compact(true)?;
        inner.apply_retention()?;
        Ok(report)
    }

    /// One round of background maintenance, as the background thread runs it.
    pub fn maintain(&self) -> Result<()> {
        self.inner.maintain()
    }

    /// Stops background work, syncs the WAL and releases the directory.
    pub fn close(self) -> Result<()> {
        let Engine {
            inner, background, ..
        } = self;
        drop(background);
        match Arc::try_unwrap(inner) {
            Ok(inner) => inner.wal.close(),
            // A snapshot outlives the engine: sync what we can; the WAL
            // closes when the last reference goes.
            Err(inner) => inner.wal.sync(),
        }
    }
}

impl Inner {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(Arc::clone(&self.version.read()), Arc::clone(&self.head))
    }

    pub fn segments_dir(&self) -> PathBuf {
        self.dir.join(SEGMENTS_DIR)
    }

    /// A new segment path for a resolution (relative, absolute).
    pub fn new_segment_path(&self, resolution_s: u32) -> Result<(String, PathBuf)> {
        let id = self.next_file_id.fetch_add(1, Ordering::Relaxed);
        let rel = format!("{}/{id:016x}.seg", manifest::resolution_dir(resolution_s));
        let abs = self.segments_dir().join(&rel);
        if let Some(parent) = abs.parent() {
            std::fs::create_dir_all(parent).ctx("create directory", parent)?;
        }
        Ok((rel, abs))
    }

    /// Commits an edit and installs the version it produces; removed files
    /// are deleted afterwards (readers keep their mappings).
    pub fn install(&self, edit: Edit, added: Vec<Arc<LiveFile>>) -> Result<Arc<Version>> {
        let (seq, hash) = self.manifest.commit(&edit)?;
        let mut guard = self.version.write();
        let old = Arc::clone(&guard);
        let next = Arc::new(old.with_edit(seq, hash, added, &edit.remove, &edit));
        *guard = Arc::clone(&next);
        drop(guard);
        for rel in &edit.remove {
            let path = self.segments_dir().join(rel);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "could not delete a removed segment; it will be removed at next open");
            }
        }
        Ok(old)
    }

    /// Samples at or before the cut: a retry of a stored sample is a
    /// duplicate (checked in the head, which keeps flushed samples until
    /// readers are done with them, and in the segments); anything else is
    /// refused.
    fn resolve_late(&self, late: Vec<LateSample>, out: &mut AppendOutcome) -> Result<()> {
        let snap = self.snapshot();
        let cut = self.head.persisted_through();
        let mut scratch = ReadScratch::default();
        let mut i = 0;
        while i < late.len() {
            let series = Arc::clone(&late[i].series);
            let mut j = i;
            while j < late.len() && Arc::ptr_eq(&late[j].series, &series) {
                j += 1;
            }
            let group = &late[i..j];
            let (lo, hi) = group.iter().fold((i64::MAX, i64::MIN), |(lo, hi), s| {
                (lo.min(s.timestamp), hi.max(s.timestamp))
            });
            let mut stored: Vec<(TimestampMs, u64)> = {
                let data = series.data.lock();
                data.ts
                    .iter()
                    .zip(&data.vals)
                    .filter(|(t, _)| (lo..=hi).contains(*t))
                    .map(|(t, v)| (*t, v.to_bits()))
                    .collect()
            };
            let labels = series.labels();
            let matchers: Vec<crate::index::Matcher> = labels
                .iter()
                .map(|l| crate::index::Matcher::equal(l.name.clone(), l.value.clone()))
                .collect();
            for h in snap.select(&matchers, lo, hi)? {
                if *h.labels != labels {
                    continue;
                }
                let (mut ts, mut vs) = (Vec::new(), Vec::new());
                snap.read_samples(&h, lo, hi, &mut scratch, &mut ts, &mut vs)?;
                stored.extend(ts.into_iter().zip(vs.into_iter().map(f64::to_bits)));
            }
            let mut rej = crate::head::Rejections::default();
            for s in group {
                match stored.iter().find(|(t, _)| *t == s.timestamp) {
                    Some((_, bits)) if *bits == s.value.to_bits() => out.duplicates += 1,
                    Some((_, bits)) => rej.add(
                        s.timestamp,
                        RejectReason::Conflict {
                            timestamp: s.timestamp,
                            stored: *bits,
                            new: s.value.to_bits(),
                        },
                    ),
                    None => rej.add(
                        s.timestamp,
                        RejectReason::AlreadyPersisted {
                            timestamp: s.timestamp,
                            persisted_through: cut,
                        },
                    ),
                }
            }
            rej.flush_into(out, &labels);
            i = j;
        }
        Ok(())
    }

    /// Remembers that head samples at or before `cut` may go once no reader
    /// holds `old` (a version without the new segment), and tries now.
    pub fn schedule_truncation(&self, cut: TimestampMs, old: Arc<Version>) {
        let weak = Arc::downgrade(&old);
        drop(old);
        *self.pending_truncation.lock() = Some((cut, weak));
        self.try_truncate(Duration::from_millis(200));
    }

    /// Truncates the head if the readers of the old version are gone,
    /// waiting up to `wait` for them.
    pub fn try_truncate(&self, wait: Duration) {
        let start = Instant::now();
        let mut pending = self.pending_truncation.lock();
        let Some((cut, weak)) = pending.as_ref() else {
            return;
        };
        while weak.strong_count() > 0 {
            if start.elapsed() >= wait {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let cut = *cut;
        *pending = None;
        drop(pending);
        let dropped = self.head.truncate_through(cut, self.opts.idle_series_ms);
        match self.wal.remove_files_through(cut) {
            Ok(n) if n > 0 => tracing::debug!(files = n, cut, "WAL files removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not remove old WAL files"),
        }
        if dropped > 0 {
            tracing::debug!(series = dropped, "idle series dropped from the head");
        }
    }

    pub fn maintain(&self) -> Result<()> {
        self.try_truncate(Duration::ZERO);
        self.flush(false)?;
        self.build_rollups()?;
        self.compact(false)?;
        self.apply_retention()?;
        Ok(())
    }
}

impl Background {
    fn start(inner: Arc<Inner>) -> Result<Background> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("nines-maintenance".into())
            .spawn(move || loop {
                {
                    let (lock, cv) = &*stop2;
                    let mut stopped = lock.lock();
                    if !*stopped {
                        cv.wait_for(&mut stopped, inner.opts.background_interval);
                    }
                    if *stopped {
                        return;
                    }
                }
                if let Err(e) = inner.maintain() {
                    inner
                        .counters
                        .maintenance_errors
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(error = %e, "background maintenance failed; will retry");
                }
            })
            .ctx("start the maintenance thread", "")?;
        Ok(Background {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn acquire_lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .ctx("open lock file", &path)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: dir.to_path_buf(),
            lock: path,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io("lock", &path, e)),
    }
}

fn quarantine_dir(dir: &Path) -> Result<PathBuf> {
    let q = dir.join(QUARANTINE_DIR);
    std::fs::create_dir_all(&q).ctx("create directory", &q)?;
    Ok(q)
}

fn quarantine_name(dir: &Path, path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(quarantine_dir(dir)?.join(format!("{}-{name}", now_ms())))
}

/// Moves a damaged file out of the way (never deletes it).
pub(crate) fn quarantine_move(dir: &Path, path: &Path) -> Result<()> {
    let to = quarantine_name(dir, path)?;
    std::fs::rename(path, &to).ctx("move to quarantine", path)?;
    tracing::warn!(from = %path.display(), to = %to.display(), "file set aside");
    Ok(())
}

fn quarantine_copy(dir: &Path, path: &Path) -> Result<()> {
    let to = quarantine_name(dir, path)?;
    std::fs::copy(path, &to).ctx("copy to quarantine", path)?;
    Ok(())
}

/// Removes files under `segments/` that the manifest does not list: temporary
/// files and segments of a flush or compaction that did not commit, or inputs
/// of one that did. When the manifest itself was damaged, unknown segments
/// are moved to quarantine instead, since one of its lost records may have
/// listed them.
fn clean_orphans(
    dir: &Path,
    live: &std::collections::BTreeMap<String, FileEntry>,
    manifest_damaged: bool,
) -> Result<usize> {
    let root = dir.join(SEGMENTS_DIR);
    let mut n = 0;
    let Ok(resolutions) = std::fs::read_dir(&root) else {
        return Ok(0);
    };
    let live: BTreeSet<&str> = live.keys().map(String::as_str).collect();
    for res in resolutions.flatten() {
        let Ok(files) = std::fs::read_dir(res.path()) else {
            continue;
        };
        for f in files.flatten() {
            let rel = format!(
                "{}/{}",
                res.file_name().to_string_lossy(),
                f.file_name().to_string_lossy()
            );
            if live.contains(rel.as_str()) {
                continue;
            }
            let path = f.path();
            if manifest_damaged && rel.ends_with(".seg") {
                quarantine_move(dir, &path)?;
            } else {
                std::fs::remove_file(&path).ctx("remove orphan file", &path)?;
                tracing::info!(path = %path.display(), "removed a file no manifest record lists (interrupted flush or compaction)");
            }
            n += 1;
        }
    }
    Ok(n)
}
