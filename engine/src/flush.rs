//! Flush: the head's samples up to a cut become one raw segment, and the cut
//! (`persisted_through`) moves forward in the same manifest edit.
//!
//! Order: raise the head's cut first (new samples at or below it are now
//! refused or resolved against segments), copy each series under its lock,
//! write and sync the segment, commit the edit, swap the version, and only
//! then drop the copied samples from the head, once no reader of the old
//! version remains. A failure before the commit puts the old cut back.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::engine::{now_ms, Inner};
use crate::error::Result;
use crate::manifest::{Edit, FileEntry, LiveFile};
use crate::rollup::floor_to;
use crate::segment::{Column, ColumnType, Segment, SegmentWriter};
use crate::types::TimestampMs;

impl Inner {
    pub fn flush(&self, all: bool) -> Result<Option<FileEntry>> {
        let _m = self.maintenance.lock();
        let Some(max_t) = self.head.max_time() else {
            return Ok(None);
        };
        let old_cut = self.head.persisted_through();
        let cut = if all {
            max_t
        } else {
            floor_to(
                max_t.saturating_sub(self.opts.head.ooo_window_ms),
                self.opts.block_range_ms,
            )
        };
        if cut <= old_cut {
            return Ok(None);
        }
        self.head.set_persisted_through(cut);
        match self.write_flush(old_cut, cut) {
            Ok(entry) => Ok(entry),
            Err(e) => {
                self.head.set_persisted_through(old_cut);
                Err(e)
            }
        }
    }

    fn write_flush(&self, old_cut: TimestampMs, cut: TimestampMs) -> Result<Option<FileEntry>> {
        let mut series: Vec<_> = self
            .head
            .all_series()
            .into_iter()
            .map(|s| (s.labels(), s))
            .collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let (rel, abs) = self.new_segment_path(0)?;
        let mut w = SegmentWriter::create(&abs, 0, &[ColumnType::I64, ColumnType::F64])?;
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        for (labels, s) in &series {
            ts.clear();
            vs.clear();
            let kind = {
                let d = s.data.lock();
                let r = d.range(old_cut, cut);
                ts.extend_from_slice(&d.ts[r.clone()]);
                vs.extend_from_slice(&d.vals[r]);
                d.kind
            };
            if !ts.is_empty() {
                w.add_series(labels, kind, &[Column::I64(&ts), Column::F64(&vs)])?;
            }
        }
        let mut edit = Edit {
            time_ms: now_ms(),
            reason: "flush".into(),
            persisted_through: Some(cut),
            ..Edit::default()
        };
        let mut added = Vec::new();
        let mut entry = None;
        if w.series_count() > 0 {
            let info = w.finish()?;
            let segment = Segment::open(&abs)?;
            let e = FileEntry {
                path: rel,
                level: 0,
                info,
            };
            edit.add.push(e.clone());
            added.push(Arc::new(LiveFile {
                entry: e.clone(),
                segment,
            }));
            entry = Some(e);
        }
        let old = self.install(edit, added)?;
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = &entry {
            tracing::info!(path = %e.path, series = e.info.series, samples = e.info.rows, bytes = e.info.bytes, cut, "head flushed");
        }
        self.schedule_truncation(cut, old);
        Ok(entry)
    }
}
