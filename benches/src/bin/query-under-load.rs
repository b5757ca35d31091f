//! Dashboard query latency while ingest runs: starts `nines serve` (durable
//! `sync=always`, raw retention off so the workload's past days stay),
//! loads the first part of the seeded SLI workload at full speed, then
//! pushes the rest over gRPC at a fixed rate (`--rate`, default 5 M
//! samples/s: half the 10 M/s ingest target) while another client fires
//! dashboard instant queries back to back at the newest ingested time, and
//! reports their latency percentiles. Requests are encoded before timing.
//!
//! ```sh
//! cargo build --release && cargo run -p nines-benches --release --bin query-under-load -- \
//!     --nines target/release/nines --preset small --days 7
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use nines_benches::harness::{cpu_seconds, grpc_body, start_nines, PreEncoded};
use nines_benches::workload::{Workload, WorkloadConfig};
use nines_proto::v1;

#[derive(Parser)]
#[command(about = "Dashboard instant query latency while nines ingests at a fixed rate")]
struct Args {
    /// The nines binary to start.
    #[arg(long, default_value = "target/release/nines")]
    nines: PathBuf,
    #[arg(long, default_value = "small")]
    preset: String,
    #[arg(long, default_value_t = 7)]
    days: i64,
    /// Samples per write request.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Ingest rate during the measurement, samples/s.
    #[arg(long, default_value_t = 5_000_000.0)]
    rate: f64,
    /// Share of the workload loaded at full speed before measuring.
    #[arg(long, default_value_t = 0.25)]
    preload: f64,
    /// Concurrent write connections.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
}

/// Dashboard panels over the workload's series: traffic, error ratio over
/// 1 h, p99 latency, and the availability SLI over a day.
const QUERIES: [(&str, &str); 4] = [
    (
        "rate by service",
        "sum by (service) (rate(http_requests_total[5m]))",
    ),
    (
        "error ratio 1h",
        "sum by (service) (rate(http_requests_total{code=~\"5..\"}[1h])) / sum by (service) (rate(http_requests_total[1h]))",
    ),
    (
        "p99 latency",
        "histogram_quantile(0.99, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))",
    ),
    (
        "availability 1d",
        "1 - sum(increase(http_requests_total{code=~\"5..\"}[1d])) / sum(increase(http_requests_total[1d]))",
    ),
];

/// Requests encoded before timing, with their sample counts and newest
/// timestamps.
struct Encoded {
    bodies: Vec<bytes::Bytes>,
    samples: Vec<u64>,
    newest_ms: Vec<i64>,
}

fn encode(workload: &Workload, batch: usize) -> Encoded {
    let mut e = Encoded {
        bodies: Vec::new(),
        samples: Vec::new(),
        newest_ms: Vec::new(),
    };
    for b in workload.batches(batch) {
        e.samples.push(b.sample_count() as u64);
        let newest = b
            .series
            .iter()
            .filter_map(|s| s.timestamps.last().copied())
            .max()
            .unwrap_or(i64::MIN);
        e.newest_ms.push(newest);
        e.bodies.push(grpc_body(&b).into());
    }
    e
}

async fn write(channel: &tonic::transport::Channel, body: bytes::Bytes, samples: u64) {
    let mut client = tonic::client::Grpc::new(channel.clone()).max_encoding_message_size(64 << 20);
    client.ready().await.expect("ready");
    let codec = tonic_prost::ProstCodec::<PreEncoded, v1::WriteResponse>::default();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/nines.v1.Ingest/Write");
    let r = client
        .unary(tonic::Request::new(PreEncoded(body)), path, codec)
        .await
        .expect("write")
        .into_inner();
    assert_eq!(
        r.accepted + r.duplicates,
        samples,
        "{:?}",
        r.rejected.first()
    );
}

