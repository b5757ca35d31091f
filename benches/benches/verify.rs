//! `nines verify` throughput (the audit issue's target: >= 1 GB/s of
//! stored data): the engine issue's storage benchmark data (the seeded SLI
//! workload, loaded and compacted as `benches/src/bin/storage.rs` does),
//! then `verify_dir` over it: the manifest chain, every file's SHA-256 and
//! CRCs, the WAL. The files are in the page cache after the first pass, so
//! this is the check's own speed, not the disk's.
//!
//! `cargo bench -p nines-benches --bench verify` (`NINES_VERIFY_PRESET`,
//! `NINES_VERIFY_DAYS` pick the data; default small, 7 days).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nines_benches::workload::{Workload, WorkloadConfig};
use nines_engine::verify::{verify_dir, VerifyOptions};
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions};

fn load(dir: &std::path::Path) {
    let preset = std::env::var("NINES_VERIFY_PRESET").unwrap_or_else(|_| "small".into());
    let days: i64 = std::env::var("NINES_VERIFY_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(7);
    let config = WorkloadConfig::preset(&preset)
        .expect("preset small or medium")
        .with_days(days);
    let workload = Workload::new(config).expect("workload");
    let engine = Engine::open(
        EngineOptions::new(dir)
            .background(false)
            .sync(SyncPolicy::Never),
    )
    .expect("engine");
    for (i, b) in workload.batches(100_000).enumerate() {
        engine.append(&b).expect("append");
        if i % 20 == 0 {
            engine.maintain().expect("maintain");
        }
    }
    engine.compact_all().expect("compact");
    engine.close().expect("close");
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    load(&dir);
    let first = verify_dir(&dir, VerifyOptions { decode: false }, &mut |_, _| {}).expect("verify");
    assert!(first.ok(), "{:?}", first.problems);
    eprintln!(
        "verify: {} files, {} bytes",
        first.files_checked, first.bytes_checked
    );
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Bytes(first.bytes_checked));
    g.sample_size(20);
    g.bench_function("verify_dir", |b| {
        b.iter(|| {
            let r =
                verify_dir(&dir, VerifyOptions { decode: false }, &mut |_, _| {}).expect("verify");
            assert!(r.ok());
            r.bytes_checked
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
