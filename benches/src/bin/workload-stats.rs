//! Prints the size, generation speed and information content of a workload:
//! `cargo run -p nines-benches --release --bin workload-stats -- --preset small`.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use nines_benches::workload::{InfoContent, InfoTotals, Workload, WorkloadConfig};

#[derive(Parser)]
#[command(about = "Size, generation speed and information content of the seeded SLI workload")]
struct Args {
    /// `small` (about 2,000 series, 7 days) or `medium` (about 10,000 series, 14 days).
    #[arg(long, default_value = "small")]
    preset: String,
    /// Overrides the preset's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Overrides the preset's duration, in days.
    #[arg(long)]
    days: Option<i64>,
    /// Samples per write batch in the time-ordered pass.
    #[arg(long, default_value_t = 100_000)]
    batch: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(mut config) = WorkloadConfig::preset(&args.preset) else {
        eprintln!("unknown preset {:?}: use small or medium", args.preset);
        return ExitCode::FAILURE;
    };
    if let Some(seed) = args.seed {
        config = config.with_seed(seed);
    }
    if let Some(days) = args.days {
        config = config.with_days(days);
    }
    let workload = match Workload::new(config) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let c = workload.config();
    println!("preset            {} (seed {})", args.preset, c.seed);
    println!(
        "duration          {:.1} days from {} ms, scrape interval {} s",
        c.duration_ms as f64 / 86_400_000.0,
        c.start_ms,
        c.scrape_interval_ms / 1000
    );
    println!("series            {}", workload.series_count());
    println!("samples           {}", workload.sample_count());

    let t = Instant::now();
    let (mut batches, mut samples) = (0u64, 0u64);
    for b in workload.batches(args.batch) {
        batches += 1;
        samples += b.sample_count() as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "batches()         {samples} samples in {batches} batches, {secs:.2} s, {:.1} M samples/s",
        samples as f64 / secs / 1e6
    );

    let t = Instant::now();
    let mut info = InfoContent::default();
    workload.for_each_series(|s| info.add_series(&s));
    let secs = t.elapsed().as_secs_f64();
    println!(
        "for_each_series() + information content: {secs:.2} s, {:.1} M samples/s",
        info.total.samples as f64 / secs / 1e6
    );
    println!();
    println!(
        "information content (n * H0 of value and timestamp deltas per series), bytes/sample:"
    );
    println!(
        "{:<18} {:>7} {:>11} {:>8} {:>8} {:>8}",
        "kind", "series", "samples", "values", "times", "total"
    );
    let row = |name: &str, i: &InfoTotals| {
        println!(
            "{:<18} {:>7} {:>11} {:>8.4} {:>8.4} {:>8.4}",
            name,
            i.series,
            i.samples,
            i.value_bytes_per_sample(),
            i.timestamp_bytes_per_sample(),
            i.bytes_per_sample()
        );
    };
    for (kind, i) in &info.by_kind {
        row(kind.as_str(), i);
    }
    row("all", &info.total);
    println!(
        "total             {:.1} MB ({:.1} MB values, {:.1} MB timestamps)",
        (info.total.bits_values + info.total.bits_timestamps) / 8e6,
        info.total.bits_values / 8e6,
        info.total.bits_timestamps / 8e6
    );
    ExitCode::SUCCESS
}
