//! Reading a whole data directory back through a snapshot: the full read
//! path the block-decode target is measured on (`storage`, and the
//! `decode_probe` example that profiles it).

use std::time::{Duration, Instant};

use nines_engine::read::{ReadScratch, SeriesHandle, Snapshot};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Every series of a snapshot over all time, and buffers kept warm across
/// passes.
pub struct ReadBack {
    series: Vec<SeriesHandle>,
    scratch: ReadScratch,
    ts: Vec<i64>,
    vs: Vec<f64>,
}

impl ReadBack {
    pub fn new(snap: &Snapshot) -> Result<ReadBack> {
        let all = nines_engine::index::parse_selector("{__name__=~\".+\"}")?;
        Ok(ReadBack {
            series: snap.select(&all, i64::MIN, i64::MAX)?,
            scratch: ReadScratch::default(),
            ts: Vec::new(),
            vs: Vec::new(),
        })
    }

    pub fn series(&self) -> &[SeriesHandle] {
        &self.series
    }

    /// Reads every sample once on this thread; the number of samples and
    /// the time taken.
    pub fn pass(&mut self, snap: &Snapshot) -> Result<(u64, Duration)> {
        let mut n = 0u64;
        let t = Instant::now();
        for i in 0..self.series.len() {
            n += self.read(snap, i)?.0.len() as u64;
        }
        let el = t.elapsed();
        std::hint::black_box(&self.vs);
        Ok((n, el))
    }

    /// The samples of one series over all time, into the kept buffers.
    pub fn read(&mut self, snap: &Snapshot, i: usize) -> Result<(&[i64], &[f64])> {
        self.ts.clear();
        self.vs.clear();
        snap.read_samples(
            &self.series[i],
            i64::MIN,
            i64::MAX,
            &mut self.scratch,
            &mut self.ts,
            &mut self.vs,
        )?;
        Ok((&self.ts, &self.vs))
    }
}
