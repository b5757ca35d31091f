//! The write side: one current file behind a mutex, group commit, rotation,
//! the interval syncer and file removal.
//!
//! Positions are LSNs: record bytes handed to the OS since open, counted
//! across files. `written` grows under the writer lock after a complete write;
//! `synced` is the largest LSN an fdatasync (or a rotation, which syncs the
//! old file) has made durable.
//!
//! Group commit: a writer that needs durability waits until `synced` reaches
//! its LSN. If no sync is in flight it becomes the leader: it takes the
//! current file handle and `written` under the writer lock, releases every
//! lock, fdatasyncs, publishes `synced` and wakes the waiters. Writers that
//! append meanwhile are covered by the next leader, so one fdatasync serves
//! every writer that appended before it started.
//!
//! Lock order: writer → sync → (nothing). The leader holds neither while it
//! syncs; `closed` is taken under the writer lock only by rotation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::file::{file_path, write_all, WalFile, WalStorage};
use super::header::{self, HEADER_LEN};
use super::idset::IdSet;
use super::reader::ClosedFile;
use super::record::{self, EncodedSamples};
use super::{WalSeries, WalStats, FSYNC_BUCKET_BOUNDS_US};
use crate::error::{Error, IoContext, Result};

struct WriterState {
    file: Arc<dyn WalFile>,
    seq: u64,
    path: PathBuf,
    len: u64,
    /// Ids with a `Series` record in the current file.
    series: IdSet,
    max_ts: Option<i64>,
    written: u64,
    /// `Series` records of the batch being written.
    scratch: Vec<u8>,
    new_ids: Vec<u32>,
}

struct SyncState {
    synced: u64,
    leader: bool,
}

#[derive(Default)]
pub(crate) struct Counters {
    appends: AtomicU64,
    records: AtomicU64,
    samples: AtomicU64,
    bytes: AtomicU64,
    fsyncs: AtomicU64,
    fsync_micros: AtomicU64,
    files_created: AtomicU64,
    fsync_hist: [AtomicU64; FSYNC_BUCKET_BOUNDS_US.len() + 1],
}

/// Largest Series-record buffer kept between writes.
const SCRATCH_KEEP: usize = 1 << 20;

pub(crate) struct Shared {
    storage: Arc<dyn WalStorage>,
    dir: PathBuf,
    segment_bytes: u64,
    writer: Mutex<WriterState>,
    sync: Mutex<SyncState>,
    synced_cv: Condvar,
    closed: Mutex<Vec<ClosedFile>>,
    /// The first write or sync error; set once, never cleared.
    failure: OnceLock<String>,
    counters: Counters,
    stop: Mutex<bool>,
    stop_cv: Condvar,
}

impl Shared {
    /// Starts a new file `seq` in `dir`; `closed` are the replayed files.
    pub fn new(
        storage: Arc<dyn WalStorage>,
        dir: &Path,
        segment_bytes: u64,
        closed: Vec<ClosedFile>,
        seq: u64,
    ) -> Result<Shared> {
        let counters = Counters::default();
        let path = file_path(dir, seq);
        let file = create_file(&*storage, dir, &path, seq, &counters)?;
        Ok(Shared {
            storage,
            dir: dir.to_path_buf(),
            segment_bytes,
            writer: Mutex::new(WriterState {
                file,
                seq,
                path,
                len: HEADER_LEN as u64,
                series: IdSet::default(),
                max_ts: None,
                written: 0,
                scratch: Vec::new(),
                new_ids: Vec::new(),
            }),
            sync: Mutex::new(SyncState {
                synced: 0,
                leader: false,
            }),
            synced_cv: Condvar::new(),
            closed: Mutex::new(closed),
            failure: OnceLock::new(),
            counters,
            stop: Mutex::new(false),
            stop_cv: Condvar::new(),
        })
    }

    pub fn check_failed(&self) -> Result<()> {
        match self.failure.get() {
            Some(msg) => Err(Error::WalFailed(msg.clone())),
            None => Ok(()),
        }
    }

    /// Enters the failed state (the first failure's message sticks) and
    /// wakes every waiter so none of them is acknowledged.
    fn fail(&self, msg: String) -> Error {
        tracing::error!(error = %msg, "WAL failed; refusing writes until reopened");
        let _ = self.failure.set(msg);
        drop(self.sync.lock());
        self.synced_cv.notify_all();
        Error::WalFailed(self.failure.get().cloned().unwrap_or_default())
    }

