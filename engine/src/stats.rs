//! Storage statistics for `nines inspect` and `/metrics`: series, samples,
//! files and bytes, per resolution.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::Serialize;

use crate::engine::{Engine, WAL_DIR};
use crate::error::Result;
use crate::manifest::resolution_dir;
use crate::types::{Labels, TimestampMs};

#[derive(Clone, Debug, Default, Serialize)]
pub struct ResolutionStats {
    /// `raw`, `1m`, `1h`, `1d`.
    pub resolution: String,
    pub files: u64,
    /// Samples (raw) or buckets (rollups) stored.
    pub rows: u64,
    pub bytes: u64,
    pub bytes_per_row: f64,
    pub min_time: Option<TimestampMs>,
    pub max_time: Option<TimestampMs>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct StorageStats {
    /// Distinct series across segments and the head.
    pub series: u64,
    /// Raw samples: in segments plus in the head.
    pub samples: u64,
    /// Every file in the data directory.
    pub bytes_on_disk: u64,
    /// `bytes_on_disk / samples`: what a sample costs with everything kept
    /// for it (rollups, WAL, index) included.
    pub bytes_per_sample: f64,
    /// Raw segment bytes per raw segment sample: the compression figure.
    pub raw_segment_bytes_per_sample: f64,
    pub segments: u64,
    pub resolutions: Vec<ResolutionStats>,
    pub head_series: u64,
    pub head_samples: u64,
    pub wal_bytes: u64,
    pub persisted_through: Option<TimestampMs>,
    pub min_time: Option<TimestampMs>,
    pub max_time: Option<TimestampMs>,
    pub manifest_seq: u64,
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map(|m| m.len()).unwrap_or(0),
        })
        .sum()
}

fn widen(range: &mut (Option<TimestampMs>, Option<TimestampMs>), lo: TimestampMs, hi: TimestampMs) {
    range.0 = Some(range.0.map_or(lo, |x| x.min(lo)));
    range.1 = Some(range.1.map_or(hi, |x| x.max(hi)));
}

impl Engine {
    /// Counts everything; reads every segment's series table (not its data).
    pub fn stats(&self) -> Result<StorageStats> {
        let snap = self.snapshot();
        let v = snap.version();
        let head = self.head().stats();
        let mut series: HashSet<Labels> = HashSet::new();
        for s in self.head().select(&[]) {
            series.insert(s.labels());
        }
        let mut per: BTreeMap<u32, ResolutionStats> = BTreeMap::new();
        let mut ranges: BTreeMap<u32, (Option<TimestampMs>, Option<TimestampMs>)> = BTreeMap::new();
        let mut all = (head.min_t, head.max_t);
        for f in v.files() {
            let info = &f.entry.info;
            let r = per
                .entry(info.resolution_s)
                .or_insert_with(|| ResolutionStats {
                    resolution: resolution_dir(info.resolution_s),
                    ..ResolutionStats::default()
                });
            r.files += 1;
            r.rows += info.rows;
            r.bytes += info.bytes;
            widen(
                ranges.entry(info.resolution_s).or_default(),
                info.min_t,
                info.max_t,
            );
            if info.resolution_s == 0 {
                widen(&mut all, info.min_t, info.max_t);
            }
            for ord in 0..f.segment.series_count() {
                series.insert(f.segment.series(ord)?.labels);
            }
        }
        let mut resolutions: Vec<ResolutionStats> = per
            .into_iter()
            .map(|(res, mut r)| {
                r.bytes_per_row = if r.rows > 0 {
                    r.bytes as f64 / r.rows as f64
                } else {
                    0.0
                };
                let range = ranges.get(&res).copied().unwrap_or_default();
                r.min_time = range.0;
                r.max_time = range.1;
                r
            })
            .collect();
        resolutions.sort_by_key(|r| r.resolution != "raw");
        let raw = resolutions
            .iter()
            .find(|r| r.resolution == "raw")
            .cloned()
            .unwrap_or_default();
        let samples = raw.rows + head.samples;
        let bytes_on_disk = dir_bytes(self.data_dir());
        Ok(StorageStats {
            series: series.len() as u64,
            samples,
            bytes_on_disk,
            bytes_per_sample: if samples > 0 {
                bytes_on_disk as f64 / samples as f64
            } else {
                0.0
            },
            raw_segment_bytes_per_sample: raw.bytes_per_row,
            segments: v.files().count() as u64,
            resolutions,
            head_series: head.series as u64,
            head_samples: head.samples,
            wal_bytes: dir_bytes(&self.data_dir().join(WAL_DIR)),
            persisted_through: v.persisted_through,
            min_time: all.0,
            max_time: all.1,
            manifest_seq: v.seq,
        })
    }
}
