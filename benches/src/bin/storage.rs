//! The storage benchmark of the engine issue: loads the seeded SLI workload
//! into a fresh engine, runs `compact_all` (what `nines compact` does), and
//! prints bytes per sample on disk beside the workload's information content,
//! then reads every sample back through the snapshot (one thread) and prints
//! the decode rate of timestamps + values on this very data.
//!
//! `cargo run -p nines-benches --release --bin storage -- --preset small`

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use nines_benches::readback::ReadBack;
use nines_benches::workload::{information_content, Workload, WorkloadConfig};
use nines_engine::wal::SyncPolicy;
use nines_engine::{Engine, EngineOptions};

#[derive(Parser)]
#[command(about = "Bytes per sample after compaction vs. the workload's information content")]
struct Args {
    /// `small` or `medium`.
    #[arg(long, default_value = "small")]
    preset: String,
    /// Overrides the preset's duration, in days.
    #[arg(long)]
    days: Option<i64>,
    /// Keep the data directory here instead of a temporary one.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(mut config) = WorkloadConfig::preset(&args.preset) else {
        eprintln!("unknown preset {:?}", args.preset);
        return ExitCode::FAILURE;
    };
    if let Some(d) = args.days {
        config = config.with_days(d);
    }
    match run(&args, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args, config: WorkloadConfig) -> Result<(), Box<dyn std::error::Error>> {
    let workload = Workload::new(config)?;
    let tmp = tempfile::tempdir()?;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().join("data"));
    let info = information_content(&workload);
    let engine = Engine::open(
        EngineOptions::new(&dir)
            .background(false)
            .sync(SyncPolicy::Never),
    )?;
    let t = Instant::now();
    let mut samples = 0u64;
    for (i, b) in workload.batches(100_000).enumerate() {
        let out = engine.append(&b)?;
        if out.rejected_samples > 0 {
            return Err(format!("refused samples: {:?}", out.rejected.first()).into());
        }
        samples += out.accepted;
        if i % 20 == 0 {
            engine.maintain()?;
        }
    }
    let load = t.elapsed();
    let t = Instant::now();
    engine.compact_all()?;
    let compact = t.elapsed();
    let s = engine.stats()?;
    let (decoded, decode_best) = decode_all(&engine)?;
    engine.close()?;

    let info_bps = info.total.bytes_per_sample();
    println!(
        "workload          {} series, {} samples",
        workload.series_count(),
        samples
    );
    println!(
        "load              {:.1} s ({:.2} M samples/s, flushes included)",
        load.as_secs_f64(),
        samples as f64 / load.as_secs_f64() / 1e6
    );
    println!("compact           {:.1} s", compact.as_secs_f64());
    println!(
        "information       {:.4} bytes/sample (values {:.4}, timestamps {:.4})",
        info_bps,
        info.total.value_bytes_per_sample(),
        info.total.timestamp_bytes_per_sample()
    );
    for r in &s.resolutions {
        println!(
            "  {:<4} {:>5} files {:>12} rows {:>12} bytes {:>8.4} bytes/row",
            r.resolution, r.files, r.rows, r.bytes, r.bytes_per_row
        );
    }
    println!(
        "raw segments      {:.4} bytes/sample = {:.3} x information content",
        s.raw_segment_bytes_per_sample,
        s.raw_segment_bytes_per_sample / info_bps
    );
    println!(
        "all on disk       {:.4} bytes/sample = {:.3} x information content (rollups, WAL, manifest included)",
        s.bytes_per_sample,
        s.bytes_per_sample / info_bps
    );
    println!(
        "decode            {:.0} M samples/s, timestamps + values, one thread, best of 5 passes ({decoded} samples)",
        decoded as f64 / decode_best.as_secs_f64() / 1e6
    );
    for (kind, t) in &info.by_kind {
        println!(
            "  info {:<18} {:.4} bytes/sample",
            kind.as_str(),
            t.bytes_per_sample()
        );
    }
    Ok(())
}

/// Reads every series' samples over all time, five times; the sample count
/// and the fastest pass.
fn decode_all(engine: &Engine) -> Result<(u64, std::time::Duration), Box<dyn std::error::Error>> {
    let snap = engine.snapshot();
    let mut rb = ReadBack::new(&snap)?;
    let mut best = (0, std::time::Duration::MAX);
    for _ in 0..5 {
        let (n, el) = rb.pass(&snap)?;
        best = (n, best.1.min(el));
    }
    Ok(best)
}