    /// Writes the `Series` records the current file lacks, then the encoded
    /// samples; returns the LSN after them.
    pub fn write(
        &self,
        series: &[WalSeries<'_>],
        samples: &[u8],
        enc: &EncodedSamples,
    ) -> Result<u64> {
        let mut guard = self.writer.lock();
        let w = &mut *guard;
        self.check_failed()?;
        if w.len > HEADER_LEN as u64 && w.len + samples.len() as u64 > self.segment_bytes {
            self.rotate(w)?;
        }
        w.scratch.clear();
        w.new_ids.clear();
        for s in series.iter().filter(|s| !s.timestamps.is_empty()) {
            if !w.series.insert(s.id) {
                continue;
            }
            w.new_ids.push(s.id);
            if let Err(e) = record::encode_series(&mut w.scratch, s.id, s.kind, s.labels) {
                for &id in &w.new_ids {
                    w.series.remove(id);
                }
                return Err(Error::InvalidArgument(e.to_string()));
            }
        }
        for buf in [&w.scratch[..], samples] {
            if let Err(e) = write_all(&*w.file, buf) {
                return Err(self.fail(format!("write {}: {e}", w.path.display())));
            }
        }
        let n = (w.scratch.len() + samples.len()) as u64;
        if w.scratch.capacity() > SCRATCH_KEEP {
            // A burst of new series (a restart, a deploy) should not pin
            // its encoding buffer for the life of the process.
            w.scratch = Vec::new();
        }
        w.len += n;
        w.written += n;
        w.max_ts = w.max_ts.max(enc.max_ts);
        let c = &self.counters;
        c.appends.fetch_add(1, Relaxed);
        c.records
            .fetch_add(enc.records + w.new_ids.len() as u64, Relaxed);
        c.samples.fetch_add(enc.samples, Relaxed);
        c.bytes.fetch_add(n, Relaxed);
        Ok(w.written)
    }

    /// Closes the current file (durably) and starts the next one.
    fn rotate(&self, w: &mut WriterState) -> Result<()> {
        if let Err(e) = timed_sync(&*w.file, &self.counters) {
            let msg = format!("fdatasync {} before rotation: {e}", w.path.display());
            return Err(self.fail(msg));
        }
        let seq = w.seq + 1;
        let path = file_path(&self.dir, seq);
        let file = match create_file(&*self.storage, &self.dir, &path, seq, &self.counters) {
            Ok(f) => f,
            Err(e) => return Err(self.fail(e.to_string())),
        };
        self.closed.lock().push(ClosedFile {
            seq: w.seq,
            path: std::mem::replace(&mut w.path, path),
            max_ts: w.max_ts.take(),
        });
        w.file = file;
        w.seq = seq;
        w.len = HEADER_LEN as u64;
        w.series.clear();
        let mut st = self.sync.lock();
        st.synced = st.synced.max(w.written);
        drop(st);
        self.synced_cv.notify_all();
        Ok(())
    }

    /// Returns once everything up to `lsn` is durable, leading a group
    /// commit if no sync is in flight.
    pub fn wait_durable(&self, lsn: u64) -> Result<()> {
        let mut st = self.sync.lock();
        loop {
            if st.synced >= lsn {
                return Ok(());
            }
            self.check_failed()?;
            if st.leader {
                self.synced_cv.wait(&mut st);
                continue;
            }
            st.leader = true;
            let res = MutexGuard::unlocked(&mut st, || self.sync_current());
            st.leader = false;
            if let Ok(target) = res {
                st.synced = st.synced.max(target);
            }
            self.synced_cv.notify_all();
        }
    }

    /// Makes everything written so far durable; fails on a failed WAL even
    /// when nothing is pending, so `close` and `sync` report the failure.
    pub fn sync_all(&self) -> Result<()> {
        self.check_failed()?;
        let lsn = self.writer.lock().written;
        self.wait_durable(lsn)
    }

    fn sync_current(&self) -> Result<u64> {
        self.check_failed()?;
        let (file, path, target) = {
            let w = self.writer.lock();
            (Arc::clone(&w.file), w.path.clone(), w.written)
        };
        match timed_sync(&*file, &self.counters) {
            Ok(()) => Ok(target),
            Err(e) => Err(self.fail(format!("fdatasync {}: {e}", path.display()))),
        }
    }

    /// The interval syncer's loop; returns when [`Shared::stop`] is called.
    pub fn run_syncer(&self, every: Duration) {
        let mut stop = self.stop.lock();
        while !*stop {
            let deadline = Instant::now() + every;
            while !*stop && Instant::now() < deadline {
                self.stop_cv.wait_until(&mut stop, deadline);
            }
            if *stop || self.failure.get().is_some() {
                continue;
            }
            // Errors put the WAL in the failed state; appends report them.
            let _ = MutexGuard::unlocked(&mut stop, || self.sync_all());
        }
    }

    pub fn stop(&self) {
        *self.stop.lock() = true;
        self.stop_cv.notify_all();
    }

    pub fn remove_files_through(&self, ts: i64) -> Result<usize> {
        {
            // A current file holding only samples at or before the cut is
            // closed first, so that a full flush frees the whole log.
            let mut w = self.writer.lock();
            if w.len > HEADER_LEN as u64 && w.max_ts.is_some_and(|m| m <= ts) {
                self.check_failed()?;
                self.rotate(&mut w)?;
            }
        }
        let mut closed = self.closed.lock();
        let mut removed = 0;
        let mut err = None;
        closed.retain(|f| {
            if err.is_some() || f.max_ts.is_some_and(|m| m > ts) {
                return true;
            }
            match self.storage.remove(&f.path) {
                Ok(()) => {
                    removed += 1;
                    false
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                Err(e) => {
                    err = Some(Error::io("remove WAL file", &f.path, e));
                    true
                }
            }
        });
        drop(closed);
        if let Some(e) = err {
            return Err(e);
        }
        if removed > 0 {
            self.storage
                .sync_dir(&self.dir)
                .ctx("sync WAL directory", &self.dir)?;
        }
        Ok(removed)
    }

    pub fn current_seq(&self) -> u64 {
        self.writer.lock().seq
    }

    pub fn closed_seqs(&self) -> Vec<u64> {
        self.closed.lock().iter().map(|f| f.seq).collect()
    }

    pub fn stats(&self) -> WalStats {
        let c = &self.counters;
        let mut fsync_latency = [0u64; FSYNC_BUCKET_BOUNDS_US.len() + 1];
        for (dst, src) in fsync_latency.iter_mut().zip(&c.fsync_hist) {
            *dst = src.load(Relaxed);
        }
        WalStats {
            appends: c.appends.load(Relaxed),
            records: c.records.load(Relaxed),
            samples: c.samples.load(Relaxed),
            bytes_written: c.bytes.load(Relaxed),
            fsyncs: c.fsyncs.load(Relaxed),
            fsync_micros_total: c.fsync_micros.load(Relaxed),
            fsync_latency,
            files_created: c.files_created.load(Relaxed),
            current_seq: self.current_seq(),
            failed: self.failure.get().is_some(),
        }
    }
}

/// fdatasync, counted and timed into the latency histogram.
fn timed_sync(file: &dyn WalFile, c: &Counters) -> std::io::Result<()> {
    let t = Instant::now();
    file.sync_data()?;
    let us = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
    let bucket = FSYNC_BUCKET_BOUNDS_US
        .iter()
        .position(|&b| us <= b)
        .unwrap_or(FSYNC_BUCKET_BOUNDS_US.len());
    if let Some(h) = c.fsync_hist.get(bucket) {
        h.fetch_add(1, Relaxed);
    }
    c.fsyncs.fetch_add(1, Relaxed);
    c.fsync_micros.fetch_add(us, Relaxed);
    Ok(())
}

/// Creates file `seq` with its header, durably (file and directory entry),
/// so a file that exists after a crash always starts with a whole header.
fn create_file(
    storage: &dyn WalStorage,
    dir: &Path,
    path: &Path,
    seq: u64,
    c: &Counters,
) -> Result<Arc<dyn WalFile>> {
    let file = storage.create_new(path).ctx("create WAL file", path)?;
    write_all(&*file, &header::encode(seq)).ctx("write WAL header", path)?;
    timed_sync(&*file, c).ctx("fdatasync WAL header", path)?;
    storage.sync_dir(dir).ctx("sync WAL directory", dir)?;
    c.files_created.fetch_add(1, Relaxed);
    Ok(file)
}
