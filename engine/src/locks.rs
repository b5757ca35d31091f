//! Retention locks (`DATA/meta/locks.log`, docs/format/locks-log.md): a
//! floor under one resolution's retention that holds until a date. While a
//! lock is in force, retention keeps every file of that resolution younger
//! than the lock's `keep` (whatever `storage.raw_retention` or the rollup
//! retentions say), and the lock can only be lengthened: a longer `keep`,
//! a later `until`, never less of either, and it cannot be removed before
//! `until`. Compaction only ever replaces files by files holding the same
//! samples, so only retention deletes data, and retention reads the locks.
//!
//! The log is a hash-chained [`ChainLog`] (magic `NINESLCK`): each record
//! is the whole lock of one resolution as set at that time, so the newest
//! record per resolution is the lock and the rest is its history.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::chainlog::{ChainLog, Hash};
use crate::error::{Error, Result};
use crate::types::TimestampMs;

pub const MAGIC: &[u8; 8] = b"NINESLCK";
const FILE_NAME: &str = "locks.log";

/// One resolution's lock as set by one change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionLock {
    /// The resolution in seconds: 0 for raw samples, 60, 3600, 86400 for
    /// rollups.
    pub resolution_s: u32,
    /// Files of this resolution younger than this (measured back from the
    /// newest sample, as retention measures) are kept.
    pub keep_ms: i64,
    /// The lock holds until this time (ms since the epoch, the server's
    /// clock); after it, it may be removed or shortened.
    pub until_ms: TimestampMs,
    /// When it was set, by whom and why.
    pub at: TimestampMs,
    pub author: String,
    pub reason: String,
    /// `false`: this record removes the (expired) lock.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

impl RetentionLock {
    /// Whether it binds at `now`.
    pub fn in_force(&self, now: TimestampMs) -> bool {
        self.active && now < self.until_ms
    }
}

/// Why a lock change was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LockRefused {
    #[error("the {res} lock keeps {current_keep} until {current_until}; a lock in force can only be lengthened, and {what}")]
    WouldShorten {
        res: String,
        current_keep: String,
        current_until: String,
        what: String,
    },
    #[error("the {res} lock is in force until {until}; it cannot be removed before then")]
    InForce { res: String, until: String },
    #[error("no {res} lock to remove")]
    NoLock { res: String },
    #[error("invalid lock: {0}")]
    Invalid(String),
}

/// The resolution's name: `raw`, `1m`, `1h`, `1d`, or seconds.
pub fn resolution_name(res_s: u32) -> String {
    match res_s {
        0 => "raw".into(),
        60 => "1m".into(),
        3_600 => "1h".into(),
        86_400 => "1d".into(),
        s => format!("{s}s"),
    }
}

/// `raw`, `1m`, `1h`, `1d` (or seconds) to seconds.
pub fn parse_resolution(s: &str) -> Option<u32> {
    match s {
        "raw" => Some(0),
        "1m" => Some(60),
        "1h" => Some(3_600),
        "1d" => Some(86_400),
        other => other.strip_suffix('s').unwrap_or(other).parse().ok(),
    }
}

fn days(ms: i64) -> String {
    if ms % 86_400_000 == 0 {
        format!("{}d", ms / 86_400_000)
    } else {
        format!("{ms}ms")
    }
}

fn time(ms: TimestampMs) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

struct Inner {
    log: ChainLog,
    /// The newest record per resolution.
    current: BTreeMap<u32, RetentionLock>,
    history: Vec<RetentionLock>,
}

/// The locks of one data directory.
pub struct LockStore {
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for LockStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What [`LockStore::check`] found.
#[derive(Clone, Debug, Default)]
pub struct LockCheck {
    pub records: u64,
    pub head: Hash,
    pub torn_tail_at: Option<u64>,
    pub problems: Vec<(u64, String)>,
}

impl LockStore {
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("meta").join(FILE_NAME)
    }

    /// Reads and checks the log without changing it (`nines verify`).
    pub fn check(path: &Path) -> Result<LockCheck> {
        let (entries, report) = ChainLog::verify(path, MAGIC)?;
        let mut problems = report.damaged.clone();
        problems.extend(report.broken_link.clone());
        for e in &entries {
            if let Err(err) = serde_json::from_slice::<RetentionLock>(&e.body) {
                problems.push((
                    e.offset,
                    format!("lock record {} is not a lock: {err}", e.seq),
                ));
            }
        }
        problems.sort();
        Ok(LockCheck {
            records: report.records,
            head: report.head,
            torn_tail_at: report.torn_tail_at,
            problems,
        })
    }

