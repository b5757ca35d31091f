//! Engine settings. Every default states its reason.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::head::HeadOptions;
use crate::rollup::DEFAULT_RESOLUTIONS;
use crate::wal::SyncPolicy;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// How long each resolution is kept, measured back from the newest sample
/// in the database (as Prometheus does), not from the wall clock, so that
/// imported history is not deleted on arrival.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Raw samples. 30 days: the longest common SLO window plus slack;
    /// older questions are answered from rollups.
    pub raw_ms: Option<i64>,
    /// Per rollup width (seconds). 1 m: 400 days (a year and a quarter of
    /// minute-exact history); 1 h and 1 d: 7 years (audit retention).
    /// `None` keeps forever.
    pub rollups_ms: BTreeMap<u32, Option<i64>>,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw_ms: Some(30 * DAY_MS),
            rollups_ms: [
                (60, Some(400 * DAY_MS)),
                (3_600, Some(7 * 365 * DAY_MS)),
                (86_400, Some(7 * 365 * DAY_MS)),
            ]
            .into(),
        }
    }
}

/// 1 m rollups one day before raw samples expire; never if they do not.
fn default_rollup_delay(r: &Retention) -> BTreeMap<u32, Option<i64>> {
    let delay = r.raw_ms.map(|raw| (raw - DAY_MS).max(0));
    [(60, delay)].into()
}

#[derive(Clone, Debug)]
pub struct EngineOptions {
    pub data_dir: PathBuf,
    /// `Always` by default: an acknowledged write survives a crash.
    pub sync: SyncPolicy,
    /// Size at which a WAL file is closed and a new one started. 128 MiB:
    /// replay reads whole files, and removal after a flush is per file.
    pub wal_segment_bytes: u64,
    pub head: HeadOptions,
    /// The head is cut into segments at multiples of this. 2 hours: small
    /// enough to bound head memory and replay time, large enough that the
    /// first segments compress well.
    pub block_range_ms: i64,
    /// Segments are merged into aligned windows of these lengths, level by
    /// level. 1 day then 7 days: whole days let rollups and retention work
    /// on whole files; a week keeps the file count low over years.
    pub compaction_ranges_ms: Vec<i64>,
    /// Further levels for coarse rollup widths (seconds), after
    /// `compaction_ranges_ms`. 1 d: 91 then 364 days (13 and 52 weeks, so
    /// weeks nest in them). A year of 1 d buckets is then one source per
    /// series instead of 52, which is what long SLO windows and a new SLO's
    /// first answer read; 1 d retention is counted in years, so whole years
    /// are fine to delete at once. 1 h stays weekly: a 91-day source of
    /// 2,184 buckets is a single block, decoded whole for any edge, and
    /// 1,000 of them overflow the bucket cache.
    pub coarse_compaction_ranges_ms: BTreeMap<u32, Vec<i64>>,
    /// Rollup widths in seconds. 1 m, 1 h, 1 d: any window aligned to the
    /// minute is answered from at most a few hundred buckets.
    pub rollup_resolutions_s: Vec<u32>,
    /// How long after the cut each rollup width is written, per width in
    /// seconds; widths not listed are written right away. Default: the 1 m
    /// rollups one day before raw samples leave retention (29 days with the
    /// default 30-day raw retention), and never while raw samples are kept
    /// forever. While raw samples exist they answer everything a 1 m bucket
    /// could, and for 15 s scrapes 1 m rollups cost two thirds of the raw
    /// data; written only as raw ages out, they keep minute-exact history
    /// for a fraction of the space. Retention never deletes raw data before
    /// every width has covered it.
    pub rollup_delay_ms: BTreeMap<u32, Option<i64>>,
    pub retention: Retention,
    /// Run flushes, rollups, compaction and retention on a background
    /// thread. Off for one-shot tools that call them explicitly.
    pub background: bool,
    /// How often the background thread looks for work. 5 s.
    pub background_interval: Duration,
    /// Head series idle this long before the last flush are dropped from
    /// memory. 1 hour: a series that stopped is not kept forever.
    pub idle_series_ms: i64,
    /// Bytes of decoded rollup buckets kept for reuse by queries. 64 MiB:
    /// the 1 h and 1 d buckets of 1,000 counters for about a year; 0 turns
    /// the cache off.
    pub rollup_cache_bytes: usize,
}

