//! The write-ahead log: every accepted sample is appended here before
//! `Engine::append` returns, and replayed into the head on open.
//! Byte layout and guarantees: `docs/format/wal.md`.
//!
//! - [`frame`]: `len | crc32 | type | payload` framing, torn-tail detection and
//!   resync, shared with other logs.
//! - [`header`]: the file header (magic, version, seq).
//! - [`record`]: `Series` and `Samples` records and their encodings.
//! - [`file`]: the storage trait and the filesystem implementation;
//!   [`mem`]: an in-memory one with fault injection and crash images.
//! - `reader`: replay and recovery; `writer`: group commit and rotation.
//!
//! Order of use: [`Wal::open`] (replays, then starts a new file) →
//! [`Wal::append`] from any number of threads → [`Wal::remove_files_through`]
//! after a flush → [`Wal::close`].
//!
//! Series ids are file-local: each file declares an id with a `Series` record
//! before its first samples, so every file replays on its own. Replay hands
//! the caller `(file_seq, record)`; the caller maps `(file_seq, id)` to its own
//! series.

pub mod file;
pub mod frame;
pub mod header;
mod idset;
pub mod mem;
mod reader;
pub mod record;
mod writer;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

pub use file::{FsStorage, WalFile, WalStorage};
pub use reader::{verify_file, CorruptRecord, FileCheck, ReplayReport};
pub use record::{WalRecord, WalSamples};

use crate::error::{Error, IoContext, Result};
use crate::types::{Labels, SeriesKind};
use writer::Shared;

/// When an append counts as durable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncPolicy {
    /// `append` returns after an fdatasync that covers the record: survives
    /// power loss. Concurrent appends share one fdatasync (group commit).
    #[default]
    Always,
    /// `append` returns once the bytes are in the OS page cache: survives a
    /// crash of the process, not of the machine; a background thread
    /// fdatasyncs every interval, bounding what power loss can take.
    Interval(Duration),
    /// Like `Interval` without the thread: files are synced only when they
    /// are rotated and on [`Wal::close`].
    Never,
}

#[derive(Clone, Debug)]
pub struct WalOptions {
    /// Default [`SyncPolicy::Always`]: an acknowledged write must survive
    /// kill -9 and power loss; group commit keeps the cost per batch low.
    pub sync: SyncPolicy,
    /// Default 128 MiB: replay reads one file whole at a time, and files are
    /// the unit [`Wal::remove_files_through`] deletes, so smaller means less
    /// memory and earlier cleanup, larger means fewer files and re-emitted
    /// `Series` records.
    pub segment_bytes: u64,
    /// Where damaged files are copied. Default `None`: `<wal dir>/quarantine`;
    /// the engine passes `<data>/quarantine`.
    pub quarantine_dir: Option<PathBuf>,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            sync: SyncPolicy::Always,
            segment_bytes: 128 << 20,
            quarantine_dir: None,
        }
    }
}

impl WalOptions {
    pub fn with_sync(mut self, sync: SyncPolicy) -> Self {
        self.sync = sync;
        self
    }

    pub fn with_segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes;
        self
    }

    pub fn with_quarantine_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.quarantine_dir = Some(dir.into());
        self
    }
}

/// One series' accepted samples for [`Wal::append`]. `id` is the head's id,
/// dense from 0 or 1; the WAL declares it in each file it appears in.
#[derive(Clone, Copy, Debug)]
pub struct WalSeries<'a> {
    pub id: u32,
    pub kind: SeriesKind,
    pub labels: WalLabels<'a>,
    pub timestamps: &'a [i64],
    pub values: &'a [f64],
}

/// A series' labels for its `Series` record (written once per WAL file).
#[derive(Clone, Copy, Debug)]
pub enum WalLabels<'a> {
    /// Sorted by name with unique names and non-empty values (checked).
    Set(&'a Labels),
    /// Already in the record's form: for each label, the uvarint-length-
    /// prefixed name and value, from a label set that was valid (the head's
    /// compact copy).
    Encoded(&'a [u8]),
}

impl<'a> From<&'a Labels> for WalLabels<'a> {
    fn from(l: &'a Labels) -> Self {
        WalLabels::Set(l)
    }
}

/// Upper bounds (µs) of the fdatasync latency buckets in [`WalStats`].
pub const FSYNC_BUCKET_BOUNDS_US: [u64; 12] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
];

/// Counters since open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Appends that wrote something.
    pub appends: u64,
    pub records: u64,
    pub samples: u64,
    /// Record bytes handed to the OS (file headers excluded).
    pub bytes_written: u64,
    pub fsyncs: u64,
    /// Time spent in fdatasync, summed, in microseconds.
    pub fsync_micros_total: u64,
    /// `fsync_latency[i]` counts fdatasyncs that took at most
    /// `FSYNC_BUCKET_BOUNDS_US[i]` µs (and more than the bound before); the
    /// last entry counts the slower ones.
    pub fsync_latency: [u64; FSYNC_BUCKET_BOUNDS_US.len() + 1],
    pub files_created: u64,
    pub current_seq: u64,
    pub failed: bool,
}

/// A thread's encode buffer is dropped after use when it grew past this, so
/// one huge batch does not pin memory.
const KEEP_ENCODE_BUF: usize = 8 << 20;