    /// Opens (creating) the log. Damage is an error: retention must not run
    /// on a partial list of locks.
    pub fn open(data_dir: &Path) -> Result<LockStore> {
        let path = Self::path_in(data_dir);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
        }
        let (log, entries, report) = ChainLog::open(&path, MAGIC)?;
        if let Some((offset, rule)) = report.damaged.first().or(report.broken_link.as_ref()) {
            return Err(Error::corrupted(&path, *offset, rule.clone()));
        }
        let mut current = BTreeMap::new();
        let mut history = Vec::new();
        for e in &entries {
            let l: RetentionLock = serde_json::from_slice(&e.body).map_err(|err| {
                Error::corrupted(&path, e.offset, format!("not a lock record: {err}"))
            })?;
            current.insert(l.resolution_s, l.clone());
            history.push(l);
        }
        Ok(LockStore {
            path,
            inner: Mutex::new(Inner {
                log,
                current,
                history,
            }),
        })
    }

    /// Every lock as last set (removed ones included, `active: false`).
    pub fn list(&self) -> Vec<RetentionLock> {
        self.inner.lock().current.values().cloned().collect()
    }

    /// Every change, oldest first.
    pub fn history(&self) -> Vec<RetentionLock> {
        self.inner.lock().history.clone()
    }

    /// The longest `keep` in force at `now` per resolution.
    pub fn floors(&self, now: TimestampMs) -> BTreeMap<u32, i64> {
        self.inner
            .lock()
            .current
            .values()
            .filter(|l| l.in_force(now))
            .map(|l| (l.resolution_s, l.keep_ms))
            .collect()
    }

    /// Sets or lengthens the lock of `new.resolution_s` (durable when this
    /// returns). Returns the previous lock in force, if any.
    pub fn set(
        &self,
        new: RetentionLock,
        now: TimestampMs,
    ) -> std::result::Result<Option<RetentionLock>, SetError> {
        if new.keep_ms <= 0 {
            return Err(LockRefused::Invalid("keep must be longer than zero".into()).into());
        }
        if new.until_ms <= now {
            return Err(LockRefused::Invalid(format!(
                "until ({}) must be in the future",
                time(new.until_ms)
            ))
            .into());
        }
        if new.reason.trim().is_empty() || new.author.trim().is_empty() {
            return Err(LockRefused::Invalid("a lock needs an author and a reason".into()).into());
        }
        let mut inner = self.inner.lock();
        let prev = inner
            .current
            .get(&new.resolution_s)
            .filter(|l| l.in_force(now))
            .cloned();
        if let Some(p) = &prev {
            let mut shorter = Vec::new();
            if new.keep_ms < p.keep_ms {
                shorter.push(format!("keep {} is shorter", days(new.keep_ms)));
            }
            if new.until_ms < p.until_ms {
                shorter.push(format!("until {} is earlier", time(new.until_ms)));
            }
            if !shorter.is_empty() {
                return Err(LockRefused::WouldShorten {
                    res: resolution_name(p.resolution_s),
                    current_keep: days(p.keep_ms),
                    current_until: time(p.until_ms),
                    what: shorter.join(" and "),
                }
                .into());
            }
        }
        let lock = RetentionLock {
            active: true,
            ..new
        };
        append(&mut inner, lock)?;
        Ok(prev)
    }

    /// Removes an expired lock (a record saying so); one in force is
    /// refused.
    pub fn remove(
        &self,
        resolution_s: u32,
        author: &str,
        reason: &str,
        now: TimestampMs,
    ) -> std::result::Result<RetentionLock, SetError> {
        let mut inner = self.inner.lock();
        let res = resolution_name(resolution_s);
        let Some(cur) = inner
            .current
            .get(&resolution_s)
            .filter(|l| l.active)
            .cloned()
        else {
            return Err(LockRefused::NoLock { res }.into());
        };
        if cur.in_force(now) {
            return Err(LockRefused::InForce {
                res,
                until: time(cur.until_ms),
            }
            .into());
        }
        let rec = RetentionLock {
            at: now,
            author: author.to_string(),
            reason: reason.to_string(),
            active: false,
            ..cur
        };
        append(&mut inner, rec.clone())?;
        Ok(rec)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn append(inner: &mut Inner, lock: RetentionLock) -> Result<()> {
    let body = serde_json::to_vec(&lock)
        .map_err(|e| Error::InvalidArgument(format!("cannot encode a lock: {e}")))?;
    inner.log.append(&body)?;
    inner.current.insert(lock.resolution_s, lock.clone());
    inner.history.push(lock);
    Ok(())
}

/// A refused change, or the log failing.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error(transparent)]
    Refused(#[from] LockRefused),
    #[error(transparent)]
    Storage(#[from] Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const YEAR: i64 = 365 * DAY;

    fn lock(res: u32, keep: i64, until: i64) -> RetentionLock {
        RetentionLock {
            resolution_s: res,
            keep_ms: keep,
            until_ms: until,
            at: 0,
            author: "ops".into(),
            reason: "SOX".into(),
            active: true,
        }
    }

    #[test]
    fn locks_only_lengthen_and_outlive_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_000 * DAY;
        let s = LockStore::open(dir.path()).unwrap();
        assert_eq!(s.set(lock(3600, 7 * YEAR, now + YEAR), now).unwrap(), None);
        // shorter keep, earlier until: refused, naming what
        let e = s.set(lock(3600, 6 * YEAR, now + YEAR), now).unwrap_err();
        assert!(e.to_string().contains("keep 2190d is shorter"), "{e}");
        let e = s.set(lock(3600, 7 * YEAR, now + 10), now).unwrap_err();
        assert!(e.to_string().contains("is earlier"), "{e}");
        let e = s.remove(3600, "ops", "done", now).unwrap_err();
        assert!(e.to_string().contains("cannot be removed before"), "{e}");
        // longer: fine
        let prev = s.set(lock(3600, 8 * YEAR, now + 2 * YEAR), now).unwrap();
        assert_eq!(prev.unwrap().keep_ms, 7 * YEAR);
        assert_eq!(s.floors(now), [(3600, 8 * YEAR)].into());
        drop(s);
        let s = LockStore::open(dir.path()).unwrap();
        assert_eq!(s.floors(now), [(3600, 8 * YEAR)].into());
        assert_eq!(s.history().len(), 2);
        // once expired it binds nothing and may be removed or set anew
        let later = now + 3 * YEAR;
        assert!(s.floors(later).is_empty());
        s.set(lock(3600, YEAR, later + DAY), later).unwrap();
        s.remove(0, "ops", "x", later).unwrap_err();
        let c = LockStore::check(&LockStore::path_in(dir.path())).unwrap();
        assert!(c.problems.is_empty());
        assert_eq!(c.records, 3);
    }
}
