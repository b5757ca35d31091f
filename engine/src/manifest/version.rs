//! A `Version`: the immutable set of live, open segment files at one point of
//! the manifest. Readers hold an `Arc<Version>`; flushes and compactions build
//! a new one and swap it in, so a reader's files never change under it (an
//! unlinked file stays readable through its mapping).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{FileEntry, ManifestState};
use crate::chainlog::Hash;
use crate::read::{BucketCache, LabelInterner};
use crate::segment::Segment;
use crate::types::TimestampMs;

/// An open live file.
pub struct LiveFile {
    pub entry: FileEntry,
    pub segment: Segment,
}

impl LiveFile {
    pub fn min_t(&self) -> TimestampMs {
        self.entry.info.min_t
    }
    pub fn max_t(&self) -> TimestampMs {
        self.entry.info.max_t
    }
    pub fn overlaps(&self, mint: TimestampMs, maxt: TimestampMs) -> bool {
        self.min_t() <= maxt && self.max_t() >= mint
    }
}

#[derive(Clone, Default)]
pub struct Version {
    pub seq: u64,
    pub head_hash: Hash,
    /// Raw segments, sorted by (min time, path).
    pub raw: Vec<Arc<LiveFile>>,
    /// Rollup segments per resolution (seconds), each sorted like `raw`.
    pub rollups: BTreeMap<u32, Vec<Arc<LiveFile>>>,
    /// Raw samples at or before this time are in segments.
    pub persisted_through: Option<TimestampMs>,
    pub rollups_through: BTreeMap<u32, TimestampMs>,
    /// The label sets of every file's series directory; shared by all
    /// versions of one engine.
    pub labels: Arc<LabelInterner>,
    /// Decoded rollup buckets; shared by all versions of one engine.
    pub buckets: Arc<BucketCache>,
}

impl Version {
    /// Builds the version for a replayed manifest state and its opened files.
    pub fn new(state: &ManifestState, files: Vec<Arc<LiveFile>>) -> Version {
        let mut v = Version {
            seq: state.seq,
            head_hash: state.head,
            persisted_through: state.persisted_through,
            rollups_through: state.rollups_through.clone(),
            ..Version::default()
        };
        for f in files {
            v.insert(f);
        }
        v.sort();
        v
    }

    fn insert(&mut self, f: Arc<LiveFile>) {
        match f.entry.info.resolution_s {
            0 => self.raw.push(f),
            r => self.rollups.entry(r).or_default().push(f),
        }
    }

    fn sort(&mut self) {
        let key = |f: &Arc<LiveFile>| (f.min_t(), f.entry.path.clone());
        self.raw.sort_by_key(key);
        for files in self.rollups.values_mut() {
            files.sort_by_key(key);
        }
    }

    /// The version after an edit: `removed` paths dropped, `added` files in.
    pub fn with_edit(
        &self,
        seq: u64,
        head_hash: Hash,
        added: Vec<Arc<LiveFile>>,
        removed: &[String],
        edit: &super::Edit,
    ) -> Version {
        let keep = |f: &Arc<LiveFile>| !removed.contains(&f.entry.path);
        let mut v = Version {
            seq,
            head_hash,
            raw: self.raw.iter().filter(|f| keep(f)).cloned().collect(),
            rollups: self
                .rollups
                .iter()
                .map(|(r, fs)| (*r, fs.iter().filter(|f| keep(f)).cloned().collect()))
                .collect(),
            persisted_through: self.persisted_through,
            rollups_through: self.rollups_through.clone(),
            labels: Arc::clone(&self.labels),
            buckets: Arc::clone(&self.buckets),
        };
        for f in added {
            v.insert(f);
        }
        v.sort();
        if let Some(t) = edit.persisted_through {
            v.persisted_through = Some(v.persisted_through.map_or(t, |p| p.max(t)));
        }
        for (r, t) in &edit.rollups_through {
            let e = v.rollups_through.entry(*r).or_insert(*t);
            *e = (*e).max(*t);
        }
        v
    }

    /// Every live file, raw first.
    pub fn files(&self) -> impl Iterator<Item = &Arc<LiveFile>> {
        self.raw.iter().chain(self.rollups.values().flatten())
    }
}