/// Sends requests `range` with `concurrency` workers; with `rate`, request
/// `i` is not sent before `start + (samples before i) / rate`.
async fn push(
    enc: Arc<Encoded>,
    channel: tonic::transport::Channel,
    range: std::ops::Range<usize>,
    concurrency: usize,
    rate: Option<f64>,
    newest: Arc<AtomicI64>,
) -> (Duration, Duration) {
    let next = Arc::new(AtomicUsize::new(range.start));
    let mut before = vec![0u64; enc.samples.len() + 1];
    for i in range.clone() {
        before[i + 1] = before[i] + enc.samples[i];
    }
    let before = Arc::new(before);
    let start = tokio::time::Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (enc, channel, next, before, newest) = (
                Arc::clone(&enc),
                channel.clone(),
                Arc::clone(&next),
                Arc::clone(&before),
                Arc::clone(&newest),
            );
            let end = range.end;
            let base = range.start;
            tokio::spawn(async move {
                let mut max_lag = Duration::ZERO;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        return max_lag;
                    }
                    if let Some(rate) = rate {
                        let due = start
                            + Duration::from_secs_f64((before[i] - before[base]) as f64 / rate);
                        let now = tokio::time::Instant::now();
                        if due > now {
                            tokio::time::sleep_until(due).await;
                        } else {
                            max_lag = max_lag.max(now - due);
                        }
                    }
                    write(&channel, enc.bodies[i].clone(), enc.samples[i]).await;
                    newest.fetch_max(enc.newest_ms[i], Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut lag = Duration::ZERO;
    for w in workers {
        lag = lag.max(w.await.expect("writer"));
    }
    (start.elapsed(), lag)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = Args::parse();
    let config = WorkloadConfig::preset(&args.preset)
        .expect("preset small or medium")
        .with_days(args.days);
    let workload = Workload::new(config).expect("workload");
    let enc = Arc::new(encode(&workload, args.batch));
    let n = enc.bodies.len();
    let split = ((n as f64 * args.preload) as usize).clamp(1, n.saturating_sub(1));
    let timed_samples: u64 = enc.samples[split..].iter().sum();
    println!(
        "workload: {} series, {} samples in {n} requests of ~{}; preload {split} requests, then {timed_samples} samples at {:.1} M/s",
        workload.series_count(),
        enc.samples.iter().sum::<u64>(),
        args.batch,
        args.rate / 1e6
    );

    let s = start_nines(
        &args.nines,
        "[storage]\nsync = \"always\"\nraw_retention = \"forever\"\n",
        &[],
    );
    let pid = s.child.id().to_string();
    let channel = tonic::transport::Endpoint::from_shared(format!(
        "http://{}",
        s.grpc.expect("nines printed its gRPC address")
    ))
    .expect("endpoint")
    .connect()
    .await
    .expect("connect");
    let newest = Arc::new(AtomicI64::new(i64::MIN));
    let (t, _) = push(
        Arc::clone(&enc),
        channel.clone(),
        0..split,
        args.concurrency,
        None,
        Arc::clone(&newest),
    )
    .await;
    println!("preload: {:.1} s", t.as_secs_f64());

    let done = Arc::new(AtomicBool::new(false));
    let http = s.http;
    let (done2, newest2) = (Arc::clone(&done), Arc::clone(&newest));
    let queries = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut lat: Vec<Vec<Duration>> = vec![Vec::new(); QUERIES.len()];
        let mut k = 0;
        while !done2.load(Ordering::Relaxed) {
            let (_, q) = QUERIES[k % QUERIES.len()];
            let time = newest2.load(Ordering::Relaxed) as f64 / 1000.0;
            let t = Instant::now();
            let r = client
                .post(format!("http://{http}/api/v1/query"))
                .form(&[("query", q), ("time", &time.to_string())])
                .send()
                .await
                .expect("query");
            let status = r.status();
            let body = r.text().await.expect("query body");
            lat[k % QUERIES.len()].push(t.elapsed());
            assert!(status.is_success(), "{q}: {status} {body}");
            k += 1;
        }
        lat
    });
    let (c0, s0) = (cpu_seconds("self"), cpu_seconds(&pid));
    let (elapsed, lag) = push(
        Arc::clone(&enc),
        channel,
        split..n,
        args.concurrency,
        Some(args.rate),
        newest,
    )
    .await;
    done.store(true, Ordering::Relaxed);
    let mut lat = queries.await.expect("query client");
    let (client_cpu, server_cpu) = (cpu_seconds("self") - c0, cpu_seconds(&pid) - s0);
    println!(
        "ingest: {:.2} M samples/s achieved over {:.2} s (writers at most {:.0} ms behind schedule); client CPU {client_cpu:.2} s, server CPU {server_cpu:.2} s",
        timed_samples as f64 / elapsed.as_secs_f64() / 1e6,
        elapsed.as_secs_f64(),
        lag.as_secs_f64() * 1000.0
    );
    let mut all: Vec<Duration> = Vec::new();
    for (i, (name, _)) in QUERIES.iter().enumerate() {
        lat[i].sort();
        all.extend(&lat[i]);
        println!(
            "{name:<18} n={:<5} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            lat[i].len(),
            percentile(&lat[i], 0.5),
            percentile(&lat[i], 0.99),
            percentile(&lat[i], 1.0)
        );
    }
    all.sort();
    println!(
        "{:<18} n={:<5} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        "all",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&all, 1.0)
    );
}
