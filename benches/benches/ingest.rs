//! The server's ingest path, phase by phase, on the seeded workload's
//! batches of about 10,000 samples (what `ingest-load` sends): request
//! decoding (prost and the conversion the server did, vs the hand-written
//! decoder, and the decoder with the server's series cache warm), the
//! label-set hash every append computes, and `Engine::append` with the WAL
//! not synced (CPU only), batches in order and with neighbours swapped (what
//! concurrent writers deliver), by labels and by resolved handles (what the
//! series cache hands the engine).
//!
//! `cargo bench -p nines-benches --bench ingest`

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nines_benches::harness::{grpc_body, grpc_compact_body, remote_write_body};
use nines_benches::workload::{Workload, WorkloadConfig};
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, WriteBatch};
use nines_engine::{Label, SeriesBatch, SeriesKind};
use nines_proto::{prometheus as pw, v1};
use nines_server::decode::{
    decode_remote_write_cached, decode_remote_write_fast, decode_write_request_cached,
    decode_write_request_fast,
};
use nines_server::ingest::batch_from_grpc;
use nines_server::series_cache::SeriesCache;
use prost::Message;

const BATCH: usize = 10_000;
const BATCHES: usize = 120;

fn batches() -> Vec<WriteBatch> {
    let config = WorkloadConfig::preset("small")
        .map(|c| c.with_days(1))
        .unwrap_or_else(|| panic!("preset small"));
    let w = Workload::new(config).unwrap_or_else(|e| panic!("workload: {e}"));
    w.batches(BATCH).take(BATCHES).collect()
}

/// What the receiver built from prost's message before the fast decoder.
fn remote_write_batch(req: pw::WriteRequest) -> WriteBatch {
    WriteBatch {
        series: req
            .timeseries
            .into_iter()
            .map(|ts| SeriesBatch {
                labels: Labels::new(
                    ts.labels
                        .into_iter()
                        .map(|l| Label {
                            name: l.name,
                            value: l.value,
                        })
                        .collect(),
                ),
                kind: SeriesKind::Unknown,
                timestamps: ts.samples.iter().map(|s| s.timestamp).collect(),
                values: ts.samples.iter().map(|s| s.value).collect(),
                resolved: None,
            })
            .collect(),
    }
}

/// A snappy body decompressed into a reused buffer, as the receiver does.
fn unsnappy<'a>(body: &[u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
    let n = snap::raw::decompress_len(body).unwrap_or(0);
    buf.resize(n.max(buf.len()), 0);
    let n = snap::raw::Decoder::new()
        .decompress(body, &mut buf[..n])
        .unwrap_or(0);
    &buf[..n]
}

