//! Compaction merges the segments that fall in one aligned time window into a
//! single segment of the next level: flush segments (level 0) into days,
//! days into weeks (`EngineOptions::compaction_ranges_ms`), for raw and rollup
//! files alike, and 1 d rollups further into quarters and years
//! (`coarse_compaction_ranges_ms`). Larger segments compress better (one
//! chunk per series) and keep the file count low over years.
//!
//! A window is `(k*range - range, k*range]`, the same openness as rollup
//! buckets, so a flush block or a rollup file always falls in exactly one.
//! In the background only windows wholly at or before the persisted cut are
//! merged (nothing more will arrive for them); `nines compact` merges every
//! window with more than one file. Each merge is its own manifest edit taken
//! under the maintenance lock, so writes and reads never wait for it: readers
//! keep the version they started with.

mod merge;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::engine::{now_ms, Inner};
use crate::error::Result;
use crate::manifest::{Edit, FileEntry, LiveFile, Version};
use crate::rollup::bucket_end;
use crate::segment::{Segment, SegmentWriter};
use crate::types::TimestampMs;

/// What a compaction run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    pub merges: usize,
    pub input_files: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// One merge to do.
struct Job {
    resolution_s: u32,
    level: u8,
    inputs: Vec<Arc<LiveFile>>,
}

impl Inner {
    pub fn compact(&self, force: bool) -> Result<CompactionReport> {
        let mut report = CompactionReport::default();
        loop {
            let _m = self.maintenance.lock();
            let version = Arc::clone(&self.version.read());
            let Some(job) = plan(&version, |res| self.opts.compaction_ranges(res), force) else {
                return Ok(report);
            };
            let before: u64 = job.inputs.iter().map(|f| f.entry.info.bytes).sum();
            let (rel, abs) = self.new_segment_path(job.resolution_s)?;
            let columns = job.inputs[0].segment.footer().columns.clone();
            let mut w = SegmentWriter::create(&abs, job.resolution_s, &columns)?;
            merge::merge(&job.inputs, &mut w)?;
            let info = w.finish()?;
            let segment = Segment::open(&abs)?;
            let entry = FileEntry {
                path: rel,
                level: job.level,
                info,
            };
            report.merges += 1;
            report.input_files += job.inputs.len();
            report.bytes_before += before;
            report.bytes_after += entry.info.bytes;
            tracing::info!(
                output = %entry.path, level = job.level, inputs = job.inputs.len(),
                bytes_before = before, bytes_after = entry.info.bytes, "segments merged"
            );
            let edit = Edit {
                time_ms: now_ms(),
                reason: "compact".into(),
                add: vec![entry.clone()],
                remove: job.inputs.iter().map(|f| f.entry.path.clone()).collect(),
                ..Edit::default()
            };
            self.install(edit, vec![Arc::new(LiveFile { entry, segment })])?;
            self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The first window, finest level first, that has more than one file to
/// merge. Level `i + 1` gathers the files of lower levels that fit in a
/// window of `ranges[i]` (and the level-`i + 1` file already there).
fn plan(version: &Version, ranges: impl Fn(u32) -> Vec<i64>, force: bool) -> Option<Job> {
    // (resolution, its files, the time through which nothing more arrives,
    // its levels' windows)
    type Group<'a> = (u32, &'a [Arc<LiveFile>], Option<TimestampMs>, Vec<i64>);
    let mut groups: Vec<Group<'_>> =
        vec![(0, &version.raw[..], version.persisted_through, ranges(0))];
    for (res, files) in &version.rollups {
        groups.push((
            *res,
            &files[..],
            version.rollups_through.get(res).copied(),
            ranges(*res),
        ));
    }
    let levels = groups.iter().map(|g| g.3.len()).max().unwrap_or(0);
    for i in 0..levels {
        let level = (i + 1) as u8;
        for (resolution_s, files, done_through, group_ranges) in &groups {
            let (resolution_s, done_through) = (*resolution_s, *done_through);
            let Some(&range) = group_ranges.get(i) else {
                continue;
            };
            let mut windows: std::collections::BTreeMap<TimestampMs, Vec<Arc<LiveFile>>> =
                Default::default();
            for f in files.iter().filter(|f| f.entry.level <= level) {
                let w = bucket_end(f.min_t(), range);
                if bucket_end(f.max_t(), range) == w {
                    windows.entry(w).or_default().push(Arc::clone(f));
                }
            }
            for (end, inputs) in windows {
                let complete = done_through.is_some_and(|t| end <= t);
                if inputs.len() > 1 && (force || complete) {
                    return Some(Job {
                        resolution_s,
                        level,
                        inputs,
                    });
                }
            }
        }
    }
    None
}
