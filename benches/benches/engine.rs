//! Engine kernels: in-process append throughput (batches of 1,000 series x
//! 10 samples, sync=interval) and per-series head memory.
//!
//! `cargo bench -p nines-benches --bench engine`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, SeriesBatch, SeriesKind, WriteBatch};

const SERIES: usize = 1_000;
const PER_SERIES: usize = 10;

fn labels(i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", "http_requests_total"),
        ("service", &format!("svc-{}", i % 20)),
        ("endpoint", &format!("/api/v1/item/{}", i % 50)),
        ("code", ["200", "404", "500"][i % 3]),
        ("pod", &format!("svc-{}-7d9f8c6b5-{:05}", i % 20, i)),
        ("namespace", "prod"),
    ])
}

/// The batch for round `round`: every series, 10 samples 15 s apart.
fn batch(all: &[Labels], round: i64) -> WriteBatch {
    let t0 = 1_767_571_200_000 + round * PER_SERIES as i64 * 15_000;
    let ts: Vec<i64> = (0..PER_SERIES as i64).map(|k| t0 + k * 15_000).collect();
    WriteBatch {
        series: all
            .iter()
            .enumerate()
            .map(|(i, l)| SeriesBatch {
                labels: l.clone(),
                kind: SeriesKind::Counter,
                timestamps: ts.clone(),
                values: ts
                    .iter()
                    .map(|t| ((t / 15_000) as usize * (i % 7 + 1)) as f64)
                    .collect(),
                resolved: None,
            })
            .collect(),
    }
}

fn append(c: &mut Criterion) {
    let all: Vec<Labels> = (0..SERIES).map(labels).collect();
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements((SERIES * PER_SERIES) as u64));
    g.sample_size(30);
    for (name, sync) in [
        (
            "interval_100ms",
            SyncPolicy::Interval(Duration::from_millis(100)),
        ),
        ("never", SyncPolicy::Never),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let engine =
            Engine::open(EngineOptions::new(dir.path()).background(false).sync(sync)).unwrap();
        let mut round = 0i64;
        g.bench_function(format!("1000x10_{name}"), |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let wb = batch(&all, round);
                    round += 1;
                    let t = Instant::now();
                    let out = engine.append(&wb).unwrap();
                    spent += t.elapsed();
                    assert_eq!(out.accepted, (SERIES * PER_SERIES) as u64);
                    if round % 200 == 0 {
                        engine.flush(false).unwrap();
                    }
                }
                spent
            })
        });
    }
    g.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
