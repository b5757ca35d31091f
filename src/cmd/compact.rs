//! `nines compact`: flush the head, write due rollups, merge every window
//! that has more than one segment, apply retention.

use std::process::ExitCode;

use nines_engine::{Engine, EngineOptions};

use super::DataDir;

/// Flush the head and compact everything that can be compacted.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub dir: DataDir,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let engine = Engine::open(EngineOptions::new(&a.dir.data_dir).background(false))?;
    let before = engine.stats()?;
    let report = engine.compact_all()?;
    let after = engine.stats()?;
    engine.close()?;
    println!(
        "merged {} segments in {} merges; {} -> {} segments, {} -> {} bytes on disk ({:.3} bytes/sample, raw segments {:.3})",
        report.input_files,
        report.merges,
        before.segments,
        after.segments,
        before.bytes_on_disk,
        after.bytes_on_disk,
        after.bytes_per_sample,
        after.raw_segment_bytes_per_sample
    );
    Ok(ExitCode::SUCCESS)
}