thread_local! {
    static ENCODE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The write-ahead log. `Send + Sync`: append from many threads through `&Wal`.
pub struct Wal {
    shared: Arc<Shared>,
    sync: SyncPolicy,
    dir: PathBuf,
    syncer: Option<JoinHandle<()>>,
}

impl Wal {
    /// Opens or creates `dir`; replays every file in seq order, calling
    /// `visit` with `(file_seq, record)` for each good record (an error from
    /// `visit` aborts the open); returns the writer positioned on a new file.
    pub fn open(
        dir: &Path,
        opts: WalOptions,
        visit: &mut dyn FnMut(u64, WalRecord) -> Result<()>,
    ) -> Result<(Wal, ReplayReport)> {
        Wal::open_with(Arc::new(FsStorage), dir, opts, visit)
    }

    /// [`Wal::open`] over any storage (tests use [`mem::MemStorage`]).
    pub fn open_with(
        storage: Arc<dyn WalStorage>,
        dir: &Path,
        opts: WalOptions,
        visit: &mut dyn FnMut(u64, WalRecord) -> Result<()>,
    ) -> Result<(Wal, ReplayReport)> {
        if opts.segment_bytes == 0 {
            return Err(Error::InvalidArgument(
                "WAL segment_bytes must be positive".into(),
            ));
        }
        if opts.sync == SyncPolicy::Interval(Duration::ZERO) {
            return Err(Error::InvalidArgument(
                "WAL sync interval must be positive; use SyncPolicy::Always".into(),
            ));
        }
        storage
            .create_dir_all(dir)
            .ctx("create WAL directory", dir)?;
        let quarantine = opts
            .quarantine_dir
            .clone()
            .unwrap_or_else(|| dir.join("quarantine"));
        let replayed = reader::replay(&*storage, dir, &quarantine, visit)?;
        let shared = Arc::new(Shared::new(
            storage,
            dir,
            opts.segment_bytes,
            replayed.files,
            replayed.max_seq + 1,
        )?);
        let syncer = match opts.sync {
            SyncPolicy::Interval(every) => {
                let s = Arc::clone(&shared);
                let h = std::thread::Builder::new()
                    .name("nines-wal-sync".into())
                    .spawn(move || s.run_syncer(every))
                    .ctx("spawn WAL sync thread", dir)?;
                Some(h)
            }
            SyncPolicy::Always | SyncPolicy::Never => None,
        };
        let wal = Wal {
            shared,
            sync: opts.sync,
            dir: dir.to_path_buf(),
            syncer,
        };
        Ok((wal, replayed.report))
    }

    /// Encodes and appends the samples (and the `Series` records the current
    /// file lacks) and returns once durable under the sync policy. Series
    /// without samples are skipped. After any write or sync error this and
    /// every later call returns [`Error::WalFailed`].
    pub fn append(&self, series: &[WalSeries<'_>]) -> Result<()> {
        self.shared.check_failed()?;
        let lsn = ENCODE_BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => self.encode_and_write(&mut buf, series),
            // append never re-enters itself on one thread; stay correct anyway.
            Err(_) => self.encode_and_write(&mut Vec::new(), series),
        })?;
        match (lsn, self.sync) {
            (Some(lsn), SyncPolicy::Always) => self.shared.wait_durable(lsn),
            _ => Ok(()),
        }
    }

    /// Encoding and CRCs happen here, outside the writer lock; the lock is
    /// held only to add `Series` records and copy bytes to the OS.
    fn encode_and_write(&self, buf: &mut Vec<u8>, series: &[WalSeries<'_>]) -> Result<Option<u64>> {
        buf.clear();
        let res = match record::encode_samples(buf, series) {
            Err(e) => Err(Error::InvalidArgument(e.to_string())),
            Ok(enc) if enc.samples == 0 => Ok(None),
            Ok(enc) => self.shared.write(series, buf, &enc).map(Some),
        };
        if buf.capacity() > KEEP_ENCODE_BUF {
            *buf = Vec::new();
        }
        res
    }

    /// Makes everything appended so far durable, whatever the policy.
    pub fn sync(&self) -> Result<()> {
        self.shared.sync_all()
    }

    /// Deletes every closed file whose samples are all at or before `ts`
    /// (files without samples included). The current file is first closed
    /// (rotated) when all of its samples are at or before `ts`.
    /// Returns how many were deleted.
    pub fn remove_files_through(&self, ts: i64) -> Result<usize> {
        self.shared.remove_files_through(ts)
    }

    pub fn stats(&self) -> WalStats {
        self.shared.stats()
    }

    /// The seq of the file being written.
    pub fn current_seq(&self) -> u64 {
        self.shared.current_seq()
    }

    /// Seqs of the closed files still on disk, oldest first.
    pub fn closed_seqs(&self) -> Vec<u64> {
        self.shared.closed_seqs()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the syncer and makes everything appended durable. Dropping a
    /// `Wal` without closing it stops the syncer but does not sync.
    pub fn close(mut self) -> Result<()> {
        self.stop_syncer();
        self.shared.sync_all()
    }

    fn stop_syncer(&mut self) {
        if let Some(h) = self.syncer.take() {
            self.shared.stop();
            let _ = h.join();
        }
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.stop_syncer();
    }
}
