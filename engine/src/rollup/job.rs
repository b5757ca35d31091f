//! Writing rollups: after the persisted cut moves, every rollup width whose
//! next whole bucket is now final (and due: see
//! `EngineOptions::rollup_delay_ms`) gets a rollup segment for the buckets
//! between its watermark and the cut, computed from the raw segments in one
//! pass over the series.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{build_buckets, floor_to, BucketColumns, Counting, COLUMNS};
use crate::engine::{now_ms, Inner};
use crate::error::Result;
use crate::manifest::{Edit, FileEntry, LiveFile};
use crate::read::{ReadScratch, Snapshot};
use crate::segment::{Segment, SegmentWriter};
use crate::types::TimestampMs;

struct Job {
    res_s: u32,
    width_ms: i64,
    /// Buckets ending in `(after, through]` are written.
    after: TimestampMs,
    through: TimestampMs,
    writer: Option<(String, std::path::PathBuf, SegmentWriter)>,
}

impl Inner {
    /// Writes every rollup bucket that became final since the last call.
    /// Returns the number of rollup files written.
    pub fn build_rollups(&self) -> Result<usize> {
        let _m = self.maintenance.lock();
        let version = Arc::clone(&self.version.read());
        let Some(cut) = version.persisted_through else {
            return Ok(0);
        };
        let mut jobs: Vec<Job> = self
            .opts
            .rollup_resolutions_s
            .iter()
            .filter_map(|&res_s| {
                let width_ms = i64::from(res_s) * 1000;
                let through = floor_to(self.opts.rollup_horizon(res_s, cut)?, width_ms);
                let after = version
                    .rollups_through
                    .get(&res_s)
                    .copied()
                    .unwrap_or(TimestampMs::MIN);
                (through > after).then_some(Job {
                    res_s,
                    width_ms,
                    after,
                    through,
                    writer: None,
                })
            })
            .collect();
        if jobs.is_empty() {
            return Ok(0);
        }
        let lo = jobs
            .iter()
            .map(|j| j.after)
            .min()
            .unwrap_or(TimestampMs::MIN);
        let hi = jobs
            .iter()
            .map(|j| j.through)
            .max()
            .unwrap_or(TimestampMs::MIN);
        // Only segment data is read: everything at or before the cut is there.
        let snap = Snapshot::new(Arc::clone(&version), Arc::clone(&self.head));
        let mut scratch = ReadScratch::default();
        let (mut ts, mut vs, mut buckets) = (Vec::new(), Vec::new(), Vec::new());
        for h in snap.select(&[], lo.saturating_add(1), hi)? {
            if !h.kind.has_rollups(h.labels.metric_name()) {
                continue;
            }
            ts.clear();
            vs.clear();
            snap.read_samples(&h, lo.saturating_add(1), hi, &mut scratch, &mut ts, &mut vs)?;
            let counting = Counting::of(h.kind);
            for job in &mut jobs {
                let a = ts.partition_point(|&t| t <= job.after);
                let b = ts.partition_point(|&t| t <= job.through);
                buckets.clear();
                build_buckets(counting, job.width_ms, &ts[a..b], &vs[a..b], &mut buckets);
                if buckets.is_empty() {
                    continue;
                }
                if job.writer.is_none() {
                    let (rel, abs) = self.new_segment_path(job.res_s)?;
                    let w = SegmentWriter::create(&abs, job.res_s, &COLUMNS)?;
                    job.writer = Some((rel, abs, w));
                }
                if let Some((_, _, w)) = &mut job.writer {
                    let cols = BucketColumns::from_buckets(job.width_ms, &buckets);
                    w.add_series(&h.labels, h.kind, &cols.columns())?;
                }
            }
        }
        let mut edit = Edit {
            time_ms: now_ms(),
            reason: "rollup".into(),
            ..Edit::default()
        };
        let mut added = Vec::new();
        for job in jobs {
            edit.rollups_through.insert(job.res_s, job.through);
            if let Some((rel, abs, w)) = job.writer {
                let info = w.finish()?;
                let segment = Segment::open(&abs)?;
                let entry = FileEntry {
                    path: rel,
                    level: 0,
                    info,
                };
                edit.add.push(entry.clone());
                added.push(Arc::new(LiveFile { entry, segment }));
            }
        }
        let n = added.len();
        self.install(edit, added)?;
        self.counters
            .rollup_files
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
