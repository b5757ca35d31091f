//! The manifest: which segment files make up the database, as an append-only,
//! hash-chained log of edits (`MANIFEST`, see [`crate::chainlog`]). Replaying
//! the edits gives the current file set; a commit is atomic because a torn
//! final record is discarded on open. Every sealed file is recorded with its
//! SHA-256, so `verify` can prove that no file changed since it was written.
//!
//! Commit order that makes crashes safe: write and sync the new files, append
//! the edit, then delete the files it removed. A crash before the edit leaves
//! orphans that open deletes; a crash after it leaves removed files that open
//! deletes too.

mod version;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::chainlog::{ChainLog, Entry, Hash, LogReport};
use crate::error::{Error, Result};
use crate::segment::SegmentInfo;
pub use version::{LiveFile, Version};

pub const FILE_NAME: &str = "MANIFEST";
pub const MAGIC: &[u8; 8] = b"NINESMAN";

/// A live segment file as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the segments directory, e.g. `raw/000000000000002a.seg`.
    pub path: String,
    /// Compaction level: 0 for a flush, higher for merged ranges.
    pub level: u8,
    pub info: SegmentInfo,
}

/// One atomic change to the file set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// Wall-clock time of the commit (ms); informational.
    pub time_ms: i64,
    /// Why: `flush`, `compact`, `rollup`, `retention`, `recover`.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<FileEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// Raw samples at or before this time are in segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persisted_through: Option<i64>,
    /// Per rollup resolution (seconds): buckets ending at or before this time
    /// are in rollup segments.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rollups_through: BTreeMap<u32, i64>,
}

/// The file set and watermarks after replaying every edit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManifestState {
    pub files: BTreeMap<String, FileEntry>,
    pub persisted_through: Option<i64>,
    pub rollups_through: BTreeMap<u32, i64>,
    /// One more than the largest file id in any name the log mentions.
    pub next_file_id: u64,
    pub seq: u64,
    pub head: Hash,
}

impl ManifestState {
    pub fn apply(&mut self, edit: &Edit) {
        for path in &edit.remove {
            self.files.remove(path);
        }
        for f in &edit.add {
            if let Some(id) = file_id(&f.path) {
                self.next_file_id = self.next_file_id.max(id + 1);
            }
            self.files.insert(f.path.clone(), f.clone());
        }
        if let Some(t) = edit.persisted_through {
            self.persisted_through = Some(self.persisted_through.map_or(t, |p| p.max(t)));
        }
        for (res, t) in &edit.rollups_through {
            let e = self.rollups_through.entry(*res).or_insert(*t);
            *e = (*e).max(*t);
        }
    }
}

/// The id in a segment file name (`<dir>/<16 hex digits>.seg`).
pub fn file_id(path: &str) -> Option<u64> {
    let name = path.rsplit('/').next()?;
    u64::from_str_radix(name.strip_suffix(".seg")?, 16).ok()
}

