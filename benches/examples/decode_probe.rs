//! Reads every sample of an existing data directory back through a
//! snapshot, repeatedly, for profiling the read path:
//! `cargo run --release -p nines-benches --example decode_probe -- DIR [PASSES]`
//!
//! With `--encodings` instead of PASSES it re-encodes each series' columns
//! in pages of 4,096 rows and prints, per column and encoding, the rows, the
//! bytes and the decode rate: which encodings the read path spends its time
//! in.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nines_benches::readback::ReadBack;
use nines_engine::codec::{self, DecodeScratch, F64Decoder, I64Decoder};
use nines_engine::{Engine, EngineOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: decode_probe DIR [PASSES | --encodings]")?;
    let mode = args.next();
    let engine = Engine::open(EngineOptions::new(&dir).background(false))?;
    let snap = engine.snapshot();
    let mut rb = ReadBack::new(&snap)?;
    if mode.as_deref() == Some("--encodings") {
        let mut tally = Tally::default();
        for i in 0..rb.series().len() {
            let (ts, vs) = rb.read(&snap, i)?;
            tally.add(ts, vs)?;
        }
        tally.print();
    } else {
        let passes: usize = mode.map_or(Ok(10), |p| p.parse())?;
        for _ in 0..passes {
            let (n, el) = rb.pass(&snap)?;
            println!(
                "{n} samples in {:.1} ms: {:.0} M/s",
                el.as_secs_f64() * 1e3,
                n as f64 / el.as_secs_f64() / 1e6
            );
        }
    }
    drop(snap);
    engine.close()?;
    Ok(())
}

/// Rows, bytes and decode time per (column, encoding).
#[derive(Default)]
struct Tally {
    by: BTreeMap<String, (u64, u64, Duration)>,
    scratch: DecodeScratch,
}

impl Tally {
    fn add(&mut self, ts: &[i64], vs: &[f64]) -> Result<(), Box<dyn std::error::Error>> {
        let lens: Vec<usize> = (0..ts.len())
            .step_by(4096)
            .map(|s| (ts.len() - s).min(4096))
            .collect();
        if lens.is_empty() {
            return Ok(());
        }
        let col = codec::encode_i64(ts, &lens)?;
        let dec = I64Decoder::new(&col.meta)?;
        let mut out = vec![0i64; ts.len()];
        let t = Instant::now();
        let mut row = 0;
        for (page, &len) in col.pages.iter().zip(&lens) {
            dec.decode_page(&mut self.scratch, row, page, &mut out[row..row + len])?;
            row += len;
        }
        self.put(
            format!("time  {}", dec.encoding()),
            ts.len(),
            &col,
            t.elapsed(),
        );

        let col = codec::encode_f64(vs, &lens)?;
        let dec = F64Decoder::new(&col.meta)?;
        let mut out = vec![0f64; vs.len()];
        let t = Instant::now();
        let mut row = 0;
        for (page, &len) in col.pages.iter().zip(&lens) {
            dec.decode_page(&mut self.scratch, row, page, &mut out[row..row + len])?;
            row += len;
        }
        let name = match dec.inner_encoding() {
            Some(inner) => format!("value {}/{}", dec.encoding(), inner.name()),
            None => format!("value {}", dec.encoding()),
        };
        self.put(name, vs.len(), &col, t.elapsed());
        Ok(())
    }

    fn put(&mut self, name: String, rows: usize, col: &codec::EncodedColumn, el: Duration) {
        let e = self.by.entry(name).or_default();
        e.0 += rows as u64;
        e.1 += col.encoded_len() as u64;
        e.2 += el;
    }

    fn print(&self) {
        let total: Duration = self.by.values().map(|e| e.2).sum();
        println!(
            "{:<28} {:>12} {:>10} {:>8} {:>10} {:>7}",
            "column encoding", "rows", "bytes", "B/row", "M rows/s", "time %"
        );
        for (name, &(rows, bytes, el)) in &self.by {
            println!(
                "{name:<28} {rows:>12} {bytes:>10} {:>8.3} {:>10.0} {:>6.1}%",
                bytes as f64 / rows as f64,
                rows as f64 / el.as_secs_f64() / 1e6,
                el.as_secs_f64() / total.as_secs_f64() * 100.0
            );
        }
    }
}