impl EngineOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            data_dir: data_dir.into(),
            sync: SyncPolicy::Always,
            wal_segment_bytes: 128 << 20,
            head: HeadOptions::default(),
            block_range_ms: 2 * HOUR_MS,
            compaction_ranges_ms: vec![DAY_MS, 7 * DAY_MS],
            coarse_compaction_ranges_ms: [(86_400, vec![91 * DAY_MS, 364 * DAY_MS])].into(),
            rollup_resolutions_s: DEFAULT_RESOLUTIONS.to_vec(),
            rollup_delay_ms: default_rollup_delay(&Retention::default()),
            retention: Retention::default(),
            background: true,
            background_interval: Duration::from_secs(5),
            idle_series_ms: HOUR_MS,
            rollup_cache_bytes: crate::read::DEFAULT_BUCKET_CACHE_BYTES,
        }
    }

    pub fn sync(mut self, sync: SyncPolicy) -> Self {
        self.sync = sync;
        self
    }

    pub fn rollup_cache_bytes(mut self, bytes: usize) -> Self {
        self.rollup_cache_bytes = bytes;
        self
    }

    pub fn background(mut self, on: bool) -> Self {
        self.background = on;
        self
    }

    pub fn head(mut self, head: HeadOptions) -> Self {
        self.head = head;
        self
    }

    /// Sets retention, and the 1 m rollup delay that follows from it.
    pub fn retention(mut self, r: Retention) -> Self {
        self.rollup_delay_ms = default_rollup_delay(&r);
        self.retention = r;
        self
    }

    /// The newest bucket end a rollup width may be written up to, given the
    /// newest persisted time; `None` when it is not written yet.
    pub fn rollup_horizon(&self, res_s: u32, persisted_through: i64) -> Option<i64> {
        match self.rollup_delay_ms.get(&res_s) {
            None => Some(persisted_through),
            Some(None) => None,
            Some(Some(delay)) => Some(persisted_through.saturating_sub(*delay)),
        }
    }

    /// The compaction windows of files of width `res_s` (0 for raw),
    /// level by level.
    pub fn compaction_ranges(&self, res_s: u32) -> Vec<i64> {
        let mut r = self.compaction_ranges_ms.clone();
        if let Some(extra) = self.coarse_compaction_ranges_ms.get(&res_s) {
            r.extend(extra);
        }
        r
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.block_range_ms <= 0 {
            return Err("block range must be positive".into());
        }
        let mut prev = self.block_range_ms;
        for &r in &self.compaction_ranges_ms {
            if r <= prev || r % prev != 0 {
                return Err(format!(
                    "compaction range {r} ms must be a multiple of the previous level's {prev} ms"
                ));
            }
            prev = r;
        }
        for (res, extra) in &self.coarse_compaction_ranges_ms {
            let mut prev = self
                .compaction_ranges_ms
                .last()
                .copied()
                .unwrap_or(self.block_range_ms);
            for &r in extra {
                if r <= prev || r % prev != 0 {
                    return Err(format!(
                        "compaction range {r} ms of the {res} s rollups must be a multiple of the previous level's {prev} ms"
                    ));
                }
                prev = r;
            }
        }
        for &r in &self.rollup_resolutions_s {
            let w = i64::from(r) * 1000;
            if r == 0 || DAY_MS % w != 0 && w % DAY_MS != 0 {
                return Err(format!(
                    "rollup width {r} s must divide a day or be whole days"
                ));
            }
        }
        if self.head.ooo_window_ms < 0 {
            return Err("out-of-order window must not be negative".into());
        }
        Ok(())
    }
}
