//! WAL append throughput for batches of 1,000 series x 10 samples under each
//! sync policy, encode/decode cost per sample, and the disk's raw fdatasync
//! latency (the floor under `SyncPolicy::Always`).
//!
//! `cargo bench -p nines-benches --bench wal -- --warm-up-time 1 --measurement-time 3`
//! Files go to a temporary directory under `$TMPDIR` (default /tmp): point it
//! at the disk you want measured.

use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nines_engine::wal::{frame, record, SyncPolicy, Wal, WalOptions, WalSeries};
use nines_engine::{Labels, SeriesKind};

const SERIES: usize = 1_000;
const SAMPLES: usize = 10;
const PER_BATCH: u64 = (SERIES * SAMPLES) as u64;

/// A scrape-like batch: counters at 15 s intervals with a little jitter,
/// integer values, from 2026-01-05.
struct Batch {
    labels: Vec<Labels>,
    ts: Vec<Vec<i64>>,
    vals: Vec<Vec<f64>>,
}

impl Batch {
    fn new() -> Batch {
        let t0 = 1_767_571_200_000i64;
        let labels = (0..SERIES)
            .map(|i| {
                Labels::from_pairs(&[
                    ("__name__", "http_requests_total"),
                    ("code", ["200", "404", "500"][i % 3]),
                    ("job", "api"),
                    ("pod", &format!("api-7d9f-{i:04}")),
                ])
            })
            .collect();
        let ts = (0..SERIES)
            .map(|i| {
                (0..SAMPLES as i64)
                    .map(|j| t0 + j * 15_000 + ((i as i64 * 7 + j * 13) % 5))
                    .collect()
            })
            .collect();
        let vals = (0..SERIES)
            .map(|i| {
                (0..SAMPLES)
                    .map(|j| (i * 1000 + j * (i % 17)) as f64)
                    .collect()
            })
            .collect();
        Batch { labels, ts, vals }
    }

    fn series(&self) -> Vec<WalSeries<'_>> {
        (0..SERIES)
            .map(|i| WalSeries {
                id: i as u32,
                kind: SeriesKind::Counter,
                labels: (&self.labels[i]).into(),
                timestamps: &self.ts[i],
                values: &self.vals[i],
            })
            .collect()
    }
}

fn open(dir: &std::path::Path, sync: SyncPolicy) -> Wal {
    let opts = WalOptions::default().with_sync(sync);
    match Wal::open(dir, opts, &mut |_, _| Ok(())) {
        Ok((wal, _)) => wal,
        Err(e) => panic!("open WAL in {}: {e}", dir.display()),
    }
}

fn codec(c: &mut Criterion) {
    let batch = Batch::new();
    let series = batch.series();
    let mut g = c.benchmark_group("wal_codec");
    g.throughput(Throughput::Elements(PER_BATCH));
    let mut buf = Vec::new();
    g.bench_function("encode_1000x10", |b| {
        b.iter(|| {
            buf.clear();
            black_box(record::encode_samples(&mut buf, black_box(&series)).ok());
        })
    });
    buf.clear();
    let _ = record::encode_samples(&mut buf, &series);
    println!(
        "wal record bytes per sample: {:.2}",
        buf.len() as f64 / PER_BATCH as f64
    );
    g.bench_function("decode_1000x10", |b| {
        b.iter(|| {
            let mut at = 0;
            while let Ok(f) = frame::parse_at(&buf, at) {
                black_box(record::decode(f.ty, f.payload).ok());
                at = f.end;
            }
        })
    });
    g.finish();
}

fn append(c: &mut Criterion) {
    let batch = Batch::new();
    let series = batch.series();
    let mut g = c.benchmark_group("wal_append_1000x10");
    g.throughput(Throughput::Elements(PER_BATCH));
    for (name, sync) in [
        ("never", SyncPolicy::Never),
        (
            "interval_100ms",
            SyncPolicy::Interval(Duration::from_millis(100)),
        ),
    ] {
        let tmp = tempfile::tempdir().expect("temp dir");
        let wal = open(tmp.path(), sync);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                for _ in 0..iters {
                    wal.append(&series).expect("append");
                }
                let took = t.elapsed();
                // Keep the disk from filling: closed files are not needed.
                let _ = wal.remove_files_through(i64::MAX);
                took
            })
        });
        println!("{name}: {:?}", wal.stats());
    }

    g.sample_size(10);
    for writers in [1u64, 4] {
        let tmp = tempfile::tempdir().expect("temp dir");
        let wal = open(tmp.path(), SyncPolicy::Always);
        g.throughput(Throughput::Elements(PER_BATCH * writers));
        g.bench_function(BenchmarkId::new("always_writers", writers), |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..writers {
                        s.spawn(|| {
                            for _ in 0..iters {
                                wal.append(&series).expect("append");
                            }
                        });
                    }
                });
                let took = t.elapsed();
                let _ = wal.remove_files_through(i64::MAX);
                took
            })
        });
        let st = wal.stats();
        println!(
            "always x{writers}: {} appends, {} fsyncs ({:.2} appends per fsync), latency buckets {:?}",
            st.appends,
            st.fsyncs,
            st.appends as f64 / st.fsyncs.max(1) as f64,
            st.fsync_latency
        );
    }
    g.finish();
}

/// Raw disk latency: append `size` bytes and fdatasync, as a WAL commit does.
fn fdatasync(c: &mut Criterion) {
    let mut g = c.benchmark_group("fdatasync");
    g.sample_size(10);
    for size in [4usize << 10, 128 << 10] {
        let tmp = tempfile::tempdir().expect("temp dir");
        let mut f = File::create(tmp.path().join("sync")).expect("create");
        let data = vec![0xA5u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::new("append_then_fdatasync", size), |b| {
            b.iter(|| {
                f.write_all(&data).expect("write");
                f.sync_data().expect("fdatasync");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, codec, append, fdatasync);
criterion_main!(benches);