fn decode(c: &mut Criterion) {
    let all = batches();
    let b = &all[BATCHES / 2];
    let samples = b.sample_count() as u64;
    let grpc = grpc_body(b);
    let compact = grpc_compact_body(b);
    let rw = remote_write_body(b);
    let mut g = c.benchmark_group("ingest_decode");
    g.throughput(Throughput::Elements(samples));
    g.bench_function("grpc_prost", |bench| {
        bench.iter(|| {
            let req = v1::WriteRequest::decode(&grpc[..]).unwrap_or_default();
            batch_from_grpc(req, usize::MAX).map(|b| b.series.len())
        })
    });
    g.bench_function("grpc_fast", |bench| {
        bench.iter(|| decode_write_request_fast(&grpc).map(|r| r.series.len()))
    });
    g.bench_function("grpc_compact_fast", |bench| {
        bench.iter(|| decode_write_request_fast(&compact).map(|r| r.series.len()))
    });
    g.bench_function("remote_write_snappy_prost", |bench| {
        bench.iter(|| {
            let raw = snap::raw::Decoder::new()
                .decompress_vec(&rw)
                .unwrap_or_default();
            let req = pw::WriteRequest::decode(&raw[..]).unwrap_or_default();
            remote_write_batch(req).series.len()
        })
    });
    let mut buf = Vec::new();
    g.bench_function("remote_write_snappy_fast", |bench| {
        bench.iter(|| decode_remote_write_fast(unsnappy(&rw, &mut buf)).map(|r| r.series.len()))
    });
    // The series cache warm with every series of the batch (as after the
    // first request of an agent): label bytes hashed and compared only.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let engine = Engine::open(EngineOptions::new(dir.path()).background(false))
        .unwrap_or_else(|e| panic!("open: {e}"));
    let cache = SeriesCache::new(1 << 16);
    let mut first = decode_write_request_cached(&grpc, Some(&cache), usize::MAX)
        .unwrap_or_else(|e| panic!("decode: {e}"));
    cache.remember(&engine, &mut first.batch.series, first.misses);
    let mut first = decode_write_request_cached(&compact, Some(&cache), usize::MAX)
        .unwrap_or_else(|e| panic!("decode: {e}"));
    cache.remember(&engine, &mut first.batch.series, first.misses);
    let mut first = decode_remote_write_cached(unsnappy(&rw, &mut buf), Some(&cache))
        .unwrap_or_else(|e| panic!("decode: {e}"));
    let misses = std::mem::take(&mut first.misses);
    cache.remember(&engine, &mut first.series, misses);
    g.bench_function("grpc_cached", |bench| {
        bench.iter(|| {
            decode_write_request_cached(&grpc, Some(&cache), usize::MAX)
                .map(|r| r.batch.series.len())
        })
    });
    g.bench_function("grpc_compact_cached", |bench| {
        bench.iter(|| {
            decode_write_request_cached(&compact, Some(&cache), usize::MAX)
                .map(|r| r.batch.series.len())
        })
    });
    g.bench_function("remote_write_snappy_cached", |bench| {
        bench.iter(|| {
            decode_remote_write_cached(unsnappy(&rw, &mut buf), Some(&cache))
                .map(|r| r.series.len())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("ingest_labels");
    g.throughput(Throughput::Elements(samples));
    g.bench_function("hash64_per_batch", |bench| {
        bench.iter(|| b.series.iter().fold(0u64, |a, s| a ^ s.labels.hash64()))
    });
    g.finish();
}

/// Appends the batches in `order`, reopening a fresh engine each pass
/// (outside the timed region). `resolved`: each series goes in by a handle
/// resolved beforehand, its labels left empty (outside the timed region).
fn append_pass(all: &[WriteBatch], order: &[usize], iters: u64, resolved: bool) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0u64;
    while done < iters {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut opts = EngineOptions::new(dir.path());
        opts.sync = SyncPolicy::Never;
        opts.background = false;
        let engine = Engine::open(opts).unwrap_or_else(|e| panic!("open: {e}"));
        for &i in order {
            if done == iters {
                break;
            }
            let by_handle;
            let batch = if resolved {
                let mut b = all[i].clone();
                for s in &mut b.series {
                    let labels = std::mem::take(&mut s.labels);
                    s.resolved = engine.resolve(&labels).ok();
                }
                by_handle = b;
                &by_handle
            } else {
                &all[i]
            };
            let t = Instant::now();
            let out = engine.append(batch);
            total += t.elapsed();
            assert!(out.is_ok_and(|o| o.rejected_samples == 0));
            done += 1;
        }
    }
    total
}

fn append(c: &mut Criterion) {
    let all = batches();
    let samples: usize = all.iter().map(|b| b.sample_count()).sum();
    let mut g = c.benchmark_group("ingest_append");
    g.throughput(Throughput::Elements((samples / all.len()) as u64));
    g.sample_size(20);
    let in_order: Vec<usize> = (0..all.len()).collect();
    // Neighbours swapped: every series' samples arrive once late, once early.
    let swapped: Vec<usize> = (0..all.len())
        .map(|i| i ^ 1)
        .filter(|&i| i < all.len())
        .collect();
    for (name, order, resolved) in [
        ("in_order", &in_order, false),
        ("pairs_swapped", &swapped, false),
        ("in_order_resolved", &in_order, true),
        ("pairs_swapped_resolved", &swapped, true),
    ] {
        g.bench_function(name, |bench| {
            bench.iter_custom(|iters| append_pass(&all, order, iters, resolved))
        });
    }
    g.finish();
}

criterion_group!(benches, decode, append);
criterion_main!(benches);
