//! `nines inspect`: what a data directory holds.

use std::process::ExitCode;

use nines_engine::{Engine, EngineOptions};

use super::{fmt_time, DataDir};

/// Show series, samples, segments and bytes per resolution.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DataDir,
    /// Print one JSON object (keys include series, samples, bytes_on_disk,
    /// bytes_per_sample, resolutions).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if !a.dir.data_dir.exists() {
        anyhow::bail!("data directory {} does not exist", a.dir.data_dir.display());
    }
    let engine = Engine::open(EngineOptions::new(&a.dir.data_dir).background(false))?;
    let s = engine.stats()?;
    engine.close()?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("data directory  {}", a.dir.data_dir.display());
    println!("series          {}", s.series);
    println!(
        "samples         {} ({} in the head)",
        s.samples, s.head_samples
    );
    println!(
        "time range      {} .. {}",
        fmt_time(s.min_time),
        fmt_time(s.max_time)
    );
    println!("persisted up to {}", fmt_time(s.persisted_through));
    println!(
        "bytes on disk   {} ({:.3} bytes/sample; WAL {})",
        s.bytes_on_disk, s.bytes_per_sample, s.wal_bytes
    );
    println!();
    println!(
        "{:<10} {:>8} {:>14} {:>14} {:>10}  time range",
        "resolution", "files", "rows", "bytes", "bytes/row"
    );
    for r in &s.resolutions {
        println!(
            "{:<10} {:>8} {:>14} {:>14} {:>10.3}  {} .. {}",
            r.resolution,
            r.files,
            r.rows,
            r.bytes,
            r.bytes_per_row,
            fmt_time(r.min_time),
            fmt_time(r.max_time)
        );
    }
    Ok(ExitCode::SUCCESS)
}
