//! Reads every sample of an existing data directory back through a
//! snapshot, repeatedly, for profiling the read path:
//! `cargo run --release -p nines-benches --example decode_probe -- DIR [PASSES]`

use std::time::Instant;

use nines_engine::read::ReadScratch;
use nines_engine::{Engine, EngineOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: decode_probe DIR [PASSES]")?;
    let passes: usize = args.next().map_or(Ok(10), |p| p.parse())?;
    let engine = Engine::open(EngineOptions::new(&dir).background(false))?;
    let snap = engine.snapshot();
    let all = nines_engine::index::parse_selector("{__name__=~\".+\"}")?;
    let series = snap.select(&all, i64::MIN, i64::MAX)?;
    let mut scratch = ReadScratch::default();
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    for _ in 0..passes {
        let mut n = 0u64;
        let t = Instant::now();
        for h in &series {
            ts.clear();
            vs.clear();
            snap.read_samples(h, i64::MIN, i64::MAX, &mut scratch, &mut ts, &mut vs)?;
            n += ts.len() as u64;
        }
        let el = t.elapsed();
        println!(
            "{n} samples in {:.1} ms: {:.0} M/s",
            el.as_secs_f64() * 1e3,
            n as f64 / el.as_secs_f64() / 1e6
        );
    }
    drop(snap);
    engine.close()?;
    Ok(())
}
