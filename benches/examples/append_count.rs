//! Appends 120 write batches of ~10,000 samples of the seeded workload
//! (day 1 of the small preset) to a fresh engine, neighbours swapped (as
//! concurrent writers deliver them) and each series by a handle resolved
//! beforehand (as a write session's numbered series arrive), WAL unsynced:
//! for counting `Engine::append`'s instructions under callgrind.
//!
//! ```text
//! cargo build --release -p nines-benches --example append_count
//! valgrind --tool=callgrind --collect-atstart=no \
//!   --toggle-collect='nines_engine::engine::Engine::append' \
//!   target/release/examples/append_count
//! ```

use nines_benches::workload::{Workload, WorkloadConfig};
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = WorkloadConfig::preset("small")
        .ok_or("preset small")?
        .with_days(1);
    let mut batches: Vec<_> = Workload::new(config)?.batches(10_000).take(120).collect();
    let dir = tempfile::tempdir()?;
    let mut opts = EngineOptions::new(dir.path());
    opts.sync = SyncPolicy::Never;
    opts.background = false;
    let engine = Engine::open(opts)?;
    for b in &mut batches {
        for s in &mut b.series {
            let labels = std::mem::take(&mut s.labels);
            s.resolved = Some(engine.resolve(&labels)?);
        }
    }
    let (mut accepted, mut rejected) = (0, 0);
    for i in (0..batches.len()).map(|i| i ^ 1) {
        if let Some(b) = batches.get(i) {
            let out = engine.append(b)?;
            accepted += out.accepted;
            rejected += out.rejected_samples;
        }
    }
    println!("{accepted} samples stored, {rejected} refused");
    Ok(())
}
