//! Replay and recovery: reads every WAL file in seq order and hands each good
//! record to the caller.
//!
//! Rules, in the order they apply to a file:
//! - A header with a version newer than this build is [`Error::UnknownVersion`]:
//!   nothing is replayed, so nothing is lost by a downgrade.
//! - The last file with an incomplete or all-zero header was being created
//!   at a crash; nothing in it was acknowledged, so it is removed.
//! - Damage at the end of the last file (incomplete record, or a bad length
//!   or CRC with no valid record after it) is a torn write: the file is
//!   truncated there, durably, before anything new is written.
//! - Any other damage is corruption: reported with path, offset and the
//!   failed check, the file copied to the quarantine directory (once), and
//!   replay continues at the next offset where length and CRC validate.
//! - Sample entries whose id has no `Series` record earlier in the same file
//!   (its declaration was damaged) are dropped and counted.
//!
//! Each file is read whole (at most `segment_bytes` plus one batch); decoding
//! allocates at most in proportion to the record being decoded.

use std::fmt;
use std::path::{Path, PathBuf};

use super::file::{file_path, parse_file_name, WalStorage};
use super::frame::{ScanEvent, Scanner};
use super::header::{self, HeaderError, HEADER_LEN, VERSION};
use super::idset::IdSet;
use super::record::{self, RecordType, WalRecord};
use crate::error::{Error, IoContext, Result};

/// A damaged record (or file header) found during replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptRecord {
    pub path: PathBuf,
    pub offset: u64,
    /// The check that failed.
    pub rule: String,
}

impl fmt::Display for CorruptRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at byte offset {}: {}",
            self.path.display(),
            self.offset,
            self.rule
        )
    }
}

/// What replay found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// WAL files read (including damaged ones, excluding a removed torn one).
    pub files: usize,
    /// Good records decoded.
    pub records: u64,
    /// Samples handed to the caller.
    pub samples: u64,
    /// The torn write that was cut off: (file, offset it was truncated to).
    pub torn_tail: Option<(PathBuf, u64)>,
    pub corrupt: Vec<CorruptRecord>,
    /// Copies of damaged files made in the quarantine directory.
    pub quarantined: Vec<PathBuf>,
    /// Samples dropped because their series' declaration was damaged.
    pub orphan_samples: u64,
}

impl ReplayReport {
    /// True when replay found no damage at all (a cut torn tail is normal
    /// after a crash and does not count).
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.orphan_samples == 0
    }
}

/// A file that replay kept, as the writer's list of closed files needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClosedFile {
    pub seq: u64,
    pub path: PathBuf,
    /// Largest sample timestamp in the file; `None` when it has no samples.
    pub max_ts: Option<i64>,
}

pub(crate) struct Replayed {
    pub files: Vec<ClosedFile>,
    /// Highest seq seen, including files that were removed.
    pub max_seq: u64,
    pub report: ReplayReport,
}

pub(crate) type Visit<'a> = dyn FnMut(u64, WalRecord) -> Result<()> + 'a;

struct Replayer<'a> {
    storage: &'a dyn WalStorage,
    quarantine_dir: &'a Path,
    report: ReplayReport,
}

/// Replays every WAL file in `dir`.
pub(crate) fn replay(
    storage: &dyn WalStorage,
    dir: &Path,
    quarantine_dir: &Path,
    visit: &mut Visit<'_>,
) -> Result<Replayed> {
    let mut seqs: Vec<u64> = storage
        .list(dir)
        .ctx("list WAL directory", dir)?
        .iter()
        .filter_map(|n| parse_file_name(n))
        .collect();
    seqs.sort_unstable();
    let mut r = Replayer {
        storage,
        quarantine_dir,
        report: ReplayReport::default(),
    };
    let mut files = Vec::with_capacity(seqs.len());
    for (i, &seq) in seqs.iter().enumerate() {
        let is_last = i + 1 == seqs.len();
        if let Some(f) = r.file(seq, file_path(dir, seq), is_last, visit)? {
            files.push(f);
        }
    }
    Ok(Replayed {
        files,
        max_seq: seqs.last().copied().unwrap_or(0),
        report: r.report,
    })
}

