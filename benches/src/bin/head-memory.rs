//! Head memory per active series, measured with a counting allocator:
//! appends N series of realistic labels (one sample each, then ten more),
//! and reports the bytes allocated per series beyond the samples' own 16
//! bytes (vector slack counts against the head).
//!
//! `cargo run -p nines-benches --release --bin head-memory -- --series 100000`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use clap::Parser;
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions, Labels, SeriesBatch, SeriesKind, WriteBatch};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged and only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    series: usize,
}

fn labels(i: usize) -> Labels {
    Labels::from_pairs(&[
        ("__name__", "http_request_duration_seconds_bucket"),
        ("service", &format!("svc-{}", i % 40)),
        ("endpoint", &format!("/api/v1/items/{}", i % 60)),
        (
            "le",
            [
                "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
            ][i % 10],
        ),
        ("pod", &format!("svc-{}-7d9f8c6b5-{:05}", i % 40, i / 10)),
        ("namespace", "prod"),
        ("job", "kubernetes-pods"),
    ])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let engine = Engine::open(
        EngineOptions::new(dir.path())
            .background(false)
            .sync(SyncPolicy::Never),
    )?;
    let before_labels = LIVE.load(Ordering::Relaxed);
    let all: Vec<Labels> = (0..args.series).map(labels).collect();
    println!(
        "one Labels value (Vec<Label>)  {:.1} bytes/series",
        (LIVE.load(Ordering::Relaxed) - before_labels) as f64 / args.series as f64 - 24.0
    );
    let label_bytes: usize = all
        .iter()
        .map(|l| {
            l.iter()
                .map(|x| x.name.len() + x.value.len())
                .sum::<usize>()
        })
        .sum();
    let mut samples = 0u64;
    let report = |phase: &str, base: isize, samples: u64| {
        let used = LIVE.load(Ordering::Relaxed) - base;
        let beyond = used as f64 - samples as f64 * 16.0;
        println!(
            "{phase:<28} {:>12} bytes live, {:>8.1} bytes/series beyond {:.1} samples/series",
            used,
            beyond / args.series as f64,
            samples as f64 / args.series as f64
        );
    };
    let base = LIVE.load(Ordering::Relaxed);
    for round in 0..11i64 {
        let wb = WriteBatch {
            series: all
                .iter()
                .map(|l| SeriesBatch {
                    labels: l.clone(),
                    kind: SeriesKind::HistogramBucket,
                    timestamps: vec![1_767_571_200_000 + round * 15_000],
                    values: vec![round as f64],
                    resolved: None,
                })
                .collect(),
        };
        let before = LIVE.load(Ordering::Relaxed);
        samples += engine.append(&wb)?.accepted;
        let batch_bytes = before - LIVE.load(Ordering::Relaxed);
        drop(wb);
        let _ = batch_bytes;
        if round == 0 {
            report("after 1 sample per series", base, samples);
        }
    }
    report("after 11 samples per series", base, samples);
    println!(
        "label text (names + values) {:.1} bytes/series",
        label_bytes as f64 / args.series as f64
    );
    println!("head series {}", engine.head().series_count());
    engine.close()?;
    Ok(())
}
