//! Retention: whole segment files older than each resolution's retention are
//! deleted, measured back from the newest sample in the database. A raw file
//! is only deleted once every rollup width has been written past its end, so
//! no counter history is lost when raw samples go.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::engine::{now_ms, Inner};
use crate::error::Result;
use crate::manifest::{Edit, LiveFile};
use crate::types::TimestampMs;

impl Inner {
    /// Deletes expired files; returns how many.
    pub fn apply_retention(&self) -> Result<usize> {
        let _m = self.maintenance.lock();
        let version = Arc::clone(&self.version.read());
        let newest = [version.persisted_through, self.head.max_time()]
            .into_iter()
            .flatten()
            .max();
        let Some(newest) = newest else {
            return Ok(0);
        };
        let rolled_up_through = self
            .opts
            .rollup_resolutions_s
            .iter()
            .map(|r| {
                version
                    .rollups_through
                    .get(r)
                    .copied()
                    .unwrap_or(TimestampMs::MIN)
            })
            .min()
            .unwrap_or(TimestampMs::MAX);
        let expired =
            |files: &[Arc<LiveFile>], keep_ms: Option<i64>, also: TimestampMs| -> Vec<String> {
                let Some(keep) = keep_ms else {
                    return Vec::new();
                };
                let horizon = newest.saturating_sub(keep);
                files
                    .iter()
                    .filter(|f| f.max_t() <= horizon && f.max_t() <= also)
                    .map(|f| f.entry.path.clone())
                    .collect()
            };
        // A lock in force is a floor under the configured retention (which
        // may be shorter: a lock outlives configuration changes).
        let floors = self.locks.floors(now_ms());
        let keep = |res: u32, configured: Option<i64>| -> Option<i64> {
            match (configured, floors.get(&res)) {
                (Some(c), Some(&f)) => Some(c.max(f)),
                (c, _) => c,
            }
        };
        let mut remove = expired(
            &version.raw,
            keep(0, self.opts.retention.raw_ms),
            rolled_up_through,
        );
        for (res, files) in &version.rollups {
            let configured = self.opts.retention.rollups_ms.get(res).copied().flatten();
            remove.extend(expired(files, keep(*res, configured), TimestampMs::MAX));
        }
        if remove.is_empty() {
            return Ok(0);
        }
        let n = remove.len();
        tracing::info!(files = n, newest, "retention removes expired segments");
        self.install(
            Edit {
                time_ms: now_ms(),
                reason: "retention".into(),
                remove,
                ..Edit::default()
            },
            Vec::new(),
        )?;
        self.counters
            .retention_deletions
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