impl Replayer<'_> {
    fn file(
        &mut self,
        seq: u64,
        path: PathBuf,
        is_last: bool,
        visit: &mut Visit<'_>,
    ) -> Result<Option<ClosedFile>> {
        let bytes = self.storage.read(&path).ctx("read WAL file", &path)?;
        let mut quarantined = false;
        let header_ok = match header::decode(&bytes) {
            Ok(s) if s == seq => true,
            Ok(s) => {
                let rule = format!("header says seq {s}, the file name says {seq}");
                self.corrupt(&path, 0, rule, &mut quarantined)?;
                false
            }
            Err(HeaderError::UnknownVersion(v)) if v > VERSION => {
                return Err(Error::UnknownVersion {
                    path,
                    found: u32::from(v),
                    supported: u32::from(VERSION),
                })
            }
            Err(e)
                if is_last
                    && (matches!(e, HeaderError::Short { .. })
                        || bytes.iter().all(|&b| b == 0)) =>
            {
                tracing::warn!(
                    path = %path.display(), len = bytes.len(), rule = %e,
                    "removing WAL file whose creation a crash interrupted"
                );
                self.storage
                    .remove(&path)
                    .ctx("remove torn WAL file", &path)?;
                self.report.torn_tail = Some((path, 0));
                return Ok(None);
            }
            Err(e) => {
                self.corrupt(&path, 0, e.to_string(), &mut quarantined)?;
                false
            }
        };
        self.report.files += 1;
        let mut max_ts = None;
        if header_ok {
            max_ts = self.records(seq, &path, &bytes, is_last, &mut quarantined, visit)?;
        }
        Ok(Some(ClosedFile { seq, path, max_ts }))
    }

    fn records(
        &mut self,
        seq: u64,
        path: &Path,
        bytes: &[u8],
        is_last: bool,
        quarantined: &mut bool,
        visit: &mut Visit<'_>,
    ) -> Result<Option<i64>> {
        let mut declared = IdSet::default();
        let mut max_ts: Option<i64> = None;
        let mut orphans = 0u64;
        let known = |t: u8| RecordType::try_from(t).is_ok();
        for ev in Scanner::new(bytes, HEADER_LEN, known) {
            match ev {
                ScanEvent::Record(f) => match record::decode(f.ty, f.payload) {
                    Err(e) => self.corrupt(path, f.offset as u64, e.to_string(), quarantined)?,
                    Ok(rec @ WalRecord::Series { .. }) => {
                        if let WalRecord::Series { id, .. } = rec {
                            declared.insert(id);
                        }
                        self.report.records += 1;
                        visit(seq, rec)?;
                    }
                    Ok(WalRecord::Samples(mut entries)) => {
                        self.report.records += 1;
                        entries.retain(|e| {
                            let known = declared.contains(e.id);
                            if !known {
                                orphans += e.timestamps.len() as u64;
                            }
                            known
                        });
                        if entries.is_empty() {
                            continue;
                        }
                        for e in &entries {
                            self.report.samples += e.timestamps.len() as u64;
                            let m = e.timestamps.iter().copied().max();
                            max_ts = max_ts.max(m);
                        }
                        visit(seq, WalRecord::Samples(entries))?;
                    }
                },
                ScanEvent::Corrupt { offset, error, .. } => {
                    self.corrupt(path, offset as u64, error.to_string(), quarantined)?;
                }
                ScanEvent::Tail { offset, error } if is_last => {
                    tracing::warn!(
                        path = %path.display(), offset, rule = %error,
                        "truncating torn write at the end of the WAL"
                    );
                    self.storage
                        .truncate(path, offset as u64)
                        .ctx("truncate torn WAL tail", path)?;
                    self.report.torn_tail = Some((path.to_path_buf(), offset as u64));
                }
                ScanEvent::Tail { offset, error } => {
                    let rule = format!("{error}, and no valid record follows in this closed file");
                    self.corrupt(path, offset as u64, rule, quarantined)?;
                }
            }
        }
        if orphans > 0 {
            tracing::warn!(
                path = %path.display(), samples = orphans,
                "dropped WAL samples whose series record was damaged"
            );
            self.report.orphan_samples += orphans;
        }
        Ok(max_ts)
    }

    /// Reports damage and copies the file to quarantine the first time.
    fn corrupt(&mut self, path: &Path, offset: u64, rule: String, done: &mut bool) -> Result<()> {
        tracing::warn!(path = %path.display(), offset, rule = %rule, "corrupt WAL record");
        self.report.corrupt.push(CorruptRecord {
            path: path.to_path_buf(),
            offset,
            rule,
        });
        if *done {
            return Ok(());
        }
        *done = true;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let to = self
            .quarantine_dir
            .join(format!("wal-{}", name.unwrap_or_default()));
        self.storage
            .create_dir_all(self.quarantine_dir)
            .ctx("create quarantine directory", self.quarantine_dir)?;
        self.storage
            .copy(path, &to)
            .ctx("copy damaged WAL file to quarantine", &to)?;
        tracing::warn!(from = %path.display(), to = %to.display(), "quarantined damaged WAL file");
        self.report.quarantined.push(to);
        Ok(())
    }
}

/// What [`verify_file`] found in one WAL file, without changing it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileCheck {
    /// Damaged records (or header): offset and the check that failed.
    pub damaged: Vec<(u64, String)>,
    /// Where the readable records end with nothing valid after: a torn write
    /// in the newest file, damage in any other.
    pub torn_tail_at: Option<u64>,
    pub records: u64,
}

/// Checks a WAL file's header and every record's CRC and encoding, read-only
/// (what `nines verify` runs).
pub fn verify_file(path: &Path) -> Result<FileCheck> {
    let bytes = std::fs::read(path).ctx("read WAL file", path)?;
    let mut check = FileCheck::default();
    match header::decode(&bytes) {
        Ok(_) => {}
        Err(HeaderError::UnknownVersion(v)) if v > VERSION => {
            return Err(Error::UnknownVersion {
                path: path.to_path_buf(),
                found: u32::from(v),
                supported: u32::from(VERSION),
            })
        }
        Err(e) => {
            check.damaged.push((0, e.to_string()));
            return Ok(check);
        }
    }
    let known = |t: u8| RecordType::try_from(t).is_ok();
    for ev in Scanner::new(&bytes, HEADER_LEN, known) {
        match ev {
            ScanEvent::Record(f) => match record::decode(f.ty, f.payload) {
                Ok(_) => check.records += 1,
                Err(e) => check.damaged.push((f.offset as u64, e.to_string())),
            },
            ScanEvent::Corrupt { offset, error, .. } => {
                check.damaged.push((offset as u64, error.to_string()))
            }
            ScanEvent::Tail { offset, .. } => check.torn_tail_at = Some(offset as u64),
        }
    }
    Ok(check)
}