/// The directory (under `segments/`) for a resolution: `raw`, `1m`, `1h`,
/// `1d`, or the width in seconds (`90s`).
pub fn resolution_dir(resolution_s: u32) -> String {
    match resolution_s {
        0 => "raw".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

pub struct Manifest {
    log: Mutex<ChainLog>,
}

impl Manifest {
    /// Opens (creating) `dir/MANIFEST` and replays it. A damaged record in the
    /// middle is skipped and reported; the caller decides how to reconcile.
    pub fn open(dir: &Path) -> Result<(Manifest, ManifestState, LogReport)> {
        let (log, entries, report) = ChainLog::open(&dir.join(FILE_NAME), MAGIC)?;
        let mut state = ManifestState::default();
        for e in &entries {
            let edit = decode_edit(log.path(), e)?;
            state.apply(&edit);
            state.seq = e.seq;
        }
        state.head = report.head;
        Ok((
            Manifest {
                log: Mutex::new(log),
            },
            state,
            report,
        ))
    }

    /// Appends an edit durably; returns the new head hash and sequence number.
    pub fn commit(&self, edit: &Edit) -> Result<(u64, Hash)> {
        let body = serde_json::to_vec(edit)
            .map_err(|e| Error::InvalidArgument(format!("cannot encode manifest edit: {e}")))?;
        let e = self.log.lock().append(&body)?;
        Ok((e.seq, e.hash))
    }

    pub fn path(&self) -> PathBuf {
        self.log.lock().path().to_path_buf()
    }
}

/// The record that sealed time `t`: the first record, among those up to
/// `max_seq`, whose edit moved `persisted_through` to `t` or later (from
/// then on the engine refuses every new sample at or before `t`). Reads
/// `dir/MANIFEST` without a lock, as `nines verify` does; `None` while `t`
/// is not sealed. A compliance report anchors its digest with it: the
/// record never changes once written, so the anchor of a sealed report
/// stays the same however far the manifest moves on.
pub fn sealing_record(dir: &Path, t: i64, max_seq: u64) -> Result<Option<(u64, Hash)>> {
    let path = dir.join(FILE_NAME);
    let (entries, _) = ChainLog::verify(&path, MAGIC)?;
    for e in entries.iter().take_while(|e| e.seq <= max_seq) {
        if decode_edit(&path, e)?
            .persisted_through
            .is_some_and(|p| p >= t)
        {
            return Ok(Some((e.seq, e.hash)));
        }
    }
    Ok(None)
}

pub fn decode_edit(path: &Path, e: &Entry) -> Result<Edit> {
    serde_json::from_slice(&e.body).map_err(|err| {
        Error::corrupted(
            path,
            e.offset,
            format!("manifest record {} is not a valid edit: {err}", e.seq),
        )
    })
}

/// SHA-256 digests as lowercase hex in JSON.
pub(crate) mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::chainlog::hex(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not a SHA-256 hex digest: {s:?}")))
    }

    pub fn parse(s: &str) -> Option<[u8; 32]> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, min_t: i64) -> FileEntry {
        FileEntry {
            path: path.into(),
            level: 0,
            info: SegmentInfo {
                file_name: path.rsplit('/').next().unwrap().into(),
                resolution_s: 0,
                min_t,
                max_t: min_t + 10,
                series: 1,
                rows: 2,
                bytes: 3,
                sha256: [7; 32],
            },
        }
    }

    #[test]
    fn edits_replay_into_the_file_set() {
        let dir = tempfile::tempdir().unwrap();
        let (m, state, _) = Manifest::open(dir.path()).unwrap();
        assert_eq!(state, ManifestState::default());
        m.commit(&Edit {
            reason: "flush".into(),
            add: vec![
                entry("raw/0000000000000001.seg", 0),
                entry("raw/0000000000000002.seg", 20),
            ],
            persisted_through: Some(30),
            ..Edit::default()
        })
        .unwrap();
        m.commit(&Edit {
            reason: "compact".into(),
            add: vec![entry("raw/000000000000000a.seg", 0)],
            remove: vec![
                "raw/0000000000000001.seg".into(),
                "raw/0000000000000002.seg".into(),
            ],
            rollups_through: [(60, 25)].into(),
            ..Edit::default()
        })
        .unwrap();
        drop(m);
        let (_, state, report) = Manifest::open(dir.path()).unwrap();
        assert_eq!(
            state.files.keys().collect::<Vec<_>>(),
            vec!["raw/000000000000000a.seg"]
        );
        assert_eq!(state.persisted_through, Some(30));
        assert_eq!(state.rollups_through.get(&60), Some(&25));
        assert_eq!(state.next_file_id, 11);
        assert_eq!(state.seq, 2);
        assert_eq!(report.records, 2);
        // digests are stored as hex
        let text = std::fs::read(dir.path().join(FILE_NAME)).unwrap();
        assert!(String::from_utf8_lossy(&text).contains(&"07".repeat(32)));
    }

    #[test]
    fn names() {
        assert_eq!(resolution_dir(0), "raw");
        assert_eq!(resolution_dir(60), "1m");
        assert_eq!(resolution_dir(3600), "1h");
        assert_eq!(resolution_dir(86_400), "1d");
        assert_eq!(resolution_dir(90), "90s");
        assert_eq!(file_id("1h/00000000000000ff.seg"), Some(255));
        assert_eq!(file_id("x.tmp"), None);
    }
}
